/*
 * Statement splitter (see split.h).
 *
 * The scan is incremental: the position, the lexical state (in a quote, in
 * a comment) and the line counter survive between calls, so each byte is
 * looked at once however the input is chunked. Where a decision needs bytes
 * not read yet ("--" might start a comment, ";" might begin "$$"), the scan
 * stops and waits for more input, or for eof.
 */
#include "split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum state { S_NORMAL, S_QUOTE, S_LINE_COMMENT, S_BLOCK_COMMENT };

struct amy__cli_split {
    char *buf;
    size_t len, cap;
    size_t start; /* bytes before this are consumed */
    size_t pos;   /* next byte to scan */
    size_t first; /* first content byte of the statement (if has_content) */
    unsigned long long dropped; /* consumed bytes moved out of buf */
    enum state st;
    char quote;
    int esc;  /* in a quote, the previous byte was a backslash */
    int star; /* in a block comment, the previous byte was '*' */
    int has_content;
    unsigned long line, stmt_line, open_line;
    int lines_mode;
    char *delim;
    size_t dlen;
    char errmsg[160]; /* non-empty once failed */
};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int set_delim(amy__cli_split *s, const char *d, size_t n)
{
    char *copy = malloc(n + 1);
    if (!copy)
        return -1;
    memcpy(copy, d, n);
    copy[n] = '\0';
    free(s->delim);
    s->delim = copy;
    s->dlen = n;
    return 0;
}

amy__cli_split *amy__cli_split_new(const char *delimiter)
{
    amy__cli_split *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->lines_mode = delimiter == NULL || *delimiter == '\0';
    if (set_delim(s, s->lines_mode ? "" : delimiter,
                  s->lines_mode ? 0 : strlen(delimiter)) != 0) {
        free(s);
        return NULL;
    }
    s->cap = 4096;
    s->buf = malloc(s->cap);
    if (!s->buf) {
        free(s->delim);
        free(s);
        return NULL;
    }
    s->line = 1;
    return s;
}

void amy__cli_split_free(amy__cli_split *s)
{
    if (!s)
        return;
    free(s->buf);
    free(s->delim);
    free(s);
}

const char *amy__cli_split_delimiter(const amy__cli_split *s)
{
    return s->delim;
}

unsigned long long amy__cli_split_consumed(const amy__cli_split *s)
{
    return s->dropped + s->start;
}

void amy__cli_split_restart(amy__cli_split *s)
{
    s->dropped = 0;
    s->len = s->start = s->pos = s->first = 0;
    s->st = S_NORMAL;
    s->esc = s->star = s->has_content = 0;
    s->line = 1;
}

