/* One connection: a MYSQL handle driven through the non-blocking API.
 * Internal. The state machine is described at the top of conn.c. */
#ifndef AMY_CONN_H
#define AMY_CONN_H

#include <ev.h>
#include <mysql.h>
#include <stddef.h>

#include "amysql.h"
#include "bound.h"
#include "dial.h"
#include "future.h"
#include "list.h"
#include "op.h"
#include "owner.h"
#include "tls.h"
#include "turns.h"
#include "wire.h"

/* What a connection is told by whoever makes it: where to connect, as whom,
 * and its caps. Owned by the maker, which outlives the connection. */
typedef struct amy__conn_cfg {
    const char *host; /* what the connector gets: an IP, or "localhost" */
    const char *user, *password, *database, *socket; /* NULL if absent */
    const char *endpoint; /* "host:port" or the socket, for messages */
    /* The server as the DSN names it, for observers (server.address; the
     * socket's path and port 0 for a Unix socket). */
    const char *server_name;
    unsigned server_port;
    unsigned port;       /* 0: the default */
    const char *charset; /* the connection's character set (escaping too) */
    char *const *init;   /* statements run after connecting, before READY */
    unsigned ninit;
    unsigned multi_statements;
    unsigned pipeline;     /* in-flight queries at most */
    size_t pipeline_bytes; /* their request bytes at most (if more than one) */
    unsigned read_coalesce_us;
    unsigned connect_timeout_ms; /* 0: none */
    /* A query killed after its future left (timed out, canceled) that has
     * not answered this long after the kill was asked for costs its
     * connection (0: wait for ever). */
    unsigned kill_grace_ms;
    const char *auth_plugins; /* the connector's restricted_auth list */
    unsigned stmt_cache;      /* prepared statements kept (stmt.c) */
    size_t max_result_bytes;  /* a query's buffered results (0: any) */
    amy_stats *stats;         /* where the op kinds count (statement cache) */
    /* TLS: when amy__tls_wanted, the connect runs on the dialer's thread,
     * to tls_host (the DSN's host name, which verify_identity checks;
     * else the address in host). */
    const amy__tls_cfg *tls;
    amy__dialer *dialer;
    const char *tls_host;
    unsigned char unix_socket; /* host is "localhost": the Unix socket */
    /* Where its reads wait their turn past an iteration's budget (the
     * owner's, with the loop's lifetime); NULL: never wait. */
    struct amy__turns *turns;
} amy__conn_cfg;

/* A query sent on a connection and not yet answered, oldest first. */
typedef struct amy__slot {
    amy_future *f;     /* NULL once the future left (canceled, timed out) */
    const amy__op *op; /* its kind (f->op, kept when f leaves) */
    size_t len;        /* its SQL length, counted against pipeline_bytes */
    unsigned long long seq;  /* order sent on this connection */
    unsigned long long wend; /* written by us: its last byte's offset in the
                                write stream (reached the socket once
                                wbuf.flushed >= wend) */
    /* Written by its kind through the connector: the request may have
     * reached the server (amy__conn_head_sent). */
    unsigned char sent_by_op;
    unsigned char killed; /* KILL QUERY was sent for it */
    /* Set when its future left: its text may answer with several result
     * sets (see may_have_more in conn.c; the text is gone with f). */
    unsigned char may_more;
} amy__slot;

/* See the state machine at the top of conn.c. */
enum amy__cstate { AMY__C_CONNECTING, AMY__C_READY, AMY__C_DEAD };

/* The connector call in progress (c->op). */
enum amy__cop {
    AMY__OP_NONE,
    AMY__OP_CONNECT,
    AMY__OP_INIT,       /* real_query of init statement c->init_next */
    AMY__OP_INIT_STORE, /* its result, dropped */
    AMY__OP_INIT_NEXT,  /* next_result, for an init of several statements */
    AMY__OP_READ,       /* read_query_result of the oldest in flight */
    AMY__OP_STORE,      /* its store_result */
    AMY__OP_NEXT,       /* next_result */
    AMY__OP_CLOSE,      /* close, only inside amy__conn_destroy */
    AMY__OP_KIND        /* a call of the op kind c->kind */
};

/* Connection-level errors come from the client library: 2000-2999 are the
 * classic CR_* codes, 5000-5999 Connector/C's own. */
static inline int amy__is_client_error(unsigned e)
{
    return (e >= 2000 && e < 3000) || (e >= 5000 && e < 6000);
}

