/*
 * amy_bench: amysql against blocking libmariadb, in one run.
 *
 *   amy_bench [--dsn DSN] [--rounds R] [--only W1,W3] [--data DIR]
 *             [--server-pid PID] [--quick] [--w6-rounds R]
 *       The suite: every configuration of a workload runs once per round,
 *       rounds interleaved (A B C, B C A, ...), so a noisy neighbour hits
 *       every client alike. Prints a Markdown table on stdout (progress on
 *       stderr) and, with --data, gnuplot data for the chart. W6 (bulk
 *       insert, ~30 s per blocking run) has rounds of its own, --w6-rounds
 *       (default 3).
 *
 *   amy_bench --one W1 --client amy|threads|blocking|node [--pool P]
 *             [--pipeline D] [--threads K] [--n N] [--repeat R]
 *             [--sql STATEMENT] [--timeline] [--io-collect-us US]
 *             [--coalesce-us US] [--observe]
 *       One configuration only, for perf / callgrind / strace. --observe
 *       sets an observer that only counts its events on amysql's pools
 *       (what an observer costs, issue 14). --pool and
 *       --pipeline absent (or 0) leave the key out of the DSN: the
 *       library's default; a --pipeline given comes with read_coalesce_us
 *       set to --coalesce-us (0 when absent). --sql runs
 *       that statement (one row expected) n times instead; --timeline
 *       prints when amysql's answers arrived; --io-collect-us sets libev's
 *       io_collect_interval on the loop. --client node: Node's mariadb
 *       driver (bench/node/w1.js; AMY_BENCH_NODE_DIR, AMY_BENCH_NODE_BIN),
 *       --pool connections (1, the default: one pipelining connection).
 *
 *   amy_bench --one W6 --client batch|amy|blocking|multi [--n N]
 *             [--pool P] [--pipeline D] [--rows-per-insert R] [--repeat R]
 *       W6 one client: N rows into an emptied bulk1, checked after.
 *
 *   amy_bench --one STALL [--tls] [--pool CONNS] [--n N]
 *             [--reset-on-release 0|1] [--repeat R]
 *       The loop's longest stall (bench/stall.c) while CONNS (200)
 *       connections open and then N (20,000) queries run over them.
 *
 *   amy_bench --one W7 --client amy|threads --rate QPS [--seconds S]
 *             [--pool P --pipeline D --coalesce-us US | --params 'k=v&...']
 *             [--threads K] [--drain-ms MS] [--repeat R]
 *       W7, open-loop latency (bench/w7.c): point selects arriving at QPS
 *       for S (4) seconds; one line with the achieved rate, p50/p99/p999/
 *       max in µs and client CPU µs/query. amysql gets exactly the keys
 *       given (none: the library's defaults). The suite's W7 (--only W7)
 *       runs --w7-rounds R (3) rounds of --seconds S each.
 *
 * TLS: W1T (W1 over TLS against plaintext, same rounds) and STALL run on
 * the same server with TLS: --dsn made to say ssl_mode=verify_identity
 * and ssl_ca=FILE (--ssl-ca, default $AMY_TEST_TLS_DIR/ca.pem), or
 * --tls-dsn DSN; --tls makes a --one run use it. A DSN without ssl_mode
 * gets ssl_mode=disabled: the library's default is preferred, and the
 * plaintext lines must stay plaintext. Every run checks afterwards that
 * its connections were encrypted, or not, as its DSN says.
 *
 * With AMY_BENCH_PERF_CTL (and
 *       AMY_BENCH_PERF_ACK) naming perf's --control fifos, perf counts the
 *       timed regions only.
 *
 * The DSN defaults to $AMY_TEST_DSN. W1 and W3 need the table sbtest1,
 * which is created and loaded here when missing; W6 (re)creates bulk1.
 */
#include <errno.h>
#include <ev.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "amysql.h"
#include "bench.h"

#define MAX_ROUNDS  32
#define MAX_CONFIGS 32
#define TABLE_ROWS  10000
/* The DSN table's defaults for pool and pipeline (README): what a pool
 * made without those keys runs with, for labels only. */
#define LIB_POOL     4
#define LIB_PIPELINE 128
#define LIB_COALESCE 300

/* W6 (rows to insert) uses C_BLOCKING and C_AMY for one INSERT per row,
 * and two clients of its own: multi-row INSERTs and amy_exec_batch. W1
 * has C_NODE, Node's mariadb driver: pool is its connections, pipeline
 * the queries it has in flight (for the table). */
enum client { C_BLOCKING, C_THREADS, C_AMY, C_MULTI, C_BATCH, C_NODE };
static const char *const client_names[] = {"blocking", "threads", "amysql",
                                           "blocking", "amysql",  "node"};

typedef struct config {
    int client;
    unsigned k; /* threads */
    unsigned pool, pipeline;
    const bench_work *warm; /* amysql only */
    bench_sample s[MAX_ROUNDS];
    int ns;
    int retried; /* runs repeated because statements failed */
    /* libev's io_collect_interval for this run, µs (0 = libev's default).
     * An informative extra line: the library as it is, on a loop told to
     * collect I/O events in batches; never counted as "best amysql". */
    unsigned collect_us;
    /* The pool's read_coalesce_us (µs, 0 = off): a setting of amysql, so
     * such a line may be the best amysql configuration. */
    unsigned coalesce_us;
    /* W6: rows this client inserts per run (0 = the workload's n), and the
     * rows per statement of the multi-row INSERT client. */
    size_t n;
    unsigned per_stmt;
    /* W1T: the run connects over TLS (bench_g.tls_dsn); amysql with pool
     * 0: a DSN without pool and pipeline keys, the library's defaults. */
    int tls;
} config;

typedef struct workload {
    const char *id, *title;
    bench_work work;
    double ideal; /* seconds, for latency-bound workloads; 0 otherwise */
    config c[MAX_CONFIGS];
    int nc;
    int rounds; /* 0 = --rounds */
} workload;

static void refresh_server_pid(void);

static int opt_rounds = 3;
static int opt_w6_rounds = 3;
static unsigned opt_per_stmt = 1000;
static int opt_quick;
static int opt_reset = 1; /* --one STALL: reset_on_release */
/* W7 (bench/w7.c): rounds, seconds of arrivals per run, the drain after
 * them, the offered rate and DSN keys of --one W7. */
static int opt_w7_rounds = 3;
static double opt_w7_seconds = 4, opt_w7_drain = 1, opt_w7_rate;
static const char *opt_w7_params;
static int opt_coalesce_given;
static const char *opt_only;
static const char *opt_data;

/* ------------------------------------------------------------------------ */
/* Statements                                                               */
/* ------------------------------------------------------------------------ */

static char **sql_list(size_t n, uint64_t seed, const char *fmt, int kind)
{
    char **v = calloc(n, sizeof *v);
    if (!v)
        exit(1);
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) {
        char buf[160];
        if (kind == 0) /* point select: any row */
            snprintf(buf, sizeof buf, fmt,
                     (unsigned)(1 + bench_rand(&st) % TABLE_ROWS));
        else if (kind == 1) { /* 100-row range inside the table */
            unsigned a = (unsigned)(1 + bench_rand(&st) % (TABLE_ROWS - 99));
            snprintf(buf, sizeof buf, fmt, a, a + 99);
        } else
            snprintf(buf, sizeof buf, "%s", fmt);
        v[i] = strdup(buf);
        if (!v[i])
            exit(1);
    }
    return v;
}

static const char *const POINT_SQL = "SELECT c FROM sbtest1 WHERE id=%u";
static const char *const RANGE_SQL =
    "SELECT c FROM sbtest1 WHERE id BETWEEN %u AND %u";

/* ------------------------------------------------------------------------ */
/* Table                                                                    */
/* ------------------------------------------------------------------------ */

/* sysbench's shape: c is ten groups of 11 digits joined by '-', pad five. */
static void digit_groups(char *out, size_t outlen, int groups)
{
    size_t o = (size_t)snprintf(out, outlen, "CONCAT_WS('-'");
    for (int i = 0; i < groups && o < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o,
                              ", LPAD(FLOOR(RAND()*99999999999), 11, '0')");
    if (o < outlen)
        snprintf(out + o, outlen - o, ")");
}

static int ensure_table(MYSQL *m)
{
    char err[512];
    if (bench_exec(m,
                   "CREATE TABLE IF NOT EXISTS sbtest1 ("
                   "id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
                   "k INT NOT NULL DEFAULT 0, "
                   "c CHAR(120) NOT NULL DEFAULT '', "
                   "pad CHAR(60) NOT NULL DEFAULT '', "
                   "KEY k_1 (k)) ENGINE=InnoDB",
                   err, sizeof err)) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    const char *q = "SELECT COUNT(*), MIN(id), MAX(id) FROM sbtest1";
    if (mysql_query(m, q) != 0) {
        fprintf(stderr, "setup: %s\n", mysql_error(m));
        return -1;
    }
    MYSQL_RES *res = mysql_store_result(m);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    int ok = row && row[0] && row[1] && row[2] && atol(row[0]) == TABLE_ROWS &&
             atol(row[1]) == 1 && atol(row[2]) == TABLE_ROWS;
    if (res)
        mysql_free_result(res);
    if (ok)
        return 0;
    fprintf(stderr, "setup: loading %d rows into sbtest1\n", TABLE_ROWS);
    char c[1024], pad[512], sql[2048];
    digit_groups(c, sizeof c, 10);
    digit_groups(pad, sizeof pad, 5);
    snprintf(sql, sizeof sql,
             "INSERT INTO sbtest1 (id, k, c, pad) "
             "SELECT seq, 1 + FLOOR(RAND()*%d), %s, %s FROM seq_1_to_%d",
             TABLE_ROWS, c, pad, TABLE_ROWS);
    if (bench_exec(m, "TRUNCATE TABLE sbtest1", err, sizeof err) ||
        bench_exec(m, sql, err, sizeof err)) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* W6: the table bulk1                                                      */
/* ------------------------------------------------------------------------ */

/* Digits in groups of 11 joined by '-', as sysbench's c and pad. */
static void digit_text(char *out, int groups, uint64_t *st)
{
    for (int i = 0; i < groups; i++)
        out += sprintf(out, "%s%011llu", i ? "-" : "",
                       (unsigned long long)(bench_rand(st) % 100000000000ull));
}

/* Rows 1..n, the same for every client (fixed seed). */
static bench_row *make_rows(size_t n)
{
    bench_row *rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows)
        exit(1);
    uint64_t st = 6;
    for (size_t i = 0; i < n; i++) {
        rows[i].id = (int32_t)(i + 1);
        rows[i].k = (int32_t)(1 + bench_rand(&st) % n);
        digit_text(rows[i].c, 10, &st);
        digit_text(rows[i].pad, 5, &st);
    }
    return rows;
}

