/* The outbox in SQLite: change rows, notification rows, claims under a lease, attempt records,
 * and the delivery history (listing, resending, pruning). A claim moves next_at_ms to the
 * lease's end, so "due" is one range of the partial index notifications_due and an attempt that
 * never reports back is retried when its lease ends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/timefmt.h"
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

/* The creation time to store for a notification created at `at_ms`: never before the newest
 * one's, so that a wall clock set back cannot break the order of created times along ids that
 * first_id_at relies on (the time stays put until the clock catches up). */
static enum herald_err created_at(struct sq_txn *txn, int64_t at_ms, int64_t *out)
{
    struct sq_store *s = txn->s;
    if (!s->has_ntf_created_ms) {
        sqlite3_stmt *st =
            sq_stmt(txn->c, "SELECT created_at_ms FROM notifications ORDER BY id DESC LIMIT 1");
        if (!st)
            return HERALD_ERR_STORE;
        int rc = sqlite3_step(st);
        s->ntf_created_ms = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : INT64_MIN;
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return sq_fail(txn->c, rc, "read the newest notification's creation time");
        s->has_ntf_created_ms = true;
    }
    if (at_ms > s->ntf_created_ms)
        s->ntf_created_ms = at_ms;
    *out = s->ntf_created_ms;
    return HERALD_OK;
}

static enum herald_err notification_add(struct store_txn *t, const struct store_outbox_row *row,
                                        int64_t *id_out)
{
    struct sq_txn *txn = sq_txn_of(t);
    struct sq_store *s = txn->s;
    int64_t created_ms = row->created_at_ms;
    enum herald_err err = created_at(txn, row->created_at_ms, &created_ms);
    if (err)
        return err;
    /* Handed off after the commit: stored leased, so no claim takes it while it is in flight. */
    bool is_handed = row->is_due_now && s->batch_handoff;
    int64_t lease_until = is_handed ? time_now_ms() + s->batch_lease_ms : 0;
    sqlite3_stmt *st = sq_stmt(
        txn->c, "INSERT INTO notifications(org_id, channel_id, module_id, operation, change_id, "
                "url, body, next_at_ms, lease_until_ms, created_at_ms, updated_at_ms) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, row->org_id);
    sqlite3_bind_int64(st, 2, row->channel_id);
    sqlite3_bind_int64(st, 3, row->module_id);
    sqlite3_bind_text(st, 4, row->operation, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, row->change_id);
    sqlite3_bind_text(st, 6, row->url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, row->body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, is_handed ? lease_until : row->next_at_ms);
    sqlite3_bind_int64(st, 9, lease_until);
    sqlite3_bind_int64(st, 10, created_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "insert notification");
    int64_t id = sqlite3_last_insert_rowid(txn->c->db);
    if (id_out)
        *id_out = id;
    if (is_handed) {
        if (s->fresh_count == s->fresh_cap) {
            s->fresh_cap = s->fresh_cap ? s->fresh_cap * 2 : 64;
            s->fresh = xrealloc(s->fresh, s->fresh_cap * sizeof *s->fresh);
        }
        /* The body is copied only if the dispatcher's budget has room for it: a fan-out of big
         * bodies to a slow destination must not pile up in memory here either. While older ones
         * wait for room, only a small one may pass them. */
        size_t body_len = strlen(row->body);
        struct store_budget *b = s->batch_budget;
        bool has_body = !b || ((store_budget_is_small(b, body_len) ||
                                !atomic_load_explicit(&b->has_waiting, memory_order_relaxed)) &&
                               store_budget_take(b, body_len));
        s->fresh[s->fresh_count++] = (struct store_claim){
            .id = id,
            .org_id = row->org_id,
            .channel_id = row->channel_id,
            .created_at_ms = created_ms,
            .lease_until_ms = lease_until,
            .url = has_body ? xstrdup(row->url) : NULL,
            .body = has_body ? xstrndup(row->body, body_len) : NULL,
            .body_len = body_len,
        };
    }
    return HERALD_OK;
}

struct claim_job {
    char *ids_json; /* JSON array: the channels to skip, or (by_ids) the notifications; owned */
    bool is_by_ids;
    store_claim_done_fn *done;
    void *arg;
    int64_t now_ms;
    int64_t lease_ms;
    size_t limit;
    size_t max_bytes;
    bool may_exceed;
    struct store_claim *claims;
    size_t count, cap;
    size_t over_bytes;
};

static struct store_claim *claim_push(struct claim_job *j, sqlite3_stmt *st, bool has_due)
{
    if (j->count == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 16;
        j->claims = xrealloc(j->claims, j->cap * sizeof *j->claims);
    }
    struct store_claim *c = &j->claims[j->count++];
    *c = (struct store_claim){
        .id = sqlite3_column_int64(st, 0),
        .org_id = sqlite3_column_int64(st, 1),
        .channel_id = sqlite3_column_int64(st, 2),
        .attempts = sqlite3_column_int(st, 3),
        .url = sq_col_str(st, 4),
        .body = sq_col_str(st, 5),
        .body_len = (size_t)sqlite3_column_bytes(st, 5),
        .created_at_ms = sqlite3_column_int64(st, 6),
        .has_attempt = sqlite3_column_int(st, 7) != 0,
        .lease_until_ms = j->now_ms + j->lease_ms,
        .next_at_ms = has_due ? sqlite3_column_int64(st, 8) : 0,
    };
    return c;
}

/* By ids: one UPDATE ... RETURNING (the caller chose the ids by their sizes). */
static enum herald_err claim_ids_run(struct sq_txn *txn, struct claim_job *j)
{
    sqlite3_stmt *st =
        sq_stmt(txn->c, "UPDATE notifications SET next_at_ms = ?2, lease_until_ms = ?2 "
                        "WHERE id IN (SELECT value FROM json_each(?3)) AND status = 0 "
                        "RETURNING id, org_id, channel_id, attempts, url, body, created_at_ms, "
                        "a_started_ms IS NOT NULL");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 2, j->now_ms + j->lease_ms);
    sqlite3_bind_text(st, 3, j->ids_json, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        claim_push(j, st, false);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? HERALD_OK : sq_fail(txn->c, rc, "claim notifications by id");
}

/* The due rows, oldest due first, read one at a time while their bodies fit in max_bytes (an
 * UPDATE ... RETURNING would hold every row it returns in memory before the first), then
 * leased one by one by rowid. */
static enum herald_err claim_due_run(struct sq_txn *txn, struct claim_job *j)
{
    sqlite3_stmt *st = sq_stmt(txn->c, "SELECT id, org_id, channel_id, attempts, url, body, "
                                       "created_at_ms, a_started_ms IS NOT NULL, next_at_ms "
                                       "FROM notifications WHERE status = 0 AND next_at_ms <= ?1 "
                                       "AND channel_id NOT IN (SELECT value FROM json_each(?2)) "
                                       "ORDER BY next_at_ms LIMIT ?3");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, j->now_ms);
    sqlite3_bind_text(st, 2, j->ids_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)j->limit);
    size_t bytes = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(st, 5);
        bool is_alone = j->count == 0 && j->may_exceed;
        if (len > j->max_bytes - bytes && !is_alone) {
            j->over_bytes = len ? len : 1;
            break;
        }
        bytes += claim_push(j, st, true)->body_len;
        if (bytes >= j->max_bytes)
            break; /* the next row, even an empty body, would be past the limit: not read */
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sq_fail(txn->c, rc, "claim notifications");
    st = sq_stmt(txn->c,
                 "UPDATE notifications SET next_at_ms = ?2, lease_until_ms = ?2 WHERE id = ?1");
    if (!st)
        return HERALD_ERR_STORE;
    for (size_t i = 0; i < j->count; i++) {
        sqlite3_bind_int64(st, 1, j->claims[i].id);
        sqlite3_bind_int64(st, 2, j->now_ms + j->lease_ms);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return sq_fail(txn->c, rc, "lease claimed notifications");
    }
    return HERALD_OK;
}

