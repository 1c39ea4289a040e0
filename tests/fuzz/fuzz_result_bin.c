/*
 * Fuzz target for src/result_bin.c: a prepared statement's rows written as
 * the text protocol writes them, both ways it is used: amy__result_from_stmt
 * (stored rows, one block) and stmt.c's way, amy__binrows_new, then
 * mysql_stmt_fetch and amy__binrows_add row by row into an amy__rowbuf with
 * a max_result_bytes limit, and amy__rowbuf_result (src/result.c) at the
 * end.
 *
 * result_bin.c reaches the connector through six calls (bind_result, fetch,
 * data_seek, fetch_column, field_count, errno). This file defines them, so
 * that a fake connector driven by the input stands behind a MYSQL_STMT whose
 * fields come from the input too: any type (known or not), flags (UNSIGNED,
 * ZEROFILL, ...), decimals, display width and name. The fake fills the binds
 * result_bin.c made as the connector does, by their buffer type, with
 * anything the connector could write and more: every bit pattern of
 * integers, FLOATs and DOUBLEs (NaN, infinities, subnormals), every value of
 * each MYSQL_TIME field, NULLs, truncation and error flags, strings measured
 * then fetched by mysql_stmt_fetch_column. It can also fail (bind_result, a
 * fetch, a fetch_column, or one returning fewer bytes) and claim lengths no
 * memory could hold.
 *
 * Input: a header (columns, rows, the failures to inject, errno, affected
 * rows, insert id, the limit), then each column's field, then each cell's
 * flags and value, read at its first fetch in the form its bind asks for
 * (cell_at).
 *
 * Invariants beyond "does not crash":
 * - the copy fails exactly when a failure was injected, or the limit was
 *   passed: NULL with err 0 (out of memory) only after an impossible length
 *   or (with a limit) rows past it, NULL with the connector's errno (or
 *   CR_UNKNOWN_ERROR for 0) only after an injected failure,
 *   CR_COMMANDS_OUT_OF_SYNC before the rows are stored; no limit and no
 *   failure, a result;
 * - the same rows read again into the same amy__rowbuf (the next query on
 *   the connection) give the same answer;
 * - a result has the columns' names and every value as written here
 *   independently with printf: integers (with ZEROFILL's zeros), dates and
 *   times; strings byte for byte; DOUBLE read back with strtod to the same
 *   bits; FLOAT as the server writes it: its value to 6 significant digits
 *   (printf's %.5e, read back) or, with a declared scale, printf's %.*f;
 *   NULLs where the connector said so; each value followed by a NUL.
 */
#include <errmsg.h>
#include <inttypes.h>
#include <math.h>
#include <mysql.h>
#include <stdbool.h>

#include "fuzz.h"
#include "result.h"

#define MAXCOLS 40
#define MAXROWS 24

/* Cell flags. */
#define C_NULL      0x01 /* SQL NULL */
#define C_ERROR     0x02 /* the error flag (truncation of a value) */
#define C_ABSURD    0x04 /* a string claims an impossible length */
#define C_COL_FAIL  0x08 /* mysql_stmt_fetch_column fails */
#define C_COL_SHORT 0x10 /* ... or gives one byte less */

/* Header flags. */
#define H_NOT_STORED 0x01 /* the rows were never stored */
#define H_BIND_FAIL  0x02 /* mysql_stmt_bind_result fails */
#define H_FETCH_FAIL 0x04 /* a fetch fails (row fail_row) */
#define H_ROWBUF     0x08 /* stmt.c's way, not amy__result_from_stmt */

typedef struct {
    bool decoded;
    uint8_t flags;
    uint64_t num; /* LONGLONG, DOUBLE; FLOAT in the low 32 bits */
    MYSQL_TIME t;
    char *bytes; /* STRING: len bytes */
    size_t len;
} cell;

