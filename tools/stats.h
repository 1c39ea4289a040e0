/*
 * The --stats summary of amysql-batch. The latencies come from the pool's
 * duration histogram (amy_pool_percentile): one implementation, the
 * library's.
 */
#ifndef AMY_CLI_STATS_H
#define AMY_CLI_STATS_H

#include <stdint.h>
#include <stdio.h>

/* The --stats summary, several lines; lat_ms: p50, p95, p99 and the
 * maximum, in milliseconds. */
void amy__cli_stats_print(FILE *out, uint64_t statements, uint64_t errors,
                          double wall_s, const double lat_ms[4]);

#endif
