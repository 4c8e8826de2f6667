/* Rendering a callback body. Values go through jansson once (they are JSON already); everything
 * else is written directly, so one callback costs one pass over its bytes. */
#include "watch/payload.h"

#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "core/zjson.h"
#include "watch/qparams.h"

/* Zoho's callbacks are Java HashMaps serialized in iteration order: every sample's key order
 * (the payload's own keys, query_params' "key1","key2","?authorization", affected values'
 * "Probability","Stage", a lookup's "name","id","email") is the order of the buckets of a
 * default-sized java.util.HashMap, entries of one bucket in insertion order. Objects Herald
 * renders from data (query_params, affected values) follow the same order, so bodies match
 * Zoho's byte for byte. */

/* String.hashCode over the UTF-16 code units of a UTF-8 key, spread as HashMap.hash does. */
static uint32_t java_hash(const char *s)
{
    uint32_t h = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        int extra;
        if (*p < 0x80) {
            cp = *p;
            extra = 0;
        } else if ((*p & 0xe0) == 0xc0) {
            cp = *p & 0x1f;
            extra = 1;
        } else if ((*p & 0xf0) == 0xe0) {
            cp = *p & 0x0f;
            extra = 2;
        } else {
            cp = *p & 0x07;
            extra = 3;
        }
        p++;
        for (int i = 0; i < extra && (*p & 0xc0) == 0x80; i++)
            cp = (cp << 6) | (*p++ & 0x3f);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xd800 + (cp >> 10));
            h = 31 * h + (0xdc00 + (cp & 0x3ff));
        } else {
            h = 31 * h + cp;
        }
    }
    return h ^ (h >> 16);
}

struct java_key {
    const char *key;
    size_t bucket;
    size_t order;
};

static int java_key_cmp(const void *a, const void *b)
{
    const struct java_key *x = a, *y = b;
    if (x->bucket != y->bucket)
        return x->bucket < y->bucket ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The keys of `obj` in HashMap iteration order; caller frees. A default HashMap has 16 buckets
 * and doubles whenever it holds more than 3/4 of its capacity. */
static struct java_key *java_order(const json_t *obj, size_t *count)
{
    size_t n = json_object_size(obj);
    size_t cap = 16;
    while (n > cap / 4 * 3)
        cap *= 2;
    struct java_key *keys = xcalloc(n ? n : 1, sizeof *keys);
    size_t i = 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        (void)value;
        keys[i] = (struct java_key){.key = key, .bucket = java_hash(key) & (cap - 1), .order = i};
        i++;
    }
    qsort(keys, n, sizeof *keys, java_key_cmp);
    *count = n;
    return keys;
}

static void put_java_json(struct buf *out, const json_t *v)
{
    if (json_is_object(v)) {
        size_t n;
        struct java_key *keys = java_order(v, &n);
        buf_putc(out, '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                buf_putc(out, ',');
            zjson_put_str(out, keys[i].key);
            buf_putc(out, ':');
            put_java_json(out, json_object_get(v, keys[i].key));
        }
        buf_putc(out, '}');
        free(keys);
        return;
    }
    if (json_is_array(v)) {
        buf_putc(out, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                buf_putc(out, ',');
            put_java_json(out, json_array_get(v, i));
        }
        buf_putc(out, ']');
        return;
    }
    zjson_dump(out, v);
}

static void put_values(struct buf *out, const json_t *values)
{
    if (json_is_object(values))
        put_java_json(out, values);
    else
        buf_puts(out, "{}");
}

void watch_payload_query_params(const char *notify_url, struct buf *out)
{
    struct buf raw;
    buf_init(&raw);
    qparams_render(notify_url, &raw);
    if (raw.len == 0 || (raw.len == 2 && memcmp(raw.data, "{}", 2) == 0)) {
        /* No query: the usual notify URL, and a sixth of the start-up's channel load when it
         * went through jansson. */
        buf_puts(out, "{}");
        buf_fini(&raw);
        return;
    }
    json_t *params = json_loadb(raw.data ? raw.data : "{}", raw.len ? raw.len : 2, 0, NULL);
    if (params)
        put_java_json(out, params);
    else
        buf_append(out, raw.data, raw.len);
    json_decref(params);
    buf_fini(&raw);
}

static void put_affected_values(struct buf *out, const struct watch_payload *p)
{
    buf_puts(out, "\"affected_values\":[");
    if (p->op != CHANGE_DELETE) {
        for (size_t i = 0; i < p->count; i++) {
            if (i)
                buf_putc(out, ',');
            buf_puts(out, "{\"record_id\":");
            zjson_put_id(out, p->records[i].id);
            buf_puts(out, ",\"values\":");
            put_values(out, p->records[i].values);
            buf_putc(out, '}');
        }
    }
    buf_puts(out, "],");
}

static void put_affected_fields(struct buf *out, const struct watch_payload *p)
{
    buf_puts(out, "\"affected_fields\":[");
    if (p->op == CHANGE_UPDATE) {
        for (size_t i = 0; i < p->count; i++) {
            if (i)
                buf_putc(out, ',');
            buf_putc(out, '{');
            zjson_put_id(out, p->records[i].id);
            buf_puts(out, ":[");
            const char *key;
            json_t *value;
            bool is_first = true;
            /* jansson iterates an object in insertion order: the order the fields were set. */
            json_object_foreach((json_t *)p->records[i].values, key, value)
            {
                (void)value;
                if (!is_first)
                    buf_putc(out, ',');
                is_first = false;
                zjson_put_str(out, key);
            }
            buf_puts(out, "]}");
        }
    }
    buf_puts(out, "],");
}

void watch_payload_render(const struct watch_payload *p, struct buf *out)
{
    if (p->has_values)
        put_affected_values(out, p);
    buf_puts(out, "\"query_params\":");
    if (p->query_params)
        buf_puts(out, p->query_params);
    else
        watch_payload_query_params(p->notify_url, out);
    buf_puts(out, ",\"module\":");
    zjson_put_str(out, p->module);
    buf_puts(out, ",\"resource_uri\":");
    struct buf uri;
    buf_init(&uri);
    buf_puts(&uri, p->api_domain);
    buf_puts(&uri, "/crm/v2/");
    buf_puts(&uri, p->module);
    buf_put_json_str(out, uri.data, uri.len);
    buf_fini(&uri);
    buf_puts(out, ",\"ids\":[");
    for (size_t i = 0; i < p->count; i++) {
        if (i)
            buf_putc(out, ',');
        zjson_put_id(out, p->records[i].id);
    }
    buf_puts(out, "],");
    put_affected_fields(out, p);
    buf_puts(out, "\"operation\":");
    zjson_put_str(out, change_op_name(p->op));
    buf_puts(out, ",\"channel_id\":");
    zjson_put_id(out, p->channel_id);
    buf_puts(out, ",\"token\":");
    zjson_put_str(out, p->token);
    buf_putc(out, '}');
}
