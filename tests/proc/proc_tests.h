/* SPDX-License-Identifier: MIT */
/*
 * tests/proc/proc_tests.h - what the tests of umn-proc-tests share
 * (check_proc.c runs them; proc_recorder.c records): a classic notifier
 * that records, without allocating, what each callback saw of a watched
 * range, and an interval notifier's ops that count its invalidations.
 *
 * Check forks each test, and umn_proc_start() patches libc in the test's
 * own process, so each test begins with an unpatched libc and an empty
 * record.
 */
#ifndef UMN_TESTS_PROC_TESTS_H
#define UMN_TESTS_PROC_TESTS_H

#include <check.h>
#include <stddef.h>
#include <sys/types.h>
#include <umn/interval.h>
#include <umn/notifier.h>
#include <umn/proc.h>

#define PAGE 4096UL

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif

/* What each callback saw, recorded without allocating. */
struct seen {
	unsigned long start, end;
	int mapped_at_start, mapped_at_range, mapped_at_end; /* 1, 0 */
	int byte_at_start, byte_at_end; /* first byte, or -1 if unmapped */
	pid_t tid_start, tid_end;
	struct umn_proc_cause cause;
};

#define LOG_MAX 64

/* The recorder: registered with rec_ops, it records the brackets that
 * meet [watch_lo, watch_hi) into log_[0, nlog) (the hooks and the
 * userfaultfd dispatcher both record; a test reads nlog and resets it). */
extern struct umn_notifier rec;
extern const struct umn_notifier_ops rec_ops;
extern struct seen log_[LOG_MAX];
extern unsigned int nlog;
extern unsigned long watch_lo, watch_hi;

/* The recorder's ->invalidate_range_start, for ops that wrap it. */
int rec_start(struct umn_notifier *n, const struct umn_range *r);

/* 1 if addr's page is mapped, else 0. */
int mapped(unsigned long addr);

/* A fresh anonymous region of @len filled with 0xab, @sources started,
 * the recorder registered and watching the region, the log empty. */
unsigned char *setup_region(size_t len, unsigned int sources);

/* The log holds one bracket, [start, end), made by @call through the
 * hooks in this thread, whose start saw the old mapping and its data;
 * the log is emptied. */
void expect_one(unsigned long start, unsigned long end, const char *call);

/* An interval notifier's ops that count each invalidation (in this
 * thread: the count is not atomic). */
/* check_proc_fast_path.c's wrap of syscall(): if set, userfaultfd(2)
 * fails with ENOSYS, as on a kernel without it. */
extern bool refuse_userfaultfd;

extern unsigned long count_invalidations;
extern const struct umn_interval_notifier_ops count_ops;

/* The tests, by area: each file adds its tests of a case to @tc. */
void add_call_tests(TCase *tc);		    /* check_proc_calls.c */
void add_guard_tests(TCase *tc);	    /* check_proc_calls.c */
void add_fast_path_tests(TCase *tc);	    /* check_proc_fast_path.c */
void add_fast_path_thread_tests(TCase *tc); /* check_proc_fast_path.c */
void add_reentry_tests(TCase *tc);	    /* check_proc_reentry.c */
void add_reentry_thread_tests(TCase *tc);   /* check_proc_reentry.c */
void add_raw_call_tests(TCase *tc);	    /* check_proc_uffd.c */
void add_uffd_tests(TCase *tc);		    /* check_proc_uffd.c */

#endif /* UMN_TESTS_PROC_TESTS_H */
