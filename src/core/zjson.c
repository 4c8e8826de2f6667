/* Zoho's envelope and id conventions: ids are decimal strings on the wire. */
#include "core/zjson.h"

#include <errno.h>
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
    snprintf(tmp, sizeof tmp, "%lld", (long long)id);
    return json_string(tmp);
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
