/* One epoll loop drives two HTTP clients: the own HTTP/1.1 client for http:// (its connections
 * in `conns`, by fd) and libcurl multi for https:// (curl tells which sockets to watch,
 * CURLMOPT_SOCKETFUNCTION, and when to time out, CURLMOPT_TIMERFUNCTION); an eventfd wakes the
 * loop for handed-off work, for claims, for resolver answers and for stopping. Invariants: a
 * notification is held here (in flight or queued) at most once (the `held` set: a claim that
 * returns one already held drops the copy), an attempt starts only while its lease (stored)
 * covers the attempt's whole 15 s limit, so no claim takes it meanwhile, and the bodies held
 * stay within the byte budget (`budget`, shared with the writer), or are one larger body alone. */
#include "deliver/dispatch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "core/url.h"
#include "core/xmalloc.h"
#include "deliver/h1.h"
#include "deliver/resolver.h"
#include "deliver/sign.h"
#include "store/outbox.h"

#define RESPONSE_PREFIX_BYTES 256
/* A response body is read up to this much; past it the attempt ends at once with the status it
 * has. Only the prefix is kept, and reading an endless body would hold this one thread's
 * attention, and the attempt, until the 15 s limit made a delivered notification a failure. */
#define RESPONSE_READ_MAX (64 * 1024)
#define SECRET_REFRESH_MS 1000
#define HOST_BUCKETS 256
/* Channels remembered per destination (see struct host): enough for one receiver serving every
 * channel of an organization at the default --max-channels. */
#define HOST_CHANNELS 10000
/* Circuit: opens after this many consecutive failures (no answer or 5xx), for a delay that
 * doubles on each failed probe, from CIRCUIT_OPEN_MS up to CIRCUIT_MAX_MS. Attempts started
 * before it opened and failing after are not probes: they neither extend nor double it. Both
 * bounds are cut to the retry schedule's (its first delay that is not 0, and its longest, but
 * never under CIRCUIT_FLOOR_MS): a circuit never holds a notification longer than the schedule
 * the operator chose would, so 0s,200ms,500ms retries a failing receiver within the second
 * even when five channels failed on it at once (they waited 5 s). */
#define CIRCUIT_THRESHOLD 5
/* ... and only while most of the destination's recent attempts failed: at least 4 in 5 of its
 * last CIRCUIT_WINDOW outcomes (of all it has when it has fewer). A receiver that answers 70 %
 * of its callbacks is up: with a hundred attempts in flight, five failures in a row came often
 * enough that its circuit kept opening, and the notifications due meanwhile, counted as failed
 * without being sent, ran out of attempts (4 % of 30,000 on a short schedule, most never sent). */
#define CIRCUIT_WINDOW 20
#define CIRCUIT_OPEN_MS 5000
#define CIRCUIT_MAX_MS 300000
#define CIRCUIT_FLOOR_MS 100
/* An attempt's time limits: to connect (per address: a destination with several addresses
 * tries the next one when one times out) and in all. */
#define CONNECT_MS 5000
#define ATTEMPT_MS 15000
/* A kept-alive connection idle longer than this is closed rather than reused: a middlebox may
 * have dropped it without a word, and a request sent on it would hang until ATTEMPT_MS
 * (libcurl's own age limit is 118 s). */
#define IDLE_MAX_MS 60000
/* A notification held back because its destination is saturated is retried after this. */
#define BUSY_DEFER_MS 250
/* Claimed notifications may wait in memory for a free slot of their destination, as long as
 * their lease still covers a whole attempt; at most this many at once (a few hundred bytes
 * each: the claim with its url and body). Of handed-off ones past this, or past the budget of
 * bodies held (cfg.max_bytes), only the id and size are kept (up to SPILL_MAX; 16 bytes each),
 * and they are claimed by id when there is room; past that too, they wait in the outbox until
 * their lease ends. */
#define QUEUE_MAX 65536
#define SPILL_MAX (1u << 20)
#define SPILL_CLAIM_MAX 1024
/* Outcomes are recorded in batches: when this many wait, or the oldest has waited this long.
 * Each flush is a writer commit (and the claim after it another job of it): one per answer from
 * a receiver that answers one request at a time cost 66 µs of CPU per callback, four times the
 * 17 µs of a fast one. A claim or a deferral waits for the flush, which it must see. */
#define RESULTS_BATCH 64
#define RESULTS_WAIT_MS 10
/* Outcomes the store could not record (a full disk, an I/O error) are recorded again this long
 * after, for as long as their notifications' leases last; then their callbacks go again. */
#define RECORD_RETRY_MS 1000
#define ATTEMPT_MAX_MS 16000
/* Vetted addresses (or a failed lookup) are reused this long before the host is resolved and
 * checked again. */
#define RESOLVE_TTL_MS 5000
/* A destination with nothing in flight, queued or being resolved, and no open circuit, is
 * forgotten after this long unused (its state is a few KB; tenants may name many hosts). */
#define HOST_IDLE_MS (10 * 60 * 1000)
/* A destination's key: a whole notify URL fits (url_parse refuses longer ones). */
#define HOST_KEY_LEN (URL_MAX_LEN + 1)
#define EASY_POOL_MAX 512
/* Kept-alive connections of the own client, all destinations together, per attempt the
 * dispatcher may have in flight (CURLMOPT_MAXCONNECTS below is the same): tenants may name any
 * number of hosts, and an idle connection to each would use up the process's open files. */
#define IDLE_PER_FLIGHT 4
/* HTTP/1.1 pipelining on the own client: a connection carries up to PIPELINE_DEPTH requests,
 * answered in order; the requests given to a connection during one round of the loop go out in
 * one write at the round's end. Only onto a connection that completed a kept-alive request, and
 * only to a destination that answers within PIPELINE_FAST_US (average, and the oldest request
 * on the connection): a slow one gets parallel connections, not a queue behind one answer. */
#define PIPELINE_DEPTH 16
#define PIPELINE_FAST_US 2000
/* A connection that ends with requests behind its answer turns pipelining off for its
 * destination this long, unless it had answered this many (then it is the server's limit of
 * requests per connection, like nginx's keepalive_requests, not trouble with pipelining). */
#define PIPELINE_OFF_MS 60000
#define PIPELINE_TRUSTED 32

/* One destination (scheme://host:port/path, the notify URL without its query): its attempts in
 * flight, its connections and its circuit. A destination that is saturated or whose circuit is
 * open has its channels excluded from claims, so one dead or slow endpoint never holds the slots
 * or the claim batches that healthy ones need. The path is part of it: a receiver serves each
 * path with its own handler, and one path answering 500 says nothing of the others. Keyed by
 * host and port alone, /bad failing five times opened the circuit of /good on the same
 * receiver, whose callbacks then failed on the schedule without one request sent. */
struct host {
    struct host *next;
    char key[HOST_KEY_LEN]; /* scheme://host:port/path */
    char name[256];         /* the URL's host, as url_parse gives it */
    int port;
    bool is_ip_literal;
    bool is_http; /* http:// (the own client), not https:// (libcurl) */
    size_t in_flight;
    uint32_t recent;  /* the last outcomes, newest in bit 0: 1 a failure */
    int recent_count; /* outcomes in `recent`, up to CIRCUIT_WINDOW */
    bool is_tripped;  /* the circuit is open or half-open (not closed) */
    int64_t open_until_ms;
    int64_t open_ms; /* the current open delay */
    size_t refused;  /* callbacks not sent while open, since the last line that said so */
    bool is_probing;
    int64_t probe_asked_until; /* the open_until_ms of the window ask_probes last served */
    int64_t early_at_ms;       /* the due time ask_probes gave the notification it brought on */
    /* The latest time a Retry-After of this destination asked to wait until: neither an early
     * probe nor a hasten brings a retry on before it (the contract honours Retry-After). */
    int64_t retry_after_until_ms;
    /* Channels seen going to this host, each with its organization and URL (a channel may
     * have moved; ids of several organizations may be equal), found through an open-addressed
     * index (channel_slots: index + 1, 0 empty), since every notification handled looks its
     * channel up. Past HOST_CHANNELS of them, the rest are neither excluded from claims nor
     * deferred in bulk: claimed, they are given back one by one (take). With 32 remembered, a
     * down receiver of 300 channels had the others claimed and given back every 250 ms while
     * its probe hung, rewriting each row, body included: 400 MiB/s of writes. */
    struct store_channel_url *channels; /* url owned */
    size_t channel_count, channel_cap;
    uint32_t *channel_slots;
    size_t slot_cap; /* a power of two, at least twice channel_count; 0: none yet */
    /* The circuit opened or was extended: its channels' backlog is to be deferred in bulk to
     * open_until_ms (defer_blocked), after the results before it are flushed. */
    bool is_defer_due;
    /* Claimed notifications waiting for a free slot of this destination, oldest first. */
    struct waiting *queue_head, *queue_tail;
    /* The last resolution, reused for RESOLVE_TTL_MS: its vetted addresses, or why it failed.
     * Names go to the resolver thread (is_resolving meanwhile, claims wait in the queue); IP
     * literals are checked here, which needs no DNS. */
    struct sockaddr_storage pinned[RESOLVER_MAX_ADDRS];
    size_t pinned_count;
    size_t addr_first;   /* the address a connection last connected to: new ones start there */
    int64_t resolved_ms; /* 0: never */
    enum herald_err resolve_err;
    const char *resolve_why; /* static text */
    bool is_resolving;
    bool is_draining;  /* drain_host is running for it: a nested call leaves it the work */
    int64_t used_ms;   /* the last notification taken for it */
    struct conn *idle; /* kept-alive connections of the own client, free for a request */
    struct conn *busy; /* the own client's connections carrying requests */
    /* The connection last given a request still unsent (sent at the round's end): the next
     * request of this round joins it, for one write. */
    struct conn *filling;
    int64_t rtt_us;                /* average time from request sent to answer read; 0: none */
    int64_t pipeline_off_until_ms; /* pipelining went wrong: parallel connections until then */
};

/* A connection of the own HTTP/1.1 client (http:// notify URLs; https goes through libcurl).
 * It carries a queue of requests (pipelined, answered in order; one while connecting); between
 * requests it waits in its destination's idle list, still watched by epoll, so a peer that
 * closes it is noticed and it is closed too. */
struct conn {
    int fd;
    struct host *host;
    struct flight *head, *tail; /* the attempts it carries, oldest (being answered) first */
    size_t depth;               /* how many */
    size_t answered;            /* responses read on it */
    struct conn *next_idle;
    struct conn *older, *newer;         /* the dispatcher's idle connections, oldest first */
    struct conn *busy_prev, *busy_next; /* its destination's busy connections */
    bool is_idle;
    bool is_busy;
    bool is_connecting;
    bool is_reused; /* it completed a kept-alive request: a peer may have closed it meanwhile */
    bool is_http11; /* its last answer was HTTP/1.1 kept alive: it may be pipelined onto */
    bool is_dirty;  /* it has requests to send at the round's end (in d->dirty) */
    size_t addr;    /* the pinned address it connects to */
    int64_t connect_started_ms;
    int64_t idle_since_ms;
    uint32_t events; /* what epoll watches for it */
};

/* The request headers: curl reads a curl_slist, a public struct, so the nodes and their text
 * live in the flight itself rather than in 2 allocations per header. */
enum { HDR_COUNT = 6 };

struct flight {
    struct flight *next, *prev; /* the dispatcher's list of attempts in flight */
    CURL *easy;
    struct curl_slist headers[HDR_COUNT];
    char hdr_id[48];
    char hdr_ts[48];
    struct buf hdr_sig;
    struct curl_slist *resolve; /* the vetted address, pinned: read when the transfer starts */
    struct store_claim claim;
    struct buf body;
    struct buf response;
    size_t response_read; /* body bytes read, kept or not */
    bool is_cut;          /* the body passed RESPONSE_READ_MAX: the transfer was ended */
    bool has_headers;     /* the final (non-1xx) status line and headers were all received */
    char retry_after[64];
    char error[CURL_ERROR_SIZE];
    int64_t started_ms;
    struct host *host;
    /* The own client's attempt (conn set) instead of curl's (easy set). */
    struct conn *conn;
    struct flight *conn_next; /* the next attempt on the same connection */
    struct buf req;           /* the request, head and body */
    size_t req_sent;
    int64_t sent_us; /* when the request was all written; 0: not yet */
    struct h1_response resp;
    bool is_resent;    /* sent again on another connection after the one it went on failed */
    size_t addr_tries; /* addresses whose connect failed, in this start (own_start) */
    bool is_probe;     /* started while the circuit was half-open: its outcome decides it */
    bool is_refused;   /* not sent: its destination's circuit was open (refuse_open) */
    bool is_early;     /* a probe brought on before its retry was due (ask_probes) */
};

/* A notification waiting for a free slot of its destination: just the claim (a flight, with
 * its buffers, is made when the attempt starts), so a long queue stays small. */
struct waiting {
    struct waiting *next;
    struct store_claim claim;
};

/* A handed-off notification kept as its id: claimed by id once there is room for its body. */
struct spilled {
    int64_t id;
    size_t bytes; /* its body's */
};

/* The ids of the notifications held (in flight or queued): open addressing, linear probing,
 * tombstones; grown at 1/2 load (tombstones included). */
struct held_set {
    int64_t *slots; /* 0: empty, -1: removed */
    size_t cap, used, live;
};

/* One secret callbacks are signed with: the current one, or one a rotation retired. */
struct signer {
    char *secret;
    struct sign_key *key; /* of secret, prepared once; NULL for a malformed one: it signs nothing */
    int64_t until_s;      /* signs callbacks whose timestamp is before this; INT64_MAX: current */
};

