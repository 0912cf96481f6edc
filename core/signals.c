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
 * it interrupts, so compiler fences order the depth against the lock;
 * the wrapper runs with every signal blocked, so no wrapper interrupts
 * another's check and deferral.  A signal that interrupts a release
 * after the depth reached 0 has its handler run at once; one that came
 * before was deferred, and the release unblocks it.  Such a handler may
 * take holds of its own (it munmaps): their release must not take the
 * deferred signals of the release it interrupted (it would unblock them
 * in the handler's context only, and the interrupted one would find
 * nothing to unblock and keep them blocked for good), so the wrapper
 * sets them aside while the handler runs (verify/signal_defer.pml: three
 * signals, handlers that hold, a wait).  The wrapper finds its thread's
 * holds through a pthread key, which the first hold sets: reading it
 * allocates nothing, where a first access to libumn.so's thread-local
 * storage may (loaded by dlopen()).
 *
 * A signal that cannot be queued again (RLIMIT_SIGPENDING) is kept in
 * the holds, one per thread, still blocked; the last release queues it,
 * or, if that fails too, has the primary run its handler then.
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
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

_Thread_local struct umn__held_signals umn__held;
bool umn__signals_deferrable;
pthread_key_t umn__signals_key; /* created before deferrable is set */
void (*umn__signals_run_late)(int sig, siginfo_t *info);

int umn__signals_queue_again(int sig, siginfo_t *info)
{
	return (int)syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), sig,
			    info);
}

void umn__signals_unblock_deferred(void)
{
	unsigned long d =
		__atomic_exchange_n(&umn__held.deferred, 0, __ATOMIC_RELAXED);
	int late = umn__held.stashed;
	siginfo_t info;
	sigset_t set;

	if (late) {
		/* Queued now, still blocked, so it runs as the others do. */
		info = umn__held.stash;
		umn__held.stashed = 0;
		if (!umn__signals_queue_again(late, &info))
			late = 0;
	}
	if (umn__held.masked) {
		/* Masked since (nothing was deferred after): the mask before
		 * the hold, without what was deferred before it masked. */
		umn__held.masked = false;
		for (int sig = 1; d; sig++, d >>= 1)
			if (d & 1)
				sigdelset(&umn__held.saved, sig);
		pthread_sigmask(SIG_SETMASK, &umn__held.saved, NULL);
	} else {
		umn__sigset_of_bits(&set, d);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	}
	if (late && umn__signals_run_late)
		umn__signals_run_late(late, &info);
}

bool umn__signals_defer(struct umn__held_signals *h, int sig, siginfo_t *info,
			void *uc)
{
	/* @sig is blocked while its wrapper runs, and then in @uc, so the
	 * copy stays pending until the release. */
	if (umn__signals_queue_again(sig, info)) {
		if (h->stashed)
			return false;
		h->stash = *info;
		h->stashed = (unsigned char)sig;
	}
	sigaddset(&((ucontext_t *)uc)->uc_sigmask, sig);
	__atomic_fetch_or(&h->deferred, 1UL << (sig - 1), __ATOMIC_RELAXED);
	return true;
}

struct umn__held_signals *umn__signals_of_thread(void)
{
	/* pthread_getspecific() reads the thread's own table: no lock, no
	 * allocation. */
	if (!__atomic_load_n(&umn__signals_deferrable, __ATOMIC_ACQUIRE))
		return NULL;
	return pthread_getspecific(umn__signals_key);
}

void umn__signals_start_deferring(void)
{
	/* Without a key (none left), holds keep masking. */
	if (!pthread_key_create(&umn__signals_key, NULL))
		__atomic_store_n(&umn__signals_deferrable, true,
				 __ATOMIC_RELEASE);
}
