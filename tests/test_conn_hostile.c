/*
 * src/conn.c against a hostile server (tests/fake_server.c): a relay in
 * front of the real test server that, scenario by scenario, answers one
 * marked query with broken protocol, or fakes the handshake.
 *
 * For every scenario: the marked query's future resolves exactly once,
 * with an error (or its deadline), never with another query's answer; a
 * pool on the real server is served meanwhile; and the same pool (pool=1)
 * then serves queries normally through the relay, each with its own
 * answer. ASan and valgrind run this program too: no crash, no leak.
 */
#include "fake_server.h"
#include "itest.h"

#include <mysql.h>
#include <pthread.h>

#include "dsn.h"

/* Huge allocations the connector attempts for absurd lengths must fail
 * with NULL under ASan (as malloc does), not abort the test. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static fk_server *fk;
static char fk_dsn[1024]; /* the test DSN, pointed at the relay */
static char password[128];

/* Starts the relay in front of AMY_TEST_DSN's server, or skips. */
static void relay_up(void)
{
    const char *dsn = itest_dsn("AMY_TEST_DSN");
    amy__dsn d;
    char err[256];
    assert_int_equal(amy__dsn_parse(dsn, &d, err, sizeof err), 0);
    assert_non_null(d.host);
    fk = fk_start(d.host, d.port ? d.port : 3306);
    assert_non_null(fk);
    snprintf(password, sizeof password, "%s", d.password ? d.password : "");
    /* mysql://user:pw@HOST:PORT/db?... -> the relay's address. */
    const char *at = strchr(dsn, '@'), *slash = at ? strchr(at, '/') : NULL;
    assert_non_null(slash);
    snprintf(fk_dsn, sizeof fk_dsn, "%.*s127.0.0.1:%u%s", (int)(at + 1 - dsn),
             dsn, fk_port(fk), slash);
    amy__dsn_clear(&d);
}

static int setup(void **state)
{
    fk = NULL;
    return itest_setup(state);
}

static int teardown(void **state)
{
    fk_stop(fk);
    fk = NULL;
    return itest_teardown(state);
}

/* A pool of one connection through the relay. */
static amy_pool *relay_pool(const char *params)
{
    char buf[1400], err[256];
    snprintf(buf, sizeof buf, "%s%spool=1&kill_grace_ms=300%s%s", fk_dsn,
             strchr(fk_dsn, '?') ? "&" : "?", params ? "&" : "",
             params ? params : "");
    amy_pool *p = amy_pool_new(loop, buf, err, sizeof err);
    if (!p)
        print_error("amy_pool_new: %s\n", err);
    assert_non_null(p);
    return p;
}

static void count_cb(amy_future *f, void *arg)
{
    (void)f;
    (*(int *)arg)++;
}

/* A query with a hang guard (only a guard: normally it answers at once). */
static amy_future *guarded(amy_pool *p, const char *sql)
{
    amy_future *f = amy_query(p, sql);
    assert_non_null(f);
    assert_int_equal(amy_future_set_timeout(f, 30000), AMY_OK);
    return f;
}

/* The pool answers n pipelined queries, each with its own value. */
static void serves_normally(amy_pool *p, int n)
{
    amy_future *f[32];
    char sql[64];
    assert_true(n <= 32);
    for (int i = 0; i < n; i++) {
        snprintf(sql, sizeof sql, "SELECT %d", 1000 + i);
        f[i] = guarded(p, sql);
    }
    for (int i = 0; i < n; i++) {
        int st = amy_future_wait(f[i]);
        if (st != AMY_OK)
            print_error("query %d: %s\n", i, amy_future_error(f[i]));
        assert_int_equal(st, AMY_OK);
        char want[16];
        snprintf(want, sizeof want, "%d", 1000 + i);
        assert_string_equal(itest_value(f[i]), want);
        amy_future_free(f[i]);
    }
}

/* What a scenario's marked query may resolve with. */
typedef struct expect {
    fk_mode mode;
    int status;            /* the status it must have */
    unsigned server_errno; /* if nonzero, with this error number */
    const char *value;     /* AMY_OK: the value it must have */
} expect;

/*
 * The marked query alone on the connection, with a deadline of 500 ms; a
 * query on a pool of the real server answers meanwhile; then the pool
 * serves 20 pipelined queries correctly.
 */
