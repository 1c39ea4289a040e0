/*
 * The debug mode (cmake -DAMY_DEBUG=ON, on in the sanitizer build) and the
 * safety nets every build has, for the classic mistakes of a caller:
 *
 *   mistake                               debug build         release build
 *   a future or result used after free    abort, naming       AMY_EINVAL / NULL /
 *     (amy_future_*, amy_result_*)         the call            0, best effort
 *   amy_future_free twice                 abort               ignored
 *   amy_future_wait inside the future's   abort               AMY_EINVAL
 *     own callbacks, or inside any on_row
 *   amy_pool_free inside a callback of    abort               the pool is not
 *     one of that pool's futures                               freed (it leaks)
 *   amy_pool_free with pinned connections a line on stderr    the same line
 *     not released                         (allowed: the handles stay until
 *                                           amy_conn_release)
 *
 * Every one of them prints "amysql: CALL: what" on stderr first.
 *
 * Freed handles. Futures and results carry a magic word (AMY__*_LIVE);
 * every public function checks it before anything else. Freeing writes
 * the dead word first. A release build then free()s the block: a later
 * call most likely still reads the dead word, or whatever the allocator
 * wrote over it, and refuses; but the memory may have been reused for a
 * new future or result, which then answers (reading freed memory is
 * undefined: this is a net, not a guarantee). A debug build keeps the
 * block instead, as a tombstone: everything it pointed to is freed, its
 * bytes are overwritten (0xa5) but for the dead word, and under ASan or
 * valgrind they are made inaccessible, so the library's own stray reads
 * still get caught by them. The tombstones wait in a bounded FIFO
 * quarantine (TOMB_MAX blocks, TOMB_BYTES bytes; a larger block is freed at
 * once, undetected): the oldest is really freed as new ones come, and all
 * at exit, so valgrind and LeakSanitizer see nothing left.
 *
 * Forbidden calls inside callbacks. Whoever calls a user's callback (a
 * future's notify, a stream's rows) pushes a frame on a per-thread stack
 * (amy__cbframe, on the caller's C stack: no allocation) saying whose
 * callbacks run and for which pool; amy_future_wait and amy_pool_free look
 * at it. When no callback runs the stack is empty and the check is one
 * load of a thread-local pointer.
 *
 * What this costs in a release build, measured with bench/ab.sh (W1 and W4)
 * in the commit that added it: see its message.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_usable_size */
#endif

#include "debug.h"

/* Poisoning for the sanitizers of the build, when there are. */
#if defined(__SANITIZE_ADDRESS__)
#define AMY__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AMY__ASAN 1
#endif
#endif
#ifdef AMY__ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   __asan_poison_memory_region((p), (n))
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define VG_NOACCESS(p, n)  VALGRIND_MAKE_MEM_NOACCESS((p), (n))
#define VG_UNDEFINED(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#endif
#endif
#ifndef VG_NOACCESS
#define VG_NOACCESS(p, n)  ((void)(p), (void)(n))
#define VG_UNDEFINED(p, n) ((void)(p), (void)(n))
#endif

_Thread_local amy__cbframe *amy__cbtop;

static void vreport(const char *call, const char *fmt, va_list ap)
{
    /* One fprintf per part, under the stream's lock: a line of its own. */
    flockfile(stderr);
    fprintf(stderr, "amysql: %s: ", call);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    fflush(stderr);
}

void amy__misuse(const char *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(call, fmt, ap);
    va_end(ap);
    if (AMY__DEBUG)
        abort();
}

void amy__note(const char *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(call, fmt, ap);
    va_end(ap);
}

int amy__stale(const void *h, uint32_t magic, uint32_t dead, const char *what,
               const char *call)
{
    if (!h)
        return 0;
    if (magic == dead)
        amy__misuse(call, "%s %p was already freed", what, h);
    else
        amy__misuse(call, "%p is not a live %s (freed earlier, or never one)",
                    h, what);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Tombstones                                                               */
/* ------------------------------------------------------------------------ */

#define TOMB_MAX   1024
#define TOMB_BYTES ((size_t)16 << 20)

static struct {
    pthread_mutex_t lock;
    void *blk[TOMB_MAX];
    size_t size[TOMB_MAX];
    size_t head, n, bytes; /* oldest at head */
    int registered;        /* the atexit flush */
} tombs = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The bytes of blk that may be poisoned: all malloc gave, where known. */
static size_t block_size(void *blk, size_t size)
{
#ifdef __GLIBC__
    size_t n = malloc_usable_size(blk);
    return n > size ? n : size;
#else
    return size;
#endif
}

static void tomb_free(void *blk, size_t size)
{
    UNPOISON(blk, size);
    VG_UNDEFINED(blk, size);
    free(blk);
}

/* The oldest tombstone goes; the lock is held. */
static void evict_oldest(void)
{
    size_t i = tombs.head;
    tomb_free(tombs.blk[i], tombs.size[i]);
    tombs.bytes -= tombs.size[i];
    tombs.head = (i + 1) % TOMB_MAX;
    tombs.n--;
}

void amy__tombs_flush(void)
{
    pthread_mutex_lock(&tombs.lock);
    while (tombs.n)
        evict_oldest();
    pthread_mutex_unlock(&tombs.lock);
}

static void flush_at_exit(void)
{
    amy__tombs_flush();
}

/* The magic word at p, width bytes, set to dead. */
static void write_word(char *p, size_t width, uint32_t dead)
{
    if (width == sizeof(uint16_t)) {
        uint16_t w = (uint16_t)dead;
        memcpy(p, &w, sizeof w);
    } else {
        memcpy(p, &dead, sizeof dead);
    }
}

void amy__bury(void *blk, size_t at, size_t width, uint32_t dead)
{
    if (!blk)
        return;
    char *word = (char *)blk + at;
    if (!AMY__DEBUG) {
        write_word(word, width, dead);
        free(blk);
        return;
    }
    size_t size = block_size(blk, at + width);
    memset(blk, 0xa5, size);
    write_word(word, width, dead);
    if (size > TOMB_BYTES) {
        free(blk);
        return;
    }
    /* Nothing but the magic word may be read any more (ASan tracks 8-byte
     * granules: the word starts one, so the bytes before it stay poisoned). */
    POISON(blk, size);
    UNPOISON(word, width);
    VG_NOACCESS(blk, at);
    VG_NOACCESS(word + width, size - at - width);
    pthread_mutex_lock(&tombs.lock);
    if (!tombs.registered)
        tombs.registered = atexit(flush_at_exit) == 0 ? 1 : -1;
    while (tombs.n == TOMB_MAX || tombs.bytes + size > TOMB_BYTES)
        evict_oldest();
    size_t i = (tombs.head + tombs.n) % TOMB_MAX;
    tombs.blk[i] = blk;
    tombs.size[i] = size;
    tombs.n++;
    tombs.bytes += size;
    pthread_mutex_unlock(&tombs.lock);
}

/* ------------------------------------------------------------------------ */
/* Callback frames                                                          */
/* ------------------------------------------------------------------------ */

int amy__cb_of_future(const void *f)
{
    for (const amy__cbframe *fr = amy__cbtop; fr; fr = fr->up)
        if (fr->future == f)
            return 1;
    return 0;
}

int amy__cb_in_row(void)
{
    for (const amy__cbframe *fr = amy__cbtop; fr; fr = fr->up)
        if (fr->row)
            return 1;
    return 0;
}

int amy__cb_of_pool(const void *pool)
{
    for (const amy__cbframe *fr = amy__cbtop; fr; fr = fr->up)
        if (fr->pool == pool)
            return 1;
    return 0;
}
