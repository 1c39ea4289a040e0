/*
 * Tests for src/hosts.c and the multi-host pool (issue 13): which host a
 * connection goes to (unit tests, no server), then, against the HA
 * topology of scripts/testdb-ha.sh (skipped without AMY_TEST_HA_*):
 * target_session_attrs over a primary and two replicas, prefer-standby's
 * fallback and return, a planned switchover in the middle of 10,000
 * queries, and load_balance_hosts over a Galera cluster with a node that
 * is not ready.
 *
 * The topology is shared with other tests: whatever a test changes (a
 * stopped replica, a switchover, an isolated node) it puts back before it
 * ends, and it waits for conditions (roles, replication), never for times.
 */
#include "itest.h"

#include <stdlib.h>
#include <unistd.h>

#include "dsn.h"
#include "fake_dns.h"
#include "hosts.h"
#include "pool.h"

/* ------------------------------------------------------------------------ */
/* Unit: the choice of a host                                               */
/* ------------------------------------------------------------------------ */

static void hosts_of(const char *dsn, amy__hosts *hs)
{
    amy__dsn d;
    char err[256];
    assert_int_equal(amy__dsn_parse(dsn, &d, err, sizeof err), 0);
    amy__conn_cfg base = {0};
    assert_int_equal(amy__hosts_init(hs, &d, &base, 0), 0);
    amy__dsn_clear(&d);
}

static void test_pick_in_order_and_deny_list(void **state)
{
    amy__hosts hs;
    hosts_of("mysql://u@127.0.0.1:1,127.0.0.2:2,[::1]:3/db", &hs);
    assert_int_equal(hs.n, 3);
    assert_string_equal(hs.h[2].addr, "::1");
    assert_int_equal(hs.h[1].cfg.port, 2);
    assert_string_equal(hs.h[1].endpoint, "127.0.0.2:2");
    assert_string_equal(hs.h[2].endpoint, "[::1]:3");
    assert_false(amy__hosts_need_roles(&hs) == 0); /* several hosts */
    ev_tstamp now = 1000;
    assert_int_equal(amy__hosts_pick(&hs, now), 0); /* the first */
    /* A failure denies it for a backoff: the next one is chosen. */
    assert_int_equal(amy__hosts_failed(&hs, 0, 2003, "refused", 0, now), 1);
    assert_int_equal(amy__hosts_pick(&hs, now), 1);
    assert_true(amy__hosts_next_try(&hs) > now);
    assert_true(amy__hosts_next_try(&hs) <= now + 0.1);
    /* After it, the first again; a success clears it. */
    assert_int_equal(amy__hosts_pick(&hs, now + 1), 0);
    amy__hosts_connected(&hs, 0);
    assert_int_equal(hs.h[0].attempts, 0);
    assert_int_equal(hs.h[0].connects, 1);
    assert_int_equal(hs.h[0].failures, 1);
    /* Permanent failures on every host: nothing left to try. */
    assert_int_equal(amy__hosts_failed(&hs, 0, 1045, "denied", 1, now), 1);
    assert_int_equal(amy__hosts_failed(&hs, 1, 1045, "denied", 1, now), 1);
    assert_int_equal(amy__hosts_failed(&hs, 2, 1045, "denied", 1, now), 0);
    assert_int_equal(amy__hosts_pick(&hs, now), -1);
    amy__hosts_free(&hs);

    /* One host of a socket: no roles needed, nothing resolved. */
    hosts_of("mysql://u@/db?socket=/tmp/x.sock", &hs);
    assert_int_equal(hs.n, 1);
    assert_true(hs.h[0].cfg.unix_socket);
    assert_int_equal(amy__hosts_need_roles(&hs), 0);
    amy__hosts_free(&hs);
}

