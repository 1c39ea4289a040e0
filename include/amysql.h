/*
 * amysql: an asynchronous MySQL/MariaDB client on libev.
 *
 * Lifecycle
 * ---------
 *
 *     #include <amysql.h>
 *     #include <ev.h>
 *
 *     struct ev_loop *loop = EV_DEFAULT;
 *     char err[256];
 *     amy_pool *pool = amy_pool_new(
 *         loop, "mysql://u:p@127.0.0.1:3306/db?pool=8", err, sizeof err);
 *     if (!pool)                     // a malformed DSN: err says why
 *         return fprintf(stderr, "%s\n", err), 1;
 *     amy_future *a = amy_query(pool, "SELECT 1");
 *     amy_future *b = amy_query(pool, "SELECT 2");
 *     amy_future *both[] = {a, b};
 *     amy_future *g = amy_gather(both, 2);  // NULL if a or b is (ENOMEM)
 *     if (g && amy_future_wait(g) == AMY_OK) {  // runs the loop meanwhile
 *         const amy_result *r = amy_future_result(a);
 *         printf("%s\n", amy_result_value(r, 0, 0, NULL));
 *     } else {
 *         char why[512];             // status, errno, SQLSTATE, message
 *         amy_future_describe(g ? g : a, why, sizeof why);
 *         fprintf(stderr, "%s\n", why);
 *     }
 *     amy_future_free(g);            // the gather never owns its children
 *     amy_future_free(a);
 *     amy_future_free(b);
 *     amy_pool_free(pool);           // pending futures resolve AMY_ECANCELED
 *
 * examples/first.c is the same, whole, and runs (the README shows it).
 *
 * A query is queued on the pool, sent on one of its connections (opened
 * lazily, up to `pool`), possibly pipelined behind other queries on the same
 * connection (up to `pipeline`), and its result set is copied into memory the
 * future owns. Every future resolves exactly once: with AMY_OK, or with a
 * negative AMY_E* status whatever goes wrong (server error, lost connection,
 * timeout, cancellation, amy_pool_free).
 *
 * Threads: everything happens on the thread that runs the loop. A pool, its
 * futures and its results must not be used from two threads at once.
 *
 * Mistakes, and the debug mode
 * ----------------------------
 * Built with cmake -DAMY_DEBUG=ON (the default with -DAMY_SANITIZE=ON, the
 * test build), the library aborts with a line on stderr naming the call
 * ("amysql: amy_future_status: future 0x... was already freed") on:
 *   - any amy_future_* or amy_result_* call on a future, or a result of a
 *     future, already freed (the freed ones are kept as poisoned tombstones
 *     for a while: the last 1024, up to 16 MiB, all freed at exit);
 *   - amy_future_free twice on one future;
 *   - amy_future_wait inside one of that future's own callbacks, or inside
 *     any on_row of a stream;
 *   - amy_pool_free inside a callback (or an on_row) of one of its futures.
 * A release build prints the same line and, instead of aborting: a call on
 * a freed future or result answers as for NULL (AMY_EINVAL, NULL, 0), on a
 * best-effort basis (it reads the marker freeing wrote into the memory,
 * which may have been reused since: never rely on it); a second
 * amy_future_free does nothing; the refused amy_future_wait returns
 * AMY_EINVAL; the refused amy_pool_free frees nothing (the pool stays
 * usable, and must be freed later, outside its callbacks). Both builds say
 * on stderr how many pinned connections amy_pool_free found not released.
 */
#ifndef AMYSQL_H
#define AMYSQL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ev_loop;

/* Only the public API is exported from the shared library. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define AMY_EXPORT __attribute__((visibility("default")))
#else
#define AMY_EXPORT
#endif

#define AMY_VERSION_MAJOR 0
#define AMY_VERSION_MINOR 1
#define AMY_VERSION_PATCH 0

/*
 * Statuses. AMY_OK is 0, AMY_PENDING is positive, every error is negative.
 * The list is an X-macro so that names, numbers and messages stay together:
 * XX(name, value, message).
 */
#define AMY_ERRNO_MAP(XX)                                                      \
    XX(EINVAL, -1, "invalid argument")                                         \
    XX(ENOMEM, -2, "out of memory")                                            \
    XX(ESERVER, -3, "the server returned an error")                            \
    XX(ECONNECT, -4, "could not connect to the server")                        \
    XX(ECONNLOST, -5, "connection lost while the query was in flight")         \
    XX(ETIMEDOUT, -6, "query timed out")                                       \
    XX(ECANCELED, -7, "canceled")                                              \
    XX(ECLIENT, -8, "client library error")                                    \
    XX(EQUEUEFULL, -9, "pool queue is full")                                   \
    XX(EGATHER, -10, "at least one gathered future failed")                    \
    XX(ENULL, -11, "the value is SQL NULL")                                    \
    XX(ERANGE, -12, "the value is out of range for the type")                  \
    XX(ETYPE, -13, "the value does not convert to the type")                   \
    XX(ETOOBIG, -14, "the result is larger than max_result_bytes")

enum {
    AMY_OK = 0,
    AMY_PENDING = 1,
#define AMY__XX(name, value, msg) AMY_##name = (value),
    AMY_ERRNO_MAP(AMY__XX)
#undef AMY__XX
};

typedef struct amy_pool amy_pool;
typedef struct amy_future amy_future;
typedef struct amy_result amy_result;

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * amy_strerror - a static English description of a status.
 *
 * status: AMY_OK, AMY_PENDING or any AMY_E* value.
 *
 * Returns a string with static storage (never NULL, never to be freed);
 * "unknown status" for values outside the list.
 */
AMY_EXPORT const char *amy_strerror(int status);

/*
 * amy_status_name - the enum name of a status, e.g. "AMY_ETIMEDOUT".
 *
 * Returns a string with static storage; "AMY_UNKNOWN" for values outside the
 * list.
 */
AMY_EXPORT const char *amy_status_name(int status);

