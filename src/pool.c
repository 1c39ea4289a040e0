/*
 * The pool: futures wait in one FIFO queue; connections take from it.
 *
 * Connections open lazily: a kick opens another one (up to `pool`) while
 * more futures wait than connections being opened could take. An idle
 * connection is kicked at once when work arrives. A busy connection takes
 * more work (pipelining) only while the queue is longer than what the idle
 * and connecting connections will take, so a burst spreads over connections
 * before it piles up behind one.
 *
 * The pool owns its connections (owner.h: amy__pool_owner below). A pinned
 * handle (pin.c) borrows one: the pool still lists it (stats, teardown) but
 * neither idles nor feeds it; the handle gives it back when done.
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
#include "kill.h"
#include "list.h"
#include "op.h"
#include "owner.h"
#include "params.h"
#include "pool.h"
#include "queue.h"
#include "result.h"
#include "stmt.h"
#include "turns.h"

static void kick_cb(struct ev_loop *loop, ev_prepare *w, int revents);
static void kick_idle_cb(struct ev_loop *loop, ev_idle *w, int revents);
static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void schedule_kick(amy_pool *p);
static void arm_retry(amy_pool *p);
static void idle_sweep_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void role_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void dns_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

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

/* A zeroed pool with its watchers ready; NULL on ENOMEM. */
static amy_pool *pool_alloc(struct ev_loop *loop)
{
    amy_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->loop = loop;
    amy__list_init(&p->conns);
    amy__list_init(&p->idle);
    amy__list_init(&p->leases);
    amy__queue_init(&p->q);
    ev_prepare_init(&p->kick_watcher, kick_cb);
    p->kick_watcher.data = p;
    ev_idle_init(&p->kick_idle, kick_idle_cb);
    p->kick_idle.data = p;
    ev_init(&p->retry_timer, retry_cb);
    p->retry_timer.data = p;
    ev_init(&p->idle_sweep, idle_sweep_cb);
    p->idle_sweep.data = p;
    ev_init(&p->role_timer, role_timer_cb);
    p->role_timer.data = p;
    ev_init(&p->dns_timer, dns_timer_cb);
    p->dns_timer.data = p;
    amy__observe_init(&p->obs, loop);
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
    const amy__dsn *d = &p->dsn;
    const MARIADB_CHARSET_INFO *cs = mariadb_get_charset_by_name(
        d->charset ? d->charset : AMY__DSN_DEFAULT_CHARSET);
    if (!cs) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "invalid value for 'charset': \"%.64s\" is not a character "
                 "set the client library knows",
                 d->charset);
        set_err(errbuf, errlen, msg);
        amy_pool_free(p);
        return NULL;
    }
    p->mbchar = cs->char_maxlen > 1 ? cs->mb_valid : NULL;
    if (amy__tls_check(d, &p->tls, errbuf, errlen) != 0) {
        amy_pool_free(p);
        return NULL;
    }
    if (amy__auth_list(d->auth_plugins, p->tls.mode >= AMY__SSL_VERIFY_CA,
                       p->auth, errbuf, errlen) != 0) {
        amy_pool_free(p);
        return NULL;
    }
    if (p->tls.mode != AMY__SSL_DISABLED &&
        !(p->dialer = amy__dialer_new(loop))) {
        set_err(errbuf, errlen, "out of memory");
        amy_pool_free(p);
        return NULL;
    }
    /* The settings every connection shares; each host (hosts.c) adds its
     * own address, port, endpoint and TLS name. */
    amy__turns_init(&p->turns, loop);
    p->cfg = (amy__conn_cfg){
        .user = d->user,
        .password = d->password,
        .database = d->database,
        .socket = d->socket,
        .port = d->port,
        .charset = d->charset ? d->charset : AMY__DSN_DEFAULT_CHARSET,
        .init = d->init,
        .ninit = d->ninit,
        .multi_statements = d->multi_statements,
        .pipeline = d->pipeline,
        .pipeline_bytes = d->pipeline_bytes,
        .read_coalesce_us = d->read_coalesce_us,
        .connect_timeout_ms = d->connect_timeout_ms,
        .kill_grace_ms = d->kill_grace_ms,
        .auth_plugins = p->auth,
        .stmt_cache = d->stmt_cache,
        .max_result_bytes = d->max_result_bytes,
        .stats = &p->stats,
        .tls = &p->tls,
        .dialer = p->dialer,
        .turns = &p->turns,
    };
    if (amy__hosts_init(&p->hosts, d, &p->cfg,
                        p->tls.mode == AMY__SSL_VERIFY_IDENTITY) != 0) {
        set_err(errbuf, errlen, "out of memory");
        amy_pool_free(p);
        return NULL;
    }
    /* A query never sent is the first host's (hosts.c names each host as
     * server.address: the DSN's name, or the socket's path). */
    amy__observe_server(&p->obs, p->hosts.h[0].cfg.server_name,
                        p->hosts.h[0].cfg.server_port, d->database);
    unsigned named = 0;
    for (unsigned i = 0; i < p->hosts.n; i++)
        named += p->hosts.h[i].named;
    if (named) {
        /* Names are looked up on the loop (c-ares), never inside a
         * connect: a lookup gets a third of connect_timeout_ms (at most
         * 2 s) and two tries. */
        unsigned t = d->connect_timeout_ms ? d->connect_timeout_ms / 3 : 2000;
        amy__resolver_cfg rc = {
            .servers = d->dns_servers,
            .ttl_ms = d->dns_ttl_ms,
            .timeout_ms = t < 100    ? 100
                          : t > 2000 ? 2000
                                     : t,
            .tries = 2,
        };
        char rerr[256];
        p->resolver = amy__resolver_new(loop, &rc, rerr, sizeof rerr);
        p->dnsargs = calloc(p->hosts.n, sizeof *p->dnsargs);
        if (!p->resolver || !p->dnsargs) {
            set_err(errbuf, errlen, p->resolver ? "out of memory" : rerr);
            amy_pool_free(p);
            return NULL;
        }
        for (unsigned i = 0; i < p->hosts.n; i++)
            p->dnsargs[i] = (struct amy__dnsarg){p, i};
        /* At half the TTL: a move is seen within 1.5 x dns_ttl_ms (an
         * answer may still be fresh at one tick). */
        double every = d->dns_ttl_ms / 2000.0;
        ev_timer_set(&p->dns_timer, every, every);
        ev_timer_start(loop, &p->dns_timer);
        ev_unref(loop); /* housekeeping must not keep ev_run from returning */
    }
    p->roles = (unsigned char)amy__hosts_need_roles(&p->hosts);
    if (p->roles && d->role_check_ms) {
        double every = d->role_check_ms / 1000.0;
        ev_timer_set(&p->role_timer, every, every);
        ev_timer_start(loop, &p->role_timer);
        ev_unref(loop); /* housekeeping must not keep ev_run from returning */
    }
    /* The sweep closes idle connections that sat idle_timeout_ms, or
     * outlived max_lifetime_ms, within a quarter of the shorter. */
    unsigned span = p->dsn.idle_timeout_ms;
    if (p->dsn.max_lifetime_ms && (!span || p->dsn.max_lifetime_ms < span))
        span = p->dsn.max_lifetime_ms;
    if (span) {
        double every = span / 4000.0;
        ev_timer_set(&p->idle_sweep, every < 0.01 ? 0.01 : every,
                     every < 0.01 ? 0.01 : every);
        ev_timer_start(loop, &p->idle_sweep);
        ev_unref(loop); /* housekeeping must not keep ev_run from returning */
    }
    return p;
}

