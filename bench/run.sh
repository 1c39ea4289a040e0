#!/usr/bin/env bash
# The benchmark suite: amysql against blocking libmariadb, in one run.
#
#   bench/run.sh      (normally through: scripts/dev.sh bench)
#
# Needs a built build/bench/amy_bench (or $AMY_BENCH_BIN) and a running
# server in $AMY_TEST_DSN (scripts/dev.sh bench sets both up). Prints the
# tables, renders bench/w1.png with gnuplot and rewrites the generated part
# of bench/RESULTS.md (between its BEGIN/END markers; the rest is kept).
#
#   AMY_BENCH_ROUNDS=N   rounds per configuration (default 5)
#   AMY_BENCH_ONLY=W1,W4 run only these workloads (RESULTS.md is then left
#                        alone: it must hold a whole run)
#   AMY_BENCH_OWN_SERVER=1  run against a private server started for the run
#                        (scripts/testdb.sh in a temporary state dir, first
#                        free port from 33161) and stopped after it: on a
#                        machine shared with people running the tests, the
#                        common test server gets loaded, its sessions killed
#                        and even restarted by fault-injection tests.
#   AMY_BENCH_COMMIT=REV build and run amy_bench from a clean export of that
#                        commit (git archive, in a temporary dir) instead of
#                        $AMY_BENCH_BIN: figures that name exactly the code
#                        measured, whatever the work tree holds.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${AMY_BENCH_BIN:-build/bench/amy_bench}
ROUNDS=${AMY_BENCH_ROUNDS:-5}
ONLY=${AMY_BENCH_ONLY:-}
RESULTS=bench/RESULTS.md
CHART=bench/w1.png
BEGIN='<!-- BEGIN bench/run.sh output: rewritten by every run -->'
END='<!-- END bench/run.sh output -->'

die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

tmp=$(mktemp -d)
own_dir=
cleanup() {
	if [[ -n $own_dir ]]; then
		AMY_TESTDB_DIR=$own_dir scripts/testdb.sh stop || true
	fi
	rm -rf -- "$tmp"
}
trap cleanup EXIT

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain -- src include CMakeLists.txt 2>/dev/null) ]]; then
	commit="$commit + uncommitted changes in src/, include/ or CMakeLists.txt"
fi
if [[ -n ${AMY_BENCH_COMMIT:-} ]]; then
	commit=$(git rev-parse --short "$AMY_BENCH_COMMIT^{commit}") || die "no commit $AMY_BENCH_COMMIT"
	printf 'bench: building amy_bench from a clean export of %s\n' "$commit" >&2
	mkdir "$tmp/src"
	git archive "$commit" | tar -x -C "$tmp/src"
	cmake -S "$tmp/src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DAMY_BUILD_TESTS=OFF -DAMY_BUILD_EXAMPLES=OFF >"$tmp/cmake.log" 2>&1 &&
		cmake --build "$tmp/build" -j"$(nproc)" --target amy_bench >>"$tmp/cmake.log" 2>&1 ||
		{
			tail -30 "$tmp/cmake.log" >&2
			die "building $commit failed"
		}
	BIN=$tmp/build/bench/amy_bench
	commit="$commit (clean export)"
fi
[[ -x $BIN ]] || die "$BIN not built (scripts/dev.sh bench builds it)"

if [[ ${AMY_BENCH_OWN_SERVER:-0} == 1 ]]; then
	own_dir=$(mktemp -d /tmp/amy-bench-db.XXXXXX)
	AMY_TESTDB_DIR=$own_dir AMY_TESTDB_PORT=${AMY_BENCH_OWN_PORT:-33161} \
		scripts/testdb.sh start
	eval "$(AMY_TESTDB_DIR=$own_dir scripts/testdb.sh env)"
	printf 'bench: private server for this run: %s\n' "$AMY_TEST_DSN" >&2
fi
[[ -n ${AMY_TEST_DSN:-} ]] || die "AMY_TEST_DSN is not set (eval \"\$(scripts/testdb.sh env)\")"

