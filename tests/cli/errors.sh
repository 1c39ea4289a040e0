#!/usr/bin/env bash
# amysql-batch on bad input: each a clear message on stderr and a non-zero
# exit status, never a crash or a hang. The checks that need no server run
# always; the others need AMY_TEST_DSN.
#
#   tests/cli/errors.sh path/to/amysql-batch
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# expect NAME STATUS PATTERN CMD... : CMD exits STATUS and its stderr
# matches the extended regex PATTERN.
expect() {
	local name=$1 want=$2 pat=$3 rc=0
	shift 3
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	if [[ $rc == "$want" ]] && { [[ -z $pat ]] || grep -Eq -- "$pat" "$TMP/err"; }; then
		pass "$name: exit $rc, $(head -n 1 "$TMP/err")"
	else
		fail "$name: exit $rc (want $want), stderr: $(cat "$TMP/err")"
	fi
}
# Nothing here may reach a server by accident.
NOWHERE='mysql://u:s3cret@127.0.0.1:1/db'

# Bad options.
expect "unknown option" 2 "unrecognized option" "$TOOL" --bogus
expect "zero connections" 2 "connections '0'" "$TOOL" -c 0 "$NOWHERE"
expect "bad pipeline" 2 "pipeline 'x'" "$TOOL" --pipeline x "$NOWHERE"
expect "bad port" 2 "port '99999'" "$TOOL" -P 99999
expect "empty delimiter" 2 "empty delimiter" "$TOOL" --delimiter ''
expect "bad delimiter" 2 "may not contain" "$TOOL" --delimiter "';"
expect "bad ssl-mode" 2 "^amysql-batch: --ssl-mode 'bogus': want DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY" \
	"$TOOL" --ssl-mode=bogus "$NOWHERE"
expect "empty ssl-ca" 2 "^amysql-batch: --ssl-ca: empty file name" "$TOOL" --ssl-ca= "$NOWHERE"
expect "bad ssl boolean" 2 "^amysql-batch: --ssl 'yes': want 1 or 0" "$TOOL" --ssl=yes "$NOWHERE"
expect "bad tls-version" 2 "^amysql-batch: --tls-version 'TLSv1.4'" "$TOOL" --tls-version=TLSv1.4 "$NOWHERE"
expect "ambiguous --ssl-c" 2 "ambiguous" "$TOOL" --ssl-c=x "$NOWHERE"
printf '[client]\nssl-mode = sometimes\n' >"$TMP/tls.cnf"
expect "bad ssl-mode in an option file" 2 "tls.cnf:2: ssl-mode 'sometimes'" "$TOOL" --defaults-file="$TMP/tls.cnf"
"$TOOL" --help >"$TMP/help" 2>&1 && grep -q -- '--delimiter' "$TMP/help" &&
	grep -q -- '--ssl-mode=MODE' "$TMP/help" &&
	pass "--help" || fail "--help"
"$TOOL" --version | grep -q '^amysql-batch (amysql) [0-9]' && pass "--version" || fail "--version"

# Unreadable input: found before anything runs.
printf 'SELECT 1\n' >"$TMP/good.sql"
expect "missing file" 2 "cannot open $TMP/nope.sql: No such file or directory" \
	"$TOOL" "$NOWHERE" "$TMP/good.sql" "$TMP/nope.sql"
[[ ! -s $TMP/out ]] && pass "nothing ran before the missing file was noticed" || fail "output: $(cat "$TMP/out")"
expect "directory" 2 "cannot read $TMP: Is a directory" "$TOOL" "$NOWHERE" "$TMP"
if ((EUID != 0)); then
	printf 'SELECT 1\n' >"$TMP/secret.sql"
	chmod 000 "$TMP/secret.sql"
	expect "unreadable file" 2 "Permission denied" "$TOOL" "$NOWHERE" "$TMP/secret.sql"
fi

