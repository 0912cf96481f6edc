/* SPDX-License-Identifier: MIT */
/* bench/plot.h - umn-bench's --plot: every result kept, drawn by gnuplot. */
#ifndef UMN_BENCH_PLOT_H
#define UMN_BENCH_PLOT_H

/* Keep one result (the median and the spread of a case). */
void plot_add(const char *bench, const char *variant, const char *param,
	      const char *metric, double median, double min, double max);

/*
 * Draw @dir/<benchmark>-<metric>.png for each benchmark and metric kept: a
 * clustered histogram, one cluster per parameter, one bar per variant
 * (median, with the min..max spread as an error bar), on a log scale.
 * Return: 0; -1 (and a message) if @dir or gnuplot failed.
 */
int plot_write(const char *dir);

#endif
