/*
 * Helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.c): a reader
 * that takes typed values from the front of the fuzzer's input, and the
 * check that turns a broken invariant into a crash libFuzzer records.
 */
#ifndef AMY_FUZZ_H
#define AMY_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input, consumed from the front. Past its end every value is 0, so
 * any input decodes to something (short inputs to zeros). */
typedef struct {
    const uint8_t *p;
    size_t n;
} fz_in;

static inline uint8_t fz_u8(fz_in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint16_t fz_u16(fz_in *in)
{
    uint16_t v = fz_u8(in);
    return (uint16_t)(v | fz_u8(in) << 8);
}

static inline uint32_t fz_u32(fz_in *in)
{
    uint32_t v = fz_u16(in);
    return v | (uint32_t)fz_u16(in) << 16;
}

static inline uint64_t fz_u64(fz_in *in)
{
    uint64_t v = fz_u32(in);
    return v | (uint64_t)fz_u32(in) << 32;
}

/* Up to max bytes (fewer when the input runs out): *len of them at the
 * returned pointer, which stays valid for the whole run. */
static inline const uint8_t *fz_bytes(fz_in *in, size_t max, size_t *len)
{
    const uint8_t *p = in->p;
    *len = max < in->n ? max : in->n;
    in->p += *len;
    in->n -= *len;
    return p;
}

/* A small number most of the time, any 32-bit value sometimes: byte 0xff
 * is followed by the full value. Edge values (0, 1, large) come up often,
 * and the fuzzer still reaches every value. */
static inline uint32_t fz_small(fz_in *in)
{
    uint8_t b = fz_u8(in);
    return b == 0xff ? fz_u32(in) : b;
}

/* A broken invariant: the message, then abort(), which libFuzzer reports
 * as a crash and saves the input for. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
static inline void
fz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz invariant broken: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

#define FZ_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond))                                                           \
            fz_fail(__VA_ARGS__);                                              \
    } while (0)

#endif