static int bulk_sql(const char *sql)
{
    char err[512];
    MYSQL *m = bench_connect(err, sizeof err);
    if (!m || bench_exec(m, sql, err, sizeof err)) {
        fprintf(stderr, "W6: %s\n", err);
        if (m)
            mysql_close(m);
        return -1;
    }
    mysql_close(m);
    return 0;
}

static int ensure_bulk_table(void)
{
    return bulk_sql("CREATE OR REPLACE TABLE bulk1 ("
                    "id INT NOT NULL PRIMARY KEY, "
                    "k INT NOT NULL, "
                    "c CHAR(120) NOT NULL, "
                    "pad CHAR(60) NOT NULL) ENGINE=InnoDB");
}

/* Before every run, untimed: an empty table. */
static void bulk_reset(void)
{
    if (bulk_sql("TRUNCATE TABLE bulk1") != 0)
        exit(1);
}

/* After every run, untimed: the table must hold exactly rows 1..n. A run
 * whose statements all succeeded but left anything else is a bug in the
 * client measured: stop the suite rather than print a number for it. */
static void bulk_verify(const bench_work *w, size_t n, const char *who,
                        const bench_sample *s)
{
    char err[512], sql[128];
    MYSQL *m = bench_connect(err, sizeof err);
    if (!m) {
        fprintf(stderr, "W6 check: %s\n", err);
        exit(1);
    }
    unsigned long long sumk = 0;
    for (size_t i = 0; i < n; i++)
        sumk += (unsigned long long)w->rows[i].k;
    size_t mid = n / 2 + 1; /* any row: its text must be there exactly */
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*), SUM(k), MIN(id), MAX(id), "
             "(SELECT CONCAT(c, '/', pad) FROM bulk1 WHERE id=%zu) "
             "FROM bulk1",
             mid);
    char got[512] = "", want[256] = "";
    unsigned long long count = 0, sum = 0, lo = 0, hi = 0;
    if (mysql_query(m, sql) != 0) {
        fprintf(stderr, "W6 check: %s\n", mysql_error(m));
        exit(1);
    }
    MYSQL_RES *res = mysql_store_result(m);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    if (row) {
        count = row[0] ? strtoull(row[0], NULL, 10) : 0;
        sum = row[1] ? strtoull(row[1], NULL, 10) : 0;
        lo = row[2] ? strtoull(row[2], NULL, 10) : 0;
        hi = row[3] ? strtoull(row[3], NULL, 10) : 0;
        snprintf(got, sizeof got, "%s", row[4] ? row[4] : "(none)");
    }
    if (res)
        mysql_free_result(res);
    mysql_close(m);
    if (n)
        snprintf(want, sizeof want, "%s/%s", w->rows[mid - 1].c,
                 w->rows[mid - 1].pad);
    int ok = count == n && sum == sumk && (n == 0 || (lo == 1 && hi == n)) &&
             (n == 0 || !strcmp(got, want));
    if (ok || s->failed)
        return; /* failed rows: the run is repeated or reported */
    fprintf(stderr,
            "W6 %s: FAILED CHECK: every statement succeeded but bulk1 holds "
            "%llu rows (expected %zu), SUM(k) %llu (expected %llu), ids "
            "%llu..%llu, row %zu %s\n",
            who, count, n, sum, sumk, lo, hi, mid,
            strcmp(got, want) ? "differs" : "as inserted");
    exit(1);
}

/* What decides the cost of a commit on this server, for the report. */
static char bulk_settings[1024];

static void fs_type(const char *path, char *out, size_t outlen)
{
    snprintf(out, outlen, "?");
    FILE *fp = fopen("/proc/self/mounts", "r");
    if (!fp)
        return;
    char dev[512], dir[512], type[64];
    size_t best = 0;
    while (fscanf(fp, "%511s %511s %63s %*[^\n]", dev, dir, type) == 3) {
        size_t l = strlen(dir);
        if (l >= best && !strncmp(path, dir, l) &&
            (l == 1 || path[l] == '/' || path[l] == '\0')) {
            best = l;
            snprintf(out, outlen, "%s", type);
        }
    }
    fclose(fp);
}

static void read_bulk_settings(void)
{
    char err[512];
    MYSQL *m = bench_connect(err, sizeof err);
    if (!m)
        return;
    const char *q =
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN ("
        "'innodb_flush_log_at_trx_commit', 'sync_binlog', 'log_bin', "
        "'innodb_doublewrite', 'innodb_flush_method', "
        "'innodb_buffer_pool_size', 'innodb_log_file_size', "
        "'max_allowed_packet', 'autocommit', 'datadir')";
    if (mysql_query(m, q) != 0) {
        mysql_close(m);
        return;
    }
    MYSQL_RES *res = mysql_store_result(m);
    MYSQL_ROW row;
    size_t o = 0;
    char datadir[512] = "";
    while (res && (row = mysql_fetch_row(res)) && o < sizeof bulk_settings) {
        if (!row[0] || !row[1])
            continue;
        if (!strcmp(row[0], "datadir")) {
            snprintf(datadir, sizeof datadir, "%s", row[1]);
            continue;
        }
        const char *v = row[1];
        char mib[32];
        if (strstr(row[0], "size") || strstr(row[0], "packet")) {
            snprintf(mib, sizeof mib, "%llu MiB", strtoull(v, NULL, 10) >> 20);
            v = mib;
        }
        o += (size_t)snprintf(bulk_settings + o, sizeof bulk_settings - o,
                              "%s%s=%s", o ? ", " : "", row[0], v);
    }
    if (res)
        mysql_free_result(res);
    mysql_close(m);
    if (datadir[0] && o < sizeof bulk_settings) {
        char type[64];
        fs_type(datadir, type, sizeof type);
        snprintf(bulk_settings + o, sizeof bulk_settings - o,
                 "; datadir on %s%s", type,
                 bench_g.server_pid ? ""
                                    : " (if the server is on this machine)");
    }
}

/* ------------------------------------------------------------------------ */
/* Statistics                                                               */
/* ------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct stat3 {
    double med, min, max;
} stat3;

static stat3 stats(const double *v, int n)
{
    stat3 r = {0, 0, 0};
    if (n <= 0)
        return r;
    double t[MAX_ROUNDS];
    memcpy(t, v, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    r.min = t[0];
    r.max = t[n - 1];
    r.med = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    return r;
}

typedef enum { M_QPS, M_WALL, M_CPU, M_SCPU, M_SYS } metric;

static double metric_of(const config *c, const workload *w, int i, metric m)
{
    const bench_sample *s = &c->s[i];
    double n = (double)(c->n ? c->n : w->work.n);
    switch (m) {
    case M_QPS:
        return n / s->wall;
    case M_WALL:
        return s->wall;
    case M_CPU:
        return s->client_cpu / n * 1e6;
    case M_SCPU:
        return s->server_cpu < 0 ? -1 : s->server_cpu / n * 1e6;
    case M_SYS: /* the kernel's share of the client's CPU, in % */
        return s->client_cpu > 0 ? 100 * s->client_sys / s->client_cpu : 0;
    }
    return 0;
}

static stat3 cstat(const config *c, const workload *w, metric m)
{
    double v[MAX_ROUNDS];
    int n = 0;
    for (int i = 0; i < c->ns; i++) {
        v[n] = metric_of(c, w, i, m);
        /* Server CPU is unknown (-1) for a round whose server pid was
         * unreadable: the median is over the rounds that have it. */
        if (m != M_SCPU || v[n] >= 0)
            n++;
    }
    if (n == 0 && m == M_SCPU)
        return (stat3){-1, -1, -1};
    return stats(v, n);
}

/* Ratios of queries/s between two configurations, round by round: both ran
 * within seconds of each other, so the pair shares the same noise. */
static stat3 paired(const config *a, const config *b, const workload *w)
{
    double v[MAX_ROUNDS];
    int n = a->ns < b->ns ? a->ns : b->ns;
    for (int i = 0; i < n; i++)
        v[i] = metric_of(a, w, i, M_QPS) / metric_of(b, w, i, M_QPS);
    return stats(v, n);
}

/* ------------------------------------------------------------------------ */
/* Node's mariadb driver, a peer in W1 (bench/node.c, bench/node/w1.js)    */
/* ------------------------------------------------------------------------ */

/* The driver's version and node's, or why the lines are left out. */
static char node_version[16], node_runtime[32];
static char node_why[256];

static void label(const config *c, char *buf, size_t len);
static const config *find(const workload *w, int client);

/* bench_node_probe, its answer ("3.5.4 v20.20.2") split in two. */
static int node_probe(void)
{
    char v[64];
    if (bench_node_probe(v, sizeof v, node_why, sizeof node_why) != 0)
        return -1;
    char *sp = strchr(v, ' ');
    snprintf(node_runtime, sizeof node_runtime, "%.31s", sp ? sp + 1 : "?");
    if (sp)
        *sp = '\0';
    snprintf(node_version, sizeof node_version, "%.15s", v);
    return 0;
}

/* pool is its connections: 1 is one connection with the driver's default
 * pipelining (everything in flight at once), more a createPool. */
static void node_label(const config *c, char *buf, size_t len)
{
    if (c->pool <= 1)
        snprintf(buf, len, "mariadb %s, 1 connection, pipelining",
                 node_version);
    else
        snprintf(buf, len, "mariadb %s, createPool of %u", node_version,
                 c->pool);
}

/* --one W1 --client node: pool is the connections (1: one pipelining). */
static int run_one_node(const bench_work *w, unsigned pool,
                        const bench_work *warm, bench_sample *s)
{
    if (!node_version[0] && node_probe() != 0) {
        fprintf(stderr, "node: %s\n", node_why);
        return -1;
    }
    return bench_node(w, pool ? pool : 1, warm, s);
}

/* The Node lines of W1, when node and the driver are there. in_flight:
 * one pipelining connection sends every statement at once; the pool runs
 * one query at a time on each connection. */
static void add_node_configs(workload *w, const bench_work *warm)
{
    if (bench_g.ci.tls)
        snprintf(node_why, sizeof node_why, "the DSN asks for TLS");
    else if (node_probe() == 0) {
        const unsigned conns[] = {1, 4, 16};
        for (int i = 0; i < 3; i++) {
            config *c = &w->c[w->nc++];
            memset(c, 0, sizeof *c);
            c->client = C_NODE;
            c->pool = conns[i];
            c->pipeline = conns[i] == 1 ? (unsigned)w->work.n : 1;
            c->warm = warm;
        }
        return;
    }
    fprintf(stderr, "W1: the Node lines are left out: %s\n", node_why);
}

/* Ends a ratio line: the verdict on target (judged on the median of the
 * paired ratios p) when there is one. */
