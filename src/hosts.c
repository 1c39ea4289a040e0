/* The hosts of a pool: addresses, roles, deny list, choice (hosts.h). */
#include "hosts.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "resolve.h"
#include "result.h"

/* A numeric address's canonical text (resolve.c's, no lookup), or NULL
 * when host is a name (or memory ran out: then it is looked up, and
 * answered as the address it is). */
static char *numeric(const char *host)
{
    char ip[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    return amy__resolve_numeric(host, ip, sizeof ip) == 0 ? strdup(ip) : NULL;
}

amy__hostaddr *amy__hosts_addr(amy__host *h, const char *addr)
{
    for (amy__hostaddr *a = h->addrs; a; a = a->next)
        if (!strcmp(a->addr, addr))
            return a;
    amy__hostaddr *a = calloc(1, sizeof *a);
    if (!a || !(a->addr = strdup(addr))) {
        free(a);
        return NULL;
    }
    a->cfg = h->cfg;
    a->cfg.host = a->addr;
    a->next = h->addrs;
    h->addrs = a;
    return a;
}

int amy__hosts_set_answer(amy__host *h, const char *const *addrs, size_t n)
{
    char **copy = n ? calloc(n, sizeof *copy) : NULL;
    if (n && !copy)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!(copy[i] = strdup(addrs[i]))) {
            while (i--)
                free(copy[i]);
            free(copy);
            return -1;
        }
    for (size_t i = 0; i < h->nanswer; i++)
        free(h->answer[i]);
    free(h->answer);
    h->answer = copy;
    h->nanswer = n;
    return 0;
}

int amy__hosts_in_answer(const amy__host *h, const char *addr)
{
    if (!h->named || !h->answer)
        return 1;
    for (size_t i = 0; i < h->nanswer; i++)
        if (!strcmp(h->answer[i], addr))
            return 1;
    return 0;
}

static int host_init(amy__host *h, const char *name, unsigned port,
                     const char *socket, const amy__conn_cfg *base,
                     int verify_identity)
{
    char buf[512];
    int unix_socket = socket || !name || !strcmp(name, "localhost");
    h->cfg = *base;
    if (unix_socket) {
        h->name = strdup("localhost");
        h->addr = strdup("localhost");
        h->endpoint = strdup(socket ? socket : "the default Unix socket");
        if (!h->name || !h->addr || !h->endpoint)
            return -1;
    } else {
        snprintf(buf, sizeof buf, "%s%s%s:%u", strchr(name, ':') ? "[" : "",
                 name, strchr(name, ':') ? "]" : "", port ? port : 3306u);
        h->name = strdup(name);
        h->endpoint = strdup(buf);
        h->port = port ? port : 3306u;
        if (!h->name || !h->endpoint)
            return -1;
        h->addr = numeric(name);
        h->named = h->addr == NULL;
    }
    h->cfg.host = NULL; /* each address's cfg has its own */
    h->cfg.port = unix_socket ? base->port : port;
    h->cfg.endpoint = h->endpoint;
    h->cfg.server_name = unix_socket && socket ? socket : h->name;
    h->cfg.server_port = h->port;
    /* verify_identity checks the name the connector is given. */
    h->cfg.tls_host = verify_identity && !unix_socket ? h->name : NULL;
    h->cfg.unix_socket = (unsigned char)unix_socket;
    return h->named || amy__hosts_addr(h, h->addr) ? 0 : -1;
}

int amy__hosts_init(amy__hosts *hs, const amy__dsn *d,
                    const amy__conn_cfg *base, int verify_identity)
{
    memset(hs, 0, sizeof *hs);
    hs->tsa = d->target_session_attrs;
    hs->random = d->load_balance_hosts;
    hs->role_ttl =
        (d->role_check_ms ? d->role_check_ms : AMY__DSN_DEFAULT_ROLE_CHECK_MS) /
        1000.0;
    hs->rng = (unsigned)(uintptr_t)hs ^ (unsigned)(ev_time() * 1e6);
    unsigned n = d->socket || !d->nhosts ? 1 : d->nhosts;
    hs->h = calloc(n, sizeof *hs->h);
    if (!hs->h)
        return -1;
    hs->n = n;
    for (unsigned i = 0; i < n; i++) {
        const char *name = d->socket || !d->nhosts ? d->host : d->hosts[i].host;
        unsigned port = d->socket || !d->nhosts ? d->port : d->hosts[i].port;
        if (host_init(&hs->h[i], name, port, d->socket, base,
                      verify_identity) != 0)
            return -1;
    }
    return 0;
}

