/*
 * The text of amysql-batch's progress line (drawing it, and when, is the
 * runner's job): "120/4096 done, 1 error, 2345 q/s, ETA 0:02".
 */
#ifndef AMY_CLI_PROGRESS_H
#define AMY_CLI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t done;    /* statements finished */
    uint64_t total;   /* statements read so far */
    int total_final;  /* the whole input has been read */
    double est_total; /* estimate of the final total while reading, or <= 0 */
    uint64_t errors;
    double elapsed; /* seconds since the start */
} amy__cli_progress;

/* Formats the line into buf (always NUL-terminated, cut to fit). */
void amy__cli_progress_format(char *buf, size_t len,
                              const amy__cli_progress *p);

/* "1:05", "1:02:03", or "?" for a negative or absurd number of seconds. */
void amy__cli_format_eta(char *buf, size_t len, double seconds);

#endif
