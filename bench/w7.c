/*
 * W7: open-loop latency. Point selects (`SELECT c FROM sbtest1 WHERE
 * id=<random>`, as W1) arrive at a fixed rate for a fixed time, whether or
 * not the client keeps up; each one's latency is its resolution time minus
 * its *scheduled* arrival time, so a client that falls behind is charged
 * for the wait (no coordinated omission).
 *
 * Arrivals: a pacing thread sleeps with clock_nanosleep(TIMER_ABSTIME) to
 * each scheduled time t_i = start + i / rate (timer slack 1 ns: the
 * default 50 µs would batch arrivals) and releases every arrival due by
 * the time it woke (if it overslept, several at once: they keep their own
 * scheduled times).
 *
 *   amysql   the pacer bumps an atomic "released" counter and
 *            ev_async_send()s the loop: the loop wakes as it would for a
 *            request arriving on a socket (libev's timers on epoll have a
 *            ~1 ms granularity, which would batch arrivals). The async
 *            callback submits every query released so far (amy_query);
 *            each future's callback stamps its resolution, checks the
 *            answer (one row, non-NULL) and frees the future. Nothing is
 *            allocated per query here beyond what amy_query does.
 *   threads  blocking libmariadb, K threads with a connection each; the
 *            pacer feeds a queue (mutex + condvar; the queue's content is
 *            the index range [next, released), the indices name the
 *            statements and their scheduled times); a worker pops one,
 *            runs mysql_real_query + mysql_store_result, stamps it, checks
 *            and frees the answer.
 *
 * The run ends when everything is answered or at the cap: seconds of
 * arrivals plus the drain. A query unanswered at the cap counts with
 * latency = cap - its scheduled time (a lower bound; the run says how
 * many). Client CPU is the process's (getrusage) minus the pacing
 * thread's own (CLOCK_THREAD_CPUTIME_ID): the load generator is not the
 * client.
 */
#include <errno.h>
#include <ev.h>
#include <math.h>
#include <mysql.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include "amysql.h"
#include "bench.h"

#define W7_SQL_STRIDE 48 /* "SELECT c FROM sbtest1 WHERE id=NNNNN" + NUL */
#define W7_MAX_N      20000000u

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The statements of a run and its clocks, shared by both clients. */
typedef struct w7_run {
    size_t n;      /* arrivals scheduled */
    double rate;   /* per second */
    int64_t start; /* ns: arrival 0 */
    int64_t cap;   /* ns: the end of arrivals plus the drain */
    char *sql;     /* n statements, W7_SQL_STRIDE bytes apart */
    int64_t *done; /* ns: when each was answered; 0 = not (yet) */
    atomic_int all_done;
} w7_run;

static int64_t sched_ns(const w7_run *r, size_t i)
{
    return r->start + (int64_t)((double)i * 1e9 / r->rate);
}

static const char *sql_of(const w7_run *r, size_t i)
{
    return r->sql + i * W7_SQL_STRIDE;
}

/* Statements and stamps allocated and touched before the timed region, so
 * that no page fault lands inside it. */
static int run_init(w7_run *r, const bench_openloop *o, unsigned table_rows)
{
    memset(r, 0, sizeof *r);
    double n = floor(o->rate * o->seconds);
    if (!(o->rate > 0) || n < 1 || n > W7_MAX_N) {
        fprintf(stderr, "W7: rate x seconds must give 1..%u queries\n",
                W7_MAX_N);
        return -1;
    }
    r->n = (size_t)n;
    r->rate = o->rate;
    r->sql = malloc(r->n * W7_SQL_STRIDE);
    r->done = calloc(r->n, sizeof *r->done);
    if (!r->sql || !r->done) {
        free(r->sql);
        free(r->done);
        return -1;
    }
    uint64_t st = 7; /* the same statements for every client */
    for (size_t i = 0; i < r->n; i++)
        snprintf(r->sql + i * W7_SQL_STRIDE, W7_SQL_STRIDE,
                 "SELECT c FROM sbtest1 WHERE id=%u",
                 (unsigned)(1 + bench_rand(&st) % table_rows));
    atomic_init(&r->all_done, 0);
    return 0;
}

