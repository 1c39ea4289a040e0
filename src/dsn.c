/*
 * DSN parsing: mysql://[user[:password]@]host[:port][/database][?k=v&...]
 *
 * Error messages name the bad part and may quote a small piece of the DSN (a
 * key name, the value of a key, the port), but never the user or password.
 * When an '@' appears after the authority, a '/' or '?' in the password has
 * probably split it in the wrong place, so any piece could be part of the
 * password: then nothing from the DSN is quoted at all.
 */
#include "dsn.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define AMY__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define AMY__PRINTF(f, a)
#endif

/* ------------------------------------------------------------------------ */
/* Keys: add a row to support a new ?key=value.                             */
/* ------------------------------------------------------------------------ */

enum key_kind {
    KEY_UINT,   /* unsigned field, decimal digits in [min, max] */
    KEY_SIZE,   /* size_t field, decimal digits in [min, max] */
    KEY_STRING, /* char * field, percent-decoded, non-empty */
    KEY_LIST,   /* the init list: repeatable, each value as KEY_STRING */
    KEY_ENUM    /* unsigned field: the index of a name in names[] */
};

struct key_def {
    const char *name;
    enum key_kind kind;
    size_t offset; /* of the field in amy__dsn */
    unsigned long long min, max, def;
    const char *const *names; /* KEY_ENUM: the accepted values, NULL-ended */
};

/* Indexed by enum amy__ssl_mode. */
static const char *const ssl_modes[] = {
    "disabled", "preferred", "required", "verify_ca", "verify_identity", NULL};

/* Indexed by enum amy__tsa. */
static const char *const tsa_names[] = {
    "any",     "read-write",     "read-only", "primary",
    "standby", "prefer-standby", NULL};

static const char *const lbh_names[] = {"disable", "random", NULL};

#define TLS_STRING(k)                                                          \
    {                                                                          \
#k, KEY_STRING, offsetof(amy__dsn, k), 0, 0, 0, NULL                   \
    }

static const struct key_def keys[] = {
    {"pool", KEY_UINT, offsetof(amy__dsn, pool), 1, 65535,
     AMY__DSN_DEFAULT_POOL, NULL},
    {"pipeline", KEY_UINT, offsetof(amy__dsn, pipeline), 1, 4096,
     AMY__DSN_DEFAULT_PIPELINE, NULL},
    {"pipeline_bytes", KEY_SIZE, offsetof(amy__dsn, pipeline_bytes), 1024,
     1073741824, AMY__DSN_DEFAULT_PIPELINE_BYTES, NULL},
    {"connect_timeout_ms", KEY_UINT, offsetof(amy__dsn, connect_timeout_ms), 0,
     86400000, AMY__DSN_DEFAULT_CONNECT_TIMEOUT_MS, NULL},
    {"query_timeout_ms", KEY_UINT, offsetof(amy__dsn, query_timeout_ms), 0,
     86400000, 0, NULL},
    {"idle_timeout_ms", KEY_UINT, offsetof(amy__dsn, idle_timeout_ms), 0,
     86400000, 0, NULL},
    {"queue_max", KEY_UINT, offsetof(amy__dsn, queue_max), 0, 4294967295u, 0,
     NULL},
    {"multi_statements", KEY_UINT, offsetof(amy__dsn, multi_statements), 0, 1,
     0, NULL},
    {"stmt_cache", KEY_UINT, offsetof(amy__dsn, stmt_cache), 0, 65535,
     AMY__DSN_DEFAULT_STMT_CACHE, NULL},
    {"read_coalesce_us", KEY_UINT, offsetof(amy__dsn, read_coalesce_us), 0,
     100000, AMY__DSN_DEFAULT_READ_COALESCE_US, NULL},
    {"socket", KEY_STRING, offsetof(amy__dsn, socket), 0, 0, 0, NULL},
    {"charset", KEY_STRING, offsetof(amy__dsn, charset), 0, 0, 0, NULL},
    {"init", KEY_LIST, offsetof(amy__dsn, init), 0, AMY__DSN_MAX_INIT, 0, NULL},
    {"max_lifetime_ms", KEY_UINT, offsetof(amy__dsn, max_lifetime_ms), 0,
     2592000000u, 0, NULL},
    {"reset_on_release", KEY_UINT, offsetof(amy__dsn, reset_on_release), 0, 1,
     1, NULL},
    {"kill_grace_ms", KEY_UINT, offsetof(amy__dsn, kill_grace_ms), 0, 86400000,
     AMY__DSN_DEFAULT_KILL_GRACE_MS, NULL},
    {"auth_plugins", KEY_STRING, offsetof(amy__dsn, auth_plugins), 0, 0, 0,
     NULL},
    {"max_result_bytes", KEY_SIZE, offsetof(amy__dsn, max_result_bytes), 0,
     SIZE_MAX, AMY__DSN_DEFAULT_MAX_RESULT_BYTES, NULL},
    {"ssl_mode", KEY_ENUM, offsetof(amy__dsn, ssl_mode), 0, 0,
     AMY__SSL_PREFERRED, ssl_modes},
    {"target_session_attrs", KEY_ENUM, offsetof(amy__dsn, target_session_attrs),
     0, 0, AMY__TSA_ANY, tsa_names},
    {"load_balance_hosts", KEY_ENUM, offsetof(amy__dsn, load_balance_hosts), 0,
     0, 0, lbh_names},
    {"role_check_ms", KEY_UINT, offsetof(amy__dsn, role_check_ms), 0, 86400000,
     AMY__DSN_DEFAULT_ROLE_CHECK_MS, NULL},
    {"dns_ttl_ms", KEY_UINT, offsetof(amy__dsn, dns_ttl_ms), 1, 86400000, 15000,
     NULL},
    {"dns_servers", KEY_STRING, offsetof(amy__dsn, dns_servers), 0, 0, 0, NULL},
    TLS_STRING(ssl_ca),
    TLS_STRING(ssl_capath),
    TLS_STRING(ssl_cert),
    TLS_STRING(ssl_key),
    TLS_STRING(ssl_cipher),
    TLS_STRING(tls_version),
    TLS_STRING(ssl_crl),
    TLS_STRING(ssl_crlpath),
    TLS_STRING(ssl_fp),
};

