/* Notify hosts named by DNS are resolved and vetted (the SSRF guard) on a thread of their own:
 * getaddrinfo blocks as long as DNS takes, seconds for a dead name server, and on the
 * dispatcher's thread one such name would hold every other delivery meanwhile. The dispatcher
 * asks, goes on, and is woken (its eventfd) when an answer is ready. */
#ifndef HERALD_DELIVER_RESOLVER_H
#define HERALD_DELIVER_RESOLVER_H

#include <stddef.h>
#include <sys/socket.h>

#include "core/error.h"
#include "deliver/ssrf.h"

#define RESOLVER_MAX_ADDRS 8

struct resolver;

/* One answer: the tag given to resolver_ask, and ssrf_resolve_check_all's result. */
struct resolve_answer {
    void *tag;
    enum herald_err err; /* HERALD_OK, or DENIED/NET/INVALID with `why` (static text) */
    const char *why;
    struct sockaddr_storage addrs[RESOLVER_MAX_ADDRS];
    size_t addr_count;
};

/* Starts the thread. `allow` is copied; `wakefd` (an eventfd) is duplicated and written to
 * when an answer is ready. delay_ms > 0 holds each lookup that long first, and `hosts`
 * ("NAME=ADDR,ADDR...", or NULL) answers NAME with those numeric addresses, in that order (tests
 * only: a slow name server; a name with several addresses). Returns NULL when the thread cannot
 * start (logged). */
struct resolver *resolver_start(const struct ssrf_allowlist *allow, int wakefd, int delay_ms,
                                const char *hosts);
/* Queues a lookup of name:port (both copied). Thread-safe, never blocks on DNS. */
void resolver_ask(struct resolver *r, void *tag, const char *name, int port);
/* Moves the answers ready so far to *out (free() it), in the order they finished; returns how
 * many. Cheap when there are none. */
size_t resolver_take(struct resolver *r, struct resolve_answer **out);
/* Stops taking questions and lets go: a lookup in progress is not waited for (it may take the
 * resolver's full timeout); its thread frees what is left when that returns. NULL is a no-op. */
void resolver_stop(struct resolver *r);

#endif
