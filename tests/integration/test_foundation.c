/* The foundation over real HTTP: authentication errors, routing errors, body limits, content
 * type, CLI tokens and revocation, configuration errors, and clean shutdown. */
#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct hp srv;

static int setup(void **state)
{
    (void)state;
    hp_start(&srv, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hp_cleanup(&srv);
    return 0;
}

static void answers_org_and_current_user_with_zoho_shapes(void **state)
{
    (void)state;
    struct hp_resp r = hp_req(&srv, "GET", "/crm/v8/org", NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json;charset=UTF-8");
    assert_non_null(hp_str(hp_at(r.json, "org[0]"), "id"));
    assert_non_null(hp_str(hp_at(r.json, "org[0]"), "company_name"));
    hp_resp_free(&r);

    /* license_details has Zoho's keys (the official SDKs' LicenseDetails reads paid_type). */
    r = hp_req(&srv, "GET", "/crm/v6/org", NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    json_t *lic = hp_at(r.json, "org[0].license_details");
    char *text = json_dumps(lic, JSON_COMPACT);
    assert_string_equal(text, "{\"paid_expiry\":null,\"users_license_purchased\":1000,"
                              "\"trial_type\":null,\"trial_expiry\":null,\"paid\":true,"
                              "\"paid_type\":\"enterprise\"}");
    free(text);
    assert_string_equal(hp_str(hp_at(r.json, "org[0]"), "type"), "production");
    hp_resp_free(&r);

    /* The SDK's query strings end with a trailing '&'. */
    r = hp_req(&srv, "GET", "/crm/v2.1/users?type=CurrentUser&", NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    json_t *u = hp_at(r.json, "users[0]");
    assert_non_null(u);
    assert_string_equal(hp_str(u, "email"), "admin@herald.local");
    assert_true(json_is_string(json_object_get(u, "id")));
    hp_resp_free(&r);
}

static void missing_authorization_is_authentication_failure(void **state)
{
    (void)state;
    struct hp_resp r = hp_req(&srv, "GET", "/crm/v8/org", NULL, NULL, NULL);
    hp_assert_error(&r, 401, "AUTHENTICATION_FAILURE");
    assert_string_equal(hp_str(r.json, "message"), "Authentication failed");
    assert_int_equal(json_object_size(json_object_get(r.json, "details")), 0);
    hp_resp_free(&r);
}

static void unknown_token_is_invalid_token(void **state)
{
    (void)state;
    struct hp_resp r = hp_req(&srv, "GET", "/crm/v8/org", NULL, "1000.not-a-real-token", NULL);
    hp_assert_error(&r, 401, "INVALID_TOKEN");
    assert_string_equal(hp_str(r.json, "message"), "invalid oauth token");
    hp_resp_free(&r);

    const char *h[] = {"Authorization: Basic dXNlcjpwYXNz", NULL};
    r = hp_req(&srv, "GET", "/crm/v8/org", NULL, NULL, h);
    hp_assert_error(&r, 401, "INVALID_TOKEN");
    hp_resp_free(&r);
}

static void token_without_scope_is_scope_mismatch(void **state)
{
    (void)state;
    char tok[256];
    hp_token(&srv, "ZohoCRM.notifications.READ", tok, sizeof tok);
    struct hp_resp r = hp_req(&srv, "GET", "/crm/v8/org", NULL, tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    assert_string_equal(hp_str(r.json, "message"), "invalid oauth scope to access this URL");
    hp_resp_free(&r);
}

static void bearer_scheme_and_case_insensitive_scopes_work(void **state)
{
    (void)state;
    char tok[256], auth[400];
    hp_token(&srv, "zohocrm.org.read", tok, sizeof tok);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    const char *h[] = {auth, NULL};
    struct hp_resp r = hp_req(&srv, "GET", "/crm/v3/org", NULL, NULL, h);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
}

/* Header values exclude trailing whitespace (RFC 9110 §5.5): a token pasted with a trailing
 * space or tab is still the token. */
static void a_token_with_trailing_whitespace_is_the_token(void **state)
{
    (void)state;
    static const char *const forms[][2] = {
        {"Zoho-oauthtoken ", " "}, {"Bearer ", "\t"}, {"Zoho-oauthtoken  ", " \t "}};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char auth[400];
        snprintf(auth, sizeof auth, "Authorization: %s%s%s", forms[i][0], srv.token, forms[i][1]);
        const char *h[] = {auth, NULL};
        struct hp_resp r = hp_req(&srv, "GET", "/crm/v8/org", NULL, NULL, h);
        if (r.status != 200)
            fail_msg("form %zu: %ld %s", i, r.status, r.body);
        hp_resp_free(&r);
    }
}

/* HEAD answers what GET answers, without the body (RFC 9110 §9.1 and §9.3.2): monitors and
 * load balancers probe with it. */
static void head_answers_like_get_without_a_body(void **state)
{
    (void)state;
    struct hp_resp r = hp_req(&srv, "HEAD", "/herald/v1/health", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    assert_string_equal(r.content_type, "application/json;charset=UTF-8");
    hp_resp_free(&r);
    r = hp_req(&srv, "HEAD", "/crm/v8/org", NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    hp_resp_free(&r);
    r = hp_req(&srv, "HEAD", "/crm/v8/org", NULL, NULL, NULL);
    assert_int_equal(r.status, 401);
    hp_resp_free(&r);
    /* A URL without GET is still a wrong method. */
    r = hp_req(&srv, "HEAD", "/crm/v8/Leads/upsert", NULL, srv.token, NULL);
    assert_int_equal(r.status, 400);
    hp_resp_free(&r);
}

static void unknown_path_is_404_and_wrong_method_400(void **state)
{
    (void)state;
    struct hp_resp r = hp_req(&srv, "GET", "/crm/v9/org", NULL, srv.token, NULL);
    hp_assert_error(&r, 404, "INVALID_URL_PATTERN");
    assert_string_equal(r.content_type, "application/json;charset=UTF-8");
    hp_resp_free(&r);
    r = hp_req(&srv, "GET", "/nothing/here", NULL, srv.token, NULL);
    hp_assert_error(&r, 404, "INVALID_URL_PATTERN");
    hp_resp_free(&r);
    static const char *const unknown[] = {"/crm/vX/org", "/crm/V8/org", "/crm/v8.0/org",
                                          "/crm/v2.2/settings/modules", "/crm/v9/Leads"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        r = hp_req(&srv, "GET", unknown[i], NULL, srv.token, NULL);
        hp_assert_error(&r, 404, "INVALID_URL_PATTERN");
        hp_resp_free(&r);
    }
    /* Version 1 has its own error in Zoho's OAS (ApiVersionNotSupported). */
    static const char *const v1[] = {"/crm/v1/org", "/crm/v1/settings/modules/Leads",
                                     "/crm/v1/actions/watch", "/crm/v1/Leads"};
    for (size_t i = 0; i < sizeof v1 / sizeof v1[0]; i++) {
        r = hp_req(&srv, "GET", v1[i], NULL, srv.token, NULL);
        hp_assert_error(&r, 400, "API_NOT_SUPPORTED");
        assert_int_equal(json_integer_value(hp_at(r.json, "details.supported_version")), 2);
        assert_string_equal(
            hp_str(r.json, "message"),
            "The api version 1 is not supported. Please use the version 2 or above.");
        hp_resp_free(&r);
    }
    /* Zoho answers a wrong method with 400 (reference §8.4), not HTTP's 405. */
    r = hp_req(&srv, "DELETE", "/crm/v8/org", NULL, srv.token, NULL);
    hp_assert_error(&r, 400, "INVALID_REQUEST_METHOD");
    assert_string_equal(hp_str(r.json, "message"),
                        "The http request method type is not a valid one");
    hp_resp_free(&r);
}

static void oversized_body_is_413(void **state)
{
    (void)state;
    size_t n = 17 * 1024 * 1024;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    char url[128];
    snprintf(url, sizeof url, "%s/crm/v8/org", srv.base);
    char auth[400];
    snprintf(auth, sizeof auth, "Authorization: Zoho-oauthtoken %s", srv.token);
    struct hp_resp r = hp_req_url("POST", url, big, n, auth, NULL);
    hp_assert_error(&r, 413, "REQUEST_ENTITY_TOO_LARGE");
    hp_resp_free(&r);
    free(big);
    /* The server is still healthy afterwards. */
    r = hp_req(&srv, "GET", "/herald/v1/health", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
}

/* Proxies and SDKs add headers (cookies, tracing, long tokens): 12 KB of them still fit the
 * connection's memory pool, which is kept small because it is zeroed for every request. */
static void twelve_kilobytes_of_headers_are_served(void **state)
{
    (void)state;
    size_t n = 12 * 1024;
    char *line = malloc(n + 16);
    memcpy(line, "X-Padding: ", 11);
    memset(line + 11, 'p', n);
    line[11 + n] = '\0';
    const char *headers[] = {line, NULL};
    struct hp_resp r = hp_req(&srv, "GET", "/crm/v8/org", NULL, srv.token, headers);
    assert_int_equal(r.status, 200);
    assert_non_null(hp_str(hp_at(r.json, "org[0]"), "id"));
    hp_resp_free(&r);
    free(line);
}

static void bodies_must_be_valid_json_whatever_the_content_type(void **state)
{
    (void)state;
    char url[128], auth[400];
    snprintf(url, sizeof url, "%s/crm/v8/actions/watch", srv.base);
    snprintf(auth, sizeof auth, "Authorization: Zoho-oauthtoken %s", srv.token);
    const char *bad[] = {
        "{\"watch\":[",                                                /* truncated */
        "{\"watch\":[],\"watch\":[]}",                                 /* duplicate keys */
        "{\"watch\":[{\"channel_id\":\"1\",\"token\":\"\xc3\x28\"}]}", /* invalid UTF-8 */
        "",                                                            /* empty */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hp_resp r = hp_req_url("POST", url, bad[i], strlen(bad[i]), auth, NULL);
        hp_assert_error(&r, 400, "INVALID_DATA");
        hp_resp_free(&r);
    }
    /* No Content-Type (like the Zoho SDK), a form Content-Type (like curl -d) and JSON all
     * parse the same. */
    const char *ok = "{\"watch\":[{\"channel_id\":\"42\",\"events\":[\"Leads.create\"],"
                     "\"notify_url\":\"https://example.com/hook\"}]}";
    const char *ct_form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    const char *ct_json[] = {"Content-Type: application/json", NULL};
    const char *const *variants[] = {NULL, ct_form, ct_json};
    for (size_t i = 0; i < 3; i++) {
        struct hp_resp r = hp_req_url("POST", url, ok, strlen(ok), auth, variants[i]);
        assert_int_equal(r.status, 201);
        assert_string_equal(r.content_type, "application/json;charset=UTF-8");
        hp_resp_free(&r);
    }
}

static void revoked_token_stops_working_at_once(void **state)
{
    (void)state;
    char tok[256], out[4096], err[1024];
    hp_token(&srv, "ZohoCRM.org.ALL", tok, sizeof tok);
    /* This request puts the token in the server's cache. */
    struct hp_resp r = hp_req(&srv, "GET", "/crm/v8/org", NULL, tok, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    int rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "token", "list", "--db", srv.db, NULL);
    assert_int_equal(rc, 0);
    /* The newest token is the last line; its id is the first column. */
    char *last = NULL;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        last = line;
    assert_non_null(last);
    assert_non_null(strstr(last, "ZohoCRM.org.ALL"));
    char id[32];
    snprintf(id, sizeof id, "%d", atoi(last));
    rc =
        hp_cli(&srv, out, sizeof out, err, sizeof err, "token", "revoke", id, "--db", srv.db, NULL);
    assert_int_equal(rc, 0);
    r = hp_req(&srv, "GET", "/crm/v8/org", NULL, tok, NULL);
    hp_assert_error(&r, 401, "INVALID_TOKEN");
    hp_resp_free(&r);
    /* Revoking again names the problem and fails. */
    rc =
        hp_cli(&srv, out, sizeof out, err, sizeof err, "token", "revoke", id, "--db", srv.db, NULL);
    assert_int_equal(rc, 1);
}

/* The ids of the `n` newest tokens, oldest first, from `herald token list`. */
static void newest_token_ids(size_t n, long long *ids)
{
    char out[16384], err[1024];
    int rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "token", "list", "--db", srv.db, NULL);
    assert_int_equal(rc, 0);
    long long all[256];
    size_t count = 0;
    for (char *line = strchr(out, '\n'); line && line[1] && count < 256;
         line = strchr(line + 1, '\n'))
        all[count++] = strtoll(line + 1, NULL, 10);
    assert_true(count >= n);
    for (size_t i = 0; i < n; i++)
        ids[i] = all[count - n + i];
}

/* Marks a token revoked behind Herald's back (an SQL shell): the revocation marker is untouched,
 * so only a database read can notice it. */
static void revoke_out_of_band(long long id)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(srv.db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE tokens SET revoked_at = 1 WHERE id = %lld", id);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);
}

static long org_status(const char *token)
{
    struct hp_resp r = hp_req(&srv, "GET", "/crm/v8/org", NULL, token, NULL);
    long status = r.status;
    if (status != 200)
        hp_assert_error(&r, 401, "INVALID_TOKEN");
    hp_resp_free(&r);
    return status;
}

/* n new tokens on the organization (ids in the order made), each used once so the server
 * caches it. */
static void cached_tokens(size_t n, char (*tok)[256], long long *ids)
{
    for (size_t i = 0; i < n; i++)
        hp_token(&srv, "ZohoCRM.org.ALL", tok[i], sizeof tok[i]);
    newest_token_ids(n, ids);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(org_status(tok[i]), 200);
}

/* Revokes a token through the CLI, another process. */
static void revoke_by_cli(long long token_id)
{
    char id[32], out[1024], err[1024];
    snprintf(id, sizeof id, "%lld", token_id);
    int rc =
        hp_cli(&srv, out, sizeof out, err, sizeof err, "token", "revoke", id, "--db", srv.db, NULL);
    assert_int_equal(rc, 0);
}

static void a_cached_token_revoked_by_another_process_fails_on_the_next_request(void **state)
{
    (void)state;
    enum { REVOKED, KEPT, WITNESS };
    char tok[3][256];
    long long ids[3];
    cached_tokens(3, tok, ids);
    /* The witness proves it: revoked behind Herald's back, it is still served from the cache,
     * so the 401 below comes from the revocation reaching the cache, not from a database read. */
    revoke_out_of_band(ids[WITNESS]);
    assert_int_equal(org_status(tok[WITNESS]), 200);
    revoke_by_cli(ids[REVOKED]);
    assert_int_equal(org_status(tok[REVOKED]), 401);
    assert_int_equal(org_status(tok[KEPT]), 200);
    assert_int_equal(org_status(tok[KEPT]), 200);
    /* The whole cache was dropped, so the witness was read again, revoked. */
    assert_int_equal(org_status(tok[WITNESS]), 401);

    /* Without the marker the server caches nothing: even a revocation behind its back applies
     * at once. (The next CLI run creates the marker again.) */
    char marker[400];
    snprintf(marker, sizeof marker, "%s-revocations", srv.db);
    assert_int_equal(unlink(marker), 0);
    assert_int_equal(org_status(tok[KEPT]), 200);
    revoke_out_of_band(ids[KEPT]);
    assert_int_equal(org_status(tok[KEPT]), 401);

    /* The next CLI run makes a new marker, and the server follows it: the cache is on again
     * (a witness revoked behind its back is still served) and a revocation appended to the new
     * file applies at once. */
    cached_tokens(2, tok, ids);
    revoke_out_of_band(ids[1]);
    assert_int_equal(org_status(tok[1]), 200);
    revoke_by_cli(ids[0]);
    assert_int_equal(org_status(tok[0]), 401);
    assert_int_equal(org_status(tok[1]), 401);

    /* The marker renamed away (its link kept): revokers append to a new file at the path, which
     * the server looks at once a second; so such a revocation applies within about a second. */
    char moved[420];
    snprintf(moved, sizeof moved, "%s.moved", marker);
    cached_tokens(1, tok, ids);
    assert_int_equal(rename(marker, moved), 0);
    revoke_by_cli(ids[0]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = 200;
    for (int i = 0; i < 300 && status == 200; i++) {
        status = org_status(tok[0]);
        if (status == 200) {
            struct timespec pause = {.tv_sec = 0, .tv_nsec = 10 * 1000000};
            nanosleep(&pause, NULL);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(status, 401);
    long elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(elapsed_ms < 2000);
    unlink(moved);
}

/* `herald token revoke --db LINK`, LINK a symbolic link to the server's database: the command
 * announced the revocation in LINK-revocations, a marker no server watches, so the revoked token
 * kept working on the server until its cache entry aged out (30 s). */
static void a_token_revoked_through_a_link_to_the_database_fails_on_the_next_request(void **state)
{
    (void)state;
    char link[400];
    snprintf(link, sizeof link, "%s/link-to.db", srv.dir);
    unlink(link);
    assert_int_equal(symlink(srv.db, link), 0);
    char tok[1][256];
    long long ids[1];
    cached_tokens(1, tok, ids);
    char id[32], out[1024], err[1024];
    snprintf(id, sizeof id, "%lld", ids[0]);
    int rc =
        hp_cli(&srv, out, sizeof out, err, sizeof err, "token", "revoke", id, "--db", link, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(org_status(tok[0]), 401);
    unlink(link);
}

static void bad_flags_exit_2_with_one_line_naming_the_flag(void **state)
{
    (void)state;
    char out[1024], err[1024];
    int rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "serve", "--bogus", "1", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "--bogus"));
    assert_int_equal(strchr(err, '\n') - err + 1, (long)strlen(err));
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "serve", "--listen", "nonsense", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "--listen"));
    /* Well formed, but the host names no address: a bad value too, before the database. */
    char db[400];
    snprintf(db, sizeof db, "%s/unresolved.db", srv.dir);
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "serve", "--listen", "999.1.1.1:0", "--db",
                db, NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "--listen"));
    assert_int_equal(strchr(err, '\n') - err + 1, (long)strlen(err));
    assert_int_equal(access(db, F_OK), -1);
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "serve", "--retry-schedule", "5x", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "--retry-schedule"));
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "serve", "--timezone", "Mars/Base", NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "--timezone"));
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "serve", "--allow-network", "10.0.0/99",
                NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "--allow-network"));
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "token", "create", "--scopes",
                "ZohoCRM.bogus.ALL", "--db", srv.db, NULL);
    assert_int_equal(rc, 2);
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "frobnicate", NULL);
    assert_int_equal(rc, 2);
    /* A --db no command can open (its directory is missing, it is a directory, or a file that
     * is not a SQLite database) is a bad value: it exited 1 with two log lines naming no flag.
     * The text file is left as it was. */
    char missing[400], text[400];
    snprintf(missing, sizeof missing, "%s/no-such-dir/h.db", srv.dir);
    snprintf(text, sizeof text, "%s/notes.txt", srv.dir);
    FILE *f = fopen(text, "w");
    assert_non_null(f);
    fputs("not a database\n", f);
    fclose(f);
    const char *const dbs[] = {missing, srv.dir, text};
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "serve", "--listen", "127.0.0.1:0",
                    "--db", dbs[i], NULL);
        if (rc != 2 || !strstr(err, "--db") || strchr(err, '\n') - err + 1 != (long)strlen(err))
            fail_msg("serve --db %s: exit %d, err '%s'", dbs[i], rc, err);
        rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "token", "create", "--scopes", "all",
                    "--db", dbs[i], NULL);
        if (rc != 2 || !strstr(err, "--db") || strchr(err, '\n') - err + 1 != (long)strlen(err))
            fail_msg("token create --db %s: exit %d, err '%s'", dbs[i], rc, err);
        rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "list", "--db", dbs[i],
                    NULL);
        if (rc != 2 || !strstr(err, "--db") || strchr(err, '\n') - err + 1 != (long)strlen(err))
            fail_msg("deliveries list --db %s: exit %d, err '%s'", dbs[i], rc, err);
    }
    assert_non_null(strstr(err, "is not a SQLite database"));
    struct stat st;
    assert_int_equal(stat(text, &st), 0);
    assert_int_equal(st.st_size, strlen("not a database\n"));
    /* An ID past LLONG_MAX was read as LLONG_MAX: "no live token with ID 9223372036854775807",
     * exit 1. */
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "token", "revoke", "99999999999999999999",
                "--db", srv.db, NULL);
    if (rc != 2 || strstr(err, "9223372036854775807") ||
        strchr(err, '\n') - err + 1 != (long)strlen(err))
        fail_msg("token revoke 99999999999999999999: exit %d, err '%s'", rc, err);
}

