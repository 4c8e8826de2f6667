/* The CRM's modules and fields (data/modules.json, embedded at build), parsed once at start into
 * plain structs with indexed lookups, plus the pure checks of a value against its field's type.
 * It does not know records or the store: whether a lookup's target record exists is the caller's
 * question. Invariant: after meta_init the tables never change, so any thread may read them. */
#ifndef HERALD_META_META_H
#define HERALD_META_META_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

enum meta_type {
    META_TEXT,
    META_TEXTAREA,
    META_EMAIL,
    META_PHONE,
    META_WEBSITE,
    META_INTEGER,
    META_BIGINT,
    META_DOUBLE,
    META_CURRENCY,
    META_PERCENT,
    META_BOOLEAN,
    META_DATE,
    META_DATETIME,
    META_PICKLIST,
    META_MULTISELECT,
    META_LOOKUP,
    META_OWNERLOOKUP,
    /* An array of objects: the inventory modules' line items (Product_Details) and Events'
     * Participants. Its data_type is Zoho's, given in data/modules.json beside "json_type":
     * "jsonarray" ("lineitem", and "bigint" as Zoho's metadata names Participants'), so it is
     * recognised by that json_type, not by its data_type. Zoho's callbacks ignore these fields
     * ("the subforms, participants, and product_details fields will be ignored"). */
    META_ITEMS,
};

/* At most this many elements in a META_ITEMS value. */
#define META_ITEMS_MAX 200

struct meta_module;

/* Every pointer in these structs is owned by the tables and lives until meta_fini. */
struct meta_field {
    const char *api_name; /* case-sensitive, as Zoho's are */
    const char *id;       /* decimal string */
    int64_t id_num;       /* the same id as a number */
    const char *label;    /* field_label */
    enum meta_type type;
    const char *type_name; /* Zoho's data_type: "text", "multiselectpicklist", ... */
    int length;            /* maximum characters for string types, Zoho's "length" otherwise */
    bool is_mandatory;     /* system_mandatory */
    bool is_read_only;
    const char **picklist; /* allowed values, in display order (picklists only) */
    size_t picklist_len;
    const struct meta_module *lookup; /* META_LOOKUP's target module; NULL for other types,
                                       * including META_OWNERLOOKUP (owners are users) */
    /* A "Related To" lookup (What_Id of Tasks, Events and Calls): each record names the module
     * it looks up with its top-level "$se_module" key, one of meta_se_module's; `lookup` is
     * the module when it names none. At most one such field per module. */
    bool has_se_module;
    const struct meta_module *module; /* the module this field belongs to */
    unsigned index;                   /* position in module->fields */
};

struct meta_module {
    const char *api_name; /* "Leads", "Price_Books", "users" */
    const char *module_name;
    const char *singular_label;
    const char *plural_label;
    const char *id; /* decimal string */
    int64_t id_num;
    struct meta_field *fields; /* in definition order: Owner first, system fields last */
    size_t field_count;
    bool is_api_supported; /* false only for the "users" pseudo-module */
    bool has_unnotified;   /* some field is not meta_field_is_notified (line items, participants) */
    unsigned index;        /* position in the module list */
};

/* Parses the embedded module definitions. Call once at start, before any other thread runs; a
 * second call while loaded keeps the loaded tables and returns HERALD_OK. Returns HERALD_OK or
 * HERALD_ERR_INVALID when the data is malformed (the reason is logged). */
enum herald_err meta_init(void);

/* As meta_init, but from `json` (`len` bytes, borrowed), replacing any loaded tables: pointers
 * from an earlier load become invalid. Meant for tests. Returns HERALD_OK or HERALD_ERR_INVALID
 * (logged): bad JSON, an unknown data_type, a duplicate module name or id, a duplicate field name
 * within a module or field id anywhere, a lookup whose module does not exist, a picklist without
 * values, "se_module" on a field that is no lookup or on a second field of a module,
 * "se_modules" (optional, top level) not an array of module names. On error nothing stays
 * loaded. */
enum herald_err meta_init_json(const char *json, size_t len);

/* Frees the tables. Safe to call when nothing is loaded. */
void meta_fini(void);

/* The module a record's "$se_module" value `name` names for field `f` (compared
 * case-insensitively, as module names are): one of the modules data/modules.json lists under
 * "se_modules" (Zoho's "Related To" modules: Leads, Accounts, Deals, ...). NULL when f has no
 * $se_module (has_se_module false), or name is NULL or names no such module. */
const struct meta_module *meta_se_module(const struct meta_field *f, const char *name);

/* Modules in definition order; meta_module_at returns NULL past the end. */
size_t meta_module_count(void);
const struct meta_module *meta_module_at(size_t i);

/* The module with this API name, compared case-insensitively as Zoho does ("leads" is Leads);
 * NULL when none. `api_name` is borrowed; NULL gives NULL. */
const struct meta_module *meta_module_by_name(const char *api_name);
/* The module with this id, given as a decimal string (only digits); NULL when none. */
const struct meta_module *meta_module_by_id(const char *id);
const struct meta_module *meta_module_by_id_num(int64_t id);

