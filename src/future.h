/* Futures: state, callbacks, deferred free, gather, deadlines. Internal.
 *
 * A future knows nothing of who resolves it. Whoever queues one (the pool,
 * a pinned connection, the KILL channel, a gather) installs its hooks
 * (amy__fops): how it leaves that owner's care when abandoned, what to count
 * when it settles, what to free with it.
 */
#ifndef AMY_FUTURE_H
#define AMY_FUTURE_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "amysql.h"
#include "debug.h"
#include "list.h"

/* One registered callback; linked in its future's list until it runs. */
typedef struct amy__cbnode {
    amy__link link; /* NULL links once unlinked */
    amy_callback cb;
    void *arg;
    unsigned char heap; /* malloc'ed by amy_future_then */
} amy__cbnode;

struct amy__slot;
struct amy__conn;
struct amy__op;
struct amy__queue;

/* Where a query future waits. */
enum amy__fwhere {
    AMY__W_NONE,    /* nowhere: made, settled, or between two owners */
    AMY__W_QUEUED,  /* in an amy__queue (f->queue) */
    AMY__W_INFLIGHT /* sent on a connection (f->conn, f->slot) */
};

/* What its owner does for a future; any hook may be NULL. */
typedef struct amy__fops {
    /* It is abandoned (canceled, timed out, freed) while pending: leave the
     * owner's queue or slot, so nothing resolves it again. */
    void (*detach)(amy_future *f);
    /* It settled with f->status (stats). */
    void (*settled)(amy_future *f);
    /* It is being freed: free what the owner hung on it. */
    void (*destroy)(amy_future *f);
    /* Its callbacks are about to run (it resolved), for an observer;
     * called only when f->obs is set, maybe more than once. */
    void (*notified)(amy_future *f);
    /* Its deadline passed while it was still pending: write why it was
     * still waiting (the owner's state, e.g. "every connection is
     * pinned"), appended to "query timed out after N ms". */
    void (*why_late)(const amy_future *f, char *buf, size_t len);
    /* amy_future_set_timeout may give it a deadline. */
    unsigned char timeouts;
} amy__fops;

struct amy_future {
    int status;
    unsigned char where; /* enum amy__fwhere */
    unsigned char free_pending;
    unsigned char waited; /* amy_future_wait is running the loop for it */
    /* It was sent a second time (after a stray KILL, or because its
     * connection broke before it was written): never a third. */
    unsigned char resent : 1;
    /* A batch of which chunks ran: it must never be sent whole again. */
    unsigned char partial : 1;
    unsigned char paused : 1;    /* a stream paused by amy_stream_pause */
    unsigned char notifying : 1; /* amy__future_notify is running for it */
    /* Sent again because a KILL meant for another query hit it: each
     * time is another query's KILL, so more than one can come (several
     * canceled queries on its connection); capped all the same. */
    unsigned char strays : 3;
    unsigned char obs_inline : 1; /* obs is in the future's allocation */
    uint16_t ncols;               /* amy_exec_batch: values per row */
    char sqlstate[6];
    /* AMY__FUTURE_LIVE; AMY__FUTURE_DEAD once freed. 16 bits, and the
     * errno too (the protocol's error code is 16 bits): the struct has no
     * room for more without growing. */
    uint16_t magic;
    uint16_t server_errno;
    unsigned busy;       /* holds that defer the free: callbacks, wait */
    unsigned timeout_ms; /* the deadline's length, for its message */
    uint32_t nparams;    /* values in params (query futures) */
    struct ev_loop *loop;
    amy_result *result;
    char *error;
    amy__link cbs;         /* its amy__cbnode callbacks, in order */
    amy__cbnode cb0;       /* the first callback needs no allocation */
    const amy__fops *fops; /* its owner's hooks (NULL: none) */

    /* Query futures only. */
    const struct amy__op *op; /* what kind of operation (src/op.h) */
    amy_pool *pool;           /* the pool it was made for, or NULL */
    amy__link qlink;          /* in its queue, or on a done list */
    struct amy__queue *queue; /* the queue holding it while QUEUED */
    struct amy__slot *slot;   /* in-flight slot while INFLIGHT */
    struct amy__conn *conn;   /* its connection while INFLIGHT */
    /* While pending: its deadline (query_timeout_ms, set_timeout), when
     * set. Once settled: the zero-delay timer that runs callbacks due
     * from the loop (amy__future_notify_soon). */
    ev_timer deadline;
    ev_tstamp queued_at; /* for connect_timeout_ms during outages */
    size_t sql_len;
    char *sql; /* NUL-terminated copy, in the same allocation */
    union {
        amy_value *params; /* copies, in the same allocation */
        void *data;        /* the op's own (a stream's callback, ...) */
    };
    /* What an observer needs beyond the above (its tag, when it was sent,
     * on which connection), made only for a pool with an observer or by
     * amy_future_set_tag; freed with the future. NULL otherwise. */
    struct amy__qobs *obs;
};