static void test_pick_by_role(void **state)
{
    amy__hosts hs;
    ev_tstamp now = 1000;
    hosts_of("mysql://u@127.0.0.1:1,127.0.0.1:2,127.0.0.1:3/db?"
             "target_session_attrs=read-write",
             &hs);
    /* Unknown roles are tried, in order, until probed. */
    assert_int_equal(amy__hosts_pick(&hs, now), 0);
    hs.h[0].role = hs.h[1].role = AMY_ROLE_STANDBY;
    hs.h[2].role = AMY_ROLE_PRIMARY;
    for (int i = 0; i < 3; i++) {
        hs.h[i].role_at = now;
        hs.h[i].nconns = 1;
    }
    assert_int_equal(amy__hosts_pick(&hs, now), 2);
    assert_false(amy__hosts_acceptable(&hs, 0, now));
    assert_true(amy__hosts_acceptable(&hs, 2, now));
    /* A host with no connection left has its role guessed again once it
     * is older than role_check_ms: it may have been promoted. */
    hs.h[0].nconns = 0;
    assert_false(amy__hosts_acceptable(&hs, 0, now + 1));
    assert_true(amy__hosts_acceptable(&hs, 0, now + 2));
    hs.h[0].nconns = 1;

    hs.tsa = AMY__TSA_STANDBY;
    assert_int_equal(amy__hosts_pick(&hs, now), 0);
    hs.h[2].role = AMY_ROLE_UNAVAILABLE; /* never, whatever the pool wants */
    hs.tsa = AMY__TSA_ANY;
    assert_false(amy__hosts_acceptable(&hs, 2, now));

    /* prefer-standby: the standbys while one is up, else the primary. */
    hs.tsa = AMY__TSA_PREFER_STANDBY;
    hs.h[2].role = AMY_ROLE_PRIMARY;
    assert_int_equal(amy__hosts_pick(&hs, now), 0);
    assert_false(amy__hosts_acceptable(&hs, 2, now));
    amy__hosts_failed(&hs, 0, 2003, "down", 0, now);
    amy__hosts_failed(&hs, 1, 2003, "down", 0, now);
    assert_true(amy__hosts_acceptable(&hs, 2, now));
    assert_int_equal(amy__hosts_pick(&hs, now), 2);
    amy__hosts_free(&hs);
}

static void test_pick_random_spreads(void **state)
{
    amy__hosts hs;
    hosts_of("mysql://u@127.0.0.1:1,127.0.0.1:2,127.0.0.1:3/db?"
             "load_balance_hosts=random",
             &hs);
    /* Each new connection goes to the host with the fewest. */
    for (int i = 0; i < 9; i++) {
        int h = amy__hosts_pick(&hs, 1000);
        assert_true(h >= 0 && h < 3);
        hs.h[h].nconns++;
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(hs.h[i].nconns, 3);
    /* Ties are drawn at random: over many draws, each host wins some. */
    int won[3] = {0};
    for (int i = 0; i < 300; i++)
        won[amy__hosts_pick(&hs, 1000)]++;
    for (int i = 0; i < 3; i++)
        assert_true(won[i] > 0);
    amy__hosts_free(&hs);
}

/* ------------------------------------------------------------------------ */
/* The HA topology                                                          */
/* ------------------------------------------------------------------------ */

/* host:port of a node of AMY_TEST_HA_NODES ("primary=h:p replica1=..."). */
static void node_addr(const char *node, char *out, size_t len)
{
    const char *nodes = itest_dsn("AMY_TEST_HA_NODES");
    char key[32];
    snprintf(key, sizeof key, "%s=", node);
    const char *at = strstr(nodes, key);
    assert_non_null(at);
    at += strlen(key);
    size_t n = strcspn(at, " ");
    assert_true(n < len);
    memcpy(out, at, n);
    out[n] = '\0';
}

/* A pool over the nodes named (comma-separated), with extra DSN keys. */
static amy_pool *ha_pool_of(const char *nodes, const char *keys)
{
    char hosts[256] = "", one[64], list[128];
    snprintf(list, sizeof list, "%s", nodes);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        node_addr(tok, one, sizeof one);
        if (hosts[0])
            strcat(hosts, ",");
        strcat(hosts, one);
    }
    const char *tmpl = itest_dsn("AMY_TEST_HA_DSN");
    const char *mark = strstr(tmpl, "{hosts}");
    assert_non_null(mark);
    char dsn[768], err[256];
    snprintf(dsn, sizeof dsn, "%.*s%s%s&%s", (int)(mark - tmpl), tmpl, hosts,
             mark + strlen("{hosts}"), keys);
    amy_pool *p = amy_pool_new(loop, dsn, err, sizeof err);
    if (!p)
        print_error("amy_pool_new: %s\n", err);
    assert_non_null(p);
    return p;
}

