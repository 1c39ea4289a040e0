/*
 * Unit tests of src/resolve.c against a DNS server the test controls
 * (tests/fake_dns.c, on the same loop). No database. Every assertion is
 * about what the server was asked and what came back; the waits run the
 * loop until something happened (an answer, an entry going stale), never
 * for a fixed time judged fast or slow.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "amysql.h"
#include "fake_dns.h"
#include "resolve.h"

/* What one lookup's callback saw. */
typedef struct got {
    int called;
    int status;
    size_t n;
    char addrs[16][64];
    char err[256];
    /* Optional actions from inside the callback: */
    amy__resolver *free_me;    /* amy__resolver_free(free_me) */
    amy__resolver *resolve_in; /* amy__resolve(resolve_in, ...) */
    amy__lookup *resolve_ret;  /*   what it returned */
    struct got *resolve_got;   /*   its callback's record */
} got;

static void got_cb(void *arg, int status, const char *const *addrs,
                   size_t naddrs, const char *err);

static void got_cb(void *arg, int status, const char *const *addrs,
                   size_t naddrs, const char *err)
{
    got *g = arg;
    g->called++;
    g->status = status;
    g->n = naddrs;
    for (size_t i = 0; i < naddrs && i < 16; i++)
        snprintf(g->addrs[i], sizeof g->addrs[i], "%s", addrs[i]);
    if (status == AMY_OK) {
        assert_non_null(addrs);
        assert_true(naddrs >= 1);
        assert_null(err);
    } else {
        assert_null(addrs);
        assert_int_equal(naddrs, 0);
        assert_non_null(err);
        snprintf(g->err, sizeof g->err, "%s", err);
    }
    if (g->resolve_in)
        g->resolve_ret =
            amy__resolve(g->resolve_in, "127.0.0.1", got_cb, g->resolve_got);
    if (g->free_me)
        amy__resolver_free(g->free_me);
}

static int has(const got *g, const char *addr)
{
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->addrs[i], addr))
            return 1;
    return 0;
}

/* Runs loop until *flag; fails if the loop has nothing left to wait for
 * (then the flag would never come). */
static void run_until(struct ev_loop *loop, const int *flag)
{
    while (!*flag)
        assert_true(ev_run(loop, EVRUN_ONCE));
}

struct fixture {
    struct ev_loop *loop;
    fdns *dns;
    amy__resolver *r;
};

static amy__resolver *new_resolver(struct fixture *fx, unsigned ttl_ms,
                                   unsigned timeout_ms, unsigned tries)
{
    char servers[64], err[256] = "";
    snprintf(servers, sizeof servers, "127.0.0.1:%u", fdns_port(fx->dns));
    amy__resolver_cfg cfg = {.servers = servers,
                             .ttl_ms = ttl_ms,
                             .timeout_ms = timeout_ms,
                             .tries = tries};
    amy__resolver *r = amy__resolver_new(fx->loop, &cfg, err, sizeof err);
    if (!r)
        fail_msg("amy__resolver_new: %s", err);
    return r;
}

static int setup(void **state)
{
    static struct fixture fx;
    memset(&fx, 0, sizeof fx);
    fx.loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(fx.loop);
    fx.dns = fdns_start(fx.loop);
    assert_non_null(fx.dns);
    assert_int_equal(fdns_set(fx.dns, "db.amy.test", "127.0.0.2"), 0);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    amy__resolver_free(fx->r);
    fdns_stop(fx->dns);
    /* Nothing of the resolver's is left on the loop. */
    assert_false(ev_run(fx->loop, EVRUN_NOWAIT));
    ev_loop_destroy(fx->loop);
    return 0;
}

static void test_resolves(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 0, 0);
    got g = {0};
    assert_non_null(amy__resolve(fx->r, "db.amy.test", got_cb, &g));
    assert_int_equal(g.called, 0); /* never inside the call */
    run_until(fx->loop, &g.called);
    assert_int_equal(g.called, 1);
    assert_int_equal(g.status, AMY_OK);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.addrs[0], "127.0.0.2");
    /* One question of each family, as asked. */
    assert_int_equal(fdns_queries(fx->dns, "db.amy.test", FDNS_A), 1);
    assert_int_equal(fdns_queries(fx->dns, "db.amy.test", FDNS_AAAA), 1);
    assert_int_equal(fdns_queries(fx->dns, NULL, 0), 2);

    const char *const *addrs;
    size_t n;
    assert_int_equal(amy__resolver_cached(fx->r, "DB.amy.test", &addrs, &n), 1);
    assert_int_equal(n, 1);
    assert_string_equal(addrs[0], "127.0.0.2");
    assert_int_equal(amy__resolver_cached(fx->r, "other.amy.test", &addrs, &n),
                     -1);
    assert_null(addrs);
    assert_int_equal(n, 0);
}

