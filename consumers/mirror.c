// SPDX-License-Identifier: MIT
/*
 * consumers/mirror.c - a KVM-like shadow page table (umn/mirror.h).
 *
 * Pattern: collision-retry (docs/CONTRACT.md, rule 4).  The mirror never takes
 * a reference on a frame; it stays exactly in sync with the primary by
 * never installing a translation that an invalidation may have overtaken.
 *
 * Classic variant, as KVM in Linux 4.13 (mmu_notifier_count/_seq):
 *
 *	invalidate_range_start:	lock; active++; zap the range; unlock
 *	invalidate_range_end:	lock; seq++; active--; unlock
 *	fault:			s = seq (acquire); look up the primary;
 *				lock; if (active || seq != s) retry;
 *				install; unlock
 *
 * The two races it closes, where the primary unmaps frame A:
 *
 *	fault thread			primary			(seq check)
 *	s = seq = 4
 *	lookup -> A
 *					start: active = 1; zap
 *					PTE := none
 *					end: seq = 5; active = 0
 *					free A
 *	lock; seq 5 != 4: retry		(without it: installs A, freed)
 *
 *	fault thread			primary			(counter)
 *					start: active = 1; zap
 *	s = seq = 4
 *	lookup -> A (PTE not changed yet)
 *	lock; active: retry		(without it: seq still 4, installs A)
 *					PTE := none
 *					end: seq = 5; active = 0; free A
 *
 * Interval variant, as Linux 5.5's mmu_interval_notifier: the core keeps
 * the sequence (umn/interval.h); ->invalidate takes the lock, records
 * cur_seq and zaps; the fault checks umn_interval_read_retry() under the
 * lock.  read_begin waits out an invalidation of the window, so the fault
 * side does not spin.
 *
 * The shadow table: one slot per 4 KiB page of the window.  An entry lives
 * in the slot of the page where it begins; a whole huge entry (2 MiB or
 * 1 GiB, only if its block lies inside the window) covers the slots after
 * it, which stay empty.  Entries never overlap: an install first removes
 * whatever overlaps the new entry.
 *
 * Lock order: the primary's PTL -> m->lock.  The mirror never calls into
 * the primary while holding m->lock (the lookup runs without it), so the
 * oracle may take m->lock from a lookup's fill callback.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <umn/debug.h>
#include <umn/interval.h>
#include <umn/mirror.h>
#include <umn/notifier.h>
#include <umn-test/breaks.h>
#include "../core/fail.h"
#include "../core/lockdep.h"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

#define VARIANTS (UMN_MIRROR_CLASSIC | UMN_MIRROR_INTERVAL)
#define ALL_FLAGS                                                    \
	(VARIANTS | UMN_MIRROR_SPLIT_HUGE | UMN_MIRROR_BREAK_RETRY | \
	 UMN_MIRROR_BREAK_COUNTER)

/* One shadow entry, in the slot of the page where it begins. */
struct slot {
	unsigned long frame;
	unsigned long gen;
	unsigned long subpage; /* the 4 KiB of frame at the entry's start */
	unsigned char shift;   /* log2 of the size it maps; 0: empty */
	bool writable;
};

struct umn_mirror {
	struct umn_soft_mm *sm;
	struct umn_mm *mm;
	unsigned long start, end; /* the window, [start, end) */
	unsigned int flags;
	struct umn_notifier n;		  /* UMN_MIRROR_CLASSIC */
	struct umn_interval_notifier sub; /* UMN_MIRROR_INTERVAL */
	/*
	 * Guards slot[], active, dead, stats and the writes of seq.  A
	 * spinlock: it is taken in atomic callbacks and by the oracle under
	 * the primary's PTL; held only for O(1) or O(range) work.
	 */
	pthread_spinlock_t lock;
	unsigned long active; /* invalidations between start and end */
	unsigned long seq;    /* bumped at each end; read without lock */
	bool dead;	      /* released: faults no more */
	unsigned long primary_faults; /* atomic; outside the lock */
	struct umn_mirror_stats stats;
	struct slot *slot; /* (end - start) / UMN_PAGE_SIZE of them */
};

