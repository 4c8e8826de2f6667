/* The schema as a list of migrations, applied in order on open and tracked by user_version.
 * Never edit a released migration: append a new one. Every table carries org_id. */
#include <stdio.h>

#include "core/log.h"
#include "store/sqlite_int.h"

static const char *const migrations[] = {
    /* 1: organizations, tokens, users */
    "CREATE TABLE orgs("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " secret TEXT NOT NULL,"
    " prev_secret TEXT,"
    " prev_secret_until INTEGER NOT NULL DEFAULT 0,"
    " admin_user_id INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE tokens("
    " id INTEGER PRIMARY KEY,"
    " org_id INTEGER NOT NULL REFERENCES orgs(id),"
    " user_id INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " hash TEXT NOT NULL UNIQUE,"
    " scopes TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " revoked_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE users("
    " id INTEGER PRIMARY KEY,"
    " org_id INTEGER NOT NULL REFERENCES orgs(id),"
    " email TEXT NOT NULL,"
    " data TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " modified_at INTEGER NOT NULL);"
    "CREATE INDEX users_by_org ON users(org_id, id);",

    /* 2: records, and the change events every successful mutation commits with them. A change
     * row holds one API request's effect on one module: per record its id, changed fields with
     * their new values, and the records it looks up (JSON, see store/records.h). */
    "CREATE TABLE records("
    " id INTEGER PRIMARY KEY,"
    " org_id INTEGER NOT NULL REFERENCES orgs(id),"
    " module_id INTEGER NOT NULL,"
    " owner_id INTEGER NOT NULL,"
    " name TEXT NOT NULL DEFAULT '',"
    " data TEXT NOT NULL,"
    " created_by INTEGER NOT NULL,"
    " modified_by INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " modified_at INTEGER NOT NULL);"
    "CREATE INDEX records_by_module ON records(org_id, module_id, id);"
    "CREATE TABLE changes("
    " id INTEGER PRIMARY KEY,"
    " org_id INTEGER NOT NULL REFERENCES orgs(id),"
    " module_id INTEGER NOT NULL,"
    " operation TEXT NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),"
    " request_id TEXT NOT NULL,"
    " created_at_ms INTEGER NOT NULL,"
    " records TEXT NOT NULL);"
    "CREATE INDEX changes_by_org ON changes(org_id, id);",

    /* 3: watch channels, one row per (channel, module) as Zoho reports them. events is a bit
     * set (1 create, 2 edit, 4 delete); condition and fields keep the JSON to echo. seq orders
     * channels as they were first subscribed (GET lists them so). */
    "CREATE TABLE channels("
    " org_id INTEGER NOT NULL REFERENCES orgs(id),"
    " channel_id INTEGER NOT NULL,"
    " module_id INTEGER NOT NULL,"
    " seq INTEGER NOT NULL,"
    " events INTEGER NOT NULL,"
    " notify_url TEXT NOT NULL,"
    " token TEXT,"
    " expiry_s INTEGER NOT NULL,"
    " notify_on_related INTEGER NOT NULL,"
    " return_values INTEGER NOT NULL,"
    " condition TEXT,"
    " fields TEXT,"
    " created_at_s INTEGER NOT NULL,"
    " updated_at_s INTEGER NOT NULL,"
    " PRIMARY KEY(org_id, channel_id, module_id)) WITHOUT ROWID;"
    "CREATE INDEX channels_by_expiry ON channels(expiry_s);"
    "CREATE INDEX channels_by_seq ON channels(org_id, seq, channel_id, module_id);",

    /* 4: the outbox. body is the rendered callback after its first key (server_time is added
     * at send time). status: 0 pending, 1 delivered, 2 failed. */
    "CREATE TABLE notifications("
    " id INTEGER PRIMARY KEY,"
    " org_id INTEGER NOT NULL REFERENCES orgs(id),"
    " channel_id INTEGER NOT NULL,"
    " module_id INTEGER NOT NULL,"
    " operation TEXT NOT NULL,"
    " change_id INTEGER NOT NULL,"
    " url TEXT NOT NULL,"
    " body TEXT NOT NULL,"
    " status INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at_ms INTEGER NOT NULL,"
    " lease_until_ms INTEGER NOT NULL DEFAULT 0,"
    " created_at_ms INTEGER NOT NULL,"
    " updated_at_ms INTEGER NOT NULL,"
    " last_status INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT);"
    "CREATE INDEX notifications_due ON notifications(next_at_ms) WHERE status = 0;"
    "CREATE INDEX notifications_by_channel ON notifications(org_id, channel_id, id);"
    "CREATE TABLE attempts("
    " id INTEGER PRIMARY KEY,"
    " notification_id INTEGER NOT NULL,"
    " org_id INTEGER NOT NULL,"
    " started_at_ms INTEGER NOT NULL,"
    " duration_ms INTEGER NOT NULL,"
    " http_status INTEGER NOT NULL,"
    " error TEXT,"
    " response TEXT);"
    "CREATE INDEX attempts_by_notification ON attempts(notification_id, id);",

    /* 5: delivery history and retention. by_status serves "failed (or pending) notifications
     * of an organization, newest first" and the resend of a channel's failed ones; delivered
     * rows are found for pruning, oldest first, through a partial index. */
    "CREATE INDEX notifications_by_status ON notifications(org_id, status, id);"
    "CREATE INDEX notifications_delivered ON notifications(updated_at_ms) WHERE status = 1;",

    /* 6: start-up reads max(seq) over every organization's channels to keep ids increasing;
     * without an index starting with seq that scanned every channel row. */
    "CREATE INDEX channels_seq ON channels(seq);",

    /* 7: fewer writes per delivery. The latest attempt lives in its notification's row (a_*,
     * NULL a_started_ms: none yet); the attempts table holds the earlier ones, so a first
     * attempt that succeeds is one UPDATE, without an INSERT into attempts and its index.
     * by_status leaves delivered rows out (the bulk; listing them walks the rowids or the
     * channel index), so a delivery deletes one entry instead of moving it. */
    "ALTER TABLE notifications ADD COLUMN a_started_ms INTEGER;"
    "ALTER TABLE notifications ADD COLUMN a_duration_ms INTEGER;"
    "ALTER TABLE notifications ADD COLUMN a_status INTEGER;"
    "ALTER TABLE notifications ADD COLUMN a_error TEXT;"
    "ALTER TABLE notifications ADD COLUMN a_response TEXT;"
    "UPDATE notifications SET (a_started_ms, a_duration_ms, a_status, a_error, a_response) = "
    " (SELECT started_at_ms, duration_ms, http_status, error, response FROM attempts"
    "  WHERE notification_id = notifications.id ORDER BY id DESC LIMIT 1)"
    " WHERE id IN (SELECT notification_id FROM attempts);"
    "DELETE FROM attempts WHERE id IN (SELECT max(id) FROM attempts GROUP BY notification_id);"
    "DROP INDEX notifications_by_status;"
    "CREATE INDEX notifications_by_status ON notifications(org_id, status, id) WHERE status <> 1;",

    /* 8: the same changes table, its CHECK written with = and OR: SQLite evaluates
     * "operation IN (three constants)" through a temporary b-tree built on every insert, which
     * cost about as much as the insert itself. Nothing references changes, so it is rebuilt. */
    "CREATE TABLE changes_v8("
    " id INTEGER PRIMARY KEY,"
    " org_id INTEGER NOT NULL REFERENCES orgs(id),"
    " module_id INTEGER NOT NULL,"
    " operation TEXT NOT NULL"
    "  CHECK (operation = 'insert' OR operation = 'update' OR operation = 'delete'),"
    " request_id TEXT NOT NULL,"
    " created_at_ms INTEGER NOT NULL,"
    " records TEXT NOT NULL);"
    "INSERT INTO changes_v8(id, org_id, module_id, operation, request_id, created_at_ms, records)"
    " SELECT id, org_id, module_id, operation, request_id, created_at_ms, records FROM changes;"
    "DROP TABLE changes;"
    "ALTER TABLE changes_v8 RENAME TO changes;"
    "CREATE INDEX changes_by_org ON changes(org_id, id);",

    /* 9: no query reads changes by organization (retention walks them by id), so the index was
     * one more b-tree insert and one more dirty page per commit on every record change. */
    "DROP INDEX changes_by_org;",

    /* 10: fewer index writes per notification. by_status held every pending row, so each
     * notification was inserted into it and deleted from it again on delivery; pending rows are
     * all in notifications_due already (listing them sorts that index's rows, which are few
     * unless a destination is down). The failed ones, which nothing else finds, get their own
     * index. notifications_delivered cost an insert per delivery for the pruner, which now
     * sweeps the rowids instead (sqlite_outbox.c, prune_notifications). */
    "DROP INDEX notifications_by_status;"
    "DROP INDEX notifications_delivered;"
    "CREATE INDEX notifications_failed ON notifications(org_id, id) WHERE status = 2;",

    /* 11: every secret a rotation retired keeps signing until its own end, not just the last
     * one: rotating twice within the 24 h dropped the first old secret early. They move out of
     * orgs.prev_secret (left NULL from here on) into a table of their own, newest the highest
     * id; rotations delete the expired ones and those past the newest 10. */
    "CREATE TABLE retired_secrets("
    " id INTEGER PRIMARY KEY,"
    " org_id INTEGER NOT NULL REFERENCES orgs(id),"
    " secret TEXT NOT NULL,"
    " until_s INTEGER NOT NULL);"
    "CREATE INDEX retired_secrets_by_org ON retired_secrets(org_id, id);"
    "INSERT INTO retired_secrets(org_id, secret, until_s)"
    " SELECT id, prev_secret, prev_secret_until FROM orgs"
    " WHERE prev_secret IS NOT NULL AND prev_secret_until > CAST(strftime('%s', 'now') AS INTEGER)"
    " ORDER BY id;"
    "UPDATE orgs SET prev_secret = NULL, prev_secret_until = 0 WHERE prev_secret IS NOT NULL;",
};

