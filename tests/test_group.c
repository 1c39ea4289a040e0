/*
 * Tests for src/group.c: amy_all, amy_any, amy_race, task groups,
 * amy_group_on_child and amy_chain.
 *
 * Unit tests first: futures resolved by hand (no pool), as test_future
 * does, and the loop only for deadlines and what runs from it. Then
 * integration tests against the server (skipped without AMY_TEST_DSN):
 * fail-fast over 1,000 queries, a group deadline killing its SLEEPs, a
 * chain of three dependent queries, a race whose loser is killed.
 */
#include "itest.h"

#include "future.h"
#include "result.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static amy_future *pending(void)
{
    amy_future *f = amy__future_new_query(loop, "SELECT 1", 8);
    assert_non_null(f);
    return f;
}

static void resolve_ok(amy_future *f, uint64_t affected)
{
    amy_result *r = amy__result_ok(affected, 0);
    assert_non_null(r);
    amy__future_resolve(f, r);
}

static void resolve_err(amy_future *f, unsigned err, const char *msg)
{
    amy__future_fail(f, AMY_ESERVER, err, "42000", msg);
}

/* Counts calls, records the status seen and optionally frees things. */
typedef struct counter {
    int calls;
    int status;
    amy_future *free_me[4]; /* freed in the callback */
    amy_future *cancel_me;  /* canceled in the callback */
    amy_future *check[4];   /* their statuses, read in the callback */
    int checked[4];
} counter;

static void count_cb(amy_future *f, void *arg)
{
    counter *c = arg;
    c->calls++;
    c->status = amy_future_status(f);
    for (int i = 0; i < 4; i++)
        if (c->check[i])
            c->checked[i] = amy_future_status(c->check[i]);
    if (c->cancel_me)
        amy_future_cancel(c->cancel_me);
    for (int i = 0; i < 4; i++) {
        amy_future_free(c->free_me[i]);
        c->free_me[i] = NULL;
    }
}

static counter *watch(amy_future *f, counter *c)
{
    assert_int_equal(amy_future_then(f, count_cb, c), AMY_OK);
    return c;
}

/* Records the order amy_group_on_child reports children in. */
typedef struct order {
    size_t idx[16];
    int st[16];
    size_t n;
    amy_future *free_group; /* freed at the first report */
    amy_future *add_to;     /* a task group: gets add_me at the first report */
    amy_future *add_me;
} order;

static void order_cb(amy_future *g, amy_future *child, size_t i, void *arg)
{
    order *o = arg;
    assert_true(o->n < 16);
    o->st[o->n] = amy_future_status(child);
    o->idx[o->n++] = i;
    assert_ptr_equal(amy_group_child(g, i), child);
    if (o->free_group) {
        amy_future_free(o->free_group);
        o->free_group = NULL;
    }
    if (o->add_to) {
        assert_true(amy_group_add(o->add_to, o->add_me) >= 0);
        o->add_to = NULL;
    }
}

/* Runs what is due from the loop: the callbacks that amy_future_cancel and
 * amy_future_then on a resolved future leave to it. */
static void run_due(void)
{
    ev_run(loop, EVRUN_NOWAIT);
}

static void free_all(amy_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        amy_future_free(fs[i]);
}

/* ------------------------------------------------------------------------ */
/* amy_all                                                                  */
/* ------------------------------------------------------------------------ */

static void test_all_ok_after_last(void **state)
{
    amy_future *fs[3] = {pending(), pending(), pending()};
    amy_future *g = amy_all(fs, 3, 0);
    counter c = {0};
    watch(g, &c);
    order o = {0};
    assert_int_equal(amy_group_on_child(g, order_cb, &o), AMY_OK);
    resolve_ok(fs[2], 0);
    resolve_ok(fs[0], 0);
    assert_int_equal(amy_future_status(g), AMY_PENDING);
    assert_int_equal(amy_group_index(g), -1);
    resolve_ok(fs[1], 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_OK);
    assert_int_equal(amy_group_index(g), -1);
    assert_null(amy_future_result(g));
    assert_int_equal(o.n, 3);
    assert_int_equal(o.idx[0], 2);
    assert_int_equal(o.idx[1], 0);
    assert_int_equal(o.idx[2], 1);
    assert_int_equal(amy_group_size(g), 3);
    assert_ptr_equal(amy_group_child(g, 1), fs[1]);
    assert_null(amy_group_child(g, 3));
    amy_future_free(g);
    free_all(fs, 3);
}

static void test_all_fails_fast_leaving_the_rest(void **state)
{
    amy_future *fs[3] = {pending(), pending(), pending()};
    amy_future *g = amy_all(fs, 3, 0);
    counter c = {0};
    watch(g, &c);
    resolve_ok(fs[0], 0);
    resolve_err(fs[1], 1064, "syntax");
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(g), 1064);
    assert_string_equal(amy_future_sqlstate(g), "42000");
    assert_string_equal(amy_future_error(g), "syntax");
    assert_int_equal(amy_group_index(g), 1);
    /* Not asked to cancel: the last one goes on, and is not counted. */
    assert_int_equal(amy_future_status(fs[2]), AMY_PENDING);
    resolve_err(fs[2], 1, "later");
    assert_int_equal(c.calls, 1);
    assert_string_equal(amy_future_error(g), "syntax");
    free_all(fs, 3);
    amy_future_free(g);
}

