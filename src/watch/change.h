/* A change event: one API request's effect on one module, produced by the records and users APIs
 * inside the writer's transaction and consumed there by the matcher. It is the only thing the
 * notification engine knows about a mutation: nothing is re-derived from the records later. */
#ifndef HERALD_WATCH_CHANGE_H
#define HERALD_WATCH_CHANGE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "meta/meta.h"

enum change_op { CHANGE_INSERT, CHANGE_UPDATE, CHANGE_DELETE };

/* A record that the changed record looks up (for notify_on_related_action). */
struct change_lookup {
    const struct meta_module *module;
    int64_t id;
};

struct change_record {
    int64_t id;
    /* Position in the request (its data[] index): orders related actions across the events of
     * one request (an upsert's inserts and updates). */
    size_t request_index;
    /* Borrowed object api_name → new value, in the order the fields were set. INSERT: every field
     * the request set plus those Herald derived (Deals' Probability); UPDATE: only the fields whose
     * value changed (an update that changes nothing has an empty object); DELETE: empty. */
    json_t *values;
    /* Records this one looks up: after the change, plus (for UPDATE and DELETE) those it looked up
     * before, without duplicates. Borrowed. */
    struct change_lookup *lookups;
    size_t lookup_count;
};

struct change_event {
    int64_t org_id;
    const struct meta_module *module;
    enum change_op op;
    int64_t change_id;             /* row id of the stored change, set by api_publish_change */
    const char *request_id;        /* borrowed */
    struct change_record *records; /* borrowed, in request order */
    size_t count;
    int64_t at_ms;
};

/* "insert", "update" or "delete": the callback's `operation` and the stored change's. */
const char *change_op_name(enum change_op op);

#endif
