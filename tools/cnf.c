/* Option file reader (see cnf.h). */
#include "cnf.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Include chains deeper than this are taken for a loop. */
#define MAX_DEPTH 10

struct reader {
    const char *const *groups;
    amy__cli_cnf_cb cb;
    void *arg;
    char *err;
    size_t errlen;
};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
           c == '\v';
}

/* Trims s[0..*n) in place; returns the new start. */
static char *trim(char *s, size_t *n)
{
    while (*n && is_space(*s)) {
        s++;
        (*n)--;
    }
    while (*n && is_space(s[*n - 1]))
        (*n)--;
    s[*n] = '\0';
    return s;
}

static int selected(const struct reader *r, const char *group)
{
    for (const char *const *g = r->groups; *g; g++)
        if (strcasecmp(*g, group) == 0)
            return 1;
    return 0;
}

/* Cuts the value at a '#' that is outside quotes. */
static void cut_comment(char *v)
{
    char quote = 0;
    int esc = 0;
    for (; *v; v++) {
        if ((*v == '\'' || *v == '"') && !esc) {
            if (!quote)
                quote = *v;
            else if (quote == *v)
                quote = 0;
        }
        if (!quote && *v == '#') {
            *v = '\0';
            return;
        }
        esc = quote && *v == '\\' && !esc;
    }
}

/* Drops matching outer quotes, then resolves escapes, in place. */
static void unquote(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '\'' || v[0] == '"') && v[n - 1] == v[0]) {
        memmove(v, v + 1, n - 2);
        v[n - 2] = '\0';
    }
    char *w = v;
    for (char *p = v; *p; p++) {
        if (*p != '\\' || p[1] == '\0') {
            *w++ = *p;
            continue;
        }
        switch (*++p) {
        case 'n':
            *w++ = '\n';
            break;
        case 't':
            *w++ = '\t';
            break;
        case 'r':
            *w++ = '\r';
            break;
        case 'b':
            *w++ = '\b';
            break;
        case 's':
            *w++ = ' ';
            break;
        case '\\':
        case '\'':
        case '"':
            *w++ = *p;
            break;
        default: /* not an escape: kept as written (Windows paths) */
            *w++ = '\\';
            *w++ = *p;
        }
    }
    *w = '\0';
}

static void normalise_name(char *name)
{
    if (strncasecmp(name, "loose-", 6) == 0 ||
        strncasecmp(name, "loose_", 6) == 0)
        memmove(name, name + 6, strlen(name + 6) + 1);
    for (char *p = name; *p; p++)
        if (*p == '_')
            *p = '-';
}

static int read_file(struct reader *r, const char *path, int missing_ok,
                     int depth);

static int has_cnf_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".cnf") == 0;
}

static int read_dir(struct reader *r, const char *dir, int depth)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0)
        return 0; /* a missing include directory is not an error */
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (rc == 0 && has_cnf_suffix(list[i]->d_name)) {
            size_t len = strlen(dir) + strlen(list[i]->d_name) + 2;
            char *p = malloc(len);
            if (!p) {
                snprintf(r->err, r->errlen, "out of memory");
                rc = -1;
            } else {
                snprintf(p, len, "%s/%s", dir, list[i]->d_name);
                rc = read_file(r, p, 1, depth + 1);
                free(p);
            }
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

/* One line (NUL-terminated, newline removed). */
static int parse_line(struct reader *r, const char *path, unsigned long line,
                      char *s, char **group, int depth)
{
    size_t n = strlen(s);
    s = trim(s, &n);
    if (n == 0 || s[0] == '#' || s[0] == ';')
        return 0;
    if (s[0] == '!') {
        int dir = strncmp(s, "!includedir", 11) == 0 && is_space(s[11]);
        int file = strncmp(s, "!include", 8) == 0 && is_space(s[8]);
        if (!dir && !file) {
            snprintf(r->err, r->errlen, "%s:%lu: unknown directive", path,
                     line);
            return -1;
        }
        char *arg = s + (dir ? 11 : 8);
        size_t an = strlen(arg);
        arg = trim(arg, &an);
        return dir ? read_dir(r, arg, depth) : read_file(r, arg, 0, depth + 1);
    }
    if (s[0] == '[') {
        char *close = strchr(s, ']');
        if (!close) {
            snprintf(r->err, r->errlen, "%s:%lu: group name without ']'", path,
                     line);
            return -1;
        }
        size_t gn = (size_t)(close - s - 1);
        char *g = trim(s + 1, &gn);
        free(*group);
        *group = strdup(g);
        if (!*group) {
            snprintf(r->err, r->errlen, "out of memory");
            return -1;
        }
        return 0;
    }
    if (!*group) {
        snprintf(r->err, r->errlen,
                 "%s:%lu: option before the first [group] line", path, line);
        return -1;
    }
    if (!selected(r, *group))
        return 0;
    char *eq = strchr(s, '=');
    char *value = NULL;
    if (eq) {
        *eq = '\0';
        value = eq + 1;
        cut_comment(value);
        size_t vn = strlen(value);
        value = trim(value, &vn);
        unquote(value);
    }
    size_t nn = strlen(s);
    char *name = trim(s, &nn);
    normalise_name(name); /* "loose-" alone leaves no name */
    if (name[0] == '\0') {
        snprintf(r->err, r->errlen, "%s:%lu: option without a name", path,
                 line);
        return -1;
    }
    return r->cb(name, value, path, line, r->arg, r->err, r->errlen);
}

static int read_file(struct reader *r, const char *path, int missing_ok,
                     int depth)
{
    if (depth > MAX_DEPTH) {
        snprintf(r->err, r->errlen, "%s: !include nested too deep (a loop?)",
                 path);
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        if (missing_ok && errno == ENOENT)
            return 0;
        snprintf(r->err, r->errlen, "cannot open option file %s: %s", path,
                 strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        snprintf(r->err, r->errlen, "cannot read option file %s: %s", path,
                 strerror(EISDIR));
        return -1;
    }
    char *buf = NULL, *group = NULL;
    size_t cap = 0;
    unsigned long line = 0;
    int rc = 0;
    ssize_t len;
    errno = 0;
    while (rc == 0 && (len = getline(&buf, &cap, f)) >= 0) {
        line++;
        if (memchr(buf, '\0', (size_t)len)) {
            snprintf(r->err, r->errlen, "%s:%lu: NUL byte in option file", path,
                     line);
            rc = -1;
            break;
        }
        rc = parse_line(r, path, line, buf, &group, depth);
    }
    if (rc == 0 && ferror(f)) {
        snprintf(r->err, r->errlen, "cannot read option file %s: %s", path,
                 strerror(errno ? errno : EIO));
        rc = -1;
    }
    free(buf);
    free(group);
    fclose(f);
    return rc;
}

int amy__cli_cnf_read(const char *path, const char *const *groups,
                      int missing_ok, amy__cli_cnf_cb cb, void *arg, char *err,
                      size_t errlen)
{
    char dummy[1];
    struct reader r = {groups, cb, arg, err ? err : dummy,
                       err ? errlen : sizeof dummy};
    return read_file(&r, path, missing_ok, 0);
}
