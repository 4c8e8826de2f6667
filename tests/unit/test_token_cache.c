/* The token cache (hits, its bound, invalidation when the revocation marker changes, expiry) and
 * the store's revocation marker, then both together through api_authenticate with a second store
 * handle standing in for `herald token revoke` in another process. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/token_cache.h"
#include "core/log.h"
#include "deliver/sign.h"
#include "store/store.h"

static const struct store_token_mark mark_a = {.is_known = true, .dev = 1, .ino = 2, .size = 0};
static const struct store_token_mark mark_b = {.is_known = true, .dev = 1, .ino = 2, .size = 1};
static const struct store_token_mark mark_unknown = {.is_known = false};

static void key_of(const char *token, uint8_t key[32])
{
    sign_sha256(token, strlen(token), key);
}

static struct store_token live_token(int64_t id, const char *scopes)
{
    return (struct store_token){
        .id = id, .org_id = 100 + id, .user_id = 200 + id, .scopes = (char *)scopes};
}

static void put(struct token_cache *c, const struct store_token_mark *m, const char *token,
                int64_t id, int64_t now_ms)
{
    uint8_t key[32];
    key_of(token, key);
    struct store_token t = live_token(id, "ZohoCRM.org.ALL");
    token_cache_put(c, m, key, now_ms, &t);
}

/* True on a hit; then checks the identity matches what put() stored for `id`. */
static bool get(struct token_cache *c, const struct store_token_mark *m, const char *token,
                int64_t id, int64_t now_ms)
{
    uint8_t key[32];
    key_of(token, key);
    struct http_identity who = {0};
    if (!token_cache_get(c, m, key, now_ms, &who))
        return false;
    assert_int_equal(who.token_id, id);
    assert_int_equal(who.org_id, 100 + id);
    assert_int_equal(who.user_id, 200 + id);
    assert_string_equal(who.scopes, "ZohoCRM.org.ALL");
    free(who.scopes);
    return true;
}

static void a_stored_token_is_a_hit_with_its_identity(void **state)
{
    (void)state;
    struct token_cache *c = token_cache_new(8, 30000);
    assert_false(get(c, &mark_a, "tok-1", 1, 0));
    put(c, &mark_a, "tok-1", 1, 0);
    assert_true(get(c, &mark_a, "tok-1", 1, 10));
    assert_true(get(c, &mark_a, "tok-1", 1, 20));
    assert_false(get(c, &mark_a, "tok-2", 2, 20));
    assert_int_equal(token_cache_count(c), 1);
    /* Storing the same token again replaces its entry. */
    put(c, &mark_a, "tok-1", 1, 30);
    assert_int_equal(token_cache_count(c), 1);
    token_cache_free(c);
    token_cache_free(NULL);
}

static void holds_at_most_max_entries_evicting_the_oldest(void **state)
{
    (void)state;
    enum { MAX = 16, PUT = 1000 };
    struct token_cache *c = token_cache_new(MAX, 30000);
    char token[32];
    assert_false(get(c, &mark_a, "first", 0, 0));
    for (int i = 0; i < PUT; i++) {
        snprintf(token, sizeof token, "tok-%d", i);
        put(c, &mark_a, token, i, 0);
        assert_true(token_cache_count(c) <= MAX);
    }
    assert_int_equal(token_cache_count(c), MAX);
    /* The last MAX stored are all there; the first ones were evicted. */
    for (int i = PUT - MAX; i < PUT; i++) {
        snprintf(token, sizeof token, "tok-%d", i);
        assert_true(get(c, &mark_a, token, i, 1));
    }
    for (int i = 0; i < PUT - MAX; i++) {
        snprintf(token, sizeof token, "tok-%d", i);
        assert_false(get(c, &mark_a, token, i, 1));
    }
    token_cache_free(c);
}

static void a_changed_mark_drops_every_entry(void **state)
{
    (void)state;
    struct token_cache *c = token_cache_new(8, 30000);
    assert_false(get(c, &mark_a, "tok-1", 1, 0));
    put(c, &mark_a, "tok-1", 1, 0);
    put(c, &mark_a, "tok-2", 2, 0);
    assert_true(get(c, &mark_a, "tok-1", 1, 0));
    /* A revocation was announced: no entry survives, whichever token was revoked. */
    assert_false(get(c, &mark_b, "tok-2", 2, 0));
    assert_int_equal(token_cache_count(c), 0);
    assert_false(get(c, &mark_b, "tok-1", 1, 0));
    /* A size is not the only field compared: a replaced marker file differs by inode. */
    put(c, &mark_b, "tok-1", 1, 0);
    struct store_token_mark replaced = mark_b;
    replaced.ino = 3;
    assert_false(get(c, &replaced, "tok-1", 1, 0));
    token_cache_free(c);
}

