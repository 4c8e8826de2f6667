/* An organization's signing secrets in SQLite: a rotation retires the current secret, which
 * keeps signing until its own end as do the ones retired before it (the 10 newest, the others
 * cut and counted), expired ones are neither read nor kept, and schema 10's single previous
 * secret moves into the retired secrets on migration. Each case gets a fresh database in its
 * own temporary directory, removed by its teardown also when the case fails. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tmpdir.h"
#include "core/log.h"
#include "store/store.h"

#define DAY_S (24 * 3600)
#define ROTATIONS 12

struct fixture {
    char dir[64];
    char db[96];
    struct store *s;
    int64_t org;
    struct store_org got;
    char *secrets[ROTATIONS + 1]; /* current after each rotation, [0] before any */
};

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/herald-org-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "%s/herald.db", f->dir);
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    store_free(f->s);
    store_org_fini(&f->got);
    for (size_t i = 0; i <= ROTATIONS; i++)
        free(f->secrets[i]);
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

/* Reads the organization into f->got. */
static void org_read(struct fixture *f)
{
    store_org_fini(&f->got);
    assert_int_equal(store_org_get(f->s, f->org, &f->got), HERALD_OK);
}

/* Rotates with `grace_s`; returns how many retired secrets the bound cut. */
static size_t rotate(struct fixture *f, int64_t grace_s)
{
    size_t cut = 99;
    assert_int_equal(store_org_rotate_secret(f->s, f->org, grace_s, &cut), HERALD_OK);
    return cut;
}

/* Runs `sql` on the database through a connection of the test's own. */
static void raw_exec(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 10000);
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    char err[256];
    snprintf(err, sizeof err, "%s", msg ? msg : "");
    sqlite3_free(msg);
    sqlite3_close(h);
    if (rc != SQLITE_OK)
        fail_msg("exec failed (%d): %s", rc, err);
}

/* Column 0 of the one row `sql` returns. */
static int64_t raw_int(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 10000);
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare '%s': %s", sql, sqlite3_errmsg(h));
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    sqlite3_close(h);
    if (rc != SQLITE_ROW)
        fail_msg("'%s' returned no row", sql);
    return v;
}

static void assert_near_now_plus(int64_t until_s, int64_t grace_s)
{
    int64_t now = (int64_t)time(NULL);
    assert_true(until_s >= now + grace_s - 5 && until_s <= now + grace_s);
}

/* Rotating twice within the grace kept only the last old secret: the first stopped signing
 * at once, not after its 24 hours. */
static void rotating_twice_keeps_both_retired_secrets_newest_first(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    org_read(f);
    assert_int_equal(f->got.retired_count, 0);
    assert_null(f->got.retired);
    f->secrets[0] = strdup(f->got.secret);
    for (size_t i = 1; i <= 2; i++) {
        assert_int_equal(rotate(f, DAY_S), 0);
        org_read(f);
        f->secrets[i] = strdup(f->got.secret);
        assert_string_not_equal(f->secrets[i], f->secrets[i - 1]);
    }
    assert_int_equal(f->got.retired_count, 2);
    assert_string_equal(f->got.retired[0].secret, f->secrets[1]);
    assert_string_equal(f->got.retired[1].secret, f->secrets[0]);
    assert_near_now_plus(f->got.retired[0].until_s, DAY_S);
    assert_near_now_plus(f->got.retired[1].until_s, DAY_S);
    assert_true(f->got.retired[0].until_s >= f->got.retired[1].until_s);
    /* And the same after a restart: it is all in the database. */
    store_stop(f);
    store_start(f);
    org_read(f);
    assert_string_equal(f->got.secret, f->secrets[2]);
    assert_int_equal(f->got.retired_count, 2);
    assert_string_equal(f->got.retired[0].secret, f->secrets[1]);
    assert_string_equal(f->got.retired[1].secret, f->secrets[0]);
}

/* Past 10 retired secrets the oldest stops signing, and the rotation says so. */
static void the_ten_newest_retired_secrets_sign_and_older_ones_are_cut(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    org_read(f);
    f->secrets[0] = strdup(f->got.secret);
    for (size_t i = 1; i <= ROTATIONS; i++) {
        size_t cut = rotate(f, DAY_S);
        assert_int_equal(cut, i > STORE_RETIRED_SECRETS_MAX ? 1 : 0);
        org_read(f);
        f->secrets[i] = strdup(f->got.secret);
    }
    assert_int_equal(f->got.retired_count, STORE_RETIRED_SECRETS_MAX);
    for (size_t k = 0; k < STORE_RETIRED_SECRETS_MAX; k++)
        assert_string_equal(f->got.retired[k].secret, f->secrets[ROTATIONS - 1 - k]);
    assert_int_equal(raw_int(f->db, "SELECT count(*) FROM retired_secrets"),
                     STORE_RETIRED_SECRETS_MAX);
}