static struct fake {
    fz_in in;
    unsigned ncols, nrows;
    uint8_t hflags, fail_row;
    unsigned errnum;
    MYSQL_FIELD fields[MAXCOLS];
    char names[MAXCOLS][8];
    cell cells[(MAXROWS + 1) * MAXCOLS];
    MYSQL_BIND *binds;
    enum enum_field_types btype[MAXCOLS];
    unsigned row;
    bool injected, absurd;
} F;

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    /* An impossible length must make malloc fail, not ASan stop. */
    return "allocator_may_return_null=1";
}

/* ---- the fake connector --------------------------------------------------- */

static size_t absurd_len(uint8_t k)
{
    static const size_t lens[] = {(size_t)-1, (size_t)-2, SIZE_MAX / 2,
                                  (size_t)1 << 62, ((size_t)1 << 41) + 3};
    return lens[k % (sizeof lens / sizeof lens[0])];
}

/* The cell at (row, c), read from the input the first time, in the form the
 * column's bind asks for. */
static cell *cell_at(unsigned row, unsigned c)
{
    cell *x = &F.cells[row * F.ncols + c];
    if (x->decoded)
        return x;
    x->decoded = true;
    x->flags = fz_u8(&F.in);
    switch (F.btype[c]) {
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_DOUBLE:
        x->num = fz_u64(&F.in);
        break;
    case MYSQL_TYPE_FLOAT:
        x->num = fz_u32(&F.in);
        break;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIME:
        x->t.year = fz_small(&F.in);
        x->t.month = fz_small(&F.in);
        x->t.day = fz_small(&F.in);
        x->t.hour = fz_small(&F.in);
        x->t.minute = fz_small(&F.in);
        x->t.second = fz_small(&F.in);
        x->t.second_part = fz_small(&F.in);
        x->t.neg = F.btype[c] == MYSQL_TYPE_TIME && (fz_u8(&F.in) & 1);
        break;
    case MYSQL_TYPE_STRING: {
        size_t want = fz_u8(&F.in), len;
        if (want == 255)
            want = fz_u16(&F.in);
        const uint8_t *p = fz_bytes(&F.in, want, &len);
        x->bytes = malloc(len + 1);
        if (len)
            memcpy(x->bytes, p, len);
        x->len = len;
        break;
    }
    default:
        break;
    }
    return x;
}

static size_t claimed_len(const cell *x)
{
    if (x->flags & C_ABSURD) {
        F.absurd = true;
        return absurd_len(x->flags >> 5);
    }
    return x->len;
}

unsigned int STDCALL mysql_stmt_field_count(MYSQL_STMT *stmt)
{
    return stmt->field_count;
}

unsigned int STDCALL mysql_stmt_errno(MYSQL_STMT *stmt)
{
    return F.errnum;
}

my_bool STDCALL mysql_stmt_bind_result(MYSQL_STMT *stmt, MYSQL_BIND *bnd)
{
    if (F.hflags & H_BIND_FAIL) {
        F.injected = true;
        return 1;
    }
    F.binds = bnd;
    for (unsigned c = 0; c < F.ncols; c++) {
        F.btype[c] = bnd[c].buffer_type;
        FZ_CHECK(bnd[c].length && bnd[c].is_null && bnd[c].error,
                 "column %u bound without length, is_null or error", c);
    }
    return 0;
}

void STDCALL mysql_stmt_data_seek(MYSQL_STMT *stmt, unsigned long long offset)
{
    FZ_CHECK(offset == 0, "seek to row %llu", offset);
    F.row = 0;
}

