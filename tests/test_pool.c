/*
 * Integration tests for src/pool.c (queue, dispatch, pipelining, teardown)
 * against the real test server (AMY_TEST_DSN).
 */
#include "itest.h"

#include <time.h>

static void test_one_query(void **state)
{
    amy_pool *p = itest_pool(loop, NULL);
    amy_future *f = amy_query(p, "SELECT 1 AS one, 'two' AS two");
    assert_int_equal(amy_future_status(f), AMY_PENDING);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    const amy_result *r = amy_future_result(f);
    assert_non_null(r);
    assert_int_equal(amy_result_nrows(r), 1);
    assert_int_equal(amy_result_ncols(r), 2);
    assert_string_equal(amy_result_colname(r, 0), "one");
    assert_string_equal(amy_result_colname(r, 1), "two");
    size_t len = 99;
    assert_string_equal(amy_result_value(r, 0, 0, &len), "1");
    assert_int_equal(len, 1);
    assert_string_equal(amy_result_value(r, 0, 1, NULL), "two");
    assert_null(amy_result_colname(r, 2));
    assert_null(amy_result_value(r, 1, 0, NULL));
    assert_null(amy_future_error(f));
    assert_int_equal(amy_future_server_errno(f), 0);
    assert_string_equal(amy_future_sqlstate(f), "00000");
    amy_future_free(f);
    amy_pool_free(p);
}

/* n queries, each SELECT of its own number, gathered and each checked. */
static void gather_checked(const char *params, size_t n)
{
    amy_pool *p = itest_pool(loop, params);
    amy_future **fs = calloc(n, sizeof *fs);
    assert_non_null(fs);
    for (size_t i = 0; i < n; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT %zu, CONCAT('row-', %zu)", i * 3, i);
        fs[i] = amy_query(p, sql);
        assert_non_null(fs[i]);
    }
    amy_future *g = amy_gather(fs, n);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    for (size_t i = 0; i < n; i++) {
        char want[32], want2[32];
        snprintf(want, sizeof want, "%zu", i * 3);
        snprintf(want2, sizeof want2, "row-%zu", i);
        const amy_result *r = amy_future_result(fs[i]);
        assert_non_null(r);
        assert_string_equal(amy_result_value(r, 0, 0, NULL), want);
        assert_string_equal(amy_result_value(r, 0, 1, NULL), want2);
    }
    amy_future_free(g);
    for (size_t i = 0; i < n; i++)
        amy_future_free(fs[i]);
    free(fs);
    amy_pool_free(p);
}

static void test_gather_1000(void **state)
{
    gather_checked("pool=4&pipeline=16", 1000);
}

static void test_gather_1000_no_pipelining(void **state)
{
    gather_checked("pool=8&pipeline=1", 1000);
}

static void test_gather_one_connection_deep_pipeline(void **state)
{
    gather_checked("pool=1&pipeline=128", 1000);
}

/* read_coalesce_us: reads wait for a shared tick; every answer still goes
 * to its own future, on one connection and on several. */
static void test_gather_read_coalesce(void **state)
{
    gather_checked("pool=1&pipeline=64&read_coalesce_us=300", 3000);
    gather_checked("pool=4&pipeline=128&read_coalesce_us=1000", 5000);
    gather_checked("pool=3&pipeline=2&read_coalesce_us=50", 500);
}

/* A long read_coalesce_us: futures canceled and the pool freed while
 * connections wait for their tick (the timer must not outlive them).
 *
 * Ticks fall on wall-clock multiples of read_coalesce_us, so no window of
 * loop time can be known to hold none. Instead the loop is not run while
 * the answers arrive: the pool's timers only fire inside ev_run. The
 * queries wait behind a gate; a second loop (ctl) watches the server and
 * opens the gate; once the server says both connections have answered, one
 * ev_run(EVRUN_NOWAIT) sees both sockets readable, and each connection
 * starts waiting for its tick. That iteration cannot also run the tick: a
 * timer started in an iteration fires in a later one at the earliest. */
#define COALESCE_GATE "t_coalesce_gate"
#define COALESCE_SQL  "SELECT COUNT(*) FROM " COALESCE_GATE

static int coalesce_all_sent(const amy_stats *s)
{
    return s->in_flight == 2 * 32; /* pool=2, pipeline=32 */
}

static void test_read_coalesce_teardown(void **state)
{
    /* The Unix socket: the server's write is in our socket's receive queue
     * when it returns (TCP on loopback may still be in the kernel's
     * backlog), so "answered on the server" means "readable here". */
    amy_pool *p = itest_pool_from(loop, "AMY_TEST_SOCKET_DSN",
                                  "pool=2&pipeline=32&read_coalesce_us=50000");
    struct ev_loop *ctl_loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(ctl_loop);
    amy_pool *watch = itest_pool(ctl_loop, "pool=1");
    enum { N = 200 };
    amy_future *fs[N];
    for (int round = 0; round < 2; round++) {
        itest_gate gate;
        itest_gate_close(&gate, ctl_loop, COALESCE_GATE);
        amy_stats before = itest_stats(p);
        for (int i = 0; i < N; i++)
            fs[i] = amy_query(p, COALESCE_SQL);
        /* Sent (nothing answers at the gate, so nothing is read). */
        itest_run_until(loop, p, coalesce_all_sent, "64 queries sent");
        itest_wait_running(watch, COALESCE_SQL, 2);
        /* Their session ids, then open the gate: each answers its 32. */
        amy_future *ids = amy_query(
            watch, "SELECT GROUP_CONCAT(ID) FROM information_schema.PROCESSLIST"
                   " WHERE INFO = '" COALESCE_SQL "'");
        assert_int_equal(amy_future_wait(ids), AMY_OK);
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "
                 "COMMAND = 'Sleep' AND ID IN (%s)",
                 itest_value(ids));
        amy_future_free(ids);
        itest_gate_open(&gate);
        /* Back to Sleep means its answers are written: the server flushes
         * each one before it reads the next command. */
        itest_wait_count(watch, sql, 2);
        /* A connection waits for a tick only once its pipeline has been
         * busy for a millisecond (conn.c, coalescing()): it has been since
         * the queries were sent, by at least this sleep. */
        const struct timespec busy = {0, 2000000};
        nanosleep(&busy, NULL);
        ev_run(loop, EVRUN_NOWAIT); /* sent, answered, not read yet */
        amy_stats s = itest_stats(p);
        assert_int_equal(s.in_flight, 2 * 32);
        assert_true(s.completed == before.completed);
        for (int i = 0; i < N / 2; i++)
            amy_future_cancel(fs[i]);
        if (round == 0) {
            amy_future *g = amy_gather(fs + N / 2, N / 2);
            assert_int_equal(amy_future_wait(g), AMY_OK);
            amy_future_free(g);
        } else {
            amy_pool_free(p); /* the rest resolve AMY_ECANCELED */
        }
        for (int i = 0; i < N; i++) {
            int st = amy_future_status(fs[i]);
            assert_true(st == AMY_OK || st == AMY_ECANCELED);
            if (i < N / 2)
                assert_int_equal(st, AMY_ECANCELED);
            amy_future_free(fs[i]);
        }
    }
    /* Each tick was due within 50 ms of being armed, before this began: a
     * timer of the freed pool still in the loop would fire in here. */
    itest_run_for(0.1);
    itest_exec(watch, "DROP TABLE " COALESCE_GATE);
    amy_pool_free(watch);
    ev_loop_destroy(ctl_loop);
}