static struct slot *slot_of(struct umn_mirror *m, unsigned long addr)
{
	return &m->slot[(addr - m->start) >> UMN_PAGE_SHIFT];
}

static unsigned long align_down(unsigned long addr, unsigned int shift)
{
	return addr & ~((1UL << shift) - 1);
}

static const unsigned int shifts[] = { UMN_PAGE_SHIFT, 21, 30 };

/* The entry that maps @addr, and where it begins; under m->lock. */
static struct slot *find(struct umn_mirror *m, unsigned long addr,
			 unsigned long *basep)
{
	unsigned long base;
	struct slot *s;
	unsigned int i;

	umn__lock_assert_held(&m->lock, "m->lock", UMN__LOCK_EXCL);
	for (i = 0; i < 3; i++) {
		base = align_down(addr, shifts[i]);
		if (base < m->start)
			break;
		s = slot_of(m, base);
		if (s->shift && addr - base < 1UL << s->shift) {
			*basep = base;
			return s;
		}
	}
	return NULL;
}

/* Remove every entry that overlaps [s, e); under m->lock.  Returns how
 * many went. */
static unsigned long zap(struct umn_mirror *m, unsigned long s, unsigned long e)
{
	unsigned long a, n = 0;
	struct slot *sl;
	unsigned int i;

	umn__lock_assert_held(&m->lock, "m->lock", UMN__LOCK_EXCL);
	if (s < m->start)
		s = m->start;
	if (e > m->end)
		e = m->end;
	if (s >= e)
		return 0;
	/* Huge entries that begin before s and reach into the range. */
	for (i = 1; i < 3; i++) {
		a = align_down(s, shifts[i]);
		if (a < m->start || a == s)
			continue;
		sl = slot_of(m, a);
		if (sl->shift && s - a < 1UL << sl->shift) {
			sl->shift = 0;
			n++;
		}
	}
	for (a = s; a < e; a += UMN_PAGE_SIZE) {
		sl = slot_of(m, a);
		if (sl->shift) {
			sl->shift = 0;
			n++;
		}
	}
	return n;
}

static bool overlaps(struct umn_mirror *m, const struct umn_range *range)
{
	return range->start < m->end && m->start < range->end;
}

/* Both variants: remove the translations of @range; under m->lock. */
static void invalidate(struct umn_mirror *m, const struct umn_range *range)
{
	umn__lock_assert_held(&m->lock, "m->lock", UMN__LOCK_EXCL);
	m->stats.invalidations[range->event]++;
	m->stats.zapped += zap(m, range->start, range->end);
	if (range->event == UMN_EVENT_RELEASE)
		__atomic_store_n(&m->dead, true, __ATOMIC_RELAXED);
}

static int classic_start(struct umn_notifier *n, const struct umn_range *range)
{
	struct umn_mirror *m = container_of(n, struct umn_mirror, n);

	if (!overlaps(m, range))
		return 0;
	umn__spin_lock(&m->lock, "m->lock");
	m->active++;
	invalidate(m, range);
	umn__spin_unlock(&m->lock, "m->lock");
	return 0;
}

static void classic_end(struct umn_notifier *n, const struct umn_range *range)
{
	struct umn_mirror *m = container_of(n, struct umn_mirror, n);

	/* The same range as start: this end pairs with its active++. */
	if (!overlaps(m, range))
		return;
	umn__spin_lock(&m->lock, "m->lock");
	/* Pairs with the acquire in umn_mirror_read_begin(). */
	__atomic_store_n(&m->seq, m->seq + 1, __ATOMIC_RELEASE);
	m->active--;
	umn__spin_unlock(&m->lock, "m->lock");
}

static void classic_release(struct umn_notifier *n, struct umn_mm *mm)
{
	struct umn_mirror *m = container_of(n, struct umn_mirror, n);

	(void)mm;
	umn__spin_lock(&m->lock, "m->lock");
	__atomic_store_n(&m->dead, true, __ATOMIC_RELAXED);
	m->stats.zapped += zap(m, m->start, m->end);
	umn__spin_unlock(&m->lock, "m->lock");
}

