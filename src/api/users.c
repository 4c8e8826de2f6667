/* /crm/{v}/users writes and GET /users/{id}: users are stored as Zoho's user JSON, checked
 * against the "users" pseudo-module's fields, and every change is a change event of module
 * "users" published in the same writer job. Listing and CurrentUser live in org.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/publish.h"
#include "api/records_logic.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "core/xmalloc.h"
#include "core/zjson.h"
#include "meta/meta.h"
#include "store/records.h"
#include "watch/change.h"

#define MAX_USERS 100 /* per POST or PUT */

enum user_op { USER_CREATE, USER_UPDATE, USER_DELETE };

struct urow {
    json_t *error; /* owned; NULL while fine */
    struct records_input in;
    int64_t id;
    bool has_change;
    json_t *change_values; /* owned */
};

struct user_job {
    struct http_req *req;
    struct app *app;
    const struct meta_module *module;
    enum user_op op;
    int64_t org_id;
    int64_t user_id;
    int64_t at_ms;
    char request_id[24];
    struct urow *rows;
    size_t count;
};

static void respond_internal(struct http_req *req)
{
    http_respond_error(req, 500, "INTERNAL_ERROR", "Internal Server Error", NULL);
}

static struct user_job *job_new(struct http_req *req, enum user_op op, size_t count)
{
    struct user_job *job = xcalloc(1, sizeof *job);
    job->req = req;
    job->app = req->app;
    job->module = meta_module_by_name("users");
    job->op = op;
    job->org_id = req->who.org_id;
    job->user_id = req->who.user_id;
    job->rows = xcalloc(count ? count : 1, sizeof *job->rows);
    job->count = count;
    snprintf(job->request_id, sizeof job->request_id, "%lld",
             (long long)store_id_next(job->app->store));
    return job;
}

static void job_free(struct user_job *job)
{
    for (size_t i = 0; i < job->count; i++) {
        json_decref(job->rows[i].error);
        records_input_fini(&job->rows[i].in);
        json_decref(job->rows[i].change_values);
    }
    free(job->rows);
    free(job);
}

/* ---- inside the writer job ---- */

/* What the acting user lends to the users it creates or edits. */
struct actor {
    json_t *json; /* the acting user's object, owned (an empty object when it is gone) */
    const char *name;
};

static enum herald_err actor_load(struct store_txn *txn, struct user_job *job, struct actor *a)
{
    struct store_user u = {0};
    enum herald_err err = store_txn_user_get(txn, job->org_id, job->user_id, &u);
    if (err && err != HERALD_ERR_NOT_FOUND)
        return err;
    a->json = u.json ? json_loads(u.json, 0, NULL) : NULL;
    free(u.json);
    if (!json_is_object(a->json)) {
        json_decref(a->json);
        a->json = json_object();
    }
    json_t *name = json_object_get(a->json, "full_name");
    a->name = json_is_string(name) ? json_string_value(name) : NULL;
    return HERALD_OK;
}

static json_t *who_json(const struct user_job *job, const struct actor *a)
{
    return json_pack("{s:o, s:o}", "name", a->name ? json_string(a->name) : json_null(), "id",
                     zjson_id(job->user_id));
}

/* role and profile are given as ids (a string, or {"id"}); the organization has the roles and
 * profiles its admin has, so a given id must be the acting user's. Replaces the value with the
 * {"name","id"} object. False when the id is unknown. */
static bool resolve_ref(json_t *values, const char *key, const struct actor *a)
{
    json_t *v = json_object_get(values, key);
    if (!v || json_is_null(v))
        return true;
    json_t *mine = json_object_get(a->json, key);
    json_t *mine_id = json_object_get(mine, "id");
    json_t *given = json_is_object(v) ? json_object_get(v, "id") : v;
    int64_t id = zjson_id_value(given);
    if (!id || id != zjson_id_value(mine_id))
        return false;
    json_object_set(values, key, mine);
    return true;
}

