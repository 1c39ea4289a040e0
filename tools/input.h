/* The inputs of amysql-batch: files named on the command line, or stdin. */
#ifndef AMY_CLI_INPUT_H
#define AMY_CLI_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* "stdin" for "-", else the path itself: how messages name an input. */
const char *amy__cli_input_name(const char *path);

/*
 * amy__cli_input_open - open an input for reading ("-" is stdin, not
 * reopened). Directories are refused here, so the message is about the
 * path rather than a read error later.
 *
 * fd:      receives the descriptor (the caller closes it unless it is 0).
 * regular: set when the input is a regular file: reads never wait, so they
 *          need no event loop, and *size holds its size.
 *
 * Returns 0, or -1 with "cannot open PATH: REASON" in err.
 */
int amy__cli_input_open(const char *path, int *fd, int *regular, uint64_t *size,
                        char *err, size_t errlen);

/*
 * Checks, before anything runs, that every input can be opened: a typo in
 * the third file should not be found after the first two have run.
 * *total_bytes receives the sum of the sizes when all inputs are regular
 * files (used for the ETA), else 0. Returns 0, or -1 with a message.
 */
int amy__cli_input_check(const char *const *paths, size_t n,
                         uint64_t *total_bytes, char *err, size_t errlen);

#endif
