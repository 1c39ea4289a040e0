#!/usr/bin/env bash
# amysql-batch against the real `mariadb --batch`, byte for byte, on the
# same statements: every column type, NULLs, empty strings, tabs, newlines,
# backslashes and NUL bytes in values, unicode, errors (with --force),
# statements without a result set, empty result sets.
#
#   tests/cli/compare.sh path/to/amysql-batch   (needs AMY_TEST_DSN)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_db

if ! mariadb_batch <"$HERE/setup.sql" >"$TMP/setup.out" 2>&1; then
	cat "$TMP/setup.out"
	fail "setup.sql did not load"
	finish
	exit 1
fi

LINES=$HERE/lines.sql
MULTI=$HERE/multi.sql

# same NAME FILE_A FILE_B : byte-identical files.
same() {
	if cmp -s "$2" "$3"; then
		pass "$1"
	else
		fail "$1: $(cmp "$2" "$3" 2>&1)"
		diff <(cat -A "$2") <(cat -A "$3") | head -n 20
	fi
}

# "LINE ERRNO SQLSTATE MESSAGE" per failed statement, from either client.
mariadb_errors() { sed -nE 's/^ERROR ([0-9]+) \(([0-9A-Z]+)\) at line ([0-9]+): (.*)$/\3 \1 \2 \4/p' "$1"; }
batch_errors() { sed -nE 's/^amysql-batch: statement [0-9]+ \([^:]+:([0-9]+)\): ERROR ([0-9]+) \(([0-9A-Z]+)\): (.*)$/\1 \2 \3 \4/p' "$1"; }

# 1. One statement per line, errors included, with --force.
mariadb_batch --force <"$LINES" >"$TMP/m.out" 2>"$TMP/m.err" || true
rc=0
"$TOOL" -c 8 --force --stats "$AMY_TEST_DSN" "$LINES" >"$TMP/a.out" 2>"$TMP/a.err" || rc=$?
same "lines.sql: amysql-batch -c 8 --force = mariadb --batch --force" "$TMP/m.out" "$TMP/a.out"
[[ $rc == 1 ]] && pass "exit status 1 when statements failed" || fail "exit status $rc, want 1"
n=$(sed -nE 's/^statements +([0-9]+)$/\1/p' "$TMP/a.err")
((${n:-0} >= 50)) && pass "$n statements ran (at least 50)" || fail "only ${n:-?} statements ran"
if [[ -s $TMP/m.err ]] && diff <(mariadb_errors "$TMP/m.err") <(batch_errors "$TMP/a.err") >"$TMP/err.diff"; then
	pass "the same $(mariadb_errors "$TMP/m.err" | wc -l) errors, lines and messages as mariadb"
else
	fail "errors differ from mariadb's"
	cat "$TMP/err.diff"
fi
[[ $(mariadb_errors "$TMP/m.err" | wc -l) -ge 5 ]] && pass "errors are covered" || fail "too few errors in lines.sql"
grep -q 'NULL' "$TMP/a.out" && grep -q '\\t' "$TMP/a.out" && grep -q '\\0' "$TMP/a.out" &&
	grep -q '\\n' "$TMP/a.out" && grep -q '\\\\' "$TMP/a.out" && grep -q '😀' "$TMP/a.out" &&
	pass "output has NULL, \\t, \\n, \\\\, \\0 and unicode" || fail "lines.sql no longer covers the escapes"

# 2. The same without column names, settings from an option file.
mariadb_batch --force -N <"$LINES" >"$TMP/mn.out" 2>/dev/null || true
"$TOOL" -c 8 --force -N --defaults-file="$CNF" "$LINES" >"$TMP/an.out" 2>/dev/null
same "lines.sql with -N, from --defaults-file" "$TMP/mn.out" "$TMP/an.out"
! cmp -s "$TMP/m.out" "$TMP/mn.out" && pass "-N changes the output" || fail "-N made no difference"

