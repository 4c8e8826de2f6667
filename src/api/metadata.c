/* GET /crm/{v}/settings/modules[/{api_name}] and /settings/fields?module=X[&type=]: the module
 * and field definitions (meta/) in Zoho's shapes, a lookup's module as the request's version
 * gives it. Read-only; the "users" pseudo-module is not listed. */
#include <stdbool.h>
#include <string.h>

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

void api_module_get(struct http_req *req)
{
    const struct meta_module *m = req->seg_count > 4 ? meta_module_by_name(req->segs[4]) : NULL;
    if (!m || !m->is_api_supported) {
        http_respond_error(req, 400, "INVALID_MODULE", invalid_module_msg,
                           json_pack("{s:i}", "resource_path_index", 2));
        return;
    }
    http_respond_json(req, 200, json_pack("{s:[o]}", "modules", meta_module_to_json(m)));
}

void api_fields_list(struct http_req *req)
{
    const char *name = http_req_query(req, "module");
    if (!name || !*name) {
        http_respond_error(req, 400, "REQUIRED_PARAM_MISSING",
                           "One of the expected parameter is missing",
                           json_pack("{s:s}", "param_name", "module"));
        return;
    }
    const struct meta_module *m = meta_module_by_name(name);
    if (!m || !m->is_api_supported) {
        http_respond_error(req, 400, "INVALID_MODULE", invalid_module_msg,
                           json_pack("{s:s}", "param_name", "module"));
        return;
    }
    /* type=all|used|unused (Zoho): every field is in use here, there being no layout to leave
     * one out of, so "unused" names none and the rest name them all. */
    const char *type = http_req_query(req, "type");
    if (type && strcmp(type, "unused") == 0) {
        http_respond_empty(req, 204);
        return;
    }
    /* v2 and v2.1 give a lookup's module by its API name, "module":"Accounts", as the official
     * v2 and v2.1 SDKs model it (they fetch that module's fields with it); v3 on, an object
     * {"api_name","id"}. */
    bool is_module_named = meta_version_is_v2(req->version);
    json_t *fields = json_array();
    for (size_t i = 0; i < m->field_count; i++) {
        json_t *f = meta_field_to_json(&m->fields[i]);
        json_t *lookup = json_object_get(f, "lookup");
        const char *target =
            json_string_value(json_object_get(json_object_get(lookup, "module"), "api_name"));
        if (is_module_named && target)
            json_object_set_new(lookup, "module", json_string(target));
        json_array_append_new(fields, f);
    }
    http_respond_json(req, 200, json_pack("{s:o}", "fields", fields));
}
