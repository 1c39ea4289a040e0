/*
 * Pinned connections: amy_pool_acquire takes one connection out of the
 * pool for one caller, whose queries then run on it alone and in order;
 * that is what a transaction needs. amy_conn_release gives it back, but
 * never inside an open transaction: the server's status flag says whether
 * one is open, and a ROLLBACK goes first. A pinned connection that dies
 * fails its queries and is never given back.
 *
 * With reset_on_release (the default) the connection given back is reset
 * first (COM_RESET_CONNECTION: user variables, temporary tables, session
 * settings, an open transaction, prepared statements all go) and runs the
 * pool's init statements again, so nothing of one caller's session reaches
 * the next. A reset or init that fails keeps it from the pool: it closes.
 *
 * The acquire future is an op kind of its own (amy__op_acquire): it waits
 * in the pool's queue like a query, needs a connection to itself, and when
 * a connection takes it, the handle becomes that connection's owner
 * (owner.h) instead of being sent. Giving it back is switching the owner
 * back to the pool.
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "future.h"
#include "op.h"
#include "owner.h"
#include "pin.h"
#include "pool.h"
#include "queue.h"
#include "result.h"

static const amy__owner_ops pin_owner;

/* 1 when the caller has not released the handle yet: it stays until
 * amy_conn_release. */
static int pool_gone(amy__lease *l)
{
    amy_conn *h = AMY__CONTAINER(l, amy_conn, lease);
    h->pool = NULL;
    h->c = NULL;
    if (h->released) {
        free(h);
        return 0;
    }
    return 1;
}

/* The handle of an acquire future (f->data). */
static amy_conn *handle_of(const amy_future *f)
{
    return f->data;
}

/* A connection took the acquire future f: it is the handle's now. */
static void acquire_taken(amy__conn *c, amy_future *f)
{
    amy_conn *h = handle_of(f);
    h->c = c;
    amy__pool_lend(h->pool, c);
    amy__conn_set_owner(c, &pin_owner, h);
    h->lease.pool_gone = pool_gone;
    amy__pool_add_lease(h->pool, &h->lease);
    amy__conn_settle(c, f, NULL);
}

const amy__op amy__op_acquire = {
    .name = "acquire",
    .alone = 1,
    .taken = acquire_taken,
};

/* An acquire that never resolved OK never handed its handle over. */
static void acquire_destroy(amy_future *f)
{
    if (f->status != AMY_OK)
        free(handle_of(f));
}

static void acquire_settled(amy_future *f)
{
    amy__pool_fops.settled(f); /* counted as the pool's queries are */
}

static const amy__fops acquire_fops = {
    .detach = amy__conn_detach_future,
    .settled = acquire_settled,
    .destroy = acquire_destroy,
    .notified = amy__observe_notified,
    .timeouts = 1,
};

/* The reset kind: COM_RESET_CONNECTION through the connector, alone. */
static const amy__op reset_kind;

static int reset_begin(amy__conn *c)
{
    amy__conn_head_sent(c);
    c->op = AMY__OP_KIND;
    c->kind = &reset_kind;
    return mysql_reset_connection_start(&c->iret, c->mysql);
}

static int reset_cont(amy__conn *c, int ready)
{
    return mysql_reset_connection_cont(&c->iret, c->mysql, ready);
}

static int reset_finish(amy__conn *c)
{
    if (c->iret != 0) {
        amy__err e = amy__conn_err(c);
        if (amy__breaks_stream(e.no))
            amy__conn_break(c, &e);
        else
            amy__conn_complete(c, &e); /* a server without the command */
        return AMY__NOTHING;
    }
    amy__conn_session_reset(c);
    amy__conn_add_result(c, amy__result_ok(0, 0));
    amy__conn_complete(c, NULL);
    return AMY__NOTHING;
}

static const amy__op reset_kind = {
    .name = "reset",
    .alone = 1,
    .begin = reset_begin,
    .cont = reset_cont,
    .finish = reset_finish,
};

amy_future *amy_pool_acquire(amy_pool *p)
{
    if (!p)
        return amy__pool_failed(NULL, AMY_EINVAL, "pool is NULL");
    amy_conn *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    amy_future *f = amy__pool_make(p, &amy__op_acquire, "", 0, NULL, 0, 0, 0);
    if (!f || f->status != AMY_PENDING) {
        free(h);
        return f;
    }
    h->pool = p;
    amy__queue_init(&h->q);
    f->data = h;
    f->fops = &acquire_fops;
    amy__pool_enqueue(p, &p->q, f);
    return f;
}

