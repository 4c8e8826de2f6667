/* Zoho's envelope and id conventions: ids are decimal strings on the wire. */
#include "core/zjson.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *zjson_error(const char *code, const char *message, json_t *details)
{
    return json_pack("{s:s, s:o, s:s, s:s}", "code", code, "details",
                     details ? details : json_object(), "message", message, "status", "error");
}

json_t *zjson_success(const char *message, json_t *details)
{
    return json_pack("{s:s, s:o, s:s, s:s}", "code", "SUCCESS", "details",
                     details ? details : json_object(), "message", message, "status", "success");
}

json_t *zjson_field(const char *api_name, const char *json_path)
{
    json_t *d = json_object();
    json_object_set_new(d, "api_name", json_string(api_name));
    if (json_path)
        json_object_set_new(d, "json_path", json_string(json_path));
    return d;
}

json_t *zjson_id(int64_t id)
{
    char tmp[24];
    return json_stringn(tmp, fmt_i64(tmp, id));
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, surrogates or
 * code points past U+10FFFF, the rules jansson checks), or 0. p is NUL-terminated, and a NUL
 * fails the first continuation test it meets, so nothing past it is read. */
static size_t utf8_seq_len(const unsigned char *p)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        lo = p[0] == 0xe0 ? 0xa0 : 0x80;
        hi = p[0] == 0xed ? 0x9f : 0xbf;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        lo = p[0] == 0xf0 ? 0x90 : 0x80;
        hi = p[0] == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    }
    return n;
}

json_t *zjson_string_lossy(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    if (v)
        return v;
    struct buf b;
    buf_init(&b);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_seq_len(p);
        if (n) {
            buf_append(&b, p, n);
            p += n;
        } else {
            buf_puts(&b, "\xef\xbf\xbd"); /* U+FFFD REPLACEMENT CHARACTER */
            p++;
        }
    }
    v = json_stringn(b.data, b.len);
    buf_fini(&b);
    return v;
}

int64_t zjson_id_value(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) > 0 ? json_integer_value(v) : 0;
    if (!json_is_string(v))
        return 0;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0 || len > 19)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    errno = 0;
    long long n = strtoll(s, NULL, 10);
    if (errno || n <= 0)
        return 0;
    return (int64_t)n;
}

int64_t zjson_long_parse(const char *s, size_t len)
{
    size_t digits = len > 0 && s[0] == '-' ? len - 1 : len;
    if (digits == 0 || digits > 19)
        return 0;
    for (size_t i = len - digits; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    char text[24];
    memcpy(text, s, len);
    text[len] = '\0';
    errno = 0;
    long long n = strtoll(text, NULL, 10);
    return errno ? 0 : (int64_t)n;
}

int64_t zjson_long_value(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    if (!json_is_string(v))
        return 0;
    return zjson_long_parse(json_string_value(v), json_string_length(v));
}

void zjson_put_id(struct buf *out, int64_t id)
{
    buf_putc(out, '"');
    buf_put_i64(out, id);
    buf_putc(out, '"');
}

void zjson_put_str(struct buf *out, const char *s)
{
    if (s)
        buf_put_json_str(out, s, strlen(s));
    else
        buf_puts(out, "null");
}

void zjson_dump_except(struct buf *out, const json_t *object, const char *skip)
{
    const char *key;
    json_t *value;
    bool is_first = true;
    buf_putc(out, '{');
    json_object_foreach((json_t *)object, key, value)
    {
        if (skip && strcmp(key, skip) == 0)
            continue;
        if (!is_first)
            buf_putc(out, ',');
        is_first = false;
        buf_put_json_str(out, key, strlen(key));
        buf_putc(out, ':');
        zjson_dump(out, value);
    }
    buf_putc(out, '}');
}

/* The shortest of jansson's renderings with 15, 16 and 17 significant digits that reads back as
 * the same double: jansson's default (17) shows 0.1 as 0.10000000000000001 and a currency of
 * 12.345 as 12.345000000000001, which no client sent and Zoho never shows. */
static void put_real(struct buf *out, const json_t *real)
{
    double value = json_real_value(real);
    char *text = NULL;
    for (int digits = 15; digits <= 17; digits++) {
        free(text);
        text = json_dumps(real, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(digits));
        if (!text || strtod(text, NULL) == value)
            break;
    }
    buf_puts(out, text ? text : "null");
    free(text);
}

void zjson_dump(struct buf *out, const json_t *v)
{
    if (!v)
        return;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        zjson_dump_except(out, v, NULL);
        return;
    case JSON_ARRAY:
        buf_putc(out, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                buf_putc(out, ',');
            zjson_dump(out, json_array_get(v, i));
        }
        buf_putc(out, ']');
        return;
    case JSON_STRING:
        buf_put_json_str(out, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        buf_put_i64(out, json_integer_value(v));
        return;
    case JSON_TRUE:
        buf_puts(out, "true");
        return;
    case JSON_FALSE:
        buf_puts(out, "false");
        return;
    case JSON_NULL:
        buf_puts(out, "null");
        return;
    case JSON_REAL:
        put_real(out, v);
        return;
    }
}

char *zjson_dumps(const json_t *v)
{
    if (!v)
        return NULL;
    struct buf b;
    buf_init(&b);
    zjson_dump(&b, v);
    return buf_steal(&b, NULL);
}

static void put_newline(struct buf *out, int depth)
{
    buf_putc(out, '\n');
    for (int i = 0; i < depth * 2; i++)
        buf_putc(out, ' ');
}

char *zjson_dumps_indented(const json_t *v)
{
    char *flat = zjson_dumps(v);
    if (!flat)
        return NULL;
    /* Re-indents the compact text as jansson's JSON_INDENT(2) lays it out: a newline and the
     * depth's indent after an opening bracket and after each comma, before a closing one; ": "
     * between key and value; empty containers stay "{}" and "[]". Strings are copied as they
     * are (their escapes included). */
    struct buf out;
    buf_init(&out);
    int depth = 0;
    bool is_in_string = false;
    for (const char *c = flat; *c; c++) {
        if (is_in_string) {
            buf_putc(&out, *c);
            if (*c == '\\' && c[1])
                buf_putc(&out, *++c);
            else if (*c == '"')
                is_in_string = false;
            continue;
        }
        switch (*c) {
        case '"':
            is_in_string = true;
            buf_putc(&out, '"');
            break;
        case '{':
        case '[':
            buf_putc(&out, *c);
            if (c[1] == (*c == '{' ? '}' : ']'))
                buf_putc(&out, *++c);
            else
                put_newline(&out, ++depth);
            break;
        case '}':
        case ']':
            put_newline(&out, --depth);
            buf_putc(&out, *c);
            break;
        case ',':
            buf_putc(&out, ',');
            put_newline(&out, depth);
            break;
        case ':':
            buf_puts(&out, ": ");
            break;
        default:
            buf_putc(&out, *c);
        }
    }
    free(flat);
    return buf_steal(&out, NULL);
}