/* Between lookups the resolver keeps nothing active on the loop, so a
 * program's ev_run returns when its own work is done. */
static void test_idle_leaves_loop_free(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 0, 0);
    got g = {0};
    amy__resolve(fx->r, "db.amy.test", got_cb, &g);
    run_until(fx->loop, &g.called);
    assert_int_equal(g.status, AMY_OK);
    fdns_stop(fx->dns);
    fx->dns = NULL;
    assert_false(ev_run(fx->loop, EVRUN_NOWAIT));
}

/* A name with both families gives both; one with AAAA only, that. */
static void test_both_families(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 0, 0);
    assert_int_equal(fdns_set(fx->dns, "both.amy.test", "127.0.0.4,::1"), 0);
    assert_int_equal(fdns_set(fx->dns, "six.amy.test", "::1"), 0);
    assert_int_equal(
        fdns_set(fx->dns, "many.amy.test", "127.0.0.5,127.0.0.6,127.0.0.5"), 0);
    got a = {0}, b = {0}, c = {0};
    amy__resolve(fx->r, "both.amy.test", got_cb, &a);
    amy__resolve(fx->r, "six.amy.test", got_cb, &b);
    amy__resolve(fx->r, "many.amy.test", got_cb, &c);
    run_until(fx->loop, &a.called);
    run_until(fx->loop, &b.called);
    run_until(fx->loop, &c.called);
    assert_int_equal(a.status, AMY_OK);
    assert_int_equal(a.n, 2);
    assert_true(has(&a, "127.0.0.4") && has(&a, "::1"));
    assert_int_equal(b.status, AMY_OK);
    assert_int_equal(b.n, 1);
    assert_string_equal(b.addrs[0], "::1");
    /* The duplicate record is dropped. */
    assert_int_equal(c.status, AMY_OK);
    assert_int_equal(c.n, 2);
    assert_true(has(&c, "127.0.0.5") && has(&c, "127.0.0.6"));
}

/* An answer too long for UDP (TC set): c-ares asks again over TCP, whose
 * socket the resolver watches for writing (the connect) and reading. */
static void test_truncated_over_tcp(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 0, 0);
    assert_int_equal(fdns_set(fx->dns, "big.amy.test",
                              "127.0.0.20,127.0.0.21,127.0.0.22,::1"),
                     0);
    fdns_set_truncate(fx->dns, 1);
    got g = {0};
    amy__resolve(fx->r, "big.amy.test", got_cb, &g);
    run_until(fx->loop, &g.called);
    assert_int_equal(g.status, AMY_OK);
    assert_int_equal(g.n, 4);
    assert_true(has(&g, "127.0.0.20") && has(&g, "127.0.0.21") &&
                has(&g, "127.0.0.22") && has(&g, "::1"));
    /* Each question twice: over UDP (truncated), then over TCP. */
    assert_int_equal(fdns_queries(fx->dns, "big.amy.test", FDNS_A), 2);
    assert_int_equal(fdns_queries(fx->dns, "big.amy.test", FDNS_AAAA), 2);
    assert_int_equal(fdns_tcp_queries(fx->dns), 2);
}

/* A fresh answer serves the next lookup without a query. */
static void test_cache_serves(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 3600000, 0, 0); /* never stale in this test */
    got a = {0}, b = {0};
    amy__resolve(fx->r, "db.amy.test", got_cb, &a);
    run_until(fx->loop, &a.called);
    assert_int_equal(fdns_queries(fx->dns, NULL, 0), 2);
    /* The server now says otherwise, but the answer is fresh. */
    assert_int_equal(fdns_set(fx->dns, "db.amy.test", "127.0.0.3"), 0);
    assert_non_null(amy__resolve(fx->r, "Db.Amy.Test", got_cb, &b));
    assert_int_equal(b.called, 0); /* from the cache, yet not inside */
    run_until(fx->loop, &b.called);
    assert_int_equal(b.status, AMY_OK);
    assert_int_equal(b.n, 1);
    assert_string_equal(b.addrs[0], "127.0.0.2");
    assert_int_equal(fdns_queries(fx->dns, NULL, 0), 2);
}

