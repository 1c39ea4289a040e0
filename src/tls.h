/*
 * TLS: the DSN's ssl_* keys checked once and applied to each handle, and
 * the two things amysql does on the connector's TLS session itself (our
 * burst writes, and the idle check). Internal.
 */
#ifndef AMY_TLS_H
#define AMY_TLS_H

#include <mysql.h>
#include <stddef.h>

#include "dsn.h"

/* What a pool's connections use. The strings are the DSN's (or static). */
typedef struct amy__tls_cfg {
    unsigned mode; /* enum amy__ssl_mode */
    const char *ca, *capath, *cert, *key, *cipher, *crl, *crlpath, *fp;
    char version[32]; /* tls_version, checked and spelled as OpenSSL does */
} amy__tls_cfg;

/*
 * Checks the DSN's TLS keys and fills *t. Files must be readable and hold
 * what their key says (ssl_ca certificates, ssl_cert with its ssl_key,
 * ssl_crl a CRL), ssl_cipher must name ciphers OpenSSL knows, tls_version
 * be a list of TLSv1.2 / TLSv1.3, ssl_fp a SHA-1 fingerprint. verify_ca
 * and verify_identity without ssl_ca or ssl_capath use the system's trust
 * store. Returns 0, or -1 with a message in err naming the key.
 */
int amy__tls_check(const amy__dsn *d, amy__tls_cfg *t, char *err,
                   size_t errlen);

/* Whether a connection with t tries TLS: `preferred` does not over a Unix
 * socket (already private, as MySQL's clients decide). */
int amy__tls_wanted(const amy__tls_cfg *t, int unix_socket);

/* Sets t's options on m, before the connect. verify_identity checks the
 * name the connector is given (the caller gives it the DSN's host name). 0,
 * or -1 when memory ran out. */
int amy__tls_apply(MYSQL *m, const amy__tls_cfg *t);

/*
 * After a connect that used amy__tls_apply: 1 when the session is
 * encrypted, 0 when it is plaintext and t allows that (preferred), -1 with
 * a message in err when t demands TLS and the server gave a plaintext
 * session (never a silent downgrade), or when amysql cannot drive this
 * TLS session (a connector without OpenSSL).
 */
int amy__tls_after_connect(MYSQL *m, const amy__tls_cfg *t, char *err,
                           size_t errlen);

/* The connector's OpenSSL session on m (an SSL *), or NULL. */
void *amy__tls_session(MYSQL *m);

/* The TLS version and cipher of session ssl: OpenSSL's static names,
 * valid for the life of the process. */
void amy__tls_describe(void *ssl, const char **version, const char **cipher);

/* An idle connection's socket has bytes: 1 if they are an unasked-for
 * message or the end of the session (the server closed it), 0 if they
 * were TLS housekeeping (session tickets) and the connection is fine. */
int amy__tls_idle_dead(void *ssl);

#endif
