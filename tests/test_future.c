/*
 * Tests for src/future.c: getters, callbacks, deferred free, gather and
 * amy_future_wait. No server: futures are made with amy__future_new_query
 * (no pool) and resolved by hand, or from libev timers for the wait tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ev.h>
#include <stdio.h>
#include <string.h>

#include "future.h"
#include "result.h"

/* The callbacks registered on f. */
static size_t cb_count(const amy_future *f)
{
    size_t n = 0;
    for (const amy__link *l = amy__list_first(&f->cbs); l;
         l = amy__list_next(&f->cbs, l))
        n++;
    return n;
}

static const amy__cbnode *cb_first(const amy_future *f)
{
    const amy__link *l = amy__list_first(&f->cbs);
    return l ? AMY__CONTAINER(l, amy__cbnode, link) : NULL;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static int setup_loop(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    if (!loop)
        return -1;
    *state = loop;
    return 0;
}

static int teardown_loop(void **state)
{
    ev_loop_destroy(*state);
    return 0;
}

/* A pending query future without a pool. */
static amy_future *pending(struct ev_loop *loop)
{
    amy_future *f = amy__future_new_query(loop, "SELECT 1", 8);
    assert_non_null(f);
    assert_int_equal(amy_future_status(f), AMY_PENDING);
    return f;
}

static void resolve_ok(amy_future *f, uint64_t affected)
{
    amy_result *r = amy__result_ok(affected, 0);
    assert_non_null(r);
    amy__future_resolve(f, r);
}

static void resolve_err(amy_future *f, unsigned err, const char *state,
                        const char *msg)
{
    amy__future_fail(f, AMY_ESERVER, err, state, msg);
}

/* Substring check with a readable failure. */
static void assert_contains(const char *hay, const char *needle)
{
    assert_non_null(hay);
    if (!strstr(hay, needle))
        print_error("\"%s\" does not contain \"%s\"\n", hay, needle);
    assert_non_null(strstr(hay, needle));
}

/* Counts calls and records what the callback saw. */
typedef struct {
    int calls;
    int status;       /* status of the future during the last call */
    amy_future *seen; /* future passed to the last call */
} counter;

static void count_cb(amy_future *f, void *arg)
{
    counter *c = arg;
    c->calls++;
    c->status = amy_future_status(f);
    c->seen = f;
}

/* Callbacks that log their id, to check ordering across futures. */
typedef struct {
    int log[64];
    int n;
} seqlog;

typedef struct {
    seqlog *s;
    int id;
} tag;

static void seq_cb(amy_future *f, void *arg)
{
    tag *t = arg;
    assert_true(t->s->n < 64);
    t->s->log[t->s->n++] = t->id;
}

/* Frees the future it is called for. */
static void free_self_cb(amy_future *f, void *arg)
{
    counter *c = arg;
    if (c) {
        c->calls++;
        c->status = amy_future_status(f);
    }
    amy_future_free(f);
    /* Still readable: the free is deferred until the callbacks return. */
    assert_int_not_equal(amy_future_status(f), AMY_PENDING);
}

/* Frees another future (and counts). */
typedef struct {
    amy_future *victim;
    int calls;
} freer;

static void free_other_cb(amy_future *f, void *arg)
{
    freer *fr = arg;
    fr->calls++;
    amy_future_free(fr->victim);
    fr->victim = NULL;
}

/* Frees a list of futures. */
typedef struct {
    amy_future *victims[8];
    size_t n;
    int calls;
    int status;
} multifreer;

static void free_many_cb(amy_future *f, void *arg)
{
    multifreer *m = arg;
    m->calls++;
    m->status = amy_future_status(f);
    for (size_t i = 0; i < m->n; i++)
        amy_future_free(m->victims[i]);
    m->n = 0;
}

/* ------------------------------------------------------------------------ */
/* Getters                                                                  */
/* ------------------------------------------------------------------------ */

static void test_getters_null(void **state)
{
    assert_int_equal(amy_future_status(NULL), AMY_EINVAL);
    assert_null(amy_future_result(NULL));
    assert_null(amy_future_error(NULL));
    assert_int_equal(amy_future_server_errno(NULL), 0);
    assert_null(amy_future_sqlstate(NULL));
    amy_future_free(NULL); /* no-op */
}

static void test_getters_pending(void **state)
{
    amy_future *f = pending(*state);
    assert_int_equal(amy_future_status(f), AMY_PENDING);
    assert_null(amy_future_result(f));
    assert_null(amy_future_error(f));
    assert_int_equal(amy_future_server_errno(f), 0);
    assert_string_equal(amy_future_sqlstate(f), "00000");
    amy_future_free(f);
}

static void test_getters_ok(void **state)
{
    amy_future *f = pending(*state);
    amy_result *r = amy__result_ok(3, 77);
    assert_non_null(r);
    amy__future_resolve(f, r);
    assert_int_equal(amy_future_status(f), AMY_OK);
    assert_ptr_equal(amy_future_result(f), r);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), 3);
    assert_int_equal(amy_result_insert_id(amy_future_result(f)), 77);
    assert_null(amy_future_error(f));
    assert_int_equal(amy_future_server_errno(f), 0);
    assert_string_equal(amy_future_sqlstate(f), "00000");
    amy_future_free(f);
}

static void test_getters_failed(void **state)
{
    amy_future *f = pending(*state);
    resolve_err(f, 1064, "42000", "You have an error in your SQL syntax");
    assert_int_equal(amy_future_status(f), AMY_ESERVER);
    assert_null(amy_future_result(f));
    assert_string_equal(amy_future_error(f),
                        "You have an error in your SQL syntax");
    assert_int_equal(amy_future_server_errno(f), 1064);
    assert_string_equal(amy_future_sqlstate(f), "42000");
    amy_future_free(f);
}

/* No message: the status's text stands in; no SQLSTATE: a generic one. */
static void test_getters_failed_defaults(void **state)
{
    amy_future *f = pending(*state);
    amy__future_fail(f, AMY_ETIMEDOUT, 0, NULL, NULL);
    assert_int_equal(amy_future_status(f), AMY_ETIMEDOUT);
    assert_string_equal(amy_future_error(f), amy_strerror(AMY_ETIMEDOUT));
    assert_int_equal(amy_future_server_errno(f), 0);
    assert_string_equal(amy_future_sqlstate(f), "HY000");
    assert_null(amy_future_result(f));
    amy_future_free(f);

    /* A malformed SQLSTATE is not copied. */
    f = pending(*state);
    amy__future_fail(f, AMY_ESERVER, 1, "42", "short state");
    assert_int_equal(strlen(amy_future_sqlstate(f)), 5);
    assert_string_equal(amy_future_sqlstate(f), "HY000");
    amy_future_free(f);
}

/* One line per state; snprintf's contract for the buffer. */
static void test_describe(void **state)
{
    char buf[128];
    assert_int_equal(amy_future_describe(NULL, buf, sizeof buf),
                     strlen("NULL future"));
    assert_string_equal(buf, "NULL future");

    amy_future *f = pending(*state);
    amy_future_describe(f, buf, sizeof buf);
    assert_string_equal(buf, "AMY_PENDING");
    resolve_ok(f, 1);
    amy_future_describe(f, buf, sizeof buf);
    assert_string_equal(buf, "AMY_OK");
    amy_future_free(f);

    f = pending(*state);
    resolve_err(f, 1146, "42S02", "Table 'shop.nope' doesn't exist");
    static const char want[] =
        "AMY_ESERVER 1146 (42S02): Table 'shop.nope' doesn't exist";
    assert_int_equal(amy_future_describe(f, buf, sizeof buf), sizeof want - 1);
    assert_string_equal(buf, want);
    /* Cut short, always terminated; the length of the whole line still. */
    char small[12];
    memset(small, 'x', sizeof small);
    assert_int_equal(amy_future_describe(f, small, sizeof small),
                     sizeof want - 1);
    assert_int_equal(small[sizeof small - 1], '\0');
    assert_int_equal(strncmp(small, want, sizeof small - 1), 0);
    /* No buffer: the length only. */
    assert_int_equal(amy_future_describe(f, NULL, 0), sizeof want - 1);
    assert_int_equal(amy_future_describe(f, buf, 0), sizeof want - 1);
    amy_future_free(f);

    /* amysql's own failure: no errno, the library's SQLSTATE. */
    f = pending(*state);
    amy__future_fail(f, AMY_ETIMEDOUT, 0, NULL, "query timed out after 500 ms");
    amy_future_describe(f, buf, sizeof buf);
    assert_string_equal(buf,
                        "AMY_ETIMEDOUT (HY000): query timed out after 500 ms");
    amy_future_free(f);
}

