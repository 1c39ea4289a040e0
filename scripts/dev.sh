#!/usr/bin/env bash
# Developer entry point for amysql.
#
#   scripts/dev.sh deps    install missing Debian packages (apt-get)
#   scripts/dev.sh build   RelWithDebInfo build into build/
#   scripts/dev.sh demo    build, start the main test server, run build/examples/amy_demo
#   scripts/dev.sh test    build normal + ASan/UBSan, start the test servers, run both ctest suites
#   scripts/dev.sh bench   build, start the test servers, run bench/run.sh
#   scripts/dev.sh env     start every test server (left running), print
#                          their env: eval "$(scripts/dev.sh env)"
#   scripts/dev.sh stress [N]  build, start the test servers, run every test
#                          program N times in a row (default 20), logs in
#                          build/stress/, then failures per program
#   scripts/dev.sh fuzz [S]  build the libFuzzer targets (tests/fuzz/, clang,
#                          build-fuzz/), run each S seconds (default 30) on a
#                          scratch copy of its seed corpus; per target the
#                          runs and libFuzzer's final cov/ft; fails on any
#                          crash, whose input stays in build-fuzz/artifacts/
#
# test also fuzzes each target AMY_FUZZ_SECONDS (default 30; 0 skips it) after
# the other suites, with no server running.
#
# The test servers are three scripts/testdb.sh instances, started in parallel:
#   main     .testdb          TLS on, first free port from 33061
#   plain    .testdb-plain    TLS off, from 33071: AMY_TEST_PLAIN_DSN,
#                             AMY_TEST_PLAIN_SSL_DSN
#   expired  .testdb-expired  expired certificate signed by main's CA (a copy
#                             of main's PKI), from 33081: AMY_TEST_EXPIRED_DSN
# plus main's env (AMY_TEST_DSN, AMY_TEST_TLS_DSN, AMY_TEST_TLS_DIR, ...; see
# scripts/testdb.sh). AMY_TESTDB_DIR and AMY_TESTDB_PORT move all three: the
# variants use DIR-plain, DIR-expired and PORT+10, PORT+20. demo needs only
# main and starts only main. A server is stopped on exit only if this script
# started it; one already running is reused and left running.
#
# With them (not for demo) starts the HA topology of scripts/testdb-ha.sh, a
# primary with two GTID replicas and a 3-node Galera cluster, in DIR-ha on a
# block of 12 ports from PORT-10000+30 (AMY_TESTDB_HA_PORT moves it; below
# the kernel's ephemeral range 32768-60999, so a node a test restarts cannot
# find its port taken as some connection's source port): its env is
# AMY_TEST_HA_PRIMARY, AMY_TEST_HA_REPLICAS, AMY_TEST_GALERA, AMY_TEST_HA_DSN,
# ... AMY_TESTDB_HA=0 leaves it out (the HA tests then skip).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd -P)
TESTDB=$REPO/scripts/testdb.sh

PACKAGES=(
	build-essential cmake pkg-config
	libmariadb-dev libev-dev libcmocka-dev
	libc-ares-dev # src/resolve.c: host names resolved on the loop
	mariadb-server mariadb-client
	# The HA tests' Galera cluster (scripts/testdb-ha.sh). Its state transfers
	# use mysqldump (mariadb-client): no rsync, socat or mariadb-backup.
	galera-4
	openssl # scripts/testdb.sh makes the test servers' certificates with it
	gnuplot-nox valgrind
	clang libclang-rt-14-dev # the fuzz targets: /usr/bin/clang, libFuzzer
)

