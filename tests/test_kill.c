/*
 * Integration tests of src/kill.c: the KILL QUERY channel, one connection
 * of its own beside the pool's. Each test holds the pool's one connection
 * busy with SLEEP(600) and lets its future time out: only a KILL that
 * lands frees the connection for the next query (600 s is beyond the
 * test's ctest timeout, so a kill that never lands fails the test instead
 * of passing late).
 */
#include "itest.h"

#define SLOW "SELECT SLEEP(600)"

/* The slow query times out on p's one connection; the next query on that
 * connection then succeeds, which needs the slow one stopped (or, with
 * `sleep` shorter, over). */
static void time_out_then_query(amy_pool *p, const char *slow_sql)
{
    amy_future *slow = amy_query(p, slow_sql);
    assert_int_equal(amy_future_set_timeout(slow, 50), AMY_OK);
    assert_int_equal(amy_future_wait(slow), AMY_ETIMEDOUT);
    amy_future_free(slow);
    amy_future *next = amy_query(p, "SELECT 7");
    assert_int_equal(amy_future_wait(next), AMY_OK);
    assert_string_equal(itest_value(next), "7");
    amy_future_free(next);
}

static amy_stats stats_of(amy_pool *p)
{
    amy_stats s;
    assert_int_equal(amy_pool_stats(p, &s), AMY_OK);
    return s;
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
    amy_stats s = stats_of(p);
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
    time_out_then_query(p, SLOW);
    unsigned long id2 = channel_id(admin, p);
    assert_true(id2 > 0 && id2 != id);
    assert_int_equal(stats_of(p).kills, 2);
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
 * answer is dropped, and the connection serves the next query. */
static void test_kill_channel_cannot_connect(void **state)
{
    amy_pool *admin = itest_admin_pool(loop);
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=1");
    amy_future *f = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    amy_future_free(f);
    lock_amy(admin, 1);
    time_out_then_query(p, "SELECT SLEEP(0.3)");
    amy_stats s = stats_of(p);
    assert_int_equal(s.kills, 1);
    assert_int_equal(s.timed_out, 1);
    assert_int_equal(s.completed, 2);
    lock_amy(admin, 0);
    /* Once it can connect again, kills work again. */
    time_out_then_query(p, SLOW);
    amy_pool_free(p);
    amy_pool_free(admin);
}

/* The pool is freed while a kill waits for the channel to connect: every
 * future resolves, nothing leaks (ASan, valgrind). */
static void test_pool_freed_with_kill_pending(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=1");
    /* No kill may land (the pool goes first), so the server runs it to its
     * end: a short one. */
    amy_future *slow = amy_query(p, "SELECT SLEEP(1)");
    amy_future *next = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_set_timeout(slow, 50), AMY_OK);
    assert_int_equal(amy_future_wait(slow), AMY_ETIMEDOUT);
    amy_pool_free(p); /* the KILL is queued or on its way */
    assert_int_equal(amy_future_status(next), AMY_ECANCELED);
    amy_future_free(slow);
    amy_future_free(next);
    itest_run_for(0.05); /* no watcher of the freed channel fires */
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
