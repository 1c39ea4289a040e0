/*
 * Splitting an input stream into SQL statements, for amysql-batch.
 *
 * Two modes. Line mode (no delimiter): every non-blank line is one statement;
 * a trailing ';' is dropped and lines that are only a '#' or '-- ' comment
 * are skipped. Delimiter mode: statements end at the delimiter (any string,
 * e.g. ";" or "$$"), except inside '...', "..." and `...` quotes and inside
 * comments (#, "-- ", slash-star); a line "DELIMITER xyz" at the start of a
 * statement changes the delimiter, as in the mariadb client.
 *
 * The splitter is fed bytes as they are read and hands out statements as
 * soon as they are complete, so input of any size streams through it.
 */
#ifndef AMY_CLI_SPLIT_H
#define AMY_CLI_SPLIT_H

#include <stddef.h>

typedef struct amy__cli_split amy__cli_split;

typedef struct {
    const char *sql;    /* NUL-terminated, trimmed; valid until the next call */
    size_t len;         /* bytes, without the terminator */
    unsigned long line; /* 1-based line of the statement's first byte */
} amy__cli_stmt;

enum {
    AMY__CLI_SPLIT_ERROR = -1, /* bad input (message in err) or no memory */
    AMY__CLI_SPLIT_NEED = 0,   /* no complete statement: feed more bytes */
    AMY__CLI_SPLIT_STMT = 1    /* *out has the next statement */
};

/* delimiter: NULL or "" for line mode. Returns NULL when memory runs out. */
amy__cli_split *amy__cli_split_new(const char *delimiter);
void amy__cli_split_free(amy__cli_split *s);

/* Appends n bytes of input. Returns 0, or -1 when memory runs out. */
int amy__cli_split_feed(amy__cli_split *s, const char *data, size_t n);

/*
 * amy__cli_split_next - the next complete statement, if any.
 *
 * eof: nonzero when no more bytes will be fed for this input; the text after
 *      the last delimiter is then a statement too, and an open quote or
 *      comment is an error.
 * err: receives a message for AMY__CLI_SPLIT_ERROR (e.g. "unterminated
 *      string starting at line 3"); may be NULL.
 *
 * Returns AMY__CLI_SPLIT_STMT, AMY__CLI_SPLIT_NEED (at eof: input exhausted)
 * or AMY__CLI_SPLIT_ERROR (then every later call fails too).
 */
int amy__cli_split_next(amy__cli_split *s, int eof, amy__cli_stmt *out,
                        char *err, size_t errlen);

/*
 * Starts a new input (the next file): line numbers restart at 1 and any
 * unread bytes are dropped; a delimiter changed by DELIMITER is kept.
 */
void amy__cli_split_restart(amy__cli_split *s);

/* Bytes of this input consumed so far: handed out as statements, or
 * skipped as blank lines, comments and delimiters. */
unsigned long long amy__cli_split_consumed(const amy__cli_split *s);

/* The current delimiter ("" in line mode). */
const char *amy__cli_split_delimiter(const amy__cli_split *s);

#endif
