/* Matching a change event against the live channels, and rendering each callback. Runs on the
 * writer thread inside the transaction of the change (the outbox rows commit with it). Cost
 * follows the channels that could match (org → module → operation), not all channels. */
#ifndef HERALD_WATCH_MATCH_H
#define HERALD_WATCH_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "watch/change.h"

struct watch_index;

/* One callback to send: the outbox row's content. */
struct watch_delivery {
    int64_t channel_id;
    int64_t module_id;     /* the callback's module (the related module for related actions) */
    const char *operation; /* static: "insert" | "update" | "delete" */
    size_t event;          /* index in evs of the event it reports (a related action: the first
                            * event that named the record) */
    const char *url;       /* the channel's notify_url as given */
    const char *body;      /* the callback JSON after `{"server_time":N,` up to the closing
                            * brace, keys in Zoho's order */
    size_t body_len;
};

/* Takes one delivery; url and body are only valid during the call. A failure stops the match. */
typedef enum herald_err watch_emit_fn(void *arg, const struct watch_delivery *d);

/* The events of one request: at most one per operation (an upsert has an insert and an update). */
#define WATCH_MATCH_MAX_EVENTS 3

/* Finds every live channel (not expired at now_s) that the events of one API request match
 * (evs: ev_count <= WATCH_MATCH_MAX_EVENTS events of one organization and module, each with its
 * records in request order), with conditions (edit only) and related actions (contract §4.8),
 * one delivery per (channel, module, operation) with ids in request order: the records that the
 * events look up are gathered across all of them, so an upsert's inserts and updates give one
 * related-action callback per channel. api_domain is the base of resource_uri. Each delivery is
 * rendered and given to `emit` in turn, then freed, so a fan-out holds one body at a time (a
 * 100-record callback with affected values is about 1 MB, once per channel). Returns HERALD_OK
 * or the first error emit returned. */
enum herald_err watch_match_each(const struct watch_index *ix, const struct change_event *evs,
                                 size_t ev_count, int64_t now_s, const char *api_domain,
                                 watch_emit_fn *emit, void *emit_arg);

/* The same, every delivery collected into *out (url and body owned; for tests). Caller frees
 * *out with watch_deliveries_free. */
enum herald_err watch_match(const struct watch_index *ix, const struct change_event *evs,
                            size_t ev_count, int64_t now_s, const char *api_domain,
                            struct watch_delivery **out, size_t *count);
void watch_deliveries_free(struct watch_delivery *d, size_t count);

#endif