/* The getters during the callbacks of a future freed while pending. */
static void check_canceled_cb(amy_future *f, void *arg)
{
    counter *c = arg;
    c->calls++;
    c->status = amy_future_status(f);
    assert_int_equal(amy_future_status(f), AMY_ECANCELED);
    assert_string_equal(amy_future_error(f), amy_strerror(AMY_ECANCELED));
    assert_int_equal(amy_future_server_errno(f), 0);
    assert_null(amy_future_result(f));
    assert_non_null(amy_future_sqlstate(f));
    assert_string_not_equal(amy_future_sqlstate(f), "00000");
}

static void test_getters_canceled(void **state)
{
    counter c = {0};
    amy_future *f = pending(*state);
    assert_int_equal(amy_future_then(f, check_canceled_cb, &c), AMY_OK);
    amy_future_free(f);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ECANCELED);
}

static void test_new_query_copies_sql(void **state)
{
    char sql[] = "SELECT 'a\0b'";
    size_t len = sizeof sql - 1;
    amy_future *f = amy__future_new_query(*state, sql, len);
    assert_non_null(f);
    memset(sql, 'z', len); /* the caller's buffer may change */
    assert_int_equal(f->sql_len, len);
    assert_memory_equal(f->sql, "SELECT 'a\0b'", len);
    assert_int_equal(f->sql[len], '\0');
    assert_ptr_equal(f->loop, *state);
    amy_future_free(f);

    f = amy__future_new_query(*state, "", 0);
    assert_non_null(f);
    assert_int_equal(f->sql_len, 0);
    assert_string_equal(f->sql, "");
    amy_future_free(f);
}

/* ------------------------------------------------------------------------ */
/* amy_future_then                                                          */
/* ------------------------------------------------------------------------ */

static void test_then_runs_once_on_resolve(void **state)
{
    counter c = {0};
    amy_future *f = pending(*state);
    assert_int_equal(amy_future_then(f, count_cb, &c), AMY_OK);
    assert_int_equal(c.calls, 0);
    resolve_ok(f, 1);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_OK);
    assert_ptr_equal(c.seen, f);
    amy_future_free(f);
    assert_int_equal(c.calls, 1);
}

static void test_then_runs_once_on_failure(void **state)
{
    counter c = {0};
    amy_future *f = pending(*state);
    assert_int_equal(amy_future_then(f, count_cb, &c), AMY_OK);
    resolve_err(f, 1146, "42S02", "Table 'x' doesn't exist");
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ESERVER);
    amy_future_free(f);
    assert_int_equal(c.calls, 1);
}

static void test_then_immediate_when_resolved(void **state)
{
    /* On a resolved future: never inside the call (libuv's rule), but at
     * the loop's next iteration, once per registration. */
    struct ev_loop *loop = *state;
    counter c = {0};
    amy_future *f = pending(loop);
    resolve_ok(f, 0);
    assert_int_equal(amy_future_then(f, count_cb, &c), AMY_OK);
    assert_int_equal(c.calls, 0); /* not before amy_future_then returned */
    assert_int_equal(amy_future_then(f, count_cb, &c), AMY_OK);
    assert_int_equal(c.calls, 0);
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(c.calls, 2); /* each registration runs once */
    assert_int_equal(c.status, AMY_OK);
    assert_ptr_equal(c.seen, f);
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(c.calls, 2);
    amy_future_free(f);
    assert_int_equal(c.calls, 2);

    /* Freed before the loop runs: the callbacks due run inside the free
     * (nothing is left for a loop that may never run again). */
    counter d = {0};
    f = pending(loop);
    resolve_err(f, 1064, "42000", "syntax");
    assert_int_equal(amy_future_then(f, count_cb, &d), AMY_OK);
    assert_int_equal(d.calls, 0);
    amy_future_free(f);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.status, AMY_ESERVER);
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(d.calls, 1);
}

static void test_then_order(void **state)
{
    seqlog s = {0};
    tag t[6];
    amy_future *f = pending(*state);
    for (int i = 0; i < 6; i++) {
        t[i] = (tag){&s, i};
        assert_int_equal(amy_future_then(f, seq_cb, &t[i]), AMY_OK);
    }
    assert_int_equal(s.n, 0);
    resolve_ok(f, 0);
    assert_int_equal(s.n, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(s.log[i], i);
    amy_future_free(f);
    assert_int_equal(s.n, 6);
}

static void test_then_same_callback_twice(void **state)
{
    counter c = {0};
    amy_future *f = pending(*state);
    assert_int_equal(amy_future_then(f, count_cb, &c), AMY_OK);
    assert_int_equal(amy_future_then(f, count_cb, &c), AMY_OK);
    resolve_ok(f, 0);
    assert_int_equal(c.calls, 2);
    amy_future_free(f);
}

static void test_then_invalid_args(void **state)
{
    counter c = {0};
    assert_int_equal(amy_future_then(NULL, count_cb, &c), AMY_EINVAL);
    amy_future *f = pending(*state);
    assert_int_equal(amy_future_then(f, NULL, &c), AMY_EINVAL);
    assert_int_equal(amy_future_then(f, NULL, NULL), AMY_EINVAL);
    resolve_ok(f, 0);
    assert_int_equal(amy_future_then(f, NULL, NULL), AMY_EINVAL);
    assert_int_equal(c.calls, 0);
    amy_future_free(f);
    assert_int_equal(c.calls, 0);
}

static void test_then_callback_on_freed_pending(void **state)
{
    seqlog s = {0};
    tag t[3];
    counter c = {0};
    amy_future *f = pending(*state);
    for (int i = 0; i < 3; i++) {
        t[i] = (tag){&s, i};
        assert_int_equal(amy_future_then(f, seq_cb, &t[i]), AMY_OK);
    }
    assert_int_equal(amy_future_then(f, count_cb, &c), AMY_OK);
    amy_future_free(f);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ECANCELED);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(s.log[i], i);
}

/* A callback added from a callback of the same future runs at once. */
typedef struct {
    counter inner;
    int outer_calls;
    int inner_calls_when_added;
} nested_then;

static void add_then_cb(amy_future *f, void *arg)
{
    nested_then *n = arg;
    n->outer_calls++;
    assert_int_equal(amy_future_then(f, count_cb, &n->inner), AMY_OK);
    n->inner_calls_when_added = n->inner.calls;
}

static void test_then_inside_callback(void **state)
{
    nested_then n = {0};
    amy_future *f = pending(*state);
    assert_int_equal(amy_future_then(f, add_then_cb, &n), AMY_OK);
    resolve_ok(f, 0);
    assert_int_equal(n.outer_calls, 1);
    /* Added from f's own callback: not inside that amy_future_then, but
     * right after the callback that added it, in the same walk. */
    assert_int_equal(n.inner_calls_when_added, 0);
    assert_int_equal(n.inner.calls, 1);
    assert_int_equal(n.inner.status, AMY_OK);
    amy_future_free(f);
    assert_int_equal(n.inner.calls, 1);
}

/* Once freed (deferred, inside a callback), no new callback is accepted. */
typedef struct {
    int rc;
    counter late;
} then_after_free;