/* The organization's secrets, the current one first, then the retired ones still signing,
 * newest first. Read from the store again when a rotation was announced (the marker beside the
 * database changed: one fstat() per loop round) and at least once a second, never per callback. */
struct secret_cache {
    int64_t org_id;
    struct signer signers[1 + STORE_RETIRED_SECRETS_MAX];
    size_t count; /* 0: not read yet */
    int64_t loaded_ms;
    struct store_token_mark mark; /* read before the secrets were */
};

/* One flush of outcomes, until the store has recorded it. */
struct record_batch {
    struct dispatcher *d;
    struct store_attempt *attempts; /* with their strings, owned */
    size_t count;
    int64_t first_ms; /* when the store first refused it (0: not yet) */
    struct record_batch *next;
};

struct dispatcher {
    struct dispatch_config cfg;
    pthread_t thread;
    int epfd;
    int wakefd;
    CURLM *multi;
    int64_t timeout_at_ms; /* curl's timer; -1 none */
    size_t in_flight;
    size_t queued; /* in hosts' queues */
    /* The claim in progress (a writer job); its result arrives through the inbox. */
    bool is_claiming;
    size_t claim_room;
    pthread_mutex_t inbox_mu;
    pthread_cond_t inbox_cv;
    bool has_inbox;
    struct store_claim *inbox;
    size_t inbox_count;
    size_t inbox_over_bytes;
    enum herald_err inbox_err;
    /* Notifications handed off by the writer (under inbox_mu), taken by the loop. */
    struct store_claim *handed;
    size_t handed_count, handed_cap;
    /* Flushes the store refused to record (under inbox_mu), recorded again from refused_at_ms
     * on: notifications that were delivered, and would otherwise be sent again at their lease's
     * end, as if they had not been. */
    struct record_batch *refused;
    int64_t refused_at_ms;
    atomic_bool is_claim_asked; /* dispatch_wake: claim from the outbox */
    bool is_backlog;            /* the last claim filled its room: more may be due */
    bool is_claim_by_ids;       /* the claim in progress takes spilled ids */
    /* Handed-off notifications there was no room for, oldest first from spill_head. */
    struct spilled *spill;
    size_t spill_head, spill_count, spill_cap;
    /* The bodies held, shared with the writer, which hands off the id alone of a notification
     * whose body does not fit (or, while older ones wait in the spill, that is not small:
     * has_waiting). Every claim held here with its body counts its body_len from the moment the
     * writer or a claim took it until it is let go (flight_drop, waiting_give_back), whatever
     * copy of it the attempt has. */
    struct store_budget budget;
    size_t claim_bytes;       /* taken from the budget for the claim in progress */
    size_t claim_wants_bytes; /* the last claim stopped at a body this big: claim when it fits */
    size_t spill_lost;        /* past SPILL_MAX: left to their lease's end */
    int64_t spill_logged_ms;  /* the last "dispatcher full" line */
    struct held_set held;
    struct flight *flights;
    CURL *easy_pool[EASY_POOL_MAX]; /* finished handles, reset, for reuse */
    size_t easy_pooled;
    atomic_bool is_stopping;
    _Atomic int64_t stop_deadline_ms;
    bool is_claim_due;
    int64_t next_due_ms;
    /* The earliest retry or deferral among results not yet known to be committed: the store's
     * answer to "when is the next one due" cannot include them yet. */
    int64_t local_due_ms;
    int64_t polled_ms; /* last look at the store's next due time */
    struct store_attempt *results;
    size_t result_count, result_cap;
    int64_t results_since_ms; /* when the oldest of them was added */
    struct secret_cache secret;
    /* The rotation marker as last read, and whether it is to be read again before the next
     * signature: set at each loop round and on each batch of work from the writer. */
    struct store_token_mark mark;
    bool is_mark_stale;
    unsigned rnd_state;
    struct host *hosts[HOST_BUCKETS];
    int64_t swept_ms;    /* the last look for idle destinations */
    struct conn **conns; /* the own client's connections by fd */
    size_t conns_cap;
    /* Idle connections of every destination, oldest first: at most IDLE_PER_FLIGHT per attempt
     * the dispatcher may have in flight (libcurl's cache had the same bound). */
    struct conn *idle_oldest, *idle_newest;
    size_t idle_count;
    size_t own_in_flight; /* attempts of the own client */
    int64_t *closing;     /* fds of closed connections, closed at the round's end */
    size_t closing_count, closing_cap;
    int64_t *dirty; /* fds of connections with requests to send at the round's end */
    size_t dirty_count, dirty_cap;
    int64_t own_checked_ms; /* the last look for their time limits */
    struct resolver *resolver;
    int64_t *exclude;
    size_t exclude_count, exclude_cap;
    int64_t *open; /* build_exclude's scratch: channels of destinations not blocked */
    size_t open_count, open_cap;
    bool is_defer_due;                       /* some host's is_defer_due is set */
    int64_t circuit_open_ms, circuit_max_ms; /* CIRCUIT_OPEN_MS and _MAX_MS, cut to the schedule */
    int64_t host_idle_ms;                    /* HOST_IDLE_MS, or a test's */
    int64_t retry_longest_ms;                /* the retry schedule's longest delay */
};

/* "scheme://host:port/path" into key (HOST_KEY_LEN bytes), without printf: this runs per
 * notification. The path ends at the query or fragment; an empty one is "/", as requested. */
static void host_key(const struct url_parts *u, char key[HOST_KEY_LEN])
{
    char *at = key;
    const char *end = key + HOST_KEY_LEN - 1;
    char port[24];
    fmt_put(&at, end, u->scheme, strlen(u->scheme));
    fmt_put(&at, end, "://", 3);
    fmt_put(&at, end, u->host, strlen(u->host));
    fmt_put(&at, end, ":", 1);
    fmt_put(&at, end, port, fmt_i64(port, u->port));
    size_t path_len = strcspn(u->path_and_query, "?#");
    if (path_len)
        fmt_put(&at, end, u->path_and_query, path_len);
    else
        fmt_put(&at, end, "/", 1);
    *at = '\0';
}

static struct host *host_get(struct dispatcher *d, const struct url_parts *u)
{
    char key[HOST_KEY_LEN];
    host_key(u, key);
    uint32_t h = 2166136261u;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    struct host **slot = &d->hosts[h % HOST_BUCKETS];
    for (struct host *x = *slot; x; x = x->next) {
        if (strcmp(x->key, key) == 0)
            return x;
    }
    struct host *x = xcalloc(1, sizeof *x);
    snprintf(x->key, sizeof x->key, "%s", key);
    snprintf(x->name, sizeof x->name, "%s", u->host);
    x->port = u->port;
    x->is_ip_literal = u->is_ip_literal;
    x->is_http = strcmp(u->scheme, "http") == 0;
    x->next = *slot;
    *slot = x;
    return x;
}

static size_t channel_slot(const struct host *h, int64_t org_id, int64_t channel_id)
{
    uint64_t x = ((uint64_t)channel_id ^ ((uint64_t)org_id << 32)) * 0x9E3779B97F4A7C15u;
    return (size_t)(x >> 32) & (h->slot_cap - 1);
}

/* Puts channel i in the index (a free slot exists: the index is at most half full). */
static void channel_index(struct host *h, size_t i)
{
    size_t k = channel_slot(h, h->channels[i].org_id, h->channels[i].channel_id);
    while (h->channel_slots[k])
        k = (k + 1) & (h->slot_cap - 1);
    h->channel_slots[k] = (uint32_t)(i + 1);
}

static void host_note_channel(struct host *h, const struct store_claim *c)
{
    if (h->slot_cap) {
        for (size_t k = channel_slot(h, c->org_id, c->channel_id);;
             k = (k + 1) & (h->slot_cap - 1)) {
            uint32_t slot = h->channel_slots[k];
            if (!slot)
                break;
            const struct store_channel_url *x = &h->channels[slot - 1];
            if (x->channel_id == c->channel_id && x->org_id == c->org_id &&
                strcmp(x->url, c->url) == 0)
                return;
        }
    }
    if (h->channel_count == HOST_CHANNELS)
        return;
    if (h->channel_count == h->channel_cap) {
        h->channel_cap = h->channel_cap ? h->channel_cap * 2 : 8;
        h->channels = xrealloc(h->channels, h->channel_cap * sizeof *h->channels);
    }
    size_t i = h->channel_count++;
    h->channels[i] = (struct store_channel_url){
        .org_id = c->org_id, .channel_id = c->channel_id, .url = xstrdup(c->url)};
    if (2 * h->channel_count > h->slot_cap) {
        free(h->channel_slots);
        h->slot_cap = h->slot_cap ? h->slot_cap * 2 : 16;
        h->channel_slots = xcalloc(h->slot_cap, sizeof *h->channel_slots);
        for (size_t j = 0; j < h->channel_count; j++)
            channel_index(h, j);
        return;
    }
    channel_index(h, i);
}

static void host_free(struct host *h)
{
    for (size_t i = 0; i < h->channel_count; i++)
        free((char *)h->channels[i].url);
    free(h->channels);
    free(h->channel_slots);
    free(h);
}

/* The circuit is open (or half-open with its probe out): nothing else goes there now. */
static bool host_is_open(const struct host *h, int64_t now)
{
    return h->is_tripped && (now < h->open_until_ms || h->is_probing);
}

static bool host_is_blocked(const struct dispatcher *d, const struct host *h, int64_t now)
{
    return h->in_flight >= (size_t)d->cfg.max_per_host || host_is_open(h, now);
}

static int64_t now_ms(void)
{
    return time_now_ms();
}

/* True when the destination's last resolution is fresh enough to start attempts on. A name that
 * is not is handed to the resolver thread (once), and its claims wait in the queue until the
 * answer comes (apply_answers); an IP literal is checked at once, without DNS. */
static bool host_is_resolved(struct dispatcher *d, struct host *h, int64_t now)
{
    if (h->resolved_ms && now - h->resolved_ms <= RESOLVE_TTL_MS)
        return true;
    if (h->is_ip_literal || !d->resolver) {
        h->pinned_count = 0;
        h->resolve_why = NULL;
        h->resolve_err =
            ssrf_resolve_check_all(d->cfg.allow, h->name, h->port, h->pinned, RESOLVER_MAX_ADDRS,
                                   &h->pinned_count, &h->resolve_why);
        if (h->resolve_err)
            h->pinned_count = 0;
        h->resolved_ms = now;
        return true;
    }
    if (!h->is_resolving) {
        h->is_resolving = true;
        resolver_ask(d->resolver, h, h->name, h->port);
    }
    return false;
}

static void drain_host(struct dispatcher *d, struct host *host);

/* Takes the resolver's answers into their destinations and starts what waited for them. */
static void apply_answers(struct dispatcher *d)
{
    struct resolve_answer *answers;
    size_t n = d->resolver ? resolver_take(d->resolver, &answers) : 0;
    int64_t now = now_ms();
    for (size_t i = 0; i < n; i++) {
        struct host *h = answers[i].tag;
        memcpy(h->pinned, answers[i].addrs, sizeof h->pinned);
        h->pinned_count = answers[i].addr_count;
        h->resolve_err = answers[i].err;
        h->resolve_why = answers[i].why;
        h->resolved_ms = now;
        h->is_resolving = false;
    }
    for (size_t i = 0; i < n; i++)
        drain_host(d, answers[i].tag);
    if (n)
        free(answers);
}

static void conn_close(struct dispatcher *d, struct conn *c);

/* Forgets destinations unused for HOST_IDLE_MS with nothing pending on them. One whose circuit
 * has not closed since it opened is kept while its backlog may still come due (the schedule's
 * longest delay on top): forgotten, it came back as a fresh destination, and the attempt that
 * got through closed no circuit, so its backlog was not hastened and waited for its retries
 * (30 min to 10 h apart on the default schedule, longer than HOST_IDLE_MS). */
static void sweep_hosts(struct dispatcher *d, int64_t now)
{
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        for (struct host **slot = &d->hosts[b]; *slot;) {
            struct host *h = *slot;
            int64_t idle_ms = d->host_idle_ms;
            if (h->is_tripped)
                idle_ms += d->retry_longest_ms + d->retry_longest_ms / 5; /* its jitter */
            if (!h->in_flight && !h->queue_head && !h->is_resolving && !host_is_open(h, now) &&
                now - h->used_ms > idle_ms) {
                *slot = h->next;
                while (h->idle)
                    conn_close(d, h->idle);
                host_free(h);
            } else {
                slot = &h->next;
            }
        }
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void ids_push(int64_t **ids, size_t *count, size_t *cap, int64_t id)
{
    if (*count == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *ids = xrealloc(*ids, *cap * sizeof **ids);
    }
    (*ids)[(*count)++] = id;
}

/* The channels of every blocked destination, for the claim to skip, except those also seen
 * going to a destination that is not blocked: a channel moved from a dead URL to a live one
 * (PUT, PATCH, a resubscribe) would otherwise have its retries at the live URL held for as long
 * as the dead one's circuit stays open. Its notifications for the dead URL, if claimed, are given
 * back until the circuit's next probe (take). */
static void build_exclude(struct dispatcher *d, int64_t now)
{
    d->exclude_count = 0;
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        for (struct host *h = d->hosts[b]; h; h = h->next) {
            if (!host_is_blocked(d, h, now))
                continue;
            for (size_t i = 0; i < h->channel_count; i++)
                ids_push(&d->exclude, &d->exclude_count, &d->exclude_cap,
                         h->channels[i].channel_id);
        }
    }
    if (!d->exclude_count)
        return;
    d->open_count = 0;
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        for (struct host *h = d->hosts[b]; h; h = h->next) {
            if (host_is_blocked(d, h, now))
                continue;
            for (size_t i = 0; i < h->channel_count; i++)
                ids_push(&d->open, &d->open_count, &d->open_cap, h->channels[i].channel_id);
        }
    }
    if (!d->open_count)
        return;
    qsort(d->open, d->open_count, sizeof *d->open, cmp_i64);
    size_t kept = 0;
    for (size_t i = 0; i < d->exclude_count; i++) {
        if (!bsearch(&d->exclude[i], d->open, d->open_count, sizeof *d->open, cmp_i64))
            d->exclude[kept++] = d->exclude[i];
    }
    d->exclude_count = kept;
}

