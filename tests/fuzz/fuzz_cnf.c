/*
 * Fuzz target for tools/cnf.c, amysql-batch's option-file reader.
 *
 * Input: up to three option files separated by a line "--8<--": main.cnf
 * (the one read), inc.cnf and d/x.cnf, written into a private directory
 * made at start-up. That directory also holds d/y.txt (not *.cnf: never
 * read) and e/z.cnf (a directory: reading it fails). So that the reader
 * stays inside it, each "!include X" or "!includedir X" line (as cnf.c
 * recognises them) is rewritten to name one of these, or something missing,
 * chosen by X's first byte b: "!include" b % 6 = 0 inc.cnf, 1 main.cnf (a
 * loop), 2 d/x.cnf, 3 missing.cnf, 4 d, 5 e/z.cnf (directories); "!includedir"
 * b % 4 = 0 d, 1 e, 2 a missing directory, 3 d/x.cnf (a file); '0'..'5' give
 * them in order. Only the first such line of a file is kept (the others
 * become comments), so that includes branch no more than a chain.
 *
 * Invariants beyond "does not crash":
 * - every option reaches the callback with a non-empty name, trimmed, with
 *   no '=' and no '_' (normalised to '-'), no "loose-" left when the name
 *   had one; from one of the files, on a line it has; a value with no quote,
 *   backslash or '#' exactly as written, trimmed;
 * - the result is 0 or -1, and -1 comes with a message: the callback's own
 *   when it fails (on an option named "stop"), after which no option
 *   reaches it.
 */
#define _GNU_SOURCE /* memmem */
#include <stdbool.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnf.h"
#include "fuzz.h"

#define SEP "\n--8<--\n"

static char dir[256], path_main[300], path_inc[300], path_x[300];
static const char *const groups[] = {"client", "amysql-batch", NULL};

static void remove_dir(void)
{
    char p[320];
    const char *const files[] = {"main.cnf", "inc.cnf", "d/x.cnf", "d/y.txt"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    const char *const dirs[] = {"e/z.cnf", "e", "d", ""};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, dirs[i]);
        rmdir(p);
    }
}

static void write_file(const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "w");
    FZ_CHECK(f != NULL, "cannot write %s", path);
    FZ_CHECK(fwrite(s, 1, n, f) == n && fclose(f) == 0, "cannot write %s",
             path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/amy-fuzz-cnf.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    FZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp %s", dir);
    atexit(remove_dir);
    char p[320];
    snprintf(p, sizeof p, "%s/d", dir);
    FZ_CHECK(mkdir(p, 0700) == 0, "mkdir %s", p);
    snprintf(p, sizeof p, "%s/e", dir);
    FZ_CHECK(mkdir(p, 0700) == 0, "mkdir %s", p);
    snprintf(p, sizeof p, "%s/e/z.cnf", dir);
    FZ_CHECK(mkdir(p, 0700) == 0, "mkdir %s", p);
    snprintf(p, sizeof p, "%s/d/y.txt", dir);
    write_file(p, "[client]\nnever=1\n", 17);
    snprintf(path_main, sizeof path_main, "%s/main.cnf", dir);
    snprintf(path_inc, sizeof path_inc, "%s/inc.cnf", dir);
    snprintf(path_x, sizeof path_x, "%s/d/x.cnf", dir);
    return 0;
}

/* ---- the files ------------------------------------------------------------ */

typedef struct {
    char *s; /* as written */
    size_t len;
    const char *path;
} file;

static file files[3];

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
           c == '\v';
}

/* s[0, *n) without its surrounding whitespace. */
static const char *trimmed(const char *s, size_t *n)
{
    while (*n && space(*s)) {
        s++;
        (*n)--;
    }
    while (*n && space(s[*n - 1]))
        (*n)--;
    return s;
}

static void append(file *f, const char *s, size_t n)
{
    f->s = realloc(f->s, f->len + n + 1);
    memcpy(f->s + f->len, s, n);
    f->len += n;
    f->s[f->len] = '\0';
}

/* Writes text as file f, its include lines rewritten (see the top). */
static void make_file(file *f, const char *text, size_t n)
{
    bool kept = false;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(text + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - text) + 1 : n;
        size_t tn = end - i;
        const char *t = trimmed(text + i, &tn);
        bool d = tn > 11 && memcmp(t, "!includedir", 11) == 0 && space(t[11]);
        bool inc = !d && tn > 8 && memcmp(t, "!include", 8) == 0 && space(t[8]);
        /* an argument follows: the line ends in no space after trimming */
        if (!(d || inc)) {
            append(f, text + i, end - i);
        } else if (kept) {
            append(f, "#", 1);
            append(f, text + i, end - i);
        } else {
            kept = true;
            size_t an = tn - (d ? 11 : 8);
            const char *arg = trimmed(t + (d ? 11 : 8), &an);
            unsigned k = an ? (unsigned char)arg[0] : 0;
            static const char *const inc_to[] = {"inc.cnf", "main.cnf",
                                                 "d/x.cnf", "missing.cnf",
                                                 "d",       "e/z.cnf"};
            static const char *const dir_to[] = {"d", "e", "nodir", "d/x.cnf"};
            const char *to = d ? dir_to[k % 4] : inc_to[k % 6];
            char line[400];
            int ln = snprintf(line, sizeof line, "%s %s/%s\n",
                              d ? "!includedir" : "!include", dir, to);
            append(f, line, (size_t)ln);
        }
        i = end;
    }
    if (!f->s)
        append(f, "", 0);
    write_file(f->path, f->s, f->len);
}

