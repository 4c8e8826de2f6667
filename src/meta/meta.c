/* Module and field tables built once from the embedded data/modules.json. Strings are borrowed
 * from the parsed document, which stays alive with the tables; lookups go through sorted pointer
 * arrays and binary search, never through JSON. Value checks are pure and locale-free. */
#include "meta/meta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "core/zjson.h"

extern const char herald_modules_json[];
extern const size_t herald_modules_json_len;

/* Sorted views of one module's fields. */
struct field_index {
    struct meta_field **by_name; /* strcmp order */
    struct meta_field **by_id;   /* id_num order */
};

static struct {
    bool is_loaded;
    json_t *root; /* owns every string the tables point to */
    struct meta_module *modules;
    size_t count;
    struct meta_module **by_name;          /* ASCII case-insensitive order */
    struct meta_module **by_id;            /* id_num order */
    struct field_index *fields;            /* one per module, by module->index */
    const struct meta_module **se_modules; /* what a "$se_module" may name */
    size_t se_module_count;
} g;

static const char *const type_names[] = {
    [META_TEXT] = "text",
    [META_TEXTAREA] = "textarea",
    [META_EMAIL] = "email",
    [META_PHONE] = "phone",
    [META_WEBSITE] = "website",
    [META_INTEGER] = "integer",
    [META_BIGINT] = "bigint",
    [META_DOUBLE] = "double",
    [META_CURRENCY] = "currency",
    [META_PERCENT] = "percent",
    [META_BOOLEAN] = "boolean",
    [META_DATE] = "date",
    [META_DATETIME] = "datetime",
    [META_PICKLIST] = "picklist",
    [META_MULTISELECT] = "multiselectpicklist",
    [META_LOOKUP] = "lookup",
    [META_OWNERLOOKUP] = "ownerlookup",
};
#define TYPE_COUNT (sizeof type_names / sizeof type_names[0])

/* ---- small helpers ---------------------------------------------------------------------- */

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* strcasecmp without the locale: Zoho's module names are ASCII. */
static int ascii_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = ascii_lower((unsigned char)*a);
        int cb = ascii_lower((unsigned char)*b);
        if (ca != cb || ca == 0)
            return ca - cb;
    }
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A decimal string of 1..19 digits, with an optional '-' when `allow_sign`, within int64. */
static bool parse_i64(const char *s, size_t len, bool allow_sign, int64_t *out)
{
    size_t start = allow_sign && len > 0 && s[0] == '-' ? 1 : 0;
    if (len - start == 0 || len - start > 19)
        return false;
    for (size_t i = start; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
    }
    char tmp[24];
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    long long n = strtoll(tmp, NULL, 10);
    if (errno)
        return false;
    *out = (int64_t)n;
    return true;
}

/* A positive id as a decimal string; 0 when it is not one. */
static int64_t parse_id(const char *s)
{
    int64_t n = 0;
    if (!s || !parse_i64(s, strlen(s), false, &n) || n <= 0)
        return 0;
    return n;
}

size_t meta_utf8_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    }
    return n;
}

/* ---- loading ---------------------------------------------------------------------------- */

static enum herald_err bad(const char *module, const char *field, const char *reason)
{
    log_error("msg=\"invalid module definitions\" module=%s field=%s reason=\"%s\"",
              module ? module : "-", field ? field : "-", reason);
    return HERALD_ERR_INVALID;
}

static const char *get_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && *s ? s : NULL;
}

/* An optional boolean member: `dflt` when absent, false through *is_ok when not a boolean. */
static bool get_bool(const json_t *obj, const char *key, bool dflt, bool *is_ok)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return dflt;
    if (!json_is_boolean(v))
        *is_ok = false;
    return json_is_true(v);
}

static bool type_from_name(const char *name, enum meta_type *out)
{
    for (size_t i = 0; i < TYPE_COUNT; i++) {
        if (strcmp(type_names[i], name) == 0) {
            *out = (enum meta_type)i;
            return true;
        }
    }
    return false;
}

