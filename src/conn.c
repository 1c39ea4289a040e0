/*
 * One connection: a MYSQL handle driven through the connector's
 * non-blocking calls (_start / _cont) from libev watchers.
 *
 * States
 *   CONNECTING  real_connect is in progress (op CONNECT).
 *   READY       connected; runs one connector call at a time (below).
 *   DEAD        closed: the connect failed or timed out, or the connection
 *               broke (every in-flight future failed). The pool frees it.
 *
 *   CONNECTING --ok--> READY --client error (lost, ...)--> DEAD
 *   CONNECTING --error or connect_timeout_ms--> DEAD
 *
 * In READY, each time a call finishes next_op() picks the next one:
 *   (send) not a connector call: next_op() takes the futures the pool lets
 *          it take, appends their COM_QUERY packets to our write buffer and
 *          writes them with one send() (the rest, if the socket is full,
 *          from the wio watcher, alongside the reads). The connector's
 *          send_query would make one syscall per query; writing ourselves
 *          makes one per burst. Once the pipeline is full, the next burst
 *          waits until half of it has answered. Answers come back FIFO.
 *   READ   read_query_result for the oldest in-flight query (the
 *          connector adopts the packet numbers it reads, so it needs no
 *          state from the send).
 *   STORE  store_result when that answer carries a result set.
 *   NEXT   next_result while the server says more results follow (extra
 *          result sets are read and dropped so the stream stays in step).
 *   none   idle: nothing in flight and nothing to take.
 * Only one call is ever in progress: the connector does not refuse a second
 * _start while one is suspended, it mixes their results.
 *
 * Futures that complete while the connection is being driven are settled
 * into a done list and their callbacks run only when drive() has finished
 * with the connection, so a callback always sees a consistent connection
 * (it may start queries, wait on others, free futures).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "future.h"
#include "params.h"
#include "pin.h"
#include "pool.h"
#include "result.h"
#include "stmt.h"

#define NOTHING AMY__NOTHING /* no connector call was started */

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void wio_cb(struct ev_loop *loop, ev_io *w, int revents);
static void drive_end(amy__conn *c);
static void drive(amy__conn *c, int st);
static void write_failed(amy__conn *c, int e);
static void unsent_back_to_queue(amy__conn *c);
static void wait_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void coalesce_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void connect_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

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
    case AMY__OP_READ:
        return mysql_read_query_result_cont(&c->bret, c->mysql, ready);
    case AMY__OP_STORE:
        return mysql_store_result_cont(&c->res, c->mysql, ready);
    case AMY__OP_NEXT:
        return mysql_next_result_cont(&c->iret, c->mysql, ready);
    case AMY__OP_FETCH:
        return mysql_fetch_row_cont(&c->srow, c->sres, ready);
    case AMY__OP_NONE:
    case AMY__OP_CLOSE:
        return 0;
    default:
        return amy__stmt_cont(c, ready);
    }
}

static int start_connect(amy__conn *c)
{
    amy_pool *p = c->pool;
    c->op = AMY__OP_CONNECT;
    return mysql_real_connect_start(
        &c->mret, c->mysql, p->host, p->dsn.user, p->dsn.password,
        p->dsn.database, p->dsn.port, p->dsn.socket,
        p->dsn.multi_statements ? CLIENT_MULTI_STATEMENTS : 0);
}

/* Makes room for n more bytes in the write buffer; -1 on ENOMEM. */
static int wbuf_reserve(amy__conn *c, size_t n)
{
    if (c->woff && c->woff == c->wlen)
        c->woff = c->wlen = 0;
    if (c->wcap - c->wlen >= n)
        return 0;
    if (c->woff) { /* slide the unwritten tail to the front first */
        memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
        c->wlen -= c->woff;
        c->woff = 0;
        if (c->wcap - c->wlen >= n)
            return 0;
    }
    size_t cap = c->wcap ? c->wcap : 4096;
    while (cap - c->wlen < n)
        cap *= 2;
    char *b = realloc(c->wbuf, cap);
    if (!b)
        return -1;
    c->wbuf = b;
    c->wcap = cap;
    return 0;
}

/* Appends COM_QUERY for sql as protocol packets: 3-byte length, sequence
 * number, payload. A payload of 2^24-1 bytes or more is split, and ends
 * with a shorter (possibly empty) packet. */
