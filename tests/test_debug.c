/*
 * The debug mode and the release builds' safety nets (src/debug.c).
 *
 * Each misuse runs in a child process with its stderr captured: in a debug
 * build (AMY_DEBUG) the child must die of SIGABRT, in a release build it
 * must exit 0 (its own checks of what the release build does instead
 * passed); both must print the message naming the call. A release build
 * never reads freed memory here: the use-after-free children run only with
 * the tombstones of a debug build, and the release accessors are tested on
 * a handle whose magic word says "freed" without being freed.
 */
#include "itest.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "debug.h"
#include "future.h"
#include "result.h"

/* Whether `text` holds the parts of `pattern` split at '*', in order. */
static int matches(const char *text, const char *pattern)
{
    char part[256];
    while (*pattern) {
        const char *star = strchr(pattern, '*');
        size_t n = star ? (size_t)(star - pattern) : strlen(pattern);
        assert_true(n < sizeof part);
        memcpy(part, pattern, n);
        part[n] = '\0';
        const char *at = strstr(text, part);
        if (!at)
            return 0;
        text = at + n;
        pattern += n + (star ? 1 : 0);
    }
    return 1;
}

/* A child's checks: 0 when all passed, else the number of the first that
 * failed (its exit status). */
typedef int (*child_fn)(void);