/* Runs scripts/testdb-ha.sh (the topology's) with args; asserts it worked. */
static void ha_script(const char *args)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "bash '%s' %s >/dev/null 2>&1",
             itest_dsn("AMY_TESTDB_HA_SCRIPT"), args);
    int rc = system(cmd);
    if (rc != 0)
        print_error("%s: exit %d\n", cmd, rc);
    assert_int_equal(rc, 0);
}

/* A pool for root on node, over its Unix socket (SET GLOBAL). */
static amy_pool *ha_root_pool(const char *node)
{
    char dsn[512], err[256];
    snprintf(dsn, sizeof dsn,
             "mysql://root@localhost/?socket=%s/%s.sock&pool=1",
             itest_dsn("AMY_TEST_HA_SOCKDIR"), node);
    amy_pool *p = amy_pool_new(loop, dsn, err, sizeof err);
    if (!p)
        print_error("amy_pool_new: %s\n", err);
    assert_non_null(p);
    return p;
}

static long server_id_of(const char *node)
{
    amy_pool *p = ha_pool_of(node, "pool=1");
    amy_future *f = amy_query(p, "SELECT @@server_id");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    long id = atol(itest_value(f));
    amy_future_free(f);
    amy_pool_free(p);
    return id;
}

/* The server ids n queries of p ran on, counted per node id. */
static void ids_seen(amy_pool *p, int n, long *ids, int *counts, int nids)
{
    amy_future **fs = calloc((size_t)n, sizeof *fs);
    assert_non_null(fs);
    for (int i = 0; i < n; i++)
        fs[i] = amy_query(p, "SELECT @@server_id");
    amy_future *g = amy_gather(fs, (size_t)n);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    amy_future_free(g);
    for (int i = 0; i < n; i++) {
        long id = atol(itest_value(fs[i]));
        for (int k = 0; k < nids; k++)
            if (ids[k] == id)
                counts[k]++;
        amy_future_free(fs[i]);
    }
    free(fs);
}

/* Batches of 50 on p until both replicas (ids[1], ids[2]) have served
 * one: the second replica's connection may still be probing when the
 * first batch runs, so spreading is checked over rounds, not one batch.
 * Returns the rounds; counts accumulate every batch. */
static int until_both_replicas(amy_pool *p, long *ids, int *counts)
{
    for (int round = 1; round <= 200; round++) {
        ids_seen(p, 50, ids, counts, 3);
        if (counts[1] > 0 && counts[2] > 0)
            return round;
        itest_run_for(0.02);
    }
    return -1;
}

static void test_read_write_and_read_only(void **state)
{
    long ids[3] = {server_id_of("primary"), server_id_of("replica1"),
                   server_id_of("replica2")};
    /* read-write over [replica1, replica2, primary]: only the primary,
     * though it is listed last. */
    amy_pool *p = ha_pool_of("replica1,replica2,primary",
                             "pool=3&target_session_attrs=read-write");
    int counts[3] = {0};
    ids_seen(p, 300, ids, counts, 3);
    assert_int_equal(counts[0], 300);
    itest_exec(p, "CREATE TABLE IF NOT EXISTS hosts_writes (id INT "
                  "AUTO_INCREMENT PRIMARY KEY, server INT) ENGINE=InnoDB");
    itest_exec(p, "INSERT INTO hosts_writes (server) VALUES (@@server_id)");
    amy_host_stats hst;
    assert_int_equal(amy_pool_nhosts(p), 3);
    assert_int_equal(amy_pool_host_stats(p, 2, &hst), AMY_OK);
    assert_int_equal(hst.role, AMY_ROLE_PRIMARY);
    assert_true(hst.conns_open >= 1);
    assert_int_equal(amy_pool_host_stats(p, 0, &hst), AMY_OK);
    assert_int_equal(hst.role, AMY_ROLE_STANDBY);
    assert_int_equal(hst.conns_open, 0); /* probed, then closed */
    assert_int_equal(amy_pool_host_stats(p, 3, &hst), AMY_EINVAL);
    amy_pool_free(p);

    /* read-only / standby: never the primary, though it is listed first;
     * both replicas serve with load_balance_hosts=random. */
    static const char *const ro[] = {"read-only", "standby"};
    for (int k = 0; k < 2; k++) {
        char keys[128];
        snprintf(keys, sizeof keys,
                 "pool=4&load_balance_hosts=random&target_session_attrs=%s",
                 ro[k]);
        p = ha_pool_of("primary,replica1,replica2", keys);
        int c2[3] = {0};
        int rounds = until_both_replicas(p, ids, c2);
        assert_true(rounds > 0);
        assert_int_equal(c2[0], 0);
        assert_int_equal(c2[1] + c2[2], 50 * rounds);
        amy_pool_free(p);
    }
}

