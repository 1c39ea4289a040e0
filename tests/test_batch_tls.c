/*
 * Tests for amysql-batch's TLS options: tools/tls.c (the options, their
 * values, the mode each source implies) and, through tools/connect.c, the
 * DSN they give with option files, a DSN and the command line together.
 * Every DSN is compared whole. No server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connect.h"
#include "conninfo.h"
#include "tls.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static char tmpdir[64];

static int setup_dir(void **state)
{
    unsetenv("AMYSQL_DSN");
    unsetenv("MYSQL_PWD");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/amy-test-batch-tls.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* An option file with text (under tmpdir); returns its path (static). */
static const char *cnf_file(const char *text)
{
    static char path[256];
    static int k;
    snprintf(path, sizeof path, "%s/%d.cnf", tmpdir, k++);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

enum { OPT_TLS = 256 };
static const struct option long_options[] = {
    AMY__CLI_TLS_LONG_OPTIONS(OPT_TLS),
    {"host", required_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/*
 * Reads a command line (NULL-terminated, without the program name) into t
 * as main.c does: getopt_long with the same TLS entries, each handed to
 * amy__cli_tls_option. Returns 0, or -1 with the message main.c would
 * print after "amysql-batch: " in err (or "getopt" when getopt_long itself
 * refused the option).
 */
static int parse_cmdline(amy__cli_tls *t, const char *const *args, char *err,
                         size_t errlen)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "amysql-batch";
    for (; *args; args++) {
        assert_true(argc < 31);
        argv[argc++] = (char *)*args;
    }
    argv[argc] = NULL;
    optind = 0; /* glibc: start over, as for a new program */
    opterr = 0;
    int c, longindex = 0;
    char msg[256];
    while ((c = getopt_long(argc, argv, "h:", long_options, &longindex)) !=
           -1) {
        if (c >= OPT_TLS && c < OPT_TLS + AMY__CLI_TLS_NOPTIONS) {
            if (amy__cli_tls_option(t, long_options[longindex].name, optarg,
                                    msg, sizeof msg) < 0) {
                snprintf(err, errlen, "--%s", msg);
                return -1;
            }
        } else if (c != 'h') {
            snprintf(err, errlen, "getopt");
            return -1;
        }
    }
    return 0;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_ARGS   ((const char *const[]){NULL})

/*
 * The DSN amysql-batch would connect with: option file text cnf (NULL: no
 * option file at all), DSN argument dsn (NULL: none) and the command line
 * args. NULL with the message in err when something is refused.
 */
static char *dsn_for(const char *cnf, const char *dsn, const char *const *args,
                     char *err, size_t errlen)
{
    amy__cli_connect_args a;
    memset(&a, 0, sizeof a);
    a.connect_timeout_ms = -1;
    if (cnf)
        a.defaults_file = cnf_file(cnf);
    else
        a.no_defaults = 1;
    a.dsn = dsn;
    amy__cli_tls t;
    amy__cli_tls_init(&t);
    a.tls = &t;
    char *out = NULL;
    if (parse_cmdline(&t, args, err, errlen) == 0)
        out = amy__cli_connect_dsn(&a, NULL, err, errlen);
    amy__cli_tls_clear(&t);
    return out;
}

static void expect(const char *cnf, const char *dsn, const char *const *args,
                   const char *want)
{
    char err[512] = "";
    char *out = dsn_for(cnf, dsn, args, err, sizeof err);
    if (!out)
        print_error("refused: %s\n", err);
    assert_non_null(out);
    if (strcmp(out, want) != 0)
        print_error("got  %s\nwant %s\n", out, want);
    assert_string_equal(out, want);
    free(out);
}

/* Refused, with a message containing part (and never the password). */
static void expect_error(const char *cnf, const char *dsn,
                         const char *const *args, const char *part)
{
    char err[512] = "";
    char *out = dsn_for(cnf, dsn, args, err, sizeof err);
    if (out)
        print_error("accepted: %s\n", out);
    assert_null(out);
    if (!strstr(err, part))
        print_error("'%s' lacks '%s'\n", err, part);
    assert_non_null(strstr(err, part));
    assert_null(strstr(err, "s3cret"));
}

/* ------------------------------------------------------------------------ */
/* amy__cli_tls_option                                                      */
/* ------------------------------------------------------------------------ */

static void test_option_names(void **state)
{
    amy__cli_tls t;
    amy__cli_tls_init(&t);
    char err[256];
    /* Not TLS options: untouched, 0. */
    assert_int_equal(amy__cli_tls_option(&t, "host", "h", err, sizeof err), 0);
    assert_int_equal(amy__cli_tls_option(&t, "ssl-fplist", "x", err, 256), 0);
    assert_int_equal(amy__cli_tls_option(&t, "skip-ssl-ca", NULL, err, 256), 0);
    assert_int_equal(amy__cli_tls_option(&t, "sslmode", "x", err, 256), 0);
    assert_int_equal(amy__cli_tls_option(&t, "SSL", NULL, err, 256), 0);
    assert_int_equal(t.use, -1);
    assert_int_equal(t.verify, -1);
    assert_int_equal(t.mode, AMY__CLI_SSL_UNSET);

    static const struct {
        const char *name, *value;
        int key;
        const char *stored;
    } v[] = {
        {"ssl-ca", "/a b/ca.pem", AMY__CLI_SSL_CA, "/a b/ca.pem"},
        {"ssl-capath", "certs", AMY__CLI_SSL_CAPATH, "certs"},
        {"ssl-cert", "~/c.pem", AMY__CLI_SSL_CERT, "~/c.pem"}, /* as written */
        {"ssl-key", "k.pem", AMY__CLI_SSL_KEY, "k.pem"},
        {"ssl-cipher", "ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA",
         AMY__CLI_SSL_CIPHER, "ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA"},
        {"tls-version", "tlsv1.2, TLSV1.3", AMY__CLI_TLS_VERSION,
         "TLSv1.2,TLSv1.3"},
        {"ssl-crl", "r.pem", AMY__CLI_SSL_CRL, "r.pem"},
        {"ssl-crlpath", "crls", AMY__CLI_SSL_CRLPATH, "crls"},
        {"ssl-fp", "0123456789abcdefABCDEF0123456789abcdef01", AMY__CLI_SSL_FP,
         "0123456789abcdefABCDEF0123456789abcdef01"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        amy__cli_tls_clear(&t);
        assert_int_equal(
            amy__cli_tls_option(&t, v[i].name, v[i].value, err, sizeof err), 1);
        assert_string_equal(t.value[v[i].key], v[i].stored);
        assert_int_equal(t.use, 1); /* each implies TLS */
        assert_int_equal(t.verify, -1);
    }
    /* The last one given wins. */
    assert_int_equal(amy__cli_tls_option(&t, "ssl-fp",
                                         "01:23:45:67:89:AB:CD:EF:01:23:45:67:"
                                         "89:AB:CD:EF:01:23:45:67",
                                         err, sizeof err),
                     1);
    assert_string_equal(t.value[AMY__CLI_SSL_FP],
                        "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:"
                        "23:45:67");
    assert_int_equal(amy__cli_tls_option(&t, "ssl-mode", "Verify_CA", err, 256),
                     1);
    assert_int_equal(t.mode, AMY__CLI_SSL_VERIFY_CA);
    assert_int_equal(amy__cli_tls_option(&t, "ssl-mode", "PREFERRED", err, 256),
                     1);
    assert_int_equal(t.mode, AMY__CLI_SSL_PREFERRED);
    amy__cli_tls_clear(&t);
}

static void test_option_booleans(void **state)
{
    static const struct {
        const char *name, *value;
        int use, verify;
    } b[] = {
        {"ssl", NULL, 1, -1},
        {"ssl", "1", 1, -1},
        {"ssl", "ON", 1, -1},
        {"ssl", "true", 1, -1},
        {"ssl", "0", 0, -1},
        {"ssl", "off", 0, -1},
        {"ssl", "False", 0, -1},
        {"skip-ssl", NULL, 0, -1},
        {"disable-ssl", NULL, 0, -1},
        {"enable-ssl", NULL, 1, -1},
        {"ssl-verify-server-cert", NULL, 1, 1},
        {"ssl-verify-server-cert", "1", 1, 1},
        {"ssl-verify-server-cert", "0", -1, 0},
        {"skip-ssl-verify-server-cert", NULL, -1, 0},
        {"disable-ssl-verify-server-cert", NULL, -1, 0},
        {"enable-ssl-verify-server-cert", NULL, 1, 1},
    };
    char err[256];
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        amy__cli_tls t;
        amy__cli_tls_init(&t);
        assert_int_equal(
            amy__cli_tls_option(&t, b[i].name, b[i].value, err, sizeof err), 1);
        if (t.use != b[i].use || t.verify != b[i].verify)
            print_error("%s=%s\n", b[i].name, b[i].value ? b[i].value : "");
        assert_int_equal(t.use, b[i].use);
        assert_int_equal(t.verify, b[i].verify);
        assert_int_equal(t.mode, AMY__CLI_SSL_UNSET);
    }
}

static void expect_option_error(const char *name, const char *value,
                                const char *want)
{
    amy__cli_tls t;
    amy__cli_tls_init(&t);
    char err[256] = "";
    assert_int_equal(amy__cli_tls_option(&t, name, value, err, sizeof err), -1);
    assert_string_equal(err, want);
    amy__cli_tls_clear(&t);
}

static void test_option_errors(void **state)
{
    expect_option_error("ssl-mode", "bogus",
                        "ssl-mode 'bogus': want DISABLED, PREFERRED, REQUIRED, "
                        "VERIFY_CA or VERIFY_IDENTITY");
    expect_option_error("ssl-mode", "",
                        "ssl-mode '': want DISABLED, PREFERRED, "
                        "REQUIRED, VERIFY_CA or "
                        "VERIFY_IDENTITY");
    expect_option_error("ssl-mode", "verify-ca",
                        "ssl-mode 'verify-ca': want DISABLED, PREFERRED, "
                        "REQUIRED, VERIFY_CA or VERIFY_IDENTITY");
    expect_option_error("ssl-mode", NULL, "ssl-mode needs a value");
    expect_option_error("ssl-ca", "", "ssl-ca: empty file name");
    expect_option_error("ssl-capath", "", "ssl-capath: empty directory name");
    expect_option_error("ssl-cert", "", "ssl-cert: empty file name");
    expect_option_error("ssl-key", "", "ssl-key: empty file name");
    expect_option_error("ssl-crl", "", "ssl-crl: empty file name");
    expect_option_error("ssl-crlpath", "", "ssl-crlpath: empty directory name");
    expect_option_error("ssl-cipher", "", "ssl-cipher: empty cipher list");
    expect_option_error("tls-version", "",
                        "tls-version: empty TLS version "
                        "list");
    expect_option_error("ssl-fp", "", "ssl-fp: empty fingerprint");
    expect_option_error("ssl-ca", NULL, "ssl-ca needs a value");
    expect_option_error("tls-version", "TLSv1.4",
                        "tls-version 'TLSv1.4': want TLSv1.0, TLSv1.1, "
                        "TLSv1.2 or TLSv1.3, or several separated by commas");
    expect_option_error("tls-version", "TLSv1.2,",
                        "tls-version 'TLSv1.2,': want TLSv1.0, TLSv1.1, "
                        "TLSv1.2 or TLSv1.3, or several separated by commas");
    expect_option_error("tls-version", "TLSv1.2 TLSv1.3",
                        "tls-version 'TLSv1.2 TLSv1.3': want TLSv1.0, TLSv1.1, "
                        "TLSv1.2 or TLSv1.3, or several separated by commas");
    expect_option_error("ssl-fp", "0123456789abcdef0123456789abcdef0123456",
                        "ssl-fp '0123456789abcdef0123456789abcdef0123456': "
                        "want the server certificate's SHA-1 fingerprint, 40 "
                        "hex digits (colons allowed)");
    expect_option_error("ssl-fp", "0123456789abcdef0123456789abcdef0123456g",
                        "ssl-fp '0123456789abcdef0123456789abcdef0123456g': "
                        "want the server certificate's SHA-1 fingerprint, 40 "
                        "hex digits (colons allowed)");
    expect_option_error("ssl", "yes",
                        "ssl 'yes': want 1 or 0 (or on/off, true/false)");
    expect_option_error("ssl", "",
                        "ssl '': want 1 or 0 (or on/off, "
                        "true/false)");
    expect_option_error("ssl-verify-server-cert", "2",
                        "ssl-verify-server-cert '2': want 1 or 0 (or on/off, "
                        "true/false)");
    expect_option_error("skip-ssl", "1", "skip-ssl takes no value");
    expect_option_error("disable-ssl-verify-server-cert", "0",
                        "disable-ssl-verify-server-cert takes no value");
}

/* ------------------------------------------------------------------------ */
/* The command line alone                                                   */
/* ------------------------------------------------------------------------ */

static void test_no_tls_option(void **state)
{
    /* Nothing added: amysql's default (preferred) applies. */
    expect(NULL, NULL, NO_ARGS, "mysql://localhost");
    expect(NULL, "mysql://u@h/db?pool=2", ARGS("-h", "x"),
           "mysql://u@h/db?pool=2"); /* (-h is main.c's, not read here) */
    expect("[client]\nuser=u\n[mysqld]\nssl-ca=/server/ca.pem\n", NULL, NO_ARGS,
           "mysql://u@localhost");
}

static void test_cmdline_implied_modes(void **state)
{
    expect(NULL, NULL, ARGS("--ssl"), "mysql://localhost?ssl_mode=required");
    expect(NULL, NULL, ARGS("--ssl=1"), "mysql://localhost?ssl_mode=required");
    expect(NULL, NULL, ARGS("--enable-ssl"),
           "mysql://localhost?ssl_mode=required");
    expect(NULL, NULL, ARGS("--skip-ssl"),
           "mysql://localhost?ssl_mode=disabled");
    expect(NULL, NULL, ARGS("--ssl=0"), "mysql://localhost?ssl_mode=disabled");
    expect(NULL, NULL, ARGS("--disable-ssl"),
           "mysql://localhost?ssl_mode=disabled");
    expect(NULL, NULL, ARGS("--ssl-verify-server-cert"),
           "mysql://localhost?ssl_mode=verify_identity");
    expect(NULL, NULL, ARGS("--ssl-verify-server-cert=1"),
           "mysql://localhost?ssl_mode=verify_identity");
    /* Turning verification off asks for nothing by itself. */
    expect(NULL, NULL, ARGS("--ssl-verify-server-cert=0"), "mysql://localhost");
    expect(NULL, NULL, ARGS("--skip-ssl-verify-server-cert"),
           "mysql://localhost");
    expect(NULL, NULL, ARGS("--ssl", "--skip-ssl-verify-server-cert"),
           "mysql://localhost?ssl_mode=required");
    expect(NULL, NULL,
           ARGS("--ssl-verify-server-cert", "--skip-ssl-verify-server-cert"),
           "mysql://localhost?ssl_mode=required");
    /* Every value option asks for TLS. */
    static const char *const each[] = {
        "--ssl-ca=a",
        "--ssl-capath=a",
        "--ssl-cert=a",
        "--ssl-key=a",
        "--ssl-cipher=a",
        "--tls-version=TLSv1.3",
        "--ssl-crl=a",
        "--ssl-crlpath=a",
        "--ssl-fp=0000000000000000000000000000000000000000",
    };
    static const char *const want[] = {
        "ssl_ca=a",
        "ssl_capath=a",
        "ssl_cert=a",
        "ssl_key=a",
        "ssl_cipher=a",
        "tls_version=TLSv1.3",
        "ssl_crl=a",
        "ssl_crlpath=a",
        "ssl_fp=0000000000000000000000000000000000000000",
    };
    for (size_t i = 0; i < sizeof each / sizeof each[0]; i++) {
        char w[160];
        snprintf(w, sizeof w, "mysql://localhost?ssl_mode=required&%s",
                 want[i]);
        expect(NULL, NULL, ARGS(each[i]), w);
    }
    /* A value option with verification: verify_identity, not lowered. */
    expect(NULL, NULL, ARGS("--ssl-verify-server-cert", "--ssl-ca=ca.pem"),
           "mysql://localhost?ssl_mode=verify_identity&ssl_ca=ca.pem");
    expect(NULL, NULL, ARGS("--ssl-ca=ca.pem", "--ssl-verify-server-cert"),
           "mysql://localhost?ssl_mode=verify_identity&ssl_ca=ca.pem");
    /* The last of --ssl and --skip-ssl wins, as in the mariadb client... */
    expect(NULL, NULL, ARGS("--ssl", "--skip-ssl"),
           "mysql://localhost?ssl_mode=disabled");
    expect(NULL, NULL, ARGS("--skip-ssl", "--ssl-ca=ca.pem"),
           "mysql://localhost?ssl_mode=required&ssl_ca=ca.pem");
    expect(NULL, NULL, ARGS("--ssl-verify-server-cert", "--skip-ssl", "--ssl"),
           "mysql://localhost?ssl_mode=verify_identity");
    /* ...and without TLS the other TLS keys are dropped. */
    expect(NULL, NULL, ARGS("--ssl-ca=ca.pem", "--ssl-cipher=x", "--skip-ssl"),
           "mysql://localhost?ssl_mode=disabled");
}

static void test_cmdline_explicit_mode_wins(void **state)
{
    static const char *const modes[][2] = {
        {"DISABLED", "disabled"},
        {"preferred", "preferred"},
        {"Required", "required"},
        {"VERIFY_CA", "verify_ca"},
        {"verify_identity", "verify_identity"},
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char opt[64], w[96];
        snprintf(opt, sizeof opt, "--ssl-mode=%s", modes[i][0]);
        snprintf(w, sizeof w, "mysql://localhost?ssl_mode=%s", modes[i][1]);
        expect(NULL, NULL, ARGS(opt), w);
    }
    /* Before or after the options that imply a mode: it wins. */
    expect(NULL, NULL, ARGS("--ssl-mode=PREFERRED", "--ssl"),
           "mysql://localhost?ssl_mode=preferred");
    expect(NULL, NULL, ARGS("--ssl", "--ssl-mode=PREFERRED"),
           "mysql://localhost?ssl_mode=preferred");
    expect(NULL, NULL, ARGS("--ssl-mode=VERIFY_CA", "--ssl-ca=ca.pem"),
           "mysql://localhost?ssl_mode=verify_ca&ssl_ca=ca.pem");
    expect(NULL, NULL, ARGS("--ssl-mode=REQUIRED", "--ssl-verify-server-cert"),
           "mysql://localhost?ssl_mode=required");
    expect(NULL, NULL, ARGS("--skip-ssl", "--ssl-mode=verify_identity"),
           "mysql://localhost?ssl_mode=verify_identity");
    expect(NULL, NULL, ARGS("--ssl-mode=disabled", "--ssl-ca=ca.pem"),
           "mysql://localhost?ssl_mode=disabled");
    /* The last --ssl-mode wins. */
    expect(NULL, NULL, ARGS("--ssl-mode=disabled", "--ssl-mode=verify_ca"),
           "mysql://localhost?ssl_mode=verify_ca");
}

static void test_cmdline_all_values_encoded(void **state)
{
    /* Each value percent-encoded, the keys in a fixed order after the
     * others, whatever order they were given in. */
    expect(NULL, "mysql://u:s3cret@db.example:3307/shop?pool=2",
           ARGS("--ssl-fp=AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:"
                "CD:EF:01",
                "--ssl-crlpath=/etc/ssl/crl dir", "--ssl-crl=/etc/ssl/crl.pem",
                "--tls-version=TLSv1.2,TLSv1.3",
                "--ssl-cipher=ECDHE-ECDSA-AES256-GCM-SHA384:!aNULL",
                "--ssl-key=/home/me/my key.pem",
                "--ssl-cert=/home/me/ça&cert=1.pem",
                "--ssl-capath=/etc/ssl/certs", "--ssl-ca=/tmp/a b/100%?#ca.pem",
                "--ssl-mode=VERIFY_CA"),
           "mysql://u:s3cret@db.example:3307/shop?pool=2&ssl_mode=verify_ca&"
           "ssl_ca=%2Ftmp%2Fa%20b%2F100%25%3F%23ca.pem&"
           "ssl_capath=%2Fetc%2Fssl%2Fcerts&"
           "ssl_cert=%2Fhome%2Fme%2F%C3%A7a%26cert%3D1.pem&"
           "ssl_key=%2Fhome%2Fme%2Fmy%20key.pem&"
           "ssl_cipher=ECDHE-ECDSA-AES256-GCM-SHA384%3A%21aNULL&"
           "tls_version=TLSv1.2%2CTLSv1.3&ssl_crl=%2Fetc%2Fssl%2Fcrl.pem&"
           "ssl_crlpath=%2Fetc%2Fssl%2Fcrl%20dir&"
           "ssl_fp=AB%3ACD%3AEF%3A01%3A23%3A45%3A67%3A89%3AAB%3ACD%3AEF%3A01%"
           "3A23%3A45%3A67%3A89%3AAB%3ACD%3AEF%3A01");
    /* Given twice on the command line: once in the DSN, the last value. */
    expect(NULL, NULL, ARGS("--ssl-ca=first", "--ssl-ca=second"),
           "mysql://localhost?ssl_mode=required&ssl_ca=second");
}

static void test_cmdline_errors(void **state)
{
    expect_error(NULL, NULL, ARGS("--ssl-mode=bogus"),
                 "--ssl-mode 'bogus': want DISABLED, PREFERRED, REQUIRED, "
                 "VERIFY_CA or VERIFY_IDENTITY");
    expect_error(NULL, NULL, ARGS("--ssl-ca="), "--ssl-ca: empty file name");
    expect_error(NULL, NULL, ARGS("--ssl-capath", ""),
                 "--ssl-capath: empty directory name");
    expect_error(NULL, NULL, ARGS("--ssl=maybe"), "--ssl 'maybe': want 1 or 0");
    expect_error(NULL, NULL, ARGS("--tls-version=SSLv3"),
                 "--tls-version 'SSLv3'");
    expect_error(NULL, NULL, ARGS("--ssl-fp=12:34"), "--ssl-fp '12:34'");
    /* getopt_long's own refusals: no value after skip-, a value needed. */
    expect_error(NULL, NULL, ARGS("--skip-ssl=1"), "getopt");
    expect_error(NULL, NULL, ARGS("--ssl-mode"), "getopt");
    /* An abbreviation that fits several options is refused, not taken
     * for the first (each entry has its own value: see tls.h). */
    expect_error(NULL, NULL, ARGS("--ssl-c=x"), "getopt");
    expect_error(NULL, NULL, ARGS("--ssl-crl"), "getopt"); /* no value */
    expect_error(NULL, NULL, ARGS("--ssl-cr=x"), "getopt");
    expect_error(NULL, NULL, ARGS("--skip-s"), "getopt");
    /* A unique abbreviation is the option, as for every long option. */
    expect(NULL, NULL, ARGS("--ssl-verify"),
           "mysql://localhost?ssl_mode=verify_identity");
}

/* ------------------------------------------------------------------------ */
/* Option files                                                             */
/* ------------------------------------------------------------------------ */

static void test_cnf_only(void **state)
{
    expect("[client]\nssl\n", NULL, NO_ARGS,
           "mysql://localhost?ssl_mode=required");
    expect("[client]\nssl=1\n", NULL, NO_ARGS,
           "mysql://localhost?ssl_mode=required");
    expect("[client]\nssl = 0\n", NULL, NO_ARGS,
           "mysql://localhost?ssl_mode=disabled");
    expect("[client]\nskip-ssl\n", NULL, NO_ARGS,
           "mysql://localhost?ssl_mode=disabled");
    expect("[client]\ndisable_ssl\n", NULL, NO_ARGS,
           "mysql://localhost?ssl_mode=disabled");
    expect("[client]\nssl-verify-server-cert\n", NULL, NO_ARGS,
           "mysql://localhost?ssl_mode=verify_identity");
    expect("[client]\nssl_verify_server_cert=0\n", NULL, NO_ARGS,
           "mysql://localhost");
    expect("[client]\nssl-verify-server-cert\nskip-ssl-verify-server-cert\n",
           NULL, NO_ARGS, "mysql://localhost?ssl_mode=required");
    expect("[client]\nssl-mode=VERIFY_CA\n", NULL, NO_ARGS,
           "mysql://localhost?ssl_mode=verify_ca");
    /* '_' and '-' alike, "loose-" ignored, quotes and escapes as for every
     * value, paths as written (no ~ expansion), every client group. */
    expect("[client]\n"
           "ssl_ca = \"/etc/my ca/ca.pem\"   # the CA\n"
           "[client-server]\n"
           "loose-ssl-cert=~/cert.pem\n"
           "[client-mariadb]\n"
           "ssl_key='k\\\\ey.pem'\n"
           "[amysql-batch]\n"
           "tls_version=TLSv1.3\n"
           "[mysqld]\n"
           "ssl-ca=/server/ca.pem\n"
           "ssl-mode=disabled\n",
           NULL, NO_ARGS,
           "mysql://localhost?ssl_mode=required&ssl_ca=%2Fetc%2Fmy%20ca%2Fca."
           "pem&ssl_cert=~%2Fcert.pem&ssl_key=k%5Cey.pem&tls_version=TLSv1.3");
    /* Within the files, an explicit mode wins over what the others imply. */
    expect("[client]\nssl-mode=preferred\nssl-ca=ca.pem\n"
           "ssl-verify-server-cert\n",
           NULL, NO_ARGS, "mysql://localhost?ssl_mode=preferred&ssl_ca=ca.pem");
    /* The later file line wins. */
    expect("[client]\nssl-ca=a\n[amysql-batch]\nssl-ca=b\nskip-ssl\nssl\n",
           NULL, NO_ARGS, "mysql://localhost?ssl_mode=required&ssl_ca=b");
}

static void test_cnf_errors(void **state)
{
    expect_error("[client]\nuser=u\nssl-mode = bogus\n", NULL, NO_ARGS,
                 ".cnf:3: ssl-mode 'bogus': want DISABLED, PREFERRED, "
                 "REQUIRED, VERIFY_CA or VERIFY_IDENTITY");
    expect_error("[client]\nssl-ca=\n", NULL, NO_ARGS,
                 ".cnf:2: ssl-ca: empty file name");
    expect_error("[client]\nssl_capath\n", NULL, NO_ARGS,
                 ".cnf:2: ssl-capath needs a value");
    expect_error("[client]\nssl-mode\n", NULL, NO_ARGS,
                 ".cnf:2: ssl-mode needs a value");
    expect_error("[client]\nssl=maybe\n", NULL, NO_ARGS,
                 ".cnf:2: ssl 'maybe': want 1 or 0");
    expect_error("[client]\nskip-ssl=1\n", NULL, NO_ARGS,
                 ".cnf:2: skip-ssl takes no value");
    /* The command line cannot save a bad file: it is read first. */
    expect_error("[client]\nssl-mode=bogus\n", NULL,
                 ARGS("--ssl-mode=required"), ".cnf:2: ssl-mode 'bogus'");
    /* Other programs' groups are not checked. */
    expect("[mysqld]\nssl-mode=bogus\nssl-ca=\n", NULL, NO_ARGS,
           "mysql://localhost");
}

/* ------------------------------------------------------------------------ */
/* Sources together                                                         */
/* ------------------------------------------------------------------------ */

static void test_dsn_and_cmdline(void **state)
{
    const char *dsn = "mysql://u:s3cret@h/db?ssl_mode=verify_ca&ssl_ca=%2Fdsn%"
                      "2Fca.pem&ssl_cert=dsn.pem&pool=3";
    /* The DSN alone: its keys kept, written once. */
    expect(NULL, dsn, NO_ARGS,
           "mysql://u:s3cret@h/db?pool=3&ssl_mode=verify_ca&ssl_ca=%2Fdsn%"
           "2Fca.pem&ssl_cert=dsn.pem");
    /* The command line replaces the keys it gives, never adds a second. */
    expect(NULL, dsn, ARGS("--ssl-mode=REQUIRED", "--ssl-ca=/cli/ca.pem"),
           "mysql://u:s3cret@h/db?pool=3&ssl_mode=required&ssl_ca=%2Fcli%"
           "2Fca.pem&ssl_cert=dsn.pem");
    expect(NULL, dsn, ARGS("--ssl-mode=verify_identity"),
           "mysql://u:s3cret@h/db?pool=3&ssl_mode=verify_identity&ssl_ca=%"
           "2Fdsn%2Fca.pem&ssl_cert=dsn.pem");
    /* An implied mode replaces the DSN's only to raise it... */
    expect(NULL, dsn, ARGS("--ssl"),
           "mysql://u:s3cret@h/db?pool=3&ssl_mode=verify_ca&ssl_ca=%2Fdsn%"
           "2Fca.pem&ssl_cert=dsn.pem");
    expect(NULL, dsn, ARGS("--ssl-key=k.pem"),
           "mysql://u:s3cret@h/db?pool=3&ssl_mode=verify_ca&ssl_ca=%2Fdsn%"
           "2Fca.pem&ssl_cert=dsn.pem&ssl_key=k.pem");
    expect(NULL, dsn, ARGS("--ssl-verify-server-cert"),
           "mysql://u:s3cret@h/db?pool=3&ssl_mode=verify_identity&ssl_ca=%"
           "2Fdsn%2Fca.pem&ssl_cert=dsn.pem");
    expect(NULL, "mysql://h?ssl_mode=preferred", ARGS("--ssl"),
           "mysql://h?ssl_mode=required");
    expect(NULL, "mysql://h?ssl_mode=disabled", ARGS("--ssl-ca=ca.pem"),
           "mysql://h?ssl_mode=required&ssl_ca=ca.pem");
    /* ...or to turn TLS off, as asked. */
    expect(NULL, dsn, ARGS("--skip-ssl"),
           "mysql://u:s3cret@h/db?pool=3&ssl_mode=disabled");
    /* The DSN's TLS values need no mode of the tool's: amysql's default. */
    expect(NULL, "mysql://h?ssl_ca=ca.pem", NO_ARGS, "mysql://h?ssl_ca=ca.pem");
    expect(NULL, "mysql://h?ssl_ca=ca.pem", ARGS("--ssl-ca=other.pem"),
           "mysql://h?ssl_mode=required&ssl_ca=other.pem");
    /* AMYSQL_DSN is a DSN like the argument. */
    setenv("AMYSQL_DSN", "mysql://h?ssl_mode=verify_ca&ssl_ca=env.pem", 1);
    expect(NULL, NULL, ARGS("--ssl-mode=required"),
           "mysql://h?ssl_mode=required&ssl_ca=env.pem");
    unsetenv("AMYSQL_DSN");
    /* A bad DSN mode is refused even when the command line replaces it,
     * as any bad DSN is. */
    expect_error(NULL, "mysql://u:s3cret@h?ssl_mode=bogus",
                 ARGS("--ssl-mode=required"),
                 "bad DSN: ssl_mode must be disabled, preferred, required, "
                 "verify_ca or verify_identity");
}

static void test_files_dsn_cmdline(void **state)
{
    const char *cnf = "[client]\n"
                      "user=u\n"
                      "ssl-mode=VERIFY_IDENTITY\n"
                      "ssl-ca=/file/ca.pem\n"
                      "ssl-cert=/file/cert.pem\n"
                      "ssl-key=/file/key.pem\n";
    /* The files alone. */
    expect(cnf, NULL, NO_ARGS,
           "mysql://u@localhost?ssl_mode=verify_identity&ssl_ca=%2Ffile%"
           "2Fca.pem&ssl_cert=%2Ffile%2Fcert.pem&ssl_key=%2Ffile%2Fkey.pem");
    /* The DSN beats the files, key by key, mode included. */
    expect(cnf, "mysql://h?ssl_mode=verify_ca&ssl_ca=%2Fdsn.pem", NO_ARGS,
           "mysql://u@h?ssl_mode=verify_ca&ssl_ca=%2Fdsn.pem&ssl_cert=%2Ffile%"
           "2Fcert.pem&ssl_key=%2Ffile%2Fkey.pem");
    /* The command line beats both. */
    expect(cnf, "mysql://h?ssl_mode=verify_ca&ssl_ca=%2Fdsn.pem",
           ARGS("--ssl-key=/cli/key.pem", "--ssl-mode=required"),
           "mysql://u@h?ssl_mode=required&ssl_ca=%2Fdsn.pem&ssl_cert=%2Ffile%"
           "2Fcert.pem&ssl_key=%2Fcli%2Fkey.pem");
    /* A file's explicit mode is not lowered by what the command line
     * implies (adding a CA does not drop the host check)... */
    expect(cnf, NULL, ARGS("--ssl-ca=/cli/ca.pem"),
           "mysql://u@localhost?ssl_mode=verify_identity&ssl_ca=%2Fcli%"
           "2Fca.pem&ssl_cert=%2Ffile%2Fcert.pem&ssl_key=%2Ffile%2Fkey.pem");
    /* ...but --skip-ssl there turns TLS off, dropping the files' keys. */
    expect(cnf, NULL, ARGS("--skip-ssl"),
           "mysql://u@localhost?ssl_mode=disabled");
    /* Files that imply a mode, with a command line that sets one. */
    expect("[client]\nssl-ca=/ca.pem\nssl-verify-server-cert\n", NULL,
           ARGS("--ssl-mode=preferred"),
           "mysql://localhost?ssl_mode=preferred&ssl_ca=%2Fca.pem");
    /* Implied settings of files and command line combine, the command
     * line's later: verification from the file, TLS kept on. */
    expect("[client]\nssl-verify-server-cert\n", NULL, ARGS("--ssl-ca=ca.pem"),
           "mysql://localhost?ssl_mode=verify_identity&ssl_ca=ca.pem");
    expect("[client]\nssl-verify-server-cert\n", NULL,
           ARGS("--skip-ssl-verify-server-cert"),
           "mysql://localhost?ssl_mode=required");
    expect("[client]\nskip-ssl\n", NULL, ARGS("--ssl"),
           "mysql://localhost?ssl_mode=required");
    expect("[client]\nssl\n", NULL, ARGS("--skip-ssl"),
           "mysql://localhost?ssl_mode=disabled");
    expect("[client]\nskip-ssl\n", NULL, ARGS("--ssl-verify-server-cert"),
           "mysql://localhost?ssl_mode=verify_identity");
    /* A file's explicit disabled, a command-line --ssl: TLS, as asked. */
    expect("[client]\nssl-mode=disabled\n", NULL, ARGS("--ssl"),
           "mysql://localhost?ssl_mode=required");
    /* The DSN's explicit mode outranks the files' implied ones. */
    expect("[client]\nssl-verify-server-cert\n", "mysql://h?ssl_mode=required",
           NO_ARGS, "mysql://h?ssl_mode=required");
    expect("[client]\nskip-ssl\n", "mysql://h?ssl_mode=preferred", NO_ARGS,
           "mysql://h?ssl_mode=preferred");
    /* No duplicate whichever sources give a key. */
    expect("[client]\nssl-ca=f\nssl-mode=required\n",
           "mysql://h?ssl_ca=d&ssl_mode=required",
           ARGS("--ssl-ca=c", "--ssl-mode=required"),
           "mysql://h?ssl_mode=required&ssl_ca=c");
}

/* ------------------------------------------------------------------------ */
/* amy__cli_tls_resolve on its own                                          */
/* ------------------------------------------------------------------------ */

static void test_resolve_null_sources(void **state)
{
    amy__cli_conninfo c;
    amy__cli_conninfo_init(&c);
    assert_int_equal(amy__cli_tls_resolve(&c, NULL, NULL), 0);
    assert_int_equal(c.ssl_mode, AMY__CLI_SSL_UNSET);
    c.ssl_mode = AMY__CLI_SSL_VERIFY_CA;
    assert_int_equal(amy__cli_conninfo_set(&c.tls[AMY__CLI_SSL_CA], "x"), 0);
    assert_int_equal(amy__cli_tls_resolve(&c, NULL, NULL), 0);
    char *d = amy__cli_conninfo_dsn(&c);
    assert_string_equal(d, "mysql://localhost?ssl_mode=verify_ca&ssl_ca=x");
    free(d);
    amy__cli_conninfo_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_option_names),
        cmocka_unit_test(test_option_booleans),
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_no_tls_option),
        cmocka_unit_test(test_cmdline_implied_modes),
        cmocka_unit_test(test_cmdline_explicit_mode_wins),
        cmocka_unit_test(test_cmdline_all_values_encoded),
        cmocka_unit_test(test_cmdline_errors),
        cmocka_unit_test(test_cnf_only),
        cmocka_unit_test(test_cnf_errors),
        cmocka_unit_test(test_dsn_and_cmdline),
        cmocka_unit_test(test_files_dsn_cmdline),
        cmocka_unit_test(test_resolve_null_sources),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
