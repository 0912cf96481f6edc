// SPDX-License-Identifier: MIT
/*
 * primaries/soft/check.c - the soft MMU's validator: walks the VMAs, the
 * page table and the reverse map, and checks they agree.  For tests (the
 * failure sweep, the fuzzer); O(mapped entries x mappings per frame).
 *
 *   every VMA:	  page aligned, non-empty, its tree node [start, end - 1],
 *		  no overlap with the next;
 *   every leaf:  inside one VMA, its frame live (refs > pins >= 0) with
 *		  the order its level needs (a 4 KiB entry: any order, its
 *		  subpage inside the frame; 2 MiB: order 9, 1 GiB: order 18);
 *   every swap entry: its slot referenced;
 *   every reverse-map entry of this mm: a leaf of its frame at its address,
 *		  and as many of them per frame as leaves (so, with the
 *		  above, one per leaf).
 */
#include <stdlib.h>

#include "../../core/debug.h"
#include "../../core/primary.h"
#include "soft.h"

struct walk_check {
	struct umn_soft_mm *sm;
	unsigned int *leaves; /* per frame, this mm's leaves of it */
	bool ok;
};

static bool fail(struct walk_check *w, const char *what, unsigned long addr)
{
	umn__report("soft mm %p: %s at %#lx", (void *)w->sm, what, addr);
	w->ok = false;
	return false;
}

static struct vma *vma_at(struct umn_soft_mm *sm, unsigned long addr)
{
	struct umn__itree_node *n = umn__itree_first(&sm->vmas, addr, addr);

	return n ? (struct vma *)n : NULL;
}

/* The leaf mapping @addr, its level, or 0 if none. */
static uint64_t leaf_at(struct umn_soft_mm *sm, unsigned long addr, int *level)
{
	struct pt *t = sm->pgd;
	uint64_t e;

	for (int l = PT_LEVELS - 1; l >= 0; l--) {
		e = e_load(t, LEVEL_INDEX(addr, l));
		if (e_type(e) == E_TABLE && l > 0) {
			t = e_table(e);
			continue;
		}
		*level = l;
		return e_type(e) == E_LEAF ? e : 0;
	}
	return 0;
}

static bool check_leaf(struct walk_check *w, unsigned long addr, int level,
		       uint64_t e)
{
	struct umn_soft_frames *fs = w->sm->frames;
	unsigned long frame = e_frame(e), size = LEVEL_SIZE(level);
	struct vma *v = vma_at(w->sm, addr);
	struct frame *f;

	if (!v || addr + size > v->end)
		return fail(w, "entry outside its VMA", addr);
	if (!frame || frame >= fs->cfg.max_frames)
		return fail(w, "entry to no frame", addr);
	f = &fs->frame[frame];
	if (atomic_load(&f->refs) <= atomic_load(&f->pins) ||
	    atomic_load(&f->pins) < 0)
		return fail(w, "entry to a frame with no mapping reference",
			    addr);
	if ((level == 1 && f->order != 9) || (level == 2 && f->order != 18) ||
	    (level == 0 && e_sub(e) >= 1UL << f->order) || (level && e_sub(e)))
		return fail(w, "entry of the wrong size for its frame", addr);
	w->leaves[frame]++;
	return true;
}

static void walk(struct walk_check *w, struct pt *t, int level,
		 unsigned long base)
{
	for (unsigned int i = 0; i < PT_ENTRIES; i++) {
		unsigned long addr = base + i * LEVEL_SIZE(level);
		uint64_t e = e_load(t, i);

		switch (e_type(e)) {
		case E_TABLE:
			if (!level)
				fail(w, "table entry at the PTE level", addr);
			else
				walk(w, e_table(e), level - 1, addr);
			break;
		case E_LEAF:
			check_leaf(w, addr, level, e);
			break;
		case E_SWAP:
			if (e_frame(e) >= w->sm->frames->nr_swap ||
			    w->sm->frames->swap[e_frame(e)].refs <= 0)
				fail(w, "swap entry to a free slot", addr);
			break;
		}
	}
}

static void check_vmas(struct walk_check *w)
{
	struct umn__itree_node *n;
	unsigned long prev_end = 0;

	if (!umn__itree_is_valid(&w->sm->vmas))
		fail(w, "VMA tree broken", 0);
	for (n = umn__itree_first(&w->sm->vmas, 0, ~0UL); n;
	     n = umn__itree_next(n, 0, ~0UL)) {
		struct vma *v = (struct vma *)n;

		if (v->start >= v->end || (v->start | v->end) % UMN_PAGE_SIZE ||
		    n->start != v->start || n->last != v->end - 1 ||
		    v->start < prev_end)
			fail(w, "bad VMA", v->start);
		prev_end = v->end;
	}
}

/* Every reverse-map entry of this mm names a leaf of its frame. */
static void check_rmap(struct walk_check *w)
{
	struct umn_soft_frames *fs = w->sm->frames;

	for (unsigned long frame = 1; frame < fs->next_unused; frame++) {
		if (atomic_load(&fs->frame[frame].refs) <= 0) {
			if (fs->frame[frame].rmap)
				fail(w, "free frame with a reverse map", frame);
			continue;
		}
		unsigned int n = 0;

		for (struct rmap *r = fs->frame[frame].rmap; r; r = r->next) {
			int level;
			uint64_t e;

			if (r->sm != w->sm)
				continue;
			n++;
			e = leaf_at(w->sm, r->addr, &level);
			if (!e || e_frame(e) != frame)
				fail(w, "reverse map to no such entry",
				     r->addr);
		}
		if (n != w->leaves[frame])
			fail(w, "entries and reverse maps of a frame differ",
			     frame);
	}
}

bool umn__soft_is_valid(struct umn_soft_mm *sm)
{
	struct walk_check w = { sm, NULL, true };

	/* Not umn__calloc: the validator passes no failure point. */
	w.leaves = calloc(sm->frames->cfg.max_frames, sizeof(*w.leaves));
	if (!w.leaves)
		return false;
	mmap_read_lock(sm);
	check_vmas(&w);
	walk(&w, sm->pgd, PT_LEVELS - 1, 0);
	check_rmap(&w);
	mmap_unlock(sm);
	free(w.leaves);
	return w.ok && umn__intervals_are_valid(sm->mm) &&
	       umn__chain_is_valid(sm->mm);
}
