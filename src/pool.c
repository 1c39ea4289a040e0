/*
 * The pool: futures wait in one FIFO queue; connections take from it.
 *
 * Connections open lazily: a kick opens another one (up to `pool`) while
 * more futures wait than connections being opened could take. An idle
 * connection is kicked at once when work arrives. A busy connection takes
 * more work (pipelining) only while the queue is longer than what the idle
 * and connecting connections will take, so a burst spreads over connections
 * before it piles up behind one.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "future.h"
#include "params.h"
#include "pin.h"
#include "pool.h"
#include "result.h"
#include "stmt.h"

static void kick_cb(struct ev_loop *loop, ev_prepare *w, int revents);
static void kick_idle_cb(struct ev_loop *loop, ev_idle *w, int revents);
static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void schedule_kick(amy_pool *p);
static void arm_retry(amy_pool *p);
static void idle_sweep_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* Kicks in progress on this thread (the loop's thread), any pool. */
static _Thread_local unsigned in_kick;

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static int library_rc;

/* mysql_library_init is not thread-safe; mysql_init would call it lazily. */
static void library_init(void)
{
    library_rc = mysql_library_init(0, NULL, NULL);
}

static void set_err(char *errbuf, size_t errlen, const char *msg)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s", msg);
}

/* The connector would run getaddrinfo inside every connect, blocking the
 * loop; names are resolved here once and the connector gets an address. */
static int resolve_host(amy_pool *p)
{
    const amy__dsn *d = &p->dsn;
    char buf[512];
    if (d->socket || !d->host || !strcmp(d->host, "localhost")) {
        p->host = strdup("localhost");
        p->endpoint = strdup(d->socket ? d->socket : "the default Unix socket");
        return p->host && p->endpoint ? 0 : -1;
    }
    snprintf(buf, sizeof buf, "%s%s%s:%u", strchr(d->host, ':') ? "[" : "",
             d->host, strchr(d->host, ':') ? "]" : "",
             d->port ? d->port : 3306u);
    p->endpoint = strdup(buf);
    if (!p->endpoint)
        return -1;

    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    int rc = getaddrinfo(d->host, NULL, &hints, &ai);
    if (rc != 0) {
        hints.ai_flags = AI_ADDRCONFIG;
        rc = getaddrinfo(d->host, NULL, &hints, &ai);
    }
    if (rc != 0) {
        snprintf(buf, sizeof buf, "could not resolve host '%s': %s", d->host,
                 gai_strerror(rc));
        p->resolve_error = strdup(buf);
        return p->resolve_error ? 0 : -1;
    }
    char ip[INET6_ADDRSTRLEN] = "";
    if (ai->ai_family == AF_INET6)
        inet_ntop(AF_INET6,
                  &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr, ip,
                  sizeof ip);
    else
        inet_ntop(AF_INET,
                  &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, ip,
                  sizeof ip);
    freeaddrinfo(ai);
    p->host = strdup(ip);
    return p->host ? 0 : -1;
}

/* A zeroed pool with its watchers ready; NULL on ENOMEM. */
static amy_pool *pool_alloc(struct ev_loop *loop)
{
    amy_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = loop;
    ev_prepare_init(&p->kick_watcher, kick_cb);
    p->kick_watcher.data = p;
    ev_idle_init(&p->kick_idle, kick_idle_cb);
    p->kick_idle.data = p;
    ev_init(&p->retry_timer, retry_cb);
    p->retry_timer.data = p;
    ev_init(&p->idle_sweep, idle_sweep_cb);
    p->idle_sweep.data = p;
    p->rng = (unsigned)(uintptr_t)p ^ (unsigned)(ev_time() * 1e6);
    return p;
}

