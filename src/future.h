/* Futures: state, callbacks, deferred free, gather. Internal. */
#ifndef AMY_FUTURE_H
#define AMY_FUTURE_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "amysql.h"

/* What an amy_query_stream future carries. */
typedef struct amy__stream {
    amy_row_cb cb;
    void *arg;
} amy__stream;

/* One registered callback; linked in its future's list until it runs. */
typedef struct amy__cbnode {
    struct amy__cbnode *next, *prev;
    amy_future *owner; /* future whose list holds it; NULL once unlinked */
    amy_callback cb;
    void *arg;
    unsigned char heap; /* malloc'ed by amy_future_then */
} amy__cbnode;

struct amy__slot;

enum amy__fkind { AMY__F_QUERY, AMY__F_GATHER };
enum amy__fwhere { AMY__W_NONE, AMY__W_QUEUED, AMY__W_INFLIGHT };
/* What kind of prepared-statement future (src/stmt.c), if any: its params
 * are one row (EXEC) or nparams / ncols rows (BATCH). */
enum amy__fexec { AMY__X_NONE, AMY__X_EXEC, AMY__X_BATCH };

struct amy_future {
    int status;
    unsigned char kind;  /* enum amy__fkind */
    unsigned char where; /* enum amy__fwhere: which list holds the query */
    unsigned char free_pending;
    unsigned char waited; /* amy_future_wait is running the loop for it */
    unsigned busy;        /* holds that defer the free: callbacks, wait, send */
    unsigned server_errno;
    unsigned timeout_ms; /* the deadline's length, for its message */
    char sqlstate[6];
    /* Bit fields: the future's size is what a pending query costs (W4). */
    unsigned char acquire : 1; /* an amy_pool_acquire future */
    unsigned char retried : 1; /* re-sent once after a stray KILL */
    unsigned char stream : 1;  /* an amy_query_stream future (see stream) */
    unsigned char paused : 1;  /* amy_stream_pause */
    unsigned char exec : 2;    /* enum amy__fexec: a prepared statement */
    uint16_t ncols;            /* amy_exec_batch: values per row */
    struct ev_loop *loop;
    amy_result *result;
    char *error;
    amy__cbnode *cb_head, *cb_tail;
    amy__cbnode cb0; /* the first callback needs no allocation */

    /* Query futures only. */
    amy_pool *pool;
    amy_future *qnext, *qprev; /* its queue's links while QUEUED */
    struct amy__queue *queue;  /* the pool's, or a pinned connection's */
    /* The pinned connection it was sent to; for an acquire future, the
     * handle it gives. */
    struct amy_conn *pin;
    struct amy__slot *slot; /* in-flight slot while INFLIGHT */
    struct amy__conn *conn; /* its connection while INFLIGHT */
    ev_timer deadline;      /* query_timeout_ms, when set */
    ev_tstamp queued_at;    /* for connect_timeout_ms during outages */
    size_t sql_len;
    char *sql; /* NUL-terminated copy, in the same allocation */
    union {
        amy_value *params; /* amy_query_params: copies, same allocation */
        struct amy__stream *rows; /* amy_query_stream: its callback */
    };
    size_t nparams;
};

/* A new pending query future with a copy of sql; NULL on ENOMEM. */
amy_future *amy__future_new_query(amy_pool *pool, struct ev_loop *loop,
                                  const char *sql, size_t len);

/* The same with copies of n parameters (their bytes included), all in the
 * one allocation; NULL on ENOMEM or when the sizes overflow. */
amy_future *amy__future_new_params(amy_pool *pool, struct ev_loop *loop,
                                   const char *sql, size_t len,
                                   const amy_value *params, size_t n);

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
 * deadline. From here on the future reads as resolved.
 *
 * notify: runs the callbacks of a settled future; f may be freed by the time
 * this returns if the user asked for it.
 */
void amy__future_settle(amy_future *f, amy_result *r);
void amy__future_notify(amy_future *f);

/* settle + notify. */
void amy__future_resolve(amy_future *f, amy_result *r);

/*
 * A list of settled futures waiting for notify, linked through qnext. Each
 * is held (amy__future_hold) while on the list so a callback freeing it
 * cannot pull it out from under the walk.
 */
typedef struct amy__donelist {
    amy_future *head, *tail;
} amy__donelist;

/* Settles f and appends it to l. */
void amy__donelist_settle(amy__donelist *l, amy_future *f, amy_result *r);
/* Notifies and releases every future of l (l may be a copy). */
void amy__donelist_notify(amy__donelist l);

/* amy__future_set_error + amy__future_resolve. */
void amy__future_fail(amy_future *f, int status, unsigned server_errno,
                      const char *sqlstate, const char *msg);

/* Resolves a pending query AMY_ETIMEDOUT, leaving its queue or slot. */
void amy__future_expire(amy_future *f);

/* Keep f's memory (its SQL) alive across a free; release may free it. */
void amy__future_hold(amy_future *f);
void amy__future_release(amy_future *f);

#endif
