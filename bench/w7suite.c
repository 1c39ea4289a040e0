/*
 * W7 suite and --one W7 (the runs themselves are in w7.c).
 *
 * First every configuration's closed-loop peak: W1 (its 20,000 point
 * selects, all submitted at once and gathered), rounds interleaved. The
 * tuned amysql configuration's median is the peak that sets the offered
 * load for every client, so all get the same rates; each one's own peak
 * is printed beside its lines, so a reader sees when an offered rate is
 * past what that client can do (its queue then grows through the run and
 * its latencies grow with the run's length: not a steady state).
 *
 * Then the open-loop runs, every (configuration, load) pair once per
 * round, rounds interleaved (the order rotates by one each round); the
 * table gives medians over rounds of each figure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define W7_ROUNDS_MAX 32
#define W7_NLOADS     3

static const double w7_loads[W7_NLOADS] = {0.25, 0.50, 0.75};

typedef struct w7_cfg {
    const char *client; /* as the other tables name them */
    const char *label;
    const char *chart;  /* its name in the chart's key */
    const char *params; /* amysql's DSN keys; NULL: the threads */
    unsigned k;
    double peak[W7_ROUNDS_MAX]; /* closed-loop q/s per round */
    int npeak;
    bench_openloop o[W7_NLOADS][W7_ROUNDS_MAX];
    int no[W7_NLOADS];
    int retried; /* runs repeated after failed queries */
    size_t failed;
} w7_cfg;

