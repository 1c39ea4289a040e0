/*
 * Stopping statements on the server.
 *
 * A query whose future left while it was in flight (timed out, canceled,
 * freed) would otherwise run to its end on the server, holding its
 * connection and everything queued behind it. The connection itself cannot
 * interrupt it (one connector call at a time, and closing the socket does
 * not stop the server), so a second connection of the pool's own, the
 * control pool, sends KILL QUERY <thread id>. What that kill may hit is
 * tracked by the connection (see the kill record in conn.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "conn.h"
#include "future.h"
#include "pool.h"

typedef struct kill_req {
    amy_pool *pool;
    unsigned long serial; /* the connection, if it still exists */
} kill_req;

static amy__conn *find_conn(amy_pool *p, unsigned long serial)
{
    for (amy__conn *c = p->conns; c; c = c->next)
        if (c->serial == serial)
            return c;
    return NULL;
}

static void kill_done(amy_future *f, void *arg)
{
    kill_req *k = arg;
    amy__conn *c = find_conn(k->pool, k->serial);
    if (c)
        amy__conn_kill_done(c);
    free(k);
    amy_future_free(f);
}

void amy__pool_kill(amy_pool *p, amy__conn *c)
{
    kill_req *k = NULL;
    amy_future *f = NULL;
    if (!p->freeing && !p->is_control) {
        if (!p->control)
            p->control = amy__pool_new_control(p);
        k = malloc(sizeof *k);
    }
    if (p->control && k) {
        char sql[48];
        snprintf(sql, sizeof sql, "KILL QUERY %lu", c->thread_id);
        f = amy_query(p->control, sql);
    }
    if (!f) {
        /* No kill will come: the statement runs to its end, and its answer
         * is still dropped. */
        free(k);
        amy__conn_kill_done(c);
        return;
    }
    k->pool = p;
    k->serial = c->serial;
    p->stats.kills++;
    if (amy_future_then(f, kill_done, k) != AMY_OK) {
        free(k);
        amy_future_free(f);
        amy__conn_kill_done(c);
    }
}

void amy__pool_kill_free(amy_pool *p)
{
    amy_pool *control = p->control;
    p->control = NULL;
    amy_pool_free(control); /* pending kills resolve canceled: kill_done */
}