static void run_free(w7_run *r)
{
    free(r->sql);
    free(r->done);
}

/* ------------------------------------------------------------------------ */
/* The pacer                                                                */
/* ------------------------------------------------------------------------ */

typedef struct w7_pacer {
    w7_run *run;
    /* Arrivals [0, upto) are due; called on the pacer's thread. */
    void (*release)(void *arg, size_t upto);
    /* The cap passed, or everything was answered. */
    void (*finish)(void *arg);
    void *arg;
    double cpu;     /* s: this thread's own CPU */
    int64_t lag;    /* ns: the latest it woke after a scheduled time */
    size_t wakeups; /* releases made */
    size_t late;    /* arrivals released more than W7_LATE_NS late */
    int rt;         /* it ran SCHED_FIFO */
} w7_pacer;

#define W7_LATE_NS 100000

static void sleep_until(int64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000),
                          .tv_nsec = (long)(t % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void *pacer_main(void *arg)
{
    w7_pacer *p = arg;
    w7_run *r = p->run;
#if defined(PR_SET_TIMERSLACK)
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
    /* Real-time when allowed: on cores shared with the client and the
     * server (and, on a shared machine, everyone else) a normal thread
     * wakes milliseconds late, and its lateness would be charged to the
     * client. It runs ~10 µs per wakeup, so it preempts like an interrupt
     * would, not for long; where it is not allowed it stays as it is. */
    struct sched_param sp = {.sched_priority = 1};
    p->rt = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
    double cpu0 = thread_cpu();
    size_t released = 0;
    while (released < r->n) {
        int64_t t = sched_ns(r, released);
        sleep_until(t);
        int64_t now = now_ns();
        if (now - t > p->lag)
            p->lag = now - t;
        /* Every arrival due by now: t_i <= now. */
        double due = floor((double)(now - r->start) * r->rate / 1e9) + 1;
        size_t upto = due >= (double)r->n ? r->n : (size_t)due;
        if (upto <= released)
            upto = released + 1;
        for (size_t i = released; i < upto && now - sched_ns(r, i) > W7_LATE_NS;
             i++)
            p->late++;
        released = upto;
        p->wakeups++;
        p->release(p->arg, upto);
    }
    /* The drain: until everything is answered or the cap. */
    for (int64_t now = now_ns(); !atomic_load(&r->all_done) && now < r->cap;
         now = now_ns())
        sleep_until(now + 1000000 < r->cap ? now + 1000000 : r->cap);
    p->finish(p->arg);
    p->cpu = thread_cpu() - cpu0;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Results                                                                  */
/* ------------------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest latency with at least a fraction q of all
 * latencies at or below it. v sorted, n > 0. */
static double rank_us(const int64_t *v, size_t n, double q)
{
    size_t k = (size_t)ceil(q * (double)n);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1] / 1e3;
}

/* Latencies, percentiles, backlog and rate from the stamps. Reuses done[]
 * as the latency array. */
static void summarize(w7_run *r, bench_openloop *o)
{
    int64_t arrivals_end = r->start + (int64_t)(o->seconds * 1e9);
    int64_t last = r->start;
    size_t answered = 0;
    o->backlog = o->outstanding = 0;
    for (size_t i = 0; i < r->n; i++) {
        int64_t s = sched_ns(r, i), d = r->done[i];
        int late = !d || d > r->cap;
        if (s <= arrivals_end && (late || d > arrivals_end))
            o->backlog++;
        if (late) {
            o->outstanding++;
            d = r->cap;
        } else {
            answered++;
            if (d > last)
                last = d;
        }
        r->done[i] = d - s;
    }
    if (o->outstanding)
        last = r->cap;
    o->answered = answered;
    o->achieved = last > r->start
                      ? (double)answered / ((double)(last - r->start) / 1e9)
                      : 0;
    qsort(r->done, r->n, sizeof *r->done, cmp_i64);
    o->p50 = rank_us(r->done, r->n, 0.50);
    o->p99 = rank_us(r->done, r->n, 0.99);
    o->p999 = rank_us(r->done, r->n, 0.999);
    o->max = (double)r->done[r->n - 1] / 1e3;
    o->n = r->n;
}

static void fill_cpu(bench_openloop *o, const bench_mark *a,
                     const bench_mark *b, const w7_pacer *p)
{
    bench_sample s;
    bench_mark_diff(a, b, &s);
    o->wall = s.wall;
    o->pacer_cpu = p->cpu;
    o->client_cpu = s.client_cpu - p->cpu;
    o->server_cpu = s.server_cpu;
    o->pacer_lag_us = (double)p->lag / 1e3;
    o->wakeups = p->wakeups;
    o->pacer_late = p->late;
    o->pacer_rt = p->rt;
}

/* ------------------------------------------------------------------------ */
/* amysql                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct w7_amy {
    w7_run *run;
    struct ev_loop *loop;
    amy_pool *pool;
    ev_async async;
    atomic_size_t released;
    atomic_int capped;
    size_t submitted, resolved, failed;
    amy_future **fs; /* pending ones; NULL once answered */
} w7_amy;

