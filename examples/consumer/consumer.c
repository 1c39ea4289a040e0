/*
 * consumer: a tiny service built against an *installed* amysql, the way a
 * user's program is (examples/consumer/check.sh builds it with pkg-config
 * and with find_package, and runs it).
 *
 * It answers a burst of "requests"; each one needs three independent
 * lookups, gathered, so a request costs one round trip, not three. The
 * answers are checked: exit 0 when every one is right.
 *
 * Usage: consumer mysql://user:pass@host:port/db [requests]
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amysql.h>

struct service {
    struct ev_loop *loop;
    int pending, right, wrong;
};

struct request {
    struct service *svc;
    long id;
    amy_future *q[3];
    amy_future *all;
};

static const char *value(const amy_future *f)
{
    return amy_result_value(amy_future_result(f), 0, 0, NULL);
}

/* The three lookups of one request are back: answer it. */
static void answer(amy_future *all, void *arg)
{
    struct request *r = arg;
    char id[32], name[48], twice[32];
    snprintf(id, sizeof id, "%ld", r->id);
    snprintf(name, sizeof name, "user-%ld", r->id);
    snprintf(twice, sizeof twice, "%ld", 2 * r->id);
    int ok = amy_future_status(all) == AMY_OK && value(r->q[0]) &&
             strcmp(value(r->q[0]), id) == 0 && value(r->q[1]) &&
             strcmp(value(r->q[1]), name) == 0 && value(r->q[2]) &&
             strcmp(value(r->q[2]), twice) == 0;
    if (!ok)
        fprintf(stderr, "consumer: request %ld: %s\n", r->id,
                amy_future_error(all) ? amy_future_error(all) : "wrong answer");
    r->svc->right += ok;
    r->svc->wrong += !ok;
    for (int i = 0; i < 3; i++)
        amy_future_free(r->q[i]);
    amy_future_free(all);
    if (--r->svc->pending == 0)
        ev_break(r->svc->loop, EVBREAK_ONE);
    free(r);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s mysql://user:pass@host:port/db [n]\n",
                argv[0]);
        return 2;
    }
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
    struct service svc = {EV_DEFAULT, 0, 0, 0};
    char err[256];
    amy_pool *pool = amy_pool_new(svc.loop, argv[1], err, sizeof err);
    if (!pool) {
        fprintf(stderr, "consumer: %s\n", err);
        return 2;
    }
    for (long i = 1; i <= n; i++) {
        struct request *r = calloc(1, sizeof *r);
        char sql[3][96];
        if (!r)
            return 2;
        r->svc = &svc;
        r->id = i;
        snprintf(sql[0], sizeof sql[0], "SELECT %ld", i);
        snprintf(sql[1], sizeof sql[1], "SELECT CONCAT('user-', %ld)", i);
        snprintf(sql[2], sizeof sql[2], "SELECT %ld * 2", i);
        for (int k = 0; k < 3; k++)
            r->q[k] = amy_query(pool, sql[k]);
        r->all = amy_gather(r->q, 3);
        if (!r->q[0] || !r->q[1] || !r->q[2] || !r->all)
            return 2;
        svc.pending++;
        amy_future_then(r->all, answer, r);
    }
    if (svc.pending)
        ev_run(svc.loop, 0);
    amy_pool_free(pool);
    printf("consumer (amysql %d.%d.%d): %d requests answered, %d wrong\n",
           AMY_VERSION_MAJOR, AMY_VERSION_MINOR, AMY_VERSION_PATCH, svc.right,
           svc.wrong);
    return svc.wrong == 0 && svc.right == n ? 0 : 1;
}
