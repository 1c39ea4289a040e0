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

/*
 * The pieces of amy__result_from_res, shared with result_bin.c. The bytes
 * of ncols column names, each with its NUL.
 */
size_t amy__result_names_size(const MYSQL_FIELD *fields, size_t ncols);

/*
 * One block for nrows x ncols cells and `bytes` of names and values: the
 * header is filled in, the cells are not; *data points at the first byte of
 * the names and values. NULL on ENOMEM (or sizes that overflow).
 */
amy_result *amy__result_alloc(size_t nrows, size_t ncols, size_t bytes,
                              uint64_t affected, uint64_t insert_id,
                              char **data);

/*
 * Gives back the end of r's block past its first `size` bytes (which hold
 * everything written). The block may move: the result then is the new
 * one, its pointers following. Never fails: r as it was if realloc does.
 */
amy_result *amy__result_shrink(amy_result *r, size_t size);

/* Records each column's type, charset, flags and name (copied to p);
 * returns the byte after the last name. */
char *amy__result_set_cols(amy_result *r, const MYSQL_FIELD *fields, char *p);

/*
 * Copies the stored result of a prepared statement (mysql_stmt_store_result
 * done, every row in memory) into one allocation, in the same layout as
 * amy__result_from_res, every value written as the text protocol writes it
 * (src/result_bin.c says where the two may differ: FLOAT and DOUBLE are
 * written exactly). affected/insert_id are recorded as given. Does no I/O.
 *
 * Returns NULL on ENOMEM (*err = 0) or when the connector fails a fetch
 * (*err = its errno); err may be NULL. Binds the statement's result columns
 * to buffers that are gone when this returns, and leaves its cursor
 * anywhere: the caller calls mysql_stmt_free_result next and fetches
 * nothing more from this execution.
 */
amy_result *amy__result_from_stmt(MYSQL_STMT *stmt, uint64_t affected,
                                  uint64_t insert_id, unsigned *err);

/*
 * A FLOAT or DOUBLE value as text (result_bin.c). A DOUBLE: the fewest
 * digits that read back to exactly x, laid out as the server lays out
 * doubles; `decimals` < 31 (a declared scale) pads them with zeros to that
 * many fractional digits when they fit in it. A FLOAT (is_float, x its
 * value): as the server writes it, 6 significant digits laid out the same
 * way, or exactly `decimals` decimals when < 31. out has room for
 * AMY__NUMBUF bytes; no NUL is written. Returns the length. Independent of
 * the C locale.
 */
#define AMY__NUMBUF 400
size_t amy__format_real(double x, int is_float, unsigned decimals, char *out);

/* A result without a result set (INSERT, UPDATE, ...). NULL on ENOMEM. */
amy_result *amy__result_ok(uint64_t affected, uint64_t insert_id);

/* Frees r and the result sets chained after it. */
void amy__result_free(amy_result *r);

#endif