static void expect_misuse(child_fn fn, const char *want)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        _exit(fn());
    }
    close(fds[1]);
    /* Read to the end (valgrind may write more than is kept). */
    char out[8192], chunk[4096];
    size_t len = 0;
    for (;;) {
        ssize_t k = read(fds[0], chunk, sizeof chunk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        size_t keep =
            (size_t)k < sizeof out - 1 - len ? (size_t)k : sizeof out - 1 - len;
        memcpy(out + len, chunk, keep);
        len += keep;
    }
    out[len] = '\0';
    close(fds[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        assert_int_equal(errno, EINTR);
    if (AMY__DEBUG) {
        if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
            print_error("child status %#x, stderr:\n%s\n", st, out);
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), SIGABRT);
    } else {
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            print_error("child status %#x, stderr:\n%s\n", st, out);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    if (!matches(out, want))
        print_error("stderr lacks \"%s\":\n%s\n", want, out);
    assert_true(matches(out, want));
}

static void debug_only(void)
{
    if (!AMY__DEBUG) {
        print_message("a release build: no tombstones to read\n");
        skip();
    }
}

/* Runs l until *flag is set; -1 if the loop has nothing left to run. */
static int run_until(struct ev_loop *l, const int *flag)
{
    while (!*flag)
        if (!ev_run(l, EVRUN_ONCE) && !*flag)
            return -1;
    return 0;
}

static void set_flag(amy_future *f, void *arg)
{
    *(int *)arg = 1;
}

/* A resolved promise whose callbacks have all run (nothing holds it). */
static amy_future *settled_promise(struct ev_loop *l)
{
    amy_future *p = amy_promise_new(l);
    int ran = 0;
    if (!p || amy_future_then(p, set_flag, &ran) != AMY_OK ||
        amy_promise_resolve(p) != AMY_OK || run_until(l, &ran) != 0)
        return NULL;
    return p;
}

/* ------------------------------------------------------------------------ */
/* Freed futures and results (debug builds: tombstones)                     */
/* ------------------------------------------------------------------------ */

static int child_status_after_free(void)
{
    struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
    amy_future *p = settled_promise(l);
    if (!p)
        return 1;
    amy_future_free(p);
    amy_future_status(p);
    return 2; /* not reached in a debug build */
}

static void test_status_after_free_aborts(void **state)
{
    debug_only();
    expect_misuse(child_status_after_free,
                  "amysql: amy_future_status: future 0x* was already freed\n");
}

static int child_double_free(void)
{
    struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
    amy_future *p = settled_promise(l);
    if (!p)
        return 1;
    amy_future_free(p);
    amy_future_free(p);
    return 2;
}

static void test_double_free_aborts(void **state)
{
    debug_only();
    expect_misuse(child_double_free,
                  "amysql: amy_future_free: future 0x* was already freed\n");
}

/* The result dies with its future: reading it after is caught too. */
static int child_result_after_free(void)
{
    struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
    amy_future *p = settled_promise(l);
    if (!p)
        return 1;
    const amy_result *r = amy_future_result(p);
    if (!r || amy_result_affected_rows(r) != 0)
        return 2;
    amy_future_free(p);
    amy_result_value(r, 0, 0, NULL);
    return 3;
}

static void test_result_after_free_aborts(void **state)
{
    debug_only();
    expect_misuse(child_result_after_free,
                  "amysql: amy_result_value: result 0x* was already freed\n");
}

/* More freed futures than the quarantine holds: the oldest tombstones are
 * really freed (ASan and valgrind check that), the newest still caught. */
static int child_many_freed(void)
{
    struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
    amy_future *last = NULL;
    for (int i = 0; i < 3000; i++) {
        last = amy_promise_new(l);
        if (!last || amy_future_cancel(last) != 1)
            return 1;
        amy_future_free(last);
    }
    ev_run(l, EVRUN_NOWAIT); /* callbacks deferred to the loop, if any */
    amy_future_error(last);
    return 2;
}

static void test_quarantine_keeps_the_newest(void **state)
{
    debug_only();
    expect_misuse(child_many_freed,
                  "amysql: amy_future_error: future 0x* was already freed\n");
}

/* The same churn in-process, in every build: nothing leaks, nothing is
 * read after its memory went (ASan, valgrind). */
static void test_many_freed_futures_do_not_leak(void **state)
{
    for (int i = 0; i < 3000; i++) {
        amy_future *p = amy_promise_new(loop);
        assert_non_null(p);
        assert_int_equal(amy_future_cancel(p), 1);
        amy_future_free(p);
    }
    ev_run(loop, EVRUN_NOWAIT);
    amy__tombs_flush();
    amy_future *p = settled_promise(loop);
    assert_non_null(p);
    amy_future_free(p);
}

/* ------------------------------------------------------------------------ */
/* What a release build does with a dead magic word                         */
/* ------------------------------------------------------------------------ */

/* A future and a result whose words say "freed", never freed: every call
 * refuses them (a release build without reading freed memory). */
static int child_dead_future(void)
{
    amy_future f;
    memset(&f, 0, sizeof f);
    amy__future_init(&f, NULL);
    f.status = AMY_OK;
    f.magic = AMY__FUTURE_DEAD;
    if (amy_future_status(&f) != AMY_EINVAL)
        return 1;
    if (amy_future_result(&f) || amy_future_error(&f) ||
        amy_future_sqlstate(&f) || amy_future_server_errno(&f))
        return 2;
    if (amy_future_wait(&f) != AMY_EINVAL ||
        amy_future_cancel(&f) != AMY_EINVAL ||
        amy_future_then(&f, set_flag, NULL) != AMY_EINVAL ||
        amy_future_set_timeout(&f, 1) != AMY_EINVAL ||
        amy_promise_resolve(&f) != AMY_EINVAL ||
        amy_stream_pause(&f) != AMY_EINVAL || amy_future_conn(&f))
        return 3;
    char buf[32];
    amy_future_describe(&f, buf, sizeof buf);
    if (strcmp(buf, "freed future") != 0)
        return 4;
    amy_future *both[] = {&f};
    if (amy_gather(both, 1))
        return 5;
    amy_future_free(&f); /* nothing: it is not freed again */
    f.magic = 12345;     /* reused memory: not a future any more */
    if (amy_future_status(&f) != AMY_EINVAL)
        return 6;
    return 0;
}

/* A debug build stops at the first line; a release build says each. */
#define FIRST_OR_ALL(first, rest) (AMY__DEBUG ? first : first rest)

static void test_dead_future_refused(void **state)
{
    expect_misuse(
        child_dead_future,
        FIRST_OR_ALL("amysql: amy_future_status: future 0x* was already "
                     "freed\n",
                     "*amysql: amy_future_result: future 0x* was already "
                     "freed\n"
                     "*amysql: amy_future_free: future 0x* was already "
                     "freed\n"
                     "*amysql: amy_future_status: 0x* is not a live future "
                     "(freed earlier, or never one)\n"));
}

static int child_dead_result(void)
{
    amy_result *r = amy__result_ok(7, 9);
    if (!r || amy_result_affected_rows(r) != 7)
        return 1;
    r->magic = AMY__RESULT_DEAD;
    int64_t v;
    amy_time t;
    double d;
    if (amy_result_nrows(r) || amy_result_ncols(r) ||
        amy_result_affected_rows(r) || amy_result_insert_id(r) ||
        amy_result_next(r) || amy_result_colname(r, 0) ||
        amy_result_value(r, 0, 0, NULL) || amy_result_colindex(r, "a") != -1 ||
        amy_result_coltype(r, 0) != -1 ||
        amy_result_int64(r, 0, 0, &v) != AMY_EINVAL ||
        amy_result_time(r, 0, 0, &t) != AMY_EINVAL ||
        amy_result_double(r, 0, 0, &d) != AMY_EINVAL)
        return 2;
    r->magic = AMY__RESULT_LIVE;
    amy__result_free(r);
    return 0;
}

static void test_dead_result_refused(void **state)
{
    expect_misuse(child_dead_result,
                  FIRST_OR_ALL("amysql: amy_result_nrows: result 0x* was "
                               "already freed\n",
                               "*amysql: amy_result_double: result 0x* was "
                               "already freed\n"));
}

/* ------------------------------------------------------------------------ */
/* Forbidden calls inside callbacks                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    int ran, rc;
} probe;

static void free_twice_cb(amy_future *f, void *arg)
{
    ((probe *)arg)->ran = 1;
    amy_future_free(f);
    amy_future_free(f);
}

/* The memory is still there (its callbacks run): a release build ignores
 * the second free, as it always did. */
static int child_free_twice_in_callback(void)
{
    struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
    amy_future *p = amy_promise_new(l);
    probe pr = {0, 0};
    if (!p || amy_future_then(p, free_twice_cb, &pr) != AMY_OK ||
        amy_promise_resolve(p) != AMY_OK || run_until(l, &pr.ran) != 0)
        return 1;
    ev_loop_destroy(l);
    return 0;
}

static void test_free_twice_in_callback(void **state)
{
    expect_misuse(child_free_twice_in_callback,
                  "amysql: amy_future_free: future 0x* was freed twice\n");
}

static void free_again_cb(amy_future *f, void *arg)
{
    ((probe *)arg)->ran = 1;
    amy_future_free(f);
}

/* Freed while pending, freed again by its own callback (the cancel runs
 * it): two owners, a double free, whichever comes first. */
static int child_free_pending_then_in_callback(void)
{
    struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
    amy_future *p = amy_promise_new(l);
    probe pr = {0, 0};
    if (!p || amy_future_then(p, free_again_cb, &pr) != AMY_OK)
        return 1;
    amy_future_free(p);
    if (run_until(l, &pr.ran) != 0)
        return 2;
    ev_loop_destroy(l);
    return 0;
}

static void test_free_pending_then_in_callback(void **state)
{
    expect_misuse(child_free_pending_then_in_callback,
                  "amysql: amy_future_free: future 0x* was freed twice\n");
}

static void wait_self_cb(amy_future *f, void *arg)
{
    probe *pr = arg;
    pr->ran = 1;
    pr->rc = amy_future_wait(f);
}

static int child_wait_in_own_callback(void)
{
    struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
    amy_future *p = amy_promise_new(l);
    probe pr = {0, 0};
    if (!p || amy_future_then(p, wait_self_cb, &pr) != AMY_OK ||
        amy_promise_resolve(p) != AMY_OK || run_until(l, &pr.ran) != 0)
        return 1;
    if (pr.rc != AMY_EINVAL)
        return 2;
    amy_future_free(p);
    ev_loop_destroy(l);
    return 0;
}

static void test_wait_in_own_callback(void **state)
{
    expect_misuse(child_wait_in_own_callback,
                  "amysql: amy_future_wait: future 0x*: called inside its "
                  "own callbacks\n");
}

/* Still allowed: waiting inside a callback for another future. */
typedef struct {
    amy_future *other;
    int ran, rc;
} waiter;

static void wait_other_cb(amy_future *f, void *arg)
{
    waiter *w = arg;
    w->ran = 1;
    assert_int_equal(amy_promise_resolve(w->other), AMY_OK);
    w->rc = amy_future_wait(w->other);
}

static void test_wait_for_another_in_callback(void **state)
{
    waiter w = {amy_promise_new(loop), 0, AMY_PENDING};
    amy_future *p = amy_promise_new(loop);
    assert_non_null(p);
    assert_non_null(w.other);
    assert_int_equal(amy_future_then(p, wait_other_cb, &w), AMY_OK);
    assert_int_equal(amy_promise_resolve(p), AMY_OK);
    assert_int_equal(run_until(loop, &w.ran), 0);
    assert_int_equal(w.rc, AMY_OK);
    assert_null(amy__cbtop); /* every frame left */
    amy_future_free(p);
    amy_future_free(w.other);
    ev_run(loop, EVRUN_NOWAIT);
}

typedef struct {
    amy_pool *pool;
    int ran;
} freer;

static void free_pool_cb(amy_future *f, void *arg)
{
    freer *fr = arg;
    fr->ran = 1;
    amy_pool_free(fr->pool);
}

/* No server needed: the query is canceled before any connection opens. */
static int child_pool_free_in_callback(void)
{
    struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
    char err[256];
    freer fr = {amy_pool_new(l, "mysql://u@127.0.0.1:1/db?ssl_mode=disabled",
                             err, sizeof err),
                0};
    if (!fr.pool)
        return 1;
    amy_future *q = amy_query(fr.pool, "SELECT 1");
    if (!q || amy_future_then(q, free_pool_cb, &fr) != AMY_OK ||
        amy_future_cancel(q) != 1 || run_until(l, &fr.ran) != 0)
        return 2;
    /* A release build did not free it: it still works, and goes now. */
    amy_stats s;
    if (amy_pool_stats(fr.pool, &s) != AMY_OK)
        return 3;
    amy_pool_free(fr.pool);
    amy_future_free(q);
    ev_loop_destroy(l);
    return 0;
}

static void test_pool_free_in_callback(void **state)
{
    expect_misuse(child_pool_free_in_callback,
                  "amysql: amy_pool_free: pool 0x*: called inside a callback "
                  "of one of its futures; the pool is not freed\n");
}

/* ------------------------------------------------------------------------ */
/* With a server                                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    amy_future *f;
    int rows, rc;
} row_probe;

static void wait_in_row(amy_future *f, const char *const *values,
                        const size_t *lengths, size_t ncols, void *arg)
{
    row_probe *rp = arg;
    rp->rows++;
    rp->rc = amy_future_wait(f);
}

static int child_wait_in_on_row(void)
{
    struct ev_loop *l = ev_loop_new(EVFLAG_AUTO);
    char err[256];
    amy_pool *p = amy_pool_new(l, getenv("AMY_TEST_DSN"), err, sizeof err);
    if (!p)
        return 1;
    row_probe rp = {NULL, 0, 0};
    rp.f = amy_query_stream(p, "SELECT 1 UNION ALL SELECT 2", wait_in_row, &rp);
    if (!rp.f || amy_future_wait(rp.f) != AMY_OK)
        return 2;
    if (rp.rows != 2 || rp.rc != AMY_EINVAL)
        return 3;
    amy_future_free(rp.f);
    amy_pool_free(p);
    ev_loop_destroy(l);
    return 0;
}

static void test_wait_in_on_row(void **state)
{
    itest_dsn("AMY_TEST_DSN");
    expect_misuse(child_wait_in_on_row,
                  "amysql: amy_future_wait: called inside a stream's on_row "
                  "callback\n");
}

/* fd 2 into a temporary file for a while; returns what was written. */
typedef struct {
    int saved;
    FILE *tmp;
} capture;

static void capture_start(capture *c)
{
    fflush(stderr);
    c->tmp = tmpfile();
    assert_non_null(c->tmp);
    c->saved = dup(2);
    assert_true(c->saved >= 0);
    assert_true(dup2(fileno(c->tmp), 2) >= 0);
}

static void capture_end(capture *c, char *buf, size_t len)
{
    fflush(stderr);
    assert_true(dup2(c->saved, 2) >= 0);
    close(c->saved);
    rewind(c->tmp);
    size_t n = fread(buf, 1, len - 1, c->tmp);
    buf[n] = '\0';
    fclose(c->tmp);
}

static amy_conn *acquire(amy_pool *p, amy_future **f)
{
    *f = amy_pool_acquire(p);
    assert_non_null(*f);
    assert_int_equal(amy_future_wait(*f), AMY_OK);
    amy_conn *h = amy_future_conn(*f);
    assert_non_null(h);
    return h;
}

/* amy_pool_free says how many pinned connections were not released; each
 * handle stays until released, and nothing leaks (valgrind). */
static void test_pool_free_with_pinned(void **state)
{
    amy_pool *p = itest_pool(loop, "pool=3");
    amy_future *fa, *fb, *fc;
    amy_conn *a = acquire(p, &fa);
    amy_conn *b = acquire(p, &fb);
    amy_conn *c = acquire(p, &fc);
    amy_conn_release(c); /* released in time: not counted */
    capture cap;
    char out[1024];
    capture_start(&cap);
    amy_pool_free(p);
    capture_end(&cap, out, sizeof out);
    assert_true(matches(out, "amysql: amy_pool_free: 2 pinned connections "
                             "were not released (amy_conn_release); their "
                             "handles stay allocated until released\n"));
    /* The handles still answer, as the header says, until released. */
    amy_future *q = amy_conn_query(a, "SELECT 1");
    assert_non_null(q);
    assert_int_equal(amy_future_status(q), AMY_ECANCELED);
    amy_future_free(q);
    amy_conn_release(a);
    amy_conn_release(b);
    amy_future_free(fa);
    amy_future_free(fb);
    amy_future_free(fc);

    /* One, or all released: the message has its number, or is not there. */
    p = itest_pool(loop, "pool=1");
    a = acquire(p, &fa);
    capture_start(&cap);
    amy_pool_free(p);
    capture_end(&cap, out, sizeof out);
    assert_string_equal(out, "amysql: amy_pool_free: 1 pinned connection was "
                             "not released (amy_conn_release); its handle "
                             "stays allocated until released\n");
    amy_conn_release(a);
    amy_future_free(fa);
    p = itest_pool(loop, "pool=1");
    a = acquire(p, &fa);
    amy_conn_release(a);
    amy_future_free(fa);
    capture_start(&cap);
    amy_pool_free(p);
    capture_end(&cap, out, sizeof out);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_after_free_aborts),
        cmocka_unit_test(test_double_free_aborts),
        cmocka_unit_test(test_result_after_free_aborts),
        cmocka_unit_test(test_quarantine_keeps_the_newest),
        cmocka_unit_test(test_many_freed_futures_do_not_leak),
        cmocka_unit_test(test_dead_future_refused),
        cmocka_unit_test(test_dead_result_refused),
        cmocka_unit_test(test_free_twice_in_callback),
        cmocka_unit_test(test_free_pending_then_in_callback),
        cmocka_unit_test(test_wait_in_own_callback),
        cmocka_unit_test(test_wait_for_another_in_callback),
        cmocka_unit_test(test_pool_free_in_callback),
        cmocka_unit_test(test_wait_in_on_row),
        cmocka_unit_test(test_pool_free_with_pinned),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
