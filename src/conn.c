/*
 * One connection: a MYSQL handle driven through the connector's
 * non-blocking calls (_start / _cont) from libev watchers. It knows two
 * small interfaces and nothing above them: its owner (owner.h: the pool, a
 * pinned handle, the KILL channel), which gives it work and hears what
 * happened, and operation kinds (op.h), which say how a future runs.
 *
 * States (c->state)
 *   CONNECTING  real_connect is in progress (op CONNECT), then the init
 *               statements run (ops INIT, INIT_STORE, INIT_NEXT).
 *   READY       connected; runs one connector call at a time (below).
 *   DEAD        closed: the connect failed or timed out, the connection
 *               broke (every in-flight future failed), the server closed it
 *               while idle, or its owner could not reuse it. The owner
 *               hears `dead` and frees it.
 *
 *   CONNECTING --connected, every init statement ran (owner: ready)--> READY
 *   CONNECTING --error, a failing init, or connect_timeout_ms--> DEAD
 *   READY --client error, write error, EOF while idle----------> DEAD
 *   READY --owner's idle hook says "not reusable"---------------> DEAD
 *   any --amy__conn_destroy (owner freeing it)------------------> freed
 *
 * Connector calls (c->op), one at a time: the connector does not refuse a
 * second _start while one is suspended, it mixes their results.
 *   NONE     no call in progress.
 *   CONNECT  real_connect.
 *   INIT     real_query of the next init statement (cfg->init), then
 *   INIT_STORE / INIT_NEXT  its result sets, read and dropped; after the
 *            last statement the connection is READY.
 *   READ     read_query_result for the oldest in-flight query (the
 *            connector adopts the packet numbers it reads, so it needs no
 *            state from the send).
 *   STORE    store_result when that answer carries a result set; its
 *            rows are read one at a time into c->bound.rows, within
 *            max_result_bytes (bound.c), not into the connector's memory.
 *   NEXT     next_result while the server says more results follow.
 *   KIND     a call of the op kind c->kind: a stream's fetch_row
 *            (op_stream.c), a prepared statement's phases (stmt.c, whose
 *            own diagram is at its top).
 *   CLOSE    close, only inside amy__conn_destroy.
 *
 * In READY, each time a call finishes, finish() acts on its outcome and
 * may start the follow-up call:
 *   READ --error (server's)---------------------------> head completes
 *   READ --client error-------------------------------> DEAD (break)
 *   READ --result set, head's kind reads rows itself--> the kind's rows()
 *   READ --result set---------------------------------> STORE
 *   READ --OK packet----+
 *   STORE --stored------+--more results---------------> NEXT
 *                       +--last one-------------------> head completes
 *   NEXT --another result: as READ; none: head completes
 *   KIND --the kind's finish(), which completes the head or starts its
 *          next call (it may also break the connection)
 * and when no call follows, next_op() picks the next step:
 *   (check)  an idle connection about to take work first peeks at its
 *            socket: EOF or an unasked-for packet (the server's goodbye)
 *            means the server closed it: DEAD, nothing lost.
 *   (send)   not a connector call: next_op() takes the futures the owner
 *            lets it take, appends their COM_QUERY packets to our write
 *            buffer (wire.c) and writes them with one send() (the rest, if
 *            the socket is full, from the wio watcher, alongside the reads).
 *            Once the pipeline is full, the next burst waits until half of
 *            it has answered. Answers come back FIFO. A kind that is never
 *            sent (acquire) acts when taken instead.
 *   (begin)  the head's kind writes through the connector (prepared
 *            statements): it runs alone, so it is the head just taken;
 *            its begin() starts its calls.
 *   (await)  the first query after an empty pipeline: READ starts when
 *            the socket turns readable (read_pending), not before, since
 *            the connector holds no read-ahead to find.
 *   READ     the next answer of a pipeline.
 *   (idle)   nothing in flight and nothing to take: the owner hears
 *            `idle` (it may queue a ROLLBACK or hand c to another owner:
 *            look again), and the socket is watched for EOF.
 * With read_coalesce_us, a readable socket of a connection that is under
 * sustained load (coalescing() below) waits for the next shared tick
 * (coalesce_timer) before the READ goes on.
 *
 * Futures that complete while the connection is being driven are settled
 * into a done list and their callbacks run only when drive() has finished
 * with the connection, so a callback always sees a consistent connection
 * (it may start queries, wait on others, free futures).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "auth.h"
#include "conn.h"
#include "dial.h"
#include "future.h"
#include "netpeek.h"
#include "op.h"
#include "owner.h"
#include "queue.h"
#include "result.h"
#include "tls.h"
#include "wire.h"

#define NOTHING AMY__NOTHING /* no connector call was started */

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void wio_cb(struct ev_loop *loop, ev_io *w, int revents);
static void drive_end(amy__conn *c);
static void drive(amy__conn *c, int st);
static void write_failed(amy__conn *c, int e);
static void unsent_back_to_queue(amy__conn *c);
static void fail_all(amy__conn *c, int status, unsigned err,
                     const char *sqlstate, const char *msg);
static void wait_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void coalesce_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void connect_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void grace_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

static int is_lost_error(unsigned e)
{
    return e == 2006 || e == 2013 || e == 2055;
}

/* ------------------------------------------------------------------------ */
/* Connector calls                                                          */
/* ------------------------------------------------------------------------ */

static int cont(amy__conn *c, int ready)
{
    switch (c->op) {
    case AMY__OP_CONNECT:
        return mysql_real_connect_cont(&c->mret, c->mysql, ready);
    case AMY__OP_INIT:
        return mysql_real_query_cont(&c->iret, c->mysql, ready);
    case AMY__OP_INIT_STORE:
        return mysql_store_result_cont(&c->res, c->mysql, ready);
    case AMY__OP_INIT_NEXT:
        return mysql_next_result_cont(&c->iret, c->mysql, ready);
    case AMY__OP_READ:
        return mysql_read_query_result_cont(&c->bret, c->mysql, ready);
    case AMY__OP_STORE:
        return mysql_store_result_cont(&c->res, c->mysql, ready);
    case AMY__OP_NEXT:
        return mysql_next_result_cont(&c->iret, c->mysql, ready);
    case AMY__OP_KIND:
        return c->kind->cont(c, ready);
    default: /* NONE; CLOSE is resumed by amy__conn_destroy itself */
        return 0;
    }
}

/* The dialer's connect finished (on the loop thread; c is CONNECTING and
 * nothing else drives it meanwhile). */
static void dialed(void *arg, int ok, unsigned err, const char *why)
{
    amy__conn *c = arg;
    c->dial = NULL;
    c->mret = ok ? c->mysql : NULL;
    c->dial_why = why;
    c->dial_err = err;
    drive(c, 0);
}

/* With TLS the connect runs on the dialer's thread (the connector's
 * handshake blocks); the call "completes" when the dialer reports. */
