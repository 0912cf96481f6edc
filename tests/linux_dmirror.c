// SPDX-License-Identifier: MIT
/*
 * tests/linux_dmirror.c - the kernel-style device mirror of
 * examples/linux_hmm_mirror.c, compiled from that very file, under
 * torture, with a coherence oracle.  Not a benchmark: no timing is
 * asserted.
 *
 * Threads, for --seconds: two run the soft MMU's operations on the
 * mirrored window (munmap and mmap, mprotect, mremap, madvise, CPU writes,
 * fork and copy-on-write, THP split and collapse, migration, reclaim,
 * cleaning, KSM, aging); two are the device, faulting random pages of the
 * window for reading or writing through dmirror_fault(); one is an OOM
 * reaper that fires non-blockable invalidations through the kernel's
 * spelling (mmu_notifier_invalidate_range_start_nonblock()), which the
 * driver refuses when its mutex is taken.
 *
 * The oracle.  A device entry that outlives the CPU's translation is a
 * device's use-after-free; each of these counts one stale entry and stops
 * the run:
 *  1. after each device fault, under the page-table lock of the CPU's
 *     entry (umn_soft_lookup()'s fill callback) and the driver's mutex,
 *     the device's entry for the page is absent, or maps the CPU's frame,
 *     4 KiB and generation, and is writable only if the CPU's is;
 *  2. under the driver's mutex, every present entry maps a frame not freed
 *     since it was installed (the frame's generation is unchanged): the
 *     faulted entry after each fault, the whole table every 64 faults;
 *  3. when the soft MMU frees a frame, no present entry maps it.
 *
 * --break plants a bug in the driver from here, without touching its
 * source: set-seq makes its ->invalidate skip mmu_interval_set_seq(),
 * retry makes its fault path skip mmu_interval_read_retry().  The run must
 * then find a stale entry and exit 3: the oracle can fail.
 *
 * Exit status: 0 nothing stale in at least MIN_CHECKS checks under the
 * PTL, 1 nothing stale but fewer checks (too little tested), 2 usage or
 * setup error, 3 a stale entry (the oracle's verdict).
 */
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <umn/linux/mmu_notifier.h>
#include "../tools/findings.h"
#include "soft_torture.h"

enum { BREAK_NONE, BREAK_SET_SEQ, BREAK_RETRY };
static const char *const break_names[] = { "none", "set-seq", "retry" };
static int planted;

enum { EXIT_FEW_CHECKS = 1, EXIT_SETUP = 2, EXIT_STALE = 3 };
/* A 2-core machine under TSan does thousands a second. */
#define MIN_CHECKS 2000UL

/* The planted bugs: the header's functions, or nothing. */
#define mmu_interval_set_seq(sub, seq)          \
	(planted == BREAK_SET_SEQ ? (void)(seq) \
				  : (mmu_interval_set_seq)(sub, seq))
#define mmu_interval_read_retry(sub, seq) \
	(planted != BREAK_RETRY && (mmu_interval_read_retry)(sub, seq))

#define DMIRROR_NO_MAIN
#include "../examples/linux_hmm_mirror.c"

#define WIN_PAGES 1024UL /* 4 MiB: two 2 MiB blocks */
#define RW	  (UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE)
#define PRIMARIES 2
#define DEVICES	  2

static struct dmirror *dm; /* NULL when the oracle must not look */
static unsigned long win, seed;
static double seconds = 3;
static struct findings found; /* the oracle's, and the run's end */
static unsigned long checks, sweeps, frees;
static struct soft_torture torture; /* the primaries and the reaper */

static const char *const op_names[UMN_SOFT_OP_COUNT] = {
	"mmap",	   "munmap",  "mprotect", "mremap", "madvise",
	"fault",   "cow",     "fork",	  "split",  "collapse",
	"migrate", "reclaim", "clean",	  "ksm",    "age"
};
static const char *const event_names[UMN_EVENT_COUNT] = {
	"unmap",      "clear",	 "protection-vma", "protection-page",
	"soft-dirty", "release", "migrate",	   "exclusive"
};

static bool stopping(void)
{
	return findings_stopping(&found);
}

