// SPDX-License-Identifier: MIT
/*
 * primaries/proc/signals.c - the thread's signals, held without system
 * calls.
 *
 * A hooked call may run in a signal handler, and its bracket takes the
 * process mm's lock: a handler that interrupts its own thread while that
 * thread holds the lock would wait for itself.  The kernel's answer is
 * spin_lock_irqsave; blocking the thread's signals costs two system calls
 * per lock (four on a hooked munmap of covered memory, two on a cache
 * miss), about 0.25 us each here.
 *
 * So the process primary defers signals itself, as an interrupt
 * controller's lazy masking does: every handler that the program installs
 * through libc (sigaction, signal, sigset, ... all reach __sigaction,
 * which the hooks patch) runs under wrapper().  Holding signals is then a
 * per-thread depth (core/internal.h: umn__signals_hold); a signal that
 * arrives while its thread's depth is not 0 is not handled but deferred:
 *
 *	thread T: umn__signals_hold (depth 1)
 *	lock(mm)				signal S -> wrapper(S):
 *						  depth 1: block every signal
 *						  now, remember T's mask (the
 *						  interrupted context's), make
 *						  that context resume with every
 *						  signal blocked, queue S again
 *						  to T (pending: blocked)
 *	... unlock(mm)
 *	umn__signals_release (depth 0):
 *	  deferred: restore the mask ->		S delivered -> wrapper(S):
 *						  depth 0: the program's handler
 *
 * Once deferred, every signal stays blocked until the release, so nothing
 * interleaves with the check of the depth.  A synchronous fault (SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS raised by the kernel for the
 * instruction that faulted) cannot wait: the instruction would fault
 * again.  Its handler runs at once, as the kernel delivers it (holding
 * the signals for real would make the kernel kill the process instead).
 *
 * What is not wrapped: a handler installed with a raw rt_sigaction system
 * call after umn_proc_start() (before it, the start wraps what it finds),
 * and glibc's own two (cancellation, setxid), which run no hooked call.
 * A hooked call from such a handler, on top of a thread inside umn,
 * cannot take its bracket's lock: it is told late, after the kernel
 * acted, when that thread releases (hooks.c: call_begin), as userfaultfd
 * tells an unmap.  If __sigaction cannot be patched (another libc, or an
 * entry point we do not recognise), signals are held for real, as before.
 *
 * The program sees its own actions: sigaction() returns them as old
 * actions, and SA_RESETHAND, SA_NODEFER, SA_ONSTACK, SA_RESTART and the
 * mask keep their meaning (the wrapper is installed with the program's
 * flags and mask, SA_SIGINFO added).
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../core/internal.h"
#include "proc.h"

#define NSIGS 65 /* 1..64 */

/* The program's action for each signal, and whether wrapper() runs it. */
static struct {
	struct sigaction act;
	bool wrapped;
} actions[NSIGS];
static int actions_lock; /* held with signals blocked for real */

static int (*libc_sigaction)(int, const struct sigaction *, struct sigaction *);

static bool wrappable(int sig)
{
	/* glibc's SIGCANCEL and SIGSETXID are its own (it refuses them). */
	return sig > 0 && sig < NSIGS && sig != SIGKILL && sig != SIGSTOP &&
	       sig != 32 && sig != 33;
}

static bool is_function(const struct sigaction *a)
{
	return a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN;
}

/* A fault of the instruction the thread was running: it cannot wait. */
static bool synchronous(int sig, const siginfo_t *info)
{
	switch (sig) {
	case SIGSEGV:
	case SIGBUS:
	case SIGILL:
	case SIGFPE:
	case SIGTRAP:
	case SIGSYS:
		return info->si_code > 0;
	}
	return false;
}

/* The lock of the table: taken with the thread's signals blocked for
 * real (sigaction is rare, and a handler reads the table once), so that
 * no handler on top of its holder waits for it. */
static void lock_actions(sigset_t *saved)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, saved);
	while (__atomic_exchange_n(&actions_lock, 1, __ATOMIC_ACQUIRE))
		;
}

