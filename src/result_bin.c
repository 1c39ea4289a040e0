/*
 * Results of prepared statements. The binary protocol sends numbers, dates
 * and times in binary; they are written here as the text protocol writes
 * them, so that a result reads the same whichever protocol carried it.
 * Rows are read one at a time (stmt.c fetches them unbuffered, so that
 * max_result_bytes bounds them as they arrive) into an amy__rowbuf
 * (result.c), which makes them one block at the end. Strings, DECIMAL, BIT
 * and the like arrive as bytes and are fetched (mysql_stmt_fetch_column)
 * straight into their place in the buffer.
 *
 * FLOAT is written as the server writes it, byte for byte: the float's
 * value rounded to 6 significant digits (FLT_DIG), trailing zeros dropped,
 * laid out as a double ("1234570" for 1234567, "3.40282e38" for FLT_MAX,
 * "1.4013e-45" for the smallest subnormal), or with a declared scale D
 * exactly D decimals of its value ("0.1000000015" for 0.1 in FLOAT(20,10)).
 * The text does not always read back to the same float (neither does the
 * text protocol's): amy_result_double gives the same number whichever
 * protocol carried the value.
 *
 * Where the text differs from the text protocol's, on purpose:
 * - DOUBLE with a declared scale too small for its digits (PI() has 6, the
 *   text protocol says "3.141593"): the fewest digits that read back to the
 *   same double ("3.141592653589793"). A scale that holds them is kept, as
 *   the server writes it ("1.50" for 1.5 in a DOUBLE(10,2)). The server's
 *   rounding to a column's scale does not always give the nearest double:
 *   -0.01 stored in a DOUBLE(12,2) is "-0.010000000000000009" here, "-0.01"
 *   in the text protocol.
 * - -0.0 is "-0" (the server normalises it to 0 before sending, so it is
 *   not seen in practice).
 * Exponents, fixed or scientific notation and zero padding follow the
 * server's rules (e.g. "1e15", "0.000000000000001", "1e-16",
 * "1.2345678901234568e16").
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "result.h" /* mysql.h: MYSQL_STMT with its fields, MYSQL_BIND */

#include <errmsg.h>

/* Decimals at or above this mean "not fixed" (the server's
 * FLOATING_POINT_DECIMALS for FLOAT/DOUBLE, 39 for some expressions). */
#define NOT_FIXED_DEC 31

/* The server writes a double in fixed notation while its decimal point
 * sits within these bounds, in scientific notation outside them. */
#define FIXED_DECPT_MIN (-14)
#define FIXED_DECPT_MAX 15

/* How a column is fetched and written. */
enum kind {
    K_VAR,
    K_NULL,
    K_INT,
    K_FLOAT,
    K_DOUBLE,
    K_DATE,
    K_DATETIME,
    K_TIME
};

/* Where the connector puts one column of the current row. */
typedef struct slot {
    union {
        int64_t i;
        uint64_t u;
        double d;
        float f;
        MYSQL_TIME t;
    } v;
    unsigned long len; /* K_VAR: the value's length */
    my_bool is_null, error;
    unsigned char kind;
} slot;

/* ------------------------------------------------------------------------ */
/* FLOAT and DOUBLE                                                         */
/* ------------------------------------------------------------------------ */

/* |x| rounded to prec significant digits: the digits into dg and the power
 * of ten of the first one. printf rounds exactly; the locale's decimal
 * point is skipped over. */
static void round_digits(double x, int prec, char *dg, int *exp10)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*e", prec - 1, fabs(x));
    const char *s = buf;
    int n = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && n < prec)
            dg[n++] = *s;
    int neg = *s && s[1] == '-', e = 0;
    for (s += *s ? 2 : 0; *s >= '0' && *s <= '9'; s++)
        e = e * 10 + (*s - '0');
    *exp10 = neg ? -e : e;
}

/* "e" and the exponent, no '+' nor leading zeros (printf costs more than
 * the rest of the conversion). Returns the length. */
static size_t put_exp(char *out, int e)
{
    size_t o = 0;
    out[o++] = 'e';
    if (e < 0)
        out[o++] = '-';
    unsigned u = e < 0 ? (unsigned)-e : (unsigned)e;
    if (u >= 100)
        out[o++] = (char)('0' + u / 100);
    if (u >= 10)
        out[o++] = (char)('0' + u / 10 % 10);
    out[o++] = (char)('0' + u % 10);
    return o;
}

