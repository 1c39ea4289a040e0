/* Result sets copied out of MYSQL_RES into one block. Internal. */
#ifndef AMY_RESULT_H
#define AMY_RESULT_H

#include <mysql.h>
#include <stdint.h>

#include "amysql.h"
#include "debug.h"

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
    size_t bytes;          /* of names and values in this block */
    /* AMY__RESULT_LIVE; AMY__RESULT_DEAD once freed. Last: past what
     * malloc writes into a freed block. */
    uint32_t magic;
};

/* Whether r is a live result: not NULL, not freed (its future freed). A
 * freed one is reported as a misuse by `call` (src/debug.c). */
static inline int amy__result_live(const amy_result *r, const char *call)
{
    if (r && r->magic == AMY__RESULT_LIVE)
        return 1;
    return amy__stale(r, r ? r->magic : 0, AMY__RESULT_DEAD, "result", call);
}

/* The bytes of ncols column names, each with its NUL. */
size_t amy__result_names_size(const MYSQL_FIELD *fields, size_t ncols);

/*
 * One block for nrows x ncols cells and `bytes` of names and values: the
 * header is filled in, the cells are not; *data points at the first byte of
 * the names and values. NULL on ENOMEM (or sizes that overflow).
 */
amy_result *amy__result_alloc(size_t nrows, size_t ncols, size_t bytes,
                              uint64_t affected, uint64_t insert_id,
                              char **data);

/* Records each column's type, charset, flags and name (copied to p);
 * returns the byte after the last name. */
char *amy__result_set_cols(amy_result *r, const MYSQL_FIELD *fields, char *p);

/*
 * Copies the stored result of a prepared statement (mysql_stmt_store_result
 * done, every row in memory) into one allocation, in the same layout as
 * amy__rowbuf_result, every value written as the text protocol writes it
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

/*
 * Rows read one at a time off the connection (bound.c for the text
 * protocol, result_bin.c for the binary one) and kept here until their
 * result set ends, when amy__rowbuf_result makes them one block. Every row
 * is counted against `limit` before it is kept, so the rows of a query
 * never take more than about max_result_bytes: past it (`over`) or when
 * memory runs out (`nomem`) what was kept goes and the rest of the rows
 * are only read, so the connection stays usable.
 *
 * Owned by a connection; zero it to start. Values sit back to back, each
 * with a NUL; a cell's `off` is its value's offset in data (NO_VALUE for
 * SQL NULL) until the block is made.
 */
typedef struct amy__rowcell {
    size_t off, len;
} amy__rowcell;

typedef struct amy__rowbuf {
    char *data;
    size_t len, cap;
    amy__rowcell *cells;
    size_t ncells, ccap;
    size_t nrows;
    size_t limit;        /* bytes a query's result sets may take; 0: no limit */
    size_t spent;        /* bytes of the query's result sets made so far */
    unsigned char over;  /* past limit: rows are read and dropped */
    unsigned char nomem; /* memory ran out: rows are read and dropped */
} amy__rowbuf;

/* A new query starts: nothing spent, nothing dropped. */
static inline void amy__rowbuf_query(amy__rowbuf *b)
{
    b->spent = 0;
    b->over = 0;
    b->nomem = 0;
}

/*
 * Keeps one text row of ncols values (NULL pointers are SQL NULL; lens[i]
 * the length of values[i]), or drops it and everything kept when it would
 * pass the limit or memory runs out. Returns 0 when kept, -1 when dropped.
 */
int amy__rowbuf_text_row(amy__rowbuf *b, char *const *values,
                         const unsigned long *lens, size_t ncols);

/*
 * A row built value by value (the binary protocol): amy__rowbuf_row
 * starts it (0, or -1 when it is dropped); then for each value, in order,
 * amy__rowbuf_value gives room for len bytes (a NUL is put after them; NULL
 * when the row is dropped), or amy__rowbuf_null records SQL NULL.
 */
int amy__rowbuf_row(amy__rowbuf *b, size_t ncols);
char *amy__rowbuf_value(amy__rowbuf *b, size_t len);
void amy__rowbuf_null(amy__rowbuf *b);

/*
 * The rows kept so far, with the columns of fields, as one block; the
 * buffer is emptied for the next result set (its size counts in spent).
 * NULL on ENOMEM (nomem is then set) or when rows were dropped (over or
 * nomem: the buffer is emptied all the same).
 */
amy_result *amy__rowbuf_result(amy__rowbuf *b, const MYSQL_FIELD *fields,
                               size_t ncols, uint64_t affected,
                               uint64_t insert_id);

/* Empties b (a result set abandoned: the connection broke). */
void amy__rowbuf_clear(amy__rowbuf *b);

/* Frees b's memory. */
void amy__rowbuf_free(amy__rowbuf *b);

/*
 * Reading a prepared statement's result set row by row (result_bin.c):
 * amy__binrows_new binds the columns of stmt's current result set (NULL on
 * ENOMEM, *err = 0, or when the connector refuses, *err = its errno); after
 * each successful mysql_stmt_fetch, amy__binrows_add puts the row into b,
 * every value written as the text protocol writes it (0, also when b
 * dropped it; -1 when the connector failed to hand a value over).
 */
typedef struct amy__binrows amy__binrows;
amy__binrows *amy__binrows_new(MYSQL_STMT *stmt, unsigned *err);
int amy__binrows_add(amy__binrows *r, MYSQL_STMT *stmt, amy__rowbuf *b);
void amy__binrows_free(amy__binrows *r);

/* A result without a result set (INSERT, UPDATE, ...). NULL on ENOMEM. */
amy_result *amy__result_ok(uint64_t affected, uint64_t insert_id);

/* Frees r and the result sets chained after it. */
void amy__result_free(amy_result *r);

#endif
