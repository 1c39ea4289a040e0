/*
 * Fuzz target for src/params.c: the '?' scanner and the literal renderer
 * behind amy_query_params.
 *
 * Input: one header byte, the SQL up to the next NUL, then value records
 * (a type byte and its payload; see take_value). Header bits:
 *   0    NO_BACKSLASH_ESCAPES (the escaper doubles quotes)
 *   1-3  the escaper's character set (charsets[])
 *   4    no escaper at all (TEXT then fails)
 *   5    one value too many or too few (the count must be refused)
 * The escaper is the production one, mysql_real_escape_string, on a MYSQL
 * handle that is never connected: its charset and server_status are set
 * here, as a connection sets them from the server.
 *
 * Invariants beyond "does not crash" (every output buffer is malloc'd to
 * exactly amy__params_bound, so ASan sees any overrun):
 * - the rendered length is below the bound and the output is terminated
 *   there; a failure has a message;
 * - the escaper is given room for 2*len+1 bytes and never writes more;
 * - no value changes the statement: in a character set where no multibyte
 *   character holds an ASCII byte, the rendered query scanned again has no
 *   placeholder left and renders to itself;
 * - each value alone ("?", and "/" "*!?*" "/" where TEXT is cut at star-slash)
 *   reads back: integers and doubles to the same value (the bits for
 *   doubles), TEXT unescaped to the same bytes, BLOB hex to the same bytes,
 *   dates and times to the same fields; nothing inside the executable
 *   comment could end it early; and it fails exactly when
 *   amy__value_check refuses it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <mysql.h>
#include <stdbool.h>

#include "fuzz.h"
#include "params.h"

#define MAXVALS 256

/* Safe: no multibyte character holds a byte below 0x80. */
static const struct {
    const char *name;
    bool safe;
} charsets[8] = {
    {"utf8mb4", true}, {"latin1", true}, {"binary", true}, {"utf8mb3", true},
    {"gbk", false},    {"big5", false},  {"sjis", false},  {"cp932", false},
};
static MYSQL *handles[8];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (int i = 0; i < 8; i++) {
        handles[i] = mysql_init(NULL);
        FZ_CHECK(handles[i] != NULL, "mysql_init");
        handles[i]->charset = mariadb_get_charset_by_name(charsets[i].name);
        FZ_CHECK(handles[i]->charset != NULL, "no charset %s",
                 charsets[i].name);
    }
    return 0;
}

static size_t escape(void *arg, char *dst, const char *src, size_t len)
{
    /* dst has room for 2*len+1 bytes: mysql_real_escape_string's rule. */
    unsigned long n =
        mysql_real_escape_string(arg, dst, src, (unsigned long)len);
    FZ_CHECK(n <= 2 * len, "escaper wrote %lu bytes for %zu", n, len);
    return n;
}

/* ---- values ------------------------------------------------------------- */

static int take_int(fz_in *in)
{
    return (int)fz_small(in);
}

/*
 * A type byte t, then by t % 10: NULL; INT64, UINT64, DOUBLE (8 raw bytes);
 * TEXT, BLOB (a length byte, 255 for a 16-bit length, then the bytes; t /
 * 10 == 25 gives a NULL pointer with that length); DATE, TIME, DATETIME
 * (the fields, small or in full, see fz_small); 9: an unknown type.
 */
