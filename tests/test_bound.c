/*
 * Integration tests for src/bound.c (max_result_bytes): a buffered text
 * result over the limit resolves AMY_ETOOBIG, its rows read and dropped
 * before the connector can pile them up, and the connection goes on
 * serving the queries pipelined behind it and the ones after.
 *
 * How a result counts (result.c, amy__rowbuf): each value's bytes plus its
 * NUL, and 16 bytes per cell (a value's pointer and length); the header
 * and column names of the result set being read are not counted, those
 * of the earlier result sets of the same query are.
 */
#include "itest.h"

#include "bound.h"
#include "dsn.h"

#define CELL 16 /* sizeof(amy__cell) on a 64-bit machine */

static amy_pool *pool_with_limit(size_t limit, const char *more)
{
    char params[256];
    snprintf(params, sizeof params, "max_result_bytes=%zu%s%s", limit,
             more ? "&" : "", more ? more : "");
    return itest_pool(loop, params);
}

/* The value of a one-value query, as a number. */
static unsigned long long number(amy_pool *p, const char *sql)
{
    amy_future *f = amy_query(p, sql);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    unsigned long long v = strtoull(itest_value(f), NULL, 10);
    amy_future_free(f);
    return v;
}

static void assert_too_big(amy_future *f, size_t limit)
{
    assert_int_equal(amy_future_status(f), AMY_ETOOBIG);
    assert_null(amy_future_result(f));
    assert_int_equal(amy_future_server_errno(f), 0);
    char want[64];
    snprintf(want, sizeof want, "max_result_bytes=%zu", limit);
    const char *msg = amy_future_error(f);
    assert_non_null(msg);
    if (!strstr(msg, want))
        fail_msg("message without '%s': %s", want, msg);
    assert_string_equal(amy_status_name(AMY_ETOOBIG), "AMY_ETOOBIG");
}

/* One value of 1000 bytes: 1001 + one cell. The exact size fits, a byte
 * less does not; either way the same connection answers next. */
static void test_limit_exact_and_one_under(void **state)
{
    const char *sql = "SELECT REPEAT('x', 1000)";
    size_t need = 1000 + 1 + CELL;

    amy_pool *p = pool_with_limit(need, "pool=1");
    unsigned long long id = number(p, "SELECT CONNECTION_ID()");
    amy_future *f = amy_query(p, sql);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    size_t len;
    const char *v = amy_result_value(amy_future_result(f), 0, 0, &len);
    assert_int_equal(len, 1000);
    assert_true(v[0] == 'x' && v[999] == 'x' && v[1000] == '\0');
    amy_future_free(f);
    amy_pool_free(p);

    p = pool_with_limit(need - 1, "pool=1");
    id = number(p, "SELECT CONNECTION_ID()");
    f = amy_query(p, sql);
    assert_int_equal(amy_future_wait(f), AMY_ETOOBIG);
    assert_too_big(f, need - 1);
    amy_future_free(f);
    /* Same connection, in step: its next answer is its own. */
    assert_int_equal(number(p, "SELECT CONNECTION_ID()"), id);
    assert_int_equal(number(p, "SELECT 42"), 42);
    amy_stats s = itest_stats(p);
    assert_int_equal(s.reconnects, 0);
    assert_int_equal(s.failed, 1);
    amy_pool_free(p);
}

/* Many rows: the limit falls in the middle of them; the rest are read and
 * dropped, and the connection is not replaced. */
static void test_many_rows_dropped_connection_kept(void **state)
{
    amy_pool *p = pool_with_limit(100000, "pool=1");
    unsigned long long id = number(p, "SELECT CONNECTION_ID()");
    /* 50,000 rows of 6-7 bytes + a cell: about 1.2 MB. */
    amy_future *f = amy_query(p, "SELECT seq FROM seq_1_to_50000");
    amy_future_wait(f);
    assert_too_big(f, 100000);
    amy_future_free(f);
    /* Just under: 4,000 rows of at most 5 bytes, 22 a row at most. */
    f = amy_query(p, "SELECT seq FROM seq_1_to_4000");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(amy_result_nrows(amy_future_result(f)), 4000);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), 4000);
    assert_string_equal(amy_result_value(amy_future_result(f), 3999, 0, NULL),
                        "4000");
    amy_future_free(f);
    assert_int_equal(number(p, "SELECT CONNECTION_ID()"), id);
    amy_pool_free(p);
}

