/*
 * Integration tests for src/txn.c: amy_transaction against the real
 * server: commit, rollback on an ordinary error, retry after a real
 * deadlock and a real lock wait timeout, retries exhausted, and a
 * transaction canceled, freed, timed out or outlived by its pool.
 *
 * Every interleaving is forced by the tests (promises, gates, locks held
 * by a session of their own), never by timing.
 */
#include "itest.h"

/* Futures a body made itself (the caller's to free), freed at the end. */
#define MAX_KEPT 64

typedef struct side side;

/* One transaction of a test and what its body saw. */
struct side {
    const char *name;        /* 'A' or 'B', written to the log table */
    int first, second;       /* the rows it updates, in that order */
    amy_future *my_first;    /* resolved when its first UPDATE is done */
    amy_future *other_first; /* the other side's my_first */
    amy_future *done;        /* the attempt's promise (the runner's) */
    amy_conn *c;
    int calls;    /* body calls: attempts */
    int resolved; /* callbacks on the transaction's future */
    int status;
    amy_future *kept[MAX_KEPT];
    int nkept;
    /* Tests of their own. */
    const char *sql;       /* one statement to return */
    amy_future *holder_rb; /* 1205: the holder's ROLLBACK, from attempt 2 */
    amy_conn *holder;
    amy_future *u2, *l2; /* the deadlock's second UPDATE and log INSERT */
};

static void keep(side *s, amy_future *f)
{
    assert_true(s->nkept < MAX_KEPT);
    s->kept[s->nkept++] = f;
}

static void free_kept(side *s)
{
    for (int i = 0; i < s->nkept; i++)
        amy_future_free(s->kept[i]);
    s->nkept = 0;
}

static void on_txn(amy_future *f, void *arg)
{
    side *s = arg;
    s->resolved++;
    s->status = amy_future_status(f);
}

/* Runs the loop until the transaction's callback ran (it may run from the
 * loop after the call that resolved it). */
static void run_until_resolved(side *s)
{
    int fired = 0;
    ev_timer guard;
    ev_timer_init(&guard, itest_timer_fired, ITEST_HANG_GUARD, 0.);
    guard.data = &fired;
    ev_timer_start(loop, &guard);
    while (!s->resolved && !fired)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &guard);
    ev_run(loop, EVRUN_NOWAIT); /* a second call would come now */
}

static void reset_tables(amy_pool *p)
{
    itest_exec(p, "CREATE TABLE IF NOT EXISTS ttxn (id INT PRIMARY KEY, "
                  "v INT NOT NULL) ENGINE=InnoDB");
    itest_exec(p, "CREATE TABLE IF NOT EXISTS ttxn_log (n INT AUTO_INCREMENT "
                  "PRIMARY KEY, who CHAR(1) NOT NULL) ENGINE=InnoDB");
    itest_exec(p, "DELETE FROM ttxn");
    itest_exec(p, "DELETE FROM ttxn_log");
}

/* The one value of a query through the pool (committed data only). */
static char *pool_value(amy_pool *p, const char *sql)
{
    amy_future *f = amy_query(p, sql);
    int st = amy_future_wait(f);
    if (st != AMY_OK)
        print_error("%s: %s\n", sql, amy_future_error(f));
    assert_int_equal(st, AMY_OK);
    const char *v = itest_value(f);
    char *copy = strdup(v ? v : "NULL");
    amy_future_free(f);
    return copy;
}

static void assert_value(amy_pool *p, const char *sql, const char *want)
{
    char *v = pool_value(p, sql);
    assert_string_equal(v, want);
    free(v);
}

/* The connection came back to the pool (pool=1: this query runs on it),
 * outside any transaction and with autocommit on again. */
static void assert_given_back_clean(amy_pool *p)
{
    assert_value(p, "SELECT CONCAT(@@in_transaction, @@autocommit + 0)", "01");
    amy_stats s = itest_stats(p);
    assert_int_equal(s.conns_open, 1);
}

static amy_future *body_one(amy_conn *c, void *arg)
{
    side *s = arg;
    s->calls++;
    return amy_conn_query(c, s->sql);
}

/* Committed: the row is there for another session, the result is the
 * body's (affected rows of its statement), the connection comes back with
 * autocommit on: by the reset, or by SET autocommit=1 without it. */
