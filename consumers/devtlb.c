// SPDX-License-Identifier: MIT
/*
 * consumers/devtlb.c - an IOMMU-like device TLB (umn/devtlb.h).
 *
 * Pattern: flush in ->invalidate_range (docs/CONTRACT.md, rules 2, 3).  A
 * device TLB is filled by the hardware walking the CPU page table, and
 * flushed by the IOMMU driver: it needs no counter and no sequence,
 * because both happen under the primary's page-table lock.  The fill runs
 * in umn_soft_lookup()'s callback, under the PTL of the entry; the flush
 * runs in ->invalidate_range, which the primary calls under the same PTL
 * right after changing the entry.  So a fill either sees the new entry, or
 * happens before the change and is flushed by it:
 *
 *	device (miss)				primary (munmap of frame A)
 *	lock PTL
 *	fill: entry := A
 *	unlock PTL
 *						lock PTL
 *						PTE := none
 *						invalidate_range: flush A
 *						unlock PTL; end; free A
 *
 * The race it closes is the fill made after the walk, outside the PTL:
 *
 *	lookup -> A (PTL dropped)
 *						lock PTL; PTE := none
 *						invalidate_range: no entry yet
 *						unlock PTL; end; free A
 *	fill: entry := A			(the device now DMAs to a
 *						 freed frame)
 *
 * ->invalidate_range runs in atomic context: it takes only t->lock, a
 * spinlock, and never sleeps (a debug build of umn aborts if it did).
 *
 * Lock order: the primary's PTL -> t->lock (fill, flush, and the oracle's
 * umn_devtlb_check() from a fill callback).  t->lock is never held across
 * a call into the primary.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <umn/debug.h>
#include <umn/devtlb.h>
#include <umn/notifier.h>
#include <umn-test/breaks.h>
#include "../core/fail.h"
#include "../core/lockdep.h"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

/* One cached translation: [base, base + (1 << shift)). */
struct entry {
	unsigned long base;
	unsigned long frame;
	unsigned long gen;
	unsigned long subpage;	/* the 4 KiB of frame at base */
	unsigned long last_use; /* LRU clock at the last hit or fill */
	unsigned char shift;	/* 0: the entry is empty */
	bool writable;
};

struct umn_devtlb {
	struct umn_soft_mm *sm;
	struct umn_notifier n;
	unsigned int flags;
	/*
	 * Guards e[], clock, dead and stats.  A spinlock: taken in
	 * ->invalidate_range (atomic) and in the fill, both under the
	 * primary's PTL.
	 */
	pthread_spinlock_t lock;
	unsigned long clock; /* LRU: ticks at each hit and fill */
	bool dead;	     /* released: translates no more */
	struct umn_devtlb_stats stats;
	unsigned int nr;
	struct entry e[]; /* nr of them */
};

static unsigned long size_of(const struct entry *e)
{
	return 1UL << e->shift;
}

/* The entry mapping @addr; under t->lock. */
static struct entry *find(struct umn_devtlb *t, unsigned long addr)
{
	unsigned int i;

	umn__lock_assert_held(&t->lock, "t->lock", UMN__LOCK_EXCL);
	for (i = 0; i < t->nr; i++)
		if (t->e[i].shift && addr >= t->e[i].base &&
		    addr - t->e[i].base < size_of(&t->e[i]))
			return &t->e[i];
	return NULL;
}

/* Empty every entry that overlaps [start, end); under t->lock. */
static unsigned long flush(struct umn_devtlb *t, unsigned long start,
			   unsigned long end)
{
	unsigned long n = 0;
	unsigned int i;

	umn__lock_assert_held(&t->lock, "t->lock", UMN__LOCK_EXCL);
	for (i = 0; i < t->nr; i++) {
		struct entry *e = &t->e[i];

		if (e->shift && e->base < end && start < e->base + size_of(e)) {
			e->shift = 0;
			n++;
		}
	}
	return n;
}

static void report(const struct entry *e, unsigned long addr,
		   struct umn_soft_translation *out)
{
	out->frame = e->frame;
	out->gen = e->gen;
	out->base = e->base;
	out->size = size_of(e);
	out->subpage = e->subpage + ((addr - e->base) >> UMN_PAGE_SHIFT);
	out->writable = e->writable;
}

static void invalidate_range(struct umn_notifier *n, struct umn_mm *mm,
			     unsigned long start, unsigned long end)
{
	struct umn_devtlb *t = container_of(n, struct umn_devtlb, n);

	(void)mm;
	umn__spin_lock(&t->lock, "t->lock");
	t->stats.flushes++;
	if (!(t->flags & UMN_DEVTLB_BREAK_FLUSH))
		t->stats.flushed += flush(t, start, end);
	umn__spin_unlock(&t->lock, "t->lock");
}

static void release(struct umn_notifier *n, struct umn_mm *mm)
{
	struct umn_devtlb *t = container_of(n, struct umn_devtlb, n);

	(void)mm;
	umn__spin_lock(&t->lock, "t->lock");
	__atomic_store_n(&t->dead, true, __ATOMIC_RELAXED);
	t->stats.flushed += flush(t, 0, UMN_SOFT_TASK_SIZE);
	umn__spin_unlock(&t->lock, "t->lock");
}