static char *full_name(const json_t *u)
{
    const char *first = json_string_value(json_object_get(u, "first_name"));
    const char *last = json_string_value(json_object_get(u, "last_name"));
    size_t n = (first ? strlen(first) : 0) + (last ? strlen(last) : 0) + 2;
    char *name = xmalloc(n);
    snprintf(name, n, "%s%s%s", first ? first : "", first && *first && last ? " " : "",
             last ? last : "");
    return name;
}

/* Fails the row with DUPLICATE_DATA when another user has the email `values` sets. */
static enum herald_err check_email(struct store_txn *txn, struct user_job *job, struct urow *r,
                                   size_t index)
{
    json_t *email = json_object_get(r->in.values, "email");
    if (!json_is_string(email))
        return HERALD_OK;
    int64_t other = 0;
    enum herald_err err =
        store_txn_user_by_email(txn, job->org_id, json_string_value(email), &other);
    if (err == HERALD_ERR_NOT_FOUND)
        return HERALD_OK;
    if (err)
        return err;
    if (other != r->id)
        r->error = records_field_error("DUPLICATE_DATA", "duplicate data", "users", "email", index);
    return HERALD_OK;
}

static enum herald_err put_user(struct store_txn *txn, struct user_job *job, struct urow *r,
                                json_t *u, bool is_new)
{
    char *name = full_name(u);
    json_object_set_new(u, "full_name", json_string(name));
    free(name);
    char *text = json_dumps(u, JSON_COMPACT | JSON_PRESERVE_ORDER);
    const char *email = json_string_value(json_object_get(u, "email"));
    enum herald_err err = text ? store_txn_user_put(txn, job->org_id, r->id, email ? email : "",
                                                    text, job->at_ms / 1000, is_new)
                               : HERALD_ERR_STORE;
    free(text);
    return err == HERALD_ERR_EXISTS ? HERALD_ERR_STORE : err;
}

static enum herald_err create_user(struct store_txn *txn, struct user_job *job, struct urow *r,
                                   size_t index, const struct actor *a)
{
    json_t *v = r->in.values;
    if (!resolve_ref(v, "role", a) || !resolve_ref(v, "profile", a)) {
        const char *key = resolve_ref(v, "role", a) ? "profile" : "role";
        r->error = records_field_error("INVALID_DATA", "invalid data", "users", key, index);
        return HERALD_OK;
    }
    enum herald_err err = check_email(txn, job, r, index);
    if (err || r->error)
        return err;
    r->id = store_id_next(job->app->store);
    char ts[TIME_ISO_MAX];
    time_format_local(job->at_ms / 1000, ts);
    json_t *u = json_object();
    json_object_set_new(u, "id", zjson_id(r->id));
    static const char *const keys[] = {"first_name", "last_name", "full_name", "email",
                                       "phone",      "mobile",    "role",      "profile",
                                       "status",     "time_zone"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *given = json_object_get(v, keys[i]);
        if (given)
            json_object_set(u, keys[i], given);
        else if (strcmp(keys[i], "role") == 0 || strcmp(keys[i], "profile") == 0)
            json_object_set(u, keys[i], json_object_get(a->json, keys[i]));
        else if (strcmp(keys[i], "status") == 0)
            json_object_set_new(u, keys[i], json_string("active"));
        else if (strcmp(keys[i], "time_zone") == 0)
            json_object_set_new(u, keys[i], json_string(time_zone_name()));
        else if (strcmp(keys[i], "full_name") == 0)
            json_object_set_new(u, keys[i], json_string(""));
        else /* shown as null, as Zoho's users and Herald's records show an unset field */
            json_object_set_new(u, keys[i], json_null());
    }
    json_object_set_new(u, "confirm", json_false());
    static const char *const locales[] = {"locale", "country_locale"};
    for (size_t i = 0; i < sizeof locales / sizeof locales[0]; i++) {
        json_t *given = json_object_get(v, locales[i]);
        json_object_set_new(u, locales[i], given ? json_incref(given) : json_string("en_US"));
    }
    json_object_set_new(u, "created_by", who_json(job, a));
    json_object_set_new(u, "created_time", json_string(ts));
    json_object_set_new(u, "Modified_By", who_json(job, a));
    json_object_set_new(u, "Modified_Time", json_string(ts));
    err = put_user(txn, job, r, u, true);
    json_decref(u);
    if (!err) {
        r->has_change = true;
        r->change_values = json_incref(v);
    }
    return err;
}

