/* The in-memory index of live channels that the matcher consults: organization → module →
 * operation (create, edit, delete) → channel rows, plus organization → channel id. It holds
 * only what matching needs (notify URL, token, expiry, flags, events, compiled conditions), so
 * a channel costs a few hundred bytes.
 *
 * Threading: the index has no lock. It is built before the HTTP server starts and afterwards
 * touched only on the store's writer thread: by the watch API's jobs (which patch it in the same
 * job that writes the channel rows) and by the matcher (called from record jobs). Jobs run one
 * at a time, so readers and writers never overlap. Nothing else may call into it.
 *
 * An expired channel may linger here until the next purge or count, but it never matches and is
 * never counted as live. */
#ifndef HERALD_WATCH_INDEX_H
#define HERALD_WATCH_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meta/meta.h"

/* Event bits (the same values the store keeps). */
#define WATCH_EV_CREATE 1u
#define WATCH_EV_EDIT 2u
#define WATCH_EV_DELETE 4u
#define WATCH_EV_ALL 7u

struct watch_index;

/* One (channel, module) row, as stored. */
struct watch_index_row {
    const struct meta_module *module;
    unsigned events;       /* WATCH_EV_* bits */
    const char *condition; /* JSON text of the module's condition (GET shape) or NULL */
};

/* A channel with all its rows. Every pointer is borrowed. */
struct watch_index_channel {
    int64_t org_id;
    int64_t channel_id;
    int64_t expiry_s;
    const char *notify_url;
    const char *token; /* NULL when unset */
    bool notify_on_related;
    bool return_values;
    const struct watch_index_row *rows;
    size_t row_count;
};

/* A new, empty index; free with watch_index_free. */
struct watch_index *watch_index_new(void);
/* NULL is a no-op. */
void watch_index_free(struct watch_index *ix);
/* Forgets every channel (before a reload). */
void watch_index_clear(struct watch_index *ix);

/* Replaces what the index knows of ch->channel_id with `ch` (copied). A row with no events, or
 * whose condition does not parse any more (metadata changed), is skipped with a log line; a
 * channel left without rows is removed. */
void watch_index_put(struct watch_index *ix, const struct watch_index_channel *ch);
/* Removes a channel; unknown ids are ignored. */
void watch_index_remove(struct watch_index *ix, int64_t org_id, int64_t channel_id);
/* True when the organization has this channel and it is live at now_s. */
bool watch_index_has(const struct watch_index *ix, int64_t org_id, int64_t channel_id,
                     int64_t now_s);
/* Live channels of an organization at now_s. Drops the organization's expired channels on the
 * way when some may have expired, so repeated calls cost O(1) until the next expiry. */
size_t watch_index_live_count(struct watch_index *ix, int64_t org_id, int64_t now_s);
/* Drops every expired channel of every organization. Returns how many. */
size_t watch_index_purge(struct watch_index *ix, int64_t now_s);
/* Channels held (live or not yet dropped), for tests and logs. */
size_t watch_index_size(const struct watch_index *ix);

#endif
