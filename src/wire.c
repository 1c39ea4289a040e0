/*
 * Our own COM_QUERY writer. The connector's send_query makes one syscall
 * per query; writing the packets ourselves makes one per burst of
 * pipelined queries (measured: bench W1). Only plain text requests go this
 * way: prepared statements and everything else are written by the
 * connector, which a connection never runs while our writes are pending
 * for the same query.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "params.h"
#include "wire.h"

/* Makes room for n more bytes; -1 on ENOMEM. */
static int reserve(amy__wbuf *w, size_t n)
{
    if (w->off && w->off == w->len)
        w->off = w->len = 0;
    if (w->cap - w->len >= n)
        return 0;
    if (w->off) { /* slide the unwritten tail to the front first */
        memmove(w->buf, w->buf + w->off, w->len - w->off);
        w->len -= w->off;
        w->off = 0;
        if (w->cap - w->len >= n)
            return 0;
    }
    size_t cap = w->cap ? w->cap : 4096;
    while (cap - w->len < n)
        cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b)
        return -1;
    w->buf = b;
    w->cap = cap;
    return 0;
}

/* A payload of 2^24-1 bytes or more is split into packets of that size,
 * and ends with a shorter (possibly empty) one: 3-byte length, sequence
 * number, payload. */
int amy__wire_query(amy__wbuf *w, const char *sql, size_t len)
{
    size_t payload = len + 1; /* the command byte, then the SQL */
    size_t npk = payload / 0xffffff + 1;
    if (reserve(w, payload + 4 * npk) != 0)
        return -1;
    char *p = w->buf + w->len;
    size_t off = 0; /* offset in the payload */
    for (size_t k = 0; k < npk; k++) {
        size_t chunk = payload - off < 0xffffff ? payload - off : 0xffffff;
        p[0] = (char)(chunk & 0xff);
        p[1] = (char)((chunk >> 8) & 0xff);
        p[2] = (char)((chunk >> 16) & 0xff);
        p[3] = (char)(k & 0xff);
        p += 4;
        size_t skip = 0;
        if (off == 0) {
            *p++ = 0x03; /* COM_QUERY */
            skip = 1;
        }
        memcpy(p, sql + off + skip - 1, chunk - skip);
        p += chunk - skip;
        off += chunk;
    }
    w->total += (unsigned long long)(p - (w->buf + w->len));
    w->len = (size_t)(p - w->buf);
    return 0;
}

static size_t escape(void *arg, char *dst, const char *src, size_t len)
{
    return (size_t)mysql_real_escape_string(arg, dst, src, (unsigned long)len);
}

/*
 * Quotes doubled, multibyte characters of the connection's charset kept
 * whole, nothing else touched: the form the connector writes under
 * NO_BACKSLASH_ESCAPES, which the server reads alike in both modes when
 * there is no backslash. It exports only mysql_real_escape_string, which
 * picks the form from the server status, so the flag is set for the call.
 */
static size_t escape_quotes(void *arg, char *dst, const char *src, size_t len)
{
    MYSQL *m = arg;
    unsigned int status = m->server_status;
    m->server_status |= SERVER_STATUS_NO_BACKSLASH_ESCAPES;
    size_t r =
        (size_t)mysql_real_escape_string(m, dst, src, (unsigned long)len);
    m->server_status = status;
    return r;
}

int amy__wire_params(amy__wbuf *w, MYSQL *m, const char *sql, size_t sql_len,
                     const amy_value *params, size_t n, int need_mode,
                     size_t *len, char *err, size_t errlen)
{
    size_t bound = amy__params_bound(sql, sql_len, params, n);
    char *out = bound == SIZE_MAX ? NULL : malloc(bound);
    if (!out) {
        snprintf(err, errlen, "out of memory rendering the parameters");
        return -1;
    }
    const MARIADB_CHARSET_INFO *cs = m->charset;
    amy__mbchar_fn mb = cs && cs->char_maxlen > 1 ? cs->mb_valid : NULL;
    size_t r = amy__params_render(sql, sql_len, params, n,
                                  need_mode ? escape : escape_quotes, m, mb,
                                  out, err, errlen);
    int rc = r == (size_t)-1 ? -1 : amy__wire_query(w, out, r);
    if (rc && r != (size_t)-1)
        snprintf(err, errlen, "out of memory buffering the query");
    free(out);
    *len = r;
    return rc;
}

/* Everything appended was written. */
static void drained(amy__wbuf *w)
{
    w->off = w->len = 0;
    if (w->cap > (1u << 20)) { /* do not keep a huge query's buffer */
        free(w->buf);
        w->buf = NULL;
        w->cap = 0;
    }
}

int amy__wire_flush(amy__wbuf *w, int fd)
{
    while (w->off < w->len) {
        ssize_t n = send(fd, w->buf + w->off, w->len - w->off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            w->off += (size_t)n;
            w->flushed += (unsigned long long)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        return -1;
    }
    drained(w);
    return 0;
}

int amy__wire_flush_tls(amy__wbuf *w, void *ssl)
{
    while (w->off < w->len) {
        /* A retry must ask for the same bytes as the call that wanted to
         * write (they may have moved: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER). */
        size_t n = w->tls_pending;
        if (!n) {
            n = w->len - w->off;
            if (n > (1u << 30))
                n = 1u << 30;
            w->flushed += n; /* some may reach the server from now on */
        }
        ERR_clear_error();
        int r = SSL_write(ssl, w->buf + w->off, (int)n);
        if (r > 0) { /* all n: partial writes are not enabled */
            w->off += (size_t)r;
            w->tls_pending = 0;
            continue;
        }
        w->tls_pending = n;
        int e = SSL_get_error(ssl, r);
        ERR_clear_error(); /* the connector reads the queue for messages */
        if (e == SSL_ERROR_WANT_WRITE)
            return 1;
        /* WANT_READ would be a renegotiation, which MySQL servers never
         * start: treat it as the broken connection it is. */
        if (e != SSL_ERROR_SYSCALL || errno == 0)
            errno = EPROTO;
        return -1;
    }
    drained(w);
    return 0;
}

void amy__wire_free(amy__wbuf *w)
{
    free(w->buf);
    w->buf = NULL;
    w->cap = w->off = w->len = w->tls_pending = 0;
}
