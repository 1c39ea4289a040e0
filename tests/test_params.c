/* Tests for src/params.c: placeholder scanning, literals, errors, bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* Mimics mysql_real_escape_string with backslash escapes (the default). */
static size_t esc_backslash(void *arg, char *dst, const char *src, size_t len)
{
    (void)arg;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i], e = 0;
        switch (c) {
        case '\0':
            e = '0';
            break;
        case '\n':
            e = 'n';
            break;
        case '\r':
            e = 'r';
            break;
        case '\\':
        case '\'':
        case '"':
            e = c;
            break;
        case '\032':
            e = 'Z';
            break;
        }
        if (e) {
            dst[o++] = '\\';
            dst[o++] = e;
        } else {
            dst[o++] = c;
        }
    }
    dst[o] = '\0';
    return o;
}

/* Mimics it under NO_BACKSLASH_ESCAPES: quotes doubled, nothing else. */
static size_t esc_double(void *arg, char *dst, const char *src, size_t len)
{
    (void)arg;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\'')
            dst[o++] = '\'';
        dst[o++] = src[i];
    }
    dst[o] = '\0';
    return o;
}

/* Records every input, to show what the escaper is (not) given. */
struct esc_log {
    size_t calls;
    size_t bytes; /* total length of the inputs */
    int saw_ff;   /* some input held a 0xFF byte */
};

static size_t esc_logging(void *arg, char *dst, const char *src, size_t len)
{
    struct esc_log *log = arg;
    log->calls++;
    log->bytes += len;
    if (memchr(src, 0xff, len))
        log->saw_ff = 1;
    return esc_backslash(NULL, dst, src, len);
}

static size_t cnt(const char *sql)
{
    return amy__params_count(sql, strlen(sql), NULL);
}

/*
 * Renders into a buffer of exactly amy__params_bound bytes (so that ASan
 * sees any overrun), checks the bound and the terminating NUL, and returns
 * a heap copy of the result (NULL on failure, message in err).
 */
static char *render_n(const char *sql, size_t sqllen, const amy_value *v,
                      size_t n, amy__escape_fn esc, size_t *outlen, char *err,
                      size_t errlen)
{
    size_t bound = amy__params_bound(sql, sqllen, v, n);
    char *out = malloc(bound);
    assert_non_null(out);
    size_t r = amy__params_render(sql, sqllen, v, n, esc, NULL, NULL, out, err,
                                  errlen);
    if (r == (size_t)-1) {
        free(out);
        return NULL;
    }
    assert_true(r < bound);
    assert_int_equal(out[r], '\0');
    if (outlen)
        *outlen = r;
    return out;
}

/* Renders, which must succeed, and compares with want. */
static void expect_esc(const char *sql, const amy_value *v, size_t n,
                       amy__escape_fn esc, const char *want)
{
    char err[256] = "";
    size_t len;
    char *out = render_n(sql, strlen(sql), v, n, esc, &len, err, sizeof err);
    if (out == NULL)
        print_error("render of %s failed: %s\n", sql, err);
    assert_non_null(out);
    assert_int_equal(len, strlen(want));
    assert_string_equal(out, want);
    free(out);
}

static void expect(const char *sql, const amy_value *v, size_t n,
                   const char *want)
{
    expect_esc(sql, v, n, esc_backslash, want);
}

/* Renders "?" with one value, which must fail with want in the message. */
static void expect_fail(const amy_value *v, const char *want)
{
    char err[256] = "";
    char *out = render_n("?", 1, v, 1, esc_backslash, NULL, err, sizeof err);
    assert_null(out);
    if (strstr(err, want) == NULL)
        print_error("message \"%s\" lacks \"%s\"\n", err, want);
    assert_non_null(strstr(err, want));
}

static amy_value text(const char *s)
{
    amy_value v = {.type = AMY_TYPE_TEXT};
    v.v.bytes.ptr = s;
    v.v.bytes.len = strlen(s);
    return v;
}

static amy_value bytes(amy_type t, const char *p, size_t len)
{
    amy_value v = {.type = t};
    v.v.bytes.ptr = p;
    v.v.bytes.len = len;
    return v;
}

static amy_value i64(int64_t x)
{
    amy_value v = {.type = AMY_TYPE_INT64};
    v.v.i64 = x;
    return v;
}

static amy_value u64(uint64_t x)
{
    amy_value v = {.type = AMY_TYPE_UINT64};
    v.v.u64 = x;
    return v;
}

static amy_value dbl(double x)
{
    amy_value v = {.type = AMY_TYPE_DOUBLE};
    v.v.f64 = x;
    return v;
}

static amy_value tm(amy_type t, int y, int mo, int d, int h, int mi, int s,
                    unsigned us, int neg)
{
    amy_value v = {.type = t};
    v.v.time = (amy_time){y, mo, d, h, mi, s, us, neg};
    return v;
}

/* ------------------------------------------------------------------------ */
/* Counting                                                                 */
/* ------------------------------------------------------------------------ */

static void test_count_plain(void **state)
{
    (void)state;
    assert_int_equal(cnt(""), 0);
    assert_int_equal(cnt("SELECT 1"), 0);
    assert_int_equal(cnt("?"), 1);
    assert_int_equal(cnt("SELECT ?, ?, ?"), 3);
    assert_int_equal(cnt("SELECT a FROM t WHERE a=? AND b=?"), 2);
    assert_int_equal(cnt("???"), 3);
    /* the length is honoured, not a NUL */
    assert_int_equal(amy__params_count("? ?", 1, NULL), 1);
    assert_int_equal(amy__params_count("?\0?", 3, NULL), 2);
}