static void free_then_add_cb(amy_future *f, void *arg)
{
    then_after_free *t = arg;
    amy_future_free(f);
    t->rc = amy_future_then(f, count_cb, &t->late);
}

static void test_then_after_free_in_callback(void **state)
{
    then_after_free t = {0};
    amy_future *f = pending(*state);
    assert_int_equal(amy_future_then(f, free_then_add_cb, &t), AMY_OK);
    resolve_ok(f, 0);
    assert_int_equal(t.rc, AMY_EINVAL);
    assert_int_equal(t.late.calls, 0);
}

/* ------------------------------------------------------------------------ */
/* Free from callbacks                                                      */
/* ------------------------------------------------------------------------ */

static void test_free_in_own_callback(void **state)
{
    counter c = {0};
    counter after = {0};
    amy_future *f = pending(*state);
    assert_int_equal(amy_future_then(f, free_self_cb, &c), AMY_OK);
    /* A later callback still runs: the memory lives until they finish. */
    assert_int_equal(amy_future_then(f, count_cb, &after), AMY_OK);
    resolve_ok(f, 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_OK);
    assert_int_equal(after.calls, 1);
    assert_int_equal(after.status, AMY_OK);
}

static void test_free_in_own_callback_failed(void **state)
{
    counter c = {0};
    amy_future *f = pending(*state);
    assert_int_equal(amy_future_then(f, free_self_cb, &c), AMY_OK);
    resolve_err(f, 1064, "42000", "syntax");
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ESERVER);
}

static void test_free_in_own_immediate_callback(void **state)
{
    counter c = {0};
    amy_future *f = pending(*state);
    resolve_ok(f, 0);
    assert_int_equal(amy_future_then(f, free_self_cb, &c), AMY_OK);
    assert_int_equal(c.calls, 0);
    ev_run(*state, EVRUN_NOWAIT); /* runs it; it frees f */
    assert_int_equal(c.calls, 1);
}

/* Freed while pending; its cancel callback frees it again: a double free,
 * which a release build reports and ignores (a debug build aborts:
 * tests/test_debug.c). */
static void test_free_in_own_cancel_callback(void **state)
{
    if (AMY__DEBUG)
        skip();
    counter c = {0};
    counter after = {0};
    amy_future *f = pending(*state);
    assert_int_equal(amy_future_then(f, free_self_cb, &c), AMY_OK);
    assert_int_equal(amy_future_then(f, count_cb, &after), AMY_OK);
    amy_future_free(f);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ECANCELED);
    assert_int_equal(after.calls, 1);
}

static void test_free_other_pending_in_callback(void **state)
{
    counter cb = {0};
    amy_future *a = pending(*state);
    amy_future *b = pending(*state);
    freer fr = {b, 0};
    assert_int_equal(amy_future_then(b, count_cb, &cb), AMY_OK);
    assert_int_equal(amy_future_then(a, free_other_cb, &fr), AMY_OK);
    resolve_ok(a, 0);
    assert_int_equal(fr.calls, 1);
    assert_int_equal(cb.calls, 1);
    assert_int_equal(cb.status, AMY_ECANCELED);
    amy_future_free(a);
    assert_int_equal(fr.calls, 1);
    assert_int_equal(cb.calls, 1);
}

static void test_free_other_resolved_in_callback(void **state)
{
    counter cb = {0};
    amy_future *a = pending(*state);
    amy_future *b = pending(*state);
    assert_int_equal(amy_future_then(b, count_cb, &cb), AMY_OK);
    resolve_err(b, 1, "HY000", "b failed");
    assert_int_equal(cb.calls, 1);
    freer fr = {b, 0};
    assert_int_equal(amy_future_then(a, free_other_cb, &fr), AMY_OK);
    resolve_ok(a, 0);
    assert_int_equal(fr.calls, 1);
    assert_int_equal(cb.calls, 1);
    amy_future_free(a);
}

/* Two futures that free each other from their callbacks. */
static void test_free_each_other(void **state)
{
    amy_future *a = pending(*state);
    amy_future *b = pending(*state);
    freer fa = {b, 0}, fb = {a, 0};
    assert_int_equal(amy_future_then(a, free_other_cb, &fa), AMY_OK);
    assert_int_equal(amy_future_then(b, free_other_cb, &fb), AMY_OK);
    /* a resolves, frees b (pending: cancelled, its callback frees a). */
    resolve_ok(a, 0);
    assert_int_equal(fa.calls, 1);
    assert_int_equal(fb.calls, 1);
}

/* ------------------------------------------------------------------------ */
/* Gather                                                                   */
/* ------------------------------------------------------------------------ */

static void test_gather_empty(void **state)
{
    counter c = {0};
    amy_future *g = amy_gather(NULL, 0);
    assert_non_null(g);
    assert_int_equal(amy_future_status(g), AMY_OK);
    assert_null(amy_future_result(g));
    assert_null(amy_future_error(g));
    assert_int_equal(amy_future_server_errno(g), 0);
    assert_string_equal(amy_future_sqlstate(g), "00000");
    assert_int_equal(amy_future_then(g, count_cb, &c), AMY_OK);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_OK);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    amy_future_free(g);
    assert_int_equal(c.calls, 1);

    amy_future *dummy[1] = {NULL};
    g = amy_gather(dummy, 0);
    assert_non_null(g);
    assert_int_equal(amy_future_status(g), AMY_OK);
    amy_future_free(g);
}

static void test_gather_all_ok(void **state)
{
    counter c = {0};
    amy_future *f[3];
    for (int i = 0; i < 3; i++)
        f[i] = pending(*state);
    amy_future *g = amy_gather(f, 3);
    assert_non_null(g);
    assert_int_equal(amy_future_status(g), AMY_PENDING);
    assert_int_equal(amy_future_then(g, count_cb, &c), AMY_OK);
    for (int i = 0; i < 3; i++)
        resolve_ok(f[i], (uint64_t)i + 10);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_OK);
    assert_int_equal(amy_future_status(g), AMY_OK);
    assert_null(amy_future_result(g));
    assert_null(amy_future_error(g));
    assert_int_equal(amy_future_server_errno(g), 0);
    assert_string_equal(amy_future_sqlstate(g), "00000");
    for (int i = 0; i < 3; i++)
        assert_int_equal(amy_result_affected_rows(amy_future_result(f[i])),
                         i + 10);
    amy_future_free(g);
    for (int i = 0; i < 3; i++)
        amy_future_free(f[i]);
    assert_int_equal(c.calls, 1);
}

static void test_gather_resolves_after_last(void **state)
{
    static const int order[5] = {3, 0, 4, 1, 2};
    counter c = {0};
    counter child[5] = {{0}};
    amy_future *f[5];
    for (int i = 0; i < 5; i++) {
        f[i] = pending(*state);
        assert_int_equal(amy_future_then(f[i], count_cb, &child[i]), AMY_OK);
    }
    amy_future *g = amy_gather(f, 5);
    assert_non_null(g);
    assert_int_equal(amy_future_then(g, count_cb, &c), AMY_OK);
    for (int k = 0; k < 5; k++) {
        assert_int_equal(amy_future_status(g), AMY_PENDING);
        assert_int_equal(c.calls, 0);
        resolve_ok(f[order[k]], 0);
        assert_int_equal(child[order[k]].calls, 1);
    }
    assert_int_equal(c.calls, 1);
    assert_int_equal(amy_future_status(g), AMY_OK);
    amy_future_free(g);
    for (int i = 0; i < 5; i++) {
        amy_future_free(f[i]);
        assert_int_equal(child[i].calls, 1);
    }
    assert_int_equal(c.calls, 1);
}

