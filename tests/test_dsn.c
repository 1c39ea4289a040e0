/* Tests for src/dsn.c: DSN parsing, defaults, decoding and error messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "dsn.h"

#define PW "s3cr3tPW"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static int is_zero(const amy__dsn *d)
{
    static const amy__dsn zero;
    return memcmp(d, &zero, sizeof zero) == 0;
}

/* Parses s, which must succeed; *d is filled with garbage first. */
static void parse_ok(const char *s, amy__dsn *d)
{
    char err[256] = "";
    memset(d, 0xab, sizeof *d);
    int rc = amy__dsn_parse(s, d, err, sizeof err);
    if (rc != 0)
        print_error("unexpected failure for %s: %s\n", s, err);
    assert_int_equal(rc, 0);
}

/*
 * Parses s, which must fail with a message containing want (NULL: any) and
 * leave the struct zeroed. Returns the message in err.
 */
static void parse_fail(const char *s, const char *want, char *err,
                       size_t errlen)
{
    amy__dsn d;
    memset(&d, 0xab, sizeof d);
    err[0] = '\0';
    int rc = amy__dsn_parse(s, &d, err, errlen);
    if (rc != -1)
        print_error("unexpected success for %s\n", s ? s : "(null)");
    assert_int_equal(rc, -1);
    assert_true(is_zero(&d));
    assert_true(strlen(err) > 0);
    if (want != NULL && strstr(err, want) == NULL) {
        print_error("DSN %s\n  message: %s\n  wanted:  %s\n", s ? s : "(null)",
                    err, want);
        fail();
    }
}

static void expect_fail(const char *s, const char *want)
{
    char err[512];
    parse_fail(s, want, err, sizeof err);
}

static void assert_no_secret(const char *s, const char *err)
{
    /* Neither the password nor either half of it. */
    if (strstr(err, PW) != NULL || strstr(err, "s3cr") != NULL ||
        strstr(err, "3tPW") != NULL) {
        print_error("password leaked for %s: %s\n", s, err);
        fail();
    }
}

/* ------------------------------------------------------------------------ */
/* Successful parses                                                        */
/* ------------------------------------------------------------------------ */

static void test_full_form(void **state)
{
    (void)state;
    amy__dsn d;
    parse_ok("mysql://alice:secret@db.example.com:3307/shop?pool=8&pipeline=32"
             "&pipeline_bytes=131072&connect_timeout_ms=2500"
             "&query_timeout_ms=1000&socket=/tmp/my.sock",
             &d);
    assert_string_equal(d.user, "alice");
    assert_string_equal(d.password, "secret");
    assert_string_equal(d.host, "db.example.com");
    assert_int_equal(d.port, 3307);
    assert_string_equal(d.database, "shop");
    assert_string_equal(d.socket, "/tmp/my.sock");
    assert_int_equal(d.pool, 8);
    assert_int_equal(d.pipeline, 32);
    assert_int_equal(d.pipeline_bytes, 131072);
    assert_int_equal(d.connect_timeout_ms, 2500);
    assert_int_equal(d.query_timeout_ms, 1000);
    amy__dsn_clear(&d);
    assert_true(is_zero(&d));
}

static void test_key_order_free(void **state)
{
    (void)state;
    amy__dsn d;
    parse_ok("mysql://h?query_timeout_ms=5&pool=2", &d);
    assert_int_equal(d.query_timeout_ms, 5);
    assert_int_equal(d.pool, 2);
    assert_int_equal(d.pipeline, AMY__DSN_DEFAULT_PIPELINE);
    amy__dsn_clear(&d);
}

static void test_defaults(void **state)
{
    (void)state;
    amy__dsn d;
    parse_ok("mysql://localhost", &d);
    assert_null(d.user);
    assert_null(d.password);
    assert_string_equal(d.host, "localhost");
    assert_null(d.database);
    assert_null(d.socket);
    assert_int_equal(d.port, 0);
    assert_int_equal(d.pool, AMY__DSN_DEFAULT_POOL);
    assert_int_equal(d.pipeline, AMY__DSN_DEFAULT_PIPELINE);
    assert_int_equal(d.pipeline_bytes, AMY__DSN_DEFAULT_PIPELINE_BYTES);
    assert_int_equal(d.connect_timeout_ms, AMY__DSN_DEFAULT_CONNECT_TIMEOUT_MS);
    assert_int_equal(d.query_timeout_ms, 0);
    assert_int_equal(d.stmt_cache, AMY__DSN_DEFAULT_STMT_CACHE);
    assert_int_equal(d.read_coalesce_us, AMY__DSN_DEFAULT_READ_COALESCE_US);
    assert_int_equal(d.kill_grace_ms, AMY__DSN_DEFAULT_KILL_GRACE_MS);
    assert_null(d.auth_plugins);
    amy__dsn_clear(&d);
}