/* Queries until one runs on a server of `want` (a 0-ended id list), at
 * most `tries` rounds of 20; returns the rounds it took, -1 if never. */
static int until_on(amy_pool *p, const long *want, int tries)
{
    for (int round = 0; round < tries; round++) {
        amy_future *f = amy_query(p, "SELECT @@server_id");
        int st = amy_future_wait(f);
        long id = st == AMY_OK ? atol(itest_value(f)) : 0;
        amy_future_free(f);
        for (const long *w = want; *w; w++)
            if (id == *w)
                return round;
        itest_run_for(0.1); /* no timing assumption: only a pause */
    }
    return -1;
}

static void test_prefer_standby_falls_back_and_returns(void **state)
{
    long ids[3] = {server_id_of("primary"), server_id_of("replica1"),
                   server_id_of("replica2")};
    amy_pool *p = ha_pool_of("primary,replica1,replica2",
                             "pool=4&load_balance_hosts=random&"
                             "target_session_attrs=prefer-standby&"
                             "role_check_ms=200&connect_timeout_ms=20000");
    int counts[3] = {0};
    assert_true(until_both_replicas(p, ids, counts) > 0);
    assert_int_equal(counts[0], 0);

    /* Both replicas stopped: the primary serves. */
    ha_script("stop replica1");
    ha_script("stop replica2");
    long primary_only[] = {ids[0], 0};
    int r = until_on(p, primary_only, 600);
    assert_true(r >= 0);
    memset(counts, 0, sizeof counts);
    ids_seen(p, 50, ids, counts, 3);
    assert_int_equal(counts[0], 50);

    /* Back: the replicas serve again, within a few role checks. */
    ha_script("start replica1");
    ha_script("start replica2");
    long replicas[] = {ids[1], ids[2], 0};
    r = until_on(p, replicas, 600);
    print_message("prefer-standby: back on a replica after %d rounds\n", r);
    assert_true(r >= 0);
    amy_pool_free(p);
}

/* A planned switchover in the middle of 10,000 writes on a read-write
 * pool: every future resolves once; what failed failed with 1290 on the
 * old primary (or was in flight on a connection it closed); the new
 * primary takes writes. Then the topology is switched back. */
typedef struct sw_state {
    int resolved, ok, ro_refused, other;
    double first_ok_after; /* seconds after the switchover began */
    double t_switch, switch_took;
    int switched;
} sw_state;

static void sw_done(amy_future *f, void *arg)
{
    sw_state *s = arg;
    s->resolved++;
    int st = amy_future_status(f);
    if (st == AMY_OK) {
        s->ok++;
        if (s->switched && s->first_ok_after < 0)
            s->first_ok_after = itest_now() - s->t_switch;
    } else if (amy_future_server_errno(f) == 1290) {
        s->ro_refused++;
    } else {
        s->other++;
    }
}

