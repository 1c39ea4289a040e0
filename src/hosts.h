/*
 * The hosts of a pool (internal): the DSN's host list, each host's address,
 * connection settings, role and place on the deny list, and which host a
 * new connection goes to. Knows no pool: the pool keeps an amy__hosts and
 * asks it.
 *
 * A host's role is learned by a probe on each new connection and again
 * every role_check_ms (pool.c sends them; amy__hosts_probe_sql is the
 * statement, amy__hosts_role_of reads its answer):
 *
 *   UNKNOWN --probe: read_only=0 (and wsrep ready, on Galera)--> PRIMARY
 *           --probe: read_only=1 or innodb_read_only=1--> STANDBY
 *           --probe: wsrep_on but not wsrep_ready, or the probe failed-->
 *             UNAVAILABLE
 *   any role --a write refused with 1290 (read-only)--> UNKNOWN (re-probed)
 *
 * Deny list: a failed connect puts its host there for an exponential
 * backoff with jitter (50 ms doubling to 5 s), the same as a one-host
 * pool's; a successful one takes it off.
 */
#ifndef AMY_HOSTS_H
#define AMY_HOSTS_H

#include <ev.h>
#include <stdint.h>

#include "amysql.h"
#include "conn.h"
#include "dsn.h"

typedef struct amy__host {
    char *name;          /* as the DSN gives it ("localhost" for a socket) */
    unsigned port;       /* 0 for a Unix socket */
    char *addr;          /* what the connector gets: an IP, or "localhost" */
    char *endpoint;      /* "name:port" or the socket, for messages */
    char *resolve_error; /* set when the name did not resolve */
    amy__conn_cfg cfg;   /* the pool's settings with this host's address */
    int role;            /* AMY_ROLE_* */
    ev_tstamp role_at;   /* when it was last learned (0: never) */
    /* Connections to it, as the pool counts them. */
    unsigned nconns, nconnecting;
    /* Deny list. */
    unsigned attempts;       /* failed connects in a row */
    ev_tstamp denied_until;  /* no new connection before */
    unsigned char permanent; /* its last failure cannot fix itself */
    uint64_t connects, failures;
    char *last_error;
    struct amy__killer *killer; /* the pool's KILL channel to it */
} amy__host;

typedef struct amy__hosts {
    amy__host *h;
    unsigned n;
    unsigned tsa;    /* enum amy__tsa */
    unsigned random; /* load_balance_hosts=random */
    unsigned rng;
    /* A role learned this long ago, of a host with no connection, is
     * guessed again (UNKNOWN): it may have changed (role_check_ms). */
    ev_tstamp role_ttl;
} amy__hosts;

/*
 * Fills hs from the DSN's host list (or its socket): each host resolved
 * now (a blocking lookup for a name; an address needs none) and given
 * base with its own host, port, endpoint and TLS name. Returns 0, or -1 on
 * ENOMEM. A name that does not resolve is not an error here: that host's
 * resolve_error says why and it is never chosen.
 */
int amy__hosts_init(amy__hosts *hs, const amy__dsn *d,
                    const amy__conn_cfg *base, int verify_identity);
void amy__hosts_free(amy__hosts *hs);

/* Whether the pool needs roles: a session attribute other than any, or
 * several hosts (a Galera node that is not ready must not be used). */
int amy__hosts_need_roles(const amy__hosts *hs);

/* Whether a connection to host i may serve the pool now (its role and the
 * pool's target_session_attrs; prefer-standby takes a primary only while
 * no standby is up). UNKNOWN is acceptable until probed. 1 yes, 0 no (the
 * connection should go), -1 not yet: prefer-standby's primary while a
 * host that may be a standby is being connected to and probed. */
int amy__hosts_acceptable(const amy__hosts *hs, unsigned i, ev_tstamp now);

/*
 * The host a new connection goes to now, or -1 when none may be tried
 * (every candidate on the deny list or of the wrong role): in list order
 * (load_balance_hosts=disable) or the acceptable host with the fewest
 * connections, ties drawn at random (random).
 */
int amy__hosts_pick(amy__hosts *hs, ev_tstamp now);

/* The earliest moment a host now denied may be tried (0: none denied). */
ev_tstamp amy__hosts_next_try(const amy__hosts *hs);

/* A connect to host i succeeded / failed (err_no, msg: the connect's). A
 * failure returns whether another host may still be tried later (0: every
 * host failed permanently: the queue should fail now). */
void amy__hosts_connected(amy__hosts *hs, unsigned i);
int amy__hosts_failed(amy__hosts *hs, unsigned i, unsigned err_no,
                      const char *msg, int permanent, ev_tstamp now);

/* The statement a probe sends, and its answer read into a role. */
extern const char amy__hosts_probe_sql[];
int amy__hosts_role_of(const amy_result *r);

/* Whether a standby host is up (known STANDBY, not denied). */
int amy__hosts_standby_up(const amy__hosts *hs, ev_tstamp now);

#endif
