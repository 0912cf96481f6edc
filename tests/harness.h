/* SPDX-License-Identifier: MIT */
/*
 * tests/harness.h - what the core's tests share: a recording notifier and
 * a toy primary MMU (a flat page table with an mmap lock and a page-table
 * lock) that follows docs/CONTRACT.md, rule 2, exactly.
 */
#ifndef UMN_TESTS_HARNESS_H
#define UMN_TESTS_HARNESS_H

#include <check.h>
#include <pthread.h>
#include <stddef.h>
#include <umn/umn.h>

#include "check_run.h"
#include "sleepcheck.h"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

#define PG(n) ((unsigned long)(n)*UMN_PAGE_SIZE)

/* One callback, as a recording notifier saw it. */
struct rec_event {
	char kind; /* S start, E end, I invalidate_range, R release,
			     Y young, P change_pte, V interval invalidate */
	int who;   /* the notifier's id */
	unsigned long start, end;
	int event;
};

#define REC_MAX 4096

struct recorder {
	pthread_spinlock_t lock; /* callbacks may be atomic */
	int n;
	struct rec_event ev[REC_MAX];
};

struct rec_notifier {
	struct umn_notifier n;
	int id;
	struct recorder *rec;
	int start_ret; /* what invalidate_range_start returns */
	int young;     /* what the aging callbacks return */
	int freed;     /* free_notifier ran */
};

extern const struct umn_notifier_ops rec_ops;	       /* every callback */
extern const struct umn_notifier_ops rec_may_fail_ops; /* start may fail,
							  no end */

void rec_init(struct recorder *rec);
/* Zero @r, name it @id, record into @rec, register it on @mm (asserted). */
void rec_register(struct rec_notifier *r, int id,
		  const struct umn_notifier_ops *ops, struct recorder *rec,
		  struct umn_mm *mm);
void rec_add(struct recorder *rec, char kind, int who, unsigned long start,
	     unsigned long end, int event);
/* The events as a string of "kind+who" pairs, e.g. "S1S2I1I2E1E2". */
const char *rec_string(struct recorder *rec);
int rec_count(struct recorder *rec, char kind, int who);

/*
 * The toy primary: npages PTEs holding frame numbers (0 = none).  The mmap
 * lock is held for reading across every change (bracket included) and for
 * writing by lock_all; the PTL guards the PTEs.
 */
struct toy {
	struct umn_mm *mm;
	pthread_rwlock_t mmap_lock;
	pthread_mutex_t ptl;
	unsigned long npages;
	unsigned long *pte;
	unsigned long next_frame; /* under ptl */
	int lock_all_calls;
};

void toy_init(struct toy *toy, unsigned long npages, bool fast_path);
void toy_destroy(struct toy *toy);
/* Give each page in [first, first + count) a new frame, with the full
 * start / update / invalidate_range / end sequence.  Returns start's
 * result. */
int toy_remap(struct toy *toy, unsigned long first, unsigned long count,
	      unsigned int flags);
unsigned long toy_lookup(struct toy *toy, unsigned long page);
/* Open a blockable bracket of @event over the pages [first, first +
 * count) by hand, without the mmap lock; its start must return 0.  The
 * test ends it. */
void toy_open_bracket(struct toy *toy, struct umn_range *range,
		      unsigned long first, unsigned long count,
		      enum umn_event event);

/* Check suites, one per area. */
Suite *itree_suite(void);
Suite *notifier_suite(void);
Suite *interval_suite(void);
Suite *debug_suite(void);
Suite *errors_suite(void);
Suite *concurrency_suite(void);
Suite *soft_suite(void);
Suite *consumers_suite(void);
Suite *lifetime_suite(void);
Suite *failures_suite(void);
Suite *lockdep_suite(void);

/* tests/lockdep_units.c: static functions of the library whose rule is a
 * lock, called as they are, for check_debug.c to call without the lock. */
struct umn_regcache;
void unit_set_mm_seq(struct umn_mm *mm);	  /* core: mm->lock */
void unit_retire_locked(struct umn_regcache *rc); /* regcache: rc->lock */
void unit_push(void);				  /* proc: u.lock */

#endif /* UMN_TESTS_HARNESS_H */
