/*
 * The connector reads the socket in blocks into a read-ahead cache
 * (MARIADB_PVIO.cache, ma_pvio_cache_read) and hands packets out of it: a
 * packet the server sent unasked for sits there, invisible to a peek at
 * the socket. Its layout comes from the connector's installed ma_pvio.h
 * (Connector/C 3.x; tls.c reads the same struct for the session).
 */
#include "netpeek.h"

#define HAVE_TLS
typedef unsigned char uchar; /* ma_tls.h uses it before ma_pvio.h has it */
#include <ma_pvio.h>
#include <openssl/ssl.h>

size_t amy__net_unread(MYSQL *m, void *ssl)
{
    size_t n = 0;
    MARIADB_PVIO *pv = m ? m->net.pvio : NULL;
    if (pv && pv->cache && pv->cache_pos < pv->cache + pv->cache_size)
        n = (size_t)(pv->cache + pv->cache_size - pv->cache_pos);
    if (ssl) {
        int p = SSL_pending((SSL *)ssl);
        if (p > 0)
            n += (size_t)p;
    }
    return n;
}