/* The gather's callback runs after the children's earlier callbacks. */
static void test_gather_callback_order(void **state)
{
    seqlog s = {0};
    tag t0 = {&s, 0}, t1 = {&s, 1}, tg = {&s, 100};
    amy_future *f[2] = {pending(*state), pending(*state)};
    assert_int_equal(amy_future_then(f[1], seq_cb, &t1), AMY_OK);
    amy_future *g = amy_gather(f, 2);
    assert_non_null(g);
    assert_int_equal(amy_future_then(g, seq_cb, &tg), AMY_OK);
    assert_int_equal(amy_future_then(f[0], seq_cb, &t0), AMY_OK);
    resolve_ok(f[0], 0); /* gather node first, then t0 */
    assert_int_equal(s.n, 1);
    assert_int_equal(s.log[0], 0);
    resolve_ok(f[1], 0); /* t1 (registered before), then gather -> tg */
    assert_int_equal(s.n, 3);
    assert_int_equal(s.log[1], 1);
    assert_int_equal(s.log[2], 100);
    amy_future_free(g);
    amy_future_free(f[0]);
    amy_future_free(f[1]);
    assert_int_equal(s.n, 3);
}

static void test_gather_counts_already_resolved(void **state)
{
    counter c = {0};
    amy_future *f[4];
    for (int i = 0; i < 4; i++)
        f[i] = pending(*state);
    resolve_ok(f[0], 0);
    resolve_err(f[2], 1062, "23000", "Duplicate entry '1' for key 'PRIMARY'");
    amy_future *g = amy_gather(f, 4);
    assert_non_null(g);
    assert_int_equal(amy_future_then(g, count_cb, &c), AMY_OK);
    assert_int_equal(amy_future_status(g), AMY_PENDING);
    resolve_ok(f[3], 0);
    assert_int_equal(amy_future_status(g), AMY_PENDING);
    assert_int_equal(c.calls, 0);
    resolve_ok(f[1], 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(amy_future_status(g), AMY_EGATHER);
    assert_contains(amy_future_error(g), "1 of 4");
    assert_contains(amy_future_error(g), "#2");
    assert_contains(amy_future_error(g), "Duplicate entry");
    assert_int_equal(amy_future_server_errno(g), 1062);
    assert_string_equal(amy_future_sqlstate(g), "23000");
    for (int i = 0; i < 4; i++)
        amy_future_free(f[i]);
    amy_future_free(g);
    assert_int_equal(c.calls, 1);
}

static void test_gather_all_already_resolved(void **state)
{
    counter c = {0};
    amy_future *f[2] = {pending(*state), pending(*state)};
    resolve_ok(f[0], 0);
    resolve_ok(f[1], 0);
    amy_future *g = amy_gather(f, 2);
    assert_non_null(g);
    assert_int_equal(amy_future_status(g), AMY_OK);
    assert_int_equal(amy_future_then(g, count_cb, &c), AMY_OK);
    assert_int_equal(c.calls, 0);
    ev_run(*state, EVRUN_NOWAIT);
    assert_int_equal(c.calls, 1);
    amy_future_free(g);

    /* All resolved, one failed: EGATHER at once. */
    amy_future *h[2] = {pending(*state), pending(*state)};
    resolve_ok(h[0], 0);
    resolve_err(h[1], 1054, "42S22", "Unknown column 'x'");
    g = amy_gather(h, 2);
    assert_non_null(g);
    assert_int_equal(amy_future_status(g), AMY_EGATHER);
    assert_int_equal(amy_future_server_errno(g), 1054);
    assert_string_equal(amy_future_sqlstate(g), "42S22");
    assert_contains(amy_future_error(g), "1 of 2");
    assert_contains(amy_future_error(g), "Unknown column 'x'");
    amy_future_free(g);

    for (int i = 0; i < 2; i++) {
        amy_future_free(f[i]);
        amy_future_free(h[i]);
    }
    assert_int_equal(c.calls, 1);
}

static void test_gather_failures(void **state)
{
    counter c = {0};
    amy_future *f[5];
    for (int i = 0; i < 5; i++)
        f[i] = pending(*state);
    amy_future *g = amy_gather(f, 5);
    assert_non_null(g);
    assert_int_equal(amy_future_then(g, count_cb, &c), AMY_OK);
    /* The higher index fails first; the lowest index must win anyway. */
    resolve_err(f[3], 1146, "42S02", "Table 'db.t3' doesn't exist");
    resolve_ok(f[4], 0);
    resolve_ok(f[0], 0);
    resolve_err(f[1], 1064, "42000", "You have an error near 'SELEC'");
    assert_int_equal(c.calls, 0);
    resolve_ok(f[2], 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_EGATHER);
    assert_int_equal(amy_future_status(g), AMY_EGATHER);
    assert_null(amy_future_result(g));
    assert_int_equal(amy_future_server_errno(g), 1064);
    assert_string_equal(amy_future_sqlstate(g), "42000");
    const char *e = amy_future_error(g);
    assert_contains(e, "2 of 5");
    assert_contains(e, "#1");
    assert_contains(e, "You have an error near 'SELEC'");
    assert_null(strstr(e, "db.t3"));
    /* Children keep their own outcome. */
    assert_int_equal(amy_future_status(f[3]), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(f[3]), 1146);
    assert_string_equal(amy_future_error(f[3]), "Table 'db.t3' doesn't exist");
    amy_future_free(g);
    for (int i = 0; i < 5; i++)
        amy_future_free(f[i]);
    assert_int_equal(c.calls, 1);
}

/* A failure of amysql's own (no server errno) as the first failure. */
static void test_gather_failure_without_server_errno(void **state)
{
    amy_future *f[3];
    for (int i = 0; i < 3; i++)
        f[i] = pending(*state);
    amy_future *g = amy_gather(f, 3);
    assert_non_null(g);
    resolve_err(f[2], 2013, "HY000", "Lost connection");
    amy__future_fail(f[0], AMY_ETIMEDOUT, 0, "HYT00", NULL);
    resolve_ok(f[1], 0);
    assert_int_equal(amy_future_status(g), AMY_EGATHER);
    assert_int_equal(amy_future_server_errno(g), 0);
    assert_string_equal(amy_future_sqlstate(g), "HYT00");
    assert_contains(amy_future_error(g), "2 of 3");
    assert_contains(amy_future_error(g), "#0");
    assert_contains(amy_future_error(g), amy_strerror(AMY_ETIMEDOUT));
    amy_future_free(g);
    for (int i = 0; i < 3; i++)
        amy_future_free(f[i]);
}

static void test_gather_all_failed(void **state)
{
    amy_future *f[3];
    for (int i = 0; i < 3; i++)
        f[i] = pending(*state);
    amy_future *g = amy_gather(f, 3);
    assert_non_null(g);
    resolve_err(f[2], 3, "33333", "third");
    resolve_err(f[1], 2, "22222", "second");
    resolve_err(f[0], 1, "11111", "first");
    assert_int_equal(amy_future_status(g), AMY_EGATHER);
    assert_contains(amy_future_error(g), "3 of 3");
    assert_contains(amy_future_error(g), "first");
    assert_int_equal(amy_future_server_errno(g), 1);
    assert_string_equal(amy_future_sqlstate(g), "11111");
    for (int i = 0; i < 3; i++)
        amy_future_free(f[i]);
    amy_future_free(g);
}

/* The gather does not own its children: free it first, they stay. */
static void test_gather_free_gather_first(void **state)
{
    amy_future *f[2] = {pending(*state), pending(*state)};
    amy_future *g = amy_gather(f, 2);
    assert_non_null(g);
    resolve_ok(f[0], 5);
    resolve_err(f[1], 1064, "42000", "syntax");
    assert_int_equal(amy_future_status(g), AMY_EGATHER);
    amy_future_free(g);
    assert_int_equal(amy_future_status(f[0]), AMY_OK);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f[0])), 5);
    assert_int_equal(amy_future_status(f[1]), AMY_ESERVER);
    assert_string_equal(amy_future_error(f[1]), "syntax");
    assert_int_equal(amy_future_server_errno(f[1]), 1064);
    amy_future_free(f[0]);
    amy_future_free(f[1]);
}

