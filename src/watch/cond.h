/* Notification conditions: one `notification_condition[]` element compiled into a small tree of
 * and/or groups over field leaves (field ids resolved against the module's metadata), evaluated
 * against the set of fields an update changed without touching JSON, and rendered back in the
 * shape Zoho's GET shows. It decides nothing about which events a condition applies to (edit
 * only: that is the matcher's rule). Invariant: a tree has 1..WATCH_COND_MAX_LEAVES leaves and
 * every group has 1..2 entries. */
#ifndef HERALD_WATCH_COND_H
#define HERALD_WATCH_COND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "meta/meta.h"

#define WATCH_COND_MAX_LEAVES 10 /* fields per condition "irrespective of grouping" */
#define WATCH_COND_MAX_GROUP 2   /* entries per `group` array */
#define WATCH_COND_MAX_NODES 32  /* leaves and groups together: bounds nesting of 1-entry groups */

struct watch_cond;

/* Parses one notification_condition element. `path` is its JSON path for error details
 * ("$.watch[0].notification_condition[1]"). Returns NULL and sets *out (free with
 * watch_cond_free), or returns the Zoho error object (new reference) naming the first problem,
 * in this order: not an object; field_selection without type (DEPENDENT_FIELD_MISSING); type,
 * module, field_selection missing (MANDATORY_NOT_FOUND); type not "field_selection"; module
 * (EXPECTED_FIELD_MISSING, INVALID_DATA, AMBIGUITY_DURING_PROCESSING); then the groups in
 * document order: group_operator / group / field missing, bad operator, more than 2 entries in a
 * group, more than 10 fields, unknown or ambiguous field. The GET shape (leaves carrying
 * "group_operator":null,"group":null) parses too, so stored conditions reload through here. */
json_t *watch_cond_parse(const json_t *elem, const char *path, struct watch_cond **out);

/* The module the condition is about (static metadata). */
const struct meta_module *watch_cond_module(const struct watch_cond *c);
/* Number of field leaves (1..10). */
size_t watch_cond_leaf_count(const struct watch_cond *c);

/* True when the condition holds for an update whose changed fields are `changed` (borrowed
 * array of field pointers of the condition's module, any order): a leaf is true when its field
 * is in the set; groups combine their entries with their operator. */
bool watch_cond_eval(const struct watch_cond *c, const struct meta_field *const *changed,
                     size_t count);

/* The condition as Zoho's GET shows it: {"field_selection":{"group_operator","group":[...]},
 * "module":{"api_name","id"},"type":"field_selection"}, leaves as {"field":{"api_name","id"},
 * "group_operator":null,"group":null}. New reference. */
json_t *watch_cond_render(const struct watch_cond *c);

/* NULL is a no-op. */
void watch_cond_free(struct watch_cond *c);

#endif
