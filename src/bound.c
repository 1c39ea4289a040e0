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

static MYSQL_DATA *read_rows(MYSQL *m, MYSQL_FIELD *fields, unsigned n)
{
    amy__bound *b = AMY__CONTAINER(m->methods, amy__bound, methods);
    if (!fields || !b->collect)
        return b->orig->db_read_rows(m, fields, n);
    b->collect = 0;
    /* Freed by the connector with the MYSQL_RES (an empty row set). */
    MYSQL_DATA *d = calloc(1, sizeof *d);
    if (!d || row_room(b, n) != 0) {
        free(d);
        /* No room to read rows into: nothing was read, the connection
         * is out of step now, and the error says so (it is closed). */
        m->net.last_errno = CR_OUT_OF_MEMORY;
        strcpy(m->net.sqlstate, "HY000");
        strcpy(m->net.last_error, "out of memory reading a result set");
        return NULL;
    }
    unsigned long long count = 0;
    for (;;) {
        int rc = b->orig->db_read_one_row(m, n, (MYSQL_ROW)b->row, b->lens);
        if (rc > 0)
            break; /* end of rows: the connector kept its status */
        if (rc < 0) {
            /* The server's error instead of a row (a KILL), or a broken
             * connection: the connector's error says which. A value
             * running past the end of its row is told by the row reader
             * as "unknown error" (2000): it is what the connector's own
             * db_read_rows calls a malformed packet (2027). */
            if (m->net.last_errno == CR_UNKNOWN_ERROR) {
                m->net.last_errno = CR_MALFORMED_PACKET;
                strcpy(m->net.sqlstate, "HY000");
                snprintf(m->net.last_error, sizeof m->net.last_error,
                         "Received malformed packet: a value runs past the "
                         "end of its row");
            }
            free(d);
            amy__rowbuf_clear(&b->rows);
            return NULL;
        }
        count++;
        amy__rowbuf_text_row(&b->rows, b->row, b->lens, n);
    }
    d->rows = count;
    d->fields = n;
    return d;
}

void amy__bound_install(amy__bound *b, MYSQL *m, size_t limit)
{
    b->orig = m->methods;
    b->methods = *m->methods;
    b->methods.db_read_rows = read_rows;
    b->rows.limit = limit;
    m->methods = &b->methods;
}

void amy__bound_free(amy__bound *b)
{
    amy__rowbuf_free(&b->rows);
    free(b->row);
    free(b->lens);
    b->row = NULL;
    b->lens = NULL;
    b->rowcap = 0;
}
