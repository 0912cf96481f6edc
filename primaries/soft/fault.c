// SPDX-License-Identifier: MIT
/*
 * primaries/soft/fault.c - faults (populate, copy-on-write, swap-in), the
 * lookups secondaries make, fork, and THP split and collapse.
 *
 * A fault holds the mmap lock for reading.  Populating an empty entry and
 * swapping in need no invalidation (nothing was translated there).  A
 * write to a read-only private page that others share copies it, and that
 * replaces a present entry: the one case of a fault that brackets, with
 * invalidate_range under the PTL right after the new entry is set.
 *
 * Changes of the table's shape (split, collapse) hold the write lock; a
 * copy-on-write fault on a huge entry drops the read lock, splits under
 * the write lock, and starts over.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/debug.h"
#include "soft.h"

#define RETRY 1 /* start the fault over */
#define SPLIT 2 /* split the huge entry under the write lock, retry */

static bool vma_writable(const struct vma *v)
{
	return v->prot & UMN_SOFT_PROT_WRITE;
}

/*
 * Map the new @frame (its one reference becomes the entry's) at t->e[i],
 * which maps @base, if the entry still holds @expect; otherwise somebody
 * changed it first: give the frame back and let the fault start over.
 * No invalidation: the entry held no translation.
 */
static int install(struct umn_soft_mm *sm, struct pt *t, unsigned int i,
		   uint64_t expect, unsigned long frame, unsigned long base,
		   bool write)
{
	struct umn_soft_frames *fs = sm->frames;
	bool done = false;
	int ret;

	ret = umn__soft_rmap_add(fs, frame, sm, base);
	if (ret) {
		umn__soft_frame_put(fs, frame);
		return ret;
	}
	ptl_lock(t);
	if (t->e[i] == expect) {
		e_store(t, i, mk_leaf(frame, 0, write));
		done = true;
	}
	ptl_unlock(t);
	if (done)
		return 0;
	umn__soft_rmap_del(fs, frame, sm, base);
	umn__soft_frame_put(fs, frame);
	return RETRY;
}

/* A new frame for an empty entry. */
static int populate(struct umn_soft_mm *sm, struct vma *v, unsigned long addr)
{
	struct umn_soft_frames *fs = sm->frames;
	unsigned int level = 0, order = 0;
	unsigned long base, frame;
	struct pt *t;
	int ret;

	if (v->flags & UMN_SOFT_MAP_HUGE_1G) {
		level = 2;
		order = 18;
	} else if ((v->flags & UMN_SOFT_MAP_THP) &&
		   round_down(addr, PMD_SIZE) >= v->start &&
		   round_down(addr, PMD_SIZE) + PMD_SIZE <= v->end) {
		t = umn__soft_pt_walk(sm, addr, 1, true);
		if (t && e_type(e_load(t, LEVEL_INDEX(addr, 1))) == E_NONE) {
			level = 1;
			order = 9;
		}
	}
	base = round_down(addr, LEVEL_SIZE(level));
	t = umn__soft_pt_walk(sm, addr, level, true);
	if (!t) { /* a huge entry appeared above, or no memory */
		struct pt *lt;
		unsigned int li, ll;

		return umn__soft_pt_find_leaf(sm, addr, &lt, &li, &ll)
			       ? RETRY
			       : -ENOMEM;
	}
	if (level && e_type(e_load(t, LEVEL_INDEX(addr, level))) == E_TABLE) {
		/* A huge entry is never installed over a table; munmap and
		 * mremap free the empty ones.  Refuse rather than retry. */
		umn__report("soft mm: a page table under a %s mapping at %#lx",
			    level == 2 ? "1 GiB" : "2 MiB", addr);
		return -EFAULT;
	}
	ret = umn__soft_frame_alloc(fs, order, &frame);
	if (ret)
		return ret;
	return install(sm, t, LEVEL_INDEX(addr, level), E_NONE, frame, base,
		       vma_writable(v));
}

/* Break copy-on-write of the 4 KiB entry @e at t->e[i]; drops the caller's
 * reference on its frame. */
