/*
 * Tests for tools/split.c: the statement splitter of amysql-batch, fed in
 * one piece and byte by byte (every chunking must give the same answer).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "split.h"

#define MAXS 16

typedef struct {
    char *sql[MAXS];
    size_t len[MAXS];
    unsigned long line[MAXS];
    int n;
    int error;
    char err[256];
} split_out;

static void take(amy__cli_split *s, int eof, split_out *o)
{
    amy__cli_stmt st;
    int rc;
    while ((rc = amy__cli_split_next(s, eof, &st, o->err, sizeof o->err)) ==
           AMY__CLI_SPLIT_STMT) {
        assert_true(o->n < MAXS);
        assert_int_equal(strlen(st.sql), st.len); /* terminated */
        o->sql[o->n] = malloc(st.len + 1);
        memcpy(o->sql[o->n], st.sql, st.len + 1);
        o->len[o->n] = st.len;
        o->line[o->n] = st.line;
        o->n++;
    }
    if (rc == AMY__CLI_SPLIT_ERROR)
        o->error = 1;
}

/* Splits input fed `chunk` bytes at a time (0: all at once). */
static void split(const char *delim, const char *input, size_t chunk,
                  split_out *o)
{
    memset(o, 0, sizeof *o);
    amy__cli_split *s = amy__cli_split_new(delim);
    assert_non_null(s);
    size_t n = strlen(input);
    if (chunk == 0)
        chunk = n ? n : 1;
    for (size_t i = 0; i < n && !o->error; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        assert_int_equal(amy__cli_split_feed(s, input + i, k), 0);
        take(s, 0, o);
    }
    if (!o->error)
        take(s, 1, o);
    amy__cli_split_free(s);
}

static void out_free(split_out *o)
{
    for (int i = 0; i < o->n; i++)
        free(o->sql[i]);
}

/* Checks input against the expected statements for several chunkings. */
static void expect(const char *delim, const char *input,
                   const char *const *want, const unsigned long *lines,
                   int nwant)
{
    static const size_t chunks[] = {0, 1, 2, 3, 7};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        split_out o;
        split(delim, input, chunks[c], &o);
        if (o.error)
            print_error("chunk %zu: %s\n", chunks[c], o.err);
        assert_false(o.error);
        assert_int_equal(o.n, nwant);
        for (int i = 0; i < nwant; i++) {
            assert_string_equal(o.sql[i], want[i]);
            if (lines)
                assert_int_equal(o.line[i], lines[i]);
        }
        out_free(&o);
    }
}

static void expect_error(const char *delim, const char *input,
                         const char *msg_part, int nbefore)
{
    static const size_t chunks[] = {0, 1, 5};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        split_out o;
        split(delim, input, chunks[c], &o);
        assert_true(o.error);
        assert_int_equal(o.n, nbefore);
        if (!strstr(o.err, msg_part))
            print_error("message '%s' lacks '%s'\n", o.err, msg_part);
        assert_non_null(strstr(o.err, msg_part));
        out_free(&o);
    }
}

/* ------------------------------------------------------------------------ */
/* Line mode                                                                */
/* ------------------------------------------------------------------------ */

static void test_lines_basic(void **state)
{
    const char *want[] = {"SELECT 1", "SELECT 2", "SELECT 'a;b'"};
    const unsigned long lines[] = {1, 3, 4};
    expect(NULL, "SELECT 1;\n\nSELECT 2\nSELECT 'a;b';", want, lines, 3);
}

static void test_lines_trim_crlf_comments(void **state)
{
    const char *want[] = {"SELECT 1", "SELECT 2 -- trailing", "--x"};
    const unsigned long lines[] = {2, 5, 7};
    expect("",
           "# hash\r\n  SELECT 1 ;  \r\n-- dash\n--\n\tSELECT 2 -- "
           "trailing\n \n--x\n",
           want, lines, 3);
}

static void test_lines_quotes_do_not_span(void **state)
{
    /* One line, one statement: a quote never swallows the next line. */
    const char *want[] = {"SELECT 'open", "SELECT 2"};
    expect(NULL, "SELECT 'open\nSELECT 2\n", want, NULL, 2);
}

