/* Records and users in SQLite. A record's user fields are one JSON text column; the system
 * fields are columns, and reads join the users table for the names the API shows. Upsert's
 * duplicate check is the only query that reads inside the JSON (json_extract, a module scan). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "store/records.h"
#include "store/sqlite_int.h"

#define RECORD_COLS                                                                             \
    "r.id, r.module_id, r.owner_id, r.created_by, r.modified_by, r.created_at, r.modified_at, " \
    "r.data, r.name"

/* Fills `out` from columns 0..8 of RECORD_COLS, and 9..12 when `has_users`. */
static void record_from_row(sqlite3_stmt *st, int64_t org_id, bool has_users,
                            struct store_record *out)
{
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(st, 0);
    out->org_id = org_id;
    out->module_id = sqlite3_column_int64(st, 1);
    out->owner_id = sqlite3_column_int64(st, 2);
    out->created_by = sqlite3_column_int64(st, 3);
    out->modified_by = sqlite3_column_int64(st, 4);
    out->created_at_s = sqlite3_column_int64(st, 5);
    out->modified_at_s = sqlite3_column_int64(st, 6);
    out->data = sq_col_str(st, 7);
    out->name = sq_col_str(st, 8);
    if (!out->data)
        out->data = xstrdup("{}");
    if (!out->name)
        out->name = xstrdup("");
    if (has_users) {
        out->owner_name = sq_col_str(st, 9);
        out->owner_email = sq_col_str(st, 10);
        out->created_by_name = sq_col_str(st, 11);
        out->modified_by_name = sq_col_str(st, 12);
    }
}

static enum herald_err rec_get(struct store *base, int64_t org_id, int64_t module_id, int64_t id,
                               struct store_record *out)
{
    static const char sql[] =
        "SELECT " RECORD_COLS ", json_extract(o.data, '$.full_name'), o.email, "
        "json_extract(c.data, '$.full_name'), json_extract(m.data, '$.full_name') FROM records r "
        "LEFT JOIN users o ON o.id = r.owner_id LEFT JOIN users c ON c.id = r.created_by "
        "LEFT JOIN users m ON m.id = r.modified_by "
        "WHERE r.id = ?3 AND r.org_id = ?1 AND r.module_id = ?2";
    struct sq_store *s = sq_of(base);
    struct sq_conn *c = sq_reader_get(s);
    if (!c)
        return HERALD_ERR_STORE;
    enum herald_err err = HERALD_OK;
    sqlite3_stmt *st = sq_stmt(c, sql);
    if (!st) {
        err = HERALD_ERR_STORE;
        goto out;
    }
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_int64(st, 2, module_id);
    sqlite3_bind_int64(st, 3, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        record_from_row(st, org_id, true, out);
    else if (rc == SQLITE_DONE)
        err = HERALD_ERR_NOT_FOUND;
    else
        err = sq_fail(c, rc, "read record");
    sqlite3_reset(st);
out:
    sq_reader_put(s, c);
    return err;
}

/* One statement per order and filter, so each is prepared once per connection (the cache is
 * keyed by the text's address). */
#define LIST_SQL(filter, order)                                                                  \
    "SELECT " RECORD_COLS ", json_extract(o.data, '$.full_name'), o.email, "                     \
    "json_extract(c.data, '$.full_name'), json_extract(m.data, '$.full_name') FROM records r "   \
    "LEFT JOIN users o ON o.id = r.owner_id LEFT JOIN users c ON c.id = r.created_by "           \
    "LEFT JOIN users m ON m.id = r.modified_by "                                                 \
    "WHERE r.org_id = ?1 AND r.module_id = ?2 AND r.modified_at >= ?6" filter " ORDER BY " order \
    " LIMIT ?3 OFFSET ?4"
#define LIST_IDS " AND r.id IN (SELECT value FROM json_each(?5))"
#define LIST_ORDERS(filter)                                        \
    {                                                              \
        {LIST_SQL(filter, "r.id"), LIST_SQL(filter, "r.id DESC")}, \
            {LIST_SQL(filter, "r.created_at, r.id"),               \
             LIST_SQL(filter, "r.created_at DESC, r.id DESC")},    \
        {                                                          \
            LIST_SQL(filter, "r.modified_at, r.id"),               \
                LIST_SQL(filter, "r.modified_at DESC, r.id DESC")  \
        }                                                          \
    }

static const char *const list_sql[2][3][2] = {LIST_ORDERS(""), LIST_ORDERS(LIST_IDS)};

/* The JSON array text of `q`'s ids (caller frees). */
static char *ids_json(const struct store_record_query *q)
{
    char *text = xmalloc(q->id_count * 21 + 3);
    size_t n = 0;
    text[n++] = '[';
    for (size_t i = 0; i < q->id_count; i++)
        n += (size_t)sprintf(text + n, i ? ",%lld" : "%lld", (long long)q->ids[i]);
    text[n++] = ']';
    text[n] = '\0';
    return text;
}

static enum herald_err rec_list(struct store *base, int64_t org_id, int64_t module_id,
                                const struct store_record_query *q, struct store_record **out,
                                size_t *count)
{
    const char *sql = list_sql[q->id_count > 0][q->sort][q->is_desc];
    struct sq_store *s = sq_of(base);
    *out = NULL;
    *count = 0;
    struct sq_conn *c = sq_reader_get(s);
    if (!c)
        return HERALD_ERR_STORE;
    enum herald_err err = HERALD_OK;
    struct store_record *list = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = sq_stmt(c, sql);
    if (!st) {
        err = HERALD_ERR_STORE;
        goto out;
    }
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_int64(st, 2, module_id);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)q->limit);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)q->offset);
    if (q->id_count)
        sqlite3_bind_text(st, 5, ids_json(q), -1, free);
    sqlite3_bind_int64(st, 6, q->has_modified_since ? q->modified_since_s : INT64_MIN);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            list = xrealloc(list, cap * sizeof *list);
        }
        record_from_row(st, org_id, true, &list[n++]);
    }
    if (rc != SQLITE_DONE)
        err = sq_fail(c, rc, "list records");
    sqlite3_reset(st);