static void test_switchover_under_load(void **state)
{
    long old_id = server_id_of("primary"), new_id = server_id_of("replica1");
    amy_pool *p = ha_pool_of("primary,replica1,replica2",
                             "pool=4&target_session_attrs=read-write&"
                             "role_check_ms=200&connect_timeout_ms=20000");
    itest_exec(p, "CREATE TABLE IF NOT EXISTS hosts_switch (id INT "
                  "AUTO_INCREMENT PRIMARY KEY, server INT, n INT) "
                  "ENGINE=InnoDB");
    itest_exec(p, "TRUNCATE TABLE hosts_switch"); /* this run's rows only */
    enum { N = 10000 };
    amy_future **fs = calloc(N, sizeof *fs);
    assert_non_null(fs);
    sw_state s = {.first_ok_after = -1};
    for (int i = 0; i < N; i++) {
        char sql[96];
        snprintf(sql, sizeof sql,
                 "INSERT INTO hosts_switch (server, n) VALUES (@@server_id, "
                 "%d)",
                 i);
        fs[i] = amy_query(p, sql);
        assert_int_equal(amy_future_then(fs[i], sw_done, &s), AMY_OK);
        if (i == N / 2) {
            /* Half are submitted (many done): switch now, as an operator
             * would, while the rest go on being submitted. */
            while (s.resolved < N / 4)
                ev_run(loop, EVRUN_ONCE);
            s.t_switch = itest_now();
            ha_script("switchover replica1");
            s.switch_took = itest_now() - s.t_switch;
            s.switched = 1;
        }
    }
    amy_future *g = amy_all(fs, N, AMY_GROUP_SETTLED);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    amy_future_free(g);
    ev_run(loop, EVRUN_NOWAIT); /* callbacks still due */
    print_message("switchover: %d ok, %d refused read-only, %d other; the "
                  "script took %.3f s (the loop did not run meanwhile); first "
                  "write on the new primary %.3f s after it began, %.3f s "
                  "after it ended\n",
                  s.ok, s.ro_refused, s.other, s.switch_took, s.first_ok_after,
                  s.first_ok_after - s.switch_took);
    assert_int_equal(s.resolved, N);
    assert_int_equal(s.ok + s.ro_refused + s.other, N);
    assert_true(s.first_ok_after >= 0);
    /* No write landed on the old primary after it went read-only: every
     * row after the first row written on the new primary is the new's. */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM hosts_switch WHERE server = %ld AND id > "
             "(SELECT MIN(id) FROM hosts_switch WHERE server = %ld)",
             old_id, new_id);
    amy_future *f = amy_query(p, sql);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "0");
    amy_future_free(f);
    for (int i = 0; i < N; i++)
        amy_future_free(fs[i]);
    free(fs);
    amy_pool_free(p);
}

/* Counts of a batch's outcomes. */
typedef struct outcome {
    int ok, lost, connect, other;
    int connect_msg_ok; /* ECONNECTs that name the connect error */
} outcome;

static void count_outcomes(amy_future **fs, int n, outcome *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < n; i++) {
        int st = amy_future_status(fs[i]);
        if (st == AMY_OK)
            o->ok++;
        else if (st == AMY_ECONNLOST)
            o->lost++;
        else if (st == AMY_ECONNECT) {
            o->connect++;
            o->connect_msg_ok +=
                strstr(amy_future_error(fs[i]), "could not connect") != NULL;
        } else {
            o->other++;
            print_error("#%d: %s\n", i, amy_future_error(fs[i]));
        }
    }
}

/* Submits n queries on p; runs the loop until `before` resolved; kills
 * node; waits for all. Returns the futures. */
static amy_future **kill_mid_batch(amy_pool *p, int n, int before,
                                   const char *node)
{
    amy_future **fs = calloc((size_t)n, sizeof *fs);
    assert_non_null(fs);
    for (int i = 0; i < n; i++)
        fs[i] = amy_query(p, "SELECT @@server_id, SLEEP(0.01)");
    for (;;) {
        int done = 0;
        for (int i = 0; i < n; i++)
            done += amy_future_status(fs[i]) != AMY_PENDING;
        if (done >= before)
            break;
        ev_run(loop, EVRUN_ONCE); /* queries are in flight: it returns */
    }
    char args[64];
    snprintf(args, sizeof args, "kill %s", node);
    ha_script(args);
    amy_future *g = amy_all(fs, (size_t)n, AMY_GROUP_SETTLED);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    amy_future_free(g);
    return fs;
}

/* The primary killed (SIGKILL) mid-batch on a read-write pool: only what
 * was in flight on it fails (ECONNLOST); the queued rest waits
 * connect_timeout_ms for an acceptable host (the replicas are not), then
 * fails with AMY_ECONNECT and the connect error. */
static void test_primary_killed(void **state)
{
    amy_pool *p =
        ha_pool_of("primary,replica1,replica2",
                   "pool=2&pipeline=4&target_session_attrs=read-write&"
                   "role_check_ms=200&connect_timeout_ms=1500");
    itest_exec(p, "SELECT 1"); /* connected and probed */
    enum { N = 300 };
    double t0 = itest_now();
    amy_future **fs = kill_mid_batch(p, N, 30, "primary");
    outcome o;
    count_outcomes(fs, N, &o);
    print_message("primary killed: %d ok, %d lost in flight, %d failed "
                  "ECONNECT after waiting (%.2f s in all)\n",
                  o.ok, o.lost, o.connect, itest_now() - t0);
    assert_true(o.ok >= 30);
    assert_int_equal(o.other, 0);
    assert_true(o.lost <= 2 * 4); /* at most what was in flight */
    assert_true(o.connect > 0);
    assert_int_equal(o.connect_msg_ok, o.connect);
    for (int i = 0; i < N; i++)
        amy_future_free(fs[i]);
    free(fs);
    amy_pool_free(p);
}

