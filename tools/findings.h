/* SPDX-License-Identifier: MIT */
/*
 * tools/findings.h - what a torture run's oracle found: each finding
 * counted, the first one kept in words, and the run stopped at it.  For
 * tools/workload.c and the runs of kernel-style drivers
 * (tests/linux_dmirror.c).
 */
#ifndef UMN_TOOLS_FINDINGS_H
#define UMN_TOOLS_FINDINGS_H

#include <stdbool.h>

struct findings {
	int stop;	     /* atomic: the run ends (a finding, or time) */
	unsigned long count; /* atomic: what the oracle found */
	char first[256];     /* the first finding, in words */
};

/* Count a finding (printf's @fmt); the first one's words are kept; the
 * run stops.  From any thread. */
void findings_add(struct findings *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Stop the run (its time is up). */
void findings_stop(struct findings *f);

bool findings_stopping(const struct findings *f);

#endif /* UMN_TOOLS_FINDINGS_H */
