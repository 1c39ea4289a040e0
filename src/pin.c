/*
 * Pinned connections: amy_pool_acquire takes one connection out of the
 * pool for one caller, whose queries then run on it alone and in order;
 * that is what a transaction needs. amy_conn_release gives it back, but
 * never inside an open transaction: the server's status flag says whether
 * one is open, and a ROLLBACK goes first. A pinned connection that dies
 * fails its queries and is never given back.
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

static const amy__owner_ops pin_owner;

static void pool_gone(amy__lease *l)
{
    amy_conn *h = AMY__CONTAINER(l, amy_conn, lease);
    h->pool = NULL;
    h->c = NULL;
    if (h->released)
        free(h);
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
    .timeouts = 1,
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
    return f && f->op == &amy__op_acquire && f->status == AMY_OK ? handle_of(f)
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

/*
 * c has nothing in flight or queued. If its handle was released: roll back
 * an open transaction first (1: a ROLLBACK was queued), else give c back to
 * the pool (1: it looks for the pool's work now). Not released: 0 (it waits
 * for the handle's next query). -1 when the ROLLBACK did not end the
 * transaction: c must not be reused.
 */
static int pin_idle(void *self, amy__conn *c)
{
    amy_conn *h = self;
    if (!h->released || h->q.len)
        return 0;
    int in_trans = (c->mysql->server_status & SERVER_STATUS_IN_TRANS) != 0;
    if (in_trans && h->rolling_back)
        return -1;
    if (in_trans) {
        amy_future *f = amy__pool_submit(h->pool, &h->q, &amy__op_text,
                                         "ROLLBACK", 8, NULL, 0);
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
    amy__pool_take_back(h->pool, c);
    h->c = NULL;
    amy__queue_fail(&h->q, why->status, why->err, why->sqlstate,
                    why->msg ? why->msg : "the pinned connection was lost",
                    done);
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
