/* Checking record input against module metadata, deriving Deals' Probability, and computing what
 * an update changes. Pure: no I/O, no globals beyond the metadata tables and the display zone
 * (--timezone) that date-times are rendered in. */
#include "api/records_logic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timefmt.h"
#include "core/xmalloc.h"
#include "core/zjson.h"

void records_input_fini(struct records_input *in)
{
    if (!in)
        return;
    json_decref(in->values);
    in->values = NULL;
}

static bool is_number(const json_t *v)
{
    return json_is_integer(v) || json_is_real(v);
}

/* The id of a lookup/owner value {"id": ...} (string or number), 0 when it is not one. */
static int64_t ref_id(const json_t *v)
{
    return json_is_object(v) ? zjson_id_value(json_object_get(v, "id")) : 0;
}

/* True when every element of `a` equals (records_value_equal) some element of `b`. */
static bool array_within(const json_t *a, const json_t *b)
{
    for (size_t i = 0; i < json_array_size(a); i++) {
        bool is_found = false;
        for (size_t k = 0; k < json_array_size(b) && !is_found; k++)
            is_found = records_value_equal(json_array_get(a, i), json_array_get(b, k));
        if (!is_found)
            return false;
    }
    return true;
}

bool records_value_equal(const json_t *a, const json_t *b)
{
    /* An unset checkbox reads as false (as in Zoho), so false and unset are the same value, as
     * are a multiselect with no option and unset: only boolean fields hold false, and only
     * multiselects arrays. */
    if (json_is_false(a) || (json_is_array(a) && json_array_size(a) == 0))
        a = NULL;
    if (json_is_false(b) || (json_is_array(b) && json_array_size(b) == 0))
        b = NULL;
    if (!a || json_is_null(a))
        return !b || json_is_null(b);
    if (!b || json_is_null(b))
        return false;
    if (is_number(a) && is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_is_object(a) && json_is_object(b) && json_object_get(a, "id") &&
        json_object_get(b, "id"))
        return ref_id(a) != 0 && ref_id(a) == ref_id(b);
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        /* Arrays of objects are line items or participants (META_ITEMS): a list, whose order
         * counts, of objects compared whole (a line item keeps its id when its quantity
         * changes). Sizes were compared first, so this costs one walk of both. */
        if (json_is_object(json_array_get(a, 0)) || json_is_object(json_array_get(b, 0)))
            return json_equal(a, b) != 0;
        /* Other arrays are multiselect values, sets of options in Zoho: the same options in
         * another order are no change. A request's value has no repeats (normalize) so it
         * holds at most the picklist's options, and only arrays of that size are compared
         * element by element. */
        return array_within(a, b) && array_within(b, a);
    }
    return json_equal(a, b) != 0;
}

void records_rezone(const struct meta_module *module, json_t *data)
{
    for (size_t i = 0; i < module->field_count; i++) {
        const struct meta_field *f = &module->fields[i];
        json_t *v = json_object_get(data, f->api_name);
        int64_t epoch_s;
        if (f->type != META_DATETIME || !json_is_string(v) ||
            time_parse_iso8601(json_string_value(v), &epoch_s))
            continue;
        char text[TIME_ISO_MAX];
        time_format_local(epoch_s, text);
        json_object_set_new(data, f->api_name, json_string(text));
    }
}

json_t *records_changed(const json_t *old_data, const json_t *values)
{
    json_t *changed = json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)values, key, v)
    {
        if (!records_value_equal(json_object_get(old_data, key), v))
            json_object_set(changed, key, v);
    }
    return changed;
}

json_t *records_notified(const struct meta_module *module, json_t *values)
{
    /* Most modules: nothing to look up per create. */
    if (!module->has_unnotified && !json_object_get(values, RECORDS_SE_MODULE))
        return json_incref(values);
    json_t *out = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(values, key, v)
    {
        const struct meta_field *f = meta_field_by_name(module, key);
        if (strcmp(key, RECORDS_SE_MODULE) != 0 && (!f || meta_field_is_notified(f)))
            json_object_set(out, key, v);
    }
    return out;
}

json_t *records_merge(const json_t *old_data, const json_t *changed)
{
    json_t *merged = json_is_object(old_data) ? json_copy((json_t *)old_data) : json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)changed, key, v)
    {
        if (json_is_null(v))
            json_object_del(merged, key);
        else
            json_object_set(merged, key, v);
    }
    return merged;
}

/* The error objects a record check produces. */
json_t *records_field_error(const char *code, const char *message, const char *array,
                            const char *api_name, size_t index)
{
    char path[192];
    snprintf(path, sizeof path, "$.%s[%zu].%.128s", array, index, api_name);
    return zjson_error(code, message, zjson_field(api_name, path));
}

