/* Tests for tools/stats.c and tools/progress.c (amysql-batch); the
 * histogram behind --stats is the library's (test_hist.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "stats.h"

static void test_stats_print(void **state)
{
    const double lat[4] = {1.5, 2.0, 2.25, 2.5};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    amy__cli_stats_print(f, 2, 1, 0.5, lat);
    fclose(f);
    assert_non_null(strstr(buf, "statements  2\n"));
    assert_non_null(strstr(buf, "errors      1\n"));
    assert_non_null(strstr(buf, "wall time   0.500 s\n"));
    assert_non_null(strstr(buf, "rate        4.0 statements/s\n"));
    assert_non_null(strstr(buf, "p50 1.500 ms  p95 2.000 ms  p99 2.250 ms  "
                                "max 2.500 ms"));
    free(buf);
}

static void test_eta(void **state)
{
    char b[32];
    amy__cli_format_eta(b, sizeof b, 0);
    assert_string_equal(b, "0:00");
    amy__cli_format_eta(b, sizeof b, 65.4);
    assert_string_equal(b, "1:05");
    amy__cli_format_eta(b, sizeof b, 3723);
    assert_string_equal(b, "1:02:03");
    amy__cli_format_eta(b, sizeof b, -1);
    assert_string_equal(b, "?");
    amy__cli_format_eta(b, sizeof b, 1e12);
    assert_string_equal(b, "?");
}

static void test_progress_line(void **state)
{
    char b[128];
    amy__cli_progress p = {50, 200, 1, -1, 1, 2.0};
    amy__cli_progress_format(b, sizeof b, &p);
    assert_string_equal(b, "50/200 done, 1 error, 25 q/s, ETA 0:06");

    /* Input still being read: a '+', and the ETA from the estimate. */
    p = (amy__cli_progress){10, 40, 0, 100, 0, 1.0};
    amy__cli_progress_format(b, sizeof b, &p);
    assert_string_equal(b, "10/40+ done, 0 errors, 10 q/s, ETA 0:09");

    /* No estimate and nothing done yet: no ETA. */
    p = (amy__cli_progress){0, 7, 0, -1, 3, 0.0};
    amy__cli_progress_format(b, sizeof b, &p);
    assert_string_equal(b, "0/7+ done, 3 errors, 0 q/s, ETA ?");

    /* Cut to fit, still terminated. */
    char small[8];
    amy__cli_progress_format(small, sizeof small, &p);
    assert_int_equal(strlen(small), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_print),
        cmocka_unit_test(test_eta),
        cmocka_unit_test(test_progress_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
