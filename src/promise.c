/*
 * Promises: futures the caller resolves (amy_promise_new), so that work of
 * its own joins amysql's futures in a gather, a chain of callbacks or a
 * wait, as asyncio's Future.set_result does.
 *
 * Resolving one never runs a callback inside the call (libuv's rule: a
 * call that starts work never calls back before it returns). The outcome
 * is fixed at once (amy_future_status reads it), and the callbacks run
 * from the loop (amy__future_notify_soon: a zero-delay timer, which also
 * keeps the loop's next poll from blocking). Freeing it meanwhile runs
 * them at once, as freeing any future does.
 *
 * Canceling, a deadline and freeing a pending promise behave as for any
 * future: it resolves AMY_ECANCELED or AMY_ETIMEDOUT.
 */
#include <stdlib.h>
#include <string.h>

#include "future.h"
#include "result.h"

static const amy__fops promise_fops = {
    .timeouts = 1,
};

amy_future *amy_promise_new(struct ev_loop *loop)
{
    if (!loop)
        return NULL;
    amy_future *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    amy__future_init(f, loop);
    f->fops = &promise_fops;
    return f;
}

static int settle_later(amy_future *f, amy_result *r)
{
    amy__future_settle(f, r);
    amy__future_notify_soon(f);
    return AMY_OK;
}

static int pending_promise(const amy_future *f, const char *call)
{
    return amy__future_live(f, call) && f->fops == &promise_fops &&
           f->status == AMY_PENDING && !f->free_pending;
}

int amy_promise_resolve(amy_future *f)
{
    if (!pending_promise(f, __func__))
        return AMY_EINVAL;
    amy_result *r = amy__result_ok(0, 0);
    if (!r)
        return AMY_ENOMEM;
    return settle_later(f, r);
}

int amy_promise_fail(amy_future *f, int status, const char *msg)
{
    if (!pending_promise(f, __func__) || status >= 0 ||
        !strcmp(amy_status_name(status), "AMY_UNKNOWN"))
        return AMY_EINVAL;
    amy__future_set_error(f, status, 0,
                          status == AMY_ETIMEDOUT ? "HYT00" : NULL, msg);
    return settle_later(f, NULL);
}

int amy_promise_fail_from(amy_future *f, const amy_future *from)
{
    if (!pending_promise(f, __func__) || !amy__future_live(from, __func__) ||
        from == f || from->status >= 0)
        return AMY_EINVAL;
    amy__future_set_error(f, from->status, from->server_errno, from->sqlstate,
                          amy_future_error(from));
    return settle_later(f, NULL);
}
