/* The delivery history over real HTTP and the real CLI: listing by channel, status and time with
 * every attempt, one notification with its payload, resending one or a channel's failed ones
 * (the receiver then gets them), the admin API's own scopes, CLI usage errors, and retention
 * pruning delivered notifications while failed ones stay. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct hp srv;

static int setup(void **state)
{
    (void)state;
    hp_start(&srv, "--allow-network 127.0.0.0/8 --retry-schedule 0s,100ms");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hp_cleanup(&srv);
    return 0;
}

static void watch_on(struct hp *p, const char *channel, const char *event, struct receiver *rx)
{
    char url[256], body[1024];
    rx_url(rx, "/hook", url, sizeof url);
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"%s\",\"events\":[\"%s\"],\"notify_url\":\"%s\"}]}",
             channel, event, url);
    struct hp_resp r = hp_req(p, "POST", "/crm/v8/actions/watch", body, p->token, NULL);
    if (r.status != 201)
        fail_msg("watch failed: %ld %s", r.status, r.body);
    hp_resp_free(&r);
}

/* Creates one record of `module` and returns its id (static storage). */
static const char *create_in(struct hp *p, const char *module, const char *field)
{
    static char id[32];
    char path[64], body[128];
    snprintf(path, sizeof path, "/crm/v8/%s", module);
    snprintf(body, sizeof body, "{\"data\":[{\"%s\":\"x\"}]}", field);
    struct hp_resp r = hp_req(p, "POST", path, body, p->token, NULL);
    if (r.status != 201)
        fail_msg("create %s failed: %ld %s", module, r.status, r.body);
    snprintf(id, sizeof id, "%s", hp_str(hp_at(r.json, "data[0].details"), "id"));
    hp_resp_free(&r);
    return id;
}

static const char *create_lead(struct hp *p)
{
    return create_in(p, "Leads", "Last_Name");
}

/* GET /herald/v1/deliveries with a query; fails the test unless 200. */
static struct hp_resp list(struct hp *p, const char *query)
{
    char path[512];
    snprintf(path, sizeof path, "/herald/v1/deliveries%s%s", query[0] ? "?" : "", query);
    struct hp_resp r = hp_req(p, "GET", path, NULL, p->token, NULL);
    if (r.status != 200)
        fail_msg("GET %s: %ld %s", path, r.status, r.body);
    return r;
}

static size_t count_of(struct hp *p, const char *query)
{
    struct hp_resp r = list(p, query);
    size_t n = json_array_size(json_object_get(r.json, "deliveries"));
    hp_resp_free(&r);
    return n;
}

