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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "future.h"
#include "pool.h"

static void kick_cb(struct ev_loop *loop, ev_prepare *w, int revents);
static void kick_idle_cb(struct ev_loop *loop, ev_idle *w, int revents);

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
    amy_pool *p = calloc(1, sizeof *p);
    if (!p) {
        set_err(errbuf, errlen, "out of memory");
        return NULL;
    }
    p->loop = loop;
    ev_prepare_init(&p->kick_watcher, kick_cb);
    p->kick_watcher.data = p;
    ev_idle_init(&p->kick_idle, kick_idle_cb);
    p->kick_idle.data = p;
    if (amy__dsn_parse(dsn, &p->dsn, errbuf, errlen) != 0) {
        free(p);
        return NULL;
    }
    if (resolve_host(p) != 0) {
        set_err(errbuf, errlen, "out of memory");
        amy_pool_free(p);
        return NULL;
    }
    return p;
}

/* ------------------------------------------------------------------------ */
/* Queue                                                                    */
/* ------------------------------------------------------------------------ */

static void enqueue(amy_pool *p, amy_future *f)
{
    f->where = AMY__W_QUEUED;
    f->qnext = NULL;
    f->qprev = p->qtail;
    if (p->qtail)
        p->qtail->qnext = f;
    else
        p->qhead = f;
    p->qtail = f;
    p->qlen++;
}

static void dequeue(amy_pool *p, amy_future *f)
{
    if (f->qprev)
        f->qprev->qnext = f->qnext;
    else
        p->qhead = f->qnext;
    if (f->qnext)
        f->qnext->qprev = f->qprev;
    else
        p->qtail = f->qprev;
    f->qnext = f->qprev = NULL;
    f->where = AMY__W_NONE;
    p->qlen--;
}

void amy__pool_detach(amy_future *f)
{
    if (f->where == AMY__W_QUEUED) {
        dequeue(f->pool, f);
    } else if (f->where == AMY__W_INFLIGHT) {
        /* The connection still reads the answer, then drops it. */
        f->slot->f = NULL;
        f->slot = NULL;
        f->where = AMY__W_NONE;
    }
}

/* Fails every queued future with the same error. */
static void fail_queue(amy_pool *p, int status, unsigned err,
                       const char *sqlstate, const char *msg)
{
    amy__donelist done = {0};
    while (p->qhead) {
        amy_future *f = p->qhead;
        dequeue(p, f);
        amy__future_set_error(f, status, err, sqlstate, msg);
        amy__donelist_settle(&done, f, NULL);
    }
    amy__donelist_notify(done);
}

amy_future *amy__pool_take(amy_pool *p, amy__conn *c)
{
    amy_future *f = p->qhead;
    if (!f || p->freeing)
        return NULL;
    if (c->count > 0) {
        if (c->count >= c->cap)
            return NULL;
        /* Bounded request bytes in flight: with large requests and large
         * answers both sides would otherwise block writing. */
        if (c->bytes + f->sql_len > p->dsn.pipeline_bytes)
            return NULL;
        if (p->qlen <= (size_t)p->nconnecting + p->nidle)
            return NULL;
    }
    dequeue(p, f);
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
    kick(p);
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
        if (p->resolve_error && p->qhead) {
            fail_queue(p, AMY_ECONNECT, 0, "HY000", p->resolve_error);
            continue;
        }
        for (unsigned guard = p->nidle; p->qhead && p->idle && guard; guard--)
            amy__conn_kick(p->idle);
        while (p->qlen > p->nconnecting && p->nconns < p->dsn.pool) {
            amy__conn *c = amy__conn_new(p);
            if (!c) {
                if (p->nconns == 0)
                    fail_queue(p, AMY_ENOMEM, 0, NULL,
                               "out of memory opening a connection");
                break;
            }
            link_conn(p, c);
        }
    } while (p->rekick);
    p->kicking = 0;
}

void amy__pool_on_ready(amy_pool *p, amy__conn *c)
{
    p->nconnecting--;
}

void amy__pool_on_dead(amy_pool *p, amy__conn *c)
{
    unlink_conn(p, c);
    if (c->connect_failed && p->nconns == 0 && p->qhead) {
        /* Nobody is left to serve the queue: it fails with the reason. */
        char msg[sizeof c->err_msg + 256];
        snprintf(msg, sizeof msg, "could not connect to %s: %s", p->endpoint,
                 c->err_msg);
        unsigned err = c->err_no;
        char sqlstate[6];
        memcpy(sqlstate, c->err_sqlstate, 6);
        amy__conn_free(c);
        fail_queue(p, AMY_ECONNECT, err, sqlstate, msg);
        return;
    }
    int was_ready = !c->connect_failed;
    amy__conn_free(c);
    /* A broken connection is replaced if work waits. A failed connect is
     * not retried at once: the other attempts in progress may still
     * succeed, and when the last fails the queue fails with it. */
    if (was_ready)
        schedule_kick(p);
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy_future *f = w->data;
    char msg[96];
    snprintf(msg, sizeof msg, "query timed out after %u ms",
             f->pool->dsn.query_timeout_ms);
    amy__pool_detach(f);
    amy__future_fail(f, AMY_ETIMEDOUT, 0, "HYT00", msg);
}

static amy_future *failed_future(amy_pool *p, int status, const char *msg)
{
    amy_future *f = amy__future_new_query(NULL, p ? p->loop : NULL, "", 0);
    if (f)
        amy__future_fail(f, status, 0, NULL, msg);
    return f;
}

amy_future *amy_query_len(amy_pool *p, const char *sql, size_t len)
{
    if (!p || !sql)
        return failed_future(p, AMY_EINVAL, p ? "sql is NULL" : "pool is NULL");
    if (len == 0)
        return failed_future(p, AMY_EINVAL, "empty SQL statement");
    if (len > 0xffffffffu)
        return failed_future(p, AMY_EINVAL, "SQL statement over 4 GiB");
    if (p->freeing)
        return failed_future(p, AMY_ECANCELED, "the pool is being freed");
    amy_future *f = amy__future_new_query(p, p->loop, sql, len);
    if (!f)
        return NULL;
    if (p->dsn.query_timeout_ms) {
        ev_timer_init(&f->deadline, deadline_cb,
                      p->dsn.query_timeout_ms / 1000.0, 0.);
        f->deadline.data = f;
        ev_timer_start(p->loop, &f->deadline);
    }
    enqueue(p, f);
    schedule_kick(p);
    return f;
}

amy_future *amy_query(amy_pool *p, const char *sql)
{
    return amy_query_len(p, sql, sql ? strlen(sql) : 0);
}

void amy_pool_free(amy_pool *p)
{
    if (!p)
        return;
    p->freeing = 1;
    ev_prepare_stop(p->loop, &p->kick_watcher);
    ev_idle_stop(p->loop, &p->kick_idle);
    while (p->conns) {
        amy__conn *c = p->conns;
        unlink_conn(p, c);
        amy__conn_destroy(c, AMY_ECANCELED);
    }
    fail_queue(p, AMY_ECANCELED, 0, NULL, "the pool was freed");
    amy__dsn_clear(&p->dsn);
    free(p->host);
    free(p->endpoint);
    free(p->resolve_error);
    free(p);
}
