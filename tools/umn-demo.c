// SPDX-License-Identifier: MIT
/*
 * umn-demo - umn at work: a guest address space on the soft MMU with the
 * three reference secondaries attached.
 *
 * First, one collision played step by step: a device mirror looks a page
 * up, the primary migrates the page under it, and the collision-retry
 * protocol makes the mirror look again instead of installing a translation
 * to the frame the primary just freed.
 *
 * Then the real thing for about ten seconds: primary threads run every
 * operation of the soft MMU while accessor threads use the secondaries,
 * and the coherence oracle checks every access (tools/workload.c).  The
 * run ends in a table: what the primary did, what each secondary
 * received, how many faults retried, how many ranges were huge, and the
 * oracle's verdict.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workload.h"

#define PAGE UMN_PAGE_SIZE

/* A run that checked fewer accesses than this tested too little to say
 * "coherent" (a 2-core machine under TSan checks several thousand a
 * second). */
#define MIN_CHECKS 1000UL

/* Exit statuses (umn-demo(1)). */
enum { EXIT_FAILED = 1, EXIT_SETUP = 2, EXIT_STALE = 3 };

static int step_by_step(void)
{
	struct umn_soft_translation t, now;
	struct umn_soft_frames *frames;
	struct umn_soft_mm *sm;
	struct umn_mirror *m;
	unsigned long a, seq;
	int ret;

	if (umn_soft_frames_create(NULL, &frames) ||
	    umn_soft_mm_create(frames, &sm) ||
	    umn_soft_mmap(sm, 0, 16 * PAGE,
			  UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE, 0, &a) ||
	    umn_soft_write(sm, a + 5 * PAGE, "guest", 6) ||
	    umn_mirror_create(sm, a, 16 * PAGE, UMN_MIRROR_INTERVAL, &m))
		return 1;
	puts("== 1. One collision, step by step");
	seq = umn_mirror_read_begin(m);
	umn_soft_lookup(sm, a + 5 * PAGE, false, NULL, NULL, &t);
	printf("mirror:  read_begin (seq %lu); the primary maps page 5 to "
	       "frame %lu\n",
	       seq, t.frame);
	umn_soft_migrate(sm, a + 5 * PAGE);
	umn_soft_lookup(sm, a + 5 * PAGE, false, NULL, NULL, &now);
	printf("primary: migrates page 5 to frame %lu (start, clear the PTE, "
	       "invalidate_range, copy, end);\n         frame %lu is freed: "
	       "its generation moved from %lu to %lu\n",
	       now.frame, t.frame, t.gen, umn_soft_frame_gen(frames, t.frame));
	ret = umn_mirror_install(m, a + 5 * PAGE, seq, &t);
	printf("mirror:  install frame %lu? %s\n", t.frame,
	       ret == -EAGAIN ? "refused: read_retry saw the collision"
			      : "INSTALLED (a stale translation!)");
	ret = umn_mirror_fault(m, a + 5 * PAGE, false);
	umn_mirror_translate(m, a + 5 * PAGE, &t);
	printf("mirror:  looks again and installs frame %lu: %s\n\n", t.frame,
	       t.frame == now.frame ? "coherent" : "STALE");
	umn_mirror_destroy(m);
	umn_soft_mm_destroy(sm);
	umn_soft_frames_destroy(frames);
	return ret < 0 || t.frame != now.frame;
}

static void progress(const struct workload_report *r, double t, void *arg)
{
	(void)arg;
	fprintf(stderr,
		"\r  [%2.0fs] %8lu accesses checked, %7lu invalidations, "
		"%6lu retries, %lu stale ",
		t, r->checked,
		r->soft.events[UMN_EVENT_UNMAP] +
			r->soft.events[UMN_EVENT_CLEAR] +
			r->soft.events[UMN_EVENT_PROTECTION_VMA] +
			r->soft.events[UMN_EVENT_PROTECTION_PAGE] +
			r->soft.events[UMN_EVENT_MIGRATE],
		r->retries, r->stale);
}

