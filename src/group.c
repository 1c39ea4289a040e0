/*
 * Futures made of other futures: groups (amy_all, amy_any, amy_race, the
 * task group of amy_group_new) and dependent chains (amy_chain).
 *
 * A group hangs one node (amy__gkid) on each child's callback list, as a
 * gather does, and counts the children as they resolve. It resolves when
 * its kind decides (the first failure, the first success, the first to
 * resolve, or the last child), or from outside: amy_future_cancel, its
 * deadline, amy_future_free. Either way it first takes its nodes out of the
 * children still pending, so no later resolution can reach it; with
 * AMY_GROUP_CANCEL it then cancels those children. A child's callbacks may
 * run inside that cancel and do anything (free the group, cancel it, free
 * other children): each such child is held until canceled, the group is
 * held by whoever resolves it (abandon in future.c, or decide here), and a
 * group that is resolving takes no new children and counts no more.
 *
 * A group's status is fixed before its children are canceled, and they
 * before its callbacks run: whatever their own callbacks do and whenever
 * they run (at once, or later from the loop), every child a group canceled
 * reads AMY_ECANCELED inside the group's callbacks.
 *
 * A chain owns the future it waits on. When that future succeeds and the
 * step has not run, the step returns the next future, which the chain
 * takes; the previous one is freed. When the last one resolves, or any
 * fails, the chain takes its outcome (status, error, result) and frees it.
 *
 * Nothing here calls back inside the call that starts it (libuv's rule): a
 * task group that amy_group_add or amy_group_close completes, or a chain
 * whose first future had already resolved, goes on from a zero-delay timer.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "future.h"
#include "result.h"

enum { G_ALL, G_ANY, G_RACE };

typedef struct amy__group amy__group;

/* A group's node on one child. */
typedef struct amy__gkid {
    amy__cbnode node; /* in the child's callbacks while the group waits */
    amy__group *g;
    amy_future *child;
    size_t index;
    unsigned char ready; /* added resolved: counted from the loop */
    unsigned char held;  /* held until the group has canceled it */
} amy__gkid;

struct amy__group {
    amy_future base;
    unsigned char kind;  /* G_ALL, G_ANY, G_RACE */
    unsigned char flags; /* AMY_GROUP_CANCEL, AMY_GROUP_SETTLED */
    unsigned char owns;  /* a task group: frees its children */
    unsigned char open;  /* a task group not closed: more may come */
    unsigned char done;  /* resolving or resolved: counts no more */
    size_t n, remaining, cap;
    long index; /* the child that decided, -1 if none */
    /* amy_any's first failure, copied: the child may be freed meanwhile. */
    long first;
    int first_status;
    unsigned first_errno;
    char first_sqlstate[6];
    char *first_error;
    amy_child_callback on_child;
    void *on_child_arg;
    ev_timer soon;     /* counts a task group's children added resolved */
    amy__gkid **kids;  /* a task group's nodes, each its own allocation:
                          a linked node never moves */
    amy__gkid nodes[]; /* the others' nodes */
};

static void group_detach(amy_future *f);
static void group_destroy(amy_future *f);

static const amy__fops group_fops = {
    .detach = group_detach,
    .destroy = group_destroy,
    .timeouts = 1,
};

static amy__group *as_group(const amy_future *f)
{
    return f && f->fops == &group_fops ? (amy__group *)(void *)f : NULL;
}

static amy__gkid *kid(const amy__group *g, size_t i)
{
    return g->owns ? g->kids[i] : (amy__gkid *)&g->nodes[i];
}

/* Takes the group's nodes out of the children it still waits on and, with
 * AMY_GROUP_CANCEL, holds those children for cancel_held. */
static void unhook(amy__group *g)
{
    g->done = 1;
    for (size_t i = 0; i < g->n; i++) {
        amy__gkid *k = kid(g, i);
        k->ready = 0;
        if (!amy__link_linked(&k->node.link))
            continue;
        amy__list_remove(&k->node.link);
        if (g->flags & AMY_GROUP_CANCEL) {
            amy__future_hold(k->child);
            k->held = 1;
        }
    }
}

/* Cancels the children unhook held. Their callbacks may run meanwhile and
 * come back here (freeing the group again): `held` is cleared first, so
 * each is canceled and released once. */
static void cancel_held(amy__group *g)
{
    for (size_t i = 0; i < g->n; i++) {
        amy__gkid *k = kid(g, i);
        if (!k->held)
            continue;
        k->held = 0;
        amy_future_cancel(k->child);
        amy__future_release(k->child);
    }
}

