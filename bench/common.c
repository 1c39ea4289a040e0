/* Clocks, /proc readers and DSN parsing shared by every runner. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

bench_env bench_g;

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whole-process CPU: the thread baseline's workers count too. */
static void client_cpu(double *total, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    *total =
        *sys + (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

/* The server shares the two cores with the client, so its CPU is the other
 * half of the cost of a query. /proc/<pid>/stat sums all its threads. */
static double server_cpu(void)
{
    if (bench_g.server_pid <= 0)
        return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", bench_g.server_pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: skip past the
     * last ')'; the next field is the state (field 3). */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15; field++) {
        while (*p == ' ')
            p++;
        if (field == 14)
            utime = strtoull(p, NULL, 10);
        if (field == 15)
            stime = strtoull(p, NULL, 10);
        while (*p && *p != ' ')
            p++;
    }
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

void bench_mark_now(bench_mark *m)
{
    m->server = server_cpu();
    client_cpu(&m->cpu, &m->sys);
    m->wall = bench_now();
}

void bench_mark_diff(const bench_mark *a, const bench_mark *b, bench_sample *s)
{
    s->wall = b->wall - a->wall;
    s->client_cpu = b->cpu - a->cpu;
    s->client_sys = b->sys - a->sys;
    s->server_cpu =
        (a->server < 0 || b->server < 0) ? -1 : b->server - a->server;
}

/* perf stat/record -D -1 --control fifo:CTL[,ACK]: "enable" and "disable"
 * written to CTL; when ACK is given, perf's "ack" is awaited so the
 * counters are on before the first timed statement. */
static void perf_control(const char *cmd)
{
    static FILE *ctl, *ack;
    static int tried;
    if (!tried) {
        tried = 1;
        const char *c = getenv("AMY_BENCH_PERF_CTL");
        const char *a = getenv("AMY_BENCH_PERF_ACK");
        if (c && *c)
            ctl = fopen(c, "w");
        if (ctl && a && *a)
            ack = fopen(a, "r");
    }
    if (!ctl)
        return;
    fprintf(ctl, "%s\n", cmd);
    fflush(ctl);
    char line[64];
    if (ack && !fgets(line, sizeof line, ack))
        ack = NULL;
}

void bench_timed_begin(bench_mark *m)
{
    perf_control("enable");
    bench_mark_now(m);
}

void bench_timed_end(bench_mark *m)
{
    bench_mark_now(m);
    perf_control("disable");
}

long bench_proc_status_bytes(const char *key)
{
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp)
        return -1;
    char line[256];
    size_t klen = strlen(key);
    long kb = -1;
    while (fgets(line, sizeof line, fp)) {
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            kb = strtol(line + klen + 1, NULL, 10);
            break;
        }
    }
    fclose(fp);
    return kb < 0 ? -1 : kb * 1024;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copies [s, s+len) percent-decoded into out; -1 when it does not fit. */
static int decode(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 &&
            hexval(s[i + 2]) >= 0) {
            c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
            i += 2;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* The value of key in a DSN's query ("?a=1&key=v..."), or NULL. */
static const char *query_value(const char *q, const char *key)
{
    size_t kl = strlen(key);
    for (const char *s = q; (s = strstr(s, key)); s += kl)
        if ((s[-1] == '?' || s[-1] == '&') && s[kl] == '=')
            return s + kl + 1;
    return NULL;
}

/* ssl_mode's value: 0 plaintext, 1 encrypted, 2 encrypted and verified;
 * -1 for preferred or an unknown mode. */
static int ssl_level(const char *v, size_t len, int *level)
{
    static const char *const names[] = {"disabled", "required", "verify_ca",
                                        "verify_identity"};
    static const int levels[] = {0, 1, 2, 2};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == len && !strncmp(v, names[i], len)) {
            *level = levels[i];
            return 0;
        }
    return -1;
}

/* Just what the baselines need from
 * mysql://user:pass@host:port/db?socket=&ssl_mode=&ssl_ca=: the library's
 * own parser is internal to it. */
int bench_parse_dsn(const char *dsn, bench_conninfo *ci, char *err,
                    size_t errlen)
{
    memset(ci, 0, sizeof *ci);
    const char *p = strstr(dsn, "://");
    if (!p) {
        snprintf(err, errlen, "DSN has no scheme: expected mysql://...");
        return -1;
    }
    p += 3;
    const char *end = p + strcspn(p, "/?");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *uend = colon ? colon : at;
        if (decode(p, (size_t)(uend - p), ci->user, sizeof ci->user) ||
            (colon && decode(colon + 1, (size_t)(at - colon - 1), ci->password,
                             sizeof ci->password))) {
            snprintf(err, errlen, "DSN user or password too long");
            return -1;
        }
        p = at + 1;
    }
    const char *hend = end;
    if (*p == '[') { /* IPv6 literal */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) {
            snprintf(err, errlen, "DSN host: missing ']'");
            return -1;
        }
        if (decode(p + 1, (size_t)(rb - p - 1), ci->host, sizeof ci->host))
            return -1;
        p = rb + 1;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        hend = colon ? colon : end;
        if (decode(p, (size_t)(hend - p), ci->host, sizeof ci->host))
            return -1;
        p = hend;
    }
    if (*p == ':')
        ci->port = (unsigned)strtoul(p + 1, NULL, 10);
    p = end;
    if (*p == '/') {
        p++;
        size_t dl = strcspn(p, "?");
        if (decode(p, dl, ci->db, sizeof ci->db))
            return -1;
        p += dl;
    }
    if (*p == '?') {
        const char *s = query_value(p, "socket");
        if (s && decode(s, strcspn(s, "&"), ci->socket, sizeof ci->socket))
            return -1;
        s = query_value(p, "ssl_ca");
        if (s && decode(s, strcspn(s, "&"), ci->ssl_ca, sizeof ci->ssl_ca)) {
            snprintf(err, errlen, "DSN ssl_ca too long");
            return -1;
        }
        s = query_value(p, "ssl_mode");
        if (s && ssl_level(s, strcspn(s, "&"), &ci->tls) != 0) {
            /* preferred ("TLS if offered") has no one way to say it to
             * every Connector/C version: the baselines want a mode that
             * fixes what they run. */
            snprintf(err, errlen,
                     "DSN ssl_mode: the blocking baselines take disabled, "
                     "required, verify_ca or verify_identity");
            return -1;
        }
        if (ci->tls == 2 && !ci->ssl_ca[0]) {
            snprintf(err, errlen, "DSN: a verifying ssl_mode needs ssl_ca");
            return -1;
        }
    }
    if (!ci->host[0])
        snprintf(ci->host, sizeof ci->host, "localhost");
    return 0;
}