static enum herald_err load_field(const struct meta_module *m, const json_t *jf,
                                  struct meta_field *f)
{
    const char *name = get_str(jf, "api_name");
    if (!name)
        return bad(m->api_name, NULL, "field without api_name");
    f->api_name = name;
    f->module = m;
    f->id = get_str(jf, "id");
    f->id_num = parse_id(f->id);
    if (!f->id_num)
        return bad(m->api_name, name, "id is not a decimal string");
    f->label = get_str(jf, "field_label");
    if (!f->label)
        return bad(m->api_name, name, "missing field_label");
    const char *type = get_str(jf, "data_type");
    const json_t *json_type = json_object_get(jf, "json_type");
    if (json_type &&
        (!json_is_string(json_type) || strcmp(json_string_value(json_type), "jsonarray") != 0))
        return bad(m->api_name, name, "json_type is given only as \"jsonarray\"");
    if (type && json_type && strcmp(type, type_names[META_MULTISELECT]) != 0) {
        /* An array of objects, under Zoho's own data_type for it (see META_ITEMS). */
        f->type = META_ITEMS;
        f->type_name = type;
    } else if (type && type_from_name(type, &f->type)) {
        f->type_name = type_names[f->type];
    } else {
        return bad(m->api_name, name, "unknown data_type");
    }
    const json_t *length = json_object_get(jf, "length");
    if (!json_is_integer(length) || json_integer_value(length) < 0 ||
        json_integer_value(length) > 1000000)
        return bad(m->api_name, name, "length is not an integer from 0 to 1000000");
    f->length = (int)json_integer_value(length);
    bool is_ok = true;
    f->is_mandatory = get_bool(jf, "system_mandatory", false, &is_ok);
    f->is_read_only = get_bool(jf, "read_only", false, &is_ok);
    if (!is_ok)
        return bad(m->api_name, name, "system_mandatory or read_only is not a boolean");

    const json_t *values = json_object_get(jf, "pick_list_values");
    bool is_pick = f->type == META_PICKLIST || f->type == META_MULTISELECT;
    if (is_pick != (values != NULL))
        return bad(m->api_name, name, "pick_list_values belong to picklists, and only to them");
    if (is_pick) {
        if (!json_is_array(values) || json_array_size(values) == 0)
            return bad(m->api_name, name, "pick_list_values is not a non-empty array");
        f->picklist_len = json_array_size(values);
        f->picklist = xcalloc(f->picklist_len, sizeof *f->picklist);
        for (size_t i = 0; i < f->picklist_len; i++) {
            f->picklist[i] = json_string_value(json_array_get(values, i));
            if (!f->picklist[i])
                return bad(m->api_name, name, "a pick_list_values entry is not a string");
        }
    }
    bool has_target = json_object_get(jf, "lookup_module") != NULL;
    if ((f->type == META_LOOKUP) != has_target)
        return bad(m->api_name, name, "lookup_module belongs to lookups, and only to them");
    f->has_se_module = get_bool(jf, "se_module", false, &is_ok);
    if (!is_ok || (f->has_se_module && f->type != META_LOOKUP))
        return bad(m->api_name, name, "se_module is a boolean, true only for lookups");
    return HERALD_OK;
}

