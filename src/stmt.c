/*
 * Prepared statements (amy_exec, amy_exec_batch) on one connection, through
 * the connector's mysql_stmt_*_start / _cont calls.
 *
 * A statement future has its connection to itself: the pool hands it only
 * to a connection with nothing in flight, and gives that connection nothing
 * else until it completes. So these calls never interleave with the text
 * queries conn.c pipelines, and the connector's own writes never race ours.
 *
 * Two op kinds (op.h) share this code: amy__op_exec and amy__op_batch.
 * Each connection keeps an LRU cache of up to stmt_cache prepared
 * statements, keyed by SQL text, hung on it as an amy__ext. Phases (one
 * connector call each, c->op KIND; the phase in the cache's `phase`), run
 * for the head of the ring:
 *
 *   begin --batch, server's packet limit not known yet--> VARQ -> VARSTORE
 *     |                                                            |
 *     +<-----------------------------------------------------------+
 *   lookup --cached------------------------------------------> EXECUTE
 *          --not cached, cache full--> CLOSE (LRU) --> PREPARE -> EXECUTE
 *          --not cached--------------------------------> PREPARE -> EXECUTE
 *   EXECUTE --result set--> FETCH (a row) --> FETCH ... --end of rows-->
 *           --more results--> NEXT --> FETCH | ...
 *   (rows are fetched one at a time, unbuffered, into the connection's
 *   amy__rowbuf, so max_result_bytes bounds them as they arrive: past it
 *   they are fetched and dropped, and the future resolves AMY_ETOOBIG)
 *   EXECUTE --batch, rows left--> EXECUTE (next chunk)
 *   EXECUTE --1615/1243 (statement gone stale), once--> CLOSE -> PREPARE
 *   last answer or error --> the future completes; an uncached statement
 *                            (stmt_cache=0, or no memory for the entry)
 *                            is then closed (CLOSE) before anything else.
 *   a client error (lost connection, ...) --> the connection breaks.
 *
 * The future is held (amy__future_hold) from begin to completion: the
 * connector may read its SQL while a large COM_STMT_PREPARE is being
 * written, and a batch reads its rows at every chunk. If the caller cancels
 * it meanwhile, the running call ends (the pool sends KILL QUERY) and no
 * further chunk starts.
 */
#include <errmsg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "future.h"
#include "op.h"
#include "params.h"
#include "result.h"
#include "stmt.h"

#define NOTHING AMY__NOTHING /* no connector call was started */

/* One cached statement. */
typedef struct entry {
    MYSQL_STMT *stmt;
    uint64_t hash;
    char *sql; /* the key: a NUL-terminated copy */
    size_t len;
    unsigned long long used; /* LRU clock */
} entry;

/* A batch column's one type (from its first non-NULL value). */
typedef struct coltype {
    unsigned char type; /* enum enum_field_types */
    unsigned char is_unsigned;
} coltype;

enum after_close { THEN_PREPARE, THEN_NOTHING };

/* The connector calls, in the diagram above. */
enum phase {
    S_VARQ,     /* SELECT @@max_allowed_packet, for a batch */
    S_VARSTORE, /* its result */
    S_CLOSE,    /* closing an evicted (or uncached) statement */
    S_PREPARE,
    S_EXECUTE,
    S_FETCH, /* the next row of a result set */
    S_NEXT
};

struct amy__stmts {
    amy__ext base;
    unsigned char phase; /* enum phase: the call in progress */
    entry *e;            /* cap entries, n used, in no order */
    unsigned n, cap;
    unsigned long long clock;
    unsigned long max_packet; /* the server's max_allowed_packet; 0 unknown */

    /* The head future's progress. */
    amy_future *held;    /* the future, held until it completes */
    MYSQL_STMT *cur;     /* the statement it runs */
    int cur_entry;       /* cur's index in e, or -1 when not cached */
    MYSQL_STMT *closing; /* being closed by the CLOSE call (owned by it) */
    unsigned char after; /* enum after_close */
    unsigned char reprepared;
    size_t row, end, nrows, ncols; /* batch: rows [row, end) in flight */
    const amy_value *rows;
    uint64_t affected, insert_id;
    /* The result set being fetched: its columns' binds, its rows so far,
     * and the connector's error if it failed to hand a value over. */
    amy__binrows *bin;
    uint64_t fetched;
    unsigned fetch_err;

    /* Bind scratch, grown to the most parameters seen. */
    MYSQL_BIND *bind;
    MYSQL_TIME *tm;
    unsigned long *blen;
    char *ind;
    coltype *ct;
    size_t bcap;
};

typedef struct amy__stmts amy__stmts;

/* ------------------------------------------------------------------------ */
/* Checks (before a future exists)                                          */
/* ------------------------------------------------------------------------ */

/* Value classes that may share a batch column. */
enum vclass { VC_NULL, VC_INT, VC_DOUBLE, VC_BYTES, VC_DATE, VC_TIME, VC_DT };

