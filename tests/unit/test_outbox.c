/* The SQLite outbox on real database files: the hand-off of rows due at once (stored leased,
 * given after the commit, never for a rolled-back job), claims and claims by id, attempts kept
 * inline in their notification's row (schema 7), the migration from schema 6, and voiding leases.
 * Each case gets a fresh database in its own temporary directory, which its teardown removes
 * also when the case fails; the store is read back through its API and through a raw SQLite
 * connection of the test's own. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tmpdir.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "store/outbox.h"
#include "store/sqlite_int.h"
#include "store/store.h"

#define URL "http://127.0.0.1:9/hook"
#define LEASE_MS 60000 /* long enough that no lease in these tests ends while one runs */
#define WAIT_S 10      /* the longest a test waits for the writer */
#define HANDED_MAX 16

/* Everything a case owns, so the teardown can release it after a failed assertion; the writer
 * thread's callbacks write into it, so it outlives the store (store_free drains the writer). */
struct fixture {
    char dir[64];
    char db[96];
    struct store *s;
    sqlite3 *raw; /* read-only, opened on first use */
    int64_t org;
    pthread_mutex_t mu; /* guards everything below that the writer thread touches */
    pthread_cond_t cv;
    /* What the hand-off received: one array per call, freed by the teardown. */
    size_t handed_calls;
    struct store_claim *handed[HANDED_MAX];
    size_t handed_count[HANDED_MAX];
    /* The current claim: pending until its done callback ran. */
    bool is_claiming;
    bool is_claimed;
    enum herald_err claim_err;
    struct store_claim *claims;
    size_t claim_count;
    size_t claim_over_bytes;
    /* The hand-off's byte budget, when a case gives it one (the store borrows it). */
    struct store_budget budget;
    /* Attempts recorded (store_outbox_record's done callback) and how many failed. */
    size_t records_done;
    size_t records_failed;
    /* A job that holds the writer until the test opens it (see hold_the_writer). */
    bool is_gate_entered;
    bool is_gate_open;
    struct add_job *gate_job; /* when set, the gate's job runs it first */
    /* Read results, freed by the teardown. */
    struct store_ntf ntf;
    struct store_ntf *list;
    size_t list_count;
};

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/herald-outbox-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "%s/herald.db", f->dir);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    /* A case that failed while the writer was held lets it go, so store_free can drain. */
    pthread_mutex_lock(&f->mu);
    f->is_gate_open = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    store_free(f->s);
    sqlite3_close(f->raw);
    for (size_t i = 0; i < f->handed_calls && i < HANDED_MAX; i++)
        store_claims_free(f->handed[i], f->handed_count[i]);
    store_claims_free(f->claims, f->claim_count);
    store_ntf_fini(&f->ntf);
    store_ntf_list_free(f->list, f->list_count);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void store_start(struct fixture *f)
{
    assert_int_equal(store_open(f->db, &f->s), HERALD_OK);
    f->org = store_default_org(f->s);
}

static void store_stop(struct fixture *f)
{
    store_free(f->s);
    f->s = NULL;
}

static struct timespec deadline_in(int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    return ts;
}

/* Runs on the writer thread after a batch committed; keeps the arrays it owns now. */
static void on_handoff(void *arg, struct store_claim *claims, size_t count)
{
    struct fixture *f = arg;
    pthread_mutex_lock(&f->mu);
    if (f->handed_calls < HANDED_MAX) {
        f->handed[f->handed_calls] = claims;
        f->handed_count[f->handed_calls] = count;
        claims = NULL;
    }
    f->handed_calls++;
    pthread_mutex_unlock(&f->mu);
    store_claims_free(claims, claims ? count : 0);
}

/* The hand-off calls made so far (read after a barrier: the writer has made them all). */
static size_t handed_calls(struct fixture *f)
{
    pthread_mutex_lock(&f->mu);
    size_t calls = f->handed_calls;
    pthread_mutex_unlock(&f->mu);
    assert_true(calls <= HANDED_MAX);
    return calls;
}

/* How many rows were handed off in every call together. */
static size_t handed_total(struct fixture *f)
{
    size_t calls = handed_calls(f), total = 0;
    for (size_t i = 0; i < calls; i++)
        total += f->handed_count[i];
    return total;
}

/* The handed-off claim for notification `id`, or NULL. */
static const struct store_claim *handed_find(struct fixture *f, int64_t id)
{
    size_t calls = handed_calls(f);
    for (size_t i = 0; i < calls; i++) {
        for (size_t k = 0; k < f->handed_count[i]; k++) {
            if (f->handed[i][k].id == id)
                return &f->handed[i][k];
        }
    }
    return NULL;
}

/* How many handed-off claims carry `body`. */
static size_t handed_with_body(struct fixture *f, const char *body)
{
    size_t calls = handed_calls(f), n = 0;
    for (size_t i = 0; i < calls; i++) {
        for (size_t k = 0; k < f->handed_count[i]; k++)
            n += !strcmp(f->handed[i][k].body, body);
    }
    return n;
}

