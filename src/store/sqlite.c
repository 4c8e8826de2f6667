/* The SQLite backend: WAL with synchronous=FULL, one writer thread doing group commit, and a pool
 * of reader connections. Invariant: only the writer thread writes; a job's done callback runs
 * only after the transaction holding its writes is durable. */
#include "store/sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/timefmt.h"
#include "core/wakes.h"
#include "core/xmalloc.h"

/* Jobs per transaction: enough to amortize the fsync, small enough to keep latency flat. */
#define SQ_MAX_BATCH 512

sqlite3_stmt *sq_stmt(struct sq_conn *c, const char *sql)
{
    for (size_t i = 0; i < c->cached; i++) {
        if (c->cache[i].sql == sql) {
            sqlite3_stmt *st = c->cache[i].st;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        sq_fail(c, rc, "prepare");
        log_error("msg=\"statement failed to prepare\" sql=\"%.80s\"", sql);
        return NULL;
    }
    if (c->cached < SQ_STMT_CACHE) {
        c->cache[c->cached].sql = sql;
        c->cache[c->cached].st = st;
        c->cached++;
    } else {
        log_error("msg=\"statement cache full\" sql=\"%.80s\"", sql);
    }
    return st;
}

enum herald_err sq_fail(struct sq_conn *c, int rc, const char *what)
{
    /* The OS's reason, for the failures that have one (taken in any case: never a stale one). */
    int os = sq_vfs_take_errno();
    int primary = rc & 0xff;
    if (primary != SQLITE_IOERR && primary != SQLITE_FULL && primary != SQLITE_CANTOPEN)
        os = 0;
    log_error("msg=\"sqlite failure\" during=\"%s\" rc=%d error=\"%s\"%s%s%s", what, rc,
              c && c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc), os ? " os_error=\"" : "",
              os ? strerror(os) : "", os ? "\"" : "");
    return HERALD_ERR_STORE;
}

enum herald_err sq_exec(struct sq_conn *c, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        log_error("msg=\"sqlite exec failed\" rc=%d error=\"%s\" sql=\"%.60s\"", rc, msg ? msg : "",
                  sql);
        sqlite3_free(msg);
        return HERALD_ERR_STORE;
    }
    return HERALD_OK;
}

char *sq_col_str(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t)
        return NULL;
    return xstrndup((const char *)t, (size_t)sqlite3_column_bytes(st, i));
}

static void conn_free(struct sq_conn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->cached; i++)
        sqlite3_finalize(c->cache[i].st);
    sqlite3_close_v2(c->db);
    free(c);
}

static enum herald_err conn_open(const char *path, bool is_writer, struct sq_conn **out)
{
    struct sq_conn *c = xcalloc(1, sizeof *c);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (is_writer)
        flags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &c->db, flags, sq_vfs_name());
    if (rc != SQLITE_OK) {
        log_error("msg=\"cannot open database\" path=\"%s\" error=\"%s\"", path,
                  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        conn_free(c);
        return HERALD_ERR_STORE;
    }
    sqlite3_busy_timeout(c->db, 10000);
    /* Debian builds SQLite with synchronous=NORMAL under WAL by default; FULL makes every commit
     * durable before the request that caused it is acknowledged. The foreign keys (every row's
     * org_id names an organization) are checked like assertions: in debug and test builds. In a
     * release build every org_id written comes from an authenticated token or the default
     * organization, and organizations are never deleted, so the check cannot fail there; it
     * cost a lookup per inserted row, 7% of the writer's instructions per create. */
#ifdef NDEBUG
#define SQ_FOREIGN_KEYS "PRAGMA foreign_keys=OFF;"
#else
#define SQ_FOREIGN_KEYS "PRAGMA foreign_keys=ON;"
#endif
    /* Two processes opening a new database at once (`serve` and `token create`): turning its
     * journal into a WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY at once,
     * without the busy handler, when waiting could deadlock (this connection holds the shared
     * lock the other's write waits for): one of them exited "database is locked" about once in
     * 80 tries. Retried, as the busy timeout would, for up to 10 s. */
    int64_t give_up_ms = time_mono_ms() + 10000;
    while (sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) == SQLITE_BUSY &&
           time_mono_ms() < give_up_ms)
        time_sleep_ms(2);
    enum herald_err err =
        sq_exec(c, "PRAGMA journal_mode=WAL;"
                   "PRAGMA synchronous=FULL;" SQ_FOREIGN_KEYS "PRAGMA temp_store=MEMORY;"
                   "PRAGMA cache_size=-16000;");
    if (err) {
        conn_free(c);
        return err;
    }
    *out = c;
    return HERALD_OK;
}

