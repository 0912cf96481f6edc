// SPDX-License-Identifier: MIT
/*
 * tests/proc/regcache_safety.c - the process mm where a library cannot
 * choose its callers: fork, signal handlers, and callbacks that allocate
 * and unmap.  A deadlock is caught by a watchdog (alarm), which fails the
 * test with a message instead of letting ctest time it out.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <umn/umn.h>

#include "regcache_test.h"

static const char *watchdog_what = "";

static void watchdog_fire(int sig)
{
	static const char msg[] = "FAIL: watchdog: no progress, deadlock in ";
	static const char tally[] = "\n0%: Checks: 1, Failures: 1, "
				    "Errors: 0\n";
	ssize_t r;

	(void)sig;
	r = write(1, msg, sizeof(msg) - 1);
	r = write(1, watchdog_what, strlen(watchdog_what));
	r = write(1, tally, sizeof(tally) - 1);
	(void)r;
	_exit(1);
}

static void watchdog(const char *what, unsigned int seconds)
{
	watchdog_what = what;
	signal(SIGALRM, watchdog_fire);
	alarm(seconds);
}

/* A classic notifier that counts brackets. */
struct counter {
	struct umn_notifier n;
	unsigned long starts, ends;
};

static int count_start(struct umn_notifier *n, const struct umn_range *range)
{
	struct counter *c = (struct counter *)n;

	(void)range;
	__atomic_add_fetch(&c->starts, 1, __ATOMIC_RELAXED);
	return 0;
}

static void count_end(struct umn_notifier *n, const struct umn_range *range)
{
	struct counter *c = (struct counter *)n;

	(void)range;
	__atomic_add_fetch(&c->ends, 1, __ATOMIC_RELAXED);
}

static const struct umn_notifier_ops count_ops = {
	.name = "count",
	.invalidate_range_start = count_start,
	.invalidate_range_end = count_end,
};

static unsigned long count_of(struct counter *c)
{
	return __atomic_load_n(&c->starts, __ATOMIC_RELAXED);
}

/* An interval notifier that takes no lock: it covers a range, so that the
 * sources must fire for it (and userfaultfd registers it). */
struct cover {
	struct umn_interval_notifier sub;
	unsigned long hits;
};

static bool cover_invalidate(struct umn_interval_notifier *sub,
			     const struct umn_range *range,
			     unsigned long cur_seq)
{
	(void)range;
	umn_interval_set_seq(sub, cur_seq);
	__atomic_add_fetch(&((struct cover *)sub)->hits, 1, __ATOMIC_RELAXED);
	return true;
}

static const struct umn_interval_notifier_ops cover_ops = {
	.name = "cover",
	.invalidate = cover_invalidate,
};

/* Register [addr, +len) in @rc and leave it cached; 0 or -errno. */
static int cache(struct umn_regcache *rc, unsigned long addr, unsigned long len)
{
	struct umn_regcache_handle *h;
	int ret = umn_regcache_register(rc, addr, len, true, &h);

	if (!ret)
		umn_regcache_release(h);
	return ret;
}

static bool cached(struct umn_regcache *rc, unsigned long addr,
		   unsigned long len)
{
	struct umn_regcache_handle *h;

	if (umn_regcache_lookup(rc, addr, len, true, &h))
		return false;
	umn_regcache_release(h);
	return true;
}

