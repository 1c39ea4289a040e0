/*
 * Integration tests for src/pin.c: pinned connections and transactions.
 */
#include "itest.h"

static amy_conn *acquire(amy_pool *p)
{
    amy_future *f = amy_pool_acquire(p);
    assert_non_null(f);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    amy_conn *c = amy_future_conn(f);
    assert_non_null(c);
    amy_future_free(f);
    return c;
}

static void conn_exec(amy_conn *c, const char *sql)
{
    amy_future *f = amy_conn_query(c, sql);
    int st = amy_future_wait(f);
    if (st != AMY_OK)
        print_error("%s: %s\n", sql, amy_future_error(f));
    assert_int_equal(st, AMY_OK);
    amy_future_free(f);
}

static const char *count_sql = "SELECT COUNT(*) FROM tpin";

/* COUNT(*) through the pool (another connection, committed data only). */
static int pool_count(amy_pool *p)
{
    amy_future *f = amy_query(p, count_sql);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    int n = atoi(itest_value(f));
    amy_future_free(f);
    return n;
}

static void reset_table(amy_pool *p)
{
    itest_exec(p, "CREATE TABLE IF NOT EXISTS tpin (id INT PRIMARY KEY) "
                  "ENGINE=InnoDB");
    itest_exec(p, "DELETE FROM tpin");
}

static void test_rollback_and_commit(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=3");
    reset_table(p);
    amy_conn *c = acquire(p);
    amy_future *b = amy_begin(c);
    amy_future *i = amy_conn_query(c, "INSERT INTO tpin VALUES (1), (2)");
    amy_future *n = amy_conn_query(c, count_sql);
    amy_future *r = amy_rollback(c);
    amy_future *fs[] = {b, i, n, r};
    amy_future *g = amy_gather(fs, 4);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    assert_string_equal(itest_value(n), "2"); /* seen inside */
    for (int k = 0; k < 4; k++)
        amy_future_free(fs[k]);
    amy_future_free(g);
    assert_int_equal(pool_count(p), 0);

    conn_exec(c, "BEGIN");
    conn_exec(c, "INSERT INTO tpin VALUES (3)");
    conn_exec(c, "COMMIT");
    assert_int_equal(pool_count(p), 1);
    amy_conn_release(c);
    amy_pool_free(p);
}

/* Released with a transaction open: rolled back before the pool reuses the
 * connection, which then serves plain queries outside any transaction. */
static void release_rolls_back(const char *dsn_params)
{
    amy_pool *p = itest_pool(loop, dsn_params);
    reset_table(p);
    amy_conn *c = acquire(p);
    conn_exec(c, "BEGIN");
    conn_exec(c, "INSERT INTO tpin VALUES (7)");
    /* pool=1: a plain query waits until the connection comes back. */
    amy_future *q = amy_query(p, "SELECT @@in_transaction, COUNT(*) FROM tpin");
    itest_run_for(0.05);
    assert_int_equal(amy_future_status(q), AMY_PENDING);
    amy_conn_release(c);
    assert_int_equal(amy_future_wait(q), AMY_OK);
    const amy_result *r = amy_future_result(q);
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "0");
    assert_string_equal(amy_result_value(r, 0, 1, NULL), "0");
    amy_future_free(q);
    amy_stats s;
    amy_pool_stats(p, &s);
    assert_int_equal(s.conns_open, 1);
    amy_pool_free(p);
}

/* Released inside a transaction: the reset rolls it back (the default), or
 * a ROLLBACK does (reset_on_release=0). */
static void test_release_rolls_back(void **state)
{
    release_rolls_back("pool=1");
    release_rolls_back("pool=1&reset_on_release=0");
}

/* A pinned connection that changed its session is given back clean: the
 * next caller on the same connection finds no user variable, the global
 * sql_mode, no temporary table, the pool's init run again, and its
 * prepared statement prepared anew. reset_on_release=0 keeps the session
 * (the opt-out). */
