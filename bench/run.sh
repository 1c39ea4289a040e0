#!/usr/bin/env bash
# The benchmark suite: amysql against blocking libmariadb, in one run.
#
#   bench/run.sh      (normally through: scripts/dev.sh bench)
#
# Needs a built build/bench/amy_bench (or $AMY_BENCH_BIN) and a running
# server in $AMY_TEST_DSN (scripts/dev.sh bench sets both up). Prints the
# tables, renders bench/w1.png with gnuplot and rewrites the generated parts
# of bench/RESULTS.md (between their BEGIN/END markers; the rest is kept):
# one for W1-W5, one for W6 (bulk insert), one for TLS (W1T: W1 over TLS
# against plaintext; STALL: the loop's longest stall while 200 connections
# open and serve 20,000 queries), each run by its own amy_bench process with
# its own date, duration and load averages. The TLS part needs the test
# server's CA ($AMY_TEST_TLS_DIR, which scripts/testdb.sh env exports); a
# full run without it leaves that part out. W7 (open-loop latency: queries
# arriving at a fixed rate, p50/p99/p999 from the scheduled arrival) has a
# part and a chart of its own, bench/w7.png.
#
# W1 has a peer from outside C: Node's `mariadb` driver (bench/node/w1.js),
# installed here into bench/node/node_modules with `npm ci` when missing or
# when bench/node/package-lock.json changed; never a dependency of the
# library, its build or its tests. Without node or npm, or when the install
# fails, the Node lines are left out with a note under the W1 table.
#
#   AMY_BENCH_ROUNDS=N   rounds per configuration (default 5)
#   AMY_BENCH_W6_ROUNDS=N  rounds for W6 (default 3: its blocking client
#                        takes ~30 s a run)
#   AMY_BENCH_ONLY=W1,W4 run only these workloads (RESULTS.md is then left
#                        alone: it must hold a whole run), except
#                        AMY_BENCH_ONLY=W6, which rewrites the W6 part only,
#                        and AMY_BENCH_ONLY=TLS, which runs W1T and STALL and
#                        rewrites the TLS part only, and AMY_BENCH_ONLY=W7,
#                        which rewrites the W7 part (and bench/w7.png) only
#   AMY_BENCH_W7_SECONDS=S  seconds of arrivals per W7 run (default 4)
#   AMY_BENCH_W7_ROUNDS=N   rounds for W7 (default 3: 3 rounds x 4
#                        configurations x 3 loads x ~4.5 s, ~3 minutes)
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
W6_ROUNDS=${AMY_BENCH_W6_ROUNDS:-3}
W7_ROUNDS=${AMY_BENCH_W7_ROUNDS:-3}
W7_SECONDS=${AMY_BENCH_W7_SECONDS:-4}
ONLY=${AMY_BENCH_ONLY:-}
RESULTS=bench/RESULTS.md
CHART=bench/w1.png
CHART_W7=bench/w7.png
BEGIN='<!-- BEGIN bench/run.sh output: rewritten by every run -->'
END='<!-- END bench/run.sh output -->'
BEGIN_W6='<!-- BEGIN bench/run.sh W6 output: rewritten by every full run and by AMY_BENCH_ONLY=W6 -->'
END_W6='<!-- END bench/run.sh W6 output -->'
BEGIN_TLS='<!-- BEGIN bench/run.sh TLS output: rewritten by every full run and by AMY_BENCH_ONLY=TLS -->'
END_TLS='<!-- END bench/run.sh TLS output -->'
BEGIN_W7='<!-- BEGIN bench/run.sh W7 output: rewritten by every full run and by AMY_BENCH_ONLY=W7 -->'
END_W7='<!-- END bench/run.sh W7 output -->'

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

args=(--rounds "$ROUNDS" --w6-rounds "$W6_ROUNDS" --w7-rounds "$W7_ROUNDS"
	--seconds "$W7_SECONDS" --data "$tmp")