json_t *records_mandatory_error(const char *api_name, size_t index)
{
    return records_field_error("MANDATORY_NOT_FOUND", "required field not found", "data", api_name,
                               index);
}

json_t *records_invalid_error(const char *api_name, size_t index)
{
    return records_field_error("INVALID_DATA", "invalid data", "data", api_name, index);
}

static bool is_ignored_key(const struct meta_field *f, const char *key)
{
    /* "id" is the record's address, "$..." keys are Zoho's own annotations ($approval_state,
     * $se_module), and read-only fields are computed here: all are accepted and ignored. */
    return strcmp(key, "id") == 0 || key[0] == '$' || (f && f->is_read_only);
}

/* A multiselect value without repeated options: the first occurrence of each stays, in the
 * order sent. Options are marked seen by their picklist index, so a request of many repeats
 * costs at most the picklist's length per element, and the walk stops once every option is in.
 * `v` was checked (meta_value_problem): an array of the picklist's values. New reference. */
static json_t *distinct_options(const struct meta_field *f, json_t *v)
{
    if (!json_is_array(v) || !f->picklist_len)
        return json_incref(v);
    bool *seen = xcalloc(f->picklist_len, sizeof *seen);
    json_t *out = json_array();
    size_t n = json_array_size(v);
    for (size_t i = 0; i < n && json_array_size(out) < f->picklist_len; i++) {
        json_t *option = json_array_get(v, i);
        long k = meta_picklist_index(f, json_string_value(option));
        if (k < 0 || seen[k])
            continue;
        seen[k] = true;
        json_array_append(out, option);
    }
    free(seen);
    return out;
}

/* An id given as a JSON integer, as the string Zoho shows ids as; anything else as it is.
 * New reference. */
static json_t *id_string(json_t *v)
{
    if (json_is_integer(v) && json_integer_value(v) > 0)
        return zjson_id(json_integer_value(v));
    return json_incref(v);
}

/* An array of objects (checked by meta_value_problem) as sent, but with its ids as strings: each
 * element's "id", the "id" of the objects it holds (a line item's product {"id","name"}, its
 * price book), and a participant's "participant" (the id of the contact, lead or user).
 * New reference. */
static json_t *items_with_string_ids(json_t *v)
{
    json_t *out = json_array();
    size_t i;
    json_t *elem;
    json_array_foreach(v, i, elem)
    {
        json_t *copy = json_object();
        const char *key;
        json_t *value;
        json_object_foreach(elem, key, value)
        {
            json_t *shown;
            if (strcmp(key, "id") == 0 || strcmp(key, "participant") == 0) {
                shown = id_string(value);
            } else if (json_is_object(value) && json_object_get(value, "id")) {
                shown = json_copy(value);
                json_object_set_new(shown, "id", id_string(json_object_get(value, "id")));
            } else {
                shown = json_incref(value);
            }
            json_object_set_new(copy, key, shown);
        }
        json_array_append_new(out, copy);
    }
    return out;
}

/* A value as stored: lookups keep only their id (as a string), "" becomes null, bigint strings
 * become integers, a multiselect keeps each option once, line items and participants show
 * their ids as strings. New reference. */
static json_t *normalize(const struct meta_field *f, json_t *v)
{
    if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
        return json_null();
    switch (f->type) {
    case META_LOOKUP:
    case META_OWNERLOOKUP:
        return json_pack("{s:o}", "id", zjson_id(ref_id(v)));
    case META_BIGINT:
        if (json_is_string(v))
            return json_integer(strtoll(json_string_value(v), NULL, 10));
        return json_incref(v);
    case META_DATETIME: {
        /* Rendered in --timezone like every date-time Herald writes ("...Z" from the Node SDK
         * becomes "+05:30" in Asia/Kolkata): callbacks' affected_values and GET show one form,
         * and the same instant given with another offset is not a change. */
        int64_t epoch_s;
        if (!json_is_string(v) || time_parse_iso8601(json_string_value(v), &epoch_s))
            return json_incref(v);
        char text[TIME_ISO_MAX];
        time_format_local(epoch_s, text);
        return json_string(text);
    }
    case META_MULTISELECT:
        return distinct_options(f, v);
    case META_ITEMS:
        return items_with_string_ids(v);
    default:
        return json_incref(v);
    }
}

