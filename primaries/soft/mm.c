// SPDX-License-Identifier: MIT
/*
 * primaries/soft/mm.c - the soft address space: lifetime, VMAs, and the
 * operations that change whole ranges (mmap, munmap, mprotect, mremap,
 * madvise), with the range walker and zap they share.
 *
 * Every change that removes or downgrades translations is one bracket:
 *
 *	umn__soft_bracket_start(range)		umn_invalidate_range_start
 *	for each page-table page in the range:
 *		lock its PTL
 *		change the entries; gather the frames they held
 *		umn_invalidate_range(the entries' span)
 *		unlock
 *	umn__soft_bracket_end(range)		umn_invalidate_range_end (only_end)
 *	put the gathered frames		freed only now
 *
 * A range covers whole huge entries: an operation on part of a 2 MiB
 * entry splits it first (its own CLEAR bracket over the 2 MiB), and
 * mappings of 1 GiB pages only take 1 GiB aligned operations.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <umn-test/breaks.h>

#include "soft.h"

#define PAGE	  UMN_PAGE_SIZE
#define PMD_SIZE  UMN_SOFT_PMD_SIZE
#define PUD_SIZE  UMN_SOFT_PUD_SIZE
#define MMAP_BASE (1UL << 40) /* where mmap looks for room first */

static unsigned long align_up(unsigned long x, unsigned long a)
{
	return (x + a - 1) & ~(a - 1);
}

/* Lifetime. */

static void soft_lock_all(struct umn_mm *mm, void *priv)
{
	struct umn_soft_mm *sm = priv;

	(void)mm;
	mmap_write_lock(sm);
}

static void soft_unlock_all(struct umn_mm *mm, void *priv)
{
	struct umn_soft_mm *sm = priv;

	(void)mm;
	mmap_unlock(sm);
}

static const struct umn_mm_ops soft_mm_ops = {
	.lock_all = soft_lock_all,
	.unlock_all = soft_unlock_all,
};

int umn_soft_mm_create(struct umn_soft_frames *frames, struct umn_soft_mm **smp)
{
	struct umn_soft_mm *sm;
	int ret;

	if (!frames || !smp)
		return -EINVAL;
	sm = umn__calloc(1, sizeof(*sm));
	if (!sm)
		return -ENOMEM;
	sm->pgd = umn__soft_pt_alloc();
	if (!sm->pgd) {
		free(sm);
		return -ENOMEM;
	}
	ret = pthread_rwlock_init(&sm->mmap_lock, NULL) ? -ENOMEM : 0;
	/* Every change of the tables holds the mmap lock, for reading at
	 * least: the write lock excludes them all (mm_take_all_locks). */
	if (!ret) {
		ret = umn_mm_create(&soft_mm_ops, sm, &sm->mm);
		if (ret)
			pthread_rwlock_destroy(&sm->mmap_lock);
	}
	if (ret) {
		umn__soft_pt_free_tree(sm->pgd, PT_LEVELS - 1);
		free(sm);
		return ret;
	}
	sm->frames = frames;
	atomic_init(&sm->refs, 1);
	atomic_fetch_add(&frames->nr_mms, 1);
	*smp = sm;
	return 0;
}

struct umn_mm *umn_soft_mm_umn(struct umn_soft_mm *sm)
{
	return sm->mm;
}

void umn__soft_mm_get(struct umn_soft_mm *sm)
{
	atomic_fetch_add_explicit(&sm->refs, 1, memory_order_relaxed);
}

void umn__soft_mm_put(struct umn_soft_mm *sm)
{
	if (atomic_fetch_sub_explicit(&sm->refs, 1, memory_order_acq_rel) != 1)
		return;
	umn__soft_pt_free_tree(sm->pgd, PT_LEVELS - 1);
	pthread_rwlock_destroy(&sm->mmap_lock);
	umn_mm_put(sm->mm);
	atomic_fetch_sub(&sm->frames->nr_mms, 1);
	free(sm);
}

/* VMAs. */

static struct vma *of_node(struct umn__itree_node *node)
{
	return (struct vma *)node; /* the node is the first member */
}

struct vma *umn__soft_vma_find(struct umn_soft_mm *sm, unsigned long addr)
{
	struct umn__itree_node *node = umn__itree_first(&sm->vmas, addr, addr);

	return node ? of_node(node) : NULL;
}