static amy_value take_value(fz_in *in)
{
    amy_value v;
    memset(&v, 0, sizeof v);
    uint8_t t = fz_u8(in);
    switch (t % 10) {
    case 0:
        v.type = AMY_TYPE_NULL;
        break;
    case 1:
        v.type = AMY_TYPE_INT64;
        v.v.u64 = fz_u64(in);
        break;
    case 2:
        v.type = AMY_TYPE_UINT64;
        v.v.u64 = fz_u64(in);
        break;
    case 3:
        v.type = AMY_TYPE_DOUBLE;
        v.v.u64 = fz_u64(in);
        break;
    case 4:
    case 5: {
        v.type = t % 10 == 4 ? AMY_TYPE_TEXT : AMY_TYPE_BLOB;
        size_t want = fz_u8(in), len;
        if (want == 255)
            want = fz_u16(in);
        const uint8_t *p = fz_bytes(in, want, &len);
        v.v.bytes.ptr = t / 10 == 25 ? NULL : (const char *)p;
        v.v.bytes.len = t / 10 == 25 ? want : len;
        break;
    }
    case 6:
    case 7:
    case 8:
        v.type = t % 10 == 6   ? AMY_TYPE_DATE
                 : t % 10 == 7 ? AMY_TYPE_TIME
                               : AMY_TYPE_DATETIME;
        v.v.time.year = fz_u16(in);
        if (v.v.time.year == 0xffff)
            v.v.time.year = (int)fz_u32(in);
        v.v.time.month = take_int(in);
        v.v.time.day = take_int(in);
        v.v.time.hour = take_int(in);
        v.v.time.minute = take_int(in);
        v.v.time.second = take_int(in);
        v.v.time.microsecond = fz_small(in);
        v.v.time.negative = fz_u8(in) & 1;
        break;
    default:
        v.type = (amy_type)(9 + fz_u8(in));
    }
    return v;
}

/* ---- reading literals back ------------------------------------------------ */

/* One '...' literal at s[*i], unescaped into out (bytes appended at *o).
 * Returns false when s[*i] does not start a well-formed literal. */
static bool read_text(const char *s, size_t len, size_t *i, bool backslash,
                      char *out, size_t *o)
{
    if (*i >= len || s[*i] != '\'')
        return false;
    for (size_t j = *i + 1; j < len; j++) {
        char c = s[j];
        if (c == '\\' && backslash) {
            if (++j >= len)
                return false;
            c = s[j];
            out[(*o)++] = c == '0'   ? '\0'
                          : c == 'n' ? '\n'
                          : c == 'r' ? '\r'
                          : c == 'Z' ? '\032'
                                     : c;
        } else if (c == '\'') {
            if (j + 1 < len && s[j + 1] == '\'') {
                out[(*o)++] = '\'';
                j++;
            } else {
                *i = j + 1;
                return true;
            }
        } else {
            out[(*o)++] = c;
        }
    }
    return false;
}

/* s[0, len) is one literal, or (split) literals separated by one space:
 * their concatenation must be the value's bytes. */
static void check_text(const char *s, size_t len, bool backslash, bool split,
                       const amy_value *v)
{
    char *got = malloc(len + 1);
    size_t i = 0, o = 0;
    for (;;) {
        FZ_CHECK(read_text(s, len, &i, backslash, got, &o),
                 "TEXT literal not well formed: %.*s", (int)len, s);
        if (i == len)
            break;
        FZ_CHECK(split && s[i] == ' ', "text after a TEXT literal: %.*s",
                 (int)len, s);
        i++;
    }
    FZ_CHECK(o == v->v.bytes.len &&
                 (o == 0 || memcmp(got, v->v.bytes.ptr, o) == 0),
             "TEXT does not read back: %.*s", (int)len, s);
    free(got);
}

static int hexdigit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static void check_blob(const char *s, size_t len, const amy_value *v)
{
    size_t n = v->v.bytes.len;
    FZ_CHECK(len == 3 + 2 * n && s[0] == 'X' && s[1] == '\'' &&
                 s[len - 1] == '\'',
             "BLOB literal not X'hex': %.*s", (int)len, s);
    for (size_t i = 0; i < n; i++) {
        int hi = hexdigit(s[2 + 2 * i]), lo = hexdigit(s[3 + 2 * i]);
        FZ_CHECK(hi >= 0 && lo >= 0 &&
                     (unsigned char)v->v.bytes.ptr[i] == hi * 16 + lo,
                 "BLOB does not read back at byte %zu", i);
    }
}

