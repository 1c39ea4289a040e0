/*
 * Latency statistics for amysql-batch --stats: a log-linear histogram in
 * microseconds, so memory stays fixed however many statements run. Each
 * power of two is cut into 128 buckets: a percentile is within 1% of the
 * true value (rounded up), and the maximum is exact.
 */
#ifndef AMY_CLI_STATS_H
#define AMY_CLI_STATS_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
    uint64_t *counts;
    uint64_t n;      /* values added */
    uint64_t max_us; /* largest value added */
} amy__cli_hist;

/* Returns 0, or -1 when memory runs out. */
int amy__cli_hist_init(amy__cli_hist *h);
void amy__cli_hist_free(amy__cli_hist *h);

void amy__cli_hist_add(amy__cli_hist *h, uint64_t us);

/*
 * The p-th percentile (0 < p <= 100) in microseconds: the smallest value v
 * such that at least p% of the values are <= v, up to the bucket width
 * (never more than max_us). 0 when nothing was added.
 */
uint64_t amy__cli_hist_percentile(const amy__cli_hist *h, double p);

/* The --stats summary, several lines. */
void amy__cli_stats_print(FILE *out, uint64_t statements, uint64_t errors,
                          double wall_s, const amy__cli_hist *h);

#endif