/* The first VMA that ends after @addr. */
static struct vma *vma_next(struct umn_soft_mm *sm, unsigned long addr)
{
	struct umn__itree_node *node = umn__itree_first(&sm->vmas, addr, ~0UL);

	return node ? of_node(node) : NULL;
}

static void vma_link(struct umn_soft_mm *sm, struct vma *v)
{
	v->node.start = v->start;
	v->node.last = v->end - 1;
	umn__itree_insert(&sm->vmas, &v->node);
}

static void vma_unlink(struct umn_soft_mm *sm, struct vma *v)
{
	umn__itree_remove(&sm->vmas, &v->node);
}

static struct vma *vma_new(unsigned long start, unsigned long end, int prot,
			   int flags)
{
	struct vma *v = umn__calloc(1, sizeof(*v));

	if (v) {
		v->start = start;
		v->end = end;
		v->prot = prot;
		v->flags = flags;
	}
	return v;
}

/* Split @v at @addr (inside it); the upper part is a new VMA. */
static int vma_split(struct umn_soft_mm *sm, struct vma *v, unsigned long addr)
{
	struct vma *upper = vma_new(addr, v->end, v->prot, v->flags);

	if (!upper)
		return -ENOMEM;
	vma_unlink(sm, v);
	v->end = addr;
	vma_link(sm, v);
	vma_link(sm, upper);
	return 0;
}

/* Merge @v with its neighbours when they are alike, as vma_merge. */
static void vma_merge(struct umn_soft_mm *sm, struct vma *v)
{
	struct vma *prev =
		v->start ? umn__soft_vma_find(sm, v->start - 1) : NULL;
	struct vma *next = umn__soft_vma_find(sm, v->end);

	if (next && next->prot == v->prot && next->flags == v->flags) {
		vma_unlink(sm, next);
		vma_unlink(sm, v);
		v->end = next->end;
		vma_link(sm, v);
		free(next);
	}
	if (prev && prev->prot == v->prot && prev->flags == v->flags) {
		vma_unlink(sm, v);
		vma_unlink(sm, prev);
		prev->end = v->end;
		vma_link(sm, prev);
		free(v);
	}
}

/* Make VMA edges at @start and @end (if they fall inside VMAs). */
static int vma_cut(struct umn_soft_mm *sm, unsigned long start,
		   unsigned long end)
{
	struct vma *v = umn__soft_vma_find(sm, start);
	int ret = 0;

	if (v && v->start < start)
		ret = vma_split(sm, v, start);
	v = umn__soft_vma_find(sm, end - 1);
	if (!ret && v && v->end > end)
		ret = vma_split(sm, v, end);
	return ret;
}

static bool range_is_free(struct umn_soft_mm *sm, unsigned long start,
			  unsigned long end)
{
	return !umn__itree_first(&sm->vmas, start, end - 1);
}

static bool range_is_mapped(struct umn_soft_mm *sm, unsigned long start,
			    unsigned long end)
{
	struct vma *v;

	while (start < end) {
		v = umn__soft_vma_find(sm, start);
		if (!v)
			return false;
		start = v->end;
	}
	return true;
}

/* First fit at or after @hint, aligned to @align. */
static int find_room(struct umn_soft_mm *sm, unsigned long hint,
		     unsigned long len, unsigned long align,
		     unsigned long *addrp)
{
	unsigned long a = align_up(hint ? hint : MMAP_BASE, align);
	struct vma *v;

	while (a + len <= UMN_SOFT_TASK_SIZE && a + len > a) {
		v = vma_next(sm, a);
		if (!v || v->start >= a + len) {
			*addrp = a;
			return 0;
		}
		a = align_up(v->end, align);
	}
	return -ENOMEM;
}

/* Brackets. */

void umn__soft_bracket_start(struct umn_soft_mm *sm, struct umn_range *range,
			     unsigned long start, unsigned long end,
			     enum umn_event event)
{
	struct umn_soft_frames *fs = sm->frames;
	int ret;

	umn_range_init(range, sm->mm, start, end, event, UMN_RANGE_BLOCKABLE,
		       NULL);
	ret = umn_invalidate_range_start(range);
	if (ret) /* a valid blockable range cannot be refused */
		abort();
	__atomic_fetch_add(&fs->stats.events[event], 1, __ATOMIC_RELAXED);
	if (end - start >= PMD_SIZE)
		__atomic_fetch_add(&fs->stats.huge_ranges, 1, __ATOMIC_RELAXED);
}

