/* The debug mode and the release builds' safety nets. Internal.
 *
 * src/debug.c says what each build does with a misuse of the API. This
 * header knows no amysql type: handles are plain pointers with a magic
 * word, callbacks are frames on a per-thread stack.
 */
#ifndef AMY_DEBUG_H
#define AMY_DEBUG_H

#include <stddef.h>
#include <stdint.h>

/* 1 in a debug build (cmake -DAMY_DEBUG=ON), 0 otherwise. */
#ifdef AMY_DEBUG
#define AMY__DEBUG 1
#else
#define AMY__DEBUG 0
#endif

/* Magic words: a live handle holds the first of its pair; the one word a
 * freed handle keeps (a debug build's tombstone) or had written just
 * before free() (a release build) is the second. */
#define AMY__FUTURE_LIVE 0x6641u /* "Af": 16 bits, see future.h */
#define AMY__FUTURE_DEAD 0xdf0fu
#define AMY__RESULT_LIVE 0x52796d41u /* "AmyR" */
#define AMY__RESULT_DEAD 0xdead0e0eu

/*
 * A misuse of the API: prints "amysql: CALL: message" on stderr; a debug
 * build then aborts. A release build returns, and the caller does the safe
 * thing it documents (a status, NULL, nothing).
 */
void amy__misuse(const char *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A line on stderr as amy__misuse's, in every build, for what is allowed
 * but most likely a mistake; never aborts. */
void amy__note(const char *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * For a handle h (a "future", a "result": what) whose magic word is not its
 * live one: 0, after reporting the misuse (amy__misuse) unless h is NULL.
 * dead is the word a freed one holds, for the message.
 */
int amy__stale(const void *h, uint32_t magic, uint32_t dead, const char *what,
               const char *call);

/*
 * Frees blk, a malloc'd handle whose magic word (width 2 or 4 bytes) sits
 * at offset `at`: the word is set to dead first. A debug build keeps it as
 * a tombstone instead (src/debug.c), its other bytes poisoned.
 */
void amy__bury(void *blk, size_t at, size_t width, uint32_t dead);

/* Frees every tombstone now (they are freed at exit anyway). */
void amy__tombs_flush(void);

/*
 * The callbacks of amysql that run now on this thread, innermost first: a
 * frame on the C stack of the code that calls them (a future's callbacks,
 * a stream's on_row). What may not be done inside them is checked here.
 */
typedef struct amy__cbframe {
    struct amy__cbframe *up;
    const void *future; /* whose callbacks (or whose on_row) run */
    const void *pool;   /* that future's pool, or NULL */
    unsigned char row;  /* an on_row, not a then-callback */
} amy__cbframe;

extern _Thread_local amy__cbframe *amy__cbtop;

static inline void amy__cb_enter(amy__cbframe *fr, const void *future,
                                 const void *pool, int row)
{
    fr->future = future;
    fr->pool = pool;
    fr->row = (unsigned char)row;
    fr->up = amy__cbtop;
    amy__cbtop = fr;
}

static inline void amy__cb_leave(amy__cbframe *fr)
{
    amy__cbtop = fr->up;
}

/* Whether a callback of future f runs on this thread, or any on_row. */
int amy__cb_of_future(const void *f);
int amy__cb_in_row(void);
/* Whether a callback of one of pool's futures runs on this thread. */
int amy__cb_of_pool(const void *pool);

#endif
