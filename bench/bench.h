/*
 * amysql benchmark suite: shared declarations.
 *
 * One binary runs every client (amysql and the two blocking baselines) on
 * the same server in the same process run, so that only ratios measured
 * side by side are ever compared (the machine is shared and noisy).
 */
#ifndef AMY_BENCH_H
#define AMY_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* Connection parameters for the blocking baselines, parsed from the DSN.
 * tls follows the DSN's ssl_mode: 0 disabled, 1 required (encrypted,
 * unverified), 2 verify_ca or verify_identity (ssl_ca, and the server's
 * certificate checked: Connector/C checks the name with it). */
typedef struct bench_conninfo {
    char user[128], password[128], host[256], db[128], socket[512];
    char ssl_ca[512];
    unsigned port;
    int tls;
} bench_conninfo;

/* W6: one row of the table bulk1, in sysbench's shape: c is ten groups of
 * 11 digits joined by '-', pad five. */
#define BENCH_C_LEN   119
#define BENCH_PAD_LEN 59
typedef struct bench_row {
    int32_t id, k;
    char c[BENCH_C_LEN + 1], pad[BENCH_PAD_LEN + 1];
} bench_row;

#define BENCH_INSERT_SQL "INSERT INTO bulk1 (id, k, c, pad) VALUES (?,?,?,?)"

/* What a run is asked to do: n statements and the answer each must give,
 * or (W6) n rows to insert into bulk1. */
typedef struct bench_work {
    const char *const *sql; /* n statements; NULL for W6 */
    size_t n;
    size_t expect_rows;    /* every answer must have exactly this many rows */
    const bench_row *rows; /* W6: n rows, ids 1..n */
} bench_work;

/*
 * What a run measured over its timed region only. Client CPU is the whole
 * process (all threads) from getrusage; server CPU is mariadbd's
 * utime+stime from /proc (10 ms ticks), -1 when not readable.
 */
typedef struct bench_sample {
    double wall;       /* seconds */
    double client_cpu; /* seconds, user + sys */
    double client_sys; /* seconds, sys part (syscalls, page faults) */
    double server_cpu; /* seconds, or < 0 when unknown */
    double setup;      /* seconds spent before the timed region (connecting) */
    size_t failed;     /* statements that failed or gave a wrong answer */
    /* W4 only. */
    long rss_before, rss_after, rss_gather, hwm_after_run; /* bytes */
    size_t sql_bytes, nfutures;
    /* Connections the run used and how many were encrypted (amysql:
     * amy_stats; baselines: mysql_get_ssl_cipher), and one's TLS version
     * and cipher ("" when none was). */
    unsigned conns, conns_tls;
    char tls[96];
} bench_sample;

/* A point in time for both clocks; the difference of two is a sample. */
typedef struct bench_mark {
    double wall, cpu, sys, server;
} bench_mark;

/* Process-wide settings the runners read. */
typedef struct bench_env {
    const char *dsn; /* amysql DSN, without pool/pipeline keys */
    bench_conninfo ci;
    /* The same server over TLS (W1T, STALL): the amysql DSN and what the
     * baselines make of it; NULL when no CA was given. use_tls: the run
     * in progress connects with these instead. */
    const char *tls_dsn;
    bench_conninfo tls_ci;
    int use_tls;
    int server_pid;       /* 0 when unknown */
    int timeline;         /* --one: print when amysql futures resolved */
    unsigned coalesce_us; /* amysql pools get read_coalesce_us=N (0: none) */
    /* W7: when set, bench_amy's pools get exactly these DSN keys ("": the
     * library's defaults) instead of pool, pipeline and coalesce_us. */
    const char *amy_params;
    /* --observe: amysql pools get an observer that only counts its events
     * (issue 14's cost of an observer); observed counts them. */
    int observe;
    uint64_t observed;
} bench_env;

extern bench_env bench_g;