# node_setup: Node's mariadb driver for W1's Node lines, installed when
# missing or outdated (a copy of the lock file it was installed from marks
# it); amy_bench finds it through AMY_BENCH_NODE_DIR, or is told why not.
node_setup() {
	local d=$PWD/bench/node
	local stamp=$d/node_modules/.amy-bench-package-lock.json
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		export AMY_BENCH_NODE_SKIP='node or npm not found on this machine'
	elif [[ ! -f $stamp ]] || ! cmp -s "$d/package-lock.json" "$stamp"; then
		printf "bench: installing Node's mariadb driver into bench/node (npm ci)\n" >&2
		if npm ci --prefix "$d" --ignore-scripts --no-audit --no-fund --loglevel=error >&2; then
			cp "$d/package-lock.json" "$stamp"
		else
			export AMY_BENCH_NODE_SKIP='npm ci --prefix bench/node failed'
		fi
	fi
	if [[ -n ${AMY_BENCH_NODE_SKIP:-} ]]; then
		printf 'bench: %s: the Node lines of W1 are left out\n' "$AMY_BENCH_NODE_SKIP" >&2
	else
		export AMY_BENCH_NODE_DIR=$d
	fi
}
if [[ -z $ONLY || $ONLY == *W1* ]]; then
	node_setup
fi

# Other work on the machine shows up as noise (the min–max ranges); the
# load averages before and after go into RESULTS.md with the figures.
loadavg() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?'; }
load_warn() {
	if awk -v l="$1" -v n="$(nproc)" 'BEGIN { exit !(l + 0 > n / 2) }'; then
		printf 'bench: warning: load average %s on %s cores before starting: other work will add noise\n' \
			"$1" "$(nproc)" >&2
	fi
}

# run_part NAME WORKLOADS: one amy_bench process; its tables go to
# $tmp/NAME.md, its duration and load averages to NAME_* variables.
main_elapsed='' main_load_before='' main_load_after=''
w6_elapsed='' w6_load_before='' w6_load_after=''
tls_elapsed='' tls_load_before='' tls_load_after=''
w7_elapsed='' w7_load_before='' w7_load_after=''
run_part() {
	local name=$1 only=$2 t0 lb
	lb=$(loadavg)
	load_warn "$lb"
	t0=$SECONDS
	"$BIN" "${args[@]}" --only "$only" | tee "$tmp/$name.md"
	printf -v "${name}_elapsed" '%s' "$((SECONDS - t0))"
	printf -v "${name}_load_before" '%s' "$lb"
	printf -v "${name}_load_after" '%s' "$(loadavg)"
}

# W1T and STALL need the server's CA; amy_bench finds it there.
have_tls=0
[[ -n ${AMY_TEST_TLS_DIR:-} && -f $AMY_TEST_TLS_DIR/ca.pem ]] && have_tls=1

main_part=0 w6_part=0 tls_part=0 w7_part=0
if [[ -z $ONLY ]]; then
	run_part main W1,W2,W3,W4,W5
	run_part w6 W6
	main_part=1 w6_part=1
	if ((have_tls)); then
		run_part tls W1T,STALL
		tls_part=1
	else
		printf 'bench: AMY_TEST_TLS_DIR has no ca.pem: the TLS part (W1T, STALL) is left out\n' >&2
	fi
	run_part w7 W7
	w7_part=1
elif [[ $ONLY == W7 ]]; then
	run_part w7 W7
	w7_part=1
elif [[ $ONLY == W6 ]]; then
	run_part w6 W6
	w6_part=1
elif [[ $ONLY == TLS ]]; then
	((have_tls)) || die "AMY_BENCH_ONLY=TLS needs the test server's CA in \$AMY_TEST_TLS_DIR (eval \"\$(scripts/testdb.sh env)\")"
	run_part tls W1T,STALL
	tls_part=1
else
	run_part only "$ONLY"
fi

when=$(date -u '+%Y-%m-%d %H:%M UTC')
# The command as typed: through scripts/dev.sh or bench/run.sh directly,
# with the settings that change what runs.
how=
for v in AMY_BENCH_COMMIT AMY_BENCH_OWN_SERVER AMY_BENCH_ROUNDS AMY_BENCH_W6_ROUNDS AMY_BENCH_W7_ROUNDS AMY_BENCH_W7_SECONDS AMY_BENCH_ONLY; do
	[[ -n ${!v:-} ]] && how+="$v=${!v} "