# W5 holds 1,000 connections (and the thread baseline 1,000 more while they
# close): amy_bench raises its own soft limit, but a hard limit below that
# cannot be raised from inside.
if (($(ulimit -Hn) < 4096)); then
	printf 'bench: warning: hard limit on open files is %s; W5 may fail\n' "$(ulimit -Hn)" >&2
fi

args=(--rounds "$ROUNDS" --data "$tmp")
[[ -n $ONLY ]] && args+=(--only "$ONLY")

# Other work on the machine shows up as noise (the min–max ranges); the
# load averages before and after go into RESULTS.md with the figures.
load_before=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
if awk -v l="$load_before" -v n="$(nproc)" 'BEGIN { exit !(l + 0 > n / 2) }'; then
	printf 'bench: warning: load average %s on %s cores before starting: other work will add noise\n' \
		"$load_before" "$(nproc)" >&2
fi
t0=$SECONDS
"$BIN" "${args[@]}" | tee "$tmp/tables.md"
elapsed=$((SECONDS - t0))
load_after=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')

when=$(date -u '+%Y-%m-%d %H:%M UTC')
# The command as typed: through scripts/dev.sh or bench/run.sh directly,
# with the settings that change what runs.
how=
for v in AMY_BENCH_COMMIT AMY_BENCH_OWN_SERVER AMY_BENCH_ROUNDS; do
	[[ -n ${!v:-} ]] && how+="$v=${!v} "
done
[[ -n ${AMY_BENCH_BIN:-} && -z ${AMY_BENCH_COMMIT:-} ]] && how+="AMY_BENCH_BIN=$AMY_BENCH_BIN "
if ps -o args= -p "$PPID" 2>/dev/null | grep -q 'scripts/dev\.sh bench'; then
	how+='scripts/dev.sh bench'
else
	how+='bench/run.sh'
fi

chart_ok=0
if [[ -z $ONLY || $ONLY == *W1* ]]; then
	if command -v gnuplot >/dev/null 2>&1; then
		if gnuplot -e "datafile='$tmp/w1.dat'; outfile='$CHART'; subtitle='$when, commit ${commit%% *}, $ROUNDS rounds'" bench/chart.gp; then
			chart_ok=1
			printf '\nbench: chart written to %s\n' "$CHART" >&2
		fi
	else
		printf 'bench: gnuplot not found: no chart (scripts/dev.sh deps installs gnuplot-nox)\n' >&2
	fi
fi
printf 'bench: suite took %d s\n' "$elapsed" >&2

if [[ -n $ONLY ]]; then
	printf 'bench: AMY_BENCH_ONLY set: %s left unchanged\n' "$RESULTS" >&2
	exit 0
fi

{
	printf '%s\n' "$BEGIN"
	printf '## Latest run\n\n'
	printf -- '- command: `%s` (%s rounds)\n' "$how" "$ROUNDS"
	printf -- '- when: %s; commit %s; the suite took %d s; 1-minute load average %s before, %s after\n' \
		"$when" "$commit" "$elapsed" "$load_before" "$load_after"
	cat "$tmp/tables.md"
	if ((chart_ok)); then
		printf '\n![W1: queries/s by queries in flight](w1.png)\n'
	fi
	printf '%s\n' "$END"
} >"$tmp/generated.md"

if [[ -f $RESULTS ]] && grep -qF -- "$BEGIN" "$RESULTS" && grep -qF -- "$END" "$RESULTS"; then
	# Keep what is around the markers (the hand-written analysis).
	awk -v b="$BEGIN" -v e="$END" -v gen="$tmp/generated.md" '
		$0 == b { while ((getline line < gen) > 0) print line; skip = 1; next }
		$0 == e { skip = 0; next }
		!skip { print }
	' "$RESULTS" >"$tmp/results.md"
	cat "$tmp/results.md" >"$RESULTS"
else
	{
		printf '# Benchmark results\n\n'
		cat "$tmp/generated.md"
	} >"$RESULTS"
fi
printf 'bench: %s updated\n' "$RESULTS" >&2
