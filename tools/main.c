/*
 * amysql-batch: run SQL statements concurrently over an amysql pool and
 * print their results in input order, in the format of `mariadb --batch`.
 * The manual is amysql-batch.1; this file reads the command line and wires
 * the pieces together.
 */
#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amysql.h"
#include "connect.h"
#include "input.h"
#include "run.h"
#include "tls.h"

#define PROG "amysql-batch"

static const char usage_text[] =
    "usage: " PROG " [OPTION]... [DSN] [FILE]...\n"
    "Run SQL statements concurrently and print their results in input\n"
    "order, as `mariadb --batch` does. Reads the FILEs in order, or stdin\n"
    "(also for FILE -). The DSN (mysql://user:password@host:port/db?...) may\n"
    "also come from AMYSQL_DSN, or be built from the options below.\n"
    "\n"
    "Input and output:\n"
    "      --delimiter=STR     statements end with STR (quotes and comments\n"
    "                          respected); default: one statement per line\n"
    "  -N, --skip-column-names no header line\n"
    "  -f, --force             go on after a statement fails\n"
    "      --stats             print count, errors, time, rate, latencies\n"
    "      --slow-ms=N         print each statement slower than N ms to\n"
    "                          stderr (its number, file:line and time)\n"
    "      --no-progress       no progress line (drawn only on a terminal)\n"
    "Concurrency:\n"
    "  -c, --connections=N     connections to open (default 4)\n"
    "      --pipeline=N        statements in flight per connection (128)\n"
    "      --window=N          statements between reading and output\n"
    "                          (default 4096): bounds memory\n"
    "Connection (these override the DSN):\n"
    "  -h, --host=HOST         server host; localhost means the socket; a\n"
    "                          list h1,h2:3307 gives several (the DSN's\n"
    "                          target_session_attrs picks among them)\n"
    "  -P, --port=PORT         TCP port (implies TCP unless -S is given)\n"
    "  -u, --user=USER\n"
    "  -p, --password[=PASS]   without PASS: ask on the terminal\n"
    "  -D, --database=DB\n"
    "  -S, --socket=PATH       Unix socket\n"
    "      --connect-timeout=S give up connecting after S seconds (10;\n"
    "                          0 = never)\n"
    "      --defaults-file=F   read only this option file\n"
    "      --defaults-extra-file=F  read F too, before ~/.my.cnf\n"
    "      --no-defaults       read no option file\n"
    "Also MYSQL_PWD, and [client] in /etc/my.cnf, /etc/mysql/my.cnf and\n"
    "~/.my.cnf.\n"
    "TLS (none of these: amysql's default, TLS if the server offers it,\n"
    "unverified):\n"
    "      --ssl               require TLS (ssl_mode=required)\n"
    "      --skip-ssl          no TLS (also --ssl=0, --disable-ssl)\n"
    "      --ssl-verify-server-cert  require TLS, check the certificate\n"
    "                          and host name (ssl_mode=verify_identity)\n"
    "      --ssl-mode=MODE     DISABLED, PREFERRED, REQUIRED, VERIFY_CA or\n"
    "                          VERIFY_IDENTITY; wins over the options above\n"
    "      --ssl-ca=FILE       CA certificates (PEM)\n"
    "      --ssl-capath=DIR    directory of CA certificates\n"
    "      --ssl-cert=FILE     client certificate (PEM)\n"
    "      --ssl-key=FILE      client key (PEM)\n"
    "      --ssl-cipher=LIST   permitted ciphers\n"
    "      --tls-version=LIST  e.g. TLSv1.2,TLSv1.3\n"
    "      --ssl-crl=FILE      certificate revocation list\n"
    "      --ssl-crlpath=DIR   directory of revocation lists\n"
    "      --ssl-fp=HEX        server certificate's SHA-1 fingerprint\n"
    "The FILE, DIR, LIST and HEX options also require TLS unless\n"
    "--ssl-mode says otherwise.\n"
    "\n"
    "      --help              this help\n"
    "  -V, --version           version\n"
    "\n"
    "Exit status: 0 all statements succeeded, 1 some failed, 2 could not run\n"
    "(bad option, input or DSN, no connection, output error). See "
    "amysql-batch(1).\n";