void umn__soft_bracket_end(struct umn_soft_mm *sm, struct umn_range *range)
{
	(void)sm;
	umn_invalidate_range_only_end(range);
}

static void walk_table(struct umn_soft_mm *sm, struct pt *t, unsigned int level,
		       unsigned long tbase, unsigned long start,
		       unsigned long end, run_fn *fn, void *ctx)
{
	unsigned long size = LEVEL_SIZE(level);
	unsigned long lo = start > tbase ? start : tbase;
	unsigned long hi = tbase + size * PT_ENTRIES;
	unsigned int i, first, last;
	uint64_t e;

	if (end < hi)
		hi = end;
	first = (unsigned int)((lo - tbase) / size);
	last = (unsigned int)((hi - 1 - tbase) / size);
	if (level == 0) {
		fn(sm, t, 0, first, last, tbase + first * size, ctx);
		return;
	}
	for (i = first; i <= last; i++) {
		e = e_load(t, i);
		if (e_type(e) == E_TABLE)
			walk_table(sm, e_table(e), level - 1, tbase + i * size,
				   start, end, fn, ctx);
		else if (e_type(e) != E_NONE)
			fn(sm, t, level, i, i, tbase + i * size, ctx);
	}
}

void umn__soft_walk_range(struct umn_soft_mm *sm, unsigned long start,
			  unsigned long end, run_fn *fn, void *ctx)
{
	walk_table(sm, sm->pgd, PT_LEVELS - 1, 0, start, end, fn, ctx);
}

/* Zap. */

struct zap {
	struct gather *g;
	bool early_free; /* UMN_SOFT_BREAK_EARLY_FREE */
};

static void zap_run(struct umn_soft_mm *sm, struct pt *t, unsigned int level,
		    unsigned int first, unsigned int last, unsigned long base,
		    void *ctx)
{
	struct umn_soft_frames *fs = sm->frames;
	unsigned long size = LEVEL_SIZE(level);
	struct zap *z = ctx;
	unsigned int i;
	uint64_t e;

	ptl_lock(t);
	for (i = first; i <= last; i++) {
		e = t->e[i];
		if (e_type(e) == E_NONE)
			continue;
		e_store(t, i, E_NONE);
		if (e_type(e) == E_SWAP) {
			umn__soft_swap_put(fs, e_frame(e));
			continue;
		}
		umn__soft_rmap_del(fs, e_frame(e), sm,
				   base + (i - first) * size);
		if (z->early_free)
			umn__soft_frame_put(fs,
					    e_frame(e)); /* the bug it shows */
		else
			umn__soft_gather_add(z->g, e_frame(e));
	}
	umn_invalidate_range(sm->mm, base, base + (last - first + 1) * size);
	ptl_unlock(t);
}

/* Unmap [start, end) (in VMAs whose huge entries it covers whole). */
static void zap_bracket(struct umn_soft_mm *sm, unsigned long start,
			unsigned long end, enum umn_event event,
			struct gather *g)
{
	struct zap z = { g,
			 sm->frames->cfg.breaks & UMN_SOFT_BREAK_EARLY_FREE };
	struct umn_range range;

	umn__soft_bracket_start(sm, &range, start, end, event);
	gather_bracket(g, sm, start, end);
	umn__soft_walk_range(sm, start, end, zap_run, &z);
	umn__soft_bracket_end(sm, &range);
}

/* Split the 2 MiB entries that [start, end) cuts through. */
static int split_edges(struct umn_soft_mm *sm, unsigned long start,
		       unsigned long end)
{
	int ret = 0;

	if (start & (PMD_SIZE - 1))
		ret = umn__soft_split_huge_at(sm, start);
	if (!ret && (end & (PMD_SIZE - 1)))
		ret = umn__soft_split_huge_at(sm, end);
	return ret;
}

int umn__soft_zap_range(struct umn_soft_mm *sm, unsigned long start,
			unsigned long end, enum umn_event event,
			struct gather *g)
{
	int ret = split_edges(sm, start, end);

	if (!ret)
		zap_bracket(sm, start, end, event, g);
	return ret;
}

