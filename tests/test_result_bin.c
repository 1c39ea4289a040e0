/*
 * Tests for src/result_bin.c: a prepared statement's stored result, copied
 * by amy__result_from_stmt, must read as the same query's text-protocol
 * result, copied as a connection copies it (amy__rowbuf): same names,
 * types, flags, NULLs, bytes, FLOAT included (the server's 6 digits). DOUBLE must give back
 * exactly the value the server sent (the text of one with a declared scale
 * may differ; the differences are printed).
 *
 * The formatting of FLOAT and DOUBLE is also tested without a server. The
 * rest needs one (AMY_TEST_SOCKET_DSN or AMY_TEST_DSN; skipped without).
 * It uses libmariadb's blocking API: amy__result_from_stmt does no I/O.
 * To test under a comma-decimal locale where none is installed:
 *   localedef -i de_DE -f UTF-8 /tmp/loc/de_DE.UTF-8 and LOCPATH=/tmp/loc.
 */
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

#include <errmsg.h>

#include "dsn.h"
#include "result.h"

#define MAXCOLS 64

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* A connection to the test server (utf8mb4), or skip the test. */
static MYSQL *open_db(void)
{
    const char *dsn = getenv("AMY_TEST_SOCKET_DSN");
    if (!dsn || !*dsn)
        dsn = getenv("AMY_TEST_DSN");
    if (!dsn || !*dsn) {
        print_message("AMY_TEST_DSN is not set: skipping (run scripts/dev.sh "
                      "test)\n");
        skip();
    }
    amy__dsn d;
    char err[256];
    assert_int_equal(amy__dsn_parse(dsn, &d, err, sizeof err), 0);
    MYSQL *m = mysql_init(NULL);
    assert_non_null(m);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(m, d.socket ? "localhost" : d.host, d.user,
                            d.password, d.database, d.port, d.socket, 0))
        print_error("connect: %s\n", mysql_error(m));
    amy__dsn_clear(&d);
    assert_int_equal(mysql_errno(m), 0);
    return m;
}

static void exec(MYSQL *m, const char *sql)
{
    if (mysql_query(m, sql))
        print_error("%s: %s\n", sql, mysql_error(m));
    assert_int_equal(mysql_errno(m), 0);
}

/* sql through the text protocol. */
static amy_result *via_text(MYSQL *m, const char *sql)
{
    exec(m, sql);
    MYSQL_RES *res = mysql_store_result(m);
    assert_non_null(res);
    /* As a connection copies a text answer's rows (bound.c, conn.c). */
    size_t ncols = mysql_num_fields(res);
    amy__rowbuf b = {0};
    amy__rowbuf_query(&b);
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)))
        assert_int_equal(
            amy__rowbuf_text_row(&b, row, mysql_fetch_lengths(res), ncols), 0);
    amy_result *r =
        amy__rowbuf_result(&b, mysql_fetch_fields(res), ncols, 0, 0);
    assert_non_null(r);
    amy__rowbuf_free(&b);
    mysql_free_result(res);
    return r;
}

/* A prepared, executed, stored statement. */
static MYSQL_STMT *run_stmt(MYSQL *m, const char *sql)
{
    MYSQL_STMT *st = mysql_stmt_init(m);
    assert_non_null(st);
    if (mysql_stmt_prepare(st, sql, strlen(sql)) || mysql_stmt_execute(st) ||
        mysql_stmt_store_result(st))
        print_error("%s: %s\n", sql, mysql_stmt_error(st));
    assert_int_equal(mysql_stmt_errno(st), 0);
    return st;
}

/* sql through the binary protocol; decimals (if not NULL) receives each
 * column's. */
static amy_result *via_stmt(MYSQL *m, const char *sql, unsigned *decimals)
{
    MYSQL_STMT *st = run_stmt(m, sql);
    unsigned err = 12345;
    amy_result *r = amy__result_from_stmt(st, 0, 0, &err);
    assert_non_null(r);
    assert_int_equal(err, 0);
    for (size_t c = 0; decimals && c < r->ncols && c < MAXCOLS; c++)
        decimals[c] = st->fields[c].decimals;
    mysql_stmt_free_result(st);
    mysql_stmt_close(st);
    return r;
}

static int is_real(int type)
{
    return type == AMY_COL_FLOAT || type == AMY_COL_DOUBLE;
}

/*
 * The FLOAT and DOUBLE cells of sql as the binary protocol sends them (a
 * float widened to double), row-major; other cells are 0. Fetched apart
 * from amy__result_from_stmt, so it can check it.
 */
static double *exact_reals(MYSQL *m, const char *sql, size_t *nrows)
{
    MYSQL_STMT *st = run_stmt(m, sql);
    unsigned ncols = mysql_stmt_field_count(st);
    assert_true(ncols <= MAXCOLS);
    MYSQL_BIND b[MAXCOLS];
    double d[MAXCOLS];
    float f[MAXCOLS];
    memset(b, 0, sizeof b);
    for (unsigned c = 0; c < ncols; c++) {
        int t = st->fields[c].type;
        b[c].buffer_type = t == AMY_COL_FLOAT    ? MYSQL_TYPE_FLOAT
                           : t == AMY_COL_DOUBLE ? MYSQL_TYPE_DOUBLE
                                                 : MYSQL_TYPE_STRING;
        b[c].buffer = t == AMY_COL_FLOAT    ? (void *)&f[c]
                      : t == AMY_COL_DOUBLE ? (void *)&d[c]
                                            : NULL;
    }
    assert_int_equal(mysql_stmt_bind_result(st, b), 0);
    size_t n = (size_t)mysql_stmt_num_rows(st), row = 0;
    double *out = calloc(n * ncols + 1, sizeof *out);
    assert_non_null(out);
    int rc;
    while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
        for (unsigned c = 0; c < ncols; c++)
            if (is_real(st->fields[c].type))
                out[row * ncols + c] =
                    st->fields[c].type == MYSQL_TYPE_FLOAT ? f[c] : d[c];
        row++;
    }
    assert_int_equal(rc, MYSQL_NO_DATA);
    assert_int_equal(row, n);
    mysql_stmt_close(st);
    *nrows = n;
    return out;
}

