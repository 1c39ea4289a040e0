/*
 * The HA test topology itself (scripts/testdb-ha.sh, issue 13): a primary
 * with two GTID replicas and a 3-node Galera cluster, reached through
 * amysql's ordinary one-host pools. Checks what the HA tests will build on:
 * the roles the servers report (@@server_id, @@read_only, wsrep status), a
 * write on the primary reaching both replicas, a write on a replica refused
 * (1290, --read-only), and a write on Galera node 1 reaching node 3.
 *
 * Needs AMY_TEST_HA_PRIMARY, AMY_TEST_HA_REPLICAS, AMY_TEST_GALERA and
 * AMY_TEST_HA_DSN (scripts/testdb-ha.sh env; scripts/dev.sh env prints
 * them); skips without them. Replication is asynchronous: a replica is
 * polled until the row is there (itest_wait_count), never given a time.
 */
#include "itest.h"

#include <unistd.h>

#define MAX_HOSTS 3

/* A comma-separated host:port list from the environment, split into
 * hosts[]; skips the test if the variable is missing. Returns the count. */
static size_t ha_hosts(const char *var, char hosts[][64], size_t max)
{
    const char *list = itest_dsn(var);
    size_t n = 0;
    while (*list && n < max) {
        size_t len = strcspn(list, ",");
        assert_true(len > 0 && len < 64);
        memcpy(hosts[n], list, len);
        hosts[n][len] = '\0';
        n++;
        list += len;
        if (*list == ',')
            list++;
    }
    return n;
}

/* A pool on one host: AMY_TEST_HA_DSN with {hosts} replaced by it. */
static amy_pool *ha_pool(const char *host)
{
    const char *tmpl = itest_dsn("AMY_TEST_HA_DSN");
    const char *mark = strstr(tmpl, "{hosts}");
    char dsn[512], err[256];
    assert_non_null(mark);
    snprintf(dsn, sizeof dsn, "%.*s%s%s&pool=2", (int)(mark - tmpl), tmpl, host,
             mark + strlen("{hosts}"));
    amy_pool *p = amy_pool_new(loop, dsn, err, sizeof err);
    if (!p)
        print_error("amy_pool_new(%s): %s\n", host, err);
    assert_non_null(p);
    return p;
}

/* The single value of `sql` on p, copied into out. */
static void ha_value(amy_pool *p, const char *sql, char *out, size_t len)
{
    amy_future *f = amy_query(p, sql);
    assert_non_null(f);
    int st = amy_future_wait(f);
    if (st != AMY_OK)
        print_error("%s: %s\n", sql, amy_future_error(f));
    assert_int_equal(st, AMY_OK);
    const char *v = itest_value(f);
    assert_non_null(v);
    snprintf(out, len, "%s", v);
    amy_future_free(f);
}

/* A value no earlier run of this program wrote: the rows stay on the
 * servers (they live as long as the topology). */
static void ha_token(char *out, size_t len, const char *what)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, len, "%s-%ld-%lld-%ld", what, (long)getpid(),
             (long long)ts.tv_sec, ts.tv_nsec);
}

static void test_replication_roles(void **state)
{
    (void)state;
    char primary[1][64], replicas[MAX_HOSTS][64], ids[3][32], ro[32];
    ha_hosts("AMY_TEST_HA_PRIMARY", primary, 1);
    assert_int_equal(ha_hosts("AMY_TEST_HA_REPLICAS", replicas, MAX_HOSTS), 2);
    amy_pool *p = ha_pool(primary[0]);
    ha_value(p, "SELECT @@server_id", ids[0], sizeof ids[0]);
    ha_value(p, "SELECT @@read_only", ro, sizeof ro);
    assert_string_equal(ro, "0");
    amy_pool_free(p);
    for (int i = 0; i < 2; i++) {
        p = ha_pool(replicas[i]);
        ha_value(p, "SELECT @@server_id", ids[i + 1], sizeof ids[i + 1]);
        ha_value(p, "SELECT @@read_only", ro, sizeof ro);
        assert_string_equal(ro, "1");
        amy_pool_free(p);
    }
    assert_string_not_equal(ids[0], ids[1]);
    assert_string_not_equal(ids[0], ids[2]);
    assert_string_not_equal(ids[1], ids[2]);
}

