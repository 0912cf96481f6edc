/* SPDX-License-Identifier: MIT */
/*
 * primaries/soft/soft.h - the soft MMU's private structures.  Not installed.
 *
 * Lock order (outermost first):
 *
 *	mm->mmap_lock (rwlock)			VMAs; page tables exist
 *	  page-table locks, upper level first	the entries of one table
 *	    frames->rmap_lock[]			a frame's reverse map
 *	      frames->lock			the free list and the budget
 *
 * Page tables are freed only under the mmap lock held for writing, and
 * every walker holds it for reading, so a walker never sees a freed table.
 * The reverse-map operations (reclaim, clean, migrate, KSM) start from a
 * frame: they snapshot its mappings under the rmap lock, drop it, and then
 * visit each mapping under that mm's mmap lock, re-checking the entry
 * under its page-table lock.
 */
#ifndef UMN_SOFT_SOFT_H
#define UMN_SOFT_SOFT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <umn/soft.h>
#include <umn/umn.h>

#include "../../core/fail.h"
#include "../../core/interval_tree.h"
#include "../../core/lockdep.h"

#define PAGE	 UMN_PAGE_SIZE
#define PMD_SIZE UMN_SOFT_PMD_SIZE
#define PUD_SIZE UMN_SOFT_PUD_SIZE

/* Round @x to a multiple of @a, a power of two (Linux's round_up). */
static inline unsigned long round_up(unsigned long x, unsigned long a)
{
	return (x + a - 1) & ~(a - 1);
}

static inline unsigned long round_down(unsigned long x, unsigned long a)
{
	return x & ~(a - 1);
}

/* Page-table geometry: level 0 holds PTEs, 1 PMDs, 2 PUDs, 3 is the PGD. */
#define PT_ENTRIES		 512
#define PT_LEVELS		 4
#define LEVEL_SHIFT(level)	 (UMN_PAGE_SHIFT + 9 * (level))
#define LEVEL_SIZE(level)	 (1UL << LEVEL_SHIFT(level))
#define LEVEL_INDEX(addr, level) (((addr) >> LEVEL_SHIFT(level)) & 511)

/*
 * An entry: bits 0-1 its type; a table entry is the table's address; a
 * leaf has flags in bits 2-5, the frame in bits 12-39 and, for a 4 KiB
 * entry into a huge frame, the subpage in bits 40-57; a swap entry has
 * the swap slot where a leaf has the frame, and the subpage likewise.
 */
#define E_NONE	      0UL
#define E_TABLE	      1UL
#define E_LEAF	      2UL
#define E_SWAP	      3UL
#define E_TYPE	      3UL
#define E_WRITE	      (1UL << 2)
#define E_YOUNG	      (1UL << 3)
#define E_DIRTY	      (1UL << 4)
#define E_FRAME_SHIFT 12
#define E_FRAME_MASK  ((1UL << 28) - 1)
#define E_SUB_SHIFT   40
#define E_SUB_MASK    ((1UL << 18) - 1)

static inline unsigned long e_type(uint64_t e)
{
	return e & E_TYPE;
}

static inline unsigned long e_frame(uint64_t e)
{
	return (e >> E_FRAME_SHIFT) & E_FRAME_MASK;
}

static inline unsigned long e_sub(uint64_t e)
{
	return (e >> E_SUB_SHIFT) & E_SUB_MASK;
}

static inline uint64_t mk_leaf(unsigned long frame, unsigned long sub,
			       bool write)
{
	return E_LEAF | (write ? E_WRITE : 0) | E_YOUNG |
	       ((uint64_t)frame << E_FRAME_SHIFT) |
	       ((uint64_t)sub << E_SUB_SHIFT);
}

struct pt {
	uint64_t e[PT_ENTRIES]; /* atomic loads; stores under ptl */
	pthread_mutex_t ptl;	/* the split page-table lock */
};

static inline struct pt *e_table(uint64_t e)
{
	return (struct pt *)(uintptr_t)(e & ~E_TYPE);
}

static inline uint64_t e_load(struct pt *t, unsigned int i)
{
	return __atomic_load_n(&t->e[i], __ATOMIC_ACQUIRE);
}

static inline void e_store(struct pt *t, unsigned int i, uint64_t e)
{
	__atomic_store_n(&t->e[i], e, __ATOMIC_RELEASE);
}

