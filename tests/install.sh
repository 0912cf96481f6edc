#!/bin/sh
# cmake --install into a scratch prefix, then check the installed copy as a
# user of it would see it:
#  1. what is installed: the public headers (include/umn/, subfolders
#     included), the libraries, umn.pc, the tools and man pages; nothing
#     else (no internal header, no test program, no test-only
#     UMN_*_BREAK_* flag in a header or man page);
#  2. each public header compiles on its own against the installed copy;
#  3. libumn.so.MAJOR.MINOR.PATCH has the SONAME libumn.so.MAJOR, and the
#     two links to it are in place;
#  4. a program that knows umn only through pkg-config (outside.c) builds
#     and runs, linked dynamically (pkg-config --cflags --libs umn) and
#     statically (pkg-config --static --libs umn, with libumn.a); without
#     sanitizers also as a fully static executable; and the kernel-style
#     driver builds unchanged against <umn/linux/mmu_notifier.h> and runs,
#     alone and under torture (tests/linux_dmirror.c);
#  5. the installed tools run from there, and each has its man page;
#  6. with $UMN_URING set (the build found liburing): libumn-uring and
#     umn-uring.pc are installed, a program built with pkg-config umn-uring
#     (examples/uring_fixed.c) runs, and libumn itself needs no liburing.
# $UMN_SAN_FLAGS: the build's sanitizers; $CC: its compiler (cc if unset).
set -eu
build=$1 src=$2 cc=${CC:-cc}
source_dir=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() {
	echo "install: $*"
	echo "0%: Checks: 1, Failures: 1, Errors: 0"
	exit 1
}

cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name umn.pc)
[ -n "$pc" ] || fail "no umn.pc installed"
export PKG_CONFIG_PATH=$(dirname "$pc")
pcdir=${pc#"$prefix"/}
libdir_rel=$(dirname "$(dirname "$pcdir")")
libdir=$(pkg-config --variable=libdir umn)
includedir=$(pkg-config --variable=includedir umn)
version=$(pkg-config --modversion umn)
major=${version%%.*}
[ "$libdir" -ef "$prefix/$libdir_rel" ] ||
	fail "umn.pc's libdir $libdir is not $prefix/$libdir_rel"

# 1. The file list.  Man pages are named by section; tests/man.sh checks
# which ones there are.
tools="umn-bench umn-demo umn-torture umn-watch"
{
	for t in $tools; do echo "bin/$t"; done
	for f in libumn.a libumn.so "libumn.so.$major" "libumn.so.$version" \
		pkgconfig/umn.pc umn/libumn-watch.so; do
		echo "$libdir_rel/$f"
	done
	if [ -n "${UMN_URING:-}" ]; then
		for f in libumn-uring.a libumn-uring.so \
			"libumn-uring.so.$major" "libumn-uring.so.$version" \
			pkgconfig/umn-uring.pc; do
			echo "$libdir_rel/$f"
		done
	fi
	# <umn/uring.h> is installed with libumn-uring only.
	(cd "$source_dir/include" && find umn -name '*.h') |
		if [ -n "${UMN_URING:-}" ]; then cat; else grep -vx 'umn/uring.h'; fi |
		sed 's|^|include/|'
} | sort >"$tmp/expected"
(cd "$prefix" && find . ! -type d | sed 's|^\./||') |
	grep -Ev '^share/man/man([137])/[^/]+\.\1$' | sort >"$tmp/installed"
if ! cmp -s "$tmp/expected" "$tmp/installed"; then
	echo "installed (+) and expected (-) differ:"
	diff "$tmp/expected" "$tmp/installed" | grep '^[<>]' |
		sed 's/^</-/; s/^>/+/'
	fail "the installed files are not the expected ones"
fi
# ... and no test-only switch among them (include/umn-test/ is not
# installed): no header or man page names a deliberate break.
if grep -rlE 'UMN_[A-Z]+_BREAK_' "$prefix/include" "$prefix/share/man"; then
	fail "a test-only UMN_*_BREAK_* flag is installed (files above)"
fi

# 2. Each header on its own.  The kernel-spelling headers in subfolders
# (umn/linux/) are for kernel-style code, which is GNU C.
for h in $(cd "$includedir" && find umn -name '*.h' | sort); do
	case $h in */*/*) std=gnu11 ;; *) std=c11 ;; esac
	printf '#include <%s>\n' "$h" |
		"$cc" -std=$std -Wall -Wextra -Werror -fsyntax-only -xc \
			$(pkg-config --cflags umn) - ||
		fail "<$h> does not compile on its own (-std=$std)"
done

# 3. The shared library's version.
[ "$(readlink "$libdir/libumn.so")" = "libumn.so.$major" ] ||
	fail "libumn.so does not point to libumn.so.$major"
[ "$(readlink "$libdir/libumn.so.$major")" = "libumn.so.$version" ] ||
	fail "libumn.so.$major does not point to libumn.so.$version"
readelf -d "$libdir/libumn.so.$version" |
	grep -q "(SONAME) .*\[libumn\.so\.$major\]" ||
	fail "libumn.so.$version has no SONAME libumn.so.$major"

# 4. A program outside the tree, three ways.
needs() { readelf -d "$1" | grep '(NEEDED)' | sed 's/.*\[\(.*\)\]/\1/'; }
# shellcheck disable=SC2086,SC2046
"$cc" -std=c11 -Wall -Wextra -Werror ${UMN_SAN_FLAGS:-} -o "$tmp/dynamic" \
	"$src" $(pkg-config --cflags --libs umn) -Wl,-rpath,"$libdir"
needs "$tmp/dynamic" | grep -qx "libumn\.so\.$major" ||
	fail "the dynamic program does not need libumn.so.$major"
"$tmp/dynamic"

static_libs=$(pkg-config --static --libs umn)
for l in -lurcu-bp -pthread -ldl; do
	case " $static_libs " in
	*" $l "*) ;;
	*) fail "pkg-config --static --libs umn lacks $l" ;;
	esac
done
# -l:libumn.a picks the archive where -lumn would pick the shared library.
static_libs=$(printf '%s\n' "$static_libs" | sed 's/-lumn\( \|$\)/-l:libumn.a\1/')
# shellcheck disable=SC2086,SC2046
"$cc" -std=c11 -Wall -Wextra -Werror ${UMN_SAN_FLAGS:-} -o "$tmp/static" \
	"$src" $(pkg-config --cflags umn) $static_libs
if needs "$tmp/static" | grep -q '^libumn'; then
	fail "the static program needs a shared libumn"
fi
"$tmp/static"

if [ -z "${UMN_SAN_FLAGS:-}" ]; then
	# glibc warns that dlopen in a static program needs its shared
	# libraries at run time: true, and not an error.
	# shellcheck disable=SC2086,SC2046
	"$cc" -static -std=c11 -Wall -Wextra -Werror -o "$tmp/full-static" \
		"$src" $(pkg-config --cflags umn) $static_libs 2>"$tmp/ld.log" ||
		{ cat "$tmp/ld.log"; fail "no fully static program"; }
	"$tmp/full-static"
fi

# 4b. The kernel-style driver (examples/linux_hmm_mirror.c), unchanged,
# against the installed <umn/linux/mmu_notifier.h>: the example, and the
# torture test that includes it (with the tools' pieces it uses: the soft
# MMU's mix, the findings), each run.
srcdir=$(dirname "$src")
for prog in ../examples/linux_hmm_mirror linux_dmirror; do
	extra=
	[ $prog = linux_dmirror ] &&
		extra="$srcdir/../tools/soft_mix.c $srcdir/../tools/findings.c"
	# shellcheck disable=SC2086,SC2046
	"$cc" -std=gnu11 -Wall -Wextra -Werror ${UMN_SAN_FLAGS:-} \
		-o "$tmp/$(basename $prog)" "$srcdir/$prog.c" $extra \
		$(pkg-config --cflags --libs umn) -Wl,-rpath,"$libdir" ||
		fail "$prog.c does not build against the installed headers"
done
"$tmp/linux_hmm_mirror" >/dev/null || fail "linux_hmm_mirror failed"
"$tmp/linux_dmirror" --seconds 2 >"$tmp/dmirror.log" 2>&1 ||
	{ cat "$tmp/dmirror.log"; fail "linux_dmirror failed under torture"; }

# 5. The tools, run from where they were installed, and their man pages.
for t in $tools; do
	[ -f "$prefix/share/man/man1/$t.1" ] || fail "no man page for $t"
done
"$prefix/bin/umn-bench" --help >/dev/null || fail "umn-bench does not run"
# (Whether it runs: the torture test asks it for its floor of checks.)
"$prefix/bin/umn-torture" --seconds 1 --threads 2 --quiet --min-checks 0 \
	>/dev/null ||
	fail "umn-torture does not run"
# umn-demo keeps its floor of 1,000 checked accesses: 3 s, so that a
# TSan build on a loaded machine reaches it (1 s fell short once in 116).
"$prefix/bin/umn-demo" --seconds 3 >/dev/null 2>&1 || fail "umn-demo does not run"
if [ -z "${UMN_SAN_FLAGS:-}" ]; then
	# The launcher finds libumn-watch.so beside it, and that finds
	# libumn.so.0: else the program runs unwatched and says nothing.
	# The program is one of this build's (its machine's: a cross build
	# runs under qemu-user, and libumn-watch.so cannot go into the host's
	# programs).
	"$prefix/bin/umn-watch" --quiet -- "$prefix/bin/umn-bench" --help \
		>"$tmp/watch.log" 2>&1 ||
		{ cat "$tmp/watch.log"; fail "umn-watch does not run"; }
	grep -q '1 process image watched' "$tmp/watch.log" ||
		{ cat "$tmp/watch.log"; fail "umn-watch watched nothing"; }
else
	# A sanitized libumn-watch.so cannot be preloaded (see umn-watch(1)).
	"$prefix/bin/umn-watch" --help >/dev/null || fail "umn-watch does not run"
fi

# 6. libumn-uring, a library of its own.
if readelf -d "$libdir/libumn.so.$version" | grep -q 'NEEDED.*liburing'; then
	fail "libumn.so needs liburing"
fi
if [ -n "${UMN_URING:-}" ]; then
	# liburing.h needs sigset_t, which -std=c11 hides: GNU C.
	# shellcheck disable=SC2086,SC2046
	"$cc" -std=gnu11 -Wall -Wextra -Werror ${UMN_SAN_FLAGS:-} \
		-o "$tmp/uring_fixed" "$srcdir/../examples/uring_fixed.c" \
		$(pkg-config --cflags --libs umn-uring) \
		-Wl,-rpath,"$libdir" ||
		fail "examples/uring_fixed.c does not build with pkg-config umn-uring"
	needs "$tmp/uring_fixed" | grep -qx "libumn-uring\.so\.$major" ||
		fail "uring_fixed does not need libumn-uring.so.$major"
	"$tmp/uring_fixed" >"$tmp/uring.log" 2>&1 ||
		{ cat "$tmp/uring.log"; fail "uring_fixed failed"; }
fi
echo "100%: Checks: 1, Failures: 0, Errors: 0"
