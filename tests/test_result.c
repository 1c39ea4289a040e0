/*
 * Tests for src/result.c: accessors on results without a server.
 * Copying from a real MYSQL_RES is covered by the integration tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "result.h"

#define GARBAGE ((size_t)0xdeadbeef)

/* ------------------------------------------------------------------------ */
/* amy__result_ok                                                           */
/* ------------------------------------------------------------------------ */

static void test_ok_counts(void **state)
{
    amy_result *r = amy__result_ok(7, 42);
    assert_non_null(r);
    assert_int_equal(amy_result_nrows(r), 0);
    assert_int_equal(amy_result_ncols(r), 0);
    assert_int_equal(amy_result_affected_rows(r), 7);
    assert_int_equal(amy_result_insert_id(r), 42);
    amy__result_free(r);
}

static void test_ok_zero(void **state)
{
    amy_result *r = amy__result_ok(0, 0);
    assert_non_null(r);
    assert_int_equal(amy_result_nrows(r), 0);
    assert_int_equal(amy_result_ncols(r), 0);
    assert_int_equal(amy_result_affected_rows(r), 0);
    assert_int_equal(amy_result_insert_id(r), 0);
    amy__result_free(r);
}

static void test_ok_full_64_bit(void **state)
{
    amy_result *r = amy__result_ok(UINT64_MAX, UINT64_MAX - 1);
    assert_non_null(r);
    assert_true(amy_result_affected_rows(r) == UINT64_MAX);
    assert_true(amy_result_insert_id(r) == UINT64_MAX - 1);
    amy__result_free(r);
}

static void test_ok_has_no_cells(void **state)
{
    amy_result *r = amy__result_ok(1, 2);
    assert_non_null(r);
    assert_null(amy_result_colname(r, 0));
    assert_null(amy_result_colname(r, 1));
    assert_null(amy_result_colname(r, SIZE_MAX));
    size_t len = GARBAGE;
    assert_null(amy_result_value(r, 0, 0, &len));
    assert_int_equal(len, 0);
    len = GARBAGE;
    assert_null(amy_result_value(r, SIZE_MAX, SIZE_MAX, &len));
    assert_int_equal(len, 0);
    assert_null(amy_result_value(r, 0, 0, NULL));
    amy__result_free(r);
}

/* ------------------------------------------------------------------------ */
/* NULL result                                                              */
/* ------------------------------------------------------------------------ */

static void test_null_result(void **state)
{
    assert_int_equal(amy_result_nrows(NULL), 0);
    assert_int_equal(amy_result_ncols(NULL), 0);
    assert_int_equal(amy_result_affected_rows(NULL), 0);
    assert_int_equal(amy_result_insert_id(NULL), 0);
    assert_null(amy_result_colname(NULL, 0));
    assert_null(amy_result_colname(NULL, SIZE_MAX));
    size_t len = GARBAGE;
    assert_null(amy_result_value(NULL, 0, 0, &len));
    assert_int_equal(len, 0);
    len = GARBAGE;
    assert_null(amy_result_value(NULL, 3, 5, &len));
    assert_int_equal(len, 0);
    assert_null(amy_result_value(NULL, 0, 0, NULL));
}

static void test_free_null(void **state)
{
    amy__result_free(NULL);
}

/* ------------------------------------------------------------------------ */
/* A hand-built 2x3 result: bounds and cell semantics of the accessors      */
/* ------------------------------------------------------------------------ */

/*
 * Row 0: "1", "alice", SQL NULL
 * Row 1: "",  "a\0b" (3 bytes), "x"
 */
typedef struct {
    amy_result r;
    const char *names[3];
    amy__cell cells[6];
} grid;

static void grid_init(grid *g)
{
    static const char blob[] = {'a', '\0', 'b', '\0'};
    memset(g, 0, sizeof *g);
    g->names[0] = "id";
    g->names[1] = "name";
    g->names[2] = "note";
    g->cells[0] = (amy__cell){"1", 1};
    g->cells[1] = (amy__cell){"alice", 5};
    g->cells[2] = (amy__cell){NULL, 0};
    g->cells[3] = (amy__cell){"", 0};
    g->cells[4] = (amy__cell){blob, 3};
    g->cells[5] = (amy__cell){"x", 1};
    g->r.magic = AMY__RESULT_LIVE;
    g->r.nrows = 2;
    g->r.ncols = 3;
    g->r.affected_rows = 2;
    g->r.insert_id = 0;
    g->r.colnames = g->names;
    g->r.cells = g->cells;
}

