/*
 * Prepared statements (src/stmt.c): amy_exec, amy_exec_batch, the
 * per-connection cache, against a real server.
 *
 * Needs AMY_TEST_DSN; the tests that change server settings (a low
 * max_prepared_stmt_count, a small max_allowed_packet) also need
 * AMY_TEST_ROOT_SOCKET, and put the settings back.
 */
#include "itest.h"

#include <math.h>

/* The server's count of prepared statements, all connections. */
static long prepared_count(amy_pool *admin)
{
    amy_future *f =
        amy_query(admin, "SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    long n =
        strtol(amy_result_value(amy_future_result(f), 0, 1, NULL), NULL, 10);
    amy_future_free(f);
    return n;
}

/* One value of a global variable, as a string the caller frees. */
static char *global_var(amy_pool *admin, const char *name)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT @@GLOBAL.%s", name);
    amy_future *f = amy_query(admin, sql);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    char *v = strdup(itest_value(f));
    amy_future_free(f);
    return v;
}

static void set_global(amy_pool *admin, const char *name, const char *value)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SET GLOBAL %s = %s", name, value);
    itest_exec(admin, sql);
}

/* A server setting a test changes, put back by restore_global even when
 * the test fails half-way. */
static const char *saved_name;
static char *saved_value;

static void change_global(amy_pool *admin, const char *name, const char *value)
{
    saved_name = name;
    saved_value = global_var(admin, name);
    set_global(admin, name, value);
}

static int restore_global(void **state)
{
    (void)state;
    if (!saved_value)
        return 0;
    amy_pool *admin = itest_admin_pool(loop);
    set_global(admin, saved_name, saved_value);
    amy_pool_free(admin);
    free(saved_value);
    saved_value = NULL;
    return 0;
}

/* amy_exec that must succeed; the caller frees the future. */
static amy_future *exec_ok(amy_pool *p, const char *sql, const amy_value *v,
                           size_t n)
{
    amy_future *f = amy_exec(p, sql, v, n);
    assert_non_null(f);
    int st = amy_future_wait(f);
    if (st != AMY_OK)
        print_error("%s: %s\n", sql, amy_future_error(f));
    assert_int_equal(st, AMY_OK);
    return f;
}

static void exec_done(amy_pool *p, const char *sql, const amy_value *v,
                      size_t n)
{
    amy_future_free(exec_ok(p, sql, v, n));
}

/* ------------------------------------------------------------------------ */
/* Values: every one read back equals the one sent                          */
/* ------------------------------------------------------------------------ */

/* Stores v in column col of row k, then reads it back through both
 * protocols and compares the bytes with want. */
static void round_trip(amy_pool *p, int k, const char *col, amy_value v,
                       const char *want, size_t wlen)
{
    char sql[160];
    snprintf(sql, sizeof sql, "INSERT INTO rt (k, %s) VALUES (?, ?)", col);
    amy_value ins[2] = {amy_val_int64(k), v};
    exec_done(p, sql, ins, 2);

    snprintf(sql, sizeof sql, "SELECT %s FROM rt WHERE k = ?", col);
    amy_value key = amy_val_int64(k);
    amy_future *bin = exec_ok(p, sql, &key, 1);
    snprintf(sql, sizeof sql, "SELECT %s FROM rt WHERE k = %d", col, k);
    amy_future *txt = amy_query(p, sql);
    assert_int_equal(amy_future_wait(txt), AMY_OK);
    amy_future *both[2] = {bin, txt};
    for (int i = 0; i < 2; i++) {
        size_t len = 99;
        const amy_result *r = amy_future_result(both[i]);
        assert_int_equal(amy_result_nrows(r), 1);
        const char *got = amy_result_value(r, 0, 0, &len);
        if (!want) {
            assert_null(got);
            continue;
        }
        assert_non_null(got);
        assert_int_equal(len, wlen);
        assert_memory_equal(got, want, wlen);
    }
    amy_future_free(bin);
    amy_future_free(txt);
}

static void test_exec_round_trip(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    itest_exec(p, "CREATE TEMPORARY TABLE rt (k INT PRIMARY KEY, t LONGTEXT, "
                  "b LONGBLOB, i BIGINT, u BIGINT UNSIGNED, d DOUBLE, "
                  "dt DATETIME(6), da DATE, ti TIME(6)) "
                  "CHARACTER SET utf8mb4");
    int k = 0;
    static const char *texts[] = {
        "it's", "back\\slash\\", "%_%", "\"q\"", "emoji \xf0\x9f\x98\x80", "",
        "?",    "x' OR '1'='1"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        round_trip(p, ++k, "t", amy_val_text(texts[i], strlen(texts[i])),
                   texts[i], strlen(texts[i]));
    round_trip(p, ++k, "t", amy_val_text("nul\0byte", 8), "nul\0byte", 8);
    round_trip(p, ++k, "b", amy_val_blob("\xff\xfe\0\x80", 4), "\xff\xfe\0\x80",
               4);
    round_trip(p, ++k, "t", amy_val_null(), NULL, 0);
    round_trip(p, ++k, "b", amy_val_blob("", 0), "", 0);

    size_t big = 1 << 20;
    char *mib = malloc(big);
    assert_non_null(mib);
    for (size_t i = 0; i < big; i++)
        mib[i] = (char)('a' + i % 26);
    mib[77] = '\'';
    mib[78] = '\\';
    round_trip(p, ++k, "t", amy_val_text(mib, big), mib, big);
    for (size_t i = 0; i < big; i++)
        mib[i] = (char)(i * 7);
    round_trip(p, ++k, "b", amy_val_blob(mib, big), mib, big);
    free(mib);

    round_trip(p, ++k, "i", amy_val_int64(INT64_MIN), "-9223372036854775808",
               20);
    round_trip(p, ++k, "i", amy_val_int64(INT64_MAX), "9223372036854775807",
               19);
    round_trip(p, ++k, "u", amy_val_uint64(UINT64_MAX), "18446744073709551615",
               20);

    amy_time dt = {2024, 2, 29, 23, 59, 59, 123456, 0};
    amy_time da = {1999, 12, 31, 0, 0, 0, 0, 0};
    amy_time ti = {0, 0, 0, 838, 59, 59, 999999, 1};
    amy_time ti2 = {0, 0, 1, 2, 3, 4, 5, 0}; /* a day is 24 hours */
    round_trip(p, ++k, "dt", amy_val_time(AMY_TYPE_DATETIME, dt),
               "2024-02-29 23:59:59.123456", 26);
    round_trip(p, ++k, "da", amy_val_time(AMY_TYPE_DATE, da), "1999-12-31", 10);
    round_trip(p, ++k, "ti", amy_val_time(AMY_TYPE_TIME, ti),
               "-838:59:59.999999", 17);
    round_trip(p, ++k, "ti", amy_val_time(AMY_TYPE_TIME, ti2),
               "26:03:04.000005", 15);

    /* Doubles: the binary result keeps the exact bits. */
    static const double doubles[] = {1e308,
                                     -1e308,
                                     4.9406564584124654e-324,
                                     2.2250738585072014e-308,
                                     0.1,
                                     -1.5,
                                     1.0 / 3.0,
                                     123456789012345678.0,
                                     -0.0};
    for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
        amy_value ins[2] = {amy_val_int64(++k), amy_val_double(doubles[i])};
        exec_done(p, "INSERT INTO rt (k, d) VALUES (?, ?)", ins, 2);
        amy_future *f = exec_ok(p, "SELECT d, ? FROM rt WHERE k = ?",
                                (amy_value[]){ins[1], ins[0]}, 2);
        const amy_result *r = amy_future_result(f);
        for (size_t col = 0; col < 2; col++) { /* stored, and echoed */
            double back = 42;
            assert_int_equal(amy_result_double(r, 0, col, &back), AMY_OK);
            if (doubles[i] == 0) /* the column may drop the sign of -0 */
                assert_true(back == 0);
            else
                assert_memory_equal(&back, &doubles[i], sizeof back);
        }
        amy_future_free(f);
    }
    /* -0.0 reaches the server as -0: ATAN2(0, -0) is pi. */
    amy_value mz = amy_val_double(-0.0);
    amy_future *f = exec_ok(p, "SELECT ATAN2(0, ?) > 3", &mz, 1);
    assert_string_equal(itest_value(f), "1");
    amy_future_free(f);
    amy_pool_free(p);
}

