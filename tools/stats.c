/* The --stats summary (see stats.h). */
#include "stats.h"

void amy__cli_stats_print(FILE *out, uint64_t statements, uint64_t errors,
                          double wall_s, const double lat_ms[4])
{
    fprintf(out, "statements  %llu\n", (unsigned long long)statements);
    fprintf(out, "errors      %llu\n", (unsigned long long)errors);
    fprintf(out, "wall time   %.3f s\n", wall_s);
    fprintf(out, "rate        %.1f statements/s\n",
            wall_s > 0 ? (double)statements / wall_s : 0.0);
    fprintf(out,
            "latency     p50 %.3f ms  p95 %.3f ms  p99 %.3f ms  max %.3f ms\n",
            lat_ms[0], lat_ms[1], lat_ms[2], lat_ms[3]);
}
