#!/usr/bin/env bash
# amysql-batch never shows a password: not in its errors (bad settings, a
# refused port, a wrong password from each source, TLS refused), not in
# --stats, not next to a failing statement. Every wrong password holds
# "LeakCanary", which scripts/dev.sh test also looks for in every log of
# the suite; the right one (the test server's) is looked for here too.
#
#   tests/cli/secrets.sh path/to/amysql-batch
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CANARY=LeakCanary
# run NAME PASSWORD... -- CMD... : CMD's stdout and stderr hold none of the
# passwords (a non-zero exit is expected; 0 is fine too).
run() {
	local name=$1 pw rc=0
	shift
	local pws=()
	while [[ $1 != -- ]]; do
		pws+=("$1")
		shift
	done
	shift
	"$@" >"$TMP/out" 2>"$TMP/err" </dev/null || rc=$?
	for pw in "${pws[@]}" "$CANARY"; do
		if grep -qF -- "$pw" "$TMP/out" "$TMP/err"; then
			fail "$name: the password shows (exit $rc): $(grep -nF -- "$pw" "$TMP/out" "$TMP/err" | cut -c1-60)"
			return
		fi
	done
	[[ -s $TMP/err || -s $TMP/out ]] || { fail "$name: said nothing (exit $rc)"; return; }
	pass "$name: exit $rc, $(head -n 1 "$TMP/err")"
}
printf 'SELECT 1\nSELECT 2\n' >"$TMP/two.sql"

# No server needed: settings refused, or nothing listening (a refused port
# is retried until connect_timeout_ms: kept short).
FAST='mysql://127.0.0.1:1/?connect_timeout_ms=300' 
run "bad DSN key" -- "$TOOL" "mysql://u:$CANARY-1@127.0.0.1:1/db?bogus=1" "$TMP/two.sql"
run "bad DSN escape" -- "$TOOL" "mysql://u:$CANARY%zz@127.0.0.1:1/db" "$TMP/two.sql"
run "raw '/' in the password" -- "$TOOL" "mysql://u:$CANARY/x@127.0.0.1:1/db" "$TMP/two.sql"
run "refused, DSN" -- "$TOOL" --stats "mysql://u:$CANARY-2@127.0.0.1:1/db?connect_timeout_ms=300" "$TMP/two.sql"
run "refused, -p" -- "$TOOL" --no-defaults --stats -u u "-p$CANARY-3" "$FAST" "$TMP/two.sql"
run "refused, --password=" -- "$TOOL" --no-defaults -u u "--password=$CANARY-4" "$FAST" "$TMP/two.sql"
run "refused, MYSQL_PWD" -- env MYSQL_PWD="$CANARY-5" "$TOOL" --no-defaults -u u "$FAST" "$TMP/two.sql"
run "refused, AMYSQL_DSN" -- env AMYSQL_DSN="mysql://u:$CANARY-6@127.0.0.1:1/db?connect_timeout_ms=300" \
	"$TOOL" --no-defaults "$TMP/two.sql"
printf '[client]\nhost=127.0.0.1\nport=1\nuser=u\npassword="%s-7"\nssl-mode = sometimes\n' "$CANARY" >"$TMP/bad.cnf"
run "bad option file" -- "$TOOL" --defaults-file="$TMP/bad.cnf" "$TMP/two.sql"

[[ -n ${AMY_TEST_DSN:-} ]] || {
	finish
	exit
}
parse_dsn "$AMY_TEST_DSN" || skip "cannot read AMY_TEST_DSN as mysql://user:pass@host:port/db"
EP=$DB_HOST:$DB_PORT

# Wrong passwords, refused by the server (1045), from every source.
ENC=$CANARY%40%3Aw%2F%25%3F%26 # decoded: LeakCanary@:w/%?&
run "wrong password, DSN, --stats" "$CANARY@:w/%?&" -- \
	"$TOOL" --stats --force "mysql://$DB_USER:$ENC@$EP/$DB_NAME?ssl_mode=disabled" "$TMP/two.sql"
run "wrong password, -p" -- "$TOOL" --no-defaults -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" \
	"-p$CANARY-8" --ssl-mode=DISABLED "$TMP/two.sql"
run "wrong password, MYSQL_PWD, TLS" -- env MYSQL_PWD="$CANARY-9" \
	"$TOOL" --no-defaults -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" "$TMP/two.sql"
printf '[client]\nhost=%s\nport=%s\nuser=%s\npassword="%s-10"\n' "$DB_HOST" "$DB_PORT" "$DB_USER" "$CANARY" >"$TMP/wrong.cnf"
run "wrong password, option file" -- "$TOOL" --defaults-file="$TMP/wrong.cnf" "$TMP/two.sql"
if [[ -n ${AMY_TEST_PLAIN_DSN:-} ]] && parse_dsn "$AMY_TEST_PLAIN_DSN"; then
	run "TLS refused (server without TLS)" -- "$TOOL" --no-defaults -h "$DB_HOST" -P "$DB_PORT" \
		-u "$DB_USER" "-p$CANARY-11" --ssl-mode=REQUIRED "$TMP/two.sql"
	parse_dsn "$AMY_TEST_DSN"
fi

# The right password: failing statements, a result over max_result_bytes,
# --stats; the password is in none of it.
printf 'SELECT 1 AS a\nSELEC 2\nSELECT * FROM amy_batch_nope\nSELECT REPEAT("x", 100)\n' >"$TMP/bad.sql"
run "right password, failing statements" "$DB_PASS" -- \
	"$TOOL" --force --stats "$AMY_TEST_DSN" "$TMP/bad.sql"
grep -q "ERROR 1146" "$TMP/err" && pass "the statements ran and failed" || fail "stderr: $(cat "$TMP/err")"
run "right password, result too big" "$DB_PASS" -- env MYSQL_PWD="$DB_PASS" \
	"$TOOL" --no-defaults --force -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" -D "$DB_NAME" \
	"mysql://$EP/?max_result_bytes=50" "$TMP/bad.sql"
grep -q "max_result_bytes=50" "$TMP/err" && pass "the result over the limit was refused" || fail "stderr: $(cat "$TMP/err")"

finish