static void test_all_fails_fast_canceling_the_rest(void **state)
{
    amy_future *fs[3] = {pending(), pending(), pending()};
    amy_future *g = amy_all(fs, 3, AMY_GROUP_CANCEL);
    counter c = {.check = {fs[0], fs[2]}};
    watch(g, &c);
    counter c0 = {0}, c2 = {0};
    watch(fs[0], &c0);
    watch(fs[2], &c2);
    resolve_err(fs[1], 1146, "no table");
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ESERVER);
    /* Canceled before the group's callbacks ran; their own callbacks
     * are left to the loop. */
    assert_int_equal(c.checked[0], AMY_ECANCELED);
    assert_int_equal(c.checked[1], AMY_ECANCELED);
    assert_int_equal(c0.calls, 0);
    run_due();
    assert_int_equal(c0.calls, 1);
    assert_int_equal(c2.calls, 1);
    assert_int_equal(c0.status, AMY_ECANCELED);
    free_all(fs, 3);
    amy_future_free(g);
}

static void test_all_failed_at_creation(void **state)
{
    amy_future *fs[3] = {pending(), pending(), pending()};
    resolve_ok(fs[0], 0);
    resolve_err(fs[2], 1, "early");
    amy_future *g = amy_all(fs, 3, AMY_GROUP_CANCEL);
    assert_non_null(g);
    assert_int_equal(amy_future_status(g), AMY_ESERVER);
    assert_int_equal(amy_group_index(g), 2);
    assert_int_equal(amy_future_status(fs[1]), AMY_ECANCELED);
    counter c = {0};
    watch(g, &c); /* resolved: runs from the loop */
    assert_int_equal(c.calls, 0);
    run_due();
    assert_int_equal(c.calls, 1);
    free_all(fs, 3);
    amy_future_free(g);
}

static void test_all_empty_and_refusals(void **state)
{
    amy_future *g = amy_all(NULL, 0, 0);
    assert_non_null(g);
    assert_int_equal(amy_future_status(g), AMY_OK);
    assert_int_equal(amy_future_set_timeout(g, 10), AMY_EINVAL);
    amy_future_free(g);
    amy_future *f = pending();
    amy_future *nul[2] = {f, NULL};
    assert_null(amy_all(nul, 2, 0));
    assert_null(amy_all(NULL, 1, 0));
    assert_null(amy_all(&f, 1, 0x80));
    assert_null(amy_any(&f, 1, AMY_GROUP_SETTLED));
    assert_null(amy_race(&f, 1, AMY_GROUP_SETTLED));
    assert_null(amy_any(&f, 0, 0));
    assert_null(amy_race(&f, 0, 0));
    /* Nothing was registered on f. */
    assert_true(amy__list_empty(&f->cbs));
    assert_int_equal(amy_group_index(f), -1);
    assert_int_equal(amy_group_size(f), 0);
    assert_null(amy_group_child(f, 0));
    assert_int_equal(amy_group_on_child(f, order_cb, NULL), AMY_EINVAL);
    assert_int_equal(amy_group_add(f, pending()), AMY_EINVAL);
    assert_int_equal(amy_group_close(f), AMY_EINVAL);
    amy_future_free(f);
}

static void test_all_settled_waits_for_every_child(void **state)
{
    amy_future *fs[3] = {pending(), pending(), pending()};
    amy_future *g = amy_all(fs, 3, AMY_GROUP_SETTLED | AMY_GROUP_CANCEL);
    counter c = {0};
    watch(g, &c);
    order o = {0};
    amy_group_on_child(g, order_cb, &o);
    resolve_err(fs[1], 1, "one");
    amy_future_cancel(fs[0]);
    run_due(); /* the group hears of the cancel from the loop */
    assert_int_equal(c.calls, 0);
    resolve_ok(fs[2], 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_OK);
    assert_int_equal(o.n, 3);
    assert_int_equal(o.idx[0], 1);
    assert_int_equal(o.st[0], AMY_ESERVER);
    assert_int_equal(o.idx[1], 0);
    assert_int_equal(o.st[1], AMY_ECANCELED);
    assert_int_equal(o.idx[2], 2);
    free_all(fs, 3);
    amy_future_free(g);
}

/* ------------------------------------------------------------------------ */
/* amy_any, amy_race                                                        */
/* ------------------------------------------------------------------------ */

static void test_any_first_success_cancels_losers(void **state)
{
    amy_future *fs[3] = {pending(), pending(), pending()};
    amy_future *g = amy_any(fs, 3, AMY_GROUP_CANCEL);
    counter c = {0};
    watch(g, &c);
    resolve_err(fs[0], 1, "first failure");
    assert_int_equal(c.calls, 0);
    resolve_ok(fs[2], 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_OK);
    assert_int_equal(amy_group_index(g), 2);
    assert_int_equal(amy_future_status(fs[1]), AMY_ECANCELED);
    free_all(fs, 3);
    amy_future_free(g);
}

