/* Unit tests of src/wire.c: COM_QUERY framing and flushing, no server. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "wire.h"

static size_t pk_len(const unsigned char *p)
{
    return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16;
}

static void test_one_packet(void **state)
{
    amy__wbuf w = {0};
    assert_int_equal(amy__wire_query(&w, "SELECT 1", 8), 0);
    const unsigned char *p = (const unsigned char *)w.buf;
    assert_int_equal(w.len, 4 + 1 + 8);
    assert_int_equal(w.total, 13);
    assert_int_equal(pk_len(p), 9);
    assert_int_equal(p[3], 0);    /* sequence number */
    assert_int_equal(p[4], 0x03); /* COM_QUERY */
    assert_memory_equal(p + 5, "SELECT 1", 8);
    /* A second query follows the first, each its own sequence 0. */
    assert_int_equal(amy__wire_query(&w, "", 0), 0);
    assert_int_equal(w.total, 13 + 5);
    assert_int_equal(pk_len(p + 13), 1);
    assert_int_equal(p[13 + 3], 0);
    amy__wire_free(&w);
}

/* A payload of 2^24-1 bytes or more is split, and ends with a shorter
 * (here empty) packet. */
static void test_split_at_16m(void **state)
{
    size_t len = 0xffffff - 1; /* payload with the command byte: 2^24-1 */
    char *sql = malloc(len);
    assert_non_null(sql);
    for (size_t i = 0; i < len; i++)
        sql[i] = (char)('a' + i % 26);
    amy__wbuf w = {0};
    assert_int_equal(amy__wire_query(&w, sql, len), 0);
    const unsigned char *p = (const unsigned char *)w.buf;
    assert_int_equal(w.len, 4 + 0xffffff + 4);
    assert_int_equal(pk_len(p), 0xffffff);
    assert_int_equal(p[3], 0);
    assert_int_equal(p[4], 0x03);
    assert_memory_equal(p + 5, sql, len);
    assert_int_equal(pk_len(p + 4 + 0xffffff), 0);
    assert_int_equal(p[4 + 0xffffff + 3], 1);
    amy__wire_free(&w);

    /* One byte more: the second packet carries it. */
    char *sql2 = realloc(sql, len + 1);
    assert_non_null(sql2);
    sql2[len] = 'Z';
    assert_int_equal(amy__wire_query(&w, sql2, len + 1), 0);
    p = (const unsigned char *)w.buf;
    assert_int_equal(w.len, 4 + 0xffffff + 4 + 1);
    assert_int_equal(pk_len(p + 4 + 0xffffff), 1);
    assert_int_equal(p[4 + 0xffffff + 4], 'Z');
    amy__wire_free(&w);
    free(sql2);
}

/* What the socket cannot take waits; the rest goes on the next flush,
 * byte for byte, and a broken socket says so. */
static void test_flush_partial_and_broken(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    size_t len = 1u << 20;
    char *sql = malloc(len);
    assert_non_null(sql);
    memset(sql, 'x', len);
    amy__wbuf w = {0};
    assert_int_equal(amy__wire_query(&w, sql, len), 0);
    size_t want = w.len, got = 0;
    int r = amy__wire_flush(&w, sv[0]);
    assert_int_equal(r, 1); /* 1 MiB does not fit a 4 KiB buffer */
    assert_true(w.flushed < want);
    char *buf = malloc(want);
    assert_non_null(buf);
    while (r == 1) {
        ssize_t n;
        while ((n = read(sv[1], buf + got, want - got)) > 0)
            got += (size_t)n;
        r = amy__wire_flush(&w, sv[0]);
    }
    assert_int_equal(r, 0);
    assert_int_equal(w.flushed, want);
    assert_int_equal(w.len, 0);
    ssize_t n;
    while (got < want && (n = read(sv[1], buf + got, want - got)) > 0)
        got += (size_t)n;
    assert_int_equal(got, want);
    assert_int_equal(buf[4], 0x03);
    assert_memory_equal(buf + 5, sql, 100);
    /* Over 1 MiB of buffer is not kept once everything went. */
    assert_null(w.buf);

    close(sv[1]);
    assert_int_equal(amy__wire_query(&w, "SELECT 1", 8), 0);
    assert_int_equal(amy__wire_flush(&w, sv[0]), -1);
    close(sv[0]);
    amy__wire_free(&w);
    free(buf);
    free(sql);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_packet),
        cmocka_unit_test(test_split_at_16m),
        cmocka_unit_test(test_flush_partial_and_broken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
