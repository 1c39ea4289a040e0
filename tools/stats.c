/* Latency histogram and the --stats summary (see stats.h). */
#include "stats.h"

#include <stdlib.h>

#define SUB_BITS 7
#define SUB      (1u << SUB_BITS)
#define MAX_EXP  40 /* values are capped at 2^40 us, about 12 days */
#define NBUCKETS (SUB + (MAX_EXP - SUB_BITS) * SUB)

static unsigned bucket_of(uint64_t v)
{
    if (v < SUB)
        return (unsigned)v;
    if (v >= ((uint64_t)1 << MAX_EXP))
        v = ((uint64_t)1 << MAX_EXP) - 1;
    unsigned e = 0;
    while ((v >> e) >= 2 * SUB)
        e++;
    /* v >> e is in [SUB, 2*SUB): e counts the powers above the exact range */
    return SUB + e * SUB + (unsigned)((v >> e) - SUB);
}

/* The largest value that falls in bucket i. */
static uint64_t bucket_top(unsigned i)
{
    if (i < SUB)
        return i;
    unsigned e = (i - SUB) / SUB, m = (i - SUB) % SUB;
    return (((uint64_t)(SUB + m) + 1) << e) - 1;
}

int amy__cli_hist_init(amy__cli_hist *h)
{
    h->counts = calloc(NBUCKETS, sizeof *h->counts);
    h->n = h->max_us = 0;
    return h->counts ? 0 : -1;
}

void amy__cli_hist_free(amy__cli_hist *h)
{
    free(h->counts);
    h->counts = NULL;
}

void amy__cli_hist_add(amy__cli_hist *h, uint64_t us)
{
    h->counts[bucket_of(us)]++;
    h->n++;
    if (us > h->max_us)
        h->max_us = us;
}

uint64_t amy__cli_hist_percentile(const amy__cli_hist *h, double p)
{
    if (h->n == 0)
        return 0;
    double want = p / 100.0 * (double)h->n;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < NBUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t top = bucket_top(i);
            return top < h->max_us ? top : h->max_us;
        }
    }
    return h->max_us;
}

void amy__cli_stats_print(FILE *out, uint64_t statements, uint64_t errors,
                          double wall_s, const amy__cli_hist *h)
{
    fprintf(out, "statements  %llu\n", (unsigned long long)statements);
    fprintf(out, "errors      %llu\n", (unsigned long long)errors);
    fprintf(out, "wall time   %.3f s\n", wall_s);
    fprintf(out, "rate        %.1f statements/s\n",
            wall_s > 0 ? (double)statements / wall_s : 0.0);
    fprintf(out,
            "latency     p50 %.3f ms  p95 %.3f ms  p99 %.3f ms  max %.3f ms\n",
            (double)amy__cli_hist_percentile(h, 50) / 1000.0,
            (double)amy__cli_hist_percentile(h, 95) / 1000.0,
            (double)amy__cli_hist_percentile(h, 99) / 1000.0,
            (double)h->max_us / 1000.0);
}