static void an_entry_read_before_a_revocation_was_announced_is_not_stored(void **state)
{
    (void)state;
    struct token_cache *c = token_cache_new(8, 30000);
    /* Request 1 reads mark A, misses and goes to the store... */
    assert_false(get(c, &mark_a, "tok-1", 1, 0));
    /* ...meanwhile a revocation commits and request 2 sees the new mark... */
    assert_false(get(c, &mark_b, "tok-2", 2, 0));
    /* ...so what request 1 read under A (maybe before the commit) is not kept. */
    put(c, &mark_a, "tok-1", 1, 0);
    assert_int_equal(token_cache_count(c), 0);
    assert_false(get(c, &mark_b, "tok-1", 1, 0));
    token_cache_free(c);
}

static void an_unknown_mark_caches_nothing(void **state)
{
    (void)state;
    struct token_cache *c = token_cache_new(8, 30000);
    assert_false(get(c, &mark_a, "tok-1", 1, 0));
    put(c, &mark_a, "tok-1", 1, 0);
    /* The marker became unreadable: the entry is not used, and nothing is stored. */
    assert_false(get(c, &mark_unknown, "tok-1", 1, 0));
    put(c, &mark_unknown, "tok-1", 1, 0);
    assert_int_equal(token_cache_count(c), 0);
    assert_false(get(c, &mark_unknown, "tok-1", 1, 0));
    /* Readable again: caching resumes. */
    assert_false(get(c, &mark_a, "tok-1", 1, 0));
    put(c, &mark_a, "tok-1", 1, 0);
    assert_true(get(c, &mark_a, "tok-1", 1, 0));
    token_cache_free(c);
}

static void an_entry_expires_after_max_age(void **state)
{
    (void)state;
    struct token_cache *c = token_cache_new(8, 1000);
    assert_false(get(c, &mark_a, "tok-1", 1, 5000));
    put(c, &mark_a, "tok-1", 1, 5000);
    assert_true(get(c, &mark_a, "tok-1", 1, 5999));
    assert_false(get(c, &mark_a, "tok-1", 1, 6000));
    put(c, &mark_a, "tok-1", 1, 6000);
    assert_true(get(c, &mark_a, "tok-1", 1, 6500));
    token_cache_free(c);
}

/* A temporary directory for a database, made before and removed after each store test (also
 * when it fails). */
static struct tmpdb {
    char dir[64];
    char db[96];
    char marker[128];
} t;

static int tmpdb_setup(void **state)
{
    (void)state;
    snprintf(t.dir, sizeof t.dir, "/tmp/herald-unit-XXXXXX");
    if (!mkdtemp(t.dir))
        return -1;
    snprintf(t.db, sizeof t.db, "%s/herald.db", t.dir);
    snprintf(t.marker, sizeof t.marker, "%s-revocations", t.db);
    return 0;
}

static int tmpdb_teardown(void **state)
{
    (void)state;
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", "-revocations"};
    char path[160];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(path, sizeof path, "%s%s", t.db, suffixes[i]);
        if (unlink(path) != 0)
            rmdir(path); /* the marker made a directory by a test */
    }
    rmdir(t.dir);
    return 0;
}

static int64_t create_token(struct store *s, const char *token)
{
    char hash[65];
    sign_sha256_hex(token, strlen(token), hash);
    int64_t id = 0;
    assert_int_equal(store_token_create(s, store_default_org(s), "t", "ZohoCRM.org.ALL", hash, &id),
                     HERALD_OK);
    return id;
}

static void revoking_changes_the_store_mark(void **state)
{
    (void)state;
    struct store *s = NULL;
    assert_int_equal(store_open(t.db, &s), HERALD_OK);
    struct store_token_mark m0, m1, m2;
    store_token_mark_read(s, &m0);
    assert_true(m0.is_known);
    assert_true(store_token_mark_equal(&m0, &m0));
    /* Creating a token announces nothing: unknown tokens are never cached. */
    int64_t id = create_token(s, "tok-1");
    store_token_mark_read(s, &m1);
    assert_true(store_token_mark_equal(&m0, &m1));
    assert_int_equal(store_token_revoke(s, store_default_org(s), id), HERALD_OK);
    store_token_mark_read(s, &m2);
    assert_true(m2.is_known);
    assert_false(store_token_mark_equal(&m1, &m2));
    assert_true(m2.size > m1.size);
    /* Revoking nothing announces nothing. */
    assert_int_equal(store_token_revoke(s, store_default_org(s), id), HERALD_ERR_NOT_FOUND);
    store_token_mark_read(s, &m1);
    assert_true(store_token_mark_equal(&m1, &m2));
    store_free(s);
}

