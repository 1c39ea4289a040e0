/*
 * The amysql-batch engine (see run.h).
 *
 * Statements live in a ring of `window` slots from submission until their
 * output is written. No more are submitted than the pool can have in
 * flight, so that a statement submitted is a statement sent: after the
 * first error, what is stopped is what the server has not seen yet. A slot is
 * freed only in input order, so results that arrive early wait in their slot,
 * and reading stops while the ring is full: memory is bounded by the window,
 * not by the input, and a slow statement holds back at most `window` others.
 *
 * Everything happens in callbacks of one loop. Completions and input both
 * call advance(), which prints what it can, then reads and submits what
 * fits; a completion that arrives while advance() runs (amy_future_free of
 * a pending future runs its callback at once) only asks it to go round
 * once more, so the callbacks never nest.
 *
 * Regular files are read directly, since a read from them never waits;
 * other inputs (pipes, terminals) are read when an ev_io says they are
 * readable, so results keep flowing while a producer is slow.
 */
#include "run.h"

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "input.h"
#include "progress.h"
#include "split.h"
#include "stats.h"
#include "tsv.h"

#define READ_CHUNK        65536
#define DEFAULT_WINDOW    4096
#define PROGRESS_INTERVAL 0.1 /* at most 10 redraws a second */

struct runner;

struct slot {
    amy_future *f;
    struct runner *r;
    uint64_t n;         /* statement number, from 1 */
    size_t file;        /* index of its input */
    unsigned long line; /* where it starts in that input */
    double t0;          /* submission time */
    int done;
};

struct runner {
    struct ev_loop *loop;
    amy_pool *pool;
    const amy__cli_run_opts *o;
    const char *const *files;
    size_t nfiles;

    struct slot *slots;
    size_t window;
    uint64_t submitted, printed; /* counts; printed <= submitted */
    uint64_t done, errors;

    amy__cli_split *sp;
    size_t file; /* current input */
    int fd;      /* -1 when none is open */
    int regular, eof, input_done;
    uint64_t bytes_before; /* sizes of the inputs already finished */
    char *chunk;

    ev_io io;
    ev_timer tick;
    ev_signal sigint, sigterm;

    int stop;     /* submit nothing more */
    int abort;    /* end now, cancelling what is in flight */
    int finished; /* the loop should end */
    int running;  /* inside ev_run */
    int teardown; /* cancellations are not completions */
    int advancing, again;
    int status, signal;
    int connect_reported, output_failed;
    uint64_t first_failed;
    char input_error[512];

