/* Pool: queue, lazy connections, dispatch. Internal. */
#ifndef AMY_POOL_H
#define AMY_POOL_H

#include <ev.h>

#include "amysql.h"
#include "conn.h"
#include "dsn.h"

struct amy_pool {
    struct ev_loop *loop;
    amy__dsn dsn;
    char *host;          /* what the connector gets: an IP, or "localhost" */
    char *resolve_error; /* set when the host name did not resolve */
    char *endpoint;      /* "host:port" or the socket, for messages */

    amy__conn *conns; /* every connection (connecting, ready, closing) */
    unsigned nconns, nconnecting, nidle;
    amy__conn *idle; /* READY connections with nothing in flight */

    amy_future *qhead, *qtail; /* futures not yet sent, FIFO */
    size_t qlen;

    ev_prepare kick_watcher; /* hands out queued work before the next poll */
    ev_idle kick_idle;       /* keeps that poll from blocking meanwhile */
    unsigned char kicking, rekick, freeing;
};

/* Removes a pending query future from the queue or its in-flight slot. */
void amy__pool_detach(amy_future *f);

/*
 * The next queued future that connection c may send now, or NULL. Applies
 * the pipeline depth and byte caps, and leaves work for idle or connecting
 * connections rather than piling it onto a busy one.
 */
amy_future *amy__pool_take(amy_pool *pool, amy__conn *c);

/* Connection events. */
void amy__pool_set_idle(amy_pool *pool, amy__conn *c, int idle);
void amy__pool_on_ready(amy_pool *pool, amy__conn *c);
void amy__pool_on_connect_failed(amy_pool *pool, amy__conn *c, unsigned err,
                                 const char *sqlstate, const char *msg);
/* c is closed and unlinked by the pool, which frees it. */
void amy__pool_on_dead(amy_pool *pool, amy__conn *c);

#endif