/* The typed accessors read binary results exactly. */
static void test_exec_typed_results(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    itest_exec(p, "CREATE TEMPORARY TABLE ty (u BIGINT UNSIGNED, i BIGINT, "
                  "dec1 DECIMAL(65,30), f FLOAT, bl BLOB, dt DATETIME(3))");
    itest_exec(p, "INSERT INTO ty VALUES (18446744073709551615, "
                  "-9223372036854775808, "
                  "12345678901234567890123456789.123456789012345678901234567"
                  "89, 1.5, X'00FF00', '2020-01-02 03:04:05.678')");
    amy_future *f = exec_ok(p, "SELECT * FROM ty", NULL, 0);
    const amy_result *r = amy_future_result(f);
    uint64_t u = 0;
    int64_t i = 0;
    double d = 0;
    assert_int_equal(amy_result_uint64(r, 0, 0, &u), AMY_OK);
    assert_true(u == UINT64_MAX);
    assert_int_equal(amy_result_int64(r, 0, 0, &i), AMY_ERANGE);
    assert_true(amy_result_colflags(r, 0) & AMY_COLFLAG_UNSIGNED);
    assert_int_equal(amy_result_coltype(r, 0), AMY_COL_LONGLONG);
    assert_int_equal(amy_result_int64(r, 0, 1, &i), AMY_OK);
    assert_true(i == INT64_MIN);
    assert_string_equal(amy_result_value(r, 0, 2, NULL),
                        "12345678901234567890123456789."
                        "123456789012345678901234567890");
    assert_int_equal(amy_result_coltype(r, 2), AMY_COL_NEWDECIMAL);
    assert_int_equal(amy_result_double(r, 0, 3, &d), AMY_OK);
    assert_true(d == 1.5);
    size_t len = 0;
    const char *bl = amy_result_value(r, 0, 4, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(bl, "\0\xff\0", 3);
    assert_string_equal(amy_result_value(r, 0, 5, NULL),
                        "2020-01-02 03:04:05.678");
    assert_string_equal(amy_result_colname(r, 5), "dt");
    amy_future_free(f);

    /* 0 rows, and many rows. */
    f = exec_ok(p, "SELECT * FROM ty WHERE u = 0", NULL, 0);
    assert_int_equal(amy_result_nrows(amy_future_result(f)), 0);
    assert_int_equal(amy_result_ncols(amy_future_result(f)), 6);
    amy_future_free(f);
    amy_value n = amy_val_int64(2000);
    f = exec_ok(p, "SELECT seq, seq * 2 FROM seq_1_to_100000 WHERE seq <= ?",
                &n, 1);
    r = amy_future_result(f);
    assert_int_equal(amy_result_nrows(r), 2000);
    for (size_t row = 0; row < 2000; row += 199) {
        assert_int_equal(amy_result_int64(r, row, 1, &i), AMY_OK);
        assert_true(i == (int64_t)(row + 1) * 2);
    }
    amy_future_free(f);
    amy_pool_free(p);
}

/*
 * FLOAT through both protocols: amy_exec writes a FLOAT as the server
 * does (6 significant digits, or the declared scale's decimals of its
 * value), so the texts are the same byte for byte, and amy_result_double
 * gives the same number from either (the 6-digit one: the text protocol
 * never had the float's bits). Values sent as doubles, stored as floats.
 */
static void test_exec_float_edges(void **state)
{
    static const struct {
        double x;
        const char *f, *f2010; /* NULL: the column stays NULL */
    } cases[] = {
        {1.401298464324817e-45, "1.4013e-45", "0.0000000000"},
        {-1.401298464324817e-45, "-1.4013e-45", "0.0000000000"},
        {9.99994610111476e-41, "9.99995e-41", NULL},
        {1.1754943508222875e-38, "1.17549e-38", NULL},
        {3.4028234663852886e38, "3.40282e38", NULL},
        {-3.4028234663852886e38, "-3.40282e38", NULL},
        {16777216, "16777200", "16777216.0000000000"},
        {16777217, "16777200", "16777216.0000000000"}, /* stored 2^24 */
        {0.1, "0.1", "0.1000000015"},
        {1234567, "1234570", "1234567.0000000000"},
        {1234565, "1234560", "1234565.0000000000"}, /* a tie: to even */
        {-0.0, "0", "0.0000000000"},                /* the server stores 0 */
        {1e-5, "0.00001", "0.0000100000"},
    };
    const size_t n = sizeof cases / sizeof cases[0];
    amy_pool *p = itest_pool(loop, "pool=1");
    itest_exec(p, "CREATE TEMPORARY TABLE fl (k INT PRIMARY KEY, f FLOAT, "
                  "f2010 FLOAT(20,10))");
    for (size_t i = 0; i < n; i++) {
        amy_value v[3] = {amy_val_int64((int64_t)i), amy_val_double(cases[i].x),
                          cases[i].f2010 ? amy_val_double(cases[i].x)
                                         : amy_val_null()};
        exec_done(p, "INSERT INTO fl VALUES (?, ?, ?)", v, 3);
    }
    amy_future *bin = exec_ok(p, "SELECT f, f2010 FROM fl ORDER BY k", NULL, 0);
    amy_future *txt = amy_query(p, "SELECT f, f2010 FROM fl ORDER BY k");
    assert_int_equal(amy_future_wait(txt), AMY_OK);
    const amy_result *rb = amy_future_result(bin), *rt = amy_future_result(txt);
    assert_int_equal(amy_result_nrows(rb), n);
    assert_int_equal(amy_result_nrows(rt), n);
    for (size_t i = 0; i < n; i++) {
        const char *want[2] = {cases[i].f, cases[i].f2010};
        for (size_t c = 0; c < 2; c++) {
            const char *b = amy_result_value(rb, i, c, NULL);
            const char *t = amy_result_value(rt, i, c, NULL);
            if (!want[c]) {
                assert_null(b);
                assert_null(t);
                continue;
            }
            assert_string_equal(t, want[c]); /* the server's text */
            assert_string_equal(b, want[c]);
            double db, dt;
            assert_int_equal(amy_result_double(rb, i, c, &db), AMY_OK);
            assert_int_equal(amy_result_double(rt, i, c, &dt), AMY_OK);
            assert_memory_equal(&db, &dt, sizeof db);
        }
    }
    amy_future_free(bin);
    amy_future_free(txt);
    amy_pool_free(p);
}

static void test_exec_injection(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    itest_exec(p, "CREATE TEMPORARY TABLE pinj (t TEXT)");
    itest_exec(p, "INSERT INTO pinj VALUES ('a'), ('b')");
    static const char *attacks[] = {"x' OR '1'='1", "\\'; DROP TABLE pinj; --",
                                    "' OR 1=1 -- ", "\\", "a' OR 't'='t"};
    for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++) {
        amy_value v = amy_val_text(attacks[i], strlen(attacks[i]));
        amy_future *f =
            exec_ok(p, "SELECT COUNT(*) FROM pinj WHERE t = ?", &v, 1);
        assert_string_equal(itest_value(f), "0");
        amy_future_free(f);
        f = exec_ok(p, "DELETE FROM pinj WHERE t = ?", &v, 1);
        assert_int_equal(amy_result_affected_rows(amy_future_result(f)), 0);
        amy_future_free(f);
    }
    amy_future *f = amy_query(p, "SELECT COUNT(*) FROM pinj");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "2");
    amy_future_free(f);
    amy_pool_free(p);
}

