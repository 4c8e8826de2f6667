/* The CRM REST surface: one file per resource (org, users, records, metadata, watch), wired into
 * one route table. Handlers validate in the request thread and hand writes to the store's writer;
 * they answer in Zoho's shapes and envelope. */
#ifndef HERALD_API_API_H
#define HERALD_API_API_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct token_cache;
struct watch_index;

#include "deliver/retry.h"
#include "deliver/ssrf.h"
#include "http/http.h"
#include "store/outbox.h"
#include "store/store.h"

/* What every handler may use; owned by `herald serve`, alive while the server runs. */
struct app {
    struct store *store;
    const char *api_domain;             /* base of resource_uri, no trailing '/' */
    long max_channels;                  /* live channels per organization */
    const struct ssrf_allowlist *allow; /* ranges notify URLs may reach though private */
    struct watch_index *watch;          /* live channels, for matching (watch/index.h) */
    struct retry_schedule *retry;       /* delivery schedule; attempt 0 delay sets next_at */
    /* Set by a job that added outbox rows; the commit hook clears it and wakes the dispatcher,
     * so commits that add nothing (the dispatcher's own) do not wake it. */
    atomic_bool has_new_notifications;
    /* Live tokens by SHA-256 (api/token_cache.h); NULL reads every token from the store. */
    struct token_cache *tokens;
    /* Threads for the DNS lookups that vet notify URLs (core/workq.h); NULL: on the HTTP
     * thread. lookup_delay_ms holds each such lookup that long first (tests: a slow DNS). */
    struct workq *lookups;
    int lookup_delay_ms;
};

/* The route table, ending in a zeroed entry. */
extern const struct http_route api_routes[];

/* http_auth_fn for `app`: hashes the token (SHA-256) and finds it in app->tokens, or else in
 * the store (then caches it). A token revoked through store_token_revoke, by any process, is
 * refused from the next call on. HERALD_ERR_NOT_FOUND for an unknown or revoked token,
 * HERALD_ERR_STORE. who->scopes is the caller's to free. */
enum herald_err api_authenticate(void *app, const char *token, struct http_identity *who);

/* Every scope a token may carry, for `herald token create` validation and `make run`'s token. */
extern const char api_all_scopes[];
/* True when `scope` is one Herald knows (case-insensitive; module scopes for any module name). */
bool api_scope_known(const char *scope);

/* The body's `key` array of 1..max elements (Zoho's `data`, `users`). Returns it (borrowed from
 * *root_out, which the caller releases), or NULL after answering the whole-request error:
 * REQUIRED_PARAM_MISSING (absent or empty), INVALID_DATA (not an object or not an array),
 * LIMIT_EXCEEDED (more than max). */
json_t *api_body_array(struct http_req *req, const char *key, size_t max, json_t **root_out);

/* A list's `page` (1..100000, default 1) and `per_page` (1..200, default 200), decimal digits
 * only, as record lists, GET /users and GET actions/watch take them. False after answering 400
 * INVALID_DATA
 * {"param_name": "page" or "per_page"} for the first one that is out of range or not a number. */
bool api_page_params(struct http_req *req, long *page, long *per_page);

/* Zoho's If-Modified-Since on a read (records and users, a list or one; the SDKs' Get...Header
 * classes send it): an ISO 8601 time with its offset, as Zoho writes its times, into *at_s;
 * *has_since false when the header is absent. Only what was modified at or after it is shown;
 * nothing → 304 without a body. False after answering 400 INVALID_DATA
 * {"header_name":"If-Modified-Since","expected_data_type":"datetime"} for another form. */
bool api_modified_since(struct http_req *req, bool *has_since, int64_t *at_s);

/* Handlers, by resource. */
void api_org_get(struct http_req *req);
void api_users_get(struct http_req *req);
void api_health(struct http_req *req);

/* /crm/{v}/{Module}[/{id}|/upsert] (api/records.c). */
void api_records_list(struct http_req *req);
void api_records_insert(struct http_req *req);
void api_records_update(struct http_req *req);
void api_records_upsert(struct http_req *req);
void api_records_delete(struct http_req *req);
void api_record_get(struct http_req *req);
void api_record_update(struct http_req *req);
void api_record_delete(struct http_req *req);
/* /crm/{v}/users writes and GET /users/{id} (api/users.c). */
/* A stored user as GET shows it (new reference; {} when text is not an object): its
 * created_time and Modified_Time rendered in the current --timezone, as records' times are,
 * whatever zone they were written in. */
json_t *api_user_shown(const char *text);
/* True when the user `u` (as api_user_shown gives it; borrowed) was last modified at or after
 * since_s (Unix seconds), as If-Modified-Since keeps it; a user without a readable
 * Modified_Time counts as modified. */
bool api_user_is_modified_since(const json_t *u, int64_t since_s);
void api_user_get(struct http_req *req);
void api_users_create(struct http_req *req);
void api_users_update(struct http_req *req);
void api_user_update(struct http_req *req);
void api_user_delete(struct http_req *req);
/* /crm/{v}/settings/modules[/{name or id}] and /settings/fields[/{id}] (api/metadata.c). */
void api_modules_list(struct http_req *req);
void api_module_get(struct http_req *req);
void api_fields_list(struct http_req *req);
void api_field_get(struct http_req *req);

/* /crm/{v}/actions/watch (api/watch.c). */
void api_watch_get(struct http_req *req);
void api_watch_post(struct http_req *req);
void api_watch_put(struct http_req *req);
void api_watch_patch(struct http_req *req);
void api_watch_delete(struct http_req *req);
/* /herald/v1/deliveries: the delivery history and resends (api/deliveries.c). Reads need
 * Herald.deliveries.READ or .ALL, resends Herald.deliveries.ALL. */
void api_deliveries_list(struct http_req *req);
void api_delivery_get(struct http_req *req);
void api_delivery_resend(struct http_req *req);
void api_deliveries_resend(struct http_req *req);
/* Failed notifications resent per writer job when resending a channel's (API and CLI). */
#define API_DELIVERIES_RESEND_BATCH 1000
/* One notification as the admin API and `herald deliveries --json` show it; with_payload adds
 * change_id and the callback body (without server_time, which each attempt sets). `n` is
 * borrowed. New reference. */
json_t *api_delivery_json(const struct store_ntf *n, bool with_payload);
/* "pending", "delivered" or "failed" (exactly) into *out; false otherwise. */
bool api_delivery_status_parse(const char *s, enum store_ntf_status *out);
/* The name of a status ("pending", ...); static storage. */
const char *api_delivery_status_name(enum store_ntf_status status);
/* A notification id: 1 to 19 decimal digits, positive. 0 when `s` is not one (or NULL). */
int64_t api_delivery_id_parse(const char *s);
/* An ISO-8601 date-time with offset (time_parse_iso8601), where a space may stand for '+' as
 * unencoded query strings deliver it, into epoch ms. HERALD_OK or HERALD_ERR_INVALID. */
enum herald_err api_delivery_time_parse(const char *s, int64_t *ms_out);

/* Fills app->watch (an empty index) with every live channel of the store, through a writer job.
 * Call before the HTTP server starts. HERALD_OK or HERALD_ERR_STORE. */
enum herald_err api_watch_load(struct app *app);
/* A thread that purges expired channels (store rows and index) every interval_ms through a
 * writer job. NULL when the thread cannot start (logged); stop it before freeing the store. */
struct api_watch_purger;
struct api_watch_purger *api_watch_purger_start(struct app *app, int interval_ms);
/* Stops and joins the purger. NULL is a no-op. */
void api_watch_purger_stop(struct api_watch_purger *p);

#endif