enum {
    OPT_PIPELINE = 256,
    OPT_DELIMITER,
    OPT_COLUMN_NAMES,
    OPT_STATS,
    OPT_SLOW_MS,
    OPT_NO_PROGRESS,
    OPT_WINDOW,
    OPT_DEFAULTS_FILE,
    OPT_DEFAULTS_EXTRA_FILE,
    OPT_NO_DEFAULTS,
    OPT_CONNECT_TIMEOUT,
    OPT_HELP,
    OPT_TLS /* to OPT_TLS + AMY__CLI_TLS_NOPTIONS - 1; keep it last */
};

static const struct option long_options[] = {
    {"connections", required_argument, NULL, 'c'},
    {"pipeline", required_argument, NULL, OPT_PIPELINE},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"delimiter", required_argument, NULL, OPT_DELIMITER},
    {"skip-column-names", no_argument, NULL, 'N'},
    {"column-names", no_argument, NULL, OPT_COLUMN_NAMES},
    {"force", no_argument, NULL, 'f'},
    {"stats", no_argument, NULL, OPT_STATS},
    {"slow-ms", required_argument, NULL, OPT_SLOW_MS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"host", required_argument, NULL, 'h'},
    {"port", required_argument, NULL, 'P'},
    {"user", required_argument, NULL, 'u'},
    {"password", optional_argument, NULL, 'p'},
    {"database", required_argument, NULL, 'D'},
    {"socket", required_argument, NULL, 'S'},
    {"defaults-file", required_argument, NULL, OPT_DEFAULTS_FILE},
    {"defaults-extra-file", required_argument, NULL, OPT_DEFAULTS_EXTRA_FILE},
    {"no-defaults", no_argument, NULL, OPT_NO_DEFAULTS},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    AMY__CLI_TLS_LONG_OPTIONS(OPT_TLS),
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '" PROG " --help' for more information.\n");
    return AMY__CLI_FATAL;
}

/* Decimal in [1, max], nothing else. */
static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v < 1 || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Keeps a password given on the command line out of ps(1). */
static char *take_secret(char *arg)
{
    char *copy = strdup(arg);
    memset(arg, 'x', strlen(arg));
    return copy;
}

static int check_delimiter(const char *d)
{
    if (!*d)
        return usage_error("%s", "--delimiter: empty delimiter");
    for (const char *p = d; *p; p++)
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\'' ||
            *p == '"' || *p == '`' || *p == '\\')
            return usage_error("--delimiter '%s': a delimiter may not "
                               "contain spaces, quotes or backslashes",
                               d);
    return 0;
}

