/* Zoho's JSON shapes shared by every resource: the error/success envelope and small helpers. */
#ifndef HERALD_CORE_ZJSON_H
#define HERALD_CORE_ZJSON_H

#include <jansson.h>
#include <stdint.h>

#include "core/buf.h"

/* {"code","details","message","status":"error"}; details taken (NULL → {}). New reference. */
json_t *zjson_error(const char *code, const char *message, json_t *details);
/* {"code":"SUCCESS","details","message","status":"success"}; details taken (NULL → {}). */
json_t *zjson_success(const char *message, json_t *details);
/* Details {"api_name":..., "json_path":...}; json_path may be NULL. New reference. */
json_t *zjson_field(const char *api_name, const char *json_path);
/* An id as Zoho sends it: a JSON string of the decimal. */
json_t *zjson_id(int64_t id);
/* A JSON string of s, which may hold any bytes (a receiver's answer, say): each byte that does
 * not begin a well-formed UTF-8 sequence becomes U+FFFD, where json_string would give NULL.
 * s is borrowed; NULL gives JSON null. New reference. */
json_t *zjson_string_lossy(const char *s);
/* Reads an id given as a JSON string of digits or a JSON integer. Returns 0 when it is neither
 * or not a positive 64-bit number. */
int64_t zjson_id_value(const json_t *v);
/* Reads a channel id, Zoho's signed long (clients send negative ones: a 64-bit hash cast to a
 * signed long): an optional '-' and 1-19 digits within 64 bits, from s[0..len). Returns 0 when
 * the text is not one, or is 0 (never a channel id here). */
int64_t zjson_long_parse(const char *s, size_t len);
/* The same from JSON: a JSON integer, or a JSON string zjson_long_parse accepts. */
int64_t zjson_long_value(const json_t *v);

/* Appends an id as Zoho sends it: its decimal as a JSON string. */
void zjson_put_id(struct buf *out, int64_t id);
/* Appends s as a JSON string literal, or null when s is NULL. */
void zjson_put_str(struct buf *out, const char *s);
/* Appends the text json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) gives, byte for byte (keys in
 * insertion order, jansson's escapes), without its per-container loop-check allocations. A
 * NULL v appends nothing. Reals are rendered by jansson with the fewest significant digits (15 to
 * 17) that read back as the same double, where json_dumps always uses 17. */
void zjson_dump(struct buf *out, const json_t *v);
/* zjson_dump of an object without its top-level key `skip`. */
void zjson_dump_except(struct buf *out, const json_t *object, const char *skip);
/* zjson_dump into a new string (free() it); NULL when v is NULL. */
char *zjson_dumps(const json_t *v);
/* The text json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER) gives, with zjson_dump's reals
 * (for people: the CLI). A new string (free() it); NULL when v is NULL. */
char *zjson_dumps_indented(const json_t *v);

#endif