static void test_grid_counts_and_names(void **state)
{
    grid g;
    grid_init(&g);
    assert_int_equal(amy_result_nrows(&g.r), 2);
    assert_int_equal(amy_result_ncols(&g.r), 3);
    assert_int_equal(amy_result_affected_rows(&g.r), 2);
    assert_int_equal(amy_result_insert_id(&g.r), 0);
    assert_string_equal(amy_result_colname(&g.r, 0), "id");
    assert_string_equal(amy_result_colname(&g.r, 1), "name");
    assert_string_equal(amy_result_colname(&g.r, 2), "note");
}

/* Column names compare as MySQL's do: ASCII case does not matter, the
 * whole name must match, the first of equal names wins. */
static void test_grid_colindex(void **state)
{
    grid g;
    grid_init(&g);
    assert_int_equal(amy_result_colindex(&g.r, "id"), 0);
    assert_int_equal(amy_result_colindex(&g.r, "NAME"), 1);
    assert_int_equal(amy_result_colindex(&g.r, "Note"), 2);
    assert_int_equal(amy_result_colindex(&g.r, "nam"), -1);
    assert_int_equal(amy_result_colindex(&g.r, "names"), -1);
    assert_int_equal(amy_result_colindex(&g.r, ""), -1);
    assert_int_equal(amy_result_colindex(&g.r, NULL), -1);
    assert_int_equal(amy_result_colindex(NULL, "id"), -1);
    g.names[2] = "ID"; /* SELECT a.id, b.id */
    assert_int_equal(amy_result_colindex(&g.r, "id"), 0);
    g.names[0] = "\xc3\x89t\xc3\xa9"; /* non-ASCII bytes compare as they are */
    assert_int_equal(amy_result_colindex(&g.r, "\xc3\x89t\xc3\xa9"), 0);
    assert_int_equal(amy_result_colindex(&g.r, "\xc3\xa9t\xc3\xa9"), -1);
    amy_result *ok = amy__result_ok(1, 0); /* no columns */
    assert_int_equal(amy_result_colindex(ok, "id"), -1);
    amy__result_free(ok);
}

/* amy_result_time: one row, each column a type and the text the server
 * would write for it (or not). */
typedef struct {
    amy_result r;
    const char *names[1];
    amy__colinfo cols[1];
    amy__cell cells[1];
} one_cell;

static int time_of(uint16_t type, const char *text, amy_time *t)
{
    one_cell g;
    memset(&g, 0, sizeof g);
    g.names[0] = "t";
    g.cols[0].type = type;
    g.cells[0] = (amy__cell){text, text ? strlen(text) : 0};
    g.r.magic = AMY__RESULT_LIVE;
    g.r.nrows = 1;
    g.r.ncols = 1;
    g.r.colnames = g.names;
    g.r.cols = g.cols;
    g.r.cells = g.cells;
    return amy_result_time(&g.r, 0, 0, t);
}

static void assert_time(amy_time t, int y, int mo, int d, int h, int mi,
                        int sec, unsigned us, int neg)
{
    assert_int_equal(t.year, y);
    assert_int_equal(t.month, mo);
    assert_int_equal(t.day, d);
    assert_int_equal(t.hour, h);
    assert_int_equal(t.minute, mi);
    assert_int_equal(t.second, sec);
    assert_int_equal(t.microsecond, us);
    assert_int_equal(t.negative, neg);
}

