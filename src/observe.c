/*
 * A pool's histograms and observer (see observe.h for the order of the
 * events and why starts are told from the loop).
 */
#include "observe.h"

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "op.h"
#include "pool.h"
#include "result.h"

const double amy_hist_bounds[AMY_HIST_NBOUNDS] = {
    0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, /* finer */
    0.001,   0.005,   0.01,    0.05,   0.1,    0.5,    1, 5, 10, 30};

static const char *const op_names[] = {
    "query",   "query_params", "execute", "execute_batch", "query_stream",
    "acquire", "begin",        "commit",  "rollback",
};

const char *amy_op_name(int kind)
{
    if (kind < 0 || (size_t)kind >= sizeof op_names / sizeof op_names[0])
        return "unknown";
    return op_names[kind];
}

static void tell_cb(struct ev_loop *loop, ev_timer *w, int revents);

void amy__observe_init(amy__observe *o, amy_pool *p)
{
    amy__list_init(&o->live);
    amy__list_init(&o->due);
    ev_timer_init(&o->tell, tell_cb, 0., 0.);
    o->tell.data = p;
}

/* ------------------------------------------------------------------------ */
/* Histograms                                                               */
/* ------------------------------------------------------------------------ */

uint64_t amy_pool_histogram(const amy_pool *p, int which, const double *bounds,
                            size_t nbounds, uint64_t *counts)
{
    if (!p || !bounds || !counts || which < 0 || which > AMY_HIST_CONNECT)
        return 0;
    return amy__hist_buckets(&p->obs.hist[which], bounds, nbounds, counts);
}

double amy_pool_percentile(const amy_pool *p, int which, double pct)
{
    if (!p || which < 0 || which > AMY_HIST_CONNECT || !(pct > 0) || pct > 100)
        return -1;
    const amy__hist *h = &p->obs.hist[which];
    return h->n ? (double)amy__hist_percentile(h, pct) / 1e6 : 0;
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

int amy_pool_set_observer(amy_pool *p, const amy_observer *ops, void *arg)
{
    if (!p)
        return AMY_EINVAL;
    p->obs.ops = ops;
    p->obs.arg = arg;
    return AMY_OK;
}

void amy__observe_made(amy_pool *p, amy_future *f)
{
    /* The record came in the future's allocation (amy__future_new). */
    if (f->obs)
        amy__list_push_back(&p->obs.live, &f->obs->live);
}

void amy__observe_forget(amy_future *f)
{
    if (f && f->obs) {
        amy__list_remove(&f->obs->live);
        amy__list_remove(&f->obs->due);
        f->obs->ended = 1;
    }
}

void amy__observe_sent(amy_pool *p, amy__conn *c, amy_future *f)
{
    ev_tstamp now = ev_time();
    amy__hist_add(&p->obs.hist[AMY_HIST_QUEUE_WAIT], now - f->queued_at);
    amy__qobs *o = f->obs;
    if (!o || !amy__link_linked(&o->live) || o->started)
        return;
    o->sent_at = now;
    o->conn_id = c->thread_id;
    amy__list_remove(&o->due);
    amy__list_push_back(&p->obs.due, &o->due);
    if (!ev_is_active(&p->obs.tell))
        ev_timer_start(p->loop, &p->obs.tell);
}

void amy__observe_settled(amy_pool *p, amy_future *f)
{
    amy__hist_add(&p->obs.hist[AMY_HIST_DURATION], ev_time() - f->queued_at);
}

static int kind_of(const amy_future *f)
{
    const amy__op *op = f->op;
    if (op == &amy__op_stream)
        return AMY_OP_STREAM;
    if (op == &amy__op_exec)
        return AMY_OP_EXEC;
    if (op == &amy__op_batch)
        return AMY_OP_BATCH;
    if (op && op->taken)
        return AMY_OP_ACQUIRE;
    if (op == &amy__op_params || op == &amy__op_params_mode)
        return AMY_OP_PARAMS;
    if (f->sql_len == 5 && !memcmp(f->sql, "BEGIN", 5))
        return AMY_OP_BEGIN;
    if (f->sql_len == 6 && !memcmp(f->sql, "COMMIT", 6))
        return AMY_OP_COMMIT;
    if (f->sql_len == 8 && !memcmp(f->sql, "ROLLBACK", 8))
        return AMY_OP_ROLLBACK;
    return AMY_OP_QUERY;
}

static void fill(amy_query_info *q, const amy_pool *p, amy_future *f)
{
    const amy__qobs *o = f->obs;
    memset(q, 0, sizeof *q);
    q->future = f;
    q->kind = kind_of(f);
    q->sql = f->sql;
    q->sql_len = f->sql_len;
    q->nparams = f->nparams;
    q->db_system = p->obs.mysql ? "mysql" : "mariadb";
    q->server_address = p->dsn.socket || !p->dsn.host ? p->endpoint : p->host;
    q->server_port =
        p->dsn.socket || !p->dsn.host ? 0 : (p->dsn.port ? p->dsn.port : 3306);
    q->db_namespace = p->dsn.database ? p->dsn.database : "";
    q->connection_id = o->conn_id;
    q->submitted_at = f->queued_at;
    q->sent_at = o->sent_at;
    q->sqlstate = "00000";
    q->status_code = "";
}

static void tell_start(amy_pool *p, amy_future *f)
{
    amy__qobs *o = f->obs;
    amy__list_remove(&o->due);
    if (o->started)
        return;
    o->started = 1;
    if (!p->obs.ops || !p->obs.ops->query_start)
        return;
    amy_query_info q;
    fill(&q, p, f);
    p->obs.ops->query_start(p->obs.arg, &q);
}

static void tell_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy_pool *p = w->data;
    amy__link *l;
    /* A start told may make more due (the observer started queries): they
     * join the walk. */
    while ((l = amy__list_first(&p->obs.due))) {
        amy__qobs *o = AMY__CONTAINER(l, amy__qobs, due);
        amy__list_remove(l);
        tell_start(p, o->f); /* alive: its record is still linked */
    }
}

