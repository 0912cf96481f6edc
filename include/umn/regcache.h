/* SPDX-License-Identifier: MIT */
/*
 * umn/regcache.h - an RDMA-like registration cache: the reference secondary
 * MMU for pinning (the IB umem / hfi1 / amdgpu userptr / UCX rcache
 * pattern Linux 4.13 allows: "take a reference in start, drop it in end
 * or when the device is done"; docs/CONTRACT.md, rule 4).
 *
 * A registration pins the pages of a range and hands the device the frames
 * behind them.  The cache keeps registrations for reuse; when the primary
 * invalidates any part of one, it is marked invalid and no lookup that
 * begins after the invalidation began returns it, but its pages stay
 * pinned (the device may still be using them) until its last user
 * releases it.
 *
 * The cache is generic over the address space: it hears a struct umn_mm
 * and pins through the caller's ops.  umn_regcache_soft_ops adapts it to
 * a soft mm.
 *
 * Locks: lookup and release of a cached registration take no lock (an
 * RCU read-side section and an atomic use count), and neither does an
 * invalidation: it marks the registration invalid, the first thing it
 * does, and queues the rest (out of the cache's index) for the next
 * holder of the cache's lock.  That lock, taken to register and free, is
 * a spinlock; no notifier callback takes it, and it is never held across
 * a call to the ops or into the primary.  A signal handler may invalidate
 * memory the cache covers (munmap on the process mm) at any point, even
 * while its own thread holds the lock.
 */
#ifndef UMN_REGCACHE_H
#define UMN_REGCACHE_H

#include <stdbool.h>
#include <umn/mm.h>

