/*
 * Integration tests of src/kill.c: the KILL QUERY channel, one connection
 * of its own beside the pool's. The tests hold the pool's one connection
 * busy with SLEEP(600) and let its future time out: only a KILL that lands
 * frees the connection for the next query (600 s is beyond the test's
 * ctest timeout, so a kill that never lands fails the test instead of
 * passing late). Where the kill must fail, the statement waits behind a
 * gate (tests/itest.h) that the test opens.
 */
#include "itest.h"

#define SLOW "SELECT SLEEP(600)"

/* The slow query times out on p's one connection; the next query on that
 * connection then succeeds, which needs the slow one stopped (or, with
 * `sleep` shorter, over). */
static void time_out_then_query(amy_pool *p, const char *slow_sql)
{
    amy_future *slow = amy_query(p, slow_sql);
    /* Its deadline starts once it runs on the server: opening the
     * connection (over TLS, a handshake on the dialer's thread) takes what
     * it takes, and a query that times out before it was sent needs no
     * KILL. */
    amy_pool *admin = itest_admin_pool(loop);
    itest_wait_running(admin, slow_sql, 1);
    amy_pool_free(admin);
    assert_int_equal(amy_future_set_timeout(slow, 50), AMY_OK);
    assert_int_equal(amy_future_wait(slow), AMY_ETIMEDOUT);
    amy_future_free(slow);
    amy_future *next = amy_query(p, "SELECT 7");
    assert_int_equal(amy_future_wait(next), AMY_OK);
    assert_string_equal(itest_value(next), "7");
    amy_future_free(next);
}

/* The session ids of p's connections other than its KILL channel's... are
 * not ours to know; the channel is the session of user amy that is
 * neither p's nor the admin's. Returns its id, or 0. */
static unsigned long channel_id(amy_pool *admin, amy_pool *p)
{
    amy_future *f = amy_query(p, "SELECT CONNECTION_ID()");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT COALESCE(MAX(ID), 0) FROM information_schema.PROCESSLIST"
             " WHERE USER = 'amy' AND ID <> %s",
             itest_value(f));
    amy_future_free(f);
    f = amy_query(admin, sql);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    unsigned long id = strtoul(itest_value(f), NULL, 10);
    amy_future_free(f);
    return id;
}

/* A timed-out statement is stopped on the server through the channel, and
 * again through the same channel. */
static void test_kill_stops_statement(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=1");
    time_out_then_query(p, SLOW);
    time_out_then_query(p, SLOW);
    amy_stats s = itest_stats(p);
    assert_int_equal(s.kills, 2);
    assert_int_equal(s.timed_out, 2);
    assert_int_equal(s.completed, 2);
    assert_int_equal(s.conns_open, 1); /* the channel is not the pool's */
    amy_pool_free(p);
}

/* The server closes the channel's connection: the next kill opens a new
 * one. */
static void test_kill_channel_reopens(void **state)
{
    amy_pool *admin = itest_admin_pool(loop);
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=1");
    time_out_then_query(p, SLOW);
    unsigned long id = channel_id(admin, p);
    assert_true(id > 0);
    char sql[64];
    snprintf(sql, sizeof sql, "KILL CONNECTION %lu", id);
    itest_exec(admin, sql);
    /* Gone from the server: its socket is closed, and the channel sees the
     * end of it before it writes the next KILL. */
    char gone[160];
    snprintf(gone, sizeof gone,
             "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = "
             "%lu",
             id);
    itest_wait_count(admin, gone, 0);
    time_out_then_query(p, SLOW);
    unsigned long id2 = channel_id(admin, p);
    assert_true(id2 > 0 && id2 != id);
    assert_int_equal(itest_stats(p).kills, 2);
    amy_pool_free(p);
    amy_pool_free(admin);
}

static void lock_amy(amy_pool *admin, int lock)
{
    const char *how = lock ? "LOCK" : "UNLOCK";
    char sql[96];
    snprintf(sql, sizeof sql, "ALTER USER 'amy'@'%%' ACCOUNT %s", how);
    itest_exec(admin, sql);
    snprintf(sql, sizeof sql, "ALTER USER 'amy'@'localhost' ACCOUNT %s", how);
    itest_exec(admin, sql);
}

