#!/usr/bin/env bash
# examples/observe.c runs against the test server: nine spans (one a
# server error, with its OpenTelemetry status code), the slow-query report
# and the three histograms (skipped, exit 77, without AMY_TEST_DSN).
#
#   tests/example_observe.sh path/to/amy_observe
set -euo pipefail
EXE=${1:?usage: $0 amy_observe}
if [[ -z ${AMY_TEST_DSN:-} ]]; then
	echo "example_observe: AMY_TEST_DSN is not set: not run"
	exit 77
fi
out=$("$EXE" "$AMY_TEST_DSN" 20 2>/dev/null)
printf '%s\n' "$out"
fail() {
	echo "example_observe: $*"
	exit 1
}
spans=$(printf '%s\n' "$out" | grep -c '^{"name":"query amysql_test","kind":"CLIENT",' || true)
[[ $spans == 9 ]] || fail "$spans span lines, want 9"
printf '%s\n' "$out" | grep -q '"db.query.text":"SELECT nope FROM dual".*"error.type":"AMY_ESERVER","db.response.status_code":"1054"' ||
	fail "no error span with db.response.status_code 1054"
printf '%s\n' "$out" | grep -q '"db.system.name":"mariadb","db.operation.name":"query","db.namespace":"amysql_test"' ||
	fail "no OpenTelemetry attributes"
printf '%s\n' "$out" | grep -q '^9 spans, 1 failed; [1-9][0-9]* slower than 20 ms' || fail "no slow-query summary"
printf '%s\n' "$out" | grep -q "request 2  SELECT SLEEP(0.03), 'report'" || fail "the SLEEP is not among the slowest"
for h in db.client.operation.duration db.client.connection.wait_time db.client.connection.create_time; do
	printf '%s\n' "$out" | grep -q "^$h: [0-9]* values" || fail "no $h histogram"
done
printf '%s\n' "$out" | grep -q '^db.client.operation.duration: 9 values' || fail "the duration histogram does not hold 9 values"
echo "example_observe: OK"