/* ... or free the children first: the gather stays readable. */
static void test_gather_free_children_first(void **state)
{
    amy_future *f[2] = {pending(*state), pending(*state)};
    amy_future *g = amy_gather(f, 2);
    assert_non_null(g);
    resolve_ok(f[0], 0);
    resolve_err(f[1], 1064, "42000", "syntax");
    amy_future_free(f[0]);
    amy_future_free(f[1]);
    assert_int_equal(amy_future_status(g), AMY_EGATHER);
    assert_contains(amy_future_error(g), "syntax");
    assert_int_equal(amy_future_server_errno(g), 1064);
    amy_future_free(g);
}

/* Freed while children pend: cancelled once; the children go on. */
static void test_gather_free_while_children_pending(void **state)
{
    counter c = {0};
    counter child[3] = {{0}};
    amy_future *f[3];
    for (int i = 0; i < 3; i++) {
        f[i] = pending(*state);
        assert_int_equal(amy_future_then(f[i], count_cb, &child[i]), AMY_OK);
    }
    amy_future *g = amy_gather(f, 3);
    assert_non_null(g);
    assert_int_equal(amy_future_then(g, count_cb, &c), AMY_OK);
    resolve_ok(f[1], 0);
    amy_future_free(g);
    /* Its callback ran once, as for any pending future being freed. */
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ECANCELED);
    /* Nothing of the gather is left on the children: only their own. */
    assert_int_equal(cb_count(f[1]), 0);
    for (int i = 0; i < 3; i += 2) {
        assert_int_equal(cb_count(f[i]), 1);
        assert_ptr_equal(cb_first(f[i])->cb, count_cb);
    }
    resolve_err(f[0], 1064, "42000", "syntax");
    resolve_ok(f[2], 0);
    assert_int_equal(c.calls, 1); /* not again when the children resolve */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(child[i].calls, 1);
        amy_future_free(f[i]);
    }
}

