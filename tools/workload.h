/* SPDX-License-Identifier: MIT */
/*
 * tools/workload.h - the engine that umn-torture and umn-demo share: a soft
 * MMU whose primary threads run every operation on a shared window while
 * accessor threads use every reference secondary, checked by the coherence
 * oracle (see workload.c).  The tools are front ends; the logic is here and
 * in the library.
 */
#ifndef UMN_TOOLS_WORKLOAD_H
#define UMN_TOOLS_WORKLOAD_H

#include <stdbool.h>
#include <umn/devtlb.h>
#include <umn/mirror.h>
#include <umn/regcache.h>
#include <umn/soft.h>

/* The secondaries. */
enum { W_CLASSIC, W_INTERVAL, W_DEVTLB, W_REGCACHE, W_SECONDARIES };
extern const char *const workload_secondary_names[W_SECONDARIES];

/* The deliberate breaks of the contract (umn-torture --break). */
enum {
	W_BREAK_NONE,
	W_BREAK_RETRY,
	W_BREAK_COUNTER,
	W_BREAK_THP_RANGE,
	W_BREAK_EARLY_FREE,
	W_BREAKS
};
extern const char *const workload_break_names[W_BREAKS];

#define W_MAX_THREADS 64

/* Names for enum umn_soft_op and enum umn_event, for reports. */
extern const char *const workload_op_names[UMN_SOFT_OP_COUNT];
extern const char *const workload_event_names[UMN_EVENT_COUNT];

struct workload_report;

struct workload_config {
	double seconds;		 /* how long */
	int threads;		 /* >= 2: half primary, half accessors */
	unsigned long seed;	 /* the run's randomness */
	bool use[W_SECONDARIES]; /* which secondaries are attached */
	bool thp;		 /* the window uses 2 MiB pages */
	int brk;		 /* W_BREAK_* */
	/* Called about once a second from the calling thread. */
	void (*progress)(const struct workload_report *now, double seconds,
			 void *arg);
	void *arg;
};

struct workload_report {
	double seconds;
	struct umn_soft_stats soft; /* what the primary did */
	struct umn_mirror_stats mirror[2];
	struct umn_devtlb_stats devtlb;
	struct umn_regcache_stats regcache;
	unsigned long accesses;	    /* through a secondary */
	unsigned long checked;	    /* compared with the primary */
	unsigned long data_checked; /* data read back and compared */
	unsigned long retries;	    /* installs refused by a collision */
	unsigned long stale;	    /* what the oracle found */
	bool leaked;		    /* frames left allocated at teardown */
	char first_stale[256];	    /* the first finding, in words */
};

/* The config's defaults: 10 s, 4 threads, every secondary, THP on. */
void workload_defaults(struct workload_config *cfg);

/* Run it; fill @rep.  Return: 0, or a negative errno if setting up the
 * soft MMU or a secondary failed (reported on stderr). */
int workload_run(const struct workload_config *cfg,
		 struct workload_report *rep);

#endif /* UMN_TOOLS_WORKLOAD_H */