done
[[ -n ${AMY_BENCH_BIN:-} && -z ${AMY_BENCH_COMMIT:-} ]] && how+="AMY_BENCH_BIN=$AMY_BENCH_BIN "
if ps -o args= -p "$PPID" 2>/dev/null | grep -q 'scripts/dev\.sh bench'; then
	how+='scripts/dev.sh bench'
else
	how+='bench/run.sh'
fi

# render WHAT SCRIPT DATA OUT SUBTITLE: gnuplot SCRIPT on DATA into OUT;
# status 0 when the chart was written.
render() {
	local what=$1 script=$2 data=$3 out=$4 subtitle=$5
	if ! command -v gnuplot >/dev/null 2>&1; then
		printf 'bench: gnuplot not found: no %s (scripts/dev.sh deps installs gnuplot-nox)\n' "$what" >&2
		return 1
	fi
	gnuplot -e "datafile='$data'; outfile='$out'; subtitle='$subtitle'" "$script" || return 1
	printf '\nbench: %s written to %s\n' "$what" "$out" >&2
}
chart_ok=0
if ((main_part)) || [[ $ONLY == *W1* ]]; then
	render chart bench/chart.gp "$tmp/w1.dat" "$CHART" "$when, commit ${commit%% *}, $ROUNDS rounds" && chart_ok=1
fi
chart_w7_ok=0
if ((w7_part)); then
	render "W7 chart" bench/w7.gp "$tmp/w7.dat" "$CHART_W7" "$when, commit ${commit%% *}, $W7_ROUNDS rounds of $W7_SECONDS s" && chart_w7_ok=1
fi
for part in main w6 tls w7 only; do
	v=${part}_elapsed
	case $part in
	w6) what=W6 ;;
	tls) what='the TLS part' ;;
	w7) what=W7 ;;
	*) what='the suite' ;;
	esac
	[[ -n ${!v:-} ]] && printf 'bench: %s took %d s\n' "$what" "${!v}" >&2
done

if ((!main_part && !w6_part && !tls_part && !w7_part)); then
	printf 'bench: AMY_BENCH_ONLY set: %s left unchanged\n' "$RESULTS" >&2
	exit 0
fi

if ((main_part)); then
	{
		printf '%s\n' "$BEGIN"
		printf '## Latest run\n\n'
		printf -- '- command: `%s` (%s rounds)\n' "$how" "$ROUNDS"
		printf -- '- when: %s; commit %s; the suite took %d s; 1-minute load average %s before, %s after\n' \
			"$when" "$commit" "$main_elapsed" "$main_load_before" "$main_load_after"
		cat "$tmp/main.md"
		if ((chart_ok)); then
			printf '\n![W1: queries/s by queries in flight](w1.png)\n'
		fi
		printf '%s\n' "$END"
	} >"$tmp/generated.md"
fi
if ((w6_part)); then
	{
		printf '%s\n' "$BEGIN_W6"
		printf '## W6: bulk insert, latest run\n\n'
		printf -- '- command: `%s` (W6: %s rounds)\n' "$how" "$W6_ROUNDS"
		printf -- '- when: %s; commit %s; W6 took %d s; 1-minute load average %s before, %s after\n' \
			"$when" "$commit" "$w6_elapsed" "$w6_load_before" "$w6_load_after"
		cat "$tmp/w6.md"
		printf '%s\n' "$END_W6"
	} >"$tmp/generated_w6.md"
fi

if ((tls_part)); then
	{
		printf '%s\n' "$BEGIN_TLS"
		printf '## TLS: W1 over TLS and the loop stall, latest run\n\n'
		printf -- '- command: `%s` (%s rounds)\n' "$how" "$ROUNDS"
		printf -- '- when: %s; commit %s; the TLS part took %d s; 1-minute load average %s before, %s after\n' \
			"$when" "$commit" "$tls_elapsed" "$tls_load_before" "$tls_load_after"
		cat "$tmp/tls.md"
		printf '%s\n' "$END_TLS"
	} >"$tmp/generated_tls.md"
