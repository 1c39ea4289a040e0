/*
 * Results. A result is one malloc: the header, then the column-name
 * pointers, then the cells, then every name and value back to back, each
 * followed by a NUL so text values read as C strings. A MYSQL_RES is sized
 * by a first pass over its stored rows and copied by a second; rows read
 * one at a time (amy__rowbuf) are kept as they come and laid out once
 * their result set ends.
 */
#include <errno.h>
#include <locale.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"

static size_t align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

amy_result *amy__result_ok(uint64_t affected, uint64_t insert_id)
{
    amy_result *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->magic = AMY__RESULT_LIVE;
    r->affected_rows = affected;
    r->insert_id = insert_id;
    return r;
}

size_t amy__result_names_size(const MYSQL_FIELD *fields, size_t ncols)
{
    size_t bytes = 0;
    for (size_t c = 0; c < ncols; c++)
        bytes += fields[c].name_length + 1;
    return bytes;
}

/* Where the parts of a block start: column-name pointers, column info,
 * cells, then names and values. */
typedef struct layout {
    size_t names, cols, cells, data;
} layout;

static layout layout_of(size_t nrows, size_t ncols)
{
    layout l;
    l.names = align8(sizeof(amy_result));
    l.cols = align8(l.names + ncols * sizeof(char *));
    l.cells = align8(l.cols + ncols * sizeof(amy__colinfo));
    l.data = l.cells + nrows * ncols * sizeof(amy__cell);
    return l;
}

/* Points r's arrays into its own block. */
static void point_arrays(amy_result *r)
{
    layout l = layout_of(r->nrows, r->ncols);
    char *base = (char *)r;
    r->colnames = (const char **)(void *)(base + l.names);
    r->cols = (amy__colinfo *)(void *)(base + l.cols);
    r->cells = (amy__cell *)(void *)(base + l.cells);
}

amy_result *amy__result_alloc(size_t nrows, size_t ncols, size_t bytes,
                              uint64_t affected, uint64_t insert_id,
                              char **data)
{
    if (ncols && nrows > SIZE_MAX / ncols / sizeof(amy__cell))
        return NULL;
    layout l = layout_of(nrows, ncols);
    if (bytes > SIZE_MAX - l.data)
        return NULL;
    amy_result *r = malloc(l.data + bytes);
    if (!r)
        return NULL;
    r->nrows = nrows;
    r->ncols = ncols;
    r->bytes = bytes;
    r->next = NULL;
    r->affected_rows = affected;
    r->insert_id = insert_id;
    r->magic = AMY__RESULT_LIVE;
    point_arrays(r);
    *data = (char *)r + l.data;
    return r;
}

char *amy__result_set_cols(amy_result *r, const MYSQL_FIELD *fields, char *p)
{
    for (size_t c = 0; c < r->ncols; c++) {
        r->cols[c].type = (uint16_t)fields[c].type;
        r->cols[c].charset = (uint16_t)fields[c].charsetnr;
        r->cols[c].flags = (uint32_t)fields[c].flags;
        memcpy(p, fields[c].name, fields[c].name_length);
        p[fields[c].name_length] = '\0';
        r->colnames[c] = p;
        p += fields[c].name_length + 1;
    }
    return p;
}

/* ------------------------------------------------------------------------ */
/* Rows read one at a time                                                  */
/* ------------------------------------------------------------------------ */

/* A cell's off for SQL NULL. */
#define NO_VALUE SIZE_MAX

/* Buffers up to this size are kept for the next result set (no malloc for
 * the small results of a busy connection); larger ones go, or become the
 * result block itself. */
#define KEEP_BYTES 65536u

/* The block the rows kept so far, plus `more` bytes, would take. */
static size_t rowbuf_need(const amy__rowbuf *b, size_t cells, size_t more)
{
    size_t n = b->spent, add[] = {b->len, more, sizeof(amy__cell) * b->ncells,
                                  sizeof(amy__cell) * cells};
    for (size_t i = 0; i < sizeof add / sizeof add[0]; i++)
        n = add[i] > SIZE_MAX - n ? SIZE_MAX : n + add[i];
    return n;
}

