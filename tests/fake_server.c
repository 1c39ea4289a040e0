/* A hostile MySQL server for tests: see fake_server.h. */
#define _GNU_SOURCE /* POLLRDHUP, memmem */
#include "fake_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct fk_conn {
    struct fk_conn *next;
    fk_server *fk;
    pthread_t thread;
    int client, backend; /* -1 when closed */
} fk_conn;

struct fk_server {
    int listener;
    unsigned port;
    struct sockaddr_in backend;
    pthread_t acceptor;
    pthread_mutex_t mu;
    fk_mode mode;
    int stopping;
    unsigned hostile, accepted;
    fk_conn *conns;
    unsigned char *seen; /* client bytes of handshake modes */
    size_t nseen;
};

/* ------------------------------------------------------------------------ */
/* Bytes                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct buf {
    unsigned char *b;
    size_t n, cap;
} buf;

static void put(buf *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->n + n)
            cap *= 2;
        unsigned char *b = realloc(o->b, cap);
        if (!b)
            abort(); /* a test helper: nothing sensible to do */
        o->b = b;
        o->cap = cap;
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put1(buf *o, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(o, &c, 1);
}

static void put2(buf *o, unsigned v)
{
    put1(o, v & 0xff);
    put1(o, (v >> 8) & 0xff);
}

static void put3(buf *o, unsigned v)
{
    put2(o, v & 0xffff);
    put1(o, (v >> 16) & 0xff);
}

static void put4(buf *o, unsigned v)
{
    put2(o, v & 0xffff);
    put2(o, (v >> 16) & 0xffff);
}

static void put_lenenc(buf *o, uint64_t v)
{
    if (v < 251) {
        put1(o, (unsigned)v);
    } else if (v < (1u << 16)) {
        put1(o, 0xfc);
        put2(o, (unsigned)v);
    } else if (v < (1u << 24)) {
        put1(o, 0xfd);
        put3(o, (unsigned)v);
    } else {
        put1(o, 0xfe);
        put4(o, (unsigned)(v & 0xffffffffu));
        put4(o, (unsigned)(v >> 32));
    }
}

static void put_lenstr(buf *o, const char *s)
{
    put_lenenc(o, strlen(s));
    put(o, s, strlen(s));
}

/* A packet: header, then what the caller puts, then pkt_end. */
static size_t pkt_begin(buf *o)
{
    size_t at = o->n;
    put4(o, 0);
    return at;
}

static void pkt_end(buf *o, size_t at, unsigned seq)
{
    size_t len = o->n - at - 4;
    o->b[at] = (unsigned char)(len & 0xff);
    o->b[at + 1] = (unsigned char)((len >> 8) & 0xff);
    o->b[at + 2] = (unsigned char)((len >> 16) & 0xff);
    o->b[at + 3] = (unsigned char)seq;
}

static int send_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Made-up answers (classic 4.1 form: EOF packets, no extended metadata)    */
/* ------------------------------------------------------------------------ */

#define ST_AUTOCOMMIT 0x0002u
#define ST_MORE       0x0008u

static void ok_packet(buf *o, unsigned seq, unsigned status)
{
    size_t at = pkt_begin(o);
    put1(o, 0x00);
    put_lenenc(o, 0); /* affected rows */
    put_lenenc(o, 0); /* insert id */
    put2(o, status);
    put2(o, 0); /* warnings */
    pkt_end(o, at, seq);
}

static void eof_packet(buf *o, unsigned seq)
{
    size_t at = pkt_begin(o);
    put1(o, 0xfe);
    put2(o, 0);
    put2(o, ST_AUTOCOMMIT);
    pkt_end(o, at, seq);
}

static void column_def(buf *o, unsigned seq, const char *name)
{
    size_t at = pkt_begin(o);
    put_lenstr(o, "def");
    put_lenstr(o, "");
    put_lenstr(o, "");
    put_lenstr(o, "");
    put_lenstr(o, name);
    put_lenstr(o, name);
    put1(o, 0x0c);
    put2(o, 33);  /* utf8_general_ci */
    put4(o, 64);  /* display length */
    put1(o, 253); /* MYSQL_TYPE_VAR_STRING */
    put2(o, 0);   /* flags */
    put1(o, 0);   /* decimals */
    put2(o, 0);
    pkt_end(o, at, seq);
}

