/* Prepared statements on one connection: amy_exec, amy_exec_batch. Internal. */
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
 * each column. Returns AMY_OK or AMY_EINVAL with a message in err.
 */
int amy__stmt_check(const char *sql, size_t len, const amy_value *v,
                    size_t nrows, size_t ncols, int batch, char *err,
                    size_t errlen);

/*
 * The head of c's in-flight ring is a prepared-statement future that has
 * the connection to itself: start on it. Returns a wait mask, 0 when the
 * call completed at once, or -1 when nothing was started (the future
 * settled already).
 */
int amy__stmt_begin(struct amy__conn *c);

/* The connector call c->op (one of the AMY__OP_S_* ops) resumed. */
int amy__stmt_cont(struct amy__conn *c, int ready);

/* The connector call op completed: act on it, as conn.c's finish(). */
int amy__stmt_finish(struct amy__conn *c, int op);

/* Frees c's statements and state; the MYSQL handle is closed already, so
 * this does no I/O. */
void amy__stmt_free_all(struct amy__conn *c);

/* How many statements c holds prepared on the server. */
unsigned amy__stmt_open(const struct amy__conn *c);

#endif
