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
static inline const char *itest_value(const amy_future *f)
{
    return amy_result_value(amy_future_result(f), 0, 0, NULL);
}

#endif
