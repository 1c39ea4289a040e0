/*
 * Unit tests of src/turns.c: past the iteration's budget, readers wait
 * their turn in order, each is run once, and leaving works. No server: the
 * budget is spent by spinning inside a callback (spinning longer than the
 * budget makes "over budget" certain, whatever the machine's speed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ev.h>

#include "turns.h"

struct rec {
    amy__turn turn;
    int id;
};

static int order[8], nrun;

static int spin_in_run = -1; /* the id whose run spends the budget */

static void spin_past_budget(struct ev_loop *loop);

static void run(amy__turn *t)
{
    int id = ((struct rec *)(void *)t)->id;
    order[nrun++] = id;
    if (id == spin_in_run)
        spin_past_budget(ev_default_loop(0));
}

static void spin_past_budget(struct ev_loop *loop)
{
    while (ev_time() - ev_now(loop) < 0.005) {
    }
}

static struct rec r[4];
static amy__turns ts; /* the FIFO under test, on the default loop */

static void start_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    /* (Within budget and with nobody waiting a reader goes at once: every
     * integration test runs that path; here it would need a fast enough
     * machine, so it is not asserted.) */
    spin_past_budget(loop);
    assert_true(amy__turns_over_budget(loop));
    assert_int_equal(amy__turns_wait(&ts, &r[0].turn), 1);
    assert_int_equal(amy__turns_wait(&ts, &r[1].turn), 1);
    assert_int_equal(amy__turns_wait(&ts, &r[0].turn), 1); /* queued once */
    assert_int_equal(amy__turns_wait(&ts, &r[2].turn), 1);
    amy__turns_leave(&r[2].turn); /* r[2] was closed meanwhile */
    amy__turns_leave(&r[2].turn); /* twice is harmless */
}

static void test_waiting_in_order(void **state)
{
    struct ev_loop *loop = ev_default_loop(0);
    for (int i = 0; i < 3; i++)
        r[i] = (struct rec){.turn = {.run = run}, .id = i};
    nrun = 0;
    ev_timer t;
    ev_timer_init(&t, start_cb, 0., 0.);
    ev_timer_start(loop, &t);
    ev_run(loop, 0); /* returns once nobody waits any more */
    assert_int_equal(nrun, 2);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
}

/* A failed assertion jumps out of a callback: take every record out of
 * the FIFO, so the next test does not find them there. */
static int leave_all(void **state)
{
    for (int i = 0; i < 4; i++)
        amy__turns_leave(&r[i].turn);
    return 0;
}

static ev_timer next;
static int newcomer_rc = -1;

static void newcomer_next_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    /* This iteration began by serving r[0], whose run spent the budget:
     * r[1] still waits, and the newcomer queues behind it (and would, over
     * budget, anyway). */
    newcomer_rc = amy__turns_wait(&ts, &r[2].turn);
}

static void newcomer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    spin_past_budget(loop);
    assert_int_equal(amy__turns_wait(&ts, &r[0].turn), 1);
    assert_int_equal(amy__turns_wait(&ts, &r[1].turn), 1);
    ev_timer_init(&next, newcomer_next_cb, 0., 0.);
    ev_timer_start(loop, &next);
}

/* While one waits, a newcomer queues behind it even within budget: no
 * reader is passed over twice. */
static void test_newcomer_queues_behind(void **state)
{
    struct ev_loop *loop = ev_default_loop(0);
    for (int i = 0; i < 3; i++)
        r[i] = (struct rec){.turn = {.run = run}, .id = i};
    nrun = 0;
    spin_in_run = 0;
    ev_timer a;
    ev_timer_init(&a, newcomer_cb, 0., 0.);
    ev_timer_start(loop, &a);
    ev_run(loop, 0);
    spin_in_run = -1;
    assert_int_equal(newcomer_rc, 1);
    assert_int_equal(nrun, 3);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
}

/* The FIFO belongs to its owner, not to the thread: a FIFO stopped with
 * its loop leaves nothing behind, and a new one on a new loop (even at
 * the same address, as a destroyed loop's successor may be) serves its
 * waiting readers. A per-thread FIFO once outlived its loop, and the next
 * loop's readers waited for ever. */
static void spin_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy__turns *mine = w->data;
    spin_past_budget(loop);
    assert_int_equal(amy__turns_wait(mine, &r[3].turn), 1);
}

static void test_turns_die_with_their_owner(void **state)
{
    for (int round = 0; round < 3; round++) {
        struct ev_loop *l = ev_loop_new(0);
        amy__turns mine;
        amy__turns_init(&mine, l);
        r[3] = (struct rec){.turn = {.run = run}, .id = 3};
        nrun = 0;
        ev_timer t;
        ev_timer_init(&t, spin_cb, 0., 0.);
        t.data = &mine;
        ev_timer_start(l, &t);
        ev_run(l, 0); /* returns once r[3] was served */
        assert_int_equal(nrun, 1);
        assert_int_equal(order[0], 3);
        amy__turns_stop(&mine);
        assert_int_equal(amy__turns_wait(&mine, &r[3].turn), 0);
        ev_loop_destroy(l);
    }
    /* NULL: no turns, read now. */
    assert_int_equal(amy__turns_wait(NULL, &r[3].turn), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_waiting_in_order, leave_all),
        cmocka_unit_test_teardown(test_newcomer_queues_behind, leave_all),
        cmocka_unit_test(test_turns_die_with_their_owner),
    };
    amy__turns_init(&ts, ev_default_loop(0));
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    amy__turns_stop(&ts);
    return rc;
}