/* The n digits of dg plus one unit in the last place. */
static void bump(char *dg, int n, int *exp10)
{
    int i = n - 1;
    for (; i >= 0 && dg[i] == '9'; i--)
        dg[i] = '0';
    if (i >= 0) {
        dg[i]++;
    } else { /* 99.9 -> 100.0: one more power of ten */
        dg[0] = '1';
        ++*exp10;
    }
}

/* Digits without their trailing zeros: how many remain (at least 1). */
static int trim(const char *dg, int n)
{
    while (n > 1 && dg[n - 1] == '0')
        n--;
    return n;
}

/* Whether digits dg x 10^e read back to |x| through strtod, as
 * amy_result_double reads it. The string has no decimal point, which
 * strtod would take from the locale. */
static int reads_back(const char *dg, int n, int e, double x)
{
    char buf[AMY__NUMBUF + 16];
    memcpy(buf, dg, (size_t)n);
    buf[n + put_exp(buf + n, e)] = '\0';
    return strtod(buf, NULL) == fabs(x);
}

/* Whether x is a power of two with a full mantissa (not subnormal): the
 * values below it are closer together than those above, so the nearest
 * decimal of some length may fall short while the next one up reads back. */
static int binade_edge(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0xfffffffffffffu) == 0 && (u & 0x7ff0000000000000u) != 0;
}

/*
 * The p-digit rounding of the number whose hi digits are top (with
 * exponent etop), into dg and *exp10. top is itself a rounding, so this
 * is the rounding of the number only when the dropped digits are not
 * exactly half a unit: 0 then, and the caller asks printf.
 */
static int round_shorter(const char *top, int hi, int etop, int p, char *dg,
                         int *exp10)
{
    int rest = 0;
    for (int i = p + 1; i < hi; i++)
        rest |= top[i] != '0';
    memcpy(dg, top, (size_t)p);
    *exp10 = etop;
    if (top[p] == '5' && !rest)
        return 0;
    if (top[p] >= '5')
        bump(dg, p, exp10);
    return 1;
}

/*
 * The fewest significant digits of |x| that read back, into dg (returns
 * how many) with the power of ten of the first. Fewer than 15 digits show
 * as trailing zeros of the 15-digit rounding, except for subnormals, whose
 * precision is lower: those start from 1. Every rounding comes from one
 * printf of the longest (17 digits, which always reads back): printf costs
 * more than all the rest.
 */
static int shortest_digits(double x, char *dg, int *exp10)
{
    int lo = fabs(x) < DBL_MIN ? 1 : 15, hi = 17;
    int edge = binade_edge(x);
    char top[24];
    int etop;
    round_digits(x, hi, top, &etop);
    for (int p = lo; p < hi; p++) {
        if (!round_shorter(top, hi, etop, p, dg, exp10))
            round_digits(x, p, dg, exp10);
        int n = trim(dg, p);
        if (reads_back(dg, n, *exp10 - (n - 1), x))
            return n;
        if (edge) {
            char up[24];
            int e = *exp10;
            memcpy(up, dg, (size_t)p);
            bump(up, p, &e);
            n = trim(up, p);
            if (reads_back(up, n, e - (n - 1), x)) {
                memcpy(dg, up, (size_t)n);
                *exp10 = e;
                return n;
            }
        }
    }
    memcpy(dg, top, (size_t)hi);
    *exp10 = etop;
    return trim(dg, hi);
}

/* Lays out digits with the decimal point after decpt of them (decpt <= 0:
 * zeros first) as the server does: fixed notation near 1, scientific
 * ("1.5e16", "1e-16": no '+', no leading zeros) far from it. */
static size_t layout(int neg, const char *dg, int n, int decpt, char *out)
{
    char *o = out;
    if (neg)
        *o++ = '-';
    if (decpt < FIXED_DECPT_MIN || (decpt > FIXED_DECPT_MAX && n <= decpt)) {
        *o++ = dg[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, dg + 1, (size_t)n - 1);
            o += n - 1;
        }
        o += put_exp(o, decpt - 1);
    } else if (decpt <= 0) {
        *o++ = '0';
        *o++ = '.';
        memset(o, '0', (size_t)-decpt);
        o += -decpt;
        memcpy(o, dg, (size_t)n);
        o += n;
    } else if (decpt < n) {
        memcpy(o, dg, (size_t)decpt);
        o += decpt;
        *o++ = '.';
        memcpy(o, dg + decpt, (size_t)(n - decpt));
        o += n - decpt;
    } else {
        memcpy(o, dg, (size_t)n);
        o += n;
        memset(o, '0', (size_t)(decpt - n));
        o += decpt - n;
    }
    return (size_t)(o - out);
}

