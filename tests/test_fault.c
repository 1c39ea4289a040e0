/*
 * The fault suite: the pool under killed connections, a server restart,
 * timeouts that must stop the server, idle connections the server closes,
 * and cancellation in every state. Every scenario prints
 *
 *   fault=<name> futures=N resolved=N ok=A failed=B hung=0
 *
 * and asserts it: every future resolves exactly once, every success carries
 * its own value, and the pool works afterwards.
 *
 * Needs AMY_TEST_DSN, AMY_TEST_ROOT_SOCKET (root over the socket, for KILL
 * and SET GLOBAL) and AMY_TESTDB_SCRIPT (to restart the server).
 */
#include "itest.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Tally: exactly-once accounting for a batch of numbered queries           */
/* ------------------------------------------------------------------------ */

typedef struct tally {
    size_t n;
    amy_future **fs;
    unsigned *calls; /* callback runs per future: must end at exactly 1 */
} tally;

typedef struct tally_ref {
    tally *t;
    size_t i;
} tally_ref;

static tally_ref *refs;

static void tally_cb(amy_future *f, void *arg)
{
    tally_ref *r = arg;
    r->t->calls[r->i]++;
}

/* Submits SELECT <i>, <i>*7 (with an optional suffix) for i in [0, n). */
/* Every other query a prepared statement (amy_exec) when exec is set. */
static void tally_start_mode(tally *t, amy_pool *p, size_t n, const char *extra,
                             int exec);

static void tally_start(tally *t, amy_pool *p, size_t n, const char *extra)
{
    tally_start_mode(t, p, n, extra, 0);
}

static void tally_start_mode(tally *t, amy_pool *p, size_t n, const char *extra,
                             int exec)
{
    t->n = n;
    t->fs = calloc(n, sizeof *t->fs);
    t->calls = calloc(n, sizeof *t->calls);
    refs = calloc(n, sizeof *refs);
    assert_true(t->fs && t->calls && refs);
    for (size_t i = 0; i < n; i++) {
        char sql[128];
        if (exec && i % 2 == 0) {
            amy_value v[2] = {amy_val_uint64(i), amy_val_uint64(i)};
            snprintf(sql, sizeof sql, "SELECT ?, ? * 7%s", extra ? extra : "");
            t->fs[i] = amy_exec(p, sql, v, 2);
        } else {
            snprintf(sql, sizeof sql, "SELECT %zu, %zu * 7%s", i, i,
                     extra ? extra : "");
            t->fs[i] = amy_query(p, sql);
        }
        assert_non_null(t->fs[i]);
        refs[i].t = t;
        refs[i].i = i;
        assert_int_equal(amy_future_then(t->fs[i], tally_cb, &refs[i]), AMY_OK);
    }
}

/* Waits for all, checks exactly-once and values, prints the fault line.
 * Returns the number that failed. */
static size_t tally_finish(tally *t, const char *name)
{
    amy_future *g = amy_gather(t->fs, t->n);
    assert_non_null(g);
    amy_future_wait(g);
    amy_future_free(g);
    size_t resolved = 0, ok = 0, failed = 0;
    for (size_t i = 0; i < t->n; i++) {
        int st = amy_future_status(t->fs[i]);
        if (st == AMY_PENDING)
            continue;
        resolved++;
        assert_int_equal(t->calls[i], 1);
        if (st == AMY_OK) {
            char a[32], b[32];
            snprintf(a, sizeof a, "%zu", i);
            snprintf(b, sizeof b, "%zu", i * 7);
            const amy_result *r = amy_future_result(t->fs[i]);
            assert_string_equal(amy_result_value(r, 0, 0, NULL), a);
            assert_string_equal(amy_result_value(r, 0, 1, NULL), b);
            ok++;
        } else {
            if (failed++ < 3)
                print_message("%s: #%zu failed: %s (%u)\n", name, i,
                              amy_future_error(t->fs[i]),
                              amy_future_server_errno(t->fs[i]));
        }
    }
    printf("fault=%s futures=%zu resolved=%zu ok=%zu failed=%zu hung=%zu\n",
           name, t->n, resolved, ok, failed, t->n - resolved);
    fflush(stdout);
    assert_int_equal(resolved, t->n);
    for (size_t i = 0; i < t->n; i++)
        amy_future_free(t->fs[i]);
    free(t->fs);
    free(t->calls);
    free(refs);
    refs = NULL;
    return failed;
}