void circuit_bounds(const struct retry_schedule *retry, int64_t *open_ms, int64_t *max_ms)
{
    int64_t first = 0, longest = retry_longest_ms(retry);
    for (size_t i = 0; retry && i < retry->len && !first; i++)
        first = retry->delays_ms[i];
    *open_ms = first && first < CIRCUIT_OPEN_MS ? first : CIRCUIT_OPEN_MS;
    *max_ms = longest && longest < CIRCUIT_MAX_MS ? longest : CIRCUIT_MAX_MS;
    if (retry && retry->len && !first) /* every delay 0: retries at once */
        *open_ms = *max_ms = CIRCUIT_FLOOR_MS;
    if (*open_ms < CIRCUIT_FLOOR_MS)
        *open_ms = CIRCUIT_FLOOR_MS;
    if (*max_ms < *open_ms)
        *max_ms = *open_ms;
}

static void flush_results(struct dispatcher *d);

/* The destination's latest outcomes that failed, one after another (up to 32). */
static int failures_in_a_row(const struct host *h)
{
    return ~h->recent ? __builtin_ctz(~h->recent) : 32;
}

/* At least 4 in 5 of the destination's recent outcomes failed (CIRCUIT_WINDOW). */
static bool mostly_failed(const struct host *h)
{
    uint32_t window = h->recent_count >= 32 ? ~0u : (1u << h->recent_count) - 1;
    int failed = __builtin_popcount(h->recent & window);
    return failed * 5 >= h->recent_count * 4;
}

/* Updates the destination's circuit after an attempt that reached it (or failed to).
 * `is_probe`: the attempt was the half-open circuit's probe. The circuit opens for
 * CIRCUIT_OPEN_MS on a failure that makes CIRCUIT_THRESHOLD in a row while most of the recent
 * outcomes failed (mostly_failed), and only a failed probe opens it
 * again, for twice as long. The other attempts that were in flight when it opened (up to
 * max_per_host of them, all refused in the same round when nothing listens) fail after it
 * opened, and doubling on each of those took the delay to CIRCUIT_MAX_MS at once: a receiver
 * up 2 s later waited 5 minutes. */
static void host_after_attempt(struct dispatcher *d, struct host *h, int http_status, int64_t now,
                               bool is_probe)
{
    bool is_failure = http_status == 0 || http_status >= 500;
    h->recent = (h->recent << 1) | (is_failure ? 1u : 0u);
    if (h->recent_count < CIRCUIT_WINDOW)
        h->recent_count++;
    if (is_probe || !is_failure)
        h->is_probing = false;
    if (h->refused && (is_probe || !is_failure)) {
        log_info("msg=\"callbacks not sent while the circuit was open\" destination=%s "
                 "count=%zu",
                 h->key, h->refused);
        h->refused = 0;
    }
    if (!is_failure) {
        /* The circuit closes: what failed while it was open, counted, waits for its next
         * retry (up to hours away); a receiver that is back gets it now. */
        if (h->is_tripped) {
            log_info("msg=\"circuit closed\" destination=%s", h->key);
            /* The outcomes not yet flushed go first, in the writer's order: their rows are
             * still leased and their retries not yet pushed out, so the hasten would skip them
             * and they would keep their schedule (an attempt that failed in the same few ms as
             * the probe got through waited its 30 s retry). */
            flush_results(d);
            if (now >= h->retry_after_until_ms) {
                store_outbox_hasten(d->cfg.store, h->channels, h->channel_count, now, false);
                d->is_claim_due = true;
            }
        }
        h->open_ms = 0;
        h->is_tripped = false;
        return;
    }
    if (!h->is_tripped && failures_in_a_row(h) >= CIRCUIT_THRESHOLD && mostly_failed(h)) {
        h->is_tripped = true;
        h->open_ms = d->circuit_open_ms;
        h->open_until_ms = now + h->open_ms;
        h->is_defer_due = d->is_defer_due = true;
        log_warn("msg=\"circuit opened\" destination=%s open_ms=%lld", h->key,
                 (long long)h->open_ms);
    } else if (h->is_tripped && is_probe) {
        h->open_ms = h->open_ms ? h->open_ms * 2 : d->circuit_open_ms;
        if (h->open_ms > d->circuit_max_ms)
            h->open_ms = d->circuit_max_ms;
        h->open_until_ms = now + h->open_ms;
        h->is_defer_due = d->is_defer_due = true;
    }
}

static size_t held_slot(const struct held_set *h, int64_t id)
{
    uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15u;
    return (size_t)(x >> 17) & (h->cap - 1);
}

static bool held_has(const struct held_set *h, int64_t id)
{
    if (!h->cap)
        return false;
    for (size_t i = held_slot(h, id);; i = (i + 1) & (h->cap - 1)) {
        if (h->slots[i] == id)
            return true;
        if (h->slots[i] == 0)
            return false;
    }
}

static void held_add(struct held_set *h, int64_t id);

static void held_grow(struct held_set *h)
{
    struct held_set old = *h;
    h->cap = old.cap ? (old.live * 4 > old.cap ? old.cap * 2 : old.cap) : 1024;
    h->slots = xcalloc(h->cap, sizeof *h->slots);
    h->used = h->live = 0;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i] > 0)
            held_add(h, old.slots[i]);
    }
    free(old.slots);
}

static void held_add(struct held_set *h, int64_t id)
{
    if ((h->used + 1) * 2 > h->cap)
        held_grow(h);
    size_t i = held_slot(h, id);
    while (h->slots[i] > 0)
        i = (i + 1) & (h->cap - 1);
    if (h->slots[i] == 0)
        h->used++;
    h->slots[i] = id;
    h->live++;
}

static void held_remove(struct held_set *h, int64_t id)
{
    if (!h->cap)
        return;
    for (size_t i = held_slot(h, id);; i = (i + 1) & (h->cap - 1)) {
        if (h->slots[i] == id) {
            h->slots[i] = -1;
            h->live--;
            return;
        }
        if (h->slots[i] == 0)
            return;
    }
}

static double rnd01(struct dispatcher *d)
{
    d->rnd_state = d->rnd_state * 1103515245u + 12345u;
    return (double)((d->rnd_state >> 8) & 0xffffff) / (double)0x1000000;
}

static void wake(struct dispatcher *d)
{
    uint64_t one = 1;
    ssize_t n = write(d->wakefd, &one, sizeof one);
    (void)n;
}

void dispatch_wake(struct dispatcher *d)
{
    if (!d)
        return;
    atomic_store(&d->is_claim_asked, true);
    wake(d);
}

/* curl's interest in a socket changes often (send, then receive, per attempt); the events
 * registered are kept as the socket's curl pointer (curl_multi_assign), so an unchanged
 * interest costs no epoll_ctl. */
#define SOCK_KNOWN 0x10000u

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    struct dispatcher *d = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(d->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev = {.data.fd = s};
    if (what & CURL_POLL_IN)
        ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev.events |= EPOLLOUT;
    uintptr_t known = (uintptr_t)socketp;
    if (known == (ev.events | SOCK_KNOWN))
        return 0;
    int op = known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(d->epfd, op, s, &ev) != 0) {
        op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        epoll_ctl(d->epfd, op, s, &ev);
    }
    curl_multi_assign(d->multi, s, (void *)(uintptr_t)(ev.events | SOCK_KNOWN));
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct dispatcher *d = userp;
    d->timeout_at_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    return 0;
}

static size_t on_response(char *ptr, size_t size, size_t nmemb, void *userp)
{
    struct flight *f = userp;
    size_t n = size * nmemb;
    f->response_read += n;
    if (f->response_read > RESPONSE_READ_MAX) {
        f->is_cut = true;
        return 0; /* curl ends the transfer (CURLE_WRITE_ERROR); reap keeps the status */
    }
    if (f->response.len < RESPONSE_PREFIX_BYTES) {
        size_t room = RESPONSE_PREFIX_BYTES - f->response.len;
        buf_append(&f->response, ptr, n < room ? n : room);
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userp)
{
    struct flight *f = userp;
    size_t n = size * nmemb;
    if (f->has_headers) { /* trailers: they count against the body's bound, as on the own client */
        f->response_read += n;
        if (f->response_read > RESPONSE_READ_MAX) {
            f->is_cut = true;
            return 0; /* curl ends the transfer; reap keeps the status */
        }
        return n;
    }
    if ((n == 2 && ptr[0] == '\r' && ptr[1] == '\n') || (n == 1 && ptr[0] == '\n')) {
        long status = 0; /* the blank line ending a response's headers */
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200)
            f->has_headers = true;
        return n;
    }
    /* A status line: the headers of an interim answer (100 Continue) before it are not this
     * answer's, and a Retry-After among them is forgotten, as the own client does. */
    if (n > 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        f->retry_after[0] = '\0';
        return n;
    }
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(ptr, name, sizeof name - 1) == 0) {
        size_t start = sizeof name - 1;
        while (start < n && (ptr[start] == ' ' || ptr[start] == '\t'))
            start++;
        size_t end = n;
        while (end > start && (ptr[end - 1] == '\r' || ptr[end - 1] == '\n' || ptr[end - 1] == ' '))
            end--;
        snprintf(f->retry_after, sizeof f->retry_after, "%.*s", (int)(end - start), ptr + start);
    }
    return n;
}

/* Makes *out the signer of `text` (taken): the key of the same secret in the cache moves over
 * (its slot there left without one), so a key is only prepared for a secret new to the cache. */
static void signer_take(struct secret_cache *c, struct signer *out, char *text, int64_t until_s)
{
    out->secret = text;
    out->key = NULL;
    out->until_s = until_s;
    for (size_t i = 0; text && i < c->count; i++) {
        struct signer *old = &c->signers[i];
        if (old->key && old->secret && strcmp(old->secret, text) == 0) {
            out->key = old->key;
            old->key = NULL;
            return;
        }
    }
    out->key = text ? sign_key_new(text) : NULL;
}

static void signers_free(struct secret_cache *c)
{
    for (size_t i = 0; i < c->count; i++) {
        free(c->signers[i].secret);
        sign_key_free(c->signers[i].key);
    }
    c->count = 0;
}

/* A rotation commits, then changes the marker (store_org_rotate_secret), so a mark read before
 * the secrets that still reads the same means no rotation committed since. Without the marker a
 * callback sent within the second after `herald secret rotate` returned lacked the new secret's
 * signature. An unreadable marker announces nothing: the once-a-second read remains. */
static void secret_refresh(struct dispatcher *d, int64_t org_id)
{
    struct secret_cache *c = &d->secret;
    /* Once a loop round and once per batch of work from the writer (hand-offs, a claim), not
     * per attempt (an fstat each): a rotation that committed before the commit of a callback
     * is seen by the read after that commit's hand-off was taken. */
    if (d->is_mark_stale) {
        store_token_mark_read(d->cfg.store, &d->mark);
        d->is_mark_stale = false;
    }
    struct store_token_mark mark = d->mark;
    bool is_announced = mark.is_known && !store_token_mark_equal(&mark, &c->mark);
    if (c->count && c->org_id == org_id && !is_announced &&
        now_ms() - c->loaded_ms < SECRET_REFRESH_MS)
        return;
    struct store_org org;
    if (store_org_get(d->cfg.store, org_id, &org))
        return; /* keep the old ones; logged by the store */
    struct signer next[1 + STORE_RETIRED_SECRETS_MAX];
    size_t n = 0;
    signer_take(c, &next[n++], org.secret, INT64_MAX);
    org.secret = NULL;
    for (size_t i = 0; i < org.retired_count && n < sizeof next / sizeof next[0]; i++) {
        signer_take(c, &next[n++], org.retired[i].secret, org.retired[i].until_s);
        org.retired[i].secret = NULL;
    }
    store_org_fini(&org);
    signers_free(c);
    memcpy(c->signers, next, n * sizeof next[0]);
    c->count = n;
    c->org_id = org_id;
    c->loaded_ms = now_ms();
    c->mark = mark;
}

static void add_result(struct dispatcher *d, const struct store_attempt *a)
{
    if (!d->result_count)
        d->results_since_ms = now_ms();
    if (d->result_count == d->result_cap) {
        d->result_cap = d->result_cap ? d->result_cap * 2 : 64;
        d->results = xrealloc(d->results, d->result_cap * sizeof *d->results);
    }
    if ((a->new_status == STORE_NTF_PENDING || a->is_deferred) &&
        (d->local_due_ms < 0 || a->next_at_ms < d->local_due_ms))
        d->local_due_ms = a->next_at_ms;
    d->results[d->result_count] = *a;
    d->results[d->result_count].error = xstrdup(a->error);
    d->results[d->result_count].response = xstrdup(a->response);
    d->result_count++;
}

static void record_batch_free(struct record_batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        free((char *)b->attempts[i].error);
        free((char *)b->attempts[i].response);
    }
    free(b->attempts);
    free(b);
}

/* The store recorded a flush, or could not (on the writer's side): a refused one is kept for
 * retry_refused. */