/* A Galera node killed mid-batch: only what was in flight on it fails;
 * the rest runs on the other two, which take its share. */
static void test_galera_node_killed(void **state)
{
    amy_pool *p = ha_pool_of("galera1,galera2,galera3",
                             "pool=3&pipeline=4&load_balance_hosts=random&"
                             "role_check_ms=200&connect_timeout_ms=20000");
    amy_future *warm[6];
    for (int i = 0; i < 6; i++)
        warm[i] = amy_query(p, "SELECT SLEEP(0.01)");
    amy_future *g = amy_gather(warm, 6);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    amy_future_free(g);
    for (int i = 0; i < 6; i++)
        amy_future_free(warm[i]);
    enum { N = 300 };
    amy_future **fs = kill_mid_batch(p, N, 30, "galera2");
    outcome o;
    count_outcomes(fs, N, &o);
    amy_host_stats hst;
    assert_int_equal(amy_pool_host_stats(p, 1, &hst), AMY_OK);
    print_message("galera2 killed: %d ok, %d lost in flight on it; galera2 "
                  "now %u connections, %llu failed connects\n",
                  o.ok, o.lost, hst.conns_open,
                  (unsigned long long)hst.failures);
    assert_int_equal(o.other + o.connect, 0);
    assert_true(o.lost <= 4); /* its one connection's pipeline */
    assert_int_equal(o.ok + o.lost, N);
    assert_int_equal(hst.conns_open, 0);
    /* Its share re-opens on the other two while work waits: the pool has
     * its 3 again (batches until it has, as the reopening is driven by
     * demand; a bound, not a time). */
    for (int round = 0;; round++) {
        amy_host_stats h1, h3;
        assert_int_equal(amy_pool_host_stats(p, 0, &h1), AMY_OK);
        assert_int_equal(amy_pool_host_stats(p, 2, &h3), AMY_OK);
        if (h1.conns_open + h3.conns_open == 3)
            break;
        assert_true(round < 100);
        int c[3] = {0};
        long none[3] = {0};
        ids_seen(p, 30, none, c, 3);
    }
    for (int i = 0; i < N; i++)
        amy_future_free(fs[i]);
    free(fs);
    amy_pool_free(p);
}

/* The addresses p's open connections use: how many of each of a and b. */
static void conn_addrs(const amy_pool *p, const char *a, const char *b, int *na,
                       int *nb)
{
    *na = *nb = 0;
    for (const amy__link *l = amy__list_first(&p->conns); l;
         l = amy__list_next(&p->conns, l)) {
        const amy__conn *c = AMY__CONTAINER(l, amy__conn, olink);
        *na += !strcmp(c->cfg->host, a);
        *nb += !strcmp(c->cfg->host, b);
    }
}

static void run_some(amy_pool *p, int n)
{
    amy_future *fs[32];
    for (int i = 0; i < n; i++)
        fs[i] = amy_query(p, "SELECT 1");
    amy_future *g = amy_gather(fs, (size_t)n);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    amy_future_free(g);
    for (int i = 0; i < n; i++)
        amy_future_free(fs[i]);
}

/* A name that moves (a DNS server of the test's own, tests/fake_dns.c,
 * on the test's loop): the main test server answers on 127.0.0.1 and
 * 127.0.0.2, so the name moves from one address to the other. New
 * queries reach the new address within dns_ttl_ms and a margin, and no
 * connection to the old one serves after that; a name that stops
 * resolving leaves working connections alone. */
