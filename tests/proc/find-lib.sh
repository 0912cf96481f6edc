# tests/proc/find-lib.sh - sourced by the watch scripts.
# find_lib NAME [PROGRAM]: the path of a shared library Debian installed,
# or fail; for PROGRAM's machine if given (a cross build's programs run
# under qemu-user and take that machine's libraries: tests/foreign.sh).
find_lib() {
	machine=$(uname -m)
	if [ $# -gt 1 ]; then
		machine=$("$(dirname "$0")/../foreign.sh" --machine "$2") ||
			return 1
	fi
	for dir in /usr/lib/"$machine"-linux-gnu /usr/lib64 /usr/lib; do
		if [ -e "$dir/$1" ]; then
			echo "$dir/$1"
			return 0
		fi
	done
	return 1
}