static void on_recorded(void *arg, enum herald_err err)
{
    struct record_batch *b = arg;
    if (!err) {
        record_batch_free(b);
        return;
    }
    struct dispatcher *d = b->d;
    int64_t now = now_ms();
    if (!b->first_ms) {
        b->first_ms = now;
        log_warn("msg=\"outcomes of attempts not recorded: recorded again every %d ms, for "
                 "as long as their leases last\" count=%zu error=%s",
                 RECORD_RETRY_MS, b->count, herald_err_name(err));
    }
    pthread_mutex_lock(&d->inbox_mu);
    b->next = d->refused;
    d->refused = b;
    if (!d->refused_at_ms)
        d->refused_at_ms = now + RECORD_RETRY_MS;
    pthread_mutex_unlock(&d->inbox_mu);
}

static void flush_results(struct dispatcher *d)
{
    if (!d->result_count)
        return;
    struct record_batch *b = xcalloc(1, sizeof *b);
    b->d = d;
    b->count = d->result_count;
    b->attempts = xmalloc(b->count * sizeof *b->attempts);
    memcpy(b->attempts, d->results, b->count * sizeof *b->attempts); /* strings move too */
    d->result_count = 0;
    store_outbox_record(d->cfg.store, b->attempts, b->count, on_recorded, b);
}

/* Submits again the flushes the store refused, once their time has come; those refused for
 * longer than a lease are dropped: their notifications are due to be sent again anyway. */
static void retry_refused(struct dispatcher *d, int64_t now)
{
    pthread_mutex_lock(&d->inbox_mu);
    struct record_batch *list = NULL;
    if (d->refused && now >= d->refused_at_ms) {
        list = d->refused;
        d->refused = NULL;
        d->refused_at_ms = 0;
    }
    pthread_mutex_unlock(&d->inbox_mu);
    size_t dropped = 0;
    for (struct record_batch *b = list, *next; b; b = next) {
        next = b->next;
        b->next = NULL;
        if (now - b->first_ms >= d->cfg.lease_ms) {
            dropped += b->count;
            record_batch_free(b);
            continue;
        }
        store_outbox_record(d->cfg.store, b->attempts, b->count, on_recorded, b);
    }
    if (dropped)
        log_warn("msg=\"outcomes of attempts still not recorded after a lease: their "
                 "callbacks go again\" count=%zu",
                 dropped);
}

static void flight_free(struct flight *f)
{
    if (!f)
        return;
    buf_fini(&f->hdr_sig);
    curl_slist_free_all(f->resolve);
    buf_fini(&f->body);
    buf_fini(&f->response);
    buf_fini(&f->req);
    store_claim_fini(&f->claim);
    free(f);
}

/* Lets go of a notification held here (sent and recorded, or given back). */
static void flight_drop(struct dispatcher *d, struct flight *f)
{
    held_remove(&d->held, f->claim.id);
    store_budget_give(&d->budget, f->claim.body_len);
    flight_free(f);
}

static void waiting_give_back(struct dispatcher *d, struct store_claim *c, int64_t at);

/* The subscriber answered 410 Gone to `gone`: the notifications of the same channel and URL
 * waiting in the destination's queue (behind a half-open circuit's probe, or for a free slot)
 * are not sent. The store fails them with the gone one ("channel disabled: 410 Gone", recorded
 * just before): they are only let go here. They used to be sent after the 410, and their
 * outcome overwrote that. */
static void queue_drop_gone(struct dispatcher *d, struct host *host, const struct store_claim *gone)
{
    struct waiting **at = &host->queue_head, *last = NULL;
    while (*at) {
        struct waiting *w = *at;
        if (w->claim.org_id != gone->org_id || w->claim.channel_id != gone->channel_id ||
            strcmp(w->claim.url, gone->url) != 0) {
            last = w;
            at = &w->next;
            continue;
        }
        *at = w->next;
        d->queued--;
        waiting_give_back(d, &w->claim, now_ms());
        free(w);
    }
    host->queue_tail = last;
}

/* Decides what happens after an attempt and queues its record. */
static void finish(struct dispatcher *d, struct flight *f, int http_status, const char *error)
{
    int64_t end = now_ms();
    /* A redirect is an answer but not a delivery (none is followed): the history says so, as a
     * 3xx alone reads like success to many. */
    if (!error && http_status >= 300 && http_status <= 399)
        error = "redirect not followed: only a 2xx answer counts as delivered";
    struct store_attempt a = {
        .notification_id = f->claim.id,
        .org_id = f->claim.org_id,
        .channel_id = f->claim.channel_id,
        .started_at_ms = f->started_ms,
        .duration_ms = end - f->started_ms,
        .http_status = http_status,
        .error = error,
        .response = f->response.len ? f->response.data : NULL,
        .is_first = !f->claim.has_attempt,
    };
    switch (retry_classify(http_status)) {
    case RETRY_DELIVERED:
        a.new_status = STORE_NTF_DELIVERED;
        break;
    case RETRY_GONE:
        a.new_status = STORE_NTF_FAILED;
        a.is_gone = true;
        break;
    case RETRY_AGAIN: {
        if (f->is_early) {
            /* Sent before its retry was due, to find out whether the destination is back: a
             * failure does not count, and the retry keeps its place in the schedule (from now:
             * never earlier than the schedule says). */
            int64_t delay = retry_delay_ms(d->cfg.retry, (size_t)f->claim.attempts, rnd01(d));
            a.is_deferred = true;
            a.next_at_ms = end + (delay > 0 ? delay : d->circuit_open_ms);
            log_info("msg=\"probe failed\" notification=%lld destination=%s status=%d "
                     "error=\"%s\" counted=false",
                     (long long)a.notification_id, f->host->key, http_status, error ? error : "");
            add_result(d, &a);
            return;
        }
        int64_t delay = retry_delay_ms(d->cfg.retry, (size_t)f->claim.attempts + 1, rnd01(d));
        if (delay >= 0 && (http_status == 429 || http_status == 503) && f->retry_after[0]) {
            int64_t after = retry_after_parse_ms(f->retry_after, end / 1000);
            if (after > 0)
                delay = after;
            if (after > 0 && f->host && end + after > f->host->retry_after_until_ms)
                f->host->retry_after_until_ms = end + after;
        }
        if (delay < 0) {
            a.new_status = STORE_NTF_FAILED;
        } else {
            a.new_status = STORE_NTF_PENDING;
            a.next_at_ms = end + delay;
        }
        break;
    }
    }
    if (a.new_status != STORE_NTF_DELIVERED && !f->is_refused) /* those: one line a window */
        log_info("msg=\"delivery attempt failed\" notification=%lld channel=%lld status=%d "
                 "error=\"%s\" next=%s",
                 (long long)a.notification_id, (long long)a.channel_id, http_status,
                 error ? error : "", a.new_status == STORE_NTF_PENDING ? "retry" : "none");
    if (a.is_gone && d->cfg.on_gone)
        d->cfg.on_gone(d->cfg.on_gone_arg, a.org_id, a.channel_id, f->claim.url);
    add_result(d, &a);
    if (a.is_gone && f->host)
        queue_drop_gone(d, f->host, &f->claim);
}

static void launch(struct dispatcher *d, struct flight *f);

/* An easy handle with the options every attempt shares (no reset between attempts: a handle
 * only ever serves attempts, and the per-attempt options are all set again by launch). */
static CURL *easy_new(const struct dispatcher *d)
{
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)d->cfg.connect_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)d->cfg.attempt_ms);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Never through a proxy named by the environment (http_proxy, https_proxy, ALL_PROXY): the
     * proxy would resolve the host itself, and the vetted address pinned below would not be the
     * one reached. */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_response);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    return e;
}

/* A finished handle back to the pool: nothing may point into the attempt it served. */
static void easy_park(CURL *e)
{
    curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, NULL);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(e, CURLOPT_RESOLVE, NULL);
}

static void give_back(struct dispatcher *d, const struct store_claim *c, int64_t at);

/* Lets go of a notification that never became a flight, giving it back due at `at`. */
static void waiting_give_back(struct dispatcher *d, struct store_claim *c, int64_t at)
{
    give_back(d, c, at);
    held_remove(&d->held, c->id);
    store_budget_give(&d->budget, c->body_len);
    store_claim_fini(c);
}

/* Makes the attempt's flight from a claim (taken) and starts it. */
static void flight_start(struct dispatcher *d, struct store_claim *claim, struct host *host)
{
    struct flight *f = xcalloc(1, sizeof *f);
    f->claim = *claim;
    claim->url = claim->body = NULL; /* taken */
    buf_init(&f->body);
    buf_init(&f->response);
    f->started_ms = now_ms();
    f->host = host;
    launch(d, f);
}

/* Records a failed attempt of a claimed notification (its strings are taken) that was not sent,
 * and why; `is_refused`: for an open circuit (logged once a window, not per notification). */
static void fail_unsent(struct dispatcher *d, struct store_claim *claim, const char *why,
                        bool is_refused)
{
    struct flight *f = xcalloc(1, sizeof *f);
    f->claim = *claim;
    claim->url = claim->body = NULL; /* taken */
    f->started_ms = now_ms();
    f->is_refused = is_refused;
    finish(d, f, 0, why);
    flight_drop(d, f);
}

/* A notification that comes due while its destination's circuit is open (before the window's
 * end; its probe decides at the end): counted as a failed attempt without being sent, and
 * retried on its own schedule or failed when that is exhausted. Given back uncounted, a dead
 * destination's backlog ran out of attempts one probe per window: 12 notifications on a 4-step
 * schedule took some 48 windows instead of the schedule's 1.7 s. The circuit does not count it:
 * the destination was not tried. */
static void refuse_open(struct dispatcher *d, struct host *host, struct store_claim *claim)
{
    host->refused++;
    fail_unsent(d, claim, "not sent: the destination failed repeatedly and its circuit is open",
                true);
}

/* Takes one claimed notification (its strings are taken): sends it now, queues it behind its
 * destination's attempts in flight, counts a failure when the destination's circuit is open,
 * or gives it back while the circuit's probe is out. */
static void take(struct dispatcher *d, struct store_claim *claim)
{
    /* Held already: its lease ran out while it waited in a queue and a claim took it again.
     * The copy held goes on (the claim renewed its lease); this one is dropped. */
    if (held_has(&d->held, claim->id)) {
        store_budget_give(&d->budget, claim->body_len);
        return;
    }
    held_add(&d->held, claim->id);
    struct url_parts parts;
    if (url_parse(claim->url, &parts)) {
        fail_unsent(d, claim, "invalid notify URL", false);
        return;
    }
    struct host *host = host_get(d, &parts);
    host_note_channel(host, claim);
    int64_t now = now_ms();
    host->used_ms = now;
    if (host_is_open(host, now) && host->open_until_ms > now) {
        refuse_open(d, host, claim);
        return;
    }
    /* Queued also while the half-open circuit's probe is out: its outcome decides (drain_host
     * after it): sent if it got through, counted as failed if the circuit opened again. */
    if (host_is_open(host, now) || !host_is_resolved(d, host, now) ||
        host->in_flight >= (size_t)d->cfg.max_per_host) {
        struct waiting *w = xmalloc(sizeof *w);
        w->next = NULL;
        w->claim = *claim;
        claim->url = claim->body = NULL;
        if (host->queue_tail)
            host->queue_tail->next = w;
        else
            host->queue_head = w;
        host->queue_tail = w;
        d->queued++;
        return;
    }
    flight_start(d, claim, host);
}

/* Starts queued notifications of a destination while it has free slots (and a resolution). */
static void drain_host(struct dispatcher *d, struct host *host)
{
    int64_t now = now_ms();
    if (host->queue_head && !host_is_resolved(d, host, now))
        return; /* drained again when the answer comes */
    /* An attempt that ends at once (its connection refused on the spot) frees its slot and
     * would drain again from inside this loop, one level deeper per queued notification: the
     * loop below takes that slot instead. */
    if (host->is_draining)
        return;
    host->is_draining = true;
    while (host->queue_head && host->in_flight < (size_t)d->cfg.max_per_host) {
        if (host->is_probing && !atomic_load(&d->is_stopping))
            break; /* the probe's outcome drains them */
        struct waiting *w = host->queue_head;
        host->queue_head = w->next;
        if (!host->queue_head)
            host->queue_tail = NULL;
        d->queued--;
        if (atomic_load(&d->is_stopping)) /* only the attempts in flight are waited for */
            waiting_give_back(d, &w->claim, now);
        else if (host_is_open(host, now))
            refuse_open(d, host, &w->claim);
        else if (now + ATTEMPT_MAX_MS > w->claim.lease_until_ms)
            waiting_give_back(d, &w->claim, now); /* the lease no longer covers an attempt */
        else
            flight_start(d, &w->claim, host);
        free(w);
    }
    host->is_draining = false;
}

/* Ends an attempt that was in flight: records it, frees its slot, starts what waited. */
static void flight_end(struct dispatcher *d, struct flight *f, int http_status, const char *error)
{
    finish(d, f, http_status, error);
    f->host->in_flight--;
    host_after_attempt(d, f->host, http_status, now_ms(), f->is_probe);
    if (d->is_backlog || d->spill_count)
        d->is_claim_due = true; /* a slot is free and the outbox has more due */
    if (f->prev)
        f->prev->next = f->next;
    else
        d->flights = f->next;
    if (f->next)
        f->next->prev = f->prev;
    struct host *host = f->host;
    flight_drop(d, f);
    d->in_flight--;
    drain_host(d, host);
}

/* ---- the own HTTP/1.1 client ----
 * libcurl spent 3.4 times the CPU of a plain client per kept-alive POST here (23 µs against
 * 6.9 µs, bench/curlblast against a minimal loop, both on 16 connections to nginx): a liveness
 * poll() on every reuse, socket-interest churn, header assembly. Plain http:// callbacks, the
 * common case on one machine, go through this one; https:// through libcurl.
 * Requests are pipelined (PIPELINE_DEPTH above): those started in one round of the loop go out
 * together at its end (own_flush), one write per connection, and their answers are read
 * together; up to 16 per connection cut the CPU per callback by about a third against nginx
 * (one send, one recv and one receiver wake-up per batch instead of per callback). */

