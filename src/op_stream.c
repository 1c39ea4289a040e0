/*
 * The stream kind (amy_query_stream): rows reach a callback as the
 * connection reads them (mysql_use_result + fetch_row), so memory stays
 * bounded. A stream has its connection to itself (alone): nothing may be
 * read off the socket but its rows until they end.
 *
 *   READ (conn.c) --result set--> rows(): use_result --> FETCH
 *   FETCH --a row--> the callback, then FETCH again, unless paused:
 *         PARKED (no call, no watcher) until amy_stream_resume, whose
 *         `wake` timer drives it on from the loop: no row is delivered
 *         inside the resume call (code that clears its own "paused" flag
 *         after calling resume must not miss rows)
 *   FETCH --end of rows--> the result set is done (conn.c: NEXT or
 *         complete); --server error--> head fails; --client error--> break
 *   the future leaves (canceled, timed out) --> FETCH the rest, dropped
 *         (also woken from the loop: cancel runs no I/O inside the call)
 *
 * Each result set's columns (names, types, flags) are copied once, when
 * its rows start, into a result with no rows: amy_stream_columns reads
 * it while the rows come, and it becomes that set's final result (its
 * affected rows = the rows delivered).
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "future.h"
#include "op.h"
#include "result.h"

/* A connection's state of the stream it reads, made on first use. */
typedef struct stream_ext {
    amy__ext base;
    amy__conn *c;
    MYSQL_RES *res; /* the head's result set, read row by row */
    MYSQL_ROW row;
    amy_result *cols;     /* its columns, no rows: the set's final result */
    size_t *lens;         /* the row's lengths as size_t, for the callback */
    uint64_t rows;        /* delivered so far */
    unsigned char parked; /* paused: nothing is driving the connection */
    ev_timer wake;        /* drives a parked stream on, from the loop */
} stream_ext;

static void stream_ext_closing(amy__conn *c, void *e);
static void stream_ext_free(amy__conn *c, void *e);
static const amy__ext_ops ext_ops = {stream_ext_closing, stream_ext_free, NULL};

static stream_ext *ext_of(const amy__conn *c)
{
    return amy__conn_ext(c, &ext_ops);
}

/* The result set is over (all rows read, or abandoned with the
 * connection): it goes, without I/O once every row was read. */
static void end_rows(stream_ext *x)
{
    if (x->res)
        mysql_free_result(x->res);
    x->res = NULL;
    free(x->lens);
    x->lens = NULL;
    amy__result_free(x->cols);
    x->cols = NULL;
    x->parked = 0;
    if (ev_is_active(&x->wake))
        ev_timer_stop(x->c->loop, &x->wake);
}

static void stream_ext_closing(amy__conn *c, void *e)
{
    end_rows(e); /* the socket is shut down: no blocking read */
}

static void stream_ext_free(amy__conn *c, void *e)
{
    end_rows(e);
    free(e);
}

/* The next row, unless the reader paused. */
static int next_row(amy__conn *c, stream_ext *x)
{
    amy_future *f = c->ring[c->head].f;
    if (f && f->paused) {
        x->parked = 1;
        return AMY__PARKED;
    }
    c->op = AMY__OP_KIND;
    c->kind = &amy__op_stream;
    x->row = NULL;
    return mysql_fetch_row_start(&x->row, x->res);
}

/* Drives a parked stream on, from the loop. */
static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    stream_ext *x = w->data;
    amy__conn *c = x->c;
    if (x->parked && !c->pumping) {
        x->parked = 0;
        amy__conn_drive(c, next_row(c, x));
    }
}

/* The columns of x->res, in a result with no rows. NULL on ENOMEM. */
static amy_result *columns(MYSQL_RES *res)
{
    size_t n = mysql_num_fields(res);
    const MYSQL_FIELD *fields = mysql_fetch_fields(res);
    char *data;
    amy_result *r =
        amy__result_alloc(0, n, amy__result_names_size(fields, n), 0, 0, &data);
    if (r)
        amy__result_set_cols(r, fields, data);
    return r;
}

