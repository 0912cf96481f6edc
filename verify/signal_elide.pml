/*
 * verify/signal_elide.pml - holding signals without masking them while
 * the process has no handler (core/signals.c).
 *
 * Two threads take holds again and again: each hold counts itself in
 * unmasked (seq-cst), reads handlers, and either stays inside unmasked
 * (NONE) or uncounts itself and masks.  An installer sets INSTALLED,
 * waits until unmasked is 0, and installs a handler.  A signal may
 * arrive at any time on either thread; its handler runs at once unless
 * the thread's hold masked it.  Property: no handler ever runs inside a
 * hold (the handler's hooked call would wait for the lock its thread
 * holds).
 *
 * Mutants (each must fail): NO_WAIT (the installer does not wait for the
 * unmasked holds), NO_RECHECK (a hold reads handlers once, before it
 * counts itself), NO_STORE (the installer never sets INSTALLED).
 */
#define NONE	  1
#define INSTALLED 2

byte handlers = NONE;
byte unmasked = 0;
bool installed = false; /* the handler is in the kernel */
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
		/* ... the critical section ... */
		inside[me] = false;
		if
		:: !masked[me] -> unmasked--
		:: else -> skip
		fi
	od
}

active proctype installer()
{
#ifndef NO_STORE
	handlers = INSTALLED;
#endif
#ifndef NO_WAIT
	(unmasked == 0);
#endif
	installed = true
}

/* A signal to thread @t: delivered now unless its hold masks it. */
active [2] proctype signal()
{
	byte t = _pid - 3;
	do
	:: atomic { installed && !(inside[t] && masked[t]) ->
		assert(!inside[t]) }
	od
}
