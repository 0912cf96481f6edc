// SPDX-License-Identifier: MIT
/*
 * bench/umn-bench.c - umn's benchmarks, each side by side with
 * its baseline in the same run, interleaved, several repetitions; the
 * median and the spread are reported.
 *
 *   umn-bench [--quick] [--csv FILE] [--plot DIR] [NAME...]
 *
 * The benchmarks live one file per layer: core.c (nohit, dispatch,
 * readside), softmmu.c, regcache.c, hooks.c (hooks, install), linux.c,
 * regcache-proc.c, and uring.c (built when libumn-uring is).
 *
 * CSV: benchmark,variant,parameter,metric,value.  Timings are wall-clock
 * (CLOCK_MONOTONIC) over batches; no timing is ever a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "plot.h"

bool bench_quick;
FILE *bench_csv;

void bench_die(const char *bench, const char *what)
{
	fprintf(stderr, "umn-bench: %s: %s failed\n", bench, what);
	exit(1);
}

double bench_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void bench_report(const char *bench, const char *variant, const char *param,
		  const char *metric, double *v, int n)
{
	/* A CSV field holds no comma: the parameters join with ':'. */
	if (strchr(bench, ',') || strchr(variant, ',') || strchr(param, ',') ||
	    strchr(metric, ',')) {
		fprintf(stderr, "umn-bench: a comma in %s/%s/%s/%s\n", bench,
			variant, param, metric);
		abort();
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	printf("%-9s %-22s %-18s %-11s median %10.1f  (min %.1f, max %.1f, "
	       "%d runs)\n",
	       bench, variant, param, metric, v[n / 2], v[0], v[n - 1], n);
	fflush(stdout);
	if (bench_csv)
		fprintf(bench_csv, "%s,%s,%s,%s,%.2f\n", bench, variant, param,
			metric, v[n / 2]);
	plot_add(bench, variant, param, metric, v[n / 2], v[0], v[n - 1]);
}

static const struct {
	const char *name;
	void (*run)(void);
} benches[] = {
	{ "nohit", bench_nohit },
	{ "dispatch", bench_dispatch },
	{ "readside", bench_readside },
	{ "softmmu", bench_softmmu },
	{ "hooks", bench_hooks },
	{ "regcache", bench_regcache },
	{ "install", bench_install },
	{ "regcache-proc", bench_regcache_proc },
	{ "linux", bench_linux },
#ifdef UMN_BENCH_URING
	{ "uring", bench_uring },
#endif
};

#define NBENCHES (sizeof(benches) / sizeof(benches[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: umn-bench [--quick] [--csv FILE] [--plot DIR] "
		   "[NAME...]\n"
		   "names:");
	for (unsigned int b = 0; b < NBENCHES; b++)
		fprintf(f, " %s", benches[b].name);
	fprintf(f, " (default: all)\n");
}

int main(int argc, char **argv)
{
	int i, first = 1;
	const char *plot_dir = NULL;

	if (argc > 1 && !strcmp(argv[1], "--child"))
		return bench_child(argc, argv);
	for (; first < argc && argv[first][0] == '-'; first++) {
		if (!strcmp(argv[first], "--quick")) {
			bench_quick = true;
		} else if (!strcmp(argv[first], "--plot") && first + 1 < argc) {
			plot_dir = argv[++first];
		} else if (!strcmp(argv[first], "--csv") && first + 1 < argc) {
			bench_csv = fopen(argv[++first], "w");
			if (!bench_csv) {
				perror(argv[first]);
				return 1;
			}
			fprintf(bench_csv,
				"benchmark,variant,parameter,metric,value\n");
		} else {
			usage(strcmp(argv[first], "--help") ? stderr : stdout);
			return strcmp(argv[first], "--help") ? 2 : 0;
		}
	}
	for (i = first; i < argc; i++) {
		unsigned int b = 0;

		while (b < NBENCHES && strcmp(argv[i], benches[b].name))
			b++;
		if (b == NBENCHES) {
			fprintf(stderr, "umn-bench: no benchmark '%s'\n",
				argv[i]);
			usage(stderr);
			return 2;
		}
	}
	for (unsigned int b = 0; b < NBENCHES; b++) {
		bool want = first == argc;

		for (i = first; i < argc; i++)
			want = want || !strcmp(argv[i], benches[b].name);
		if (want)
			benches[b].run();
	}
	if (bench_csv && fclose(bench_csv)) {
		perror("umn-bench: --csv");
		return 1;
	}
	return plot_dir && plot_write(plot_dir) ? 1 : 0;
}