/* Sets what epoll watches for the connection; a no-op when unchanged (the usual case: a
 * kept-alive connection watches for input between requests and while awaiting answers). */
static void conn_watch(struct dispatcher *d, struct conn *c, uint32_t events, int op)
{
    if (op == EPOLL_CTL_MOD && c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.fd = c->fd};
    epoll_ctl(d->epfd, op, c->fd, &ev);
    c->events = events;
}

/* Closing waits for the end of the loop's round (own_closed): an event of this round for the
 * same fd number must not reach a connection opened meanwhile under that number. */
static struct conn conn_dead;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Puts a connection in its destination's idle list (taken from the head) and the dispatcher's
 * (oldest first). */
static void conn_idle_push(struct dispatcher *d, struct conn *c)
{
    c->is_idle = true;
    c->idle_since_ms = now_ms();
    c->next_idle = c->host->idle;
    c->host->idle = c;
    c->older = d->idle_newest;
    c->newer = NULL;
    if (d->idle_newest)
        d->idle_newest->newer = c;
    else
        d->idle_oldest = c;
    d->idle_newest = c;
    d->idle_count++;
}

/* Takes a connection out of both idle lists. */
static void conn_idle_remove(struct dispatcher *d, struct conn *c)
{
    for (struct conn **p = &c->host->idle; *p; p = &(*p)->next_idle) {
        if (*p == c) {
            *p = c->next_idle;
            break;
        }
    }
    if (c->older)
        c->older->newer = c->newer;
    else
        d->idle_oldest = c->newer;
    if (c->newer)
        c->newer->older = c->older;
    else
        d->idle_newest = c->older;
    c->next_idle = c->older = c->newer = NULL;
    c->is_idle = false;
    d->idle_count--;
}

/* Puts a connection in its destination's list of busy ones (those pipelining may join). */
static void conn_busy_add(struct conn *c)
{
    struct host *h = c->host;
    c->is_busy = true;
    c->busy_prev = NULL;
    c->busy_next = h->busy;
    if (h->busy)
        h->busy->busy_prev = c;
    h->busy = c;
}

static void conn_busy_remove(struct conn *c)
{
    struct host *h = c->host;
    if (c->busy_prev)
        c->busy_prev->busy_next = c->busy_next;
    else
        h->busy = c->busy_next;
    if (c->busy_next)
        c->busy_next->busy_prev = c->busy_prev;
    c->busy_prev = c->busy_next = NULL;
    c->is_busy = false;
    if (h->filling == c)
        h->filling = NULL;
}

/* Closes a connection that carries no attempt (conn_detach takes them off first). */
static void conn_close(struct dispatcher *d, struct conn *c)
{
    if (c->is_idle)
        conn_idle_remove(d, c);
    if (c->is_busy)
        conn_busy_remove(c);
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    d->conns[c->fd] = &conn_dead;
    ids_push(&d->closing, &d->closing_count, &d->closing_cap, c->fd);
    free(c);
}

/* True when c, whose fd was `fd`, is still open: a closed one's fd is not reused (nor c's
 * memory taken by a connection of that fd) before own_closed, at the round's end. */
static bool conn_alive(const struct dispatcher *d, int fd, const struct conn *c)
{
    return d->conns[fd] == c;
}

static void own_closed(struct dispatcher *d)
{
    for (size_t i = 0; i < d->closing_count; i++) {
        int fd = (int)d->closing[i];
        d->conns[fd] = NULL;
        close(fd);
    }
    d->closing_count = 0;
}

/* Adds an attempt at the end of the connection's queue. */
static void conn_push(struct conn *c, struct flight *f)
{
    f->conn = c;
    f->conn_next = NULL;
    if (c->tail)
        c->tail->conn_next = f;
    else
        c->head = f;
    c->tail = f;
    c->depth++;
}

/* Takes the oldest attempt off the connection's queue. */
static struct flight *conn_pop(struct conn *c)
{
    struct flight *f = c->head;
    c->head = f->conn_next;
    if (!c->head)
        c->tail = NULL;
    c->depth--;
    f->conn_next = NULL;
    f->conn = NULL;
    return f;
}

/* Takes every attempt off the connection; returns them, oldest first, chained by conn_next. */
static struct flight *conn_detach(struct conn *c)
{
    struct flight *all = c->head;
    for (struct flight *f = all; f; f = f->conn_next)
        f->conn = NULL;
    c->head = c->tail = NULL;
    c->depth = 0;
    return all;
}

/* Marks the connection as having requests to send at the end of this round (own_flush). */
static void conn_mark_dirty(struct dispatcher *d, struct conn *c)
{
    c->host->filling = c;
    if (c->is_dirty)
        return;
    c->is_dirty = true;
    ids_push(&d->dirty, &d->dirty_count, &d->dirty_cap, c->fd);
}

