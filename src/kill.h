/* The KILL QUERY channel: one connection of its own. Internal. */
#ifndef AMY_KILL_H
#define AMY_KILL_H

#include <ev.h>

#include "conn.h"

typedef struct amy__killer amy__killer;

/*
 * A channel to cfg's server that sends KILL QUERY: one connection, opened
 * on first need, no pipelining (a KILL must not wait behind a slow query).
 * cfg must outlive it. NULL on ENOMEM.
 */
amy__killer *amy__killer_new(struct ev_loop *loop, const amy__conn_cfg *cfg);

/*
 * Queues KILL QUERY thread_id; done(arg, tag) runs once it completed,
 * whatever the outcome (also at amy__killer_free). Returns 0, or -1 on
 * ENOMEM (done never runs).
 */
int amy__killer_kill(amy__killer *k, unsigned long thread_id,
                     void (*done)(void *arg, unsigned long tag), void *arg,
                     unsigned long tag);

/* Closes the channel; pending kills complete (their done runs). k may be
 * NULL. */
void amy__killer_free(amy__killer *k);

#endif
