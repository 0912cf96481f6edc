/* SPDX-License-Identifier: MIT */
/*
 * consumers/regcache_index.h - the registration cache's index: which
 * registrations cover a range, searched without a lock (regcache.c).
 * Internal; nothing here is installed.
 *
 * Slots { end, maxend, r } sorted by start (their keys), maxend the largest end
 * of this slot and all before it, so "a registration covering [s, e)" is
 * a search for the last start <= s and a scan back while maxend >= e
 * (short unless one registration spans many others).  The search counts
 * keys <= s in blocks of FAN on a few levels (a small static B-tree of
 * the starts: 3 levels for 4096 slots) rather than halving, whose every
 * step waits for the load before.
 *
 * Up to RECENT registrations are added in place, unsorted, after the
 * sorted slots (the slot, then the count, with a release store), and
 * scanned, newest first, when the sorted ones have no match, the range
 * lies within their span (so a registration beyond every recent one, as
 * mmap's top-down addresses are, scans none) and a filter of the
 * granules they touch has the range's first (so a miss among them, as
 * buffers allocated in no order are, mostly scans none either); the
 * next one rebuilds: the cache takes an index outside its lock (the
 * spare, the one the rebuild before replaced, or a new one), merges into
 * it the live slots of the old one and its own (the old slots in runs,
 * copied whole between the few added, when none was cleared; slot by slot
 * when the added go in among them by the dozen), and publishes it.  A
 * removal clears its slot in place (r := NULL, a release store); the next
 * rebuild compacts.
 *
 * The cache keeps two: the young index, which takes the recent slots, and
 * the settled one, sorted slots only.  A rebuild copies the young one;
 * once it grows past young_max() (about sqrt(2 * RECENT * n) slots for n
 * cached) the rebuild merges both into a new settled index instead, and
 * the young one starts empty.  With one index every RECENT registrations
 * copied all n slots; the two copy about sqrt(n / RECENT) slots a
 * registration.  (What RECENT, the spare and the tiers trade, measured,
 * is in docs/PERFORMANCE.md.)
 *
 * Who may do what: every index function but regidx_slot_after() and the
 * reads of published slots is the writer's, under the cache's lock; an
 * index, once published, changes only in its recent slots, its count of
 * them and its slots' r, each with a release store.  The cache retires a
 * replaced index after a grace period.
 */
#ifndef UMN_CONSUMERS_REGCACHE_INDEX_H
#define UMN_CONSUMERS_REGCACHE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <umn/mm.h>

#define CACHELINE 64

struct reg; /* regcache.c's registration */

/* Memory that a lookup may still be reading: freed after a grace period. */
struct retire {
	struct retire *next;
	void *mem; /* what to free */
};

/* One slot of the index; all but r are immutable once published.  A
 * sorted slot's start is its key (key[0]), so its place holds maxend. */
struct slot {
	unsigned long end; /* the registration's [start, end) */
	union {
		unsigned long start;  /* recent slots (and a rebuild's input) */
		unsigned long maxend; /* sorted slots: max end of this slot
					 and all before (cleared ones too,
					 until a rebuild) */
	};
	struct reg *r; /* NULL once taken out; atomic */
};

/*
 * The search levels of an index: key[0] holds each slot's start, padded
 * with ~0UL to whole blocks of FAN keys; key[l + 1] holds the first key
 * of each block of key[l], padded the same way; the top level is one
 * block.  A search counts, in one block per level, the keys <= s: FAN
 * independent compares instead of a chain of dependent ones.
 */
#define FAN	   16 /* keys per block: two cache lines */
#define MAX_LEVELS 16 /* FAN^16 slots */

#define RECENT 64 /* slots added in place before the next rebuild */
/* The recent slots' filter: RECENT_FILTER_BITS bits over granules of
 * 2^RECENT_GRANULE_SHIFT bytes; a slot over more than RECENT_GRANULES_MAX
 * of them sets every bit. */
#define RECENT_FILTER_BITS   512
#define RECENT_GRANULE_SHIFT 14
#define RECENT_GRANULES_MAX  16
_Static_assert(RECENT <= 64, "find() takes the recent slots as a 64-bit mask");

struct index {
	size_t n, cap;	     /* sorted slots used, allocated */
	bool settled;	     /* of the settled tier (else the young) */
	size_t ncleared;     /* sorted slots cleared; the writer's */
	unsigned int levels; /* of key[] */
	unsigned long *key[MAX_LEVELS];
	size_t nrecent; /* recent[] published: written under the lock with
			   a release store, after the slot */
	unsigned long recent_lo, recent_hi; /* the least start and the
			   greatest end of the recent slots (only ever
			   wider), written before the count: a range
			   outside [lo, hi) is covered by none */
	/* The granules the recent slots touch, hashed: bits only ever set,
	 * before the count.  No recent slot covers a range whose first
	 * granule's bit is clear. */
	unsigned long recent_granules[RECENT_FILTER_BITS / 64];
	struct slot recent[RECENT]; /* unsorted; maxend unused */
	struct retire retire;	    /* on the cache's retired list, once
				       replaced */
	struct slot s[];	    /* then the keys, from a cache line */
};

/* The bit of @ix->recent_granules for the granule of @addr. */
static inline __attribute__((always_inline)) unsigned int
regidx_granule_bit(unsigned long addr)
{
	return (unsigned int)(((addr >> RECENT_GRANULE_SHIFT) *
			       0x9e3779b97f4a7c15UL) >>
			      (64 - 9));
}
_Static_assert(RECENT_FILTER_BITS == 1 << 9, "regidx_granule_bit()");