/* Children freed while pending count as AMY_ECANCELED. */
static void test_gather_child_freed_pending(void **state)
{
    counter c = {0};
    amy_future *f[3];
    for (int i = 0; i < 3; i++)
        f[i] = pending(*state);
    amy_future *g = amy_gather(f, 3);
    assert_non_null(g);
    assert_int_equal(amy_future_then(g, count_cb, &c), AMY_OK);
    amy_future_free(f[1]);
    assert_int_equal(amy_future_status(g), AMY_PENDING);
    resolve_ok(f[0], 0);
    resolve_ok(f[2], 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(amy_future_status(g), AMY_EGATHER);
    assert_contains(amy_future_error(g), "1 of 3");
    assert_contains(amy_future_error(g), "#1");
    assert_contains(amy_future_error(g), amy_strerror(AMY_ECANCELED));
    assert_int_equal(amy_future_server_errno(g), 0);
    amy_future_free(f[0]);
    amy_future_free(f[2]);
    amy_future_free(g);
    assert_int_equal(c.calls, 1);
}

/* Every child freed while pending: the gather resolves on the last free. */
static void test_gather_all_children_freed_pending(void **state)
{
    counter c = {0};
    amy_future *f[2] = {pending(*state), pending(*state)};
    amy_future *g = amy_gather(f, 2);
    assert_non_null(g);
    assert_int_equal(amy_future_then(g, count_cb, &c), AMY_OK);
    amy_future_free(f[0]);
    assert_int_equal(c.calls, 0);
    amy_future_free(f[1]);
    assert_int_equal(c.calls, 1);
    assert_int_equal(amy_future_status(g), AMY_EGATHER);
    assert_contains(amy_future_error(g), "2 of 2");
    amy_future_free(g);
}

static void test_gather_null_args(void **state)
{
    assert_null(amy_gather(NULL, 2));
    assert_null(amy_gather(NULL, 1));

    counter c[3] = {{0}};
    amy_future *f[3] = {pending(*state), NULL, pending(*state)};
    assert_int_equal(amy_future_then(f[0], count_cb, &c[0]), AMY_OK);
    assert_int_equal(amy_future_then(f[2], count_cb, &c[2]), AMY_OK);
    assert_null(amy_gather(f, 3));
    f[1] = f[2];
    f[2] = NULL;
    assert_null(amy_gather(f, 3)); /* NULL last */
    /* Nothing was registered on the valid children. */
    assert_int_equal(cb_count(f[0]), 1);
    assert_int_equal(cb_count(f[1]), 1);
    resolve_ok(f[0], 0);
    resolve_ok(f[1], 0);
    assert_int_equal(c[0].calls, 1);
    assert_int_equal(c[2].calls, 1);
    amy_future_free(f[0]);
    amy_future_free(f[1]);
}

static void test_gather_of_gathers(void **state)
{
    counter c = {0};
    amy_future *f[4];
    for (int i = 0; i < 4; i++)
        f[i] = pending(*state);
    amy_future *g1 = amy_gather(&f[0], 2);
    amy_future *g2 = amy_gather(&f[2], 2);
    assert_non_null(g1);
    assert_non_null(g2);
    amy_future *inner[2] = {g1, g2};
    amy_future *outer = amy_gather(inner, 2);
    assert_non_null(outer);
    assert_int_equal(amy_future_then(outer, count_cb, &c), AMY_OK);

    resolve_ok(f[2], 0);
    resolve_ok(f[3], 0);
    assert_int_equal(amy_future_status(g2), AMY_OK);
    assert_int_equal(amy_future_status(outer), AMY_PENDING);
    resolve_ok(f[0], 0);
    assert_int_equal(c.calls, 0);
    resolve_err(f[1], 1213, "40001", "Deadlock found");
    assert_int_equal(amy_future_status(g1), AMY_EGATHER);
    assert_int_equal(c.calls, 1);
    assert_int_equal(amy_future_status(outer), AMY_EGATHER);
    assert_int_equal(amy_future_server_errno(outer), 1213);
    assert_string_equal(amy_future_sqlstate(outer), "40001");
    const char *e = amy_future_error(outer);
    assert_contains(e, "1 of 2 gathered futures failed; first #0: "
                       "1 of 2 gathered futures failed; first #1");
    assert_contains(e, "Deadlock found");

    amy_future_free(g1); /* inner first, outer last */
    for (int i = 0; i < 4; i++)
        amy_future_free(f[i]);
    amy_future_free(outer);
    amy_future_free(g2);
    assert_int_equal(c.calls, 1);
}

static void test_gather_of_gathers_all_ok(void **state)
{
    counter c = {0};
    amy_future *f[3] = {pending(*state), pending(*state), pending(*state)};
    amy_future *g1 = amy_gather(f, 2);
    assert_non_null(g1);
    amy_future *mix[2] = {g1, f[2]};
    amy_future *outer = amy_gather(mix, 2);
    assert_non_null(outer);
    assert_int_equal(amy_future_then(outer, count_cb, &c), AMY_OK);
    resolve_ok(f[2], 0);
    resolve_ok(f[1], 0);
    assert_int_equal(c.calls, 0);
    resolve_ok(f[0], 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(amy_future_status(outer), AMY_OK);
    amy_future_free(outer);
    amy_future_free(g1);
    for (int i = 0; i < 3; i++)
        amy_future_free(f[i]);
}

/* An inner gather freed while pending counts as cancelled in the outer. */
static void test_gather_of_gathers_inner_freed(void **state)
{
    counter c = {0};
    amy_future *f[2] = {pending(*state), pending(*state)};
    amy_future *g1 = amy_gather(f, 2);
    assert_non_null(g1);
    amy_future *x = pending(*state);
    amy_future *mix[2] = {x, g1};
    amy_future *outer = amy_gather(mix, 2);
    assert_non_null(outer);
    assert_int_equal(amy_future_then(outer, count_cb, &c), AMY_OK);
    amy_future_free(g1);
    resolve_ok(x, 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(amy_future_status(outer), AMY_EGATHER);
    assert_contains(amy_future_error(outer), "#1");
    assert_contains(amy_future_error(outer), amy_strerror(AMY_ECANCELED));
    resolve_ok(f[0], 0);
    resolve_ok(f[1], 0);
    assert_int_equal(c.calls, 1);
    amy_future_free(outer);
    amy_future_free(x);
    amy_future_free(f[0]);
    amy_future_free(f[1]);
}

/* The same child twice: it counts twice. */
static void test_gather_same_child_twice(void **state)
{
    counter c = {0};
    amy_future *a = pending(*state);
    amy_future *f[2] = {a, a};
    amy_future *g = amy_gather(f, 2);
    assert_non_null(g);
    assert_int_equal(amy_future_then(g, count_cb, &c), AMY_OK);
    resolve_err(a, 1, "HY000", "dup");
    assert_int_equal(c.calls, 1);
    assert_int_equal(amy_future_status(g), AMY_EGATHER);
    assert_contains(amy_future_error(g), "2 of 2");
    assert_contains(amy_future_error(g), "#0");
    amy_future_free(a);
    amy_future_free(g);
}

/* A child already being freed (inside its callback) is refused. */
typedef struct {
    amy_future *other;
    amy_future *gathered;
    int calls;
} gather_in_cb;

static void free_then_gather_cb(amy_future *f, void *arg)
{
    gather_in_cb *t = arg;
    t->calls++;
    amy_future_free(f);
    amy_future *both[2] = {t->other, f};
    t->gathered = amy_gather(both, 2);
}

static void test_gather_refuses_freed_child(void **state)
{
    gather_in_cb t = {0};
    amy_future *a = pending(*state);
    t.other = pending(*state);
    assert_int_equal(amy_future_then(a, free_then_gather_cb, &t), AMY_OK);
    resolve_ok(a, 0);
    assert_int_equal(t.calls, 1);
    assert_null(t.gathered);
    assert_int_equal(cb_count(t.other), 0); /* nothing left registered on it */
    amy_future_free(t.other);
}

/* ------------------------------------------------------------------------ */
/* Free across gather and children, from callbacks                          */
/* ------------------------------------------------------------------------ */

/* A child's callback, registered before the gather, frees the gather. */
static void test_free_gather_in_child_callback_before(void **state)
{
    counter gc = {0};
    amy_future *f[3] = {pending(*state), pending(*state), pending(*state)};
    freer fr = {NULL, 0};
    assert_int_equal(amy_future_then(f[0], free_other_cb, &fr), AMY_OK);
    amy_future *g = amy_gather(f, 3);
    assert_non_null(g);
    fr.victim = g;
    assert_int_equal(amy_future_then(g, count_cb, &gc), AMY_OK);
    resolve_ok(f[0], 0);
    assert_int_equal(fr.calls, 1);
    assert_int_equal(gc.calls, 1);
    assert_int_equal(gc.status, AMY_ECANCELED);
    resolve_ok(f[1], 0);
    resolve_err(f[2], 1, "HY000", "x");
    assert_int_equal(gc.calls, 1);
    for (int i = 0; i < 3; i++)
        amy_future_free(f[i]);
}

/* A child's callback, registered after the gather, frees the gather. */
static void test_free_gather_in_child_callback_after(void **state)
{
    counter gc = {0};
    amy_future *f[3] = {pending(*state), pending(*state), pending(*state)};
    amy_future *g = amy_gather(f, 3);
    assert_non_null(g);
    freer fr = {g, 0};
    assert_int_equal(amy_future_then(f[1], free_other_cb, &fr), AMY_OK);
    assert_int_equal(amy_future_then(g, count_cb, &gc), AMY_OK);
    resolve_ok(f[1], 0);
    assert_int_equal(fr.calls, 1);
    assert_int_equal(gc.calls, 1);
    assert_int_equal(gc.status, AMY_ECANCELED);
    resolve_ok(f[0], 0);
    resolve_ok(f[2], 0);
    assert_int_equal(gc.calls, 1);
    for (int i = 0; i < 3; i++)
        amy_future_free(f[i]);
}

/* The last child's callback frees the gather that just resolved. */
static void test_free_resolved_gather_in_last_child_callback(void **state)
{
    counter gc = {0};
    amy_future *f[2] = {pending(*state), pending(*state)};
    amy_future *g = amy_gather(f, 2);
    assert_non_null(g);
    freer fr = {g, 0};
    assert_int_equal(amy_future_then(f[1], free_other_cb, &fr), AMY_OK);
    assert_int_equal(amy_future_then(g, count_cb, &gc), AMY_OK);
    resolve_ok(f[0], 0);
    resolve_ok(f[1], 0);
    assert_int_equal(gc.calls, 1);
    assert_int_equal(gc.status, AMY_OK);
    assert_int_equal(fr.calls, 1);
    amy_future_free(f[0]);
    amy_future_free(f[1]);
}

/* The gather's callback frees every child, then the gather itself. */
static void test_free_children_in_gather_callback(void **state)
{
    amy_future *f[3] = {pending(*state), pending(*state), pending(*state)};
    counter child[3] = {{0}};
    counter after[3] = {{0}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(amy_future_then(f[i], count_cb, &child[i]), AMY_OK);
    amy_future *g = amy_gather(f, 3);
    assert_non_null(g);
    /* Callbacks after the gather's node on the last child still run. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(amy_future_then(f[i], count_cb, &after[i]), AMY_OK);
    multifreer m = {{f[0], f[1], f[2], g}, 4, 0, 0};
    assert_int_equal(amy_future_then(g, free_many_cb, &m), AMY_OK);
    resolve_ok(f[0], 0);
    resolve_err(f[2], 1, "HY000", "x");
    assert_int_equal(m.calls, 0);
    resolve_ok(f[1], 0); /* gather resolves inside f[1]'s callbacks */
    assert_int_equal(m.calls, 1);
    assert_int_equal(m.status, AMY_EGATHER);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(child[i].calls, 1);
        assert_int_equal(after[i].calls, 1);
    }
}

/* A gather freed while pending; its cancel callback frees the children. */
static void test_free_pending_children_in_gather_cancel_callback(void **state)
{
    amy_future *f[2] = {pending(*state), pending(*state)};
    counter child[2] = {{0}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(amy_future_then(f[i], count_cb, &child[i]), AMY_OK);
    amy_future *g = amy_gather(f, 2);
    assert_non_null(g);
    multifreer m = {{f[0], f[1]}, 2, 0, 0};
    assert_int_equal(amy_future_then(g, free_many_cb, &m), AMY_OK);
    amy_future_free(g);
    assert_int_equal(m.calls, 1);
    assert_int_equal(m.status, AMY_ECANCELED);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(child[i].calls, 1);
        assert_int_equal(child[i].status, AMY_ECANCELED);
    }
}

/* A child's callback frees another, pending, child of the same gather. */
static void test_free_sibling_in_child_callback(void **state)
{
    counter gc = {0};
    amy_future *f[3] = {pending(*state), pending(*state), pending(*state)};
    amy_future *g = amy_gather(f, 3);
    assert_non_null(g);
    assert_int_equal(amy_future_then(g, count_cb, &gc), AMY_OK);
    freer fr = {f[2], 0};
    assert_int_equal(amy_future_then(f[0], free_other_cb, &fr), AMY_OK);
    resolve_ok(f[0], 0);
    assert_int_equal(gc.calls, 0);
    resolve_ok(f[1], 0);
    assert_int_equal(gc.calls, 1);
    assert_int_equal(amy_future_status(g), AMY_EGATHER);
    assert_contains(amy_future_error(g), "#2");
    amy_future_free(g);
    amy_future_free(f[0]);
    amy_future_free(f[1]);
}

/* ------------------------------------------------------------------------ */
/* amy_future_wait                                                          */
/* ------------------------------------------------------------------------ */

typedef enum { ACT_OK, ACT_FAIL, ACT_FREE } act;

/* A one-shot timer that resolves, fails or frees a future. */
typedef struct {
    ev_timer w; /* first: the callback casts back */
    amy_future *f;
    act what;
    int fired;
} resolver;

static void resolver_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    resolver *r = (resolver *)w;
    r->fired++;
    switch (r->what) {
    case ACT_OK:
        resolve_ok(r->f, 1);
        break;
    case ACT_FAIL:
        resolve_err(r->f, 1064, "42000", "timer failure");
        break;
    case ACT_FREE:
        amy_future_free(r->f);
        break;
    }
}

static void resolver_start(struct ev_loop *loop, resolver *r, amy_future *f,
                           act what, double after)
{
    memset(r, 0, sizeof *r);
    r->f = f;
    r->what = what;
    ev_timer_init(&r->w, resolver_cb, after, 0.);
    ev_timer_start(loop, &r->w);
}

static void test_wait_null(void **state)
{
    assert_int_equal(amy_future_wait(NULL), AMY_EINVAL);
}

static void test_wait_resolved_returns_immediately(void **state)
{
    struct ev_loop *loop = *state;
    amy_future *f = pending(loop);
    resolve_ok(f, 0);
    resolver r;
    amy_future *other = pending(loop);
    resolver_start(loop, &r, other, ACT_OK, 0.);
    unsigned iter = ev_iteration(loop);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(ev_iteration(loop), iter); /* the loop did not run */
    assert_int_equal(r.fired, 0);

    amy_future *e = pending(loop);
    resolve_err(e, 1064, "42000", "syntax");
    assert_int_equal(amy_future_wait(e), AMY_ESERVER);
    assert_int_equal(ev_iteration(loop), iter);
    assert_int_equal(amy_future_status(e), AMY_ESERVER);

    ev_timer_stop(loop, &r.w);
    amy_future_free(other);
    amy_future_free(e);
    amy_future_free(f);
}

static void test_wait_runs_loop_ok(void **state)
{
    struct ev_loop *loop = *state;
    counter c = {0};
    amy_future *f = pending(loop);
    assert_int_equal(amy_future_then(f, count_cb, &c), AMY_OK);
    resolver r;
    resolver_start(loop, &r, f, ACT_OK, 0.001);
    unsigned iter = ev_iteration(loop);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_true(ev_iteration(loop) > iter);
    assert_int_equal(r.fired, 1);
    assert_int_equal(c.calls, 1);
    assert_int_equal(amy_future_status(f), AMY_OK);
    assert_int_equal(amy_result_affected_rows(amy_future_result(f)), 1);
    /* Waiting again returns the same status without running anything. */
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(c.calls, 1);
    amy_future_free(f);
}

static void test_wait_runs_loop_fail(void **state)
{
    struct ev_loop *loop = *state;
    counter c = {0};
    amy_future *f = pending(loop);
    assert_int_equal(amy_future_then(f, count_cb, &c), AMY_OK);
    resolver r;
    resolver_start(loop, &r, f, ACT_FAIL, 0.001);
    assert_int_equal(amy_future_wait(f), AMY_ESERVER);
    assert_int_equal(r.fired, 1);
    assert_int_equal(c.calls, 1);
    assert_int_equal(amy_future_server_errno(f), 1064);
    assert_string_equal(amy_future_error(f), "timer failure");
    amy_future_free(f);
}

/* Other watchers keep running while waiting. */
static void test_wait_runs_other_watchers(void **state)
{
    struct ev_loop *loop = *state;
    amy_future *f = pending(loop);
    amy_future *early = pending(loop);
    resolver r1, r2;
    resolver_start(loop, &r1, early, ACT_OK, 0.001);
    resolver_start(loop, &r2, f, ACT_OK, 0.005);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(r1.fired, 1);
    assert_int_equal(amy_future_status(early), AMY_OK);
    amy_future_free(early);
    amy_future_free(f);
}

static void test_wait_gather(void **state)
{
    struct ev_loop *loop = *state;
    counter c = {0};
    amy_future *f[3] = {pending(loop), pending(loop), pending(loop)};
    amy_future *g = amy_gather(f, 3);
    assert_non_null(g);
    assert_int_equal(amy_future_then(g, count_cb, &c), AMY_OK);
    resolver r[3];
    resolver_start(loop, &r[0], f[0], ACT_OK, 0.003);
    resolver_start(loop, &r[1], f[1], ACT_FAIL, 0.001);
    resolver_start(loop, &r[2], f[2], ACT_OK, 0.002);
    assert_int_equal(amy_future_wait(g), AMY_EGATHER);
    for (int i = 0; i < 3; i++)
        assert_int_equal(r[i].fired, 1);
    assert_int_equal(c.calls, 1);
    assert_contains(amy_future_error(g), "1 of 3");
    assert_contains(amy_future_error(g), "timer failure");
    amy_future_free(g);
    for (int i = 0; i < 3; i++)
        amy_future_free(f[i]);
}

/* Nothing in the loop can resolve the future: fail rather than hang. */
static void test_wait_no_watchers_fails(void **state)
{
    struct ev_loop *loop = *state;
    counter c = {0};
    amy_future *f = pending(loop);
    assert_int_equal(amy_future_then(f, count_cb, &c), AMY_OK);
    assert_int_equal(amy_future_wait(f), AMY_ECLIENT);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ECLIENT);
    assert_int_equal(amy_future_status(f), AMY_ECLIENT);
    assert_contains(amy_future_error(f), "no active watchers");
    assert_int_equal(amy_future_server_errno(f), 0);
    assert_int_equal(amy_future_wait(f), AMY_ECLIENT);
    assert_int_equal(c.calls, 1);
    amy_future_free(f);
    assert_int_equal(c.calls, 1);
}

/* The timer stops; the loop then empties before the future resolves. */
static void test_wait_watchers_run_out(void **state)
{
    struct ev_loop *loop = *state;
    amy_future *f = pending(loop);
    amy_future *other = pending(loop);
    resolver r;
    resolver_start(loop, &r, other, ACT_OK, 0.001);
    assert_int_equal(amy_future_wait(f), AMY_ECLIENT);
    assert_int_equal(r.fired, 1);
    assert_int_equal(amy_future_status(other), AMY_OK);
    amy_future_free(other);
    amy_future_free(f);
}

/* A callback run during the wait frees the waited future. */
static void test_wait_free_in_callback(void **state)
{
    struct ev_loop *loop = *state;
    counter c = {0};
    amy_future *f = pending(loop);
    assert_int_equal(amy_future_then(f, free_self_cb, &c), AMY_OK);
    resolver r;
    resolver_start(loop, &r, f, ACT_OK, 0.001);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_int_equal(c.calls, 1);
    /* f is gone now; nothing to free. */
}

/* A timer frees the waited future while it is pending. */
static void test_wait_cancel_from_timer(void **state)
{
    struct ev_loop *loop = *state;
    counter c = {0};
    amy_future *f = pending(loop);
    assert_int_equal(amy_future_then(f, count_cb, &c), AMY_OK);
    resolver r;
    resolver_start(loop, &r, f, ACT_FREE, 0.001);
    assert_int_equal(amy_future_wait(f), AMY_ECANCELED);
    assert_int_equal(r.fired, 1);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ECANCELED);
}

