// SPDX-License-Identifier: MIT
/*
 * umn-proc-events CLASS - make exactly one invalidation of one class, on
 * memory set up for it, and say where: the test program of each event class
 * that umn's process primary claims to see (tests/proc/watch-events.sh runs
 * it under umn-watch and checks the report).
 *
 * It prints one line on standard output,
 *
 *	expect 0xSTART 0xEND TID
 *
 * the page-aligned range [START, END) that the act takes away (for the
 * allocator classes under another allocator: the pages inside the block,
 * which that allocator may or may not give back) and the thread that acts.
 * The line is printed after the act (brk must not meet a malloc between
 * its grow and its shrink).  Exit status: 0; 77 when the class cannot be
 * set up here (no shm, no memfd, or the sources UMN_PROC_SOURCES names
 * cannot start: no userfaultfd); 1 on failure.
 *
 * Before acting it starts the process mm (umn_proc_start(UMN_PROC_ALL):
 * UMN_PROC_SOURCES decides, as under umn-watch, whose preload library has
 * started it already) and inserts an interval notifier over the range,
 * which is what registers the range with userfaultfd.  After acting it
 * waits for the userfaultfd monitor (umn_proc_uffd_sync()), so that the
 * kernel's event is reported before the program exits.
 *
 * Two more classes check umn-watch itself: "fork" (the child unmaps) and
 * "exec" (the program runs itself again for "munmap").
 *
 * "umn-proc-events list" prints the classes.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <umn/interval.h>
#include <umn/proc.h>

#ifndef EVENTS_DSO
#define EVENTS_DSO "libumn-proc-events-dso.so"
#endif

#define PAGE 4096UL
#define SKIP 77

static unsigned long page_down(unsigned long a)
{
	return a & ~(PAGE - 1);
}

static unsigned long page_up(unsigned long a)
{
	return page_down(a + PAGE - 1);
}

/* What the act takes away, and who acts. */
static struct {
	unsigned long start, end;
	pid_t tid;
} expect;

static void expect_range(unsigned long start, unsigned long end)
{
	expect.start = start;
	expect.end = end;
	expect.tid = gettid();
}

static bool watch_invalidate(struct umn_interval_notifier *sub,
			     const struct umn_range *range,
			     unsigned long cur_seq)
{
	(void)range;
	umn_interval_set_seq(sub, cur_seq);
	return true;
}

static const struct umn_interval_notifier_ops watch_ops = {
	.name = "umn-proc-events",
	.invalidate = watch_invalidate,
};

static struct umn_interval_notifier watch_sub;

/*
 * Mirror [start, end) with an interval notifier: under the userfaultfd
 * source this registers the range with the kernel; under the hooks it
 * puts the act on the interval path.  Never removed: the program ends.
 */
static int watch(unsigned long start, unsigned long end)
{
	struct umn_mm *mm = umn_proc_mm();
	int ret;

	if (!mm)
		return 0; /* UMN_PROC_SOURCES=none: nothing to mirror */
	ret = umn_interval_notifier_insert(&watch_sub, mm, start, end - start,
					   &watch_ops);
	if (ret)
		fprintf(stderr, "interval insert [%#lx, %#lx): %s\n", start,
			end, strerror(-ret));
	return ret;
}

static void *map_anon(unsigned long len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x5a, len);
	return p;
}

/* 16 mapped, touched pages; the act takes pages 4 to 11. */
static char *sixteen(void)
{
	char *p = map_anon(16 * PAGE);

	if (!p || watch((unsigned long)p, (unsigned long)p + 16 * PAGE))
		return NULL;
	expect_range((unsigned long)p + 4 * PAGE, (unsigned long)p + 12 * PAGE);
	return p;
}

static int do_munmap(void)
{
	char *p = sixteen();

	return !p || munmap(p + 4 * PAGE, 8 * PAGE);
}

static int do_syscall(void)
{
	char *p = sixteen();

	return !p || syscall(SYS_munmap, p + 4 * PAGE, 8 * PAGE);
}

static int do_mapfixed(void)
{
	char *p = sixteen();

	return !p || mmap(p + 4 * PAGE, 8 * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			  0) != p + 4 * PAGE;
}

static int do_madvise(int advice)
{
	char *p = sixteen();

	return !p || madvise(p + 4 * PAGE, 8 * PAGE, advice);
}

static int do_dontneed(void)
{
	return do_madvise(MADV_DONTNEED);
}

static int do_free(void)
{
	return do_madvise(MADV_FREE);
}

/*
 * Map 16 pages of the file @fd shared, fill them, watch them and expect
 * the middle eight in *@p: 0, SKIP if @fd could not be made (negative) or
 * sized, or 1.
 */
static int watch_shared(int fd, char **p)
{
	if (fd < 0 || ftruncate(fd, 16 * PAGE))
		return SKIP;
	*p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*p == MAP_FAILED)
		return 1;
	memset(*p, 0x5a, 16 * PAGE);
	if (watch((unsigned long)*p, (unsigned long)*p + 16 * PAGE))
		return 1;
	expect_range((unsigned long)*p + 4 * PAGE,
		     (unsigned long)*p + 12 * PAGE);
	return 0;
}

