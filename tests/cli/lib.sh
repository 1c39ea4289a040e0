# Shared by the amysql-batch shell tests (sourced, not run).
#
#   TOOL        the amysql-batch binary (first argument of each test)
#   TMP         a private temporary directory, removed on exit
#   check NAME CMD...   runs CMD, counts a pass or a failure
#   fail MSG / pass MSG
#   need_db     skip (exit 77) without AMY_TEST_DSN or the mariadb client
#   write_cnf FILE      a [client] option file for the test server
#   finish      prints "N passed, N failed" and exits accordingly

set -u
TOOL=${1:?usage: $0 path/to/amysql-batch}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/amy-batch-test.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT
PASSED=0
FAILED=0
# The tests must not pick up the developer's own settings.
unset AMYSQL_DSN MYSQL_PWD
export HOME=$TMP

pass() {
	PASSED=$((PASSED + 1))
	printf 'ok: %s\n' "$*"
}
fail() {
	FAILED=$((FAILED + 1))
	printf 'FAIL: %s\n' "$*"
}
skip() {
	printf 'skipped: %s\n' "$*"
	exit 77
}
finish() {
	printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
	((FAILED == 0))
}

pct_decode() { printf '%b' "${1//%/\\x}"; }

# Splits AMY_TEST_DSN into DB_USER DB_PASS DB_HOST DB_PORT DB_NAME.
parse_dsn() {
	local re='^mysql://([^:@/]*)(:([^@/]*))?@([^:/?]+)(:([0-9]+))?/([^?]*)'
	[[ $1 =~ $re ]] || return 1
	DB_USER=$(pct_decode "${BASH_REMATCH[1]}")
	DB_PASS=$(pct_decode "${BASH_REMATCH[3]}")
	DB_HOST=${BASH_REMATCH[4]}
	DB_PORT=${BASH_REMATCH[6]:-3306}
	DB_NAME=$(pct_decode "${BASH_REMATCH[7]}")
}

need_db() {
	[[ -n ${AMY_TEST_DSN:-} ]] || skip "AMY_TEST_DSN is not set (eval \"\$(scripts/testdb.sh env)\")"
	command -v mariadb >/dev/null 2>&1 || skip "no mariadb client (apt-get install mariadb-client)"
	parse_dsn "$AMY_TEST_DSN" || skip "cannot read AMY_TEST_DSN as mysql://user:pass@host:port/db"
	CNF=$TMP/client.cnf
	write_cnf "$CNF"
}

# Quoted for the option file syntax (both clients read it).
write_cnf() {
	local p=${DB_PASS//\\/\\\\}
	p=${p//\"/\\\"}
	cat >"$1" <<CNF
[client]
host = $DB_HOST
port = $DB_PORT
user = $DB_USER
password = "$p"
database = $DB_NAME
CNF
}

# The reference client, on the same server, in the same character set.
mariadb_batch() {
	mariadb --defaults-file="$CNF" --default-character-set=utf8mb4 --batch "$@"
}