static enum herald_err update_user(struct store_txn *txn, struct user_job *job, struct urow *r,
                                   size_t index, const struct actor *a)
{
    struct store_user old = {0};
    enum herald_err err = store_txn_user_get(txn, job->org_id, r->id, &old);
    if (err == HERALD_ERR_NOT_FOUND) {
        r->error = records_field_error("INVALID_DATA", "invalid data", "users", "id", index);
        return HERALD_OK;
    }
    if (err)
        return err;
    json_t *old_json = json_loads(old.json, 0, NULL);
    free(old.json);
    if (!json_is_object(old_json)) {
        json_decref(old_json);
        old_json = json_object();
    }
    json_t *v = r->in.values;
    if (!resolve_ref(v, "role", a) || !resolve_ref(v, "profile", a)) {
        const char *key = resolve_ref(v, "role", a) ? "profile" : "role";
        r->error = records_field_error("INVALID_DATA", "invalid data", "users", key, index);
    } else {
        err = check_email(txn, job, r, index);
    }
    if (!err && !r->error) {
        json_t *changed = records_changed(old_json, v);
        if (json_object_size(changed)) {
            /* A cleared field stays in the user as null, as on a user that never had it: every
             * user shows the same keys (records_merge drops them, as a record's stored data
             * does, but a user is shown as stored). */
            json_t *u = json_copy(old_json);
            json_object_update(u, changed);
            char ts[TIME_ISO_MAX];
            time_format_local(job->at_ms / 1000, ts);
            json_object_set_new(u, "Modified_By", who_json(job, a));
            json_object_set_new(u, "Modified_Time", json_string(ts));
            err = put_user(txn, job, r, u, false);
            json_decref(u);
        }
        r->has_change = !err;
        r->change_values = changed;
    }
    json_decref(old_json);
    return err;
}

static enum herald_err delete_user(struct store_txn *txn, struct user_job *job, struct urow *r)
{
    enum herald_err err =
        r->id == job->user_id ? HERALD_ERR_DENIED : store_txn_user_delete(txn, job->org_id, r->id);
    if (err == HERALD_ERR_NOT_FOUND || err == HERALD_ERR_DENIED) {
        r->error = zjson_error("INVALID_DATA",
                               err == HERALD_ERR_DENIED ? "the current user cannot be deleted"
                                                        : "the user id given seems to be invalid",
                               json_pack("{s:o}", "id", zjson_id(r->id)));
        return HERALD_OK;
    }
    if (!err) {
        r->has_change = true;
        r->change_values = json_object();
    }
    return err;
}

static enum herald_err job_run(struct store_txn *txn, void *arg)
{
    struct user_job *job = arg;
    job->at_ms = time_now_ms();
    struct actor a = {0};
    enum herald_err err = actor_load(txn, job, &a);
    for (size_t i = 0; i < job->count && !err; i++) {
        struct urow *r = &job->rows[i];
        if (r->error)
            continue;
        if (job->op == USER_CREATE)
            err = create_user(txn, job, r, i, &a);
        else if (job->op == USER_UPDATE)
            err = update_user(txn, job, r, i, &a);
        else
            err = delete_user(txn, job, r);
    }
    struct change_record *recs = xcalloc(job->count, sizeof *recs);
    size_t n = 0;
    for (size_t i = 0; i < job->count && !err; i++) {
        struct urow *r = &job->rows[i];
        if (r->error || !r->has_change)
            continue;
        recs[n].id = r->id;
        recs[n].values = r->change_values;
        n++;
    }
    if (!err && n && job->module) {
        static const enum change_op ops[] = {CHANGE_INSERT, CHANGE_UPDATE, CHANGE_DELETE};
        struct change_event ev = {
            .org_id = job->org_id,
            .module = job->module,
            .op = ops[job->op],
            .request_id = job->request_id,
            .records = recs,
            .count = n,
            .at_ms = job->at_ms,
        };
        err = api_publish_change(txn, job->app, &ev);
    }
    free(recs);
    json_decref(a.json);
    return err;
}

