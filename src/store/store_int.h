/* The ops table behind store.h, and the two objects every backend shares. A backend fills one
 * `struct store_ops`; store.c forwards the public calls to it. */
#ifndef HERALD_STORE_STORE_INT_H
#define HERALD_STORE_STORE_INT_H

#include "store/store.h"

/* Each area of the store has its own ops table, declared in its header's *_int section. */
struct store_record_ops;  /* store/records.h: records (issue 3) */
struct store_channel_ops; /* store/channels.h: watch channels (issue 4) */
struct store_outbox_ops;  /* store/outbox.h: changes, notifications, attempts */

struct store_ops {
    const char *name;
    const struct store_record_ops *records;
    const struct store_channel_ops *channels;
    const struct store_outbox_ops *outbox;
    void (*free)(struct store *s);
    void (*submit)(struct store *s, store_job_fn *fn, void *arg, store_done_fn *done,
                   bool is_plain);
    void (*on_commit)(struct store *s, store_commit_fn *fn, void *arg);
    int64_t (*id_next)(struct store *s);
    int64_t (*default_org)(struct store *s);
    enum herald_err (*org_get)(struct store *s, int64_t org_id, struct store_org *out);
    enum herald_err (*org_rotate_secret)(struct store *s, int64_t org_id, int64_t grace_s,
                                         size_t *cut_out);
    enum herald_err (*token_create)(struct store *s, int64_t org_id, const char *name,
                                    const char *scopes, const char *hash_hex, int64_t *id_out);
    enum herald_err (*token_find)(struct store *s, const char *hash_hex, struct store_token *out);
    enum herald_err (*token_list)(struct store *s, int64_t org_id, struct store_token **out,
                                  size_t *count);
    enum herald_err (*token_revoke)(struct store *s, int64_t org_id, int64_t token_id);
    void (*token_mark)(struct store *s, struct store_token_mark *out);
    enum herald_err (*user_get)(struct store *s, int64_t org_id, int64_t user_id,
                                struct store_user *out);
    enum herald_err (*user_list)(struct store *s, int64_t org_id, size_t offset, size_t limit,
                                 struct store_user **out, size_t *count);
};

struct store {
    const struct store_ops *ops;
};

struct store_txn {
    const struct store_ops *ops;
    struct store *store;
};

/* Opens the SQLite backend. */
enum herald_err store_sqlite_open(const char *path, struct store **out);

#endif
