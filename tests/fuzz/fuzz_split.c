/*
 * Fuzz target for tools/split.c, amysql-batch's statement splitter.
 *
 * Input: one header byte, then the text to split. Header bits 0-2 pick the
 * delimiter (delims[]: line mode, ";", and others that collide with the
 * scanner's own characters), bits 3-7 how the text is cut into chunks for
 * the second run (0: one byte at a time).
 *
 * Invariants beyond "does not crash":
 * - the splitter's promise: fed in one piece or in chunks, the statements
 *   (bytes, length, line), the bytes consumed after each one, and the final
 *   answer (end of input or error, with its message) are the same;
 * - each statement is non-empty, NUL-terminated at its length, has no
 *   leading or trailing whitespace, appears in the input between the bytes
 *   consumed before and after it, starting on the line it names (in line
 *   mode it holds no newline and is no comment);
 * - consumed bytes never go back, and at the end of the input all are
 *   consumed;
 * - an error is sticky, with the same message.
 */
#include <stdbool.h>

#include "fuzz.h"
#include "split.h"

static const char *const delims[8] = {NULL, ";", "$$", "//",
                                      "GO", "#", "d",  "-"};

typedef struct {
    char *sql;
    size_t len;
    unsigned long line;
    unsigned long long consumed;
} stmt;

typedef struct {
    stmt *v;
    size_t n, cap;
    int final; /* AMY__CLI_SPLIT_NEED or AMY__CLI_SPLIT_ERROR */
    char err[256];
} outcome;

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

/* line_at[i]: the line (1-based) of input byte i. */
static unsigned long *line_at;

static void check_stmt(const amy__cli_stmt *st, unsigned long long before,
                       unsigned long long after, const char *in, size_t size,
                       bool lines)
{
    FZ_CHECK(st->len > 0, "empty statement");
    FZ_CHECK(st->sql[st->len] == '\0', "statement not terminated");
    FZ_CHECK(!space(st->sql[0]) && !space(st->sql[st->len - 1]),
             "statement not trimmed");
    FZ_CHECK(after >= before && after <= size,
             "consumed %llu after %llu of %zu", after, before, size);
    if (lines)
        FZ_CHECK(!memchr(st->sql, '\n', st->len) && st->sql[0] != '#',
                 "line mode statement with a newline or a comment");
    bool found = false;
    for (size_t i = before; !found && i + st->len <= after; i++)
        found = in[i] == st->sql[0] && line_at[i] == st->line &&
                memcmp(in + i, st->sql, st->len) == 0;
    FZ_CHECK(found, "statement '%s' (line %lu) not in input [%llu, %llu)",
             st->sql, st->line, before, after);
}

/* Takes every statement ready; returns the last answer. */
static int take(amy__cli_split *s, int eof, outcome *o, const char *in,
                size_t size, bool lines)
{
    amy__cli_stmt st;
    int rc;
    unsigned long long before = amy__cli_split_consumed(s);
    while ((rc = amy__cli_split_next(s, eof, &st, o->err, sizeof o->err)) ==
           AMY__CLI_SPLIT_STMT) {
        unsigned long long after = amy__cli_split_consumed(s);
        check_stmt(&st, before, after, in, size, lines);
        if (o->n > 0)
            FZ_CHECK(st.line >= o->v[o->n - 1].line, "lines go back");
        if (o->n == o->cap) {
            o->cap = o->cap ? 2 * o->cap : 16;
            o->v = realloc(o->v, o->cap * sizeof *o->v);
        }
        stmt *x = &o->v[o->n++];
        x->sql = malloc(st.len + 1);
        memcpy(x->sql, st.sql, st.len + 1);
        x->len = st.len;
        x->line = st.line;
        x->consumed = after;
        before = after;
    }
    FZ_CHECK(amy__cli_split_consumed(s) >= before, "consumed went back");
    FZ_CHECK(rc == AMY__CLI_SPLIT_NEED || rc == AMY__CLI_SPLIT_ERROR,
             "next returned %d", rc);
    if (rc == AMY__CLI_SPLIT_ERROR) {
        FZ_CHECK(o->err[0] != '\0', "error without a message");
        char again[256] = "";
        FZ_CHECK(amy__cli_split_next(s, eof, &st, again, sizeof again) ==
                         AMY__CLI_SPLIT_ERROR &&
                     strcmp(again, o->err) == 0,
                 "error not sticky: '%s' then '%s'", o->err, again);
    }
    return rc;
}

/* Splits in[0, size) fed in chunks (seed: see the top; -1: in one piece). */
static void split(const char *delim, const char *in, size_t size, int seed,
                  outcome *o)
{
    memset(o, 0, sizeof *o);
    amy__cli_split *s = amy__cli_split_new(delim);
    FZ_CHECK(s != NULL, "amy__cli_split_new");
    bool lines = delim == NULL;
    int rc = AMY__CLI_SPLIT_NEED;
    if (seed < 0) {
        FZ_CHECK(amy__cli_split_feed(s, in, size) == 0, "feed failed");
    } else {
        uint32_t x = (uint32_t)seed * 2654435761u + (uint32_t)size + 1;
        for (size_t i = 0; i < size && rc != AMY__CLI_SPLIT_ERROR;) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            size_t k = seed == 0 ? 1 : 1 + x % (2u * (unsigned)seed);
            if (k > size - i)
                k = size - i;
            FZ_CHECK(amy__cli_split_feed(s, in + i, k) == 0, "feed failed");
            i += k;
            rc = take(s, 0, o, in, size, lines);
        }
    }
    if (rc != AMY__CLI_SPLIT_ERROR)
        rc = take(s, 1, o, in, size, lines);
    o->final = rc;
    if (rc == AMY__CLI_SPLIT_NEED)
        FZ_CHECK(amy__cli_split_consumed(s) == size,
                 "at the end %llu of %zu bytes consumed",
                 amy__cli_split_consumed(s), size);
    amy__cli_split_free(s);
}

static void drop(outcome *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->v[i].sql);
    free(o->v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *delim = delims[data[0] & 7];
    int seed = data[0] >> 3;
    const char *in = (const char *)data + 1;
    size--;

    line_at = malloc((size + 1) * sizeof *line_at);
    line_at[0] = 1;
    for (size_t i = 0; i < size; i++)
        line_at[i + 1] = line_at[i] + (in[i] == '\n');

    outcome a, b;
    split(delim, in, size, -1, &a);
    split(delim, in, size, seed, &b);
    FZ_CHECK(a.final == b.final, "one piece: %s, chunks: %s",
             a.final ? "error" : "end", b.final ? "error" : "end");
    FZ_CHECK(a.final != AMY__CLI_SPLIT_ERROR || strcmp(a.err, b.err) == 0,
             "errors differ: '%s' and '%s'", a.err, b.err);
    FZ_CHECK(a.n == b.n, "%zu statements in one piece, %zu in chunks", a.n,
             b.n);
    for (size_t i = 0; i < a.n; i++)
        FZ_CHECK(a.v[i].len == b.v[i].len &&
                     memcmp(a.v[i].sql, b.v[i].sql, a.v[i].len) == 0 &&
                     a.v[i].line == b.v[i].line &&
                     a.v[i].consumed == b.v[i].consumed,
                 "statement %zu: '%s' line %lu in one piece, '%s' line %lu "
                 "in chunks",
                 i, a.v[i].sql, a.v[i].line, b.v[i].sql, b.v[i].line);
    drop(&a);
    drop(&b);
    free(line_at);
    return 0;
}
