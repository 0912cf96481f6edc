// SPDX-License-Identifier: MIT
/*
 * consumers/uring/uring.c - io_uring fixed buffers kept coherent with the
 * process (umn/uring.h).  Its own library, libumn-uring: libumn does not
 * link liburing.
 *
 * The secondary MMU here is the kernel's: a slot of the ring's fixed-buffer
 * table holds the pages io_uring pinned when the slot was registered.  The
 * cache keeps, for each slot, the range it was registered over and an
 * interval notifier on that range, and the protocol is the interval
 * notifier's collision-retry (docs/CONTRACT.md, rule 4) with the kernel's
 * table as the thing installed:
 *
 *	get (T1)				munmap (T2), hooked
 *	insert the slot's interval notifier
 *	seq = read_begin()
 *	BUFFERS_UPDATE(slot, range): the
 *	  kernel pins frame A
 *						start: ->invalidate: lock;
 *						  set_seq; the slot is BUSY:
 *						  nothing registered to drop
 *						  yet; unlock
 *						the kernel unmaps A
 *	lock; read_retry(seq): retry		(without it: VALID over A,
 *	unlock; read_begin waits for end;	 every later write of the
 *	BUFFERS_UPDATE pins the new frame	 range reads freed memory)
 *
 * and once a slot is VALID, ->invalidate empties it in the kernel's table
 * (BUFFERS_UPDATE with no buffer) under the cache's lock, before the
 * primary acts: an I/O submitted after that fails with -EFAULT; one
 * submitted before holds the kernel's reference to the old registration
 * and finishes on the old pages.  The kernel call is made under the lock
 * so that it cannot land after the slot was given to another range.
 *
 * States of a slot (under c->lock):
 *	FREE	nothing registered (in the kernel: empty, or an old
 *		registration nobody can name); no interval notifier
 *	BUSY	owned by one get (registering) or put/destroy (removing the
 *		notifier); ->invalidate only records the sequence
 *	VALID	registered over [start, end), with users holders
 *	DEAD	invalidated: empty in the kernel; holders may still have the
 *		index (their I/O fails); reused once users is 0
 * has_sub says whether the slot's interval notifier is inserted; a get that
 * takes a DEAD or an idle VALID slot removes it first, outside the lock
 * (it may wait for an invalidation in flight).
 *
 * Lock: c->lock, a mutex, never held across the interval calls; it is held
 * across io_uring_register (BUFFERS_UPDATE) in ->invalidate only, which
 * takes the ring's own lock and nothing of the process's.  No call made
 * under it maps, unmaps or allocates, so no hook fires under it.
 */
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <umn/interval.h>
#include <umn/proc.h>
#include <umn/uring.h>
#include <umn-test/breaks.h>

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

/* The kernel refuses a fixed buffer larger than this (io_buffer_validate). */
#define SLOT_MAX_LEN (1UL << 30)

enum state { FREE, BUSY, VALID, DEAD };

struct slot {
	struct umn_interval_notifier sub; /* over [start, end) if has_sub */
	struct umn_uring *c;
	unsigned long start, end;
	enum state state;
	bool has_sub;
	unsigned int users;
	unsigned long used; /* c->clock at the last get: the LRU */
};

struct umn_uring {
	pthread_mutex_t lock; /* guards the slots but sub, clock, stats */
	struct umn_mm *mm;
	struct io_uring *ring;
	unsigned int flags;
	unsigned int nslots;
	unsigned int high; /* slots below it were ever used: the scan's end */
	unsigned long clock;
	struct umn_uring_stats stats;
	struct slot slots[];
};

/* [*sp, *ep): the pages of [addr, addr + len).  False if it is empty,
 * wraps, or is longer than a slot may be. */
static bool pages_of(unsigned long addr, size_t len, unsigned long *sp,
		     unsigned long *ep)
{
	if (!len || addr + len - 1 < addr || addr + len - 1 >= -UMN_PAGE_SIZE)
		return false;
	*sp = addr & ~(UMN_PAGE_SIZE - 1);
	*ep = (addr + len - 1 + UMN_PAGE_SIZE) & ~(UMN_PAGE_SIZE - 1);
	return *ep - *sp <= SLOT_MAX_LEN;
}

/* Register [start, start + len) in @index, or empty it (@len 0): the old
 * registration's pages stay pinned until the I/O using them completes. */
