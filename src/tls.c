/*
 * TLS settings: checked once when the pool is made (a bad path or value
 * fails amy_pool_new, naming the key, instead of every connect), applied to
 * each handle, and checked again after each connect.
 *
 * amysql reaches into the connector's TLS session (installed headers
 * ma_pvio.h and ma_tls.h: mysql->net.pvio->ctls->ssl, an OpenSSL SSL) for
 * two things the public API cannot do: our burst writes (wire.c), and
 * telling TLS housekeeping from a server's goodbye on an idle socket.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mysql.h>
/* After mysql.h, which they need; the connector was built with TLS, so
 * its session structure is ma_tls.h's. */
#define HAVE_TLS
typedef unsigned char uchar; /* ma_tls.h uses it before ma_pvio.h has it */
#include <ma_pvio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls.h"

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int
failf(char *err, size_t errlen, const char *key, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "invalid value for '%s': %s", key, what);
    return -1;
}

/* OpenSSL's reason for the last failure, or a fallback. */
static const char *ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : "not in a format OpenSSL reads (PEM)";
}

/* A file (dir 0) or directory (dir 1) the connector will read. */
static int check_path(const char *key, const char *path, int dir, char *err,
                      size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return failf(err, errlen, key, "cannot read \"%.200s\": %s", path,
                     strerror(errno));
    if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        return failf(err, errlen, key, "\"%.200s\" is not a %s", path,
                     dir ? "directory" : "file");
    if (access(path, dir ? R_OK | X_OK : R_OK) != 0)
        return failf(err, errlen, key, "cannot read \"%.200s\": %s", path,
                     strerror(errno));
    return 0;
}

/* tls_version: a comma-separated list of TLSv1.2 and TLSv1.3, spelled
 * as OpenSSL does (the connector matches substrings and silently ignores
 * anything else). */
static int check_version(const char *v, char *out, size_t outlen, char *err,
                         size_t errlen)
{
    static const char *const known[] = {"TLSv1.2", "TLSv1.3"};
    out[0] = '\0';
    const char *s = v;
    for (;;) {
        size_t n = strcspn(s, ",");
        while (n && isspace((unsigned char)*s))
            s++, n--;
        size_t m = n;
        while (m && isspace((unsigned char)s[m - 1]))
            m--;
        size_t i = 0;
        while (i < 2 &&
               !(strlen(known[i]) == m && strncasecmp(known[i], s, m) == 0))
            i++;
        if (i == 2)
            return failf(err, errlen, "tls_version",
                         "\"%.64s\" (expected TLSv1.2, TLSv1.3, or both "
                         "separated by a comma)",
                         v);
        if (!strstr(out, known[i]))
            snprintf(out + strlen(out), outlen - strlen(out), "%s%s",
                     out[0] ? "," : "", known[i]);
        s += n;
        if (*s == '\0')
            return 0;
        s++;
    }
}

/* ssl_fp: what Connector/C 3.3 compares, a SHA-1 fingerprint: 40 hex
 * digits, or 20 pairs separated by colons. */
static int check_fp(const char *fp, char *err, size_t errlen)
{
    size_t n = strlen(fp), digits = 0;
    int colons = n == 59;
    for (size_t i = 0; i < n; i++) {
        if (colons && i % 3 == 2) {
            if (fp[i] != ':')
                break;
            continue;
        }
        if (!isxdigit((unsigned char)fp[i]))
            break;
        digits++;
    }
    if (digits == 40 && (n == 40 || colons))
        return 0;
    return failf(err, errlen, "ssl_fp",
                 "expected the server certificate's SHA-1 fingerprint: 40 hex "
                 "digits, colons between pairs allowed (openssl x509 "
                 "-fingerprint -sha1)");
}

/* Loads what the files hold into a scratch context, as the connector
 * will, so a wrong file fails here. */