/* Queries pipelined behind the one too big, on the same connection, each
 * get their own answer; so do the ones before it. */
static void test_pipelined_behind_get_their_answers(void **state)
{
    enum { N = 12, BIG = 4 };
    amy_pool *p = pool_with_limit(10000, "pool=1&pipeline=16");
    unsigned long long id = number(p, "SELECT CONNECTION_ID()");
    amy_future *fs[N];
    for (int i = 0; i < N; i++) {
        char sql[96];
        if (i == BIG)
            snprintf(sql, sizeof sql,
                     "SELECT seq, REPEAT('y', 100) FROM seq_1_to_1000");
        else if (i == BIG + 1)
            snprintf(sql, sizeof sql, "SELEC %d", i); /* its own error */
        else
            snprintf(sql, sizeof sql, "SELECT %d, REPEAT('z', %d)", i, i);
        fs[i] = amy_query(p, sql);
    }
    amy_future *all = amy_gather(fs, N);
    amy_future_wait(all);
    amy_stats s = itest_stats(p);
    for (int i = 0; i < N; i++) {
        if (i == BIG) {
            assert_too_big(fs[i], 10000);
        } else if (i == BIG + 1) {
            assert_int_equal(amy_future_status(fs[i]), AMY_ESERVER);
            assert_int_equal(amy_future_server_errno(fs[i]), 1064);
        } else {
            assert_int_equal(amy_future_status(fs[i]), AMY_OK);
            const amy_result *r = amy_future_result(fs[i]);
            assert_int_equal(amy_result_nrows(r), 1);
            assert_int_equal(strtol(amy_result_value(r, 0, 0, NULL), NULL, 10),
                             i);
            size_t len;
            amy_result_value(r, 0, 1, &len);
            assert_int_equal(len, (size_t)i);
        }
        amy_future_free(fs[i]);
    }
    amy_future_free(all);
    /* One connection served them all, pipelined, and serves on. */
    assert_int_equal(s.conns_open, 1);
    assert_int_equal(s.reconnects, 0);
    assert_int_equal(number(p, "SELECT CONNECTION_ID()"), id);
    amy_pool_free(p);
}

/* Another pool on the same loop is not disturbed meanwhile. */
static void test_other_pool_unaffected(void **state)
{
    amy_pool *small = pool_with_limit(1000, "pool=1");
    amy_pool *other = itest_pool(loop, "pool=1");
    amy_future *fs[2] = {
        amy_query(small, "SELECT REPEAT('q', 5000)"),
        amy_query(other, "SELECT REPEAT('q', 5000)"),
    };
    amy_future *all = amy_gather(fs, 2);
    amy_future_wait(all);
    assert_too_big(fs[0], 1000);
    assert_int_equal(amy_future_status(fs[1]), AMY_OK);
    size_t len;
    amy_result_value(amy_future_result(fs[1]), 0, 0, &len);
    assert_int_equal(len, 5000);
    amy_future_free(fs[0]);
    amy_future_free(fs[1]);
    amy_future_free(all);
    amy_pool_free(small);
    amy_pool_free(other);
}

/* Two result sets that each fit, whose total does not. The second is read
 * and dropped all the same, and what follows is in step. */
static void test_multi_result_total(void **state)
{
    const char *sql = "SELECT REPEAT('a', 600); SELECT REPEAT('b', 600)";
    amy_pool *p = pool_with_limit(1000, "pool=1&multi_statements=1");
    unsigned long long id = number(p, "SELECT CONNECTION_ID()");
    amy_future *f = amy_query(p, sql);
    amy_future *after = amy_query(p, "SELECT 7; SELECT 8");
    amy_future_wait(f);
    assert_too_big(f, 1000);
    assert_int_equal(amy_future_wait(after), AMY_OK);
    const amy_result *r = amy_future_result(after);
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "7");
    assert_string_equal(amy_result_value(amy_result_next(r), 0, 0, NULL), "8");
    amy_future_free(f);
    amy_future_free(after);
    assert_int_equal(number(p, "SELECT CONNECTION_ID()"), id);
    amy_pool_free(p);

    /* With room for both: both result sets. */
    p = pool_with_limit(3000, "pool=1&multi_statements=1");
    f = amy_query(p, sql);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    r = amy_future_result(f);
    size_t len;
    assert_int_equal(amy_result_value(r, 0, 0, &len)[0], 'a');
    assert_int_equal(len, 600);
    assert_int_equal(amy_result_value(amy_result_next(r), 0, 0, &len)[0], 'b');
    assert_int_equal(len, 600);
    amy_future_free(f);
    amy_pool_free(p);
}

