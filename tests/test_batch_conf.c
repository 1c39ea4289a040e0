/*
 * Tests for amysql-batch's connection settings: tools/cnf.c (option files),
 * tools/conninfo.c (DSN pieces, percent-encoding) and tools/connect.c (the
 * order of the sources). No server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnf.h"
#include "connect.h"
#include "conninfo.h"

/* ------------------------------------------------------------------------ */
/* Temporary files                                                          */
/* ------------------------------------------------------------------------ */

static char tmpdir[64];

static int setup_dir(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/amy-test-batch-conf.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes name (under tmpdir) with text; returns its path (static). */
static const char *write_file(const char *name, const char *text)
{
    static char path[4][256];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* ------------------------------------------------------------------------ */
/* Option files                                                             */
/* ------------------------------------------------------------------------ */

static const char *const client_groups[] = {"client", "amysql-batch", NULL};

typedef struct {
    char text[2048]; /* "name=value|" per option; "name|" when bare */
    int stop_at;     /* fail on this option number (1-based), 0 never */
    int n;
} collected;

static int collect(const char *name, const char *value, const char *path,
                   unsigned long line, void *arg, char *err, size_t errlen)
{
    collected *c = arg;
    c->n++;
    if (c->n == c->stop_at) {
        snprintf(err, errlen, "stop at %s:%lu", name, line);
        return -1;
    }
    size_t len = strlen(c->text);
    snprintf(c->text + len, sizeof c->text - len, "%s%s%s|", name,
             value ? "=" : "", value ? value : "");
    return 0;
}

static int read_cnf(const char *path, collected *c, char *err, size_t errlen)
{
    memset(c->text, 0, sizeof c->text);
    c->n = 0;
    return amy__cli_cnf_read(path, client_groups, 0, collect, c, err, errlen);
}

static void test_cnf_groups_and_syntax(void **state)
{
    const char *p =
        write_file("a.cnf", "# comment\n"
                            "; another comment\n"
                            "[mysqld]\n"
                            "port = 1\n"
                            "[client]\n"
                            "  user = amy  \n"
                            "password=\"p#ss word\"   # trailing comment\n"
                            "host='h'\n"
                            "socket=/run/x.sock#no space needed\n"
                            "default_character_set = utf8mb4\n"
                            "loose-database = db\n"
                            "no-beep\n"
                            "\n"
                            "[CLIENT]\n"
                            "escapes = a\\tb\\nc\\\\d\\se\\qf\n"
                            "[Amysql-Batch]\n"
                            "port=3307\n");
    collected c = {.stop_at = 0};
    char err[256] = "";
    assert_int_equal(read_cnf(p, &c, err, sizeof err), 0);
    assert_string_equal(c.text, "user=amy|password=p#ss word|host=h|"
                                "socket=/run/x.sock|default-character-set="
                                "utf8mb4|database=db|no-beep|escapes=a\tb\nc"
                                "\\d e\\qf|port=3307|");
}

static void test_cnf_empty_value_and_quotes(void **state)
{
    const char *p = write_file("b.cnf", "[client]\n"
                                        "password=\n"
                                        "user=''\n"
                                        "host=\"unbalanced\n"
                                        "database='it\\'s'\n");
    collected c = {.stop_at = 0};
    char err[256] = "";
    assert_int_equal(read_cnf(p, &c, err, sizeof err), 0);
    assert_string_equal(c.text,
                        "password=|user=|host=\"unbalanced|database=it's|");
}

static void test_cnf_errors(void **state)
{
    collected c = {.stop_at = 0};
    char err[256];
    const char *p = write_file("c.cnf", "user=x\n[client]\n");
    assert_int_equal(read_cnf(p, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "c.cnf:1: option before the first [group]"));

    p = write_file("d.cnf", "[client\nuser=x\n");
    assert_int_equal(read_cnf(p, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "d.cnf:1: group name without ']'"));

    p = write_file("e.cnf", "[client]\n!bogus x\n");
    assert_int_equal(read_cnf(p, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "e.cnf:2: unknown directive"));

    p = write_file("f.cnf", "[client]\n = x\n");
    assert_int_equal(read_cnf(p, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "f.cnf:2: option without a name"));

    /* Nothing left once "loose-" is dropped (found by fuzz_cnf: the
     * callback was given an empty name). */
    p = write_file("f2.cnf", "[client]\nloose-\n");
    assert_int_equal(read_cnf(p, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "f2.cnf:2: option without a name"));
    p = write_file("f3.cnf", "[client]\nLOOSE_ = x\n");
    assert_int_equal(read_cnf(p, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "f3.cnf:2: option without a name"));

    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope.cnf", tmpdir);
    assert_int_equal(read_cnf(missing, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open option file"));
    assert_non_null(strstr(err, "No such file"));
    /* ... unless missing is fine (a default file). */
    assert_int_equal(amy__cli_cnf_read(missing, client_groups, 1, collect, &c,
                                       err, sizeof err),
                     0);

    assert_int_equal(read_cnf(tmpdir, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "Is a directory"));
}

static void test_cnf_callback_stops(void **state)
{
    const char *p = write_file("g.cnf", "[client]\na=1\nb=2\nc=3\n");
    collected c = {.stop_at = 2};
    char err[256];
    memset(c.text, 0, sizeof c.text);
    assert_int_equal(
        amy__cli_cnf_read(p, client_groups, 0, collect, &c, err, sizeof err),
        -1);
    assert_string_equal(err, "stop at b:3");
}

static void test_cnf_include(void **state)
{
    char dir[256], inc[512];
    snprintf(dir, sizeof dir, "%s/conf.d", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    write_file("conf.d/20-b.cnf", "[client]\nuser=from_b\n");
    write_file("conf.d/10-a.cnf", "[client]\nuser=from_a\n[mysqld]\n");
    write_file("conf.d/ignored.txt", "[client]\nuser=ignored\n");
    write_file("inc.cnf", "[client]\nhost=included\n");
    snprintf(inc, sizeof inc,
             "[client]\nport=1\n!includedir %s\n!include %s/inc.cnf\n"
             "!includedir %s/no-such-dir\nsocket=s\n",
             dir, tmpdir, tmpdir);
    const char *p = write_file("main.cnf", inc);
    collected c = {.stop_at = 0};
    char err[256] = "";
    assert_int_equal(read_cnf(p, &c, err, sizeof err), 0);
    /* After an include, the including file's group goes on. */
    assert_string_equal(
        c.text, "port=1|user=from_a|user=from_b|host=included|socket=s|");

    /* A file that includes itself is stopped. */
    char loop[512];
    snprintf(loop, sizeof loop, "[client]\n!include %s/loop.cnf\n", tmpdir);
    p = write_file("loop.cnf", loop);
    assert_int_equal(read_cnf(p, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "nested too deep"));

    /* A missing !include file is an error. */
    snprintf(loop, sizeof loop, "[client]\n!include %s/absent.cnf\n", tmpdir);
    p = write_file("bad-inc.cnf", loop);
    assert_int_equal(read_cnf(p, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "absent.cnf"));
}

/* ------------------------------------------------------------------------ */
/* DSN pieces                                                               */
/* ------------------------------------------------------------------------ */

static void test_pct_encode(void **state)
{
    char *e = amy__cli_pct_encode("p@ss:w/rd%?&# é~._-");
    assert_string_equal(e, "p%40ss%3Aw%2Frd%25%3F%26%23%20%C3%A9~._-");
    free(e);
    e = amy__cli_pct_encode("");
    assert_string_equal(e, "");
    free(e);
}

static char *round_trip(const char *dsn, char *err, size_t errlen)
{
    amy__cli_conninfo c;
    amy__cli_conninfo_init(&c);
    char *out = NULL;
    if (amy__cli_conninfo_dsn_apply(&c, dsn, err, errlen) == 0)
        out = amy__cli_conninfo_dsn(&c);
    amy__cli_conninfo_clear(&c);
    return out;
}

static void expect_dsn(const char *in, const char *want)
{
    char err[256] = "";
    char *out = round_trip(in, err, sizeof err);
    if (!out)
        print_error("%s: %s\n", in, err);
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void test_dsn_round_trip(void **state)
{
    expect_dsn("mysql://u:p@127.0.0.1:3306/db",
               "mysql://u:p@127.0.0.1:3306/db");
    expect_dsn("MariaDB://u@host/db", "mysql://u@host/db");
    expect_dsn("mysql://amy_special:p%40ss%3Aw%2Frd%25%3F%26@h:1/d%20b",
               "mysql://amy_special:p%40ss%3Aw%2Frd%25%3F%26@h:1/d%20b");
    expect_dsn("mysql://u:@h", "mysql://u:@h");
    expect_dsn("mysql://h", "mysql://h");
    expect_dsn("mysql://[::1]:3307/x", "mysql://[::1]:3307/x");
    expect_dsn("mysql://u:p@h/db?query_timeout_ms=5&&pool=8&pipeline=2",
               "mysql://u:p@h/db?query_timeout_ms=5&pool=8&pipeline=2");
    expect_dsn("mysql://u:p@h/db?connect_timeout_ms=0",
               "mysql://u:p@h/db?connect_timeout_ms=0");
    /* localhost is the socket: the port does not matter there. */
    expect_dsn("mysql://u:p@localhost:3307/db", "mysql://u:p@localhost/db");
    /* ?socket= means the socket, whatever the host. */
    expect_dsn("mysql://u:p@10.0.0.1:3307/db?socket=%2Frun%2Fm%20y.sock",
               "mysql://u:p@localhost/db?socket=%2Frun%2Fm%20y.sock");
    /* Unknown keys are kept for amysql to judge. */
    expect_dsn("mysql://h/?bogus=1", "mysql://h?bogus=1");
    /* A host list (issue 13) as written, with its session attributes. */
    expect_dsn("mysql://u:p@h1:3307,h2,[::1]:3308/db?target_session_attrs="
               "read-write&load_balance_hosts=random",
               "mysql://u:p@h1:3307,h2,[::1]:3308/db?target_session_attrs="
               "read-write&load_balance_hosts=random");
}

/* -h with a list: -P gives a port to each host that has none. */
static void test_host_list_with_port(void **state)
{
    amy__cli_conninfo c;
    amy__cli_conninfo_init(&c);
    assert_int_equal(amy__cli_conninfo_set(&c.host, "a,b:3308,[::1],[::2]:9"),
                     0);
    c.port = 3307;
    char *d = amy__cli_conninfo_dsn(&c);
    assert_string_equal(d, "mysql://a:3307,b:3308,[::1]:3307,[::2]:9");
    free(d);
    c.port = 0;
    d = amy__cli_conninfo_dsn(&c);
    assert_string_equal(d, "mysql://a,b:3308,[::1],[::2]:9");
    free(d);
    amy__cli_conninfo_clear(&c);
}

static void test_dsn_tls_keys(void **state)
{
    /* TLS keys become pieces: written last, ssl_mode first, in a fixed
     * order, values decoded then encoded again. */
    expect_dsn("mysql://u@h/db?ssl_fp=AB%3Acd&ssl_mode=verify_ca&pool=2&"
               "ssl_ca=/etc/my%20ca.pem&tls_version=TLSv1.3",
               "mysql://u@h/db?pool=2&ssl_mode=verify_ca&ssl_ca=%2Fetc%2Fmy%"
               "20ca.pem&tls_version=TLSv1.3&ssl_fp=AB%3Acd");
    expect_dsn("mysql://h?ssl_capath=d&ssl_cert=c&ssl_key=k&ssl_cipher=A%3AB&"
               "ssl_crl=r&ssl_crlpath=rp",
               "mysql://h?ssl_capath=d&ssl_cert=c&ssl_key=k&ssl_cipher=A%3AB&"
               "ssl_crl=r&ssl_crlpath=rp");
    /* MySQL spells the modes in capitals; amysql's DSN in lower case. */
    expect_dsn("mysql://h?ssl_mode=VERIFY_Identity",
               "mysql://h?ssl_mode=verify_identity");
    expect_dsn("mysql://h?ssl_mode=disabled", "mysql://h?ssl_mode=disabled");
    /* A key repeated in the DSN is written once, the last one (as ?pool=). */
    expect_dsn("mysql://h?ssl_mode=required&ssl_ca=a&ssl_mode=preferred&"
               "ssl_ca=b",
               "mysql://h?ssl_mode=preferred&ssl_ca=b");
    /* Names amysql does not know are not TLS keys: kept for it to judge. */
    expect_dsn("mysql://h?SSL_MODE=x&ssl=1", "mysql://h?SSL_MODE=x&ssl=1");
}

static void test_dsn_tls_pieces_override(void **state)
{
    amy__cli_conninfo c;
    amy__cli_conninfo_init(&c);
    char err[128];
    c.ssl_mode = AMY__CLI_SSL_REQUIRED;
    assert_int_equal(amy__cli_conninfo_set(&c.tls[AMY__CLI_SSL_CA], "old"), 0);
    assert_int_equal(amy__cli_conninfo_set(&c.tls[AMY__CLI_SSL_KEY], "kept"),
                     0);
    assert_int_equal(
        amy__cli_conninfo_dsn_apply(
            &c, "mysql://h?ssl_ca=new&ssl_mode=verify_ca", err, sizeof err),
        0);
    char *d = amy__cli_conninfo_dsn(&c);
    assert_string_equal(d, "mysql://h?ssl_mode=verify_ca&ssl_ca=new&ssl_key="
                           "kept");
    free(d);
    amy__cli_conninfo_clear(&c);
    assert_int_equal(c.ssl_mode, AMY__CLI_SSL_UNSET);
    assert_null(c.tls[AMY__CLI_SSL_CA]);
}

static void test_ssl_mode_names(void **state)
{
    assert_int_equal(amy__cli_ssl_mode_parse("DISABLED", 8),
                     AMY__CLI_SSL_DISABLED);
    assert_int_equal(amy__cli_ssl_mode_parse("preferred", 9),
                     AMY__CLI_SSL_PREFERRED);
    assert_int_equal(amy__cli_ssl_mode_parse("Required", 8),
                     AMY__CLI_SSL_REQUIRED);
    assert_int_equal(amy__cli_ssl_mode_parse("verify_ca", 9),
                     AMY__CLI_SSL_VERIFY_CA);
    assert_int_equal(amy__cli_ssl_mode_parse("VERIFY_IDENTITY", 15),
                     AMY__CLI_SSL_VERIFY_IDENTITY);
    /* Only whole names. */
    assert_int_equal(amy__cli_ssl_mode_parse("verify_ca", 6),
                     AMY__CLI_SSL_UNSET);
    assert_int_equal(amy__cli_ssl_mode_parse("verify-ca", 9),
                     AMY__CLI_SSL_UNSET);
    assert_int_equal(amy__cli_ssl_mode_parse("", 0), AMY__CLI_SSL_UNSET);
    assert_string_equal(amy__cli_ssl_mode_name(AMY__CLI_SSL_VERIFY_CA),
                        "verify_ca");
    assert_null(amy__cli_ssl_mode_name(AMY__CLI_SSL_UNSET));
    assert_null(amy__cli_ssl_mode_name(99));
}

static void expect_dsn_error(const char *in, const char *part)
{
    char err[256] = "";
    char *out = round_trip(in, err, sizeof err);
    assert_null(out);
    if (!strstr(err, part))
        print_error("%s: '%s' lacks '%s'\n", in, err, part);
    assert_non_null(strstr(err, part));
    /* Never the password. */
    assert_null(strstr(err, "s3cret"));
}

static void test_dsn_errors(void **state)
{
    expect_dsn_error("postgres://u:s3cret@h/db", "mysql:// or mariadb://");
    expect_dsn_error("u:s3cret@h/db", "mysql:// or mariadb://");
    expect_dsn_error("mysql://u:s3cret/x@h/db", "%2F");
    expect_dsn_error("mysql://u:s3cret%zz@h/db", "password has a '%'");
    expect_dsn_error("mysql://u:s3cret%2@h/db", "password has a '%'");
    expect_dsn_error("mysql://u:s3cret%00@h/db", "%00");
    expect_dsn_error("mysql://u:s3cret@h:http/db", "port");
    expect_dsn_error("mysql://u:s3cret@h:0/db", "port");
    expect_dsn_error("mysql://u:s3cret@h:65536/db", "port");
    expect_dsn_error("mysql://u:s3cret@[::1/db", "']'");
    expect_dsn_error("mysql://u:s3cret@h/db?pool=x", "pool");
    expect_dsn_error("mysql://u:s3cret@h/db?pipeline=0", "pipeline");
    expect_dsn_error("mysql://u:s3cret@h/db%", "database");
    expect_dsn_error("mysql://u:s3cret@h/db?ssl_mode=bogus",
                     "ssl_mode must be disabled, preferred, required, "
                     "verify_ca or verify_identity");
    expect_dsn_error("mysql://u:s3cret@h/db?ssl_mode=", "ssl_mode must be");
    expect_dsn_error("mysql://u:s3cret@h/db?ssl_mode=%zz", "ssl_mode value");
    expect_dsn_error("mysql://u:s3cret@h/db?ssl_ca=", "empty value for ssl_ca");
    expect_dsn_error("mysql://u:s3cret@h/db?ssl_key",
                     "empty value for ssl_key");
    expect_dsn_error("mysql://u:s3cret@h/db?ssl_ca=a%2",
                     "the ssl_ca value has a '%'");
}

static void test_dsn_pieces_override(void **state)
{
    amy__cli_conninfo c;
    amy__cli_conninfo_init(&c);
    char err[128];
    assert_int_equal(amy__cli_conninfo_set(&c.user, "old"), 0);
    assert_int_equal(amy__cli_conninfo_set(&c.password, "kept"), 0);
    assert_int_equal(amy__cli_conninfo_set(&c.database, "olddb"), 0);
    assert_int_equal(
        amy__cli_conninfo_dsn_apply(&c, "mysql://new@h:5/", err, sizeof err),
        0);
    assert_string_equal(c.user, "new");
    assert_string_equal(c.password, "kept");
    assert_string_equal(c.database, "olddb");
    assert_string_equal(c.host, "h");
    assert_int_equal(c.port, 5);
    amy__cli_conninfo_clear(&c);
    assert_null(c.user);
    assert_int_equal(c.connect_timeout_ms, -1);
}

static void test_dsn_build_local_and_tcp(void **state)
{
    amy__cli_conninfo c;
    amy__cli_conninfo_init(&c);
    char *d = amy__cli_conninfo_dsn(&c);
    assert_string_equal(d, "mysql://localhost");
    free(d);
    c.port = 3307;
    d = amy__cli_conninfo_dsn(&c);
    assert_string_equal(d, "mysql://localhost");
    free(d);
    c.tcp = 1;
    d = amy__cli_conninfo_dsn(&c);
    assert_string_equal(d, "mysql://127.0.0.1:3307");
    free(d);
    c.tcp = 0;
    assert_int_equal(amy__cli_conninfo_set(&c.socket, "/tmp/s"), 0);
    assert_int_equal(amy__cli_conninfo_set(&c.host, "db.example"), 0);
    d = amy__cli_conninfo_dsn(&c); /* a real host: the socket is unused */
    assert_string_equal(d, "mysql://db.example:3307");
    free(d);
    amy__cli_conninfo_clear(&c);
}

static void test_parse_port(void **state)
{
    unsigned p = 0;
    assert_int_equal(amy__cli_parse_port("3306", &p), 0);
    assert_int_equal(p, 3306);
    assert_int_equal(amy__cli_parse_port("65535", &p), 0);
    assert_int_equal(amy__cli_parse_port("0", &p), -1);
    assert_int_equal(amy__cli_parse_port("65536", &p), -1);
    assert_int_equal(amy__cli_parse_port("-1", &p), -1);
    assert_int_equal(amy__cli_parse_port(" 1", &p), -1);
    assert_int_equal(amy__cli_parse_port("", &p), -1);
    assert_int_equal(amy__cli_parse_port("99999999999999999999", &p), -1);
}

/* ------------------------------------------------------------------------ */
/* Source order                                                             */
/* ------------------------------------------------------------------------ */

static amy__cli_connect_args base_args(const char *defaults_file)
{
    amy__cli_connect_args a;
    memset(&a, 0, sizeof a);
    a.defaults_file = defaults_file;
    a.connect_timeout_ms = -1;
    return a;
}

static void expect_connect(const amy__cli_connect_args *a, const char *want)
{
    char err[256] = "";
    char *d = amy__cli_connect_dsn(a, NULL, err, sizeof err);
    if (!d)
        print_error("%s\n", err);
    assert_non_null(d);
    assert_string_equal(d, want);
    free(d);
}

static void test_connect_sources(void **state)
{
    unsetenv("AMYSQL_DSN");
    unsetenv("MYSQL_PWD");
    const char *cnf = write_file("src.cnf", "[client]\n"
                                            "user=file_user\n"
                                            "password=file@pw\n"
                                            "host=file-host\n"
                                            "port=3310\n"
                                            "database=file_db\n"
                                            "[mysqld]\nuser=mysql\n");
    amy__cli_connect_args a = base_args(cnf);
    expect_connect(&a, "mysql://file_user:file%40pw@file-host:3310/file_db");

    /* MYSQL_PWD is the weakest source. */
    setenv("MYSQL_PWD", "env_pw", 1);
    expect_connect(&a, "mysql://file_user:file%40pw@file-host:3310/file_db");
    a.no_defaults = 1;
    expect_connect(&a, "mysql://:env_pw@localhost");
    a.no_defaults = 0;

    /* The DSN beats the files, but keeps what it does not give. */
    setenv("AMYSQL_DSN", "mysql://dsn_user@dsn-host/dsn_db?pool=3", 1);
    expect_connect(&a, "mysql://dsn_user:file%40pw@dsn-host:3310/dsn_db?"
                       "pool=3");
    /* An argument replaces AMYSQL_DSN entirely. */
    a.dsn = "mysql://arg_user:arg%20pw@arg-host:1/arg_db";
    expect_connect(&a, "mysql://arg_user:arg%20pw@arg-host:1/arg_db");

    /* The command line beats everything. */
    a.host = "cli-host";
    a.user = "cli user";
    a.password = "cli/pw";
    a.database = "cli_db";
    a.port = 2;
    a.pool = 8;
    a.pipeline = 4;
    a.connect_timeout_ms = 1500;
    expect_connect(&a, "mysql://cli%20user:cli%2Fpw@cli-host:2/cli_db?pool=8&"
                       "pipeline=4&connect_timeout_ms=1500");

    /* How many statements the pool can have in flight. */
    char err[128];
    size_t inflight = 0;
    char *d = amy__cli_connect_dsn(&a, &inflight, err, sizeof err);
    assert_non_null(d);
    free(d);
    assert_int_equal(inflight, 32);
    a.pool = a.pipeline = 0;
    a.dsn = "mysql://h/?pipeline=3";
    d = amy__cli_connect_dsn(&a, &inflight, err, sizeof err);
    assert_non_null(d);
    free(d);
    assert_int_equal(inflight, 4 * 3); /* amysql's default pool of 4 */
    unsetenv("AMYSQL_DSN");
    unsetenv("MYSQL_PWD");
}

static void test_connect_socket_and_port(void **state)
{
    unsetenv("AMYSQL_DSN");
    unsetenv("MYSQL_PWD");
    const char *cnf = write_file("sock.cnf", "[client-server]\n"
                                             "socket=/run/file.sock\n"
                                             "port=3399\n");
    amy__cli_connect_args a = base_args(cnf);
    /* [client-server] is read too; localhost uses the socket. */
    expect_connect(&a, "mysql://localhost?socket=%2Frun%2Ffile.sock");
    /* A port on the command line means TCP... */
    a.port = 3400;
    expect_connect(&a, "mysql://127.0.0.1:3400");
    /* ...unless a socket is given there too. */
    a.socket = "/run/cli.sock";
    expect_connect(&a, "mysql://localhost?socket=%2Frun%2Fcli.sock");
    /* -S with a DSN naming a TCP host: the socket wins, as -S says. */
    a.port = 0;
    a.dsn = "mysql://u@10.1.1.1:3306/db";
    expect_connect(&a, "mysql://u@localhost/db?socket=%2Frun%2Fcli.sock");
    /* -h beats both. */
    a.host = "db.example";
    expect_connect(&a, "mysql://u@db.example:3306/db");
}

static void test_connect_errors(void **state)
{
    unsetenv("AMYSQL_DSN");
    unsetenv("MYSQL_PWD");
    char err[256];
    const char *cnf = write_file("badport.cnf", "[client]\nport=abc\n");
    amy__cli_connect_args a = base_args(cnf);
    assert_null(amy__cli_connect_dsn(&a, NULL, err, sizeof err));
    assert_non_null(strstr(err, "badport.cnf:2: port must be a number"));

    cnf = write_file("nohost.cnf", "[client]\nhost\n");
    a = base_args(cnf);
    assert_null(amy__cli_connect_dsn(&a, NULL, err, sizeof err));
    assert_non_null(strstr(err, "nohost.cnf:2: host needs a value"));

    char missing[300];
    snprintf(missing, sizeof missing, "%s/missing.cnf", tmpdir);
    a = base_args(missing);
    assert_null(amy__cli_connect_dsn(&a, NULL, err, sizeof err));
    assert_non_null(strstr(err, "missing.cnf"));

    a = base_args(NULL);
    a.no_defaults = 1;
    a.dsn = "http://x";
    assert_null(amy__cli_connect_dsn(&a, NULL, err, sizeof err));
    assert_non_null(strstr(err, "bad DSN"));
}

static void test_connect_password_not_asked_when_given(void **state)
{
    unsetenv("AMYSQL_DSN");
    unsetenv("MYSQL_PWD");
    /* A bare "password" asks, but a stronger source answers first. */
    const char *cnf = write_file("ask.cnf", "[client]\npassword\n");
    amy__cli_connect_args a = base_args(cnf);
    a.dsn = "mysql://u:given@h/db";
    expect_connect(&a, "mysql://u:given@h/db");
    a.dsn = NULL;
    a.password = "cli";
    expect_connect(&a, "mysql://:cli@localhost");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnf_groups_and_syntax),
        cmocka_unit_test(test_cnf_empty_value_and_quotes),
        cmocka_unit_test(test_cnf_errors),
        cmocka_unit_test(test_cnf_callback_stops),
        cmocka_unit_test(test_cnf_include),
        cmocka_unit_test(test_pct_encode),
        cmocka_unit_test(test_dsn_round_trip),
        cmocka_unit_test(test_host_list_with_port),
        cmocka_unit_test(test_dsn_tls_keys),
        cmocka_unit_test(test_dsn_tls_pieces_override),
        cmocka_unit_test(test_ssl_mode_names),
        cmocka_unit_test(test_dsn_errors),
        cmocka_unit_test(test_dsn_pieces_override),
        cmocka_unit_test(test_dsn_build_local_and_tcp),
        cmocka_unit_test(test_parse_port),
        cmocka_unit_test(test_connect_sources),
        cmocka_unit_test(test_connect_socket_and_port),
        cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_connect_password_not_asked_when_given),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
