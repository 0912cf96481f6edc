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

/* Zap. */

struct zap {
	struct change c; /* first */
	struct gather *g;
	bool early_free; /* UMN_SOFT_BREAK_EARLY_FREE */
};

static void zap_entry(struct umn_soft_mm *sm, struct pt *t, unsigned int level,
		      unsigned int i, unsigned long addr, struct change *c)
{
	struct umn_soft_frames *fs = sm->frames;
	struct zap *z = (struct zap *)c;
	uint64_t e = t->e[i];

	(void)level;
	e_store(t, i, E_NONE);
	if (e_type(e) == E_SWAP) {
		umn__soft_swap_put(fs, e_frame(e));
		return;
	}
	umn__soft_rmap_del(fs, e_frame(e), sm, addr);
	if (z->early_free)
		umn__soft_frame_put(fs, e_frame(e)); /* the bug it shows */
	else
		umn__soft_gather_add(z->g, e_frame(e));
}

static void zap_init(struct zap *z, struct umn_soft_mm *sm, struct gather *g)
{
	*z = (struct zap){ .c.fn = zap_entry,
			   .g = g,
			   .early_free = sm->frames->cfg.breaks &
					 UMN_SOFT_BREAK_EARLY_FREE };
}

/* Unmap [start, end) (in VMAs whose huge entries it covers whole). */
static void zap_bracket(struct umn_soft_mm *sm, unsigned long start,
			unsigned long end, enum umn_event event,
			struct gather *g)
{
	struct umn_range range;
	struct zap z;

