/*
 * Integration tests for src/observe.c: the pool's observer (exactly one
 * query_start then one query_end per query, whatever the outcome) and its
 * latency histograms; src/hist.c's arithmetic is in test_hist.c.
 */
#include "itest.h"

#define MAXEV 4096

typedef struct event {
    char what; /* 's' start, 'e' end */
    amy_future *f;
    void *tag;
    int kind, status;
    unsigned server_errno;
    char sqlstate[6], code[16], sql[96], addr[64], db[64];
    unsigned port;
    unsigned long conn_id;
    double submitted, sent, resolved;
    uint64_t rows, affected;
    size_t bytes;
    int killed, retried;
    int had_error;
} event;

typedef struct recorder {
    event ev[MAXEV];
    int n;
    int opened, closed, failed;
    int close_reason[8];
    int tls_opened;
    char conn_text[4][256]; /* strings of connection events, for secrets */
    int nconn_text;
    /* an observer that acts inside its events */
    amy_future *free_on_end_of, *victim;
    amy_pool *query_pool;
    amy_future *started_inside;
} recorder;

static void keep(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s ? s : "");
}

static void record(recorder *r, char what, const amy_query_info *q)
{
    assert_true(r->n < MAXEV);
    event *e = &r->ev[r->n++];
    memset(e, 0, sizeof *e);
    e->what = what;
    e->f = q->future;
    e->tag = amy_future_tag(q->future);
    e->kind = q->kind;
    e->status = q->status;
    e->server_errno = q->server_errno;
    keep(e->sqlstate, sizeof e->sqlstate, q->sqlstate);
    keep(e->code, sizeof e->code, q->status_code);
    snprintf(e->sql, sizeof e->sql, "%.*s",
             (int)(q->sql_len < 95 ? q->sql_len : 95), q->sql);
    keep(e->addr, sizeof e->addr, q->server_address);
    keep(e->db, sizeof e->db, q->db_namespace);
    e->port = q->server_port;
    e->conn_id = q->connection_id;
    e->submitted = q->submitted_at;
    e->sent = q->sent_at;
    e->resolved = q->resolved_at;
    e->rows = q->returned_rows;
    e->affected = q->affected_rows;
    e->bytes = q->result_bytes;
    e->killed = q->killed;
    e->retried = q->retried;
    e->had_error = q->error != NULL;
    assert_string_equal(q->db_system, "mariadb");
    /* The future reads as resolved in its end event, pending before. */
    if (what == 'e')
        assert_int_equal(amy_future_status(q->future), q->status);
}

static void on_start(void *arg, const amy_query_info *q)
{
    record(arg, 's', q);
}

static void on_end(void *arg, const amy_query_info *q)
{
    recorder *r = arg;
    record(r, 'e', q);
    if (q->future == r->free_on_end_of && r->victim) {
        amy_future_free(r->victim); /* freeing another future inside */
        r->victim = NULL;
        r->started_inside = amy_query(r->query_pool, "SELECT 'inside'");
    }
}

static void on_opened(void *arg, const amy_conn_info *c)
{
    recorder *r = arg;
    r->opened++;
    r->tls_opened += c->tls;
    assert_true(c->connect_seconds >= 0);
    assert_true(c->connection_id > 0);
}

static void on_closed(void *arg, const amy_conn_info *c)
{
    recorder *r = arg;
    r->closed++;
    assert_true(c->close_reason >= 0 && c->close_reason < 8);
    r->close_reason[c->close_reason]++;
    if (c->error && r->nconn_text < 4)
        keep(r->conn_text[r->nconn_text++], 256, c->error);
}

static void on_failed(void *arg, const amy_conn_info *c)
{
    recorder *r = arg;
    r->failed++;
    assert_int_equal(c->status, AMY_ECONNECT);
    assert_non_null(c->error);
    if (r->nconn_text < 4)
        keep(r->conn_text[r->nconn_text++], 256, c->error);
}

static void count_row(amy_future *f, const char *const *v, const size_t *len,
                      size_t n, void *arg)
{
    (*(int *)arg)++;
}

static const amy_observer ops = {on_start, on_end, on_opened, on_closed,
                                 on_failed};

