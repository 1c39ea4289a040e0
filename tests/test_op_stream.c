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

static void on_row(amy_future *self, const char *const *v, const size_t *len,
                   size_t ncols, void *arg)
{
    reader *r = arg;
    if (self != r->self || ncols != 2 || !v[0] ||
        strtoull(v[0], NULL, 10) != r->next || len[1] != 100 || v[1][99] != 'x')
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
    assert_int_equal(amy_result_ncols(amy_future_result(r.self)), 2);
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

static void count_only(amy_future *f, const char *const *v, const size_t *len,
                       size_t n, void *arg)
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

/*
 * A consumer with back-pressure written the natural way: on_row pauses
 * every `every` rows and sets its own "paused" flag; something else later
 * calls amy_stream_resume and clears the flag only after the call. A row
 * that arrives while the flag is set would be dropped by such code, and
 * one delivered inside the resume call would be too: neither may happen,
 * whether resume is called from outside any callback, from another
 * future's callback, or from on_row itself.
 */
typedef struct bp {
    amy_future *self;
    unsigned every;
    int paused;        /* the consumer's own flag */
    int in_resume;     /* amy_stream_resume is running */
    int resume_in_row; /* on_row resumes at once instead */
    uint64_t rows, next, lost, during;
} bp;

static void bp_row(amy_future *self, const char *const *v, const size_t *len,
                   size_t ncols, void *arg)
{
    bp *b = arg;
    if (b->in_resume)
        b->during++;
    if (b->paused)
        b->lost++;
    if (!v[0] || strtoull(v[0], NULL, 10) != b->next)
        b->lost++;
    b->next++;
    if (++b->rows % b->every)
        return;
    assert_int_equal(amy_stream_pause(self), AMY_OK);
    if (b->resume_in_row) {
        assert_int_equal(amy_stream_resume(self), AMY_OK);
        return;
    }
    b->paused = 1;
}

static void bp_resume(bp *b)
{
    b->in_resume = 1;
    assert_int_equal(amy_stream_resume(b->self), AMY_OK);
    b->in_resume = 0;
    b->paused = 0; /* after the call: the natural order */
}

static void bp_resume_cb(amy_future *f, void *arg)
{
    bp_resume(arg);
}

static void test_stream_resume_never_delivers_inside(void **state)
{
    static const char sql[] = "SELECT seq FROM seq_1_to_10000 ORDER BY seq";
    amy_pool *p = itest_pool(loop, "pool=2");
    for (int mode = 0; mode < 3; mode++) {
        bp b = {.every = 100, .next = 1, .resume_in_row = mode == 2};
        b.self = amy_query_stream(p, sql, bp_row, &b);
        int rounds = 0;
        while (amy_future_status(b.self) == AMY_PENDING) {
            if (!b.paused) {
                ev_run(loop, EVRUN_ONCE);
                continue;
            }
            rounds++;
            if (mode == 0) {
                bp_resume(&b); /* outside any callback */
            } else {
                /* From the callback of another query of the pool. */
                amy_future *q = amy_query(p, "SELECT 1");
                assert_int_equal(amy_future_then(q, bp_resume_cb, &b), AMY_OK);
                assert_int_equal(amy_future_wait(q), AMY_OK);
                amy_future_free(q);
            }
        }
        assert_int_equal(amy_future_status(b.self), AMY_OK);
        assert_int_equal(b.rows, 10000);
        assert_int_equal(b.lost, 0);
        assert_int_equal(b.during, 0);
        if (mode < 2)
            assert_int_equal(rounds, 100);
        amy_future_free(b.self);
    }
    amy_pool_free(p);
}

/* on_row can read the columns; the final result carries them too. */
typedef struct colseen {
    int rows, bad;
} colseen;

static void col_row(amy_future *self, const char *const *v, const size_t *len,
                    size_t ncols, void *arg)
{
    colseen *c = arg;
    const amy_result *cols = amy_stream_columns(self);
    c->rows++;
    if (!cols || amy_result_ncols(cols) != 2 || amy_result_nrows(cols) != 0 ||
        strcmp(amy_result_colname(cols, 0), "id") ||
        strcmp(amy_result_colname(cols, 1), "label") ||
        amy_result_colindex(cols, "label") != 1 ||
        amy_result_coltype(cols, 0) != AMY_COL_LONGLONG ||
        amy_result_coltype(cols, 1) != AMY_COL_VAR_STRING)
        c->bad++;
}

static void test_stream_columns(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    colseen c = {0};
    amy_future *f = amy_query_stream(
        p, "SELECT seq AS id, CONCAT('n', seq) AS label FROM seq_1_to_50",
        col_row, &c);
    assert_null(amy_stream_columns(f)); /* its rows have not started */
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(c.rows, 50);
    assert_int_equal(c.bad, 0);
    const amy_result *r = amy_future_result(f);
    assert_ptr_equal(amy_stream_columns(f), r);
    assert_int_equal(amy_result_ncols(r), 2);
    assert_string_equal(amy_result_colname(r, 1), "label");
    assert_int_equal(amy_result_affected_rows(r), 50);
    amy_future_free(f);

    /* No rows: the columns are still there at the end (a CSV header). */
    f = amy_query_stream(p, "SELECT 1 AS a, 'x' AS b FROM DUAL WHERE 0",
                         col_row, &c);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    r = amy_stream_columns(f);
    assert_non_null(r);
    assert_int_equal(amy_result_ncols(r), 2);
    assert_string_equal(amy_result_colname(r, 0), "a");
    assert_int_equal(amy_result_affected_rows(r), 0);
    amy_future_free(f);

    /* A failed stream has none; a query future is not a stream. */
    f = amy_query_stream(p, "SELEC 1", col_row, &c);
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    assert_null(amy_stream_columns(f));
    amy_future_free(f);
    f = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_null(amy_stream_columns(f));
    amy_future_free(f);
    assert_null(amy_stream_columns(NULL));
    assert_int_equal(c.rows, 50);
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
        cmocka_unit_test(test_stream_resume_never_delivers_inside),
        cmocka_unit_test(test_stream_columns),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
