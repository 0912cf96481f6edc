// SPDX-License-Identifier: MIT
/*
 * tests/proc/check_signals.c - holding signals costs no system call once
 * umn wraps the program's handlers, and is never unsafe (core/signals.c,
 * primaries/proc/signals.c): the case "signals" of umn-proc-tests.
 *
 * Each test runs in a process of its own (Check forks).  A hold is every
 * take of the process mm's lock (an interval notifier's insert and remove
 * take it); tests/sleepcheck.c counts this thread's pthread_sigmask()
 * calls, and calls back right after a lock is taken, which is where the
 * tests raise signals: inside the hold.
 */
#include <check.h>
#include <errno.h>
#include <setjmp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <pthread.h>
#include <signal.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <umn/interval.h>
#include <umn/proc.h>

#include "../../core/internal.h"
#include "../sleepcheck.h"
#include "check_signals.h"

#define PAGE  4096UL
#define HOLDS 50

static bool count_invalidate(struct umn_interval_notifier *sub,
			     const struct umn_range *range, unsigned long seq)
{
	(void)range;
	umn_interval_set_seq(sub, seq);
	return true;
}

static const struct umn_interval_notifier_ops count_ops = {
	.invalidate = count_invalidate,
};

/* HOLDS inserts and removes: the mask calls they made. */
static unsigned long masks_of_holds(void)
{
	struct umn_interval_notifier sub;
	unsigned long before = sleepcheck_sigmasks;
	static char page[PAGE] __attribute__((aligned(PAGE)));

	for (int i = 0; i < HOLDS; i++) {
		memset(&sub, 0, sizeof(sub));
		ck_assert_int_eq(umn_interval_notifier_insert(
					 &sub, umn_proc_mm(),
					 (unsigned long)page, PAGE, &count_ops),
				 0);
		ck_assert_int_eq(umn_interval_notifier_remove(&sub), 0);
	}
	return sleepcheck_sigmasks - before;
}

static volatile sig_atomic_t handled, handled_inside_umn;

static void handler(int sig)
{
	(void)sig;
	if (umn__held.depth)
		handled_inside_umn++;
	handled++;
}

/* Start with the handlers of Check's runner (SIGINT, SIGALRM, SIGTERM)
 * reset, and SIGUSR1's @act if not NULL, installed before the start. */
static void start_hooks(const struct sigaction *act)
{
	struct sigaction cur;

	for (int sig = 1; sig < 65; sig++)
		if (!sigaction(sig, NULL, &cur) && cur.sa_handler != SIG_DFL &&
		    cur.sa_handler != SIG_IGN)
			signal(sig, SIG_DFL);
	if (act)
		ck_assert_int_eq(sigaction(SIGUSR1, act, NULL), 0);
	ck_assert_int_eq(umn_proc_start(UMN_PROC_HOOKS), UMN_PROC_HOOKS);
	ck_assert_msg(umn__signals_deferrable,
		      "libc's sigaction is hooked, but holds still mask");
}

/* What the kernel runs for @sig (not what sigaction() says). */
static void *kernel_handler(int sig)
{
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		unsigned long mask;
	} k;

	ck_assert_int_eq(syscall(SYS_rt_sigaction, sig, NULL, &k, 8), 0);
	return k.handler;
}

START_TEST(holds_mask_nothing_with_a_handler_installed)
{
	start_hooks(NULL);
	signal(SIGUSR1, handler);
	ck_assert_ptr_ne(kernel_handler(SIGUSR1), (void *)handler);
	/* The first notifier settles the mm: a grace period, which a hold
	 * waits for masked (umn__signals_mask_now). */
	ck_assert_uint_le(masks_of_holds(), 2);
	ck_assert_uint_eq(masks_of_holds(), 0);
	/* The control: holds that mask are counted. */
	umn__signals_deferrable = false;
	ck_assert_uint_ge(masks_of_holds(), 2 * 2 * HOLDS);
	umn__signals_deferrable = true;
	raise(SIGUSR1);
	ck_assert_int_eq(handled, 1);
}
END_TEST

