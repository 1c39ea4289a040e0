/*
 * Client-side parameter substitution.
 *
 * The scanner follows the MariaDB lexer (sql_lex.cc) only as far as it
 * decides where a '?' is code: quoted strings and identifiers, the three
 * comment forms and executable comments. It reads the multibyte
 * characters of the connection's charset whole, as the lexer does. Where
 * a charset could still change the answer (which bytes are spaces after
 * "--") it errs towards "comment", since a '?' wrongly left alone makes
 * the server report a syntax error, while a value wrongly substituted into
 * a comment could end it early.
 */
#include "params.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define AMY__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define AMY__PRINTF(f, a)
#endif

#define RENDER_FAILED ((size_t)-1)

/* Widest DOUBLE, INT64/UINT64 and date/time literals, with some slack. */
#define NUMBER_BOUND 32u
#define TIME_BOUND   32u

AMY__PRINTF(3, 4)
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Scanner                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * States: code, or code inside an executable comment (exec). Strings,
 * quoted identifiers and plain comments are skipped whole, so they need no
 * state of their own. exec matters only to the renderer (see render_text).
 */
struct scan {
    const char *s;
    size_t len;
    size_t i;
    bool backslash;    /* backslash escapes inside '...' and "..." */
    bool exec;         /* inside an executable comment */
    amy__mbchar_fn mb; /* the charset's multibyte characters, or NULL */
};

/* The length of the multibyte character at s[i], 0 when there is none.
 * Every lead byte of the charsets a connection may use is >= 0x80. */
static unsigned mbchar(amy__mbchar_fn mb, const char *s, size_t len, size_t i)
{
    if (mb == NULL || (unsigned char)s[i] < 0x80)
        return 0;
    unsigned l = mb(s + i, s + len);
    return l > 1 && l <= len - i ? l : 0;
}

/*
 * MariaDB starts a -- comment when the next byte is a space or control
 * character of the connection's charset, or the end of the query. Bytes
 * >= 0x80 count too: 0xA0 is a space in latin1 (checked on 10.11), and
 * treating the rare "--é" as a comment only fails safely (see the top).
 */
static bool dash_comment_follows(unsigned char c)
{
    return c <= 0x20 || c >= 0x7f;
}

/* Returns the index just past the quote that closes the one at s[i]. A
 * multibyte character is skipped whole, as the server does (its second
 * byte may look like a backslash or a backquote). */
static size_t skip_quoted(const char *s, size_t len, size_t i, bool backslash,
                          amy__mbchar_fn mb)
{
    char q = s[i];
    size_t j = i + 1;
    while (j < len) {
        unsigned l = mbchar(mb, s, len, j);
        if (l) {
            j += l;
        } else if (s[j] == '\\' && backslash) {
            j += 2;
        } else if (s[j] == q) {
            if (j + 1 < len && s[j + 1] == q)
                j += 2;
            else
                return j + 1;
        } else {
            j++;
        }
    }
    return len;
}

static size_t skip_line(const char *s, size_t len, size_t i)
{
    const char *nl = memchr(s + i, '\n', len - i);
    return nl ? (size_t)(nl - s) + 1 : len;
}

/* i is just past the opening slash-star, which cannot end the comment. */
static size_t skip_block(const char *s, size_t len, size_t i)
{
    for (; i + 1 < len; i++)
        if (s[i] == '*' && s[i + 1] == '/')
            return i + 2;
    return len;
}

/* Finds the next real placeholder; sc->exec then says where it is. */
static bool scan_next(struct scan *sc, size_t *at)
{
    const char *s = sc->s;
    size_t len = sc->len;
    size_t i = sc->i;

    while (i < len) {
        unsigned l = mbchar(sc->mb, s, len, i);
        if (l) { /* code too: a character of an identifier, say */
            i += l;
            continue;
        }
        switch (s[i]) {
        case '?':
            *at = i;
            sc->i = i + 1;
            return true;
        case '\'':
        case '"':
            i = skip_quoted(s, len, i, sc->backslash, sc->mb);
            break;
        case '`': /* identifiers never take backslash escapes */
            i = skip_quoted(s, len, i, false, sc->mb);
            break;
        case '#':
            i = skip_line(s, len, i + 1);
            break;
        case '-':
            if (i + 1 < len && s[i + 1] == '-' &&
                (i + 2 == len || dash_comment_follows((unsigned char)s[i + 2])))
                i = skip_line(s, len, i + 2);
            else
                i++;
            break;
        case '/':
            if (i + 1 >= len || s[i + 1] != '*') {
                i++;
            } else if (i + 2 < len && s[i + 2] == '!') {
                sc->exec = true; /* the version digits are plain code */
                i += 3;
            } else if (i + 3 < len && s[i + 2] == 'M' && s[i + 3] == '!') {
                sc->exec = true;
                i += 4;
            } else {
                i = skip_block(s, len, i + 2);
            }
            break;
        case '*':
            if (sc->exec && i + 1 < len && s[i + 1] == '/') {
                sc->exec = false;
                i += 2;
            } else {
                i++;
            }
            break;
        default:
            i++;
        }
    }
    sc->i = len;
    return false;
}