struct sq_conn *sq_reader_get(struct sq_store *s)
{
    pthread_mutex_lock(&s->mu);
    struct sq_conn *c = s->free_readers;
    if (c)
        s->free_readers = c->next_free;
    pthread_mutex_unlock(&s->mu);
    if (c)
        return c;
    if (conn_open(s->path, false, &c))
        return NULL;
    return c;
}

void sq_reader_put(struct sq_store *s, struct sq_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&s->mu);
    c->next_free = s->free_readers;
    s->free_readers = c;
    pthread_mutex_unlock(&s->mu);
}

/* Drops the rows added due at once from index `mark` on (a job rolled back, or the batch). */
static void fresh_truncate(struct sq_store *s, size_t mark)
{
    for (size_t i = mark; i < s->fresh_count; i++) {
        if (s->fresh[i].body && s->batch_budget)
            store_budget_give(s->batch_budget, s->fresh[i].body_len);
        store_claim_fini(&s->fresh[i]);
    }
    s->fresh_count = mark;
}

/* Runs a cached statement that returns no rows; SQLITE_OK or its error. */
static int step_once(struct sq_conn *c, const char *sql)
{
    sqlite3_stmt *st = sq_stmt(c, sql);
    if (!st)
        return SQLITE_ERROR;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Rolls the whole batch back: every job fails, `culprit` (if any) with its own error. */
static void batch_fail(struct sq_store *s, struct sq_job *batch, const struct sq_job *culprit)
{
    if (culprit)
        log_error("msg=\"a job failed without a savepoint: its batch is rolled back\" error=%s",
                  herald_err_name(culprit->err));
    sqlite3_exec(s->writer->db, "ROLLBACK", NULL, NULL, NULL);
    for (struct sq_job *j = batch; j; j = j->next) {
        if (j != culprit)
            j->err = HERALD_ERR_STORE;
    }
    fresh_truncate(s, 0);
    sq_user_cache_clear(s);
}

/* SQLite rolled the whole transaction back under a job (it may, on a full disk, an I/O
 * error or no memory, instead of undoing only the failed statement): every job of the batch is
 * undone and fails, and none may go on, since each statement would then commit alone, outside any
 * transaction (a record without its notification, and a 500 for what was stored). */
static void txn_lost(struct sq_store *s, struct sq_job *batch)
{
    log_error("msg=\"the batch's transaction was rolled back by sqlite: every job in it "
              "fails\" error=\"%s\"",
              sqlite3_errmsg(s->writer->db));
    batch_fail(s, batch, NULL);
}

/* The job after `j` in its batch. After the last one, the jobs queued while the batch ran join
 * it (up to SQ_MAX_BATCH in all) instead of waiting for a commit of their own: a request that
 * arrives while the statements of a batch run is in that batch's commit. */
static struct sq_job *next_job(struct sq_store *s, struct sq_job *j, size_t *n)
{
    if (j->next || *n >= SQ_MAX_BATCH)
        return j->next;
    pthread_mutex_lock(&s->mu);
    struct sq_job *first = s->head;
    if (first) {
        struct sq_job *last = first;
        for ((*n)++; last->next && *n < SQ_MAX_BATCH; (*n)++)
            last = last->next;
        s->head = last->next;
        if (!s->head)
            s->tail = NULL;
        last->next = NULL;
        j->next = first;
    }
    pthread_mutex_unlock(&s->mu);
    return first;
}

static void run_batch(struct sq_store *s, struct sq_job *batch, size_t n)
{
    struct sq_txn txn = {.base = {.ops = s->base.ops, .store = &s->base}, .s = s, .c = s->writer};
    /* BEGIN and COMMIT are prepared once (cached), not parsed again for every batch. */
    int brc = step_once(s->writer, "BEGIN IMMEDIATE");
    enum herald_err err = brc == SQLITE_OK ? HERALD_OK : sq_fail(s->writer, brc, "begin");
    if (err) {
        for (struct sq_job *j = batch; j; j = j->next)
            j->err = HERALD_ERR_STORE;
        return;
    }
    sqlite3_stmt *save = sq_stmt(s->writer, "SAVEPOINT job");
    sqlite3_stmt *release = sq_stmt(s->writer, "RELEASE job");
    sqlite3_stmt *undo = sq_stmt(s->writer, "ROLLBACK TO job");
    for (struct sq_job *j = batch; j; j = next_job(s, j, &n)) {
        if (j->is_plain) {
            j->err = j->fn(&txn.base, j->arg);
            if (j->err || sqlite3_get_autocommit(s->writer->db)) {
                batch_fail(s, batch, j->err ? j : NULL);
                return;
            }
            continue;
        }
        if (!save || sqlite3_step(save) != SQLITE_DONE) {
            j->err = HERALD_ERR_STORE;
            continue;
        }
        sqlite3_reset(save);
        size_t mark = s->fresh_count;
        j->err = j->fn(&txn.base, j->arg);
        if (sqlite3_get_autocommit(s->writer->db)) {
            txn_lost(s, batch);
            return;
        }
        if (j->err) {
            sqlite3_step(undo);
            sqlite3_reset(undo);
            fresh_truncate(s, mark);
            sq_user_cache_clear(s);
        }
        sqlite3_step(release);
        sqlite3_reset(release);
    }
    int rc = step_once(s->writer, "COMMIT");
    if (rc != SQLITE_OK) {
        sq_fail(s->writer, rc, "commit");
        batch_fail(s, batch, NULL);
    }
}

/* Gives the batch's committed rows due at once to the hand-off (they are its own now). */
static void fresh_hand(struct sq_store *s, void *arg)
{
    if (!s->fresh_count)
        return;
    struct store_claim *claims = s->fresh;
    size_t n = s->fresh_count;
    s->fresh = NULL;
    s->fresh_count = s->fresh_cap = 0;
    s->batch_handoff(arg, claims, n);
}

static void *writer_main(void *arg)
{
    struct sq_store *s = arg;
    pthread_setname_np(pthread_self(), "herald-writer");
    for (;;) {
        pthread_mutex_lock(&s->mu);
        if (!s->head && !s->is_stopping) {
            pthread_mutex_unlock(&s->mu);
            xmalloc_collect(time_mono_ms());
            pthread_mutex_lock(&s->mu);
        }
        while (!s->head && !s->is_stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->head) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        struct sq_job *batch = s->head, *last = s->head;
        size_t n = 1;
        while (last->next && n < SQ_MAX_BATCH) {
            last = last->next;
            n++;
        }
        s->head = last->next;
        if (!s->head)
            s->tail = NULL;
        last->next = NULL;
        store_commit_fn *hook = s->commit_fn;
        void *hook_arg = s->commit_arg;
        s->batch_handoff = s->handoff_fn;
        s->batch_lease_ms = s->handoff_lease_ms;
        s->batch_budget = s->handoff_budget;
        void *handoff_arg = s->handoff_arg;
        pthread_mutex_unlock(&s->mu);

        run_batch(s, batch, n);
        /* Before the jobs' answers: the callbacks set off at once (commit→receipt latency). */
        fresh_hand(s, handoff_arg);
        wakes_hold(); /* each HTTP thread woken once for the batch's answers */
        while (batch) {
            struct sq_job *next = batch->next;
            if (batch->done)
                batch->done(batch->arg, batch->err);
            free(batch);
            batch = next;
        }
        wakes_release();
        if (hook)
            hook(hook_arg);
    }
    return NULL;
}

static void sq_submit(struct store *base, store_job_fn *fn, void *arg, store_done_fn *done,
                      bool is_plain)
{
    struct sq_store *s = sq_of(base);
    struct sq_job *j = xmalloc(sizeof *j);
    *j = (struct sq_job){.fn = fn, .arg = arg, .done = done, .is_plain = is_plain};
    pthread_mutex_lock(&s->mu);
    if (s->is_stopping) {
        pthread_mutex_unlock(&s->mu);
        free(j);
        if (done)
            done(arg, HERALD_ERR_SHUTDOWN);
        return;
    }
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void sq_on_commit(struct store *base, store_commit_fn *fn, void *arg)
{
    struct sq_store *s = sq_of(base);
    pthread_mutex_lock(&s->mu);
    s->commit_fn = fn;
    s->commit_arg = arg;
    pthread_mutex_unlock(&s->mu);
}

void sq_handoff(struct store *base, store_handoff_fn *fn, void *arg, int64_t lease_ms,
                struct store_budget *budget)
{
    struct sq_store *s = sq_of(base);
    pthread_mutex_lock(&s->mu);
    s->handoff_fn = fn;
    s->handoff_arg = arg;
    s->handoff_lease_ms = lease_ms;
    s->handoff_budget = fn ? budget : NULL;
    pthread_mutex_unlock(&s->mu);
}

static int64_t sq_id_next(struct store *base)
{
    return atomic_fetch_add(&sq_of(base)->next_id, 1);
}

static void sq_free(struct store *base)
{
    struct sq_store *s = sq_of(base);
    pthread_mutex_lock(&s->mu);
    s->is_stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer_thread, NULL);
    while (s->free_readers) {
        struct sq_conn *c = s->free_readers;
        s->free_readers = c->next_free;
        conn_free(c);
    }
    conn_free(s->writer);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->fresh);
    sq_user_cache_clear(s);
    free(s->path);
    sq_token_mark_fini(s);
    free(s->mark_path);
    free(s);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .records = &sqlite_record_ops,
    .channels = &sqlite_channel_ops,
    .outbox = &sqlite_outbox_ops,
    .free = sq_free,
    .submit = sq_submit,
    .on_commit = sq_on_commit,
    .id_next = sq_id_next,
    .default_org = sq_default_org,
    .org_get = sq_org_get,
    .org_rotate_secret = sq_org_rotate_secret,
    .token_create = sq_token_create,
    .token_find = sq_token_find,
    .token_list = sq_token_list,
    .token_revoke = sq_token_revoke,
    .token_mark = sq_token_mark,
    .user_get = sq_user_get,
    .user_list = sq_user_list,
};