static int start_dial(amy__conn *c)
{
    const amy__conn_cfg *k = c->cfg;
    amy__dial_args a = {
        .host = k->tls_host ? k->tls_host : k->host,
        .user = k->user,
        .password = k->password,
        .database = k->database,
        .socket = k->socket,
        .port = k->port,
        .flags = k->multi_statements ? CLIENT_MULTI_STATEMENTS : 0,
        .demand_tls = k->tls->mode >= AMY__SSL_REQUIRED,
        .timeout_ms = k->connect_timeout_ms,
        .endpoint = k->endpoint,
    };
    c->op = AMY__OP_CONNECT;
    c->dial = amy__dial_start(k->dialer, c->mysql, &a, dialed, c);
    if (c->dial)
        return MYSQL_WAIT_READ; /* in progress; nothing to arm */
    c->mret = NULL;
    c->dial_why = "could not start the connector thread (out of memory or "
                  "threads)";
    c->dial_err = 2000; /* CR_UNKNOWN_ERROR: try again later */
    return 0;
}

static int start_connect(amy__conn *c)
{
    const amy__conn_cfg *k = c->cfg;
    if (c->tls_asked)
        return start_dial(c);
    c->op = AMY__OP_CONNECT;
    return mysql_real_connect_start(
        &c->mret, c->mysql, k->host, k->user, k->password, k->database, k->port,
        k->socket, k->multi_statements ? CLIENT_MULTI_STATEMENTS : 0);
}

/* The built-in kinds: text queries, written by us and pipelined. */
int amy__conn_write_text(amy__conn *c, amy_future *f, size_t *len, char *err,
                         size_t errlen)
{
    *len = f->sql_len;
    if (amy__wire_query(&c->w, f->sql, f->sql_len) == 0)
        return 0;
    snprintf(err, errlen, "out of memory buffering the query");
    return -1;
}

static int params_write(amy__conn *c, amy_future *f, size_t *len, char *err,
                        size_t errlen)
{
    return amy__wire_params(&c->w, c->mysql, f->sql, f->sql_len, f->params,
                            f->nparams, f->op == &amy__op_params_mode, len, err,
                            errlen);
}

const amy__op amy__op_text = {.name = "query", .write = amy__conn_write_text};
const amy__op amy__op_params = {.name = "query_params", .write = params_write};
const amy__op amy__op_params_mode = {
    .name = "query_params", .drained = 1, .write = params_write};

/* Puts f in flight: a request we write joins the write buffer. -1 (f
 * failed, and settled on the done list) when it cannot be written. */
static int queue_send(amy__conn *c, amy_future *f)
{
    const amy__op *op = f->op;
    size_t len = 0; /* a kind writing through the connector counts 0 */
    char err[160];
    int rc = 0;
    if (op == &amy__op_text) /* the hot path, without an indirect call */
        rc = amy__conn_write_text(c, f, &len, err, sizeof err);
    else if (op->write)
        rc = op->write(c, f, &len, err, sizeof err);
    if (rc != 0) {
        amy__future_set_error(f, AMY_EINVAL, 0, NULL, err);
        amy__donelist_settle(&c->done, f, NULL);
        return -1;
    }
    amy__slot *s = &c->ring[(c->head + c->count) % c->cap];
    s->f = f;
    s->op = op;
    s->len = len;
    s->seq = c->next_seq++;
    s->wend = c->w.total;
    s->sent_by_op = 0;
    s->killed = 0;
    c->count++;
    c->bytes += len;
    f->where = AMY__W_INFLIGHT;
    f->slot = s;
    f->conn = c;
    return 0;
}

/* Writes what the socket takes now. Returns 0 (the rest, if any, goes when
 * wio says writable) or -1 when the connection broke. */
static int flush(amy__conn *c)
{
    int fd = (int)mysql_get_socket(c->mysql);
    int r = c->ssl ? amy__wire_flush_tls(&c->w, c->ssl)
                   : amy__wire_flush(&c->w, fd);
    if (r < 0)
        return -1;
    if (r > 0 && !ev_is_active(&c->wio)) {
        ev_io_set(&c->wio, fd, EV_WRITE);
        ev_io_start(c->loop, &c->wio);
    } else if (r == 0 && ev_is_active(&c->wio)) {
        ev_io_stop(c->loop, &c->wio);
    }
    return 0;
}

static int start_read(amy__conn *c)
{
    /* The connector clears its error when it sends a command; we send our
     * own, so clear it here, or an end of rows would look like the previous
     * statement's error. */
    c->mysql->net.last_errno = 0;
    c->mysql->net.last_error[0] = '\0';
    memcpy(c->mysql->net.sqlstate, "00000", 6);
    amy__rowbuf_query(&c->bound.rows); /* a new head: nothing spent yet */
    c->op = AMY__OP_READ;
    c->read_pending = 0;
    /* Its rows are read with the answer unless its kind reads them. */
    c->bound.eager = !c->ring[c->head].op->rows;
    return mysql_read_query_result_start(&c->bret, c->mysql);
}

static int start_store(amy__conn *c)
{
    c->op = AMY__OP_STORE;
    c->res = NULL;
    c->bound.collect = 1; /* its rows go to c->bound.rows (bound.c) */
    return mysql_store_result_start(&c->res, c->mysql);
}

static int start_next(amy__conn *c)
{
    c->op = AMY__OP_NEXT;
    c->bound.eager = !c->ring[c->head].op->rows;
    return mysql_next_result_start(&c->iret, c->mysql);
}

/* ------------------------------------------------------------------------ */
/* Watchers                                                                 */
/* ------------------------------------------------------------------------ */

static void arm(amy__conn *c, int st)
{
    struct ev_loop *loop = c->loop;
    int fd = (int)mysql_get_socket(c->mysql);
    int ev = ((st & MYSQL_WAIT_READ) ? EV_READ : 0) |
             ((st & MYSQL_WAIT_WRITE) ? EV_WRITE : 0);
    /* The socket may be new at any suspension (connect makes one per
     * address): re-set the watcher whenever fd or interest changed. */
    if (ev_is_active(&c->io) &&
        (c->io.fd != fd || (c->io.events & (EV_READ | EV_WRITE)) != ev))
        ev_io_stop(loop, &c->io);
    if (ev && fd >= 0 && !ev_is_active(&c->io)) {
        ev_io_set(&c->io, fd, ev);
        ev_io_start(loop, &c->io);
    }
    if (st & MYSQL_WAIT_TIMEOUT) {
        double s = mysql_get_timeout_value_ms(c->mysql) / 1000.0;
        ev_timer_stop(loop, &c->wait_timer);
        ev_timer_set(&c->wait_timer, s, 0.);
        ev_timer_start(loop, &c->wait_timer);
    } else if (ev_is_active(&c->wait_timer)) {
        ev_timer_stop(loop, &c->wait_timer);
    }
}

/* Idle: keep reading interest on the socket, so a connection the server
 * closes while idle is noticed and dropped at once. */
static void watch_idle(amy__conn *c)
{
    arm(c, MYSQL_WAIT_READ);
    c->was_idle = 1;
}

static void disarm(amy__conn *c)
{
    amy__turns_leave(&c->turn);
    ev_io_stop(c->loop, &c->io);
    ev_timer_stop(c->loop, &c->wait_timer);
    ev_timer_stop(c->loop, &c->coalesce_timer);
}

