/*
 * Stopping statements on the server.
 *
 * A query whose future left while it was in flight (timed out, canceled,
 * freed) would otherwise run to its end on the server, holding its
 * connection and everything queued behind it. The connection itself cannot
 * interrupt it (one connector call at a time, and closing the socket does
 * not stop the server), so a second connection, this channel's own, sends
 * KILL QUERY <thread id>. What that kill may hit is tracked by the
 * connection (see the kill record in conn.h).
 *
 * The channel owns its one connection (owner.h) and a queue of KILL
 * futures, sent one at a time. It opens the connection on first need and
 * again when it was lost with kills waiting; a connect that fails fails the
 * waiting kills (their statements run to their end, answers dropped).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "future.h"
#include "kill.h"
#include "op.h"
#include "owner.h"
#include "queue.h"

struct amy__killer {
    struct ev_loop *loop;
    amy__conn_cfg cfg; /* the pool's, with one query in flight */
    amy__conn *c;      /* NULL until needed, and once it died */
    amy__queue q;      /* kills not yet sent */
    ev_timer kick;     /* sends a kill queued while c was idle, from the
                          loop (not from inside the caller's call) */
};

/* What a KILL future carries (f->data). */
typedef struct kill_req {
    void (*done)(void *arg, unsigned long tag);
    void *arg;
    unsigned long tag;
} kill_req;

static const amy__fops kill_fops = {.detach = amy__conn_detach_future};

/* ------------------------------------------------------------------------ */
/* The channel as its connection's owner                                    */
/* ------------------------------------------------------------------------ */

static int k_has_work(void *self, amy__conn *c)
{
    return ((amy__killer *)self)->q.len > 0;
}

static amy_future *k_take(void *self, amy__conn *c)
{
    amy__killer *k = self;
    amy_future *f = amy__queue_head(&k->q);
    if (!f || !amy__conn_accepts(c, f))
        return NULL;
    amy__queue_remove(f);
    return f;
}

static void k_requeue(void *self, amy__conn *c, amy_future *f)
{
    amy__queue_push_front(&((amy__killer *)self)->q, f);
}

static void k_ready(void *self, amy__conn *c) {}

static int k_idle(void *self, amy__conn *c)
{
    return 0;
}

static void k_lost(void *self, amy__conn *c, const amy__why *why,
                   amy__donelist *done)
{
}

static void open_conn(amy__killer *k);

static void k_dead(void *self, amy__conn *c)
{
    amy__killer *k = self;
    int failed = c->connect_failed;
    char msg[sizeof c->err_msg];
    snprintf(msg, sizeof msg, "%s", c->err_msg);
    k->c = NULL;
    amy__conn_free(c);
    if (!failed) {
        open_conn(k); /* lost with kills waiting: again */
        return;
    }
    amy__donelist done;
    amy__donelist_init(&done);
    amy__queue_fail(&k->q, AMY_ECONNECT, 0, "HY000", msg, &done);
    amy__donelist_notify(&done);
}

static void k_kill(void *self, amy__conn *c)
{
    amy__conn_kill_done(c); /* nobody stops a KILL */
}

static const amy__owner_ops killer_owner = {
    .has_work = k_has_work,
    .take = k_take,
    .requeue = k_requeue,
    .ready = k_ready,
    .idle = k_idle,
    .lost = k_lost,
    .dead = k_dead,
    .kill = k_kill,
};

/* ------------------------------------------------------------------------ */
/* Kills                                                                    */
/* ------------------------------------------------------------------------ */

/* Opens the connection if kills wait and there is none. */
static void open_conn(amy__killer *k)
{
    if (k->c || !k->q.len)
        return;
    k->c = amy__conn_new(k->loop, &k->cfg, &killer_owner, k);
    if (k->c)
        return;
    amy__donelist done;
    amy__donelist_init(&done);
    amy__queue_fail(&k->q, AMY_ENOMEM, 0, NULL,
                    "out of memory opening a connection", &done);
    amy__donelist_notify(&done);
}

static void killer_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy__killer *k = w->data;
    if (k->c)
        amy__conn_kick(k->c);
    else
        open_conn(k);
}

amy__killer *amy__killer_new(struct ev_loop *loop, const amy__conn_cfg *cfg)
{
    amy__killer *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->loop = loop;
    k->cfg = *cfg;
    k->cfg.pipeline = 1;
    k->cfg.stmt_cache = 0;
    amy__queue_init(&k->q);
    ev_timer_init(&k->kick, killer_kick_cb, 0., 0.);
    k->kick.data = k;
    return k;
}

static void kill_done(amy_future *f, void *arg)
{
    kill_req *r = f->data;
    r->done(r->arg, r->tag);
    amy_future_free(f);
}

int amy__killer_kill(amy__killer *k, unsigned long thread_id,
                     void (*done)(void *arg, unsigned long tag), void *arg,
                     unsigned long tag)
{
    char sql[48];
    int n = snprintf(sql, sizeof sql, "KILL QUERY %lu", thread_id);
    amy_future *f =
        amy__future_new(k->loop, sql, (size_t)n, NULL, 0, sizeof(kill_req), 0);
    if (!f)
        return -1;
    f->op = &amy__op_text;
    f->fops = &kill_fops;
    kill_req *r = f->data;
    r->done = done;
    r->arg = arg;
    r->tag = tag;
    if (amy_future_then(f, kill_done, NULL) != AMY_OK) {
        amy_future_free(f);
        return -1;
    }
    amy__queue_push(&k->q, f);
    if (!ev_is_active(&k->kick))
        ev_timer_start(k->loop, &k->kick);
    return 0;
}

void amy__killer_free(amy__killer *k)
{
    if (!k)
        return;
    ev_timer_stop(k->loop, &k->kick);
    if (k->c) {
        amy__conn *c = k->c;
        k->c = NULL;
        amy__conn_destroy(c, AMY_ECANCELED); /* kills sent: kill_done */
    }
    amy__donelist done;
    amy__donelist_init(&done);
    amy__queue_fail(&k->q, AMY_ECANCELED, 0, NULL, "the pool was freed", &done);
    free(k);
    amy__donelist_notify(&done);
}