struct stale_wait {
    amy__resolver *r;
    const char *name;
    int stale;
};

static void stale_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct stale_wait *s = w->data;
    const char *const *addrs;
    size_t n;
    if (amy__resolver_cached(s->r, s->name, &addrs, &n) == 0) {
        s->stale = 1;
        ev_timer_stop(loop, w);
    }
}

/* Runs the loop until name's answer has gone stale (looking every 20 ms). */
static void wait_stale(struct fixture *fx, const char *name)
{
    struct stale_wait s = {fx->r, name, 0};
    ev_timer t;
    ev_timer_init(&t, stale_poll, 0.02, 0.02);
    t.data = &s;
    ev_timer_start(fx->loop, &t);
    run_until(fx->loop, &s.stale);
}

/* The name moves: once the answer is older than ttl_ms, the next lookup
 * asks again and gets the new address. */
static void test_ttl_then_moved(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 200, 0, 0);
    got a = {0}, b = {0};
    amy__resolve(fx->r, "db.amy.test", got_cb, &a);
    run_until(fx->loop, &a.called);
    assert_string_equal(a.addrs[0], "127.0.0.2");
    assert_int_equal(fdns_set(fx->dns, "db.amy.test", "127.0.0.3"), 0);
    wait_stale(fx, "db.amy.test");
    assert_int_equal(fdns_queries(fx->dns, "db.amy.test", FDNS_A), 1);
    /* Stale, the old answer is still the one known. */
    const char *const *addrs;
    size_t n;
    assert_int_equal(amy__resolver_cached(fx->r, "db.amy.test", &addrs, &n), 0);
    assert_string_equal(addrs[0], "127.0.0.2");

    amy__resolve(fx->r, "db.amy.test", got_cb, &b);
    run_until(fx->loop, &b.called);
    assert_int_equal(b.status, AMY_OK);
    assert_int_equal(b.n, 1);
    assert_string_equal(b.addrs[0], "127.0.0.3");
    assert_int_equal(fdns_queries(fx->dns, "db.amy.test", FDNS_A), 2);
    assert_int_equal(amy__resolver_cached(fx->r, "db.amy.test", &addrs, &n), 1);
    assert_string_equal(addrs[0], "127.0.0.3");
}

/* A record whose TTL is shorter than ttl_ms goes stale at its TTL. */
static void test_record_ttl_shorter(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 3600000, 0, 0);
    fdns_set_ttl(fx->dns, 1);
    got a = {0}, b = {0};
    amy__resolve(fx->r, "db.amy.test", got_cb, &a);
    run_until(fx->loop, &a.called);
    assert_int_equal(a.status, AMY_OK);
    assert_int_equal(fdns_set(fx->dns, "db.amy.test", "127.0.0.3"), 0);
    /* With ttl_ms an hour, only the record's TTL makes it stale. */
    wait_stale(fx, "db.amy.test");
    amy__resolve(fx->r, "db.amy.test", got_cb, &b);
    run_until(fx->loop, &b.called);
    assert_string_equal(b.addrs[0], "127.0.0.3");
    assert_int_equal(fdns_queries(fx->dns, "db.amy.test", FDNS_A), 2);
}

static void test_nxdomain_and_nodata(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 0, 0);
    assert_int_equal(fdns_set(fx->dns, "empty.amy.test", ""), 0);
    got a = {0}, b = {0}, c = {0};
    amy__resolve(fx->r, "nope.amy.test", got_cb, &a);
    amy__resolve(fx->r, "empty.amy.test", got_cb, &b);
    run_until(fx->loop, &a.called);
    run_until(fx->loop, &b.called);
    assert_int_equal(a.status, AMY_ECONNECT);
    assert_string_equal(
        a.err, "could not resolve host 'nope.amy.test': Domain name not found");
    assert_int_equal(b.status, AMY_ECONNECT);
    assert_string_equal(b.err, "could not resolve host 'empty.amy.test': DNS "
                               "server returned answer with no data");
    /* No search domains were tried with the servers given. */
    assert_int_equal(fdns_queries(fx->dns, NULL, 0), 4);
    /* Failures are not cached: the next lookup asks again. */
    amy__resolve(fx->r, "nope.amy.test", got_cb, &c);
    run_until(fx->loop, &c.called);
    assert_int_equal(c.status, AMY_ECONNECT);
    assert_int_equal(fdns_queries(fx->dns, "nope.amy.test", FDNS_A), 2);
    const char *const *addrs;
    size_t n;
    assert_int_equal(amy__resolver_cached(fx->r, "nope.amy.test", &addrs, &n),
                     -1);
}