/* ---- answering ---- */

static void respond_rows(struct user_job *job)
{
    static const char *const messages[] = {"User added", "User updated", "User deleted"};
    struct http_req *req = job->req;
    json_t *items = json_array();
    size_t failed = 0;
    for (size_t i = 0; i < job->count; i++) {
        struct urow *r = &job->rows[i];
        if (r->error) {
            failed++;
            json_array_append(items, r->error);
            continue;
        }
        json_t *details =
            job->op == USER_DELETE ? json_object() : json_pack("{s:o}", "id", zjson_id(r->id));
        json_array_append_new(items, zjson_success(messages[job->op], details));
    }
    int status = failed == job->count ? 400 : failed ? 207 : job->op == USER_CREATE ? 201 : 200;
    job_free(job);
    http_respond_json(req, status, json_pack("{s:o}", "users", items));
}

static void job_done(void *arg, enum herald_err err)
{
    struct user_job *job = arg;
    if (err) {
        struct http_req *req = job->req;
        log_error("msg=\"user change failed\" error=%s", herald_err_name(err));
        job_free(job);
        respond_internal(req);
        return;
    }
    respond_rows(job);
}

static void submit(struct user_job *job)
{
    bool has_work = false;
    for (size_t i = 0; i < job->count && !has_work; i++)
        has_work = !job->rows[i].error;
    if (!has_work || !job->module) {
        if (!job->module) {
            struct http_req *req = job->req;
            job_free(job);
            respond_internal(req);
            return;
        }
        respond_rows(job);
        return;
    }
    store_submit(job->app->store, job_run, job, job_done);
}

/* ---- handlers ---- */

/* The user id of /users/{id}, or 0 after answering. */
static int64_t path_user_id(struct http_req *req)
{
    json_t *v = req->seg_count > 3 ? json_string(req->segs[3]) : NULL;
    int64_t id = v ? zjson_id_value(v) : 0;
    json_decref(v);
    if (!id)
        http_respond_error(req, 400, "INVALID_DATA", "the user id given seems to be invalid",
                           json_pack("{s:i}", "resource_path_index", 1));
    return id;
}

/* The element with role and profile given as objects ({"id"}, as the official SDKs send them)
 * or as JSON numbers (ids may be sent as strings or numbers, herald-contract §3) turned into the
 * id strings of Zoho's samples, which the pseudo-module's text fields check and
 * resolve_ref resolves, and without the keys a user shows that no client sets (created_by,
 * created_time, confirm): a user read with GET and sent back is taken as a record is, its
 * read-only fields ignored; they were unknown fields. New reference; the element itself when
 * there is nothing to turn. */
static json_t *user_element(json_t *element)
{
    static const char *const keys[] = {"role", "profile"};
    static const char *const shown_only[] = {"created_by", "created_time", "confirm"};
    json_t *out = NULL;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        json_t *v = json_object_get(element, keys[k]);
        int64_t id = json_is_object(v)    ? zjson_id_value(json_object_get(v, "id"))
                     : json_is_integer(v) ? zjson_id_value(v)
                                          : 0;
        if (!id)
            continue;
        if (!out)
            out = json_copy(element);
        json_object_set_new(out, keys[k], zjson_id(id));
    }
    for (size_t k = 0; k < sizeof shown_only / sizeof shown_only[0]; k++) {
        if (!json_object_get(element, shown_only[k]))
            continue;
        if (!out)
            out = json_copy(element);
        json_object_del(out, shown_only[k]);
    }
    return out ? out : json_incref(element);
}

