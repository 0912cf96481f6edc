// SPDX-License-Identifier: MIT
/*
 * primaries/soft/vma.c - the VMAs of a soft address space: an interval tree
 * of mappings, each with its protection and flags, under the mmap lock
 * (read to look, write to change).  Splitting and merging as Linux's
 * split_vma and vma_merge, and the checks and searches that mmap, munmap,
 * mprotect, madvise and mremap make on them.
 */
#include <errno.h>
#include <stdlib.h>

#include "soft.h"

#define MMAP_BASE (1UL << 40) /* where mmap looks for room first */

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
struct vma *umn__soft_vma_next(struct umn_soft_mm *sm, unsigned long addr)
{
	struct umn__itree_node *node = umn__itree_first(&sm->vmas, addr, ~0UL);

	return node ? of_node(node) : NULL;
}

void umn__soft_vma_link(struct umn_soft_mm *sm, struct vma *v)
{
	v->node.start = v->start;
	v->node.last = v->end - 1;
	umn__itree_insert(&sm->vmas, &v->node);
}

void umn__soft_vma_unlink(struct umn_soft_mm *sm, struct vma *v)
{
	umn__itree_remove(&sm->vmas, &v->node);
}

struct vma *umn__soft_vma_new(unsigned long start, unsigned long end, int prot,
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
	struct vma *upper = umn__soft_vma_new(addr, v->end, v->prot, v->flags);

	if (!upper)
		return -ENOMEM;
	umn__soft_vma_unlink(sm, v);
	v->end = addr;
	umn__soft_vma_link(sm, v);
	umn__soft_vma_link(sm, upper);
	return 0;
}

/* Merge @v with its neighbours when they are alike, as vma_merge. */
void umn__soft_vma_merge(struct umn_soft_mm *sm, struct vma *v)
{
	struct vma *prev =
		v->start ? umn__soft_vma_find(sm, v->start - 1) : NULL;
	struct vma *next = umn__soft_vma_find(sm, v->end);

	if (next && next->prot == v->prot && next->flags == v->flags) {
		umn__soft_vma_unlink(sm, next);
		umn__soft_vma_unlink(sm, v);
		v->end = next->end;
		umn__soft_vma_link(sm, v);
		free(next);
	}
	if (prev && prev->prot == v->prot && prev->flags == v->flags) {
		umn__soft_vma_unlink(sm, v);
		umn__soft_vma_unlink(sm, prev);
		prev->end = v->end;
		umn__soft_vma_link(sm, prev);
		free(v);
	}
}

/* Make VMA edges at @start and @end (if they fall inside VMAs). */
int umn__soft_vma_cut(struct umn_soft_mm *sm, unsigned long start,
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

bool umn__soft_range_is_free(struct umn_soft_mm *sm, unsigned long start,
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
int umn__soft_find_room(struct umn_soft_mm *sm, unsigned long hint,
			unsigned long len, unsigned long align,
			unsigned long *addrp)
{
	unsigned long a = round_up(hint ? hint : MMAP_BASE, align);
	struct vma *v;

	while (a + len <= UMN_SOFT_TASK_SIZE && a + len > a) {
		v = umn__soft_vma_next(sm, a);
		if (!v || v->start >= a + len) {
			*addrp = a;
			return 0;
		}
		a = round_up(v->end, align);
	}
	return -ENOMEM;
}

/* The 1 GiB mappings in [start, end) must be cut at 1 GiB edges only. */
bool umn__soft_huge_1g_aligned(struct umn_soft_mm *sm, unsigned long start,
			       unsigned long end)
{
	struct vma *v;
	unsigned long a;

	for (a = start; a < end; a = v->end) {
		v = umn__soft_vma_next(sm, a);
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
int umn__soft_mapped_whole(struct umn_soft_mm *sm, unsigned long start,
			   unsigned long end)
{
	if (!range_is_mapped(sm, start, end))
		return -ENOMEM;
	return umn__soft_huge_1g_aligned(sm, start, end) ? 0 : -EINVAL;
}