static void stop_watchers(amy__conn *c)
{
    /* ev_io_stop also drops an event fed but not yet delivered. */
    disarm(c);
    ev_io_stop(c->loop, &c->wio);
    ev_timer_stop(c->loop, &c->connect_timer);
    ev_timer_stop(c->loop, &c->grace_timer);
}

/* ------------------------------------------------------------------------ */
/* Kinds' state on the connection                                           */
/* ------------------------------------------------------------------------ */

void *amy__conn_ext(const amy__conn *c, const amy__ext_ops *ops)
{
    for (amy__ext *e = c->exts; e; e = e->next)
        if (e->ops == ops)
            return e;
    return NULL;
}

void amy__conn_add_ext(amy__conn *c, amy__ext *e, const amy__ext_ops *ops)
{
    e->ops = ops;
    e->next = c->exts;
    c->exts = e;
}

void amy__conn_session_reset(amy__conn *c)
{
    for (amy__ext *e = c->exts; e; e = e->next)
        if (e->ops->session_reset)
            e->ops->session_reset(c, e);
}

/* The handle is about to close, its socket shut down. */
static void exts_closing(amy__conn *c)
{
    for (amy__ext *e = c->exts; e; e = e->next)
        if (e->ops->closing)
            e->ops->closing(c, e);
}

/* The handle is closed: the kinds free their state (no I/O). */
static void exts_free(amy__conn *c)
{
    while (c->exts) {
        amy__ext *e = c->exts;
        c->exts = e->next;
        e->ops->free(c, e);
    }
}

/* ------------------------------------------------------------------------ */
/* Completion                                                               */
/* ------------------------------------------------------------------------ */

/* The kill record ends once no KILL is on its way and every query it
 * could have hit has answered. */
static void kill_record_expire(amy__conn *c)
{
    if (c->kill_active && !c->kills_pending &&
        (c->count == 0 || c->ring[c->head].seq > c->kill_hi))
        c->kill_active = 0;
}

/* A query whose future left is stopped on the server once it is the
 * oldest in flight: then it is the one running (or just finished). */
static void maybe_kill_head(amy__conn *c)
{
    if (c->count == 0 || c->state != AMY__C_READY)
        return;
    amy__slot *s = &c->ring[c->head];
    if (s->f || s->killed)
        return;
    s->killed = 1;
    if (!c->kill_active || s->seq < c->kill_lo)
        c->kill_lo = s->seq;
    c->kill_active = 1;
    c->kills_pending++;
    c->owner->kill(c->owner_self, c);
    /* A server that went silent, or drips its answer a byte at a time,
     * never finishes it, KILL or not: past the grace the connection goes
     * instead of the pool (with pool=1 it would never serve again). */
    if (c->cfg->kill_grace_ms && c->state == AMY__C_READY) {
        ev_timer_set(&c->grace_timer, c->cfg->kill_grace_ms / 1000.0, 0.);
        ev_timer_start(c->loop, &c->grace_timer);
    }
}

/* Whether text may answer with several result sets: unless
 * multi_statements, only a statement that is not known to give exactly
 * one (CALL, EXECUTE, a compound BEGIN ... END, SET STATEMENT ... FOR,
 * anything this does not recognise). Run only when a server announces
 * more results, or a future leaves: never per query. */
static int sql_may_have_more(const char *q, size_t n)
{
    static const char *const one[] = {
        "SELECT",    "INSERT",   "UPDATE", "DELETE",  "REPLACE",  "SHOW",
        "DO",        "WITH",     "VALUES", "START",   "COMMIT",   "ROLLBACK",
        "SAVEPOINT", "RELEASE",  "USE",    "KILL",    "TRUNCATE", "CREATE",
        "DROP",      "ALTER",    "RENAME", "GRANT",   "REVOKE",   "LOCK",
        "UNLOCK",    "DESCRIBE", "DESC",   "EXPLAIN", "PREPARE",  "DEALLOCATE",
        "OPTIMIZE",  "ANALYZE",  "CHECK",  "REPAIR",  NULL};
    size_t i = 0;
    for (;;) { /* blanks and comments; an executable one may hold a CALL */
        while (i < n && (q[i] == ' ' || (q[i] >= '\t' && q[i] <= '\r')))
            i++;
        if (i + 1 < n && q[i] == '/' && q[i + 1] == '*') {
            if (i + 2 < n && (q[i + 2] == '!' || q[i + 2] == 'M'))
                return 1;
            const char *e = NULL;
            for (size_t j = i + 2; j + 1 < n; j++)
                if (q[j] == '*' && q[j + 1] == '/') {
                    e = q + j + 2;
                    break;
                }
            if (!e)
                return 1;
            i = (size_t)(e - q);
        } else if (i < n && (q[i] == '#' ||
                             (i + 2 < n && q[i] == '-' && q[i + 1] == '-' &&
                              (q[i + 2] == ' ' ||
                               (q[i + 2] >= '\t' && q[i + 2] <= '\r'))))) {
            while (i < n && q[i] != '\n')
                i++;
        } else {
            break;
        }
    }
    size_t w = 0;
    while (i + w < n && ((q[i + w] | 0x20) >= 'a' && (q[i + w] | 0x20) <= 'z'))
        w++;
    if (i + w < n && (q[i + w] == '_' || q[i + w] == '$' ||
                      (q[i + w] >= '0' && q[i + w] <= '9') ||
                      (unsigned char)q[i + w] >= 0x80))
        return 1; /* an identifier, not a keyword */
    for (const char *const *k = one; *k; k++) {
        size_t m = strlen(*k), j = 0;
        if (m != w)
            continue;
        while (j < m && (q[i + j] & ~0x20) == (*k)[j])
            j++;
        if (j == m)
            return 0;
    }
    return 1;
}

/* Whether the future of slot s (or the one that left it) may have more
 * result sets than the one just read: see sql_may_have_more. */
static int may_have_more(const amy__conn *c, const amy__slot *s)
{
    if (c->cfg->multi_statements)
        return 1;
    if (!s->f)
        return s->may_more;
    return sql_may_have_more(s->f->sql, s->f->sql_len);
}

/* The future of slot s left while in flight: drop it, stop it on the
 * server once it is the oldest in flight. */
static void detach(amy__conn *c, amy__slot *s)
{
    s->may_more = (unsigned char)sql_may_have_more(s->f->sql, s->f->sql_len);
    s->f = NULL;
    maybe_kill_head(c);
    if (s->op->detached)
        s->op->detached(c);
}

void amy__conn_detach_future(amy_future *f)
{
    if (f->where == AMY__W_QUEUED) {
        amy__queue_remove(f);
    } else if (f->where == AMY__W_INFLIGHT) {
        /* The connection still reads the answer, then drops it; the
         * statement is killed on the server. */
        amy__slot *s = f->slot;
        amy__conn *c = f->conn;
        f->slot = NULL;
        f->conn = NULL;
        f->where = AMY__W_NONE;
        detach(c, s);
    }
}

void amy__conn_kill_done(amy__conn *c)
{
    if (c->kills_pending)
        c->kills_pending--;
    /* It ran by now: it can only have hit a query already sent. */
    c->kill_hi = c->next_seq ? c->next_seq - 1 : 0;
    kill_record_expire(c);
}