/* One run at a time: the futures' callbacks find it here (their arg is
 * their stamp's address, which gives the index). */
static w7_amy *amy_cur;

static void amy_answered(amy_future *f, void *arg)
{
    w7_amy *A = amy_cur;
    int64_t t = now_ns();
    int64_t *slot = arg;
    size_t i = (size_t)(slot - A->run->done);
    *slot = t;
    const amy_result *r = amy_future_result(f);
    if (amy_future_status(f) != AMY_OK || !r || amy_result_nrows(r) != 1 ||
        !amy_result_value(r, 0, 0, NULL))
        A->failed++;
    A->fs[i] = NULL;
    amy_future_free(f);
    if (++A->resolved == A->run->n) {
        atomic_store(&A->run->all_done, 1);
        ev_break(A->loop, EVBREAK_ONE);
    }
}

/* The loop's side of an arrival: submit every query released so far. */
static void amy_arrivals(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    w7_amy *A = w->data;
    size_t upto = atomic_load(&A->released);
    while (A->submitted < upto) {
        size_t i = A->submitted++;
        amy_future *f = amy_query(A->pool, sql_of(A->run, i));
        if (!f || amy_future_then(f, amy_answered, &A->run->done[i]) != 0) {
            fprintf(stderr, "W7 amysql: out of memory\n");
            exit(1);
        }
        if (A->run->done[i] == 0) /* not already resolved */
            A->fs[i] = f;
    }
    if (atomic_load(&A->capped))
        ev_break(A->loop, EVBREAK_ONE);
}

static void amy_release(void *arg, size_t upto)
{
    w7_amy *A = arg;
    atomic_store(&A->released, upto);
    ev_async_send(A->loop, &A->async);
}

static void amy_finish(void *arg)
{
    w7_amy *A = arg;
    atomic_store(&A->capped, 1);
    ev_async_send(A->loop, &A->async);
}

/* Opens the pool's connections (lazily opened: a first batch of queries,
 * gathered) before the timed region, as W1 does. */
static int amy_warm(amy_pool *p, const w7_run *r)
{
    size_t n = r->n < 2000 ? r->n : 2000;
    amy_future **fs = calloc(n, sizeof *fs);
    if (!fs)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!(fs[i] = amy_query(p, sql_of(r, i)))) {
            fprintf(stderr, "W7 amysql: out of memory\n");
            exit(1);
        }
    amy_future *g = amy_gather(fs, n);
    if (!g) {
        fprintf(stderr, "W7 amysql: out of memory\n");
        exit(1);
    }
    int rc = amy_future_wait(g);
    if (rc != AMY_OK)
        fprintf(stderr, "W7 amysql warm-up: %s\n", amy_future_error(g));
    amy_future_free(g);
    for (size_t i = 0; i < n; i++)
        amy_future_free(fs[i]);
    free(fs);
    return rc == AMY_OK ? 0 : -1;
}