/* Which answers wait for a tick (conn.c, coalescing()): with fewer than 4
 * due, a connection reads at once however long it has been busy; with 4,
 * it waits. Shown without any timing window, as the teardown test above:
 * the answers are made to arrive while the loop is not running, then one
 * ev_run(EVRUN_NOWAIT) either reads them or starts the wait. The tick is
 * 100 ms from a wall-clock multiple, so the wait is over within it. */
static unsigned coalesce_want; /* in flight, for coalesce_sent */

static int coalesce_sent(const amy_stats *s)
{
    return s->in_flight == coalesce_want;
}

static void coalesce_read_at_once(amy_pool *p, amy_pool *watch,
                                  struct ev_loop *ctl_loop, unsigned n,
                                  unsigned want_read)
{
    itest_gate gate;
    itest_gate_close(&gate, ctl_loop, COALESCE_GATE);
    amy_stats before = itest_stats(p);
    amy_future *fs[4];
    for (unsigned i = 0; i < n; i++)
        fs[i] = amy_query(p, COALESCE_SQL);
    coalesce_want = n;
    itest_run_until(loop, p, coalesce_sent, "the queries sent");
    itest_wait_running(watch, COALESCE_SQL, 1);
    amy_future *id =
        amy_query(watch, "SELECT ID FROM information_schema.PROCESSLIST WHERE "
                         "INFO = '" COALESCE_SQL "'");
    assert_int_equal(amy_future_wait(id), AMY_OK);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "
             "COMMAND = 'Sleep' AND ID = %s",
             itest_value(id));
    amy_future_free(id);
    itest_gate_open(&gate);
    itest_wait_count(watch, sql, 1);           /* every answer written */
    const struct timespec busy = {0, 2000000}; /* busy for over 1 ms */
    nanosleep(&busy, NULL);
    ev_run(loop, EVRUN_NOWAIT);
    amy_stats s = itest_stats(p);
    assert_int_equal(s.completed - before.completed, want_read);
    amy_future *g = amy_gather(fs, n);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    amy_future_free(g);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(amy_future_status(fs[i]), AMY_OK);
        amy_future_free(fs[i]);
    }
}

static void test_read_coalesce_few_read_at_once(void **state)
{
    amy_pool *p = itest_pool_from(loop, "AMY_TEST_SOCKET_DSN",
                                  "pool=1&pipeline=32&read_coalesce_us=100000");
    struct ev_loop *ctl_loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(ctl_loop);
    amy_pool *watch = itest_pool(ctl_loop, "pool=1");
    itest_exec(p, "SELECT 1"); /* connected */
    coalesce_read_at_once(p, watch, ctl_loop, 1, 1);
    coalesce_read_at_once(p, watch, ctl_loop, 3, 3);
    coalesce_read_at_once(p, watch, ctl_loop, 4, 0);
    itest_exec(watch, "DROP TABLE " COALESCE_GATE);
    amy_pool_free(watch);
    amy_pool_free(p);
    ev_loop_destroy(ctl_loop);
}

/* A syntax error in the middle of a pipelined batch fails only its own
 * future; everything before and after it on the same connection succeeds. */
static void test_error_mid_pipeline(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=64");
    enum { N = 50, BAD = 25 };
    amy_future *fs[N];
    for (int i = 0; i < N; i++) {
        char sql[64];
        if (i == BAD)
            snprintf(sql, sizeof sql, "SELEC %d", i);
        else
            snprintf(sql, sizeof sql, "SELECT %d", i);
        fs[i] = amy_query(p, sql);
    }
    amy_future *g = amy_gather(fs, N);
    assert_int_equal(amy_future_wait(g), AMY_EGATHER);
    assert_int_equal(amy_future_server_errno(g), 1064);
    assert_non_null(strstr(amy_future_error(g), "1 of 50"));
    for (int i = 0; i < N; i++) {
        if (i == BAD) {
            assert_int_equal(amy_future_status(fs[i]), AMY_ESERVER);
            assert_int_equal(amy_future_server_errno(fs[i]), 1064);
            assert_string_equal(amy_future_sqlstate(fs[i]), "42000");
            assert_non_null(strstr(amy_future_error(fs[i]), "syntax"));
            assert_null(amy_future_result(fs[i]));
        } else {
            char want[16];
            snprintf(want, sizeof want, "%d", i);
            assert_int_equal(amy_future_status(fs[i]), AMY_OK);
            assert_string_equal(itest_value(fs[i]), want);
        }
    }
    amy_future_free(g);
    for (int i = 0; i < N; i++)
        amy_future_free(fs[i]);
    amy_pool_free(p);
}

static void test_null_empty_binary(void **state)
{
    amy_pool *p = itest_pool(loop, NULL);
    amy_future *f = amy_query(
        p, "SELECT NULL, '', X'00610062', 'a\\0b', CAST(NULL AS CHAR), 0");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    const amy_result *r = amy_future_result(f);
    size_t len = 99;
    assert_null(amy_result_value(r, 0, 0, &len));
    assert_int_equal(len, 0);
    const char *v = amy_result_value(r, 0, 1, &len);
    assert_non_null(v);
    assert_int_equal(len, 0);
    assert_string_equal(v, "");
    v = amy_result_value(r, 0, 2, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(v, "\0a\0b", 4);
    v = amy_result_value(r, 0, 3, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "a\0b", 3);
    assert_null(amy_result_value(r, 0, 4, NULL));
    assert_string_equal(amy_result_value(r, 0, 5, NULL), "0");
    amy_future_free(f);

    /* Many rows with a NULL in every other one, and a 1 MiB value. */
    f = amy_query(p, "SELECT IF(seq % 2, NULL, seq) FROM seq_1_to_1000");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    r = amy_future_result(f);
    assert_int_equal(amy_result_nrows(r), 1000);
    for (size_t i = 0; i < 1000; i++) {
        char want[16];
        snprintf(want, sizeof want, "%zu", i + 1);
        v = amy_result_value(r, i, 0, NULL);
        if ((i + 1) % 2)
            assert_null(v);
        else
            assert_string_equal(v, want);
    }
    amy_future_free(f);
    f = amy_query(p, "SELECT REPEAT('x', 1048576)");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    v = amy_result_value(amy_future_result(f), 0, 0, &len);
    assert_int_equal(len, 1048576);
    assert_int_equal(v[0], 'x');
    assert_int_equal(v[len - 1], 'x');
    assert_int_equal(v[len], '\0');
    amy_future_free(f);
    amy_pool_free(p);
}

static void test_affected_rows_insert_id(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    itest_exec(p, "DROP TABLE IF EXISTS t_affected");
    itest_exec(p, "CREATE TABLE t_affected (id INT AUTO_INCREMENT PRIMARY "
                  "KEY, v INT)");
    amy_future *f = amy_query(p, "INSERT INTO t_affected (v) VALUES (1)");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    const amy_result *r = amy_future_result(f);
    assert_int_equal(amy_result_affected_rows(r), 1);
    assert_int_equal(amy_result_insert_id(r), 1);
    assert_int_equal(amy_result_nrows(r), 0);
    assert_int_equal(amy_result_ncols(r), 0);
    amy_future_free(f);
    f = amy_query(p, "INSERT INTO t_affected (v) VALUES (2), (3), (4)");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), 3);
    assert_int_equal(amy_result_insert_id(amy_future_result(f)), 2);
    amy_future_free(f);
    f = amy_query(p, "UPDATE t_affected SET v = v + 1 WHERE v >= 3");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), 2);
    assert_int_equal(amy_result_insert_id(amy_future_result(f)), 0);
    amy_future_free(f);
    f = amy_query(p, "DELETE FROM t_affected");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), 4);
    amy_future_free(f);
    itest_exec(p, "DROP TABLE t_affected");
    amy_pool_free(p);
}