static int cow(struct umn_soft_mm *sm, unsigned long addr, struct pt *t,
	       unsigned int i, uint64_t e)
{
	struct umn_soft_frames *fs = sm->frames;
	unsigned long page = round_down(addr, PAGE), old = e_frame(e), new;
	struct umn_range range;
	unsigned char *src;
	int ret;

	ret = umn__soft_frame_alloc(fs, 0, &new);
	if (ret)
		goto out;
	src = umn__soft_page(fs, old, e_sub(e), false);
	/* Read-only everywhere: nobody writes it meanwhile. */
	ret = src ? umn__soft_copy_page(fs, new, 0, src) : 0;
	if (!ret)
		ret = umn__soft_rmap_add(fs, new, sm, page);
	if (ret) {
		umn__soft_frame_put(fs, new);
		goto out;
	}
	umn__soft_bracket_start(sm, &range, page, page + PAGE, UMN_EVENT_CLEAR);
	ptl_lock(t);
	if (t->e[i] == e) {
		e_store(t, i, mk_leaf(new, 0, true) | E_DIRTY);
		umn_invalidate_range(sm->mm, page, page + PAGE);
		umn__soft_rmap_del(fs, old, sm, page);
		new = 0;
	}
	ptl_unlock(t);
	umn__soft_bracket_end(sm, &range);
	if (new) { /* the entry changed under us: start over */
		umn__soft_rmap_del(fs, new, sm, page);
		umn__soft_frame_put(fs, new);
		ret = RETRY;
		goto out;
	}
	umn__soft_frame_put(fs, old); /* the entry's, after end */
	umn__soft_stat_op(fs, UMN_SOFT_OP_COW);
	ret = 0;
out:
	umn__soft_frame_put(fs, old); /* ours */
	return ret;
}

/* Bring a reclaimed page back: a new frame with the slot's data. */
static int swap_fault(struct umn_soft_mm *sm, struct vma *v, unsigned long addr,
		      struct pt *t, unsigned int i, unsigned int level,
		      uint64_t e)
{
	struct umn_soft_frames *fs = sm->frames;
	unsigned long base = round_down(addr, LEVEL_SIZE(level)), frame;
	int ret;

	/* Our own reference on the slot: once the PTL is dropped, a zap
	 * may drop the entry's, and the slot could be reused. */
	ret = umn__soft_swap_in(fs, e_frame(e), 9 * level, e_sub(e), &frame);
	umn__soft_swap_put(fs, e_frame(e));
	if (ret)
		return ret;
	ret = install(sm, t, i, e, frame, base, vma_writable(v));
	if (!ret)
		umn__soft_swap_put(fs,
				   e_frame(e)); /* the entry's, now replaced */
	return ret;
}

static int do_fault(struct umn_soft_mm *sm, unsigned long addr, bool write)
{
	struct umn_soft_frames *fs = sm->frames;
	unsigned int i, level;
	struct vma *v;
	struct pt *t;
	uint64_t e;

	v = umn__soft_vma_find(sm, addr);
	if (!v)
		return -EFAULT;
	if (!(v->prot & UMN_SOFT_PROT_READ) || (write && !vma_writable(v)))
		return -EACCES;
	if (!umn__soft_pt_find_leaf(sm, addr, &t, &i, &level))
		return populate(sm, v, addr);
	ptl_lock(t);
	e = t->e[i];
	if (e_type(e) == E_SWAP) {
		umn__soft_swap_get(fs, e_frame(e)); /* dropped by swap_fault */
		ptl_unlock(t);
		return swap_fault(sm, v, addr, t, i, level, e);
	}
	if (e_type(e) != E_LEAF) {
		ptl_unlock(t);
		return RETRY;
	}
	if (write && !(e & E_WRITE) &&
	    ((v->flags & UMN_SOFT_MAP_SHARED) ||
	     umn__soft_frame_reusable(fs, e_frame(e))))
		e |= E_WRITE; /* an upgrade: nothing to invalidate */
	if (!write || (e & E_WRITE)) {
		e_store(t, i, e | E_YOUNG | (write ? E_DIRTY : 0));
		ptl_unlock(t);
		return 0;
	}
	if (level > 0) {
		ptl_unlock(t);
		return SPLIT;
	}
	/* Our own reference: once the PTL is dropped, reclaim, migration or
	 * another copy may take the entry's, and free the frame we copy. */
	umn__soft_frame_get(fs, e_frame(e));
	ptl_unlock(t);
	return cow(sm, addr, t, i, e);
}

