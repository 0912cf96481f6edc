#!/bin/sh
# foreign.sh PROGRAM - exit 0, saying so, if PROGRAM is built for another
# machine than the one this script runs on (a cross build run under
# qemu-user, make test-aarch64); else exit 1, silently.  Sourced or run by
# the tests that drive host programs (valgrind, strace, python3...)
# against umn's: those host programs see the emulator, not the program.
# The machine is the ELF header's e_machine (bytes 18-19, little-endian).
set -u
prog=$1
machine=$(od -An -j18 -N2 -tu2 "$prog" 2>/dev/null | tr -d ' ')
case $(uname -m) in
x86_64) host=62 ;;
aarch64) host=183 ;;
*) exit 1 ;;
esac
case $machine in
62) arch=x86_64 ;;
183) arch=aarch64 ;;
*) arch="machine $machine" ;;
esac
[ -n "$machine" ] && [ "$machine" != "$host" ] || exit 1
echo "$(basename "$prog") is built for $arch and runs under an emulator on this $(uname -m) host"
exit 0
