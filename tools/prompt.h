/* Asking for a password on the terminal, for amysql-batch -p. */
#ifndef AMY_CLI_PROMPT_H
#define AMY_CLI_PROMPT_H

#include <stddef.h>

/*
 * Prints prompt on the controlling terminal (/dev/tty, not stdin: stdin is
 * usually the SQL) and reads one line with echo off. Returns a malloc'd
 * string without the newline, or NULL with a message in err (no terminal,
 * end of input, out of memory).
 */
char *amy__cli_prompt_password(const char *prompt, char *err, size_t errlen);

#endif