static void soon_start(amy__group *g)
{
    if (!ev_is_active(&g->soon))
        ev_timer_start(g->base.loop, &g->soon);
}

/* Resolves the group with the status already set on it (AMY_OK if none),
 * index the child that decided. later: called from the user's call, so
 * the callbacks run from the loop. */
static void decide(amy__group *g, long index, int later)
{
    amy_future *f = &g->base;
    amy__future_hold(f);
    g->index = index;
    unhook(g);
    amy__future_settle(f, NULL);
    cancel_held(g);
    if (later)
        amy__future_notify_soon(f);
    else
        amy__future_notify(f);
    amy__future_release(f);
}

static void take_error(amy__group *g, const amy_future *c)
{
    amy__future_set_error(&g->base, c->status, c->server_errno, c->sqlstate,
                          c->error);
}

/* Decides the group when its last child is in (and no more may come). */
static void maybe_finish(amy__group *g, int later)
{
    if (g->done || g->remaining || g->open)
        return;
    if (g->kind == G_ANY && g->first >= 0) {
        amy__future_set_error(&g->base, g->first_status, g->first_errno,
                              g->first_sqlstate, g->first_error);
        decide(g, g->first, later);
        return;
    }
    decide(g, -1, later);
}

/* Child k resolved: what it means for the group. */
static void judge(amy__group *g, amy__gkid *k)
{
    const amy_future *c = k->child;
    int ok = c->status == AMY_OK;
    switch (g->kind) {
    case G_ALL:
        if (!ok && !(g->flags & AMY_GROUP_SETTLED)) {
            take_error(g, c);
            decide(g, (long)k->index, 0);
            return;
        }
        break;
    case G_ANY:
        if (ok) {
            decide(g, (long)k->index, 0);
            return;
        }
        if (g->first < 0) {
            g->first = (long)k->index;
            g->first_status = c->status;
            g->first_errno = c->server_errno;
            memcpy(g->first_sqlstate, c->sqlstate, 6);
            g->first_error = c->error ? strdup(c->error) : NULL;
        }
        break;
    case G_RACE:
        if (!ok)
            take_error(g, c);
        decide(g, (long)k->index, 0);
        return;
    }
    maybe_finish(g, 0);
}

/* Counts child k, resolved, from the loop. */
static void count(amy__group *g, amy__gkid *k)
{
    amy_future *f = &g->base;
    g->remaining--;
    amy__future_hold(f);
    if (g->on_child)
        g->on_child(f, k->child, k->index, g->on_child_arg);
    /* on_child may have canceled or freed the group, or added children. */
    if (!g->done)
        judge(g, k);
    amy__future_release(f);
}

static void kid_done(amy_future *child, void *arg)
{
    amy__gkid *k = arg;
    count(k->g, k);
}

static void group_soon(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy__group *g = w->data;
    amy_future *f = &g->base;
    amy__future_hold(f);
    /* Children added while this runs are counted too (n is read again). */
    for (size_t i = 0; i < g->n && !g->done; i++) {
        amy__gkid *k = kid(g, i);
        if (k->ready) {
            k->ready = 0;
            count(g, k);
        }
    }
    amy__future_release(f);
}

/* Canceled, timed out or freed while pending. */
static void group_detach(amy_future *f)
{
    amy__group *g = (amy__group *)(void *)f;
    unhook(g);
    cancel_held(g);
}

static void group_destroy(amy_future *f)
{
    amy__group *g = (amy__group *)(void *)f;
    unhook(g); /* nothing left linked once resolved; kept for safety */
    cancel_held(g);
    if (ev_is_active(&g->soon))
        ev_timer_stop(f->loop, &g->soon);
    if (g->owns) {
        for (size_t i = 0; i < g->n; i++) {
            amy_future_free(g->kids[i]->child);
            free(g->kids[i]);
        }
        free(g->kids);
    }
    free(g->first_error);
}

static void kid_init(amy__group *g, amy__gkid *k, amy_future *c, size_t i)
{
    k->g = g;
    k->child = c;
    k->index = i;
    k->node.cb = kid_done;
    k->node.arg = k;
}

static amy__group *group_alloc(struct ev_loop *loop, size_t n, int kind,
                               unsigned flags)
{
    amy__group *g = calloc(1, sizeof *g + n * sizeof(amy__gkid));
    if (!g)
        return NULL;
    amy__future_init(&g->base, loop);
    g->base.fops = &group_fops;
    g->kind = (unsigned char)kind;
    g->flags = (unsigned char)flags;
    g->index = -1;
    g->first = -1;
    return g;
}

