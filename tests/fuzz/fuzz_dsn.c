/*
 * Fuzz target for src/dsn.c: the input is a DSN (up to its first NUL).
 *
 * Beyond "does not crash", per input:
 * - the result is 0 or -1; on -1 the struct is all zeros and the message is
 *   non-empty; the same message, cut, in smaller buffers (a prefix of it),
 *   and no buffer is written past its length (each is malloc'd exactly);
 * - a parsed DSN keeps every key in its range and has a host or a socket;
 *   written back as a DSN (every field percent-encoded, every key given) it
 *   parses to the same fields;
 * - the user and the password never show in a message: the input is parsed
 *   again with every piece of what could be the user or the password (see
 *   secret_regions) replaced by a marker, and no message may hold either
 *   marker, nor half of one;
 * - amy__pct_decode of the input writes exactly one byte per plain byte and
 *   per %XX.
 */
#include <stdbool.h>
#include <strings.h>

#include "dsn.h"
#include "fuzz.h"

#define USER_MARK "Us8Kq4Wv"
#define PASS_MARK "Pw9Zq7Xj"
#define ERRMAX    512

static bool is_zero(const amy__dsn *d)
{
    static const amy__dsn zero;
    return memcmp(d, &zero, sizeof zero) == 0;
}

/* Parses s with an error buffer of exactly errlen bytes (NULL when 0). */
static int parse_with(const char *s, amy__dsn *d, size_t errlen, char *copy)
{
    char *err = errlen ? malloc(errlen) : NULL;
    if (err)
        memset(err, 0x5a, errlen);
    memset(d, 0xab, sizeof *d);
    int rc = amy__dsn_parse(s, d, err, errlen);
    FZ_CHECK(rc == 0 || rc == -1, "amy__dsn_parse returned %d", rc);
    if (rc != 0)
        FZ_CHECK(is_zero(d), "a failed parse left fields set");
    if (rc != 0 && err) {
        FZ_CHECK(memchr(err, '\0', errlen) != NULL, "message not terminated");
        if (copy)
            strcpy(copy, err);
    }
    free(err);
    return rc;
}

/* ---- writing a parsed DSN back ---------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        FZ_CHECK(b->s != NULL, "out of memory");
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Every byte but letters and digits as %XX. */
static void put_pct(sbuf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9')) {
            put(b, s, 1);
        } else {
            char h[4];
            snprintf(h, sizeof h, "%%%02X", c);
            put(b, h, 3);
        }
    }
}

static void put_key(sbuf *b, const char *k, const char *v, bool pct)
{
    puts_(b, b->s[b->len - 1] == '?' ? "" : "&");
    puts_(b, k);
    puts_(b, "=");
    if (pct)
        put_pct(b, v);
    else
        puts_(b, v);
}

static void put_num(sbuf *b, const char *k, unsigned long long v)
{
    char n[32];
    snprintf(n, sizeof n, "%llu", v);
    put_key(b, k, n, false);
}

static const char *const ssl_modes[] = {"disabled", "preferred", "required",
                                        "verify_ca", "verify_identity"};

/* clang-format off: one key per line (it reflows X-macro lists unstably) */
#define STRING_KEYS(X)                                                         \
    X(socket)                                                                  \
    X(auth_plugins)                                                            \
    X(charset)                                                                 \
    X(ssl_ca)                                                                  \
    X(ssl_capath)                                                              \
    X(ssl_cert)                                                                \
    X(ssl_key)                                                                 \
    X(ssl_cipher)                                                              \
    X(tls_version)                                                             \
    X(ssl_crl)                                                                 \
    X(ssl_crlpath)                                                             \
    X(ssl_fp)
#define UINT_KEYS(X)                                                           \
    X(pool)                                                                    \
    X(pipeline)                                                                \
    X(pipeline_bytes)                                                          \
    X(connect_timeout_ms)                                                      \
    X(query_timeout_ms)                                                        \
    X(idle_timeout_ms)                                                         \
    X(queue_max)                                                               \
    X(multi_statements)                                                        \
    X(stmt_cache)                                                              \
    X(read_coalesce_us)                                                        \
    X(max_lifetime_ms)                                                         \
    X(reset_on_release)                                                        \
    X(max_result_bytes)                                                        \
    X(kill_grace_ms)
/* clang-format on */

