/*
 * amysql-batch's TLS options: the mariadb client's (--ssl, --skip-ssl,
 * --ssl-ca=FILE, ..., --ssl-verify-server-cert) and MySQL's --ssl-mode, on
 * the command line and in option files, turned into amysql's DSN keys
 * (ssl_mode=, ssl_ca=, ...).
 *
 * amysql never lowers a mode on its own, so what a source asks for is mapped
 * to the mode that gives it, and an explicit mode is never lowered by what a
 * weaker source implies:
 *
 *   --ssl-mode=M                       ssl_mode=M (the strongest source's)
 *   --ssl, or --ssl-ca/-capath/-cert/  at least ssl_mode=required
 *     -key/-cipher/-crl/-crlpath,
 *     --tls-version, --ssl-fp
 *   --ssl-verify-server-cert           ssl_mode=verify_identity
 *   --skip-ssl (--ssl=0, --disable-ssl) ssl_mode=disabled
 *   nothing                            no ssl_mode (amysql's default)
 *
 * Within one source (the option files together, or the command line) an
 * explicit --ssl-mode wins over what the others imply; a stronger source's
 * implied mode replaces a weaker source's explicit one only to raise it
 * (or, for --skip-ssl, to turn TLS off as asked). See amy__cli_tls_resolve.
 */
#ifndef AMY_CLI_TLS_H
#define AMY_CLI_TLS_H

#include <stddef.h>

#include "conninfo.h"

/* What one source (the option files, or the command line) says of TLS. */
typedef struct {
    int mode;   /* --ssl-mode: AMY__CLI_SSL_*; UNSET: not given (last wins) */
    int use;    /* -1 unset; 0 --skip-ssl; 1 --ssl or an option implying it */
    int verify; /* -1 unset; 0 or 1: --ssl-verify-server-cert (1 sets use) */
    char *value[AMY__CLI_TLS_NKEYS]; /* --ssl-ca=... as given; NULL unset */
} amy__cli_tls;

/* Sets up an empty set of TLS options (nothing given). */
void amy__cli_tls_init(amy__cli_tls *t);

/* Frees the values and resets t to nothing given. */
void amy__cli_tls_clear(amy__cli_tls *t);

/*
 * amy__cli_tls_option - take one option, if it is a TLS option.
 *
 * name:  without the leading "--", '-' between words (as cnf.c normalises
 *        option file names): "ssl", "skip-ssl", "ssl-ca", "tls-version", ...
 * value: NULL when none was given ("--ssl", or a bare "ssl" line).
 *
 * Booleans take 1/0, on/off, true/false (any case), as the mariadb client
 * does; skip-, disable- and enable- forms take no value. --ssl-mode takes
 * the five MySQL names in any case; --tls-version a comma-separated list of
 * TLSv1.0 to TLSv1.3 (written TLSv1.2 whatever the case given); --ssl-fp a
 * SHA-1 fingerprint, 40 hex digits, colons allowed. Empty values are
 * refused.
 *
 * Returns 1 when the option was taken, 0 when name is not a TLS option (t is
 * untouched), or -1 with a message in err that starts with the option's name,
 * so that a caller can put "--" or "file:line: " before it.
 */
int amy__cli_tls_option(amy__cli_tls *t, const char *name, const char *value,
                        char *err, size_t errlen);

/*
 * amy__cli_tls_resolve - the TLS pieces of the final DSN.
 *
 * c holds the DSN's own ssl_mode and values (amy__cli_conninfo_dsn_apply);
 * files (weaker) and cmdline (stronger) are the other sources, either NULL.
 * Each value comes from the strongest source that gives it. The mode:
 *
 *   1. explicit: the strongest source's explicit mode (files < DSN <
 *      command line), if any;
 *   2. implied: from the --ssl / --skip-ssl / --ssl-verify-server-cert
 *      settings of the sources stronger than the one that gave the explicit
 *      mode (all of them when none did; a later, stronger setting replaces
 *      an earlier one, each of the two separately): disabled when TLS is off,
 *      verify_identity when it is on and verification asked for, required
 *      when it is on;
 *   3. disabled if implied so, else the stronger of the two.
 *
 * With TLS disabled, the other TLS keys are dropped: they mean nothing then,
 * and --skip-ssl must work whatever ssl-ca an option file names.
 *
 * Returns 0, or -1 when memory runs out.
 */
int amy__cli_tls_resolve(amy__cli_conninfo *c, const amy__cli_tls *files,
                         const amy__cli_tls *cmdline);

/*
 * The getopt_long entries of the TLS options, returning first, first + 1,
 * ... first + AMY__CLI_TLS_NOPTIONS - 1; the caller hands
 * long_options[longindex].name and optarg to amy__cli_tls_option. Each has
 * a value of its own because glibc takes an abbreviation that fits several
 * entries with the same value for the first of them (--ssl-c would be
 * --ssl-ca) instead of refusing it. (The --ssl=0 and
 * --ssl-verify-server-cert=0 forms need the optional argument; getopt_long
 * refuses a value after the skip-, disable- and enable- forms.)
 */
#define AMY__CLI_TLS_NOPTIONS 18
/* clang-format off */
#define AMY__CLI_TLS_LONG_OPTIONS(first)                                 \
    {"ssl", optional_argument, NULL, (first) + 0},                       \
    {"skip-ssl", no_argument, NULL, (first) + 1},                        \
    {"disable-ssl", no_argument, NULL, (first) + 2},                     \
    {"enable-ssl", no_argument, NULL, (first) + 3},                      \
    {"ssl-mode", required_argument, NULL, (first) + 4},                  \
    {"ssl-ca", required_argument, NULL, (first) + 5},                    \
    {"ssl-capath", required_argument, NULL, (first) + 6},                \
    {"ssl-cert", required_argument, NULL, (first) + 7},                  \
    {"ssl-key", required_argument, NULL, (first) + 8},                   \
    {"ssl-cipher", required_argument, NULL, (first) + 9},                \
    {"tls-version", required_argument, NULL, (first) + 10},              \
    {"ssl-crl", required_argument, NULL, (first) + 11},                  \
    {"ssl-crlpath", required_argument, NULL, (first) + 12},              \
    {"ssl-fp", required_argument, NULL, (first) + 13},                   \
    {"ssl-verify-server-cert", optional_argument, NULL, (first) + 14},   \
    {"skip-ssl-verify-server-cert", no_argument, NULL, (first) + 15},    \
    {"disable-ssl-verify-server-cert", no_argument, NULL, (first) + 16}, \
    {"enable-ssl-verify-server-cert", no_argument, NULL, (first) + 17}
/* clang-format on */

#endif