int umn_soft_fault(struct umn_soft_mm *sm, unsigned long addr, bool write)
{
	int ret;

	if (!sm || addr >= UMN_SOFT_TASK_SIZE)
		return -EFAULT;
	umn__soft_stat_op(sm->frames, UMN_SOFT_OP_FAULT);
	for (;;) {
		mmap_read_lock(sm);
		ret = do_fault(sm, addr, write);
		mmap_unlock(sm);
		if (ret == SPLIT) {
			mmap_write_lock(sm);
			ret = umn__soft_split_huge_at(sm, addr);
			mmap_unlock(sm);
			if (ret)
				return ret;
			continue;
		}
		if (ret != RETRY)
			return ret;
	}
}

/* Lookups for secondaries. */

static int lookup(struct umn_soft_mm *sm, unsigned long addr, bool write,
		  bool pin,
		  void (*fill)(void *arg, const struct umn_soft_translation *t),
		  void *arg, struct umn_soft_translation *out)
{
	struct umn_soft_frames *fs = sm->frames;
	struct umn_soft_translation tr;
	unsigned int i, level;
	struct vma *v;
	struct pt *t;
	uint64_t e;
	int ret = -EFAULT;

	mmap_read_lock(sm);
	v = umn__soft_vma_find(sm, addr);
	if (!v || !umn__soft_pt_find_leaf(sm, addr, &t, &i, &level))
		goto out;
	ret = -EACCES;
	if (!(v->prot & UMN_SOFT_PROT_READ) || (write && !vma_writable(v)))
		goto out;
	ptl_lock(t);
	e = t->e[i];
	if (e_type(e) != E_LEAF) {
		ret = -EFAULT;
	} else if (write && !(e & E_WRITE)) {
		ret = -EACCES;
	} else {
		tr.frame = e_frame(e);
		tr.gen = umn_soft_frame_gen(fs, tr.frame);
		tr.size = LEVEL_SIZE(level);
		tr.base = round_down(addr, tr.size);
		tr.subpage = e_sub(e);
		tr.writable = e & E_WRITE;
		e_store(t, i, e | E_YOUNG | (write ? E_DIRTY : 0));
		if (pin) {
			umn__soft_frame_get(fs, tr.frame);
			atomic_fetch_add(&frame_of(fs, tr.frame)->pins, 1);
		}
		if (fill)
			fill(arg, &tr);
		if (out)
			*out = tr;
		ret = 0;
	}
	ptl_unlock(t);
out:
	mmap_unlock(sm);
	return ret;
}

int umn_soft_lookup(struct umn_soft_mm *sm, unsigned long addr, bool write,
		    void (*fill)(void *arg,
				 const struct umn_soft_translation *t),
		    void *arg, struct umn_soft_translation *t)
{
	if (!sm || addr >= UMN_SOFT_TASK_SIZE)
		return -EFAULT;
	return lookup(sm, addr, write, false, fill, arg, t);
}

int umn_soft_pin(struct umn_soft_mm *sm, unsigned long addr, bool write,
		 struct umn_soft_translation *t)
{
	int ret;

	if (!sm || addr >= UMN_SOFT_TASK_SIZE)
		return -EFAULT;
	for (;;) {
		ret = lookup(sm, addr, write, true, NULL, NULL, t);
		if (ret != -EFAULT && ret != -EACCES)
			return ret;
		ret = umn_soft_fault(sm, addr, write);
		if (ret)
			return ret;
	}
}

/*
 * The CPU's own access: the copy happens under the entry's page-table
 * lock, so that it is ordered with every change of the entry (a copy made
 * by migration, collapse or copy-on-write cannot miss it).
 */
struct access {
	struct umn_soft_frames *frames;
	unsigned long addr;
	void *buf;
	unsigned long len;
	bool write;
	int error; /* the write found no memory for the page's data */
};