#define NKEYS (sizeof keys / sizeof keys[0])

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

struct parser {
    char *errbuf;
    size_t errlen;
    bool hide; /* quote nothing from the DSN (see the top of the file) */
};

#define HIDE_HINT                                                              \
    " (note: an '@' follows the host, so the user or password probably "       \
    "contains a '/' or '?' that must be written %2F or %3F; no DSN text is "   \
    "shown)"

static AMY__PRINTF(2, 3) int fail(struct parser *p, const char *fmt, ...)
{
    if (p->errbuf == NULL || p->errlen == 0)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->errbuf, p->errlen, fmt, ap);
    va_end(ap);
    if (p->hide && n >= 0 && (size_t)n < p->errlen)
        snprintf(p->errbuf + n, p->errlen - (size_t)n, "%s", HIDE_HINT);
    return -1;
}

static int fail_nomem(struct parser *p)
{
    bool hide = p->hide;
    p->hide = false;
    fail(p, "out of memory");
    p->hide = hide;
    return -1;
}

/* Room for a quoted, truncated piece of the DSN. */
#define PIECE_MAX 40
typedef struct {
    char s[PIECE_MAX + 8];
} piece_buf;

/*
 * Formats s[0..n) for a message: quoted with q, non-printable bytes as '?',
 * cut at PIECE_MAX bytes with "...". "(hidden)" when nothing may be quoted.
 */
