/*
 * The resolver (resolve.h): c-ares on the caller's libev loop, with a
 * cache of one entry per name.
 *
 * An entry holds the name's latest answer (shared, reference-counted, by
 * the lookups it was handed to), when it goes stale, and the lookups
 * waiting for the query in flight, if any. An entry that has had an
 * answer lives as long as the resolver (a pool asks about the few names of
 * its host list: a list is searched), one whose first query failed goes
 * with it. amy__resolve may not touch its entry after ares_getaddrinfo,
 * which can finish (and free it) at once.
 *
 * A finished lookup is never called back where it finished: it moves to
 * the resolver's done list (with its status, answer or message), which is
 * delivered from the loop: right after c-ares processed a socket or a
 * timeout, or by the `soon` timer when it finished inside amy__resolve
 * (cache, numeric address, bad name, hosts file). So no user callback runs
 * inside c-ares, and every callback may call back into the resolver,
 * free it included (`depth` and `dying` defer that to when delivery is
 * done).
 */
/* ares.h needs fd_set and struct timeval declared first. */
#include <sys/select.h>
#include <sys/time.h>

#include <ares.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "amysql.h"
#include "list.h"
#include "resolve.h"

/* One answer: n addresses, the strings in the same block. */
typedef struct answer {
    unsigned refs;
    size_t n;
    char *addrs[];
} answer;

typedef struct entry {
    amy__link link; /* r->entries */
    amy__resolver *r;
    answer *ans;     /* the latest, or NULL */
    double stale_at; /* monotonic seconds: ans is fresh before */
    amy__link waiters;
    unsigned char querying;
    char name[]; /* lower case */
} entry;

struct amy__lookup {
    amy__link link; /* its entry's waiters, or r->done */
    amy__resolver *r;
    amy__resolved_cb *cb;
    void *arg;
    int status;
    answer *ans; /* AMY_OK's */
    char err[224];
};

/* One socket of c-ares's, watched. */
typedef struct sock {
    amy__link link; /* r->socks */
    ev_io io;
    amy__resolver *r;
} sock;

struct amy__resolver {
    struct ev_loop *loop;
    ares_channel chan;
    unsigned char chan_ok;
    unsigned char dying; /* amy__resolver_free was called */
    unsigned depth;      /* deliveries in progress */
    double ttl;          /* seconds */
    ev_timer tmo;        /* c-ares's next timeout */
    ev_timer soon;       /* delivers what finished outside a callback */
    amy__link entries, done, socks;
};

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_rc;

/* ares_library_init is not thread-safe (c-ares 1.18); once per process,
 * never undone (another part of the program may use c-ares too). */
static void ares_init_once(void)
{
    ares_rc = ares_library_init(ARES_LIB_INIT_ALL);
}

/* Not ev_now: a wall clock set back would keep an answer fresh. */
static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put_answer(answer *a)
{
    if (a && --a->refs == 0)
        free(a);
}

/* An answer of the n strings s (n >= 1), or NULL on ENOMEM. */
static answer *make_answer(char (*s)[INET6_ADDRSTRLEN + IF_NAMESIZE + 1],
                           size_t n)
{
    size_t bytes = sizeof(answer) + n * sizeof(char *);
    for (size_t i = 0; i < n; i++)
        bytes += strlen(s[i]) + 1;
    answer *a = malloc(bytes);
    if (!a)
        return NULL;
    a->refs = 1;
    a->n = n;
    char *p = (char *)&a->addrs[n];
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(s[i]) + 1;
        memcpy(p, s[i], len);
        a->addrs[i] = p;
        p += len;
    }
    return a;
}

/* name for a message: in quotes, at most 64 bytes of it, bytes that are
 * not printable ASCII (and quote, backslash) escaped as \xNN. */
static void quote_name(char *out, size_t outlen, const char *name)
{
    size_t o = 0, i = 0;
    out[o++] = '\'';
    for (; name[i] && i < 64 && o + 6 < outlen; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c > 0x20 && c < 0x7f && c != '\'' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    }
    out[o++] = '\'';
    out[o] = '\0';
    if (name[i] && o + 4 < outlen)
        strcat(out, "...");
}

