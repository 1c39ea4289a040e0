/*
 * Operation kinds: what a future asks a connection to do. Internal.
 *
 * Each queued future carries a pointer to its kind (libpq tags each command
 * queue entry with its query class). The connection (conn.c) runs plain and
 * parameterised text queries itself, pipelined: that is the hot path. The
 * other kinds plug in through this table from their own files: streams
 * (op_stream.c), prepared statements and bulk batches (stmt.c), acquiring a
 * pinned connection (pin.c).
 *
 * A kind's connector calls run as c->op == AMY__OP_KIND with c->kind set to
 * it; its own phases are its own business. Per-connection state of a kind
 * (the statement cache) hangs off the connection as an amy__ext.
 */
#ifndef AMY_OP_H
#define AMY_OP_H

#include <stddef.h>

#include "amysql.h"

struct amy__conn;

/* Statuses of a step, besides a wait mask (> 0) and 0 (the call completed
 * at once): no connector call was started; a paused stream. */
#define AMY__NOTHING (-1)
#define AMY__PARKED  (-2)

typedef struct amy__op {
    const char *name;
    /* It needs the connection to itself: taken only when nothing is in
     * flight, and nothing is taken after it until it completes. */
    unsigned char alone;
    /* It is written from the session state the last answer reported (an
     * amy_query_params literal that depends on NO_BACKSLASH_ESCAPES):
     * taken only when nothing is in flight, so that no answer still to
     * come can change that state. Others may follow it. */
    unsigned char drained;
    /* It is never sent: a connection that takes it calls this instead,
     * which settles f (acquire hands the connection over). */
    void (*taken)(struct amy__conn *c, amy_future *f);
    /* Appends its request to c's write buffer. 0, or -1 with a message in
     * err (f then fails AMY_EINVAL). NULL: begin writes it through the
     * connector. */
    int (*write)(struct amy__conn *c, amy_future *f, size_t *len, char *err,
                 size_t errlen);
    /* f is the oldest in flight and not written by us: start its calls.
     * Returns a step status (above). */
    int (*begin)(struct amy__conn *c);
    /* Its text answer carries a result set: read the rows its own way
     * (a stream) instead of storing them. Returns a step status. */
    int (*rows)(struct amy__conn *c);
    /* The future left while in flight (canceled, timed out). */
    void (*detached)(struct amy__conn *c);
    /* Its connector call (c->op AMY__OP_KIND) can go on, or completed. */
    int (*cont)(struct amy__conn *c, int ready);
    int (*finish)(struct amy__conn *c);
} amy__op;

/* Per-connection state of a kind, linked on the connection. */
typedef struct amy__ext_ops {
    /* The handle is about to close (its socket is shut down already):
     * drop what reads from it. May be NULL. */
    void (*closing)(struct amy__conn *c, void *ext);
    /* The handle is closed: free everything, no I/O. */
    void (*free)(struct amy__conn *c, void *ext);
    /* The server forgot the session (COM_RESET_CONNECTION): drop what it
     * held there, no I/O. May be NULL. */
    void (*session_reset)(struct amy__conn *c, void *ext);
} amy__ext_ops;

typedef struct amy__ext {
    struct amy__ext *next;
    const amy__ext_ops *ops;
} amy__ext;

/* What an amy__op_stream future carries (f->data): its row callback. */
typedef struct amy__stream {
    amy_row_cb cb;
    void *arg;
} amy__stream;

/* The built-in kinds (conn.c). */
extern const amy__op amy__op_text;   /* amy_query */
extern const amy__op amy__op_params; /* amy_query_params */
/* amy_query_params whose rendering depends on the escaping mode
 * (amy__params_need_mode): drained. */
extern const amy__op amy__op_params_mode;
/* The others, each from its own file. */
extern const amy__op amy__op_stream;  /* op_stream.c */
extern const amy__op amy__op_exec;    /* stmt.c */
extern const amy__op amy__op_batch;   /* stmt.c */
extern const amy__op amy__op_acquire; /* pin.c */

#endif