/* ------------------------------------------------------------------------ */
/* Pool                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * amy_pool_new - create a pool of connections to one server, or to any of
 * a host list's.
 *
 * loop:   the libev loop that will drive every connection; the caller keeps
 *         it alive until amy_pool_free.
 * dsn:    mysql://user:password@host:port/database?key=value&...
 *         user, password and database are percent-decoded. host is an IP
 *         address (IPv6 in brackets) or a name, looked up on the loop
 *         (c-ares) before a connection opens, so that no call ever waits
 *         on DNS; or a list h1:3307,h2,[::1] (each host its own port, at
 *         most 64) of which the pool uses those target_session_attrs
 *         accepts. "localhost", as in every MySQL client, means the Unix
 *         socket (default path, or ?socket=/path); write 127.0.0.1 for
 *         TCP on loopback. Keys:
 *           pool=N                max connections (default 4, 1..65535)
 *           pipeline=N            max queries in flight per connection
 *                                 (default 128, 1 = no pipelining, max
 *                                 4096)
 *           pipeline_bytes=N      max bytes of SQL in flight per connection
 *                                 while pipelining (default 65536); one
 *                                 larger query is still sent, alone
 *           connect_timeout_ms=N  give up a connection attempt after N ms
 *                                 (default 10000, 0 = never)
 *           query_timeout_ms=N    default per-query deadline, counted from
 *                                 amy_query (default 0 = none); see
 *                                 amy_future_set_timeout
 *           idle_timeout_ms=N     close connections idle for N ms
 *                                 (default 0 = keep them)
 *           queue_max=N           at most N queries waiting for a
 *                                 connection; past it amy_query resolves at
 *                                 once with AMY_EQUEUEFULL (default 0 = no
 *                                 limit)
 *           multi_statements=1    a query may hold several statements
 *                                 separated by ';' (default 0: off, so an
 *                                 injected "; DROP ..." is a syntax error)
 *           read_coalesce_us=N    under sustained load, read answers in
 *                                 batches: when an answer arrives on a
 *                                 connection with 4 or more queries in
 *                                 flight whose pipeline has not been empty
 *                                 for 1 ms, wait until the next multiple
 *                                 of N us before reading, so one wakeup
 *                                 reads many answers (default 300; 0 = read
 *                                 at once). It cuts the client's CPU per
 *                                 pipelined query by about 3x, at up to N
 *                                 us more latency for those answers (libev
 *                                 on epoll blocks 1 ms at least: about
 *                                 1 ms when nothing else wakes the loop);
 *                                 a lone query, a small gather, or a burst
 *                                 on a quiet pool is read at once
 *           stmt_cache=N          prepared statements kept per connection
 *                                 for amy_exec (default 32, 0..65535; 0 =
 *                                 prepare and close at every call); the
 *                                 least recently used one is closed on the
 *                                 server to make room
 *           socket=/path          Unix socket path (implies the socket)
 *           charset=NAME          the session's character set (default
 *                                 utf8mb4); escaping follows it; an unknown
 *                                 name is refused here
 *           init=SQL              a statement each new connection runs
 *                                 before it serves (percent-encoded); repeat
 *                                 the key for more (in order, up to 64). A
 *                                 failing one fails the connection as a
 *                                 refused connect does, with the server's
 *                                 errno (AMY_ECONNECT)
 *           max_lifetime_ms=N     retire a connection after 90-100% of N ms:
 *                                 it takes no more queries and closes once
 *                                 idle (default 0 = never; stats: retired)
 *           reset_on_release=0|1  reset a pinned connection's session when
 *                                 it is given back (default 1); see
 *                                 amy_conn_release
 *           kill_grace_ms=N       a query killed after its future left
 *                                 (timed out, canceled) that has not
 *                                 answered N ms after the kill costs its
 *                                 connection: it is closed, the queries
 *                                 pipelined behind it fail AMY_ECONNLOST,
 *                                 the unsent ones move (default 2000; 0 =
 *                                 wait for ever: a silent server then
 *                                 holds the connection for good)
 *           auth_plugins=LIST     the authentication plugins the server may
 *                                 pick (comma-separated; any other, also
 *                                 by an auth switch, is refused before a
 *                                 byte of the password goes out: errno
 *                                 5010, AMY_ECONNECT). Default:
 *                                 mysql_native_password, client_ed25519,
 *                                 auth_gssapi_client, parsec, and with
 *                                 ssl_mode=verify_ca or verify_identity
 *                                 also caching_sha2_password and
 *                                 sha256_password (they send the password
 *                                 over TLS or under a key the server
 *                                 gives). mysql_clear_password and dialog
 *                                 are refused here unless ssl_mode is
 *                                 verify_ca or verify_identity;
 *                                 mysql_old_password always
 *           max_result_bytes=N    the most memory, in bytes, one query's
 *                                 buffered result may take, all its result
 *                                 sets together (default 268435456 = 256
 *                                 MiB; 0 = no limit). A larger one resolves
 *                                 AMY_ETOOBIG: its rows are read off the
 *                                 connection and dropped as they arrive,
 *                                 so the connection goes on serving, and
 *                                 the queries pipelined behind it get
 *                                 their own answers. Rows are counted as
 *                                 they are read, before the connector can
 *                                 pile them up. amy_query_stream is not
 *                                 bounded (it keeps no rows)
 *         TLS (MySQL's names; values percent-encoded; README "TLS"):
 *           ssl_mode=M            disabled, preferred (default: TLS when the
 *                                 server offers it, unverified; never over
 *                                 a Unix socket), required (TLS or no
 *                                 connection), verify_ca (and the chain is
 *                                 checked against ssl_ca / ssl_capath, else
 *                                 the system's trust store), verify_identity
 *                                 (and the DSN's host name or IP is in the
 *                                 certificate). From required up, a server
 *                                 that offers no TLS is hung up on before
 *                                 any credential is sent: never a silent
 *                                 downgrade
 *           ssl_ca=FILE ssl_capath=DIR  CA certificates (PEM)
 *           ssl_cert=FILE ssl_key=FILE  a client certificate and its key
 *           ssl_crl=FILE ssl_crlpath=DIR  revocation lists (verify_ca up)
 *           ssl_cipher=LIST       OpenSSL cipher list or TLS 1.3 suites
 *           tls_version=LIST      TLSv1.2, TLSv1.3, or both (comma)
 *           ssl_fp=HEX            the server certificate's SHA-1
 *                                 fingerprint (40 hex digits, colons
 *                                 allowed); implies at least required
 *           target_session_attrs= any (default), read-write or primary
 *                                 (writable hosts), read-only or standby
 *                                 (read_only=1), prefer-standby
 *                                 (standbys; a primary while none is
 *                                 up): each connection's server is
 *                                 probed before its first query
 *           load_balance_hosts=   disable (fill the first acceptable
 *                                 host) or random (the fewest
 *                                 connections first, ties at random)
 *           role_check_ms=N       roles checked again every N ms on an
 *                                 idle connection (default 1500, 0 = at
 *                                 connect only)
 *           dns_ttl_ms=N          a name's answer reused this long
 *                                 (default 15000); connections to an
 *                                 address it no longer has close once idle
 *           dns_servers=LIST      ip[:port],... to ask instead of
 *                                 resolv.conf's
 *         Files are checked here: an unreadable or wrong file, an unknown
 *         cipher or version is refused with a message naming the key.
 *         TLS connections are opened off the loop, on a thread of the pool
 *         (the loop thread alone runs callbacks), then driven by the loop.
 * errbuf: receives a message when NULL is returned; may be NULL.
 * errlen: size of errbuf in bytes.
 *
 * No connection is opened here: the first queries open them. A connection
 * that breaks is replaced; one the server closed while idle is noticed and
 * dropped before any query is sent on it. When connecting fails for a
 * reason that may pass (refused, unreachable, timed out, too many
 * connections), the pool retries with exponential backoff and jitter, and
 * queued queries wait up to connect_timeout_ms before failing with
 * AMY_ECONNECT and the last connect error. A refusal that will not pass
 * (wrong password 1045, unknown database 1049, ...) fails them at once.
 *
 * Returns a pool owned by the caller (free it with amy_pool_free), or NULL
 * when loop or dsn is NULL, the DSN is malformed (the message names the bad
 * part and never contains the password), or memory runs out. A host name
 * that does not resolve is not an error here: every query on that pool then
 * fails with AMY_ECONNECT and the resolver's message.
 */
AMY_EXPORT amy_pool *amy_pool_new(struct ev_loop *loop, const char *dsn,
                                  char *errbuf, size_t errlen);

/*
 * amy_pool_free - close every connection and free the pool.
 *
 * Every future of the pool that is still pending resolves now with
 * AMY_ECANCELED (its callbacks run before this returns). The futures
 * themselves are not freed: the caller still owns them, and they stay
 * readable. Queries already sent may still complete on the server.
 *
 * pool: may be NULL (no-op). Must not be called from a callback (or an
 *       on_row) of one of the pool's own futures: that call is refused, see
 *       "Mistakes" at the top (a debug build aborts; a release build prints
 *       why on stderr and frees nothing).
 *
 * Pinned connections not released yet (amy_pool_acquire without
 * amy_conn_release) are closed; their handles stay allocated until
 * released, and a line on stderr says how many there were.
 */
AMY_EXPORT void amy_pool_free(amy_pool *pool);

/*
 * Counters of a pool, from amy_pool_stats. The gauges in OpenTelemetry's
 * terms: db.client.connection.count is conns_idle (state=idle) and
 * conns_busy (state=used), db.client.connection.max is conns_max,
 * db.client.connection.pending_requests is queued, and
 * db.client.connection.timeouts is timed_out.
 */
typedef struct amy_stats {
    unsigned conns_open;        /* connected (idle + busy) */
    unsigned conns_idle;        /* connected, nothing in flight */
    unsigned conns_busy;        /* connected, queries in flight */
    unsigned conns_connecting;  /* connect in progress */
    size_t queued;              /* queries waiting for a connection */
    size_t in_flight;           /* queries sent, answer not yet read */
    uint64_t completed;         /* queries resolved AMY_OK */
    uint64_t failed;            /* resolved with any error but the two below */
    uint64_t timed_out;         /* resolved AMY_ETIMEDOUT */
    uint64_t canceled;          /* resolved AMY_ECANCELED */
    uint64_t reconnects;        /* connections opened after one was lost or
                                   after a failed connect */
    uint64_t connect_failures;  /* connect attempts that failed */
    uint64_t kills;             /* KILL QUERY sent for timed-out or canceled
                                   queries */
    uint64_t retried;           /* queries re-sent after a KILL meant for
                                   another query hit them */
    unsigned stmts_open;        /* prepared statements held on the server,
                                   all connections (amy_exec's caches) */
    uint64_t stmt_cache_hits;   /* amy_exec found its statement prepared */
    uint64_t stmt_cache_misses; /* amy_exec had to prepare it */
    uint64_t stmt_evictions;    /* statements closed to make room */
    uint64_t retired;           /* connections closed once idle because they
                                   outlived max_lifetime_ms */
    unsigned conns_encrypted;   /* connected over TLS (of conns_open and any
                                   lent to a pinned handle) */
    const char *tls_version;    /* of one encrypted connection, e.g.
                                   "TLSv1.3"; NULL when none is. Static
                                   strings: valid for the process's life */
    const char *tls_cipher;     /* its cipher, e.g. "TLS_AES_256_GCM_SHA384" */
    unsigned conns_max;         /* the DSN's pool: connections it may open */
} amy_stats;

/*
 * amy_pool_stats - fill *out with the pool's counters right now.
 *
 * Returns AMY_OK, or AMY_EINVAL when pool or out is NULL.
 */
AMY_EXPORT int amy_pool_stats(const amy_pool *pool, amy_stats *out);

/* A host's role, as its last probe saw it (see "High availability" in the
 * README): UNKNOWN before any, PRIMARY when writable, STANDBY when
 * read_only (or innodb_read_only) is on, UNAVAILABLE for a Galera node
 * that is not wsrep_ready or a probe that failed. */
enum {
    AMY_ROLE_UNKNOWN = 0,
    AMY_ROLE_PRIMARY = 1,
    AMY_ROLE_STANDBY = 2,
    AMY_ROLE_UNAVAILABLE = 3
};

/* One host of a pool's host list, from amy_pool_host_stats. */
typedef struct amy_host_stats {
    const char *host;    /* as the DSN names it; valid for the pool's
                            life */
    unsigned port;       /* 0 for a Unix socket */
    int role;            /* AMY_ROLE_* */
    unsigned conns_open; /* connected, lent ones included */
    unsigned conns_connecting;
    uint64_t connects;      /* connects that succeeded */
    uint64_t failures;      /* connects that failed */
    double denied_until;    /* ev_time() before which no new connection is
                               tried (after failures); 0 when not denied */
    const char *last_error; /* its last connect error, or NULL; valid until
                               the next call on the pool */
} amy_host_stats;

/*
 * amy_pool_nhosts / amy_pool_host_stats - the hosts of the pool's DSN (one
 * for a single host or a socket), and what the pool knows of host i
 * (0-based, in the DSN's order). nhosts returns 0 for NULL; host_stats
 * returns AMY_OK, or AMY_EINVAL for a NULL pool or out, or i out of range.
 */
AMY_EXPORT size_t amy_pool_nhosts(const amy_pool *pool);
AMY_EXPORT int amy_pool_host_stats(const amy_pool *pool, size_t i,
                                   amy_host_stats *out);

/* ------------------------------------------------------------------------ */
/* Observability: latency histograms and an observer                        */
/* ------------------------------------------------------------------------ */

