/* The channel model and the validation of one `watch[]` item of a POST, PUT or PATCH on
 * /crm/{v}/actions/watch: JSON in, a checked item or Zoho's error object out (code, message and
 * details with json_path exactly as the reference and contract §4 give them). Pure: no store,
 * no DNS. Whether the channel exists, the channel limit and the notify URL's address check are
 * decided later by the API. */
#ifndef HERALD_WATCH_CHANNEL_H
#define HERALD_WATCH_CHANNEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/url.h"
#include "meta/meta.h"
#include "watch/cond.h"
#include "watch/index.h"

#define WATCH_MAX_ITEMS 50          /* watch[] entries per request */
#define WATCH_MAX_EVENTS 50         /* events per item */
#define WATCH_MAX_CONDITIONS 2      /* notification_condition items (Zoho's OAS: maxItems) */
#define WATCH_TOKEN_MAX_CHARS 50    /* token length in characters */
#define WATCH_URL_MAX_CHARS 255     /* notify_url length in characters (Zoho's OAS: maxLength) */
#define WATCH_DEFAULT_EXPIRY_S 3600 /* missing or too far: now + 1 hour */

enum watch_verb {
    WATCH_POST,  /* enable: create, or replace an existing channel */
    WATCH_PUT,   /* replace (create when unknown) */
    WATCH_PATCH, /* merge; with "_delete_events": true, remove the listed events */
};

/* One module named in `events`, with the events asked for it. */
struct watch_module_events {
    const struct meta_module *module;
    unsigned events; /* WATCH_EV_* bits */
};

/* A checked watch[] item. For POST and PUT every optional key has its default when absent
 * (expiry now + 1 h, token NULL, notify_on_related true, return_values false); for PATCH the
 * has_* flags say which keys were given. */
struct watch_item {
    int64_t channel_id;
    bool is_delete_events;                             /* PATCH with "_delete_events": true */
    struct watch_module_events mods[WATCH_MAX_EVENTS]; /* order of first mention */
    size_t mod_count;                                  /* 0 when events was not given */
    char *notify_url;                                  /* owned; NULL when not given */
    struct url_parts url;                              /* notify_url split (when given) */
    bool has_token;
    char *token; /* owned; NULL for none */
    bool has_expiry;
    int64_t expiry_s;
    bool has_related;
    bool notify_on_related;
    bool has_values;
    bool return_values;
    bool has_conditions;
    struct watch_cond *conds[WATCH_MAX_CONDITIONS]; /* owned; at most one per module */
    size_t cond_count;
    bool has_fields;
    char *fields; /* owned JSON text, NULL for null */
};

/* How to check: the verb, the API version segment ("v2" ... "v8") and the clock. */
struct watch_parse_ctx {
    enum watch_verb verb;
    const char *version;
    int64_t now_s;
};

/* Checks watch[index]. Returns NULL with *out filled (free with watch_item_fini), or the error
 * object for that item (new reference; *out is then empty). Mandatory keys are checked first
 * (events, channel_id, notify_url; PATCH on v2/v2.1 needs only channel_id; _delete_events needs
 * channel_id and events), then each key's type and value. */
json_t *watch_item_parse(const json_t *item, size_t index, const struct watch_parse_ctx *ctx,
                         struct watch_item *out);
/* Frees what the item owns. Safe on a zeroed item. */
void watch_item_fini(struct watch_item *it);

/* The condition of `it` about module m, or NULL. */
const struct watch_cond *watch_item_cond(const struct watch_item *it, const struct meta_module *m);

/* The farthest channel_expiry this version accepts, in seconds from now: 1 day on v2, v2.1 and
 * v3, 7 days later. */
int64_t watch_max_expiry_s(const char *version);

/* "Leads.edit" etc. for each event bit of `events`, in Zoho's order edit, create, delete,
 * appended to `arr`. */
void watch_events_render(const struct meta_module *m, unsigned events, json_t *arr);

#endif
