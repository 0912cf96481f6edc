#!/bin/sh
# watch-strace.sh UMN_WATCH MATCH PROG STATIC [SANITIZER]
#
# umn-watch against an independent oracle, strace.  Each program runs once
# as `strace -f -o LOG umn-watch --json JSON -- PROGRAM`: strace follows
# umn-watch and every process of the program.  MATCH
# (watch-strace-match.c) works out from strace's log alone the range of
# each call of the program and its descendants that dropped or replaced
# pages (munmap, mremap, discarding madvise, mmap MAP_FIXED, brk down,
# shmat SHM_REMAP, shmdt, process_madvise), and matches the JSON records
# against them: every such call must be reported exactly once, with its
# range, and every record must be a call strace saw.  Each program also
# runs without umn-watch: its standard output and exit status must be the
# same.
#
# PROG, STATIC: umn-watch-strace-prog built dynamically and statically
# (raw system calls, an inline syscall instruction, int 0x80 ...); STATIC
# is "-" in sanitizer builds.  A program that is not installed is skipped
# with a message; if all are, the test is (77).
#
# The negative control: the two builds of PROG again with
# --no-supervisor, where MATCH must find calls umn-watch missed (the raw
# ones; all of the static program's).  If it finds none, the oracle cannot
# fail and the test does.
#
# SANITIZER: the build's UMN_SANITIZE; there, preloading libumn-watch.so
# cannot work (watch-events.sh), so this is skipped.
#
# Prints one line per program, then "NN%: Checks: N, Failures: F, Errors: 0".
set -u
watch=$1 match=$2 prog=$3 static=$4 sanitizer=${5:-}

if [ -n "$sanitizer" ]; then
	echo "skipped: built with the $sanitizer sanitizer, libumn-watch.so cannot be preloaded into other programs"
	exit 77
fi
# Under qemu-user (make test-aarch64) strace would trace the emulator's
# own calls, and the programs watched are the host's.
if why=$("$(dirname "$0")/../foreign.sh" "$watch"); then
	echo "skipped: strace and the programs it watches are this host's: $why"
	exit 77
fi
if ! command -v strace >/dev/null 2>&1; then
	echo "skipped: strace is not installed (Debian package strace)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checks=0 failures=0 ran=0

calls=munmap,mremap,madvise,mmap,brk,shmat,shmdt,process_madvise
calls=$calls,clone,clone3,fork,vfork,execve

fail() {
	failures=$((failures + 1))
	echo "FAIL $*"
}

# one LABEL [--no-supervisor] [--expect-misses] [VAR=VALUE...] -- PROGRAM
# [ARGS...]: the program under strace and umn-watch, matched; then alone,
# and its output and status compared (unless --expect-misses).
one() {
	label=$1
	shift
	opts= mode=
	while :; do
		case $1 in
		--no-supervisor) opts=$1 ;;
		--expect-misses) mode=$1 ;;
		*) break ;;
		esac
		shift
	done
	envs=
	while [ "$1" != -- ]; do
		envs="$envs $1"
		shift
	done
	shift
	ran=$((ran + 1))
	checks=$((checks + 1))
	mkdir -p "$tmp/$label.w" "$tmp/$label.p"
	# shellcheck disable=SC2086
	(cd "$tmp/$label.w" && strace -f -qq -X raw -e trace=$calls \
		-o "$tmp/$label.strace" env $envs "$watch" -q $opts \
		--json "$tmp/$label.json" -- "$@" \
		</dev/null >"$tmp/$label.out" 2>"$tmp/$label.err")
	rc=$?
	if ! "$match" "$label" "$tmp/$label.strace" "$tmp/$label.json" \
		$mode >"$tmp/$label.match" 2>&1; then
		if [ -n "$mode" ]; then
			fail "$label: the negative control found no call missed: the oracle cannot fail"
		else
			fail "$label:"
		fi
		sed 's/^/     /' "$tmp/$label.match"
	else
		echo "ok   $(tail -1 "$tmp/$label.match")"
	fi
	[ -n "$mode" ] && return
	checks=$((checks + 1))
	# shellcheck disable=SC2086
	(cd "$tmp/$label.p" && env $envs "$@" \
		</dev/null >"$tmp/$label.out0" 2>"$tmp/$label.err0")
	rc0=$?
	if [ "$rc" != "$rc0" ] || ! cmp -s "$tmp/$label.out" "$tmp/$label.out0"; then
		fail "$label: under umn-watch, exit status $rc and output:"
		sed 's/^/     /' "$tmp/$label.out"
		echo "     alone, exit status $rc0 and output:"
		sed 's/^/     /' "$tmp/$label.out0"
		echo "     umn-watch said:"
		sed 's/^/     /' "$tmp/$label.err"
	else
		echo "ok   $label: same output and exit status ($rc) as alone"
	fi
}