#ifdef __cplusplus
extern "C" {
#endif

struct umn_regcache;

/**
 * struct umn_regcache_page - one pinned 4 KiB page, as the ops record it.
 * @frame:	the frame (for a soft mm, its frame number).
 * @subpage:	which 4 KiB of @frame.
 * @gen:	the frame's generation when pinned, if it has one (else 0).
 */
struct umn_regcache_page {
	unsigned long frame;
	unsigned long subpage;
	unsigned long gen;
};

/**
 * struct umn_regcache_ops - how to pin the pages of the address space.
 * @pin:	pin the @npages pages from @addr (page aligned), for writing
 *		if @write, and record them in @pages[0..@npages).  All or
 *		nothing: on error, nothing stays pinned.  Return 0 or a
 *		negative errno.  May sleep; called without the cache's lock.
 * @unpin:	unpin what one successful @pin recorded.  May sleep; called
 *		without the cache's lock, never from a notifier callback.
 */
struct umn_regcache_ops {
	int (*pin)(void *arg, unsigned long addr, unsigned long npages,
		   bool write, struct umn_regcache_page *pages);
	void (*unpin)(void *arg, unsigned long npages,
		      const struct umn_regcache_page *pages);
};

/**
 * struct umn_regcache_handle - a registration, as its users see it.
 * @addr:	first byte registered, page aligned.
 * @len:	bytes registered, a multiple of UMN_PAGE_SIZE.
 * @write:	pinned for writing.
 * @pages:	@len / UMN_PAGE_SIZE pinned pages; valid while the handle is
 *		held, even after an invalidation.
 *
 * Read only.  A handle may cover more than was asked for (a cached
 * registration that covers the range is reused).
 */
struct umn_regcache_handle {
	unsigned long addr;
	unsigned long len;
	bool write;
	const struct umn_regcache_page *pages;
};

/**
 * struct umn_regcache_stats - what a cache did, since creation.
 * @registrations:	registrations made (pinned and published).
 * @hits:		handles served by a cached registration.
 * @retries:		pins thrown away because an invalidation collided.
 * @invalidations:	registrations invalidated.
 * @pins:		pages pinned (retries included).
 * @unpins:		pages unpinned.  @pins - @unpins are pinned now.
 * @reaped:		registrations freed.
 */
struct umn_regcache_stats {
	unsigned long registrations;
	unsigned long hits;
	unsigned long retries;
	unsigned long invalidations;
	unsigned long pins;
	unsigned long unpins;
	unsigned long reaped;
};

/**
 * umn_regcache_create() - an empty cache over @mm.
 * @mm:		the address space; a reference is taken until destroy.
 * @ops:	pin and unpin, both required.
 * @arg:	passed to @ops.
 * @flags:	0 (bits 8 and up are reserved for the project's tests).
 * @rcp:	out: the cache.
 *
 * Context: may sleep.  Return: 0; -EINVAL; -ENOMEM.
 */
UMN_API int umn_regcache_create(struct umn_mm *mm,
				const struct umn_regcache_ops *ops, void *arg,
				unsigned int flags, struct umn_regcache **rcp);

/**
 * umn_regcache_destroy() - unpin everything and free @rc.
 *
 * Context: may sleep.  Not from a notifier callback.
 * Return: 0; -EINVAL if @rc is NULL; -EBUSY if a handle is still held
 * (no registration is invalidated, unpinned or freed); -EDEADLK from a
 * notifier callback of the same mm (the registrations are invalidated,
 * the cache stays).
 */
UMN_API int umn_regcache_destroy(struct umn_regcache *rc);

/**
 * umn_regcache_register() - a handle over the pinned pages of a range.
 * @rc:		the cache.
 * @addr:	first byte; rounded down to a page.
 * @len:	bytes, > 0; the end is rounded up to a page.
 * @write:	the device will write.
 * @hp:		out: the handle, with one user: the caller's.
 *
 * Reuses a valid cached registration that covers the range (with write
 * access if @write); else pins the range and publishes a new one, unless
 * an invalidation of the range collided with the pin (then pins again).
 * First frees the registrations invalidated without users (as
 * umn_regcache_reap()).
 *
 * Context: may sleep.  Not from a notifier callback.
 * Return: 0; -EINVAL (NULL pointer, @len 0, the range wraps); -ENOMEM; or
 * the error of the interval insert or of @ops->pin (for a soft mm:
 * -EFAULT, -EACCES, -ENOMEM).  On error *@hp is not written.
 */
UMN_API int umn_regcache_register(struct umn_regcache *rc, unsigned long addr,
				  unsigned long len, bool write,
				  struct umn_regcache_handle **hp);

/**
 * umn_regcache_lookup() - a valid cached registration covering a range.
 * @rc, @addr, @len, @write, @hp: as umn_regcache_register().
 *
 * Never returns a registration whose invalidation began before the lookup
 * did.  (An invalidation begins when the registration's ->invalidate
 * marks it invalid, the first thing it does, from
 * umn_invalidate_range_start() and before the primary changes anything.)
 *
 * Context: any; lock-free (an RCU read-side section), never sleeps.
 * Return: 0 with one more user on *@hp; -ENOENT; -EINVAL.
 */
UMN_API int umn_regcache_lookup(struct umn_regcache *rc, unsigned long addr,
				unsigned long len, bool write,
				struct umn_regcache_handle **hp);

/**
 * umn_regcache_release() - drop a user of @h.
 *
 * A valid registration stays cached, pinned, without users.  An invalid
 * one is unpinned and freed by its last user's release: after that @h
 * must not be used again (a second release is a use after free).
 *
 * Context: may sleep: it unpins, and removing the registration's interval
 * notifier waits while an invalidation of the mm is in flight (any range,
 * not just this one).  Not from a notifier callback (the cleanup is then
 * deferred to the next umn_regcache_reap()).
 * Return: 0; -EINVAL if @h is NULL or its registration is valid and has no
 * user left.
 */
UMN_API int umn_regcache_release(struct umn_regcache_handle *h);

/**
 * umn_regcache_valid() - has no invalidation hit @h since it was published?
 *
 * A device stops using a registration that is no longer valid, releases
 * it, and registers again.
 *
 * Context: any; never sleeps.
 * Return: true while valid; false once invalidated, or if @h is NULL.
 */
UMN_API bool umn_regcache_valid(struct umn_regcache_handle *h);

/**
 * umn_regcache_reap() - free the registrations invalidated without users.
 *
 * An invalidation cannot unpin from its callback (the primary may hold
 * locks that unpin needs, and an interval notifier cannot be removed from
 * there); it leaves the registration to the next reap, which register,
 * release and destroy also do.
 *
 * Context: may sleep.  Not from a notifier callback.
 * Return: how many were freed; -EINVAL if @rc is NULL; -EDEADLK from a
 * notifier callback or a bracket of the cache's mm.
 */
UMN_API int umn_regcache_reap(struct umn_regcache *rc);

/**
 * umn_regcache_check() - the page a valid registration holds for @addr.
 * @out: out: the pinned page.
 *
 * The oracle's hook: it takes no lock, so it may be called from a
 * umn_soft_lookup() fill callback, under the primary's PTL.
 *
 * Context: any; never sleeps.
 * Return: 0; -ENOENT if no valid registration covers @addr; -EINVAL.
 */
UMN_API int umn_regcache_check(struct umn_regcache *rc, unsigned long addr,
			       struct umn_regcache_page *out);

/* Copy @rc's counters to @out (the hits are summed over the cached
 * registrations).  Context: any but a signal handler (it takes the cache's
 * lock, which the interrupted thread may hold); never sleeps. */
UMN_API void umn_regcache_stats(struct umn_regcache *rc,
				struct umn_regcache_stats *out);

/*
 * The soft-MMU adapter: pin and unpin each 4 KiB page with umn_soft_pin()
 * and umn_soft_unpin().  @arg is a struct umn_regcache_soft, which the
 * caller keeps alive until the cache is destroyed; @frames is needed to
 * unpin after the soft mm itself is gone.
 */
struct umn_soft_mm;
struct umn_soft_frames;

struct umn_regcache_soft {
	struct umn_soft_mm *sm;
	struct umn_soft_frames *frames;
};

extern UMN_API const struct umn_regcache_ops umn_regcache_soft_ops;

#ifdef __cplusplus
}
#endif

#endif /* UMN_REGCACHE_H */
