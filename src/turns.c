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

static _Thread_local struct {
    struct ev_loop *loop; /* the thread's loop, once used */
    amy__link fifo;
    ev_check serve; /* right after a poll: the waiting ones' turn */
    ev_idle awake;  /* while any waits, the poll does not block */
} T;

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
    /* At least one, so each waiting one is served however long the rest
     * of the iteration took. */
    int first = 1;
    amy__link *l;
    while ((l = amy__list_first(&T.fifo)) && (first || !over_budget(loop))) {
        first = 0;
        amy__list_remove(l);
        amy__turn *t = AMY__CONTAINER(l, amy__turn, link);
        t->run(t); /* may queue others, or t again */
    }
    if (amy__list_empty(&T.fifo))
        ev_idle_stop(loop, &T.awake);
}

static void awake_cb(struct ev_loop *loop, ev_idle *w, int revents) {}

int amy__turns_wait(struct ev_loop *loop, amy__turn *t)
{
    if (T.loop != loop) {
        if (T.loop)
            return 0; /* a second loop on this thread: no turns there */
        T.loop = loop;
        amy__list_init(&T.fifo);
        ev_check_init(&T.serve, serve_cb);
        ev_check_start(loop, &T.serve);
        ev_unref(loop); /* it alone must not keep ev_run going */
        ev_idle_init(&T.awake, awake_cb);
    }
    if (amy__link_linked(&t->link))
        return 1;
    if (amy__list_empty(&T.fifo) && !over_budget(loop))
        return 0;
    amy__list_push_back(&T.fifo, &t->link);
    ev_idle_start(loop, &T.awake); /* the waiting ones have work to do */
    return 1;
}
