/* The delivery history admin API, /herald/v1/deliveries: notifications by channel, status and
 * creation time with every attempt, one notification with its payload, and resending (one, or
 * every failed one of a channel since a time). Herald's own API: its own scopes
 * (Herald.deliveries.READ/ALL), Zoho's error envelope. Reads use a store reader; resends are
 * writer jobs that wake the dispatcher through app->has_new_notifications. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "core/xmalloc.h"
#include "core/zjson.h"
#include "meta/meta.h"
#include "store/outbox.h"

#define PER_PAGE_DEFAULT 50
#define PER_PAGE_MAX 200

static const char *const status_names[] = {
    [STORE_NTF_PENDING] = "pending",
    [STORE_NTF_DELIVERED] = "delivered",
    [STORE_NTF_FAILED] = "failed",
};

bool api_delivery_status_parse(const char *s, enum store_ntf_status *out)
{
    for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++) {
        if (s && strcmp(s, status_names[i]) == 0) {
            *out = (enum store_ntf_status)i;
            return true;
        }
    }
    return false;
}

const char *api_delivery_status_name(enum store_ntf_status status)
{
    if ((size_t)status < sizeof status_names / sizeof status_names[0])
        return status_names[status];
    return "unknown";
}

int64_t api_delivery_id_parse(const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    int64_t id = v ? zjson_id_value(v) : 0;
    json_decref(v);
    return id;
}

enum herald_err api_delivery_time_parse(const char *s, int64_t *ms_out)
{
    /* A '+' left unencoded in a query string arrives as a space: take it back. */
    char copy[64];
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len >= sizeof copy)
        return HERALD_ERR_INVALID;
    for (size_t i = 0; i <= len; i++)
        copy[i] = s[i] == ' ' ? '+' : s[i];
    int64_t epoch_s;
    if (time_parse_iso8601(copy, &epoch_s))
        return HERALD_ERR_INVALID;
    *ms_out = epoch_s * 1000;
    return HERALD_OK;
}