static void test_exec_errors(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    amy_value one = amy_val_int64(7);
    amy_value two[2] = {one, one};

    /* Caught before anything is sent. */
    amy_future *f = amy_exec(p, "SELECT ?, ?", &one, 1);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    assert_non_null(strstr(amy_future_error(f), "2 placeholders"));
    amy_future_free(f);
    f = amy_exec(p, "SELECT ?", NULL, 1);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    amy_future_free(f);
    f = amy_exec(p, NULL, NULL, 0);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    amy_future_free(f);
    f = amy_exec(NULL, "SELECT 1", NULL, 0);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    amy_future_free(f);
    amy_value nan = amy_val_double(NAN);
    f = amy_exec(p, "SELECT ?", &nan, 1);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    amy_future_free(f);
    amy_time bad = {2023, 2, 29, 0, 0, 0, 0, 0};
    amy_value bd = amy_val_time(AMY_TYPE_DATE, bad);
    f = amy_exec(p, "SELECT ?", &bd, 1);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    assert_non_null(strstr(amy_future_error(f), "day 29"));
    amy_future_free(f);
    amy_value unknown = one;
    unknown.type = (amy_type)99;
    f = amy_exec(p, "SELECT ?", &unknown, 1);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    amy_future_free(f);
    amy_value badtext = amy_val_text(NULL, 3);
    f = amy_exec(p, "SELECT ?", &badtext, 1);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    amy_future_free(f);

    /* Refused by the server: its error, and the connection goes on. */
    f = amy_exec(p, "SELEC ?", &one, 1);
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(f), 1064);
    assert_string_equal(amy_future_sqlstate(f), "42000");
    amy_future_free(f);
    f = amy_exec(p, "SELECT * FROM no_such_table WHERE a = ?", &one, 1);
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(f), 1146);
    amy_future_free(f);
    /* Runs but fails at execution. */
    amy_value big = amy_val_int64(INT64_MAX);
    f = amy_exec(p, "SELECT ? + ?", (amy_value[]){big, big}, 2);
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(f), 1690);
    amy_future_free(f);
    /* ... and again, from the cache. */
    f = amy_exec(p, "SELECT ? + ?", (amy_value[]){big, big}, 2);
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    amy_future_free(f);

    f = exec_ok(p, "SELECT ? * ?", two, 2);
    assert_string_equal(itest_value(f), "49");
    amy_future_free(f);
    amy_pool_free(p);
}

/* ------------------------------------------------------------------------ */
/* The cache                                                                */
/* ------------------------------------------------------------------------ */

static void test_cache_hits(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2&stmt_cache=4");
    enum { N = 1000 };
    amy_future *fs[N];
    amy_value vals[N];
    for (int i = 0; i < N; i++) {
        vals[i] = amy_val_int64(i);
        fs[i] = amy_exec(p, "SELECT ? * 3", &vals[i], 1);
    }
    amy_future *g = amy_gather(fs, N);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    for (int i = 0; i < N; i++) {
        int64_t v = -1;
        assert_int_equal(amy_result_int64(amy_future_result(fs[i]), 0, 0, &v),
                         AMY_OK);
        assert_true(v == 3 * i);
        amy_future_free(fs[i]);
    }
    amy_future_free(g);
    amy_stats s;
    assert_int_equal(amy_pool_stats(p, &s), AMY_OK);
    /* One prepare per connection, the rest from the cache. */
    assert_true(s.stmt_cache_misses >= 1 && s.stmt_cache_misses <= 2);
    assert_int_equal(s.stmt_cache_hits + s.stmt_cache_misses, N);
    assert_int_equal(s.stmt_evictions, 0);
    assert_true(s.stmts_open >= 1 && s.stmts_open <= 2);
    amy_pool_free(p);
}

