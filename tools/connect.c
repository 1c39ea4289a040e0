/* Merging the connection sources (see connect.h). */
#include "connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnf.h"
#include "conninfo.h"
#include "prompt.h"

static const char *const groups[] = {"client", "client-server",
                                     "client-mariadb", "amysql-batch", NULL};

struct state {
    amy__cli_conninfo ci;
    amy__cli_tls tls; /* the option files' TLS options, kept apart until the
                         DSN and the command line are known (tls.h) */
    int ask;          /* the strongest password source so far says "ask" */
};

static int nomem(char *err, size_t errlen)
{
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int option_cb(const char *name, const char *value, const char *path,
                     unsigned long line, void *arg, char *err, size_t errlen)
{
    struct state *s = arg;
    char **field = NULL;
    if (strcmp(name, "password") == 0) {
        /* A bare "password" line asks for it, as in the mariadb client. */
        s->ask = value == NULL;
        if (value == NULL)
            return 0;
        field = &s->ci.password;
    } else if (strcmp(name, "host") == 0) {
        field = &s->ci.host;
    } else if (strcmp(name, "user") == 0) {
        field = &s->ci.user;
    } else if (strcmp(name, "database") == 0) {
        field = &s->ci.database;
    } else if (strcmp(name, "socket") == 0) {
        field = &s->ci.socket;
    } else if (strcmp(name, "port") == 0) {
        if (!value || amy__cli_parse_port(value, &s->ci.port) != 0) {
            snprintf(err, errlen, "%s:%lu: port must be a number, 1 to 65535",
                     path, line);
            return -1;
        }
        return 0;
    } else {
        char msg[256];
        if (amy__cli_tls_option(&s->tls, name, value, msg, sizeof msg) < 0) {
            snprintf(err, errlen, "%s:%lu: %s", path, line, msg);
            return -1;
        }
        return 0; /* [client] holds options of many programs */
    }
    if (!value) {
        snprintf(err, errlen, "%s:%lu: %s needs a value", path, line, name);
        return -1;
    }
    return amy__cli_conninfo_set(field, value) ? nomem(err, errlen) : 0;
}

static int read_cnf(struct state *s, const char *path, int missing_ok,
                    char *err, size_t errlen)
{
    return amy__cli_cnf_read(path, groups, missing_ok, option_cb, s, err,
                             errlen);
}

static int read_option_files(struct state *s, const amy__cli_connect_args *a,
                             char *err, size_t errlen)
{
    if (a->no_defaults)
        return 0;
    if (a->defaults_file)
        return read_cnf(s, a->defaults_file, 0, err, errlen);
    if (read_cnf(s, "/etc/my.cnf", 1, err, errlen) ||
        read_cnf(s, "/etc/mysql/my.cnf", 1, err, errlen))
        return -1;
    if (a->defaults_extra_file &&
        read_cnf(s, a->defaults_extra_file, 0, err, errlen))
        return -1;
    const char *home = getenv("HOME");
    if (home && *home) {
        size_t n = strlen(home) + sizeof "/.my.cnf";
        char *p = malloc(n);
        if (!p)
            return nomem(err, errlen);
        snprintf(p, n, "%s/.my.cnf", home);
        int rc = read_cnf(s, p, 1, err, errlen);
        free(p);
        return rc;
    }
    return 0;
}

static int apply_args(struct state *s, const amy__cli_connect_args *a,
                      char *err, size_t errlen)
{
    amy__cli_conninfo *c = &s->ci;
    if ((a->host && amy__cli_conninfo_set(&c->host, a->host)) ||
        (a->user && amy__cli_conninfo_set(&c->user, a->user)) ||
        (a->database && amy__cli_conninfo_set(&c->database, a->database)) ||
        (a->socket && amy__cli_conninfo_set(&c->socket, a->socket)))
        return nomem(err, errlen);
    if (a->password) {
        if (amy__cli_conninfo_set(&c->password, a->password))
            return nomem(err, errlen);
        s->ask = 0;
    }
    if (a->ask_password)
        s->ask = 1;
    if (a->port) {
        c->port = a->port;
        /* As in the mariadb client, a port given on the command line means
         * TCP, unless a socket is given there too. */
        c->tcp = a->socket == NULL;
    }
    if (a->socket && !a->host) {
        /* The socket is only used for localhost: -S alone means it. */
        free(c->host);
        c->host = NULL;
    }
    if (a->pool)
        c->pool = a->pool;
    if (a->pipeline)
        c->pipeline = a->pipeline;
    if (a->connect_timeout_ms >= 0)
        c->connect_timeout_ms = a->connect_timeout_ms;
    return 0;
}

/* amysql's defaults for ?pool= and ?pipeline= (the README's DSN table;
 * src/dsn.h's AMY__DSN_DEFAULT_POOL and AMY__DSN_DEFAULT_PIPELINE). */
#define DEFAULT_POOL     4
#define DEFAULT_PIPELINE 128

char *amy__cli_connect_dsn(const amy__cli_connect_args *a, size_t *inflight,
                           char *err, size_t errlen)
{
    struct state s;
    char *dsn = NULL;
    amy__cli_conninfo_init(&s.ci);
    amy__cli_tls_init(&s.tls);
    s.ask = 0;
    const char *pwd = getenv("MYSQL_PWD");
    if (pwd && amy__cli_conninfo_set(&s.ci.password, pwd)) {
        nomem(err, errlen);
        goto out;
    }
    if (read_option_files(&s, a, err, errlen))
        goto out;
    const char *d = a->dsn;
    if (!d && (d = getenv("AMYSQL_DSN")) && !*d)
        d = NULL;
    if (d) {
        int had_password = s.ci.password != NULL;
        char *old = s.ci.password;
        s.ci.password = NULL;
        if (amy__cli_conninfo_dsn_apply(&s.ci, d, err, errlen)) {
            free(old);
            goto out;
        }
        if (s.ci.password) {
            free(old);
            s.ask = 0;
        } else {
            s.ci.password = had_password ? old : NULL;
        }
    }
    if (apply_args(&s, a, err, errlen))
        goto out;
    if (amy__cli_tls_resolve(&s.ci, &s.tls, a->tls)) {
        nomem(err, errlen);
        goto out;
    }
    if (s.ask) {
        char *p = amy__cli_prompt_password("Enter password: ", err, errlen);
        if (!p)
            goto out;
        free(s.ci.password);
        s.ci.password = p;
    }
    dsn = amy__cli_conninfo_dsn(&s.ci);
    if (!dsn)
        nomem(err, errlen);
    if (inflight)
        *inflight = (size_t)(s.ci.pool ? s.ci.pool : DEFAULT_POOL) *
                    (size_t)(s.ci.pipeline ? s.ci.pipeline : DEFAULT_PIPELINE);
out:
    if (s.ci.password)
        memset(s.ci.password, 0, strlen(s.ci.password));
    amy__cli_conninfo_clear(&s.ci);
    amy__cli_tls_clear(&s.tls);
    return dsn;
}
