/*
 * Promises: futures the caller resolves (amy_promise_new), so that work of
 * its own joins amysql's futures in a gather, a chain of callbacks or a
 * wait, as asyncio's Future.set_result does.
 *
 * Resolving one never runs a callback inside the call (libuv's rule: a
 * call that starts work never calls back before it returns). The outcome
 * is fixed at once (amy_future_status reads it), and the callbacks run
 * from the loop: a zero-delay timer, which also keeps the loop's next poll
 * from blocking. The future is held until then, so freeing it meanwhile
 * is safe (it goes once its callbacks have run, as for a query's).
 *
 * Canceling, a deadline and freeing a pending promise behave as for any
 * future: it resolves AMY_ECANCELED or AMY_ETIMEDOUT, callbacks at once.
 */
#include <stdlib.h>
#include <string.h>

#include "future.h"
#include "result.h"

typedef struct amy__promise {
    amy_future base; /* first: the future is the promise */
    ev_timer soon;   /* runs the callbacks of a resolved promise */
} amy__promise;

static void soon_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy_future *f = w->data;
    amy__future_notify(f);
    amy__future_release(f); /* may free it */
}

static void promise_destroy(amy_future *f)
{
    amy__promise *p = (amy__promise *)f;
    if (ev_is_active(&p->soon))
        ev_timer_stop(f->loop, &p->soon);
}

static const amy__fops promise_fops = {
    .destroy = promise_destroy,
    .timeouts = 1,
};

amy_future *amy_promise_new(struct ev_loop *loop)
{
    if (!loop)
        return NULL;
    amy__promise *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    amy__future_init(&p->base, loop);
    p->base.fops = &promise_fops;
    ev_timer_init(&p->soon, soon_cb, 0., 0.);
    p->soon.data = &p->base;
    return &p->base;
}

static int settle_later(amy_future *f, amy_result *r)
{
    amy__promise *p = (amy__promise *)f;
    amy__future_settle(f, r);
    amy__future_hold(f); /* until its callbacks have run */
    ev_timer_start(f->loop, &p->soon);
    return AMY_OK;
}

static int pending_promise(const amy_future *f)
{
    return f && f->fops == &promise_fops && f->status == AMY_PENDING &&
           !f->free_pending;
}

int amy_promise_resolve(amy_future *f)
{
    if (!pending_promise(f))
        return AMY_EINVAL;
    amy_result *r = amy__result_ok(0, 0);
    if (!r)
        return AMY_ENOMEM;
    return settle_later(f, r);
}

int amy_promise_fail(amy_future *f, int status, const char *msg)
{
    if (!pending_promise(f) || status >= 0 ||
        !strcmp(amy_status_name(status), "AMY_UNKNOWN"))
        return AMY_EINVAL;
    amy__future_set_error(f, status, 0,
                          status == AMY_ETIMEDOUT ? "HYT00" : NULL, msg);
    return settle_later(f, NULL);
}
