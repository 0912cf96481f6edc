/* SPDX-License-Identifier: MIT */
/*
 * tests/proc/regcache_test.h - what the tests of the registration cache
 * over the process itself share: the kernel's page table as an oracle
 * (/proc/self/pagemap), a pin that holds page references, and a tally of
 * checks that tests/summary.sh counts.
 */
#ifndef UMN_TESTS_PROC_REGCACHE_TEST_H
#define UMN_TESTS_PROC_REGCACHE_TEST_H

#include <pthread.h>
#include <stdbool.h>
#include <umn/proc.h>
#include <umn/regcache.h>

#include "sanitized.h"

#define PAGE UMN_PAGE_SIZE

/* The options of one run. */
struct opts {
	unsigned int sources; /* UMN_PROC_* asked for */
	double seconds;	      /* stress: how long */
	int threads;	      /* stress: workers (one more churns) */
	bool mapped_only;     /* stress: no malloc'd buffers */
};

/* The tally: check() counts; summary() prints the Check-style line. */
extern unsigned long checks, failures;
bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int summary(const char *name);
/* Print why the test cannot run here and exit with SKIP. */
void skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
const char *sources_name(unsigned int sources);

/*
 * The oracle.  pfn_now() reads the PFN the kernel maps at @addr now (0 if
 * none); pfns_readable() says whether the kernel shows PFNs at all (it
 * shows 0 without CAP_SYS_ADMIN).  stale_pages() counts the pages of
 * [addr, addr + len), inside @h, whose recorded frame is not the one the
 * kernel maps there now.  Call it after the lookup, with @h held, on
 * memory that only the calling thread may change: then a difference is a
 * stale registration, not a race.
 */
void pagemap_open(void);
unsigned long pfn_now(unsigned long addr);
bool pfns_readable(void);
unsigned long stale_pages(const struct umn_regcache_handle *h,
			  unsigned long addr, unsigned long len);

/*
 * The pin (ref_ops): what pin_user_pages(FOLL_WRITE) does, from user
 * space.  The pages are faulted in writable (MADV_POPULATE_WRITE, which
 * breaks copy-on-write as a write pin does) and each gets a reference
 * (vmsplice() into a pipe holds it until the pipe is closed); their PFNs
 * are read from pagemap.
 *
 * A reference matters to the oracle.  mlock takes none: a page freed by
 * munmap then comes back at once, with the same PFN, about 3% of the time
 * (measured), and a stale registration would look right.  A referenced
 * page cannot be freed, migrated or reused, so any PFN that differs is a
 * registration the cache should have dropped.
 *
 * pin_collide_next: the next pin by this thread replaces the pages it has
 * just pinned (mmap MAP_FIXED), a deterministic collision for the cache's
 * retry.  pin_calls counts pins.
 */
extern const struct umn_regcache_ops ref_ops;
extern __thread bool pin_collide_next;
extern unsigned long pin_calls;

/* Start @sources (skip if one cannot work here) and return a cache over
 * the process mm. */
struct umn_regcache *start_regcache(unsigned int sources, unsigned int flags);
/* Wait for the userfaultfd source if it is on: what bypassed libc (a
 * sanitizer's allocator) only it saw, after the fact. */
void uffd_settle(void);

/*
 * pthread_create, but under TSan on a stack of our own: glibc madvises
 * the unused part of a stack it allocated when the thread exits, after
 * TSan has finished the thread, and the patched madvise then runs
 * instrumented code for a thread TSan no longer knows (a crash in TSan's
 * runtime; see the report of proc-regcache-stress under TSan).
 */
int start_thread(pthread_t *thread, void *(*fn)(void *), void *arg);

/* An anonymous private mapping of @npages, written; exits on failure. */
unsigned long map_pages(unsigned long npages);

/* The tests. */
int test_oracle(const struct opts *o);
int test_break_retry(const struct opts *o);
int test_uffd_replaced_range(const struct opts *o);
int test_stress(const struct opts *o, bool break_stop);
int test_fork(const struct opts *o);
int test_signal(const struct opts *o, bool regcache);
int test_recursion(const struct opts *o);
int test_race(const struct opts *o, bool broken);

#endif /* UMN_TESTS_PROC_REGCACHE_TEST_H */
