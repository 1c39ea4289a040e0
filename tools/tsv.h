/*
 * Result output in the format of `mariadb --batch`: one line per row, fields
 * separated by tabs, a first line of column names unless skipped, SQL NULL
 * as NULL, and tab, newline, backslash and NUL bytes written as \t \n \\ \0
 * in values (column names are written as they are: the mariadb client does
 * not escape them). A statement without a result set, or whose result
 * set has no rows, prints nothing, as in the mariadb client.
 *
 * Bytes are written as they come: amysql connections use utf8mb4, in which
 * no byte of a multi-byte character is one of the four escaped ones, so
 * byte-wise escaping is what the mariadb client does character-wise.
 */
#ifndef AMY_CLI_TSV_H
#define AMY_CLI_TSV_H

#include <stddef.h>
#include <stdio.h>

#include "amysql.h"

/* One value, escaped; v NULL writes NULL. */
void amy__cli_tsv_field(FILE *out, const char *v, size_t len);

/* One line: n values (vals[i] NULL for SQL NULL), tab-separated. */
void amy__cli_tsv_row(FILE *out, const char *const *vals, const size_t *lens,
                      size_t n);

/* A whole result; nothing when it has no columns or no rows. */
void amy__cli_tsv_result(FILE *out, const amy_result *r, int column_names);

#endif