static int append_query(amy__conn *c, const char *sql, size_t len)
{
    size_t payload = len + 1; /* the command byte, then the SQL */
    size_t npk = payload / 0xffffff + 1;
    if (wbuf_reserve(c, payload + 4 * npk) != 0)
        return -1;
    char *p = c->wbuf + c->wlen;
    size_t off = 0; /* offset in the payload */
    for (size_t k = 0; k < npk; k++) {
        size_t chunk = payload - off < 0xffffff ? payload - off : 0xffffff;
        p[0] = (char)(chunk & 0xff);
        p[1] = (char)((chunk >> 8) & 0xff);
        p[2] = (char)((chunk >> 16) & 0xff);
        p[3] = (char)(k & 0xff);
        p += 4;
        size_t skip = 0;
        if (off == 0) {
            *p++ = 0x03; /* COM_QUERY */
            skip = 1;
        }
        memcpy(p, sql + off + skip - 1, chunk - skip);
        p += chunk - skip;
        off += chunk;
    }
    c->wtotal += (unsigned long long)(p - (c->wbuf + c->wlen));
    c->wlen = (size_t)(p - c->wbuf);
    return 0;
}

static size_t escape(void *arg, char *dst, const char *src, size_t len)
{
    return (size_t)mysql_real_escape_string(arg, dst, src, (unsigned long)len);
}

/* The statement of a future with parameters, rendered for this connection
 * (its character set and escaping mode). */
static int append_rendered(amy__conn *c, amy_future *f, size_t *len, char *err,
                           size_t errlen)
{
    size_t bound = amy__params_bound(f->sql, f->sql_len, f->params, f->nparams);
    char *out = bound == SIZE_MAX ? NULL : malloc(bound);
    if (!out) {
        snprintf(err, errlen, "out of memory rendering the parameters");
        return -1;
    }
    size_t n = amy__params_render(f->sql, f->sql_len, f->params, f->nparams,
                                  escape, c->mysql, out, err, errlen);
    int rc = n == (size_t)-1 ? -1 : append_query(c, out, n);
    if (rc && n != (size_t)-1)
        snprintf(err, errlen, "out of memory buffering the query");
    free(out);
    *len = n;
    return rc;
}

/* Puts f in flight: its packet joins the write buffer. -1 (f failed, and
 * settled on the done list) when its parameters cannot be rendered or
 * memory runs out. */
static int queue_send(amy__conn *c, amy_future *f)
{
    size_t len = f->sql_len;
    char err[160];
    int rc = 0;
    if (f->exec)
        len = 0; /* src/stmt.c sends it, through the connector */
    else if (f->nparams)
        rc = append_rendered(c, f, &len, err, sizeof err);
    else
        rc = append_query(c, f->sql, f->sql_len);
    if (rc != 0) {
        if (!f->nparams)
            snprintf(err, sizeof err, "out of memory buffering the query");
        amy__future_set_error(f, AMY_EINVAL, 0, NULL, err);
        amy__donelist_settle(&c->done, f, NULL);
        return -1;
    }
    amy__slot *s = &c->ring[(c->head + c->count) % c->cap];
    s->f = f;
    s->len = len;
    s->seq = c->next_seq++;
    /* A prepared statement counts as unsent (back to the queue if the
     * connection breaks) until src/stmt.c starts executing it. */
    s->wend = f->exec ? c->wtotal + 1 : c->wtotal;
    s->killed = 0;
    s->stream = f->stream;
    s->exec = f->exec != AMY__X_NONE;
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
    while (c->woff < c->wlen) {
        ssize_t n = send(fd, c->wbuf + c->woff, c->wlen - c->woff,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->woff += (size_t)n;
            c->wflushed += (unsigned long long)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!ev_is_active(&c->wio)) {
                ev_io_set(&c->wio, fd, EV_WRITE);
                ev_io_start(c->pool->loop, &c->wio);
            }
            return 0;
        }
        return -1;
    }
    c->woff = c->wlen = 0;
    if (c->wcap > (1u << 20)) { /* do not keep a huge query's buffer */
        free(c->wbuf);
        c->wbuf = NULL;
        c->wcap = 0;
    }
    if (ev_is_active(&c->wio))
        ev_io_stop(c->pool->loop, &c->wio);
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
    c->op = AMY__OP_READ;
    c->read_pending = 0;
    return mysql_read_query_result_start(&c->bret, c->mysql);
}