static enum herald_err load_module(const json_t *jm, struct meta_module *m)
{
    m->api_name = get_str(jm, "api_name");
    if (!m->api_name)
        return bad(NULL, NULL, "module without api_name");
    m->module_name = get_str(jm, "module_name");
    m->singular_label = get_str(jm, "singular_label");
    m->plural_label = get_str(jm, "plural_label");
    if (!m->module_name || !m->singular_label || !m->plural_label)
        return bad(m->api_name, NULL, "missing module_name, singular_label or plural_label");
    m->id = get_str(jm, "id");
    m->id_num = parse_id(m->id);
    if (!m->id_num)
        return bad(m->api_name, NULL, "id is not a decimal string");
    bool is_ok = true;
    m->is_api_supported = get_bool(jm, "api_supported", true, &is_ok);
    if (!is_ok)
        return bad(m->api_name, NULL, "api_supported is not a boolean");
    const json_t *fields = json_object_get(jm, "fields");
    if (!json_is_array(fields) || json_array_size(fields) == 0)
        return bad(m->api_name, NULL, "fields is not a non-empty array");
    m->field_count = json_array_size(fields);
    m->fields = xcalloc(m->field_count, sizeof *m->fields);
    for (size_t i = 0; i < m->field_count; i++) {
        m->fields[i].index = (unsigned)i;
        enum herald_err err = load_field(m, json_array_get(fields, i), &m->fields[i]);
        if (err)
            return err;
        /* A record has one "$se_module" key, so it can choose for one field only. */
        for (size_t k = 0; k < i && m->fields[i].has_se_module; k++) {
            if (m->fields[k].has_se_module)
                return bad(m->api_name, m->fields[i].api_name, "a second se_module lookup");
        }
        m->has_unnotified = m->has_unnotified || !meta_field_is_notified(&m->fields[i]);
    }
    return HERALD_OK;
}

static int cmp_module_name(const void *a, const void *b)
{
    return ascii_casecmp((*(struct meta_module *const *)a)->api_name,
                         (*(struct meta_module *const *)b)->api_name);
}

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

static int cmp_module_id(const void *a, const void *b)
{
    return cmp_i64((*(struct meta_module *const *)a)->id_num,
                   (*(struct meta_module *const *)b)->id_num);
}

static int cmp_field_name(const void *a, const void *b)
{
    return strcmp((*(struct meta_field *const *)a)->api_name,
                  (*(struct meta_field *const *)b)->api_name);
}

static int cmp_field_id(const void *a, const void *b)
{
    return cmp_i64((*(struct meta_field *const *)a)->id_num,
                   (*(struct meta_field *const *)b)->id_num);
}

static int cmp_raw_i64(const void *a, const void *b)
{
    return cmp_i64(*(const int64_t *)a, *(const int64_t *)b);
}

static enum herald_err build_indexes(void)
{
    g.by_name = xcalloc(g.count, sizeof *g.by_name);
    g.by_id = xcalloc(g.count, sizeof *g.by_id);
    g.fields = xcalloc(g.count, sizeof *g.fields);
    size_t id_count = g.count;
    for (size_t i = 0; i < g.count; i++) {
        g.by_name[i] = g.by_id[i] = &g.modules[i];
        id_count += g.modules[i].field_count;
    }
    qsort(g.by_name, g.count, sizeof *g.by_name, cmp_module_name);
    qsort(g.by_id, g.count, sizeof *g.by_id, cmp_module_id);
    for (size_t i = 1; i < g.count; i++) {
        if (cmp_module_name(&g.by_name[i - 1], &g.by_name[i]) == 0)
            return bad(g.by_name[i]->api_name, NULL, "duplicate module api_name");
    }

    /* Field ids are unique across the installation, as Zoho's are, and never equal a module's:
     * a notification_condition names a field by id alone. */
    int64_t *ids = xcalloc(id_count, sizeof *ids);
    size_t n = 0;
    for (size_t i = 0; i < g.count; i++) {
        struct meta_module *m = &g.modules[i];
        struct field_index *fi = &g.fields[i];
        ids[n++] = m->id_num;
        fi->by_name = xcalloc(m->field_count, sizeof *fi->by_name);
        fi->by_id = xcalloc(m->field_count, sizeof *fi->by_id);
        for (size_t j = 0; j < m->field_count; j++) {
            fi->by_name[j] = fi->by_id[j] = &m->fields[j];
            ids[n++] = m->fields[j].id_num;
        }
        qsort(fi->by_name, m->field_count, sizeof *fi->by_name, cmp_field_name);
        qsort(fi->by_id, m->field_count, sizeof *fi->by_id, cmp_field_id);
        for (size_t j = 1; j < m->field_count; j++) {
            if (cmp_field_name(&fi->by_name[j - 1], &fi->by_name[j]) == 0) {
                free(ids);
                return bad(m->api_name, fi->by_name[j]->api_name, "duplicate field api_name");
            }
        }
    }
    qsort(ids, n, sizeof *ids, cmp_raw_i64);
    for (size_t i = 1; i < n; i++) {
        if (ids[i - 1] == ids[i]) {
            free(ids);
            return bad(NULL, NULL, "duplicate module or field id");
        }
    }
    free(ids);
    return HERALD_OK;
}