/* The schema version, read inside the caller's transaction. */
static enum herald_err schema_version(struct sq_conn *c, int *version)
{
    sqlite3_stmt *st = sq_stmt(c, "PRAGMA user_version");
    if (!st)
        return HERALD_ERR_STORE;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        return sq_fail(c, rc, "read schema version");
    *version = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return HERALD_OK;
}

/* One migration per transaction. The version is read after BEGIN IMMEDIATE has the write lock,
 * so two processes starting on a new database at once (serve and token create, say) apply each
 * migration once: the second finds the first's work done. */
enum herald_err sq_migrate(struct sq_conn *c)
{
    int target = (int)(sizeof migrations / sizeof migrations[0]);
    for (;;) {
        enum herald_err err = sq_exec(c, "BEGIN IMMEDIATE");
        if (err)
            return err;
        int version = 0;
        err = schema_version(c, &version);
        if (!err && version > target) {
            log_error("msg=\"database schema is newer than this herald\" version=%d known=%d",
                      version, target);
            err = HERALD_ERR_STORE;
        }
        if (!err && version == target)
            return sq_exec(c, "COMMIT");
        if (!err)
            err = sq_exec(c, migrations[version]);
        if (!err) {
            char pragma[48];
            snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", version + 1);
            err = sq_exec(c, pragma);
        }
        if (err) {
            sq_exec(c, "ROLLBACK");
            return err;
        }
        err = sq_exec(c, "COMMIT");
        if (err)
            return err;
        log_info("msg=\"schema migrated\" version=%d", version + 1);
    }
}