static void on_claimed(void *arg, struct store_claim *claims, size_t count, size_t over_bytes,
                       enum herald_err err)
{
    struct fixture *f = arg;
    pthread_mutex_lock(&f->mu);
    f->claims = claims;
    f->claim_count = count;
    f->claim_over_bytes = over_bytes;
    f->claim_err = err;
    f->is_claimed = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Frees the previous claim's result before a new claim starts. */
static void claim_begin(struct fixture *f)
{
    pthread_mutex_lock(&f->mu);
    bool is_busy = f->is_claiming && !f->is_claimed;
    if (!is_busy) {
        store_claims_free(f->claims, f->claim_count);
        f->claims = NULL;
        f->claim_count = 0;
        f->is_claiming = true;
        f->is_claimed = false;
    }
    pthread_mutex_unlock(&f->mu);
    assert_false(is_busy);
}

/* Waits (at most WAIT_S) for the claim's done callback; the claims are then in f->claims. */
static size_t claim_end(struct fixture *f)
{
    struct timespec deadline = deadline_in(WAIT_S);
    pthread_mutex_lock(&f->mu);
    int rc = 0;
    while (!f->is_claimed && rc == 0)
        rc = pthread_cond_timedwait(&f->cv, &f->mu, &deadline);
    bool is_claimed = f->is_claimed;
    enum herald_err err = f->claim_err;
    size_t count = f->claim_count;
    pthread_mutex_unlock(&f->mu);
    assert_true(is_claimed);
    assert_int_equal(err, HERALD_OK);
    return count;
}

/* Claims what is due at now_ms (store_outbox_claim); returns how many. */
static size_t claim_due(struct fixture *f, int64_t now_ms)
{
    claim_begin(f);
    store_outbox_claim(f->s, now_ms, LEASE_MS, HANDED_MAX, SIZE_MAX, false, NULL, 0, on_claimed, f);
    return claim_end(f);
}

/* Claims what is due at now_ms whose bodies fit in max_bytes; returns how many. */
static size_t claim_due_within(struct fixture *f, int64_t now_ms, size_t max_bytes, bool may_exceed)
{
    claim_begin(f);
    store_outbox_claim(f->s, now_ms, LEASE_MS, HANDED_MAX, max_bytes, may_exceed, NULL, 0,
                       on_claimed, f);
    return claim_end(f);
}

/* Claims the notifications ids[] (store_outbox_claim_ids); returns how many. */
static size_t claim_ids(struct fixture *f, const int64_t *ids, size_t count, int64_t now_ms)
{
    claim_begin(f);
    store_outbox_claim_ids(f->s, ids, count, now_ms, LEASE_MS, on_claimed, f);
    return claim_end(f);
}

static const struct store_claim *claimed_find(struct fixture *f, int64_t id)
{
    for (size_t i = 0; i < f->claim_count; i++) {
        if (f->claims[i].id == id)
            return &f->claims[i];
    }
    return NULL;
}

static enum herald_err noop_run(struct store_txn *txn, void *arg)
{
    (void)txn;
    (void)arg;
    return HERALD_OK;
}

/* Waits until every job submitted before has committed and had its callbacks run: the writer
 * runs jobs in order, and a batch's hand-off and done callbacks before the next batch. */
static void barrier(struct fixture *f)
{
    assert_int_equal(store_exec(f->s, noop_run, NULL), HERALD_OK);
}

/* A job adding up to two notifications, then failing when asked to (its savepoint rolls back). */
struct add_job {
    struct store_outbox_row rows[2];
    size_t count;
    bool is_failing;
    /* Rolls the whole transaction back after its rows, as SQLite itself does on some errors
     * (a full disk, an I/O error), and fails. */
    bool is_losing_the_transaction;
    int64_t ids[2];
    enum herald_err err; /* the job's result, from its done callback (store_submit) */
    bool is_done;
};

static enum herald_err add_run(struct store_txn *txn, void *arg)
{
    struct add_job *j = arg;
    for (size_t i = 0; i < j->count; i++) {
        enum herald_err err = store_txn_notification_add(txn, &j->rows[i], &j->ids[i]);
        if (err)
            return err;
    }
    if (j->is_losing_the_transaction) {
        sqlite3_exec(sq_txn_of(txn)->c->db, "ROLLBACK", NULL, NULL, NULL);
        return HERALD_ERR_STORE;
    }
    return j->is_failing ? HERALD_ERR_INVALID : HERALD_OK;
}

static void add_done(void *arg, enum herald_err err)
{
    struct add_job *j = arg;
    j->err = err;
    j->is_done = true;
}

static struct store_outbox_row row_of(struct fixture *f, int64_t channel_id, const char *body,
                                      int64_t next_at_ms, bool is_due_now)
{
    return (struct store_outbox_row){
        .org_id = f->org,
        .channel_id = channel_id,
        .module_id = 1,
        .operation = "insert",
        .change_id = 1,
        .url = URL,
        .body = body,
        .created_at_ms = next_at_ms,
        .next_at_ms = next_at_ms,
        .is_due_now = is_due_now,
    };
}

/* Adds one notification in its own job; returns its id. */
static int64_t add_one(struct fixture *f, int64_t channel_id, const char *body, int64_t next_at_ms,
                       bool is_due_now)
{
    struct add_job j = {.count = 1};
    j.rows[0] = row_of(f, channel_id, body, next_at_ms, is_due_now);
    assert_int_equal(store_exec(f->s, add_run, &j), HERALD_OK);
    return j.ids[0];
}

static void on_recorded(void *arg, enum herald_err err)
{
    struct fixture *f = arg;
    pthread_mutex_lock(&f->mu);
    f->records_done++;
    f->records_failed += err != HERALD_OK;
    pthread_mutex_unlock(&f->mu);
}

/* Records one attempt and waits for its commit. */
static void record(struct fixture *f, const struct store_attempt *a)
{
    pthread_mutex_lock(&f->mu);
    size_t before = f->records_done;
    pthread_mutex_unlock(&f->mu);
    store_outbox_record(f->s, a, 1, on_recorded, f);
    barrier(f);
    pthread_mutex_lock(&f->mu);
    size_t done = f->records_done, failed = f->records_failed;
    pthread_mutex_unlock(&f->mu);
    assert_int_equal(done, before + 1);
    assert_int_equal(failed, 0);
}

static void ntf_get(struct fixture *f, int64_t id)
{
    store_ntf_fini(&f->ntf);
    assert_int_equal(store_outbox_get(f->s, f->org, id, &f->ntf), HERALD_OK);
}

static void assert_attempt(const struct store_ntf_attempt *got, const struct store_attempt *want)
{
    assert_int_equal(got->started_at_ms, want->started_at_ms);
    assert_int_equal(got->duration_ms, want->duration_ms);
    assert_int_equal(got->http_status, want->http_status);
    if (want->error)
        assert_string_equal(got->error, want->error);
    else
        assert_null(got->error);
    if (want->response)
        assert_string_equal(got->response, want->response);
    else
        assert_null(got->response);
}

/* The raw connection: read-only, beside the store's, reading what is committed. */
static sqlite3 *raw(struct fixture *f)
{
    if (!f->raw) {
        int rc = sqlite3_open_v2(f->db, &f->raw, SQLITE_OPEN_READONLY, NULL);
        assert_int_equal(rc, SQLITE_OK);
        sqlite3_busy_timeout(f->raw, WAIT_S * 1000);
    }
    return f->raw;
}

/* Column 0 of the one row `sql` returns, with ?1 bound to `id` when it has a parameter. */
static int64_t raw_int(struct fixture *f, const char *sql, int64_t id)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(raw(f), sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        fail_msg("prepare '%s': %s", sql, sqlite3_errmsg(f->raw));
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        fail_msg("'%s' (?1 = %lld) returned no row", sql, (long long)id);
    return v;
}

static const char next_at_sql[] = "SELECT next_at_ms FROM notifications WHERE id = ?1";
static const char lease_sql[] = "SELECT lease_until_ms FROM notifications WHERE id = ?1";
static const char attempts_rows_sql[] = "SELECT count(*) FROM attempts WHERE notification_id = ?1";

/* The hand-off. */

static void a_due_now_row_is_handed_off_leased_and_a_merely_due_one_is_not(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    store_outbox_handoff(f->s, on_handoff, f, LEASE_MS, NULL);
    int64_t now = time_now_ms();
    struct add_job j = {.count = 2};
    j.rows[0] = row_of(f, 7, "\"now\":1}", now, true);
    j.rows[1] = row_of(f, 8, "\"due\":1}", now - 5000, false);
    int64_t before = time_now_ms();
    assert_int_equal(store_exec(f->s, add_run, &j), HERALD_OK);
    int64_t after = time_now_ms();
    /* store_exec returns after the batch's done callbacks, which run after its hand-off. */
    assert_int_equal(handed_calls(f), 1);
    assert_int_equal(handed_total(f), 1);
    const struct store_claim *c = handed_find(f, j.ids[0]);
    assert_non_null(c);
    assert_null(handed_find(f, j.ids[1]));
    assert_int_equal(c->org_id, f->org);
    assert_int_equal(c->channel_id, 7);
    assert_int_equal(c->attempts, 0);
    assert_string_equal(c->url, URL);
    assert_string_equal(c->body, "\"now\":1}");
    assert_true(c->url != j.rows[0].url); /* copies: the job's strings are the caller's */
    assert_true(c->lease_until_ms >= before + LEASE_MS);
    assert_true(c->lease_until_ms <= after + LEASE_MS);
    /* Stored leased until that same instant, so no claim takes it meanwhile. */
    assert_int_equal(raw_int(f, next_at_sql, j.ids[0]), c->lease_until_ms);
    assert_int_equal(raw_int(f, lease_sql, j.ids[0]), c->lease_until_ms);
    ntf_get(f, j.ids[0]);
    assert_int_equal(f->ntf.status, STORE_NTF_PENDING);
    assert_true(f->ntf.is_in_flight);
    assert_int_equal(f->ntf.attempt_count, 0);
    /* The other one waits for a claim, as stored. */
    assert_int_equal(raw_int(f, next_at_sql, j.ids[1]), now - 5000);
    assert_int_equal(raw_int(f, lease_sql, j.ids[1]), 0);
    ntf_get(f, j.ids[1]);
    assert_false(f->ntf.is_in_flight);
    /* Later batches hand it nothing more. */
    barrier(f);
    add_one(f, 9, "\"later\":1}", now - 1000, false);
    assert_int_equal(handed_calls(f), 1);
    assert_null(handed_find(f, j.ids[1]));
}

/* Holds the writer inside one job until the test opens the gate, so that the jobs submitted
 * meanwhile are queued together and run as one batch. */
static enum herald_err gate_run(struct store_txn *txn, void *arg)
{
    struct fixture *f = arg;
    if (f->gate_job)
        assert_int_equal(add_run(txn, f->gate_job), HERALD_OK);
    struct timespec deadline = deadline_in(WAIT_S);
    pthread_mutex_lock(&f->mu);
    f->is_gate_entered = true;
    pthread_cond_broadcast(&f->cv);
    int rc = 0;
    while (!f->is_gate_open && rc == 0)
        rc = pthread_cond_timedwait(&f->cv, &f->mu, &deadline);
    pthread_mutex_unlock(&f->mu);
    return HERALD_OK;
}

static void hold_the_writer(struct fixture *f)
{
    store_submit(f->s, gate_run, f, NULL);
    struct timespec deadline = deadline_in(WAIT_S);
    pthread_mutex_lock(&f->mu);
    int rc = 0;
    while (!f->is_gate_entered && rc == 0)
        rc = pthread_cond_timedwait(&f->cv, &f->mu, &deadline);
    bool is_entered = f->is_gate_entered;
    pthread_mutex_unlock(&f->mu);
    assert_true(is_entered);
}

static void release_the_writer(struct fixture *f)
{
    pthread_mutex_lock(&f->mu);
    f->is_gate_open = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Jobs a, b (failing) and c, one due-now row each, submitted behind the gate so the writer
 * takes them as one batch; b and c without a savepoint of their own when `is_plain`. The caller
 * waits for them. */
static void batch_of_three(struct fixture *f, struct add_job *a, struct add_job *b,
                           struct add_job *c, bool is_plain, int64_t now)
{
    *a = (struct add_job){.count = 1};
    *b = (struct add_job){.count = 1, .is_failing = true};
    *c = (struct add_job){.count = 1};
    a->rows[0] = row_of(f, 7, "\"job\":\"a\"}", now, true);
    b->rows[0] = row_of(f, 7, "\"job\":\"b\"}", now, true);
    c->rows[0] = row_of(f, 7, "\"job\":\"c\"}", now, true);
    void (*submit_bc)(struct store *, store_job_fn *, void *, store_done_fn *) =
        is_plain ? store_submit_plain : store_submit;
    hold_the_writer(f);
    store_submit(f->s, add_run, a, add_done);
    submit_bc(f->s, add_run, b, add_done);
    submit_bc(f->s, add_run, c, add_done);
    release_the_writer(f);
}

/* Jobs queued while a batch's statements run join that batch's commit instead of waiting for
 * the next one: the gate's job adds a row and holds the writer, a and b are queued meanwhile,
 * and one commit hands all three rows off at once. */
static void jobs_queued_while_a_batch_runs_join_its_commit(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    store_outbox_handoff(f->s, on_handoff, f, LEASE_MS, NULL);
    int64_t now = time_now_ms();
    struct add_job g = {.count = 1}, a = {.count = 1}, b = {.count = 1};
    g.rows[0] = row_of(f, 7, "\"job\":\"gate\"}", now, true);
    a.rows[0] = row_of(f, 7, "\"job\":\"a\"}", now, true);
    b.rows[0] = row_of(f, 7, "\"job\":\"b\"}", now, true);
    f->gate_job = &g;
    hold_the_writer(f);
    store_submit(f->s, add_run, &a, add_done);
    store_submit_plain(f->s, add_run, &b, add_done);
    release_the_writer(f);
    barrier(f);
    assert_true(a.is_done && b.is_done);
    assert_int_equal(a.err, HERALD_OK);
    assert_int_equal(b.err, HERALD_OK);
    assert_int_equal(handed_calls(f), 1);
    assert_int_equal(handed_total(f), 3);
    assert_non_null(handed_find(f, g.ids[0]));
    assert_non_null(handed_find(f, a.ids[0]));
    assert_non_null(handed_find(f, b.ids[0]));
}

static void a_rolled_back_job_hands_nothing_off_while_its_batch_neighbours_do(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    store_outbox_handoff(f->s, on_handoff, f, LEASE_MS, NULL);
    int64_t now = time_now_ms();
    struct add_job a, b, c;
    batch_of_three(f, &a, &b, &c, false, now);
    barrier(f);
    assert_true(a.is_done && b.is_done && c.is_done);
    assert_int_equal(a.err, HERALD_OK);
    assert_int_equal(b.err, HERALD_ERR_INVALID);
    assert_int_equal(c.err, HERALD_OK);
    /* One batch, one hand-off: a's row and c's, never b's (b's id may be c's now: SQLite reuses
     * a rolled-back rowid, so b is told apart by its body). */
    assert_int_equal(handed_calls(f), 1);
    assert_int_equal(handed_total(f), 2);
    assert_int_equal(handed_with_body(f, "\"job\":\"a\"}"), 1);
    assert_int_equal(handed_with_body(f, "\"job\":\"b\"}"), 0);
    assert_int_equal(handed_with_body(f, "\"job\":\"c\"}"), 1);
    assert_non_null(handed_find(f, a.ids[0]));
    assert_non_null(handed_find(f, c.ids[0]));
    assert_int_equal(raw_int(f, "SELECT count(*) FROM notifications", 0), 2);
    assert_int_equal(raw_int(f, lease_sql, a.ids[0]), handed_find(f, a.ids[0])->lease_until_ms);
    assert_int_equal(raw_int(f, lease_sql, c.ids[0]), handed_find(f, c.ids[0])->lease_until_ms);
    /* A job failing alone in its batch hands nothing off either. */
    struct add_job alone = {.count = 1, .is_failing = true};
    alone.rows[0] = row_of(f, 7, "\"job\":\"alone\"}", now, true);
    assert_int_equal(store_exec(f->s, add_run, &alone), HERALD_ERR_INVALID);
    assert_int_equal(handed_calls(f), 1);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM notifications", 0), 2);
}

/* A plain job (no savepoint of its own) that fails takes its whole batch down: what ran before
 * it and what follows fail too, nothing of theirs is stored or handed off, and the next batch
 * goes on as usual. */
static void a_failing_plain_job_rolls_back_its_whole_batch(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    store_outbox_handoff(f->s, on_handoff, f, LEASE_MS, NULL);
    int64_t now = time_now_ms();
    struct add_job a, b, c;
    batch_of_three(f, &a, &b, &c, true, now);
    /* The barrier's own job may land in the failing batch, and fail with it: then one more. */
    if (store_exec(f->s, noop_run, NULL) != HERALD_OK)
        barrier(f);
    assert_true(a.is_done && b.is_done && c.is_done);
    assert_int_equal(a.err, HERALD_ERR_STORE);
    assert_int_equal(b.err, HERALD_ERR_INVALID);
    assert_int_equal(c.err, HERALD_ERR_STORE);
    assert_int_equal(handed_calls(f), 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM notifications", 0), 0);
    /* Plain jobs that succeed commit with their neighbours. */
    struct add_job d = {.count = 1}, e = {.count = 1};
    d.rows[0] = row_of(f, 7, "\"job\":\"d\"}", now, true);
    e.rows[0] = row_of(f, 7, "\"job\":\"e\"}", now, true);
    pthread_mutex_lock(&f->mu);
    f->is_gate_entered = f->is_gate_open = false;
    pthread_mutex_unlock(&f->mu);
    hold_the_writer(f);
    store_submit_plain(f->s, add_run, &d, add_done);
    store_submit(f->s, add_run, &e, add_done);
    release_the_writer(f);
    barrier(f);
    assert_int_equal(d.err, HERALD_OK);
    assert_int_equal(e.err, HERALD_OK);
    assert_int_equal(handed_total(f), 2);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM notifications", 0), 2);
}

/* When SQLite rolls the whole transaction back under a job (it may on a full disk or an I/O
 * error), every job of the batch fails, and the jobs behind it do not run: run, each of their
 * statements would commit alone, outside any transaction, and be answered 500 though stored. */
static void a_transaction_sqlite_rolled_back_fails_the_whole_batch(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    store_outbox_handoff(f->s, on_handoff, f, LEASE_MS, NULL);
    int64_t now = time_now_ms();
    for (int round = 0; round < 2; round++) {
        bool is_plain = round == 1;
        struct add_job a = {.count = 1}, b = {.count = 1, .is_losing_the_transaction = true},
                       c = {.count = 2};
        a.rows[0] = row_of(f, 7, "\"job\":\"a\"}", now, true);
        b.rows[0] = row_of(f, 7, "\"job\":\"b\"}", now, true);
        c.rows[0] = row_of(f, 7, "\"job\":\"c\"}", now, true);
        c.rows[1] = row_of(f, 7, "\"job\":\"c2\"}", now, true);
        pthread_mutex_lock(&f->mu);
        f->is_gate_entered = f->is_gate_open = false;
        pthread_mutex_unlock(&f->mu);
        hold_the_writer(f);
        store_submit(f->s, add_run, &a, add_done);
        (is_plain ? store_submit_plain : store_submit)(f->s, add_run, &b, add_done);
        store_submit(f->s, add_run, &c, add_done);
        release_the_writer(f);
        if (store_exec(f->s, noop_run, NULL) != HERALD_OK)
            barrier(f);
        assert_true(a.is_done && b.is_done && c.is_done);
        assert_int_equal(a.err, HERALD_ERR_STORE);
        assert_int_equal(b.err, HERALD_ERR_STORE);
        assert_int_equal(c.err, HERALD_ERR_STORE);
        assert_int_equal(handed_calls(f), 0);
        assert_int_equal(raw_int(f, "SELECT count(*) FROM notifications", 0), 0);
    }
    /* The next batch commits as usual. */
    struct add_job d = {.count = 1};
    d.rows[0] = row_of(f, 7, "\"job\":\"d\"}", now, true);
    assert_int_equal(store_exec(f->s, add_run, &d), HERALD_OK);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM notifications", 0), 1);
}

static void without_a_hand_off_due_now_rows_are_stored_unleased_and_handed_to_nobody(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    int64_t now = time_now_ms();
    /* Never registered. */
    int64_t first = add_one(f, 7, "\"first\":1}", now, true);
    assert_int_equal(raw_int(f, lease_sql, first), 0);
    assert_int_equal(raw_int(f, next_at_sql, first), now);
    /* Registered, then taken away (the dispatcher stopping). */
    store_outbox_handoff(f->s, on_handoff, f, LEASE_MS, NULL);
    store_outbox_handoff(f->s, NULL, NULL, 0, NULL);
    int64_t second = add_one(f, 7, "\"second\":1}", now + 1, true);
    barrier(f);
    assert_int_equal(handed_calls(f), 0);
    assert_int_equal(raw_int(f, lease_sql, second), 0);
    assert_int_equal(raw_int(f, next_at_sql, second), now + 1);
    /* Both wait for a claim like any due row. */
    assert_int_equal(claim_due(f, now + 1), 2);
    assert_non_null(claimed_find(f, first));
    assert_non_null(claimed_find(f, second));
}

/* A hand-off with a byte budget: bodies are copied while they fit, or while nothing is held;
 * past that a row is handed off as its id and size (still stored leased: the taker claims it by
 * id). Big bodies stop a 16th short of the budget, small ones (at most 1/1024 of it) may fill
 * it, and only they are copied while older ones wait (has_waiting). A job that rolls back gives
 * back what its bodies took. */
static void a_handoff_past_its_byte_budget_gives_the_id_alone(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    f->budget.max_bytes = 10240; /* small: up to 10 bytes; big ones up to 9,600 in all */
    store_outbox_handoff(f->s, on_handoff, f, LEASE_MS, &f->budget);
    int64_t now = time_now_ms();
    static char big[4001], huge[12001];
    memset(big, 'x', sizeof big - 1);
    memset(huge, 'y', sizeof huge - 1);
    static const char small[] = "\"b\":12345}"; /* 10 bytes */
    struct add_job j = {.count = 2};
    j.rows[0] = row_of(f, 7, big, now, true);
    j.rows[1] = row_of(f, 7, big, now, true);
    assert_int_equal(store_exec(f->s, add_run, &j), HERALD_OK);
    int64_t over = add_one(f, 7, big, now, true);
    int64_t fits = add_one(f, 7, small, now, true);
    barrier(f);
    assert_int_equal(handed_total(f), 4);
    assert_string_equal(handed_find(f, j.ids[0])->body, big);
    assert_string_equal(handed_find(f, j.ids[1])->body, big);
    const struct store_claim *c = handed_find(f, over);
    assert_null(c->body);
    assert_null(c->url);
    assert_int_equal(c->body_len, 4000);
    assert_true(c->lease_until_ms > now);
    assert_int_equal(raw_int(f, lease_sql, over), c->lease_until_ms);
    assert_string_equal(handed_find(f, fits)->body, small);
    assert_int_equal(atomic_load(&f->budget.used_bytes), 8010);

    /* The taker let them go; a job that rolls back takes nothing for good. */
    store_budget_give(&f->budget, 8010);
    struct add_job failing = {.count = 2, .is_failing = true};
    failing.rows[0] = row_of(f, 7, big, now, true);
    failing.rows[1] = row_of(f, 7, small, now, true);
    assert_int_equal(store_exec(f->s, add_run, &failing), HERALD_ERR_INVALID);
    assert_int_equal(atomic_load(&f->budget.used_bytes), 0);

    /* While older ones wait, a big body goes as its id though it fits; a small one passes. */
    atomic_store(&f->budget.has_waiting, true);
    int64_t waits = add_one(f, 7, big, now, true);
    int64_t passes = add_one(f, 7, small, now, true);
    barrier(f);
    assert_null(handed_find(f, waits)->body);
    assert_string_equal(handed_find(f, passes)->body, small);
    assert_int_equal(atomic_load(&f->budget.used_bytes), 10);
    store_budget_give(&f->budget, 10);

    /* A body larger than the whole budget goes while nothing is held, and alone. */
    atomic_store(&f->budget.has_waiting, false);
    j = (struct add_job){.count = 2};
    j.rows[0] = row_of(f, 7, huge, now, true);
    j.rows[1] = row_of(f, 7, small, now, true);
    assert_int_equal(store_exec(f->s, add_run, &j), HERALD_OK);
    barrier(f);
    assert_string_equal(handed_find(f, j.ids[0])->body, huge);
    assert_null(handed_find(f, j.ids[1])->body);
    assert_int_equal(atomic_load(&f->budget.used_bytes), 12000);
    store_outbox_handoff(f->s, NULL, NULL, 0, NULL);
}

/* Claims. */

/* A claim stops before the first due row whose body would take it past its byte limit, says
 * how big that body is, and leaves it unleased; with may_exceed, a first row larger than the
 * limit comes alone. */
static void a_claim_stops_at_its_byte_limit_oldest_first(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    int64_t now = time_now_ms();
    static const char ten[] = "\"b\":12345}"; /* 10 bytes */
    int64_t first = add_one(f, 7, ten, now - 3000, false);
    int64_t second = add_one(f, 8, ten, now - 2000, false);
    int64_t third = add_one(f, 9, ten, now - 1000, false);
    assert_int_equal(claim_due_within(f, now, 25, false), 2);
    assert_int_equal(f->claims[0].id, first);
    assert_int_equal(f->claims[1].id, second);
    assert_int_equal(f->claims[0].body_len, 10);
    assert_int_equal(f->claim_over_bytes, 10);
    assert_int_equal(raw_int(f, lease_sql, second), now + LEASE_MS);
    assert_int_equal(raw_int(f, lease_sql, third), 0);
    assert_int_equal(raw_int(f, next_at_sql, third), now - 1000);
    /* Too little room for it: nothing claimed, and the size it waits for. */
    assert_int_equal(claim_due_within(f, now, 5, false), 0);
    assert_int_equal(f->claim_over_bytes, 10);
    assert_int_equal(raw_int(f, lease_sql, third), 0);
    /* Nothing else held: it comes, past the limit, alone. */
    add_one(f, 10, ten, now - 500, false);
    assert_int_equal(claim_due_within(f, now, 5, true), 1);
    assert_int_equal(f->claims[0].id, third);
    assert_int_equal(f->claim_over_bytes, 0);
    assert_int_equal(raw_int(f, lease_sql, third), now + LEASE_MS);
}

static void a_claim_skips_handed_rows_which_claim_ids_takes_back_unless_delivered(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    store_outbox_handoff(f->s, on_handoff, f, LEASE_MS, NULL);
    int64_t now = time_now_ms();
    struct add_job j = {.count = 2};
    j.rows[0] = row_of(f, 7, "\"handed\":1}", now, true);
    j.rows[1] = row_of(f, 8, "\"due\":1}", now - 5000, false);
    assert_int_equal(store_exec(f->s, add_run, &j), HERALD_OK);
    int64_t handed = j.ids[0], due = j.ids[1];
    assert_non_null(handed_find(f, handed));

    /* The due unleased row, not the handed one, leased until now + lease. */
    int64_t claim_now = time_now_ms();
    assert_int_equal(claim_due(f, claim_now), 1);
    const struct store_claim *c = claimed_find(f, due);
    assert_non_null(c);
    assert_int_equal(c->org_id, f->org);
    assert_int_equal(c->channel_id, 8);
    assert_int_equal(c->attempts, 0);
    assert_string_equal(c->url, URL);
    assert_string_equal(c->body, "\"due\":1}");
    assert_int_equal(c->lease_until_ms, claim_now + LEASE_MS);
    assert_int_equal(raw_int(f, next_at_sql, due), claim_now + LEASE_MS);
    assert_int_equal(raw_int(f, lease_sql, due), claim_now + LEASE_MS);
    /* Now both are leased: nothing is due. */
    assert_int_equal(claim_due(f, claim_now + 1), 0);

    /* By id, the handed row is taken whatever its lease, which is renewed. */
    int64_t renew_now = claim_now + 1000;
    assert_int_equal(claim_ids(f, &handed, 1, renew_now), 1);
    c = claimed_find(f, handed);
    assert_non_null(c);
    assert_int_equal(c->channel_id, 7);
    assert_string_equal(c->url, URL);
    assert_string_equal(c->body, "\"handed\":1}");
    assert_int_equal(c->lease_until_ms, renew_now + LEASE_MS);
    assert_int_equal(raw_int(f, next_at_sql, handed), renew_now + LEASE_MS);
    assert_int_equal(raw_int(f, lease_sql, handed), renew_now + LEASE_MS);

    /* Delivered: no longer pending, so claiming it by id returns nothing. */
    struct store_attempt ok = {
        .notification_id = due,
        .org_id = f->org,
        .channel_id = 8,
        .started_at_ms = claim_now,
        .duration_ms = 12,
        .http_status = 200,
        .new_status = STORE_NTF_DELIVERED,
    };
    record(f, &ok);
    assert_int_equal(claim_ids(f, &due, 1, renew_now), 0);
    int64_t both[] = {due, handed};
    assert_int_equal(claim_ids(f, both, 2, renew_now), 1);
    assert_non_null(claimed_find(f, handed));
    assert_int_equal(raw_int(f, "SELECT status FROM notifications WHERE id = ?1", due),
                     STORE_NTF_DELIVERED);
}

/* Attempts: the latest in its notification's row, the earlier ones in the attempts table. */

static void attempts_keep_the_latest_inline_and_the_earlier_ones_in_their_table(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    int64_t now = time_now_ms();
    int64_t id = add_one(f, 7, "\"n\":1}", now - 1000, false);
    struct store_attempt first = {
        .notification_id = id,
        .org_id = f->org,
        .channel_id = 7,
        .started_at_ms = now,
        .duration_ms = 31,
        .http_status = 500,
        .error = "HTTP 500",
        .response = "upstream exploded",
        .new_status = STORE_NTF_PENDING,
        .next_at_ms = now + 30000,
    };
    record(f, &first);
    ntf_get(f, id);
    assert_int_equal(f->ntf.status, STORE_NTF_PENDING);
    assert_int_equal(f->ntf.next_at_ms, now + 30000);
    assert_int_equal(f->ntf.attempt_count, 1);
    assert_attempt(&f->ntf.attempts[0], &first);
    /* A first attempt is its row alone: nothing in the attempts table. */
    assert_int_equal(raw_int(f, attempts_rows_sql, id), 0);
    assert_int_equal(raw_int(f, "SELECT a_status FROM notifications WHERE id = ?1", id), 500);

    struct store_attempt second = {
        .notification_id = id,
        .org_id = f->org,
        .channel_id = 7,
        .started_at_ms = now + 30000,
        .duration_ms = 18,
        .http_status = 200,
        .response = "thanks",
        .new_status = STORE_NTF_DELIVERED,
    };
    record(f, &second);
    ntf_get(f, id);
    assert_int_equal(f->ntf.status, STORE_NTF_DELIVERED);
    assert_int_equal(f->ntf.round_attempts, 2);
    assert_int_equal(f->ntf.last_status, 200);
    assert_string_equal(f->ntf.body, "\"n\":1}");
    assert_int_equal(f->ntf.attempt_count, 2);
    assert_attempt(&f->ntf.attempts[0], &first);
    assert_attempt(&f->ntf.attempts[1], &second);
    assert_int_equal(raw_int(f, attempts_rows_sql, id), 1);
    assert_int_equal(raw_int(f, "SELECT http_status FROM attempts WHERE notification_id = ?1", id),
                     500);
    assert_int_equal(raw_int(f, "SELECT a_status FROM notifications WHERE id = ?1", id), 200);
    assert_int_equal(raw_int(f, "SELECT a_started_ms FROM notifications WHERE id = ?1", id),
                     now + 30000);
}

struct resend_job {
    int64_t org_id;
    int64_t id;
    int64_t now_ms;
};

static enum herald_err resend_run(struct store_txn *txn, void *arg)
{
    struct resend_job *j = arg;
    return store_txn_notification_resend(txn, j->org_id, j->id, j->now_ms);
}

static void a_resend_keeps_the_attempts_and_the_next_one_follows_them(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    int64_t now = time_now_ms();
    int64_t id = add_one(f, 7, "\"n\":1}", now - 1000, false);
    struct store_attempt attempts[] = {
        {.started_at_ms = now,
         .duration_ms = 31,
         .http_status = 500,
         .error = "HTTP 500",
         .response = "upstream exploded",
         .new_status = STORE_NTF_PENDING,
         .next_at_ms = now + 30000},
        {.started_at_ms = now + 30000,
         .duration_ms = 18,
         .http_status = 200,
         .response = "thanks",
         .new_status = STORE_NTF_DELIVERED},
        {.started_at_ms = now + 90000,
         .duration_ms = 7,
         .http_status = 204,
         .new_status = STORE_NTF_DELIVERED},
    };
    for (size_t i = 0; i < 3; i++) {
        attempts[i].notification_id = id;
        attempts[i].org_id = f->org;
        attempts[i].channel_id = 7;
    }
    record(f, &attempts[0]);
    record(f, &attempts[1]);
    struct resend_job r = {.org_id = f->org, .id = id, .now_ms = now + 60000};
    assert_int_equal(store_exec(f->s, resend_run, &r), HERALD_OK);
    ntf_get(f, id);
    assert_int_equal(f->ntf.status, STORE_NTF_PENDING);
    assert_int_equal(f->ntf.round_attempts, 0);
    assert_int_equal(f->ntf.next_at_ms, now + 60000);
    assert_int_equal(f->ntf.attempt_count, 2);
    assert_attempt(&f->ntf.attempts[0], &attempts[0]);
    assert_attempt(&f->ntf.attempts[1], &attempts[1]);

    record(f, &attempts[2]);
    ntf_get(f, id);
    assert_int_equal(f->ntf.status, STORE_NTF_DELIVERED);
    assert_int_equal(f->ntf.round_attempts, 1);
    assert_int_equal(f->ntf.attempt_count, 3);
    for (size_t i = 0; i < 3; i++)
        assert_attempt(&f->ntf.attempts[i], &attempts[i]);
    assert_int_equal(raw_int(f, attempts_rows_sql, id), 2);
    assert_int_equal(raw_int(f, "SELECT a_status FROM notifications WHERE id = ?1", id), 204);
}

/* Migration 6 → 7. */

static void raw_exec_rw(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, WAIT_S * 1000);
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    char err[256];
    snprintf(err, sizeof err, "%s", msg ? msg : "");
    sqlite3_free(msg);
    sqlite3_close(h);
    if (rc != SQLITE_OK)
        fail_msg("exec failed (%d): %s", rc, err);
}

/* What schema 6 left behind: no a_* columns, by_status over every row, attempts all in their
 * table. Notification 10 was delivered on its second attempt, 11 is pending with no attempt,
 * 12 failed after one; their attempts interleave as a dispatcher writes them. */
static const char v6_fixture_sql[] =
    "DROP TABLE retired_secrets;"
    "DROP INDEX notifications_failed;"
    "CREATE INDEX notifications_by_status ON notifications(org_id, status, id);"
    "CREATE INDEX notifications_delivered ON notifications(updated_at_ms) WHERE status = 1;"
    "ALTER TABLE notifications DROP COLUMN a_started_ms;"
    "ALTER TABLE notifications DROP COLUMN a_duration_ms;"
    "ALTER TABLE notifications DROP COLUMN a_status;"
    "ALTER TABLE notifications DROP COLUMN a_error;"
    "ALTER TABLE notifications DROP COLUMN a_response;"
    "DROP TABLE changes;"
    "CREATE TABLE changes(id INTEGER PRIMARY KEY, org_id INTEGER NOT NULL REFERENCES orgs(id),"
    " module_id INTEGER NOT NULL,"
    " operation TEXT NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),"
    " request_id TEXT NOT NULL, created_at_ms INTEGER NOT NULL, records TEXT NOT NULL);"
    "CREATE INDEX changes_by_org ON changes(org_id, id);"
    "INSERT INTO changes VALUES(1, %1$lld, 1, 'update', 'req-1', 900, '[{\"id\":\"5\"}]');"
    "PRAGMA user_version=6;"
    "INSERT INTO notifications(id, org_id, channel_id, module_id, operation, change_id, url, body,"
    " status, attempts, next_at_ms, lease_until_ms, created_at_ms, updated_at_ms, last_status,"
    " last_error) VALUES"
    " (10, %1$lld, 7, 1, 'insert', 1, '" URL "', '\"n\":10}', 1, 2, 0, 0, 1000, 2040, 200, NULL),"
    " (11, %1$lld, 7, 1, 'insert', 1, '" URL "', '\"n\":11}', 0, 0, 5000, 0, 1100, 1100, 0, NULL),"
    " (12, %1$lld, 8, 1, 'update', 1, '" URL "', '\"n\":12}', 2, 1, 0, 0, 1200, 1530, 503,"
    "  'HTTP 503');"
    "INSERT INTO attempts(id, notification_id, org_id, started_at_ms, duration_ms, http_status,"
    " error, response) VALUES"
    " (1, 10, %1$lld, 1000, 50, 500, 'HTTP 500', 'oops'),"
    " (2, 12, %1$lld, 1500, 30, 503, 'HTTP 503', NULL),"
    " (3, 10, %1$lld, 2000, 40, 200, NULL, 'ok');";

static void list_status(struct fixture *f, enum store_ntf_status status)
{
    struct store_ntf_filter filter = {
        .org_id = f->org,
        .has_status = true,
        .status = status,
        .since_ms = INT64_MIN,
        .until_ms = INT64_MAX,
        .limit = 10,
    };
    store_ntf_list_free(f->list, f->list_count);
    f->list = NULL;
    f->list_count = 0;
    assert_int_equal(store_outbox_list(f->s, &filter, &f->list, &f->list_count), HERALD_OK);
}

static void migrating_6_to_10_moves_each_latest_attempt_into_its_row(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    store_stop(f);
    char sql[sizeof v6_fixture_sql + 256]; /* each of seven "%1$lld" becomes up to 20 bytes */
    int len = snprintf(sql, sizeof sql, v6_fixture_sql, (long long)f->org);
    assert_true(len > 0 && (size_t)len < sizeof sql);
    raw_exec_rw(f->db, sql);

    store_start(f);
    assert_int_equal(raw_int(f, "PRAGMA user_version", 0), 11);
    /* 8: changes rebuilt without the IN list in its CHECK, rows kept, the CHECK still holds. */
    assert_int_equal(raw_int(f,
                             "SELECT count(*) FROM changes WHERE id = ?1 AND operation = 'update' "
                             "AND request_id = 'req-1' AND records = '[{\"id\":\"5\"}]'",
                             1),
                     1);
    assert_int_equal(raw_int(f,
                             "SELECT instr(sql, ' IN (') = 0 AND instr(sql, 'CHECK') > 0 FROM "
                             "sqlite_master WHERE type = 'table' AND name = 'changes'",
                             0),
                     1);
    /* 9: changes_by_org, which nothing read, is gone. */
    assert_int_equal(raw_int(f,
                             "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                             "AND name = 'changes_by_org'",
                             0),
                     0);
    /* 10: by_status and the delivered index are gone; failed rows have their own index. */
    assert_int_equal(raw_int(f,
                             "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name "
                             "IN ('notifications_by_status', 'notifications_delivered')",
                             0),
                     0);
    const char *index_sql = "SELECT instr(sql, 'WHERE status = 2') > 0 FROM sqlite_master "
                            "WHERE type = 'index' AND name = 'notifications_failed'";
    assert_int_equal(raw_int(f, index_sql, 0), 1);
    /* Only the earlier attempt of 10 stays in the table; each latest one is in its row. */
    assert_int_equal(raw_int(f, "SELECT count(*) FROM attempts", 0), 1);
    assert_int_equal(raw_int(f, "SELECT id FROM attempts", 0), 1);
    assert_int_equal(raw_int(f,
                             "SELECT a_started_ms = 2000 AND a_duration_ms = 40 AND a_status = 200"
                             " AND a_error IS NULL AND a_response = 'ok' FROM notifications"
                             " WHERE id = ?1",
                             10),
                     1);
    assert_int_equal(raw_int(f,
                             "SELECT a_started_ms IS NULL AND a_duration_ms IS NULL AND a_status"
                             " IS NULL AND a_error IS NULL AND a_response IS NULL"
                             " FROM notifications WHERE id = ?1",
                             11),
                     1);
    assert_int_equal(raw_int(f,
                             "SELECT a_started_ms = 1500 AND a_duration_ms = 30 AND a_status = 503"
                             " AND a_error = 'HTTP 503' AND a_response IS NULL FROM notifications"
                             " WHERE id = ?1",
                             12),
                     1);

    const struct store_attempt a500 = {.started_at_ms = 1000,
                                       .duration_ms = 50,
                                       .http_status = 500,
                                       .error = "HTTP 500",
                                       .response = "oops"};
    const struct store_attempt a200 = {
        .started_at_ms = 2000, .duration_ms = 40, .http_status = 200, .response = "ok"};
    const struct store_attempt a503 = {
        .started_at_ms = 1500, .duration_ms = 30, .http_status = 503, .error = "HTTP 503"};
    ntf_get(f, 10);
    assert_int_equal(f->ntf.status, STORE_NTF_DELIVERED);
    assert_int_equal(f->ntf.attempt_count, 2);
    assert_attempt(&f->ntf.attempts[0], &a500);
    assert_attempt(&f->ntf.attempts[1], &a200);
    ntf_get(f, 11);
    assert_int_equal(f->ntf.attempt_count, 0);
    assert_null(f->ntf.attempts);

    /* The lists go through INDEXED BY: a planner refusal would be HERALD_ERR_STORE. */
    list_status(f, STORE_NTF_DELIVERED);
    assert_int_equal(f->list_count, 1);
    assert_int_equal(f->list[0].id, 10);
    assert_int_equal(f->list[0].attempt_count, 2);
    assert_attempt(&f->list[0].attempts[0], &a500);
    assert_attempt(&f->list[0].attempts[1], &a200);
    list_status(f, STORE_NTF_FAILED);
    assert_int_equal(f->list_count, 1);
    assert_int_equal(f->list[0].id, 12);
    assert_int_equal(f->list[0].attempt_count, 1);
    assert_attempt(&f->list[0].attempts[0], &a503);
    list_status(f, STORE_NTF_PENDING);
    assert_int_equal(f->list_count, 1);
    assert_int_equal(f->list[0].id, 11);
    assert_int_equal(f->list[0].attempt_count, 0);
}

/* Pruning. */

static size_t prune_all(struct fixture *f, int64_t before_ms, size_t limit)
{
    size_t total = 0;
    bool has_more = true;
    for (int rounds = 0; has_more && rounds < 100; rounds++) {
        size_t n = 0;
        assert_int_equal(store_outbox_prune(f->s, before_ms, limit, &n, &has_more), HERALD_OK);
        total += n;
    }
    assert_false(has_more);
    return total;
}

/* The pruner sweeps the rowids a window at a time: failed rows filling more than a window at
 * the low end do not hide the delivered rows after them; recently delivered, pending and failed
 * rows stay, and so does the newest row; a row delivered after the sweep passed it goes in the
 * next sweep. */
static void pruning_sweeps_past_the_rows_it_keeps(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    int64_t now = time_now_ms(), old = now - 100000;
    int64_t first = add_one(f, 7, "\"n\":0}", old, false);
    for (int i = 1; i < 30; i++)
        add_one(f, 7, "\"n\":1}", old, false);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "UPDATE notifications SET status = 2, updated_at_ms = %1$lld WHERE id < %2$lld + 10;"
             "UPDATE notifications SET status = 1, updated_at_ms = %1$lld"
             " WHERE id >= %2$lld + 10 AND id < %2$lld + 25;"
             "UPDATE notifications SET status = 1, updated_at_ms = %3$lld"
             " WHERE id >= %2$lld + 25 AND id < %2$lld + 28;"
             "UPDATE notifications SET status = 1, updated_at_ms = %1$lld WHERE id = %2$lld + 29;",
             (long long)old, (long long)first, (long long)now);
    raw_exec_rw(f->db, sql); /* 10 failed, 15 delivered long ago, 3 just now, 1 pending, newest */
    assert_int_equal(prune_all(f, now - 1000, 4), 15);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM notifications", 0), 15);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM notifications WHERE status = 1", 0), 4);
    assert_int_equal(raw_int(f, "SELECT max(id) FROM notifications", 0), first + 29);

    snprintf(sql, sizeof sql,
             "UPDATE notifications SET status = 1, updated_at_ms = %lld WHERE id = %lld + 28;",
             (long long)old, (long long)first);
    raw_exec_rw(f->db, sql);
    assert_int_equal(prune_all(f, now - 1000, 4), 1);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM notifications WHERE status = 0", 0), 0);
    assert_int_equal(raw_int(f, "SELECT count(*) FROM notifications", 0), 14);
}

