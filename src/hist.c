/* Log-linear latency histograms (see hist.h). */
#include "hist.h"

#include <stdlib.h>

#define SUB_BITS 6
#define SUB      (1u << SUB_BITS)
#define MAX_EXP  38 /* values are capped at 2^38 us, about 3 days */
#define NBUCKETS (SUB + (MAX_EXP - SUB_BITS) * SUB)

static unsigned bucket_of(uint64_t v)
{
    if (v < SUB)
        return (unsigned)v;
    if (v >= ((uint64_t)1 << MAX_EXP))
        v = ((uint64_t)1 << MAX_EXP) - 1;
    /* e: how many powers of two v stands above the exact range. */
    unsigned e = (unsigned)(63 - __builtin_clzll(v)) - SUB_BITS;
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

void amy__hist_add(amy__hist *h, double seconds)
{
    double us = seconds > 0 ? seconds * 1e6 : 0;
    uint64_t v = us < 1.8e19 ? (uint64_t)us : UINT64_MAX;
    if (!h->counts)
        h->counts = calloc(NBUCKETS, sizeof *h->counts);
    if (h->counts)
        h->counts[bucket_of(v)]++;
    h->n++;
    h->sum_s += seconds > 0 ? seconds : 0;
    if (v > h->max_us)
        h->max_us = v;
}

uint64_t amy__hist_percentile(const amy__hist *h, double p)
{
    if (h->n == 0 || !h->counts)
        return h->max_us;
    uint64_t total = 0;
    for (unsigned i = 0; i < NBUCKETS; i++)
        total += h->counts[i];
    double want = p / 100.0 * (double)total;
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

uint64_t amy__hist_buckets(const amy__hist *h, const double *bounds, size_t n,
                           uint64_t *counts)
{
    for (size_t j = 0; j <= n; j++)
        counts[j] = 0;
    if (!h->counts)
        return 0;
    uint64_t total = 0;
    size_t j = 0;
    for (unsigned i = 0; i < NBUCKETS; i++) {
        if (!h->counts[i])
            continue;
        double top = (double)bucket_top(i) / 1e6;
        while (j < n && top > bounds[j])
            j++;
        counts[j] += h->counts[i];
        total += h->counts[i];
    }
    return total;
}

void amy__hist_free(amy__hist *h)
{
    free(h->counts);
    h->counts = NULL;
}