/* amy_query_params buffers its result as amy_query does. */
static void test_query_params_bounded(void **state)
{
    amy_pool *p = pool_with_limit(2000, "pool=1");
    amy_value v[] = {amy_val_text("w", 1), amy_val_int64(5000)};
    amy_future *f = amy_query_params(p, "SELECT REPEAT(?, ?)", v, 2);
    amy_future_wait(f);
    assert_too_big(f, 2000);
    amy_future_free(f);
    v[1] = amy_val_int64(50);
    f = amy_query_params(p, "SELECT REPEAT(?, ?)", v, 2);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    size_t len;
    amy_result_value(amy_future_result(f), 0, 0, &len);
    assert_int_equal(len, 50);
    amy_future_free(f);
    amy_pool_free(p);
}

/* 0 means no limit; the default (256 MiB) takes a few MiB. */
static void test_zero_is_no_limit_and_default(void **state)
{
    const char *sql = "SELECT REPEAT('m', 4194304)"; /* 4 MiB */
    amy_pool *p = pool_with_limit(0, "pool=1");
    amy_future *f = amy_query(p, sql);
    int st = amy_future_wait(f);
    if (st != AMY_OK)
        fail_msg("%s", amy_future_error(f));
    size_t len;
    const char *v = amy_result_value(amy_future_result(f), 0, 0, &len);
    assert_int_equal(len, 4194304);
    assert_int_equal(v[4194303], 'm');
    amy_future_free(f);
    f = amy_query(p, "SELECT seq FROM seq_1_to_100000");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(amy_result_nrows(amy_future_result(f)), 100000);
    amy_future_free(f);
    amy_pool_free(p);

    p = itest_pool(loop, "pool=1");
    f = amy_query(p, "SELECT seq, REPEAT('d', 30) FROM seq_1_to_100000");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(amy_result_nrows(amy_future_result(f)), 100000);
    amy_future_free(f);
    amy_pool_free(p);
}

/* The bound holds for the connector's memory too: a 40 MB result refused
 * at 1 MiB leaves the process's peak RSS far below 40 MB (the connector's
 * mysql_store_result would have held all of it before any check). */
static void test_connector_memory_bounded(void **state)
{
    FILE *clear = fopen("/proc/self/clear_refs", "w");
    if (!clear) {
        print_message("no /proc/self/clear_refs: skipping\n");
        skip();
    }
    amy_pool *p = pool_with_limit(1 << 20, "pool=1");
    assert_int_equal(number(p, "SELECT 1"), 1); /* connected */
    fputs("5", clear); /* resets VmHWM to the current RSS */
    fclose(clear);
    long before = itest_status_kb("VmHWM:");
    amy_future *f = amy_query(
        p, "SELECT seq, REPEAT('h', 200) FROM seq_1_to_200000"); /* 40 MB */
    amy_future_wait(f);
    assert_too_big(f, 1 << 20);
    amy_future_free(f);
    long grew = itest_status_kb("VmHWM:") - before;
    print_message("40 MB result refused at 1 MiB: peak RSS grew by %ld kB\n",
                  grew);
    assert_true(grew < 16 * 1024);
    assert_int_equal(number(p, "SELECT 2"), 2);
    amy_pool_free(p);
}

/* ------------------------------------------------------------------------ */
/* Answers read eagerly, on a bare handle (what conn.c does, blocking)      */
/* ------------------------------------------------------------------------ */

/* A connected handle with b's methods installed. */
static MYSQL *bare_handle(amy__bound *b)
{
    const char *dsn = itest_dsn("AMY_TEST_DSN");
    amy__dsn d;
    char err[256];
    assert_int_equal(amy__dsn_parse(dsn, &d, err, sizeof err), 0);
    MYSQL *m = mysql_init(NULL);
    assert_non_null(m);
    if (!mysql_real_connect(m, d.host, d.user, d.password, d.database, d.port,
                            d.socket, 0))
        fail_msg("connect: %s", mysql_error(m));
    amy__dsn_clear(&d);
    memset(b, 0, sizeof *b);
    amy__bound_install(b, m, 0);
    return m;
}

/* Sends sql and reads its answer as conn.c does; the result set's rows
 * and columns as one result (NULL: no result set). */
