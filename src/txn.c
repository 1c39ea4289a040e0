/*
 * The transaction runner (amy_transaction): pin a connection, open a
 * transaction, run the caller's steps, commit, and run the whole again when
 * the server chose it as a deadlock victim (1213) or it waited too long for
 * a lock (1205), which are the two failures that retrying the same
 * transaction can cure.
 *
 * One state machine, one step in flight at a time (t->cur, with our
 * callback node on it):
 *
 *   ACQUIRE --ok--> SETUP --ok--> BODY --ok--> COMMIT --ok--> done (OK)
 *      |              |            |             |
 *      +--error-------+--> done    +--error------+--> ROLLBACK
 *                                                       |
 *        1213/1205 with retries left: backoff, BODY again, else done
 *
 * SETUP is "SET autocommit=0", not BEGIN. InnoDB rolls a deadlock victim's
 * whole transaction back, and with BEGIN the statements the body pipelined
 * behind the failed one would then run in autocommit mode, each committed
 * at once, and a retry would run them twice. With autocommit off they open
 * a new transaction instead, which the ROLLBACK undoes. The connection's
 * release turns autocommit on again (the reset, or pin.c's
 * restore_autocommit with reset_on_release=0).
 *
 * The runner owns every future it waits on (acquire, SET, COMMIT, ROLLBACK,
 * the one body returns) and never relies on when a callback runs: a future
 * that comes back already resolved is handled at once, one still pending
 * gets our node; cancel, free, a deadline and amy_pool_free (through a
 * lease) all end in cleanup(), which unlinks the node, frees the step
 * (canceling it) and gives the connection back, whose release rolls back
 * whatever is still open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "future.h"
#include "list.h"
#include "pin.h"
#include "pool.h"
#include "result.h"

/* Backoff before attempt k+1 (k >= 1): 5 ms * 2^(k-1), at most 200 ms,
 * times a random factor in [0.5, 1) so that two victims of one deadlock do
 * not meet again in step. */
#define TXN_BACKOFF_FIRST_S 0.005
#define TXN_BACKOFF_MAX_S   0.2

enum txn_phase { P_ACQUIRE, P_SETUP, P_BODY, P_COMMIT, P_ROLLBACK };

typedef struct amy__txn {
    amy_future base; /* first: the future is the transaction */
    amy_pool *pool;  /* NULL once the pool was freed */
    amy_txn_fn body;
    void *arg;
    unsigned retries;  /* attempts allowed after the first */
    unsigned attempts; /* body calls so far */
    enum txn_phase phase;
    amy_future *cur;  /* the step waited for (ours), or NULL */
    amy__cbnode node; /* our callback on cur */
    amy_conn *h;      /* the pinned connection, once acquired */
    amy_future *done; /* the body's future, kept while COMMIT runs */
    /* The body's future when the transaction was ended from outside:
     * canceled, kept readable until the transaction's future is freed, so
     * that a chain of the body's can see it ended. */
    amy_future *abandoned;
    unsigned char retry; /* the ROLLBACK running comes before a retry */
    /* The error that ends (or retries) the attempt. */
    int err_status;
    unsigned err_errno;
    char err_sqlstate[6];
    char *err_msg;
    ev_timer backoff;
    amy__lease lease; /* hears when the pool is freed */
} amy__txn;

static void on_step(amy_future *f, void *arg);

/* Takes f's error as the attempt's; prefix names a step of the runner's
 * own (NULL for the body's and the acquire's, shown as they are). */
static void keep_error(amy__txn *t, const amy_future *f, const char *prefix)
{
    t->err_status = f->status;
    t->err_errno = f->server_errno;
    memcpy(t->err_sqlstate, f->sqlstate, 6);
    const char *msg = amy_future_error(f);
    free(t->err_msg);
    t->err_msg = NULL;
    size_t n = strlen(msg) + (prefix ? strlen(prefix) : 0) + 3;
    t->err_msg = malloc(n);
    if (t->err_msg)
        snprintf(t->err_msg, n, "%s%s%s", prefix ? prefix : "",
                 prefix ? ": " : "", msg);
}