# Unterminated quote or comment with --delimiter: nothing before it here,
# so no connection is needed.
expect "unterminated quote" 2 "stdin: unterminated string \(.\) starting at line 2" \
	"$TOOL" --delimiter ';' "$NOWHERE" < <(printf -- "-- x\nSELECT 'abc;\nSELECT 2;\n")
printf 'SELECT 1 /* never closed;\n' >"$TMP/comment.sql"
expect "unterminated comment" 2 "comment.sql: unterminated comment \(/\*\) starting at line 1" \
	"$TOOL" --delimiter ';' "$NOWHERE" "$TMP/comment.sql"

# Bad DSN and option files.
expect "bad DSN port" 2 "bad DSN: the port" "$TOOL" 'mysql://u:s3cret@h:port/db' "$TMP/good.sql"
grep -q s3cret "$TMP/err" && fail "the password was shown" || pass "the password is not shown"
expect "bad DSN scheme" 2 "bad DSN: it must start with mysql://" "$TOOL" --no-defaults 'postgres://u:s3cret@h/db'
expect "bad DSN escape" 2 "password has a '%'" "$TOOL" 'mysql://u:s3cret%zz@h/db'
expect "DSN key amysql refuses" 2 "bad connection settings: .*bogus" "$TOOL" 'mysql://u:s3cret@h/db?bogus=1' "$TMP/good.sql"
grep -q s3cret "$TMP/err" && fail "the password was shown" || pass "the password is not shown"
expect "AMYSQL_DSN too" 2 "bad DSN" env AMYSQL_DSN='mysql://u:p@h:0/db' "$TOOL" "$TMP/good.sql"
expect "missing option file" 2 "cannot open option file $TMP/none.cnf" "$TOOL" --defaults-file="$TMP/none.cnf"
printf '[client]\nport = many\n' >"$TMP/bad.cnf"
expect "bad option file" 2 "bad.cnf:2: port must be a number" "$TOOL" --defaults-file="$TMP/bad.cnf"
if command -v setsid >/dev/null 2>&1; then
	expect "-p without a terminal" 2 "no terminal to ask for the password" \
		setsid -w "$TOOL" -p "$NOWHERE" "$TMP/good.sql"
fi

# Empty input: nothing to do, no connection needed.
expect "empty input" 0 "" "$TOOL" "$NOWHERE" /dev/null
[[ ! -s $TMP/err && ! -s $TMP/out ]] && pass "empty input prints nothing" || fail "empty input printed something"

if [[ -z ${AMY_TEST_DSN:-} ]] || ! parse_dsn "$AMY_TEST_DSN"; then
	printf 'AMY_TEST_DSN is not set: the checks against the server are skipped\n'
	finish
	exit
fi
CNF=$TMP/client.cnf
write_cnf "$CNF"

# Wrong password: one message, not one per statement, and exit 2.
for i in 1 2 3 4 5 6; do echo "SELECT $i"; done >"$TMP/six.sql"
expect "wrong password" 2 "could not connect to .*Access denied for user '$DB_USER'" \
	"$TOOL" -c 3 "mysql://$DB_USER:wrong-password@$DB_HOST:$DB_PORT/$DB_NAME" "$TMP/six.sql"
[[ $(wc -l <"$TMP/err") == 1 ]] && pass "the connect error is told once" || fail "stderr: $(cat "$TMP/err")"

# The unterminated quote after good statements: they ran and were printed.
expect "unterminated quote after statements" 2 "stdin: unterminated string \(.\) starting at line 2" \
	"$TOOL" --delimiter ';' "$AMY_TEST_DSN" < <(printf "SELECT 1 AS a;\nSELECT 'abc;\n")
[[ $(cat "$TMP/out") == $'a\n1' ]] && pass "the statement before it ran" || fail "output: $(cat "$TMP/out")"

