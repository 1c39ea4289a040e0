/* Our own COM_QUERY writer: requests wait in one buffer and go out with one
 * send() per burst. Internal. */
#ifndef AMY_WIRE_H
#define AMY_WIRE_H

#include <mysql.h>
#include <stddef.h>

#include "amysql.h"

/* Bytes appended and not yet written are buf[off, len). */
typedef struct amy__wbuf {
    char *buf;
    size_t cap, off, len;
    unsigned long long total;   /* bytes ever appended */
    unsigned long long flushed; /* bytes ever handed to the socket, or to
                                   TLS (which may have written them) */
    size_t tls_pending; /* an SSL_write of buf[off, off + tls_pending) to
                           be retried (its bytes counted in flushed) */
} amy__wbuf;

/* Appends COM_QUERY for sql[0, len) as protocol packets. 0, or -1 on
 * ENOMEM. */
int amy__wire_query(amy__wbuf *w, const char *sql, size_t len);

/* Appends COM_QUERY for sql with n parameters rendered for connection m in
 * its character set; *len gets the rendered length. TEXT values are
 * escaped for the NO_BACKSLASH_ESCAPES mode m last reported when
 * need_mode, else with quotes doubled only, which both modes read alike
 * (amy__params_need_mode says which is allowed). 0, or -1 with a message
 * in err. */
int amy__wire_params(amy__wbuf *w, MYSQL *m, const char *sql, size_t sql_len,
                     const amy_value *params, size_t n, int need_mode,
                     size_t *len, char *err, size_t errlen);

/* Writes to socket fd what it takes now. 0 when everything went, 1 when the
 * socket is full (the rest waits), -1 when the connection broke (errno). */
int amy__wire_flush(amy__wbuf *w, int fd);

/* The same through an OpenSSL session (an SSL *) whose socket is
 * non-blocking: TLS records instead of plaintext, one SSL_write per burst.
 * Returns as amy__wire_flush (-1 with errno EPROTO when TLS failed). */
int amy__wire_flush_tls(amy__wbuf *w, void *ssl);

/* Frees the buffer. */
void amy__wire_free(amy__wbuf *w);

#endif