/* 10,000 distinct statements under a low max_prepared_stmt_count. */
static void test_cache_bounded(void **state)
{
    amy_pool *admin = itest_admin_pool(loop);
    change_global(admin, "max_prepared_stmt_count", "40");
    long base = prepared_count(admin);

    amy_pool *p = itest_pool(loop, "pool=4&stmt_cache=8");
    enum { N = 10000, BATCH = 500 };
    amy_future *fs[BATCH];
    char sql[64];
    long peak = 0;
    for (int b = 0; b < N / BATCH; b++) {
        for (int j = 0; j < BATCH; j++) {
            int i = b * BATCH + j;
            snprintf(sql, sizeof sql, "SELECT ? + %d", i);
            amy_value v = amy_val_int64(i);
            fs[j] = amy_exec(p, sql, &v, 1);
        }
        amy_future *g = amy_gather(fs, BATCH);
        amy_future_wait(g);
        for (int j = 0; j < BATCH; j++) {
            int i = b * BATCH + j;
            if (amy_future_status(fs[j]) != AMY_OK)
                print_error("statement %d: %s\n", i, amy_future_error(fs[j]));
            assert_int_equal(amy_future_status(fs[j]), AMY_OK);
            int64_t v = -1;
            assert_int_equal(
                amy_result_int64(amy_future_result(fs[j]), 0, 0, &v), AMY_OK);
            assert_true(v == 2 * i);
            amy_future_free(fs[j]);
        }
        amy_future_free(g);
        long now = prepared_count(admin) - base;
        if (now > peak)
            peak = now;
        assert_true(now <= 4 * 8);
    }
    amy_stats s;
    amy_pool_stats(p, &s);
    print_message("10000 distinct statements: misses=%llu evictions=%llu "
                  "open=%u peak Prepared_stmt_count=%ld (limit 40)\n",
                  (unsigned long long)s.stmt_cache_misses,
                  (unsigned long long)s.stmt_evictions, s.stmts_open, peak);
    assert_int_equal(s.stmt_cache_misses, N);
    assert_true(s.stmt_evictions >= N - 4 * 8);
    assert_true(s.stmts_open <= 4 * 8);
    assert_int_equal(s.completed, N);
    amy_pool_free(p);
    amy_pool_free(admin);
}

/* stmt_cache=0: prepare, execute, close every time. */
static void test_cache_off(void **state)
{
    amy_pool *admin = itest_admin_pool(loop);
    long base = prepared_count(admin);
    amy_pool *p = itest_pool(loop, "pool=1&stmt_cache=0");
    for (int i = 0; i < 50; i++) {
        amy_value v = amy_val_int64(i);
        amy_future *f = exec_ok(p, "SELECT ? - 1", &v, 1);
        int64_t x = 0;
        assert_int_equal(amy_result_int64(amy_future_result(f), 0, 0, &x),
                         AMY_OK);
        assert_true(x == i - 1);
        amy_future_free(f);
    }
    /* The server has run the last close when it answers the next query
     * on the same connection. */
    itest_exec(p, "SELECT 1");
    assert_int_equal(prepared_count(admin), base);
    amy_stats s;
    amy_pool_stats(p, &s);
    assert_int_equal(s.stmt_cache_misses, 50);
    assert_int_equal(s.stmt_cache_hits, 0);
    assert_int_equal(s.stmts_open, 0);
    amy_pool_free(p);
    amy_pool_free(admin);
}

/* The table changes under a cached statement: it still runs, and the
 * result has the new shape. */
static void test_cache_table_changes(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    itest_exec(p, "CREATE TEMPORARY TABLE chg (a INT)");
    itest_exec(p, "INSERT INTO chg VALUES (1)");
    amy_value one = amy_val_int64(1);
    amy_future *f = exec_ok(p, "SELECT * FROM chg WHERE a = ?", &one, 1);
    assert_int_equal(amy_result_ncols(amy_future_result(f)), 1);
    amy_future_free(f);
    itest_exec(p, "ALTER TABLE chg ADD COLUMN b VARCHAR(10) DEFAULT 'x'");
    f = exec_ok(p, "SELECT * FROM chg WHERE a = ?", &one, 1);
    const amy_result *r = amy_future_result(f);
    assert_int_equal(amy_result_ncols(r), 2);
    assert_string_equal(amy_result_value(r, 0, 1, NULL), "x");
    assert_string_equal(amy_result_colname(r, 1), "b");
    amy_future_free(f);

    /* Not a SELECT: it is not run twice. It ran, its rows could not be
     * read: an error that says so, and the next call prepares anew. */
    itest_exec(p, "INSERT INTO chg (a) VALUES (2), (3)");
    amy_value two = amy_val_int64(2), three = amy_val_int64(3);
    const char *del = "DELETE FROM chg WHERE a = ? RETURNING *";
    f = exec_ok(p, del, &one, 1);
    assert_int_equal(amy_result_nrows(amy_future_result(f)), 1);
    amy_future_free(f);
    itest_exec(p, "ALTER TABLE chg ADD COLUMN c INT DEFAULT 7");
    f = amy_exec(p, del, &two, 1);
    assert_int_equal(amy_future_wait(f), AMY_ECLIENT);
    assert_int_equal(amy_future_server_errno(f), 2057);
    amy_future_free(f);
    f = exec_ok(p, del, &three, 1);
    r = amy_future_result(f);
    assert_int_equal(amy_result_ncols(r), 3);
    assert_string_equal(amy_result_value(r, 0, 2, NULL), "7");
    amy_future_free(f);
    f = amy_query(p, "SELECT COUNT(*) FROM chg");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "0"); /* 2 was deleted too */
    amy_future_free(f);
    amy_pool_free(p);
}

static int none_open(const amy_stats *s)
{
    return s->conns_open == 0;
}

/* A connection killed while its statements are cached is replaced; the
 * new one prepares again. */
