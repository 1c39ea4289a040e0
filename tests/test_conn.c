/*
 * Integration tests for src/conn.c: connecting (TCP, Unix socket, refused,
 * wrong password, silent server), lost connections, and what reaches the
 * futures of a connection that breaks.
 */
#include "itest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The port of the test server, from AMY_TEST_DSN. */
static unsigned test_port(void)
{
    const char *dsn = itest_dsn("AMY_TEST_DSN");
    const char *at = strrchr(dsn, '@');
    const char *colon = at ? strchr(at, ':') : NULL;
    assert_non_null(colon);
    return (unsigned)atoi(colon + 1);
}

static void expect_select_works(amy_pool *p)
{
    amy_future *f = amy_query(p, "SELECT CONCAT('o', 'k')");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "ok");
    amy_future_free(f);
}

static void test_unix_socket(void **state)
{
    amy_pool *p = itest_pool_from(loop, "AMY_TEST_SOCKET_DSN", NULL);
    expect_select_works(p);
    amy_pool_free(p);
}

static void test_percent_decoded_credentials(void **state)
{
    /* user amy_special, password "p@ss:w/rd%?&" written percent-encoded */
    amy_pool *p = itest_pool_from(loop, "AMY_TEST_SPECIAL_DSN", NULL);
    amy_future *f = amy_query(p, "SELECT CURRENT_USER()");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_non_null(strstr(itest_value(f), "amy_special"));
    amy_future_free(f);
    amy_pool_free(p);
}

static void test_wrong_password(void **state)
{
    char dsn[256], err[256];
    snprintf(dsn, sizeof dsn,
             "mysql://amy:Wr0ngSecret@127.0.0.1:%u/amysql_test?pool=3",
             test_port());
    amy_pool *p = amy_pool_new(loop, dsn, err, sizeof err);
    assert_non_null(p);
    amy_future *fs[5];
    for (int i = 0; i < 5; i++)
        fs[i] = amy_query(p, "SELECT 1");
    double t0 = itest_now();
    amy_future *g = amy_gather(fs, 5);
    assert_int_equal(amy_future_wait(g), AMY_EGATHER);
    assert_true(itest_now() - t0 < 5.0); /* a hang guard, not a speed check */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(amy_future_status(fs[i]), AMY_ECONNECT);
        assert_int_equal(amy_future_server_errno(fs[i]), 1045);
        assert_string_equal(amy_future_sqlstate(fs[i]), "28000");
        assert_non_null(strstr(amy_future_error(fs[i]), "Access denied"));
        assert_null(strstr(amy_future_error(fs[i]), "Wr0ngSecret"));
        amy_future_free(fs[i]);
    }
    assert_null(strstr(amy_future_error(g), "Wr0ngSecret"));
    amy_future_free(g);
    /* The pool stays usable: a later query tries again (and fails again). */
    amy_future *f = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_wait(f), AMY_ECONNECT);
    amy_future_free(f);
    amy_pool_free(p);
}

/* A port of our own with nothing listening on it. */
static unsigned closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

static void test_refused_port(void **state)
{
    char dsn[256], err[256];
    snprintf(
        dsn, sizeof dsn,
        "mysql://amy:amy_pw@127.0.0.1:%u/amysql_test?connect_timeout_ms=300",
        closed_port());
    amy_pool *p = amy_pool_new(loop, dsn, err, sizeof err);
    assert_non_null(p);
    amy_future *f = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_wait(f), AMY_ECONNECT);
    assert_int_equal(amy_future_server_errno(f), 2002);
    assert_non_null(strstr(amy_future_error(f), "could not connect"));
    assert_null(strstr(amy_future_error(f), "amy_pw"));
    amy_future_free(f);
    amy_pool_free(p);
}

/* A server that accepts the TCP connection and never says a word: the
 * connect deadline fails the queries instead of hanging. */
static void test_silent_server_connect_timeout(void **state)
{
    unsigned port;
    int s = itest_silent_listener(&port);
    char dsn[256], err[256];
    snprintf(dsn, sizeof dsn,
             "mysql://amy:amy_pw@127.0.0.1:%u/db?connect_timeout_ms=200&pool=2",
             port);
    amy_pool *p = amy_pool_new(loop, dsn, err, sizeof err);
    assert_non_null(p);
    amy_future *fs[3];
    for (int i = 0; i < 3; i++)
        fs[i] = amy_query(p, "SELECT 1");
    double t0 = itest_now();
    amy_future *g = amy_gather(fs, 3);
    amy_future_wait(g);
    double dt = itest_now() - t0;
    assert_true(dt < 3.0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(amy_future_status(fs[i]), AMY_ECONNECT);
        assert_non_null(strstr(amy_future_error(fs[i]), "timed out"));
        amy_future_free(fs[i]);
    }
    amy_future_free(g);
    amy_pool_free(p);
    close(s);
}

static int three_in_flight(const amy_stats *s)
{
    return s->in_flight == 3;
}