static void test_count_strings(void **state)
{
    (void)state;
    assert_int_equal(cnt("SELECT '?'"), 0);
    assert_int_equal(cnt("SELECT \"?\""), 0);
    assert_int_equal(cnt("SELECT 'it\\'s ?', ?"), 1);
    assert_int_equal(cnt("SELECT 'it''s ?', ?"), 1);
    assert_int_equal(cnt("SELECT \"say \\\"?\\\"\", ?"), 1);
    assert_int_equal(cnt("SELECT \"say \"\"?\"\"\", ?"), 1);
    /* an escaped backslash does not escape the quote after it */
    assert_int_equal(cnt("SELECT 'a\\\\', ?"), 1);
    assert_int_equal(cnt("SELECT 'a\\\\\\'?', ?"), 1);
    /* one kind of quote inside the other */
    assert_int_equal(cnt("SELECT '\"?', \"'?\", ?"), 1);
    /* prefixed literals are strings too */
    assert_int_equal(cnt("SELECT X'3F', _utf8mb4'?', N'?', ?"), 1);
    /* unterminated: the rest is string */
    assert_int_equal(cnt("SELECT ?, 'abc ?"), 1);
    assert_int_equal(cnt("SELECT ?, 'abc\\"), 1);
    /* adjacent literals */
    assert_int_equal(cnt("SELECT 'a''?''b'?"), 1);
}

static void test_count_identifiers(void **state)
{
    (void)state;
    assert_int_equal(cnt("SELECT `?` FROM t"), 0);
    assert_int_equal(cnt("SELECT `a``?` FROM t WHERE x=?"), 1);
    /* no backslash escapes inside backticks: `a\` is a whole identifier */
    assert_int_equal(cnt("SELECT `a\\` FROM t WHERE x=?"), 1);
    assert_int_equal(cnt("SELECT `it's` FROM t WHERE x=?"), 1);
}

static void test_count_dash_comments(void **state)
{
    (void)state;
    assert_int_equal(cnt("SELECT ? -- ?"), 1);
    assert_int_equal(cnt("SELECT ? -- ?\n, ?"), 2);
    assert_int_equal(cnt("SELECT ? --\t?\n, ?"), 2);
    assert_int_equal(cnt("SELECT ? --\n?"), 2); /* newline ends it at once */
    assert_int_equal(cnt("SELECT ? --\r?"), 1); /* any control character */
    assert_int_equal(cnt("SELECT ? --"), 1);    /* -- at the very end */
    /* MariaDB wants a space or control character after --: 1--? is 1-(-?) */
    assert_int_equal(cnt("SELECT 1--?"), 1);
    assert_int_equal(cnt("SELECT 1--1, ?"), 1);
    assert_int_equal(cnt("SELECT 1 - -?"), 1);
    /* --- x: the first - is minus, then a comment starts */
    assert_int_equal(cnt("SELECT 1 --- ?"), 0);
    assert_int_equal(cnt("SELECT 1 -?- ?"), 2);
    assert_int_equal(cnt("SELECT 1 -?-- ?"), 1);
    /* 0xA0 is a space in latin1 (a comment there): not a placeholder */
    assert_int_equal(cnt("SELECT 1 --\xa0?"), 0);
    assert_int_equal(cnt("SELECT 1 --\xc3\xa9?"), 0);
    /* quotes inside comments do not open strings */
    assert_int_equal(cnt("SELECT ? -- it's\n, ?"), 2);
}

static void test_count_hash_comments(void **state)
{
    (void)state;
    assert_int_equal(cnt("SELECT ? # ?"), 1);
    assert_int_equal(cnt("SELECT ? #?\n, ?"), 2);
    assert_int_equal(cnt("SELECT ? # it's ?\n, ?"), 2);
    assert_int_equal(cnt("# ?"), 0);
}

static void test_count_block_comments(void **state)
{
    (void)state;
    assert_int_equal(cnt("SELECT /* ? */ ?"), 1);
    assert_int_equal(cnt("SELECT /* it's ? */ ?"), 1);
    assert_int_equal(cnt("SELECT /*? */ ?"), 1);
    /* the star of the opener does not close it */
    assert_int_equal(cnt("SELECT /*/ ? */ ?"), 1);
    assert_int_equal(cnt("SELECT /**/ ?"), 1);
    /* plain comments do not nest: the first star-slash ends it */
    assert_int_equal(cnt("SELECT /* /* ? */ ?"), 1);
    /* unterminated: the rest is comment */
    assert_int_equal(cnt("SELECT ? /* ?"), 1);
    /* a lone slash or star is an operator */
    assert_int_equal(cnt("SELECT ?/?*?"), 3);
}

static void test_count_executable_comments(void **state)
{
    (void)state;
    assert_int_equal(cnt("SELECT 1 /*! , ? */"), 1);
    assert_int_equal(cnt("SELECT 1 /*!50000 , ? */, ?"), 2);
    assert_int_equal(cnt("SELECT 1 /*!100500 , ? */"), 1);
    assert_int_equal(cnt("SELECT 1 /*M! , ? */"), 1);
    assert_int_equal(cnt("SELECT 1 /*M!100500 , ? */"), 1);
    /* only a capital M makes a MariaDB comment */
    assert_int_equal(cnt("SELECT 1 /*m! , ? */"), 0);
    /* strings inside them are still strings */
    assert_int_equal(cnt("SELECT 1 /*! , '?', ? */"), 1);
    /* a plain comment inside one ends at its own star-slash */
    assert_int_equal(cnt("SELECT 1 /*! , 2 /* ? */ , ? */ , ?"), 2);
    /* so does a -- comment, which runs to the end of the line */
    assert_int_equal(cnt("SELECT 1 /*! -- ? */ ?\n , ? */ , ?"), 2);
    /* after the closing star-slash, plain code again */
    assert_int_equal(cnt("/*! SELECT */ ? /* ? */"), 1);
}

