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
 * The FIFO and its two watchers belong to an owner with the loop's
 * lifetime or shorter (a pool: amy__conn_cfg.turns): a per-thread one
 * outlived its loop, and a later loop at the same address then had no
 * watcher serving it (a connection waited for ever).
 */
#ifndef AMY_TURNS_H
#define AMY_TURNS_H

#include <ev.h>

#include "list.h"

typedef struct amy__turn {
    amy__link link;                  /* in the FIFO while waiting */
    void (*run)(struct amy__turn *); /* its turn came */
} amy__turn;

/* One FIFO of turns on one loop. */
typedef struct amy__turns {
    struct ev_loop *loop;
    amy__link fifo;
    ev_check serve; /* right after a poll: the waiting ones' turn */
    ev_idle awake;  /* while any waits, the poll does not block */
} amy__turns;

/* Sets ts up on loop (its check watcher, which alone does not keep ev_run
 * going). */
void amy__turns_init(amy__turns *ts, struct ev_loop *loop);

/* Stops ts's watchers; whatever still waits is forgotten (its owner is
 * going: call it after closing the connections). */
void amy__turns_stop(amy__turns *ts);

/* Whether t must wait its turn in ts (then it is queued, and run later),
 * or may read now. ts NULL: no turns, read now. */
int amy__turns_wait(amy__turns *ts, amy__turn *t);

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