amy_pool *amy_pool_new(struct ev_loop *loop, const char *dsn, char *errbuf,
                       size_t errlen)
{
    if (!loop || !dsn) {
        set_err(errbuf, errlen, loop ? "dsn is NULL" : "loop is NULL");
        return NULL;
    }
    pthread_once(&library_once, library_init);
    if (library_rc) {
        set_err(errbuf, errlen, "mysql_library_init failed");
        return NULL;
    }
    amy_pool *p = pool_alloc(loop);
    if (!p) {
        set_err(errbuf, errlen, "out of memory");
        return NULL;
    }
    if (amy__dsn_parse(dsn, &p->dsn, errbuf, errlen) != 0) {
        free(p);
        return NULL;
    }
    p->dsn_text = strdup(dsn);
    if (!p->dsn_text || resolve_host(p) != 0) {
        set_err(errbuf, errlen, "out of memory");
        amy_pool_free(p);
        return NULL;
    }
    if (p->dsn.idle_timeout_ms) {
        double every = p->dsn.idle_timeout_ms / 4000.0;
        ev_timer_set(&p->idle_sweep, every < 0.01 ? 0.01 : every,
                     every < 0.01 ? 0.01 : every);
        ev_timer_start(loop, &p->idle_sweep);
        ev_unref(loop); /* housekeeping must not keep ev_run from returning */
    }
    return p;
}

/* The pool that sends KILL QUERY: same server and credentials, one
 * connection, no pipelining (a KILL must not wait behind a slow query). */
amy_pool *amy__pool_new_control(amy_pool *p)
{
    amy_pool *c = pool_alloc(p->loop);
    if (!c)
        return NULL;
    c->is_control = 1;
    if (amy__dsn_parse(p->dsn_text, &c->dsn, NULL, 0) != 0) {
        free(c);
        return NULL;
    }
    c->dsn.pool = 1;
    c->dsn.pipeline = 1;
    c->dsn.query_timeout_ms = 0;
    c->dsn.queue_max = 0;
    c->dsn.idle_timeout_ms = 0;
    c->host = strdup(p->host);
    c->endpoint = strdup(p->endpoint);
    if (!c->host || !c->endpoint) {
        amy_pool_free(c);
        return NULL;
    }
    return c;
}

/* ------------------------------------------------------------------------ */
/* Queue                                                                    */
/* ------------------------------------------------------------------------ */

void amy__pool_detach(amy_future *f)
{
    if (f->where == AMY__W_QUEUED) {
        amy__queue_remove(f);
    } else if (f->where == AMY__W_INFLIGHT) {
        /* The connection still reads the answer, then drops it; the
         * statement is killed on the server. */
        amy__slot *s = f->slot;
        amy__conn *c = f->conn;
        f->slot = NULL;
        f->conn = NULL;
        f->where = AMY__W_NONE;
        amy__conn_detach(c, s);
    }
}

void amy__pool_requeue(amy_pool *p, amy_future *f)
{
    /* A pinned connection's query stays on that connection. */
    amy__queue_push_front(f->pin ? &f->pin->q : &p->q, f);
    p->stats.retried++;
    schedule_kick(p);
}

void amy__pool_count(amy_pool *p, int status)
{
    /* A future that resolves inside a kick (its answer was already there,
     * or a callback of any pool's kick canceled it) resolves while the loop
     * runs prepare watchers: whoever runs the loop may be waiting for it,
     * and the poll that follows must not block. The idle watcher keeps it
     * from blocking, once. */
    if (in_kick && !p->freeing)
        ev_idle_start(p->loop, &p->kick_idle);
    switch (status) {
    case AMY_OK:
        p->stats.completed++;
        break;
    case AMY_ETIMEDOUT:
        p->stats.timed_out++;
        break;
    case AMY_ECANCELED:
        p->stats.canceled++;
        break;
    default:
        p->stats.failed++;
    }
}

int amy_pool_stats(const amy_pool *p, amy_stats *out)
{
    if (!p || !out)
        return AMY_EINVAL;
    *out = p->stats;
    out->conns_connecting = p->nconnecting;
    out->conns_open = p->nconns - p->nconnecting;
    out->conns_idle = p->nidle;
    out->conns_busy = out->conns_open - p->nidle;
    out->queued = p->q.len;
    out->in_flight = 0;
    out->stmts_open = 0;
    for (const amy__conn *c = p->conns; c; c = c->next) {
        out->in_flight += c->count;
        out->stmts_open += amy__stmt_open(c);
    }
    return AMY_OK;
}

