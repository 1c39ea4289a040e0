/* Unit tests of src/auth.c: which authentication plugins a pool allows. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "auth.h"

static void ok(const char *value, int verified, const char *want)
{
    char out[AMY__AUTH_LIST_MAX], err[256] = "";
    if (amy__auth_list(value, verified, out, err, sizeof err) != 0)
        fail_msg("%s: %s", value ? value : "(default)", err);
    assert_string_equal(out, want);
}

static void refused(const char *value, int verified, const char *says)
{
    char out[AMY__AUTH_LIST_MAX], err[256] = "";
    assert_int_equal(amy__auth_list(value, verified, out, err, sizeof err), -1);
    if (!strstr(err, says))
        fail_msg("'%s' does not say '%s'", err, says);
    assert_non_null(strstr(err, "auth_plugins"));
}

/* By default nothing that sends the password itself; the RSA/TLS ones
 * once the server is verified. */
static void test_defaults(void **state)
{
    (void)state;
    ok(NULL, 0,
       "mysql_native_password,client_ed25519,auth_gssapi_client,parsec");
    ok(NULL, 1,
       "mysql_native_password,client_ed25519,auth_gssapi_client,parsec,"
       "caching_sha2_password,sha256_password");
}

static void test_explicit_lists(void **state)
{
    (void)state;
    ok("client_ed25519", 0, "client_ed25519");
    ok("caching_sha2_password,mysql_native_password", 0,
       "caching_sha2_password,mysql_native_password");
    ok("mysql_native_password,mysql_native_password", 0,
       "mysql_native_password");
    ok("mysql_clear_password", 1, "mysql_clear_password");
    ok("dialog,client_ed25519", 1, "dialog,client_ed25519");
}

static void test_refusals(void **state)
{
    (void)state;
    refused("mysql_clear_password", 0, "verify_ca or verify_identity");
    refused("client_ed25519,dialog", 0, "dialog sends the password in clear");
    refused("mysql_old_password", 1, "never allowed");
    refused("nope", 1, "unknown plugin 'nope'");
    refused("mysql_native_password,", 0, "unknown plugin ''");
    refused("mysql_native", 0, "unknown plugin 'mysql_native'");
    refused("MYSQL_NATIVE_PASSWORD", 0, "unknown plugin");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_explicit_lists),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
