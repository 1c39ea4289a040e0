/* Tests for src/hist.c: log-linear latency histograms (no server). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "amysql.h"
#include "hist.h"

static void test_empty(void **state)
{
    amy__hist h = {0};
    assert_int_equal(amy__hist_percentile(&h, 50), 0);
    uint64_t c[3];
    double b[2] = {0.001, 0.01};
    assert_int_equal(amy__hist_buckets(&h, b, 2, c), 0);
    assert_int_equal(c[0] + c[1] + c[2], 0);
    amy__hist_free(&h);
    amy__hist_free(&h); /* twice is harmless */
}

static void test_small_values_exact(void **state)
{
    amy__hist h = {0};
    for (int v = 1; v <= 60; v++)
        amy__hist_add(&h, v / 1e6);
    assert_int_equal(amy__hist_percentile(&h, 50), 30);
    assert_int_equal(amy__hist_percentile(&h, 100), 60);
    assert_int_equal(amy__hist_percentile(&h, 0.001), 1);
    assert_int_equal(h.n, 60);
    amy__hist_add(&h, -1); /* counts as 0 */
    assert_int_equal(amy__hist_percentile(&h, 0.001), 0);
    amy__hist_free(&h);
}

static void test_large_values_within_1_6_percent(void **state)
{
    amy__hist h = {0};
    /* 1 ms, 2 ms, ... 1000 ms. */
    for (int i = 1; i <= 1000; i++)
        amy__hist_add(&h, i / 1e3);
    uint64_t want[] = {500000, 950000, 990000};
    double ps[] = {50, 95, 99};
    for (int k = 0; k < 3; k++) {
        uint64_t got = amy__hist_percentile(&h, ps[k]);
        assert_true(got >= want[k]);
        assert_true((double)got <= (double)want[k] * 1.016);
    }
    assert_int_equal(amy__hist_percentile(&h, 100), 1000000); /* exact max */
    assert_true(h.sum_s > 500.4 && h.sum_s < 500.6);
    amy__hist_free(&h);
}

static void test_huge_values_capped(void **state)
{
    amy__hist h = {0};
    amy__hist_add(&h, 1e9); /* 31 years: the capped bucket, exact max */
    assert_int_equal(h.max_us, 1000000000000000ull);
    assert_true(amy__hist_percentile(&h, 50) <= h.max_us);
    amy__hist_free(&h);
}

/* Bucket counts at OpenTelemetry's boundaries: exact below 64 us, a value
 * above a boundary never counted below it. */
static void test_buckets(void **state)
{
    amy__hist h = {0};
    amy__hist_add(&h, 0.000005); /* 5 us */
    amy__hist_add(&h, 0.00001);  /* 10 us: <= 0.00001 */
    amy__hist_add(&h, 0.000011); /* 11 us */
    amy__hist_add(&h, 0.003);    /* 3 ms */
    amy__hist_add(&h, 0.02);     /* 20 ms */
    amy__hist_add(&h, 100);      /* above the last */
    uint64_t c[AMY_HIST_NBOUNDS + 1];
    assert_int_equal(
        amy__hist_buckets(&h, amy_hist_bounds, AMY_HIST_NBOUNDS, c), 6);
    assert_int_equal(c[0], 2); /* <= 10 us */
    assert_int_equal(c[1], 1); /* (10, 20] us */
    assert_int_equal(c[7], 1); /* (1, 5] ms */
    assert_int_equal(c[9], 1); /* (10, 50] ms */
    assert_int_equal(c[AMY_HIST_NBOUNDS], 1);
    for (int i = 1; i < AMY_HIST_NBOUNDS; i++)
        assert_true(amy_hist_bounds[i] > amy_hist_bounds[i - 1]);
    assert_true(amy_hist_bounds[6] == 0.001 && amy_hist_bounds[14] == 10);
    amy__hist_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_small_values_exact),
        cmocka_unit_test(test_large_values_within_1_6_percent),
        cmocka_unit_test(test_huge_values_capped),
        cmocka_unit_test(test_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