static size_t count_mode(const char *sql, size_t len, bool backslash,
                         amy__mbchar_fn mb)
{
    struct scan sc = {sql, len, 0, backslash, false, mb};
    size_t n = 0, at;
    while (scan_next(&sc, &at))
        n++;
    return n;
}

size_t amy__params_count(const char *sql, size_t len, amy__mbchar_fn mb)
{
    return count_mode(sql, len, true, mb);
}

int amy__params_need_mode(const char *sql, size_t len, const amy_value *v,
                          size_t n)
{
    if (memchr(sql, '\\', len))
        return 1;
    for (size_t i = 0; i < n; i++)
        if (v[i].type == AMY_TYPE_TEXT && v[i].v.bytes.ptr &&
            memchr(v[i].v.bytes.ptr, '\\', v[i].v.bytes.len))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Bound                                                                    */
/* ------------------------------------------------------------------------ */

static bool has_exec_comment(const char *s, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++)
        if (s[i] == '/' && s[i + 1] == '*' &&
            (s[i + 2] == '!' ||
             (s[i + 2] == 'M' && i + 3 < len && s[i + 3] == '!')))
            return true;
    return false;
}

/* Places where render_text may split a literal: between '*' '/' or '/' '*'. */
static bool split_point(const char *p, size_t j)
{
    return (p[j] == '*' && p[j + 1] == '/') || (p[j] == '/' && p[j + 1] == '*');
}

static size_t count_splits(const char *p, size_t len)
{
    size_t k = 0;
    for (size_t j = 0; j + 1 < len; j++)
        k += split_point(p, j);
    return k;
}