	zap_init(&z, sm, g);
	umn__soft_bracket_start(sm, &range, start, end, event);
	gather_bracket(g, sm, start, end);
	umn__soft_change_range(sm, start, end, &z.c);
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

static bool range_ok(unsigned long addr, unsigned long len)
{
	return !(addr & (PAGE - 1)) && len && addr < UMN_SOFT_TASK_SIZE &&
	       len <= UMN_SOFT_TASK_SIZE - addr;
}

/* munmap under the write lock: zap, then drop the VMAs. */
static int do_munmap(struct umn_soft_mm *sm, unsigned long start,
		     unsigned long end)
{
	struct gather g = { 0 };
	struct vma *v;
	int ret;

	mmap_assert_write_locked(sm);
	if (!umn__soft_huge_1g_aligned(sm, start, end))
		return -EINVAL;
	if (umn__soft_range_is_free(sm, start, end))
		return 0;
	/* The splits first: they change no translation, so if the VMA cut
	 * then fails, nothing visible changed. */
	ret = split_edges(sm, start, end);
	if (!ret)
		ret = umn__soft_vma_cut(sm, start, end);
	if (!ret)
		ret = umn__soft_zap_range(sm, start, end, UMN_EVENT_UNMAP, &g);
	if (ret)
		return ret;
	while ((v = umn__soft_vma_next(sm, start)) && v->start < end) {
		umn__soft_vma_unlink(sm, v);
		free(v);
	}
	umn__soft_free_empty_tables(sm, start, end);
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
	len = round_up(len, PAGE);
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
	v = umn__soft_vma_new(0, 0, prot, flags & ~UMN_SOFT_MAP_FIXED);
	if (!v)
		return -ENOMEM;

	mmap_write_lock(sm);
	if (flags & UMN_SOFT_MAP_FIXED) {
		ret = do_munmap(sm, addr, addr + len);
	} else {
		ret = umn__soft_find_room(sm, addr, len, align, &addr);
	}
	if (ret) {
		mmap_unlock(sm);
		free(v);
		return ret;
	}
	v->start = addr;
	v->end = addr + len;
	umn__soft_vma_link(sm, v);
	umn__soft_vma_merge(sm, v);
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
	len = round_up(len, PAGE);
	mmap_write_lock(sm);
	ret = do_munmap(sm, addr, addr + len);
	mmap_unlock(sm);
	if (!ret)
		umn__soft_stat_op(sm->frames, UMN_SOFT_OP_MUNMAP);
	return ret;
}

/* mprotect. */

struct protect {
	struct change c; /* first */
	int prot;
	struct vma *v; /* of the last entry */
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

static void protect_entry(struct umn_soft_mm *sm, struct pt *t,
			  unsigned int level, unsigned int i,
			  unsigned long addr, struct change *c)
{
	struct protect *p = (struct protect *)c;
	uint64_t e = t->e[i], n;

	(void)level;
	if (e_type(e) != E_LEAF)
		return;
	/* One table may hold entries of several VMAs (a shared one and a
	 * private one): each entry by its own. */
	if (!p->v || addr < p->v->start || addr >= p->v->end)
		p->v = umn__soft_vma_find(sm, addr);
	n = e & ~E_WRITE;
	/* Upgrade only what needs no copy-on-write. */
	if ((p->prot & UMN_SOFT_PROT_WRITE) &&
	    ((p->v->flags & UMN_SOFT_MAP_SHARED) ||
	     umn__soft_frame_reusable(sm->frames, e_frame(e))))
		n |= E_WRITE;
	e_store(t, i, n);
}

int umn_soft_mprotect(struct umn_soft_mm *sm, unsigned long addr,
		      unsigned long len, int prot)
{
	struct protect p = { .c.fn = protect_entry, .prot = prot };
	struct umn_range range;
	unsigned long end;
	struct vma *v;
	int ret;

	if (!sm || !range_ok(addr, len) ||
	    (prot & ~(UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE)))
		return -EINVAL;
	end = addr + round_up(len, PAGE);
	mmap_write_lock(sm);
	ret = umn__soft_mapped_whole(sm, addr, end);
	if (!ret) /* first: see do_munmap */
		ret = split_edges(sm, addr, end);
	if (!ret)
		ret = umn__soft_vma_cut(sm, addr, end);
	if (ret)
		goto out;
	for (v = umn__soft_vma_find(sm, addr); v && v->start < end;
	     v = umn__soft_vma_find(sm, v->end))
		v->prot = prot;
	umn__soft_bracket_start(sm, &range, addr, end,
				UMN_EVENT_PROTECTION_VMA);
	umn__soft_change_range(sm, addr, end, &p.c);
	umn__soft_bracket_end(sm, &range);
	v = umn__soft_vma_find(sm, addr);
	umn__soft_vma_merge(sm, v);
	v = umn__soft_vma_find(sm, end - 1);
	if (v)
		umn__soft_vma_merge(sm, v);
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
	end = addr + round_up(len, PAGE);
	/* The write lock, unlike Linux: splitting a huge entry here is a
	 * change of the table's shape, which the soft MMU makes only under
	 * the write lock. */
	mmap_write_lock(sm);
	ret = umn__soft_mapped_whole(sm, addr, end);
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
	struct change c;     /* first */
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

static void move_entry(struct umn_soft_mm *sm, struct pt *t, unsigned int level,
		       unsigned int i, unsigned long old, struct change *c)
{
	struct move *m = (struct move *)c;
	unsigned long new = old + m->delta;
	struct pt *nt = umn__soft_pt_walk(sm, new, level, false); /* prepared */
	unsigned int ni = LEVEL_INDEX(new, level);
	uint64_t e = t->e[i];

	e_store(t, i, E_NONE);
	/* The new place is in no VMA yet: nobody else locks it.  A huge
	 * entry may land on an empty table left there. */
	if (e_type(nt->e[ni]) == E_TABLE)
		umn__soft_pt_free_tree(e_table(nt->e[ni]), level - 1);
	e_store(nt, ni, e);
	if (e_type(e) == E_LEAF)
		umn__soft_rmap_move(sm->frames, e_frame(e), sm, old, new);
}

/*
 * Where [addr, addr + new_len) of @v moves: to a place at the same offset
 * within a huge page, so that huge entries stay huge.
 */
static int move_place(struct umn_soft_mm *sm, const struct vma *v,
		      unsigned long addr, unsigned long new_len,
		      unsigned long *new_addrp)
{
	unsigned long align = PAGE, offset;
	int ret;

	if (v->flags & UMN_SOFT_MAP_THP)
		align = PMD_SIZE;
	if (v->flags & UMN_SOFT_MAP_HUGE_1G)
		align = PUD_SIZE;
	offset = addr & (align - 1);
	ret = umn__soft_find_room(sm, 0, new_len + offset, align, new_addrp);
	*new_addrp += offset;
	return ret;
}

/* Move the entries of [addr, end) by @m->delta, in one UNMAP bracket:
 * the tables the new place needs are made first (or -ENOMEM). */
static int move_entries(struct umn_soft_mm *sm, unsigned long addr,
			unsigned long end, struct move *m)
{
	struct umn_range range;

	umn__soft_walk_range(sm, addr, end, move_prepare_run, m);
	if (m->error)
		return m->error;
	umn__soft_bracket_start(sm, &range, addr, end, UMN_EVENT_UNMAP);
	umn__soft_change_range(sm, addr, end, &m->c);
	umn__soft_bracket_end(sm, &range);
	return 0;
}

/*
 * Move [addr, old_end), part of @v, to a new VMA of @new_len.  The huge
 * entries the edges cut through are split first, so that the bracket
 * covers all that moves.
 */
static int move_vma(struct umn_soft_mm *sm, struct vma *v, unsigned long addr,
		    unsigned long old_end, unsigned long new_len,
		    unsigned long *new_addrp)
{
	struct move m = { .c.fn = move_entry };
	unsigned long new_addr;
	struct vma *nv;
	int ret;

	ret = move_place(sm, v, addr, new_len, &new_addr);
	if (!ret)
		ret = split_edges(sm, addr, old_end);
	if (!ret)
		ret = umn__soft_vma_cut(sm, addr, old_end);
	if (ret)
		return ret;
	nv = umn__soft_vma_new(new_addr, new_addr + new_len, v->prot, v->flags);
	if (!nv)
		return -ENOMEM;
	m.delta = new_addr - addr;
	ret = move_entries(sm, addr, old_end, &m);
	if (ret) {
		free(nv);
		return ret;
	}
	v = umn__soft_vma_find(sm, addr);
	umn__soft_vma_unlink(sm, v);
	free(v);
	umn__soft_free_empty_tables(sm, addr, old_end);
	umn__soft_vma_link(sm, nv);
	umn__soft_vma_merge(sm, nv);
	*new_addrp = new_addr;
	return 0;
}

/* Grow @v, which ends at @end, in place to @new_end if that is free. */
static bool grow_in_place(struct umn_soft_mm *sm, struct vma *v,
			  unsigned long end, unsigned long new_end)
{
	if (end != v->end || !umn__soft_range_is_free(sm, end, new_end))
		return false;
	umn__soft_vma_unlink(sm, v);
	v->end = new_end;
	umn__soft_vma_link(sm, v);
	umn__soft_vma_merge(sm, v);
	return true;
}

/* mremap under the write lock: shrink, grow in place, or move. */
static int do_mremap(struct umn_soft_mm *sm, unsigned long addr,
		     unsigned long old_len, unsigned long new_len, int flags,
		     unsigned long *new_addrp)
{
	unsigned long old_end = addr + old_len;
	struct vma *v = umn__soft_vma_find(sm, addr);

	if (!v || v->end < old_end)
		return -EFAULT;
	if ((v->flags & UMN_SOFT_MAP_HUGE_1G) &&
	    ((addr | old_len | new_len) & (PUD_SIZE - 1)))
		return -EINVAL;
	*new_addrp = addr;
	if (new_len == old_len)
		return 0;
	if (new_len < old_len)
		return do_munmap(sm, addr + new_len, old_end);
	if (grow_in_place(sm, v, old_end, addr + new_len))
		return 0;
	if (!(flags & UMN_SOFT_MREMAP_MAYMOVE))
		return -ENOMEM;
	return move_vma(sm, v, addr, old_end, new_len, new_addrp);
}

int umn_soft_mremap(struct umn_soft_mm *sm, unsigned long addr,
		    unsigned long old_len, unsigned long new_len, int flags,
		    unsigned long *new_addrp)
{
	unsigned long new_addr;
	int ret;

	if (!sm || !new_addrp || !range_ok(addr, old_len) ||
	    !range_ok(addr, new_len) || (flags & ~UMN_SOFT_MREMAP_MAYMOVE))
		return -EINVAL;
	mmap_write_lock(sm);
	ret = do_mremap(sm, addr, round_up(old_len, PAGE),
			round_up(new_len, PAGE), flags, &new_addr);
	if (!ret)
		umn__soft_stat_op(sm->frames, UMN_SOFT_OP_MREMAP);
	mmap_unlock(sm);
	if (!ret)
		*new_addrp = new_addr;
	return ret;
}

/* Teardown, as exit_mmap: one RELEASE bracket over the whole address
 * space, so that every interval notifier hears it, mapped or not. */
void umn_soft_mm_destroy(struct umn_soft_mm *sm)
{
	struct gather g = { 0 };
	struct umn_range range;
	struct vma *v;
	struct zap z;

	if (!sm)
		return;
	zap_init(&z, sm, &g);
	umn_mm_release(sm->mm);
	mmap_write_lock(sm);
	umn__soft_bracket_start(sm, &range, 0, UMN_SOFT_TASK_SIZE,
				UMN_EVENT_RELEASE);
	gather_bracket(&g, sm, 0, UMN_SOFT_TASK_SIZE);
	while ((v = umn__soft_vma_next(sm, 0))) {
		umn__soft_change_range(sm, v->start, v->end, &z.c);
		umn__soft_vma_unlink(sm, v);
		free(v);
	}
	umn__soft_bracket_end(sm, &range);
	sm->dead = true;
	mmap_unlock(sm);
	umn__soft_gather_flush(sm->frames, &g);
	umn__soft_mm_put(sm);
}
