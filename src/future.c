/*
 * Futures.
 *
 * A future is PENDING until resolved exactly once, to AMY_OK or an error.
 * Resolution unlinks each callback node before calling it, so a callback may
 * free any future (including its own, or a gather whose nodes sit in this
 * future's list) without breaking the walk.
 *
 * Freeing is deferred while the future is "busy": while its callbacks run,
 * while amy_future_wait runs the loop for it, while it waits on a
 * connection's done list, and while its callbacks are due from the loop.
 * amy_future_free only marks it; the last release frees it.
 *
 * No callback runs inside the user's call that makes it due (libuv's rule:
 * code that clears its own flag after the call sees the callback after
 * it): amy_future_then on a resolved future and amy_future_cancel leave
 * the callbacks to the loop (notify_soon). Three calls run them inside,
 * on purpose, and say so in the header: amy_future_wait (it runs the
 * loop), amy_future_free (the memory must go now: a program that frees
 * its futures and then never runs the loop again must not leak them) and
 * amy_pool_free.
 *
 * What a future's owner must do when it is abandoned, settles or is freed
 * comes through its hooks (f->fops), so this file knows no pool.
 *
 * Every public function first checks that its future is live (not freed:
 * amy__future_live), and a freed future keeps a dead magic word (src/debug.c
 * says what each build does with a stale one). Callbacks run inside a
 * callback frame (amy__cb_enter), which amy_future_wait consults.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "future.h"
#include "list.h"
#include "result.h"

typedef struct amy__gather amy__gather;

/* Gather's node on one child: where in the batch that child stands. */
typedef struct amy__gnode {
    amy__cbnode node;
    amy__gather *g;
    size_t index;
} amy__gnode;

struct amy__gather {
    amy_future base;
    size_t n, remaining, nfailed;
    size_t first;     /* index of the first failed child, n if none */
    int first_status; /* that child's status, errno, sqlstate and text */
    unsigned first_errno;
    char first_sqlstate[6];
    char *first_error;
    amy__gnode nodes[];
};

static void destroy(amy_future *f);
static void abandon(amy_future *f, int status, const char *msg, int now);

static void cb_append(amy_future *f, amy__cbnode *n)
{
    amy__list_push_back(&f->cbs, &n->link);
}

void amy__future_init(amy_future *f, struct ev_loop *loop)
{
    f->status = AMY_PENDING;
    f->magic = AMY__FUTURE_LIVE;
    f->loop = loop;
    amy__list_init(&f->cbs);
    memcpy(f->sqlstate, "00000", 6);
}

amy_future *amy__future_new_query(struct ev_loop *loop, const char *sql,
                                  size_t len)
{
    return amy__future_new(loop, sql, len, NULL, 0, 0, 0);
}

static int has_bytes(const amy_value *v)
{
    return v->type == AMY_TYPE_TEXT || v->type == AMY_TYPE_BLOB;
}

amy_future *amy__future_new(struct ev_loop *loop, const char *sql, size_t len,
                            const amy_value *params, size_t n, size_t extra,
                            int obs)
{
    /* One allocation per query: the future, its observer's record (a pool
     * with an observer), its parameters or its op's data, their bytes and
     * the SQL text (the values first, for their alignment). */
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (has_bytes(&params[i])) {
            if (params[i].v.bytes.len > SIZE_MAX / 2 - bytes)
                return NULL;
            bytes += params[i].v.bytes.len;
        }
    }
    if (n > UINT32_MAX || len > SIZE_MAX / 4 || bytes > SIZE_MAX / 4 ||
        extra > SIZE_MAX / 4)
        return NULL;
    /* The op's data keeps the alignment of what follows the future. */
    extra =
        (extra + sizeof(amy_value) - 1) / sizeof(amy_value) * sizeof(amy_value);
    size_t rec = obs ? (sizeof(amy__qobs) + sizeof(amy_value) - 1) /
                           sizeof(amy_value) * sizeof(amy_value)
                     : 0;
    size_t total = sizeof(amy_future) + rec + n * sizeof(amy_value) + extra +
                   bytes + len + 1;
    amy_future *f = malloc(total);
    if (!f)
        return NULL;
    memset(f, 0, sizeof *f);
    amy__future_init(f, loop);
    char *p = (char *)(f + 1);
    if (obs) {
        f->obs = (amy__qobs *)(void *)p;
        memset(f->obs, 0, sizeof *f->obs);
        f->obs->f = f;
        f->obs_inline = 1;
        p += rec;
    }
    if (extra && !n) {
        f->data = p;
        memset(p, 0, extra);
        p += extra;
    }
    if (n) {
        f->params = (amy_value *)(void *)p;
        f->nparams = (uint32_t)n;
        memcpy(f->params, params, n * sizeof(amy_value));
        p += n * sizeof(amy_value);
        for (size_t i = 0; i < n; i++) {
            amy_value *v = &f->params[i];
            if (!has_bytes(v))
                continue;
            if (v->v.bytes.len)
                memcpy(p, v->v.bytes.ptr, v->v.bytes.len);
            v->v.bytes.ptr = p;
            p += v->v.bytes.len;
        }
    }
    f->sql = p;
    f->sql_len = len;
    if (len)
        memcpy(f->sql, sql, len);
    f->sql[len] = '\0';
    return f;
}