void amy__hosts_free(amy__hosts *hs)
{
    for (unsigned i = 0; hs->h && i < hs->n; i++) {
        amy__host *h = &hs->h[i];
        free(h->name);
        free(h->addr);
        free(h->endpoint);
        free(h->last_error);
        amy__hosts_set_answer(h, NULL, 0);
        for (amy__hostaddr *a = h->addrs, *next; a; a = next) {
            next = a->next;
            free(a->addr);
            free(a);
        }
    }
    free(hs->h);
    memset(hs, 0, sizeof *hs);
}

int amy__hosts_need_roles(const amy__hosts *hs)
{
    return hs->tsa != AMY__TSA_ANY || hs->n > 1;
}

static int denied(const amy__host *h, ev_tstamp now)
{
    return h->attempts && now < h->denied_until;
}

int amy__hosts_standby_up(const amy__hosts *hs, ev_tstamp now)
{
    for (unsigned i = 0; i < hs->n; i++) {
        const amy__host *h = &hs->h[i];
        if (h->role == AMY_ROLE_STANDBY && !denied(h, now) &&
            (h->nconns > h->nconnecting || !h->attempts))
            return 1;
    }
    return 0;
}

/* Its role as far as choosing goes: a stale one of a host with no
 * connection to re-probe it is guessed again. */
static int role_now(const amy__hosts *hs, const amy__host *h, ev_tstamp now)
{
    if (h->role != AMY_ROLE_UNKNOWN && h->nconns == 0 &&
        now - h->role_at > hs->role_ttl)
        return AMY_ROLE_UNKNOWN;
    return h->role;
}

/* Whether a host of role `role` serves the pool (UNKNOWN: until probed). */
static int role_ok(const amy__hosts *hs, int role, ev_tstamp now)
{
    if (role == AMY_ROLE_UNAVAILABLE)
        return 0;
    if (role == AMY_ROLE_UNKNOWN)
        return 1;
    switch (hs->tsa) {
    case AMY__TSA_READ_WRITE:
    case AMY__TSA_PRIMARY:
        return role == AMY_ROLE_PRIMARY;
    case AMY__TSA_READ_ONLY:
    case AMY__TSA_STANDBY:
        return role == AMY_ROLE_STANDBY;
    case AMY__TSA_PREFER_STANDBY:
        return role == AMY_ROLE_STANDBY || !amy__hosts_standby_up(hs, now);
    default:
        return 1;
    }
}

int amy__hosts_acceptable(const amy__hosts *hs, unsigned i, ev_tstamp now)
{
    if (i >= hs->n)
        return 0;
    int role = role_now(hs, &hs->h[i], now);
    if (!role_ok(hs, role, now))
        return 0;
    /* prefer-standby: a primary waits while a host that may be a standby
     * is connecting or probing, instead of taking work it would give up
     * a moment later. */
    if (hs->tsa == AMY__TSA_PREFER_STANDBY && role == AMY_ROLE_PRIMARY)
        for (unsigned k = 0; k < hs->n; k++)
            if (hs->h[k].role == AMY_ROLE_UNKNOWN && hs->h[k].nconns > 0)
                return -1;
    return 1;
}

