/*
 * The dialer (see dial.h): a thread that runs blocking mysql_real_connect
 * for the loop, one connection at a time.
 *
 * A dial's states (j->state), all changed under d->mu:
 *   QUEUED   in d->queue, waiting for the thread.
 *   RUNNING  the thread is connecting it (d->running).
 *   DONE     connected or failed, in d->done; the loop's ev_async hands
 *            it to its owner (done) and frees the dial.
 *   QUEUED --thread takes it--> RUNNING --connect returns--> DONE
 *   cancel: QUEUED: removed, freed by the loop (the handle never
 *           connected: closing it does no I/O);
 *           RUNNING: marked canceled and the thread woken (wake pipe): the
 *           connect fails at its next wait, the thread closes and frees;
 *           DONE: marked canceled and queued again, at the front: the
 *           thread closes it (closing a live TLS session writes).
 *
 * The connector waits through our io_wait hook on this thread, which also
 * watches the wake pipe, so a cancel or the pool's end cuts a connect
 * short, and keeps the dial's connect_timeout_ms. A name lookup inside the connect cannot be cut short: a dialer
 * freed then leaves its thread to finish alone (orphan), and the thread
 * frees the dialer when it ends.
 *
 * The greeting check: when a dial demands TLS, a read callback sees the
 * server's first packet before the connector answers it; a server that
 * offers no TLS is hung up on (socket shut down), so no user name or
 * password hash ever goes to it in plaintext.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>
/* After mysql.h, which they need. */
#include <ma_pvio.h>

#include "dial.h"
#include "list.h"

/* Exported by Connector/C, declared in none of its installed headers: a
 * process-wide hook on every packet read and write. */
int ma_pvio_register_callback(my_bool register_callback,
                              void (*callback_function)(int mode, MYSQL *mysql,
                                                        const unsigned char *b,
                                                        size_t length));

enum { QUEUED, RUNNING, DONE };

/* How long amy__dialer_free waits for the thread to end. The wake pipe
 * ends a network wait at once; only a name lookup takes longer. */
#define FREE_WAIT_NS 200000000L

struct amy__dial {
    amy__link link; /* in d->queue or d->done */
    amy__dialer *d;
    MYSQL *m;
    amy__dial_done *done;
    void *arg;
    char *strs; /* one block holding the strings below */
    const char *host, *user, *password, *database, *socket, *endpoint;
    unsigned port, timeout_ms;
    struct timespec deadline; /* RUNNING, with timeout_ms */
    unsigned long flags;
    unsigned char state, canceled, demand_tls;
    int ok;
    const char *why; /* the dialer's own refusal, or NULL */
    unsigned err;    /* its client error number */
    char why_buf[200];
    /* The greeting, as far as read (demand_tls only). */
    unsigned char hello[160];
    size_t nhello;
    unsigned char greeted;
};

struct amy__dialer {
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* the thread: work or quit; the loop: exited */
    amy__link queue;    /* QUEUED (and canceled DONE ones to close) */
    amy__link done;     /* DONE, for the loop */
    amy__dial *running; /* RUNNING */
    int wake[2];        /* pipe: readable = cut the running dial short */
    pthread_t thread;
    unsigned char started, quit, exited, orphan;

    /* The loop thread's. */
    struct ev_loop *loop;
    ev_async async;
    unsigned outstanding; /* dials whose done is still due: while any,
                             the async watcher is active (keeps the loop
                             running) */
    unsigned char in_cb, free_pending;
};

/* The dial this thread is connecting (the dialer's thread only). */
static _Thread_local amy__dial *cur;

static pthread_once_t hook_once = PTHREAD_ONCE_INIT;

static void drain_wake(amy__dialer *d)
{
    char b[64];
    while (read(d->wake[0], b, sizeof b) > 0) {
    }
}

static void wake(amy__dialer *d)
{
    char b = 1;
    ssize_t n = write(d->wake[1], &b, 1); /* full already: awake anyway */
    (void)n;
}

/* Milliseconds from now until t (0 when past). */
static int ms_left(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (long long)(t->tv_sec - now.tv_sec) * 1000 +
                   (t->tv_nsec - now.tv_nsec) / 1000000;
    return ms <= 0 ? 0 : ms > 86400000 ? 86400000 : (int)ms;
}