static void test_commits(void **state)
{
    const char *params[] = {"pool=1", "pool=1&reset_on_release=0"};
    for (int k = 0; k < 2; k++) {
        amy_pool *p = itest_pool(loop, params[k]);
        reset_tables(p);
        side s = {.sql = "INSERT INTO ttxn VALUES (1, 10), (2, 20)"};
        amy_future *t = amy_transaction(p, body_one, &s, 3);
        assert_non_null(t);
        assert_int_equal(s.calls, 0); /* never inside the call */
        assert_int_equal(amy_future_then(t, on_txn, &s), AMY_OK);
        assert_int_equal(amy_future_wait(t), AMY_OK);
        assert_int_equal(s.calls, 1);
        assert_int_equal(s.resolved, 1);
        assert_int_equal(amy_result_affected_rows(amy_future_result(t)), 2);
        amy_future_free(t);
        assert_value(p, "SELECT SUM(v) FROM ttxn", "30");
        assert_given_back_clean(p);
        amy_pool_free(p);
    }
}

/* The body's last step's rows are the transaction's result. */
static void test_result_is_the_bodys(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    reset_tables(p);
    side s = {.sql = "SELECT 'inside', @@in_transaction"};
    amy_future *t = amy_transaction(p, body_one, &s, 0);
    assert_int_equal(amy_future_wait(t), AMY_OK);
    const amy_result *r = amy_future_result(t);
    assert_int_equal(amy_result_nrows(r), 1);
    assert_string_equal(amy_result_value(r, 0, 0, NULL), "inside");
    amy_future_free(t);
    amy_pool_free(p);
}

/* Two steps queued together and gathered; the second fails with a
 * duplicate key: no retry, the first step's row is rolled back, the error
 * is the gather's, carrying 1062 and its SQLSTATE. */
static amy_future *body_dup(amy_conn *c, void *arg)
{
    side *s = arg;
    s->calls++;
    amy_future *a = amy_conn_query(c, "INSERT INTO ttxn VALUES (1, 10)");
    amy_future *b = amy_conn_query(c, "INSERT INTO ttxn VALUES (5, 50)");
    keep(s, a);
    keep(s, b);
    amy_future *both[] = {a, b};
    return amy_gather(both, 2);
}

/* The same as a chain (amy_chain): the second INSERT is queued once the
 * first succeeded; the chain carries its ESERVER as it is. */
static amy_future *dup_step(amy_future *prev, void *arg)
{
    side *s = arg;
    return amy_conn_query(s->c, "INSERT INTO ttxn VALUES (5, 50)");
}

static amy_future *body_chain_dup(amy_conn *c, void *arg)
{
    side *s = arg;
    s->calls++;
    s->c = c;
    return amy_chain(amy_conn_query(c, "INSERT INTO ttxn VALUES (1, 10)"),
                     dup_step, s);
}

/* A duplicate key (1062) in body's steps: no retry, the failing step's
 * errno and SQLSTATE on the transaction, rolled back (only row 5 left),
 * the connection given back clean. want: the status (a gather's or a
 * chain's). */
static void ordinary_error(amy_txn_fn body, int want)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    reset_tables(p);
    itest_exec(p, "INSERT INTO ttxn VALUES (5, 0)");
    side s = {0};
    amy_future *t = amy_transaction(p, body, &s, 5);
    assert_int_equal(amy_future_wait(t), want);
    assert_int_equal(s.calls, 1);
    assert_int_equal(amy_future_server_errno(t), 1062);
    assert_string_equal(amy_future_sqlstate(t), "23000");
    assert_non_null(strstr(amy_future_error(t), "Duplicate entry '5'"));
    assert_null(strstr(amy_future_error(t), "attempt"));
    amy_future_free(t);
    free_kept(&s);
    assert_value(p, "SELECT COUNT(*) FROM ttxn", "1"); /* only row 5 */
    assert_given_back_clean(p);
    amy_pool_free(p);
}

static void test_ordinary_error_in_a_chain(void **state)
{
    ordinary_error(body_chain_dup, AMY_ESERVER);
}

static void test_ordinary_error_rolls_back(void **state)
{
    ordinary_error(body_dup, AMY_EGATHER);
}

/* ------------------------------------------------------------------------ */
/* A real deadlock                                                          */
/* ------------------------------------------------------------------------ */