void amy__future_set_error(amy_future *f, int status, unsigned server_errno,
                           const char *sqlstate, const char *msg)
{
    f->status = status;
    f->server_errno = server_errno;
    if (sqlstate && strlen(sqlstate) == 5)
        memcpy(f->sqlstate, sqlstate, 6);
    else
        memcpy(f->sqlstate, "HY000", 6);
    free(f->error);
    /* On ENOMEM the generic text stands in for the message. */
    f->error = strdup(msg ? msg : amy_strerror(status));
}

void amy__future_hold(amy_future *f)
{
    f->busy++;
}

void amy__future_release(amy_future *f)
{
    if (--f->busy == 0 && f->free_pending)
        destroy(f);
}

void amy__future_settle(amy_future *f, amy_result *r)
{
    /* A failed multi-statement query keeps the result sets of the
     * statements before the failing one. */
    if (f->status == AMY_PENDING)
        f->status = AMY_OK;
    if (f->status == AMY_OK || f->status == AMY_ESERVER)
        f->result = r;
    else
        amy__result_free(r);
    if (ev_is_active(&f->deadline))
        ev_timer_stop(f->loop, &f->deadline);
    if (f->fops && f->fops->settled)
        f->fops->settled(f);
}

void amy__future_resolve(amy_future *f, amy_result *r)
{
    amy__future_settle(f, r);
    amy__future_notify(f);
}

void amy__donelist_settle(amy__donelist *l, amy_future *f, amy_result *r)
{
    amy__future_settle(f, r);
    amy__future_hold(f);
    amy__list_push_back(&l->list, &f->qlink);
}

void amy__donelist_notify(amy__donelist *l)
{
    amy__link *n;
    while ((n = amy__list_first(&l->list))) {
        amy_future *f = AMY__CONTAINER(n, amy_future, qlink);
        amy__list_remove(n);
        amy__future_notify(f);
        amy__future_release(f);
    }
}

void amy__future_notify(amy_future *f)
{
    /* It may have resolved before the loop polls (in a prepare watcher):
     * make the waiting ev_run return instead of blocking in the poll. */
    if (f->waited && f->loop)
        ev_break(f->loop, EVBREAK_ONE);
    f->busy++;
    if (f->obs && f->fops && f->fops->notified)
        f->fops->notified(f); /* query_end, before the callbacks */
    f->notifying = 1;         /* a callback added now joins this walk */
    amy__cbframe fr;
    amy__cb_enter(&fr, f, f->pool, 0);
    amy__link *l;
    while ((l = amy__list_first(&f->cbs))) {
        amy__cbnode *n = AMY__CONTAINER(l, amy__cbnode, link);
        /* Read everything from n before the call: the call may free it. */
        unsigned char heap = n->heap;
        amy_callback cb = n->cb;
        void *arg = n->arg;
        amy__list_remove(l);
        cb(f, arg);
        if (heap)
            free(n);
    }
    f->notifying = 0;
    amy__cb_leave(&fr);
    amy__future_release(f);
}

/* The zero-delay timer of notify_soon: the callbacks due, then the hold
 * notify_soon took (which may free f). */
static void soon_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy_future *f = w->data;
    amy__future_notify(f);
    amy__future_release(f);
}

