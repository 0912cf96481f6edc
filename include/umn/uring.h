/* SPDX-License-Identifier: MIT */
/*
 * umn/uring.h - io_uring registered ("fixed") buffers kept coherent with
 * the process (libumn-uring, pkg-config umn-uring; needs liburing).
 *
 * io_uring pins the pages of a buffer when it is registered
 * (IORING_REGISTER_BUFFERS*, pin_user_pages with FOLL_LONGTERM) and keeps
 * them until the buffer is unregistered.  If the program unmaps the buffer
 * and maps new memory at the same address, IORING_OP_WRITE_FIXED still
 * reads the old pages, and READ_FIXED fills pages nobody maps any more.
 *
 * The cache owns a ring's fixed-buffer table, registered sparse, and hands
 * out its indexes: umn_uring_get() returns the index of a slot registered
 * over a range that covers [addr, addr + len), registering one if none
 * does.  Each slot hears its range through an interval notifier on the
 * process mm (<umn/proc.h>).  When the process invalidates any part of it
 * (munmap, mremap, mmap MAP_FIXED, madvise DONTNEED, free of an mmapped
 * block...), the slot's ->invalidate empties the slot in the ring's table
 * (IORING_REGISTER_BUFFERS_UPDATE with no buffer) and marks it invalid:
 *
 *  - no umn_uring_get() that begins after the invalidation began returns
 *    the slot; one that races with it registers again (the interval
 *    notifier's read_begin/read_retry);
 *  - an I/O that names the slot and is submitted (io_uring_enter) after
 *    the slot was emptied completes with -EFAULT: the holder puts the
 *    index back and gets one again;
 *  - an I/O submitted before keeps the old pages pinned (io_uring holds
 *    a reference on the old registration until it completes) and reads or
 *    writes those: the memory the address held when it was submitted.  A
 *    READ_FIXED that completes after the change therefore lands in the old
 *    pages, not in what the address maps now.  Nothing the cache can do
 *    changes an I/O already submitted;
 *  - the slot's index goes back to the free ones when its last holder
 *    puts it; the kernel unpins the old pages when the last I/O using
 *    them completes.
 *
 * When the slot is emptied depends on the source (docs/proc.md): with the
 * hooks (UMN_PROC_HOOKS), before the kernel changes the mapping, so every
 * I/O submitted after a call through libc returned uses the new memory or
 * fails; with userfaultfd alone, when umn's monitor thread dispatches the
 * event, after the kernel acted (umn_proc_uffd_sync() waits for that), and
 * a raw madvise(DONTNEED) has the window that docs/proc.md describes.
 *
 * Threads: the cache may be used from any thread (a mutex); the ring's
 * submission queue stays the caller's to serialise, as liburing requires.
 * ->invalidate calls io_uring_register() from the thread that invalidates
 * (or umn's monitor thread), so the ring may not be
 * IORING_SETUP_SINGLE_ISSUER.  A signal handler must not unmap memory a
 * slot covers while its thread is inside a call of the same cache.
 *
 * fork: a child starts with a process mm of its own and no notifiers
 * (<umn/proc.h>), so a cache inherited through fork hears nothing of the
 * child's memory: a child must not use it (nor the parent's ring).
 *
 * Needs Linux 5.19 or later (sparse buffer tables, IORING_REGISTER_BUFFERS2).
 *
 * Cost: a hit is a scan of the slots under the cache's mutex (O(slots));
 * a miss registers (one io_uring_register system call, which pins the
 * pages, and one interval notifier insert).  A program that never creates
 * a cache does not load this library, and libumn does not link liburing.
 */
#ifndef UMN_URING_H
#define UMN_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <umn/mm.h>