/* --scopes that names no scope (",", " , ") made a token refused everything; it is a bad value.
 * "ALL" is "all" (scope names compare case-insensitively, and so does this keyword), and Zoho's
 * module-wide operations (ZohoCRM.modules.READ) and users.WRITE are scopes a token may carry. */
static void token_create_takes_only_scope_lists_that_name_a_scope(void **state)
{
    (void)state;
    char out[1024], err[1024];
    static const char *const none[] = {",", " , ", ",,"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        int rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "token", "create", "--scopes",
                        none[i], "--db", srv.db, NULL);
        if (rc != 2 || !strstr(err, "--scopes") || strchr(err, '\n') - err + 1 != (long)strlen(err))
            fail_msg("--scopes '%s': exit %d, out '%s', err '%s'", none[i], rc, out, err);
    }
    char tok[256];
    hp_token(&srv, "ALL", tok, sizeof tok);
    struct hp_resp r = hp_req(&srv, "GET", "/crm/v8/org", NULL, tok, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    hp_token(&srv, "zohocrm.modules.read, ZohoCRM.users.WRITE,", tok, sizeof tok);
    r = hp_req(&srv, "GET", "/crm/v8/Contacts?fields=Last_Name", NULL, tok, NULL);
    assert_true(r.status == 200 || r.status == 204);
    hp_resp_free(&r);
    r = hp_req(&srv, "POST", "/crm/v8/Contacts", "{\"data\":[{\"Last_Name\":\"x\"}]}", tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    hp_resp_free(&r);
    r = hp_req(&srv, "POST", "/crm/v8/users", "{\"users\":[{\"last_name\":\"W\"}]}", tok, NULL);
    assert_int_equal(r.status, 400); /* past the scope check: the email is missing */
    assert_string_equal(hp_str(hp_at(r.json, "users[0]"), "code"), "MANDATORY_NOT_FOUND");
    hp_resp_free(&r);
}

static void help_and_version_answer(void **state)
{
    (void)state;
    char out[4096], err[1024];
    assert_int_equal(hp_cli(&srv, out, sizeof out, err, sizeof err, "version", NULL), 0);
    assert_non_null(strstr(out, "herald "));
    assert_int_equal(hp_cli(&srv, out, sizeof out, err, sizeof err, "serve", "--help", NULL), 0);
    assert_non_null(strstr(out, "--allow-network"));
    assert_int_equal(hp_cli(&srv, out, sizeof out, err, sizeof err, "help", "token", NULL), 0);
    assert_non_null(strstr(out, "revoke"));
    assert_int_equal(
        hp_cli(&srv, out, sizeof out, err, sizeof err, "secret", "show", "--db", srv.db, NULL), 0);
    assert_memory_equal(out, "whsec_", 6);
}

/* `herald help --help` said "unknown command '--help'" and exited 2; the contract has --help on
 * every command. */
static void help_takes_help_like_every_command(void **state)
{
    (void)state;
    char out[4096], err[1024];
    assert_int_equal(hp_cli(&srv, out, sizeof out, err, sizeof err, "help", "--help", NULL), 0);
    assert_non_null(strstr(out, "usage: herald COMMAND"));
    assert_int_equal(hp_cli(&srv, out, sizeof out, err, sizeof err, "help", "-h", NULL), 0);
    assert_non_null(strstr(out, "usage: herald COMMAND"));
    assert_int_equal(hp_cli(&srv, out, sizeof out, err, sizeof err, "help", "nope", NULL), 2);
    /* A subcommand's help is its command's; other extra words are refused, not dropped. */
    assert_int_equal(
        hp_cli(&srv, out, sizeof out, err, sizeof err, "help", "token", "create", NULL), 0);
    assert_non_null(strstr(out, "token create"));
    assert_int_equal(hp_cli(&srv, out, sizeof out, err, sizeof err, "help", "serve", "extra", NULL),
                     2);
    assert_non_null(strstr(err, "unexpected argument 'extra'"));
    assert_int_equal(
        hp_cli(&srv, out, sizeof out, err, sizeof err, "help", "token", "create", "extra", NULL),
        2);
}

static void secret_rotation_keeps_the_previous_secret(void **state)
{
    (void)state;
    char before[256], after[256], err[1024];
    assert_int_equal(hp_cli(&srv, before, sizeof before, err, sizeof err, "secret", "show", "--db",
                            srv.db, NULL),
                     0);
    assert_int_equal(hp_cli(&srv, after, sizeof after, err, sizeof err, "secret", "rotate", "--db",
                            srv.db, NULL),
                     0);
    assert_string_not_equal(before, after);
    assert_memory_equal(after, "whsec_", 6);
    before[strcspn(before, "\n")] = '\0';
    assert_non_null(strstr(err, before));
}

static void sigterm_stops_cleanly_with_exit_0(void **state)
{
    (void)state;
    struct hp other;
    hp_start(&other, NULL);
    struct hp_resp r = hp_req(&other, "GET", "/crm/v8/org", NULL, other.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    assert_int_equal(hp_stop(&other), 0);
    assert_true(hp_log_wait(&other, "stopped cleanly", 1000));
    /* And it starts again at once on the same database and token. */
    hp_restart(&other);
    r = hp_req(&other, "GET", "/crm/v8/org", NULL, other.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    hp_cleanup(&other);
}

/* The start line names the allocator, and it is the one the build promised
 * (HERALD_EXPECT_ALLOCATOR, set by tests/CMakeLists.txt): the release binary links mimalloc,
 * which a linker's --as-needed once dropped without a word; the sanitized one keeps glibc's. */
static void the_start_line_names_the_allocator_the_build_links(void **state)
{
    (void)state;
    const char *want = getenv("HERALD_EXPECT_ALLOCATOR");
    char rest[512];
    assert_true(hp_log_wait_line(&srv, "msg=\"herald started\"", rest, sizeof rest, 2000));
    const char *got = strstr(rest, "allocator=");
    assert_non_null(got);
    got += strlen("allocator=");
    if (want && *want) {
        assert_memory_equal(got, want, strlen(want));
        assert_true(got[strlen(want)] == '\0' || got[strlen(want)] == ' ' ||
                    got[strlen(want)] == '\n');
    } else {
        assert_true(strncmp(got, "glibc", 5) == 0 || strncmp(got, "mimalloc", 8) == 0);
    }
}

/* Runs herald with stdout on /dev/full (every write fails with ENOSPC), stderr into err. Returns
 * the exit status. */
static int run_to_full_stdout(char *err, size_t err_len, const char *const *args)
{
    int pe[2];
    assert_int_equal(pipe(pe), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int full = open("/dev/full", O_WRONLY);
        if (full < 0)
            _exit(126);
        dup2(full, 1);
        dup2(pe[1], 2);
        close(pe[0]);
        const char *b = getenv("HERALD_BIN");
        char *argv[16];
        int n = 0;
        argv[n++] = (char *)(b ? b : "build/herald");
        for (; *args && n < 15; args++)
            argv[n++] = (char *)*args;
        argv[n] = NULL;
        execv(argv[0], argv);
        _exit(127);
    }
    close(pe[1]);
    size_t len = 0;
    ssize_t got;
    while (len + 1 < err_len && (got = read(pe[0], err + len, err_len - 1 - len)) > 0)
        len += (size_t)got;
    err[len] = '\0';
    close(pe[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A token is shown once, on stdout. With stdout unwritable (a full disk, a broken pipe in
 * `TOKEN=$(herald token create ...)`) the command exited 0, the token live and never shown; it
 * now fails and revokes that token. Any other command whose output is lost fails too. */
static void output_that_cannot_be_written_fails_the_command(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    long long live_before = hp_db_value(&srv, "SELECT count(*) FROM tokens WHERE revoked_at = 0");
    long long all_before = hp_db_value(&srv, "SELECT count(*) FROM tokens");
    char err[1024];
    const char *const create[] = {"token", "create", "--scopes", "all", "--db", srv.db, NULL};
    int rc = run_to_full_stdout(err, sizeof err, create);
    if (rc != 1 || !strstr(err, "stdout") || !strstr(err, "revoked"))
        fail_msg("token create to a full stdout: exit %d, err '%s'", rc, err);
    assert_int_equal(strchr(err, '\n') - err + 1, (long)strlen(err));
    assert_int_equal(hp_db_value(&srv, "SELECT count(*) FROM tokens"), all_before + 1);
    assert_int_equal(hp_db_value(&srv, "SELECT count(*) FROM tokens WHERE revoked_at = 0"),
                     live_before);
    const char *const version[] = {"version", NULL};
    rc = run_to_full_stdout(err, sizeof err, version);
    if (rc != 1 || !strstr(err, "stdout"))
        fail_msg("version to a full stdout: exit %d, err '%s'", rc, err);
    const char *const show[] = {"secret", "show", "--db", srv.db, NULL};
    rc = run_to_full_stdout(err, sizeof err, show);
    if (rc != 1 || !strstr(err, "stdout"))
        fail_msg("secret show to a full stdout: exit %d, err '%s'", rc, err);
}

/* SIGHUP (the terminal that started the server went away) stops it cleanly, exit 0, like SIGTERM:
 * by default it killed the process at once, answering no request in flight. */
static void sighup_stops_cleanly_with_exit_0(void **state)
{
    (void)state;
    struct hp other;
    hp_start(&other, NULL);
    kill(other.pid, SIGHUP);
    int status = 0;
    int64_t deadline = hp_now_ms() + 20000;
    pid_t got = 0;
    while ((got = waitpid(other.pid, &status, WNOHANG)) != other.pid && hp_now_ms() < deadline)
        poll(NULL, 0, 5);
    if (got != other.pid) {
        hp_kill(&other);
        fail_msg("SIGHUP: still running after 20 s");
    }
    other.pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("SIGHUP: status %#x, see %s", status, other.log);
    assert_true(hp_log_wait(&other, "signal=SIGHUP", 1000));
    assert_true(hp_log_wait(&other, "stopped cleanly", 1000));
    hp_cleanup(&other);
}

/* A second `herald serve` on a database a server is using exits 1 at once, naming --db: with both
 * running, changes acknowledged by one never notified the channels subscribed through the other
 * (each matches against the channels it loaded), and its start voided the other's live leases.
 * The lock ends with the process: after kill -9 a server starts on the database at once. */
static void a_second_server_on_the_same_database_is_refused(void **state)
{
    (void)state;
    struct hp first;
    hp_start(&first, NULL);
    char out[256], err[2048];
    int rc = hp_cli_within(10000, out, sizeof out, err, sizeof err, "serve", "--listen",
                           "127.0.0.1:0", "--db", first.db, NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "--db"));
    assert_non_null(strstr(err, "in use by another herald serve"));
    assert_null(strstr(err, "listening on"));
    struct hp_resp r = hp_req(&first, "GET", "/crm/v8/org", NULL, first.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    hp_kill(&first);
    hp_restart(&first); /* fails the test when serve exits before listening */
    r = hp_req(&first, "GET", "/crm/v8/org", NULL, first.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    hp_cleanup(&first);
}

/* A serve whose --listen address another process holds exits 1 at once, and its error names
 * --listen and says what to do: "cannot listen" alone left users looking for the cause. */
static void a_busy_listen_address_is_refused_naming_the_flag(void **state)
{
    (void)state;
    struct hp first;
    hp_start(&first, NULL);
    char db[400], listen[64], out[256], err[4096];
    snprintf(db, sizeof db, "%s/second.db", first.dir);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", first.port);
    int rc = hp_cli_within(10000, out, sizeof out, err, sizeof err, "serve", "--listen", listen,
                           "--db", db, NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "cannot listen on the --listen address"));
    assert_non_null(strstr(err, "Address already in use"));
    assert_non_null(strstr(err, "port 0 picks a free one"));
    assert_null(strstr(err, "listening on"));
    struct hp_resp r = hp_req(&first, "GET", "/crm/v8/org", NULL, first.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    hp_cleanup(&first);
}

/* `herald serve` alone on a new database: no token exists, so it says how to make one, and
 * it does not claim to have recovered an earlier run's leases (there was none). With a live
 * token, and after a clean stop, neither line is written. */
static void a_new_database_says_how_to_make_a_token(void **state)
{
    (void)state;
    struct hp fresh;
    hp_prepare(&fresh, NULL);
    hp_restart(&fresh);
    assert_true(hp_log_wait(&fresh, "no live token", 5000));
    assert_true(hp_log_wait(&fresh, "hint=\"create one with: herald token create --scopes all", 0));
    assert_int_equal(hp_log_count(&fresh, "leases of an earlier run voided"), 0);
    assert_int_equal(hp_stop(&fresh), 0);
    hp_token(&fresh, "all", fresh.token, sizeof fresh.token);
    unlink(fresh.log);
    hp_restart(&fresh);
    struct hp_resp r = hp_req(&fresh, "GET", "/crm/v8/org", NULL, fresh.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    assert_int_equal(hp_log_count(&fresh, "no live token"), 0);
    assert_int_equal(hp_log_count(&fresh, "leases of an earlier run voided"), 0);
    hp_cleanup(&fresh);
}

/* `herald serve` and `herald token create` started together on a database that does not exist
 * yet: both migrate it, and each must find what the other did (it failed every time while the
 * schema version was read before the migration's write lock). */
static void serve_and_token_create_at_once_on_a_new_database_both_work(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        struct hp other;
        hp_prepare(&other, NULL);
        pid_t cli = fork();
        assert_true(cli >= 0);
        if (cli == 0) {
            char out[256], err[1024];
            _exit(hp_cli(&other, out, sizeof out, err, sizeof err, "token", "create", "--scopes",
                         "all", "--db", other.db, NULL));
        }
        hp_restart(&other); /* fails the test when serve exits before listening */
        int status = 0;
        assert_int_equal(waitpid(cli, &status, 0), cli);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        hp_token(&other, "all", other.token, sizeof other.token);
        struct hp_resp r = hp_req(&other, "GET", "/crm/v8/org", NULL, other.token, NULL);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_array_size(json_object_get(r.json, "org")), 1);
        hp_resp_free(&r);
        hp_cleanup(&other);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answers_org_and_current_user_with_zoho_shapes),
        cmocka_unit_test(the_start_line_names_the_allocator_the_build_links),
        cmocka_unit_test(missing_authorization_is_authentication_failure),
        cmocka_unit_test(unknown_token_is_invalid_token),
        cmocka_unit_test(token_without_scope_is_scope_mismatch),
        cmocka_unit_test(bearer_scheme_and_case_insensitive_scopes_work),
        cmocka_unit_test(a_token_with_trailing_whitespace_is_the_token),
        cmocka_unit_test(head_answers_like_get_without_a_body),
        cmocka_unit_test(unknown_path_is_404_and_wrong_method_400),
        cmocka_unit_test(oversized_body_is_413),
        cmocka_unit_test(twelve_kilobytes_of_headers_are_served),
        cmocka_unit_test(bodies_must_be_valid_json_whatever_the_content_type),
        cmocka_unit_test(revoked_token_stops_working_at_once),
        cmocka_unit_test(a_cached_token_revoked_by_another_process_fails_on_the_next_request),
        cmocka_unit_test(a_token_revoked_through_a_link_to_the_database_fails_on_the_next_request),
        cmocka_unit_test(bad_flags_exit_2_with_one_line_naming_the_flag),
        cmocka_unit_test(token_create_takes_only_scope_lists_that_name_a_scope),
        cmocka_unit_test(help_and_version_answer),
        cmocka_unit_test(help_takes_help_like_every_command),
        cmocka_unit_test(secret_rotation_keeps_the_previous_secret),
        cmocka_unit_test(output_that_cannot_be_written_fails_the_command),
        cmocka_unit_test(sigterm_stops_cleanly_with_exit_0),
        cmocka_unit_test(sighup_stops_cleanly_with_exit_0),
        cmocka_unit_test(a_second_server_on_the_same_database_is_refused),
        cmocka_unit_test(a_busy_listen_address_is_refused_naming_the_flag),
        cmocka_unit_test(serve_and_token_create_at_once_on_a_new_database_both_work),
        cmocka_unit_test(a_new_database_says_how_to_make_a_token),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