/* Before SQLite's first use: no memory statistics, so its every allocation skips a global
 * mutex and the counters (the writer allocates on each statement). */
static void sqlite_configure(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

enum herald_err store_sqlite_open(const char *path, struct store **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_configure);
    struct sq_store *s = xcalloc(1, sizeof *s);
    s->base.ops = &sqlite_ops;
    s->path = xstrdup(path);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    enum herald_err err = conn_open(path, true, &s->writer);
    if (!err)
        err = sq_migrate(s->writer);
    if (err) {
        conn_free(s->writer);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s->path);
        free(s);
        return err;
    }
    /* Ids: 19 decimal digits from the clock in microseconds times 1000, never below what the
     * database already holds, so they increase across restarts even if the clock steps back. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t from_clock = ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000) * 1000;
    int64_t from_db = sq_max_id(s->writer) + 1;
    atomic_init(&s->next_id, from_clock > from_db ? from_clock : from_db);
    /* Leases left by a crash are voided by `herald serve` (store_outbox_leases_void), not
     * here: the CLI opens the database beside a running server, whose leases are live. */
    if (!err)
        err = sq_org_bootstrap(s);
    if (err) {
        conn_free(s->writer);
        free(s->path);
        free(s);
        return err;
    }
    if (pthread_create(&s->writer_thread, NULL, writer_main, s) != 0) {
        log_error("msg=\"cannot start the writer thread\"");
        conn_free(s->writer);
        free(s->path);
        free(s);
        return HERALD_ERR_STORE;
    }
    /* Beside the database file itself, as SQLite puts its -wal and -shm files: a --db naming
     * the file through a symbolic link named another marker than the server's, and a token
     * revoked that way kept working on the server until its cache entry aged out (30 s). */
    char *real = realpath(path, NULL);
    const char *mark_base = real ? real : path;
    size_t mark_len = strlen(mark_base) + sizeof "-revocations";
    s->mark_path = xmalloc(mark_len);
    snprintf(s->mark_path, mark_len, "%s-revocations", mark_base);
    free(real);
    atomic_init(&s->mark_fd, -1);
    pthread_mutex_init(&s->mark_mu, NULL);
    sq_token_mark_init(s);
    *out = &s->base;
    return HERALD_OK;
}
