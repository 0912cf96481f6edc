#!/bin/sh
# foreign.sh [--machine] PROGRAM - exit 0, saying so, if PROGRAM is built
# for another machine than the one this script runs on (a cross build run
# under qemu-user, make test-aarch64); else exit 1, silently.  Run by the
# tests that drive host programs (valgrind, strace, python3...) against
# umn's: those host programs would see the emulator, not the program.
# The machine is the ELF header's e_machine (bytes 18-19, little-endian).
# With --machine, print PROGRAM's machine (as uname -m names it) instead;
# exit 1 if it is none of those known here.
set -u
only_machine=false
if [ "$1" = --machine ]; then
	only_machine=true
	shift
fi
prog=$1
machine=$(od -An -j18 -N2 -tu2 "$prog" 2>/dev/null | tr -d ' ')
case $(uname -m) in
x86_64) host=62 ;;
aarch64) host=183 ;;
*) host=unknown ;;
esac
case $machine in
62) arch=x86_64 ;;
183) arch=aarch64 ;;
*) arch="machine $machine" ;;
esac
if $only_machine; then
	case $arch in
	machine*) exit 1 ;;
	esac
	echo "$arch"
	exit 0
fi
[ "$host" != unknown ] && [ -n "$machine" ] && [ "$machine" != "$host" ] ||
	exit 1
echo "$(basename "$prog") is built for $arch and runs under an emulator on this $(uname -m) host"
exit 0
