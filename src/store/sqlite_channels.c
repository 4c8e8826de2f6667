/* Watch channels in SQLite: the `channels` table of migration 3, keyed (org, channel, module).
 * Reads filter on expiry_s > now so an expired row is absent everywhere before it is purged. */
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "store/channels.h"
#include "store/sqlite_int.h"

#define COLUMNS                                                                               \
    "org_id, channel_id, module_id, events, notify_url, token, expiry_s, notify_on_related, " \
    "return_values, condition, fields, created_at_s, updated_at_s, seq"

static void read_row(sqlite3_stmt *st, struct store_channel *c)
{
    c->org_id = sqlite3_column_int64(st, 0);
    c->channel_id = sqlite3_column_int64(st, 1);
    c->module_id = sqlite3_column_int64(st, 2);
    c->events = (unsigned)sqlite3_column_int(st, 3);
    c->notify_url = sq_col_str(st, 4);
    c->token = sq_col_str(st, 5);
    c->expiry_s = sqlite3_column_int64(st, 6);
    c->notify_on_related = sqlite3_column_int(st, 7) != 0;
    c->return_values = sqlite3_column_int(st, 8) != 0;
    c->condition = sq_col_str(st, 9);
    c->fields = sq_col_str(st, 10);
    c->created_at_s = sqlite3_column_int64(st, 11);
    c->updated_at_s = sqlite3_column_int64(st, 12);
    c->seq = sqlite3_column_int64(st, 13);
}

/* Steps `st` to the end, collecting rows. */
static enum herald_err collect(struct sq_conn *c, sqlite3_stmt *st, const char *what,
                               struct store_channel **out, size_t *count)
{
    struct store_channel *rows = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            rows = xrealloc(rows, cap * sizeof *rows);
        }
        memset(&rows[n], 0, sizeof rows[n]);
        read_row(st, &rows[n++]);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        store_channels_free(rows, n);
        return sq_fail(c, rc, what);
    }
    *out = rows;
    *count = n;
    return HERALD_OK;
}

static enum herald_err rows(struct store_txn *t, int64_t org_id, int64_t channel_id, int64_t now_s,
                            struct store_channel **out, size_t *count)
{
    struct sq_txn *txn = sq_txn_of(t);
    *out = NULL;
    *count = 0;
    sqlite3_stmt *st = sq_stmt(txn->c, "SELECT " COLUMNS " FROM channels WHERE org_id = ?1 "
                                       "AND channel_id = ?2 AND expiry_s > ?3 ORDER BY module_id");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_int64(st, 2, channel_id);
    sqlite3_bind_int64(st, 3, now_s);
    return collect(txn->c, st, "read channel rows", out, count);
}

static enum herald_err put(struct store_txn *t, const struct store_channel *r)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st = sq_stmt(txn->c, "INSERT OR REPLACE INTO channels(" COLUMNS ") "
                                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
                                       "?13, ?14)");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, r->org_id);
    sqlite3_bind_int64(st, 2, r->channel_id);
    sqlite3_bind_int64(st, 3, r->module_id);
    sqlite3_bind_int(st, 4, (int)r->events);
    sqlite3_bind_text(st, 5, r->notify_url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, r->expiry_s);
    sqlite3_bind_int(st, 8, r->notify_on_related);
    sqlite3_bind_int(st, 9, r->return_values);
    sqlite3_bind_text(st, 10, r->condition, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, r->fields, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, r->created_at_s);
    sqlite3_bind_int64(st, 13, r->updated_at_s);
    sqlite3_bind_int64(st, 14, r->seq);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? HERALD_OK : sq_fail(txn->c, rc, "write channel row");
}

static enum herald_err remove_channel(struct store_txn *t, int64_t org_id, int64_t channel_id,
                                      size_t *removed)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st =
        sq_stmt(txn->c, "DELETE FROM channels WHERE org_id = ?1 AND channel_id = ?2");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_int64(st, 2, channel_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "remove channel");
    if (removed)
        *removed = (size_t)sqlite3_changes(txn->c->db);
    return HERALD_OK;
}

static enum herald_err each_on(struct sq_conn *c, int64_t now_s, store_channel_each_fn *fn,
                               void *arg)
{
    sqlite3_stmt *st = sq_stmt(c, "SELECT " COLUMNS " FROM channels WHERE expiry_s > ?1 "
                                  "ORDER BY org_id, channel_id, module_id");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, now_s);
    enum herald_err err = HERALD_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_channel row = {0};
        read_row(st, &row);
        err = fn(arg, &row);
        store_channel_fini(&row);
        if (err)
            break;
    }
    sqlite3_reset(st);
    if (err)
        return err;
    return rc == SQLITE_DONE ? HERALD_OK : sq_fail(c, rc, "read every channel");
}

static enum herald_err each(struct store_txn *t, int64_t now_s, store_channel_each_fn *fn,
                            void *arg)
{
    return each_on(sq_txn_of(t)->c, now_s, fn, arg);
}

static enum herald_err each_read(struct store *base, int64_t now_s, store_channel_each_fn *fn,
                                 void *arg)
{
    struct sq_store *s = sq_of(base);
    struct sq_conn *c = sq_reader_get(s);
    if (!c)
        return HERALD_ERR_STORE;
    enum herald_err err = sq_exec(c, "BEGIN");
    if (!err) {
        err = each_on(c, now_s, fn, arg);
        sq_exec(c, "COMMIT");
    }
    sq_reader_put(s, c);
    return err;
}

static enum herald_err purge(struct store_txn *t, int64_t now_s, size_t *removed)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st = sq_stmt(txn->c, "DELETE FROM channels WHERE expiry_s <= ?1");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, now_s);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "purge expired channels");
    if (removed)
        *removed = (size_t)sqlite3_changes(txn->c->db);
    return HERALD_OK;
}

static enum herald_err list(struct store *base, int64_t org_id, int64_t channel_id,
                            int64_t module_id, int64_t now_s, size_t offset, size_t limit,
                            struct store_channel **out, size_t *count)
{
    struct sq_store *s = sq_of(base);
    *out = NULL;
    *count = 0;
    struct sq_conn *c = sq_reader_get(s);
    if (!c)
        return HERALD_ERR_STORE;
    enum herald_err err = HERALD_ERR_STORE;
    sqlite3_stmt *st = sq_stmt(c, "SELECT " COLUMNS " FROM channels WHERE org_id = ?1 "
                                  "AND (?2 = 0 OR channel_id = ?2) AND (?3 = 0 OR module_id = ?3) "
                                  "AND expiry_s > ?4 ORDER BY seq, channel_id, module_id "
                                  "LIMIT ?5 OFFSET ?6");
    if (st) {
        sqlite3_bind_int64(st, 1, org_id);
        sqlite3_bind_int64(st, 2, channel_id);
        sqlite3_bind_int64(st, 3, module_id);
        sqlite3_bind_int64(st, 4, now_s);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)limit);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)offset);
        err = collect(c, st, "list channels", out, count);
    }
    sq_reader_put(s, c);
    return err;
}

const struct store_channel_ops sqlite_channel_ops = {
    .rows = rows,
    .put = put,
    .remove = remove_channel,
    .each = each,
    .each_read = each_read,
    .purge = purge,
    .list = list,
};