/* Whether a failure with error number e leaves the stream in doubt, so
 * that the connection must close: a client error, or one with no number
 * (the connector failed inside, e.g. allocating for the column count the
 * server announced, with the rest of that answer unread). Only an error
 * the server sent leaves the stream where the next answer begins; a
 * connection kept after any other would give each later query the answer
 * of the one before it. */
static inline int amy__breaks_stream(unsigned e)
{
    return e == 0 || amy__is_client_error(e);
}

/* An error to report: the connection's, or a statement's. */
typedef struct amy__err {
    unsigned no;
    const char *sqlstate;
    const char *msg;
} amy__err;

typedef struct amy__conn {
    struct ev_loop *loop;
    const amy__conn_cfg *cfg;
    const amy__owner_ops *owner; /* and its self pointer: */
    void *owner_self;
    MYSQL *mysql;               /* NULL once closed */
    unsigned char state, op;    /* enum amy__cstate, enum amy__cop */
    unsigned char pumping;      /* inside drive(): owners must not kick */
    unsigned char results_lost; /* memory ran out copying a result set */
    unsigned char too_big;      /* the head's results passed the limit */
    unsigned char completed;    /* a call completed inside amy__conn_new */
    unsigned char connect_failed;
    unsigned char was_idle;     /* check the socket before reusing it */
    unsigned char read_pending; /* start READ once the socket is readable */
    unsigned char tls_asked;    /* TLS was asked for: the dialer connects */
    const amy__op *kind;        /* whose call it is, while op == KIND */
    ev_io io;  /* the connector's waits, and watching an idle socket */
    ev_io wio; /* our own writes, while the socket is full */
    ev_timer wait_timer;     /* the connector's MYSQL_WAIT_TIMEOUT */
    ev_timer coalesce_timer; /* read_coalesce_us: lets answers pile up */
    ev_tstamp busy_since;    /* loop time its pipeline last left empty */
    ev_timer connect_timer;  /* our connect_timeout_ms deadline */
    ev_timer grace_timer;    /* kill_grace_ms, for a killed head */
    amy__turn turn;          /* waiting its turn to read (turns.h) */

    /* In-flight ring, oldest at head. */
    amy__slot *ring;
    unsigned cap, head, count;
    size_t bytes;

    /* Requests written by us, not the connector (wire.c). */
    amy__wbuf w;
    void *ssl;       /* the session's OpenSSL SSL when encrypted, else NULL */
    amy__dial *dial; /* the dialer's, while it connects c->mysql */
    const char *dial_why; /* why the dial failed, if not the connector's
                             error (valid until finish() copied it) */
    unsigned dial_err;    /* and its client error number */

    /* Result sets of the oldest in-flight query, read so far. */
    amy_result *rhead, *rtail;
    /* Where its rows are read, within max_result_bytes (bound.h); its
     * rows buffer serves the op kinds' result sets too. */
    amy__bound bound;

    /* Outputs of the current connector call. */
    int iret;
    my_bool bret;
    MYSQL *mret;
    MYSQL_RES *res;

    amy__ext *exts;     /* state of op kinds, made on first use */
    amy__donelist done; /* settled while driving; notified after */

    unsigned long thread_id; /* the server's connection id */
    /* Statements the server refused with 1290 (--read-only): owners that
     * need a writable server watch it. */
    unsigned read_only_refusals;
    unsigned init_next; /* the init statement running (CONNECTING) */
    unsigned long long next_seq;

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

    /* Why the connect failed, for the futures the owner fails with it. */
    unsigned err_no;
    char err_sqlstate[6];
    char err_msg[MYSQL_ERRMSG_SIZE + 160];

    /* The owner's: conn.c never reads or writes these. */
    amy__link olink;      /* in the owner's list of connections */
    amy__link oidle;      /* in the owner's list of idle ones */
    unsigned long serial; /* the owner's name for it */
    ev_tstamp idle_since;
    ev_tstamp expires_at;     /* max_lifetime_ms: retire it then (0: never) */
    ev_tstamp born;           /* ev_time() when its connect started */
    unsigned host;            /* which of the owner's hosts it connects to */
    struct amy_future *probe; /* a role probe to send first (pool.c) */
    unsigned char probing;    /* that probe has not answered yet */
    unsigned char retire;     /* close it once idle (its host's role) */
    int close_status;         /* why it broke (the lost hook), for observers */
    unsigned close_errno;
    char close_msg[160];
} amy__conn;

