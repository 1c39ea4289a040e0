/* Tests for src/error.c: status values, messages and names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "amysql.h"

/* The status table, built from the same X-macro the library uses. */
typedef struct {
    int value;        /* AMY_<NAME> as the enum defines it */
    int map_value;    /* the value written in AMY_ERRNO_MAP */
    const char *name; /* "AMY_<NAME>" */
    const char *msg;  /* the message written in AMY_ERRNO_MAP */
} status_row;

static const status_row rows[] = {
#define XX(name, value, msg) {AMY_##name, (value), "AMY_" #name, msg},
    AMY_ERRNO_MAP(XX)
#undef XX
};

#define NROWS (sizeof rows / sizeof rows[0])

/* Smallest value of the map, so that value - 1 is surely unknown. */
static int min_value(void)
{
    int m = 0;
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].value < m)
            m = rows[i].value;
    return m;
}

static void test_map_is_not_empty(void **state)
{
    assert_true(NROWS >= 10);
}

static void test_ok_and_pending_values(void **state)
{
    assert_int_equal(AMY_OK, 0);
    assert_true(AMY_PENDING > 0);
}

static void test_errors_negative_and_match_enum(void **state)
{
    for (size_t i = 0; i < NROWS; i++) {
        if (rows[i].value >= 0)
            print_error("%s has value %d\n", rows[i].name, rows[i].value);
        assert_true(rows[i].value < 0);
        assert_int_equal(rows[i].value, rows[i].map_value);
        assert_int_not_equal(rows[i].value, AMY_OK);
        assert_int_not_equal(rows[i].value, AMY_PENDING);
    }
}

static void test_errors_distinct(void **state)
{
    for (size_t i = 0; i < NROWS; i++)
        for (size_t j = i + 1; j < NROWS; j++) {
            if (rows[i].value == rows[j].value)
                print_error("%s and %s share %d\n", rows[i].name, rows[j].name,
                            rows[i].value);
            assert_int_not_equal(rows[i].value, rows[j].value);
        }
}

static void test_strerror_of_every_error(void **state)
{
    for (size_t i = 0; i < NROWS; i++) {
        const char *m = amy_strerror(rows[i].value);
        assert_non_null(m);
        assert_true(m[0] != '\0');
        assert_string_equal(m, rows[i].msg);
        assert_string_not_equal(m, "unknown status");
        /* Static storage: the same pointer every time. */
        assert_ptr_equal(m, amy_strerror(rows[i].value));
    }
}

static void test_messages_distinct(void **state)
{
    for (size_t i = 0; i < NROWS; i++)
        for (size_t j = i + 1; j < NROWS; j++)
            assert_string_not_equal(amy_strerror(rows[i].value),
                                    amy_strerror(rows[j].value));
}

static void test_status_name_of_every_error(void **state)
{
    for (size_t i = 0; i < NROWS; i++) {
        const char *n = amy_status_name(rows[i].value);
        assert_non_null(n);
        assert_string_equal(n, rows[i].name);
        assert_true(strncmp(n, "AMY_E", 5) == 0);
        assert_true(strlen(n) > 5);
        assert_ptr_equal(n, amy_status_name(rows[i].value));
    }
}

static void test_specific_names(void **state)
{
    assert_string_equal(amy_status_name(AMY_EINVAL), "AMY_EINVAL");
    assert_string_equal(amy_status_name(AMY_ETIMEDOUT), "AMY_ETIMEDOUT");
    assert_string_equal(amy_status_name(AMY_EGATHER), "AMY_EGATHER");
    assert_string_equal(amy_strerror(AMY_ECANCELED), "canceled");
}

static void test_ok_and_pending_strings(void **state)
{
    assert_string_equal(amy_strerror(AMY_OK), "success");
    assert_string_equal(amy_strerror(AMY_PENDING), "pending");
    assert_string_equal(amy_status_name(AMY_OK), "AMY_OK");
    assert_string_equal(amy_status_name(AMY_PENDING), "AMY_PENDING");
    for (size_t i = 0; i < NROWS; i++) {
        assert_string_not_equal(amy_strerror(rows[i].value), "success");
        assert_string_not_equal(amy_strerror(rows[i].value), "pending");
    }
}

static void test_unknown_values(void **state)
{
    const int unknown[] = {
        AMY_PENDING + 1, 2, 42, -1000, min_value() - 1, INT_MIN, INT_MAX,
    };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(amy_strerror(unknown[i]), "unknown status");
        assert_string_equal(amy_status_name(unknown[i]), "AMY_UNKNOWN");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_is_not_empty),
        cmocka_unit_test(test_ok_and_pending_values),
        cmocka_unit_test(test_errors_negative_and_match_enum),
        cmocka_unit_test(test_errors_distinct),
        cmocka_unit_test(test_strerror_of_every_error),
        cmocka_unit_test(test_messages_distinct),
        cmocka_unit_test(test_status_name_of_every_error),
        cmocka_unit_test(test_specific_names),
        cmocka_unit_test(test_ok_and_pending_strings),
        cmocka_unit_test(test_unknown_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
