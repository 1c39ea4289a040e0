/*
 * The amysql side: every statement submitted at once, gathered, waited on,
 * each answer checked and its future freed, all inside the timed region
 * (the baselines store, check and free each answer inside theirs).
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amysql.h"
#include "bench.h"

/* An observer that only counts (--observe): what an observer costs. */
static void count_query(void *arg, const amy_query_info *q)
{
    (*(uint64_t *)arg)++;
}

static const amy_observer counting = {count_query, count_query, NULL, NULL,
                                      NULL};

amy_pool *bench_pool_new(const char *params)
{
    char err[256];
    /* Between two amysql runs the loop sleeps while a baseline runs, for up
     * to 10 s (W2's blocking client), and libev's cached "now" goes stale.
     * Before 4e14c38 amysql armed its connect timer from that stale time,
     * so a gap longer than connect_timeout_ms failed every new connection
     * at once. Refreshing it here keeps older commits measurable
     * (AMY_BENCH_COMMIT); it costs one clock read, outside the timing. */
    ev_now_update(EV_DEFAULT);
    char *dsn =
        bench_dsn_with(bench_g.use_tls ? bench_g.tls_dsn : bench_g.dsn, params);
    if (!dsn)
        return NULL;
    amy_pool *p = amy_pool_new(EV_DEFAULT, dsn, err, sizeof err);
    free(dsn);
    if (!p)
        fprintf(stderr, "amy_pool_new: %s\n", err);
    else if (bench_g.observe)
        amy_pool_set_observer(p, &counting, &bench_g.observed);
    return p;
}

static amy_pool *open_pool(unsigned pool, unsigned pipeline)
{
    char params[96];
    /* 0 means the library's default: pool 0 no pool key, pipeline 0 no
     * pipeline key and no read_coalesce_us key (unless --coalesce-us). A
     * configuration that names its pipeline names its read_coalesce_us
     * too, 0 included, so that it measures the same thing whatever the
     * library's default for it is. */
    size_t at = 0;
    params[0] = '\0';
    if (pool)
        at += (size_t)snprintf(params, sizeof params, "pool=%u&", pool);
    if (pipeline)
        at += (size_t)snprintf(params + at, sizeof params - at,
                               "pipeline=%u&read_coalesce_us=%u&", pipeline,
                               bench_g.coalesce_us);
    else if (bench_g.coalesce_us)
        at += (size_t)snprintf(params + at, sizeof params - at,
                               "read_coalesce_us=%u&", bench_g.coalesce_us);
    if (at)
        params[at - 1] = '\0'; /* the last '&' */
    return bench_pool_new(bench_g.amy_params ? bench_g.amy_params : params);
}

/* What the pool's connections are; -1 (and a message) when that is not
 * what the DSN in use asked for (every one encrypted, or none), so a
 * plaintext line never measures TLS or the reverse. */
int bench_pool_tls(struct amy_pool *p, unsigned *conns, unsigned *conns_tls,
                   char *tls, size_t tlslen)
{
    amy_stats st;
    amy_pool_stats(p, &st);
    *conns = st.conns_open;
    *conns_tls = st.conns_encrypted;
    if (st.tls_version)
        snprintf(tls, tlslen, "%s %s", st.tls_version,
                 st.tls_cipher ? st.tls_cipher : "?");
    int want = (bench_g.use_tls ? bench_g.tls_ci : bench_g.ci).tls != 0;
    if (*conns_tls == (want ? *conns : 0))
        return 0;
    fprintf(stderr,
            "amysql: %u of %u connections encrypted, but the DSN says %s\n",
            *conns_tls, *conns, want ? "TLS" : "ssl_mode=disabled");
    return -1;
}

static int pool_tls(amy_pool *p, bench_sample *s)
{
    return bench_pool_tls(p, &s->conns, &s->conns_tls, s->tls, sizeof s->tls);
}