/* n more queries on p, each with its own value: the pool has recovered. */
static void expect_healthy(amy_pool *p, size_t n)
{
    tally t;
    tally_start(&t, p, n, NULL);
    assert_int_equal(tally_finish(&t, "recovered"), 0);
}

/* ------------------------------------------------------------------------ */
/* 1. KILL CONNECTION on every pool connection, several times               */
/* ------------------------------------------------------------------------ */

typedef struct killer {
    amy_pool *admin;
    int rounds_left;
    int kills;
    ev_timer timer;
} killer;

static void free_cb(amy_future *f, void *arg)
{
    amy_future_free(f);
}

static void killer_ids(amy_future *f, void *arg)
{
    killer *k = arg;
    const amy_result *r = amy_future_result(f);
    for (size_t i = 0; r && i < amy_result_nrows(r); i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "KILL CONNECTION %s",
                 amy_result_value(r, i, 0, NULL));
        amy_future *kf = amy_query(k->admin, sql);
        /* Fire and forget; the kill's own outcome does not matter. */
        amy_future_then(kf, free_cb, NULL);
        k->kills++;
    }
    amy_future_free(f);
}

static void killer_tick(struct ev_loop *l, ev_timer *w, int revents)
{
    killer *k = w->data;
    if (k->rounds_left-- <= 0) {
        ev_timer_stop(l, w);
        return;
    }
    amy_future *f =
        amy_query(k->admin, "SELECT ID FROM information_schema.PROCESSLIST "
                            "WHERE USER = 'amy'");
    amy_future_then(f, killer_ids, k);
}

static int eight_open(const amy_stats *s)
{
    return s->conns_open == 8;
}

static void test_fault_kill_connections(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=8&pipeline=16");
    killer k = {.admin = itest_admin_pool(loop), .rounds_left = 5};
    expect_healthy(p, 8); /* open the connections first */
    /* All 8 logged in, so the first round alone finds (and kills) 8. */
    itest_run_until(loop, p, eight_open, "8 connections open");
    ev_timer_init(&k.timer, killer_tick, 0.02, 0.05);
    k.timer.data = &k;
    tally t;
    /* A short sleep per query keeps the batch running across the kills. */
    tally_start(&t, p, 10000, ", SLEEP(0.0002)");
    ev_timer_start(loop, &k.timer);
    size_t failed = tally_finish(&t, "kill_connections");
    while (k.rounds_left >= 0)
        itest_run_for(0.05);
    print_message("kill_connections: %d KILL CONNECTION sent, %zu queries "
                  "failed with them\n",
                  k.kills, failed);
    assert_true(k.kills >= 8);
    expect_healthy(p, 1000);
    amy_stats s;
    amy_pool_stats(p, &s);
    assert_true(s.reconnects > 0);
    amy_pool_free(k.admin);
    amy_pool_free(p);
}

/* The same with prepared statements among the queries: a statement cut
 * off in any phase (prepare, execute, reading rows) resolves once. */
static void test_fault_kill_connections_exec(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=8&pipeline=16&stmt_cache=4");
    killer k = {.admin = itest_admin_pool(loop), .rounds_left = 5};
    expect_healthy(p, 8);
    itest_run_until(loop, p, eight_open, "8 connections open");
    ev_timer_init(&k.timer, killer_tick, 0.02, 0.05);
    k.timer.data = &k;
    tally t;
    tally_start_mode(&t, p, 6000, ", SLEEP(0.0002)", 1);
    ev_timer_start(loop, &k.timer);
    tally_finish(&t, "kill_connections_exec");
    while (k.rounds_left >= 0)
        itest_run_for(0.05);
    tally_start_mode(&t, p, 1000, NULL, 1);
    assert_int_equal(tally_finish(&t, "recovered"), 0);
    amy_stats s;
    amy_pool_stats(p, &s);
    assert_true(s.stmts_open <= 8 * 4);
    amy_pool_free(k.admin);
    amy_pool_free(p);
}

/* ------------------------------------------------------------------------ */
/* 2. The server stops in the middle of a batch and starts again            */
/* ------------------------------------------------------------------------ */