static amy_future *ring_pop(amy__conn *c)
{
    amy__slot *s = &c->ring[c->head];
    amy_future *f = s->f;
    c->head = (c->head + 1) % c->cap;
    c->count--;
    c->bytes -= s->len;
    s->f = NULL;
    if (f) {
        f->where = AMY__W_NONE;
        f->slot = NULL;
        f->conn = NULL;
    }
    if (s->killed && ev_is_active(&c->grace_timer))
        ev_timer_stop(c->loop, &c->grace_timer); /* it answered in time */
    kill_record_expire(c);
    maybe_kill_head(c);
    return f;
}

/* An "interrupted" answer to a query that may have met a KILL meant for
 * the one before it: if so it is sent again. Each such answer is another
 * of our KILLs (a query resent behind a second canceled one can meet
 * that one's KILL too), so it may be sent again more than once, up to
 * AMY__MAX_STRAYS times. A batch of which chunks ran is never sent again. */
#define AMY__MAX_STRAYS 7
static int stray_kill(amy__conn *c, const amy__slot *s, unsigned err)
{
    return s->f && s->f->strays < AMY__MAX_STRAYS && !s->f->partial &&
           c->kill_active && err == 1317 && s->seq >= c->kill_lo &&
           (c->kills_pending || s->seq <= c->kill_hi);
}

void amy__conn_settle(amy__conn *c, amy_future *f, amy_result *r)
{
    amy__donelist_settle(&c->done, f, r);
}

static void settle_error(amy__conn *c, amy_future *f, int status, unsigned err,
                         const char *sqlstate, const char *msg)
{
    amy__future_set_error(f, status, err, sqlstate, msg);
    amy__donelist_settle(&c->done, f, NULL);
}

/* One more result set of the oldest in-flight query (a statement of a
 * multi-statement query, or of a CALL); r NULL means memory ran out. */
void amy__conn_too_big(amy__conn *c)
{
    c->too_big = 1;
}

void amy__conn_add_result(amy__conn *c, amy_result *r)
{
    if (!r) {
        c->results_lost = 1;
        return;
    }
    if (c->rtail)
        c->rtail->next = r;
    else
        c->rhead = r;
    c->rtail = r;
}

/* The result sets gathered so far for the head, handed over. */
static amy_result *take_results(amy__conn *c)
{
    amy_result *r = c->rhead;
    c->rhead = c->rtail = NULL;
    return r;
}

amy__err amy__conn_err(amy__conn *c)
{
    amy__err e = {mysql_errno(c->mysql), mysql_sqlstate(c->mysql),
                  mysql_error(c->mysql)};
    return e;
}

/* Gives f back to the owner: it was taken but cannot have run. */
static void give_back(amy__conn *c, amy_future *f)
{
    f->resent = 1;
    c->owner->requeue(c->owner_self, c, f);
}

/* The oldest in-flight query has all its answers: its result sets, or the
 * error e after the result sets of the statements before the failing one. */
void amy__conn_complete(amy__conn *c, const amy__err *e)
{
    int failed = e != NULL;
    int retry = failed && stray_kill(c, &c->ring[c->head], e->no);
    if (failed && e->no == 1290)
        c->read_only_refusals++;
    amy_future *f = ring_pop(c);
    amy_result *r = take_results(c);
    int lost = c->results_lost, big = c->too_big;
    c->results_lost = 0;
    c->too_big = 0;
    if (retry) {
        amy__result_free(r);
        f->strays++;
        give_back(c, f);
        return;
    }
    if (!f) {
        amy__result_free(r);
        return;
    }
    if (big) {
        /* Before a server error of a later statement: the result sets
         * the caller would have had are gone. */
        char msg[256];
        amy__result_free(r);
        snprintf(msg, sizeof msg,
                 "the result is larger than max_result_bytes=%zu (the DSN "
                 "key; 0 = no limit): its rows were read and dropped, and the "
                 "connection serves on; raise the limit, or read the rows "
                 "with amy_query_stream",
                 c->cfg->max_result_bytes);
        settle_error(c, f, AMY_ETOOBIG, 0, NULL, msg);
    } else if (failed) {
        amy__future_set_error(f, AMY_ESERVER, e->no, e->sqlstate, e->msg);
        amy__donelist_settle(&c->done, f, r);
    } else if (lost) {
        amy__result_free(r);
        settle_error(c, f, AMY_ENOMEM, 0, NULL,
                     "out of memory while copying the result");
    } else {
        amy__donelist_settle(&c->done, f, r);
    }
}

void amy__conn_head_sent(amy__conn *c)
{
    c->ring[c->head].sent_by_op = 1;
}

/*
 * A suspended call owns memory (a half-read result); resuming it with a
 * timeout makes the I/O it waits for fail, and with the socket shut down
 * (the caller did that) every later read or write fails at once, so the
 * call runs to its end (an error) without waiting again.
 */
static void end_suspended_call(amy__conn *c)
{
    while (c->op != AMY__OP_NONE && c->op != AMY__OP_CLOSE &&
           cont(c, MYSQL_WAIT_TIMEOUT) != 0) {
    }
    /* A store call (ours, or a kind's) that completed unread. */
    if (c->res)
        mysql_free_result(c->res);
    c->res = NULL;
    c->op = AMY__OP_NONE;
    c->kind = NULL;
}