static void test_time_reads(void **state)
{
    amy_time t;
    assert_int_equal(time_of(AMY_COL_DATE, "2024-02-29", &t), AMY_OK);
    assert_time(t, 2024, 2, 29, 0, 0, 0, 0, 0);
    assert_int_equal(time_of(AMY_COL_DATE, "0000-00-00", &t), AMY_OK);
    assert_time(t, 0, 0, 0, 0, 0, 0, 0, 0);
    assert_int_equal(time_of(AMY_COL_DATETIME, "1999-12-31 23:59:59", &t),
                     AMY_OK);
    assert_time(t, 1999, 12, 31, 23, 59, 59, 0, 0);
    assert_int_equal(
        time_of(AMY_COL_TIMESTAMP, "2038-01-19 03:14:07.000001", &t), AMY_OK);
    assert_time(t, 2038, 1, 19, 3, 14, 7, 1, 0);
    assert_int_equal(time_of(AMY_COL_DATETIME, "2024-01-02 03:04:05.5", &t),
                     AMY_OK);
    assert_time(t, 2024, 1, 2, 3, 4, 5, 500000, 0);
    assert_int_equal(time_of(AMY_COL_TIME, "-838:59:59.999999", &t), AMY_OK);
    assert_time(t, 0, 0, 0, 838, 59, 59, 999999, 1);
    assert_int_equal(time_of(AMY_COL_TIME, "00:00:00", &t), AMY_OK);
    assert_time(t, 0, 0, 0, 0, 0, 0, 0, 0);
    assert_int_equal(time_of(AMY_COL_TIME, "100:30:00", &t), AMY_OK);
    assert_time(t, 0, 0, 0, 100, 30, 0, 0, 0);
}

/* Exactly or not at all: out is untouched on every refusal. */
static void test_time_refuses(void **state)
{
    static const struct {
        uint16_t type;
        const char *text;
        int want;
    } bad[] = {
        {AMY_COL_VAR_STRING, "2024-02-29", AMY_ETYPE}, /* text stays text */
        {AMY_COL_LONG, "20240229", AMY_ETYPE},
        {AMY_COL_DATE, "2024-2-29", AMY_ETYPE},
        {AMY_COL_DATE, "2024-13-01", AMY_ETYPE},
        {AMY_COL_DATE, "2024-01-32", AMY_ETYPE},
        {AMY_COL_DATE, "2024-01-01 ", AMY_ETYPE},
        {AMY_COL_DATE, "", AMY_ETYPE},
        {AMY_COL_DATETIME, "2024-01-01", AMY_ETYPE},
        {AMY_COL_DATETIME, "2024-01-01 24:00:00", AMY_ETYPE},
        {AMY_COL_DATETIME, "2024-01-01 10:60:00", AMY_ETYPE},
        {AMY_COL_DATETIME, "2024-01-01 10:00:60", AMY_ETYPE},
        {AMY_COL_DATETIME, "2024-01-01 10:00:00.", AMY_ETYPE},
        {AMY_COL_DATETIME, "2024-01-01 10:00:00.1234567", AMY_ETYPE},
        {AMY_COL_DATETIME, "2024-01-01T10:00:00", AMY_ETYPE},
        {AMY_COL_TIME, "839:00:00", AMY_ETYPE},
        {AMY_COL_TIME, "1:00:00", AMY_ETYPE},
        {AMY_COL_TIME, "--1:00:00", AMY_ETYPE},
        {AMY_COL_TIME, "10:00", AMY_ETYPE},
        {AMY_COL_TIME, NULL, AMY_ENULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        amy_time t = {-1, -1, -1, -1, -1, -1, 7, 9};
        int st = time_of(bad[i].type, bad[i].text, &t);
        if (st != bad[i].want)
            fail_msg("%s as type %u: %s, want %s",
                     bad[i].text ? bad[i].text : "NULL", bad[i].type,
                     amy_status_name(st), amy_status_name(bad[i].want));
        assert_int_equal(t.year, -1);
        assert_int_equal(t.microsecond, 7);
    }
    amy_time t;
    assert_int_equal(amy_result_time(NULL, 0, 0, &t), AMY_EINVAL);
    assert_int_equal(time_of(AMY_COL_DATE, "2024-02-29", NULL), AMY_EINVAL);
}

static void test_grid_values(void **state)
{
    grid g;
    grid_init(&g);
    size_t len = GARBAGE;
    const char *v = amy_result_value(&g.r, 0, 0, &len);
    assert_string_equal(v, "1");
    assert_int_equal(len, 1);

    v = amy_result_value(&g.r, 0, 1, &len);
    assert_string_equal(v, "alice");
    assert_int_equal(len, 5);

    /* SQL NULL: NULL pointer, len 0. */
    len = GARBAGE;
    assert_null(amy_result_value(&g.r, 0, 2, &len));
    assert_int_equal(len, 0);

    /* Empty string: non-NULL, len 0. */
    len = GARBAGE;
    v = amy_result_value(&g.r, 1, 0, &len);
    assert_non_null(v);
    assert_int_equal(len, 0);
    assert_string_equal(v, "");

    /* Binary value with an embedded NUL: len tells the truth. */
    v = amy_result_value(&g.r, 1, 1, &len);
    assert_non_null(v);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "a\0b", 3);

    v = amy_result_value(&g.r, 1, 2, &len);
    assert_string_equal(v, "x");
    assert_int_equal(len, 1);
}

