/*
 * Bounded text results: a connection's rows are read one at a time into an
 * amy__rowbuf (counted against max_result_bytes) instead of being piled up
 * by the connector. Internal.
 */
#ifndef AMY_BOUND_H
#define AMY_BOUND_H

#include <mysql.h>

#include "result.h"

typedef struct amy__bound {
    /* The connector's methods with db_read_rows replaced: the handle's
     * methods point here, and the replacement finds its amy__bound from
     * that pointer. */
    struct st_mariadb_methods methods;
    const struct st_mariadb_methods *orig;
    amy__rowbuf rows;
    char **row;          /* room for a row's values, ... */
    unsigned long *lens; /* ... and their lengths */
    size_t rowcap;       /* columns that room holds */
    /* The next result set the connector reads goes into rows (set just
     * before mysql_store_result_start, cleared by the read). */
    unsigned char collect;
    /* The next answer's rows are read with it, inside
     * read_query_result / next_result (set just before those _start
     * calls, cleared when the answer is read): no store_result follows. */
    unsigned char eager;
    /* That answer's rows are in rows and its columns are the handle's
     * (mysql->fields, until the next answer): set by the read, taken by
     * the caller with amy__bound_take_rows. */
    unsigned char got;
    /* Inside an eager read: the column definitions it reads are the
     * answer's. */
    unsigned char answering;
    /* The connector's memory root did not look as expected once: its
     * blocks are left alone from then on. */
    unsigned char no_reuse;
    /* The columns an eager read left in the handle, while they are there
     * (the next eager read takes their memory back for its own). */
    MYSQL_FIELD *left;
    /* A block of the handle's column-definition memory, kept between two
     * answers, and the one lent to the answer being read. */
    MA_USED_MEM *spare, *lent;
    /* The column-definition packets of the answer being read, copied as
     * the connector's own reader lays them out (values back to back,
     * each with its NUL), and the row list handed to the connector. */
    char *defs;
    size_t defs_len, defs_cap;
    size_t *defs_off; /* per packet: n + 1 offsets (end of the packet) */
    size_t defs_noff, defs_offcap;
    void *defs_rows; /* MYSQL_ROWS and row pointers */
    size_t defs_rowscap;
} amy__bound;

/* Points m's methods at b's (b outlives m; m's methods are the
 * connector's own). limit: max_result_bytes. */
void amy__bound_install(amy__bound *b, MYSQL *m, size_t limit);

/* The eager read's rows are taken (b->got cleared); 1 if there were. */
static inline int amy__bound_take_rows(amy__bound *b)
{
    int got = b->got;
    b->got = 0;
    b->eager = 0;
    return got;
}

/* Frees b's memory (after the handle is closed). */
void amy__bound_free(amy__bound *b);

#endif
