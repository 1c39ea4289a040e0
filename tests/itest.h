/* Helpers shared by the integration tests (they need a real server). */
#ifndef AMY_ITEST_H
#define AMY_ITEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "amysql.h"

/* Every integration test program runs on its own loop. */
static struct ev_loop *loop;

static inline int itest_setup(void **state)
{
    (void)state;
    loop = ev_loop_new(EVFLAG_AUTO);
    return loop ? 0 : -1;
}

static inline int itest_teardown(void **state)
{
    (void)state;
    ev_loop_destroy(loop);
    return 0;
}

static inline double itest_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void itest_timer_fired(struct ev_loop *l, ev_timer *w,
                                     int revents)
{
    (void)l;
    (void)revents;
    *(int *)w->data = 1;
}

/* Runs the loop for about `seconds`, whatever else is pending. */
static inline void itest_run_for(double seconds)
{
    int fired = 0;
    ev_timer t;
    ev_timer_init(&t, itest_timer_fired, seconds, 0.);
    t.data = &fired;
    ev_timer_start(loop, &t);
    while (!fired)
        ev_run(loop, EVRUN_ONCE);
}

/* The DSN of the test server, or skip the test (scripts/testdb.sh env). */
static inline const char *itest_dsn(const char *var)
{
    const char *dsn = getenv(var);
    if (!dsn || !*dsn) {
        print_message("%s is not set: skipping (run scripts/dev.sh test)\n",
                      var);
        skip();
    }
    return dsn;
}

/* A pool on the test server with extra DSN parameters appended. */
static inline amy_pool *itest_pool_from(struct ev_loop *l, const char *var,
                                        const char *params)
{
    const char *dsn = itest_dsn(var);
    char buf[1024], err[256];
    snprintf(buf, sizeof buf, "%s%s%s", dsn,
             params && *params ? (strchr(dsn, '?') ? "&" : "?") : "",
             params ? params : "");
    amy_pool *p = amy_pool_new(l, buf, err, sizeof err);
    if (!p)
        print_error("amy_pool_new: %s\n", err);
    assert_non_null(p);
    return p;
}

static inline amy_pool *itest_pool(struct ev_loop *l, const char *params)
{
    return itest_pool_from(l, "AMY_TEST_DSN", params);
}

/* A pool for root over the Unix socket (KILL anyone, SET GLOBAL, SHOW
 * GLOBAL STATUS), or skip the test without AMY_TEST_ROOT_SOCKET. */
static inline amy_pool *itest_admin_pool(struct ev_loop *l)
{
    const char *sock = itest_dsn("AMY_TEST_ROOT_SOCKET");
    char dsn[512], err[256];
    snprintf(dsn, sizeof dsn, "mysql://root@localhost/?socket=%s&pool=1", sock);
    amy_pool *p = amy_pool_new(l, dsn, err, sizeof err);
    if (!p)
        print_error("admin pool: %s\n", err);
    assert_non_null(p);
    return p;
}

/* Runs one statement to completion and asserts it succeeded. */
static inline void itest_exec(amy_pool *p, const char *sql)
{
    amy_future *f = amy_query(p, sql);
    assert_non_null(f);
    int st = amy_future_wait(f);
    if (st != AMY_OK)
        print_error("%s: %s\n", sql, amy_future_error(f));
    assert_int_equal(st, AMY_OK);
    amy_future_free(f);
}

/* The single value of a one-row, one-column result, as a string. */
/*
 * A TCP listener on 127.0.0.1 that accepts connections (the kernel does,
 * from its backlog) and never says a word: a server that hangs during the
 * connect. Returns its socket (close it when done); *port gets its port.
 */
static inline int itest_silent_listener(unsigned *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s, 16), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return s;
}

/* A line of /proc/self/status (e.g. "VmHWM:"), in kB; -1 if absent. */
static inline long itest_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t klen = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, klen))
            v = atol(line + klen);
    if (f)
        fclose(f);
    return v;
}

static inline const char *itest_value(const amy_future *f)
{
    return amy_result_value(amy_future_result(f), 0, 0, NULL);
}