static void test_cache_connection_killed(void **state)
{
    amy_pool *admin = itest_admin_pool(loop);
    amy_pool *p = itest_pool(loop, "pool=1");
    amy_future *f = exec_ok(p, "SELECT CONNECTION_ID()", NULL, 0);
    char kill[64];
    snprintf(kill, sizeof kill, "KILL %s", itest_value(f));
    amy_future_free(f);
    itest_exec(admin, kill);
    /* The pool has seen it die (KILL returns before the session ends). */
    itest_run_until(loop, p, none_open, "the killed connection to close");
    for (int i = 0; i < 3; i++) {
        amy_value v = amy_val_int64(i);
        f = exec_ok(p, "SELECT ? + 100", &v, 1);
        assert_string_equal(itest_value(f), i == 0   ? "100"
                                            : i == 1 ? "101"
                                                     : "102");
        amy_future_free(f);
    }
    amy_pool_free(p);
    amy_pool_free(admin);
}

/* The connection dies under a running statement and under a batch: those
 * futures fail, exactly once; the pool goes on with a new connection. */
static void test_exec_connection_lost(void **state)
{
    amy_pool *admin = itest_admin_pool(loop);
    amy_pool *p = itest_pool(loop, "pool=1");
    itest_exec(p, "DROP TABLE IF EXISTS slost");
    itest_exec(p, "CREATE TABLE slost (id INT PRIMARY KEY, v LONGBLOB)");
    itest_gate gate;
    for (int round = 0; round < 2; round++) {
        amy_future *f = exec_ok(p, "SELECT CONNECTION_ID()", NULL, 0);
        char kill[64], running[160];
        snprintf(kill, sizeof kill, "KILL %s", itest_value(f));
        snprintf(running, sizeof running,
                 "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "
                 "ID = %s AND COMMAND = 'Execute'",
                 itest_value(f));
        amy_future_free(f);
        amy_future *victim;
        amy_value *rows = NULL;
        if (round == 0) {
            /* Behind a gate: running on the server when the kill lands. */
            itest_gate_close(&gate, loop, "t_stmt_gate");
            amy_value s = amy_val_int64(3);
            victim = amy_exec(p, "SELECT COUNT(*) + ? FROM t_stmt_gate", &s, 1);
        } else {
            enum { N = 2000 };
            static char blob[8192];
            rows = malloc(sizeof(amy_value) * 2 * N);
            for (int i = 0; i < N; i++) {
                rows[2 * i] = amy_val_int64(i);
                rows[2 * i + 1] = amy_val_blob(blob, sizeof blob);
            }
            victim = amy_exec_batch(p, "INSERT INTO slost VALUES (?, ?)", rows,
                                    N, 2);
        }
        amy_future *after = amy_exec(p, "SELECT 5", NULL, 0);
        if (round == 0)
            itest_wait_count(admin, running, 1);
        else
            itest_run_for(0.02); /* a batch: any phase will do */
        itest_exec(admin, kill);
        int st = amy_future_wait(victim);
        if (round == 0)
            itest_gate_open(&gate);
        if (round == 0 || st != AMY_OK) { /* a batch may finish first */
            assert_int_equal(st, AMY_ECONNLOST);
            assert_true(amy_future_server_errno(victim) == 2013 ||
                        amy_future_server_errno(victim) == 2006);
        }
        /* Queued behind it, never sent: it moves to a new connection. */
        assert_int_equal(amy_future_wait(after), AMY_OK);
        assert_string_equal(itest_value(after), "5");
        amy_future_free(victim);
        amy_future_free(after);
        free(rows);
    }
    itest_exec(p, "DROP TABLE slost");
    amy_pool_free(p);
    amy_pool_free(admin);
}

/* ------------------------------------------------------------------------ */
/* Results shapes, and living with the other kinds of query                 */
/* ------------------------------------------------------------------------ */

static void test_exec_call(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    itest_exec(p, "DROP PROCEDURE IF EXISTS amy_stmt_two");
    itest_exec(p, "CREATE PROCEDURE amy_stmt_two(IN x INT) BEGIN "
                  "SELECT x AS a; SELECT x * 2 AS b, 'z' AS c; END");
    amy_value v = amy_val_int64(21);
    amy_future *f = exec_ok(p, "CALL amy_stmt_two(?)", &v, 1);
    const amy_result *r = amy_future_result(f);
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "21");
    r = amy_result_next(r);
    assert_non_null(r);
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "42");
    assert_string_equal(amy_result_value(r, 0, 1, NULL), "z");
    r = amy_result_next(r); /* the CALL's own status */
    assert_non_null(r);
    assert_int_equal(amy_result_ncols(r), 0);
    assert_null(amy_result_next(r));
    amy_future_free(f);
    /* The connection is in step: run it again, and a plain query. */
    amy_future_free(exec_ok(p, "CALL amy_stmt_two(?)", &v, 1));
    itest_exec(p, "SELECT 1");
    itest_exec(p, "DROP PROCEDURE amy_stmt_two");
    amy_pool_free(p);
}

/* max_result_bytes bounds a prepared statement's rows as they are fetched
 * (one at a time, not stored by the connector first): over it, AMY_ETOOBIG
 * and the connection serves on; a CALL counts all its result sets. */