/*
 * The pool's latency histograms, always kept (three clock reads per query;
 * about 16 KiB each, made on first use). Names in OpenTelemetry's database
 * client conventions:
 *
 *   AMY_HIST_DURATION   db.client.operation.duration: from the call that
 *                       made the future to its resolution (queue wait
 *                       included), every query of the pool and of its
 *                       pinned connections, whatever the outcome
 *   AMY_HIST_QUEUE_WAIT db.client.connection.wait_time: from that call to
 *                       the moment a connection took the query (only
 *                       queries that were sent)
 *   AMY_HIST_CONNECT    db.client.connection.create_time: from the start
 *                       of a connect to the session being ready (init
 *                       statements included), successful connects only
 */
enum { AMY_HIST_DURATION = 0, AMY_HIST_QUEUE_WAIT = 1, AMY_HIST_CONNECT = 2 };

/* OpenTelemetry's default boundaries for db.client.operation.duration
 * (0.001 ... 10 s) with finer ones below 1 ms (pipelined queries finish in
 * tens of microseconds), in seconds, ascending: AMY_HIST_NBOUNDS of them. */
#define AMY_HIST_NBOUNDS 16
AMY_EXPORT extern const double amy_hist_bounds[AMY_HIST_NBOUNDS];

/*
 * amy_pool_histogram - bucket counts of one histogram, for a metrics
 * exporter: counts[i] is the number of values v with bounds[i-1] < v <=
 * bounds[i] (counts[0]: v <= bounds[0]), counts[nbounds] those above the
 * last bound. counts must have room for nbounds + 1 values.
 *
 * pool: the pool; which: AMY_HIST_*; bounds: ascending, in seconds
 * (amy_hist_bounds, or your own); nbounds: how many.
 *
 * Values are kept in buckets 1/64 wide (below 64 us: 1 us wide), so a
 * value within 1.6 % under a boundary above 64 us may count in the bucket
 * above it. Returns the number of values counted, 0 for a NULL pool,
 * bounds or counts, or an unknown `which`.
 */
AMY_EXPORT uint64_t amy_pool_histogram(const amy_pool *pool, int which,
                                       const double *bounds, size_t nbounds,
                                       uint64_t *counts);

/*
 * amy_pool_percentile - an estimate of the p-th percentile (0 < p <= 100)
 * of one histogram, in seconds: the smallest value v such that at least p %
 * of the values are <= v, at most 1.6 % above it (exact below 64 us; p =
 * 100 is the exact maximum). 0 when the histogram is empty; -1 for a NULL
 * pool, an unknown `which` or p outside (0, 100].
 */
AMY_EXPORT double amy_pool_percentile(const amy_pool *pool, int which,
                                      double p);

/* What kind of call made a query (db.operation.name: amy_op_name). */
typedef enum amy_op_kind {
    AMY_OP_QUERY,    /* amy_query, amy_query_len, amy_conn_query */
    AMY_OP_PARAMS,   /* amy_query_params, amy_conn_query_params */
    AMY_OP_EXEC,     /* amy_exec, amy_conn_exec */
    AMY_OP_BATCH,    /* amy_exec_batch, amy_conn_exec_batch */
    AMY_OP_STREAM,   /* amy_query_stream */
    AMY_OP_ACQUIRE,  /* amy_pool_acquire (no SQL) */
    AMY_OP_BEGIN,    /* amy_begin (or the text "BEGIN") */
    AMY_OP_COMMIT,   /* amy_commit */
    AMY_OP_ROLLBACK, /* amy_rollback */
} amy_op_kind;

/* The kind's name: "query", "query_params", "execute", "execute_batch",
 * "query_stream", "acquire", "begin", "commit", "rollback"; "unknown"
 * otherwise. A static string. */
AMY_EXPORT const char *amy_op_name(int kind);

/*
 * One query, as an observer sees it. Pointers are valid during the call
 * only (copy what you keep); nothing is copied for the observer. Names in
 * brackets are OpenTelemetry's attributes.
 */
typedef struct amy_query_info {
    amy_future *future;    /* the query's future (see amy_future_tag) */
    int kind;              /* amy_op_kind [db.operation.name: amy_op_name] */
    const char *sql;       /* the statement as given, NUL-terminated, no
                              parameter values [db.query.text] */
    size_t sql_len;        /* its length in bytes */
    size_t nparams;        /* values bound to it (amy_exec_batch: all rows') */
    const char *db_system; /* "mariadb" or "mysql", from the server's
                              version; "mariadb" before any connect
                              [db.system.name] */
    const char *server_address;  /* the pool's host, or socket path
                                    [server.address] */
    unsigned server_port;        /* 0 for a Unix socket [server.port] */
    const char *db_namespace;    /* the DSN's database, "" if none
                                    [db.namespace] */
    unsigned long connection_id; /* the server's id of the connection that
                                    ran it; 0 if never sent */
    double submitted_at;         /* ev_time() at the call that made it */
    double sent_at;     /* when a connection took it; 0 if never sent */
    double resolved_at; /* end events only: when it resolved */
    /* End events only (0 / NULL in start events): */
    int status;              /* AMY_OK or an AMY_E* status
                                [error.type: amy_status_name] */
    unsigned server_errno;   /* the server's or connector's error number */
    const char *sqlstate;    /* "00000" on success */
    const char *status_code; /* server_errno as a decimal string, "" when
                                0 [db.response.status_code] */
    const char *error;       /* the message; NULL on success */
    uint64_t returned_rows;  /* rows of its result sets, all of them; a
                                stream's rows delivered
                                [db.response.returned_rows] */
    uint64_t affected_rows;  /* of its first result */
    size_t result_bytes;     /* values' bytes in its result sets */
    unsigned char retried;   /* sent a second time (a stray KILL, or its
                                connection broke before it was written) */
    unsigned char killed;    /* canceled or timed out after it was sent: a
                                KILL QUERY was asked for */
} amy_query_info;

/* Why a connection closed (amy_conn_info.close_reason). */
enum {
    AMY_CLOSE_IDLE,      /* idle_timeout_ms */
    AMY_CLOSE_LIFETIME,  /* max_lifetime_ms */
    AMY_CLOSE_BROKEN,    /* an error broke the session (status, error) */
    AMY_CLOSE_SERVER,    /* the server went away (2006, 2013) */
    AMY_CLOSE_POOL_FREE, /* amy_pool_free */
};

/* A connection, as an observer sees it; valid during the call only. */
typedef struct amy_conn_info {
    const char *server_address;  /* [server.address] */
    unsigned server_port;        /* [server.port] */
    unsigned long connection_id; /* the server's id (0: connect failed) */
    int tls;                     /* 1 when the session is encrypted */
    double connect_seconds;      /* opened and failed events: how long the
                                    connect took */
    int close_reason;            /* closed events: AMY_CLOSE_* */
    int status;                  /* failed and closed events: the status */
    unsigned server_errno;       /* and error number, */
    const char *error;           /* and message (NULL when none) */
} amy_conn_info;

/*
 * What an observer is told. Any hook may be NULL. Each runs on the loop's
 * thread, with the pool consistent (never inside a connector call), and
 * may start queries and cancel or free futures (not amy_future_wait, not
 * amy_pool_free). arg is amy_pool_set_observer's.
 *
 * Every query made after the observer was set has exactly one
 * query_start and then one query_end: start when a connection took it
 * (told at the loop's next iteration at the latest, with its sent_at),
 * or, for a query that was never sent (canceled, timed out or failed while
 * queued, refused at submission), just before its end. End when its future
 * resolved, before its callbacks run, whatever the outcome (amy_pool_free
 * included). The pool's own statements (session resets, init statements,
 * KILL) are not reported.
 */
typedef struct amy_observer {
    void (*query_start)(void *arg, const amy_query_info *q);
    void (*query_end)(void *arg, const amy_query_info *q);
    void (*conn_opened)(void *arg, const amy_conn_info *c);
    void (*conn_closed)(void *arg, const amy_conn_info *c);
    void (*conn_failed)(void *arg, const amy_conn_info *c);
} amy_observer;

/*
 * amy_pool_set_observer - tell ops about the pool's queries and
 * connections from now on (queries made before are not reported); NULL
 * stops it. ops must stay valid while set (the pool keeps the pointer).
 * Without an observer nothing is recorded beyond the histograms. Returns
 * AMY_OK, or AMY_EINVAL for a NULL pool.
 */
AMY_EXPORT int amy_pool_set_observer(amy_pool *pool, const amy_observer *ops,
                                     void *arg);

/* ------------------------------------------------------------------------ */
/* Queries and futures                                                      */
/* ------------------------------------------------------------------------ */

/*
 * amy_query - run one SQL statement on the pool.
 *
 * pool: the pool; sql: the statement (NUL-terminated, copied: the caller may
 *       free or reuse it when this returns).
 *
 * Returns a new future owned by the caller (free with amy_future_free), or
 * NULL only when memory runs out. A NULL pool or sql, or an empty statement,
 * gives a future already resolved with AMY_EINVAL. The future resolves with:
 *   AMY_OK         the statement ran; amy_future_result has its result.
 *   AMY_ESERVER    the server refused it (amy_future_server_errno, _sqlstate
 *                  and _error have the server's errno, SQLSTATE and text).
 *   AMY_ECONNECT   no connection could be opened (the error has the reason;
 *                  server_errno is set when the server refused, e.g. 1045).
 *   AMY_ECONNLOST  the connection broke after the query was sent (for
 *                  example server_errno 2013); the server may or may not
 *                  have run it.
 *   AMY_ETIMEDOUT  its deadline (query_timeout_ms, or amy_future_set_timeout)
 *                  passed first. A statement already sent is stopped on the
 *                  server with KILL QUERY from a separate connection.
 *   AMY_ECANCELED  amy_future_cancel, or freed while pending, or the pool
 *                  was freed.
 *   AMY_EQUEUEFULL queue_max queries were already waiting.
 *   AMY_ETOOBIG    the result would take more than max_result_bytes (the
 *                  DSN key; the message names the limit); it was read and
 *                  dropped, and the connection stays in service.
 *   AMY_ECLIENT    the client library failed in another way.
 *   AMY_ENOMEM     memory ran out while copying the result.
 */
