#!/bin/sh
# tests/mutants/run.sh [NAME...] - mutation tests of the library: do the
# tests see a bug planted in the library itself?
#
# For each mutant (all of them, or the NAMEs given): the committed tree
# (git archive HEAD) is copied to build/mutants/NAME/src, one sed edit is
# applied to one file of the copy (never to the tree itself), the release
# flavour of the targets the mutant's tests need is built in
# build/mutants/NAME/build, and the ctest entries of that area run one by
# one, cheapest first, until one FAILS.  Prints "mutant NAME: killed by
# TEST" or "mutant NAME: SURVIVED", then "mutants: N killed of M", and
# exits 1 if any survived, 2 if a mutant could not be made (its edit no
# longer matches the file, or the copy does not build, or a test is gone).
#
# A test that runs longer than MUTANT_TIMEOUT seconds (120) is stopped, and
# counts as failed: a mutant that makes a test hang is caught, as ctest's
# own TIMEOUT would catch it, only sooner.  A skipped test kills nothing.
# "make mutants" runs it; about a minute on 2 cores (half of it
# is the 30 s run of umn-torture that the blind oracle lets pass).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build/mutants
jobs=${JOBS:-2}
limit=${MUTANT_TIMEOUT:-120}
killed=0 total=0 survived=0 broken=0

# mutant NAME FILE SED TARGETS TESTS: FILE is relative to the tree; SED
# must change exactly one line of it; TESTS are ctest names, in order.
mutant() {
	name=$1 file=$2 edit=$3 targets=$4 tests=$5
	case " ${only:-$name} " in
	*" $name "*) ;;
	*) return ;;
	esac
	total=$((total + 1))
	dir=$out/$name
	rm -rf "$dir"
	mkdir -p "$dir/src"
	git -C "$root" archive HEAD | tar -x -C "$dir/src" || {
		echo "mutant $name: cannot copy the tree"
		broken=$((broken + 1))
		return
	}
	cp "$dir/src/$file" "$dir/orig"
	sed -i "$edit" "$dir/src/$file"
	changed=$(diff "$dir/orig" "$dir/src/$file" | grep -c '^[<>]')
	if [ "$changed" = 0 ]; then
		echo "mutant $name: the edit no longer matches $file"
		broken=$((broken + 1))
		return
	fi
	echo "mutant $name: $file:"
	diff "$dir/orig" "$dir/src/$file" | grep '^[<>]' | sed 's/^/    /'
	if ! { cmake -S "$dir/src" -B "$dir/build" \
		-DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON &&
	       cmake --build "$dir/build" -j"$jobs" --target $targets; } \
		> "$dir/build.log" 2>&1; then
		echo "mutant $name: does not build (see $dir/build.log)"
		broken=$((broken + 1))
		return
	fi
	for t in $tests; do
		if ! (cd "$dir/build" && ctest -N -R "^$t\$") |
			grep -q "Total Tests: 1$"; then
			echo "mutant $name: no ctest entry $t"
			broken=$((broken + 1))
			return
		fi
		start=$(date +%s)
		(cd "$dir/build" && timeout -k 10 "$limit" \
			ctest -R "^$t\$" --output-on-failure) > "$dir/$t.log" 2>&1
		rc=$?
		secs=$(($(date +%s) - start))
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			echo "mutant $name: killed by $t (stopped after" \
				"${limit} s; see $dir/$t.log)"
			killed=$((killed + 1))
			return
		elif [ "$rc" != 0 ]; then
			echo "mutant $name: killed by $t ($secs s; see" \
				"$dir/$t.log)"
			killed=$((killed + 1))
			return
		fi
		echo "mutant $name: $t passed ($secs s)"
	done
	echo "mutant $name: SURVIVED ($tests)"
	survived=$((survived + 1))
}

only=$*

# umn-torture's oracle reports nothing (findings_add() returns at once):
# its --break runs must then fail, as each expects the oracle's verdict.
mutant oracle-blind tools/findings.c \
	'/^void findings_add(struct findings \*f, const char \*fmt, \.\.\.)$/,/^}$/s/^\tva_list ap;$/\tva_list ap;\n\treturn;/' \
	"umn-torture" "torture-break-retry torture-break-counter"

# The interval mirror installs without read_retry: a fault that raced an
# invalidation installs what start removed.
mutant mirror-no-retry consumers/mirror.c \
	's/return check_seq && umn_interval_read_retry(&m->sub, seq);/return false;/' \
	"umn-fuzz-replay umn-tests umn-torture" "fuzz-replay consumers torture"

# The device TLB is not flushed in ->invalidate_range.
mutant devtlb-no-flush consumers/devtlb.c \
	's/if (!(t->flags & UMN_DEVTLB_BREAK_FLUSH))$/if (0)/' \
	"umn-fuzz-replay umn-tests umn-torture" "fuzz-replay consumers torture"

# A registration hit by an invalidation stays cached (and pinned).
mutant regcache-no-invalidate consumers/regcache_reclaim.c \
	's/if (rc->flags & UMN_REGCACHE_BREAK_INVALIDATE)$/if (1)/' \
	"umn-fuzz-replay umn-tests regcache_mlock" \
	"fuzz-replay consumers example-regcache-mlock"