START_TEST(a_handler_installed_before_start_is_wrapped)
{
	struct sigaction act = { .sa_handler = handler }, old;

	start_hooks(&act);
	ck_assert_ptr_ne(kernel_handler(SIGUSR1), (void *)handler);
	ck_assert_int_eq(sigaction(SIGUSR1, NULL, &old), 0);
	ck_assert_ptr_eq((void *)old.sa_handler, (void *)handler);
	ck_assert_uint_le(masks_of_holds(), 2);
	ck_assert_uint_eq(masks_of_holds(), 0);
}
END_TEST

/*
 * A signal raised inside a hold (right after the mm's lock is taken) runs
 * after it, never inside: its handler unmaps memory an interval covers,
 * whose bracket takes that lock; run inside, it would wait for itself.
 */
static char *covered;
static struct umn_interval_notifier covered_sub;

static void unmapping_handler(int sig)
{
	handler(sig);
	ck_assert_int_eq(munmap(covered, PAGE), 0);
}

/* Right after this thread takes the mm's lock, once: @inside_fn. */
static void (*inside_fn)(void);

static void run_inside(pthread_mutex_t *m)
{
	if (m != &umn_proc_mm()->lock)
		return;
	sleepcheck_after_lock = NULL;
	inside_fn();
}

static void at_the_next_lock(void (*fn)(void))
{
	inside_fn = fn;
	sleepcheck_after_lock = run_inside;
}

/* One hold (an interval's insert, then its remove) with @fn run inside
 * it. */
static void hold_running(void (*fn)(void))
{
	struct umn_interval_notifier sub = { 0 };
	static char page[PAGE] __attribute__((aligned(PAGE)));

	at_the_next_lock(fn);
	ck_assert_int_eq(umn_interval_notifier_insert(&sub, umn_proc_mm(),
						      (unsigned long)page, PAGE,
						      &count_ops),
			 0);
	ck_assert_int_eq(umn_interval_notifier_remove(&sub), 0);
}

static void raise_usr1(void)
{
	ck_assert_int_eq(pthread_kill(pthread_self(), SIGUSR1), 0);
}

static void raise_inside(void)
{
	raise_usr1();
	ck_assert_int_eq(handled, 0); /* not yet: deferred */
}

START_TEST(a_signal_inside_a_hold_runs_after_it)
{
	struct sigaction act = { .sa_handler = unmapping_handler };

	start_hooks(&act);
	covered = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(covered, MAP_FAILED);
	ck_assert_int_eq(umn_interval_notifier_insert(
				 &covered_sub, umn_proc_mm(),
				 (unsigned long)covered, PAGE, &count_ops),
			 0);
	alarm(20); /* a handler inside would hang */
	hold_running(raise_inside);
	alarm(0);
	ck_assert_int_eq(handled, 1);
	ck_assert_int_eq(handled_inside_umn, 0);
	ck_assert_int_eq(umn__held.deferred, 0);
	ck_assert_int_eq(umn_interval_notifier_remove(&covered_sub), 0);
}
END_TEST

/* Real-time signals deferred inside a hold all arrive after it, in order,
 * with their values. */
#define QUEUED 5
static int values[QUEUED], nvalues;

static void value_handler(int sig, siginfo_t *info, void *uc)
{
	(void)sig, (void)uc;
	if (umn__held.depth)
		handled_inside_umn++;
	if (nvalues < QUEUED)
		values[nvalues] = info->si_value.sival_int;
	nvalues++;
}

static void queue_inside(void)
{
	for (int i = 0; i < QUEUED; i++)
		ck_assert_int_eq(
			pthread_sigqueue(pthread_self(), SIGRTMIN,
					 (union sigval){ .sival_int = i + 1 }),
			0);
	ck_assert_int_eq(nvalues, 0);
}

START_TEST(deferred_signals_all_arrive_with_their_values)
{
	struct sigaction act = { .sa_sigaction = value_handler,
				 .sa_flags = SA_SIGINFO };

	start_hooks(NULL);
	ck_assert_int_eq(sigaction(SIGRTMIN, &act, NULL), 0);
	ck_assert_uint_le(masks_of_holds(), 2); /* settles the mm */
	hold_running(queue_inside);
	ck_assert_int_eq(nvalues, QUEUED);
	for (int i = 0; i < QUEUED; i++)
		ck_assert_int_eq(values[i], i + 1);
	ck_assert_int_eq(handled_inside_umn, 0);
}
END_TEST

