/* A tiny DNS server for tests: see fake_dns.h. RFC 1035 section 4. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_dns.h"

#define NAMES   16
#define ADDRS   8
#define LOGGED  512
#define NAMELEN 256

struct rec {
    int family; /* AF_INET or AF_INET6 */
    unsigned char bytes[16];
};

struct name {
    char name[NAMELEN]; /* "" when the slot is free */
    struct rec recs[ADDRS];
    unsigned nrecs;
};

struct query {
    char name[NAMELEN];
    int type;
    int tcp;
};

#define TCONNS 8
struct tconn;

struct fdns {
    struct ev_loop *loop;
    ev_io io, listener;
    int fd, lfd;
    unsigned port;
    unsigned ttl;
    int silent, truncate;
    struct tconn *tconns[TCONNS];
    struct name names[NAMES];
    struct query log[LOGGED];
    unsigned nlog; /* may exceed LOGGED: the later ones are only counted */
    unsigned answers;
};

static struct name *find(fdns *d, const char *name)
{
    for (unsigned i = 0; i < NAMES; i++)
        if (d->names[i].name[0] && !strcasecmp(d->names[i].name, name))
            return &d->names[i];
    return NULL;
}

int fdns_set(fdns *d, const char *name, const char *addrs)
{
    struct name *n = find(d, name);
    if (!addrs) {
        if (n)
            n->name[0] = '\0';
        return 0;
    }
    if (strlen(name) >= NAMELEN)
        return -1;
    struct name tmp = {0};
    strcpy(tmp.name, name);
    const char *p = addrs;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char a[64];
        if (len >= sizeof a || tmp.nrecs == ADDRS)
            return -1;
        memcpy(a, p, len);
        a[len] = '\0';
        struct rec *r = &tmp.recs[tmp.nrecs++];
        if (inet_pton(AF_INET, a, r->bytes) == 1)
            r->family = AF_INET;
        else if (inet_pton(AF_INET6, a, r->bytes) == 1)
            r->family = AF_INET6;
        else
            return -1;
        p += len + (end != NULL);
    }
    if (!n)
        for (unsigned i = 0; i < NAMES && !n; i++)
            if (!d->names[i].name[0])
                n = &d->names[i];
    if (!n)
        return -1;
    *n = tmp;
    return 0;
}

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

/* The reply to query q into r (1500 bytes), its length; 0: none. Over
 * UDP in truncating mode the reply has TC set and no records. */
static size_t answer(fdns *d, const unsigned char *q, size_t len,
                     unsigned char *r, int tcp)
{
    /* A header, one question, and nothing we do not understand. */
    if (len < 12 || (q[2] & 0x80) || q[4] != 0 || q[5] != 1)
        return 0;
    char name[NAMELEN];
    size_t o = 12, nl = 0;
    while (o < len && q[o]) {
        unsigned lab = q[o];
        if (lab > 63 || o + 1 + lab > len || nl + lab + 1 >= NAMELEN)
            return 0; /* a pointer, or too long */
        if (nl)
            name[nl++] = '.';
        memcpy(name + nl, q + o + 1, lab);
        nl += lab;
        o += 1 + lab;
    }
    if (o + 5 > len)
        return 0;
    name[nl] = '\0';
    o++; /* the root */
    int type = q[o] << 8 | q[o + 1];
    size_t qend = o + 4; /* after type and class */
    if (d->nlog < LOGGED) {
        strcpy(d->log[d->nlog].name, name);
        d->log[d->nlog].type = type;
        d->log[d->nlog].tcp = tcp;
    }
    d->nlog++;
    if (d->silent)
        return 0;

    memcpy(r, q, qend);
    struct name *n = find(d, name);
    /* QR, the query's opcode and RD, AA, RA; NXDOMAIN for unknown names. */
    int tc = d->truncate && !tcp;
    r[2] = (unsigned char)(0x80 | (q[2] & 0x79) | 0x04 | (tc ? 0x02 : 0));
    r[3] = (unsigned char)(0x80 | (n ? 0 : 3));
    put16(r + 8, 0);  /* NSCOUNT */
    put16(r + 10, 0); /* ARCOUNT: any EDNS record of the query is dropped */
    size_t w = qend;
    unsigned an = 0;
    for (unsigned i = 0; n && !tc && i < n->nrecs; i++) {
        const struct rec *rc = &n->recs[i];
        int rtype = rc->family == AF_INET ? FDNS_A : FDNS_AAAA;
        if (rtype != type)
            continue;
        size_t rdlen = rc->family == AF_INET ? 4 : 16;
        if (w + 12 + rdlen > 1500)
            break;
        r[w++] = 0xc0; /* the name: a pointer to the question's */
        r[w++] = 12;
        put16(r + w, (unsigned)rtype);
        put16(r + w + 2, 1); /* IN */
        r[w + 4] = (unsigned char)(d->ttl >> 24);
        r[w + 5] = (unsigned char)(d->ttl >> 16);
        r[w + 6] = (unsigned char)(d->ttl >> 8);
        r[w + 7] = (unsigned char)d->ttl;
        put16(r + w + 8, (unsigned)rdlen);
        memcpy(r + w + 10, rc->bytes, rdlen);
        w += 10 + rdlen;
        an++;
    }
    put16(r + 6, an);
    return w;
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    fdns *d = w->data;
    for (;;) {
        unsigned char q[1500];
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(d->fd, q, sizeof q, MSG_DONTWAIT,
                             (struct sockaddr *)&from, &fromlen);
        if (n < 0)
            return;
        unsigned char r[1500];
        size_t rl = answer(d, q, (size_t)n, r, 0);
        if (rl && sendto(d->fd, r, rl, 0, (struct sockaddr *)&from, fromlen) ==
                      (ssize_t)rl)
            d->answers++;
    }
}

