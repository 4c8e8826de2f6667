/* Watch channels as stored: one row per (organization, channel, module), as Zoho reports them.
 * Every row of a channel carries the same channel-level values (notify URL, token, expiry,
 * flags); the watch API writes all of a channel's rows together. An expired row is treated as
 * absent by every read here; store_txn_channel_purge removes expired rows for good. This layer
 * checks nothing: validation happens in watch/channel.c. */
#ifndef HERALD_STORE_CHANNELS_H
#define HERALD_STORE_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Event bits of a row. */
#define STORE_CHANNEL_CREATE 1u
#define STORE_CHANNEL_EDIT 2u
#define STORE_CHANNEL_DELETE 4u

/* A channel row. Strings are owned (free with store_channel_fini) when the row comes from a
 * store call, and borrowed when the caller passes it in to a write. */
struct store_channel {
    int64_t org_id;
    int64_t channel_id;
    int64_t module_id;
    int64_t seq;      /* listing order: every row of a channel has its first subscription's */
    unsigned events;  /* STORE_CHANNEL_* bits, never 0 */
    char *notify_url; /* exactly as given */
    char *token;      /* NULL when unset */
    int64_t expiry_s; /* live while expiry_s > now */
    bool notify_on_related;
    bool return_values;
    char *condition; /* JSON object text of this module's notification_condition, or NULL */
    char *fields;    /* JSON text of `fields` as given, or NULL */
    int64_t created_at_s;
    int64_t updated_at_s;
};

void store_channel_fini(struct store_channel *c);
/* Frees every row and the array. NULL is a no-op. */
void store_channels_free(struct store_channel *rows, size_t count);

/* Called for every row by store_txn_channel_each; a non-zero return stops and is returned.
 * The row is the callee's to keep: it may take its strings (setting them NULL); what is left
 * is freed after the call. */
typedef enum herald_err store_channel_each_fn(void *arg, struct store_channel *row);

/* Inside a writer job. The live rows (expiry_s > now_s) of one channel, in module id order.
 * Caller frees with store_channels_free (also when *count is 0). HERALD_OK or ERR_STORE. */
enum herald_err store_txn_channel_rows(struct store_txn *t, int64_t org_id, int64_t channel_id,
                                       int64_t now_s, struct store_channel **out, size_t *count);
/* Inserts or replaces the row (org_id, channel_id, module_id) of `row` (borrowed). */
enum herald_err store_txn_channel_put(struct store_txn *t, const struct store_channel *row);
/* Removes every row of a channel, expired ones included. *removed (may be NULL) gets the
 * number of rows removed. HERALD_OK or ERR_STORE. */
enum herald_err store_txn_channel_remove(struct store_txn *t, int64_t org_id, int64_t channel_id,
                                         size_t *removed);
/* Calls fn for every live row of every organization, ordered by (org, channel, module). */
enum herald_err store_txn_channel_each(struct store_txn *t, int64_t now_s,
                                       store_channel_each_fn *fn, void *arg);
/* Reader (any thread): the same as store_txn_channel_each from one read snapshot, without the
 * writer. For start-up, so the channel index is built by the thread that starts the server. */
enum herald_err store_channel_each(struct store *s, int64_t now_s, store_channel_each_fn *fn,
                                   void *arg);
/* Deletes every row with expiry_s <= now_s. *removed (may be NULL) gets how many. */
enum herald_err store_txn_channel_purge(struct store_txn *t, int64_t now_s, size_t *removed);

/* Reader (any thread). Live rows of an organization ordered by (seq, channel, module), optionally
 * only one channel (channel_id != 0) or one module (module_id != 0), skipping `offset` rows and
 * returning at most `limit`. Caller frees with store_channels_free. HERALD_OK or ERR_STORE. */
enum herald_err store_channel_list(struct store *s, int64_t org_id, int64_t channel_id,
                                   int64_t module_id, int64_t now_s, size_t offset, size_t limit,
                                   struct store_channel **out, size_t *count);

/* The area's ops table. */
struct store_channel_ops {
    enum herald_err (*rows)(struct store_txn *t, int64_t org_id, int64_t channel_id, int64_t now_s,
                            struct store_channel **out, size_t *count);
    enum herald_err (*put)(struct store_txn *t, const struct store_channel *row);
    enum herald_err (*remove)(struct store_txn *t, int64_t org_id, int64_t channel_id,
                              size_t *removed);
    enum herald_err (*each)(struct store_txn *t, int64_t now_s, store_channel_each_fn *fn,
                            void *arg);
    enum herald_err (*each_read)(struct store *s, int64_t now_s, store_channel_each_fn *fn,
                                 void *arg);
    enum herald_err (*purge)(struct store_txn *t, int64_t now_s, size_t *removed);
    enum herald_err (*list)(struct store *s, int64_t org_id, int64_t channel_id, int64_t module_id,
                            int64_t now_s, size_t offset, size_t limit, struct store_channel **out,
                            size_t *count);
};

#endif