static void test_any_all_failed_gives_first_failure(void **state)
{
    amy_future *fs[3] = {pending(), pending(), pending()};
    amy_future *g = amy_any(fs, 3, 0);
    counter c = {0};
    watch(g, &c);
    resolve_err(fs[2], 1045, "first in time");
    /* The first failure is copied: freeing its child changes nothing. */
    amy_future_free(fs[2]);
    resolve_err(fs[0], 1064, "second");
    assert_int_equal(c.calls, 0);
    amy_future_cancel(fs[1]);
    run_due();
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ESERVER);
    assert_int_equal(amy_group_index(g), 2);
    assert_int_equal(amy_future_server_errno(g), 1045);
    assert_string_equal(amy_future_error(g), "first in time");
    amy_future_free(fs[0]);
    amy_future_free(fs[1]);
    amy_future_free(g);
}

static void test_race_first_to_resolve_wins(void **state)
{
    amy_future *fs[3] = {pending(), pending(), pending()};
    amy_future *g = amy_race(fs, 3, AMY_GROUP_CANCEL);
    counter c = {.check = {fs[0], fs[2]}};
    watch(g, &c);
    resolve_err(fs[1], 1317, "interrupted");
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(g), 1317);
    assert_int_equal(amy_group_index(g), 1);
    assert_int_equal(c.checked[0], AMY_ECANCELED);
    assert_int_equal(c.checked[1], AMY_ECANCELED);
    free_all(fs, 3);
    amy_future_free(g);
}

static void test_race_already_resolved_lowest_index_wins(void **state)
{
    amy_future *fs[3] = {pending(), pending(), pending()};
    resolve_ok(fs[2], 0);
    resolve_err(fs[1], 1, "x");
    amy_future *g = amy_race(fs, 3, 0);
    assert_int_equal(amy_future_status(g), AMY_ESERVER);
    assert_int_equal(amy_group_index(g), 1);
    assert_int_equal(amy_future_status(fs[0]), AMY_PENDING); /* no cancel */
    amy_future_free(g);
    free_all(fs, 3);
}

/* ------------------------------------------------------------------------ */
/* Deadlines, cancel, free                                                  */
/* ------------------------------------------------------------------------ */

static void test_deadline_cancels_children_when_asked(void **state)
{
    for (int flag = 0; flag < 2; flag++) {
        amy_future *fs[2] = {pending(), pending()};
        amy_future *g = amy_all(fs, 2, flag ? AMY_GROUP_CANCEL : 0);
        counter c = {.check = {fs[0], fs[1]}};
        watch(g, &c);
        assert_int_equal(amy_future_set_timeout(g, 1), AMY_OK);
        assert_int_equal(amy_future_wait(g), AMY_ETIMEDOUT);
        assert_int_equal(c.calls, 1);
        assert_string_equal(amy_future_sqlstate(g), "HYT00");
        assert_int_equal(amy_group_index(g), -1);
        int want = flag ? AMY_ECANCELED : AMY_PENDING;
        assert_int_equal(c.checked[0], want);
        assert_int_equal(c.checked[1], want);
        if (!flag)
            resolve_ok(fs[0], 0); /* left running: not counted */
        assert_int_equal(c.calls, 1);
        free_all(fs, 2);
        amy_future_free(g);
    }
}

static void test_deadline_stops_when_decided(void **state)
{
    amy_future *f = pending();
    amy_future *g = amy_race(&f, 1, 0);
    assert_int_equal(amy_future_set_timeout(g, 1), AMY_OK);
    resolve_ok(f, 0);
    assert_int_equal(amy_future_status(g), AMY_OK);
    /* The deadline stopped: nothing left for the loop. */
    assert_int_equal(ev_run(loop, EVRUN_NOWAIT), 0);
    amy_future_free(g);
    amy_future_free(f);
}

static void test_cancel_and_free_group(void **state)
{
    amy_future *fs[2] = {pending(), pending()};
    amy_future *g = amy_any(fs, 2, AMY_GROUP_CANCEL);
    counter c = {0};
    watch(g, &c);
    assert_int_equal(amy_future_cancel(g), 1);
    /* Fixed at once, children included; callbacks from the loop. */
    assert_int_equal(amy_future_status(g), AMY_ECANCELED);
    assert_int_equal(amy_future_status(fs[0]), AMY_ECANCELED);
    assert_int_equal(c.calls, 0);
    run_due();
    assert_int_equal(c.status, AMY_ECANCELED);
    assert_int_equal(amy_future_status(fs[1]), AMY_ECANCELED);
    assert_int_equal(amy_future_cancel(g), 0);
    amy_future_free(g);
    free_all(fs, 2);

    /* Freed while pending: canceled with its children, or without. */
    amy_future *a[2] = {pending(), pending()};
    amy_future *b[2] = {pending(), pending()};
    amy_future *ga = amy_all(a, 2, AMY_GROUP_CANCEL);
    amy_future *gb = amy_all(b, 2, 0);
    counter ca = {0}, cb = {0};
    watch(ga, &ca);
    watch(gb, &cb);
    amy_future_free(ga);
    amy_future_free(gb);
    assert_int_equal(ca.status, AMY_ECANCELED);
    assert_int_equal(cb.status, AMY_ECANCELED);
    assert_int_equal(amy_future_status(a[0]), AMY_ECANCELED);
    assert_int_equal(amy_future_status(b[0]), AMY_PENDING);
    resolve_ok(b[0], 0); /* the freed group is not told */
    free_all(a, 2);
    free_all(b, 2);
}

