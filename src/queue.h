/* A FIFO of futures waiting to be sent (the pool's, or a pinned
 * connection's), linked through the futures themselves. Internal. */
#ifndef AMY_QUEUE_H
#define AMY_QUEUE_H

#include <stddef.h>

#include "future.h"

typedef struct amy__queue {
    amy_future *head, *tail;
    size_t len;
} amy__queue;

static inline void amy__queue_push(amy__queue *q, amy_future *f)
{
    f->where = AMY__W_QUEUED;
    f->queue = q;
    f->qnext = NULL;
    f->qprev = q->tail;
    if (q->tail)
        q->tail->qnext = f;
    else
        q->head = f;
    q->tail = f;
    q->len++;
}

/* At the head: a query re-sent after its connection lost it. */
static inline void amy__queue_push_front(amy__queue *q, amy_future *f)
{
    f->where = AMY__W_QUEUED;
    f->queue = q;
    f->qprev = NULL;
    f->qnext = q->head;
    if (q->head)
        q->head->qprev = f;
    else
        q->tail = f;
    q->head = f;
    q->len++;
}

static inline void amy__queue_remove(amy_future *f)
{
    amy__queue *q = f->queue;
    if (f->qprev)
        f->qprev->qnext = f->qnext;
    else
        q->head = f->qnext;
    if (f->qnext)
        f->qnext->qprev = f->qprev;
    else
        q->tail = f->qprev;
    f->qnext = f->qprev = NULL;
    f->queue = NULL;
    f->where = AMY__W_NONE;
    q->len--;
}

#endif