/* Second pass once every module is known: point lookups at their target modules. */
static enum herald_err resolve_lookups(const json_t *modules)
{
    for (size_t i = 0; i < g.count; i++) {
        struct meta_module *m = &g.modules[i];
        const json_t *fields = json_object_get(json_array_get(modules, i), "fields");
        for (size_t j = 0; j < m->field_count; j++) {
            if (m->fields[j].type != META_LOOKUP)
                continue;
            const char *target = get_str(json_array_get(fields, j), "lookup_module");
            m->fields[j].lookup = target ? meta_module_by_name(target) : NULL;
            if (!m->fields[j].lookup)
                return bad(m->api_name, m->fields[j].api_name, "lookup_module does not exist");
        }
    }
    const json_t *se = json_object_get(g.root, "se_modules");
    if (se && !json_is_array(se))
        return bad(NULL, NULL, "se_modules is not an array");
    g.se_module_count = json_array_size(se);
    g.se_modules = xcalloc(g.se_module_count ? g.se_module_count : 1, sizeof *g.se_modules);
    for (size_t i = 0; i < g.se_module_count; i++) {
        g.se_modules[i] = meta_module_by_name(json_string_value(json_array_get(se, i)));
        if (!g.se_modules[i])
            return bad(NULL, NULL, "an se_modules entry is not a module");
    }
    return HERALD_OK;
}

enum herald_err meta_init_json(const char *json, size_t len)
{
    meta_fini();
    json_error_t jerr;
    g.root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!g.root) {
        log_error("msg=\"invalid module definitions\" line=%d reason=\"%s\"", jerr.line, jerr.text);
        return HERALD_ERR_INVALID;
    }
    enum herald_err err;
    const json_t *modules = json_object_get(g.root, "modules");
    if (!json_is_array(modules) || json_array_size(modules) == 0) {
        err = bad(NULL, NULL, "modules is not a non-empty array");
        goto out;
    }
    g.count = json_array_size(modules);
    g.modules = xcalloc(g.count, sizeof *g.modules);
    for (size_t i = 0; i < g.count; i++) {
        g.modules[i].index = (unsigned)i;
        err = load_module(json_array_get(modules, i), &g.modules[i]);
        if (err)
            goto out;
    }
    /* Lookups are resolved through the name index, so mark the tables loaded first. */
    err = build_indexes();
    if (err)
        goto out;
    g.is_loaded = true;
    err = resolve_lookups(modules);
out:
    if (err)
        meta_fini();
    return err;
}

enum herald_err meta_init(void)
{
    if (g.is_loaded)
        return HERALD_OK;
    return meta_init_json(herald_modules_json, herald_modules_json_len);
}

void meta_fini(void)
{
    for (size_t i = 0; g.modules && i < g.count; i++) {
        struct meta_module *m = &g.modules[i];
        for (size_t j = 0; m->fields && j < m->field_count; j++)
            free(m->fields[j].picklist);
        free(m->fields);
        if (g.fields) {
            free(g.fields[i].by_name);
            free(g.fields[i].by_id);
        }
    }
    free(g.modules);
    free(g.fields);
    free(g.by_name);
    free(g.by_id);
    free(g.se_modules);
    json_decref(g.root);
    memset(&g, 0, sizeof g);
}

/* ---- lookups ---------------------------------------------------------------------------- */

size_t meta_module_count(void)
{
    return g.count;
}

const struct meta_module *meta_module_at(size_t i)
{
    return i < g.count ? &g.modules[i] : NULL;
}

