/* SPDX-License-Identifier: MIT */
/*
 * bench/bench.h - what umn-bench's benchmarks share: the options, the
 * clock and the report (median and spread, CSV).  Each benchmark is a
 * void function of no argument, listed in umn-bench.c's table.
 */
#ifndef UMN_BENCH_H
#define UMN_BENCH_H

#include <stdbool.h>
#include <stdio.h>

extern bool bench_quick; /* --quick: fewer sizes and repetitions */
extern FILE *bench_csv;	 /* --csv FILE, or NULL */

/* Print "umn-bench: @bench: @what failed" and exit(1): a benchmark whose
 * set-up failed measures nothing. */
_Noreturn void bench_die(const char *bench, const char *what);

/* CLOCK_MONOTONIC, in ns. */
double bench_now_ns(void);

/*
 * Sort @n samples of @metric (e.g. "ns_per_op", "pages_per_s") and report
 * their median and spread: one summary line, one CSV row.
 */
void bench_report(const char *bench, const char *variant, const char *param,
		  const char *metric, double *v, int n);

/* The hidden "umn-bench --child ...": a child process of the hooks,
 * install and regcache-proc benchmarks (hooks.c).  Return: the exit
 * status. */
int bench_child(int argc, char **argv);

/* What such a child runs (hooks.c's child_fns[]). */
enum { CHILD_HOOKS, CHILD_INSTALL, CHILD_REGCACHE_PROC };

/* Run child function @fn of variant @arg in a fresh umn-bench process and
 * read its @len bytes of results into @out.  Return: 0; -1 if the child
 * died before it sent them all. */
int bench_in_child(int fn, int arg, void *out, size_t len);

struct umn_mm;
struct umn_interval_notifier_ops;

/* core.c's: an interval notifier that only sets its sequence; and the
 * time in ns of one start+end of [@start, @start + @len) on @mm, averaged
 * over @iters. */
extern const struct umn_interval_notifier_ops bench_sink_ops;
double bench_time_brackets(struct umn_mm *mm, unsigned long start,
			   unsigned long len, long iters);

void bench_nohit(void);
void bench_dispatch(void);
void bench_readside(void);
void bench_softmmu(void);
void bench_hooks(void);
void bench_regcache(void);
void bench_install(void);
void bench_regcache_proc(void);
void bench_linux(void);
#ifdef UMN_BENCH_URING
void bench_uring(void); /* uring.c, built with libumn-uring */
#endif

#endif