    double t_start;
    int shown, stdout_tty;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_status(struct runner *r, int status)
{
    if (status > r->status)
        r->status = status;
}

static void clear_progress(struct runner *r)
{
    if (r->shown) {
        fputs("\r\033[K", stderr);
        r->shown = 0;
    }
}

static void draw_progress(struct runner *r)
{
    amy__cli_progress p = {r->done, r->submitted, r->input_done,
                           -1,      r->errors,    now() - r->t_start};
    /* Statements so far, scaled by the share of the input they took. */
    uint64_t used =
        r->bytes_before + (r->fd >= 0 ? amy__cli_split_consumed(r->sp) : 0);
    if (!r->input_done && r->o->input_bytes && used)
        p.est_total =
            (double)r->submitted * (double)r->o->input_bytes / (double)used;
    char line[256];
    int n = snprintf(line, sizeof line, "amysql-batch: ");
    amy__cli_progress_format(line + n, sizeof line - (size_t)n, &p);
    /* A line longer than the terminal would wrap, and \r would then only
     * go back to the start of its last part. */
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
        ws.ws_col - 1 < (int)sizeof line)
        line[ws.ws_col - 1] = '\0';
    fprintf(stderr, "\r%s\033[K", line);
    r->shown = 1;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
message(struct runner *r, const char *fmt, ...)
{
    clear_progress(r);
    /* Results before this message come out before it, when stdout and
     * stderr go to the same place. */
    fflush(stdout);
    fputs("amysql-batch: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *slot_input(const struct runner *r, const struct slot *s)
{
    return amy__cli_input_name(r->files[s->file]);
}

static void print_slot(struct runner *r, const struct slot *s)
{
    amy_future *f = s->f;
    int st = amy_future_status(f);
    if (st == AMY_OK) {
        if (r->stdout_tty)
            clear_progress(r);
        /* Every result set, as the mariadb client prints a CALL's. */
        for (const amy_result *res = amy_future_result(f); res;
             res = amy_result_next(res))
            amy__cli_tsv_result(stdout, res, r->o->column_names);
        return;
    }
    if (st == AMY_ECANCELED)
        return;
    const char *msg = amy_future_error(f);
    if (!msg)
        msg = amy_strerror(st);
    if (st == AMY_ECONNECT) {
        /* Every queued statement fails with the same reason: say it once. */
        if (!r->connect_reported)
            message(r, "%s", msg);
        r->connect_reported = 1;
        return;
    }
    unsigned e = amy_future_server_errno(f);
    if (e)
        message(r, "statement %llu (%s:%lu): ERROR %u (%s): %s",
                (unsigned long long)s->n, slot_input(r, s), s->line, e,
                amy_future_sqlstate(f), msg);
    else
        message(r, "statement %llu (%s:%lu): %s", (unsigned long long)s->n,
                slot_input(r, s), s->line, msg);
}

/* Prints and frees the finished statements at the front of the ring. */
static void flush(struct runner *r)
{
    int wrote = 0;
    while (r->printed < r->submitted) {
        struct slot *s = &r->slots[r->printed % r->window];
        if (!s->done)
            break;
        print_slot(r, s);
        amy_future_free(s->f);
        s->f = NULL;
        r->printed++;
        wrote = 1;
    }
    if (wrote && r->stdout_tty)
        fflush(stdout);
    if (ferror(stdout) && !r->output_failed) {
        int e = errno;
        r->output_failed = 1;
        message(r, "cannot write the output: %s", strerror(e ? e : EIO));
        set_status(r, AMY__CLI_FATAL);
        r->stop = r->abort = 1;
    }
}

static void input_fail(struct runner *r, const char *fmt, const char *a,
                       const char *b)
{
    if (!r->input_error[0])
        snprintf(r->input_error, sizeof r->input_error, fmt, a, b);
    set_status(r, AMY__CLI_FATAL);
    r->stop = 1;
}

static void done_cb(amy_future *f, void *arg);
static void io_cb(struct ev_loop *loop, ev_io *w, int revents);

static int submit(struct runner *r, const amy__cli_stmt *st)
{
    amy_future *f = amy_query_len(r->pool, st->sql, st->len);
    if (!f) {
        input_fail(r, "%s%s", "out of memory", "");
        return -1;
    }
    struct slot *s = &r->slots[r->submitted % r->window];
    *s = (struct slot){f, r, r->submitted + 1, r->file, st->line, now(), 0};
    r->submitted++;
    if (r->o->slow_ms >= 0 && amy_future_set_tag(f, s) != AMY_OK) {
        input_fail(r, "%s%s", "out of memory", "");
        r->abort = 1;
        return -1;
    }
    if (amy_future_then(f, done_cb, s) != AMY_OK) {
        /* It could never be printed: end the run, cancelling the rest. */
        input_fail(r, "%s%s", "out of memory", "");
        r->abort = 1;
        return -1;
    }
    return 0;
}

static void close_input(struct runner *r)
{
    if (ev_is_active(&r->io))
        ev_io_stop(r->loop, &r->io);
    if (r->fd > 0)
        close(r->fd);
    r->fd = -1;
}

static int open_input(struct runner *r)
{
    char err[400];
    uint64_t size;
    if (amy__cli_input_open(r->files[r->file], &r->fd, &r->regular, &size, err,
                            sizeof err) != 0) {
        r->fd = -1;
        input_fail(r, "%s%s", err, "");
        return -1;
    }
    r->eof = 0;
    amy__cli_split_restart(r->sp);
    ev_io_set(&r->io, r->fd, EV_READ);
    return 0;
}

/* One read; sets eof at the end of the input. Returns 0 or -1. */
static int read_some(struct runner *r)
{
    ssize_t n = read(r->fd, r->chunk, READ_CHUNK);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return 0;
        input_fail(r, "cannot read %s: %s",
                   amy__cli_input_name(r->files[r->file]), strerror(errno));
        return -1;
    }
    if (n == 0) {
        r->eof = 1;
        return 0;
    }
    if (amy__cli_split_feed(r->sp, r->chunk, (size_t)n) != 0) {
        input_fail(r, "%s%s", "out of memory", "");
        return -1;
    }
    return 0;
}

/* Reads and submits statements while the window has room. */
static void pump(struct runner *r)
{
    while (
        !r->stop && !r->input_done && r->submitted - r->printed < r->window &&
        (!r->o->max_inflight || r->submitted - r->done < r->o->max_inflight)) {
        if (r->fd < 0 && open_input(r) != 0)
            break;
        amy__cli_stmt st;
        char err[256];
        int rc = amy__cli_split_next(r->sp, r->eof, &st, err, sizeof err);
        if (rc == AMY__CLI_SPLIT_STMT) {
            if (submit(r, &st) != 0)
                break;
            continue;
        }
        if (rc == AMY__CLI_SPLIT_ERROR) {
            input_fail(r, "%s: %s", amy__cli_input_name(r->files[r->file]),
                       err);
            break;
        }
        if (r->eof) {
            r->bytes_before += amy__cli_split_consumed(r->sp);
            close_input(r);
            if (++r->file == r->nfiles)
                r->input_done = 1;
            continue;
        }
        if (!r->regular) {
            if (!ev_is_active(&r->io))
                ev_io_start(r->loop, &r->io);
            return; /* io_cb reads when there is something to read */
        }
        if (read_some(r) != 0)
            break;
    }
    if (ev_is_active(&r->io))
        ev_io_stop(r->loop, &r->io);
}

static void maybe_finish(struct runner *r)
{
    if (r->finished)
        return;
    if (r->abort ||
        ((r->stop || r->input_done) && r->printed == r->submitted)) {
        r->finished = 1;
        if (r->running)
            ev_break(r->loop, EVBREAK_ONE);
    }
}

static void advance(struct runner *r)
{
    if (r->advancing) {
        r->again = 1;
        return;
    }
    r->advancing = 1;
    do {
        r->again = 0;
        flush(r);
        if (!r->abort)
            pump(r);
    } while (r->again && !r->abort);
    r->advancing = 0;
    maybe_finish(r);
}

static void done_cb(amy_future *f, void *arg)
{
    struct slot *s = arg;
    struct runner *r = s->r;
    if (r->teardown)
        return;
    s->done = 1;
    r->done++;
    int st = amy_future_status(f);
    if (st != AMY_OK) {
        r->errors++;
        if (st == AMY_ECONNECT) {
            /* Nothing else could run either, --force or not. */
            set_status(r, AMY__CLI_FATAL);
            r->stop = 1;
        } else {
            set_status(r, AMY__CLI_FAILED);
            if (!r->o->force && !r->stop) {
                r->first_failed = s->n;
                r->stop = 1;
            }
        }
    }
    advance(r);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct runner *r = w->data;
    ev_io_stop(loop, w);
    read_some(r);
    advance(r);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    draw_progress(w->data);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct runner *r = w->data;
    r->signal = w->signum;
    r->abort = 1;
    maybe_finish(r);
}

static void finish(struct runner *r)
{
    r->teardown = 1;
    close_input(r);
    ev_timer_stop(r->loop, &r->tick);
    ev_signal_stop(r->loop, &r->sigint);
    ev_signal_stop(r->loop, &r->sigterm);
    /* Only after an abort is anything left: cancel it. */
    for (; r->printed < r->submitted; r->printed++) {
        struct slot *s = &r->slots[r->printed % r->window];
        amy_future_free(s->f);
        s->f = NULL;
    }
    if (fflush(stdout) != 0 && !r->output_failed) {
        r->output_failed = 1;
        message(r, "cannot write the output: %s", strerror(errno));
        set_status(r, AMY__CLI_FATAL);
    }
    clear_progress(r);
    if (r->input_error[0])
        message(r, "%s", r->input_error);
    if (r->first_failed && !r->input_done && !r->signal)
        message(r,
                "stopped after the error in statement %llu; the rest of "
                "the input was not run (--force goes on after errors)",
                (unsigned long long)r->first_failed);
    if (r->signal)
        message(r,
                "interrupted: %llu statements finished, the others "
                "were cancelled",
                (unsigned long long)r->done);
    if (r->o->stats) {
        /* The pool's duration histogram (the library's, one
         * implementation): it holds exactly this run's statements. */
        double lat_ms[4];
        static const double ps[4] = {50, 95, 99, 100};
        for (int i = 0; i < 4; i++)
            lat_ms[i] =
                amy_pool_percentile(r->pool, AMY_HIST_DURATION, ps[i]) * 1e3;
        amy__cli_stats_print(stderr, r->done, r->errors, now() - r->t_start,
                             lat_ms);
    }
}

/* --slow-ms: the pool's observer tells how long each statement took
 * (submitted to resolved); its tag is the statement's slot, valid until
 * the statement's output is written, which is after this event. */
static void slow_end(void *arg, const amy_query_info *q)
{
    struct runner *r = arg;
    const struct slot *s = amy_future_tag(q->future);
    double ms = (q->resolved_at - q->submitted_at) * 1e3;
    if (!s || r->teardown || ms < r->o->slow_ms)
        return;
    message(r, "slow: statement %llu (%s:%lu) took %.3f ms: %.*s%s",
            (unsigned long long)s->n, slot_input(r, s), s->line, ms,
            q->sql_len > 120 ? 120 : (int)q->sql_len, q->sql,
            q->sql_len > 120 ? "..." : "");
}

static const amy_observer slow_observer = {.query_end = slow_end};

int amy__cli_run(struct ev_loop *loop, amy_pool *pool,
                 const amy__cli_run_opts *o)
{
    static const char *const only_stdin[] = {"-"};
    struct runner *r = calloc(1, sizeof *r);
    if (!r) {
        fputs("amysql-batch: out of memory\n", stderr);
        return AMY__CLI_FATAL;
    }
    r->loop = loop;
    r->pool = pool;
    r->o = o;
    r->files = o->nfiles ? o->files : only_stdin;
    r->nfiles = o->nfiles ? o->nfiles : 1;
    r->window = o->window ? o->window : DEFAULT_WINDOW;
    r->fd = -1;
    r->slots = calloc(r->window, sizeof *r->slots);
    r->sp = amy__cli_split_new(o->delimiter);
    r->chunk = malloc(READ_CHUNK);
    if (!r->slots || !r->sp || !r->chunk) {
        fputs("amysql-batch: out of memory\n", stderr);
        free(r->slots);
        amy__cli_split_free(r->sp);
        free(r->chunk);
        free(r);
        return AMY__CLI_FATAL;
    }
    if (o->slow_ms >= 0)
        amy_pool_set_observer(pool, &slow_observer, r);
    r->stdout_tty = isatty(STDOUT_FILENO);
    r->t_start = now();
    ev_io_init(&r->io, io_cb, 0, EV_READ);
    r->io.data = r;
    ev_timer_init(&r->tick, tick_cb, 0., PROGRESS_INTERVAL);
    r->tick.data = r;
    if (o->progress)
        ev_timer_start(loop, &r->tick);
    ev_signal_init(&r->sigint, signal_cb, SIGINT);
    r->sigint.data = r;
    ev_signal_start(loop, &r->sigint);
    ev_signal_init(&r->sigterm, signal_cb, SIGTERM);
    r->sigterm.data = r;
    ev_signal_start(loop, &r->sigterm);

    advance(r);
    if (!r->finished) {
        r->running = 1;
        ev_run(loop, 0);
        r->running = 0;
    }
    finish(r);

    int status = r->signal ? 128 + r->signal : r->status;
    if (o->slow_ms >= 0)
        amy_pool_set_observer(pool, NULL, NULL);
    amy__cli_split_free(r->sp);
    free(r->chunk);
    free(r->slots);
    free(r);
    return status;
}