static int cancel_count;
static void count_canceled(amy_future *f, void *arg)
{
    assert_int_equal(amy_future_status(f), AMY_ECANCELED);
    cancel_count++;
}

/* Freeing the pool resolves every pending future (sent or still queued)
 * with AMY_ECANCELED, once, and the futures stay readable. */
static int four_in_flight(const amy_stats *s)
{
    return s->in_flight == 4;
}

static void test_pool_free_cancels(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2&pipeline=2");
    /* Behind a gate, so none can finish before the pool is freed. */
    itest_gate gate;
    itest_gate_close(&gate, loop, "t_pool_gate");
    enum { N = 20 };
    amy_future *fs[N];
    for (int i = 0; i < N; i++) {
        fs[i] = amy_query(p, "SELECT COUNT(*) FROM t_pool_gate");
        assert_int_equal(amy_future_then(fs[i], count_canceled, NULL), AMY_OK);
    }
    /* Both connections open, two sent on each, the rest queued. */
    itest_run_until(loop, p, four_in_flight, "4 queries sent");
    cancel_count = 0;
    amy_pool_free(p);
    itest_gate_open(&gate);
    assert_int_equal(cancel_count, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(amy_future_status(fs[i]), AMY_ECANCELED);
        assert_non_null(amy_future_error(fs[i]));
        amy_future_free(fs[i]);
    }
    assert_int_equal(cancel_count, N);
}

static int own_cb_calls;
static void free_self(amy_future *f, void *arg)
{
    own_cb_calls++;
    assert_int_equal(amy_future_status(f), AMY_OK);
    assert_string_equal(itest_value(f), "42");
    amy_future_free(f);
}

static void test_free_inside_own_callback(void **state)
{
    amy_pool *p = itest_pool(loop, NULL);
    own_cb_calls = 0;
    enum { N = 30 };
    for (int i = 0; i < N; i++) {
        amy_future *f = amy_query(p, "SELECT 42");
        assert_int_equal(amy_future_then(f, free_self, NULL), AMY_OK);
    }
    amy_future *last = amy_query(p, "SELECT 1");
    amy_future_wait(last);
    amy_future_free(last);
    while (own_cb_calls < N)
        ev_run(loop, EVRUN_ONCE);
    assert_int_equal(own_cb_calls, N);
    amy_pool_free(p);
}

/* A callback that starts the next query: a chain of dependent queries. */
static amy_pool *chain_pool;
static int chain_left;
static void chain_next(amy_future *f, void *arg)
{
    amy_future **done = arg;
    assert_int_equal(amy_future_status(f), AMY_OK);
    amy_future_free(f);
    if (--chain_left == 0) {
        *done = amy_query(chain_pool, "SELECT 'end'");
        return;
    }
    amy_future *n = amy_query(chain_pool, "SELECT 1");
    assert_int_equal(amy_future_then(n, chain_next, arg), AMY_OK);
}

static void test_queries_from_callbacks(void **state)
{
    chain_pool = itest_pool(loop, "pool=2");
    chain_left = 100;
    amy_future *done = NULL;
    amy_future *f = amy_query(chain_pool, "SELECT 1");
    amy_future_then(f, chain_next, &done);
    while (!done)
        ev_run(loop, EVRUN_ONCE);
    assert_int_equal(amy_future_wait(done), AMY_OK);
    assert_string_equal(itest_value(done), "end");
    amy_future_free(done);
    amy_pool_free(chain_pool);
}

static void test_bad_arguments(void **state)
{
    amy_pool *p = itest_pool(loop, NULL);
    amy_future *f = amy_query(NULL, "SELECT 1");
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    assert_int_equal(amy_future_wait(f), AMY_EINVAL);
    amy_future_free(f);
    f = amy_query(p, NULL);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    amy_future_free(f);
    f = amy_query(p, "");
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    assert_non_null(strstr(amy_future_error(f), "empty"));
    amy_future_free(f);
    /* Whitespace only reaches the server, which says so. */
    f = amy_query(p, "   ");
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(f), 1065);
    amy_future_free(f);
    char err[128];
    assert_null(amy_pool_new(NULL, "mysql://h", err, sizeof err));
    assert_null(amy_pool_new(loop, NULL, err, sizeof err));
    assert_null(amy_pool_new(loop, "postgres://h", err, sizeof err));
    assert_non_null(strstr(err, "mysql://"));
    /* auth_plugins= is checked here, against ssl_mode. */
    char big[256];
    assert_null(amy_pool_new(loop,
                             "mysql://u:pw@127.0.0.1/db?ssl_mode=required&"
                             "auth_plugins=mysql_clear_password",
                             big, sizeof big));
    assert_non_null(strstr(big, "auth_plugins: mysql_clear_password"));
    amy_pool *v = amy_pool_new(loop,
                               "mysql://u:pw@127.0.0.1/db?ssl_mode=disabled&"
                               "auth_plugins=client_ed25519,caching_sha2_"
                               "password",
                               big, sizeof big);
    assert_non_null(v);
    amy_pool_free(v);
    amy_pool_free(NULL);
    amy_pool_free(p);
}

/* Large requests and large answers while pipelining: the byte cap keeps
 * both sides from blocking on writes. */
static void test_large_requests_pipelined(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=64&pipeline_bytes=65536");
    enum { N = 40, SZ = 300000 };
    char *sql = malloc(SZ + 64);
    assert_non_null(sql);
    amy_future *fs[N];
    for (int i = 0; i < N; i++) {
        int n = snprintf(sql, 64, "SELECT %d, LENGTH('", i);
        memset(sql + n, 'a' + i % 26, SZ);
        snprintf(sql + n + SZ, 64, "'), REPEAT('z', 200000)");
        fs[i] = amy_query(p, sql);
    }
    free(sql);
    amy_future *g = amy_gather(fs, N);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    for (int i = 0; i < N; i++) {
        const amy_result *r = amy_future_result(fs[i]);
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        assert_string_equal(amy_result_value(r, 0, 0, NULL), want);
        assert_string_equal(amy_result_value(r, 0, 1, NULL), "300000");
        size_t len;
        amy_result_value(r, 0, 2, &len);
        assert_int_equal(len, 200000);
        amy_future_free(fs[i]);
    }
    amy_future_free(g);
    amy_pool_free(p);
}

