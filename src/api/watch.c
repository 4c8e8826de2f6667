/* /crm/{v}/actions/watch: enable (POST), details (GET), replace (PUT), merge or remove events
 * (PATCH) and disable (DELETE), for every version v2 ... v8. Items are checked in the request
 * thread (watch/channel.c, then the notify URL's address check, which may block on DNS); the
 * writes run as one store job on the writer thread, which also patches the in-memory index, so
 * a change committed after the job sees the new channels and one committed before does not.
 * The answer is sent from the job's done callback, after the commit. GET reads the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "core/log.h"
#include "core/ticker.h"
#include "core/timefmt.h"
#include "core/workq.h"
#include "core/xmalloc.h"
#include "core/zjson.h"
#include "deliver/ssrf.h"
#include "store/channels.h"
#include "watch/channel.h"
#include "watch/index.h"

#define MSG_SUBSCRIBED "Successfully subscribed for actions-watch of the given module"
#define MSG_UPDATED "Successfully updated the subscribe details"
#define MSG_REMOVED "Successfully removed the subscribe details"
#define MSG_UNSUBSCRIBED "Successfully un-subscribed from actions-watch"
#define MAX_DELETE_IDS 100
#define MAX_DELETE_IDS_CHARS 512 /* channel_ids, as Zoho's OAS bounds it (maxLength) */

static int64_t now_s(void)
{
    return time_now_ms() / 1000;
}

static json_t *resource_uri(const struct app *app, const struct meta_module *m)
{
    char uri[1024];
    snprintf(uri, sizeof uri, "%s/crm/v2/%s", app->api_domain ? app->api_domain : "", m->api_name);
    return json_string(uri);
}

static json_t *expiry_json(int64_t expiry_s)
{
    char text[TIME_ISO_MAX];
    time_format_local(expiry_s, text);
    return json_string(text);
}

/* Feeding the index from stored rows. */

static void index_put_rows(struct watch_index *ix, const struct store_channel *rows, size_t n)
{
    if (n == 0)
        return;
    struct watch_index_row *ir = xcalloc(n, sizeof *ir);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct meta_module *m = meta_module_by_id_num(rows[i].module_id);
        if (!m) {
            log_warn("msg=\"channel row for an unknown module skipped\" channel_id=%lld "
                     "module_id=%lld",
                     (long long)rows[i].channel_id, (long long)rows[i].module_id);
            continue;
        }
        ir[k++] = (struct watch_index_row){
            .module = m, .events = rows[i].events, .condition = rows[i].condition};
    }
    struct watch_index_channel ch = {
        .org_id = rows[0].org_id,
        .channel_id = rows[0].channel_id,
        .expiry_s = rows[0].expiry_s,
        .notify_url = rows[0].notify_url,
        .token = rows[0].token,
        .notify_on_related = rows[0].notify_on_related,
        .return_values = rows[0].return_values,
        .rows = ir,
        .row_count = k,
    };
    if (k)
        watch_index_put(ix, &ch);
    else
        watch_index_remove(ix, rows[0].org_id, rows[0].channel_id);
    free(ir);
}

static void row_copy(struct store_channel *dst, const struct store_channel *src)
{
    *dst = *src;
    dst->notify_url = xstrdup(src->notify_url);
    dst->token = xstrdup(src->token);
    dst->condition = xstrdup(src->condition);
    dst->fields = xstrdup(src->fields);
}

/* Rows arrive ordered by (org, channel, module); one channel's rows are gathered (taken from
 * the store's row, strings included) and put together. */
struct load_state {
    struct watch_index *ix;
    struct store_channel *rows;
    size_t count, cap;
    size_t channels;
};

static void load_flush(struct load_state *st)
{
    if (st->count) {
        index_put_rows(st->ix, st->rows, st->count);
        st->channels++;
    }
    for (size_t i = 0; i < st->count; i++)
        store_channel_fini(&st->rows[i]);
    st->count = 0;
}