/* A child's callback, run while the group cancels it, frees the group, or
 * cancels it, or frees another child: the group resolves once. */
static void test_child_callbacks_during_cancel(void **state)
{
    for (int mode = 0; mode < 3; mode++) {
        amy_future *fs[3] = {pending(), pending(), pending()};
        amy_future *g = amy_all(fs, 3, AMY_GROUP_CANCEL);
        counter cg = {0};
        watch(g, &cg);
        counter c0 = {0};
        if (mode == 0)
            c0.free_me[0] = g;
        else if (mode == 1)
            c0.cancel_me = g;
        else
            c0.free_me[0] = fs[2];
        watch(fs[0], &c0);
        if (mode < 2)
            amy_future_cancel(g); /* from outside: detach cancels */
        else
            resolve_err(fs[1], 1, "x"); /* decided by a child */
        run_due();
        assert_int_equal(cg.calls, 1);
        assert_int_equal(c0.calls, 1);
        assert_int_equal(c0.status, AMY_ECANCELED);
        if (mode != 0)
            amy_future_free(g);
        amy_future_free(fs[0]);
        amy_future_free(fs[1]);
        if (mode != 2)
            amy_future_free(fs[2]);
    }
}

/* Freeing inside callbacks: the group in its own callback, the children in
 * the group's, the group in a child's (before its node runs), the group
 * and a child inside on_child. */
static void test_free_inside_callbacks(void **state)
{
    amy_future *fs[2] = {pending(), pending()};
    amy_future *g = amy_all(fs, 2, 0);
    counter c = {.free_me = {NULL, fs[0], fs[1]}};
    c.free_me[0] = g;
    watch(g, &c);
    resolve_ok(fs[0], 0);
    resolve_ok(fs[1], 0);
    assert_int_equal(c.calls, 1);

    amy_future *hs[2] = {pending(), pending()};
    counter early = {0};
    watch(hs[0], &early); /* runs before the group's node */
    amy_future *h = amy_all(hs, 2, AMY_GROUP_CANCEL);
    counter ch = {0};
    watch(h, &ch);
    early.free_me[0] = h;
    resolve_err(hs[0], 1, "x"); /* frees h (pending: canceled) first */
    assert_int_equal(ch.calls, 1);
    assert_int_equal(ch.status, AMY_ECANCELED);
    assert_int_equal(amy_future_status(hs[1]), AMY_ECANCELED);
    free_all(hs, 2);

    amy_future *ks[2] = {pending(), pending()};
    amy_future *k = amy_race(ks, 2, AMY_GROUP_CANCEL);
    counter ck = {0};
    watch(k, &ck);
    order o = {.free_group = k};
    amy_group_on_child(k, order_cb, &o);
    resolve_ok(ks[1], 0); /* on_child frees k first: canceled */
    assert_int_equal(o.n, 1);
    assert_int_equal(ck.calls, 1);
    assert_int_equal(ck.status, AMY_ECANCELED);
    assert_int_equal(amy_future_status(ks[0]), AMY_ECANCELED);
    free_all(ks, 2);
}

/* Nested: canceling the outer group cancels the inner one, which cancels
 * its own children. */
static void test_nested_groups(void **state)
{
    amy_future *a = pending(), *b = pending(), *c = pending();
    amy_future *in[2] = {a, b};
    amy_future *inner = amy_race(in, 2, AMY_GROUP_CANCEL);
    amy_future *out[2] = {inner, c};
    amy_future *outer = amy_all(out, 2, AMY_GROUP_CANCEL);
    counter co = {0}, ci = {0};
    watch(inner, &ci);
    watch(outer, &co);
    resolve_ok(c, 0);
    assert_int_equal(co.calls, 0);
    resolve_ok(b, 0); /* inner won by b: a canceled, outer done */
    assert_int_equal(ci.calls, 1);
    assert_int_equal(co.calls, 1);
    assert_int_equal(co.status, AMY_OK);
    assert_int_equal(amy_future_status(a), AMY_ECANCELED);
    amy_future_free(outer);
    amy_future_free(inner);

    amy_future *x = pending(), *y = pending(), *z = pending();
    amy_future *in2[2] = {x, y};
    inner = amy_all(in2, 2, AMY_GROUP_CANCEL);
    amy_future *out2[2] = {inner, z};
    outer = amy_any(out2, 2, AMY_GROUP_CANCEL);
    assert_int_equal(amy_future_set_timeout(outer, 1), AMY_OK);
    assert_int_equal(amy_future_wait(outer), AMY_ETIMEDOUT);
    assert_int_equal(amy_future_status(inner), AMY_ECANCELED);
    assert_int_equal(amy_future_status(x), AMY_ECANCELED);
    assert_int_equal(amy_future_status(y), AMY_ECANCELED);
    assert_int_equal(amy_future_status(z), AMY_ECANCELED);
    amy_future *all[] = {outer, inner, a, b, c, x, y, z};
    free_all(all, 8);
}

/* ------------------------------------------------------------------------ */
/* Task groups                                                              */
/* ------------------------------------------------------------------------ */

