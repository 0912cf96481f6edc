// SPDX-License-Identifier: MIT
/*
 * primaries/soft/rmap.c - the operations that start from a frame and
 * reach its mappings through the reverse map: reclaim (try_to_unmap_one),
 * write-back cleaning (page_mkclean_one), migration, KSM merge; and aging.
 *
 * The range of each bracket is THP-aware, as Linux 4.13 fixed it: from
 * the address where the frame begins to min(VMA end, that address + the
 * size of the compound frame) — never just the first 4 KiB of a huge
 * frame (UMN_SOFT_BREAK_THP_RANGE brings that bug back, for umn-torture).
 *
 * Each mapping is visited under its own mm's mmap lock (read) and checked
 * again under its page-table lock: the snapshot of the reverse map may be
 * out of date by then, and a mapping that changed is skipped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <umn-test/breaks.h>

#include "soft.h"

/* The frame mapped at @addr, with a reference; the flags of its VMA and
 * the level of its entry, if asked. */
static int frame_at(struct umn_soft_mm *sm, unsigned long addr,
		    unsigned long *framep, int *vflagsp, unsigned int *levelp)
{
	unsigned int i, level;
	struct pt *t;
	uint64_t e;
	int ret = -EFAULT;

	if (!sm || addr >= UMN_SOFT_TASK_SIZE)
		return -EFAULT;
	mmap_read_lock(sm);
	if (umn__soft_pt_find_leaf(sm, addr, &t, &i, &level)) {
		ptl_lock(t);
		e = t->e[i];
		if (e_type(e) == E_LEAF) {
			*framep = e_frame(e);
			umn__soft_frame_get(sm->frames, *framep);
			if (vflagsp) /* a copy: the VMA may go with the lock */
				*vflagsp = umn__soft_vma_find(sm, addr)->flags;
			if (levelp)
				*levelp = level;
			ret = 0;
		}
		ptl_unlock(t);
	}
	mmap_unlock(sm);
	return ret;
}

/* The bracket's range for the mapping of @frame by entry @e at @addr. */
static void frame_range(struct umn_soft_mm *sm, const struct vma *v,
			unsigned long addr, unsigned int level, uint64_t e,
			unsigned long *start, unsigned long *end)
{
	unsigned long size = PAGE << frame_of(sm->frames, e_frame(e))->order;
	unsigned long base = addr - (level ? 0 : e_sub(e) * PAGE);

	if (sm->frames->cfg.breaks & UMN_SOFT_BREAK_THP_RANGE) {
		*start = addr;
		*end = addr + PAGE; /* the bug Linux 4.13 fixed */
		return;
	}
	*start = base > v->start ? base : v->start;
	*end = base + size < v->end ? base + size : v->end;
}

/*
 * One visit: @fn runs with the mmap lock held (read) and the entry found;
 * it brackets, locks the PTL and checks the entry is still @e itself.
 */
typedef int visit_fn(struct umn_soft_mm *sm, struct vma *v, struct pt *t,
		     unsigned int i, unsigned int level, unsigned long addr,
		     uint64_t e, void *ctx);

static int visit(struct rmap *r, unsigned long frame, visit_fn *fn, void *ctx)
{
	struct umn_soft_mm *sm = r->sm;
	unsigned int i, level;
	struct pt *t;
	uint64_t e;
	int ret = 0;

	mmap_read_lock(sm);
	if (!sm->dead && umn__soft_pt_find_leaf(sm, r->addr, &t, &i, &level)) {
		e = e_load(t, i);
		if (e_type(e) == E_LEAF && e_frame(e) == frame)
			ret = fn(sm, umn__soft_vma_find(sm, r->addr), t, i,
				 level, r->addr, e, ctx);
	}
	mmap_unlock(sm);
	return ret;
}

static int visit_all(struct umn_soft_frames *fs, unsigned long frame,
		     visit_fn *fn, void *ctx)
{
	struct rmap *list, *r;
	int n, ret = 0;

	n = umn__soft_rmap_snapshot(fs, frame, &list);
	if (n < 0)
		return n;
	for (r = list; r; r = r->next) {
		int err = fn ? visit(r, frame, fn, ctx) : 0;

		if (err && !ret)
			ret = err;
	}
	umn__soft_rmap_snapshot_free(fs, list);
	return ret;
}

/*
 * Reclaim and cleaning act on every entry of the frame inside the bracket's
 * range at once, as page_vma_mapped_walk does: a 2 MiB frame mapped by 512
 * PTEs costs one bracket, not 512.  The later visits of those mappings
 * find them changed and skip them.
 */