static enum herald_err load_row(void *arg, struct store_channel *row)
{
    struct load_state *st = arg;
    if (st->count &&
        (st->rows[0].org_id != row->org_id || st->rows[0].channel_id != row->channel_id))
        load_flush(st);
    if (st->count == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 8;
        st->rows = xrealloc(st->rows, st->cap * sizeof *st->rows);
    }
    st->rows[st->count++] = *row;
    *row = (struct store_channel){0}; /* taken */
    return HERALD_OK;
}

/* Fills the index from the store: through the writer's transaction (t) or, with t NULL, from a
 * reader's snapshot. */
static enum herald_err load(struct store *s, struct store_txn *t, struct watch_index *ix)
{
    struct load_state st = {.ix = ix};
    int64_t started_ms = time_mono_ms();
    watch_index_clear(ix);
    enum herald_err err = t ? store_txn_channel_each(t, now_s(), load_row, &st)
                            : store_channel_each(s, now_s(), load_row, &st);
    load_flush(&st);
    free(st.rows);
    if (!err)
        log_info("msg=\"watch channels loaded\" channels=%zu duration_ms=%lld", st.channels,
                 (long long)(time_mono_ms() - started_ms));
    return err;
}

static enum herald_err load_run(struct store_txn *t, void *arg)
{
    return load(NULL, t, arg);
}

/* At start-up, before any request or writer job can touch the index: built on the calling
 * thread from a read snapshot. (On the writer it grew the writer's malloc arena a page at a
 * time, one mprotect each: 7,675 of them for 100,000 channels.) The writer's later use of the
 * index is ordered after this by the store's queue. */
enum herald_err api_watch_load(struct app *app)
{
    return load(app->store, NULL, app->watch);
}

static void reload_done(void *arg, enum herald_err err)
{
    (void)arg;
    if (err)
        log_error("msg=\"watch index reload failed\" error=%s", herald_err_name(err));
}

/* After a job that patched the index failed to commit, the index is rebuilt from what did. */
static void reload_later(struct app *app)
{
    log_warn("msg=\"watch job failed after patching the index; reloading it\"");
    store_submit(app->store, load_run, app->watch, reload_done);
}

/* Purging expired channels. */

static enum herald_err purge_run(struct store_txn *t, void *arg)
{
    struct app *app = arg;
    int64_t now = now_s();
    size_t rows = 0;
    enum herald_err err = store_txn_channel_purge(t, now, &rows);
    if (err)
        return err;
    size_t channels = watch_index_purge(app->watch, now);
    if (rows || channels)
        log_info("msg=\"expired channels purged\" rows=%zu channels=%zu", rows, channels);
    return HERALD_OK;
}

struct api_watch_purger {
    struct app *app;
    int64_t interval_ms;
    struct ticker *ticker;
};

static int64_t purge_round(void *arg)
{
    struct api_watch_purger *p = arg;
    store_submit(p->app->store, purge_run, p->app, NULL);
    return p->interval_ms;
}

struct api_watch_purger *api_watch_purger_start(struct app *app, int interval_ms)
{
    struct api_watch_purger *p = xcalloc(1, sizeof *p);
    p->app = app;
    p->interval_ms = interval_ms > 0 ? interval_ms : 60000;
    p->ticker = ticker_start("channel purger", purge_round, p, p->interval_ms);
    if (!p->ticker) {
        free(p);
        return NULL;
    }
    return p;
}

void api_watch_purger_stop(struct api_watch_purger *p)
{
    if (!p)
        return;
    ticker_stop(p->ticker);
    free(p);
}

/* The write job shared by POST, PUT, PATCH and DELETE. */

struct watch_job {
    struct http_req *req;
    struct app *app;
    int64_t org_id;
    enum watch_verb verb;
    bool is_delete; /* DELETE ?channel_ids= */
    bool is_v2;     /* 202 instead of 400 when every item fails */
    size_t count;   /* items, or ids for DELETE */
    struct watch_item *items;
    json_t **results;     /* per item: the error found before the job, or what the job says */
    int64_t *ids;         /* DELETE: the ids (0: the parse error in results[i]) */
    json_t **delete_rows; /* DELETE: per id, an array of per-row results */
    bool has_patched_index;
};

