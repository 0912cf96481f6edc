/*
 * verify/signal_defer.pml - holding signals by deferring them
 * (core/signals.c, primaries/proc/signals.c).
 *
 * One thread T takes holds: the depth, then the lock; inside, it may wait
 * for another thread's work (umn__held_cond_wait); then the lock goes,
 * then the depth, and the last release unblocks what was deferred.  Two
 * signals A and B are sent to T, and P to the process: the kernel gives
 * P to T or to another thread O, whichever does not block it.  A signal
 * delivered to T runs the wrapper on top of whatever T was doing, with
 * every signal blocked; the wrapper defers (queues the signal again to T,
 * blocks it in the context it returns to, sets its deferred bit) if T's
 * depth is not 0, else runs the handler, which takes a hold and the
 * lock (it munmaps), with the deferred signals of a release it may have
 * interrupted put aside until it returns.  The work
 * T waits for needs P's handler to have run.  A signal that a system call
 * of T unblocks (the release's) is delivered as that call returns.
 *
 * Properties: no handler runs while T holds the lock; no wait lasts for
 * ever (no invalid end state); once everything has stopped, every signal
 * was handled and T's mask is as it began; no signal is deferred more
 * than three times (once, and again each time it comes back while the
 * handler of another, delivered first, holds: three signals here).
 *
 * Mutants (each must fail): NO_DEFER (the wrapper runs the handler
 * inside a hold), NO_UC_BLOCK (the deferred signal is not blocked in the
 * context the wrapper returns to: it comes back at once, again and
 * again), NO_UNBLOCK (the last release leaves the deferred signals
 * blocked), NO_SPURIOUS (a wait inside the hold keeps what was deferred
 * blocked: the process's signal P, taken by T, waits for a wait that
 * needs it), WRAPPER_UNMASKED (the wrapper runs with its own signal
 * blocked only, as an earlier prototype did: one wrapper interrupts
 * another, and the outer one's return unblocks what the inner deferred,
 * which then comes back), NO_ASIDE (the handler's own release takes
 * the deferred signals of the release it interrupted, and unblocks them
 * in its own context only: the interrupted one keeps them blocked).
 */
#define A 1
#define B 2
#define P 4
#define ALL 7

#ifdef NO_SPURIOUS
#define SPURIOUS false
#else
#define SPURIOUS true
#endif

byte mask = 0;		/* T's blocked signals */
byte pending = 0;	/* queued to T */
bool p_process = false;	/* P queued to the process, not yet taken */
byte deferred = 0;	/* T's deferred bits */
byte depth = 0;
bool locked = false;
bool masked = false;	/* the hold masked (before a wait) */
byte masked_saved;	/* the mask before that */
byte saved[8];		/* per signal: the mask its wrapper returns to */
byte top = 0;		/* T's frames: 0 = T's own code */
byte handled = 0;	/* signals whose handler ran */
byte requeued[8];
bool t_done = false;

/* A hold and its release, by T's code (frame 0) or by a handler's (the
 * handlers munmap): the depth, then, at the last release, the deferred
 * signals unblocked, which the kernel delivers as the system call
 * returns. */
inline hold(lvl)
{
	atomic { top == lvl -> depth++ }
}

inline release(lvl)
{
	atomic { top == lvl -> depth-- }
	atomic { top == lvl ->
		if
		:: depth == 0 && masked ->
#ifdef NO_UNBLOCK
			mask = masked_saved;
#else
			mask = masked_saved & ~deferred;
#endif
			masked = false; deferred = 0
		:: depth == 0 && !masked && deferred ->
#ifndef NO_UNBLOCK
			mask = mask & ~deferred;
#endif
			deferred = 0
		:: else -> skip
		fi }
	atomic { top == lvl && (pending & ~mask) == 0 -> skip }
}

/* The wrapper of signal @s, on frame @lvl of T. */
proctype wrapper(byte s; byte lvl)
{
	byte d, aside;

	atomic { top == lvl -> d = depth }
#ifndef NO_DEFER
	if
	:: d > 0 ->
		atomic { top == lvl -> pending = pending | s;
			requeued[s]++; assert(requeued[s] <= 3) }
#ifndef NO_UC_BLOCK
		atomic { top == lvl -> saved[s] = saved[s] | s }
#endif
		atomic { top == lvl -> deferred = deferred | s }
	:: else ->
#else
	if
	:: true ->
#endif
		/* The program's handler, with the deferred signals of a
		 * release it may have interrupted put aside; it runs with
		 * its own signal blocked, and takes the lock. */
		atomic { top == lvl -> handled = handled | s;
#ifndef NO_ASIDE
			aside = deferred; deferred = 0;
#endif
			mask = saved[s] | s }
		hold(lvl);
		atomic { top == lvl -> assert(!locked); locked = true }
		atomic { top == lvl -> locked = false }
		release(lvl);
		atomic { top == lvl -> deferred = deferred | aside }
	fi;
	/* sigreturn */
	atomic { top == lvl -> mask = saved[s]; top-- }
}

/* The kernel: a signal queued to T, or P queued to the process, that T
 * does not block runs its wrapper on top of T now; O, which blocks
 * nothing, may take P instead. */
active proctype kernel()
{
	byte s;

end:	do
	:: atomic {
		((pending | (p_process -> P : 0)) & ~mask) != 0 ->
		if
		:: (pending & A) && !(mask & A) -> s = A
		:: (pending & B) && !(mask & B) -> s = B
		:: (pending & P) && !(mask & P) -> s = P
		:: p_process && !(mask & P) -> s = P; p_process = false;
			pending = pending | P
		fi;
		pending = pending & ~s;
		saved[s] = mask;
#ifdef WRAPPER_UNMASKED
		mask = mask | s;
#else
		mask = ALL;
#endif
		top++;
		run wrapper(s, top) }
	:: atomic { p_process -> p_process = false;
		handled = handled | P } /* O takes it */
	od
}

active proctype sender()
{
	atomic { pending = pending | A };
	atomic { pending = pending | B };
	p_process = true
}

active proctype thread()
{
	byte i;

	for (i : 1 .. 2) {
		hold(0);
		atomic { top == 0 -> locked = true };
		if
		:: true -> skip
		:: true -> /* wait for O's work, which needs P's handler */
		   do
		   :: atomic { SPURIOUS && top == 0 && depth == 1 && !masked &&
				deferred -> locked = false }
			release(0);
			hold(0);
			atomic { top == 0 -> locked = true }
		   :: atomic { top == 0 && !(depth == 1 && !masked && deferred) ->
				if
				:: !masked -> masked_saved = mask; mask = ALL;
					masked = true
				:: else -> skip
				fi }
			atomic { top == 0 && (handled & P) -> locked = false };
			atomic { top == 0 -> locked = true };
			break
		   od
		fi;
		atomic { top == 0 -> locked = false };
		release(0)
	}
	t_done = true
}

/* Once nothing can move: all handled, T's mask as it began. */
active proctype check()
{
	timeout -> assert(t_done && handled == ALL && mask == 0 &&
			  deferred == 0 && pending == 0)
}