static json_t *time_json(int64_t ms)
{
    char text[TIME_ISO_MAX];
    /* Floor division: an instant before 1970 still names its own second. */
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    time_format_local(s, text);
    return json_string(text);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *status_or_null(int http_status)
{
    return http_status ? json_integer(http_status) : json_null();
}

json_t *api_delivery_json(const struct store_ntf *n, bool with_payload)
{
    const struct meta_module *m = meta_module_by_id_num(n->module_id);
    json_t *module = json_object();
    json_object_set_new(module, "api_name", str_or_null(m ? m->api_name : NULL));
    json_object_set_new(module, "id", zjson_id(n->module_id));

    json_t *attempts = json_array();
    for (size_t i = 0; i < n->attempt_count; i++) {
        const struct store_ntf_attempt *a = &n->attempts[i];
        json_t *o = json_object();
        json_object_set_new(o, "started_time", time_json(a->started_at_ms));
        json_object_set_new(o, "duration_ms", json_integer(a->duration_ms));
        json_object_set_new(o, "http_status", status_or_null(a->http_status));
        /* A response is whatever bytes the receiver sent, cut at 256: a string still. */
        json_object_set_new(o, "error", zjson_string_lossy(a->error));
        json_object_set_new(o, "response", zjson_string_lossy(a->response));
        json_array_append_new(attempts, o);
    }

    json_t *o = json_object();
    json_object_set_new(o, "id", zjson_id(n->id));
    json_object_set_new(o, "channel_id", zjson_id(n->channel_id));
    json_object_set_new(o, "module", module);
    json_object_set_new(o, "operation", str_or_null(n->operation));
    json_object_set_new(o, "notify_url", str_or_null(n->url));
    json_object_set_new(o, "status", json_string(api_delivery_status_name(n->status)));
    json_object_set_new(o, "in_flight", json_boolean(n->is_in_flight));
    json_object_set_new(o, "created_time", time_json(n->created_at_ms));
    json_object_set_new(o, "updated_time", time_json(n->updated_at_ms));
    json_object_set_new(o, "next_attempt_time",
                        n->status == STORE_NTF_PENDING ? time_json(n->next_at_ms) : json_null());
    json_object_set_new(o, "last_http_status", status_or_null(n->last_status));
    json_object_set_new(o, "last_error", zjson_string_lossy(n->last_error));
    json_object_set_new(o, "attempt_count", json_integer((json_int_t)n->attempt_count));
    json_object_set_new(o, "attempts", attempts);
    if (with_payload) {
        json_object_set_new(o, "change_id", zjson_id(n->change_id));
        /* The stored body is the callback after `{"server_time":N,`, which is set per attempt. */
        json_t *payload = NULL;
        if (n->body) {
            size_t len = strlen(n->body);
            char *text = xmalloc(len + 2);
            text[0] = '{';
            memcpy(text + 1, n->body, len + 1);
            payload = json_loads(text, 0, NULL);
            free(text);
        }
        json_object_set_new(o, "payload", payload ? payload : str_or_null(n->body));
    }
    return o;
}

static void respond_internal(struct http_req *req)
{
    http_respond_error(req, 500, "INTERNAL_ERROR", "Internal Server Error", NULL);
}

static void bad_param(struct http_req *req, const char *name)
{
    http_respond_error(req, 400, "INVALID_DATA", "invalid data",
                       json_pack("{s:s}", "param_name", name));
}

/* The notification id of /herald/v1/deliveries/{id}[/resend], or 0 after answering. */
static int64_t path_id(struct http_req *req)
{
    int64_t id = req->seg_count > 3 ? api_delivery_id_parse(req->segs[3]) : 0;
    if (!id)
        http_respond_error(req, 400, "INVALID_DATA", "the id given seems to be invalid",
                           json_pack("{s:s}", "param_name", "id"));
    return id;
}

static void not_found(struct http_req *req, int64_t id)
{
    http_respond_error(req, 404, "RESOURCE_NOT_FOUND", "no notification has the id given",
                       json_pack("{s:o}", "id", zjson_id(id)));
}

/* GET /herald/v1/deliveries?channel_id=&status=&since=&until=&per_page=&before= */
void api_deliveries_list(struct http_req *req)
{
    struct app *app = req->app;
    struct store_ntf_filter f = {
        .org_id = req->who.org_id,
        .since_ms = INT64_MIN,
        .until_ms = INT64_MAX,
    };
    const char *v;
    if ((v = http_req_query(req, "channel_id")) &&
        !(f.channel_id = zjson_long_parse(v, strlen(v)))) {
        bad_param(req, "channel_id");
        return;
    }
    if ((v = http_req_query(req, "status"))) {
        if (!api_delivery_status_parse(v, &f.status)) {
            http_respond_error(req, 400, "INVALID_DATA", "invalid data",
                               json_pack("{s:s, s:[s,s,s]}", "param_name", "status",
                                         "supported_values", "pending", "delivered", "failed"));
            return;
        }
        f.has_status = true;
    }
    if ((v = http_req_query(req, "since")) && api_delivery_time_parse(v, &f.since_ms)) {
        bad_param(req, "since");
        return;
    }
    if ((v = http_req_query(req, "until")) && api_delivery_time_parse(v, &f.until_ms)) {
        bad_param(req, "until");
        return;
    }
    if ((v = http_req_query(req, "before")) && !(f.before_id = api_delivery_id_parse(v))) {
        bad_param(req, "before");
        return;
    }
    long per_page = PER_PAGE_DEFAULT;
    if ((v = http_req_query(req, "per_page"))) {
        char *end = NULL;
        per_page = strtol(v, &end, 10);
        if (!*v || *end || per_page < 1 || per_page > PER_PAGE_MAX) {
            http_respond_error(
                req, 400, "INVALID_DATA", "invalid data",
                json_pack("{s:s, s:i}", "param_name", "per_page", "maximum", PER_PAGE_MAX));
            return;
        }
    }
    f.limit = (size_t)per_page + 1; /* one more tells whether another page follows */
    struct store_ntf *rows = NULL;
    size_t n = 0;
    enum herald_err err = store_outbox_list(app->store, &f, &rows, &n);
    if (err) {
        respond_internal(req);
        return;
    }
    bool has_more = n > (size_t)per_page;
    size_t shown = has_more ? (size_t)per_page : n;
    json_t *list = json_array();
    for (size_t i = 0; i < shown; i++)
        json_array_append_new(list, api_delivery_json(&rows[i], false));
    json_t *next = has_more ? zjson_id(rows[shown - 1].id) : json_null();
    store_ntf_list_free(rows, n);
    http_respond_json(req, 200,
                      json_pack("{s:o, s:{s:i, s:I, s:b, s:o}}", "deliveries", list, "info",
                                "per_page", (int)per_page, "count", (json_int_t)shown,
                                "more_records", has_more, "next_before", next));
}

/* GET /herald/v1/deliveries/{id} */
void api_delivery_get(struct http_req *req)
{
    struct app *app = req->app;
    int64_t id = path_id(req);
    if (!id)
        return;
    struct store_ntf n;
    enum herald_err err = store_outbox_get(app->store, req->who.org_id, id, &n);
    if (err == HERALD_ERR_NOT_FOUND) {
        not_found(req, id);
        return;
    }
    if (err) {
        respond_internal(req);
        return;
    }
    json_t *o = api_delivery_json(&n, true);
    store_ntf_fini(&n);
    http_respond_json(req, 200, json_pack("{s:[o]}", "deliveries", o));
}

struct resend_job {
    struct app *app;
    struct http_req *req;
    int64_t org_id;
    int64_t id; /* one notification, or 0 for a channel's failed ones */
    int64_t channel_id;
    int64_t since_ms;
    int64_t started_ms; /* the bulk operation's start: rows failing after it are not redone */
    size_t total;
    size_t last; /* rows resent by the last job */
};

static enum herald_err resend_run(struct store_txn *txn, void *arg)
{
    struct resend_job *j = arg;
    enum herald_err err;
    if (j->id) {
        err = store_txn_notification_resend(txn, j->org_id, j->id, time_now_ms());
        j->last = err ? 0 : 1;
    } else {
        err = store_txn_notifications_resend_failed(txn, j->org_id, j->channel_id, j->since_ms,
                                                    j->started_ms, time_now_ms(),
                                                    API_DELIVERIES_RESEND_BATCH, &j->last);
    }
    if (!err && j->last)
        atomic_store(&j->app->has_new_notifications, true);
    return err;
}

static void resend_done(void *arg, enum herald_err err)
{
    struct resend_job *j = arg;
    struct http_req *req = j->req;
    if (!err)
        j->total += j->last;
    if (!err && !j->id && j->last == API_DELIVERIES_RESEND_BATCH) {
        /* More may remain: another small job, so the writer is never held for long. */
        store_submit(j->app->store, resend_run, j, resend_done);
        return;
    }
    if (err == HERALD_ERR_NOT_FOUND) {
        not_found(req, j->id);
    } else if (err == HERALD_ERR_DENIED) {
        http_respond_error(req, 409, "DELIVERY_IN_PROGRESS",
                           "an attempt to deliver this notification is in flight; resend it "
                           "after the attempt ends",
                           json_pack("{s:o}", "id", zjson_id(j->id)));
    } else if (err) {
        log_error("msg=\"resend failed\" error=%s resent=%zu", herald_err_name(err), j->total);
        respond_internal(req);
    } else if (j->id) {
        http_respond_json(
            req, 200,
            zjson_success("the notification will be sent again",
                          json_pack("{s:o, s:s}", "id", zjson_id(j->id), "status", "pending")));
    } else {
        log_info("msg=\"failed notifications resent\" channel=%lld count=%zu",
                 (long long)j->channel_id, j->total);
        http_respond_json(
            req, 200,
            zjson_success("the failed notifications will be sent again",
                          json_pack("{s:o, s:I}", "channel_id", zjson_id(j->channel_id), "count",
                                    (json_int_t)j->total)));
    }
    free(j);
}

/* POST /herald/v1/deliveries/{id}/resend */
void api_delivery_resend(struct http_req *req)
{
    int64_t id = path_id(req);
    if (!id)
        return;
    struct resend_job *j = xcalloc(1, sizeof *j);
    *j = (struct resend_job){.app = req->app, .req = req, .org_id = req->who.org_id, .id = id};
    store_submit(j->app->store, resend_run, j, resend_done);
}

static void body_key_error(struct http_req *req, const char *code, const char *message,
                           const char *key)
{
    char path[64];
    snprintf(path, sizeof path, "$.%s", key);
    http_respond_error(req, 400, code, message,
                       json_pack("{s:s, s:s}", "api_name", key, "json_path", path));
}

/* POST /herald/v1/deliveries/resend {"channel_id": "...", "since": "ISO-8601"}: every failed
 * notification of the channel created at or after `since`. */
void api_deliveries_resend(struct http_req *req)
{
    json_t *root = http_req_json(req);
    if (!root)
        return;
    if (!json_is_object(root)) {
        json_decref(root);
        http_respond_error(req, 400, "INVALID_DATA", "invalid data",
                           json_pack("{s:s}", "expected_data_type", "jsonobject"));
        return;
    }
    json_t *channel = json_object_get(root, "channel_id");
    json_t *since = json_object_get(root, "since");
    int64_t channel_id = zjson_long_value(channel);
    int64_t since_ms = 0;
    if (!channel || json_is_null(channel)) {
        body_key_error(req, "MANDATORY_NOT_FOUND", "required field not found", "channel_id");
    } else if (!channel_id) {
        body_key_error(req, "INVALID_DATA", "invalid data", "channel_id");
    } else if (!since || json_is_null(since)) {
        body_key_error(req, "MANDATORY_NOT_FOUND", "required field not found", "since");
    } else if (!json_is_string(since) ||
               api_delivery_time_parse(json_string_value(since), &since_ms)) {
        body_key_error(req, "INVALID_DATA", "invalid data", "since");
    } else {
        struct resend_job *j = xcalloc(1, sizeof *j);
        *j = (struct resend_job){
            .app = req->app,
            .req = req,
            .org_id = req->who.org_id,
            .channel_id = channel_id,
            .since_ms = since_ms,
            .started_ms = time_now_ms(),
        };
        store_submit(j->app->store, resend_run, j, resend_done);
    }
    json_decref(root);
}
