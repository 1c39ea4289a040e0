/*
 * Results. A result is one malloc: the header, then the column-name
 * pointers, then the cells, then every name and value back to back, each
 * followed by a NUL so text values read as C strings. Sizing takes a first
 * pass over the stored rows; the copy takes a second. Neither allocates.
 */
#include <stdlib.h>
#include <string.h>

#include "result.h"

static size_t align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

amy_result *amy__result_ok(uint64_t affected, uint64_t insert_id)
{
    amy_result *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->affected_rows = affected;
    r->insert_id = insert_id;
    return r;
}

amy_result *amy__result_from_res(MYSQL_RES *res, uint64_t affected,
                                 uint64_t insert_id)
{
    size_t ncols = mysql_num_fields(res);
    size_t nrows = (size_t)mysql_num_rows(res);
    MYSQL_FIELD *fields = mysql_fetch_fields(res);

    if (ncols && nrows > SIZE_MAX / ncols / sizeof(amy__cell))
        return NULL;
    size_t bytes = 0;
    for (size_t c = 0; c < ncols; c++)
        bytes += fields[c].name_length + 1;
    mysql_data_seek(res, 0);
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        unsigned long *lens = mysql_fetch_lengths(res);
        for (size_t c = 0; c < ncols; c++)
            if (row[c])
                bytes += lens[c] + 1;
    }

    size_t off_names = align8(sizeof(amy_result));
    size_t off_cells = align8(off_names + ncols * sizeof(char *));
    size_t off_data = off_cells + nrows * ncols * sizeof(amy__cell);
    amy_result *r = malloc(off_data + bytes);
    if (!r)
        return NULL;
    char *base = (char *)r;
    r->nrows = nrows;
    r->ncols = ncols;
    r->affected_rows = affected;
    r->insert_id = insert_id;
    r->colnames = (const char **)(void *)(base + off_names);
    r->cells = (amy__cell *)(void *)(base + off_cells);
    char *p = base + off_data;

    for (size_t c = 0; c < ncols; c++) {
        memcpy(p, fields[c].name, fields[c].name_length);
        p[fields[c].name_length] = '\0';
        r->colnames[c] = p;
        p += fields[c].name_length + 1;
    }
    mysql_data_seek(res, 0);
    amy__cell *cell = r->cells;
    while ((row = mysql_fetch_row(res))) {
        unsigned long *lens = mysql_fetch_lengths(res);
        for (size_t c = 0; c < ncols; c++, cell++) {
            if (!row[c]) {
                cell->ptr = NULL;
                cell->len = 0;
                continue;
            }
            memcpy(p, row[c], lens[c]);
            p[lens[c]] = '\0';
            cell->ptr = p;
            cell->len = lens[c];
            p += lens[c] + 1;
        }
    }
    return r;
}

void amy__result_free(amy_result *r)
{
    free(r);
}

size_t amy_result_nrows(const amy_result *r)
{
    return r ? r->nrows : 0;
}

size_t amy_result_ncols(const amy_result *r)
{
    return r ? r->ncols : 0;
}

const char *amy_result_colname(const amy_result *r, size_t col)
{
    return r && col < r->ncols ? r->colnames[col] : NULL;
}

const char *amy_result_value(const amy_result *r, size_t row, size_t col,
                             size_t *len)
{
    if (!r || row >= r->nrows || col >= r->ncols) {
        if (len)
            *len = 0;
        return NULL;
    }
    const amy__cell *cell = &r->cells[row * r->ncols + col];
    if (len)
        *len = cell->len;
    return cell->ptr;
}

uint64_t amy_result_affected_rows(const amy_result *r)
{
    return r ? r->affected_rows : 0;
}

uint64_t amy_result_insert_id(const amy_result *r)
{
    return r ? r->insert_id : 0;
}