static size_t check(amy_future *const *fs, const bench_work *w)
{
    size_t failed = 0;
    for (size_t i = 0; i < w->n; i++) {
        const amy_result *r = amy_future_result(fs[i]);
        if (!r || amy_result_nrows(r) != w->expect_rows ||
            (w->expect_rows && !amy_result_value(r, 0, 0, NULL)))
            failed++;
    }
    return failed;
}

static void stamp_cb(amy_future *f, void *arg)
{
    *(double *)arg = bench_now();
}

/* --timeline: when the statements resolved, relative to the first
 * amy_query. Shows whether a batch is bound by sending (late first
 * answers), by the server, or by reading answers (a long tail). */
static void print_timeline(double t0, double submitted, double *stamps,
                           size_t n)
{
    for (size_t i = 0; i < n; i++)
        stamps[i] -= t0;
    for (size_t i = 1; i < n; i++) { /* insertion sort: n is small here */
        double v = stamps[i];
        size_t j = i;
        for (; j > 0 && stamps[j - 1] > v; j--)
            stamps[j] = stamps[j - 1];
        stamps[j] = v;
    }
    const double pct[] = {0, 1, 10, 50, 90, 99, 100};
    fprintf(stderr,
            "timeline (ms after the first amy_query): all submitted "
            "%.3f",
            (submitted - t0) * 1e3);
    for (size_t i = 0; i < sizeof pct / sizeof *pct; i++) {
        size_t k = (size_t)(pct[i] / 100 * (double)(n - 1) + 0.5);
        fprintf(stderr, "  p%g %.3f", pct[i], stamps[k] * 1e3);
    }
    fprintf(stderr, "\n");
}

/* Submits, gathers and waits; returns the failures. fs has room for n. */
static size_t run_batch(amy_pool *p, const bench_work *w, amy_future **fs,
                        int report)
{
    double *stamps = NULL, t0 = 0, submitted = 0;
    if (report && bench_g.timeline) {
        stamps = calloc(w->n, sizeof *stamps);
        t0 = bench_now();
    }
    for (size_t i = 0; i < w->n; i++) {
        fs[i] = amy_query(p, w->sql[i]);
        if (!fs[i]) {
            fprintf(stderr, "amy_query: out of memory\n");
            exit(1);
        }
        if (stamps)
            amy_future_then(fs[i], stamp_cb, &stamps[i]);
    }
    if (stamps)
        submitted = bench_now();
    amy_future *g = amy_gather(fs, w->n);
    if (!g) {
        fprintf(stderr, "amy_gather: out of memory\n");
        exit(1);
    }
    if (amy_future_wait(g) != AMY_OK && report)
        fprintf(stderr, "amysql: %s\n", amy_future_error(g));
    amy_future_free(g);
    if (stamps) {
        print_timeline(t0, submitted, stamps, w->n);
        free(stamps);
    }
    size_t failed = check(fs, w);
    for (size_t i = 0; i < w->n; i++)
        amy_future_free(fs[i]);
    return failed;
}

/* Only the timed batch, under a name of its own: profile.sh points
 * callgrind's --toggle-collect at it to leave the warm-up out. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static size_t
timed_batch(amy_pool *p, const bench_work *w, amy_future **fs)
{
    return run_batch(p, w, fs, 1);
}

int bench_amy(const bench_work *w, unsigned pool, unsigned pipeline,
              const bench_work *warm, bench_sample *s)
{
    memset(s, 0, sizeof *s);
    size_t cap = warm && warm->n > w->n ? warm->n : w->n;
    amy_future **fs = calloc(cap ? cap : 1, sizeof *fs);
    if (!fs)
        return -1;
    double t0 = bench_now();
    amy_pool *p = open_pool(pool, pipeline);
    if (!p) {
        free(fs);
        return -1;
    }
    /* Connections open lazily: a first batch opens them (and warms the
     * server's caches) so that the timed batch measures queries only. */
    if (warm && warm->n) {
        size_t wf = run_batch(p, warm, fs, 0);
        if (wf)
            fprintf(stderr, "amysql warm-up: %zu failed\n", wf);
    }
    s->setup = bench_now() - t0;
    bench_mark a, b;
    bench_timed_begin(&a);
    s->failed = timed_batch(p, w, fs);
    bench_timed_end(&b);
    bench_mark_diff(&a, &b, s);
    int rc = pool_tls(p, s);
    amy_pool_free(p);
    free(fs);
    return rc;
}

