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
} amy__bound;

/* Points m's methods at b's (b outlives m; m's methods are the
 * connector's own). limit: max_result_bytes. */
void amy__bound_install(amy__bound *b, MYSQL *m, size_t limit);

/* Frees b's memory (after the handle is closed). */
void amy__bound_free(amy__bound *b);

#endif
