/*
 * The dialer: one thread per pool that makes connections the loop must not
 * make itself. The connector does a TLS handshake (and any name lookup)
 * with blocking calls inside mysql_real_connect_start, so a connection that
 * may use TLS is connected here with the blocking API, then handed back to
 * the loop thread, which switches it to the non-blocking API. Internal.
 *
 * Only the loop thread calls these functions; the dialer's thread never
 * runs user code and never touches the loop except through one ev_async.
 */
#ifndef AMY_DIAL_H
#define AMY_DIAL_H

#include <ev.h>
#include <mysql.h>

typedef struct amy__dialer amy__dialer;
typedef struct amy__dial amy__dial;

/* Where to connect; strings are copied by amy__dial_start. */
typedef struct amy__dial_args {
    const char *host, *user, *password, *database, *socket;
    unsigned port;
    unsigned long flags; /* mysql_real_connect's client flags */
    /* The connection must be encrypted: a server whose greeting offers no
     * TLS is hung up on before any credential is sent. */
    int demand_tls;
    /* connect_timeout_ms, counted from when the thread starts this dial
     * (not while it waits behind others); 0: none. */
    unsigned timeout_ms;
    const char *endpoint; /* for the timeout's message */
} amy__dial_args;

/*
 * A dial finished (called on the loop thread, from the dialer's ev_async):
 * ok 1, the handle is connected and switched to the non-blocking API; ok
 * 0, it failed: the handle has the connector's error, unless why (valid
 * during the call) says what the dialer refused, with client error number
 * err (2026 for TLS, 2000 for the dialer's own trouble, 0 for a timeout).
 */
typedef void amy__dial_done(void *arg, int ok, unsigned err, const char *why);

/* A dialer for loop; its thread starts with the first dial. NULL on
 * ENOMEM. */
amy__dialer *amy__dialer_new(struct ev_loop *loop);

/*
 * Connects m (made by mysql_init, options set, blocking mode) with a on the
 * dialer's thread; done(arg, ...) runs on the loop thread when it finished,
 * unless canceled first. m belongs to the dialer until then. Returns the
 * dial, or NULL (ENOMEM, or no thread could be started: m is still the
 * caller's).
 */
amy__dial *amy__dial_start(amy__dialer *d, MYSQL *m, const amy__dial_args *a,
                           amy__dial_done *done, void *arg);

/* done will not be called; the dialer closes and frees the handle (a
 * connect in progress is cut short at its next wait). */
void amy__dial_cancel(amy__dial *j);

/* Cancels every dial, stops the thread and frees d. Returns at once when
 * the thread was waiting for the network; a thread inside a name lookup is
 * left to finish on its own and frees what it holds. */
void amy__dialer_free(amy__dialer *d);

#endif