/* A retired secret past its end is not read, and the next rotation deletes it; one retired
 * later with a longer grace keeps signing. */
static void expired_retired_secrets_are_not_read_and_the_next_rotation_deletes_them(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    org_read(f);
    f->secrets[0] = strdup(f->got.secret);
    assert_int_equal(rotate(f, 0), 0); /* retired with no grace: gone at once */
    org_read(f);
    f->secrets[1] = strdup(f->got.secret);
    assert_int_equal(f->got.retired_count, 0);
    assert_int_equal(rotate(f, DAY_S), 0);
    assert_int_equal(rotate(f, DAY_S), 0);
    org_read(f);
    assert_int_equal(f->got.retired_count, 2);
    /* The older of the two ends now (as if its 24 hours had passed). */
    raw_exec(f->db, "UPDATE retired_secrets SET until_s = until_s - 86400 WHERE id = "
                    "(SELECT min(id) FROM retired_secrets)");
    org_read(f);
    assert_int_equal(f->got.retired_count, 1);
    assert_near_now_plus(f->got.retired[0].until_s, DAY_S);
    assert_string_not_equal(f->got.retired[0].secret, f->secrets[1]);
    assert_int_equal(raw_int(f->db, "SELECT count(*) FROM retired_secrets"), 2);
    assert_int_equal(rotate(f, DAY_S), 0); /* expiry is not counted as cut */
    assert_int_equal(raw_int(f->db, "SELECT count(*) FROM retired_secrets"), 2);
    assert_int_equal(raw_int(f->db, "SELECT count(*) FROM retired_secrets "
                                    "WHERE until_s <= strftime('%s', 'now')"),
                     0);
}

static void an_unknown_organization_is_not_found_and_nothing_is_retired(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    size_t cut = 99;
    assert_int_equal(store_org_rotate_secret(f->s, f->org + 1000, DAY_S, &cut),
                     HERALD_ERR_NOT_FOUND);
    assert_int_equal(cut, 0);
    assert_int_equal(raw_int(f->db, "SELECT count(*) FROM retired_secrets"), 0);
    assert_int_equal(store_org_get(f->s, f->org + 1000, &f->got), HERALD_ERR_NOT_FOUND);
}

/* Schema 10 kept one previous secret in orgs; a live one keeps signing until its end after the
 * migration, an expired one is left behind, and the old columns are emptied. */
static void migrating_10_to_11_keeps_a_live_previous_secret(void **state)
{
    struct fixture *f = *state;
    store_start(f);
    store_stop(f);
    char sql[1024];
    int64_t until = (int64_t)time(NULL) + 3600;
    snprintf(sql, sizeof sql,
             "DROP TABLE retired_secrets;"
             "UPDATE orgs SET prev_secret = 'whsec_cHJldmlvdXM=', prev_secret_until = %lld;"
             "INSERT INTO orgs(id, name, secret, prev_secret, prev_secret_until, admin_user_id,"
             " created_at) VALUES(%lld, 'Other', 'whsec_b3RoZXI=', 'whsec_ZXhwaXJlZA==',"
             " strftime('%%s', 'now') - 1, 0, 0);"
             "PRAGMA user_version=10;",
             (long long)until, (long long)(f->org + 1000));
    raw_exec(f->db, sql);
    store_start(f);
    assert_int_equal(raw_int(f->db, "PRAGMA user_version"), 11);
    org_read(f);
    assert_int_equal(f->got.retired_count, 1);
    assert_string_equal(f->got.retired[0].secret, "whsec_cHJldmlvdXM=");
    assert_int_equal(f->got.retired[0].until_s, until);
    assert_int_equal(raw_int(f->db, "SELECT count(*) FROM retired_secrets"), 1);
    assert_int_equal(raw_int(f->db, "SELECT count(*) FROM orgs WHERE prev_secret IS NOT NULL "
                                    "OR prev_secret_until <> 0"),
                     0);
    /* The next rotation adds to it. */
    assert_int_equal(rotate(f, DAY_S), 0);
    org_read(f);
    assert_int_equal(f->got.retired_count, 2);
    assert_string_equal(f->got.retired[1].secret, "whsec_cHJldmlvdXM=");
}

#define ORG_TEST(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        ORG_TEST(rotating_twice_keeps_both_retired_secrets_newest_first),
        ORG_TEST(the_ten_newest_retired_secrets_sign_and_older_ones_are_cut),
        ORG_TEST(expired_retired_secrets_are_not_read_and_the_next_rotation_deletes_them),
        ORG_TEST(an_unknown_organization_is_not_found_and_nothing_is_retired),
        ORG_TEST(migrating_10_to_11_keeps_a_live_previous_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