/* A result of one column named c and one row holding value; returns the
 * next sequence number. */
static unsigned one_value(buf *o, unsigned seq, const char *value)
{
    size_t at = pkt_begin(o);
    put_lenenc(o, 1);
    pkt_end(o, at, seq++);
    column_def(o, seq++, "c");
    eof_packet(o, seq++);
    at = pkt_begin(o);
    put_lenstr(o, value);
    pkt_end(o, at, seq++);
    eof_packet(o, seq++);
    return seq;
}

/* The start of a result of one column: count, definition, EOF. */
static unsigned one_column(buf *o, unsigned seq)
{
    size_t at = pkt_begin(o);
    put_lenenc(o, 1);
    pkt_end(o, at, seq++);
    column_def(o, seq++, "c");
    eof_packet(o, seq++);
    return seq;
}

/* ------------------------------------------------------------------------ */
/* Connections                                                              */
/* ------------------------------------------------------------------------ */

static fk_mode mode_now(fk_server *fk)
{
    pthread_mutex_lock(&fk->mu);
    fk_mode m = fk->mode;
    pthread_mutex_unlock(&fk->mu);
    return m;
}

static int stopping(fk_server *fk)
{
    pthread_mutex_lock(&fk->mu);
    int s = fk->stopping;
    pthread_mutex_unlock(&fk->mu);
    return s;
}

static void count_hostile(fk_server *fk)
{
    pthread_mutex_lock(&fk->mu);
    fk->hostile++;
    pthread_mutex_unlock(&fk->mu);
}

static void record(fk_server *fk, const unsigned char *p, size_t n)
{
    pthread_mutex_lock(&fk->mu);
    unsigned char *s = realloc(fk->seen, fk->nseen + n + 1);
    if (s) {
        memcpy(s + fk->nseen, p, n);
        fk->seen = s;
        fk->nseen += n;
    }
    pthread_mutex_unlock(&fk->mu);
}

/* Waits up to ms for fd to be readable (1), closed or failed (-1). */
static int wait_readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    if (r < 0 && errno != EINTR)
        return -1;
    if (r <= 0)
        return 0;
    return (p.revents & POLLIN) ? 1 : -1;
}

/* What to do after a made-up answer. */
enum after { RELAY_ON, GO_SILENT, HANG_UP };

/* Sends the answer one byte every 100 ms, while the client listens. */
static enum after drip(fk_conn *k, const buf *o)
{
    for (size_t i = 0; i < o->n && !stopping(k->fk); i++) {
        if (send_all(k->client, o->b + i, 1) != 0)
            return HANG_UP;
        struct pollfd p = {.fd = k->client, .events = POLLRDHUP};
        if (poll(&p, 1, 100) > 0)
            return HANG_UP; /* the client gave up */
    }
    return RELAY_ON;
}