/* NOT_SUBSCRIBED, with Zoho's messages as the v2 and v2.1 SDKs enumerate them: the channel
 * (PATCH, DELETE or _delete_events of a channel that has no live row), or the module of a live
 * channel (_delete_events naming none of its modules). Zoho answers a PATCH of an unknown channel
 * on v8 with the first too. */
static const char not_subscribed_channel[] =
    "Not subscribed for actions-watch of the given channel";
static const char not_subscribed_module[] =
    "Not subscribed for actions-watch of the given module/channel";

static json_t *not_subscribed(const char *message, json_t *details)
{
    return zjson_error("NOT_SUBSCRIBED", message, details);
}

static json_t *item_field(size_t index, const char *key)
{
    char path[128];
    snprintf(path, sizeof path, "$.watch[%zu].%s", index, key);
    return zjson_field(key, path);
}

/* {"channel_expiry"?, "resource_uri", "resource_id", "resource_name", "channel_id"} */
static json_t *event_entry(const struct app *app, const struct meta_module *m, int64_t channel_id,
                           const int64_t *expiry_s)
{
    json_t *e = json_object();
    if (expiry_s)
        json_object_set_new(e, "channel_expiry", expiry_json(*expiry_s));
    json_object_set_new(e, "resource_uri", resource_uri(app, m));
    json_object_set_new(e, "resource_id", json_string(m->id));
    json_object_set_new(e, "resource_name", json_string(m->api_name));
    json_object_set_new(e, "channel_id", zjson_id(channel_id));
    return e;
}

static char *cond_text(const struct watch_cond *c)
{
    if (!c)
        return NULL;
    json_t *j = watch_cond_render(c);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

/* Replaces every stored row of the channel with `rows` and patches the index. */
static enum herald_err write_channel(struct watch_job *j, struct store_txn *t, int64_t channel_id,
                                     const struct store_channel *rows, size_t n)
{
    enum herald_err err = store_txn_channel_remove(t, j->org_id, channel_id, NULL);
    for (size_t i = 0; i < n && !err; i++)
        err = store_txn_channel_put(t, &rows[i]);
    if (err)
        return err;
    j->has_patched_index = true;
    if (n)
        index_put_rows(j->app->watch, rows, n);
    else
        watch_index_remove(j->app->watch, j->org_id, channel_id);
    return HERALD_OK;
}

/* POST and PUT: the channel becomes exactly the item (created when unknown). */
static enum herald_err replace_item(struct watch_job *j, struct store_txn *t, size_t i, int64_t now)
{
    struct watch_item *it = &j->items[i];
    struct app *app = j->app;
    bool is_live = watch_index_has(app->watch, j->org_id, it->channel_id, now);
    if (!is_live && (long)watch_index_live_count(app->watch, j->org_id, now) >= app->max_channels) {
        json_t *d = item_field(i, "channel_id");
        json_object_set_new(d, "limit", json_integer(app->max_channels));
        j->results[i] =
            zjson_error("LIMIT_REACHED", "the maximum number of channels is reached", d);
        return HERALD_OK;
    }
    /* A replaced channel keeps its place in listings; a new one goes last. */
    int64_t seq = 0;
    if (is_live) {
        struct store_channel *old = NULL;
        size_t n = 0;
        enum herald_err err = store_txn_channel_rows(t, j->org_id, it->channel_id, now, &old, &n);
        if (err)
            return err;
        seq = n ? old[0].seq : 0;
        store_channels_free(old, n);
    }
    if (!seq)
        seq = store_id_next(app->store);
    struct store_channel rows[WATCH_MAX_EVENTS];
    for (size_t k = 0; k < it->mod_count; k++) {
        rows[k] = (struct store_channel){
            .org_id = j->org_id,
            .channel_id = it->channel_id,
            .module_id = it->mods[k].module->id_num,
            .seq = seq,
            .events = it->mods[k].events,
            .notify_url = it->notify_url,
            .token = it->token,
            .expiry_s = it->expiry_s,
            .notify_on_related = it->notify_on_related,
            .return_values = it->return_values,
            .condition = cond_text(watch_item_cond(it, it->mods[k].module)),
            .fields = it->fields,
            .created_at_s = now,
            .updated_at_s = now,
        };
    }
    enum herald_err err = write_channel(j, t, it->channel_id, rows, it->mod_count);
    for (size_t k = 0; k < it->mod_count; k++)
        free(rows[k].condition);
    if (err)
        return err;
    json_t *events = json_array();
    for (size_t k = 0; k < it->mod_count; k++)
        json_array_append_new(events,
                              event_entry(app, it->mods[k].module, it->channel_id, &it->expiry_s));
    j->results[i] = zjson_success(MSG_SUBSCRIBED, json_pack("{s:o}", "events", events));
    return HERALD_OK;
}

static void set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = xstrdup(src);
}

