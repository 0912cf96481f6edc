# tests/proc/find-lib.sh - sourced by the watch scripts.
# find_lib NAME: the path of a shared library Debian installed, or fail.
find_lib() {
	for dir in /usr/lib/"$(uname -m)"-linux-gnu /usr/lib64 /usr/lib; do
		if [ -e "$dir/$1" ]; then
			echo "$dir/$1"
			return 0
		fi
	done
	return 1
}
