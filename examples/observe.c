/*
 * amysql observability: a small "service" that logs every query as one
 * JSON line in OpenTelemetry's span shape (name, trace-like ids from the
 * future's tag, start/end, attributes named as OpenTelemetry's database
 * conventions name them), then prints a slow-query report and the pool's
 * latency histograms.
 *
 * Usage: amy_observe mysql://user:pass@host:port/db [slow_ms]
 *
 * The spans go to stdout, one per line; the report to stdout after them.
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amysql.h"

/* What the service keeps per request: its own id, given as the tag. */
typedef struct request {
    unsigned id;
    const char *route;
} request;

/* The slowest queries, kept by the observer (copies: the info's strings
 * are valid during the call only). */
#define KEEP 3
typedef struct slow {
    double ms;
    char sql[80];
    unsigned request;
} slow;

typedef struct service {
    double slow_ms;
    slow worst[KEEP];
    unsigned nslow, spans, errors;
} service;

/* A JSON string of at most n bytes of s (quotes, backslashes, control
 * characters escaped). */
static void json_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void on_end(void *arg, const amy_query_info *q)
{
    service *sv = arg;
    const request *rq = amy_future_tag(q->future);
    double ms = (q->resolved_at - q->submitted_at) * 1e3;
    sv->spans++;
    /* One span: name "<operation> <namespace>" as the conventions say. */
    printf("{\"name\":\"%s %s\",\"kind\":\"CLIENT\",\"request\":%u,"
           "\"start\":%.6f,\"end\":%.6f,\"attributes\":{",
           amy_op_name(q->kind), q->db_namespace, rq ? rq->id : 0,
           q->submitted_at, q->resolved_at);
    printf("\"db.system.name\":\"%s\",\"db.operation.name\":\"%s\","
           "\"db.namespace\":",
           q->db_system, amy_op_name(q->kind));
    json_str(q->db_namespace, strlen(q->db_namespace));
    printf(",\"db.query.text\":");
    json_str(q->sql, q->sql_len);
    printf(",\"server.address\":");
    json_str(q->server_address, strlen(q->server_address));
    printf(",\"server.port\":%u", q->server_port);
    if (q->status == AMY_OK) {
        printf(",\"db.response.returned_rows\":%llu",
               (unsigned long long)q->returned_rows);
    } else {
        sv->errors++;
        printf(",\"error.type\":\"%s\"", amy_status_name(q->status));
        if (q->status_code[0])
            printf(",\"db.response.status_code\":\"%s\"", q->status_code);
    }
    printf(",\"amysql.queue_wait_ms\":%.3f}}\n",
           q->sent_at ? (q->sent_at - q->submitted_at) * 1e3 : 0.0);

    if (ms < sv->slow_ms)
        return;
    sv->nslow++;
    /* Keep the KEEP slowest, slowest first. */
    int at = KEEP;
    while (at > 0 && sv->worst[at - 1].ms < ms)
        at--;
    if (at == KEEP)
        return;
    memmove(&sv->worst[at + 1], &sv->worst[at],
            (KEEP - 1 - (size_t)at) * sizeof sv->worst[0]);
    sv->worst[at].ms = ms;
    snprintf(sv->worst[at].sql, sizeof sv->worst[at].sql, "%.*s",
             (int)(q->sql_len < 79 ? q->sql_len : 79), q->sql);
    sv->worst[at].request = rq ? rq->id : 0;
}

static void on_opened(void *arg, const amy_conn_info *c)
{
    fprintf(stderr, "connection %lu to %s:%u open in %.1f ms%s\n",
            c->connection_id, c->server_address, c->server_port,
            c->connect_seconds * 1e3, c->tls ? " (TLS)" : "");
}

static const amy_observer observer = {
    .query_end = on_end,
    .conn_opened = on_opened,
};

/* One request of the service: a few queries gathered, tagged with it. */
static int handle(amy_pool *pool, request *rq, const char *const *sql, size_t n)
{
    amy_future *fs[8];
    for (size_t i = 0; i < n; i++) {
        fs[i] = amy_query(pool, sql[i]);
        if (fs[i])
            amy_future_set_tag(fs[i], rq);
    }
    amy_future *all = amy_gather(fs, n);
    int st = all ? amy_future_wait(all) : AMY_ENOMEM;
    amy_future_free(all);
    for (size_t i = 0; i < n; i++)
        amy_future_free(fs[i]);
    return st;
}

static void print_histogram(const amy_pool *pool, int which, const char *name)
{
    uint64_t counts[AMY_HIST_NBOUNDS + 1];
    uint64_t n = amy_pool_histogram(pool, which, amy_hist_bounds,
                                    AMY_HIST_NBOUNDS, counts);
    printf("%s: %llu values, p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", name,
           (unsigned long long)n, amy_pool_percentile(pool, which, 50) * 1e3,
           amy_pool_percentile(pool, which, 99) * 1e3,
           amy_pool_percentile(pool, which, 100) * 1e3);
    for (int i = 0; i <= AMY_HIST_NBOUNDS; i++) {
        if (!counts[i])
            continue;
        if (i < AMY_HIST_NBOUNDS)
            printf("  <= %8.3f ms  %llu\n", amy_hist_bounds[i] * 1e3,
                   (unsigned long long)counts[i]);
        else
            printf("  >  %8.3f ms  %llu\n",
                   amy_hist_bounds[AMY_HIST_NBOUNDS - 1] * 1e3,
                   (unsigned long long)counts[i]);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DSN [slow_ms]\n", argv[0]);
        return 2;
    }
    service sv = {.slow_ms = argc > 2 ? atof(argv[2]) : 20};
    char err[256];
    amy_pool *pool = amy_pool_new(EV_DEFAULT, argv[1], err, sizeof err);
    if (!pool) {
        fprintf(stderr, "bad DSN: %s\n", err);
        return 1;
    }
    amy_pool_set_observer(pool, &observer, &sv);

    static const char *const home[] = {
        "SELECT 1", "SELECT COUNT(*) FROM information_schema.COLLATIONS",
        "SELECT NOW(6)"};
    static const char *const report[] = {
        "SELECT SLEEP(0.03), 'report'",
        "SELECT seq FROM seq_1_to_100 WHERE seq % 7 = 0",
        "SELECT nope FROM dual" /* a broken query: an error span */};
    request rqs[] = {{1, "/home"}, {2, "/report"}, {3, "/home"}};
    handle(pool, &rqs[0], home, 3);
    handle(pool, &rqs[1], report, 3);
    handle(pool, &rqs[2], home, 3);

    printf("\n%u spans, %u failed; %u slower than %.0f ms, the slowest:\n",
           sv.spans, sv.errors, sv.nslow, sv.slow_ms);
    for (unsigned i = 0; i < KEEP && i < sv.nslow; i++)
        printf("  %8.3f ms  request %u  %s\n", sv.worst[i].ms,
               sv.worst[i].request, sv.worst[i].sql);
    print_histogram(pool, AMY_HIST_DURATION, "db.client.operation.duration");
    print_histogram(pool, AMY_HIST_QUEUE_WAIT,
                    "db.client.connection.wait_time");
    print_histogram(pool, AMY_HIST_CONNECT, "db.client.connection.create_time");
    amy_pool_free(pool);
    return sv.spans == 9 && sv.errors == 1 ? 0 : 1;
}
