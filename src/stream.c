/*
 * Streamed results (amy_query_stream): rows reach a callback as the
 * connection reads them (mysql_use_result + fetch_row), so memory stays
 * bounded. The connection side is in conn.c (op FETCH); this is the API.
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "future.h"
#include "pool.h"

amy_future *amy_query_stream(amy_pool *p, const char *sql, amy_row_cb on_row,
                             void *arg)
{
    if (!on_row)
        return amy__pool_failed(p, AMY_EINVAL, "on_row is NULL");
    amy__stream *rows = malloc(sizeof *rows);
    if (!rows)
        return NULL;
    rows->cb = on_row;
    rows->arg = arg;
    amy_future *f =
        amy__pool_submit(p, NULL, sql, sql ? strlen(sql) : 0, NULL, 0, 0);
    if (!f || f->status != AMY_PENDING) {
        free(rows);
        return f;
    }
    /* No connection takes it before the loop's next kick. */
    f->stream = 1;
    f->rows = rows;
    return f;
}

int amy_stream_pause(amy_future *f)
{
    if (!f || !f->stream || f->status != AMY_PENDING)
        return AMY_EINVAL;
    f->paused = 1;
    return AMY_OK;
}

int amy_stream_resume(amy_future *f)
{
    if (!f || !f->stream || f->status != AMY_PENDING)
        return AMY_EINVAL;
    f->paused = 0;
    return f->conn ? amy__conn_resume(f->conn) : AMY_OK;
}