/*
 * Side X updates row `first`, says so (my_first), waits until the other
 * side has updated its first row, then updates `second` (the other's
 * first) and, pipelined behind it, writes its name to the log. Both second
 * UPDATEs wait for each other's lock: InnoDB picks a victim (1213) at once.
 * The victim's log INSERT then runs too; the runner's autocommit=0 keeps it
 * inside a transaction that the ROLLBACK undoes, so each side is logged
 * exactly once in the end.
 */
static void dl_step2_done(amy_future *g, void *arg)
{
    side *s = arg;
    if (amy_future_status(g) == AMY_OK) {
        amy_promise_resolve(s->done);
        return;
    }
    /* Pass on the failing step itself (ESERVER 1213), not the gather. */
    amy_promise_fail_from(s->done,
                          amy_future_status(s->u2) != AMY_OK ? s->u2 : s->l2);
}

static void dl_other_ready(amy_future *f, void *arg)
{
    side *s = arg;
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE ttxn SET v = v + 1 WHERE id = %d",
             s->second);
    s->u2 = amy_conn_query(s->c, sql);
    snprintf(sql, sizeof sql, "INSERT INTO ttxn_log (who) VALUES ('%s')",
             s->name);
    s->l2 = amy_conn_query(s->c, sql);
    keep(s, s->u2);
    keep(s, s->l2);
    amy_future *both[] = {s->u2, s->l2};
    amy_future *g = amy_gather(both, 2);
    keep(s, g);
    amy_future_then(g, dl_step2_done, s);
}

static void dl_step1_done(amy_future *f, void *arg)
{
    side *s = arg;
    if (amy_future_status(f) != AMY_OK) {
        amy_promise_fail_from(s->done, f);
        return;
    }
    if (amy_future_status(s->my_first) == AMY_PENDING)
        amy_promise_resolve(s->my_first);
    amy_future_then(s->other_first, dl_other_ready, s);
}

static amy_future *body_deadlock(amy_conn *c, void *arg)
{
    side *s = arg;
    s->calls++;
    s->c = c;
    s->done = amy_promise_new(loop);
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE ttxn SET v = v + 1 WHERE id = %d",
             s->first);
    amy_future *u = amy_conn_query(c, sql);
    keep(s, u);
    amy_future_then(u, dl_step1_done, s);
    return s->done;
}

/* Runs A and B at once, with `retries` each; fills *a and *b. */
static void run_deadlock(amy_pool *p, unsigned retries, side *a, side *b)
{
    reset_tables(p);
    itest_exec(p, "INSERT INTO ttxn VALUES (1, 10), (2, 20)");
    amy_future *pa = amy_promise_new(loop), *pb = amy_promise_new(loop);
    *a = (side){.name = "A",
                .first = 1,
                .second = 2,
                .my_first = pa,
                .other_first = pb};
    *b = (side){.name = "B",
                .first = 2,
                .second = 1,
                .my_first = pb,
                .other_first = pa};
    amy_future *ta = amy_transaction(p, body_deadlock, a, retries);
    amy_future *tb = amy_transaction(p, body_deadlock, b, retries);
    amy_future_then(ta, on_txn, a);
    amy_future_then(tb, on_txn, b);
    amy_future *both[] = {ta, tb};
    amy_future *g = amy_gather(both, 2);
    amy_future_wait(g);
    assert_int_equal(a->resolved, 1);
    assert_int_equal(b->resolved, 1);
    side *victim = a->calls > 1 || a->status != AMY_OK ? a : b;
    amy_future *tv = victim == a ? ta : tb;
    if (retries) {
        assert_int_equal(amy_future_status(ta), AMY_OK);
        assert_int_equal(amy_future_status(tb), AMY_OK);
        assert_int_equal(a->calls + b->calls, 3); /* one retry in all */
        assert_int_equal(victim->calls, 2);
    } else {
        /* The winner commits; the victim gives up after its one attempt. */
        side *winner = victim == a ? b : a;
        assert_int_equal(winner->status, AMY_OK);
        assert_int_equal(victim->status, AMY_ESERVER);
        assert_int_equal(a->calls + b->calls, 2);
        assert_int_equal(amy_future_server_errno(tv), 1213);
        assert_string_equal(amy_future_sqlstate(tv), "40001");
        const char *e = amy_future_error(tv);
        assert_non_null(strstr(e, "Deadlock"));
        assert_non_null(strstr(e, "(gave up after 1 attempt)"));
    }
    amy_future_free(g);
    amy_future_free(ta);
    amy_future_free(tb);
    amy_future_free(pa);
    amy_future_free(pb);
    free_kept(a);
    free_kept(b);
}