/* Opens a connection to the destination's pinned address number `addr`; NULL with errno. */
static struct conn *conn_open(struct dispatcher *d, struct host *host, size_t addr)
{
    const struct sockaddr_storage *sa = &host->pinned[addr];
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    socklen_t len =
        sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (connect(fd, (const struct sockaddr *)sa, len) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    if ((size_t)fd >= d->conns_cap) {
        size_t cap = d->conns_cap ? d->conns_cap : 256;
        while (cap <= (size_t)fd)
            cap *= 2;
        d->conns = xrealloc(d->conns, cap * sizeof *d->conns);
        memset(d->conns + d->conns_cap, 0, (cap - d->conns_cap) * sizeof *d->conns);
        d->conns_cap = cap;
    }
    struct conn *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    c->host = host;
    c->addr = addr;
    c->is_connecting = true;
    c->connect_started_ms = now_ms();
    d->conns[fd] = c;
    conn_watch(d, c, EPOLLOUT, EPOLL_CTL_ADD);
    return c;
}

/* True when one more request may be pipelined onto busy connection c (its destination's
 * answers are fast: checked by the caller). */
static bool conn_may_pipeline(const struct conn *c, int64_t now)
{
    const struct flight *h = c->head;
    return c->is_http11 && !c->is_connecting && c->depth < PIPELINE_DEPTH &&
           (!h || ((!h->sent_us || now - h->sent_us < PIPELINE_FAST_US) && !h->resp.is_close));
}

/* The connection a new request of the destination goes on: this round's unsent batch when
 * pipelining applies, else an idle kept-alive one, else the busy one with the fewest requests
 * when pipelining applies; NULL: open one. */
static struct conn *own_pick(struct dispatcher *d, struct host *host)
{
    int64_t now = now_us(), wall_ms = now_ms();
    bool is_fast = host->rtt_us > 0 && host->rtt_us < PIPELINE_FAST_US &&
                   wall_ms >= host->pipeline_off_until_ms;
    struct conn *c = host->filling;
    if (is_fast && c && c->is_dirty && conn_may_pipeline(c, now))
        return c;
    /* The newest idle one first: when it is too old to trust, so are the others. */
    while ((c = host->idle)) {
        if (wall_ms - c->idle_since_ms >= d->cfg.idle_ms) {
            conn_close(d, c);
            continue;
        }
        conn_idle_remove(d, c);
        conn_busy_add(c);
        return c;
    }
    if (!is_fast)
        return NULL;
    struct conn *best = NULL;
    for (c = host->busy; c; c = c->busy_next) {
        if (conn_may_pipeline(c, now) && (!best || c->depth < best->depth))
            best = c;
    }
    return best;
}

static void own_fail(struct dispatcher *d, struct flight *f, const char *error);

/* The attempt fails to connect to its destination, for `why`. */
static void own_fail_connect(struct dispatcher *d, struct flight *f, const char *why)
{
    char error[512];
    snprintf(error, sizeof error, "Failed to connect to %s port %d: %s", f->host->name,
             f->host->port, why);
    own_fail(d, f, error);
}

/* own_start's `addr` for a new start: a kept-alive connection, else the address that last
 * connected. */
#define ADDR_FRESH SIZE_MAX

/* Starts the flight's request on a connection of its destination (own_pick), or a new one to
 * its pinned address number `addr`. The request goes out at the round's end (own_flush), or
 * once connected. */
static void own_start(struct dispatcher *d, struct flight *f, size_t addr)
{
    struct host *host = f->host;
    struct conn *c = NULL;
    if (addr == ADDR_FRESH) {
        c = own_pick(d, host);
        addr = host->addr_first < host->pinned_count ? host->addr_first : 0;
        f->addr_tries = 0;
    }
    if (!c) {
        if (!host->pinned_count) {
            own_fail_connect(d, f, "no address");
            return;
        }
        /* An address refused on the spot (unreachable network, no IPv6) gives way to the next,
         * around the list once. */
        while (!(c = conn_open(d, host, addr))) {
            if (++f->addr_tries >= host->pinned_count) {
                own_fail_connect(d, f, strerror(errno));
                return;
            }
            addr = (addr + 1) % host->pinned_count;
        }
        conn_busy_add(c);
    }
    conn_push(c, f);
    f->req_sent = 0;
    f->sent_us = 0;
    h1_response_init(&f->resp, &f->response, RESPONSE_PREFIX_BYTES, RESPONSE_READ_MAX);
    if (!c->is_connecting)
        conn_mark_dirty(d, c);
}

/* The attempt (off its connection) ends: records it, frees its slot. */
static void own_finish(struct dispatcher *d, struct flight *f, int http_status, const char *error)
{
    snprintf(f->retry_after, sizeof f->retry_after, "%s", f->resp.retry_after);
    d->own_in_flight--;
    flight_end(d, f, http_status, error);
}

/* The attempt cannot go on: the status stands once the final head is in (a body cut short
 * does not undo an answer, as with libcurl above); otherwise it is a failure without one. */
static void own_fail(struct dispatcher *d, struct flight *f, const char *error)
{
    own_finish(d, f, f->resp.has_headers ? f->resp.status : 0, error);
}

/* An attempt whose connection ended before any of its answer came goes again on another one:
 * not a failed attempt. A request that (partly) went out may have been received, so it goes
 * again once (at least once: the receiver may get it twice); a second time it fails with
 * `error`. One that never went out goes again freely. Either way its time limits start again:
 * one that waited behind a request that hung until its limit had used up the same time, and
 * failed at once on its new connection. */
static void own_again(struct dispatcher *d, struct flight *f, const char *error)
{
    if (f->req_sent > 0) {
        if (f->is_resent) {
            own_fail(d, f, error);
            return;
        }
        f->is_resent = true;
    }
    buf_reset(&f->response);
    f->started_ms = now_ms();
    own_start(d, f, ADDR_FRESH);
}

/* A connection ended with the attempts `rest` unanswered behind the one it was answering:
 * when some of them went out, pipelining is off for a while for the destination, unless the
 * connection had carried many answers (a server's own limit of requests per connection). */
static void own_pipeline_trouble(struct host *host, const struct flight *rest, size_t answered)
{
    bool was_sent = false;
    for (const struct flight *f = rest; f; f = f->conn_next)
        was_sent |= f->req_sent > 0;
    if (!was_sent || answered >= PIPELINE_TRUSTED)
        return;
    int64_t now = now_ms();
    if (now >= host->pipeline_off_until_ms)
        log_info("msg=\"pipelining off\" destination=%s for_ms=%d", host->key, PIPELINE_OFF_MS);
    host->pipeline_off_until_ms = now + PIPELINE_OFF_MS;
}

/* Starts again (own_again) the attempts chained by conn_next. */
static void own_again_all(struct dispatcher *d, struct flight *rest, const char *error)
{
    for (struct flight *f = rest, *next; f; f = next) {
        next = f->conn_next;
        f->conn_next = NULL;
        own_again(d, f, error);
    }
}

/* The connection failed (error) or the peer closed it (error NULL) before the oldest
 * request's answer ended. That one is sent again once, on a new connection, when the
 * connection was kept alive and no byte of its answer came (a peer that closed an idle
 * connection meanwhile, as libcurl does; not counted when it never went out); otherwise it
 * ends with what it has (a body ending at the close) or fails. The requests behind it had no
 * answer: they go again (own_again). */
static void own_lost(struct dispatcher *d, struct conn *c, const char *error)
{
    struct host *host = c->host;
    bool was_reused = c->is_reused;
    size_t answered = c->answered;
    struct flight *f = conn_detach(c);
    struct flight *rest = f->conn_next;
    f->conn_next = NULL;
    conn_close(d, c);
    own_pipeline_trouble(host, rest, answered);
    if (was_reused && f->resp.head_len == 0 && (!f->req_sent || !f->is_resent)) {
        f->is_resent |= f->req_sent > 0; /* one that never went out goes again freely */
        /* Its idle siblings were likely closed alike (a restarted receiver): a new one. */
        while (host->idle)
            conn_close(d, host->idle);
        buf_reset(&f->response);
        own_start(d, f, ADDR_FRESH);
    } else if (error) {
        own_fail(d, f, error);
    } else {
        h1_response_eof(&f->resp);
        if (f->resp.state == H1_DONE)
            own_finish(d, f, f->resp.status, NULL);
        else
            own_fail(d, f, f->resp.error);
    }
    own_again_all(d, rest, error ? error : "connection closed before the response");
}

/* The oldest request's answer is in: the attempt ends, and the connection goes on with the
 * requests behind it, waits idle for the next, or, when the answer does not allow another
 * (Connection: close, HTTP/1.0, a body ending at the close or cut short, a request not all
 * sent), is closed and the requests behind go again on another. */
static void own_answered(struct dispatcher *d, struct conn *c)
{
    struct host *host = c->host;
    struct flight *f = conn_pop(c);
    c->answered++;
    if (f->sent_us) {
        int64_t took = now_us() - f->sent_us;
        if (took < 1)
            took = 1;
        host->rtt_us = host->rtt_us ? host->rtt_us + (took - host->rtt_us) / 8 : took;
    }
    struct flight *rest = NULL;
    if (f->resp.is_keep_alive && f->req_sent == f->req.len) {
        c->is_reused = true;
        c->is_http11 = !f->resp.is_http10;
        if (!c->depth) {
            conn_busy_remove(c);
            conn_idle_push(d, c);
            conn_watch(d, c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
            while (d->idle_count > d->cfg.max_in_flight * IDLE_PER_FLIGHT)
                conn_close(d, d->idle_oldest);
        }
    } else {
        rest = conn_detach(c);
        own_pipeline_trouble(host, rest, c->answered);
        conn_close(d, c);
    }
    own_finish(d, f, f->resp.status, NULL);
    own_again_all(d, rest, "connection closed after the previous response");
}

/* Writes the connection's unsent requests, several in one write; false when that failed and
 * the connection is gone (own_lost). */
static bool own_send(struct dispatcher *d, struct conn *c)
{
    for (;;) {
        struct iovec iov[PIPELINE_DEPTH];
        size_t n_iov = 0;
        for (struct flight *f = c->head; f && n_iov < PIPELINE_DEPTH; f = f->conn_next) {
            if (f->req_sent < f->req.len)
                iov[n_iov++] = (struct iovec){.iov_base = f->req.data + f->req_sent,
                                              .iov_len = f->req.len - f->req_sent};
        }
        if (!n_iov) {
            conn_watch(d, c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
            return true;
        }
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = n_iov};
        ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        if (n > 0) {
            int64_t now = now_us();
            size_t left = (size_t)n;
            for (struct flight *f = c->head; f && left; f = f->conn_next) {
                size_t want = f->req.len - f->req_sent;
                size_t took = left < want ? left : want;
                f->req_sent += took;
                left -= took;
                if (want && f->req_sent == f->req.len)
                    f->sent_us = now;
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* Answers are read meanwhile: a peer may answer before it reads on. */
            conn_watch(d, c, EPOLLIN | EPOLLOUT | EPOLLRDHUP, EPOLL_CTL_MOD);
            return true;
        }
        if (n < 0 && errno == EINTR)
            continue;
        char error[512];
        snprintf(error, sizeof error, "Failed sending data to the peer: %s", strerror(errno));
        own_lost(d, c, error);
        return false;
    }
}

/* Sends what the connections were given this round, one write each (or as many as the socket
 * takes: the rest goes on EPOLLOUT). Called at the end of each round of the loop. */
static void own_flush(struct dispatcher *d)
{
    /* own_send may fail a connection, whose requests go again on others: appended, sent here */
    for (size_t i = 0; i < d->dirty_count; i++) {
        int fd = (int)d->dirty[i];
        struct conn *c = d->conns[fd];
        if (!c || c == &conn_dead || !c->is_dirty)
            continue;
        c->is_dirty = false;
        if (c->host->filling == c)
            c->host->filling = NULL;
        own_send(d, c);
    }
    d->dirty_count = 0;
}

/* Reads answers: each goes to the oldest request waiting on the connection, the bytes past
 * its end to the next one's. */
static void own_read(struct dispatcher *d, struct conn *c)
{
    int fd = c->fd;
    char in[16384];
    for (;;) {
        ssize_t n = recv(fd, in, sizeof in, 0);
        if (n > 0) {
            for (size_t used = 0; used < (size_t)n;) {
                struct flight *f = c->head;
                if (!f) { /* bytes no request asked for */
                    conn_close(d, c);
                    return;
                }
                used += h1_response_feed(&f->resp, in + used, (size_t)n - used);
                if (f->resp.state == H1_DONE) {
                    own_answered(d, c);
                    if (!conn_alive(d, fd, c))
                        return;
                } else if (f->resp.state == H1_ERROR) {
                    own_lost(d, c, f->resp.error);
                    return;
                }
            }
            if (!c->head)
                return; /* idle: what comes now is no answer (own_event closes it) */
            /* A short read emptied the socket; epoll (level-triggered) reports what comes
             * next. Reading on until EAGAIN cost a second recv per callback. */
            if ((size_t)n < sizeof in)
                return;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            char error[512];
            snprintf(error, sizeof error, "Recv failure: %s", strerror(errno));
            own_lost(d, c, error);
        } else {
            own_lost(d, c, NULL);
        }
        return;
    }
}

/* A connection failed to connect (`why`): its attempt goes on to the destination's next vetted
 * address, or fails when there is none. A connecting connection carries one request (none are
 * pipelined onto it). */
static void own_connect_next(struct dispatcher *d, struct conn *c, const char *why)
{
    struct host *host = c->host;
    size_t n = host->pinned_count, next = (c->addr + 1) % n;
    struct flight *f = conn_detach(c);
    struct flight *rest = f->conn_next;
    f->conn_next = NULL;
    conn_close(d, c);
    if (++f->addr_tries < n) {
        log_info("msg=\"trying the next address\" destination=%s address=%zu of %zu error=\"%s\"",
                 host->key, next + 1, n, why);
        own_start(d, f, next);
    } else {
        own_fail_connect(d, f, why);
    }
    own_again_all(d, rest, why);
}

/* An epoll event on one of the own client's connections. */
static void own_event(struct dispatcher *d, struct conn *c, uint32_t events)
{
    if (!c->head) { /* idle: the peer closed it, or sent what no request asked for */
        conn_close(d, c);
        return;
    }
    if (c->is_connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0 && !(events & (EPOLLERR | EPOLLHUP))) {
            c->is_connecting = false;
            c->host->addr_first = c->addr;
            own_send(d, c);
            return;
        }
        own_connect_next(d, c, strerror(err ? err : ECONNREFUSED));
        return;
    }
    if ((events & EPOLLOUT) && !own_send(d, c))
        return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        own_read(d, c);
}

/* One attempt passed its time limit: it fails, and its connection is closed (an answer to it
 * could still come, ahead of those behind it). The others on the connection go again
 * (own_again), but the one being answered keeps its status once its head is in. */
static void own_timed_out(struct dispatcher *d, struct flight *f, const char *error)
{
    struct conn *c = f->conn;
    struct host *host = c->host;
    size_t answered = c->answered;
    struct flight *all = conn_detach(c);
    conn_close(d, c);
    struct flight *others = NULL, **tail = &others;
    for (struct flight *g = all, *next; g; g = next) {
        next = g->conn_next;
        g->conn_next = NULL;
        if (g != f) {
            *tail = g;
            tail = &g->conn_next;
        }
    }
    own_pipeline_trouble(host, others, answered);
    own_fail(d, f, error);
    if (others && others == all && others->resp.head_len > 0) {
        struct flight *head = others;
        others = head->conn_next;
        head->conn_next = NULL;
        own_fail(d, head, "connection closed: a request behind it timed out");
    }
    own_again_all(d, others, "connection closed: another request on it timed out");
}

/* The own client's time limits (libcurl's for the others): 5 s to connect, 15 s in all. */
static void own_check_limits(struct dispatcher *d, int64_t now)
{
    if (!d->own_in_flight || now - d->own_checked_ms < 100)
        return;
    d->own_checked_ms = now;
    /* Each pass ends one attempt, and others may end or start with it: look again from the
     * start until none is over its limit. */
    for (bool is_again = true; is_again;) {
        is_again = false;
        for (struct flight *f = d->flights; f; f = f->next) {
            if (!f->conn)
                continue;
            int64_t took = now - f->started_ms;
            struct conn *c = f->conn;
            bool is_connect_late =
                c->is_connecting && now - c->connect_started_ms >= d->cfg.connect_ms;
            if (is_connect_late && took < d->cfg.attempt_ms &&
                f->addr_tries + 1 < c->host->pinned_count) {
                own_connect_next(d, c, "connection timed out");
                is_again = true;
                break;
            }
            char error[512];
            if (is_connect_late)
                snprintf(error, sizeof error, "Connection timed out after %lld milliseconds",
                         (long long)took);
            else if (took >= d->cfg.attempt_ms)
                snprintf(error, sizeof error, "Operation timed out after %lld milliseconds",
                         (long long)took);
            else
                continue;
            own_timed_out(d, f, error);
            is_again = true;
            break;
        }
    }
}

/* Builds the request of an http:// attempt and starts it on the own client. */
static void own_launch(struct dispatcher *d, struct flight *f)
{
    /* take() parsed the URL (url_parse) to find its destination: the authority ends at the
     * first '/', '?' or '#' (userinfo is refused there). */
    const char *authority = strstr(f->claim.url, "://") + 3;
    size_t authority_len = strcspn(authority, "/?#");
    const char *path_and_query = authority + authority_len;
    char *target = url_encode_invalid(*path_and_query ? path_and_query : "/");
    char *hash = strchr(target, '#');
    if (hash)
        *hash = '\0';
    struct buf *r = &f->req;
    buf_reserve(r, 512 + f->body.len);
    buf_puts(r, "POST ");
    buf_puts(r, target[0] == '/' ? "" : "/");
    buf_puts(r, target);
    buf_puts(r, " HTTP/1.1\r\nHost: ");
    buf_append(r, authority, authority_len);
    buf_puts(r, "\r\nUser-Agent: herald/" HERALD_VERSION "\r\nAccept: */*\r\n"
                "Content-Type: application/json;charset=UTF-8\r\n");
    buf_puts(r, f->hdr_id);
    buf_puts(r, "\r\n");
    buf_puts(r, f->hdr_ts);
    buf_puts(r, "\r\n");
    buf_puts(r, f->hdr_sig.data);
    buf_puts(r, "\r\nContent-Length: ");
    buf_put_i64(r, (int64_t)f->body.len);
    buf_puts(r, "\r\n\r\n");
    buf_append(r, f->body.data, f->body.len);
    buf_fini(&f->body); /* the request has it: one copy of a body per attempt */
    free(target);
    f->next = d->flights;
    if (d->flights)
        d->flights->prev = f;
    d->flights = f;
    f->host->in_flight++;
    d->in_flight++;
    d->own_in_flight++;
    own_start(d, f, ADDR_FRESH);
}

/* Builds and starts one attempt; on a refusal before any I/O, records it at once. */
static void launch(struct dispatcher *d, struct flight *f)
{
    struct host *host = f->host;
    int64_t now = now_ms();
    f->started_ms = now;
    if (host->is_tripped) {
        f->is_probe = true; /* half-open: this attempt is the probe */
        host->is_probing = true;
        f->is_early = host->early_at_ms && f->claim.next_at_ms == host->early_at_ms;
    }
    /* take and drain_host start attempts only on a fresh resolution (a failed one included) */
    const char *why = host->resolve_why;
    enum herald_err err = host->resolve_err;
    const struct sockaddr_storage *pinned = host->pinned;
    size_t n_pinned = host->pinned_count;
    if (err) {
        char reason[320];
        snprintf(reason, sizeof reason, "%s: %s",
                 err == HERALD_ERR_DENIED ? "refused address" : "cannot resolve host",
                 why ? why : host->name);
        bool is_probe = f->is_probe;
        finish(d, f, 0, reason);
        flight_drop(d, f);
        host_after_attempt(d, host, 0, now, is_probe); /* a failure; ends a probe */
        return;
    }
    bool is_own = host->is_http && n_pinned > 0 && !d->cfg.is_curl_only;
    if (!is_own && !host->is_ip_literal) {
        /* Pin the vetted addresses: libcurl connects only to these, whatever DNS says later. */
        struct buf resolve;
        buf_init(&resolve);
        buf_printf(&resolve, "%s:%d:", host->name, host->port);
        for (size_t i = 0; i < n_pinned; i++) {
            char addr[INET6_ADDRSTRLEN];
            if (pinned[i].ss_family == AF_INET6) {
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&pinned[i])->sin6_addr, addr,
                          sizeof addr);
                buf_printf(&resolve, "%s[%s]", i ? "," : "", addr);
            } else {
                inet_ntop(AF_INET, &((const struct sockaddr_in *)&pinned[i])->sin_addr, addr,
                          sizeof addr);
                buf_printf(&resolve, "%s%s", i ? "," : "", addr);
            }
        }
        f->resolve = curl_slist_append(NULL, resolve.data);
        buf_fini(&resolve);
    }

    int64_t sent_ms = time_now_ms();
    buf_reserve(&f->body, f->claim.body_len + 40);
    buf_puts(&f->body, "{\"server_time\":");
    buf_put_i64(&f->body, sent_ms);
    buf_putc(&f->body, ',');
    buf_append(&f->body, f->claim.body, f->claim.body_len);
    free(f->claim.body); /* f->body has it: one copy of a body per attempt */
    f->claim.body = NULL;