static struct store_channel *find_row(struct store_channel *rows, size_t n, int64_t module_id)
{
    for (size_t k = 0; k < n; k++) {
        if (rows[k].module_id == module_id)
            return &rows[k];
    }
    return NULL;
}

/* PATCH without _delete_events: events given are added, other keys given replace theirs. */
static enum herald_err merge_item(struct watch_job *j, struct store_txn *t, size_t i, int64_t now)
{
    struct watch_item *it = &j->items[i];
    struct store_channel *old = NULL;
    size_t n = 0;
    enum herald_err err = store_txn_channel_rows(t, j->org_id, it->channel_id, now, &old, &n);
    if (err)
        return err;
    if (n == 0) {
        store_channels_free(old, n);
        j->results[i] = not_subscribed(not_subscribed_channel, item_field(i, "channel_id"));
        return HERALD_OK;
    }
    struct store_channel *rows = xcalloc(n + it->mod_count, sizeof *rows);
    size_t count = 0;
    for (size_t k = 0; k < n; k++)
        row_copy(&rows[count++], &old[k]);
    for (size_t k = 0; k < it->mod_count; k++) {
        struct store_channel *r = find_row(rows, count, it->mods[k].module->id_num);
        if (r) {
            r->events |= it->mods[k].events;
            continue;
        }
        r = &rows[count++];
        row_copy(r, &rows[0]);
        r->module_id = it->mods[k].module->id_num;
        r->events = it->mods[k].events;
        set_str(&r->condition, NULL);
        r->created_at_s = now;
    }
    if (it->has_conditions) {
        for (size_t k = 0; k < count; k++)
            set_str(&rows[k].condition, NULL);
        for (size_t c = 0; c < it->cond_count; c++) {
            struct store_channel *r =
                find_row(rows, count, watch_cond_module(it->conds[c])->id_num);
            if (!r) {
                char path[160];
                snprintf(path, sizeof path, "$.watch[%zu].notification_condition[%zu].module", i,
                         c);
                j->results[i] =
                    zjson_error("INVALID_DATA", "invalid data", zjson_field("module", path));
                goto out;
            }
            free(r->condition);
            r->condition = cond_text(it->conds[c]);
        }
    }
    for (size_t k = 0; k < count; k++) {
        struct store_channel *r = &rows[k];
        if (it->notify_url)
            set_str(&r->notify_url, it->notify_url);
        if (it->has_token)
            set_str(&r->token, it->token);
        if (it->has_expiry)
            r->expiry_s = it->expiry_s;
        if (it->has_related)
            r->notify_on_related = it->notify_on_related;
        if (it->has_values)
            r->return_values = it->return_values;
        if (it->has_fields)
            set_str(&r->fields, it->fields);
        r->updated_at_s = now;
    }
    err = write_channel(j, t, it->channel_id, rows, count);
    if (err)
        goto out;
    json_t *events = json_array();
    if (it->mod_count) {
        for (size_t k = 0; k < it->mod_count; k++)
            json_array_append_new(
                events, event_entry(j->app, it->mods[k].module, it->channel_id, &rows[0].expiry_s));
    } else {
        for (size_t k = 0; k < count; k++) {
            const struct meta_module *m = meta_module_by_id_num(rows[k].module_id);
            if (m)
                json_array_append_new(events,
                                      event_entry(j->app, m, it->channel_id, &rows[0].expiry_s));
        }
    }
    j->results[i] = zjson_success(MSG_UPDATED, json_pack("{s:o}", "events", events));
out:
    store_channels_free(rows, count);
    store_channels_free(old, n);
    return err;
}