/*
 * The digits with exactly dec fractional digits, zeros added, as the server
 * writes a value of declared scale: the fewest digits that read back,
 * padded (0.1 in 30 decimals is "0.100000000000000000000000000000"). Only
 * for digits that need no more than dec fractional places: fewer would not
 * read back.
 */
static size_t scaled(int neg, const char *dg, int n, int decpt, unsigned dec,
                     char *out)
{
    char *o = out;
    if (neg)
        *o++ = '-';
    if (decpt <= 0)
        *o++ = '0';
    for (int i = 0; i < decpt; i++)
        *o++ = i < n ? dg[i] : '0';
    if (dec)
        *o++ = '.';
    for (int i = decpt; i < decpt + (int)dec; i++)
        *o++ = i >= 0 && i < n ? dg[i] : '0';
    return (size_t)(o - out);
}

/*
 * x with exactly dec decimals, correctly rounded (exact ties to even), in
 * fixed notation: the server's my_fcvt, which it uses for a FLOAT of
 * declared scale. printf rounds the same way; its decimal point, whatever
 * the locale makes it, becomes '.'.
 */
static size_t fixed_decimals(double x, unsigned dec, char *out)
{
    char buf[AMY__NUMBUF];
    int len = snprintf(buf, sizeof buf, "%.*f", (int)dec, x);
    size_t o = 0;
    int point = 0;
    for (int i = 0; i < len; i++) {
        char c = buf[i];
        if ((c >= '0' && c <= '9') || c == '-')
            out[o++] = c;
        else if (!point++)
            out[o++] = '.';
    }
    return o;
}

/*
 * A FLOAT as the server writes it (Float::to_string): with no declared
 * scale, my_gcvt's FLOAT form, which is the float's value (as a double,
 * exact) rounded to FLT_DIG = 6 significant digits, exact ties to even as
 * printf and the server's dtoa both do, trailing zeros dropped, laid out as
 * a double; with a scale, my_fcvt's.
 */
static size_t format_float(double x, unsigned decimals, char *out)
{
    if (decimals < NOT_FIXED_DEC)
        return fixed_decimals(x, decimals, out);
    char dg[24];
    int exp10;
    round_digits(x, FLT_DIG, dg, &exp10);
    int n = trim(dg, FLT_DIG);
    if (x == 0)
        exp10 = 0; /* "0", as printf's 0.00000e+00 */
    return layout(signbit(x) != 0, dg, n, exp10 + 1, out);
}

size_t amy__format_real(double x, int is_float, unsigned decimals, char *out)
{
    if (isnan(x)) {
        memcpy(out, "nan", 3);
        return 3;
    }
    if (isinf(x)) {
        memcpy(out, x < 0 ? "-inf" : "inf", 4 - (x > 0));
        return 4 - (size_t)(x > 0);
    }
    if (is_float)
        return format_float(x, decimals, out);
    char dg[24];
    int exp10;
    int n = shortest_digits(x, dg, &exp10);
    int neg = signbit(x) != 0, decpt = exp10 + 1;
    /* A scale too small to hold every digit is ignored: exactness first. */
    if (decimals < NOT_FIXED_DEC && n - decpt <= (int)decimals)
        return scaled(neg, dg, n, decpt, decimals, out);
    return layout(neg, dg, n, decpt, out);
}

/* ------------------------------------------------------------------------ */
/* Integers, dates and times                                                */
/* ------------------------------------------------------------------------ */

/* v in decimal, at least width digits (zeros in front). */
static size_t put_uint(char *out, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        tmp[n++] = '0';
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return (size_t)n;
}

/* The fraction of a second: as many digits as the column declares (1..6),
 * none for 0, and 6 or none for an unfixed scale (some expressions), as
 * the server does. */
static size_t put_fraction(char *out, unsigned long usec, unsigned dec)
{
    if (dec == 0 || (dec > 6 && usec == 0))
        return 0;
    if (dec > 6)
        dec = 6;
    char six[8];
    put_uint(six, usec % 1000000, 6);
    out[0] = '.';
    memcpy(out + 1, six, dec);
    return 1 + dec;
}

static size_t put_date(char *out, const MYSQL_TIME *t)
{
    size_t o = put_uint(out, t->year, 4);
    out[o++] = '-';
    o += put_uint(out + o, t->month, 2);
    out[o++] = '-';
    o += put_uint(out + o, t->day, 2);
    return o;
}

