/*
 * MySQL/MariaDB option files (my.cnf), for amysql-batch.
 *
 * Syntax, as the mariadb client reads it: "[group]" lines; "name",
 * "name = value" lines (spaces around both are dropped; '_' and '-' in names
 * are the same; a "loose-" prefix is ignored); '#' and ';' comment lines;
 * a '#' outside quotes ends the value; a value in matching '...' or "..."
 * loses the quotes; \n \t \r \b \s \\ \' \" escapes in values; and
 * "!include FILE" / "!includedir DIR" (the *.cnf files of DIR, in name
 * order).
 */
#ifndef AMY_CLI_CNF_H
#define AMY_CLI_CNF_H

#include <stddef.h>

/*
 * Called for each option of a selected group, in file order. name is
 * normalised (lower-case kept as written, '_' turned into '-', "loose-"
 * dropped); value is NULL for a line without '='. Returns 0 to go on, or -1
 * after writing a message to err (reading stops and fails).
 */
typedef int (*amy__cli_cnf_cb)(const char *name, const char *value,
                               const char *path, unsigned long line, void *arg,
                               char *err, size_t errlen);

/*
 * amy__cli_cnf_read - read one option file.
 *
 * groups:     NULL-terminated list of the group names to read (compared
 *             without regard to case); options of other groups are skipped.
 * missing_ok: a file that does not exist is not an error (the default files
 *             of a client are all optional; a file named by the user is not).
 *
 * Returns 0, or -1 with a message naming the file and line in err.
 */
int amy__cli_cnf_read(const char *path, const char *const *groups,
                      int missing_ok, amy__cli_cnf_cb cb, void *arg, char *err,
                      size_t errlen);

#endif
