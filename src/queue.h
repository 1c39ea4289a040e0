/* A FIFO of futures waiting to be sent (a pool's, a pinned connection's,
 * the KILL channel's), linked through the futures themselves. Internal. */
#ifndef AMY_QUEUE_H
#define AMY_QUEUE_H

#include <stddef.h>

#include "future.h"
#include "list.h"

typedef struct amy__queue {
    amy__link list;
    size_t len;
} amy__queue;

static inline void amy__queue_init(amy__queue *q)
{
    amy__list_init(&q->list);
    q->len = 0;
}

/* The oldest future, or NULL. */
static inline amy_future *amy__queue_head(const amy__queue *q)
{
    amy__link *l = amy__list_first(&q->list);
    return l ? AMY__CONTAINER(l, amy_future, qlink) : NULL;
}

static inline void amy__queue_push(amy__queue *q, amy_future *f)
{
    f->where = AMY__W_QUEUED;
    f->queue = q;
    amy__list_push_back(&q->list, &f->qlink);
    q->len++;
}

/* At the head: a query given back by its connection. */
static inline void amy__queue_push_front(amy__queue *q, amy_future *f)
{
    f->where = AMY__W_QUEUED;
    f->queue = q;
    amy__list_push_front(&q->list, &f->qlink);
    q->len++;
}

static inline void amy__queue_remove(amy_future *f)
{
    amy__list_remove(&f->qlink);
    f->queue->len--;
    f->queue = NULL;
    f->where = AMY__W_NONE;
}

/* Fails every future of q with the same error, onto done. */
static inline void amy__queue_fail(amy__queue *q, int status, unsigned err,
                                   const char *sqlstate, const char *msg,
                                   amy__donelist *done)
{
    amy_future *f;
    while ((f = amy__queue_head(q))) {
        amy__queue_remove(f);
        amy__future_set_error(f, status, err, sqlstate, msg);
        amy__donelist_settle(done, f, NULL);
    }
}

#endif
