/* The transactional outbox: change events and the notifications they matched, written in the
 * same transaction as the record change; and the dispatcher's side: claiming due notifications
 * under a lease and recording each attempt's outcome. */
#ifndef HERALD_STORE_OUTBOX_H
#define HERALD_STORE_OUTBOX_H

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
    const char *url;  /* notify URL as given */
    const char *body; /* callback body after `{"server_time":N,` (borrowed) */
    int64_t next_at_ms;
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
    int attempts; /* attempts made before this one */
    char *url;
    char *body;
};

/* Claims up to `limit` pending notifications due at now_ms whose lease has expired, leasing them
 * until now_ms + lease_ms, skipping the channels in exclude[] (borrowed; their destination is
 * saturated or its circuit is open). Caller frees with store_claims_free. */
enum herald_err store_outbox_claim(struct store *s, int64_t now_ms, int64_t lease_ms, size_t limit,
                                   const int64_t *exclude, size_t exclude_count,
                                   struct store_claim **out, size_t *count);
void store_claims_free(struct store_claim *claims, size_t count);

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
    bool is_gone;       /* 410: disable the channel and stop its pending notifications */
    bool is_deferred;   /* not attempted (destination busy or circuit open): only moves
                         * next_at_ms and releases the lease; no attempt is counted */
};

/* Records attempts (and their notifications' new state) in one writer job, asynchronously;
 * `done` (may be NULL) runs after the commit. Strings are copied before returning. */
void store_outbox_record(struct store *s, const struct store_attempt *attempts, size_t count,
                         store_done_fn *done, void *arg);
/* The earliest next_at_ms of a pending notification, or -1 when none is pending. */
int64_t store_outbox_next_due(struct store *s);
/* Counts notifications by status for an organization (tests, admin API). */
enum herald_err store_outbox_count(struct store *s, int64_t org_id, enum store_ntf_status status,
                                   int64_t *count);

/* The area's ops table. */
struct store_outbox_ops {
    enum herald_err (*change_add)(struct store_txn *t, int64_t org_id, int64_t module_id,
                                  const char *operation, const char *request_id,
                                  const char *records_json, int64_t at_ms, int64_t *id_out);
    enum herald_err (*notification_add)(struct store_txn *t, const struct store_outbox_row *row,
                                        int64_t *id_out);
    enum herald_err (*claim)(struct store *s, int64_t now_ms, int64_t lease_ms, size_t limit,
                             const int64_t *exclude, size_t exclude_count, struct store_claim **out,
                             size_t *count);
    void (*record)(struct store *s, const struct store_attempt *attempts, size_t count,
                   store_done_fn *done, void *arg);
    int64_t (*next_due)(struct store *s);
    enum herald_err (*count)(struct store *s, int64_t org_id, enum store_ntf_status status,
                             int64_t *count);
};

#endif