/* Exactly one start, then one end, for f; returns the end event. */
static const event *one_pair(const recorder *r, const amy_future *f)
{
    const event *s = NULL, *e = NULL;
    for (int i = 0; i < r->n; i++) {
        if (r->ev[i].f != f)
            continue;
        if (r->ev[i].what == 's') {
            if (s || e)
                print_error("second start (%s) for %s\n",
                            s ? "after start" : "after end", r->ev[i].sql);
            assert_null(s);
            assert_null(e); /* start before end */
            s = &r->ev[i];
        } else {
            assert_non_null(s);
            assert_null(e);
            e = &r->ev[i];
        }
    }
    if (!s || !e)
        print_error("no %s for %p %s (%d events)\n", s ? "end" : "start",
                    (void *)f, s ? s->sql : "", r->n);
    assert_non_null(s);
    assert_non_null(e);
    assert_int_equal(s->kind, e->kind);
    assert_true(e->resolved >= e->submitted);
    if (e->sent)
        assert_true(e->sent >= e->submitted && e->resolved >= e->sent);
    return e;
}

static recorder *rec_new(void)
{
    recorder *r = calloc(1, sizeof *r);
    assert_non_null(r);
    return r;
}

/* Each kind: one start and one end, with its kind, rows and server. */
static void test_every_kind_once(void **state)
{
    recorder *r = rec_new();
    amy_pool *p = itest_pool(loop, "pool=2");
    assert_int_equal(amy_pool_set_observer(p, &ops, r), AMY_OK);
    itest_exec(p, "DROP TABLE IF EXISTS t_observe");
    itest_exec(p, "CREATE TABLE t_observe (id INT PRIMARY KEY, v TEXT)");
    r->n = 0; /* their futures are gone: their addresses may come back */
    amy_value row[4] = {amy_val_int64(1), amy_val_text("a", 1),
                        amy_val_int64(2), amy_val_text("b", 1)};
    amy_value one = amy_val_int64(1);
    int sc = 0;
    amy_future *f[8];
    f[0] = amy_query(p, "SELECT seq FROM seq_1_to_5");
    f[1] = amy_query_params(p, "SELECT ? + 1", &one, 1);
    f[2] = amy_exec_batch(p, "INSERT INTO t_observe VALUES (?, ?)", row, 2, 2);
    assert_int_equal(amy_future_wait(f[2]), AMY_OK);
    f[3] = amy_exec(p, "SELECT v FROM t_observe WHERE id = ?", &one, 1);
    f[4] = amy_query_stream(p, "SELECT seq FROM seq_1_to_7", NULL, NULL);
    amy_future_free(f[4]); /* a NULL on_row: refused at submission */
    f[4] = amy_query_stream(p, "SELECT seq FROM seq_1_to_7", count_row, &sc);
    f[5] = amy_pool_acquire(p);
    amy_future *g = amy_gather(f, 6);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    amy_future_free(g);
    amy_conn *c = amy_future_conn(f[5]);
    amy_future *t[3] = {amy_begin(c), amy_conn_query(c, "SELECT 1"),
                        amy_commit(c)};
    assert_int_equal(amy_future_wait(t[2]), AMY_OK);
    amy_future *rb[2] = {amy_begin(c), amy_rollback(c)};
    assert_int_equal(amy_future_wait(rb[1]), AMY_OK);
    amy_conn_release(c);
    itest_run_for(0.01); /* the release's reset runs; not reported */

    int kinds[] = {AMY_OP_QUERY, AMY_OP_PARAMS, AMY_OP_BATCH,
                   AMY_OP_EXEC,  AMY_OP_STREAM, AMY_OP_ACQUIRE};
    uint64_t rows[] = {5, 1, 0, 1, 7, 0};
    for (int i = 0; i < 6; i++) {
        const event *e = one_pair(r, f[i]);
        assert_int_equal(e->kind, kinds[i]);
        assert_int_equal(e->status, AMY_OK);
        assert_int_equal(e->rows, rows[i]);
        assert_string_equal(e->addr, "127.0.0.1");
        assert_true(e->port > 0);
        assert_string_equal(e->db, "amysql_test");
        assert_string_equal(e->sqlstate, "00000");
        assert_string_equal(e->code, "");
        assert_false(e->had_error);
        if (kinds[i] != AMY_OP_ACQUIRE) {
            assert_true(e->conn_id > 0);
            assert_true(e->sent > 0);
        }
    }
    assert_int_equal(one_pair(r, f[2])->affected, 2);
    assert_true(one_pair(r, f[0])->bytes > 0);
    assert_string_equal(one_pair(r, f[0])->sql, "SELECT seq FROM seq_1_to_5");
    assert_int_equal(one_pair(r, t[0])->kind, AMY_OP_BEGIN);
    assert_int_equal(one_pair(r, t[1])->kind, AMY_OP_QUERY);
    assert_int_equal(one_pair(r, t[2])->kind, AMY_OP_COMMIT);
    assert_int_equal(one_pair(r, rb[0])->kind, AMY_OP_BEGIN);
    assert_int_equal(one_pair(r, rb[1])->kind, AMY_OP_ROLLBACK);
    /* Every event is one of these (the reset is the pool's own): 6 + 3 +
     * 2 queries; the refused stream has none. */
    assert_int_equal(r->n, 2 * (6 + 3 + 2));
    assert_true(r->opened >= 1);
    for (int i = 0; i < 6; i++)
        amy_future_free(f[i]);
    for (int i = 0; i < 3; i++)
        amy_future_free(t[i]);
    amy_future_free(rb[0]);
    amy_future_free(rb[1]);
    itest_exec(p, "DROP TABLE t_observe");
    amy_pool_free(p);
    free(r);
}