static void shut_socket(amy__conn *c)
{
    int fd = (int)mysql_get_socket(c->mysql);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

/* Closes the socket under the connector and frees the handle. Shutting the
 * socket down first makes every pending or final write (COM_QUIT) fail at
 * once instead of blocking the loop. */
static void close_handle(amy__conn *c)
{
    if (c->dial) { /* the dialer has the handle: it closes it */
        stop_watchers(c);
        amy__dial_cancel(c->dial);
        c->dial = NULL;
        c->mysql = NULL;
        c->op = AMY__OP_NONE;
        return;
    }
    if (!c->mysql)
        return;
    stop_watchers(c);
    shut_socket(c);
    end_suspended_call(c);
    /* The socket is shut down: a kind reading the rest of a streamed
     * result fails at once instead of blocking. */
    exts_closing(c);
    mysql_close(c->mysql);
    c->mysql = NULL;
    c->ssl = NULL;
    exts_free(c); /* statements detached by mysql_close: frees, no I/O */
}

/* Every query still in flight fails with status; the handle is closed; the
 * owner fails what it queued for this connection alone. */
static void fail_all(amy__conn *c, int status, unsigned err,
                     const char *sqlstate, const char *msg)
{
    close_handle(c);
    amy__result_free(take_results(c));
    c->results_lost = 0;
    c->too_big = 0;
    c->bound.collect = 0;
    amy__bound_take_rows(&c->bound);
    amy__rowbuf_clear(&c->bound.rows);
    amy__why why = {status == AMY_ECANCELED ? AMY_ECANCELED : AMY_ECONNLOST,
                    err, sqlstate, msg};
    c->owner->lost(c->owner_self, c, &why, &c->done);
    while (c->count) {
        amy_future *f = ring_pop(c);
        if (f)
            settle_error(c, f, status, err, sqlstate, msg);
    }
    c->state = AMY__C_DEAD;
}

/* A client-side error on a READY connection: it cannot be trusted for
 * anything else, so every query sent on it fails and it is closed. */
void amy__conn_break(amy__conn *c, const amy__err *e)
{
    amy__err ce = amy__conn_err(c);
    if (!e)
        e = &ce;
    unsigned err = e->no;
    char msg[MYSQL_ERRMSG_SIZE + 64];
    char sqlstate[6];
    snprintf(msg, sizeof msg, "%s", e->msg);
    snprintf(sqlstate, sizeof sqlstate, "%s", e->sqlstate);
    if (!err) {
        /* The connector failed inside (a column count it could not
         * allocate for, ...) and left the rest of the answer unread. */
        err = 2000;
        snprintf(msg, sizeof msg,
                 "the client library failed reading the answer without "
                 "saying why (no error number); the connection is closed, "
                 "since the rest of the answer may still be unread");
        snprintf(sqlstate, sizeof sqlstate, "HY000");
    }
    unsent_back_to_queue(c);
    fail_all(c, is_lost_error(err) ? AMY_ECONNLOST : AMY_ECLIENT, err, sqlstate,
             msg);
}

/* Our own write failed: as a connection the server closed (2006). */
static void write_failed(amy__conn *c, int e)
{
    char msg[160];
    snprintf(msg, sizeof msg, "Server has gone away (write: %s)", strerror(e));
    unsent_back_to_queue(c);
    fail_all(c, AMY_ECONNLOST, 2006, "HY000", msg);
}

/* The connect failed (or timed out): the error is kept for the owner. */
static void connect_failed(amy__conn *c, unsigned no, const char *sqlstate,
                           const char *msg)
{
    c->err_no = no;
    snprintf(c->err_sqlstate, sizeof c->err_sqlstate, "%s", sqlstate);
    snprintf(c->err_msg, sizeof c->err_msg, "%s", msg);
    c->connect_failed = 1;
    fail_all(c, AMY_ECONNECT, c->err_no, c->err_sqlstate, c->err_msg);
}

/* Whether the request of slot s may have reached the server. */
static int maybe_sent(const amy__conn *c, const amy__slot *s)
{
    return s->op->write ? s->wend <= c->w.flushed : s->sent_by_op;
}

/* The connection broke: queries whose request never fully reached the
 * socket cannot have run, so they go back to the owner (in order, once)
 * for another connection. They are the newest in the ring. */
static void unsent_back_to_queue(amy__conn *c)
{
    while (c->count) {
        amy__slot *s = &c->ring[(c->head + c->count - 1) % c->cap];
        if (maybe_sent(c, s))
            break;
        amy_future *f = s->f;
        c->count--;
        c->bytes -= s->len;
        s->f = NULL;
        if (!f)
            continue;
        f->where = AMY__W_NONE;
        f->slot = NULL;
        f->conn = NULL;
        if (f->resent) {
            settle_error(c, f, AMY_ECONNLOST, 2006, "HY000",
                         "the connection broke before the query could be "
                         "sent");
            continue;
        }
        give_back(c, f);
    }
}

/* After a result set: read the next one the server announced, or hand
 * them all to the head's future. */
int amy__conn_after_result(amy__conn *c)
{
    if (mysql_more_results(c->mysql)) {
        if (!may_have_more(c, &c->ring[c->head])) {
            /* Read on, and this query takes the next one's answer. */
            amy__err e = {2027, "HY000",
                          "the server announced more result sets than the "
                          "query can have (one statement, multi_statements "
                          "off): the connection is closed, so that no query "
                          "gets another's answer"};
            amy__conn_break(c, &e);
            return NOTHING;
        }
        return start_next(c);
    }
    amy__conn_complete(c, NULL);
    return NOTHING;
}

/* A result set's rows are in c->bound.rows (bound.c), its columns are
 * fields: one more result of the head. A result set generates no id: the
 * connector's insert_id would still be the previous statement's. */
static void rows_read(amy__conn *c, const MYSQL_FIELD *fields, size_t ncols)
{
    amy__rowbuf *rows = &c->bound.rows;
    amy_result *r = amy__rowbuf_result(rows, fields, ncols,
                                       mysql_affected_rows(c->mysql), 0);
    if (!r && rows->over)
        amy__conn_too_big(c);
    else
        amy__conn_add_result(c, r);
}

/* READ: the first answer of the head; NEXT: a later statement's (0
 * another result, -1 none, >0 error). */
static int answered(amy__conn *c, int op)
{
    int got = amy__bound_take_rows(&c->bound);
    if (op == AMY__OP_NEXT && c->iret == -1) {
        amy__conn_complete(c, NULL);
        return NOTHING;
    }
    if (op == AMY__OP_READ ? c->bret != 0 : c->iret != 0) {
        if (amy__breaks_stream(mysql_errno(c->mysql)))
            amy__conn_break(c, NULL);
        else {
            amy__err e = amy__conn_err(c); /* the server stopped at this */
            amy__conn_complete(c, &e);
        }
        return NOTHING;
    }
    if (mysql_field_count(c->mysql) > 0) {
        const amy__op *k = c->ring[c->head].op;
        if (got) { /* read with the answer (bound.c): no store_result */
            rows_read(c, c->mysql->fields, mysql_field_count(c->mysql));
            return amy__conn_after_result(c);
        }
        return k->rows ? k->rows(c) : start_store(c);
    }
    amy__conn_add_result(c, amy__result_ok(mysql_affected_rows(c->mysql),
                                           mysql_insert_id(c->mysql)));
    return amy__conn_after_result(c);
}

static int stored(amy__conn *c)
{
    MYSQL_RES *res = c->res;
    c->res = NULL;
    c->bound.collect = 0; /* unused if it failed before the rows */
    if (!res) {
        amy__err e = amy__conn_err(c);
        if (amy__breaks_stream(e.no))
            amy__conn_break(c, &e);
        else
            amy__conn_complete(c, &e);
        return NOTHING;
    }
    rows_read(c, mysql_fetch_fields(res), mysql_num_fields(res));
    mysql_free_result(res); /* stored: no I/O */
    return amy__conn_after_result(c);
}

/* The connector's connect error, with what ssl_mode made it check when
 * that is what failed (its words alone do not say which name was
 * checked). */
static const char *tls_explained(amy__conn *c, char *buf, size_t len)
{
    const char *e = mysql_error(c->mysql);
    if (mysql_errno(c->mysql) == 5010) { /* CR_PLUGIN_NOT_ALLOWED */
        snprintf(buf, len, "%s%s", e, amy__auth_refused_hint());
        return buf;
    }
    if (!c->tls_asked || mysql_errno(c->mysql) != 2026)
        return e;
    const amy__conn_cfg *k = c->cfg;
    if (strstr(e, "Validation of SSL server certificate failed"))
        snprintf(buf, len,
                 "%s: the certificate does not name host '%s' "
                 "(ssl_mode=verify_identity)",
                 e, k->tls_host ? k->tls_host : k->host);
    else if (k->tls->mode >= AMY__SSL_VERIFY_CA && strstr(e, "certificate"))
        snprintf(buf, len,
                 "%s (ssl_mode=%s checks the server's certificate against "
                 "%s)",
                 e,
                 k->tls->mode == AMY__SSL_VERIFY_CA ? "verify_ca"
                                                    : "verify_identity",
                 k->tls->ca ? k->tls->ca : k->tls->capath);
    else
        return e;
    return buf;
}

/* Connected through the dialer: the session must be what ssl_mode asks
 * (no silent plaintext). 0, or -1 when the connection failed. */
static int tls_check(amy__conn *c)
{
    char msg[200];
    int r = amy__tls_after_connect(c->mysql, c->cfg->tls, msg, sizeof msg);
    if (r < 0) {
        connect_failed(c, 2026, "HY000", msg); /* CR_SSL_CONNECTION_ERROR */
        return -1;
    }
    c->ssl = r ? amy__tls_session(c->mysql) : NULL;
    return 0;
}

/* Connected and initialised: the owner may give it work. */
static int become_ready(amy__conn *c)
{
    ev_timer_stop(c->loop, &c->connect_timer);
    c->state = AMY__C_READY;
    c->owner->ready(c->owner_self, c);
    return NOTHING;
}

static int start_init(amy__conn *c, unsigned i)
{
    const char *sql = c->cfg->init[i];
    c->init_next = i;
    c->op = AMY__OP_INIT;
    return mysql_real_query_start(&c->iret, c->mysql, sql,
                                  (unsigned long)strlen(sql));
}

/* An init statement failed: the connection fails as a connect does, with
 * the server's error (a syntax error is then permanent: the owner fails
 * its queue at once). */
static int init_failed(amy__conn *c)
{
    char msg[MYSQL_ERRMSG_SIZE + 64];
    snprintf(msg, sizeof msg, "init statement %u of %u failed: %s",
             c->init_next + 1, c->cfg->ninit, mysql_error(c->mysql));
    connect_failed(c, mysql_errno(c->mysql), mysql_sqlstate(c->mysql), msg);
    return NOTHING;
}

/* The current init statement has no more results: the next one, or
 * READY. */
static int init_step_done(amy__conn *c)
{
    if (mysql_more_results(c->mysql)) {
        c->op = AMY__OP_INIT_NEXT;
        return mysql_next_result_start(&c->iret, c->mysql);
    }
    if (c->init_next + 1 < c->cfg->ninit)
        return start_init(c, c->init_next + 1);
    return become_ready(c);
}

/* INIT: its first answer; INIT_NEXT: a later one (-1: none). */
static int init_answered(amy__conn *c, int op)
{
    if (op == AMY__OP_INIT_NEXT && c->iret == -1)
        return init_step_done(c);
    if (c->iret != 0)
        return init_failed(c);
    if (mysql_field_count(c->mysql) > 0) {
        c->op = AMY__OP_INIT_STORE;
        c->res = NULL;
        return mysql_store_result_start(&c->res, c->mysql);
    }
    return init_step_done(c);
}

/*
 * The current call completed: act on its outcome. Returns the status of a
 * follow-up call it started (STORE after READ, ...), or NOTHING.
 */
static int finish(amy__conn *c)
{
    int op = c->op;
    const amy__op *kind = c->kind;
    c->op = AMY__OP_NONE;
    c->kind = NULL;
    switch (op) {
    case AMY__OP_CONNECT:
        if (!c->mret && c->dial_why) {
            connect_failed(c, c->dial_err, "HY000", c->dial_why);
            return NOTHING;
        }
        if (!c->mret) {
            char why[MYSQL_ERRMSG_SIZE + 200];
            connect_failed(c, mysql_errno(c->mysql), mysql_sqlstate(c->mysql),
                           tls_explained(c, why, sizeof why));
            return NOTHING;
        }
        if (c->tls_asked && tls_check(c) != 0)
            return NOTHING;
        c->thread_id = mysql_thread_id(c->mysql);
        /* Only now, on the loop thread: a dial abandoned earlier is
         * closed by the dialer, which must not find methods of ours. */
        amy__bound_install(&c->bound, c->mysql, c->cfg->max_result_bytes);
        return c->cfg->ninit ? start_init(c, 0) : become_ready(c);
    case AMY__OP_INIT:
    case AMY__OP_INIT_NEXT:
        return init_answered(c, op);
    case AMY__OP_INIT_STORE:
        if (c->res)
            mysql_free_result(c->res); /* stored: no I/O */
        else if (mysql_errno(c->mysql))
            return init_failed(c);
        c->res = NULL;
        return init_step_done(c);
    case AMY__OP_READ:
    case AMY__OP_NEXT:
        return answered(c, op);
    case AMY__OP_STORE:
        return stored(c);
    case AMY__OP_KIND:
        return kind->finish(c);
    default:
        return NOTHING;
    }
}

/* ------------------------------------------------------------------------ */
/* Driving                                                                  */
/* ------------------------------------------------------------------------ */

/* An idle connection should have nothing to read: EOF or an unasked-for
 * packet (the server's goodbye after KILL or wait_timeout) means the server
 * closed it. */
static int peek_dead(amy__conn *c)
{
    char b;
    ssize_t n =
        recv((int)mysql_get_socket(c->mysql), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 && c->ssl) /* a session ticket, or a record of a goodbye */
        return amy__tls_idle_dead(c->ssl);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

/* The server closed an idle connection: nothing was in flight, so nobody
 * hears of it; the owner replaces it when work comes. */
static void close_idle_dead(amy__conn *c)
{
    fail_all(c, AMY_ECONNLOST, 2013, "HY000", "closed by the server");
}

/* Takes what the owner gives and writes it; NOTHING when the connection
 * broke meanwhile. */
static int take_work(amy__conn *c)
{
    amy_future *f;
    int queued = 0;
    while ((f = c->owner->take(c->owner_self, c))) {
        if (f->op->taken) {
            f->op->taken(c, f); /* it may change c's owner */
            continue;
        }
        queued |= queue_send(c, f) == 0;
    }
    if (queued && flush(c) != 0) {
        write_failed(c, errno);
        return NOTHING;
    }
    return 0;
}

/* No call in progress: the next step (see the top of the file). */
static int next_op(amy__conn *c)
{
    for (;;) {
        if (c->was_idle && c->owner->has_work(c->owner_self, c)) {
            c->was_idle = 0;
            if (peek_dead(c)) {
                close_idle_dead(c);
                return NOTHING;
            }
        }
        /* Refill in bursts: once the pipeline is full, the next burst
         * waits until half of it has answered, so each write carries many
         * queries. */
        unsigned before = c->count;
        size_t stray;
        if (before == 0 && (stray = amy__net_unread(c->mysql, c->ssl))) {
            /* Every answer asked for has been read: these bytes are
             * answers nobody asked for, which the next query would take
             * for its own. (Those still in the socket are found by the
             * peek above, or by io_cb while idle.) */
            char msg[200];
            snprintf(msg, sizeof msg,
                     "the server sent %zu bytes nobody asked for (nothing "
                     "was in flight): the connection is closed, so that no "
                     "query gets another's answer",
                     stray);
            amy__err e = {2027, "HY000", msg};
            amy__conn_break(c, &e);
            return NOTHING;
        }
        if (c->count <= c->cap / 2 && take_work(c) == NOTHING)
            return NOTHING;
        if (c->count > 0 && c->ring[c->head].op->begin) {
            /* Written through the connector, alone: just taken. */
            int st = c->ring[c->head].op->begin(c);
            if (st != NOTHING || c->state == AMY__C_DEAD)
                return st;
            continue; /* it completed at once */
        }
        if (c->count > 0 && before == 0) {
            /* Nothing was in flight, so every earlier answer has been read
             * and the connector holds no read-ahead: a read now would only
             * find an empty socket. Start it when the answer arrives. */
            c->read_pending = 1;
            c->busy_since = ev_now(c->loop);
            return MYSQL_WAIT_READ;
        }
        if (c->count > 0)
            return start_read(c);
        int r = c->owner->idle(c->owner_self, c);
        if (r > 0)
            continue; /* work was queued, or c has a new owner */
        if (r < 0)
            fail_all(c, AMY_ECONNLOST, 2013, "HY000",
                     "closed: its owner cannot reuse it (it outlived "
                     "max_lifetime_ms, or a transaction could not be rolled "
                     "back)");
        return NOTHING;
    }
}

/*
 * Runs the connection forward from step status st (a wait mask, 0 when the
 * current call just completed, NOTHING when no call is in progress, PARKED
 * for a paused stream) until it must wait for the socket, goes idle, or
 * dies; then runs the callbacks of what completed. c may be freed when this
 * returns.
 */
static void drive(amy__conn *c, int st)
{
    c->pumping = 1;
    for (;;) {
        if (st > 0) {
            arm(c, st);
            break;
        }
        if (st == AMY__PARKED) {
            disarm(c);
            break;
        }
        if (st == 0) {
            st = finish(c);
            if (c->state == AMY__C_DEAD)
                break;
            if (st != NOTHING)
                continue;
        }
        st = next_op(c);
        if (st == NOTHING) {
            if (c->state != AMY__C_DEAD)
                watch_idle(c);
            break;
        }
    }
    drive_end(c);
}

void amy__conn_drive(amy__conn *c, int st)
{
    drive(c, st);
}

/* Leaves the connection consistent, then runs the callbacks of what
 * completed. c may be freed when this returns. */
static void drive_end(amy__conn *c)
{
    c->pumping = 0;
    amy__donelist done;
    amy__list_move(&done.list, &c->done.list);
    if (c->state == AMY__C_DEAD)
        c->owner->dead(c->owner_self, c); /* frees c */
    amy__donelist_notify(&done);
}

/* The socket can take more of the write buffer; a READ may be suspended
 * meanwhile (reads and our writes share nothing in the connector). */
static void wio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    amy__conn *c = w->data;
    if (c->state != AMY__C_READY || c->pumping)
        return;
    if (flush(c) == 0)
        return;
    c->pumping = 1;
    write_failed(c, errno);
    drive_end(c);
}

/* The socket is ready for the call in progress, or for the first read
 * of an answer awaited (read_pending). */
static void resume(amy__conn *c, int ready)
{
    if (c->op == AMY__OP_NONE) {
        drive(c, start_read(c)); /* start_read clears read_pending */
        return;
    }
    drive(c, cont(c, ready));
}

/*
 * read_coalesce_us: the io_collect_interval effect for amysql's own reads,
 * without touching the caller's loop. Waiting for answers to pile up saves
 * a wakeup (epoll_wait, recv, a context switch: most of the client's CPU
 * per pipelined answer) per answer, and costs each answer up to a tick of
 * latency (the tick is an ev_timer, and libev on epoll never blocks for
 * less than 1 ms: on a loop with nothing else to do, a 300 us wait lasts
 * about 1.1 ms). That trade pays only under sustained load, so a connection
 * waits only when
 *   - it has COALESCE_MIN_DUE or more answers due: a lone query, or a
 *     small gather, is read at once;
 *   - its pipeline has not been empty for COALESCE_BUSY_S: a burst on an
 *     otherwise quiet service (a request's fan-out) is read as it comes,
 *     while a stream of work that keeps the connection busy (which is
 *     when the CPU matters) is read in batches. At a moderate rate the
 *     pipeline empties between queries, and the clock restarts each time;
 *   - and it is reading answers (a connect or a prepared statement's
 *     calls are never held up).
 */
#define COALESCE_MIN_DUE 4u
#define COALESCE_BUSY_S  0.001

static int coalescing(const amy__conn *c)
{
    return c->cfg->read_coalesce_us && c->count >= COALESCE_MIN_DUE &&
           (c->read_pending || c->op == AMY__OP_READ ||
            c->op == AMY__OP_STORE || c->op == AMY__OP_NEXT) &&
           ev_now(c->loop) - c->busy_since >= COALESCE_BUSY_S;
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    amy__conn *c = w->data;
    if (c->pumping)
        return; /* a callback runs the loop inside drive: not now */
    if (c->completed) {
        /* A call that completed inside amy__conn_new, reported here. */
        c->completed = 0;
        drive(c, 0);
        return;
    }
    int ready = 0;
    if (revents & EV_READ)
        ready |= MYSQL_WAIT_READ;
    if (revents & EV_WRITE)
        ready |= MYSQL_WAIT_WRITE;
    if (!ready)
        return;
    if (ready == MYSQL_WAIT_READ && coalescing(c)) {
        /* Let more answers arrive, then read them in one go. */
        ev_io_stop(loop, &c->io);
        /* Every connection's wait ends on the same tick, so one loop
         * iteration reads them all. */
        double d = c->cfg->read_coalesce_us / 1e6, now = ev_now(loop);
        double at = ((double)(long long)(now / d) + 1) * d; /* no libm */
        ev_timer_set(&c->coalesce_timer, at - now, 0.);
        ev_timer_start(loop, &c->coalesce_timer);
        return;
    }
    if (c->op != AMY__OP_NONE || c->read_pending) {
        if (ready == MYSQL_WAIT_READ &&
            amy__turns_wait(c->cfg->turns, &c->turn)) {
            /* Stopped while it waits: level-triggered, it would be
             * reported again at every iteration meanwhile. */
            ev_io_stop(loop, &c->io);
            return;
        }
        resume(c, ready);
        return;
    }
    /* Idle and readable: the server closed it, or said goodbye. */
    if (c->state == AMY__C_READY && peek_dead(c)) {
        c->pumping = 1;
        close_idle_dead(c);
        drive_end(c);
    }
}

static void coalesce_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy__conn *c = w->data;
    if (c->pumping || c->state != AMY__C_READY)
        return;
    if ((c->op != AMY__OP_NONE || c->read_pending) &&
        !amy__turns_wait(c->cfg->turns, &c->turn))
        resume(c, MYSQL_WAIT_READ);
}