static enum herald_err claim_run(struct store_txn *t, void *arg)
{
    struct claim_job *j = arg;
    return j->is_by_ids ? claim_ids_run(sq_txn_of(t), j) : claim_due_run(sq_txn_of(t), j);
}

static void claim_done(void *arg, enum herald_err err)
{
    struct claim_job *j = arg;
    if (err) {
        store_claims_free(j->claims, j->count);
        j->claims = NULL;
        j->count = 0;
        j->over_bytes = 0;
    }
    j->done(j->arg, j->claims, j->count, j->over_bytes, err);
    free(j->ids_json);
    free(j);
}

static void claim_submit(struct store *s, bool is_by_ids, const int64_t *ids, size_t count,
                         int64_t now_ms, int64_t lease_ms, size_t limit, size_t max_bytes,
                         bool may_exceed, store_claim_done_fn *done, void *arg)
{
    struct buf json;
    buf_init(&json);
    buf_putc(&json, '[');
    for (size_t i = 0; i < count; i++) {
        if (i)
            buf_putc(&json, ',');
        buf_put_i64(&json, ids[i]);
    }
    buf_putc(&json, ']');
    struct claim_job *j = xcalloc(1, sizeof *j);
    j->ids_json = buf_steal(&json, NULL);
    j->is_by_ids = is_by_ids;
    j->done = done;
    j->arg = arg;
    j->now_ms = now_ms;
    j->lease_ms = lease_ms;
    j->limit = limit;
    j->max_bytes = max_bytes;
    j->may_exceed = may_exceed;
    store_submit(s, claim_run, j, claim_done);
}

