// SPDX-License-Identifier: MIT
/*
 * primaries/soft/pgtable.c - the 4-level page table: its tables, the walk
 * of a range run by run, the change of entries under their locks, and the
 * freeing of tables left empty.
 *
 * Tables are allocated on the way down under the parent table's lock
 * (recheck, then install), so walkers that hold the mmap lock for reading
 * may race to populate the same slot.  Tables are freed only with the
 * mmap lock held for writing (see soft.h).
 */
#include <stdlib.h>

#include "soft.h"

struct pt *umn__soft_pt_alloc(void)
{
	struct pt *t = umn__calloc(1, sizeof(*t));

	if (t && pthread_mutex_init(&t->ptl, NULL)) {
		free(t);
		return NULL;
	}
	return t;
}

void umn__soft_pt_free_tree(struct pt *t, unsigned int level)
{
	unsigned int i;
	uint64_t e;

	if (level > 0) {
		for (i = 0; i < PT_ENTRIES; i++) {
			e = t->e[i];
			if (e_type(e) == E_TABLE)
				umn__soft_pt_free_tree(e_table(e), level - 1);
		}
	}
	pthread_mutex_destroy(&t->ptl);
	free(t);
}

struct pt *umn__soft_pt_walk(struct umn_soft_mm *sm, unsigned long addr,
			     unsigned int level, bool alloc)
{
	struct pt *t = sm->pgd, *child;
	unsigned int l, i;
	uint64_t e;

	for (l = PT_LEVELS - 1; l > level; l--) {
		i = LEVEL_INDEX(addr, l);
		e = e_load(t, i);
		if (e_type(e) == E_NONE && alloc) {
			child = umn__soft_pt_alloc();
			if (!child)
				return NULL;
			ptl_lock(t);
			e = t->e[i];
			if (e_type(e) == E_NONE) {
				e = (uint64_t)(uintptr_t)child | E_TABLE;
				e_store(t, i, e);
				child = NULL;
			}
			ptl_unlock(t);
			if (child)
				umn__soft_pt_free_tree(child, l - 1);
		}
		if (e_type(e) != E_TABLE)
			return NULL;
		t = e_table(e);
	}
	return t;
}

bool umn__soft_pt_find_leaf(struct umn_soft_mm *sm, unsigned long addr,
			    struct pt **tp, unsigned int *ip,
			    unsigned int *levelp)
{
	struct pt *t = sm->pgd;
	unsigned int l, i;
	uint64_t e;

	for (l = PT_LEVELS - 1;; l--) {
		i = LEVEL_INDEX(addr, l);
		e = e_load(t, i);
		if (e_type(e) == E_LEAF || e_type(e) == E_SWAP) {
			*tp = t;
			*ip = i;
			*levelp = l;
			return true;
		}
		if (e_type(e) != E_TABLE || l == 0)
			return false;
		t = e_table(e);
	}
}

/* Walks. */

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

static void change_run(struct umn_soft_mm *sm, struct pt *t, unsigned int level,
		       unsigned int first, unsigned int last,
		       unsigned long base, void *ctx)
{
	unsigned long size = LEVEL_SIZE(level), end;
	struct change *c = ctx;
	unsigned int i;

	ptl_lock(t);
	for (i = first; i <= last; i++)
		if (e_type(t->e[i]) != E_NONE)
			c->fn(sm, t, level, i, base + (i - first) * size, c);
	/* A huge entry may reach past a (deliberately) short range. */
	end = base + (last - first + 1) * size;
	if (!c->keep_tlb)
		umn_invalidate_range(sm->mm, base > c->start ? base : c->start,
				     end < c->end ? end : c->end);
	ptl_unlock(t);
}

void umn__soft_change_range(struct umn_soft_mm *sm, unsigned long start,
			    unsigned long end, struct change *c)
{
	c->start = start;
	c->end = end;
	umn__soft_walk_range(sm, start, end, change_run, c);
}

/* Freeing empty tables. */

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
void umn__soft_free_empty_tables(struct umn_soft_mm *sm, unsigned long start,
				 unsigned long end)
{
	mmap_assert_write_locked(sm);
	free_empty_level(sm, start, end, 1);
	free_empty_level(sm, start, end, 2);
}