/* Forgets the rows kept (their memory too, unless it is small). */
static void rowbuf_empty(amy__rowbuf *b)
{
    b->len = b->ncells = b->nrows = 0;
    if (b->cap > KEEP_BYTES) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
    if (b->ccap * sizeof *b->cells > KEEP_BYTES) {
        free(b->cells);
        b->cells = NULL;
        b->ccap = 0;
    }
}

/* Drops everything kept: the rest of the rows are only read. */
static int rowbuf_drop(amy__rowbuf *b, int nomem)
{
    if (nomem)
        b->nomem = 1;
    else
        b->over = 1;
    rowbuf_empty(b);
    return -1;
}

/* Room for `cells` more cells and `bytes` more data, within the limit. */
static int rowbuf_room(amy__rowbuf *b, size_t cells, size_t bytes)
{
    if (b->over || b->nomem)
        return -1;
    if (b->limit && rowbuf_need(b, cells, bytes) > b->limit)
        return rowbuf_drop(b, 0);
    if (cells > b->ccap - b->ncells) {
        size_t cap = b->ccap ? b->ccap : 16;
        while (cap - b->ncells < cells) {
            if (cap > SIZE_MAX / 2 / sizeof *b->cells)
                return rowbuf_drop(b, 1);
            cap *= 2;
        }
        amy__rowcell *c = realloc(b->cells, cap * sizeof *c);
        if (!c)
            return rowbuf_drop(b, 1);
        b->cells = c;
        b->ccap = cap;
    }
    if (bytes > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap - b->len < bytes) {
            if (cap > SIZE_MAX / 2)
                return rowbuf_drop(b, 1);
            cap *= 2;
        }
        char *d = realloc(b->data, cap);
        if (!d)
            return rowbuf_drop(b, 1);
        b->data = d;
        b->cap = cap;
    }
    return 0;
}

int amy__rowbuf_text_row(amy__rowbuf *b, char *const *values,
                         const unsigned long *lens, size_t ncols)
{
    size_t bytes = 0;
    for (size_t i = 0; i < ncols; i++)
        if (values[i])
            bytes += (size_t)lens[i] + 1; /* each was in one packet */
    if (rowbuf_room(b, ncols, bytes) != 0)
        return -1;
    amy__rowcell *cell = b->cells + b->ncells;
    char *p = b->data + b->len;
    for (size_t i = 0; i < ncols; i++, cell++) {
        if (!values[i]) {
            cell->off = NO_VALUE;
            cell->len = 0;
            continue;
        }
        memcpy(p, values[i], lens[i]);
        p[lens[i]] = '\0';
        cell->off = (size_t)(p - b->data);
        cell->len = lens[i];
        p += lens[i] + 1;
    }
    b->ncells += ncols;
    b->len += bytes;
    b->nrows++;
    return 0;
}

int amy__rowbuf_row(amy__rowbuf *b, size_t ncols)
{
    if (rowbuf_room(b, ncols, 0) != 0)
        return -1;
    b->nrows++;
    return 0;
}

char *amy__rowbuf_value(amy__rowbuf *b, size_t len)
{
    if (len == SIZE_MAX || rowbuf_room(b, 0, len + 1) != 0)
        return NULL;
    amy__rowcell *cell = &b->cells[b->ncells++];
    char *p = b->data + b->len;
    p[len] = '\0';
    cell->off = b->len;
    cell->len = len;
    b->len += len + 1;
    return p;
}

void amy__rowbuf_null(amy__rowbuf *b)
{
    if (b->over || b->nomem)
        return;
    amy__rowcell *cell = &b->cells[b->ncells++]; /* amy__rowbuf_row made room */
    cell->off = NO_VALUE;
    cell->len = 0;
}

