/* The transactional outbox: change events and the notifications they matched, written in the
 * same transaction as the record change; the dispatcher's side: claiming due notifications
 * under a lease and recording each attempt's outcome; and the delivery history: listing,
 * resending, and pruning delivered notifications (docs/internals/deliveries.md). */
#ifndef HERALD_STORE_OUTBOX_H
#define HERALD_STORE_OUTBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum store_ntf_status { STORE_NTF_PENDING = 0, STORE_NTF_DELIVERED = 1, STORE_NTF_FAILED = 2 };

/* Stores a change event (records_json: the per-record JSON, borrowed). *id_out gets its id. */
enum herald_err store_txn_change_add(struct store_txn *t, int64_t org_id, int64_t module_id,
                                     const char *operation, const char *request_id,
                                     const char *records_json, int64_t at_ms, int64_t *id_out);

struct store_outbox_row {
    int64_t org_id;
    int64_t channel_id;
    int64_t module_id;
    const char *operation;
    int64_t change_id;
    const char *url;       /* notify URL as given */
    const char *body;      /* callback body after `{"server_time":N,` (borrowed) */
    int64_t created_at_ms; /* when the change committed (the history's created_time) */
    int64_t next_at_ms;    /* the first attempt: created_at_ms plus the schedule's first delay */
    /* Due at once: when a hand-off is registered (store_outbox_handoff), the row is stored
     * already leased and given to the hand-off after the commit instead of waiting for a claim. */
    bool is_due_now;
};

/* Adds one pending notification. Strings are copied into the row. */
enum herald_err store_txn_notification_add(struct store_txn *t, const struct store_outbox_row *row,
                                           int64_t *id_out);

/* A claimed notification, leased to the caller until lease_until_ms. */
struct store_claim {
    int64_t id;
    int64_t org_id;
    int64_t channel_id;
    int64_t created_at_ms;
    int attempts;     /* attempts made before this one */
    bool has_attempt; /* an attempt is recorded for it already (any round) */
    int64_t lease_until_ms;
    int64_t next_at_ms; /* when it was due: claims of due rows only (0 by id, in hand-offs) */
    char *url;
    char *body;      /* NULL (and url too) in a hand-off of the id alone (struct store_budget) */
    size_t body_len; /* strlen(body), also when the body was left in the outbox */
};

/* The bytes of notification bodies a dispatcher holds in memory (handed off, claimed, queued,
 * in flight) and its limit, shared with the writer, which copies a body into a hand-off only
 * while it fits (store_budget_take) and otherwise hands off the id alone, for the dispatcher to
 * claim by id (store_outbox_claim_ids) when it has room. Small bodies (at most max_bytes / 1024)
 * may fill the whole budget; bigger ones stop 1/16 short of it, so a destination that holds big
 * bodies for long (a slow receiver, a fan-out of 1 MB bodies) leaves room for the small
 * callbacks of the others. One body larger than the whole limit fits while nothing else is
 * held, so it is still delivered. */
struct store_budget {
    _Atomic size_t used_bytes;
    size_t max_bytes;
    /* Older notifications wait in the outbox for room (ids the dispatcher will claim, oldest
     * first): the writer hands off only small bodies meanwhile, which may pass them; a bigger
     * one goes as its id, behind them. */
    atomic_bool has_waiting;
};

/* Whether a body of `bytes` is small (see struct store_budget). */
bool store_budget_is_small(const struct store_budget *b, size_t bytes);
/* Whether a body of `bytes` fits in b now. Thread-safe. */
bool store_budget_fits(struct store_budget *b, size_t bytes);
/* Adds `bytes` to b's use if they fit (store_budget_fits); false (nothing added) if not.
 * Thread-safe: one compare-and-swap. */
bool store_budget_take(struct store_budget *b, size_t bytes);
/* Adds `bytes` whether they fit or not (a claim that was allowed one body past the limit). */
void store_budget_add(struct store_budget *b, size_t bytes);
/* Subtracts `bytes` taken or added before. Thread-safe. */
void store_budget_give(struct store_budget *b, size_t bytes);
/* Takes what is left of the budget for big bodies and returns how much (*was_empty: nothing
 * was held, so one body larger than that may come alone): a claim in progress reserves it, so
 * hand-offs meanwhile do not overfill the budget (small ones still have their share). */
size_t store_budget_take_rest(struct store_budget *b, bool *was_empty);

