#!/usr/bin/env bash
# Installs a build of amysql into a temporary prefix, then builds this
# consumer against the installed tree both ways a user would (pkg-config;
# CMake find_package, shared and static) and runs it, plus the installed
# amysql-batch, against the test server. Used by `scripts/dev.sh test`.
#
#   examples/consumer/check.sh BUILD_DIR     (AMY_TEST_DSN to run them)
set -euo pipefail
BUILD=${1:?usage: $0 BUILD_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/amy-consumer.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
PREFIX=$WORK/prefix
say() { printf 'consumer: %s\n' "$*" >&2; }

cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log"
pc=$(find "$PREFIX" -name amysql.pc -print -quit)
for f in include/amysql.h bin/amysql-batch share/man/man1/amysql-batch.1; do
	[[ -e $PREFIX/$f ]] || { say "not installed: $f"; exit 1; }
done
[[ -n $pc && -e $(dirname "$pc")/../cmake/amysql/amysqlConfig.cmake &&
	-e $(dirname "$pc")/../cmake/amysql/amysqlConfigVersion.cmake ]] ||
	{ say "amysql.pc or the CMake package is missing"; exit 1; }
LIBDIR=$(cd "$(dirname "$pc")/.." && pwd)
say "installed into a temporary prefix ($(wc -l <"$BUILD/install_manifest.txt") files)"

# pkg-config, as the README says: the flags of amysql, and libev's.
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
# shellcheck disable=SC2046 # the flags are words
cc -std=c11 -Wall -Wextra -Werror -o "$WORK/consumer_pc" "$HERE/consumer.c" \
	$(pkg-config --cflags --libs amysql) -lev -Wl,-rpath,"$LIBDIR"
say "built with pkg-config"

# The README's first example, with the README's lines for a custom prefix:
# rpath, and the static library through amysql-static.pc.
FIRST=$HERE/../first.c
# shellcheck disable=SC2046 # the flags are words
cc -std=c11 -Wall -Wextra -Werror -o "$WORK/first_rpath" "$FIRST" \
	$(pkg-config --cflags --libs amysql) -lev \
	-Wl,-rpath,"$(pkg-config --variable=libdir amysql)"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o "$WORK/first_static" "$FIRST" \
	$(pkg-config --cflags --libs amysql-static)
if ldd "$WORK/first_static" | grep -q libamysql; then
	say "first_static (amysql-static.pc) links libamysql.so"
	exit 1
fi
say "built examples/first.c with rpath and with amysql-static.pc"

# find_package(amysql): amysql::amysql and amysql::amysql_static.
cmake -S "$HERE" -B "$WORK/cmake" -DCMAKE_PREFIX_PATH="$PREFIX" >"$WORK/cmake.log" ||
	{ cat "$WORK/cmake.log"; exit 1; }
cmake --build "$WORK/cmake" >>"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log"; exit 1; }
say "built with find_package (shared and static)"
if ldd "$WORK/cmake/consumer_static" | grep -q libamysql; then
	say "consumer_static links libamysql.so"
	exit 1
fi

if [[ -z ${AMY_TEST_DSN:-} ]]; then
	say "AMY_TEST_DSN is not set: built, not run"
	exit 0
fi
for exe in "$WORK/consumer_pc" "$WORK/cmake/consumer" "$WORK/cmake/consumer_static"; do
	"$exe" "$AMY_TEST_DSN" 200
done
for exe in "$WORK/first_rpath" "$WORK/first_static"; do
	"$exe" "$AMY_TEST_DSN" >/dev/null
done
say "examples/first.c ran, both ways"
out=$(printf 'SELECT 41 + 1\n' | "$PREFIX/bin/amysql-batch" -N "$AMY_TEST_DSN")
[[ $out == 42 ]] || { say "installed amysql-batch printed '$out'"; exit 1; }
say "the installed amysql-batch runs"