static void access_fill(void *arg, const struct umn_soft_translation *t)
{
	struct access *a = arg;
	unsigned long off = a->addr - t->base;
	unsigned long sub = (t->size == PAGE ? t->subpage : 0) + off / PAGE;

	if (a->write)
		a->error = umn_soft_frame_write(a->frames, t->frame, sub,
						off % PAGE, a->buf, a->len);
	else
		umn_soft_frame_read(a->frames, t->frame, sub, off % PAGE,
				    a->buf, a->len);
}

static int access_page(struct umn_soft_mm *sm, unsigned long addr, void *buf,
		       unsigned long len, bool write)
{
	struct access a = { sm ? sm->frames : NULL, addr, buf, len, write, 0 };
	int ret;

	if (!sm || !buf || addr >= UMN_SOFT_TASK_SIZE ||
	    (addr & (PAGE - 1)) + len > PAGE)
		return -EINVAL;
	for (;;) {
		ret = lookup(sm, addr, write, false, access_fill, &a, NULL);
		if (ret != -EFAULT && ret != -EACCES)
			return ret ? ret : a.error;
		ret = umn_soft_fault(sm, addr, write);
		if (ret)
			return ret;
	}
}

int umn_soft_read(struct umn_soft_mm *sm, unsigned long addr, void *buf,
		  unsigned long len)
{
	return access_page(sm, addr, buf, len, false);
}

int umn_soft_write(struct umn_soft_mm *sm, unsigned long addr, const void *buf,
		   unsigned long len)
{
	return access_page(sm, addr, (void *)buf, len, true);
}

/* Fork. */

struct fork_ctx {
	struct change c; /* first */
	struct umn_soft_mm *child;
	bool private;
	int error;
};

/*
 * A pinned page is copied for the child now, as Linux's
 * page_needs_cow_for_dma: sharing it would leave the pinner writing to the
 * child's page.  A PTE gets a 4 KiB copy of its own piece only.  *@ep, the
 * parent's entry, becomes the child's; 0 or -ENOMEM.
 */
static int fork_copy_pinned(struct umn_soft_mm *sm, struct umn_soft_mm *child,
			    unsigned long addr, unsigned int level,
			    uint64_t *ep)
{
	struct umn_soft_frames *fs = sm->frames;
	uint64_t e = *ep;
	struct frame *src = frame_of(fs, e_frame(e));
	unsigned int order = level ? src->order : 0;
	unsigned char *from;
	unsigned long copy;
	int ret;

	if (umn__soft_frame_alloc(fs, order, &copy))
		return -ENOMEM;
	if (level) {
		ret = umn__soft_frame_copy(fs, copy, e_frame(e));
	} else {
		from = umn__soft_page(fs, e_frame(e), e_sub(e), false);
		ret = from ? umn__soft_copy_page(fs, copy, 0, from) : 0;
	}
	if (ret || umn__soft_rmap_add(fs, copy, child, addr)) {
		umn__soft_frame_put(fs, copy);
		return -ENOMEM;
	}
	*ep = mk_leaf(copy, 0, e & E_WRITE) | (e & (E_YOUNG | E_DIRTY));
	return 0;
}

/* The child maps the parent's frame too; a private one read-only in both
 * (the parent's entry @i of @t changes here).  0 or -ENOMEM. */
static int fork_share(struct umn_soft_mm *sm, struct fork_ctx *f, struct pt *t,
		      unsigned int i, unsigned long addr, uint64_t *ep)
{
	struct umn_soft_frames *fs = sm->frames;

	if (f->private) {
		*ep &= ~E_WRITE;
		e_store(t, i, *ep);
	}
	if (umn__soft_rmap_add(fs, e_frame(*ep), f->child, addr))
		return -ENOMEM;
	umn__soft_frame_get(fs, e_frame(*ep));
	return 0;
}