static int start_store(amy__conn *c)
{
    c->op = AMY__OP_STORE;
    c->res = NULL;
    return mysql_store_result_start(&c->res, c->mysql);
}

#define PARKED (-2) /* a paused stream: nothing to do until resumed */

/* The next row of the streamed result, unless its reader paused. */
static int stream_next(amy__conn *c)
{
    amy_future *f = c->ring[c->head].f;
    if (f && f->paused) {
        c->parked = 1;
        return PARKED;
    }
    c->op = AMY__OP_FETCH;
    c->srow = NULL;
    return mysql_fetch_row_start(&c->srow, c->sres);
}

/* The stream is over (all rows read, or abandoned with the connection):
 * its result goes, without I/O once every row was read. */
static void stream_end(amy__conn *c)
{
    if (c->sres)
        mysql_free_result(c->sres);
    c->sres = NULL;
    free(c->slens);
    c->slens = NULL;
    c->parked = 0;
}

static int start_next(amy__conn *c)
{
    c->op = AMY__OP_NEXT;
    return mysql_next_result_start(&c->iret, c->mysql);
}

/* ------------------------------------------------------------------------ */
/* Watchers                                                                 */
/* ------------------------------------------------------------------------ */

static void arm(amy__conn *c, int st)
{
    struct ev_loop *loop = c->pool->loop;
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
    c->idle_since = ev_now(c->pool->loop);
    amy__pool_set_idle(c->pool, c, c->pin == NULL); /* pinned: not the pool's */
}

static void disarm(amy__conn *c)
{
    ev_io_stop(c->pool->loop, &c->io);
    ev_timer_stop(c->pool->loop, &c->wait_timer);
    ev_timer_stop(c->pool->loop, &c->coalesce_timer);
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
    amy__pool_kill(c->pool, c);
}

void amy__conn_detach(amy__conn *c, amy__slot *s)
{
    s->f = NULL;
    maybe_kill_head(c);
    /* A paused stream whose reader left: read the rest and drop it. */
    if (c->parked && !c->pumping) {
        c->parked = 0;
        drive(c, stream_next(c));
    }
}

int amy__conn_resume(amy__conn *c)
{
    if (c->parked && !c->pumping) {
        c->parked = 0;
        drive(c, stream_next(c));
    }
    return AMY_OK;
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
    kill_record_expire(c);
    maybe_kill_head(c);
    return f;
}

/* An "interrupted" answer to a query that may have met a KILL meant for
 * the one before it: if so it is sent again, once. */
static int stray_kill(amy__conn *c, const amy__slot *s, unsigned err)
{
    return s->f && !s->f->retried && c->kill_active && err == 1317 &&
           s->seq >= c->kill_lo && (c->kills_pending || s->seq <= c->kill_hi);
}

static void settle_error(amy__conn *c, amy_future *f, int status, unsigned err,
                         const char *sqlstate, const char *msg)
{
    amy__future_set_error(f, status, err, sqlstate, msg);
    amy__donelist_settle(&c->done, f, NULL);
}

/* One more result set of the oldest in-flight query (a statement of a
 * multi-statement query, or of a CALL); r NULL means memory ran out. */
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

/* The oldest in-flight query has all its answers: its result sets, or the
 * error e after the result sets of the statements before the failing one. */