static amy_result *eager_answer(MYSQL *m, amy__bound *b, const char *sql)
{
    assert_int_equal(mysql_send_query(m, sql, (unsigned long)strlen(sql)), 0);
    b->eager = 1;
    amy__rowbuf_query(&b->rows);
    if (mysql_read_query_result(m) != 0)
        fail_msg("%s: %s", sql, mysql_error(m));
    assert_int_equal(b->eager, 0);
    assert_int_equal(b->no_reuse, 0); /* the connector is as bound.c expects */
    if (!mysql_field_count(m)) {
        assert_int_equal(amy__bound_take_rows(b), 0);
        return NULL;
    }
    assert_int_equal(amy__bound_take_rows(b), 1);
    /* As mysql_store_result leaves the handle. */
    assert_int_equal(m->status, MYSQL_STATUS_READY);
    amy_result *r = amy__rowbuf_result(&b->rows, m->fields, m->field_count,
                                       mysql_affected_rows(m), 0);
    assert_non_null(r);
    assert_int_equal(amy_result_nrows(r), mysql_affected_rows(m));
    return r;
}

/*
 * bound.c reads each answer's column definitions itself and hands the
 * connector the memory of the previous answer's columns to unpack them
 * into (bound.c, "Column definitions"): the columns of one answer after another sit
 * at the same address, whatever came between (an OK packet, a result set
 * stored the connector's way, a result set with more columns than the
 * block holds, names longer than 250 bytes); names, types, flags and
 * charsets are the server's; the handle is closed with columns in it
 * (valgrind: nothing leaks, nothing is freed twice). A connector that
 * unpacked differently fails here (no_reuse, or another address).
 */
static void test_eager_answers_reuse_column_memory(void **state)
{
    amy__bound b;
    MYSQL *m = bare_handle(&b);

    amy_result *r = eager_answer(m, &b, "SELECT 1 AS a");
    assert_string_equal(amy_result_colname(r, 0), "a");
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "1");
    const MYSQL_FIELD *first = m->fields;
    amy__result_free(r);

    r = eager_answer(m, &b,
                     "SELECT 'x' AS bb, NULL AS c, 1.5 AS "
                     "`d\xc3\xa9`, seq FROM seq_1_to_3");
    assert_ptr_equal(m->fields, first);
    assert_int_equal(amy_result_ncols(r), 4);
    assert_int_equal(amy_result_nrows(r), 3);
    assert_string_equal(amy_result_colname(r, 0), "bb");
    assert_string_equal(amy_result_colname(r, 1), "c");
    assert_string_equal(amy_result_colname(r, 2), "d\xc3\xa9");
    assert_string_equal(amy_result_colname(r, 3), "seq");
    assert_int_equal(amy_result_coltype(r, 0), MYSQL_TYPE_VAR_STRING);
    assert_int_equal(amy_result_coltype(r, 1), MYSQL_TYPE_NULL);
    assert_int_equal(amy_result_coltype(r, 2), MYSQL_TYPE_NEWDECIMAL);
    assert_int_equal(amy_result_coltype(r, 3), MYSQL_TYPE_LONGLONG);
    assert_true(amy_result_colflags(r, 3) & UNSIGNED_FLAG);
    assert_true(amy_result_colflags(r, 3) & NOT_NULL_FLAG);
    assert_int_equal(amy_result_colcharset(r, 0), 45); /* utf8mb4 */
    assert_int_equal(m->fields[3].length, 20); /* unpacked: BIGINT UNSIGNED */
    assert_string_equal(m->fields[3].table, "seq_1_to_3");
    assert_string_equal(m->fields[3].org_name, "seq");
    assert_string_equal(m->fields[3].db, "amysql_test");
    assert_null(amy_result_value(r, 0, 1, NULL));
    assert_string_equal(amy_result_value(r, 2, 3, NULL), "3");
    amy__result_free(r);

    /* An OK packet between: the memory is kept for the next columns. */
    assert_null(eager_answer(m, &b, "DO 1"));
    r = eager_answer(m, &b, "SELECT 2 AS e");
    assert_ptr_equal(m->fields, first);
    amy__result_free(r);

    /* Stored the connector's way (a MYSQL_RES takes the columns): the
     * next answer does not take them back, the result frees them. */
    const char *sql = "SELECT 3 AS f";
    assert_int_equal(mysql_send_query(m, sql, (unsigned long)strlen(sql)), 0);
    assert_int_equal(mysql_read_query_result(m), 0);
    b.collect = 1;
    MYSQL_RES *res = mysql_store_result(m);
    assert_non_null(res);
    assert_string_equal(mysql_fetch_fields(res)[0].name, "f");
    amy_result *stored = amy__rowbuf_result(&b.rows, mysql_fetch_fields(res),
                                            mysql_num_fields(res), 1, 0);
    assert_string_equal(amy_result_value(stored, 0, 0, NULL), "3");
    amy__result_free(stored);
    r = eager_answer(m, &b, "SELECT 4 AS g");
    assert_string_equal(amy_result_colname(r, 0), "g");
    amy__result_free(r);
    mysql_free_result(res);
    const MYSQL_FIELD *after_store = m->fields;
    r = eager_answer(m, &b, "SELECT 5 AS h");
    assert_ptr_equal(m->fields, after_store);
    amy__result_free(r);

    /* 400 columns with 254-byte names (the server cuts aliases at 256):
     * more than one block holds (the connector adds one), names whose
     * lengths take 3 bytes on the wire. */
    char *big = malloc(400 * 280 + 64), *q = big;
    q += sprintf(q, "SELECT ");
    for (int i = 0; i < 400; i++)
        q += sprintf(q, "%s%d AS `%03d%0251d`", i ? ", " : "", i, i, 0);
    r = eager_answer(m, &b, big);
    assert_int_equal(amy_result_ncols(r), 400);
    for (int i = 0; i < 400; i += 57) {
        char want[255];
        snprintf(want, sizeof want, "%03d%0251d", i, 0);
        assert_string_equal(amy_result_colname(r, (size_t)i), want);
        assert_int_equal(m->fields[i].name_length, 254);
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        assert_string_equal(amy_result_value(r, 0, (size_t)i, NULL), v);
    }
    amy__result_free(r);
    free(big);
    r = eager_answer(m, &b, "SELECT 6 AS i");
    assert_string_equal(amy_result_colname(r, 0), "i");
    const MYSQL_FIELD *after_big = m->fields;
    amy__result_free(r);
    r = eager_answer(m, &b, "SELECT 7 AS j");
    assert_ptr_equal(m->fields, after_big);
    amy__result_free(r);

    /* Closed with the last columns in the handle: the connector frees
     * them, amy__bound_free the block kept. */
    mysql_close(m);
    amy__bound_free(&b);
}