int main(int argc, char **argv)
{
    amy__cli_run_opts ro = {.slow_ms = -1};
    amy__cli_connect_args ca = {0};
    ca.connect_timeout_ms = -1;
    char *password = NULL;
    amy__cli_tls tls;
    unsigned long n;
    int c, longindex = 0, rc = AMY__CLI_FATAL;
    char err[512];
    amy__cli_tls_init(&tls);
    ca.tls = &tls;
    ro.column_names = 1;
    ro.progress = 1;

    while ((c = getopt_long(argc, argv, "c:NfD:h:P:u:p::S:V", long_options,
                            &longindex)) != -1) {
        switch (c) {
        case 'c':
            if (parse_count(optarg, 65535, &n)) {
                usage_error("--connections '%s': want a number from 1 "
                            "to 65535",
                            optarg);
                goto out;
            }
            ca.pool = n;
            break;
        case OPT_PIPELINE:
            if (parse_count(optarg, 4096, &n)) {
                usage_error("--pipeline '%s': want a number from 1 to "
                            "4096",
                            optarg);
                goto out;
            }
            ca.pipeline = n;
            break;
        case OPT_WINDOW:
            if (parse_count(optarg, 10000000, &n)) {
                usage_error("--window '%s': want a number from 1 to "
                            "10000000",
                            optarg);
                goto out;
            }
            ro.window = n;
            break;
        case OPT_DELIMITER:
            if (check_delimiter(optarg))
                goto out;
            ro.delimiter = optarg;
            break;
        case 'N':
            ro.column_names = 0;
            break;
        case OPT_COLUMN_NAMES:
            ro.column_names = 1;
            break;
        case 'f':
            ro.force = 1;
            break;
        case OPT_STATS:
            ro.stats = 1;
            break;
        case OPT_SLOW_MS: {
            char *end;
            double ms = strtod(optarg, &end);
            if (end == optarg || *end || !(ms >= 0) || ms > 1e9) {
                usage_error("--slow-ms '%s': want a number of "
                            "milliseconds, 0 or more",
                            optarg);
                goto out;
            }
            ro.slow_ms = ms;
            break;
        }
        case OPT_NO_PROGRESS:
            ro.progress = 0;
            break;
        case 'h':
            ca.host = optarg;
            break;
        case 'P': {
            char *end;
            n = strtoul(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || n < 1 || n > 65535) {
                usage_error("--port '%s': want a number from 1 to "
                            "65535",
                            optarg);
                goto out;
            }
            ca.port = (unsigned)n;
            break;
        }
        case 'u':
            ca.user = optarg;
            break;
        case 'p':
            free(password);
            password = NULL;
            ca.ask_password = optarg == NULL;
            if (optarg && !(password = take_secret(optarg))) {
                fputs(PROG ": out of memory\n", stderr);
                goto out;
            }
            ca.password = password;
            break;
        case 'D':
            ca.database = optarg;
            break;
        case 'S':
            ca.socket = optarg;
            break;
        case OPT_DEFAULTS_FILE:
            ca.defaults_file = optarg;
            break;
        case OPT_DEFAULTS_EXTRA_FILE:
            ca.defaults_extra_file = optarg;
            break;
        case OPT_NO_DEFAULTS:
            ca.no_defaults = 1;
            break;
        case OPT_CONNECT_TIMEOUT:
            if (strcmp(optarg, "0") == 0)
                n = 0;
            else if (parse_count(optarg, 86400, &n)) {
                usage_error("--connect-timeout '%s': want seconds, "
                            "0 to 86400",
                            optarg);
                goto out;
            }
            ca.connect_timeout_ms = (long)n * 1000;
            break;
        case OPT_HELP:
            fputs(usage_text, stdout);
            rc = 0;
            goto out;
        case 'V':
            printf(PROG " (amysql) %d.%d.%d\n", AMY_VERSION_MAJOR,
                   AMY_VERSION_MINOR, AMY_VERSION_PATCH);
            rc = 0;
            goto out;
        default:
            if (c >= OPT_TLS && c < OPT_TLS + AMY__CLI_TLS_NOPTIONS) {
                /* Messages start with the option's name. */
                if (amy__cli_tls_option(&tls, long_options[longindex].name,
                                        optarg, err, sizeof err) < 0) {
                    usage_error("--%s", err);
                    goto out;
                }
                break;
            }
            /* getopt_long has printed what is wrong */
            fputs("Try '" PROG " --help' for more information.\n", stderr);
            goto out;
        }
    }

    /* A first operand with "://" is the DSN; the rest are files. */
    int first = optind;
    if (first < argc && strstr(argv[first], "://")) {
        ca.dsn = argv[first];
        first++;
    }
    ro.files = (const char *const *)(argv + first);
    ro.nfiles = (size_t)(argc - first);
    ro.progress = ro.progress && isatty(STDERR_FILENO);

    if (amy__cli_input_check(ro.files, ro.nfiles, &ro.input_bytes, err,
                             sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    char *dsn = amy__cli_connect_dsn(&ca, &ro.max_inflight, err, sizeof err);
    if (!dsn) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    struct ev_loop *loop = EV_DEFAULT;
    amy_pool *pool = amy_pool_new(loop, dsn, err, sizeof err);
    memset(dsn, 0, strlen(dsn)); /* it holds the password */
    free(dsn);
    if (!pool) {
        fprintf(stderr, PROG ": bad connection settings: %s\n", err);
        goto out;
    }
    rc = amy__cli_run(loop, pool, &ro);
    amy_pool_free(pool);
    ev_loop_destroy(loop);
out: /* every exit once the options are being read, so nothing leaks */
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    amy__cli_tls_clear(&tls);
    return rc;
}
