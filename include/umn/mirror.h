/* SPDX-License-Identifier: MIT */
/*
 * umn/mirror.h - a KVM-like shadow page table over a soft mm: the reference
 * secondary MMU for the collision-retry protocol (docs/CONTRACT.md,
 * rule 4).
 *
 * A mirror shadows the window [start, start + len) of a struct umn_soft_mm.
 * It installs a translation on a fault (umn_mirror_fault()) and drops the
 * translations of every range the primary invalidates.  It hears the
 * primary in one of two ways, chosen at creation:
 *
 *	UMN_MIRROR_CLASSIC	a classic notifier (umn/notifier.h) with the
 *				Linux 4.13 KVM counter and sequence number;
 *	UMN_MIRROR_INTERVAL	an interval notifier (umn/interval.h) over the
 *				window, with read_begin / read_retry.
 *
 * Huge primary entries (2 MiB, 1 GiB) are mirrored whole, as one shadow
 * entry, when the huge block lies inside the window; with
 * UMN_MIRROR_SPLIT_HUGE (or when the block sticks out of the window) the
 * mirror installs only the 4 KiB piece that faulted.
 *
 * Locks: the mirror's lock is a spinlock that nests inside the primary's
 * page-table lock (PTL -> mirror lock).  The mirror never calls into the
 * primary with it held, so an oracle may call umn_mirror_translate() from
 * a umn_soft_lookup() fill callback.
 */
#ifndef UMN_MIRROR_H
#define UMN_MIRROR_H

#include <stdbool.h>
#include <umn/mm.h>
#include <umn/soft.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exactly one of the two variants. */
#define UMN_MIRROR_CLASSIC  (1U << 0) /* classic notifier, counter + seq */
#define UMN_MIRROR_INTERVAL (1U << 1) /* interval notifier over the window */
/* Mirror huge entries as 4 KiB pieces. */
#define UMN_MIRROR_SPLIT_HUGE (1U << 2)
/* Bits 8 and up are reserved for the project's tests. */

struct umn_mirror;

/**
 * struct umn_mirror_stats - what a mirror did, since creation.
 * @faults:		translations installed.
 * @primary_faults:	umn_soft_fault() calls made by umn_mirror_fault().
 * @retries:		installs refused because an invalidation collided.
 * @invalidations:	invalidations that overlapped the window, by event.
 * @zapped:		shadow entries they removed.
 */
struct umn_mirror_stats {
	unsigned long faults;
	unsigned long primary_faults;
	unsigned long retries;
	unsigned long invalidations[UMN_EVENT_COUNT];
	unsigned long zapped;
};

/**
 * umn_mirror_create() - mirror [start, start + len) of @sm.
 * @sm:		the primary.
 * @start:	first address, page aligned.
 * @len:	bytes, page aligned, > 0.  The mirror keeps one small slot per
 *		4 KiB of the window: size it to what is mirrored.
 * @flags:	UMN_MIRROR_CLASSIC or UMN_MIRROR_INTERVAL, optionally with
 *		UMN_MIRROR_SPLIT_HUGE.
 * @mp:		out: the mirror, empty.
 *
 * Context: may sleep (registers a notifier).  Not from a notifier callback.
 * Return: 0; -EINVAL for a NULL pointer, a bad window or bad flags; -ENOMEM;
 * or the error of umn_notifier_register() / umn_interval_notifier_insert()
 * (-ESRCH: @sm is being torn down; -EDEADLK: the classic variant, from a
 * notifier callback or a bracket).  On error *@mp is not written.
 */
UMN_API int umn_mirror_create(struct umn_soft_mm *sm, unsigned long start,
			      unsigned long len, unsigned int flags,
			      struct umn_mirror **mp);

/**
 * umn_mirror_destroy() - stop mirroring and free @m.
 *
 * May be called before or after the soft mm is destroyed.
 *
 * Context: may sleep (waits for the mirror's callbacks to finish).  Not
 * from a notifier callback.
 * Return: 0; -EINVAL if @m is NULL; -EDEADLK from a callback of the same
 * mm (nothing is freed).
 */
UMN_API int umn_mirror_destroy(struct umn_mirror *m);

/**
 * umn_mirror_fault() - install the primary's translation of @addr.
 * @m:		the mirror.
 * @addr:	an address in the window.
 * @write:	the access is a write: install a writable translation.
 *
 * The fault side of contract 4: read_begin, umn_soft_lookup() without the
 * mirror's lock, then install under the lock unless an invalidation
 * collided (then retry).  When the lookup finds nothing (-EFAULT) or a
 * read-only entry for a write (-EACCES), faults the primary in with
 * umn_soft_fault() and tries again.
 *
 * Context: may sleep; not from a notifier callback (the classic variant
 * would wait for the very invalidation the caller is in).
 * Return: the number of collisions retried (>= 0) once installed;
 * -EINVAL (NULL @m, @addr outside the window); -ESRCH (the mm was
 * released); or the error of umn_soft_fault() (-EFAULT, -EACCES, -ENOMEM).
 */
UMN_API int umn_mirror_fault(struct umn_mirror *m, unsigned long addr,
			     bool write);

/**
 * umn_mirror_read_begin() - the first step of umn_mirror_fault().
 *
 * With umn_mirror_install(), lets a caller do its own lookup in the
 * primary (or replay a race step by step, as the tests do).
 *
 * Context: may sleep (the interval variant waits while the window is being
 * invalidated); not from a notifier callback of the same mm.
 * Return: the sequence to pass to umn_mirror_install().
 */
UMN_API unsigned long umn_mirror_read_begin(struct umn_mirror *m);

/**
 * umn_mirror_install() - the last step of umn_mirror_fault().
 * @m:		the mirror.
 * @addr:	the address that faulted, in the window.
 * @seq:	what umn_mirror_read_begin() returned before the lookup.
 * @t:		the translation the lookup found for @addr.
 *
 * Under the mirror's lock: if an invalidation collided since @seq (classic:
 * one is in progress, or one ended), refuses; else installs @t (whole, or
 * the 4 KiB piece at @addr) in place of what overlapped it.
 *
 * Context: any; takes the mirror's spinlock, never sleeps.
 * Return: 0; -EAGAIN (collision: look up again); -ESRCH (released);
 * -EINVAL (NULL pointer, @addr outside the window, or @t does not map
 * @addr with a size of 4 KiB, 2 MiB or 1 GiB).
 */
UMN_API int umn_mirror_install(struct umn_mirror *m, unsigned long addr,
			       unsigned long seq,
			       const struct umn_soft_translation *t);

/**
 * umn_mirror_translate() - what the mirror maps at @addr now.
 * @m:		the mirror.
 * @addr:	an address in the window.
 * @out:	out: the shadow entry: @base and @size say what it covers,
 *		@frame, @gen and @writable are as installed, and @subpage is
 *		the 4 KiB of @frame that @addr itself reaches.
 *
 * This is the oracle's hook: it takes only the mirror's lock, so it may be
 * called from a umn_soft_lookup() fill callback, under the primary's PTL,
 * and compared with the primary's entry there.
 *
 * Context: any; never sleeps.
 * Return: 0; -ENOENT if nothing is mapped at @addr; -EINVAL (NULL pointer,
 * @addr outside the window).
 */
UMN_API int umn_mirror_translate(struct umn_mirror *m, unsigned long addr,
				 struct umn_soft_translation *out);

/**
 * umn_mirror_stats() - copy @m's counters to @out.
 *
 * Context: any; never sleeps.
 */
UMN_API void umn_mirror_stats(struct umn_mirror *m,
			      struct umn_mirror_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* UMN_MIRROR_H */