AMY_EXPORT amy_future *amy_query(amy_pool *pool, const char *sql);

/*
 * amy_query_len - like amy_query for a statement of len bytes that need not
 * be NUL-terminated and may contain NUL bytes (in string literals).
 */
AMY_EXPORT amy_future *amy_query_len(amy_pool *pool, const char *sql,
                                     size_t len);

/*
 * amy_gather - a future that resolves once all n futures have resolved.
 *
 * futures: n futures (not NULL); they may be pending or already resolved, and
 *          must all belong to pools on the same loop. The gather does not own
 *          them: each keeps its own result and error, and the caller frees
 *          each one (before or after the gather, in any order). A child freed
 *          while pending resolves AMY_ECANCELED, which the gather counts.
 * n:       may be 0 (the gather is then resolved at once with AMY_OK).
 *
 * Returns a new future owned by the caller, or NULL when memory runs out or
 * futures is NULL with n > 0 (nothing is registered on the children then).
 * Its status is AMY_OK when every child succeeded, else AMY_EGATHER; its
 * error message then names how many failed and the first failure (lowest
 * index), and its server_errno/sqlstate are that child's. It has no result.
 */
AMY_EXPORT amy_future *amy_gather(amy_future *const *futures, size_t n);

/* ------------------------------------------------------------------------ */
/* Parameters                                                               */
/* ------------------------------------------------------------------------ */

/* The type of a parameter value. */
typedef enum amy_type {
    AMY_TYPE_NULL,
    AMY_TYPE_INT64,
    AMY_TYPE_UINT64,
    AMY_TYPE_DOUBLE,
    AMY_TYPE_TEXT, /* escaped by the connection, in its character set */
    AMY_TYPE_BLOB, /* any bytes, sent as X'hex' */
    AMY_TYPE_DATE,
    AMY_TYPE_TIME,
    AMY_TYPE_DATETIME
} amy_type;

/*
 * DATE uses year, month, day (the clock fields 0); DATETIME all but
 * negative; TIME uses negative, hour (up to 838), minute, second and
 * microsecond, with day allowed as a count of 24 hours, year and month 0.
 * '0000-00-00' is the only date with a zero month or day.
 */
typedef struct amy_time {
    int year, month, day, hour, minute, second;
    unsigned microsecond;
    int negative; /* TIME only */
} amy_time;

/* A parameter: a tagged value. Build it with the amy_val_* helpers. */
typedef struct amy_value {
    amy_type type;
    union {
        int64_t i64;
        uint64_t u64;
        double f64;
        struct {
            const char *ptr; /* may be NULL when len is 0 */
            size_t len;
        } bytes;
        amy_time time;
    } v;
} amy_value;

static inline amy_value amy_val_null(void)
{
    amy_value x;
    x.type = AMY_TYPE_NULL;
    x.v.u64 = 0;
    return x;
}

static inline amy_value amy_val_int64(int64_t i)
{
    amy_value x;
    x.type = AMY_TYPE_INT64;
    x.v.i64 = i;
    return x;
}

static inline amy_value amy_val_uint64(uint64_t u)
{
    amy_value x;
    x.type = AMY_TYPE_UINT64;
    x.v.u64 = u;
    return x;
}

static inline amy_value amy_val_double(double d)
{
    amy_value x;
    x.type = AMY_TYPE_DOUBLE;
    x.v.f64 = d;
    return x;
}

/* Text of len bytes (need not be NUL-terminated; may hold NUL bytes). */
static inline amy_value amy_val_text(const char *s, size_t len)
{
    amy_value x;
    x.type = AMY_TYPE_TEXT;
    x.v.bytes.ptr = s;
    x.v.bytes.len = len;
    return x;
}

static inline amy_value amy_val_blob(const void *p, size_t len)
{
    amy_value x;
    x.type = AMY_TYPE_BLOB;
    x.v.bytes.ptr = (const char *)p;
    x.v.bytes.len = len;
    return x;
}

/* type is AMY_TYPE_DATE, AMY_TYPE_TIME or AMY_TYPE_DATETIME. */
static inline amy_value amy_val_time(amy_type type, amy_time t)
{
    amy_value x;
    x.type = type;
    x.v.time = t;
    return x;
}

/*
 * amy_query_params - amy_query with '?' placeholders replaced by values.
 *
 * sql:    the statement; a '?' inside a string literal, a quoted identifier
 *         or a comment is not a placeholder (one inside an executable
 *         comment is, as the server runs it). It is read in the pool's
 *         charset (the DSN key, whose multibyte characters are taken whole,
 *         as the server takes them; change it with that key, never with
 *         SET NAMES, which escaping would not follow). A placeholder
 *         stands for a value, never for an identifier or a keyword: with
 *         "ORDER BY ?" the server sorts by a constant string (every row
 *         equal), and a table or column name cannot be a parameter; check
 *         such names against a list of your own and write them in the SQL.
 * params: n values, copied (text and blob bytes included): the caller may
 *         free them when this returns. May be NULL when n is 0.
 *
 * The values are written into the statement as literals when it is sent,
 * escaped by the connection that sends it in its character set
 * (mysql_real_escape_string), so these queries pipeline like any other.
 * TEXT is written with quotes doubled and nothing else escaped, which the
 * server reads alike whether NO_BACKSLASH_ESCAPES is on or off, so a SET
 * sql_mode still in flight ahead of the query cannot change how it reads.
 * When the statement or a TEXT value holds a backslash byte (0x5c, also as
 * the second byte of a multibyte character), the two modes read it
 * differently: the query is then escaped for the mode the server reported
 * with its last answer, and so is sent only once nothing is in flight on
 * its connection (it does not pipeline behind other queries). A statement
 * that changes sql_mode must therefore not share a query (multi_statements)
 * with parameters. Doubles are written so that they read back with the
 * same bits, as DOUBLE; blobs as hexadecimal.
 *
 * Returns a future as amy_query does. It resolves AMY_EINVAL, with a message,
 * when the number of placeholders is not n, or a value cannot be written
 * (NaN or infinite double, an impossible date or time, an unknown type).
 */
AMY_EXPORT amy_future *amy_query_params(amy_pool *pool, const char *sql,
                                        const amy_value *params, size_t n);

/* ------------------------------------------------------------------------ */
/* Prepared statements                                                      */
/* ------------------------------------------------------------------------ */

/*
 * amy_exec - run sql as a server-side prepared statement with n parameters
 * (the binary protocol).
 *
 * sql:    one statement with '?' placeholders (copied).
 * params: n values (copied, bytes included: the caller may free them when
 *         this returns); may be NULL when n is 0.
 *
 * Each connection prepares a statement the first time it runs that SQL
 * text and keeps it in a cache of stmt_cache statements (DSN key), least
 * recently used out first; an evicted statement is closed on the server,
 * so the server's max_prepared_stmt_count is not reached however many
 * distinct statements are run (at most stmt_cache x pool are open). A
 * prepared statement needs its connection to itself from execute to the
 * last row: it is not pipelined with other queries. Values travel in
 * binary, so nothing is escaped and no value can change the statement.
 *
 * The result has the same shape as amy_query's: amy_result_value gives
 * every value as text, written the way the text protocol writes it
 * (integers exactly, BIGINT UNSIGNED included; DECIMAL as the server sent
 * it; DATE, TIME and DATETIME with as many fractional digits as the column
 * declares; bytes as they are, NUL included). DOUBLE is written with the
 * fewest digits that read back to the same double, so amy_result_double
 * gives exactly the value the server sent. FLOAT is written byte for byte
 * as the text protocol writes it: the float's value rounded to 6
 * significant digits (FLT_DIG, exact ties to even), trailing zeros dropped,
 * in the fixed or scientific notation the server gives a DOUBLE ("1234570"
 * for 1234567, "16777200" for 16777216, "3.40282e38" for FLT_MAX,
 * "1.4013e-45" for the smallest subnormal); with a declared scale,
 * FLOAT(M,D), exactly D decimals of its value ("0.1000000015" for 0.1 in a
 * FLOAT(20,10)). So amy_result_double gives the same number from either
 * protocol, which for FLOAT is the rounded one, not the float's bits: keep
 * values that must come back exactly in DOUBLE. A CALL gives one result per
 * result set it returns, then its final status.
 *
 * Returns a future as amy_query does (NULL only when memory runs out). It
 * resolves AMY_EINVAL when the number of placeholders is not n or a value
 * is invalid (unknown type, impossible date or time); AMY_ESERVER when the
 * server refuses to prepare or to run it (e.g. 1064 syntax, 1062
 * duplicate); otherwise as amy_query.
 */
AMY_EXPORT amy_future *amy_exec(amy_pool *pool, const char *sql,
                                const amy_value *params, size_t n);

/*
 * amy_exec_batch - run one prepared statement for many rows of parameters
 * at once (bulk insert).
 *
 * sql:   a statement with ncols placeholders, e.g. INSERT ... VALUES (?,?).
 * rows:  nrows * ncols values, row after row (copied); AMY_TYPE_NULL is
 *        SQL NULL. Within a column every non-NULL value must have the same
 *        type (an int64 and a uint64 column may mix when every value fits
 *        the one chosen; text and blob may mix).
 *
 * The rows go in COM_STMT_BULK_EXECUTE packets (MariaDB 10.2 and later),
 * split so that each stays under the server's max_allowed_packet (asked
 * once per connection). Chunks run in order on one connection. Each chunk is
 * one statement on the server: when it fails, a transactional table (InnoDB)
 * keeps none of its rows, a non-transactional one (MyISAM) keeps the rows
 * before the failing one. The chunks are not one transaction: when chunk k
 * fails, the chunks before it stay done (run it on a pinned connection
 * inside BEGIN ... COMMIT for all or nothing).
 *
 * Returns a future as amy_query does. On AMY_OK its result has no rows and
 * amy_result_affected_rows is the total over every chunk;
 * amy_result_insert_id is the first generated id. It resolves AMY_EINVAL
 * when ncols is not the number of placeholders, a column mixes types, a
 * value is invalid, or one row alone is larger than max_allowed_packet (then
 * nothing was sent); AMY_ESERVER with the server's error (e.g. 1062) when a
 * chunk fails, with a result whose affected_rows counts the chunks that
 * succeeded before it. nrows 0 resolves AMY_OK at once with 0 rows.
 */
