/* TLS options and the modes they map to (see tls.h). */
#include "tls.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void amy__cli_tls_init(amy__cli_tls *t)
{
    memset(t, 0, sizeof *t);
    t->mode = AMY__CLI_SSL_UNSET;
    t->use = -1;
    t->verify = -1;
}

void amy__cli_tls_clear(amy__cli_tls *t)
{
    for (int k = 0; k < AMY__CLI_TLS_NKEYS; k++)
        free(t->value[k]);
    amy__cli_tls_init(t);
}

enum value_kind { V_FILE, V_DIR, V_LIST, V_VERSION, V_FP };

/* The options with a value, each for one DSN key. */
static const struct {
    const char *name;
    int key;
    enum value_kind kind;
} values[] = {
    {"ssl-ca", AMY__CLI_SSL_CA, V_FILE},
    {"ssl-capath", AMY__CLI_SSL_CAPATH, V_DIR},
    {"ssl-cert", AMY__CLI_SSL_CERT, V_FILE},
    {"ssl-key", AMY__CLI_SSL_KEY, V_FILE},
    {"ssl-cipher", AMY__CLI_SSL_CIPHER, V_LIST},
    {"tls-version", AMY__CLI_TLS_VERSION, V_VERSION},
    {"ssl-crl", AMY__CLI_SSL_CRL, V_FILE},
    {"ssl-crlpath", AMY__CLI_SSL_CRLPATH, V_DIR},
    {"ssl-fp", AMY__CLI_SSL_FP, V_FP},
};

#define NVALUES (sizeof values / sizeof values[0])

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* 1/0, on/off, true/false in any case, as the mariadb client's my_getopt. */
static int parse_bool(const char *s)
{
    if (strcmp(s, "1") == 0 || strcasecmp(s, "on") == 0 ||
        strcasecmp(s, "true") == 0)
        return 1;
    if (strcmp(s, "0") == 0 || strcasecmp(s, "off") == 0 ||
        strcasecmp(s, "false") == 0)
        return 0;
    return -1;
}

static const char *const versions[] = {"TLSv1.0", "TLSv1.1", "TLSv1.2",
                                       "TLSv1.3"};

#define NVERSIONS (sizeof versions / sizeof versions[0])

/* The index of s[0..n) in versions (any case), or NVERSIONS. */
static size_t version_index(const char *s, size_t n)
{
    size_t i = 0;
    while (i < NVERSIONS &&
           !(strlen(versions[i]) == n && strncasecmp(s, versions[i], n) == 0))
        i++;
    return i;
}

/*
 * "TLSv1.2,TLSv1.3" (spaces around the names allowed) as a new string in
 * the spelling the connector compares with; NULL if bad or out of memory
 * (*bad tells which).
 */
static char *canonical_versions(const char *s, int *bad)
{
    char *out = malloc(strlen(s) + 1), *w = out;
    *bad = 0;
    if (!out)
        return NULL;
    for (;;) {
        s += strspn(s, " \t");
        size_t n = strcspn(s, ", \t");
        size_t i = version_index(s, n);
        if (i == NVERSIONS)
            break;
        if (w != out)
            *w++ = ',';
        memcpy(w, versions[i], n);
        w += n;
        s += n;
        s += strspn(s, " \t");
        if (*s == '\0') {
            *w = '\0';
            return out;
        }
        if (*s++ != ',')
            break;
    }
    free(out);
    *bad = 1;
    return NULL;
}

/* Hex digits and colons, 40 digits: the SHA-1 the connector checks. */
static int valid_fp(const char *s)
{
    size_t digits = 0;
    for (; *s; s++) {
        if ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
            (*s >= 'A' && *s <= 'F'))
            digits++;
        else if (*s != ':')
            return 0;
    }
    return digits == 40;
}

static int set_value(amy__cli_tls *t, size_t i, const char *value, char *err,
                     size_t errlen)
{
    const char *name = values[i].name;
    static const char *const what[] = {
        [V_FILE] = "file name",   [V_DIR] = "directory name",
        [V_LIST] = "cipher list", [V_VERSION] = "TLS version list",
        [V_FP] = "fingerprint",
    };
    if (!value)
        return fail(err, errlen, "%s needs a value", name);
    if (!*value)
        return fail(err, errlen, "%s: empty %s", name, what[values[i].kind]);
    char *copy;
    if (values[i].kind == V_VERSION) {
        int bad;
        copy = canonical_versions(value, &bad);
        if (bad)
            return fail(err, errlen,
                        "%s '%s': want TLSv1.0, TLSv1.1, TLSv1.2 or "
                        "TLSv1.3, or several separated by commas",
                        name, value);
    } else {
        if (values[i].kind == V_FP && !valid_fp(value))
            return fail(err, errlen,
                        "%s '%s': want the server certificate's SHA-1 "
                        "fingerprint, 40 hex digits (colons allowed)",
                        name, value);
        copy = strdup(value);
    }
    if (!copy)
        return fail(err, errlen, "out of memory (%s)", name);
    free(t->value[values[i].key]);
    t->value[values[i].key] = copy;
    /* As in the mariadb client, any of these asks for TLS (a later
     * --skip-ssl can still turn it off). */
    t->use = 1;
    return 0;
}