/* Listing by creation time. */

/* The ids (newest first) that a listing bounded by [since_ms, until_ms) returns, as "a,b,c". */
static const char *listed_ids(struct fixture *f, int64_t since_ms, int64_t until_ms)
{
    static char out[256];
    struct store_ntf_filter filter = {
        .org_id = f->org,
        .since_ms = since_ms,
        .until_ms = until_ms,
        .limit = 20,
    };
    store_ntf_list_free(f->list, f->list_count);
    f->list = NULL;
    f->list_count = 0;
    assert_int_equal(store_outbox_list(f->s, &filter, &f->list, &f->list_count), HERALD_OK);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < f->list_count; i++)
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%lld", i ? "," : "",
                                (long long)f->list[i].id);
    return out;
}

static int64_t elapsed_us(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000 + (t1.tv_nsec - t0->tv_nsec) / 1000;
}

/* The least time of three runs of a listing bounded by [since_ms, until_ms). */
static int64_t list_us(struct fixture *f, int64_t since_ms, int64_t until_ms)
{
    int64_t best = INT64_MAX;
    for (int i = 0; i < 3; i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        listed_ids(f, since_ms, until_ms);
        int64_t us = elapsed_us(&t0);
        best = us < best ? us : best;
    }
    return best;
}

/* since/until select exactly the rows created in [since, until), and find them without reading
 * the rows outside: 200,000 older rows, which a listing with a `since` that few rows meet (or
 * an `until` only they meet) walked through one by one, take less time than a fifth of one
 * plain scan of them. */