/* A query's record for observers (src/observe.c fills it in; the future
 * frees it, out of whatever list holds it). */
typedef struct amy__qobs {
    amy__link live; /* on its pool's live list until ended */
    amy__link due;  /* on its pool's due list while query_start is due */
    amy_future *f;  /* whose record it is */
    const struct amy__conn_cfg *server; /* of the connection that ran it */
    struct amy__observe *o; /* its pool's observability, while live */
    void *tag;              /* amy_future_set_tag */
    ev_tstamp sent_at;
    unsigned long conn_id;
    unsigned char started, ended;
} amy__qobs;

/*
 * A new pending query future with a copy of sql, copies of n parameters
 * (their bytes included) and `extra` zeroed bytes for its op (f->data when
 * n is 0), all in one allocation. NULL on ENOMEM or when the sizes
 * overflow. The caller sets op, pool and fops before queuing it.
 */
amy_future *amy__future_new(struct ev_loop *loop, const char *sql, size_t len,
                            const amy_value *params, size_t n, size_t extra,
                            int obs);

/* Makes f a pending future of loop with no callbacks (the rest of *f as
 * the caller zeroed it): for futures of other shapes (a gather, a
 * promise). */
void amy__future_init(amy_future *f, struct ev_loop *loop);

/* Whether f is a live future: not NULL, not freed. A freed one is reported
 * as a misuse by `call`, the public function asked (src/debug.c): a debug
 * build aborts. */
static inline int amy__future_live(const amy_future *f, const char *call)
{
    if (f && f->magic == AMY__FUTURE_LIVE)
        return 1;
    return amy__stale(f, f ? f->magic : 0, AMY__FUTURE_DEAD, "future", call);
}

/* amy__future_new without parameters or extra bytes. */
amy_future *amy__future_new_query(struct ev_loop *loop, const char *sql,
                                  size_t len);

/* Sets the error of a pending future (no resolution yet). msg may be NULL. */
void amy__future_set_error(amy_future *f, int status, unsigned server_errno,
                           const char *sqlstate, const char *msg);

/*
 * Resolution comes in two steps so that a connection can settle many
 * futures while its state is in flux and run user callbacks only once it is
 * consistent again.
 *
 * settle: fixes the outcome of a pending future: AMY_OK with result r (taken
 * over), or the error set before by amy__future_set_error; stops its
 * deadline; runs the owner's settled hook. From here on the future reads
 * as resolved.
 *
 * notify: runs the callbacks of a settled future; f may be freed by the time
 * this returns if the user asked for it.
 */
void amy__future_settle(amy_future *f, amy_result *r);
void amy__future_notify(amy_future *f);

/* settle + notify. */
void amy__future_resolve(amy_future *f, amy_result *r);

/*
 * Runs the callbacks of a settled future from the loop, at its next
 * iteration, never inside the caller's call (libuv's rule; the user's
 * amy_future_cancel, amy_future_then on a resolved future, promises). f is
 * held until then. A future without a loop (a gather of nothing) is
 * notified at once. Safe to call when they are already due.
 */
void amy__future_notify_soon(amy_future *f);

/*
 * A list of settled futures waiting for notify, linked through qlink. Each
 * is held (amy__future_hold) while on the list so a callback freeing it
 * cannot pull it out from under the walk.
 */
typedef struct amy__donelist {
    amy__link list;
} amy__donelist;

static inline void amy__donelist_init(amy__donelist *l)
{
    amy__list_init(&l->list);
}

/* Settles f and appends it to l. */
void amy__donelist_settle(amy__donelist *l, amy_future *f, amy_result *r);
/* Empties l: notifies and releases each of its futures, in order. */
void amy__donelist_notify(amy__donelist *l);

/* amy__future_set_error + amy__future_resolve. */
void amy__future_fail(amy_future *f, int status, unsigned server_errno,
                      const char *sqlstate, const char *msg);

/* A future already failed with status and msg; NULL on ENOMEM. */
amy_future *amy__future_failed(struct ev_loop *loop, int status,
                               const char *msg);

/* Keep f's memory (its SQL) alive across a free; release may free it. */
void amy__future_hold(amy_future *f);
void amy__future_release(amy_future *f);

#endif