struct sweep {
	struct change c; /* first; its range is the bracket */
	unsigned long frame;
	unsigned long slot; /* reclaim: the swap slot */
	bool reclaim;
	bool busy;	 /* reclaim: a mapping stayed (pinned) */
	struct gather g; /* reclaim: the mappings' references */
};

static void sweep_entry(struct umn_soft_mm *sm, struct pt *t,
			unsigned int level, unsigned int i, unsigned long addr,
			struct change *c)
{
	struct umn_soft_frames *fs = sm->frames;
	struct sweep *w = (struct sweep *)c;
	uint64_t e = t->e[i];

	(void)level;
	if (e_type(e) != E_LEAF || e_frame(e) != w->frame)
		return;
	/* A pin taken since the check: its writes would miss the swap
	 * copy.  (Pins go through this PTL.) */
	if (w->reclaim && atomic_load(&frame_of(fs, w->frame)->pins)) {
		w->busy = true;
		return;
	}
	if (!w->reclaim) {
		e_store(t, i, e & ~(E_WRITE | E_DIRTY));
		return;
	}
	umn__soft_swap_get(fs, w->slot);
	e_store(t, i,
		E_SWAP | ((uint64_t)w->slot << E_FRAME_SHIFT) |
			((uint64_t)e_sub(e) << E_SUB_SHIFT));
	umn__soft_rmap_del(fs, w->frame, sm, addr);
	umn__soft_gather_add(&w->g, w->frame);
}

static int sweep_one(struct umn_soft_mm *sm, struct vma *v, struct pt *t,
		     unsigned int i, unsigned int level, unsigned long addr,
		     uint64_t e, void *ctx)
{
	struct sweep *w = ctx;
	unsigned long start, end;
	struct umn_range range;

	(void)t, (void)i;
	if (w->reclaim && (v->flags & UMN_SOFT_MAP_SHARED))
		return -EBUSY; /* no swap cache: shared pages stay */
	if (!w->reclaim && !(e & (E_WRITE | E_DIRTY)))
		return 0; /* clean already */
	frame_range(sm, v, addr, level, e, &start, &end);
	umn__soft_bracket_start(sm, &range, start, end,
				w->reclaim ? UMN_EVENT_CLEAR
					   : UMN_EVENT_PROTECTION_PAGE);
	gather_bracket(&w->g, sm, start, end);
	umn__soft_change_range(sm, start, end, &w->c);
	umn__soft_bracket_end(sm, &range);
	umn__soft_gather_flush(sm->frames, &w->g); /* after end */
	return 0;
}

int umn_soft_reclaim(struct umn_soft_mm *sm, unsigned long addr)
{
	struct sweep w = { .c.fn = sweep_entry, .reclaim = true };
	struct umn_soft_frames *fs;
	int ret;

	ret = frame_at(sm, addr, &w.frame, NULL, NULL);
	if (ret)
		return ret;
	fs = sm->frames;
	ret = -EBUSY;
	if (atomic_load(&frame_of(fs, w.frame)->pins))
		goto out;
	ret = umn__soft_swap_alloc(fs, frame_of(fs, w.frame)->order, &w.slot);
	if (ret)
		goto out;
	ret = visit_all(fs, w.frame, sweep_one, &w);
	if (!ret && w.busy)
		ret = -EBUSY;
	umn__soft_swap_fill(fs, w.slot, w.frame);
	umn__soft_stat_op(fs, UMN_SOFT_OP_RECLAIM);
out:
	umn__soft_frame_put(fs, w.frame);
	return ret;
}

int umn_soft_clean(struct umn_soft_mm *sm, unsigned long addr)
{
	struct sweep w = { .c.fn = sweep_entry, .reclaim = false };
	int ret;

	ret = frame_at(sm, addr, &w.frame, NULL, NULL);
	if (ret)
		return ret;
	ret = visit_all(sm->frames, w.frame, sweep_one, &w);
	umn__soft_stat_op(sm->frames, UMN_SOFT_OP_CLEAN);
	umn__soft_frame_put(sm->frames, w.frame);
	return ret;
}

/* Migration. */

struct migrate {
	unsigned long old, new;
	int done;
	int error; /* no memory for the copy */
};