static void test_errors_timeouts_cancels(void **state)
{
    recorder *r = rec_new();
    amy_pool *p = itest_pool(loop, "pool=1&pipeline=1");
    amy_pool_set_observer(p, &ops, r);
    amy_future *bad = amy_query(p, "SELEC 1");
    assert_int_equal(amy_future_wait(bad), AMY_ESERVER);
    const event *e = one_pair(r, bad);
    assert_int_equal(e->status, AMY_ESERVER);
    assert_int_equal(e->server_errno, 1064);
    assert_string_equal(e->code, "1064");
    assert_string_equal(e->sqlstate, "42000");
    assert_true(e->had_error);
    assert_false(e->killed);

    /* Sent, then timed out: killed. Queued behind it, then canceled:
     * never sent (its start comes just before its end). */
    amy_future *slow = amy_query(p, "SELECT SLEEP(30)");
    amy_future *queued = amy_query(p, "SELECT 'never'");
    amy_future_set_timeout(slow, 100);
    assert_int_equal(amy_future_wait(slow), AMY_ETIMEDOUT);
    assert_int_equal(amy_future_cancel(queued), 1);
    amy_future *after = amy_query(p, "SELECT 'after'");
    assert_int_equal(amy_future_wait(after), AMY_OK);
    e = one_pair(r, slow);
    assert_int_equal(e->status, AMY_ETIMEDOUT);
    assert_true(e->killed);
    assert_true(e->sent > 0);
    assert_string_equal(e->sqlstate, "HYT00");
    e = one_pair(r, queued);
    assert_int_equal(e->status, AMY_ECANCELED);
    assert_false(e->killed);
    assert_true(e->sent == 0);
    assert_int_equal(e->conn_id, 0);
    one_pair(r, after);
    amy_future_free(bad);
    amy_future_free(slow);
    amy_future_free(queued);
    amy_future_free(after);
    amy_pool_free(p);
    free(r);
}

/* The connection is killed under a query: ECONNLOST, and the connection's
 * closed event says the server went away. */
static void test_lost_connection(void **state)
{
    recorder *r = rec_new();
    amy_pool *admin = itest_admin_pool(loop);
    amy_pool *p = itest_pool(loop, "pool=1");
    amy_pool_set_observer(p, &ops, r);
    amy_future *slow = amy_query(p, "SELECT SLEEP(30)");
    itest_wait_running(admin, "SELECT SLEEP(30)", 1);
    /* The start is told from the loop by now. */
    unsigned long id = 0;
    for (int i = 0; i < r->n; i++)
        if (r->ev[i].f == slow && r->ev[i].what == 's')
            id = r->ev[i].conn_id;
    assert_true(id > 0);
    char sql[64];
    snprintf(sql, sizeof sql, "KILL CONNECTION %lu", id);
    itest_exec(admin, sql);
    assert_int_equal(amy_future_wait(slow), AMY_ECONNLOST);
    const event *e = one_pair(r, slow);
    assert_int_equal(e->status, AMY_ECONNLOST);
    assert_int_equal(e->conn_id, id);
    assert_int_equal(r->closed, 1);
    assert_int_equal(r->close_reason[AMY_CLOSE_SERVER] +
                         r->close_reason[AMY_CLOSE_BROKEN],
                     1);
    amy_future_free(slow);
    amy_pool_free(p);
    amy_pool_free(admin);
    free(r);
}