/* Fails every queued future with the same error. */
static void fail_queue(amy_pool *p, int status, unsigned err,
                       const char *sqlstate, const char *msg)
{
    amy__donelist done = {0};
    while (p->q.head) {
        amy_future *f = p->q.head;
        amy__queue_remove(f);
        amy__future_set_error(f, status, err, sqlstate, msg);
        amy__donelist_settle(&done, f, NULL);
    }
    amy__donelist_notify(done);
}

amy_future *amy__pool_take(amy_pool *p, amy__conn *c)
{
    if (c->pin)
        return p->freeing ? NULL : amy__pin_take(c);
    amy_future *f = p->q.head;
    if (!f || p->freeing)
        return NULL;
    /* A stream has its connection to itself: it starts on an empty one,
     * and nothing follows it until its rows are read. */
    if (c->count > 0 && (c->ring[c->head].stream || c->ring[c->head].exec))
        return NULL;
    if (f->acquire || f->stream || f->exec) {
        /* Pinned only with nothing in flight too: its queries must not
         * wait behind, or be mixed with, another caller's. */
        if (c->count > 0)
            return NULL;
        amy__queue_remove(f);
        return f;
    }
    if (c->count > 0) {
        if (c->count >= c->cap)
            return NULL;
        /* Bounded request bytes in flight: with large requests and large
         * answers both sides would otherwise block writing. */
        if (c->bytes + f->sql_len > p->dsn.pipeline_bytes)
            return NULL;
        if (p->q.len <= (size_t)p->nconnecting + p->nidle)
            return NULL;
    }
    amy__queue_remove(f);
    return f;
}

/* ------------------------------------------------------------------------ */
/* Connections                                                              */
/* ------------------------------------------------------------------------ */

void amy__pool_set_idle(amy_pool *p, amy__conn *c, int idle)
{
    if (idle == c->in_idle)
        return;
    if (idle) {
        c->idle_prev = NULL;
        c->idle_next = p->idle;
        if (p->idle)
            p->idle->idle_prev = c;
        p->idle = c;
        p->nidle++;
    } else {
        if (c->idle_prev)
            c->idle_prev->idle_next = c->idle_next;
        else
            p->idle = c->idle_next;
        if (c->idle_next)
            c->idle_next->idle_prev = c->idle_prev;
        c->idle_next = c->idle_prev = NULL;
        p->nidle--;
    }
    c->in_idle = (unsigned char)idle;
}

static void link_conn(amy_pool *p, amy__conn *c)
{
    c->serial = ++p->next_serial;
    c->prev = NULL;
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    p->nconns++;
    p->nconnecting++;
}

static void unlink_conn(amy_pool *p, amy__conn *c)
{
    amy__pool_set_idle(p, c, 0);
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    p->nconns--;
    if (c->state == AMY__C_CONNECTING || c->connect_failed)
        p->nconnecting--;
}

static void kick(amy_pool *p);

static void run_kick(amy_pool *p)
{
    ev_prepare_stop(p->loop, &p->kick_watcher);
    ev_idle_stop(p->loop, &p->kick_idle);
    in_kick++;
    kick(p);
    in_kick--;
}

static void kick_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    run_kick(w->data);
}

static void kick_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    run_kick(w->data);
}

/*
 * Work is handed out just before the loop next polls, not at each
 * amy_query: a burst of queries submitted together then goes out together,
 * filling the pipelines, instead of the first one being sent alone while
 * the rest wait behind its answer.
 *
 * A prepare watcher started while the loop is already running prepare
 * watchers (a callback of another pool's kick queued this query) would only
 * run after the next poll, which may block for long. The idle watcher
 * started with it keeps that poll from blocking.
 */
static void schedule_kick(amy_pool *p)
{
    if (p->kicking) {
        p->rekick = 1; /* the running kick loops once more */
        return;
    }
    if (!ev_is_active(&p->kick_watcher)) {
        ev_prepare_start(p->loop, &p->kick_watcher);
        ev_idle_start(p->loop, &p->kick_idle);
    }
}

void amy__pool_schedule_kick(amy_pool *p)
{
    schedule_kick(p);
}