static void count(unsigned long *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

#define rnd soft_mix_rnd

/* Oracle 2, for entry @i; under dm->mutex. */
static void check_alive(unsigned long i)
{
	const struct dmirror_pte *pte = &dm->pt[i];
	unsigned long gen;

	if (!(pte->flags & DPTE_VALID))
		return;
	gen = umn_soft_frame_gen(glue_frames, pte->frame);
	if (gen != pte->gen)
		findings_add(&found,
			     "device maps %#lx to frame %lu gen %lu, freed "
			     "since (now gen %lu)",
			     dm->start + i * PAGE_SIZE, pte->frame, pte->gen,
			     gen);
}

/* Oracle 1, under the PTL of the CPU's entry @t for *@arg. */
static void check_fill(void *arg, const struct umn_soft_translation *t)
{
	unsigned long addr = *(unsigned long *)arg;
	unsigned long i = (addr - dm->start) >> PAGE_SHIFT;
	unsigned long sub = (t->size == PAGE_SIZE ? t->subpage : 0) +
			    ((addr - t->base) >> PAGE_SHIFT);
	struct dmirror_pte pte;

	mutex_lock(&dm->mutex);
	pte = dm->pt[i];
	check_alive(i);
	mutex_unlock(&dm->mutex);
	if ((pte.flags & DPTE_VALID) &&
	    (pte.frame != t->frame || pte.subpage != sub || pte.gen != t->gen ||
	     ((pte.flags & DPTE_WRITE) && !t->writable)))
		findings_add(&found,
			     "device maps %#lx to frame %lu/%lu gen %lu%s, the "
			     "CPU to %lu/%lu gen %lu%s",
			     addr, pte.frame, pte.subpage, pte.gen,
			     pte.flags & DPTE_WRITE ? " rw" : "", t->frame, sub,
			     t->gen, t->writable ? " rw" : "");
}

/* Oracle 3: the soft MMU frees @frame (still at @gen). */
static void free_hook(void *arg, unsigned long frame, unsigned long gen)
{
	struct dmirror *d = __atomic_load_n(&dm, __ATOMIC_ACQUIRE);
	unsigned long i;

	(void)arg;
	if (!d)
		return;
	mutex_lock(&d->mutex);
	for (i = 0; i < WIN_PAGES; i++)
		if ((d->pt[i].flags & DPTE_VALID) && d->pt[i].frame == frame &&
		    d->pt[i].gen == gen)
			findings_add(&found,
				     "frame %lu freed while the device maps it "
				     "at %#lx",
				     frame, d->start + i * PAGE_SIZE);
	mutex_unlock(&d->mutex);
	count(&frees);
}

/* A slow walk now and then, between the lookup and the install: where the
 * races live. */
static void slow_walk(void)
{
	static __thread unsigned long s = 0x9e3779b97f4a7c15UL;

	if (rnd(&s) % (planted ? 4 : 32) == 0)
		sched_yield();
}

static void *device(void *arg)
{
	unsigned long s = seed * 2654435761UL + (unsigned long)arg + 1;
	unsigned long addr, i, n = 0, word;

	while (!stopping()) {
		addr = win + (rnd(&s) % WIN_PAGES) * PAGE_SIZE;
		dmirror_fault(dm, addr, rnd(&s) & 1);
		/* The device's DMA through its entry (not with a planted bug:
		 * a read through a stale entry would crash before the oracle
		 * could report it). */
		if (!planted && rnd(&s) % 8 == 0)
			dmirror_read(dm, addr, &word, sizeof(word));
		/* -EFAULT or -EACCES: a CPU operation got there first, and
		 * the oracle checks that nothing stale was left. */
		umn_soft_lookup(glue_sm, addr, false, check_fill, &addr, NULL);
		count(&checks);
		if (++n % 64)
			continue;
		mutex_lock(&dm->mutex);
		for (i = 0; i < WIN_PAGES; i++)
			check_alive(i);
		mutex_unlock(&dm->mutex);
		count(&sweeps);
	}
	return NULL;
}

static void *primary(void *arg)
{
	soft_mix_run(&torture.mix, (int)(long)arg, seed);
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: linux-dmirror [--seconds N] [--seed S] "
			"[--break set-seq|retry]\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "break", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 }
	};
	int o;

	while ((o = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		if (o == 's')
			seconds = atof(optarg);
		else if (o == 'S')
			seed = strtoul(optarg, NULL, 0);
		else if (o == 'b' && !strcmp(optarg, "set-seq"))
			planted = BREAK_SET_SEQ;
		else if (o == 'b' && !strcmp(optarg, "retry"))
			planted = BREAK_RETRY;
		else
			usage();
	}
	if (optind != argc || seconds <= 0)
		usage();
	if (!seed)
		seed = (unsigned long)time(NULL) ^ (unsigned long)getpid();
}

static void report(double secs)
{
	struct umn_soft_stats st = { 0 };
	int i;

	umn_soft_stats(glue_frames, &st);
	printf("linux-dmirror: seed %lu, %.1f s, break %s\n  operations:", seed,
	       secs, break_names[planted]);
	for (i = 0; i < UMN_SOFT_OP_COUNT; i++)
		printf(" %s %lu", op_names[i], st.ops[i]);
	printf("\n  invalidations:");
	for (i = 0; i < UMN_EVENT_COUNT; i++)
		printf(" %s %lu", event_names[i], st.events[i]);
	printf("\n  frames freed %lu; reaper: %lu non-blockable ranges, %lu "
	       "refused\n",
	       st.frames_freed, torture.reaper_starts, torture.reaper_refused);
	printf("  device: %lu faults installed, %lu read_retry retries, %lu "
	       "invalidations, %lu entries zapped, %ld refused\n",
	       dm->faults, dm->retries, dm->invalidations, dm->zapped,
	       atomic_long_read(&dm->refused));
	if (found.count)
		printf("  first finding: %s\n", found.first);
	printf("  oracle: %lu checks under the PTL, %lu sweeps, %lu frees "
	       "checked: %lu stale\n",
	       checks, sweeps, frees, found.count);
}

int main(int argc, char **argv)
{
	struct umn_soft_frames_config cfg = { .free_hook = free_hook };
	pthread_t th[PRIMARIES + DEVICES + 1];
	struct dmirror *d;
	double start;
	int i, n = 0;
	bool leaked;

	parse(argc, argv);
	if (umn_soft_frames_create(&cfg, &glue_frames) ||
	    umn_soft_mm_create(glue_frames, &glue_sm) ||
	    umn_linux_mm_create(umn_soft_mm_umn(glue_sm), glue_sm, &glue_mm) ||
	    umn_soft_mmap(glue_sm, 0, WIN_PAGES * PAGE_SIZE, RW,
			  UMN_SOFT_MAP_THP, &win) ||
	    dmirror_new(glue_mm, win, WIN_PAGES * PAGE_SIZE, &d)) {
		fprintf(stderr, "linux-dmirror: setup failed\n");
		return EXIT_SETUP;
	}
	__atomic_store_n(&dm, d, __ATOMIC_RELEASE);
	glue_walk_hook = slow_walk;
	soft_torture_init(&torture, glue_sm, glue_mm, win, WIN_PAGES, seed,
			  stopping);

	start = now();
	for (i = 0; i < PRIMARIES; i++)
		pthread_create(&th[n++], NULL, primary, (void *)(long)i);
	for (i = 0; i < DEVICES; i++)
		pthread_create(&th[n++], NULL, device, (void *)(long)i);
	pthread_create(&th[n++], NULL, soft_torture_reaper, &torture);
	while (!stopping() && now() - start < seconds)
		usleep(20000);
	findings_stop(&found);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	report(now() - start);

	__atomic_store_n(&dm, NULL, __ATOMIC_RELEASE);
	dmirror_free(d);
	umn_soft_mm_destroy(glue_sm);
	mmput(glue_mm);
	leaked = umn_soft_frames_destroy(glue_frames) != 0;
	if (found.count) {
		printf("linux-dmirror: oracle: %lu stale entries found\n",
		       found.count);
		return EXIT_STALE;
	}
	if (leaked) {
		printf("linux-dmirror: frames left allocated at teardown: a "
		       "leak\n");
		return EXIT_FEW_CHECKS;
	}
	if (checks < MIN_CHECKS) {
		printf("linux-dmirror: only %lu checks under the PTL, fewer "
		       "than %lu: too little tested\n",
		       checks, MIN_CHECKS);
		return EXIT_FEW_CHECKS;
	}
	return 0;
}