static void test_release_resets_session(void **state)
{
    for (int keep = 0; keep < 2; keep++) {
        amy_pool *p = itest_pool(
            loop, keep ? "pool=1&reset_on_release=0&init=SET%20@amy_init%3D7"
                       : "pool=1&init=SET%20@amy_init%3D7");
        amy_conn *c = acquire(p);
        conn_exec(c, "SET @x = 1, @amy_init = 8");
        conn_exec(c, "SET SESSION sql_mode = ''");
        conn_exec(c, "CREATE TEMPORARY TABLE t_pin_tmp (a INT)");
        amy_value one = amy_val_int64(1);
        amy_future *e = amy_conn_exec(c, "SELECT ? + 1", &one, 1);
        assert_int_equal(amy_future_wait(e), AMY_OK);
        amy_future_free(e);
        amy_future *id0 = amy_conn_query(c, "SELECT CONNECTION_ID()");
        assert_int_equal(amy_future_wait(id0), AMY_OK);
        amy_conn_release(c);

        amy_future *f = amy_query(
            p, "SELECT CONCAT_WS(',', CONNECTION_ID(), IFNULL(@x, 'null'), "
               "@amy_init, @@session.sql_mode = @@global.sql_mode)");
        assert_int_equal(amy_future_wait(f), AMY_OK);
        char want[128];
        snprintf(want, sizeof want, "%s,%s", itest_value(id0),
                 keep ? "1,8,0" : "null,7,1");
        assert_string_equal(itest_value(f), want); /* the same connection */
        amy_future_free(f);
        amy_future_free(id0);
        f = amy_query(p, "SELECT COUNT(*) FROM t_pin_tmp");
        assert_int_equal(amy_future_wait(f), keep ? AMY_OK : AMY_ESERVER);
        if (!keep)
            assert_int_equal(amy_future_server_errno(f), 1146);
        amy_future_free(f);
        /* The cached statement went with the reset: prepared anew. */
        e = amy_exec(p, "SELECT ? + 1", &one, 1);
        assert_int_equal(amy_future_wait(e), AMY_OK);
        assert_string_equal(itest_value(e), "2");
        amy_future_free(e);
        amy_stats s;
        amy_pool_stats(p, &s);
        assert_int_equal(s.stmt_cache_misses, keep ? 1 : 2);
        assert_int_equal(s.stmt_cache_hits, keep ? 1 : 0);
        assert_int_equal(s.failed, keep ? 0 : 1); /* the temporary table */
        assert_int_equal(s.conns_open, 1);
        amy_pool_free(p);
    }
}

static void test_concurrent_transactions_isolated(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=3");
    reset_table(p);
    amy_conn *a = acquire(p);
    amy_conn *b = acquire(p);
    conn_exec(a, "BEGIN");
    conn_exec(b, "BEGIN");
    conn_exec(a, "INSERT INTO tpin VALUES (10)");
    conn_exec(b, "INSERT INTO tpin VALUES (20)");
    amy_future *fa =
        amy_conn_query(a, "SELECT GROUP_CONCAT(id ORDER BY id) FROM tpin");
    amy_future *fb =
        amy_conn_query(b, "SELECT GROUP_CONCAT(id ORDER BY id) FROM tpin");
    assert_int_equal(amy_future_wait(fa), AMY_OK);
    assert_int_equal(amy_future_wait(fb), AMY_OK);
    assert_string_equal(itest_value(fa), "10");
    assert_string_equal(itest_value(fb), "20");
    amy_future_free(fa);
    amy_future_free(fb);
    conn_exec(a, "COMMIT");
    conn_exec(b, "ROLLBACK");
    assert_int_equal(pool_count(p), 1);
    amy_conn_release(a);
    amy_conn_release(b);
    amy_pool_free(p);
}

/* The server kills a pinned connection: its queries fail, later ones too,
 * and the pool goes on with other connections. */
static void test_pinned_connection_dies(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2");
    amy_pool *admin = itest_pool(loop, "pool=1");
    amy_conn *c = acquire(p);
    amy_future *id = amy_conn_query(c, "SELECT CONNECTION_ID()");
    assert_int_equal(amy_future_wait(id), AMY_OK);
    char kill[64];
    snprintf(kill, sizeof kill, "KILL CONNECTION %s", itest_value(id));
    amy_future_free(id);
    /* Behind a gate: still running when the kill lands. */
    itest_gate gate;
    itest_gate_close(&gate, loop, "t_pin_gate");
    amy_future *slow = amy_conn_query(c, "SELECT COUNT(*) FROM t_pin_gate");
    amy_future *behind = amy_conn_query(c, "SELECT 1");
    itest_wait_running(admin, "SELECT COUNT(*) FROM t_pin_gate", 1);
    itest_exec(admin, kill);
    int st = amy_future_wait(slow);
    assert_true(st == AMY_ECONNLOST || st == AMY_ESERVER);
    assert_int_equal(amy_future_wait(behind), AMY_ECONNLOST);
    itest_gate_open(&gate);
    amy_future *later = amy_conn_query(c, "SELECT 1");
    assert_int_equal(amy_future_status(later), AMY_ECONNLOST);
    amy_future_free(slow);
    amy_future_free(behind);
    amy_future_free(later);
    amy_conn_release(c);
    amy_future *f = amy_query(p, "SELECT 'pool ok'");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "pool ok");
    amy_future_free(f);
    amy_pool_free(admin);
    amy_pool_free(p);
}