static void test_grid_len_may_be_null(void **state)
{
    grid g;
    grid_init(&g);
    assert_string_equal(amy_result_value(&g.r, 0, 1, NULL), "alice");
    assert_null(amy_result_value(&g.r, 0, 2, NULL));
    assert_non_null(amy_result_value(&g.r, 1, 0, NULL));
    assert_null(amy_result_value(&g.r, 2, 0, NULL));
    assert_null(amy_result_value(&g.r, 0, 3, NULL));
}

static void test_grid_out_of_range(void **state)
{
    grid g;
    grid_init(&g);
    const struct {
        size_t row, col;
    } bad[] = {
        {2, 0},
        {0, 3},
        {2, 3},
        {SIZE_MAX, 0},
        {0, SIZE_MAX},
        {SIZE_MAX, 1},
        {1, SIZE_MAX},
        {SIZE_MAX, SIZE_MAX},
        {SIZE_MAX / 3, 0},
        {100, 100},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = GARBAGE;
        assert_null(amy_result_value(&g.r, bad[i].row, bad[i].col, &len));
        assert_int_equal(len, 0);
    }
    assert_null(amy_result_colname(&g.r, 3));
    assert_null(amy_result_colname(&g.r, SIZE_MAX));
}

/* A result with columns but no rows (SELECT returning nothing). */
static void test_columns_without_rows(void **state)
{
    grid g;
    grid_init(&g);
    g.r.nrows = 0;
    g.r.affected_rows = 0;
    assert_int_equal(amy_result_nrows(&g.r), 0);
    assert_int_equal(amy_result_ncols(&g.r), 3);
    assert_string_equal(amy_result_colname(&g.r, 2), "note");
    size_t len = GARBAGE;
    assert_null(amy_result_value(&g.r, 0, 0, &len));
    assert_int_equal(len, 0);
}

/* ------------------------------------------------------------------------ */
/* amy__result_alloc, _set_cols                                             */
/* ------------------------------------------------------------------------ */

/* A block filled by hand: names, column info and cells where they
 * belong. */
static void test_alloc_and_set_cols(void **state)
{
    MYSQL_FIELD fields[2];
    memset(fields, 0, sizeof fields);
    fields[0].name = "id";
    fields[0].name_length = 2;
    fields[0].type = MYSQL_TYPE_LONG;
    fields[0].flags = AMY_COLFLAG_NOT_NULL;
    fields[1].name = "d";
    fields[1].name_length = 1;
    fields[1].type = MYSQL_TYPE_DOUBLE;
    fields[1].charsetnr = 63;
    char *p;
    size_t spare = 100000;
    amy_result *r = amy__result_alloc(2, 2, spare, 5, 6, &p);
    assert_non_null(r);
    p = amy__result_set_cols(r, fields, p);
    static const char *const vals[4] = {"1", "0.5", "2", NULL};
    for (size_t i = 0; i < 4; i++) {
        r->cells[i].ptr = NULL;
        r->cells[i].len = 0;
        if (!vals[i])
            continue;
        size_t len = strlen(vals[i]);
        memcpy(p, vals[i], len + 1);
        r->cells[i].ptr = p;
        r->cells[i].len = len;
        p += len + 1;
    }
    assert_int_equal(amy_result_nrows(r), 2);
    assert_int_equal(amy_result_ncols(r), 2);
    assert_int_equal(amy_result_affected_rows(r), 5);
    assert_int_equal(amy_result_insert_id(r), 6);
    assert_string_equal(amy_result_colname(r, 0), "id");
    assert_string_equal(amy_result_colname(r, 1), "d");
    assert_int_equal(amy_result_coltype(r, 1), AMY_COL_DOUBLE);
    assert_int_equal(amy_result_colcharset(r, 1), 63);
    assert_int_equal(amy_result_colflags(r, 0), AMY_COLFLAG_NOT_NULL);
    size_t len;
    assert_string_equal(amy_result_value(r, 0, 1, &len), "0.5");
    assert_int_equal(len, 3);
    assert_string_equal(amy_result_value(r, 1, 0, NULL), "2");
    assert_null(amy_result_value(r, 1, 1, &len));
    assert_int_equal(len, 0);
    double d;
    assert_int_equal(amy_result_double(r, 0, 1, &d), AMY_OK);
    assert_true(d == 0.5);
    amy__result_free(r);
}