/* common.c */
double bench_now(void);
void bench_mark_now(bench_mark *m);
/* bench_mark_now, plus telling `perf` to count from here / up to here when
 * AMY_BENCH_PERF_CTL names its --control fifo: profiles and syscall counts
 * then cover the timed region only. */
void bench_timed_begin(bench_mark *m);
void bench_timed_end(bench_mark *m);
void bench_mark_diff(const bench_mark *a, const bench_mark *b, bench_sample *s);
long bench_proc_status_bytes(const char *key); /* VmRSS, VmHWM; -1 on error */
int bench_parse_dsn(const char *dsn, bench_conninfo *ci, char *err,
                    size_t errlen);
char *bench_dsn_with(const char *dsn, const char *params);
/* Whether the DSN's query has key (as "key=..."). */
int bench_dsn_has_key(const char *dsn, const char *key);
/* dsn without its ssl_* keys, then ssl_mode=verify_identity and ssl_ca=ca
 * (percent-encoded). NULL on ENOMEM. */
char *bench_dsn_tls(const char *dsn, const char *ca);
void bench_raise_nofile(unsigned need);
uint64_t bench_rand(uint64_t *state);

/* blocking.c: the baselines, plain libmariadb. */
struct st_mysql;
/* A connection as the DSN in use (bench_g.use_tls) says: plaintext or
 * TLS; one that is not what was asked for is refused with a message. */
struct st_mysql *bench_connect(char *err, size_t errlen);
/* s->tls from an open connection: "TLSv1.3 TLS_AES_256_GCM_SHA384". */
void bench_conn_tls(struct st_mysql *m, bench_sample *s);
int bench_exec(struct st_mysql *m, const char *sql, char *err, size_t errlen);
int bench_blocking(const bench_work *w, bench_sample *s);
int bench_threads(const bench_work *w, unsigned k, bench_sample *s);
/* W6: the first n rows of w, one INSERT per row (per_stmt 1) or multi-row
 * INSERTs of per_stmt rows, text with mysql_real_escape_string. */
int bench_blocking_insert(const bench_work *w, size_t n, unsigned per_stmt,
                          bench_sample *s);

/* amy.c: the same work through amysql. */
int bench_amy(const bench_work *w, unsigned pool, unsigned pipeline,
              const bench_work *warm, bench_sample *s);
int bench_amy_memory(const bench_work *w, unsigned pool, unsigned pipeline,
                     bench_sample *s);
/* W6: the first n rows of w, one amy_query_params each, all submitted and
 * gathered; or all of them in one amy_exec_batch (pool=1). */
int bench_amy_insert(const bench_work *w, size_t n, unsigned pool,
                     unsigned pipeline, bench_sample *s);
int bench_amy_batch(const bench_work *w, size_t n, bench_sample *s);
struct amy_pool;
/* A pool on the run's DSN (its TLS twin with bench_g.use_tls) plus params
 * (DSN keys, "" for none), on the default loop, whose time is refreshed
 * first; NULL (and a message) on failure. */
struct amy_pool *bench_pool_new(const char *params);
/* The pool's connections and how many are encrypted, one's TLS version
 * and cipher into tls; -1 with a message when they are not what the DSN
 * in use asked for (all encrypted, or none). */
int bench_pool_tls(struct amy_pool *p, unsigned *conns, unsigned *conns_tls,
                   char *tls, size_t tlslen);

/* node.c: Node's `mariadb` driver (bench/node/w1.js, run with node) as a
 * peer. bench_node_probe: 0 and the driver's version when it can run; -1
 * and why not (node missing, the driver not installed, AMY_BENCH_NODE_SKIP
 * set by bench/run.sh). bench_node: w through one connection with the
 * driver's default pipelining (conns 1) or a createPool of conns, warmed
 * up with warm's first statements (the same list's first ones) before the
 * timed region; plaintext only. AMY_BENCH_NODE_DIR names the folder of
 * w1.js and its node_modules, AMY_BENCH_NODE_BIN the node binary. */