/*
 * A synchronous fault inside a hold reaches its handler at once (it
 * cannot wait: the instruction would fault again, and a blocked fault
 * kills the process).  The handler makes the page writable and returns.
 */
static char *guard;
static int faults, faults_inside;

static void fault_handler(int sig, siginfo_t *info, void *uc)
{
	(void)sig, (void)uc;
	faults++;
	if (umn__held.depth)
		faults_inside++;
	ck_assert_ptr_eq(info->si_addr, guard);
	ck_assert_int_eq(mprotect(guard, PAGE, PROT_READ | PROT_WRITE), 0);
}

static void fault_inside(void)
{
	*(volatile char *)guard = 1;
}

START_TEST(a_fault_inside_a_hold_reaches_its_handler)
{
	struct sigaction act = { .sa_sigaction = fault_handler,
				 .sa_flags = SA_SIGINFO };

	start_hooks(NULL);
	ck_assert_int_eq(sigaction(SIGSEGV, &act, NULL), 0);
	guard = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(guard, MAP_FAILED);
	hold_running(fault_inside);
	ck_assert_int_eq(faults, 1);
	ck_assert_int_eq(faults_inside, 1);
}
END_TEST

/*
 * A signal deferred on a thread that then waits inside umn is not held up
 * by the wait: R takes a signal inside read_begin's hold, just before it
 * waits for the bracket of I, whose callback waits for that signal's
 * handler.  Were R to wait with the signal deferred, neither would go on
 * (the alarm ends it): a signal sent to the process, which another thread
 * would have taken had R masked, is the same case.
 */
static struct umn_interval_notifier r_sub;
static int in_callback;

static bool wait_for_handler(struct umn_interval_notifier *sub,
			     const struct umn_range *range, unsigned long seq)
{
	(void)range;
	umn_interval_set_seq(sub, seq);
	__atomic_store_n(&in_callback, 1, __ATOMIC_RELEASE);
	while (!handled)
		sched_yield();
	return true;
}

static const struct umn_interval_notifier_ops wait_ops = {
	.invalidate = wait_for_handler,
};

static void *unmap_in_i(void *page)
{
	munmap(page, PAGE);
	return NULL;
}

START_TEST(a_wait_inside_a_hold_lets_deferred_signals_run)
{
	struct sigaction act = { .sa_handler = handler };
	void *page;
	pthread_t i;

	start_hooks(&act);
	page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(page, MAP_FAILED);
	ck_assert_int_eq(umn_interval_notifier_insert(&r_sub, umn_proc_mm(),
						      (unsigned long)page, PAGE,
						      &wait_ops),
			 0);
	alarm(20);
	ck_assert_int_eq(pthread_create(&i, NULL, unmap_in_i, page), 0);
	while (!__atomic_load_n(&in_callback, __ATOMIC_ACQUIRE))
		sched_yield();
	at_the_next_lock(raise_usr1);
	umn_interval_read_begin(&r_sub);
	pthread_join(i, NULL);
	alarm(0);
	ck_assert_int_eq(handled, 1);
	ck_assert_int_eq(handled_inside_umn, 0);
	ck_assert_int_eq(umn_interval_notifier_remove(&r_sub), 0);
}
END_TEST

/*
 * A handler that runs after a release's depth reached 0 but before it
 * unblocked what was deferred, and takes a hold of its own, leaves that
 * to the release it interrupted: were its own release to take the
 * deferred signal, the interrupted release would find nothing to
 * unblock, and the signal would stay blocked in the thread's mask for
 * good.  The window is a few instructions wide; the test opens it by
 * hand, with the release's two halves.
 */
static void holding_handler(int sig)
{
	handler(sig);
	masks_of_holds();
}

