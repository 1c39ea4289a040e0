/*
 * A pool's observability (internal): its three latency histograms, and the
 * observer of amy_pool_set_observer with the per-query records it needs.
 *
 * Query events are never told from inside a connection's drive (where an
 * observer freeing a future could pull it from under the connection):
 *
 *   made (amy__pool_make) --record, on the pool's live list-->
 *   sent (a connection took it) --on the due list; a zero-delay timer
 *        tells query_start from the loop--> STARTED
 *   notified (its resolution, before its callbacks) --query_start first
 *        if not told yet, then query_end--> ENDED (off both lists)
 *   amy_pool_free --query_end for every record not ENDED (a query whose
 *        callbacks were still due)--> ENDED: nothing touches the pool after
 *
 * Connection events are told from the pool's owner hooks, where the
 * connection is consistent.
 */
#ifndef AMY_OBSERVE_H
#define AMY_OBSERVE_H

#include <ev.h>

#include "amysql.h"
#include "future.h"
#include "hist.h"
#include "list.h"

struct amy__conn;

typedef struct amy__observe {
    struct ev_loop *loop;
    /* The server as the pool names it, for the events (its strings). */
    const char *address, *db;
    unsigned port;
    amy__hist hist[3]; /* AMY_HIST_* */
    const amy_observer *ops;
    void *arg;
    amy__link live, due;
    ev_timer tell;       /* tells the due starts from the loop */
    unsigned char mysql; /* the server said it is MySQL, not MariaDB */
} amy__observe;

void amy__observe_init(amy__observe *o, struct ev_loop *loop);
/* What the events say of the server: strings that outlive o. */
void amy__observe_server(amy__observe *o, const char *address, unsigned port,
                         const char *db);
/* amy_pool_free: every query not ENDED ends now; then frees o's memory. */
void amy__observe_free(amy__observe *o);

/* amy_pool_set_observer, amy_pool_histogram, amy_pool_percentile. */
void amy__observe_set(amy__observe *o, const amy_observer *ops, void *arg);
uint64_t amy__observe_histogram(const amy__observe *o, int which,
                                const double *bounds, size_t nbounds,
                                uint64_t *counts);
double amy__observe_percentile(const amy__observe *o, int which, double pct);

/* Hooks of the pool (pool.c and pin.c) at each step of a query. */
void amy__observe_made(amy__observe *o, amy_future *f);
void amy__observe_sent(amy__observe *o, struct amy__conn *c, amy_future *f);
void amy__observe_settled(amy__observe *o, amy_future *f);
void amy__observe_notified(amy_future *f); /* fops->notified */
/* A pool's own statement (a reset, an init statement): not reported. */
void amy__observe_forget(amy_future *f);

/* ... and of each connection. */
void amy__observe_conn_opened(amy__observe *o, struct amy__conn *c);
void amy__observe_conn_failed(amy__observe *o, struct amy__conn *c);
void amy__observe_conn_closed(amy__observe *o, struct amy__conn *c, int reason);

#endif