static void test_exec_max_result_bytes(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&max_result_bytes=1048576");
    amy_future *f = amy_query(p, "SELECT CONNECTION_ID()");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    char id[32];
    snprintf(id, sizeof id, "%s", itest_value(f));
    amy_future_free(f);

    /* 40 MB of rows: refused, and the process never held them. */
    FILE *clear = fopen("/proc/self/clear_refs", "w");
    if (clear) {
        fputs("5", clear); /* VmHWM back to the current RSS */
        fclose(clear);
    }
    long before = itest_status_kb("VmHWM:");
    amy_value n = amy_val_int64(200000);
    f = amy_exec(p,
                 "SELECT seq, REPEAT('p', 200) FROM seq_1_to_200000 "
                 "WHERE seq <= ?",
                 &n, 1);
    assert_int_equal(amy_future_wait(f), AMY_ETOOBIG);
    assert_non_null(strstr(amy_future_error(f), "max_result_bytes=1048576"));
    assert_null(amy_future_result(f));
    amy_future_free(f);
    long grew = itest_status_kb("VmHWM:") - before;
    print_message("amy_exec: 40 MB refused at 1 MiB, peak RSS grew by %ld kB\n",
                  grew);
    if (clear)
        assert_true(grew < 16 * 1024);

    /* Same statement under the limit (from the cache), same connection. */
    n = amy_val_int64(3000);
    f = exec_ok(p,
                "SELECT seq, REPEAT('p', 200) FROM seq_1_to_200000 "
                "WHERE seq <= ?",
                &n, 1);
    assert_int_equal(amy_result_nrows(amy_future_result(f)), 3000);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), 3000);
    assert_string_equal(amy_result_value(amy_future_result(f), 2999, 0, NULL),
                        "3000");
    amy_future_free(f);
    f = exec_ok(p, "SELECT CONNECTION_ID()", NULL, 0);
    assert_string_equal(itest_value(f), id);
    amy_future_free(f);

    /* A CALL whose two result sets fit one by one, not together. */
    itest_exec(p, "DROP PROCEDURE IF EXISTS amy_stmt_big");
    itest_exec(p, "CREATE PROCEDURE amy_stmt_big(IN x INT) BEGIN "
                  "SELECT REPEAT('a', x); SELECT REPEAT('b', x); END");
    n = amy_val_int64(600000);
    f = amy_exec(p, "CALL amy_stmt_big(?)", &n, 1);
    assert_int_equal(amy_future_wait(f), AMY_ETOOBIG);
    amy_future_free(f);
    n = amy_val_int64(1000);
    f = exec_ok(p, "CALL amy_stmt_big(?)", &n, 1);
    size_t len;
    const amy_result *r = amy_future_result(f);
    assert_int_equal(amy_result_value(r, 0, 0, &len)[0], 'a');
    assert_int_equal(len, 1000);
    assert_int_equal(amy_result_value(amy_result_next(r), 0, 0, &len)[0], 'b');
    amy_future_free(f);
    f = exec_ok(p, "SELECT CONNECTION_ID()", NULL, 0);
    assert_string_equal(itest_value(f), id);
    amy_future_free(f);
    itest_exec(p, "DROP PROCEDURE amy_stmt_big");
    amy_pool_free(p);

    /* 0: no limit. */
    p = itest_pool(loop, "pool=1&max_result_bytes=0");
    n = amy_val_int64(100000);
    f = exec_ok(p, "SELECT seq FROM seq_1_to_200000 WHERE seq <= ?", &n, 1);
    assert_int_equal(amy_result_nrows(amy_future_result(f)), 100000);
    amy_future_free(f);
    amy_pool_free(p);
}

/* Prepared statements between pipelined text queries: every answer goes
 * to its own future. */
static void test_exec_mixed_with_pipeline(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2&pipeline=32");
    enum { N = 2000 };
    amy_future **fs = calloc(N, sizeof *fs);
    char sql[64];
    for (int i = 0; i < N; i++) {
        amy_value v = amy_val_int64(i);
        if (i % 3 == 0) {
            fs[i] = amy_exec(p, "SELECT ? + 0", &v, 1);
        } else if (i % 3 == 1) {
            snprintf(sql, sizeof sql, "SELECT %d", i);
            fs[i] = amy_query(p, sql);
        } else {
            fs[i] = amy_query_params(p, "SELECT ?", &v, 1);
        }
    }
    amy_future *g = amy_gather(fs, N);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    for (int i = 0; i < N; i++) {
        int64_t v = -1;
        assert_int_equal(amy_result_int64(amy_future_result(fs[i]), 0, 0, &v),
                         AMY_OK);
        assert_true(v == i);
        amy_future_free(fs[i]);
    }
    amy_future_free(g);
    free(fs);
    amy_pool_free(p);
}

static void test_exec_timeout_and_cancel(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    amy_pool *watch = itest_pool(loop, "pool=1");
    /* Behind a gate: none can end before its timeout or cancel, where a
     * SLEEP(5) would only have promised 5 s. */
    itest_gate gate;
    itest_gate_close(&gate, loop, "t_stmt_gate");
    const char *gated = "SELECT COUNT(*) + ? FROM t_stmt_gate";
    const char *running = "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                          "WHERE COMMAND = 'Execute' AND INFO LIKE "
                          "'SELECT COUNT(*) + % FROM t_stmt_gate'";
    amy_value s = amy_val_int64(5);
    amy_future *f = amy_exec(p, gated, &s, 1);
    amy_future_set_timeout(f, 100);
    double t0 = itest_now();
    assert_int_equal(amy_future_wait(f), AMY_ETIMEDOUT);
    assert_true(itest_now() - t0 < 3);
    amy_future_free(f);
    itest_wait_count(watch, running, 0); /* killed: it cannot end otherwise */
    /* Cancelled before it ran, and while it runs. */
    f = amy_exec(p, gated, &s, 1);
    assert_int_equal(amy_future_cancel(f), 1);
    assert_int_equal(amy_future_status(f), AMY_ECANCELED);
    amy_future_free(f);
    f = amy_exec(p, gated, &s, 1);
    itest_wait_count(watch, running, 1);
    amy_future_free(f);     /* frees a pending one: cancelled */
    itest_gate_open(&gate); /* the next ones run, killed or not */
    amy_pool_free(watch);
    /* The connection serves the next statements. */
    for (int i = 0; i < 3; i++) {
        amy_value v = amy_val_int64(i);
        f = exec_ok(p, "SELECT ? + 1", &v, 1);
        int64_t x = 0;
        amy_result_int64(amy_future_result(f), 0, 0, &x);
        assert_true(x == i + 1);
        amy_future_free(f);
    }
    amy_stats st;
    amy_pool_stats(p, &st);
    assert_true(st.kills >= 1);
    amy_pool_free(p);
}

/* Pool freed with statements queued, running and cached. */
static void test_exec_pool_free(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2");
    amy_pool *watch = itest_pool(loop, "pool=1");
    amy_value s = amy_val_double(2);
    amy_future_free(exec_ok(p, "SELECT ?", &s, 1));
    /* Behind a gate: two running (pool=2) and three queued when freed. */
    itest_gate gate;
    itest_gate_close(&gate, loop, "t_stmt_gate");
    amy_future *fs[5];
    for (int i = 0; i < 5; i++)
        fs[i] = amy_exec(p, "SELECT COUNT(*) + ? FROM t_stmt_gate", &s, 1);
    itest_wait_count(watch,
                     "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                     "WHERE COMMAND = 'Execute' AND INFO LIKE "
                     "'SELECT COUNT(*) + % FROM t_stmt_gate'",
                     2);
    amy_pool_free(p);
    itest_gate_open(&gate);
    amy_pool_free(watch);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(amy_future_status(fs[i]), AMY_ECANCELED);
        amy_future_free(fs[i]);
    }
}

