// SPDX-License-Identifier: MIT
/*
 * consumers/regcache_index.c - the writer's side of the registration
 * cache's index (regcache_index.h has the layout and the rules).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../core/fail.h"
#include "regcache_index.h"

#define RUN_MIN 16 /* old slots a run, on average, worth a search */

static size_t round_fan(size_t n)
{
	return (n + FAN - 1) / FAN * FAN;
}

struct index *umn__regidx_alloc(size_t n)
{
	size_t keys = 0, c = n ? n : 1, size; /* one block at least */
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
	ix->cap = n;
	ix->key[0] = (unsigned long *)((char *)ix + size);
	return umn__regidx_reset(ix);
}

static void build_levels(struct index *ix);

/* No recent slot, before it is published again. */
static void recent_clear(struct index *ix)
{
	ix->nrecent = 0;
	ix->recent_lo = ~0UL;
	ix->recent_hi = 0;
	memset(ix->recent_granules, 0, sizeof(ix->recent_granules));
}

struct index *umn__regidx_reset(struct index *ix)
{
	ix->n = 0;
	ix->ncleared = 0;
	recent_clear(ix);
	build_levels(ix); /* searchable, empty */
	return ix;
}

size_t umn__regidx_add_recent(struct index *ix, const struct slot *add)
{
	unsigned long g = add->start >> RECENT_GRANULE_SHIFT,
		      last = (add->end - 1) >> RECENT_GRANULE_SHIFT;
	unsigned long *w = ix->recent_granules;
	size_t i = ix->nrecent;
	unsigned int bit;

	ix->recent[i] = *add;
	if (add->start < ix->recent_lo)
		__atomic_store_n(&ix->recent_lo, add->start, __ATOMIC_RELAXED);
	if (add->end > ix->recent_hi)
		__atomic_store_n(&ix->recent_hi, add->end, __ATOMIC_RELAXED);
	/* Its granules in the filter; a wide one, every bit. */
	if (last - g >= RECENT_GRANULES_MAX)
		for (bit = 0; bit < RECENT_FILTER_BITS / 64; bit++)
			__atomic_store_n(&w[bit], ~0UL, __ATOMIC_RELAXED);
	else
		for (; g <= last; g++) {
			bit = regidx_granule_bit(g << RECENT_GRANULE_SHIFT);
			__atomic_store_n(&w[bit / 64],
					 w[bit / 64] | 1UL << bit % 64,
					 __ATOMIC_RELAXED);
		}
	/* Pairs with the acquire of a lookup's search. */
	__atomic_store_n(&ix->nrecent, i + 1, __ATOMIC_RELEASE);
	return i;
}

/* Build @ix's upper search levels over its key[0], which holds the
 * starts of its @ix->n slots. */
