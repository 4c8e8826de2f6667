/* The pure decisions behind the records API: checking one data[] element against its module's
 * fields, the Deals stage→probability rule, which fields an update really changes, and a
 * record's display name. No sockets, no store: JSON in, JSON out, so all of it is unit tested. */
#ifndef HERALD_API_RECORDS_LOGIC_H
#define HERALD_API_RECORDS_LOGIC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meta/meta.h"

/* The top-level key naming the module a record's "Related To" lookup (What_Id, a field with
 * has_se_module) looks up, as Zoho writes and shows it. Stored in the record's data only when
 * it is not the field's own module (Accounts), so records written before it stay as they were. */
#define RECORDS_SE_MODULE "$se_module"

/* At most this many lookups one record may hold (a module has a handful of lookup fields). */
#define RECORDS_MAX_LOOKUPS 16

/* A lookup value given in a request, to be checked against the store inside the job. */
struct records_lookup_ref {
    const struct meta_field *field;
    const struct meta_module *target;
    int64_t id;
};

/* What a data[] element asks for, after checking. */
struct records_input {
    json_t *values;                /* api_name → normalized value, in request order; owned */
    int64_t owner_id;              /* Owner given as {"id"}; 0 when not given */
    const char *missing_mandatory; /* first mandatory field absent (static), or NULL */
    struct records_lookup_ref lookups[RECORDS_MAX_LOOKUPS];
    size_t lookup_count;
};

void records_input_fini(struct records_input *in);

enum records_mode {
    RECORDS_INSERT, /* mandatory fields must be present */
    RECORDS_UPDATE, /* nothing is mandatory; a mandatory field may not be set to null/"" */
    RECORDS_UPSERT, /* mandatory presence is decided later (only if it becomes an insert); nulls
                     * are kept for records_upsert_as */
};

/* Checks element `index` of data[] for `module`: unknown field → INVALID_DATA "the field api
 * name given seems to be invalid"; a value not of the field's type, too long or outside its
 * picklist → INVALID_DATA with expected_data_type / maximum_length / supported_values; a
 * mandatory field missing on insert → MANDATORY_NOT_FOUND. Read-only fields (system fields,
 * "id", keys starting with '$') are ignored. Values are normalized as stored (lookups to their
 * id, bigint strings to numbers, date-times into the display zone, a multiselect's repeated
 * options dropped, the first kept). A "Related To" lookup (What_Id) given a value looks up the
 * module the element's "$se_module" names (INVALID_DATA naming "$se_module" when that is not
 * a string naming one of meta_se_module's), or its own without one; the values then hold
 * RECORDS_SE_MODULE: that module's name, or null (outside inserts) when it is the field's own
 * or the lookup is cleared. Fills *out and returns NULL, or returns the per-record error
 * object (new reference) with json_path "$.data[index].Field". */
json_t *records_check(const struct meta_module *module, const json_t *element, size_t index,
                      enum records_mode mode, struct records_input *out);

/* The same for an element of another array (users[] of the users API): json_path names it. */
json_t *records_check_in(const struct meta_module *module, const json_t *element, const char *array,
                         size_t index, enum records_mode mode, struct records_input *out);

/* The module field `f` of a record's `data` (stored fields, or checked values) looks up: for a
 * "Related To" lookup the one data's RECORDS_SE_MODULE names, else (and when it names none)
 * f->lookup. */
const struct meta_module *records_lookup_module(const struct meta_field *f, const json_t *data);

/* An upsert's values once it knows what it does: an update clears the fields given null (a
 * checkbox unchecks), an insert has nothing to clear and leaves them out. */
void records_upsert_as(const struct meta_module *module, json_t *values, bool is_update);

/* Deals: when `values` sets Stage but not Probability, adds Probability from the stage mapping
 * (appended after the request's fields). Returns true when it added it. */
bool records_derive(const struct meta_module *module, json_t *values);

/* Deals' read-only Expected_Revenue as Zoho computes it: Amount × Probability / 100, rounded to
 * cents (an integer when whole), from a record's stored fields. NULL when either is unset.
 * New reference. */
json_t *records_expected_revenue(const json_t *data);

/* True when two stored field values are the same: numbers compare by value whatever their JSON
 * type (5 == 5.0), lookups and owners by id, arrays (multiselect values, sets of options) as
 * sets: the same size and every element of each in the other, in any order; null equals an
 * absent value. Arrays of different sizes are unequal at once; equal sizes cost size² element
 * comparisons, which a checked request value bounds by its picklist (records_check drops
 * repeated options). */
bool records_value_equal(const json_t *a, const json_t *b);

/* Renders the date-time fields of a stored record's `data` (borrowed, changed in place) in the
 * display zone again. They were stored rendered in the zone of their write, and --timezone may
 * have changed since: only then do they compare with a request's (normalized) values by
 * instant, as GET shows them. Values that are not date-times are left as they are. */
void records_rezone(const struct meta_module *module, json_t *data);

/* The fields of `values` whose value differs from `old_data`'s, in `values`' order (new
 * reference; empty object when nothing changes). */
json_t *records_changed(const json_t *old_data, const json_t *values);

/* What a change event says a record's fields became: `values` (borrowed) without the fields
 * Zoho's callbacks ignore (meta_field_is_notified: Product_Details, Participants) and without
 * RECORDS_SE_MODULE (no field: a move shows as its What_Id), so they are
 * in neither affected_fields nor affected_values; an update that changes only them notifies
 * with no field. New reference (the same object, referenced again, in a module without such
 * fields). */
json_t *records_notified(const struct meta_module *module, json_t *values);

/* Applies `changed` onto `old_data` (both borrowed): a null value removes the field. New
 * reference. */
json_t *records_merge(const json_t *old_data, const json_t *changed);

/* The name a lookup to this record shows: "First Last" for modules with Last_Name, else the
 * module's name field. Caller frees. Never NULL. */
char *records_display_name(const struct meta_module *module, const json_t *data);

/* An error with details {"api_name", "json_path":"$.array[index].api_name"}. New reference. */
json_t *records_field_error(const char *code, const char *message, const char *array,
                            const char *api_name, size_t index);

/* Per-record errors with details {"api_name", "json_path":"$.data[index].api_name"}: Zoho's
 * MANDATORY_NOT_FOUND "required field not found" and INVALID_DATA "invalid data". New
 * references. */
json_t *records_mandatory_error(const char *api_name, size_t index);
json_t *records_invalid_error(const char *api_name, size_t index);

/* The field upsert checks for duplicates when the request gives no duplicate_check_fields
 * (Leads and Contacts: Email; Accounts: Account_Name; ...), or NULL when the module has none. */
const struct meta_field *records_default_duplicate_field(const struct meta_module *module);

#endif
