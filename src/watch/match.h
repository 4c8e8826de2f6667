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
    char *url;             /* the channel's notify_url as given; owned */
    char *body;            /* the callback JSON after `{"server_time":N,` up to the closing
                            * brace, keys in Zoho's order; owned */
};

/* The events of one request: at most one per operation (an upsert has an insert and an update). */
#define WATCH_MATCH_MAX_EVENTS 3

/* Finds every live channel (not expired at now_s) that the events of one API request match
 * (evs: ev_count <= WATCH_MATCH_MAX_EVENTS events of one organization and module, each with its
 * records in request order), with conditions (edit only) and related actions (contract §4.8),
 * one delivery per (channel, module, operation) with ids in request order: the records that the
 * events look up are gathered across all of them, so an upsert's inserts and updates give one
 * related-action callback per channel. api_domain is the base of resource_uri. Caller frees *out
 * with watch_deliveries_free. Returns HERALD_OK (possibly with *count 0). */
enum herald_err watch_match(const struct watch_index *ix, const struct change_event *evs,
                            size_t ev_count, int64_t now_s, const char *api_domain,
                            struct watch_delivery **out, size_t *count);
void watch_deliveries_free(struct watch_delivery *d, size_t count);

#endif