static void check_users(struct user_job *job, json_t *users, enum records_mode mode)
{
    const struct meta_module *m = job->module;
    for (size_t i = 0; i < job->count && m; i++) {
        struct urow *r = &job->rows[i];
        json_t *element = user_element(json_array_get(users, i));
        r->error = records_check_in(m, element, "users", i, mode, &r->in);
        json_decref(element);
        if (r->error)
            continue;
        /* Zoho also requires last_name, which the pseudo-module does not mark mandatory so a
         * PUT may leave it out; it may not be cleared either. Nor may what every user has from
         * its creation on (given or defaulted): its role, profile, status, time zone and
         * locales, as a record's Owner may be changed but not removed. */
        static const char *const kept[] = {"last_name", "role",   "profile",       "status",
                                           "time_zone", "locale", "country_locale"};
        json_t *last = json_object_get(r->in.values, "last_name");
        const char *cleared = mode == RECORDS_INSERT && !last ? "last_name" : NULL;
        for (size_t k = 0; k < sizeof kept / sizeof kept[0] && !cleared; k++) {
            if (json_is_null(json_object_get(r->in.values, kept[k])))
                cleared = kept[k];
        }
        if (cleared)
            r->error = records_field_error("MANDATORY_NOT_FOUND", "required field not found",
                                           "users", cleared, i);
    }
}

void api_users_create(struct http_req *req)
{
    json_t *root = NULL;
    json_t *users = api_body_array(req, "users", MAX_USERS, &root);
    if (!users)
        return;
    struct user_job *job = job_new(req, USER_CREATE, json_array_size(users));
    check_users(job, users, RECORDS_INSERT);
    json_decref(root);
    submit(job);
}

static void update(struct http_req *req, int64_t single_id)
{
    json_t *root = NULL;
    json_t *users = api_body_array(req, "users", single_id ? 1 : MAX_USERS, &root);
    if (!users)
        return;
    struct user_job *job = job_new(req, USER_UPDATE, json_array_size(users));
    check_users(job, users, RECORDS_UPDATE);
    for (size_t i = 0; i < job->count; i++) {
        struct urow *r = &job->rows[i];
        json_t *id = json_object_get(json_array_get(users, i), "id");
        r->id = single_id ? single_id : zjson_id_value(id);
        if (r->error || r->id)
            continue;
        r->error =
            records_field_error(id ? "INVALID_DATA" : "MANDATORY_NOT_FOUND",
                                id ? "invalid data" : "required field not found", "users", "id", i);
    }
    json_decref(root);
    submit(job);
}

void api_users_update(struct http_req *req)
{
    update(req, 0);
}

void api_user_update(struct http_req *req)
{
    int64_t id = path_user_id(req);
    if (id)
        update(req, id);
}

void api_user_delete(struct http_req *req)
{
    int64_t id = path_user_id(req);
    if (!id)
        return;
    struct user_job *job = job_new(req, USER_DELETE, 1);
    job->rows[0].id = id;
    submit(job);
}

bool api_user_is_modified_since(const json_t *u, int64_t since_s)
{
    const char *at = json_string_value(json_object_get(u, "Modified_Time"));
    int64_t at_s;
    return !at || time_parse_iso8601(at, &at_s) || at_s >= since_s;
}

json_t *api_user_shown(const char *text)
{
    json_t *u = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(u)) {
        json_decref(u);
        return json_object();
    }
    static const char *const times[] = {"created_time", "Modified_Time"};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        const char *stored = json_string_value(json_object_get(u, times[i]));
        int64_t epoch_s;
        if (stored && !time_parse_iso8601(stored, &epoch_s)) {
            char ts[TIME_ISO_MAX];
            time_format_local(epoch_s, ts);
            json_object_set_new(u, times[i], json_string(ts));
        }
    }
    return u;
}

void api_user_get(struct http_req *req)
{
    struct app *app = req->app;
    int64_t id = path_user_id(req);
    if (!id)
        return;
    bool has_since;
    int64_t since_s;
    if (!api_modified_since(req, &has_since, &since_s))
        return;
    struct store_user u = {0};
    enum herald_err err = store_user_get(app->store, req->who.org_id, id, &u);
    if (err == HERALD_ERR_NOT_FOUND) {
        http_respond_empty(req, 204);
        return;
    }
    if (err) {
        respond_internal(req);
        return;
    }
    json_t *user = api_user_shown(u.json);
    free(u.json);
    if (has_since && !api_user_is_modified_since(user, since_s)) {
        json_decref(user);
        http_respond_empty(req, 304); /* not modified since: no body, as on records */
        return;
    }
    http_respond_json(req, 200, json_pack("{s:[o]}", "users", user));
}