/* 10^e, near enough (no libm here). */
static double ten_to(int e)
{
    double x = 1;
    for (; e > 0; e--)
        x *= 10;
    for (; e < 0; e++)
        x /= 10;
    return x;
}

/* A FLOAT or DOUBLE cell of the binary result. A DOUBLE reads back to
 * exactly what the server sent; a FLOAT to it rounded to 6 significant
 * digits, or to its declared scale dec. */
static void check_real(const amy_result *b, size_t row, size_t col,
                       double exact, unsigned dec)
{
    double x;
    assert_int_equal(amy_result_double(b, row, col, &x), AMY_OK);
    if (b->cols[col].type == AMY_COL_FLOAT) {
        double tol = dec < 31 ? 0.5 * ten_to(-(int)dec) : fabs(exact) * 5e-6;
        assert_true(fabs(x - exact) <= tol * 1.000001);
    } else {
        assert_memory_equal(&x, &exact, sizeof x);
    }
}

/* Whether the text protocol's DOUBLE cell reads back to exactly what was
 * sent. Where it does, our text must be the same. */
static int text_is_exact(const amy_result *t, size_t row, size_t col,
                         double exact)
{
    double x;
    if (amy_result_double(t, row, col, &x) != AMY_OK)
        return 0;
    return memcmp(&x, &exact, sizeof x) == 0;
}

/* Text for a message: at most 60 bytes, NULL shown as such. */
static const char *show(const char *s, size_t len, char *buf)
{
    if (!s)
        return "NULL";
    snprintf(buf, 64, "%.*s", (int)(len > 60 ? 60 : len), s);
    return buf;
}

/*
 * Runs sql through both protocols and asserts the results are the same
 * cell by cell, FLOAT included, byte for byte. DOUBLE cells of a declared
 * scale may differ in text (printed): the binary result must read back
 * exactly and the text one must be the same value rounded. Returns the
 * number of such cells.
 */
static size_t assert_same(MYSQL *m, const char *sql)
{
    unsigned dec[MAXCOLS] = {0};
    amy_result *t = via_text(m, sql);
    amy_result *b = via_stmt(m, sql, dec);
    size_t nr = 0, diffs = 0;
    double *exact = exact_reals(m, sql, &nr);
    assert_int_equal(b->ncols, t->ncols);
    assert_int_equal(b->nrows, t->nrows);
    assert_int_equal(nr, t->nrows);
    for (size_t c = 0; c < t->ncols; c++) {
        assert_string_equal(b->colnames[c], t->colnames[c]);
        assert_int_equal(b->cols[c].type, t->cols[c].type);
        assert_int_equal(b->cols[c].charset, t->cols[c].charset);
        assert_int_equal(b->cols[c].flags, t->cols[c].flags);
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            size_t tl, bl;
            const char *tv = amy_result_value(t, r, c, &tl);
            const char *bv = amy_result_value(b, r, c, &bl);
            assert_int_equal(tv == NULL, bv == NULL);
            if (!bv)
                continue;
            assert_int_equal(bv[bl], '\0');
            int type = t->cols[c].type;
            int same = tl == bl && memcmp(tv, bv, tl) == 0;
            double e = is_real(type) ? exact[r * t->ncols + c] : 0;
            if (is_real(type))
                check_real(b, r, c, e, dec[c]);
            if (!same && type == AMY_COL_DOUBLE && !text_is_exact(t, r, c, e)) {
                /* The server rounded a DOUBLE to a scale too small for it.
                 * An unscaled DOUBLE it writes exactly. */
                assert_true(dec[c] < 31);
                double tx;
                assert_int_equal(amy_result_double(t, r, c, &tx), AMY_OK);
                double tol = 0.5 * ten_to(-(int)dec[c]);
                assert_true(fabs(tx - e) <= tol * 1.000001);
                if (diffs++ < 5)
                    print_message("  accepted: DOUBLE %s: text '%.*s', "
                                  "binary '%.*s'\n",
                                  t->colnames[c], (int)tl, tv, (int)bl, bv);
                continue;
            }
            if (!same)
                print_error("%s: row %zu col %s: text '%s', binary '%s'\n", sql,
                            r, t->colnames[c], show(tv, tl, (char[64]){0}),
                            show(bv, bl, (char[64]){0}));
            assert_true(same);
        }
    }
    free(exact);
    amy__result_free(t);
    amy__result_free(b);
    return diffs;
}

