/*
 * amysql demo: what gathering buys.
 *
 * 1. 200 x SELECT SLEEP(0.05) over a pool of 200 connections, gathered: the
 *    batch takes about as long as one sleep (plus connecting), where a
 *    sequential client needs 200 x 0.05 s = 10 s.
 * 2. 20,000 point selects on a small table, gathered, pipelined over a few
 *    connections: the rate in queries per second.
 *
 * Usage: amy_demo mysql://user:pass@host:port/db
 */
#define _POSIX_C_SOURCE 200809L
#include <ev.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amysql.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *dsn_with(const char *dsn, const char *params)
{
    size_t n = strlen(dsn) + strlen(params) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%c%s", dsn, strchr(dsn, '?') ? '&' : '?', params);
    return s;
}

/* Submits n queries, gathers them, waits; returns failures (-1 on ENOMEM). */
static long run_batch(amy_pool *pool, size_t n, char **sqls, const char *sql,
                      amy_future **fs)
{
    for (size_t i = 0; i < n; i++) {
        fs[i] = amy_query(pool, sqls ? sqls[i] : sql);
        if (!fs[i])
            return -1;
    }
    amy_future *g = amy_gather(fs, n);
    if (!g)
        return -1;
    int st = amy_future_wait(g);
    if (st != AMY_OK)
        fprintf(stderr, "  %s\n", amy_future_error(g));
    amy_future_free(g);
    long failed = 0;
    for (size_t i = 0; i < n; i++) {
        failed += amy_future_status(fs[i]) != AMY_OK;
    }
    return failed;
}

static void free_all(amy_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        amy_future_free(fs[i]);
}

/* Runs sql (no parameters) and says whether it worked. */
static int run_one(amy_pool *pool, const char *sql)
{
    amy_future *f = amy_query(pool, sql);
    int st = amy_future_wait(f);
    if (st != AMY_OK)
        fprintf(stderr, "%s: %s\n", sql, amy_future_error(f));
    amy_future_free(f);
    return st == AMY_OK ? 0 : -1;
}

/* 100,000 rows in one amy_exec_batch, then a prepared lookup. */
static int demo_bulk(amy_pool *pool)
{
    enum { NBULK = 100000 };
    if (run_one(pool, "DROP TABLE IF EXISTS demo_bulk") ||
        run_one(pool, "CREATE TABLE demo_bulk (id INT PRIMARY KEY, "
                      "k INT NOT NULL, c VARCHAR(64))"))
        return -1;
    amy_value *rows = malloc(sizeof *rows * 3 * NBULK);
    if (!rows)
        return -1;
    for (size_t i = 0; i < NBULK; i++) {
        rows[3 * i] = amy_val_int64((int64_t)i + 1);
        rows[3 * i + 1] = amy_val_int64((int64_t)(i % 97));
        rows[3 * i + 2] = i % 10 ? amy_val_text("bulk row", 8) : amy_val_null();
    }
    double t0 = now();
    amy_future *f = amy_exec_batch(
        pool, "INSERT INTO demo_bulk VALUES (?, ?, ?)", rows, NBULK, 3);
    free(rows); /* the future has its own copy */
    int st = amy_future_wait(f);
    double t1 = now();
    uint64_t n = amy_result_affected_rows(amy_future_result(f));
    if (st != AMY_OK)
        fprintf(stderr, "amy_exec_batch: %s\n", amy_future_error(f));
    amy_future_free(f);
    printf("%d rows in one amy_exec_batch (COM_STMT_BULK_EXECUTE):\n"
           "  %.3f s   %.0f rows/s   inserted: %llu\n",
           NBULK, t1 - t0, NBULK / (t1 - t0), (unsigned long long)n);
    if (st != AMY_OK || n != NBULK)
        return -1;

    /* The same statement text again is a cache hit on each connection. */
    int bad = 0;
    for (int64_t k = 0; k < 3; k++) {
        amy_value v = amy_val_int64(k);
        f = amy_exec(pool, "SELECT COUNT(*) FROM demo_bulk WHERE k = ?", &v, 1);
        uint64_t count = 0;
        if (amy_future_wait(f) != AMY_OK ||
            amy_result_uint64(amy_future_result(f), 0, 0, &count) != AMY_OK ||
            count != NBULK / 97 + (k < NBULK % 97))
            bad++;
        amy_future_free(f);
    }
    amy_stats s;
    amy_pool_stats(pool, &s);
    printf("  prepared lookups: %d wrong   statement cache: %llu hits, "
           "%llu misses\n",
           bad, (unsigned long long)s.stmt_cache_hits,
           (unsigned long long)s.stmt_cache_misses);
    return bad || run_one(pool, "DROP TABLE demo_bulk") ? -1 : 0;
}