static void test_exec_pinned_transaction(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2");
    itest_exec(p, "DROP TABLE IF EXISTS stx");
    itest_exec(p, "CREATE TABLE stx (id INT PRIMARY KEY, v TEXT) "
                  "ENGINE=InnoDB");
    for (int commit = 0; commit < 2; commit++) {
        amy_future *a = amy_pool_acquire(p);
        assert_int_equal(amy_future_wait(a), AMY_OK);
        amy_conn *c = amy_future_conn(a);
        amy_future *fs[4];
        amy_value row[2] = {amy_val_int64(1000 + commit),
                            amy_val_text("one", 3)};
        amy_value rows[200];
        for (int i = 0; i < 100; i++) {
            rows[2 * i] = amy_val_int64(commit * 100 + i);
            rows[2 * i + 1] = amy_val_text("many", 4);
        }
        fs[0] = amy_begin(c);
        fs[1] = amy_conn_exec(c, "INSERT INTO stx VALUES (?, ?)", row, 2);
        fs[2] = amy_conn_exec_batch(c, "INSERT INTO stx VALUES (?, ?)", rows,
                                    100, 2);
        fs[3] = commit ? amy_commit(c) : amy_rollback(c);
        for (int i = 0; i < 4; i++) {
            assert_int_equal(amy_future_wait(fs[i]), AMY_OK);
            if (i == 2)
                assert_int_equal(
                    amy_result_affected_rows(amy_future_result(fs[i])), 100);
            amy_future_free(fs[i]);
        }
        amy_conn_release(c);
        amy_future_free(a);
    }
    amy_future *f = amy_query(p, "SELECT COUNT(*) FROM stx");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "101"); /* the committed round */
    amy_future_free(f);
    itest_exec(p, "DROP TABLE stx");
    amy_pool_free(p);
}

/* ------------------------------------------------------------------------ */
/* Bulk inserts                                                             */
/* ------------------------------------------------------------------------ */

static void test_batch_100k(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2");
    itest_exec(p, "DROP TABLE IF EXISTS sbulk");
    itest_exec(p, "CREATE TABLE sbulk (id INT PRIMARY KEY, k INT NOT NULL, "
                  "c CHAR(120) NOT NULL, pad CHAR(60)) ENGINE=InnoDB");
    enum { N = 100000 };
    amy_value *rows = malloc(sizeof(amy_value) * 4 * N);
    assert_non_null(rows);
    static const char c[] = "68487932199-96439406143-93774651418-41631865787-"
                            "96406072701-20604855487-25459966574-28203206787-"
                            "41238978918-19503783441";
    for (int i = 0; i < N; i++) {
        rows[4 * i] = amy_val_int64(i + 1);
        rows[4 * i + 1] = amy_val_int64(i % 1000);
        rows[4 * i + 2] = amy_val_text(c, sizeof c - 1);
        rows[4 * i + 3] = i % 10 == 0 ? amy_val_null() : amy_val_text("p", 1);
    }
    double t0 = itest_now();
    amy_future *f =
        amy_exec_batch(p, "INSERT INTO sbulk VALUES (?, ?, ?, ?)", rows, N, 4);
    free(rows); /* copied */
    assert_int_equal(amy_future_wait(f), AMY_OK);
    print_message("100,000 rows in %.2f s\n", itest_now() - t0);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), N);
    amy_future_free(f);
    f = amy_query(p, "SELECT COUNT(*), SUM(k), SUM(pad IS NULL), "
                     "SUM(c = '68487932199-96439406143-93774651418-"
                     "41631865787-96406072701-20604855487-25459966574-"
                     "28203206787-41238978918-19503783441') FROM sbulk");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    const amy_result *r = amy_future_result(f);
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "100000");
    assert_string_equal(amy_result_value(r, 0, 1, NULL), "49950000");
    assert_string_equal(amy_result_value(r, 0, 2, NULL), "10000");
    assert_string_equal(amy_result_value(r, 0, 3, NULL), "100000");
    amy_future_free(f);

    /* A duplicate key fails the future with 1062; the chunk is one
     * statement, so on InnoDB none of its rows stay. */
    amy_value dup[12] = {
        amy_val_int64(N + 1), amy_val_int64(0),     amy_val_text("d", 1),
        amy_val_null(),       amy_val_int64(500),   amy_val_int64(0),
        amy_val_text("d", 1), amy_val_null(),       amy_val_int64(N + 2),
        amy_val_int64(0),     amy_val_text("d", 1), amy_val_null()};
    f = amy_exec_batch(p, "INSERT INTO sbulk VALUES (?, ?, ?, ?)", dup, 3, 4);
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(f), 1062);
    assert_string_equal(amy_future_sqlstate(f), "23000");
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), 0);
    amy_future_free(f);
    f = amy_query(p, "SELECT COUNT(*) FROM sbulk");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "100000");
    amy_future_free(f);
    itest_exec(p, "DROP TABLE sbulk");
    amy_pool_free(p);
}

/* A batch over max_allowed_packet goes in several chunks; a row that no
 * packet can carry is refused before anything is sent. */
static void test_batch_chunks(void **state)
{
    amy_pool *admin = itest_admin_pool(loop);
    change_global(admin, "max_allowed_packet", "1048576");
    amy_pool *p = itest_pool(loop, "pool=1"); /* new sessions see 1 MiB */
    itest_exec(p, "DROP TABLE IF EXISTS schunk");
    itest_exec(p, "CREATE TABLE schunk (id INT PRIMARY KEY, b MEDIUMBLOB)");
    enum { N = 48, SZ = 64 * 1024 }; /* 3 MiB in all */
    char *blob = malloc(SZ);
    assert_non_null(blob);
    for (int i = 0; i < SZ; i++)
        blob[i] = (char)(i * 31);
    amy_value rows[2 * N];
    for (int i = 0; i < N; i++) {
        rows[2 * i] = amy_val_int64(i);
        rows[2 * i + 1] = amy_val_blob(blob, SZ);
    }
    amy_future *f =
        amy_exec_batch(p, "INSERT INTO schunk VALUES (?, ?)", rows, N, 2);
    if (amy_future_wait(f) != AMY_OK)
        print_error("chunked batch: %s\n", amy_future_error(f));
    assert_int_equal(amy_future_status(f), AMY_OK);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), N);
    amy_future_free(f);
    f = amy_query(p, "SELECT COUNT(*), SUM(LENGTH(b)), COUNT(DISTINCT b) "
                     "FROM schunk");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    const amy_result *r = amy_future_result(f);
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "48");
    assert_string_equal(amy_result_value(r, 0, 1, NULL), "3145728");
    assert_string_equal(amy_result_value(r, 0, 2, NULL), "1");
    amy_future_free(f);
    amy_value key = amy_val_int64(47);
    f = exec_ok(p, "SELECT b FROM schunk WHERE id = ?", &key, 1);
    size_t len = 0;
    const char *got = amy_result_value(amy_future_result(f), 0, 0, &len);
    assert_int_equal(len, SZ);
    assert_memory_equal(got, blob, SZ);
    amy_future_free(f);
    free(blob);

    /* One row larger than any packet: refused, nothing sent. */
    size_t huge = 2u << 20;
    char *hb = calloc(1, huge);
    amy_value one[4] = {amy_val_int64(100), amy_val_blob("x", 1),
                        amy_val_int64(101), amy_val_blob(hb, huge)};
    f = amy_exec_batch(p, "INSERT INTO schunk VALUES (?, ?)", one, 2, 2);
    assert_int_equal(amy_future_wait(f), AMY_EINVAL);
    assert_non_null(strstr(amy_future_error(f), "max_allowed_packet"));
    amy_future_free(f);
    free(hb);
    f = amy_query(p, "SELECT COUNT(*) FROM schunk");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "48");
    amy_future_free(f);
    itest_exec(p, "DROP TABLE schunk");
    amy_pool_free(p);
    amy_pool_free(admin);
}

