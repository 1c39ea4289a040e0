/* Pinned connections (amy_pool_acquire): transactions. Internal. */
#ifndef AMY_PIN_H
#define AMY_PIN_H

#include "amysql.h"
#include "conn.h"
#include "queue.h"

/*
 * A handle on one connection taken out of the pool. Its queries go to its
 * own queue, in order, on that connection only. The user owns the handle
 * until amy_conn_release; the connection points back to it while pinned.
 */
struct amy_conn {
    amy_pool *pool; /* NULL once the pool was freed */
    amy__conn *c;   /* NULL once the connection died or the pool was freed */
    amy__queue q;   /* its queries not yet sent */
    unsigned char released; /* the user let go: give it back when idle */
    unsigned char rolling_back;
    struct amy_conn *next, *prev; /* the pool's list of handles */
};

/* Connection c takes the pin of acquire future f (settled by the caller). */
void amy__pin_attach(amy__conn *c, amy_future *f);

/* For a handle that cannot take queries (NULL, released, its pool freed,
 * its connection lost): a future failed with the reason. NULL otherwise
 * (and when memory runs out). */
amy_future *amy__pin_unusable(amy_conn *h);

/* The next query of c's pin it may send, or NULL (caps as for the pool). */
amy_future *amy__pin_take(amy__conn *c);

/*
 * c is pinned and has nothing in flight or queued. If its handle was
 * released: roll back an open transaction first (returns 1: a ROLLBACK was
 * queued), else unpin it (returns 0: c goes back to the pool).
 */
int amy__pin_idle(amy__conn *c);

/* c's connection is gone: its pin's queued queries fail with status; the
 * handle is detached (freed if it was released). */
void amy__pin_lost(amy__conn *c, int status, unsigned err, const char *sqlstate,
                   const char *msg, amy__donelist *done);

/* At pool free: every handle forgets the pool. */
void amy__pin_pool_gone(amy_pool *pool);

#endif