static void fork_entry(struct umn_soft_mm *sm, struct pt *t, unsigned int level,
		       unsigned int i, unsigned long addr, struct change *c)
{
	struct umn_soft_frames *fs = sm->frames;
	struct fork_ctx *f = (struct fork_ctx *)c;
	struct pt *ct = umn__soft_pt_walk(f->child, addr, level, true);
	uint64_t e = t->e[i];
	int ret = 0;

	if (!ct) {
		f->error = -ENOMEM;
		return;
	}
	if (e_type(e) == E_SWAP)
		umn__soft_swap_get(fs, e_frame(e));
	else if (f->private && atomic_load(&frame_of(fs, e_frame(e))->pins))
		ret = fork_copy_pinned(sm, f->child, addr, level, &e);
	else
		ret = fork_share(sm, f, t, i, addr, &e);
	if (ret)
		f->error = ret;
	else
		e_store(ct, LEVEL_INDEX(addr, level), e);
}

int umn_soft_fork(struct umn_soft_mm *sm, struct umn_soft_mm **childp)
{
	struct fork_ctx f = { .c.fn = fork_entry };
	struct umn_range range;
	struct umn__itree_node *node;
	struct vma *v, *cv;
	int ret;

	if (!sm || !childp)
		return -EINVAL;
	ret = umn_soft_mm_create(sm->frames, &f.child);
	if (ret)
		return ret;
	mmap_write_lock(sm);
	/* The child's too: its mappings are in the reverse map already. */
	mmap_write_lock(f.child);
	for (node = umn__itree_first(&sm->vmas, 0, ~0UL); node && !f.error;
	     node = umn__itree_next(node, 0, ~0UL)) {
		v = (struct vma *)node;
		cv = umn__soft_vma_new(v->start, v->end, v->prot, v->flags);
		if (!cv) {
			f.error = -ENOMEM;
			break;
		}
		umn__soft_vma_link(f.child, cv);
		f.private = !(v->flags & UMN_SOFT_MAP_SHARED);
		/* A shared mapping changes nothing the parent translates. */
		f.c.keep_tlb = !f.private;
		if (f.private)
			umn__soft_bracket_start(sm, &range, v->start, v->end,
						UMN_EVENT_PROTECTION_PAGE);
		umn__soft_change_range(sm, v->start, v->end, &f.c);
		if (f.private)
			umn__soft_bracket_end(sm, &range);
	}
	mmap_unlock(f.child);
	mmap_unlock(sm);
	if (f.error) {
		umn_soft_mm_destroy(f.child);
		return f.error;
	}
	umn__soft_stat_op(sm->frames, UMN_SOFT_OP_FORK);
	*childp = f.child;
	return 0;
}

/* THP split and collapse, under the mmap lock held for writing. */

/* A huge swap entry becomes 512 swap entries: nothing is translated, so
 * no bracket. */
static void split_swap_entry(struct umn_soft_frames *fs, struct pt *pmd,
			     unsigned int i, uint64_t e, struct pt *pte)
{
	unsigned int k;

	for (k = 0; k < PT_ENTRIES; k++) {
		pte->e[k] = E_SWAP |
			    (e & ~(E_TYPE | (E_SUB_MASK << E_SUB_SHIFT))) |
			    ((uint64_t)k << E_SUB_SHIFT);
		if (k)
			umn__soft_swap_get(fs, e_frame(e));
	}
	ptl_lock(pmd);
	e_store(pmd, i, (uint64_t)(uintptr_t)pte | E_TABLE);
	ptl_unlock(pmd);
}

/*
 * The reverse map of the 511 PTEs after the first (which keeps the huge
 * entry's), each with its reference; 0, or -ENOMEM with none added.  Added
 * from the top down, so that the list runs in address order and a zap in
 * address order finds each entry at its head.
 */
static int split_rmap_add(struct umn_soft_mm *sm, unsigned long frame,
			  unsigned long base)
{
	struct umn_soft_frames *fs = sm->frames;
	unsigned int k;

	for (k = PT_ENTRIES - 1; k > 0; k--) {
		if (umn__soft_rmap_add(fs, frame, sm, base + k * PAGE)) {
			while (++k < PT_ENTRIES) {
				umn__soft_rmap_del(fs, frame, sm,
						   base + k * PAGE);
				umn__soft_frame_put(fs, frame);
			}
			return -ENOMEM;
		}
		umn__soft_frame_get(fs, frame);
	}
	return 0;
}

