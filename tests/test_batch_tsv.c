/*
 * Tests for tools/tsv.c: values and rows in the format of mariadb --batch.
 * Whole results from a server are compared with the real mariadb client by
 * tests/cli/compare.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsv.h"

typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} memout;

static void mo_open(memout *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    assert_non_null(m->f);
}

/* Closes the stream and checks what was written. */
static void mo_check(memout *m, const char *want, size_t wantlen)
{
    assert_int_equal(fclose(m->f), 0);
    assert_int_equal(m->len, wantlen);
    assert_memory_equal(m->buf, want, wantlen);
    free(m->buf);
}

static void field(const char *v, size_t len, const char *want, size_t wantlen)
{
    memout m;
    mo_open(&m);
    amy__cli_tsv_field(m.f, v, len);
    mo_check(&m, want, wantlen);
}

#define FIELD(lit, want) field(lit, sizeof lit - 1, want, sizeof want - 1)

static void test_plain(void **state)
{
    FIELD("hello", "hello");
    FIELD("", "");
    FIELD("with space, comma; quote' \"", "with space, comma; quote' \"");
}

static void test_null(void **state)
{
    field(NULL, 0, "NULL", 4);
    /* The string NULL is not escaped: mariadb --batch is ambiguous there. */
    FIELD("NULL", "NULL");
}

static void test_escapes(void **state)
{
    FIELD("a\tb", "a\\tb");
    FIELD("a\nb", "a\\nb");
    FIELD("a\\b", "a\\\\b");
    FIELD("a\0b", "a\\0b");
    FIELD("\t\n\\\0", "\\t\\n\\\\\\0");
    FIELD("\\N", "\\\\N");
}

static void test_other_bytes_raw(void **state)
{
    /* Carriage return, other controls, invalid UTF-8: as they are. */
    FIELD("cr\rlf", "cr\rlf");
    FIELD("\x01\x7f\xff\xc3", "\x01\x7f\xff\xc3");
}

static void test_unicode_untouched(void **state)
{
    FIELD("h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80",
          "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80");
}

static void test_length_not_terminator(void **state)
{
    field("abcdef", 3, "abc", 3);
    field("a\0\0", 3, "a\\0\\0", 5);
}

static void test_row(void **state)
{
    const char *vals[] = {"1", NULL, "", "x\ty"};
    const size_t lens[] = {1, 999, 0, 3};
    memout m;
    mo_open(&m);
    amy__cli_tsv_row(m.f, vals, lens, 4);
    const char want[] = "1\tNULL\t\tx\\ty\n";
    mo_check(&m, want, sizeof want - 1);
}

static void test_row_single_and_empty(void **state)
{
    const char *one[] = {""};
    const size_t len[] = {0};
    memout m;
    mo_open(&m);
    amy__cli_tsv_row(m.f, one, len, 1);
    mo_check(&m, "\n", 1);
}

static void test_result_null_prints_nothing(void **state)
{
    memout m;
    mo_open(&m);
    amy__cli_tsv_result(m.f, NULL, 1);
    mo_check(&m, "", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_null),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_other_bytes_raw),
        cmocka_unit_test(test_unicode_untouched),
        cmocka_unit_test(test_length_not_terminator),
        cmocka_unit_test(test_row),
        cmocka_unit_test(test_row_single_and_empty),
        cmocka_unit_test(test_result_null_prints_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