/* "ssl" and "ssl-verify-server-cert", with or without a prefix. */
static int set_bool(amy__cli_tls *t, const char *name, const char *base,
                    int prefix_on, const char *value, char *err, size_t errlen)
{
    int on = prefix_on;
    if (prefix_on < 0) {
        on = value ? parse_bool(value) : 1;
        if (on < 0)
            return fail(err, errlen,
                        "%s '%s': want 1 or 0 (or on/off, true/false)", name,
                        value);
    } else if (value) {
        return fail(err, errlen, "%s takes no value", name);
    }
    if (strcmp(base, "ssl") == 0) {
        t->use = on;
    } else {
        t->verify = on;
        /* Verifying the server needs TLS: asking for it asks for TLS. */
        if (on)
            t->use = 1;
    }
    return 0;
}

int amy__cli_tls_option(amy__cli_tls *t, const char *name, const char *value,
                        char *err, size_t errlen)
{
    static const struct {
        const char *s;
        int on;
    } prefixes[] = {{"skip-", 0}, {"disable-", 0}, {"enable-", 1}};
    const char *base = name;
    int prefix_on = -1; /* no prefix */
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i].s);
        if (strncmp(name, prefixes[i].s, n) == 0) {
            base = name + n;
            prefix_on = prefixes[i].on;
            break;
        }
    }
    if (strcmp(base, "ssl") == 0 || strcmp(base, "ssl-verify-server-cert") == 0)
        return set_bool(t, name, base, prefix_on, value, err, errlen) ? -1 : 1;
    if (prefix_on >= 0)
        return 0; /* skip-ssl-ca and the like are nobody's options */

    if (strcmp(name, "ssl-mode") == 0) {
        if (!value)
            return fail(err, errlen, "%s needs a value", name);
        int m = amy__cli_ssl_mode_parse(value, strlen(value));
        if (m == AMY__CLI_SSL_UNSET)
            return fail(err, errlen,
                        "%s '%s': want DISABLED, PREFERRED, REQUIRED, "
                        "VERIFY_CA or VERIFY_IDENTITY",
                        name, value);
        t->mode = m;
        return 1;
    }
    for (size_t i = 0; i < NVALUES; i++)
        if (strcmp(name, values[i].name) == 0)
            return set_value(t, i, value, err, errlen) ? -1 : 1;
    return 0;
}

/* The mode that --ssl, --skip-ssl and --ssl-verify-server-cert imply. */
static int implied_mode(int use, int verify)
{
    if (use == 0)
        return AMY__CLI_SSL_DISABLED;
    if (use == 1)
        return verify == 1 ? AMY__CLI_SSL_VERIFY_IDENTITY
                           : AMY__CLI_SSL_REQUIRED;
    return AMY__CLI_SSL_UNSET;
}

int amy__cli_tls_resolve(amy__cli_conninfo *c, const amy__cli_tls *files,
                         const amy__cli_tls *cmdline)
{
    static const amy__cli_tls none = {AMY__CLI_SSL_UNSET, -1, -1, {NULL}};
    if (!files)
        files = &none;
    if (!cmdline)
        cmdline = &none;

    for (int k = 0; k < AMY__CLI_TLS_NKEYS; k++) {
        const char *v = cmdline->value[k]
                            ? cmdline->value[k]
                            : (c->tls[k] ? NULL : files->value[k]);
        if (v && amy__cli_conninfo_set(&c->tls[k], v))
            return -1;
    }

    /* Sources weakest first: the option files, the DSN, the command line.
     * The DSN only has an explicit mode (amysql's own keys imply none). */
    int level = 0, explicit = AMY__CLI_SSL_UNSET;
    if (files->mode != AMY__CLI_SSL_UNSET) {
        explicit = files->mode;
        level = 1;
    }
    if (c->ssl_mode != AMY__CLI_SSL_UNSET) {
        explicit = c->ssl_mode;
        level = 2;
    }
    if (cmdline->mode != AMY__CLI_SSL_UNSET) {
        explicit = cmdline->mode;
        level = 3;
    }
    int use = -1, verify = -1;
    if (level < 3) {
        use = cmdline->use;
        verify = cmdline->verify;
    }
    if (level < 1) {
        if (use < 0)
            use = files->use;
        if (verify < 0)
            verify = files->verify;
    }
    int implied = implied_mode(use, verify);
    c->ssl_mode = implied == AMY__CLI_SSL_DISABLED ? implied
                  : implied > explicit             ? implied
                                                   : explicit;

    if (c->ssl_mode == AMY__CLI_SSL_DISABLED)
        for (int k = 0; k < AMY__CLI_TLS_NKEYS; k++) {
            free(c->tls[k]);
            c->tls[k] = NULL;
        }
    return 0;
}