START_TEST(a_handler_between_a_release_and_its_unblock_leaves_it_alone)
{
	struct sigaction act = { .sa_handler = handler },
			 hold_act = { .sa_handler = holding_handler };
	sigset_t now;

	start_hooks(&act);
	ck_assert_int_eq(sigaction(SIGUSR2, &hold_act, NULL), 0);
	umn__signals_hold();
	ck_assert_int_eq(pthread_kill(pthread_self(), SIGUSR1), 0);
	ck_assert_int_eq(handled, 0); /* deferred */
	/* umn__signals_release(), its first half: */
	umn__held.depth--;
	ck_assert_int_eq(pthread_kill(pthread_self(), SIGUSR2), 0);
	ck_assert_int_eq(handled, 1); /* SIGUSR2's, which held */
	/* ... and its second. */
	if (umn__held.masked || umn__held.deferred)
		umn__signals_unblock_deferred();
	ck_assert_int_eq(handled, 2);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &now), 0);
	ck_assert_msg(!sigismember(&now, SIGUSR1),
		      "SIGUSR1 stays blocked after the release");
	ck_assert_int_eq(handled_inside_umn, 0);
}
END_TEST

/*
 * A signal that cannot be queued again (the process is at its
 * RLIMIT_SIGPENDING, which a seccomp filter stands in for: every
 * rt_tgsigqueueinfo fails with EAGAIN) is kept aside, still blocked, and
 * its handler runs after the hold, never inside it.
 */
static void queue_full(void)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_rt_tgsigqueueinfo, 0,
			 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAGAIN),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(insns) / sizeof(insns[0]), insns };

	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
	errno = 0;
	ck_assert_int_eq(syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), 0,
				 &(siginfo_t){ 0 }),
			 -1);
	ck_assert_int_eq(errno, EAGAIN);
}

START_TEST(a_signal_that_cannot_be_queued_again_still_waits)
{
	struct sigaction act = { .sa_handler = handler };
	sigset_t now;

	start_hooks(&act);
	ck_assert_uint_le(masks_of_holds(), 2); /* settles the mm */
	queue_full();
	hold_running(raise_inside);
	ck_assert_int_eq(handled, 1);
	ck_assert_int_eq(handled_inside_umn, 0);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &now), 0);
	ck_assert(!sigismember(&now, SIGUSR1));
}
END_TEST

/*
 * An action put back behind libc's back (a raw rt_sigaction of a copy
 * taken while umn's wrapper was in) over one the program made the
 * default or ignored: the wrapper puts what the program set back in,
 * instead of queuing the signal to itself for ever (the alarm ends it).
 */
START_TEST(an_action_restored_behind_libcs_back_is_not_a_loop)
{
	struct sigaction act = { .sa_handler = handler };
	unsigned long raw[4];

	start_hooks(NULL);
	ck_assert_int_eq(sigaction(SIGUSR1, &act, NULL), 0);
	ck_assert_int_eq(syscall(SYS_rt_sigaction, SIGUSR1, NULL, raw, 8), 0);
	signal(SIGUSR1, SIG_IGN);
	ck_assert_int_eq(syscall(SYS_rt_sigaction, SIGUSR1, raw, NULL, 8), 0);
	alarm(10);
	raise(SIGUSR1); /* ignored, as the program set it */
	alarm(0);
	ck_assert_int_eq(handled, 0);
	ck_assert_ptr_eq(kernel_handler(SIGUSR1), (void *)SIG_IGN);
}
END_TEST

/*
 * A thread's last holds come after glibc cleared its keys (the
 * destructors of other keys run after, and may unmap): the wrapper still
 * finds the hold, and defers.
 */
static void hold_in_destructor(void *arg)
{
	(void)arg;
	hold_running(raise_inside);
}

static pthread_key_t late_key;

static void *exit_with_a_destructor(void *arg)
{
	(void)arg;
	ck_assert_uint_le(masks_of_holds(), 2); /* holds: this thread's key */
	ck_assert_int_eq(pthread_setspecific(late_key, &late_key), 0);
	return NULL;
}

START_TEST(a_hold_in_a_threads_last_destructors_still_defers)
{
	struct sigaction act = { .sa_handler = handler };
	pthread_t t;

	start_hooks(&act);
	/* Created after umn's key: its destructor runs after that key's
	 * value was cleared. */
	ck_assert_int_eq(pthread_key_create(&late_key, hold_in_destructor), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, exit_with_a_destructor, NULL),
			 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(handled, 1);
	ck_assert_int_eq(handled_inside_umn, 0);
}
END_TEST

/* A vfork() child's sigaction() changes its own action only, not what
 * the parent's table keeps (the child shares the parent's memory). */
