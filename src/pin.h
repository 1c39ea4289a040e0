/* Pinned connections (amy_pool_acquire): transactions. Internal. */
#ifndef AMY_PIN_H
#define AMY_PIN_H

#include "amysql.h"
#include "conn.h"
#include "pool.h"
#include "queue.h"

/*
 * A handle on one connection taken out of the pool. Its queries go to its
 * own queue, in order, on that connection only. The user owns the handle
 * until amy_conn_release; while pinned, the handle is the connection's
 * owner (owner.h).
 */
struct amy_conn {
    amy_pool *pool; /* NULL once the pool was freed */
    amy__conn *c;   /* NULL once the connection died or the pool was freed */
    amy__queue q;   /* its queries not yet sent */
    unsigned char released; /* the user let go: give it back when idle */
    unsigned char rolling_back;
    unsigned char resetting; /* reset_on_release: the reset was queued */
    /* The transaction runner (txn.c) turned autocommit off: with
     * reset_on_release=0, turn it on again before the pool reuses the
     * connection (with reset, the reset does it). */
    unsigned char restore_autocommit;
    /* The reset and init futures, held so that their outcome can be read
     * once the connection is idle again (each frees itself when done). */
    amy_future **held;
    unsigned nheld;
    amy__lease lease; /* hears when the pool is freed */
};

#endif