static amy_future *group_of(amy_future *const *fs, size_t n, int kind,
                            unsigned flags)
{
    if ((n && !fs) || (flags & ~(AMY_GROUP_CANCEL | AMY_GROUP_SETTLED)))
        return NULL;
    if ((flags & AMY_GROUP_SETTLED) && kind != G_ALL)
        return NULL;
    if (n > (SIZE_MAX - sizeof(amy__group)) / sizeof(amy__gkid) || n > LONG_MAX)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!amy__future_live(fs[i], kind == G_ALL   ? "amy_all"
                                     : kind == G_ANY ? "amy_any"
                                                     : "amy_race") ||
            fs[i]->free_pending)
            return NULL;
    amy__group *g = group_alloc(NULL, n, kind, flags);
    if (!g)
        return NULL;
    g->n = n;
    g->remaining = n;
    for (size_t i = 0; i < n; i++) {
        amy_future *c = fs[i];
        if (!g->base.loop)
            g->base.loop = c->loop;
        kid_init(g, &g->nodes[i], c, i);
        if (c->status == AMY_PENDING)
            amy__list_push_back(&c->cbs, &g->nodes[i].node.link);
    }
    /* Children resolved already count now, in index order; no callback
     * is registered on the group yet, so deciding only sets its status
     * (and cancels the others, when asked). */
    for (size_t i = 0; i < n && !g->done; i++) {
        if (fs[i]->status != AMY_PENDING) {
            g->remaining--;
            judge(g, &g->nodes[i]);
        }
    }
    maybe_finish(g, 0);
    return &g->base;
}

amy_future *amy_all(amy_future *const *futures, size_t n, unsigned flags)
{
    return group_of(futures, n, G_ALL, flags);
}

amy_future *amy_any(amy_future *const *futures, size_t n, unsigned flags)
{
    return n ? group_of(futures, n, G_ANY, flags) : NULL;
}

amy_future *amy_race(amy_future *const *futures, size_t n, unsigned flags)
{
    return n ? group_of(futures, n, G_RACE, flags) : NULL;
}

amy_future *amy_group_new(struct ev_loop *loop)
{
    if (!loop)
        return NULL;
    amy__group *g = group_alloc(loop, 0, G_ALL, AMY_GROUP_CANCEL);
    if (!g)
        return NULL;
    g->owns = 1;
    g->open = 1;
    ev_timer_init(&g->soon, group_soon, 0., 0.);
    g->soon.data = g;
    return &g->base;
}

static amy__group *task_group(amy_future *f)
{
    amy__group *g = as_group(f);
    return g && g->owns ? g : NULL;
}

int amy_group_add(amy_future *gf, amy_future *child)
{
    if (!amy__future_live(gf, __func__) || !amy__future_live(child, __func__) ||
        child->free_pending || child == gf)
        return AMY_EINVAL;
    amy__group *g = task_group(gf);
    if (!g || gf->status != AMY_PENDING || g->done || !g->open ||
        (child->loop && child->loop != gf->loop) ||
        (!child->loop && child->status == AMY_PENDING) || g->n >= INT_MAX) {
        amy_future_free(child);
        return AMY_EINVAL;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        amy__gkid **kids = realloc(g->kids, cap * sizeof *kids);
        if (!kids) {
            amy_future_free(child);
            return AMY_ENOMEM;
        }
        g->kids = kids;
        g->cap = cap;
    }
    amy__gkid *k = calloc(1, sizeof *k);
    if (!k) {
        amy_future_free(child);
        return AMY_ENOMEM;
    }
    size_t i = g->n++;
    g->kids[i] = k;
    kid_init(g, k, child, i);
    g->remaining++;
    if (child->status == AMY_PENDING) {
        amy__list_push_back(&child->cbs, &k->node.link);
    } else {
        k->ready = 1;
        soon_start(g);
    }
    return (int)i;
}

int amy_group_close(amy_future *gf)
{
    amy__group *g = amy__future_live(gf, __func__) ? task_group(gf) : NULL;
    if (!g)
        return AMY_EINVAL;
    if (g->open) {
        g->open = 0;
        if (gf->status == AMY_PENDING)
            maybe_finish(g, 1);
    }
    return AMY_OK;
}

int amy_group_on_child(amy_future *gf, amy_child_callback cb, void *arg)
{
    amy__group *g = amy__future_live(gf, __func__) ? as_group(gf) : NULL;
    if (!g || gf->free_pending)
        return AMY_EINVAL;
    g->on_child = cb;
    g->on_child_arg = arg;
    return AMY_OK;
}

long amy_group_index(const amy_future *f)
{
    const amy__group *g = amy__future_live(f, __func__) ? as_group(f) : NULL;
    return g && f->status != AMY_PENDING ? g->index : -1;
}

