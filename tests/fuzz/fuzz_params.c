/*
 * Fuzz target for src/params.c: the '?' scanner and the literal renderer
 * behind amy_query_params.
 *
 * Input: one header byte, the SQL up to the next NUL, then value records
 * (a type byte and its payload; see take_value). Header bits:
 *   0    the server's mode is NO_BACKSLASH_ESCAPES
 *   1-3  the connection's character set (charsets[]: multibyte ones whose
 *        characters can end in a backslash or a backquote among them)
 *   4    no escaper at all (TEXT then fails)
 *   5    one value too many or too few (the count must be refused), 6 which
 *   7    the escaper as wire.c picks it: the connector's in the server's
 *        mode when amy__params_need_mode says so, else quotes doubled only
 *        (without bit 7: the connector's in the server's mode, always)
 * The escapers are the production ones, mysql_real_escape_string on a MYSQL
 * handle that is never connected: its charset and server_status are set
 * here, as a connection sets them from the server. The scan gets the
 * charset's mb_valid, as the pool gives it.
 *
 * Invariants beyond "does not crash" (every output buffer is malloc'd to
 * exactly amy__params_bound, so ASan sees any overrun):
 * - the rendered length is below the bound and the output is terminated
 *   there; a failure has a message;
 * - the escaper is given room for 2*len+1 bytes and never writes more;
 * - amy__params_need_mode is 1 exactly when the SQL or a TEXT value holds a
 *   backslash byte;
 * - no value changes the statement: the rendered query scanned again, in
 *   the mode it was written for, has no placeholder left and renders to
 *   itself; written with quotes doubled (no backslash anywhere), in both
 *   modes;
 * - each value alone ("?", and "/" "*!?*" "/" where TEXT is cut at star-slash)
 *   reads back: integers and doubles to the same value (the bits for
 *   doubles), TEXT unescaped as the server's lexer reads it (multibyte
 *   characters whole) to the same bytes (with quotes doubled, in both
 *   modes), BLOB hex to the same bytes, dates and times to the same fields;
 *   nothing inside the executable comment could end it early; and it fails
 *   exactly when amy__value_check refuses it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <mysql.h>
#include <stdbool.h>

#include "fuzz.h"
#include "params.h"

#define MAXVALS 256

static const char *const charsets[8] = {
    "utf8mb4", "latin1", "binary", "utf8mb3", "gbk", "big5", "sjis", "cp932"};
static MYSQL *handles[8];
static amy__mbchar_fn mbs[8];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (int i = 0; i < 8; i++) {
        handles[i] = mysql_init(NULL);
        FZ_CHECK(handles[i] != NULL, "mysql_init");
        const MARIADB_CHARSET_INFO *cs =
            mariadb_get_charset_by_name(charsets[i]);
        FZ_CHECK(cs != NULL, "no charset %s", charsets[i]);
        handles[i]->charset = cs;
        mbs[i] = cs->char_maxlen > 1 ? cs->mb_valid : NULL;
    }
    return 0;
}

/* The connector's escaper, in the mode of the handle's server_status. */
static size_t escape(void *arg, char *dst, const char *src, size_t len)
{
    /* dst has room for 2*len+1 bytes: mysql_real_escape_string's rule. */
    unsigned long n =
        mysql_real_escape_string(arg, dst, src, (unsigned long)len);
    FZ_CHECK(n <= 2 * len, "escaper wrote %lu bytes for %zu", n, len);
    return n;
}

/* Quotes doubled only, whatever the mode (wire.c's escape_quotes). */
static size_t escape_quotes(void *arg, char *dst, const char *src, size_t len)
{
    MYSQL *m = arg;
    unsigned status = m->server_status;
    m->server_status |= SERVER_STATUS_NO_BACKSLASH_ESCAPES;
    size_t n = escape(m, dst, src, len);
    m->server_status = status;
    return n;
}

/* What the input asks for (see the top). */
typedef struct {
    MYSQL *m;
    amy__mbchar_fn mb;
    bool nobs, noesc, prod;
} setup;

/* The escaper for sql with v[0, n), and whether its literals take
 * backslash escapes. */
