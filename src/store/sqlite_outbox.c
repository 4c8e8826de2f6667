/* The outbox in SQLite: change rows, notification rows, claims under a lease, attempt records.
 * A claim moves next_at_ms to the lease's end, so "due" is one range of the partial index
 * notifications_due and an attempt that never reports back is retried when its lease ends. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "store/outbox.h"
#include "store/sqlite_int.h"

static enum herald_err change_add(struct store_txn *t, int64_t org_id, int64_t module_id,
                                  const char *operation, const char *request_id,
                                  const char *records_json, int64_t at_ms, int64_t *id_out)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st = sq_stmt(txn->c, "INSERT INTO changes(org_id, module_id, operation, "
                                       "request_id, created_at_ms, records) "
                                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_int64(st, 2, module_id);
    sqlite3_bind_text(st, 3, operation, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, request_id ? request_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, at_ms);
    sqlite3_bind_text(st, 6, records_json, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "insert change");
    if (id_out)
        *id_out = sqlite3_last_insert_rowid(txn->c->db);
    return HERALD_OK;
}

static enum herald_err notification_add(struct store_txn *t, const struct store_outbox_row *row,
                                        int64_t *id_out)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st =
        sq_stmt(txn->c, "INSERT INTO notifications(org_id, channel_id, module_id, "
                        "operation, change_id, url, body, next_at_ms, created_at_ms, "
                        "updated_at_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, row->org_id);
    sqlite3_bind_int64(st, 2, row->channel_id);
    sqlite3_bind_int64(st, 3, row->module_id);
    sqlite3_bind_text(st, 4, row->operation, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, row->change_id);
    sqlite3_bind_text(st, 6, row->url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, row->body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, row->next_at_ms);
    sqlite3_bind_int64(st, 9, row->next_at_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "insert notification");
    if (id_out)
        *id_out = sqlite3_last_insert_rowid(txn->c->db);
    return HERALD_OK;
}

struct claim_job {
    const char *exclude_json; /* JSON array of channel ids to skip */
    int64_t now_ms;
    int64_t lease_ms;
    size_t limit;
    struct store_claim *claims;
    size_t count;
};

static enum herald_err claim_run(struct store_txn *t, void *arg)
{
    struct sq_txn *txn = sq_txn_of(t);
    struct claim_job *j = arg;
    sqlite3_stmt *st =
        sq_stmt(txn->c, "UPDATE notifications SET next_at_ms = ?2, lease_until_ms = ?2 WHERE id IN "
                        "(SELECT id FROM notifications WHERE status = 0 AND next_at_ms <= ?1 "
                        "AND channel_id NOT IN (SELECT value FROM json_each(?4)) "
                        "ORDER BY next_at_ms LIMIT ?3) "
                        "RETURNING id, org_id, channel_id, attempts, url, body, created_at_ms");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, j->now_ms);
    sqlite3_bind_int64(st, 2, j->now_ms + j->lease_ms);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)j->limit);
    sqlite3_bind_text(st, 4, j->exclude_json, -1, SQLITE_STATIC);
    j->claims = xcalloc(j->limit ? j->limit : 1, sizeof *j->claims);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && j->count < j->limit) {
        struct store_claim *c = &j->claims[j->count++];
        c->id = sqlite3_column_int64(st, 0);
        c->org_id = sqlite3_column_int64(st, 1);
        c->channel_id = sqlite3_column_int64(st, 2);
        c->attempts = sqlite3_column_int(st, 3);
        c->url = sq_col_str(st, 4);
        c->body = sq_col_str(st, 5);
        c->created_at_ms = sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sq_fail(txn->c, rc, "claim notifications");
    return HERALD_OK;
}

static enum herald_err claim(struct store *s, int64_t now_ms, int64_t lease_ms, size_t limit,
                             const int64_t *exclude, size_t exclude_count, struct store_claim **out,
                             size_t *count)
{
    struct buf ex;
    buf_init(&ex);
    buf_putc(&ex, '[');
    for (size_t i = 0; i < exclude_count; i++) {
        if (i)
            buf_putc(&ex, ',');
        buf_put_i64(&ex, exclude[i]);
    }
    buf_putc(&ex, ']');
    struct claim_job j = {
        .exclude_json = ex.data, .now_ms = now_ms, .lease_ms = lease_ms, .limit = limit};
    enum herald_err err = store_exec(s, claim_run, &j);
    buf_fini(&ex);
    if (err) {
        store_claims_free(j.claims, j.count);
        return err;
    }
    *out = j.claims;
    *count = j.count;
    return HERALD_OK;
}

struct record_job {
    struct store_attempt *attempts;
    size_t count;
    store_done_fn *done;
    void *arg;
};

static enum herald_err defer_one(struct sq_conn *c, const struct store_attempt *a)
{
    sqlite3_stmt *st = sq_stmt(c, "UPDATE notifications SET next_at_ms = ?2, lease_until_ms = 0 "
                                  "WHERE id = ?1 AND status = 0");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, a->notification_id);
    sqlite3_bind_int64(st, 2, a->next_at_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? HERALD_OK : sq_fail(c, rc, "defer notification");
}