static void test_task_group_resolves_after_close(void **state)
{
    amy_future *g = amy_group_new(loop);
    assert_non_null(g);
    counter c = {0};
    watch(g, &c);
    amy_future *a = pending(), *b = pending(), *later = pending();
    assert_int_equal(amy_group_add(g, a), 0);
    assert_int_equal(amy_group_add(g, b), 1);
    order o = {.add_to = g, .add_me = later};
    amy_group_on_child(g, order_cb, &o);
    resolve_ok(a, 1); /* on_child adds `later` while the group runs */
    assert_int_equal(amy_group_size(g), 3);
    resolve_ok(b, 2);
    assert_int_equal(amy_future_status(g), AMY_PENDING); /* not closed */
    assert_int_equal(amy_group_close(g), AMY_OK);
    resolve_ok(later, 3);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_OK);
    assert_int_equal(o.n, 3);
    assert_int_equal(o.idx[2], 2);
    assert_int_equal(
        amy_result_affected_rows(amy_future_result(amy_group_child(g, 2))), 3);
    assert_int_equal(amy_group_close(g), AMY_OK); /* twice: nothing */
    amy_future_free(g);                           /* frees a, b, later */
}

static void test_task_group_never_calls_back_inside_add_or_close(void **state)
{
    amy_future *g = amy_group_new(loop);
    counter c = {0};
    watch(g, &c);
    amy_future *done = pending();
    resolve_ok(done, 0);
    assert_int_equal(amy_group_add(g, done), 0);
    order o = {0};
    amy_group_on_child(g, order_cb, &o);
    assert_int_equal(amy_group_close(g), AMY_OK);
    assert_int_equal(o.n, 0);
    assert_int_equal(c.calls, 0);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    assert_int_equal(o.n, 1);
    assert_int_equal(c.calls, 1);
    amy_future_free(g);

    /* Empty, then closed: resolved at once, callbacks from the loop. */
    g = amy_group_new(loop);
    watch(g, &c);
    amy_group_close(g);
    assert_int_equal(amy_future_status(g), AMY_OK);
    assert_int_equal(c.calls, 1);
    amy_future_free(g); /* before the loop ran: it runs what is due */
    assert_int_equal(c.calls, 2);
    assert_int_equal(ev_run(loop, 0), 0);
}

static void test_task_group_first_failure_cancels_the_rest(void **state)
{
    amy_future *g = amy_group_new(loop);
    counter c = {0};
    watch(g, &c);
    amy_future *a = pending(), *b = pending(), *d = pending();
    counter cb = {0};
    watch(b, &cb);
    amy_group_add(g, a);
    amy_group_add(g, b);
    amy_group_add(g, d);
    resolve_err(d, 1062, "duplicate");
    run_due();
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_ESERVER);
    assert_int_equal(amy_group_index(g), 2);
    assert_int_equal(amy_future_status(a), AMY_ECANCELED);
    assert_int_equal(cb.status, AMY_ECANCELED);
    /* Resolved: a new child is refused, and freed (canceled). */
    amy_future *late = pending();
    counter cl = {0};
    watch(late, &cl);
    assert_int_equal(amy_group_add(g, late), AMY_EINVAL);
    assert_int_equal(cl.status, AMY_ECANCELED);
    amy_future_free(g);
}

static void test_task_group_deadline_cancel_free(void **state)
{
    amy_future *g = amy_group_new(loop);
    amy_future *a = pending();
    counter ca = {0};
    watch(a, &ca);
    amy_group_add(g, a);
    assert_int_equal(amy_future_set_timeout(g, 1), AMY_OK);
    assert_int_equal(amy_future_wait(g), AMY_ETIMEDOUT);
    run_due();
    assert_int_equal(ca.status, AMY_ECANCELED);
    amy_future_free(g);

    g = amy_group_new(loop);
    a = pending();
    watch(a, &ca);
    amy_group_add(g, a);
    amy_future_free(g); /* pending: cancels and frees a */
    assert_int_equal(ca.calls, 2);
    assert_int_equal(ca.status, AMY_ECANCELED);

    /* Refusals: NULL, the group itself, another loop, a closed group. */
    g = amy_group_new(loop);
    assert_int_equal(amy_group_add(g, NULL), AMY_EINVAL);
    assert_int_equal(amy_group_add(g, g), AMY_EINVAL);
    struct ev_loop *other = ev_loop_new(0);
    amy_future *o = amy__future_new_query(other, "x", 1);
    assert_int_equal(amy_group_add(g, o), AMY_EINVAL); /* freed */
    ev_loop_destroy(other);
    amy_group_close(g);
    assert_int_equal(amy_group_add(g, pending()), AMY_EINVAL);
    /* Resolved at the close: the wait returns at once, and the callbacks
     * (none here) run from the loop, which lets the group go. */
    assert_int_equal(amy_future_wait(g), AMY_OK);
    amy_future_free(g);
    assert_int_equal(ev_run(loop, 0), 0);
    assert_null(amy_group_new(NULL));
}

/* ------------------------------------------------------------------------ */
/* Chains                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct stepper {
    int calls;
    amy_future *next;       /* returned by the step */
    amy_future *free_chain; /* freed inside the step */
    uint64_t prev_affected;
} stepper;