/* The connector's waits (MARIADB_OPT_IO_WAIT). On the dialer's thread it
 * waits for the socket or the wake pipe, until the dial's own deadline
 * (connect_timeout_ms from when the thread started it; the connector's
 * timeouts are in seconds, and one of them is misread as milliseconds in
 * its TLS handshake). Elsewhere it waits as the
 * connector's own would. Returns > 0 ready, 0 timed out, -1 error. */
static int io_wait(my_socket fd, my_bool is_read, int timeout)
{
    amy__dial *j = cur;
    struct pollfd p[2] = {{.fd = (int)fd, .events = is_read ? POLLIN : POLLOUT},
                          {.fd = j ? j->d->wake[0] : -1, .events = POLLIN}};
    int ms = timeout <= 0 ? -1 : timeout;
    if (j) /* our deadline, not the connector's idea of one */
        ms = j->timeout_ms ? ms_left(&j->deadline) : -1;
    for (;;) {
        int r = poll(p, 2, ms);
        if (r == 0 && j && !j->why) {
            snprintf(j->why_buf, sizeof j->why_buf,
                     "connect to %.120s timed out after %u ms",
                     j->endpoint ? j->endpoint : "the server", j->timeout_ms);
            j->why = j->why_buf;
            j->err = 0;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0 && p[1].revents) {
            errno = ECANCELED;
            return -1;
        }
        if (r == 0)
            errno = ETIMEDOUT;
        return r;
    }
}

/* The greeting: 4-byte header, protocol version, server version (NUL
 * ended), connection id (4), scramble (8), filler (1), then the low 16
 * capability bits. */
static void check_greeting(amy__dial *j)
{
    const unsigned char *p = j->hello + 4;
    size_t n = j->nhello < 4 ? 0 : j->nhello - 4;
    if (n >= 1 && p[0] == 0xff) { /* an error packet: the connector's */
        j->greeted = 1;
        return;
    }
    const unsigned char *nul = n > 1 ? memchr(p + 1, 0, n - 1) : NULL;
    size_t at = nul ? (size_t)(nul - p) + 1 + 4 + 8 + 1 : 0;
    if (!nul || n < at + 2) {
        if (j->nhello == sizeof j->hello)
            j->greeted = 1; /* not a greeting we know: after_connect checks */
        return;
    }
    j->greeted = 1;
    unsigned caps = p[at] | (unsigned)p[at + 1] << 8;
    if (!(caps & CLIENT_SSL)) {
        j->why = "the server offers no TLS, and ssl_mode requires it: amysql "
                 "hung up before sending any credentials";
        j->err = 2026; /* CR_SSL_CONNECTION_ERROR */
        shutdown((int)mysql_get_socket(j->m), SHUT_RDWR);
    }
}

static void on_packet_io(int mode, MYSQL *m, const unsigned char *b,
                         size_t length)
{
    amy__dial *j = cur;
    ssize_t n = (ssize_t)length; /* the connector passes its ssize_t */
    if (!j || mode != 0 || m != j->m || !j->demand_tls || j->greeted || n <= 0)
        return;
    size_t room = sizeof j->hello - j->nhello;
    size_t k = (size_t)n < room ? (size_t)n : room;
    memcpy(j->hello + j->nhello, b, k);
    j->nhello += k;
    check_greeting(j);
}

static void register_hook(void)
{
    ma_pvio_register_callback(1, on_packet_io);
}

static void dial_free(amy__dial *j)
{
    if (j->m)
        mysql_close(j->m);
    free(j->strs);
    free(j);
}

static void connect_one(amy__dial *j)
{
    clock_gettime(CLOCK_MONOTONIC, &j->deadline);
    j->deadline.tv_sec += j->timeout_ms / 1000;
    j->deadline.tv_nsec += (long)(j->timeout_ms % 1000) * 1000000L;
    if (j->deadline.tv_nsec >= 1000000000L) {
        j->deadline.tv_sec++;
        j->deadline.tv_nsec -= 1000000000L;
    }
    cur = j;
    MYSQL *r = mysql_real_connect(j->m, j->host, j->user, j->password,
                                  j->database, j->port, j->socket, j->flags);
    cur = NULL;
    j->ok = r != NULL && !j->why;
}

