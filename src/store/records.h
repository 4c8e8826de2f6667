/* CRM records and users as stored: one row per record holding its user fields as a JSON object,
 * plus the system columns (owner, creator, modifier, times) and its display name, so a lookup
 * can show the target's current name without parsing its JSON. This layer checks no values (the
 * API validates against the module's metadata first) and knows nothing of change events. Reads
 * use the reader pool; writes are store_txn_* calls made inside a writer job. */
#ifndef HERALD_STORE_RECORDS_H
#define HERALD_STORE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* A record. Strings are owned by the struct (free with store_record_fini) when it comes from a
 * store call, and borrowed when the caller passes it in to a write. */
struct store_record {
    int64_t id;
    int64_t org_id;
    int64_t module_id;
    int64_t owner_id;
    int64_t created_by;
    int64_t modified_by;
    int64_t created_at_s;
    int64_t modified_at_s;
    char *data; /* JSON object text of the user fields (lookups as {"name","id"}) */
    char *name; /* display name shown in lookups to this record ("" when none) */
    /* Filled by reads only (store_record_get/list): the users behind the system fields, from
     * their stored JSON (full_name, email). NULL when the user no longer exists. */
    char *owner_name;
    char *owner_email;
    char *created_by_name;
    char *modified_by_name;
};

/* Frees the strings of `r` (not `r` itself). Safe on a zeroed struct. */
void store_record_fini(struct store_record *r);
void store_record_list_free(struct store_record *list, size_t count);

/* Reads one record of a module. Caller frees with store_record_fini. Returns HERALD_OK,
 * HERALD_ERR_NOT_FOUND, or HERALD_ERR_STORE (logged). */
enum herald_err store_record_get(struct store *s, int64_t org_id, int64_t module_id, int64_t id,
                                 struct store_record *out);
/* The order of a list (Zoho's sort_by): id, Created_Time or Modified_Time, ties by id. */
enum store_record_sort { STORE_SORT_ID, STORE_SORT_CREATED, STORE_SORT_MODIFIED };

/* Which records a list reads: from `offset`, at most `limit`, in `sort` order (descending when
 * is_desc); only those of `ids` (at most 100) when id_count > 0. */
struct store_record_query {
    size_t offset, limit;
    enum store_record_sort sort;
    bool is_desc;
    const int64_t *ids;
    size_t id_count;
    /* Only records modified at or after modified_since_s (Unix seconds), when set. */
    bool has_modified_since;
    int64_t modified_since_s;
};

/* Lists a module's records as `q` says. Caller frees with store_record_list_free (also when
 * *count is 0). HERALD_OK or HERALD_ERR_STORE. */
enum herald_err store_record_list(struct store *s, int64_t org_id, int64_t module_id,
                                  const struct store_record_query *q, struct store_record **out,
                                  size_t *count);
/* The current display name of record `id` of any module. *name_out (caller frees) is NULL when
 * the record does not exist. HERALD_OK or HERALD_ERR_STORE. */
enum herald_err store_record_name(struct store *s, int64_t org_id, int64_t id, char **name_out);

/* Inside a writer job. The same read as store_record_get, on the transaction (sees the job's
 * own writes). owner_name etc. are not filled. */
enum herald_err store_txn_record_get(struct store_txn *t, int64_t org_id, int64_t module_id,
                                     int64_t id, struct store_record *out);
/* Finds the first record (lowest id) of a module whose user field `api_name` equals `value`,
 * compared as the JSON value would be: `value_json` is the JSON text of a string, number or
 * boolean. Returns HERALD_OK with the record, HERALD_ERR_NOT_FOUND, or HERALD_ERR_STORE. This
 * scans the module's records: upsert pays it, nothing else does. */
enum herald_err store_txn_record_find(struct store_txn *t, int64_t org_id, int64_t module_id,
                                      const char *api_name, const char *value_json,
                                      struct store_record *out);
/* Display name of a record of `module_id` (0: any module); *name_out (caller frees) is NULL
 * when it does not exist. HERALD_OK or HERALD_ERR_STORE. */
enum herald_err store_txn_record_name(struct store_txn *t, int64_t org_id, int64_t module_id,
                                      int64_t id, char **name_out);