/* ------------------------------------------------------------------------ */
/* amy__rowbuf                                                              */
/* ------------------------------------------------------------------------ */

static MYSQL_FIELD two_fields[2];

static const MYSQL_FIELD *fields2(void)
{
    memset(two_fields, 0, sizeof two_fields);
    two_fields[0].name = "n";
    two_fields[0].name_length = 1;
    two_fields[1].name = "s";
    two_fields[1].name_length = 1;
    return two_fields;
}

static int text_row(amy__rowbuf *b, const char *a, const char *c)
{
    char *v[2] = {(char *)a, (char *)c};
    unsigned long l[2] = {a ? strlen(a) : 0, c ? strlen(c) : 0};
    return amy__rowbuf_text_row(b, v, l, 2);
}

/* Rows in, one block out, NULLs and empty strings told apart; the buffer
 * is ready for the next result set. */
static void test_rowbuf_text_rows(void **state)
{
    amy__rowbuf b = {0};
    amy__rowbuf_query(&b);
    assert_int_equal(text_row(&b, "1", "one"), 0);
    assert_int_equal(text_row(&b, "2", NULL), 0);
    assert_int_equal(text_row(&b, "", "three"), 0);
    amy_result *r = amy__rowbuf_result(&b, fields2(), 2, 3, 0);
    assert_non_null(r);
    assert_int_equal(amy_result_nrows(r), 3);
    assert_int_equal(amy_result_ncols(r), 2);
    assert_int_equal(amy_result_affected_rows(r), 3);
    assert_string_equal(amy_result_colname(r, 1), "s");
    size_t len;
    assert_string_equal(amy_result_value(r, 0, 1, &len), "one");
    assert_int_equal(len, 3);
    assert_null(amy_result_value(r, 1, 1, &len));
    assert_int_equal(len, 0);
    assert_string_equal(amy_result_value(r, 2, 0, &len), "");
    assert_int_equal(len, 0);
    assert_string_equal(amy_result_value(r, 2, 1, NULL), "three");
    assert_int_equal(b.nrows, 0);
    assert_true(b.spent > 0);
    /* The next result set of the same query starts empty. */
    amy_result *e = amy__rowbuf_result(&b, fields2(), 2, 0, 0);
    assert_non_null(e);
    assert_int_equal(amy_result_nrows(e), 0);
    amy__result_free(e);
    amy__result_free(r);
    amy__rowbuf_free(&b);
}

/* Exactly the limit fits; a byte more drops every row, and later rows of
 * the query are dropped too, until the next query. */
static void test_rowbuf_limit(void **state)
{
    amy__rowbuf b = {0};
    /* "12" + NUL, "abc" + NUL, two cells */
    size_t row = 3 + 4 + 2 * sizeof(amy__cell);
    b.limit = 2 * row;
    amy__rowbuf_query(&b);
    assert_int_equal(text_row(&b, "12", "abc"), 0);
    assert_int_equal(text_row(&b, "34", "def"), 0);
    assert_int_equal(b.over, 0);
    assert_int_equal(text_row(&b, "5", NULL), -1);
    assert_int_equal(b.over, 1);
    assert_int_equal(b.nrows, 0);
    assert_int_equal(text_row(&b, NULL, NULL), -1);
    assert_null(amy__rowbuf_result(&b, fields2(), 2, 0, 0));
    /* A new query: the same rows fit again. */
    amy__rowbuf_query(&b);
    assert_int_equal(text_row(&b, "12", "abc"), 0);
    assert_int_equal(text_row(&b, "34", "def"), 0);
    amy_result *r = amy__rowbuf_result(&b, fields2(), 2, 0, 0);
    assert_non_null(r);
    assert_string_equal(amy_result_value(r, 1, 1, NULL), "def");
    /* The block made counts against a second result set of the query. */
    assert_int_equal(text_row(&b, "1", "a"), -1);
    assert_int_equal(b.over, 1);
    amy__result_free(r);
    amy__rowbuf_free(&b);
}

