/* Validation of watch[] items. Each check names the key with Zoho's api_name and the item's
 * json_path; the first problem found is the item's error. JSON null counts as absent, except
 * that PATCH with "token": null, "notification_condition": null or "fields": null clears them. */
#include "watch/channel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/timefmt.h"
#include "core/xmalloc.h"
#include "core/zjson.h"
#include "watch/watch_int.h"

int64_t watch_max_expiry_s(const char *version)
{
    if (meta_version_is_v2(version) || (version && strcmp(version, "v3") == 0))
        return 24 * 3600;
    return 7 * 24 * 3600;
}

void watch_events_render(const struct meta_module *m, unsigned events, json_t *arr)
{
    static const struct {
        unsigned bit;
        const char *verb;
    } order[] = {{WATCH_EV_EDIT, "edit"}, {WATCH_EV_CREATE, "create"}, {WATCH_EV_DELETE, "delete"}};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (!(events & order[i].bit))
            continue;
        char text[256];
        snprintf(text, sizeof text, "%s.%s", m->api_name, order[i].verb);
        json_array_append_new(arr, json_string(text));
    }
}

void watch_item_fini(struct watch_item *it)
{
    if (!it)
        return;
    free(it->notify_url);
    free(it->token);
    free(it->fields);
    for (size_t i = 0; i < it->cond_count; i++)
        watch_cond_free(it->conds[i]);
    memset(it, 0, sizeof *it);
}

const struct watch_cond *watch_item_cond(const struct watch_item *it, const struct meta_module *m)
{
    for (size_t i = 0; i < it->cond_count; i++) {
        if (watch_cond_module(it->conds[i]) == m)
            return it->conds[i];
    }
    return NULL;
}

static bool is_given(const json_t *v)
{
    return v && !json_is_null(v);
}

/* Builds "$.watch[i].key" into out. */
static const char *key_path(char *out, size_t len, size_t index, const char *key)
{
    snprintf(out, len, "$.watch[%zu].%s", index, key);
    return out;
}

/* "Module.op" → module and event bits. Both parts compare case-insensitively, as module API
 * names do everywhere (Zoho's events samples write "Deals.edit" and "users.all"); GET renders
 * the module's API name and the verb in lowercase, the way `all` comes back expanded. */
static bool parse_event(const char *text, struct watch_module_events *out)
{
    const char *dot = strrchr(text, '.');
    if (!dot || dot == text || strlen(text) >= 200)
        return false;
    char name[200];
    memcpy(name, text, (size_t)(dot - text));
    name[dot - text] = '\0';
    const char *verb = dot + 1;
    unsigned bits;
    if (strcasecmp(verb, "create") == 0)
        bits = WATCH_EV_CREATE;
    else if (strcasecmp(verb, "edit") == 0)
        bits = WATCH_EV_EDIT;
    else if (strcasecmp(verb, "delete") == 0)
        bits = WATCH_EV_DELETE;
    else if (strcasecmp(verb, "all") == 0)
        bits = WATCH_EV_ALL;
    else
        return false;
    const struct meta_module *m = meta_module_by_name(name);
    if (!m)
        return false;
    out->module = m;
    out->events = bits;
    return true;
}

static json_t *parse_events(const json_t *events, size_t index, struct watch_item *out)
{
    char path[128];
    key_path(path, sizeof path, index, "events");
    if (!json_is_array(events))
        return werr_type("events", "jsonarray", path);
    size_t n = json_array_size(events);
    if (n == 0)
        return werr_invalid("events", path);
    if (n > WATCH_MAX_EVENTS)
        return werr_max("events", path, WATCH_MAX_EVENTS);
    for (size_t k = 0; k < n; k++) {
        const json_t *e = json_array_get(events, k);
        char epath[160];
        snprintf(epath, sizeof epath, "%s[%zu]", path, k);
        if (!json_is_string(e))
            return werr_type("events", "string", epath);
        struct watch_module_events me;
        if (!parse_event(json_string_value(e), &me))
            return werr_invalid("events", epath);
        size_t j = 0;
        while (j < out->mod_count && out->mods[j].module != me.module)
            j++;
        if (j == out->mod_count)
            out->mods[out->mod_count++] = (struct watch_module_events){me.module, 0};
        out->mods[j].events |= me.events;
    }
    return NULL;
}

