#!/usr/bin/env bash
# amysql-batch's progress line: drawn on a terminal (a pseudo-terminal made
# by script(1)), erased at the end, redrawn at most 10 times a second, and
# never drawn when stderr is not a terminal.
#
#   tests/cli/progress.sh path/to/amysql-batch   (needs AMY_TEST_DSN)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_db
command -v script >/dev/null 2>&1 || skip "no script(1) (util-linux)"

SQL=$TMP/sleeps.sql
for i in 1 2 3 4 5 6 7 8; do echo "SELECT SLEEP(0.05) AS s, $i AS i;"; done >"$SQL"
"$TOOL" -c 8 "$AMY_TEST_DSN" "$SQL" >"$TMP/want.out" 2>"$TMP/want.err"
[[ -s $TMP/want.out && ! -s $TMP/want.err ]] && pass "no progress with stderr not a terminal" ||
	fail "stderr not empty without a terminal: $(cat "$TMP/want.err")"

# in_pty CMD : runs CMD with stdin, stdout and stderr on a new pseudo-terminal;
# what the terminal showed goes to stdout.
in_pty() { script -qec "$1" /dev/null </dev/null; }

# stderr on the terminal, stdout to a file: two statements at a time, so
# the run spans several redraws.
t0=$(date +%s.%N)
in_pty "'$TOOL' -c 2 --pipeline 1 '$AMY_TEST_DSN' '$SQL' >'$TMP/pty.out'" >"$TMP/tty"
t1=$(date +%s.%N)
if grep -aq 'amysql-batch: [0-9]*/[0-9]*+\? done, 0 errors, [0-9]* q/s, ETA ' "$TMP/tty"; then
	pass "progress line drawn on a terminal"
else
	fail "no progress line on the terminal"
	cat -A "$TMP/tty" | head -n 5
fi
# The last thing on the terminal erases the line: \r then ESC [ K.
[[ $(tail -c 4 "$TMP/tty" | od -An -c | tr -d ' \n') == '\r033[K' ]] &&
	pass "line erased at the end" || fail "not erased: ends with $(tail -c 16 "$TMP/tty" | od -An -c)"
cmp -s "$TMP/want.out" "$TMP/pty.out" && pass "stdout unchanged by the progress line" ||
	fail "stdout differs under a terminal"
draws=$(grep -ao $'\r''amysql-batch: ' "$TMP/tty" | wc -l)
max=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 10 + 2 }')
((draws >= 1 && draws <= max)) && pass "$draws redraws in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s (at most 10 a second)" ||
	fail "$draws redraws, more than $max"

# stderr to a file, even with stdout on the terminal: never drawn.
in_pty "'$TOOL' -c 2 '$AMY_TEST_DSN' '$SQL' 2>'$TMP/pty.err'" >"$TMP/tty2"
[[ ! -s $TMP/pty.err ]] && pass "no progress when stderr is a file" || fail "stderr file has: $(cat -A "$TMP/pty.err")"
grep -aq 'amysql-batch:' "$TMP/tty2" && fail "progress drawn on stdout" || pass "nothing drawn on stdout"

# --no-progress on a terminal.
in_pty "'$TOOL' --no-progress -c 2 '$AMY_TEST_DSN' '$SQL' >/dev/null" >"$TMP/tty3"
[[ ! -s $TMP/tty3 ]] && pass "--no-progress draws nothing" || fail "--no-progress drew: $(cat -A "$TMP/tty3")"

# Errors are printed on a clean line, and the line comes back after them.
printf 'SELECT * FROM amy_batch_nope\nSELECT SLEEP(0.15)\n' >"$TMP/err.sql"
in_pty "'$TOOL' --force -c 1 '$AMY_TEST_DSN' '$TMP/err.sql' >/dev/null" >"$TMP/tty4"
grep -aq $'\r\e\\[Kamysql-batch: statement 1 (.*): ERROR 1146' "$TMP/tty4" &&
	pass "an error erases the line before it is printed" || fail "error not on a clean line: $(cat -A "$TMP/tty4")"

finish