static const char *show(const struct parser *p, piece_buf *b, char q,
                        const char *s, size_t n)
{
    if (p->hide)
        return "(hidden)";
    size_t j = 0;
    b->s[j++] = q;
    for (size_t i = 0; i < n && i < PIECE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        b->s[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (n > PIECE_MAX) {
        memcpy(b->s + j, "...", 3);
        j += 3;
    }
    b->s[j++] = q;
    b->s[j] = '\0';
    return b->s;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Length of prefix if s starts with it, ignoring ASCII case; else 0. */
static size_t skip_prefix_ci(const char *s, const char *prefix)
{
    size_t i = 0;
    for (; prefix[i] != '\0'; i++)
        if (lower(s[i]) != prefix[i])
            return 0;
    return i;
}

static char *copy(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *amy__pct_decode(const char *s, size_t n, int *bad)
{
    *bad = 0;
    char *d = malloc(n + 1);
    if (d == NULL)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            d[j++] = s[i];
            continue;
        }
        int hi = n - i >= 3 ? hexval(s[i + 1]) : -1;
        int lo = n - i >= 3 ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(d);
            *bad = hi < 0 || lo < 0 ? AMY__PCT_ESCAPE : AMY__PCT_NUL;
            return NULL;
        }
        d[j++] = (char)(hi * 16 + lo);
        i += 2;
    }
    d[j] = '\0';
    return d;
}

/*
 * Percent-decodes s[0..n) into a new string in *out. what names the part for
 * messages ("password", "value of 'socket'", ...); nothing of s is quoted.
 */
static int decode(struct parser *p, const char *s, size_t n, char **out,
                  const char *what)
{
    int bad;
    char *d = amy__pct_decode(s, n, &bad);
    if (d == NULL && bad == AMY__PCT_ESCAPE)
        return fail(p,
                    "bad percent-escape in the %s ('%%' must be followed "
                    "by two hex digits; write a literal '%%' as %%25)",
                    what);
    if (d == NULL && bad == AMY__PCT_NUL)
        return fail(p, "the %s contains %%00 (a NUL byte is not allowed)",
                    what);
    if (d == NULL)
        return fail_nomem(p);
    *out = d;
    return 0;
}

/*
 * Parses s[0..n) as plain decimal digits in [min, max]. Overflow and values
 * above max are caught without wrapping.
 */
static bool parse_number(const char *s, size_t n, unsigned long long min,
                         unsigned long long max, unsigned long long *v)
{
    unsigned long long acc = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (d > max || acc > (max - d) / 10)
            return false;
        acc = acc * 10 + d;
    }
    if (acc < min)
        return false;
    *v = acc;
    return true;
}

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static bool is_ipv6_char(char c)
{
    return hexval(c) >= 0 || c == ':' || c == '.';
}

/* ------------------------------------------------------------------------ */
/* Parts                                                                    */
/* ------------------------------------------------------------------------ */

/* user[:password], both percent-decoded; an empty user is left NULL. */
static int parse_userinfo(struct parser *p, const char *s, size_t n,
                          amy__dsn *out)
{
    const char *colon = memchr(s, ':', n);
    size_t ulen = colon != NULL ? (size_t)(colon - s) : n;
    if (ulen > 0 && decode(p, s, ulen, &out->user, "user name") != 0)
        return -1;
    if (colon != NULL &&
        decode(p, colon + 1, n - ulen - 1, &out->password, "password") != 0)
        return -1;
    return 0;
}

/*
 * One host of the list: host[:port] or [ipv6][:port]. The port is quoted in
 * messages only when the
 * DSN has an explicit user part: without one, "mysql://root:secret/db" (host
 * forgotten) would put the password in the port.
 */
static int parse_hostport(struct parser *p, const char *s, size_t n,
                          bool had_userinfo, amy__dsn_host *out)
{
    const char *host, *port = NULL;
    size_t hlen, plen = 0;
    bool has_port = false;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL)
            return fail(p, "unterminated '[' in the host (an IPv6 address "
                           "is written [::1])");
        host = s + 1;
        hlen = (size_t)(close - host);
        size_t rest = n - (size_t)(close + 1 - s);
        if (rest > 0) {
            if (close[1] != ':')
                return fail(p, "unexpected text after ']' in the host "
                               "(expected ':port' or the end of the host)");
            has_port = true;
            port = close + 2;
            plen = rest - 1;
        }
        if (hlen == 0)
            return fail(p, "empty IPv6 address in '[]'");
        bool colon = false;
        for (size_t i = 0; i < hlen; i++) {
            if (!is_ipv6_char(host[i]))
                return fail(p, "invalid character in the IPv6 address");
            colon = colon || host[i] == ':';
        }
        if (!colon)
            return fail(p, "invalid IPv6 address in '[]' (no ':')");
    } else {
        const char *colon = memchr(s, ':', n);
        host = s;
        hlen = colon != NULL ? (size_t)(colon - s) : n;
        if (colon != NULL) {
            has_port = true;
            port = colon + 1;
            plen = n - hlen - 1;
            if (memchr(port, ':', plen) != NULL)
                return fail(p, "too many ':' in the host (write an IPv6 "
                               "address in brackets, e.g. [::1]:3306)");
        }
        for (size_t i = 0; i < hlen; i++)
            if (!is_host_char(host[i]))
                return fail(p, "invalid character in the host name (allowed: "
                               "letters, digits, '-', '.', '_'; IPv6 in "
                               "brackets)");
    }

    if (has_port) {
        unsigned long long v;
        if (plen == 0)
            return fail(p, "empty port after ':'");
        if (!parse_number(port, plen, 1, 65535, &v)) {
            piece_buf b;
            if (had_userinfo && !p->hide)
                return fail(p, "invalid port %s (expected an integer 1..65535)",
                            show(p, &b, '"', port, plen));
            return fail(p, "invalid port (expected an integer 1..65535; not "
                           "shown because, with no '@host', it could be a "
                           "password)");
        }
        out->port = (unsigned)v;
    }

    if (hlen > 0 && (out->host = copy(host, hlen)) == NULL)
        return fail_nomem(p);
    return 0;
}