    secret_refresh(d, f->claim.org_id);
    char msg_id[32] = "msg_";
    msg_id[4 + fmt_i64(msg_id + 4, f->claim.id)] = '\0';
    int64_t ts = sent_ms / 1000;
    buf_init(&f->hdr_sig);
    buf_reserve(&f->hdr_sig, 24 + 48 * d->secret.count); /* "v1," 44 base64 digits, a space */
    buf_puts(&f->hdr_sig, "webhook-signature: ");
    size_t signed_count = 0;
    for (size_t i = 0; i < d->secret.count; i++) {
        const struct signer *g = &d->secret.signers[i];
        if (!g->key || g->until_s <= ts)
            continue;
        size_t mark = f->hdr_sig.len;
        if (signed_count)
            buf_putc(&f->hdr_sig, ' ');
        if (sign_key_webhook(g->key, msg_id, ts, f->body.data, f->body.len, &f->hdr_sig)) {
            f->hdr_sig.len = mark; /* OpenSSL failed (logged): no stray space */
            f->hdr_sig.data[mark] = '\0';
            continue;
        }
        signed_count++;
    }
    /* Without printf, which cost 4,500 instructions a callback here. */
    size_t n = sizeof "webhook-id: " - 1;
    memcpy(f->hdr_id, "webhook-id: ", n);
    memcpy(f->hdr_id + n, msg_id, strlen(msg_id) + 1);
    n = sizeof "webhook-timestamp: " - 1;
    memcpy(f->hdr_ts, "webhook-timestamp: ", n);
    f->hdr_ts[n + fmt_i64(f->hdr_ts + n, ts)] = '\0';
    static char content_type[] = "Content-Type: application/json;charset=UTF-8";
    static char user_agent[] = "User-Agent: herald/" HERALD_VERSION;
    static char no_expect[] = "Expect:";
    char *lines[HDR_COUNT] = {content_type, user_agent, no_expect,
                              f->hdr_id,    f->hdr_ts,  f->hdr_sig.data};
    for (size_t i = 0; i < HDR_COUNT; i++) {
        f->headers[i].data = lines[i];
        f->headers[i].next = i + 1 < HDR_COUNT ? &f->headers[i + 1] : NULL;
    }

    if (is_own) {
        own_launch(d, f);
        return;
    }
    char *target = url_encode_invalid(f->claim.url);
    CURL *e = d->easy_pooled ? d->easy_pool[--d->easy_pooled] : easy_new(d);
    f->easy = e;
    /* What differs per attempt; easy_new set the rest once, and easy_park clears these. */
    curl_easy_setopt(e, CURLOPT_URL, target);
    curl_easy_setopt(e, CURLOPT_PRIVATE, f);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, f->body.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)f->body.len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->error);
    curl_easy_setopt(e, CURLOPT_RESOLVE, f->resolve);
    curl_multi_add_handle(d->multi, e);
    free(target);
    f->next = d->flights;
    if (d->flights)
        d->flights->prev = f;
    d->flights = f;
    host->in_flight++;
    d->in_flight++;
}

static void reap(struct dispatcher *d)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(d->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        struct flight *f = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&f);
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        /* Once the final status and headers are in, the subscriber has answered: a body cut
         * short (by on_response, the peer, or the time limit) does not undo that answer, and
         * retrying a 2xx would only send a copy. The transfer's error is kept for the history. */
        bool is_answered = msg->data.result == CURLE_OK || f->has_headers;
        const char *error = NULL;
        if (msg->data.result != CURLE_OK && !f->is_cut)
            error = f->error[0] ? f->error : curl_easy_strerror(msg->data.result);
        int http_status = is_answered ? (int)status : 0;
        curl_multi_remove_handle(d->multi, e);
        if (d->easy_pooled < EASY_POOL_MAX) {
            easy_park(e);
            d->easy_pool[d->easy_pooled++] = e;
        } else {
            curl_easy_cleanup(e);
        }
        f->easy = NULL;
        flight_end(d, f, http_status, error);
    }
}

/* The writer committed our claim: hand the rows to the dispatcher thread. */
static void on_claimed(void *arg, struct store_claim *claims, size_t count, size_t over_bytes,
                       enum herald_err err)
{
    struct dispatcher *d = arg;
    pthread_mutex_lock(&d->inbox_mu);
    d->inbox = claims;
    d->inbox_count = count;
    d->inbox_over_bytes = over_bytes;
    d->inbox_err = err;
    d->has_inbox = true;
    pthread_cond_signal(&d->inbox_cv);
    pthread_mutex_unlock(&d->inbox_mu);
    dispatch_wake(d);
}

/* How many more notifications may be held, a claim in progress counted as full. */
static size_t held_room(const struct dispatcher *d)
{
    size_t cap = d->cfg.max_in_flight + d->cfg.max_queued;
    size_t used = d->in_flight + d->queued + (d->is_claiming ? d->claim_room : 0);
    return used < cap ? cap - used : 0;
}

/* Whether the next claim's bodies have room: the oldest spilled one's, or the body the last
 * claim stopped at, or any at all. */
static bool bytes_room(struct dispatcher *d)
{
    if (d->is_claiming)
        return false;
    if (d->spill_count)
        return store_budget_fits(&d->budget, d->spill[d->spill_head].bytes);
    return store_budget_fits(&d->budget, d->claim_wants_bytes ? d->claim_wants_bytes : 1);
}

/* The writer committed new notifications, leased to us: queue them for the loop. */
static void on_handoff(void *arg, struct store_claim *claims, size_t count)
{
    struct dispatcher *d = arg;
    pthread_mutex_lock(&d->inbox_mu);
    if (d->handed_count + count > d->handed_cap) {
        while (d->handed_count + count > d->handed_cap)
            d->handed_cap = d->handed_cap ? d->handed_cap * 2 : 256;
        d->handed = xrealloc(d->handed, d->handed_cap * sizeof *d->handed);
    }
    memcpy(d->handed + d->handed_count, claims, count * sizeof *claims);
    bool was_empty = d->handed_count == 0;
    d->handed_count += count;
    pthread_mutex_unlock(&d->inbox_mu);
    free(claims); /* the strings moved into d->handed */
    if (was_empty)
        wake(d);
}

static void spill_push(struct dispatcher *d, int64_t id, size_t bytes)
{
    if (d->spill_count >= SPILL_MAX) {
        d->spill_lost++;
        return;
    }
    /* Newer hand-offs come as ids too until these are claimed, oldest first; only small ones,
     * which have a share of the budget of their own, may pass them. */
    if (!d->spill_count)
        atomic_store_explicit(&d->budget.has_waiting, true, memory_order_relaxed);
    if (d->spill_head + d->spill_count == d->spill_cap) {
        if (d->spill_head > d->spill_cap / 2) { /* slide down rather than grow */
            memmove(d->spill, d->spill + d->spill_head, d->spill_count * sizeof *d->spill);
            d->spill_head = 0;
        } else {
            d->spill_cap = d->spill_cap ? d->spill_cap * 2 : 1024;
            d->spill = xrealloc(d->spill, d->spill_cap * sizeof *d->spill);
        }
    }
    d->spill[d->spill_head + d->spill_count++] = (struct spilled){.id = id, .bytes = bytes};
}

/* Gives a notification taken from the outbox back, due at `at` (lease released). */
static void give_back(struct dispatcher *d, const struct store_claim *c, int64_t at)
{
    struct store_attempt a = {
        .notification_id = c->id,
        .org_id = c->org_id,
        .channel_id = c->channel_id,
        .is_deferred = true,
        .next_at_ms = at,
    };
    add_result(d, &a);
}

/* Takes the handed-off notifications: sends or queues what there is room for and keeps only
 * the ids of the rest, claimed by id when room frees (claim_more). When stopping, gives them
 * back to the outbox, due at once, for the next start. */
static void take_handed(struct dispatcher *d)
{
    pthread_mutex_lock(&d->inbox_mu);
    struct store_claim *claims = d->handed;
    size_t n = d->handed_count;
    d->handed = NULL;
    d->handed_count = d->handed_cap = 0;
    pthread_mutex_unlock(&d->inbox_mu);
    if (!n)
        return;
    d->is_mark_stale = true; /* committed after a rotation, maybe */
    bool is_stopping = atomic_load(&d->is_stopping);
    int64_t now = now_ms();
    for (size_t i = 0; i < n; i++) {
        struct store_claim *c = &claims[i];
        /* Handed off with its body: that took room in the budget, unless it is kept as an id
         * (no room to hold another, or older ones wait in the spill and it is not small). */
        bool is_taken = !is_stopping && c->body && held_room(d) > 0 &&
                        (!d->spill_count || store_budget_is_small(&d->budget, c->body_len));
        if (c->body && !is_taken)
            store_budget_give(&d->budget, c->body_len);
        if (is_stopping)
            give_back(d, c, now);
        else if (!is_taken)
            spill_push(d, c->id, c->body_len); /* behind the ones spilled before */
        else
            take(d, c);
    }
    store_claims_free(claims, n);
    if ((d->spill_count || d->spill_lost) && now - d->spill_logged_ms >= 1000) {
        d->spill_logged_ms = now;
        log_info("msg=\"dispatcher full: notifications wait in the outbox\" held=%zu "
                 "held_bytes=%zu waiting=%zu waiting_for_lease_end=%zu",
                 d->in_flight + d->queued,
                 atomic_load_explicit(&d->budget.used_bytes, memory_order_relaxed), d->spill_count,
                 d->spill_lost);
        d->spill_lost = 0;
    }
    int running;
    curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

/* Defers in bulk the backlog of each destination whose circuit opened or was extended since the
 * last look, to the end of its open window: one pass over it per window, where the claims (every
 * BUSY_DEFER_MS while the circuit is open, skipping its channels) walked past all of it each
 * time. Rows held here (in flight, queued, spilled) are leased and left alone; those given back
 * before are flushed (flush_results) ahead of this job, in the writer's order. The claims'
 * exclusion stays: it covers what commits in between. */
static void defer_blocked(struct dispatcher *d, int64_t now)
{
    if (!d->is_defer_due)
        return;
    d->is_defer_due = false;
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        for (struct host *h = d->hosts[b]; h; h = h->next) {
            if (!h->is_defer_due)
                continue;
            h->is_defer_due = false;
            if (host_is_open(h, now) && h->open_until_ms > now)
                store_outbox_defer(d->cfg.store, h->channels, h->channel_count, now,
                                   h->open_until_ms);
        }
    }
}

/* A destination whose open window ended with nothing of it due gets a probe anyway: the
 * notification of its channels due first is made due now (once per window), and sent as the
 * probe when claimed. Counted failures push retries out (5 min, then hours, on the default
 * schedule), so without this a receiver back after a minute went unnoticed until the next
 * scheduled retry; when the probe gets through, the circuit closes and hastens the rest. */
static void ask_probes(struct dispatcher *d, int64_t now)
{
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        for (struct host *h = d->hosts[b]; h; h = h->next) {
            if (!h->is_tripped || h->is_probing || h->in_flight || h->queue_head ||
                now < h->open_until_ms || now < h->retry_after_until_ms ||
                h->probe_asked_until == h->open_until_ms || !h->channel_count)
                continue;
            h->probe_asked_until = h->open_until_ms;
            h->early_at_ms = now; /* its next_at_ms: how take knows it when it is claimed */
            store_outbox_hasten(d->cfg.store, h->channels, h->channel_count, now, true);
            d->is_claim_due = true;
        }
    }
}

/* Starts a claim unless one is in progress or there is no room for it, in count or in bytes
 * (a claim in progress holds the room it may fill). The dispatcher keeps sending meanwhile. */
static void claim_more(struct dispatcher *d)
{
    size_t room = held_room(d);
    if (d->is_claiming || room == 0 || atomic_load(&d->is_stopping) || !bytes_room(d))
        return;
    int64_t now = now_ms();
    if (d->spill_count) {
        /* The oldest spilled ones whose bodies fit; the first fits (bytes_room), unless a
         * hand-off took the room meanwhile: then nothing is claimed until room frees again. */
        size_t n = 0, bytes = 0;
        int64_t ids[SPILL_CLAIM_MAX];
        while (n < d->spill_count && n < room && n < SPILL_CLAIM_MAX) {
            const struct spilled *x = &d->spill[d->spill_head + n];
            if (!store_budget_take(&d->budget, x->bytes))
                break;
            bytes += x->bytes;
            ids[n++] = x->id;
        }
        if (!n)
            return;
        d->is_claiming = true;
        d->is_claim_by_ids = true;
        d->claim_room = n;
        d->claim_bytes = bytes;
        d->is_claim_due = false;
        store_outbox_claim_ids(d->cfg.store, ids, n, now, d->cfg.lease_ms, on_claimed, d);
        d->spill_head += n;
        d->spill_count -= n;
        if (!d->spill_count) {
            d->spill_head = 0;
            atomic_store_explicit(&d->budget.has_waiting, false, memory_order_relaxed);
        }
        return;
    }
    /* Up to what is left of the budget, held for the claim while it commits (and one body
     * past it when nothing is held). */
    bool is_empty = false;
    size_t bytes = store_budget_take_rest(&d->budget, &is_empty);
    if (!bytes)
        return;
    /* Results were flushed before this claim, in the same writer queue: it sees them. */
    d->local_due_ms = -1;
    build_exclude(d, now);
    d->is_claiming = true;
    d->claim_room = room;
    d->claim_bytes = bytes;
    d->is_claim_due = false;
    store_outbox_claim(d->cfg.store, now, d->cfg.lease_ms, room, bytes, is_empty, d->exclude,
                       d->exclude_count, on_claimed, d);
}

/* Takes the rows of a finished claim, if any: sends or queues them (or, when stopping, gives
 * them back at once). `wait_ms` > 0 waits that long for an outstanding claim. */