/* MADV_REMOVE punches a hole in shared memory: a memfd here. */
static int do_remove(void)
{
	char *p;
	int ret =
		watch_shared(memfd_create("umn-proc-events", MFD_CLOEXEC), &p);

	return ret ? ret : madvise(p + 4 * PAGE, 8 * PAGE, MADV_REMOVE);
}

/* munmap of a shared mapping of a regular file (not shmem). */
static int do_file(void)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *p;
	int ret = watch_shared(open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600),
			       &p);

	return ret ? ret : munmap(p + 4 * PAGE, 8 * PAGE);
}

static int do_mremap_shrink(void)
{
	char *p = map_anon(16 * PAGE);

	if (!p || watch((unsigned long)p, (unsigned long)p + 16 * PAGE))
		return 1;
	expect_range((unsigned long)p + 4 * PAGE, (unsigned long)p + 16 * PAGE);
	return mremap(p, 16 * PAGE, 4 * PAGE, 0) != p;
}

static int do_mremap_move(void)
{
	char *p = map_anon(16 * PAGE), *to = map_anon(16 * PAGE);

	if (!p || !to || watch((unsigned long)p, (unsigned long)p + 16 * PAGE))
		return 1;
	expect_range((unsigned long)p, (unsigned long)p + 16 * PAGE);
	return mremap(p, 16 * PAGE, 16 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
		      to) != to;
}

static int do_shmdt(void)
{
	int id = shmget(IPC_PRIVATE, 16 * PAGE, IPC_CREAT | 0600);
	char *p;

	if (id < 0)
		return SKIP;
	p = shmat(id, NULL, 0);
	shmctl(id, IPC_RMID, NULL); /* goes with the last detach */
	if (p == (void *)-1)
		return SKIP;
	memset(p, 0x5a, 16 * PAGE);
	if (watch((unsigned long)p, (unsigned long)p + 16 * PAGE))
		return 1;
	expect_range((unsigned long)p, (unsigned long)p + 16 * PAGE);
	return shmdt(p);
}

/* A library loaded after umn started calls munmap itself. */
static int do_dlopen(void)
{
	int (*dso_munmap)(void *, size_t);
	void *dso = dlopen(EVENTS_DSO, RTLD_NOW | RTLD_LOCAL);
	char *p;

	if (!dso) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	*(void **)&dso_munmap = dlsym(dso, "umn_events_dso_munmap");
	p = sixteen();
	return !dso_munmap || !p || dso_munmap(p + 4 * PAGE, 8 * PAGE);
}

static void *thread_munmap(void *arg)
{
	char *p = arg;

	expect.tid = gettid();
	return (void *)(long)munmap(p + 4 * PAGE, 8 * PAGE);
}

static int do_thread(void)
{
	char *p = sixteen();
	pthread_t t;
	void *ret;

	if (!p || pthread_create(&t, NULL, thread_munmap, p) ||
	    pthread_join(t, &ret))
		return 1;
	return ret != NULL;
}

/*
 * brk and sbrk: grow the break by 16 pages of our own, give 8 back.
 * malloc must not move the break in between, so it is given room at the
 * top of its heap first (the interval insert may allocate).
 */
