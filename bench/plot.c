// SPDX-License-Identifier: MIT
/*
 * bench/plot.c - umn-bench's --plot DIR.  The results are written into a
 * gnuplot script as inline data blocks and piped to gnuplot (Debian's
 * gnuplot-nox), which draws PNGs with its pngcairo or png terminal.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plot.h"

struct result {
	char bench[32], variant[32], param[48], metric[16];
	double median, min, max;
};

static struct result *results;
static size_t nresults, cap;

void plot_add(const char *bench, const char *variant, const char *param,
	      const char *metric, double median, double min, double max)
{
	struct result *r;

	if (nresults == cap) {
		size_t n = cap ? 2 * cap : 64;

		r = realloc(results, n * sizeof(*r));
		if (!r)
			return; /* the plot misses it; the run goes on */
		results = r;
		cap = n;
	}
	r = &results[nresults++];
	snprintf(r->bench, sizeof(r->bench), "%s", bench);
	snprintf(r->variant, sizeof(r->variant), "%s", variant);
	snprintf(r->param, sizeof(r->param), "%s", param);
	snprintf(r->metric, sizeof(r->metric), "%s", metric);
	r->median = median;
	r->min = min;
	r->max = max;
}

static bool same_group(const struct result *a, const struct result *b)
{
	return !strcmp(a->bench, b->bench) && !strcmp(a->metric, b->metric);
}

enum key { GROUP, PARAM, VARIANT };

/* Is results[i] the first of its group (and of its parameter, or of its
 * variant, in the group)? */
static bool first_of(size_t i, enum key key)
{
	const struct result *r = &results[i];

	for (size_t j = 0; j < i; j++) {
		const struct result *q = &results[j];

		if (same_group(q, r) &&
		    (key == GROUP ||
		     (key == PARAM && !strcmp(q->param, r->param)) ||
		     (key == VARIANT && !strcmp(q->variant, r->variant))))
			return false;
	}
	return true;
}

/* The median of (@param, @variant) in @r's group, or NULL. */
static const struct result *find(const struct result *g, const char *param,
				 const char *variant)
{
	const struct result *hit = NULL;

	for (size_t j = 0; j < nresults; j++)
		if (same_group(&results[j], g) &&
		    !strcmp(results[j].param, param) &&
		    !strcmp(results[j].variant, variant))
			hit = &results[j]; /* the last, if repeated */
	return hit;
}

static double group_min(const struct result *g)
{
	double min = g->min;

	for (size_t j = 0; j < nresults; j++)
		if (same_group(&results[j], g) && results[j].min < min)
			min = results[j].min;
	return min;
}

/* One plot: the group (benchmark and metric) of results[g]. */
static void plot_group(FILE *gp, const char *dir, size_t g)
{
	const struct result *head = &results[g];
	int nvariants = 0;

	fprintf(gp, "$data << EOD\n");
	for (size_t i = 0; i < nresults; i++) {
		if (!same_group(&results[i], head) || !first_of(i, PARAM))
			continue;
		fprintf(gp, "\"%s\"", results[i].param);
		for (size_t v = 0; v < nresults; v++) {
			const struct result *r;

			if (!same_group(&results[v], head) ||
			    !first_of(v, VARIANT))
				continue;
			r = find(head, results[i].param, results[v].variant);
			if (r)
				fprintf(gp, " %g %g %g", r->median, r->min,
					r->max);
			else
				fprintf(gp, " - - -");
		}
		fprintf(gp, "\n");
	}
	fprintf(gp, "EOD\n");
	/* A log scale where every value is positive (a percentage over a
	 * baseline may be negative: linear). */
	fprintf(gp, "%s logscale y\n", group_min(head) > 0 ? "set" : "unset");
	fprintf(gp,
		"set output \"%s/%s-%s.png\"\n"
		"set title \"umn-bench %s: median, min..max (%s)\"\n"
		"set ylabel \"%s\"\n"
		"plot ",
		dir, head->bench, head->metric, head->bench, head->metric,
		head->metric);
	for (size_t v = 0; v < nresults; v++) {
		if (!same_group(&results[v], head) || !first_of(v, VARIANT))
			continue;
		fprintf(gp, "%s$data using %d:%d:%d%s title \"%s\"",
			nvariants ? ", " : "", 2 + 3 * nvariants,
			3 + 3 * nvariants, 4 + 3 * nvariants,
			nvariants ? "" : ":xtic(1)", results[v].variant);
		nvariants++;
	}
	fprintf(gp, "\nundefine $data\n");
}

int plot_write(const char *dir)
{
	FILE *gp;
	int status;

	if (mkdir(dir, 0777) && errno != EEXIST) {
		fprintf(stderr, "umn-bench: --plot %s: %s\n", dir,
			strerror(errno));
		return -1;
	}
	gp = popen("gnuplot", "w");
	if (!gp) {
		fprintf(stderr, "umn-bench: --plot: gnuplot: %s\n",
			strerror(errno));
		return -1;
	}
	fprintf(gp,
		"set terminal pngcairo size 1000,560 noenhanced font ',10'\n"
		"set datafile missing '-'\n"
		"set style data histogram\n"
		"set style histogram errorbars gap 1 lw 1\n"
		"set style fill solid 0.8 border -1\n"
		"set grid ytics\n"
		"set key top left\n"
		"set xtics rotate by -30\n"
		"set bmargin 6\n");
	for (size_t i = 0; i < nresults; i++)
		if (first_of(i, GROUP))
			plot_group(gp, dir, i);
	status = pclose(gp);
	if (status) {
		fprintf(stderr, "umn-bench: --plot: gnuplot failed (%d)\n",
			status);
		return -1;
	}
	printf("plots written to %s/\n", dir);
	return 0;
}