void amy__future_notify_soon(amy_future *f)
{
    if (!f->loop) {
        amy__future_notify(f);
        return;
    }
    /* Settled, so the deadline timer is free; active means already due. */
    if (f->notifying || ev_is_active(&f->deadline))
        return;
    ev_timer_init(&f->deadline, soon_cb, 0., 0.);
    f->deadline.data = f;
    amy__future_hold(f);
    ev_timer_start(f->loop, &f->deadline);
}

/* Callbacks due from the loop run now instead (amy_future_free). */
static void notify_due_now(amy_future *f)
{
    /* A settled future's active timer can only be soon_cb's: settle
     * stops the deadline. */
    if (f->status == AMY_PENDING || !f->loop || !ev_is_active(&f->deadline))
        return;
    ev_timer_stop(f->loop, &f->deadline);
    amy__future_notify(f);
    amy__future_release(f);
}

void amy__future_fail(amy_future *f, int status, unsigned server_errno,
                      const char *sqlstate, const char *msg)
{
    amy__future_set_error(f, status, server_errno, sqlstate, msg);
    amy__future_resolve(f, NULL);
}

amy_future *amy__future_failed(struct ev_loop *loop, int status,
                               const char *msg)
{
    amy_future *f = amy__future_new_query(loop, "", 0);
    if (f)
        amy__future_fail(f, status, 0, NULL, msg);
    return f;
}

int amy_future_then(amy_future *f, amy_callback cb, void *arg)
{
    if (!amy__future_live(f, __func__) || !cb || f->free_pending)
        return AMY_EINVAL;
    amy__cbnode *n = &f->cb0;
    if (n->cb) {
        n = calloc(1, sizeof *n);
        if (!n)
            return AMY_ENOMEM;
        n->heap = 1;
    }
    n->cb = cb;
    n->arg = arg;
    cb_append(f, n);
    if (f->status != AMY_PENDING)
        amy__future_notify_soon(f); /* never inside this call */
    return AMY_OK;
}

int amy_future_wait(amy_future *f)
{
    if (!amy__future_live(f, __func__))
        return AMY_EINVAL;
    /* A nested run of the loop inside on_row would read the stream's
     * connection under its own row; and a future whose callbacks run has
     * resolved: waiting for it there is a mistake of the caller's logic. */
    if (amy__cbtop && amy__cb_in_row()) {
        amy__misuse(__func__, "called inside a stream's on_row callback");
        return AMY_EINVAL;
    }
    if (amy__cbtop && amy__cb_of_future(f)) {
        amy__misuse(__func__, "future %p: called inside its own callbacks",
                    (void *)f);
        return AMY_EINVAL;
    }
    amy__future_hold(f);
    f->waited++;
    while (f->status == AMY_PENDING) {
        /* A pending future always has a watcher behind it; if the loop has
         * none left, waiting longer would hang, so fail it instead. */
        if (!ev_run(f->loop, EVRUN_ONCE) && f->status == AMY_PENDING)
            abandon(f, AMY_ECLIENT,
                    "the loop has no active watchers: "
                    "the future cannot resolve",
                    1);
    }
    f->waited--;
    int st = f->status;
    amy__future_release(f);
    return st;
}

int amy_future_status(const amy_future *f)
{
    return amy__future_live(f, __func__) ? f->status : AMY_EINVAL;
}

const amy_result *amy_future_result(const amy_future *f)
{
    return amy__future_live(f, __func__) &&
                   (f->status == AMY_OK || f->status == AMY_ESERVER)
               ? f->result
               : NULL;
}

const char *amy_future_error(const amy_future *f)
{
    if (!amy__future_live(f, __func__) || f->status == AMY_OK ||
        f->status == AMY_PENDING)
        return NULL;
    return f->error ? f->error : amy_strerror(f->status);
}

unsigned amy_future_server_errno(const amy_future *f)
{
    return amy__future_live(f, __func__) && f->status < 0 ? f->server_errno : 0;
}

const char *amy_future_sqlstate(const amy_future *f)
{
    if (!amy__future_live(f, __func__))
        return NULL;
    return f->status < 0 ? f->sqlstate : "00000";
}

