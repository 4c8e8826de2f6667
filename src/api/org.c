/* GET /crm/{v}/org and GET /crm/{v}/users (CurrentUser and listing): the calls the official SDKs
 * make at start-up. Users' writes live in users.c. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/timefmt.h"
#include "core/zjson.h"

void api_org_get(struct http_req *req)
{
    struct app *app = req->app;
    struct store_org org;
    enum herald_err err = store_org_get(app->store, req->who.org_id, &org);
    if (err) {
        http_respond_error(req, 500, "INTERNAL_ERROR", "Internal Server Error", NULL);
        return;
    }
    char created[32];
    time_format_local(org.created_at_s, created);
    json_t *o = json_object();
    json_object_set_new(o, "id", zjson_id(org.id));
    json_object_set_new(o, "company_name", json_string(org.name));
    json_object_set_new(o, "alias", json_null());
    json_object_set_new(o, "primary_email", json_string("admin@herald.local"));
    json_object_set_new(o, "primary_zuid", zjson_id(org.admin_user_id));
    json_object_set_new(o, "zgid", zjson_id(org.id));
    json_object_set_new(o, "domain_name", json_string("herald"));
    json_object_set_new(o, "time_zone", json_string(time_zone_name()));
    json_object_set_new(o, "currency", json_string("US Dollar - USD"));
    json_object_set_new(o, "currency_symbol", json_string("$"));
    json_object_set_new(o, "iso_code", json_string("USD"));
    json_object_set_new(o, "country_code", json_string("US"));
    json_object_set_new(o, "mc_status", json_false());
    json_object_set_new(o, "type", json_string("production"));
    json_object_set_new(o, "created_time", json_string(created));
    /* Zoho's keys, in its sample's order, for a paid Enterprise edition. */
    json_object_set_new(o, "license_details",
                        json_pack("{s:n, s:I, s:n, s:n, s:b, s:s}", "paid_expiry",
                                  "users_license_purchased", (json_int_t)1000, "trial_type",
                                  "trial_expiry", "paid", 1, "paid_type", "enterprise"));
    store_org_fini(&org);
    http_respond_json(req, 200, json_pack("{s:[o]}", "org", o));
}

static json_t *user_json(const char *text)
{
    json_t *u = text ? json_loads(text, 0, NULL) : NULL;
    return u ? u : json_object();
}

void api_users_get(struct http_req *req)
{
    struct app *app = req->app;
    const char *type = http_req_query(req, "type");
    if (type && strcmp(type, "CurrentUser") == 0) {
        struct store_user u;
        enum herald_err err = store_user_get(app->store, req->who.org_id, req->who.user_id, &u);
        if (err) {
            http_respond_error(req, 500, "INTERNAL_ERROR", "Internal Server Error", NULL);
            return;
        }
        json_t *body = json_pack("{s:[o], s:{s:i, s:i, s:i, s:b}}", "users", user_json(u.json),
                                 "info", "per_page", 200, "count", 1, "page", 1, "more_records", 0);
        free(u.json);
        http_respond_json(req, 200, body);
        return;
    }
    long page, per_page;
    if (!api_page_params(req, &page, &per_page))
        return;
    struct store_user *list = NULL;
    size_t n = 0;
    enum herald_err err =
        store_user_list(app->store, req->who.org_id, (size_t)(page - 1) * (size_t)per_page,
                        (size_t)per_page + 1, &list, &n);
    if (err) {
        http_respond_error(req, 500, "INTERNAL_ERROR", "Internal Server Error", NULL);
        return;
    }
    bool has_more = n > (size_t)per_page;
    size_t shown = has_more ? (size_t)per_page : n;
    json_t *users = json_array();
    for (size_t i = 0; i < n; i++) {
        if (i < shown)
            json_array_append_new(users, user_json(list[i].json));
        free(list[i].json);
    }
    free(list);
    if (shown == 0) {
        json_decref(users);
        http_respond_empty(req, 204);
        return;
    }
    http_respond_json(req, 200,
                      json_pack("{s:o, s:{s:I, s:I, s:I, s:b}}", "users", users, "info", "per_page",
                                (json_int_t)per_page, "count", (json_int_t)shown, "page",
                                (json_int_t)page, "more_records", has_more));
}

void api_health(struct http_req *req)
{
    http_respond_json(req, 200, json_pack("{s:s, s:s}", "status", "ok", "version", HERALD_VERSION));
}