static int load_files(const amy__tls_cfg *t, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "TLS: cannot make an OpenSSL context");
        return -1;
    }
    int rc = -1;
    ERR_clear_error();
    if (t->ca && SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1) {
        failf(err, errlen, "ssl_ca", "no CA certificate in \"%.200s\": %s",
              t->ca, ossl_reason());
        goto out;
    }
    const char *cert = t->cert ? t->cert : t->key;
    const char *key = t->key ? t->key : t->cert;
    if (cert && SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        failf(err, errlen, t->cert ? "ssl_cert" : "ssl_key",
              "no certificate in \"%.200s\": %s", cert, ossl_reason());
        goto out;
    }
    if (key && SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        failf(err, errlen, t->key ? "ssl_key" : "ssl_cert",
              "no private key in \"%.200s\": %s", key, ossl_reason());
        goto out;
    }
    if (cert && SSL_CTX_check_private_key(ctx) != 1) {
        failf(err, errlen, "ssl_key",
              "\"%.200s\" is not the key of ssl_cert's certificate (%s)", key,
              ossl_reason());
        goto out;
    }
    if (t->crl) {
        X509_STORE *st = SSL_CTX_get_cert_store(ctx);
        if (X509_STORE_load_locations(st, t->crl, NULL) != 1) {
            failf(err, errlen, "ssl_crl", "no CRL in \"%.200s\": %s", t->crl,
                  ossl_reason());
            goto out;
        }
    }
    if (t->cipher && SSL_CTX_set_cipher_list(ctx, t->cipher) != 1 &&
        SSL_CTX_set_ciphersuites(ctx, t->cipher) != 1) {
        failf(err, errlen, "ssl_cipher",
              "\"%.200s\" names no cipher this OpenSSL knows", t->cipher);
        goto out;
    }
    rc = 0;
out:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return rc;
}

int amy__tls_check(const amy__dsn *d, amy__tls_cfg *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->mode = d->ssl_mode;
    t->ca = d->ssl_ca;
    t->capath = d->ssl_capath;
    t->cert = d->ssl_cert;
    t->key = d->ssl_key;
    t->cipher = d->ssl_cipher;
    t->crl = d->ssl_crl;
    t->crlpath = d->ssl_crlpath;
    t->fp = d->ssl_fp;
    if ((t->ca && check_path("ssl_ca", t->ca, 0, err, errlen)) ||
        (t->capath && check_path("ssl_capath", t->capath, 1, err, errlen)) ||
        (t->cert && check_path("ssl_cert", t->cert, 0, err, errlen)) ||
        (t->key && check_path("ssl_key", t->key, 0, err, errlen)) ||
        (t->crl && check_path("ssl_crl", t->crl, 0, err, errlen)) ||
        (t->crlpath && check_path("ssl_crlpath", t->crlpath, 1, err, errlen)) ||
        (t->fp && check_fp(t->fp, err, errlen)) ||
        (d->tls_version && check_version(d->tls_version, t->version,
                                         sizeof t->version, err, errlen)))
        return -1;
    if (t->fp && t->mode == AMY__SSL_DISABLED) {
        snprintf(err, errlen,
                 "invalid value for 'ssl_fp': a fingerprint needs TLS, and "
                 "ssl_mode is disabled");
        return -1;
    }
    /* A pinned certificate is checked on an encrypted session only. */
    if (t->fp && t->mode < AMY__SSL_REQUIRED)
        t->mode = AMY__SSL_REQUIRED;
    if (t->mode >= AMY__SSL_VERIFY_CA && !t->ca && !t->capath) {
        /* The system's trust store, as OpenSSL finds it (SSL_CERT_FILE,
         * SSL_CERT_DIR override), passed on explicitly: the connector
         * checks the chain before authenticating only when given one. */
        const char *f = getenv(X509_get_default_cert_file_env());
        const char *dir = getenv(X509_get_default_cert_dir_env());
        if (!f)
            f = X509_get_default_cert_file();
        if (!dir)
            dir = X509_get_default_cert_dir();
        if (access(f, R_OK) == 0)
            t->ca = f;
        else if (access(dir, R_OK | X_OK) == 0)
            t->capath = dir;
        else {
            snprintf(err, errlen,
                     "ssl_mode=%s needs ssl_ca or ssl_capath: no system "
                     "trust store at %.200s or %.200s",
                     t->mode == AMY__SSL_VERIFY_CA ? "verify_ca"
                                                   : "verify_identity",
                     f, dir);
            return -1;
        }
    }
    return load_files(t, err, errlen);
}