static void run_query_scenario(const expect *e)
{
    relay_up();
    amy_pool *p = relay_pool(NULL);
    amy_pool *other = itest_pool(loop, NULL);
    serves_normally(p, 1); /* connected, through the relay */

    fk_set_mode(fk, e->mode);
    int calls = 0;
    amy_future *h = amy_query(p, "SELECT '" FK_MARK "'");
    assert_non_null(h);
    assert_int_equal(amy_future_set_timeout(h, 500), AMY_OK);
    amy_future_then(h, count_cb, &calls);
    amy_future *o = guarded(other, "SELECT 2");
    assert_int_equal(amy_future_wait(o), AMY_OK);
    assert_string_equal(itest_value(o), "2");
    amy_future_free(o);

    int st = amy_future_wait(h);
    print_message("%-14s -> %s (%u): %s\n", fk_mode_name(e->mode),
                  amy_strerror(st), amy_future_server_errno(h),
                  amy_future_error(h) ? amy_future_error(h) : "");
    assert_int_equal(fk_hostile_answers(fk), 1);
    assert_int_equal(st, e->status);
    if (e->server_errno)
        assert_int_equal(amy_future_server_errno(h), e->server_errno);
    if (st != AMY_OK)
        assert_non_null(amy_future_error(h));
    else if (e->value)
        assert_string_equal(itest_value(h), e->value);
    else
        assert_int_equal(amy_result_nrows(amy_future_result(h)), 0);
    fk_set_mode(fk, FK_RELAY);
    serves_normally(p, 20);
    assert_int_equal(calls, 1);
    amy_future_free(h);
    assert_int_equal(calls, 1);
    amy_pool_free(p);
    amy_pool_free(other);
}

#define SCENARIO(name, m, st, no)                                              \
    static void test_##name(void **state)                                      \
    {                                                                          \
        (void)state;                                                           \
        expect e = {m, st, no, NULL};                                          \
        run_query_scenario(&e);                                                \
    }

/* Never answers: the deadline, then the kill's grace closes the
 * connection (with pool=1 the pool would otherwise never serve again). */
SCENARIO(silent, FK_SILENT, AMY_ETIMEDOUT, 0)
/* Answers one byte per 100 ms: the same. */
SCENARIO(drip, FK_DRIP, AMY_ETIMEDOUT, 0)
SCENARIO(truncated, FK_TRUNCATED, AMY_ECONNLOST, 2013)
/* The connector adopts the packet numbers it reads, and the number of a
 * complete answer proves nothing (MariaDB numbers an OK after progress
 * reports 2 or more): the OK is taken, and the stream is in step. */
SCENARIO(bad_seq, FK_BAD_SEQ, AMY_OK, 0)
/* Lengths beyond the packet: the connector's "malformed packet". */
SCENARIO(cols_huge, FK_COLS_HUGE, AMY_ECLIENT, 2027)
SCENARIO(len_24, FK_LEN_24, AMY_ECLIENT, 2027)
/* The connector reads as many values as there are columns and ignores
 * the rest of the row's packet: the answer is complete and in step. */
static void test_extra_values(void **state)
{
    (void)state;
    expect e = {FK_EXTRA_VALUES, AMY_OK, 0, "a"};
    run_query_scenario(&e);
}
/* A complete error packet, however odd: the server's error, and the
 * connection stays in step. */
SCENARIO(err_garbage, FK_ERR_GARBAGE, AMY_ESERVER, 65025)
/* An error packet with error number 0: the connector's own error. */
SCENARIO(err_zero, FK_ERR_ZERO, AMY_ECLIENT, 5026)
/* A column count the connector cannot allocate for: it fails without an
 * error number, with the rest of the answer unread: closed. */
SCENARIO(cols_24, FK_COLS_24, AMY_ECLIENT, 2000)
SCENARIO(close_mid_row, FK_CLOSE_MID_ROW, AMY_ECONNLOST, 2013)
SCENARIO(more_results, FK_MORE_RESULTS, AMY_ECLIENT, 2027)
SCENARIO(gib_value, FK_GIB_VALUE, AMY_ECLIENT, 2027)
SCENARIO(gib_packet, FK_GIB_PACKET, AMY_ETIMEDOUT, 0)
/* Column definitions are read by bound.c: a NULL name (the connector's
 * unpacking would measure it by a NULL pointer), or a definition that
 * ends early (the connector's own reader would read past it), is a
 * malformed packet, the rest of the answer unread: closed. */
SCENARIO(null_name, FK_NULL_NAME, AMY_ECLIENT, 2027)
SCENARIO(coldef_short, FK_COLDEF_SHORT, AMY_ECLIENT, 2027)