/* The misbehaviour of mode m, for a marked query. */
static enum after misbehave(fk_conn *k, fk_mode m)
{
    buf o = {0};
    enum after then = RELAY_ON;
    unsigned seq = 1;
    size_t at;
    switch (m) {
    case FK_SILENT:
        return GO_SILENT;
    case FK_DRIP:
        one_value(&o, 1, "drip");
        then = drip(k, &o);
        free(o.b);
        return then;
    case FK_TRUNCATED:
        put3(&o, 64);
        put1(&o, 1);
        put(&o,
            "\x01\x03"
            "def"
            "\x00\x00\x00",
            8);
        put(&o, "ab", 2);
        then = HANG_UP;
        break;
    case FK_BAD_SEQ:
        ok_packet(&o, 7, ST_AUTOCOMMIT);
        break;
    case FK_COLS_24:
        at = pkt_begin(&o);
        put_lenenc(&o, (1u << 24) - 1);
        pkt_end(&o, at, seq++);
        column_def(&o, seq++, "c");
        eof_packet(&o, seq++);
        break;
    case FK_COLS_HUGE:
        at = pkt_begin(&o);
        put_lenenc(&o, (uint64_t)1 << 62);
        pkt_end(&o, at, seq++);
        break;
    case FK_LEN_24:
        seq = one_column(&o, seq);
        at = pkt_begin(&o);
        put1(&o, 0xfd);
        put3(&o, (1u << 24) - 1);
        put(&o, "abc", 3);
        pkt_end(&o, at, seq++);
        eof_packet(&o, seq++);
        break;
    case FK_NULL_NAME:
    case FK_COLDEF_SHORT:
        at = pkt_begin(&o);
        put_lenenc(&o, 1);
        pkt_end(&o, at, seq++);
        at = pkt_begin(&o);
        put_lenstr(&o, "def");
        put_lenstr(&o, "");
        put_lenstr(&o, "");
        put_lenstr(&o, "");
        if (m == FK_NULL_NAME) {
            put1(&o, 0xfb); /* NULL */
            put_lenstr(&o, "c");
            put1(&o, 0x0c);
            put(&o, "\x21\x00\x40\x00\x00\x00\xfd\x00\x00\x00\x00\x00", 12);
        } else {
            put_lenstr(&o, "c");
        }
        pkt_end(&o, at, seq++);
        eof_packet(&o, seq++);
        at = pkt_begin(&o);
        put_lenstr(&o, "v");
        pkt_end(&o, at, seq++);
        eof_packet(&o, seq++);
        break;
    case FK_EXTRA_VALUES:
        seq = one_column(&o, seq);
        at = pkt_begin(&o);
        put_lenstr(&o, "a");
        put_lenstr(&o, "b");
        put_lenstr(&o, "c");
        pkt_end(&o, at, seq++);
        eof_packet(&o, seq++);
        break;
    case FK_ERR_GARBAGE:
        at = pkt_begin(&o);
        put(&o, "\xff\x01\xfe", 3);
        put1(&o, 0x80);
        pkt_end(&o, at, seq++);
        break;
    case FK_ERR_ZERO:
        at = pkt_begin(&o);
        put1(&o, 0xff);
        put2(&o, 0);
        put(&o, "#HY000error number zero", 23);
        pkt_end(&o, at, seq++);
        break;
    case FK_CLOSE_MID_ROW:
        seq = one_column(&o, seq);
        put3(&o, 20);
        put1(&o, seq);
        put(&o,
            "\x13"
            "abcd",
            5);
        then = HANG_UP;
        break;
    case FK_UNSOLICITED:
        one_value(&o, 1, "answer");
        one_value(&o, 1, "stale");
        break;
    case FK_MORE_RESULTS:
        ok_packet(&o, 1, ST_AUTOCOMMIT | ST_MORE);
        break;
    case FK_GIB_VALUE:
        seq = one_column(&o, seq);
        at = pkt_begin(&o);
        put_lenenc(&o, (uint64_t)1 << 30);
        put(&o, "abc", 3);
        pkt_end(&o, at, seq++);
        eof_packet(&o, seq++);
        break;
    case FK_GIB_PACKET: {
        /* The first of 64 full-size packets, 100 bytes of it. */
        put3(&o, 0xffffff);
        put1(&o, 1);
        unsigned char z[100];
        memset(z, 'x', sizeof z);
        z[0] = 1; /* a column count of 1, if it is ever parsed */
        put(&o, z, sizeof z);
        then = GO_SILENT;
        break;
    }
    default:
        return RELAY_ON;
    }
    if (send_all(k->client, o.b, o.n) != 0)
        then = HANG_UP;
    free(o.b);
    return then;
}

/* The real server's greeting, made safe to fake answers under: no TLS,
 * compression or EOF deprecation, no MariaDB extended capabilities. */
static void mask_greeting(unsigned char *p, size_t n)
{
    unsigned char *end = p + n, *v;
    if (n < 1 || p[0] != 0x0a)
        return;
    v = memchr(p + 1, 0, n - 1);
    if (!v || v + 32 > end)
        return;
    unsigned char *t = v + 1;
    t[13] &= (unsigned char)~(0x0800 | 0x0020); /* CLIENT_SSL, COMPRESS */
    t[14] &= (unsigned char)~(0x0800 >> 8);
    t[19] &= (unsigned char)~0x01; /* CLIENT_DEPRECATE_EOF (1 << 24) */
    if (!(t[13] & 1))              /* MariaDB: extended capabilities */
        memset(t + 27, 0, 4);
}