fi

if ((w7_part)); then
	{
		printf '%s\n' "$BEGIN_W7"
		printf '## W7: open-loop latency, latest run\n\n'
		printf -- '- command: `%s` (W7: %s rounds of %s s)\n' "$how" "$W7_ROUNDS" "$W7_SECONDS"
		printf -- '- when: %s; commit %s; W7 took %d s; 1-minute load average %s before, %s after\n' \
			"$when" "$commit" "$w7_elapsed" "$w7_load_before" "$w7_load_after"
		if ((chart_w7_ok)); then
			cat "$tmp/w7.md"
		else # the section's own text links the chart: not without one
			grep -vF '](w7.png)' "$tmp/w7.md"
		fi
		printf '%s\n' "$END_W7"
	} >"$tmp/generated_w7.md"
fi

# replace_section FILE BEGIN END GENERATED: the lines from BEGIN to END
# replaced by GENERATED, everything around them kept (the hand-written
# analysis). 1 when FILE lacks the markers.
replace_section() {
	grep -qxF -- "$2" "$1" && grep -qxF -- "$3" "$1" || return 1
	awk -v b="$2" -v e="$3" -v gen="$4" '
		$0 == b { while ((getline line < gen) > 0) print line; skip = 1; next }
		$0 == e { skip = 0; next }
		!skip { print }
	' "$1" >"$tmp/results.md"
	cat "$tmp/results.md" >"$1"
}

[[ -f $RESULTS ]] || printf '# Benchmark results\n\n' >"$RESULTS"
if ((main_part)) && ! replace_section "$RESULTS" "$BEGIN" "$END" "$tmp/generated.md"; then
	cat "$tmp/generated.md" >>"$RESULTS"
fi
if ((w6_part)) && ! replace_section "$RESULTS" "$BEGIN_W6" "$END_W6" "$tmp/generated_w6.md"; then
	# First W6 run: its section goes right after the W1-W5 one.
	if grep -qxF -- "$END" "$RESULTS"; then
		awk -v e="$END" -v gen="$tmp/generated_w6.md" '
			{ print }
			$0 == e { print ""; while ((getline line < gen) > 0) print line }
		' "$RESULTS" >"$tmp/results.md"
		cat "$tmp/results.md" >"$RESULTS"
	else
		cat "$tmp/generated_w6.md" >>"$RESULTS"
	fi
fi
if ((tls_part)) && ! replace_section "$RESULTS" "$BEGIN_TLS" "$END_TLS" "$tmp/generated_tls.md"; then
	# First TLS run: its section goes right after the W6 one.
	if grep -qxF -- "$END_W6" "$RESULTS"; then
		awk -v e="$END_W6" -v gen="$tmp/generated_tls.md" '
			{ print }
			$0 == e { print ""; while ((getline line < gen) > 0) print line }
		' "$RESULTS" >"$tmp/results.md"
		cat "$tmp/results.md" >"$RESULTS"
	else
		cat "$tmp/generated_tls.md" >>"$RESULTS"
	fi
fi
if ((w7_part)) && ! replace_section "$RESULTS" "$BEGIN_W7" "$END_W7" "$tmp/generated_w7.md"; then
	# First W7 run: its section goes after the last generated one.
	after=
	for m in "$END_TLS" "$END_W6" "$END"; do
		if grep -qxF -- "$m" "$RESULTS"; then
			after=$m
			break
		fi
	done
	if [[ -n $after ]]; then
		awk -v e="$after" -v gen="$tmp/generated_w7.md" '
			{ print }
			$0 == e { print ""; while ((getline line < gen) > 0) print line }
		' "$RESULTS" >"$tmp/results.md"
		cat "$tmp/results.md" >"$RESULTS"
	else
		cat "$tmp/generated_w7.md" >>"$RESULTS"
	fi
fi
printf 'bench: %s updated\n' "$RESULTS" >&2
