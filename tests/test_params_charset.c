/*
 * Integration tests for src/params.c against the real server: TEXT and BLOB
 * literals of amy_query_params in the multibyte character sets where the
 * second byte of a character can be 0x5c, the backslash (gbk, big5, sjis,
 * cp932: the classic escaping bypass, where a lone lead byte before an
 * escaping backslash turns it into half of a character and frees the quote
 * behind it).
 *
 * A differential test. Random byte strings, most of them ill-formed on
 * purpose, go through amy_query_params with the connection in each charset,
 * with NO_BACKSLASH_ESCAPES off and on, and what the server stored is
 * compared with what was sent:
 *
 *   1. INSERT of ROWS rows per statement, each value twice: as TEXT into a
 *      LONGBLOB column (the literal is in the connection's charset and
 *      becomes bytes unchecked, so this shows exactly what the server's
 *      lexer read) and as BLOB into another. Every statement must succeed
 *      with exactly ROWS rows affected, and both columns must hold exactly
 *      the bytes sent. Every third statement has no backslash in its
 *      values, so it is escaped with quotes doubled only and pipelined;
 *      the others are escaped for the mode and sent when their
 *      connection has nothing in flight (amy__params_need_mode).
 *   2. UPDATE of the TEXT column in that charset with the value as TEXT,
 *      one row per statement (a statement with one ill-formed value fails
 *      whole), for the first tenth of the values. The rule for a column in
 *      the charset: the server either stores exactly the bytes, or refuses
 *      the statement with 1366 "Incorrect string value" (the value is not
 *      well-formed in the charset; sql_mode is strict) and changes nothing.
 *      Never another error (a syntax error is a literal that ended early),
 *      never other bytes, never another row than the one named: exactly one
 *      row affected on success. Which values are well-formed is the
 *      server's business (its tables know which codes are assigned; the
 *      connector's know only the byte ranges, which is all escaping needs),
 *      so the verdict itself is not checked, only that it is one of the
 *      two.
 *   3. One SELECT of the whole table at the end: every row as expected
 *      (exactly the bytes, or NULL where 1366 was the answer), no row more.
 *
 * The mode is set by the DSN's init= statements, which have run and
 * answered before a connection serves: the connector's escaper then knows
 * the mode from the server status that came with the answer.
 * test_mode_set_at_runtime changes it with a SET that has not answered yet
 * when the queries behind it are written.
 *
 * The seed is printed; AMY_TEST_SEED=N repeats a run. AMY_TEST_CHARSET_VALUES
 * sets the number of values per charset and mode (default 100000; 20000
 * under valgrind, where 100000 took 41 s on two cores, 16 s natively).
 */
#include "itest.h"

#include <inttypes.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define ROWS      50   /* values per INSERT */
#define WINDOW    2000 /* statements in flight before they are checked */
#define MAX_VALUE 40   /* longest random value, bytes */

/* ------------------------------------------------------------------------ */
/* Random values                                                            */
/* ------------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rng(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static unsigned below(unsigned n)
{
    return (unsigned)(rng() % n);
}

/* Bytes that mean something to the lexer or the escaper. */
static const unsigned char special[] = {
    0x5c, 0x5c, 0x5c, 0x27, 0x27, 0x27, 0x22, 0x00, 0x1a, '\n', '\r',
    '`',  '?',  '*',  '/',  '-',  '#',  ';',  ' ',  '%',  '_',
};

/* One byte: a special one, a lead byte (0x81-0xfe in all four charsets), a
 * byte of the second-byte ranges (0x40-0x7e holds 0x5c), anything. */
static unsigned char random_byte(void)
{
    unsigned r = below(100);
    if (r < 30)
        return special[below(sizeof special)];
    if (r < 60)
        return (unsigned char)(0x81 + below(0x7e));
    if (r < 75)
        return (unsigned char)(0x40 + below(0x3f));
    return (unsigned char)below(256);
}

/* A value of 0..MAX_VALUE bytes into v; returns its length. Some are
 * built around the dangerous pairs (lead byte + backslash or quote), some
 * end in a lone lead byte. Without backslash (quotes instead), a query
 * takes the other path of amy_query_params: literals read alike in both
 * modes, pipelined (amy__params_need_mode). */