/*
 * host[:port],host[:port],... (libpq's multiple hosts): each parsed as
 * above. An empty authority is no host (?socket= may give one); an empty
 * entry in a list is an error.
 */
static int parse_hostlist(struct parser *p, const char *s, size_t n,
                          bool had_userinfo, amy__dsn *out)
{
    if (n == 0)
        return 0;
    unsigned count = 1;
    for (size_t i = 0; i < n; i++)
        count += s[i] == ',';
    if (count > AMY__DSN_MAX_HOSTS)
        return fail(p, "too many hosts (at most %u)", AMY__DSN_MAX_HOSTS);
    out->hosts = calloc(count, sizeof *out->hosts);
    if (!out->hosts)
        return fail_nomem(p);
    size_t at = 0;
    for (unsigned k = 0; k < count; k++) {
        const char *comma = memchr(s + at, ',', n - at);
        size_t len = comma ? (size_t)(comma - (s + at)) : n - at;
        if (len == 0)
            return fail(p, count > 1 ? "empty host in the host list (two ',' "
                                       "in a row, or one at an end)"
                                     : "empty host");
        amy__dsn_host *h = &out->hosts[k];
        if (parse_hostport(p, s + at, len, had_userinfo, h) != 0)
            return -1;
        out->nhosts = k + 1;
        at += len + 1;
    }
    out->port = out->hosts[0].port;
    if (out->hosts[0].host &&
        (out->host = copy(out->hosts[0].host, strlen(out->hosts[0].host))) ==
            NULL)
        return fail_nomem(p);
    return 0;
}