/* A wait nested in a timer callback of an outer wait. */
typedef struct {
    ev_timer w;
    amy_future *inner;
    int inner_status;
    int fired;
} nested_waiter;

static void nested_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    nested_waiter *n = (nested_waiter *)w;
    n->fired++;
    n->inner_status = amy_future_wait(n->inner);
}

static void test_wait_nested(void **state)
{
    struct ev_loop *loop = *state;
    amy_future *outer = pending(loop);
    amy_future *inner = pending(loop);
    nested_waiter n = {.inner = inner, .inner_status = AMY_PENDING};
    ev_timer_init(&n.w, nested_wait_cb, 0.001, 0.);
    ev_timer_start(loop, &n.w);
    resolver ri, ro;
    resolver_start(loop, &ri, inner, ACT_FAIL, 0.003);
    resolver_start(loop, &ro, outer, ACT_OK, 0.005);
    assert_int_equal(amy_future_wait(outer), AMY_OK);
    assert_int_equal(n.fired, 1);
    assert_int_equal(n.inner_status, AMY_ESERVER);
    assert_int_equal(ri.fired, 1);
    assert_int_equal(ro.fired, 1);
    amy_future_free(inner);
    amy_future_free(outer);
}

/* ------------------------------------------------------------------------ */
/* Bugs                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * BUG: a gather resolved by amy_future_wait's "no active watchers" fallback
 * keeps its nodes on its still-pending children; when they resolve later,
 * gather_finish runs again and amy__future_fail overwrites the resolved
 * gather's status (AMY_ECLIENT -> AMY_EGATHER), errno, SQLSTATE and error
 * text (freeing the string amy_future_error returned before). A future must
 * resolve exactly once and then never change.
 */