/* The configurations of issue 15; the tuned one's peak sets the load. */
static w7_cfg w7_cfgs[] = {
    {.client = "amysql",
     .label = "library defaults (no pool, pipeline or read_coalesce_us key)",
     .chart = "amysql defaults",
     .params = ""},
    {.client = "amysql",
     .label = "defaults, coalescing off (read_coalesce_us=0 only)",
     .chart = "amysql defaults, read_coalesce_us=0",
     .params = "read_coalesce_us=0"},
    {.client = "amysql",
     .label = "best tuned: pool=4 pipeline=128 read_coalesce_us=300",
     .chart = "amysql pool=4 pipeline=128 read_coalesce_us=300",
     .params = "pool=4&pipeline=128&read_coalesce_us=300"},
    {.client = "threads",
     .label = "blocking libmariadb, K=16",
     .chart = "blocking threads K=16",
     .k = 16},
};
#define W7_NCFG ((int)(sizeof w7_cfgs / sizeof *w7_cfgs))
enum { W7_DEFAULTS, W7_NOCOALESCE, W7_TUNED, W7_THREADS };

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Of any number of values (the pacer's figures pool every run). */
static double median(const double *v, int n)
{
    if (n <= 0)
        return 0;
    double *t = malloc((size_t)n * sizeof *t);
    if (!t)
        exit(1);
    memcpy(t, v, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    double m = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    free(t);
    return m;
}

static double vmin(const double *v, int n)
{
    double m = n ? v[0] : 0;
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static double vmax(const double *v, int n)
{
    double m = n ? v[0] : 0;
    for (int i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

static int run_open(const w7_cfg *c, unsigned rows, bench_openloop *o)
{
    if (c->params)
        return bench_w7_amy(c->params, rows, o);
    return bench_w7_threads(c->k, rows, o);
}

/* W1 closed-loop, the way W1 runs it: q/s into *qps; failures returned. */
static int run_closed(const w7_cfg *c, const bench_work *w1,
                      const bench_work *warm, double *qps, size_t *failed)
{
    bench_sample s;
    int rc;
    if (c->params) {
        bench_g.amy_params = c->params;
        rc = bench_amy(w1, 0, 0, warm, &s);
        bench_g.amy_params = NULL;
    } else
        rc = bench_threads(w1, c->k, &s);
    if (rc != 0)
        return -1;
    *qps = (double)w1->n / s.wall;
    *failed = s.failed;
    return 0;
}

/* A run whose queries failed is repeated, twice at most, as in the other
 * workloads (a shared server may kill our sessions). */
static void closed_round(w7_cfg *c, const bench_work *w1,
                         const bench_work *warm, int r)
{
    double qps = 0;
    size_t failed = 0;
    for (int attempt = 0;; attempt++) {
        if (run_closed(c, w1, warm, &qps, &failed) != 0) {
            fprintf(stderr, "W7 %s %s: could not run\n", c->client, c->label);
            exit(1);
        }
        if (!failed || attempt == 2)
            break;
        c->retried++;
        fprintf(stderr, "  round %d  %s: %zu failed: run again\n", r + 1,
                c->label, failed);
    }
    c->failed += failed;
    c->peak[c->npeak++] = qps;
    fprintf(stderr, "  round %d  closed loop  %-8s %-60s %8.0f q/s\n", r + 1,
            c->client, c->label, qps);
}

static void open_round(w7_cfg *c, int load, double rate, double seconds,
                       double drain, unsigned rows, int r)
{
    bench_openloop o;
    for (int attempt = 0;; attempt++) {
        memset(&o, 0, sizeof o);
        o.rate = rate;
        o.seconds = seconds;
        o.drain = drain;
        if (run_open(c, rows, &o) != 0) {
            fprintf(stderr, "W7 %s %s: could not run\n", c->client, c->label);
            exit(1);
        }
        if (!o.failed || attempt == 2)
            break;
        c->retried++;
        fprintf(stderr, "  round %d  %s: %zu of %zu failed: run again\n", r + 1,
                c->label, o.failed, o.n);
    }
    c->failed += o.failed;
    c->o[load][c->no[load]++] = o;
    fprintf(stderr,
            "  round %d  %3.0f%% %-8s %-60s %7.0f of %7.0f q/s  p50 %7.0f "
            "p99 %8.0f p999 %8.0f max %8.0f us  backlog %zu unanswered %zu  "
            "cpu %.1f us/q%s\n",
            r + 1, w7_loads[load] * 100, c->client, c->label, o.achieved, rate,
            o.p50, o.p99, o.p999, o.max, o.backlog, o.outstanding,
            o.answered ? o.client_cpu / (double)o.answered * 1e6 : 0,
            o.failed ? "  FAILURES" : "");
}

typedef enum {
    F_ACH,
    F_P50,
    F_P99,
    F_P999,
    F_MAX,
    F_BACKLOG,
    F_OUT,
    F_CPU,
    F_PCPU,
    F_SCPU,
    F_LAG,
    F_BUSY
} w7_field;

static double field(const bench_openloop *o, w7_field f)
{
    double n = o->answered ? (double)o->answered : 1;
    switch (f) {
    case F_ACH:
        return o->achieved;
    case F_P50:
        return o->p50;
    case F_P99:
        return o->p99;
    case F_P999:
        return o->p999;
    case F_MAX:
        return o->max;
    case F_BACKLOG:
        return (double)o->backlog;
    case F_OUT:
        return (double)o->outstanding;
    case F_CPU:
        return o->client_cpu / n * 1e6;
    case F_PCPU:
        return o->pacer_cpu / n * 1e6;
    case F_SCPU:
        return o->server_cpu < 0 ? -1 : o->server_cpu / n * 1e6;
    case F_LAG:
        return o->pacer_lag_us;
    case F_BUSY: /* % of all the cores: client, pacer and server */
        if (o->server_cpu < 0 || o->wall <= 0)
            return -1;
        return 100 * (o->client_cpu + o->pacer_cpu + o->server_cpu) /
               (o->wall * (double)sysconf(_SC_NPROCESSORS_ONLN));
    }
    return 0;
}

static int values(const w7_cfg *c, int load, w7_field f, double *v)
{
    int n = 0;
    for (int i = 0; i < c->no[load]; i++) {
        v[n] = field(&c->o[load][i], f);
        if ((f != F_SCPU && f != F_BUSY) || v[n] >= 0)
            n++;
    }
    return n;
}

static double med(const w7_cfg *c, int load, w7_field f)
{
    double v[W7_ROUNDS_MAX];
    int n = values(c, load, f, v);
    return n ? median(v, n) : -1;
}

/* The run fell behind in some round: unanswered queries at the cap, or
 * fewer answers per second than arrived. */
static int fell_behind(const w7_cfg *c, int load, double rate)
{
    for (int i = 0; i < c->no[load]; i++) {
        const bench_openloop *o = &c->o[load][i];
        if (o->outstanding || o->achieved < 0.95 * rate)
            return 1;
    }
    return 0;
}

static void write_data(const char *dir, double peak)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/w7.dat", dir);
    FILE *fp = fopen(path, "w");
    if (!fp) {
        perror(path);
        return;
    }
    for (int j = 0; j < W7_NCFG; j++) {
        const w7_cfg *c = &w7_cfgs[j];
        if (j)
            fprintf(fp, "\n\n");
        fprintf(fp, "\"%s\" load_pct p50 p99 p999 offered\n", c->chart);
        for (int l = 0; l < W7_NLOADS; l++)
            fprintf(fp, "%.0f %.1f %.1f %.1f %.0f\n", w7_loads[l] * 100,
                    med(c, l, F_P50), med(c, l, F_P99), med(c, l, F_P999),
                    w7_loads[l] * peak);
    }
    fclose(fp);
}

static void print_target(double rate)
{
    const w7_cfg *d = &w7_cfgs[W7_DEFAULTS], *off = &w7_cfgs[W7_NOCOALESCE];
    double pd = med(d, 0, F_P99), po = med(off, 0, F_P99);
    double v[W7_ROUNDS_MAX];
    int n = d->no[0] < off->no[0] ? d->no[0] : off->no[0];
    for (int i = 0; i < n; i++)
        v[i] = d->o[0][i].p99 / off->o[0][i].p99;
    double pm = median(v, n);
    printf("\nTarget (issue 15), at 25 %% load (%.0f q/s): p99 of the library "
           "defaults %.0f µs ÷ p99 with coalescing off %.0f µs = **%.2f×** "
           "(paired per round: median %.2f×, %.2f–%.2f); target ≤ 1.2×: "
           "**%s** (judged on the paired median)\n",
           rate, pd, po, po > 0 ? pd / po : 0, pm, vmin(v, n), vmax(v, n),
           pm <= 1.2 ? "met" : "not met");
}

static void print_section(double peak, int rounds, double seconds, double drain,
                          size_t w1n)
{
    const w7_cfg *tuned = &w7_cfgs[W7_TUNED];
    printf("\n### W7: open-loop latency, `SELECT c FROM sbtest1 WHERE "
           "id=<random>` arriving at a fixed rate for %g s, at 25/50/75 %% "
           "of the tuned amysql peak\n\n",
           seconds);
    printf("Offered peak: **%.0f q/s**, the closed-loop W1 rate (%zu point "
           "selects submitted at once and gathered) of amysql %s, median of "
           "%d round%s of this run (%.0f–%.0f); every client is offered the "
           "same rates.\n\n",
           peak, w1n, tuned->label, tuned->npeak, tuned->npeak > 1 ? "s" : "",
           vmin(tuned->peak, tuned->npeak), vmax(tuned->peak, tuned->npeak));
    printf("| client | config | own closed-loop peak q/s (min–max) | load | "
           "offered q/s | achieved q/s | p50 µs | p99 µs (min–max) | p999 µs "
           "| max µs | backlog at end of arrivals | unanswered at the cap | "
           "client CPU µs/q | server CPU µs/q | cores busy |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
           "---:|---:|\n");
    int over = 0, behind = 0;
    for (int j = 0; j < W7_NCFG; j++) {
        const w7_cfg *c = &w7_cfgs[j];
        double own = median(c->peak, c->npeak);
        char note[96] = "";
        if (c->failed)
            snprintf(note, sizeof note, " **(%zu queries failed)**", c->failed);
        else if (c->retried)
            snprintf(note, sizeof note, " (%d run%s repeated after failures)",
                     c->retried, c->retried > 1 ? "s" : "");
        for (int l = 0; l < W7_NLOADS; l++) {
            double rate = w7_loads[l] * peak, v[W7_ROUNDS_MAX];
            const char *mark = "";
            if (rate > own) {
                mark = " ⚠";
                over = 1;
            } else if (fell_behind(c, l, rate)) {
                mark = " †";
                behind = 1;
            }
            int n = values(c, l, F_P99, v);
            double scpu = med(c, l, F_SCPU), busy = med(c, l, F_BUSY);
            char sc[32] = "n/a", bz[32] = "n/a";
            if (scpu >= 0)
                snprintf(sc, sizeof sc, "%.1f", scpu);
            if (busy >= 0)
                snprintf(bz, sizeof bz, "%.0f %%", busy);
            printf("| %s | %s%s | %.0f (%.0f–%.0f) | %.0f %%%s | %.0f | %.0f "
                   "| %.0f | **%.0f** (%.0f–%.0f) | %.0f | %.0f | %.0f | %.0f "
                   "| %.1f | %s | %s |\n",
                   c->client, c->label, note, own, vmin(c->peak, c->npeak),
                   vmax(c->peak, c->npeak), w7_loads[l] * 100, mark, rate,
                   med(c, l, F_ACH), med(c, l, F_P50), med(c, l, F_P99),
                   vmin(v, n), vmax(v, n), med(c, l, F_P999), med(c, l, F_MAX),
                   med(c, l, F_BACKLOG), med(c, l, F_OUT), med(c, l, F_CPU), sc,
                   bz);
        }
    }
    if (over)
        printf("\n⚠ the offered rate is above this client's own closed-loop "
               "peak: its queue grows through the run, so its latencies are "
               "not a steady state but grow with the run's length (%g s "
               "here).\n",
               seconds);
    if (behind)
        printf("\n† below its closed-loop peak, yet in some round it fell "
               "behind (answered less than 95 %% of the offered rate, or left "
               "queries unanswered at the cap).\n");
    print_target(w7_loads[0] * peak);

    /* How precise the arrivals were, over every run. */
    double lag[W7_ROUNDS_MAX * W7_NLOADS * W7_NCFG],
        late[W7_ROUNDS_MAX * W7_NLOADS * W7_NCFG], pc[W7_ROUNDS_MAX * W7_NCFG];
    int nl = 0, np = 0, rt = 0;
    for (int j = 0; j < W7_NCFG; j++)
        for (int l = 0; l < W7_NLOADS; l++)
            for (int i = 0; i < w7_cfgs[j].no[l]; i++) {
                const bench_openloop *o = &w7_cfgs[j].o[l][i];
                late[nl] = 100.0 * (double)o->pacer_late / (double)o->n;
                lag[nl++] = o->pacer_lag_us;
                rt += o->pacer_rt;
                if (l == W7_NLOADS - 1)
                    pc[np++] = field(o, F_PCPU);
            }
    printf("\nHow it is measured. Each run schedules floor(rate × %g s) "
           "queries at t_i = start + i/rate. A pacing thread (timer slack "
           "1 ns, real-time when allowed) sleeps with "
           "`clock_nanosleep(TIMER_ABSTIME)` to each t_i "
           "and releases every query due by the time it woke. amysql: the "
           "pacer bumps an atomic counter and `ev_async_send`s the loop, "
           "which wakes as for a request arriving on a socket and "
           "`amy_query`s every released query; each future's "
           "`amy_future_then` callback stamps its resolution "
           "(`CLOCK_MONOTONIC`), checks the answer (one row, non-NULL) and "
           "frees the future. threads: the pacer feeds a queue (mutex + "
           "condvar) that 16 workers with a connection each pop, "
           "`mysql_real_query` + `mysql_store_result`, stamp, check, free. "
           "Latency = stamp − **scheduled** arrival, so a client that falls "
           "behind is charged for it (no coordinated omission). The run ends "
           "when all are answered or at the cap, %g s after the last "
           "arrival; a query unanswered then counts with latency = cap − "
           "arrival (a lower bound), see its column. Percentiles: "
           "nearest rank over all the run's queries, sorted (p99 = the "
           "smallest latency with at least 99 %% of them at or below it), in "
           "µs; the table gives the median over %d rounds of each figure, "
           "the (configuration, load) runs interleaved, their order rotated "
           "each round. Backlog: queries arrived by the end of the arrivals "
           "but not yet answered then. Cores busy: client, pacer and server "
           "CPU over the timed region, as a share of all %ld cores: a query "
           "arriving alone costs both sides wakeups that a closed-loop batch "
           "shares, so a fraction of the closed-loop peak keeps the cores "
           "busier than that fraction (near 100 %%, queries wait for a core). "
           "Client CPU: the process's (getrusage) "
           "less the pacing thread's own, per answered query (the pacer "
           "cost a further %.1f µs per query at 75 %% load, median); "
           "connecting and a warm-up (2,000 queries gathered, amysql; one "
           "query per connection, threads) are outside the timed region. "
           "The pacer ran %s; it woke at most %.0f µs after a scheduled "
           "time (median over runs of each run's latest wakeup: %.0f µs), "
           "and released %.2f %% of the arrivals more than 100 µs late "
           "(median over runs; %.2f %% in the worst run): that lateness is "
           "in the latencies, charged to the client.\n",
           seconds, drain, rounds, sysconf(_SC_NPROCESSORS_ONLN),
           median(pc, np),
           rt == nl  ? "`SCHED_FIFO` (priority 1)"
           : rt == 0 ? "as a normal thread (`SCHED_FIFO` refused)"
                     : "`SCHED_FIFO` in some runs only",
           vmax(lag, nl), median(lag, nl), median(late, nl), vmax(late, nl));
    printf("\n![W7: latency by offered load](w7.png)\n");
    fflush(stdout);
}

void bench_w7_suite(const bench_work *w1, const bench_work *warm,
                    unsigned table_rows, int rounds, double seconds,
                    double drain, const char *datadir)
{
    if (rounds < 1)
        rounds = 1;
    if (rounds > W7_ROUNDS_MAX)
        rounds = W7_ROUNDS_MAX;
    fprintf(stderr,
            "== W7: open-loop latency, closed-loop peaks first (%d "
            "configurations x %d rounds), then 3 loads x %g s\n",
            W7_NCFG, rounds, seconds);
    for (int r = 0; r < rounds; r++)
        for (int j = 0; j < W7_NCFG; j++)
            closed_round(&w7_cfgs[(j + r) % W7_NCFG], w1, warm, r);
    const w7_cfg *tuned = &w7_cfgs[W7_TUNED];
    double peak = median(tuned->peak, tuned->npeak);
    fprintf(stderr, "  offered peak: %.0f q/s (tuned amysql, closed loop)\n",
            peak);
    int cells = W7_NCFG * W7_NLOADS;
    for (int r = 0; r < rounds; r++)
        for (int j = 0; j < cells; j++) {
            int cell = (j + r) % cells;
            w7_cfg *c = &w7_cfgs[cell / W7_NLOADS];
            int load = cell % W7_NLOADS;
            open_round(c, load, w7_loads[load] * peak, seconds, drain,
                       table_rows, r);
        }
    print_section(peak, rounds, seconds, drain, w1->n);
    if (datadir)
        write_data(datadir, peak);
}

int bench_w7_one(const char *client, const char *params, unsigned k,
                 double rate, double seconds, double drain, unsigned table_rows,
                 int repeat)
{
    int amy = !strcmp(client, "amy");
    if (!amy && strcmp(client, "threads")) {
        fprintf(stderr, "--one W7: --client amy or threads\n");
        return -1;
    }
    int bad = 0;
    for (int r = 0; r < repeat; r++) {
        bench_openloop o = {.rate = rate, .seconds = seconds, .drain = drain};
        int rc = amy ? bench_w7_amy(params, table_rows, &o)
                     : bench_w7_threads(k, table_rows, &o);
        if (rc != 0)
            return -1;
        double n = o.answered ? (double)o.answered : 1;
        char what[160];
        if (amy)
            snprintf(what, sizeof what, "amy (%s)",
                     *params ? params : "library defaults");
        else
            snprintf(what, sizeof what, "threads (K=%u)", k);
        printf("W7 %s: offered %.0f q/s for %g s (%zu queries): achieved "
               "%.0f q/s p50 %.0f p99 %.0f p999 %.0f max %.0f us; backlog "
               "%zu unanswered at cap %zu failed %zu; client CPU %.2f us/q "
               "(pacer %.2f us/q, not counted) server CPU %.2f us/q; %u "
               "connections; pacer%s latest wakeup %.0f us, %zu wakeups, "
               "%zu arrivals released > 100 us late\n",
               what, rate, seconds, o.n, o.achieved, o.p50, o.p99, o.p999,
               o.max, o.backlog, o.outstanding, o.failed,
               o.client_cpu / n * 1e6, o.pacer_cpu / n * 1e6,
               o.server_cpu < 0 ? -1 : o.server_cpu / n * 1e6, o.conns,
               o.pacer_rt ? " (SCHED_FIFO)" : "", o.pacer_lag_us, o.wakeups,
               o.pacer_late);
        fflush(stdout);
        bad |= o.failed != 0;
    }
    return bad ? -1 : 0;
}