/* ------------------------------------------------------------------------ */
/* Queue                                                                    */
/* ------------------------------------------------------------------------ */

/* Counts a query future of the pool that just settled. */
static void settled(amy_future *f)
{
    amy_pool *p = f->pool;
    /* A future that resolves inside a kick (its answer was already there,
     * or a callback of any pool's kick canceled it) resolves while the loop
     * runs prepare watchers: whoever runs the loop may be waiting for it,
     * and the poll that follows must not block. The idle watcher keeps it
     * from blocking, once. */
    if (in_kick && !p->freeing)
        ev_idle_start(p->loop, &p->kick_idle);
    amy__observe_settled(&p->obs, f);
    switch (f->status) {
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

/* close_status of a connection retired by max_lifetime_ms (idle()). */
#define AMY__CLOSE_EXPIRED 1

static unsigned serving(const amy_pool *p);

/*
 * Why a query of the pool was still waiting when its deadline passed: the
 * cause users otherwise never see (a connect error, every connection
 * pinned), not only "timed out". Written after "query timed out after N
 * ms"; the counts are the pool's at that moment.
 */
static void why_late(const amy_future *f, char *buf, size_t len)
{
    const amy_pool *p = f->pool;
    if (!p)
        return;
    if (f->where == AMY__W_INFLIGHT) {
        snprintf(buf, len, " (it had been sent to the server)");
        return;
    }
    if (f->where != AMY__W_QUEUED)
        return;
    if (f->queue != &p->q) {
        snprintf(buf, len,
                 ", queued on its pinned connection behind the "
                 "queries sent before it");
        return;
    }
    unsigned serve = serving(p), max = p->dsn.pool;
    int n = snprintf(
        buf, len,
        " waiting for a connection (%zu in the pool's queue): ", p->q.len);
    if (n < 0 || (size_t)n >= len)
        return;
    buf += n;
    len -= (size_t)n;
    if (p->nlent && p->nlent >= max)
        snprintf(buf, len,
                 "all %u of the pool's connections are pinned "
                 "(amy_pool_acquire) and none was released",
                 max);
    else if (serve == 0 && p->attempts && p->last_error)
        snprintf(buf, len,
                 "no connection could be opened; last connect error: %s",
                 p->last_error);
    else if (serve == 0 && p->nconnecting)
        snprintf(buf, len, "%u connection%s still connecting, %u pinned",
                 p->nconnecting, p->nconnecting == 1 ? "" : "s", p->nlent);
    else
        snprintf(buf, len,
                 "%u of %u connections serving, all busy; %u pinned, %u "
                 "connecting",
                 serve, max, p->nlent, p->nconnecting);
}

const amy__fops amy__pool_fops = {
    .detach = amy__conn_detach_future,
    .settled = settled,
    .notified = amy__observe_notified,
    .why_late = why_late,
    .timeouts = 1,
};

int amy_pool_set_observer(amy_pool *p, const amy_observer *ops, void *arg)
{
    if (!p)
        return AMY_EINVAL;
    amy__observe_set(&p->obs, ops, arg);
    return AMY_OK;
}

uint64_t amy_pool_histogram(const amy_pool *p, int which, const double *bounds,
                            size_t nbounds, uint64_t *counts)
{
    return p ? amy__observe_histogram(&p->obs, which, bounds, nbounds, counts)
             : 0;
}

double amy_pool_percentile(const amy_pool *p, int which, double pct)
{
    return p ? amy__observe_percentile(&p->obs, which, pct) : -1;
}

size_t amy_pool_nhosts(const amy_pool *p)
{
    return p ? p->hosts.n : 0;
}

int amy_pool_host_stats(const amy_pool *p, size_t i, amy_host_stats *out)
{
    if (!p || !out || i >= p->hosts.n)
        return AMY_EINVAL;
    const amy__host *h = &p->hosts.h[i];
    *out = (amy_host_stats){
        .host = h->name,
        .port = h->port,
        .role = h->role,
        .conns_open = h->nconns - h->nconnecting,
        .conns_connecting = h->nconnecting,
        .connects = h->connects,
        .failures = h->failures,
        .denied_until = h->attempts ? h->denied_until : 0,
        .last_error = h->last_error,
    };
    return AMY_OK;
}

int amy_pool_stats(const amy_pool *p, amy_stats *out)
{
    if (!p || !out)
        return AMY_EINVAL;
    *out = p->stats;
    out->conns_connecting = p->nconnecting;
    out->conns_max = p->dsn.pool;
    out->conns_open = p->nconns - p->nconnecting;
    out->conns_idle = p->nidle;
    out->conns_busy = out->conns_open - p->nidle;
    out->queued = p->q.len;
    out->in_flight = 0;
    out->stmts_open = 0;
    out->conns_encrypted = 0;
    out->tls_version = out->tls_cipher = NULL;
    for (amy__link *l = amy__list_first(&p->conns); l;
         l = amy__list_next(&p->conns, l)) {
        const amy__conn *c = AMY__CONTAINER(l, amy__conn, olink);
        out->in_flight += amy__conn_inflight(c);
        out->stmts_open += amy__stmt_open(c);
        if (c->ssl && !out->conns_encrypted++) /* the first one's names */
            amy__tls_describe(c->ssl, &out->tls_version, &out->tls_cipher);
    }
    return AMY_OK;
}

/* Fails every queued future with the same error. */
static void fail_queue(amy_pool *p, int status, unsigned err,
                       const char *sqlstate, const char *msg)
{
    amy__donelist done;
    amy__donelist_init(&done);
    amy__queue_fail(&p->q, status, err, sqlstate, msg, &done);
    amy__donelist_notify(&done);
}

/* c is idle (on the pool's idle list) or not. */
static void set_idle(amy_pool *p, amy__conn *c, int idle)
{
    if (idle == amy__link_linked(&c->oidle))
        return;
    if (idle) {
        amy__list_push_front(&p->idle, &c->oidle);
        p->nidle++;
    } else {
        amy__list_remove(&c->oidle);
        p->nidle--;
    }
}

static amy__conn *first_idle(const amy_pool *p)
{
    amy__link *l = amy__list_first(&p->idle);
    return l ? AMY__CONTAINER(l, amy__conn, oidle) : NULL;
}

/* max_lifetime_ms: each connection's life is drawn from [90%, 100%] of it,
 * so connections opened together are not all retired together. */
static void set_expiry(amy_pool *p, amy__conn *c)
{
    if (!p->dsn.max_lifetime_ms)
        return;
    p->rng = p->rng * 1103515245u + 12345u;
    double f = 0.9 + 0.1 * (double)(p->rng >> 8) / (double)(1u << 24);
    c->expires_at = ev_time() + p->dsn.max_lifetime_ms / 1000.0 * f;
}

/* It outlived max_lifetime_ms: it takes nothing more, and is closed once
 * idle (its replacement opens when work waits). Without the key this is
 * one load: no clock is read. */
static int expired(const amy_pool *p, const amy__conn *c)
{
    return c->expires_at && ev_now(p->loop) >= c->expires_at;
}

/* Connections that can serve the queue: open, and not lent to a pinned
 * handle (whose queries they run instead). */
static unsigned serving(const amy_pool *p)
{
    return p->nconns - p->nconnecting - p->nlent;
}

/* Whether a connection can serve the queue now: serving()'s count, less
 * those whose host has the wrong role (probing, retiring, or waiting for
 * a standby's probe). Walks the connections: for the outage paths only. */
static int serving_now(amy_pool *p)
{
    if (!serving(p))
        return 0;
    if (!amy__hosts_need_roles(&p->hosts))
        return 1;
    ev_tstamp now = ev_now(p->loop);
    for (amy__link *l = amy__list_first(&p->conns); l;
         l = amy__list_next(&p->conns, l)) {
        amy__conn *c = AMY__CONTAINER(l, amy__conn, olink);
        if (c->state == AMY__C_READY && c->owner == &amy__pool_owner &&
            !c->retire && !c->probing &&
            amy__hosts_acceptable(&p->hosts, c->host, now) == 1)
            return 1;
    }
    return 0;
}

static void link_conn(amy_pool *p, amy__conn *c, unsigned host, ev_tstamp born)
{
    c->born = born;
    c->host = host;
    p->hosts.h[host].nconns++;
    p->hosts.h[host].nconnecting++;
    set_expiry(p, c);
    c->serial = ++p->next_serial;
    amy__list_push_front(&p->conns, &c->olink);
    p->nconns++;
    p->nconnecting++;
}

static void unlink_conn(amy_pool *p, amy__conn *c)
{
    set_idle(p, c, 0);
    amy__list_remove(&c->olink);
    p->nconns--;
    amy__host *h = &p->hosts.h[c->host];
    h->nconns--;
    if (c->state == AMY__C_CONNECTING || c->connect_failed) {
        p->nconnecting--;
        h->nconnecting--;
    }
    if (c->probe) { /* never sent */
        amy_future *f = c->probe;
        c->probe = NULL;
        amy_future_free(f);
    }
}

void amy__pool_lend(amy_pool *p, amy__conn *c)
{
    p->nlent++;
}

void amy__pool_take_back(amy_pool *p, amy__conn *c)
{
    p->nlent--;
    amy__conn_set_owner(c, &amy__pool_owner, p);
}

void amy__pool_add_lease(amy_pool *p, amy__lease *l)
{
    amy__list_push_back(&p->leases, &l->link);
}

/* Closes c, which the pool shuts itself (idle, retired, the pool freed):
 * out of the pool's lists, the observer told why, then gone. Nothing may
 * be in flight but what fails with it (amy_pool_free). */
static void close_conn(amy_pool *p, amy__conn *c, int reason)
{
    unlink_conn(p, c);
    if (c->state != AMY__C_CONNECTING)
        amy__observe_conn_closed(&p->obs, c, reason);
    amy__conn_destroy(c, AMY_ECANCELED);
}

/* ------------------------------------------------------------------------ */
/* Names (resolve.c): looked up on the loop before a connection opens      */
/* ------------------------------------------------------------------------ */

static void count_connect_failure_msg(amy_pool *p, unsigned host,
                                      unsigned err_no, const char *sqlstate,
                                      const char *msg, int permanent);

/* The connections of host i whose address is not in its new answer take
 * nothing more; the idle ones close now, the busy ones once idle (no
 * connection to an old address is reused). */
static void retire_moved(amy_pool *p, unsigned i)
{
    amy__host *h = &p->hosts.h[i];
    for (amy__link *l = amy__list_first(&p->conns); l;) {
        amy__conn *c = AMY__CONTAINER(l, amy__conn, olink);
        l = amy__list_next(&p->conns, l);
        if (c->host != i || amy__hosts_in_answer(h, c->cfg->host))
            continue;
        c->retire = 1;
        if (amy__link_linked(&c->oidle))
            close_conn(p, c, AMY_CLOSE_IDLE); /* nothing in flight */
    }
}

static void dns_done(void *arg, int status, const char *const *addrs, size_t n,
                     const char *err)
{
    struct amy__dnsarg *a = arg;
    amy_pool *p = a->p;
    amy__host *h = &p->hosts.h[a->host];
    h->resolving = 0;
    h->lookup = NULL;
    if (p->freeing || status == AMY_ECANCELED)
        return;
    if (status == AMY_OK && n > 0) {
        if (amy__hosts_set_answer(h, addrs, n) == 0)
            retire_moved(p, a->host);
        schedule_kick(p);
        return;
    }
    /* As a refused connect: the host on the deny list, its connections
     * left alone (a name that stops resolving does not close them); a
     * name that does not exist fails the queue if no other host can. */
    count_connect_failure_msg(p, a->host, 2005, "HY000",
                              err ? err : "could not resolve the host",
                              status == AMY_ECONNECT || status == AMY_EINVAL);
}

/* Starts host i's lookup unless one runs. 0 started (or running), -1 on
 * ENOMEM. */
static int start_lookup(amy_pool *p, unsigned i)
{
    amy__host *h = &p->hosts.h[i];
    if (h->resolving)
        return 0;
    h->resolving = 1;
    h->lookup = amy__resolve(p->resolver, h->name, dns_done, &p->dnsargs[i]);
    if (!h->lookup) {
        h->resolving = 0;
        return -1;
    }
    return 0;
}

/* The settings for a new connection to host i: its address, or for a name
 * the freshly cached answer's (the newest address given out while it is
 * still in it: connections stay on one server). NULL when a lookup must
 * run first (started here), or on ENOMEM (*nomem). */
static const amy__conn_cfg *conn_cfg_for(amy_pool *p, unsigned i, int *nomem)
{
    amy__host *h = &p->hosts.h[i];
    *nomem = 0;
    if (!h->named)
        return &h->addrs->cfg;
    const char *const *addrs;
    size_t n;
    if (h->resolving ||
        amy__resolver_cached(p->resolver, h->name, &addrs, &n) != 1 || !n) {
        *nomem = start_lookup(p, i) != 0;
        return NULL;
    }
    if (!h->answer || h->nanswer != n ||
        (n && strcmp(h->answer[0], addrs[0]))) {
        if (amy__hosts_set_answer(h, addrs, n) != 0) {
            *nomem = 1;
            return NULL;
        }
        retire_moved(p, i);
    }
    const char *addr = h->addrs && amy__hosts_in_answer(h, h->addrs->addr)
                           ? h->addrs->addr
                           : addrs[0];
    amy__hostaddr *a = amy__hosts_addr(h, addr);
    *nomem = a == NULL;
    return a ? &a->cfg : NULL;
}

/* Opens a connection to host i: 0 opened, 1 its name is being looked up
 * (dns_done kicks again), -1 on ENOMEM. */
static int open_conn(amy_pool *p, unsigned i)
{
    int nomem;
    const amy__conn_cfg *cfg = conn_cfg_for(p, i, &nomem);
    if (!cfg)
        return nomem ? -1 : 1;
    ev_tstamp born = ev_time(); /* before the connect starts */
    amy__conn *c = amy__conn_new(p->loop, cfg, &amy__pool_owner, p);
    if (!c)
        return -1;
    link_conn(p, c, i, born);
    return 0;
}

/* Every dns_ttl_ms: each name with connections looked up again, so that a
 * move is followed even when no new connection opens. */
static void dns_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy_pool *p = w->data;
    if (p->freeing)
        return;
    for (unsigned i = 0; i < p->hosts.n; i++)
        if (p->hosts.h[i].named && p->hosts.h[i].nconns)
            start_lookup(p, i);
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
    /* The budget ran out (more): the rest next iteration; at least one
     * connection is fed each time (kicked), however late it is. */
    int more = 0, kicked = 0;
    do {
        p->rekick = 0;
        if (p->freeing)
            break;
        /* Past the iteration's budget (turns.h) the rest is handed out
         * next iteration, after the loop's timers ran: 200 connections fed
         * at once kept a 1 ms timer waiting 15 ms over TLS. */
        for (unsigned guard = p->nidle; p->q.len && p->nidle && guard;
             guard--) {
            if (kicked && (more = amy__turns_over_budget(p->loop)))
                break;
            kicked = 1;
            amy__conn_kick(first_idle(p));
        }
        /* Lent connections with nothing in flight look at their owner's
         * work (a pinned handle's queries, or its release). */
        for (amy__link *l = p->nlent && !more ? amy__list_first(&p->conns)
                                              : NULL;
             l;) {
            amy__conn *c = AMY__CONTAINER(l, amy__conn, olink);
            l = amy__list_next(&p->conns, l);
            if (c->owner != &amy__pool_owner && amy__conn_inflight(c) == 0) {
                if (kicked && (more = amy__turns_over_budget(p->loop)))
                    break;
                kicked = 1;
                amy__conn_kick(c);
            }
        }
        if (more)
            break;
        while (p->q.len > p->nconnecting && p->nconns < p->dsn.pool) {
            /* Every host denied (backoff after failures) or of the wrong
             * role: retry_cb tries again when one may be. */
            int h = amy__hosts_pick(&p->hosts, ev_now(p->loop));
            if (h < 0) {
                if (!serving_now(p))
                    arm_retry(p);
                break;
            }
            int rc = open_conn(p, (unsigned)h);
            if (rc == 1)
                break; /* its name is being looked up: dns_done kicks */
            if (rc < 0) {
                if (p->nconns == 0)
                    fail_queue(p, AMY_ENOMEM, 0, NULL,
                               "out of memory opening a connection");
                break;
            }
            if (p->reopen) {
                p->reopen--;
                p->stats.reconnects++;
            }
        }
    } while (p->rekick);
    p->kicking = 0;
    /* The prepare watcher again, and the idle one so that the next poll
     * does not block: the rest goes right after the timers. */
    if (more)
        schedule_kick(p);
}

/* ------------------------------------------------------------------------ */
/* Roles (hosts.h): a probe on each new connection, and every role_check_ms */
/* ------------------------------------------------------------------------ */

typedef struct probe_data {
    amy_pool *pool;
    unsigned long serial; /* its connection */
} probe_data;

static amy__conn *find_conn(amy_pool *p, unsigned long serial);

/* The probe answered (or failed): its host's role, and whether its
 * connection may serve. Runs as the connection completes it, before the
 * connection asks for more work (take) or says it is idle. */
static void probe_settled(amy_future *f)
{
    probe_data *d = f->data;
    amy_pool *p = d->pool;
    amy__conn *c = p->freeing ? NULL : find_conn(p, d->serial);
    if (!c)
        return;
    c->probing = 0;
    amy__host *h = &p->hosts.h[c->host];
    /* A probe cut off by its connection says nothing of the host. */
    if (f->status == AMY_OK || f->status == AMY_ESERVER) {
        h->role = f->status == AMY_OK ? amy__hosts_role_of(f->result)
                                      : AMY_ROLE_UNAVAILABLE;
        h->role_at = ev_now(p->loop);
    }
    if (!amy__hosts_acceptable(&p->hosts, c->host, ev_now(p->loop)))
        c->retire = 1;
    /* Its connection, or another (a primary waiting for this probe), may
     * serve now: every idle connection looks again. */
    for (amy__link *l = amy__list_first(&p->idle); l;) {
        amy__conn *o = AMY__CONTAINER(l, amy__conn, oidle);
        l = amy__list_next(&p->idle, l);
        if (o != c && o->retire == 0 && p->q.len)
            amy__conn_kick(o);
    }
    schedule_kick(p);
}

static const amy__fops probe_fops = {.settled = probe_settled};

static void probe_free(amy_future *f, void *arg)
{
    if (!f->free_pending) /* unlink_conn frees one never sent itself */
        amy_future_free(f);
}

/* Gives c a probe to send before anything else (take hands it out). */
static void start_probe(amy_pool *p, amy__conn *c)
{
    if (c->probe || c->probing)
        return;
    amy_future *f = amy__future_new(p->loop, amy__hosts_probe_sql,
                                    strlen(amy__hosts_probe_sql), NULL, 0,
                                    sizeof(probe_data), 0);
    if (!f)
        return; /* out of memory: the role stays as it was */
    f->op = &amy__op_text;
    f->fops = &probe_fops;
    probe_data *d = f->data;
    d->pool = p;
    d->serial = c->serial;
    if (amy_future_then(f, probe_free, NULL) != AMY_OK) {
        amy_future_free(f);
        return;
    }
    c->probe = f;
    c->probing = 1;
}

/* Every role_check_ms: each host's role again, on one of its idle
 * connections (never in front of user queries); and for prefer-standby
 * served by a primary, a connection to a standby that may be back. */
static void role_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy_pool *p = w->data;
    if (p->freeing)
        return;
    ev_tstamp now = ev_now(loop);
    for (unsigned i = 0; i < p->hosts.n; i++) {
        amy__host *h = &p->hosts.h[i];
        if (h->nconns == 0 || now - h->role_at < p->hosts.role_ttl * 0.75)
            continue;
        for (amy__link *l = amy__list_first(&p->idle); l;
             l = amy__list_next(&p->idle, l)) {
            amy__conn *c = AMY__CONTAINER(l, amy__conn, oidle);
            if (c->host == i && !c->probing && !c->retire) {
                start_probe(p, c);
                amy__conn_kick(c);
                break;
            }
        }
    }
    if (p->hosts.tsa == AMY__TSA_PREFER_STANDBY &&
        !amy__hosts_standby_up(&p->hosts, now) && p->nconns < p->dsn.pool) {
        /* Pass 0 of the choice prefers a standby (or a host not known to
         * be the primary): a scout connection finds out whether one is
         * back; the primary's connections go once it is. */
        int h = amy__hosts_pick(&p->hosts, now);
        if (h >= 0 && p->hosts.h[h].role != AMY_ROLE_PRIMARY)
            open_conn(p, (unsigned)h);
    }
}