static void set_own_error(amy__txn *t, int status, const char *msg)
{
    t->err_status = status;
    t->err_errno = 0;
    memcpy(t->err_sqlstate, "HY000", 6);
    free(t->err_msg);
    t->err_msg = strdup(msg);
}

/* Leaves everything the transaction holds: the step waited for (freed,
 * which cancels it if pending), the backoff, the lease, the connection
 * (released: an open transaction is rolled back there). */
static void cleanup(amy__txn *t)
{
    if (ev_is_active(&t->backoff))
        ev_timer_stop(t->base.loop, &t->backoff);
    amy__list_remove(&t->lease.link);
    amy_future *f = t->cur;
    t->cur = NULL;
    if (f) {
        amy__list_remove(&t->node.link);
        /* An acquire that resolved but whose callback has not run yet:
         * the connection is ours all the same. */
        if (t->phase == P_ACQUIRE && !t->h)
            t->h = amy_future_conn(f);
        if (t->phase == P_BODY && !t->abandoned) {
            amy_future_cancel(f);
            t->abandoned = f;
        } else {
            amy_future_free(f);
        }
    }
    amy_future_free(t->done);
    t->done = NULL;
    amy_conn_release(t->h);
    t->h = NULL;
}

/* The end: cleanup, then the transaction's future resolves (t may be gone
 * when this returns). */
static void finish(amy__txn *t, int status)
{
    /* What the body's last step returned is the transaction's: taken only
     * now, so every callback on the body's future could read it. */
    amy_result *r = NULL;
    if (status == AMY_OK && t->done) {
        r = t->done->result;
        t->done->result = NULL;
    }
    cleanup(t);
    if (status == AMY_OK) {
        /* A gather has no result: an empty one, as any OK future has. */
        amy__future_resolve(&t->base, r ? r : amy__result_ok(0, 0));
        return;
    }
    amy__future_fail(&t->base, t->err_status, t->err_errno, t->err_sqlstate,
                     t->err_msg);
}

/* Waits for f in phase p: now when it has resolved already, else through
 * our node. */
static void watch(amy__txn *t, amy_future *f, enum txn_phase p)
{
    t->phase = p;
    if (!f) {
        set_own_error(t, AMY_ENOMEM, "out of memory queuing a statement");
        finish(t, AMY_ENOMEM);
        return;
    }
    t->cur = f;
    if (f->status != AMY_PENDING) {
        on_step(f, t);
        return;
    }
    t->node.cb = on_step;
    t->node.arg = t;
    amy__list_push_back(&f->cbs, &t->node.link);
}

static void attempt(amy__txn *t)
{
    t->attempts++;
    /* The body may cancel or free the transaction itself: held, so that
     * t stays readable until it returns. */
    amy__future_hold(&t->base);
    amy_future *f = t->body(t->h, t->arg);
    int gone = t->base.status != AMY_PENDING;
    if (gone)
        amy_future_free(f); /* ours; the transaction ended meanwhile */
    amy__future_release(&t->base);
    if (gone)
        return;
    if (!f) {
        set_own_error(t, AMY_EINVAL, "the transaction's body returned NULL");
        t->retry = 0;
        watch(t, amy_rollback(t->h), P_ROLLBACK);
        return;
    }
    watch(t, f, P_BODY);
}

static void backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    attempt(w->data);
}

static void start_backoff(amy__txn *t)
{
    double d = TXN_BACKOFF_FIRST_S;
    for (unsigned k = 1; k < t->attempts && d < TXN_BACKOFF_MAX_S; k++)
        d *= 2;
    if (d > TXN_BACKOFF_MAX_S)
        d = TXN_BACKOFF_MAX_S;
    amy_pool *p = t->pool;
    p->rng = p->rng * 1103515245u + 12345u;
    d *= 0.5 + 0.5 * (double)(p->rng >> 8) / (double)(1u << 24);
    ev_timer_set(&t->backoff, d, 0.);
    ev_timer_start(t->base.loop, &t->backoff);
}

/* The attempt failed with the kept error: roll back, then retry it when
 * the server said deadlock or lock wait timeout and attempts are left. */