static void test_lines_empty_input(void **state)
{
    expect(NULL, "", NULL, NULL, 0);
    expect(NULL, "\n\n  \n;\n", NULL, NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* Delimiter mode                                                           */
/* ------------------------------------------------------------------------ */

static void test_delim_basic(void **state)
{
    const char *want[] = {"SELECT 1", "SELECT\n  2", "SELECT 3"};
    const unsigned long lines[] = {1, 1, 3};
    expect(";", "SELECT 1; SELECT\n  2;\nSELECT 3", want, lines, 3);
}

static void test_delim_quotes(void **state)
{
    const char *want[] = {"SELECT 'a;b', \"c;d\", `e;f`",
                          "SELECT 'it''s;', 'back\\';slash'",
                          "SELECT \"q\\\";\"", "SELECT `x``;y`"};
    expect(";",
           "SELECT 'a;b', \"c;d\", `e;f`;SELECT 'it''s;', 'back\\';slash';"
           "SELECT \"q\\\";\";SELECT `x``;y`;",
           want, NULL, 4);
}

static void test_delim_newline_in_string(void **state)
{
    const char *want[] = {"SELECT 'line1\nline2;'", "SELECT 2"};
    const unsigned long lines[] = {1, 4};
    expect(";", "SELECT 'line1\nline2;';\n\nSELECT 2;", want, lines, 2);
}

static void test_delim_comments(void **state)
{
    /* Comments inside or after a statement stay in its text; those before
     * its first word do not. */
    const char *want[] = {"SELECT 1 # c;", "SELECT 2 -- c;\n  + 1",
                          "SELECT 3 /* ; */ + 4", "SELECT 5--6"};
    const unsigned long lines[] = {1, 2, 4, 4};
    expect(";",
           "SELECT 1 # c;\n;SELECT 2 -- c;\n  + 1;\n/* x; */ SELECT 3 /* ; "
           "*/ + 4; SELECT 5--6;",
           want, lines, 4);
}

static void test_delim_comment_only_statements_skipped(void **state)
{
    const char *want[] = {"SELECT 1"};
    const unsigned long lines[] = {4};
    expect(";",
           "-- only a comment;\n# another;\n/* and; another */;\nSELECT "
           "1;\n;;\n-- trailing",
           want, lines, 1);
}

static void test_delim_double_dash_needs_space(void **state)
{
    /* "--1" is minus minus one; "-- " at the very end is a comment. */
    const char *want[] = {"SELECT 1--1", "SELECT 2"};
    expect(";", "SELECT 1--1;SELECT 2;--", want, NULL, 2);
}

static void test_delim_executable_comment_is_content(void **state)
{
    const char *want[] = {"/*!40101 SET @a = 1 */", "/*M!100100 SELECT 1 */"};
    expect(";", "/*!40101 SET @a = 1 */;\n/*M!100100 SELECT 1 */;", want, NULL,
           2);
}

static void test_delim_multichar(void **state)
{
    const char *want[] = {"CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END",
                          "SELECT '$$'", "SELECT 3$"};
    expect("$$",
           "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END$$\nSELECT "
           "'$$'$$ SELECT 3$",
           want, NULL, 3);
}

static void test_delimiter_command(void **state)
{
    const char *want[] = {"SELECT 1",
                          "CREATE PROCEDURE p() BEGIN SELECT 1; END",
                          "SELECT 2", "SELECT 3"};
    const unsigned long lines[] = {1, 3, 5, 6};
    expect(";",
           "SELECT 1;\ndelimiter //\nCREATE PROCEDURE p() BEGIN SELECT 1; "
           "END//\nDELIMITER ;\nSELECT 2;\nSELECT 3",
           want, lines, 4);
}

static void test_delimiter_command_errors(void **state)
{
    expect_error(";", "SELECT 1;\nDELIMITER   \nSELECT 2;",
                 "DELIMITER without a delimiter at line 2", 1);
    expect_error(";", "DELIMITER 'x'\n", "may not contain quotes", 0);
}

static void test_delimiter_word_is_not_command(void **state)
{
    /* Only the word alone, followed by a space, is the command. */
    const char *want[] = {"delimiterx", "SELECT delimiter FROM t"};
    expect(";", "delimiterx;SELECT delimiter FROM t;", want, NULL, 2);
}

static void test_unterminated(void **state)
{
    expect_error(";", "SELECT 1;\nSELECT 'abc;\n", "unterminated string (')",
                 1);
    expect_error(";", "SELECT 1;\nSELECT 'abc;\n", "starting at line 2", 1);
    expect_error(";", "SELECT \"x\\\";", "unterminated string (\")", 0);
    expect_error(";", "SELECT `x;", "unterminated quoted identifier", 0);
    expect_error(";", "SELECT 1;\n\n/* never closed;", "line 3", 1);
    expect_error(";", "SELECT 1 /* x */; /* y", "unterminated comment", 1);
}

static void test_error_is_sticky(void **state)
{
    amy__cli_split *s = amy__cli_split_new(";");
    assert_non_null(s);
    assert_int_equal(amy__cli_split_feed(s, "'x", 2), 0);
    amy__cli_stmt st;
    char err[128];
    assert_int_equal(amy__cli_split_next(s, 1, &st, err, sizeof err),
                     AMY__CLI_SPLIT_ERROR);
    err[0] = '\0';
    assert_int_equal(amy__cli_split_next(s, 1, &st, err, sizeof err),
                     AMY__CLI_SPLIT_ERROR);
    assert_non_null(strstr(err, "unterminated"));
    assert_int_equal(amy__cli_split_next(s, 1, &st, NULL, 0),
                     AMY__CLI_SPLIT_ERROR);
    amy__cli_split_free(s);
}

static void test_restart_keeps_delimiter(void **state)
{
    amy__cli_split *s = amy__cli_split_new(";");
    assert_non_null(s);
    const char *a = "DELIMITER $$\nSELECT 1$$\nSELECT 'rest";
    assert_int_equal(amy__cli_split_feed(s, a, strlen(a)), 0);
    amy__cli_stmt st;
    assert_int_equal(amy__cli_split_next(s, 0, &st, NULL, 0),
                     AMY__CLI_SPLIT_STMT);
    assert_string_equal(st.sql, "SELECT 1");
    assert_int_equal(amy__cli_split_next(s, 0, &st, NULL, 0),
                     AMY__CLI_SPLIT_NEED);
    amy__cli_split_restart(s); /* the unread rest is dropped */
    assert_string_equal(amy__cli_split_delimiter(s), "$$");
    const char *b = "\nSELECT 2$$";
    assert_int_equal(amy__cli_split_feed(s, b, strlen(b)), 0);
    assert_int_equal(amy__cli_split_next(s, 1, &st, NULL, 0),
                     AMY__CLI_SPLIT_STMT);
    assert_string_equal(st.sql, "SELECT 2");
    assert_int_equal(st.line, 2);
    assert_int_equal(amy__cli_split_next(s, 1, &st, NULL, 0),
                     AMY__CLI_SPLIT_NEED);
    amy__cli_split_free(s);
}

static void test_nul_byte_and_big_statement(void **state)
{
    /* Statements may hold NUL bytes (amy_query_len sends them) and be
     * larger than the buffer's first size. */
    amy__cli_split *s = amy__cli_split_new(";");
    assert_non_null(s);
    size_t big = 100000;
    char *buf = malloc(big + 16);
    assert_non_null(buf);
    memcpy(buf, "SELECT '", 8);
    memset(buf + 8, 'x', big);
    buf[8 + 50] = '\0';
    memcpy(buf + 8 + big, "';", 2);
    for (size_t i = 0; i < big + 10; i += 4096)
        assert_int_equal(
            amy__cli_split_feed(s, buf + i,
                                big + 10 - i < 4096 ? big + 10 - i : 4096),
            0);
    amy__cli_stmt st;
    assert_int_equal(amy__cli_split_next(s, 1, &st, NULL, 0),
                     AMY__CLI_SPLIT_STMT);
    assert_int_equal(st.len, big + 9);
    assert_memory_equal(st.sql, buf, big + 9);
    free(buf);
    amy__cli_split_free(s);
}

static void test_consumed_counts_bytes(void **state)
{
    /* What the ETA scales by: bytes handed out or skipped, not bytes read. */
    amy__cli_split *s = amy__cli_split_new(";");
    assert_non_null(s);
    const char *in = "SELECT 1; SELECT 2; SELECT 'partial";
    assert_int_equal(amy__cli_split_feed(s, in, strlen(in)), 0);
    assert_int_equal(amy__cli_split_consumed(s), 0);
    amy__cli_stmt st;
    assert_int_equal(amy__cli_split_next(s, 0, &st, NULL, 0),
                     AMY__CLI_SPLIT_STMT);
    assert_int_equal(amy__cli_split_consumed(s), 9);
    assert_int_equal(amy__cli_split_next(s, 0, &st, NULL, 0),
                     AMY__CLI_SPLIT_STMT);
    assert_int_equal(amy__cli_split_consumed(s), 19);
    assert_int_equal(amy__cli_split_next(s, 0, &st, NULL, 0),
                     AMY__CLI_SPLIT_NEED);
    /* Compaction on the next feed keeps the count. */
    assert_int_equal(amy__cli_split_feed(s, "';", 2), 0);
    assert_int_equal(amy__cli_split_consumed(s), 19);
    assert_int_equal(amy__cli_split_next(s, 0, &st, NULL, 0),
                     AMY__CLI_SPLIT_STMT);
    assert_int_equal(amy__cli_split_consumed(s), strlen(in) + 2);
    amy__cli_split_restart(s);
    assert_int_equal(amy__cli_split_consumed(s), 0);
    amy__cli_split_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_basic),
        cmocka_unit_test(test_lines_trim_crlf_comments),
        cmocka_unit_test(test_lines_quotes_do_not_span),
        cmocka_unit_test(test_lines_empty_input),
        cmocka_unit_test(test_delim_basic),
        cmocka_unit_test(test_delim_quotes),
        cmocka_unit_test(test_delim_newline_in_string),
        cmocka_unit_test(test_delim_comments),
        cmocka_unit_test(test_delim_comment_only_statements_skipped),
        cmocka_unit_test(test_delim_double_dash_needs_space),
        cmocka_unit_test(test_delim_executable_comment_is_content),
        cmocka_unit_test(test_delim_multichar),
        cmocka_unit_test(test_delimiter_command),
        cmocka_unit_test(test_delimiter_command_errors),
        cmocka_unit_test(test_delimiter_word_is_not_command),
        cmocka_unit_test(test_unterminated),
        cmocka_unit_test(test_error_is_sticky),
        cmocka_unit_test(test_restart_keeps_delimiter),
        cmocka_unit_test(test_nul_byte_and_big_statement),
        cmocka_unit_test(test_consumed_counts_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