static amy_future *step_cb(amy_future *prev, void *arg)
{
    stepper *s = arg;
    s->calls++;
    assert_int_equal(amy_future_status(prev), AMY_OK);
    s->prev_affected = amy_result_affected_rows(amy_future_result(prev));
    if (s->free_chain)
        amy_future_free(s->free_chain);
    return s->next == (amy_future *)1 ? prev : s->next;
}

static void test_chain_runs_step_and_takes_last_outcome(void **state)
{
    amy_future *first = pending(), *second = pending();
    stepper s = {.next = second};
    amy_future *ch = amy_chain(first, step_cb, &s);
    counter c = {0};
    watch(ch, &c);
    resolve_ok(first, 7);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.prev_affected, 7);
    assert_int_equal(amy_future_status(ch), AMY_PENDING);
    resolve_ok(second, 9);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.status, AMY_OK);
    assert_int_equal(amy_result_affected_rows(amy_future_result(ch)), 9);
    amy_future_free(ch);

    /* A failing step future: its error, its partial result. */
    first = pending();
    second = pending();
    s = (stepper){.next = second};
    ch = amy_chain(first, step_cb, &s);
    resolve_ok(first, 0);
    amy__future_set_error(second, AMY_ESERVER, 1213, "40001", "deadlock");
    amy__future_resolve(second, amy__result_ok(4, 0));
    assert_int_equal(amy_future_status(ch), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(ch), 1213);
    assert_string_equal(amy_future_sqlstate(ch), "40001");
    assert_string_equal(amy_future_error(ch), "deadlock");
    assert_int_equal(amy_result_affected_rows(amy_future_result(ch)), 4);
    amy_future_free(ch);
}

static void test_chain_short_circuits_and_refusals(void **state)
{
    amy_future *first = pending();
    stepper s = {0};
    amy_future *ch = amy_chain(first, step_cb, &s);
    resolve_err(first, 1146, "no table");
    assert_int_equal(s.calls, 0);
    assert_int_equal(amy_future_status(ch), AMY_ESERVER);
    assert_string_equal(amy_future_error(ch), "no table");
    amy_future_free(ch);

    /* NULL from the step: AMY_ENOMEM. prev returned: its outcome. */
    first = pending();
    s = (stepper){0};
    ch = amy_chain(first, step_cb, &s);
    resolve_ok(first, 0);
    assert_int_equal(amy_future_status(ch), AMY_ENOMEM);
    amy_future_free(ch);
    first = pending();
    s = (stepper){.next = (amy_future *)1};
    ch = amy_chain(first, step_cb, &s);
    resolve_ok(first, 5);
    assert_int_equal(amy_future_status(ch), AMY_OK);
    assert_int_equal(amy_result_affected_rows(amy_future_result(ch)), 5);
    amy_future_free(ch);

    assert_null(amy_chain(NULL, step_cb, &s));
    assert_null(amy_chain(pending(), NULL, &s)); /* freed */
}

static void test_chain_with_resolved_first_steps_from_the_loop(void **state)
{
    amy_future *first = pending(), *second = pending();
    resolve_ok(first, 1);
    stepper s = {.next = second};
    amy_future *ch = amy_chain(first, step_cb, &s);
    assert_int_equal(s.calls, 0);
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(s.calls, 1);
    resolve_ok(second, 2);
    assert_int_equal(amy_future_wait(ch), AMY_OK);
    amy_future_free(ch);

    /* Freed before the loop ran: the step never runs. */
    first = pending();
    resolve_ok(first, 1);
    s = (stepper){0};
    ch = amy_chain(first, step_cb, &s);
    amy_future_free(ch);
    assert_int_equal(ev_run(loop, EVRUN_NOWAIT), 0);
    assert_int_equal(s.calls, 0);
}

static void test_chain_cancel_cancels_running_step(void **state)
{
    /* Waiting on the first future. */
    amy_future *first = pending();
    counter cf = {0};
    watch(first, &cf);
    stepper s = {0};
    amy_future *ch = amy_chain(first, step_cb, &s);
    assert_int_equal(amy_future_cancel(ch), 1);
    assert_int_equal(cf.status, AMY_ECANCELED);
    assert_int_equal(s.calls, 0);
    amy_future_free(ch);

    /* Waiting on the step's future, through a deadline. */
    first = pending();
    amy_future *second = pending();
    counter c2 = {0};
    watch(second, &c2);
    s = (stepper){.next = second};
    ch = amy_chain(first, step_cb, &s);
    resolve_ok(first, 0);
    assert_int_equal(amy_future_set_timeout(ch, 1), AMY_OK);
    assert_int_equal(amy_future_wait(ch), AMY_ETIMEDOUT);
    assert_int_equal(c2.status, AMY_ECANCELED);
    amy_future_free(ch);

    /* The step frees the chain: the future it returns is freed too. */
    first = pending();
    second = pending();
    watch(second, &c2);
    s = (stepper){.next = second};
    ch = amy_chain(first, step_cb, &s);
    counter cc = {0};
    watch(ch, &cc);
    s.free_chain = ch;
    resolve_ok(first, 0);
    assert_int_equal(cc.calls, 1);
    assert_int_equal(cc.status, AMY_ECANCELED);
    assert_int_equal(c2.calls, 2);
    assert_int_equal(c2.status, AMY_ECANCELED);
}

