#!/usr/bin/env bash
# Before/after in one run: two commits' amy_bench, interleaved round by round.
#
#   bench/ab.sh BASE [NEW]      (NEW defaults to HEAD; needs AMY_TEST_DSN,
#                                e.g. eval "$(scripts/testdb.sh env)")
#
# Builds amy_bench from a clean export of each commit (git archive), then for
# AMY_AB_ROUNDS rounds (default 8) runs, BASE and NEW in turn (ABBA order),
# the same configurations: W1 best (pool=4 pipeline=128 read_coalesce_us=300), W1 with
# pool=4 pipeline=32 (no coalescing), W1 on one connection, and W4 (bytes per pending
# future). The machine is shared and noisy, so each round pairs the two
# commits back to back: it prints the medians and the paired NEW/BASE ratios
# (median and range), never a single time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $# -ge 1 && $# -le 2 ]] || {
	echo "usage: $0 BASE [NEW]" >&2
	exit 2
}
[[ -n ${AMY_TEST_DSN:-} ]] || {
	echo "ab: AMY_TEST_DSN is not set (eval \"\$(scripts/testdb.sh env)\")" >&2
	exit 2
}
ROUNDS=${AMY_AB_ROUNDS:-8}
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT

build() { # build REV NAME
	local rev=$1 dir=$tmp/$2
	mkdir -p "$dir/src"
	git archive "$rev" | tar -x -C "$dir/src"
	cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DAMY_BUILD_TESTS=OFF -DAMY_BUILD_EXAMPLES=OFF >"$dir/cmake.log" 2>&1 &&
		cmake --build "$dir/build" -j"$(nproc)" --target amy_bench >>"$dir/cmake.log" 2>&1 || {
		tail -30 "$dir/cmake.log" >&2
		exit 1
	}
}
base=$(git rev-parse --short "$1^{commit}")
new=$(git rev-parse --short "${2:-HEAD}^{commit}")
build "$base" base
build "$new" new
printf 'ab: %s (base) against %s (new), %s rounds, %s\n' "$base" "$new" "$ROUNDS" "$(date -u '+%F %H:%M UTC')"

out=$tmp/runs.txt
for ((r = 1; r <= ROUNDS; r++)); do
	order="base new"
	((r % 2)) || order="new base" # ABBA: neither always runs first
	for which in $order; do
		b=$tmp/$which/build/bench/amy_bench
		printf '%s best %s\n' "$which" "$("$b" --one W1 --client amy --pool 4 --pipeline 128 --n 20000 --coalesce-us 300 2>&1 | grep '^W1 amy')" >>"$out"
		printf '%s default %s\n' "$which" "$("$b" --one W1 --client amy --pool 4 --pipeline 32 --n 20000 2>&1 | grep '^W1 amy')" >>"$out"
		printf '%s pool1 %s\n' "$which" "$("$b" --one W1 --client amy --pool 1 --pipeline 16 --n 10000 2>&1 | grep '^W1 amy')" >>"$out"
		printf '%s w4 %s\n' "$which" "$("$b" --one W4 --client amy 2>&1 | grep '^W4')" >>"$out"
	done
	printf 'ab: round %d/%d done\n' "$r" "$ROUNDS" >&2
done

awk '
function med(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{
	w = $1; k = $2; v = 0; c = 0
	for (i = 3; i <= NF; i++) {
		if ($i == "q/s") v = $(i-1)
		if ($i == "B/future;") v = $(i-1)
		if ($i == "CPU" && $(i-1) == "client") c = $(i+1)
	}
	n = ++cnt[w, k]; val[w, k, n] = v; cpu[w, k, n] = c
	if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
}
END {
	for (x = 1; x <= nk; x++) {
		k = order[x]; n = cnt["new", k]
		for (i = 1; i <= n; i++) {
			bv[i] = val["base", k, i]; nv[i] = val["new", k, i]
			bc[i] = cpu["base", k, i]; nc[i] = cpu["new", k, i]
			rr[i] = bv[i] ? nv[i] / bv[i] : 0 # round i of each: a pair
			if (i == 1 || rr[i] < lo) lo = rr[i]
			if (i == 1 || rr[i] > hi) hi = rr[i]
		}
		unit = k == "w4" ? "B/future" : "q/s"
		printf "%-8s base %9.1f %s (client %5.2f us/q)  new %9.1f %s (client %5.2f us/q)  new/base %.3f [%.3f-%.3f]\n", \
			k, med(bv, n), unit, med(bc, n), med(nv, n), unit, med(nc, n), med(rr, n), lo, hi
	}
}' "$out"