/* A connection that waited its turn to read (turns.h): as io_cb would
 * have (a connect in progress too). */
static void turn_cb(amy__turn *t)
{
    amy__conn *c = AMY__CONTAINER(t, amy__conn, turn);
    if (c->pumping)
        return; /* being driven: it arms its watcher when done */
    if (c->op == AMY__OP_NONE && !c->read_pending) {
        /* Driven meanwhile, and idle now: watched as idle again. */
        ev_io_start(c->loop, &c->io);
        return;
    }
    resume(c, MYSQL_WAIT_READ);
}

/* kill_grace_ms after the head was killed, it has not answered. */
static void grace_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy__conn *c = w->data;
    if (c->state != AMY__C_READY || c->count == 0 || !c->ring[c->head].killed)
        return;
    if (c->pumping) { /* a callback runs the loop inside drive: soon */
        ev_timer_set(w, 0.001, 0.);
        ev_timer_start(loop, w);
        return;
    }
    char msg[200];
    snprintf(msg, sizeof msg,
             "the server did not answer a query that timed out or was "
             "canceled within kill_grace_ms (%u ms) of killing it: the "
             "connection is closed",
             c->cfg->kill_grace_ms);
    amy__err e = {2013, "HY000", msg};
    c->pumping = 1;
    amy__conn_break(c, &e);
    drive_end(c);
}