# The index's rebuild keeps the maxend of the slots after one it adds:
# a lookup stops short of a registration that spans them.
mutant regcache-index-maxend consumers/regcache_index.c \
	's/for (k = n; k < n + p - i \&\& ix->s\[k\].maxend < m; k++)$/for (k = n; 0; k++)/' \
	"umn-tests" "consumers"

# A replaced index becomes the spare at once, without its grace period:
# the next rebuild rewrites it under lookups that are still reading it.
# A race (a lookup must be preempted inside the index): up to three runs,
# each of which kills it about nine times in ten.
mutant regcache-spare-no-grace consumers/regcache.c \
	's/^\t\tretire_index_locked(rc, old);$/\t\tindex_spare(rc, old);/' \
	"umn-tests" "consumers consumers consumers"

# A lookup searches the young tier of the index but not the settled one,
# where the merges put what it held.
mutant regcache-settled-unsearched consumers/regcache.c \
	's/if ((st \&\& (r = find_sorted(st, s, e, write, get))) ||$/if ((0 \&\& (r = find_sorted(st, s, e, write, get))) ||/' \
	"umn-tests" "consumers"

# A lookup takes the registration its hint names without checking that
# it covers the range: a shorter one that starts there is handed out.
mutant regcache-hint-unchecked consumers/regcache.c \
	's/if (r \&\& r->h.addr + r->h.len >= e \&\& r->h.addr <= s \&\&$/if (r \&\&/' \
	"umn-tests" "consumers"

# A queued invalidation is not counted for reap_due(): a release or
# register does not reap when invalidations are only queued, and what one
# left stays pinned until a later call.
mutant regcache-queue-unreaped consumers/regcache_reclaim.c \
	'/For reap_due()/,/head = /s/^\t\t__atomic_fetch_add(\&rc->nzombies, 1, __ATOMIC_RELAXED);$/\t\t;/' \
	"umn-tests" "consumers"

# The rest of an invalidation leaves the registration's queued flag set:
# one queued while it was being registered (its register collided) is
# never queued again, and stays cached and pinned once unmapped.
mutant regcache-queue-flag-kept consumers/regcache_reclaim.c \
	's/^\t\t__atomic_store_n(\&r->deferred, false, __ATOMIC_SEQ_CST);$/\t\t;/' \
	"umn-tests" "consumers"

# A recent slot wider than the filter marks granule by granule sets no
# bit: a lookup inside it skips the scan.
mutant regcache-filter-wide consumers/regcache_index.c \
	's/^\t\t\t__atomic_store_n(\&w\[bit\], ~0UL, __ATOMIC_RELAXED);$/\t\t\t;/' \
	"umn-tests" "consumers"

# mprotect in the soft MMU opens a bracket and never ends it.
mutant soft-unpaired-end primaries/soft/mm.c \
	'/umn__soft_change_range(sm, addr, end, &p.c);$/{n;/^\tumn__soft_bracket_end(sm, &range);$/d}' \
	"umn-fuzz-replay umn-tests" "fuzz-replay soft notifier"

# A put notifier is freed after one grace period, not two: a walker that
# was on it when it left the chain steps on freed memory.
mutant put-one-grace-period core/notifier.c \
	's/^\turcu_bp_call_rcu(head, put_free);$/\tput_free(head);/' \
	"umn-tests" "lifetime"

# umn_mm_release returns while a bracket is still open.
mutant release-no-wait core/notifier.c \
	's|^\tumn__synchronize_rcu(); /\* no bracket calls any of them any more \*/$|\t;|' \
	"umn-tests" "lifetime"

# io_uring's fixed buffers: ->invalidate leaves the slot registered in the
# kernel's table (an I/O after the munmap reads the old pages), and a
# registration that an invalidation collided with is published.
mutant uring-no-empty consumers/uring/uring.c \
	's/if (sl->state == VALID \&\& !(c->flags \& UMN_URING_BREAK_INVALIDATE)) {/if (0) {/' \
	"umn-uring-api" "uring-api"

mutant uring-no-retry consumers/uring/uring.c \
	's/if (!umn_interval_read_retry(&sl->sub, seq) ||$/if (!(seq \& 0) ||/' \
	"umn-uring-api" "uring-api"

# Holding signals by deferring them (core/signals.c,
# primaries/proc/signals.c): the wrapper runs the handler inside a hold;
# a handler's release takes what the release it interrupted deferred; a
# wait inside a hold keeps what was deferred waiting.
mutant signals-no-defer primaries/proc/signals.c \
	's/if (h \&\& h->depth \&\& !synchronous(sig, info) \&\&$/if (0 \&\& !synchronous(sig, info) \&\&/' \
	"umn-proc-tests" "proc-signals"

mutant signals-no-aside core/primary.h \
	's/^\t\t\t__atomic_exchange_n(\&h->deferred, 0, __ATOMIC_RELAXED);$/\t\t\t0;/' \
	"umn-proc-tests" "proc-signals"

mutant signals-wait-keeps-deferred core/primary.h \
	's/if (umn__held.depth == 1 \&\& !umn__held.masked \&\&$/if (0 \&\& !umn__held.masked \&\&/' \
	"umn-proc-tests" "proc-signals"

echo "mutants: $killed killed of $total"
[ "$broken" = 0 ] || exit 2
[ "$survived" = 0 ]
