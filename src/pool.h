/* Pool: queue, lazy connections, dispatch. Internal. */
#ifndef AMY_POOL_H
#define AMY_POOL_H

#include <ev.h>

#include "amysql.h"
#include "auth.h"
#include "conn.h"
#include "dial.h"
#include "dsn.h"
#include "hosts.h"
#include "resolve.h"
#include "kill.h"
#include "list.h"
#include "observe.h"
#include "op.h"
#include "owner.h"
#include "queue.h"
#include "tls.h"
#include "turns.h"

/* Something that must hear when the pool is freed (a pinned handle):
 * pool_gone returns 1 when its user still holds it (not released). */
typedef struct amy__lease {
    amy__link link;
    int (*pool_gone)(struct amy__lease *l);
} amy__lease;

/* The argument of host `host`'s lookups. */
struct amy__dnsarg {
    amy_pool *p;
    unsigned host;
};

struct amy_pool {
    struct ev_loop *loop;
    amy__dsn dsn;
    amy__hosts hosts;    /* the DSN's hosts: addresses, roles, deny list */
    amy__turns turns;    /* its connections' reads past a budget (turns.h) */
    unsigned char roles; /* amy__hosts_need_roles: probes and role checks */
    amy__conn_cfg cfg;   /* what its connections are told (each host's cfg
                            adds its address) */
    /* The multibyte characters of its charset (mb_valid of the connector's
     * charset), NULL for single bytes: placeholders are counted with them */
    unsigned int (*mbchar)(const char *p, const char *end);
    amy__tls_cfg tls;              /* the DSN's ssl_* keys, checked */
    char auth[AMY__AUTH_LIST_MAX]; /* the plugins allowed (auth.h) */
    amy__dialer *dialer;           /* connects those that may use TLS; NULL when
                            ssl_mode=disabled */

    amy__link conns; /* every connection (c->olink), lent ones too */
    unsigned nconns, nconnecting, nidle;
    unsigned nlent; /* connections lent to another owner (pinned) */
    amy__link idle; /* READY connections of its own, nothing in flight
                       (c->oidle) */

    amy__queue q;     /* futures not yet sent, FIFO */
    amy__link leases; /* amy__lease: told when the pool is freed */

    ev_prepare kick_watcher; /* hands out queued work before the next poll */
    ev_idle kick_idle;       /* keeps that poll from blocking meanwhile */
    unsigned char kicking, rekick, freeing;

    /* Outages: while no connection can be opened, queued futures wait up
     * to connect_timeout_ms, and attempts back off exponentially. */
    ev_timer retry_timer; /* the next host that may be tried (hosts.h) */
    unsigned attempts;    /* failed connects in a row, any host */
    unsigned reopen;      /* lost or failed connections not yet replaced */
    unsigned last_err_no;
    char last_sqlstate[6];
    char *last_error; /* "could not connect to ...: ..." */
    unsigned rng;

    ev_timer idle_sweep; /* idle_timeout_ms */
    ev_timer role_timer; /* role_check_ms: re-probes idle connections */
    /* Names (hosts.h's named hosts): looked up before each new connection
     * and every dns_ttl_ms (dns_timer); NULL when every host is numeric. */
    amy__resolver *resolver;
    struct amy__dnsarg *dnsargs; /* one per host: the lookups' arg */
    ev_timer dns_timer;
    unsigned long next_serial;

    amy_stats stats;  /* the counters; the gauges are computed */
    amy__observe obs; /* histograms, and the observer if one is set */
};

/* The pool as its connections' owner (owner.h); self is the pool. A
 * pinned handle forwards what is not its own business here. */
extern const amy__owner_ops amy__pool_owner;

/*
 * A new query future of kind op for pool p, checked as amy_query checks
 * (NULL pool or sql, empty or over 4 GiB, pool being freed, placeholders
 * against n parameters; queue_max unless pinned), with `extra` bytes for
 * the op (f->data). A future failed already when a check fails; NULL on
 * ENOMEM. Not queued yet: the caller completes it, then amy__pool_enqueue.
 */
amy_future *amy__pool_make(amy_pool *p, const amy__op *op, const char *sql,
                           size_t len, const amy_value *params, size_t n,
                           size_t extra, int pinned);

/* Queues f on q (the pool's, or a pinned handle's), with the pool's
 * query_timeout_ms unless f is an acquire, and schedules a kick. */
void amy__pool_enqueue(amy_pool *p, amy__queue *q, amy_future *f);

/* amy__pool_make + amy__pool_enqueue, for q (NULL: the pool's queue). */
amy_future *amy__pool_submit(amy_pool *p, amy__queue *q, const amy__op *op,
                             const char *sql, size_t len,
                             const amy_value *params, size_t n);

/* The same for amy_exec (batch 0: one row of ncols values) and
 * amy_exec_batch (nrows rows): the values are checked first. */
amy_future *amy__pool_submit_exec(amy_pool *p, amy__queue *q, const char *sql,
                                  const amy_value *v, size_t nrows,
                                  size_t ncols, int batch);

/* A future already failed with status and msg (p may be NULL). */
amy_future *amy__pool_failed(amy_pool *p, int status, const char *msg);

/* The hooks of the pool's query futures (future.h): they leave the queue
 * or slot, count in the stats. */
extern const amy__fops amy__pool_fops;

/* c broke (an owner's lost hook): why, kept for the observer's
 * conn_closed event. */
void amy__pool_note_lost(amy__conn *c, const amy__why *why);

/* Hands out queued work before the loop next polls; also looks at the
 * connections lent out. */
void amy__pool_schedule_kick(amy_pool *p);

/* c (taken from the pool) now has another owner / comes back to the pool
 * (its owner is the pool again from now on). */
void amy__pool_lend(amy_pool *p, amy__conn *c);
void amy__pool_take_back(amy_pool *p, amy__conn *c);

/* l hears when the pool is freed, unless it unlinks itself first
 * (amy__list_remove(&l->link)). */
void amy__pool_add_lease(amy_pool *p, amy__lease *l);

#endif