AMY_EXPORT amy_future *amy_exec_batch(amy_pool *pool, const char *sql,
                                      const amy_value *rows, size_t nrows,
                                      size_t ncols);

/* ------------------------------------------------------------------------ */
/* Streaming                                                                */
/* ------------------------------------------------------------------------ */

/*
 * A row of a streamed result: ncols values (NULL for SQL NULL) and their
 * lengths, valid only during the call. f is the stream's future (to pause,
 * cancel or free it, or read its columns with amy_stream_columns); arg is
 * amy_query_stream's.
 */
typedef void (*amy_row_cb)(amy_future *f, const char *const *values,
                           const size_t *lengths, size_t ncols, void *arg);

/*
 * amy_query_stream - run sql and hand its rows to on_row as they arrive,
 * without buffering the result set: memory stays bounded however many rows
 * there are.
 *
 * The query has its connection to itself while it streams (nothing is
 * pipelined behind it). on_row runs on the loop's thread; it may call
 * amy_stream_pause, start queries, or cancel or free the future (the rest of
 * the rows are then read and dropped in the background, and the statement is
 * killed on the server), but must not call amy_future_wait (refused: see
 * "Mistakes" at the top).
 *
 * The future resolves AMY_OK at the end, with a result whose
 * amy_result_affected_rows is the number of rows delivered, with the
 * columns of the rows (amy_result_ncols, amy_result_colname, ...) and no
 * rows of its own (a multi-statement query: one such result per result
 * set, chained by amy_result_next), or with an error as amy_query's (the
 * rows already delivered stay delivered). The pool's query_timeout_ms is a deadline for the
 * whole stream, counted from this call to its last row, as for any query:
 * a longer stream ends AMY_ETIMEDOUT (and is killed on the server);
 * amy_future_set_timeout(f, 0) lifts it for this stream, or sets its own.
 * Returns NULL on ENOMEM; AMY_EINVAL at once for a NULL on_row.
 */
AMY_EXPORT amy_future *amy_query_stream(amy_pool *pool, const char *sql,
                                        amy_row_cb on_row, void *arg);

/*
 * amy_stream_pause / amy_stream_resume - stop reading the stream's rows
 * from the socket (after the current one), and start again. While paused
 * the loop keeps serving everything else; the server blocks once the socket
 * buffers fill.
 *
 * No row is delivered inside either call: after amy_stream_resume the rows
 * come from the loop, at its next iteration (so code may clear its own
 * "paused" flag after the call). Called from on_row itself, pause takes
 * effect after that row and resume lets the rows go on without a stop.
 * Returns AMY_OK, or AMY_EINVAL when f is not a pending stream.
 */
AMY_EXPORT int amy_stream_pause(amy_future *f);
AMY_EXPORT int amy_stream_resume(amy_future *f);

/*
 * amy_stream_columns - the columns of the result set a stream is
 * delivering: a result with no rows, read with amy_result_ncols,
 * amy_result_colname, amy_result_colindex, amy_result_coltype,
 * amy_result_colflags and amy_result_colcharset (e.g. to write a CSV
 * header in the first on_row call).
 *
 * Available from the first row's on_row call (a multi-statement query:
 * each result set's own, from its first row); once the stream resolved
 * AMY_OK, its final result (the same columns, also for a result set with
 * no rows). NULL before the rows start, for a stream that failed, and when
 * f is not a stream. Owned by f: valid until the result set ends (while
 * pending) or until amy_future_free (resolved).
 */
AMY_EXPORT const amy_result *amy_stream_columns(const amy_future *f);

/* ------------------------------------------------------------------------ */
/* Pinned connections (transactions)                                        */
/* ------------------------------------------------------------------------ */

typedef struct amy_conn amy_conn;

/*
 * amy_pool_acquire - take one connection out of the pool for the caller.
 *
 * The future resolves AMY_OK when a connection with nothing in flight is
 * available (it waits in the pool's queue like a query, and counts against
 * `pool`); amy_future_conn then gives the handle. Every query sent through
 * the handle runs on that connection alone, in order: what a transaction
 * needs. Fails as amy_query does (AMY_ECONNECT, AMY_ECANCELED, ...).
 *
 * Returns a future owned by the caller, or NULL on ENOMEM.
 */
AMY_EXPORT amy_future *amy_pool_acquire(amy_pool *pool);

/*
 * amy_future_conn - the pinned connection of a resolved amy_pool_acquire
 * future; NULL otherwise. The caller owns it from the moment the future
 * resolved AMY_OK, and must give it back with amy_conn_release (freeing the
 * future does not).
 */
AMY_EXPORT amy_conn *amy_future_conn(const amy_future *f);

/*
 * amy_conn_query / amy_conn_query_params - as amy_query and
 * amy_query_params, on the pinned connection. Queries are pipelined on it
 * in the order given. If the connection dies, its pending queries fail with
 * AMY_ECONNLOST and so does every later one (the transaction is gone); it
 * is never given back to the pool.
 */
AMY_EXPORT amy_future *amy_conn_query(amy_conn *c, const char *sql);
AMY_EXPORT amy_future *amy_conn_query_params(amy_conn *c, const char *sql,
                                             const amy_value *params, size_t n);

/* amy_exec and amy_exec_batch on the pinned connection, in order with its
 * other queries (the statement cache is the connection's). */
AMY_EXPORT amy_future *amy_conn_exec(amy_conn *c, const char *sql,
                                     const amy_value *params, size_t n);
AMY_EXPORT amy_future *amy_conn_exec_batch(amy_conn *c, const char *sql,
                                           const amy_value *rows, size_t nrows,
                                           size_t ncols);

/* BEGIN, COMMIT, ROLLBACK on the pinned connection (amy_conn_query). */
AMY_EXPORT amy_future *amy_begin(amy_conn *c);
AMY_EXPORT amy_future *amy_commit(amy_conn *c);
AMY_EXPORT amy_future *amy_rollback(amy_conn *c);

/*
 * The steps of a transaction, for amy_transaction: queue them on c (any of
 * the amy_conn_* calls) and return one future that resolves when they are
 * all done and fails when one fails, with the failing step's server errno
 * (a deadlock's 1213 is what the runner retries on): one query, amy_gather
 * or amy_all of steps queued together, amy_chain for a step that needs the
 * one before (it stops by itself when canceled), or a promise resolved at
 * the end of callbacks of your own (fail it with amy_promise_fail_from(p,
 * step), which keeps the errno). A step the returned future does not cover
 * is not checked: its failure does not stop the COMMIT.
 *
 * c is lent for this attempt: use it only from the body and from callbacks
 * of steps queued on it, and queue nothing more once the returned future
 * has resolved (the runner goes on with COMMIT or ROLLBACK) or a step of
 * the attempt has failed. When the transaction ends from outside (canceled,
 * freed, timed out, its pool freed), the returned future is canceled and c
 * released at once: a chain must check that its future is still
 * AMY_PENDING before each step and stop otherwise (the future stays
 * readable until the transaction's future is freed; free that only once
 * the chain has stopped). arg is amy_transaction's.
 *
 * Returns the future, owned by the runner from then on (the caller must
 * not free it; it may read it in its own callbacks). NULL aborts the
 * transaction: it is rolled back and fails AMY_EINVAL ("the transaction's
 * body returned NULL"), as it does when the body means to give up.
 */
typedef amy_future *(*amy_txn_fn)(amy_conn *c, void *arg);

/*
 * amy_transaction - run body's steps in a transaction on a connection of
 * pool, and commit; run them again when the server gives up on the
 * transaction for a deadlock (1213) or a lock wait timeout (1205).
 *
 * pool:    the pool; a connection is pinned for the whole transaction
 *          (amy_pool_acquire: it waits for one like a query) and given back
 *          at the end (amy_conn_release).
 * body:    called once per attempt with the pinned connection and arg (see
 *          amy_txn_fn); not called before this returns.
 * retries: how many attempts may follow the first (0: one attempt only).
 *
 * Each attempt: autocommit is turned off (SET autocommit=0, once per
 * transaction, rather than BEGIN: after a deadlock InnoDB has rolled the
 * transaction back, and the steps pipelined behind the failed one must not
 * then run committed one by one, to be run again by the retry), body runs,
 * and when its future resolves AMY_OK, COMMIT runs. When the body's future
 * or the COMMIT (a Galera certification failure is a 1213 there) fails
 * with server errno 1213 or 1205 (for a gather: its first failure's errno),
 * ROLLBACK runs, and after a backoff body is called again, on the same
 * connection: 5 ms before the second attempt, doubling up to 200 ms, each
 * times a random factor in [0.5, 1). Any other failure is rolled back and
 * ends the transaction. The connection is given back with autocommit on
 * again (its reset does it, or with reset_on_release=0 a SET autocommit=1
 * once no transaction is open).
 *
 * The pool's query_timeout_ms bounds each statement (a step that times out
 * fails the transaction, AMY_ETIMEDOUT); amy_future_set_timeout on the
 * returned future bounds the whole transaction, backoffs included.
 *
 * Returns a future owned by the caller (amy_future_free), or NULL on
 * ENOMEM. A NULL pool or body gives a future already failed AMY_EINVAL.
 * It resolves:
 *   AMY_OK     committed; amy_future_result is the result of the body's
 *              future (its last step's rows, affected rows, insert id; no
 *              rows and no columns for a gather or a promise).
 *   an error   the transaction was rolled back (or never began), with the
 *              status, server errno, SQLSTATE and message of the step that
 *              failed: the body's future's as they are; the acquire's (e.g.
 *              AMY_ECONNECT) as they are; for the runner's own statements
 *              the message starts "COMMIT: " or "SET autocommit=0: ". After
 *              the last allowed retry of a 1213 or 1205 the message ends
 *              " (gave up after N attempts)". A failed COMMIT that is not a
 *              1213 (a lost connection, a timeout) leaves it unknown whether
 *              the server committed.
 *   AMY_ECANCELED / AMY_ETIMEDOUT  canceled, freed or past its deadline
 *              while running, or its pool freed (AMY_ECANCELED): the step
 *              in flight is canceled (KILL QUERY, as amy_future_cancel
 *              does), the connection is released at once and its release
 *              rolls the transaction back; once past a COMMIT already sent
 *              it is unknown whether the server committed.
 * Every outcome releases the connection exactly once; nothing the runner
 * made outlives the transaction.
 */