static void dialer_destroy(amy__dialer *d)
{
    close(d->wake[0]);
    close(d->wake[1]);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

static void *thread_main(void *arg)
{
    amy__dialer *d = arg;
    mysql_thread_init();
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->quit && amy__list_empty(&d->queue))
            pthread_cond_wait(&d->cv, &d->mu);
        if (amy__list_empty(&d->queue))
            break; /* quit, and nothing left to close */
        amy__dial *j =
            AMY__CONTAINER(amy__list_first(&d->queue), amy__dial, link);
        amy__list_remove(&j->link);
        if (j->canceled || d->quit) {
            pthread_mutex_unlock(&d->mu);
            dial_free(j);
            pthread_mutex_lock(&d->mu);
            continue;
        }
        j->state = RUNNING;
        d->running = j;
        drain_wake(d); /* a wake meant for an earlier dial */
        pthread_mutex_unlock(&d->mu);
        connect_one(j);
        pthread_mutex_lock(&d->mu);
        d->running = NULL;
        if (j->canceled || d->quit) {
            pthread_mutex_unlock(&d->mu);
            dial_free(j);
            pthread_mutex_lock(&d->mu);
            continue;
        }
        j->state = DONE;
        amy__list_push_back(&d->done, &j->link);
        ev_async_send(d->loop, &d->async);
    }
    d->exited = 1;
    int orphan = d->orphan;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    mysql_thread_end();
    if (orphan)
        dialer_destroy(d);
    return NULL;
}

static void hold(amy__dialer *d, int delta)
{
    d->outstanding = (unsigned)((int)d->outstanding + delta);
    if (d->outstanding && !ev_is_active(&d->async))
        ev_async_start(d->loop, &d->async);
    else if (!d->outstanding && ev_is_active(&d->async))
        ev_async_stop(d->loop, &d->async);
}

static void finalize_free(amy__dialer *d);

/* A connected handle goes over to the non-blocking API: the option on the
 * live handle, and a non-blocking socket (the connector left it blocking),
 * set through the connector so its idea of the socket's mode is right. */
static int to_nonblocking(MYSQL *m)
{
    mysql_optionsv(m, MARIADB_OPT_IO_WAIT, NULL); /* its own waits again */
    if (mysql_options(m, MYSQL_OPT_NONBLOCK, 0) != 0)
        return -1;
    MARIADB_PVIO *pv = m->net.pvio;
    if (pv && pv->methods && pv->methods->blocking)
        pv->methods->blocking(pv, 0, NULL);
    int fd = (int)mysql_get_socket(m);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    return (fl & O_NONBLOCK) || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 ? 0
                                                                         : -1;
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    amy__dialer *d = w->data;
    d->in_cb = 1;
    /* One at a time: a done callback may start or cancel dials, or free
     * the pool (and this dialer: then free_pending). */
    while (!d->free_pending) {
        pthread_mutex_lock(&d->mu);
        amy__dial *j =
            amy__list_empty(&d->done)
                ? NULL
                : AMY__CONTAINER(amy__list_first(&d->done), amy__dial, link);
        if (j)
            amy__list_remove(&j->link);
        pthread_mutex_unlock(&d->mu);
        if (!j)
            break;
        hold(d, -1);
        amy__dial_done *done = j->done;
        void *a = j->arg;
        int ok = j->ok;
        const char *why = j->why;
        unsigned err = j->err;
        if (ok && to_nonblocking(j->m) != 0) {
            ok = 0;
            why = "could not switch the connection to non-blocking I/O";
            err = 2000; /* CR_UNKNOWN_ERROR */
        }
        j->m = NULL; /* the owner's now (why stays valid until freed) */
        done(a, ok, err, why);
        dial_free(j);
    }
    d->in_cb = 0;
    if (d->free_pending)
        finalize_free(d);
}

amy__dialer *amy__dialer_new(struct ev_loop *loop)
{
    amy__dialer *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (pipe(d->wake) != 0) {
        free(d);
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(d->wake[i], F_SETFL, fcntl(d->wake[i], F_GETFL) | O_NONBLOCK);
        fcntl(d->wake[i], F_SETFD, FD_CLOEXEC);
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    amy__list_init(&d->queue);
    amy__list_init(&d->done);
    d->loop = loop;
    ev_async_init(&d->async, async_cb);
    d->async.data = d;
    return d;
}

/* Starts the thread with every signal blocked: the process's signals are
 * for the application's threads. */
static int start_thread(amy__dialer *d)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&d->thread, NULL, thread_main, d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    d->started = 1;
    return 0;
}