size_t amy_future_describe(const amy_future *f, char *buf, size_t len)
{
    char dummy[1];
    if (!buf || len == 0) {
        buf = dummy; /* snprintf may not take NULL with a size of 1 */
        len = 0;
    }
    int n;
    if (!f)
        n = snprintf(buf, len, "NULL future");
    else if (!amy__future_live(f, __func__))
        n = snprintf(buf, len, "freed future");
    else if (f->status >= 0)
        n = snprintf(buf, len, "%s", amy_status_name(f->status));
    else if (f->server_errno)
        n = snprintf(buf, len, "%s %u (%s): %s", amy_status_name(f->status),
                     f->server_errno, amy_future_sqlstate(f),
                     amy_future_error(f));
    else
        n = snprintf(buf, len, "%s (%s): %s", amy_status_name(f->status),
                     amy_future_sqlstate(f), amy_future_error(f));
    return n < 0 ? 0 : (size_t)n;
}

/* Resolves a pending future from outside its normal path: first it leaves
 * whatever would resolve it later (the pool's queue or in-flight slot, or
 * for a gather its children), so nothing can touch it again. Its callbacks
 * run now, or (a user's cancel) from the loop. A group's detach cancels its
 * children, whose callbacks (amy_future_free runs them at once) may cancel
 * or free f: f is held meanwhile, and resolved here only if they did not
 * resolve it. */
static void abandon(amy_future *f, int status, const char *msg, int now)
{
    amy__future_hold(f);
    if (f->fops && f->fops->detach)
        f->fops->detach(f);
    if (f->status == AMY_PENDING) {
        amy__future_set_error(f, status, 0,
                              status == AMY_ETIMEDOUT ? "HYT00" : NULL, msg);
        amy__future_settle(f, NULL);
        if (now)
            amy__future_notify(f);
        else
            amy__future_notify_soon(f);
    }
    amy__future_release(f);
}

int amy_future_cancel(amy_future *f)
{
    if (!amy__future_live(f, __func__))
        return AMY_EINVAL;
    if (f->status != AMY_PENDING)
        return 0;
    abandon(f, AMY_ECANCELED, NULL, 0);
    return 1;
}

/* A query's deadline: it resolves AMY_ETIMEDOUT, leaving its queue or
 * slot (the connection kills it on the server). */
static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy_future *f = w->data;
    char msg[768];
    int n =
        snprintf(msg, sizeof msg, "query timed out after %u ms", f->timeout_ms);
    /* Before it leaves its owner, which can still say why it waited. */
    if (f->fops && f->fops->why_late && n > 0 && (size_t)n < sizeof msg)
        f->fops->why_late(f, msg + n, sizeof msg - (size_t)n);
    abandon(f, AMY_ETIMEDOUT, msg, 1); /* from the loop already */
}

int amy_future_set_timeout(amy_future *f, unsigned timeout_ms)
{
    if (!amy__future_live(f, __func__) || f->status != AMY_PENDING ||
        !f->fops || !f->fops->timeouts)
        return AMY_EINVAL;
    if (ev_is_active(&f->deadline))
        ev_timer_stop(f->loop, &f->deadline);
    f->timeout_ms = timeout_ms;
    if (timeout_ms) {
        /* The loop's cached time is stale if the caller has not run it for
         * a while (blocking work, other clients): the deadline would be
         * short by that much. */
        ev_now_update(f->loop);
        ev_timer_init(&f->deadline, deadline_cb, timeout_ms / 1000.0, 0.);
        f->deadline.data = f;
        ev_timer_start(f->loop, &f->deadline);
    }
    return AMY_OK;
}

void amy_future_free(amy_future *f)
{
    if (!amy__future_live(f, __func__))
        return; /* NULL, or freed and gone: a double free */
    if (f->free_pending) {
        amy__misuse(__func__, "future %p was freed twice", (void *)f);
        return;
    }
    f->free_pending = 1;
    if (f->status == AMY_PENDING) {
        abandon(f, AMY_ECANCELED, NULL, 1); /* frees f after its callbacks */
        return;
    }
    amy__future_hold(f);
    notify_due_now(f);
    amy__future_release(f); /* frees f unless something else holds it */
}