log() { printf 'dev: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}
banner() {
	printf '\n==================== %s ====================\n' "$*" >&2
}
usage() {
	cat >&2 <<EOF
usage: $0 deps|build|demo|test|bench|env|stress [N]|fuzz [S]
  deps   install missing packages: ${PACKAGES[*]}
  build  cmake RelWithDebInfo build into build/
  demo   build, start the main test server, run build/examples/amy_demo
  test   build + ASan build, start the test servers, run ctest on both
  bench  build, start the test servers, run bench/run.sh
  stress build, start the test servers, run every test program (build/tests/
         test_*, tests/cli/*.sh) N times in a row (default 20), each run's
         output in build/stress/; report failures per program with their logs
  fuzz   build the fuzz targets (tests/fuzz/) into build-fuzz/ with clang, run
         each for S seconds (default 30) on a scratch copy of its seeds; report
         runs and coverage (cov/ft) per target; fail on a crash (its input is
         kept in build-fuzz/artifacts/)
EOF
	exit 2
}

ncpu() { nproc 2>/dev/null || echo 2; }

pkg_installed() {
	dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

cmd_deps() {
	local p missing=() sudo=()
	if ! command -v dpkg >/dev/null 2>&1; then
		log "no dpkg (not Debian?); skipping package installation. Needed: ${PACKAGES[*]}"
		return 0
	fi
	for p in "${PACKAGES[@]}"; do
		pkg_installed "$p" || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		log "all packages installed"
		return 0
	fi
	banner "deps: installing ${missing[*]}"
	if ((EUID != 0)); then
		command -v sudo >/dev/null 2>&1 || die "missing packages (${missing[*]}) and not root, no sudo"
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}"
}

cmd_build() {
	banner "build: build/ (RelWithDebInfo)"
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j"$(ncpu)"
}

cmd_build_asan() {
	banner "build: build-asan/ (Debug, ASan+UBSan, debug mode AMY_DEBUG)"
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAMY_SANITIZE=ON -DAMY_DEBUG=ON -DAMY_BUILD_BENCH=OFF
	cmake --build build-asan -j"$(ncpu)"
}

# The fuzz targets: tests/fuzz/fuzz_NAME.c, seeds in tests/fuzz/corpus/NAME/,
# dictionary tests/fuzz/NAME.dict where there is one.
FUZZ_TARGETS=(dsn params result_bin split cnf)

cmd_build_fuzz() {
	banner "build: build-fuzz/ (libFuzzer targets, clang)"
	if ! command -v clang >/dev/null 2>&1; then
		log "no clang: scripts/dev.sh deps installs it (clang, libclang-rt-14-dev)"
		return 1
	fi
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DAMY_FUZZ=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build-fuzz -j"$(ncpu)"
}

# run_fuzz SECONDS : runs every fuzz target for SECONDS on a scratch copy of
# its seeds (what it adds is thrown away; the tree is never written), prints
# a line per target and sets FUZZ_LINE to a one-line summary. Returns 1 if a
# target crashed (or broke an invariant), 0 otherwise.
FUZZ_LINE=
run_fuzz() {
	local secs=$1 t bin scratch logf art rc bad=0 runs cov ft crash line
	local -a dict lines=() parts=()
	local base=/dev/shm # fuzz_cnf writes its option files per input: 10x faster
	[[ -d $base && -w $base ]] || base=${TMPDIR:-/tmp}
	scratch=$(mktemp -d "$base/amy-fuzz.XXXXXX")
	art=$REPO/build-fuzz/artifacts
	mkdir -p -- "$art"
	for t in "${FUZZ_TARGETS[@]}"; do
		bin=build-fuzz/tests/fuzz/fuzz_$t
		logf=$REPO/build-fuzz/fuzz-$t.log
		mkdir -p -- "$scratch/$t/corpus" "$scratch/$t/tmp"
		cp -- tests/fuzz/corpus/"$t"/* "$scratch/$t/corpus/"
		dict=()
		[[ ! -f tests/fuzz/$t.dict ]] || dict=(-dict="tests/fuzz/$t.dict")
		banner "fuzz: $t, ${secs} s (log $logf)"
		rc=0
		# -timeout: one input running this long counts as a hang (a crash).
		TMPDIR=$scratch/$t/tmp "$bin" -max_total_time="$secs" -timeout=25 \
			-print_final_stats=1 -artifact_prefix="$art/$t-" "${dict[@]}" \
			"$scratch/$t/corpus" >"$logf" 2>&1 || rc=$?
		line=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$logf" | tail -n 1 || true)
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -n 1)
		[[ -n $runs ]] || runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$line")
		cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")
		ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")
		crash=$(sed -n 's/.*Test unit written to //p' "$logf" | tail -n 1)
		if ((rc == 0)) && [[ -z $crash ]]; then
			lines+=("$(printf 'fuzz %-10s %10s runs  cov %5s  ft %6s  clean' "$t" "${runs:-?}" "${cov:-?}" "${ft:-?}")")
			parts+=("$t ${runs:-?} runs cov ${cov:-?} ft ${ft:-?}")
		else
			bad=$((bad + 1))
			tail -n 40 "$logf" >&2
			lines+=("$(printf 'fuzz %-10s FAILED (exit %s) after %s runs: input %s, log %s' "$t" "$rc" "${runs:-?}" "${crash:-?}" "$logf")")
			parts+=("$t FAILED: input ${crash:-?}")
		fi
		printf '%s\n' "${lines[-1]}" >&2
	done
	rm -rf -- "$scratch"
	banner "fuzz: ${#FUZZ_TARGETS[@]} targets, ${secs} s each"
	printf '%s\n' "${lines[@]}"
	local joined="" p
	for p in "${parts[@]}"; do joined+="${joined:+; }$p"; done
	FUZZ_LINE="fuzz: $((${#FUZZ_TARGETS[@]} - bad)) of ${#FUZZ_TARGETS[@]} targets clean, ${secs} s each ($joined)"
	((bad == 0))
}

cmd_fuzz() {
	local secs=${1:-30}
	[[ $secs =~ ^[1-9][0-9]*$ ]] || die "fuzz: S must be a positive number of seconds, not '$secs'"
	cmd_deps
	cmd_build_fuzz || die "fuzz: build-fuzz/ did not build"
	if run_fuzz "$secs"; then
		printf 'dev fuzz: OK\n'
		return 0
	fi
	printf 'dev fuzz: FAILED\n'
	return 1
}

# The test server instances: 0 main, 1 plain, 2 expired (see the header).
DB_MAIN=${AMY_TESTDB_DIR:-$REPO/.testdb}
case $DB_MAIN in
/*) ;;
*) DB_MAIN=$REPO/$DB_MAIN ;; # as testdb.sh sees it: we run from $REPO
esac
DB_MAIN=${DB_MAIN%/}
DB_PORT=${AMY_TESTDB_PORT:-33061}
[[ $DB_PORT =~ ^[1-9][0-9]*$ ]] || die "AMY_TESTDB_PORT must be a port number, not '$DB_PORT'"
DB_NAMES=(main plain expired)
DB_DIRS=("$DB_MAIN" "$DB_MAIN-plain" "$DB_MAIN-expired")
DB_TLS=(on off expired)
# Apart, so that instances starting together do not all probe the same ports.
DB_PORTS=("$DB_PORT" $((DB_PORT + 10)) $((DB_PORT + 20)))
DB_STARTED=(0 0 0)
# The HA topology: one scripts/testdb-ha.sh state dir for its six servers.
TESTDB_HA=$REPO/scripts/testdb-ha.sh
DB_HA_DIR=$DB_MAIN-ha
DB_HA_PORT=${AMY_TESTDB_HA_PORT:-$((DB_PORT > 11000 ? DB_PORT - 10000 + 30 : DB_PORT + 30))}
[[ $DB_HA_PORT =~ ^[1-9][0-9]*$ ]] || die "AMY_TESTDB_HA_PORT must be a port number, not '$DB_HA_PORT'"
DB_HA_STARTED=0

db_ha() { env AMY_TESTDB_HA_DIR="$DB_HA_DIR" AMY_TESTDB_HA_PORT="$DB_HA_PORT" "$TESTDB_HA" "$@"; }

# db I ARGS... : scripts/testdb.sh ARGS for instance I.
db() {
	local i=$1
	shift
	local -a pki=()
	# The expired server's certificate must be signed by the CA the TLS tests
	# trust: main's, which main's start makes first thing, before the slow part.
	[[ ${DB_TLS[i]} != expired ]] || pki=(AMY_TESTDB_PKI="${DB_DIRS[0]}/tls")
	env AMY_TESTDB_DIR="${DB_DIRS[i]}" AMY_TESTDB_PORT="${DB_PORTS[i]}" \
		AMY_TESTDB_TLS="${DB_TLS[i]}" "${pki[@]}" "$TESTDB" "$@"
}

# Stops, in parallel, the instances this script started.
stop_db_if_ours() {
	local i pids=()
	for i in "${!DB_NAMES[@]}"; do
		((DB_STARTED[i])) || continue
		((${#pids[@]})) || banner "testdb: stop"
		DB_STARTED[i]=0
		db "$i" stop &
		pids+=($!)
	done
	if ((DB_HA_STARTED)); then
		((${#pids[@]})) || banner "testdb: stop"
		DB_HA_STARTED=0
		db_ha stop &
		pids+=($!)
	fi
	for i in "${pids[@]}"; do wait "$i" || true; done
}

# start_db [main] : starts the test servers (only main with "main") that are
# not running, in parallel, then exports their env. Dies if any fails.
start_db() {
	local n=${#DB_NAMES[@]} i st rc t0=${EPOCHREALTIME//[.,]/} tmp env tlsdir ha=0 ha_pid=
	local -a todo=() pids=() failed=()
	[[ ${1:-} != main ]] || n=1
	# The HA topology: with every server, unless AMY_TESTDB_HA=0.
	((n == 1)) || [[ ${AMY_TESTDB_HA:-1} == 0 ]] || ha=1
	banner "testdb: start"
	trap stop_db_if_ours EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	for ((i = 0; i < n; i++)); do
		if st=$(db "$i" status 2>/dev/null); then
			[[ " $st " == *" tls=${DB_TLS[i]} "* ]] ||
				die "${DB_DIRS[i]} is running, but not with TLS ${DB_TLS[i]} ($st); stop it: AMY_TESTDB_DIR=${DB_DIRS[i]} $TESTDB stop"
			log "reusing the running ${DB_NAMES[i]} test server (left running afterwards)"
		else
			todo+=("$i")
		fi
	done
	# Main's stale state would have an old PKI that expired, starting at the
	# same moment, could copy before main's start deletes it.
	if [[ " ${todo[*]} " == *" 0 "* && -e ${DB_DIRS[0]}/tls ]]; then
		db 0 stop
	fi
	if ((ha)); then
		if db_ha status >/dev/null 2>&1; then
			log "reusing the running HA test servers in $DB_HA_DIR (left running afterwards)"
			ha=0
		fi
	fi
	if ((${#todo[@]} || ha)); then
		tmp=$(mktemp -d)
		if ((ha)); then
			# In parallel with the others: it needs no PKI.
			DB_HA_STARTED=1
			db_ha start 2>"$tmp/ha.log" &
			ha_pid=$!
		fi
		for i in "${todo[@]}"; do
			# Set before starting, so a half-started server is cleaned up too.
			DB_STARTED[i]=1
			db "$i" start 2>"$tmp/$i.log" &
			pids[i]=$!
		done
		for i in "${todo[@]}"; do
			rc=0
			wait "${pids[i]}" || rc=$?
			cat -- "$tmp/$i.log" >&2
			((rc == 0)) || failed+=("${DB_NAMES[i]} (${DB_DIRS[i]}, TLS ${DB_TLS[i]}): exit $rc")
		done
		if [[ -n $ha_pid ]]; then
			rc=0
			wait "$ha_pid" || rc=$?
			cat -- "$tmp/ha.log" >&2
			((rc == 0)) || failed+=("HA topology ($DB_HA_DIR, ports from $DB_HA_PORT): exit $rc")
		fi
		rm -rf -- "$tmp"
		((${#failed[@]} == 0)) || die "test server failed to start: ${failed[*]}"
		t0=$((${EPOCHREALTIME//[.,]/} - t0)) # microseconds
		log "started $((${#todo[@]} + (ha ? 6 : 0))) test server(s) in $((t0 / 1000000)).$(printf '%02d' $((t0 / 10000 % 100))) s"
	fi
	if ((n > 1)) && [[ ${AMY_TESTDB_HA:-1} != 0 ]]; then
		env=$(db_ha env)
		eval "$env"
		log "AMY_TEST_HA_PRIMARY=$AMY_TEST_HA_PRIMARY AMY_TEST_HA_REPLICAS=$AMY_TEST_HA_REPLICAS"
		log "AMY_TEST_GALERA=$AMY_TEST_GALERA"
	fi
	env=$(db 0 env)
	eval "$env"
	log "AMY_TEST_DSN=$AMY_TEST_DSN"
	log "AMY_TEST_SOCKET_DSN=$AMY_TEST_SOCKET_DSN"
	log "AMY_TEST_TLS_DSN=$AMY_TEST_TLS_DSN (CA etc. in AMY_TEST_TLS_DIR=$AMY_TEST_TLS_DIR)"
	((n > 1)) || return 0
	for ((i = 1; i < n; i++)); do
		env=$(db "$i" env-variant)
		eval "$env"
	done
	# A reused expired server may still present a cert from main's previous PKI.
	env=$(db 2 env)
	tlsdir=$(
		unset AMY_TEST_TLS_DIR
		eval "$env"
		printf '%s' "${AMY_TEST_TLS_DIR:-}"
	)
	[[ -n $tlsdir ]] || die "the expired test server has no AMY_TEST_TLS_DIR"
	cmp -s -- "$AMY_TEST_TLS_DIR/ca.pem" "$tlsdir/ca.pem" ||
		die "the expired test server's CA ($tlsdir) is not main's ($AMY_TEST_TLS_DIR); stop it: AMY_TESTDB_DIR=${DB_DIRS[2]} $TESTDB stop"
	log "AMY_TEST_PLAIN_DSN=$AMY_TEST_PLAIN_DSN"
	log "AMY_TEST_PLAIN_SSL_DSN=$AMY_TEST_PLAIN_SSL_DSN"
	log "AMY_TEST_EXPIRED_DSN=$AMY_TEST_EXPIRED_DSN"
}

# run_ctest NAME DIR : runs ctest, appends a summary line to SUMMARY; returns ctest's status.
SUMMARY=()
run_ctest() {
	local name=$1 dir=$2 logf=$2/ctest-dev.log rc=0 line total failed
	banner "ctest[$name]: $dir"
	ctest --test-dir "$dir" --output-on-failure 2>&1 | tee "$logf" || rc=$?
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$logf" | tail -n 1 || true)
	if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
		failed=${BASH_REMATCH[1]}
		total=${BASH_REMATCH[2]}
		if ((failed == 0 && rc == 0)); then
			SUMMARY+=("ctest[$name]: $total tests passed")
		else
			SUMMARY+=("ctest[$name]: $((total - failed)) of $total tests passed, $failed FAILED (exit $rc)")
		fi
	elif grep -q 'No tests were found' "$logf"; then
		SUMMARY+=("ctest[$name]: 0 tests passed (no tests found)")
	else
		SUMMARY+=("ctest[$name]: FAILED (exit $rc, no ctest summary)")
		((rc != 0)) || rc=1
	fi
	return "$rc"
}

# run_valgrind DIR : every cmocka test program of DIR under valgrind memcheck;
# any invalid access or definite/indirect leak fails it.
run_valgrind() {
	local dir=$1 t name n=0 bad=0 logf
	banner "valgrind: $dir/tests/test_*"
	for t in "$dir"/tests/test_*; do
		[[ -x $t && -f $t ]] || continue
		name=$(basename "$t")
		logf=$dir/valgrind-$name.log
		n=$((n + 1))
		if valgrind -q --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite,indirect \
			--show-leak-kinds=definite,indirect "$t" >"$logf" 2>&1; then
			log "valgrind $name: clean ($(grep -E 'PASSED' "$logf" | tail -n 1))"
		else
			bad=$((bad + 1))
			log "valgrind $name: FAILED, see $logf"
			tail -n 40 "$logf" >&2
		fi
	done
	if ((bad == 0)); then
		SUMMARY+=("valgrind: $n of $n test programs clean")
		return 0
	fi
	SUMMARY+=("valgrind: $((n - bad)) of $n test programs clean, $bad FAILED")
	return 1
}

# pct_encode S : S percent-encoded as a DSN writes it (all but A-Z a-z 0-9 - . _ ~).
pct_encode() {
	local s=$1 out='' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		if [[ $c == [A-Za-z0-9._~-] ]]; then out+=$c; else out+=$(printf '%%%02X' "'$c"); fi
	done
	printf '%s' "$out"
}

# run_secret_scan : no log the suite wrote may hold a password. It looks
# for every password docker/init.sql gives the test users (as written and
# percent-encoded, as a DSN has it) and for "LeakCanary", which every wrong
# password the tests try holds (tests/test_pool.c, tests/cli/secrets.sh).
# The logs: ctest's full output of every test (Testing/Temporary/
# LastTest*.log, normal and ASan builds), ctest-dev.log, the valgrind logs,
# and build/stress/ if present. Not scanned: this script's own stderr,
# whose "AMY_TEST_DSN=..." lines show the throwaway loopback servers' DSNs
# (passwords committed in docker/init.sql) so that a test can be rerun by
# hand; that is the harness talking, not amysql's output.
run_secret_scan() {
	local pats f n=0 hits=0 pw enc line
	banner "secrets: the suite's logs hold no password"
	pats=$(mktemp)
	printf 'LeakCanary\n' >"$pats"
	while IFS= read -r pw; do
		printf '%s\n' "$pw" >>"$pats"
		enc=$(pct_encode "$pw")
		[[ $enc == "$pw" ]] || printf '%s\n' "$enc" >>"$pats"
	done < <(sed -nE "s/.*IDENTIFIED BY '([^']+)'.*/\1/p" docker/init.sql | sort -u)
	for f in build/Testing/Temporary/LastTest*.log build-asan/Testing/Temporary/LastTest*.log \
		build/ctest-dev.log build-asan/ctest-dev.log build/valgrind-*.log build/stress/*.log; do
		[[ -f $f ]] || continue
		n=$((n + 1))
		while IFS= read -r line; do
			hits=$((hits + 1))
			# file:line: and the secret (a test password, public in docker/init.sql)
			log "secrets: $f:${line%%:*}: holds '${line#*:}'"
		done < <(grep -noF -f "$pats" -- "$f" || true)
	done
	rm -f -- "$pats"
	if ((n == 0)); then
		SUMMARY+=("secrets: FAILED (no logs to scan)")
		return 1
	fi
	if ((hits == 0)); then
		SUMMARY+=("secrets: $n logs scanned, no password in them")
		return 0
	fi
	SUMMARY+=("secrets: $hits password(s) found in $n logs, FAILED (see 'secrets:' lines above)")
	return 1
}

cmd_test() {
	local rc=0 s fuzz_secs=${AMY_FUZZ_SECONDS:-30}
	[[ $fuzz_secs =~ ^[0-9]+$ ]] || die "AMY_FUZZ_SECONDS must be a number of seconds, not '$fuzz_secs'"
	cmd_deps
	cmd_build
	cmd_build_asan
	start_db
	run_ctest normal build || rc=1
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		run_ctest asan build-asan || rc=1
	run_valgrind build || rc=1
	run_secret_scan || rc=1
	banner "consumer: install into a temporary prefix, build examples/consumer both ways, run it"
	if bash examples/consumer/check.sh build; then
		SUMMARY+=("consumer: installed; built with pkg-config and find_package; ran")
	else
		SUMMARY+=("consumer: FAILED")
		rc=1
	fi
	stop_db_if_ours
	# After the other suites, with no server running: each target briefly.
	if ((fuzz_secs > 0)); then
		if ! cmd_build_fuzz; then
			SUMMARY+=("fuzz: FAILED (build-fuzz/ did not build)")
			rc=1
		elif run_fuzz "$fuzz_secs"; then
			SUMMARY+=("$FUZZ_LINE")
		else
			SUMMARY+=("$FUZZ_LINE")
			rc=1
		fi
	fi
	banner "summary"
	for s in "${SUMMARY[@]}"; do printf '%s\n' "$s"; done
	if ((rc != 0)); then
		printf 'dev test: FAILED\n'
		return 1
	fi
	printf 'dev test: OK\n'
}

cmd_demo() {
	cmd_deps
	cmd_build
	[[ -x build/examples/amy_demo ]] || die "build/examples/amy_demo was not built"
	start_db main
	banner "demo: build/examples/amy_demo"
	build/examples/amy_demo "$AMY_TEST_DSN"
}

cmd_bench() {
	cmd_deps
	cmd_build
	if [[ ! -f bench/run.sh ]]; then
		log "no benchmarks yet (bench/run.sh does not exist)"
		return 0
	fi
	start_db
	banner "bench: bench/run.sh"
	bash bench/run.sh
}

# Hang guard per program run: ctest's TIMEOUT for the cmocka programs.
STRESS_TIMEOUT=${AMY_STRESS_TIMEOUT:-300}

# stress_failures LOG : the failed cmocka tests of LOG and their first error
# line, or its last lines when it is not cmocka's (a crash, a shell test).
stress_failures() {
	local logf=$1 names
	names=$(sed -n 's/^\[  FAILED  \] \(test_[A-Za-z0-9_]*\)$/\1/p' "$logf" | sort -u | tr '\n' ' ')
	if [[ -n $names ]]; then
		printf '      failed: %s\n' "$names"
		grep -m 3 -E '^\[  (ERROR|FAILED) +\] --- |^\[   LINE   \] --- ' "$logf" |
			sed 's/^/      /' || true
	else
		tail -n 3 "$logf" | sed 's/^/      /'
	fi
}

cmd_stress() {
	local n=${1:-20} dir=build/stress run t name logf rc bad=0 total=0 s
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "stress: N must be a positive number, not '$n'"
	cmd_deps
	cmd_build
	start_db
	rm -rf -- "$dir"
	mkdir -p -- "$dir"
	# Every cmocka program (unit ones too: cheap), then the amysql-batch
	# shell tests as ctest runs them.
	local -a progs=() cmds=()
	for t in build/tests/test_*; do
		[[ -x $t && -f $t ]] || continue
		progs+=("$(basename "$t")")
		cmds+=("$t")
	done
	for t in tests/cli/compare.sh tests/cli/progress.sh tests/cli/errors.sh tests/cli/secrets.sh; do
		[[ -f $t ]] || continue
		progs+=("cli_$(basename "$t" .sh)")
		cmds+=("bash $t build/tools/amysql-batch")
	done
	((${#progs[@]} > 0)) || die "stress: no test programs under build/tests"
	declare -A fails=() logs=()
	banner "stress: ${#progs[@]} programs x $n runs, logs in $dir/"
	for ((run = 1; run <= n; run++)); do
		local failed_now=()
		for i in "${!progs[@]}"; do
			name=${progs[$i]}
			logf=$dir/$name.$run.log
			rc=0
			# shellcheck disable=SC2086 # cmds[i] is a command line
			timeout --kill-after=10 "$STRESS_TIMEOUT" ${cmds[$i]} >"$logf" 2>&1 || rc=$?
			total=$((total + 1))
			# 77: a shell test skipped (ctest's SKIP_RETURN_CODE).
			if ((rc != 0 && rc != 77)); then
				((rc == 124 || rc == 137)) && echo "stress: timed out after ${STRESS_TIMEOUT}s" >>"$logf"
				echo "stress: exit status $rc" >>"$logf"
				fails[$name]=$((${fails[$name]:-0} + 1))
				logs[$name]+="$logf "
				failed_now+=("$name")
				bad=$((bad + 1))
			fi
		done
		if ((${#failed_now[@]} == 0)); then
			log "run $run/$n: all ${#progs[@]} programs passed"
		else
			log "run $run/$n: FAILED: ${failed_now[*]}"
		fi
	done
	stop_db_if_ours
	banner "stress summary"
	for name in "${progs[@]}"; do
		if [[ -z ${fails[$name]:-} ]]; then
			printf '  %-20s 0 of %d runs failed\n' "$name" "$n"
			continue
		fi
		printf '  %-20s %d of %d runs FAILED\n' "$name" "${fails[$name]}" "$n"
		for s in ${logs[$name]}; do
			printf '    %s\n' "$s"
			stress_failures "$s"
		done
	done
	if ((bad != 0)); then
		printf 'dev stress: FAILED: %d of %d program runs failed (%d runs of %d programs)\n' \
			"$bad" "$total" "$n" "${#progs[@]}"
		return 1
	fi
	printf 'dev stress: OK: %d runs of %d programs, %d program runs, none failed\n' \
		"$n" "${#progs[@]}" "$total"
}

# Starts every test server (leaving them running) and prints their env, for
# running single test programs by hand: eval "$(scripts/dev.sh env)".
cmd_env() {
	start_db >&2
	# Left running: testdb.sh stop, per dir, and testdb-ha.sh stop end them.
	DB_STARTED=(0 0 0)
	DB_HA_STARTED=0
	env | grep -E '^AMY_TEST' | sort | while IFS='=' read -r k v; do
		printf 'export %s=%q\n' "$k" "$v"
	done
}

[[ $# -ge 1 ]] || usage
[[ $# -eq 1 || ($# -eq 2 && ($1 == stress || $1 == fuzz)) ]] || usage
case $1 in
deps) cmd_deps ;;
build) cmd_build ;;
build-asan) cmd_build_asan ;; # internal
demo) cmd_demo ;;
test) cmd_test ;;
bench) cmd_bench ;;
stress) cmd_stress "${2:-20}" ;;
fuzz) cmd_fuzz "${2:-30}" ;;
env) cmd_env ;;
*) usage ;;
esac