static void test_deadlock_is_retried(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2");
    side a, b;
    run_deadlock(p, 3, &a, &b);
    /* Both committed once: each row +2, each side logged once (the
     * victim's first log INSERT was rolled back, not autocommitted). */
    assert_value(p, "SELECT GROUP_CONCAT(v ORDER BY id) FROM ttxn", "12,22");
    assert_value(p, "SELECT GROUP_CONCAT(who ORDER BY who) FROM ttxn_log",
                 "A,B");
    amy_stats s = itest_stats(p);
    assert_int_equal(s.conns_open, 2); /* both given back */
    amy_pool_free(p);
}

static void test_deadlock_retries_exhausted(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2");
    side a, b;
    run_deadlock(p, 0, &a, &b);
    side *winner = a.status == AMY_OK ? &a : &b;
    /* Only the winner's changes. */
    assert_value(p, "SELECT GROUP_CONCAT(v ORDER BY id) FROM ttxn", "11,21");
    char *who = pool_value(p, "SELECT GROUP_CONCAT(who) FROM ttxn_log");
    assert_string_equal(who, winner->name);
    free(who);
    amy_pool_free(p);
}

/* ------------------------------------------------------------------------ */
/* A real lock wait timeout                                                 */
/* ------------------------------------------------------------------------ */

/*
 * A session of its own holds row 1. Attempt 1 waits for it at most 1 s
 * (innodb_lock_wait_timeout=1): 1205. Attempt 2 has the holder roll back,
 * and its UPDATE gets the lock when it has.
 */
static amy_future *body_lockwait(amy_conn *c, void *arg)
{
    side *s = arg;
    s->calls++;
    if (s->calls == 2) {
        s->holder_rb = amy_conn_query(s->holder, "ROLLBACK");
        keep(s, s->holder_rb);
    }
    /* Attempt 2 waits as long as the holder takes (50 s: a hang guard). */
    amy_future *set = amy_conn_query(
        c, s->calls == 1 ? "SET SESSION innodb_lock_wait_timeout=1"
                         : "SET SESSION innodb_lock_wait_timeout=50");
    amy_future *u =
        amy_conn_query(c, "UPDATE ttxn SET v = v + 100 WHERE id = 1");
    keep(s, set);
    keep(s, u);
    amy_future *both[] = {set, u};
    amy_future *g = amy_gather(both, 2);
    return g;
}

static void test_lock_wait_timeout_is_retried(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2");
    reset_tables(p);
    itest_exec(p, "INSERT INTO ttxn VALUES (1, 10)");
    amy_future *acq = amy_pool_acquire(p);
    assert_int_equal(amy_future_wait(acq), AMY_OK);
    side s = {.holder = amy_future_conn(acq)};
    amy_future *f = amy_conn_query(s.holder, "BEGIN");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    amy_future_free(f);
    f = amy_conn_query(s.holder, "UPDATE ttxn SET v = 0 WHERE id = 1");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    amy_future_free(f);

    amy_future *t = amy_transaction(p, body_lockwait, &s, 1);
    assert_int_equal(amy_future_wait(t), AMY_OK);
    assert_int_equal(s.calls, 2);
    assert_int_equal(amy_future_status(s.holder_rb), AMY_OK);
    amy_future_free(t);
    free_kept(&s);
    amy_conn_release(s.holder);
    amy_future_free(acq);
    assert_value(p, "SELECT v FROM ttxn WHERE id = 1", "110");
    amy_pool_free(p);
}

/* A body that returns NULL: rolled back, AMY_EINVAL, connection back. */
static amy_future *body_null(amy_conn *c, void *arg)
{
    side *s = arg;
    s->calls++;
    keep(s, amy_conn_query(c, "INSERT INTO ttxn VALUES (3, 3)"));
    return NULL;
}