/* The 1 GiB mappings in [start, end) must be cut at 1 GiB edges only. */
static bool huge_1g_aligned(struct umn_soft_mm *sm, unsigned long start,
			    unsigned long end)
{
	struct vma *v;
	unsigned long a;

	for (a = start; a < end; a = v->end) {
		v = vma_next(sm, a);
		if (!v || v->start >= end)
			break;
		if ((v->flags & UMN_SOFT_MAP_HUGE_1G) &&
		    (((start > v->start) && (start & (PUD_SIZE - 1))) ||
		     ((end < v->end) && (end & (PUD_SIZE - 1)))))
			return false;
	}
	return true;
}

/* mprotect and madvise: no hole in [start, end) (-ENOMEM, as Linux), and
 * 1 GiB pages cut only at their edges (-EINVAL). */
static int mapped_whole(struct umn_soft_mm *sm, unsigned long start,
			unsigned long end)
{
	if (!range_is_mapped(sm, start, end))
		return -ENOMEM;
	return huge_1g_aligned(sm, start, end) ? 0 : -EINVAL;
}

static bool range_ok(unsigned long addr, unsigned long len)
{
	return !(addr & (PAGE - 1)) && len && addr < UMN_SOFT_TASK_SIZE &&
	       len <= UMN_SOFT_TASK_SIZE - addr;
}

static bool table_empty(const struct pt *t)
{
	for (unsigned int k = 0; k < PT_ENTRIES; k++)
		if (e_type(t->e[k]) != E_NONE)
			return false;
	return true;
}

/* Free the empty tables under the @level entries that [start, end)
 * touches (level 1: PTE tables; level 2: PMD tables). */
static void free_empty_level(struct umn_soft_mm *sm, unsigned long start,
			     unsigned long end, unsigned int level)
{
	unsigned long size = LEVEL_SIZE(level), a = start & ~(size - 1);
	struct pt *t, *child;
	unsigned int i;
	uint64_t e;

	for (; a < end && a + size > a; a += size) {
		t = umn__soft_pt_walk(sm, a, level, false);
		if (!t)
			continue;
		i = LEVEL_INDEX(a, level);
		e = e_load(t, i);
		if (e_type(e) != E_TABLE || !table_empty(child = e_table(e)))
			continue;
		ptl_lock(t);
		e_store(t, i, E_NONE);
		ptl_unlock(t);
		umn__soft_pt_free_tree(child, level - 1);
	}
}

/*
 * After munmap or a move, free the page tables left empty around [start,
 * end), PTE tables then PMD tables, as free_pgtables does, so that huge
 * pages can be mapped there again (a huge entry is never installed over a
 * table).  Under the write lock: no walker can be on them.
 */
static void free_empty_tables(struct umn_soft_mm *sm, unsigned long start,
			      unsigned long end)
{
	mmap_assert_write_locked(sm);
	free_empty_level(sm, start, end, 1);
	free_empty_level(sm, start, end, 2);
}

/* munmap under the write lock: zap, then drop the VMAs. */
static int do_munmap(struct umn_soft_mm *sm, unsigned long start,
		     unsigned long end)
{
	struct gather g = { 0 };
	struct vma *v;
	int ret;

	mmap_assert_write_locked(sm);
	if (!huge_1g_aligned(sm, start, end))
		return -EINVAL;
	if (range_is_free(sm, start, end))
		return 0;
	/* The splits first: they change no translation, so if the VMA cut
	 * then fails, nothing visible changed. */
	ret = split_edges(sm, start, end);
	if (!ret)
		ret = vma_cut(sm, start, end);
	if (!ret)
		ret = umn__soft_zap_range(sm, start, end, UMN_EVENT_UNMAP, &g);
	if (ret)
		return ret;
	while ((v = vma_next(sm, start)) && v->start < end) {
		vma_unlink(sm, v);
		free(v);
	}
	free_empty_tables(sm, start, end);
	umn__soft_gather_flush(sm->frames, &g);
	return 0;
}

