// SPDX-License-Identifier: MIT
/*
 * core/signals.c - holding a thread's signals, and when it costs nothing.
 *
 * A primary whose brackets may begin in a signal handler (the process: a
 * handler may munmap) holds the thread's signals while it holds the mm's
 * lock, so that a handler never waits for a lock its own thread holds
 * (the kernel's spin_lock_irqsave).  Masking costs two system calls per
 * hold, more than the rest of a cache miss.  But no handler can run on a
 * thread if the process has none installed; so a primary that sees every
 * installation (primaries/proc patches libc's sigaction) tells the core
 * when it found none, and from then until the first installation a hold
 * masks nothing: it counts itself in umn__unmasked_holds.
 *
 * The switch is one way, NONE -> DRAINING -> MASKED.  The first
 * installation stores DRAINING and waits for the holds that did not mask
 * to end; then it stores MASKED, and only then does any handler go in
 * (every other installation that finds DRAINING drains too):
 *
 *	hold (core/internal.h)			first installation
 *	unmasked_holds++			handlers = DRAINING
 *	handlers == NONE ?			while (unmasked_holds) wait
 *	  yes: inside, unmasked			handlers = MASKED
 *	  no:  unmasked_holds--; mask		the handler goes in
 *
 * Both sides write their word and then read the other's, sequentially
 * consistent: a hold that reads NONE counted itself before the installer
 * read the count, so the installer waits for it; a hold that began after
 * the installer's store reads DRAINING and masks.  So no handler is ever
 * installed while a hold is inside unmasked, and no handler can interrupt
 * an unmasked hold.  An installation that finds DRAINING drains too (no
 * hold begins unmasked any more, so its wait ends as the first one's).  (verify/signal_elide.pml checks it, with two
 * installers.)
 *
 * The wait must end.  A hold that blocks for other threads' work (a
 * condition wait, a grace period) masks first and stops counting
 * (umn__signals_mask_now), so the count covers only short sections that
 * wait for nothing but a mutex's short sections; an installer inside a
 * hold of its own masks it the same way; and a child forked behind umn's
 * back (glibc's _Fork, a raw clone) does not wait for its parent's
 * threads: the count belongs to the process that switched to NONE.
 *
 * What the primary cannot see makes it mask for good: a handler
 * installed before it started (it looks at every signal's action once
 * its hook is in), a primary that cannot hook the installations
 * (UNKNOWN, the default), a sanitizer's runtime (it installs handlers
 * with raw system calls).  A handler installed behind libc's back (a raw
 * rt_sigaction system call) after the switch is not seen: docs/proc.md
 * lists it among the limits.
 */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "rcu.h" /* UMN__TSAN, UMN__ASAN */

_Thread_local struct umn__held_signals umn__held;
int umn__handlers = UMN__HANDLERS_UNKNOWN;
unsigned long umn__unmasked_holds;
static pid_t counted_in; /* the process whose holds unmasked_holds counts */

/* The first installation's wait, in the process that counts. */
static void drain_unmasked_holds(void)
{
	struct timespec ts = { 0, 10000 };
	int cancel;

	umn__signals_mask_now(); /* this thread's own hold, if any */
	if (getpid() != __atomic_load_n(&counted_in, __ATOMIC_RELAXED))
		return;
	/* sigaction is no cancellation point: nanosleep is. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	while (__atomic_load_n(&umn__unmasked_holds, __ATOMIC_SEQ_CST))
		nanosleep(&ts, NULL);
	pthread_setcancelstate(cancel, NULL);
}

void umn__signals_expect_handler(void)
{
	int state = __atomic_load_n(&umn__handlers, __ATOMIC_SEQ_CST);

	/* UNKNOWN or NONE: DRAINING, and drain; DRAINING: drain too (no
	 * hold begins unmasked any more, so every drain ends). */
	while (state != UMN__HANDLERS_DRAINING)
		if (state == UMN__HANDLERS_MASKED ||
		    __atomic_compare_exchange_n(
			    &umn__handlers, &state, UMN__HANDLERS_DRAINING,
			    false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			break;
	if (state == UMN__HANDLERS_MASKED)
		return;
	drain_unmasked_holds();
	__atomic_store_n(&umn__handlers, UMN__HANDLERS_MASKED,
			 __ATOMIC_SEQ_CST);
}

void umn__signals_none_installed(void)
{
	int unknown = UMN__HANDLERS_UNKNOWN;

#if defined(UMN__TSAN) || defined(UMN__ASAN)
	/* Their runtimes install handlers with raw system calls. */
	return;
#endif
	__atomic_store_n(&counted_in, getpid(), __ATOMIC_RELAXED);
	__atomic_compare_exchange_n(&umn__handlers, &unknown,
				    UMN__HANDLERS_NONE, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
}

void umn__signals_forget_holds(void)
{
	__atomic_store_n(&umn__unmasked_holds,
			 umn__held.depth && !umn__held.masked,
			 __ATOMIC_SEQ_CST);
	__atomic_store_n(&counted_in, getpid(), __ATOMIC_RELAXED);
}