/* Called on the writer thread once a claim committed: `claims` (count of them) are the caller's
 * to free with store_claims_free; on failure err is set and claims is NULL. `over_bytes` is the
 * size of the body of the first due row the claim left for its byte limit (0: none was left for
 * it). Must not block. */
typedef void store_claim_done_fn(void *arg, struct store_claim *claims, size_t count,
                                 size_t over_bytes, enum herald_err err);

/* Claims up to `limit` pending notifications due at now_ms whose lease has expired, oldest due
 * first, leasing them until now_ms + lease_ms, skipping the channels in exclude[] (copied; their
 * destination is saturated or its circuit is open). Their bodies total at most max_bytes: the
 * claim stops before the first row that would pass it, except that with `may_exceed` a first row
 * larger than max_bytes is claimed alone (the caller holds nothing else). Asynchronous: a writer
 * job, so the caller keeps working while it commits; `done` gets the claims. */
void store_outbox_claim(struct store *s, int64_t now_ms, int64_t lease_ms, size_t limit,
                        size_t max_bytes, bool may_exceed, const int64_t *exclude,
                        size_t exclude_count, store_claim_done_fn *done, void *arg);
void store_claims_free(struct store_claim *claims, size_t count);
/* Frees one claim's strings (and NULLs them); the struct itself is the caller's. */
void store_claim_fini(struct store_claim *c);
/* Claims the notifications ids[] (count of them) that are still pending, whatever their lease,
 * leasing them until now_ms + lease_ms: a hand-off the dispatcher had no room for, taken back
 * when it has (it knows their sizes: no byte limit here, over_bytes is 0). Asynchronous, like
 * store_outbox_claim. */
void store_outbox_claim_ids(struct store *s, const int64_t *ids, size_t count, int64_t now_ms,
                            int64_t lease_ms, store_claim_done_fn *done, void *arg);

/* One channel's notifications to one URL: what a destination whose circuit opened was seen
 * to be sent (several organizations' channels may share it; a channel id is an organization's). */
struct store_channel_url {
    int64_t org_id;
    int64_t channel_id;
    const char *url;
};

/* Makes the pending notifications of these channels to these URLs (count of them; copied) that
 * are due before until_ms and not leased (lease_until_ms <= now_ms: none held by the dispatcher,
 * in flight or queued) due at until_ms instead, in one writer job, asynchronously. For a
 * destination whose circuit is open until until_ms: its backlog is moved once per open window,
 * and the claims meanwhile find nothing of it due, instead of walking past all of it each time. */
void store_outbox_defer(struct store *s, const struct store_channel_url *chs, size_t count,
                        int64_t now_ms, int64_t until_ms);

/* The reverse, for a destination whose circuit closed (its probe got through): the pending,
 * unleased notifications of these channels to these URLs that were attempted (not those a
 * first delay in the retry schedule holds) and are due after now_ms are due at now_ms,
 * in one writer job, asynchronously. Their retries had been pushed out by failures counted
 * while the destination was down; a receiver that is back gets its backlog at once.
 * is_first_only: just the one due first (per organization), for a probe of a destination whose
 * window ended with nothing due (dispatch.c, ask_probes). */
void store_outbox_hasten(struct store *s, const struct store_channel_url *chs, size_t count,
                         int64_t now_ms, bool is_first_only);

/* Called on the writer thread right after a batch committed, with the notifications its jobs
 * added due at once (is_due_now): they are stored leased until lease_until_ms, so no claim takes
 * them meanwhile, and are the callee's to send or give back (store_outbox_record, is_deferred)
 * and to free with store_claims_free. This spares the claim, a second write of each row, on
 * the hot path; a crash leaves them leased, and the next server voids the leases at start. Must
 * not block. Each comes with its url and body taken from the budget, or, when the budget had no
 * room for it (or has_waiting), with neither: the callee claims it by id later. */
typedef void store_handoff_fn(void *arg, struct store_claim *claims, size_t count);
/* Registers the hand-off (NULL: none; rows due at once then wait for a claim as usual) and its
 * byte budget (borrowed until the hand-off is replaced; NULL: bodies without limit). Only for
 * the process that runs the dispatcher. */
void store_outbox_handoff(struct store *s, store_handoff_fn *fn, void *arg, int64_t lease_ms,
                          struct store_budget *budget);