/* A mapping of a frame: the reverse map's unit. */
struct rmap {
	struct rmap *next;
	struct umn_soft_mm *sm;
	unsigned long addr; /* where the entry begins */
};

struct frame {
	atomic_int refs;	 /* 0: free; a mapping holds one, a pin one */
	atomic_int pins;	 /* of refs, held by umn_soft_pin */
	atomic_ulong gen;	 /* +1 each time it is freed */
	unsigned int order;	 /* 0, 9 or 18 */
	bool ksm;		 /* merged by KSM: a write always copies */
	unsigned char **data;	 /* 1 << order pointers, each 4 KiB or NULL */
	struct rmap *rmap;	 /* under rmap_lock(frame) */
	unsigned long next_free; /* on the free list */
};

struct swap_slot {
	unsigned int order;
	unsigned char **data;	 /* a copy of the reclaimed frame's data */
	int refs;		 /* swap entries pointing here (+1 pending) */
	bool pending;		 /* reclaim has not filled it yet */
	unsigned long next_free; /* on the free list: next slot + 1 */
};

#define RMAP_LOCKS 64

struct umn_soft_frames {
	struct umn_soft_frames_config cfg;
	pthread_mutex_t lock;	   /* free list, budget, swap slots */
	pthread_cond_t swap_cv;	   /* a pending slot was filled */
	struct frame *frame;	   /* [cfg.max_frames] */
	unsigned long free_head;   /* 0: none (frame 0 is never used) */
	unsigned long next_unused; /* frames never handed out start here */
	unsigned long pages_used;
	struct swap_slot *swap; /* growable */
	unsigned long nr_swap, swap_cap;
	unsigned long swap_free_head; /* slots reuse: index + 1, 0 none */
	pthread_mutex_t rmap_lock[RMAP_LOCKS];
	atomic_int nr_mms;
	struct umn_soft_stats stats; /* atomically added */
};

struct vma {
	struct umn__itree_node node; /* [start, end - 1] */
	unsigned long start, end;
	int prot;
	int flags;
};

struct umn_soft_mm {
	struct umn_mm *mm; /* the core's: notifiers hang here */
	struct umn_soft_frames *frames;
	pthread_rwlock_t mmap_lock;
	struct pt *pgd;
	struct umn__itree vmas; /* under mmap_lock */
	atomic_int refs;	/* reverse-map walkers hold one */
	bool dead;		/* destroyed: rmap walkers skip it */
};

/*
 * The locks, taken only through these, so that the debug build knows who
 * holds them and checks the rules stated as "under ..." (core/lockdep.h).
 */
static inline void mmap_read_lock(struct umn_soft_mm *sm)
{
	umn__read_lock(&sm->mmap_lock, "mmap_lock");
}

static inline void mmap_write_lock(struct umn_soft_mm *sm)
{
	umn__write_lock(&sm->mmap_lock, "mmap_lock");
}

static inline void mmap_unlock(struct umn_soft_mm *sm)
{
	umn__rw_unlock(&sm->mmap_lock, "mmap_lock");
}

static inline void ptl_lock(struct pt *t)
{
	umn__mutex_lock(&t->ptl, "ptl");
}

static inline void ptl_unlock(struct pt *t)
{
	umn__mutex_unlock(&t->ptl, "ptl");
}

#define mmap_assert_locked(sm) \
	umn__lock_assert_held(&(sm)->mmap_lock, "mmap_lock", UMN__LOCK_SHARED)
#define mmap_assert_write_locked(sm) \
	umn__lock_assert_held(&(sm)->mmap_lock, "mmap_lock", UMN__LOCK_EXCL)
#define ptl_assert_held(t) \
	umn__lock_assert_held(&(t)->ptl, "ptl", UMN__LOCK_EXCL)
/* Some page-table lock, for a rule that does not say which. */
#define ptl_assert_some_held() umn__lock_assert_class_held("ptl")

/*
 * A batch of frame references to drop after end (Linux's mmu_gather).  The
 * bracket it is filled in is recorded: when the batch cannot grow (no
 * memory), umn__soft_gather_add() flushes the secondaries' TLBs over the bracket
 * (invalidate_range) and drops the reference at once, as Linux's
 * tlb_flush_mmu does.  Safe: every secondary dropped its translations in
 * start or drops them in invalidate_range, and the entry is gone.
 */
