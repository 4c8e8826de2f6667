/* The dispatcher: one thread (epoll; its own HTTP/1.1 client for http://, libcurl multi for
 * https://) that POSTs notifications concurrently over kept-alive connections with Standard
 * Webhooks signatures and records every attempt's outcome through the writer. New notifications are
 * handed to it by the writer right after their commit, already leased (store_outbox_handoff);
 * retries, deferrals, resends and whatever a crash left are claimed from the outbox under a lease
 * when due. */
#ifndef HERALD_DELIVER_DISPATCH_H
#define HERALD_DELIVER_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "deliver/retry.h"
#include "deliver/ssrf.h"
#include "store/store.h"

struct dispatch_config {
    struct store *store;                /* borrowed */
    const struct retry_schedule *retry; /* borrowed */
    const struct ssrf_allowlist *allow; /* borrowed */
    size_t max_in_flight;               /* attempts in flight at once (0: 512) */
    long max_per_host;                  /* attempts (and connections) per destination (0: 128) */
    size_t max_queued;      /* claimed notifications waiting for a slot, beyond which hand-offs
                             * keep only their id (0: 65,536) */
    size_t max_bytes;       /* bodies held in memory (handed off, claimed, queued, in flight),
                             * beyond which hand-offs keep only their id and claims stop
                             * (0: DISPATCH_BYTES_MAX); one larger body goes alone */
    int64_t lease_ms;       /* claim lease, longer than an attempt (0: 30 s) */
    int resolve_delay_ms;   /* tests only: each DNS lookup waits this long first (a slow server) */
    const char *test_hosts; /* tests only: "NAME=ADDR,ADDR" resolves NAME to those addresses */
    int connect_ms;         /* per address, 0: 5 s (tests shorten it) */
    int attempt_ms;         /* per attempt in all, 0: 15 s (tests shorten it) */
    int idle_ms;            /* a kept-alive connection idle this long is not reused, 0: 60 s */
    bool is_curl_only;      /* tests only: http:// through libcurl too, as https:// goes */
    /* tests only: a destination's circuit rests these (0: circuit_bounds of the schedule) */
    int64_t circuit_open_ms, circuit_max_ms;
    int64_t
        host_idle_ms; /* tests only: an unused destination is forgotten after this (0: 10 min) */
    /* Called on the dispatcher thread when a subscriber answered 410 Gone (may be NULL).
     * `notify_url` (borrowed for the call) is the URL that answered: the channel may have moved
     * to another one since the notification was committed. */
    void (*on_gone)(void *arg, int64_t org_id, int64_t channel_id, const char *notify_url);
    void *on_gone_arg;
};

/* The default budget of notification bodies held in memory (max_bytes). */
#define DISPATCH_BYTES_MAX ((size_t)64 << 20)

struct dispatcher;

/* Starts the thread and registers it as the store's outbox hand-off. Returns HERALD_OK and
 * *out, or HERALD_ERR_INTERNAL (logged). */
enum herald_err dispatch_start(const struct dispatch_config *cfg, struct dispatcher **out);
/* Wakes the thread to claim due work from the outbox now (a resend, a delayed first attempt).
 * Thread-safe, never blocks. */
void dispatch_wake(struct dispatcher *d);
/* Unregisters the hand-off, stops claiming, waits up to grace_ms for attempts in flight, records
 * their outcomes, stops. Unfinished attempts stay pending (their leases are void after a restart).
 * NULL is a no-op. */
void dispatch_stop(struct dispatcher *d, int grace_ms);

/* Pure, exposed for tests: how long a destination's circuit rests when it opens (*open_ms) and
 * at most after failed probes double it (*max_ms), for the retry schedule `retry` (NULL: the
 * defaults, 5 s and 5 min, each cut to the schedule's first delay that is not 0 and its
 * longest one, never under 100 ms). */
void circuit_bounds(const struct retry_schedule *retry, int64_t *open_ms, int64_t *max_ms);

#endif