static int stream_rows(amy__conn *c)
{
    stream_ext *x = ext_of(c);
    if (!x) {
        x = calloc(1, sizeof *x);
        if (!x) {
            amy__conn_break(c, NULL); /* it cannot skip the rows */
            return AMY__NOTHING;
        }
        x->c = c;
        ev_timer_init(&x->wake, wake_cb, 0., 0.);
        x->wake.data = x;
        amy__conn_add_ext(c, &x->base, &ext_ops);
    }
    x->res = mysql_use_result(c->mysql); /* no I/O */
    x->lens = calloc(mysql_field_count(c->mysql) + 1, sizeof(size_t));
    x->rows = 0;
    x->cols = x->res ? columns(x->res) : NULL;
    if (!x->res || !x->lens || !x->cols) {
        /* Out of memory: the connection cannot skip the rows. */
        end_rows(x);
        amy__conn_break(c, NULL);
        return AMY__NOTHING;
    }
    return next_row(c, x);
}

static int stream_cont(amy__conn *c, int ready)
{
    stream_ext *x = ext_of(c);
    return mysql_fetch_row_cont(&x->row, x->res, ready);
}

static int stream_finish(amy__conn *c)
{
    stream_ext *x = ext_of(c);
    MYSQL_ROW row = x->row;
    if (row) {
        amy_future *f = c->ring[c->head].f;
        x->rows++;
        if (f) {
            amy__stream *s = f->data;
            size_t n = mysql_num_fields(x->res);
            unsigned long *lens = mysql_fetch_lengths(x->res);
            for (size_t i = 0; i < n; i++)
                x->lens[i] = lens[i];
            /* The connection is consistent here (no call in progress);
             * the callback may pause, cancel, query; the frame tells
             * amy_future_wait and amy_pool_free that it runs. */
            amy__cbframe fr;
            amy__cb_enter(&fr, f, f->pool, 1);
            s->cb(f, (const char *const *)row, x->lens, n, s->arg);
            amy__cb_leave(&fr);
        }
        return next_row(c, x);
    }
    unsigned err = mysql_errno(c->mysql);
    if (err && amy__is_client_error(err)) {
        amy__conn_break(c, NULL);
        return AMY__NOTHING;
    }
    amy_result *cols = x->cols;
    x->cols = NULL;
    cols->affected_rows = x->rows;
    end_rows(x); /* every row was read (or the server said no) */
    if (err) {
        amy__result_free(cols);
        amy__err e = amy__conn_err(c);
        amy__conn_complete(c, &e);
        return AMY__NOTHING;
    }
    amy__conn_add_result(c, cols);
    return amy__conn_after_result(c);
}

/* A parked stream goes on from the loop, never inside the caller's call. */
static void unpark_soon(amy__conn *c)
{
    stream_ext *x = ext_of(c);
    if (x && x->parked && !ev_is_active(&x->wake))
        ev_timer_start(c->loop, &x->wake);
}

/* Its reader left: read the rest and drop it. */
static void stream_detached(amy__conn *c)
{
    unpark_soon(c);
}

const amy__op amy__op_stream = {
    .name = "query_stream",
    .alone = 1,
    .write = amy__conn_write_text, /* sent as a text query */
    .rows = stream_rows,
    .detached = stream_detached,
    .cont = stream_cont,
    .finish = stream_finish,
};

int amy_stream_pause(amy_future *f)
{
    if (!amy__future_live(f, __func__) || f->op != &amy__op_stream ||
        f->status != AMY_PENDING)
        return AMY_EINVAL;
    f->paused = 1;
    return AMY_OK;
}

int amy_stream_resume(amy_future *f)
{
    if (!amy__future_live(f, __func__) || f->op != &amy__op_stream ||
        f->status != AMY_PENDING)
        return AMY_EINVAL;
    f->paused = 0;
    if (f->conn)
        unpark_soon(f->conn);
    return AMY_OK;
}

const amy_result *amy_stream_columns(const amy_future *f)
{
    if (!amy__future_live(f, __func__) || f->op != &amy__op_stream)
        return NULL;
    if (f->status != AMY_PENDING)
        return amy_future_result(f);
    if (f->where != AMY__W_INFLIGHT || f->conn->ring[f->conn->head].f != f)
        return NULL; /* its rows have not started */
    stream_ext *x = ext_of(f->conn);
    return x ? x->cols : NULL;
}
