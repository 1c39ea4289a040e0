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

#include "amysql.h"

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
static inline amy_pool *itest_pool_from(struct ev_loop *loop, const char *var,
                                        const char *params)
{
    const char *dsn = itest_dsn(var);
    char buf[1024], err[256];
    snprintf(buf, sizeof buf, "%s%s%s", dsn,
             params && *params ? (strchr(dsn, '?') ? "&" : "?") : "",
             params ? params : "");
    amy_pool *p = amy_pool_new(loop, buf, err, sizeof err);
    if (!p)
        print_error("amy_pool_new: %s\n", err);
    assert_non_null(p);
    return p;
}

static inline amy_pool *itest_pool(struct ev_loop *loop, const char *params)
{
    return itest_pool_from(loop, "AMY_TEST_DSN", params);
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