/* PATCH with _delete_events: the listed events leave the channel; a module left without events
 * loses its row, a channel left without rows is gone. */
static enum herald_err remove_events_item(struct watch_job *j, struct store_txn *t, size_t i,
                                          int64_t now)
{
    struct watch_item *it = &j->items[i];
    struct store_channel *rows = NULL;
    size_t n = 0;
    enum herald_err err = store_txn_channel_rows(t, j->org_id, it->channel_id, now, &rows, &n);
    if (err)
        return err;
    json_t *events = json_array();
    for (size_t k = 0; k < it->mod_count; k++) {
        struct store_channel *r = find_row(rows, n, it->mods[k].module->id_num);
        if (!r)
            continue;
        r->events &= ~it->mods[k].events;
        json_array_append_new(events,
                              event_entry(j->app, it->mods[k].module, it->channel_id, NULL));
    }
    if (json_array_size(events) == 0) {
        json_decref(events);
        j->results[i] = not_subscribed(n ? not_subscribed_module : not_subscribed_channel,
                                       item_field(i, "channel_id"));
        goto out;
    }
    size_t kept = 0;
    for (size_t k = 0; k < n; k++) {
        if (!rows[k].events) {
            store_channel_fini(&rows[k]);
            continue;
        }
        if (it->has_related)
            rows[k].notify_on_related = it->notify_on_related;
        rows[k].updated_at_s = now;
        rows[kept++] = rows[k];
    }
    n = kept;
    err = write_channel(j, t, it->channel_id, rows, n);
    if (err) {
        json_decref(events);
        goto out;
    }
    j->results[i] = zjson_success(MSG_REMOVED, json_pack("{s:o}", "events", events));
out:
    store_channels_free(rows, n);
    return err;
}

/* DELETE: every row of each listed channel goes, one result per row. */
static enum herald_err disable_id(struct watch_job *j, struct store_txn *t, size_t i, int64_t now)
{
    int64_t id = j->ids[i];
    struct store_channel *rows = NULL;
    size_t n = 0;
    enum herald_err err = store_txn_channel_rows(t, j->org_id, id, now, &rows, &n);
    if (!err)
        err = write_channel(j, t, id, NULL, 0);
    if (err) {
        store_channels_free(rows, n);
        return err;
    }
    json_t *out = json_array();
    for (size_t k = 0; k < n; k++) {
        const struct meta_module *m = meta_module_by_id_num(rows[k].module_id);
        if (!m)
            continue;
        json_t *d = json_object();
        json_object_set_new(d, "resource_uri", resource_uri(j->app, m));
        json_object_set_new(d, "resource_id", json_string(m->id));
        json_object_set_new(d, "channel_id", zjson_id(id));
        json_array_append_new(out, zjson_success(MSG_UNSUBSCRIBED, d));
    }
    if (json_array_size(out) == 0)
        json_array_append_new(out, not_subscribed(not_subscribed_channel,
                                                  json_pack("{s:o}", "channel_id", zjson_id(id))));
    j->delete_rows[i] = out;
    store_channels_free(rows, n);
    return HERALD_OK;
}

static enum herald_err job_run(struct store_txn *t, void *arg)
{
    struct watch_job *j = arg;
    int64_t now = now_s();
    enum herald_err err = HERALD_OK;
    for (size_t i = 0; i < j->count && !err; i++) {
        if (j->results[i])
            continue; /* refused before the job */
        if (j->is_delete)
            err = disable_id(j, t, i, now);
        else if (j->verb != WATCH_PATCH)
            err = replace_item(j, t, i, now);
        else if (j->items[i].is_delete_events)
            err = remove_events_item(j, t, i, now);
        else
            err = merge_item(j, t, i, now);
    }
    return err;
}