/* A write was refused as read-only on c: its host is no primary any
 * more. Re-probe every host now, and let c go. */
static void refused_read_only(amy_pool *p, amy__conn *c)
{
    c->read_only_refusals = 0;
    unsigned tsa = p->hosts.tsa;
    if (tsa != AMY__TSA_READ_WRITE && tsa != AMY__TSA_PRIMARY)
        return;
    amy__host *h = &p->hosts.h[c->host];
    h->role = AMY_ROLE_UNKNOWN;
    h->role_at = 0;
    c->retire = 1;
    for (unsigned i = 0; i < p->hosts.n; i++)
        p->hosts.h[i].role_at = 0; /* the role timer probes them all */
    if (ev_is_active(&p->role_timer)) {
        ev_timer_stop(p->loop, &p->role_timer);
        ev_timer_set(&p->role_timer, 0., p->hosts.role_ttl);
        ev_timer_start(p->loop, &p->role_timer);
    }
}

static void on_ready(void *self, amy__conn *c)
{
    amy_pool *p = self;
    p->nconnecting--;
    p->hosts.h[c->host].nconnecting--;
    p->attempts = 0;
    amy__hosts_connected(&p->hosts, c->host);
    ev_timer_stop(p->loop, &p->retry_timer);
    amy__observe_conn_opened(&p->obs, c);
    if (amy__hosts_need_roles(&p->hosts))
        start_probe(p, c);
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
    /* 2026: TLS refused (a certificate that does not verify, a server
     * without TLS when ssl_mode requires it): configuration, not luck. */
    return (e >= 1000 && e < 2000) || e == 2059 /* auth plugin */ ||
           e == 2026 || e == 5010 /* plugin not in auth_plugins */;
}