amy_result *amy__rowbuf_result(amy__rowbuf *b, const MYSQL_FIELD *fields,
                               size_t ncols, uint64_t affected,
                               uint64_t insert_id)
{
    size_t nrows = b->nrows;
    if (b->over || b->nomem || (ncols && b->ncells != nrows * ncols)) {
        rowbuf_empty(b);
        return NULL;
    }
    size_t names = amy__result_names_size(fields, ncols);
    layout l = layout_of(nrows, ncols);
    size_t head = l.data + names, total = head + b->len;
    amy_result *r;
    if (b->cap > KEEP_BYTES) {
        /* A large result: its values stay in their buffer, moved up past
         * the header, instead of being copied into a second one. */
        char *blk = realloc(b->data, total);
        if (!blk) {
            rowbuf_drop(b, 1);
            return NULL;
        }
        memmove(blk + head, blk, b->len);
        b->data = NULL;
        b->cap = 0;
        r = (amy_result *)(void *)blk;
        r->nrows = nrows;
        r->ncols = ncols;
        r->next = NULL;
        r->affected_rows = affected;
        r->insert_id = insert_id;
        r->magic = AMY__RESULT_LIVE;
        point_arrays(r);
    } else {
        char *p;
        r = amy__result_alloc(nrows, ncols, names + b->len, affected, insert_id,
                              &p);
        if (!r) {
            rowbuf_drop(b, 1);
            return NULL;
        }
        if (b->len)
            memcpy((char *)r + head, b->data, b->len);
    }
    amy__result_set_cols(r, fields, (char *)r + l.data);
    const char *base = (const char *)r + head;
    for (size_t i = 0; i < b->ncells; i++) {
        const amy__rowcell *c = &b->cells[i];
        r->cells[i].ptr = c->off == NO_VALUE ? NULL : base + c->off;
        r->cells[i].len = c->len;
    }
    b->spent = total > SIZE_MAX - b->spent ? SIZE_MAX : b->spent + total;
    rowbuf_empty(b);
    return r;
}

void amy__rowbuf_clear(amy__rowbuf *b)
{
    rowbuf_empty(b);
}

void amy__rowbuf_free(amy__rowbuf *b)
{
    free(b->data);
    free(b->cells);
    memset(b, 0, sizeof *b);
}

void amy__result_free(amy_result *r)
{
    while (r) {
        amy_result *next = r->next;
        amy__bury(r, offsetof(amy_result, magic), sizeof r->magic,
                  AMY__RESULT_DEAD);
        r = next;
    }
}

const amy_result *amy_result_next(const amy_result *r)
{
    return amy__result_live(r, __func__) ? r->next : NULL;
}

size_t amy_result_nrows(const amy_result *r)
{
    return amy__result_live(r, __func__) ? r->nrows : 0;
}

size_t amy_result_ncols(const amy_result *r)
{
    return amy__result_live(r, __func__) ? r->ncols : 0;
}

/* ASCII only, as MySQL compares column names (and as no locale may). */
static int ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

long amy_result_colindex(const amy_result *r, const char *name)
{
    if (!amy__result_live(r, __func__) || !name)
        return -1;
    for (size_t c = 0; c < r->ncols; c++) {
        const unsigned char *a = (const unsigned char *)r->colnames[c];
        const unsigned char *b = (const unsigned char *)name;
        if (!a)
            continue;
        while (*a && ascii_lower(*a) == ascii_lower(*b)) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0')
            return (long)c;
    }
    return -1;
}

const char *amy_result_colname(const amy_result *r, size_t col)
{
    return amy__result_live(r, __func__) && col < r->ncols ? r->colnames[col]
                                                           : NULL;
}

const char *amy_result_value(const amy_result *r, size_t row, size_t col,
                             size_t *len)
{
    if (!amy__result_live(r, __func__) || row >= r->nrows || col >= r->ncols) {
        if (len)
            *len = 0;
        return NULL;
    }
    const amy__cell *cell = &r->cells[row * r->ncols + col];
    if (len)
        *len = cell->len;
    return cell->ptr;
}

uint64_t amy_result_affected_rows(const amy_result *r)
{
    return amy__result_live(r, __func__) ? r->affected_rows : 0;
}

uint64_t amy_result_insert_id(const amy_result *r)
{
    return amy__result_live(r, __func__) ? r->insert_id : 0;
}

/* ------------------------------------------------------------------------ */
/* Typed access                                                             */
/* ------------------------------------------------------------------------ */

int amy_result_coltype(const amy_result *r, size_t col)
{
    return amy__result_live(r, __func__) && col < r->ncols
               ? (int)r->cols[col].type
               : -1;
}

