/*
 * A tiny DNS server for tests, on 127.0.0.1 (an ephemeral port, UDP and TCP),
 * run by the test's own libev loop (so it answers while the test waits in
 * that loop, and never races it: there is no thread).
 *
 * It answers A and AAAA questions from a table the test changes at any
 * time, with the TTL the test sets; a name not in the table gets
 * NXDOMAIN, a name in it without records of the asked type an empty
 * answer (NODATA). Told to be silent, it reads and counts queries and
 * answers none (for timeouts). Each query is logged, so a test asserts on
 * what the server was asked, never on how long anything took.
 */
#ifndef AMY_FAKE_DNS_H
#define AMY_FAKE_DNS_H

#include <ev.h>

#define FDNS_A    1
#define FDNS_AAAA 28

typedef struct fdns fdns;

/* Listens on 127.0.0.1 and registers with loop. NULL on failure. */
fdns *fdns_start(struct ev_loop *loop);

/* Its port on 127.0.0.1. */
unsigned fdns_port(const fdns *d);

/* name's records from now on: addrs is a comma-separated list of IPv4
 * and IPv6 addresses ("127.0.0.2,::1"), "" for none (NODATA), NULL to take
 * the name out of the table (NXDOMAIN). Names compare case-insensitively.
 * Returns 0, or -1 if the table is full or an address does not parse. */
int fdns_set(fdns *d, const char *name, const char *addrs);

/* The TTL of every record answered from now on (300 s to start with). */
void fdns_set_ttl(fdns *d, unsigned ttl_s);

/* On: queries are counted but not answered. */
void fdns_set_silent(fdns *d, int on);

/* On: UDP answers are truncated (TC set, no records), so the client asks
 * again over TCP, on the same port, where the answer is whole. */
void fdns_set_truncate(fdns *d, int on);

/* Of the queries received, those that came over TCP. */
unsigned fdns_tcp_queries(const fdns *d);

/* Queries received for name (NULL: any) of type qtype (0: any), of the
 * first 512 (later ones are not logged). */
unsigned fdns_queries(const fdns *d, const char *name, int qtype);

/* Answers sent so far. */
unsigned fdns_answers(const fdns *d);

/* Stops watching, closes, frees. */
void fdns_stop(fdns *d);

#endif