START_TEST(a_vfork_childs_sigaction_is_not_the_parents)
{
	struct sigaction act = { .sa_handler = handler };
	int status;
	pid_t pid;

	start_hooks(&act);
	pid = vfork();
	if (!pid) {
		signal(SIGUSR1, SIG_DFL);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	raise(SIGUSR1); /* the parent's handler, not the child's default */
	ck_assert_int_eq(handled, 1);
}
END_TEST

/* abort() inside a hold (a failed check of umn's) reaches the program's
 * SIGABRT handler, as outside one. */
static sigjmp_buf out_of_abort;
static int aborts, aborts_inside;

static void abort_handler(int sig)
{
	(void)sig;
	aborts++;
	if (umn__held.depth)
		aborts_inside++;
	siglongjmp(out_of_abort, 1);
}

static void abort_inside(void)
{
	abort();
}

START_TEST(abort_inside_a_hold_reaches_its_handler)
{
	struct sigaction act = { .sa_handler = abort_handler };

	start_hooks(NULL);
	ck_assert_int_eq(sigaction(SIGABRT, &act, NULL), 0);
	if (!sigsetjmp(out_of_abort, 1)) {
		hold_running(abort_inside);
		ck_abort_msg("abort() returned");
	}
	/* Out of the hold by a jump: nothing of umn's from here. */
	ck_assert_int_eq(aborts, 1);
	ck_assert_int_eq(aborts_inside, 1);
}
END_TEST

static siginfo_t got_info;

static void info_handler(int sig, siginfo_t *info, void *uc)
{
	(void)sig, (void)uc;
	got_info = *info;
}

static void other_handler(int sig)
{
	(void)sig;
}

START_TEST(sigaction_through_the_hook_behaves_as_libcs)
{
	struct sigaction act = { .sa_sigaction = info_handler,
				 .sa_flags =
					 SA_SIGINFO | SA_RESTART | SA_NODEFER },
			 old;
	int bad[] = { 0, -1, 32, 33, 65, 1000 };

	start_hooks(NULL);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_int_eq(sigaction(bad[i], &act, NULL), -1);
		ck_assert_int_eq(errno, EINVAL);
	}
	/* A query installs nothing. */
	ck_assert_int_eq(sigaction(SIGUSR2, NULL, &old), 0);
	ck_assert_ptr_eq((void *)old.sa_handler, (void *)SIG_DFL);
	sigemptyset(&act.sa_mask);
	sigaddset(&act.sa_mask, SIGHUP);
	ck_assert_int_eq(sigaction(SIGUSR2, &act, NULL), 0);
	ck_assert_ptr_ne(kernel_handler(SIGUSR2), (void *)info_handler);
	/* The program's action, as it set it. */
	ck_assert_int_eq(sigaction(SIGUSR2, NULL, &old), 0);
	ck_assert_ptr_eq((void *)old.sa_sigaction, (void *)info_handler);
	ck_assert_int_eq(old.sa_flags & (SA_SIGINFO | SA_RESTART | SA_NODEFER |
					 SA_RESETHAND),
			 SA_SIGINFO | SA_RESTART | SA_NODEFER);
	ck_assert(sigismember(&old.sa_mask, SIGHUP));
	ck_assert(!sigismember(&old.sa_mask, SIGINT));
	ck_assert_int_eq(
		sigqueue(getpid(), SIGUSR2, (union sigval){ .sival_int = 42 }),
		0);
	ck_assert_int_eq(got_info.si_signo, SIGUSR2);
	ck_assert_int_eq(got_info.si_value.sival_int, 42);
	/* signal() returns the program's handler too. */
	ck_assert_ptr_eq((void *)signal(SIGUSR2, other_handler),
			 (void *)info_handler);
	ck_assert_ptr_eq((void *)signal(SIGUSR2, SIG_IGN),
			 (void *)other_handler);
	ck_assert_ptr_eq(kernel_handler(SIGUSR2), (void *)SIG_IGN);
	raise(SIGUSR2); /* ignored */
	/* SA_RESETHAND: once, then the default. */
	act = (struct sigaction){ .sa_handler = handler,
				  .sa_flags = SA_RESETHAND };
	ck_assert_int_eq(sigaction(SIGUSR1, &act, NULL), 0);
	ck_assert_int_eq(sigaction(SIGUSR1, NULL, &old), 0);
	ck_assert(old.sa_flags & SA_RESETHAND);
	raise(SIGUSR1);
	ck_assert_int_eq(handled, 1);
	ck_assert_int_eq(sigaction(SIGUSR1, NULL, &old), 0);
	ck_assert_ptr_eq((void *)old.sa_handler, (void *)SIG_DFL);
	ck_assert_ptr_eq(kernel_handler(SIGUSR1), (void *)SIG_DFL);
}
END_TEST

