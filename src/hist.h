/*
 * Latency histograms: log-linear in microseconds, so memory stays fixed
 * however many values are added and a percentile is within 1/64 (1.6 %)
 * of the true value. Values below 64 us have a bucket each (exact); above,
 * each power of two is cut into 64 buckets. Internal: the pool keeps
 * three (amy_pool_percentile, amy_pool_histogram, through observe.c), amysql-batch reads
 * them through the pool.
 */
#ifndef AMY_HIST_H
#define AMY_HIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct amy__hist {
    uint64_t *counts; /* made on the first value; NULL until then */
    uint64_t n;       /* values added */
    uint64_t max_us;  /* the largest, exact */
    double sum_s;     /* their sum, in seconds */
} amy__hist;

/* Adds a value of `seconds` (negative counts as 0). When memory for the
 * buckets runs out the value is counted in n, max and sum only. */
void amy__hist_add(amy__hist *h, double seconds);

/*
 * The p-th percentile (0 < p <= 100) in microseconds: the smallest bucket
 * top v such that at least p% of the values are <= v, never above max_us.
 * 0 when nothing was added.
 */
uint64_t amy__hist_percentile(const amy__hist *h, double p);

/*
 * Counts per explicit bucket: counts[i] = values v with bounds[i-1] < v <=
 * bounds[i] (seconds, ascending), counts[n] = above the last. A value is
 * placed by its bucket's top, so a value within 1.6 % below a bound above
 * 64 us may be counted above it. Returns the total.
 */
uint64_t amy__hist_buckets(const amy__hist *h, const double *bounds, size_t n,
                           uint64_t *counts);

void amy__hist_free(amy__hist *h);

#endif