/* hh:mm:ss (hours may take 3 digits: TIME's days are folded into them). */
static size_t put_clock(char *out, const MYSQL_TIME *t, unsigned dec)
{
    size_t o = put_uint(out, t->hour, 2);
    out[o++] = ':';
    o += put_uint(out + o, t->minute, 2);
    out[o++] = ':';
    o += put_uint(out + o, t->second, 2);
    return o + put_fraction(out + o, t->second_part, dec);
}

/* Zeros in front up to the display width, for ZEROFILL columns. */
static size_t zerofill(char *out, size_t len, const MYSQL_FIELD *f)
{
    if (!(f->flags & ZEROFILL_FLAG) || f->length <= len ||
        f->length >= AMY__NUMBUF)
        return len;
    size_t pad = f->length - len;
    memmove(out + pad, out, len);
    memset(out, '0', pad);
    return f->length;
}

/* A fixed-size value (every kind but K_VAR and K_NULL) as text; out has
 * AMY__NUMBUF bytes. */
static size_t format_fixed(const slot *s, const MYSQL_FIELD *f, char *out)
{
    size_t o = 0;
    switch (s->kind) {
    case K_INT:
        if (f->flags & UNSIGNED_FLAG) {
            o = put_uint(out, s->v.u, 1);
        } else {
            if (s->v.i < 0)
                out[o++] = '-';
            /* 0 - u: INT64_MIN's magnitude without overflow */
            uint64_t mag = s->v.i < 0 ? 0 - (uint64_t)s->v.i : s->v.u;
            o += put_uint(out + o, mag, 1);
        }
        return zerofill(out, o, f);
    case K_FLOAT:
        return zerofill(out, amy__format_real(s->v.f, 1, f->decimals, out), f);
    case K_DOUBLE:
        return zerofill(out, amy__format_real(s->v.d, 0, f->decimals, out), f);
    case K_DATE:
        return put_date(out, &s->v.t);
    case K_DATETIME:
        o = put_date(out, &s->v.t);
        out[o++] = ' ';
        return o + put_clock(out + o, &s->v.t, f->decimals);
    case K_TIME:
        if (s->v.t.neg)
            out[o++] = '-';
        return o + put_clock(out + o, &s->v.t, f->decimals);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Fetching                                                                 */
/* ------------------------------------------------------------------------ */

/* How a column of this type is bound: fixed-size values in their binary
 * form, everything else as bytes fetched later. */
static enum kind kind_of(const MYSQL_FIELD *f)
{
    switch (f->type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR:
        return K_INT;
    case MYSQL_TYPE_FLOAT:
        return K_FLOAT;
    case MYSQL_TYPE_DOUBLE:
        return K_DOUBLE;
    case MYSQL_TYPE_DATE:
        return K_DATE;
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
        return K_DATETIME;
    case MYSQL_TYPE_TIME:
        return K_TIME;
    case MYSQL_TYPE_NULL:
        return K_NULL;
    default:
        return K_VAR;
    }
}

static void bind_column(MYSQL_BIND *b, slot *s, const MYSQL_FIELD *f)
{
    static const enum enum_field_types as[] = {
        [K_VAR] = MYSQL_TYPE_STRING,        [K_NULL] = MYSQL_TYPE_NULL,
        [K_INT] = MYSQL_TYPE_LONGLONG,      [K_FLOAT] = MYSQL_TYPE_FLOAT,
        [K_DOUBLE] = MYSQL_TYPE_DOUBLE,     [K_DATE] = MYSQL_TYPE_DATE,
        [K_DATETIME] = MYSQL_TYPE_DATETIME, [K_TIME] = MYSQL_TYPE_TIME,
    };
    memset(b, 0, sizeof *b);
    memset(s, 0, sizeof *s);
    s->kind = (unsigned char)kind_of(f);
    b->buffer_type = as[s->kind];
    /* K_VAR: no buffer, so the fetch only measures (and says "truncated") */
    b->buffer = s->kind == K_VAR || s->kind == K_NULL ? NULL : &s->v;
    b->is_unsigned = (f->flags & UNSIGNED_FLAG) != 0;
    b->length = &s->len;
    b->is_null = &s->is_null;
    b->error = &s->error;
}

/* The next row into the binds: 1 for a row, 0 at the end, -1 on error.
 * Truncation is expected: strings are measured with no buffer. */
static int next_row(MYSQL_STMT *stmt)
{
    int rc = mysql_stmt_fetch(stmt);
    if (rc == 0 || rc == MYSQL_DATA_TRUNCATED)
        return 1;
    return rc == MYSQL_NO_DATA ? 0 : -1;
}

/* Copies column c of the current row, len bytes, to p. */
static int fetch_bytes(MYSQL_STMT *stmt, unsigned c, char *p, size_t len)
{
    unsigned long got = 0;
    MYSQL_BIND b;
    memset(&b, 0, sizeof b);
    b.buffer_type = MYSQL_TYPE_STRING;
    b.buffer = p;
    b.buffer_length = (unsigned long)len;
    b.length = &got;
    if (mysql_stmt_fetch_column(stmt, &b, c, 0))
        return -1;
    return got == len ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* Rows                                                                     */
/* ------------------------------------------------------------------------ */

/* The columns of the result set being read: where the connector puts each
 * value of the current row (binds and slots follow the struct). */
struct amy__binrows {
    size_t ncols;
    const MYSQL_FIELD *fields;
    MYSQL_BIND *binds;
    slot *slots;
};

amy__binrows *amy__binrows_new(MYSQL_STMT *stmt, unsigned *err)
{
    size_t ncols = mysql_stmt_field_count(stmt);
    *err = 0;
    if (ncols >
        (SIZE_MAX - sizeof(amy__binrows)) / (sizeof(MYSQL_BIND) + sizeof(slot)))
        return NULL;
    amy__binrows *r =
        malloc(sizeof *r + ncols * (sizeof(MYSQL_BIND) + sizeof(slot)));
    if (!r)
        return NULL;
    r->ncols = ncols;
    r->fields = stmt->fields;
    r->binds = (MYSQL_BIND *)(void *)(r + 1);
    r->slots = (slot *)(void *)(r->binds + ncols);
    for (size_t c = 0; c < ncols; c++)
        bind_column(&r->binds[c], &r->slots[c], &r->fields[c]);
    if (ncols && mysql_stmt_bind_result(stmt, r->binds)) {
        *err =
            mysql_stmt_errno(stmt) ? mysql_stmt_errno(stmt) : CR_UNKNOWN_ERROR;
        free(r);
        return NULL;
    }
    return r;
}

int amy__binrows_add(amy__binrows *r, MYSQL_STMT *stmt, amy__rowbuf *b)
{
    char buf[AMY__NUMBUF];
    if (amy__rowbuf_row(b, r->ncols) != 0)
        return 0; /* dropped: past the limit, or out of memory */
    for (size_t c = 0; c < r->ncols; c++) {
        const slot *s = &r->slots[c];
        if (s->is_null || s->kind == K_NULL) {
            amy__rowbuf_null(b);
            continue;
        }
        if (s->kind == K_VAR) {
            /* Measured by the fetch (no buffer): copied straight into its
             * place. */
            char *p = amy__rowbuf_value(b, s->len);
            if (!p)
                return 0;
            if (s->len && fetch_bytes(stmt, (unsigned)c, p, s->len))
                return -1;
            continue;
        }
        size_t len = format_fixed(s, &r->fields[c], buf);
        char *p = amy__rowbuf_value(b, len);
        if (!p)
            return 0;
        memcpy(p, buf, len);
    }
    return 0;
}

void amy__binrows_free(amy__binrows *r)
{
    free(r);
}

amy_result *amy__result_from_stmt(MYSQL_STMT *stmt, uint64_t affected,
                                  uint64_t insert_id, unsigned *err)
{
    size_t ncols = mysql_stmt_field_count(stmt);
    unsigned e = 0;
    if (err)
        *err = 0;
    if (ncols == 0)
        return amy__result_ok(affected, insert_id);
    /* Without stored rows yet, seeking would have the connector fetch from
     * a statement never executed (and crash) or store the rows itself. */
    if (stmt->state < MYSQL_STMT_USE_OR_STORE_CALLED) {
        if (err)
            *err = CR_COMMANDS_OUT_OF_SYNC;
        return NULL;
    }
    amy__binrows *br = amy__binrows_new(stmt, &e);
    if (!br) {
        if (err)
            *err = e;
        return NULL;
    }
    amy__rowbuf b = {0};
    amy_result *r = NULL;
    int st;
    mysql_stmt_data_seek(stmt, 0);
    while ((st = next_row(stmt)) > 0)
        if (amy__binrows_add(br, stmt, &b) != 0)
            break;
    if (st == 0)
        r = amy__rowbuf_result(&b, stmt->fields, ncols, affected, insert_id);
    else if (err)
        *err =
            mysql_stmt_errno(stmt) ? mysql_stmt_errno(stmt) : CR_UNKNOWN_ERROR;
    amy__rowbuf_free(&b);
    amy__binrows_free(br);
    return r;
}
