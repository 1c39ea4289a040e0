/*
 * Node's `mariadb` driver as a peer in W1: bench/node/w1.js, one process
 * per run. The statements go to it in a file (the very list the C clients
 * run); it connects and warms up, says READY, and runs the timed batch when
 * told GO, so that the server's CPU is read around its timed region exactly
 * as around a C client's. Its wall time and CPU (process.cpuUsage: the
 * whole process, all threads, as getrusage is here) are its own, measured
 * inside node around the batch.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

#ifndef AMY_BENCH_NODE_DIR_DEFAULT
#define AMY_BENCH_NODE_DIR_DEFAULT "bench/node"
#endif

static const char *node_dir(void)
{
    const char *d = getenv("AMY_BENCH_NODE_DIR");
    return d && *d ? d : AMY_BENCH_NODE_DIR_DEFAULT;
}

static const char *node_bin(void)
{
    const char *b = getenv("AMY_BENCH_NODE_BIN");
    return b && *b ? b : "node";
}

typedef struct child {
    pid_t pid;
    FILE *out; /* its stdout */
    int in;    /* its stdin; -1 once closed */
} child;

static void set_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0)
        fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

/* node w1.js argv[0..]: stdin and stdout on pipes, stderr shared. */
static int spawn(char *const *extra, child *c)
{
    int in[2], out[2];
    if (pipe(in) != 0)
        return -1;
    if (pipe(out) != 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    set_cloexec(in[1]);
    set_cloexec(out[0]);
    char script[1024];
    snprintf(script, sizeof script, "%s/w1.js", node_dir());
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)node_bin();
    argv[n++] = script;
    for (int i = 0; extra[i] && n < 15; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[0]);
    posix_spawn_file_actions_addclose(&fa, out[1]);
    fflush(stdout);
    fflush(stderr);
    int rc = posix_spawnp(&c->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        errno = rc;
        return -1;
    }
    c->in = in[1];
    c->out = fdopen(out[0], "r");
    if (!c->out) {
        close(out[0]);
        close(c->in);
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        return -1;
    }
    return 0;
}

/* Closes its stdin (it then exits) and waits; 0 when it exited 0. */
static int reap(child *c)
{
    if (c->in >= 0)
        close(c->in);
    c->in = -1;
    fclose(c->out);
    int status;
    while (waitpid(c->pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int read_line(child *c, char *buf, size_t len)
{
    if (!fgets(buf, (int)len, c->out))
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* The number after "key": in a flat JSON object; -1 when absent. */
static int json_num(const char *s, const char *key, double *v)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(s, k);
    if (!p)
        return -1;
    char *end;
    *v = strtod(p + strlen(k), &end);
    return end == p + strlen(k) ? -1 : 0;
}

int bench_node_probe(char *version, size_t vlen, char *why, size_t whylen)
{
    version[0] = '\0';
    const char *skip = getenv("AMY_BENCH_NODE_SKIP");
    if (skip && *skip) { /* bench/run.sh could not install it: why */
        snprintf(why, whylen, "%s", skip);
        return -1;
    }
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/node_modules/mariadb/package.json",
             node_dir());
    if (stat(path, &st) != 0) {
        snprintf(why, whylen,
                 "the driver is not installed in %s/node_modules "
                 "(bench/run.sh installs it: npm ci --prefix bench/node)",
                 node_dir());
        return -1;
    }
    char *args[] = {"--version", NULL};
    child c;
    if (spawn(args, &c) != 0) {
        snprintf(why, whylen, "cannot run %s: %s", node_bin(), strerror(errno));
        return -1;
    }
    char line[128] = "";
    int got = read_line(&c, line, sizeof line) == 0 && line[0];
    if (reap(&c) != 0 || !got) {
        snprintf(why, whylen, "%s %s/w1.js --version failed", node_bin(),
                 node_dir());
        return -1;
    }
    snprintf(version, vlen, "%s", line);
    return 0;
}

/* The statements, one a line, in a temporary file; its path into path. */
static int write_statements(const bench_work *w, char *path, size_t len)
{
    snprintf(path, len, "/tmp/amy-bench-node-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    FILE *fp = fdopen(fd, "w");
    if (!fp) {
        close(fd);
        unlink(path);
        return -1;
    }
    for (size_t i = 0; i < w->n; i++)
        fprintf(fp, "%s\n", w->sql[i]);
    if (fclose(fp) != 0) {
        unlink(path);
        return -1;
    }
    return 0;
}

int bench_node(const bench_work *w, unsigned conns, const bench_work *warm,
               bench_sample *s)
{
    memset(s, 0, sizeof *s);
    if (bench_g.use_tls || bench_g.ci.tls) {
        fprintf(stderr, "node: the Node peer runs plaintext only\n");
        return -1;
    }
    /* A child that dies must not kill amy_bench when GO is written. */
    signal(SIGPIPE, SIG_IGN);
    if (setenv("AMY_BENCH_NODE_DSN", bench_g.dsn, 1) != 0)
        return -1;
    char file[64], nconn[16], nwarm[32];
    if (write_statements(w, file, sizeof file) != 0) {
        perror("node: statements file");
        return -1;
    }
    snprintf(nconn, sizeof nconn, "%u", conns ? conns : 1);
    /* The warm-up is the first warm->n statements of the same list, as
     * amysql's is (main.c takes the first tenth). */
    size_t wn = warm ? warm->n : 0;
    if (wn > w->n)
        wn = w->n;
    snprintf(nwarm, sizeof nwarm, "%zu", wn);
    char *args[] = {"--sql", file, "--warm", nwarm, "--conns", nconn, NULL};
    double t0 = bench_now();
    child c;
    if (spawn(args, &c) != 0) {
        fprintf(stderr, "node: cannot run %s: %s\n", node_bin(),
                strerror(errno));
        unlink(file);
        return -1;
    }
    char line[1024];
    int ok =
        read_line(&c, line, sizeof line) == 0 && !strncmp(line, "READY ", 6);
    s->setup = bench_now() - t0;
    double v;
    if (ok && json_num(line, "conns", &v) == 0)
        s->conns = (unsigned)v;
    bench_mark a, b;
    if (ok) {
        bench_timed_begin(&a);
        ok = write(c.in, "GO\n", 3) == 3 &&
             read_line(&c, line, sizeof line) == 0;
        bench_timed_end(&b);
    }
    double wall = 0, user = 0, sys = 0, failed = 0, n = 0;
    ok = ok && json_num(line, "wall", &wall) == 0 &&
         json_num(line, "user_us", &user) == 0 &&
         json_num(line, "sys_us", &sys) == 0 &&
         json_num(line, "failed", &failed) == 0 &&
         json_num(line, "n", &n) == 0 && (size_t)n == w->n;
    int exited = reap(&c);
    unlink(file);
    if (!ok || exited != 0) {
        fprintf(stderr, "node: the run failed (see node w1's message above)\n");
        return -1;
    }
    bench_mark_diff(&a, &b, s); /* the server's CPU around GO ... result */
    s->wall = wall;
    s->client_cpu = (user + sys) / 1e6;
    s->client_sys = sys / 1e6;
    s->failed = (size_t)failed;
    return 0;
}
