// SPDX-License-Identifier: MIT
/*
 * core/signals.c - holding a thread's signals, by masking them or by
 * deferring them.
 *
 * A primary whose brackets may begin in a signal handler (the process: a
 * handler may munmap) holds the thread's signals while it holds the mm's
 * lock, so that a handler never waits for a lock its own thread holds
 * (the kernel's spin_lock_irqsave).  Masking costs two system calls per
 * hold, more than the rest of a cache miss.
 *
 * So a primary that wraps every handler the program installs (the
 * process: libc's sigaction is patched) lets holds be a per-thread depth
 * alone (umn__signals_deferrable), and its wrapper consults the depth, as
 * an interrupt controller's lazy masking does:
 *
 *	thread T: hold (depth 1)
 *	lock(mm)			signal S -> wrapper(S), S blocked:
 *					  depth != 0: umn__signals_defer():
 *					  queue S again to T, keep it blocked
 *					  in the interrupted context, note it
 *					  in T's deferred bits
 *	unlock(mm)
 *	release (depth 0):
 *	  deferred: unblock them ->	S delivered -> wrapper(S):
 *					  depth 0: the program's handler
 *
 * Everything here is the one thread's: a handler runs on top of the code
 * it interrupts, so compiler fences order the depth against the lock,
 * and the deferred bits are set with single read-modify-write
 * instructions (a wrapper may interrupt another).  A handler that
 * interrupts a release after the depth reached 0 runs at once; one that
 * came before deferred, and the release unblocks it.  Each wrapper adds
 * only its own signal to the context it returns to, so nested wrappers
 * leave every deferred signal blocked until the release unblocks them
 * all (verify/signal_defer.pml, with two signals and a wait).
 *
 * What must not wait:
 *   - a synchronous fault (the instruction would fault again): the
 *     wrapper runs its handler at once (masking would make the kernel
 *     kill the process instead);
 *   - a signal deferred on a thread that then waits inside umn for other
 *     threads' work: a signal sent to the process would have gone to
 *     another thread had this one masked, and that work may need its
 *     handler.  So a hold masks before it waits (umn__signals_mask_now),
 *     and the outermost hold's condition wait first lets go of its lock
 *     and hold when something was deferred, and returns as a spurious
 *     wakeup (umn__held_cond_wait): the handlers run with nothing held.
 *     The first notifier's grace period cannot do that (its wait is
 *     inside a lock it cannot let go): a signal deferred in the few
 *     instructions before it waits for it (docs/proc.md).
 *
 * Without a wrapping primary (another libc, aarch64, a sanitizer's
 * runtime, which installs handlers with raw system calls) holds mask, as
 * before.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

_Thread_local struct umn__held_signals umn__held;
bool umn__signals_deferrable;

void umn__signals_unblock_deferred(void)
{
	unsigned long d =
		__atomic_exchange_n(&umn__held.deferred, 0, __ATOMIC_RELAXED);
	sigset_t set;

	if (umn__held.masked) {
		/* Masked since (nothing was deferred after): the mask before
		 * the hold, without what was deferred before it masked. */
		for (int sig = 1; d; sig++, d >>= 1)
			if (d & 1)
				sigdelset(&umn__held.saved, sig);
		umn__held.masked = false;
		pthread_sigmask(SIG_SETMASK, &umn__held.saved, NULL);
		return;
	}
	sigemptyset(&set);
	for (int sig = 1; d; sig++, d >>= 1)
		if (d & 1)
			sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

bool umn__signals_defer(int sig, siginfo_t *info, void *uc)
{
	/* @sig is blocked while its wrapper runs, so the copy stays
	 * pending until the release. */
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), sig, info))
		return false;
	sigaddset(&((ucontext_t *)uc)->uc_sigmask, sig);
	__atomic_fetch_or(&umn__held.deferred, 1UL << (sig - 1),
			  __ATOMIC_RELAXED);
	return true;
}

void umn__signals_start_deferring(void)
{
	__atomic_store_n(&umn__signals_deferrable, true, __ATOMIC_RELEASE);
}
