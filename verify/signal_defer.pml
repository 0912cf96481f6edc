/*
 * verify/signal_defer.pml - signals held by a per-thread depth, not by the
 * mask (core/internal.h: umn__signals_hold/release; primaries/proc/
 * signals.c: the wrapper; hooks.c: calls told late).
 *
 * One thread T enters umn twice: hold (depth + 1), the mm's lock, unlock,
 * release (depth - 1; at 0, what was told late is told, and a deferred
 * signal's mask is restored).  The kernel raises a signal up to RAISES
 * times, whenever it is not pending (standard signals coalesce), and
 * delivers a pending, unmasked one at any step of T, running its handler
 * atomically on T's stack.  Either the wrapper runs (a handler installed
 * through libc): with the depth not 0 it masks everything for the
 * interrupted code and queues the signal again; else the program's
 * handler runs, and unmaps memory a notifier covers: a bracket that takes
 * the mm's lock.  Or (UNWRAPPED) the program's handler runs directly: its
 * call, finding the depth not 0, is told late.
 *
 * Checked: a wrapped handler never runs inside umn; no bracket waits for
 * the lock its own thread holds (a deadlock); every raised signal is
 * handled once (none lost, none left pending: T's end waits for it);
 * every call made inside umn is told.
 *
 * Mutants (-D): RELEASE_RESTORES_FIRST (the mask is restored before the
 * depth drops: a signal in between is deferred and never comes back);
 * DEFER_DROPS (the wrapper defers without queueing the signal again);
 * IGNORE_DEPTH (the wrapper runs the handler at once); NO_LATE (a call
 * told late is forgotten).
 */

#define RAISES 2

#ifdef NO_LATE
#define UNWRAPPED /* the late calls come from unwrapped handlers */
#endif

byte depth = 0;
bool lock_held = false;
bool masked = false;   /* T's mask: every signal blocked */
bool deferred = false; /* a signal waits for the release */
bool pending = false;
byte raised = 0, handled = 0;
byte late = 0, made_late = 0, told = 0;
bool done = false;

/* The program's handler: a munmap of covered memory. */
inline program_handler()
{
	handled++;
	if
	:: depth > 0 -> /* unwrapped, on top of umn: told late */
#ifndef NO_LATE
		late++;
#endif
		made_late++
	:: else ->
		assert(!lock_held); /* its bracket would wait for itself */
		told++
	fi
}

active proctype kernel()
{
	do
	:: !done && raised < RAISES && !pending -> raised++; pending = true
	:: pending && !masked ->
		atomic {
			pending = false;
#ifdef UNWRAPPED
			program_handler()
#else
			if
#ifndef IGNORE_DEPTH
			:: depth > 0 ->
				masked = true;
				deferred = true;
#ifndef DEFER_DROPS
				pending = true
#endif
#endif
			:: else ->
				assert(depth == 0); /* never inside umn */
				program_handler()
			fi
#endif
		}
	:: done && !pending -> break
	od
}

inline tell_late()
{
	do /* the late calls' brackets: not on top of umn */
	:: late > 0 -> late--; assert(!lock_held); told++
	:: else -> break
	od
}

inline release()
{
#ifdef RELEASE_RESTORES_FIRST
	if
	:: depth == 1 && deferred -> deferred = false; masked = false
	:: else -> skip
	fi;
	depth--;
	if
	:: depth == 0 -> tell_late()
	:: else -> skip
	fi
#else
	depth--;
	if
	:: depth == 0 ->
		tell_late();
		if
		:: deferred -> deferred = false; masked = false
		:: else -> skip
		fi
	:: else -> skip
	fi
#endif
}

active proctype thread()
{
	byte round = 0;

	do
	:: round < 2 ->
		depth++;
		lock_held = true;
		lock_held = false;
		release();
		round++
	:: else -> break
	od;
	done = true;
	/* Every raised signal comes to its handler. */
	(!pending && raised == handled);
	assert(told == handled && made_late <= handled)
}