static void table(const struct workload_config *cfg,
		  const struct workload_report *r)
{
	static const char *const short_names[] = { "unmap",    "clear",
						   "prot-vma", "prot-page",
						   "migrate",  "release" };
	static const int shown[] = {
		UMN_EVENT_UNMAP,	  UMN_EVENT_CLEAR,
		UMN_EVENT_PROTECTION_VMA, UMN_EVENT_PROTECTION_PAGE,
		UMN_EVENT_MIGRATE,	  UMN_EVENT_RELEASE
	};
	const struct umn_mirror_stats *ms;
	int i, k;

	printf("\n== What the primary did (%.0f s, %d threads, seed %lu)\n",
	       r->seconds, cfg->threads, cfg->seed);
	for (i = 0; i < UMN_SOFT_OP_COUNT; i++)
		printf("  %-9s %9lu%s", workload_op_names[i], r->soft.ops[i],
		       i % 4 == 3 ? "\n" : "");
	printf("\n  brackets by event:");
	for (k = 0; k < 6; k++)
		printf(" %s %lu", workload_event_names[shown[k]],
		       r->soft.events[shown[k]]);
	printf("\n  huge ranges (2 MiB or more): %lu; frames freed: %lu\n",
	       r->soft.huge_ranges, r->soft.frames_freed);

	printf("\n== What each secondary received\n");
	printf("  %-16s %9s %9s", "secondary", "installs", "retries");
	for (k = 0; k < 6; k++)
		printf(" %9s", short_names[k]);
	printf("\n");
	for (i = 0; i < 2; i++) {
		ms = &r->mirror[i];
		printf("  %-16s %9lu %9lu", workload_secondary_names[i],
		       ms->faults, ms->retries);
		for (k = 0; k < 6; k++)
			printf(" %9lu", ms->invalidations[shown[k]]);
		printf("\n");
	}
	printf("  %-16s %9lu %9s  hits %lu, flushes %lu (%lu entries), "
	       "all from invalidate_range\n",
	       "devtlb", r->devtlb.fills, "-", r->devtlb.hits,
	       r->devtlb.flushes, r->devtlb.flushed);
	printf("  %-16s %9lu %9lu  hits %lu, invalidated %lu, pages pinned "
	       "%lu, unpinned %lu\n",
	       "regcache", r->regcache.registrations, r->regcache.retries,
	       r->regcache.hits, r->regcache.invalidations, r->regcache.pins,
	       r->regcache.unpins);

	printf("\n== The oracle\n");
	printf("  %lu accesses through the secondaries, each compared with the "
	       "primary under its page-table lock;\n  %lu read back their "
	       "data; %lu faults retried because an invalidation collided.\n",
	       r->checked, r->data_checked, r->retries);
	if (r->stale)
		printf("  VERDICT: %lu STALE translation(s); the first: %s\n",
		       r->stale, r->first_stale);
	else
		printf("  VERDICT: coherent - no secondary ever held a "
		       "translation the primary had taken away.\n");
}

int main(int argc, char **argv)
{
	struct workload_config cfg;
	struct workload_report rep;

	workload_defaults(&cfg);
	if (argc == 3 && !strcmp(argv[1], "--seconds")) {
		cfg.seconds = atof(argv[2]);
	} else if (argc != 1) {
		fprintf(stderr, "usage: umn-demo [--seconds N]\n");
		return EXIT_SETUP;
	}
	if (cfg.seconds <= 0)
		return EXIT_SETUP;
	cfg.seed = 20171231;
	cfg.progress = progress;
	puts("umn-demo: a guest address space on the soft MMU, with a KVM-like "
	     "mirror (two kinds),\nan IOMMU-like device TLB and an RDMA-like "
	     "registration cache attached.\n");
	if (step_by_step())
		return EXIT_FAILED;
	printf("== 2. Everything at once, for %.0f seconds\n", cfg.seconds);
	fflush(stdout);
	if (workload_run(&cfg, &rep))
		return EXIT_SETUP;
	fputc('\n', stderr);
	table(&cfg, &rep);
	if (rep.stale)
		return EXIT_STALE;
	if (rep.leaked) {
		printf("  Frames were left allocated at teardown: a leak.\n");
		return EXIT_FAILED;
	}
	if (rep.checked < MIN_CHECKS) {
		printf("  Too little tested: only %lu accesses checked, fewer "
		       "than %lu.\n",
		       rep.checked, MIN_CHECKS);
		return EXIT_FAILED;
	}
	return 0;
}