static void kick(amy_pool *p)
{
    if (p->kicking) {
        p->rekick = 1; /* a callback queued more: the outer kick loops */
        return;
    }
    p->kicking = 1;
    do {
        p->rekick = 0;
        if (p->freeing)
            break;
        if (p->resolve_error && p->q.head) {
            fail_queue(p, AMY_ECONNECT, 0, "HY000", p->resolve_error);
            continue;
        }
        for (unsigned guard = p->nidle; p->q.head && p->idle && guard; guard--)
            amy__conn_kick(p->idle);
        /* Pinned connections with work of their own, or released. */
        for (amy__conn *c = p->npinned ? p->conns : NULL; c;) {
            amy__conn *next = c->next;
            if (c->pin && c->count == 0 && (c->pin->q.head || c->pin->released))
                amy__conn_kick(c);
            c = next;
        }
        /* During an outage new attempts wait for the backoff (retry_cb). */
        if (p->attempts && ev_now(p->loop) < p->backoff_until) {
            if (p->nconns == 0)
                arm_retry(p);
            continue;
        }
        while (p->q.len > p->nconnecting && p->nconns < p->dsn.pool) {
            amy__conn *c = amy__conn_new(p);
            if (!c) {
                if (p->nconns == 0)
                    fail_queue(p, AMY_ENOMEM, 0, NULL,
                               "out of memory opening a connection");
                break;
            }
            link_conn(p, c);
            if (p->reopen) {
                p->reopen--;
                p->stats.reconnects++;
            }
        }
    } while (p->rekick);
    p->kicking = 0;
}

void amy__pool_on_ready(amy_pool *p, amy__conn *c)
{
    p->nconnecting--;
    p->attempts = 0;
    ev_timer_stop(p->loop, &p->retry_timer);
}

/* Connect errors that retrying cannot fix: fail the queue at once. */
static int connect_error_is_permanent(unsigned e)
{
    switch (e) {
    case 1040: /* too many connections */
    case 1041: /* out of memory */
    case 1053: /* shutdown in progress */
    case 1129: /* host blocked: an admin may flush it */
    case 1152: /* aborted connection */
    case 1158: /* network errors ... */
    case 1159:
    case 1160:
    case 1161:
    case 1203: /* max_user_connections */
    case 1226: /* resource limit */
        return 0;
    }
    return (e >= 1000 && e < 2000) || e == 2059 /* auth plugin */;
}

/* Fails the futures that have waited connect_timeout_ms for a connection
 * while none could be opened. Returns the oldest remaining wait's expiry. */
static ev_tstamp expire_queue(amy_pool *p)
{
    if (!p->dsn.connect_timeout_ms || p->nconns > p->nconnecting)
        return 0;
    ev_tstamp limit = p->dsn.connect_timeout_ms / 1000.0;
    ev_tstamp now = ev_now(p->loop);
    amy__donelist done = {0};
    while (p->q.head && now - p->q.head->queued_at >= limit) {
        amy_future *f = p->q.head;
        amy__queue_remove(f);
        amy__future_set_error(f, AMY_ECONNECT, p->last_err_no, p->last_sqlstate,
                              p->last_error);
        amy__donelist_settle(&done, f, NULL);
    }
    ev_tstamp next = p->q.head ? p->q.head->queued_at + limit : 0;
    amy__donelist_notify(done);
    return next;
}

/* Arms the retry timer for the next attempt or the next expiry. */
static void arm_retry(amy_pool *p)
{
    ev_timer_stop(p->loop, &p->retry_timer);
    if (!p->q.head || p->freeing)
        return;
    ev_tstamp now = ev_now(p->loop);
    ev_tstamp at = p->backoff_until;
    if (p->dsn.connect_timeout_ms && p->nconns == p->nconnecting) {
        ev_tstamp exp = p->q.head->queued_at + p->dsn.connect_timeout_ms / 1e3;
        if (exp < at)
            at = exp;
    }
    ev_timer_set(&p->retry_timer, at > now ? at - now : 0., 0.);
    ev_timer_start(p->loop, &p->retry_timer);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy_pool *p = w->data;
    expire_queue(p);
    if (!p->q.head)
        return;
    if (ev_now(loop) >= p->backoff_until)
        schedule_kick(p);
    else
        arm_retry(p);
}