int STDCALL mysql_stmt_fetch(MYSQL_STMT *stmt)
{
    FZ_CHECK(F.binds != NULL, "fetch before bind_result");
    if (F.row >= F.nrows)
        return MYSQL_NO_DATA;
    unsigned row = F.row++;
    if ((F.hflags & H_FETCH_FAIL) && row == F.fail_row) {
        F.injected = true;
        return 1;
    }
    int rc = 0;
    for (unsigned c = 0; c < F.ncols; c++) {
        MYSQL_BIND *b = &F.binds[c];
        cell *x = cell_at(row, c);
        *b->error = 0;
        *b->is_null = (x->flags & C_NULL) || b->buffer_type == MYSQL_TYPE_NULL;
        if (*b->is_null)
            continue;
        uint64_t num = x->num;
        switch (b->buffer_type) {
        case MYSQL_TYPE_LONGLONG:
        case MYSQL_TYPE_DOUBLE:
            memcpy(b->buffer, &num, 8);
            *b->length = 8;
            break;
        case MYSQL_TYPE_FLOAT: {
            uint32_t u = (uint32_t)num;
            memcpy(b->buffer, &u, 4);
            *b->length = 4;
            break;
        }
        case MYSQL_TYPE_DATE:
        case MYSQL_TYPE_DATETIME:
        case MYSQL_TYPE_TIME:
            memcpy(b->buffer, &x->t, sizeof x->t);
            *b->length = sizeof x->t;
            break;
        case MYSQL_TYPE_STRING: {
            size_t len = claimed_len(x);
            *b->length = (unsigned long)len;
            if (len > b->buffer_length) {
                *b->error = 1;
                rc = MYSQL_DATA_TRUNCATED;
            }
            if (b->buffer && b->buffer_length)
                memcpy(b->buffer, x->bytes,
                       len < b->buffer_length ? len : b->buffer_length);
            break;
        }
        default:
            fz_fail("column %u bound as type %d", c, (int)b->buffer_type);
        }
        if (x->flags & C_ERROR) {
            *b->error = 1;
            rc = MYSQL_DATA_TRUNCATED;
        }
    }
    return rc;
}

int STDCALL mysql_stmt_fetch_column(MYSQL_STMT *stmt, MYSQL_BIND *b,
                                    unsigned int column, unsigned long offset)
{
    FZ_CHECK(F.row > 0 && column < F.ncols && offset == 0,
             "fetch_column %u at offset %lu, row %u", column, offset, F.row);
    FZ_CHECK(b->buffer_type == MYSQL_TYPE_STRING && b->length,
             "fetch_column with buffer type %d", (int)b->buffer_type);
    cell *x = cell_at(F.row - 1, column);
    if (x->flags & C_COL_FAIL) {
        F.injected = true;
        return 1;
    }
    size_t len = x->len;
    if ((x->flags & C_COL_SHORT) && len > 0) {
        F.injected = true;
        len--;
    }
    memcpy(b->buffer, x->bytes,
           len < b->buffer_length ? len : b->buffer_length);
    *b->length = (unsigned long)len;
    return 0;
}

/* ---- checking a result ---------------------------------------------------- */

static size_t zero_pad(char *s, size_t len, const MYSQL_FIELD *f)
{
    if (!(f->flags & ZEROFILL_FLAG) || f->length <= len ||
        f->length >= AMY__NUMBUF)
        return len;
    size_t pad = f->length - len;
    memmove(s + pad, s, len + 1);
    memset(s, '0', pad);
    return f->length;
}

static void fraction(char *s, unsigned long usec, unsigned dec)
{
    if (dec == 0 || (dec > 6 && usec == 0))
        return;
    char six[16];
    snprintf(six, sizeof six, "%06lu", usec % 1000000);
    six[dec > 6 ? 6 : dec] = '\0';
    sprintf(s + strlen(s), ".%s", six);
}

/* What a fixed-size value must read as (FLOAT and DOUBLE aside). */
static size_t expected(const cell *x, const MYSQL_FIELD *f,
                       enum enum_field_types bt, char *s)
{
    const MYSQL_TIME *t = &x->t;
    switch (bt) {
    case MYSQL_TYPE_LONGLONG:
        if (f->flags & UNSIGNED_FLAG)
            sprintf(s, "%" PRIu64, x->num);
        else
            sprintf(s, "%" PRId64, (int64_t)x->num);
        return zero_pad(s, strlen(s), f);
    case MYSQL_TYPE_DATE:
        return (size_t)sprintf(s, "%04u-%02u-%02u", t->year, t->month, t->day);
    case MYSQL_TYPE_DATETIME:
        sprintf(s, "%04u-%02u-%02u %02u:%02u:%02u", t->year, t->month, t->day,
                t->hour, t->minute, t->second);
        fraction(s, t->second_part, f->decimals);
        return strlen(s);
    default: /* TIME */
        sprintf(s, "%s%02u:%02u:%02u", t->neg ? "-" : "", t->hour, t->minute,
                t->second);
        fraction(s, t->second_part, f->decimals);
        return strlen(s);
    }
}