/* The outcome of one attempt. */
struct store_attempt {
    int64_t notification_id;
    int64_t org_id;
    int64_t channel_id;
    int64_t started_at_ms;
    int64_t duration_ms;
    int http_status;      /* 0: no response */
    const char *error;    /* NULL or a short reason */
    const char *response; /* NULL or a prefix of the response body */
    enum store_ntf_status new_status;
    int64_t next_at_ms; /* when pending: the next attempt */
    bool is_gone;       /* 410: stop the channel's pending notifications to the same URL */
    bool is_deferred;   /* not attempted (destination busy or circuit open): only moves
                         * next_at_ms and releases the lease; no attempt is counted */
    bool is_first;      /* no attempt recorded before (!claim.has_attempt): spares the look for
                         * an earlier attempt to keep; false is always safe */
};

/* Records attempts (and their notifications' new state) in one writer job, asynchronously;
 * `done` runs after the commit (or the failure). `attempts` and their strings are borrowed until
 * then, not copied: the dispatcher keeps them to record them again when the store refused. */
void store_outbox_record(struct store *s, const struct store_attempt *attempts, size_t count,
                         store_done_fn *done, void *arg);
/* The earliest next_at_ms of a pending notification, or -1 when none is pending. */
int64_t store_outbox_next_due(struct store *s);

/* Delivery history: notifications as the admin API and `herald deliveries` show them. */

/* One attempt as recorded. Strings are owned by the enclosing struct store_ntf. */
struct store_ntf_attempt {
    int64_t started_at_ms;
    int64_t duration_ms;
    int http_status; /* 0: no response */
    char *error;     /* NULL or a short reason */
    char *response;  /* NULL or a prefix of the response body */
};

/* One notification with every attempt ever made for it, oldest first. Free with store_ntf_fini
 * (or store_ntf_list_free for a list). */
struct store_ntf {
    int64_t id;
    int64_t org_id;
    int64_t channel_id;
    int64_t module_id;
    int64_t change_id;
    char *operation; /* "insert", "update", "delete" */
    char *url;       /* notify URL as given */
    char *body;      /* the stored body (after `{"server_time":N,`); NULL in lists */
    enum store_ntf_status status;
    int round_attempts; /* attempts in the current retry round (a resend restarts it) */
    int64_t next_at_ms; /* pending: when the next attempt is due */
    bool is_in_flight;  /* pending and leased to the dispatcher now */
    int64_t created_at_ms;
    int64_t updated_at_ms; /* the last state change: delivery, failure, resend */
    int last_status;       /* HTTP status of the last attempt, 0 when none */
    char *last_error;
    struct store_ntf_attempt *attempts;
    size_t attempt_count;
};

/* Which notifications to list; every bound is optional. Newest first (by id). */
struct store_ntf_filter {
    int64_t org_id;
    int64_t channel_id; /* 0: every channel */
    bool has_status;
    enum store_ntf_status status;
    int64_t since_ms;  /* created_at_ms >= since_ms; INT64_MIN: no bound */
    int64_t until_ms;  /* created_at_ms < until_ms; INT64_MAX: no bound */
    int64_t before_id; /* id < before_id (the page cursor); 0: no bound */
    size_t limit;      /* rows wanted, at most STORE_NTF_LIST_MAX */
};

#define STORE_NTF_LIST_MAX 1024

/* Lists notifications matching `f` with their attempts, from one consistent snapshot (a reader;
 * never waits for the writer). Caller frees with store_ntf_list_free. HERALD_OK (possibly zero
 * rows), HERALD_ERR_INVALID when f->limit is 0 or above STORE_NTF_LIST_MAX, HERALD_ERR_STORE. */
enum herald_err store_outbox_list(struct store *s, const struct store_ntf_filter *f,
                                  struct store_ntf **out, size_t *count);
/* Reads one notification of the organization, body and attempts included. Caller frees with
 * store_ntf_fini. HERALD_ERR_NOT_FOUND (also for another organization's), HERALD_ERR_STORE. */
enum herald_err store_outbox_get(struct store *s, int64_t org_id, int64_t id,
                                 struct store_ntf *out);
void store_ntf_fini(struct store_ntf *n);
void store_ntf_list_free(struct store_ntf *list, size_t count);

