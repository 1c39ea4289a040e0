/* DSN parsing: mysql://user:password@host:port/database?key=value&... */
#ifndef AMY_DSN_H
#define AMY_DSN_H

#include <stddef.h>

/* One host of the DSN's host list. */
typedef struct amy__dsn_host {
    char *host;    /* IPv6 without brackets */
    unsigned port; /* 0 when absent (3306) */
} amy__dsn_host;

#define AMY__DSN_MAX_HOSTS 64u

/* Parsed DSN. Strings are heap copies owned by the struct (NULL if absent). */
typedef struct amy__dsn {
    char *user;     /* percent-decoded; NULL if absent */
    char *password; /* percent-decoded; NULL if absent */
    /* The first host of the list (NULL if absent) and its port; hosts has
     * every one, in order (nhosts >= 1 when host is set). */
    char *host; /* IPv6 without brackets; NULL if absent */
    amy__dsn_host *hosts;
    unsigned nhosts;
    char *database; /* percent-decoded; NULL if absent */
    char *socket;   /* ?socket=/path, percent-decoded; NULL if absent */
    unsigned port;  /* 0 when absent (the connector's default, 3306) */
    unsigned pool;  /* max connections */
    unsigned pipeline;
    size_t pipeline_bytes;
    unsigned connect_timeout_ms;
    unsigned query_timeout_ms;
    unsigned idle_timeout_ms;  /* 0: idle connections stay open */
    unsigned queue_max;        /* 0: no limit */
    unsigned multi_statements; /* 1: a query may hold several statements */
    unsigned stmt_cache;       /* prepared statements kept per connection */
    unsigned read_coalesce_us; /* wait this long before reading answers */
    char *charset;             /* NULL: AMY__DSN_DEFAULT_CHARSET */
    char **init;               /* statements a new connection runs first */
    unsigned ninit;            /* how many (init= may be repeated) */
    unsigned max_lifetime_ms;  /* 0: connections live on */
    unsigned reset_on_release; /* 1: a pinned connection given back is reset */
    unsigned kill_grace_ms;    /* a killed query's answer waits this long */
    char *auth_plugins;        /* auth.c checks it; NULL: the default */
    unsigned ssl_mode;         /* enum amy__ssl_mode */
    size_t max_result_bytes;   /* a query's buffered results at most; 0: any */
    unsigned target_session_attrs; /* enum amy__tsa */
    unsigned load_balance_hosts;   /* 0 disable, 1 random */
    unsigned role_check_ms;        /* 0: roles checked at connect only */
    unsigned dns_ttl_ms;           /* how long a name's answer is reused */
    char *dns_servers;             /* NULL: the system's (resolv.conf) */
    /* TLS files and settings, percent-decoded; NULL if absent (tls.c
     * checks them when the pool is made). */
    char *ssl_ca, *ssl_capath, *ssl_cert, *ssl_key, *ssl_cipher, *tls_version,
        *ssl_crl, *ssl_crlpath, *ssl_fp;
} amy__dsn;

/* ssl_mode=, in MySQL's words. Ordered: each mode asks more than the one
 * before it. */
enum amy__ssl_mode {
    AMY__SSL_DISABLED,       /* plaintext */
    AMY__SSL_PREFERRED,      /* TLS when the server offers it, unverified */
    AMY__SSL_REQUIRED,       /* TLS or no connection, unverified */
    AMY__SSL_VERIFY_CA,      /* and the certificate chain is checked */
    AMY__SSL_VERIFY_IDENTITY /* and the host name too */
};

/* target_session_attrs=, in libpq's words. */
enum amy__tsa {
    AMY__TSA_ANY,
    AMY__TSA_READ_WRITE,
    AMY__TSA_READ_ONLY,
    AMY__TSA_PRIMARY,
    AMY__TSA_STANDBY,
    AMY__TSA_PREFER_STANDBY
};

/* Defaults applied by amy__dsn_parse for absent keys. */
#define AMY__DSN_DEFAULT_POOL               4u
#define AMY__DSN_DEFAULT_PIPELINE           128u
#define AMY__DSN_DEFAULT_READ_COALESCE_US   300u
#define AMY__DSN_DEFAULT_PIPELINE_BYTES     65536u
#define AMY__DSN_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define AMY__DSN_DEFAULT_STMT_CACHE         32u
#define AMY__DSN_DEFAULT_KILL_GRACE_MS      2000u
#define AMY__DSN_DEFAULT_MAX_RESULT_BYTES   268435456u /* 256 MiB */
#define AMY__DSN_DEFAULT_CHARSET            "utf8mb4"
#define AMY__DSN_DEFAULT_ROLE_CHECK_MS      1500u
#define AMY__DSN_MAX_INIT                   64u

/*
 * Parses s into *out (which need not be initialised). Returns 0, or -1 with
 * a message in errbuf naming the problem (never the password) and *out left
 * empty (nothing to clear).
 */
int amy__dsn_parse(const char *s, amy__dsn *out, char *errbuf, size_t errlen);

/*
 * Percent-decodes s[0..n) into a new NUL-terminated string. Returns NULL with
 * *bad = AMY__PCT_ESCAPE for a '%' not followed by two hex digits,
 * AMY__PCT_NUL for %00 (C strings cannot hold it), or 0 when memory ran out.
 */
enum { AMY__PCT_ESCAPE = 1, AMY__PCT_NUL = 2 };
char *amy__pct_decode(const char *s, size_t n, int *bad);

/* Frees the strings of d and zeroes it. d may be NULL. */
void amy__dsn_clear(amy__dsn *d);

#endif
