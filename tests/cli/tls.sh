#!/usr/bin/env bash
# amysql-batch's TLS options against the real TLS test server and the one
# without TLS (scripts/dev.sh test starts both): a verified session, an
# identity mismatch, no downgrade, plaintext when no option asks for TLS.
#
#   tests/cli/tls.sh path/to/amysql-batch
# shellcheck source=tests/cli/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -n ${AMY_TEST_TLS_DIR:-} && -n ${AMY_TEST_TLS_PORT:-} && -n ${AMY_TEST_PLAIN_DSN:-} ]] ||
	skip "AMY_TEST_TLS_DIR, AMY_TEST_TLS_PORT or AMY_TEST_PLAIN_DSN is not set (scripts/dev.sh test)"
PLAIN_PORT=${AMY_TEST_PLAIN_DSN##*:}
PLAIN_PORT=${PLAIN_PORT%%/*}
CA=$AMY_TEST_TLS_DIR/ca.pem
printf "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_version'\n" >"$TMP/q.sql"

# matches FILE PATTERN : grep -E, where the pattern "-" means "empty".
matches() {
	if [[ $2 == - ]]; then [[ ! -s $1 ]]; else grep -Eq -- "$2" "$1"; fi
}

# run NAME WANT_RC STDOUT_PATTERN STDERR_PATTERN ARGS...
run() {
	local name=$1 want=$2 out=$3 err=$4 rc=0
	shift 4
	"$TOOL" --no-defaults -u amy -pamy_pw -D amysql_test "$@" "$TMP/q.sql" >"$TMP/out" 2>"$TMP/err" || rc=$?
	if [[ $rc == "$want" ]] && matches "$TMP/out" "$out" && matches "$TMP/err" "$err"; then
		pass "$name"
	else
		fail "$name: exit $rc (want $want), stdout: $(cat "$TMP/out"), stderr: $(cat "$TMP/err")"
	fi
}

run "verified TLS session" 0 '^TLSv1\.[23]$' - \
	-h 127.0.0.1 -P "$AMY_TEST_TLS_PORT" --ssl-ca="$CA" --ssl-verify-server-cert
run "--ssl-mode=VERIFY_CA on an address not in the certificate" 0 '^TLSv1\.[23]$' - \
	-h 127.0.0.2 -P "$AMY_TEST_TLS_PORT" --ssl-ca="$CA" --ssl-mode=VERIFY_CA
run "identity mismatch" 2 - "does not name host '127\.0\.0\.2'" \
	-h 127.0.0.2 -P "$AMY_TEST_TLS_PORT" --ssl-ca="$CA" --ssl-verify-server-cert
run "--ssl against a server without TLS" 2 - 'offers no TLS' \
	-h 127.0.0.1 -P "$PLAIN_PORT" --ssl
run "--skip-ssl is plaintext" 0 '^$' - \
	-h 127.0.0.1 -P "$AMY_TEST_TLS_PORT" --skip-ssl
finish