static void build_levels(struct index *ix)
{
	size_t c = ix->n, i, next;
	unsigned int l = 0;

	for (i = c; i < round_fan(c ? c : 1); i++) /* one block at least */
		ix->key[0][i] = ~0UL;
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

/* The first sorted slot of @ix whose start is >= @s: after them all when
 * @s is beyond the last (a cache that grows upwards), else searched. */
static size_t slot_from(const struct index *ix, unsigned long s)
{
	if (!ix->n || ix->key[0][ix->n - 1] < s)
		return ix->n;
	return s ? regidx_slot_after(ix, s - 1) : 0;
}

/*
 * Append to @ix, after its @n slots, the live ones of @old's [i, p),
 * where @m is the greatest end added before them.  Returns the new count.
 * Each maxend comes out exact, as a rebuild from scratch would make it:
 * a cleared slot's end must not stay in the maxend of those after it (a
 * search for a range below it would scan back that far for ever).
 */
static size_t copy_run(struct index *ix, size_t n, const struct index *old,
		       size_t i, size_t p, unsigned long m)
{
	unsigned long maxend = n ? ix->s[n - 1].maxend : 0;
	struct slot sl;
	size_t k;

	if (!old->ncleared) {
		/* Nothing cleared: the slots and their keys at once, and the
		 * old maxend, exact over the old slots, raised to the added
		 * ones' @m (it never decreases: stop at the first >= m). */
		memcpy(&ix->s[n], &old->s[i], (p - i) * sizeof(ix->s[0]));
		memcpy(&ix->key[0][n], &old->key[0][i],
		       (p - i) * sizeof(ix->key[0][0]));
		for (k = n; k < n + p - i && ix->s[k].maxend < m; k++)
			ix->s[k].maxend = m;
		return n + p - i;
	}
	for (; i < p; i++) {
		if (!live(&old->s[i], &sl))
			continue;
		if (sl.end > maxend)
			maxend = sl.end;
		sl.maxend = maxend;
		ix->key[0][n] = old->key[0][i];
		ix->s[n++] = sl;
	}
	return n;
}

static size_t merge_done(struct index *ix, size_t n)
{
	ix->n = n;
	ix->ncleared = 0;
	recent_clear(ix);
	build_levels(ix);
	return n;
}

/* The start of @in[@j]: in @in_key if not NULL, else in the slot. */
static unsigned long in_start(const struct slot *in,
			      const unsigned long *in_key, size_t j)
{
	return in_key ? in_key[j] : in[j].start;
}

/* merge(), slot by slot. */
static size_t merge_slots(struct index *ix, const struct index *old,
			  const struct slot *in, const unsigned long *in_key,
			  size_t na)
{
	size_t i = 0, j = 0, n = 0;
	unsigned long maxend = 0, start;
	struct slot sl;

	while (i < old->n || j < na) {
		start = j < na ? in_start(in, in_key, j) : ~0UL;
		if (i < old->n && old->key[0][i] < start) {
			start = old->key[0][i];
			if (!live(&old->s[i++], &sl))
				continue;
		} else {
			sl = in[j++];
		}
		if (sl.end > maxend)
			maxend = sl.end;
		sl.maxend = maxend;
		ix->key[0][n] = start;
		ix->s[n++] = sl;
	}
	return merge_done(ix, n);
}

/*
 * Fill @ix with the live sorted slots of @old (may be NULL) and the
 * @na slots of @in, live and sorted by start (their starts in @in_key
 * if not NULL, else in each slot's start): a run of old slots before
 * each one of @in (an equal start goes first), copied whole.  Builds
 * the search levels; returns the number of slots.
 */
static size_t merge(struct index *ix, const struct index *old,
		    const struct slot *in, const unsigned long *in_key,
		    size_t na)
{
	size_t i, j, n = 0, on = old ? old->n : 0, p, among;
	unsigned long m = 0, start, last = on ? old->key[0][on - 1] : 0;

	/* Those of @in that go in among the old slots, not after them all:
	 * each one a search and a run.  Many, and the runs are short (under
	 * RUN_MIN old slots on average): a plain merge, slot by slot, costs
	 * less. */
	for (among = 0; among < na && in_start(in, in_key, among) <= last;
	     among++)
		;
	if (on && among * RUN_MIN >= on)
		return merge_slots(ix, old, in, in_key, na);
	for (i = 0, j = 0; j <= na; j++) {
		start = j == na ? 0 : in_start(in, in_key, j);
		p = j == na || !old ? on : slot_from(old, start);
		if (p > i) {
			n = copy_run(ix, n, old, i, p, m);
			i = p;
		}
		if (j == na)
			break;
		ix->key[0][n] = start;
		ix->s[n] = in[j];
		ix->s[n].maxend = n && ix->s[n - 1].maxend > in[j].end
					  ? ix->s[n - 1].maxend
					  : in[j].end;
		n++;
		if (in[j].end > m)
			m = in[j].end;
	}
	return merge_done(ix, n);
}

size_t umn__regidx_rebuild(struct index *ix, const struct index *old,
			   const struct slot *add)
{
	struct slot in[RECENT + 1], tmp;
	size_t i, j, na = 0;

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
	return merge(ix, old, in, NULL, na);
}

size_t umn__regidx_merge(struct index *ix, const struct index *settled,
			 const struct index *young)
{
	return merge(ix, settled, young->s, young->key[0], young->n);
}

bool umn__regidx_clear(struct index *ix, const struct reg *r,
		       unsigned long start, size_t recent_i)
{
	size_t i;

	if (!ix)
		return false;
	/* Added in place to this index, or in the sorted slots, where those
	 * of the same start are together, just before slot_after().  A
	 * lookup that still loads r finds it invalidated. */
	if (recent_i < ix->nrecent &&
	    __atomic_load_n(&ix->recent[recent_i].r, __ATOMIC_RELAXED) == r) {
		__atomic_store_n(&ix->recent[recent_i].r, NULL,
				 __ATOMIC_RELEASE);
		return true;
	}
	for (i = regidx_slot_after(ix, start);
	     i-- > 0 && ix->key[0][i] == start;)
		if (__atomic_load_n(&ix->s[i].r, __ATOMIC_RELAXED) == r) {
			__atomic_store_n(&ix->s[i].r, NULL, __ATOMIC_RELEASE);
			ix->ncleared++;
			return true;
		}
	return false;
}

size_t umn__reghints_size(size_t n)
{
	size_t nb = 16;

	while (nb * 4 < n && nb < SIZE_MAX / 4 / sizeof(struct hint[HINT_WAYS]))
		nb *= 2;
	return nb;
}

struct hints *umn__reghints_alloc(size_t nbuckets)
{
	size_t size = sizeof(struct hints) +
		      nbuckets * sizeof(struct hint[HINT_WAYS]);
	unsigned int bits = 0;
	struct hints *hs;

	if (umn__fail_here() || !(hs = aligned_alloc(CACHELINE, size)))
		return NULL;
	memset(hs, 0, size);
	while ((1UL << bits) < nbuckets)
		bits++;
	hs->shift = 64 - bits;
	hs->nbuckets = nbuckets;
	return hs;
}

void umn__reghints_set(struct hints *hs, unsigned long start, struct reg *r)
{
	struct hint *b = reghints_bucket(hs, start);
	unsigned int k;

	/* A free way; in a full bucket the first way's hint goes, the
	 * others move up one and the new one goes last (ways fill in
	 * order, so the first is about the oldest). */
	for (k = 0;
	     k < HINT_WAYS - 1 && __atomic_load_n(&b[k].r, __ATOMIC_RELAXED);
	     k++)
		;
	if (__atomic_load_n(&b[k].r, __ATOMIC_RELAXED)) {
		for (k = 0; k < HINT_WAYS - 1; k++) {
			__atomic_store_n(&b[k].r, NULL, __ATOMIC_RELEASE);
			__atomic_store_n(&b[k].start, b[k + 1].start,
					 __ATOMIC_RELAXED);
			__atomic_store_n(&b[k].r, b[k + 1].r, __ATOMIC_RELEASE);
		}
		__atomic_store_n(&b[k].r, NULL, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&b[k].start, start, __ATOMIC_RELAXED);
	/* Pairs with the acquire of a lookup's probe: r's fields and the
	 * start come before. */
	__atomic_store_n(&b[k].r, r, __ATOMIC_RELEASE);
}

void umn__reghints_clear(struct hints *hs, unsigned long start,
			 const struct reg *r)
{
	struct hint *b = reghints_bucket(hs, start);

	for (unsigned int k = 0; k < HINT_WAYS; k++)
		if (__atomic_load_n(&b[k].r, __ATOMIC_RELAXED) == r)
			__atomic_store_n(&b[k].r, NULL, __ATOMIC_RELEASE);
}

void umn__reghints_move(struct hints *to, const struct hints *from)
{
	for (size_t i = 0; i < from->nbuckets; i++)
		for (unsigned int k = 0; k < HINT_WAYS; k++)
			if (from->b[i][k].r)
				umn__reghints_set(to, from->b[i][k].start,
						  from->b[i][k].r);
}