static void test_count_mixed(void **state)
{
    (void)state;
    const char *sql = "INSERT INTO `t?` (a, `b``?`) -- cols?\n"
                      "VALUES (?, 'x?\\'?''?') # row?\n"
                      "/* c? */ ON DUPLICATE KEY UPDATE a = ? /*!, b = ? */";
    assert_int_equal(cnt(sql), 3);
}

/* ------------------------------------------------------------------------ */
/* Scalars                                                                  */
/* ------------------------------------------------------------------------ */

static void test_render_null_and_integers(void **state)
{
    (void)state;
    amy_value null = {.type = AMY_TYPE_NULL};
    expect("SELECT ?", &null, 1, "SELECT NULL");
    amy_value v[] = {i64(0), i64(-1),         i64(INT64_MAX), i64(INT64_MIN),
                     u64(0), u64(UINT64_MAX), u64(42),        i64(123456789)};
    expect("?,?,?,?,?,?,?,?", v, 8,
           "0,-1,9223372036854775807,-9223372036854775808,0,"
           "18446744073709551615,42,123456789");
    /* 1 - -1 stays subtraction: -- needs a space after it to comment */
    amy_value m = i64(-1);
    expect("SELECT 1-?", &m, 1, "SELECT 1--1");
}

static void test_render_doubles(void **state)
{
    (void)state;
    static const struct {
        double d;
        const char *want;
    } cases[] = {
        {1.5, "1.5e0"},
        {0.1, "0.1e0"},
        {-2.25, "-2.25e0"},
        {0.0, "0e0"},
        {-0.0, "-0e0"},
        {100.0, "100e0"},
        {1e15, "1e+15"},
        {0.1 + 0.2, "0.30000000000000004e0"},
        {1.0 / 3.0, "0.3333333333333333e0"},
        {1e308, "1e+308"},
        {-1e308, "-1e+308"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {DBL_MIN, "2.2250738585072014e-308"},
        {5e-324, "4.94065645841247e-324"}, /* smallest subnormal */
        {1e-5, "1e-05"},
        {9007199254740993.0, "9007199254740992e0"}, /* 2^53 + 1 rounds */
        {123456789.125, "123456789.125e0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        amy_value v = dbl(cases[i].d);
        expect("?", &v, 1, cases[i].want);
    }
}

/* Every rendered double reads back to the same bits and has an exponent. */
static void test_render_doubles_round_trip(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 20000; i++) {
        double d;
        /* xorshift over raw bit patterns: every exponent, subnormals too */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(&d, &x, sizeof d);
        if (!isfinite(d))
            continue;
        amy_value v = dbl(d);
        char err[128],
            *out = render_n("?", 1, &v, 1, NULL, NULL, err, sizeof err);
        assert_non_null(out);
        assert_non_null(strchr(out, 'e'));
        double back = strtod(out, NULL);
        assert_memory_equal(&back, &d, sizeof d);
        free(out);
    }
}

/* The decimal point of the program's locale must not reach the SQL. */
static void test_render_doubles_locale(void **state)
{
    (void)state;
    /* de_DE writes 1,5; ps_AF a two-byte U+066B */
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8",
                                        "ps_AF.UTF-8", "ps_AF.utf8"};
    int tried = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (setlocale(LC_NUMERIC, names[i]) == NULL)
            continue;
        tried++;
        amy_value v[] = {dbl(1.5), dbl(-0.1), dbl(1.25e-7), dbl(1e300)};
        expect("?,?,?,?", v, 4, "1.5e0,-0.1e0,1.25e-07,1e+300");
        setlocale(LC_NUMERIC, "C");
    }
    if (!tried)
        skip(); /* no such locale installed */
}

static void test_render_doubles_nonfinite(void **state)
{
    (void)state;
    amy_value v = dbl(NAN);
    expect_fail(&v, "parameter 1 (DOUBLE): NaN");
    v = dbl(INFINITY);
    expect_fail(&v, "infinity");
    v = dbl(-INFINITY);
    expect_fail(&v, "infinity");
}

/* ------------------------------------------------------------------------ */
/* Text and blobs                                                           */
/* ------------------------------------------------------------------------ */

static void test_render_text(void **state)
{
    (void)state;
    amy_value v[] = {text("plain"), text(""), text("it's"), text("back\\slash"),
                     text("50% _x_")};
    expect("?,?,?,?,?", v, 5, "'plain','','it\\'s','back\\\\slash','50% _x_'");
    amy_value empty = bytes(AMY_TYPE_TEXT, NULL, 0);
    expect("?", &empty, 1, "''");
}

/* The renderer writes whatever the connection's escaper says. */
static void test_render_text_no_backslash_escapes(void **state)
{
    (void)state;
    amy_value v[] = {text("it's"), text("back\\slash")};
    expect_esc("?,?", v, 2, esc_double, "'it''s','back\\slash'");
}

/*
 * Under NO_BACKSLASH_ESCAPES the server ends 'a\' at its second quote; the
 * renderer learns the mode from the escaper and scans the same way.
 */
static void test_render_mode_follows_escaper(void **state)
{
    (void)state;
    const char *sql = "SELECT 'a\\', ?";
    amy_value v = i64(7);
    assert_int_equal(cnt(sql), 0); /* default mode: one long string */
    expect_esc(sql, &v, 1, esc_double, "SELECT 'a\\', 7");

    char err[256] = "";
    assert_null(render_n(sql, strlen(sql), &v, 1, esc_backslash, NULL, err,
                         sizeof err));
    assert_non_null(strstr(err, "0 placeholders but 1 value was given"));
}

