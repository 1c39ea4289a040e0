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

void amy__observe_init(amy__observe *o, struct ev_loop *loop)
{
    o->loop = loop;
    o->address = "";
    o->db = "";
    amy__list_init(&o->live);
    amy__list_init(&o->due);
    ev_timer_init(&o->tell, tell_cb, 0., 0.);
    o->tell.data = o;
}

void amy__observe_server(amy__observe *o, const char *address, unsigned port,
                         const char *db)
{
    o->address = address ? address : "";
    o->port = port;
    o->db = db ? db : "";
}

/* ------------------------------------------------------------------------ */
/* Histograms                                                               */
/* ------------------------------------------------------------------------ */

uint64_t amy__observe_histogram(const amy__observe *o, int which,
                                const double *bounds, size_t nbounds,
                                uint64_t *counts)
{
    if (!bounds || !counts || which < 0 || which > AMY_HIST_CONNECT)
        return 0;
    return amy__hist_buckets(&o->hist[which], bounds, nbounds, counts);
}

double amy__observe_percentile(const amy__observe *o, int which, double pct)
{
    if (which < 0 || which > AMY_HIST_CONNECT || !(pct > 0) || pct > 100)
        return -1;
    const amy__hist *h = &o->hist[which];
    return h->n ? (double)amy__hist_percentile(h, pct) / 1e6 : 0;
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

void amy__observe_set(amy__observe *o, const amy_observer *ops, void *arg)
{
    o->ops = ops;
    o->arg = arg;
}

void amy__observe_made(amy__observe *o, amy_future *f)
{
    /* The record came in the future's allocation (amy__future_new). */
    if (f->obs) {
        f->obs->o = o;
        amy__list_push_back(&o->live, &f->obs->live);
    }
}

void amy__observe_forget(amy_future *f)
{
    if (f && f->obs) {
        amy__list_remove(&f->obs->live);
        amy__list_remove(&f->obs->due);
        f->obs->ended = 1;
    }
}

void amy__observe_sent(amy__observe *o, amy__conn *c, amy_future *f)
{
    ev_tstamp now = ev_time();
    amy__hist_add(&o->hist[AMY_HIST_QUEUE_WAIT], now - f->queued_at);
    amy__qobs *r = f->obs;
    if (!r || !amy__link_linked(&r->live) || r->started)
        return;
    r->sent_at = now;
    r->conn_id = c->thread_id;
    r->server = c->cfg;
    amy__list_remove(&r->due);
    amy__list_push_back(&o->due, &r->due);
    if (!ev_is_active(&o->tell))
        ev_timer_start(o->loop, &o->tell);
}

void amy__observe_settled(amy__observe *o, amy_future *f)
{
    amy__hist_add(&o->hist[AMY_HIST_DURATION], ev_time() - f->queued_at);
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

static void fill(amy_query_info *q, const amy__observe *ob, amy_future *f)
{
    const amy__qobs *o = f->obs;
    memset(q, 0, sizeof *q);
    q->future = f;
    q->kind = kind_of(f);
    q->sql = f->sql;
    q->sql_len = f->sql_len;
    q->nparams = f->nparams;
    q->db_system = ob->mysql ? "mysql" : "mariadb";
    /* The host of the connection that ran it; a query never sent: the
     * first host's. */
    q->server_address = o->server ? o->server->server_name : ob->address;
    q->server_port = o->server ? o->server->server_port : ob->port;
    q->db_namespace = ob->db;
    q->connection_id = o->conn_id;
    q->submitted_at = f->queued_at;
    q->sent_at = o->sent_at;
    q->sqlstate = "00000";
    q->status_code = "";
}

static void tell_start(amy__observe *ob, amy_future *f)
{
    amy__qobs *o = f->obs;
    amy__list_remove(&o->due);
    if (o->started)
        return;
    o->started = 1;
    if (!ob->ops || !ob->ops->query_start)
        return;
    amy_query_info q;
    fill(&q, ob, f);
    ob->ops->query_start(ob->arg, &q);
}

static void tell_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy__observe *ob = w->data;
    amy__link *l;
    /* A start told may make more due (the observer started queries): they
     * join the walk. */
    while ((l = amy__list_first(&ob->due))) {
        amy__qobs *o = AMY__CONTAINER(l, amy__qobs, due);
        amy__list_remove(l);
        tell_start(ob, o->f); /* alive: its record is still linked */
    }
}

static void tell_end(amy__observe *ob, amy_future *f)
{
    amy__qobs *o = f->obs;
    tell_start(ob, f);
    amy__list_remove(&o->live);
    o->ended = 1;
    if (!ob->ops || !ob->ops->query_end)
        return;
    amy_query_info q;
    fill(&q, ob, f);
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
    ob->ops->query_end(ob->arg, &q);
}

void amy__observe_notified(amy_future *f)
{
    amy__qobs *o = f->obs;
    if (o->ended || !amy__link_linked(&o->live))
        return; /* told already, or never observed (a tag only) */
    tell_end(o->o, f);
}

void amy__observe_free(amy__observe *o)
{
    amy__link *l;
    while ((l = amy__list_first(&o->live))) {
        amy__qobs *r = AMY__CONTAINER(l, amy__qobs, live);
        tell_end(o, r->f);
    }
    if (ev_is_active(&o->tell))
        ev_timer_stop(o->loop, &o->tell);
    for (int i = 0; i < 3; i++)
        amy__hist_free(&o->hist[i]);
}

/* ------------------------------------------------------------------------ */
/* Connections                                                              */
/* ------------------------------------------------------------------------ */

static void conn_fill(amy_conn_info *ci, const amy__observe *o,
                      const amy__conn *c)
{
    memset(ci, 0, sizeof *ci);
    ci->server_address = c->cfg->server_name ? c->cfg->server_name : o->address;
    ci->server_port = c->cfg->server_name ? c->cfg->server_port : o->port;
    ci->connection_id = c->thread_id;
    ci->tls = c->ssl != NULL;
}

void amy__observe_conn_opened(amy__observe *o, amy__conn *c)
{
    double took = ev_time() - c->born;
    amy__hist_add(&o->hist[AMY_HIST_CONNECT], took);
    if (c->mysql) {
        const char *v = mysql_get_server_info(c->mysql);
        o->mysql = v && !strstr(v, "MariaDB");
    }
    if (!o->ops || !o->ops->conn_opened)
        return;
    amy_conn_info ci;
    conn_fill(&ci, o, c);
    ci.connect_seconds = took;
    o->ops->conn_opened(o->arg, &ci);
}

void amy__observe_conn_failed(amy__observe *o, amy__conn *c)
{
    if (!o->ops || !o->ops->conn_failed)
        return;
    amy_conn_info ci;
    conn_fill(&ci, o, c);
    ci.connection_id = 0;
    ci.connect_seconds = ev_time() - c->born;
    ci.status = AMY_ECONNECT;
    ci.server_errno = c->err_no;
    ci.error = c->err_msg;
    o->ops->conn_failed(o->arg, &ci);
}

void amy__observe_conn_closed(amy__observe *o, amy__conn *c, int reason)
{
    if (!o->ops || !o->ops->conn_closed)
        return;
    amy_conn_info ci;
    conn_fill(&ci, o, c);
    ci.close_reason = reason;
    if (reason == AMY_CLOSE_BROKEN || reason == AMY_CLOSE_SERVER) {
        ci.status = c->close_status;
        ci.server_errno = c->close_errno;
        ci.error = c->close_msg[0] ? c->close_msg : NULL;
    }
    o->ops->conn_closed(o->arg, &ci);
}