static void check_real(const char *s, size_t len, const cell *x,
                       const MYSQL_FIELD *f, bool is_float)
{
    double d;
    float fl;
    uint32_t u = (uint32_t)x->num;
    memcpy(&fl, &u, 4);
    memcpy(&d, &x->num, 8);
    if (is_float)
        d = fl;
    bool zf = (f->flags & ZEROFILL_FLAG) && f->length < AMY__NUMBUF;
    if (zf && len < f->length)
        fz_fail("ZEROFILL value %s shorter than the width %lu", s, f->length);
    if (!isfinite(d)) {
        while (zf && *s == '0')
            s++;
        const char *want = isnan(d) ? "nan" : d < 0 ? "-inf" : "inf";
        FZ_CHECK(strcmp(s, want) == 0, "%g written %s", d, s);
        return;
    }
    if (is_float && f->decimals < 31) {
        /* exactly that many decimals of the float's value (my_fcvt) */
        char want[AMY__NUMBUF + 64];
        int n = snprintf(want, sizeof want, "%.*f", (int)f->decimals, d);
        size_t wn = zero_pad(want, (size_t)n, f);
        FZ_CHECK(wn == len && memcmp(want, s, len) == 0,
                 "FLOAT(,%u) %.9g written %s, expected %s", f->decimals, fl, s,
                 want);
        return;
    }
    if (zf && signbit(d))
        return; /* zeros before the sign: no number (ZEROFILL is UNSIGNED) */
    char *end;
    double back = strtod(s, &end);
    FZ_CHECK(*end == '\0' && end == s + len, "real value %s not a number", s);
    if (is_float) {
        /* the float's value rounded to 6 significant digits (my_gcvt) */
        char six[32];
        snprintf(six, sizeof six, "%.5e", d);
        double want = strtod(six, NULL);
        FZ_CHECK(memcmp(&back, &want, 8) == 0, "FLOAT %.9g written %s, not %s",
                 fl, s, six);
    } else {
        FZ_CHECK(memcmp(&back, &d, 8) == 0, "DOUBLE %.17g written %s", d, s);
    }
}