static void set_failure(amy__lookup *l, int status, const char *name,
                        const char *why)
{
    char q[100];
    quote_name(q, sizeof q, name);
    l->status = status;
    snprintf(l->err, sizeof l->err, "could not resolve host %s: %s", q, why);
}

static void soon_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void tmo_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void destroy(amy__resolver *r);

static void finished(amy__lookup *l)
{
    amy__resolver *r = l->r;
    amy__list_remove(&l->link);
    amy__list_push_back(&r->done, &l->link);
    if (!r->dying)
        ev_timer_start(r->loop, &r->soon);
}

/*
 * Calls back the lookups done so far (not those that finish meanwhile:
 * a callback that looks its name up again each time is served next
 * iteration, not in an endless loop here). r may be gone on return.
 */
static void deliver(amy__resolver *r)
{
    amy__link batch;
    amy__list_move(&batch, &r->done);
    r->depth++;
    amy__link *k;
    while (!r->dying && (k = amy__list_first(&batch))) {
        amy__lookup *l = AMY__CONTAINER(k, amy__lookup, link);
        amy__list_remove(k);
        l->cb(l->arg, l->status,
              l->ans ? (const char *const *)l->ans->addrs : NULL,
              l->ans ? l->ans->n : 0, l->status == AMY_OK ? NULL : l->err);
        put_answer(l->ans);
        free(l);
    }
    r->depth--;
    /* Freed by a callback: the rest are canceled, with the others. */
    while ((k = amy__list_first(&batch))) {
        amy__list_remove(k);
        amy__list_push_back(&r->done, k);
    }
    if (r->dying) {
        if (!r->depth)
            destroy(r);
        return;
    }
    if (amy__list_empty(&r->done))
        ev_timer_stop(r->loop, &r->soon);
    else
        ev_timer_start(r->loop, &r->soon);
}

static void soon_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    deliver(w->data);
}

/* The timer follows c-ares's next timeout, a millisecond late: c-ares
 * rounds down to milliseconds, and a timer due before its deadline would
 * find nothing to do and spin until it is. */
static void update_timer(amy__resolver *r)
{
    struct timeval tv, *p = ares_timeout(r->chan, NULL, &tv);
    ev_timer_stop(r->loop, &r->tmo);
    if (p) {
        ev_timer_set(&r->tmo,
                     (double)p->tv_sec + (double)p->tv_usec / 1e6 + 0.001, 0.);
        ev_timer_start(r->loop, &r->tmo);
    }
}

