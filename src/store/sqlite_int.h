/* Internals shared by the SQLite backend's files: connections with a prepared-statement cache,
 * the reader pool, and error translation. Nothing here leaves src/store/. */
#ifndef HERALD_STORE_SQLITE_INT_H
#define HERALD_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "store/outbox.h"
#include "store/store_int.h"

#define SQ_STMT_CACHE 96

/* The VFS every connection opens with (sqlite_vfs.c): the default one, with the writes of the
 * write-ahead log gathered into one write per sync. NULL (the default VFS) if it cannot be. */
#define SQ_VFS_NAME "herald-wal"
const char *sq_vfs_name(void);
/* The OS error (errno) of this thread's last failed file operation through it, 0 if none
 * since the last call; taken: the next call returns 0 until another fails. */
int sq_vfs_take_errno(void);
/* How many writes reached write-ahead logs through it (for tests). */
long sq_vfs_wal_writes(void);

/* One connection and its statements, cached by the address of their SQL text (static strings). */
struct sq_conn {
    sqlite3 *db;
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[SQ_STMT_CACHE];
    size_t cached;
    struct sq_conn *next_free;
};

struct sq_job {
    store_job_fn *fn;
    void *arg;
    store_done_fn *done;
    enum herald_err err;
    bool is_plain; /* no savepoint: its failure fails the batch (store_submit_plain) */
    struct sq_job *next;
};

/* A user's name and email as records name them, cached by the writer (see sq_user_cache_clear). */
#define SQ_USER_CACHE 64
struct sq_user_slot {
    int64_t org_id;
    int64_t user_id; /* 0: empty */
    char *name;
    char *email;
};

struct sq_store {
    struct store base;
    char *path;
    char *mark_path; /* the revocation marker: path + "-revocations" */
    /* The marker held open for fstat (sqlite_org.c, sq_token_mark): -1 none. Descriptors of
     * markers replaced since stay open until the store is freed (another thread may be reading
     * one), in mark_old. */
    atomic_int mark_fd;
    atomic_int_fast64_t mark_checked_ms; /* when the path was last looked at */
    pthread_mutex_t mark_mu;             /* guards replacing mark_fd and mark_old */
    int *mark_old;
    size_t mark_old_count;
    struct sq_conn *writer;
    pthread_t writer_thread;
    pthread_mutex_t mu; /* guards the queue, is_stopping and the reader pool */
    pthread_cond_t cv;
    struct sq_job *head, *tail;
    bool is_stopping;
    struct sq_conn *free_readers;
    store_commit_fn *commit_fn;
    void *commit_arg;
    store_handoff_fn *handoff_fn; /* guarded by mu; the writer copies it per batch */
    void *handoff_arg;
    int64_t handoff_lease_ms;
    struct store_budget *handoff_budget;
    /* Writer thread only: the batch's hand-off (NULL: none) and the rows its jobs added due at
     * once, given to it after the commit; a job that rolls back drops its own, and gives the
     * budget (NULL: none) back what their bodies took. */
    store_handoff_fn *batch_handoff;
    int64_t batch_lease_ms;
    struct store_budget *batch_budget;
    struct store_claim *fresh;
    size_t fresh_count, fresh_cap;
    /* Writer thread only: users' names and emails read by jobs (every record answer names its
     * creator and modifier). Cleared by every user write and every rollback, so it never holds
     * what the database does not. */
    struct sq_user_slot users[SQ_USER_CACHE];
    /* Writer thread only: where the pruner's sweep over the notifications goes on (0: from the
     * lowest id). */
    int64_t prune_from;
    /* Writer thread only: the created_at_ms of the newest notification, once read
     * (has_ntf_created_ms). No notification is stored as created before it, so created times
     * never decrease with ids, which the delivery history's time filters rely on
     * (sqlite_outbox.c, first_id_at). */
    int64_t ntf_created_ms;
    bool has_ntf_created_ms;
    atomic_int_fast64_t next_id;
    int64_t default_org;
};

struct sq_txn {
    struct store_txn base;
    struct sq_store *s;
    struct sq_conn *c;
};

/* Returns the cached statement for `sql` (reset, bindings cleared), preparing it on first use.
 * NULL on a prepare error (logged). `sql` must be a string with static storage. */
sqlite3_stmt *sq_stmt(struct sq_conn *c, const char *sql);
/* Logs a SQLite failure once, with what was being done, and returns HERALD_ERR_STORE. */
enum herald_err sq_fail(struct sq_conn *c, int rc, const char *what);
/* Runs SQL text without results (DDL, pragmas). */
enum herald_err sq_exec(struct sq_conn *c, const char *sql);
/* Borrows a reader connection (opening one when none is free); give it back with sq_reader_put. */
struct sq_conn *sq_reader_get(struct sq_store *s);
void sq_reader_put(struct sq_store *s, struct sq_conn *c);
/* Copies column i as a new string (NULL for SQL NULL). */
char *sq_col_str(sqlite3_stmt *st, int i);

static inline struct sq_store *sq_of(struct store *s)
{
    return (struct sq_store *)s;
}

static inline struct sq_txn *sq_txn_of(struct store_txn *t)
{
    return (struct sq_txn *)t;
}

/* Empties the writer's user cache (a user changed, or a job or batch rolled back). */
void sq_user_cache_clear(struct sq_store *s);

/* Registers the outbox hand-off (store_outbox_handoff). */
void sq_handoff(struct store *base, store_handoff_fn *fn, void *arg, int64_t lease_ms,
                struct store_budget *budget);

/* Schema: migrations applied in order, tracked by PRAGMA user_version. */
enum herald_err sq_migrate(struct sq_conn *c);

/* Organizations, tokens, users (sqlite_org.c). */
enum herald_err sq_org_bootstrap(struct sq_store *s);
int64_t sq_default_org(struct store *s);
enum herald_err sq_org_get(struct store *s, int64_t org_id, struct store_org *out);
enum herald_err sq_org_rotate_secret(struct store *s, int64_t org_id, int64_t grace_s,
                                     size_t *cut_out);
enum herald_err sq_token_create(struct store *s, int64_t org_id, const char *name,
                                const char *scopes, const char *hash_hex, int64_t *id_out);
enum herald_err sq_token_find(struct store *s, const char *hash_hex, struct store_token *out);
enum herald_err sq_token_list(struct store *s, int64_t org_id, struct store_token **out,
                              size_t *count);
enum herald_err sq_token_revoke(struct store *s, int64_t org_id, int64_t token_id);
void sq_token_mark(struct store *s, struct store_token_mark *out);
/* Creates the revocation marker when missing (a warning when it cannot: token caching is then
 * off in every process until it exists). */
void sq_token_mark_init(struct sq_store *s);
/* Closes the marker descriptors (the store is being freed). */
void sq_token_mark_fini(struct sq_store *s);
enum herald_err sq_user_get(struct store *s, int64_t org_id, int64_t user_id,
                            struct store_user *out);
enum herald_err sq_user_list(struct store *s, int64_t org_id, size_t offset, size_t limit,
                             struct store_user **out, size_t *count);
/* Each area's ops table (sqlite_<area>.c). */
extern const struct store_record_ops sqlite_record_ops;
extern const struct store_channel_ops sqlite_channel_ops;
extern const struct store_outbox_ops sqlite_outbox_ops;

/* The largest id in any table, so ids stay unique across restarts. */
int64_t sq_max_id(struct sq_conn *c);

#endif
