/* Zoho's JSON shapes shared by every resource: the error/success envelope and small helpers. */
#ifndef HERALD_CORE_ZJSON_H
#define HERALD_CORE_ZJSON_H

#include <jansson.h>
#include <stdint.h>

/* {"code","details","message","status":"error"}; details taken (NULL → {}). New reference. */
json_t *zjson_error(const char *code, const char *message, json_t *details);
/* {"code":"SUCCESS","details","message","status":"success"}; details taken (NULL → {}). */
json_t *zjson_success(const char *message, json_t *details);
/* Details {"api_name":..., "json_path":...}; json_path may be NULL. New reference. */
json_t *zjson_field(const char *api_name, const char *json_path);
/* An id as Zoho sends it: a JSON string of the decimal. */
json_t *zjson_id(int64_t id);
/* Reads an id given as a JSON string of digits or a JSON integer. Returns 0 when it is neither
 * or not a positive 64-bit number. */
int64_t zjson_id_value(const json_t *v);

#endif