static int set_key(struct parser *p, const struct key_def *k, const char *val,
                   size_t vlen, amy__dsn *out)
{
    char *field = (char *)out + k->offset;
    piece_buf b;
    unsigned long long v;

    switch (k->kind) {
    case KEY_UINT:
    case KEY_SIZE:
        if (!parse_number(val, vlen, k->min, k->max, &v))
            return fail(p,
                        "invalid value for '%s': %s (expected an integer "
                        "%llu..%llu)",
                        k->name, show(p, &b, '"', val, vlen), k->min, k->max);
        if (k->kind == KEY_UINT)
            *(unsigned *)(void *)field = (unsigned)v;
        else
            *(size_t *)(void *)field = (size_t)v;
        return 0;
    case KEY_STRING: {
        char what[64];
        if (vlen == 0)
            return fail(p, "empty value for '%s'", k->name);
        snprintf(what, sizeof what, "value of '%s'", k->name);
        return decode(p, val, vlen, (char **)(void *)field, what);
    }
    case KEY_ENUM: {
        /* Case-insensitive: MySQL's clients spell them in capitals. */
        for (unsigned i = 0; k->names[i]; i++) {
            size_t j = 0;
            while (j < vlen && k->names[i][j] &&
                   lower(val[j]) == k->names[i][j])
                j++;
            if (j == vlen && !k->names[i][j]) {
                *(unsigned *)(void *)field = i;
                return 0;
            }
        }
        char list[160] = "";
        for (unsigned i = 0; k->names[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     i ? ", " : "", k->names[i]);
        return fail(p, "invalid value for '%s': %s (expected one of: %s)",
                    k->name, show(p, &b, '"', val, vlen), list);
    }
    case KEY_LIST: {
        if (vlen == 0)
            return fail(p, "empty value for '%s'", k->name);
        if (out->ninit >= k->max)
            return fail(p, "more than %llu '%s' keys", k->max, k->name);
        char **list = realloc(out->init, (out->ninit + 1) * sizeof *list);
        if (!list)
            return fail_nomem(p);
        out->init = list;
        list[out->ninit] = NULL;
        if (decode(p, val, vlen, &list[out->ninit], "value of 'init'") != 0)
            return -1;
        out->ninit++;
        return 0;
    }
    }
    return fail(p, "internal error: bad key kind for '%s'", k->name);
}

/* key=value&key=value... (s is NUL-terminated). */
static int parse_query(struct parser *p, const char *s, amy__dsn *out)
{
    bool seen[NKEYS] = {false};
    piece_buf b;

    for (;;) {
        size_t n = strcspn(s, "&");
        const char *eq = memchr(s, '=', n);
        if (n == 0)
            return fail(p, "empty parameter after '?' or '&'");
        if (eq == NULL)
            return fail(p, "missing '=' after DSN key %s",
                        show(p, &b, '\'', s, n));
        size_t klen = (size_t)(eq - s);
        if (klen == 0)
            return fail(p, "empty DSN key before '='");

        size_t i = 0;
        while (i < NKEYS && !(strlen(keys[i].name) == klen &&
                              memcmp(keys[i].name, s, klen) == 0))
            i++;
        if (i == NKEYS)
            return fail(p, "unknown DSN key %s", show(p, &b, '\'', s, klen));
        if (seen[i] && keys[i].kind != KEY_LIST)
            return fail(p, "duplicate DSN key '%s'", keys[i].name);
        seen[i] = true;
        if (set_key(p, &keys[i], eq + 1, n - klen - 1, out) != 0)
            return -1;

        s += n;
        if (*s == '\0')
            return 0;
        s++; /* '&' */
    }
}

static int parse(struct parser *p, const char *s, amy__dsn *out)
{
    static const char *const schemes[] = {"mysql://", "mariadb://"};
    size_t skip = 0;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0] && !skip; i++)
        skip = skip_prefix_ci(s, schemes[i]);
    if (skip == 0)
        return fail(p, "DSN must start with mysql:// (or mariadb://)");

    for (size_t i = 0; i < NKEYS; i++) {
        char *field = (char *)out + keys[i].offset;
        if (keys[i].kind == KEY_UINT || keys[i].kind == KEY_ENUM)
            *(unsigned *)(void *)field = (unsigned)keys[i].def;
        else if (keys[i].kind == KEY_SIZE)
            *(size_t *)(void *)field = (size_t)keys[i].def;
    }

    /* Authority: up to the first '/' or '?'; userinfo ends at its last '@'. */
    const char *auth = s + skip;
    size_t alen = strcspn(auth, "/?");
    const char *rest = auth + alen;
    p->hide = strchr(rest, '@') != NULL;

    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            at = auth + i;
    const char *hp = auth;
    if (at != NULL) {
        if (parse_userinfo(p, auth, (size_t)(at - auth), out) != 0)
            return -1;
        hp = at + 1;
    }
    if (parse_hostlist(p, hp, (size_t)(rest - hp), at != NULL, out) != 0)
        return -1;

    if (*rest == '/') {
        rest++;
        size_t dlen = strcspn(rest, "?");
        if (memchr(rest, '/', dlen) != NULL)
            return fail(p, "unexpected '/' in the database name");
        if (dlen > 0 &&
            decode(p, rest, dlen, &out->database, "database name") != 0)
            return -1;
        rest += dlen;
    }
    if (*rest == '?' && parse_query(p, rest + 1, out) != 0)
        return -1;

    if (out->host == NULL && out->socket == NULL)
        return fail(p, "missing host (give a host, or ?socket=/path for a "
                       "Unix socket)");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* API                                                                      */
/* ------------------------------------------------------------------------ */

int amy__dsn_parse(const char *s, amy__dsn *out, char *errbuf, size_t errlen)
{
    struct parser p = {errbuf, errlen, false};
    if (out == NULL)
        return fail(&p, "no output for the parsed DSN");
    memset(out, 0, sizeof *out);
    if (s == NULL)
        return fail(&p, "DSN is NULL");
    if (*s == '\0')
        return fail(&p, "DSN is empty");
    if (parse(&p, s, out) != 0) {
        amy__dsn_clear(out);
        return -1;
    }
    return 0;
}

void amy__dsn_clear(amy__dsn *d)
{
    if (d == NULL)
        return;
    free(d->user);
    free(d->password);
    free(d->host);
    for (unsigned i = 0; i < d->nhosts; i++)
        free(d->hosts[i].host);
    free(d->hosts);
    free(d->database);
    free(d->socket);
    free(d->charset);
    free(d->auth_plugins);
    free(d->dns_servers);
    char **tls[] = {&d->ssl_ca,  &d->ssl_capath,  &d->ssl_cert,
                    &d->ssl_key, &d->ssl_cipher,  &d->tls_version,
                    &d->ssl_crl, &d->ssl_crlpath, &d->ssl_fp};
    for (size_t i = 0; i < sizeof tls / sizeof tls[0]; i++)
        free(*tls[i]);
    for (unsigned i = 0; i < d->ninit; i++)
        free(d->init[i]);
    free(d->init);
    memset(d, 0, sizeof *d);
}
