#!/usr/bin/env bash
# Where the client's CPU goes in one configuration: the timed region only.
#
#   bench/profile.sh [amy_bench --one arguments...]
#     default: --one W1 --client amy --pool 4 --pipeline 128 --n 100000
#
# Runs the configuration four times under perf (needs root or
# perf_event_paranoid <= 1, and the linux-perf package):
#   1. perf stat: syscalls, context switches and page faults per query;
#   2. perf stat on libc uprobes: malloc/calloc/realloc/free per query (the
#      probes are added for the run and deleted after);
#   3. perf record: the hottest symbols and the kernel/user split;
#   4. (amysql only, if valgrind is installed) callgrind: instructions per
#      query in user space, by function.
# amy_bench tells perf when its timed region starts and ends (the fifos in
# AMY_BENCH_PERF_CTL / AMY_BENCH_PERF_ACK), so connecting and the warm-up
# batch are left out. Needs AMY_TEST_DSN, like bench/run.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${AMY_BENCH_BIN:-build/bench/amy_bench}
CG_N=${AMY_PROFILE_CALLGRIND_N:-20000}

die() {
	printf 'profile: %s\n' "$*" >&2
	exit 1
}
[[ -x $BIN ]] || die "$BIN not built"
command -v perf >/dev/null 2>&1 || die "perf not found (apt-get install linux-perf)"
[[ -n ${AMY_TEST_DSN:-} ]] || die "AMY_TEST_DSN is not set"

args=("$@")
((${#args[@]})) || args=(--one W1 --client amy --pool 4 --pipeline 128 --n 100000)

tmp=$(mktemp -d)
probes=0
cleanup() {
	if ((probes)); then
		perf probe -q -d 'amybench:*' >/dev/null 2>&1 || true
	fi
	rm -rf -- "$tmp"
}
trap cleanup EXIT

# run_perf PERF-SUBCOMMAND-ARGS... : amy_bench under perf, counting only
# its timed region; amy_bench's own report goes to $tmp/out.
run_perf() {
	rm -f "$tmp/ctl" "$tmp/ack"
	mkfifo "$tmp/ctl" "$tmp/ack"
	AMY_BENCH_PERF_CTL=$tmp/ctl AMY_BENCH_PERF_ACK=$tmp/ack \
		perf "$@" -D -1 --control "fifo:$tmp/ctl,$tmp/ack" \
		-- "$BIN" "${args[@]}" >"$tmp/out" 2>"$tmp/err" ||
		{
			cat "$tmp/err" >&2
			die "perf $1 failed"
		}
}

# Statements in the timed region(s), from amy_bench's report lines.
queries() {
	awk '/ statements /{ n += $3 } END { print n + 0 }' "$tmp/out"
}

# per_query CSV : "event  total  per query" from perf stat -x, output.
per_query() {
	local q=$1
	awk -F, -v q="$q" '$3 != "" && $1 ~ /^[0-9.]+$/ {
		if ($2 == "msec")
			printf "  %-32s %12.0f  %8.2f us per query\n", $3 " (ms)", $1, $1 * 1000 / q
		else
			printf "  %-32s %12.0f  %8.3f per query\n", $3, $1, $1 / q }' "$2"
}

printf '== %s %s\n' "$BIN" "${args[*]}"

run_perf stat -x, -o "$tmp/stat.csv" \
	-e raw_syscalls:sys_enter,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom \
	-e syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_poll \
	-e syscalls:sys_enter_futex,context-switches,page-faults,task-clock
q=$(queries)
((q > 0)) || die "no report line from amy_bench: $(cat "$tmp/out" "$tmp/err")"
printf '\n-- run: %s' "$(cat "$tmp/out")"
printf '\n-- syscalls and scheduling, timed region (%d statements)\n' "$q"
per_query "$q" "$tmp/stat.csv"

printf '\n-- allocations, timed region (libc uprobes)\n'
libc=$(ldd "$BIN" | awk '/libc\.so/{print $3}')
if perf probe -q -x "$libc" --add amybench:malloc=malloc --add amybench:calloc=calloc \
	--add amybench:realloc=realloc --add amybench:free=free >/dev/null 2>&1; then
	probes=1
	run_perf stat -x, -o "$tmp/alloc.csv" \
		-e amybench:malloc,amybench:calloc,amybench:realloc,amybench:free
	per_query "$(queries)" "$tmp/alloc.csv"
	perf probe -q -d 'amybench:*' >/dev/null 2>&1 || true
	probes=0
else
	printf '  (uprobes unavailable: skipped)\n'
fi

printf '\n-- perf record, timed region: share of client samples\n'
run_perf record -F 2999 -g -o "$tmp/perf.data"
perf report -i "$tmp/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null |
	grep -vE '^(#|$)' | head -8 || true
printf '\n   hottest symbols (self):\n'
perf report -i "$tmp/perf.data" --stdio --no-children --sort sym -g none 2>/dev/null |
	grep -vE '^(#|$)' | head -30 || true
printf '\n   syscalls and faults, inclusive:\n'
perf report -i "$tmp/perf.data" --stdio --children --sort sym -g none 2>/dev/null |
	grep -E '__x64_sys_|asm_exc_page_fault| schedule$' | head -12 || true

client=
for ((i = 0; i < ${#args[@]}; i++)); do
	[[ ${args[i]} == --client ]] && client=${args[i + 1]:-}
done
if [[ $client == amy ]] && command -v valgrind >/dev/null 2>&1; then
	cg_args=()
	for ((i = 0; i < ${#args[@]}; i++)); do
		case ${args[i]} in
		--n | --repeat) i=$((i + 1)) ;; # replaced below: valgrind is ~50x slower
		*) cg_args+=("${args[i]}") ;;
		esac
	done
	printf '\n-- callgrind, timed batch only (%s statements; user space only)\n' "$CG_N"
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
		--toggle-collect=timed_batch "$BIN" "${cg_args[@]}" --n "$CG_N" \
		>/dev/null 2>"$tmp/cg.err" || {
		tail -5 "$tmp/cg.err" >&2
		die "callgrind failed"
	}
	callgrind_annotate --auto=no --inclusive=yes "$tmp/cg.out" 2>/dev/null |
		awk -v q="$CG_N" '/^ *[0-9,]+ \(/ {
			v = $1; gsub(",", "", v)
			rest = substr($0, index($0, ")") + 1); sub(/^ +/, "", rest)
			printf "  %8.0f instructions/query  %s\n", v / q, rest }' |
		grep -E '\[|PROGRAM TOTALS' | grep -vE 'libc-start|below main|ld-linux|bench/main\.c' |
		head -24 || true
fi