# Without --force: stop after the first error; with -c 1 --pipeline 1
# nothing after it was in flight, so nothing after it runs.
printf 'SELECT 1 AS a\nSELECT * FROM amy_batch_nope\nSELECT 3 AS c\n' >"$TMP/stop.sql"
expect "stops after an error" 1 "statement 2 \(.*stop.sql:2\): ERROR 1146 \(42S02\): Table .*amy_batch_nope" \
	"$TOOL" -c 1 --pipeline 1 "$AMY_TEST_DSN" "$TMP/stop.sql"
[[ $(cat "$TMP/out") == $'a\n1' ]] && pass "nothing ran after the error" || fail "output: $(cat "$TMP/out")"
grep -q 'stopped after the error in statement 2' "$TMP/err" && pass "says it stopped" || fail "no stop note: $(cat "$TMP/err")"
expect "--force goes on" 1 "ERROR 1146" "$TOOL" -c 1 --force "$AMY_TEST_DSN" "$TMP/stop.sql"
[[ $(cat "$TMP/out") == $'a\n1\nc\n3' ]] && pass "everything ran with --force" || fail "output: $(cat "$TMP/out")"

# Credentials from every source, with a password needing percent-encoding.
SPECIAL='p@ss:w/rd%?&'
printf 'SELECT CURRENT_USER() LIKE %s AS ok\n' "'amy_special@%'" >"$TMP/who.sql"
rc=0
MYSQL_PWD=$SPECIAL "$TOOL" --no-defaults -h "$DB_HOST" -P "$DB_PORT" -u amy_special -D "$DB_NAME" \
	"$TMP/who.sql" >"$TMP/out" 2>"$TMP/err" || rc=$?
[[ $rc == 0 && $(cat "$TMP/out") == $'ok\n1' ]] && pass "-h -P -u -D with MYSQL_PWD (password needs encoding)" ||
	fail "MYSQL_PWD: exit $rc, $(cat "$TMP/err")"
printf '[client]\nuser = amy_special\npassword = "%s"\n[amysql-batch]\nhost=%s\nport=%s\ndatabase=%s\n' \
	"$SPECIAL" "$DB_HOST" "$DB_PORT" "$DB_NAME" >"$TMP/special.cnf"
rc=0
"$TOOL" --defaults-file="$TMP/special.cnf" "$TMP/who.sql" >"$TMP/out" 2>"$TMP/err" || rc=$?
[[ $rc == 0 && $(cat "$TMP/out") == $'ok\n1' ]] && pass "option file with [client] and [amysql-batch]" ||
	fail "option file: exit $rc, $(cat "$TMP/err")"
rc=0
HOME=$TMP/home
mkdir -p "$HOME"
cp "$TMP/special.cnf" "$HOME/.my.cnf"
"$TOOL" "$TMP/who.sql" >"$TMP/out" 2>"$TMP/err" || rc=$?
[[ $rc == 0 && $(cat "$TMP/out") == $'ok\n1' ]] && pass "~/.my.cnf read by default" ||
	fail "~/.my.cnf: exit $rc, $(cat "$TMP/err")"
rc=0
"$TOOL" --no-defaults -h "$DB_HOST" -P "$DB_PORT" "$TMP/who.sql" >"$TMP/out" 2>"$TMP/err" || rc=$?
[[ $(cat "$TMP/out") != $'ok\n1' ]] && pass "--no-defaults skips ~/.my.cnf" || fail "--no-defaults: read ~/.my.cnf"
HOME=$TMP
if [[ -n ${AMY_TEST_ROOT_SOCKET:-} && -S $AMY_TEST_ROOT_SOCKET ]]; then
	rc=0
	MYSQL_PWD=$DB_PASS "$TOOL" --no-defaults -S "$AMY_TEST_ROOT_SOCKET" -u "$DB_USER" -D "$DB_NAME" \
		< <(echo "SELECT 1 AS via_socket") >"$TMP/out" 2>"$TMP/err" || rc=$?
	[[ $rc == 0 && $(cat "$TMP/out") == $'via_socket\n1' ]] && pass "-S socket" || fail "-S: exit $rc, $(cat "$TMP/err")"
fi

finish