static void job_free(struct watch_job *j)
{
    for (size_t i = 0; i < j->count; i++) {
        if (j->items)
            watch_item_fini(&j->items[i]);
        json_decref(j->results[i]);
        if (j->delete_rows)
            json_decref(j->delete_rows[i]);
    }
    free(j->items);
    free(j->results);
    free(j->ids);
    free(j->delete_rows);
    free(j);
}

/* Status for per-item results: all success → ok_status, none → 400 (202 on v2/v2.1), else 207. */
static int status_of(json_t *list, int ok_status, bool is_v2)
{
    size_t good = 0, n = json_array_size(list);
    for (size_t i = 0; i < n; i++) {
        const char *status = json_string_value(json_object_get(json_array_get(list, i), "status"));
        if (status && strcmp(status, "success") == 0)
            good++;
    }
    if (good == n)
        return ok_status;
    if (good == 0)
        return is_v2 ? 202 : 400;
    return 207;
}

static void job_done(void *arg, enum herald_err err)
{
    struct watch_job *j = arg;
    if (err) {
        /* The job's writes are gone (rolled back or never committed) but the index saw them. */
        if (j->has_patched_index)
            reload_later(j->app);
        http_respond_error(j->req, 500, "INTERNAL_ERROR", "Internal Server Error", NULL);
        job_free(j);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < j->count; i++) {
        if (j->is_delete && j->delete_rows[i]) {
            json_array_extend(list, j->delete_rows[i]);
            continue;
        }
        json_array_append(list, j->results[i]);
    }
    int ok = j->verb == WATCH_POST && !j->is_delete ? 201 : 200;
    int status = status_of(list, ok, j->is_v2);
    http_respond_json(j->req, status, json_pack("{s:o}", "watch", list));
    job_free(j);
}

static struct watch_job *job_new(struct http_req *req, enum watch_verb verb, size_t count)
{
    struct watch_job *j = xcalloc(1, sizeof *j);
    j->req = req;
    j->app = req->app;
    j->org_id = req->who.org_id;
    j->verb = verb;
    j->is_v2 = meta_version_is_v2(req->version);
    j->count = count;
    j->results = xcalloc(count ? count : 1, sizeof *j->results);
    return j;
}

/* POST, PUT, PATCH. */

static void respond_top(struct http_req *req, json_t *error)
{
    http_respond_json(req, 400, error);
}

/* Refuses the notify URLs whose host is an address off limits, then hands the job to the
 * writer. A host named by DNS makes this run on a lookup thread (app->lookups), not the HTTP
 * thread: getaddrinfo blocks for as long as the name server takes. */
static void vet_and_submit(void *arg)
{
    struct watch_job *j = arg;
    struct app *app = j->app;
    for (size_t i = 0; i < j->count; i++) {
        if (j->results[i] || !j->items[i].notify_url)
            continue;
        if (!j->items[i].url.is_ip_literal)
            time_sleep_ms(app->lookup_delay_ms);
        const char *why = NULL;
        enum herald_err err =
            ssrf_resolve_check(app->allow, j->items[i].url.host, j->items[i].url.port, NULL, &why);
        /* A name that does not resolve now may later; delivery checks again before connecting.
         * Only an address known to be off limits is refused here. */
        if (err == HERALD_ERR_DENIED || err == HERALD_ERR_INVALID) {
            /* The item's answer is Zoho's bare "invalid data"; the log says why, and how to
             * allow a private receiver (a local test hook is the first thing users try). */
            log_info("msg=\"notify_url refused\" reason=\"%s\" host=\"%s\"%s",
                     why ? why : "invalid host", j->items[i].url.host,
                     err == HERALD_ERR_DENIED
                         ? " hint=\"the address is outside every --allow-network range; add one "
                           "to allow it, e.g. --allow-network 127.0.0.0/8\""
                         : "");
            j->results[i] =
                zjson_error("INVALID_DATA", "invalid data", item_field(i, "notify_url"));
        }
    }
    store_submit(app->store, job_run, j, job_done);
}

