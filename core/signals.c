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
 * The switch is one way, NONE -> INSTALLED, and an installation waits
 * for the holds that did not mask to end before its handler goes in:
 *
 *	hold (core/internal.h)			installation (sigaction)
 *	unmasked_holds++			handlers = INSTALLED
 *	handlers == NONE ?			while (unmasked_holds) wait
 *	  yes: inside, unmasked			the handler goes in
 *	  no:  unmasked_holds--; mask
 *
 * Both sides write their word and then read the other's, sequentially
 * consistent: a hold that reads NONE counted itself before the installer
 * read the count, so the installer waits for it; a hold that began after
 * the installer's store reads INSTALLED and masks.  So no handler is ever
 * installed while a hold is inside unmasked, and no handler can interrupt
 * an unmasked hold.  (verify/signal_elide.pml checks it.)
 *
 * What the primary cannot see makes it mask for good: a handler
 * installed before it started (it looks at every signal's action once
 * its hook is in), a primary that cannot hook the installations
 * (UNKNOWN, the default), a sanitizer's runtime (it installs handlers
 * with raw system calls).  A handler installed behind libc's back (a raw
 * rt_sigaction system call) after the switch is not seen: docs/proc.md
 * lists it among the limits.
 */
#include <time.h>

#include "internal.h"
#include "rcu.h" /* UMN__TSAN, UMN__ASAN */

_Thread_local struct umn__held_signals umn__held;
int umn__handlers = UMN__HANDLERS_UNKNOWN;
unsigned long umn__unmasked_holds;

void umn__signals_expect_handler(void)
{
	/* This thread's own unmasked hold, if it installs from inside one
	 * (no handler can be running it: there was none). */
	unsigned long own = umn__held.depth && !umn__held.masked;
	struct timespec ts = { 0, 10000 };

	if (__atomic_load_n(&umn__handlers, __ATOMIC_ACQUIRE) ==
	    UMN__HANDLERS_INSTALLED)
		return;
	__atomic_store_n(&umn__handlers, UMN__HANDLERS_INSTALLED,
			 __ATOMIC_SEQ_CST);
	/* Holds are short: a lock's critical section. */
	while (__atomic_load_n(&umn__unmasked_holds, __ATOMIC_SEQ_CST) > own)
		nanosleep(&ts, NULL);
}

void umn__signals_none_installed(void)
{
	int unknown = UMN__HANDLERS_UNKNOWN;

#if defined(UMN__TSAN) || defined(UMN__ASAN)
	/* Their runtimes install handlers with raw system calls. */
	return;
#endif
	__atomic_compare_exchange_n(&umn__handlers, &unknown,
				    UMN__HANDLERS_NONE, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
}

void umn__signals_forget_holds(void)
{
	__atomic_store_n(&umn__unmasked_holds,
			 umn__held.depth && !umn__held.masked,
			 __ATOMIC_SEQ_CST);
}