/* A TCP client: queries with a 2-byte length in front (RFC 1035 4.2.2). */
struct tconn {
    ev_io io;
    fdns *d;
    unsigned char buf[2 + 1500];
    size_t have;
};

static void tconn_close(struct tconn *c)
{
    ev_io_stop(c->d->loop, &c->io);
    close(c->io.fd);
    for (unsigned i = 0; i < TCONNS; i++)
        if (c->d->tconns[i] == c)
            c->d->tconns[i] = NULL;
    free(c);
}

static void tconn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct tconn *c = w->data;
    ssize_t n =
        recv(w->fd, c->buf + c->have, sizeof c->buf - c->have, MSG_DONTWAIT);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            tconn_close(c);
        return;
    }
    c->have += (size_t)n;
    while (c->have >= 2) {
        size_t qlen = (size_t)c->buf[0] << 8 | c->buf[1];
        if (qlen > sizeof c->buf - 2) {
            tconn_close(c);
            return;
        }
        if (c->have < 2 + qlen)
            return;
        unsigned char r[2 + 1500];
        size_t rl = answer(c->d, c->buf + 2, qlen, r + 2, 1);
        if (rl) {
            put16(r, (unsigned)rl);
            /* A few hundred bytes on loopback: the socket buffer takes
             * them at once. */
            if (send(w->fd, r, rl + 2, MSG_NOSIGNAL) == (ssize_t)(rl + 2))
                c->d->answers++;
        }
        memmove(c->buf, c->buf + 2 + qlen, c->have - 2 - qlen);
        c->have -= 2 + qlen;
    }
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    fdns *d = w->data;
    int fd = accept(w->fd, NULL, NULL);
    if (fd < 0)
        return;
    struct tconn *c = calloc(1, sizeof *c);
    unsigned i = 0;
    while (i < TCONNS && d->tconns[i])
        i++;
    if (!c || i == TCONNS) {
        free(c);
        close(fd);
        return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c->d = d;
    ev_io_init(&c->io, tconn_cb, fd, EV_READ);
    c->io.data = c;
    d->tconns[i] = c;
    ev_io_start(loop, &c->io);
}

/* UDP and TCP sockets on one port of 127.0.0.1: 0, or -1. */
static int listen_both(fdns *d)
{
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t salen = sizeof sa;
    d->fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (d->fd < 0 || bind(d->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(d->fd, (struct sockaddr *)&sa, &salen) != 0)
        return -1;
    d->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (d->lfd < 0 || bind(d->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(d->lfd, 8) != 0)
        return -1;
    d->port = ntohs(sa.sin_port);
    return 0;
}

fdns *fdns_start(struct ev_loop *loop)
{
    fdns *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->loop = loop;
    d->ttl = 300;
    /* The UDP port's number may be taken for TCP: try other ones. */
    int ok = 0;
    for (int tries = 0; tries < 20 && !ok; tries++) {
        d->fd = d->lfd = -1;
        ok = listen_both(d) == 0;
        if (!ok) {
            if (d->fd >= 0)
                close(d->fd);
            if (d->lfd >= 0)
                close(d->lfd);
        }
    }
    if (!ok) {
        free(d);
        return NULL;
    }
    ev_io_init(&d->io, io_cb, d->fd, EV_READ);
    d->io.data = d;
    ev_io_start(loop, &d->io);
    ev_io_init(&d->listener, accept_cb, d->lfd, EV_READ);
    d->listener.data = d;
    ev_io_start(loop, &d->listener);
    return d;
}

unsigned fdns_port(const fdns *d)
{
    return d->port;
}

void fdns_set_ttl(fdns *d, unsigned ttl_s)
{
    d->ttl = ttl_s;
}

void fdns_set_silent(fdns *d, int on)
{
    d->silent = on;
}

void fdns_set_truncate(fdns *d, int on)
{
    d->truncate = on;
}

unsigned fdns_tcp_queries(const fdns *d)
{
    unsigned n = 0;
    for (unsigned i = 0; i < d->nlog && i < LOGGED; i++)
        n += d->log[i].tcp != 0;
    return n;
}

unsigned fdns_queries(const fdns *d, const char *name, int qtype)
{
    unsigned n = 0;
    for (unsigned i = 0; i < d->nlog && i < LOGGED; i++)
        if ((!name || !strcasecmp(d->log[i].name, name)) &&
            (!qtype || d->log[i].type == qtype))
            n++;
    return n;
}

unsigned fdns_answers(const fdns *d)
{
    return d->answers;
}

void fdns_stop(fdns *d)
{
    if (!d)
        return;
    for (unsigned i = 0; i < TCONNS; i++)
        if (d->tconns[i])
            tconn_close(d->tconns[i]);
    ev_io_stop(d->loop, &d->io);
    ev_io_stop(d->loop, &d->listener);
    close(d->fd);
    close(d->lfd);
    free(d);
}