static void test_chain_of_chains_and_groups(void **state)
{
    amy_future *q1 = pending(), *q2 = pending(), *q3 = pending();
    stepper s1 = {.next = q2}, s2 = {.next = q3};
    amy_future *ch = amy_chain(amy_chain(q1, step_cb, &s1), step_cb, &s2);
    resolve_ok(q1, 1);
    resolve_ok(q2, 2);
    assert_int_equal(s2.calls, 1);
    assert_int_equal(s2.prev_affected, 2); /* the inner chain's result */
    resolve_ok(q3, 3);
    assert_int_equal(amy_future_status(ch), AMY_OK);
    assert_int_equal(amy_result_affected_rows(amy_future_result(ch)), 3);
    amy_future_free(ch);

    /* A chain in a race: the race cancels it, which cancels its step. */
    amy_future *slow = pending(), *fast = pending();
    counter cs = {0};
    watch(slow, &cs);
    s1 = (stepper){0};
    amy_future *c = amy_chain(slow, step_cb, &s1);
    amy_future *fs[2] = {c, fast};
    amy_future *r = amy_race(fs, 2, AMY_GROUP_CANCEL);
    resolve_ok(fast, 0);
    assert_int_equal(amy_group_index(r), 1);
    assert_int_equal(amy_future_status(c), AMY_ECANCELED);
    assert_int_equal(cs.status, AMY_ECANCELED);
    amy_future_free(r);
    amy_future_free(c);
    amy_future_free(fast);
}

/* ------------------------------------------------------------------------ */
/* Integration: against the server                                          */
/* ------------------------------------------------------------------------ */

/* A syntax error among 1,000 inserts, fail-fast with cancel: the group
 * fails with the server's 1064 and the queued rest are never sent, so
 * fewer than 1,000 rows (the 999 good ones) reach the table. */
static void test_db_fail_fast_cancels_the_queued_rest(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=2&pipeline=4");
    itest_exec(p, "CREATE TABLE IF NOT EXISTS group_ff (i INT)");
    itest_exec(p, "TRUNCATE TABLE group_ff");
    amy_future *fs[1000];
    char sql[64];
    for (int i = 0; i < 1000; i++) {
        if (i == 10)
            snprintf(sql, sizeof sql, "INSERT INTO group_ff VALUE (%d", i);
        else
            snprintf(sql, sizeof sql, "INSERT INTO group_ff VALUES (%d)", i);
        fs[i] = amy_query(p, sql);
        assert_non_null(fs[i]);
    }
    amy_future *g = amy_all(fs, 1000, AMY_GROUP_CANCEL);
    assert_int_equal(amy_future_wait(g), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(g), 1064);
    assert_int_equal(amy_group_index(g), 10);
    size_t canceled = 0;
    for (int i = 0; i < 1000; i++)
        canceled += amy_future_status(fs[i]) == AMY_ECANCELED;
    assert_true(canceled > 0);
    /* Counted on a pool of its own: the KILLs sent for the canceled
     * inserts still in flight target p's connections, and one may land on
     * the next statement there. Rows of those inserts may still come in:
     * neither bound below depends on them. */
    amy_pool *q = itest_pool(loop, "pool=1");
    amy_future *n = amy_query(q, "SELECT COUNT(*) FROM group_ff");
    if (amy_future_wait(n) != AMY_OK) {
        char line[256];
        amy_future_describe(n, line, sizeof line);
        print_error("count: %s\n", line);
    }
    assert_int_equal(amy_future_status(n), AMY_OK);
    long rows = atol(itest_value(n));
    print_message("fail-fast: %ld rows of 999, %zu futures canceled\n", rows,
                  canceled);
    assert_true(rows < 999);
    assert_true(rows + (long)canceled >= 999);
    amy_future_free(n);
    amy_future_free(g);
    free_all(fs, 1000);
    amy_pool_free(p);
    itest_exec(q, "DROP TABLE group_ff");
    amy_pool_free(q);
}

#define SLEEPER "SELECT SLEEP(601)" /* no other test sleeps as long */

/* A deadline on a group over running SLEEPs, with cancel: the group times
 * out, each SLEEP is killed on the server (gone from PROCESSLIST), and the
 * pool's connections serve again. */
static void test_db_group_deadline_kills_running_sleeps(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=3&pipeline=1");
    amy_pool *admin = itest_admin_pool(loop);
    amy_future *fs[3];
    for (int i = 0; i < 3; i++)
        fs[i] = amy_query(p, SLEEPER);
    amy_future *g = amy_all(fs, 3, AMY_GROUP_CANCEL);
    /* The deadline is set once all three run: "killed on the server" is
     * then what is tested, not a deadline that fell before sending. */
    itest_wait_running(admin, SLEEPER, 3);
    assert_int_equal(amy_future_set_timeout(g, 20), AMY_OK);
    assert_int_equal(amy_future_wait(g), AMY_ETIMEDOUT);
    for (int i = 0; i < 3; i++)
        assert_int_equal(amy_future_status(fs[i]), AMY_ECANCELED);
    itest_wait_running(admin, SLEEPER, 0);
    for (int i = 0; i < 3; i++) {
        amy_future *q = amy_query(p, "SELECT 1");
        assert_int_equal(amy_future_wait(q), AMY_OK);
        amy_future_free(q);
    }
    amy_stats st = itest_stats(p);
    assert_int_equal(st.kills, 3);
    amy_future_free(g);
    free_all(fs, 3);
    amy_pool_free(admin);
    amy_pool_free(p);
}