static void test_no_user(void **state)
{
    (void)state;
    amy__dsn d;
    parse_ok("mysql://127.0.0.1:3306/db", &d);
    assert_null(d.user);
    assert_null(d.password);
    assert_string_equal(d.host, "127.0.0.1");
    assert_int_equal(d.port, 3306);
    assert_string_equal(d.database, "db");
    amy__dsn_clear(&d);
}

static void test_user_without_password(void **state)
{
    (void)state;
    amy__dsn d;
    parse_ok("mysql://bob@h/db", &d);
    assert_string_equal(d.user, "bob");
    assert_null(d.password);
    assert_string_equal(d.host, "h");
    amy__dsn_clear(&d);

    /* An explicit empty password is kept, distinct from no password. */
    parse_ok("mysql://bob:@h", &d);
    assert_string_equal(d.user, "bob");
    assert_string_equal(d.password, "");
    amy__dsn_clear(&d);

    /* An empty user is absent. */
    parse_ok("mysql://@h", &d);
    assert_null(d.user);
    assert_null(d.password);
    amy__dsn_clear(&d);
    parse_ok("mysql://:pw@h", &d);
    assert_null(d.user);
    assert_string_equal(d.password, "pw");
    amy__dsn_clear(&d);
}

static void test_percent_decoding(void **state)
{
    (void)state;
    amy__dsn d;
    parse_ok("mysql://us%40er%3a1:p%40ss%3Aw%2Frd%25%3F%26@h/my%20db%2d1"
             "?socket=%2Ftmp%2Fa%20b.sock",
             &d);
    assert_string_equal(d.user, "us@er:1");
    assert_string_equal(d.password, "p@ss:w/rd%?&");
    assert_string_equal(d.database, "my db-1");
    assert_string_equal(d.socket, "/tmp/a b.sock");
    amy__dsn_clear(&d);

    /* High bytes (UTF-8) decode fine; '+' is not a space. */
    parse_ok("mysql://u:%C3%A9t%C3%A9+x@h", &d);
    assert_string_equal(d.password, "\xc3\xa9t\xc3\xa9+x");
    amy__dsn_clear(&d);
}

static void test_raw_separators_in_password(void **state)
{
    (void)state;
    amy__dsn d;
    /* Userinfo ends at the last '@'; the first ':' splits it. */
    parse_ok("mysql://u:p@ss@h/db", &d);
    assert_string_equal(d.user, "u");
    assert_string_equal(d.password, "p@ss");
    assert_string_equal(d.host, "h");
    amy__dsn_clear(&d);
    parse_ok("mysql://u:a:b@h", &d);
    assert_string_equal(d.password, "a:b");
    amy__dsn_clear(&d);
}

static void test_ipv6(void **state)
{
    (void)state;
    amy__dsn d;
    parse_ok("mysql://u:p@[::1]:3307/db", &d);
    assert_string_equal(d.host, "::1");
    assert_int_equal(d.port, 3307);
    assert_string_equal(d.database, "db");
    amy__dsn_clear(&d);

    parse_ok("mysql://[2001:DB8::1]", &d);
    assert_string_equal(d.host, "2001:DB8::1");
    assert_int_equal(d.port, 0);
    amy__dsn_clear(&d);

    parse_ok("mysql://[::ffff:127.0.0.1]/x?pool=1", &d);
    assert_string_equal(d.host, "::ffff:127.0.0.1");
    assert_string_equal(d.database, "x");
    assert_int_equal(d.pool, 1);
    amy__dsn_clear(&d);
}

static void test_socket_only(void **state)
{
    (void)state;
    amy__dsn d;
    parse_ok("mysql://u:p@/db?socket=/tmp/s", &d);
    assert_string_equal(d.user, "u");
    assert_string_equal(d.password, "p");
    assert_null(d.host);
    assert_string_equal(d.database, "db");
    assert_string_equal(d.socket, "/tmp/s");
    amy__dsn_clear(&d);

    parse_ok("mysql://?socket=/run/mysqld/mysqld.sock", &d);
    assert_null(d.user);
    assert_null(d.host);
    assert_null(d.database);
    assert_string_equal(d.socket, "/run/mysqld/mysqld.sock");
    amy__dsn_clear(&d);

    /* Host and socket together are fine too. */
    parse_ok("mysql://localhost/db?socket=/tmp/s", &d);
    assert_string_equal(d.host, "localhost");
    assert_string_equal(d.socket, "/tmp/s");
    amy__dsn_clear(&d);
}

static void test_schemes(void **state)
{
    (void)state;
    amy__dsn d;
    parse_ok("mariadb://u:p@h:3306/db", &d);
    assert_string_equal(d.user, "u");
    assert_string_equal(d.host, "h");
    assert_int_equal(d.port, 3306);
    amy__dsn_clear(&d);
    parse_ok("MySQL://h", &d); /* schemes are case-insensitive */
    assert_string_equal(d.host, "h");
    amy__dsn_clear(&d);
}