/* The field of `m` with exactly this API name (case-sensitive); NULL when none or m is NULL. */
const struct meta_field *meta_field_by_name(const struct meta_module *m, const char *api_name);
/* The field of `m` with this id (decimal string, or number); NULL when none or m is NULL. */
const struct meta_field *meta_field_by_id(const struct meta_module *m, const char *id);
const struct meta_field *meta_field_by_id_num(const struct meta_module *m, int64_t id);

/* The module as GET /settings/modules shows it: {"api_name","id","module_name",
 * "singular_label","plural_label","api_supported","generated_type":"default","creatable",
 * "editable","deletable","viewable","status":"visible",...}. New reference. */
json_t *meta_module_to_json(const struct meta_module *m);

/* The field as GET /settings/fields shows it: {"api_name","id","field_label","display_label",
 * "data_type","json_type","system_mandatory","read_only","custom_field":false,"length",
 * "pick_list_values":[{"display_value","actual_value",...}] ([] when not a picklist),
 * "lookup":{} or {"display_label","module":{"api_name","id"}},...}. New reference. */
json_t *meta_field_to_json(const struct meta_field *f);

/* False for the fields Zoho's callbacks ignore (META_ITEMS): never in affected_fields nor in
 * affected_values, and not usable in a notification condition. */
bool meta_field_is_notified(const struct meta_field *f);

/* Zoho's json_type for a field: "string", "integer", "double", "boolean", "jsonobject" or
 * "jsonarray". Static string. */
const char *meta_json_type(const struct meta_field *f);

/* Why a value is not acceptable for a field. */
enum meta_problem {
    META_VALUE_OK,
    META_VALUE_WRONG_TYPE,   /* not of the field's type or shape (bad date, email, id...) */
    META_VALUE_TOO_LONG,     /* a string longer than f->length characters, or an integer,
                              * currency or decimal number with more than f->length integer
                              * digits */
    META_VALUE_NOT_IN_LIST,  /* a picklist value that is not one of f->picklist */
    META_VALUE_OUT_OF_RANGE, /* a number outside the type's range (percent 0..100, int32) */
    META_VALUE_MISSING,      /* null or "" for a mandatory field */
};

/* Checks one JSON value given for field `f` (both borrowed). Rules: null, and "" for a string
 * type, clear the field and are accepted unless the field is mandatory (META_VALUE_MISSING).
 * text/textarea/phone/website: a string of at most f->length code points; email: such a string
 * shaped local@domain.tld without spaces; integer: a JSON integer of at most f->length digits
 * (9: Zoho's Number field) and within int32; bigint: a JSON integer, or a string of decimal
 * digits with an optional '-', within int64; double/currency:
 * any JSON number; percent: a JSON number from 0 to 100; boolean: true or false; date:
 * "YYYY-MM-DD", a real calendar date; datetime: "YYYY-MM-DDTHH:MM:SS" then "Z" or "+HH:MM"/
 * "-HH:MM"; picklist: one of the values exactly; multiselectpicklist: an array of such values;
 * lookup/ownerlookup: an object whose "id" is a positive id (digits string or integer);
 * META_ITEMS: an array of at most META_ITEMS_MAX objects ([] clears the field, as null does;
 * META_VALUE_TOO_LONG past the limit).
 * Read-only fields are not refused here: ignoring them is the caller's policy.
 * Returns META_VALUE_OK or the problem; then *expected_out (when not NULL) is set to the type Zoho
 * names in "expected_data_type": the field's data_type name for scalars ("integer", "double",
 * "email", "date", "datetime", "picklist", ...), "jsonarray" for multiselect and META_ITEMS,
 * "jsonobject" for lookups. Static string. */
enum meta_problem meta_value_problem(const struct meta_field *f, const json_t *value,
                                     const char **expected_out);

/* meta_value_problem(...) == META_VALUE_OK. */
bool meta_value_check(const struct meta_field *f, const json_t *value, const char **expected_out);

/* The position of `s` in f->picklist (exact match), or -1 when it is not one of its values, f is
 * not a picklist, or s is NULL. Costs at most f->picklist_len comparisons. */
long meta_picklist_index(const struct meta_field *f, const char *s);

/* Length of a UTF-8 string in code points (continuation bytes are not counted). */
size_t meta_utf8_length(const char *s, size_t len);

/* Zoho's default Deals stage → probability (%): Qualification 10, Needs Analysis 20, Value
 * Proposition 40, Id. Decision Makers 60, Proposal/Price Quote 75, Negotiation/Review 90, Closed
 * Won 100, Closed Lost 0, Closed Lost to Competition 0. -1 for any other stage or NULL. */
int meta_deal_stage_probability(const char *stage);

/* True for the API versions "v2" and "v2.1" (the URL's segment), which differ from v3 on in
 * shapes and rules: watch errors answer 202, PATCH needs only channel_id, lookups name their
 * module by its API name, record lists need no `fields`. */
bool meta_version_is_v2(const char *version);

#endif