static void destroy(amy_future *f)
{
    if (f->loop && ev_is_active(&f->deadline))
        ev_timer_stop(f->loop, &f->deadline);
    if (f->fops && f->fops->destroy)
        f->fops->destroy(f);
    /* Callbacks still registered never run once the future is gone. */
    amy__link *l;
    while ((l = amy__list_first(&f->cbs))) {
        amy__cbnode *n = AMY__CONTAINER(l, amy__cbnode, link);
        amy__list_remove(l);
        if (n->heap)
            free(n);
    }
    if (f->obs) {
        amy__list_remove(&f->obs->live);
        amy__list_remove(&f->obs->due);
        if (!f->obs_inline)
            free(f->obs);
    }
    amy__result_free(f->result);
    free(f->error);
    amy__bury(f, offsetof(amy_future, magic), sizeof f->magic,
              AMY__FUTURE_DEAD);
}

int amy_future_set_tag(amy_future *f, void *tag)
{
    if (!amy__future_live(f, __func__))
        return AMY_EINVAL;
    if (!f->obs && !(f->obs = calloc(1, sizeof *f->obs)))
        return AMY_ENOMEM;
    f->obs->f = f;
    f->obs->tag = tag;
    return AMY_OK;
}

void *amy_future_tag(const amy_future *f)
{
    return amy__future_live(f, __func__) && f->obs ? f->obs->tag : NULL;
}

/* ------------------------------------------------------------------------ */
/* Gather                                                                   */
/* ------------------------------------------------------------------------ */

static void gather_finish(amy__gather *g)
{
    if (g->nfailed == 0) {
        amy__future_resolve(&g->base, NULL);
        return;
    }
    char msg[512];
    snprintf(msg, sizeof msg,
             "%zu of %zu gathered futures failed; first #%zu: %s", g->nfailed,
             g->n, g->first,
             g->first_error ? g->first_error : amy_strerror(g->first_status));
    amy__future_fail(&g->base, AMY_EGATHER, g->first_errno, g->first_sqlstate,
                     msg);
}

/* Records child i's outcome; returns 1 when it was the last one. */
static int gather_count(amy__gather *g, amy_future *child, size_t i)
{
    if (child->status != AMY_OK) {
        g->nfailed++;
        if (i < g->first) {
            g->first = i;
            g->first_status = child->status;
            g->first_errno = child->server_errno;
            memcpy(g->first_sqlstate, child->sqlstate, 6);
            free(g->first_error);
            g->first_error = child->error ? strdup(child->error) : NULL;
        }
    }
    return --g->remaining == 0;
}

static void gather_on_child(amy_future *child, void *arg)
{
    amy__gnode *gn = arg;
    amy__gather *g = gn->g;
    if (gather_count(g, child, gn->index))
        gather_finish(g);
}

/* A gather leaves its children's callback lists when abandoned or freed. */
static void gather_detach(amy_future *f)
{
    amy__gather *g = (amy__gather *)f;
    for (size_t i = 0; i < g->n; i++)
        amy__list_remove(&g->nodes[i].node.link);
}

static void gather_destroy(amy_future *f)
{
    gather_detach(f);
    free(((amy__gather *)f)->first_error);
}

static const amy__fops gather_fops = {
    .detach = gather_detach,
    .destroy = gather_destroy,
};

amy_future *amy_gather(amy_future *const *futures, size_t n)
{
    if (n && !futures)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!amy__future_live(futures[i], __func__) || futures[i]->free_pending)
            return NULL;
    if (n > (SIZE_MAX - sizeof(amy__gather)) / sizeof(amy__gnode))
        return NULL;
    amy__gather *g = calloc(1, sizeof *g + n * sizeof(amy__gnode));
    if (!g)
        return NULL;
    amy__future_init(&g->base, NULL);
    g->base.fops = &gather_fops;
    g->n = n;
    g->remaining = n;
    g->first = n;
    for (size_t i = 0; i < n; i++) {
        amy_future *c = futures[i];
        if (!g->base.loop)
            g->base.loop = c->loop;
        amy__gnode *gn = &g->nodes[i];
        gn->g = g;
        gn->index = i;
        gn->node.cb = gather_on_child;
        gn->node.arg = gn;
        if (c->status == AMY_PENDING)
            cb_append(c, &gn->node);
        else
            gather_count(g, c, i);
    }
    if (g->remaining == 0)
        gather_finish(g); /* no callbacks yet: this only sets the status */
    return &g->base;
}