static void test_empty_database(void **state)
{
    (void)state;
    amy__dsn d;
    parse_ok("mysql://h/", &d);
    assert_null(d.database);
    amy__dsn_clear(&d);
    parse_ok("mysql://h/?pool=3", &d);
    assert_null(d.database);
    assert_int_equal(d.pool, 3);
    amy__dsn_clear(&d);
}

static void test_number_bounds(void **state)
{
    (void)state;
    amy__dsn d;
    parse_ok("mysql://h:1?pool=1&pipeline=1&pipeline_bytes=1024"
             "&connect_timeout_ms=0&query_timeout_ms=0&stmt_cache=0"
             "&read_coalesce_us=100000&kill_grace_ms=0"
             "&auth_plugins=client_ed25519",
             &d);
    assert_int_equal(d.kill_grace_ms, 0);
    assert_string_equal(d.auth_plugins, "client_ed25519");
    assert_int_equal(d.stmt_cache, 0);
    assert_int_equal(d.read_coalesce_us, 100000);
    assert_int_equal(d.port, 1);
    assert_int_equal(d.pool, 1);
    assert_int_equal(d.pipeline, 1);
    assert_int_equal(d.pipeline_bytes, 1024);
    assert_int_equal(d.connect_timeout_ms, 0);
    assert_int_equal(d.query_timeout_ms, 0);
    amy__dsn_clear(&d);

    parse_ok("mysql://h:65535?pool=65535&pipeline=4096"
             "&pipeline_bytes=1073741824&connect_timeout_ms=86400000"
             "&query_timeout_ms=86400000",
             &d);
    assert_int_equal(d.port, 65535);
    assert_int_equal(d.pool, 65535);
    assert_int_equal(d.pipeline, 4096);
    assert_int_equal(d.pipeline_bytes, 1073741824);
    assert_int_equal(d.connect_timeout_ms, 86400000);
    assert_int_equal(d.query_timeout_ms, 86400000);
    amy__dsn_clear(&d);

    parse_ok("mysql://h:03306?pool=007", &d); /* leading zeros are digits */
    assert_int_equal(d.port, 3306);
    assert_int_equal(d.pool, 7);
    amy__dsn_clear(&d);
}

static void test_clear(void **state)
{
    (void)state;
    amy__dsn d;
    amy__dsn_clear(NULL);
    parse_ok("mysql://u:p@h/db?socket=/s", &d);
    amy__dsn_clear(&d);
    assert_true(is_zero(&d));
    amy__dsn_clear(&d); /* twice is harmless */
}

