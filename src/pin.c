/*
 * Pinned connections: amy_pool_acquire takes one connection out of the
 * pool for one caller, whose queries then run on it alone and in order;
 * that is what a transaction needs. amy_conn_release gives it back, but
 * never inside an open transaction: the server's status flag says whether
 * one is open, and a ROLLBACK goes first. A pinned connection that dies
 * fails its queries and is never given back.
 */
#include <stdlib.h>
#include <string.h>

#include "future.h"
#include "pin.h"
#include "pool.h"

static void link_pin(amy_pool *p, amy_conn *h)
{
    h->prev = NULL;
    h->next = p->pins;
    if (p->pins)
        p->pins->prev = h;
    p->pins = h;
    p->npinned++;
}

static void unlink_pin(amy_conn *h)
{
    amy_pool *p = h->pool;
    if (!p)
        return;
    if (h->prev)
        h->prev->next = h->next;
    else
        p->pins = h->next;
    if (h->next)
        h->next->prev = h->prev;
    h->next = h->prev = NULL;
    p->npinned--;
}

amy_future *amy_pool_acquire(amy_pool *p)
{
    if (!p)
        return amy__pool_failed(NULL, AMY_EINVAL, "pool is NULL");
    amy_conn *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    amy_future *f = amy__pool_submit(p, NULL, "", 0, NULL, 0, 1);
    if (!f || f->status != AMY_PENDING) {
        free(h);
        return f;
    }
    h->pool = p;
    f->pin = h;
    return f;
}

amy_conn *amy_future_conn(const amy_future *f)
{
    return f && f->acquire && f->status == AMY_OK ? f->pin : NULL;
}

void amy__pin_attach(amy__conn *c, amy_future *f)
{
    amy_conn *h = f->pin;
    h->c = c;
    c->pin = h;
    link_pin(c->pool, h);
}

amy_future *amy__pin_unusable(amy_conn *h)
{
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
    return NULL;
}

amy_future *amy_conn_query_params(amy_conn *h, const char *sql,
                                  const amy_value *params, size_t n)
{
    if (!h || h->released || !h->pool || !h->c)
        return amy__pin_unusable(h);
    return amy__pool_submit(h->pool, h, sql, sql ? strlen(sql) : 0, params, n,
                            0);
}

amy_future *amy_conn_query(amy_conn *h, const char *sql)
{
    return amy_conn_query_params(h, sql, NULL, 0);
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
        unlink_pin(h);
        free(h);
        return;
    }
    amy__pool_schedule_kick(h->pool); /* the connection looks when idle */
}

amy_future *amy__pin_take(amy__conn *c)
{
    amy_future *f = c->pin->q.head;
    if (!f)
        return NULL;
    /* A prepared statement runs alone: after what is in flight, and
     * before anything else. */
    if (c->count > 0 && (f->exec || c->ring[c->head].exec))
        return NULL;
    if (c->count > 0 && (c->count >= c->cap ||
                         c->bytes + f->sql_len > c->pool->dsn.pipeline_bytes))
        return NULL;
    amy__queue_remove(f);
    return f;
}

static void free_cb(amy_future *f, void *arg)
{
    amy_future_free(f);
}

int amy__pin_idle(amy__conn *c)
{
    amy_conn *h = c->pin;
    int in_trans = (c->mysql->server_status & SERVER_STATUS_IN_TRANS) != 0;
    if (in_trans && h->rolling_back)
        return -1; /* the ROLLBACK did not end it: do not reuse this one */
    if (in_trans) {
        amy_future *f = amy__pool_submit(c->pool, h, "ROLLBACK", 8, NULL, 0, 0);
        if (!f || amy_future_then(f, free_cb, NULL) != AMY_OK) {
            amy_future_free(f);
            return -1;
        }
        h->rolling_back = 1;
        return 1;
    }
    c->pin = NULL;
    unlink_pin(h);
    free(h);
    return 0;
}

void amy__pin_lost(amy__conn *c, int status, unsigned err, const char *sqlstate,
                   const char *msg, amy__donelist *done)
{
    amy_conn *h = c->pin;
    c->pin = NULL;
    h->c = NULL;
    while (h->q.head) {
        amy_future *f = h->q.head;
        amy__queue_remove(f);
        amy__future_set_error(f, status, err, sqlstate,
                              msg ? msg : "the pinned connection was lost");
        amy__donelist_settle(done, f, NULL);
    }
    if (h->released) {
        unlink_pin(h);
        free(h);
    }
}

void amy__pin_pool_gone(amy_pool *p)
{
    while (p->pins) {
        amy_conn *h = p->pins;
        unlink_pin(h);
        h->pool = NULL;
        h->c = NULL;
        if (h->released)
            free(h);
    }
}
