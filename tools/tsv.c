/* mariadb --batch output format (see tsv.h). */
#include "tsv.h"

void amy__cli_tsv_field(FILE *out, const char *v, size_t len)
{
    if (!v) {
        fputs("NULL", out);
        return;
    }
    /* Clean spans go out in one fwrite; only the four special bytes are
     * written one by one. */
    size_t span = 0;
    for (size_t i = 0; i < len; i++) {
        const char *esc;
        switch (v[i]) {
        case '\0':
            esc = "\\0";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\\':
            esc = "\\\\";
            break;
        default:
            continue;
        }
        if (i > span)
            fwrite(v + span, 1, i - span, out);
        fwrite(esc, 1, 2, out);
        span = i + 1;
    }
    if (len > span)
        fwrite(v + span, 1, len - span, out);
}

void amy__cli_tsv_row(FILE *out, const char *const *vals, const size_t *lens,
                      size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            putc('\t', out);
        amy__cli_tsv_field(out, vals[i], vals[i] ? lens[i] : 0);
    }
    putc('\n', out);
}

void amy__cli_tsv_result(FILE *out, const amy_result *r, int column_names)
{
    size_t ncols = amy_result_ncols(r), nrows = amy_result_nrows(r);
    if (ncols == 0 || nrows == 0)
        return;
    if (column_names) {
        for (size_t c = 0; c < ncols; c++) {
            const char *name = amy_result_colname(r, c);
            if (c)
                putc('\t', out);
            /* The mariadb client writes names as they are, unescaped. */
            fputs(name ? name : "", out);
        }
        putc('\n', out);
    }
    for (size_t row = 0; row < nrows; row++) {
        for (size_t c = 0; c < ncols; c++) {
            size_t len = 0;
            const char *v = amy_result_value(r, row, c, &len);
            if (c)
                putc('\t', out);
            amy__cli_tsv_field(out, v, len);
        }
        putc('\n', out);
    }
}
