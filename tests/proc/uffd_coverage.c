// SPDX-License-Identifier: MIT
/*
 * tests/proc/uffd_coverage.c - what the userfaultfd source registers:
 * every mapping an interval notifier covers, kept registered when it is
 * replaced; every mapping at all once a classic notifier hears the mm.
 *
 *	umn-proc-uffd-coverage [--test replace|classic|late]
 *			       [--sources uffd|all] [--rounds N] [--control]
 *
 * replace: two threads each keep one interval notifier on a range of their own
 * (the two ranges are neighbours, in one mapping at first) and, round
 * after round, replace their range with a raw mmap(MAP_FIXED) (unseen by
 * the hooks), or unmap it (raw, or through libc) and map it again with a
 * raw mmap, while the other does the same.  After each replacement and
 * umn_proc_uffd_sync():
 *  - the range must be registered with umn's userfaultfd (the "uw" flag of
 *    its mapping in /proc/self/smaps), and
 *  - a raw munmap of one page of it must reach the interval's callback.
 *
 * classic: a classic notifier and no interval; raw system calls (unseen by
 * the hooks) must reach it after umn_proc_uffd_sync(): a munmap and a
 * madvise(MADV_DONTNEED) of a mapping made before it registered, of one
 * made by a raw mmap after (caught up at the sync), and of one made by
 * libc's mmap after.
 *
 * late: an interval and a classic notifier registered before the source
 * starts; a raw munmap under each must then be heard.
 *
 * --control switches the source off before the checks: then they must
 * fail (the oracle can fail), and the program exits 0 only if they did.
 * Exit 0 (pass), 1 (a check failed), 77 (no userfaultfd here).
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
#include <umn/notifier.h>
#include <umn/proc.h>

#include "sanitized.h"

#define PAGE  UMN_PAGE_SIZE
#define PAGES 4
#define LEN   (PAGES * PAGE)

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
		/* unmapped first: raw, or through libc (the hook, under
		 * --sources all, tells userfaultfd to forget the range) */
		if (i % 3 == 1)
			syscall(SYS_munmap, o->range, LEN);
		else if (i % 3 == 2) {
			/* whole and registered first, so that the hook's
			 * unregister covers it all */
			if (raw_mmap_fixed(o->range) != o->range)
				abort();
			umn_proc_uffd_sync();
			munmap(o->range, LEN);
		}
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

/* --- classic and late --- */

static unsigned long watch_lo, watch_hi, heard_classic; /* atomic */

static int classic_start(struct umn_notifier *n, const struct umn_range *r)
{
	(void)n;
	if (r->start < __atomic_load_n(&watch_hi, __ATOMIC_RELAXED) &&
	    r->end > __atomic_load_n(&watch_lo, __ATOMIC_RELAXED))
		__atomic_fetch_add(&heard_classic, 1, __ATOMIC_RELAXED);
	return 0;
}

static const struct umn_notifier_ops classic_ops = {
	.invalidate_range_start = classic_start,
};