/*
 * gbk's multibyte characters as the connector's tables have them: a lead
 * byte 0x81-0xfe, a second byte 0x40-0x7e or 0x80-0xfe (0x5c and 0x60
 * among them). big5, sjis and cp932 differ in the ranges only.
 */
static unsigned gbk_char(const char *p, const char *end)
{
    if (end - p < 2)
        return 0;
    unsigned char a = (unsigned char)p[0], b = (unsigned char)p[1];
    return a >= 0x81 && a <= 0xfe &&
                   ((b >= 0x40 && b <= 0x7e) || (b >= 0x80 && b <= 0xfe))
               ? 2
               : 0;
}

/* Renders in gbk, which must succeed, and compares with want. */
static void expect_gbk(const char *sql, const char *value, amy__escape_fn esc,
                       const char *want)
{
    amy_value v = text(value);
    size_t bound = amy__params_bound(sql, strlen(sql), &v, 1);
    char *out = malloc(bound), err[128] = "";
    assert_non_null(out);
    size_t r = amy__params_render(sql, strlen(sql), &v, 1, esc, NULL, gbk_char,
                                  out, err, sizeof err);
    if (r == (size_t)-1)
        print_error("render of %s failed: %s\n", sql, err);
    assert_true(r < bound);
    assert_string_equal(out, want);
    free(out);
}

/*
 * A multibyte character whose second byte is a backslash (0x95 0x5c, say)
 * or a backquote ends no string or identifier for the server: the scan
 * reads it whole. Read byte by byte, the first literal below ended at the
 * quote before the first '?', which was then taken for the placeholder,
 * and the value landed in the server's literal '?', where it was code: on
 * a server, ", CURRENT_USER() AS injected -- " added a column (sjis), and
 * so did the backquote form (gbk 0x81 0x60).
 */
static void test_count_multibyte(void **state)
{
    (void)state;
    const char *s1 = "SELECT '\x95\\', '?', ?";
    assert_int_equal(amy__params_count(s1, strlen(s1), gbk_char), 1);
    expect_gbk(s1, ", 1 -- ", esc_backslash, "SELECT '\x95\\', '?', ', 1 -- '");
    expect_gbk(s1, ", 1 -- ", esc_double, "SELECT '\x95\\', '?', ', 1 -- '");

    const char *s2 = "SELECT 1 AS `\x81`?`, ? AS v";
    assert_int_equal(amy__params_count(s2, strlen(s2), gbk_char), 1);
    expect_gbk(s2, "x` , 2 -- ", esc_backslash,
               "SELECT 1 AS `\x81`?`, 'x` , 2 -- ' AS v");

    /* in code: a backquote as second byte opens no identifier */
    const char *s3 = "SELECT \x81` AS x, `a?b`, ?";
    assert_int_equal(amy__params_count(s3, strlen(s3), gbk_char), 1);
    expect_gbk(s3, "v", esc_backslash, "SELECT \x81` AS x, `a?b`, 'v'");

    /* not a character (0x27 is no second byte), so the quote ends it */
    const char *s4 = "SELECT '\x81', ?";
    assert_int_equal(amy__params_count(s4, strlen(s4), gbk_char), 1);
    /* a lead byte last: nothing read past the end */
    const char *s5 = "SELECT ?, '\x81";
    assert_int_equal(amy__params_count(s5, strlen(s5), gbk_char), 1);
    const char *s6 = "SELECT ? \x81";
    assert_int_equal(amy__params_count(s6, strlen(s6), gbk_char), 1);
    /* a single-byte charset: 0x5c is a backslash wherever it is */
    assert_int_equal(amy__params_count(s1, strlen(s1), NULL), 1);
    assert_int_equal(amy__params_count(s4, strlen(s4), NULL), 1);
}

/*
 * Whether a query's literals depend on NO_BACKSLASH_ESCAPES: only a
 * backslash byte in the SQL or in a TEXT value makes them. Queries without
 * one are rendered with quotes doubled and pipeline freely; those with one
 * wait until nothing is in flight on their connection, when the mode the
 * server last reported is the mode it will read them in (before, a SET
 * sql_mode still on its way let ') OR 1=1 -- through).
 */
static void test_need_mode(void **state)
{
    (void)state;
    const char *sql = "SELECT ?, ?";
    size_t len = strlen(sql);
    amy_value plain[] = {text("it's \"a\" -- ?"), text("")};
    assert_int_equal(amy__params_need_mode(sql, len, plain, 2), 0);
    amy_value others[] = {i64(-1), bytes(AMY_TYPE_BLOB, "\\'", 2),
                          bytes(AMY_TYPE_TEXT, NULL, 0), dbl(1.5),
                          tm(AMY_TYPE_DATE, 2024, 1, 2, 0, 0, 0, 0, 0)};
    assert_int_equal(amy__params_need_mode("?,?,?,?,?", 9, others, 5), 0);
    amy_value slash[] = {text("x"), text("a\\b")};
    assert_int_equal(amy__params_need_mode(sql, len, slash, 2), 1);
    /* in sjis 0x95 0x5c is one character, but counts all the same */
    amy_value sjis = text("\x95\\");
    assert_int_equal(amy__params_need_mode("?", 1, &sjis, 1), 1);
    /* the SQL's own literals are scanned differently in the two modes */
    const char *lit = "SELECT 'a\\', ?";
    assert_int_equal(amy__params_need_mode(lit, strlen(lit), plain, 1), 1);
    assert_int_equal(amy__params_need_mode(lit, 10, NULL, 0), 1);
    assert_int_equal(amy__params_need_mode(sql, len, NULL, 0), 0);
}