/* Host lists (libpq's multiple hosts), with and without ports, IPv6. */
static void test_host_list(void **state)
{
    amy__dsn d;
    parse_ok("mysql://u:p@h1:3307,h2,[::1]:3308,10.0.0.7/db", &d);
    assert_int_equal(d.nhosts, 4);
    assert_string_equal(d.hosts[0].host, "h1");
    assert_int_equal(d.hosts[0].port, 3307);
    assert_string_equal(d.hosts[1].host, "h2");
    assert_int_equal(d.hosts[1].port, 0);
    assert_string_equal(d.hosts[2].host, "::1");
    assert_int_equal(d.hosts[2].port, 3308);
    assert_string_equal(d.hosts[3].host, "10.0.0.7");
    /* host and port are the first one's. */
    assert_string_equal(d.host, "h1");
    assert_int_equal(d.port, 3307);
    assert_string_equal(d.database, "db");
    amy__dsn_clear(&d);

    parse_ok("mysql://u@one/db", &d);
    assert_int_equal(d.nhosts, 1);
    assert_string_equal(d.hosts[0].host, "one");
    assert_int_equal(d.target_session_attrs, AMY__TSA_ANY);
    assert_int_equal(d.load_balance_hosts, 0);
    assert_int_equal(d.role_check_ms, AMY__DSN_DEFAULT_ROLE_CHECK_MS);
    amy__dsn_clear(&d);

    parse_ok("mysql://u@a,b/db?target_session_attrs=prefer-standby&"
             "load_balance_hosts=random&role_check_ms=250",
             &d);
    assert_int_equal(d.target_session_attrs, AMY__TSA_PREFER_STANDBY);
    assert_int_equal(d.load_balance_hosts, 1);
    assert_int_equal(d.role_check_ms, 250);
    assert_int_equal(d.dns_ttl_ms, 15000);
    assert_null(d.dns_servers);
    amy__dsn_clear(&d);
    parse_ok(
        "mysql://u@a/db?dns_ttl_ms=500&dns_servers=127.0.0.1:5353,%5B::1%5D",
        &d);
    assert_int_equal(d.dns_ttl_ms, 500);
    assert_string_equal(d.dns_servers, "127.0.0.1:5353,[::1]");
    amy__dsn_clear(&d);
    expect_fail("mysql://u@a/db?dns_ttl_ms=0", "dns_ttl_ms");
    static const char *const tsa[] = {"any",       "read-write",
                                      "read-only", "primary",
                                      "standby",   "prefer-standby"};
    for (unsigned i = 0; i < 6; i++) {
        char dsn[128];
        snprintf(dsn, sizeof dsn, "mysql://u@a/db?target_session_attrs=%s",
                 tsa[i]);
        parse_ok(dsn, &d);
        assert_int_equal(d.target_session_attrs, i);
        amy__dsn_clear(&d);
    }

    /* The socket alone still needs no host. */
    parse_ok("mysql://u@/db?socket=/tmp/s", &d);
    assert_int_equal(d.nhosts, 0);
    amy__dsn_clear(&d);

    expect_fail("mysql://u@a,,b/db", "empty host in the host list");
    expect_fail("mysql://u@a,/db", "empty host in the host list");
    expect_fail("mysql://u@,a/db", "empty host in the host list");
    expect_fail("mysql://u@a,b:0/db", "invalid port");
    expect_fail("mysql://u@a,[::1/db", "unterminated '['");
    expect_fail("mysql://u@a,b c/db", "invalid character in the host name");
    expect_fail("mysql://u@a/db?target_session_attrs=master",
                "target_session_attrs");
    expect_fail("mysql://u@a/db?load_balance_hosts=round-robin",
                "load_balance_hosts");
    char many[1024] = "mysql://u@";
    for (int i = 0; i < 65; i++)
        strcat(many, i ? ",h" : "h");
    strcat(many, "/db");
    expect_fail(many, "too many hosts (at most 64)");

    /* The password stays out of host-list messages. */
    char err[512];
    static const char *const bad[] = {
        "mysql://u:" PW "@a,,b/db",
        "mysql://u:" PW "@a," PW ":x/db",
        /* No '@': what looks like a port may be the password. */
        "mysql://root:" PW ",h2/db",
        "mysql://h1,root:" PW "/db",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        parse_fail(bad[i], NULL, err, sizeof err);
        assert_no_secret(bad[i], err);
    }
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

struct bad {
    const char *dsn;
    const char *want; /* substring of the message */
};

/* Every case carries the password PW wherever the DSN has room for one. */
static const struct bad bad_cases[] = {
    /* scheme */
    {"", "DSN is empty"},
    {"u:" PW "@h/db", "DSN must start with mysql://"},
    {"postgres://u:" PW "@h/db", "DSN must start with mysql://"},
    {"mysql:/u:" PW "@h/db", "DSN must start with mysql://"},
    {"mysql:u:" PW "@h/db", "DSN must start with mysql://"},
    {" mysql://u:" PW "@h/db", "DSN must start with mysql://"},
    /* keys */
    {"mysql://u:" PW "@h/db?poool=4", "unknown DSN key 'poool'"},
    {"mysql://u:" PW "@h/db?Pool=4", "unknown DSN key 'Pool'"},
    {"mysql://u:" PW "@h/db?password=" PW, "unknown DSN key 'password'"},
    {"mysql://u:" PW "@h/db?pool=4&pool=5", "duplicate DSN key 'pool'"},
    {"mysql://u:" PW "@h/db?socket=/a&pool=1&socket=/b",
     "duplicate DSN key 'socket'"},
    {"mysql://u:" PW "@h/db?pool", "missing '=' after DSN key 'pool'"},
    {"mysql://u:" PW "@h/db?pool=1&pipeline", "missing '='"},
    {"mysql://u:" PW "@h/db?=4", "empty DSN key"},
    {"mysql://u:" PW "@h/db?pool=4&", "empty parameter"},
    {"mysql://u:" PW "@h/db?pool=4&&pipeline=2", "empty parameter"},
    {"mysql://u:" PW "@h/db?", "empty parameter"},
    /* numbers */
    {"mysql://u:" PW "@h/db?pool=abc",
     "invalid value for 'pool': \"abc\" (expected an integer 1..65535)"},
    {"mysql://u:" PW "@h/db?pool=", "invalid value for 'pool': \"\""},
    {"mysql://u:" PW "@h/db?pool=0", "invalid value for 'pool': \"0\""},
    {"mysql://u:" PW "@h/db?pool=65536", "\"65536\" (expected an integer "
                                         "1..65535)"},
    {"mysql://u:" PW "@h/db?pool=-1", "invalid value for 'pool': \"-1\""},
    {"mysql://u:" PW "@h/db?kill_grace_ms=86400001",
     "invalid value for 'kill_grace_ms': \"86400001\" (expected an integer "
     "0..86400000)"},
    {"mysql://u:" PW "@h/db?auth_plugins=", "empty value for 'auth_plugins'"},
    {"mysql://u:" PW "@h/db?stmt_cache=65536",
     "invalid value for 'stmt_cache': \"65536\" (expected an integer "
     "0..65535)"},
    {"mysql://u:" PW "@h/db?pool=+1", "invalid value for 'pool': \"+1\""},
    {"mysql://u:" PW "@h/db?pool=4x", "invalid value for 'pool': \"4x\""},
    {"mysql://u:" PW "@h/db?pool=4 ", "invalid value for 'pool'"},
    {"mysql://u:" PW "@h/db?pool= 4", "invalid value for 'pool'"},
    {"mysql://u:" PW "@h/db?pool=0x10", "invalid value for 'pool': \"0x10\""},
    {"mysql://u:" PW "@h/db?pool=4.0", "invalid value for 'pool'"},
    {"mysql://u:" PW "@h/db?pool=%34", "invalid value for 'pool'"},
    {"mysql://u:" PW "@h/db?pool=99999999999999999999",
     "invalid value for 'pool': \"99999999999999999999\""},
    {"mysql://u:" PW "@h/db?pipeline_bytes=99999999999999999999999999",
     "invalid value for 'pipeline_bytes'"},
    {"mysql://u:" PW "@h/db?pipeline=0",
     "invalid value for 'pipeline': \"0\" (expected an integer 1..4096)"},
    {"mysql://u:" PW "@h/db?pipeline=4097", "'pipeline': \"4097\""},
    {"mysql://u:" PW "@h/db?pipeline_bytes=1023",
     "'pipeline_bytes': \"1023\" (expected an integer 1024..1073741824)"},
    {"mysql://u:" PW "@h/db?pipeline_bytes=1073741825", "'pipeline_bytes'"},
    {"mysql://u:" PW "@h/db?connect_timeout_ms=86400001",
     "'connect_timeout_ms': \"86400001\" (expected an integer 0..86400000)"},
    {"mysql://u:" PW "@h/db?query_timeout_ms=-5",
     "invalid value for 'query_timeout_ms': \"-5\""},
    {"mysql://u:" PW "@h/db?query_timeout_ms=4294967296", "'query_timeout_ms'"},
    /* socket */
    {"mysql://u:" PW "@/db?socket=", "empty value for 'socket'"},
    {"mysql://u:" PW "@h/db?socket=/tmp/%G1", "percent-escape in the value "
                                              "of 'socket'"},
    {"mysql://u:" PW "@h/db?socket=/tmp/%00x", "%00"},
    /* port */
    {"mysql://u:" PW "@h:0/db", "invalid port \"0\" (expected an integer "
                                "1..65535)"},
    {"mysql://u:" PW "@h:70000/db", "invalid port \"70000\""},
    {"mysql://u:" PW "@h:abc/db", "invalid port \"abc\""},
    {"mysql://u:" PW "@h:-1/db", "invalid port \"-1\""},
    {"mysql://u:" PW "@h:3306x/db", "invalid port \"3306x\""},
    {"mysql://u:" PW "@h:99999999999999999999", "invalid port"},
    {"mysql://u:" PW "@h:/db", "empty port"},
    {"mysql://u:" PW "@[::1]:0/db", "invalid port \"0\""},
    {"mysql://u:" PW "@[::1]:/db", "empty port"},
    /* percent escapes */
    {"mysql://u:" PW "%G1@h/db", "percent-escape in the password"},
    {"mysql://u:" PW "%4@h/db", "percent-escape in the password"},
    {"mysql://u:" PW "%@h/db", "percent-escape in the password"},
    {"mysql://u:%4" PW "@h/db", "percent-escape in the password"},
    {"mysql://u:" PW "%00@h/db", "the password contains %00"},
    {"mysql://u%zz:" PW "@h/db", "percent-escape in the user name"},
    {"mysql://u%00:" PW "@h/db", "the user name contains %00"},
    {"mysql://u:" PW "@h/d%4", "percent-escape in the database name"},
    {"mysql://u:" PW "@h/d%00b", "the database name contains %00"},
    /* host */
    {"mysql://u:" PW "@[::1/db", "unterminated '['"},
    {"mysql://u:" PW "@[::1", "unterminated '['"},
    {"mysql://u:" PW "@[::1]x/db", "unexpected text after ']'"},
    {"mysql://u:" PW "@[]/db", "empty IPv6 address"},
    {"mysql://u:" PW "@[zz::1]/db", "invalid character in the IPv6"},
    {"mysql://u:" PW "@[127.0.0.1]/db", "invalid IPv6 address"},
    {"mysql://u:" PW "@::1/db", "brackets"},
    {"mysql://u:" PW "@h:1:2/db", "brackets"},
    {"mysql://u:" PW "@h o/db", "invalid character in the host"},
    {"mysql://u:" PW "@h%41/db", "invalid character in the host"},
    {"mysql://u:" PW "@h]/db", "invalid character in the host"},
    {"mysql://u:" PW "@/db", "missing host"},
    {"mysql://u:" PW "@", "missing host"},
    {"mysql://u:" PW "@:3306/db", "missing host"},
    {"mysql://", "missing host"},
    {"mysql://u:" PW "@/db?pool=2", "missing host"},
    /* database */
    {"mysql://u:" PW "@h/a/b", "unexpected '/' in the database name"},
    /*
     * Mis-splits: a raw '/' or '?' in the password, or the host forgotten.
     * The port or a key would be a piece of the password: nothing is shown.
     */
    {"mysql://root:" PW "/db", "invalid port (expected"},
    {"mysql://root:" PW, "invalid port (expected"},
    {"mysql://root:" PW "?pool=1", "invalid port (expected"},
    {"mysql://u:" PW "/x@h/db", "invalid port (expected"},
    {"mysql://u:" PW "/x@h/db", "%2F"},
    {"mysql://u:" PW "?x@h/db", "%3F"},
    {"mysql://u:s3cr/3tPW@h/db", "invalid port"},
    {"mysql://u:s3cr?3tPW@h/db", "invalid port"},
    {"mysql://u:123?" PW "@h/db", "missing '=' after DSN key (hidden)"},
    {"mysql://u:123?" PW "=1@h/db", "unknown DSN key (hidden)"},
    {"mysql://u:123?pool=" PW "@h/db", "invalid value for 'pool': (hidden)"},
    {"mysql://u:123?pool=1&" PW "@h/db", "missing '='"},
    {"mysql://u:123/" PW "/x@h/db", "unexpected '/' in the database name"},
    {"mysql://u:1/s3cr?3tPW=1@h/db", "unknown DSN key (hidden)"},
    {"mysql://u:1/db?socket=/tmp&s3cr3tPW@h", "missing '='"},
};

static void test_bad_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
        expect_fail(bad_cases[i].dsn, bad_cases[i].want);
}

