/* GET /crm/{v}/settings/modules[/{api_name or id}] and /settings/fields[/{id}]?module=X[&type=]:
 * the module and field definitions (meta/) in Zoho's shapes, a lookup's module as the request's
 * version gives it. Read-only; the "users" pseudo-module is not listed. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "core/zjson.h"
#include "meta/meta.h"

static const char invalid_module_msg[] = "the module name given seems to be invalid";

void api_modules_list(struct http_req *req)
{
    json_t *modules = json_array();
    for (size_t i = 0; i < meta_module_count(); i++) {
        const struct meta_module *m = meta_module_at(i);
        if (m->is_api_supported)
            json_array_append_new(modules, meta_module_to_json(m));
    }
    http_respond_json(req, 200, json_pack("{s:o}", "modules", modules));
}

/* A module by its API name or, as the SDKs' getModule(id) asks for it, by its id. */
void api_module_get(struct http_req *req)
{
    const struct meta_module *m = NULL;
    if (req->seg_count > 4) {
        m = meta_module_by_name(req->segs[4]);
        if (!m)
            m = meta_module_by_id(req->segs[4]);
    }
    if (!m || !m->is_api_supported) {
        http_respond_error(req, 400, "INVALID_MODULE", invalid_module_msg,
                           json_pack("{s:i}", "resource_path_index", 2));
        return;
    }
    http_respond_json(req, 200, json_pack("{s:[o]}", "modules", meta_module_to_json(m)));
}

/* The module named by ?module=, or NULL with the error answered (missing, unknown). */
static const struct meta_module *fields_module(struct http_req *req)
{
    const char *name = http_req_query(req, "module");
    if (!name || !*name) {
        http_respond_error(req, 400, "REQUIRED_PARAM_MISSING",
                           "One of the expected parameter is missing",
                           json_pack("{s:s}", "param_name", "module"));
        return NULL;
    }
    const struct meta_module *m = meta_module_by_name(name);
    if (!m || !m->is_api_supported) {
        http_respond_error(req, 400, "INVALID_MODULE", invalid_module_msg,
                           json_pack("{s:s}", "param_name", "module"));
        return NULL;
    }
    return m;
}

/* One field as the request's version gives it. v2 and v2.1 give a lookup's module by its API
 * name, "module":"Accounts", as the official v2 and v2.1 SDKs model it (they fetch that module's
 * fields with it); v3 on, an object {"api_name","id"}. */
static json_t *field_json(const struct http_req *req, const struct meta_field *field)
{
    json_t *f = meta_field_to_json(field);
    json_t *lookup = json_object_get(f, "lookup");
    const char *target =
        json_string_value(json_object_get(json_object_get(lookup, "module"), "api_name"));
    if (meta_version_is_v2(req->version) && target)
        json_object_set_new(lookup, "module", json_string(target));
    return f;
}

void api_fields_list(struct http_req *req)
{
    const struct meta_module *m = fields_module(req);
    if (!m)
        return;
    /* type=all|used|unused (Zoho): every field is in use here, there being no layout to leave
     * one out of, so "unused" names none and the rest name them all. Any other type is
     * INVALID_DATA on the param, as an unknown GET /users?type= is. */
    const char *type = http_req_query(req, "type");
    if (type && strcasecmp(type, "all") != 0 && strcasecmp(type, "used") != 0 &&
        strcasecmp(type, "unused") != 0) {
        http_respond_error(req, 400, "INVALID_DATA", "invalid data",
                           json_pack("{s:s}", "param_name", "type"));
        return;
    }
    if (type && strcasecmp(type, "unused") == 0) {
        http_respond_empty(req, 204);
        return;
    }
    json_t *fields = json_array();
    for (size_t i = 0; i < m->field_count; i++)
        json_array_append_new(fields, field_json(req, &m->fields[i]));
    http_respond_json(req, 200, json_pack("{s:o}", "fields", fields));
}

/* GET settings/fields/{id}?module=X (Zoho's "get a specific field", the SDKs' getField): the
 * field in a one-element "fields" array. An id that is no field of the module is INVALID_DATA
 * on the path's id segment (Zoho's message for an id of a single-record URL). */
void api_field_get(struct http_req *req)
{
    const struct meta_module *m = fields_module(req);
    if (!m)
        return;
    const struct meta_field *f = req->seg_count > 4 ? meta_field_by_id(m, req->segs[4]) : NULL;
    if (!f) {
        http_respond_error(req, 400, "INVALID_DATA", "the id given seems to be invalid",
                           json_pack("{s:i}", "resource_path_index", 2));
        return;
    }
    http_respond_json(req, 200, json_pack("{s:[o]}", "fields", field_json(req, f)));
}