/* Whether c may take f now: the pipeline depth and byte caps, and the
 * kinds that need the connection to themselves. Owners take nothing else.
 * Inline: it runs for every query an owner hands out. */
static inline int amy__conn_accepts(const amy__conn *c, const amy_future *f)
{
    if (c->count == 0)
        return 1;
    /* A kind that runs alone starts on an empty connection, and nothing
     * follows it until it completes: its calls must not wait behind, or
     * be mixed with, anyone else's. A drained one starts on an empty
     * connection too: it is written from the state the last answer
     * reported, which an answer still to come could change. */
    if (f->op->alone || f->op->drained || c->ring[c->head].op->alone)
        return 0;
    /* Bounded request bytes in flight: with large requests and large
     * answers both sides would otherwise block writing. */
    return c->count < c->cap && c->bytes + f->sql_len <= c->cfg->pipeline_bytes;
}

/*
 * Creates a connection and starts connecting to cfg's server. Returns NULL
 * on ENOMEM. The owner hears back through its hooks (owner.h); none of them
 * is called before this returns. cfg and the owner outlive the connection.
 */
amy__conn *amy__conn_new(struct ev_loop *loop, const amy__conn_cfg *cfg,
                         const amy__owner_ops *owner, void *self);

/* From now on c asks this owner (a pinned handle taking it, or giving it
 * back). Only between calls, with nothing in flight. */
void amy__conn_set_owner(amy__conn *c, const amy__owner_ops *owner, void *self);

/* Asks an idle READY connection to look for work. */
void amy__conn_kick(amy__conn *c);

/* Queries in flight on c. */
static inline unsigned amy__conn_inflight(const amy__conn *c)
{
    return c->count;
}

/* A pending future's hook (amy__fops.detach) for any future queued in an
 * amy__queue and sent on a connection: it leaves its queue, or its slot (the
 * connection drops the answer and kills the statement on the server). */
void amy__conn_detach_future(amy_future *f);

/* A KILL QUERY sent for this connection completed. */
void amy__conn_kill_done(amy__conn *c);

/* For the op kinds. */
/* The write hook of a plain text query (amy__op_text), for kinds sent as
 * one (a stream). */
int amy__conn_write_text(amy__conn *c, amy_future *f, size_t *len, char *err,
                         size_t errlen);
/* Runs c from step status st (the kind's own call completed: 0). */
void amy__conn_drive(amy__conn *c, int st);
/* One more result set of the head query (NULL: memory ran out). */
void amy__conn_add_result(amy__conn *c, amy_result *r);
/* The head's rows passed max_result_bytes (they were read and dropped):
 * it completes AMY_ETOOBIG. */
void amy__conn_too_big(amy__conn *c);
/* The connector's error of the last call on c's MYSQL handle. */
amy__err amy__conn_err(amy__conn *c);
/* A text result set of the head is done: the next one the server
 * announced is read (returns NEXT's step status), or the head completes
 * (NOTHING). */
int amy__conn_after_result(amy__conn *c);
/* The head has all its answers (e NULL: success, else its error). */
void amy__conn_complete(amy__conn *c, const amy__err *e);
/* The connection broke (e NULL: the connector's error): every query sent
 * on it fails, and it is closed. */
void amy__conn_break(amy__conn *c, const amy__err *e);
/* Settles f onto c's done list (its callbacks run once c is consistent). */
void amy__conn_settle(amy__conn *c, amy_future *f, amy_result *r);
/* The head's request, written by its kind, may have reached the server: it
 * is never sent again if the connection breaks. */
void amy__conn_head_sent(amy__conn *c);
/* The state of kind `ops` on c, or NULL. */
void *amy__conn_ext(const amy__conn *c, const amy__ext_ops *ops);
/* The session was reset on the server: every kind's state drops what the
 * server no longer holds (amy__ext_ops.session_reset). */
void amy__conn_session_reset(amy__conn *c);
/* Hangs e (allocated by the kind, starting with an amy__ext) on c. */
void amy__conn_add_ext(amy__conn *c, amy__ext *e, const amy__ext_ops *ops);

/* Frees a DEAD connection (its owner has unlinked it). */
void amy__conn_free(amy__conn *c);

/*
 * Tears the connection down at once, without running the loop: in-flight
 * futures fail with status (AMY_ECANCELED at pool free), the owner hears
 * `lost`, the MYSQL handle is closed, and c is freed. The owner has
 * already unlinked c.
 */
void amy__conn_destroy(amy__conn *c, int status);

#endif