/* 2^k for -1074 <= k <= 1023, from its bits (no libm here). */
static double pow2(int k)
{
    uint64_t u =
        k < -1022 ? (uint64_t)1 << (k + 1074) : (uint64_t)(k + 1023) << 52;
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* A random 64-bit pattern (xorshift64*, fixed seed: repeatable). */
static uint64_t rnd(void)
{
    static uint64_t s = 0x9e3779b97f4a7c15u;
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717u;
}

/* A finite double from random bits (half of them subnormal or tiny, big,
 * or integral, to reach every branch of the layout). */
static double rnd_double(void)
{
    for (;;) {
        uint64_t u = rnd();
        double d;
        switch (u & 7) {
        case 0: /* integral, 1..19 digits */
            d = (double)(int64_t)(rnd() >> (u >> 58));
            break;
        case 1: /* near 1e15 .. 1e17 */
            d = (double)(rnd() % 100000000000000000u);
            break;
        case 2: /* few digits, any scale */
            d = (double)(rnd() % 1000) * ten_to((int)(rnd() % 60) - 30);
            break;
        default:
            memcpy(&d, &u, sizeof d);
        }
        if (isfinite(d))
            return d;
    }
}

/* s, which amy__format_real wrote, read back with strtod in the "C"
 * locale. */
static double parse(const char *s, size_t len)
{
    char buf[AMY__NUMBUF + 1];
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double d = strtod(buf, &end);
    assert_ptr_equal(end, buf + len);
    return d;
}

/* amy__format_real's text of x, NUL-terminated, in buf. */
static const char *fmt(double x, int is_float, unsigned dec, char *buf)
{
    size_t len = amy__format_real(x, is_float, dec, buf);
    assert_true(len > 0 && len < AMY__NUMBUF);
    buf[len] = '\0';
    return buf;
}

/* ------------------------------------------------------------------------ */
/* FLOAT and DOUBLE formatting, no server                                   */
/* ------------------------------------------------------------------------ */

static void test_format_double_cases(void **state)
{
    static const struct {
        double x;
        unsigned dec;
        const char *want;
    } cases[] = {
        {0.0, 31, "0"},
        {-0.0, 31, "-0"},
        {1e308, 31, "1e308"},
        {-1e308, 31, "-1e308"},
        {DBL_MAX, 31, "1.7976931348623157e308"},
        {4.9e-324, 31, "5e-324"},
        {2.2250738585072014e-308, 31, "2.2250738585072014e-308"},
        {2.225073858507201e-308, 31, "2.225073858507201e-308"},
        {1e-300, 31, "1e-300"},
        {0.1, 31, "0.1"},
        {1.0 / 3, 31, "0.3333333333333333"},
        {100, 31, "100"},
        {1e14, 31, "100000000000000"},
        {1e15, 31, "1e15"},
        {1.5e15, 31, "1.5e15"},
        {1234567890123456.8, 31, "1234567890123456.8"},
        {1.234567890123456e15, 31, "1.234567890123456e15"},
        {12345678901234567.0, 31, "1.2345678901234568e16"},
        {123456789012345678.0, 31, "1.2345678901234568e17"},
        {1e-5, 31, "0.00001"},
        {1e-15, 31, "0.000000000000001"},
        {1.2345678901234568e-15, 31, "0.0000000000000012345678901234568"},
        {1e-16, 31, "1e-16"},
        {-1.5e-16, 39, "-1.5e-16"},
        {1.5, 2, "1.50"},
        {0.1, 3, "0.100"},
        {2.25, 0, "2.25"}, /* "2" would not read back */
        {0.0, 2, "0.00"},
        {-2.5, 1, "-2.5"},
        {0.1, 30, "0.100000000000000000000000000000"},
        {1.0 / 3, 30, "0.333333333333333300000000000000"},
        {1e23, 2, "100000000000000000000000.00"},
        {1e-5, 6, "0.000010"},
        {-0.010000000000000009, 2, "-0.010000000000000009"},
        {3.141592653589793, 6, "3.141592653589793"},
        {1e20, 2, "100000000000000000000.00"},
    };
    char buf[AMY__NUMBUF];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(fmt(cases[i].x, 0, cases[i].dec, buf),
                            cases[i].want);
    assert_string_equal(fmt(2.0, 0, 0, buf), "2");
    assert_string_equal(fmt(NAN, 0, 31, buf), "nan");
    assert_string_equal(fmt(-INFINITY, 0, 31, buf), "-inf");
    assert_string_equal(fmt(INFINITY, 0, 31, buf), "inf");
}

/* As MariaDB 10.11 writes them (SELECT of a FLOAT column holding x, or of
 * FLOAT(M,D) with D = dec), byte for byte. */
static void test_format_float_cases(void **state)
{
    static const struct {
        float x;
        unsigned dec;
        const char *want;
    } cases[] = {
        {0.1f, 31, "0.1"},
        {0.0f, 31, "0"},
        {-0.0f, 31, "-0"}, /* the server stores 0; an expression may not */
        {1234567.0f, 31, "1234570"},
        {1234565.0f, 31, "1234560"}, /* an exact tie: to even */
        {16777216.0f, 31, "16777200"},
        {16777217.0f, 31, "16777200"}, /* stored as 16777216 */
        {123456789012.0f, 31, "123457000000"},
        {FLT_MAX, 31, "3.40282e38"},
        {-FLT_MAX, 31, "-3.40282e38"},
        {1.4e-45f, 31, "1.4013e-45"}, /* the smallest subnormal */
        {FLT_MIN, 31, "1.17549e-38"},
        {1e15f, 31, "1e15"},
        {1e16f, 31, "1e16"},
        {1.5e-5f, 31, "0.000015"},
        {1e-15f, 31, "0.000000000000001"},
        {0.000123456f, 31, "0.000123456"},
        {1.5f, 39, "1.5"}, /* an expression's unfixed scale */
        {0.1f, 2, "0.10"},
        {0.1f, 10, "0.1000000015"},
        {1.25f, 10, "1.2500000000"},
        {1234567.0f, 2, "1234567.00"},
        {16777216.0f, 10, "16777216.0000000000"},
        {0.125f, 2, "0.12"}, /* an exact tie: to even */
        {0.005f, 2, "0.00"},
        {0.005f, 10, "0.0049999999"},
        {-2.5f, 0, "-2"},
        {1.5f, 3, "1.500"},
    };
    char buf[AMY__NUMBUF];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(fmt(cases[i].x, 1, cases[i].dec, buf),
                            cases[i].want);
}

/* The significant digits of a number's text and the power of ten of the
 * first, leading and trailing zeros dropped ("0.0120" -> "12", -2). */
static void digits_of(const char *s, char *dg, int *exp10)
{
    int n = 0, point = -1, first = -1, e = 0, pos = 0;
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s == '.') {
            point = pos;
        } else if (*s >= '0' && *s <= '9') {
            if (first < 0 && *s != '0')
                first = pos;
            if (first >= 0)
                dg[n++] = *s;
            pos++;
        }
    }
    if (*s)
        e = atoi(s + 1);
    while (n > 1 && dg[n - 1] == '0')
        n--;
    dg[n] = '\0';
    if (point < 0)
        point = pos;
    *exp10 = first < 0 ? 0 : point - first - 1 + e;
}

