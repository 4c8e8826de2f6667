/* Whole-request checks shared by the resources whose bodies carry one array of rows. */
#include <stdio.h>

#include "api/api.h"

json_t *api_body_array(struct http_req *req, const char *key, size_t max, json_t **root_out)
{
    *root_out = NULL;
    json_t *root = http_req_json(req);
    if (!root)
        return NULL;
    if (!json_is_object(root)) {
        json_decref(root);
        http_respond_error(req, 400, "INVALID_DATA", "invalid data",
                           json_pack("{s:s}", "expected_data_type", "jsonobject"));
        return NULL;
    }
    json_t *rows = json_object_get(root, key);
    if (!rows || json_is_null(rows) || (json_is_array(rows) && json_array_size(rows) == 0)) {
        json_decref(root);
        http_respond_error(req, 400, "REQUIRED_PARAM_MISSING",
                           "One of the expected parameter is missing",
                           json_pack("{s:s}", "param_name", key));
        return NULL;
    }
    char path[64]; /* only for the refusals below: printf costs 600 instructions */
    snprintf(path, sizeof path, "$.%s", key);
    if (!json_is_array(rows)) {
        json_decref(root);
        http_respond_error(req, 400, "INVALID_DATA", "invalid data",
                           json_pack("{s:s, s:s, s:s}", "api_name", key, "json_path", path,
                                     "expected_data_type", "jsonarray"));
        return NULL;
    }
    if (json_array_size(rows) > max) {
        json_decref(root);
        http_respond_error(req, 400, "LIMIT_EXCEEDED", "limit exceeded",
                           json_pack("{s:I, s:s, s:s}", "limit", (json_int_t)max, "api_name", key,
                                     "json_path", path));
        return NULL;
    }
    *root_out = root;
    return rows;
}