const struct meta_module *meta_module_by_name(const char *api_name)
{
    if (!api_name || !g.is_loaded)
        return NULL;
    size_t lo = 0, hi = g.count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ascii_casecmp(api_name, g.by_name[mid]->api_name);
        if (c == 0)
            return g.by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct meta_module *meta_module_by_id_num(int64_t id)
{
    if (!g.is_loaded)
        return NULL;
    size_t lo = 0, hi = g.count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g.by_id[mid]->id_num == id)
            return g.by_id[mid];
        if (id < g.by_id[mid]->id_num)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct meta_module *meta_module_by_id(const char *id)
{
    int64_t n = parse_id(id);
    return n ? meta_module_by_id_num(n) : NULL;
}

const struct meta_module *meta_se_module(const struct meta_field *f, const char *name)
{
    const struct meta_module *m = f && f->has_se_module ? meta_module_by_name(name) : NULL;
    for (size_t i = 0; m && i < g.se_module_count; i++) {
        if (g.se_modules[i] == m)
            return m;
    }
    return NULL;
}

const struct meta_field *meta_field_by_name(const struct meta_module *m, const char *api_name)
{
    if (!m || !api_name || !g.is_loaded)
        return NULL;
    struct meta_field **by_name = g.fields[m->index].by_name;
    size_t lo = 0, hi = m->field_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(api_name, by_name[mid]->api_name);
        if (c == 0)
            return by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct meta_field *meta_field_by_id_num(const struct meta_module *m, int64_t id)
{
    if (!m || !g.is_loaded)
        return NULL;
    struct meta_field **by_id = g.fields[m->index].by_id;
    size_t lo = 0, hi = m->field_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (by_id[mid]->id_num == id)
            return by_id[mid];
        if (id < by_id[mid]->id_num)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct meta_field *meta_field_by_id(const struct meta_module *m, const char *id)
{
    int64_t n = parse_id(id);
    return n ? meta_field_by_id_num(m, n) : NULL;
}

/* ---- JSON renderings -------------------------------------------------------------------- */

json_t *meta_module_to_json(const struct meta_module *m)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:b, s:b, s:b, s:b, s:s, s:i, s:i, "
                     "s:b, s:b}",
                     "api_name", m->api_name, "id", m->id, "module_name", m->module_name,
                     "singular_label", m->singular_label, "plural_label", m->plural_label,
                     "api_supported", m->is_api_supported, "generated_type", "default", "creatable",
                     1, "editable", 1, "deletable", 1, "viewable", 1, "status", "visible",
                     "visibility", 1, "sequence_number", (int)m->index + 1, "convertable",
                     strcmp(m->api_name, "Leads") == 0, "show_as_tab", m->is_api_supported);
}

const char *meta_json_type(const struct meta_field *f)
{
    switch (f->type) {
    case META_INTEGER:
    case META_BIGINT:
        return "integer";
    case META_DOUBLE:
    case META_CURRENCY:
    case META_PERCENT:
        return "double";
    case META_BOOLEAN:
        return "boolean";
    case META_MULTISELECT:
    case META_ITEMS:
        return "jsonarray";
    case META_LOOKUP:
    case META_OWNERLOOKUP:
        return "jsonobject";
    default:
        return "string";
    }
}

bool meta_field_is_notified(const struct meta_field *f)
{
    return f->type != META_ITEMS;
}

json_t *meta_field_to_json(const struct meta_field *f)
{
    json_t *values = json_array();
    for (size_t i = 0; i < f->picklist_len; i++) {
        const char *v = f->picklist[i];
        json_array_append_new(values, json_pack("{s:s, s:s, s:s, s:i, s:s}", "display_value", v,
                                                "actual_value", v, "reference_value", v,
                                                "sequence_number", (int)i + 1, "type", "used"));
    }
    json_t *lookup = json_object();
    if (f->type == META_LOOKUP && f->lookup) {
        json_object_set_new(lookup, "display_label", json_string(f->label));
        json_object_set_new(
            lookup, "module",
            json_pack("{s:s, s:s}", "api_name", f->lookup->api_name, "id", f->lookup->id));
    }
    json_t *decimals =
        f->type == META_CURRENCY || f->type == META_DOUBLE ? json_integer(2) : json_null();
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:i, s:b, s:s, s:o, "
                     "s:o, s:o}",
                     "api_name", f->api_name, "id", f->id, "field_label", f->label, "display_label",
                     f->label, "data_type", f->type_name, "json_type", meta_json_type(f),
                     "system_mandatory", f->is_mandatory, "read_only", f->is_read_only,
                     "field_read_only", f->is_read_only, "custom_field", 0, "length", f->length,
                     "visible", 1, "created_source", "default", "decimal_place", decimals,
                     "pick_list_values", values, "lookup", lookup);
}

