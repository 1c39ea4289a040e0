/*
 * Restricting authentication plugins.
 *
 * The server picks the plugin: in its greeting, or later with an auth
 * switch request. A server that is not the one the user meant (a proxy, a
 * fork, a man in the middle on plaintext TCP) could pick
 * mysql_clear_password and receive the password itself, or send a greeting
 * without the 4.1 flags so that the connector falls back to the pre-4.1
 * scramble. The connector refuses any plugin not in its restricted_auth
 * list before the plugin writes a byte (5010, CR_PLUGIN_NOT_ALLOWED); this
 * file decides that list. libpq's require_auth is the model.
 */
#include "auth.h"

#include <stdio.h>
#include <string.h>

enum reveal {
    NEVER,    /* only a scramble or a signature goes out */
    VERIFIED, /* the password, to the server, over TLS or under its key */
    CLEAR,    /* the password in clear */
    BROKEN    /* never allowed */
};

static const struct plugin {
    const char *name;
    enum reveal reveal;
} plugins[] = {
    {"mysql_native_password", NEVER},    {"client_ed25519", NEVER},
    {"auth_gssapi_client", NEVER},       {"parsec", NEVER},
    {"caching_sha2_password", VERIFIED}, {"sha256_password", VERIFIED},
    {"mysql_clear_password", CLEAR},     {"dialog", CLEAR},
    {"mysql_old_password", BROKEN},
};

#define NPLUGINS (sizeof plugins / sizeof plugins[0])

static const struct plugin *find(const char *s, size_t n)
{
    for (size_t i = 0; i < NPLUGINS; i++)
        if (strlen(plugins[i].name) == n && !memcmp(plugins[i].name, s, n))
            return &plugins[i];
    return NULL;
}

int amy__auth_list(const char *value, int verified, char *out, char *err,
                   size_t errlen)
{
    size_t o = 0;
    out[0] = '\0';
    if (!value) {
        for (size_t i = 0; i < NPLUGINS; i++) {
            const struct plugin *p = &plugins[i];
            if (p->reveal == NEVER || (p->reveal == VERIFIED && verified))
                o += (size_t)snprintf(out + o, AMY__AUTH_LIST_MAX - o, "%s%s",
                                      o ? "," : "", p->name);
        }
        return 0;
    }
    const char *s = value;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        const struct plugin *p = find(s, n);
        if (!p) {
            snprintf(err, errlen,
                     "auth_plugins: unknown plugin '%.*s' (known: "
                     "mysql_native_password, client_ed25519, "
                     "auth_gssapi_client, parsec, caching_sha2_password, "
                     "sha256_password, mysql_clear_password, dialog)",
                     (int)(n > 64 ? 64 : n), s);
            return -1;
        }
        if (p->reveal == BROKEN) {
            snprintf(err, errlen,
                     "auth_plugins: %s is never allowed (the pre-4.1 "
                     "scramble is broken)",
                     p->name);
            return -1;
        }
        if (p->reveal == CLEAR && !verified) {
            snprintf(err, errlen,
                     "auth_plugins: %s sends the password in clear; it is "
                     "allowed only with ssl_mode=verify_ca or "
                     "verify_identity",
                     p->name);
            return -1;
        }
        if (!strstr(out, p->name)) /* each once */
            o += (size_t)snprintf(out + o, AMY__AUTH_LIST_MAX - o, "%s%s",
                                  o ? "," : "", p->name);
        if (!e)
            return 0;
        s = e + 1;
    }
}

const char *amy__auth_refused_hint(void)
{
    return " (amysql allows only authentication plugins that never reveal "
           "the password, unless the DSN's auth_plugins= says otherwise; "
           "caching_sha2_password and sha256_password are allowed by "
           "default with ssl_mode=verify_ca or verify_identity)";
}