/* Relays between the client and the real server, acting on marked
 * queries. */
static void relay(fk_conn *k)
{
    fk_server *fk = k->fk;
    k->backend = socket(AF_INET, SOCK_STREAM, 0);
    if (k->backend < 0 || connect(k->backend, (struct sockaddr *)&fk->backend,
                                  sizeof fk->backend) != 0)
        return;
    int one = 1;
    setsockopt(k->backend, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buf in = {0}, greet = {0};
    int greeted = 0, silent = 0;
    unsigned char tmp[65536];
    while (!stopping(fk)) {
        struct pollfd p[2] = {{.fd = k->client, .events = POLLIN},
                              {.fd = k->backend, .events = POLLIN}};
        int r = poll(p, silent ? 1 : 2, 100);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        if (p[0].revents) {
            ssize_t n = recv(k->client, tmp, sizeof tmp, 0);
            if (n <= 0)
                break;
            if (silent)
                continue;
            put(&in, tmp, (size_t)n);
            size_t off = 0;
            enum after then = RELAY_ON;
            while (in.n - off >= 4 && then == RELAY_ON) {
                const unsigned char *h = in.b + off;
                size_t len = h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16;
                if (in.n - off < 4 + len)
                    break;
                const unsigned char *pl = h + 4;
                fk_mode m = mode_now(fk);
                if (h[3] == 0 && len > 0 && (pl[0] == 0x03 || pl[0] == 0x16) &&
                    memmem(pl, len, FK_MARK, strlen(FK_MARK)) &&
                    m != FK_RELAY && m < FK_AUTH_UNKNOWN) {
                    count_hostile(fk);
                    then = misbehave(k, m);
                } else if (send_all(k->backend, h, 4 + len) != 0) {
                    then = HANG_UP;
                }
                off += 4 + len;
            }
            memmove(in.b, in.b + off, in.n - off);
            in.n -= off;
            if (then == HANG_UP)
                break;
            if (then == GO_SILENT)
                silent = 1;
        }
        if (!silent && p[1].revents) {
            ssize_t n = recv(k->backend, tmp, sizeof tmp, 0);
            if (n <= 0)
                break;
            if (greeted) {
                if (send_all(k->client, tmp, (size_t)n) != 0)
                    break;
                continue;
            }
            put(&greet, tmp, (size_t)n);
            if (greet.n < 4)
                continue;
            size_t len =
                greet.b[0] | (size_t)greet.b[1] << 8 | (size_t)greet.b[2] << 16;
            if (greet.n < 4 + len)
                continue;
            mask_greeting(greet.b + 4, len);
            greeted = 1;
            if (send_all(k->client, greet.b, greet.n) != 0)
                break;
        }
    }
    free(in.b);
    free(greet.b);
}

/* A greeting of a 4.1 server offering auth plugin `plugin`. */
static void greeting(buf *o, const char *plugin)
{
    size_t at = pkt_begin(o);
    put1(o, 0x0a);
    put(o, "5.5.5-10.11.99-fake", 20);
    put4(o, 4242);
    put(o, "abcdefgh", 8);
    put1(o, 0);
    /* LONG_PASSWORD (so not MariaDB-extended), LONG_FLAG, CONNECT_WITH_DB,
     * PROTOCOL_41, TRANSACTIONS, SECURE_CONNECTION; then MULTI_RESULTS,
     * PLUGIN_AUTH, PLUGIN_AUTH_LENENC_CLIENT_DATA. */
    put2(o, 0x0001 | 0x0004 | 0x0008 | 0x0200 | 0x2000 | 0x8000);
    put1(o, 45);
    put2(o, ST_AUTOCOMMIT);
    put2(o, (0x00020000 | 0x00080000 | 0x00200000) >> 16);
    put1(o, 21);
    put(o, "\0\0\0\0\0\0\0\0\0\0", 10);
    put(o, "ijklmnopqrst", 12);
    put1(o, 0);
    put(o, plugin, strlen(plugin) + 1);
    pkt_end(o, at, 0);
}

/* Reads and records what the client sends; returns the first packet's
 * sequence number, or -1 once it closed, stopped or was silent for 5 s. */
static int read_recorded(fk_conn *k)
{
    unsigned char tmp[4096];
    for (int waited = 0; waited < 5000 && !stopping(k->fk); waited += 100) {
        int r = wait_readable(k->client, 100);
        if (r < 0)
            return -1;
        if (r == 0)
            continue;
        ssize_t n = recv(k->client, tmp, sizeof tmp, 0);
        if (n <= 0)
            return -1;
        record(k->fk, tmp, (size_t)n);
        return n >= 4 ? tmp[3] : 0;
    }
    return -1;
}

static void access_denied(fk_conn *k, unsigned seq)
{
    buf o = {0};
    size_t at = pkt_begin(&o);
    put1(&o, 0xff);
    put2(&o, 1045);
    put(&o, "#28000Access denied (fake server)", 33);
    pkt_end(&o, at, seq);
    send_all(k->client, o.b, o.n);
    free(o.b);
}

/* A handshake mode: no real server behind. */
static void handshake(fk_conn *k, fk_mode m)
{
    buf o = {0};
    int seq;
    switch (m) {
    case FK_AUTH_UNKNOWN:
        greeting(&o, "amy_no_such_plugin");
        break;
    case FK_AUTH_CLEAR:
        greeting(&o, "mysql_native_password");
        break;
    case FK_GREETING_OLD: {
        size_t at = pkt_begin(&o);
        put1(&o, 0x0a);
        put(&o, "4.0.99-fake", 12);
        put4(&o, 4242);
        put(&o, "abcdefgh", 8);
        put1(&o, 0);
        put2(&o, 0x0001 | 0x0004 | 0x2000); /* no PROTOCOL_41 */
        put1(&o, 8);
        put2(&o, ST_AUTOCOMMIT);
        put(&o, "\0\0\0\0\0\0\0\0\0\0\0\0\0", 13);
        pkt_end(&o, at, 0);
        break;
    }
    case FK_GREETING_TRUNC: {
        size_t at = pkt_begin(&o);
        put1(&o, 0x0a);
        put(&o, "5.5", 3);
        pkt_end(&o, at, 0);
        break;
    }
    default:
        return;
    }
    count_hostile(k->fk);
    int sent = send_all(k->client, o.b, o.n);
    free(o.b);
    if (sent != 0)
        return;
    seq = read_recorded(k); /* the handshake reply, if any */
    if (seq < 0)
        return;
    if (m == FK_AUTH_CLEAR) {
        buf sw = {0};
        size_t at = pkt_begin(&sw);
        put1(&sw, 0xfe);
        put(&sw, "mysql_clear_password", 21);
        pkt_end(&sw, at, (unsigned)seq + 1);
        int ok = send_all(k->client, sw.b, sw.n);
        free(sw.b);
        if (ok != 0)
            return;
        seq = read_recorded(k); /* the password, if it is sent */
        if (seq < 0)
            return;
    }
    access_denied(k, (unsigned)seq + 1);
    while (read_recorded(k) >= 0) {
    }
}

static void *conn_main(void *arg)
{
    fk_conn *k = arg;
    fk_mode m = mode_now(k->fk);
    if (m >= FK_AUTH_UNKNOWN && m < FK_NMODES)
        handshake(k, m);
    else
        relay(k);
    /* Closed under the lock: fk_stop shuts the sockets down from its own
     * thread. */
    pthread_mutex_lock(&k->fk->mu);
    close(k->client);
    k->client = -1;
    if (k->backend >= 0)
        close(k->backend);
    k->backend = -1;
    pthread_mutex_unlock(&k->fk->mu);
    return NULL;
}

static void *accept_main(void *arg)
{
    fk_server *fk = arg;
    for (;;) {
        int s = accept(fk->listener, NULL, NULL);
        if (s < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL; /* shut down by fk_stop */
        }
        int one = 1;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fk_conn *k = calloc(1, sizeof *k);
        if (!k) {
            close(s);
            continue;
        }
        k->fk = fk;
        k->client = s;
        k->backend = -1;
        pthread_mutex_lock(&fk->mu);
        if (fk->stopping ||
            pthread_create(&k->thread, NULL, conn_main, k) != 0) {
            pthread_mutex_unlock(&fk->mu);
            close(s);
            free(k);
            continue;
        }
        fk->accepted++;
        k->next = fk->conns;
        fk->conns = k;
        pthread_mutex_unlock(&fk->mu);
    }
}

/* ------------------------------------------------------------------------ */
/* Control                                                                  */
/* ------------------------------------------------------------------------ */

fk_server *fk_start(const char *backend_host, unsigned backend_port)
{
    fk_server *fk = calloc(1, sizeof *fk);
    if (!fk)
        return NULL;
    pthread_mutex_init(&fk->mu, NULL);
    fk->backend.sin_family = AF_INET;
    fk->backend.sin_port = htons((uint16_t)backend_port);
    if (inet_pton(AF_INET, backend_host, &fk->backend.sin_addr) != 1)
        goto fail;
    fk->listener = socket(AF_INET, SOCK_STREAM, 0);
    if (fk->listener < 0)
        goto fail;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fk->listener, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fk->listener, 64) != 0 ||
        getsockname(fk->listener, (struct sockaddr *)&a, &len) != 0)
        goto fail_listener;
    fk->port = ntohs(a.sin_port);
    if (pthread_create(&fk->acceptor, NULL, accept_main, fk) != 0)
        goto fail_listener;
    return fk;
