#!/bin/sh
# watch-events.sh RUN UMN_WATCH EVENTS [SANITIZER]
#
# Runs each event class of umn-proc-events (tests/proc/events.c) under
# umn-watch and checks its JSON report against the matrix below: for each
# class and source, which call the source must report over the whole range
# the class takes away, or that the source must report nothing there.
#
# RUN	hooks, uffd, hooks,uffd: every class, with these sources.
#	jemalloc, mimalloc, tcmalloc: the allocator classes (and munmap)
#	under that allocator, preloaded before libumn-watch.so, with both
#	sources; skipped (77) when Debian's package is not installed.
#	none: the negative test.  The hooks,uffd matrix with no source on:
#	every "must see" check has to fail.  It prints a passing count line
#	and exits 3, the oracle's verdict, when they all fail (ctest runs it
#	under tests/expect-status.sh 3); a failing count line and exit 0 if
#	any passes, or if a run broke.
# SANITIZER	the build's UMN_SANITIZE.  A sanitized libumn-watch.so cannot
#	be preloaded into a program (the sanitizer's runtime must come
#	first), so there the program that links it is run with --no-preload
#	(EVENTS-linked), and the allocator classes are left out: the
#	sanitizer's allocator replaces malloc and keeps freed memory.  So is
#	"fork" with userfaultfd, whose child starts threads: TSan refuses,
#	and ASan's runtime can be copied with a lock held and hang.  Under
#	TSan "thread" is left out too (a known bug: see the skip message).
#
# Prints one line per check and "NN%: Checks: N, Failures: F, Errors: 0".
set -u
run=$1 watch=$2 events=$3 sanitizer=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The matrix on glibc's malloc (docs/proc-events.md explains it).
# class		what the hooks report	what userfaultfd reports
# "no": the source reports nothing over the range.
glibc_matrix='
munmap		munmap		uffd-unmap
free-large	munmap		uffd-unmap
realloc-move	mremap		uffd-remap
realloc-shrink	mremap		uffd-unmap
trim		madvise		uffd-remove
dontneed	madvise		uffd-remove
free		madvise		uffd-remove
remove		madvise		uffd-remove
file		munmap		uffd-unmap
brk		brk		uffd-unmap
sbrk		brk		uffd-unmap
mapfixed	mmap		uffd-unmap
mremap-shrink	mremap		uffd-unmap
mremap-move	mremap		uffd-remap
shmdt		shmdt		no
dlopen		munmap		uffd-unmap
thread		munmap		uffd-unmap
syscall		no		uffd-unmap
fork		munmap		uffd-unmap
exec		munmap		uffd-unmap
'

# Under other allocators, tuned to give memory back at once (their
# defaults keep it for seconds, or for good): they discard with madvise.
# malloc_trim() is glibc's and does nothing for them; "trim" frees a
# 512 KiB block, which they give back then.  tcmalloc defines munmap()
# itself and makes the system call directly, so the program's own munmap
# bypasses libc's entry point: only userfaultfd sees it.
alloc_matrix='
free-large	madvise		uffd-remove
realloc-move	madvise		uffd-remove
realloc-shrink	madvise		uffd-remove
trim		madvise		uffd-remove
munmap		munmap		uffd-unmap
'
tcmalloc_matrix='
free-large	madvise		uffd-remove
realloc-move	madvise		uffd-remove
realloc-shrink	madvise		uffd-remove
trim		madvise		uffd-remove
munmap		no		uffd-unmap
'

# The classes that need glibc's malloc.
allocator_classes='free-large realloc-move realloc-shrink trim'

checks=0 failures=0

