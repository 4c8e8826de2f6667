/* The callback body Zoho sends to a notify URL (reference §5.2, contract §5), rendered straight
 * into bytes with the keys in Zoho's order: server_time, affected_values (only when the channel
 * asked for them), query_params, module, resource_uri, ids, affected_fields, operation,
 * channel_id, token. The stored body leaves server_time out: it is the text that follows
 * `{"server_time":N,`, and the dispatcher writes that prefix at send time. Pure: no clock, no
 * store. */
#ifndef HERALD_WATCH_PAYLOAD_H
#define HERALD_WATCH_PAYLOAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "watch/change.h"

/* One record of a callback. */
struct watch_payload_record {
    int64_t id;
    /* Borrowed: the changed fields with their new values (update), every field set (insert), or
     * NULL for a record named by a related action (it changed no field of its own). */
    const json_t *values;
};

struct watch_payload {
    const char *notify_url;   /* as given; query_params come from it */
    const char *query_params; /* NULL, or watch_payload_query_params(notify_url) kept from before */
    const char *module;       /* module api_name */
    const char *api_domain;   /* base of resource_uri, no trailing '/' */
    enum change_op op;
    int64_t channel_id;
    const char *token;                          /* NULL renders null */
    bool has_values;                            /* return_affected_field_values */
    const struct watch_payload_record *records; /* in request order */
    size_t count;
};

/* Appends the body after `{"server_time":N,` to `out`, through the closing brace. Rules:
 * affected_fields lists per record the keys of `values` in their order on update ([] for a
 * related record), and is [] on insert and delete; affected_values holds per record
 * {"record_id","values"} with the values' keys in java.util.HashMap order (as every Zoho sample
 * shows; query_params too), {} for a related
 * record, and is [] on delete. Every pointer is borrowed. */
void watch_payload_render(const struct watch_payload *p, struct buf *out);

/* Appends the query_params object of a notify URL (the reference's §5.3 algorithm, keys in the
 * HashMap order above) to `out`. The index keeps it per channel, so a callback does not parse
 * the URL again. */
void watch_payload_query_params(const char *notify_url, struct buf *out);

#endif
