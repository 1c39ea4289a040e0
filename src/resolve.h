/*
 * The resolver: host names to addresses without blocking the loop. Internal.
 *
 * c-ares does the DNS, driven by the caller's libev loop (its sockets are
 * ev_io watchers, its retransmission timeouts one ev_timer; no thread).
 * Answers are cached for a short time, so that a pool opening many
 * connections asks once, and yet notices within that time when a name
 * moves to another server (a failover behind DNS). A lookup while one for
 * the same name is in flight joins it: one query however many ask.
 *
 * Addresses are numeric text ("10.0.0.7", "2001:db8::7"), which is what
 * the connector takes: given one, it does no lookup of its own. IPv4 and
 * IPv6 both (A and AAAA; at most 16), in c-ares's order: RFC 6724's
 * destination address selection, as getaddrinfo sorts them (reachable
 * families and matching scopes first), duplicates dropped.
 *
 * Only the loop's thread calls these functions; callbacks run on it.
 */
#ifndef AMY_RESOLVE_H
#define AMY_RESOLVE_H

#include <ev.h>
#include <stddef.h>

/* How long an answer is reused when the configuration does not say
 * (PgBouncer's dns_max_ttl). */
#define AMY__RESOLVE_TTL_MS 15000u

/* The longest name looked up (RFC 1035's 255 bytes on the wire, less the
 * length of the first label and the root; a trailing dot is not counted). */
#define AMY__RESOLVE_NAME_MAX 253

typedef struct amy__resolver amy__resolver;
typedef struct amy__lookup amy__lookup;

typedef struct amy__resolver_cfg {
    /* NULL or "": the system's servers (resolv.conf). Else
     * "ip[:port][,ip[:port]...]", IPv6 as "[::1]:53" (a DSN key, and
     * tests). With servers given, resolv.conf's search domains are not
     * used either: names are looked up as given. The hosts file is still
     * read first, as the system does. */
    const char *servers;
    /* The longest an answer is reused; 0: AMY__RESOLVE_TTL_MS. A record
     * with a shorter TTL is reused for that TTL, but at least a second (a
     * TTL of 0, which the hosts file and some service registries give,
     * would otherwise mean one query per connection opened). Failures are
     * not cached. */
    unsigned ttl_ms;
    /* How long the first try waits for an answer (later tries wait
     * longer, as c-ares doubles it), and how many tries in all; 0: the
     * system's (resolv.conf's timeout: and attempts:, else c-ares's 5 s
     * and 4). A caller with a deadline of its own cancels the lookup. */
    unsigned timeout_ms;
    unsigned tries;
} amy__resolver_cfg;

/*
 * A resolver on loop. cfg may be NULL (all defaults); its strings are not
 * kept. Returns NULL with a message in err (if errlen > 0): out of memory,
 * a servers list c-ares does not take, or no usable system configuration.
 */
amy__resolver *amy__resolver_new(struct ev_loop *loop,
                                 const amy__resolver_cfg *cfg, char *err,
                                 size_t errlen);

/*
 * Frees r. Every lookup not yet called back is called back now, from
 * inside this call, with AMY_ECANCELED (each exactly once, as everywhere in
 * amysql), then its handle is gone; queries in flight are dropped. During
 * those callbacks amy__resolve refuses (NULL) and amy__lookup_cancel works.
 * Called from inside a lookup's callback, it takes effect when that
 * callback returns. r may be NULL.
 */
void amy__resolver_free(amy__resolver *r);

/*
 * The answer for one lookup, on the loop, never inside amy__resolve:
 *   status AMY_OK: addrs[0..naddrs) (naddrs >= 1), numeric text; err NULL.
 *   AMY_EINVAL: name is not a host name (empty, too long, a label longer
 *     than 63 bytes or empty, a space, control or non-ASCII byte, a ':'
 *     outside an IPv6 address);
 *   AMY_ECONNECT: the name does not resolve (no such name, no address,
 *     the servers refused or could not be reached);
 *   AMY_ETIMEDOUT: no server answered within the tries;
 *   AMY_ENOMEM; AMY_ECANCELED: the resolver is being freed.
 *   On failure addrs is NULL, naddrs 0, and err says what and for which
 *   name, e.g. "could not resolve host 'db.example': Domain name not
 *   found" (odd bytes of the name escaped).
 * addrs and err are valid during the call only: copy what you keep. The
 * lookup's handle is freed when cb returns.
 */
typedef void amy__resolved_cb(void *arg, int status, const char *const *addrs,
                              size_t naddrs, const char *err);

/*
 * Looks name up: a numeric IPv4 or IPv6 address (as getaddrinfo's
 * AI_NUMERICHOST takes it, a scope such as "fe80::1%eth0" included) is its
 * own answer, with no query; a name is answered from the cache while its
 * answer is fresh, joins the query in flight for it if there is one, or
 * starts one ("localhost" and the hosts file's names are answered from the
 * hosts file, as the system does: c-ares reads that local file inside this
 * call). Names compare case-insensitively.
 * Returns the lookup's handle, valid until cb runs or it is canceled; NULL
 * on ENOMEM or while r is being freed (cb will not run).
 */
/* name as a numeric address, as getaddrinfo takes one (no lookup: the
 * hosts file and DNS are not asked; an IPv6 scope kept), written into out
 * (INET6_ADDRSTRLEN plus a scope is enough); 0, or -1 if it is none. */
int amy__resolve_numeric(const char *name, char *out, size_t outlen);

amy__lookup *amy__resolve(amy__resolver *r, const char *name,
                          amy__resolved_cb *cb, void *arg);

/* cb will not run and the handle is freed. A query in flight goes on (its
 * answer fills the cache for the next lookup). Only before cb ran. */
void amy__lookup_cancel(amy__lookup *l);

/*
 * The latest answer for name, to check whether its addresses changed: 1
 * if it is fresh, 0 if it is older than its TTL (the last one known:
 * failures since do not replace it), -1 if name never resolved or is
 * a numeric address, which is not cached (then *addrs is NULL and
 * *naddrs 0). The array is valid until control returns
 * to the loop or the next call into r. Asks no server: an expired answer
 * is refreshed by the next amy__resolve.
 */
int amy__resolver_cached(amy__resolver *r, const char *name,
                         const char *const **addrs, size_t *naddrs);

#endif