/* ---- value checks ----------------------------------------------------------------------- */

/* Two decimal digits at s as a number, or -1. */
static int two_digits(const char *s)
{
    return is_digit(s[0]) && is_digit(s[1]) ? (s[0] - '0') * 10 + (s[1] - '0') : -1;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "YYYY-MM-DD" at the start of s (at least 10 bytes), a real date from year 1 to 9999. */
static bool is_date(const char *s)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int hi = two_digits(s), lo = two_digits(s + 2);
    int month = two_digits(s + 5), day = two_digits(s + 8);
    if (hi < 0 || lo < 0 || s[4] != '-' || s[7] != '-' || month < 1 || month > 12 || day < 1)
        return false;
    int year = hi * 100 + lo;
    if (year < 1)
        return false;
    int max_day = days[month - 1] + (month == 2 && is_leap(year));
    return day <= max_day;
}

/* "HH:MM" (or "HH:MM:SS" with `has_seconds`) at s, a real time of day. */
static bool is_time(const char *s, bool has_seconds)
{
    int h = two_digits(s), m = two_digits(s + 3);
    if (h < 0 || h > 23 || s[2] != ':' || m < 0 || m > 59)
        return false;
    if (!has_seconds)
        return true;
    int sec = two_digits(s + 6);
    return s[5] == ':' && sec >= 0 && sec <= 59;
}

static bool is_datetime(const char *s, size_t len)
{
    /* 2025-05-10T01:10:47Z or 2025-05-10T01:10:47-07:00 */
    if (len != 20 && len != 25)
        return false;
    if (!is_date(s) || s[10] != 'T' || !is_time(s + 11, true))
        return false;
    if (len == 20)
        return s[19] == 'Z';
    return (s[19] == '+' || s[19] == '-') && is_time(s + 20, false);
}