static const struct umn_notifier_ops classic_ops = {
	.name = "mirror",
	.release = classic_release,
	.invalidate_range_start = classic_start,
	.invalidate_range_end = classic_end,
};

static bool interval_invalidate(struct umn_interval_notifier *sub,
				const struct umn_range *range,
				unsigned long cur_seq)
{
	struct umn_mirror *m = container_of(sub, struct umn_mirror, sub);

	umn__spin_lock(&m->lock, "m->lock");
	umn_interval_set_seq(sub, cur_seq);
	invalidate(m, range);
	umn__spin_unlock(&m->lock, "m->lock");
	return true;
}

static const struct umn_interval_notifier_ops interval_ops = {
	.name = "mirror",
	.invalidate = interval_invalidate,
};

int umn_mirror_create(struct umn_soft_mm *sm, unsigned long start,
		      unsigned long len, unsigned int flags,
		      struct umn_mirror **mp)
{
	unsigned int variant = flags & VARIANTS;
	struct umn_mirror *m;
	int ret;

	if (!sm || !mp || !len || ((start | len) & (UMN_PAGE_SIZE - 1)) ||
	    len > UMN_SOFT_TASK_SIZE || start > UMN_SOFT_TASK_SIZE - len ||
	    (flags & ~ALL_FLAGS) ||
	    (variant != UMN_MIRROR_CLASSIC && variant != UMN_MIRROR_INTERVAL) ||
	    (variant == UMN_MIRROR_INTERVAL &&
	     (flags & UMN_MIRROR_BREAK_COUNTER)))
		return -EINVAL;
	m = umn__calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->slot = umn__calloc(len >> UMN_PAGE_SHIFT, sizeof(*m->slot));
	if (!m->slot) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (pthread_spin_init(&m->lock, PTHREAD_PROCESS_PRIVATE)) {
		ret = -ENOMEM;
		goto out_free;
	}
	m->sm = sm;
	m->mm = umn_soft_mm_umn(sm);
	m->start = start;
	m->end = start + len;
	m->flags = flags;
	if (variant == UMN_MIRROR_CLASSIC)
		ret = umn_notifier_register(&m->n, &classic_ops, m->mm);
	else
		ret = umn_interval_notifier_insert(&m->sub, m->mm, start, len,
						   &interval_ops);
	if (ret)
		goto out_lock;
	*mp = m;
	return 0;

out_lock:
	pthread_spin_destroy(&m->lock);
out_free:
	free(m->slot);
	free(m);
	return ret;
}

int umn_mirror_destroy(struct umn_mirror *m)
{
	int ret;

	if (!m)
		return -EINVAL;
	if (m->flags & UMN_MIRROR_CLASSIC)
		ret = umn_notifier_unregister(&m->n);
	else
		ret = umn_interval_notifier_remove(&m->sub);
	if (ret)
		return ret;
	pthread_spin_destroy(&m->lock);
	free(m->slot);
	free(m);
	return 0;
}

unsigned long umn_mirror_read_begin(struct umn_mirror *m)
{
	if (m->flags & UMN_MIRROR_INTERVAL)
		return umn_interval_read_begin(&m->sub);
	/* Pairs with the release in classic_end(): a lookup that follows
	 * sees the page table at least as new as that end left it. */
	return __atomic_load_n(&m->seq, __ATOMIC_ACQUIRE);
}

/* Did an invalidation collide with the lookup begun at @seq?  Under
 * m->lock, where active and seq are stable. */
static bool collided(struct umn_mirror *m, unsigned long seq)
{
	bool check_seq = !(m->flags & UMN_MIRROR_BREAK_RETRY);

	if (m->flags & UMN_MIRROR_INTERVAL)
		return check_seq && umn_interval_read_retry(&m->sub, seq);
	if (!(m->flags & UMN_MIRROR_BREAK_COUNTER) && m->active)
		return true;
	return check_seq && m->seq != seq;
}

static bool maps(const struct umn_soft_translation *t, unsigned long addr)
{
	return (t->size == UMN_PAGE_SIZE || t->size == UMN_SOFT_PMD_SIZE ||
		t->size == UMN_SOFT_PUD_SIZE) &&
	       !(t->base & (t->size - 1)) && t->base <= addr &&
	       addr - t->base < t->size;
}

