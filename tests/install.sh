#!/bin/sh
# cmake --install into a scratch prefix, then build and run a program that
# knows umn only through pkg-config.  $UMN_SAN_FLAGS: the build's sanitizers.
set -eu
build=$1 src=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name umn.pc)
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir umn)
# shellcheck disable=SC2086,SC2046
cc -std=c11 -Wall -Wextra -Werror ${UMN_SAN_FLAGS:-} -o "$prefix/outside" "$src" \
	$(pkg-config --cflags --libs umn) -Wl,-rpath,"$libdir"
"$prefix/outside"
echo "100%: Checks: 1, Failures: 0, Errors: 0"