/* Inserts `r` (every field borrowed, read-only fields ignored). HERALD_ERR_EXISTS when the id is
 * taken, HERALD_ERR_STORE. */
enum herald_err store_txn_record_insert(struct store_txn *t, const struct store_record *r);
/* Replaces data, name, owner_id, modified_by and modified_at_s of record r->id of r->module_id.
 * HERALD_ERR_NOT_FOUND, HERALD_ERR_STORE. */
enum herald_err store_txn_record_update(struct store_txn *t, const struct store_record *r);
/* Deletes a record. HERALD_ERR_NOT_FOUND, HERALD_ERR_STORE. */
enum herald_err store_txn_record_delete(struct store_txn *t, int64_t org_id, int64_t module_id,
                                        int64_t id);

/* A user's name and email, as the records' system fields show them. */
struct store_user_ref {
    char *name;  /* full_name, owned */
    char *email; /* owned */
};
void store_user_ref_fini(struct store_user_ref *u);
/* Reads a user's full_name and email inside a job. HERALD_ERR_NOT_FOUND, HERALD_ERR_STORE. */
enum herald_err store_txn_user_ref(struct store_txn *t, int64_t org_id, int64_t user_id,
                                   struct store_user_ref *out);
/* Reads a user's JSON inside a job (caller frees out->json). HERALD_ERR_NOT_FOUND, ERR_STORE. */
enum herald_err store_txn_user_get(struct store_txn *t, int64_t org_id, int64_t user_id,
                                   struct store_user *out);
/* Id of the organization's user with this email (ASCII letter case ignored, as mail systems do
 * in practice), or HERALD_ERR_NOT_FOUND. */
enum herald_err store_txn_user_by_email(struct store_txn *t, int64_t org_id, const char *email,
                                        int64_t *id_out);
/* Inserts or replaces a user (json borrowed: Zoho's user object). `is_new` selects insert
 * (HERALD_ERR_EXISTS when the id is taken) or update (HERALD_ERR_NOT_FOUND when absent). */
enum herald_err store_txn_user_put(struct store_txn *t, int64_t org_id, int64_t user_id,
                                   const char *email, const char *json, int64_t at_s, bool is_new);
/* Deletes a user. HERALD_ERR_NOT_FOUND, HERALD_ERR_STORE. */
enum herald_err store_txn_user_delete(struct store_txn *t, int64_t org_id, int64_t user_id);

/* The area's ops table. */
struct store_record_ops {
    enum herald_err (*get)(struct store *s, int64_t org_id, int64_t module_id, int64_t id,
                           struct store_record *out);
    enum herald_err (*list)(struct store *s, int64_t org_id, int64_t module_id,
                            const struct store_record_query *q, struct store_record **out,
                            size_t *count);
    enum herald_err (*name)(struct store *s, int64_t org_id, int64_t id, char **name_out);
    enum herald_err (*txn_get)(struct store_txn *t, int64_t org_id, int64_t module_id, int64_t id,
                               struct store_record *out);
    enum herald_err (*txn_find)(struct store_txn *t, int64_t org_id, int64_t module_id,
                                const char *api_name, const char *value_json,
                                struct store_record *out);
    enum herald_err (*txn_name)(struct store_txn *t, int64_t org_id, int64_t module_id, int64_t id,
                                char **name_out);
    enum herald_err (*txn_insert)(struct store_txn *t, const struct store_record *r);
    enum herald_err (*txn_update)(struct store_txn *t, const struct store_record *r);
    enum herald_err (*txn_delete)(struct store_txn *t, int64_t org_id, int64_t module_id,
                                  int64_t id);
    enum herald_err (*txn_user_ref)(struct store_txn *t, int64_t org_id, int64_t user_id,
                                    struct store_user_ref *out);
    enum herald_err (*txn_user_get)(struct store_txn *t, int64_t org_id, int64_t user_id,
                                    struct store_user *out);
    enum herald_err (*txn_user_by_email)(struct store_txn *t, int64_t org_id, const char *email,
                                         int64_t *id_out);
    enum herald_err (*txn_user_put)(struct store_txn *t, int64_t org_id, int64_t user_id,
                                    const char *email, const char *json, int64_t at_s, bool is_new);
    enum herald_err (*txn_user_delete)(struct store_txn *t, int64_t org_id, int64_t user_id);
};

#endif