int umn__soft_split_huge_at(struct umn_soft_mm *sm, unsigned long addr)
{
	unsigned long base = round_down(addr, PMD_SIZE), frame;
	struct pt *pmd, *pte;
	struct umn_range range;
	unsigned int i, k;
	uint64_t e;

	mmap_assert_write_locked(sm);
	pmd = umn__soft_pt_walk(sm, addr, 1, false);
	if (!pmd)
		return 0;
	i = LEVEL_INDEX(addr, 1);
	e = e_load(pmd, i);
	if (e_type(e) != E_LEAF && e_type(e) != E_SWAP)
		return 0;
	pte = umn__soft_pt_alloc();
	if (!pte)
		return -ENOMEM;
	if (e_type(e) == E_SWAP) {
		split_swap_entry(sm->frames, pmd, i, e, pte);
		return 0;
	}
	frame = e_frame(e);
	if (split_rmap_add(sm, frame, base)) {
		umn__soft_pt_free_tree(pte, 0);
		return -ENOMEM;
	}
	for (k = 0; k < PT_ENTRIES; k++)
		pte->e[k] = mk_leaf(frame, k, e & E_WRITE) |
			    (e & (E_YOUNG | E_DIRTY));
	umn__soft_bracket_start(sm, &range, base, base + PMD_SIZE,
				UMN_EVENT_CLEAR);
	ptl_lock(pmd);
	e_store(pmd, i, (uint64_t)(uintptr_t)pte | E_TABLE);
	umn_invalidate_range(sm->mm, base, base + PMD_SIZE);
	ptl_unlock(pmd);
	umn__soft_bracket_end(sm, &range);
	umn__soft_stat_op(sm->frames, UMN_SOFT_OP_SPLIT);
	return 0;
}

int umn_soft_thp_split(struct umn_soft_mm *sm, unsigned long addr)
{
	struct pt *pmd;
	int ret = -EINVAL;

	if (!sm || addr >= UMN_SOFT_TASK_SIZE)
		return -EINVAL;
	mmap_write_lock(sm);
	pmd = umn__soft_pt_walk(sm, addr, 1, false);
	if (pmd && e_type(e_load(pmd, LEVEL_INDEX(addr, 1))) == E_LEAF)
		ret = umn__soft_split_huge_at(sm, addr);
	mmap_unlock(sm);
	return ret;
}

/*
 * What collapse replaces: the PTE table under the PMD entry of @base, in a
 * private THP VMA that holds the whole 2 MiB, whose 512 entries are all
 * present (*@write: all writable).  0, or -EINVAL.
 */
static int collapse_target(struct umn_soft_mm *sm, unsigned long base,
			   struct pt **pmdp, struct pt **ptep, bool *write)
{
	struct vma *v = umn__soft_vma_find(sm, base);
	struct pt *pmd, *pte;
	unsigned int i, k;
	uint64_t e;

	if (!v || !(v->flags & UMN_SOFT_MAP_THP) ||
	    (v->flags & UMN_SOFT_MAP_SHARED) || base < v->start ||
	    base + PMD_SIZE > v->end)
		return -EINVAL;
	pmd = umn__soft_pt_walk(sm, base, 1, false);
	i = LEVEL_INDEX(base, 1);
	if (!pmd || e_type(e_load(pmd, i)) != E_TABLE)
		return -EINVAL;
	pte = e_table(e_load(pmd, i));
	*write = true;
	for (k = 0; k < PT_ENTRIES; k++) {
		e = e_load(pte, k);
		if (e_type(e) != E_LEAF)
			return -EINVAL;
		*write = *write && (e & E_WRITE);
	}
	*pmdp = pmd;
	*ptep = pte;
	return 0;
}

/* A pinned frame may be written by its pinner: no copy is safe.  (Pins go
 * through the PTL, held here: none can start now.) */
static bool collapse_pinned(struct umn_soft_frames *fs, struct pt *pte)
{
	unsigned int k;

	ptl_assert_held(pte);
	for (k = 0; k < PT_ENTRIES; k++)
		if (atomic_load(&frame_of(fs, e_frame(pte->e[k]))->pins))
			return true;
	return false;
}