/* Waits (bounded) until the listing for `query` has exactly `want` rows. */
static void await_count(struct hp *p, const char *query, size_t want, int timeout_ms)
{
    int64_t deadline = hp_now_ms() + timeout_ms;
    size_t n;
    while ((n = count_of(p, query)) != want) {
        if (hp_now_ms() > deadline)
            fail_msg("'%s' has %zu deliveries, want %zu, after %d ms", query, n, want, timeout_ms);
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
}

/* The id of the newest delivery matching `query` (static storage). */
static const char *first_id(struct hp *p, const char *query)
{
    static char id[32];
    struct hp_resp r = list(p, query);
    const char *v = hp_str(hp_at(r.json, "deliveries[0]"), "id");
    assert_non_null(v);
    snprintf(id, sizeof id, "%s", v);
    hp_resp_free(&r);
    return id;
}

static void iso_at(int64_t epoch_s, char *out, size_t len)
{
    time_t t = (time_t)epoch_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void history_lists_by_channel_status_and_time_with_attempts(void **state)
{
    (void)state;
    struct receiver *ok = rx_start(NULL);
    struct receiver *bad = rx_start("500,500,500,500");
    watch_on(&srv, "101", "Leads.create", ok);
    watch_on(&srv, "102", "Leads.create", bad);
    const char *lead = create_lead(&srv);
    char lead_id[32];
    snprintf(lead_id, sizeof lead_id, "%s", lead);
    await_count(&srv, "channel_id=101&status=delivered", 1, 10000);
    await_count(&srv, "channel_id=102&status=failed", 1, 10000);
    assert_int_equal(rx_count(bad), 2); /* the schedule 0s,100ms: two attempts */

    struct hp_resp r = list(&srv, "channel_id=102");
    assert_int_equal(json_array_size(json_object_get(r.json, "deliveries")), 1);
    json_t *d = hp_at(r.json, "deliveries[0]");
    assert_string_equal(hp_str(d, "channel_id"), "102");
    assert_string_equal(hp_str(d, "status"), "failed");
    assert_string_equal(hp_str(d, "operation"), "insert");
    assert_string_equal(hp_str(json_object_get(d, "module"), "api_name"), "Leads");
    char url[256];
    rx_url(bad, "/hook", url, sizeof url);
    assert_string_equal(hp_str(d, "notify_url"), url);
    assert_int_equal(json_integer_value(json_object_get(d, "last_http_status")), 500);
    assert_int_equal(json_integer_value(json_object_get(d, "attempt_count")), 2);
    assert_true(json_is_null(json_object_get(d, "next_attempt_time")));
    assert_false(json_is_true(json_object_get(d, "in_flight")));
    assert_non_null(hp_str(d, "created_time"));
    json_t *attempts = json_object_get(d, "attempts");
    assert_int_equal(json_array_size(attempts), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *a = json_array_get(attempts, i);
        assert_int_equal(json_integer_value(json_object_get(a, "http_status")), 500);
        assert_true(json_is_integer(json_object_get(a, "duration_ms")));
        assert_non_null(hp_str(a, "started_time"));
    }
    assert_null(json_object_get(d, "payload")); /* lists leave the payload to show */
    assert_int_equal(json_integer_value(hp_at(r.json, "info.count")), 1);
    assert_false(json_is_true(hp_at(r.json, "info.more_records")));
    assert_true(json_is_null(hp_at(r.json, "info.next_before")));
    hp_resp_free(&r);

    r = list(&srv, "channel_id=101&status=delivered");
    d = hp_at(r.json, "deliveries[0]");
    assert_string_equal(hp_str(d, "status"), "delivered");
    assert_int_equal(json_array_size(json_object_get(d, "attempts")), 1);
    assert_int_equal(json_integer_value(hp_at(d, "attempts[0].http_status")), 200);
    assert_true(json_is_null(hp_at(d, "attempts[0].error")));
    hp_resp_free(&r);
    assert_int_equal(count_of(&srv, "channel_id=101&status=pending"), 0);
    assert_int_equal(count_of(&srv, "channel_id=101&status=failed"), 0);
    assert_int_equal(count_of(&srv, "status=failed&channel_id=102"), 1);

    /* Time bounds on the creation time; '+' encoded, and raw (it arrives as a space). */
    char t[64], q[160];
    int64_t now_s = (int64_t)time(NULL);
    iso_at(now_s + 3600, t, sizeof t);
    snprintf(q, sizeof q, "channel_id=102&since=%s", t);
    assert_int_equal(count_of(&srv, q), 0);
    iso_at(now_s - 3600, t, sizeof t);
    snprintf(q, sizeof q, "channel_id=102&since=%s", t);
    assert_int_equal(count_of(&srv, q), 1);
    snprintf(q, sizeof q, "channel_id=102&until=%s", t);
    assert_int_equal(count_of(&srv, q), 0);
    assert_int_equal(count_of(&srv, "channel_id=102&since=2000-01-01T05:30:00%2B05:30"), 1);
    assert_int_equal(count_of(&srv, "channel_id=102&since=2000-01-01T05:30:00+05:30"), 1);

    /* show: the payload as the receiver got it, minus server_time. */
    char id[32], path[128];
    snprintf(id, sizeof id, "%s", first_id(&srv, "channel_id=102"));
    snprintf(path, sizeof path, "/herald/v1/deliveries/%s", id);
    r = hp_req(&srv, "GET", path, NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    d = hp_at(r.json, "deliveries[0]");
    assert_string_equal(hp_str(d, "id"), id);
    assert_non_null(hp_str(d, "change_id"));
    json_t *payload = json_object_get(d, "payload");
    assert_string_equal(hp_str(payload, "operation"), "insert");
    assert_string_equal(hp_str(payload, "module"), "Leads");
    assert_string_equal(hp_str(payload, "channel_id"), "102");
    assert_string_equal(json_string_value(hp_at(payload, "ids[0]")), lead_id);
    assert_null(json_object_get(payload, "server_time"));
    assert_int_equal(json_array_size(json_object_get(d, "attempts")), 2);
    hp_resp_free(&r);

    /* Paging: newest first, `before` continues where next_before says. */
    create_lead(&srv);
    create_lead(&srv);
    await_count(&srv, "channel_id=101&status=delivered", 3, 10000);
    r = list(&srv, "channel_id=101&per_page=2");
    assert_int_equal(json_array_size(json_object_get(r.json, "deliveries")), 2);
    assert_true(json_is_true(hp_at(r.json, "info.more_records")));
    long long first = atoll(hp_str(hp_at(r.json, "deliveries[0]"), "id"));
    long long second = atoll(hp_str(hp_at(r.json, "deliveries[1]"), "id"));
    assert_true(first > second);
    const char *next = hp_str(json_object_get(r.json, "info"), "next_before");
    assert_non_null(next);
    assert_int_equal(atoll(next), second);
    snprintf(q, sizeof q, "channel_id=101&per_page=2&before=%s", next);
    hp_resp_free(&r);
    r = list(&srv, q);
    assert_int_equal(json_array_size(json_object_get(r.json, "deliveries")), 1);
    assert_true(atoll(hp_str(hp_at(r.json, "deliveries[0]"), "id")) < second);
    assert_false(json_is_true(hp_at(r.json, "info.more_records")));
    hp_resp_free(&r);

    /* Unsubscribe, so the later tests' records notify nobody here. */
    r = hp_req(&srv, "DELETE", "/crm/v8/actions/watch?channel_ids=101,102", NULL, srv.token, NULL);
    hp_resp_free(&r);
    rx_stop(ok);
    rx_stop(bad);
}

/* A schedule whose first delay is not 0s: the notification is created when its change commits
 * and first due a minute later. created_time (and the since/until filters on it) said the
 * minute later, so a notification created now was "created" in the future. */
static void created_time_is_the_commit_not_the_first_attempt(void **state)
{
    (void)state;
    struct hp p;
    hp_start(&p, "--allow-network 127.0.0.0/8 --retry-schedule 1m,1s");
    struct receiver *rx = rx_start(NULL);
    watch_on(&p, "1", "Leads.create", rx);
    int64_t now_s = (int64_t)time(NULL);
    create_lead(&p);
    char t[64], q[160];
    iso_at(now_s + 30, t, sizeof t);
    snprintf(q, sizeof q, "until=%s", t);
    assert_int_equal(count_of(&p, q), 1);
    snprintf(q, sizeof q, "since=%s", t);
    assert_int_equal(count_of(&p, q), 0);
    struct hp_resp r = list(&p, "");
    json_t *d = hp_at(r.json, "deliveries[0]");
    assert_string_equal(hp_str(d, "status"), "pending");
    /* Due a minute after it was created, and not changed since. */
    assert_string_not_equal(hp_str(d, "created_time"), hp_str(d, "next_attempt_time"));
    assert_string_equal(hp_str(d, "created_time"), hp_str(d, "updated_time"));
    hp_resp_free(&r);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* A receiver's answer is any bytes, and the 256-byte prefix kept of it may end inside a UTF-8
 * character: the attempt still has its "response", with U+FFFD for each byte that is not UTF-8
 * (jansson refused the string, and the key went missing from the attempt). */
static void a_response_that_is_not_utf8_is_shown_with_replacement_characters(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    rx_set_body(rx, RX_BODY_NOT_UTF8);
    watch_on(&srv, "151", "Leads.create", rx);
    create_lead(&srv);
    await_count(&srv, "channel_id=151&status=delivered", 1, 10000);
    char want[300] = "caf\xef\xbf\xbd";
    memset(want + 6, 'x', 251);
    memcpy(want + 257, "\xef\xbf\xbd", 4);
    struct hp_resp r = list(&srv, "channel_id=151");
    json_t *a = hp_at(r.json, "deliveries[0].attempts[0]");
    assert_int_equal(json_integer_value(json_object_get(a, "http_status")), 200);
    assert_non_null(hp_str(a, "response"));
    assert_string_equal(hp_str(a, "response"), want);
    hp_resp_free(&r);
    /* The CLI's --json is the same JSON. */
    char out[8192], err[1024];
    char id[32];
    snprintf(id, sizeof id, "%s", first_id(&srv, "channel_id=151"));
    assert_int_equal(hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "show", id,
                            "--json", "--db", srv.db, NULL),
                     0);
    json_t *shown = json_loads(out, 0, NULL);
    assert_non_null(shown);
    assert_string_equal(hp_str(hp_at(shown, "deliveries[0].attempts[0]"), "response"), want);
    json_decref(shown);
    r = hp_req(&srv, "DELETE", "/crm/v8/actions/watch?channel_ids=151", NULL, srv.token, NULL);
    hp_resp_free(&r);
    rx_stop(rx);
}

/* A 3xx is retried like any answer that is not a 2xx, and its attempts say why. */
static void a_redirect_is_a_failed_attempt_that_says_so(void **state)
{
    (void)state;
    struct receiver *rx = rx_start("302,302");
    watch_on(&srv, "161", "Leads.create", rx);
    create_lead(&srv);
    await_count(&srv, "channel_id=161&status=failed", 1, 10000);
    assert_int_equal(rx_count(rx), 2);
    struct hp_resp r = list(&srv, "channel_id=161");
    json_t *attempts = hp_at(r.json, "deliveries[0].attempts");
    assert_int_equal(json_array_size(attempts), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *a = json_array_get(attempts, i);
        assert_int_equal(json_integer_value(json_object_get(a, "http_status")), 302);
        assert_string_equal(hp_str(a, "error"),
                            "redirect not followed: only a 2xx answer counts as delivered");
    }
    hp_resp_free(&r);
    r = hp_req(&srv, "DELETE", "/crm/v8/actions/watch?channel_ids=161", NULL, srv.token, NULL);
    hp_resp_free(&r);
    rx_stop(rx);
}

static void bad_queries_and_unknown_ids_are_zoho_errors(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        long status;
        const char *code;
        const char *param;
    } cases[] = {
        {"/herald/v1/deliveries?status=bogus", 400, "INVALID_DATA", "status"},
        {"/herald/v1/deliveries?status=FAILED", 400, "INVALID_DATA", "status"},
        {"/herald/v1/deliveries?channel_id=abc", 400, "INVALID_DATA", "channel_id"},
        {"/herald/v1/deliveries?since=yesterday", 400, "INVALID_DATA", "since"},
        {"/herald/v1/deliveries?until=2026-02-30T00:00:00Z", 400, "INVALID_DATA", "until"},
        {"/herald/v1/deliveries?per_page=0", 400, "INVALID_DATA", "per_page"},
        {"/herald/v1/deliveries?per_page=201", 400, "INVALID_DATA", "per_page"},
        {"/herald/v1/deliveries?before=-3", 400, "INVALID_DATA", "before"},
        {"/herald/v1/deliveries/abc", 400, "INVALID_DATA", "id"},
        {"/herald/v1/deliveries/999999999", 404, "RESOURCE_NOT_FOUND", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hp_resp r = hp_req(&srv, "GET", cases[i].path, NULL, srv.token, NULL);
        hp_assert_error(&r, cases[i].status, cases[i].code);
        if (cases[i].param)
            assert_string_equal(hp_str(json_object_get(r.json, "details"), "param_name"),
                                cases[i].param);
        hp_resp_free(&r);
    }
    struct hp_resp r =
        hp_req(&srv, "POST", "/herald/v1/deliveries/999999999/resend", NULL, srv.token, NULL);
    hp_assert_error(&r, 404, "RESOURCE_NOT_FOUND");
    hp_resp_free(&r);
    r = hp_req(&srv, "POST", "/herald/v1/deliveries/x1/resend", NULL, srv.token, NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    hp_resp_free(&r);
    static const struct {
        const char *body;
        const char *code;
        const char *api_name;
    } bulk[] = {
        {"{\"since\":\"2026-01-01T00:00:00Z\"}", "MANDATORY_NOT_FOUND", "channel_id"},
        {"{\"channel_id\":\"1\"}", "MANDATORY_NOT_FOUND", "since"},
        {"{\"channel_id\":\"one\",\"since\":\"2026-01-01T00:00:00Z\"}", "INVALID_DATA",
         "channel_id"},
        {"{\"channel_id\":1,\"since\":\"soon\"}", "INVALID_DATA", "since"},
        {"{\"channel_id\":1,\"since\":1700000000}", "INVALID_DATA", "since"},
    };
    for (size_t i = 0; i < sizeof bulk / sizeof bulk[0]; i++) {
        r = hp_req(&srv, "POST", "/herald/v1/deliveries/resend", bulk[i].body, srv.token, NULL);
        hp_assert_error(&r, 400, bulk[i].code);
        assert_string_equal(hp_str(json_object_get(r.json, "details"), "api_name"),
                            bulk[i].api_name);
        hp_resp_free(&r);
    }
    r = hp_req(&srv, "POST", "/herald/v1/deliveries/resend", "not json", srv.token, NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    hp_resp_free(&r);
}

static void resending_one_reaches_the_receiver_again(void **state)
{
    (void)state;
    struct receiver *rx = rx_start("500,500");
    watch_on(&srv, "201", "Leads.create", rx);
    create_lead(&srv);
    await_count(&srv, "channel_id=201&status=failed", 1, 10000);
    assert_int_equal(rx_count(rx), 2);
    char id[32], path[128];
    snprintf(id, sizeof id, "%s", first_id(&srv, "channel_id=201"));
    snprintf(path, sizeof path, "/herald/v1/deliveries/%s/resend", id);
    struct hp_resp r = hp_req(&srv, "POST", path, NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(hp_str(r.json, "code"), "SUCCESS");
    assert_string_equal(hp_str(json_object_get(r.json, "details"), "id"), id);
    assert_string_equal(hp_str(json_object_get(r.json, "details"), "status"), "pending");
    hp_resp_free(&r);

    assert_int_equal(rx_wait(rx, 3, 10000), 3);
    await_count(&srv, "channel_id=201&status=delivered", 1, 10000);
    /* The same message: webhook-id is stable across the resend. */
    char first[128], again[128];
    assert_true(rx_header(rx_get(rx, 0), "webhook-id", first, sizeof first));
    assert_true(rx_header(rx_get(rx, 2), "webhook-id", again, sizeof again));
    assert_string_equal(first, again);
    /* Every attempt stays in the history. */
    snprintf(path, sizeof path, "/herald/v1/deliveries/%s", id);
    r = hp_req(&srv, "GET", path, NULL, srv.token, NULL);
    json_t *attempts = hp_at(r.json, "deliveries[0].attempts");
    assert_int_equal(json_array_size(attempts), 3);
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(attempts, 2), "http_status")), 200);
    hp_resp_free(&r);

    /* A delivered notification can be sent again too. */
    snprintf(path, sizeof path, "/herald/v1/deliveries/%s/resend", id);
    r = hp_req(&srv, "POST", path, NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    assert_int_equal(rx_wait(rx, 4, 10000), 4);
    r = hp_req(&srv, "DELETE", "/crm/v8/actions/watch?channel_ids=201", NULL, srv.token, NULL);
    hp_resp_free(&r);
    rx_stop(rx);
}

static void resending_a_channels_failed_since_a_time_reaches_the_receiver(void **state)
{
    (void)state;
    /* Two notifications, two attempts each: four failures stay below the destination's circuit
     * threshold, which would otherwise hold the resent ones until its probe. */
    struct receiver *rx = rx_start("500,500,500,500");
    struct receiver *other = rx_start("500,500");
    watch_on(&srv, "301", "Leads.create", rx);
    for (int i = 0; i < 2; i++)
        create_lead(&srv);
    await_count(&srv, "channel_id=301&status=failed", 2, 10000);
    struct hp_resp r =
        hp_req(&srv, "DELETE", "/crm/v8/actions/watch?channel_ids=301", NULL, srv.token, NULL);
    hp_resp_free(&r);
    watch_on(&srv, "302", "Leads.create", other);
    create_lead(&srv);
    await_count(&srv, "channel_id=302&status=failed", 1, 10000);
    assert_int_equal(rx_count(rx), 4);

    /* Since a time after them: nothing. */
    char t[64], body[256];
    iso_at((int64_t)time(NULL) + 3600, t, sizeof t);
    snprintf(body, sizeof body, "{\"channel_id\":\"301\",\"since\":\"%s\"}", t);
    r = hp_req(&srv, "POST", "/herald/v1/deliveries/resend", body, srv.token, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(hp_at(r.json, "details.count")), 0);
    hp_resp_free(&r);

    iso_at((int64_t)time(NULL) - 3600, t, sizeof t);
    snprintf(body, sizeof body, "{\"channel_id\":301,\"since\":\"%s\"}", t);
    r = hp_req(&srv, "POST", "/herald/v1/deliveries/resend", body, srv.token, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(hp_str(r.json, "status"), "success");
    assert_string_equal(hp_str(json_object_get(r.json, "details"), "channel_id"), "301");
    assert_int_equal(json_integer_value(hp_at(r.json, "details.count")), 2);
    hp_resp_free(&r);
    assert_int_equal(rx_wait(rx, 6, 10000), 6);
    await_count(&srv, "channel_id=301&status=delivered", 2, 10000);
    /* The other channel's failure is untouched. */
    assert_int_equal(count_of(&srv, "channel_id=302&status=failed"), 1);
    assert_int_equal(rx_count(other), 2);
    r = hp_req(&srv, "DELETE", "/crm/v8/actions/watch?channel_ids=302", NULL, srv.token, NULL);
    hp_resp_free(&r);
    rx_stop(rx);
    rx_stop(other);
}

static void resend_is_refused_while_an_attempt_is_in_flight(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    rx_set_delay(rx, 2500);
    watch_on(&srv, "501", "Leads.create", rx);
    create_lead(&srv);
    await_count(&srv, "channel_id=501&status=pending", 1, 10000);
    /* Wait until the dispatcher holds it (the receiver sees the request). */
    assert_int_equal(rx_wait(rx, 1, 10000), 1);
    struct hp_resp r = list(&srv, "channel_id=501");
    assert_true(json_is_true(hp_at(r.json, "deliveries[0].in_flight")));
    char path[128];
    snprintf(path, sizeof path, "/herald/v1/deliveries/%s/resend",
             hp_str(hp_at(r.json, "deliveries[0]"), "id"));
    hp_resp_free(&r);
    r = hp_req(&srv, "POST", path, NULL, srv.token, NULL);
    hp_assert_error(&r, 409, "DELIVERY_IN_PROGRESS");
    hp_resp_free(&r);
    /* The CLI beside the server: reading leaves the lease alone, and a resend is refused. */
    char out[4096], err[1024];
    const char *id = strrchr(path, '/') - 1;
    while (id > path && id[-1] != '/')
        id--;
    char id_text[32];
    snprintf(id_text, sizeof id_text, "%.*s", (int)(strrchr(path, '/') - id), id);
    assert_int_equal(hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "list", "--db",
                            srv.db, "--channel", "501", NULL),
                     0);
    assert_non_null(strstr(out, "sending"));
    assert_int_equal(hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "resend", id_text,
                            "--db", srv.db, NULL),
                     1);
    assert_non_null(strstr(err, "in flight"));
    await_count(&srv, "channel_id=501&status=delivered", 1, 10000);
    /* One copy only, even after the dispatcher looked for due work again. */
    assert_int_equal(rx_wait(rx, 2, 1500), 1);
    r = hp_req(&srv, "DELETE", "/crm/v8/actions/watch?channel_ids=501", NULL, srv.token, NULL);
    hp_resp_free(&r);
    rx_stop(rx);
}

static void admin_api_needs_its_own_scope(void **state)
{
    (void)state;
    char read_tok[256], all_tok[256], crm_tok[256], lower_tok[256];
    hp_token(&srv, "Herald.deliveries.READ", read_tok, sizeof read_tok);
    hp_token(&srv, "Herald.deliveries.ALL", all_tok, sizeof all_tok);
    hp_token(&srv, "ZohoCRM.notifications.ALL,ZohoCRM.modules.ALL,ZohoCRM.settings.ALL", crm_tok,
             sizeof crm_tok);
    hp_token(&srv, "herald.deliveries.read", lower_tok, sizeof lower_tok);

    struct hp_resp r = hp_req(&srv, "GET", "/herald/v1/deliveries", NULL, NULL, NULL);
    hp_assert_error(&r, 401, "AUTHENTICATION_FAILURE");
    hp_resp_free(&r);
    r = hp_req(&srv, "GET", "/herald/v1/deliveries", NULL, "1000.nope", NULL);
    hp_assert_error(&r, 401, "INVALID_TOKEN");
    hp_resp_free(&r);
    r = hp_req(&srv, "GET", "/herald/v1/deliveries", NULL, crm_tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    hp_resp_free(&r);
    r = hp_req(&srv, "GET", "/herald/v1/deliveries/1", NULL, crm_tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    hp_resp_free(&r);

    r = hp_req(&srv, "GET", "/herald/v1/deliveries", NULL, read_tok, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    r = hp_req(&srv, "GET", "/herald/v1/deliveries", NULL, lower_tok, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    /* Reading is not resending. */
    r = hp_req(&srv, "POST", "/herald/v1/deliveries/999999999/resend", NULL, read_tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    hp_resp_free(&r);
    r = hp_req(&srv, "POST", "/herald/v1/deliveries/resend",
               "{\"channel_id\":\"1\",\"since\":\"2026-01-01T00:00:00Z\"}", read_tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    hp_resp_free(&r);
    r = hp_req(&srv, "POST", "/herald/v1/deliveries/999999999/resend", NULL, all_tok, NULL);
    hp_assert_error(&r, 404, "RESOURCE_NOT_FOUND");
    hp_resp_free(&r);
    r = hp_req(&srv, "GET", "/herald/v1/deliveries", NULL, all_tok, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    /* The CRM's own scopes do not reach the admin API, and the admin scope not the CRM. */
    r = hp_req(&srv, "GET", "/crm/v8/actions/watch", NULL, all_tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    hp_resp_free(&r);
}

static void cli_lists_shows_and_resends(void **state)
{
    (void)state;
    struct receiver *rx = rx_start("500,500");
    watch_on(&srv, "401", "Leads.create", rx);
    create_lead(&srv);
    await_count(&srv, "channel_id=401&status=failed", 1, 10000);
    char id[32];
    snprintf(id, sizeof id, "%s", first_id(&srv, "channel_id=401"));

    char out[16384], err[2048];
    int rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "list", "--db", srv.db,
                    "--channel", "401", "--status", "failed", NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "ID "));
    assert_non_null(strstr(out, id));
    assert_non_null(strstr(out, "failed"));
    assert_non_null(strstr(out, "Leads"));

    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "list", "--db", srv.db,
                "--channel=401", "--since", "1h", "--json", NULL);
    assert_int_equal(rc, 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(hp_str(hp_at(j, "deliveries[0]"), "id"), id);
    assert_int_equal(json_array_size(hp_at(j, "deliveries[0].attempts")), 2);
    json_decref(j);
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "list", "--db", srv.db,
                "--channel", "401", "--until", "1h", NULL);
    assert_int_equal(rc, 0);
    assert_null(strstr(out, id));

    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "show", id, "--db", srv.db,
                NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "status      failed"));
    assert_non_null(strstr(out, "attempts    2"));
    assert_non_null(strstr(out, "\"operation\":\"insert\""));
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "show", id, "--json", "--db",
                srv.db, NULL);
    assert_int_equal(rc, 0);
    j = json_loads(out, 0, NULL);
    assert_string_equal(hp_str(hp_at(j, "deliveries[0].payload"), "channel_id"), "401");
    json_decref(j);

    /* A decimal in a callback shows as the API shows it (jansson's dumper wrote 17 digits). */
    struct receiver *rx2 = rx_start(NULL);
    char url[256], body[1024];
    rx_url(rx2, "/hook", url, sizeof url);
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"402\",\"events\":[\"Deals.create\"],"
             "\"notify_url\":\"%s\",\"return_affected_field_values\":true}]}",
             url);
    struct hp_resp w = hp_req(&srv, "POST", "/crm/v8/actions/watch", body, srv.token, NULL);
    assert_int_equal(w.status, 201);
    hp_resp_free(&w);
    w = hp_req(&srv, "POST", "/crm/v8/Deals",
               "{\"data\":[{\"Deal_Name\":\"d\",\"Stage\":\"Qualification\",\"Amount\":0.1}]}",
               srv.token, NULL);
    assert_int_equal(w.status, 201);
    hp_resp_free(&w);
    await_count(&srv, "channel_id=402", 1, 10000);
    char id402[32];
    snprintf(id402, sizeof id402, "%s", first_id(&srv, "channel_id=402"));
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "show", id402, "--json",
                "--db", srv.db, NULL);
    assert_int_equal(rc, 0);
    if (!strstr(out, "\"Amount\": 0.1,") && !strstr(out, "\"Amount\": 0.1\n"))
        fail_msg("no \"Amount\": 0.1 in %s", out);
    assert_null(strstr(out, "0.1000000"));
    rx_stop(rx2);

    /* A resend from the CLI reaches the running server's dispatcher. */
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "resend", id, "--db", srv.db,
                NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "resent"));
    assert_int_equal(rx_wait(rx, 3, 10000), 3);
    await_count(&srv, "channel_id=401&status=delivered", 1, 10000);

    /* All failed of a channel since a time. */
    rx_stop(rx);
    rx = rx_start("500,500");
    struct hp_resp r =
        hp_req(&srv, "DELETE", "/crm/v8/actions/watch?channel_ids=401", NULL, srv.token, NULL);
    hp_resp_free(&r);
    watch_on(&srv, "402", "Leads.create", rx);
    create_lead(&srv);
    await_count(&srv, "channel_id=402&status=failed", 1, 10000);
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "resend", "--channel", "402",
                "--since", "2000-01-01T00:00:00Z", "--db", srv.db, NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "resent 1 failed notification of channel 402"));
    assert_int_equal(rx_wait(rx, 3, 10000), 3);
    await_count(&srv, "channel_id=402&status=delivered", 1, 10000);

    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "show", "999999999", "--db",
                srv.db, NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "no notification"));
    rc = hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "resend", "999999999", "--db",
                srv.db, NULL);
    assert_int_equal(rc, 1);
    r = hp_req(&srv, "DELETE", "/crm/v8/actions/watch?channel_ids=402", NULL, srv.token, NULL);
    hp_resp_free(&r);
    rx_stop(rx);
}