static size_t random_value(unsigned char *v, int backslash)
{
    size_t len = below(8) == 0 ? below(MAX_VALUE + 1) : below(12);
    for (size_t i = 0; i < len; i++)
        v[i] = random_byte();
    if (len >= 2 && below(4) == 0) { /* lead + 0x5c or 0x27 somewhere */
        size_t at = below((unsigned)len - 1);
        v[at] = (unsigned char)(0x81 + below(0x7e));
        v[at + 1] = below(2) ? 0x5c : 0x27;
    }
    if (len < MAX_VALUE && below(5) == 0) /* a lone lead byte at the end */
        v[len++] = (unsigned char)(0x81 + below(0x7e));
    for (size_t i = 0; i < len && !backslash; i++)
        if (v[i] == 0x5c)
            v[i] = 0x27;
    return len;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static void hex(const unsigned char *p, size_t n, char *out)
{
    static const char d[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static uint64_t seed_for_run(void)
{
    const char *s = getenv("AMY_TEST_SEED");
    if (s && *s)
        return strtoull(s, NULL, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
}

static size_t values_per_run(void)
{
    const char *s = getenv("AMY_TEST_CHARSET_VALUES");
    if (s && *s)
        return (size_t)strtoul(s, NULL, 10);
    return RUNNING_ON_VALGRIND ? 20000 : 100000;
}

struct run {
    const char *charset;
    int nbe; /* NO_BACKSLASH_ESCAPES */
    uint64_t seed;
    size_t n;
    unsigned char (*val)[MAX_VALUE];
    size_t *len;
    signed char *stored; /* phase 2: 1 stored, 0 refused (1366) */
    size_t ncol;         /* values that go through phase 2 */
    size_t refused;
};

static void fail_value(const struct run *r, size_t id, const char *what,
                       const amy_future *f)
{
    char h[2 * MAX_VALUE + 1];
    hex(r->val[id], r->len[id], h);
    fail_msg("charset=%s NO_BACKSLASH_ESCAPES=%d seed=%" PRIu64
             " value %zu X'%s': %s (%s, errno %u: %s)",
             r->charset, r->nbe, r->seed, id, h, what,
             amy_status_name(amy_future_status(f)), amy_future_server_errno(f),
             amy_future_error(f) ? amy_future_error(f) : "");
}

static amy_pool *run_pool(const struct run *r)
{
    /* Strictness stays (1366 must be an error, not a silent '?'). */
    char params[256];
    snprintf(params, sizeof params, "charset=%s&pool=4&pipeline=64%s",
             r->charset,
             r->nbe ? "&init=SET%20SESSION%20sql_mode%3DCONCAT(%40%40sql_mode"
                      "%2C'%2CNO_BACKSLASH_ESCAPES')"
                    : "&init=SET%20SESSION%20sql_mode%3DREPLACE(%40%40sql_"
                      "mode%2C'NO_BACKSLASH_ESCAPES'%2C'')");
    return itest_pool(loop, params);
}

/* The session really is in the mode, and strict. */
static void check_mode(amy_pool *p, int nbe)
{
    amy_future *f = amy_query(p, "SELECT @@sql_mode");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    const char *mode = itest_value(f);
    assert_non_null(strstr(mode, "STRICT_TRANS_TABLES"));
    assert_int_equal(strstr(mode, "NO_BACKSLASH_ESCAPES") != NULL, nbe);
    amy_future_free(f);
}

/* Waits for n futures, then hands each to check and frees it. */
static void settle(amy_future **fs, size_t n, const struct run *r,
                   void (*check)(const struct run *, size_t, amy_future *),
                   const size_t *ids)
{
    if (n == 0)
        return;
    amy_future *g = amy_gather(fs, n);
    assert_non_null(g);
    amy_future_wait(g);
    amy_future_free(g);
    for (size_t i = 0; i < n; i++) {
        check(r, ids[i], fs[i]);
        amy_future_free(fs[i]);
    }
}

static void check_insert(const struct run *r, size_t first, amy_future *f)
{
    size_t rows = r->n - first < ROWS ? r->n - first : ROWS;
    /* The value named is the statement's first. */
    if (amy_future_status(f) != AMY_OK)
        fail_value(r, first, "the INSERT of this value and the next failed", f);
    if (amy_result_affected_rows(amy_future_result(f)) != rows)
        fail_value(r, first,
                   "the INSERT of this value and the next affected another "
                   "number of rows",
                   f);
}

static void check_update(const struct run *r, size_t id, amy_future *f)
{
    struct run *w = (struct run *)r;
    if (amy_future_status(f) == AMY_OK) {
        if (amy_result_affected_rows(amy_future_result(f)) != 1)
            fail_value(r, id, "UPDATE affected another number of rows", f);
        w->stored[id] = 1;
        return;
    }
    if (amy_future_status(f) != AMY_ESERVER ||
        amy_future_server_errno(f) != 1366)
        fail_value(r, id, "UPDATE failed, and not with 1366", f);
    w->stored[id] = 0;
    w->refused++;
}

/* 1. INSERT, ROWS values per statement, each as TEXT and as BLOB. Every
 * other statement puts its TEXT placeholders in an executable comment,
 * where the renderer cuts a literal at each star-slash (params.c). */
static void insert_all(amy_pool *p, struct run *r)
{
    amy_future *fs[WINDOW] = {0};
    size_t ids[WINDOW], nf = 0;
    amy_value params[2 * ROWS];
    char sql[ROWS * 40 + 64];
    for (size_t first = 0; first < r->n; first += ROWS) {
        size_t rows = r->n - first < ROWS ? r->n - first : ROWS;
        int exec = (first / ROWS) % 2;
        int o = snprintf(sql, sizeof sql,
                         "INSERT INTO tcs_%s (id, tb, b) VALUES ", r->charset);
        for (size_t k = 0; k < rows; k++) {
            size_t id = first + k;
            o += snprintf(sql + o, sizeof sql - (size_t)o, "%s(%zu, %s, ?)",
                          k ? ", " : "", id, exec ? "/*!10000 ? */" : "?");
            params[2 * k] = amy_val_text((const char *)r->val[id], r->len[id]);
            params[2 * k + 1] = amy_val_blob(r->val[id], r->len[id]);
        }
        ids[nf] = first;
        fs[nf] = amy_query_params(p, sql, params, 2 * rows);
        assert_non_null(fs[nf]);
        if (++nf == WINDOW) {
            settle(fs, nf, r, check_insert, ids);
            nf = 0;
        }
    }
    settle(fs, nf, r, check_insert, ids);
}

/* 2. The column in the charset, one value per statement (a statement with
 * one ill-formed value fails whole): the first ncol values. */
static void update_some(amy_pool *p, struct run *r)
{
    amy_future *fs[WINDOW] = {0};
    size_t ids[WINDOW], nf = 0;
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE tcs_%s SET tx = ? WHERE id = ?",
             r->charset);
    for (size_t id = 0; id < r->ncol; id++) {
        amy_value v[2] = {amy_val_text((const char *)r->val[id], r->len[id]),
                          amy_val_uint64(id)};
        ids[nf] = id;
        fs[nf] = amy_query_params(p, sql, v, 2);
        assert_non_null(fs[nf]);
        if (++nf == WINDOW) {
            settle(fs, nf, r, check_update, ids);
            nf = 0;
        }
    }
    settle(fs, nf, r, check_update, ids);
}

/* 3. The whole table: each row as sent, no row more. */
static void read_back(amy_pool *p, struct run *r)
{
    char sql[128];
    snprintf(sql, sizeof sql,
             "SELECT id, HEX(tb), HEX(b), HEX(tx) FROM tcs_%s ORDER BY id",
             r->charset);
    amy_future *f = amy_query(p, sql);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    const amy_result *res = amy_future_result(f);
    assert_int_equal(amy_result_nrows(res), r->n);
    for (size_t id = 0; id < r->n; id++) {
        char want[2 * MAX_VALUE + 1], idtxt[24];
        hex(r->val[id], r->len[id], want);
        snprintf(idtxt, sizeof idtxt, "%zu", id);
        const char *got_id = amy_result_value(res, id, 0, NULL);
        const char *tb = amy_result_value(res, id, 1, NULL);
        const char *b = amy_result_value(res, id, 2, NULL);
        const char *tx = amy_result_value(res, id, 3, NULL);
        if (strcmp(got_id, idtxt) != 0)
            fail_value(r, id, "rows out of order or missing", f);
        if (strcmp(tb, want) != 0) {
            print_error("stored as TEXT: X'%s'\n", tb);
            fail_value(r, id, "the TEXT literal read as other bytes", f);
        }
        if (strcmp(b, want) != 0) {
            print_error("stored as BLOB: X'%s'\n", b);
            fail_value(r, id, "the BLOB literal read as other bytes", f);
        }
        int stored = id < r->ncol && r->stored[id];
        if (stored ? tx == NULL || strcmp(tx, want) != 0 : tx != NULL) {
            print_error("in the %s column: %s%s\n", r->charset,
                        tx ? "X'" : "NULL", tx ? tx : "");
            fail_value(r, id,
                       stored ? "the column in the charset holds other bytes"
                              : "the column was to stay NULL",
                       f);
        }
    }
    amy_future_free(f);
}

static void run_one(const char *charset, int nbe)
{
    struct run r = {.charset = charset, .nbe = nbe, .n = values_per_run()};
    r.ncol = r.n / 10;
    r.seed = seed_for_run();
    print_message("charset=%s NO_BACKSLASH_ESCAPES=%d: %zu values "
                  "(%zu into the %s column), AMY_TEST_SEED=%" PRIu64 "\n",
                  charset, nbe, r.n, r.ncol, charset, r.seed);
    rng_state = r.seed;
    r.val = malloc(r.n * sizeof *r.val);
    r.len = malloc(r.n * sizeof *r.len);
    r.stored = malloc(r.n);
    assert_true(r.val && r.len && r.stored);
    for (size_t i = 0; i < r.n; i++)
        r.len[i] = random_value(r.val[i], i / ROWS % 3 != 0);

    amy_pool *p = run_pool(&r);
    check_mode(p, nbe);
    char sql[256];
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS tcs_%s", charset);
    itest_exec(p, sql);
    /* MyISAM: no commit to flush per statement. */
    snprintf(sql, sizeof sql,
             "CREATE TABLE tcs_%s (id INT PRIMARY KEY, tb LONGBLOB NOT NULL, "
             "b LONGBLOB NOT NULL, tx TEXT CHARACTER SET %s) ENGINE=MyISAM",
             charset, charset);
    itest_exec(p, sql);

    insert_all(p, &r);
    update_some(p, &r);
    read_back(p, &r);
    /* Not an assertion (the server decides): that both outcomes of phase
     * 2 were seen, in numbers. */
    print_message("  %zu of %zu refused by the %s column (1366)\n", r.refused,
                  r.ncol, charset);

    snprintf(sql, sizeof sql, "DROP TABLE tcs_%s", charset);
    itest_exec(p, sql);
    amy_pool_free(p);
    free(r.val);
    free(r.len);
    free(r.stored);
}

static void test_gbk(void **state)
{
    (void)state;
    run_one("gbk", 0);
    run_one("gbk", 1);
}

static void test_big5(void **state)
{
    (void)state;
    run_one("big5", 0);
    run_one("big5", 1);
}

static void test_sjis(void **state)
{
    (void)state;
    run_one("sjis", 0);
    run_one("sjis", 1);
}

static void test_cp932(void **state)
{
    (void)state;
    run_one("cp932", 0);
    run_one("cp932", 1);
}

/* ------------------------------------------------------------------------ */
/* Multibyte characters in the SQL itself                                   */
/* ------------------------------------------------------------------------ */

/*
 * The placeholders of a statement whose own literals hold a character with
 * a second byte 0x5c (in '...') or 0x60 (in `...`): the scan must read it
 * whole, as the server does. Read byte by byte, '?' in the second literal
 * was taken for the placeholder, and the value, written there, was code:
 * the query gained a column CURRENT_USER(). amy_exec counts placeholders
 * the same way (it refused these statements, 0 placeholders for 1 value).
 */
static void sql_literals(const char *charset, unsigned char lead)
{
    char params[64];
    snprintf(params, sizeof params, "charset=%s", charset);
    amy_pool *p = itest_pool(loop, params);
    char quoted[96], ident[96];
    snprintf(quoted, sizeof quoted,
             "SELECT HEX('%c\\') AS h, '?' AS q, HEX(?) AS v", lead);
    snprintf(ident, sizeof ident, "SELECT 1 AS `%c`?`, HEX(?) AS v", lead);
    const char *evil = "x` , CURRENT_USER() AS injected -- ";
    char want[96];
    hex((const unsigned char *)evil, strlen(evil), want);
    amy_value v = amy_val_text(evil, strlen(evil));
    const char *sqls[] = {quoted, ident};
    for (int k = 0; k < 2; k++) {
        for (int exec = 0; exec < 2; exec++) {
            amy_future *f = exec ? amy_exec(p, sqls[k], &v, 1)
                                 : amy_query_params(p, sqls[k], &v, 1);
            if (amy_future_wait(f) != AMY_OK)
                fail_msg("%s %s: %s", charset, exec ? "amy_exec" : "params",
                         amy_future_error(f));
            const amy_result *r = amy_future_result(f);
            size_t nc = amy_result_ncols(r);
            assert_int_equal(nc, k == 0 ? 3 : 2);
            assert_string_equal(amy_result_value(r, 0, nc - 1, NULL), want);
            if (k == 0) {
                char h[8];
                snprintf(h, sizeof h, "%02X5C", lead);
                assert_string_equal(amy_result_value(r, 0, 0, NULL), h);
                assert_string_equal(amy_result_value(r, 0, 1, NULL), "?");
            }
            amy_future_free(f);
        }
    }
    amy_pool_free(p);
}

static void test_multibyte_sql(void **state)
{
    (void)state;
    sql_literals("gbk", 0x81);
    sql_literals("big5", 0xa4);
    sql_literals("sjis", 0x95);
    sql_literals("cp932", 0x95);
}

/* ------------------------------------------------------------------------ */
/* The mode changed at runtime                                              */
/* ------------------------------------------------------------------------ */

static amy_conn *acquire(amy_pool *p)
{
    amy_future *f = amy_pool_acquire(p);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    amy_conn *c = amy_future_conn(f);
    assert_non_null(c);
    amy_future_free(f);
    return c;
}

/*
 * A SET sql_mode and, pipelined right behind it on the same connection,
 * SELECT HEX(?) of values written to break out of a literal escaped for
 * the other mode. Before the fix the value was escaped for the mode of the
 * last answer read, the SET's still being on its way: ') OR 1=1 -- made
 * the query select 1 once NO_BACKSLASH_ESCAPES was on, \') OR 1=1 -- once
 * it was off. Each must come back as its own bytes, right behind the SET
 * and afterwards.
 */
static void mode_flip(const char *dsn_params, const char *set)
{
    static const char *const evil[] = {
        "') OR 1=1 -- ", "\\') OR 1=1 -- ",    "\\", "'", "\\'",
        "a\\\\'b",       "\x95\\' OR 1=1 -- ", /* sjis: 0x95 0x5c is one character */
    };
    amy_pool *p = itest_pool(loop, dsn_params);
    for (size_t i = 0; i < sizeof evil / sizeof *evil; i++) {
        amy_conn *c = acquire(p);
        amy_value v = amy_val_text(evil[i], strlen(evil[i]));
        amy_future *s = amy_conn_query(c, set);
        amy_future *q = amy_conn_query_params(c, "SELECT HEX(?)", &v, 1);
        amy_future *q2 = amy_conn_query_params(c, "SELECT HEX(?)", &v, 1);
        amy_future *fs[] = {s, q, q2};
        amy_future *g = amy_gather(fs, 3);
        amy_future_wait(g);
        char want[64];
        hex((const unsigned char *)evil[i], strlen(evil[i]), want);
        for (int k = 0; k < 3; k++)
            if (amy_future_status(fs[k]) != AMY_OK)
                fail_msg("%s then value %zu: %s", set, i,
                         amy_future_error(fs[k]));
        assert_string_equal(itest_value(q), want);
        assert_string_equal(itest_value(q2), want);
        amy_future_free(g);
        for (int k = 0; k < 3; k++)
            amy_future_free(fs[k]);
        amy_conn_release(c); /* the reset puts the session's mode back */
    }
    amy_pool_free(p);
}

static void test_mode_set_at_runtime(void **state)
{
    (void)state;
    mode_flip("pool=1", "SET sql_mode=CONCAT(@@sql_mode, "
                        "',NO_BACKSLASH_ESCAPES')");
    mode_flip("pool=1&init=SET%20sql_mode%3D'NO_BACKSLASH_ESCAPES'",
              "SET sql_mode=''");
    mode_flip("pool=1&charset=sjis", "SET sql_mode=CONCAT(@@sql_mode, "
                                     "',NO_BACKSLASH_ESCAPES')");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gbk),
        cmocka_unit_test(test_big5),
        cmocka_unit_test(test_sjis),
        cmocka_unit_test(test_cp932),
        cmocka_unit_test(test_multibyte_sql),
        cmocka_unit_test(test_mode_set_at_runtime),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