/* Where the quote opening s ends, read as the server reads it. */
static size_t literal_end(const char *s, size_t len, int backslash)
{
    size_t i = 1;
    while (i < len) {
        if (s[i] == '\\' && backslash)
            i += 2;
        else if (s[i] == '\'' && i + 1 < len && s[i + 1] == '\'')
            i += 2;
        else if (s[i] == '\'')
            return i + 1;
        else
            i++;
    }
    return (size_t)-1; /* unterminated */
}

/* What that rests on: with quotes doubled, a value without a backslash is
 * one literal, of the same bytes, in both modes. */
static void test_quotes_doubled_read_alike(void **state)
{
    (void)state;
    static const char alphabet[] = "''\"\0\n\r\032?*/-#; a\x81\x95\xbf\xff";
    srand(7);
    for (int k = 0; k < 2000; k++) {
        char v[24];
        size_t n = (size_t)rand() % sizeof v;
        for (size_t i = 0; i < n; i++)
            v[i] = alphabet[(size_t)rand() % (sizeof alphabet - 1)];
        amy_value x = bytes(AMY_TYPE_TEXT, v, n);
        assert_int_equal(amy__params_need_mode("?", 1, &x, 1), 0);
        size_t len;
        char err[64];
        char *out = render_n("?", 1, &x, 1, esc_double, &len, err, sizeof err);
        assert_non_null(out);
        assert_int_equal(literal_end(out, len, 1), len);
        assert_int_equal(literal_end(out, len, 0), len);
        free(out);
    }
}

static void test_render_injection(void **state)
{
    (void)state;
    const char *sql = "SELECT * FROM t WHERE name = ? AND id = 1";
    amy_value v = text("x' OR '1'='1");
    expect(sql, &v, 1,
           "SELECT * FROM t WHERE name = 'x\\' OR \\'1\\'=\\'1' AND id = 1");
    expect_esc(sql, &v, 1, esc_double,
               "SELECT * FROM t WHERE name = 'x'' OR ''1''=''1' AND id = 1");

    v = text("\\'; DROP TABLE t; --");
    expect(sql, &v, 1,
           "SELECT * FROM t WHERE name = '\\\\\\'; DROP TABLE t; --' "
           "AND id = 1");
    expect_esc(sql, &v, 1, esc_double,
               "SELECT * FROM t WHERE name = '\\''; DROP TABLE t; --' "
               "AND id = 1");

    /* the rendered text has no placeholder left outside its literal */
    v = text("?' , ? , '?");
    char err[64], *out = render_n(sql, strlen(sql), &v, 1, esc_backslash, NULL,
                                  err, sizeof err);
    assert_non_null(out);
    assert_int_equal(cnt(out), 0);
    free(out);
}

/*
 * A server may skip an executable comment (version above its own) and then
 * ends it at a star-slash even inside quotes, so such text is cut there.
 */
static void test_render_text_in_executable_comment(void **state)
{
    (void)state;
    amy_value v = text("a*/ , 3 -- ");
    expect("SELECT 1 /*!99999 , ? */", &v, 1,
           "SELECT 1 /*!99999 , 'a*' '/ , 3 -- ' */");
    v = text("/*/");
    expect("SELECT 1 /*M! , ? */", &v, 1, "SELECT 1 /*M! , '/' '*' '/' */");
    v = text("x*/y");
    expect_esc("/*! SELECT ? */", &v, 1, esc_double, "/*! SELECT 'x*' '/y' */");
    /* outside executable comments the literal stays whole */
    expect("SELECT ? /*! , 1 */", &v, 1, "SELECT 'x*/y' /*! , 1 */");
    v = text("it's */");
    expect("/*!50000 SELECT ? */", &v, 1, "/*!50000 SELECT 'it\\'s *' '/' */");
}

static void test_render_text_binary(void **state)
{
    (void)state;
    /* NUL, newline, ^Z and a 4-byte UTF-8 emoji (U+1F600) */
    static const char raw[] = "a\0b\n\032\xf0\x9f\x98\x80z";
    amy_value v = bytes(AMY_TYPE_TEXT, raw, sizeof raw - 1);
    expect("?", &v, 1, "'a\\0b\\n\\Z\xf0\x9f\x98\x80z'");

    size_t len;
    char err[64],
        *out = render_n("?", 1, &v, 1, esc_double, &len, err, sizeof err);
    assert_non_null(out);
    assert_int_equal(len, 2 + sizeof raw - 1);
    assert_memory_equal(out + 1, raw, sizeof raw - 1);
    free(out);
}

static void test_render_blob(void **state)
{
    (void)state;
    amy_value v[] = {bytes(AMY_TYPE_BLOB, "", 0), bytes(AMY_TYPE_BLOB, NULL, 0),
                     bytes(AMY_TYPE_BLOB, "\x00\xff'\\\xc3(", 6)};
    expect("?,?,?", v, 3, "X'',X'',X'00FF275CC328'");

    /* the escaper sees only its one-quote probe, never blob bytes */
    struct esc_log log = {0};
    char out[64], err[64];
    size_t r = amy__params_render("?", 1, &v[2], 1, esc_logging, &log, NULL,
                                  out, err, sizeof err);
    assert_int_equal(r, strlen("X'00FF275CC328'"));
    assert_int_equal(log.calls, 1);
    assert_int_equal(log.bytes, 1);
    assert_false(log.saw_ff);
}