static void time_bounds_list_exactly_without_reading_the_rows_outside(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    int64_t base = time_now_ms() - 3600000;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200000)"
             " INSERT INTO notifications(org_id, channel_id, module_id, operation, change_id,"
             " url, body, status, next_at_ms, created_at_ms, updated_at_ms)"
             " SELECT %lld, 7, 1, 'insert', 1, '" URL "', '\"n\":0}', 1, 0,"
             " %lld - 200001 + i, %lld - 200001 + i FROM s;",
             (long long)f->org, (long long)base, (long long)base);
    raw_exec_rw(f->db, sql);
    int64_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = add_one(f, 7, "\"n\":1}", base + 1000 * i, false);
    char want[128];
    snprintf(want, sizeof want, "%lld,%lld,%lld", (long long)ids[3], (long long)ids[2],
             (long long)ids[1]);
    assert_string_equal(listed_ids(f, base + 1000, base + 4000), want);
    assert_string_equal(listed_ids(f, base + 999, base + 3001), want);
    snprintf(want, sizeof want, "%lld,%lld", (long long)ids[1], (long long)ids[0]);
    assert_string_equal(listed_ids(f, base, base + 1001), want);
    assert_string_equal(listed_ids(f, base + 4001, INT64_MAX), "");
    snprintf(want, sizeof want, "%lld,%lld", (long long)ids[0] - 1, (long long)ids[0] - 2);
    assert_string_equal(listed_ids(f, base - 2, base), want); /* the newest two older rows */
    assert_string_equal(listed_ids(f, INT64_MIN, base - 200000), "");
    snprintf(want, sizeof want, "%lld", (long long)ids[0] - 200000);
    assert_string_equal(listed_ids(f, INT64_MIN, base - 199999), want);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(raw_int(f,
                             "SELECT count(*) FROM notifications NOT INDEXED "
                             "WHERE created_at_ms > ?1",
                             base + 4000),
                     0);
    int64_t scan_us = elapsed_us(&t0);
    int64_t since_us = list_us(f, base + 4001, INT64_MAX);
    int64_t until_us = list_us(f, INT64_MIN, base - 199990);
    if (since_us * 5 > scan_us || until_us * 5 > scan_us)
        fail_msg("since %lld us, until %lld us: not below a fifth of one scan, %lld us",
                 (long long)since_us, (long long)until_us, (long long)scan_us);
}

