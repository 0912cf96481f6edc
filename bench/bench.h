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

/* The hidden "umn-bench --child ...": a child process of the hooks and
 * install benchmarks (hooks.c).  Return: the exit status. */
int bench_child(int argc, char **argv);

void bench_nohit(void);
void bench_dispatch(void);
void bench_readside(void);
void bench_softmmu(void);
void bench_hooks(void);
void bench_regcache(void);
void bench_install(void);

#endif
