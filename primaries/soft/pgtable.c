// SPDX-License-Identifier: MIT
/*
 * primaries/soft/pgtable.c - the 4-level page table.
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
