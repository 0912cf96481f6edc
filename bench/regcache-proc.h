/* SPDX-License-Identifier: MIT */
/*
 * bench/regcache-proc.h - what a child of the regcache-proc benchmark
 * (regcache-proc.c) sends back to umn-bench through its pipe.
 */
#ifndef UMN_BENCH_REGCACHE_PROC_H
#define UMN_BENCH_REGCACHE_PROC_H

#define RCP_SIZES    4	/* N cached: 16, 256, 1024, 4096 */
#define RCP_MAX_RUNS 11 /* repetitions, at most */

/* The fills: no-op pin, mlock pin, no-op pin in a scattered order. */
enum { RCP_NOOP, RCP_MLOCK, RCP_SCATTERED, RCP_PINS };

struct rcp_out {
	int status;		/* 0; or why the variant could not start */
	int mlock_status;	/* 0; or the mlock pin's error */
	unsigned int sources;	/* umn: the sources on */
	int ucm_mode;		/* UCX: UCM's mmap hook mode */
	double hit[RCP_SIZES];	/* ns per lookup + release */
	double hit2[RCP_SIZES]; /* the same, two threads at once: per thread */
	double miss[RCP_PINS][RCP_SIZES]; /* ns per register + release */
	double unmap[RCP_SIZES][2];	  /* ns per munmap: registered, not */
};

/* The child of variant @arg; @out: a zeroed struct rcp_out. */
void rcp_child(int arg, void *out);

#endif