have() {
	if command -v "$1" >/dev/null 2>&1; then
		return 0
	fi
	echo "skip $2: $1 is not installed"
	return 1
}

# shellcheck source=find-lib.sh
. "$(dirname "$0")/find-lib.sh"

# Python: threads that allocate and free large blocks, a fork whose child
# does too.  The interpreter itself, not a wrapper script that runs it.
pyprog='
import os, threading
def work(n):
    for i in range(20):
        b = bytearray((1 << 20) * (1 + i % 4))
        del b
ts = [threading.Thread(target=work, args=(i,)) for i in range(3)]
for t in ts: t.start()
for t in ts: t.join()
pid = os.fork()
if pid == 0:
    work(0)
    os._exit(7)
_, st = os.waitpid(pid, 0)
print("threads done, child", os.waitstatus_to_exitcode(st))
'
py=
if have python3 python3; then
	py=$(python3 -c 'import sys; print(sys.executable)')
	one python3 -- "$py" -c "$pyprog"
fi

if have perl perl; then
	# System V shm: perl's shmread and shmwrite attach and detach.
	one perl -- perl -e '
use IPC::SysV qw(IPC_PRIVATE IPC_RMID S_IRUSR S_IWUSR);
my $id = shmget(IPC_PRIVATE, 1 << 20, S_IRUSR | S_IWUSR) // die "shmget: $!";
shmwrite($id, "hello", 0, 5) || die "shmwrite: $!";
shmread($id, my $buf, 0, 5) || die "shmread: $!";
shmctl($id, IPC_RMID, 0);
my @a = (1 .. 300000); my $s = 0; $s += $_ for @a; undef @a;
print "$buf $s\n";'
fi

if have gcc gcc; then
	printf 'int square(int x) { return x * x; }\nint main(void) { return square(3) - 9; }\n' >"$tmp/t.c"
	one gcc -- sh -c "gcc -O2 -o t '$tmp/t.c' && ./t && echo built"
fi

if have git git; then
	one git GIT_AUTHOR_DATE=2000-01-01T00:00:00Z \
		GIT_COMMITTER_DATE=2000-01-01T00:00:00Z \
		GIT_CONFIG_NOSYSTEM=1 HOME="$tmp" -- sh -c '
git init -q r && cd r && echo hello >f && git add f &&
git -c user.name=u -c user.email=u@example.org commit -q -m first &&
git log --format="%s %H" && git status --short && echo clean'
fi

if have sqlite3 sqlite3; then
	one sqlite3 -- sqlite3 :memory: '
create table t(x);
with recursive c(i) as (select 1 union all select i + 1 from c where i < 200000)
insert into t select randomblob(200) from c;
select count(*), sum(length(x)) from t;
delete from t; vacuum;
select count(*) from t;'
fi

if [ -n "$py" ]; then
	if lib=$(find_lib libjemalloc.so.2); then
		one python3-jemalloc LD_PRELOAD="$lib" \
			MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0 \
			-- "$py" -c "$pyprog"
	else
		echo "skip python3-jemalloc: libjemalloc.so.2 not found (Debian package libjemalloc2)"
	fi
	if lib=$(find_lib libtcmalloc_minimal.so.4); then
		one python3-tcmalloc LD_PRELOAD="$lib" \
			TCMALLOC_AGGRESSIVE_DECOMMIT=true -- "$py" -c "$pyprog"
	else
		echo "skip python3-tcmalloc: libtcmalloc_minimal.so.4 not found (Debian package libtcmalloc-minimal4)"
	fi
	# A shell that runs python, which runs a shell.
	one sh-exec -- sh -c "'$py' -c 'import os; b = bytearray(1 << 23); del b; os.execvp(\"sh\", [\"sh\", \"-c\", \"echo from sh; exit 3\"])'"
fi

one raw -- "$prog"
if [ "$static" != - ]; then
	one static -- "$static"
fi

# The negative control: without the supervisor, the raw calls are missed.
one raw-control --no-supervisor --expect-misses -- "$prog"
if [ "$static" != - ]; then
	one static-control --no-supervisor --expect-misses -- "$static"
fi

if [ "$ran" -le 2 ]; then
	echo "skipped: none of the programs is installed"
	exit 77
fi
passed=$((checks - failures))
echo "$((passed * 100 / checks))%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" = 0 ]