static void take_claimed(struct dispatcher *d, int64_t wait_ms)
{
    if (!d->is_claiming)
        return;
    pthread_mutex_lock(&d->inbox_mu);
    if (!d->has_inbox && wait_ms > 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)(wait_ms / 1000);
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!d->has_inbox && pthread_cond_timedwait(&d->inbox_cv, &d->inbox_mu, &until) == 0)
            ;
    }
    if (!d->has_inbox) {
        pthread_mutex_unlock(&d->inbox_mu);
        return;
    }
    struct store_claim *claims = d->inbox;
    size_t n = d->inbox_count;
    size_t over_bytes = d->inbox_over_bytes;
    enum herald_err err = d->inbox_err;
    d->inbox = NULL;
    d->inbox_count = 0;
    d->has_inbox = false;
    pthread_mutex_unlock(&d->inbox_mu);
    d->is_mark_stale = true; /* claimed after a rotation, maybe */
    d->is_claiming = false;
    bool was_by_ids = d->is_claim_by_ids;
    d->is_claim_by_ids = false;
    /* The bodies claimed take the place of the room held for them: less when rows were no
     * longer pending or the claim stopped early, more when one body larger than the whole
     * budget came alone. */
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += claims[i].body_len;
    if (bytes < d->claim_bytes)
        store_budget_give(&d->budget, d->claim_bytes - bytes);
    else
        store_budget_add(&d->budget, bytes - d->claim_bytes);
    d->claim_bytes = 0;
    int64_t now = now_ms();
    if (err) {
        d->next_due_ms = now + 1000; /* store trouble is logged there; try again soon */
        return;
    }
    bool is_stopping = atomic_load(&d->is_stopping);
    for (size_t i = 0; i < n; i++) {
        if (is_stopping) {
            give_back(d, &claims[i], now);
            store_budget_give(&d->budget, claims[i].body_len);
        } else {
            take(d, &claims[i]);
        }
    }
    store_claims_free(claims, n);
    if (!was_by_ids) {
        /* A full batch, or one stopped by the budget: there is more. The next claim waits until
         * the body it stopped at fits. */
        d->is_backlog = n == d->claim_room || over_bytes;
        d->claim_wants_bytes = over_bytes;
    }
    d->is_claim_due = d->is_backlog || d->spill_count;
    d->next_due_ms = n == d->claim_room || over_bytes ? now : store_outbox_next_due(d->cfg.store);
    if (d->local_due_ms >= 0 && (d->next_due_ms < 0 || d->local_due_ms < d->next_due_ms))
        d->next_due_ms = d->local_due_ms;
    /* Notifications of blocked destinations stay due but are skipped: look again a little
     * later rather than spinning on them (new work still wakes the loop at once). */
    if (d->exclude_count && d->next_due_ms >= 0 && d->next_due_ms < now + BUSY_DEFER_MS)
        d->next_due_ms = now + BUSY_DEFER_MS;
    int running;
    curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

static void *dispatch_main(void *arg)
{
    struct dispatcher *d = arg;
    pthread_setname_np(pthread_self(), "herald-deliver");
    struct epoll_event events[64];
    d->is_claim_due = true;
    while (!atomic_load(&d->is_stopping) || d->in_flight > 0) {
        d->is_mark_stale = true;
        int64_t now = now_ms();
        if (atomic_load(&d->is_stopping) && now >= atomic_load(&d->stop_deadline_ms)) {
            log_warn("msg=\"stopping with deliveries in flight\" count=%zu", d->in_flight);
            break;
        }
        /* In batches (RESULTS_BATCH), and always before a deferral, which must see them (a
         * failed probe's retry recorded after it would be due inside the open window), as a
         * claim must (it waits below while outcomes wait). */
        bool is_flush_due = d->result_count >= RESULTS_BATCH ||
                            now - d->results_since_ms >= RESULTS_WAIT_MS || d->is_defer_due ||
                            atomic_load(&d->is_stopping);
        if (is_flush_due)
            flush_results(d);
        retry_refused(d, now);
        if (!atomic_load(&d->is_stopping))
            defer_blocked(d, now);
        /* A retry or deferral just decided is due on its own schedule, not at the next claim's
         * or the once-a-second look's: the claim at that time sees it (flushed just above). */
        if (!atomic_load(&d->is_stopping) && d->local_due_ms >= 0 &&
            (d->next_due_ms < 0 || d->local_due_ms < d->next_due_ms))
            d->next_due_ms = d->local_due_ms;
        if (!atomic_load(&d->is_stopping) && !d->result_count &&
            (d->is_claim_due || (d->next_due_ms >= 0 && d->next_due_ms <= now)))
            claim_more(d);
        now = now_ms();
        /* Rows made due by another process (a CLI resend) wake nobody: look once a second. */
        if (!atomic_load(&d->is_stopping) && now - d->polled_ms >= 1000) {
            d->polled_ms = now;
            int64_t due = store_outbox_next_due(d->cfg.store);
            if (due >= 0 && (d->next_due_ms < 0 || due < d->next_due_ms))
                d->next_due_ms = due;
            ask_probes(d, now);
            xmalloc_collect(now);
        }
        if (now - d->swept_ms >= d->host_idle_ms / 10) {
            d->swept_ms = now;
            sweep_hosts(d, now);
        }
        int64_t wait = d->own_in_flight ? 100 : 1000; /* the own client's time limits */
        if (d->timeout_at_ms >= 0 && d->timeout_at_ms - now < wait)
            wait = d->timeout_at_ms - now;
        /* While a claim commits, its completion wakes the loop: no need to count time. When
         * stopping nothing is claimed, so due times must not wake it either (it would spin). */
        bool has_room =
            !d->is_claiming && held_room(d) > 0 && !atomic_load(&d->is_stopping) && bytes_room(d);
        if (d->next_due_ms >= 0 && has_room && d->next_due_ms - now < wait)
            wait = d->next_due_ms - now;
        if (d->is_claim_due && has_room && !d->result_count)
            wait = 0;
        /* Waiting outcomes are flushed (and a claim made after them) when due. */
        if (d->result_count && d->results_since_ms + RESULTS_WAIT_MS - now < wait)
            wait = d->results_since_ms + RESULTS_WAIT_MS - now;
        if (wait < 0)
            wait = 0;
        int n = epoll_wait(d->epfd, events, 64, (int)wait);
        int running;
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == d->wakefd) {
                uint64_t v;
                ssize_t r = read(d->wakefd, &v, sizeof v);
                (void)r;
                if (atomic_exchange(&d->is_claim_asked, false))
                    d->is_claim_due = true;
                continue;
            }
            if ((size_t)fd < d->conns_cap && d->conns[fd]) {
                if (d->conns[fd] != &conn_dead)
                    own_event(d, d->conns[fd], events[i].events);
                continue;
            }
            int flags = 0;
            if (events[i].events & EPOLLIN)
                flags |= CURL_CSELECT_IN;
            if (events[i].events & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
            if (events[i].events & (EPOLLERR | EPOLLHUP))
                flags |= CURL_CSELECT_ERR;
            curl_multi_socket_action(d->multi, fd, flags, &running);
        }
        if (d->timeout_at_ms >= 0 && now_ms() >= d->timeout_at_ms) {
            d->timeout_at_ms = -1;
            curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        own_check_limits(d, now_ms());
        reap(d);
        own_closed(d);
        apply_answers(d);
        take_handed(d);
        take_claimed(d, 0);
        own_flush(d); /* the requests this round gave the own client, batched per connection */
    }
    take_claimed(d, 5000); /* a claim still committing: its rows are given back below */
    take_handed(d);        /* given back: stopping */
    /* Attempts still in flight are abandoned: release their leases so they are due again at
     * once, for this process after a restart or for another claimer. Receivers may get them
     * twice; delivery is at least once. */
    int64_t now = now_ms();
    for (struct flight *f = d->flights; f; f = f->next) {
        struct store_attempt a = {
            .notification_id = f->claim.id,
            .org_id = f->claim.org_id,
            .channel_id = f->claim.channel_id,
            .is_deferred = true,
            .next_at_ms = now,
        };
        add_result(d, &a);
    }
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        for (struct host *h = d->hosts[b]; h; h = h->next) {
            while (h->queue_head) {
                struct waiting *w = h->queue_head;
                h->queue_head = w->next;
                waiting_give_back(d, &w->claim, now);
                free(w);
            }
            h->queue_tail = NULL;
        }
    }
    d->queued = 0;
    /* Those kept as ids only (handed off leased, with no room for their bodies) as well: a
     * clean stop leaves no lease behind, so `deliveries resend` and another claimer need not
     * wait for it to end. */
    for (size_t i = 0; i < d->spill_count; i++)
        give_back(d, &(struct store_claim){.id = d->spill[d->spill_head + i].id}, now);
    d->spill_head = d->spill_count = 0;
    flush_results(d);
    return NULL;
}

enum herald_err dispatch_start(const struct dispatch_config *cfg, struct dispatcher **out)
{
    struct dispatcher *d = xcalloc(1, sizeof *d);
    d->cfg = *cfg;
    if (!d->cfg.max_in_flight)
        d->cfg.max_in_flight = 512;
    if (!d->cfg.max_per_host)
        d->cfg.max_per_host = 128;
    if (!d->cfg.max_queued)
        d->cfg.max_queued = QUEUE_MAX;
    if (!d->cfg.max_bytes)
        d->cfg.max_bytes = DISPATCH_BYTES_MAX;
    circuit_bounds(d->cfg.retry, &d->circuit_open_ms, &d->circuit_max_ms);
    if (d->cfg.circuit_open_ms > 0 && d->cfg.circuit_max_ms >= d->cfg.circuit_open_ms) {
        d->circuit_open_ms = d->cfg.circuit_open_ms;
        d->circuit_max_ms = d->cfg.circuit_max_ms;
    }
    d->host_idle_ms = d->cfg.host_idle_ms > 0 ? d->cfg.host_idle_ms : HOST_IDLE_MS;
    d->retry_longest_ms = retry_longest_ms(d->cfg.retry);
    d->budget.max_bytes = d->cfg.max_bytes;
    if (!d->cfg.lease_ms)
        d->cfg.lease_ms = 30000;
    if (d->cfg.connect_ms <= 0)
        d->cfg.connect_ms = CONNECT_MS;
    if (d->cfg.attempt_ms <= 0)
        d->cfg.attempt_ms = ATTEMPT_MS;
    if (d->cfg.idle_ms <= 0)
        d->cfg.idle_ms = IDLE_MAX_MS;
    d->timeout_at_ms = -1;
    d->next_due_ms = -1;
    d->local_due_ms = -1;
    d->rnd_state = (unsigned)time_now_ms() ^ (unsigned)getpid();
    pthread_mutex_init(&d->inbox_mu, NULL);
    pthread_cond_init(&d->inbox_cv, NULL);
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    d->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = d->wakefd};
    epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->wakefd, &ev);
    d->multi = curl_multi_init();
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_MAX_HOST_CONNECTIONS, d->cfg.max_per_host);
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)d->cfg.max_in_flight * IDLE_PER_FLIGHT);
    /* Without it (logged), names are resolved on the dispatcher's thread, as before it. */
    d->resolver =
        resolver_start(d->cfg.allow, d->wakefd, d->cfg.resolve_delay_ms, d->cfg.test_hosts);
    d->swept_ms = now_ms();
    if (pthread_create(&d->thread, NULL, dispatch_main, d) != 0) {
        log_error("msg=\"cannot start the dispatcher thread\"");
        resolver_stop(d->resolver);
        curl_multi_cleanup(d->multi);
        close(d->epfd);
        close(d->wakefd);
        free(d);
        return HERALD_ERR_INTERNAL;
    }
    store_outbox_handoff(d->cfg.store, on_handoff, d, d->cfg.lease_ms, &d->budget);
    *out = d;
    return HERALD_OK;
}

static enum herald_err barrier_run(struct store_txn *t, void *arg)
{
    (void)t;
    (void)arg;
    return HERALD_OK;
}

void dispatch_stop(struct dispatcher *d, int grace_ms)
{
    if (!d)
        return;
    /* No hand-off after this: a batch already running may still hand off to us, so wait for a
     * batch that starts after the change (the writer runs them in order). */
    store_outbox_handoff(d->cfg.store, NULL, NULL, 0, NULL);
    store_exec(d->cfg.store, barrier_run, NULL);
    /* The loop drains attempts in flight until the deadline; what is still in flight then stays
     * pending in the store and is sent again after the restart. */
    atomic_store(&d->stop_deadline_ms, now_ms() + grace_ms);
    atomic_store(&d->is_stopping, true);
    dispatch_wake(d);
    pthread_join(d->thread, NULL);
    /* Every flush's answer has come once a job queued after the last one is done (the writer
     * answers in order): on_recorded no longer runs, and what it kept is dropped. */
    store_exec(d->cfg.store, barrier_run, NULL);
    size_t unrecorded = 0;
    while (d->refused) {
        struct record_batch *b = d->refused;
        d->refused = b->next;
        unrecorded += b->count;
        record_batch_free(b);
    }
    if (unrecorded)
        log_warn("msg=\"outcomes of attempts not recorded at the stop: their callbacks go again "
                 "after the restart\" count=%zu",
                 unrecorded);
    resolver_stop(d->resolver); /* a lookup in progress is not waited for */
    while (d->flights) {
        struct flight *f = d->flights;
        d->flights = f->next;
        if (f->easy) {
            curl_multi_remove_handle(d->multi, f->easy);
            curl_easy_cleanup(f->easy);
        }
        if (f->conn) {
            struct conn *c = f->conn;
            for (struct flight *g = conn_detach(c), *next; g; g = next) {
                next = g->conn_next;
                g->conn_next = NULL;
            }
            conn_close(d, c);
        }
        flight_free(f);
    }
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        for (struct host *h = d->hosts[b]; h; h = h->next) {
            while (h->idle)
                conn_close(d, h->idle);
        }
    }
    own_closed(d);
    free(d->conns);
    free(d->closing);
    free(d->dirty);
    curl_multi_cleanup(d->multi);
    close(d->epfd);
    close(d->wakefd);
    pthread_mutex_destroy(&d->inbox_mu);
    pthread_cond_destroy(&d->inbox_cv);
    while (d->easy_pooled)
        curl_easy_cleanup(d->easy_pool[--d->easy_pooled]);
    free(d->results);
    free(d->exclude);
    free(d->open);
    free(d->handed);
    free(d->held.slots);
    free(d->spill);
    for (size_t b = 0; b < HOST_BUCKETS; b++) {
        while (d->hosts[b]) {
            struct host *h = d->hosts[b];
            d->hosts[b] = h->next;
            host_free(h);
        }
    }
    signers_free(&d->secret);
    free(d);
}