static enum vclass vclass(amy_type t)
{
    switch (t) {
    case AMY_TYPE_INT64:
    case AMY_TYPE_UINT64:
        return VC_INT;
    case AMY_TYPE_DOUBLE:
        return VC_DOUBLE;
    case AMY_TYPE_TEXT:
    case AMY_TYPE_BLOB:
        return VC_BYTES;
    case AMY_TYPE_DATE:
        return VC_DATE;
    case AMY_TYPE_TIME:
        return VC_TIME;
    case AMY_TYPE_DATETIME:
        return VC_DT;
    default:
        return VC_NULL;
    }
}

static const char *vclass_name(enum vclass k)
{
    static const char *const names[] = {"NULL", "integer", "double",  "bytes",
                                        "DATE", "TIME",    "DATETIME"};
    return names[k];
}

/* An integer column is signed unless a value needs unsigned; it cannot
 * need both. */
static int int_column(const amy_value *v, size_t nrows, size_t ncols,
                      size_t col, int *is_unsigned)
{
    int neg = 0, big = 0;
    for (size_t r = 0; r < nrows; r++) {
        const amy_value *x = &v[r * ncols + col];
        if (x->type == AMY_TYPE_INT64 && x->v.i64 < 0)
            neg = 1;
        if (x->type == AMY_TYPE_UINT64 && x->v.u64 > (uint64_t)INT64_MAX)
            big = 1;
    }
    *is_unsigned = big;
    return neg && big ? -1 : 0;
}

int amy__stmt_check(const char *sql, size_t len, const amy_value *v,
                    size_t nrows, size_t ncols, int batch, amy__mbchar_fn mb,
                    char *err, size_t errlen)
{
    size_t want = amy__params_count(sql, len, mb);
    if (want != ncols) {
        snprintf(err, errlen,
                 "the statement has %zu placeholder%s but %zu value%s per "
                 "%s given",
                 want, want == 1 ? "" : "s", ncols, ncols == 1 ? "" : "s",
                 batch ? "row were" : "statement were");
        return AMY_EINVAL;
    }
    if (ncols > 65535) {
        snprintf(err, errlen, "%zu placeholders: at most 65535", ncols);
        return AMY_EINVAL;
    }
    if (batch && ncols == 0) {
        snprintf(err, errlen, "a batch needs a statement with placeholders");
        return AMY_EINVAL;
    }
    char msg[192];
    for (size_t r = 0; r < nrows; r++) {
        for (size_t i = 0; i < ncols; i++) {
            if (amy__value_check(&v[r * ncols + i], i + 1, msg, sizeof msg)) {
                if (batch)
                    snprintf(err, errlen, "row %zu: %s", r, msg);
                else
                    snprintf(err, errlen, "%s", msg);
                return AMY_EINVAL;
            }
        }
    }
    if (!batch)
        return AMY_OK;
    for (size_t i = 0; i < ncols; i++) {
        enum vclass k = VC_NULL;
        for (size_t r = 0; r < nrows; r++) {
            enum vclass x = vclass(v[r * ncols + i].type);
            if (x == VC_NULL)
                continue;
            if (k == VC_NULL)
                k = x;
            else if (x != k) {
                snprintf(err, errlen,
                         "column %zu mixes types: %s in an earlier row, %s "
                         "in row %zu",
                         i + 1, vclass_name(k), vclass_name(x), r);
                return AMY_EINVAL;
            }
        }
        int uns;
        if (k == VC_INT && int_column(v, nrows, ncols, i, &uns) != 0) {
            snprintf(err, errlen,
                     "column %zu mixes negative integers and integers over "
                     "INT64_MAX",
                     i + 1);
            return AMY_EINVAL;
        }
    }
    return AMY_OK;
}

/* ------------------------------------------------------------------------ */
/* Cache                                                                    */
/* ------------------------------------------------------------------------ */