static char *raw_map(void)
{
	char *p = (char *)syscall(SYS_mmap, NULL, LEN, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		abort();
	memset(p, 1, LEN);
	return p;
}

/* Is a raw call on [p, p + len) heard by the classic notifier? */
static bool raw_heard(char *p, unsigned long len, int advice)
{
	unsigned long before =
		__atomic_load_n(&heard_classic, __ATOMIC_RELAXED);

	__atomic_store_n(&watch_lo, (unsigned long)p, __ATOMIC_RELAXED);
	__atomic_store_n(&watch_hi, (unsigned long)p + len, __ATOMIC_RELAXED);
	if (advice < 0)
		syscall(SYS_munmap, p, len);
	else
		syscall(SYS_madvise, p, len, advice);
	umn_proc_uffd_sync();
	return __atomic_load_n(&heard_classic, __ATOMIC_RELAXED) != before;
}

static int verdict(const char *what, unsigned long checked,
		   unsigned long missed)
{
	printf("%s: %lu raw calls, %lu unheard%s\n", what, checked, missed,
	       control ? " (control: the source was off)" : "");
	if (control)
		return missed == checked ? 0 : 1;
	return missed ? 1 : 0;
}

static int test_classic(void)
{
	struct umn_notifier n = { 0 };
	unsigned long checked = 0, missed = 0;
	char *before = raw_map(), *p;
	unsigned int i;

	if (umn_notifier_register(&n, &classic_ops, umn_proc_mm()))
		return 1;
	if (control)
		umn_proc_stop(UMN_PROC_UFFD);
	for (i = 0; i < rounds; i++) {
		/* made before the notifier: discard a page, unmap another */
		if (i == 0) {
			checked += 2;
			missed += !raw_heard(before, PAGE, MADV_DONTNEED);
			missed += !raw_heard(before + PAGE, PAGE, -1);
		}
		/* made out of sight: caught up at a sync */
		p = raw_map();
		umn_proc_uffd_sync();
		checked += 2;
		missed += !raw_heard(p, PAGE, MADV_DONTNEED);
		missed += !raw_heard(p, LEN, -1);
		/* made by libc's mmap (hooked under --sources all) */
		p = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 1;
		memset(p, 1, LEN);
		umn_proc_uffd_sync();
		checked++;
		missed += !raw_heard(p, LEN, -1);
	}
	return verdict("classic", checked, missed);
}

static int test_late(void)
{
	struct umn_notifier n = { 0 };
	struct owner o = { 0 };
	unsigned long checked = 2, missed = 0, before;
	char *a = raw_map(), *b = raw_map();

	if (umn_interval_notifier_insert(&o.sub, umn_proc_mm(),
					 (unsigned long)a, LEN, &ops))
		return 1;
	if (umn_notifier_register(&n, &classic_ops, umn_proc_mm()))
		return 1;
	if (!control && umn_proc_start(UMN_PROC_UFFD) < 0)
		return 1;
	before = __atomic_load_n(&o.heard, __ATOMIC_RELAXED);
	syscall(SYS_munmap, a, PAGE);
	umn_proc_uffd_sync();
	missed += __atomic_load_n(&o.heard, __ATOMIC_RELAXED) == before;
	missed += !raw_heard(b, LEN, -1);
	return verdict("late", checked, missed);
}

int main(int argc, char **argv)
{
	unsigned int sources = UMN_PROC_UFFD;
	const char *test = "replace";
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
		else if (!strcmp(argv[i], "--test") && i + 1 < argc)
			test = argv[++i];
		else {
			fprintf(stderr,
				"usage: %s [--sources uffd|all] "
				"[--rounds N] [--control]\n",
				argv[0]);
			return 2;
		}
	}
	unsetenv("UMN_PROC_SOURCES");
	if (SANITIZED && strcmp(test, "replace")) {
		/* primaries/proc/uffd.c, sanitized() */
		printf("skipped: under a sanitizer's runtime a classic "
		       "notifier hears through userfaultfd only what "
		       "intervals cover\n");
		return SKIP;
	}
	if (TSAN && (sources & UMN_PROC_HOOKS)) {
		printf("skipped: under TSan, threads that exit through the "
		       "hooks crash TSan's runtime (docs/proc.md)\n");
		return SKIP;
	}
	if (!strcmp(test, "late")) {
		/* The mm first (hooks only, or none), the source later. */
		if (umn_proc_start(sources & UMN_PROC_HOOKS) < 0)
			return 1;
		ret = umn_proc_start(UMN_PROC_UFFD);
		if (ret < 0) {
			printf("skipped: no userfaultfd source here (%d)\n",
			       ret);
			return SKIP;
		}
		umn_proc_stop(UMN_PROC_UFFD);
		return test_late();
	}
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
	if (!strcmp(test, "classic"))
		return test_classic();
	if (strcmp(test, "replace"))
		return 2;
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