int main(int argc, char **argv)
{
    const char *dsn = argc > 1 ? argv[1] : getenv("AMY_TEST_DSN");
    if (!dsn) {
        fprintf(stderr, "usage: %s mysql://user:pass@host:port/db\n", argv[0]);
        return 2;
    }
    struct ev_loop *loop = EV_DEFAULT;
    char err[256];
    int rc = 0;

    /* Part 1: latency-bound queries, one connection each. */
    enum { NSLEEP = 200 };
    char *d1 = dsn_with(dsn, "pool=200&pipeline=1");
    amy_pool *pool = d1 ? amy_pool_new(loop, d1, err, sizeof err) : NULL;
    free(d1);
    if (!pool) {
        fprintf(stderr, "amy_pool_new: %s\n", err);
        return 1;
    }
    static amy_future *fs[20000];
    double t0 = now();
    long failed = run_batch(pool, NSLEEP, NULL, "SELECT SLEEP(0.05)", fs);
    double t1 = now();
    free_all(fs, NSLEEP);
    printf("%d x SELECT SLEEP(0.05), pool of 200, connecting included:\n"
           "  gathered: %.3f s   sequential client: %.1f s   (%.0fx)   "
           "failed: %ld\n",
           NSLEEP, t1 - t0, NSLEEP * 0.05, NSLEEP * 0.05 / (t1 - t0), failed);
    if (failed)
        rc = 1;

    /* Same batch again on the now-open connections. */
    t0 = now();
    failed = run_batch(pool, NSLEEP, NULL, "SELECT SLEEP(0.05)", fs);
    t1 = now();
    free_all(fs, NSLEEP);
    printf("  again, connections open: %.3f s   failed: %ld\n", t1 - t0,
           failed);
    amy_pool_free(pool);
    if (failed)
        rc = 1;

    /* Part 2: many small queries, pipelined, with the library's defaults
     * (pool=4 pipeline=128, answers read in batches under load). */
    enum { NPOINT = 20000, NROWS = 1000 };
    pool = amy_pool_new(loop, dsn, err, sizeof err);
    if (!pool) {
        fprintf(stderr, "amy_pool_new: %s\n", err);
        return 1;
    }
    const char *setup[] = {
        "CREATE TABLE IF NOT EXISTS demo_points "
        "(id INT PRIMARY KEY, v VARCHAR(32) NOT NULL)",
        "INSERT IGNORE INTO demo_points (id, v) SELECT seq, CONCAT('value-', "
        "seq) FROM seq_1_to_1000",
    };
    for (size_t i = 0; i < 2; i++) {
        amy_future *f = amy_query(pool, setup[i]);
        if (amy_future_wait(f) != AMY_OK) {
            fprintf(stderr, "setup: %s\n", amy_future_error(f));
            rc = 1;
        }
        amy_future_free(f);
    }
    static char *sqls[NPOINT];
    for (size_t i = 0; i < NPOINT; i++) {
        sqls[i] = malloc(64);
        if (!sqls[i])
            return 1;
        snprintf(sqls[i], 64, "SELECT v FROM demo_points WHERE id=%zu",
                 1 + (i * 7919) % NROWS);
    }
    t0 = now();
    failed = run_batch(pool, NPOINT, sqls, NULL, fs);
    t1 = now();
    size_t wrong = 0;
    for (size_t i = 0; i < NPOINT && failed == 0; i++) {
        char want[32];
        snprintf(want, sizeof want, "value-%zu", 1 + (i * 7919) % NROWS);
        const char *v = amy_result_value(amy_future_result(fs[i]), 0, 0, NULL);
        wrong += !v || strcmp(v, want) != 0;
    }
    free_all(fs, NPOINT);
    printf("%d point selects, the DSN's defaults, gathered:\n"
           "  %.3f s   %.0f queries/s   failed: %ld   wrong values: %zu\n",
           NPOINT, t1 - t0, NPOINT / (t1 - t0), failed, wrong);
    if (failed || wrong)
        rc = 1;
    for (size_t i = 0; i < NPOINT; i++)
        free(sqls[i]);

    /* Part 3: a bulk insert and prepared statements (binary protocol). */
    if (demo_bulk(pool) != 0)
        rc = 1;
    amy_pool_free(pool);
    return rc;
}