static void test_query_timeout(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=4&query_timeout_ms=400");
    /* Behind a gate: it cannot answer before its deadline, however slow
     * this machine is (a SLEEP(0.7) had 300 ms of margin). */
    itest_gate gate;
    itest_gate_close(&gate, loop, "t_pool_gate");
    amy_future *slow = amy_query(p, "SELECT COUNT(*) FROM t_pool_gate");
    assert_int_equal(amy_future_wait(slow), AMY_ETIMEDOUT);
    assert_non_null(strstr(amy_future_error(slow),
                           "query timed out after 400 ms (it had been sent "
                           "to the server)"));
    /* Killed by now, or answering once the gate opens: late either way. */
    itest_gate_open(&gate);
    /* Sent behind the slow one on the same connection: it still gets its
     * own answer, and the late answer of the slow one reaches nobody. */
    amy_future *after = amy_query(p, "SELECT 'after'");
    assert_int_equal(amy_future_wait(after), AMY_OK);
    assert_string_equal(itest_value(after), "after");
    amy_future_free(slow);
    amy_future_free(after);
    for (int i = 0; i < 10; i++) {
        char sql[32], want[16];
        snprintf(sql, sizeof sql, "SELECT %d", i);
        snprintf(want, sizeof want, "%d", i);
        amy_future *f = amy_query(p, sql);
        assert_int_equal(amy_future_wait(f), AMY_OK);
        assert_string_equal(itest_value(f), want);
        amy_future_free(f);
    }
    amy_pool_free(p);
}

/*
 * A query that times out before any connection could be opened says why:
 * the connect error, which would otherwise be lost (the server refuses,
 * query_timeout_ms is below connect_timeout_ms). No server needed: port 1
 * refuses. The query is made once a connect has failed, so the message
 * cannot depend on how fast that failure came.
 */
static int one_connect_failed(const amy_stats *s)
{
    return s->connect_failures >= 1;
}

static void test_query_timeout_says_connect_error(void **state)
{
    char err[256];
    amy_pool *p = amy_pool_new(loop,
                               "mysql://amy:secret-pw@127.0.0.1:1/db?pool=1&"
                               "connect_timeout_ms=60000",
                               err, sizeof err);
    assert_non_null(p);
    amy_future *first = amy_query(p, "SELECT 1"); /* makes it connect */
    itest_run_until(loop, p, one_connect_failed, "a connect failure");
    amy_future *f = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_set_timeout(f, 50), AMY_OK);
    assert_int_equal(amy_future_wait(f), AMY_ETIMEDOUT);
    const char *e = amy_future_error(f);
    print_message("%s\n", e);
    assert_non_null(strstr(e, "query timed out after 50 ms waiting for a "
                              "connection"));
    assert_non_null(strstr(e, "no connection could be opened; last connect "
                              "error: could not connect to 127.0.0.1:1: "));
    assert_null(strstr(e, "secret-pw"));
    assert_string_equal(amy_future_sqlstate(f), "HYT00");
    amy_future_free(f);
    amy_future_free(first);
    amy_pool_free(p);
}

/* A statement with several result sets (a procedure): the future gets the
 * first one, and the connection stays in step for the next query. */
static void test_procedure_extra_results(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=8");
    itest_exec(p, "DROP PROCEDURE IF EXISTS two_results");
    itest_exec(p, "CREATE PROCEDURE two_results() BEGIN SELECT 'first'; "
                  "SELECT 'second'; END");
    amy_future *fs[3];
    fs[0] = amy_query(p, "CALL two_results()");
    fs[1] = amy_query(p, "SELECT 'next'");
    fs[2] = amy_query(p, "CALL two_results()");
    amy_future *g = amy_gather(fs, 3);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    assert_string_equal(itest_value(fs[0]), "first");
    assert_string_equal(itest_value(fs[1]), "next");
    assert_string_equal(itest_value(fs[2]), "first");
    amy_future_free(g);
    for (int i = 0; i < 3; i++)
        amy_future_free(fs[i]);
    itest_exec(p, "DROP PROCEDURE two_results");
    amy_pool_free(p);
}

/* Futures freed while queued or in flight: they resolve AMY_ECANCELED and
 * the rest of the batch is unaffected. */
static void test_free_pending_futures(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2&pipeline=8");
    enum { N = 200 };
    amy_future *fs[N];
    for (int i = 0; i < N; i++) {
        char sql[32];
        snprintf(sql, sizeof sql, "SELECT %d", i);
        fs[i] = amy_query(p, sql);
    }
    ev_run(loop, EVRUN_NOWAIT);
    for (int i = 0; i < N; i += 3) {
        amy_future_free(fs[i]);
        fs[i] = NULL;
    }
    for (int i = 0; i < N; i++) {
        if (!fs[i])
            continue;
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        assert_int_equal(amy_future_wait(fs[i]), AMY_OK);
        assert_string_equal(itest_value(fs[i]), want);
        amy_future_free(fs[i]);
    }
    amy_pool_free(p);
}

/* A host name goes through the resolver once; one that does not resolve
 * fails every query with AMY_ECONNECT and the resolver's message. */
static void test_unresolvable_host(void **state)
{
    char err[256];
    amy_pool *p =
        amy_pool_new(loop, "mysql://u:secretpw@no-such-host.invalid:3306/db",
                     err, sizeof err);
    assert_non_null(p);
    amy_future *f = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_wait(f), AMY_ECONNECT);
    assert_non_null(strstr(amy_future_error(f), "no-such-host.invalid"));
    assert_null(strstr(amy_future_error(f), "secretpw"));
    amy_future_free(f);
    amy_pool_free(p);
}

/* A callback that runs while another pool hands out work (here: pool A
 * failing its queue at once) queues a query on pool B. B's query must go
 * out on the next loop iteration, not after the loop's longest poll. */
static amy_future *cross_f;
static amy_pool *cross_b;
static void query_other_pool(amy_future *f, void *arg)
{
    cross_f = amy_query(cross_b, "SELECT 'b'");
}