/*
 * The server kills the connection while queries are in flight on it: the
 * ones sent on it fail with the connector's lost-connection error (or the
 * server's "killed" error for the running one); the ones still queued run on
 * a fresh connection; the pool keeps working.
 */
static void test_killed_connection(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=3");
    amy_pool *admin = itest_pool(loop, "pool=1");
    amy_future *idf = amy_query(p, "SELECT CONNECTION_ID()");
    assert_int_equal(amy_future_wait(idf), AMY_OK);
    char kill[64];
    snprintf(kill, sizeof kill, "KILL CONNECTION %s", itest_value(idf));
    amy_future_free(idf);

    enum { N = 8 };
    amy_future *fs[N];
    /* fs[0] waits behind a gate: it is still running when the kill lands. */
    itest_gate gate;
    itest_gate_close(&gate, loop, "t_conn_gate");
    fs[0] = amy_query(p, "SELECT COUNT(*) FROM t_conn_gate");
    for (int i = 1; i < N; i++) {
        char sql[32];
        snprintf(sql, sizeof sql, "SELECT %d", i);
        fs[i] = amy_query(p, sql);
    }
    /* fs[0..2] are sent (pipeline=3) and fs[0] runs when the kill lands. */
    itest_run_until(loop, p, three_in_flight, "3 queries sent");
    itest_wait_running(admin, "SELECT COUNT(*) FROM t_conn_gate", 1);
    itest_exec(admin, kill);

    amy_future *g = amy_gather(fs, N);
    assert_int_equal(amy_future_wait(g), AMY_EGATHER);
    int lost = 0;
    for (int i = 0; i < N; i++) {
        int st = amy_future_status(fs[i]);
        if (i < 3) {
            if (st != AMY_ECONNLOST && st != AMY_ESERVER)
                print_error("#%d: %s %u %s\n", i, amy_status_name(st),
                            amy_future_server_errno(fs[i]),
                            amy_future_error(fs[i]));
            assert_true(st == AMY_ECONNLOST || st == AMY_ESERVER);
            unsigned e = amy_future_server_errno(fs[i]);
            assert_true(e == 2013 || e == 2006 || e == 1927 || e == 1053);
            lost++;
        } else {
            char want[16];
            snprintf(want, sizeof want, "%d", i);
            assert_int_equal(st, AMY_OK);
            assert_string_equal(itest_value(fs[i]), want);
        }
    }
    assert_int_equal(lost, 3);
    itest_gate_open(&gate);
    amy_future_free(g);
    for (int i = 0; i < N; i++)
        amy_future_free(fs[i]);
    expect_select_works(p);
    amy_pool_free(admin);
    amy_pool_free(p);
}

/*
 * Runs n copies of sql (it reads t_conn_gate) on p, held behind a gate
 * until `conns` of them run at once on the server, so that one connection
 * cannot answer them all before the others are open: each holds one until
 * the gate opens. Exactly `conns` connections exist meanwhile. Then all are
 * gathered and must succeed.
 */
static void run_spread(amy_pool *p, const char *sql, amy_future **fs, int n,
                       long conns)
{
    amy_pool *watch = itest_pool(loop, "pool=1");
    itest_gate gate;
    itest_gate_close(&gate, loop, "t_conn_gate");
    for (int i = 0; i < n; i++)
        fs[i] = amy_query(p, sql);
    itest_wait_running(watch, sql, conns);
    amy_stats s = itest_stats(p);
    assert_int_equal(s.conns_open + s.conns_connecting, conns);
    itest_gate_open(&gate);
    amy_pool_free(watch);
    amy_future *g = amy_gather(fs, (size_t)n);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    amy_future_free(g);
}

/* How many distinct values column col of fs's first rows holds. */
static int distinct_values(amy_future *const *fs, int n, size_t col)
{
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        const char *v =
            amy_result_value(amy_future_result(fs[i]), 0, col, NULL);
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(
                v, amy_result_value(amy_future_result(fs[j]), 0, col, NULL));
        distinct += !seen;
    }
    return distinct;
}

/* The pool opens connections lazily and no more than `pool`. */
static void test_pool_size_respected(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=3&pipeline=1");
    enum { N = 12 };
    amy_future *fs[N];
    run_spread(p, "SELECT CONNECTION_ID() FROM t_conn_gate", fs, N, 3);
    assert_int_equal(distinct_values(fs, N, 0), 3);
    for (int i = 0; i < N; i++)
        amy_future_free(fs[i]);
    amy_pool_free(p);
}

/* Statements of 2^24 bytes and more travel as several protocol packets;
 * the server must see the exact text. */
