/*
 * Bounded text results (max_result_bytes).
 *
 * mysql_store_result reads every row of a result set into memory of the
 * connector's own before it returns, so a check after it would come too
 * late: a huge result would have taken the memory already. The connector
 * reads those rows through its methods table (mysql->methods, a public
 * struct of mysql.h): store_result calls db_read_rows, which reads row
 * packets until the end-of-rows packet. Each connection points its handle
 * at a copy of that table whose db_read_rows reads the rows one at a time
 * with the connector's own db_read_one_row (the protocol stays the
 * connector's: the row lands in its packet buffer, as for
 * mysql_fetch_row of a mysql_use_result result) and keeps them in an
 * amy__rowbuf, which counts each row against the limit before keeping it.
 * Past the limit the rows are still read, to the end-of-rows packet, and
 * dropped: the connection stays in step, and the answers pipelined behind
 * come next as if nothing happened.
 *
 * What the connector then gets back is an empty row set that says how
 * many rows there were (the count becomes mysql_affected_rows, as for a
 * stored result); conn.c takes the rows from the amy__rowbuf.
 *
 * Everything else (column definitions, which also come through
 * db_read_rows, with no fields; the rows of statements the connection runs
 * for itself; prepared statements) goes to the connector's own code.
 *
 * What can still be allocated beyond the limit: the connector's packet
 * buffer holds the row being read, so one row, up to the client's
 * max_allowed_packet (the connector's default: 1 GiB), exists once more
 * while it is copied.
 */
#include <errmsg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bound.h"
#include "list.h"

/* Room for a row of n columns (the connector writes n + 1 pointers). */
static int row_room(amy__bound *b, size_t n)
{
    if (n < b->rowcap)
        return 0;
    size_t cap = n + 1;
    char **row = realloc(b->row, cap * sizeof *row);
    if (row)
        b->row = row;
    unsigned long *lens = realloc(b->lens, cap * sizeof *lens);
    if (lens)
        b->lens = lens;
    if (!row || !lens)
        return -1;
    b->rowcap = cap;
    return 0;
}

/* The connector's error for a failed read: out of memory, the stream
 * out of step. */
static void *out_of_memory(MYSQL *m, const char *what)
{
    m->net.last_errno = CR_OUT_OF_MEMORY;
    strcpy(m->net.sqlstate, "HY000");
    snprintf(m->net.last_error, sizeof m->net.last_error,
             "out of memory reading %s", what);
    return NULL;
}

/* The row reader failed: the server's error instead of a row (a KILL), or
 * a broken connection; the connector's error says which. A value running
 * past the end of its packet is told by the row reader as "unknown error"
 * (2000): it is what the connector's own db_read_rows calls a malformed
 * packet (2027). */
static void row_failed(MYSQL *m)
{
    if (m->net.last_errno == CR_UNKNOWN_ERROR) {
        m->net.last_errno = CR_MALFORMED_PACKET;
        strcpy(m->net.sqlstate, "HY000");
        snprintf(m->net.last_error, sizeof m->net.last_error,
                 "Received malformed packet: a value runs past the "
                 "end of its row");
    }
}

/* Reads a result set's rows, to its end-of-rows packet, into b->rows
 * (which keeps or drops each). Returns the number of rows, or -1 when the
 * read failed (the connector's error set). */
static long long read_all_rows(amy__bound *b, MYSQL *m, unsigned n)
{
    if (row_room(b, n) != 0) {
        /* No room to read rows into: nothing was read, the connection
         * is out of step now, and the error says so (it is closed). */
        out_of_memory(m, "a result set");
        return -1;
    }
    long long count = 0;
    for (;;) {
        int rc = b->orig->db_read_one_row(m, n, (MYSQL_ROW)b->row, b->lens);
        if (rc > 0)
            return count; /* end of rows: the connector kept its status */
        if (rc < 0) {
            row_failed(m);
            amy__rowbuf_clear(&b->rows);
            return -1;
        }
        count++;
        amy__rowbuf_text_row(&b->rows, b->row, b->lens, n);
    }
}

/* ------------------------------------------------------------------------ */
/* Column definitions                                                       */
/* ------------------------------------------------------------------------ */

