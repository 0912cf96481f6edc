// SPDX-License-Identifier: MIT
/*
 * umn-torture - the coherence oracle, from the command line: every
 * soft-MMU operation at once against every reference secondary, for a
 * bounded time, and a count of the stale translations found (see
 * tools/workload.c for what is checked).  Not a benchmark: it asserts no
 * timing.
 *
 * --break MODE breaks the contract on purpose; the run must then end with
 * the oracle's status, 3.  A test that cannot fail proves nothing: this
 * shows the oracle can.  A run that checked fewer accesses than
 * --min-checks did not test much: it fails too (status 1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

/* Exit statuses (see the man page). */
enum { EXIT_FEW_CHECKS = 1, EXIT_SETUP = 2, EXIT_STALE = 3 };

static bool quiet;
static unsigned long min_checks = 2000;

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: umn-torture [--seconds N] [--threads T] [--seed S]\n"
		"                   [--consumers mirror,devtlb,regcache]\n"
		"                   [--thp on|off] [--break MODE] "
		"[--min-checks N] [--quiet]\n"
		"MODE: retry, counter, thp-range, early-free\n"
		"Exit status: 0 when no stale translation was found in at "
		"least N checked\naccesses (default 2000), 1 when fewer were "
		"checked, 2 on bad usage or setup\nfailure, 3 when the "
		"oracle found a stale translation.\n");
	exit(status);
}

static void parse(int argc, char **argv, struct workload_config *opt)
{
	static const struct option longs[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 'S' },
		{ "consumers", required_argument, NULL, 'c' },
		{ "thp", required_argument, NULL, 'h' },
		{ "break", required_argument, NULL, 'b' },
		{ "min-checks", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	char *tok, *save;
	int o, i;

	while ((o = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (o) {
		case 's':
			opt->seconds = atof(optarg);
			break;
		case 't':
			opt->threads = atoi(optarg);
			break;
		case 'S':
			opt->seed = strtoul(optarg, NULL, 0);
			break;
		case 'c':
			memset(opt->use, 0, sizeof(opt->use));
			for (tok = strtok_r(optarg, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				if (!strcmp(tok, "mirror"))
					opt->use[W_CLASSIC] =
						opt->use[W_INTERVAL] = true;
				else if (!strcmp(tok, "devtlb"))
					opt->use[W_DEVTLB] = true;
				else if (!strcmp(tok, "regcache"))
					opt->use[W_REGCACHE] = true;
				else
					usage(2);
			}
			break;
		case 'h':
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				usage(2);
			opt->thp = !strcmp(optarg, "on");
			break;
		case 'b':
			for (i = 1;
			     i < 5 && strcmp(optarg, workload_break_names[i]);
			     i++)
				;
			if (i == 5)
				usage(2);
			opt->brk = i;
			break;
		case 'm':
			min_checks = strtoul(optarg, NULL, 0);
			break;
		case 'q':
			quiet = true;
			break;
		case 'H':
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	if (optind != argc || opt->seconds <= 0 || opt->threads < 2 ||
	    opt->threads > W_MAX_THREADS)
		usage(2);
	if (!opt->seed)
		opt->seed = (unsigned long)time(NULL) ^ (unsigned long)getpid();
}

static void progress(const struct workload_report *r, double t, void *arg)
{
	(void)arg;
	if (!quiet)
		fprintf(stderr,
			"\r[%3.0fs] accesses %lu checked %lu retries %lu "
			"stale %lu ",
			t, r->accesses, r->checked, r->retries, r->stale);
}

static void summary(const struct workload_config *cfg,
		    const struct workload_report *r)
{
	int i;

	printf("umn-torture: seed %lu, %.0f s, %d threads, break %s\n",
	       cfg->seed, r->seconds, cfg->threads,
	       workload_break_names[cfg->brk]);
	printf("  operations:");
	for (i = 0; i < UMN_SOFT_OP_COUNT; i++)
		printf(" %s %lu", workload_op_names[i], r->soft.ops[i]);
	printf("\n  invalidations:");
	for (i = 0; i < UMN_EVENT_COUNT; i++)
		printf(" %s %lu", workload_event_names[i], r->soft.events[i]);
	printf("\n  huge ranges %lu, frames freed %lu, retries %lu\n",
	       r->soft.huge_ranges, r->soft.frames_freed, r->retries);
	if (r->stale)
		printf("  first finding: %s\n", r->first_stale);
	printf("  accesses %lu, checked %lu, data checked %lu: %lu stale\n",
	       r->accesses, r->checked, r->data_checked, r->stale);
}

int main(int argc, char **argv)
{
	struct workload_config cfg;
	struct workload_report rep;
	int ret;

	workload_defaults(&cfg);
	parse(argc, argv, &cfg);
	cfg.progress = progress;
	if (!quiet)
		fprintf(stderr,
			"umn-torture: seed %lu (replay with --seed %lu)\n",
			cfg.seed, cfg.seed);
	ret = workload_run(&cfg, &rep);
	if (ret)
		return EXIT_SETUP;
	if (!quiet)
		fputc('\n', stderr);
	summary(&cfg, &rep);
	if (rep.stale) {
		printf("umn-torture: oracle: %lu stale translation(s) found\n",
		       rep.stale);
		return EXIT_STALE;
	}
	if (rep.leaked) {
		printf("umn-torture: frames left allocated at teardown: a "
		       "leak\n");
		return EXIT_FEW_CHECKS;
	}
	if (rep.checked < min_checks) {
		printf("umn-torture: only %lu accesses checked, fewer than "
		       "%lu: too little was tested\n",
		       rep.checked, min_checks);
		return EXIT_FEW_CHECKS;
	}
	printf("umn-torture: coherent: %lu accesses checked (at least %lu)\n",
	       rep.checked, min_checks);
	return 0;
}