static void test_query_from_another_pools_kick(void **state)
{
    char err[256];
    amy_pool *a = amy_pool_new(loop, "mysql://u@no-such-host.invalid/db", err,
                               sizeof err);
    assert_non_null(a);
    cross_b = itest_pool(loop, NULL);
    amy_future *fa = amy_query(a, "SELECT 'a'");
    amy_future_then(fa, query_other_pool, NULL);
    cross_f = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(amy_future_wait(fa), AMY_ECONNECT);
    assert_non_null(cross_f);
    assert_int_equal(amy_future_wait(cross_f), AMY_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* A hang guard, not a speed check: the bug blocked for 59 s. */
    assert_true(t1.tv_sec - t0.tv_sec < 10);
    assert_string_equal(itest_value(cross_f), "b");
    amy_future_free(cross_f);
    amy_future_free(fa);
    amy_pool_free(a);
    amy_pool_free(cross_b);
}

/* ------------------------------------------------------------------------ */
/* Parameters (amy_query_params)                                            */
/* ------------------------------------------------------------------------ */

/* SELECT ? with one value: the bytes that come back. */
static amy_future *select_one(amy_pool *p, amy_value v)
{
    amy_future *f = amy_query_params(p, "SELECT ?", &v, 1);
    int st = amy_future_wait(f);
    if (st != AMY_OK)
        print_error("SELECT ?: %s\n", amy_future_error(f));
    assert_int_equal(st, AMY_OK);
    return f;
}

static void expect_bytes(amy_pool *p, amy_value v, const char *want,
                         size_t wlen)
{
    amy_future *f = select_one(p, v);
    size_t len;
    const char *got = amy_result_value(amy_future_result(f), 0, 0, &len);
    assert_non_null(got);
    assert_int_equal(len, wlen);
    assert_memory_equal(got, want, wlen);
    amy_future_free(f);
}

static void test_params_round_trip(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=8");
    static const char *texts[] = {"it's",  "back\\slash\\",          "%_%",
                                  "\"q\"", "emoji \xf0\x9f\x98\x80", "",
                                  "?"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        expect_bytes(p, amy_val_text(texts[i], strlen(texts[i])), texts[i],
                     strlen(texts[i]));
    expect_bytes(p, amy_val_text("nul\0byte", 8), "nul\0byte", 8);
    /* Invalid UTF-8 and NUL in a blob. */
    expect_bytes(p, amy_val_blob("\xff\xfe\0\x80", 4), "\xff\xfe\0\x80", 4);
    size_t big = 1 << 20;
    char *mib = malloc(big);
    assert_non_null(mib);
    for (size_t i = 0; i < big; i++)
        mib[i] = (char)('a' + i % 26);
    mib[77] = '\'';
    mib[78] = '\\';
    expect_bytes(p, amy_val_text(mib, big), mib, big);
    free(mib);

    expect_bytes(p, amy_val_int64(INT64_MIN), "-9223372036854775808", 20);
    expect_bytes(p, amy_val_int64(INT64_MAX), "9223372036854775807", 19);
    expect_bytes(p, amy_val_uint64(UINT64_MAX), "18446744073709551615", 20);

    static const double doubles[] = {1e308,     4.9406564584124654e-324,
                                     0.1,       -1.5,
                                     1.0 / 3.0, 2.2250738585072014e-308};
    for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
        amy_future *f = select_one(p, amy_val_double(doubles[i]));
        double back = strtod(itest_value(f), NULL);
        assert_memory_equal(&back, &doubles[i], sizeof back);
        amy_future_free(f);
    }

    /* -0.0 reaches the server as -0 (the text of a result prints it "0",
     * so look at its sign through ATAN2: pi for -0, 0 for +0). */
    amy_value mz = amy_val_double(-0.0);
    amy_future *fz = amy_query_params(p, "SELECT ATAN2(0, ?) > 3", &mz, 1);
    assert_int_equal(amy_future_wait(fz), AMY_OK);
    assert_string_equal(itest_value(fz), "1");
    amy_future_free(fz);

    /* SQL NULL stays NULL. */
    amy_future *f = select_one(p, amy_val_null());
    assert_null(amy_result_value(amy_future_result(f), 0, 0, NULL));
    amy_future_free(f);

    /* Dates with microseconds, through typed columns. */
    itest_exec(p, "CREATE TEMPORARY TABLE pdates (dt DATETIME(6), da DATE, "
                  "ti TIME(6))");
    amy_time dt = {2024, 2, 29, 23, 59, 59, 123456, 0};
    amy_time da = {1999, 12, 31, 0, 0, 0, 0, 0};
    amy_time ti = {0, 0, 0, 838, 59, 59, 999999, 1};
    amy_value vals[3] = {amy_val_time(AMY_TYPE_DATETIME, dt),
                         amy_val_time(AMY_TYPE_DATE, da),
                         amy_val_time(AMY_TYPE_TIME, ti)};
    f = amy_query_params(p, "INSERT INTO pdates VALUES (?, ?, ?)", vals, 3);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    amy_future_free(f);
    f = amy_query(p, "SELECT dt, da, ti FROM pdates");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    const amy_result *r = amy_future_result(f);
    assert_string_equal(amy_result_value(r, 0, 0, NULL),
                        "2024-02-29 23:59:59.123456");
    assert_string_equal(amy_result_value(r, 0, 1, NULL), "1999-12-31");
    assert_string_equal(amy_result_value(r, 0, 2, NULL), "-838:59:59.999999");
    amy_future_free(f);
    amy_pool_free(p);
}

static void test_params_injection_and_errors(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=8");
    itest_exec(p, "CREATE TEMPORARY TABLE pinj (t TEXT)");
    itest_exec(p, "INSERT INTO pinj VALUES ('a'), ('b')");
    static const char *attacks[] = {"x' OR '1'='1", "\\'; DROP TABLE pinj; --",
                                    "' OR 1=1 -- ", "\\"};
    for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++) {
        amy_value v = amy_val_text(attacks[i], strlen(attacks[i]));
        amy_future *f =
            amy_query_params(p, "SELECT COUNT(*) FROM pinj WHERE t = ?", &v, 1);
        assert_int_equal(amy_future_wait(f), AMY_OK);
        assert_string_equal(itest_value(f), "0");
        amy_future_free(f);
    }
    amy_future *f = amy_query(p, "SELECT COUNT(*) FROM pinj");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "2");
    amy_future_free(f);

    /* '?' in a literal or a comment is not a placeholder. */
    amy_value one = amy_val_int64(7);
    f = amy_query_params(p, "SELECT '?', ? /* ? */ -- ?\n", &one, 1);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(amy_result_value(amy_future_result(f), 0, 0, NULL),
                        "?");
    assert_string_equal(amy_result_value(amy_future_result(f), 0, 1, NULL),
                        "7");
    amy_future_free(f);

    /* A count that does not match: an error on the future, at once. */
    f = amy_query_params(p, "SELECT ?, ?", &one, 1);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    assert_string_equal(
        amy_future_error(f),
        "the statement has 2 placeholders but 1 parameter was given");
    amy_future_free(f);
    amy_value three[3] = {one, one, one};
    f = amy_query_params(p, "SELECT ?", three, 3);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    assert_string_equal(
        amy_future_error(f),
        "the statement has 1 placeholder but 3 parameters were given");
    amy_future_free(f);
    f = amy_query_params(p, "SELECT ?", NULL, 1);
    assert_int_equal(amy_future_status(f), AMY_EINVAL);
    amy_future_free(f);

    /* A value SQL cannot express fails its own future only. */
    amy_value nan = amy_val_double(0.0 / 0.0);
    amy_future *bad = amy_query_params(p, "SELECT ?", &nan, 1);
    amy_future *good = amy_query_params(p, "SELECT ?", &one, 1);
    assert_int_equal(amy_future_wait(bad), AMY_EINVAL);
    assert_int_equal(amy_future_wait(good), AMY_OK);
    assert_string_equal(itest_value(good), "7");
    amy_future_free(bad);
    amy_future_free(good);
    amy_pool_free(p);
}

/* Typed access: exact conversions or an error, never a silent wrap. */
/* amy_result_time on what the server writes, text protocol and binary
 * (amy_exec), and back through amy_val_time. */
static void check_times(const amy_result *r)
{
    amy_time t;
    assert_int_equal(amy_result_time(r, 0, 0, &t), AMY_OK);
    assert_true(t.year == 2024 && t.month == 2 && t.day == 29);
    assert_int_equal(amy_result_time(r, 0, 1, &t), AMY_OK);
    assert_true(t.negative && t.hour == 838 && t.minute == 59 &&
                t.second == 58 && t.microsecond == 500000);
    assert_int_equal(amy_result_time(r, 0, 2, &t), AMY_OK);
    assert_true(t.year == 1999 && t.month == 12 && t.day == 31 &&
                t.hour == 23 && t.minute == 59 && t.second == 59 &&
                t.microsecond == 123456);
    assert_int_equal(amy_result_time(r, 0, 3, &t), AMY_ETYPE); /* a string */
    assert_int_equal(amy_result_time(r, 0, 4, &t), AMY_ENULL);
}

