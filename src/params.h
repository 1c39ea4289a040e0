/*
 * Client-side parameter substitution: '?' placeholders in SQL replaced by
 * literals, so that parameterised queries travel as plain COM_QUERY packets
 * and pipeline like any other query.
 */
#ifndef AMY_PARAMS_H
#define AMY_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "amysql.h"

/* The value types (amy_value, ...) are public: include/amysql.h. */

/*
 * Escapes len bytes of src into dst (room for 2*len+1) and returns the
 * escaped length: the connection's mysql_real_escape_string in production,
 * honouring its charset and NO_BACKSLASH_ESCAPES.
 */
typedef size_t (*amy__escape_fn)(void *arg, char *dst, const char *src,
                                 size_t len);

/*
 * The length of the multibyte character of the connection's charset that
 * starts at p, 0 when none does (the connector's mb_valid, which its
 * escaper uses too). NULL for a charset of single bytes.
 *
 * The server's lexer reads such a character whole, in quotes and out, and
 * in gbk, big5, sjis and cp932 its second byte can be a backslash or a
 * backquote: a scan byte by byte would end a string or an identifier where
 * the server does not (or go on where it stops), and put a value in the
 * middle of the server's literal, where it is code.
 */
typedef unsigned int (*amy__mbchar_fn)(const char *p, const char *end);

/*
 * Number of real '?' placeholders in sql[0, len): not inside '...', "..."
 * or `...`, nor in --, # or slash-star comments. '?' inside the executable
 * comments slash-star-! and slash-star-M-! counts, as the server runs them.
 * mb: the connection charset's multibyte characters, or NULL.
 *
 * Assumes backslash escapes inside quotes (the server's default sql_mode).
 * amy__params_render decides the mode from its escaper instead, so under
 * NO_BACKSLASH_ESCAPES a literal such as 'a\' can count differently here;
 * the render's own count is the one that matters.
 */
size_t amy__params_count(const char *sql, size_t len, amy__mbchar_fn mb);

/*
 * Whether rendering sql with v[0, n) depends on NO_BACKSLASH_ESCAPES: 1 when
 * the SQL or a TEXT value holds a backslash byte (0x5c), 0 otherwise.
 *
 * Without one, a TEXT literal escaped with quotes doubled and nothing else
 * is read alike in both modes, and so is the SQL around it (the two modes
 * differ only in what a backslash means), so the query may be rendered
 * whatever mode the connection last reported: queries pipelined behind a
 * SET sql_mode reach the server in the mode it has then. With one, the
 * literal must be written for the mode the server will read it in, known
 * only once nothing is in flight. A 0x5c that is the second byte of a
 * multibyte character counts too: deciding that would take the charset,
 * and erring this way costs only pipelining.
 */
int amy__params_need_mode(const char *sql, size_t len, const amy_value *v,
                          size_t n);

/*
 * Upper bound of what amy__params_render writes for these arguments,
 * terminating NUL included, so that one allocation holds the query.
 * SIZE_MAX if the sizes overflow.
 */
size_t amy__params_bound(const char *sql, size_t len, const amy_value *v,
                         size_t n);

/*
 * Renders sql with v[0, n) substituted, in order, into out, which has room
 * for amy__params_bound(sql, len, v, n) bytes, and NUL-terminates it.
 *
 * Literals: NULL; integers in decimal; doubles as the shortest of %.15g,
 * %.16g, %.17g that reads back to the same bits, always with an exponent
 * so that the server types them DOUBLE, not DECIMAL (1.5e0, -0e0, 1e+308),
 * whatever the C locale; TEXT as '...' through esc; BLOB as X'hex' (esc
 * never sees it); DATE 'YYYY-MM-DD', DATETIME 'YYYY-MM-DD HH:MM:SS[.ffffff]',
 * TIME '[-]HHH:MM:SS[.ffffff]', microseconds only when nonzero.
 *
 * esc is probed once with a single quote: if it doubles it, the SQL is
 * scanned as the server does under NO_BACKSLASH_ESCAPES. esc may be NULL
 * when no TEXT value is given (backslash escapes are then assumed). mb is
 * the charset's multibyte characters for the scan (amy__params_count).
 *
 * Returns the rendered length, or (size_t)-1 with a message in err (which
 * may be NULL): placeholder count different from n, invalid date or time
 * fields, NaN or infinite double, unknown type, NULL text pointer with a
 * nonzero length, TEXT without an escaper. out is then unspecified.
 */
size_t amy__params_render(const char *sql, size_t len, const amy_value *v,
                          size_t n, amy__escape_fn esc, void *esc_arg,
                          amy__mbchar_fn mb, char *out, char *err,
                          size_t errlen);

/*
 * Checks one value as amy__params_render would before writing it (known
 * type, finite double, possible date or time, no NULL pointer with a
 * length), for values that travel in binary (amy_exec). k is the 1-based
 * parameter number for the message. Returns 0, or -1 with a message in err.
 */
int amy__value_check(const amy_value *v, size_t k, char *err, size_t errlen);

#endif
