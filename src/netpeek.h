/* What the connector has read off a socket but not yet handed out.
 * Internal. */
#ifndef AMY_NETPEEK_H
#define AMY_NETPEEK_H

#include <mysql.h>
#include <stddef.h>

/*
 * Bytes the connector holds for m beyond the answers it returned: its
 * read-ahead cache, and decrypted TLS data not yet read (ssl: the session's
 * SSL, or NULL). With nothing in flight any such byte is an answer nobody
 * asked for, which the next query would take for its own. No I/O.
 */
size_t amy__net_unread(MYSQL *m, void *ssl);

#endif
