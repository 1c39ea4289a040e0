/* Connection pieces and the amysql DSN (see conninfo.h). */
#include "conninfo.h"
#include "dsn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const amy__cli_tls_keys[AMY__CLI_TLS_NKEYS] = {
    [AMY__CLI_SSL_CA] = "ssl_ca",
    [AMY__CLI_SSL_CAPATH] = "ssl_capath",
    [AMY__CLI_SSL_CERT] = "ssl_cert",
    [AMY__CLI_SSL_KEY] = "ssl_key",
    [AMY__CLI_SSL_CIPHER] = "ssl_cipher",
    [AMY__CLI_TLS_VERSION] = "tls_version",
    [AMY__CLI_SSL_CRL] = "ssl_crl",
    [AMY__CLI_SSL_CRLPATH] = "ssl_crlpath",
    [AMY__CLI_SSL_FP] = "ssl_fp",
};

static const char *const mode_names[] = {
    [AMY__CLI_SSL_DISABLED] = "disabled",
    [AMY__CLI_SSL_PREFERRED] = "preferred",
    [AMY__CLI_SSL_REQUIRED] = "required",
    [AMY__CLI_SSL_VERIFY_CA] = "verify_ca",
    [AMY__CLI_SSL_VERIFY_IDENTITY] = "verify_identity",
};

#define NMODES (sizeof mode_names / sizeof mode_names[0])

const char *amy__cli_ssl_mode_name(int mode)
{
    return mode > AMY__CLI_SSL_UNSET && (size_t)mode < NMODES ? mode_names[mode]
                                                              : NULL;
}

int amy__cli_ssl_mode_parse(const char *s, size_t n)
{
    for (size_t m = AMY__CLI_SSL_DISABLED; m < NMODES; m++)
        if (strlen(mode_names[m]) == n && strncasecmp(s, mode_names[m], n) == 0)
            return (int)m;
    return AMY__CLI_SSL_UNSET;
}

void amy__cli_conninfo_clear(amy__cli_conninfo *c)
{
    for (int k = 0; k < AMY__CLI_TLS_NKEYS; k++)
        free(c->tls[k]);
    free(c->user);
    free(c->password);
    free(c->host);
    free(c->socket);
    free(c->database);
    free(c->params);
    amy__cli_conninfo_init(c);
}

void amy__cli_conninfo_init(amy__cli_conninfo *c)
{
    memset(c, 0, sizeof *c);
    c->connect_timeout_ms = -1;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int amy__cli_conninfo_set(char **field, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

/* Decimal digits only, no sign or spaces, value in [min, max]. */
static int parse_range(const char *s, size_t n, unsigned long min,
                       unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (n == 0 || n > 10)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_uint(const char *s, size_t n, unsigned long max,
                      unsigned long *out)
{
    return parse_range(s, n, 1, max, out);
}

int amy__cli_parse_port(const char *s, unsigned *port)
{
    unsigned long v;
    if (parse_uint(s, strlen(s), 65535, &v) != 0)
        return -1;
    *port = (unsigned)v;
    return 0;
}

static int fail(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "bad DSN: %s", msg);
    return -1;
}

/* Sets *field to the decoded s[0..n); what names the piece in messages. */
static int set_decoded(char **field, const char *s, size_t n, const char *what,
                       char *err, size_t errlen)
{
    int bad;
    char *v = amy__pct_decode(s, n, &bad); /* the library's DSN decoding */
    if (!v) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 bad ? "the %s has a '%%' not followed by two hex digits, or "
                       "%%00 (write '%%' as %%25)"
                     : "out of memory (%s)",
                 what);
        return fail(err, errlen, msg);
    }
    free(*field);
    *field = v;
    return 0;
}

static int add_param(amy__cli_conninfo *c, const char *s, size_t n)
{
    size_t old = c->params ? strlen(c->params) : 0;
    char *p = realloc(c->params, old + n + 2);
    if (!p)
        return -1;
    if (old)
        p[old++] = '&';
    memcpy(p + old, s, n);
    p[old + n] = '\0';
    c->params = p;
    return 0;
}

/* The index of TLS key q[0..n) in amy__cli_tls_keys, or -1. */
static int tls_key(const char *q, size_t n)
{
    for (int k = 0; k < AMY__CLI_TLS_NKEYS; k++)
        if (strlen(amy__cli_tls_keys[k]) == n &&
            strncmp(q, amy__cli_tls_keys[k], n) == 0)
            return k;
    return -1;
}

static int apply_ssl_mode(amy__cli_conninfo *c, const char *v, size_t vn,
                          char *err, size_t errlen)
{
    char *mode = NULL;
    if (set_decoded(&mode, v, vn, "ssl_mode value", err, errlen))
        return -1;
    int m = amy__cli_ssl_mode_parse(mode, strlen(mode));
    free(mode);
    if (m == AMY__CLI_SSL_UNSET)
        return fail(err, errlen,
                    "ssl_mode must be disabled, preferred, required, "
                    "verify_ca or verify_identity");
    c->ssl_mode = m;
    return 0;
}