static int unlock_amy(void **state)
{
    amy_pool *admin = itest_admin_pool(loop);
    lock_amy(admin, 0);
    amy_pool_free(admin);
    return 0;
}

/* The channel cannot connect (the account is locked after the pool's
 * connection opened): the kill fails, the statement runs to its end, its
 * answer is dropped, and the connection serves the next query. The
 * statement waits behind a gate, so no timing decides the outcome: it ends
 * when the test opens the gate, once the server has refused the channel
 * (Aborted_connects went up). */
#define GATE_SQL "SELECT COUNT(*) FROM t_kill_gate"

static unsigned long aborted_connects(amy_pool *admin)
{
    amy_future *f = amy_query(admin, "SELECT VARIABLE_VALUE FROM "
                                     "information_schema.GLOBAL_STATUS WHERE "
                                     "VARIABLE_NAME = 'ABORTED_CONNECTS'");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    unsigned long n = strtoul(itest_value(f), NULL, 10);
    amy_future_free(f);
    return n;
}

static void test_kill_channel_cannot_connect(void **state)
{
    amy_pool *admin = itest_admin_pool(loop);
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=1");
    amy_future *f = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    amy_future_free(f);
    itest_gate gate;
    itest_gate_close(&gate, loop, "t_kill_gate"); /* its session first */
    unsigned long before = aborted_connects(admin);
    lock_amy(admin, 1);

    amy_future *slow = amy_query(p, GATE_SQL);
    itest_wait_running(admin, GATE_SQL, 1);
    assert_int_equal(amy_future_cancel(slow), 1); /* the KILL is attempted */
    assert_int_equal(amy_future_status(slow), AMY_ECANCELED);
    amy_future_free(slow);
    char sql[192];
    snprintf(
        sql, sizeof sql,
        "SELECT VARIABLE_VALUE > %lu FROM information_schema.GLOBAL_STATUS "
        "WHERE VARIABLE_NAME = 'ABORTED_CONNECTS'",
        before);
    itest_wait_count(admin, sql, 1); /* the channel was refused */
    itest_gate_open(&gate);
    amy_future *next = amy_query(p, "SELECT 7");
    assert_int_equal(amy_future_wait(next), AMY_OK);
    assert_string_equal(itest_value(next), "7");
    amy_future_free(next);
    amy_stats s = itest_stats(p);
    assert_int_equal(s.kills, 1);
    assert_int_equal(s.canceled, 1);
    assert_int_equal(s.completed, 2);

    lock_amy(admin, 0);
    /* Once it can connect again, kills work again. */
    time_out_then_query(p, SLOW);
    amy_pool_free(p);
    amy_pool_free(admin);
}

/* The pool is freed while a kill waits for the channel to connect: every
 * future resolves, nothing leaks (ASan, valgrind). The statement waits
 * behind a gate, opened once the pool is gone. */
static void test_pool_freed_with_kill_pending(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=1");
    itest_gate gate;
    itest_gate_close(&gate, loop, "t_kill_gate");
    amy_future *slow = amy_query(p, GATE_SQL);
    amy_future *next = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_set_timeout(slow, 50), AMY_OK);
    assert_int_equal(amy_future_wait(slow), AMY_ETIMEDOUT);
    amy_pool_free(p); /* the KILL is queued or on its way */
    assert_int_equal(amy_future_status(next), AMY_ECANCELED);
    amy_future_free(slow);
    amy_future_free(next);
    itest_gate_open(&gate); /* a kill that never went: the gate ends it */
    itest_run_for(0.05);    /* no watcher of the freed channel fires */
}

/* A run killed inside the lock window would leave the account locked for
 * every later test: unlock first too. */
static int group_setup(void **state)
{
    if (itest_setup(state) != 0)
        return -1;
    const char *sock = getenv("AMY_TEST_ROOT_SOCKET");
    if (sock && *sock)
        unlock_amy(state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_stops_statement),
        cmocka_unit_test(test_kill_channel_reopens),
        cmocka_unit_test_teardown(test_kill_channel_cannot_connect, unlock_amy),
        cmocka_unit_test(test_pool_freed_with_kill_pending),
    };
    return cmocka_run_group_tests(tests, group_setup, itest_teardown);
}