out:
    sq_reader_put(s, c);
    if (err) {
        store_record_list_free(list, n);
        return err;
    }
    *out = list;
    *count = n;
    return HERALD_OK;
}

/* Steps a one-column text query; *name_out is NULL when there is no row. */
static enum herald_err step_name(struct sq_conn *c, sqlite3_stmt *st, char **name_out)
{
    *name_out = NULL;
    int rc = sqlite3_step(st);
    enum herald_err err = HERALD_OK;
    if (rc == SQLITE_ROW) {
        *name_out = sq_col_str(st, 0);
        if (!*name_out)
            *name_out = xstrdup("");
    } else if (rc != SQLITE_DONE) {
        err = sq_fail(c, rc, "read record name");
    }
    sqlite3_reset(st);
    return err;
}

static enum herald_err rec_name(struct store *base, int64_t org_id, int64_t id, char **name_out)
{
    struct sq_store *s = sq_of(base);
    *name_out = NULL;
    struct sq_conn *c = sq_reader_get(s);
    if (!c)
        return HERALD_ERR_STORE;
    enum herald_err err = HERALD_ERR_STORE;
    sqlite3_stmt *st = sq_stmt(c, "SELECT name FROM records WHERE id = ?2 AND org_id = ?1");
    if (st) {
        sqlite3_bind_int64(st, 1, org_id);
        sqlite3_bind_int64(st, 2, id);
        err = step_name(c, st, name_out);
    }
    sq_reader_put(s, c);
    return err;
}

static enum herald_err txn_get(struct store_txn *t, int64_t org_id, int64_t module_id, int64_t id,
                               struct store_record *out)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st = sq_stmt(txn->c, "SELECT " RECORD_COLS " FROM records r "
                                       "WHERE r.id = ?3 AND r.org_id = ?1 AND r.module_id = ?2");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_int64(st, 2, module_id);
    sqlite3_bind_int64(st, 3, id);
    enum herald_err err = HERALD_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        record_from_row(st, org_id, false, out);
    else if (rc == SQLITE_DONE)
        err = HERALD_ERR_NOT_FOUND;
    else
        err = sq_fail(txn->c, rc, "read record");
    sqlite3_reset(st);
    return err;
}