static char *write_back(const amy__dsn *d)
{
    sbuf b = {NULL, 0, 0};
    puts_(&b, "mysql://");
    if (d->user || d->password) {
        if (d->user)
            put_pct(&b, d->user);
        if (d->password) {
            puts_(&b, ":");
            put_pct(&b, d->password);
        }
        puts_(&b, "@");
    }
    if (d->host) {
        bool v6 = strchr(d->host, ':') != NULL;
        puts_(&b, v6 ? "[" : "");
        puts_(&b, d->host);
        puts_(&b, v6 ? "]" : "");
    }
    if (d->port) {
        char n[16];
        snprintf(n, sizeof n, ":%u", d->port);
        puts_(&b, n);
    }
    if (d->database) {
        puts_(&b, "/");
        put_pct(&b, d->database);
    }
    puts_(&b, "?");
#define X(k) put_num(&b, #k, (unsigned long long)d->k);
    UINT_KEYS(X)
#undef X
#define X(k)                                                                   \
    if (d->k)                                                                  \
        put_key(&b, #k, d->k, true);
    STRING_KEYS(X)
#undef X
    put_key(&b, "ssl_mode", ssl_modes[d->ssl_mode], false);
    for (unsigned i = 0; i < d->ninit; i++)
        put_key(&b, "init", d->init[i], true);
    return b.s;
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void check_same(const amy__dsn *a, const amy__dsn *b, const char *dsn)
{
    FZ_CHECK(same_str(a->user, b->user) && same_str(a->password, b->password) &&
                 same_str(a->host, b->host) &&
                 same_str(a->database, b->database) && a->port == b->port &&
                 a->ssl_mode == b->ssl_mode && a->ninit == b->ninit,
             "written back as %s, the DSN parses differently", dsn);
#define X(k) FZ_CHECK(a->k == b->k, "%s: %s differs", dsn, #k);
    UINT_KEYS(X)
#undef X
#define X(k) FZ_CHECK(same_str(a->k, b->k), "%s: %s differs", dsn, #k);
    STRING_KEYS(X)
#undef X
    for (unsigned i = 0; i < a->ninit; i++)
        FZ_CHECK(strcmp(a->init[i], b->init[i]) == 0, "%s: init %u differs",
                 dsn, i);
}

static void check_parsed(const amy__dsn *d)
{
    FZ_CHECK(d->host || d->socket, "parsed without a host or a socket");
    FZ_CHECK(d->port <= 65535, "port %u", d->port);
    FZ_CHECK(d->pool >= 1 && d->pool <= 65535, "pool %u", d->pool);
    FZ_CHECK(d->pipeline >= 1 && d->pipeline <= 4096, "pipeline %u",
             d->pipeline);
    FZ_CHECK(d->pipeline_bytes >= 1024 && d->pipeline_bytes <= 1073741824,
             "pipeline_bytes %zu", d->pipeline_bytes);
    FZ_CHECK(d->multi_statements <= 1 && d->reset_on_release <= 1,
             "a 0/1 key out of range");
    FZ_CHECK(d->ssl_mode <= AMY__SSL_VERIFY_IDENTITY, "ssl_mode %u",
             d->ssl_mode);
    FZ_CHECK(d->ninit <= AMY__DSN_MAX_INIT, "%u init keys", d->ninit);
    FZ_CHECK(!d->host || *d->host, "empty host kept");
    FZ_CHECK(!d->user || *d->user, "empty user kept");
    FZ_CHECK(!d->database || *d->database, "empty database kept");
    for (unsigned i = 0; i < d->ninit; i++)
        FZ_CHECK(d->init[i] && *d->init[i], "init %u empty", i);

    char *back = write_back(d);
    amy__dsn again;
    char err[ERRMAX] = "";
    int rc = parse_with(back, &again, sizeof err, err);
    FZ_CHECK(rc == 0, "written back as %s, the DSN fails: %s", back, err);
    check_same(d, &again, back);
    amy__dsn_clear(&again);
    free(back);
}

/* ---- secrets ------------------------------------------------------------ */

/* Bytes that shape a DSN; a marker never replaces them. */
static bool structural(char c)
{
    return strchr("/?@:&=%[]#", c) != NULL;
}

/*
 * Where the user and the password could be, in the string after the
 * scheme: with an '@' anywhere, user[:password] is everything before the
 * last '@' (an '@' after the host means a '/' or '?' in the password split
 * it); with none, a password may sit where the port goes ("mysql://root:pw/db",
 * the host forgotten). Writes 'u' or 'p' into role[] for those bytes.
 */
static void secret_regions(const char *a, size_t n, char *role)
{
    memset(role, 0, n);
    const char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (a[i] == '@')
            at = a + i;
    if (at) {
        size_t end = (size_t)(at - a);
        const char *colon = memchr(a, ':', end);
        size_t ulen = colon ? (size_t)(colon - a) : end;
        memset(role, 'u', ulen);
        if (colon)
            memset(role + ulen + 1, 'p', end - ulen - 1);
        return;
    }
    size_t alen = strcspn(a, "/?");
    const char *colon = memchr(a, ':', alen);
    if (colon)
        memset(role + (colon - a) + 1, 'p', alen - (size_t)(colon - a) - 1);
}

static bool has_mark(const char *s)
{
    static const char *const marks[] = {USER_MARK, PASS_MARK, "Us8K",
                                        "q4Wv",    "Pw9Z",    "q7Xj"};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (strstr(s, marks[i]))
            return true;
    return false;
}

static void check_secrets(const char *s, size_t len)
{
    if (has_mark(s))
        return; /* the input holds a marker itself: it may be quoted */
    size_t skip = 0;
    static const char *const schemes[] = {"mysql://", "mariadb://"};
    for (size_t i = 0; i < 2 && !skip; i++) {
        size_t k = strlen(schemes[i]);
        if (len >= k && strncasecmp(s, schemes[i], k) == 0)
            skip = k;
    }
    if (!skip)
        return;
    const char *a = s + skip;
    size_t n = len - skip;
    char *role = malloc(n + 1);
    sbuf b = {NULL, 0, 0};
    put(&b, s, skip);
    secret_regions(a, n, role);
    for (size_t i = 0; i < n;) {
        if (!role[i] || structural(a[i])) {
            put(&b, a + i, 1);
            i++;
            continue;
        }
        char r = role[i];
        while (i < n && role[i] == r && !structural(a[i]))
            i++;
        puts_(&b, r == 'u' ? USER_MARK : PASS_MARK);
    }
    if (b.s == NULL)
        puts_(&b, "");
    amy__dsn d;
    char err[ERRMAX] = "";
    if (parse_with(b.s, &d, sizeof err, err) == 0)
        amy__dsn_clear(&d);
    else
        FZ_CHECK(!has_mark(err), "DSN %s: the message shows a secret: %s", b.s,
                 err);
    free(b.s);
    free(role);
}

/* ------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    size_t len = strlen(s);

    amy__dsn d;
    char full[ERRMAX] = "";
    int rc = parse_with(s, &d, sizeof full, full);
    if (rc == 0) {
        check_parsed(&d);
        amy__dsn_clear(&d);
        FZ_CHECK(is_zero(&d), "amy__dsn_clear left fields set");
    } else {
        FZ_CHECK(full[0] != '\0', "failed without a message");
    }
    /* Smaller buffers: the same answer, the message cut. */
    size_t small = 1 + len % 48;
    char cut[ERRMAX] = "";
    FZ_CHECK(parse_with(s, &d, small, cut) == rc, "answer depends on errlen");
    if (rc == 0)
        amy__dsn_clear(&d);
    else
        FZ_CHECK(strncmp(cut, full, strlen(cut)) == 0 &&
                     strlen(cut) ==
                         (strlen(full) < small ? strlen(full) : small - 1),
                 "message in %zu bytes: '%s', in full: '%s'", small, cut, full);
    FZ_CHECK(parse_with(s, &d, 0, NULL) == rc, "answer depends on errlen 0");
    if (rc == 0)
        amy__dsn_clear(&d);

    check_secrets(s, len);

    int bad;
    char *dec = amy__pct_decode(s, len, &bad);
    size_t pct = 0;
    for (size_t i = 0; i < len; i++)
        pct += s[i] == '%';
    if (dec) {
        FZ_CHECK(bad == 0, "decoded with bad=%d", bad);
        FZ_CHECK(strlen(dec) == len - 2 * pct, "decoded length %zu of %zu",
                 strlen(dec), len);
        free(dec);
    } else {
        FZ_CHECK(pct > 0 && (bad == AMY__PCT_ESCAPE || bad == AMY__PCT_NUL),
                 "pct_decode failed with bad=%d", bad);
    }
    free(s);
    return 0;
}
