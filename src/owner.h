/*
 * What a connection asks of whoever owns it. Internal.
 *
 * A connection (conn.c) knows nothing above it: it asks its owner for work
 * and tells it what happened, through these hooks (hiredis's adapter hooks,
 * trilogy's socket vtable). The pool owns its connections; a pinned handle
 * (pin.c) owns the one it pinned, and the KILL channel (kill.c) its own.
 * Handing a connection to another owner is amy__conn_set_owner.
 *
 * Every hook runs on the loop thread, while the connection is being driven
 * (no connector call in progress), and must not free the connection except
 * where it says so.
 */
#ifndef AMY_OWNER_H
#define AMY_OWNER_H

#include "amysql.h"
#include "future.h"

struct amy__conn;

/* Why the futures of a connection fail: its status and the error to show. */
typedef struct amy__why {
    int status;
    unsigned err;
    const char *sqlstate; /* NULL: HY000 */
    const char *msg;      /* NULL: the status's text */
} amy__why;

typedef struct amy__owner_ops {
    /* Whether work waits for c. Asked before an idle connection's socket is
     * checked (one syscall) on the way to taking it. */
    int (*has_work)(void *self, struct amy__conn *c);
    /* The next future c may send now (amy__conn_accepts says what it can
     * take), out of the owner's queue; NULL for none. c is busy from the
     * first call on. */
    amy_future *(*take)(void *self, struct amy__conn *c);
    /* A future c took but could not have sent (its connection broke before
     * the request was written, or a KILL meant for another query hit it)
     * comes back: first in line again. */
    void (*requeue)(void *self, struct amy__conn *c, amy_future *f);
    /* c connected. */
    void (*ready)(void *self, struct amy__conn *c);
    /* c has nothing in flight and nothing to take. Returns 1 when c should
     * look for work again (the owner queued some, or handed c to another
     * owner), 0 when c waits idle, -1 when c must not be reused (closed). */
    int (*idle)(void *self, struct amy__conn *c);
    /* c is closing: its in-flight futures fail with why next; the owner
     * fails what it queued for c alone, onto done. */
    void (*lost)(void *self, struct amy__conn *c, const amy__why *why,
                 amy__donelist *done);
    /* c is DEAD: the owner unlinks and frees it (amy__conn_free). */
    void (*dead)(void *self, struct amy__conn *c);
    /* Stop c's running statement on the server (KILL QUERY); the owner
     * calls amy__conn_kill_done(c) when that completed, unless c died. */
    void (*kill)(void *self, struct amy__conn *c);
} amy__owner_ops;

#endif