fail_listener:
    close(fk->listener);
fail:
    pthread_mutex_destroy(&fk->mu);
    free(fk);
    return NULL;
}

unsigned fk_port(const fk_server *fk)
{
    return fk->port;
}

void fk_set_mode(fk_server *fk, fk_mode mode)
{
    pthread_mutex_lock(&fk->mu);
    fk->mode = mode;
    pthread_mutex_unlock(&fk->mu);
}

unsigned fk_hostile_answers(fk_server *fk)
{
    pthread_mutex_lock(&fk->mu);
    unsigned n = fk->hostile;
    pthread_mutex_unlock(&fk->mu);
    return n;
}

unsigned fk_accepted(fk_server *fk)
{
    pthread_mutex_lock(&fk->mu);
    unsigned n = fk->accepted;
    pthread_mutex_unlock(&fk->mu);
    return n;
}

int fk_saw(fk_server *fk, const char *s)
{
    pthread_mutex_lock(&fk->mu);
    int r = fk->nseen && memmem(fk->seen, fk->nseen, s, strlen(s)) != NULL;
    pthread_mutex_unlock(&fk->mu);
    return r;
}

const char *fk_mode_name(fk_mode mode)
{
    static const char *const names[FK_NMODES] = {
        "relay",        "silent",        "drip",         "truncated",
        "bad_seq",      "cols_24",       "cols_huge",    "len_24",
        "extra_values", "err_garbage",   "err_zero",     "close_mid_row",
        "unsolicited",  "more_results",  "gib_value",    "gib_packet",
        "null_name",    "coldef_short",  "auth_unknown", "auth_clear",
        "greeting_old", "greeting_trunc"};
    return mode < FK_NMODES ? names[mode] : "?";
}

void fk_stop(fk_server *fk)
{
    if (!fk)
        return;
    pthread_mutex_lock(&fk->mu);
    fk->stopping = 1;
    for (fk_conn *k = fk->conns; k; k = k->next) {
        if (k->client >= 0)
            shutdown(k->client, SHUT_RDWR);
        if (k->backend >= 0)
            shutdown(k->backend, SHUT_RDWR);
    }
    pthread_mutex_unlock(&fk->mu);
    shutdown(fk->listener, SHUT_RDWR);
    pthread_join(fk->acceptor, NULL);
    close(fk->listener);
    /* No new connection after the acceptor ended. */
    fk_conn *k = fk->conns;
    while (k) {
        fk_conn *next = k->next;
        pthread_join(k->thread, NULL);
        free(k);
        k = next;
    }
    pthread_mutex_destroy(&fk->mu);
    free(fk->seen);
    free(fk);
}