static void test_body_returns_null(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    reset_tables(p);
    side s = {0};
    amy_future *t = amy_transaction(p, body_null, &s, 3);
    assert_int_equal(amy_future_wait(t), AMY_EINVAL);
    assert_int_equal(s.calls, 1);
    assert_string_equal(amy_future_error(t),
                        "the transaction's body returned NULL");
    amy_future_free(t);
    assert_int_equal(amy_future_status(s.kept[0]), AMY_OK); /* ran, undone */
    free_kept(&s);
    assert_value(p, "SELECT COUNT(*) FROM ttxn", "0");
    assert_given_back_clean(p);
    amy_pool_free(p);

    t = amy_transaction(NULL, body_null, &s, 0);
    assert_int_equal(amy_future_status(t), AMY_EINVAL);
    amy_future_free(t);
}

/* ------------------------------------------------------------------------ */
/* Ended from outside while a step runs                                     */
/* ------------------------------------------------------------------------ */

static const char *gate_sql = "SELECT COUNT(*) FROM t_txn_gate";

/* Inserts row 7, then reads the gate: still running until it opens. */
static amy_future *body_gated(amy_conn *c, void *arg)
{
    side *s = arg;
    s->calls++;
    keep(s, amy_conn_query(c, "INSERT INTO ttxn VALUES (7, 7)"));
    return amy_conn_query(c, gate_sql);
}

/* A chain: step 1, then (if the transaction still runs) step 2. */
typedef struct chain {
    side s;
    amy_future *step1;
    int step1_seen; /* step 1's callback ran */
    int stopped;    /* it found its promise ended and queued nothing */
} chain;

static void chain_step1(amy_future *f, void *arg)
{
    chain *ch = arg;
    ch->step1_seen = 1;
    if (amy_future_status(ch->s.done) != AMY_PENDING) {
        ch->stopped = 1;
        return;
    }
    amy_future *g = amy_conn_query(ch->s.c, "INSERT INTO ttxn VALUES (9, 9)");
    keep(&ch->s, g);
    amy_future_then(g, dl_step2_done, &ch->s);
}

static amy_future *body_chain(amy_conn *c, void *arg)
{
    chain *ch = arg;
    ch->s.calls++;
    ch->s.c = c;
    ch->s.done = amy_promise_new(loop);
    ch->step1 = amy_conn_query(c, "INSERT INTO ttxn VALUES (8, 8)");
    keep(&ch->s, ch->step1);
    amy_future_then(ch->step1, chain_step1, ch);
    return ch->s.done;
}

/* Canceled while the body's chain has a step in flight: the chain finds
 * its promise canceled (readable until the transaction is freed) and stops;
 * nothing it did stays. */
static void test_cancel_stops_a_chain(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    reset_tables(p);
    chain ch = {0};
    amy_future *t = amy_transaction(p, body_chain, &ch, 3);
    amy_future_then(t, on_txn, &ch.s);
    while (!ch.s.calls)
        ev_run(loop, EVRUN_ONCE);
    assert_int_equal(amy_future_status(ch.step1), AMY_PENDING);
    assert_int_equal(amy_future_cancel(t), 1);
    while (!ch.step1_seen)
        ev_run(loop, EVRUN_ONCE);
    assert_int_equal(ch.stopped, 1);
    assert_int_equal(amy_future_status(ch.s.done), AMY_ECANCELED);
    assert_value(p, "SELECT COUNT(*) FROM ttxn", "0");
    assert_given_back_clean(p);
    run_until_resolved(&ch.s);
    assert_int_equal(ch.s.resolved, 1);
    assert_int_equal(ch.s.status, AMY_ECANCELED);
    amy_future_free(t);
    free_kept(&ch.s);
    amy_pool_free(p);
}

enum how { CANCEL, FREE, TIMEOUT };

/* The transaction ends while its step waits at the gate: it resolves once
 * with the right status, the step is killed on the server, the connection
 * comes back (pool=1: the next query runs on it) with row 7 rolled back. */
