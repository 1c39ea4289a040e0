/* Which authentication plugins a pool lets the connector use. Internal. */
#ifndef AMY_AUTH_H
#define AMY_AUTH_H

#include <stddef.h>

/* Longest list amy__auth_list writes, with its NUL. */
#define AMY__AUTH_LIST_MAX 256

/*
 * The list of plugins for the connector's MARIADB_OPT_RESTRICTED_AUTH,
 * from the DSN's auth_plugins= value (NULL: the default) and whether the
 * server's identity is verified (ssl_mode=verify_ca or verify_identity).
 *
 * The default names only plugins that never send the password itself:
 * mysql_native_password, client_ed25519, auth_gssapi_client, and over a
 * verified connection also caching_sha2_password and sha256_password
 * (whose full authentication sends the password over TLS, or encrypted
 * with a key the server supplies: to a server pretending to be yours).
 * A value is a comma-separated list of plugin names; mysql_clear_password
 * and dialog (which send it in clear) are refused unless verified;
 * mysql_old_password (the broken pre-4.1 scramble) and unknown names are
 * always refused.
 *
 * Writes the list to out (AMY__AUTH_LIST_MAX bytes) and returns 0, or -1
 * with a message naming the key and the plugin in err.
 */
int amy__auth_list(const char *value, int verified, char *out, char *err,
                   size_t errlen);

/* Written after the connector's "plugin not allowed" error (5010): what
 * amysql allows and how to allow more. A static string. */
const char *amy__auth_refused_hint(void);

#endif