static void check_result(const amy_result *r, uint64_t affected,
                         uint64_t insert_id)
{
    FZ_CHECK(r->ncols == F.ncols && r->nrows == F.nrows,
             "result of %zu x %zu for %u x %u", r->nrows, r->ncols, F.nrows,
             F.ncols);
    FZ_CHECK(r->affected_rows == affected && r->insert_id == insert_id,
             "affected rows or insert id changed");
    for (unsigned c = 0; c < F.ncols; c++)
        FZ_CHECK(memcmp(r->colnames[c], F.fields[c].name,
                        F.fields[c].name_length) == 0 &&
                     r->colnames[c][F.fields[c].name_length] == '\0',
                 "column %u's name", c);
    char want[AMY__NUMBUF + 64];
    for (unsigned row = 0; row < F.nrows; row++) {
        for (unsigned c = 0; c < F.ncols; c++) {
            const amy__cell *got = &r->cells[row * F.ncols + c];
            const cell *x = &F.cells[row * F.ncols + c];
            const MYSQL_FIELD *f = &F.fields[c];
            enum enum_field_types bt = F.btype[c];
            if ((x->flags & C_NULL) || bt == MYSQL_TYPE_NULL) {
                FZ_CHECK(got->ptr == NULL && got->len == 0,
                         "NULL at %u,%u has a value", row, c);
                continue;
            }
            FZ_CHECK(got->ptr != NULL && got->ptr[got->len] == '\0',
                     "value at %u,%u missing or not terminated", row, c);
            if (bt == MYSQL_TYPE_STRING) {
                FZ_CHECK(got->len == x->len &&
                             memcmp(got->ptr, x->bytes, x->len) == 0,
                         "string at %u,%u differs", row, c);
            } else if (bt == MYSQL_TYPE_FLOAT || bt == MYSQL_TYPE_DOUBLE) {
                check_real(got->ptr, got->len, x, f, bt == MYSQL_TYPE_FLOAT);
            } else {
                size_t n = expected(x, f, bt, want);
                FZ_CHECK(got->len == n && memcmp(got->ptr, want, n) == 0,
                         "value at %u,%u is %s, expected %s", row, c, got->ptr,
                         want);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */

static const enum enum_field_types types[] = {
    MYSQL_TYPE_DECIMAL,    MYSQL_TYPE_TINY,        MYSQL_TYPE_SHORT,
    MYSQL_TYPE_LONG,       MYSQL_TYPE_FLOAT,       MYSQL_TYPE_DOUBLE,
    MYSQL_TYPE_NULL,       MYSQL_TYPE_TIMESTAMP,   MYSQL_TYPE_LONGLONG,
    MYSQL_TYPE_INT24,      MYSQL_TYPE_DATE,        MYSQL_TYPE_TIME,
    MYSQL_TYPE_DATETIME,   MYSQL_TYPE_YEAR,        MYSQL_TYPE_NEWDATE,
    MYSQL_TYPE_VARCHAR,    MYSQL_TYPE_BIT,         MYSQL_TYPE_TIMESTAMP2,
    MYSQL_TYPE_DATETIME2,  MYSQL_TYPE_TIME2,       MYSQL_TYPE_JSON,
    MYSQL_TYPE_NEWDECIMAL, MYSQL_TYPE_ENUM,        MYSQL_TYPE_SET,
    MYSQL_TYPE_TINY_BLOB,  MYSQL_TYPE_MEDIUM_BLOB, MYSQL_TYPE_LONG_BLOB,
    MYSQL_TYPE_BLOB,       MYSQL_TYPE_VAR_STRING,  MYSQL_TYPE_STRING,
    MYSQL_TYPE_GEOMETRY,
};

/* stmt.c's way (fetched, end_rows): NULL with *err, or the result. */
static amy_result *via_rowbuf(MYSQL_STMT *stmt, amy__rowbuf *b, unsigned *err)
{
    amy__binrows *br = amy__binrows_new(stmt, err);
    if (!br)
        return NULL;
    unsigned fetch_err = 0, fetched = 0;
    int rc;
    while ((rc = mysql_stmt_fetch(stmt)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
        fetched++;
        if (!fetch_err && amy__binrows_add(br, stmt, b) != 0)
            fetch_err = F.errnum ? F.errnum : CR_UNKNOWN_ERROR;
    }
    amy__binrows_free(br);
    if (rc != MYSQL_NO_DATA) {
        amy__rowbuf_clear(b);
        *err = F.errnum ? F.errnum : CR_UNKNOWN_ERROR;
        return NULL;
    }
    if (fetch_err) {
        amy__rowbuf_clear(b);
        *err = fetch_err;
        return NULL;
    }
    *err = 0;
    FZ_CHECK(fetched == F.nrows, "%u rows fetched of %u", fetched, F.nrows);
    return amy__rowbuf_result(b, stmt->fields, F.ncols, fetched, 0);
}

/* What one read gave: checked against what the fake did. */
static void check_answer(const amy_result *r, unsigned err, bool over,
                         uint64_t affected, uint64_t insert_id)
{
    if (r) {
        FZ_CHECK(err == 0, "a result with err %u", err);
        FZ_CHECK(!F.injected && !F.absurd && !over,
                 "a result despite a failure");
        check_result(r, affected, insert_id);
    } else if (err == 0) {
        FZ_CHECK(F.absurd || over,
                 "out of memory without an impossible length or a limit");
    } else {
        FZ_CHECK(F.injected, "failed (err %u) with no failure", err);
        FZ_CHECK(err == (F.errnum ? F.errnum : CR_UNKNOWN_ERROR),
                 "err %u, the connector said %u", err, F.errnum);
    }
}

static void free_cells(size_t ncells)
{
    for (size_t i = 0; i < ncells; i++)
        free(F.cells[i].bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(&F, 0, offsetof(struct fake, cells));
    memset(&F.binds, 0, sizeof F - offsetof(struct fake, binds));
    F.in = (fz_in){data, size};
    F.ncols = fz_u8(&F.in) % MAXCOLS;
    F.nrows = fz_u8(&F.in) % MAXROWS;
    size_t ncells = (size_t)F.nrows * F.ncols;
    memset(F.cells, 0, ncells * sizeof F.cells[0]);
    F.hflags = fz_u8(&F.in);
    F.fail_row = fz_u8(&F.in);
    F.errnum = fz_u16(&F.in);
    uint64_t affected = fz_u64(&F.in), insert_id = fz_u64(&F.in);
    size_t limit = fz_small(&F.in);

    for (unsigned c = 0; c < F.ncols; c++) {
        MYSQL_FIELD *f = &F.fields[c];
        uint8_t t = fz_u8(&F.in);
        f->type = t < sizeof types / sizeof types[0] ? types[t]
                                                     : (enum enum_field_types)t;
        f->flags = fz_u16(&F.in);
        f->decimals = fz_u8(&F.in);
        f->length = fz_small(&F.in);
        f->charsetnr = fz_u16(&F.in);
        size_t nl;
        const uint8_t *name = fz_bytes(&F.in, fz_u8(&F.in) % 8, &nl);
        memcpy(F.names[c], name, nl);
        f->name = F.names[c];
        f->name_length = (unsigned)nl;
    }

    MYSQL_STMT *stmt = calloc(1, sizeof *stmt);
    stmt->field_count = F.ncols;
    stmt->fields = F.fields;
    stmt->state = (F.hflags & H_NOT_STORED) ? MYSQL_STMT_EXECUTED
                                            : MYSQL_STMT_USE_OR_STORE_CALLED;

    unsigned err = 12345;
    if ((F.hflags & H_ROWBUF) && F.ncols > 0) {
        /* Twice into the same buffer: the next query of the connection. */
        amy__rowbuf b = {0};
        b.limit = limit;
        amy_result *r[2];
        unsigned e[2];
        bool over[2];
        for (int i = 0; i < 2; i++) {
            amy__rowbuf_query(&b);
            F.row = 0;
            r[i] = via_rowbuf(stmt, &b, &e[i]);
            over[i] = b.over;
            FZ_CHECK(!b.over || limit, "over with no limit");
            check_answer(r[i], e[i], over[i], F.nrows, 0);
        }
        FZ_CHECK((r[0] == NULL) == (r[1] == NULL) && e[0] == e[1] &&
                     over[0] == over[1],
                 "read again, the same rows give another answer");
        amy__result_free(r[0]);
        amy__result_free(r[1]);
        amy__rowbuf_free(&b);
    } else {
        amy_result *r = amy__result_from_stmt(stmt, affected, insert_id, &err);
        if (F.ncols == 0)
            FZ_CHECK(r && r->ncols == 0 && r->nrows == 0 && err == 0,
                     "no columns: not an OK result");
        else if (F.hflags & H_NOT_STORED)
            FZ_CHECK(!r && err == CR_COMMANDS_OUT_OF_SYNC,
                     "rows not stored: result %p, err %u", (void *)r, err);
        else
            check_answer(r, err, false, affected, insert_id);
        amy__result_free(r);
    }
    free(stmt);
    free_cells(ncells);
    return 0;
}