int bench_node_probe(char *version, size_t vlen, char *why, size_t whylen);
int bench_node(const bench_work *w, unsigned conns, const bench_work *warm,
               bench_sample *s);

/* stall.c: the loop's longest stall while a pool of nconn connections
 * opens (nconn gathered amy_pool_acquire, then released) and then n
 * queries run over them; a 1 ms ev_timer measures it. */
typedef struct bench_gap {
    double gap;   /* s: the longest time between two ticks */
    double first; /* s: the first gap of the phase (its first kick) */
    double wall;  /* s: the phase */
    unsigned long ticks;
    uint64_t answered; /* queries resolved within the longest gap */
    double cpu;        /* s: the loop thread's CPU within it */
    double wait;       /* s: it was runnable, waiting for a core (-1: ?) */
    long nivcsw;       /* involuntary context switches within it */
    long nvcsw;        /* voluntary ones (it slept) */
} bench_gap;
typedef struct bench_stall {
    bench_gap connect, query;
    size_t failed;
    unsigned conns, conns_tls;
    char tls[96];
} bench_stall;
int bench_stall_run(unsigned nconn, size_t n, int reset_on_release,
                    bench_stall *out);

/* ------------------------------------------------------------------------ */
/* W7: open-loop latency (w7.c, w7suite.c)                                  */
/* ------------------------------------------------------------------------ */

/* One open-loop run: what it is asked (rate, seconds, drain) and what it
 * measured. Latencies in µs from each query's scheduled arrival. */
typedef struct bench_openloop {
    double rate;        /* offered queries/s */
    double seconds;     /* of arrivals */
    double drain;       /* s after the arrivals: the cap */
    size_t n;           /* queries scheduled: floor(rate * seconds) */
    size_t answered;    /* by the cap */
    size_t backlog;     /* arrived by the end of arrivals, unanswered then */
    size_t outstanding; /* unanswered at the cap (latency = cap - arrival) */
    size_t failed;      /* wrong answers or errors */
    double achieved;    /* q/s: answered / (last answer - first arrival) */
    double p50, p99, p999, max; /* µs */
    double wall;                /* s: the timed region */
    double client_cpu;          /* s: the process, less the pacing thread */
    double pacer_cpu;           /* s: the pacing thread */
    double server_cpu;          /* s, < 0 when unknown */
    double pacer_lag_us;        /* the latest the pacer woke after a due time */
    size_t wakeups;    /* the pacer's releases (arrivals released together
                            when it woke late share one) */
    size_t pacer_late; /* arrivals it released more than 100 µs late */
    int pacer_rt;      /* it ran SCHED_FIFO (else a normal thread) */
    double setup;      /* s: connecting and warming, untimed */
    unsigned conns;
} bench_openloop;

/* W7 runs: o's rate, seconds and drain in, the rest out; statements are
 * point selects on ids 1..table_rows. amysql with the DSN keys params
 * ("" = the library's defaults); blocking threads, k connections. 0, or
 * -1 (with a message) when the run could not be made. */
int bench_w7_amy(const char *params, unsigned table_rows, bench_openloop *o);
int bench_w7_threads(unsigned k, unsigned table_rows, bench_openloop *o);

/* amy_bench --one W7 (client "amy" or "threads"): prints one line per
 * repeat; 0 when every run worked and no query failed. */
int bench_w7_one(const char *client, const char *params, unsigned k,
                 double rate, double seconds, double drain, unsigned table_rows,
                 int repeat);

/* The W7 suite: closed-loop peaks (W1's statements w1, warm-up warm) of
 * every configuration, then the open-loop runs at 25/50/75 % of the tuned
 * amysql peak, rounds interleaved; a Markdown section on stdout and, with
 * datadir, datadir/w7.dat for bench/w7.gp. */
void bench_w7_suite(const bench_work *w1, const bench_work *warm,
                    unsigned table_rows, int rounds, double seconds,
                    double drain, const char *datadir);

#endif
