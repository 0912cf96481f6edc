/*
 * verify/collision_retry.pml - the counter + sequence collision-retry
 * protocol of docs/CONTRACT.md, rule 4 (the Linux 4.13 KVM pattern, which
 * consumers/mirror.c implements as UMN_MIRROR_CLASSIC), model-checked.
 *
 * Two faulting threads install the primary's translation into a secondary
 * (one shadow entry, enough: every invalidation overlaps it); two
 * invalidations of the page overlap them and each other.  An invalidation:
 *
 *	start:	lock; count++; zap the shadow entry; unlock
 *	update:	pte := a new frame (under the PTL: one atomic step)
 *	end:	lock; seq++; count--; unlock
 *	free:	the old frame is freed
 *
 * A fault:
 *
 *	s := seq; f := pte (no lock); lock;
 *	if (count != 0 || seq != s) { unlock; retry }
 *	spte := f; unlock
 *
 * The invariant (docs/CONTRACT.md): no frame is freed while the secondary maps
 * it, and the secondary never installs a freed frame.
 *
 * Mutants, each of which must fail (verify/run.sh checks):
 *	-DNO_COUNTER		the fault ignores the active-invalidation count
 *	-DCHECK_OUTSIDE_LOCK	the retry check is made before taking the lock
 *	-DEND_BEFORE_UPDATE	end runs before the page table is updated
 */

#define NFRAMES 4	/* frame 0 = none; 1 the first; 2, 3 the new ones */

byte pte = 1;		/* the primary's translation */
byte spte = 0;		/* the secondary's: 0 = none */
byte count = 0;		/* invalidations between start and end */
byte seq = 0;		/* bumped by every end */
bool slock = false;	/* the secondary's lock */
bool freed[NFRAMES];
byte next_frame = 2;

inline lock() { atomic { !slock -> slock = true } }
inline unlock() { slock = false }

inline update(old) {
	atomic { old = pte; pte = next_frame; next_frame++ }
}

inline end() {
	lock(); seq++; count--; unlock()
}

proctype invalidate()
{
	byte old;

	lock(); count++; spte = 0; unlock();	/* start */
#ifdef END_BEFORE_UPDATE
	end();
	update(old);
#else
	update(old);
	end();
#endif
	atomic { assert(spte != old); freed[old] = true }
}

proctype fault()
{
	byte s, f;
	bool ok;

retry:
	s = seq;
	f = pte;
#ifdef CHECK_OUTSIDE_LOCK
	ok = (count == 0 && seq == s);
	lock();
#else
	lock();
#ifdef NO_COUNTER
	ok = (seq == s);
#else
	ok = (count == 0 && seq == s);
#endif
#endif
	if
	:: ok -> atomic { assert(!freed[f]); spte = f }; unlock()
	:: else -> unlock(); goto retry
	fi
}

init
{
	atomic {
		run invalidate(); run invalidate();
		run fault(); run fault()
	}
}