/* A name that stops resolving keeps its last answer (stale) for whoever
 * checks; the lookup itself fails. */
static void test_stops_resolving(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 200, 0, 0);
    got a = {0}, b = {0};
    amy__resolve(fx->r, "db.amy.test", got_cb, &a);
    run_until(fx->loop, &a.called);
    assert_int_equal(a.status, AMY_OK);
    assert_int_equal(fdns_set(fx->dns, "db.amy.test", NULL), 0);
    wait_stale(fx, "db.amy.test");
    amy__resolve(fx->r, "db.amy.test", got_cb, &b);
    run_until(fx->loop, &b.called);
    assert_int_equal(b.status, AMY_ECONNECT);
    const char *const *addrs;
    size_t n;
    assert_int_equal(amy__resolver_cached(fx->r, "db.amy.test", &addrs, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(addrs[0], "127.0.0.2");
}

/* A server that never answers: a timeout, as short as configured. */
static void test_timeout(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 50, 2);
    fdns_set_silent(fx->dns, 1);
    got a = {0};
    amy__resolve(fx->r, "db.amy.test", got_cb, &a);
    run_until(fx->loop, &a.called);
    assert_int_equal(a.status, AMY_ETIMEDOUT);
    assert_string_equal(a.err, "could not resolve host 'db.amy.test': Timeout "
                               "while contacting DNS servers");
    /* Both tries of both questions reached it; none was answered. */
    assert_int_equal(fdns_queries(fx->dns, "db.amy.test", FDNS_A), 2);
    assert_int_equal(fdns_queries(fx->dns, "db.amy.test", FDNS_AAAA), 2);
    assert_int_equal(fdns_answers(fx->dns), 0);
}

/* Lookups for one name while its query is in flight share it. */
static void test_concurrent_share_a_query(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 0, 0);
    got g[3] = {{0}};
    amy__resolve(fx->r, "db.amy.test", got_cb, &g[0]);
    amy__resolve(fx->r, "DB.AMY.TEST", got_cb, &g[1]);
    amy__resolve(fx->r, "db.amy.test", got_cb, &g[2]);
    for (int i = 0; i < 3; i++)
        run_until(fx->loop, &g[i].called);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(g[i].called, 1);
        assert_int_equal(g[i].status, AMY_OK);
        assert_string_equal(g[i].addrs[0], "127.0.0.2");
    }
    assert_int_equal(fdns_queries(fx->dns, "db.amy.test", FDNS_A), 1);
    assert_int_equal(fdns_queries(fx->dns, NULL, 0), 2);
}

/* A canceled lookup is never called back, whether it waited for the
 * network or for the loop. */
static void test_cancel(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 0, 0);
    got a = {0}, b = {0}, c = {0}, d = {0};
    amy__lookup *la = amy__resolve(fx->r, "db.amy.test", got_cb, &a);
    assert_non_null(la);
    amy__lookup_cancel(la);
    /* b joins the query a started: once b has its answer, a's is past. */
    amy__resolve(fx->r, "db.amy.test", got_cb, &b);
    run_until(fx->loop, &b.called);
    assert_int_equal(b.status, AMY_OK);
    assert_int_equal(a.called, 0);
    assert_int_equal(fdns_queries(fx->dns, "db.amy.test", FDNS_A), 1);

    /* Answered without the network (numeric, cache), canceled before the
     * loop delivered it. */
    amy__lookup_cancel(amy__resolve(fx->r, "127.0.0.7", got_cb, &c));
    amy__lookup_cancel(amy__resolve(fx->r, "db.amy.test", got_cb, &c));
    amy__resolve(fx->r, "127.0.0.8", got_cb, &d);
    run_until(fx->loop, &d.called);
    assert_int_equal(c.called, 0);
    assert_string_equal(d.addrs[0], "127.0.0.8");
    amy__lookup_cancel(NULL); /* harmless */

    /* Alone and canceled, its query still goes on and fills the cache. */
    assert_int_equal(fdns_set(fx->dns, "lone.amy.test", "127.0.0.13"), 0);
    got e = {0};
    amy__lookup_cancel(amy__resolve(fx->r, "lone.amy.test", got_cb, &e));
    const char *const *addrs;
    size_t n;
    while (amy__resolver_cached(fx->r, "lone.amy.test", &addrs, &n) != 1)
        assert_true(ev_run(fx->loop, EVRUN_ONCE));
    assert_string_equal(addrs[0], "127.0.0.13");
    assert_int_equal(e.called, 0);
}