/* The userfaultfd source's threads block every signal: a handler there
 * could unmap registered memory, and the reader would wait for itself. */
static bool blocks_every_signal(const char *status)
{
	const char *blk = strstr(status, "SigBlk:");
	unsigned long long mask;

	ck_assert_ptr_nonnull(blk);
	mask = strtoull(blk + 7, NULL, 16);
	/* Every signal a thread can block: not SIGKILL, SIGSTOP, nor the
	 * two glibc keeps for itself. */
	return (mask | 1ULL << (SIGKILL - 1) | 1ULL << (SIGSTOP - 1) |
		1ULL << 31 | 1ULL << 32) == ~0ULL;
}

START_TEST(umns_own_threads_block_every_signal)
{
	char path[300], status[4096];
	int self = gettid(), others = 0;
	struct dirent *d;
	DIR *dir;

	start_hooks(NULL);
	ck_assert_int_eq(umn_proc_start(UMN_PROC_UFFD),
			 UMN_PROC_HOOKS | UMN_PROC_UFFD);
	dir = opendir("/proc/self/task");
	ck_assert_ptr_nonnull(dir);
	while ((d = readdir(dir))) {
		FILE *f;
		size_t n;

		if (d->d_name[0] == '.' || atoi(d->d_name) == self)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status",
			 d->d_name);
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		n = fread(status, 1, sizeof(status) - 1, f);
		fclose(f);
		status[n] = 0;
		ck_assert_msg(blocks_every_signal(status),
			      "umn's thread %s takes signals", d->d_name);
		others++;
	}
	closedir(dir);
	ck_assert_int_ge(others, 1); /* the reader, at least */
}
END_TEST

const char *proc_signals_uffd_missing(void)
{
	const char *why = proc_signals_missing();
	long fd;

	if (why)
		return why;
	fd = syscall(SYS_userfaultfd, 0);
	if (fd < 0)
		return "userfaultfd is not available here";
	close((int)fd);
	return NULL;
}

void proc_signals_uffd_add(TCase *tc)
{
	tcase_add_test(tc, umns_own_threads_block_every_signal);
}

const char *proc_signals_missing(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return "under a sanitizer's runtime holds always mask (it installs "
	       "handlers with raw system calls, which umn cannot see)";
#elif !defined(__x86_64__)
	return "libc's sigaction is hooked on x86-64 only: holds mask";
#else
	return NULL;
#endif
}

void proc_signals_add(TCase *tc)
{
	tcase_add_test(tc, holds_mask_nothing_with_a_handler_installed);
	tcase_add_test(tc, a_handler_installed_before_start_is_wrapped);
	tcase_add_test(tc, a_signal_inside_a_hold_runs_after_it);
	tcase_add_test(tc, deferred_signals_all_arrive_with_their_values);
	tcase_add_test(tc, a_fault_inside_a_hold_reaches_its_handler);
	tcase_add_test(tc, a_wait_inside_a_hold_lets_deferred_signals_run);
	tcase_add_test(
		tc,
		a_handler_between_a_release_and_its_unblock_leaves_it_alone);
	tcase_add_test(tc, a_signal_that_cannot_be_queued_again_still_waits);
	tcase_add_test(tc, an_action_restored_behind_libcs_back_is_not_a_loop);
	tcase_add_test(tc, abort_inside_a_hold_reaches_its_handler);
	tcase_add_test(tc, a_hold_in_a_threads_last_destructors_still_defers);
	tcase_add_test(tc, a_vfork_childs_sigaction_is_not_the_parents);
	tcase_add_test(tc, sigaction_through_the_hook_behaves_as_libcs);
}