amy_conn *amy_future_conn(const amy_future *f)
{
    return amy__future_live(f, __func__) && f->op == &amy__op_acquire &&
                   f->status == AMY_OK
               ? handle_of(f)
               : NULL;
}

/* For a handle that cannot take queries (NULL, released, its pool freed,
 * its connection lost): a future failed with the reason; NULL otherwise
 * (and when memory runs out). */
static amy_future *unusable(amy_conn *h, int *bad)
{
    *bad = 1;
    if (!h)
        return amy__pool_failed(NULL, AMY_EINVAL, "connection is NULL");
    if (h->released)
        return amy__pool_failed(NULL, AMY_EINVAL,
                                "the connection was released");
    if (!h->pool)
        return amy__pool_failed(NULL, AMY_ECANCELED, "the pool was freed");
    if (!h->c)
        return amy__pool_failed(h->pool, AMY_ECONNLOST,
                                "the pinned connection was lost");
    *bad = 0;
    return NULL;
}

amy_future *amy_conn_query_params(amy_conn *h, const char *sql,
                                  const amy_value *params, size_t n)
{
    int bad;
    amy_future *f = unusable(h, &bad);
    if (bad)
        return f;
    return amy__pool_submit(h->pool, &h->q, &amy__op_params, sql,
                            sql ? strlen(sql) : 0, params, n);
}

amy_future *amy_conn_query(amy_conn *h, const char *sql)
{
    return amy_conn_query_params(h, sql, NULL, 0);
}

amy_future *amy_conn_exec(amy_conn *h, const char *sql, const amy_value *params,
                          size_t n)
{
    int bad;
    amy_future *f = unusable(h, &bad);
    if (bad)
        return f;
    return amy__pool_submit_exec(h->pool, &h->q, sql, params, 1, n, 0);
}

amy_future *amy_conn_exec_batch(amy_conn *h, const char *sql,
                                const amy_value *rows, size_t nrows,
                                size_t ncols)
{
    int bad;
    amy_future *f = unusable(h, &bad);
    if (bad)
        return f;
    return amy__pool_submit_exec(h->pool, &h->q, sql, rows, nrows, ncols, 1);
}

amy_future *amy_begin(amy_conn *h)
{
    return amy_conn_query(h, "BEGIN");
}

amy_future *amy_commit(amy_conn *h)
{
    return amy_conn_query(h, "COMMIT");
}

amy_future *amy_rollback(amy_conn *h)
{
    return amy_conn_query(h, "ROLLBACK");
}

void amy_conn_release(amy_conn *h)
{
    if (!h || h->released)
        return;
    h->released = 1;
    if (!h->c) {
        amy__list_remove(&h->lease.link);
        free(h);
        return;
    }
    amy__pool_schedule_kick(h->pool); /* the connection looks when idle */
}

/* ------------------------------------------------------------------------ */
/* The handle as its connection's owner                                     */
/* ------------------------------------------------------------------------ */

static int pin_has_work(void *self, amy__conn *c)
{
    return ((amy_conn *)self)->q.len > 0;
}

static amy_future *pin_take(void *self, amy__conn *c)
{
    amy_conn *h = self;
    amy_future *f = amy__queue_head(&h->q);
    if (!f || h->pool->freeing || !amy__conn_accepts(c, f))
        return NULL;
    amy__queue_remove(f);
    amy__observe_sent(&h->pool->obs, c, f);
    return f;
}

static void pin_requeue(void *self, amy__conn *c, amy_future *f)
{
    amy_conn *h = self;
    amy__queue_push_front(&h->q, f); /* it stays on this connection */
    h->pool->stats.retried++;
    amy__pool_schedule_kick(h->pool);
}

static void pin_ready(void *self, amy__conn *c)
{
    amy__pool_owner.ready(((amy_conn *)self)->pool, c);
}

static void free_cb(amy_future *f, void *arg)
{
    amy_future_free(f);
}

/* Lets go of the held reset and init futures; whether any failed. */
static int release_held(amy_conn *h)
{
    int failed = 0;
    for (unsigned i = 0; i < h->nheld; i++) {
        failed |= amy_future_status(h->held[i]) != AMY_OK;
        amy__future_release(h->held[i]);
    }
    free(h->held);
    h->held = NULL;
    h->nheld = 0;
    return failed;
}

/* Queues f, freed when done and held for its outcome. -1 when it could not
 * be made (f failed already, or no memory). */
