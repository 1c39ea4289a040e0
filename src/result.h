/* Result sets copied out of MYSQL_RES into one block. Internal. */
#ifndef AMY_RESULT_H
#define AMY_RESULT_H

#include <mysql.h>
#include <stdint.h>

#include "amysql.h"

typedef struct amy__cell {
    const char *ptr; /* NULL for SQL NULL */
    size_t len;
} amy__cell;

/* What the server said of a column. */
typedef struct amy__colinfo {
    uint16_t type;    /* AMY_COL_* */
    uint16_t charset; /* charsetnr, 63 = binary */
    uint32_t flags;   /* AMY_COLFLAG_* */
} amy__colinfo;

struct amy_result {
    size_t nrows, ncols;
    uint64_t affected_rows, insert_id;
    const char **colnames; /* ncols names, inside this block */
    amy__colinfo *cols;    /* ncols, inside this block */
    amy__cell *cells;      /* nrows * ncols, row-major */
    amy_result *next;      /* the next statement's result set, or NULL */
};

/*
 * Copies a stored result (all rows already in memory) into one allocation.
 * affected/insert_id are recorded as given. Returns NULL on ENOMEM; res is
 * not freed.
 */
amy_result *amy__result_from_res(MYSQL_RES *res, uint64_t affected,
                                 uint64_t insert_id);

/* A result without a result set (INSERT, UPDATE, ...). NULL on ENOMEM. */
amy_result *amy__result_ok(uint64_t affected, uint64_t insert_id);

/* Frees r and the result sets chained after it. */
void amy__result_free(amy_result *r);

#endif