static void test_render_bytes_errors(void **state)
{
    (void)state;
    amy_value v = bytes(AMY_TYPE_TEXT, NULL, 3);
    expect_fail(&v, "parameter 1 (TEXT): NULL pointer with length 3");
    v = bytes(AMY_TYPE_BLOB, NULL, 1);
    expect_fail(&v, "parameter 1 (BLOB): NULL pointer");

    /* TEXT needs an escaper; other types do not */
    char out[64], err[64] = "";
    v = text("x");
    assert_int_equal(amy__params_render("?", 1, &v, 1, NULL, NULL, NULL, out,
                                        err, sizeof err),
                     (size_t)-1);
    assert_non_null(strstr(err, "no escape function"));
    v = i64(5);
    assert_int_equal(amy__params_render("?", 1, &v, 1, NULL, NULL, NULL, out,
                                        err, sizeof err),
                     1);
    assert_string_equal(out, "5");
}

/* ------------------------------------------------------------------------ */
/* Dates and times                                                          */
/* ------------------------------------------------------------------------ */

static void test_render_dates(void **state)
{
    (void)state;
    amy_value v[] = {
        tm(AMY_TYPE_DATE, 2024, 2, 29, 0, 0, 0, 0, 0),
        tm(AMY_TYPE_DATE, 0, 0, 0, 0, 0, 0, 0, 0),
        tm(AMY_TYPE_DATE, 1, 1, 1, 0, 0, 0, 0, 0),
        tm(AMY_TYPE_DATETIME, 1999, 12, 31, 23, 59, 59, 0, 0),
        tm(AMY_TYPE_DATETIME, 2000, 2, 29, 0, 0, 0, 5, 0),
        tm(AMY_TYPE_DATETIME, 9999, 12, 31, 23, 59, 59, 999999, 0),
        tm(AMY_TYPE_DATETIME, 0, 0, 0, 0, 0, 0, 0, 0),
    };
    expect("?|?|?|?|?|?|?", v, 7,
           "'2024-02-29'|'0000-00-00'|'0001-01-01'|'1999-12-31 23:59:59'|"
           "'2000-02-29 00:00:00.000005'|'9999-12-31 23:59:59.999999'|"
           "'0000-00-00 00:00:00'");
}

static void test_render_times(void **state)
{
    (void)state;
    amy_value v[] = {
        tm(AMY_TYPE_TIME, 0, 0, 0, 0, 0, 0, 0, 0),
        tm(AMY_TYPE_TIME, 0, 0, 0, 12, 34, 56, 0, 0),
        tm(AMY_TYPE_TIME, 0, 0, 0, 838, 59, 59, 999999, 0),
        tm(AMY_TYPE_TIME, 0, 0, 0, 838, 59, 59, 999999, 1),
        tm(AMY_TYPE_TIME, 0, 0, 0, 1, 2, 3, 450000, 1),
        tm(AMY_TYPE_TIME, 0, 0, 2, 3, 0, 0, 0, 0), /* 2 days 3 hours */
        tm(AMY_TYPE_TIME, 0, 0, 34, 22, 0, 0, 0, 0),
    };
    expect("?|?|?|?|?|?|?", v, 7,
           "'00:00:00'|'12:34:56'|'838:59:59.999999'|'-838:59:59.999999'|"
           "'-01:02:03.450000'|'51:00:00'|'838:00:00'");
}