static void test_time_values(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    static const char sql[] =
        "SELECT DATE '2024-02-29', CAST('-838:59:58.5' AS TIME(1)), "
        "CAST('1999-12-31 23:59:59.123456' AS DATETIME(6)), '2024-02-29', "
        "CAST(NULL AS DATE)";
    amy_future *f = amy_query(p, sql);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    check_times(amy_future_result(f));
    amy_future_free(f);
    f = amy_exec(p, sql, NULL, 0);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    check_times(amy_future_result(f));
    amy_future_free(f);

    /* What is read goes back as it came. */
    amy_time in = {2038, 1, 19, 3, 14, 7, 250000, 0}, out;
    amy_value v = amy_val_time(AMY_TYPE_DATETIME, in);
    f = amy_query_params(p, "SELECT CAST(? AS DATETIME(6))", &v, 1);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(amy_result_time(amy_future_result(f), 0, 0, &out), AMY_OK);
    assert_memory_equal(&in, &out, sizeof in);
    amy_future_free(f);
    amy_pool_free(p);
}

static void test_typed_values(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    amy_future *f = amy_query(
        p, "SELECT CAST(-9223372036854775808 AS SIGNED), "
           "18446744073709551615, 1.5e0, 1.50, NULL, 'abc', -1, 1e3, '', "
           "99999999999999999999, 1e308");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    const amy_result *r = amy_future_result(f);
    int64_t i = 0;
    uint64_t u = 0;
    double d = 0;
    assert_int_equal(amy_result_int64(r, 0, 0, &i), AMY_OK);
    assert_true(i == INT64_MIN);
    assert_int_equal(amy_result_uint64(r, 0, 0, &u), AMY_ERANGE);
    assert_int_equal(amy_result_coltype(r, 0), AMY_COL_LONGLONG);

    assert_int_equal(amy_result_uint64(r, 0, 1, &u), AMY_OK);
    assert_true(u == UINT64_MAX);
    assert_int_equal(amy_result_int64(r, 0, 1, &i), AMY_ERANGE);
    assert_true(amy_result_colflags(r, 1) & AMY_COLFLAG_UNSIGNED);

    assert_int_equal(amy_result_double(r, 0, 2, &d), AMY_OK);
    assert_true(d == 1.5);
    assert_int_equal(amy_result_int64(r, 0, 2, &i), AMY_ETYPE);
    assert_int_equal(amy_result_coltype(r, 2), AMY_COL_DOUBLE);

    assert_int_equal(amy_result_int64(r, 0, 3, &i), AMY_ETYPE); /* 1.50 */
    assert_int_equal(amy_result_double(r, 0, 3, &d), AMY_OK);
    assert_int_equal(amy_result_coltype(r, 3), AMY_COL_NEWDECIMAL);

    assert_int_equal(amy_result_int64(r, 0, 4, &i), AMY_ENULL);
    assert_int_equal(amy_result_double(r, 0, 4, &d), AMY_ENULL);
    assert_int_equal(amy_result_int64(r, 0, 5, &i), AMY_ETYPE); /* 'abc' */
    assert_int_equal(amy_result_double(r, 0, 5, &d), AMY_ETYPE);
    assert_int_equal(amy_result_int64(r, 0, 6, &i), AMY_OK);
    assert_true(i == -1);
    assert_int_equal(amy_result_uint64(r, 0, 6, &u), AMY_ERANGE);
    assert_int_equal(amy_result_int64(r, 0, 7, &i), AMY_OK); /* "1000" */
    assert_true(i == 1000);
    assert_int_equal(amy_result_uint64(r, 0, 8, &u), AMY_ETYPE); /* '' */
    assert_int_equal(amy_result_uint64(r, 0, 9, &u), AMY_ERANGE);
    assert_int_equal(amy_result_double(r, 0, 9, &d), AMY_OK);
    assert_true(d == 1e20);
    assert_int_equal(amy_result_double(r, 0, 10, &d), AMY_OK);
    assert_true(d == 1e308);

    /* Bad arguments. */
    assert_int_equal(amy_result_int64(r, 1, 0, &i), AMY_EINVAL);
    assert_int_equal(amy_result_int64(r, 0, 99, &i), AMY_EINVAL);
    assert_int_equal(amy_result_int64(r, 0, 0, NULL), AMY_EINVAL);
    assert_int_equal(amy_result_int64(NULL, 0, 0, &i), AMY_EINVAL);
    assert_int_equal(amy_result_coltype(r, 99), -1);
    amy_future_free(f);

    /* BIT columns are big-endian numbers. */
    itest_exec(p, "CREATE TEMPORARY TABLE pbits (b BIT(64), s BIT(5))");
    itest_exec(p, "INSERT INTO pbits VALUES (b'1111111111111111111111111111111"
                  "111111111111111111111111111111111', b'101')");
    f = amy_query(p, "SELECT b, s FROM pbits");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    r = amy_future_result(f);
    assert_int_equal(amy_result_coltype(r, 0), AMY_COL_BIT);
    assert_int_equal(amy_result_uint64(r, 0, 0, &u), AMY_OK);
    assert_true(u == UINT64_MAX);
    assert_int_equal(amy_result_int64(r, 0, 0, &i), AMY_ERANGE);
    assert_int_equal(amy_result_int64(r, 0, 1, &i), AMY_OK);
    assert_true(i == 5);
    amy_future_free(f);
    amy_pool_free(p);
}

/* ------------------------------------------------------------------------ */
/* Several result sets per query                                            */
/* ------------------------------------------------------------------------ */

static void test_multi_statements(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=8&multi_statements=1");
    itest_exec(p, "CREATE TEMPORARY TABLE pm (id INT AUTO_INCREMENT PRIMARY "
                  "KEY, v INT)");
    /* Three statements, pipelined with a plain query behind them. */
    amy_future *f =
        amy_query(p, "SELECT 1 AS a; INSERT INTO pm (v) VALUES (10), (20); "
                     "SELECT v FROM pm ORDER BY v");
    amy_future *after = amy_query(p, "SELECT 'after'");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    const amy_result *r = amy_future_result(f);
    assert_string_equal(amy_result_colname(r, 0), "a");
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "1");
    r = amy_result_next(r);
    assert_non_null(r);
    assert_int_equal(amy_result_ncols(r), 0);
    assert_int_equal(amy_result_affected_rows(r), 2);
    assert_int_equal(amy_result_insert_id(r), 1);
    r = amy_result_next(r);
    assert_non_null(r);
    assert_int_equal(amy_result_nrows(r), 2);
    assert_string_equal(amy_result_value(r, 1, 0, NULL), "20");
    assert_null(amy_result_next(r));
    assert_int_equal(amy_future_wait(after), AMY_OK);
    assert_string_equal(itest_value(after), "after");
    amy_future_free(f);
    amy_future_free(after);

    /* Statement 2 of 3 fails: the error, and the result set of statement
     * 1; statement 3 never ran. The next query is not disturbed. */
    f = amy_query(p, "SELECT 'one'; SELEC 2; INSERT INTO pm (v) VALUES (30)");
    after = amy_query(p, "SELECT COUNT(*) FROM pm");
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(f), 1064);
    r = amy_future_result(f);
    assert_non_null(r);
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "one");
    assert_null(amy_result_next(r));
    assert_int_equal(amy_future_wait(after), AMY_OK);
    assert_string_equal(itest_value(after), "2");
    amy_future_free(f);
    amy_future_free(after);

    /* The first statement fails: no result sets at all. */
    f = amy_query(p, "SELEC 1; SELECT 2");
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    assert_null(amy_future_result(f));
    amy_future_free(f);
    amy_pool_free(p);

    /* Without multi_statements a second statement is a syntax error. */
    p = itest_pool(loop, "pool=1");
    f = amy_query(p, "SELECT 1; SELECT 2");
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(f), 1064);
    amy_future_free(f);
    amy_pool_free(p);
}