static enum herald_err txn_find(struct store_txn *t, int64_t org_id, int64_t module_id,
                                const char *api_name, const char *value_json,
                                struct store_record *out)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st = sq_stmt(txn->c, "SELECT " RECORD_COLS " FROM records r "
                                       "WHERE r.org_id = ?1 AND r.module_id = ?2 "
                                       "AND json_extract(r.data, ?3) = json_extract(?4, '$') "
                                       "ORDER BY r.id LIMIT 1");
    if (!st)
        return HERALD_ERR_STORE;
    char path[160];
    int n = snprintf(path, sizeof path, "$.\"%s\"", api_name);
    if (n < 0 || (size_t)n >= sizeof path)
        return HERALD_ERR_INVALID;
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_int64(st, 2, module_id);
    sqlite3_bind_text(st, 3, path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, value_json, -1, SQLITE_STATIC);
    enum herald_err err = HERALD_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        record_from_row(st, org_id, false, out);
    else if (rc == SQLITE_DONE)
        err = HERALD_ERR_NOT_FOUND;
    else
        err = sq_fail(txn->c, rc, "find duplicate record");
    sqlite3_reset(st);
    return err;
}

static enum herald_err txn_name(struct store_txn *t, int64_t org_id, int64_t module_id, int64_t id,
                                char **name_out)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st = sq_stmt(txn->c, "SELECT name FROM records WHERE id = ?2 AND org_id = ?1 "
                                       "AND (?3 = 0 OR module_id = ?3)");
    *name_out = NULL;
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int64(st, 3, module_id);
    return step_name(txn->c, st, name_out);
}

static enum herald_err txn_insert(struct store_txn *t, const struct store_record *r)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st = sq_stmt(txn->c, "INSERT INTO records(id, org_id, module_id, owner_id, "
                                       "name, data, created_by, modified_by, created_at, "
                                       "modified_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                                       "?10)");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_int64(st, 2, r->org_id);
    sqlite3_bind_int64(st, 3, r->module_id);
    sqlite3_bind_int64(st, 4, r->owner_id);
    sqlite3_bind_text(st, 5, r->name ? r->name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->data ? r->data : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, r->created_by);
    sqlite3_bind_int64(st, 8, r->modified_by);
    sqlite3_bind_int64(st, 9, r->created_at_s);
    sqlite3_bind_int64(st, 10, r->modified_at_s);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT)
        return HERALD_ERR_EXISTS;
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "insert record");
    return HERALD_OK;
}

static enum herald_err txn_update(struct store_txn *t, const struct store_record *r)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st = sq_stmt(txn->c, "UPDATE records SET owner_id = ?4, name = ?5, data = ?6, "
                                       "modified_by = ?7, modified_at = ?8 "
                                       "WHERE id = ?1 AND org_id = ?2 AND module_id = ?3");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_int64(st, 2, r->org_id);
    sqlite3_bind_int64(st, 3, r->module_id);
    sqlite3_bind_int64(st, 4, r->owner_id);
    sqlite3_bind_text(st, 5, r->name ? r->name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->data ? r->data : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, r->modified_by);
    sqlite3_bind_int64(st, 8, r->modified_at_s);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "update record");
    return sqlite3_changes(txn->c->db) ? HERALD_OK : HERALD_ERR_NOT_FOUND;
}

static enum herald_err txn_delete(struct store_txn *t, int64_t org_id, int64_t module_id,
                                  int64_t id)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st = sq_stmt(txn->c, "DELETE FROM records "
                                       "WHERE id = ?1 AND org_id = ?2 AND module_id = ?3");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, org_id);
    sqlite3_bind_int64(st, 3, module_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "delete record");
    return sqlite3_changes(txn->c->db) ? HERALD_OK : HERALD_ERR_NOT_FOUND;
}

void sq_user_cache_clear(struct sq_store *s)
{
    for (size_t i = 0; i < SQ_USER_CACHE; i++) {
        free(s->users[i].name);
        free(s->users[i].email);
        s->users[i] = (struct sq_user_slot){0};
    }
}

