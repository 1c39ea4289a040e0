/* One connection: a MYSQL handle driven through the non-blocking API. */
#ifndef AMY_CONN_H
#define AMY_CONN_H

#include <ev.h>
#include <mysql.h>
#include <stddef.h>

#include "amysql.h"
#include "future.h"

/* A query sent on a connection and not yet answered, oldest first. */
typedef struct amy__slot {
    amy_future *f; /* NULL once the future left (canceled, timed out) */
    size_t len;    /* its SQL length, counted against pipeline_bytes */
    unsigned long long seq;  /* order sent on this connection */
    unsigned long long wend; /* its last byte's offset in the write stream */
    unsigned char stream;    /* its rows are streamed (amy_query_stream) */
    unsigned char exec;      /* a prepared statement (src/stmt.c) */
    unsigned char killed;    /* KILL QUERY was sent for it */
} amy__slot;

/* See the state machine at the top of conn.c. */
enum amy__cstate {
    AMY__C_CONNECTING,
    AMY__C_READY,
    AMY__C_CLOSING,
    AMY__C_DEAD
};

enum amy__cop {
    AMY__OP_NONE,
    AMY__OP_CONNECT,
    AMY__OP_READ,
    AMY__OP_STORE,
    AMY__OP_NEXT,
    AMY__OP_FETCH, /* fetch_row of a streamed result */
    AMY__OP_CLOSE, /* only inside amy__conn_destroy */
    /* Prepared statements (src/stmt.c). */
    AMY__OP_S_VARQ,     /* SELECT @@max_allowed_packet, for a batch */
    AMY__OP_S_VARSTORE, /* its result */
    AMY__OP_S_CLOSE,    /* closing an evicted (or uncached) statement */
    AMY__OP_S_PREPARE,
    AMY__OP_S_EXECUTE,
    AMY__OP_S_STORE,
    AMY__OP_S_NEXT
};

/* What a step returns when it started no connector call (conn.c, stmt.c);
 * otherwise a wait mask, or 0 when the call completed at once. */
#define AMY__NOTHING (-1)

/* Connection-level errors come from the client library: 2000-2999 are the
 * classic CR_* codes, 5000-5999 Connector/C's own. */
static inline int amy__is_client_error(unsigned e)
{
    return (e >= 2000 && e < 3000) || (e >= 5000 && e < 6000);
}

/* An error to report: the connection's, or a statement's. */
typedef struct amy__err {
    unsigned no;
    const char *sqlstate;
    const char *msg;
} amy__err;

typedef struct amy__conn {
    amy_pool *pool;
    MYSQL *mysql; /* NULL once closed */
    unsigned char state, op;
    unsigned char pumping;      /* inside conn_pump: the pool must not kick */
    unsigned char results_lost; /* memory ran out copying a result set */
    unsigned char completed;    /* a call completed inside amy__conn_new */
    unsigned char connect_failed;
    ev_io io;  /* the connector's waits, and watching an idle socket */
    ev_io wio; /* our own writes, while the socket is full */
    ev_timer wait_timer;     /* the connector's MYSQL_WAIT_TIMEOUT */
    ev_timer coalesce_timer; /* read_coalesce_us: lets answers pile up */
    ev_timer connect_timer;  /* our connect_timeout_ms deadline */

    /* In-flight ring, oldest at head. */
    amy__slot *ring;
    unsigned cap, head, count;
    size_t bytes;

    /* Requests are written by us, not the connector (see conn.c): COM_QUERY
     * packets wait in wbuf[woff, wlen) until the socket takes them. */
    char *wbuf;
    size_t wcap, woff, wlen;
    unsigned long long wtotal;   /* bytes ever appended */
    unsigned long long wflushed; /* bytes ever written to the socket */

    /* The streamed result of the oldest in-flight query, if any. */
    MYSQL_RES *sres;
    MYSQL_ROW srow;
    size_t *slens;        /* its row's lengths as size_t, for the callback */
    uint64_t srows;       /* rows delivered so far */
    unsigned char parked; /* the stream is paused: nothing is driving it */

    /* Result sets of the oldest in-flight query, read so far. */
    amy_result *rhead, *rtail;

    /* Outputs of the current connector call. */
    int iret;
    my_bool bret;
    MYSQL *mret;
    MYSQL_RES *res;

    struct amy__stmts *stmts; /* prepared statements, made on first use */

    amy__donelist done;   /* settled while driving; notified after */
    struct amy_conn *pin; /* the handle it is pinned to (src/pin.c) */

    unsigned long serial;    /* the pool's name for it, for KILL callbacks */
    unsigned long thread_id; /* the server's connection id */
    unsigned long long next_seq;
    ev_tstamp idle_since;
    unsigned char was_idle;     /* check the socket before reusing it */
    unsigned char read_pending; /* start READ once the socket is readable */

    /*
     * KILL QUERY names a connection, not a query: one sent for the head may
     * land on the next query if the head finished meanwhile. While a kill
     * may still land (kills_pending), or until the queries it could have hit
     * (seq in [kill_lo, kill_hi]) have answered, an "interrupted" (1317)
     * answer in that range is taken as a stray kill and the query re-sent.
     */
    unsigned kills_pending;
    unsigned char kill_active;
    unsigned long long kill_lo, kill_hi;

    /* Why the connect failed, for the futures the pool fails with it. */
    unsigned err_no;
    char err_sqlstate[6];
    char err_msg[MYSQL_ERRMSG_SIZE + 160];

    struct amy__conn *next, *prev; /* pool's list of connections */
    struct amy__conn *idle_next, *idle_prev;
    unsigned char in_idle;
} amy__conn;

/*
 * Creates a connection and starts connecting. Returns NULL on ENOMEM. The
 * pool hears back through amy__pool_on_ready / _on_connect_failed /
 * _on_dead; none of them is called before this returns.
 */
amy__conn *amy__conn_new(amy_pool *pool);

/* Asks an idle READY connection to look at the pool's queue. */
void amy__conn_kick(amy__conn *c);

/* The future of slot s left while in flight: drop it, stop it on the
 * server once it is the oldest in flight. */
void amy__conn_detach(amy__conn *c, amy__slot *s);

/* Picks a paused stream up again (amy_stream_resume). */
int amy__conn_resume(amy__conn *c);

/* A KILL QUERY sent for this connection completed. */
void amy__conn_kill_done(amy__conn *c);

/* For src/stmt.c: one more result set of the head query (NULL: memory ran
 * out); the head has all its answers (e NULL: success, else its error);
 * the connection broke (e NULL: the connector's error). */
void amy__conn_add_result(amy__conn *c, amy_result *r);
/* The connector's error of the last call on c's MYSQL handle. */
amy__err amy__conn_err(amy__conn *c);
void amy__conn_complete(amy__conn *c, const amy__err *e);
void amy__conn_break(amy__conn *c, const amy__err *e);

/* Frees a DEAD connection (the pool has unlinked it). */
void amy__conn_free(amy__conn *c);

/*
 * Tears the connection down at once, without running the loop: in-flight
 * futures fail with status (AMY_ECANCELED at pool free), the MYSQL handle is
 * closed, and c is freed. The pool has already unlinked c.
 */
void amy__conn_destroy(amy__conn *c, int status);

#endif