/* Built value by value, as the binary protocol does. */
static void test_rowbuf_values(void **state)
{
    amy__rowbuf b = {0};
    amy__rowbuf_query(&b);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(amy__rowbuf_row(&b, 2), 0);
        char *p = amy__rowbuf_value(&b, 4);
        assert_non_null(p);
        memcpy(p, "abcd", 4);
        if (i % 2)
            amy__rowbuf_null(&b);
        else
            memcpy(amy__rowbuf_value(&b, 1), "z", 1);
    }
    amy_result *r = amy__rowbuf_result(&b, fields2(), 2, 1000, 0);
    assert_non_null(r);
    assert_int_equal(amy_result_nrows(r), 1000);
    assert_string_equal(amy_result_value(r, 999, 0, NULL), "abcd");
    assert_null(amy_result_value(r, 999, 1, NULL));
    assert_string_equal(amy_result_value(r, 998, 1, NULL), "z");
    amy__result_free(r);

    /* Over the limit in the middle of a row. */
    b.limit = 100;
    amy__rowbuf_query(&b);
    assert_int_equal(amy__rowbuf_row(&b, 2), 0);
    assert_non_null(amy__rowbuf_value(&b, 10));
    assert_null(amy__rowbuf_value(&b, 100));
    amy__rowbuf_null(&b); /* ignored once dropped */
    assert_int_equal(amy__rowbuf_row(&b, 2), -1);
    assert_null(amy__rowbuf_result(&b, fields2(), 2, 0, 0));
    amy__rowbuf_free(&b);
}

/* A large result becomes the block itself (its buffer is handed over), and
 * the buffer starts afresh for the next one. */
static void test_rowbuf_large(void **state)
{
    amy__rowbuf b = {0};
    static char big[300000];
    memset(big, 'L', sizeof big);
    char *v[2] = {big, NULL};
    unsigned long l[2] = {sizeof big, 0};
    amy__rowbuf_query(&b);
    assert_int_equal(amy__rowbuf_text_row(&b, v, l, 2), 0);
    assert_int_equal(amy__rowbuf_text_row(&b, v, l, 2), 0);
    amy_result *r = amy__rowbuf_result(&b, fields2(), 2, 2, 0);
    assert_non_null(r);
    assert_null(b.data);
    size_t len;
    const char *x = amy_result_value(r, 1, 0, &len);
    assert_int_equal(len, sizeof big);
    assert_true(x[0] == 'L' && x[sizeof big - 1] == 'L' && x[sizeof big] == 0);
    assert_null(amy_result_value(r, 1, 1, NULL));
    assert_string_equal(amy_result_colname(r, 0), "n");
    amy__result_free(r);
    amy__rowbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_counts),
        cmocka_unit_test(test_ok_zero),
        cmocka_unit_test(test_ok_full_64_bit),
        cmocka_unit_test(test_ok_has_no_cells),
        cmocka_unit_test(test_null_result),
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_grid_counts_and_names),
        cmocka_unit_test(test_grid_colindex),
        cmocka_unit_test(test_time_reads),
        cmocka_unit_test(test_time_refuses),
        cmocka_unit_test(test_grid_values),
        cmocka_unit_test(test_grid_len_may_be_null),
        cmocka_unit_test(test_grid_out_of_range),
        cmocka_unit_test(test_columns_without_rows),
        cmocka_unit_test(test_alloc_and_set_cols),
        cmocka_unit_test(test_rowbuf_text_rows),
        cmocka_unit_test(test_rowbuf_limit),
        cmocka_unit_test(test_rowbuf_values),
        cmocka_unit_test(test_rowbuf_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