/* The 512 pages of @pte into @frame; 0 or -ENOMEM. */
static int collapse_copy(struct umn_soft_frames *fs, struct pt *pte,
			 unsigned long frame)
{
	unsigned char *src;
	unsigned int k;
	uint64_t e;
	int ret = 0;

	for (k = 0; k < PT_ENTRIES && !ret; k++) {
		e = pte->e[k];
		src = umn__soft_page(fs, e_frame(e), e_sub(e), false);
		ret = src ? umn__soft_copy_page(fs, frame, k, src) : 0;
	}
	return ret;
}

/*
 * Under the PTLs of @pmd and @pte, inside the bracket: the PMD entry of
 * @base goes (invalidate_range), the pages are copied into @frame, and the
 * entry maps @frame whole; the old frames go to @g.  -EBUSY (a page is
 * pinned) or -ENOMEM (the PTE table back as it was) changes nothing.
 */
static int collapse_replace(struct umn_soft_mm *sm, struct pt *pmd,
			    struct pt *pte, unsigned long base,
			    unsigned long frame, bool write, struct gather *g)
{
	struct umn_soft_frames *fs = sm->frames;
	unsigned int i = LEVEL_INDEX(base, 1), k;
	uint64_t e;

	if (collapse_pinned(fs, pte))
		return -EBUSY;
	e_store(pmd, i, E_NONE);
	umn_invalidate_range(sm->mm, base, base + PMD_SIZE);
	/* Copy only now: no CPU nor device translation reaches the old
	 * frames any more, so no write can be lost. */
	if (collapse_copy(fs, pte, frame)) {
		e_store(pmd, i, E_TABLE | (uint64_t)(uintptr_t)pte);
		return -ENOMEM;
	}
	gather_bracket(g, sm, base, base + PMD_SIZE);
	for (k = 0; k < PT_ENTRIES; k++) {
		e = pte->e[k];
		umn__soft_rmap_del(fs, e_frame(e), sm, base + k * PAGE);
		umn__soft_gather_add(g, e_frame(e));
	}
	e_store(pmd, i, mk_leaf(frame, 0, write));
	return 0;
}

/* Collapse, in one CLEAR bracket over the 2 MiB; the new frame, mapped in
 * the reverse map, is the caller's to drop on failure. */
static int collapse_bracket(struct umn_soft_mm *sm, struct pt *pmd,
			    struct pt *pte, unsigned long base,
			    unsigned long frame, bool write, struct gather *g)
{
	struct umn_range range;
	int ret;

	umn__soft_bracket_start(sm, &range, base, base + PMD_SIZE,
				UMN_EVENT_CLEAR);
	ptl_lock(pmd);
	ptl_lock(pte);
	ret = collapse_replace(sm, pmd, pte, base, frame, write, g);
	ptl_unlock(pte);
	ptl_unlock(pmd);
	umn__soft_bracket_end(sm, &range);
	return ret;
}

int umn_soft_thp_collapse(struct umn_soft_mm *sm, unsigned long addr)
{
	unsigned long base = round_down(addr, PMD_SIZE), frame;
	struct umn_soft_frames *fs;
	struct gather g = { 0 };
	struct pt *pmd, *pte;
	bool write;
	int ret;

	if (!sm || addr >= UMN_SOFT_TASK_SIZE)
		return -EINVAL;
	fs = sm->frames;
	mmap_write_lock(sm);
	ret = collapse_target(sm, base, &pmd, &pte, &write);
	if (!ret)
		ret = umn__soft_frame_alloc(fs, 9, &frame);
	if (ret)
		goto out;
	ret = umn__soft_rmap_add(fs, frame, sm, base);
	if (!ret) {
		ret = collapse_bracket(sm, pmd, pte, base, frame, write, &g);
		if (ret)
			umn__soft_rmap_del(fs, frame, sm, base);
	}
	if (ret) {
		umn__soft_frame_put(fs, frame);
		goto out;
	}
	umn__soft_pt_free_tree(pte, 0); /* no walker: we hold the write lock */
	umn__soft_stat_op(fs, UMN_SOFT_OP_COLLAPSE);
out:
	mmap_unlock(sm);
	umn__soft_gather_flush(fs, &g);
	return ret;
}