# 3. Multi-line statements with --delimiter ';' (quotes, comments, DELIMITER).
rc=0
mariadb_batch <"$MULTI" >"$TMP/mm.out" 2>"$TMP/mm.err" || rc=$?
[[ $rc == 0 ]] && pass "mariadb ran multi.sql" || { fail "mariadb failed on multi.sql"; cat "$TMP/mm.err"; }
rc=0
"$TOOL" -c 8 --delimiter ';' "$AMY_TEST_DSN" "$MULTI" >"$TMP/am.out" 2>"$TMP/am.err" || rc=$?
same "multi.sql: amysql-batch --delimiter ';' = mariadb --batch" "$TMP/mm.out" "$TMP/am.out"
[[ $rc == 0 && ! -s $TMP/am.err ]] && pass "exit status 0, nothing on stderr" || { fail "exit $rc"; cat "$TMP/am.err"; }

# 4. A small window and pipeline: results still in input order.
"$TOOL" -c 3 --pipeline 2 --window 3 --force "$AMY_TEST_DSN" "$LINES" >"$TMP/aw.out" 2>/dev/null
same "lines.sql with --window 3 --pipeline 2 -c 3" "$TMP/m.out" "$TMP/aw.out"

# 5. From a pipe (read as the loop says it is readable), two inputs in a row.
cat "$LINES" | "$TOOL" -c 8 --force "$AMY_TEST_DSN" - >"$TMP/ap.out" 2>/dev/null
same "lines.sql from a pipe" "$TMP/m.out" "$TMP/ap.out"
cat "$TMP/m.out" "$TMP/m.out" >"$TMP/m2.out"
"$TOOL" -c 8 --force "$AMY_TEST_DSN" "$LINES" - <"$LINES" >"$TMP/a2.out" 2>/dev/null
same "a file then stdin, numbered on" "$TMP/m2.out" "$TMP/a2.out"

# 6. One connection, no pipelining: strictly sequential, like mariadb.
"$TOOL" -c 1 --pipeline 1 --force "$AMY_TEST_DSN" "$LINES" >"$TMP/a1.out" 2>/dev/null
same "lines.sql with -c 1 --pipeline 1" "$TMP/m.out" "$TMP/a1.out"

# 7. --slow-ms: the statements slower than N ms, by number and line, on
# stderr; the output is unchanged. --stats's latencies are the pool's.
printf 'SELECT 1\nSELECT SLEEP(0.2)\nSELECT 2\nSELECT SLEEP(0.2)\n' >"$TMP/slow.sql"
rc=0
"$TOOL" -N --stats --slow-ms 150 "$AMY_TEST_DSN" "$TMP/slow.sql" >"$TMP/slow.out" 2>"$TMP/slow.err" || rc=$?
[[ $rc == 0 && $(tr '\n' ' ' <"$TMP/slow.out") == "1 0 2 0 " ]] &&
	pass "--slow-ms leaves the output alone" || fail "--slow-ms: exit $rc, output $(cat "$TMP/slow.out")"
slow=$(grep -c '^amysql-batch: slow: statement [24] ([^:]*slow.sql:[24]) took [0-9.]* ms: SELECT SLEEP(0.2)$' "$TMP/slow.err")
# (The sleeps take 200 ms at least; the others have no upper bound on a
# loaded machine, so which are left out is checked with a bound no
# statement reaches.)
[[ $slow == 2 ]] && pass "--slow-ms 150 names statements 2 and 4" || { fail "--slow-ms lines"; cat "$TMP/slow.err"; }
"$TOOL" --slow-ms 100000000 "$AMY_TEST_DSN" "$TMP/slow.sql" >/dev/null 2>"$TMP/none.err"
! grep -q 'slow:' "$TMP/none.err" && pass "--slow-ms above every statement names none" ||
	{ fail "--slow-ms 100000000 named some"; cat "$TMP/none.err"; }
max=$(sed -nE 's/^latency .* max ([0-9.]+) ms$/\1/p' "$TMP/slow.err")
awk -v m="${max:-0}" 'BEGIN { exit !(m >= 200) }' &&
	pass "--stats max $max ms: the sleeps" || fail "--stats max '${max}' ms, want >= 200"
"$TOOL" --slow-ms -1 "$AMY_TEST_DSN" "$TMP/slow.sql" >/dev/null 2>"$TMP/bad.err" && fail "--slow-ms -1 accepted" ||
	pass "--slow-ms -1 refused"

finish