static const struct umn_notifier_ops devtlb_ops = {
	.name = "devtlb",
	.release = release,
	.invalidate_range = invalidate_range,
};

struct fill_ctx {
	struct umn_devtlb *t;
	bool write;
};

/* umn_soft_lookup()'s callback: under the primary's PTL, atomic. */
static void fill(void *arg, const struct umn_soft_translation *tr)
{
	struct fill_ctx *c = arg;
	struct umn_devtlb *t = c->t;
	struct entry *victim;
	unsigned int i;

	if ((c->write && !tr->writable) ||
	    (tr->size != UMN_PAGE_SIZE && tr->size != UMN_SOFT_PMD_SIZE &&
	     tr->size != UMN_SOFT_PUD_SIZE) ||
	    (tr->base & (tr->size - 1)))
		return;
	umn__spin_lock(&t->lock, "t->lock");
	if (t->dead)
		goto out;
	/* Entries never overlap: a new huge entry replaces the small ones. */
	flush(t, tr->base, tr->base + tr->size);
	/* An empty entry if there is one, else the least recently used. */
	victim = &t->e[0];
	for (i = 1; i < t->nr && victim->shift; i++)
		if (!t->e[i].shift || t->e[i].last_use < victim->last_use)
			victim = &t->e[i];
	if (victim->shift)
		t->stats.evictions++;
	*victim = (struct entry){
		.base = tr->base,
		.frame = tr->frame,
		.gen = tr->gen,
		/* A huge entry maps a frame of its own size from its start. */
		.subpage = tr->size == UMN_PAGE_SIZE ? tr->subpage : 0,
		.last_use = ++t->clock,
		.shift = (unsigned char)__builtin_ctzl(tr->size),
		.writable = tr->writable,
	};
	t->stats.fills++;
out:
	umn__spin_unlock(&t->lock, "t->lock");
}

int umn_devtlb_create(struct umn_soft_mm *sm, unsigned int entries,
		      unsigned int flags, struct umn_devtlb **tp)
{
	struct umn_devtlb *t;
	int ret;

	if (!sm || !tp || !entries || entries > UMN_DEVTLB_MAX_ENTRIES ||
	    (flags & ~UMN_DEVTLB_BREAK_FLUSH))
		return -EINVAL;
	t = umn__calloc(1, sizeof(*t) + entries * sizeof(t->e[0]));
	if (!t)
		return -ENOMEM;
	if (pthread_spin_init(&t->lock, PTHREAD_PROCESS_PRIVATE)) {
		free(t);
		return -ENOMEM;
	}
	t->sm = sm;
	t->flags = flags;
	t->nr = entries;
	ret = umn_notifier_register(&t->n, &devtlb_ops, umn_soft_mm_umn(sm));
	if (ret) {
		pthread_spin_destroy(&t->lock);
		free(t);
		return ret;
	}
	*tp = t;
	return 0;
}

int umn_devtlb_destroy(struct umn_devtlb *t)
{
	int ret;

	if (!t)
		return -EINVAL;
	ret = umn_notifier_unregister(&t->n);
	if (ret)
		return ret;
	pthread_spin_destroy(&t->lock);
	free(t);
	return 0;
}

int umn_devtlb_translate(struct umn_devtlb *t, unsigned long addr, bool write,
			 struct umn_soft_translation *out)
{
	struct fill_ctx ctx = { t, write };
	struct umn_soft_translation tr;
	struct entry *e;
	int ret;

	if (!t || !out || addr >= UMN_SOFT_TASK_SIZE)
		return -EINVAL;
	umn__spin_lock(&t->lock, "t->lock");
	ret = t->dead ? -ESRCH : 0;
	e = ret ? NULL : find(t, addr);
	if (e && (!write || e->writable)) {
		e->last_use = ++t->clock;
		report(e, addr, out);
		t->stats.hits++;
		ret = 1;
	} else if (!ret) {
		t->stats.misses++;
	}
	umn__spin_unlock(&t->lock, "t->lock");
	if (ret)
		return ret;

	umn_might_sleep();
	for (;;) {
		ret = umn_soft_lookup(t->sm, addr, write, fill, &ctx, &tr);
		if (ret == -EFAULT || ret == -EACCES) {
			ret = umn_soft_fault(t->sm, addr, write);
			if (ret)
				return ret;
			continue;
		}
		if (ret)
			return ret;
		*out = tr;
		out->subpage = (tr.size == UMN_PAGE_SIZE ? tr.subpage : 0) +
			       ((addr - tr.base) >> UMN_PAGE_SHIFT);
		return 0;
	}
}

int umn_devtlb_check(struct umn_devtlb *t, unsigned long addr,
		     struct umn_soft_translation *out)
{
	struct entry *e;
	int ret = -ENOENT;

	if (!t || !out)
		return -EINVAL;
	umn__spin_lock(&t->lock, "t->lock");
	e = find(t, addr);
	if (e) {
		report(e, addr, out);
		ret = 0;
	}
	umn__spin_unlock(&t->lock, "t->lock");
	return ret;
}

void umn_devtlb_stats(struct umn_devtlb *t, struct umn_devtlb_stats *out)
{
	umn__spin_lock(&t->lock, "t->lock");
	*out = t->stats;
	umn__spin_unlock(&t->lock, "t->lock");
}
