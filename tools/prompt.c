/* Password prompt (see prompt.h). */
#include "prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

char *amy__cli_prompt_password(const char *prompt, char *err, size_t errlen)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen,
                 "-p: no terminal to ask for the password on (%s); give it "
                 "in MYSQL_PWD, an option file or the DSN",
                 strerror(errno));
        return NULL;
    }
    struct termios old, quiet;
    int echo_off = tcgetattr(fd, &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHOE | ECHOK | ECHONL);
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        /* Nothing to do: the read below still works without the prompt. */
    }
    size_t cap = 64, len = 0;
    char *buf = malloc(cap);
    int got_newline = 0;
    while (buf) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (c == '\n') {
            got_newline = 1;
            break;
        }
        if (len + 1 == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        buf[len++] = c;
    }
    if (echo_off)
        tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
        /* Only cosmetic. */
    }
    close(fd);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!got_newline && len == 0) {
        free(buf);
        snprintf(err, errlen, "-p: no password was typed");
        return NULL;
    }
    if (len && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    return buf;
}
