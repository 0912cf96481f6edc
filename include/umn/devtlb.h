/* SPDX-License-Identifier: MIT */
/*
 * umn/devtlb.h - an IOMMU-like device TLB over a soft mm: the reference
 * secondary MMU for ->invalidate_range (the AMD IOMMUv2, Intel SVM, GRU
 * and NPU pattern since Linux 4.13; docs/CONTRACT.md, rules 2 and 3).
 *
 * A devtlb caches up to N translations, fully associative, with LRU
 * replacement.  It fills an entry from inside umn_soft_lookup(), under the
 * primary's page-table lock, and flushes only from ->invalidate_range,
 * which the primary calls under that same lock right after it changed the
 * page table: it has no invalidate_range_start or _end, no counter and no
 * sequence number.  Huge entries (2 MiB, 1 GiB) are cached whole.
 *
 * Locks: the devtlb's lock is a spinlock that nests inside the primary's
 * page-table lock (PTL -> devtlb lock); it is never held across a call
 * into the primary.
 */
#ifndef UMN_DEVTLB_H
#define UMN_DEVTLB_H

#include <stdbool.h>
#include <umn/mm.h>
#include <umn/soft.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most entries a devtlb may have. */
#define UMN_DEVTLB_MAX_ENTRIES 65536U

struct umn_devtlb;

/**
 * struct umn_devtlb_stats - what a devtlb did, since creation.
 * @hits:	umn_devtlb_translate() calls served by an entry.
 * @misses:	... that had to walk the primary.
 * @fills:	entries filled (under the primary's PTL).
 * @flushes:	->invalidate_range calls received.
 * @flushed:	entries they removed.
 * @evictions:	entries replaced to make room.
 */
struct umn_devtlb_stats {
	unsigned long hits;
	unsigned long misses;
	unsigned long fills;
	unsigned long flushes;
	unsigned long flushed;
	unsigned long evictions;
};

/**
 * umn_devtlb_create() - a device TLB of @entries entries over @sm.
 * @sm:		the primary.
 * @entries:	1 to UMN_DEVTLB_MAX_ENTRIES.
 * @flags:	0 (bits 8 and up are reserved for the project's tests).
 * @tp:		out: the devtlb, empty.
 *
 * Context: may sleep (registers a notifier).  Not from a notifier callback.
 * Return: 0; -EINVAL for a NULL pointer, a bad @entries or @flags;
 * -ENOMEM; or the error of umn_notifier_register() (-ESRCH: @sm is being
 * torn down; -EDEADLK: from a notifier callback or a bracket).  On error
 * *@tp is not written.
 */
UMN_API int umn_devtlb_create(struct umn_soft_mm *sm, unsigned int entries,
			      unsigned int flags, struct umn_devtlb **tp);

/**
 * umn_devtlb_destroy() - unregister and free @t.
 *
 * Context: may sleep (a grace period).  Not from a notifier callback.
 * Return: 0; -EINVAL if @t is NULL; -EDEADLK from a callback or a bracket
 * (nothing is freed).
 */
UMN_API int umn_devtlb_destroy(struct umn_devtlb *t);

/**
 * umn_devtlb_translate() - the device's access to @addr.
 * @t:		the devtlb.
 * @addr:	the address accessed, below UMN_SOFT_TASK_SIZE.
 * @write:	the access is a write.
 * @out:	out: the translation used: the entry's @base and @size,
 *		@frame, @gen, @writable, and @subpage, the 4 KiB of @frame
 *		that @addr itself reaches.
 *
 * A hit uses the cached entry (a read-only entry does not serve a write).
 * A miss walks the primary with umn_soft_lookup(), filling an entry from
 * its callback under the PTL; if nothing is mapped (-EFAULT) or the entry
 * is read-only for a write (-EACCES), faults the primary in with
 * umn_soft_fault() and walks again.
 *
 * Context: a hit never sleeps; a miss may (the primary's mmap lock).  Not
 * from a notifier callback.
 * Return: 1 on a hit; 0 on a miss, filled; -EINVAL (NULL pointer, bad
 * @addr); -ESRCH (the mm was released); or the error of umn_soft_fault()
 * (-EFAULT: nothing is mapped; -EACCES: a write to a read-only mapping;
 * -ENOMEM: no frame left).
 */
UMN_API int umn_devtlb_translate(struct umn_devtlb *t, unsigned long addr,
				 bool write, struct umn_soft_translation *out);

/**
 * umn_devtlb_check() - what @t caches for @addr now, without filling.
 * @out: out: as for umn_devtlb_translate().
 *
 * The oracle's hook: it takes only the devtlb's lock, so it may be called
 * from a umn_soft_lookup() fill callback, under the primary's PTL, and
 * compared with the primary's entry there.  Counts nothing, touches no
 * LRU state.
 *
 * Context: any; never sleeps.
 * Return: 0; -ENOENT if no entry maps @addr; -EINVAL for NULL pointers.
 */
UMN_API int umn_devtlb_check(struct umn_devtlb *t, unsigned long addr,
			     struct umn_soft_translation *out);

/**
 * umn_devtlb_stats() - copy @t's counters to @out.
 *
 * Context: any; never sleeps.
 */
UMN_API void umn_devtlb_stats(struct umn_devtlb *t,
			      struct umn_devtlb_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* UMN_DEVTLB_H */