static int kernel_update(struct umn_uring *c, unsigned int index,
			 unsigned long start, unsigned long len)
{
	struct iovec iov = { (void *)start, len };
	int ret;

	do
		ret = io_uring_register_buffers_update_tag(c->ring, index, &iov,
							   NULL, 1);
	while (ret == -EINTR || ret == -EAGAIN);
	return ret < 0 ? ret : 0;
}

static bool slot_invalidate(struct umn_interval_notifier *sub,
			    const struct umn_range *range,
			    unsigned long cur_seq)
{
	struct slot *sl = container_of(sub, struct slot, sub);
	struct umn_uring *c = sl->c;

	/* The kernel call and the mutex may sleep. */
	if (!umn_range_blockable(range))
		return false;
	pthread_mutex_lock(&c->lock);
	umn_interval_set_seq(sub, cur_seq);
	if (sl->state == VALID && !(c->flags & UMN_URING_BREAK_INVALIDATE)) {
		/* Empty it before the primary acts: no I/O submitted from
		 * now on reaches the old pages.  It cannot fail for a valid
		 * index and no buffer. */
		kernel_update(c, (unsigned int)(sl - c->slots), 0, 0);
		sl->state = DEAD;
		c->stats.invalidations++;
	}
	pthread_mutex_unlock(&c->lock);
	return true;
}

static const struct umn_interval_notifier_ops slot_ops = {
	.name = "uring",
	.invalidate = slot_invalidate,
};

int umn_uring_create(struct umn_mm *mm, struct io_uring *ring,
		     unsigned int nslots, unsigned int flags,
		     struct umn_uring **cp)
{
	struct umn_uring *c;
	unsigned int i;
	int ret;

	if (!mm || mm != umn_proc_mm() || !ring || !cp || !nslots ||
	    nslots > UMN_URING_MAX_SLOTS ||
	    (flags & ~(UMN_URING_BREAK_INVALIDATE | UMN_URING_BREAK_RETRY)))
		return -EINVAL;
	/* ->invalidate registers from threads other than the submitter. */
	if (ring->flags & IORING_SETUP_SINGLE_ISSUER)
		return -EINVAL;
	c = calloc(1, sizeof(*c) + nslots * sizeof(c->slots[0]));
	if (!c)
		return -ENOMEM;
	ret = io_uring_register_buffers_sparse(ring, nslots);
	if (ret < 0) {
		free(c);
		return ret;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->mm = umn_mm_get(mm);
	c->ring = ring;
	c->flags = flags;
	c->nslots = nslots;
	for (i = 0; i < nslots; i++)
		c->slots[i].c = c;
	*cp = c;
	return 0;
}

/* Remove @sl's notifier; @sl is BUSY, owned by the caller. */
static int drop_sub(struct slot *sl)
{
	int ret;

	if (!sl->has_sub)
		return 0;
	ret = umn_interval_notifier_remove(&sl->sub);
	if (!ret)
		sl->has_sub = false;
	return ret;
}

int umn_uring_destroy(struct umn_uring *c)
{
	unsigned int i;

	if (!c)
		return -EINVAL;
	if (umn_mm_in_callback(c->mm))
		return -EDEADLK;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->high; i++) {
		if (c->slots[i].users || c->slots[i].state == BUSY) {
			pthread_mutex_unlock(&c->lock);
			return -EBUSY;
		}
	}
	for (i = 0; i < c->high; i++)
		c->slots[i].state = BUSY;
	pthread_mutex_unlock(&c->lock);
	for (i = 0; i < c->high; i++)
		drop_sub(&c->slots[i]);
	io_uring_unregister_buffers(c->ring);
	umn_mm_put(c->mm);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return 0;
}

/* A valid slot covering [s, e), or -1.  Under c->lock. */
static int find_valid(struct umn_uring *c, unsigned long s, unsigned long e)
{
	unsigned int i;

	for (i = 0; i < c->high; i++) {
		const struct slot *sl = &c->slots[i];

		if (sl->state == VALID && sl->start <= s && sl->end >= e)
			return (int)i;
	}
	return -1;
}

/* A slot to register into: a free one, else a dead one without holders,
 * else the least recently used valid one without holders; or -1.  Under
 * c->lock. */
