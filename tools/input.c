/* Opening the inputs (see input.h). */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *amy__cli_input_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "stdin" : path;
}

/* O_NONBLOCK only for the check: opening a FIFO would wait for a writer. */
static int open_input(const char *path, int flags, int *fd, int *regular,
                      uint64_t *size, char *err, size_t errlen)
{
    int f = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | flags);
    if (f < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    int e = fstat(f, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (e) {
        snprintf(err, errlen, "cannot read %s: %s", amy__cli_input_name(path),
                 strerror(e));
        if (f != 0)
            close(f);
        return -1;
    }
    *fd = f;
    *regular = S_ISREG(st.st_mode);
    *size = *regular ? (uint64_t)st.st_size : 0;
    return 0;
}

int amy__cli_input_open(const char *path, int *fd, int *regular, uint64_t *size,
                        char *err, size_t errlen)
{
    return open_input(path, O_CLOEXEC, fd, regular, size, err, errlen);
}

int amy__cli_input_check(const char *const *paths, size_t n,
                         uint64_t *total_bytes, char *err, size_t errlen)
{
    uint64_t total = 0;
    int all_regular = 1;
    for (size_t i = 0; i < n; i++) {
        int fd, regular;
        uint64_t size;
        if (open_input(paths[i], O_CLOEXEC | O_NONBLOCK, &fd, &regular, &size,
                       err, errlen) != 0)
            return -1;
        if (fd != 0)
            close(fd);
        total += size;
        all_regular &= regular;
    }
    *total_bytes = all_regular ? total : 0;
    return 0;
}