/* Three dependent queries: an id, then a name by that id, then that
 * name's length. */
typedef struct lookup {
    amy_pool *p;
    int steps;
} lookup;

static amy_future *by_id(amy_future *prev, void *arg)
{
    lookup *l = arg;
    l->steps++;
    amy_value v = amy_val_int64(atoll(itest_value(prev)));
    return amy_query_params(l->p, "SELECT CONCAT('user-', ?)", &v, 1);
}

static amy_future *name_len(amy_future *prev, void *arg)
{
    lookup *l = arg;
    l->steps++;
    const char *name = itest_value(prev);
    amy_value v = amy_val_text(name, strlen(name));
    return amy_exec(l->p, "SELECT CHAR_LENGTH(?)", &v, 1);
}

static void test_db_chain_of_three(void **state)
{
    amy_pool *p = itest_pool(loop, NULL);
    lookup l = {.p = p};
    amy_future *ch = amy_chain(
        amy_chain(amy_query(p, "SELECT 40 + 2"), by_id, &l), name_len, &l);
    assert_non_null(ch);
    assert_int_equal(amy_future_wait(ch), AMY_OK);
    assert_int_equal(l.steps, 2);
    assert_string_equal(itest_value(ch), "7"); /* "user-42" */
    amy_future_free(ch);

    /* The middle one fails: the last step never runs. */
    l.steps = 0;
    ch = amy_chain(
        amy_chain(amy_query(p, "SELECT nope FROM nowhere"), by_id, &l),
        name_len, &l);
    assert_int_equal(amy_future_wait(ch), AMY_ESERVER);
    assert_int_equal(amy_future_server_errno(ch), 1146);
    assert_int_equal(l.steps, 0);
    amy_future_free(ch);
    amy_pool_free(p);
}

/* SLEEP(0.01) against SLEEP(1), cancel the loser. The loser reads a table
 * behind a gate (tests/itest.h), so it cannot finish before SLEEP(0.01)
 * whatever the machine's load: it waits on the server until killed. */
#define LOSER "SELECT SLEEP(1) FROM group_gate"

static int one_kill(const amy_stats *s)
{
    return s->kills >= 1;
}

static void test_db_race_cancels_the_loser(void **state)
{
    itest_gate gate;
    itest_gate_close(&gate, loop, "group_gate");
    amy_pool *p = itest_pool(loop, "pool=2&pipeline=1");
    amy_pool *admin = itest_admin_pool(loop);
    amy_future *slow = amy_query(p, LOSER);
    itest_wait_running(admin, LOSER, 1);
    amy_future *fast = amy_query(p, "SELECT SLEEP(0.01)");
    amy_future *fs[2] = {fast, slow};
    amy_future *r = amy_race(fs, 2, AMY_GROUP_CANCEL);
    assert_int_equal(amy_future_wait(r), AMY_OK);
    assert_int_equal(amy_group_index(r), 0);
    assert_int_equal(amy_future_status(slow), AMY_ECANCELED);
    itest_run_until(loop, p, one_kill, "the loser's KILL");
    itest_wait_running(admin, LOSER, 0); /* killed, with the gate shut */
    itest_gate_open(&gate);
    amy_future_free(r);
    amy_future_free(fast);
    amy_future_free(slow);
    amy_pool_free(admin);
    amy_pool_free(p);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, itest_setup, itest_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_all_ok_after_last),
        T(test_all_fails_fast_leaving_the_rest),
        T(test_all_fails_fast_canceling_the_rest),
        T(test_all_failed_at_creation),
        T(test_all_empty_and_refusals),
        T(test_all_settled_waits_for_every_child),
        T(test_any_first_success_cancels_losers),
        T(test_any_all_failed_gives_first_failure),
        T(test_race_first_to_resolve_wins),
        T(test_race_already_resolved_lowest_index_wins),
        T(test_deadline_cancels_children_when_asked),
        T(test_deadline_stops_when_decided),
        T(test_cancel_and_free_group),
        T(test_child_callbacks_during_cancel),
        T(test_free_inside_callbacks),
        T(test_nested_groups),
        T(test_task_group_resolves_after_close),
        T(test_task_group_never_calls_back_inside_add_or_close),
        T(test_task_group_first_failure_cancels_the_rest),
        T(test_task_group_deadline_cancel_free),
        T(test_chain_runs_step_and_takes_last_outcome),
        T(test_chain_short_circuits_and_refusals),
        T(test_chain_with_resolved_first_steps_from_the_loop),
        T(test_chain_cancel_cancels_running_step),
        T(test_chain_of_chains_and_groups),
        T(test_db_fail_fast_cancels_the_queued_rest),
        T(test_db_group_deadline_kills_running_sleeps),
        T(test_db_chain_of_three),
        T(test_db_race_cancels_the_loser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