int umn_soft_mmap(struct umn_soft_mm *sm, unsigned long addr, unsigned long len,
		  int prot, int flags, unsigned long *addrp)
{
	unsigned long align = PAGE;
	struct vma *v;
	int ret;

	if (!sm || !addrp || !len || len > UMN_SOFT_TASK_SIZE ||
	    (prot & ~(UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE)) ||
	    (flags & ~(UMN_SOFT_MAP_SHARED | UMN_SOFT_MAP_THP |
		       UMN_SOFT_MAP_HUGE_1G | UMN_SOFT_MAP_FIXED)))
		return -EINVAL;
	len = align_up(len, PAGE);
	if (flags & UMN_SOFT_MAP_THP)
		align = PMD_SIZE;
	if (flags & UMN_SOFT_MAP_HUGE_1G) {
		if (!(flags & UMN_SOFT_MAP_SHARED) ||
		    (flags & UMN_SOFT_MAP_THP) || (len & (PUD_SIZE - 1)))
			return -EINVAL;
		align = PUD_SIZE;
	}
	/* A fixed THP mapping may start anywhere: 2 MiB pages go where
	 * aligned blocks fit, as in Linux. */
	if ((flags & UMN_SOFT_MAP_FIXED) &&
	    (!range_ok(addr, len) ||
	     (addr & ((flags & UMN_SOFT_MAP_HUGE_1G ? align : PAGE) - 1))))
		return -EINVAL;
	v = vma_new(0, 0, prot, flags & ~UMN_SOFT_MAP_FIXED);
	if (!v)
		return -ENOMEM;

	mmap_write_lock(sm);
	if (flags & UMN_SOFT_MAP_FIXED) {
		ret = do_munmap(sm, addr, addr + len);
	} else {
		ret = find_room(sm, addr, len, align, &addr);
	}
	if (ret) {
		mmap_unlock(sm);
		free(v);
		return ret;
	}
	v->start = addr;
	v->end = addr + len;
	vma_link(sm, v);
	vma_merge(sm, v);
	mmap_unlock(sm);
	umn__soft_stat_op(sm->frames, UMN_SOFT_OP_MMAP);
	*addrp = addr;
	return 0;
}

int umn_soft_munmap(struct umn_soft_mm *sm, unsigned long addr,
		    unsigned long len)
{
	int ret;

	if (!sm || !range_ok(addr, len))
		return -EINVAL;
	len = align_up(len, PAGE);
	mmap_write_lock(sm);
	ret = do_munmap(sm, addr, addr + len);
	mmap_unlock(sm);
	if (!ret)
		umn__soft_stat_op(sm->frames, UMN_SOFT_OP_MUNMAP);
	return ret;
}

/* mprotect. */

struct protect {
	int prot;
};

/* Only this mapping (and pins) hold the frame: a write needs no copy. */
bool umn__soft_frame_reusable(struct umn_soft_frames *fs, unsigned long frame)
{
	struct frame *f = frame_of(fs, frame);

	/* One mapping, and maybe pins (a pinned page is reused in place, as
	 * Linux does: copying it would cut the pinner off the process). */
	return atomic_load(&f->refs) == 1 + atomic_load(&f->pins) &&
	       !__atomic_load_n(&f->ksm, __ATOMIC_ACQUIRE);
}

static void protect_run(struct umn_soft_mm *sm, struct pt *t,
			unsigned int level, unsigned int first,
			unsigned int last, unsigned long base, void *ctx)
{
	struct protect *p = ctx;
	unsigned long size = LEVEL_SIZE(level), addr;
	struct vma *v = umn__soft_vma_find(sm, base);
	unsigned int i;
	uint64_t e, n;

	ptl_lock(t);
	for (i = first; i <= last; i++) {
		e = t->e[i];
		if (e_type(e) != E_LEAF)
			continue;
		/* One table may hold entries of several VMAs (a shared one
		 * and a private one): each entry by its own. */
		addr = base + (i - first) * size;
		if (!v || addr < v->start || addr >= v->end)
			v = umn__soft_vma_find(sm, addr);
		n = e & ~E_WRITE;
		/* Upgrade only what needs no copy-on-write. */
		if ((p->prot & UMN_SOFT_PROT_WRITE) &&
		    ((v->flags & UMN_SOFT_MAP_SHARED) ||
		     umn__soft_frame_reusable(sm->frames, e_frame(e))))
			n |= E_WRITE;
		e_store(t, i, n);
	}
	umn_invalidate_range(sm->mm, base, base + (last - first + 1) * size);
	ptl_unlock(t);
}