/* Freeing the resolver calls back every pending lookup with AMY_ECANCELED,
 * inside the free; nothing is left on the loop (teardown checks) and
 * nothing leaks (valgrind, ASan). */
static void test_free_with_pending(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 0, 0);
    fdns_set_silent(fx->dns, 1);
    got a = {0}, b = {0}, c = {0}, again = {0};
    amy__resolve(fx->r, "db.amy.test", got_cb, &a);
    amy__resolve(fx->r, "other.amy.test", got_cb, &b);
    /* Let the queries reach the (silent) server. */
    while (fdns_queries(fx->dns, NULL, 0) < 4)
        assert_true(ev_run(fx->loop, EVRUN_ONCE));
    amy__resolve(fx->r, "127.0.0.9", got_cb, &c); /* waits for the loop */
    a.resolve_in = fx->r; /* refused while freeing: NULL, no callback */
    a.resolve_got = &again;
    amy__resolver_free(fx->r);
    fx->r = NULL;
    assert_int_equal(a.called, 1);
    assert_int_equal(b.called, 1);
    assert_int_equal(c.called, 1);
    assert_int_equal(a.status, AMY_ECANCELED);
    assert_int_equal(b.status, AMY_ECANCELED);
    assert_int_equal(c.status, AMY_ECANCELED);
    assert_string_equal(a.err,
                        "could not resolve host: the resolver was freed");
    assert_null(a.resolve_ret);
    assert_int_equal(again.called, 0);
}

/* Freed from inside a callback: the free waits for the callback to
 * return; the lookups not yet called back are canceled. */
static void test_free_inside_callback(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 0, 0);
    got a = {0}, b = {0};
    a.free_me = fx->r;
    amy__resolve(fx->r, "127.0.0.10", got_cb, &a);
    amy__resolve(fx->r, "127.0.0.11", got_cb, &b);
    run_until(fx->loop, &a.called);
    fx->r = NULL;
    assert_int_equal(a.status, AMY_OK);
    assert_int_equal(b.called, 1);
    assert_int_equal(b.status, AMY_ECANCELED);
}

/* A callback that looks up again is served on a later iteration. */
static void test_lookup_inside_callback(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 0, 0);
    got a = {0}, again = {0};
    a.resolve_in = fx->r;
    a.resolve_got = &again;
    amy__resolve(fx->r, "127.0.0.12", got_cb, &a);
    run_until(fx->loop, &a.called);
    assert_non_null(a.resolve_ret);
    assert_int_equal(again.called, 0);
    run_until(fx->loop, &again.called);
    assert_int_equal(again.status, AMY_OK);
    assert_string_equal(again.addrs[0], "127.0.0.1");
}

/* Numeric addresses are their own answer: no query. */
static void test_numeric(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 0, 0);
    static const char *const in[][2] = {
        {"127.0.0.9", "127.0.0.9"}, {"::1", "::1"},
        {"0:0:0::1", "::1"},        {"::FFFF:127.0.0.1", "::ffff:127.0.0.1"},
        {"127.1", "127.0.0.1"}, /* as getaddrinfo takes it */
    };
    enum { N = sizeof in / sizeof in[0] };
    got g[N] = {{0}};
    for (int i = 0; i < N; i++)
        assert_non_null(amy__resolve(fx->r, in[i][0], got_cb, &g[i]));
    for (int i = 0; i < N; i++)
        assert_int_equal(g[i].called, 0);
    for (int i = 0; i < N; i++)
        run_until(fx->loop, &g[i].called);
    for (int i = 0; i < N; i++) {
        assert_int_equal(g[i].status, AMY_OK);
        assert_int_equal(g[i].n, 1);
        assert_string_equal(g[i].addrs[0], in[i][1]);
    }
    assert_int_equal(fdns_queries(fx->dns, NULL, 0), 0);
}

/* "localhost" is answered as the system does (hosts file, or RFC 6761's
 * loopback), never asked of a server. */
static void test_localhost(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 0, 0);
    got g = {0};
    amy__resolve(fx->r, "localhost", got_cb, &g);
    run_until(fx->loop, &g.called);
    assert_int_equal(g.status, AMY_OK);
    for (size_t i = 0; i < g.n; i++)
        assert_true(!strncmp(g.addrs[i], "127.", 4) ||
                    !strcmp(g.addrs[i], "::1"));
    assert_int_equal(fdns_queries(fx->dns, NULL, 0), 0);
}