static json_t *problem_error(const struct meta_field *f, const json_t *value, enum meta_problem p,
                             const char *expected, const char *array, size_t index)
{
    if (p == META_VALUE_MISSING)
        return records_field_error("MANDATORY_NOT_FOUND", "required field not found", array,
                                   f->api_name, index);
    json_t *e = records_field_error("INVALID_DATA", "invalid data", array, f->api_name, index);
    json_t *d = json_object_get(e, "details");
    if (f->type == META_ITEMS && p == META_VALUE_WRONG_TYPE && json_is_array(value)) {
        /* An array whose element k is not an object: the path names that element. */
        size_t k = 0;
        while (k < json_array_size(value) && json_is_object(json_array_get(value, k)))
            k++;
        char path[224];
        snprintf(path, sizeof path, "%s[%zu]", json_string_value(json_object_get(d, "json_path")),
                 k);
        json_object_set_new(d, "json_path", json_string(path));
        expected = "jsonobject";
    }
    if (p == META_VALUE_TOO_LONG && f->type == META_ITEMS)
        json_object_set_new(d, "maximum_length", json_integer(META_ITEMS_MAX));
    else if (p == META_VALUE_TOO_LONG)
        json_object_set_new(d, "maximum_length", json_integer(f->length));
    else
        json_object_set_new(d, "expected_data_type",
                            json_string(expected ? expected : f->type_name));
    if (p == META_VALUE_NOT_IN_LIST) {
        json_t *list = json_array();
        for (size_t i = 0; i < f->picklist_len; i++)
            json_array_append_new(list, json_string(f->picklist[i]));
        json_object_set_new(d, "supported_values", list);
    }
    return e;
}

json_t *records_check(const struct meta_module *module, const json_t *element, size_t index,
                      enum records_mode mode, struct records_input *out)
{
    return records_check_in(module, element, "data", index, mode, out);
}

json_t *records_check_in(const struct meta_module *module, const json_t *element, const char *array,
                         size_t index, enum records_mode mode, struct records_input *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(element)) {
        char path[64];
        snprintf(path, sizeof path, "$.%.32s[%zu]", array, index);
        json_t *d = json_object();
        json_object_set_new(d, "expected_data_type", json_string("jsonobject"));
        json_object_set_new(d, "json_path", json_string(path));
        return zjson_error("INVALID_DATA", "invalid data", d);
    }
    out->values = json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)element, key, v)
    {
        const struct meta_field *f = meta_field_by_name(module, key);
        if (is_ignored_key(f, key))
            continue;
        if (!f) {
            records_input_fini(out);
            return records_field_error(
                "INVALID_DATA", "the field api name given seems to be invalid", array, key, index);
        }
        const char *expected = NULL;
        enum meta_problem p = meta_value_problem(f, v, &expected);
        if (p != META_VALUE_OK) {
            records_input_fini(out);
            return problem_error(f, v, p, expected, array, index);
        }
        json_t *value = normalize(f, v);
        if (json_is_null(value) &&
            (mode == RECORDS_INSERT || (mode == RECORDS_UPSERT && strcmp(key, "Owner") == 0))) {
            json_decref(value); /* nothing to clear in a new record; an upsert keeps the owner */
            continue;
        }
        if (json_is_null(value) && mode == RECORDS_UPSERT) {
            /* Kept as null until the upsert knows whether it clears (records_upsert_as). */
            json_object_set_new(out->values, key, value);
            if (f->has_se_module)
                json_object_set_new(out->values, RECORDS_SE_MODULE, json_null());
            continue;
        }
        if (json_is_null(value) && f->type == META_BOOLEAN) {
            json_decref(value);
            value = json_false(); /* a checkbox cleared is unchecked, as Zoho shows it */
        }
        if (json_is_null(value) && strcmp(key, "Owner") == 0) {
            /* Every record has an owner: it can be changed, not removed. */
            json_decref(value);
            records_input_fini(out);
            return records_field_error("MANDATORY_NOT_FOUND", "required field not found", array,
                                       key, index);
        }
        const struct meta_module *target = f->lookup;
        if (f->has_se_module && !json_is_null(value)) {
            const json_t *se = json_object_get(element, RECORDS_SE_MODULE);
            target = se ? meta_se_module(f, json_string_value(se)) : f->lookup;
            if (!target) {
                json_decref(value);
                records_input_fini(out);
                return records_field_error("INVALID_DATA", "invalid data", array, RECORDS_SE_MODULE,
                                           index);
            }
        }
        if (f->type == META_LOOKUP || f->type == META_OWNERLOOKUP) {
            if (!json_is_null(value)) {
                if (out->lookup_count == RECORDS_MAX_LOOKUPS) {
                    json_decref(value);
                    records_input_fini(out);
                    return records_field_error("INVALID_DATA", "invalid data", array, f->api_name,
                                               index);
                }
                struct records_lookup_ref *ref = &out->lookups[out->lookup_count++];
                ref->field = f;
                ref->target = target;
                ref->id = ref_id(v);
                if (strcmp(f->api_name, "Owner") == 0)
                    out->owner_id = ref->id;
            }
        }
        json_object_set_new(out->values, key, value);
        if (f->has_se_module && (target != f->lookup || mode != RECORDS_INSERT))
            json_object_set_new(out->values, RECORDS_SE_MODULE,
                                target != f->lookup ? json_string(target->api_name) : json_null());
    }
    for (size_t i = 0; i < module->field_count && mode != RECORDS_UPDATE; i++) {
        const struct meta_field *f = &module->fields[i];
        if (!f->is_mandatory || f->is_read_only || json_object_get(out->values, f->api_name))
            continue;
        if (mode == RECORDS_INSERT) {
            records_input_fini(out);
            return records_field_error("MANDATORY_NOT_FOUND", "required field not found", array,
                                       f->api_name, index);
        }
        out->missing_mandatory = f->api_name;
        break;
    }
    return NULL;
}