static amy__escape_fn pick(const setup *su, const char *sql, size_t len,
                           const amy_value *v, size_t n, bool *backslash)
{
    *backslash = !su->nobs;
    if (su->noesc) {
        *backslash = true;
        return NULL;
    }
    if (su->prod && !amy__params_need_mode(sql, len, v, n)) {
        *backslash = false;
        return escape_quotes;
    }
    return escape;
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

/* One '...' literal at s[*i], unescaped as the server's lexer reads it
 * (multibyte characters whole), into out (bytes appended at *o). Returns
 * false when s[*i] does not start a well-formed literal. */
static bool read_text(const char *s, size_t len, size_t *i, bool backslash,
                      amy__mbchar_fn mb, char *out, size_t *o)
{
    if (*i >= len || s[*i] != '\'')
        return false;
    for (size_t j = *i + 1; j < len; j++) {
        unsigned l = mb ? mb(s + j, s + len) : 0;
        if (l > 1) {
            memcpy(out + *o, s + j, l);
            *o += l;
            j += l - 1;
            continue;
        }
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
                       amy__mbchar_fn mb, const amy_value *v)
{
    char *got = malloc(len + 1);
    size_t i = 0, o = 0;
    for (;;) {
        FZ_CHECK(read_text(s, len, &i, backslash, mb, got, &o),
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
                    amy__escape_fn esc, void *arg, amy__mbchar_fn mb,
                    size_t *outlen, char *err, size_t errlen)
{
    size_t bound = amy__params_bound(sql, len, v, n);
    FZ_CHECK(bound != SIZE_MAX && bound > len, "bound %zu for %zu bytes", bound,
             len);
    char *out = malloc(bound);
    err[0] = '\0';
    size_t r =
        amy__params_render(sql, len, v, n, esc, arg, mb, out, err, errlen);
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

/* TEXT literals at s[0, len) read back to v: in the escaper's mode, and
 * with quotes doubled (no backslash anywhere) in the other mode too. */
static void check_text_modes(const char *s, size_t len, bool split,
                             amy__escape_fn esc, bool backslash,
                             const setup *su, const amy_value *v)
{
    check_text(s, len, backslash, split, su->mb, v);
    if (esc == escape_quotes)
        check_text(s, len, true, split, su->mb, v);
}

/* One value alone, as "?" and inside an executable comment. */
static void check_alone(const amy_value *v, const setup *su)
{
    char err[256], cerr[256];
    size_t len;
    bool backslash;
    amy__escape_fn esc = pick(su, "?", 1, v, 1, &backslash);
    bool ok = amy__value_check(v, 1, cerr, sizeof cerr) == 0;
    if (v->type == AMY_TYPE_TEXT && !esc)
        ok = false;
    char *out = render("?", 1, v, 1, esc, su->m, su->mb, &len, err, sizeof err);
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
        check_text_modes(out, len, false, esc, backslash, su, v);
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
    out = render(exec, 6, v, 1, esc, su->m, su->mb, &len, err, sizeof err);
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
    if (v->type == AMY_TYPE_TEXT)
        check_text_modes(in, inlen, true, esc, backslash, su, v);
    free(out);
}

/* The rendered query out[0, len), scanned again in the mode backslash, has
 * no placeholder left and renders to itself. */
static void rescan(const char *out, size_t len, bool backslash, const setup *su)
{
    MYSQL *m = su->m;
    unsigned status = m->server_status;
    m->server_status = backslash ? 0 : SERVER_STATUS_NO_BACKSLASH_ESCAPES;
    char err[256];
    size_t len2;
    char *again =
        render(out, len, NULL, 0, escape, m, su->mb, &len2, err, sizeof err);
    m->server_status = status;
    FZ_CHECK(again != NULL,
             "rendered query has placeholders again (%s mode): "
             "%s (%s)",
             backslash ? "backslash" : "quote", err, out);
    FZ_CHECK(len2 == len && memcmp(again, out, len) == 0,
             "rendered query changes when rendered again");
    free(again);
}

/* ------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    uint8_t h = fz_u8(&in);
    int cs = (h >> 1) & 7;
    setup su = {handles[cs], mbs[cs], h & 1, (h >> 4) & 1, (h >> 7) & 1};
    bool wrong = (h >> 5) & 1;
    su.m->server_status = su.nobs ? SERVER_STATUS_NO_BACKSLASH_ESCAPES : 0;

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
        check_alone(&v[i], &su);

    /* As many values as placeholders: amy__params_count assumes backslash
     * escapes; the render counts in the escaper's mode, before anything
     * else, and says its count when it differs. */
    size_t n = amy__params_count(sql, sqllen, su.mb);
    char err[256];
    size_t len = 0;
    char *out = NULL;
    bool backslash = true;
    amy__escape_fn esc = NULL;
    for (int attempt = 0; attempt < 2 && n <= MAXVALS; attempt++) {
        bool bs = false;
        for (size_t i = 0; i < n; i++)
            bs = bs || (v[i].type == AMY_TYPE_TEXT && v[i].v.bytes.ptr &&
                        memchr(v[i].v.bytes.ptr, '\\', v[i].v.bytes.len));
        bs = bs || memchr(sql, '\\', sqllen);
        FZ_CHECK(amy__params_need_mode(sql, sqllen, v, n) == bs,
                 "need_mode %d with%s a backslash",
                 amy__params_need_mode(sql, sqllen, v, n), bs ? "" : "out");
        esc = pick(&su, sql, sqllen, v, n, &backslash);
        out =
            render(sql, sqllen, v, n, esc, su.m, su.mb, &len, err, sizeof err);
        size_t said;
        if (out || sscanf(err, "the SQL has %zu placeholder", &said) != 1)
            break; /* rendered, or a value that cannot be written */
        /* The modes differ only in what a backslash means. */
        FZ_CHECK(attempt == 0 && !backslash && said != n &&
                     memchr(sql, '\\', sqllen),
                 "counts disagree: %zu and %zu", n, said);
        n = said;
    }
    if (wrong && n < MAXVALS) {
        size_t give = n == 0 || (h & 0x40) ? n + 1 : n - 1, l2;
        char *bad = render(sql, sqllen, v, give, esc, su.m, su.mb, &l2, err,
                           sizeof err);
        FZ_CHECK(bad == NULL && strstr(err, "placeholder") != NULL,
                 "%zu values accepted for %zu placeholders", give, n);
    }

    if (out) {
        /* No value ended a literal or opened a comment. */
        rescan(out, len, backslash, &su);
        if (esc == escape_quotes)
            rescan(out, len, true, &su);
    }
    free(out);
    free(v);
    return 0;
}