static void unlock_actions(const sigset_t *saved)
{
	__atomic_store_n(&actions_lock, 0, __ATOMIC_RELEASE);
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* A copy of the program's action for @sig. */
static void action_of(int sig, struct sigaction *out)
{
	sigset_t saved;

	lock_actions(&saved);
	*out = actions[sig].act;
	unlock_actions(&saved);
}

static void wrapper(int sig, siginfo_t *info, void *ucv);
static void forget_action(int sig);

/* Our action in the kernel for the program's @a. */
static struct sigaction wrapping(const struct sigaction *a)
{
	struct sigaction w = *a;

	w.sa_sigaction = wrapper;
	w.sa_flags |= SA_SIGINFO;
	return w;
}

/* In the wrapper, with the thread's depth not 0: see the top. */
static void defer(int sig, siginfo_t *info, ucontext_t *uc)
{
	struct sigaction a;
	sigset_t all;

	sigfillset(&all);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, _NSIG / 8);
	if (!umn__held.deferred) {
		umn__held.saved = uc->uc_sigmask;
		umn__held.deferred = true;
	}
	sigfillset(&uc->uc_sigmask);
	/* SA_RESETHAND: the kernel has put the default back; the program's
	 * handler is still to run once, when the signal comes back. */
	action_of(sig, &a);
	if (is_function(&a) && (a.sa_flags & SA_RESETHAND)) {
		struct sigaction w = wrapping(&a);

		libc_sigaction(sig, &w, NULL);
	}
	syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), sig, info);
}

static void wrapper(int sig, siginfo_t *info, void *ucv)
{
	struct sigaction a;
	int saved_errno = errno;

	if (umn__held.depth && umn__held.lazy && !synchronous(sig, info)) {
		defer(sig, info, ucv);
		errno = saved_errno;
		return;
	}
	action_of(sig, &a);
	if (a.sa_handler == SIG_IGN)
		return;
	if (a.sa_handler == SIG_DFL) {
		/* Reset meanwhile (another thread's sigaction): the kernel's
		 * action is the default now, and the signal, blocked during
		 * the handler, comes back to it. */
		syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), sig, info);
		return;
	}
	if (a.sa_flags & SA_RESETHAND)
		forget_action(sig); /* as the kernel did to ours */
	if (a.sa_flags & SA_SIGINFO)
		a.sa_sigaction(sig, info, ucv);
	else
		a.sa_handler(sig);
}

/* Under the lock: record @a as the program's action for @sig. */
static void record_action(int sig, const struct sigaction *a, bool wrapped)
{
	actions[sig].act = *a;
	actions[sig].wrapped = wrapped;
}

/* Under the lock: the program's @a becomes @sig's action. */
static int set_action(int sig, const struct sigaction *a)
{
	struct sigaction w = wrapping(a);
	bool wrap = is_function(a);
	int ret = libc_sigaction(sig, wrap ? &w : a, NULL);

	if (!ret)
		record_action(sig, a, wrap);
	return ret;
}

/* The one-shot action that just ran: the kernel has already put the
 * default back (SA_RESETHAND). */
static void forget_action(int sig)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t saved;

	lock_actions(&saved);
	record_action(sig, &dfl, false);
	unlock_actions(&saved);
}

/* libc's sigaction (and through it signal, sigset, sysv_signal...). */
int umn__proc_hook_sigaction(int sig, const struct sigaction *act,
			     struct sigaction *old)
{
	struct sigaction prev;
	sigset_t saved;
	int ret = 0;

	if (!wrappable(sig))
		return libc_sigaction(sig, act, old);
	lock_actions(&saved);
	if (actions[sig].wrapped)
		prev = actions[sig].act;
	else
		ret = libc_sigaction(sig, NULL, &prev);
	if (!ret && act)
		ret = set_action(sig, act);
	if (!ret && old)
		*old = prev;
	unlock_actions(&saved);
	return ret;
}

/*
 * At start, once the hook is in: wrap what the program installed before,
 * then hold signals by depth alone.  Without glibc's __libc_sigaction, or
 * the hook, signals stay held for real.
 */
void umn__proc_signals_start(void)
{
	struct sigaction cur;
	sigset_t saved;

	if (!umn__proc_hooked((void *)umn__proc_hook_sigaction) ||
	    __atomic_load_n(&umn__signals_deferrable, __ATOMIC_ACQUIRE))
		return;
	umn__signals_late = umn__proc_hooks_late;
	lock_actions(&saved);
	for (int sig = 1; sig < NSIGS; sig++)
		if (wrappable(sig) && !actions[sig].wrapped &&
		    !libc_sigaction(sig, NULL, &cur) && is_function(&cur) &&
		    cur.sa_sigaction != wrapper)
			set_action(sig, &cur);
	unlock_actions(&saved);
	__atomic_store_n(&umn__signals_deferrable, true, __ATOMIC_RELEASE);
}

/* Before patching: the call the hook makes to install an action. */
bool umn__proc_signals_usable(void)
{
	void *libc;

	if (libc_sigaction)
		return true;
	libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	if (!libc)
		return false;
	*(void **)&libc_sigaction =
		dlvsym(libc, "__libc_sigaction", "GLIBC_PRIVATE");
	dlclose(libc);
	return libc_sigaction;
}