static void test_password_never_in_message(void **state)
{
    (void)state;
    char err[1024];
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        parse_fail(bad_cases[i].dsn, NULL, err, sizeof err);
        assert_no_secret(bad_cases[i].dsn, err);
    }

    /* Also with the password as the user name, and in both. */
    static const char *const more[] = {
        "mysql://" PW "@h:0/db",
        "mysql://" PW ":" PW "@h/db?pool=abc",
        "mysql://" PW "%zz@h/db",
        "mysql://" PW "@[::1",
        "mysql://" PW ":x@/db",
        "mysql://" PW ":/db",
        "mysql://" PW ":" PW "/x@h:0/db?pool=0",
        "mysql://" PW "/" PW "@h?pool=x",
        "mysql://u:" PW "@h/db?unknown=" PW,
        "mysql://u:" PW "@h/db?socket=" PW "%4",
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        parse_fail(more[i], NULL, err, sizeof err);
        assert_no_secret(more[i], err);
    }
}

static void test_null_dsn(void **state)
{
    (void)state;
    expect_fail(NULL, "DSN is NULL");
}

static void test_null_out(void **state)
{
    (void)state;
    char err[128] = "";
    assert_int_equal(amy__dsn_parse("mysql://h", NULL, err, sizeof err), -1);
    assert_true(strlen(err) > 0);
}

