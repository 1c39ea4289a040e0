/*
 * The stream kind (amy_query_stream): rows reach a callback as the
 * connection reads them (mysql_use_result + fetch_row), so memory stays
 * bounded. A stream has its connection to itself (alone): nothing may be
 * read off the socket but its rows until they end.
 *
 *   READ (conn.c) --result set--> rows(): use_result --> FETCH
 *   FETCH --a row--> the callback, then FETCH again, unless paused:
 *         PARKED (no call, no watcher) until amy_stream_resume
 *   FETCH --end of rows--> the result set is done (conn.c: NEXT or
 *         complete); --server error--> head fails; --client error--> break
 *   the future leaves (canceled, timed out) --> FETCH the rest, dropped
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
    MYSQL_RES *res; /* the head's result set, read row by row */
    MYSQL_ROW row;
    size_t *lens;         /* the row's lengths as size_t, for the callback */
    uint64_t rows;        /* delivered so far */
    unsigned char parked; /* paused: nothing is driving the connection */
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
    x->parked = 0;
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

static int stream_rows(amy__conn *c)
{
    stream_ext *x = ext_of(c);
    if (!x) {
        x = calloc(1, sizeof *x);
        if (!x) {
            amy__conn_break(c, NULL); /* it cannot skip the rows */
            return AMY__NOTHING;
        }
        amy__conn_add_ext(c, &x->base, &ext_ops);
    }
    x->res = mysql_use_result(c->mysql); /* no I/O */
    x->lens = calloc(mysql_field_count(c->mysql) + 1, sizeof(size_t));
    x->rows = 0;
    if (!x->res || !x->lens) {
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
             * the callback may pause, cancel, query. */
            s->cb((const char *const *)row, x->lens, n, s->arg);
        }
        return next_row(c, x);
    }
    unsigned err = mysql_errno(c->mysql);
    if (err && amy__is_client_error(err)) {
        amy__conn_break(c, NULL);
        return AMY__NOTHING;
    }
    uint64_t rows = x->rows;
    end_rows(x); /* every row was read (or the server said no) */
    if (err) {
        amy__err e = amy__conn_err(c);
        amy__conn_complete(c, &e);
        return AMY__NOTHING;
    }
    amy__conn_add_result(c, amy__result_ok(rows, 0));
    return amy__conn_after_result(c);
}

/* Drives a parked stream on. */
static void unpark(amy__conn *c)
{
    stream_ext *x = ext_of(c);
    if (x && x->parked && !c->pumping) {
        x->parked = 0;
        amy__conn_drive(c, next_row(c, x));
    }
}

/* Its reader left: read the rest and drop it. */
static void stream_detached(amy__conn *c)
{
    unpark(c);
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
    if (!f || f->op != &amy__op_stream || f->status != AMY_PENDING)
        return AMY_EINVAL;
    f->paused = 1;
    return AMY_OK;
}

int amy_stream_resume(amy_future *f)
{
    if (!f || f->op != &amy__op_stream || f->status != AMY_PENDING)
        return AMY_EINVAL;
    f->paused = 0;
    if (f->conn)
        unpark(f->conn);
    return AMY_OK;
}