static void test_gather_unchanged_after_wait_eclient(void **state)
{
    struct ev_loop *loop = *state;
    counter c = {0};
    amy_future *f[2] = {pending(loop), pending(loop)};
    amy_future *g = amy_gather(f, 2);
    assert_non_null(g);
    assert_int_equal(amy_future_then(g, count_cb, &c), AMY_OK);
    assert_int_equal(amy_future_wait(g), AMY_ECLIENT);
    assert_int_equal(c.calls, 1);
    char before[256], after[256];
    snprintf(before, sizeof before, "%s", amy_future_error(g));

    resolve_err(f[0], 1064, "42000", "late failure");
    resolve_ok(f[1], 0);

    /* Read everything, free everything, then check: a failure here must
     * not show up as a leak under the sanitizers. */
    int status = amy_future_status(g);
    unsigned err = amy_future_server_errno(g);
    snprintf(after, sizeof after, "%s", amy_future_error(g));
    amy_future_free(g);
    amy_future_free(f[0]);
    amy_future_free(f[1]);

    assert_int_equal(c.calls, 1);
    if (status != AMY_ECLIENT)
        print_error("gather changed after resolving: %s -> %s (\"%s\")\n",
                    amy_status_name(AMY_ECLIENT), amy_status_name(status),
                    after);
    assert_int_equal(status, AMY_ECLIENT);
    assert_int_equal(err, 0);
    assert_string_equal(after, before);
}

/* Same, with all children succeeding later: the status must not change. */
static void test_gather_wait_eclient_then_children_ok(void **state)
{
    struct ev_loop *loop = *state;
    counter c = {0};
    amy_future *f[2] = {pending(loop), pending(loop)};
    amy_future *g = amy_gather(f, 2);
    assert_non_null(g);
    assert_int_equal(amy_future_then(g, count_cb, &c), AMY_OK);
    assert_int_equal(amy_future_wait(g), AMY_ECLIENT);
    resolve_ok(f[0], 0);
    resolve_ok(f[1], 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(amy_future_status(g), AMY_ECLIENT);
    amy_future_free(g);
    amy_future_free(f[0]);
    amy_future_free(f[1]);
}

/* amy_future_cancel fixes the outcome at once and leaves the callbacks to
 * the loop; a gather over the canceled child hears of it from the loop
 * too; a free before the loop runs them inside the free. */
static void test_cancel_calls_back_from_the_loop(void **state)
{
    struct ev_loop *loop = *state;
    counter c = {0}, gc = {0};
    amy_future *kids[2] = {pending(loop), pending(loop)};
    amy_future *g = amy_gather(kids, 2);
    assert_int_equal(amy_future_then(kids[0], count_cb, &c), AMY_OK);
    assert_int_equal(amy_future_then(g, count_cb, &gc), AMY_OK);
    resolve_ok(kids[1], 0);
    assert_int_equal(amy_future_cancel(kids[0]), 1);
    assert_int_equal(amy_future_status(kids[0]), AMY_ECANCELED);
    assert_int_equal(c.calls, 0);
    assert_int_equal(amy_future_status(g), AMY_PENDING);
    assert_int_equal(amy_future_cancel(kids[0]), 0); /* once */
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ECANCELED);
    assert_int_equal(gc.calls, 1);
    assert_int_equal(gc.status, AMY_EGATHER);
    amy_future_free(g);
    amy_future_free(kids[0]);
    amy_future_free(kids[1]);

    /* Canceled, then freed at once: its callbacks run in the free. */
    counter d = {0};
    amy_future *f = pending(loop);
    assert_int_equal(amy_future_then(f, count_cb, &d), AMY_OK);
    assert_int_equal(amy_future_cancel(f), 1);
    amy_future_free(f);
    assert_int_equal(d.calls, 1);
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(d.calls, 1);

    /* A gather of nothing has no loop: then runs at once for it. */
    counter e = {0};
    g = amy_gather(NULL, 0);
    assert_int_equal(amy_future_then(g, count_cb, &e), AMY_OK);
    assert_int_equal(e.calls, 1);
    amy_future_free(g);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup_loop, teardown_loop)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_getters_null),
        T(test_getters_pending),
        T(test_getters_ok),
        T(test_getters_failed),
        T(test_getters_failed_defaults),
        T(test_describe),
        T(test_getters_canceled),
        T(test_new_query_copies_sql),

        T(test_then_runs_once_on_resolve),
        T(test_then_runs_once_on_failure),
        T(test_then_immediate_when_resolved),
        T(test_cancel_calls_back_from_the_loop),
        T(test_then_order),
        T(test_then_same_callback_twice),
        T(test_then_invalid_args),
        T(test_then_callback_on_freed_pending),
        T(test_then_inside_callback),
        T(test_then_after_free_in_callback),

        T(test_free_in_own_callback),
        T(test_free_in_own_callback_failed),
        T(test_free_in_own_immediate_callback),
        T(test_free_in_own_cancel_callback),
        T(test_free_other_pending_in_callback),
        T(test_free_other_resolved_in_callback),
        T(test_free_each_other),

        T(test_gather_empty),
        T(test_gather_all_ok),
        T(test_gather_resolves_after_last),
        T(test_gather_callback_order),
        T(test_gather_counts_already_resolved),
        T(test_gather_all_already_resolved),
        T(test_gather_failures),
        T(test_gather_failure_without_server_errno),
        T(test_gather_all_failed),
        T(test_gather_free_gather_first),
        T(test_gather_free_children_first),
        T(test_gather_free_while_children_pending),
        T(test_gather_child_freed_pending),
        T(test_gather_all_children_freed_pending),
        T(test_gather_null_args),
        T(test_gather_of_gathers),
        T(test_gather_of_gathers_all_ok),
        T(test_gather_of_gathers_inner_freed),
        T(test_gather_same_child_twice),
        T(test_gather_refuses_freed_child),

        T(test_free_gather_in_child_callback_before),
        T(test_free_gather_in_child_callback_after),
        T(test_free_resolved_gather_in_last_child_callback),
        T(test_free_children_in_gather_callback),
        T(test_free_pending_children_in_gather_cancel_callback),
        T(test_free_sibling_in_child_callback),

        T(test_wait_null),
        T(test_wait_resolved_returns_immediately),
        T(test_wait_runs_loop_ok),
        T(test_wait_runs_loop_fail),
        T(test_wait_runs_other_watchers),
        T(test_wait_gather),
        T(test_wait_no_watchers_fails),
        T(test_wait_watchers_run_out),
        T(test_wait_free_in_callback),
        T(test_wait_cancel_from_timer),
        T(test_wait_nested),

        T(test_gather_wait_eclient_then_children_ok),
        T(test_gather_unchanged_after_wait_eclient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
