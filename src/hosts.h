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
#include <stddef.h>
#include <stdint.h>

#include "amysql.h"
#include "conn.h"
#include "dsn.h"

/* One address a host's connections were given: the host's settings with
 * that address, and the KILL channel to it (a KILL must reach the server
 * the connection is on). */
typedef struct amy__hostaddr {
    struct amy__hostaddr *next;
    char *addr;                 /* an IP, or "localhost" (the socket) */
    amy__conn_cfg cfg;          /* what a connection to it is told */
    struct amy__killer *killer; /* the pool's, made on first need */
} amy__hostaddr;

typedef struct amy__host {
    char *name;        /* as the DSN gives it ("localhost" for a socket) */
    unsigned port;     /* 0 for a Unix socket */
    char *addr;        /* a numeric host's address (NULL for a name) */
    char *endpoint;    /* "name:port" or the socket, for messages */
    amy__conn_cfg cfg; /* the pool's settings for this host (no address) */
    /* A name, looked up by the pool's resolver (resolve.c) before each new
     * connection and every dns_ttl_ms; a numeric host has one address. */
    unsigned char named, resolving;
    struct amy__lookup *lookup; /* in flight */
    char **answer;              /* the last answer's addresses */
    size_t nanswer;
    amy__hostaddr *addrs; /* every address given out, newest first */
    int role;             /* AMY_ROLE_* */
    ev_tstamp role_at;    /* when it was last learned (0: never) */
    /* Connections to it, as the pool counts them. */
    unsigned nconns, nconnecting;
    /* Deny list. */
    unsigned attempts;       /* failed connects in a row */
    ev_tstamp denied_until;  /* no new connection before */
    unsigned char permanent; /* its last failure cannot fix itself */
    uint64_t connects, failures;
    char *last_error;
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
 * Fills hs from the DSN's host list (or its socket): each host gets base
 * with its own port, endpoint and TLS name; a numeric host (or the
 * socket) its one address, a name none until the pool's resolver answers
 * (named). Returns 0, or -1 on ENOMEM. No lookup happens here.
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

/* The settings for a connection to host h at addr (made on first use, kept
 * with the host). NULL on ENOMEM. */
amy__hostaddr *amy__hosts_addr(amy__host *h, const char *addr);

/* The hostaddr whose cfg a connection was given. */
static inline amy__hostaddr *amy__hosts_addr_of(const amy__conn_cfg *cfg)
{
    return (amy__hostaddr *)(void *)((char *)(uintptr_t)cfg -
                                     offsetof(amy__hostaddr, cfg));
}

/* A named host's new answer (copied); whether addr is in its last one
 * (always for a numeric host, and before any answer). */
int amy__hosts_set_answer(amy__host *h, const char *const *addrs, size_t n);
int amy__hosts_in_answer(const amy__host *h, const char *addr);

/* The statement a probe sends, and its answer read into a role. */
extern const char amy__hosts_probe_sql[];
int amy__hosts_role_of(const amy_result *r);

/* Whether a standby host is up (known STANDBY, not denied). */
int amy__hosts_standby_up(const amy__hosts *hs, ev_tstamp now);

#endif