/* Eager answers of a multi-statement query: each result set in turn
 * (next_result reads them the same way), then no more. */
static void test_eager_next_results(void **state)
{
    amy__bound b;
    MYSQL *m = bare_handle(&b);
    assert_int_equal(
        mysql_set_server_option(m, MYSQL_OPTION_MULTI_STATEMENTS_ON), 0);
    amy_result *r = eager_answer(m, &b, "SELECT 1 AS a; DO 1; SELECT 'z' AS b");
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "1");
    amy__result_free(r);
    const char *names[] = {NULL, "b"};
    for (int i = 0; i < 2; i++) {
        assert_true(mysql_more_results(m));
        b.eager = 1;
        assert_int_equal(mysql_next_result(m), 0);
        if (!names[i]) {
            assert_int_equal(mysql_field_count(m), 0);
            assert_int_equal(amy__bound_take_rows(&b), 0);
            continue;
        }
        assert_int_equal(amy__bound_take_rows(&b), 1);
        r = amy__rowbuf_result(&b.rows, m->fields, m->field_count,
                               mysql_affected_rows(m), 0);
        assert_string_equal(amy_result_colname(r, 0), names[i]);
        assert_string_equal(amy_result_value(r, 0, 0, NULL), "z");
        amy__result_free(r);
    }
    assert_false(mysql_more_results(m));
    r = eager_answer(m, &b, "SELECT 8 AS c");
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "8");
    amy__result_free(r);
    mysql_close(m);
    amy__bound_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eager_answers_reuse_column_memory),
        cmocka_unit_test(test_eager_next_results),
        cmocka_unit_test(test_connector_memory_bounded),
        cmocka_unit_test(test_limit_exact_and_one_under),
        cmocka_unit_test(test_many_rows_dropped_connection_kept),
        cmocka_unit_test(test_pipelined_behind_get_their_answers),
        cmocka_unit_test(test_other_pool_unaffected),
        cmocka_unit_test(test_multi_result_total),
        cmocka_unit_test(test_query_params_bounded),
        cmocka_unit_test(test_zero_is_no_limit_and_default),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
