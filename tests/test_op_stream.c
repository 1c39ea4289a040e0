/*
 * Integration tests for src/op_stream.c, the stream kind (amy_query_stream):
 * rows streamed with bounded memory, pause and resume, abandoning a stream.
 */
#include "itest.h"

typedef struct reader {
    uint64_t rows;
    uint64_t next; /* the value the next row must carry */
    int bad;
    long peak_kb;
    amy_future *self;
    uint64_t pause_at, cancel_at;
    int paused;
} reader;

static void on_row(const char *const *v, const size_t *len, size_t ncols,
                   void *arg)
{
    reader *r = arg;
    if (ncols != 2 || !v[0] || strtoull(v[0], NULL, 10) != r->next ||
        len[1] != 100 || v[1][99] != 'x')
        r->bad++;
    r->next++;
    r->rows++;
    if (r->rows % 100000 == 0) {
        long kb = itest_status_kb("VmRSS:");
        if (kb > r->peak_kb)
            r->peak_kb = kb;
    }
    if (r->rows == r->pause_at) {
        assert_int_equal(amy_stream_pause(r->self), AMY_OK);
        r->paused = 1;
    }
    if (r->rows == r->cancel_at)
        amy_future_cancel(r->self);
}

static const char *million =
    "SELECT seq, REPEAT('x', 100) FROM seq_1_to_1000000 ORDER BY seq";

static void test_stream_million_rows_bounded(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2");
    reader r = {.next = 1};
    long before = itest_status_kb("VmRSS:");
    r.peak_kb = before;
    r.self = amy_query_stream(p, million, on_row, &r);
    assert_int_equal(amy_future_wait(r.self), AMY_OK);
    assert_int_equal(r.rows, 1000000);
    assert_int_equal(r.bad, 0);
    assert_int_equal(amy_result_affected_rows(amy_future_result(r.self)),
                     1000000);
    assert_int_equal(amy_result_nrows(amy_future_result(r.self)), 0);
    long grew = r.peak_kb - before;
    print_message("1,000,000 rows (~100 MB) streamed; RSS grew by %ld kB "
                  "(peak %ld kB)\n",
                  grew, r.peak_kb);
    /* The buffered path would hold over 100 MiB. */
    assert_true(grew < 32 * 1024);
    amy_future_free(r.self);
    amy_pool_free(p);
}

/* Paused for 200 ms in the middle: 100 other queries of the same pool run
 * meanwhile (the stream does not move), then it goes on to its last row. */
static void test_stream_pause_lets_others_run(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2");
    reader r = {.next = 1, .pause_at = 300000};
    r.self = amy_query_stream(p, million, on_row, &r);
    while (!r.paused)
        ev_run(loop, EVRUN_ONCE);
    double t0 = itest_now();
    amy_future *fs[100];
    for (int i = 0; i < 100; i++) {
        char sql[32];
        snprintf(sql, sizeof sql, "SELECT %d", i);
        fs[i] = amy_query(p, sql);
    }
    amy_future *g = amy_gather(fs, 100);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    for (int i = 0; i < 100; i++) {
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        assert_string_equal(itest_value(fs[i]), want);
        amy_future_free(fs[i]);
    }
    amy_future_free(g);
    double left = 0.2 - (itest_now() - t0);
    if (left > 0)
        itest_run_for(left);
    assert_int_equal(r.rows, 300000); /* no row while paused */
    assert_int_equal(amy_future_status(r.self), AMY_PENDING);
    assert_int_equal(amy_stream_resume(r.self), AMY_OK);
    assert_int_equal(amy_future_wait(r.self), AMY_OK);
    assert_int_equal(r.rows, 1000000);
    assert_int_equal(r.bad, 0);
    amy_future_free(r.self);
    amy_pool_free(p);
}

/* Canceled from its own callback: no more rows, the statement is killed,
 * and the connection serves the next query. */
static void test_stream_cancel(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    reader r = {.next = 1, .cancel_at = 1000};
    r.self = amy_query_stream(p, million, on_row, &r);
    assert_int_equal(amy_future_wait(r.self), AMY_ECANCELED);
    assert_int_equal(r.rows, 1000);
    amy_future *f = amy_query(p, "SELECT 'next'");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "next");
    amy_future_free(f);
    amy_future_free(r.self);

    /* Freed while paused: the rest is read and dropped in the background. */
    reader q = {.next = 1, .pause_at = 10};
    q.self = amy_query_stream(p, million, on_row, &q);
    while (!q.paused)
        ev_run(loop, EVRUN_ONCE);
    amy_future_free(q.self);
    f = amy_query(p, "SELECT 'after free'");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "after free");
    assert_int_equal(q.rows, 10);
    amy_future_free(f);
    amy_pool_free(p);
}

static void count_only(const char *const *v, const size_t *len, size_t n,
                       void *arg)
{
    (*(int *)arg)++;
}

/* The pool's query_timeout_ms is a deadline for the whole stream, and
 * amy_future_set_timeout(f, 0) lifts it. The statement sleeps 2 ms a row
 * for 100 rows: at least 200 ms on the server, four times the deadline, so
 * it is late however fast the machine. */
static void test_stream_query_timeout(void **state)
{
    static const char sql[] = "SELECT seq, SLEEP(0.002) FROM seq_1_to_100";
    amy_pool *p = itest_pool(loop, "pool=1&query_timeout_ms=50");
    int n = 0;
    amy_future *f = amy_query_stream(p, sql, count_only, &n);
    assert_int_equal(amy_future_wait(f), AMY_ETIMEDOUT);
    assert_true(n < 100);
    amy_future_free(f);
    n = 0;
    f = amy_query_stream(p, sql, count_only, &n);
    assert_int_equal(amy_future_set_timeout(f, 0), AMY_OK);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(n, 100);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), 100);
    amy_future_free(f);
    amy_pool_free(p);
}

static void test_stream_errors_and_no_rows(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    int n = 0;
    amy_future *f = amy_query_stream(p, "SELEC 1", count_only, &n);
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(f), 1064);
    amy_future_free(f);
    f = amy_query_stream(p, "SELECT 1 FROM DUAL WHERE 0", count_only, &n);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), 0);
    amy_future_free(f);
    f = amy_query_stream(p, "DO 1", count_only, &n);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    amy_future_free(f);
    assert_int_equal(n, 0);
    f = amy_query_stream(p, "SELECT 1", NULL, NULL);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    amy_future_free(f);
    assert_int_equal(amy_stream_pause(NULL), AMY_EINVAL);
    amy_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_million_rows_bounded),
        cmocka_unit_test(test_stream_pause_lets_others_run),
        cmocka_unit_test(test_stream_cancel),
        cmocka_unit_test(test_stream_errors_and_no_rows),
        cmocka_unit_test(test_stream_query_timeout),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