size_t amy_group_size(const amy_future *f)
{
    const amy__group *g = amy__future_live(f, __func__) ? as_group(f) : NULL;
    return g ? g->n : 0;
}

amy_future *amy_group_child(const amy_future *f, size_t i)
{
    const amy__group *g = amy__future_live(f, __func__) ? as_group(f) : NULL;
    return g && i < g->n ? kid(g, i)->child : NULL;
}

/* ------------------------------------------------------------------------ */
/* Chains                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct amy__chain {
    amy_future base;
    amy__cbnode node; /* in cur's callbacks */
    amy_future *cur;  /* the future it waits on, owned; NULL once done */
    amy_step step;
    void *arg;
    unsigned char stepped; /* the step ran: cur is its future */
    ev_timer soon;         /* the first future had resolved already */
} amy__chain;

static void chain_detach(amy_future *f);
static void chain_destroy(amy_future *f);

static const amy__fops chain_fops = {
    .detach = chain_detach,
    .destroy = chain_destroy,
    .timeouts = 1,
};

/* The chain takes c's outcome (its result moved over) and frees it. */
static void chain_finish(amy__chain *ch, amy_future *c)
{
    amy_future *f = &ch->base;
    ch->cur = NULL;
    amy_result *r = NULL;
    if (c->status != AMY_OK)
        amy__future_set_error(f, c->status, c->server_errno, c->sqlstate,
                              c->error);
    if (c->status == AMY_OK || c->status == AMY_ESERVER) {
        r = c->result;
        c->result = NULL;
    }
    amy_future_free(c);
    amy__future_resolve(f, r);
}

/* ch->cur has resolved. */
static void chain_next(amy__chain *ch)
{
    amy_future *f = &ch->base, *cur = ch->cur;
    if (cur->status != AMY_OK || ch->stepped) {
        chain_finish(ch, cur);
        return;
    }
    ch->stepped = 1;
    /* The step may cancel or free the chain, whose detach frees cur. */
    amy__future_hold(f);
    amy__future_hold(cur);
    amy_future *next = ch->step(cur, ch->arg);
    if (f->status != AMY_PENDING) {
        if (next != cur)
            amy_future_free(next);
    } else if (!next) {
        ch->cur = NULL;
        amy_future_free(cur);
        amy__future_fail(f, AMY_ENOMEM, 0, NULL,
                         "the chain's step returned no future");
    } else {
        ch->cur = next;
        if (next != cur)
            amy_future_free(cur);
        if (next->status == AMY_PENDING)
            amy__list_push_back(&next->cbs, &ch->node.link);
        else
            chain_finish(ch, next);
    }
    amy__future_release(cur);
    amy__future_release(f);
}

static void chain_on(amy_future *cur, void *arg)
{
    chain_next(arg);
}

static void chain_soon(struct ev_loop *loop, ev_timer *w, int revents)
{
    amy__chain *ch = w->data;
    if (ch->cur && ch->base.status == AMY_PENDING)
        chain_next(ch);
}

/* Canceled, timed out or freed while pending: so is the step running. */
static void chain_detach(amy_future *f)
{
    amy__chain *ch = (amy__chain *)(void *)f;
    amy__list_remove(&ch->node.link);
    if (ev_is_active(&ch->soon))
        ev_timer_stop(f->loop, &ch->soon);
    amy_future *c = ch->cur;
    ch->cur = NULL;
    amy_future_free(c);
}

static void chain_destroy(amy_future *f)
{
    chain_detach(f); /* nothing left once resolved; kept for safety */
}

amy_future *amy_chain(amy_future *first, amy_step step, void *arg)
{
    if (!amy__future_live(first, __func__) || first->free_pending)
        return NULL;
    amy__chain *ch = step ? calloc(1, sizeof *ch) : NULL;
    if (!ch) {
        amy_future_free(first);
        return NULL;
    }
    amy__future_init(&ch->base, first->loop);
    ch->base.fops = &chain_fops;
    ch->cur = first;
    ch->step = step;
    ch->arg = arg;
    ch->node.cb = chain_on;
    ch->node.arg = ch;
    if (first->status == AMY_PENDING) {
        amy__list_push_back(&first->cbs, &ch->node.link);
    } else if (first->loop) {
        ev_timer_init(&ch->soon, chain_soon, 0., 0.);
        ch->soon.data = ch;
        ev_timer_start(first->loop, &ch->soon);
    } else {
        chain_next(ch); /* a future failed at once, without a loop */
    }
    return &ch->base;
}