static void connect_failed(amy_pool *p, amy__conn *c)
{
    p->stats.connect_failures++;
    p->reopen++;
    p->last_err_no = c->err_no;
    memcpy(p->last_sqlstate, c->err_sqlstate, 6);
    free(p->last_error);
    size_t n = strlen(p->endpoint) + strlen(c->err_msg) + 32;
    p->last_error = malloc(n);
    if (p->last_error)
        snprintf(p->last_error, n, "could not connect to %s: %s", p->endpoint,
                 c->err_msg);
    if (p->nconns > p->nconnecting)
        return; /* the open connections serve the queue */
    if (connect_error_is_permanent(c->err_no)) {
        if (p->nconns == 0)
            fail_queue(p, AMY_ECONNECT, p->last_err_no, p->last_sqlstate,
                       p->last_error);
        return;
    }
    /* Exponential backoff with jitter: 50 ms, 100 ms, ... up to 5 s, each
     * drawn from its upper half so that many clients do not retry in step. */
    p->attempts++;
    double delay = 0.05 * (double)(1u << (p->attempts < 8 ? p->attempts : 8));
    if (delay > 5.0)
        delay = 5.0;
    p->rng = p->rng * 1103515245u + 12345u;
    delay *= 0.5 + 0.5 * (double)(p->rng >> 8) / (double)(1u << 24);
    p->backoff_until = ev_now(p->loop) + delay;
    expire_queue(p);
    if (p->nconns == 0)
        arm_retry(p);
}

void amy__pool_on_dead(amy_pool *p, amy__conn *c)
{
    unlink_conn(p, c);
    if (c->connect_failed) {
        connect_failed(p, c);
        amy__conn_free(c);
        return;
    }
    amy__conn_free(c);
    /* A connection that broke is replaced if work waits. */
    p->reopen++;
    schedule_kick(p);
}

static void idle_sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy_pool *p = w->data;
    ev_tstamp cutoff = ev_now(loop) - p->dsn.idle_timeout_ms / 1000.0;
    amy__conn *c = p->idle;
    while (c) {
        amy__conn *next = c->idle_next;
        if (c->idle_since <= cutoff) {
            unlink_conn(p, c);
            amy__conn_destroy(c, AMY_ECANCELED); /* nothing in flight */
        }
        c = next;
    }
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy__future_expire(w->data);
}

int amy_future_set_timeout(amy_future *f, unsigned timeout_ms)
{
    if (!f || f->status != AMY_PENDING || f->kind != AMY__F_QUERY || !f->pool)
        return AMY_EINVAL;
    if (ev_is_active(&f->deadline))
        ev_timer_stop(f->loop, &f->deadline);
    f->timeout_ms = timeout_ms;
    if (timeout_ms) {
        ev_now_update(f->loop); /* see amy__conn_new: a stale now */
        ev_timer_init(&f->deadline, deadline_cb, timeout_ms / 1000.0, 0.);
        f->deadline.data = f;
        ev_timer_start(f->loop, &f->deadline);
    }
    return AMY_OK;
}

amy_future *amy__pool_failed(amy_pool *p, int status, const char *msg)
{
    amy_future *f = amy__future_new_query(NULL, p ? p->loop : NULL, "", 0);
    if (f)
        amy__future_fail(f, status, 0, NULL, msg);
    return f;
}

static amy_future *submit(amy_pool *p, amy_conn *h, const char *sql, size_t len,
                          const amy_value *params, size_t n, int acquire,
                          int exec, size_t ncols);

amy_future *amy__pool_submit(amy_pool *p, amy_conn *h, const char *sql,
                             size_t len, const amy_value *params, size_t n,
                             int acquire)
{
    return submit(p, h, sql, len, params, n, acquire, AMY__X_NONE, 0);
}

amy_future *amy__pool_submit_exec(amy_pool *p, amy_conn *h, const char *sql,
                                  size_t len, const amy_value *params, size_t n,
                                  int exec, size_t ncols)
{
    return submit(p, h, sql, len, params, n, 0, exec, ncols);
}