static uint64_t hash_sql(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int find(const amy__stmts *st, const char *sql, size_t len, uint64_t h)
{
    for (unsigned i = 0; i < st->n; i++)
        if (st->e[i].hash == h && st->e[i].len == len &&
            memcmp(st->e[i].sql, sql, len) == 0)
            return (int)i;
    return -1;
}

/* Takes entry i out of the cache; its statement is the caller's. */
static MYSQL_STMT *take_entry(amy__stmts *st, int i)
{
    MYSQL_STMT *s = st->e[i].stmt;
    free(st->e[i].sql);
    st->e[i] = st->e[--st->n];
    return s;
}

static int lru(const amy__stmts *st)
{
    int v = 0;
    for (unsigned i = 1; i < st->n; i++)
        if (st->e[i].used < st->e[v].used)
            v = (int)i;
    return v;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static void stmts_free(amy__conn *c, void *ext);
static void stmts_forget(amy__conn *c, void *ext);
static const amy__ext_ops ext_ops = {NULL, stmts_free, stmts_forget};

static amy__stmts *stmts_of(const amy__conn *c)
{
    return amy__conn_ext(c, &ext_ops);
}

static amy_future *head_f(amy__conn *c)
{
    return c->ring[c->head].f;
}

/* The connector call of phase ph is starting. */
static amy__stmts *call(amy__conn *c, enum phase ph)
{
    amy__stmts *st = stmts_of(c);
    c->op = AMY__OP_KIND;
    c->kind = &amy__op_exec;
    st->phase = (unsigned char)ph;
    return st;
}

static int is_batch(const amy_future *f)
{
    return f->op == &amy__op_batch;
}

static amy__err stmt_err(MYSQL_STMT *s)
{
    amy__err e = {mysql_stmt_errno(s), mysql_stmt_sqlstate(s),
                  mysql_stmt_error(s)};
    return e;
}

/* Client errors that leave the connection usable: found while building
 * the request, before anything is written; or 2057, whose unread rows
 * closing the statement reads. */
static int harmless_client_error(unsigned e)
{
    return e == CR_PARAMS_NOT_BOUND || e == CR_UNSUPPORTED_PARAM_TYPE ||
           e == CR_NEW_STMT_METADATA || e == CR_FUNCTION_NOT_SUPPORTED ||
           e == CR_BULK_WITHOUT_PARAMETERS || e == CR_ERR_STMT_PARAM_CALLBACK ||
           e == CR_OUT_OF_MEMORY;
}

/* An error after which the connection cannot be trusted: a client error,
 * or one without a number (amy__breaks_stream). */
static int breaks_connection(unsigned e)
{
    return amy__breaks_stream(e) && !harmless_client_error(e);
}

static int grow_binds(amy__stmts *st, size_t n)
{
    if (n <= st->bcap)
        return 0;
    size_t cap = st->bcap ? st->bcap : 8;
    while (cap < n)
        cap *= 2;
    MYSQL_BIND *b = realloc(st->bind, cap * sizeof *b);
    if (b)
        st->bind = b;
    MYSQL_TIME *t = realloc(st->tm, cap * sizeof *t);
    if (t)
        st->tm = t;
    unsigned long *l = realloc(st->blen, cap * sizeof *l);
    if (l)
        st->blen = l;
    char *d = realloc(st->ind, cap);
    if (d)
        st->ind = d;
    coltype *k = realloc(st->ct, cap * sizeof *k);
    if (k)
        st->ct = k;
    if (!b || !t || !l || !d || !k)
        return -1;
    st->bcap = cap;
    return 0;
}

/* The connector's MYSQL_TIME for v (checked already: amy__value_check). */
static void to_mysql_time(const amy_value *v, MYSQL_TIME *t)
{
    const amy_time *a = &v->v.time;
    memset(t, 0, sizeof *t);
    t->second_part = a->microsecond;
    t->minute = (unsigned)a->minute;
    t->second = (unsigned)a->second;
    if (v->type == AMY_TYPE_TIME) {
        /* The wire has days and 0-23 hours. */
        unsigned h = (unsigned)(a->day * 24 + a->hour);
        t->day = h / 24;
        t->hour = h % 24;
        t->neg = a->negative != 0;
        t->time_type = MYSQL_TIMESTAMP_TIME;
        return;
    }
    t->year = (unsigned)a->year;
    t->month = (unsigned)a->month;
    t->day = (unsigned)a->day;
    t->hour = (unsigned)a->hour;
    t->time_type = v->type == AMY_TYPE_DATE ? MYSQL_TIMESTAMP_DATE
                                            : MYSQL_TIMESTAMP_DATETIME;
}

static enum enum_field_types wire_type(amy_type t)
{
    switch (t) {
    case AMY_TYPE_INT64:
    case AMY_TYPE_UINT64:
        return MYSQL_TYPE_LONGLONG;
    case AMY_TYPE_DOUBLE:
        return MYSQL_TYPE_DOUBLE;
    case AMY_TYPE_TEXT:
        return MYSQL_TYPE_STRING; /* the connection's character set */
    case AMY_TYPE_BLOB:
        return MYSQL_TYPE_BLOB; /* binary: the server converts nothing */
    case AMY_TYPE_DATE:
        return MYSQL_TYPE_DATE;
    case AMY_TYPE_TIME:
        return MYSQL_TYPE_TIME;
    case AMY_TYPE_DATETIME:
        return MYSQL_TYPE_DATETIME;
    default:
        return MYSQL_TYPE_NULL;
    }
}

/* Points b at value v (its buffer, length, indicator); the type is set by
 * the caller. tm, len and ind are this parameter's scratch. */
static void point_at(MYSQL_BIND *b, const amy_value *v, MYSQL_TIME *tm,
                     unsigned long *len, char *ind)
{
    *ind = STMT_INDICATOR_NONE;
    *len = 0;
    switch (v->type) {
    case AMY_TYPE_INT64:
    case AMY_TYPE_UINT64:
        b->buffer = (void *)&v->v.i64; /* same bits for both */
        b->buffer_length = 8;
        break;
    case AMY_TYPE_DOUBLE:
        b->buffer = (void *)&v->v.f64;
        b->buffer_length = 8;
        break;
    case AMY_TYPE_TEXT:
    case AMY_TYPE_BLOB:
        /* A non-NULL pointer even for "": a NULL buffer reads as SQL NULL. */
        b->buffer = (void *)(v->v.bytes.ptr ? v->v.bytes.ptr : "");
        b->buffer_length = (unsigned long)v->v.bytes.len;
        *len = (unsigned long)v->v.bytes.len;
        break;
    case AMY_TYPE_DATE:
    case AMY_TYPE_TIME:
    case AMY_TYPE_DATETIME:
        to_mysql_time(v, tm);
        b->buffer = tm;
        b->buffer_length = sizeof *tm;
        break;
    default:
        *ind = STMT_INDICATOR_NULL;
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                  */
/* ------------------------------------------------------------------------ */

/* Bytes a row takes in COM_STMT_BULK_EXECUTE, at most: an indicator per
 * value, then its data (a length of up to 9 bytes before bytes). */
static size_t row_bytes(const amy_value *v, size_t ncols)
{
    size_t n = 0;
    for (size_t i = 0; i < ncols; i++) {
        n += 1;
        switch (vclass(v[i].type)) {
        case VC_NULL:
            break;
        case VC_INT:
        case VC_DOUBLE:
            n += 8;
            break;
        case VC_BYTES:
            n += 9 + v[i].v.bytes.len;
            break;
        default:
            n += 13;
            break;
        }
    }
    return n;
}

/* The payload a chunk may fill: under the server's limit (with room for
 * the header), and under 16 MiB so it is one protocol packet. */
static size_t chunk_limit(const amy__stmts *st)
{
    size_t lim = st->max_packet < (16u << 20) ? st->max_packet : (16u << 20);
    size_t header = 1 + 4 + 2 + 2 * st->ncols + 64;
    return lim > header ? lim - header : 0;
}

/* The end of the chunk that starts at row `from`. */
static size_t chunk_end(const amy__stmts *st, size_t from)
{
    size_t lim = chunk_limit(st), bytes = 0, r = from;
    for (; r < st->nrows; r++) {
        size_t b = row_bytes(st->rows + r * st->ncols, st->ncols);
        if (r > from && bytes + b > lim)
            break;
        bytes += b;
        if (r - from + 1 >= 0xffffffffu) /* the array size is 32-bit */
            return r + 1;
    }
    return r;
}

/* The connector asks for each row of the chunk while it builds the
 * packet: point the parameters at that row's values. */
static my_bool row_cb(void *data, MYSQL_BIND *bind, unsigned int row)
{
    amy__stmts *st = data;
    const amy_value *v = st->rows + (st->row + row) * st->ncols;
    for (size_t i = 0; i < st->ncols; i++)
        point_at(&bind[i], &v[i], &st->tm[i], &st->blen[i], &st->ind[i]);
    return 0;
}

/* Each column's one wire type, from its values (checked at submit). */
static void batch_types(amy__stmts *st)
{
    for (size_t i = 0; i < st->ncols; i++) {
        st->ct[i].type = MYSQL_TYPE_NULL;
        st->ct[i].is_unsigned = 0;
        for (size_t r = 0; r < st->nrows; r++) {
            amy_type t = st->rows[r * st->ncols + i].type;
            if (t != AMY_TYPE_NULL) {
                st->ct[i].type = (unsigned char)wire_type(t);
                break;
            }
        }
        int uns = 0;
        if (st->ct[i].type == MYSQL_TYPE_LONGLONG)
            int_column(st->rows, st->nrows, st->ncols, i, &uns);
        st->ct[i].is_unsigned = (unsigned char)uns;
    }
}

/* ------------------------------------------------------------------------ */
/* Phases                                                                   */
/* ------------------------------------------------------------------------ */

static int lookup(amy__conn *c);
static int execute(amy__conn *c);

/* Starts closing statement s (CLOSE), then `after`. */
static int start_close(amy__conn *c, MYSQL_STMT *s, enum after_close after)
{
    amy__stmts *st = call(c, S_CLOSE);
    st->closing = s;
    st->after = (unsigned char)after;
    return mysql_stmt_close_start(&c->bret, s);
}

/* The head has completed (amy__conn_complete ran): let go of the future,
 * and close a statement that is not cached. */
static int done(amy__conn *c)
{
    amy__stmts *st = stmts_of(c);
    amy_future *held = st->held;
    st->held = NULL;
    MYSQL_STMT *s = st->cur;
    int cached = st->cur_entry >= 0;
    st->cur = NULL;
    st->cur_entry = -1;
    if (held)
        amy__future_release(held); /* may free it: nothing reads it after */
    if (s && !cached)
        return start_close(c, s, THEN_NOTHING);
    return NOTHING;
}

/* Completes the head with a status of ours (not the server's). */
static int fail_head(amy__conn *c, int status, const char *msg)
{
    amy_future *f = head_f(c);
    if (f)
        amy__future_set_error(f, status, 0, NULL, msg);
    amy__conn_complete(c, NULL);
    return done(c);
}

/* The head has all its answers: success, with the result sets added. */
static int succeed(amy__conn *c)
{
    amy__conn_complete(c, NULL);
    return done(c);
}

static int start_varq(amy__conn *c)
{
    static const char q[] = "SELECT @@max_allowed_packet";
    call(c, S_VARQ);
    return mysql_real_query_start(&c->iret, c->mysql, q, sizeof q - 1);
}

static int prepare(amy__conn *c)
{
    amy__stmts *st = stmts_of(c);
    amy_future *f = head_f(c);
    if (!f)
        return succeed(c); /* it left: nothing to prepare for */
    MYSQL_STMT *s = mysql_stmt_init(c->mysql);
    if (!s)
        return fail_head(c, AMY_ENOMEM, "out of memory making a statement");
    st->cur = s;
    st->cur_entry = -1;
    call(c, S_PREPARE);
    return mysql_stmt_prepare_start(&c->iret, s, f->sql, f->sql_len);
}

static int lookup(amy__conn *c)
{
    amy__stmts *st = stmts_of(c);
    amy_stats *stats = c->cfg->stats;
    amy_future *f = head_f(c);
    if (!f)
        return succeed(c);
    if (is_batch(f) && st->row == 0) {
        /* Refuse a row no chunk can carry before any row is sent. */
        size_t lim = chunk_limit(st);
        for (size_t r = 0; r < st->nrows; r++) {
            size_t b = row_bytes(st->rows + r * st->ncols, st->ncols);
            if (b > lim) {
                char msg[192];
                snprintf(msg, sizeof msg,
                         "row %zu needs %zu bytes; the server's "
                         "max_allowed_packet (%lu) cannot carry it",
                         r, b, st->max_packet);
                return fail_head(c, AMY_EINVAL, msg);
            }
        }
    }
    uint64_t h = hash_sql(f->sql, f->sql_len);
    int i = find(st, f->sql, f->sql_len, h);
    if (i >= 0) {
        stats->stmt_cache_hits++;
        st->e[i].used = ++st->clock;
        st->cur = st->e[i].stmt;
        st->cur_entry = i;
        return execute(c);
    }
    stats->stmt_cache_misses++;
    if (st->cap > 0 && st->n == st->cap) {
        /* Close first, so the server never holds more than the cache. */
        stats->stmt_evictions++;
        return start_close(c, take_entry(st, lru(st)), THEN_PREPARE);
    }
    return prepare(c);
}

static int execute(amy__conn *c)
{
    amy__stmts *st = stmts_of(c);
    amy_future *f = head_f(c);
    if (!f)
        return succeed(c);
    MYSQL_STMT *s = st->cur;
    size_t np = mysql_stmt_param_count(s);
    size_t want = is_batch(f) ? f->ncols : f->nparams;
    if (np != want) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "the server counts %zu placeholders in the statement, not "
                 "%zu",
                 np, want);
        return fail_head(c, AMY_EINVAL, msg);
    }
    if (grow_binds(st, np ? np : 1) != 0)
        return fail_head(c, AMY_ENOMEM, "out of memory binding parameters");
    memset(st->bind, 0, np * sizeof *st->bind);
    unsigned int array = 0;
    if (is_batch(f)) {
        st->end = chunk_end(st, st->row);
        array = (unsigned int)(st->end - st->row);
        for (size_t i = 0; i < np; i++) {
            st->bind[i].buffer_type = (enum enum_field_types)st->ct[i].type;
            st->bind[i].is_unsigned = st->ct[i].is_unsigned;
            st->bind[i].length = &st->blen[i];
            st->bind[i].u.indicator = &st->ind[i];
        }
        /* The rows come through row_cb; the first sets the buffers. */
        row_cb(st, st->bind, 0);
        if (st->row > 0)
            f->partial = 1; /* never re-sent whole after a stray KILL */
    } else {
        for (size_t i = 0; i < np; i++) {
            const amy_value *v = &f->params[i];
            MYSQL_BIND *b = &st->bind[i];
            b->buffer_type = wire_type(v->type);
            b->is_unsigned = v->type == AMY_TYPE_UINT64;
            b->length = &st->blen[i];
            point_at(b, v, &st->tm[i], &st->blen[i], &st->ind[i]);
        }
    }
    ps_param_callback cb = array ? row_cb : NULL;
    if (mysql_stmt_attr_set(s, STMT_ATTR_ARRAY_SIZE, &array) ||
        mysql_stmt_attr_set(s, STMT_ATTR_CB_USER_DATA, array ? st : NULL) ||
        mysql_stmt_attr_set(s, STMT_ATTR_CB_PARAM, (const void *)cb) ||
        (np && mysql_stmt_bind_param(s, st->bind))) {
        char msg[MYSQL_ERRMSG_SIZE + 32];
        snprintf(msg, sizeof msg, "binding parameters: %s",
                 mysql_stmt_error(s));
        return fail_head(c, AMY_ECLIENT, msg);
    }
    /* From here it may run on the server: never back to the queue. */
    amy__conn_head_sent(c);
    call(c, S_EXECUTE);
    return mysql_stmt_execute_start(&c->iret, s);
}

/* Another result set follows, or the head is done. */
static int stmt_after_result(amy__conn *c)
{
    MYSQL_STMT *s = stmts_of(c)->cur;
    if (mysql_stmt_more_results(s)) {
        call(c, S_NEXT);
        return mysql_stmt_next_result_start(&c->iret, s);
    }
    return succeed(c);
}

static int fetch_next(amy__conn *c)
{
    amy__stmts *st = call(c, S_FETCH);
    return mysql_stmt_fetch_start(&c->iret, st->cur);
}

/* A result set follows the answer: its rows, one at a time. */
static int start_rows(amy__conn *c)
{
    amy__stmts *st = stmts_of(c);
    unsigned err;
    st->bin = amy__binrows_new(st->cur, &err);
    if (!st->bin) {
        /* Its rows cannot be read, nor skipped: the connection goes. */
        amy__err e = {err ? err : CR_OUT_OF_MEMORY, "HY000",
                      err ? mysql_stmt_error(st->cur)
                          : "out of memory reading a result set"};
        amy__conn_break(c, &e);
        return NOTHING;
    }
    st->fetched = 0;
    st->fetch_err = 0;
    return fetch_next(c);
}

static void end_rows(amy__stmts *st)
{
    amy__binrows_free(st->bin);
    st->bin = NULL;
}

static int stmt_failed(amy__conn *c, const amy__err *e);
static int complete_failed(amy__conn *c, const amy__err *e);

/* A row was fetched (kept, unless its future left or the limit passed),
 * or the rows ended. */
static int fetched(amy__conn *c)
{
    amy__stmts *st = stmts_of(c);
    MYSQL_STMT *s = st->cur;
    int rc = c->iret;
    if (rc == 0 || rc == MYSQL_DATA_TRUNCATED) {
        st->fetched++;
        if (head_f(c) && !st->fetch_err &&
            amy__binrows_add(st->bin, s, &c->bound.rows) != 0)
            st->fetch_err =
                mysql_stmt_errno(s) ? mysql_stmt_errno(s) : CR_UNKNOWN_ERROR;
        return fetch_next(c);
    }
    end_rows(st);
    if (rc != MYSQL_NO_DATA) {
        /* An unbuffered fetch leaves the error on the connection (the
         * server's, sent instead of a row, or a broken socket). */
        amy__err e = mysql_stmt_errno(s) ? stmt_err(s) : amy__conn_err(c);
        if (!e.no) {
            amy__conn_break(c, NULL); /* nothing says where the stream is */
            return NOTHING;
        }
        return stmt_failed(c, &e);
    }
    amy__rowbuf *rows = &c->bound.rows;
    amy_result *r =
        st->fetch_err
            ? NULL
            : amy__rowbuf_result(rows, s->fields, mysql_stmt_field_count(s),
                                 st->fetched, 0);
    mysql_stmt_free_result(s); /* every row was read: no I/O */
    if (st->fetch_err) {
        amy__rowbuf_clear(rows);
        amy__err e = {st->fetch_err, "HY000",
                      "a value of the result could not be fetched"};
        return complete_failed(c, &e);
    }
    if (!r && rows->over)
        amy__conn_too_big(c);
    else
        amy__conn_add_result(c, r);
    return stmt_after_result(c);
}

/* An answer without a result set (an OK packet). */
static int ok_answer(amy__conn *c)
{
    amy__stmts *st = stmts_of(c);
    MYSQL_STMT *s = st->cur;
    amy_future *f = head_f(c);
    uint64_t affected = mysql_stmt_affected_rows(s);
    uint64_t id = mysql_stmt_insert_id(s);
    if (f && is_batch(f)) {
        st->affected += affected;
        if (!st->insert_id)
            st->insert_id = id;
        st->row = st->end;
        if (st->row < st->nrows)
            return execute(c); /* the next chunk (or stop: f left) */
        affected = st->affected;
        id = st->insert_id;
    }
    amy__conn_add_result(c, amy__result_ok(affected, id));
    return stmt_after_result(c);
}

/* Whether sql is a plain SELECT (after blanks and opening parentheses),
 * which may run twice without harm. */
static int is_select(const char *sql, size_t len)
{
    size_t i = 0;
    while (i < len && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' ||
                       sql[i] == '\r' || sql[i] == '('))
        i++;
    return len - i >= 6 && strncasecmp(sql + i, "select", 6) == 0;
}

/*
 * The table changed under the statement since it was prepared: the server
 * ran it again with new result columns, and the connector refuses them
 * (2057), leaving the rows unread. Closing the statement reads them off
 * the wire. A SELECT is then prepared and run again, once; anything else
 * (it may have changed data) fails, and the next call prepares afresh.
 */
static int new_metadata(amy__conn *c)
{
    amy__stmts *st = stmts_of(c);
    amy_future *f = head_f(c);
    if (st->cur_entry >= 0)
        take_entry(st, st->cur_entry);
    st->cur_entry = -1; /* closed by start_close or by done() */
    if (!st->reprepared && is_select(f->sql, f->sql_len) && !is_batch(f)) {
        st->reprepared = 1;
        MYSQL_STMT *s = st->cur;
        st->cur = NULL;
        return start_close(c, s, THEN_PREPARE);
    }
    amy__future_set_error(f, AMY_ECLIENT, CR_NEW_STMT_METADATA, "HY000",
                          "the table changed under the prepared statement: "
                          "it ran, but its new result columns could not be "
                          "read; run it again (it will be prepared anew)");
    amy__conn_complete(c, NULL);
    return done(c);
}

/* Completes the head with e, which did not break the connection: the
 * server's error, or a client error of ours (AMY_ECLIENT). */
static int complete_failed(amy__conn *c, const amy__err *e)
{
    amy_future *f = head_f(c);
    if (amy__is_client_error(e->no)) {
        if (f)
            amy__future_set_error(f, AMY_ECLIENT, e->no, e->sqlstate, e->msg);
        amy__conn_complete(c, NULL);
    } else {
        amy__conn_complete(c, e);
    }
    return done(c);
}

/* A call on the statement failed with e. */
static int stmt_failed(amy__conn *c, const amy__err *e)
{
    amy__stmts *st = stmts_of(c);
    amy_future *f = head_f(c);
    /* Running out of memory here may be halfway through reading the
     * answer (a column count or row too large to allocate for): the rest
     * would be read as the next statement's answer. */
    if (breaks_connection(e->no) || e->no == CR_OUT_OF_MEMORY) {
        amy__conn_break(c, e); /* fails the head and the rest */
        return NOTHING;
    }
    if ((e->no == 1615 || e->no == 1243) && !st->reprepared && f &&
        st->cur_entry >= 0 && (!is_batch(f) || st->row == 0)) {
        /* The server dropped or outdated the statement (a table changed
         * under it, ...): prepare it again, once. */
        st->reprepared = 1;
        take_entry(st, st->cur_entry);
        MYSQL_STMT *s = st->cur;
        st->cur = NULL;
        st->cur_entry = -1;
        return start_close(c, s, THEN_PREPARE);
    }
    if (e->no == CR_NEW_STMT_METADATA && f)
        return new_metadata(c);
    if (f && is_batch(f)) /* the chunks that went through */
        amy__conn_add_result(c, amy__result_ok(st->affected, st->insert_id));
    return complete_failed(c, e);
}

static int stmt_begin(amy__conn *c)
{
    unsigned cache = c->cfg->stmt_cache;
    amy_future *f = head_f(c);
    amy__stmts *st = stmts_of(c);
    if (!st) {
        st = calloc(1, sizeof *st);
        entry *e = cache ? calloc(cache, sizeof *e) : NULL;
        if (!st || (cache && !e)) {
            free(st);
            free(e);
            amy__future_set_error(f, AMY_ENOMEM, 0, NULL,
                                  "out of memory for the statement cache");
            amy__conn_complete(c, NULL);
            return NOTHING;
        }
        st->e = e;
        st->cap = cache;
        st->cur_entry = -1;
        amy__conn_add_ext(c, &st->base, &ext_ops);
    }
    amy__future_hold(f);
    st->held = f;
    st->reprepared = 0;
    amy__rowbuf_query(&c->bound.rows); /* nothing spent yet */
    st->row = st->end = st->nrows = st->ncols = 0;
    st->affected = st->insert_id = 0;
    st->rows = NULL;
    if (is_batch(f)) {
        st->ncols = f->ncols;
        st->nrows = f->nparams / f->ncols;
        st->rows = f->params;
        if (grow_binds(st, st->ncols) != 0)
            return fail_head(c, AMY_ENOMEM, "out of memory binding parameters");
        batch_types(st);
        if (!st->max_packet)
            return start_varq(c);
    }
    return lookup(c);
}

static int stmt_cont(amy__conn *c, int ready)
{
    amy__stmts *st = stmts_of(c);
    switch (st->phase) {
    case S_VARQ:
        return mysql_real_query_cont(&c->iret, c->mysql, ready);
    case S_VARSTORE:
        return mysql_store_result_cont(&c->res, c->mysql, ready);
    case S_CLOSE:
        return mysql_stmt_close_cont(&c->bret, st->closing, ready);
    case S_PREPARE:
        return mysql_stmt_prepare_cont(&c->iret, st->cur, ready);
    case S_EXECUTE:
        return mysql_stmt_execute_cont(&c->iret, st->cur, ready);
    case S_FETCH:
        return mysql_stmt_fetch_cont(&c->iret, st->cur, ready);
    case S_NEXT:
        return mysql_stmt_next_result_cont(&c->iret, st->cur, ready);
    default:
        return 0;
    }
}

/* The connection's own error (VARQ, VARSTORE, CLOSE). */
static int conn_failed(amy__conn *c)
{
    amy__err e = amy__conn_err(c);
    if (!e.no || amy__is_client_error(e.no)) {
        amy__conn_break(c, NULL);
        return NOTHING;
    }
    amy__conn_complete(c, &e);
    return done(c);
}

/* VARSTORE completed: the server's max_allowed_packet, for chunking. */
static int packet_limit_read(amy__conn *c)
{
    amy__stmts *st = stmts_of(c);
    MYSQL_RES *res = c->res;
    c->res = NULL;
    if (!res)
        return conn_failed(c);
    MYSQL_ROW row = mysql_fetch_row(res); /* stored: no I/O */
    unsigned long v = row && row[0] ? strtoul(row[0], NULL, 10) : 0;
    mysql_free_result(res);
    st->max_packet = v >= 1024 ? v : 1024; /* the server's minimum */
    return lookup(c);
}

/* PREPARE completed: cache the statement (when there is room), then run
 * it. */
static int prepared(amy__conn *c)
{
    amy__stmts *st = stmts_of(c);
    amy_future *f = head_f(c);
    if (c->iret != 0) {
        amy__err e = stmt_err(st->cur);
        if (breaks_connection(e.no)) {
            amy__conn_break(c, &e);
            return NOTHING;
        }
        /* The message is copied by complete; the statement, not
         * cached, is then closed by done() (a failed prepare leaves it
         * unprepared: no I/O, but the non-blocking call all the same). */
        return complete_failed(c, &e);
    }
    if (st->cap > 0 && f) {
        char *copy = malloc(f->sql_len + 1);
        if (copy) {
            memcpy(copy, f->sql, f->sql_len);
            copy[f->sql_len] = '\0';
            entry *e = &st->e[st->n];
            e->stmt = st->cur;
            e->sql = copy;
            e->len = f->sql_len;
            e->hash = hash_sql(f->sql, f->sql_len);
            e->used = ++st->clock;
            st->cur_entry = (int)st->n++;
        } /* else: run it uncached, closed after */
    }
    return execute(c);
}

static int stmt_finish(amy__conn *c)
{
    amy__stmts *st = stmts_of(c);
    switch (st->phase) {
    case S_VARQ:
        if (c->iret != 0)
            return conn_failed(c);
        call(c, S_VARSTORE);
        c->res = NULL;
        return mysql_store_result_start(&c->res, c->mysql);

    case S_VARSTORE:
        return packet_limit_read(c);

    case S_CLOSE:
        /* The statement is freed whatever the outcome. */
        st->closing = NULL;
        if (c->bret && amy__is_client_error(mysql_errno(c->mysql)) &&
            mysql_errno(c->mysql) != CR_OUT_OF_MEMORY) {
            amy__conn_break(c, NULL); /* COM_STMT_CLOSE could not be sent */
            return NOTHING;
        }
        return st->after == THEN_PREPARE ? prepare(c) : NOTHING;

    case S_PREPARE:
        return prepared(c);

    case S_EXECUTE:
        if (c->iret != 0) {
            amy__err e = stmt_err(st->cur);
            return stmt_failed(c, &e);
        }
        if (mysql_stmt_field_count(st->cur) > 0)
            return start_rows(c);
        return ok_answer(c);

    case S_FETCH:
        return fetched(c);

    case S_NEXT:
        if (c->iret == -1)
            return succeed(c);
        if (c->iret != 0) {
            amy__err e = stmt_err(st->cur);
            return stmt_failed(c, &e);
        }
        if (mysql_stmt_field_count(st->cur) > 0)
            return start_rows(c);
        amy__conn_add_result(c,
                             amy__result_ok(mysql_stmt_affected_rows(st->cur),
                                            mysql_stmt_insert_id(st->cur)));
        return stmt_after_result(c);
    }
    return NOTHING;
}

/* The session was reset: the server closed every statement, and the
 * connector detached them (closing one now only frees its memory). */
static void stmts_forget(amy__conn *c, void *ext)
{
    amy__stmts *st = ext;
    for (unsigned i = 0; i < st->n; i++) {
        if (st->e[i].stmt != st->closing)
            mysql_stmt_close(st->e[i].stmt);
        free(st->e[i].sql);
    }
    st->n = 0;
}

/* The connection closed: its statements go. */
static void stmts_free(amy__conn *c, void *ext)
{
    amy__stmts *st = ext;
    /* The MYSQL handle is closed: it detached every statement, as a reset
     * does. */
    stmts_forget(c, st);
    if (st->cur && st->cur_entry < 0 && st->cur != st->closing)
        mysql_stmt_close(st->cur);
    if (st->held)
        amy__future_release(st->held);
    end_rows(st);
    free(st->e);
    free(st->bind);
    free(st->tm);
    free(st->blen);
    free(st->ind);
    free(st->ct);
    free(st);
}

unsigned amy__stmt_open(const amy__conn *c)
{
    const amy__stmts *st = stmts_of(c);
    return st ? st->n : 0;
}

/* The two kinds: one statement, or a batch of rows. Each runs alone: its
 * calls are the connector's, which must not interleave with ours. They
 * differ only in what the future carries (is_batch). */
#define STMT_KIND(kind_name)                                                   \
    {                                                                          \
        .name = kind_name, .alone = 1, .begin = stmt_begin, .cont = stmt_cont, \
        .finish = stmt_finish,                                                 \
    }

const amy__op amy__op_exec = STMT_KIND("exec");
const amy__op amy__op_batch = STMT_KIND("exec_batch");