int amy__cli_split_feed(amy__cli_split *s, const char *data, size_t n)
{
    if (s->start > 0) {
        /* Consumed bytes go first, so the buffer holds one statement. */
        memmove(s->buf, s->buf + s->start, s->len - s->start);
        s->dropped += s->start;
        s->len -= s->start;
        s->pos -= s->start;
        if (s->has_content)
            s->first -= s->start;
        s->start = 0;
    }
    /* One spare byte for the terminator of a statement ending at eof. */
    if (n >= s->cap - s->len) {
        size_t cap = s->cap;
        while (n >= cap - s->len) {
            if (cap > ((size_t)-1) / 2)
                return -1;
            cap *= 2;
        }
        char *b = realloc(s->buf, cap);
        if (!b)
            return -1;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    return 0;
}

static int fail(amy__cli_split *s, char *err, size_t errlen, const char *fmt,
                unsigned long line)
{
    if (s->errmsg[0] == '\0')
        snprintf(s->errmsg, sizeof s->errmsg, fmt, line);
    if (err && errlen)
        snprintf(err, errlen, "%s", s->errmsg);
    return AMY__CLI_SPLIT_ERROR;
}

/* Hands out buf[b, e) as a statement, trimmed; consumes up to `next`. */
static int emit(amy__cli_split *s, size_t b, size_t e, size_t next,
                unsigned long line, amy__cli_stmt *out)
{
    while (b < e && is_space(s->buf[b]))
        b++;
    while (e > b && is_space(s->buf[e - 1]))
        e--;
    s->buf[e] = '\0'; /* e < next, or e == len < cap */
    s->start = s->pos = next;
    s->has_content = 0;
    out->sql = s->buf + b;
    out->len = e - b;
    out->line = line;
    return AMY__CLI_SPLIT_STMT;
}

static int next_line(amy__cli_split *s, int eof, amy__cli_stmt *out)
{
    while (s->pos < s->len) {
        char *nl = memchr(s->buf + s->pos, '\n', s->len - s->pos);
        if (!nl && !eof)
            return AMY__CLI_SPLIT_NEED;
        size_t b = s->pos, e = nl ? (size_t)(nl - s->buf) : s->len;
        size_t next = nl ? e + 1 : s->len;
        unsigned long line = s->line;
        if (nl)
            s->line++;
        s->start = s->pos = next;
        while (b < e && is_space(s->buf[b]))
            b++;
        while (e > b && is_space(s->buf[e - 1]))
            e--;
        if (e > b && s->buf[e - 1] == ';')
            e--;
        while (e > b && is_space(s->buf[e - 1]))
            e--;
        if (e == b || s->buf[b] == '#')
            continue;
        if (e - b >= 2 && s->buf[b] == '-' && s->buf[b + 1] == '-' &&
            (e - b == 2 || (unsigned char)s->buf[b + 2] <= ' '))
            continue;
        return emit(s, b, e, next, line, out);
    }
    return AMY__CLI_SPLIT_NEED;
}

static void content(amy__cli_split *s)
{
    if (!s->has_content) {
        s->has_content = 1;
        s->first = s->pos;
        s->stmt_line = s->line;
    }
}

/* delimiter_command() results besides AMY__CLI_SPLIT_ERROR. */
enum { CMD_NO = 0, CMD_DONE = 1, CMD_NEED = 2 };

/* "DELIMITER xyz" where a statement would start. */
static int delimiter_command(amy__cli_split *s, int eof, char *err,
                             size_t errlen)
{
    static const char kw[] = "delimiter";
    const size_t kwlen = sizeof kw - 1;
    size_t avail = s->len - s->pos;
    const char *p = s->buf + s->pos;
    for (size_t i = 0; i < kwlen; i++) {
        if (i == avail)
            return eof ? CMD_NO : CMD_NEED;
        if (lower(p[i]) != kw[i])
            return CMD_NO;
    }
    if (avail == kwlen)
        return eof ? CMD_NO : CMD_NEED;
    if (p[kwlen] != ' ' && p[kwlen] != '\t')
        return CMD_NO;
    const char *nl = memchr(p, '\n', avail);
    if (!nl && !eof)
        return CMD_NEED;
    const char *end = nl ? nl : p + avail;
    const char *w = p + kwlen;
    while (w < end && is_space(*w))
        w++;
    const char *we = w;
    while (we < end && !is_space(*we))
        we++;
    if (we == w)
        return fail(s, err, errlen, "DELIMITER without a delimiter at line %lu",
                    s->line);
    for (const char *c = w; c < we; c++)
        if (*c == '\'' || *c == '"' || *c == '`' || *c == '\\')
            return fail(s, err, errlen,
                        "DELIMITER at line %lu: a delimiter may not contain "
                        "quotes or backslashes",
                        s->line);
    if (set_delim(s, w, (size_t)(we - w)) != 0)
        return fail(s, err, errlen, "out of memory (line %lu)", s->line);
    s->start = s->pos = nl ? (size_t)(nl - s->buf) + 1 : s->len;
    if (nl)
        s->line++;
    return CMD_DONE;
}

int amy__cli_split_next(amy__cli_split *s, int eof, amy__cli_stmt *out,
                        char *err, size_t errlen)
{
    if (s->errmsg[0])
        return fail(s, err, errlen, "%lu", 0);
    if (s->lines_mode)
        return next_line(s, eof, out);

    while (s->pos < s->len) {
        char c = s->buf[s->pos];
        size_t avail = s->len - s->pos;
        switch (s->st) {
        case S_QUOTE:
            if (s->esc)
                s->esc = 0;
            else if (c == '\\' && s->quote != '`')
                s->esc = 1;
            else if (c == s->quote)
                s->st = S_NORMAL; /* a doubled quote reopens at once */
            break;
        case S_LINE_COMMENT:
            if (c == '\n')
                s->st = S_NORMAL;
            break;
        case S_BLOCK_COMMENT:
            if (s->star && c == '/')
                s->st = S_NORMAL;
            s->star = c == '*';
            break;
        case S_NORMAL:
            if (!s->has_content && (c == 'd' || c == 'D')) {
                int rc = delimiter_command(s, eof, err, errlen);
                if (rc == CMD_DONE)
                    continue;
                if (rc == CMD_NEED)
                    return AMY__CLI_SPLIT_NEED;
                if (rc == AMY__CLI_SPLIT_ERROR)
                    return rc;
            }
            if (c == s->delim[0]) {
                size_t n = avail < s->dlen ? avail : s->dlen;
                if (memcmp(s->buf + s->pos, s->delim, n) == 0) {
                    if (n < s->dlen) {
                        if (!eof)
                            return AMY__CLI_SPLIT_NEED;
                    } else if (!s->has_content) {
                        s->start = s->pos += s->dlen;
                        continue; /* empty statement: nothing to run */
                    } else {
                        return emit(s, s->first, s->pos, s->pos + s->dlen,
                                    s->stmt_line, out);
                    }
                }
            }
            if (c == '\'' || c == '"' || c == '`') {
                content(s);
                s->st = S_QUOTE;
                s->quote = c;
                s->esc = 0;
                s->open_line = s->line;
            } else if (c == '#') {
                s->st = S_LINE_COMMENT;
            } else if (c == '-' && (avail < 2 || s->buf[s->pos + 1] == '-')) {
                /* "--" starts a comment only before whitespace or the end. */
                if (avail < 3 && !eof)
                    return AMY__CLI_SPLIT_NEED;
                if (avail == 1)
                    content(s);
                else if (avail == 2 ||
                         (unsigned char)s->buf[s->pos + 2] <= ' ') {
                    s->st = S_LINE_COMMENT;
                    s->pos++; /* the second '-' */
                } else {
                    content(s);
                }
            } else if (c == '/' && (avail < 2 || s->buf[s->pos + 1] == '*')) {
                if (avail < 4 && !eof)
                    return AMY__CLI_SPLIT_NEED;
                if (avail == 1) {
                    content(s);
                    break;
                }
                /* The server runs what is inside slash-star-! comments. */
                if (avail >= 3 && (s->buf[s->pos + 2] == '!' ||
                                   (avail >= 4 && s->buf[s->pos + 2] == 'M' &&
                                    s->buf[s->pos + 3] == '!')))
                    content(s);
                s->st = S_BLOCK_COMMENT;
                s->star = 0;
                s->open_line = s->line;
                s->pos++; /* the '*' */
            } else if (!is_space(c)) {
                content(s);
            }
            break;
        }
        if (c == '\n')
            s->line++;
        s->pos++;
    }
    if (!eof)
        return AMY__CLI_SPLIT_NEED;
    if (s->st == S_QUOTE)
        return fail(s, err, errlen,
                    s->quote == '`'
                        ? "unterminated quoted identifier (`) starting at "
                          "line %lu"
                        : (s->quote == '"' ? "unterminated string (\") "
                                             "starting at line %lu"
                                           : "unterminated string (') "
                                             "starting at line %lu"),
                    s->open_line);
    if (s->st == S_BLOCK_COMMENT)
        return fail(s, err, errlen,
                    "unterminated comment (/*) starting at line %lu",
                    s->open_line);
    s->st = S_NORMAL;
    if (s->has_content)
        return emit(s, s->first, s->len, s->len, s->stmt_line, out);
    s->start = s->pos;
    return AMY__CLI_SPLIT_NEED;
}