/*
 * Each answer with a result set brings its column definitions, which the
 * connector unpacks (unpack_fields) into mysql->field_alloc, a memory root
 * of its own kind (MA_MEM_ROOT, whose struct and block header MA_USED_MEM
 * are public in mysql.h), after reading the packets into a second root of
 * a MYSQL_DATA. Each root takes an 8 KiB block from malloc and gives it
 * back with the answer: two large allocations per query. Here:
 *
 * - the packets are read with the connector's row reader into this
 *   connection's buffers (kept from answer to answer), laid out as its
 *   own db_read_rows lays them out; the MYSQL_DATA the connector frees
 *   after unpacking (free_rows: its root, which here has no blocks, then
 *   the struct) is the only allocation left;
 * - when an answer ends, its columns stay in the handle (no MYSQL_RES
 *   takes them); the next answer, before the connector frees them,
 *   takes their block back and lends it to the root again, reset, just
 *   before the connector unpacks into it.
 *
 * What this relies on, checked at run time where it can be: the
 * connector frees mysql->field_alloc at the next answer only when
 * mysql->fields is set, then starts it empty and unpacks into it right
 * after reading the definitions through db_read_rows(fields NULL); a
 * block's first allocation starts BLOCK_HEAD bytes in, and `left` counts
 * what remains after it. Every answer checks that the columns the
 * connector unpacked start at the first allocation of a block of the
 * root (the one lent, when one was), else blocks are never lent again on
 * that connection. tests/test_bound.c checks each of these against the
 * connector it is linked with (Connector/C 3.3: mthd_my_read_query_result,
 * unpack_fields, free_rows, ma_alloc_root).
 */

/* Where the first allocation of a block starts: after its header, which
 * ma_alloc_root rounds up to a double's alignment. */
#define BLOCK_HEAD                                                             \
    ((sizeof(MA_USED_MEM) + sizeof(double) - 1) & ~(sizeof(double) - 1))

/* A root holds few blocks; a longer list is not the one expected. */
#define MAX_BLOCKS 64

/* A kept block larger than this goes back to malloc (an answer of very
 * many columns). */
#define KEEP_BLOCK 65536u

/* Whether blk is one of root's blocks. */
static int on_lists(const MA_MEM_ROOT *root, const MA_USED_MEM *blk)
{
    const MA_USED_MEM *lists[2] = {root->free, root->used};
    for (int i = 0; i < 2; i++) {
        int k = 0;
        for (const MA_USED_MEM *u = lists[i]; u && k < MAX_BLOCKS;
             u = u->next, k++)
            if (u == blk)
                return 1;
    }
    return 0;
}

/* The block of root whose first allocation is p, or NULL. */
static MA_USED_MEM *block_of(const MA_MEM_ROOT *root, const void *p)
{
    MA_USED_MEM *lists[2] = {root->free, root->used};
    for (int i = 0; i < 2; i++) {
        int k = 0;
        for (MA_USED_MEM *u = lists[i]; u && k < MAX_BLOCKS; u = u->next, k++)
            if ((const char *)u + BLOCK_HEAD == (const char *)p &&
                u->size > BLOCK_HEAD && u->left <= u->size - BLOCK_HEAD)
                return u;
    }
    return NULL;
}

/* The columns an eager read left in the handle are done with (the next
 * answer is being read): one block of theirs is kept, the others freed,
 * and the handle forgets them, so the connector frees nothing. */
static void take_back(amy__bound *b, MYSQL *m)
{
    if (!m->fields || m->fields != b->left || b->no_reuse)
        return;
    b->left = NULL;
    MA_MEM_ROOT *root = &m->field_alloc;
    MA_USED_MEM *keep = block_of(root, m->fields);
    if (!keep || root->pre_alloc) {
        b->no_reuse = 1; /* not as it was: the connector frees it */
        return;
    }
    MA_USED_MEM *lists[2] = {root->free, root->used};
    for (int i = 0; i < 2; i++)
        for (MA_USED_MEM *u = lists[i], *next; u; u = next) {
            next = u->next;
            if (u != keep)
                free(u); /* the connector's malloc'd blocks */
        }
    if (b->spare)
        free(b->spare);
    b->spare = keep->size <= KEEP_BLOCK ? keep : NULL;
    if (!b->spare)
        free(keep);
    root->free = root->used = NULL;
    m->fields = NULL;
}

/* Room for the next definition packet of n values (bytes of them) in the
 * connection's buffers. */
static int defs_room(amy__bound *b, unsigned n, size_t bytes)
{
    if (bytes > b->defs_cap - b->defs_len) {
        size_t cap = b->defs_cap ? b->defs_cap : 1024;
        while (cap - b->defs_len < bytes) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *d = realloc(b->defs, cap);
        if (!d)
            return -1;
        b->defs = d;
        b->defs_cap = cap;
    }
    size_t more = (size_t)n + 1;
    if (more > b->defs_offcap - b->defs_noff) {
        size_t cap = b->defs_offcap ? b->defs_offcap : 64;
        while (cap - b->defs_noff < more) {
            if (cap > SIZE_MAX / 2 / sizeof(size_t))
                return -1;
            cap *= 2;
        }
        size_t *o = realloc(b->defs_off, cap * sizeof *o);
        if (!o)
            return -1;
        b->defs_off = o;
        b->defs_offcap = cap;
    }
    return 0;
}