static void wait_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy__conn *c = w->data;
    if (c->op != AMY__OP_NONE)
        drive(c, cont(c, MYSQL_WAIT_TIMEOUT));
}

static void connect_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy__conn *c = w->data;
    if (c->state != AMY__C_CONNECTING)
        return;
    char msg[160];
    snprintf(msg, sizeof msg, "connect to %s timed out after %u ms",
             c->cfg->endpoint, c->cfg->connect_timeout_ms);
    c->pumping = 1;
    connect_failed(c, 0, "HY000", msg);
    drive_end(c);
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */
/* ------------------------------------------------------------------------ */

amy__conn *amy__conn_new(struct ev_loop *loop, const amy__conn_cfg *cfg,
                         const amy__owner_ops *owner, void *self)
{
    amy__conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = loop;
    c->cfg = cfg;
    c->owner = owner;
    c->owner_self = self;
    c->cap = cfg->pipeline;
    c->ring = calloc(c->cap, sizeof *c->ring);
    c->mysql = mysql_init(NULL);
    if (!c->ring || !c->mysql) {
        if (c->mysql)
            mysql_close(c->mysql);
        free(c->ring);
        free(c);
        return NULL;
    }
    amy__donelist_init(&c->done);
    c->tls_asked = cfg->tls && amy__tls_wanted(cfg->tls, cfg->unix_socket);
    /* Non-blocking mode must be set before any _start (default stack). A
     * TLS connect is made with the blocking API by the dialer, which
     * switches the handle over once connected. */
    if (!c->tls_asked)
        mysql_options(c->mysql, MYSQL_OPT_NONBLOCK, 0);
    else if (amy__tls_apply(c->mysql, cfg->tls) != 0) {
        mysql_close(c->mysql);
        free(c->ring);
        free(c);
        return NULL;
    }
    mysql_options(c->mysql, MYSQL_SET_CHARSET_NAME, cfg->charset);
    unsigned tcp = MYSQL_PROTOCOL_TCP;
    if (!cfg->unix_socket)
        mysql_options(c->mysql, MYSQL_OPT_PROTOCOL, &tcp);
    my_bool no = 0;
    /* Reconnecting would run a blocking connect (and DNS) inside a query. */
    mysql_options(c->mysql, MYSQL_OPT_RECONNECT, &no);
    unsigned no_infile = 0; /* LOAD DATA LOCAL reads files synchronously */
    mysql_options(c->mysql, MYSQL_OPT_LOCAL_INFILE, &no_infile);
    /* Only the plugins the pool allows (auth_plugins=): a server must not
     * talk the connector into sending the password in clear, or into
     * pre-4.1 authentication. */
    if (cfg->auth_plugins)
        mysql_optionsv(c->mysql, MARIADB_OPT_RESTRICTED_AUTH,
                       cfg->auth_plugins);

    ev_init(&c->io, io_cb);
    c->io.data = c;
    ev_init(&c->wio, wio_cb);
    c->wio.data = c;
    ev_init(&c->wait_timer, wait_timer_cb);
    c->wait_timer.data = c;
    ev_init(&c->coalesce_timer, coalesce_cb);
    c->coalesce_timer.data = c;
    ev_init(&c->connect_timer, connect_timer_cb);
    c->connect_timer.data = c;
    ev_init(&c->grace_timer, grace_timer_cb);
    c->grace_timer.data = c;
    c->turn.run = turn_cb;
    c->state = AMY__C_CONNECTING;

    if (cfg->connect_timeout_ms && !c->tls_asked) {
        /* (A dial keeps its own deadline, from when its thread starts it:
         * not while it waits behind other dials.) The loop's cached time is stale if the caller has not run it for
         * a while (blocking work, other clients): the deadline would be
         * short by that much. */
        ev_now_update(loop);
        ev_timer_set(&c->connect_timer, cfg->connect_timeout_ms / 1000.0, 0.);
        ev_timer_start(loop, &c->connect_timer);
    }
    c->pumping = 1;
    int st = start_connect(c);
    c->pumping = 0;
    if (c->dial) {
        /* the dialer reports (dialed) */
    } else if (st != 0) {
        arm(c, st);
    } else {
        /* Completed (failed) already: report it from the loop, never from
         * inside the caller's amy_query. */
        c->completed = 1;
        ev_feed_event(loop, &c->io, EV_CUSTOM);
    }
    return c;
}