static void a_missing_marker_reads_unknown_until_recreated(void **state)
{
    (void)state;
    struct store *s = NULL;
    assert_int_equal(store_open(t.db, &s), HERALD_OK);
    struct store_token_mark m;
    assert_int_equal(unlink(t.marker), 0);
    store_token_mark_read(s, &m);
    assert_false(m.is_known);
    assert_false(store_token_mark_equal(&m, &m));
    /* Any process opening the database creates it again; so does a revocation. */
    struct store *other = NULL;
    assert_int_equal(store_open(t.db, &other), HERALD_OK);
    store_token_mark_read(s, &m);
    assert_true(m.is_known);
    assert_int_equal(unlink(t.marker), 0);
    int64_t id = create_token(other, "tok-1");
    assert_int_equal(store_token_revoke(other, store_default_org(other), id), HERALD_OK);
    store_token_mark_read(s, &m);
    assert_true(m.is_known);
    assert_int_equal(m.size, 1);
    store_free(other);
    /* Something that is not a file cannot announce revocations: unknown. */
    assert_int_equal(unlink(t.marker), 0);
    assert_int_equal(mkdir(t.marker, 0700), 0);
    store_token_mark_read(s, &m);
    assert_false(m.is_known);
    store_free(s);
}

/* Marks a token revoked behind the store's back (an SQL shell): no marker change. */
static void revoke_out_of_band(const char *db, int64_t id)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 10000);
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE tokens SET revoked_at = 1 WHERE id = %lld", (long long)id);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_changes(h), 1);
    sqlite3_close(h);
}

static enum herald_err authenticate(struct app *app, const char *token)
{
    struct http_identity who = {0};
    enum herald_err err = api_authenticate(app, token, &who);
    if (!err)
        assert_string_equal(who.scopes, "ZohoCRM.org.ALL");
    free(who.scopes);
    return err;
}

static void authenticate_refuses_a_cached_token_once_another_handle_revokes_it(void **state)
{
    (void)state;
    struct store *server = NULL, *cli = NULL;
    assert_int_equal(store_open(t.db, &server), HERALD_OK);
    struct app app = {.store = server};
    app.tokens = token_cache_new(TOKEN_CACHE_MAX_ENTRIES, TOKEN_CACHE_MAX_AGE_MS);
    int64_t id1 = create_token(server, "tok-1");
    int64_t id2 = create_token(server, "tok-2");
    int64_t id3 = create_token(server, "tok-3");
    assert_int_equal(authenticate(&app, "nope"), HERALD_ERR_NOT_FOUND);
    assert_int_equal(token_cache_count(app.tokens), 0); /* unknown tokens are not cached */
    assert_int_equal(authenticate(&app, "tok-1"), HERALD_OK);
    assert_int_equal(authenticate(&app, "tok-2"), HERALD_OK);
    assert_int_equal(authenticate(&app, "tok-3"), HERALD_OK);
    assert_int_equal(token_cache_count(app.tokens), 3);
    /* Proof the cache answers: a revocation that bypasses the store is not seen (until the
     * entry's max age), so what follows tests the marker, not a database read. */
    revoke_out_of_band(t.db, id3);
    assert_int_equal(authenticate(&app, "tok-3"), HERALD_OK);
    /* Another handle on the same file, as `herald token revoke` is. */
    assert_int_equal(store_open(t.db, &cli), HERALD_OK);
    assert_int_equal(store_token_revoke(cli, store_default_org(cli), id1), HERALD_OK);
    store_free(cli);
    assert_int_equal(authenticate(&app, "tok-1"), HERALD_ERR_NOT_FOUND);
    assert_int_equal(authenticate(&app, "tok-2"), HERALD_OK);
    /* The whole cache was dropped, so the out-of-band revocation is now seen too. */
    assert_int_equal(authenticate(&app, "tok-3"), HERALD_ERR_NOT_FOUND);
    /* Without the marker nothing is cached: every call reads the store. */
    assert_int_equal(unlink(t.marker), 0);
    assert_int_equal(authenticate(&app, "tok-2"), HERALD_OK);
    assert_int_equal(token_cache_count(app.tokens), 0);
    revoke_out_of_band(t.db, id2);
    assert_int_equal(authenticate(&app, "tok-2"), HERALD_ERR_NOT_FOUND);
    token_cache_free(app.tokens);
    store_free(server);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_stored_token_is_a_hit_with_its_identity),
        cmocka_unit_test(holds_at_most_max_entries_evicting_the_oldest),
        cmocka_unit_test(a_changed_mark_drops_every_entry),
        cmocka_unit_test(an_entry_read_before_a_revocation_was_announced_is_not_stored),
        cmocka_unit_test(an_unknown_mark_caches_nothing),
        cmocka_unit_test(an_entry_expires_after_max_age),
        cmocka_unit_test_setup_teardown(revoking_changes_the_store_mark, tmpdb_setup,
                                        tmpdb_teardown),
        cmocka_unit_test_setup_teardown(a_missing_marker_reads_unknown_until_recreated, tmpdb_setup,
                                        tmpdb_teardown),
        cmocka_unit_test_setup_teardown(
            authenticate_refuses_a_cached_token_once_another_handle_revokes_it, tmpdb_setup,
            tmpdb_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