/* A cell's offset for SQL NULL. */
#define NO_VALUE SIZE_MAX

/* Copies the definition packet just read (b->row, b->lens; n values of
 * which the last, the default, is NULL): 0, -1 when memory ran out, 1 when
 * the packet is malformed. */
static int defs_add(amy__bound *b, unsigned n)
{
    unsigned last = n - 2; /* the last value read */
    size_t bytes = 0;
    int together = 1;
    for (unsigned i = 0; i <= last; i++) {
        /* The connector's unpacking measures each value by where the next
         * one starts: none may be NULL. */
        if (!b->row[i])
            return 1;
        bytes += (size_t)b->lens[i] + 1; /* each was in one packet */
        if (i && b->row[i] != b->row[i - 1] + b->lens[i - 1] + 1)
            together = 0;
    }
    if (defs_room(b, n, bytes) != 0)
        return -1;
    size_t *off = b->defs_off + b->defs_noff;
    char *to = b->defs + b->defs_len;
    if (together) {
        /* Each value's length took one byte on the wire, where the row
         * reader put the previous value's NUL: the packet is already laid
         * out as wanted, one copy. */
        memcpy(to, b->row[0], bytes);
        for (unsigned i = 0; i <= last; i++)
            off[i] = b->defs_len + (size_t)(b->row[i] - b->row[0]);
    } else {
        size_t at = b->defs_len;
        for (unsigned i = 0; i <= last; i++) {
            memcpy(b->defs + at, b->row[i], b->lens[i]);
            b->defs[at + b->lens[i]] = '\0';
            off[i] = at;
            at += (size_t)b->lens[i] + 1;
        }
    }
    off[n - 1] = NO_VALUE;
    b->defs_len += bytes;
    off[n] = b->defs_len; /* the end of the packet's last value */
    b->defs_noff += (size_t)n + 1;
    return 0;
}

/* The definitions read, as the connector's MYSQL_DATA: the struct is
 * malloc'd (the connector frees it); its rows point into b's buffers and
 * its root has no blocks. */
static MYSQL_DATA *defs_data(amy__bound *b, unsigned n, size_t count)
{
    size_t per = (size_t)n + 1;
    if (count > SIZE_MAX / (sizeof(MYSQL_ROWS) + per * sizeof(char *)))
        return NULL;
    size_t need = count * (sizeof(MYSQL_ROWS) + per * sizeof(char *));
    if (need > b->defs_rowscap) {
        void *r = realloc(b->defs_rows, need);
        if (!r)
            return NULL;
        b->defs_rows = r;
        b->defs_rowscap = need;
    }
    /* Not calloc, which skips glibc's per-thread cache (nor malloc and
     * memset, which the compiler turns into calloc). */
    MYSQL_DATA *d = malloc(sizeof *d);
    if (!d)
        return NULL;
    *d = (MYSQL_DATA){0};
    MYSQL_ROWS *rows = b->defs_rows;
    char **ptrs = (char **)(void *)(rows + count);
    for (size_t r = 0; r < count; r++) {
        const size_t *off = b->defs_off + r * per;
        MYSQL_ROW row = ptrs + r * per;
        for (size_t i = 0; i < per; i++)
            row[i] = off[i] == NO_VALUE ? NULL : b->defs + off[i];
        rows[r].data = row;
        rows[r].length = (unsigned long)(off[n] - (r ? off[-1] : 0));
        rows[r].next = r + 1 < count ? &rows[r + 1] : NULL;
    }
    d->data = count ? rows : NULL;
    d->rows = count;
    d->fields = n;
    return d;
}

/* db_read_rows for an eager answer's column definitions (n values each). */
static MYSQL_DATA *read_defs(amy__bound *b, MYSQL *m, unsigned n)
{
    if (n < 2 || row_room(b, n) != 0)
        return n < 2 ? b->orig->db_read_rows(m, NULL, n)
                     : out_of_memory(m, "column definitions");
    b->defs_len = b->defs_noff = 0;
    size_t count = 0;
    for (;;) {
        /* The last of the n values, a column's default, is not in the
         * definitions of a query's columns (only COM_FIELD_LIST sends
         * it): it is NULL here, and the row reader, which checks that
         * each value is inside the packet, reads the others. */
        int rc = b->orig->db_read_one_row(m, n - 1, (MYSQL_ROW)b->row, b->lens);
        b->row[n - 1] = NULL;
        b->lens[n - 1] = 0;
        if (rc > 0)
            break; /* end of the definitions: the connector kept its status */
        if (rc < 0) {
            row_failed(m);
            return NULL;
        }
        int added = defs_add(b, n);
        if (added < 0)
            return out_of_memory(m, "column definitions");
        if (added > 0) {
            m->net.last_errno = CR_MALFORMED_PACKET;
            strcpy(m->net.sqlstate, "HY000");
            snprintf(m->net.last_error, sizeof m->net.last_error,
                     "Received malformed packet: a column definition with "
                     "a NULL name");
            return NULL;
        }
        count++;
    }
    MYSQL_DATA *d = defs_data(b, n, count);
    if (!d)
        return out_of_memory(m, "column definitions");
    /* The connector started the root empty just before this read (it
     * unpacks into it next): the kept block goes there. */
    MA_MEM_ROOT *root = &m->field_alloc;
    if (b->spare && !b->no_reuse && !root->free && !root->used &&
        !root->pre_alloc) {
        MA_USED_MEM *blk = b->spare;
        b->spare = NULL;
        blk->next = NULL;
        blk->left = blk->size - BLOCK_HEAD;
        root->free = blk;
        b->lent = blk;
    }
    return d;
}