int umn_soft_mprotect(struct umn_soft_mm *sm, unsigned long addr,
		      unsigned long len, int prot)
{
	struct protect p = { prot };
	struct umn_range range;
	unsigned long end;
	struct vma *v;
	int ret;

	if (!sm || !range_ok(addr, len) ||
	    (prot & ~(UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE)))
		return -EINVAL;
	end = addr + align_up(len, PAGE);
	mmap_write_lock(sm);
	ret = mapped_whole(sm, addr, end);
	if (!ret) /* first: see do_munmap */
		ret = split_edges(sm, addr, end);
	if (!ret)
		ret = vma_cut(sm, addr, end);
	if (ret)
		goto out;
	for (v = umn__soft_vma_find(sm, addr); v && v->start < end;
	     v = umn__soft_vma_find(sm, v->end))
		v->prot = prot;
	umn__soft_bracket_start(sm, &range, addr, end,
				UMN_EVENT_PROTECTION_VMA);
	umn__soft_walk_range(sm, addr, end, protect_run, &p);
	umn__soft_bracket_end(sm, &range);
	v = umn__soft_vma_find(sm, addr);
	vma_merge(sm, v);
	v = umn__soft_vma_find(sm, end - 1);
	if (v)
		vma_merge(sm, v);
	umn__soft_stat_op(sm->frames, UMN_SOFT_OP_MPROTECT);
out:
	mmap_unlock(sm);
	return ret;
}

/* madvise(MADV_DONTNEED): the mapping stays, the pages go. */
int umn_soft_madvise_dontneed(struct umn_soft_mm *sm, unsigned long addr,
			      unsigned long len)
{
	struct gather g = { 0 };
	unsigned long end;
	int ret;

	if (!sm || !range_ok(addr, len))
		return -EINVAL;
	end = addr + align_up(len, PAGE);
	/* The write lock, unlike Linux: splitting a huge entry here is a
	 * change of the table's shape, which the soft MMU makes only under
	 * the write lock. */
	mmap_write_lock(sm);
	ret = mapped_whole(sm, addr, end);
	if (!ret)
		ret = umn__soft_zap_range(sm, addr, end, UMN_EVENT_CLEAR, &g);
	if (!ret)
		umn__soft_stat_op(sm->frames, UMN_SOFT_OP_MADVISE);
	mmap_unlock(sm);
	umn__soft_gather_flush(sm->frames, &g);
	return ret;
}

/* mremap. */

struct move {
	struct umn_soft_mm *sm;
	unsigned long delta; /* new - old, modulo 2^64 */
	int error;
};

/* Before the move: every table the new place needs, so that the move
 * itself cannot fail. */
static void move_prepare_run(struct umn_soft_mm *sm, struct pt *t,
			     unsigned int level, unsigned int first,
			     unsigned int last, unsigned long base, void *ctx)
{
	unsigned long size = LEVEL_SIZE(level);
	struct move *m = ctx;
	unsigned int i;

	for (i = first; i <= last; i++)
		if (e_type(e_load(t, i)) != E_NONE &&
		    !umn__soft_pt_walk(sm, base + (i - first) * size + m->delta,
				       level, true))
			m->error = -ENOMEM;
}

static void move_run(struct umn_soft_mm *sm, struct pt *t, unsigned int level,
		     unsigned int first, unsigned int last, unsigned long base,
		     void *ctx)
{
	unsigned long size = LEVEL_SIZE(level), old, new;
	struct move *m = ctx;
	struct pt *nt;
	unsigned int i;
	uint64_t e;

	ptl_lock(t);
	for (i = first; i <= last; i++) {
		e = t->e[i];
		if (e_type(e) == E_NONE)
			continue;
		old = base + (i - first) * size;
		new = old + m->delta;
		nt = umn__soft_pt_walk(sm, new, level,
				       false); /* made by prepare */
		e_store(t, i, E_NONE);
		/* The new place is in no VMA yet: nobody else locks it.  A
		 * huge entry may land on an empty table left there. */
		if (e_type(nt->e[LEVEL_INDEX(new, level)]) == E_TABLE)
			umn__soft_pt_free_tree(
				e_table(nt->e[LEVEL_INDEX(new, level)]),
				level - 1);
		e_store(nt, LEVEL_INDEX(new, level), e);
		if (e_type(e) == E_LEAF)
			umn__soft_rmap_move(sm->frames, e_frame(e), sm, old,
					    new);
	}
	umn_invalidate_range(sm->mm, base, base + (last - first + 1) * size);
	ptl_unlock(t);
}

