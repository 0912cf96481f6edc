/* SPDX-License-Identifier: MIT */
/*
 * primaries/proc/uffd.h - the userfaultfd source's own state, shared by its
 * two files: uffd.c (the events: the fd, the reader, the queue, the
 * dispatcher, orphans, sync) and uffd-watch.c (which mappings are
 * registered).  Not installed.
 *
 * The two files keep the short names they had as one; the linker sees
 * them with the umn__ prefix (tests/exports.sh).
 */
#ifndef UMN_PROC_UFFD_H
#define UMN_PROC_UFFD_H

#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdbool.h>

#include "proc.h"

#define u		 umn__proc_uffd
#define register_range	 umn__proc_uffd_register_range
#define watched_granules umn__proc_uffd_watched_granules
#define watch_all	 umn__proc_uffd_watching_all
#define watch_mappings	 umn__proc_uffd_watch_mappings

#define QUEUE 1024

enum { EV_UNMAP, EV_REMOVE, EV_REMAP, EV_SYNC, EV_ORPHAN };

struct event {
	unsigned long start, end;
	int type;
};

struct uffd_source {
	int fd; /* -1 until started */
	struct umn_mm *mm;
	unsigned char *sentinel; /* a registered page, for sync */
	pthread_mutex_t lock;	 /* guards the queue and the counters */
	pthread_cond_t cond;	 /* queue not empty; sync done */
	struct event queue[QUEUE];
	unsigned int head, len;
	struct event overflow; /* merged events, after the queue's */
	unsigned long overflow_syncs;
	bool overflowing;
	unsigned long syncs_done;
	pthread_mutex_t sync_lock;     /* one sync at a time */
	unsigned long ranges, refused; /* atomic */
	unsigned long overflows;
	int maps_fd; /* /proc/self/maps, for PROCMAP_QUERY; -1 without */
};

extern struct uffd_source u;

/* Register [start, end) with @fd, write-protect mode; 0 or -errno. */
int register_range(int fd, unsigned long start, unsigned long end);

/*
 * Which 2 MiB granules (hashed into a bitmap) may hold a registered
 * mapping (uffd-watch.c).
 */
#define GRANULE_SHIFT 21
#define GRANULES      4096UL
extern unsigned long watched_granules[GRANULES / 64]; /* atomic bits */

extern bool watch_all; /* atomic: a classic notifier hears everything */

#define ALL_END (~0UL & ~(UMN_PAGE_SIZE - 1)) /* above every mapping */

/* What a walk of the mappings found: the span of the holes an interval
 * overlaps ([lo, hi), empty if lo >= hi), to try again later. */
struct walk {
	int fd;
	unsigned long start, end;
	bool asked; /* register every mapping, heard or not (an insert) */
	unsigned long lo, hi;
};

struct walk watch_mappings(int fd, unsigned long start, unsigned long end,
			   bool asked);

#endif /* UMN_PROC_UFFD_H */