/* Random doubles read back bit for bit, with no more digits than %.17g,
 * and in the form amy_result_double accepts. Random floats have glibc's
 * %.6g digits (6 significant, correctly rounded), and read back within
 * half a unit of the sixth. */
static void test_format_real_reads_back(void **state)
{
    char buf[AMY__NUMBUF];
    for (int i = 0; i < 200000; i++) {
        double x = rnd_double();
        size_t len = amy__format_real(x, 0, 31, buf);
        double y = parse(buf, len);
        assert_memory_equal(&x, &y, sizeof x);
        size_t digits = 0;
        for (size_t k = 0; k < len && buf[k] != 'e'; k++)
            digits += buf[k] >= '1' && buf[k] <= '9';
        assert_true(digits <= 17);

        uint32_t u = (uint32_t)rnd();
        float f;
        memcpy(&f, &u, sizeof f);
        if (!isfinite(f))
            continue;
        len = amy__format_real(f, 1, 31, buf);
        y = parse(buf, len);
        char want[16], got[16], g[32];
        int we, ge;
        snprintf(g, sizeof g, "%.6g", (double)f);
        digits_of(g, want, &we);
        buf[len] = '\0';
        digits_of(buf, got, &ge);
        if (strcmp(want, got) != 0 || (f != 0 && we != ge))
            fail_msg("float %a: '%s', %%.6g '%s'", (double)f, buf, g);
        assert_true(fabs(y - f) <= fabs(f) * 5e-6);
    }
}

/* A decimal comma in the C locale changes nothing. */
static void test_format_real_ignores_locale(void **state)
{
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8",
                                        "fr_FR.UTF-8", "de_DE"};
    const char *got = NULL;
    for (size_t i = 0; !got && i < sizeof names / sizeof names[0]; i++)
        if (setlocale(LC_NUMERIC, names[i]))
            got = names[i];
    if (!got || strcmp(localeconv()->decimal_point, ",") != 0) {
        setlocale(LC_NUMERIC, "C");
        print_message("no locale with a decimal comma: skipping\n");
        skip();
    }
    char buf[AMY__NUMBUF];
    assert_string_equal(fmt(1.5, 0, 31, buf), "1.5");
    assert_string_equal(fmt(1.5, 0, 2, buf), "1.50");
    assert_string_equal(fmt(0.1f, 1, 31, buf), "0.1");
    assert_string_equal(fmt(1.2345678901234568e-15, 0, 31, buf),
                        "0.0000000000000012345678901234568");
    assert_string_equal(fmt(2.2250738585072014e-308, 0, 31, buf),
                        "2.2250738585072014e-308");
    for (int i = 0; i < 10000; i++) {
        double x = rnd_double(), y;
        size_t len = amy__format_real(x, 0, 31, buf);
        assert_null(memchr(buf, ',', len));
        setlocale(LC_NUMERIC, "C");
        y = parse(buf, len);
        setlocale(LC_NUMERIC, got);
        assert_memory_equal(&x, &y, sizeof x);
    }
    setlocale(LC_NUMERIC, "C");
}

/* ------------------------------------------------------------------------ */
/* With a server                                                            */
/* ------------------------------------------------------------------------ */

/* One column of every type, rows of ordinary, extreme, empty and NULL
 * values: the two protocols agree. */
