/* Pool: queue, lazy connections, dispatch. Internal. */
#ifndef AMY_POOL_H
#define AMY_POOL_H

#include <ev.h>

#include "amysql.h"
#include "conn.h"
#include "dsn.h"
#include "queue.h"

struct amy_pool {
    struct ev_loop *loop;
    amy__dsn dsn;
    char *host;          /* what the connector gets: an IP, or "localhost" */
    char *resolve_error; /* set when the host name did not resolve */
    char *endpoint;      /* "host:port" or the socket, for messages */

    amy__conn *conns; /* every connection (connecting, ready, closing) */
    unsigned nconns, nconnecting, nidle;
    amy__conn *idle; /* READY connections with nothing in flight */

    amy__queue q;          /* futures not yet sent, FIFO */
    struct amy_conn *pins; /* handles of pinned connections (src/pin.c) */
    unsigned npinned;

    ev_prepare kick_watcher; /* hands out queued work before the next poll */
    ev_idle kick_idle;       /* keeps that poll from blocking meanwhile */
    unsigned char kicking, rekick, freeing;

    /* Outages: while no connection can be opened, queued futures wait up
     * to connect_timeout_ms, and attempts back off exponentially. */
    ev_timer retry_timer;
    ev_tstamp backoff_until;
    unsigned attempts; /* failed connects in a row */
    unsigned reopen;   /* lost or failed connections not yet replaced */
    unsigned last_err_no;
    char last_sqlstate[6];
    char *last_error; /* "could not connect to ...: ..." */
    unsigned rng;

    ev_timer idle_sweep; /* idle_timeout_ms */
    unsigned long next_serial;

    amy_pool *control; /* sends KILL QUERY; made on first need */
    char *dsn_text;    /* to make the control pool */
    unsigned char is_control;

    amy_stats stats; /* the counters; the gauges are computed */
};

/*
 * Makes a query future on pool p (or on pinned handle h) and queues it:
 * the checks and the deadline of amy_query. acquire makes an
 * amy_pool_acquire future instead (no SQL). NULL on ENOMEM.
 */
amy_future *amy__pool_submit(amy_pool *p, struct amy_conn *h, const char *sql,
                             size_t len, const amy_value *params, size_t n,
                             int acquire);

/* The same for a prepared statement (src/stmt.c, which checked the
 * arguments): exec is an enum amy__fexec, n the values (nrows * ncols for
 * a batch). A batch of no rows resolves AMY_OK at once. */
amy_future *amy__pool_submit_exec(amy_pool *p, struct amy_conn *h,
                                  const char *sql, size_t len,
                                  const amy_value *params, size_t n, int exec,
                                  size_t ncols);

/* A future already failed with status and msg (p may be NULL). */
amy_future *amy__pool_failed(amy_pool *p, int status, const char *msg);

/* Hands out queued work before the loop next polls. */
void amy__pool_schedule_kick(amy_pool *p);

/* Removes a pending query future from the queue or its in-flight slot. */
void amy__pool_detach(amy_future *f);

/*
 * The next queued future that connection c may send now, or NULL. Applies
 * the pipeline depth and byte caps, and leaves work for idle or connecting
 * connections rather than piling it onto a busy one.
 */
amy_future *amy__pool_take(amy_pool *pool, amy__conn *c);

/* Puts a future back at the head of the queue (re-sent after a stray
 * KILL). */
void amy__pool_requeue(amy_pool *pool, amy_future *f);

/* Counts a query future of the pool that just settled with status. */
void amy__pool_count(amy_pool *pool, int status);

/* Sends KILL QUERY for connection c's running statement (src/kill.c);
 * amy__conn_kill_done(c) follows when it completed, unless c died. */
void amy__pool_kill(amy_pool *pool, amy__conn *c);

/* A pool for KILL QUERY on the same server: one connection, no
 * pipelining. NULL on ENOMEM. */
amy_pool *amy__pool_new_control(amy_pool *pool);

/* Frees the control pool (src/kill.c). */
void amy__pool_kill_free(amy_pool *pool);

/* Connection events. */
void amy__pool_set_idle(amy_pool *pool, amy__conn *c, int idle);
void amy__pool_on_ready(amy_pool *pool, amy__conn *c);
void amy__pool_on_connect_failed(amy_pool *pool, amy__conn *c, unsigned err,
                                 const char *sqlstate, const char *msg);
/* c is closed and unlinked by the pool, which frees it. */
void amy__pool_on_dead(amy_pool *pool, amy__conn *c);

#endif