/* Fails the futures that have waited connect_timeout_ms for a connection
 * while none could be opened. Returns the oldest remaining wait's expiry. */
static ev_tstamp expire_queue(amy_pool *p)
{
    if (!p->dsn.connect_timeout_ms || serving_now(p))
        return 0;
    ev_tstamp limit = p->dsn.connect_timeout_ms / 1000.0;
    ev_tstamp now = ev_now(p->loop);
    amy__donelist done;
    amy__donelist_init(&done);
    amy_future *f;
    while ((f = amy__queue_head(&p->q)) && now - f->queued_at >= limit) {
        amy__queue_remove(f);
        amy__future_set_error(f, AMY_ECONNECT, p->last_err_no, p->last_sqlstate,
                              p->last_error);
        amy__donelist_settle(&done, f, NULL);
    }
    ev_tstamp next = f ? f->queued_at + limit : 0;
    amy__donelist_notify(&done);
    return next;
}

/* Arms the retry timer for the next attempt or the next expiry. */
static void arm_retry(amy_pool *p)
{
    ev_timer_stop(p->loop, &p->retry_timer);
    if (!p->q.len || p->freeing)
        return;
    ev_tstamp now = ev_now(p->loop);
    ev_tstamp at = amy__hosts_next_try(&p->hosts);
    if (p->dsn.connect_timeout_ms && !serving_now(p)) {
        ev_tstamp exp =
            amy__queue_head(&p->q)->queued_at + p->dsn.connect_timeout_ms / 1e3;
        if (!at || exp < at)
            at = exp;
    }
    if (!at)
        return; /* nothing to wait for: a connect or a probe is under way */
    if (at < now + 0.01)
        at = now + 0.01; /* never a busy loop */
    ev_timer_set(&p->retry_timer, at > now ? at - now : 0., 0.);
    ev_timer_start(p->loop, &p->retry_timer);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy_pool *p = w->data;
    expire_queue(p);
    if (!p->q.len)
        return;
    schedule_kick(p); /* it picks a host that may be tried, or re-arms */
}