static void test_dns_name_moves(void **state)
{
    const char *dsn0 = itest_dsn("AMY_TEST_DSN");
    const char *at = strstr(dsn0, "@127.0.0.1:");
    if (!at)
        skip();
    fdns *d = fdns_start(loop);
    assert_non_null(d);
    fdns_set_ttl(d, 1);
    assert_int_equal(fdns_set(d, "db.amy.test", "127.0.0.1"), 0);
    char dsn[512], err[256];
    const char *rest = at + strlen("@127.0.0.1");
    snprintf(dsn, sizeof dsn,
             "%.*s@db.amy.test%s%cdns_servers=127.0.0.1:%u&dns_ttl_ms=1000&"
             "pool=2",
             (int)(at - dsn0), dsn0, rest, strchr(rest, '?') ? '&' : '?',
             fdns_port(d));
    amy_pool *p = amy_pool_new(loop, dsn, err, sizeof err);
    if (!p)
        print_error("amy_pool_new: %s\n", err);
    assert_non_null(p);
    run_some(p, 20);
    int n1, n2;
    conn_addrs(p, "127.0.0.1", "127.0.0.2", &n1, &n2);
    assert_true(n1 >= 1 && n2 == 0);
    assert_true(fdns_queries(d, "db.amy.test", 0) >= 1);

    /* Moved: within the TTL and a margin, every connection is to the new
     * address, and it stays so. */
    assert_int_equal(fdns_set(d, "db.amy.test", "127.0.0.2"), 0);
    double t0 = itest_now();
    int rounds = 0;
    for (;; rounds++) {
        run_some(p, 10);
        conn_addrs(p, "127.0.0.1", "127.0.0.2", &n1, &n2);
        if (n1 == 0 && n2 >= 1)
            break;
        assert_true(rounds < 400); /* a bound, not a timing assertion */
        itest_run_for(0.025);
    }
    print_message("dns: on the new address after %.2f s (dns_ttl_ms=1000)\n",
                  itest_now() - t0);
    for (int i = 0; i < 5; i++) {
        run_some(p, 20);
        conn_addrs(p, "127.0.0.1", "127.0.0.2", &n1, &n2);
        assert_int_equal(n1, 0);
    }

    /* The name stops resolving: the connections go on serving. */
    unsigned before = fdns_queries(d, "db.amy.test", 0);
    assert_int_equal(fdns_set(d, "db.amy.test", NULL), 0);
    while (fdns_queries(d, "db.amy.test", 0) < before + 2) {
        run_some(p, 10);
        itest_run_for(0.05);
    }
    run_some(p, 20);
    conn_addrs(p, "127.0.0.1", "127.0.0.2", &n1, &n2);
    assert_true(n2 >= 1);
    amy_pool_free(p);
    fdns_stop(d);

    /* A name that never resolves fails the queue with the resolver's
     * message (the deny list has nothing else to try). */
    d = fdns_start(loop);
    snprintf(dsn, sizeof dsn,
             "mysql://u:secret-pw@nope.amy.test/db?dns_servers=127.0.0.1:%u",
             fdns_port(d));
    p = amy_pool_new(loop, dsn, err, sizeof err);
    assert_non_null(p);
    amy_future *f = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_wait(f), AMY_ECONNECT);
    assert_non_null(strstr(amy_future_error(f), "nope.amy.test"));
    assert_null(strstr(amy_future_error(f), "secret-pw"));
    amy_future_free(f);
    amy_pool_free(p);
    fdns_stop(d);
}

/* Whatever a test did, the topology as the others expect it: the node
 * named primary is the primary, every node runs, Galera is whole. A
 * switchover to the primary itself does nothing. */
static int restore_topology(void **state)
{
    /* galera2 back in the cluster first: the script's start takes a
     * cluster short of a node for a broken one, and would start the whole
     * topology afresh (maybe on other ports, which this run's env does not
     * name). */
    amy_pool *g2 = ha_root_pool("galera2");
    amy_future *f =
        amy_query(g2, "SET GLOBAL wsrep_provider_options='gmcast.isolate=0'");
    amy_future_wait(f);
    amy_future_free(f);
    for (int tries = 0; tries < 1200; tries++) {
        f = amy_query(g2, "SELECT VARIABLE_VALUE FROM "
                          "information_schema.GLOBAL_STATUS WHERE "
                          "VARIABLE_NAME = 'WSREP_READY'");
        int st = amy_future_wait(f);
        int on = st != AMY_OK || !strcmp(itest_value(f), "ON");
        amy_future_free(f);
        if (on)
            break; /* ready, or not running at all (start brings it) */
        itest_run_for(0.05);
    }
    amy_pool_free(g2);
    ha_script("start");
    ha_script("switchover primary");
    return 0;
}