static int migrate_one(struct umn_soft_mm *sm, struct vma *v, struct pt *t,
		       unsigned int i, unsigned int level, unsigned long addr,
		       uint64_t e, void *ctx)
{
	struct umn_soft_frames *fs = sm->frames;
	struct migrate *m = ctx;
	unsigned long start, end;
	struct umn_range range;
	uint64_t now;

	frame_range(sm, v, addr, level, e, &start, &end);
	umn__soft_bracket_start(sm, &range, start, end, UMN_EVENT_MIGRATE);
	ptl_lock(t);
	now = t->e[i];
	/* Not a pinned frame: its pinner may write while we copy.  (Pins go
	 * through this PTL: none can start now.) */
	if (atomic_load(&frame_of(fs, m->old)->pins))
		now = E_NONE;
	if (e_type(now) == E_LEAF && e_frame(now) == m->old) {
		e_store(t, i, E_NONE);
		umn_invalidate_range(sm->mm, start, end);
		/* Nothing reaches the old frame now: copy, then map.  Out
		 * of memory, the old frame goes back. */
		m->error = umn__soft_frame_copy(fs, m->new, m->old);
		if (m->error) {
			e_store(t, i, now);
		} else {
			e_store(t, i,
				(now & ~(E_FRAME_MASK << E_FRAME_SHIFT)) |
					((uint64_t)m->new << E_FRAME_SHIFT));
			umn__soft_rmap_del(fs, m->old, sm, addr);
			m->done = 1;
		}
	}
	ptl_unlock(t);
	umn__soft_bracket_end(sm, &range);
	if (m->done)
		umn__soft_frame_put(fs, m->old); /* the mapping's, after end */
	return 0;
}

int umn_soft_migrate(struct umn_soft_mm *sm, unsigned long addr)
{
	struct migrate m = { 0 };
	struct umn_soft_frames *fs;
	struct rmap *list;
	int ret, n;

	ret = frame_at(sm, addr, &m.old, NULL, NULL);
	if (ret)
		return ret;
	fs = sm->frames;
	ret = -EBUSY;
	if (atomic_load(&frame_of(fs, m.old)->pins))
		goto out;
	n = umn__soft_rmap_snapshot(fs, m.old, &list);
	if (n != 1) {
		ret = n < 0 ? n : -EBUSY;
		umn__soft_rmap_snapshot_free(fs, list);
		goto out;
	}
	ret = umn__soft_frame_alloc(fs, frame_of(fs, m.old)->order, &m.new);
	if (!ret)
		ret = umn__soft_rmap_add(fs, m.new, list->sm, list->addr);
	if (!ret) {
		/* The new frame's reference becomes the mapping's. */
		visit(list, m.old, migrate_one, &m);
		if (!m.done) { /* it changed meanwhile, or no memory */
			umn__soft_rmap_del(fs, m.new, list->sm, list->addr);
			umn__soft_frame_put(fs, m.new);
			ret = m.error ? m.error : -EAGAIN;
		}
	} else if (m.new) {
		umn__soft_frame_put(fs, m.new);
	}
	umn__soft_rmap_snapshot_free(fs, list);
	if (!ret)
		umn__soft_stat_op(fs, UMN_SOFT_OP_MIGRATE);
out:
	umn__soft_frame_put(fs, m.old);
	return ret;
}

/* KSM. */

/* Write-protect the 4 KiB entry of @frame at @addr, as write_protect_page;
 * with @replace, map @replace there instead, as replace_page (change_pte
 * inside the bracket). */
struct ksm {
	unsigned long frame, replace;
	int done;
};

static int ksm_one(struct umn_soft_mm *sm, struct vma *v, struct pt *t,
		   unsigned int i, unsigned int level, unsigned long addr,
		   uint64_t e, void *ctx)
{
	struct umn_soft_frames *fs = sm->frames;
	struct ksm *k = ctx;
	struct umn_range range;
	uint64_t now, new;

	(void)v;
	if (level)
		return -EINVAL;
	umn__soft_bracket_start(sm, &range, addr, addr + PAGE, UMN_EVENT_CLEAR);
	ptl_lock(t);
	now = t->e[i];
	/* Replace only a page that stayed read-only, and still equal to the
	 * KSM page (which no write can change in place any more). */
	if (k->replace && ((now & E_WRITE) ||
			   !umn__soft_frame_same(fs, k->replace, e_frame(e))))
		now = E_NONE;
	/* Nor a pinned page (its pinner may write it), either side.  Pins go
	 * through this PTL; the KSM page's own pins are checked here too. */
	if (atomic_load(&frame_of(fs, e_frame(e))->pins) ||
	    (k->replace && atomic_load(&frame_of(fs, k->replace)->pins)))
		now = E_NONE;
	if (e_type(now) == E_LEAF && e_frame(now) == e_frame(e)) {
		if (k->replace) {
			new = mk_leaf(k->replace, 0, false);
			umn__soft_frame_get(fs, k->replace);
			umn_change_pte(sm->mm, addr, new);
			umn__soft_rmap_del(fs, k->frame, sm, addr);
		} else {
			new = now & ~E_WRITE;
		}
		e_store(t, i, new);
		umn_invalidate_range(sm->mm, addr, addr + PAGE);
		k->done = 1;
	}
	ptl_unlock(t);
	umn__soft_bracket_end(sm, &range);
	if (k->done && k->replace)
		umn__soft_frame_put(fs, k->frame); /* after end */
	return 0;
}