/* Runs `herald deliveries ARGS` (NULLs end them early) expecting exit status `rc` and, when
 * err_needle is not NULL, that text on stderr; returns stdout (static storage). */
static const char *deliveries_cli(int rc, const char *err_needle, const char *a1, const char *a2,
                                  const char *a3, const char *a4, const char *a5)
{
    static char out[16384];
    char err[2048] = "";
    out[0] = '\0';
    int got =
        hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", a1, a2, a3, a4, a5, NULL);
    if (got != rc || (err_needle && !strstr(err, err_needle)))
        fail_msg("deliveries %s %s %s %s: rc %d, stderr '%s'", a1, a2 ? a2 : "", a3 ? a3 : "",
                 a4 ? a4 : "", got, err);
    return out;
}

/* Times show in the zone serve would use: --timezone, then HERALD_TIMEZONE, then the timezone
 * of the HERALD_CONFIG file, then UTC (it read HERALD_TIMEZONE only, and took no flag). */
static void cli_times_follow_serves_zone_precedence(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    watch_on(&srv, "403", "Leads.create", rx);
    create_lead(&srv);
    await_count(&srv, "channel_id=403&status=delivered", 1, 10000);
    char id[32];
    snprintf(id, sizeof id, "%s", first_id(&srv, "channel_id=403"));
    char ini[400], text[600];
    snprintf(ini, sizeof ini, "%s/tz.ini", srv.dir);
    snprintf(text, sizeof text, "db = %s\ntimezone = +03:00\n", srv.db);
    FILE *f = fopen(ini, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);

    unsetenv("HERALD_TIMEZONE");
    const char *out = deliveries_cli(0, NULL, "show", id, "--db", srv.db, NULL);
    assert_non_null(strstr(out, "+00:00\n"));
    out = deliveries_cli(0, NULL, "show", id, "--db", srv.db, "--timezone=+05:30");
    assert_non_null(strstr(out, "+05:30\n"));
    assert_null(strstr(out, "+00:00"));
    out =
        deliveries_cli(0, NULL, "list", "--channel=403", "--db", srv.db, "--timezone=Asia/Kolkata");
    assert_non_null(strstr(out, "+05:30 "));
    /* The file's zone (and database: no --db). */
    setenv("HERALD_CONFIG", ini, 1);
    out = deliveries_cli(0, NULL, "show", id, NULL, NULL, NULL);
    assert_non_null(strstr(out, "+03:00\n"));
    out = deliveries_cli(0, NULL, "list", "--channel", "403", NULL, NULL);
    assert_non_null(strstr(out, "+03:00 "));
    /* The environment beats the file, the flag beats both. */
    setenv("HERALD_TIMEZONE", "-04:00", 1);
    out = deliveries_cli(0, NULL, "show", id, NULL, NULL, NULL);
    assert_non_null(strstr(out, "-04:00\n"));
    out = deliveries_cli(0, NULL, "show", id, "--timezone", "+05:30", NULL);
    assert_non_null(strstr(out, "+05:30\n"));
    assert_null(strstr(out, "-04:00"));
    /* A bad zone exits 2 naming where it came from. */
    deliveries_cli(2, "--timezone: unknown time zone 'Mars/Olympus'", "show", id, "--timezone",
                   "Mars/Olympus", NULL);
    setenv("HERALD_TIMEZONE", "Mars/Olympus", 1);
    deliveries_cli(2, "HERALD_TIMEZONE: unknown time zone 'Mars/Olympus'", "show", id, NULL, NULL,
                   NULL);
    unsetenv("HERALD_TIMEZONE");
    snprintf(text, sizeof text, "db = %s\ntimezone = Mars/Olympus\n", srv.db);
    f = fopen(ini, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    deliveries_cli(2, "timezone (in the $HERALD_CONFIG file): unknown time zone 'Mars/Olympus'",
                   "list", NULL, NULL, NULL, NULL);
    /* resend shows no time: it takes no --timezone. */
    deliveries_cli(2, "--timezone: unknown flag", "resend", id, "--timezone", "UTC", NULL);
    unsetenv("HERALD_CONFIG");
    unlink(ini);
    struct hp_resp r =
        hp_req(&srv, "DELETE", "/crm/v8/actions/watch?channel_ids=403", NULL, srv.token, NULL);
    hp_resp_free(&r);
    rx_stop(rx);
}

static void cli_usage_errors_exit_2_naming_the_flag(void **state)
{
    (void)state;
    static const struct {
        const char *args[8];
        const char *needle; /* expected in stderr */
    } cases[] = {
        {{"deliveries", NULL}, "usage: herald deliveries"},
        {{"deliveries", "bogus", NULL}, "bogus"},
        {{"deliveries", "list", "--status", "bogus", NULL}, "--status"},
        {{"deliveries", "list", "--status", NULL}, "--status: missing value"},
        {{"deliveries", "list", "--limit", "0", NULL}, "--limit"},
        {{"deliveries", "list", "--limit", "12x", NULL}, "--limit"},
        {{"deliveries", "list", "--since", "yesterday", NULL}, "--since"},
        {{"deliveries", "list", "--until", "2026-13-01T00:00:00Z", NULL}, "--until"},
        {{"deliveries", "list", "--channel", "abc", NULL}, "--channel"},
        {{"deliveries", "list", "--before", "0", NULL}, "--before"},
        {{"deliveries", "list", "--frobnicate", NULL}, "--frobnicate"},
        {{"deliveries", "list", "extra", NULL}, "extra"},
        {{"deliveries", "list", "--db", "", NULL}, "--db"},
        {{"deliveries", "show", NULL}, "ID"},
        {{"deliveries", "show", "abc", NULL}, "abc"},
        {{"deliveries", "show", "1", "--status", "failed", NULL}, "--status"},
        {{"deliveries", "resend", NULL}, "--channel"},
        {{"deliveries", "resend", "--channel", "1", NULL}, "--since"},
        {{"deliveries", "resend", "7", "--channel", "1", NULL}, "--channel"},
        {{"deliveries", "resend", "--json", NULL}, "--json"},
        {{"serve", "--retention", "0s", NULL}, "--retention"},
        {{"serve", "--retention", "7w", NULL}, "--retention"},
        {{"serve", "--retention", "", NULL}, "--retention"},
        /* A flag where a value belongs: that value is missing (it was taken to be the flag). */
        {{"deliveries", "list", "--db", "--json", NULL}, "--db: missing value"},
        {{"deliveries", "resend", "--channel", "--since", "1h", NULL}, "--channel: missing value"},
        {{"token", "create", "--name", "--scopes", "all", NULL}, "--name: missing value"},
        {{"serve", "--db", "--listen", "127.0.0.1:0", NULL}, "--db: missing value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[4096] = "", err[4096] = "";
        const char *const *a = cases[i].args;
        int rc = hp_cli(&srv, out, sizeof out, err, sizeof err, a[0], a[1], a[2], a[3], a[4], a[5],
                        a[6], a[7]);
        if (rc != 2 || !strstr(err, cases[i].needle))
            fail_msg("case %zu (%s %s): rc %d, stderr '%s'", i, a[0], a[1] ? a[1] : "", rc, err);
        /* One line naming the flag (the bare command prints its usage instead). */
        if (i > 0 && strchr(err, '\n') != err + strlen(err) - 1)
            fail_msg("case %zu: more than one line: '%s'", i, err);
    }
    /* A config file serve would refuse is refused by the other commands too: a token went into
     * ./herald.db while the server used the file's database. These commands take no --config:
     * the message names the variable. */
    setenv("HERALD_CONFIG", "/nonexistent/herald.ini", 1);
    static const char *const bad_config[][3] = {{"token", "create", "--scopes=all"},
                                                {"secret", "show", NULL},
                                                {"deliveries", "list", NULL}};
    for (size_t i = 0; i < sizeof bad_config / sizeof bad_config[0]; i++) {
        char out[256] = "", err[512] = "";
        const char *const *a = bad_config[i];
        int rc = hp_cli(&srv, out, sizeof out, err, sizeof err, a[0], a[1], a[2], NULL);
        if (rc != 2 || !strstr(err, "HERALD_CONFIG: cannot read '/nonexistent/herald.ini'"))
            fail_msg("%s %s: rc %d, stderr '%s'", a[0], a[1], rc, err);
    }
    unsetenv("HERALD_CONFIG");
    char out[8192], err[1024];
    assert_int_equal(hp_cli(&srv, out, sizeof out, err, sizeof err, "help", "deliveries", NULL), 0);
    assert_non_null(strstr(out, "usage: herald deliveries list"));
    assert_int_equal(
        hp_cli(&srv, out, sizeof out, err, sizeof err, "deliveries", "list", "--help", NULL), 0);
    assert_non_null(strstr(out, "resend --channel ID --since T"));
    /* Times are rendered in serve's zone, found as serve finds it (the help said "the local
     * zone", which the CLI never used, then $HERALD_TIMEZONE only). */
    assert_non_null(strstr(out, "--timezone TZ"));
    assert_non_null(strstr(out, "$HERALD_TIMEZONE, else the timezone of the $HERALD_CONFIG file, "
                                "else UTC"));
    assert_int_equal(hp_cli(&srv, out, sizeof out, err, sizeof err, "serve", "--help", NULL), 0);
    assert_non_null(strstr(out, "--retention"));
}

/* Polls a count on the server's database until it is at most `want` (bounded). */
static long long await_db_at_most(const struct hp *p, const char *sql, long long want,
                                  int timeout_ms)
{
    int64_t deadline = hp_now_ms() + timeout_ms;
    long long n = hp_db_value(p, sql);
    while (n > want && hp_now_ms() < deadline) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000};
        nanosleep(&ts, NULL);
        n = hp_db_value(p, sql);
    }
    return n;
}