static void claim(struct store *s, int64_t now_ms, int64_t lease_ms, size_t limit, size_t max_bytes,
                  bool may_exceed, const int64_t *exclude, size_t exclude_count,
                  store_claim_done_fn *done, void *arg)
{
    claim_submit(s, false, exclude, exclude_count, now_ms, lease_ms, limit, max_bytes, may_exceed,
                 done, arg);
}

static void claim_ids(struct store *s, const int64_t *ids, size_t count, int64_t now_ms,
                      int64_t lease_ms, store_claim_done_fn *done, void *arg)
{
    claim_submit(s, true, ids, count, now_ms, lease_ms, count, SIZE_MAX, false, done, arg);
}

struct record_job {
    const struct store_attempt *attempts; /* borrowed until done */
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
    /* The attempt before this one, if any, moves out of the row into the attempts table (a
     * notification handed off fresh has none: no need to look). */
    sqlite3_stmt *st;
    if (!a->is_first) {
        st = sq_stmt(c, "INSERT INTO attempts(notification_id, org_id, started_at_ms, "
                        "duration_ms, http_status, error, response) SELECT id, org_id, "
                        "a_started_ms, a_duration_ms, a_status, a_error, a_response "
                        "FROM notifications WHERE id = ?1 AND a_started_ms IS NOT NULL");
        if (!st)
            return HERALD_ERR_STORE;
        sqlite3_bind_int64(st, 1, a->notification_id);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return sq_fail(c, rc, "keep the previous attempt");
    }
    st = sq_stmt(c, "UPDATE notifications SET status = ?2, attempts = attempts + 1, "
                    "next_at_ms = ?3, lease_until_ms = 0, updated_at_ms = ?4, last_status = ?5, "
                    "last_error = ?6, a_started_ms = ?7, a_duration_ms = ?8, a_status = ?5, "
                    "a_error = ?6, a_response = ?9 WHERE id = ?1");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, a->notification_id);
    sqlite3_bind_int(st, 2, (int)a->new_status);
    sqlite3_bind_int64(st, 3, a->next_at_ms);
    sqlite3_bind_int64(st, 4, a->started_at_ms + a->duration_ms);
    sqlite3_bind_int(st, 5, a->http_status);
    sqlite3_bind_text(st, 6, a->error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, a->started_at_ms);
    sqlite3_bind_int64(st, 8, a->duration_ms);
    sqlite3_bind_text(st, 9, a->response, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(c, rc, "update notification");
    if (!sqlite3_changes(c->db)) {
        /* Pruned meanwhile: nothing to keep, but say so. */
        log_warn("msg=\"attempt recorded for a notification no longer stored\" notification=%lld",
                 (long long)a->notification_id);
        return HERALD_OK;
    }
    if (!a->is_gone)
        return HERALD_OK;
    /* 410 Gone: the subscriber asked to stop. The channel's other pending notifications to
     * the same URL fail too; those committed after the channel moved to another URL do not. */
    st =
        sq_stmt(c, "UPDATE notifications SET status = 2, last_error = 'channel disabled: 410 Gone',"
                   " updated_at_ms = ?3 WHERE org_id = ?1 AND channel_id = ?2 AND status = 0"
                   " AND url = (SELECT url FROM notifications WHERE id = ?4)");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, a->org_id);
    sqlite3_bind_int64(st, 2, a->channel_id);
    sqlite3_bind_int64(st, 3, a->started_at_ms + a->duration_ms);
    sqlite3_bind_int64(st, 4, a->notification_id);
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
    j->done(j->arg, err);
    free(j);
}

static void record(struct store *s, const struct store_attempt *attempts, size_t count,
                   store_done_fn *done, void *arg)
{
    struct record_job *j = xmalloc(sizeof *j);
    *j = (struct record_job){.attempts = attempts, .count = count, .done = done, .arg = arg};
    store_submit(s, record_run, j, record_done);
}

/* The bulk deferral of a blocked destination's backlog: per organization, its channels and URLs
 * as a JSON array of [channel_id, url] pairs. */
struct defer_job {
    int64_t *org_ids;
    char **pairs_json; /* owned */
    size_t org_count;
    int64_t now_ms;
    int64_t until_ms;
    bool is_hasten; /* due after now_ms → now_ms, instead of due before until_ms → until_ms */
    bool is_first_only; /* hasten only the one due first */
};

/* The rows of one organization's pending notifications (notifications_due: not the delivered
 * history of the channels) of the channels and URLs in ?4, unleased at ?2, matching `due`, made
 * due at ?3. */
#define MOVE_SQL(due, order)                                                              \
    "UPDATE notifications SET next_at_ms = ?3 WHERE id IN (SELECT id FROM notifications " \
    "INDEXED BY notifications_due WHERE status = 0 AND " due " AND org_id = ?1 AND "      \
    "lease_until_ms <= ?2 AND (channel_id, url) IN (SELECT json_extract(value, '$[0]'), " \
    "json_extract(value, '$[1]') FROM json_each(?4))" order ")"