# check JSON SOURCE CALL START END TID: does SOURCE report CALL over the
# whole of [START, END) (every event from the acting thread, for the
# hooks), or, for CALL "no", nothing at all there?
check() {
	awk -v src="$2" -v call="$3" -v A="$4" -v B="$5" -v tid="$6" '
	function hex(s,   i, v) {
		v = 0
		s = tolower(s)
		sub(/^0x/, "", s)
		for (i = 1; i <= length(s); i++)
			v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
		return v
	}
	function str(k) {
		if (match($0, "\"" k "\":\"[^\"]*\""))
			return substr($0, RSTART + length(k) + 4,
				      RLENGTH - length(k) - 5)
		return ""
	}
	function num(k) {
		if (match($0, "\"" k "\":-?[0-9]+"))
			return substr($0, RSTART + length(k) + 3,
				      RLENGTH - length(k) - 3) + 0
		return -1
	}
	BEGIN { a = hex(A); b = hex(B); n = 0; seen = 0 }
	str("source") == src {
		s = hex(str("start")); e = hex(str("end"))
		if (e <= a || s >= b)
			next
		seen = 1
		if (str("call") != call)
			next
		if (src == "hooks" && num("tid") != tid + 0)
			next
		n++
		lo[n] = s < a ? a : s
		hi[n] = e > b ? b : e
	}
	END {
		if (call == "no")
			exit seen
		for (i = 2; i <= n; i++)	# insertion sort by start
			for (j = i; j > 1 && lo[j - 1] > lo[j]; j--) {
				t = lo[j]; lo[j] = lo[j - 1]; lo[j - 1] = t
				t = hi[j]; hi[j] = hi[j - 1]; hi[j - 1] = t
			}
		cur = a
		for (i = 1; i <= n; i++) {
			if (lo[i] > cur)
				break
			if (hi[i] > cur)
				cur = hi[i]
		}
		exit cur < b
	}' "$1"
}

# one CLASS SOURCES HOOKS-CALL UFFD-CALL [ENV...]: run CLASS under
# umn-watch with SOURCES, then check each source that is on.
one() {
	class=$1 sources=$2 want_hooks=$3 want_uffd=$4
	shift 4
	json=$tmp/$class.json
	# shellcheck disable=SC2086
	env "$@" "$watch" -q $watch_opts --json "$json" --sources "$sources" \
		-- "$events" "$class" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" != 0 ]; then
		if [ "$rc" = 77 ]; then
			echo "skip $class: $(grep -v '^umn-watch\|^  ' "$tmp/err" | tail -1)"
			return
		fi
		checks=$((checks + 1)) failures=$((failures + 1))
		broken=$((broken + 1))
		echo "FAIL $class ($sources): exit status $rc"
		sed 's/^/     /' "$tmp/err"
		return
	fi
	# The program's standard output is its own: the expect line only.
	set -- $(cat "$tmp/out")
	if [ $# != 4 ] || [ "$1" != expect ]; then
		checks=$((checks + 1)) failures=$((failures + 1))
		broken=$((broken + 1))
		echo "FAIL $class ($sources): not one expect line on stdout:"
		sed 's/^/     /' "$tmp/out"
		return
	fi
	start=$2 end=$3 tid=$4
	for src in hooks uffd; do
		case ",$sources," in
		*,$src,*|*,none,*) ;;
		*) continue ;;
		esac
		if [ "$src" = hooks ]; then want=$want_hooks; else want=$want_uffd; fi
		# A munmap or a discard the hooks bracket is told once:
		# the hook unregisters the range before the kernel acts.
		case ",$sources,$want_hooks,$src" in
		*,hooks,*uffd,munmap,uffd | *,uffd,*hooks,munmap,uffd) want=no ;;
		*,hooks,*uffd,madvise,uffd | *,uffd,*hooks,madvise,uffd) want=no ;;
		esac
		checks=$((checks + 1))
		if check "$json" "$src" "$want" "$start" "$end" "$tid"; then
			echo "ok   $class $src: $want over [$start, $end)"
			[ "$want" = no ] || musts_passed=$((musts_passed + 1))
		else
			failures=$((failures + 1))
			echo "$fail_word $class $src: $want over [$start, $end), tid $tid; the report:"
			grep "\"source\":\"$src\"" "$json" | sed 's/^/     /'
			[ -s "$json" ] || echo "     (nothing)"
		fi
	done
}