static int pick_slot(struct umn_uring *c)
{
	int dead = -1, idle = -1;
	unsigned int i;

	for (i = 0; i < c->high; i++) {
		const struct slot *sl = &c->slots[i];

		if (sl->state == FREE)
			return (int)i;
		if (sl->users)
			continue;
		if (sl->state == DEAD && dead < 0)
			dead = (int)i;
		if (sl->state == VALID &&
		    (idle < 0 || sl->used < c->slots[idle].used))
			idle = (int)i;
	}
	if (c->high < c->nslots)
		return (int)c->high++;
	if (dead >= 0)
		return dead;
	if (idle >= 0)
		c->stats.evictions++;
	return idle;
}

/*
 * Register [s, e) in @sl (BUSY, no notifier), with collision-retry.  On
 * success, returns with c->lock held and @sl still BUSY.
 */
static int register_slot(struct umn_uring *c, struct slot *sl, unsigned long s,
			 unsigned long e)
{
	unsigned int index = (unsigned int)(sl - c->slots);
	unsigned long seq;
	int ret;

	memset(&sl->sub, 0, sizeof(sl->sub));
	/* Hear the range before pinning it: no change slips between. */
	ret = umn_interval_notifier_insert(&sl->sub, c->mm, s, e - s,
					   &slot_ops);
	if (ret)
		return ret;
	sl->has_sub = true;
	for (;;) {
		seq = umn_interval_read_begin(&sl->sub);
		ret = kernel_update(c, index, s, e - s);
		if (ret) {
			drop_sub(sl);
			return ret;
		}
		pthread_mutex_lock(&c->lock);
		if (!umn_interval_read_retry(&sl->sub, seq) ||
		    (c->flags & UMN_URING_BREAK_RETRY))
			return 0;
		/* An invalidation began since read_begin: what the kernel
		 * pinned may be gone from the address.  Nobody can name the
		 * slot yet; the next update replaces it. */
		c->stats.retries++;
		pthread_mutex_unlock(&c->lock);
	}
}

int umn_uring_get(struct umn_uring *c, const void *addr, size_t len)
{
	unsigned long s, e;
	struct slot *sl;
	int i, ret;

	if (!c || !pages_of((unsigned long)addr, len, &s, &e))
		return -EINVAL;
	if (umn_mm_in_callback(c->mm))
		return -EDEADLK;
	pthread_mutex_lock(&c->lock);
	i = find_valid(c, s, e);
	if (i >= 0) {
		sl = &c->slots[i];
		sl->users++;
		sl->used = ++c->clock;
		c->stats.hits++;
		pthread_mutex_unlock(&c->lock);
		return i;
	}
	i = pick_slot(c);
	if (i < 0) {
		pthread_mutex_unlock(&c->lock);
		return -ENOSPC;
	}
	sl = &c->slots[i];
	sl->state = BUSY;
	pthread_mutex_unlock(&c->lock);

	ret = drop_sub(sl);
	if (!ret)
		ret = register_slot(c, sl, s, e);
	if (ret) {
		/* Nothing the kernel holds there can be named: FREE (or DEAD
		 * while its notifier could not be removed). */
		kernel_update(c, (unsigned int)i, 0, 0);
		pthread_mutex_lock(&c->lock);
		sl->state = sl->has_sub ? DEAD : FREE;
		pthread_mutex_unlock(&c->lock);
		return ret;
	}
	sl->start = s;
	sl->end = e;
	sl->state = VALID;
	sl->users = 1;
	sl->used = ++c->clock;
	c->stats.registrations++;
	pthread_mutex_unlock(&c->lock);
	return i;
}

int umn_uring_put(struct umn_uring *c, int index)
{
	struct slot *sl;

	if (!c || index < 0 || (unsigned int)index >= c->nslots)
		return -EINVAL;
	sl = &c->slots[index];
	pthread_mutex_lock(&c->lock);
	if (!sl->users) {
		pthread_mutex_unlock(&c->lock);
		return -EINVAL;
	}
	if (--sl->users || sl->state != DEAD || umn_mm_in_callback(c->mm)) {
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	/* The last holder of a dead slot: stop hearing its range. */
	sl->state = BUSY;
	pthread_mutex_unlock(&c->lock);
	drop_sub(sl);
	pthread_mutex_lock(&c->lock);
	sl->state = sl->has_sub ? DEAD : FREE;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

bool umn_uring_valid(struct umn_uring *c, int index)
{
	bool valid;

	if (!c || index < 0 || (unsigned int)index >= c->nslots)
		return false;
	pthread_mutex_lock(&c->lock);
	valid = c->slots[index].state == VALID;
	pthread_mutex_unlock(&c->lock);
	return valid;
}

void umn_uring_stats(struct umn_uring *c, struct umn_uring_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
}
