/*
 * verify/interval_seq.pml - interval notifiers (core/interval.c, Linux
 * 5.5's mmu_interval_notifier): the odd/even sequence, inserts and removes
 * deferred while an invalidation is in flight, read_begin waiting while
 * its interval is being invalidated, model-checked.
 *
 * Two invalidations of the page race two faulting threads: a user that
 * inserts an interval notifier over it, faults twice through it
 * (read_begin; look the PTE up without the lock; lock; read_retry;
 * install) and removes it once the other thread, which faults once, is
 * done.
 *
 *	start:	lockless++; if no interval counted in the filter: done
 *		(lock-free).  Else lock; if not in the tree: unlock, done
 *		(lock-free: the tree is exact).  Else nactive++; lockless--;
 *		seq |= 1; cur := seq; unlock; lock(sub); sub_seq := cur;
 *		zap; unlock(sub)
 *	update:	pte := a new frame
 *	end:	lock-free: lockless--; if it was the last and owed: lock;
 *		finish if still owed, nothing active, seq odd; unlock.
 *		Locked: lock; nactive--; if !nactive && seq odd: owed := 1,
 *		and finish unless lockless brackets remain; unlock
 *	finish:	seq++, apply the deferred insert or remove, owed := 0
 *	free:	the old frame
 *
 * Insert counts its interval in the filter first, then reads lockless:
 * with the start's lockless++ then filter read, one sees the other.
 *
 * Invariants: no frame is freed while the secondary maps it; a freed
 * frame is never installed; no ->invalidate runs after remove returned.
 *
 * Mutants, each of which must fail (verify/run.sh):
 *	-DNO_WAIT		read_begin does not wait while invalidating
 *	-DINSERT_NOT_DEFERRED	an insert during an invalidation goes in at
 *				once, with a sequence that says "not being
 *				invalidated"
 *	-DREMOVE_NO_WAIT	remove takes the interval out at once
 *	-DIGNORE_LOCKLESS	insert looks only at locked invalidations (the
 *				lock-free ones go unseen)
 *	-DNO_OWED		the last lock-free end does not finish what an
 *				insert left owed: read_begin waits forever
 */

#define NFRAMES 4
#define NONE 0
#define INSERT 1
#define REMOVE 2

byte pte = 1, spte = 0, next_frame = 2;
bool freed[NFRAMES];

bool lk = false;	/* mm->lock */
byte nactive = 0;
byte seq = 2;		/* mm->invalidate_seq: odd while invalidating */
bool in_tree = false;
byte deferred = NONE;

byte lockless = 0;	/* brackets in flight that took no lock */
bool owed = false;	/* the seq waits for the last of them */
bool counted = false;	/* the filter counts the interval */

bool slk = false;	/* the secondary's lock */
byte sub_seq = 0;
bool removed = false;

inline lock(l) { atomic { !l -> l = true } }
inline unlock(l) { l = false }

inline finish() {
	seq++;
	if
	:: deferred == INSERT -> in_tree = true
	:: deferred == REMOVE -> in_tree = false
	:: else
	fi;
	deferred = NONE;
	owed = false
}

proctype invalidate()
{
	byte cur, old;
	bool hit;

	lockless++;
	if
	:: !counted ->
		/* Lock-free: no interval can overlap. */
lockfree:
		atomic { old = pte; pte = next_frame; next_frame++ };
		lockless--;
		if
#ifndef NO_OWED
		:: lockless == 0 && owed ->
			lock(lk);
			if
			:: owed && nactive == 0 && lockless == 0 && (seq & 1) ->
				finish()
			:: else
			fi;
			unlock(lk)
#endif
		:: else
		fi;
		goto done
	:: else
	fi;
	lock(lk);
	hit = in_tree;
	if
	:: !hit ->
		/* The filter collided; the tree is exact: stay lock-free. */
		unlock(lk);
		goto lockfree
	:: else
	fi;
	nactive++;
	lockless--;
	seq = seq | 1;
	cur = seq;
	unlock(lk);
	assert(!removed);
	lock(slk); sub_seq = cur; spte = 0; unlock(slk);
	atomic { old = pte; pte = next_frame; next_frame++ };
	lock(lk);
	nactive--;
	if
	:: nactive == 0 && (seq & 1) ->
		owed = true;
		if
		:: lockless == 0 -> finish()
		:: else
		fi
	:: else
	fi;
	unlock(lk);
done:
	atomic { assert(spte != old); freed[old] = true }
}

inline insert() {
	lock(lk);
	counted = true;
	if
#ifdef IGNORE_LOCKLESS
	:: nactive > 0 ->
#else
	:: nactive > 0 || lockless > 0 ->
#endif
#ifdef INSERT_NOT_DEFERRED
		in_tree = true; sub_seq = seq - 1
#else
		if
		:: seq & 1 -> deferred = INSERT
		:: else -> seq = seq | 1; in_tree = true
		fi;
		sub_seq = seq;
		if
		:: nactive == 0 ->
			owed = true;
			if
			:: lockless == 0 -> finish()
			:: else
			fi
		:: else
		fi
#endif
	:: else -> sub_seq = seq - 1; in_tree = true
	fi;
	unlock(lk)
}

inline fault() {
	byte s, f;
retry:
	s = sub_seq;
#ifndef NO_WAIT
	if
	:: s == seq -> (seq != s)	/* wait for the end */
	:: else
	fi;
#endif
	f = pte;
	lock(slk);
	if
	:: sub_seq != s -> unlock(slk); goto retry
	:: else -> atomic { assert(!freed[f]); spte = f }; unlock(slk)
	fi
}

inline remove() {
	byte w;

	/* The secondary drops its translations first: once remove returns,
	 * it hears no invalidation. */
	lock(slk); spte = 0; unlock(slk);
	lock(lk);
	if
#ifndef REMOVE_NO_WAIT
	:: in_tree && (seq & 1) ->
		deferred = REMOVE; w = seq; unlock(lk);
		(seq != w)
#endif
	:: deferred == INSERT -> deferred = NONE; unlock(lk)
	:: else -> in_tree = false; unlock(lk)
	fi;
	removed = true
}

bool inserted = false;	/* the second faulting thread may start */
bool faulted = false;	/* ... and has finished */

proctype faulter()
{
	inserted;
	fault();
	faulted = true
}

proctype user()
{
	insert();
	inserted = true;
	fault();
	fault();
	faulted;	/* the owner removes once its faulting threads are done */
	remove()
}

init
{
	atomic { run invalidate(); run invalidate(); run user(); run faulter() }
}