static void ended_while_running(enum how how)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    amy_pool *watch = itest_pool(loop, "pool=1");
    reset_tables(p);
    itest_gate gate;
    itest_gate_close(&gate, loop, "t_txn_gate");
    side s = {0};
    amy_future *t = amy_transaction(p, body_gated, &s, 3);
    amy_future_then(t, on_txn, &s);
    itest_wait_running(watch, gate_sql, 1);
    if (how == TIMEOUT)
        assert_int_equal(amy_future_set_timeout(t, 50), AMY_OK);
    if (how == CANCEL) {
        assert_int_equal(amy_future_cancel(t), 1);
        assert_int_equal(amy_future_status(t), AMY_ECANCELED);
    } else if (how == FREE) {
        amy_future_free(t);
        t = NULL;
    } else {
        assert_int_equal(amy_future_wait(t), AMY_ETIMEDOUT);
    }
    /* The step was killed: the gate is no longer read, and the pool's one
     * connection serves again, rolled back and reset. */
    itest_wait_running(watch, gate_sql, 0);
    assert_value(p, "SELECT COUNT(*) FROM ttxn", "0");
    assert_given_back_clean(p);
    assert_int_equal(s.resolved, 1);
    assert_int_equal(s.status, how == TIMEOUT ? AMY_ETIMEDOUT : AMY_ECANCELED);
    assert_int_equal(s.calls, 1);
    amy_future_free(t);
    free_kept(&s);
    itest_gate_open(&gate);
    amy_pool_free(watch);
    amy_pool_free(p);
}

static void test_cancel_while_running(void **state)
{
    ended_while_running(CANCEL);
}

static void test_free_while_running(void **state)
{
    ended_while_running(FREE);
}

static void test_timeout_while_running(void **state)
{
    ended_while_running(TIMEOUT);
}

/* amy_pool_free while the step waits at the gate: the transaction resolves
 * AMY_ECANCELED once, nothing leaks (valgrind). */
static void test_pool_freed_while_running(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1");
    amy_pool *watch = itest_pool(loop, "pool=1");
    reset_tables(p);
    itest_gate gate;
    itest_gate_close(&gate, loop, "t_txn_gate");
    side s = {0};
    amy_future *t = amy_transaction(p, body_gated, &s, 3);
    amy_future_then(t, on_txn, &s);
    itest_wait_running(watch, gate_sql, 1);
    amy_pool_free(p);
    assert_int_equal(amy_future_status(t), AMY_ECANCELED);
    run_until_resolved(&s);
    assert_int_equal(s.resolved, 1);
    assert_int_equal(s.status, AMY_ECANCELED);
    itest_gate_open(&gate);
    itest_wait_running(watch, gate_sql, 0);
    assert_value(watch, "SELECT COUNT(*) FROM ttxn", "0");
    amy_future_free(t);
    free_kept(&s);
    amy_pool_free(watch);
}

/* Waiting for a connection (the only one is pinned by someone else): a
 * cancel leaves the pool's queue, amy_pool_free resolves it. The body is
 * never called. */
static void test_ended_while_acquiring(void **state)
{
    for (int k = 0; k < 2; k++) {
        amy_pool *p = itest_pool(loop, "pool=1");
        amy_future *acq = amy_pool_acquire(p);
        assert_int_equal(amy_future_wait(acq), AMY_OK);
        side s = {.sql = "SELECT 1"};
        amy_future *t = amy_transaction(p, body_one, &s, 0);
        amy_future_then(t, on_txn, &s);
        assert_int_equal(itest_stats(p).queued, 1);
        if (k == 0) {
            assert_int_equal(amy_future_cancel(t), 1);
            assert_int_equal(itest_stats(p).queued, 0);
            amy_conn_release(amy_future_conn(acq));
            assert_value(p, "SELECT 2", "2"); /* the pool serves */
            amy_pool_free(p);
        } else {
            amy_pool_free(p);
            amy_conn_release(amy_future_conn(acq));
        }
        assert_int_equal(amy_future_status(t), AMY_ECANCELED);
        run_until_resolved(&s);
        assert_int_equal(s.resolved, 1);
        assert_int_equal(s.calls, 0);
        amy_future_free(t);
        amy_future_free(acq);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commits),
        cmocka_unit_test(test_result_is_the_bodys),
        cmocka_unit_test(test_ordinary_error_rolls_back),
        cmocka_unit_test(test_ordinary_error_in_a_chain),
        cmocka_unit_test(test_deadlock_is_retried),
        cmocka_unit_test(test_deadlock_retries_exhausted),
        cmocka_unit_test(test_lock_wait_timeout_is_retried),
        cmocka_unit_test(test_body_returns_null),
        cmocka_unit_test(test_cancel_while_running),
        cmocka_unit_test(test_cancel_stops_a_chain),
        cmocka_unit_test(test_free_while_running),
        cmocka_unit_test(test_timeout_while_running),
        cmocka_unit_test(test_pool_freed_while_running),
        cmocka_unit_test(test_ended_while_acquiring),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
