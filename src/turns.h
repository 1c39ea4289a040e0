/*
 * Turns: how much of one loop iteration amysql's reads may take. Internal.
 *
 * libev runs timers only between iterations. With many connections
 * readable at once (200 connections whose answers piled up while the
 * server had the cores), one iteration that read them all kept the
 * caller's timers waiting 20-50 ms. Past a budget of the iteration's time,
 * a connection that wants to read waits its turn instead: it joins a FIFO
 * (its watcher stopped), and the waiting ones are served first in each
 * following iteration, right after its poll (libev runs check watchers
 * before the iteration's other callbacks), oldest first, within the
 * budget (at least one per iteration, so each is served however long
 * other callbacks take); the iteration's timers run next. While any waits, newcomers queue behind
 * them: no connection is passed over twice.
 *
 * One loop per thread (amysql's rule): the FIFO and its two watchers are
 * the thread's.
 */
#ifndef AMY_TURNS_H
#define AMY_TURNS_H

#include <ev.h>

#include "list.h"

typedef struct amy__turn {
    amy__link link;                  /* in the FIFO while waiting */
    void (*run)(struct amy__turn *); /* its turn came */
} amy__turn;

/* Whether t must wait its turn (then it is queued, and run later), or may
 * read now. */
int amy__turns_wait(struct ev_loop *loop, amy__turn *t);

/* Whether this iteration has used its budget (for work handed out in
 * bulk, such as a pool's kick: it stops, and goes on next iteration). */
int amy__turns_over_budget(struct ev_loop *loop);

/* t no longer waits (its connection was driven, parked or closed). */
static inline void amy__turns_leave(amy__turn *t)
{
    if (amy__link_linked(&t->link))
        amy__list_remove(&t->link);
}

#endif