static void test_query_over_16mib(void **state)
{
    amy_pool *admin = itest_admin_pool(loop);
    itest_exec(admin, "SET GLOBAL max_allowed_packet = 67108864");
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=4");
    static const size_t sizes[] = {16777215 - 19, 16777215 - 18, 16777215 - 17,
                                   17000000, 2 * 16777215 - 18};
    enum { N = sizeof sizes / sizeof sizes[0] };
    amy_future *fs[N + 1];
    for (size_t i = 0; i < N; i++) {
        /* The payload is x + 18 bytes ("SELECT LENGTH('", "')" and the
         * command byte): the sizes straddle one full 2^24-1 packet. */
        size_t x = sizes[i];
        char *sql = malloc(x + 32);
        assert_non_null(sql);
        int n = snprintf(sql, 32, "SELECT LENGTH('");
        memset(sql + n, 'a' + (int)i, x);
        memcpy(sql + n + x, "')", 3);
        fs[i] = amy_query(p, sql);
        free(sql);
    }
    fs[N] = amy_query(p, "SELECT 'after'");
    amy_future *g = amy_gather(fs, N + 1);
    int st = amy_future_wait(g);
    if (st != AMY_OK)
        print_error("%s\n", amy_future_error(g));
    assert_int_equal(st, AMY_OK);
    for (size_t i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof want, "%zu", sizes[i]);
        assert_string_equal(itest_value(fs[i]), want);
        amy_future_free(fs[i]);
    }
    assert_string_equal(itest_value(fs[N]), "after");
    amy_future_free(fs[N]);
    amy_future_free(g);
    amy_pool_free(p);
    itest_exec(admin, "SET GLOBAL max_allowed_packet = 16777216");
    amy_pool_free(admin);
}

/* init: every statement runs on every new connection, in order, before it
 * serves (a result set among them is read and dropped); all three
 * connections show it. */
#define INIT_SQL                                                               \
    "SELECT @@session.time_zone, @amy_init, CONNECTION_ID() FROM t_conn_gate"

static void test_init_statements(void **state)
{
    amy_pool *p = itest_pool(
        loop,
        "pool=3&pipeline=1&init=SELECT%201"
        "&init=SET%20@@session.time_zone%3D%27%2B00:00%27"
        "&init=SET%20@amy_init%3D41&init=SET%20@amy_init%3D@amy_init%2B1");
    enum { N = 30 };
    amy_future *fs[N];
    run_spread(p, INIT_SQL, fs, N, 3);
    for (int i = 0; i < N; i++) {
        const amy_result *r = amy_future_result(fs[i]);
        assert_string_equal(amy_result_value(r, 0, 0, NULL), "+00:00");
        assert_string_equal(amy_result_value(r, 0, 1, NULL), "42");
    }
    assert_int_equal(distinct_values(fs, N, 2), 3); /* each ran the init */
    for (int i = 0; i < N; i++)
        amy_future_free(fs[i]);
    amy_pool_free(p);
}

/* A failing init fails the connection with the server's error: its
 * queries fail AMY_ECONNECT at once (a syntax error is permanent), and
 * the message says which statement. */
static void test_init_fails(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2&init=SET%20@a%3D1&init=SELEC%201");
    amy_future *f = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_wait(f), AMY_ECONNECT);
    assert_int_equal(amy_future_server_errno(f), 1064);
    assert_string_equal(amy_future_sqlstate(f), "42000");
    assert_non_null(strstr(amy_future_error(f), "init statement 2 of 2"));
    assert_null(strstr(amy_future_error(f), "amy_pw"));
    amy_future_free(f);
    amy_stats s;
    amy_pool_stats(p, &s);
    assert_int_equal(s.conns_open, 0);
    amy_pool_free(p);
}

/* charset: the session's character set, which escaping follows; an unknown
 * one is refused by amy_pool_new, naming the key. */
static void test_charset(void **state)
{
    amy_pool *p = itest_pool(loop, "charset=latin1");
    amy_future *f = amy_query(p, "SELECT CONCAT(@@character_set_client, ' ', "
                                 "@@character_set_connection, ' ', "
                                 "@@character_set_results)");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "latin1 latin1 latin1");
    amy_future_free(f);
    /* A quote and a backslash survive the escaping of this character set. */
    amy_value v = amy_val_text("it's a \\ test", 13);
    f = amy_query_params(p, "SELECT ?", &v, 1);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "it's a \\ test");
    amy_future_free(f);
    amy_pool_free(p);

    p = itest_pool(loop, NULL);
    f = amy_query(p, "SELECT @@character_set_connection");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_string_equal(itest_value(f), "utf8mb4"); /* the default */
    amy_future_free(f);
    amy_pool_free(p);

    char dsn[512], err[256];
    const char *base = itest_dsn("AMY_TEST_DSN");
    snprintf(dsn, sizeof dsn, "%s%ccharset=klingon", base,
             strchr(base, '?') ? '&' : '?');
    assert_null(amy_pool_new(loop, dsn, err, sizeof err));
    assert_non_null(strstr(err, "'charset'"));
    assert_non_null(strstr(err, "klingon"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_percent_decoded_credentials),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_refused_port),
        cmocka_unit_test(test_silent_server_connect_timeout),
        cmocka_unit_test(test_killed_connection),
        cmocka_unit_test(test_pool_size_respected),
        cmocka_unit_test(test_query_over_16mib),
        cmocka_unit_test(test_init_statements),
        cmocka_unit_test(test_init_fails),
        cmocka_unit_test(test_charset),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