struct gather {
	unsigned long *frame;
	unsigned long n, cap;
	struct umn_soft_frames *fs;
	struct umn_mm *mm;
	unsigned long start, end; /* the bracket */
};

static inline void gather_bracket(struct gather *g, struct umn_soft_mm *sm,
				  unsigned long start, unsigned long end);

/* frames.c */
int umn__soft_frame_alloc(struct umn_soft_frames *fs, unsigned int order,
			  unsigned long *framep);
void umn__soft_frame_get(struct umn_soft_frames *fs, unsigned long frame);
void umn__soft_frame_put(struct umn_soft_frames *fs, unsigned long frame);
/* Copy @src's data into @dst; 0 or -ENOMEM (@dst partly written). */
int umn__soft_frame_copy(struct umn_soft_frames *fs, unsigned long dst,
			 unsigned long src);
/* Copy 4 KiB from @src into subpage @sub of @frame; 0 or -ENOMEM. */
int umn__soft_copy_page(struct umn_soft_frames *fs, unsigned long frame,
			unsigned long sub, const unsigned char *src);
bool umn__soft_frame_same(struct umn_soft_frames *fs, unsigned long a,
			  unsigned long b);
unsigned char *umn__soft_page(struct umn_soft_frames *fs, unsigned long frame,
			      unsigned long sub, bool write);
int umn__soft_rmap_add(struct umn_soft_frames *fs, unsigned long frame,
		       struct umn_soft_mm *sm, unsigned long addr);
void umn__soft_rmap_del(struct umn_soft_frames *fs, unsigned long frame,
			struct umn_soft_mm *sm, unsigned long addr);
void umn__soft_rmap_move(struct umn_soft_frames *fs, unsigned long frame,
			 struct umn_soft_mm *sm, unsigned long old,
			 unsigned long new);
int umn__soft_rmap_snapshot(struct umn_soft_frames *fs, unsigned long frame,
			    struct rmap **list);
void umn__soft_rmap_snapshot_free(struct umn_soft_frames *fs,
				  struct rmap *list);
int umn__soft_swap_alloc(struct umn_soft_frames *fs, unsigned int order,
			 unsigned long *slotp);
int umn__soft_swap_fill(struct umn_soft_frames *fs, unsigned long slot,
			unsigned long frame);
void umn__soft_swap_get(struct umn_soft_frames *fs, unsigned long slot);
void umn__soft_swap_put(struct umn_soft_frames *fs, unsigned long slot);
/* A new frame of @order with the slot's data from subpage @sub on. */
int umn__soft_swap_in(struct umn_soft_frames *fs, unsigned long slot,
		      unsigned int order, unsigned long sub,
		      unsigned long *framep);
/* Under a page-table lock, inside the bracket gather_bracket() named. */
void umn__soft_gather_add(struct gather *g, unsigned long frame);
void umn__soft_gather_flush(struct umn_soft_frames *fs, struct gather *g);
void umn__soft_stat_op(struct umn_soft_frames *fs, enum umn_soft_op op);
static inline struct frame *frame_of(struct umn_soft_frames *fs,
				     unsigned long frame)
{
	return &fs->frame[frame];
}

/* pgtable.c */
struct pt *umn__soft_pt_alloc(void);
void umn__soft_pt_free_tree(struct pt *t, unsigned int level);
/* The table at @level holding @addr's entry, allocating on the way if
 * @alloc; NULL if absent (or a huge leaf sits above). */
struct pt *umn__soft_pt_walk(struct umn_soft_mm *sm, unsigned long addr,
			     unsigned int level, bool alloc);
/* The leaf entry of @addr: its table, index and level; false if none. */
bool umn__soft_pt_find_leaf(struct umn_soft_mm *sm, unsigned long addr,
			    struct pt **tp, unsigned int *ip,
			    unsigned int *levelp);
typedef void run_fn(struct umn_soft_mm *sm, struct pt *t, unsigned int level,
		    unsigned int first, unsigned int last, unsigned long base,
		    void *ctx);
/* Call @fn on each run of entries of one table in [start, end): a PTE
 * table's slice (entries may be empty), or one huge entry. */