/* A wall clock set back does not store a notification as created before the newest one, so
 * created times keep the order of ids, on which the time bounds rely. */
static void a_clock_set_back_keeps_created_times_in_id_order(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    int64_t now = time_now_ms();
    int64_t first = add_one(f, 7, "\"n\":1}", now, false);
    int64_t second = add_one(f, 7, "\"n\":2}", now - 3600000, false);
    const char *created_sql = "SELECT created_at_ms FROM notifications WHERE id = ?1";
    assert_int_equal(raw_int(f, created_sql, second), now);
    /* Read from the database by a store opened afterwards as well. */
    store_stop(f);
    store_start(f);
    int64_t third = add_one(f, 7, "\"n\":3}", now - 7200000, false);
    assert_int_equal(raw_int(f, created_sql, third), now);
    int64_t fourth = add_one(f, 7, "\"n\":4}", now + 5, false);
    assert_int_equal(raw_int(f, created_sql, fourth), now + 5);
    char want[128];
    snprintf(want, sizeof want, "%lld,%lld,%lld", (long long)third, (long long)second,
             (long long)first);
    assert_string_equal(listed_ids(f, now, now + 5), want);
}

/* Voiding leases. */

static void voiding_leases_makes_a_handed_row_due_at_once(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    store_outbox_handoff(f->s, on_handoff, f, LEASE_MS, NULL);
    int64_t now = time_now_ms();
    int64_t handed = add_one(f, 7, "\"handed\":1}", now, true);
    int64_t later = add_one(f, 8, "\"later\":1}", now + 3600000, false);
    assert_non_null(handed_find(f, handed));
    assert_true(raw_int(f, lease_sql, handed) > now);
    assert_int_equal(claim_due(f, now), 0);

    assert_int_equal(store_outbox_leases_void(f->s), HERALD_OK);
    assert_int_equal(raw_int(f, next_at_sql, handed), 0);
    assert_int_equal(raw_int(f, lease_sql, handed), 0);
    ntf_get(f, handed);
    assert_false(f->ntf.is_in_flight);
    /* An unleased row keeps its time. */
    assert_int_equal(raw_int(f, next_at_sql, later), now + 3600000);
    assert_int_equal(claim_due(f, now), 1);
    assert_non_null(claimed_find(f, handed));
    assert_string_equal(f->claims[0].body, "\"handed\":1}");
}