/* A correct answer, then one nobody asked for: the marked query has its
 * own answer, and the next query never gets the stale one. */
static void test_unsolicited(void **state)
{
    (void)state;
    relay_up();
    amy_pool *p = relay_pool(NULL);
    serves_normally(p, 1);
    fk_set_mode(fk, FK_UNSOLICITED);
    amy_future *h = guarded(p, "SELECT '" FK_MARK "'");
    assert_int_equal(amy_future_wait(h), AMY_OK);
    assert_string_equal(itest_value(h), "answer");
    amy_future_free(h);
    fk_set_mode(fk, FK_RELAY);
    serves_normally(p, 20);
    /* The connection that heard it was closed, and another opened. */
    assert_true(fk_accepted(fk) >= 2);
    assert_true(itest_stats(p).reconnects >= 1);
    amy_pool_free(p);
}

/* A "more results" flag a single statement cannot have, with the next
 * query pipelined behind it: that query fails (it was sent on the
 * connection closed) or has its own answer, never the marked one's. */
static void test_more_results_pipelined(void **state)
{
    (void)state;
    relay_up();
    amy_pool *p = relay_pool(NULL);
    serves_normally(p, 1);
    fk_set_mode(fk, FK_MORE_RESULTS);
    amy_future *h = guarded(p, "SELECT '" FK_MARK "'");
    amy_future *next = guarded(p, "SELECT 42");
    assert_int_equal(amy_future_wait(h), AMY_ECLIENT);
    int st = amy_future_wait(next);
    if (st == AMY_OK)
        assert_string_equal(itest_value(next), "42");
    else /* sent on the connection that was closed */
        assert_true(st == AMY_ECLIENT || st == AMY_ECONNLOST);
    amy_future_free(h);
    amy_future_free(next);
    fk_set_mode(fk, FK_RELAY);
    serves_normally(p, 20);
    amy_pool_free(p);
}

/* The same flag on a CALL is the server's right: CALL ends with an OK
 * packet after its result sets. */
static void test_call_keeps_more_results(void **state)
{
    (void)state;
    amy_pool *p = itest_pool(loop, "pool=1");
    itest_exec(p, "CREATE PROCEDURE IF NOT EXISTS amy_hostile_two() "
                  "BEGIN SELECT 1; SELECT 2; END");
    amy_future *f = guarded(p, "  /* two */ call amy_hostile_two()");
    assert_int_equal(amy_future_wait(f), AMY_OK);
    amy_future_free(f);
    assert_int_equal(itest_stats(p).reconnects, 0);
    itest_exec(p, "DROP PROCEDURE amy_hostile_two");
    amy_pool_free(p);
}

/* The other kinds of query, on a server gone silent: a prepared statement
 * (its COM_STMT_PREPARE is marked) and a stream. Their deadline, then the
 * grace, then the pool serves again. */
static void on_row(amy_future *f, const char *const *values,
                   const size_t *lengths, size_t ncols, void *arg)
{
    (void)values;
    (void)lengths;
    (void)ncols;
    (*(int *)arg)++;
}

static void test_kinds_on_silent_server(void **state)
{
    (void)state;
    relay_up();
    amy_pool *p = relay_pool(NULL);
    serves_normally(p, 1);
    fk_set_mode(fk, FK_SILENT);
    amy_value v = amy_val_int64(5);
    int calls = 0, rows = 0;
    amy_future *x = amy_exec(p, "SELECT ? /* " FK_MARK " */", &v, 1);
    assert_non_null(x);
    assert_int_equal(amy_future_set_timeout(x, 300), AMY_OK);
    amy_future_then(x, count_cb, &calls);
    assert_int_equal(amy_future_wait(x), AMY_ETIMEDOUT);
    /* Once the grace closed that connection, a new one serves. */
    fk_set_mode(fk, FK_RELAY);
    serves_normally(p, 1);
    fk_set_mode(fk, FK_SILENT);
    amy_future *s = amy_query_stream(p, "SELECT '" FK_MARK "' FROM seq_1_to_10",
                                     on_row, &rows);
    assert_non_null(s);
    assert_int_equal(amy_future_set_timeout(s, 300), AMY_OK);
    amy_future_then(s, count_cb, &calls);
    assert_int_equal(amy_future_wait(s), AMY_ETIMEDOUT);
    assert_int_equal(rows, 0);
    fk_set_mode(fk, FK_RELAY);
    serves_normally(p, 20);
    amy_future *y = amy_exec(p, "SELECT ?", &v, 1);
    assert_int_equal(amy_future_set_timeout(y, 30000), AMY_OK);
    assert_int_equal(amy_future_wait(y), AMY_OK);
    assert_string_equal(itest_value(y), "5");
    amy_future_free(y);
    assert_int_equal(fk_hostile_answers(fk), 2);
    assert_int_equal(calls, 2);
    amy_future_free(x);
    amy_future_free(s);
    amy_pool_free(p);
}

