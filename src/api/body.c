/* Whole-request checks shared by the resources: a body that carries one array of rows, a
 * list's page and per_page, and the If-Modified-Since header of a read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/timefmt.h"

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

#define MAX_PER_PAGE 200
#define MAX_PAGE 100000 /* keeps OFFSET bounded */

/* A positive decimal query parameter no larger than max; def when absent. -1 when invalid. */
static long query_number(struct http_req *req, const char *key, long def, long max)
{
    const char *s = http_req_query(req, key);
    if (!s)
        return def;
    size_t len = strlen(s);
    if (len == 0 || len > 9 || strspn(s, "0123456789") != len)
        return -1;
    long v = strtol(s, NULL, 10);
    return v >= 1 && v <= max ? v : -1;
}

bool api_page_params(struct http_req *req, long *page, long *per_page)
{
    const char *bad = NULL;
    if ((*page = query_number(req, "page", 1, MAX_PAGE)) < 0)
        bad = "page";
    else if ((*per_page = query_number(req, "per_page", MAX_PER_PAGE, MAX_PER_PAGE)) < 0)
        bad = "per_page";
    if (!bad)
        return true;
    http_respond_error(req, 400, "INVALID_DATA", "invalid data",
                       json_pack("{s:s}", "param_name", bad));
    return false;
}

bool api_modified_since(struct http_req *req, bool *has_since, int64_t *at_s)
{
    const char *since = http_req_header(req, "If-Modified-Since");
    *has_since = false;
    if (!since)
        return true;
    if (time_parse_iso8601(since, at_s)) {
        http_respond_error(req, 400, "INVALID_DATA", "invalid If-Modified-Since header",
                           json_pack("{s:s, s:s}", "header_name", "If-Modified-Since",
                                     "expected_data_type", "datetime"));
        return false;
    }
    *has_since = true;
    return true;
}
