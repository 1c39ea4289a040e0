/* Tests for tools/stats.c and tools/progress.c (amysql-batch). */
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

static void test_empty(void **state)
{
    amy__cli_hist h;
    assert_int_equal(amy__cli_hist_init(&h), 0);
    assert_int_equal(amy__cli_hist_percentile(&h, 50), 0);
    assert_int_equal(h.max_us, 0);
    amy__cli_hist_free(&h);
    amy__cli_hist_free(&h); /* twice is harmless */
}

static void test_small_values_exact(void **state)
{
    amy__cli_hist h;
    assert_int_equal(amy__cli_hist_init(&h), 0);
    for (uint64_t v = 1; v <= 100; v++)
        amy__cli_hist_add(&h, v);
    assert_int_equal(amy__cli_hist_percentile(&h, 50), 50);
    assert_int_equal(amy__cli_hist_percentile(&h, 95), 95);
    assert_int_equal(amy__cli_hist_percentile(&h, 99), 99);
    assert_int_equal(amy__cli_hist_percentile(&h, 100), 100);
    assert_int_equal(amy__cli_hist_percentile(&h, 0.001), 1);
    assert_int_equal(h.n, 100);
    amy__cli_hist_free(&h);
}

static void test_large_values_within_one_percent(void **state)
{
    amy__cli_hist h;
    assert_int_equal(amy__cli_hist_init(&h), 0);
    /* 1000 values: 1 ms, 2 ms, ... 1000 ms. */
    for (uint64_t i = 1; i <= 1000; i++)
        amy__cli_hist_add(&h, i * 1000);
    uint64_t want[] = {500000, 950000, 990000};
    double ps[] = {50, 95, 99};
    for (int k = 0; k < 3; k++) {
        uint64_t got = amy__cli_hist_percentile(&h, ps[k]);
        assert_true(got >= want[k]);
        assert_true((double)got <= (double)want[k] * 1.01);
    }
    assert_int_equal(amy__cli_hist_percentile(&h, 100), 1000000);
    assert_int_equal(h.max_us, 1000000);
    amy__cli_hist_free(&h);
}

static void test_percentile_never_above_max(void **state)
{
    amy__cli_hist h;
    assert_int_equal(amy__cli_hist_init(&h), 0);
    amy__cli_hist_add(&h, 1000001);
    assert_int_equal(amy__cli_hist_percentile(&h, 50), 1000001);
    amy__cli_hist_add(&h, UINT64_MAX); /* capped bucket, exact max */
    assert_int_equal(h.max_us, UINT64_MAX);
    assert_true(amy__cli_hist_percentile(&h, 100) <= UINT64_MAX);
    assert_true(amy__cli_hist_percentile(&h, 50) >= 1000001);
    amy__cli_hist_free(&h);
}

static void test_stats_print(void **state)
{
    amy__cli_hist h;
    assert_int_equal(amy__cli_hist_init(&h), 0);
    amy__cli_hist_add(&h, 1500);
    amy__cli_hist_add(&h, 2500);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    amy__cli_stats_print(f, 2, 1, 0.5, &h);
    fclose(f);
    assert_non_null(strstr(buf, "statements  2\n"));
    assert_non_null(strstr(buf, "errors      1\n"));
    assert_non_null(strstr(buf, "wall time   0.500 s\n"));
    assert_non_null(strstr(buf, "rate        4.0 statements/s\n"));
    assert_non_null(strstr(buf, "max 2.500 ms"));
    assert_non_null(strstr(buf, "p50 1.5"));
    free(buf);
    amy__cli_hist_free(&h);
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
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_small_values_exact),
        cmocka_unit_test(test_large_values_within_one_percent),
        cmocka_unit_test(test_percentile_never_above_max),
        cmocka_unit_test(test_stats_print),
        cmocka_unit_test(test_eta),
        cmocka_unit_test(test_progress_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