const struct meta_module *records_lookup_module(const struct meta_field *f, const json_t *data)
{
    const struct meta_module *m =
        meta_se_module(f, json_string_value(json_object_get(data, RECORDS_SE_MODULE)));
    return m ? m : f->lookup;
}

void records_upsert_as(const struct meta_module *module, json_t *values, bool is_update)
{
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(values, tmp, key, value)
    {
        if (!json_is_null(value))
            continue;
        if (!is_update) {
            json_object_del(values, key);
            continue;
        }
        const struct meta_field *f = meta_field_by_name(module, key);
        if (f && f->type == META_BOOLEAN)
            json_object_set_new(values, key, json_false()); /* as records_check_in on update */
    }
}

bool records_derive(const struct meta_module *module, json_t *values)
{
    if (strcmp(module->api_name, "Deals") != 0 || json_object_get(values, "Probability"))
        return false;
    json_t *stage = json_object_get(values, "Stage");
    if (!json_is_string(stage))
        return false;
    int p = meta_deal_stage_probability(json_string_value(stage));
    if (p < 0 || !meta_field_by_name(module, "Probability"))
        return false;
    json_object_set_new(values, "Probability", json_integer(p));
    return true;
}

json_t *records_expected_revenue(const json_t *data)
{
    const json_t *amount = json_object_get(data, "Amount");
    const json_t *probability = json_object_get(data, "Probability");
    if (!is_number(amount) || !is_number(probability))
        return NULL;
    /* Amount × Probability / 100 in currency units is Amount × Probability in cents. */
    double cents = round(json_number_value(amount) * json_number_value(probability));
    if (fmod(cents, 100) == 0 && fabs(cents) < 9e17)
        return json_integer((json_int_t)(cents / 100));
    return json_real(cents / 100);
}

static const char *str_field(const json_t *data, const char *key)
{
    const json_t *v = json_object_get(data, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

char *records_display_name(const struct meta_module *module, const json_t *data)
{
    const char *last =
        meta_field_by_name(module, "Last_Name") ? str_field(data, "Last_Name") : NULL;
    if (last) {
        const char *first = str_field(data, "First_Name");
        size_t n = strlen(last) + (first ? strlen(first) + 1 : 0) + 1;
        char *name = xmalloc(n);
        if (first && *first)
            snprintf(name, n, "%s %s", first, last);
        else
            snprintf(name, n, "%s", last);
        return name;
    }
    /* Otherwise the first mandatory text field names the record (Account_Name, Deal_Name,
     * Subject, ...), or a field called "Name" for modules without one. */
    for (size_t i = 0; i < module->field_count; i++) {
        const struct meta_field *f = &module->fields[i];
        if (f->is_mandatory && f->type == META_TEXT && str_field(data, f->api_name))
            return xstrdup(str_field(data, f->api_name));
    }
    const char *name = str_field(data, "Name");
    return xstrdup(name ? name : "");
}

/* Zoho's system-defined duplicate check fields, used by upsert when the request names none. */
static const struct {
    const char *module;
    const char *field;
} default_duplicate_fields[] = {
    {"Leads", "Email"},
    {"Contacts", "Email"},
    {"Accounts", "Account_Name"},
    {"Deals", "Deal_Name"},
    {"Campaigns", "Campaign_Name"},
    {"Products", "Product_Name"},
    {"Vendors", "Vendor_Name"},
    {"Price_Books", "Price_Book_Name"},
    {"Solutions", "Solution_Title"},
    {"Services__s", "Service_Name"},
};

const struct meta_field *records_default_duplicate_field(const struct meta_module *module)
{
    for (size_t i = 0; i < sizeof default_duplicate_fields / sizeof default_duplicate_fields[0];
         i++) {
        if (strcmp(default_duplicate_fields[i].module, module->api_name) == 0)
            return meta_field_by_name(module, default_duplicate_fields[i].field);
    }
    return NULL;
}