/* Line number (1-based) line of f: its start and length, without '\n'. */
static bool line_of(const file *f, unsigned long line, const char **s,
                    size_t *n)
{
    size_t i = 0;
    for (unsigned long l = 1; i < f->len; l++) {
        const char *nl = memchr(f->s + i, '\n', f->len - i);
        size_t end = nl ? (size_t)(nl - f->s) : f->len;
        if (l == line) {
            *s = f->s + i;
            *n = end - i;
            return true;
        }
        i = end + 1;
    }
    return false;
}

/* ---- the callback --------------------------------------------------------- */

static struct {
    bool failed;
    char msg[128];
    unsigned long count;
} cb_state;

static int option(const char *name, const char *value, const char *path,
                  unsigned long line, void *arg, char *err, size_t errlen)
{
    FZ_CHECK(!cb_state.failed, "an option after the callback failed");
    const file *f = NULL;
    for (int i = 0; i < 3; i++)
        if (strcmp(path, files[i].path) == 0)
            f = &files[i];
    FZ_CHECK(f != NULL, "an option from %s", path);
    const char *raw;
    size_t rn;
    FZ_CHECK(line_of(f, line, &raw, &rn), "%s has no line %lu", path, line);

    size_t tn = rn;
    const char *t = trimmed(raw, &tn);
    const char *eq = memchr(t, '=', tn);
    FZ_CHECK((eq != NULL) == (value != NULL), "value %s for line '%.*s'",
             value ? value : "NULL", (int)rn, raw);
    /* The name as written, trimmed, less "loose-", '_' as '-' (what is
     * left after the prefix is not trimmed again, as in the mariadb
     * client: "loose- x" is the unknown option " x"). */
    size_t kn = eq ? (size_t)(eq - t) : tn;
    const char *k = trimmed(t, &kn);
    if (kn >= 6 && strncasecmp(k, "loose", 5) == 0 &&
        (k[5] == '-' || k[5] == '_')) {
        k += 6;
        kn -= 6;
    }
    FZ_CHECK(kn > 0 && strlen(name) == kn, "name '%s' from line '%.*s'", name,
             (int)rn, raw);
    for (size_t i = 0; i < kn; i++)
        FZ_CHECK(name[i] == (k[i] == '_' ? '-' : k[i]),
                 "name '%s' from line '%.*s'", name, (int)rn, raw);
    if (value) {
        size_t vn = tn - (size_t)(eq + 1 - t);
        const char *v = trimmed(eq + 1, &vn);
        bool plain = true;
        for (size_t i = 0; i < vn; i++)
            plain = plain && !strchr("'\"\\#", v[i]);
        if (plain)
            FZ_CHECK(strlen(value) == vn && memcmp(value, v, vn) == 0,
                     "value '%s' for '%.*s'", value, (int)vn, v);
        FZ_CHECK(strlen(value) <= vn, "value '%s' longer than written", value);
    }
    cb_state.count++;
    if (strcmp(name, "stop") == 0) {
        cb_state.failed = true;
        snprintf(cb_state.msg, sizeof cb_state.msg, "stopped at %lu", line);
        snprintf(err, errlen, "%s", cb_state.msg);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *const paths[3] = {path_main, path_inc, path_x};
    for (int i = 0; i < 3; i++) {
        files[i] = (file){NULL, 0, paths[i]};
        const char *sep = NULL;
        if (i < 2)
            sep = memmem(text, size, SEP, sizeof SEP - 1);
        size_t n = sep ? (size_t)(sep - text) + 1 : size;
        make_file(&files[i], text, n);
        text += n;
        size -= n;
        if (sep) {
            text += sizeof SEP - 2;
            size -= sizeof SEP - 2;
        }
    }

    memset(&cb_state, 0, sizeof cb_state);
    char err[512];
    memset(err, 0, sizeof err);
    int rc =
        amy__cli_cnf_read(path_main, groups, 0, option, NULL, err, sizeof err);
    FZ_CHECK(rc == 0 || rc == -1, "amy__cli_cnf_read returned %d", rc);
    if (cb_state.failed)
        FZ_CHECK(rc == -1 && strcmp(err, cb_state.msg) == 0,
                 "the callback failed, the read says %d '%s'", rc, err);
    if (rc == -1)
        FZ_CHECK(err[0] != '\0', "failed without a message");
    for (int i = 0; i < 3; i++)
        free(files[i].s);
    return 0;
}