static void test_types_match_text(void **state)
{
    MYSQL *m = open_db();
    exec(m, "CREATE TEMPORARY TABLE bres_types ("
            " id INT PRIMARY KEY,"
            " ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT,"
            " su SMALLINT UNSIGNED, mi MEDIUMINT, mu MEDIUMINT UNSIGNED,"
            " i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,"
            " iz INT(8) ZEROFILL, bz BIGINT ZEROFILL, tz TINYINT ZEROFILL,"
            " f FLOAT, fs FLOAT(7,3), d DOUBLE, ds DOUBLE(12,2),"
            " dz DOUBLE ZEROFILL, dsz DOUBLE(12,3) ZEROFILL,"
            " de DECIMAL(10,2), d65 DECIMAL(65,30), dez DECIMAL(8,2) ZEROFILL,"
            " dt DATE, tm TIME, t6 TIME(6), t3 TIME(3), dtm DATETIME,"
            " dt6 DATETIME(6), dt2 DATETIME(2), ts TIMESTAMP(6) NULL,"
            " y YEAR, b1 BIT(1), b9 BIT(9), b64 BIT(64),"
            " c CHAR(5), vc VARCHAR(20), bn BINARY(4), vb VARBINARY(8),"
            " bl BLOB, tx TEXT, j JSON, e ENUM('a','bé','c'),"
            " st SET('x','y','z'), g GEOMETRY)");
    exec(
        m,
        "INSERT INTO bres_types VALUES"
        " (1, -128, 255, -32768, 65535, -8388608, 16777215,"
        "  -2147483648, 4294967295, -9223372036854775808,"
        "  18446744073709551615, 42, 7, 5,"
        "  3.4028234e38, 1.5, 1e308, 1.5, 1.5, 2.5,"
        "  -12345678.99,"
        "  "
        "'-12345678901234567890123456789012345.123456789012345678901234567890',"
        "  1.5, '2024-02-29', '-838:59:59', '838:59:59.000000', '-00:00:01.5',"
        "  '9999-12-31 23:59:59', '2024-02-29 23:59:59.123456',"
        "  '1000-01-01 00:00:00.01', '2038-01-19 03:14:07.999999', 2155,"
        "  b'1', b'100000001', "
        "b'1111111111111111111111111111111111111111111111111111111111111111',"
        "  'ab', 'héllo 😀', X'00FF', X'00FFC3', X'00FF00C328', '😀😀',"
        "  '{\"a\": [1, 2.5, \"x\"]}', 'bé', 'x,z', ST_GeomFromText('POINT(1 "
        "2)')),"
        " (2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0,"
        "  9223372036854775807, 0, 12345678, 18446744073709551615, 255,"
        "  -1.17549435e-38, -9999.999, -2.2250738585072014e-308, -0.01,"
        "  1e300, 123456789.123, 0, 0.000000000000000000000000000001, 0,"
        "  '0000-00-00', '00:00:00', '-838:59:59.000000', '00:00:00.001',"
        "  '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000',"
        "  '2024-01-01 00:00:00', '1970-01-01 00:00:01', 0,"
        "  b'0', b'0', b'0', '', '', '', '', '', '', '[]', 'a', '', NULL),"
        " (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        "  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        "  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        "  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        "  NULL),"
        " (4, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0,"
        "  0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1,"
        "  '2000-01-01', '12:34:56', '-12:34:56.789012', '23:59:59.999',"
        "  '2000-01-01 12:00:00', '2000-01-01 12:00:00.5',"
        "  '2000-01-01 12:00:00.5', NULL, 1901, b'1', b'111111111', b'1',"
        "  'abcde', 'x', 'abcd', 'abcdefgh', 'blob', 'text',"
        "  '{}', 'c', 'x,y,z', ST_GeomFromText('LINESTRING(0 0, 1 1.5)'))");
    size_t diffs = assert_same(m, "SELECT * FROM bres_types ORDER BY id");
    print_message("%zu FLOAT or DOUBLE cells differ in text only\n", diffs);
    mysql_close(m);
}

/* Expressions, whose metadata differs from columns' (decimals 39, NULL
 * type, scales of functions). */
static void test_expressions_match_text(void **state)
{
    static const char *const queries[] = {
        "SELECT 1, -1, 18446744073709551615, -9223372036854775808,"
        " 9223372036854775807, CAST(18446744073709551615 AS UNSIGNED),"
        " CAST(-9223372036854775808 AS SIGNED), 127 + 0, NULL, ''",
        "SELECT 1e308, -1e308, 1e-300, 2.2250738585072014e-308, 4.9e-324,"
        " -0e0, 0.1e0, 123456789012345678e0, 1e15, 1e14, 1.5e15,"
        " 1234567890123456.7e0, 1.234567890123456e15, 1e-15, 1e-16,"
        " 1.2345678901234567e-15, 1e0/3, 2e0/3, 1e21, 100e0, 0.00001e0",
        "SELECT -0.0, 0.1, 1.50, 12345678901234567890123456789012345.5,"
        " CAST(1 AS DECIMAL(65,30)), 1/3, 1.5 * 2",
        "SELECT ROUND(1.23456e0, 2), TRUNCATE(1.999e0, 1), 1.5e0 * 2, PI(),"
        " SQRT(2), EXP(1), LOG(2), 1e0 + 0.5",
        "SELECT ROUND(1e300, 2), ROUND(-1.7976931348623157e308, 30),"
        " ROUND(1e-300, 30), ROUND(123.456e0, 1), ROUND(2.5e0, 0),"
        " ROUND(0.1e0, 30), ROUND(1e0/3, 30), ROUND(1e23, 2),"
        " ROUND(123456789.123456789e0, 20), ROUND(0.125e0, 2), ROUND(0e0, 3)",
        "SELECT CAST(0.1 AS FLOAT), CAST(1.4e-45 AS FLOAT),"
        " CAST(16777217 AS FLOAT), CAST(1e38 AS FLOAT), CAST(-0e0 AS FLOAT),"
        " CAST(-1234567 AS FLOAT), CAST(3.4028234663852886e38 AS FLOAT),"
        " CAST(1e-40 AS FLOAT)",
        "SELECT DATE '2024-02-29', TIME '-838:59:59', TIME '838:59:59.999999',"
        " TIMESTAMP '2024-02-29 23:59:59.123456', CAST('10:00:00.5' AS TIME),"
        " CAST('10:00:00.5' AS TIME(3)), SEC_TO_TIME(1.5), SEC_TO_TIME(2e0),"
        " SEC_TO_TIME(-1.25e0), MAKETIME(1, 2, 3.5),"
        " FROM_UNIXTIME(1e0), FROM_UNIXTIME(1.25e0), FROM_UNIXTIME(1),"
        " STR_TO_DATE('2020-01-01 10:00:00.5', '%Y-%m-%d %H:%i:%s.%f'),"
        " TIME('10:00:00.25'), ADDTIME('-00:00:01', '00:00:00.5'),"
        " DATE_ADD('2024-02-28', INTERVAL 1 DAY)",
        "SELECT X'00FF00', _utf8mb4'😀', _binary'\\0a', REPEAT('é', 3),"
        " CONCAT('a', NULL), JSON_OBJECT('k', 1.5), b'101', 0x41,"
        " YEAR('2024-01-01'), CAST(-1.5e0 AS UNSIGNED), 1 = 1",
        "SELECT * FROM seq_1_to_3 WHERE seq > 5",
    };
    MYSQL *m = open_db();
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
        assert_same(m, queries[i]);
    mysql_close(m);
}