static json_t *parse_notify_url(const json_t *v, size_t index, struct watch_item *out)
{
    char path[WATCH_PATH_MAX];
    key_path(path, sizeof path, index, "notify_url");
    if (!json_is_string(v))
        return werr_type("notify_url", "text", path);
    const char *url = json_string_value(v);
    if (meta_utf8_length(url, json_string_length(v)) > WATCH_URL_MAX_CHARS)
        return werr_max("notify_url", path, WATCH_URL_MAX_CHARS);
    if (strlen(url) != json_string_length(v) || url_parse(url, &out->url) != HERALD_OK)
        return werr_invalid("notify_url", path);
    out->notify_url = xstrdup(url);
    return NULL;
}

static json_t *parse_expiry(const json_t *v, size_t index, const struct watch_parse_ctx *ctx,
                            struct watch_item *out)
{
    char path[WATCH_PATH_MAX];
    key_path(path, sizeof path, index, "channel_expiry");
    int64_t at;
    if (!json_is_string(v) || time_parse_iso8601(json_string_value(v), &at) != HERALD_OK)
        return werr_type("channel_expiry", "datetime", path);
    if (at <= ctx->now_s)
        return werr_invalid("channel_expiry", path);
    if (at > ctx->now_s + watch_max_expiry_s(ctx->version))
        at = ctx->now_s + WATCH_DEFAULT_EXPIRY_S;
    out->has_expiry = true;
    out->expiry_s = at;
    return NULL;
}

static json_t *parse_bool(const json_t *v, size_t index, const char *key, bool *has, bool *value)
{
    if (!is_given(v))
        return NULL;
    char path[WATCH_PATH_MAX];
    if (!json_is_boolean(v))
        return werr_type(key, "boolean", key_path(path, sizeof path, index, key));
    *has = true;
    *value = json_is_true(v);
    return NULL;
}

static json_t *parse_conditions(const json_t *v, size_t index, const struct watch_parse_ctx *ctx,
                                struct watch_item *out)
{
    char path[128];
    key_path(path, sizeof path, index, "notification_condition");
    out->has_conditions = true;
    if (json_is_null(v))
        return NULL;
    if (!json_is_array(v))
        return werr_type("notification_condition", "jsonarray", path);
    if (json_array_size(v) > WATCH_MAX_CONDITIONS)
        return werr_max("notification_condition", path, WATCH_MAX_CONDITIONS);
    for (size_t j = 0; j < json_array_size(v); j++) {
        char cpath[160], mpath[192];
        snprintf(cpath, sizeof cpath, "%s[%zu]", path, j);
        snprintf(mpath, sizeof mpath, "%s.module", cpath);
        struct watch_cond *c = NULL;
        json_t *err = watch_cond_parse(json_array_get(v, j), cpath, &c);
        if (err)
            return err;
        const struct meta_module *m = watch_cond_module(c);
        /* One condition per module; and on POST/PUT it must be about a module of `events`
         * (PATCH checks that against the merged channel). */
        bool is_watched = ctx->verb == WATCH_PATCH;
        for (size_t k = 0; k < out->mod_count && !is_watched; k++)
            is_watched = out->mods[k].module == m;
        if (watch_item_cond(out, m) || !is_watched) {
            watch_cond_free(c);
            return werr_invalid("module", mpath);
        }
        out->conds[out->cond_count++] = c;
    }
    return NULL;
}

static json_t *parse_fields(const json_t *v, size_t index, struct watch_item *out)
{
    char path[WATCH_PATH_MAX];
    out->has_fields = true;
    if (json_is_null(v))
        return NULL;
    if (!json_is_array(v) && !json_is_object(v))
        return werr_type("fields", "jsonarray", key_path(path, sizeof path, index, "fields"));
    out->fields = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    return NULL;
}

/* PATCH's mandatory keys are channel_id, events and notify_url in the v6-v8 docs; v2's need
 * channel_id alone, v3's (vertical solutions) leave notify_url optional, and v4's and v5's say
 * nothing: those before v6 take channel_id alone, so no client of them is refused. */
static bool is_patch_id_only(const char *version)
{
    static const char *const before_v6[] = {"v2", "v2.1", "v3", "v4", "v5"};
    for (size_t i = 0; version && i < sizeof before_v6 / sizeof before_v6[0]; i++) {
        if (strcmp(version, before_v6[i]) == 0)
            return true;
    }
    return false;
}