static int queue_held(amy_conn *h, amy_future *f)
{
    if (!f || f->status != AMY_PENDING) {
        amy_future_free(f);
        return -1;
    }
    amy__observe_forget(f); /* the pool's own statement */
    amy__future_hold(f);
    h->held[h->nheld++] = f;
    if (amy_future_then(f, free_cb, NULL) != AMY_OK) {
        amy_future_free(f); /* canceled; gone once release_held lets go */
        return -1;
    }
    return 0;
}

/* reset_on_release: COM_RESET_CONNECTION, then the pool's init statements
 * again, on the handle's queue. -1 when they could not all be queued. */
static int queue_reset(amy_conn *h)
{
    const amy__dsn *d = &h->pool->dsn;
    h->held = calloc(1 + d->ninit, sizeof *h->held);
    if (!h->held)
        return -1;
    amy_future *f = amy__pool_make(h->pool, &reset_kind, "RESET CONNECTION", 16,
                                   NULL, 0, 0, 1);
    if (f && f->status == AMY_PENDING)
        amy__pool_enqueue(h->pool, &h->q, f);
    if (queue_held(h, f) != 0)
        return -1;
    for (unsigned i = 0; i < d->ninit; i++)
        if (queue_held(h, amy__pool_submit(h->pool, &h->q, &amy__op_text,
                                           d->init[i], strlen(d->init[i]), NULL,
                                           0)) != 0)
            return -1;
    return 0;
}

/*
 * c has nothing in flight or queued. Not released: 0 (it waits for the
 * handle's next query). Released: with reset_on_release, reset it and run
 * init again first (1: queued); else roll back an open transaction first
 * (1: a ROLLBACK was queued); then give c back to the pool (1: it looks for
 * the pool's work now). -1 when the reset, init or ROLLBACK failed, or the
 * transaction is still open: c must not be reused.
 */
static int pin_idle(void *self, amy__conn *c)
{
    amy_conn *h = self;
    if (!h->released || h->q.len)
        return 0;
    if (h->pool->dsn.reset_on_release && !h->resetting) {
        h->resetting = 1;
        return queue_reset(h) == 0 ? 1 : -1;
    }
    if (h->nheld && release_held(h))
        return -1;
    int in_trans = (c->mysql->server_status & SERVER_STATUS_IN_TRANS) != 0;
    if (in_trans && (h->rolling_back || h->resetting))
        return -1;
    /* Only once no transaction is open: SET autocommit=1 commits one. */
    if (!in_trans && h->restore_autocommit && !h->resetting) {
        h->restore_autocommit = 0;
        h->held = calloc(1, sizeof *h->held);
        if (!h->held ||
            queue_held(h, amy__pool_submit(h->pool, &h->q, &amy__op_text,
                                           "SET autocommit=1", 16, NULL, 0)) !=
                0)
            return -1;
        return 1;
    }
    if (in_trans) {
        amy_future *f = amy__pool_submit(h->pool, &h->q, &amy__op_text,
                                         "ROLLBACK", 8, NULL, 0);
        amy__observe_forget(f); /* the pool's own statement */
        if (!f || f->status != AMY_PENDING ||
            amy_future_then(f, free_cb, NULL) != AMY_OK) {
            amy_future_free(f);
            return -1;
        }
        h->rolling_back = 1;
        return 1;
    }
    amy__pool_take_back(h->pool, c);
    amy__list_remove(&h->lease.link);
    free(h);
    return 1;
}

/* c's connection is gone: the handle's queued queries fail; the handle
 * forgets it (and goes, if released), and c is the pool's again, to be
 * unlinked and freed. */
static void pin_lost(void *self, amy__conn *c, const amy__why *why,
                     amy__donelist *done)
{
    amy_conn *h = self;
    amy__pool_note_lost(c, why);
    amy__pool_take_back(h->pool, c);
    h->c = NULL;
    amy__queue_fail(&h->q, why->status, why->err, why->sqlstate,
                    why->msg ? why->msg : "the pinned connection was lost",
                    done);
    release_held(h); /* each frees itself once it resolved */
    if (h->released) {
        amy__list_remove(&h->lease.link);
        free(h);
    }
}

static void pin_dead(void *self, amy__conn *c)
{
    amy__pool_owner.dead(((amy_conn *)self)->pool, c);
}

static void pin_kill(void *self, amy__conn *c)
{
    amy__pool_owner.kill(((amy_conn *)self)->pool, c);
}

static const amy__owner_ops pin_owner = {
    .has_work = pin_has_work,
    .take = pin_take,
    .requeue = pin_requeue,
    .ready = pin_ready,
    .idle = pin_idle,
    .lost = pin_lost,
    .dead = pin_dead,
    .kill = pin_kill,
};