/*
 * W4: what a pending future costs. RSS is read before submitting and right
 * after the last amy_query, before the loop runs (nothing is sent yet, no
 * connection exists: the growth is the futures). Run in a fresh process:
 * memory an earlier run freed back to malloc would hide the growth.
 */
int bench_amy_memory(const bench_work *w, unsigned pool, unsigned pipeline,
                     bench_sample *s)
{
    memset(s, 0, sizeof *s);
    amy_future **fs = calloc(w->n, sizeof *fs);
    if (!fs)
        return -1;
    memset(fs, 0xff, w->n * sizeof *fs); /* resident before the first read */
    amy_pool *p = open_pool(pool, pipeline);
    if (!p) {
        free(fs);
        return -1;
    }
    s->nfutures = w->n;
    for (size_t i = 0; i < w->n; i++)
        s->sql_bytes += strlen(w->sql[i]) + 1; /* each future copies it */

    bench_mark a, b;
    s->rss_before = bench_proc_status_bytes("VmRSS");
    bench_timed_begin(&a);
    for (size_t i = 0; i < w->n; i++) {
        fs[i] = amy_query(p, w->sql[i]);
        if (!fs[i]) {
            fprintf(stderr, "amy_query: out of memory\n");
            exit(1);
        }
    }
    s->rss_after = bench_proc_status_bytes("VmRSS");
    amy_future *g = amy_gather(fs, w->n);
    if (!g) {
        fprintf(stderr, "amy_gather: out of memory\n");
        exit(1);
    }
    s->rss_gather = bench_proc_status_bytes("VmRSS");
    if (amy_future_wait(g) != AMY_OK)
        fprintf(stderr, "amysql: %s\n", amy_future_error(g));
    amy_future_free(g);
    s->failed = check(fs, w);
    s->hwm_after_run = bench_proc_status_bytes("VmHWM");
    for (size_t i = 0; i < w->n; i++)
        amy_future_free(fs[i]);
    bench_timed_end(&b);
    bench_mark_diff(&a, &b, s);
    int rc = pool_tls(p, s);
    amy_pool_free(p);
    free(fs);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* W6: bulk insert                                                          */
/* ------------------------------------------------------------------------ */

/* The rows as four values each, built before the timed region: the
 * library copies them (bytes included) when a statement is submitted. */
static amy_value *row_values(const bench_work *w, size_t n)
{
    amy_value *v = malloc((n ? n : 1) * 4 * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const bench_row *r = &w->rows[i];
        v[4 * i] = amy_val_int64(r->id);
        v[4 * i + 1] = amy_val_int64(r->k);
        v[4 * i + 2] = amy_val_text(r->c, BENCH_C_LEN);
        v[4 * i + 3] = amy_val_text(r->pad, BENCH_PAD_LEN);
    }
    return v;
}

/* Opens the pool's connections before the timed region, as W1 does: a
 * first batch of trivial statements, enough to fill every pipeline. */
static void warm_pool(amy_pool *p, unsigned pool, unsigned pipeline)
{
    size_t n = (size_t)pool * pipeline * 4;
    if (n > 2000)
        n = 2000;
    const char **sql = malloc(n * sizeof *sql);
    amy_future **fs = calloc(n, sizeof *fs);
    if (!sql || !fs) {
        fprintf(stderr, "amysql warm-up: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        sql[i] = "SELECT 1";
    bench_work warm = {.sql = sql, .n = n, .expect_rows = 1};
    size_t wf = run_batch(p, &warm, fs, 0);
    if (wf)
        fprintf(stderr, "amysql warm-up: %zu failed\n", wf);
    free(fs);
    free(sql);
}

/* One insert per row: each future must say 1 row affected. The first
 * error is shown: a run that fails is repeated, so say why. */
static size_t check_inserts(amy_future *const *fs, size_t n)
{
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        const amy_result *r = amy_future_result(fs[i]);
        if (amy_future_status(fs[i]) != AMY_OK || !r ||
            amy_result_affected_rows(r) != 1) {
            if (!failed++)
                fprintf(stderr, "amysql: row %zu: %s\n", i + 1,
                        amy_future_error(fs[i]) ? amy_future_error(fs[i])
                                                : "affected rows != 1");
        }
    }
    return failed;
}

#if defined(__GNUC__)
__attribute__((noinline))
#endif
static size_t
timed_inserts(amy_pool *p, const amy_value *v, size_t n, amy_future **fs)
{
    for (size_t i = 0; i < n; i++) {
        fs[i] = amy_query_params(p, BENCH_INSERT_SQL, &v[4 * i], 4);
        if (!fs[i]) {
            fprintf(stderr, "amy_query_params: out of memory\n");
            exit(1);
        }
    }
    amy_future *g = amy_gather(fs, n);
    if (!g) {
        fprintf(stderr, "amy_gather: out of memory\n");
        exit(1);
    }
    amy_future_wait(g);
    amy_future_free(g);
    size_t failed = check_inserts(fs, n);
    for (size_t i = 0; i < n; i++)
        amy_future_free(fs[i]);
    return failed;
}

int bench_amy_insert(const bench_work *w, size_t n, unsigned pool,
                     unsigned pipeline, bench_sample *s)
{
    memset(s, 0, sizeof *s);
    amy_value *v = row_values(w, n);
    amy_future **fs = calloc(n ? n : 1, sizeof *fs);
    if (!v || !fs) {
        free(v);
        free(fs);
        return -1;
    }
    double t0 = bench_now();
    amy_pool *p = open_pool(pool, pipeline);
    if (!p) {
        free(v);
        free(fs);
        return -1;
    }
    warm_pool(p, pool, pipeline);
    s->setup = bench_now() - t0;
    bench_mark a, b;
    bench_timed_begin(&a);
    s->failed = timed_inserts(p, v, n, fs);
    bench_timed_end(&b);
    bench_mark_diff(&a, &b, s);
    int rc = pool_tls(p, s);
    amy_pool_free(p);
    free(fs);
    free(v);
    return rc;
}

/* All n rows in one call: the library prepares the statement, splits the
 * rows into COM_STMT_BULK_EXECUTE packets under max_allowed_packet and
 * sends them in order on one connection; one future for everything. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static size_t
timed_exec_batch(amy_pool *p, const amy_value *v, size_t n)
{
    amy_future *f = amy_exec_batch(p, BENCH_INSERT_SQL, v, n, 4);
    if (!f) {
        fprintf(stderr, "amy_exec_batch: out of memory\n");
        exit(1);
    }
    int rc = amy_future_wait(f);
    const amy_result *r = amy_future_result(f);
    uint64_t done = r ? amy_result_affected_rows(r) : 0;
    size_t failed = 0;
    if (rc != AMY_OK || done != n) {
        fprintf(stderr, "amy_exec_batch: %s (%llu of %zu rows affected)\n",
                rc != AMY_OK ? amy_future_error(f) : "wrong row count",
                (unsigned long long)done, n);
        failed = done < n ? n - (size_t)done : n;
    }
    amy_future_free(f);
    return failed;
}

int bench_amy_batch(const bench_work *w, size_t n, bench_sample *s)
{
    memset(s, 0, sizeof *s);
    amy_value *v = row_values(w, n);
    if (!v)
        return -1;
    double t0 = bench_now();
    amy_pool *p = open_pool(1, 1);
    if (!p) {
        free(v);
        return -1;
    }
    warm_pool(p, 1, 1);
    s->setup = bench_now() - t0;
    bench_mark a, b;
    bench_timed_begin(&a);
    s->failed = timed_exec_batch(p, v, n);
    bench_timed_end(&b);
    bench_mark_diff(&a, &b, s);
    int rc = pool_tls(p, s);
    amy_pool_free(p);
    free(v);
    return rc;
}
