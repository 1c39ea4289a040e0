/*
 * A hostile MySQL server for tests, on 127.0.0.1 (an ephemeral port).
 *
 * It is a relay in front of a real server: the handshake, the queries and
 * their answers pass through (so KILL, authentication and ordinary queries
 * are real), except that
 *   - the greeting it passes on offers neither TLS, compression,
 *     CLIENT_DEPRECATE_EOF nor MariaDB's extended capabilities, so that
 *     the answers it makes up itself are in the classic 4.1 form;
 *   - a COM_QUERY or COM_STMT_PREPARE whose text contains FK_MARK gets the misbehaviour of the
 *     current mode instead of the real server's answer (the real server
 *     never sees it);
 *   - in a handshake mode, a new connection gets no real server at all but
 *     a made-up greeting and authentication.
 * The mode can change at any time; each connection reads it when its
 * marked query (or, for a handshake mode, its connect) arrives. Each
 * connection is served by a thread of its own; nothing here runs on the
 * test's loop.
 */
#ifndef AMY_FAKE_SERVER_H
#define AMY_FAKE_SERVER_H

#include <stddef.h>

#define FK_MARK "hostile"

typedef enum fk_mode {
    FK_RELAY, /* marked queries too go to the real server */
    /* What a marked query gets: */
    FK_SILENT,        /* nothing, and the connection never answers again */
    FK_DRIP,          /* a correct answer, one byte every 100 ms */
    FK_TRUNCATED,     /* a header announcing 64 bytes, 10 of them, EOF */
    FK_BAD_SEQ,       /* an OK packet with sequence number 7 */
    FK_COLS_24,       /* column count 2^24-1, one column, then EOF */
    FK_COLS_HUGE,     /* column count 2^62 (an 8-byte length) */
    FK_LEN_24,        /* a row whose value claims 2^24-1 bytes */
    FK_EXTRA_VALUES,  /* one column, a row of three values */
    FK_ERR_GARBAGE,   /* an error packet of 0xff and 3 bytes of garbage */
    FK_ERR_ZERO,      /* a well-formed error packet with error number 0 */
    FK_CLOSE_MID_ROW, /* columns, half a row, EOF */
    FK_UNSOLICITED,   /* a correct answer, then a second result nobody
                         asked for */
    FK_MORE_RESULTS,  /* an OK packet saying more results follow, then
                         the relay goes on (the next query's answer) */
    FK_GIB_VALUE,     /* a row whose value claims 1 GiB */
    FK_GIB_PACKET,    /* packets announcing 1 GiB in all, 100 bytes sent */
    FK_NULL_NAME,     /* a column definition whose name is NULL */
    FK_COLDEF_SHORT,  /* a column definition that ends after its name */
    /* Handshake modes (new connections): */
    FK_AUTH_UNKNOWN,   /* the greeting names an unknown auth plugin */
    FK_AUTH_CLEAR,     /* switch to mysql_clear_password after the reply */
    FK_GREETING_OLD,   /* a pre-4.1 greeting (old password scramble) */
    FK_GREETING_TRUNC, /* a greeting cut off inside its version string */
    FK_NMODES
} fk_mode;

typedef struct fk_server fk_server;

/* Starts a relay to the real server at backend_host:backend_port. NULL if
 * it could not listen or start its thread. */
fk_server *fk_start(const char *backend_host, unsigned backend_port);

/* Its port on 127.0.0.1. */
unsigned fk_port(const fk_server *fk);

void fk_set_mode(fk_server *fk, fk_mode mode);

/* Marked queries that got the mode's misbehaviour so far. */
unsigned fk_hostile_answers(fk_server *fk);

/* Connections accepted so far. */
unsigned fk_accepted(fk_server *fk);

/* Whether any client packet of a handshake mode contained s (e.g. the
 * password in clear after FK_AUTH_CLEAR's switch). */
int fk_saw(fk_server *fk, const char *s);

/* The mode's name, for messages. */
const char *fk_mode_name(fk_mode mode);

/* Closes every connection and the listener, joins the threads, frees. */
void fk_stop(fk_server *fk);

#endif