/* Wait up to @seconds for @pid; kill it and return -1 if it hangs. */
static int wait_child(pid_t pid, int seconds)
{
	struct timespec ms = { 0, 1000000 };
	int status, i;

	for (i = 0; i < seconds * 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status)
						 : 128 + WTERMSIG(status);
		nanosleep(&ms, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/*
 * fork: as in Linux, the child is a new mm.  Its umn_proc_mm() is NULL (or
 * a fresh mm), its sources are off, and its munmaps of memory the parent
 * covers reach none of the parent's notifiers: the counter (in the
 * child's copy of memory) must not move.  The child may start its own.
 */
enum {
	CHILD_SAME_MM = 1,
	CHILD_SOURCES = 2,
	CHILD_PARENT_CALLBACK = 4,
	CHILD_RESTART = 8,
	CHILD_RESTART_SAME_MM = 16,
	CHILD_REGISTER = 32,
	CHILD_NOT_HEARD = 64,
};

static struct counter parent_count, child_count;

static int fork_child(const struct opts *o, struct umn_mm *parent_mm,
		      unsigned long covered, unsigned long uncovered,
		      unsigned long own, void *block)
{
	static struct cover cov;
	unsigned long before = count_of(&parent_count);
	int bad = 0;

	if (umn_proc_mm() && umn_proc_mm() == parent_mm)
		bad |= CHILD_SAME_MM;
	if (umn_proc_sources())
		bad |= CHILD_SOURCES;
	munmap((void *)covered, 4 * PAGE);
	munmap((void *)uncovered, 4 * PAGE);
	free(block);
	if (count_of(&parent_count) != before)
		bad |= CHILD_PARENT_CALLBACK;
	if (TSAN)
		return bad; /* TSan forbids threads in this child */
	if (umn_proc_start(o->sources) <= 0)
		return bad | CHILD_RESTART;
	if (umn_proc_mm() == parent_mm)
		return bad | CHILD_RESTART_SAME_MM;
	if (umn_notifier_register(&child_count.n, &count_ops, umn_proc_mm()) ||
	    umn_interval_notifier_insert(&cov.sub, umn_proc_mm(), own, 4 * PAGE,
					 &cover_ops))
		return bad | CHILD_REGISTER;
	munmap((void *)own, 4 * PAGE);
	uffd_settle();
	if (!count_of(&child_count))
		bad |= CHILD_NOT_HEARD;
	if (count_of(&parent_count) != before)
		bad |= CHILD_PARENT_CALLBACK;
	return bad;
}

static const char *child_error(int bad)
{
	static char msg[256];

	if (bad < 0)
		return "the child hung (deadlock)";
	if (bad >= 128)
		return "the child died of a signal";
	snprintf(msg, sizeof(msg), "%s%s%s%s%s%s%s",
		 bad & CHILD_SAME_MM ? "the child's umn_proc_mm() is the "
				       "parent's; "
				     : "",
		 bad & CHILD_SOURCES ? "sources are on in the child; " : "",
		 bad & CHILD_PARENT_CALLBACK ? "the child ran the parent's "
					       "notifier; "
					     : "",
		 bad & CHILD_RESTART ? "umn_proc_start failed in the child; "
				     : "",
		 bad & CHILD_RESTART_SAME_MM ? "the child restarted on the "
					       "parent's mm; "
					     : "",
		 bad & CHILD_REGISTER ? "register failed in the child; " : "",
		 bad & CHILD_NOT_HEARD ? "the child's own notifier heard "
					 "nothing; "
				       : "");
	return msg;
}

static int hook_loop_stop;

/* Unmap covered and uncovered memory in a loop (for fork during hooks). */
static void *hook_loop(void *arg)
{
	struct umn_regcache *rc = arg;
	unsigned long a;

	while (!__atomic_load_n(&hook_loop_stop, __ATOMIC_RELAXED)) {
		a = map_pages(2);
		cache(rc, a, 2 * PAGE);
		munmap((void *)a, 2 * PAGE);
		a = map_pages(2);
		munmap((void *)a, 2 * PAGE);
		umn_regcache_reap(rc);
	}
	return NULL;
}

int test_fork(const struct opts *o)
{
	struct umn_regcache *rc = start_regcache(o->sources, 0);
	struct umn_mm *mm = umn_proc_mm();
	unsigned long covered, uncovered, own, before;
	pthread_t thread;
	void *block;
	pid_t pid;
	int i, bad, hung = 0, failed = 0;

	watchdog("fork", 60);
	covered = map_pages(4);
	uncovered = map_pages(4);
	own = map_pages(4);
	block = malloc(1 << 20);
	memset(block, 1, 1 << 20);
	check(!cache(rc, covered, 4 * PAGE) &&
		      !cache(rc, (unsigned long)block, 1 << 20),
	      "register");
	check(!umn_notifier_register(&parent_count.n, &count_ops, mm),
	      "notifier register");
	umn_proc_uffd_sync(); /* nothing of the parent's still in flight */
	before = count_of(&parent_count);
	pid = fork();
	if (pid == 0)
		_exit(fork_child(o, mm, covered, uncovered, own, block));
	bad = wait_child(pid, 20);
	check(bad == 0, "fork: %s", child_error(bad));
	check(count_of(&parent_count) == before,
	      "fork: the parent heard the child's munmaps");
	check(cached(rc, covered, 4 * PAGE),
	      "fork: the child's munmap invalidated the parent's registration");

	/* The parent's sources still work. */
	munmap((void *)covered, 4 * PAGE);
	uffd_settle();
	check(count_of(&parent_count) > before,
	      "fork: the parent's notifier heard nothing after the fork");
	check(!cached(rc, covered, 4 * PAGE),
	      "fork: the parent's registration survived its munmap");

	/* Forks while another thread is inside the hooks. */
	if (start_thread(&thread, hook_loop, rc))
		return 1;
	for (i = 0; i < 20; i++) {
		pid = fork();
		if (pid == 0) {
			void *p = malloc(1 << 20);

			free(p);
			p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			munmap(p, PAGE);
			_exit(umn_proc_sources() ? 1 : 0);
		}
		bad = wait_child(pid, 10);
		hung += bad < 0;
		failed += bad != 0;
	}
	__atomic_store_n(&hook_loop_stop, 1, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);
	check(!failed, "fork while hooking: %d of 20 children failed (%d hung)",
	      failed, hung);
	umn_notifier_unregister(&parent_count.n);
	check(!umn_regcache_destroy(rc), "destroy");
	free(block);
	munmap((void *)uncovered, 4 * PAGE);
	munmap((void *)own, 4 * PAGE);
	return summary("fork");
}

/*
 * signal: a handler that unmaps covered memory and frees a large block,
 * while the interrupted thread is itself inside munmap and its hooks, over
 * covered and uncovered ranges.  The handler's regions are a ring that
 * the main thread refills (the handler only consumes: both run on the
 * main thread, so a signal fence orders them).
 */
#define SIG_RING 64

static struct {
	unsigned long addr[SIG_RING];
	void *block[SIG_RING];
	struct cover cover[SIG_RING];
	volatile sig_atomic_t next, ready; /* handler consumes, main fills */
	volatile sig_atomic_t handled;
	bool free_blocks;
} sig;

static struct cover loop_cover; /* the main loop's covered range */

static void on_sigusr1(int signo)
{
	int saved = errno;
	unsigned int i;

	(void)signo;
	if (sig.next < sig.ready) {
		i = (unsigned int)sig.next % SIG_RING;
		munmap((void *)sig.addr[i], 2 * PAGE);
		if (sig.block[i])
			free(sig.block[i]);
		sig.block[i] = NULL;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		sig.next++;
		sig.handled++;
	}
	errno = saved;
}

static int sig_stop;

static void *sig_sender(void *arg)
{
	pthread_t target = *(pthread_t *)arg;
	struct timespec ts = { 0, 100000 };

	while (!__atomic_load_n(&sig_stop, __ATOMIC_RELAXED)) {
		pthread_kill(target, SIGUSR1);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* Cover [addr, +2 pages) with @c, moved from where it was. */
static void cover_range(struct cover *c, unsigned long addr)
{
	if (c->sub.mm)
		umn_interval_notifier_remove(&c->sub);
	umn_interval_notifier_insert(&c->sub, umn_proc_mm(), addr, 2 * PAGE,
				     &cover_ops);
}

/* Cover ring slot @i: in the regcache, or with an interval notifier. */
static void cover_slot(struct umn_regcache *rc, unsigned int i)
{
	if (!rc) {
		cover_range(&sig.cover[i], sig.addr[i]);
		return;
	}
	cache(rc, sig.addr[i], 2 * PAGE);
	if (sig.block[i])
		cache(rc, (unsigned long)sig.block[i], 256 << 10);
}

int test_signal(const struct opts *o, bool regcache)
{
	struct umn_regcache *rc = start_regcache(o->sources, 0);
	struct timespec t0, t;
	struct sigaction sa;
	pthread_t self = pthread_self(), sender;
	unsigned long a, loops = 0;
	unsigned int i;
	int n;
	double secs = o->seconds < 2 ? o->seconds : 2;
	const char *name = regcache ? "signal-regcache" : "signal";

	if (!regcache) {
		umn_regcache_destroy(rc);
		rc = NULL;
	}
	/* free() is not async-signal-safe, but glibc frees a mapped block
	 * without taking an arena lock: keep the blocks mapped (no dynamic
	 * threshold).  A sanitizer's allocator locks: no free() there. */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	sig.free_blocks = !SANITIZED;
	if (!sig.free_blocks)
		printf("note: sanitizer build: the handler does not free()\n");
	watchdog(name, 30);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	if (start_thread(&sender, sig_sender, &self))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		/* Refill the handler's ring (as much as one pass can). */
		for (n = sig.ready - sig.next; n < SIG_RING; n++) {
			i = (unsigned int)sig.ready % SIG_RING;
			sig.addr[i] = map_pages(2);
			if (sig.free_blocks) {
				sig.block[i] = malloc(256 << 10);
				memset(sig.block[i], 1, 256 << 10);
			}
			cover_slot(rc, i);
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
			sig.ready++;
		}
		/* munmap of a covered range, then of an uncovered one. */
		a = map_pages(2);
		if (rc)
			cache(rc, a, 2 * PAGE);
		else
			cover_range(&loop_cover, a);
		munmap((void *)a, 2 * PAGE);
		a = map_pages(2);
		munmap((void *)a, 2 * PAGE);
		if (rc)
			umn_regcache_reap(rc);
		loops++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) +
			 (double)(t.tv_nsec - t0.tv_nsec) / 1e9 <
		 secs);
	__atomic_store_n(&sig_stop, 1, __ATOMIC_RELAXED);
	pthread_join(sender, NULL);
	alarm(0);
	printf("%s (%s): %lu loops, %d munmaps from the handler\n", name,
	       sources_name(umn_proc_sources()), loops, (int)sig.handled);
	check(loops > 0 && sig.handled > 0, "no signal was handled");
	if (rc)
		check(!umn_regcache_destroy(rc), "destroy");
	return summary(name);
}

/*
 * recursion: a callback that calls malloc, free (of a mapped block, so
 * free unmaps) and munmap of memory covered by a registration and of
 * memory covered by nothing.  The nested brackets are still delivered:
 * the covered registration is gone once the outer munmap returns.
 */
static struct {
	struct counter count;
	int armed;
	unsigned long covered, uncovered;
	int done;
} rec;

static int recurse_start(struct umn_notifier *n, const struct umn_range *range)
{
	void *p;

	count_start(n, range);
	if (!__atomic_exchange_n(&rec.armed, 0, __ATOMIC_ACQ_REL))
		return 0;
	p = malloc(64);
	free(p);
	p = malloc(1 << 20);
	if (p)
		memset(p, 1, PAGE);
	free(p);
	munmap((void *)rec.uncovered, 2 * PAGE);
	munmap((void *)rec.covered, 2 * PAGE);
	__atomic_store_n(&rec.done, 1, __ATOMIC_RELEASE);
	return 0;
}

static const struct umn_notifier_ops recurse_ops = {
	.name = "recurse",
	.invalidate_range_start = recurse_start,
	.invalidate_range_end = count_end,
};

int test_recursion(const struct opts *o)
{
	struct umn_regcache *rc = start_regcache(o->sources, 0);
	struct timespec ms = { 0, 100000 };
	unsigned long trigger;
	int i, k, n = 32, done = 0, gone = 0;

	watchdog("recursion", 30);
	check(!umn_notifier_register(&rec.count.n, &recurse_ops, umn_proc_mm()),
	      "notifier register");
	for (i = 0; i < n; i++) {
		rec.covered = map_pages(2);
		rec.uncovered = map_pages(2);
		trigger = map_pages(1);
		/* Covered: the trigger (so that every source sees it) and
		 * the range the callback unmaps. */
		cache(rc, rec.covered, 2 * PAGE);
		cache(rc, trigger, PAGE);
		rec.done = 0;
		__atomic_store_n(&rec.armed, 1, __ATOMIC_RELEASE);
		munmap((void *)trigger, PAGE);
		/* With userfaultfd the callback runs in umn's dispatcher, after
		 * munmap returned: the nested munmap's event is queued when it
		 * is done, and only a sync after that waits for it. */
		for (k = 0;
		     k < 50000 && !__atomic_load_n(&rec.done, __ATOMIC_ACQUIRE);
		     k++)
			nanosleep(&ms, NULL);
		uffd_settle();
		done += __atomic_load_n(&rec.done, __ATOMIC_ACQUIRE);
		gone += !cached(rc, rec.covered, 2 * PAGE);
		umn_regcache_reap(rc);
	}
	alarm(0);
	printf("recursion (%s): %d of %d callbacks unmapped; %d nested "
	       "invalidations reached the cache; %lu brackets\n",
	       sources_name(umn_proc_sources()), done, n, gone,
	       count_of(&rec.count));
	check(done == n, "the callback ran %d of %d times", done, n);
	check(gone == n, "a munmap from a callback invalidated %d of %d", gone,
	      n);
	umn_notifier_unregister(&rec.count.n);
	check(!umn_regcache_destroy(rc), "destroy");
	return summary("recursion");
}
