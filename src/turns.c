/*
 * Turns (see turns.h): a FIFO of connections waiting to read, served by a
 * check watcher at the start of each iteration's callbacks, while an idle
 * watcher keeps the poll from blocking.
 */
#include "turns.h"

/* One iteration's reads may take this long (seconds) before the rest
 * wait: a few hundred answers, well under the 10 ms a 1 ms timer may be
 * late (measured: test_tls's stall line; bench/ab.sh W1 for the cost). */
#define BUDGET 0.002

static int over_budget(struct ev_loop *loop)
{
    return ev_time() - ev_now(loop) > BUDGET;
}

int amy__turns_over_budget(struct ev_loop *loop)
{
    return over_budget(loop);
}

static void serve_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    amy__turns *ts = w->data;
    /* At least one, so each waiting one is served however long the rest
     * of the iteration took. */
    int first = 1;
    amy__link *l;
    while ((l = amy__list_first(&ts->fifo)) && (first || !over_budget(loop))) {
        first = 0;
        amy__list_remove(l);
        amy__turn *t = AMY__CONTAINER(l, amy__turn, link);
        t->run(t); /* may queue others, or t again */
    }
    if (amy__list_empty(&ts->fifo))
        ev_idle_stop(loop, &ts->awake);
}

static void awake_cb(struct ev_loop *loop, ev_idle *w, int revents) {}

void amy__turns_init(amy__turns *ts, struct ev_loop *loop)
{
    ts->loop = loop;
    amy__list_init(&ts->fifo);
    ev_check_init(&ts->serve, serve_cb);
    ts->serve.data = ts;
    ev_check_start(loop, &ts->serve);
    ev_unref(loop); /* it alone must not keep ev_run going */
    ev_idle_init(&ts->awake, awake_cb);
}

void amy__turns_stop(amy__turns *ts)
{
    if (!ts->loop)
        return;
    ev_ref(ts->loop);
    ev_check_stop(ts->loop, &ts->serve);
    ev_idle_stop(ts->loop, &ts->awake);
    amy__link *l;
    while ((l = amy__list_first(&ts->fifo)))
        amy__list_remove(l);
    ts->loop = NULL;
}

int amy__turns_wait(amy__turns *ts, amy__turn *t)
{
    if (!ts || !ts->loop)
        return 0;
    if (amy__link_linked(&t->link))
        return 1;
    if (amy__list_empty(&ts->fifo) && !over_budget(ts->loop))
        return 0;
    amy__list_push_back(&ts->fifo, &t->link);
    ev_idle_start(ts->loop, &ts->awake); /* the waiting ones have work */
    return 1;
}