/* One walk of the pending rows due before the window's end, or after now (a hasten: all, or the
 * one due first), per organization. */
static enum herald_err defer_run(struct store_txn *t, void *arg)
{
    struct sq_txn *txn = sq_txn_of(t);
    struct defer_job *j = arg;
    for (size_t i = 0; i < j->org_count; i++) {
        sqlite3_stmt *st = j->is_hasten && j->is_first_only
                               ? sq_stmt(txn->c, MOVE_SQL("next_at_ms > ?3 AND attempts > 0",
                                                          " ORDER BY next_at_ms LIMIT 1"))
                           : j->is_hasten
                               ? sq_stmt(txn->c, MOVE_SQL("next_at_ms > ?3 AND attempts > 0", ""))
                               : sq_stmt(txn->c, MOVE_SQL("next_at_ms < ?3", ""));
        if (!st)
            return HERALD_ERR_STORE;
        sqlite3_bind_int64(st, 1, j->org_ids[i]);
        sqlite3_bind_int64(st, 2, j->now_ms);
        sqlite3_bind_int64(st, 3, j->until_ms);
        sqlite3_bind_text(st, 4, j->pairs_json[i], -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return sq_fail(txn->c, rc,
                           j->is_hasten ? "make a recovered destination's notifications due"
                                        : "defer the notifications of a blocked destination");
    }
    return HERALD_OK;
}

static void defer_done(void *arg, enum herald_err err)
{
    (void)err; /* logged by the store; the claims' exclusion still skips the rows */
    struct defer_job *j = arg;
    for (size_t i = 0; i < j->org_count; i++)
        free(j->pairs_json[i]);
    free(j->pairs_json);
    free(j->org_ids);
    free(j);
}

static void move_due(struct store *s, const struct store_channel_url *chs, size_t count,
                     int64_t now_ms, int64_t until_ms, bool is_hasten, bool is_first_only)
{
    if (!count)
        return;
    struct defer_job *j = xcalloc(1, sizeof *j);
    j->org_ids = xmalloc(count * sizeof *j->org_ids);
    j->pairs_json = xmalloc(count * sizeof *j->pairs_json);
    j->now_ms = now_ms;
    j->until_ms = until_ms;
    j->is_hasten = is_hasten;
    j->is_first_only = is_first_only;
    for (size_t i = 0; i < count; i++) {
        size_t k = 0;
        while (k < j->org_count && j->org_ids[k] != chs[i].org_id)
            k++;
        if (k < j->org_count)
            continue; /* this organization's pairs were gathered already */
        json_t *pairs = json_array();
        for (size_t m = i; m < count; m++) {
            if (chs[m].org_id == chs[i].org_id)
                json_array_append_new(pairs,
                                      json_pack("[Is]", (json_int_t)chs[m].channel_id, chs[m].url));
        }
        j->org_ids[j->org_count] = chs[i].org_id;
        j->pairs_json[j->org_count++] = json_dumps(pairs, JSON_COMPACT);
        json_decref(pairs);
    }
    store_submit(s, defer_run, j, defer_done);
}

static void defer(struct store *s, const struct store_channel_url *chs, size_t count,
                  int64_t now_ms, int64_t until_ms)
{
    move_due(s, chs, count, now_ms, until_ms, false, false);
}

static void hasten(struct store *s, const struct store_channel_url *chs, size_t count,
                   int64_t now_ms, bool is_first_only)
{
    move_due(s, chs, count, now_ms, now_ms, true, is_first_only);
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

/* Delivery history. Each filter shape has its own statement so the planner always has an index
 * whose order is the wanted order (id descending): statements are cached by address, and
 * "(?2 = 0 OR channel_id = ?2)" would hide the index from the planner. */
#define NTF_COLS                                                                              \
    "SELECT id, org_id, channel_id, module_id, change_id, operation, url, status, attempts, " \
    "next_at_ms, lease_until_ms, created_at_ms, updated_at_ms, last_status, last_error, "     \
    "a_started_ms, a_duration_ms, a_status, a_error, a_response, body FROM notifications "
#define NTF_RANGE                                                                                \
    " AND created_at_ms >= ?4 AND created_at_ms < ?5 AND id >= ?8 AND id < ?6 ORDER BY id DESC " \
    "LIMIT ?7"
/* Every row of the organization: walk the rowids down (an index on org_id would need a sort). */
static const char list_all_sql[] = NTF_COLS "NOT INDEXED WHERE org_id = ?1" NTF_RANGE;
/* Failed rows are few and have their own partial index; pending ones are the rows of
 * notifications_due (ordered by due time, so their page is sorted: they are few too, except
 * behind a dead destination); delivered ones are the bulk: walk the rowids. */
static const char list_failed_sql[] =
    NTF_COLS "INDEXED BY notifications_failed WHERE org_id = ?1 AND status = 2" NTF_RANGE;
static const char list_pending_sql[] =
    NTF_COLS "INDEXED BY notifications_due WHERE status = 0 AND org_id = ?1" NTF_RANGE;
static const char list_delivered_sql[] =
    NTF_COLS "NOT INDEXED WHERE org_id = ?1 AND status = 1" NTF_RANGE;
static const char list_channel_sql[] =
    NTF_COLS "INDEXED BY notifications_by_channel WHERE org_id = ?1 AND channel_id = ?2" NTF_RANGE;
/* Channel and status: delivered rows are the bulk, so walk the channel's rows for them; pending
 * and failed rows are few, so walk those of the status and keep the channel's. */
static const char list_channel_delivered_sql[] =
    NTF_COLS "INDEXED BY notifications_by_channel WHERE org_id = ?1 AND channel_id = ?2 "
             "AND status = 1" NTF_RANGE;
static const char list_channel_failed_sql[] =
    NTF_COLS "INDEXED BY notifications_failed WHERE org_id = ?1 AND status = 2 "
             "AND channel_id = ?2" NTF_RANGE;
static const char list_channel_pending_sql[] =
    NTF_COLS "INDEXED BY notifications_due WHERE status = 0 AND org_id = ?1 "
             "AND channel_id = ?2" NTF_RANGE;
static const char get_sql[] = NTF_COLS "WHERE org_id = ?1 AND id = ?2";

/* Fills `n` from a row of the statements above; the body only when with_body. */
static void ntf_read(sqlite3_stmt *st, int64_t now_ms, bool with_body, struct store_ntf *n)
{
    memset(n, 0, sizeof *n);
    n->id = sqlite3_column_int64(st, 0);
    n->org_id = sqlite3_column_int64(st, 1);
    n->channel_id = sqlite3_column_int64(st, 2);
    n->module_id = sqlite3_column_int64(st, 3);
    n->change_id = sqlite3_column_int64(st, 4);
    n->operation = sq_col_str(st, 5);
    n->url = sq_col_str(st, 6);
    n->status = (enum store_ntf_status)sqlite3_column_int(st, 7);
    n->round_attempts = sqlite3_column_int(st, 8);
    n->next_at_ms = sqlite3_column_int64(st, 9);
    int64_t lease_until_ms = sqlite3_column_int64(st, 10);
    n->is_in_flight = n->status == STORE_NTF_PENDING && lease_until_ms > now_ms;
    n->created_at_ms = sqlite3_column_int64(st, 11);
    n->updated_at_ms = sqlite3_column_int64(st, 12);
    n->last_status = sqlite3_column_int(st, 13);
    n->last_error = sq_col_str(st, 14);
    if (sqlite3_column_type(st, 15) != SQLITE_NULL) { /* the latest attempt, kept in the row */
        n->attempts = xcalloc(1, sizeof *n->attempts);
        n->attempt_count = 1;
        n->attempts[0].started_at_ms = sqlite3_column_int64(st, 15);
        n->attempts[0].duration_ms = sqlite3_column_int64(st, 16);
        n->attempts[0].http_status = sqlite3_column_int(st, 17);
        n->attempts[0].error = sq_col_str(st, 18);
        n->attempts[0].response = sq_col_str(st, 19);
    }
    if (with_body)
        n->body = sq_col_str(st, 20);
}

/* Puts the earlier attempts (the attempts table) before the latest one ntf_read took from the
 * row, oldest first. */
static enum herald_err attempts_read(struct sq_conn *c, struct store_ntf *n)
{
    if (!n->attempt_count)
        return HERALD_OK; /* no attempt yet, so no earlier one either */
    sqlite3_stmt *st = sq_stmt(c, "SELECT started_at_ms, duration_ms, http_status, error, "
                                  "response FROM attempts WHERE notification_id = ?1 "
                                  "AND org_id = ?2 ORDER BY id");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, n->id);
    sqlite3_bind_int64(st, 2, n->org_id);
    struct store_ntf_attempt *all = NULL;
    size_t count = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count + 1 >= cap) { /* room for the latest one too */
            cap = cap ? cap * 2 : 8;
            all = xrealloc(all, cap * sizeof *all);
        }
        struct store_ntf_attempt *a = &all[count++];
        a->started_at_ms = sqlite3_column_int64(st, 0);
        a->duration_ms = sqlite3_column_int64(st, 1);
        a->http_status = sqlite3_column_int(st, 2);
        a->error = sq_col_str(st, 3);
        a->response = sq_col_str(st, 4);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < count; i++) {
            free(all[i].error);
            free(all[i].response);
        }
        free(all);
        return sq_fail(c, rc, "read attempts");
    }
    if (count) {
        all[count++] = n->attempts[0];
        free(n->attempts);
        n->attempts = all;
        n->attempt_count = count;
    }
    return HERALD_OK;
}