/* amy_pool_free: an end for everything pending, and for a query canceled
 * whose callbacks were still due; connections closed "pool freed". An
 * observer that frees a future and starts a query inside an event. */
static void test_pool_free_and_acting_observer(void **state)
{
    recorder *r = rec_new();
    amy_pool *p = itest_pool(loop, "pool=2&pipeline=1");
    amy_pool *other = itest_pool(loop, "pool=1");
    amy_pool_set_observer(p, &ops, r);
    amy_future *warm = amy_query(p, "SELECT 1");
    assert_int_equal(amy_future_wait(warm), AMY_OK);
    amy_pool *admin = itest_admin_pool(loop);
    amy_future *fs[20];
    for (int i = 0; i < 20; i++)
        fs[i] = amy_query(p, "SELECT SLEEP(2)");
    itest_wait_running(admin, "SELECT SLEEP(2)", 2); /* 2 sent, 18 queued */
    r->free_on_end_of = fs[0];
    r->victim = amy_query(other, "SELECT SLEEP(30)");
    r->query_pool = other;
    amy_future *canceled = amy_query(p, "SELECT 2");
    amy_future_cancel(canceled); /* its callbacks due from the loop */
    amy_pool_free(p);
    for (int i = 0; i < 20; i++) {
        const event *e = one_pair(r, fs[i]);
        assert_int_equal(e->status, AMY_ECANCELED);
        amy_future_free(fs[i]);
    }
    assert_int_equal(one_pair(r, canceled)->status, AMY_ECANCELED);
    assert_null(r->victim); /* freed inside the end event */
    assert_non_null(r->started_inside);
    assert_int_equal(amy_future_wait(r->started_inside), AMY_OK);
    assert_string_equal(itest_value(r->started_inside), "inside");
    assert_true(r->close_reason[AMY_CLOSE_POOL_FREE] >= 1);
    amy_future_free(r->started_inside);
    amy_future_free(canceled);
    amy_future_free(warm);
    amy_pool_free(other);
    amy_pool_free(admin);
    free(r);
}

/* Tags reach the observer; a tag works without an observer too. */
static void test_tags(void **state)
{
    recorder *r = rec_new();
    amy_pool *p = itest_pool(loop, "pool=1");
    amy_future *plain = amy_query(p, "SELECT 1");
    int span = 0;
    assert_null(amy_future_tag(plain));
    assert_int_equal(amy_future_set_tag(plain, &span), AMY_OK);
    assert_ptr_equal(amy_future_tag(plain), &span);
    assert_int_equal(amy_future_wait(plain), AMY_OK);
    assert_int_equal(r->n, 0); /* no observer yet */
    amy_pool_set_observer(p, &ops, r);
    amy_future *f = amy_query(p, "SELECT 2");
    assert_int_equal(amy_future_set_tag(f, &span), AMY_OK);
    assert_int_equal(amy_future_wait(f), AMY_OK);
    assert_ptr_equal(one_pair(r, f)->tag, &span);
    assert_int_equal(amy_future_set_tag(NULL, &span), AMY_EINVAL);
    amy_pool_set_observer(p, NULL, NULL);
    amy_future *g = amy_query(p, "SELECT 3");
    assert_int_equal(amy_future_wait(g), AMY_OK);
    assert_int_equal(r->n, 2);
    amy_future_free(plain);
    amy_future_free(f);
    amy_future_free(g);
    amy_pool_free(p);
    free(r);
}

/* Histograms: counts equal the queries resolved; half SLEEP(0.01), half
 * SELECT 1 land on either side of 10 ms. Passwords appear nowhere. */
