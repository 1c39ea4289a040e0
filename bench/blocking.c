/*
 * The baselines: libmariadb used the ordinary blocking way.
 *
 * (1) one connection, one statement at a time;
 * (2) K threads, each with its own connection, pulling the next statement
 *     from a shared atomic counter.
 *
 * Each statement's answer is stored, checked and freed inside the timed
 * region, exactly as the amysql runner checks and frees its futures, so
 * both sides do the same work per statement.
 */
#include <mysql.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* TLS as the DSN's ssl_mode asks, set the way a blocking program sets
 * it: required encrypts, the verifying modes also check the server's
 * certificate against ssl_ca (and its name: Connector/C's check does
 * both). Nothing for disabled. */
static int set_tls(MYSQL *m, const bench_conninfo *ci)
{
    if (!ci->tls)
        return 0;
    my_bool yes = 1;
    int rc = mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &yes);
    if (ci->tls == 2) {
        rc |= mysql_optionsv(m, MYSQL_OPT_SSL_CA, ci->ssl_ca);
        rc |= mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
    }
    return rc;
}

/* The options amysql sets on its own handles, so both speak the same
 * protocol (TCP unless the DSN names the socket) and charset, and TLS as
 * the DSN in use says. */
MYSQL *bench_connect(char *err, size_t errlen)
{
    const bench_conninfo *ci = bench_g.use_tls ? &bench_g.tls_ci : &bench_g.ci;
    MYSQL *m = mysql_init(NULL);
    if (!m) {
        snprintf(err, errlen, "mysql_init: out of memory");
        return NULL;
    }
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    int local = !strcmp(ci->host, "localhost") || ci->socket[0];
    if (!local) {
        unsigned tcp = MYSQL_PROTOCOL_TCP;
        mysql_options(m, MYSQL_OPT_PROTOCOL, &tcp);
    }
    if (set_tls(m, ci) != 0) {
        snprintf(err, errlen, "connect: this Connector/C takes no TLS options");
        mysql_close(m);
        return NULL;
    }
    if (!mysql_real_connect(m, local ? "localhost" : ci->host, ci->user,
                            ci->password, ci->db, ci->port,
                            ci->socket[0] ? ci->socket : NULL, 0)) {
        snprintf(err, errlen, "connect: %s", mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    /* A plaintext line that ran encrypted (a connector that turns TLS on
     * by default) or the reverse would measure the wrong thing. */
    if (!mysql_get_ssl_cipher(m) != !ci->tls) {
        snprintf(err, errlen, "connect: the connection is %s, the DSN says %s",
                 ci->tls ? "plaintext" : "encrypted",
                 ci->tls ? "TLS" : "ssl_mode=disabled");
        mysql_close(m);
        return NULL;
    }
    return m;
}

void bench_conn_tls(MYSQL *m, bench_sample *s)
{
    const char *cipher = mysql_get_ssl_cipher(m), *version = NULL;
    if (!cipher)
        return;
    if (mariadb_get_infov(m, MARIADB_CONNECTION_TLS_VERSION, &version) != 0)
        version = NULL;
    snprintf(s->tls, sizeof s->tls, "%s %s", version ? version : "TLS", cipher);
}

/* Runs one statement and drops any result. */
int bench_exec(MYSQL *m, const char *sql, char *err, size_t errlen)
{
    if (mysql_real_query(m, sql, (unsigned long)strlen(sql)) != 0) {
        snprintf(err, errlen, "%s: %s", sql, mysql_error(m));
        return -1;
    }
    MYSQL_RES *res = mysql_store_result(m);
    if (res)
        mysql_free_result(res);
    return 0;
}

/* One statement the way a blocking program runs it; 0 when the answer is
 * as expected, 1 when it is wrong, -1 when the connection broke. */
static int one_query(MYSQL *m, const bench_work *w, size_t i)
{
    const char *sql = w->sql[i];
    if (mysql_real_query(m, sql, (unsigned long)strlen(sql)) != 0)
        return mysql_errno(m) >= 2000 ? -1 : 1;
    MYSQL_RES *res = mysql_store_result(m);
    if (!res)
        return mysql_errno(m) >= 2000 ? -1 : 1;
    int bad = mysql_num_rows(res) != w->expect_rows;
    MYSQL_ROW row = mysql_fetch_row(res);
    if (w->expect_rows && (!row || !row[0]))
        bad = 1;
    mysql_free_result(res);
    return bad;
}

int bench_blocking(const bench_work *w, bench_sample *s)
{
    char err[512];
    memset(s, 0, sizeof *s);
    double t0 = bench_now();
    MYSQL *m = bench_connect(err, sizeof err);
    if (!m) {
        fprintf(stderr, "blocking: %s\n", err);
        return -1;
    }
    s->setup = bench_now() - t0;
    s->conns = 1;
    s->conns_tls = mysql_get_ssl_cipher(m) != NULL;
    bench_conn_tls(m, s);
    bench_mark a, b;
    bench_timed_begin(&a);
    for (size_t i = 0; i < w->n; i++) {
        int rc = one_query(m, w, i);
        if (rc < 0) {
            s->failed += w->n - i;
            break;
        }
        s->failed += (size_t)rc;
    }
    bench_timed_end(&b);
    bench_mark_diff(&a, &b, s);
    mysql_close(m);
    return 0;
}

typedef struct threads_run {
    const bench_work *w;
    atomic_size_t next;
    atomic_size_t failed;
    atomic_uint connect_failed;
    atomic_uint encrypted;
    pthread_mutex_t mu; /* tls */
    char tls[96];       /* one connection's version and cipher */
    pthread_barrier_t start, stop;
} threads_run;

static void *worker(void *arg)
{
    threads_run *t = arg;
    char err[512];
    mysql_thread_init();
    MYSQL *m = bench_connect(err, sizeof err);
    if (!m) {
        fprintf(stderr, "threads: %s\n", err);
        atomic_fetch_add(&t->connect_failed, 1);
    } else if (mysql_get_ssl_cipher(m)) {
        atomic_fetch_add(&t->encrypted, 1);
        bench_sample one = {0};
        bench_conn_tls(m, &one);
        pthread_mutex_lock(&t->mu);
        memcpy(t->tls, one.tls, sizeof t->tls);
        pthread_mutex_unlock(&t->mu);
    }
    /* Connecting stays outside the timed region, as for amysql's pool. */
    pthread_barrier_wait(&t->start);
    size_t failed = 0;
    while (m) {
        size_t i = atomic_fetch_add(&t->next, 1);
        if (i >= t->w->n)
            break;
        int rc = one_query(m, t->w, i);
        if (rc < 0) {
            failed++;
            mysql_close(m);
            m = NULL;
            break;
        }
        failed += (size_t)rc;
    }
    atomic_fetch_add(&t->failed, failed);
    pthread_barrier_wait(&t->stop);
    if (m)
        mysql_close(m);
    mysql_thread_end();
    return NULL;
}

int bench_threads(const bench_work *w, unsigned k, bench_sample *s)
{
    memset(s, 0, sizeof *s);
    threads_run t = {.w = w};
    atomic_init(&t.next, 0);
    atomic_init(&t.failed, 0);
    atomic_init(&t.connect_failed, 0);
    atomic_init(&t.encrypted, 0);
    pthread_mutex_init(&t.mu, NULL);
    pthread_t *tids = calloc(k, sizeof *tids);
    if (!tids)
        return -1;
    pthread_barrier_init(&t.start, NULL, k + 1);
    pthread_barrier_init(&t.stop, NULL, k + 1);
    double t0 = bench_now();
    for (unsigned i = 0; i < k; i++) {
        if (pthread_create(&tids[i], NULL, worker, &t) != 0) {
            /* A half-started barrier cannot be released: give up hard. */
            fprintf(stderr, "threads: pthread_create failed at %u\n", i);
            exit(1);
        }
    }
    pthread_barrier_wait(&t.start);
    s->setup = bench_now() - t0;
    bench_mark a, b;
    bench_timed_begin(&a);
    pthread_barrier_wait(&t.stop);
    bench_timed_end(&b);
    bench_mark_diff(&a, &b, s);
    for (unsigned i = 0; i < k; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    pthread_barrier_destroy(&t.start);
    pthread_barrier_destroy(&t.stop);
    pthread_mutex_destroy(&t.mu);
    s->conns = k - atomic_load(&t.connect_failed);
    s->conns_tls = atomic_load(&t.encrypted);
    memcpy(s->tls, t.tls, sizeof s->tls);
    size_t done = atomic_load(&t.next);
    s->failed = atomic_load(&t.failed);
    if (done < w->n) /* every connection broke before the end */
        s->failed += w->n - done;
    return atomic_load(&t.connect_failed) == k ? -1 : 0;
}

/*
 * W6: inserting rows the way a C programmer does it by hand, on one
 * connection in autocommit: each statement's text built inside the timed
 * region, the strings escaped with mysql_real_escape_string, the number of
 * affected rows checked. per_stmt 1 is one INSERT per row; more is the
 * multi-row INSERT ... VALUES (...),(...),... Failures count rows.
 */
#define ROW_TEXT_MAX (2 * (BENCH_C_LEN + BENCH_PAD_LEN) + 64)

/* (id,k,'c','pad') at out; 0 when the connection cannot escape. */
static size_t row_text(MYSQL *m, char *out, const bench_row *r)
{
    char *p = out + sprintf(out, "(%d,%d,'", (int)r->id, (int)r->k);
    unsigned long len = mysql_real_escape_string(m, p, r->c, BENCH_C_LEN);
    if (len == (unsigned long)-1)
        return 0;
    p += len;
    memcpy(p, "','", 3);
    p += 3;
    len = mysql_real_escape_string(m, p, r->pad, BENCH_PAD_LEN);
    if (len == (unsigned long)-1)
        return 0;
    p += len;
    memcpy(p, "')", 2);
    return (size_t)(p + 2 - out);
}

int bench_blocking_insert(const bench_work *w, size_t n, unsigned per_stmt,
                          bench_sample *s)
{
    static const char head[] = "INSERT INTO bulk1 (id, k, c, pad) VALUES ";
    char err[512];
    memset(s, 0, sizeof *s);
    if (!per_stmt)
        per_stmt = 1;
    char *sql = malloc(sizeof head + (size_t)per_stmt * (ROW_TEXT_MAX + 1));
    if (!sql)
        return -1;
    memcpy(sql, head, sizeof head - 1);
    double t0 = bench_now();
    MYSQL *m = bench_connect(err, sizeof err);
    if (!m) {
        fprintf(stderr, "blocking: %s\n", err);
        free(sql);
        return -1;
    }
    s->setup = bench_now() - t0;
    bench_mark a, b;
    bench_timed_begin(&a);
    for (size_t i = 0; i < n;) {
        size_t k = n - i < per_stmt ? n - i : per_stmt;
        char *p = sql + sizeof head - 1;
        for (size_t j = 0; j < k; j++) {
            if (j)
                *p++ = ',';
            size_t len = row_text(m, p, &w->rows[i + j]);
            if (!len) {
                fprintf(stderr, "blocking: mysql_real_escape_string failed\n");
                exit(1);
            }
            p += len;
        }
        if (mysql_real_query(m, sql, (unsigned long)(p - sql)) != 0) {
            if (!s->failed) /* the run is repeated: say why */
                fprintf(stderr, "blocking: row %zu: %s\n", i + 1,
                        mysql_error(m));
            if (mysql_errno(m) >= 2000) { /* the connection broke */
                s->failed += n - i;
                break;
            }
            s->failed += k;
        } else if (mysql_affected_rows(m) != (my_ulonglong)k)
            s->failed += k;
        i += k;
    }
    bench_timed_end(&b);
    bench_mark_diff(&a, &b, s);
    mysql_close(m);
    free(sql);
    return 0;
}