static void check_time(const char *s, size_t len, const amy_value *v)
{
    const amy_time *t = &v->v.time;
    char want[96];
    int k;
    if (v->type == AMY_TYPE_DATE) {
        k = snprintf(want, sizeof want, "'%04d-%02d-%02d'", t->year, t->month,
                     t->day);
    } else {
        if (v->type == AMY_TYPE_DATETIME)
            k = snprintf(want, sizeof want, "'%04d-%02d-%02d %02d:%02d:%02d",
                         t->year, t->month, t->day, t->hour, t->minute,
                         t->second);
        else
            k = snprintf(want, sizeof want, "'%s%02d:%02d:%02d",
                         t->negative ? "-" : "", t->hour + 24 * t->day,
                         t->minute, t->second);
        if (t->microsecond)
            k += snprintf(want + k, sizeof want - (size_t)k, ".%06u",
                          t->microsecond);
        k += snprintf(want + k, sizeof want - (size_t)k, "'");
    }
    FZ_CHECK((size_t)k == len && memcmp(want, s, len) == 0,
             "time literal %.*s, expected %s", (int)len, s, want);
}

static void check_number(const char *s, size_t len, const amy_value *v)
{
    char buf[64];
    FZ_CHECK(len < sizeof buf, "number literal of %zu bytes", len);
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    if (v->type == AMY_TYPE_INT64) {
        long long x = strtoll(buf, &end, 10);
        FZ_CHECK(*end == '\0' && errno == 0 && x == v->v.i64,
                 "INT64 %" PRId64 " written %s", v->v.i64, buf);
    } else if (v->type == AMY_TYPE_UINT64) {
        unsigned long long x = strtoull(buf, &end, 10);
        FZ_CHECK(*end == '\0' && errno == 0 && buf[0] != '-' && x == v->v.u64,
                 "UINT64 %" PRIu64 " written %s", v->v.u64, buf);
    } else {
        double x = strtod(buf, &end);
        FZ_CHECK(*end == '\0' && strchr(buf, 'e') != NULL &&
                     memcmp(&x, &v->v.f64, sizeof x) == 0,
                 "DOUBLE %.17g written %s", v->v.f64, buf);
    }
}

/* Renders sql with n values into an exact-bound buffer; checks the bound and
 * the terminator. Returns the output (caller frees) or NULL, *len set. */
static char *render(const char *sql, size_t len, const amy_value *v, size_t n,
                    amy__escape_fn esc, void *arg, size_t *outlen, char *err,
                    size_t errlen)
{
    size_t bound = amy__params_bound(sql, len, v, n);
    FZ_CHECK(bound != SIZE_MAX && bound > len, "bound %zu for %zu bytes", bound,
             len);
    char *out = malloc(bound);
    err[0] = '\0';
    size_t r = amy__params_render(sql, len, v, n, esc, arg, out, err, errlen);
    if (r == (size_t)-1) {
        FZ_CHECK(err[0] != '\0', "render failed without a message");
        free(out);
        return NULL;
    }
    FZ_CHECK(r < bound, "rendered %zu bytes, bound %zu", r, bound);
    FZ_CHECK(out[r] == '\0', "output not terminated at its length");
    *outlen = r;
    return out;
}

