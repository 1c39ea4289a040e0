/*
 * Where amysql-batch connects: the pieces a mariadb client takes from its
 * option files, MYSQL_PWD, a DSN and -h -P -u -p -D -S, merged, then written
 * as one amysql DSN.
 *
 * Each source overrides the pieces it gives, so callers apply them from the
 * weakest to the strongest: MYSQL_PWD, option files, the DSN, the command
 * line (the mariadb client's order; a DSN counts as one more source).
 */
#ifndef AMY_CLI_CONNINFO_H
#define AMY_CLI_CONNINFO_H

#include <stddef.h>

/*
 * amysql's TLS DSN keys other than ssl_mode, in the order the DSN written by
 * amy__cli_conninfo_dsn lists them (amy__cli_tls_keys holds their names).
 */
enum {
    AMY__CLI_SSL_CA,
    AMY__CLI_SSL_CAPATH,
    AMY__CLI_SSL_CERT,
    AMY__CLI_SSL_KEY,
    AMY__CLI_SSL_CIPHER,
    AMY__CLI_TLS_VERSION,
    AMY__CLI_SSL_CRL,
    AMY__CLI_SSL_CRLPATH,
    AMY__CLI_SSL_FP,
    AMY__CLI_TLS_NKEYS
};
extern const char *const amy__cli_tls_keys[AMY__CLI_TLS_NKEYS];

/* ssl_mode values, weakest first, so that raising a mode is a max(). */
enum {
    AMY__CLI_SSL_UNSET,
    AMY__CLI_SSL_DISABLED,
    AMY__CLI_SSL_PREFERRED,
    AMY__CLI_SSL_REQUIRED,
    AMY__CLI_SSL_VERIFY_CA,
    AMY__CLI_SSL_VERIFY_IDENTITY
};

/* The DSN spelling of a mode ("verify_ca"); NULL for AMY__CLI_SSL_UNSET. */
const char *amy__cli_ssl_mode_name(int mode);

/* s[0..n) as a mode, without regard to case; AMY__CLI_SSL_UNSET if none. */
int amy__cli_ssl_mode_parse(const char *s, size_t n);

typedef struct {
    char *user, *password, *host, *socket, *database; /* decoded; NULL unset */
    unsigned port;                                    /* 0 = unset */
    unsigned long pool;            /* ?pool= from the DSN or -c; 0 = unset */
    unsigned long pipeline;        /* ?pipeline= or --pipeline; 0 = unset */
    long connect_timeout_ms;       /* ?connect_timeout_ms= or --connect-timeout;
                                -1 = unset (0 means never) */
    int ssl_mode;                  /* AMY__CLI_SSL_*; UNSET: not given */
    char *tls[AMY__CLI_TLS_NKEYS]; /* ?ssl_ca= ..., decoded; NULL unset */
    char *params; /* the DSN's other ?key=value pairs, as written, '&'-joined */
    int tcp;      /* a command-line port: TCP even for localhost */
} amy__cli_conninfo;

/* Frees every piece and resets the struct to "all unset". */
void amy__cli_conninfo_clear(amy__cli_conninfo *c);

/* Sets up an empty conninfo (all unset). */
void amy__cli_conninfo_init(amy__cli_conninfo *c);

/* Replaces *field with a copy of value (NULL unsets). Returns 0 or -1. */
int amy__cli_conninfo_set(char **field, const char *value);

/* Parses a decimal port 1..65535. Returns 0 or -1. */
int amy__cli_parse_port(const char *s, unsigned *port);

/*
 * amy__cli_conninfo_dsn_apply - override c's pieces with those of a DSN.
 *
 * Only what the DSN gives is replaced (mysql://db.example/shop keeps the
 * user and password c already has). The DSN must be mysql:// or mariadb://;
 * user, password and database are percent-decoded; ?socket=, ?pool=,
 * ?pipeline=, ?connect_timeout_ms=, ?ssl_mode= and the other TLS keys become
 * pieces (so that a stronger source can replace them without the DSN ending
 * up with the key twice, which amysql refuses); other keys are kept as
 * written for amysql to check. Messages never quote the DSN (it may hold a
 * password).
 *
 * Returns 0, or -1 with a message in err.
 */
int amy__cli_conninfo_dsn_apply(amy__cli_conninfo *c, const char *dsn,
                                char *err, size_t errlen);

/*
 * amy__cli_conninfo_dsn - the amysql DSN for c.
 *
 * No host, or "localhost", means the Unix socket (c->socket, or the
 * connector's default), as in the mariadb client; the port then only
 * matters with c->tcp, which connects to 127.0.0.1 instead. User, password,
 * database, socket and the TLS values are percent-encoded; the TLS keys come
 * last, ssl_mode first.
 *
 * Returns a malloc'd string, or NULL when memory runs out.
 */
char *amy__cli_conninfo_dsn(const amy__cli_conninfo *c);

/* Percent-encodes all but A-Z a-z 0-9 - . _ ~. Returns malloc'd or NULL. */
char *amy__cli_pct_encode(const char *s);

#endif