/* Random doubles, bound as parameters (exact), into a DOUBLE column: the
 * server's text is ours, digit for digit, and a FLOAT column reads back
 * exactly. */
static void test_random_reals_match_text(void **state)
{
    MYSQL *m = open_db();
    exec(m, "CREATE TEMPORARY TABLE bres_reals (id INT PRIMARY KEY, d DOUBLE,"
            " f FLOAT)");
    const char *ins = "INSERT INTO bres_reals VALUES (?, ?, ?)";
    MYSQL_STMT *st = mysql_stmt_init(m);
    assert_int_equal(mysql_stmt_prepare(st, ins, strlen(ins)), 0);
    int id;
    double d;
    float f;
    MYSQL_BIND b[3];
    memset(b, 0, sizeof b);
    b[0].buffer_type = MYSQL_TYPE_LONG;
    b[0].buffer = &id;
    b[1].buffer_type = MYSQL_TYPE_DOUBLE;
    b[1].buffer = &d;
    b[2].buffer_type = MYSQL_TYPE_FLOAT;
    b[2].buffer = &f;
    assert_int_equal(mysql_stmt_bind_param(st, b), 0);
    exec(m, "BEGIN");
    for (id = 0; id < 3000 + 2098; id++) {
        d = id < 3000 ? rnd_double() : pow2(id - 3000 - 1074);
        f = id < 3000 ? (float)rnd_double() : (float)pow2(id % 277 - 149);
        if (!isfinite(f))
            f = 1.5f;
        if (id == 2999)
            d = -0.0;
        if (mysql_stmt_execute(st))
            print_error("%s\n", mysql_stmt_error(st));
        assert_int_equal(mysql_stmt_errno(st), 0);
    }
    exec(m, "COMMIT");
    mysql_stmt_close(st);
    assert_int_equal(assert_same(m, "SELECT * FROM bres_reals ORDER BY id"), 0);
    mysql_close(m);
}

/* A finite float from random bits: every sign, exponent and subnormal. */
static float rnd_float(void)
{
    for (;;) {
        uint32_t u = (uint32_t)(rnd() >> 32);
        float f;
        memcpy(&f, &u, sizeof f);
        if (isfinite(f))
            return f;
    }
}

/* A random double in (-lim, lim). */
static double rnd_within(double lim)
{
    return ((double)(rnd() >> 11) / 9007199254740992.0 * 2 - 1) * lim;
}

/*
 * 10,000 random float bit patterns and the edge values, bound as FLOAT
 * parameters (exact), in a FLOAT column, and random values in FLOAT and
 * DOUBLE columns of declared scales: the binary result's text is the text
 * protocol's, byte for byte, FLOAT(M,D) included. DOUBLE(M,D) may differ
 * where the server's rounding to the scale is not the nearest double (the
 * count is printed).
 */
static void test_random_floats_match_text(void **state)
{
    static const float edges[] = {
        1.4e-45f,    -1.4e-45f,    2.8e-45f,   1e-40f,          1.1754942e-38f,
        FLT_MIN,     -FLT_MIN,     FLT_MAX,    -FLT_MAX,        16777216.0f,
        16777217.0f, 0.1f,         1234567.0f, 1234565.0f,      0.0f,
        -0.0f,       1e15f,        1e16f,      123456789012.0f, 1.5e-5f,
        1e-15f,      0.000123456f, 999999.5f,  9999995.0f,      0.5f};
    const size_t nedge = sizeof edges / sizeof edges[0], n = 10000 + nedge;
    MYSQL *m = open_db();
    exec(m, "CREATE TEMPORARY TABLE bres_floats (id INT PRIMARY KEY,"
            " f FLOAT, f73 FLOAT(7,3), f2010 FLOAT(20,10),"
            " d2 DOUBLE(12,2), d2510 DOUBLE(25,10))");
    const char *ins = "INSERT INTO bres_floats VALUES (?, ?, ?, ?, ?, ?)";
    MYSQL_STMT *st = mysql_stmt_init(m);
    assert_int_equal(mysql_stmt_prepare(st, ins, strlen(ins)), 0);
    int id;
    float f, f73, f2010;
    double d2, d2510;
    MYSQL_BIND b[6];
    memset(b, 0, sizeof b);
    b[0].buffer_type = MYSQL_TYPE_LONG;
    b[0].buffer = &id;
    void *fb[] = {&f, &f73, &f2010};
    for (int k = 0; k < 3; k++) {
        b[1 + k].buffer_type = MYSQL_TYPE_FLOAT;
        b[1 + k].buffer = fb[k];
    }
    b[4].buffer_type = MYSQL_TYPE_DOUBLE;
    b[4].buffer = &d2;
    b[5].buffer_type = MYSQL_TYPE_DOUBLE;
    b[5].buffer = &d2510;
    assert_int_equal(mysql_stmt_bind_param(st, b), 0);
    exec(m, "BEGIN");
    for (id = 0; id < (int)n; id++) {
        f = (size_t)id < nedge ? edges[id] : rnd_float();
        f73 = (float)rnd_within(9999);
        f2010 = (float)rnd_within(1e9);
        d2 = rnd_within(1e9);
        d2510 = rnd_within(1e14);
        if (mysql_stmt_execute(st))
            print_error("%s\n", mysql_stmt_error(st));
        assert_int_equal(mysql_stmt_errno(st), 0);
    }
    exec(m, "COMMIT");
    mysql_stmt_close(st);
    size_t diffs = assert_same(m, "SELECT * FROM bres_floats ORDER BY id");
    print_message("%zu of %zu DOUBLE(M,D) cells differ in text only\n", diffs,
                  2 * n);
    mysql_close(m);
}