static void test_errbuf_null_or_small(void **state)
{
    (void)state;
    amy__dsn d;

    /* No buffer: no crash, same result; successes too. */
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        memset(&d, 0xab, sizeof d);
        assert_int_equal(amy__dsn_parse(bad_cases[i].dsn, &d, NULL, 0), -1);
        assert_true(is_zero(&d));
        memset(&d, 0xab, sizeof d);
        assert_int_equal(amy__dsn_parse(bad_cases[i].dsn, &d, NULL, 100), -1);
        assert_true(is_zero(&d));
    }
    assert_int_equal(amy__dsn_parse(NULL, &d, NULL, 0), -1);
    assert_int_equal(amy__dsn_parse("mysql://h", &d, NULL, 0), 0);
    amy__dsn_clear(&d);

    /* errlen 0: the buffer is not touched. */
    char err[16];
    memset(err, 'x', sizeof err);
    assert_int_equal(amy__dsn_parse("mysql://h?pool=0", &d, err, 0), -1);
    for (size_t i = 0; i < sizeof err; i++)
        assert_int_equal(err[i], 'x');

    /* Small buffer: truncated but NUL-terminated. */
    assert_int_equal(amy__dsn_parse("mysql://h?pool=0", &d, err, 8), -1);
    assert_int_equal(strlen(err), 7);
    assert_int_equal(err[9], 'x');
    assert_int_equal(amy__dsn_parse("mysql://h?pool=0", &d, err, 1), -1);
    assert_string_equal(err, "");

    /* Truncated while hiding: still terminated, still no password. */
    char small[40];
    assert_int_equal(
        amy__dsn_parse("mysql://u:" PW "/x@h", &d, small, sizeof small), -1);
    assert_true(strlen(small) < sizeof small);
    assert_no_secret("truncated", small);
}