static void fail_attempt(amy__txn *t)
{
    int again = t->err_errno == 1213 || t->err_errno == 1205;
    t->retry = again && t->attempts <= t->retries;
    if (again && !t->retry) {
        char suffix[64];
        snprintf(suffix, sizeof suffix, " (gave up after %u attempt%s)",
                 t->attempts, t->attempts == 1 ? "" : "s");
        size_t n = (t->err_msg ? strlen(t->err_msg) : 0) + strlen(suffix) + 1;
        char *m = malloc(n);
        if (m) {
            snprintf(m, n, "%s%s", t->err_msg ? t->err_msg : "", suffix);
            free(t->err_msg);
            t->err_msg = m;
        }
    }
    amy_future_free(t->done);
    t->done = NULL;
    watch(t, amy_rollback(t->h), P_ROLLBACK);
}

static void on_step(amy_future *f, void *arg)
{
    amy__txn *t = arg;
    t->cur = NULL;
    int ok = f->status == AMY_OK;
    switch (t->phase) {
    case P_ACQUIRE:
        if (!ok) {
            keep_error(t, f, NULL);
            amy_future_free(f);
            finish(t, t->err_status);
            return;
        }
        t->h = amy_future_conn(f);
        amy_future_free(f);
        t->h->restore_autocommit = 1;
        watch(t, amy_conn_query(t->h, "SET autocommit=0"), P_SETUP);
        return;
    case P_SETUP:
        if (!ok) {
            keep_error(t, f, "SET autocommit=0");
            amy_future_free(f);
            finish(t, t->err_status);
            return;
        }
        amy_future_free(f);
        attempt(t);
        return;
    case P_BODY:
        if (!ok) {
            keep_error(t, f, NULL);
            amy_future_free(f);
            fail_attempt(t);
            return;
        }
        /* Kept: its result is the transaction's once committed. */
        t->done = f;
        watch(t, amy_commit(t->h), P_COMMIT);
        return;
    case P_COMMIT:
        if (!ok) {
            keep_error(t, f, "COMMIT");
            amy_future_free(f);
            fail_attempt(t);
            return;
        }
        amy_future_free(f);
        finish(t, AMY_OK);
        return;
    case P_ROLLBACK:
        amy_future_free(f);
        /* A failed ROLLBACK leaves the connection in doubt: no retry on it
         * (its release rolls back again, or closes it). */
        if (ok && t->retry && t->pool) {
            start_backoff(t);
            return;
        }
        finish(t, t->err_status);
        return;
    }
}

/* Canceled, timed out or freed while pending. */
static void txn_detach(amy_future *f)
{
    cleanup((amy__txn *)f);
}

static void txn_destroy(amy_future *f)
{
    amy__txn *t = (amy__txn *)f;
    cleanup(t); /* nothing left once resolved; kept for safety */
    amy_future_free(t->abandoned);
    free(t->err_msg);
}

static const amy__fops txn_fops = {
    .detach = txn_detach,
    .destroy = txn_destroy,
    .timeouts = 1,
};

/* 0: no handle of the caller's (its pinned connection is released here,
 * by cleanup). */
static int pool_gone(amy__lease *l)
{
    amy__txn *t = AMY__CONTAINER(l, amy__txn, lease);
    t->pool = NULL;
    if (t->base.status != AMY_PENDING)
        return 0;
    cleanup(t);
    amy__future_fail(&t->base, AMY_ECANCELED, 0, NULL, "the pool was freed");
    return 0;
}

amy_future *amy_transaction(amy_pool *pool, amy_txn_fn body, void *arg,
                            unsigned retries)
{
    if (!pool || !body)
        return amy__pool_failed(pool, AMY_EINVAL,
                                pool ? "body is NULL" : "pool is NULL");
    amy__txn *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    amy__future_init(&t->base, pool->loop);
    t->base.fops = &txn_fops;
    t->pool = pool;
    t->body = body;
    t->arg = arg;
    t->retries = retries;
    ev_timer_init(&t->backoff, backoff_cb, 0., 0.);
    t->backoff.data = t;
    t->lease.pool_gone = pool_gone;
    amy__pool_add_lease(pool, &t->lease);
    amy_future *f = amy_pool_acquire(pool);
    /* A pool being freed refuses at once: the transaction fails here,
     * before anyone could have added a callback. */
    watch(t, f, P_ACQUIRE);
    return &t->base;
}
