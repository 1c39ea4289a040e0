/*
 * Unit tests for src/promise.c: futures the caller resolves. No server:
 * only the loop.
 */
#include <ev.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "amysql.h"
#include "future.h"
#include "result.h"

typedef struct seen {
    int calls;
    int status;
    int inside; /* set while the resolving call runs */
    int called_inside;
    amy_future *free_me;
} seen;

static void on_done(amy_future *f, void *arg)
{
    seen *s = arg;
    s->calls++;
    s->status = amy_future_status(f);
    if (s->inside)
        s->called_inside = 1;
    if (s->free_me == f)
        amy_future_free(f);
}

static int setup_loop(void **state)
{
    *state = ev_loop_new(EVFLAG_AUTO);
    return *state ? 0 : -1;
}

static int teardown_loop(void **state)
{
    ev_loop_destroy(*state);
    return 0;
}

/* Resolved: the status at once, the callbacks only from the loop. */
static void test_resolve_calls_back_from_the_loop(void **state)
{
    struct ev_loop *loop = *state;
    amy_future *f = amy_promise_new(loop);
    assert_non_null(f);
    assert_int_equal(amy_future_status(f), AMY_PENDING);
    seen s = {0};
    assert_int_equal(amy_future_then(f, on_done, &s), AMY_OK);
    s.inside = 1;
    assert_int_equal(amy_promise_resolve(f), AMY_OK);
    s.inside = 0;
    assert_int_equal(s.calls, 0);
    assert_int_equal(amy_future_status(f), AMY_OK);
    const amy_result *r = amy_future_result(f);
    assert_non_null(r);
    assert_int_equal(amy_result_nrows(r), 0);
    assert_int_equal(amy_result_ncols(r), 0);
    ev_run(loop, EVRUN_NOWAIT); /* the zero-delay timer: no blocking */
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.called_inside, 0);
    assert_int_equal(s.status, AMY_OK);
    /* Once only. */
    assert_int_equal(amy_promise_resolve(f), AMY_EINVAL);
    assert_int_equal(amy_promise_fail(f, AMY_ECANCELED, NULL), AMY_EINVAL);
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(s.calls, 1);
    amy_future_free(f);
}

static void test_fail(void **state)
{
    struct ev_loop *loop = *state;
    amy_future *f = amy_promise_new(loop);
    seen s = {0};
    amy_future_then(f, on_done, &s);
    assert_int_equal(amy_promise_fail(f, AMY_ECLIENT, "the cache is down"),
                     AMY_OK);
    assert_int_equal(amy_future_status(f), AMY_ECLIENT);
    assert_string_equal(amy_future_error(f), "the cache is down");
    assert_string_equal(amy_future_sqlstate(f), "HY000");
    assert_int_equal(amy_future_server_errno(f), 0);
    assert_null(amy_future_result(f));
    assert_int_equal(amy_future_wait(f), AMY_ECLIENT);
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(s.calls, 1);
    amy_future_free(f);

    f = amy_promise_new(loop);
    assert_int_equal(amy_promise_fail(f, AMY_ETIMEDOUT, NULL), AMY_OK);
    assert_string_equal(amy_future_error(f), amy_strerror(AMY_ETIMEDOUT));
    assert_string_equal(amy_future_sqlstate(f), "HYT00");
    amy_future_free(f); /* resolved, callbacks not run yet: freed by them */
    ev_run(loop, EVRUN_NOWAIT);
}

/* fail_from copies a failed future's status, errno, SQLSTATE and message;
 * refused for a NULL, pending or succeeded source and for the promise
 * itself. */
static void test_fail_from(void **state)
{
    struct ev_loop *loop = *state;
    amy_future *q = amy__future_new_query(loop, "UPDATE t SET a = 1", 18);
    amy_future *f = amy_promise_new(loop);
    assert_int_equal(amy_promise_fail_from(f, NULL), AMY_EINVAL);
    assert_int_equal(amy_promise_fail_from(f, q), AMY_EINVAL); /* pending */
    assert_int_equal(amy_promise_fail_from(f, f), AMY_EINVAL);
    amy__future_fail(q, AMY_ESERVER, 1213, "40001",
                     "Deadlock found when trying to get lock");
    seen s = {0};
    amy_future_then(f, on_done, &s);
    s.inside = 1;
    assert_int_equal(amy_promise_fail_from(f, q), AMY_OK);
    s.inside = 0;
    amy_future_free(q); /* copied: the promise keeps its own */
    assert_int_equal(amy_future_status(f), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(f), 1213);
    assert_string_equal(amy_future_sqlstate(f), "40001");
    assert_string_equal(amy_future_error(f),
                        "Deadlock found when trying to get lock");
    assert_int_equal(amy_promise_fail_from(f, f), AMY_EINVAL); /* resolved */
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.called_inside, 0);
    amy_future_free(f);

    amy_future *ok = amy_promise_new(loop);
    amy_promise_resolve(ok);
    f = amy_promise_new(loop);
    assert_int_equal(amy_promise_fail_from(f, ok), AMY_EINVAL);
    assert_int_equal(amy_future_status(f), AMY_PENDING);
    amy_future_free(f);
    amy_future_free(ok);
    ev_run(loop, EVRUN_NOWAIT);
}