void amy__conn_set_owner(amy__conn *c, const amy__owner_ops *owner, void *self)
{
    c->owner = owner;
    c->owner_self = self;
}

void amy__conn_kick(amy__conn *c)
{
    if (!c->pumping && c->state == AMY__C_READY && c->op == AMY__OP_NONE &&
        !c->completed)
        drive(c, NOTHING);
}

void amy__conn_free(amy__conn *c)
{
    stop_watchers(c);
    amy__wire_free(&c->w);
    exts_free(c); /* none left once closed; for a handle never closed */
    amy__bound_free(&c->bound);
    free(c->ring);
    free(c);
}

void amy__conn_destroy(amy__conn *c, int status)
{
    stop_watchers(c);
    /* Say goodbye (COM_QUIT) if it fits in the socket buffer now, unless a
     * kind is in the middle of reading rows off the socket. */
    if (c->mysql && c->state == AMY__C_READY && c->op == AMY__OP_NONE &&
        (c->count == 0 || !c->ring[c->head].op->rows)) {
        exts_closing(c);
        int st = mysql_close_start(c->mysql);
        if (st == 0)
            c->mysql = NULL;
        else
            c->op = AMY__OP_CLOSE;
    }
    if (c->op == AMY__OP_CLOSE) {
        /* As end_suspended_call: with the socket shut down the close runs
         * to its end without waiting again. */
        shut_socket(c);
        while (mysql_close_cont(c->mysql, MYSQL_WAIT_TIMEOUT) != 0) {
        }
        c->mysql = NULL; /* freed by close_cont */
        c->op = AMY__OP_NONE;
    }
    fail_all(c, status, 0, NULL, NULL); /* closes the handle if still open */
    exts_free(c);
    amy__donelist done;
    amy__list_move(&done.list, &c->done.list);
    amy__wire_free(&c->w);
    amy__bound_free(&c->bound);
    free(c->ring);
    free(c);
    amy__donelist_notify(&done);
}