static pid_t spawn_restart(const char *downtime)
{
    const char *script = itest_dsn("AMY_TESTDB_SCRIPT");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/bash", "bash", script, "restart", downtime, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void test_fault_server_restart(void **state)
{
    amy_pool *p =
        itest_pool(loop, "pool=4&pipeline=8&connect_timeout_ms=20000");
    expect_healthy(p, 4);
    tally t;
    tally_start(&t, p, 3000, ", SLEEP(0.001)");
    itest_run_for(0.1);
    pid_t pid = spawn_restart("0.5");
    size_t failed = tally_finish(&t, "server_restart");
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    print_message("server_restart: %zu of 3000 failed (in flight when the "
                  "server went away)\n",
                  failed);
    expect_healthy(p, 1000);
    amy_stats s;
    amy_pool_stats(p, &s);
    print_message("server_restart: reconnects=%llu connect_failures=%llu\n",
                  (unsigned long long)s.reconnects,
                  (unsigned long long)s.connect_failures);
    assert_true(s.reconnects > 0);
    amy_pool_free(p);
}

/* ------------------------------------------------------------------------ */
/* 3. A timeout stops the statement on the server                           */
/* ------------------------------------------------------------------------ */

/* The statements of these tests wait behind a gate: they never end on
 * their own, so one gone from the server was stopped by amysql's KILL. */
#define GATE  "t_fault_gate"
#define GATED "SELECT COUNT(*) FROM " GATE

/* Seconds until no statement with `info` runs on the server (fails the
 * test after ITEST_HANG_GUARD). */
static double wait_gone(amy_pool *admin, const char *info)
{
    double t0 = itest_now();
    itest_wait_running(admin, info, 0);
    return itest_now() - t0;
}

static void test_fault_timeout_kills(void **state)
{
    amy_pool *admin = itest_admin_pool(loop);
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=8");
    expect_healthy(p, 1);
    itest_gate gate;
    itest_gate_close(&gate, loop, GATE);

    /* Alone on its connection. */
    amy_future *slow = amy_query(p, GATED);
    assert_int_equal(amy_future_set_timeout(slow, 100), AMY_OK);
    double t0 = itest_now();
    assert_int_equal(amy_future_wait(slow), AMY_ETIMEDOUT);
    double dt = itest_now() - t0;
    assert_string_equal(amy_future_sqlstate(slow), "HYT00");
    amy_future_free(slow);
    /* Gone while the gate is closed: killed (it cannot end otherwise). */
    double gone = wait_gone(admin, GATED);
    printf("fault=timeout futures=1 resolved=1 ok=0 failed=1 hung=0 "
           "resolved_after_ms=%.0f gone_from_processlist_ms=%.0f\n",
           dt * 1e3, gone * 1e3);

    /* Pipelined: queries behind the slow one on the same connection
     * complete, with their own values, long before it would have. */
    tally t;
    slow = amy_query(p, GATED);
    amy_future_set_timeout(slow, 100);
    tally_start(&t, p, 7, NULL);
    t0 = itest_now();
    assert_int_equal(tally_finish(&t, "timeout_pipelined"), 0);
    assert_true(itest_now() - t0 < 5.0); /* a hang guard, not a speed check */
    assert_int_equal(amy_future_status(slow), AMY_ETIMEDOUT);
    amy_future_free(slow);
    wait_gone(admin, GATED);
    itest_gate_open(&gate);

    expect_healthy(p, 100);
    amy_stats s;
    amy_pool_stats(p, &s);
    assert_int_equal(s.timed_out, 2);
    assert_true(s.kills >= 2);
    amy_pool_free(p);
    amy_pool_free(admin);
}

/* ------------------------------------------------------------------------ */
/* 4. Idle connections closed by the server (wait_timeout)                  */
/* ------------------------------------------------------------------------ */

static void set_wait_timeout(amy_pool *admin, int seconds)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SET GLOBAL wait_timeout = %d", seconds);
    itest_exec(admin, sql);
}

static int none_open(const amy_stats *s)
{
    return s->conns_open == 0;
}

static int none_connecting(const amy_stats *s)
{
    return s->conns_connecting == 0;
}