static void test_histograms_and_no_secrets(void **state)
{
    recorder *r = rec_new();
    char dsn[512], err[256];
    snprintf(dsn, sizeof dsn, "mysql://amy:wrong-secret-pw@%s",
             strchr(itest_dsn("AMY_TEST_DSN"), '@') + 1);
    amy_pool *bad = amy_pool_new(loop, dsn, err, sizeof err);
    assert_non_null(bad);
    amy_pool_set_observer(bad, &ops, r);
    amy_future *denied = amy_query(bad, "SELECT 1");
    assert_int_equal(amy_future_wait(denied), AMY_ECONNECT);
    assert_true(r->failed >= 1);
    for (int i = 0; i < r->nconn_text; i++)
        assert_null(strstr(r->conn_text[i], "wrong-secret-pw"));
    one_pair(r, denied);
    amy_future_free(denied);
    amy_pool_free(bad);

    amy_pool *p = itest_pool(loop, "pool=4");
    amy_pool_set_observer(p, &ops, r);
    enum { N = 40 };
    amy_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = amy_query(p, i % 2 ? "SELECT SLEEP(0.01)" : "SELECT 1");
    amy_future *g = amy_gather(fs, N);
    assert_int_equal(amy_future_wait(g), AMY_OK);
    amy_future_free(g);
    uint64_t counts[AMY_HIST_NBOUNDS + 1];
    uint64_t total = amy_pool_histogram(p, AMY_HIST_DURATION, amy_hist_bounds,
                                        AMY_HIST_NBOUNDS, counts);
    assert_int_equal(total, N);
    uint64_t sum = 0, at_least_10ms = 0;
    for (int i = 0; i <= AMY_HIST_NBOUNDS; i++) {
        sum += counts[i];
        if (i > 8) /* buckets above 0.01 s */
            at_least_10ms += counts[i];
    }
    assert_int_equal(sum, N);
    /* SLEEP(0.01) takes at least 10 ms (its bucket's top may put one
     * exactly at 10 ms in the bucket above, never below). */
    assert_true(at_least_10ms + counts[8] >= N / 2);
    assert_true(amy_pool_percentile(p, AMY_HIST_DURATION, 100) >= 0.01);
    assert_true(amy_pool_percentile(p, AMY_HIST_DURATION, 75) >= 0.0099);
    assert_true(amy_pool_percentile(p, AMY_HIST_QUEUE_WAIT, 50) >= 0);
    assert_true(amy_pool_histogram(p, AMY_HIST_QUEUE_WAIT, amy_hist_bounds,
                                   AMY_HIST_NBOUNDS, counts) == N);
    assert_true(amy_pool_histogram(p, AMY_HIST_CONNECT, amy_hist_bounds,
                                   AMY_HIST_NBOUNDS, counts) >= 1);
    assert_true(amy_pool_percentile(p, AMY_HIST_CONNECT, 50) > 0);
    assert_true(amy_pool_percentile(p, 7, 50) == -1);
    assert_true(amy_pool_percentile(p, AMY_HIST_DURATION, 0) == -1);
    assert_true(amy_pool_percentile(NULL, AMY_HIST_DURATION, 50) == -1);
    assert_int_equal(amy_pool_histogram(p, 9, amy_hist_bounds, 1, counts), 0);
    for (int i = 0; i < N; i++)
        amy_future_free(fs[i]);
    /* No event carried the real password either. */
    const char *dsn_real = itest_dsn("AMY_TEST_DSN");
    const char *colon = strchr(strstr(dsn_real, "://") + 3, ':');
    const char *at = strchr(dsn_real, '@');
    char pw[64];
    snprintf(pw, sizeof pw, "%.*s", (int)(at - colon - 1), colon + 1);
    for (int i = 0; i < r->n; i++) {
        assert_null(strstr(r->ev[i].sql, pw));
        assert_null(strstr(r->ev[i].addr, pw));
        assert_null(strstr(r->ev[i].db, pw));
    }
    amy_stats st;
    assert_int_equal(amy_pool_stats(p, &st), AMY_OK);
    assert_int_equal(st.conns_max, 4); /* db.client.connection.max */
    assert_string_equal(amy_op_name(AMY_OP_BATCH), "execute_batch");
    assert_string_equal(amy_op_name(99), "unknown");
    amy_pool_free(p);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_once),
        cmocka_unit_test(test_errors_timeouts_cancels),
        cmocka_unit_test(test_lost_connection),
        cmocka_unit_test(test_pool_free_and_acting_observer),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_histograms_and_no_secrets),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