static const char *list_sql(const struct store_ntf_filter *f)
{
    if (!f->has_status)
        return f->channel_id ? list_channel_sql : list_all_sql;
    switch (f->status) {
    case STORE_NTF_DELIVERED:
        return f->channel_id ? list_channel_delivered_sql : list_delivered_sql;
    case STORE_NTF_FAILED:
        return f->channel_id ? list_channel_failed_sql : list_failed_sql;
    default:
        return f->channel_id ? list_channel_pending_sql : list_pending_sql;
    }
}

/* Runs `fn` on a reader inside one read transaction, so a notification and its attempts come
 * from the same snapshot. */
static enum herald_err in_snapshot(struct sq_store *s,
                                   enum herald_err (*fn)(struct sq_conn *c, void *arg), void *arg)
{
    struct sq_conn *c = sq_reader_get(s);
    if (!c)
        return HERALD_ERR_STORE;
    enum herald_err err = sq_exec(c, "BEGIN");
    if (!err) {
        err = fn(c, arg);
        sq_exec(c, "COMMIT");
    }
    sq_reader_put(s, c);
    return err;
}

struct list_args {
    const struct store_ntf_filter *f;
    struct store_ntf *rows;
    size_t count;
};

/* The smallest id whose row was created at or after `at_ms`, or one past the largest id when
 * none was. Created times never decrease along ids (notification_add, created_at), so a binary
 * search over the rowids, a few dozen seeks, turns a time bound into an id bound. Without it a
 * `since` that matched fewer rows than a page read every older row, and an `until` every newer
 * one; an index on the time would cost every notification insert one more b-tree write. */
