/*
 * verify/eagain_pairing.pml - start/end pairing across a refused start
 * (core/notifier.c, the rule Linux fixed in 2021), model-checked.
 *
 * A chain of three notifiers; the middle one declares that its start may
 * fail (and so, by the registration rule, has no end); the others have an
 * end.  Two primaries run non-blockable brackets at once; the middle
 * notifier refuses some of them, at random.  The core calls the starts in
 * chain order; on a refusal it calls the end of every notifier whose start
 * ran, reports -EAGAIN, and the primary must not call end.
 *
 * Invariants, for each bracket and each notifier: an end was called iff a
 * start that succeeded was (never twice, never without one), and the
 * primary changed its page table only when every start succeeded.
 *
 * Mutants, each of which must fail (verify/run.sh):
 *	-DNO_UNWIND		a refused start ends nobody
 *	-DUNWIND_ALL		a refused start ends every notifier
 *	-DEND_AFTER_EAGAIN	the primary calls end even after -EAGAIN
 */

#define N 3
#define MAY_FAIL 1	/* the index of the notifier that may refuse */


proctype primary()
{
	bool started[N], ended[N];
	byte i, failed = N;
	bool refused;

	/* umn_invalidate_range_start */
	i = 0;
	do
	:: i < N ->
		if
		:: i == MAY_FAIL -> if
				    :: refused = true
				    :: refused = false
				    fi
		:: else -> refused = false
		fi;
		if
		:: refused -> failed = i; break
		:: else -> started[i] = true; i++
		fi
	:: else -> break
	od;
	if
	:: failed < N ->
		/* pair every start that ran */
		i = 0;
		do
#ifdef NO_UNWIND
		:: true -> break
#elif defined(UNWIND_ALL)
		:: i < N -> ended[i] = true; i++
		:: else -> break
#else
		:: i < failed -> if
				 :: i != MAY_FAIL -> ended[i] = true
				 :: else
				 fi;
				 i++
		:: else -> break
#endif
		od
	:: else
	fi;

	/* the primary: change the table and end, or back off */
	if
	:: failed == N ->
		i = 0;
		do
		:: i < N -> if
			    :: i != MAY_FAIL -> assert(!ended[i]); ended[i] = true
			    :: else
			    fi;
			    i++
		:: else -> break
		od
	:: else
#ifdef END_AFTER_EAGAIN
		-> i = 0;
		do
		:: i < N -> if
			    :: i != MAY_FAIL -> ended[i] = true
			    :: else
			    fi;
			    i++
		:: else -> break
		od
#endif
	fi;

	/* every end paired with a successful start, and only those */
	i = 0;
	do
	:: i < N ->
		if
		:: i != MAY_FAIL -> assert(ended[i] == started[i])
		:: else -> assert(!ended[i])
		fi;
		i++
	:: else -> break
	od
}

init
{
	atomic { run primary(); run primary() }
}