/* ------------------------------------------------------------------------ */
/* Waiting for conditions, never for a time                                 */
/* ------------------------------------------------------------------------ */

/* How long a wait for a condition may go on before the test fails. Only a
 * hang guard: every condition below is normally met within milliseconds,
 * and no assertion depends on how long it took. */
#define ITEST_HANG_GUARD 60.0

static inline amy_stats itest_stats(const amy_pool *p)
{
    amy_stats s;
    assert_int_equal(amy_pool_stats(p, &s), AMY_OK);
    return s;
}

/* Runs l until done(p) holds for p's counters. A repeating wakeup keeps
 * EVRUN_ONCE from blocking past the hang guard when nothing else fires. */
static inline void itest_run_until(struct ev_loop *l, const amy_pool *p,
                                   int (*done)(const amy_stats *),
                                   const char *what)
{
    int fired = 0;
    ev_timer wake;
    ev_timer_init(&wake, itest_timer_fired, 0.05, 0.05);
    wake.data = &fired;
    ev_timer_start(l, &wake);
    double t0 = itest_now();
    for (;;) {
        amy_stats s = itest_stats(p);
        if (done(&s))
            break;
        if (itest_now() - t0 > ITEST_HANG_GUARD) {
            ev_timer_stop(l, &wake);
            fail_msg("still waiting for %s after %.0f s", what,
                     ITEST_HANG_GUARD);
        }
        ev_run(l, EVRUN_ONCE);
    }
    ev_timer_stop(l, &wake);
}

/* Runs `count_sql` (one row, one number) on w until it returns want. The
 * polls run w's loop, so queries of other pools on it go on meanwhile. */
static inline void itest_wait_count(amy_pool *w, const char *count_sql,
                                    long want)
{
    double t0 = itest_now();
    for (;;) {
        amy_future *f = amy_query(w, count_sql);
        int st = amy_future_wait(f);
        if (st != AMY_OK)
            print_error("%s: %s\n", count_sql, amy_future_error(f));
        assert_int_equal(st, AMY_OK);
        long got = atol(itest_value(f));
        amy_future_free(f);
        if (got == want)
            return;
        if (itest_now() - t0 > ITEST_HANG_GUARD)
            fail_msg("%s: still %ld, not %ld, after %.0f s", count_sql, got,
                     want, ITEST_HANG_GUARD);
        struct timespec pause = {0,
                                 2000000}; /* not a busy loop on the server */
        nanosleep(&pause, NULL);
    }
}

/* Until exactly n statements with this text run on the server (any user:
 * the test users have PROCESS). w's own poll never matches: its text is
 * longer. */
static inline void itest_wait_running(amy_pool *w, const char *info, long n)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
             "WHERE COMMAND IN ('Query', 'Execute') AND INFO = '%s'",
             info);
    itest_wait_count(w, sql, n);
}

/*
 * A gate: a one-row table that a session of its own holds with LOCK TABLES
 * ... WRITE, so every statement that reads it waits on the server until the
 * gate opens, or until it is killed. That is "a statement still running" for
 * as long as a test needs it, where SLEEP(n) only promises n seconds. When
 * the test program dies, the holder's session ends and the gate opens, so
 * nothing is left waiting on the server.
 */
typedef struct itest_gate {
    amy_pool *holder; /* pool=1: LOCK and UNLOCK run on the same session */
    char table[64];
} itest_gate;

static inline void itest_gate_close(itest_gate *g, struct ev_loop *l,
                                    const char *table)
{
    char sql[160];
    snprintf(g->table, sizeof g->table, "%s", table);
    g->holder = itest_pool(l, "pool=1");
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS %s (i INT PRIMARY KEY)", table);
    itest_exec(g->holder, sql);
    snprintf(sql, sizeof sql, "INSERT IGNORE INTO %s VALUES (1)", table);
    itest_exec(g->holder, sql);
    snprintf(sql, sizeof sql, "LOCK TABLES %s WRITE", table);
    itest_exec(g->holder, sql);
}

static inline void itest_gate_open(itest_gate *g)
{
    itest_exec(g->holder, "UNLOCK TABLES");
    amy_pool_free(g->holder);
    g->holder = NULL;
}

#endif