/* The values the issue names, checked by value as well. */
static void test_exact_values(void **state)
{
    MYSQL *m = open_db();
    exec(m, "CREATE TEMPORARY TABLE bres_exact (id INT PRIMARY KEY,"
            " u BIGINT UNSIGNED, s BIGINT, d DOUBLE, n DECIMAL(65,30),"
            " dt DATE, dtm DATETIME(6), t TIME(6), t0 TIME, b LONGBLOB,"
            " tx LONGTEXT)");
    exec(m,
         "INSERT INTO bres_exact VALUES"
         " (1, 18446744073709551615, -9223372036854775808, 1e308,"
         "  "
         "'12345678901234567890123456789012345.123456789012345678901234567890',"
         "  '2024-02-29', '2024-02-29 23:59:59.123456', '-12:34:56.000001',"
         "  '838:59:59', X'00FF00C328FE', '😀 ok'),"
         " (2, 0, 9223372036854775807, 4.9e-324,"
         "  '-0.000000000000000000000000000001', '1000-01-01',"
         "  '1970-01-01 00:00:00.000001', '838:59:59.000000', '-838:59:59',"
         "  '', ''),"
         " (3, NULL, NULL, 2.2250738585072014e-308, 0, NULL, NULL,"
         "  '-00:00:00.5', '00:00:00', NULL, NULL),"
         " (4, 1, -1, 0.1, NULL, NULL, NULL, NULL, NULL,"
         "  REPEAT(X'00FF', 524288), REPEAT('é😀', 174763))");
    amy_result *r = via_stmt(
        m,
        "SELECT u, s, d, n, dt, dtm, t, t0, b, tx FROM bres_exact ORDER BY id",
        NULL);
    assert_int_equal(r->nrows, 4);
    uint64_t u;
    int64_t s;
    double d;
    size_t len;
    assert_int_equal(amy_result_uint64(r, 0, 0, &u), AMY_OK);
    assert_true(u == UINT64_MAX);
    assert_string_equal(amy_result_value(r, 0, 0, NULL),
                        "18446744073709551615");
    assert_int_equal(amy_result_int64(r, 0, 1, &s), AMY_OK);
    assert_true(s == INT64_MIN);
    assert_int_equal(amy_result_int64(r, 1, 1, &s), AMY_OK);
    assert_true(s == INT64_MAX);
    assert_int_equal(amy_result_int64(r, 3, 1, &s), AMY_OK);
    assert_true(s == -1);
    assert_int_equal(amy_result_uint64(r, 1, 0, &u), AMY_OK);
    assert_true(u == 0);

    static const double want[] = {1e308, 4.9e-324, 2.2250738585072014e-308,
                                  0.1};
    static const char *const wtext[] = {"1e308", "5e-324",
                                        "2.2250738585072014e-308", "0.1"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(amy_result_double(r, i, 2, &d), AMY_OK);
        assert_memory_equal(&d, &want[i], sizeof d);
        assert_string_equal(amy_result_value(r, i, 2, NULL), wtext[i]);
    }

    assert_string_equal(
        amy_result_value(r, 0, 3, NULL),
        "12345678901234567890123456789012345.123456789012345678901234567890");
    assert_string_equal(amy_result_value(r, 1, 3, NULL),
                        "-0.000000000000000000000000000001");
    assert_string_equal(amy_result_value(r, 2, 3, NULL),
                        "0.000000000000000000000000000000");
    assert_string_equal(amy_result_value(r, 0, 4, NULL), "2024-02-29");
    assert_string_equal(amy_result_value(r, 1, 4, NULL), "1000-01-01");
    assert_string_equal(amy_result_value(r, 0, 5, NULL),
                        "2024-02-29 23:59:59.123456");
    assert_string_equal(amy_result_value(r, 1, 5, NULL),
                        "1970-01-01 00:00:00.000001");
    assert_string_equal(amy_result_value(r, 0, 6, NULL), "-12:34:56.000001");
    assert_string_equal(amy_result_value(r, 1, 6, NULL), "838:59:59.000000");
    assert_string_equal(amy_result_value(r, 2, 6, NULL), "-00:00:00.500000");
    assert_string_equal(amy_result_value(r, 0, 7, NULL), "838:59:59");
    assert_string_equal(amy_result_value(r, 1, 7, NULL), "-838:59:59");
    assert_string_equal(amy_result_value(r, 2, 7, NULL), "00:00:00");

    /* bytes: NUL, invalid UTF-8; empty is not NULL */
    const char *v = amy_result_value(r, 0, 8, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(v, "\0\xff\0\xc3\x28\xfe", 6);
    assert_int_equal(v[6], '\0');
    assert_string_equal(amy_result_value(r, 0, 9, &len), "\xf0\x9f\x98\x80 ok");
    assert_int_equal(len, 7);
    v = amy_result_value(r, 1, 8, &len);
    assert_non_null(v);
    assert_int_equal(len, 0);
    assert_int_equal(v[0], '\0');
    assert_non_null(amy_result_value(r, 1, 9, &len));
    assert_int_equal(len, 0);
    assert_null(amy_result_value(r, 2, 8, &len));
    assert_int_equal(len, 0);
    assert_null(amy_result_value(r, 2, 0, &len));
    assert_int_equal(amy_result_uint64(r, 2, 0, &u), AMY_ENULL);

    /* 1 MiB each */
    v = amy_result_value(r, 3, 8, &len);
    assert_int_equal(len, 1048576);
    for (size_t i = 0; i < len; i += 2)
        assert_true(v[i] == '\0' && v[i + 1] == '\xff');
    v = amy_result_value(r, 3, 9, &len);
    assert_int_equal(len, 174763 * 6);
    for (size_t i = 0; i < len; i += 6)
        assert_memory_equal(v + i, "\xc3\xa9\xf0\x9f\x98\x80", 6);
    assert_int_equal(v[len], '\0');
    amy__result_free(r);

    assert_same(m, "SELECT * FROM bres_exact ORDER BY id");
    mysql_close(m);
}

/* 1000 rows, and none. */
static void test_many_rows_and_none(void **state)
{
    MYSQL *m = open_db();
    const char *sql = "SELECT seq, seq * 1.5e0, CONCAT('row ', seq),"
                      " NULLIF(seq % 7, 0), seq / 7,"
                      " DATE_ADD('2000-01-01 00:00:00.000001',"
                      " INTERVAL seq SECOND) FROM seq_1_to_1000";
    assert_same(m, sql);
    amy_result *r = via_stmt(m, sql, NULL);
    assert_int_equal(r->nrows, 1000);
    for (size_t i = 0; i < 1000; i++) {
        int64_t v;
        assert_int_equal(amy_result_int64(r, i, 0, &v), AMY_OK);
        assert_int_equal(v, (int64_t)i + 1);
        assert_int_equal(amy_result_value(r, i, 3, NULL) == NULL,
                         (i + 1) % 7 == 0);
    }
    amy__result_free(r);

    sql = "SELECT seq AS n, 'x' AS s, 1.5e0 AS d FROM seq_1_to_3 WHERE seq > 5";
    assert_same(m, sql);
    r = via_stmt(m, sql, NULL);
    assert_int_equal(r->nrows, 0);
    assert_int_equal(r->ncols, 3);
    assert_string_equal(r->colnames[0], "n");
    assert_string_equal(r->colnames[2], "d");
    assert_int_equal(r->cols[2].type, AMY_COL_DOUBLE);
    assert_null(amy_result_value(r, 0, 0, NULL));
    amy__result_free(r);
    mysql_close(m);
}

/* 40 columns: the binds come from the heap, not the stack. */
static void test_many_columns(void **state)
{
    MYSQL *m = open_db();
    char sql[4096] = "SELECT ";
    size_t o = strlen(sql);
    for (int c = 0; c < 40; c++) {
        static const char *const kinds[] = {
            "seq + %d", "seq * %d.25e0", "CONCAT('c%d-', seq)",
            "IF(seq %% 2, NULL, %d)",
            "DATE_ADD('2024-01-01', INTERVAL %d DAY)"};
        o += (size_t)snprintf(sql + o, sizeof sql - o, kinds[c % 5], c);
        o += (size_t)snprintf(sql + o, sizeof sql - o, " AS c%d, ", c);
    }
    snprintf(sql + o - 2, sizeof sql - o + 2, " FROM seq_1_to_50");
    assert_same(m, sql);
    amy_result *r = via_stmt(m, sql, NULL);
    assert_int_equal(r->ncols, 40);
    assert_int_equal(r->nrows, 50);
    assert_string_equal(r->colnames[39], "c39");
    assert_string_equal(amy_result_value(r, 49, 2, NULL), "c2-50");
    amy__result_free(r);
    mysql_close(m);
}

/* A statement with no stored result (never executed): NULL, with the
 * connector's errno for it. */
static void test_fetch_error(void **state)
{
    MYSQL *m = open_db();
    MYSQL_STMT *st = mysql_stmt_init(m);
    assert_int_equal(mysql_stmt_prepare(st, "SELECT 1", 8), 0);
    unsigned err = 0;
    assert_null(amy__result_from_stmt(st, 0, 0, &err));
    assert_int_equal(err, CR_COMMANDS_OUT_OF_SYNC);
    assert_null(amy__result_from_stmt(st, 0, 0, NULL));
    mysql_stmt_close(st);

    /* no result set: a result with no columns */
    st = run_stmt(m, "DO 1");
    amy_result *r = amy__result_from_stmt(st, 3, 4, &err);
    assert_non_null(r);
    assert_int_equal(err, 0);
    assert_int_equal(r->ncols, 0);
    assert_int_equal(amy_result_affected_rows(r), 3);
    assert_int_equal(amy_result_insert_id(r), 4);
    amy__result_free(r);
    mysql_stmt_close(st);
    mysql_close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_double_cases),
        cmocka_unit_test(test_format_float_cases),
        cmocka_unit_test(test_format_real_reads_back),
        cmocka_unit_test(test_format_real_ignores_locale),
        cmocka_unit_test(test_types_match_text),
        cmocka_unit_test(test_expressions_match_text),
        cmocka_unit_test(test_random_reals_match_text),
        cmocka_unit_test(test_random_floats_match_text),
        cmocka_unit_test(test_exact_values),
        cmocka_unit_test(test_many_rows_and_none),
        cmocka_unit_test(test_many_columns),
        cmocka_unit_test(test_fetch_error),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mysql_library_end();
    return rc;
}