/* Not an error status, not a promise, NULL: refused, nothing changes. */
static void test_refusals(void **state)
{
    struct ev_loop *loop = *state;
    assert_null(amy_promise_new(NULL));
    amy_future *f = amy_promise_new(loop);
    assert_int_equal(amy_promise_fail(f, AMY_OK, "x"), AMY_EINVAL);
    assert_int_equal(amy_promise_fail(f, AMY_PENDING, "x"), AMY_EINVAL);
    assert_int_equal(amy_promise_fail(f, -1000, "x"), AMY_EINVAL);
    assert_int_equal(amy_future_status(f), AMY_PENDING);
    assert_int_equal(amy_promise_resolve(NULL), AMY_EINVAL);
    assert_int_equal(amy_promise_fail(NULL, AMY_ECLIENT, NULL), AMY_EINVAL);
    amy_future *q = amy__future_new_query(loop, "SELECT 1", 8);
    assert_int_equal(amy_promise_resolve(q), AMY_EINVAL); /* a query's */
    assert_int_equal(amy_future_status(q), AMY_PENDING);
    amy_future_free(q);
    amy_future_free(f);
}

/* Canceled, timed out or freed while pending: as any future (a cancel's
 * callbacks from the loop, a free's at once); resolving it later is
 * refused. */
static void test_cancel_timeout_free(void **state)
{
    struct ev_loop *loop = *state;
    amy_future *f = amy_promise_new(loop);
    seen s = {0};
    amy_future_then(f, on_done, &s);
    assert_int_equal(amy_future_cancel(f), 1);
    assert_int_equal(amy_future_status(f), AMY_ECANCELED);
    assert_int_equal(s.calls, 0); /* not inside the cancel */
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, AMY_ECANCELED);
    assert_int_equal(amy_promise_resolve(f), AMY_EINVAL);
    amy_future_free(f);

    /* Canceled, then freed before the loop ran: the free runs them. */
    f = amy_promise_new(loop);
    seen c = {0};
    amy_future_then(f, on_done, &c);
    assert_int_equal(amy_future_cancel(f), 1);
    assert_int_equal(c.calls, 0);
    amy_future_free(f);
    assert_int_equal(c.calls, 1);
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(c.calls, 1);

    f = amy_promise_new(loop);
    seen t = {0};
    amy_future_then(f, on_done, &t);
    assert_int_equal(amy_future_set_timeout(f, 1), AMY_OK);
    assert_int_equal(amy_future_wait(f), AMY_ETIMEDOUT);
    assert_int_equal(t.calls, 1);
    assert_string_equal(amy_future_sqlstate(f), "HYT00");
    amy_future_free(f);

    f = amy_promise_new(loop);
    seen u = {0};
    amy_future_then(f, on_done, &u);
    amy_future_free(f); /* pending: canceled, then gone */
    assert_int_equal(u.calls, 1);
    assert_int_equal(u.status, AMY_ECANCELED);
}

/* A promise in a gather with futures of other kinds; one freed by its own
 * callback. */
static void test_gather_and_free_in_callback(void **state)
{
    struct ev_loop *loop = *state;
    amy_future *a = amy_promise_new(loop), *b = amy_promise_new(loop);
    amy_future *q = amy__future_new_query(loop, "SELECT 1", 8);
    amy_future *kids[3] = {a, b, q};
    amy_future *g = amy_gather(kids, 3);
    assert_non_null(g);
    seen sg = {0};
    amy_future_then(g, on_done, &sg);
    assert_int_equal(amy_promise_resolve(a), AMY_OK);
    amy__future_resolve(q, amy__result_ok(1, 0));
    seen sb = {.free_me = b};
    amy_future_then(b, on_done, &sb);
    sg.inside = 1;
    assert_int_equal(amy_promise_resolve(b), AMY_OK);
    sg.inside = 0;
    assert_int_equal(amy_future_status(g), AMY_PENDING); /* b not yet */
    assert_int_equal(amy_future_wait(g), AMY_OK);
    assert_int_equal(sg.calls, 1);
    assert_int_equal(sg.called_inside, 0);
    assert_int_equal(sb.calls, 1); /* and b freed itself */
    amy_future_free(g);
    amy_future_free(a);
    amy_future_free(q);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup_loop, teardown_loop)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_resolve_calls_back_from_the_loop),
        T(test_fail),
        T(test_fail_from),
        T(test_refusals),
        T(test_cancel_timeout_free),
        T(test_gather_and_free_in_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
