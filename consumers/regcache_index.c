// SPDX-License-Identifier: MIT
/*
 * consumers/regcache_index.c - the writer's side of the registration
 * cache's index (regcache_index.h has the layout and the rules).
 */
#include <stdint.h>
#include <stdlib.h>
#include "../core/fail.h"
#include "regcache_index.h"

static size_t round_fan(size_t n)
{
	return (n + FAN - 1) / FAN * FAN;
}

struct index *umn__regidx_alloc(size_t n)
{
	size_t keys = 0, c = n, size;
	struct index *ix;

	for (;;) {
		keys += round_fan(c);
		if (c <= FAN)
			break;
		c = round_fan(c) / FAN;
	}
	if (n > SIZE_MAX / 2 / sizeof(ix->s[0]) ||
	    keys > SIZE_MAX / 4 / sizeof(unsigned long))
		return NULL;
	size = sizeof(*ix) + n * sizeof(ix->s[0]);
	size = (size + CACHELINE - 1) & ~(size_t)(CACHELINE - 1);
	if (umn__fail_here() ||
	    !(ix = aligned_alloc(CACHELINE,
				 size + keys * sizeof(unsigned long))))
		return NULL;
	ix->n = 0;
	ix->nrecent = 0;
	ix->recent_lo = ~0UL;
	ix->recent_hi = 0;
	ix->cap = n;
	ix->key[0] = (unsigned long *)((char *)ix + size);
	return ix;
}

size_t umn__regidx_add_recent(struct index *ix, const struct slot *add)
{
	size_t i = ix->nrecent;

	ix->recent[i] = *add;
	if (add->start < ix->recent_lo)
		__atomic_store_n(&ix->recent_lo, add->start, __ATOMIC_RELAXED);
	if (add->end > ix->recent_hi)
		__atomic_store_n(&ix->recent_hi, add->end, __ATOMIC_RELAXED);
	/* Pairs with the acquire of a lookup's search. */
	__atomic_store_n(&ix->nrecent, i + 1, __ATOMIC_RELEASE);
	return i;
}

/* Build @ix's search levels over its @ix->n slots. */
static void build_levels(struct index *ix)
{
	size_t c = ix->n, i, next;
	unsigned int l = 0;

	for (i = 0; i < round_fan(c ? c : 1); i++) /* one block at least */
		ix->key[0][i] = i < c ? ix->s[i].start : ~0UL;
	while (c > FAN) {
		next = round_fan(c) / FAN;
		ix->key[l + 1] = ix->key[l] + round_fan(c);
		for (i = 0; i < round_fan(next); i++)
			ix->key[l + 1][i] =
				i < next ? ix->key[l][i * FAN] : ~0UL;
		c = next;
		l++;
	}
	ix->levels = l + 1;
}

/* The live slot @sl, or false if it was cleared. */
static bool live(const struct slot *sl, struct slot *out)
{
	*out = *sl;
	out->r = __atomic_load_n(&sl->r, __ATOMIC_RELAXED);
	return out->r;
}

size_t umn__regidx_rebuild(struct index *ix, const struct index *old,
			   const struct slot *add)
{
	struct slot in[RECENT + 1], tmp;
	size_t i, j, n = 0, na = 0, on = old ? old->n : 0;
	unsigned long maxend = 0;

	/* The live recent slots and @add, sorted by start (insertion: a
	 * few), then merged with the sorted ones. */
	if (add)
		in[na++] = *add;
	for (i = 0; old && i < old->nrecent; i++) {
		if (!live(&old->recent[i], &tmp))
			continue;
		for (j = na++; j > 0 && in[j - 1].start > tmp.start; j--)
			in[j] = in[j - 1];
		in[j] = tmp;
	}
	for (i = 0, j = 0; i < on || j < na;) {
		if (j < na && (i == on || in[j].start <= old->s[i].start))
			ix->s[n++] = in[j++];
		else if (live(&old->s[i++], &tmp))
			ix->s[n++] = tmp;
	}
	for (i = 0; i < n; i++) {
		if (ix->s[i].end > maxend)
			maxend = ix->s[i].end;
		ix->s[i].maxend = maxend;
	}
	ix->n = n;
	ix->nrecent = 0;
	ix->recent_lo = ~0UL;
	ix->recent_hi = 0;
	build_levels(ix);
	return n;
}

struct slot *umn__regidx_slot_of(struct index *ix, const struct reg *r,
				 unsigned long start, size_t recent_i)
{
	size_t i;

	/* Added in place to this index, or in the sorted slots, where those
	 * of the same start are together, just before slot_after(). */
	if (recent_i < ix->nrecent &&
	    __atomic_load_n(&ix->recent[recent_i].r, __ATOMIC_RELAXED) == r)
		return &ix->recent[recent_i];
	for (i = regidx_slot_after(ix, start);
	     i-- > 0 && ix->s[i].start == start;)
		if (__atomic_load_n(&ix->s[i].r, __ATOMIC_RELAXED) == r)
			return &ix->s[i];
	for (i = 0;; i++) /* (not reached) */
		if (__atomic_load_n(&ix->recent[i].r, __ATOMIC_RELAXED) == r)
			return &ix->recent[i];
}