static amy_future *submit(amy_pool *p, amy_conn *h, const char *sql, size_t len,
                          const amy_value *params, size_t n, int acquire,
                          int exec, size_t ncols)
{
    if (!p || !sql)
        return amy__pool_failed(p, AMY_EINVAL,
                                p ? "sql is NULL" : "pool is NULL");
    if (len == 0 && !acquire)
        return amy__pool_failed(p, AMY_EINVAL, "empty SQL statement");
    if (len > 0xffffffffu)
        return amy__pool_failed(p, AMY_EINVAL, "SQL statement over 4 GiB");
    if (p->freeing)
        return amy__pool_failed(p, AMY_ECANCELED, "the pool is being freed");
    if (!h && p->dsn.queue_max && p->q.len >= p->dsn.queue_max) {
        p->stats.failed++;
        return amy__pool_failed(p, AMY_EQUEUEFULL,
                                "the pool's queue is full "
                                "(queue_max)");
    }
    if (n && !params)
        return amy__pool_failed(p, AMY_EINVAL, "params is NULL");
    if ((n || params) && !exec) { /* src/stmt.c checked its own */
        size_t want = amy__params_count(sql, len);
        if (want != n) {
            char msg[128];
            snprintf(msg, sizeof msg,
                     "the statement has %zu placeholders but %zu parameters "
                     "were given",
                     want, n);
            return amy__pool_failed(p, AMY_EINVAL, msg);
        }
    }
    amy_future *f = amy__future_new_params(p, p->loop, sql, len, params, n);
    if (!f)
        return NULL;
    f->acquire = (unsigned char)acquire;
    f->exec = (unsigned char)exec;
    f->ncols = (uint16_t)ncols;
    f->pin = h;
    if (exec == AMY__X_BATCH && n == 0) {
        /* No rows: nothing to send, 0 rows inserted. */
        amy_result *r = amy__result_ok(0, 0);
        if (!r)
            amy__future_set_error(f, AMY_ENOMEM, 0, NULL, NULL);
        amy__future_resolve(f, r);
        return f;
    }
    if (p->dsn.query_timeout_ms && !acquire)
        amy_future_set_timeout(f, p->dsn.query_timeout_ms);
    f->queued_at = ev_time(); /* not ev_now: it may be stale here */
    amy__queue_push(h ? &h->q : &p->q, f);
    schedule_kick(p);
    return f;
}

amy_future *amy_query_len(amy_pool *p, const char *sql, size_t len)
{
    return amy__pool_submit(p, NULL, sql, len, NULL, 0, 0);
}

amy_future *amy_query(amy_pool *p, const char *sql)
{
    return amy__pool_submit(p, NULL, sql, sql ? strlen(sql) : 0, NULL, 0, 0);
}

amy_future *amy_query_params(amy_pool *p, const char *sql,
                             const amy_value *params, size_t n)
{
    return amy__pool_submit(p, NULL, sql, sql ? strlen(sql) : 0, params, n, 0);
}

void amy_pool_free(amy_pool *p)
{
    if (!p)
        return;
    p->freeing = 1;
    amy__pool_kill_free(p);
    ev_prepare_stop(p->loop, &p->kick_watcher);
    ev_idle_stop(p->loop, &p->kick_idle);
    ev_timer_stop(p->loop, &p->retry_timer);
    if (ev_is_active(&p->idle_sweep)) {
        ev_ref(p->loop);
        ev_timer_stop(p->loop, &p->idle_sweep);
    }
    while (p->conns) {
        amy__conn *c = p->conns;
        unlink_conn(p, c);
        amy__conn_destroy(c, AMY_ECANCELED);
    }
    fail_queue(p, AMY_ECANCELED, 0, NULL, "the pool was freed");
    amy__pin_pool_gone(p);
    amy__dsn_clear(&p->dsn);
    free(p->host);
    free(p->endpoint);
    free(p->resolve_error);
    free(p->last_error);
    free(p->dsn_text);
    free(p);
}
