/* Prepared statements on one connection: the op kinds amy__op_exec and
 * amy__op_batch (op.h). Internal. */
#ifndef AMY_STMT_H
#define AMY_STMT_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "amysql.h"

struct amy__conn;

/*
 * Checks the arguments of amy_exec (nrows 1) or amy_exec_batch before a
 * future is made: placeholders, values, and for a batch the one type of
 * each column. mb: the pool charset's multibyte characters, or NULL
 * (amy__params_count). Returns AMY_OK or AMY_EINVAL with a message in err.
 */
int amy__stmt_check(const char *sql, size_t len, const amy_value *v,
                    size_t nrows, size_t ncols, int batch,
                    unsigned int (*mb)(const char *p, const char *end),
                    char *err, size_t errlen);

/* How many statements c holds prepared on the server. */
unsigned amy__stmt_open(const struct amy__conn *c);

#endif