unsigned amy_result_colflags(const amy_result *r, size_t col)
{
    return amy__result_live(r, __func__) && col < r->ncols ? r->cols[col].flags
                                                           : 0;
}

unsigned amy_result_colcharset(const amy_result *r, size_t col)
{
    return amy__result_live(r, __func__) && col < r->ncols
               ? r->cols[col].charset
               : 0;
}

/* The cell at (row, col), or a status: AMY_EINVAL, AMY_ENULL. */
static int cell_at(const amy_result *r, size_t row, size_t col, const void *out,
                   const amy__cell **cell, const char *call)
{
    if (!amy__result_live(r, call) || !out || row >= r->nrows ||
        col >= r->ncols)
        return AMY_EINVAL;
    *cell = &r->cells[row * r->ncols + col];
    return (*cell)->ptr ? AMY_OK : AMY_ENULL;
}

/* A BIT column's bytes as a big-endian number. */
static int bit_value(const amy__cell *cell, uint64_t *v)
{
    if (cell->len > 8)
        return AMY_ERANGE;
    uint64_t x = 0;
    for (size_t i = 0; i < cell->len; i++)
        x = (x << 8) | (unsigned char)cell->ptr[i];
    *v = x;
    return AMY_OK;
}

/* Decimal digits only (at least one), into *v; AMY_ERANGE past UINT64. */
static int parse_digits(const char *s, size_t len, uint64_t *v)
{
    if (len == 0)
        return AMY_ETYPE;
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return AMY_ETYPE;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return AMY_ERANGE;
        x = x * 10 + d;
    }
    *v = x;
    return AMY_OK;
}

int amy_result_int64(const amy_result *r, size_t row, size_t col, int64_t *out)
{
    const amy__cell *cell;
    int st = cell_at(r, row, col, out, &cell, __func__);
    if (st != AMY_OK)
        return st;
    uint64_t mag;
    if (r->cols[col].type == AMY_COL_BIT) {
        st = bit_value(cell, &mag);
        if (st == AMY_OK && mag > (uint64_t)INT64_MAX)
            st = AMY_ERANGE;
        if (st == AMY_OK)
            *out = (int64_t)mag;
        return st;
    }
    int neg = cell->len > 0 && cell->ptr[0] == '-';
    st = parse_digits(cell->ptr + neg, cell->len - (size_t)neg, &mag);
    if (st != AMY_OK)
        return st;
    if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX)
        return AMY_ERANGE;
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return AMY_OK;
}

int amy_result_uint64(const amy_result *r, size_t row, size_t col,
                      uint64_t *out)
{
    const amy__cell *cell;
    int st = cell_at(r, row, col, out, &cell, __func__);
    if (st != AMY_OK)
        return st;
    if (r->cols[col].type == AMY_COL_BIT)
        return bit_value(cell, out);
    if (cell->len > 1 && cell->ptr[0] == '-') {
        uint64_t ignored;
        st = parse_digits(cell->ptr + 1, cell->len - 1, &ignored);
        if (st != AMY_OK)
            return st;
        /* "-0" is zero; any other negative number does not fit. */
        if (ignored != 0)
            return AMY_ERANGE;
        *out = 0;
        return AMY_OK;
    }
    return parse_digits(cell->ptr, cell->len, out);
}

/* n decimal digits at s[*i] into *v (no sign, exactly n). */
static int fixed_digits(const char *s, size_t len, size_t *i, int n, int *v)
{
    int x = 0;
    for (int k = 0; k < n; k++, (*i)++) {
        if (*i >= len || s[*i] < '0' || s[*i] > '9')
            return -1;
        x = x * 10 + (s[*i] - '0');
    }
    *v = x;
    return 0;
}

/* ".ffffff" (1 to 6 digits), if there, into microseconds. */
static int fraction(const char *s, size_t len, size_t *i, unsigned *us)
{
    *us = 0;
    if (*i == len)
        return 0;
    if (s[(*i)++] != '.')
        return -1;
    int digits = 0;
    unsigned x = 0;
    for (; *i < len && s[*i] >= '0' && s[*i] <= '9' && digits < 6; (*i)++) {
        x = x * 10 + (unsigned)(s[*i] - '0');
        digits++;
    }
    if (digits == 0)
        return -1;
    for (int k = digits; k < 6; k++)
        x *= 10;
    *us = x;
    return 0;
}