static void test_render_time_errors(void **state)
{
    (void)state;
    amy_value v;
    v = tm(AMY_TYPE_DATE, 2024, 13, 1, 0, 0, 0, 0, 0);
    expect_fail(&v, "parameter 1 (DATE): month 13 out of range 1-12");
    v = tm(AMY_TYPE_DATE, 2024, 0, 1, 0, 0, 0, 0, 0);
    expect_fail(&v, "month 0");
    v = tm(AMY_TYPE_DATE, 2024, 1, 0, 0, 0, 0, 0, 0);
    expect_fail(&v, "day 0 out of range 1-31");
    v = tm(AMY_TYPE_DATE, 0, 0, 1, 0, 0, 0, 0, 0);
    expect_fail(&v, "month 0");
    v = tm(AMY_TYPE_DATE, 2024, 4, 31, 0, 0, 0, 0, 0);
    expect_fail(&v, "day 31 out of range 1-30 for 2024-04");
    v = tm(AMY_TYPE_DATE, 2023, 2, 29, 0, 0, 0, 0, 0);
    expect_fail(&v, "day 29 out of range 1-28");
    v = tm(AMY_TYPE_DATE, 1900, 2, 29, 0, 0, 0, 0, 0);
    expect_fail(&v, "day 29 out of range 1-28");
    /* MariaDB refuses '0000-02-29': year 0 is not a leap year there */
    v = tm(AMY_TYPE_DATE, 0, 2, 29, 0, 0, 0, 0, 0);
    expect_fail(&v, "day 29 out of range 1-28");
    v = tm(AMY_TYPE_DATE, 10000, 1, 1, 0, 0, 0, 0, 0);
    expect_fail(&v, "year 10000 out of range 0-9999");
    v = tm(AMY_TYPE_DATE, -1, 1, 1, 0, 0, 0, 0, 0);
    expect_fail(&v, "year -1");
    v = tm(AMY_TYPE_DATE, 2024, 1, 1, 12, 0, 0, 0, 0);
    expect_fail(&v, "must be 0 (use DATETIME)");
    v = tm(AMY_TYPE_DATE, 2024, 1, 1, 0, 0, 0, 0, 1);
    expect_fail(&v, "negative is for TIME only");
    v = tm(AMY_TYPE_DATETIME, 2024, 1, 1, 24, 0, 0, 0, 0);
    expect_fail(&v, "parameter 1 (DATETIME): hour 24 out of range 0-23");
    v = tm(AMY_TYPE_DATETIME, 2024, 1, 1, 0, 60, 0, 0, 0);
    expect_fail(&v, "minute 60 out of range 0-59");
    v = tm(AMY_TYPE_DATETIME, 2024, 1, 1, 0, 0, 60, 0, 0);
    expect_fail(&v, "second 60 out of range 0-59");
    v = tm(AMY_TYPE_DATETIME, 2024, 1, 1, 0, 0, 0, 1000000, 0);
    expect_fail(&v, "microsecond 1000000 out of range");
    v = tm(AMY_TYPE_DATETIME, 2024, 1, 32, 0, 0, 0, 0, 0);
    expect_fail(&v, "day 32");
    v = tm(AMY_TYPE_TIME, 0, 0, 0, 839, 0, 0, 0, 0);
    expect_fail(&v, "parameter 1 (TIME): hour 839 out of range 0-838");
    v = tm(AMY_TYPE_TIME, 0, 0, 0, -1, 0, 0, 0, 0);
    expect_fail(&v, "hour -1");
    v = tm(AMY_TYPE_TIME, 0, 0, 34, 23, 0, 0, 0, 0);
    expect_fail(&v, "hour 839");
    v = tm(AMY_TYPE_TIME, 0, 0, 1, 24, 0, 0, 0, 0);
    expect_fail(&v, "day 0-34 with hour 0-23");
    v = tm(AMY_TYPE_TIME, 0, 0, 1, -1, 0, 0, 0, 0); /* not 23 hours */
    expect_fail(&v, "day 1 with hour -1");
    v = tm(AMY_TYPE_TIME, 0, 0, -1, 0, 0, 0, 0, 0);
    expect_fail(&v, "day -1");
    v = tm(AMY_TYPE_TIME, 2024, 0, 0, 1, 0, 0, 0, 0);
    expect_fail(&v, "year and month must be 0");
    v = tm(AMY_TYPE_TIME, 0, 0, 0, 1, -5, 0, 0, 0);
    expect_fail(&v, "minute -5");
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

static void test_count_mismatch(void **state)
{
    (void)state;
    amy_value v[3] = {i64(1), i64(2), i64(3)};
    char err[256] = "";

    assert_null(render_n("SELECT ?, ?", 11, v, 1, esc_backslash, NULL, err,
                         sizeof err));
    assert_string_equal(err,
                        "the SQL has 2 placeholders but 1 value was given");
    assert_null(
        render_n("SELECT ?", 8, v, 3, esc_backslash, NULL, err, sizeof err));
    assert_string_equal(err,
                        "the SQL has 1 placeholder but 3 values were given");
    assert_null(
        render_n("SELECT '?'", 10, v, 1, esc_backslash, NULL, err, sizeof err));
    assert_string_equal(err,
                        "the SQL has 0 placeholders but 1 value was given");
    assert_null(
        render_n("SELECT ?", 8, NULL, 0, esc_backslash, NULL, err, sizeof err));
    assert_string_equal(err,
                        "the SQL has 1 placeholder but 0 values were given");

    /* no placeholders, no values: the SQL as it is */
    expect("SELECT '?' -- ?", NULL, 0, "SELECT '?' -- ?");
    expect("", NULL, 0, "");

    /* a small or absent error buffer is fine */
    char out[64], tiny[8];
    assert_int_equal(amy__params_render("?", 1, v, 2, esc_backslash, NULL, NULL,
                                        out, tiny, sizeof tiny),
                     (size_t)-1);
    assert_string_equal(tiny, "the SQL");
    assert_int_equal(amy__params_render("?", 1, v, 2, esc_backslash, NULL, NULL,
                                        out, NULL, 0),
                     (size_t)-1);
}

static void test_unknown_type(void **state)
{
    (void)state;
    amy_value v[2] = {i64(1), {.type = (amy_type)42}};
    char err[128] = "";
    assert_null(render_n("?,?", 3, v, 2, esc_backslash, NULL, err, sizeof err));
    assert_string_equal(err, "parameter 2: unknown type 42");
}

/* ------------------------------------------------------------------------ */
/* Bounds and size                                                          */
/* ------------------------------------------------------------------------ */

/* Fills p with len bytes drawn from the alphabet, from seed x. */
static void fill(char *p, size_t len, const char *alphabet, size_t na,
                 uint64_t *x)
{
    for (size_t i = 0; i < len; i++) {
        *x = *x * 6364136223846793005u + 1442695040888963407u;
        p[i] = alphabet[(*x >> 33) % na];
    }
}

/*
 * render_n checks rendered < bound (room for the NUL) in a buffer of
 * exactly the bound; here for worst cases and random mixes of every form.
 */
static void test_bound(void **state)
{
    (void)state;
    static char quotes[300], stars[300];
    memset(quotes, '\'', sizeof quotes);
    for (size_t i = 0; i < sizeof stars; i++)
        stars[i] = "*/"[i % 2];

    amy_value worst[] = {
        bytes(AMY_TYPE_TEXT, quotes, sizeof quotes),
        bytes(AMY_TYPE_TEXT, stars, sizeof stars),
        bytes(AMY_TYPE_BLOB, quotes, sizeof quotes),
        i64(INT64_MIN),
        u64(UINT64_MAX),
        dbl(-DBL_MIN / 3),
        dbl(-1.2345678901234567e-300),
        dbl(-0.00012345678901234567),
        tm(AMY_TYPE_DATETIME, 9999, 12, 31, 23, 59, 59, 999999, 0),
        tm(AMY_TYPE_TIME, 0, 0, 0, 838, 59, 59, 999999, 1),
        {.type = AMY_TYPE_NULL},
    };
    size_t nw = sizeof worst / sizeof worst[0];
    static const char *const sqls[] = {
        "?,?,?,?,?,?,?,?,?,?,?", "/*!??????????? */",
        "/*M!? ? ? ? ? ? ? ? ? ? ? */",
        "'\\\\' ? ? ? ? ? ? ? ? ? ? ?", /* the same in both modes */
    };
    for (size_t s = 0; s < sizeof sqls / sizeof sqls[0]; s++) {
        for (int mode = 0; mode < 2; mode++) {
            char err[256] = "";
            size_t len;
            char *out = render_n(sqls[s], strlen(sqls[s]), worst, nw,
                                 mode ? esc_double : esc_backslash, &len, err,
                                 sizeof err);
            if (out == NULL)
                print_error("%s: %s\n", sqls[s], err);
            assert_non_null(out);
            free(out);
        }
    }

    /* random SQL of every token kind, random text and blob values */
    static const char sql_alpha[] = "?'\"`\\-#/*!M \n\tab";
    static const char val_alpha[] = "'\"\\*/\n\r\0x";
    uint64_t x = 1;
    char sql[64], val[8][40];
    for (int round = 0; round < 5000; round++) {
        size_t sqllen = (size_t)(x >> 40) % sizeof sql;
        fill(sql, sqllen, sql_alpha, sizeof sql_alpha - 1, &x);
        for (int mode = 0; mode < 2; mode++) {
            amy__escape_fn esc = mode ? esc_double : esc_backslash;
            size_t n = amy__params_count(sql, sqllen, NULL);
            amy_value v[64];
            char err[256];
            for (int attempt = 0; attempt < 2; attempt++) {
                for (size_t i = 0; i < n; i++) {
                    size_t vl = (size_t)(x >> 45) % sizeof val[0];
                    fill(val[i % 8], vl, val_alpha, sizeof val_alpha - 1, &x);
                    v[i] = bytes(i % 3 == 2 ? AMY_TYPE_BLOB : AMY_TYPE_TEXT,
                                 val[i % 8], vl);
                }
                char *out =
                    render_n(sql, sqllen, v, n, esc, NULL, err, sizeof err);
                if (out != NULL) {
                    free(out);
                    break;
                }
                /* quote doubling can count differently: take its count */
                assert_int_equal(attempt, 0);
                assert_int_equal(sscanf(err, "the SQL has %zu", &n), 1);
            }
        }
    }
}

static void test_one_mebibyte(void **state)
{
    (void)state;
    const size_t mib = (size_t)1 << 20;
    char *big = malloc(mib);
    assert_non_null(big);
    uint64_t x = 7;
    fill(big, mib, "ab'\\\0\xf0", 6, &x);

    amy_value v[] = {bytes(AMY_TYPE_TEXT, big, mib),
                     bytes(AMY_TYPE_BLOB, big, mib)};
    char err[128];
    size_t len;
    char *out = render_n("INSERT INTO t VALUES (?, ?)", 27, v, 2, esc_backslash,
                         &len, err, sizeof err);
    assert_non_null(out);

    /* the text literal, decoded, is the value; then the blob in hex */
    const char *p = out + strlen("INSERT INTO t VALUES ('");
    size_t j = 0;
    while (*p != '\'') {
        char c = *p++;
        if (c == '\\') {
            c = *p++;
            c = c == '0' ? '\0' : c;
        }
        assert_true(j < mib);
        assert_int_equal(c, big[j]);
        j++;
    }
    assert_int_equal(j, mib);
    assert_memory_equal(p, "', X'", 5);
    p += 5;
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < mib; i++) {
        unsigned char b = (unsigned char)big[i];
        assert_int_equal(p[2 * i], hex[b >> 4]);
        assert_int_equal(p[2 * i + 1], hex[b & 15]);
    }
    assert_string_equal(p + 2 * mib, "')");
    assert_int_equal(len, (size_t)(p + 2 * mib + 2 - out));
    free(out);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_plain),
        cmocka_unit_test(test_count_strings),
        cmocka_unit_test(test_count_identifiers),
        cmocka_unit_test(test_count_dash_comments),
        cmocka_unit_test(test_count_hash_comments),
        cmocka_unit_test(test_count_block_comments),
        cmocka_unit_test(test_count_executable_comments),
        cmocka_unit_test(test_count_mixed),
        cmocka_unit_test(test_render_null_and_integers),
        cmocka_unit_test(test_render_doubles),
        cmocka_unit_test(test_render_doubles_round_trip),
        cmocka_unit_test(test_render_doubles_locale),
        cmocka_unit_test(test_render_doubles_nonfinite),
        cmocka_unit_test(test_render_text),
        cmocka_unit_test(test_render_text_no_backslash_escapes),
        cmocka_unit_test(test_render_mode_follows_escaper),
        cmocka_unit_test(test_render_injection),
        cmocka_unit_test(test_count_multibyte),
        cmocka_unit_test(test_need_mode),
        cmocka_unit_test(test_quotes_doubled_read_alike),
        cmocka_unit_test(test_render_text_in_executable_comment),
        cmocka_unit_test(test_render_text_binary),
        cmocka_unit_test(test_render_blob),
        cmocka_unit_test(test_render_bytes_errors),
        cmocka_unit_test(test_render_dates),
        cmocka_unit_test(test_render_times),
        cmocka_unit_test(test_render_time_errors),
        cmocka_unit_test(test_count_mismatch),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_one_mebibyte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