int amy__hosts_pick(amy__hosts *hs, ev_tstamp now)
{
    /* prefer-standby: a host that may be a standby (known, or not yet
     * probed) before a known primary. */
    for (int pass = 0; pass < 2; pass++) {
        int best = -1;
        unsigned ties = 0;
        for (unsigned i = 0; i < hs->n; i++) {
            const amy__host *h = &hs->h[i];
            int role = role_now(hs, h, now);
            if (denied(h, now) || !role_ok(hs, role, now))
                continue;
            if (pass == 0 && hs->tsa == AMY__TSA_PREFER_STANDBY &&
                role == AMY_ROLE_PRIMARY)
                continue;
            if (!hs->random)
                return (int)i;
            if (best < 0 || h->nconns < hs->h[best].nconns) {
                best = (int)i;
                ties = 1;
            } else if (h->nconns == hs->h[best].nconns) {
                /* Reservoir choice among the ties. */
                hs->rng = hs->rng * 1103515245u + 12345u;
                if ((hs->rng >> 8) % ++ties == 0)
                    best = (int)i;
            }
        }
        if (best >= 0 || hs->tsa != AMY__TSA_PREFER_STANDBY)
            return best;
    }
    return -1;
}

ev_tstamp amy__hosts_next_try(const amy__hosts *hs)
{
    ev_tstamp at = 0;
    for (unsigned i = 0; i < hs->n; i++) {
        const amy__host *h = &hs->h[i];
        ev_tstamp t = 0;
        if (h->attempts)
            t = h->denied_until;
        /* A role that rules it out now is guessed again then. */
        if (h->role != AMY_ROLE_UNKNOWN && h->nconns == 0 &&
            h->role_at + hs->role_ttl > t)
            t = h->role_at + hs->role_ttl;
        if (t && (!at || t < at))
            at = t;
    }
    return at;
}

void amy__hosts_connected(amy__hosts *hs, unsigned i)
{
    amy__host *h = &hs->h[i];
    h->attempts = 0;
    h->permanent = 0;
    h->denied_until = 0;
    h->connects++;
}

int amy__hosts_failed(amy__hosts *hs, unsigned i, unsigned err_no,
                      const char *msg, int permanent, ev_tstamp now)
{
    amy__host *h = &hs->h[i];
    h->failures++;
    h->attempts++;
    h->permanent = (unsigned char)permanent;
    free(h->last_error);
    h->last_error = msg ? strdup(msg) : NULL;
    /* Exponential backoff with jitter: 50 ms, 100 ms, ... up to 5 s, each
     * drawn from its upper half so that many clients do not retry in step. */
    double delay = 0.05 * (double)(1u << (h->attempts < 8 ? h->attempts : 8));
    if (delay > 5.0)
        delay = 5.0;
    hs->rng = hs->rng * 1103515245u + 12345u;
    delay *= 0.5 + 0.5 * (double)(hs->rng >> 8) / (double)(1u << 24);
    h->denied_until = now + delay;
    (void)err_no;
    for (unsigned k = 0; k < hs->n; k++)
        if (!hs->h[k].permanent)
            return 1;
    return 0;
}

/* One round trip: the session's view of the server's read-only switches,
 * and Galera's readiness (NULL off Galera). */
const char amy__hosts_probe_sql[] =
    "SELECT @@global.read_only, @@global.innodb_read_only, @@global.wsrep_on, "
    "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE "
    "VARIABLE_NAME = 'WSREP_READY')";

static int truthy(const char *v)
{
    return v && (!strcmp(v, "1") || !strcasecmp(v, "ON"));
}

int amy__hosts_role_of(const amy_result *r)
{
    if (!r || amy_result_nrows(r) != 1 || amy_result_ncols(r) != 4)
        return AMY_ROLE_UNAVAILABLE;
    const char *ro = amy_result_value(r, 0, 0, NULL);
    const char *iro = amy_result_value(r, 0, 1, NULL);
    const char *wsrep = amy_result_value(r, 0, 2, NULL);
    const char *ready = amy_result_value(r, 0, 3, NULL);
    if (truthy(wsrep) && !truthy(ready))
        return AMY_ROLE_UNAVAILABLE; /* a Galera node out of the cluster */
    return truthy(ro) || truthy(iro) ? AMY_ROLE_STANDBY : AMY_ROLE_PRIMARY;
}