static void test_batch_types_and_errors(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    itest_exec(p, "CREATE TEMPORARY TABLE sty (i BIGINT UNSIGNED, d DOUBLE, "
                  "t VARCHAR(20), dt DATETIME(6), ti TIME)");
    amy_time dt = {2001, 2, 3, 4, 5, 6, 7, 0};
    amy_time ti = {0, 0, 0, 100, 0, 1, 0, 1};
    amy_value rows[] = {
        amy_val_uint64(UINT64_MAX),
        amy_val_double(0.5),
        amy_val_text("a", 1),
        amy_val_time(AMY_TYPE_DATETIME, dt),
        amy_val_time(AMY_TYPE_TIME, ti),
        amy_val_int64(5), /* int64 and uint64 mix: every value fits */
        amy_val_null(),
        amy_val_blob("b\0c", 3),
        amy_val_null(),
        amy_val_null(),
    };
    amy_future *f =
        amy_exec_batch(p, "INSERT INTO sty VALUES (?,?,?,?,?)", rows, 2, 5);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), 2);
    amy_future_free(f);
    f = exec_ok(p, "SELECT * FROM sty ORDER BY i", NULL, 0);
    const amy_result *r = amy_future_result(f);
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "5");
    assert_null(amy_result_value(r, 0, 1, NULL));
    size_t len = 0;
    assert_memory_equal(amy_result_value(r, 0, 2, &len), "b\0c", 3);
    assert_int_equal(len, 3);
    assert_null(amy_result_value(r, 0, 3, NULL));
    assert_string_equal(amy_result_value(r, 1, 0, NULL),
                        "18446744073709551615");
    assert_string_equal(amy_result_value(r, 1, 1, NULL), "0.5");
    assert_string_equal(amy_result_value(r, 1, 3, NULL),
                        "2001-02-03 04:05:06.000007");
    assert_string_equal(amy_result_value(r, 1, 4, NULL), "-100:00:01");
    amy_future_free(f);

    /* Refused before sending: mixed types, negative with big unsigned,
     * wrong column count, no placeholders, bad values. */
    amy_value mixed[] = {amy_val_int64(1), amy_val_text("x", 1)};
    f = amy_exec_batch(p, "INSERT INTO sty (i) VALUES (?)", mixed, 2, 1);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    assert_non_null(strstr(amy_future_error(f), "mixes types"));
    amy_future_free(f);
    amy_value signs[] = {amy_val_int64(-1), amy_val_uint64(UINT64_MAX)};
    f = amy_exec_batch(p, "INSERT INTO sty (i) VALUES (?)", signs, 2, 1);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    amy_future_free(f);
    f = amy_exec_batch(p, "INSERT INTO sty (i, d) VALUES (?, ?)", mixed, 2, 1);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    amy_future_free(f);
    f = amy_exec_batch(p, "INSERT INTO sty (i) VALUES (1)", mixed, 2, 0);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    amy_future_free(f);
    amy_value nan = amy_val_double(NAN);
    f = amy_exec_batch(p, "INSERT INTO sty (d) VALUES (?)", &nan, 1, 1);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    assert_non_null(strstr(amy_future_error(f), "row 0"));
    amy_future_free(f);
    /* No rows: done at once. */
    f = amy_exec_batch(p, "INSERT INTO sty (i) VALUES (?)", NULL, 0, 1);
    assert_int_equal(amy_future_status(f), AMY_OK);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), 0);
    amy_future_free(f);
    /* The server refuses a value: its error. */
    amy_value neg[] = {amy_val_int64(-5)};
    itest_exec(p, "SET SESSION sql_mode = 'STRICT_ALL_TABLES'");
    f = amy_exec_batch(p, "INSERT INTO sty (i) VALUES (?)", neg, 1, 1);
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(f), 1264);
    amy_future_free(f);
    amy_pool_free(p);
}

int main(void)
{
    /* AMY_TEST_FILTER=test_batch_* runs only the tests that match. */
    if (getenv("AMY_TEST_FILTER"))
        cmocka_set_test_filter(getenv("AMY_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_round_trip),
        cmocka_unit_test(test_exec_typed_results),
        cmocka_unit_test(test_exec_float_edges),
        cmocka_unit_test(test_exec_injection),
        cmocka_unit_test(test_exec_errors),
        cmocka_unit_test(test_cache_hits),
        cmocka_unit_test_teardown(test_cache_bounded, restore_global),
        cmocka_unit_test(test_cache_off),
        cmocka_unit_test(test_cache_table_changes),
        cmocka_unit_test(test_cache_connection_killed),
        cmocka_unit_test(test_exec_connection_lost),
        cmocka_unit_test(test_exec_call),
        cmocka_unit_test(test_exec_max_result_bytes),
        cmocka_unit_test(test_exec_mixed_with_pipeline),
        cmocka_unit_test(test_exec_timeout_and_cancel),
        cmocka_unit_test(test_exec_pool_free),
        cmocka_unit_test(test_exec_pinned_transaction),
        cmocka_unit_test(test_batch_100k),
        cmocka_unit_test_teardown(test_batch_chunks, restore_global),
        cmocka_unit_test(test_batch_types_and_errors),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