/* The mandatory keys for this verb and version, in the order they are reported. */
static json_t *check_mandatory(const json_t *item, size_t index, const struct watch_parse_ctx *ctx,
                               bool is_delete_events)
{
    static const char *const all[] = {"events", "channel_id", "notify_url", NULL};
    static const char *const id_only[] = {"channel_id", NULL};
    static const char *const delete_events[] = {"events", "channel_id", NULL};
    const char *const *keys = all;
    if (is_delete_events)
        keys = delete_events;
    else if (ctx->verb == WATCH_PATCH && is_patch_id_only(ctx->version))
        keys = id_only;
    for (const char *const *k = keys; *k; k++) {
        if (!is_given(json_object_get(item, *k))) {
            char path[WATCH_PATH_MAX];
            return werr_mandatory(*k, key_path(path, sizeof path, index, *k));
        }
    }
    return NULL;
}

static json_t *parse_item(const json_t *item, size_t index, const struct watch_parse_ctx *ctx,
                          struct watch_item *out)
{
    char path[WATCH_PATH_MAX];
    if (!json_is_object(item)) {
        snprintf(path, sizeof path, "$.watch[%zu]", index);
        return werr_type("watch", "jsonobject", path);
    }
    if (ctx->verb == WATCH_PATCH) {
        const json_t *d = json_object_get(item, "_delete_events");
        if (is_given(d) && !json_is_boolean(d))
            return werr_type("_delete_events", "boolean",
                             key_path(path, sizeof path, index, "_delete_events"));
        out->is_delete_events = json_is_true(d);
    }
    json_t *err = check_mandatory(item, index, ctx, out->is_delete_events);
    if (err)
        return err;

    const json_t *v = json_object_get(item, "channel_id");
    if (is_given(v)) {
        out->channel_id = zjson_long_value(v);
        if (!out->channel_id)
            return werr_type("channel_id", "long",
                             key_path(path, sizeof path, index, "channel_id"));
    }
    v = json_object_get(item, "events");
    if (is_given(v) && (err = parse_events(v, index, out)))
        return err;
    if (out->is_delete_events) {
        /* Only which events to drop, and the related-action flag, matter here. */
        return parse_bool(json_object_get(item, "notify_on_related_action"), index,
                          "notify_on_related_action", &out->has_related, &out->notify_on_related);
    }
    v = json_object_get(item, "notify_url");
    if (is_given(v) && (err = parse_notify_url(v, index, out)))
        return err;
    v = json_object_get(item, "token");
    if (v) {
        key_path(path, sizeof path, index, "token");
        if (!json_is_null(v) && !json_is_string(v))
            return werr_type("token", "text", path);
        if (json_is_string(v) &&
            meta_utf8_length(json_string_value(v), json_string_length(v)) > WATCH_TOKEN_MAX_CHARS)
            return werr_max("token", path, WATCH_TOKEN_MAX_CHARS);
        /* An empty token is no token, as Zoho stores an empty text value (records do the same):
         * callbacks and GET say null, and a PATCH with "" clears it. */
        out->has_token = true;
        out->token =
            json_is_string(v) && json_string_length(v) > 0 ? xstrdup(json_string_value(v)) : NULL;
    }
    v = json_object_get(item, "channel_expiry");
    if (is_given(v) && (err = parse_expiry(v, index, ctx, out)))
        return err;
    err = parse_bool(json_object_get(item, "return_affected_field_values"), index,
                     "return_affected_field_values", &out->has_values, &out->return_values);
    if (err)
        return err;
    err = parse_bool(json_object_get(item, "notify_on_related_action"), index,
                     "notify_on_related_action", &out->has_related, &out->notify_on_related);
    if (err)
        return err;
    v = json_object_get(item, "notification_condition");
    if (v && (err = parse_conditions(v, index, ctx, out)))
        return err;
    v = json_object_get(item, "fields");
    if (v && (err = parse_fields(v, index, out)))
        return err;
    return NULL;
}

json_t *watch_item_parse(const json_t *item, size_t index, const struct watch_parse_ctx *ctx,
                         struct watch_item *out)
{
    memset(out, 0, sizeof *out);
    json_t *err = parse_item(item, index, ctx, out);
    if (err) {
        watch_item_fini(out);
        return err;
    }
    if (ctx->verb != WATCH_PATCH) {
        if (!out->has_expiry)
            out->expiry_s = ctx->now_s + WATCH_DEFAULT_EXPIRY_S;
        if (!out->has_related)
            out->notify_on_related = true;
    }
    return NULL;
}