AMY_EXPORT amy_future *amy_transaction(amy_pool *pool, amy_txn_fn body,
                                       void *arg, unsigned retries);

/*
 * amy_conn_release - give the pinned connection back; c is invalid after.
 *
 * Queries already given to it still run (their futures stay the caller's).
 * When it is idle, the session is reset (reset_on_release=1, the default:
 * COM_RESET_CONNECTION drops user variables, temporary tables, session
 * settings, prepared statements and an open transaction, then the pool's
 * init statements run again), or with reset_on_release=0 a transaction left
 * open (the server's status says so) is rolled back; then the connection
 * serves the pool again. If the reset, init or rollback fails, the
 * connection is closed instead. c may be NULL. Release every handle before
 * amy_pool_free, or after it (it then only frees c; amy_pool_free says on
 * stderr how many it found not released).
 */
AMY_EXPORT void amy_conn_release(amy_conn *c);

/*
 * amy_future_set_tag / amy_future_tag - a pointer of the caller's on a
 * query's future (e.g. its trace span), for an observer to read through
 * amy_query_info.future, or for any other use. Not owned: amysql never
 * dereferences or frees it. set returns AMY_OK, AMY_EINVAL for a NULL
 * future, or AMY_ENOMEM (a future of a pool without an observer needs a
 * small allocation for it); tag returns NULL when none was set.
 */
AMY_EXPORT int amy_future_set_tag(amy_future *f, void *tag);
AMY_EXPORT void *amy_future_tag(const amy_future *f);

/* Callback type: f is the future that resolved, arg is the caller's pointer. */
typedef void (*amy_callback)(amy_future *f, void *arg);

/*
 * amy_future_then - run cb(f, arg) when f resolves.
 *
 * Callbacks run once, on the loop's thread, in the order they were added,
 * and never inside this call: if f has already resolved, cb runs from the
 * loop, at its next iteration (or, added from one of f's own callbacks,
 * right after the callbacks before it). A callback may free f or any other
 * future (freeing is deferred until callbacks finish), and may start new
 * queries.
 *
 * The one exception: amy_gather of zero futures has no loop, so cb runs at
 * once for it.
 *
 * Which calls run callbacks inside them: only amy_future_wait (it runs the
 * loop), amy_future_free (callbacks still due run before the memory goes)
 * and amy_pool_free (everything pending resolves). amy_future_cancel,
 * amy_future_then, amy_stream_resume, amy_conn_release and
 * amy_promise_resolve/fail leave them to the loop.
 *
 * Returns AMY_OK, AMY_EINVAL (f or cb is NULL) or AMY_ENOMEM; when it fails,
 * cb never runs.
 */
AMY_EXPORT int amy_future_then(amy_future *f, amy_callback cb, void *arg);

/*
 * amy_future_cancel - resolve a pending future with AMY_ECANCELED now.
 *
 * A queued query is never sent. A query already sent is stopped on the
 * server with KILL QUERY (sent on a separate connection); its connection
 * keeps serving the queries pipelined behind it, and the late answer is
 * dropped. A KILL that lands on the next query of that connection instead
 * (the first one finished meanwhile) is detected, and that query is sent
 * again: for a non-transactional table that can repeat its partial effect.
 * For a gather, only the gather is canceled; its children go on; a group
 * made with AMY_GROUP_CANCEL, a task group and a chain cancel theirs.
 * The outcome is fixed when this returns (amy_future_status reads
 * AMY_ECANCELED), but its callbacks run from the loop, at its next
 * iteration, not inside this call (amy_future_free runs them at once).
 *
 * Returns 1 if f was pending and is now canceled, 0 if it had already
 * resolved (nothing changes), AMY_EINVAL for NULL.
 */
AMY_EXPORT int amy_future_cancel(amy_future *f);

/*
 * amy_future_set_timeout - give a pending query a deadline of timeout_ms
 * from now, replacing the pool's query_timeout_ms for it; 0 removes it.
 * On expiry it behaves as amy_future_cancel but resolves AMY_ETIMEDOUT
 * (SQLSTATE HYT00), and its message says what it was waiting for: "query
 * timed out after 500 ms (it had been sent to the server)", or, still in
 * the pool's queue, "... waiting for a connection (N in the pool's queue):"
 * followed by the cause: every connection pinned by amy_pool_acquire and
 * none released, no connection could be opened (with the last connect
 * error), connections still connecting, or all of them busy.
 *
 * A group or a chain accepts one too (see amy_all, amy_chain).
 *
 * Returns AMY_OK, or AMY_EINVAL when f is NULL, not pending, or a gather.
 */
AMY_EXPORT int amy_future_set_timeout(amy_future *f, unsigned timeout_ms);

/*
 * amy_future_wait - run the future's loop until f resolves.
 *
 * Other watchers of the loop keep running meanwhile. May be called from a
 * callback (libev allows nested runs), but not for a future whose own
 * callbacks are running, nor inside a stream's on_row: those calls are
 * refused (see "Mistakes" at the top: a debug build aborts).
 *
 * Returns f's final status (see amy_query), or AMY_EINVAL for NULL, a
 * freed future, or a refused call.
 */
AMY_EXPORT int amy_future_wait(amy_future *f);

/*
 * amy_future_status - AMY_PENDING, AMY_OK, or a negative AMY_E* status.
 * AMY_EINVAL for NULL.
 */
AMY_EXPORT int amy_future_status(const amy_future *f);

/*
 * amy_future_result - the result of a future that resolved with AMY_OK.
 *
 * A query that produced several result sets (several statements with
 * multi_statements=1, or a CALL, which ends with a result set of no columns
 * for its status) gives the first; amy_result_next walks the others. When
 * statement k of such a query failed (AMY_ESERVER), the server ran nothing
 * after it, and this gives the result sets of the statements before k.
 *
 * Returns a result owned by f, valid until amy_future_free(f); NULL when f is
 * NULL, pending, a gather, or failed (apart from the case above).
 */
AMY_EXPORT const amy_result *amy_future_result(const amy_future *f);

/*
 * amy_future_error - the error message of a failed future.
 *
 * Server errors keep the server's text. Returns a string owned by f, valid
 * until amy_future_free(f); NULL when f is NULL, pending or succeeded.
 */
AMY_EXPORT const char *amy_future_error(const amy_future *f);

/*
 * amy_future_server_errno - the MySQL error number behind a failure, e.g.
 * 1064 for a syntax error or 2013 for a lost connection; 0 if there is none
 * (success, pending, NULL, or a failure of amysql's own such as a timeout).
 */
AMY_EXPORT unsigned amy_future_server_errno(const amy_future *f);

/*
 * amy_future_sqlstate - the five-character SQLSTATE behind a failure, e.g.
 * "42000"; "00000" on success or while pending; NULL when f is NULL. Owned
 * by f.
 *
 * A server error has the server's SQLSTATE, a connector error the
 * connector's (e.g. "HY000" for 2013, a lost connection). amysql's own
 * failures have "HYT00" (timeout expired) for AMY_ETIMEDOUT and "HY000"
 * (general error) for every other status (AMY_ECANCELED, AMY_EINVAL,
 * AMY_ENOMEM, AMY_EQUEUEFULL, AMY_ETOOBIG, AMY_EGATHER, ...).
 */
AMY_EXPORT const char *amy_future_sqlstate(const amy_future *f);

/*
 * amy_future_describe - one line for a log: the status's name, the MySQL
 * error number when there is one, the SQLSTATE of a failure, and the
 * message, e.g.
 *   "AMY_ESERVER 1146 (42S02): Table 'shop.nope' doesn't exist"
 *   "AMY_ETIMEDOUT (HY000): query timed out after 500 ms"
 *   "AMY_OK", "AMY_PENDING"
 *
 * buf, len: where to write it, as snprintf does: at most len bytes,
 * NUL-terminated when len > 0 (cut short if it does not fit); buf may be
 * NULL when len is 0, to learn the length. f NULL writes "NULL future".
 *
 * Returns the length of the whole line (without its NUL), so a result >=
 * len means it was cut short. Nothing is kept: buf is the caller's.
 */
AMY_EXPORT size_t amy_future_describe(const amy_future *f, char *buf,
                                      size_t len);

/*
 * amy_future_free - release a future and its result.
 *
 * A pending future is canceled first, as by amy_future_cancel: a queued
 * query is never sent, a sent one is stopped on the server with KILL QUERY
 * and its answer dropped; the future resolves AMY_ECANCELED and its
 * callbacks run before this returns, as do callbacks still due from the
 * loop (after amy_future_cancel or amy_future_then on a resolved future):
 * freeing never leaves work for a loop that may not run again. Safe inside
 * any callback, including f's own (the memory is released when the
 * callbacks return). f may be NULL. f is invalid after: freeing it again is
 * a double free, refused (see "Mistakes" at the top: a debug build aborts),
 * even while its callbacks still run.
 */