static void test_call_result_sets(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=8");
    itest_exec(p, "DROP PROCEDURE IF EXISTS two_sets");
    itest_exec(p, "CREATE PROCEDURE two_sets() BEGIN SELECT 'x' AS c; "
                  "SELECT 1, 2; END");
    amy_future *f = amy_query(p, "CALL two_sets()");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    const amy_result *r = amy_future_result(f);
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "x");
    r = amy_result_next(r);
    assert_int_equal(amy_result_ncols(r), 2);
    assert_string_equal(amy_result_value(r, 0, 1, NULL), "2");
    r = amy_result_next(r); /* the CALL's own status */
    assert_non_null(r);
    assert_int_equal(amy_result_ncols(r), 0);
    assert_null(amy_result_next(r));
    amy_future_free(f);
    itest_exec(p, "DROP PROCEDURE two_sets");
    amy_pool_free(p);
}

/* max_lifetime_ms: connections are retired once they outlive it and
 * replaced, under load, without a single failed query. */
static void test_max_lifetime_rotates(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2&pipeline=8&max_lifetime_ms=150");
    enum { N = 200 };
    unsigned long ids[64];
    int nids = 0, batches = 0;
    double t0 = itest_now();
    amy_stats s = itest_stats(p);
    while (s.retired < 4) {
        if (itest_now() - t0 > ITEST_HANG_GUARD)
            fail_msg("no rotation after %.0f s", ITEST_HANG_GUARD);
        amy_future *fs[N];
        for (int i = 0; i < N; i++)
            fs[i] = amy_query(p, "SELECT CONNECTION_ID()");
        amy_future *g = amy_gather(fs, N);
        assert_int_equal(amy_future_wait(g), AMY_OK); /* none failed */
        for (int i = 0; i < N; i++) {
            unsigned long id = strtoul(itest_value(fs[i]), NULL, 10);
            int seen = 0;
            for (int j = 0; j < nids; j++)
                seen |= ids[j] == id;
            if (!seen && nids < 64)
                ids[nids++] = id;
            amy_future_free(fs[i]);
        }
        amy_future_free(g);
        batches++;
        s = itest_stats(p);
    }
    assert_int_equal(s.failed, 0);
    assert_true(s.conns_open <= 2);
    assert_true(nids > 2); /* the retired ones were replaced */
    printf("max_lifetime: %d batches of %d, %d connections seen, %llu "
           "retired\n",
           batches, N, nids, (unsigned long long)s.retired);
    amy_pool_free(p);
}

/* An idle connection past its lifetime is closed by the sweep. */
static int no_conns(const amy_stats *s)
{
    return s->conns_open == 0 && s->retired >= 1;
}

static void test_max_lifetime_idle(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&max_lifetime_ms=100");
    amy_future *f = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    amy_future_free(f);
    itest_run_until(loop, p, no_conns, "the idle connection retired");
    f = amy_query(p, "SELECT 2"); /* a new one opens */
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "2");
    amy_future_free(f);
    amy_pool_free(p);
}

/* ------------------------------------------------------------------------ */
/* Secrets: the password never shows                                        */
/* ------------------------------------------------------------------------ */

/*
 * Every password here holds "LeakCanary", which scripts/dev.sh test also
 * looks for in every log the suite writes: none of these may print it.
 */
#define CANARY "LeakCanary"

/* Fails if text holds the password, decoded or as written in the DSN, or
 * the canary at all. */
static void assert_secret_absent(const char *what, const char *text,
                                 const char *pw, const char *pw_decoded)
{
    if (!text)
        return;
    if (strstr(text, CANARY) || strstr(text, pw) ||
        (pw_decoded && strstr(text, pw_decoded)))
        fail_msg("the password shows in %s", what);
}

/* "host:port" of the DSN in var (scheme and user part dropped), into buf. */
static const char *endpoint_of(const char *var, char *buf, size_t len)
{
    const char *d = itest_dsn(var);
    const char *at = strchr(d, '@');
    assert_non_null(at);
    size_t n = strcspn(at + 1, "/?");
    snprintf(buf, len, "%.*s", (int)n, at + 1);
    return buf;
}

/* One query on a pool for dsn: it must fail to connect, and neither its
 * error, its SQLSTATE nor the pool's stats may show the password. */
static void connect_fails_quietly(const char *dsn, const char *pw,
                                  const char *pw_decoded)
{
    char err[512];
    amy_pool *p = amy_pool_new(loop, dsn, err, sizeof err);
    if (!p)
        fail_msg("amy_pool_new refused a valid DSN: %s", err);
    amy_future *f = amy_query(p, "SELECT 1");
    int st = amy_future_wait(f);
    assert_true(st == AMY_ECONNECT || st == AMY_ECONNLOST);
    assert_non_null(amy_future_error(f));
    assert_secret_absent("amy_future_error", amy_future_error(f), pw,
                         pw_decoded);
    assert_secret_absent("amy_future_sqlstate", amy_future_sqlstate(f), pw,
                         pw_decoded);
    /* A gather's message quotes its first failure. */
    amy_future *g = amy_gather(&f, 1);
    assert_int_equal(amy_future_wait(g), AMY_EGATHER);
    assert_secret_absent("a gather's error", amy_future_error(g), pw,
                         pw_decoded);
    amy_future_free(g);
    amy_stats s = itest_stats(p);
    assert_true(s.connect_failures >= 1);
    assert_secret_absent("amy_stats.tls_version", s.tls_version, pw,
                         pw_decoded);
    assert_secret_absent("amy_stats.tls_cipher", s.tls_cipher, pw, pw_decoded);
    amy_future_free(f);
    amy_pool_free(p);
}

/* Wrong passwords (plain, and one needing percent-encoding) refused by
 * the server, over plaintext and over TLS; a refused port; TLS that
 * fails: no message shows the password. */