static void handle_items(struct http_req *req, enum watch_verb verb)
{
    struct app *app = req->app;
    json_t *body = http_req_json(req);
    if (!body)
        return;
    const json_t *watch = json_is_object(body) ? json_object_get(body, "watch") : NULL;
    if (!watch || json_is_null(watch)) {
        respond_top(req, zjson_error("MANDATORY_NOT_FOUND", "required field not found",
                                     zjson_field("watch", "$.watch")));
        goto out;
    }
    if (!json_is_array(watch)) {
        json_t *d = json_pack("{s:s, s:s, s:s}", "api_name", "watch", "expected_data_type",
                              "jsonarray", "json_path", "$.watch");
        respond_top(req, zjson_error("INVALID_DATA", "invalid data", d));
        goto out;
    }
    size_t n = json_array_size(watch);
    if (n == 0) {
        respond_top(req,
                    zjson_error("INVALID_DATA", "invalid data", zjson_field("watch", "$.watch")));
        goto out;
    }
    if (n > WATCH_MAX_ITEMS) {
        json_t *d = zjson_field("watch", "$.watch");
        json_object_set_new(d, "maximum_length", json_integer(WATCH_MAX_ITEMS));
        respond_top(req, zjson_error("INVALID_DATA", "invalid data", d));
        goto out;
    }
    struct watch_job *j = job_new(req, verb, n);
    j->items = xcalloc(n, sizeof *j->items);
    struct watch_parse_ctx ctx = {.verb = verb, .version = req->version, .now_s = now_s()};
    bool has_names = false;
    for (size_t i = 0; i < n; i++) {
        j->results[i] = watch_item_parse(json_array_get(watch, i), i, &ctx, &j->items[i]);
        has_names |= !j->results[i] && j->items[i].notify_url && !j->items[i].url.is_ip_literal;
    }
    if (has_names && app->lookups)
        workq_run(app->lookups, vet_and_submit, j);
    else
        vet_and_submit(j);
out:
    json_decref(body);
}

void api_watch_post(struct http_req *req)
{
    handle_items(req, WATCH_POST);
}

void api_watch_put(struct http_req *req)
{
    handle_items(req, WATCH_PUT);
}

void api_watch_patch(struct http_req *req)
{
    handle_items(req, WATCH_PATCH);
}

/* DELETE ?channel_ids=a,b,c */

static bool is_listed(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == id)
            return true;
    }
    return false;
}

void api_watch_delete(struct http_req *req)
{
    struct app *app = req->app;
    const char *list = http_req_query(req, "channel_ids");
    size_t n = 0;
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len)
            n++;
        p = end ? end + 1 : p + len;
    }
    if (n == 0) {
        http_respond_error(req, 400, "REQUIRED_PARAM_MISSING",
                           "One of the expected parameter is missing",
                           json_pack("{s:s}", "param_name", "channel_ids"));
        return;
    }
    /* The reference's limit is on the parameter's length (Zoho's OAS: a string of at most 512
     * characters); Herald's own cap of 100 ids is reached only by ids of a few digits. */
    size_t max = strlen(list) > MAX_DELETE_IDS_CHARS ? MAX_DELETE_IDS_CHARS
                 : n > MAX_DELETE_IDS                ? MAX_DELETE_IDS
                                                     : 0;
    if (max) {
        http_respond_error(
            req, 400, "INVALID_DATA", "invalid data",
            json_pack("{s:s, s:i}", "param_name", "channel_ids", "maximum_length", (int)max));
        return;
    }
    struct watch_job *j = job_new(req, WATCH_PATCH, n);
    j->is_delete = true;
    j->ids = xcalloc(n, sizeof *j->ids);
    j->delete_rows = xcalloc(n, sizeof *j->delete_rows);
    size_t i = 0;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len) {
            j->ids[i] = zjson_long_parse(p, len);
            if (j->ids[i] && is_listed(j->ids, i, j->ids[i])) {
                /* A list gathered from GET's rows names a channel once per module; the
                 * channel goes once, and the repeat is no NOT_SUBSCRIBED error. */
                p = end ? end + 1 : p + len;
                continue;
            }
            if (!j->ids[i]) {
                char *given = xstrndup(p, len);
                j->results[i] = zjson_error(
                    "INVALID_DATA", "invalid data",
                    json_pack("{s:s, s:s}", "param_name", "channel_ids", "channel_id", given));
                free(given);
            }
            i++;
        }
        p = end ? end + 1 : p + len;
    }
    j->count = i;
    store_submit(app->store, job_run, j, job_done);
}