static void test_fault_idle_wait_timeout(void **state)
{
    amy_pool *admin = itest_admin_pool(loop);
    /* B watches the server from a loop of its own: loop must not run. */
    struct ev_loop *watch_loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(watch_loop);
    amy_pool *watch = itest_admin_pool(watch_loop);
    /* amy over the Unix socket: only B's pool here. */
    const char *amy_sessions = "SELECT COUNT(*) FROM "
                               "information_schema.PROCESSLIST WHERE USER = "
                               "'amy' AND HOST = 'localhost'";
    set_wait_timeout(admin, 1);
    amy_pool *p = itest_pool(loop, "pool=4&pipeline=4");
    expect_healthy(p, 40); /* connections opened with wait_timeout = 1 */
    /* Every one logged in before wait_timeout goes back up. */
    itest_run_until(loop, p, none_connecting, "the logins");
    set_wait_timeout(admin, 28800);

    /* A: the loop runs while the server closes them: seen and dropped
     * (when is up to the server: wait until they are). */
    itest_run_until(loop, p, none_open, "the server to close them");
    tally t;
    tally_start(&t, p, 200, NULL);
    assert_int_equal(tally_finish(&t, "idle_wait_timeout_watched"), 0);

    /* B: the loop does not run while they die: checked before reuse. The
     * Unix socket: once the server's session is gone, its close() has
     * made our end readable (EOF), with nothing left in flight. */
    set_wait_timeout(admin, 1);
    amy_pool_free(p);
    p = itest_pool_from(loop, "AMY_TEST_SOCKET_DSN", "pool=4&pipeline=4");
    expect_healthy(p, 40);
    itest_run_until(loop, p, none_connecting, "the logins");
    set_wait_timeout(admin, 28800);
    itest_wait_count(watch, amy_sessions, 0);
    tally_start(&t, p, 200, NULL);
    assert_int_equal(tally_finish(&t, "idle_wait_timeout_unwatched"), 0);
    amy_pool_free(p);
    amy_pool_free(watch);
    ev_loop_destroy(watch_loop);
    amy_pool_free(admin);
}

/* idle_timeout_ms: the pool closes its own idle connections. */
static void test_idle_timeout_closes(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=3&idle_timeout_ms=200");
    expect_healthy(p, 30);
    amy_stats s;
    amy_pool_stats(p, &s);
    assert_true(s.conns_open > 0);
    itest_run_until(loop, p, none_open, "idle_timeout_ms to close them");
    expect_healthy(p, 30);
    amy_pool_free(p);
}

/* ------------------------------------------------------------------------ */
/* 5. Cancel in every state                                                 */
/* ------------------------------------------------------------------------ */

static int cb_calls;
static int cb_status;
static void record(amy_future *f, void *arg)
{
    cb_calls++;
    cb_status = amy_future_status(f);
}

static void test_fault_cancel_states(void **state)
{
    amy_pool *admin = itest_admin_pool(loop);
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=1");
    expect_healthy(p, 1);
    size_t n = 0, resolved = 0;

    itest_gate gate;
    itest_gate_close(&gate, loop, GATE);
    /* Sent: stopped on the server, the connection serves the next one. */
    amy_future *sent = amy_query(p, GATED);
    amy_future_then(sent, record, NULL);
    /* Queued behind it (pipeline=1): never sent. */
    amy_future *queued = amy_query(p, "SELECT 'never'");
    amy_future_then(queued, record, NULL);
    itest_wait_running(admin, GATED, 1);
    n += 2;
    cb_calls = 0;
    /* The outcome at once, the callbacks from the loop (never inside the
     * cancel). */
    assert_int_equal(amy_future_cancel(queued), 1);
    assert_int_equal(amy_future_status(queued), AMY_ECANCELED);
    assert_int_equal(cb_calls, 0);
    assert_int_equal(amy_future_cancel(sent), 1);
    assert_int_equal(amy_future_status(sent), AMY_ECANCELED);
    assert_int_equal(cb_calls, 0);
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(cb_calls, 2);
    assert_int_equal(cb_status, AMY_ECANCELED);
    resolved += 2;
    /* Canceling again changes nothing. */
    assert_int_equal(amy_future_cancel(sent), 0);
    assert_int_equal(amy_future_cancel(queued), 0);
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(cb_calls, 2);
    wait_gone(admin, GATED);

    /* Done: cancel is a no-op, the result stays. */
    amy_future *done = amy_query(p, "SELECT 'done'");
    amy_future_then(done, record, NULL);
    assert_int_equal(amy_future_wait(done), AMY_OK);
    n++;
    resolved++;
    assert_int_equal(amy_future_cancel(done), 0);
    assert_string_equal(itest_value(done), "done");
    assert_int_equal(cb_calls, 3);

    /* Freed while sent and while queued: same as cancel, then gone. */
    amy_future *fsent = amy_query(p, GATED);
    amy_future *fqueued = amy_query(p, "SELECT 'never'");
    amy_future_then(fsent, record, NULL);
    amy_future_then(fqueued, record, NULL);
    itest_wait_running(admin, GATED, 1);
    amy_future_free(fqueued);
    amy_future_free(fsent);
    n += 2;
    resolved += 2;
    assert_int_equal(cb_calls, 5);
    wait_gone(admin, GATED);
    itest_gate_open(&gate);

    /* A gather is canceled alone; its children go on. */
    amy_future *kids[2] = {amy_query(p, "SELECT 1"), amy_query(p, "SELECT 2")};
    amy_future *g = amy_gather(kids, 2);
    assert_int_equal(amy_future_cancel(g), 1);
    assert_int_equal(amy_future_status(g), AMY_ECANCELED);
    assert_int_equal(amy_future_wait(kids[0]), AMY_OK);
    assert_int_equal(amy_future_wait(kids[1]), AMY_OK);
    n += 3;
    resolved += 3;

    printf("fault=cancel_states futures=%zu resolved=%zu ok=3 failed=%zu "
           "hung=0\n",
           n, resolved, n - 3);
    amy_future_free(g);
    amy_future_free(kids[0]);
    amy_future_free(kids[1]);
    amy_future_free(sent);
    amy_future_free(queued);
    amy_future_free(done);
    expect_healthy(p, 100);
    amy_stats s;
    amy_pool_stats(p, &s);
    assert_int_equal(s.canceled, 4);
    amy_pool_free(p);
    amy_pool_free(admin);
}

