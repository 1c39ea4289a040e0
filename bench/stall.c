/*
 * STALL: how long the loop goes without running a timer while a pool of
 * many connections opens and then serves a batch of queries.
 *
 * A 1 ms ev_timer ticks on the pool's loop; libev runs timers between
 * loop iterations only, so the longest time between two ticks is the
 * longest iteration (callbacks plus the poll), i.e. the longest any other
 * watcher of the caller's loop would have waited. Two phases, as
 * tests/test_tls.c's loop-stall test has them:
 *
 *   connect  nconn amy_pool_acquire, gathered: every connection opened
 *            (TLS ones on the pool's dialer thread, plaintext ones on the
 *            loop), from the first acquire to the gather resolved;
 *   query    the pinned connections released (reset_on_release: each
 *            sends COM_RESET_CONNECTION when the loop next runs), then n
 *            queries submitted and gathered; from the first loop run after
 *            they were made (making them is the caller's time, not the
 *            loop's) until all resolved, each then checked.
 *
 * For the longest gap of each phase the tick also notes what happened
 * inside it: how many queries resolved (the answers one iteration read),
 * how much CPU the loop thread got, how long it was runnable but waited
 * for a core (the scheduler's run_delay), and how many times it was
 * preempted or went to sleep (involuntary and voluntary context switches;
 * the process's, but during the query phase the dialer thread sleeps).
 */
#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "amysql.h"
#include "bench.h"

typedef struct tick_point {
    double t, cpu, wait; /* wait: runnable, waiting for a core */
    long nivcsw, nvcsw;
    uint64_t completed;
} tick_point;

typedef struct stall_watch {
    ev_timer timer;
    amy_pool *pool;
    bench_gap *phase; /* the phase being measured; NULL between phases */
    tick_point last;
    int seen;      /* ticks of the phase so far */
    int schedstat; /* /proc/thread-self/schedstat, or -1 */
} stall_watch;

/* The scheduler's run_delay of the calling thread: how long it has been
 * runnable but waiting for a core (Linux; -1 when not readable). */
static double run_delay(int fd)
{
    char b[128];
    ssize_t n = fd < 0 ? -1 : pread(fd, b, sizeof b - 1, 0);
    if (n <= 0)
        return -1;
    b[n] = '\0';
    char *p = strchr(b, ' '); /* after the time on a core, in ns */
    return p ? strtod(p, NULL) / 1e9 : -1;
}

static void point_now(const stall_watch *sw, tick_point *pt)
{
    const amy_pool *p = sw->pool;
    pt->wait = run_delay(sw->schedstat);
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    pt->cpu = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    pt->nivcsw = ru.ru_nivcsw;
    pt->nvcsw = ru.ru_nvcsw;
    amy_stats st;
    amy_pool_stats(p, &st);
    pt->completed = st.completed;
    /* Last: the tick's own reads are not part of the gap that follows. */
    pt->t = bench_now();
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    stall_watch *sw = w->data;
    if (!sw->phase)
        return;
    tick_point now;
    point_now(sw, &now);
    double gap = now.t - sw->last.t;
    bench_gap *g = sw->phase;
    if (!sw->seen++)
        g->first = gap;
    if (gap > g->gap) {
        g->gap = gap;
        g->answered = now.completed - sw->last.completed;
        g->cpu = now.cpu - sw->last.cpu;
        g->nivcsw = now.nivcsw - sw->last.nivcsw;
        g->nvcsw = now.nvcsw - sw->last.nvcsw;
        g->wait =
            now.wait < 0 || sw->last.wait < 0 ? -1 : now.wait - sw->last.wait;
    }
    g->ticks++;
    sw->last = now;
}

static void phase_begin(stall_watch *sw, bench_gap *g)
{
    memset(g, 0, sizeof *g);
    sw->phase = g;
    sw->seen = 0;
    point_now(sw, &sw->last);
}

/* The phase's end counts as a tick: a gap still open when the last
 * future resolved is part of the phase. */
static void phase_end(stall_watch *sw, double t0)
{
    tick_cb(NULL, &sw->timer, 0);
    sw->phase->wall = bench_now() - t0;
    sw->phase = NULL;
}

int bench_stall_run(unsigned nconn, size_t n, int reset_on_release,
                    bench_stall *out)
{
    char params[96];
    memset(out, 0, sizeof *out);
    struct ev_loop *loop = EV_DEFAULT;
    snprintf(params, sizeof params, "pool=%u&pipeline=16&reset_on_release=%d",
             nconn, reset_on_release);
    amy_pool *p = bench_pool_new(params);
    amy_future **pins = calloc(nconn, sizeof *pins);
    amy_future **fs = calloc(n ? n : 1, sizeof *fs);
    if (!p || !pins || !fs) {
        if (p)
            amy_pool_free(p);
        free(pins);
        free(fs);
        return -1;
    }
    stall_watch sw = {
        .pool = p,
        .schedstat = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC)};
    ev_timer_init(&sw.timer, tick_cb, 0.001, 0.001);
    sw.timer.data = &sw;
    ev_timer_start(loop, &sw.timer);

    int rc = 0;
    double t0 = bench_now();
    phase_begin(&sw, &out->connect);
    for (unsigned i = 0; i < nconn; i++)
        pins[i] = amy_pool_acquire(p);
    amy_future *g = amy_gather(pins, nconn);
    if (!g || amy_future_wait(g) != AMY_OK) {
        fprintf(stderr, "STALL: acquire: %s\n",
                g ? amy_future_error(g) : "out of memory");
        rc = -1;
    }
    phase_end(&sw, t0);
    amy_future_free(g);
    if (rc == 0)
        rc = bench_pool_tls(p, &out->conns, &out->conns_tls, out->tls,
                            sizeof out->tls);
    for (unsigned i = 0; i < nconn; i++) {
        if (amy_future_status(pins[i]) == AMY_OK)
            amy_conn_release(amy_future_conn(pins[i]));
        amy_future_free(pins[i]);
    }

    for (size_t i = 0; rc == 0 && i < n; i++) {
        char sql[48];
        snprintf(sql, sizeof sql, "SELECT %zu", i);
        if (!(fs[i] = amy_query(p, sql))) {
            fprintf(stderr, "amy_query: out of memory\n");
            exit(1);
        }
    }
    if (rc == 0) {
        g = amy_gather(fs, n);
        if (!g) {
            fprintf(stderr, "amy_gather: out of memory\n");
            exit(1);
        }
        t0 = bench_now();
        phase_begin(&sw, &out->query);
        if (amy_future_wait(g) != AMY_OK)
            fprintf(stderr, "STALL: %s\n", amy_future_error(g));
        phase_end(&sw, t0);
        amy_future_free(g);
        for (size_t i = 0; i < n; i++) {
            const amy_result *r = amy_future_result(fs[i]);
            const char *v = r ? amy_result_value(r, 0, 0, NULL) : NULL;
            if (!v || strtoull(v, NULL, 10) != i)
                out->failed++;
            amy_future_free(fs[i]);
        }
    }
    ev_timer_stop(loop, &sw.timer);
    if (sw.schedstat >= 0)
        close(sw.schedstat);
    amy_pool_free(p);
    free(pins);
    free(fs);
    return rc;
}