int bench_w7_amy(const char *params, unsigned table_rows, bench_openloop *o)
{
    w7_run r;
    if (run_init(&r, o, table_rows) != 0)
        return -1;
    w7_amy A = {.run = &r, .loop = EV_DEFAULT};
    A.fs = calloc(r.n, sizeof *A.fs);
    double t0 = bench_now();
    if (!A.fs || !(A.pool = bench_pool_new(params ? params : "")) ||
        amy_warm(A.pool, &r) != 0) {
        if (A.pool)
            amy_pool_free(A.pool);
        free(A.fs);
        run_free(&r);
        return -1;
    }
    o->setup = bench_now() - t0;
    atomic_init(&A.released, 0);
    atomic_init(&A.capped, 0);
    ev_async_init(&A.async, amy_arrivals);
    A.async.data = &A;
    ev_async_start(A.loop, &A.async);
    amy_cur = &A;

    w7_pacer p = {
        .run = &r, .release = amy_release, .finish = amy_finish, .arg = &A};
    bench_mark a, b;
    bench_timed_begin(&a);
    /* Arrival 0 a little ahead, so that starting the thread is not late. */
    r.start = now_ns() + 2000000;
    r.cap = r.start + (int64_t)((o->seconds + o->drain) * 1e9);
    pthread_t tid;
    if (pthread_create(&tid, NULL, pacer_main, &p) != 0) {
        fprintf(stderr, "W7: pthread_create failed\n");
        exit(1);
    }
    ev_run(A.loop, 0);
    pthread_join(tid, NULL);
    bench_timed_end(&b);
    ev_async_stop(A.loop, &A.async);

    /* Past the cap, untimed: what is still pending is answered (their
     * stamps are past the cap, counted as outstanding), or freed after a
     * minute (the pool cancels them). */
    double limit = bench_now() + 60;
    while (A.resolved < A.submitted && bench_now() < limit)
        ev_run(A.loop, EVRUN_ONCE);
    for (size_t i = 0; i < r.n; i++)
        if (A.fs[i]) {
            amy_future_free(A.fs[i]);
            A.failed++;
        }
    amy_cur = NULL;
    amy_stats st;
    amy_pool_stats(A.pool, &st);
    o->conns = st.conns_open;
    amy_pool_free(A.pool);
    free(A.fs);
    fill_cpu(o, &a, &b, &p);
    o->failed = A.failed;
    summarize(&r, o);
    run_free(&r);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Blocking threads                                                         */
/* ------------------------------------------------------------------------ */

typedef struct w7_threads {
    w7_run *run;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t released, next; /* the queue: [next, released) */
    int stop;
    atomic_size_t resolved, failed;
    atomic_uint connect_failed;
    pthread_barrier_t start;
} w7_threads;

/* 0 when the answer is right, 1 when wrong, -1 when the connection broke;
 * stamps the answer once it is stored (amysql's resolution). */
static int threads_query(MYSQL *m, const char *sql, int64_t *stamp)
{
    if (mysql_real_query(m, sql, (unsigned long)strlen(sql)) != 0) {
        *stamp = now_ns();
        return mysql_errno(m) >= 2000 ? -1 : 1;
    }
    MYSQL_RES *res = mysql_store_result(m);
    *stamp = now_ns();
    if (!res)
        return mysql_errno(m) >= 2000 ? -1 : 1;
    MYSQL_ROW row = mysql_fetch_row(res);
    int bad = mysql_num_rows(res) != 1 || !row || !row[0];
    mysql_free_result(res);
    return bad;
}

static void *threads_worker(void *arg)
{
    w7_threads *T = arg;
    char err[512];
    mysql_thread_init();
    MYSQL *m = bench_connect(err, sizeof err);
    if (!m) {
        fprintf(stderr, "W7 threads: %s\n", err);
        atomic_fetch_add(&T->connect_failed, 1);
    } else if (bench_exec(m, "SELECT c FROM sbtest1 WHERE id=1", err,
                          sizeof err) != 0)
        fprintf(stderr, "W7 threads warm-up: %s\n", err);
    pthread_barrier_wait(&T->start);
    while (m) {
        pthread_mutex_lock(&T->mu);
        while (T->next >= T->released && !T->stop)
            pthread_cond_wait(&T->cv, &T->mu);
        if (T->stop) {
            pthread_mutex_unlock(&T->mu);
            break;
        }
        size_t i = T->next++;
        pthread_mutex_unlock(&T->mu);
        int rc = threads_query(m, sql_of(T->run, i), &T->run->done[i]);
        if (rc)
            atomic_fetch_add(&T->failed, 1);
        if (atomic_fetch_add(&T->resolved, 1) + 1 == T->run->n)
            atomic_store(&T->run->all_done, 1);
        if (rc < 0) { /* the others serve the queue */
            mysql_close(m);
            m = NULL;
        }
    }
    if (m)
        mysql_close(m);
    mysql_thread_end();
    return NULL;
}

static void threads_release(void *arg, size_t upto)
{
    w7_threads *T = arg;
    pthread_mutex_lock(&T->mu);
    size_t added = upto - T->released;
    T->released = upto;
    if (added == 1)
        pthread_cond_signal(&T->cv);
    else
        pthread_cond_broadcast(&T->cv);
    pthread_mutex_unlock(&T->mu);
}

static void threads_finish(void *arg)
{
    w7_threads *T = arg;
    pthread_mutex_lock(&T->mu);
    T->stop = 1;
    pthread_cond_broadcast(&T->cv);
    pthread_mutex_unlock(&T->mu);
}

int bench_w7_threads(unsigned k, unsigned table_rows, bench_openloop *o)
{
    w7_run r;
    if (!k || run_init(&r, o, table_rows) != 0)
        return -1;
    w7_threads T = {.run = &r};
    pthread_mutex_init(&T.mu, NULL);
    pthread_cond_init(&T.cv, NULL);
    atomic_init(&T.resolved, 0);
    atomic_init(&T.failed, 0);
    atomic_init(&T.connect_failed, 0);
    pthread_barrier_init(&T.start, NULL, k + 1);
    pthread_t *tids = calloc(k, sizeof *tids);
    if (!tids) {
        run_free(&r);
        return -1;
    }
    double t0 = bench_now();
    for (unsigned i = 0; i < k; i++)
        if (pthread_create(&tids[i], NULL, threads_worker, &T) != 0) {
            fprintf(stderr, "W7 threads: pthread_create failed at %u\n", i);
            exit(1); /* a half-started barrier cannot be released */
        }
    pthread_barrier_wait(&T.start);
    o->setup = bench_now() - t0;
    w7_pacer p = {.run = &r,
                  .release = threads_release,
                  .finish = threads_finish,
                  .arg = &T};
    bench_mark a, b;
    bench_timed_begin(&a);
    r.start = now_ns() + 2000000;
    r.cap = r.start + (int64_t)((o->seconds + o->drain) * 1e9);
    pthread_t ptid;
    if (pthread_create(&ptid, NULL, pacer_main, &p) != 0) {
        fprintf(stderr, "W7: pthread_create failed\n");
        exit(1);
    }
    pthread_join(ptid, NULL);
    /* Workers inside a query finish it (stamped past the cap if so). */
    for (unsigned i = 0; i < k; i++)
        pthread_join(tids[i], NULL);
    bench_timed_end(&b);
    free(tids);
    pthread_barrier_destroy(&T.start);
    pthread_cond_destroy(&T.cv);
    pthread_mutex_destroy(&T.mu);
    unsigned cf = atomic_load(&T.connect_failed);
    o->conns = k - cf;
    fill_cpu(o, &a, &b, &p);
    o->failed = atomic_load(&T.failed);
    summarize(&r, o);
    run_free(&r);
    return cf == k ? -1 : 0;
}