static void tell_end(amy_pool *p, amy_future *f)
{
    amy__qobs *o = f->obs;
    tell_start(p, f);
    amy__list_remove(&o->live);
    o->ended = 1;
    if (!p->obs.ops || !p->obs.ops->query_end)
        return;
    amy_query_info q;
    fill(&q, p, f);
    q.resolved_at = ev_time();
    q.status = f->status;
    char code[16] = "";
    if (f->status < 0) {
        q.server_errno = f->server_errno;
        q.sqlstate = f->sqlstate;
        q.error = amy_future_error(f);
        if (f->server_errno)
            snprintf(code, sizeof code, "%u", f->server_errno);
    }
    q.status_code = code;
    for (const amy_result *r = f->result; r; r = r->next) {
        q.returned_rows += r->nrows;
        q.result_bytes += r->bytes;
    }
    if (f->result)
        q.affected_rows = f->result->affected_rows;
    if (q.kind == AMY_OP_STREAM && f->result)
        q.returned_rows = f->result->affected_rows;
    q.retried = f->resent;
    q.killed = o->sent_at && q.kind != AMY_OP_ACQUIRE &&
               (f->status == AMY_ECANCELED || f->status == AMY_ETIMEDOUT);
    p->obs.ops->query_end(p->obs.arg, &q);
}

void amy__observe_notified(amy_future *f)
{
    amy__qobs *o = f->obs;
    if (o->ended || !amy__link_linked(&o->live))
        return; /* told already, or never observed (a tag only) */
    tell_end(f->pool, f);
}

void amy__observe_free(amy__observe *o, struct ev_loop *loop)
{
    amy__link *l;
    while ((l = amy__list_first(&o->live))) {
        amy__qobs *r = AMY__CONTAINER(l, amy__qobs, live);
        tell_end(r->f->pool, r->f);
    }
    if (ev_is_active(&o->tell))
        ev_timer_stop(loop, &o->tell);
    for (int i = 0; i < 3; i++)
        amy__hist_free(&o->hist[i]);
}

/* ------------------------------------------------------------------------ */
/* Connections                                                              */
/* ------------------------------------------------------------------------ */

static void conn_fill(amy_conn_info *ci, const amy_pool *p, const amy__conn *c)
{
    memset(ci, 0, sizeof *ci);
    ci->server_address = p->dsn.socket || !p->dsn.host ? p->endpoint : p->host;
    ci->server_port =
        p->dsn.socket || !p->dsn.host ? 0 : (p->dsn.port ? p->dsn.port : 3306);
    ci->connection_id = c->thread_id;
    ci->tls = c->ssl != NULL;
}

void amy__observe_conn_opened(amy_pool *p, amy__conn *c)
{
    double took = ev_time() - c->born;
    amy__hist_add(&p->obs.hist[AMY_HIST_CONNECT], took);
    if (c->mysql) {
        const char *v = mysql_get_server_info(c->mysql);
        p->obs.mysql = v && !strstr(v, "MariaDB");
    }
    if (!p->obs.ops || !p->obs.ops->conn_opened)
        return;
    amy_conn_info ci;
    conn_fill(&ci, p, c);
    ci.connect_seconds = took;
    p->obs.ops->conn_opened(p->obs.arg, &ci);
}

void amy__observe_conn_failed(amy_pool *p, amy__conn *c)
{
    if (!p->obs.ops || !p->obs.ops->conn_failed)
        return;
    amy_conn_info ci;
    conn_fill(&ci, p, c);
    ci.connection_id = 0;
    ci.connect_seconds = ev_time() - c->born;
    ci.status = AMY_ECONNECT;
    ci.server_errno = c->err_no;
    ci.error = c->err_msg;
    p->obs.ops->conn_failed(p->obs.arg, &ci);
}

void amy__observe_conn_closed(amy_pool *p, amy__conn *c, int reason)
{
    if (!p->obs.ops || !p->obs.ops->conn_closed)
        return;
    amy_conn_info ci;
    conn_fill(&ci, p, c);
    ci.close_reason = reason;
    if (reason == AMY_CLOSE_BROKEN || reason == AMY_CLOSE_SERVER) {
        ci.status = c->close_status;
        ci.server_errno = c->close_errno;
        ci.error = c->close_msg[0] ? c->close_msg : NULL;
    }
    p->obs.ops->conn_closed(p->obs.arg, &ci);
}