int bench_dsn_has_key(const char *dsn, const char *key)
{
    const char *q = strchr(dsn, '?');
    return q && query_value(q, key) != NULL;
}

char *bench_dsn_tls(const char *dsn, const char *ca)
{
    size_t n = strlen(dsn) + 3 * strlen(ca) + 64;
    char *out = malloc(n);
    if (!out)
        return NULL;
    const char *q = strchr(dsn, '?');
    size_t o = q ? (size_t)(q - dsn) : strlen(dsn);
    memcpy(out, dsn, o);
    char sep = '?';
    /* Every key but the ssl_* ones (the library refuses a key given
     * twice), in their order. */
    for (const char *k = q ? q + 1 : NULL; k && *k;) {
        size_t len = strcspn(k, "&");
        if (strncmp(k, "ssl_", 4) != 0 && len) {
            out[o++] = sep;
            memcpy(out + o, k, len);
            o += len;
            sep = '&';
        }
        k += len;
        if (*k == '&')
            k++;
    }
    o += (size_t)snprintf(out + o, n - o,
                          "%cssl_mode=verify_identity&ssl_ca=", sep);
    for (const unsigned char *c = (const unsigned char *)ca; *c; c++) {
        if (isalnum(*c) || strchr("-._~/", *c))
            out[o++] = (char)*c;
        else
            o += (size_t)snprintf(out + o, n - o, "%%%02X", *c);
    }
    out[o] = '\0';
    return out;
}

char *bench_dsn_with(const char *dsn, const char *params)
{
    size_t n = strlen(dsn) + strlen(params) + 2;
    char *s = malloc(n);
    if (s && !*params) /* the library refuses an empty key */
        snprintf(s, n, "%s", dsn);
    else if (s)
        snprintf(s, n, "%s%c%s", dsn, strchr(dsn, '?') ? '&' : '?', params);
    return s;
}

/* W5 holds 1,000 sockets in one process (threads baseline: 1,000 more
 * while they close); the soft limit is often 1024. */
void bench_raise_nofile(unsigned need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    rlim_t want = need;
    if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
        want = rl.rlim_max;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        perror("setrlimit(RLIMIT_NOFILE)");
}

/* splitmix64: a fixed seed gives every client the same statements. */
uint64_t bench_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