void umn__soft_walk_range(struct umn_soft_mm *sm, unsigned long start,
			  unsigned long end, run_fn *fn, void *ctx);

/*
 * A change of the entries in [start, end), inside the caller's bracket:
 * for each run of entries of one table, under its page-table lock, @fn on
 * each entry that is not empty (@addr where the entry begins), then the
 * secondaries' invalidate_range over the run's span within [start, end)
 * (unless @keep_tlb: the change downgrades no translation).  The caller's
 * context begins with this structure.
 */
struct change;
typedef void change_fn(struct umn_soft_mm *sm, struct pt *t, unsigned int level,
		       unsigned int i, unsigned long addr, struct change *c);
struct change {
	change_fn *fn;
	bool keep_tlb;
	unsigned long start, end; /* set by umn__soft_change_range() */
};
void umn__soft_change_range(struct umn_soft_mm *sm, unsigned long start,
			    unsigned long end, struct change *c);
/* After an unmap or a move, under the write lock: free the page tables
 * left empty around [start, end), as free_pgtables. */
void umn__soft_free_empty_tables(struct umn_soft_mm *sm, unsigned long start,
				 unsigned long end);

/* vma.c: the VMAs, under the mmap lock (write to change them). */
struct vma *umn__soft_vma_find(struct umn_soft_mm *sm, unsigned long addr);
/* The first VMA that ends after @addr. */
struct vma *umn__soft_vma_next(struct umn_soft_mm *sm, unsigned long addr);
struct vma *umn__soft_vma_new(unsigned long start, unsigned long end, int prot,
			      int flags);
void umn__soft_vma_link(struct umn_soft_mm *sm, struct vma *v);
void umn__soft_vma_unlink(struct umn_soft_mm *sm, struct vma *v);
/* Merge @v with its neighbours when they are alike, as vma_merge. */
void umn__soft_vma_merge(struct umn_soft_mm *sm, struct vma *v);
/* Make VMA edges at @start and @end (if they fall inside VMAs). */
int umn__soft_vma_cut(struct umn_soft_mm *sm, unsigned long start,
		      unsigned long end);
bool umn__soft_range_is_free(struct umn_soft_mm *sm, unsigned long start,
			     unsigned long end);
/* First fit at or after @hint, aligned to @align. */
int umn__soft_find_room(struct umn_soft_mm *sm, unsigned long hint,
			unsigned long len, unsigned long align,
			unsigned long *addrp);
/* The 1 GiB mappings in [start, end) are cut at 1 GiB edges only. */
bool umn__soft_huge_1g_aligned(struct umn_soft_mm *sm, unsigned long start,
			       unsigned long end);
/* mprotect and madvise: no hole in [start, end) (-ENOMEM, as Linux), and
 * 1 GiB pages cut only at their edges (-EINVAL). */
int umn__soft_mapped_whole(struct umn_soft_mm *sm, unsigned long start,
			   unsigned long end);

/* mm.c */
void umn__soft_mm_get(struct umn_soft_mm *sm);
void umn__soft_mm_put(struct umn_soft_mm *sm);
/* One bracket: start (blockable), the caller's change, end. */
void umn__soft_bracket_start(struct umn_soft_mm *sm, struct umn_range *range,
			     unsigned long start, unsigned long end,
			     enum umn_event event);
void umn__soft_bracket_end(struct umn_soft_mm *sm, struct umn_range *range);
/* Unmap [start, end) of one VMA's entries into @g (frames put later),
 * splitting huge entries that straddle the edges first. */
int umn__soft_zap_range(struct umn_soft_mm *sm, unsigned long start,
			unsigned long end, enum umn_event event,
			struct gather *g);
bool umn__soft_frame_reusable(struct umn_soft_frames *fs, unsigned long frame);

/* fault.c */
int umn__soft_split_huge_at(struct umn_soft_mm *sm, unsigned long addr);

/* check.c: the VMAs, page table and reverse map agree (tests only). */
bool umn__soft_is_valid(struct umn_soft_mm *sm);

static inline void gather_bracket(struct gather *g, struct umn_soft_mm *sm,
				  unsigned long start, unsigned long end)
{
	g->fs = sm->frames;
	g->mm = sm->mm;
	g->start = start;
	g->end = end;
}

#endif /* UMN_SOFT_SOFT_H */