static int brk_shrink(bool use_sbrk)
{
	unsigned long base;
	char *cur;
	void *p;

	mallopt(M_TOP_PAD, 4 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	free(malloc(64));
	cur = sbrk(0);
	if (cur == (void *)-1 || sbrk(page_up((unsigned long)cur) -
				      (unsigned long)cur) == (void *)-1)
		return 1;
	base = (unsigned long)sbrk(0);
	p = sbrk(16 * PAGE);
	if (p == (void *)-1)
		return SKIP;
	memset(p, 0x5a, 16 * PAGE);
	if (watch(base, base + 16 * PAGE))
		return 1;
	expect_range(base + 8 * PAGE, base + 16 * PAGE);
	if (use_sbrk)
		return sbrk(-(long)(8 * PAGE)) == (void *)-1;
	return brk((void *)(base + 8 * PAGE));
}

static int do_brk(void)
{
	return brk_shrink(false);
}

static int do_sbrk(void)
{
	return brk_shrink(true);
}

/*
 * The allocator classes.  Under glibc the block is an mmapped chunk
 * (bigger than the mmap threshold) and the pages inside it are exactly
 * what goes; under another allocator they are what may go.
 */
static char *block(size_t size)
{
	char *p = malloc(size);

	if (!p)
		return NULL;
	memset(p, 0x5a, size);
	/*
	 * Mirror every page the block touches: under glibc, the mapped
	 * chunk exactly.  (Before umn registered whole mappings with
	 * userfaultfd, a part split the mapping, and realloc's mremap() of
	 * the chunk failed with EFAULT.)
	 */
	if (watch(page_down((unsigned long)p),
		  page_up((unsigned long)p + size)))
		return NULL;
	expect_range(page_up((unsigned long)p),
		     page_down((unsigned long)p + size));
	return p;
}

static int do_free_large(void)
{
	char *p = block(4 << 20);

	if (!p)
		return 1;
	free(p);
	return 0;
}

static int do_realloc_move(void)
{
	char *p = block(1 << 20), *q, *guard;

	if (!p)
		return 1;
	/* Occupy the page after the block, so that it cannot grow there. */
	guard = mmap((void *)page_up((unsigned long)p + (1 << 20)), PAGE,
		     PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	(void)guard; /* EEXIST: something is there already, as good */
	q = realloc(p, 3 << 20);
	if (!q)
		return 1;
	if (q == p) {
		fprintf(stderr, "realloc did not move the block\n");
		return 1;
	}
	return 0;
}

static int do_realloc_shrink(void)
{
	char *p = block(4 << 20), *q;

	if (!p)
		return 1;
	/* Under glibc, the mapped chunk's tail beyond 1 MiB goes. */
	expect_range(page_up((unsigned long)p + (1 << 20) + 64),
		     page_down((unsigned long)p + (4 << 20)));
	q = realloc(p, 1 << 20);
	return !q;
}

/*
 * malloc_trim(): a free block in the middle of the heap (the block after it
 * keeps it off the top) has the pages inside it discarded.
 */
static int do_trim(void)
{
	size_t size = 512 << 10;
	char *p, *pin;

	mallopt(M_MMAP_MAX, 0); /* from the heap, however big */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	p = malloc(size);
	pin = malloc(64);
	if (!p || !pin)
		return 1;
	memset(p, 0x5a, size);
	if (watch(page_up((unsigned long)p + 64),
		  page_down((unsigned long)p + size - 64)))
		return 1;
	expect_range(page_up((unsigned long)p + 64),
		     page_down((unsigned long)p + size - 64));
	free(p);
	malloc_trim(0);
	return 0;
}

static void print_expect(void)
{
	if (umn_proc_sources() & UMN_PROC_UFFD)
		umn_proc_uffd_sync();
	printf("expect %#lx %#lx %d\n", expect.start, expect.end, expect.tid);
	fflush(stdout);
}

/*
 * A forked child is a new mm with no notifiers (umn/proc.h); umn-watch's
 * fork handler starts watching it again.  The child makes the munmap,
 * prints the expect line and leaves with _exit(): umn leaks the mm it
 * copied from the parent on purpose (docs/proc.md), which LeakSanitizer
 * would report at exit().  The parent only waits.
 */
static int do_fork(void)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		/* Under umn-watch, started already by its fork handler. */
		if (umn_proc_start(UMN_PROC_ALL) < 0 || do_munmap())
			_exit(1);
		print_expect();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/* exec keeps nothing; LD_PRELOAD brings umn-watch into the new image. */
static int do_exec(void)
{
	execl("/proc/self/exe", "umn-proc-events", "munmap", (char *)NULL);
	return 1;
}

static const struct {
	const char *name;
	int (*act)(void);
} classes[] = {
	{ "munmap", do_munmap },
	{ "free-large", do_free_large },
	{ "realloc-move", do_realloc_move },
	{ "realloc-shrink", do_realloc_shrink },
	{ "trim", do_trim },
	{ "dontneed", do_dontneed },
	{ "free", do_free },
	{ "remove", do_remove },
	{ "file", do_file },
	{ "brk", do_brk },
	{ "sbrk", do_sbrk },
	{ "mapfixed", do_mapfixed },
	{ "mremap-shrink", do_mremap_shrink },
	{ "mremap-move", do_mremap_move },
	{ "shmdt", do_shmdt },
	{ "dlopen", do_dlopen },
	{ "thread", do_thread },
	{ "syscall", do_syscall },
	{ "fork", do_fork },
	{ "exec", do_exec },
};

int main(int argc, char **argv)
{
	size_t i;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: umn-proc-events CLASS|list\n");
		return 1;
	}
	if (!strcmp(argv[1], "list")) {
		for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
			puts(classes[i].name);
		return 0;
	}
	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (!strcmp(argv[1], classes[i].name))
			break;
	if (i == sizeof(classes) / sizeof(classes[0])) {
		fprintf(stderr, "umn-proc-events: no class %s\n", argv[1]);
		return 1;
	}
	ret = umn_proc_start(UMN_PROC_ALL);
	if (ret < 0) {
		fprintf(stderr, "umn_proc_start: %s%s\n", strerror(-ret),
			ret == -ENOSYS || ret == -EPERM
				? ": the sources asked for cannot work here"
				: "");
		return ret == -ENOSYS || ret == -EPERM ? SKIP : 1;
	}
	ret = classes[i].act();
	if (ret) {
		if (ret == SKIP)
			fprintf(stderr, "%s: cannot be set up here\n", argv[1]);
		else
			fprintf(stderr, "%s: failed: %s\n", argv[1],
				strerror(errno));
		return ret;
	}
	print_expect();
	return 0;
}