/* The 4 KiB of t->frame that @addr reaches.  A huge entry maps a frame of
 * its own size from its start; t->subpage counts only for 4 KiB ones. */
static unsigned long page_at(const struct umn_soft_translation *t,
			     unsigned long addr)
{
	return (t->size == UMN_PAGE_SIZE ? t->subpage : 0) +
	       ((addr - t->base) >> UMN_PAGE_SHIFT);
}

int umn_mirror_install(struct umn_mirror *m, unsigned long addr,
		       unsigned long seq, const struct umn_soft_translation *t)
{
	unsigned long base = align_down(addr, UMN_PAGE_SHIFT);
	unsigned long size = UMN_PAGE_SIZE, subpage;
	int ret = 0;

	if (!m || !t || addr < m->start || addr >= m->end || !maps(t, addr))
		return -EINVAL;
	subpage = page_at(t, addr);
	if (t->size > UMN_PAGE_SIZE && !(m->flags & UMN_MIRROR_SPLIT_HUGE) &&
	    t->base >= m->start && m->end - t->base >= t->size) {
		base = t->base;
		size = t->size;
		subpage = 0;
	}
	umn__spin_lock(&m->lock, "m->lock");
	if (m->dead) {
		ret = -ESRCH;
	} else if (collided(m, seq)) {
		m->stats.retries++;
		ret = -EAGAIN;
	} else {
		zap(m, base, base + size);
		*slot_of(m, base) = (struct slot){
			.frame = t->frame,
			.gen = t->gen,
			.subpage = subpage,
			.shift = (unsigned char)__builtin_ctzl(size),
			.writable = t->writable,
		};
		m->stats.faults++;
	}
	umn__spin_unlock(&m->lock, "m->lock");
	return ret;
}

int umn_mirror_fault(struct umn_mirror *m, unsigned long addr, bool write)
{
	struct umn_soft_translation t;
	unsigned long seq;
	int ret, retries = 0;

	if (!m || addr < m->start || addr >= m->end)
		return -EINVAL;
	umn_might_sleep();
	for (;;) {
		if (__atomic_load_n(&m->dead, __ATOMIC_RELAXED))
			return -ESRCH;
		seq = umn_mirror_read_begin(m);
		ret = umn_soft_lookup(m->sm, addr, write, NULL, NULL, &t);
		if (ret == -EFAULT || ret == -EACCES) {
			__atomic_fetch_add(&m->primary_faults, 1,
					   __ATOMIC_RELAXED);
			ret = umn_soft_fault(m->sm, addr, write);
			if (ret)
				return ret;
			continue;
		}
		if (!ret)
			ret = umn_mirror_install(m, addr, seq, &t);
		if (ret != -EAGAIN)
			return ret ? ret : retries;
		/* Classic: an invalidation may still be between start and
		 * end; let it run. */
		retries++;
		sched_yield();
	}
}

int umn_mirror_translate(struct umn_mirror *m, unsigned long addr,
			 struct umn_soft_translation *out)
{
	unsigned long base;
	struct slot *s;
	int ret = -ENOENT;

	if (!m || !out || addr < m->start || addr >= m->end)
		return -EINVAL;
	umn__spin_lock(&m->lock, "m->lock");
	s = find(m, addr, &base);
	if (s) {
		out->frame = s->frame;
		out->gen = s->gen;
		out->base = base;
		out->size = 1UL << s->shift;
		out->subpage = s->subpage + ((addr - base) >> UMN_PAGE_SHIFT);
		out->writable = s->writable;
		ret = 0;
	}
	umn__spin_unlock(&m->lock, "m->lock");
	return ret;
}

void umn_mirror_stats(struct umn_mirror *m, struct umn_mirror_stats *out)
{
	umn__spin_lock(&m->lock, "m->lock");
	*out = m->stats;
	umn__spin_unlock(&m->lock, "m->lock");
	out->primary_faults =
		__atomic_load_n(&m->primary_faults, __ATOMIC_RELAXED);
}