/* May a recent slot of @ix (its count read, acquire) cover @s? */
static inline __attribute__((always_inline)) bool
regidx_recent_may_cover(const struct index *ix, unsigned long s)
{
	unsigned int bit = regidx_granule_bit(s);

	return __atomic_load_n(&ix->recent_granules[bit / 64],
			       __ATOMIC_RELAXED) >>
		       (bit % 64) &
	       1;
}

/* The first slot of @ix whose start is > @s (@s < ~0UL). */
static inline __attribute__((always_inline)) size_t
regidx_slot_after(const struct index *ix, unsigned long s)
{
	const unsigned long *k;
	unsigned int l = ix->levels;
	size_t b = 0, c;

	while (l--) {
		k = ix->key[l] + b * FAN;
		/* Four counts: four short chains of carries, not one long
		 * (the empty asm keeps the compiler from merging them). */
		size_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
#pragma GCC unroll 4
		for (unsigned int j = 0; j < FAN; j += 4) {
			c0 += k[j] <= s;
			c1 += k[j + 1] <= s;
			c2 += k[j + 2] <= s;
			c3 += k[j + 3] <= s;
			__asm__("" : "+r"(c0), "+r"(c1), "+r"(c2), "+r"(c3));
		}
		c = (c0 + c1) + (c2 + c3);
		if (!l)
			return b * FAN + c;
		if (!c) /* (only at the top) every start is > s */
			return 0;
		b = b * FAN + c - 1; /* the last block that starts <= s */
	}
	return 0;
}

/*
 * The hints: where a lookup looks first.  Registrations by the page they
 * start at, in buckets of HINT_WAYS on a cache line each, so that a
 * lookup of a range that starts where a registration does (a buffer used
 * again) loads one bucket and the registration, not the search's levels
 * and the slot.  Any other lookup, and one whose hint does not cover its
 * range, searches.  A hint may be lost (a full bucket takes the place of
 * its oldest), never wrong for long: a lookup checks the registration it
 * names against its range, as the search does.
 *
 * Who may do what: the writer, under the cache's lock, sets a
 * registration's hint when it publishes it and clears it when it clears
 * its slot, so a registration that a lookup reads here is retired (after
 * a grace period) no earlier than it is from the index.  A table is
 * replaced, and the old one retired, only when the cache outgrows it or
 * shrinks far below it.
 */
#define HINT_WAYS 4

struct hint {
	unsigned long start; /* the registration's start; atomic */
	struct reg *r;	     /* NULL: free; atomic */
};

struct hints {
	struct retire retire; /* on the cache's retired list, once replaced */
	unsigned int shift;   /* 64 - log2(nbuckets) */
	size_t nbuckets;      /* a power of two */
	_Alignas(CACHELINE) struct hint b[][HINT_WAYS];
};

/* The bucket of the registrations that start at @start. */
static inline __attribute__((always_inline)) struct hint *
reghints_bucket(struct hints *hs, unsigned long start)
{
	/* Fibonacci hashing of the page: consecutive and evenly spaced
	 * buffers fall in distinct buckets. */
	return hs->b[((start >> UMN_PAGE_SHIFT) * 0x9e3779b97f4a7c15UL) >>
		     hs->shift];
}

/* Hints in @nbuckets buckets (a power of two), all free, or NULL.  May
 * sleep. */
struct hints *umn__reghints_alloc(size_t nbuckets);

/* The bucket count for @n registrations: at most as many as the ways (a
 * bucket overflows now and then; with twice the buckets the misses that
 * fill the cache took more page faults than the lost hints cost). */
size_t umn__reghints_size(size_t n);

/* The writer's: @r, which starts at @start, is published; it is not.
 * Then every hint of @from into @to, not yet published. */
void umn__reghints_set(struct hints *hs, unsigned long start, struct reg *r);
void umn__reghints_clear(struct hints *hs, unsigned long start,
			 const struct reg *r);
void umn__reghints_move(struct hints *to, const struct hints *from);

/* An index with room for @n sorted slots, or NULL.  May sleep. */
struct index *umn__regidx_alloc(size_t n);

/* @ix, replaced and past its grace period, empty again for a rebuild
 * (and searchable, empty). */
struct index *umn__regidx_reset(struct index *ix);

/* Add @add in place to @ix as its next recent slot (there is room):
 * returns which.  The writer's. */
size_t umn__regidx_add_recent(struct index *ix, const struct slot *add);

/* Fill @ix, not yet published, with the live slots of @old (may be NULL)
 * and @add (if not NULL), sorted, and build its search levels; @ix has
 * room for them.  Returns the number of slots. */
size_t umn__regidx_rebuild(struct index *ix, const struct index *old,
			   const struct slot *add);

/* The same with the live sorted slots of @settled (may be NULL) and
 * every slot of @young, a rebuilt index without recent slots. */
size_t umn__regidx_merge(struct index *ix, const struct index *settled,
			 const struct index *young);

/* Clear the slot of @ix (may be NULL) that holds @r, which starts at
 * @start and went in as recent slot @recent_i if it was added in place
 * to @ix: false if @ix has none.  The writer's. */
bool umn__regidx_clear(struct index *ix, const struct reg *r,
		       unsigned long start, size_t recent_i);

#endif