static enum herald_err first_id_at(struct sq_conn *c, int64_t at_ms, int64_t *id_out)
{
    sqlite3_stmt *st = sq_stmt(c, "SELECT (SELECT min(id) FROM notifications), "
                                  "(SELECT max(id) FROM notifications)");
    if (!st)
        return HERALD_ERR_STORE;
    int rc = sqlite3_step(st);
    bool is_empty = rc != SQLITE_ROW || sqlite3_column_type(st, 0) == SQLITE_NULL;
    int64_t lo = is_empty ? 0 : sqlite3_column_int64(st, 0);
    int64_t hi = is_empty ? 0 : sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return sq_fail(c, rc, "find the notifications' ids");
    if (hi < INT64_MAX)
        hi++;
    /* Every row below lo was created before at_ms; every row from hi on at or after it. */
    st = sq_stmt(c, "SELECT id, created_at_ms FROM notifications WHERE id >= ?1 ORDER BY id "
                    "LIMIT 1");
    if (!st)
        return HERALD_ERR_STORE;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        sqlite3_bind_int64(st, 1, mid);
        rc = sqlite3_step(st);
        int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : INT64_MAX;
        bool is_at = rc != SQLITE_ROW || sqlite3_column_int64(st, 1) >= at_ms;
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return sq_fail(c, rc, "find the notifications of a time");
        if (is_at)
            hi = mid; /* no row lies between mid and id */
        else
            lo = id + 1;
    }
    *id_out = lo;
    return HERALD_OK;
}

static enum herald_err list_run(struct sq_conn *c, void *arg)
{
    struct list_args *a = arg;
    const struct store_ntf_filter *f = a->f;
    int64_t from_id = INT64_MIN;
    int64_t before_id = f->before_id > 0 ? f->before_id : INT64_MAX;
    enum herald_err err;
    if (f->since_ms != INT64_MIN) {
        err = first_id_at(c, f->since_ms, &from_id);
        if (err)
            return err;
    }
    if (f->until_ms != INT64_MAX) {
        int64_t until_id;
        err = first_id_at(c, f->until_ms, &until_id);
        if (err)
            return err;
        if (until_id < before_id)
            before_id = until_id;
    }
    sqlite3_stmt *st = sq_stmt(c, list_sql(f));
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, f->org_id);
    sqlite3_bind_int64(st, 2, f->channel_id);
    sqlite3_bind_int(st, 3, (int)f->status);
    sqlite3_bind_int64(st, 4, f->since_ms);
    sqlite3_bind_int64(st, 5, f->until_ms);
    sqlite3_bind_int64(st, 6, before_id);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)f->limit);
    sqlite3_bind_int64(st, 8, from_id);
    int64_t now_ms = time_now_ms();
    a->rows = xcalloc(f->limit, sizeof *a->rows);
    int rc = SQLITE_DONE;
    while (a->count < f->limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
        ntf_read(st, now_ms, false, &a->rows[a->count++]);
    if (a->count == f->limit)
        rc = SQLITE_DONE;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(c, rc, "list notifications");
    for (size_t i = 0; i < a->count; i++) {
        err = attempts_read(c, &a->rows[i]);
        if (err)
            return err;
    }
    return HERALD_OK;
}

