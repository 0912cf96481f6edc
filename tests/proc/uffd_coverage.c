// SPDX-License-Identifier: MIT
/*
 * tests/proc/uffd_coverage.c - the userfaultfd source keeps a replaced
 * mapping registered while an interval notifier stays on it.
 *
 *	umn-proc-uffd-coverage [--sources uffd|all] [--rounds N] [--control]
 *
 * Two threads each keep one interval notifier on a range of their own
 * (the two ranges are neighbours, in one mapping at first) and, round
 * after round, replace their range with a raw mmap(MAP_FIXED) (unseen by
 * the hooks), or unmap it and map it again, while the other does the
 * same.  After each replacement and umn_proc_uffd_sync():
 *  - the range must be registered with umn's userfaultfd (the "uw" flag of
 *    its mapping in /proc/self/smaps), and
 *  - a raw munmap of one page of it must reach the interval's callback.
 * --control switches the source off before the rounds: then the first
 * check must fail (the oracle can fail), and the program exits 0 only if
 * it did.  Exit 0 (pass), 1 (a check failed), 77 (no userfaultfd here).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <umn/interval.h>
#include <umn/proc.h>

#define PAGE  UMN_PAGE_SIZE
#define PAGES 4
#define LEN   (PAGES * PAGE)
#define SKIP  77

struct owner {
	struct umn_interval_notifier sub;
	pthread_t thread;
	char *range;
	unsigned long heard; /* atomic: invalidations of the range */
	unsigned long unwatched, unheard, rounds;
};

static unsigned int rounds = 300;
static bool control;

static bool heard(struct umn_interval_notifier *sub,
		  const struct umn_range *range, unsigned long seq)
{
	struct owner *o = (struct owner *)sub;

	(void)range;
	umn_interval_set_seq(sub, seq);
	__atomic_fetch_add(&o->heard, 1, __ATOMIC_RELAXED);
	return true;
}

static const struct umn_interval_notifier_ops ops = {
	.name = "coverage",
	.invalidate = heard,
};

/* 1 if the mapping at @addr has userfaultfd's write-protect flag, 0 if
 * not, -1 if no mapping is there. */
static int watched(unsigned long addr)
{
	char line[1024];
	unsigned long lo, hi;
	bool here = false;
	int ret = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, ' ') > strchr(line, '-')) {
			here = addr >= lo && addr < hi;
			continue;
		}
		if (here && !strncmp(line, "VmFlags:", 8)) {
			ret = strstr(line, " uw") != NULL;
			break;
		}
	}
	fclose(f);
	return ret;
}

static void *raw_mmap_fixed(void *addr)
{
	return (void *)syscall(SYS_mmap, addr, LEN, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

static void *run(void *arg)
{
	struct owner *o = arg;
	unsigned long before;
	unsigned int i;

	for (i = 0; i < rounds; i++) {
		if (i % 2)
			syscall(SYS_munmap, o->range, LEN);
		if (raw_mmap_fixed(o->range) != o->range)
			abort();
		o->range[0] = 1;
		umn_proc_uffd_sync();
		o->rounds++;
		if (watched((unsigned long)o->range) != 1) {
			o->unwatched++;
			continue;
		}
		/* Heard after the fact: a raw munmap of the last page. */
		before = __atomic_load_n(&o->heard, __ATOMIC_RELAXED);
		syscall(SYS_munmap, o->range + LEN - PAGE, PAGE);
		umn_proc_uffd_sync();
		if (__atomic_load_n(&o->heard, __ATOMIC_RELAXED) == before)
			o->unheard++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned int sources = UMN_PROC_UFFD;
	struct owner own[2] = { 0 };
	unsigned long unwatched = 0, unheard = 0, done = 0;
	char *map;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sources") && i + 1 < argc)
			sources = !strcmp(argv[++i], "all") ? UMN_PROC_ALL
							    : UMN_PROC_UFFD;
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = (unsigned int)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--control"))
			control = true;
		else {
			fprintf(stderr,
				"usage: %s [--sources uffd|all] "
				"[--rounds N] [--control]\n",
				argv[0]);
			return 2;
		}
	}
	unsetenv("UMN_PROC_SOURCES");
	ret = umn_proc_start(sources);
	if (ret < 0 || !(ret & UMN_PROC_UFFD)) {
		printf("skipped: no userfaultfd source here (%d)\n", ret);
		return SKIP;
	}
	map = mmap(NULL, 2 * LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return 1;
	memset(map, 1, 2 * LEN);
	for (i = 0; i < 2; i++) {
		own[i].range = map + i * LEN;
		if (umn_interval_notifier_insert(&own[i].sub, umn_proc_mm(),
						 (unsigned long)own[i].range,
						 LEN, &ops))
			return 1;
	}
	if (control)
		umn_proc_stop(UMN_PROC_UFFD);
	for (i = 0; i < 2; i++)
		if (pthread_create(&own[i].thread, NULL, run, &own[i]))
			return 1;
	for (i = 0; i < 2; i++) {
		pthread_join(own[i].thread, NULL);
		unwatched += own[i].unwatched;
		unheard += own[i].unheard;
		done += own[i].rounds;
	}
	printf("%lu replacements: %lu left unregistered, %lu raw unmaps "
	       "unheard%s\n",
	       done, unwatched, unheard,
	       control ? " (control: the source was off)" : "");
	if (done < 2UL * rounds)
		return 1;
	if (control)
		return unwatched ? 0 : 1;
	return unwatched || unheard ? 1 : 0;
}