/* "YYYY-MM-DD" at s[*i]. */
static int date_part(const char *s, size_t len, size_t *i, amy_time *t)
{
    if (fixed_digits(s, len, i, 4, &t->year) || *i >= len || s[(*i)++] != '-' ||
        fixed_digits(s, len, i, 2, &t->month) || *i >= len ||
        s[(*i)++] != '-' || fixed_digits(s, len, i, 2, &t->day))
        return -1;
    return t->month <= 12 && t->day <= 31 ? 0 : -1;
}

/* "MM:SS" after the hours, then an optional fraction, to the end. */
static int clock_rest(const char *s, size_t len, size_t *i, amy_time *t)
{
    if (*i >= len || s[(*i)++] != ':' ||
        fixed_digits(s, len, i, 2, &t->minute) || *i >= len ||
        s[(*i)++] != ':' || fixed_digits(s, len, i, 2, &t->second) ||
        fraction(s, len, i, &t->microsecond) || *i != len)
        return -1;
    return t->minute <= 59 && t->second <= 59 ? 0 : -1;
}

int amy_result_time(const amy_result *r, size_t row, size_t col, amy_time *out)
{
    const amy__cell *cell;
    int st = cell_at(r, row, col, out, &cell, __func__);
    if (st != AMY_OK)
        return st;
    const char *s = cell->ptr;
    size_t len = cell->len, i = 0;
    amy_time t = {0, 0, 0, 0, 0, 0, 0, 0};
    switch (r->cols[col].type) {
    case AMY_COL_DATE:
        if (date_part(s, len, &i, &t) || i != len)
            return AMY_ETYPE;
        break;
    case AMY_COL_DATETIME:
    case AMY_COL_TIMESTAMP:
        if (date_part(s, len, &i, &t) || i >= len || s[i++] != ' ' ||
            fixed_digits(s, len, &i, 2, &t.hour) || t.hour > 23 ||
            clock_rest(s, len, &i, &t))
            return AMY_ETYPE;
        break;
    case AMY_COL_TIME: {
        /* [-]H..HHH:MM:SS[.f]: hours past 24 are kept in hour (up to
         * 838 for the server's TIME range). */
        if (i < len && s[i] == '-') {
            t.negative = 1;
            i++;
        }
        int digits = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9' && digits < 4; i++) {
            t.hour = t.hour * 10 + (s[i] - '0');
            digits++;
        }
        if (digits < 2 || t.hour > 838 || clock_rest(s, len, &i, &t))
            return AMY_ETYPE;
        break;
    }
    default:
        return AMY_ETYPE; /* text that looks like a date is still text */
    }
    *out = t;
    return AMY_OK;
}

int amy_result_double(const amy_result *r, size_t row, size_t col, double *out)
{
    const amy__cell *cell;
    int st = cell_at(r, row, col, out, &cell, __func__);
    if (st != AMY_OK)
        return st;
    /* The server writes [-]digits[.digits][e[+-]digits]; anything else is
     * not a number here (no spaces, no hex, no "inf"). */
    const char *s = cell->ptr;
    size_t n = cell->len, i = 0, digits = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    size_t dot = n;
    if (i < n && s[i] == '.') {
        dot = i++;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    }
    if (digits && i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = ++i;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t edigits = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            edigits++;
        if (!edigits)
            i = e - 1; /* "1e" is not a number */
    }
    if (!digits || i != n || n > 400)
        return AMY_ETYPE;
    /* strtod follows the C locale's decimal point: put that one in. */
    char buf[416];
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (dot < n) {
        const char *pt = localeconv()->decimal_point;
        size_t plen = strlen(pt);
        if (plen != 1 || pt[0] != '.') {
            if (n + plen > sizeof buf - 1)
                return AMY_ETYPE;
            memmove(buf + dot + plen, buf + dot + 1, n - dot);
            memcpy(buf + dot, pt, plen);
        }
    }
    errno = 0;
    double d = strtod(buf, NULL);
    if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
        return AMY_ERANGE;
    *out = d;
    return AMY_OK;
}