AMY_EXPORT void amy_future_free(amy_future *f);

/* ------------------------------------------------------------------------ */
/* Promises: futures the caller resolves                                    */
/* ------------------------------------------------------------------------ */

/*
 * amy_promise_new - a pending future that the caller resolves, to gather
 * work of its own (a cache lookup, an HTTP call, a timer) with queries,
 * chain callbacks on it, or wait for it (asyncio's Future.set_result).
 *
 * loop: the loop its callbacks run on (the pools' loop, to mix it with
 * their futures).
 *
 * It is a future like any other: amy_future_then, amy_future_wait,
 * amy_gather, amy_future_set_timeout (it resolves AMY_ETIMEDOUT),
 * amy_future_cancel (AMY_ECANCELED) and every getter work on it. Returns a
 * future owned by the caller, freed with amy_future_free (a pending one is
 * canceled first); NULL on ENOMEM or a NULL loop.
 */
AMY_EXPORT amy_future *amy_promise_new(struct ev_loop *loop);

/*
 * amy_promise_resolve / amy_promise_fail - resolve a pending promise with
 * AMY_OK (its result has no rows, no columns and 0 affected rows), or with
 * status, a negative AMY_E* value, and msg (copied; NULL: the status's own
 * text). Its SQLSTATE is HYT00 for AMY_ETIMEDOUT and HY000 otherwise; its
 * server errno 0.
 *
 * The outcome is fixed when the call returns (amy_future_status reads it),
 * but no callback runs inside the call: they run from the loop, at its
 * next iteration, without blocking it. Freeing the promise in between
 * runs them at once, as amy_future_free does.
 *
 * Returns AMY_OK; AMY_EINVAL when f is not a promise, is no longer pending
 * (resolved, canceled, timed out, freed), or status is not an AMY_E*
 * error; AMY_ENOMEM (resolve only: f stays pending).
 */
AMY_EXPORT int amy_promise_resolve(amy_future *f);
AMY_EXPORT int amy_promise_fail(amy_future *f, int status, const char *msg);

/*
 * amy_promise_fail_from - fail a pending promise with the error of the
 * failed future from: its status, server errno, SQLSTATE and message (all
 * copied; from stays the caller's). So a promise that stands for a chain of
 * queries passes on the step that failed as it is, e.g. a deadlock's 1213
 * to amy_transaction, which retries on it. Callbacks run from the loop, as
 * for amy_promise_fail.
 *
 * Returns AMY_OK; AMY_EINVAL when f is not a pending promise, or from is
 * NULL, f itself, or not failed.
 */
AMY_EXPORT int amy_promise_fail_from(amy_future *f, const amy_future *from);

/* ------------------------------------------------------------------------ */
/* Composing futures: groups and chains                                     */
/* ------------------------------------------------------------------------ */

/*
 * A group is a future over other futures (its children), as amy_gather is,
 * that resolves as soon as its kind decides: amy_all at the first failure
 * (Promise.all, asyncio.gather), amy_any at the first success
 * (Promise.any), amy_race at the first to resolve (Promise.race), a task
 * group (asyncio.TaskGroup) at its first failure or when it is closed and
 * all are done. A chain (amy_chain) runs a step that starts the next
 * future when one succeeds (a .then that returns a promise).
 *
 * Common rules:
 * - Children may be futures of any kind (queries, params, exec, batches,
 *   streams, acquires, promises, gathers, groups, chains), from any pools
 *   on the same loop, pending or already resolved.
 * - amy_all, amy_any and amy_race never own their children (the caller
 *   frees each one, before or after the group); a task group owns the
 *   children added to it and a chain the futures it runs.
 * - A group resolves once: by its kind, or from outside (amy_future_cancel:
 *   AMY_ECANCELED; its deadline, amy_future_set_timeout: AMY_ETIMEDOUT;
 *   amy_future_free while pending: AMY_ECANCELED). From then on it counts
 *   no child. With AMY_GROUP_CANCEL, the children still pending then are
 *   canceled as amy_future_cancel does (a queued query is never sent, a sent
 *   one is killed), whichever way the group resolved, before the group's
 *   callbacks run: they see those children as AMY_ECANCELED. The children's
 *   own callbacks may run before or after the group's.
 * - A group has no result. Its error is the deciding child's status,
 *   server errno, SQLSTATE and message (copied); amy_group_index says which
 *   child that was.
 * - Inside any callback (the group's, a child's, amy_group_on_child's, a
 *   chain's step), any future may be freed or canceled, the group included;
 *   freeing is deferred until the callbacks return, as everywhere.
 */

/* Flags of amy_all, amy_any and amy_race: AMY_GROUP_CANCEL cancels the
 * children still pending when the group resolves; AMY_GROUP_SETTLED
 * (amy_all only) waits for every child. */
#define AMY_GROUP_CANCEL  0x1u
#define AMY_GROUP_SETTLED 0x2u

/*
 * amy_all - a group that fails at its first failing child, or succeeds
 * once all n have succeeded (Promise.all; asyncio.gather without
 * return_exceptions).
 *
 * futures: n futures (not NULL, not being freed); the group does not own
 *          them. n: may be 0 (the group is then resolved with AMY_OK).
 * flags:   AMY_GROUP_CANCEL (see above); AMY_GROUP_SETTLED to wait for
 *          every child however each ends (Promise.allSettled): the group
 *          then resolves AMY_OK once all have, and the caller reads each.
 *
 * Children already resolved are counted now, in index order: a failed one
 * among them resolves the group before this returns (without a callback:
 * none is registered yet). Returns a new future owned by the caller, or
 * NULL when memory runs out, futures is NULL with n > 0, a child is NULL
 * or being freed, or flags has an unknown bit (nothing is registered on
 * the children then). Its status is AMY_OK, or the failed child's status
 * (AMY_ESERVER, AMY_ECANCELED for a child canceled or freed while pending,
 * ...), or AMY_ECANCELED / AMY_ETIMEDOUT from outside.
 */
AMY_EXPORT amy_future *amy_all(amy_future *const *futures, size_t n,
                               unsigned flags);

/*
 * amy_any - a group that succeeds at its first successful child, or fails
 * once all have failed, with the first failure's status, errno, SQLSTATE
 * and message (first in completion order; for children already resolved
 * when it is made, in index order) (Promise.any).
 *
 * futures, n, flags: as amy_all, with n > 0 and without AMY_GROUP_SETTLED
 * (AMY_GROUP_CANCEL cancels the losers once one succeeded). Returns as
 * amy_all does (NULL for n == 0 too). amy_group_index gives the winner, or
 * the first failure.
 */
AMY_EXPORT amy_future *amy_any(amy_future *const *futures, size_t n,
                               unsigned flags);

/*
 * amy_race - a group that resolves with the first child to resolve,
 * whatever its status (Promise.race; asyncio.wait(FIRST_COMPLETED)).
 *
 * futures, n, flags: as amy_any (AMY_GROUP_CANCEL cancels the losers). The
 * first child already resolved (lowest index) wins at once. Returns as
 * amy_any does. The status is the winner's (AMY_OK or its error);
 * amy_group_index gives the winner.
 */
AMY_EXPORT amy_future *amy_race(amy_future *const *futures, size_t n,
                                unsigned flags);

/*
 * amy_group_new - an empty task group (asyncio.TaskGroup): children are
 * added with amy_group_add, also from callbacks while it runs; its first
 * failing child resolves it with that child's error and cancels the others;
 * once amy_group_close was called and every child succeeded, it resolves
 * AMY_OK. amy_future_cancel, a deadline (amy_future_set_timeout) or
 * amy_future_free while pending cancel every pending child.
 *
 * loop: the loop of its children (and of its callbacks).
 *
 * Its callbacks never run inside amy_group_add or amy_group_close: a group
 * they complete resolves from the loop (its status is set at once). The
 * group owns its children: amy_future_free of the group frees them (each
 * stays valid until then, e.g. to read its result in the group's
 * callback); never free one yourself. Returns a future owned by the
 * caller, or NULL on ENOMEM or a NULL loop.
 */
AMY_EXPORT amy_future *amy_group_new(struct ev_loop *loop);

/*
 * amy_group_add - add child to the task group g, which takes it over in
 * every case: on failure the child is freed (canceled first if pending).
 *
 * child: a future of g's loop (or one resolved without a loop, such as
 *        amy_query's AMY_EINVAL futures), pending or resolved, not already
 *        in g; NULL gives AMY_EINVAL (so amy_group_add(g, amy_query(...))
 *        reports the ENOMEM of amy_query as AMY_EINVAL). A child already
 *        resolved is counted from the loop, never inside this call.
 *
 * Returns the child's index in g (0, 1, 2... in the order added; see
 * amy_group_child), AMY_EINVAL when g is not a task group, has resolved or
 * was closed, child is NULL, being freed, g itself or of another loop,
 * or AMY_ENOMEM.
 */
AMY_EXPORT int amy_group_add(amy_future *g, amy_future *child);

/*
 * amy_group_close - no more children will be added to the task group g:
 * it resolves AMY_OK once those it has all succeeded (at once, from the
 * loop, if they had). Until then, a task group never succeeds, even with no
 * child pending. Closing twice does nothing.
 *
 * Returns AMY_OK, or AMY_EINVAL when g is not a task group.
 */
AMY_EXPORT int amy_group_close(amy_future *g);

/* Callback type of amy_group_on_child: child, the index-th of group g, has
 * resolved. */
typedef void (*amy_child_callback)(amy_future *g, amy_future *child,
                                   size_t index, void *arg);