/* Input that is no host name: AMY_EINVAL with a clear message, no query,
 * still called back from the loop. */
static void test_bad_names(void **state)
{
    struct fixture *fx = *state;
    fx->r = new_resolver(fx, 0, 0, 0);
    char long_name[300], long_label[80], ok253[254];
    /* 254 bytes: 3 labels of 63 and one of 62, with their dots. */
    snprintf(long_name, sizeof long_name, "%s.%s.%s.%s",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(strlen(long_name), 254);
    memcpy(ok253, long_name, 253);
    ok253[253] = '\0';
    memset(long_label, 'b', 64);
    strcpy(long_label + 64, ".amy.test");
    static const char *const why[] = {
        "the name is empty",
        "the name is longer than 253 bytes",
        "a label is longer than 63 bytes",
        "the name has an empty label",
        "the name has an empty label",
        "the name contains a space or a control character",
        "the name contains a space or a control character",
        "the name contains a backslash",
        "the name is not ASCII (give an internationalized name in its xn-- "
        "form)",
        "the name is only the root",
        "the name contains ':', '[', ']' or '/' and is no IP address",
        "the name contains ':', '[', ']' or '/' and is no IP address",
        "the name contains ':', '[', ']' or '/' and is no IP address",
    };
    const char *names[] = {"",
                           long_name,
                           long_label,
                           "a..b",
                           ".amy.test",
                           "db amy.test",
                           "db\x01.x",
                           "db\\.x",
                           "d\xc3\xa9.amy.test",
                           ".",
                           "db.amy.test:3306",
                           "[::1]",
                           "[db.amy.test]"};
    enum { N = sizeof names / sizeof names[0] };
    got g[N + 3] = {{0}};
    for (int i = 0; i < N; i++)
        assert_non_null(amy__resolve(fx->r, names[i], got_cb, &g[i]));
    assert_non_null(amy__resolve(fx->r, NULL, got_cb, &g[N]));
    /* The longest allowed, and with a trailing dot: asked (NXDOMAIN). */
    assert_non_null(amy__resolve(fx->r, ok253, got_cb, &g[N + 1]));
    assert_non_null(amy__resolve(fx->r, "db.amy.test.", got_cb, &g[N + 2]));
    for (int i = 0; i < N + 3; i++)
        run_until(fx->loop, &g[i].called);
    for (int i = 0; i < N; i++) {
        assert_int_equal(g[i].status, AMY_EINVAL);
        assert_non_null(strstr(g[i].err, why[i]));
        assert_true(!strncmp(g[i].err, "could not resolve host '", 24));
    }
    assert_int_equal(g[N].status, AMY_EINVAL);
    assert_string_equal(g[N].err, "could not resolve host: no name");
    assert_int_equal(g[N + 1].status, AMY_ECONNECT);
    assert_int_equal(g[N + 2].status, AMY_OK);
    assert_string_equal(g[N + 2].addrs[0], "127.0.0.2");
    assert_int_equal(fdns_queries(fx->dns, NULL, 0), 4);
    /* Odd bytes are escaped in messages, and long names cut short. */
    assert_string_equal(g[6].err, "could not resolve host 'db\\x01.x': the "
                                  "name contains a space or a control "
                                  "character");
    assert_non_null(strstr(g[1].err, " 'aaaaaaaa"));
    assert_non_null(strstr(g[1].err, "aaaa.'...: the name is longer"));
    /* Wrong arguments: no handle, no callback. */
    assert_null(amy__resolve(fx->r, "db.amy.test", NULL, NULL));
    assert_null(amy__resolve(NULL, "db.amy.test", got_cb, &g[0]));
    amy__resolver_free(NULL);
}

static void test_bad_servers(void **state)
{
    struct fixture *fx = *state;
    char err[256] = "";
    amy__resolver_cfg cfg = {.servers = "not-an-address"};
    assert_null(amy__resolver_new(fx->loop, &cfg, err, sizeof err));
    assert_non_null(strstr(err, "invalid DNS servers 'not-an-address'"));
    /* The system's configuration also makes one (no query is made). */
    amy__resolver *r = amy__resolver_new(fx->loop, NULL, err, sizeof err);
    assert_non_null(r);
    amy__resolver_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resolves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_leaves_loop_free, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_both_families, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_over_tcp, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_serves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_then_moved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_ttl_shorter, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nxdomain_and_nodata, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stops_resolving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_share_a_query, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_pending, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_callback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lookup_inside_callback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_numeric, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localhost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_servers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