/* One value alone, as "?" and inside an executable comment. */
static void check_alone(const amy_value *v, amy__escape_fn esc, void *arg,
                        bool backslash, bool safe)
{
    char err[256], cerr[256];
    size_t len;
    bool ok = amy__value_check(v, 1, cerr, sizeof cerr) == 0;
    if (v->type == AMY_TYPE_TEXT && !esc)
        ok = false;
    char *out = render("?", 1, v, 1, esc, arg, &len, err, sizeof err);
    FZ_CHECK((out != NULL) == ok, "render %s, amy__value_check %s (%s)",
             out ? "succeeds" : "fails", ok ? "accepts" : "refuses",
             out ? cerr : err);
    if (!out)
        return;
    switch (v->type) {
    case AMY_TYPE_NULL:
        FZ_CHECK(len == 4 && memcmp(out, "NULL", 4) == 0, "NULL as %s", out);
        break;
    case AMY_TYPE_INT64:
    case AMY_TYPE_UINT64:
    case AMY_TYPE_DOUBLE:
        check_number(out, len, v);
        break;
    case AMY_TYPE_TEXT:
        if (safe)
            check_text(out, len, backslash, false, v);
        break;
    case AMY_TYPE_BLOB:
        check_blob(out, len, v);
        break;
    default:
        check_time(out, len, v);
    }
    free(out);

    /* In an executable comment: nothing in between may end or nest it. */
    static const char exec[] = "/*!?*/";
    out = render(exec, 6, v, 1, esc, arg, &len, err, sizeof err);
    FZ_CHECK(out != NULL, "alone it renders, in /*!?*/ not: %s", err);
    FZ_CHECK(len >= 5 && memcmp(out, "/*!", 3) == 0 &&
                 memcmp(out + len - 2, "*/", 2) == 0,
             "exec comment rendered as %s", out);
    const char *in = out + 3;
    size_t inlen = len - 5;
    for (size_t i = 0; i + 1 < inlen; i++)
        FZ_CHECK(!((in[i] == '*' && in[i + 1] == '/') ||
                   (in[i] == '/' && in[i + 1] == '*')),
                 "a value ends or nests the executable comment: %s", out);
    if (v->type == AMY_TYPE_TEXT && safe)
        check_text(in, inlen, backslash, true, v);
    free(out);
}

/* ------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    uint8_t h = fz_u8(&in);
    bool nobs = h & 1, noesc = (h >> 4) & 1, wrong = (h >> 5) & 1;
    int cs = (h >> 1) & 7;
    MYSQL *m = handles[cs];
    m->server_status = nobs ? SERVER_STATUS_NO_BACKSLASH_ESCAPES : 0;
    amy__escape_fn esc = noesc ? NULL : escape;
    bool backslash = noesc || !nobs;
    bool safe = charsets[cs].safe;

    const uint8_t *nul = memchr(in.p, '\0', in.n);
    size_t sqllen = nul ? (size_t)(nul - in.p) : in.n;
    const char *sql = (const char *)in.p;
    in.p += sqllen + (nul != NULL);
    in.n -= sqllen + (nul != NULL);

    amy_value *v = calloc(MAXVALS, sizeof *v);
    size_t nv = 0;
    while (in.n > 0 && nv < MAXVALS)
        v[nv++] = take_value(&in);
    for (size_t i = 0; i < nv && i < 16; i++)
        check_alone(&v[i], esc, m, !nobs, safe);

    /* As many values as placeholders: amy__params_count assumes backslash
     * escapes; the render counts in the escaper's mode, before anything
     * else, and says its count when it differs. */
    size_t n = amy__params_count(sql, sqllen);
    char err[256];
    size_t len = 0;
    char *out = NULL;
    for (int attempt = 0; attempt < 2 && n <= MAXVALS; attempt++) {
        out = render(sql, sqllen, v, n, esc, m, &len, err, sizeof err);
        size_t said;
        if (out || sscanf(err, "the SQL has %zu placeholder", &said) != 1)
            break; /* rendered, or a value that cannot be written */
        FZ_CHECK(attempt == 0 && !backslash && said != n,
                 "counts disagree in backslash mode: %zu and %zu", n, said);
        n = said;
    }
    if (wrong && n < MAXVALS) {
        size_t give = n == 0 || (h & 0x40) ? n + 1 : n - 1, l2;
        char *bad = render(sql, sqllen, v, give, esc, m, &l2, err, sizeof err);
        FZ_CHECK(bad == NULL && strstr(err, "placeholder") != NULL,
                 "%zu values accepted for %zu placeholders", give, n);
    }

    if (out && safe) {
        /* Scanned again, the query has no placeholder left and renders to
         * itself: no value ended a literal or opened a comment. */
        size_t len2;
        char *again = render(out, len, NULL, 0, esc, m, &len2, err, sizeof err);
        FZ_CHECK(again != NULL,
                 "rendered query has placeholders again: %s "
                 "(%s)",
                 err, out);
        FZ_CHECK(len2 == len && memcmp(again, out, len) == 0,
                 "rendered query changes when rendered again");
        free(again);
    }
    free(out);
    free(v);
    return 0;
}