static void test_long_and_odd_pieces(void **state)
{
    (void)state;
    char err[512];
    /* A long key is cut short; control bytes are not echoed raw. */
    parse_fail(
        "mysql://h?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaa=1",
        "unknown DSN key 'aaaa", err, sizeof err);
    assert_non_null(strstr(err, "...'"));
    assert_true(strlen(err) < 100);
    parse_fail("mysql://h?pool=1\n2", "invalid value for 'pool': \"1?2\"", err,
               sizeof err);
    assert_null(strchr(err, '\n'));
}

static void test_error_after_allocations(void **state)
{
    (void)state;
    /* Strings already decoded are freed on a later error (ASan checks). */
    expect_fail("mysql://user:pass@host:3306/db?socket=/s&pool=0", "'pool'");
    expect_fail("mysql://user:pass@host/db?socket=/s&socket=/t", "duplicate");
    expect_fail("mysql://user:pass@/db", "missing host");
}

/* Session settings: charset, init (repeatable, in order), max_lifetime_ms,
 * reset_on_release (on unless turned off). */
/* The TLS keys: ssl_mode by name in any case, the rest as strings. */
static void test_tls_keys(void **state)
{
    (void)state;
    amy__dsn d;
    char err[256];
    parse_ok("mysql://h", &d);
    assert_int_equal(d.ssl_mode, AMY__SSL_PREFERRED); /* the default */
    assert_null(d.ssl_ca);
    assert_null(d.ssl_fp);
    amy__dsn_clear(&d);
    const char *modes[] = {"disabled", "PREFERRED", "Required", "verify_ca",
                           "VERIFY_IDENTITY"};
    for (unsigned i = 0; i < 5; i++) {
        char dsn[96];
        snprintf(dsn, sizeof dsn, "mysql://h?ssl_mode=%s", modes[i]);
        parse_ok(dsn, &d);
        assert_int_equal(d.ssl_mode, i);
        amy__dsn_clear(&d);
    }
    parse_ok("mysql://h?ssl_ca=%2Fetc%2Fca%20x.pem&ssl_capath=/d&ssl_cert=/c&"
             "ssl_key=/k&ssl_cipher=TLS_AES_256_GCM_SHA384&tls_version="
             "TLSv1.3&ssl_crl=/crl&ssl_crlpath=/cd&ssl_fp=AB",
             &d);
    assert_string_equal(d.ssl_ca, "/etc/ca x.pem");
    assert_string_equal(d.ssl_capath, "/d");
    assert_string_equal(d.ssl_cert, "/c");
    assert_string_equal(d.ssl_key, "/k");
    assert_string_equal(d.ssl_cipher, "TLS_AES_256_GCM_SHA384");
    assert_string_equal(d.tls_version, "TLSv1.3");
    assert_string_equal(d.ssl_crl, "/crl");
    assert_string_equal(d.ssl_crlpath, "/cd");
    assert_string_equal(d.ssl_fp, "AB"); /* its form: amy_pool_new checks */
    amy__dsn_clear(&d);
    assert_null(d.ssl_ca);
    parse_fail("mysql://h?ssl_mode=on", "invalid value for 'ssl_mode'", err,
               sizeof err);
    assert_non_null(strstr(err, "disabled, preferred, required, verify_ca, "
                                "verify_identity"));
    parse_fail("mysql://h?ssl_mode=", "invalid value for 'ssl_mode'", err,
               sizeof err);
    parse_fail("mysql://h?ssl_mode=required&ssl_mode=disabled",
               "duplicate DSN key 'ssl_mode'", err, sizeof err);
    parse_fail("mysql://h?ssl_ca=", "empty value for 'ssl_ca'", err,
               sizeof err);
}

/* max_result_bytes: a plain byte count, 0 for no limit, 256 MiB when
 * absent; anything but digits, or past SIZE_MAX, is refused. */