static enum herald_err record_one(struct sq_conn *c, const struct store_attempt *a)
{
    if (a->is_deferred)
        return defer_one(c, a);
    sqlite3_stmt *st = sq_stmt(c, "INSERT INTO attempts(notification_id, org_id, started_at_ms, "
                                  "duration_ms, http_status, error, response) "
                                  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, a->notification_id);
    sqlite3_bind_int64(st, 2, a->org_id);
    sqlite3_bind_int64(st, 3, a->started_at_ms);
    sqlite3_bind_int64(st, 4, a->duration_ms);
    sqlite3_bind_int(st, 5, a->http_status);
    sqlite3_bind_text(st, 6, a->error, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, a->response, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(c, rc, "insert attempt");
    st = sq_stmt(c, "UPDATE notifications SET status = ?2, attempts = attempts + 1, "
                    "next_at_ms = ?3, lease_until_ms = 0, updated_at_ms = ?4, last_status = ?5, "
                    "last_error = ?6 WHERE id = ?1");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, a->notification_id);
    sqlite3_bind_int(st, 2, (int)a->new_status);
    sqlite3_bind_int64(st, 3, a->next_at_ms);
    sqlite3_bind_int64(st, 4, a->started_at_ms + a->duration_ms);
    sqlite3_bind_int(st, 5, a->http_status);
    sqlite3_bind_text(st, 6, a->error, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(c, rc, "update notification");
    if (!a->is_gone)
        return HERALD_OK;
    /* 410 Gone: the subscriber asked to stop. Its other pending notifications fail too. */
    st =
        sq_stmt(c, "UPDATE notifications SET status = 2, last_error = 'channel disabled: 410 Gone',"
                   " updated_at_ms = ?3 WHERE org_id = ?1 AND channel_id = ?2 AND status = 0");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, a->org_id);
    sqlite3_bind_int64(st, 2, a->channel_id);
    sqlite3_bind_int64(st, 3, a->started_at_ms + a->duration_ms);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? HERALD_OK : sq_fail(c, rc, "stop notifications of a gone channel");
}

static enum herald_err record_run(struct store_txn *t, void *arg)
{
    struct sq_txn *txn = sq_txn_of(t);
    struct record_job *j = arg;
    for (size_t i = 0; i < j->count; i++) {
        enum herald_err err = record_one(txn->c, &j->attempts[i]);
        if (err)
            return err;
    }
    return HERALD_OK;
}

static void record_done(void *arg, enum herald_err err)
{
    struct record_job *j = arg;
    if (j->done)
        j->done(j->arg, err);
    for (size_t i = 0; i < j->count; i++) {
        free((char *)j->attempts[i].error);
        free((char *)j->attempts[i].response);
    }
    free(j->attempts);
    free(j);
}

static void record(struct store *s, const struct store_attempt *attempts, size_t count,
                   store_done_fn *done, void *arg)
{
    struct record_job *j = xmalloc(sizeof *j);
    j->attempts = xmalloc((count ? count : 1) * sizeof *j->attempts);
    j->count = count;
    j->done = done;
    j->arg = arg;
    for (size_t i = 0; i < count; i++) {
        j->attempts[i] = attempts[i];
        j->attempts[i].error = xstrdup(attempts[i].error);
        j->attempts[i].response = xstrdup(attempts[i].response);
    }
    store_submit(s, record_run, j, record_done);
}

static int64_t next_due(struct store *base)
{
    struct sq_store *s = sq_of(base);
    struct sq_conn *c = sq_reader_get(s);
    if (!c)
        return -1;
    int64_t due = -1;
    sqlite3_stmt *st = sq_stmt(c, "SELECT min(next_at_ms) FROM notifications WHERE status = 0");
    if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        due = sqlite3_column_int64(st, 0);
    if (st)
        sqlite3_reset(st);
    sq_reader_put(s, c);
    return due;
}

static enum herald_err count(struct store *base, int64_t org_id, enum store_ntf_status status,
                             int64_t *out)
{
    struct sq_store *s = sq_of(base);
    struct sq_conn *c = sq_reader_get(s);
    if (!c)
        return HERALD_ERR_STORE;
    enum herald_err err = HERALD_OK;
    sqlite3_stmt *st =
        sq_stmt(c, "SELECT count(*) FROM notifications WHERE org_id = ?1 AND status = ?2");
    if (!st) {
        err = HERALD_ERR_STORE;
    } else {
        sqlite3_bind_int64(st, 1, org_id);
        sqlite3_bind_int(st, 2, (int)status);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *out = sqlite3_column_int64(st, 0);
        else
            err = sq_fail(c, rc, "count notifications");
        sqlite3_reset(st);
    }
    sq_reader_put(s, c);
    return err;
}

const struct store_outbox_ops sqlite_outbox_ops = {
    .change_add = change_add,
    .notification_add = notification_add,
    .claim = claim,
    .record = record,
    .next_due = next_due,
    .count = count,
};
