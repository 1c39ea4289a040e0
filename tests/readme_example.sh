#!/usr/bin/env bash
# The README's first example is examples/first.c, verbatim, and it runs:
# the block after the marker line must be the file byte for byte, and the
# built example must print its three answers against the test server
# (skipped, exit 77, without AMY_TEST_DSN).
#
#   tests/readme_example.sh README.md examples/first.c path/to/amy_first
set -euo pipefail
README=${1:?usage: $0 README.md examples/first.c amy_first}
SRC=${2:?}
EXE=${3:?}
marker='<!-- examples/first.c, verbatim'
block=$(awk -v m="$marker" '
	index($0, m) == 1 { found = 1; next }
	found == 1 && /^```c$/ { found = 2; next }
	found == 2 && /^```$/ { exit }
	found == 2 { print }
' "$README")
if [[ -z $block ]]; then
	echo "readme: no block after '$marker' in $README"
	exit 1
fi
if ! diff -u <(printf '%s\n' "$block") "$SRC"; then
	echo "readme: the README's first example differs from $SRC (diff above)"
	exit 1
fi
echo "readme: the first example is $SRC, verbatim"
if [[ -z ${AMY_TEST_DSN:-} ]]; then
	echo "readme: AMY_TEST_DSN is not set: not run"
	exit 77
fi
out=$("$EXE" "$AMY_TEST_DSN")
printf '%s\n' "$out"
[[ $(printf '%s\n' "$out" | wc -l) -eq 3 ]] &&
	[[ $out =~ ^0:\ [0-9]+\.[0-9]+\.[0-9]+ ]] &&
	printf '%s\n' "$out" | grep -qx '1: [1-9][0-9]*' &&
	printf '%s\n' "$out" | grep -qx '2: slept 0.1 s' || {
	echo "readme: unexpected output"
	exit 1
}
# A server that refuses: the example says why and exits 1, it does not hang.
if out=$("$EXE" 'mysql://amy:x@127.0.0.1:1/db?connect_timeout_ms=300' 2>&1); then
	echo "readme: succeeded against a refusing server: $out"
	exit 1
fi
printf '%s\n' "$out" | grep -q '^0 failed: AMY_ECONNECT' || {
	echo "readme: no AMY_ECONNECT line against a refusing server: $out"
	exit 1
}
echo "readme: ran; against a refusing server it says why"
