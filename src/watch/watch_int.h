/* Internals shared by src/watch/ files: Zoho error objects for watch[] items, and the metadata
 * lookups the validators use. Nothing here leaves src/watch/. */
#ifndef HERALD_WATCH_WATCH_INT_H
#define HERALD_WATCH_WATCH_INT_H

#include <jansson.h>
#include <stdint.h>

#include "meta/meta.h"

/* Room for any JSON path the validators build (nesting is bounded by WATCH_COND_MAX_NODES). */
#define WATCH_PATH_MAX 1024

/* MANDATORY_NOT_FOUND "required field not found" {"api_name","json_path"}. */
json_t *werr_mandatory(const char *api_name, const char *path);
/* INVALID_DATA "invalid data" {"api_name","json_path"}. */
json_t *werr_invalid(const char *api_name, const char *path);
/* INVALID_DATA "invalid data" {"api_name","expected_data_type","json_path"}. */
json_t *werr_type(const char *api_name, const char *expected, const char *path);
/* INVALID_DATA "invalid data" {"api_name","json_path","maximum_length":max}. */
json_t *werr_max(const char *api_name, const char *path, long max);
/* INVALID_DATA "invalid data" {"api_name","json_path","supported_values":[values...]};
 * `values` is a NULL-terminated list. */
json_t *werr_supported(const char *api_name, const char *path, const char *const *values);
/* EXPECTED_FIELD_MISSING "Specify atleast one field" for an object needing api_name or id. */
json_t *werr_expected_name_or_id(const char *path);
/* AMBIGUITY_DURING_PROCESSING for an object whose api_name and id disagree. */
json_t *werr_ambiguous_name_id(const char *path);

/* What an {"api_name","id"} object names. */
enum wref { WREF_OK, WREF_NONE, WREF_BAD_TYPE_NAME, WREF_BAD_TYPE_ID, WREF_UNKNOWN, WREF_CONFLICT };

/* Resolves a {"api_name","id"} object to a module. */
enum wref watch_ref_module(const json_t *obj, const struct meta_module **out);
/* Resolves a {"api_name","id"} object to a field of `m`. */
enum wref watch_ref_field(const struct meta_module *m, const json_t *obj,
                          const struct meta_field **out);

#endif