static void test_max_result_bytes(void **state)
{
    (void)state;
    amy__dsn d;
    char err[256];
    parse_ok("mysql://h", &d);
    assert_int_equal(d.max_result_bytes, 268435456u);
    assert_int_equal(d.max_result_bytes, AMY__DSN_DEFAULT_MAX_RESULT_BYTES);
    amy__dsn_clear(&d);
    parse_ok("mysql://h?max_result_bytes=0", &d);
    assert_int_equal(d.max_result_bytes, 0);
    amy__dsn_clear(&d);
    parse_ok("mysql://h?pool=2&max_result_bytes=1", &d);
    assert_int_equal(d.max_result_bytes, 1);
    assert_int_equal(d.pool, 2);
    amy__dsn_clear(&d);
    parse_ok("mysql://h?max_result_bytes=18446744073709551615", &d);
    assert_true(d.max_result_bytes == SIZE_MAX);
    amy__dsn_clear(&d);
    parse_ok("mysql://h?max_result_bytes=1073741824", &d);
    assert_int_equal(d.max_result_bytes, 1073741824u);
    amy__dsn_clear(&d);

    parse_fail("mysql://u:" PW "@h?max_result_bytes=256M",
               "invalid value for 'max_result_bytes': \"256M\" (expected an "
               "integer 0..18446744073709551615)",
               err, sizeof err);
    assert_no_secret("max_result_bytes", err);
    parse_fail("mysql://h?max_result_bytes=18446744073709551616",
               "'max_result_bytes'", err, sizeof err);
    parse_fail("mysql://h?max_result_bytes=-1", "'max_result_bytes'", err,
               sizeof err);
    parse_fail("mysql://h?max_result_bytes=", "'max_result_bytes'", err,
               sizeof err);
    parse_fail("mysql://h?max_result_bytes=1&max_result_bytes=2",
               "duplicate DSN key 'max_result_bytes'", err, sizeof err);
}

static void test_session_keys(void **state)
{
    (void)state;
    amy__dsn d;
    char err[256];
    parse_ok("mysql://h", &d);
    assert_null(d.charset);
    assert_int_equal(d.ninit, 0);
    assert_null(d.init);
    assert_int_equal(d.max_lifetime_ms, 0);
    assert_int_equal(d.reset_on_release, 1);
    amy__dsn_clear(&d);

    parse_ok("mysql://h?charset=latin1&init=SET%20time_zone%3D%27%2B00:00%27"
             "&pool=2&init=SELECT%201&init=SET%20@x%3D1"
             "&max_lifetime_ms=2592000000&reset_on_release=0",
             &d);
    assert_string_equal(d.charset, "latin1");
    assert_int_equal(d.ninit, 3);
    assert_string_equal(d.init[0], "SET time_zone='+00:00'");
    assert_string_equal(d.init[1], "SELECT 1");
    assert_string_equal(d.init[2], "SET @x=1");
    assert_int_equal(d.pool, 2);
    assert_int_equal(d.max_lifetime_ms, 2592000000u);
    assert_int_equal(d.reset_on_release, 0);
    amy__dsn_clear(&d);
    assert_int_equal(d.ninit, 0);
    assert_null(d.init);

    parse_fail("mysql://h?init=", "empty value for 'init'", err, sizeof err);
    parse_fail("mysql://h?init=SELECT%201&init=", "empty value for 'init'", err,
               sizeof err);
    parse_fail("mysql://h?init=%zz", "bad percent-escape", err, sizeof err);
    parse_fail("mysql://h?charset=", "empty value for 'charset'", err,
               sizeof err);
    parse_fail("mysql://h?charset=a&charset=b", "duplicate DSN key 'charset'",
               err, sizeof err);
    parse_fail("mysql://h?reset_on_release=2", "'reset_on_release'", err,
               sizeof err);
    parse_fail("mysql://h?max_lifetime_ms=2592000001", "'max_lifetime_ms'", err,
               sizeof err);

    /* At most AMY__DSN_MAX_INIT init keys; the ones before are freed. */
    char big[64 * 16 + 64] = "mysql://h?";
    for (unsigned i = 0; i <= AMY__DSN_MAX_INIT; i++)
        strcat(big, i ? "&init=SELECT%201" : "init=SELECT%201");
    parse_fail(big, "more than 64 'init' keys", err, sizeof err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_form),
        cmocka_unit_test(test_key_order_free),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_no_user),
        cmocka_unit_test(test_user_without_password),
        cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_raw_separators_in_password),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_host_list),
        cmocka_unit_test(test_socket_only),
        cmocka_unit_test(test_schemes),
        cmocka_unit_test(test_empty_database),
        cmocka_unit_test(test_number_bounds),
        cmocka_unit_test(test_session_keys),
        cmocka_unit_test(test_max_result_bytes),
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_tls_keys),
        cmocka_unit_test(test_bad_cases),
        cmocka_unit_test(test_password_never_in_message),
        cmocka_unit_test(test_null_dsn),
        cmocka_unit_test(test_null_out),
        cmocka_unit_test(test_errbuf_null_or_small),
        cmocka_unit_test(test_long_and_odd_pieces),
        cmocka_unit_test(test_error_after_allocations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
