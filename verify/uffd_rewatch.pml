/*
 * verify/uffd_rewatch.pml - the userfaultfd source keeps a live interval's
 * mapping registered (primaries/proc/uffd.c: rewatch, orphans, sync).
 *
 * One address range under an interval notifier that stays inserted.  The
 * program changes it only by raw system calls (no hook sees them): munmap,
 * mmap into the hole, mmap MAP_FIXED over the mapping, and sync.  The
 * kernel registers nothing by itself: a new mapping is unregistered, and
 * only a registered mapping's unmap sends an event.  The dispatcher takes
 * the events in order; after an UNMAP it registers what is mapped there
 * now, or keeps the range as an orphan; before each event (a sync too) it
 * tries its orphans again.
 *
 * Invariant, checked when umn_proc_uffd_sync() returns: the range, if
 * mapped, is registered.  (What stays outside, by design: an unmap of a
 * mapping made by a raw mmap before the next event or sync.)
 *
 * Mutants (-D): NO_ORPHANS (nothing mapped yet: forgotten); NO_ADOPT_AT_SYNC
 * (orphans retried at UNMAP events only); NO_REWATCH (an UNMAP registers
 * nothing: the replacement stays unwatched).
 */

#define UNMAP 1
#define SYNC  2

bool mapped = true;
bool registered = true;	/* the first mapping, registered at insert */
bool orphan = false;
bool synced = false;
chan events = [4] of { byte };
byte ops = 0;

inline adopt()
{
#ifdef NO_ADOPT_AT_SYNC
	if
	:: ev == UNMAP && orphan && mapped -> registered = true; orphan = false
	:: else -> skip
	fi
#else
	if
	:: orphan && mapped -> registered = true; orphan = false
	:: else -> skip
	fi
#endif
}

active proctype dispatcher()
{
	byte ev;
end:	do
	:: events ? ev ->
		atomic { adopt() };
		if
		:: ev == UNMAP ->
#ifndef NO_REWATCH
			atomic {
				if
				:: mapped -> registered = true
				:: else ->
#ifndef NO_ORPHANS
					orphan = true
#else
					skip
#endif
				fi
			}
#else
			skip
#endif
		:: ev == SYNC -> synced = true
		fi
	od
}

/* The kernel's side of a call that takes the mapping away. */
inline take_away()
{
	atomic {
		if
		:: registered -> events ! UNMAP
		:: else -> skip
		fi;
		registered = false
	}
}

active proctype program()
{
	do
	:: ops < 4 && mapped -> ops++; take_away(); mapped = false
	:: ops < 4 && !mapped -> ops++; mapped = true	/* a new mapping */
	:: ops < 4 && mapped -> ops++;			/* MAP_FIXED */
		take_away(); mapped = true
	:: true ->
		synced = false;
		events ! SYNC;
		synced;
		assert(!mapped || registered);
		if
		:: ops >= 4 -> break
		:: else -> skip
		fi
	od
}
