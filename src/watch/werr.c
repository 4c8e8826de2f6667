/* Zoho's error objects for watch[] items (details keys in Zoho's order: api_name,
 * expected_data_type, json_path, then the limit), and {"api_name","id"} reference resolution. */
#include <stdio.h>
#include <string.h>

#include "core/zjson.h"
#include "watch/watch_int.h"

static json_t *details(const char *api_name, const char *path)
{
    json_t *d = json_object();
    json_object_set_new(d, "api_name", json_string(api_name));
    json_object_set_new(d, "json_path", json_string(path));
    return d;
}

json_t *werr_mandatory(const char *api_name, const char *path)
{
    return zjson_error("MANDATORY_NOT_FOUND", "required field not found", details(api_name, path));
}

json_t *werr_invalid(const char *api_name, const char *path)
{
    return zjson_error("INVALID_DATA", "invalid data", details(api_name, path));
}

json_t *werr_type(const char *api_name, const char *expected, const char *path)
{
    json_t *d = json_object();
    json_object_set_new(d, "api_name", json_string(api_name));
    json_object_set_new(d, "expected_data_type", json_string(expected));
    json_object_set_new(d, "json_path", json_string(path));
    return zjson_error("INVALID_DATA", "invalid data", d);
}

json_t *werr_max(const char *api_name, const char *path, long max)
{
    json_t *d = details(api_name, path);
    json_object_set_new(d, "maximum_length", json_integer(max));
    return zjson_error("INVALID_DATA", "invalid data", d);
}

json_t *werr_supported(const char *api_name, const char *path, const char *const *values)
{
    json_t *d = details(api_name, path);
    json_t *list = json_array();
    for (const char *const *v = values; *v; v++)
        json_array_append_new(list, json_string(*v));
    json_object_set_new(d, "supported_values", list);
    return zjson_error("INVALID_DATA", "invalid data", d);
}

/* [{"api_name":"api_name","json_path":P.api_name},{"api_name":"id","json_path":P.id}] */
static json_t *name_and_id(const char *path)
{
    char name_path[WATCH_PATH_MAX + 16], id_path[WATCH_PATH_MAX + 16];
    snprintf(name_path, sizeof name_path, "%s.api_name", path);
    snprintf(id_path, sizeof id_path, "%s.id", path);
    return json_pack("[{s:s, s:s}, {s:s, s:s}]", "api_name", "api_name", "json_path", name_path,
                     "api_name", "id", "json_path", id_path);
}

json_t *werr_expected_name_or_id(const char *path)
{
    return zjson_error("EXPECTED_FIELD_MISSING", "Specify atleast one field",
                       json_pack("{s:o}", "expected_fields", name_and_id(path)));
}

json_t *werr_ambiguous_name_id(const char *path)
{
    return zjson_error("AMBIGUITY_DURING_PROCESSING", "AMBIGUITY_DURING_PROCESSING",
                       json_pack("{s:o}", "ambiguity_due_to", name_and_id(path)));
}

/* Reads the optional "api_name" and "id" of a reference object. */
static enum wref ref_parts(const json_t *obj, const char **name, int64_t *id, bool *has_id)
{
    const json_t *n = json_object_get(obj, "api_name");
    const json_t *i = json_object_get(obj, "id");
    *name = NULL;
    *id = 0;
    *has_id = false;
    if (n && !json_is_null(n)) {
        if (!json_is_string(n))
            return WREF_BAD_TYPE_NAME;
        *name = json_string_value(n);
    }
    if (i && !json_is_null(i)) {
        if (!json_is_string(i) && !json_is_integer(i))
            return WREF_BAD_TYPE_ID;
        *has_id = true;
        *id = zjson_id_value(i);
    }
    return *name || *has_id ? WREF_OK : WREF_NONE;
}

enum wref watch_ref_module(const json_t *obj, const struct meta_module **out)
{
    const char *name;
    int64_t id;
    bool has_id;
    enum wref r = ref_parts(obj, &name, &id, &has_id);
    if (r != WREF_OK)
        return r;
    const struct meta_module *by_name = name ? meta_module_by_name(name) : NULL;
    const struct meta_module *by_id = has_id && id > 0 ? meta_module_by_id_num(id) : NULL;
    if ((name && !by_name) || (has_id && !by_id))
        return WREF_UNKNOWN;
    if (name && has_id && by_name != by_id)
        return WREF_CONFLICT;
    *out = by_name ? by_name : by_id;
    return WREF_OK;
}

enum wref watch_ref_field(const struct meta_module *m, const json_t *obj,
                          const struct meta_field **out)
{
    const char *name;
    int64_t id;
    bool has_id;
    enum wref r = ref_parts(obj, &name, &id, &has_id);
    if (r != WREF_OK)
        return r;
    const struct meta_field *by_name = name ? meta_field_by_name(m, name) : NULL;
    const struct meta_field *by_id = has_id && id > 0 ? meta_field_by_id_num(m, id) : NULL;
    if ((name && !by_name) || (has_id && !by_id))
        return WREF_UNKNOWN;
    if (name && has_id && by_name != by_id)
        return WREF_CONFLICT;
    *out = by_name ? by_name : by_id;
    return WREF_OK;
}
