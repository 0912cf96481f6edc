/*
 * verify/signal_elide.pml - holding signals without masking them while
 * the process has no handler (core/signals.c).
 *
 * Two threads take holds again and again: each hold counts itself in
 * unmasked (seq-cst), reads handlers, and either stays inside unmasked
 * (NONE) or uncounts itself and masks; inside, an unmasked hold may mask
 * at any time and stop counting (before it blocks: umn__signals_mask_now).
 * Two installers each switch NONE -> DRAINING (or find DRAINING), wait
 * until unmasked is 0, store MASKED and install a handler; one that finds
 * MASKED installs at once.  A signal may arrive at any time on either
 * thread; its handler runs at once unless the thread's hold masked it.
 * Property: no handler ever runs inside a hold (its hooked call would
 * wait for the lock its thread holds).
 *
 * Mutants (each must fail): NO_WAIT (an installer does not wait for the
 * unmasked holds), NO_RECHECK (a hold reads handlers once, before it
 * counts itself), NO_STORE (an installer leaves handlers NONE),
 * SECOND_RETURNS (an installer that finds DRAINING installs at once),
 * MASK_AFTER_UNCOUNT (a hold that masks inside uncounts itself before it
 * masks).  That such a hold uncounts at all is for the installers' wait
 * to end (liveness), which this safety check does not see: the test
 * proc-signals forces it.
 */
#define NONE	 1
#define DRAINING 2
#define MASKED	 3

byte handlers = NONE;
byte unmasked = 0;
byte installed = 0;	/* handlers in the kernel */
bool inside[2];		/* a thread is inside a hold */
bool masked[2];		/* ... and its hold masked signals */

active [2] proctype holder()
{
	byte me = _pid;
	do
	:: true ->
#ifdef NO_RECHECK
		if
		:: handlers == NONE -> unmasked++; masked[me] = false
		:: else -> masked[me] = true
		fi;
#else
		if
		:: handlers == NONE ->
			unmasked++;
			if
			:: handlers == NONE -> masked[me] = false
			:: else -> unmasked--; masked[me] = true
			fi
		:: else -> masked[me] = true
		fi;
#endif
		inside[me] = true;
		/* the critical section; it may mask before it blocks */
		if
		:: !masked[me] ->
#ifdef MASK_AFTER_UNCOUNT
			unmasked--; masked[me] = true
#else
			masked[me] = true; unmasked--
#endif
		:: true -> skip
		fi;
		inside[me] = false;
		if
		:: !masked[me] -> unmasked--
		:: else -> skip
		fi
	od
}

active [2] proctype installer()
{
	if
	:: atomic { handlers == MASKED -> skip }
	:: atomic { handlers == DRAINING -> skip };
#ifdef SECOND_RETURNS
		goto install;
#endif
	:: atomic { handlers == NONE ->
#ifndef NO_STORE
		handlers = DRAINING
#else
		skip
#endif
		}
	fi;
	if
	:: handlers == MASKED -> skip
	:: else ->
#ifndef NO_WAIT
		(unmasked == 0);
#endif
#ifndef NO_STORE
		handlers = MASKED
#endif
	fi;
install:
	installed++
}

/* A signal to thread @t: delivered now unless its hold masks it. */
active [2] proctype signal()
{
	byte t = _pid - 4;
	do
	:: atomic { installed > 0 && !(inside[t] && masked[t]) ->
		assert(!inside[t]) }
	od
}
