/*
 * The amysql-batch engine: reads statements, keeps up to `window` of them
 * between submission and output, runs them on the pool, and prints each
 * result in input order as soon as every earlier one has been printed.
 */
#ifndef AMY_CLI_RUN_H
#define AMY_CLI_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "amysql.h"

struct ev_loop;

typedef struct {
    const char *const *files; /* inputs in order, "-" is stdin */
    size_t nfiles;            /* 0: stdin */
    const char *delimiter;    /* NULL: one statement per line */
    int column_names;         /* print the header line */
    int force;                /* go on submitting after a failed statement */
    int stats;                /* print the summary at the end */
    double slow_ms;           /* print statements slower than this (ms) to
                                 stderr; negative: none */
    int progress;             /* draw the progress line (stderr is a tty) */
    size_t window;            /* statements between submission and output */
    size_t max_inflight;      /* statements submitted and not finished: the
                                 pool's connections x pipeline, so that
                                 "in flight" means sent, not queued (0: no
                                 limit but the window) */
    uint64_t input_bytes;     /* total size of the inputs, 0 if unknown */
} amy__cli_run_opts;

/* Exit statuses: every statement ran, some failed, or the run could not
 * go on (bad input, no connection, output error, out of memory). */
enum { AMY__CLI_OK = 0, AMY__CLI_FAILED = 1, AMY__CLI_FATAL = 2 };

/*
 * amy__cli_run - run every statement of the inputs on pool, whose loop is
 * loop; results go to stdout, messages to stderr. Returns an exit status
 * (above), or 128 + the signal number when SIGINT or SIGTERM stopped it.
 * Every future is freed before it returns; the pool is the caller's.
 */
int amy__cli_run(struct ev_loop *loop, amy_pool *pool,
                 const amy__cli_run_opts *o);

#endif
