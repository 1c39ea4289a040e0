/*
 * The DSN amysql-batch connects with, from every source a mariadb client
 * user expects, weakest first: MYSQL_PWD; the option files ([client],
 * [client-server], [client-mariadb] and [amysql-batch] groups of
 * /etc/my.cnf, /etc/mysql/my.cnf, --defaults-extra-file and ~/.my.cnf, or
 * only --defaults-file, or none with --no-defaults); the DSN argument, or
 * else AMYSQL_DSN; then -h -P -u -p -D -S, -c, --pipeline,
 * --connect-timeout and the TLS options (tls.h: how --ssl, --ssl-mode and
 * the others of each source become one ssl_mode).
 */
#ifndef AMY_CLI_CONNECT_H
#define AMY_CLI_CONNECT_H

#include <stddef.h>

#include "tls.h"

typedef struct {
    const char *dsn; /* the DSN argument; NULL: AMYSQL_DSN if set */
    const char *host, *user, *password, *database, *socket; /* NULL: unset */
    unsigned port;                                          /* 0: unset */
    int ask_password;                                /* -p without a value */
    const char *defaults_file, *defaults_extra_file; /* NULL: unset */
    int no_defaults;
    unsigned long pool, pipeline; /* 0: unset */
    long connect_timeout_ms;      /* -1: unset */
    const amy__cli_tls *tls;      /* the command line's; NULL: none */
} amy__cli_connect_args;

/*
 * amy__cli_connect_dsn - merge the sources into one amysql DSN.
 *
 * Asks for the password on the terminal when -p has no value, or an option
 * file has a bare "password" line, and no stronger source gives one.
 *
 * inflight: if not NULL, receives how many statements the pool can have in
 *           flight at once (connections x pipeline, with amysql's defaults
 *           for what no source sets).
 *
 * Returns a malloc'd DSN, or NULL with a message in err (unreadable option
 * file, bad port or TLS option in it, bad DSN, no terminal for the password,
 * no memory).
 */
char *amy__cli_connect_dsn(const amy__cli_connect_args *a, size_t *inflight,
                           char *err, size_t errlen);

#endif
