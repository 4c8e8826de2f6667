/* GET /crm/{v}/org and GET /crm/{v}/users (CurrentUser and listing): the calls the official SDKs
 * make at start-up. Users' writes live in users.c. */
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

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

/* GET /users?type=: Zoho's user types. Users are deleted for good here, so DeletedUsers lists
 * none; every user has the organization's one profile (its admin's), so AdminUsers are those
 * whose profile is the Administrator profile. CurrentUser is the token's user, a list of one that
 * is paged and takes If-Modified-Since as the other types do. */
enum user_type {
    USERS_ALL,
    USERS_ACTIVE,
    USERS_DEACTIVE,
    USERS_CONFIRMED,
    USERS_NOT_CONFIRMED,
    USERS_DELETED,
    USERS_ACTIVE_CONFIRMED,
    USERS_ADMIN,
    USERS_ACTIVE_CONFIRMED_ADMINS,
    USERS_CURRENT,
};

static const char *const user_types[] = {
    [USERS_ALL] = "AllUsers",
    [USERS_ACTIVE] = "ActiveUsers",
    [USERS_DEACTIVE] = "DeactiveUsers",
    [USERS_CONFIRMED] = "ConfirmedUsers",
    [USERS_NOT_CONFIRMED] = "NotConfirmedUsers",
    [USERS_DELETED] = "DeletedUsers",
    [USERS_ACTIVE_CONFIRMED] = "ActiveConfirmedUsers",
    [USERS_ADMIN] = "AdminUsers",
    [USERS_ACTIVE_CONFIRMED_ADMINS] = "ActiveConfirmedAdmins",
    [USERS_CURRENT] = "CurrentUser",
};

static bool user_is(const json_t *u, enum user_type type, int64_t current_id)
{
    const char *status = json_string_value(json_object_get(u, "status"));
    bool is_active = status && strcmp(status, "active") == 0;
    bool is_confirmed = json_is_true(json_object_get(u, "confirm"));
    const char *profile = json_string_value(json_object_get(json_object_get(u, "profile"), "name"));
    bool is_admin = profile && strcmp(profile, "Administrator") == 0;
    switch (type) {
    case USERS_ACTIVE:
        return is_active;
    case USERS_DEACTIVE:
        return !is_active;
    case USERS_CONFIRMED:
        return is_confirmed;
    case USERS_NOT_CONFIRMED:
        return !is_confirmed;
    case USERS_DELETED:
        return false;
    case USERS_ACTIVE_CONFIRMED:
        return is_active && is_confirmed;
    case USERS_ADMIN:
        return is_admin;
    case USERS_ACTIVE_CONFIRMED_ADMINS:
        return is_active && is_confirmed && is_admin;
    case USERS_CURRENT: {
        const char *id = json_string_value(json_object_get(u, "id"));
        return id && strtoll(id, NULL, 10) == current_id;
    }
    default:
        return true;
    }
}

void api_users_get(struct http_req *req)
{
    struct app *app = req->app;
    const char *type_text = http_req_query(req, "type");
    enum user_type type = USERS_ALL;
    if (type_text) {
        size_t i = 0;
        while (i < sizeof user_types / sizeof user_types[0] &&
               strcasecmp(type_text, user_types[i]) != 0)
            i++;
        if (i == sizeof user_types / sizeof user_types[0]) {
            http_respond_error(req, 400, "INVALID_DATA", "invalid data",
                               json_pack("{s:s}", "param_name", "type"));
            return;
        }
        type = (enum user_type)i;
    }
    long page, per_page;
    if (!api_page_params(req, &page, &per_page))
        return;
    bool has_since;
    int64_t since_s;
    if (!api_modified_since(req, &has_since, &since_s))
        return;
    /* AllUsers pages in SQL; a filtered type, or If-Modified-Since, reads every user (an
     * organization has few) and pages what passes. */
    size_t skip = (size_t)(page - 1) * (size_t)per_page;
    bool is_filtered = type != USERS_ALL || has_since;
    struct store_user *list = NULL;
    size_t n = 0;
    enum herald_err err =
        store_user_list(app->store, req->who.org_id, is_filtered ? 0 : skip,
                        is_filtered ? (size_t)INT64_MAX : (size_t)per_page + 1, &list, &n);
    if (err) {
        http_respond_error(req, 500, "INTERNAL_ERROR", "Internal Server Error", NULL);
        return;
    }
    json_t *users = json_array();
    size_t passed = 0;
    bool has_more = false;
    for (size_t i = 0; i < n; i++) {
        json_t *u = api_user_shown(list[i].json);
        free(list[i].json);
        if (!user_is(u, type, req->who.user_id) ||
            (has_since && !api_user_is_modified_since(u, since_s)) ||
            (is_filtered && passed++ < skip)) {
            json_decref(u);
            continue;
        }
        if (json_array_size(users) == (size_t)per_page) {
            has_more = true;
            json_decref(u);
            continue;
        }
        json_array_append_new(users, u);
    }
    free(list);
    size_t shown = json_array_size(users);
    if (shown == 0) {
        json_decref(users);
        /* Nothing modified since: Not Modified, as a record list answers. */
        http_respond_empty(req, has_since && page == 1 ? 304 : 204);
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