static void count_connect_failure(amy_pool *p, amy__conn *c)
{
    p->reopen++;
    amy__observe_conn_failed(&p->obs, c);
    count_connect_failure_msg(p, c->host, c->err_no, c->err_sqlstate,
                              c->err_msg,
                              connect_error_is_permanent(c->err_no));
}

/* A connect to host failed (or its name's lookup did): msg says why. */
static void count_connect_failure_msg(amy_pool *p, unsigned host,
                                      unsigned err_no, const char *sqlstate,
                                      const char *msg, int permanent)
{
    p->stats.connect_failures++;
    p->attempts++;
    p->last_err_no = err_no;
    memcpy(p->last_sqlstate,
           sqlstate && strlen(sqlstate) == 5 ? sqlstate : "HY000", 6);
    free(p->last_error);
    const char *ep = p->hosts.h[host].endpoint;
    size_t n = strlen(ep) + strlen(msg) + 32;
    p->last_error = malloc(n);
    if (p->last_error)
        snprintf(p->last_error, n, "could not connect to %s: %s", ep, msg);
    /* The host goes on the deny list for a backoff; another may be tried
     * at once. Only when every host failed for good does the queue. */
    int others = amy__hosts_failed(&p->hosts, host, err_no, p->last_error,
                                   permanent, ev_now(p->loop));
    if (p->q.len && !p->freeing)
        schedule_kick(p); /* its share goes to another host now */
    if (serving_now(p))
        return; /* the open connections serve the queue */
    if (permanent && !others) {
        fail_queue(p, AMY_ECONNECT, p->last_err_no, p->last_sqlstate,
                   p->last_error);
        return;
    }
    expire_queue(p);
    arm_retry(p);
    schedule_kick(p);
}