/* GET ?page=&per_page=&channel_id=&module= */

static json_t *row_json(const struct app *app, const struct store_channel *r,
                        const struct meta_module *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "notify_on_related_action", json_boolean(r->notify_on_related));
    json_object_set_new(o, "channel_expiry", expiry_json(r->expiry_s));
    json_object_set_new(o, "return_affected_field_values", json_boolean(r->return_values));
    json_object_set_new(o, "resource_uri", resource_uri(app, m));
    json_object_set_new(o, "resource_id", json_string(m->id));
    json_object_set_new(o, "notify_url", json_string(r->notify_url));
    json_object_set_new(o, "resource_name", json_string(m->api_name));
    json_t *fields = r->fields ? json_loads(r->fields, JSON_DECODE_ANY, NULL) : NULL;
    json_object_set_new(o, "fields", fields ? fields : json_null());
    json_t *cond = r->condition ? json_loads(r->condition, 0, NULL) : NULL;
    json_object_set_new(o, "notification_condition", cond ? json_pack("[o]", cond) : json_null());
    json_object_set_new(o, "channel_id", zjson_id(r->channel_id));
    json_t *events = json_array();
    watch_events_render(m, r->events, events);
    json_object_set_new(o, "events", events);
    json_object_set_new(o, "token", r->token ? json_string(r->token) : json_null());
    return o;
}

void api_watch_get(struct http_req *req)
{
    struct app *app = req->app;
    /* page 1..100000 and per_page 1..200 (default 200), checked as record and user lists
     * check them: anything else is 400 INVALID_DATA {"param_name"}. */
    long page, per_page;
    if (!api_page_params(req, &page, &per_page))
        return;
    int64_t channel_id = 0, module_id = 0;
    const char *cid = http_req_query(req, "channel_id");
    if (cid && *cid && !(channel_id = zjson_long_parse(cid, strlen(cid)))) {
        http_respond_error(req, 400, "INVALID_DATA", "invalid data",
                           json_pack("{s:s}", "param_name", "channel_id"));
        return;
    }
    const char *module = http_req_query(req, "module");
    if (module && *module) {
        const struct meta_module *m = meta_module_by_name(module);
        if (!m) {
            http_respond_error(req, 400, "INVALID_DATA", "invalid data",
                               json_pack("{s:s}", "param_name", "module"));
            return;
        }
        module_id = m->id_num;
    }
    struct store_channel *rows = NULL;
    size_t n = 0;
    enum herald_err err =
        store_channel_list(app->store, req->who.org_id, channel_id, module_id, now_s(),
                           (size_t)(page - 1) * (size_t)per_page, (size_t)per_page + 1, &rows, &n);
    if (err) {
        http_respond_error(req, 500, "INTERNAL_ERROR", "Internal Server Error", NULL);
        return;
    }
    bool has_more = n > (size_t)per_page;
    if (has_more)
        n = (size_t)per_page;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct meta_module *m = meta_module_by_id_num(rows[i].module_id);
        if (m)
            json_array_append_new(list, row_json(app, &rows[i], m));
    }
    store_channels_free(rows, has_more ? n + 1 : n);
    if (json_array_size(list) == 0) {
        json_decref(list);
        http_respond_empty(req, 204);
        return;
    }
    json_t *info =
        json_pack("{s:i, s:i, s:i, s:b}", "per_page", (int)per_page, "count",
                  (int)json_array_size(list), "page", (int)page, "more_records", has_more);
    http_respond_json(req, 200, json_pack("{s:o, s:o}", "watch", list, "info", info));
}
