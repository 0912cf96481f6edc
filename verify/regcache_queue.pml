/*
 * verify/regcache_queue.pml - the registration cache's invalidation queue
 * (consumers/regcache_reclaim.c): ->invalidate takes no lock; it marks
 * the registration INVALIDATED and queues it on rc->pending (once: the
 * deferred flag), and the next holder of the cache's lock (rc_lock, or
 * the owner's unlock) takes it off the queue and out of the index.
 *
 * One registration r.  A thread R registers it with collision-retry
 * (reset the state to one live user; read_begin, which waits while r's
 * invalidation is in flight; pin; under the lock: the sequence and
 * INVALIDATED, or unlock, a pass through the lock to unpin, and retry;
 * or, if the pin fails on a retry, remove r's interval notifier, pass
 * through the lock, and free r unpublished), publishes it, then releases
 * its user: the last user of an invalid
 * registration frees it (out of the index under the lock, then put_reg:
 * remove the interval notifier, which waits for the invalidations in
 * flight and keeps any more from starting, then the lock, and free).
 * Two invalidations, each in a thread of its own, hit r at any point
 * while its notifier is inserted.  A reaper takes the lock at any time,
 * and frees r if it finds it a zombie (invalid, in no index, no user).
 *
 * Properties: a live registration is never taken out of the index (the
 * queue never holds a registration alive again); r is never queued once
 * freed, nor freed while queued; nothing is lost: once everything has
 * stopped and one more thread has taken the lock, an invalid r is in no
 * index.
 *
 * Mutants (each must fail): NO_CLEAR (the drain leaves the deferred flag
 * set: a later invalidation does not queue r again), NO_LAST_PASS (put_reg
 * frees without the lock that follows the remove), NO_REMOVE_PASS (a
 * register whose pin failed frees r without passing through the lock
 * after the remove), NO_WAIT (read_begin does not wait for the
 * invalidation in flight: a retried registration is published alive
 * while the invalidation that made it retry still has to queue it).
 *
 * rc_lock() reads rc->pending with a relaxed load before it takes the
 * queue; here the check and the exchange are one step.  The pushes that
 * must be taken are ordered before that load by mm->lock (the remove
 * waits for the invalidations in flight) or by read_begin's acquire:
 * docs/VERIFICATION.md, "Memory order".
 */
#define UNPUBLISHED 0
#define INDEXED 1
#define UNINDEXED 2
#define ZOMBIE 3
#define FREEING 4
#define FREED 5

#define NINV 2

bool inval = false;	/* r->state's INVALIDATED */
byte users = 0;		/* r->state's users */
byte where = UNPUBLISHED;
bool deferred = false;	/* r->deferred */
bool queued = false;	/* r on rc->pending */
byte lk = 0;		/* rc->lock: 0, or the holder's _pid + 1 */
byte seq = 0;		/* r's interval sequence, set by each ->invalidate */
byte inflight = 0;	/* invalidations of r between set_seq and return */
bool removed = false;	/* r's interval notifier removed */
byte done = 0;		/* threads finished */

inline invalidate_locked() {
	if
	:: where == INDEXED ->
		assert(inval);	/* a live one is never taken out */
		if
		:: users > 0 -> where = UNINDEXED
		:: else -> where = ZOMBIE
		fi
	:: else -> skip
	fi
}

/* rc_lock(): the lock, then the queue. */
inline lock() {
	atomic { lk == 0 -> lk = _pid + 1 };
	atomic { took = queued; queued = false };
	if
	:: took ->
#ifndef NO_CLEAR
		deferred = false;
#endif
		invalidate_locked()
	:: else -> skip
	fi
}

inline unlock() {
	lk = 0
}

/* remove, wait for the invalidations in flight, lock, free. */
inline put_reg() {
	atomic { inflight == 0 -> removed = true };
#ifndef NO_LAST_PASS
	lock();
#endif
	assert(!queued);
	where = FREED;
#ifndef NO_LAST_PASS
	unlock()
#endif
}

proctype Register()
{
	bool took;
	byte s;

retry:
	atomic { inval = false; users = 1 };
#ifdef NO_WAIT
	s = seq;
#else
	atomic { inflight == 0 -> s = seq };
#endif
	lock();
	if
	:: seq != s || inval ->
		unlock();
		lock();	/* unpin_reg's pass */
		unlock();
		if
		:: goto retry
		:: /* the pin fails: out_remove */
			atomic { inflight == 0 -> removed = true };
#ifndef NO_REMOVE_PASS
			lock();
			unlock();
#endif
			assert(!queued);
			where = FREED;
			goto out
		fi
	:: else -> skip
	fi;
	where = INDEXED;
	unlock();

	/* The caller's release. */
	if
	:: atomic { inval -> skip };
		lock();
		invalidate_locked();
		where = FREEING;
		unlock();
		put_reg()
	:: atomic { !inval -> users = 0 }
	fi;
out:
	done++
}

/* A munmap of r's range: once r's notifier is removed, it hears nothing. */
proctype Invalidate()
{
	if
	:: atomic { !removed -> inflight++; seq++ };	/* start; set_seq */
		inval = true;
		atomic {
			if
			:: !deferred ->
				deferred = true;
				assert(where != FREED);
				queued = true
			:: else -> skip
			fi
		};
		inflight--
	:: atomic { removed -> skip }
	fi;
	done++
}

proctype Reaper()
{
	bool took;

	do
	:: lock();
		if
		:: where == ZOMBIE && users == 0 ->
			where = FREEING;
			unlock();
			put_reg()
		:: else -> unlock()
		fi
	:: break
	od;
	done++
}

init {
	bool took;

	atomic {
		run Register();
		run Invalidate();
		run Invalidate();
		run Reaper()
	};
	done == NINV + 2;
	lock();
	assert(!(inval && where == INDEXED));
	unlock()
}