static int apply_query(amy__cli_conninfo *c, const char *q, char *err,
                       size_t errlen)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        size_t kn = eq ? (size_t)(eq - q) : n;
        const char *v = eq ? eq + 1 : q + n;
        size_t vn = eq ? n - kn - 1 : 0;
        int k;
        if (kn == 6 && strncmp(q, "socket", 6) == 0) {
            if (set_decoded(&c->socket, v, vn, "socket path", err, errlen))
                return -1;
            /* As in amysql, ?socket= means the socket, whatever the host. */
            free(c->host);
            c->host = NULL;
        } else if ((kn == 4 && strncmp(q, "pool", 4) == 0) ||
                   (kn == 8 && strncmp(q, "pipeline", 8) == 0)) {
            unsigned long *dst = kn == 4 ? &c->pool : &c->pipeline;
            if (parse_uint(v, vn, 1000000, dst) != 0)
                return fail(err, errlen,
                            kn == 4 ? "pool must be a number from 1"
                                    : "pipeline must be a number from 1");
        } else if (kn == 18 && strncmp(q, "connect_timeout_ms", 18) == 0) {
            unsigned long ms;
            if (parse_range(v, vn, 0, 86400000, &ms) != 0)
                return fail(err, errlen,
                            "connect_timeout_ms must be a number from 0 to "
                            "86400000");
            c->connect_timeout_ms = (long)ms;
        } else if (kn == 8 && strncmp(q, "ssl_mode", 8) == 0) {
            if (apply_ssl_mode(c, v, vn, err, errlen))
                return -1;
        } else if ((k = tls_key(q, kn)) >= 0) {
            char what[64];
            if (vn == 0) {
                snprintf(what, sizeof what, "empty value for %s",
                         amy__cli_tls_keys[k]);
                return fail(err, errlen, what);
            }
            snprintf(what, sizeof what, "%s value", amy__cli_tls_keys[k]);
            if (set_decoded(&c->tls[k], v, vn, what, err, errlen))
                return -1;
        } else if (n > 0 && add_param(c, q, n) != 0) {
            return fail(err, errlen, "out of memory");
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return 0;
}

int amy__cli_conninfo_dsn_apply(amy__cli_conninfo *c, const char *dsn,
                                char *err, size_t errlen)
{
    const char *rest;
    if (strncasecmp(dsn, "mysql://", 8) == 0)
        rest = dsn + 8;
    else if (strncasecmp(dsn, "mariadb://", 10) == 0)
        rest = dsn + 10;
    else
        return fail(err, errlen,
                    "it must start with mysql:// or mariadb:// (DSN text "
                    "not shown)");
    size_t alen = strcspn(rest, "/?");
    if (strchr(rest + alen, '@'))
        return fail(err, errlen,
                    "an '@' follows the host, so the user or password "
                    "probably contains a '/' or '?': write them %2F and %3F "
                    "(DSN text not shown)");

    const char *at = NULL;
    for (const char *p = rest; p < rest + alen; p++)
        if (*p == '@')
            at = p;
    const char *hp = rest;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        size_t un = colon ? (size_t)(colon - rest) : (size_t)(at - rest);
        if (un > 0 && set_decoded(&c->user, rest, un, "user", err, errlen))
            return -1;
        if (colon &&
            set_decoded(&c->password, colon + 1, (size_t)(at - colon - 1),
                        "password", err, errlen))
            return -1;
        hp = at + 1;
    }

    size_t hn = (size_t)(rest + alen - hp);
    const char *host = hp, *port = NULL;
    size_t hostn = hn, portn = 0;
    if (memchr(hp, ',', hn)) {
        /* A host list (h1:3307,h2,[::1]): kept as written, each host with
         * its own port; amy_pool_new checks it. */
        char *h = dup_n(hp, hn);
        if (!h)
            return fail(err, errlen, "out of memory");
        free(c->host);
        c->host = h;
        hostn = 0;
    } else if (hn > 0 && hp[0] == '[') {
        const char *close = memchr(hp, ']', hn);
        if (!close)
            return fail(err, errlen, "an IPv6 host lacks its ']'");
        host = hp + 1;
        hostn = (size_t)(close - hp - 1);
        if (close + 1 < hp + hn) {
            if (close[1] != ':')
                return fail(err, errlen, "text after the ']' of the host");
            port = close + 2;
            portn = (size_t)(hp + hn - port);
        }
    } else {
        const char *colon = memchr(hp, ':', hn);
        if (colon) {
            hostn = (size_t)(colon - hp);
            port = colon + 1;
            portn = (size_t)(hp + hn - port);
        }
    }
    if (port) {
        unsigned long v;
        if (parse_uint(port, portn, 65535, &v) != 0)
            return fail(err, errlen, "the port must be a number, 1 to 65535");
        c->port = (unsigned)v;
    }
    if (hostn > 0) {
        char *h = dup_n(host, hostn);
        if (!h)
            return fail(err, errlen, "out of memory");
        free(c->host);
        c->host = h;
    }

    const char *p = rest + alen;
    if (*p == '/') {
        size_t dn = strcspn(p + 1, "?");
        if (dn > 0 &&
            set_decoded(&c->database, p + 1, dn, "database", err, errlen))
            return -1;
        p += 1 + dn;
    }
    if (*p == '?')
        return apply_query(c, p + 1, err, errlen);
    return 0;
}