static void end_target_line(const stat3 *p, double target)
{
    if (target > 0)
        printf("; target ≥ %.1f×: **%s**", target,
               p->med >= target ? "met" : "not met");
    printf("\n");
}

/* One comparison with a Node line: the ratio of medians and the per-round
 * paired ratios (the two ran within seconds of each other). */
static void node_line(const workload *w, const config *a, const config *b,
                      double target)
{
    if (!a || !b)
        return;
    char la[64], lbl[64];
    label(a, la, sizeof la);
    label(b, lbl, sizeof lbl);
    stat3 p = paired(a, b, w);
    stat3 qa = cstat(a, w, M_QPS), qb = cstat(b, w, M_QPS);
    printf("- amysql %s: %.0f q/s, client CPU %.1f µs/q ÷ node %s (%.0f q/s, "
           "%.1f µs/q) = **%.2f×** (paired per round: median %.2f×, "
           "%.2f–%.2f)",
           la, qa.med, cstat(a, w, M_CPU).med, lbl, qb.med,
           cstat(b, w, M_CPU).med, qa.med / qb.med, p.med, p.min, p.max);
    end_target_line(&p, target);
}

/* Under the W1 table: how the Node lines were measured, and amysql against
 * them; or why there are none. */
static void print_node_lines(const workload *w)
{
    const config *one = NULL, *pool1 = NULL, *defaults = NULL, *tuned = NULL;
    const config *best = find(w, C_NODE), *amy = find(w, C_AMY);
    for (int i = 0; i < w->nc; i++) {
        const config *c = &w->c[i];
        if (c->client == C_NODE && c->pool == 1)
            one = c;
        if (c->client == C_AMY && !c->collect_us && !c->coalesce_us) {
            if (c->pool == 1 && !c->pipeline)
                pool1 = c;
            if (!c->pool)
                defaults = c;
        }
        /* The best tuned configuration of earlier runs. */
        if (c->client == C_AMY && !c->collect_us && c->pool == 4 &&
            c->pipeline == 128 && c->coalesce_us == 300)
            tuned = c;
    }
    if (!best) {
        printf("\nNode's `mariadb` driver: not run (%s).\n", node_why);
        fflush(stdout);
        return;
    }
    printf(
        "\nnode: Node.js %s with the `mariadb` %s driver "
        "(`bench/node/w1.js`, one node process per run): the same "
        "statements, each as literal SQL text, all submitted at once "
        "(`Promise.allSettled` of `query(sql)`), each answer checked "
        "(1 row, `c` not NULL); its connections opened and the first "
        "tenth of the statements run before the timed region; wall "
        "time and client CPU (`process.cpuUsage()`, the whole process) "
        "measured inside node around the batch, the server's CPU read "
        "around it as for every line. One connection: the driver's "
        "default `pipelining: true`; a pool: `createPool({connectionLimit})`, "
        "which runs one query at a time on each connection.\n",
        node_runtime, node_version);
    printf("\nAgainst Node's `mariadb` driver (issue 15), judged on the "
           "median of the per-round paired ratios:\n");
    node_line(w, pool1, one, 1.5);
    node_line(w, defaults, one, 0);
    node_line(w, tuned, one, 0);
    if (amy != pool1 && amy != defaults && amy != tuned)
        node_line(w, amy, one, 0); /* the best amysql of this run */
    if (best != one)
        node_line(w, amy, best, 0);
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* Running                                                                  */
/* ------------------------------------------------------------------------ */

static void label(const config *c, char *buf, size_t len)
{
    switch (c->client) {
    case C_BLOCKING:
        snprintf(buf, len, "%s1 connection",
                 c->n || c->per_stmt ? "one INSERT per row, " : "");
        break;
    case C_MULTI:
        snprintf(buf, len, "INSERT of %u rows, 1 connection", c->per_stmt);
        break;
    case C_BATCH:
        snprintf(buf, len, "amy_exec_batch, all rows in 1 call");
        break;
    case C_THREADS:
        snprintf(buf, len, "K=%u", c->k);
        break;
    case C_NODE:
        node_label(c, buf, len);
        break;
    default:
        if (!c->pool && !c->pipeline)
            snprintf(buf, len,
                     "library defaults (pool=%u pipeline=%u "
                     "read_coalesce_us=%u)",
                     LIB_POOL, LIB_PIPELINE, LIB_COALESCE);
        else if (!c->pipeline)
            snprintf(buf, len, "pool=%u, library defaults", c->pool);
        else
            snprintf(buf, len, "%spool=%u pipeline=%u",
                     c->n ? "amy_query_params per row, " : "", c->pool,
                     c->pipeline);
        if (c->collect_us)
            snprintf(buf + strlen(buf), len - strlen(buf),
                     ", libev io_collect %g ms", c->collect_us / 1000.0);
        if (c->coalesce_us)
            snprintf(buf + strlen(buf), len - strlen(buf),
                     " read_coalesce_us=%u", c->coalesce_us);
    }
}

static unsigned in_flight(const config *c)
{
    switch (c->client) {
    case C_BLOCKING:
    case C_MULTI:
    case C_BATCH:
        return 1;
    case C_THREADS:
        return c->k;
    default: /* node: pool connections, pipeline in flight on each */
        return (c->pool ? c->pool : LIB_POOL) *
               (c->pipeline ? c->pipeline : LIB_PIPELINE);
    }
}

/* W6: every run starts from an empty table and is checked after it, both
 * outside its timed region. */
static int run_insert(const workload *w, const config *c, bench_sample *s)
{
    size_t n = c->n ? c->n : w->work.n;
    int rc;
    bulk_reset();
    switch (c->client) {
    case C_BLOCKING:
        rc = bench_blocking_insert(&w->work, n, 1, s);
        break;
    case C_MULTI:
        rc = bench_blocking_insert(&w->work, n, c->per_stmt, s);
        break;
    case C_BATCH:
        rc = bench_amy_batch(&w->work, n, s);
        break;
    default:
        rc = bench_amy_insert(&w->work, n, c->pool, c->pipeline, s);
    }
    if (rc == 0) {
        char lb[64];
        label(c, lb, sizeof lb);
        bulk_verify(&w->work, n, lb, s);
    }
    return rc;
}

static int run_config_tls(const workload *w, const config *c, bench_sample *s);

static int run_config(const workload *w, const config *c, bench_sample *s)
{
    bench_g.use_tls = c->tls;
    int rc = run_config_tls(w, c, s);
    bench_g.use_tls = 0;
    return rc;
}

static int run_config_tls(const workload *w, const config *c, bench_sample *s)
{
    if (w->work.rows)
        return run_insert(w, c, s);
    switch (c->client) {
    case C_BLOCKING:
        return bench_blocking(&w->work, s);
    case C_THREADS:
        return bench_threads(&w->work, c->k, s);
    case C_NODE:
        return bench_node(&w->work, c->pool, c->warm, s);
    default:
        ev_set_io_collect_interval(EV_DEFAULT, c->collect_us / 1e6);
        unsigned coalesce = bench_g.coalesce_us;
        if (c->coalesce_us)
            bench_g.coalesce_us = c->coalesce_us;
        int rc = bench_amy(&w->work, c->pool, c->pipeline, c->warm, s);
        bench_g.coalesce_us = coalesce;
        ev_set_io_collect_interval(EV_DEFAULT, 0.);
        return rc;
    }
}

static config *add(workload *w, int client, unsigned a, unsigned b)
{
    config *c = &w->c[w->nc++];
    memset(c, 0, sizeof *c);
    c->client = client;
    if (client == C_THREADS)
        c->k = a;
    if (client == C_AMY) {
        c->pool = a;
        c->pipeline = b;
    }
    return c;
}

static void run_workload(workload *w)
{
    int rounds = w->rounds ? w->rounds : opt_rounds;
    const char *unit = w->work.rows ? "row" : "q";
    fprintf(stderr, "== %s: %s (%d configurations x %d rounds)\n", w->id,
            w->title, w->nc, rounds);
    for (int r = 0; r < rounds; r++) {
        for (int j = 0; j < w->nc; j++) {
            config *c = &w->c[(j + r) % w->nc];
            size_t n = c->n ? c->n : w->work.n;
            char lb[64];
            label(c, lb, sizeof lb);
            bench_sample s;
            /* A failed statement makes the timing meaningless (errors come
             * back fast); on a shared test server another session may have
             * killed our connections. Such a run is repeated, twice at
             * most, and counted in the table. */
            for (int attempt = 0;; attempt++) {
                refresh_server_pid();
                if (run_config(w, c, &s) != 0) {
                    fprintf(stderr, "%s %s %s: could not run\n", w->id,
                            client_names[c->client], lb);
                    exit(1);
                }
                if (!s.failed || attempt == 2)
                    break;
                c->retried++;
                fprintf(stderr,
                        "  round %d  %-8s %-22s %zu of %zu %s failed: run "
                        "again\n",
                        r + 1, client_names[c->client], lb, s.failed, n,
                        w->work.rows ? "rows" : "statements");
            }
            c->s[c->ns++] = s;
            if (c->tls)
                snprintf(lb + strlen(lb), sizeof lb - strlen(lb), ", TLS");
            fprintf(stderr,
                    "  round %d  %-8s %-22s %8.3f s %9.0f %s/s  cpu %6.1f "
                    "us/%s  server %6.1f us/%s  setup %.2f s%s\n",
                    r + 1, client_names[c->client], lb, s.wall,
                    (double)n / s.wall, unit, s.client_cpu / (double)n * 1e6,
                    unit, s.server_cpu / (double)n * 1e6, unit, s.setup,
                    s.failed ? "  FAILURES" : "");
            if (s.failed)
                fprintf(stderr, "  %zu of %zu %s failed\n", s.failed, n,
                        w->work.rows ? "rows" : "statements");
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Reporting                                                                */
/* ------------------------------------------------------------------------ */

static void fmt_ratio(char *buf, size_t len, const config *a, const config *b,
                      const workload *w)
{
    if (!b || b == a) {
        snprintf(buf, len, "—");
        return;
    }
    double r = cstat(a, w, M_QPS).med / cstat(b, w, M_QPS).med;
    stat3 p = paired(a, b, w);
    snprintf(buf, len, "%.2f× (%.2f–%.2f)", r, p.min, p.max);
}

static const config *find(const workload *w, int client)
{
    const config *best = NULL;
    for (int i = 0; i < w->nc; i++) {
        const config *c = &w->c[i];
        if (c->client == client && !c->collect_us &&
            (!best || cstat(c, w, M_QPS).med > cstat(best, w, M_QPS).med))
            best = c;
    }
    return best;
}

static size_t total_failed(const config *c)
{
    size_t f = 0;
    for (int i = 0; i < c->ns; i++)
        f += c->s[i].failed;
    return f;
}

/* " **(N <what> failed)**", or how many runs were repeated, or "". */
static void failure_note(const config *c, const char *what, char *buf,
                         size_t len)
{
    size_t failed = total_failed(c);
    buf[0] = '\0';
    if (failed)
        snprintf(buf, len, " **(%zu %s failed)**", failed, what);
    else if (c->retried)
        snprintf(buf, len, " (%d run%s repeated after failures)", c->retried,
                 c->retried > 1 ? "s" : "");
}

static void print_table(const workload *w)
{
    const config *blk = find(w, C_BLOCKING);
    const config *thr = find(w, C_THREADS);
    const config *amy = find(w, C_AMY);
    printf("\n### %s: %s\n\n", w->id, w->title);
    printf("| client | config | in flight | queries/s median (min–max) | "
           "wall s | client CPU µs/q (%% in kernel) | server CPU µs/q | "
           "× blocking "
           "(paired min–max) | × best threads%s |\n",
           w->ideal > 0 ? " | × ideal time" : "");
    printf("|---|---|---:|---:|---:|---:|---:|---:|---:%s|\n",
           w->ideal > 0 ? "|---:" : "");
    for (int i = 0; i < w->nc; i++) {
        const config *c = &w->c[i];
        char lb[64], rb[64], rt[64], fl[64] = "";
        label(c, lb, sizeof lb);
        stat3 q = cstat(c, w, M_QPS), wall = cstat(c, w, M_WALL);
        stat3 cpu = cstat(c, w, M_CPU), scpu = cstat(c, w, M_SCPU);
        stat3 sys = cstat(c, w, M_SYS);
        fmt_ratio(rb, sizeof rb, c, blk, w);
        fmt_ratio(rt, sizeof rt, c, thr, w);
        failure_note(c, "statements", fl, sizeof fl);
        const char *mark = (c == amy || c == thr) ? "**" : "";
        printf("| %s%s%s | %s%s | %u | %s%.0f%s (%.0f–%.0f) | %.3f | %.1f "
               "(%.0f%%) | ",
               mark, client_names[c->client], mark, lb, fl, in_flight(c), mark,
               q.med, mark, q.min, q.max, wall.med, cpu.med, sys.med);
        if (scpu.med < 0)
            printf("n/a");
        else
            printf("%.1f", scpu.med);
        printf(" | %s | %s", rb, rt);
        if (w->ideal > 0)
            printf(" | %.2f× (%.3f–%.3f s)", wall.med / w->ideal, wall.min,
                   wall.max);
        printf(" |\n");
    }
    double setup[MAX_ROUNDS];
    if (amy) {
        for (int i = 0; i < amy->ns; i++)
            setup[i] = amy->s[i].setup;
        stat3 st = stats(setup, amy->ns);
        char lb[64];
        label(amy, lb, sizeof lb);
        printf("\nBest amysql: %s. Its untimed set-up (pool opened, first "
               "batch run) took %.3f s median.\n",
               lb, st.med);
    }
    /* Client and server share the cores: when both are busy, the sum of
     * their CPU per query bounds the rate whatever the client does. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const config *best[] = {amy, thr, blk, find(w, C_NODE)};
    int said = 0;
    for (int i = 0; i < 4 && w->ideal == 0; i++) {
        const config *c = best[i];
        if (!c || cstat(c, w, M_SCPU).med < 0)
            continue;
        char lb[64];
        label(c, lb, sizeof lb);
        double cc = cstat(c, w, M_CPU).med, sc = cstat(c, w, M_SCPU).med;
        if (!said++)
            printf("\nCPU ceiling (client and server share the %ld cores):\n",
                   ncpu);
        printf("- %s %s: client %.1f + server %.1f = %.1f µs of CPU per "
               "query: at most %.0f queries/s at that cost (measured "
               "%.0f)\n",
               client_names[c->client], lb, cc, sc, cc + sc,
               (double)ncpu * 1e6 / (cc + sc), cstat(c, w, M_QPS).med);
    }
    fflush(stdout);
}

/* W6: rows/s against the blocking loop and against amysql's pipelined
 * INSERT per row, the ratios paired per round. */
static void print_w6_table(const workload *w)
{
    const config *loop = find(w, C_BLOCKING);
    const config *amy = find(w, C_AMY);
    int rounds = w->rounds ? w->rounds : opt_rounds;
    printf("\n### %s: %s\n\n", w->id, w->title);
    printf("| client | how | rows per run | rows/s median (min–max) | wall s | "
           "client CPU µs/row (%% in kernel) | server CPU µs/row | "
           "× blocking loop (paired min–max) | × amysql per row (paired "
           "min–max) |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < w->nc; i++) {
        const config *c = &w->c[i];
        char lb[64], rl[64], ra[64], fl[64] = "";
        label(c, lb, sizeof lb);
        stat3 q = cstat(c, w, M_QPS), wall = cstat(c, w, M_WALL);
        stat3 cpu = cstat(c, w, M_CPU), scpu = cstat(c, w, M_SCPU);
        stat3 sys = cstat(c, w, M_SYS);
        fmt_ratio(rl, sizeof rl, c, loop, w);
        fmt_ratio(ra, sizeof ra, c, amy, w);
        failure_note(c, "rows", fl, sizeof fl);
        const char *mark = c->client == C_BATCH ? "**" : "";
        printf("| %s%s%s | %s%s | %zu | %s%.0f%s (%.0f–%.0f) | %.3f | %.1f "
               "(%.0f%%) | ",
               mark, client_names[c->client], mark, lb, fl,
               c->n ? c->n : w->work.n, mark, q.med, mark, q.min, q.max,
               wall.med, cpu.med, sys.med);
        if (scpu.med < 0)
            printf("n/a");
        else
            printf("%.1f", scpu.med);
        printf(" | %s | %s |\n", rl, ra);
    }
    printf("\n%d rounds, interleaved. Every run starts from an empty table "
           "(`TRUNCATE`, untimed) and is checked after it (untimed: "
           "`COUNT(*)`, `SUM(k)`, `MIN(id)`, `MAX(id)` and one row's text "
           "must match what was sent). The server runs in autocommit: a "
           "one-row INSERT is a transaction of its own, with its own redo "
           "log flush when innodb_flush_log_at_trx_commit=1 (commits of "
           "different connections can share one flush: group commit).\n",
           rounds);
    if (bulk_settings[0])
        printf("\nServer settings that set the cost of a commit (as the "
               "server reports them): %s.\n",
               bulk_settings);
    fflush(stdout);
}

/* W1T: the best configuration of client among those over TLS (tls 1) or
 * plaintext (tls 0). */
static const config *find_tls(const workload *w, int client, int tls)
{
    const config *best = NULL;
    for (int i = 0; i < w->nc; i++) {
        const config *c = &w->c[i];
        if (c->client == client && c->tls == tls &&
            (!best || cstat(c, w, M_QPS).med > cstat(best, w, M_QPS).med))
            best = c;
    }
    return best;
}

/* The plaintext line of the same client and configuration as c. */
static const config *plain_twin(const workload *w, const config *c)
{
    for (int i = 0; i < w->nc; i++) {
        const config *o = &w->c[i];
        if (!o->tls && o->client == c->client && o->k == c->k &&
            o->pool == c->pool && o->pipeline == c->pipeline &&
            o->coalesce_us == c->coalesce_us)
            return o;
    }
    return NULL;
}

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" of c's runs, "" if none; "mixed" when
 * runs differed. Every connection's state was checked after each run. */
static const char *tls_of(const config *c)
{
    const char *t = "";
    for (int i = 0; i < c->ns; i++) {
        if (!*t)
            t = c->s[i].tls;
        else if (c->s[i].tls[0] && strcmp(t, c->s[i].tls))
            return "mixed";
    }
    return t;
}

/* A target line: a over b, the ratio of medians and the paired ratios. */
static void target_line(const workload *w, const config *a, const config *b,
                        const char *what, double target)
{
    if (!a || !b)
        return;
    char la[64], lbl[64];
    label(a, la, sizeof la);
    label(b, lbl, sizeof lbl);
    stat3 p = paired(a, b, w);
    double r = cstat(a, w, M_QPS).med / cstat(b, w, M_QPS).med;
    printf("- amysql over TLS, %s: %.0f q/s ÷ %s (%s%s, %.0f q/s) = "
           "**%.2f×** (paired per round: median %.2f×, %.2f–%.2f)",
           la, cstat(a, w, M_QPS).med, what, lbl, b->tls ? ", TLS" : "",
           cstat(b, w, M_QPS).med, r, p.med, p.min, p.max);
    end_target_line(&p, target);
}

static void print_w1t_table(const workload *w)
{
    const config *thr = find_tls(w, C_THREADS, 1);
    printf("\n### %s: %s\n\n", w->id, w->title);
    printf("| client | config | connection | in flight | queries/s median "
           "(min–max) | wall s | client CPU µs/q (%% in kernel) | server CPU "
           "µs/q | × best threads over TLS (paired min–max) | TLS ÷ "
           "plaintext, same config (paired min–max) |\n");
    printf("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    const char *cipher = "";
    for (int i = 0; i < w->nc; i++) {
        const config *c = &w->c[i];
        char lb[64], rt[64], rp[64], fl[64] = "";
        label(c, lb, sizeof lb);
        stat3 q = cstat(c, w, M_QPS), wall = cstat(c, w, M_WALL);
        stat3 cpu = cstat(c, w, M_CPU), scpu = cstat(c, w, M_SCPU);
        stat3 sys = cstat(c, w, M_SYS);
        fmt_ratio(rt, sizeof rt, c, thr, w);
        const config *twin = c->tls ? plain_twin(w, c) : NULL;
        fmt_ratio(rp, sizeof rp, c, twin, w);
        failure_note(c, "statements", fl, sizeof fl);
        if (c->tls && !cipher[0])
            cipher = tls_of(c);
        const char *mark = c->tls && (c == thr || c->coalesce_us) ? "**" : "";
        printf("| %s%s%s | %s%s | %s | %u | %s%.0f%s (%.0f–%.0f) | %.3f | "
               "%.1f (%.0f%%) | ",
               mark, client_names[c->client], mark, lb, fl,
               c->tls ? "TLS, verified" : "plaintext", in_flight(c), mark,
               q.med, mark, q.min, q.max, wall.med, cpu.med, sys.med);
        if (scpu.med < 0)
            printf("n/a");
        else
            printf("%.1f", scpu.med);
        printf(" | %s | %s |\n", rt, rp);
    }
    printf("\nTLS lines: every connection encrypted (%s), the server's "
           "certificate verified against the test CA: amysql "
           "`ssl_mode=verify_identity&ssl_ca=...`, the baselines "
           "`MYSQL_OPT_SSL_CA` + `MYSQL_OPT_SSL_VERIFY_SERVER_CERT`. "
           "Plaintext lines: `ssl_mode=disabled`, no connection encrypted. "
           "Both checked after every run (amysql: `amy_stats.conns_encrypted`; "
           "the baselines: `mysql_get_ssl_cipher`). Handshakes are outside "
           "the timed region, as connecting is for every line.\n",
           cipher[0] ? cipher : "?");
    printf("\nTargets (issue 12), judged on the median of the per-round "
           "paired ratios:\n");
    const config *best = NULL, *defaults = NULL;
    for (int i = 0; i < w->nc; i++) {
        const config *c = &w->c[i];
        if (c->client == C_AMY && c->tls && c->coalesce_us)
            best = c;
        if (c->client == C_AMY && c->tls && !c->pool)
            defaults = c;
    }
    target_line(w, best, thr, "the best threads over TLS", 1.5);
    target_line(w, best, best ? plain_twin(w, best) : NULL, "amysql plaintext",
                0.7);
    target_line(w, defaults, thr, "the best threads over TLS", 0);
    target_line(w, defaults, defaults ? plain_twin(w, defaults) : NULL,
                "amysql plaintext", 0);
    const config *tplain = find_tls(w, C_THREADS, 0);
    if (thr && tplain && tplain->k == thr->k) {
        stat3 p = paired(thr, tplain, w);
        printf("- for comparison, threads K=%u over TLS ÷ the same "
               "plaintext: %.2f× (paired %.2f–%.2f)\n",
               thr->k, cstat(thr, w, M_QPS).med / cstat(tplain, w, M_QPS).med,
               p.min, p.max);
    }
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* STALL                                                                    */
/* ------------------------------------------------------------------------ */

#define STALL_CONNS 200

typedef struct stall_variant {
    int tls, reset;
    bench_stall s[MAX_ROUNDS];
    int ns, retried;
} stall_variant;

static void stall_label(const stall_variant *v, char *buf, size_t len)
{
    snprintf(buf, len, "%s, reset_on_release=%d%s",
             v->tls ? "TLS (verify_identity)" : "plaintext", v->reset,
             v->reset ? " (default)" : "");
}

typedef enum {
    G_CGAP,
    G_CWALL,
    G_QGAP,
    G_QFIRST,
    G_QANS,
    G_QCPU,
    G_QWAIT,
    G_QNIV,
    G_QWALL
} gap_metric;

static stat3 vstat(const stall_variant *v, gap_metric m)
{
    double x[MAX_ROUNDS];
    for (int i = 0; i < v->ns; i++) {
        const bench_stall *s = &v->s[i];
        switch (m) {
        case G_CGAP:
            x[i] = s->connect.gap * 1e3;
            break;
        case G_CWALL:
            x[i] = s->connect.wall;
            break;
        case G_QGAP:
            x[i] = s->query.gap * 1e3;
            break;
        case G_QFIRST:
            x[i] = s->query.first * 1e3;
            break;
        case G_QANS:
            x[i] = (double)s->query.answered;
            break;
        case G_QCPU:
            x[i] = s->query.cpu * 1e3;
            break;
        case G_QWAIT:
            x[i] = s->query.wait * 1e3;
            break;
        case G_QNIV:
            x[i] = (double)s->query.nivcsw;
            break;
        case G_QWALL:
            x[i] = s->query.wall;
            break;
        }
    }
    return stats(x, v->ns);
}

static int stall_one(stall_variant *v, size_t n, bench_stall *s)
{
    bench_g.use_tls = v->tls;
    int rc = bench_stall_run(STALL_CONNS, n, v->reset, s);
    bench_g.use_tls = 0;
    return rc;
}

static void stall_suite(size_t n)
{
    stall_variant vs[] = {{.tls = 1, .reset = 1},
                          {.tls = 0, .reset = 1},
                          {.tls = 1, .reset = 0},
                          {.tls = 0, .reset = 0}};
    int nv = (int)(sizeof vs / sizeof *vs);
    fprintf(stderr,
            "== STALL: longest gap between 1 ms ticks, %d connections "
            "opened, then %zu queries (%d variants x %d rounds)\n",
            STALL_CONNS, n, nv, opt_rounds);
    for (int r = 0; r < opt_rounds; r++) {
        for (int j = 0; j < nv; j++) {
            stall_variant *v = &vs[(j + r) % nv];
            char lb[96];
            stall_label(v, lb, sizeof lb);
            bench_stall s;
            for (int attempt = 0;; attempt++) {
                refresh_server_pid();
                if (stall_one(v, n, &s) != 0) {
                    fprintf(stderr, "STALL %s: could not run\n", lb);
                    exit(1);
                }
                if (!s.failed || attempt == 2)
                    break;
                v->retried++;
                fprintf(stderr,
                        "  round %d  %s: %zu queries failed: run "
                        "again\n",
                        r + 1, lb, s.failed);
            }
            v->s[v->ns++] = s;
            fprintf(stderr,
                    "  round %d  %-46s connect %6.3f s gap %6.2f ms  "
                    "queries %6.3f s gap %6.2f ms (first %5.2f; %llu "
                    "answered, cpu %5.2f ms, waited %5.2f ms, %ld "
                    "preempted)%s\n",
                    r + 1, lb, s.connect.wall, s.connect.gap * 1e3,
                    s.query.wall, s.query.gap * 1e3, s.query.first * 1e3,
                    (unsigned long long)s.query.answered, s.query.cpu * 1e3,
                    s.query.wait * 1e3, s.query.nivcsw,
                    s.failed ? "  FAILURES" : "");
        }
    }
    printf("\n### STALL: the loop's longest stall, %d connections opened "
           "(%d `amy_pool_acquire` gathered, then released), then %zu × "
           "`SELECT i` gathered over them (pool=%d pipeline=16)\n\n",
           STALL_CONNS, STALL_CONNS, n, STALL_CONNS);
    printf("| connections | connect: longest gap ms, median (max) | connect "
           "s | queries: longest gap ms, median (max) | queries: first gap "
           "(the first kick) ms, median (max) | in the longest gap: answers "
           "read | loop on a core ms | loop waiting for a core ms | "
           "preempted | queries s |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    const char *cipher = "";
    for (int i = 0; i < nv; i++) {
        const stall_variant *v = &vs[i];
        char lb[96], note[64] = "";
        stall_label(v, lb, sizeof lb);
        size_t failed = 0;
        for (int k = 0; k < v->ns; k++) {
            failed += v->s[k].failed;
            if (v->tls && !cipher[0])
                cipher = v->s[k].tls;
        }
        if (failed)
            snprintf(note, sizeof note, " **(%zu queries failed)**", failed);
        else if (v->retried)
            snprintf(note, sizeof note, " (%d runs repeated)", v->retried);
        stat3 cg = vstat(v, G_CGAP), cw = vstat(v, G_CWALL);
        stat3 qg = vstat(v, G_QGAP), qf = vstat(v, G_QFIRST);
        stat3 qa = vstat(v, G_QANS), qc = vstat(v, G_QCPU);
        stat3 qn = vstat(v, G_QNIV), qw = vstat(v, G_QWALL);
        stat3 qt = vstat(v, G_QWAIT);
        char wait[32] = "n/a";
        if (qt.min >= 0)
            snprintf(wait, sizeof wait, "%.1f", qt.med);
        printf("| %s%s | %.1f (%.1f) | %.3f | **%.1f** (%.1f) | %.1f (%.1f) "
               "| %.0f | %.1f | %s | %.0f | %.3f |\n",
               lb, note, cg.med, cg.max, cw.med, qg.med, qg.max, qf.med, qf.max,
               qa.med, qc.med, wait, qn.med, qw.med);
    }
    printf("\n%d rounds, the variants interleaved; medians, and the largest "
           "of the rounds in brackets. A 1 ms `ev_timer` ticks on the pool's "
           "loop; libev runs timers only between loop iterations, so a gap "
           "is one iteration (all the callbacks of ready watchers, then the "
           "poll). Connect phase: from the first `amy_pool_acquire` to their "
           "gather resolved (TLS connects run on the pool's dialer thread, "
           "plaintext ones on the loop). Query phase: from the first loop run "
           "after the releases and the %zu `amy_query` (made before it, the "
           "caller's time) until all resolved; its first gap is the first "
           "kick, which sends the %d `COM_RESET_CONNECTION` of the released "
           "connections (reset_on_release=1) or the first bursts of queries "
           "(0). For the longest gap of the query phase (medians over "
           "rounds): the queries that resolved inside it, the time the loop "
           "thread was on a core in it (`CLOCK_THREAD_CPUTIME_ID`) and "
           "runnable but waiting for one (the scheduler's run_delay, "
           "`/proc/thread-self/schedstat`; the two add up to the gap), and "
           "the involuntary context switches (the process's; the dialer "
           "thread sleeps then). "
           "TLS: %s.\n",
           opt_rounds, n, STALL_CONNS, cipher[0] ? cipher : "?");
    fflush(stdout);
}

/* gnuplot blocks, one per series, x = queries in flight. */
static void write_chart_data(const workload *w, const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/w1.dat", dir);
    FILE *fp = fopen(path, "w");
    if (!fp) {
        perror(path);
        return;
    }
    const unsigned pools[] = {1, 4, 16};
    int first = 1;
    for (int series = 0; series < 6; series++) {
        char title[64];
        if (series == 5)
            snprintf(title, sizeof title,
                     "amysql pool=4 pipeline=128, libev io_collect 1 ms");
        else if (series == 0)
            snprintf(title, sizeof title, "blocking, 1 connection");
        else if (series == 1)
            snprintf(title, sizeof title, "blocking, K threads");
        else
            snprintf(title, sizeof title, "amysql pool=%u", pools[series - 2]);
        if (!first)
            fprintf(fp, "\n\n");
        first = 0;
        fprintf(fp, "\"%s\" in_flight qps_med qps_min qps_max\n", title);
        for (int i = 0; i < w->nc; i++) {
            const config *c = &w->c[i];
            int want = series == 0   ? C_BLOCKING
                       : series == 1 ? C_THREADS
                                     : C_AMY;
            if (c->client != want || (series == 5) != (c->collect_us != 0) ||
                c->coalesce_us || (series >= 2 && !c->pipeline) ||
                (series >= 2 && series <= 4 && c->pool != pools[series - 2]))
                continue;
            stat3 q = cstat(c, w, M_QPS);
            fprintf(fp, "%u %.0f %.0f %.0f\n", in_flight(c), q.med, q.min,
                    q.max);
        }
    }
    fclose(fp);
}

/* ------------------------------------------------------------------------ */
/* W4 in a child process                                                    */
/* ------------------------------------------------------------------------ */

static const char *self_path = "/proc/self/exe";

static int run_w4_child(bench_sample *s, size_t n)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char nbuf[32], pidbuf[32];
        snprintf(nbuf, sizeof nbuf, "%zu", n);
        snprintf(pidbuf, sizeof pidbuf, "%d", bench_g.server_pid);
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execl(self_path, "amy_bench", "--dsn", bench_g.dsn, "--server-pid",
              pidbuf, "--one", "W4", "--n", nbuf, "--machine", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *fp = fdopen(fd[0], "r");
    char line[1024] = "";
    int got = 0;
    memset(s, 0, sizeof *s);
    while (fp && fgets(line, sizeof line, fp)) {
        if (sscanf(line,
                   "W4 n=%zu rss_before=%ld rss_after=%ld rss_gather=%ld "
                   "hwm=%ld sql_bytes=%zu wall=%lf cpu=%lf server=%lf "
                   "failed=%zu",
                   &s->nfutures, &s->rss_before, &s->rss_after, &s->rss_gather,
                   &s->hwm_after_run, &s->sql_bytes, &s->wall, &s->client_cpu,
                   &s->server_cpu, &s->failed) == 10)
            got = 1;
    }
    if (fp)
        fclose(fp);
    int status;
    waitpid(pid, &status, 0);
    return got && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void w4_suite(size_t n)
{
    bench_sample s[MAX_ROUNDS];
    fprintf(stderr, "== W4: memory, %zu futures pending (%d rounds)\n", n,
            opt_rounds);
    double per[MAX_ROUNDS], perg[MAX_ROUNDS], hwm[MAX_ROUNDS], qps[MAX_ROUNDS],
        cpu[MAX_ROUNDS];
    size_t failed = 0;
    for (int r = 0; r < opt_rounds; r++) {
        if (run_w4_child(&s[r], n) != 0) {
            fprintf(stderr, "W4: the child run failed\n");
            exit(1);
        }
        double nf = (double)s[r].nfutures;
        per[r] = ((double)(s[r].rss_after - s[r].rss_before) -
                  (double)s[r].sql_bytes) /
                 nf;
        perg[r] = ((double)(s[r].rss_gather - s[r].rss_before) -
                   (double)s[r].sql_bytes) /
                  nf;
        hwm[r] = (double)(s[r].hwm_after_run - s[r].rss_before) / nf;
        qps[r] = nf / s[r].wall;
        cpu[r] = s[r].client_cpu / nf * 1e6;
        failed += s[r].failed;
        fprintf(stderr,
                "  round %d  RSS +%ld B for %zu futures (SQL %zu B): %.0f "
                "B/future, %.0f with the gather; peak %.0f B/query\n",
                r + 1, s[r].rss_after - s[r].rss_before, s[r].nfutures,
                s[r].sql_bytes, per[r], perg[r], hwm[r]);
    }
    stat3 a = stats(per, opt_rounds), g = stats(perg, opt_rounds),
          h = stats(hwm, opt_rounds), q = stats(qps, opt_rounds),
          c = stats(cpu, opt_rounds);
    printf("\n### W4: memory, %zu futures submitted at once "
           "(`SELECT c FROM sbtest1 WHERE id=N`, pool=4 pipeline=32)\n\n",
           n);
    printf("| measure | median (min–max) |\n|---|---:|\n");
    printf("| RSS per pending future, SQL text (%.1f B/future) subtracted | "
           "**%.0f B** (%.0f–%.0f) |\n",
           (double)s[0].sql_bytes / (double)s[0].nfutures, a.med, a.min, a.max);
    printf("| the same, with the gather over them created | %.0f B "
           "(%.0f–%.0f) |\n",
           g.med, g.min, g.max);
    printf("| peak RSS (VmHWM) once all resolved, per query, results "
           "included | %.0f B (%.0f–%.0f) |\n",
           h.med, h.min, h.max);
    printf("| submit + run + check + free: queries/s | %.0f (%.0f–%.0f) |\n",
           q.med, q.min, q.max);
    printf("| client CPU µs/query | %.1f (%.1f–%.1f) |\n", c.med, c.min, c.max);
    if (failed)
        printf("\n**%zu statements failed.**\n", failed);
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* Main                                                                     */
/* ------------------------------------------------------------------------ */

static int no_tls_suite; /* no TLS server given: W1T and STALL not wanted */

static int wanted(const char *id)
{
    if (no_tls_suite && (!strcmp(id, "W1T") || !strcmp(id, "STALL")))
        return 0;
    if (!opt_only)
        return 1;
    size_t n = strlen(id);
    for (const char *p = opt_only; (p = strstr(p, id)); p += n)
        if ((p == opt_only || p[-1] == ',') && (p[n] == ',' || !p[n]))
            return 1;
    return 0;
}

static int server_pid_given; /* --server-pid: never looked up again */
static int server_restarts;  /* the pid changed during the run */

static void discover_server(MYSQL *m, char *version, size_t vlen)
{
    snprintf(version, vlen, "?");
    if (mysql_query(m, "SELECT VERSION(), @@pid_file") != 0)
        return;
    MYSQL_RES *res = mysql_store_result(m);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    if (row && row[0])
        snprintf(version, vlen, "%s", row[0]);
    /* The server is on this machine in the intended set-up: its pid file
     * gives the process whose CPU we read. */
    if (!server_pid_given && row && row[1]) {
        FILE *fp = fopen(row[1], "r");
        int pid = 0;
        if (fp) {
            if (fscanf(fp, "%d", &pid) != 1)
                pid = 0;
            fclose(fp);
        }
        if (bench_g.server_pid && pid && pid != bench_g.server_pid)
            server_restarts++;
        bench_g.server_pid = pid;
    }
    if (res)
        mysql_free_result(res);
}

/* A test server shared with other developers may be restarted under us
 * (fault-injection tests do): find the new process before the next run. */
static void refresh_server_pid(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", bench_g.server_pid);
    if (server_pid_given || (bench_g.server_pid && access(path, R_OK) == 0))
        return;
    char err[512], version[128];
    MYSQL *m = bench_connect(err, sizeof err);
    if (!m)
        return;
    discover_server(m, version, sizeof version);
    mysql_close(m);
    fprintf(stderr,
            "  the server's pid is now %d (restarted by someone "
            "else?)\n",
            bench_g.server_pid);
}

static void print_machine(const char *server_version)
{
    char model[256] = "?";
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (fp) {
        char line[512];
        while (fgets(line, sizeof line, fp))
            if (!strncmp(line, "model name", 10)) {
                char *p = strchr(line, ':');
                if (p) {
                    snprintf(model, sizeof model, "%s", p + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        fclose(fp);
    }
    struct utsname u;
    uname(&u);
    printf("- machine: %ld cores (%s), %s %s; client and server share "
           "them\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, u.sysname, u.release);
    printf("- server: MariaDB %s (server CPU %s)\n", server_version,
           bench_g.server_pid ? "read from /proc/<pid>/stat, 10 ms ticks"
                              : "not measured: no pid");
    printf("- client: amysql %d.%d.%d, Connector/C %s, libev %d.%d\n",
           AMY_VERSION_MAJOR, AMY_VERSION_MINOR, AMY_VERSION_PATCH,
           mysql_get_client_info(), ev_version_major(), ev_version_minor());
    char rounds[64];
    int w6 = wanted("W6"), others = 0;
    const char *ids[] = {"W1", "W2", "W3", "W4", "W5"};
    for (int i = 0; i < 5; i++)
        others += wanted(ids[i]);
    if (w6 && !others)
        snprintf(rounds, sizeof rounds, "%d", opt_w6_rounds);
    else if (w6)
        snprintf(rounds, sizeof rounds, "%d (W6: %d)", opt_rounds,
                 opt_w6_rounds);
    else
        snprintf(rounds, sizeof rounds, "%d", opt_rounds);
    if (wanted("W7") && !w6 && !others && !wanted("W1T") && !wanted("STALL"))
        snprintf(rounds, sizeof rounds, "%d", opt_w7_rounds);
    else if (wanted("W7"))
        snprintf(rounds + strlen(rounds), sizeof rounds - strlen(rounds),
                 " (W7: %d)", opt_w7_rounds);
    printf("- rounds: %s per configuration, interleaved; figures are "
           "medians (min–max over rounds); ratios in brackets are the "
           "min–max of per-round paired ratios\n",
           rounds);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: amy_bench [--dsn DSN] [--rounds R] [--only W1,W2,...] "
            "[--data DIR] [--server-pid PID] [--quick]\n"
            "       amy_bench --one W1|W2|W3|W4|W5 --client "
            "amy|threads|blocking|node [--pool P] [--pipeline D] [--threads K] "
            "[--n N] [--repeat R] [--sql STATEMENT] [--timeline] "
            "[--io-collect-us US] [--coalesce-us US] [--observe]\n"
            "       amy_bench --one W6 --client batch|amy|blocking|multi "
            "[--n N] [--pool P] [--pipeline D] [--rows-per-insert R] "
            "[--repeat R]\n"
            "       amy_bench --one STALL [--pool CONNS] [--n N] "
            "[--reset-on-release 0|1] [--repeat R]\n"
            "       amy_bench --one W7 --client amy|threads --rate QPS "
            "[--seconds S] [--pool P --pipeline D --coalesce-us US | "
            "--params 'k=v&...'] [--threads K] [--drain-ms MS] [--repeat R]\n"
            "       suite: [--w7-rounds R] [--seconds S] [--drain-ms MS] "
            "(W7)\n"
            "       TLS (W1T, STALL, --one ... --tls): [--ssl-ca FILE] "
            "(default $AMY_TEST_TLS_DIR/ca.pem) or [--tls-dsn DSN]\n");
    exit(2);
}

static unsigned long num_arg(const char *s)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s) {
        fprintf(stderr, "not a number: %s\n", s);
        exit(2);
    }
    return v;
}

/* Builds workload id's statements; n = 0 takes the standard size. */
static bench_work make_work(const char *id, size_t n)
{
    bench_work w = {0};
    if (!strcmp(id, "W1T"))
        id = "W1"; /* the same statements, over TLS */
    if (!strcmp(id, "W1") || !strcmp(id, "W4")) {
        w.n = n ? n : (!strcmp(id, "W1") ? 20000 : 100000);
        w.sql = (const char *const *)sql_list(w.n, !strcmp(id, "W1") ? 1 : 4,
                                              POINT_SQL, 0);
        w.expect_rows = 1;
    } else if (!strcmp(id, "W2")) {
        w.n = n ? n : 200;
        w.sql = (const char *const *)sql_list(w.n, 0, "SELECT SLEEP(0.05)", 2);
        w.expect_rows = 1;
    } else if (!strcmp(id, "W3")) {
        w.n = n ? n : 2000;
        w.sql = (const char *const *)sql_list(w.n, 3, RANGE_SQL, 1);
        w.expect_rows = 100;
    } else if (!strcmp(id, "W6")) {
        w.n = n ? n : 100000;
        w.rows = make_rows(w.n);
    } else if (!strcmp(id, "W5")) {
        w.n = n ? n : 1000;
        w.sql = (const char *const *)sql_list(w.n, 0, "SELECT SLEEP(0.1)", 2);
        w.expect_rows = 1;
    } else {
        fprintf(stderr, "unknown workload %s\n", id);
        exit(2);
    }
    return w;
}

/* --one W7: the DSN keys given (--params, else --pool, --pipeline and
 * --coalesce-us, each only if given), none for the library's defaults. */
static int run_w7_one(const char *client, unsigned pool, unsigned pipeline,
                      unsigned k, int repeat)
{
    char params[256] = "";
    if (opt_w7_params)
        snprintf(params, sizeof params, "%s", opt_w7_params);
    else {
        size_t o = 0;
        if (pool)
            o += (size_t)snprintf(params + o, sizeof params - o, "pool=%u",
                                  pool);
        if (pipeline)
            o += (size_t)snprintf(params + o, sizeof params - o,
                                  "%spipeline=%u", o ? "&" : "", pipeline);
        if (opt_coalesce_given)
            snprintf(params + o, sizeof params - o, "%sread_coalesce_us=%u",
                     o ? "&" : "", bench_g.coalesce_us);
    }
    if (!(opt_w7_rate > 0)) {
        fprintf(stderr, "--one W7 needs --rate QPS\n");
        return 2;
    }
    return bench_w7_one(client, params, k ? k : 16, opt_w7_rate, opt_w7_seconds,
                        opt_w7_drain, TABLE_ROWS, repeat)
               ? 1
               : 0;
}

/* --one: a single configuration, repeated; for profilers. */
static int run_one(const char *id, const char *client, unsigned pool,
                   unsigned pipeline, unsigned k, size_t n, int repeat,
                   int machine, const char *sql)
{
    if (!strcmp(id, "STALL")) {
        unsigned conns = pool ? pool : STALL_CONNS;
        for (int r = 0; r < repeat; r++) {
            bench_stall s;
            if (bench_stall_run(conns, n ? n : 20000, opt_reset, &s) != 0)
                return 1;
            printf("STALL %s reset_on_release=%d: %u connections (%u "
                   "encrypted) connect %.3f s longest gap %.2f ms (%lu "
                   "ticks); %zu queries %.3f s longest gap %.2f ms, first "
                   "%.2f ms, in it %llu answered, loop cpu %.2f ms, waited "
                   "for a core %.2f ms, %ld involuntary %ld voluntary "
                   "switches (%lu ticks); failed %zu\n",
                   bench_g.use_tls ? "TLS" : "plaintext", opt_reset, s.conns,
                   s.conns_tls, s.connect.wall, s.connect.gap * 1e3,
                   s.connect.ticks, n ? n : 20000, s.query.wall,
                   s.query.gap * 1e3, s.query.first * 1e3,
                   (unsigned long long)s.query.answered, s.query.cpu * 1e3,
                   s.query.wait * 1e3, s.query.nivcsw, s.query.nvcsw,
                   s.query.ticks, s.failed);
            fflush(stdout);
        }
        return 0;
    }
    bench_work w = make_work(id, n);
    if (w.rows) {
        if (ensure_bulk_table() != 0)
            return 1;
        workload wl = {.id = "W6", .work = w};
        config c = {.n = w.n,
                    .pool = pool ? pool : 4,
                    .pipeline = pipeline ? pipeline : 128};
        if (!strcmp(client, "batch"))
            c.client = C_BATCH;
        else if (!strcmp(client, "amy"))
            c.client = C_AMY;
        else if (!strcmp(client, "blocking")) {
            c.client = C_BLOCKING;
            c.per_stmt = 1;
        } else if (!strcmp(client, "multi")) {
            c.client = C_MULTI;
            c.per_stmt = opt_per_stmt;
        } else
            usage();
        char lb[64];
        label(&c, lb, sizeof lb);
        for (int r = 0; r < repeat; r++) {
            bench_sample s;
            if (run_insert(&wl, &c, &s) != 0)
                return 1;
            printf("W6 %s (%s): %zu rows %.3f s %.0f rows/s client CPU %.2f "
                   "us/row server CPU %.2f us/row failed %zu\n",
                   client, lb, w.n, s.wall, (double)w.n / s.wall,
                   s.client_cpu / (double)w.n * 1e6,
                   s.server_cpu / (double)w.n * 1e6, s.failed);
            fflush(stdout);
        }
        return 0;
    }
    if (sql) { /* the same shape of run for another statement */
        w.sql = (const char *const *)sql_list(w.n, 0, sql, 2);
        w.expect_rows = 1;
    }
    if (!strcmp(id, "W4")) {
        bench_sample s;
        if (bench_amy_memory(&w, pool ? pool : 4, pipeline ? pipeline : 32,
                             &s) != 0)
            return 1;
        if (machine)
            printf("W4 n=%zu rss_before=%ld rss_after=%ld rss_gather=%ld "
                   "hwm=%ld sql_bytes=%zu wall=%f cpu=%f server=%f "
                   "failed=%zu\n",
                   s.nfutures, s.rss_before, s.rss_after, s.rss_gather,
                   s.hwm_after_run, s.sql_bytes, s.wall, s.client_cpu,
                   s.server_cpu, s.failed);
        else
            printf(
                "W4: %zu futures: RSS +%ld B, SQL %zu B, %.1f B/future; "
                "run %.3f s\n",
                s.nfutures, s.rss_after - s.rss_before, s.sql_bytes,
                ((double)(s.rss_after - s.rss_before) - (double)s.sql_bytes) /
                    (double)s.nfutures,
                s.wall);
        return s.failed ? 1 : 0;
    }
    bench_work warm = w;
    if (warm.n > 2000)
        warm.n = 2000;
    for (int r = 0; r < repeat; r++) {
        bench_sample s;
        int rc;
        if (!strcmp(client, "amy"))
            rc = bench_amy(&w, pool, pipeline, &warm, &s); /* 0: default */
        else if (!strcmp(client, "threads"))
            rc = bench_threads(&w, k ? k : 16, &s);
        else if (!strcmp(client, "blocking"))
            rc = bench_blocking(&w, &s);
        else if (!strcmp(client, "node"))
            rc = run_one_node(&w, pool, &warm, &s);
        else
            usage();
        if (rc != 0)
            return 1;
        char who[96];
        snprintf(who, sizeof who, "%s", client);
        if (!strcmp(client, "node")) {
            config c = {.client = C_NODE, .pool = pool ? pool : 1};
            char lb[64];
            node_label(&c, lb, sizeof lb);
            snprintf(who, sizeof who, "node (%s)", lb);
        }
        printf("%s %s: %zu statements %.3f s %.0f q/s client CPU %.2f "
               "us/q server CPU %.2f us/q failed %zu\n",
               id, who, w.n, s.wall, (double)w.n / s.wall,
               s.client_cpu / (double)w.n * 1e6,
               s.server_cpu / (double)w.n * 1e6, s.failed);
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *one = NULL, *client = "amy";
    unsigned pool = 0, pipeline = 0, k = 0;
    size_t n = 0;
    int repeat = 1, machine = 0;
    const char *sql = NULL, *ssl_ca = NULL, *tls_dsn = NULL;
    int one_tls = 0;
    bench_g.dsn = getenv("AMY_TEST_DSN");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick"))
            opt_quick = 1;
        else if (!strcmp(a, "--machine"))
            machine = 1;
        else if (!strcmp(a, "--timeline"))
            bench_g.timeline = 1;
        else if (!strcmp(a, "--tls"))
            one_tls = 1;
        else if (!strcmp(a, "--observe"))
            bench_g.observe = 1;
        else if (!v)
            usage();
        else if (!strcmp(a, "--dsn"))
            bench_g.dsn = v;
        else if (!strcmp(a, "--rounds"))
            opt_rounds = (int)num_arg(v);
        else if (!strcmp(a, "--w6-rounds"))
            opt_w6_rounds = (int)num_arg(v);
        else if (!strcmp(a, "--rows-per-insert"))
            opt_per_stmt = (unsigned)num_arg(v);
        else if (!strcmp(a, "--only"))
            opt_only = v;
        else if (!strcmp(a, "--data"))
            opt_data = v;
        else if (!strcmp(a, "--server-pid")) {
            bench_g.server_pid = (int)num_arg(v);
            server_pid_given = bench_g.server_pid != 0;
        } else if (!strcmp(a, "--one"))
            one = v;
        else if (!strcmp(a, "--client"))
            client = v;
        else if (!strcmp(a, "--pool"))
            pool = (unsigned)num_arg(v);
        else if (!strcmp(a, "--pipeline"))
            pipeline = (unsigned)num_arg(v);
        else if (!strcmp(a, "--threads"))
            k = (unsigned)num_arg(v);
        else if (!strcmp(a, "--n"))
            n = num_arg(v);
        else if (!strcmp(a, "--repeat"))
            repeat = (int)num_arg(v);
        else if (!strcmp(a, "--sql"))
            sql = v;
        else if (!strcmp(a, "--ssl-ca"))
            ssl_ca = v;
        else if (!strcmp(a, "--tls-dsn"))
            tls_dsn = v;
        else if (!strcmp(a, "--reset-on-release"))
            opt_reset = num_arg(v) != 0;
        else if (!strcmp(a, "--coalesce-us")) {
            bench_g.coalesce_us = (unsigned)num_arg(v);
            opt_coalesce_given = 1;
        } else if (!strcmp(a, "--rate"))
            opt_w7_rate = (double)num_arg(v);
        else if (!strcmp(a, "--seconds"))
            opt_w7_seconds = (double)num_arg(v);
        else if (!strcmp(a, "--drain-ms"))
            opt_w7_drain = (double)num_arg(v) / 1e3;
        else if (!strcmp(a, "--params"))
            opt_w7_params = v;
        else if (!strcmp(a, "--w7-rounds"))
            opt_w7_rounds = (int)num_arg(v);
        else if (!strcmp(a, "--io-collect-us"))
            ev_set_io_collect_interval(EV_DEFAULT, (double)num_arg(v) / 1e6);
        else
            usage();
        if (strcmp(a, "--quick") && strcmp(a, "--machine") &&
            strcmp(a, "--timeline") && strcmp(a, "--tls") &&
            strcmp(a, "--observe"))
            i++;
    }
    if (!bench_g.dsn) {
        fprintf(stderr, "no DSN: pass --dsn or set AMY_TEST_DSN\n");
        return 2;
    }
    if (opt_rounds < 1 || opt_rounds > MAX_ROUNDS || opt_w6_rounds < 1 ||
        opt_w6_rounds > MAX_ROUNDS || opt_w7_rounds < 1 ||
        opt_w7_rounds > MAX_ROUNDS) {
        fprintf(stderr, "--rounds, --w6-rounds and --w7-rounds must be 1..%d\n",
                MAX_ROUNDS);
        return 2;
    }
    if (opt_w7_seconds < 1) {
        fprintf(stderr, "--seconds must be at least 1\n");
        return 2;
    }
    if (opt_per_stmt < 1) {
        fprintf(stderr, "--rows-per-insert must be at least 1\n");
        return 2;
    }
    char err[512];
    /* The library's default is ssl_mode=preferred, and the test server
     * offers TLS: a DSN that says nothing runs plaintext, as the figures
     * of every earlier run did. */
    if (!bench_dsn_has_key(bench_g.dsn, "ssl_mode")) {
        char *d = bench_dsn_with(bench_g.dsn, "ssl_mode=disabled");
        if (!d)
            return 1;
        bench_g.dsn = d; /* for the process's life */
    }
    if (bench_parse_dsn(bench_g.dsn, &bench_g.ci, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    /* The same server over TLS: --tls-dsn, or --dsn verified against a CA
     * (--ssl-ca, else the test server's). */
    char ca_buf[1024];
    const char *tls_dir = getenv("AMY_TEST_TLS_DIR");
    if (!ssl_ca && tls_dir && *tls_dir) {
        snprintf(ca_buf, sizeof ca_buf, "%s/ca.pem", tls_dir);
        ssl_ca = ca_buf;
    }
    bench_g.tls_dsn = tls_dsn;
    if (!bench_g.tls_dsn && ssl_ca &&
        !(bench_g.tls_dsn = bench_dsn_tls(bench_g.dsn, ssl_ca)))
        return 1;
    if (bench_g.tls_dsn) {
        if (bench_parse_dsn(bench_g.tls_dsn, &bench_g.tls_ci, err,
                            sizeof err) != 0) {
            fprintf(stderr, "TLS DSN: %s\n", err);
            return 2;
        }
        if (!bench_g.tls_ci.tls) {
            fprintf(stderr, "--tls-dsn must ask for TLS (ssl_mode)\n");
            return 2;
        }
    }
    if (!opt_only && !bench_g.tls_dsn) {
        /* The whole suite without --only: W1T and STALL only when there is
         * a TLS server to run them on. */
        no_tls_suite = 1;
        if (!one)
            fprintf(stderr, "no CA (--ssl-ca, --tls-dsn, AMY_TEST_TLS_DIR): "
                            "W1T and STALL are left out\n");
    }
    if (!bench_g.tls_dsn &&
        (one_tls || (!one && (wanted("W1T") || wanted("STALL"))))) {
        fprintf(stderr, "TLS runs need a CA: --ssl-ca FILE, --tls-dsn DSN "
                        "or AMY_TEST_TLS_DIR\n");
        return 2;
    }
    if (!one && wanted("W1T") && bench_g.ci.tls) {
        fprintf(stderr, "W1T compares TLS with plaintext: --dsn must be "
                        "plaintext (ssl_mode=disabled)\n");
        return 2;
    }
    bench_g.use_tls = one_tls;
    /* Before any thread exists: mysql_library_init is not thread-safe. */
    if (mysql_library_init(0, NULL, NULL) != 0) {
        fprintf(stderr, "mysql_library_init failed\n");
        return 1;
    }
    bench_raise_nofile(4096);

    MYSQL *m = bench_connect(err, sizeof err);
    if (!m) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    char version[128];
    discover_server(m, version, sizeof version);
    if (ensure_table(m) != 0)
        return 1;
    mysql_close(m);

    if (one && !strcmp(one, "W7"))
        return run_w7_one(client, pool, pipeline, k, repeat);
    if (one)
        return run_one(one, client, pool, pipeline, k, n, repeat, machine, sql);
    bench_g.use_tls = 0;

    print_machine(version);

    static workload W[7];
    int nw = 0;
    size_t q = opt_quick ? 10 : 1; /* --quick: a tenth of the work */

    if (wanted("W1")) {
        workload *w = &W[nw++];
        w->id = "W1";
        w->title = "point selects, 20,000 × `SELECT c FROM sbtest1 WHERE "
                   "id=<random>`, all submitted at once and gathered";
        w->work = make_work("W1", 20000 / q);
        static bench_work warm;
        warm = w->work;
        warm.n = w->work.n / 10;
        add(w, C_BLOCKING, 0, 0);
        const unsigned ks[] = {1, 16, 64};
        for (int i = 0; i < 3; i++)
            add(w, C_THREADS, ks[i], 0);
        const unsigned pools[] = {1, 4, 16}, pipes[] = {1, 8, 32, 128};
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                add(w, C_AMY, pools[i], pipes[j])->warm = &warm;
        config *c = add(w, C_AMY, 4, 128);
        c->warm = &warm;
        c->collect_us = 1000;
        const unsigned cpipes[] = {32, 128};
        for (int j = 0; j < 2; j++) {
            c = add(w, C_AMY, 4, cpipes[j]);
            c->warm = &warm;
            c->coalesce_us = 300;
        }
        /* What a user gets without tuning: no pool, pipeline or
         * read_coalesce_us key; and on one connection (pool=1 only). */
        add(w, C_AMY, 0, 0)->warm = &warm;
        add(w, C_AMY, 1, 0)->warm = &warm;
        add_node_configs(w, &warm);
    }
    if (wanted("W2")) {
        workload *w = &W[nw++];
        w->id = "W2";
        w->title = "latency-bound, 200 × `SELECT SLEEP(0.05)` gathered, "
                   "pool of 200 opened and warmed before the timed region "
                   "(ideal 0.050 s)";
        w->work = make_work("W2", 0);
        w->ideal = 0.05;
        add(w, C_BLOCKING, 0, 0);
        add(w, C_THREADS, 200, 0);
        add(w, C_AMY, 200, 1)->warm = &w->work;
    }
    if (wanted("W3")) {
        workload *w = &W[nw++];
        w->id = "W3";
        w->title = "medium results, 2,000 × `SELECT c FROM sbtest1 WHERE id "
                   "BETWEEN a AND a+99` (100 rows, ~12 KB), gathered";
        w->work = make_work("W3", 2000 / q);
        static bench_work warm;
        warm = w->work;
        warm.n = w->work.n / 10;
        add(w, C_BLOCKING, 0, 0);
        add(w, C_THREADS, 4, 0);
        add(w, C_THREADS, 16, 0);
        add(w, C_AMY, 1, 8)->warm = &warm;
        add(w, C_AMY, 4, 1)->warm = &warm;
        add(w, C_AMY, 4, 8)->warm = &warm;
        add(w, C_AMY, 16, 8)->warm = &warm;
    }
    if (wanted("W5")) {
        workload *w = &W[nw++];
        w->id = "W5";
        w->title = "scale, 1,000 connections on one loop, 1,000 × `SELECT "
                   "SLEEP(0.1)` gathered after a first batch opened them "
                   "(ideal 0.100 s; the blocking client would need 100 s and "
                   "is not run)";
        w->work = make_work("W5", 0);
        w->ideal = 0.1;
        add(w, C_THREADS, 1000, 0);
        add(w, C_AMY, 1000, 1)->warm = &w->work;
    }
    if (wanted("W1T")) {
        workload *w = &W[nw++];
        w->id = "W1T";
        w->title = "W1 over TLS: the same 20,000 point selects, gathered, "
                   "on the same server with TLS (verified) against "
                   "plaintext, in the same rounds";
        w->work = make_work("W1T", 20000 / q);
        static bench_work warm;
        warm = w->work;
        warm.n = w->work.n / 10;
        config *c = add(w, C_BLOCKING, 0, 0);
        c->tls = 1;
        add(w, C_THREADS, 16, 0)->tls = 1;
        add(w, C_THREADS, 64, 0)->tls = 1;
        add(w, C_THREADS, 16, 0); /* what TLS costs the threads */
        /* W1's best tuned configuration and the library's defaults, each
         * over TLS and plaintext: the pairs give TLS ÷ plaintext. */
        for (int tls = 1; tls >= 0; tls--) {
            c = add(w, C_AMY, 4, 128);
            c->warm = &warm;
            c->coalesce_us = 300;
            c->tls = tls;
            c = add(w, C_AMY, 0, 0);
            c->warm = &warm;
            c->tls = tls;
        }
    }

    for (int i = 0; i < nw; i++) {
        run_workload(&W[i]);
        if (!strcmp(W[i].id, "W1T")) {
            print_w1t_table(&W[i]);
            continue;
        }
        print_table(&W[i]);
        if (!strcmp(W[i].id, "W1"))
            print_node_lines(&W[i]);
        if (opt_data && !strcmp(W[i].id, "W1"))
            write_chart_data(&W[i], opt_data);
    }
    if (wanted("W4"))
        w4_suite(100000 / q);
    if (wanted("STALL"))
        stall_suite(20000 / q);
    if (wanted("W6")) {
        /* After W4, as it was printed before W6 existed. */
        workload *w = &W[nw++];
        size_t rows = 100000 / q;
        w->id = "W6";
        w->title = "bulk insert of 100,000 sysbench-like rows into an empty "
                   "InnoDB table `bulk1 (id INT PRIMARY KEY, k INT, c "
                   "CHAR(120), pad CHAR(60))`, autocommit";
        if (opt_quick)
            w->title = "bulk insert (--quick: 10,000 rows) into an empty "
                       "InnoDB table `bulk1`, autocommit";
        w->work = make_work("W6", rows);
        w->rounds = opt_w6_rounds;
        if (ensure_bulk_table() != 0)
            return 1;
        read_bulk_settings();
        add(w, C_BATCH, 0, 0)->n = rows;
        config *c = add(w, C_AMY, 4, 128); /* W1's best configuration */
        c->n = rows;
        c = add(w, C_BLOCKING, 0, 0);
        c->n = rows;
        c->per_stmt = 1;
        c = add(w, C_MULTI, 0, 0);
        c->n = rows;
        c->per_stmt = opt_per_stmt;
        run_workload(w);
        print_w6_table(w);
        bulk_sql("DROP TABLE IF EXISTS bulk1");
    }
    if (wanted("W7")) {
        /* W1's own statements for the closed-loop peaks (static, as the
         * other workloads' are: kept for the process's life). */
        static bench_work w1, warm;
        w1 = make_work("W1", 20000 / q);
        warm = w1;
        warm.n = w1.n / 10;
        bench_w7_suite(&w1, &warm, TABLE_ROWS, opt_w7_rounds, opt_w7_seconds,
                       opt_w7_drain, opt_data);
    }
    if (server_restarts)
        printf("\n**Warning: the server was restarted %d time%s during this "
               "run, by another process; the rounds around each restart are "
               "disturbed. Run again, or with AMY_BENCH_OWN_SERVER=1.**\n",
               server_restarts, server_restarts > 1 ? "s" : "");
    return 0;
}