/* The columns of an answer just read were unpacked where expected: into
 * the block lent, or the first allocation of one of the root's own. */
static void check_unpacked(amy__bound *b, MYSQL *m)
{
    MA_USED_MEM *lent = b->lent;
    b->lent = NULL;
    b->left = NULL;
    if (!m->fields || b->no_reuse)
        return; /* a failed unpack freed the lent block with the root */
    /* The block lent is the root's (the columns went into it, or, too
     * many for it, into a larger one the connector added). */
    const MA_MEM_ROOT *root = &m->field_alloc;
    if (!block_of(root, m->fields) || (lent && !on_lists(root, lent)) ||
        root->pre_alloc) {
        b->no_reuse = 1;
        return;
    }
    b->left = m->fields;
}

/* ------------------------------------------------------------------------ */
/* The methods                                                              */
/* ------------------------------------------------------------------------ */

static MYSQL_DATA *read_rows(MYSQL *m, MYSQL_FIELD *fields, unsigned n)
{
    amy__bound *b = AMY__CONTAINER(m->methods, amy__bound, methods);
    if (!fields && b->answering) {
        b->answering = 0; /* an answer has one set of definitions */
        return read_defs(b, m, n);
    }
    if (!fields || !b->collect)
        return b->orig->db_read_rows(m, fields, n);
    b->collect = 0;
    /* Freed by the connector with the MYSQL_RES (an empty row set). */
    MYSQL_DATA *d = calloc(1, sizeof *d);
    if (!d)
        return out_of_memory(m, "a result set");
    long long count = read_all_rows(b, m, n);
    if (count < 0) {
        free(d);
        return NULL;
    }
    d->rows = (unsigned long long)count;
    d->fields = n;
    return d;
}

/*
 * db_read_query_result (read_query_result, next_result) for an eager
 * answer: the connector reads it; a result set's rows are then read here
 * at once, as mysql_store_result would (the handle READY, the row count
 * in affected_rows), into b->rows, without a MYSQL_RES, the connector's
 * row set or a second connector call. Its columns stay in the handle.
 */
static int read_query_result(MYSQL *m)
{
    amy__bound *b = AMY__CONTAINER(m->methods, amy__bound, methods);
    if (!b->eager)
        return b->orig->db_read_query_result(m);
    b->eager = 0;
    b->got = 0;
    take_back(b, m);
    b->answering = 1;
    int rc = b->orig->db_read_query_result(m);
    b->answering = 0;
    check_unpacked(b, m);
    /* The connector's method says -1 for a failure after the first packet,
     * which mysql_next_result would pass on as "no more results": an error
     * is 1 here. */
    if (rc != 0)
        return 1;
    if (!m->field_count || !m->fields || m->status != MYSQL_STATUS_GET_RESULT)
        return 0;
    m->status = MYSQL_STATUS_READY;
    long long count = read_all_rows(b, m, m->field_count);
    if (count < 0)
        return 1;
    m->affected_rows = (my_ulonglong)count;
    b->got = 1;
    return 0;
}

void amy__bound_install(amy__bound *b, MYSQL *m, size_t limit)
{
    b->orig = m->methods;
    b->methods = *m->methods;
    b->methods.db_read_rows = read_rows;
    b->methods.db_read_query_result = read_query_result;
    b->rows.limit = limit;
    m->methods = &b->methods;
}

void amy__bound_free(amy__bound *b)
{
    amy__rowbuf_free(&b->rows);
    free(b->spare);
    free(b->defs);
    free(b->defs_off);
    free(b->defs_rows);
    free(b->row);
    free(b->lens);
    b->row = NULL;
    b->lens = NULL;
    b->rowcap = 0;
    b->spare = NULL;
    b->defs = NULL;
    b->defs_off = NULL;
    b->defs_rows = NULL;
    b->defs_cap = b->defs_offcap = b->defs_rowscap = 0;
}