/* Makes one notification pending and due at now_ms, restarting its retry round (attempts in
 * the round = 0; the recorded attempts are kept). Works on failed, delivered and waiting-pending
 * notifications; the webhook-id stays the same. The caller wakes the dispatcher after commit.
 * HERALD_OK, HERALD_ERR_NOT_FOUND, HERALD_ERR_DENIED when an attempt is in flight right now
 * (its lease is live: resending would send a second concurrent copy), HERALD_ERR_STORE. */
enum herald_err store_txn_notification_resend(struct store_txn *t, int64_t org_id, int64_t id,
                                              int64_t now_ms);
/* Resends, as above, up to `limit` failed notifications of one channel created at or after
 * since_ms and failed before failed_before_ms (pass the time the whole operation began, so rows
 * that fail again meanwhile are not picked twice). *count gets how many; a caller resending
 * "all" repeats the job while *count == limit, keeping each transaction small. */
enum herald_err store_txn_notifications_resend_failed(struct store_txn *t, int64_t org_id,
                                                      int64_t channel_id, int64_t since_ms,
                                                      int64_t failed_before_ms, int64_t now_ms,
                                                      size_t limit, size_t *count);
/* One round of pruning, in one writer job (waits for its commit): looks at the next `limit`
 * notifications of a sweep over them in id order and deletes, with their attempts, the
 * delivered ones last updated before before_ms; and deletes up to `limit` of the oldest change
 * events created before it. Failed and pending notifications are never pruned. The newest
 * notification and change are always kept, so SQLite never reuses a pruned id (notification
 * ids are the webhook-id subscribers deduplicate on). *deleted gets the number of rows deleted;
 * *has_more whether the sweep or the changes have more to look at now. HERALD_OK or
 * HERALD_ERR_STORE / HERALD_ERR_SHUTDOWN. */
enum herald_err store_outbox_prune(struct store *s, int64_t before_ms, size_t limit,
                                   size_t *deleted, bool *has_more);

/* Makes every leased pending notification due at once. Only for the process that runs the
 * dispatcher, before starting it: one server owns a SQLite database, so leases found at its
 * start were left by a crash. Never call it from a tool that may run beside a server (voiding
 * a live lease lets a second copy go out while the first is in flight). HERALD_OK or ERR_STORE. */
enum herald_err store_outbox_leases_void(struct store *s);

/* The area's ops table. */
struct store_outbox_ops {
    enum herald_err (*change_add)(struct store_txn *t, int64_t org_id, int64_t module_id,
                                  const char *operation, const char *request_id,
                                  const char *records_json, int64_t at_ms, int64_t *id_out);
    enum herald_err (*notification_add)(struct store_txn *t, const struct store_outbox_row *row,
                                        int64_t *id_out);
    void (*claim)(struct store *s, int64_t now_ms, int64_t lease_ms, size_t limit, size_t max_bytes,
                  bool may_exceed, const int64_t *exclude, size_t exclude_count,
                  store_claim_done_fn *done, void *arg);
    void (*claim_ids)(struct store *s, const int64_t *ids, size_t count, int64_t now_ms,
                      int64_t lease_ms, store_claim_done_fn *done, void *arg);
    void (*record)(struct store *s, const struct store_attempt *attempts, size_t count,
                   store_done_fn *done, void *arg);
    void (*defer)(struct store *s, const struct store_channel_url *chs, size_t count,
                  int64_t now_ms, int64_t until_ms);
    void (*hasten)(struct store *s, const struct store_channel_url *chs, size_t count,
                   int64_t now_ms, bool is_first_only);
    void (*handoff)(struct store *s, store_handoff_fn *fn, void *arg, int64_t lease_ms,
                    struct store_budget *budget);
    int64_t (*next_due)(struct store *s);
    enum herald_err (*list)(struct store *s, const struct store_ntf_filter *f,
                            struct store_ntf **out, size_t *count);
    enum herald_err (*get)(struct store *s, int64_t org_id, int64_t id, struct store_ntf *out);
    enum herald_err (*resend)(struct store_txn *t, int64_t org_id, int64_t id, int64_t now_ms);
    enum herald_err (*resend_failed)(struct store_txn *t, int64_t org_id, int64_t channel_id,
                                     int64_t since_ms, int64_t failed_before_ms, int64_t now_ms,
                                     size_t limit, size_t *count);
    enum herald_err (*prune)(struct store *s, int64_t before_ms, size_t limit, size_t *deleted,
                             bool *has_more);
    enum herald_err (*leases_void)(struct store *s);
};

#endif