static void test_replication_write_reaches_replicas(void **state)
{
    (void)state;
    char primary[1][64], replicas[MAX_HOSTS][64], token[96], sql[256];
    ha_hosts("AMY_TEST_HA_PRIMARY", primary, 1);
    assert_int_equal(ha_hosts("AMY_TEST_HA_REPLICAS", replicas, MAX_HOSTS), 2);
    ha_token(token, sizeof token, "repl");
    amy_pool *p = ha_pool(primary[0]);
    itest_exec(p, "CREATE TABLE IF NOT EXISTS topology_rows "
                  "(token VARCHAR(96) PRIMARY KEY) ENGINE=InnoDB");
    snprintf(sql, sizeof sql, "INSERT INTO topology_rows VALUES ('%s')", token);
    itest_exec(p, sql);
    amy_pool_free(p);

    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM topology_rows WHERE token = '%s'", token);
    for (int i = 0; i < 2; i++) {
        amy_pool *r = ha_pool(replicas[i]);
        itest_wait_count(r, sql, 1);
        /* amy has no READ ONLY ADMIN: the replica refuses its writes. */
        char ins[256];
        snprintf(ins, sizeof ins,
                 "INSERT INTO topology_rows VALUES ('%s-on-replica')", token);
        amy_future *f = amy_query(r, ins);
        assert_int_equal(amy_future_wait(f), AMY_ESERVER);
        assert_int_equal(amy_future_server_errno(f), 1290);
        amy_future_free(f);
        amy_pool_free(r);
    }
}

static void test_galera_cluster(void **state)
{
    (void)state;
    char nodes[MAX_HOSTS][64], v[32], ids[MAX_HOSTS][32];
    assert_int_equal(ha_hosts("AMY_TEST_GALERA", nodes, MAX_HOSTS), 3);
    for (int i = 0; i < 3; i++) {
        amy_pool *p = ha_pool(nodes[i]);
        ha_value(p, "SELECT @@wsrep_on", v, sizeof v);
        assert_string_equal(v, "1");
        ha_value(p,
                 "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                 "WHERE VARIABLE_NAME = 'WSREP_CLUSTER_SIZE'",
                 v, sizeof v);
        assert_string_equal(v, "3");
        ha_value(p,
                 "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                 "WHERE VARIABLE_NAME = 'WSREP_READY'",
                 v, sizeof v);
        assert_string_equal(v, "ON");
        ha_value(p, "SELECT @@read_only", v, sizeof v);
        assert_string_equal(v, "0");
        ha_value(p, "SELECT @@server_id", ids[i], sizeof ids[i]);
        amy_pool_free(p);
    }
    assert_string_not_equal(ids[0], ids[1]);
    assert_string_not_equal(ids[0], ids[2]);
    assert_string_not_equal(ids[1], ids[2]);
}

static void test_galera_write_reaches_node3(void **state)
{
    (void)state;
    char nodes[MAX_HOSTS][64], token[96], sql[256];
    assert_int_equal(ha_hosts("AMY_TEST_GALERA", nodes, MAX_HOSTS), 3);
    ha_token(token, sizeof token, "galera");
    amy_pool *p = ha_pool(nodes[0]);
    /* Galera replicates InnoDB rows, by primary key. */
    itest_exec(p, "CREATE TABLE IF NOT EXISTS topology_rows "
                  "(token VARCHAR(96) PRIMARY KEY) ENGINE=InnoDB");
    snprintf(sql, sizeof sql, "INSERT INTO topology_rows VALUES ('%s')", token);
    itest_exec(p, sql);
    amy_pool_free(p);

    amy_pool *q = ha_pool(nodes[2]);
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM topology_rows WHERE token = '%s'", token);
    itest_wait_count(q, sql, 1);
    amy_pool_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replication_roles),
        cmocka_unit_test(test_replication_write_reaches_replicas),
        cmocka_unit_test(test_galera_cluster),
        cmocka_unit_test(test_galera_write_reaches_node3),
    };
    return cmocka_run_group_tests(tests, itest_setup, itest_teardown);
}