static int ksm_visit(struct umn_soft_mm *sm, unsigned long addr, struct ksm *k)
{
	struct rmap r = { NULL, sm, addr };

	k->done = 0;
	visit(&r, k->frame, ksm_one, k);
	return k->done ? 0 : -EAGAIN;
}

static int ksm_candidate(struct umn_soft_mm *sm, unsigned long addr,
			 unsigned long *framep)
{
	unsigned int level;
	int ret, vflags;

	ret = frame_at(sm, addr, framep, &vflags, &level);
	if (ret)
		return ret;
	if (level || (vflags & UMN_SOFT_MAP_SHARED) ||
	    frame_of(sm->frames, *framep)->order)
		ret = -EINVAL;
	else if (atomic_load(&frame_of(sm->frames, *framep)->pins))
		ret = -EBUSY;
	if (ret)
		umn__soft_frame_put(sm->frames, *framep);
	return ret;
}

int umn_soft_ksm_merge(struct umn_soft_mm *sm, unsigned long addr,
		       struct umn_soft_mm *other, unsigned long other_addr)
{
	struct ksm k = { 0 };
	unsigned long a, b;
	int ret;

	if (!sm || !other || sm->frames != other->frames)
		return -EINVAL;
	addr &= ~(PAGE - 1);
	other_addr &= ~(PAGE - 1);
	ret = ksm_candidate(sm, addr, &a);
	if (ret)
		return ret;
	ret = ksm_candidate(other, other_addr, &b);
	if (ret)
		goto out_a;
	ret = 0;
	if (a == b)
		goto out;
	/* Make a the KSM page (a write to it copies from now on), then
	 * write-protect both, so that neither changes, then compare. */
	__atomic_store_n(&frame_of(sm->frames, a)->ksm, true, __ATOMIC_RELEASE);
	k.frame = a;
	ret = ksm_visit(sm, addr, &k);
	if (!ret) {
		k.frame = b;
		ret = ksm_visit(other, other_addr, &k);
	}
	if (!ret && !umn__soft_frame_same(sm->frames, a, b))
		ret = -EAGAIN;
	if (!ret)
		ret = umn__soft_rmap_add(sm->frames, a, other, other_addr);
	if (!ret) {
		k.frame = b;
		k.replace = a;
		ret = ksm_visit(other, other_addr, &k);
		if (ret)
			umn__soft_rmap_del(sm->frames, a, other, other_addr);
	}
	if (!ret)
		umn__soft_stat_op(sm->frames, UMN_SOFT_OP_KSM);
out:
	umn__soft_frame_put(sm->frames, b);
out_a:
	umn__soft_frame_put(sm->frames, a);
	return ret;
}

/* Aging. */

struct age {
	int how;
	int young;
};

static void age_run(struct umn_soft_mm *sm, struct pt *t, unsigned int level,
		    unsigned int first, unsigned int last, unsigned long base,
		    void *ctx)
{
	unsigned long size = LEVEL_SIZE(level), a;
	struct age *g = ctx;
	unsigned int i;
	uint64_t e;
	int sec;

	ptl_lock(t);
	for (i = first; i <= last; i++) {
		e = t->e[i];
		if (e_type(e) != E_LEAF)
			continue;
		a = base + (i - first) * size;
		if (g->how == UMN_SOFT_AGE_CLEAR_FLUSH)
			sec = umn_clear_flush_young(sm->mm, a, a + size);
		else if (g->how == UMN_SOFT_AGE_CLEAR)
			sec = umn_clear_young(sm->mm, a, a + size);
		else
			sec = umn_test_young(sm->mm, a, a + size);
		if (g->how != UMN_SOFT_AGE_TEST)
			e_store(t, i, e & ~E_YOUNG);
		g->young += (e & E_YOUNG) || sec > 0;
	}
	ptl_unlock(t);
}

int umn_soft_age(struct umn_soft_mm *sm, unsigned long addr, unsigned long len,
		 int how)
{
	struct age g = { how, 0 };

	if (!sm || (addr & (PAGE - 1)) || !len || addr >= UMN_SOFT_TASK_SIZE ||
	    len > UMN_SOFT_TASK_SIZE - addr || how < 0 ||
	    how > UMN_SOFT_AGE_TEST)
		return -EINVAL;
	mmap_read_lock(sm);
	umn__soft_walk_range(sm, addr, addr + ((len + PAGE - 1) & ~(PAGE - 1)),
			     age_run, &g);
	mmap_unlock(sm);
	umn__soft_stat_op(sm->frames, UMN_SOFT_OP_AGE);
	return g.young;
}