#ifdef __cplusplus
extern "C" {
#endif

struct io_uring;
struct umn_uring;

/* umn_uring_create()'s flags: 0; bits 8 and up are reserved for the
 * project's tests. */

/* The most slots a cache can have (the kernel's limit on fixed buffers). */
#define UMN_URING_MAX_SLOTS 16384U

/**
 * struct umn_uring_stats - what a cache did, since creation.
 * @hits:		gets served by a registered slot.
 * @registrations:	slots registered (pinned and published).
 * @retries:		registrations thrown away because an invalidation
 *			collided with them.
 * @invalidations:	slots emptied by an invalidation.
 * @evictions:		valid slots without holders reused for another
 *			range.
 */
struct umn_uring_stats {
	unsigned long hits;
	unsigned long registrations;
	unsigned long retries;
	unsigned long invalidations;
	unsigned long evictions;
};

/**
 * umn_uring_create() - a cache that owns @ring's fixed-buffer table.
 * @mm:		the process mm, umn_proc_mm() (after umn_proc_start()).
 * @ring:	an initialised ring with no buffers registered, not
 *		IORING_SETUP_SINGLE_ISSUER; it must outlive the cache.
 * @nslots:	slots of the sparse table, 1 to UMN_URING_MAX_SLOTS.
 * @flags:	0 (bits 8 and up are reserved for the project's tests).
 * @cp:		out: the cache.
 *
 * Context: may sleep.  Return: 0; -EINVAL (NULL pointer, @mm is not the
 * process mm, @nslots out of range, an unknown flag, a single-issuer
 * ring); -ENOMEM; or the error of io_uring_register_buffers_sparse() (for
 * instance -EBUSY: the ring has buffers already).
 */
UMN_API int umn_uring_create(struct umn_mm *mm, struct io_uring *ring,
			     unsigned int nslots, unsigned int flags,
			     struct umn_uring **cp);

/**
 * umn_uring_destroy() - unregister the ring's buffers and free @c.
 *
 * Context: may sleep; not from a notifier callback.  Return: 0; -EINVAL if
 * @c is NULL; -EDEADLK from a notifier callback of the process mm; -EBUSY
 * if a slot still has a holder (nothing is changed).
 */
UMN_API int umn_uring_destroy(struct umn_uring *c);

/**
 * umn_uring_get() - a fixed-buffer index whose registration covers a range.
 * @c:		the cache.
 * @addr:	first byte; the registration starts at its page.
 * @len:	bytes, > 0.
 *
 * Reuses a valid slot that covers the range, else registers the range's
 * pages in a free slot (or one whose registration has no holder, least
 * recently used first), and retries if an invalidation collided with the
 * registration.  The caller holds the slot until umn_uring_put(): pass the
 * index to io_uring_prep_write_fixed() or _read_fixed() with an address
 * inside the range.
 *
 * Context: may sleep.  Not from a notifier callback.
 * Return: the index, >= 0; -EINVAL (NULL @c, @len 0, the range wraps or
 * spans more than 1 GiB); -EDEADLK from a notifier callback of the process
 * mm; -ENOSPC (every slot has a holder or is being registered); -ENOMEM; or
 * the error of the registration (-EFAULT: part of the range is not
 * mapped, or not writable; -ENOMEM: over RLIMIT_MEMLOCK without
 * CAP_IPC_LOCK).
 */
UMN_API int umn_uring_get(struct umn_uring *c, const void *addr, size_t len);

/**
 * umn_uring_put() - drop the caller's hold of slot @index.
 *
 * Call it once the I/O that used the index completed (or was never
 * submitted).  The slot stays registered while valid; an invalidated one
 * returns to the free slots with its last holder.
 *
 * Context: may sleep (the last holder of an invalidated slot removes its
 * interval notifier); from a notifier callback of the process mm it
 * leaves that to the umn_uring_get() that takes the slot next.
 * Return: 0; -EINVAL if @c is NULL, @index is out of range, or the slot
 * has no holder.
 */
UMN_API int umn_uring_put(struct umn_uring *c, int index);

/**
 * umn_uring_valid() - has no invalidation hit slot @index since it was
 * registered?
 *
 * An I/O that completed with -EFAULT on a slot that is no longer valid was
 * refused because the memory changed: put and get again.
 *
 * Context: any but a callback of the process mm; never sleeps (a mutex,
 * held briefly).  Return: true while valid; false once invalidated, for a
 * free slot, or a bad @index.
 */
UMN_API bool umn_uring_valid(struct umn_uring *c, int index);

/* Copy @c's counters to @out.  Context: as umn_uring_valid(). */
UMN_API void umn_uring_stats(struct umn_uring *c, struct umn_uring_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* UMN_URING_H */