static void on_dead(void *self, amy__conn *c)
{
    amy_pool *p = self;
    unlink_conn(p, c);
    if (c->connect_failed) {
        count_connect_failure(p, c);
        amy__conn_free(c);
        return;
    }
    amy__observe_conn_closed(
        &p->obs, c,
        c->close_status == AMY__CLOSE_EXPIRED              ? AMY_CLOSE_LIFETIME
        : c->close_errno == 2006 || c->close_errno == 2013 ? AMY_CLOSE_SERVER
                                                           : AMY_CLOSE_BROKEN);
    amy__conn_free(c);
    /* A connection that broke is replaced if work waits. */
    p->reopen++;
    schedule_kick(p);
}

static void idle_sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy_pool *p = w->data;
    ev_tstamp cutoff = ev_now(loop) - p->dsn.idle_timeout_ms / 1000.0;
    for (amy__link *l = amy__list_first(&p->idle); l;) {
        amy__conn *c = AMY__CONTAINER(l, amy__conn, oidle);
        l = amy__list_next(&p->idle, l);
        int old = expired(p, c);
        if (old || (p->dsn.idle_timeout_ms && c->idle_since <= cutoff)) {
            p->stats.retired += (uint64_t)old;
            /* nothing in flight */
            close_conn(p, c, old ? AMY_CLOSE_LIFETIME : AMY_CLOSE_IDLE);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The pool as owner                                                        */
/* ------------------------------------------------------------------------ */

static int has_work(void *self, amy__conn *c)
{
    return ((amy_pool *)self)->q.len > 0 || c->probe;
}

/* Whether c may serve the pool's queue: not probing, and its host's role
 * is what the pool wants. */
static int may_serve(amy_pool *p, amy__conn *c)
{
    if (c->read_only_refusals)
        refused_read_only(p, c);
    if (c->retire || c->probing)
        return 0;
    if (!p->roles)
        return 1; /* one host, any role: nothing to check per query */
    int ok = amy__hosts_acceptable(&p->hosts, c->host, ev_now(p->loop));
    if (ok == 0)
        c->retire = 1;
    return ok == 1;
}

static amy_future *take(void *self, amy__conn *c)
{
    amy_pool *p = self;
    set_idle(p, c, 0);
    if (c->probe && !p->freeing) {
        amy_future *f = c->probe; /* before any query: the role first */
        c->probe = NULL;
        return f;
    }
    amy_future *f = amy__queue_head(&p->q);
    if (!f || p->freeing || !may_serve(p, c) || !amy__conn_accepts(c, f) ||
        expired(p, c))
        return NULL;
    /* A busy connection takes more only while more waits than the idle
     * and connecting ones will take. */
    if (amy__conn_inflight(c) > 0 &&
        p->q.len <= (size_t)p->nconnecting + p->nidle)
        return NULL;
    amy__queue_remove(f);
    amy__observe_sent(&p->obs, c, f);
    return f;
}

static void requeue(void *self, amy__conn *c, amy_future *f)
{
    amy_pool *p = self;
    amy__queue_push_front(&p->q, f);
    p->stats.retried++;
    schedule_kick(p);
}

static int idle(void *self, amy__conn *c)
{
    amy_pool *p = self;
    if (expired(p, c)) {
        p->stats.retired++;
        c->close_status = AMY__CLOSE_EXPIRED; /* for on_dead's observer */
        return -1; /* closed now; replaced when work comes */
    }
    if (!c->probing && !may_serve(p, c) && c->retire)
        return -1; /* its host's role is not the pool's: another is tried */
    set_idle(p, c, 1);
    c->idle_since = ev_now(p->loop);
    return 0;
}

void amy__pool_note_lost(amy__conn *c, const amy__why *why)
{
    if (c->close_status == AMY__CLOSE_EXPIRED)
        return;
    c->close_status = why->status;
    c->close_errno = why->err;
    snprintf(c->close_msg, sizeof c->close_msg, "%s",
             why->msg ? why->msg : amy_strerror(why->status));
}

static void lost(void *self, amy__conn *c, const amy__why *why,
                 amy__donelist *done)
{
    /* Its queue serves every connection: nothing waits for c alone. */
    amy__pool_note_lost(c, why);
}

static amy__conn *find_conn(amy_pool *p, unsigned long serial)
{
    for (amy__link *l = amy__list_first(&p->conns); l;
         l = amy__list_next(&p->conns, l)) {
        amy__conn *c = AMY__CONTAINER(l, amy__conn, olink);
        if (c->serial == serial)
            return c;
    }
    return NULL;
}

/* A KILL for connection `serial` completed; it may be gone by now. */
static void conn_kill_done_cb(void *arg, unsigned long serial)
{
    amy__conn *c = find_conn(arg, serial);
    if (c)
        amy__conn_kill_done(c);
}

static void send_kill(void *self, amy__conn *c)
{
    amy_pool *p = self;
    /* KILL names a connection of one server: the channel to the address
     * c is connected to (a name may have moved since). */
    amy__hostaddr *h = amy__hosts_addr_of(c->cfg);
    if (!p->freeing && !h->killer)
        h->killer = amy__killer_new(p->loop, &h->cfg);
    if (p->freeing || !h->killer ||
        amy__killer_kill(h->killer, c->thread_id, conn_kill_done_cb, p,
                         c->serial)) {
        /* No kill will come: the statement runs to its end, and its answer
         * is still dropped. */
        amy__conn_kill_done(c);
        return;
    }
    p->stats.kills++;
}

const amy__owner_ops amy__pool_owner = {
    .has_work = has_work,
    .take = take,
    .requeue = requeue,
    .ready = on_ready,
    .idle = idle,
    .lost = lost,
    .dead = on_dead,
    .kill = send_kill,
};

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

amy_future *amy__pool_failed(amy_pool *p, int status, const char *msg)
{
    return amy__future_failed(p ? p->loop : NULL, status, msg);
}

amy_future *amy__pool_make(amy_pool *p, const amy__op *op, const char *sql,
                           size_t len, const amy_value *params, size_t n,
                           size_t extra, int pinned)
{
    if (!p || !sql)
        return amy__pool_failed(p, AMY_EINVAL,
                                p ? "sql is NULL" : "pool is NULL");
    if (len == 0 && !op->taken) /* a kind never sent has no SQL */
        return amy__pool_failed(p, AMY_EINVAL, "empty SQL statement");
    if (len > 0xffffffffu)
        return amy__pool_failed(p, AMY_EINVAL, "SQL statement over 4 GiB");
    if (p->freeing)
        return amy__pool_failed(p, AMY_ECANCELED, "the pool is being freed");
    if (!pinned && p->dsn.queue_max && p->q.len >= p->dsn.queue_max) {
        p->stats.failed++;
        return amy__pool_failed(p, AMY_EQUEUEFULL,
                                "the pool's queue is full "
                                "(queue_max)");
    }
    if (n && !params)
        return amy__pool_failed(p, AMY_EINVAL, "params is NULL");
    /* Placeholders are checked when parameters are given (prepared
     * statements check their own). */
    if (op == &amy__op_params && (n || params)) {
        size_t want = amy__params_count(sql, len, p->mbchar);
        if (want != n) {
            char msg[128];
            snprintf(msg, sizeof msg,
                     "the statement has %zu placeholder%s but %zu "
                     "parameter%s %s given",
                     want, want == 1 ? "" : "s", n, n == 1 ? "" : "s",
                     n == 1 ? "was" : "were");
            return amy__pool_failed(p, AMY_EINVAL, msg);
        }
    }
    amy_future *f = amy__future_new(p->loop, sql, len, params, n, extra,
                                    p->obs.ops != NULL);
    if (!f)
        return NULL;
    f->op = op;
    f->pool = p;
    f->fops = &amy__pool_fops;
    amy__observe_made(&p->obs, f);
    return f;
}

void amy__pool_enqueue(amy_pool *p, amy__queue *q, amy_future *f)
{
    /* A kind never sent (acquire) waits for a connection, not a query. */
    if (p->dsn.query_timeout_ms && !f->op->taken)
        amy_future_set_timeout(f, p->dsn.query_timeout_ms);
    f->queued_at = ev_time(); /* not ev_now: it may be stale here */
    amy__queue_push(q, f);
    schedule_kick(p);
}

amy_future *amy__pool_submit(amy_pool *p, amy__queue *q, const amy__op *op,
                             const char *sql, size_t len,
                             const amy_value *params, size_t n)
{
    amy_future *f = amy__pool_make(p, op, sql, len, params, n, 0, q != NULL);
    if (!f || f->status != AMY_PENDING)
        return f;
    if (op == &amy__op_params && n == 0)
        f->op = &amy__op_text; /* checked: no placeholder, nothing to render */
    else if (op == &amy__op_params &&
             amy__params_need_mode(sql, len, params, n))
        f->op = &amy__op_params_mode;
    amy__pool_enqueue(p, q ? q : &p->q, f);
    return f;
}

amy_future *amy__pool_submit_exec(amy_pool *p, amy__queue *q, const char *sql,
                                  const amy_value *v, size_t nrows,
                                  size_t ncols, int batch)
{
    if (!p)
        return amy__pool_failed(NULL, AMY_EINVAL, "pool is NULL");
    if (!sql)
        return amy__pool_failed(p, AMY_EINVAL, "sql is NULL");
    if (!v && nrows && ncols)
        return amy__pool_failed(p, AMY_EINVAL, "params is NULL");
    if (ncols && nrows > SIZE_MAX / sizeof(amy_value) / ncols)
        return amy__pool_failed(p, AMY_EINVAL, "too many values");
    size_t len = strlen(sql);
    char err[256];
    if (amy__stmt_check(sql, len, v, nrows, ncols, batch, p->mbchar, err,
                        sizeof err))
        return amy__pool_failed(p, AMY_EINVAL, err);
    amy_future *f = amy__pool_make(p, batch ? &amy__op_batch : &amy__op_exec,
                                   sql, len, v, nrows * ncols, 0, q != NULL);
    if (!f || f->status != AMY_PENDING)
        return f;
    f->ncols = (uint16_t)ncols;
    if (batch && nrows * ncols == 0) {
        /* No rows: nothing to send, 0 rows inserted. */
        amy_result *r = amy__result_ok(0, 0);
        if (!r)
            amy__future_set_error(f, AMY_ENOMEM, 0, NULL, NULL);
        amy__future_resolve(f, r);
        return f;
    }
    amy__pool_enqueue(p, q ? q : &p->q, f);
    return f;
}

amy_future *amy_query_len(amy_pool *p, const char *sql, size_t len)
{
    return amy__pool_submit(p, NULL, &amy__op_text, sql, len, NULL, 0);
}

amy_future *amy_query(amy_pool *p, const char *sql)
{
    return amy__pool_submit(p, NULL, &amy__op_text, sql, sql ? strlen(sql) : 0,
                            NULL, 0);
}

amy_future *amy_query_params(amy_pool *p, const char *sql,
                             const amy_value *params, size_t n)
{
    return amy__pool_submit(p, NULL, &amy__op_params, sql,
                            sql ? strlen(sql) : 0, params, n);
}

amy_future *amy_query_stream(amy_pool *p, const char *sql, amy_row_cb on_row,
                             void *arg)
{
    if (!on_row)
        return amy__pool_failed(p, AMY_EINVAL, "on_row is NULL");
    amy_future *f =
        amy__pool_make(p, &amy__op_stream, sql, sql ? strlen(sql) : 0, NULL, 0,
                       sizeof(amy__stream), 0);
    if (!f || f->status != AMY_PENDING)
        return f;
    amy__stream *s = f->data;
    s->cb = on_row;
    s->arg = arg;
    amy__pool_enqueue(p, &p->q, f);
    return f;
}

amy_future *amy_exec(amy_pool *pool, const char *sql, const amy_value *params,
                     size_t n)
{
    return amy__pool_submit_exec(pool, NULL, sql, params, 1, n, 0);
}

amy_future *amy_exec_batch(amy_pool *pool, const char *sql,
                           const amy_value *rows, size_t nrows, size_t ncols)
{
    return amy__pool_submit_exec(pool, NULL, sql, rows, nrows, ncols, 1);
}

void amy_pool_free(amy_pool *p)
{
    if (!p)
        return;
    /* Its connections are on the stack under the callback (or the stream
     * reading its rows): freeing them now would pull them from under it. */
    if (amy__cbtop && amy__cb_of_pool(p)) {
        amy__misuse(__func__,
                    "pool %p: called inside a callback of one of its "
                    "futures; the pool is not freed",
                    (void *)p);
        return;
    }
    p->freeing = 1;
    /* Pending kills complete first: their connections still exist. */
    for (unsigned i = 0; i < p->hosts.n; i++) {
        for (amy__hostaddr *a = p->hosts.h[i].addrs; a; a = a->next) {
            amy__killer *k = a->killer;
            a->killer = NULL;
            amy__killer_free(k);
        }
        if (p->hosts.h[i].lookup) {
            amy__lookup_cancel(p->hosts.h[i].lookup);
            p->hosts.h[i].lookup = NULL;
        }
    }
    ev_prepare_stop(p->loop, &p->kick_watcher);
    ev_idle_stop(p->loop, &p->kick_idle);
    ev_timer_stop(p->loop, &p->retry_timer);
    if (ev_is_active(&p->idle_sweep)) {
        ev_ref(p->loop);
        ev_timer_stop(p->loop, &p->idle_sweep);
    }
    if (ev_is_active(&p->role_timer)) {
        ev_ref(p->loop);
        ev_timer_stop(p->loop, &p->role_timer);
    }
    if (ev_is_active(&p->dns_timer)) {
        ev_ref(p->loop);
        ev_timer_stop(p->loop, &p->dns_timer);
    }
    amy__link *l;
    while ((l = amy__list_first(&p->conns))) {
        close_conn(p, AMY__CONTAINER(l, amy__conn, olink), AMY_CLOSE_POOL_FREE);
    }
    /* After its connections, which cancel their dials. */
    amy__dialer_free(p->dialer);
    p->dialer = NULL;
    fail_queue(p, AMY_ECANCELED, 0, NULL, "the pool was freed");
    unsigned held = 0;
    while ((l = amy__list_first(&p->leases))) {
        amy__list_remove(l);
        amy__lease *e = AMY__CONTAINER(l, amy__lease, link);
        held += (unsigned)e->pool_gone(e);
    }
    /* Allowed, but most likely a handle forgotten: it leaks until then. */
    if (held)
        amy__note(__func__,
                  "%u pinned connection%s not released (amy_conn_release); "
                  "%s until released",
                  held, held == 1 ? " was" : "s were",
                  held == 1 ? "its handle stays allocated"
                            : "their handles stay allocated");
    amy__observe_free(&p->obs); /* the last query_end events */
    amy__dsn_clear(&p->dsn);
    amy__turns_stop(&p->turns);      /* after every connection closed */
    amy__resolver_free(p->resolver); /* no lookup of ours is left */
    free(p->dnsargs);
    amy__hosts_free(&p->hosts);
    free(p->last_error);
    free(p);
}