static enum herald_err list(struct store *base, const struct store_ntf_filter *f,
                            struct store_ntf **out, size_t *count)
{
    struct list_args a = {.f = f};
    enum herald_err err = in_snapshot(sq_of(base), list_run, &a);
    if (err) {
        store_ntf_list_free(a.rows, a.count);
        return err;
    }
    *out = a.rows;
    *count = a.count;
    return HERALD_OK;
}

struct get_args {
    int64_t org_id;
    int64_t id;
    struct store_ntf *out;
};

static enum herald_err get_run(struct sq_conn *c, void *arg)
{
    struct get_args *a = arg;
    sqlite3_stmt *st = sq_stmt(c, get_sql);
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, a->org_id);
    sqlite3_bind_int64(st, 2, a->id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        ntf_read(st, time_now_ms(), true, a->out);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return HERALD_ERR_NOT_FOUND;
    if (rc != SQLITE_ROW)
        return sq_fail(c, rc, "read notification");
    return attempts_read(c, a->out);
}

static enum herald_err get(struct store *base, int64_t org_id, int64_t id, struct store_ntf *out)
{
    memset(out, 0, sizeof *out);
    struct get_args a = {.org_id = org_id, .id = id, .out = out};
    enum herald_err err = in_snapshot(sq_of(base), get_run, &a);
    if (err)
        store_ntf_fini(out);
    return err;
}

/* A resend restarts the retry round: the dispatcher picks the delay after attempt k from
 * `attempts`, so a resent notification gets the whole schedule again. A live lease means an
 * attempt is in flight; touching the row then would let a second copy go out concurrently. */
static enum herald_err resend(struct store_txn *t, int64_t org_id, int64_t id, int64_t now_ms)
{
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st = sq_stmt(txn->c, "UPDATE notifications SET status = 0, attempts = 0, "
                                       "next_at_ms = ?3, lease_until_ms = 0, updated_at_ms = ?3 "
                                       "WHERE org_id = ?1 AND id = ?2 "
                                       "AND NOT (status = 0 AND lease_until_ms > ?3)");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int64(st, 3, now_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "resend notification");
    if (sqlite3_changes(txn->c->db))
        return HERALD_OK;
    st = sq_stmt(txn->c, "SELECT 1 FROM notifications WHERE org_id = ?1 AND id = ?2");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_int64(st, 2, id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return HERALD_ERR_DENIED;
    return rc == SQLITE_DONE ? HERALD_ERR_NOT_FOUND : sq_fail(txn->c, rc, "find notification");
}

static enum herald_err resend_failed(struct store_txn *t, int64_t org_id, int64_t channel_id,
                                     int64_t since_ms, int64_t failed_before_ms, int64_t now_ms,
                                     size_t limit, size_t *count)
{
    struct sq_txn *txn = sq_txn_of(t);
    *count = 0;
    sqlite3_stmt *st =
        sq_stmt(txn->c, "UPDATE notifications SET status = 0, attempts = 0, next_at_ms = ?5, "
                        "lease_until_ms = 0, updated_at_ms = ?5 WHERE id IN (SELECT id FROM "
                        "notifications INDEXED BY notifications_failed WHERE org_id = ?1 "
                        "AND status = 2 AND channel_id = ?2 AND created_at_ms >= ?3 "
                        "AND updated_at_ms < ?4 ORDER BY id LIMIT ?6)");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_int64(st, 2, channel_id);
    sqlite3_bind_int64(st, 3, since_ms);
    sqlite3_bind_int64(st, 4, failed_before_ms);
    sqlite3_bind_int64(st, 5, now_ms);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)limit);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "resend failed notifications");
    *count = (size_t)sqlite3_changes(txn->c->db);
    return HERALD_OK;
}

struct prune_job {
    int64_t before_ms;
    size_t limit;
    size_t deleted;
    bool has_more;
    int64_t *ids;
};

/* Delivered notifications go in id order (ids grow with time), in a sweep over the rowids:
 * each round looks at the next `limit` rows from where the last one stopped. The sweep starts
 * again from the lowest id once it reaches the end, or a row created after the retention's
 * start (rows after it are newer still, and a row is updated no earlier than it is created).
 * Pending and failed rows are passed over; one delivered after the sweep passed it goes in the
 * next sweep. A partial index on the delivered rows found them without a sweep, but cost one
 * more b-tree insert on every delivery. Keeping the largest id matters: SQLite gives a new row
 * max(id) + 1, so deleting the newest row would hand its id, and its webhook-id, to the next
 * notification. */