static void tmo_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy__resolver *r = w->data;
    ares_process_fd(r->chan, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    update_timer(r);
    deliver(r);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    /* w may be freed inside ares_process_fd (c-ares closes the socket). */
    amy__resolver *r = ((sock *)w->data)->r;
    ares_socket_t fd = w->fd;
    ares_process_fd(r->chan, (revents & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (revents & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    update_timer(r);
    deliver(r);
}

/* c-ares opens, closes, or wants other events on a socket. */
static void sock_state_cb(void *data, ares_socket_t fd, int readable,
                          int writable)
{
    amy__resolver *r = data;
    sock *s = NULL;
    for (amy__link *k = amy__list_first(&r->socks); k;
         k = amy__list_next(&r->socks, k)) {
        sock *t = AMY__CONTAINER(k, sock, link);
        if (t->io.fd == fd) {
            s = t;
            break;
        }
    }
    if (!readable && !writable) {
        if (s) {
            ev_io_stop(r->loop, &s->io);
            amy__list_remove(&s->link);
            free(s);
        }
        return;
    }
    if (!s) {
        /* Without a watcher c-ares never hears from this socket: its
         * queries end by their timeout (the timer still runs). */
        if (!(s = calloc(1, sizeof *s)))
            return;
        s->r = r;
        ev_init(&s->io, io_cb);
        s->io.data = s;
        amy__list_push_back(&r->socks, &s->link);
    }
    ev_io_stop(r->loop, &s->io);
    ev_io_set(&s->io, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
    ev_io_start(r->loop, &s->io);
}

static int amy_status(int ares_status)
{
    switch (ares_status) {
    case ARES_ETIMEOUT:
        return AMY_ETIMEDOUT;
    case ARES_ENOMEM:
        return AMY_ENOMEM;
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
        return AMY_ECANCELED;
    case ARES_EBADNAME:
        return AMY_EINVAL;
    default:
        return AMY_ECONNECT;
    }
}

/* c-ares finished e's query (maybe inside ares_getaddrinfo, or inside
 * ares_destroy with ARES_EDESTRUCTION). */
static void query_done(void *arg, int status, int timeouts,
                       struct ares_addrinfo *ai)
{
    entry *e = arg;
    amy__resolver *r = e->r;
    char addr[16][INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
    size_t n = 0;
    long min_ttl = -1;
    answer *a = NULL;
    e->querying = 0;
    if (status == ARES_SUCCESS) {
        /* At most 16 addresses: more would only be more of the same
         * cluster to try, and the answers stay small. */
        for (struct ares_addrinfo_node *nd = ai ? ai->nodes : NULL;
             nd && n < 16; nd = nd->ai_next) {
            const void *src;
            if (nd->ai_family == AF_INET)
                src = &((struct sockaddr_in *)(void *)nd->ai_addr)->sin_addr;
            else if (nd->ai_family == AF_INET6)
                src = &((struct sockaddr_in6 *)(void *)nd->ai_addr)->sin6_addr;
            else
                continue;
            if (!inet_ntop(nd->ai_family, src, addr[n], sizeof addr[n]))
                continue;
            size_t i = 0;
            while (i < n && strcmp(addr[i], addr[n]))
                i++;
            if (i < n)
                continue; /* a duplicate */
            long t = nd->ai_ttl > 0 ? nd->ai_ttl : 0;
            if (min_ttl < 0 || t < min_ttl)
                min_ttl = t;
            n++;
        }
        if (!n)
            status = ARES_ENODATA;
        else if (!(a = make_answer(addr, n)))
            status = ARES_ENOMEM;
    }
    if (ai)
        ares_freeaddrinfo(ai);
    if (a) { /* its first reference is the entry's */
        put_answer(e->ans);
        e->ans = a;
        double ttl = (double)min_ttl;
        if (ttl < 1.)
            ttl = 1.;
        if (ttl > r->ttl)
            ttl = r->ttl;
        e->stale_at = mono_now() + ttl;
    }
    amy__link *k;
    while ((k = amy__list_first(&e->waiters))) {
        amy__lookup *l = AMY__CONTAINER(k, amy__lookup, link);
        if (a) {
            l->status = AMY_OK;
            l->ans = a;
            a->refs++;
        } else {
            set_failure(l, amy_status(status), e->name, ares_strerror(status));
        }
        finished(l);
    }
    /* A name that never resolved keeps no entry: typos and names looked
     * up once do not pile up. */
    if (!e->ans) {
        amy__list_remove(&e->link);
        free(e);
    }
}

/* Why name is no host name, or NULL. Numeric addresses pass (their ':'
 * and '%' are checked by getaddrinfo). */
static const char *bad_name(const char *name)
{
    size_t len = strlen(name);
    if (!len)
        return "the name is empty";
    if (len > AMY__RESOLVE_NAME_MAX + (name[len - 1] == '.'))
        return "the name is longer than 253 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c == 0x7f)
            return "the name contains a space or a control character";
        if (c == '\\')
            return "the name contains a backslash";
        if (c >= 0x80)
            return "the name is not ASCII (give an internationalized name "
                   "in its xn-- form)";
    }
    return NULL;
}

/* Why name's labels are no DNS name's, or NULL. */
static const char *bad_labels(const char *name)
{
    size_t len = strlen(name), run = 0;
    if (len == 1 && name[0] == '.')
        return "the name is only the root";
    /* DNS would take them, but no host is named so: a port or brackets
     * left on the host by mistake. */
    if (strpbrk(name, ":[]/"))
        return "the name contains ':', '[', ']' or '/' and is no IP address";
    for (size_t i = 0; i < len; i++) {
        if (name[i] != '.') {
            if (++run > 63)
                return "a label is longer than 63 bytes";
            continue;
        }
        if (!run)
            return "the name has an empty label";
        run = 0;
    }
    return NULL;
}

int amy__resolve_numeric(const char *name, char *out, size_t outlen)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    if (getaddrinfo(name, NULL, &hints, &ai) != 0)
        return -1;
    int rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, out, (socklen_t)outlen,
                         NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(ai);
    return rc == 0 ? 0 : -1;
}

static entry *find_entry(const amy__resolver *r, const char *name)
{
    for (amy__link *k = amy__list_first(&r->entries); k;
         k = amy__list_next(&r->entries, k)) {
        entry *e = AMY__CONTAINER(k, entry, link);
        if (!strcasecmp(e->name, name))
            return e;
    }
    return NULL;
}

static entry *new_entry(amy__resolver *r, const char *name)
{
    size_t len = strlen(name);
    entry *e = calloc(1, sizeof *e + len + 1);
    if (!e)
        return NULL;
    e->r = r;
    amy__list_init(&e->waiters);
    for (size_t i = 0; i <= len; i++) {
        char c = name[i];
        e->name[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    amy__list_push_back(&r->entries, &e->link);
    return e;
}

amy__lookup *amy__resolve(amy__resolver *r, const char *name,
                          amy__resolved_cb *cb, void *arg)
{
    if (!r || r->dying || !cb)
        return NULL;
    amy__lookup *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->r = r;
    l->cb = cb;
    l->arg = arg;
    const char *why;
    char num[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
    if (!name) {
        l->status = AMY_EINVAL;
        snprintf(l->err, sizeof l->err, "could not resolve host: no name");
    } else if ((why = bad_name(name))) {
        set_failure(l, AMY_EINVAL, name, why);
    } else if (amy__resolve_numeric(name, num, sizeof num) == 0) {
        if (!(l->ans = make_answer(&num, 1))) {
            free(l);
            return NULL;
        }
        l->status = AMY_OK;
    } else if ((why = bad_labels(name))) {
        set_failure(l, AMY_EINVAL, name, why);
    } else {
        entry *e = find_entry(r, name);
        if (!e && !(e = new_entry(r, name))) {
            free(l);
            return NULL;
        }
        if (e->ans && mono_now() < e->stale_at) {
            l->status = AMY_OK;
            l->ans = e->ans;
            e->ans->refs++;
        } else {
            amy__list_push_back(&e->waiters, &l->link);
            if (!e->querying) {
                struct ares_addrinfo_hints hints = {0};
                hints.ai_family = AF_UNSPEC;
                hints.ai_socktype = SOCK_STREAM;
                e->querying = 1;
                /* May finish at once (hosts file): query_done queues l. */
                ares_getaddrinfo(r->chan, e->name, NULL, &hints, query_done, e);
                update_timer(r);
            }
            return l;
        }
    }
    finished(l);
    return l;
}

void amy__lookup_cancel(amy__lookup *l)
{
    if (!l)
        return;
    amy__list_remove(&l->link);
    put_answer(l->ans);
    free(l);
}

int amy__resolver_cached(amy__resolver *r, const char *name,
                         const char *const **addrs, size_t *naddrs)
{
    entry *e = r && name ? find_entry(r, name) : NULL;
    if (!e || !e->ans) {
        *addrs = NULL;
        *naddrs = 0;
        return -1;
    }
    *addrs = (const char *const *)e->ans->addrs;
    *naddrs = e->ans->n;
    return mono_now() < e->stale_at ? 1 : 0;
}

static void set_err(char *err, size_t errlen, const char *what, int status)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", what, ares_strerror(status));
}

amy__resolver *amy__resolver_new(struct ev_loop *loop,
                                 const amy__resolver_cfg *cfg, char *err,
                                 size_t errlen)
{
    static const amy__resolver_cfg defaults;
    if (!cfg)
        cfg = &defaults;
    pthread_once(&ares_once, ares_init_once);
    if (ares_rc != ARES_SUCCESS) {
        set_err(err, errlen, "could not start c-ares", ares_rc);
        return NULL;
    }
    amy__resolver *r = calloc(1, sizeof *r);
    if (!r) {
        set_err(err, errlen, "could not make a resolver", ARES_ENOMEM);
        return NULL;
    }
    r->loop = loop;
    r->ttl = (cfg->ttl_ms ? cfg->ttl_ms : AMY__RESOLVE_TTL_MS) / 1000.0;
    amy__list_init(&r->entries);
    amy__list_init(&r->done);
    amy__list_init(&r->socks);
    ev_init(&r->tmo, tmo_cb);
    r->tmo.data = r;
    ev_timer_init(&r->soon, soon_cb, 0., 0.);
    r->soon.data = r;

    struct ares_options o;
    memset(&o, 0, sizeof o);
    int mask = ARES_OPT_SOCK_STATE_CB;
    o.sock_state_cb = sock_state_cb;
    o.sock_state_cb_data = r;
    int own_servers = cfg->servers && *cfg->servers;
    if (own_servers) {
        /* resolv.conf's search list belongs with its servers. */
        mask |= ARES_OPT_DOMAINS;
        o.ndomains = 0;
    }
    if (cfg->timeout_ms) {
        mask |= ARES_OPT_TIMEOUTMS;
        o.timeout =
            (int)(cfg->timeout_ms > 3600000u ? 3600000u : cfg->timeout_ms);
    }
    if (cfg->tries) {
        mask |= ARES_OPT_TRIES;
        o.tries = (int)(cfg->tries > 100u ? 100u : cfg->tries);
    }
    int rc = ares_init_options(&r->chan, &o, mask);
    if (rc != ARES_SUCCESS) {
        set_err(err, errlen, "could not start a resolver", rc);
        free(r);
        return NULL;
    }
    r->chan_ok = 1;
    if (own_servers && (rc = ares_set_servers_ports_csv(
                            r->chan, cfg->servers)) != ARES_SUCCESS) {
        if (err && errlen) {
            char q[300];
            quote_name(q, sizeof q, cfg->servers);
            snprintf(err, errlen,
                     "invalid DNS servers %s (expected ip[:port],...; an "
                     "IPv6 address with a port as [::1]:53): %s",
                     q, ares_strerror(rc));
        }
        ares_destroy(r->chan);
        free(r);
        return NULL;
    }
    return r;
}

/* Every lookup left completes with AMY_ECANCELED, then r is freed. */
static void destroy(amy__resolver *r)
{
    /* Queries in flight end here (ARES_EDESTRUCTION: their lookups join
     * r->done); c-ares closes its sockets, and sock_state_cb drops their
     * watchers. */
    if (r->chan_ok)
        ares_destroy(r->chan);
    r->chan_ok = 0;
    amy__link *k;
    while ((k = amy__list_first(&r->done))) {
        amy__lookup *l = AMY__CONTAINER(k, amy__lookup, link);
        amy__list_remove(k);
        put_answer(l->ans);
        l->cb(l->arg, AMY_ECANCELED, NULL, 0,
              "could not resolve host: the resolver was freed");
        free(l);
    }
    ev_timer_stop(r->loop, &r->tmo);
    ev_timer_stop(r->loop, &r->soon);
    while ((k = amy__list_first(&r->socks))) {
        sock *s = AMY__CONTAINER(k, sock, link);
        ev_io_stop(r->loop, &s->io);
        amy__list_remove(k);
        free(s);
    }
    while ((k = amy__list_first(&r->entries))) {
        entry *e = AMY__CONTAINER(k, entry, link);
        amy__list_remove(k);
        put_answer(e->ans);
        free(e);
    }
    free(r);
}

void amy__resolver_free(amy__resolver *r)
{
    if (!r || r->dying)
        return;
    r->dying = 1;
    if (!r->depth)
        destroy(r);
}