/* The pool is freed with a pinned connection still held: its queries are
 * canceled, and releasing the handle afterwards is safe. */
static void test_pool_freed_while_pinned(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    amy_pool *watch = itest_pool(loop, "pool=1");
    amy_conn *c = acquire(p);
    /* Behind a gate: still running when the pool is freed. */
    itest_gate gate;
    itest_gate_close(&gate, loop, "t_pin_gate");
    amy_future *f = amy_conn_query(c, "SELECT COUNT(*) FROM t_pin_gate");
    amy_future *waiting = amy_pool_acquire(p); /* waits: pool=1 */
    itest_wait_running(watch, "SELECT COUNT(*) FROM t_pin_gate", 1);
    amy_pool_free(p);
    itest_gate_open(&gate);
    amy_pool_free(watch);
    assert_int_equal(amy_future_status(f), AMY_ECANCELED);
    assert_int_equal(amy_future_status(waiting), AMY_ECANCELED);
    assert_null(amy_future_conn(waiting));
    amy_future *after = amy_conn_query(c, "SELECT 1");
    assert_int_equal(amy_future_status(after), AMY_ECANCELED);
    amy_future_free(after);
    amy_future_free(f);
    amy_future_free(waiting);
    amy_conn_release(c);
    amy_conn_release(NULL);
}

static void lock_amy(int lock)
{
    amy_pool *admin = itest_admin_pool(loop);
    const char *hosts[] = {"%", "localhost"};
    for (int i = 0; i < 2; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "ALTER USER 'amy'@'%s' ACCOUNT %s", hosts[i],
                 lock ? "LOCK" : "UNLOCK");
        itest_exec(admin, sql);
    }
    amy_pool_free(admin);
}

static int unlock_amy(void **state)
{
    lock_amy(0);
    return 0;
}

/* The pool's only open connection is pinned and new connects fail: a
 * query queued for the pool is not served by the pinned one, so it fails
 * after connect_timeout_ms with the connect error instead of waiting for
 * ever. */
static void test_connect_fails_while_all_pinned(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2&connect_timeout_ms=300");
    amy_future *a = amy_pool_acquire(p);
    assert_int_equal(amy_future_wait(a), AMY_OK);
    lock_amy(1);
    amy_future *f = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_wait(f), AMY_ECONNECT);
    assert_non_null(strstr(amy_future_error(f), "locked"));
    amy_future_free(f);
    lock_amy(0);
    /* The pinned connection still works, and the pool recovers. */
    f = amy_conn_query(amy_future_conn(a), "SELECT 2");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    amy_future_free(f);
    amy_conn_release(amy_future_conn(a));
    amy_future_free(a);
    f = amy_query(p, "SELECT 3");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    amy_future_free(f);
    amy_pool_free(p);
}

/* pool=1, its one connection pinned, then amy_query: it can only time
 * out, and its error says why (the classic mistake hangs silently
 * otherwise). Released, the connection serves the pool again. */
static void test_starved_by_pin_says_so(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    amy_future *a = amy_pool_acquire(p);
    assert_int_equal(amy_future_wait(a), AMY_OK);
    amy_conn *c = amy_future_conn(a);
    amy_future *q = amy_query(p, "SELECT 'starved'");
    assert_int_equal(amy_future_set_timeout(q, 100), AMY_OK);
    assert_int_equal(amy_future_wait(q), AMY_ETIMEDOUT);
    const char *e = amy_future_error(q);
    print_message("%s\n", e);
    assert_non_null(strstr(e, "query timed out after 100 ms waiting for a "
                              "connection (1 in the pool's queue): all 1 of "
                              "the pool's connections are pinned "
                              "(amy_pool_acquire) and none was released"));
    amy_future_free(q);
    amy_conn_release(c);
    amy_future_free(a);
    q = amy_query(p, "SELECT 'served'");
    assert_int_equal(amy_future_wait(q), AMY_OK);
    amy_future_free(q);
    amy_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollback_and_commit),
        cmocka_unit_test(test_release_rolls_back),
        cmocka_unit_test(test_release_resets_session),
        cmocka_unit_test(test_concurrent_transactions_isolated),
        cmocka_unit_test(test_pinned_connection_dies),
        cmocka_unit_test(test_pool_freed_while_pinned),
        cmocka_unit_test(test_starved_by_pin_says_so),
        cmocka_unit_test_teardown(test_connect_fails_while_all_pinned,
                                  unlock_amy),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