/* Bytes allowed in an email's local part besides letters and digits (RFC 5322 atext, '.'). */
static bool is_local_char(unsigned char c)
{
    return c >= 0x80 || is_alpha((char)c) || is_digit((char)c) ||
           (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

static bool is_label_char(unsigned char c)
{
    return c >= 0x80 || is_alpha((char)c) || is_digit((char)c) || c == '-';
}

/* local@domain.tld: a dot-separated local part, two or more domain labels that neither start nor
 * end with '-', and a top-level label of two or more letters. Non-ASCII bytes pass (IDN). */
static bool is_email(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);
    if (!at || at == s)
        return false;
    size_t local_len = (size_t)(at - s);
    if (s[0] == '.' || s[local_len - 1] == '.')
        return false;
    for (size_t i = 0; i < local_len; i++) {
        if (!is_local_char((unsigned char)s[i]) || (s[i] == '.' && s[i + 1] == '.'))
            return false;
    }
    const char *domain = at + 1;
    size_t domain_len = len - local_len - 1;
    size_t labels = 0, label_start = 0;
    for (size_t i = 0; i <= domain_len; i++) {
        if (i < domain_len && domain[i] != '.') {
            if (!is_label_char((unsigned char)domain[i]))
                return false;
            continue;
        }
        size_t label_len = i - label_start;
        const char *label = domain + label_start;
        if (label_len == 0 || label_len > 63 || label[0] == '-' || label[label_len - 1] == '-')
            return false;
        labels++;
        if (i == domain_len) {
            if (label_len < 2)
                return false;
            for (size_t k = 0; k < label_len; k++) {
                if (!is_alpha(label[k]) && (unsigned char)label[k] < 0x80)
                    return false;
            }
        }
        label_start = i + 1;
    }
    return labels >= 2;
}

long meta_picklist_index(const struct meta_field *f, const char *s)
{
    for (size_t i = 0; s && i < f->picklist_len; i++) {
        if (strcmp(f->picklist[i], s) == 0)
            return (long)i;
    }
    return -1;
}

static bool is_in_picklist(const struct meta_field *f, const char *s)
{
    return meta_picklist_index(f, s) >= 0;
}

/* Types whose values may be JSON strings (bigint also takes numbers). */
static bool takes_string(enum meta_type t)
{
    switch (t) {
    case META_TEXT:
    case META_TEXTAREA:
    case META_EMAIL:
    case META_PHONE:
    case META_WEBSITE:
    case META_BIGINT:
    case META_DATE:
    case META_DATETIME:
    case META_PICKLIST:
        return true;
    default:
        return false;
    }
}

static enum meta_problem check_string(const struct meta_field *f, const json_t *value)
{
    if (!json_is_string(value))
        return META_VALUE_WRONG_TYPE;
    const char *s = json_string_value(value);
    size_t len = json_string_length(value);
    switch (f->type) {
    case META_EMAIL:
        if (!is_email(s, len))
            return META_VALUE_WRONG_TYPE;
        break;
    case META_DATE:
        return len == 10 && is_date(s) ? META_VALUE_OK : META_VALUE_WRONG_TYPE;
    case META_DATETIME:
        return is_datetime(s, len) ? META_VALUE_OK : META_VALUE_WRONG_TYPE;
    case META_PICKLIST:
        return is_in_picklist(f, s) ? META_VALUE_OK : META_VALUE_NOT_IN_LIST;
    default:
        break;
    }
    if (f->length > 0 && meta_utf8_length(s, len) > (size_t)f->length)
        return META_VALUE_TOO_LONG;
    return META_VALUE_OK;
}

/* True when a number's integer part has at most `digits` digits (Zoho's length of a currency
 * or decimal field, 16, or of an integer field, 9); always when digits is 0 or more than an
 * int64 holds. */
static bool has_digits_within(const json_t *value, int digits)
{
    if (digits <= 0 || digits > 18)
        return true;
    int64_t limit = 1;
    for (int i = 0; i < digits; i++)
        limit *= 10;
    if (json_is_integer(value))
        return json_integer_value(value) < limit && json_integer_value(value) > -limit;
    double v = json_real_value(value);
    return v < (double)limit && v > -(double)limit;
}

static enum meta_problem check_value(const struct meta_field *f, const json_t *value)
{
    int64_t n;
    switch (f->type) {
    case META_TEXT:
    case META_TEXTAREA:
    case META_EMAIL:
    case META_PHONE:
    case META_WEBSITE:
    case META_DATE:
    case META_DATETIME:
    case META_PICKLIST:
        return check_string(f, value);
    case META_INTEGER:
        if (!json_is_integer(value))
            return META_VALUE_WRONG_TYPE;
        if (!has_digits_within(value, f->length))
            return META_VALUE_TOO_LONG; /* Zoho's Number field: at most `length` (9) digits */
        n = json_integer_value(value);
        return n >= INT32_MIN && n <= INT32_MAX ? META_VALUE_OK : META_VALUE_OUT_OF_RANGE;
    case META_BIGINT:
        if (json_is_integer(value))
            return META_VALUE_OK;
        if (json_is_string(value) &&
            parse_i64(json_string_value(value), json_string_length(value), true, &n))
            return META_VALUE_OK;
        return META_VALUE_WRONG_TYPE;
    case META_DOUBLE:
    case META_CURRENCY:
        if (!json_is_number(value))
            return META_VALUE_WRONG_TYPE;
        return has_digits_within(value, f->length) ? META_VALUE_OK : META_VALUE_TOO_LONG;
    case META_PERCENT:
        if (!json_is_number(value))
            return META_VALUE_WRONG_TYPE;
        return json_number_value(value) >= 0 && json_number_value(value) <= 100
                   ? META_VALUE_OK
                   : META_VALUE_OUT_OF_RANGE;
    case META_BOOLEAN:
        return json_is_boolean(value) ? META_VALUE_OK : META_VALUE_WRONG_TYPE;
    case META_MULTISELECT:
        if (!json_is_array(value))
            return META_VALUE_WRONG_TYPE;
        for (size_t i = 0; i < json_array_size(value); i++) {
            const json_t *v = json_array_get(value, i);
            if (!json_is_string(v))
                return META_VALUE_WRONG_TYPE;
            if (!is_in_picklist(f, json_string_value(v)))
                return META_VALUE_NOT_IN_LIST;
        }
        return META_VALUE_OK;
    case META_LOOKUP:
    case META_OWNERLOOKUP:
        if (!json_is_object(value) || !zjson_id_value(json_object_get(value, "id")))
            return META_VALUE_WRONG_TYPE;
        return META_VALUE_OK;
    case META_ITEMS:
        if (!json_is_array(value))
            return META_VALUE_WRONG_TYPE;
        if (json_array_size(value) > META_ITEMS_MAX)
            return META_VALUE_TOO_LONG;
        for (size_t i = 0; i < json_array_size(value); i++) {
            if (!json_is_object(json_array_get(value, i)))
                return META_VALUE_WRONG_TYPE;
        }
        return META_VALUE_OK;
    }
    return META_VALUE_WRONG_TYPE;
}

/* True for the values that leave a field empty: null, "" for a type given as a string, and []
 * for a multiselect or an array of objects. */
static bool is_empty_value(const struct meta_field *f, const json_t *value)
{
    if (json_is_null(value))
        return true;
    if (json_is_string(value) && json_string_length(value) == 0)
        return takes_string(f->type);
    return (f->type == META_MULTISELECT || f->type == META_ITEMS) && json_is_array(value) &&
           json_array_size(value) == 0;
}

enum meta_problem meta_value_problem(const struct meta_field *f, const json_t *value,
                                     const char **expected_out)
{
    enum meta_problem problem;
    if (!value)
        problem = f->is_mandatory ? META_VALUE_MISSING : META_VALUE_OK;
    else if (is_empty_value(f, value))
        problem = f->is_mandatory ? META_VALUE_MISSING : META_VALUE_OK;
    else
        problem = check_value(f, value);
    if (problem && expected_out) {
        if (f->type == META_MULTISELECT || f->type == META_ITEMS)
            *expected_out = "jsonarray";
        else if (f->type == META_LOOKUP || f->type == META_OWNERLOOKUP)
            *expected_out = "jsonobject";
        else
            *expected_out = f->type_name;
    }
    return problem;
}

bool meta_value_check(const struct meta_field *f, const json_t *value, const char **expected_out)
{
    return meta_value_problem(f, value, expected_out) == META_VALUE_OK;
}

/* ---- Deals ------------------------------------------------------------------------------ */

int meta_deal_stage_probability(const char *stage)
{
    static const struct {
        const char *stage;
        int probability;
    } table[] = {
        {"Qualification", 10},
        {"Needs Analysis", 20},
        {"Value Proposition", 40},
        {"Id. Decision Makers", 60},
        {"Proposal/Price Quote", 75},
        {"Negotiation/Review", 90},
        {"Closed Won", 100},
        {"Closed Lost", 0},
        {"Closed Lost to Competition", 0},
    };
    if (!stage)
        return -1;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(table[i].stage, stage) == 0)
            return table[i].probability;
    }
    return -1;
}

bool meta_version_is_v2(const char *version)
{
    return version && (strcmp(version, "v2") == 0 || strcmp(version, "v2.1") == 0);
}