void amy__conn_complete(amy__conn *c, const amy__err *e)
{
    int failed = e != NULL;
    int retry = failed && stray_kill(c, &c->ring[c->head], e->no);
    amy_future *f = ring_pop(c);
    amy_result *r = take_results(c);
    int lost = c->results_lost;
    c->results_lost = 0;
    if (retry) {
        amy__result_free(r);
        f->retried = 1;
        amy__pool_requeue(c->pool, f);
        return;
    }
    if (!f) {
        amy__result_free(r);
        return;
    }
    if (failed) {
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

/* Closes the socket under the connector and frees the handle. Shutting the
 * socket down first makes every pending or final write (COM_QUIT) fail at
 * once instead of blocking the loop. */
static void close_handle(amy__conn *c)
{
    if (!c->mysql)
        return;
    disarm(c);
    ev_timer_stop(c->pool->loop, &c->connect_timer);
    int fd = (int)mysql_get_socket(c->mysql);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    /* A suspended call owns memory (a half-read result); resuming it with
     * a timeout makes it fail and free what it holds. */
    for (int i = 0; c->op != AMY__OP_NONE && i < 64; i++) {
        if (cont(c, MYSQL_WAIT_TIMEOUT) == 0) {
            if ((c->op == AMY__OP_STORE || c->op == AMY__OP_S_VARSTORE) &&
                c->res)
                mysql_free_result(c->res);
            c->res = NULL;
            c->op = AMY__OP_NONE;
        }
    }
    c->op = AMY__OP_NONE;
    /* The socket is shut down: reading the rest of a streamed result fails
     * at once instead of blocking. */
    stream_end(c);
    ev_io_stop(c->pool->loop, &c->wio);
    mysql_close(c->mysql);
    c->mysql = NULL;
    amy__stmt_free_all(c); /* detached by mysql_close: frees, no I/O */
}

/* Every query still in flight fails with status; the handle is closed. */
static void fail_all(amy__conn *c, int status, unsigned err,
                     const char *sqlstate, const char *msg)
{
    close_handle(c);
    amy__result_free(take_results(c));
    c->results_lost = 0;
    if (c->pin)
        amy__pin_lost(c,
                      status == AMY_ECANCELED ? AMY_ECANCELED : AMY_ECONNLOST,
                      err, sqlstate, msg, &c->done);
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
        err = 2013;
        snprintf(msg, sizeof msg, "Lost connection to server");
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

static void connect_failed(amy__conn *c, const char *msg)
{
    c->err_no = mysql_errno(c->mysql);
    snprintf(c->err_sqlstate, sizeof c->err_sqlstate, "%s",
             mysql_sqlstate(c->mysql));
    snprintf(c->err_msg, sizeof c->err_msg, "%s",
             msg ? msg : mysql_error(c->mysql));
    c->connect_failed = 1;
    fail_all(c, AMY_ECONNECT, c->err_no, c->err_sqlstate, c->err_msg);
}

/* The connection broke: queries whose packet never fully reached the
 * socket cannot have run, so they go back to the queue (in order, once)
 * for another connection. They are the newest in the ring. */
static void unsent_back_to_queue(amy__conn *c)
{
    while (c->count) {
        amy__slot *s = &c->ring[(c->head + c->count - 1) % c->cap];
        if (s->wend <= c->wflushed)
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
        if (f->retried) {
            amy__future_set_error(f, AMY_ECONNLOST, 2006, "HY000",
                                  "the connection broke before the query "
                                  "could be sent");
            amy__donelist_settle(&c->done, f, NULL);
            continue;
        }
        f->retried = 1;
        amy__pool_requeue(c->pool, f);
    }
}

/* After a result set: read the next one the server announced, or hand
 * them all to the head's future. */
static int after_result(amy__conn *c)
{
    if (mysql_more_results(c->mysql))
        return start_next(c);
    amy__conn_complete(c, NULL);
    return NOTHING;
}

/*
 * The current call completed: act on its outcome. Returns the status of a
 * follow-up call it started (STORE after READ, ...), or NOTHING.
 */
static int finish(amy__conn *c)
{
    int op = c->op;
    c->op = AMY__OP_NONE;
    switch (op) {
    case AMY__OP_CONNECT:
        ev_timer_stop(c->pool->loop, &c->connect_timer);
        if (!c->mret) {
            connect_failed(c, NULL);
            return NOTHING;
        }
        c->state = AMY__C_READY;
        c->thread_id = mysql_thread_id(c->mysql);
        amy__pool_on_ready(c->pool, c);
        return NOTHING;

    case AMY__OP_READ:
    case AMY__OP_NEXT:
        /* READ: the first answer of the head; NEXT: a later statement's
         * (0 another result, -1 none, >0 error). */
        if (op == AMY__OP_NEXT && c->iret == -1) {
            amy__conn_complete(c, NULL);
            return NOTHING;
        }
        if (op == AMY__OP_READ ? c->bret != 0 : c->iret != 0) {
            if (amy__is_client_error(mysql_errno(c->mysql)))
                amy__conn_break(c, NULL);
            else {
                amy__err e = amy__conn_err(c); /* the server stopped at this */
                amy__conn_complete(c, &e);
            }
            return NOTHING;
        }
        if (mysql_field_count(c->mysql) > 0 && c->ring[c->head].stream &&
            !c->sres) {
            c->sres = mysql_use_result(c->mysql); /* no I/O */
            c->slens = calloc(mysql_field_count(c->mysql) + 1, sizeof(size_t));
            c->srows = 0;
            if (!c->sres || !c->slens) {
                /* Out of memory: the connection cannot skip the rows. */
                stream_end(c);
                amy__conn_break(c, NULL);
                return NOTHING;
            }
            return stream_next(c);
        }
        if (mysql_field_count(c->mysql) > 0)
            return start_store(c);
        amy__conn_add_result(c, amy__result_ok(mysql_affected_rows(c->mysql),
                                               mysql_insert_id(c->mysql)));
        return after_result(c);

    case AMY__OP_FETCH: {
        MYSQL_ROW row = c->srow;
        if (row) {
            amy_future *f = c->ring[c->head].f;
            c->srows++;
            if (f) {
                size_t n = mysql_num_fields(c->sres);
                unsigned long *lens = mysql_fetch_lengths(c->sres);
                for (size_t i = 0; i < n; i++)
                    c->slens[i] = lens[i];
                /* The connection is consistent here (no call in
                 * progress); the callback may pause, cancel, query. */
                f->rows->cb((const char *const *)row, c->slens, n,
                            f->rows->arg);
            }
            return stream_next(c);
        }
        unsigned err = mysql_errno(c->mysql);
        if (err && amy__is_client_error(err)) {
            amy__conn_break(c, NULL);
            return NOTHING;
        }
        uint64_t rows = c->srows;
        stream_end(c); /* every row was read (or the server said no) */
        if (err) {
            amy__err e = amy__conn_err(c);
            amy__conn_complete(c, &e);
            return NOTHING;
        }
        amy__conn_add_result(c, amy__result_ok(rows, 0));
        return after_result(c);
    }

    case AMY__OP_STORE: {
        MYSQL_RES *res = c->res;
        c->res = NULL;
        if (!res) {
            amy__err e = amy__conn_err(c);
            if (amy__is_client_error(e.no))
                amy__conn_break(c, &e);
            else
                amy__conn_complete(c, &e);
            return NOTHING;
        }
        /* A result set generates no id: the connector's insert_id would
         * still be the previous statement's. */
        amy__conn_add_result(
            c, amy__result_from_res(res, mysql_affected_rows(c->mysql), 0));
        mysql_free_result(res); /* stored: no I/O */
        return after_result(c);
    }
    case AMY__OP_NONE:
    case AMY__OP_CLOSE:
        return NOTHING;
    default:
        return amy__stmt_finish(c, op);
    }
}

/* An idle connection should have nothing to read: EOF or an unasked-for
 * packet (the server's goodbye after KILL or wait_timeout) means the server
 * closed it. */
static int peek_dead(amy__conn *c)
{
    char b;
    ssize_t n =
        recv((int)mysql_get_socket(c->mysql), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

/* The server closed an idle connection: nothing was in flight, so nobody
 * hears of it; the pool replaces it when work comes. */
static void close_idle_dead(amy__conn *c)
{
    fail_all(c, AMY_ECONNLOST, 2013, "HY000", "closed by the server");
}

static int next_op(amy__conn *c)
{
    amy__pool_set_idle(c->pool, c, 0);
    amy__queue *work = c->pin ? &c->pin->q : &c->pool->q;
    if (c->was_idle && work->head) {
        c->was_idle = 0;
        if (peek_dead(c)) {
            close_idle_dead(c);
            return NOTHING;
        }
    }
    /* Refill in bursts: once the pipeline is full, the next burst waits
     * until half of it has answered, so each write carries many queries. */
    unsigned before = c->count;
    if (c->count <= c->cap / 2) {
        amy_future *f;
        int queued = 0;
        while ((f = amy__pool_take(c->pool, c))) {
            if (f->acquire) {
                amy__pin_attach(c, f);
                amy__donelist_settle(&c->done, f, NULL);
                continue; /* from now on it takes from its pin's queue */
            }
            queued |= queue_send(c, f) == 0;
        }
        if (queued && flush(c) != 0) {
            write_failed(c, errno);
            return NOTHING;
        }
    }
    if (c->count > 0 && c->ring[c->head].exec) {
        /* Taken just now (it runs alone): its calls start here. */
        int st = amy__stmt_begin(c);
        if (st >= 0 || c->state == AMY__C_DEAD)
            return st;
        return next_op(c);
    }
    if (c->count > 0 && before == 0) {
        /* Nothing was in flight, so every earlier answer has been read and
         * the connector holds no read-ahead: a read now would only find an
         * empty socket. Start it when the answer arrives (io_cb). */
        c->read_pending = 1;
        return MYSQL_WAIT_READ;
    }
    if (c->count > 0)
        return start_read(c);
    if (c->pin && c->pin->released && !c->pin->q.head) {
        int r = amy__pin_idle(c);
        if (r >= 0)
            return next_op(c); /* the ROLLBACK, or the pool's work */
        if (r < 0) {
            fail_all(c, AMY_ECONNLOST, 2013, "HY000",
                     "closed: a transaction could not be rolled back");
            return NOTHING;
        }
    }
    return NOTHING;
}

/*
 * Runs the connection forward from status st (a wait mask, 0 when the
 * current call just completed, NOTHING when no call is in progress) until it
 * must wait for the socket, goes idle, or dies; then runs the callbacks of
 * what completed. c may be freed when this returns.
 */
static void drive(amy__conn *c, int st)
{
    c->pumping = 1;
    for (;;) {
        if (st > 0) {
            arm(c, st);
            break;
        }
        if (st == PARKED) {
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
            if (c->state == AMY__C_DEAD)
                break;
            watch_idle(c);
            break;
        }
    }
    drive_end(c);
}

/* Leaves the connection consistent, then runs the callbacks of what
 * completed. c may be freed when this returns. */
static void drive_end(amy__conn *c)
{
    c->pumping = 0;
    amy__donelist done = c->done;
    c->done.head = c->done.tail = NULL;
    if (c->state == AMY__C_DEAD)
        amy__pool_on_dead(c->pool, c); /* frees c */
    amy__donelist_notify(done);
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
    /* read_coalesce_us: the io_collect_interval effect for amysql's own
     * reads, without touching the caller's loop. Only with answers for two
     * or more queries due: a lone query is read at once. */
    if (ready == MYSQL_WAIT_READ && c->count >= 2 &&
        c->pool->dsn.read_coalesce_us &&
        (c->read_pending || c->op == AMY__OP_READ || c->op == AMY__OP_STORE ||
         c->op == AMY__OP_NEXT)) {
        /* Let more answers arrive, then read them in one go. */
        ev_io_stop(loop, &c->io);
        /* Every connection's wait ends on the same tick, so one loop
         * iteration reads them all. */
        double d = c->pool->dsn.read_coalesce_us / 1e6, now = ev_now(loop);
        double at = ((double)(long long)(now / d) + 1) * d; /* no libm */
        ev_timer_set(&c->coalesce_timer, at - now, 0.);
        ev_timer_start(loop, &c->coalesce_timer);
        return;
    }
    if (c->op != AMY__OP_NONE || c->read_pending) {
        resume(c, ready);
        return;
    }
    /* Idle and readable: the server closed it, or said goodbye. */
    if (c->state == AMY__C_READY && peek_dead(c)) {
        c->pumping = 1;
        close_idle_dead(c);
        c->pumping = 0;
        amy__pool_on_dead(c->pool, c);
    }
}

static void coalesce_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy__conn *c = w->data;
    if (c->pumping || c->state != AMY__C_READY)
        return;
    if (c->op != AMY__OP_NONE || c->read_pending)
        resume(c, MYSQL_WAIT_READ);
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
             c->pool->endpoint, c->pool->dsn.connect_timeout_ms);
    c->pumping = 1;
    close_handle(c);
    c->err_no = 0;
    snprintf(c->err_sqlstate, sizeof c->err_sqlstate, "HY000");
    snprintf(c->err_msg, sizeof c->err_msg, "%s", msg);
    c->connect_failed = 1;
    c->state = AMY__C_DEAD;
    c->pumping = 0;
    amy__pool_on_dead(c->pool, c);
}

/* ------------------------------------------------------------------------ */
/* Life cycle                                                               */
/* ------------------------------------------------------------------------ */

amy__conn *amy__conn_new(amy_pool *pool)
{
    amy__conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->pool = pool;
    c->cap = pool->dsn.pipeline;
    c->ring = calloc(c->cap, sizeof *c->ring);
    c->mysql = mysql_init(NULL);
    if (!c->ring || !c->mysql) {
        if (c->mysql)
            mysql_close(c->mysql);
        free(c->ring);
        free(c);
        return NULL;
    }
    /* Non-blocking mode must be set before any _start (default stack). */
    mysql_options(c->mysql, MYSQL_OPT_NONBLOCK, 0);
    mysql_options(c->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    unsigned tcp = MYSQL_PROTOCOL_TCP;
    if (!pool->dsn.socket && strcmp(pool->host, "localhost") != 0)
        mysql_options(c->mysql, MYSQL_OPT_PROTOCOL, &tcp);
    my_bool no = 0;
    /* Reconnecting would run a blocking connect (and DNS) inside a query. */
    mysql_options(c->mysql, MYSQL_OPT_RECONNECT, &no);
    unsigned no_infile = 0; /* LOAD DATA LOCAL reads files synchronously */
    mysql_options(c->mysql, MYSQL_OPT_LOCAL_INFILE, &no_infile);

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
    c->state = AMY__C_CONNECTING;

    if (pool->dsn.connect_timeout_ms) {
        /* The loop's cached time is stale if the caller has not run it for
         * a while (blocking work, other clients): the deadline would be
         * short by that much. */
        ev_now_update(pool->loop);
        ev_timer_set(&c->connect_timer, pool->dsn.connect_timeout_ms / 1000.0,
                     0.);
        ev_timer_start(pool->loop, &c->connect_timer);
    }
    c->pumping = 1;
    int st = start_connect(c);
    c->pumping = 0;
    if (st != 0) {
        arm(c, st);
    } else {
        /* Completed (failed) already: report it from the loop, never from
         * inside the caller's amy_query. */
        c->completed = 1;
        ev_feed_event(pool->loop, &c->io, EV_CUSTOM);
    }
    return c;
}

void amy__conn_kick(amy__conn *c)
{
    if (!c->pumping && c->state == AMY__C_READY && c->op == AMY__OP_NONE &&
        !c->completed)
        drive(c, NOTHING);
}

void amy__conn_free(amy__conn *c)
{
    struct ev_loop *loop = c->pool->loop;
    ev_io_stop(loop, &c->io);
    ev_io_stop(loop, &c->wio);
    free(c->wbuf);
    ev_timer_stop(loop, &c->wait_timer);
    ev_timer_stop(loop, &c->coalesce_timer);
    ev_timer_stop(loop, &c->connect_timer);
    amy__stmt_free_all(c);
    free(c->ring);
    free(c);
}

void amy__conn_destroy(amy__conn *c, int status)
{
    struct ev_loop *loop = c->pool->loop;
    /* ev_io_stop also drops an event fed but not yet delivered. */
    ev_io_stop(loop, &c->io);
    ev_io_stop(loop, &c->wio);
    ev_timer_stop(loop, &c->wait_timer);
    ev_timer_stop(loop, &c->coalesce_timer);
    ev_timer_stop(loop, &c->connect_timer);
    if (c->mysql && c->state == AMY__C_READY && c->op == AMY__OP_NONE) {
        /* Say goodbye (COM_QUIT) if it fits in the socket buffer now. */
        int st = mysql_close_start(c->mysql);
        if (st == 0)
            c->mysql = NULL;
        else
            c->op = AMY__OP_CLOSE;
    }
    if (c->op == AMY__OP_CLOSE) {
        int fd = (int)mysql_get_socket(c->mysql);
        if (fd >= 0)
            shutdown(fd, SHUT_RDWR);
        for (int i = 0; i < 64; i++)
            if (mysql_close_cont(c->mysql, MYSQL_WAIT_TIMEOUT) == 0)
                break;
        c->mysql = NULL; /* freed by close_cont, or abandoned after 64 */
        c->op = AMY__OP_NONE;
    }
    fail_all(c, status, 0, NULL, NULL);
    amy__stmt_free_all(c);
    amy__donelist done = c->done;
    free(c->wbuf);
    free(c->ring);
    free(c);
    amy__donelist_notify(done);
}
