/*
 * amysql fan-out: one "request" = 20 queries under a 50 ms budget,
 * fail-fast (amy_all with AMY_GROUP_CANCEL and a deadline), three times:
 * all fast, one too slow (the budget ends it, the rest are killed or never
 * sent), one broken (its syntax error ends it). Then a dependent two-step
 * lookup (amy_chain): read an id, then query by it.
 *
 * Usage: amy_fanout mysql://user:pass@host:port/db
 */
#define _POSIX_C_SOURCE 200809L
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amysql.h"

#define N         20
#define BUDGET_MS 50

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One request: N queries, query `odd` replaced by odd_sql (if any). */
static void request(amy_pool *pool, const char *name, int odd,
                    const char *odd_sql)
{
    amy_future *fs[N];
    char sql[64];
    double t0 = now();
    for (int i = 0; i < N; i++) {
        snprintf(sql, sizeof sql, "SELECT %d, SLEEP(0.005)", i);
        fs[i] = amy_query(pool, i == odd ? odd_sql : sql);
        if (!fs[i]) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    amy_future *g = amy_all(fs, N, AMY_GROUP_CANCEL);
    if (!g || amy_future_set_timeout(g, BUDGET_MS) != AMY_OK) {
        fprintf(stderr, "amy_all failed\n");
        exit(1);
    }
    amy_future_wait(g);
    int ok = 0, canceled = 0;
    for (int i = 0; i < N; i++) {
        ok += amy_future_status(fs[i]) == AMY_OK;
        canceled += amy_future_status(fs[i]) == AMY_ECANCELED;
    }
    char line[256];
    amy_future_describe(g, line, sizeof line);
    printf("%-8s %s\n         %d ok, %d canceled, in %.0f ms", name, line, ok,
           canceled, (now() - t0) * 1e3);
    if (amy_group_index(g) >= 0)
        printf(", decided by query #%ld", amy_group_index(g));
    printf("\n");
    amy_future_free(g);
    for (int i = 0; i < N; i++)
        amy_future_free(fs[i]);
}

/* Step two of the lookup: the id read by step one picks the row. */
static amy_future *by_id(amy_future *prev, void *arg)
{
    amy_pool *pool = arg;
    const char *id = amy_result_value(amy_future_result(prev), 0, 0, NULL);
    printf("lookup   step 1 read id %s\n", id);
    amy_value v = amy_val_int64(atoll(id));
    return amy_query_params(pool, "SELECT CONCAT('user-', ?, '@example')", &v,
                            1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s mysql://user:pass@host:port/db\n", argv[0]);
        return 2;
    }
    char dsn[1024], err[256];
    snprintf(dsn, sizeof dsn, "%s%cpool=%d", argv[1],
             strchr(argv[1], '?') ? '&' : '?', N);
    struct ev_loop *loop = EV_DEFAULT;
    amy_pool *pool = amy_pool_new(loop, dsn, err, sizeof err);
    if (!pool) {
        fprintf(stderr, "amy_pool_new: %s\n", err);
        return 1;
    }
    /* Open the connections first: the budget is for the queries. */
    amy_future *warm[N];
    for (int i = 0; i < N; i++)
        warm[i] = amy_query(pool, "SELECT SLEEP(0.01)");
    amy_future *wg = amy_gather(warm, N);
    amy_future_wait(wg);
    amy_future_free(wg);
    for (int i = 0; i < N; i++)
        amy_future_free(warm[i]);

    request(pool, "fast", -1, NULL);
    request(pool, "slow", 7, "SELECT SLEEP(2)");
    request(pool, "broken", 3, "SELEC 3");

    amy_future *chain =
        amy_chain(amy_query(pool, "SELECT 40 + 2"), by_id, pool);
    amy_future_wait(chain);
    char line[256];
    amy_future_describe(chain, line, sizeof line);
    printf("lookup   step 2: %s: %s\n", line,
           amy_future_status(chain) == AMY_OK
               ? amy_result_value(amy_future_result(chain), 0, 0, NULL)
               : "-");
    amy_future_free(chain);
    amy_pool_free(pool);
    return 0;
}