int amy__tls_wanted(const amy__tls_cfg *t, int unix_socket)
{
    if (t->mode == AMY__SSL_DISABLED)
        return 0;
    return !(unix_socket && t->mode == AMY__SSL_PREFERRED);
}

int amy__tls_apply(MYSQL *m, const amy__tls_cfg *t)
{
    my_bool yes = 1, verify = t->mode == AMY__SSL_VERIFY_IDENTITY;
    int rc = mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &yes);
    rc |= mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    /* Below verify_ca the chain is not checked: the connector checks it
     * whenever it is given a CA, so it is not given one. */
    if (t->mode >= AMY__SSL_VERIFY_CA) {
        if (t->ca)
            rc |= mysql_optionsv(m, MYSQL_OPT_SSL_CA, t->ca);
        if (t->capath)
            rc |= mysql_optionsv(m, MYSQL_OPT_SSL_CAPATH, t->capath);
        if (t->crl)
            rc |= mysql_optionsv(m, MYSQL_OPT_SSL_CRL, t->crl);
        if (t->crlpath)
            rc |= mysql_optionsv(m, MYSQL_OPT_SSL_CRLPATH, t->crlpath);
    }
    if (t->cert)
        rc |= mysql_optionsv(m, MYSQL_OPT_SSL_CERT, t->cert);
    if (t->key)
        rc |= mysql_optionsv(m, MYSQL_OPT_SSL_KEY, t->key);
    if (t->cipher)
        rc |= mysql_optionsv(m, MYSQL_OPT_SSL_CIPHER, t->cipher);
    if (t->version[0])
        rc |= mysql_optionsv(m, MARIADB_OPT_TLS_VERSION, t->version);
    if (t->fp)
        rc |= mysql_optionsv(m, MARIADB_OPT_TLS_PEER_FP, t->fp);
    return rc ? -1 : 0;
}

void *amy__tls_session(MYSQL *m)
{
    MARIADB_PVIO *pv = m ? m->net.pvio : NULL;
    return pv && pv->ctls ? pv->ctls->ssl : NULL;
}

int amy__tls_after_connect(MYSQL *m, const amy__tls_cfg *t, char *err,
                           size_t errlen)
{
    if (!mysql_get_ssl_cipher(m)) {
        if (t->mode == AMY__SSL_PREFERRED)
            return 0;
        snprintf(err, errlen,
                 "the server offers no TLS, and ssl_mode requires it: "
                 "refusing a plaintext connection");
        return -1;
    }
    const char *lib = NULL;
    mariadb_get_infov(NULL, MARIADB_TLS_LIBRARY, &lib);
    if (!lib || strncmp(lib, "OpenSSL", 7) != 0 || !amy__tls_session(m)) {
        snprintf(err, errlen,
                 "TLS: this Connector/C uses %.60s; amysql drives TLS "
                 "sessions of OpenSSL only",
                 lib ? lib : "an unknown TLS library");
        return -1;
    }
    /* Our writes resume a partial SSL_write from wherever the buffer
     * has moved to meanwhile (wire.c). */
    SSL_set_mode(amy__tls_session(m), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return 1;
}

int amy__tls_idle_dead(void *ssl)
{
    char b;
    ERR_clear_error();
    int n = SSL_peek(ssl, &b, 1);
    int e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, n);
    ERR_clear_error(); /* the connector reads the queue for its messages */
    return !(n <= 0 && e == SSL_ERROR_WANT_READ);
}

void amy__tls_describe(void *ssl, const char **version, const char **cipher)
{
    *version = SSL_get_version(ssl);
    *cipher = SSL_get_cipher_name((SSL *)ssl);
}