char *amy__cli_pct_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *d = malloc(3 * n + 1), *w = d;
    if (!d)
        return NULL;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
            (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
            ch == '~') {
            *w++ = (char)ch;
        } else {
            *w++ = '%';
            *w++ = hex[ch >> 4];
            *w++ = hex[ch & 15];
        }
    }
    *w = '\0';
    return d;
}

/* A growing string; on failure it frees itself and stays NULL. */
struct sbuf {
    char *s;
    size_t len, cap;
};

static void put(struct sbuf *b, const char *s)
{
    if (!b->s)
        return;
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            free(b->s);
            b->s = NULL;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

static void put_encoded(struct sbuf *b, const char *s)
{
    char *e = amy__cli_pct_encode(s);
    if (!e) {
        free(b->s);
        b->s = NULL;
        return;
    }
    put(b, e);
    free(e);
}

char *amy__cli_conninfo_dsn(const amy__cli_conninfo *c)
{
    struct sbuf b = {malloc(64), 0, 64};
    if (!b.s)
        return NULL;
    b.s[0] = '\0';
    char num[64];
    const char *sep = "?";
    int local = !c->host || strcmp(c->host, "localhost") == 0;

    put(&b, "mysql://");
    if (c->user || c->password) {
        if (c->user)
            put_encoded(&b, c->user);
        if (c->password) {
            put(&b, ":");
            put_encoded(&b, c->password);
        }
        put(&b, "@");
    }
    int list = !local && strchr(c->host, ',') != NULL;
    if (local && c->tcp) {
        put(&b, "127.0.0.1");
    } else if (local) {
        put(&b, "localhost");
    } else if (list) {
        /* Each host of a list; -P/--port gives a port to those without. */
        for (const char *h = c->host; *h;) {
            size_t n = strcspn(h, ",");
            char *one = dup_n(h, n);
            if (!one) {
                free(b.s);
                return NULL;
            }
            int has_port = one[0] == '[' ? strstr(one, "]:") != NULL
                                         : strchr(one, ':') != NULL;
            put(&b, one);
            free(one);
            if (c->port && !has_port) {
                snprintf(num, sizeof num, ":%u", c->port);
                put(&b, num);
            }
            h += n;
            if (*h == ',') {
                put(&b, ",");
                h++;
            }
        }
    } else {
        int v6 = strchr(c->host, ':') != NULL;
        put(&b, v6 ? "[" : "");
        put(&b, c->host);
        put(&b, v6 ? "]" : "");
    }
    if (c->port && !list && (!local || c->tcp)) {
        snprintf(num, sizeof num, ":%u", c->port);
        put(&b, num);
    }
    if (c->database) {
        put(&b, "/");
        put_encoded(&b, c->database);
    }
    if (c->params) {
        put(&b, sep);
        put(&b, c->params);
        sep = "&";
    }
    if (local && !c->tcp && c->socket) {
        put(&b, sep);
        put(&b, "socket=");
        put_encoded(&b, c->socket);
        sep = "&";
    }
    if (c->pool) {
        snprintf(num, sizeof num, "%spool=%lu", sep, c->pool);
        put(&b, num);
        sep = "&";
    }
    if (c->pipeline) {
        snprintf(num, sizeof num, "%spipeline=%lu", sep, c->pipeline);
        put(&b, num);
        sep = "&";
    }
    if (c->connect_timeout_ms >= 0) {
        snprintf(num, sizeof num, "%sconnect_timeout_ms=%ld", sep,
                 c->connect_timeout_ms);
        put(&b, num);
        sep = "&";
    }
    if (c->ssl_mode != AMY__CLI_SSL_UNSET) {
        put(&b, sep);
        put(&b, "ssl_mode=");
        put(&b, amy__cli_ssl_mode_name(c->ssl_mode));
        sep = "&";
    }
    for (int k = 0; k < AMY__CLI_TLS_NKEYS; k++) {
        if (!c->tls[k])
            continue;
        put(&b, sep);
        put(&b, amy__cli_tls_keys[k]);
        put(&b, "=");
        put_encoded(&b, c->tls[k]);
        sep = "&";
    }
    return b.s;
}