#define OUTBOX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        OUTBOX_TEST(a_due_now_row_is_handed_off_leased_and_a_merely_due_one_is_not),
        OUTBOX_TEST(jobs_queued_while_a_batch_runs_join_its_commit),
        OUTBOX_TEST(a_rolled_back_job_hands_nothing_off_while_its_batch_neighbours_do),
        OUTBOX_TEST(a_failing_plain_job_rolls_back_its_whole_batch),
        OUTBOX_TEST(a_transaction_sqlite_rolled_back_fails_the_whole_batch),
        OUTBOX_TEST(without_a_hand_off_due_now_rows_are_stored_unleased_and_handed_to_nobody),
        OUTBOX_TEST(a_handoff_past_its_byte_budget_gives_the_id_alone),
        OUTBOX_TEST(a_claim_skips_handed_rows_which_claim_ids_takes_back_unless_delivered),
        OUTBOX_TEST(a_claim_stops_at_its_byte_limit_oldest_first),
        OUTBOX_TEST(attempts_keep_the_latest_inline_and_the_earlier_ones_in_their_table),
        OUTBOX_TEST(a_resend_keeps_the_attempts_and_the_next_one_follows_them),
        OUTBOX_TEST(pruning_sweeps_past_the_rows_it_keeps),
        OUTBOX_TEST(migrating_6_to_10_moves_each_latest_attempt_into_its_row),
        OUTBOX_TEST(voiding_leases_makes_a_handed_row_due_at_once),
        OUTBOX_TEST(time_bounds_list_exactly_without_reading_the_rows_outside),
        OUTBOX_TEST(a_clock_set_back_keeps_created_times_in_id_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