/* ------------------------------------------------------------------------ */
/* Bad input                                                                */
/* ------------------------------------------------------------------------ */

static void test_fault_queue_full(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=1&queue_max=5");
    amy_future *fs[10];
    int full = 0;
    for (int i = 0; i < 10; i++) {
        fs[i] = amy_query(p, "SELECT 1");
        if (amy_future_status(fs[i]) == AMY_EQUEUEFULL)
            full++;
    }
    assert_int_equal(full, 5);
    for (int i = 0; i < 10; i++) {
        int st = amy_future_wait(fs[i]);
        assert_true(st == AMY_OK || st == AMY_EQUEUEFULL);
        amy_future_free(fs[i]);
    }
    printf("fault=queue_full futures=10 resolved=10 ok=5 failed=5 hung=0\n");
    amy_pool_free(p);
}

/* A port where nothing listens: AMY_ECONNECT within connect_timeout_ms,
 * with the last connect error, after retrying with backoff. */
static void test_fault_server_down(void **state)
{
    char dsn[256], err[256];
    snprintf(
        dsn, sizeof dsn,
        "mysql://amy:amy_pw@127.0.0.1:1/amysql_test?connect_timeout_ms=400");
    amy_pool *p = amy_pool_new(loop, dsn, err, sizeof err);
    assert_non_null(p);
    tally t;
    tally_start(&t, p, 20, NULL);
    double t0 = itest_now();
    assert_int_equal(tally_finish(&t, "server_down"), 20);
    double dt = itest_now() - t0;
    assert_true(dt < 5.0); /* a hang guard, not a speed check */
    amy_future *f = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_wait(f), AMY_ECONNECT);
    assert_int_equal(amy_future_server_errno(f), 2002);
    assert_non_null(strstr(amy_future_error(f), "could not connect"));
    assert_null(strstr(amy_future_error(f), "amy_pw"));
    amy_future_free(f);
    amy_stats s;
    amy_pool_stats(p, &s);
    print_message("server_down: failed after %.0f ms, %llu attempts\n",
                  dt * 1e3, (unsigned long long)s.connect_failures);
    assert_true(s.connect_failures >= 2);
    amy_pool_free(p);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_kill_connections),
        cmocka_unit_test(test_fault_kill_connections_exec),
        cmocka_unit_test(test_fault_timeout_kills),
        cmocka_unit_test(test_fault_idle_wait_timeout),
        cmocka_unit_test(test_idle_timeout_closes),
        cmocka_unit_test(test_fault_cancel_states),
        cmocka_unit_test(test_fault_queue_full),
        cmocka_unit_test(test_fault_server_down),
        cmocka_unit_test(test_fault_server_restart),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