/* Galera: connections spread over the three nodes; a node that is not
 * wsrep_ready (isolated from the cluster) is not used. */
static void test_galera_spread_and_not_ready(void **state)
{
    amy_pool *p = ha_pool_of("galera1,galera2,galera3",
                             "pool=6&load_balance_hosts=random&"
                             "role_check_ms=200");
    long ids[3] = {server_id_of("galera1"), server_id_of("galera2"),
                   server_id_of("galera3")};
    amy_future *fs[60];
    for (int i = 0; i < 60; i++)
        fs[i] = amy_query(p, "SELECT @@server_id, SLEEP(0.01)");
    amy_future *g = amy_gather(fs, 60);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    amy_future_free(g);
    for (int i = 0; i < 60; i++)
        amy_future_free(fs[i]);
    unsigned open[3];
    for (int i = 0; i < 3; i++) {
        amy_host_stats hst;
        assert_int_equal(amy_pool_host_stats(p, (size_t)i, &hst), AMY_OK);
        assert_int_equal(hst.role, AMY_ROLE_PRIMARY);
        open[i] = hst.conns_open;
    }
    print_message("galera: connections per node %u %u %u\n", open[0], open[1],
                  open[2]);
    assert_int_equal(open[0] + open[1] + open[2], 6);
    assert_true(open[0] >= 1 && open[1] >= 1 && open[2] >= 1);
    amy_pool_free(p);

    /* galera2 isolated: not ready; a new pool never uses it. */
    amy_pool *g2 = ha_root_pool("galera2");
    itest_exec(g2, "SET GLOBAL wsrep_provider_options='gmcast.isolate=1'");
    amy_pool *q = ha_pool_of("galera2,galera1,galera3",
                             "pool=3&load_balance_hosts=random");
    int counts[3] = {0};
    long order[3] = {ids[1], ids[0], ids[2]};
    /* A node out of the cluster may still take a moment to say so: wait
     * for its status, then check. */
    for (int tries = 0; tries < 600; tries++) {
        amy_future *f = amy_query(
            g2, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                "WHERE VARIABLE_NAME = 'WSREP_READY'");
        assert_int_equal(amy_future_wait(f), AMY_OK);
        int off = !strcmp(itest_value(f), "OFF");
        amy_future_free(f);
        if (off)
            break;
        itest_run_for(0.05);
    }
    ids_seen(q, 200, order, counts, 3);
    assert_int_equal(counts[0], 0);
    assert_int_equal(counts[1] + counts[2], 200);
    /* Probed UNAVAILABLE, or (a slow machine) its connect or probe not
     * through yet: either way no connection of it serves. */
    amy_host_stats hst;
    assert_int_equal(amy_pool_host_stats(q, 0, &hst), AMY_OK);
    assert_int_not_equal(hst.role, AMY_ROLE_PRIMARY);
    amy_pool_free(q);
    itest_exec(g2, "SET GLOBAL wsrep_provider_options='gmcast.isolate=0'");
    amy_pool_free(g2);
    /* Back in the cluster before the next test. */
    amy_pool *back = ha_pool_of("galera2", "pool=1");
    for (int tries = 0; tries < 1200; tries++) {
        amy_future *f = amy_query(
            back, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                  "WHERE VARIABLE_NAME = 'WSREP_READY'");
        int st = amy_future_wait(f);
        int on = st == AMY_OK && !strcmp(itest_value(f), "ON");
        amy_future_free(f);
        if (on)
            break;
        itest_run_for(0.05);
    }
    amy_pool_free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_in_order_and_deny_list),
        cmocka_unit_test(test_pick_by_role),
        cmocka_unit_test(test_pick_random_spreads),
        cmocka_unit_test(test_dns_name_moves),
        cmocka_unit_test(test_read_write_and_read_only),
        cmocka_unit_test_teardown(test_prefer_standby_falls_back_and_returns,
                                  restore_topology),
        cmocka_unit_test_teardown(test_switchover_under_load, restore_topology),
        cmocka_unit_test_teardown(test_galera_spread_and_not_ready,
                                  restore_topology),
        cmocka_unit_test_teardown(test_primary_killed, restore_topology),
        cmocka_unit_test_teardown(test_galera_node_killed, restore_topology),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