static enum herald_err txn_user_ref(struct store_txn *t, int64_t org_id, int64_t user_id,
                                    struct store_user_ref *out)
{
    struct sq_txn *txn = sq_txn_of(t);
    struct sq_user_slot *slot = &txn->s->users[(uint64_t)user_id % SQ_USER_CACHE];
    if (slot->user_id == user_id && slot->org_id == org_id && user_id != 0) {
        out->name = xstrdup(slot->name);
        out->email = xstrdup(slot->email);
        return HERALD_OK;
    }
    sqlite3_stmt *st = sq_stmt(txn->c, "SELECT json_extract(data, '$.full_name'), email "
                                       "FROM users WHERE id = ?2 AND org_id = ?1");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_int64(st, 2, user_id);
    enum herald_err err = HERALD_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->name = sq_col_str(st, 0);
        out->email = sq_col_str(st, 1);
        if (!out->name)
            out->name = xstrdup("");
        if (!out->email)
            out->email = xstrdup("");
        free(slot->name);
        free(slot->email);
        *slot = (struct sq_user_slot){.org_id = org_id,
                                      .user_id = user_id,
                                      .name = xstrdup(out->name),
                                      .email = xstrdup(out->email)};
    } else if (rc == SQLITE_DONE) {
        err = HERALD_ERR_NOT_FOUND;
    } else {
        err = sq_fail(txn->c, rc, "read user");
    }
    sqlite3_reset(st);
    return err;
}

static enum herald_err txn_user_get(struct store_txn *t, int64_t org_id, int64_t user_id,
                                    struct store_user *out)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st = sq_stmt(txn->c, "SELECT data FROM users WHERE id = ?2 AND org_id = ?1");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_int64(st, 2, user_id);
    enum herald_err err = HERALD_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = user_id;
        out->json = sq_col_str(st, 0);
    } else if (rc == SQLITE_DONE) {
        err = HERALD_ERR_NOT_FOUND;
    } else {
        err = sq_fail(txn->c, rc, "read user");
    }
    sqlite3_reset(st);
    return err;
}

static enum herald_err txn_user_by_email(struct store_txn *t, int64_t org_id, const char *email,
                                         int64_t *id_out)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st = sq_stmt(txn->c, "SELECT id FROM users WHERE org_id = ?1 AND "
                                       "email = ?2 COLLATE NOCASE ORDER BY id LIMIT 1");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC);
    enum herald_err err = HERALD_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id_out = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        err = HERALD_ERR_NOT_FOUND;
    else
        err = sq_fail(txn->c, rc, "find user by email");
    sqlite3_reset(st);
    return err;
}

static enum herald_err txn_user_put(struct store_txn *t, int64_t org_id, int64_t user_id,
                                    const char *email, const char *json, int64_t at_s, bool is_new)
{
    struct sq_txn *txn = sq_txn_of(t);
    sq_user_cache_clear(txn->s);
    sqlite3_stmt *st =
        is_new ? sq_stmt(txn->c, "INSERT INTO users(id, org_id, email, data, created_at, "
                                 "modified_at) VALUES(?1, ?2, ?3, ?4, ?5, ?5)")
               : sq_stmt(txn->c, "UPDATE users SET email = ?3, data = ?4, modified_at = ?5 "
                                 "WHERE id = ?1 AND org_id = ?2");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, org_id);
    sqlite3_bind_text(st, 3, email, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, at_s);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT && is_new)
        return HERALD_ERR_EXISTS;
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, is_new ? "insert user" : "update user");
    return sqlite3_changes(txn->c->db) ? HERALD_OK : HERALD_ERR_NOT_FOUND;
}

static enum herald_err txn_user_delete(struct store_txn *t, int64_t org_id, int64_t user_id)
{
    struct sq_txn *txn = sq_txn_of(t);
    sq_user_cache_clear(txn->s);
    sqlite3_stmt *st = sq_stmt(txn->c, "DELETE FROM users WHERE id = ?1 AND org_id = ?2");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, org_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "delete user");
    return sqlite3_changes(txn->c->db) ? HERALD_OK : HERALD_ERR_NOT_FOUND;
}

const struct store_record_ops sqlite_record_ops = {
    .get = rec_get,
    .list = rec_list,
    .name = rec_name,
    .txn_get = txn_get,
    .txn_find = txn_find,
    .txn_name = txn_name,
    .txn_insert = txn_insert,
    .txn_update = txn_update,
    .txn_delete = txn_delete,
    .txn_user_ref = txn_user_ref,
    .txn_user_get = txn_user_get,
    .txn_user_by_email = txn_user_by_email,
    .txn_user_put = txn_user_put,
    .txn_user_delete = txn_user_delete,
};