static enum herald_err prune_notifications(struct sq_txn *txn, struct prune_job *j)
{
    int64_t from = txn->s->prune_from;
    sqlite3_stmt *st = sq_stmt(txn->c, "SELECT id, created_at_ms FROM notifications "
                                       "WHERE id >= ?1 ORDER BY id LIMIT 1 OFFSET ?2");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)j->limit);
    int64_t end = INT64_MAX; /* the first row after this round's window */
    bool is_swept = true;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        end = sqlite3_column_int64(st, 0);
        is_swept = sqlite3_column_int64(st, 1) >= j->before_ms;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "find the pruning window");
    st = sq_stmt(txn->c, "DELETE FROM notifications WHERE id >= ?2 AND id < ?3 AND status = 1 "
                         "AND updated_at_ms < ?1 AND id < (SELECT max(id) FROM notifications) "
                         "RETURNING id");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, j->before_ms);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, end);
    size_t count = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count < j->limit)
            j->ids[count++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "prune notifications");
    st = sq_stmt(txn->c, "DELETE FROM attempts WHERE notification_id = ?1");
    if (!st)
        return HERALD_ERR_STORE;
    for (size_t i = 0; i < count; i++) {
        sqlite3_bind_int64(st, 1, j->ids[i]);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return sq_fail(txn->c, rc, "prune attempts");
    }
    txn->s->prune_from = is_swept ? 0 : end;
    j->deleted += count;
    j->has_more = j->has_more || !is_swept;
    return HERALD_OK;
}

/* Change events older than the retention go too, oldest first, the newest kept for the same
 * reason as above. Notifications keep their own rendered bodies. Only the `limit` oldest rows
 * (smallest ids; ids grow with time) are looked at: with "WHERE created_at_ms < ?1 ORDER BY id
 * LIMIT ?2" alone, a pass with nothing to prune read the whole table (no index on the time), on
 * the writer, every few seconds. */
static enum herald_err prune_changes(struct sq_txn *txn, struct prune_job *j)
{
    sqlite3_stmt *st =
        sq_stmt(txn->c, "DELETE FROM changes WHERE id IN (SELECT id FROM (SELECT id, "
                        "created_at_ms FROM changes ORDER BY id LIMIT ?2) "
                        "WHERE created_at_ms < ?1 AND id < (SELECT max(id) FROM changes))");
    if (!st)
        return HERALD_ERR_STORE;
    sqlite3_bind_int64(st, 1, j->before_ms);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)j->limit);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "prune changes");
    size_t count = (size_t)sqlite3_changes(txn->c->db);
    j->deleted += count;
    j->has_more = j->has_more || count >= j->limit;
    return HERALD_OK;
}

static enum herald_err prune_run(struct store_txn *t, void *arg)
{
    struct sq_txn *txn = sq_txn_of(t);
    struct prune_job *j = arg;
    j->deleted = 0;
    j->has_more = false;
    enum herald_err err = prune_notifications(txn, j);
    return err ? err : prune_changes(txn, j);
}

static enum herald_err prune(struct store *s, int64_t before_ms, size_t limit, size_t *deleted,
                             bool *has_more)
{
    struct prune_job j = {.before_ms = before_ms, .limit = limit};
    j.ids = xmalloc(limit * sizeof *j.ids);
    enum herald_err err = store_exec(s, prune_run, &j);
    free(j.ids);
    *deleted = err ? 0 : j.deleted;
    *has_more = !err && j.has_more;
    return err;
}

static enum herald_err leases_void_run(struct store_txn *t, void *arg)
{
    int64_t *voided = arg;
    struct sq_txn *txn = sq_txn_of(t);
    sqlite3_stmt *st =
        sq_stmt(txn->c, "UPDATE notifications SET next_at_ms = 0, lease_until_ms = 0 "
                        "WHERE id IN (SELECT id FROM notifications INDEXED BY notifications_due "
                        "WHERE status = 0 AND lease_until_ms > 0)");
    if (!st)
        return HERALD_ERR_STORE;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(txn->c, rc, "void leases");
    *voided = sqlite3_changes64(txn->c->db);
    return HERALD_OK;
}

/* Says what a restart recovered, when it recovered anything: the notifications an earlier run
 * held (in flight, queued or handed off) when it stopped, due again at once. */
static enum herald_err leases_void(struct store *s)
{
    int64_t voided = 0;
    enum herald_err err = store_exec(s, leases_void_run, &voided);
    /* Nothing to say after a clean stop or on a new database: the line would suggest a crash. */
    if (!err && voided > 0)
        log_info("msg=\"leases of an earlier run voided: their notifications are due again\" "
                 "count=%lld",
                 (long long)voided);
    return err;
}

const struct store_outbox_ops sqlite_outbox_ops = {
    .change_add = change_add,
    .notification_add = notification_add,
    .claim = claim,
    .claim_ids = claim_ids,
    .record = record,
    .defer = defer,
    .hasten = hasten,
    .handoff = sq_handoff,
    .next_due = next_due,
    .list = list,
    .get = get,
    .resend = resend,
    .resend_failed = resend_failed,
    .prune = prune,
    .leases_void = leases_void,
};