static size_t add_sat(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t mul_sat(size_t a, size_t b)
{
    return b != 0 && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

static size_t value_bound(const amy_value *v, bool exec)
{
    switch (v->type) {
    case AMY_TYPE_NULL:
        return 4;
    case AMY_TYPE_INT64:
    case AMY_TYPE_UINT64:
    case AMY_TYPE_DOUBLE:
        return NUMBER_BOUND;
    case AMY_TYPE_TEXT: {
        /* quotes + worst-case escaping (+ " ''" per split) */
        size_t b = add_sat(2, mul_sat(2, v->v.bytes.len));
        if (exec && v->v.bytes.ptr != NULL)
            b = add_sat(
                b, mul_sat(3, count_splits(v->v.bytes.ptr, v->v.bytes.len)));
        return b;
    }
    case AMY_TYPE_BLOB:
        return add_sat(3, mul_sat(2, v->v.bytes.len));
    case AMY_TYPE_DATE:
    case AMY_TYPE_TIME:
    case AMY_TYPE_DATETIME:
        return TIME_BOUND;
    }
    return 0; /* unknown: the render fails before writing it */
}

size_t amy__params_bound(const char *sql, size_t len, const amy_value *v,
                         size_t n)
{
    /*
     * Which placeholders sit in executable comments depends on the escape
     * mode, so any executable comment in the SQL allows splits for every
     * TEXT value. len already covers the SQL around the placeholders.
     */
    bool exec = has_exec_comment(sql, len);
    size_t total = add_sat(len, 1);
    for (size_t i = 0; i < n; i++)
        total = add_sat(total, value_bound(&v[i], exec));
    return total;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

static const char *type_name(amy_type t)
{
    switch (t) {
    case AMY_TYPE_NULL:
        return "NULL";
    case AMY_TYPE_INT64:
        return "INT64";
    case AMY_TYPE_UINT64:
        return "UINT64";
    case AMY_TYPE_DOUBLE:
        return "DOUBLE";
    case AMY_TYPE_TEXT:
        return "TEXT";
    case AMY_TYPE_BLOB:
        return "BLOB";
    case AMY_TYPE_DATE:
        return "DATE";
    case AMY_TYPE_TIME:
        return "TIME";
    case AMY_TYPE_DATETIME:
        return "DATETIME";
    }
    return "unknown";
}

/*
 * Writes the shortest %.15g/%.16g/%.17g text that strtod reads back to the
 * same bits (%.17g always does for binary64). The digits are then copied
 * with the locale's decimal point, whatever its length, replaced by '.',
 * so a program that called setlocale still sends SQL; strtod reads the
 * locale's point too, so the round-trip check itself holds in any locale.
 * An exponent is always written, because the server types 1.5 as DECIMAL
 * and only 1.5e0 as DOUBLE.
 */
static size_t render_double(double d, char *out)
{
    char buf[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        double back = strtod(buf, NULL);
        if (memcmp(&back, &d, sizeof d) == 0)
            break;
    }

    size_t o = 0;
    bool point = false, exponent = false;
    for (const char *p = buf; *p; p++) {
        char c = *p;
        if ((c >= '0' && c <= '9') || c == '-' || c == '+') {
            out[o++] = c;
        } else if (c == 'e') {
            out[o++] = c;
            exponent = true;
        } else if (!point) {
            out[o++] = '.';
            point = true;
        }
    }
    if (!exponent) {
        out[o++] = 'e';
        out[o++] = '0';
    }
    return o;
}

static bool leap_year(int y)
{
    /* MariaDB counts year 0 as a common year: '0000-02-29' is refused. */
    return y != 0 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0);
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Checks the date part; the zero date '0000-00-00' is the one exception. */
static bool check_date(const amy_time *t, size_t k, const char *tn, char *err,
                       size_t errlen)
{
    if (t->year == 0 && t->month == 0 && t->day == 0)
        return true;
    if (t->year < 0 || t->year > 9999) {
        set_err(err, errlen, "parameter %zu (%s): year %d out of range 0-9999",
                k, tn, t->year);
        return false;
    }
    if (t->month < 1 || t->month > 12) {
        set_err(err, errlen,
                "parameter %zu (%s): month %d out of range 1-12 (0 only in "
                "the zero date 0000-00-00)",
                k, tn, t->month);
        return false;
    }
    int dim = days_in_month(t->year, t->month);
    if (t->day < 1 || t->day > dim) {
        set_err(err, errlen,
                "parameter %zu (%s): day %d out of range 1-%d for "
                "%04d-%02d",
                k, tn, t->day, dim, t->year, t->month);
        return false;
    }
    return true;
}

static bool check_clock(const amy_time *t, int max_hour, size_t k,
                        const char *tn, char *err, size_t errlen)
{
    if (t->hour < 0 || t->hour > max_hour) {
        set_err(err, errlen, "parameter %zu (%s): hour %d out of range 0-%d", k,
                tn, t->hour, max_hour);
        return false;
    }
    if (t->minute < 0 || t->minute > 59) {
        set_err(err, errlen, "parameter %zu (%s): minute %d out of range 0-59",
                k, tn, t->minute);
        return false;
    }
    if (t->second < 0 || t->second > 59) {
        set_err(err, errlen, "parameter %zu (%s): second %d out of range 0-59",
                k, tn, t->second);
        return false;
    }
    if (t->microsecond > 999999) {
        set_err(err, errlen,
                "parameter %zu (%s): microsecond %u out of range 0-999999", k,
                tn, t->microsecond);
        return false;
    }
    return true;
}

/* snprintf of integers is locale-independent (no grouping without '). */
static size_t render_time(const amy_value *v, size_t k, char *out, char *err,
                          size_t errlen)
{
    const amy_time *t = &v->v.time;
    const char *tn = type_name(v->type);
    int o;

    if (v->type != AMY_TYPE_TIME && t->negative) {
        set_err(err, errlen, "parameter %zu (%s): negative is for TIME only", k,
                tn);
        return RENDER_FAILED;
    }
    switch (v->type) {
    case AMY_TYPE_DATE:
        if (t->hour || t->minute || t->second || t->microsecond) {
            /* refused rather than silently dropped */
            set_err(err, errlen,
                    "parameter %zu (DATE): hour, minute, second and "
                    "microsecond must be 0 (use DATETIME)",
                    k);
            return RENDER_FAILED;
        }
        if (!check_date(t, k, tn, err, errlen))
            return RENDER_FAILED;
        o = snprintf(out, TIME_BOUND, "'%04d-%02d-%02d'", t->year, t->month,
                     t->day);
        return (size_t)o;
    case AMY_TYPE_DATETIME:
        if (!check_date(t, k, tn, err, errlen) ||
            !check_clock(t, 23, k, tn, err, errlen))
            return RENDER_FAILED;
        o = snprintf(out, TIME_BOUND, "'%04d-%02d-%02d %02d:%02d:%02d", t->year,
                     t->month, t->day, t->hour, t->minute, t->second);
        break;
    default: { /* AMY_TYPE_TIME */
        if (t->year || t->month) {
            set_err(err, errlen,
                    "parameter %zu (TIME): year and month must be 0", k);
            return RENDER_FAILED;
        }
        if (t->day < 0 || t->day > 34 ||
            (t->day > 0 && (t->hour < 0 || t->hour > 23))) {
            set_err(err, errlen,
                    "parameter %zu (TIME): day %d with hour %d: use hour "
                    "alone (0-838), or day 0-34 with hour 0-23",
                    k, t->day, t->hour);
            return RENDER_FAILED;
        }
        amy_time folded = *t;
        folded.hour += t->day * 24;
        if (!check_clock(&folded, 838, k, tn, err, errlen))
            return RENDER_FAILED;
        o = snprintf(out, TIME_BOUND, "'%s%02d:%02d:%02d",
                     t->negative ? "-" : "", folded.hour, t->minute, t->second);
        break;
    }
    }
    if (t->microsecond)
        o += snprintf(out + o, TIME_BOUND - (size_t)o, ".%06u", t->microsecond);
    out[o++] = '\'';
    return (size_t)o;
}

/*
 * In an executable comment the server may skip the text instead of running
 * it (a version above its own, as in slash-star-!99999), and then ends the
 * comment at the first star-slash even inside quotes, and nests at
 * slash-star: on MariaDB 10.11 a value 'a<star-slash> , 3 -- ' there made
 * the query select 3. So there the literal is cut between the two characters
 * into adjacent literals, which the server concatenates when it does run
 * the text: 'a*' '/b'. Neither byte is ever escaped, nor a trailing byte of
 * a multibyte character in a connection charset, so each piece is whole
 * characters.
 */
static size_t render_text(const char *p, size_t len, bool split,
                          amy__escape_fn esc, void *esc_arg, char *out)
{
    size_t o = 0, start = 0;
    for (;;) {
        size_t end = len;
        if (split)
            for (size_t j = start; j + 1 < len; j++)
                if (split_point(p, j)) {
                    end = j + 1;
                    break;
                }
        out[o++] = '\'';
        o += esc(esc_arg, out + o, p + start, end - start);
        out[o++] = '\'';
        if (end == len)
            return o;
        out[o++] = ' ';
        start = end;
    }
}

static size_t render_blob(const unsigned char *p, size_t len, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    out[o++] = 'X';
    out[o++] = '\'';
    for (size_t j = 0; j < len; j++) {
        out[o++] = hex[p[j] >> 4];
        out[o++] = hex[p[j] & 15];
    }
    out[o++] = '\'';
    return o;
}

/* k is the 1-based parameter number, for messages. */
static size_t render_value(const amy_value *v, size_t k, bool exec,
                           amy__escape_fn esc, void *esc_arg, char *out,
                           char *err, size_t errlen)
{
    switch (v->type) {
    case AMY_TYPE_NULL:
        memcpy(out, "NULL", 4);
        return 4;
    case AMY_TYPE_INT64:
        return (size_t)snprintf(out, NUMBER_BOUND, "%" PRId64, v->v.i64);
    case AMY_TYPE_UINT64:
        return (size_t)snprintf(out, NUMBER_BOUND, "%" PRIu64, v->v.u64);
    case AMY_TYPE_DOUBLE:
        if (!isfinite(v->v.f64)) {
            set_err(err, errlen,
                    "parameter %zu (DOUBLE): %s cannot be written in SQL", k,
                    isnan(v->v.f64) ? "NaN" : "infinity");
            return RENDER_FAILED;
        }
        return render_double(v->v.f64, out);
    case AMY_TYPE_TEXT:
    case AMY_TYPE_BLOB: {
        const char *p = v->v.bytes.ptr;
        if (p == NULL && v->v.bytes.len != 0) {
            set_err(err, errlen,
                    "parameter %zu (%s): NULL pointer with length %zu", k,
                    type_name(v->type), v->v.bytes.len);
            return RENDER_FAILED;
        }
        if (p == NULL)
            p = "";
        if (v->type == AMY_TYPE_BLOB)
            return render_blob((const unsigned char *)p, v->v.bytes.len, out);
        if (esc == NULL) {
            set_err(err, errlen, "parameter %zu (TEXT): no escape function", k);
            return RENDER_FAILED;
        }
        return render_text(p, v->v.bytes.len, exec, esc, esc_arg, out);
    }
    case AMY_TYPE_DATE:
    case AMY_TYPE_TIME:
    case AMY_TYPE_DATETIME:
        return render_time(v, k, out, err, errlen);
    }
    set_err(err, errlen, "parameter %zu: unknown type %d", k, (int)v->type);
    return RENDER_FAILED;
}

/*
 * The escaper knows the connection's mode: under NO_BACKSLASH_ESCAPES it
 * doubles a quote instead of backslashing it, and the server then ends
 * 'a\' at the second quote, so the scan has to as well.
 */
static bool escaper_uses_backslash(amy__escape_fn esc, void *esc_arg)
{
    char buf[3];
    if (esc == NULL)
        return true;
    size_t n = esc(esc_arg, buf, "'", 1);
    return !(n == 2 && buf[0] == '\'' && buf[1] == '\'');
}

size_t amy__params_render(const char *sql, size_t len, const amy_value *v,
                          size_t n, amy__escape_fn esc, void *esc_arg,
                          amy__mbchar_fn mb, char *out, char *err,
                          size_t errlen)
{
    bool backslash = escaper_uses_backslash(esc, esc_arg);
    size_t count = count_mode(sql, len, backslash, mb);
    if (count != n) {
        set_err(err, errlen,
                "the SQL has %zu placeholder%s but %zu value%s %s given", count,
                count == 1 ? "" : "s", n, n == 1 ? "" : "s",
                n == 1 ? "was" : "were");
        return RENDER_FAILED;
    }

    struct scan sc = {sql, len, 0, backslash, false, mb};
    size_t o = 0, from = 0, at, k = 0;
    while (scan_next(&sc, &at)) {
        memcpy(out + o, sql + from, at - from);
        o += at - from;
        size_t w = render_value(&v[k], k + 1, sc.exec, esc, esc_arg, out + o,
                                err, errlen);
        if (w == RENDER_FAILED)
            return RENDER_FAILED;
        o += w;
        from = at + 1;
        k++;
    }
    memcpy(out + o, sql + from, len - from);
    o += len - from;
    out[o] = '\0';
    return o;
}

int amy__value_check(const amy_value *v, size_t k, char *err, size_t errlen)
{
    char buf[TIME_BOUND + NUMBER_BOUND + 64];
    switch (v->type) {
    case AMY_TYPE_NULL:
    case AMY_TYPE_INT64:
    case AMY_TYPE_UINT64:
        return 0;
    case AMY_TYPE_DOUBLE:
    case AMY_TYPE_DATE:
    case AMY_TYPE_TIME:
    case AMY_TYPE_DATETIME:
        /* The same rules as for a literal: render it into a scratch. */
        return render_value(v, k, false, NULL, NULL, buf, err, errlen) ==
                       RENDER_FAILED
                   ? -1
                   : 0;
    case AMY_TYPE_TEXT:
    case AMY_TYPE_BLOB:
        if (v->v.bytes.ptr == NULL && v->v.bytes.len != 0) {
            set_err(err, errlen,
                    "parameter %zu (%s): NULL pointer with length %zu", k,
                    type_name(v->type), v->v.bytes.len);
            return -1;
        }
        return 0;
    }
    set_err(err, errlen, "parameter %zu: unknown type %d", k, (int)v->type);
    return -1;
}