int umn_soft_mremap(struct umn_soft_mm *sm, unsigned long addr,
		    unsigned long old_len, unsigned long new_len, int flags,
		    unsigned long *new_addrp)
{
	unsigned long old_end, new_addr, align = PAGE;
	struct move m = { sm, 0, 0 };
	struct umn_range range;
	struct vma *v, *nv;
	int ret;

	if (!sm || !new_addrp || !range_ok(addr, old_len) ||
	    !range_ok(addr, new_len) || (flags & ~UMN_SOFT_MREMAP_MAYMOVE))
		return -EINVAL;
	old_len = align_up(old_len, PAGE);
	new_len = align_up(new_len, PAGE);
	old_end = addr + old_len;
	mmap_write_lock(sm);
	v = umn__soft_vma_find(sm, addr);
	ret = -EFAULT;
	if (!v || v->end < old_end)
		goto out;
	ret = -EINVAL;
	if ((v->flags & UMN_SOFT_MAP_HUGE_1G) &&
	    ((addr | old_len | new_len) & (PUD_SIZE - 1)))
		goto out;
	if (new_len <= old_len) { /* shrink */
		ret = new_len == old_len
			      ? 0
			      : do_munmap(sm, addr + new_len, old_end);
		new_addr = addr;
		goto done;
	}
	if (old_end == v->end &&
	    range_is_free(sm, old_end, addr + new_len)) { /* grow in place */
		vma_unlink(sm, v);
		v->end = addr + new_len;
		vma_link(sm, v);
		vma_merge(sm, v);
		new_addr = addr;
		ret = 0;
		goto done;
	}
	ret = -ENOMEM;
	if (!(flags & UMN_SOFT_MREMAP_MAYMOVE))
		goto out;
	/*
	 * Move to a place at the same offset within a huge page, so that
	 * huge entries stay huge; the huge entries the edges cut through are
	 * split first, so that the bracket covers all that moves.
	 */
	if (v->flags & UMN_SOFT_MAP_THP)
		align = PMD_SIZE;
	if (v->flags & UMN_SOFT_MAP_HUGE_1G)
		align = PUD_SIZE;
	ret = find_room(sm, 0, new_len + (addr & (align - 1)), align,
			&new_addr);
	new_addr += addr & (align - 1);
	if (!ret)
		ret = split_edges(sm, addr, old_end);
	if (!ret)
		ret = vma_cut(sm, addr, old_end);
	nv = ret ? NULL
		 : vma_new(new_addr, new_addr + new_len, v->prot, v->flags);
	if (!nv) {
		ret = ret ? ret : -ENOMEM;
		goto out;
	}
	m.delta = new_addr - addr;
	umn__soft_walk_range(sm, addr, old_end, move_prepare_run, &m);
	if (m.error) {
		free(nv);
		ret = m.error;
		goto out;
	}
	umn__soft_bracket_start(sm, &range, addr, old_end, UMN_EVENT_UNMAP);
	umn__soft_walk_range(sm, addr, old_end, move_run, &m);
	umn__soft_bracket_end(sm, &range);
	v = umn__soft_vma_find(sm, addr);
	vma_unlink(sm, v);
	free(v);
	free_empty_tables(sm, addr, old_end);
	vma_link(sm, nv);
	vma_merge(sm, nv);
	ret = 0;
done:
	if (!ret) {
		*new_addrp = new_addr;
		umn__soft_stat_op(sm->frames, UMN_SOFT_OP_MREMAP);
	}
out:
	mmap_unlock(sm);
	return ret;
}

/* Teardown, as exit_mmap: one RELEASE bracket over the whole address
 * space, so that every interval notifier hears it, mapped or not. */
void umn_soft_mm_destroy(struct umn_soft_mm *sm)
{
	struct gather g = { 0 };
	struct zap z = { &g,
			 sm ? sm->frames->cfg.breaks & UMN_SOFT_BREAK_EARLY_FREE
			    : false };
	struct umn_range range;
	struct vma *v;

	if (!sm)
		return;
	umn_mm_release(sm->mm);
	mmap_write_lock(sm);
	umn__soft_bracket_start(sm, &range, 0, UMN_SOFT_TASK_SIZE,
				UMN_EVENT_RELEASE);
	gather_bracket(&g, sm, 0, UMN_SOFT_TASK_SIZE);
	while ((v = vma_next(sm, 0))) {
		umn__soft_walk_range(sm, v->start, v->end, zap_run, &z);
		vma_unlink(sm, v);
		free(v);
	}
	umn__soft_bracket_end(sm, &range);
	sm->dead = true;
	mmap_unlock(sm);
	umn__soft_gather_flush(sm->frames, &g);
	umn__soft_mm_put(sm);
}