static char *dup_into(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *r = memcpy(*at, s, n);
    *at += n;
    return r;
}

amy__dial *amy__dial_start(amy__dialer *d, MYSQL *m, const amy__dial_args *a,
                           amy__dial_done *done, void *arg)
{
    pthread_once(&hook_once, register_hook);
    if (!d->started && start_thread(d) != 0)
        return NULL;
    amy__dial *j = calloc(1, sizeof *j);
    const char *src[] = {a->host,     a->user,   a->password,
                         a->database, a->socket, a->endpoint};
    size_t total = 0;
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++)
        total += src[i] ? strlen(src[i]) + 1 : 0;
    char *block = j ? malloc(total ? total : 1) : NULL;
    if (!block) {
        free(j);
        return NULL;
    }
    char *at = block;
    j->strs = block;
    j->host = dup_into(&at, a->host);
    j->user = dup_into(&at, a->user);
    j->password = dup_into(&at, a->password);
    j->database = dup_into(&at, a->database);
    j->socket = dup_into(&at, a->socket);
    j->endpoint = dup_into(&at, a->endpoint);
    j->port = a->port;
    j->timeout_ms = a->timeout_ms;
    j->flags = a->flags;
    j->demand_tls = a->demand_tls != 0;
    j->d = d;
    j->m = m;
    j->done = done;
    j->arg = arg;
    j->state = QUEUED;
    mysql_optionsv(m, MARIADB_OPT_IO_WAIT, io_wait);
    hold(d, +1);
    pthread_mutex_lock(&d->mu);
    amy__list_push_back(&d->queue, &j->link);
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    return j;
}

void amy__dial_cancel(amy__dial *j)
{
    amy__dialer *d = j->d;
    pthread_mutex_lock(&d->mu);
    int free_now = 0;
    switch (j->state) {
    case QUEUED:
        amy__list_remove(&j->link);
        free_now = 1;
        break;
    case RUNNING:
        j->canceled = 1;
        wake(d);
        break;
    case DONE:
        j->canceled = 1;
        amy__list_remove(&j->link);
        amy__list_push_front(&d->queue, &j->link);
        pthread_cond_signal(&d->cv);
        break;
    }
    pthread_mutex_unlock(&d->mu);
    hold(d, -1);
    if (free_now)
        dial_free(j);
}

static void finalize_free(amy__dialer *d)
{
    if (!d->started) {
        dialer_destroy(d);
        return;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += FREE_WAIT_NS;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&d->mu);
    while (!d->exited &&
           pthread_cond_timedwait(&d->cv, &d->mu, &until) != ETIMEDOUT) {
    }
    int exited = d->exited;
    if (!exited)
        d->orphan = 1; /* the thread frees d when it ends */
    pthread_mutex_unlock(&d->mu);
    if (exited) {
        pthread_join(d->thread, NULL);
        dialer_destroy(d);
    } else {
        pthread_detach(d->thread);
    }
}

void amy__dialer_free(amy__dialer *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->quit = 1; /* from now on the thread sends nothing to the loop */
    /* Everything left is closed by the thread, or by us without one. */
    while (!amy__list_empty(&d->done)) {
        amy__link *l = amy__list_first(&d->done);
        amy__list_remove(l);
        amy__list_push_back(&d->queue, l);
    }
    if (d->running) {
        d->running->canceled = 1;
        wake(d);
    }
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (ev_is_active(&d->async))
        ev_async_stop(d->loop, &d->async);
    d->outstanding = 0;
    if (!d->started) {
        while (!amy__list_empty(&d->queue)) {
            amy__link *l = amy__list_first(&d->queue);
            amy__list_remove(l);
            dial_free(AMY__CONTAINER(l, amy__dial, link));
        }
    }
    if (d->in_cb) {
        d->free_pending = 1; /* async_cb finishes it */
        return;
    }
    finalize_free(d);
}