static void test_password_never_in_errors(void **state)
{
    char ep[128], dsn[512];
    endpoint_of("AMY_TEST_DSN", ep, sizeof ep);
    /* Access denied (1045), plaintext and TLS (preferred). */
    snprintf(dsn, sizeof dsn,
             "mysql://amy:" CANARY "-wrong-1@%s/amysql_test?ssl_mode=disabled",
             ep);
    connect_fails_quietly(dsn, CANARY "-wrong-1", NULL);
    snprintf(dsn, sizeof dsn, "mysql://amy:" CANARY "-wrong-2@%s/amysql_test",
             ep);
    connect_fails_quietly(dsn, CANARY "-wrong-2", NULL);
    /* Percent-encoded: neither form shows. */
    snprintf(dsn, sizeof dsn,
             "mysql://amy:" CANARY "%%40%%3Aw%%2F%%25%%3F%%26x@%s/amysql_test"
             "?ssl_mode=disabled&pool=2",
             ep);
    connect_fails_quietly(dsn, CANARY "%40%3Aw%2F%25%3F%26x",
                          CANARY "@:w/%?&x");
    /* Nothing listens: refused (2002). */
    connect_fails_quietly("mysql://amy:" CANARY "-refused@127.0.0.1:1/db"
                          "?connect_timeout_ms=2000",
                          CANARY "-refused", NULL);
    /* A user that does not exist. */
    snprintf(dsn, sizeof dsn,
             "mysql://nobody_here:" CANARY "-nouser@%s/db?ssl_mode=disabled",
             ep);
    connect_fails_quietly(dsn, CANARY "-nouser", NULL);

    /* TLS refused: a server without TLS under ssl_mode=required, and an
     * expired certificate under verify_ca (needs the variants). */
    if (getenv("AMY_TEST_PLAIN_DSN") && getenv("AMY_TEST_EXPIRED_DSN") &&
        getenv("AMY_TEST_TLS_DIR")) {
        endpoint_of("AMY_TEST_PLAIN_DSN", ep, sizeof ep);
        snprintf(dsn, sizeof dsn,
                 "mysql://amy:" CANARY "-tls-1@%s/amysql_test"
                 "?ssl_mode=required",
                 ep);
        connect_fails_quietly(dsn, CANARY "-tls-1", NULL);
        endpoint_of("AMY_TEST_EXPIRED_DSN", ep, sizeof ep);
        snprintf(dsn, sizeof dsn,
                 "mysql://amy:" CANARY "-tls-2@%s/amysql_test"
                 "?ssl_mode=verify_ca&ssl_ca=%s/ca.pem",
                 ep, getenv("AMY_TEST_TLS_DIR"));
        connect_fails_quietly(dsn, CANARY "-tls-2", NULL);
    }
}

/* DSNs amy_pool_new refuses: the message names the problem, never the
 * password (a bad key after it, a bad value, a bad escape in it, a raw '/'
 * or '?' that splits it, a bad TLS file). A key's own value may be quoted:
 * those are not the password. */
static void test_password_never_in_pool_new_errors(void **state)
{
    static const char *const bad[] = {
        "mysql://amy:" CANARY "-k@127.0.0.1/db?bogus_key=1",
        "mysql://amy:" CANARY "-k@127.0.0.1/db?pool=many",
        "mysql://amy:" CANARY "-k@127.0.0.1/db?max_result_bytes=-1",
        "mysql://amy:" CANARY "%zz@127.0.0.1/db",
        "mysql://amy:" CANARY "%00@127.0.0.1/db",
        "mysql://amy:" CANARY "/x@127.0.0.1/db",
        "mysql://amy:" CANARY "?x@127.0.0.1/db",
        "mysql://amy:ab?" CANARY "=1@127.0.0.1/db",
        "mysql://amy:" CANARY "@127.0.0.1:99999/db",
        "mysql://amy:" CANARY, /* the host forgotten: it reads as a port */
        "mysql://amy:" CANARY "@127.0.0.1/db?ssl_mode=sometimes",
        "mysql://amy:" CANARY "@127.0.0.1/db?ssl_mode=verify_ca&ssl_ca=/no/"
        "such/file.pem",
        "mysql://amy:" CANARY "@127.0.0.1/db?tls_version=TLSv9",
        "mysql://amy:" CANARY "@127.0.0.1/db?charset=klingon",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        amy_pool *p = amy_pool_new(loop, bad[i], err, sizeof err);
        if (p)
            fail_msg("DSN %zu was accepted", i);
        assert_true(err[0] != '\0');
        if (strstr(err, CANARY))
            fail_msg("DSN %zu: the password shows in the message", i);
    }
}

/* With the right password, nothing a failing query or the stats say
 * shows it either (scripts/dev.sh test greps the logs for the test
 * servers' passwords too). */
static void test_password_never_in_query_errors(void **state)
{
    const char *dsn = itest_dsn("AMY_TEST_DSN");
    const char *at = strchr(dsn, '@'), *colon = strchr(dsn + 8, ':');
    assert_true(at && colon && colon < at);
    char pw[128];
    snprintf(pw, sizeof pw, "%.*s", (int)(at - colon - 1), colon + 1);
    assert_true(pw[0] != '\0');
    amy_pool *p = itest_pool(loop, "pool=1&max_result_bytes=10");
    const char *sql[] = {"SELEC 1", "SELECT REPEAT('x', 100)",
                         "SELECT * FROM no_such_table"};
    for (size_t i = 0; i < 3; i++) {
        amy_future *f = amy_query(p, sql[i]);
        assert_true(amy_future_wait(f) < 0);
        if (strstr(amy_future_error(f), pw))
            fail_msg("query %zu: the password shows in its error", i);
        amy_future_free(f);
    }
    amy_value v = amy_val_int64(1);
    amy_future *f = amy_exec(p, "SELEC ?", &v, 1);
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    assert_null(strstr(amy_future_error(f), pw));
    amy_future_free(f);
    amy_stats s = itest_stats(p);
    assert_true(!s.tls_version || !strstr(s.tls_version, pw));
    assert_true(!s.tls_cipher || !strstr(s.tls_cipher, pw));
    amy_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_query),
        cmocka_unit_test(test_gather_1000),
        cmocka_unit_test(test_gather_1000_no_pipelining),
        cmocka_unit_test(test_gather_one_connection_deep_pipeline),
        cmocka_unit_test(test_gather_read_coalesce),
        cmocka_unit_test(test_read_coalesce_teardown),
        cmocka_unit_test(test_read_coalesce_few_read_at_once),
        cmocka_unit_test(test_max_lifetime_rotates),
        cmocka_unit_test(test_max_lifetime_idle),
        cmocka_unit_test(test_error_mid_pipeline),
        cmocka_unit_test(test_null_empty_binary),
        cmocka_unit_test(test_affected_rows_insert_id),
        cmocka_unit_test(test_pool_free_cancels),
        cmocka_unit_test(test_free_inside_own_callback),
        cmocka_unit_test(test_queries_from_callbacks),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_large_requests_pipelined),
        cmocka_unit_test(test_query_timeout),
        cmocka_unit_test(test_query_timeout_says_connect_error),
        cmocka_unit_test(test_procedure_extra_results),
        cmocka_unit_test(test_free_pending_futures),
        cmocka_unit_test(test_unresolvable_host),
        cmocka_unit_test(test_query_from_another_pools_kick),
        cmocka_unit_test(test_params_round_trip),
        cmocka_unit_test(test_params_injection_and_errors),
        cmocka_unit_test(test_typed_values),
        cmocka_unit_test(test_time_values),
        cmocka_unit_test(test_multi_statements),
        cmocka_unit_test(test_call_result_sets),
        cmocka_unit_test(test_password_never_in_errors),
        cmocka_unit_test(test_password_never_in_pool_new_errors),
        cmocka_unit_test(test_password_never_in_query_errors),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