/*
 * amy_group_on_child - call cb once for each child of g in the order they
 * resolve (asyncio.as_completed), with its index, from the moment of this
 * call until g resolves: the child that decides g is reported, before g's
 * callbacks; a child g canceled is not. Children that had resolved before
 * (counted when g was made) are not reported; a task group's children
 * added resolved are (from the loop). Use amy_all with AMY_GROUP_SETTLED
 * to hear of every child. Setting it again replaces it; cb NULL removes
 * it.
 *
 * Inside cb, child and g are valid; cb may free or cancel either (or any
 * other future), and add children to a task group.
 *
 * Returns AMY_OK, or AMY_EINVAL when g is not a group or is being freed.
 */
AMY_EXPORT int amy_group_on_child(amy_future *g, amy_child_callback cb,
                                  void *arg);

/*
 * amy_group_index - the index of the child that decided a resolved group:
 * amy_all's failed child, amy_any's winner (or first failure when all
 * failed), amy_race's winner, a task group's failed child. -1 when no child
 * decided it (all succeeded, AMY_GROUP_SETTLED, canceled, timed out), when
 * g is pending, or is not a group.
 */
AMY_EXPORT long amy_group_index(const amy_future *g);

/*
 * amy_group_size / amy_group_child - how many children g has, and its i-th
 * (in the order given or added), or 0 / NULL when g is not a group (or i
 * is out of range). The child is owned as said above (by the caller for
 * amy_all, amy_any and amy_race, by a task group for its own).
 */
AMY_EXPORT size_t amy_group_size(const amy_future *g);
AMY_EXPORT amy_future *amy_group_child(const amy_future *g, size_t i);

/* Callback type of amy_chain: prev succeeded; return the next future. */
typedef amy_future *(*amy_step)(amy_future *prev, void *arg);

/*
 * amy_chain - a future for "first, then what step starts with its
 * outcome" (a .then whose callback returns a promise): e.g. read an id,
 * then query by it.
 *
 * first: the future to wait on; the chain takes it over (never use or
 *        free it afterwards). NULL (its constructor ran out of memory)
 *        gives NULL.
 * step:  called once, from the loop, when first succeeds, with first
 *        (valid during the call only: the chain frees it right after) and
 *        arg; returns the next future, which the chain takes over, or
 *        NULL (the chain fails AMY_ENOMEM), or prev itself (the chain ends
 *        with prev's outcome). It may start queries, free or cancel any
 *        future (the chain included: the returned future is then freed).
 *
 * The chain resolves with the outcome of its last future: first's when
 * first failed (step never runs: errors short-circuit), else the future
 * step returned. It takes that future's status, server errno, SQLSTATE,
 * message and result (moved: amy_future_result(chain) has it) and frees it;
 * an acquire's pinned connection is not carried over (use it in a step).
 * Canceling, timing out (amy_future_set_timeout) or freeing a pending
 * chain frees (so cancels) the future it is waiting on. For longer chains,
 * chain a chain: amy_chain(amy_chain(q, step1, a), step2, a).
 *
 * Returns a future owned by the caller, or NULL when first is NULL or
 * being freed, step is NULL, or memory runs out (first is freed then,
 * except when it was being freed already). step never runs inside this
 * call, unless first resolved without a loop (amy_all of nothing).
 */
AMY_EXPORT amy_future *amy_chain(amy_future *first, amy_step step, void *arg);

/* ------------------------------------------------------------------------ */
/* Results                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * A result is read-only and owned by its future. Every pointer below is valid
 * until the future is freed. Out-of-range rows or columns give NULL (and
 * *len = 0); a NULL result gives 0 / NULL.
 */

/* Number of rows (0 for statements without a result set, such as INSERT). */
AMY_EXPORT size_t amy_result_nrows(const amy_result *r);

/* Number of columns (0 for statements without a result set). */
AMY_EXPORT size_t amy_result_ncols(const amy_result *r);

/* Name (alias) of column col, NUL-terminated; NULL when out of range. */
AMY_EXPORT const char *amy_result_colname(const amy_result *r, size_t col);

/*
 * amy_result_colindex - the index of the column named name (its alias, as
 * amy_result_colname gives it), compared as MySQL compares column names:
 * ASCII letters in any case. The first such column when several have the
 * same name (`SELECT a.id, b.id ...`: alias them apart).
 *
 * Returns the index, or -1 when no column has that name, r or name is NULL,
 * or r has no columns.
 */
AMY_EXPORT long amy_result_colindex(const amy_result *r, const char *name);

/*
 * amy_result_value - the value at (row, col) in the text protocol's form
 * (also for amy_exec's binary results, which are written the same way).
 *
 * len: if not NULL, receives the length in bytes (0 for SQL NULL).
 *
 * Returns NULL for SQL NULL (and out of range); otherwise a pointer to len
 * bytes followed by a NUL terminator. Values are binary-safe: embedded NUL
 * bytes are kept, so use len for BLOBs. The empty string is a non-NULL
 * pointer with len 0.
 */
AMY_EXPORT const char *amy_result_value(const amy_result *r, size_t row,
                                        size_t col, size_t *len);

/*
 * amy_result_next - the result set of the next statement of the same query,
 * NULL after the last. Owned by the same future as r.
 */
AMY_EXPORT const amy_result *amy_result_next(const amy_result *r);

/* Rows changed by an INSERT/UPDATE/DELETE; for a SELECT, the number of rows. */
AMY_EXPORT uint64_t amy_result_affected_rows(const amy_result *r);

/* The AUTO_INCREMENT value the statement generated, 0 if none. */
AMY_EXPORT uint64_t amy_result_insert_id(const amy_result *r);

/*
 * Column types, as the server reports them (the values of MySQL's
 * enum_field_types).
 */
enum {
    AMY_COL_DECIMAL = 0,
    AMY_COL_TINY = 1,
    AMY_COL_SHORT = 2,
    AMY_COL_LONG = 3,
    AMY_COL_FLOAT = 4,
    AMY_COL_DOUBLE = 5,
    AMY_COL_NULL = 6,
    AMY_COL_TIMESTAMP = 7,
    AMY_COL_LONGLONG = 8,
    AMY_COL_INT24 = 9,
    AMY_COL_DATE = 10,
    AMY_COL_TIME = 11,
    AMY_COL_DATETIME = 12,
    AMY_COL_YEAR = 13,
    AMY_COL_VARCHAR = 15,
    AMY_COL_BIT = 16,
    AMY_COL_JSON = 245,
    AMY_COL_NEWDECIMAL = 246,
    AMY_COL_ENUM = 247,
    AMY_COL_SET = 248,
    AMY_COL_TINY_BLOB = 249,
    AMY_COL_MEDIUM_BLOB = 250,
    AMY_COL_LONG_BLOB = 251,
    AMY_COL_BLOB = 252,
    AMY_COL_VAR_STRING = 253,
    AMY_COL_STRING = 254,
    AMY_COL_GEOMETRY = 255
};

/* Column flags, as the server reports them. */
#define AMY_COLFLAG_NOT_NULL       1u
#define AMY_COLFLAG_PRI_KEY        2u
#define AMY_COLFLAG_UNIQUE_KEY     4u
#define AMY_COLFLAG_MULTIPLE_KEY   8u
#define AMY_COLFLAG_BLOB           16u
#define AMY_COLFLAG_UNSIGNED       32u
#define AMY_COLFLAG_ZEROFILL       64u
#define AMY_COLFLAG_BINARY         128u
#define AMY_COLFLAG_AUTO_INCREMENT 512u

/* The type of column col (an AMY_COL_* value), -1 when out of range. */
AMY_EXPORT int amy_result_coltype(const amy_result *r, size_t col);

/* The AMY_COLFLAG_* bits of column col, 0 when out of range. */
AMY_EXPORT unsigned amy_result_colflags(const amy_result *r, size_t col);

/* The character set number of column col (63 is binary), 0 when out of
 * range. */
AMY_EXPORT unsigned amy_result_colcharset(const amy_result *r, size_t col);

/*
 * amy_result_int64 / _uint64 / _double - the value at (row, col) as a
 * number, converted exactly or not at all.
 *
 * out: receives the value on AMY_OK; untouched otherwise.
 *
 * Integers must be written as integers ("1.5" or "1e3" is AMY_ETYPE, not 1);
 * BIT columns are read as big-endian unsigned numbers. Doubles are parsed
 * independently of the C locale.
 *
 * Returns AMY_OK; AMY_ENULL for SQL NULL; AMY_ERANGE when the number does
 * not fit (a negative number for _uint64, beyond INT64 or UINT64, beyond
 * the range of a double); AMY_ETYPE when the value is not a number of that
 * kind; AMY_EINVAL when r or out is NULL or row/col is out of range.
 */
AMY_EXPORT int amy_result_int64(const amy_result *r, size_t row, size_t col,
                                int64_t *out);
AMY_EXPORT int amy_result_uint64(const amy_result *r, size_t row, size_t col,
                                 uint64_t *out);
AMY_EXPORT int amy_result_double(const amy_result *r, size_t row, size_t col,
                                 double *out);

/*
 * amy_result_time - the value at (row, col) of a DATE, DATETIME, TIMESTAMP
 * or TIME column as an amy_time, read exactly or not at all (the fields as
 * amy_val_time takes them: see amy_time).
 *
 * out: receives the value on AMY_OK; untouched otherwise. DATE fills year,
 * month and day; DATETIME and TIMESTAMP also the clock and microsecond;
 * TIME fills negative, hour (0..838: hours past 24 stay in hour, day is
 * 0), minute, second and microsecond. A zero date ('0000-00-00') reads as
 * zeros. TIMESTAMP is in the session's time zone, as the server wrote it.
 *
 * Returns AMY_OK; AMY_ENULL for SQL NULL; AMY_ETYPE when the column is of
 * another type (a string that looks like a date is still a string) or the
 * text is not in the server's form; AMY_EINVAL when r or out is NULL or
 * row/col is out of range.
 */
AMY_EXPORT int amy_result_time(const amy_result *r, size_t row, size_t col,
                               amy_time *out);

#ifdef __cplusplus
}
#endif

#endif /* AMYSQL_H */