static void retention_prunes_delivered_and_keeps_failed(void **state)
{
    (void)state;
    struct hp p;
    hp_start(&p, "--allow-network 127.0.0.0/8 --retry-schedule 0s,100ms --retention 1s");
    struct receiver *ok = rx_start(NULL);
    struct receiver *bad = rx_start("500,500");
    watch_on(&p, "1", "Leads.create", ok);
    watch_on(&p, "2", "Contacts.create", bad);
    for (int i = 0; i < 3; i++)
        create_lead(&p);
    assert_int_equal(rx_wait(ok, 3, 10000), 3);
    /* The receiver has them before their outcomes are recorded: wait for all three to be
     * recorded, or "one delivered" below can be the first outcome rather than the pruning. */
    await_count(&p, "status=pending", 0, 10000);
    /* Pruned after about a second; the newest notification stays so its id is never reused. */
    await_count(&p, "status=delivered", 1, 15000);
    long long newest = hp_db_value(&p, "SELECT max(id) FROM notifications");
    assert_int_equal(atoll(first_id(&p, "status=delivered")), newest);

    create_in(&p, "Contacts", "Last_Name");
    await_count(&p, "status=failed", 1, 10000);
    await_count(&p, "status=delivered", 0, 15000);
    /* Failed ones stay, with their attempts; pruned ones took their attempts along. */
    assert_int_equal(count_of(&p, "status=failed"), 1);
    struct hp_resp r = list(&p, "status=failed");
    assert_int_equal(json_array_size(hp_at(r.json, "deliveries[0].attempts")), 2);
    hp_resp_free(&r);
    assert_int_equal(
        hp_db_value(&p, "SELECT count(*) FROM attempts WHERE notification_id NOT IN (SELECT id "
                        "FROM notifications)"),
        0);
    /* The failed one's two attempts: the latest in its row, the earlier one in attempts. */
    assert_int_equal(hp_db_value(&p, "SELECT count(*) FROM attempts"), 1);
    assert_int_equal(
        hp_db_value(&p, "SELECT count(*) FROM notifications WHERE a_started_ms IS NOT NULL"),
        1); /* the failed one, the only row left */
    /* Ids keep increasing after pruning. */
    long long before = hp_db_value(&p, "SELECT max(id) FROM notifications");
    create_lead(&p);
    assert_int_equal(rx_wait(ok, 4, 10000), 4);
    assert_true(hp_db_value(&p, "SELECT max(id) FROM notifications") > before);
    assert_true(hp_log_wait(&p, "pruned delivered notifications", 5000));
    /* Change events older than the retention go too; the newest stays. */
    assert_int_equal(await_db_at_most(&p, "SELECT count(*) FROM changes", 1, 10000), 1);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(ok);
    rx_stop(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(history_lists_by_channel_status_and_time_with_attempts),
        cmocka_unit_test(created_time_is_the_commit_not_the_first_attempt),
        cmocka_unit_test(a_response_that_is_not_utf8_is_shown_with_replacement_characters),
        cmocka_unit_test(bad_queries_and_unknown_ids_are_zoho_errors),
        cmocka_unit_test(a_redirect_is_a_failed_attempt_that_says_so),
        cmocka_unit_test(resending_one_reaches_the_receiver_again),
        cmocka_unit_test(resending_a_channels_failed_since_a_time_reaches_the_receiver),
        cmocka_unit_test(resend_is_refused_while_an_attempt_is_in_flight),
        cmocka_unit_test(admin_api_needs_its_own_scope),
        cmocka_unit_test(cli_lists_shows_and_resends),
        cmocka_unit_test(cli_times_follow_serves_zone_precedence),
        cmocka_unit_test(cli_usage_errors_exit_2_naming_the_flag),
        cmocka_unit_test(retention_prunes_delivered_and_keeps_failed),
    };
    /* HERALD_TEST_FILTER=pattern runs only the matching cases (while iterating on one). */
    if (getenv("HERALD_TEST_FILTER"))
        cmocka_set_test_filter(getenv("HERALD_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