# matrix MATRIX SOURCES [ENV...]: every row of MATRIX.
matrix() {
	m=$1 sources=$2
	shift 2
	printf '%s\n' "$m" | while read -r class hooks uffd; do
		[ -n "$class" ] || continue
		if [ -n "$sanitizer" ]; then
			case " $allocator_classes " in
			*" $class "*)
				echo "skip $class: the $sanitizer sanitizer's allocator replaces malloc"
				continue ;;
			esac
		fi
		if [ -n "$sanitizer" ]; then
			case $class,$sources in
			fork,*uffd*)
				# The child starts umn's monitor threads; a
				# sanitizer's runtime may have copied a lock
				# held (ASan: a child hung in FutexWait) or
				# refuses (TSan: die_after_fork).
				echo "skip fork: the $sanitizer sanitizer cannot start threads in the child of a threaded process"
				continue ;;
			esac
		fi
		if [ "$sanitizer" = thread ]; then
			case $class,$sources in
			thread,*)
				# glibc madvise()s a thread's stack after TSan
				# has finished the thread; the hook's first
				# rcu_read_lock() there registers it with
				# liburcu-bp, whose mutex TSan then intercepts
				# on a dead thread: SIGSEGV.
				echo "skip thread: known bug, a thread's exit crashes under TSan with the hooks on"
				continue ;;
			esac
		fi
		one "$class" "$sources" "$hooks" "$uffd" "$@"
		echo "$checks $failures $broken $musts_passed" >"$tmp/counts"
	done
	read -r checks failures broken musts_passed <"$tmp/counts"
}

# shellcheck source=find-lib.sh
. "$(dirname "$0")/find-lib.sh"

watch_opts=
if [ -n "$sanitizer" ]; then
	watch_opts=--no-preload
	events=$events-linked
fi
broken=0 musts_passed=0 fail_word=FAIL
echo "0 0 0 0" >"$tmp/counts"
case $run in
hooks|uffd|hooks,uffd)
	matrix "$glibc_matrix" "$run"
	;;
jemalloc|mimalloc|tcmalloc)
	if [ -n "$sanitizer" ]; then
		echo "skipped: the $sanitizer sanitizer replaces the allocator"
		exit 77
	fi
	case $run in
	jemalloc) so=libjemalloc.so.2 pkg=libjemalloc2 m=$alloc_matrix
		tune=MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0 ;;
	mimalloc) so=libmimalloc.so.2 pkg=libmimalloc2.0 m=$alloc_matrix
		tune="MIMALLOC_RESET_DELAY=0 MIMALLOC_SEGMENT_DECOMMIT_DELAY=0" ;;
	tcmalloc) so=libtcmalloc_minimal.so.4 pkg=libtcmalloc-minimal4
		m=$tcmalloc_matrix tune=TCMALLOC_AGGRESSIVE_DECOMMIT=true ;;
	esac
	if ! lib=$(find_lib $so "$events"); then
		m=$("$(dirname "$0")/../foreign.sh" --machine "$events")
		echo "skipped: $so for $m not found (Debian package $pkg)"
		exit 77
	fi
	pre=${LD_PRELOAD:+$LD_PRELOAD:}$lib
	# shellcheck disable=SC2086
	matrix "$m" hooks,uffd LD_PRELOAD="$pre" $tune
	;;
none)
	fail_word=xfail
	matrix "$glibc_matrix" none
	if [ "$broken" != 0 ] || [ "$musts_passed" != 0 ]; then
		echo "negative test: $musts_passed must-see checks passed with" \
			"no source on, $broken runs broke: the checks cannot fail"
		echo "0%: Checks: 1, Failures: 1, Errors: 0"
		exit 0
	fi
	echo "negative test: all $failures must-see checks failed with no" \
		"source on, as they must"
	echo "100%: Checks: 1, Failures: 0, Errors: 0"
	exit 3
	;;
*)
	echo "watch-events.sh: unknown run $run" >&2
	exit 2
	;;
esac
if [ "$checks" = 0 ]; then
	echo "skipped: no class could run here"
	exit 77
fi
passed=$((checks - failures))
echo "$((checks ? passed * 100 / checks : 100))%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" = 0 ]