/* ------------------------------------------------------------------------ */
/* The handshake                                                            */
/* ------------------------------------------------------------------------ */

/* The first connect meets handshake mode m: the query fails AMY_ECONNECT
 * with a message containing `says`; the password never reaches the fake
 * server; once the relay is honest again the pool connects and serves. */
static void run_handshake_scenario(fk_mode m, const char *says)
{
    relay_up();
    fk_set_mode(fk, m);
    amy_pool *p = relay_pool("connect_timeout_ms=5000");
    int calls = 0;
    amy_future *f = guarded(p, "SELECT 1");
    amy_future_then(f, count_cb, &calls);
    int st = amy_future_wait(f);
    print_message("%-14s -> %s: %s\n", fk_mode_name(m), amy_strerror(st),
                  amy_future_error(f) ? amy_future_error(f) : "");
    assert_int_equal(st, AMY_ECONNECT);
    assert_non_null(strstr(amy_future_error(f), says));
    assert_int_equal(calls, 1);
    amy_future_free(f);
    assert_true(fk_hostile_answers(fk) >= 1);
    assert_false(password[0] && fk_saw(fk, password));
    fk_set_mode(fk, FK_RELAY);
    /* Refused plugins are a permanent error: the pool keeps failing fast
     * until a connect succeeds, which the next query tries. */
    for (int i = 0;; i++) {
        amy_future *g = guarded(p, "SELECT 7");
        st = amy_future_wait(g);
        if (st == AMY_OK)
            assert_string_equal(itest_value(g), "7");
        amy_future_free(g);
        if (st == AMY_OK)
            break;
        assert_int_equal(st, AMY_ECONNECT);
        assert_true(i < 100);
        itest_run_for(0.05); /* the pool's retry backoff */
    }
    serves_normally(p, 20);
    amy_pool_free(p);
}

static void test_auth_unknown_plugin(void **state)
{
    (void)state;
    run_handshake_scenario(FK_AUTH_UNKNOWN, "amy_no_such_plugin");
}

/* Connector/C 3.3's refusal names a garbled plugin after an auth switch
 * (the tail of its own last packet): only the refusal is checked. */
static void test_auth_switch_to_clear_text(void **state)
{
    (void)state;
    run_handshake_scenario(FK_AUTH_CLEAR, "restricted_auth");
}

static void test_pre41_greeting(void **state)
{
    (void)state;
    run_handshake_scenario(FK_GREETING_OLD, "mysql_old_password");
}

/* Cut off inside the version: the connector reads it as a pre-4.1
 * greeting, and would fall back to the pre-4.1 scramble. */
static void test_truncated_greeting(void **state)
{
    (void)state;
    run_handshake_scenario(FK_GREETING_TRUNC, "mysql_old_password");
}

/* The control: without amysql's restriction the connector itself sends
 * the password in clear to this server (so the test above means
 * something). A blocking connect: the fake server has its own threads. */
static void test_clear_text_control(void **state)
{
    (void)state;
    relay_up();
    assert_true(password[0] != '\0');
    fk_set_mode(fk, FK_AUTH_CLEAR);
    MYSQL *m = mysql_init(NULL);
    assert_non_null(m);
    unsigned tcp = MYSQL_PROTOCOL_TCP;
    mysql_options(m, MYSQL_OPT_PROTOCOL, &tcp);
    unsigned t = 5;
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &t);
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &t);
    my_bool no = 0;
    mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &no);
    assert_null(mysql_real_connect(m, "127.0.0.1", "amy", password, NULL,
                                   fk_port(fk), NULL, 0));
    mysql_close(m);
    assert_true(fk_saw(fk, password));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_silent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cols_24, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cols_huge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_len_24, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extra_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_err_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_err_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_mid_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_more_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gib_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gib_packet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coldef_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsolicited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_more_results_pipelined, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_call_keeps_more_results, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kinds_on_silent_server, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_auth_unknown_plugin, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_auth_switch_to_clear_text, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pre41_greeting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_greeting, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_clear_text_control, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
