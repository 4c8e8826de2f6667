/* The notification API over real HTTP: every request/response example of the reference (§4)
 * replayed with its status, each documented error row, version differences (202 on v2/v2.1,
 * expiry limits, PATCH keys), scopes, the 10,000-channel limit with paging, persistence across a
 * restart (the index reloads and matches), expiry and the purge. Expected bodies are compared
 * byte for byte (key order included) after substituting this server's domain and times. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/timefmt.h"
#include "store/channels.h"
#include "store/store.h"

static struct hp srv;

static int setup(void **state)
{
    (void)state;
    hp_start(&srv, "--allow-network 127.0.0.0/8");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hp_cleanup(&srv);
    return 0;
}

/* "YYYY-MM-DDTHH:MM:SS+00:00" as the server renders in UTC, and the input form with an offset. */
static void utc(int64_t at, char out[TIME_ISO_MAX])
{
    time_format_offset(at, 0, out);
}

static void at_offset(int64_t at, int offset_s, char out[TIME_ISO_MAX])
{
    time_format_offset(at, offset_s, out);
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* Replaces every "{B}" with the server's base URL, "{E}" with e1, "{F}" with e2. */
static char *fill(const char *tmpl, const char *e1, const char *e2)
{
    struct buf b;
    buf_init(&b);
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '{' && p[1] && p[2] == '}' && strchr("BEF", p[1])) {
            buf_puts(&b, p[1] == 'B' ? srv.base : p[1] == 'E' ? e1 : e2);
            p += 2;
            continue;
        }
        buf_putc(&b, *p);
    }
    return buf_steal(&b, NULL);
}

static struct hp_resp call(const char *method, const char *version, const char *query,
                           const char *body)
{
    char path[1024];
    snprintf(path, sizeof path, "/crm/%s/actions/watch%s", version, query ? query : "");
    return hp_req(&srv, method, path, body, srv.token, NULL);
}

/* Expects this status and exactly this body (after fill). */
static void expect(struct hp_resp *r, long status, const char *tmpl, const char *e1, const char *e2)
{
    char *want = fill(tmpl, e1, e2);
    if (r->status != status || strcmp(r->body, want) != 0)
        fail_msg("expected %ld %s\n     got %ld %s", status, want, r->status, r->body);
    assert_string_equal(r->content_type, "application/json;charset=UTF-8");
    free(want);
}

static void send_expect(const char *method, const char *version, const char *query,
                        const char *body_tmpl, long status, const char *tmpl, const char *e1,
                        const char *e2)
{
    char *body = body_tmpl ? fill(body_tmpl, e1, e2) : NULL;
    struct hp_resp r = call(method, version, query, body);
    expect(&r, status, tmpl, e1, e2);
    hp_resp_free(&r);
    free(body);
}

/* Sends and checks only the status; returns the response (caller frees). */
static struct hp_resp send_status(const char *method, const char *version, const char *query,
                                  const char *body, long status)
{
    struct hp_resp r = call(method, version, query, body);
    if (r.status != status)
        fail_msg("%s %s%s: expected %ld, got %ld %s", method, version, query ? query : "", status,
                 r.status, r.body);
    return r;
}

#define SUBSCRIBED "\"message\":\"Successfully subscribed for actions-watch of the given module\""
#define LEADS_ID "554023000000000125"
#define CONTACTS_ID "554023000000000129"
#define DEALS_ID "554023000000000131"
#define CASES_ID "554023000000000137"

static const char seed_condition[] =
    "[{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Deals\",\"id\":"
    "\"554023000000000131\"},\"field_selection\":{\"group_operator\":\"or\",\"group\":[{\"field\":"
    "{\"api_name\":\"Stage\",\"id\":\"554023000000000525\"}},{\"group_operator\":\"and\",\"group\":"
    "[{\"field\":{\"api_name\":\"Account_Name\",\"id\":\"554023000000000523\"}},{\"field\":{"
    "\"api_name\":\"Lead_Source\",\"id\":\"554023000000000535\"}}]}]}}]";

/* §4.1 Enable: the seed's sample request, on every version. */
static void enable_replays_the_seed_sample_on_every_version(void **state)
{
    (void)state;
    static const char *const versions[] = {"v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"};
    /* within one day so every version keeps it; sent with +05:30 as the seed does */
    int64_t at = now_s() + 12 * 3600;
    char sent[TIME_ISO_MAX], shown[TIME_ISO_MAX];
    at_offset(at, 19800, sent);
    utc(at, shown);
    for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
        char body[4096];
        snprintf(body, sizeof body,
                 "{\"watch\":[{\"channel_id\":\"1000000068002\",\"events\":[\"Deals.edit\"],"
                 "\"notification_condition\":%s,\"channel_expiry\":\"%s\",\"token\":\"deals.all."
                 "notif\",\"return_affected_field_values\":true,\"notify_url\":\"https://"
                 "www.zoho.com/callback?authorization=Zoho-oauthtoken 1000.23dnsbbbh455jnn&key1="
                 "val1&key2=val2\"}]}",
                 seed_condition, sent);
        struct hp_resp r = call("POST", versions[v], NULL, body);
        expect(&r, 201,
               "{\"watch\":[{\"code\":\"SUCCESS\",\"details\":{\"events\":[{\"channel_expiry\":"
               "\"{E}\",\"resource_uri\":\"{B}/crm/v2/Deals\",\"resource_id\":\"" DEALS_ID "\","
               "\"resource_name\":\"Deals\",\"channel_id\":\"1000000068002\"}]}," SUBSCRIBED
               ",\"status\":\"success\"}]}",
               shown, NULL);
        hp_resp_free(&r);
    }
    /* one channel, replaced each time */
    struct hp_resp r = send_status("GET", "v8", NULL, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "watch")), 1);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "notify_url"),
                        "https://www.zoho.com/callback?authorization=Zoho-oauthtoken "
                        "1000.23dnsbbbh455jnn&key1=val1&key2=val2");
    hp_resp_free(&r);
}

/* A week ahead is kept on v4+, reset to now + 1 h on v2, v2.1 and v3; missing → now + 1 h. */
static void expiry_limits_follow_the_version(void **state)
{
    (void)state;
    static const struct {
        const char *version;
        bool is_kept;
    } cases[] = {{"v2", false}, {"v2.1", false}, {"v3", false},
                 {"v4", true},  {"v6", true},    {"v8", true}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t at = now_s() + 6 * 86400;
        char sent[TIME_ISO_MAX];
        time_format_offset(at, 0, sent);
        sent[19] = 'Z'; /* the SDK's form: literal Z */
        sent[20] = '\0';
        char body[512];
        snprintf(body, sizeof body,
                 "{\"watch\":[{\"channel_id\":%zu,\"events\":[\"Leads.all\"],\"notify_url\":"
                 "\"http://127.0.0.1:9/x\",\"channel_expiry\":\"%s\"}]}",
                 i + 1, sent);
        int64_t before = now_s();
        struct hp_resp r = send_status("POST", cases[i].version, NULL, body, 201);
        const char *shown = hp_str(hp_at(r.json, "watch[0].details.events[0]"), "channel_expiry");
        int64_t got = 0;
        assert_int_equal(time_parse_iso8601(shown, &got), HERALD_OK);
        if (cases[i].is_kept)
            assert_int_equal(got, at);
        else
            assert_true(got >= before + 3600 && got <= now_s() + 3600);
        hp_resp_free(&r);
    }
    /* no channel_expiry */
    int64_t before = now_s();
    struct hp_resp r = send_status("POST", "v8", NULL,
                                   "{\"watch\":[{\"channel_id\":99,\"events\":[\"Leads.all\"],"
                                   "\"notify_url\":\"http://e.io\"}]}",
                                   201);
    int64_t got = 0;
    assert_int_equal(
        time_parse_iso8601(hp_str(hp_at(r.json, "watch[0].details.events[0]"), "channel_expiry"),
                           &got),
        HERALD_OK);
    assert_true(got >= before + 3600 && got <= now_s() + 3600);
    /* the channel id, sent as a number, comes back as a string */
    assert_string_equal(hp_str(hp_at(r.json, "watch[0].details.events[0]"), "channel_id"), "99");
    hp_resp_free(&r);
}

/* §4.2 Get Notification Details: the reference's sample rows. */
static void get_details_replays_the_reference_sample(void **state)
{
    (void)state;
    char e1[TIME_ISO_MAX], e2[TIME_ISO_MAX];
    int64_t t1 = now_s() + 3 * 86400, t2 = now_s() + 5 * 86400;
    utc(t1, e1);
    utc(t2, e2);
    /* empty first */
    struct hp_resp r = send_status("GET", "v7", NULL, NULL, 204);
    assert_int_equal(r.body_len, 0);
    hp_resp_free(&r);
    send_expect("POST", "v7", NULL,
                "{\"watch\":[{\"channel_id\":\"1000000068001\",\"events\":[\"Leads.all\"],"
                "\"notify_url\":\"https://webhook.site/2c9xxx0fa9\",\"token\":\"xyz\","
                "\"channel_expiry\":\"{E}\",\"notify_on_related_action\":false,"
                "\"notification_condition\":[{\"type\":\"field_selection\",\"module\":{"
                "\"api_name\":\"Leads\",\"id\":\"" LEADS_ID "\"},\"field_selection\":{"
                "\"group_operator\":\"and\",\"group\":[{\"field\":{\"api_name\":\"Last_Name\","
                "\"id\":\"554023000000000559\"}},{\"field\":{\"api_name\":\"Full_Name\",\"id\":"
                "\"554023000000000597\"}}]}}]},{\"channel_id\":\"10000\",\"events\":[\"Contacts."
                "create\"],\"notify_url\":\"https://webhook.site/2c9axx20fa9\",\"token\":\"deals."
                "all.notif\",\"channel_expiry\":\"{F}\",\"notify_on_related_action\":false}]}",
                201,
                "{\"watch\":[{\"code\":\"SUCCESS\",\"details\":{\"events\":[{\"channel_expiry\":"
                "\"{E}\",\"resource_uri\":\"{B}/crm/v2/Leads\",\"resource_id\":\"" LEADS_ID "\","
                "\"resource_name\":\"Leads\",\"channel_id\":\"1000000068001\"}]}," SUBSCRIBED
                ",\"status\":\"success\"},{\"code\":\"SUCCESS\",\"details\":{\"events\":[{"
                "\"channel_expiry\":\"{F}\",\"resource_uri\":\"{B}/crm/v2/Contacts\","
                "\"resource_id\":\"" CONTACTS_ID "\",\"resource_name\":\"Contacts\","
                "\"channel_id\":\"10000\"}]}," SUBSCRIBED ",\"status\":\"success\"}]}",
                e1, e2);
    static const char row1[] =
        "{\"notify_on_related_action\":false,\"channel_expiry\":\"{E}\",\"return_affected_field_"
        "values\":false,\"resource_uri\":\"{B}/crm/v2/Leads\",\"resource_id\":\"" LEADS_ID "\","
        "\"notify_url\":\"https://webhook.site/2c9xxx0fa9\",\"resource_name\":\"Leads\","
        "\"fields\":null,\"notification_condition\":[{\"field_selection\":{\"group_operator\":"
        "\"and\",\"group\":[{\"field\":{\"api_name\":\"Last_Name\",\"id\":\"554023000000000559\"},"
        "\"group_operator\":null,\"group\":null},{\"field\":{\"api_name\":\"Full_Name\",\"id\":"
        "\"554023000000000597\"},\"group_operator\":null,\"group\":null}]},\"module\":{"
        "\"api_name\":\"Leads\",\"id\":\"" LEADS_ID "\"},\"type\":\"field_selection\"}],"
        "\"channel_id\":\"1000000068001\",\"events\":[\"Leads.edit\",\"Leads.create\","
        "\"Leads.delete\"],\"token\":\"xyz\"}";
    static const char row2[] =
        "{\"notify_on_related_action\":false,\"channel_expiry\":\"{F}\",\"return_affected_field_"
        "values\":false,\"resource_uri\":\"{B}/crm/v2/Contacts\",\"resource_id\":\"" CONTACTS_ID
        "\",\"notify_url\":\"https://webhook.site/2c9axx20fa9\",\"resource_name\":\"Contacts\","
        "\"fields\":null,\"notification_condition\":null,\"channel_id\":\"10000\",\"events\":["
        "\"Contacts.create\"],\"token\":\"deals.all.notif\"}";
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl,
             "{\"watch\":[%s,%s],\"info\":{\"per_page\":200,\"count\":2,\"page\":1,"
             "\"more_records\":false}}",
             row1, row2);
    /* the SDK's trailing '&' */
    send_expect("GET", "v7", "?page=1&per_page=200&", NULL, 200, tmpl, e1, e2);
    /* filters */
    snprintf(tmpl, sizeof tmpl,
             "{\"watch\":[%s],\"info\":{\"per_page\":200,\"count\":1,\"page\":1,\"more_records\":"
             "false}}",
             row2);
    send_expect("GET", "v8", "?channel_id=10000&", NULL, 200, tmpl, e1, e2);
    send_expect("GET", "v8", "?module=Contacts", NULL, 200, tmpl, e1, e2);
    snprintf(tmpl, sizeof tmpl,
             "{\"watch\":[%s],\"info\":{\"per_page\":1,\"count\":1,\"page\":1,\"more_records\":"
             "true}}",
             row1);
    send_expect("GET", "v8", "?per_page=1", NULL, 200, tmpl, e1, e2);
    /* unknown channel, or a page past the end: 204 */
    r = send_status("GET", "v8", "?channel_id=424242", NULL, 204);
    hp_resp_free(&r);
    r = send_status("GET", "v8", "?page=2", NULL, 204);
    hp_resp_free(&r);
    r = send_status("GET", "v8", "?module=Deals", NULL, 204);
    hp_resp_free(&r);
    r = send_status("GET", "v8", "?module=Nope", NULL, 400);
    hp_assert_error(&r, 400, "INVALID_DATA");
    hp_resp_free(&r);
    /* page 1..100000 and per_page 1..200, checked as record lists check them */
    static const struct {
        const char *query, *param;
    } bad_pages[] = {{"?per_page=201", "per_page"}, {"?per_page=0", "per_page"},
                     {"?page=0", "page"},           {"?page=abc&per_page=1", "page"},
                     {"?page=-1", "page"},          {"?page=100001", "page"}};
    for (size_t i = 0; i < sizeof bad_pages / sizeof bad_pages[0]; i++) {
        char want[256];
        snprintf(want, sizeof want,
                 "{\"code\":\"INVALID_DATA\",\"details\":{\"param_name\":\"%s\"},\"message\":"
                 "\"invalid data\",\"status\":\"error\"}",
                 bad_pages[i].param);
        r = call("GET", "v8", bad_pages[i].query, NULL);
        expect(&r, 400, want, NULL, NULL);
        hp_resp_free(&r);
    }
}

/* §4.3 Update Details (PUT): full replace; unknown channels are created. */
static void put_replaces_every_detail(void **state)
{
    (void)state;
    char e1[TIME_ISO_MAX], e2[TIME_ISO_MAX];
    utc(now_s() + 2 * 86400, e1);
    utc(now_s() + 4 * 86400, e2);
    struct hp_resp r = send_status(
        "POST", "v8", NULL,
        "{\"watch\":[{\"channel_id\":\"10000\",\"events\":[\"Contacts.create\"],\"notify_url\":"
        "\"http://127.0.0.1:9/a\",\"token\":\"old\",\"return_affected_field_values\":true}]}",
        201);
    hp_resp_free(&r);
    send_expect("PUT", "v7", NULL,
                "{\"watch\":[{\"channel_id\":\"10000\",\"events\":[\"Deals.all\",\"Contacts.all\"],"
                "\"notify_url\":\"http://127.0.0.1:9/b\",\"channel_expiry\":\"{E}\"}]}",
                200,
                "{\"watch\":[{\"code\":\"SUCCESS\",\"details\":{\"events\":[{\"channel_expiry\":"
                "\"{E}\",\"resource_uri\":\"{B}/crm/v2/Deals\",\"resource_id\":\"" DEALS_ID "\","
                "\"resource_name\":\"Deals\",\"channel_id\":\"10000\"},{\"channel_expiry\":\"{E}\","
                "\"resource_uri\":\"{B}/crm/v2/Contacts\",\"resource_id\":\"" CONTACTS_ID "\","
                "\"resource_name\":\"Contacts\",\"channel_id\":\"10000\"}]}," SUBSCRIBED
                ",\"status\":\"success\"}]}",
                e1, NULL);
    r = send_status("GET", "v8", "?channel_id=10000", NULL, 200);
    json_t *rows = json_object_get(r.json, "watch");
    assert_int_equal(json_array_size(rows), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *row = json_array_get(rows, i);
        assert_true(json_is_null(json_object_get(row, "token"))); /* not given: removed */
        assert_true(json_is_false(json_object_get(row, "return_affected_field_values")));
        assert_true(json_is_true(json_object_get(row, "notify_on_related_action")));
        assert_string_equal(hp_str(row, "notify_url"), "http://127.0.0.1:9/b");
        assert_int_equal(json_array_size(json_object_get(row, "events")), 3);
    }
    /* rows in module id order: Contacts before Deals */
    assert_string_equal(hp_str(json_array_get(rows, 0), "resource_name"), "Contacts");
    hp_resp_free(&r);
    /* PUT on an unknown channel creates it */
    send_expect("PUT", "v8", NULL,
                "{\"watch\":[{\"channel_id\":4242,\"events\":[\"Leads.create\"],\"notify_url\":"
                "\"http://127.0.0.1:9/c\",\"channel_expiry\":\"{F}\"}]}",
                200,
                "{\"watch\":[{\"code\":\"SUCCESS\",\"details\":{\"events\":[{\"channel_expiry\":"
                "\"{F}\",\"resource_uri\":\"{B}/crm/v2/Leads\",\"resource_id\":\"" LEADS_ID "\","
                "\"resource_name\":\"Leads\",\"channel_id\":\"4242\"}]}," SUBSCRIBED
                ",\"status\":\"success\"}]}",
                e1, e2);
}

/* §4.4 Update Specific Information (PATCH): merge. */
static void patch_merges_and_keeps_what_is_not_given(void **state)
{
    (void)state;
    char e1[TIME_ISO_MAX], e2[TIME_ISO_MAX];
    utc(now_s() + 2 * 86400, e1);
    utc(now_s() + 12 * 3600, e2); /* within v2's one day */
    struct hp_resp r = send_status(
        "POST", "v8", NULL,
        "{\"watch\":[{\"channel_id\":\"10000\",\"events\":[\"Contacts.create\",\"Deals.delete\"],"
        "\"notify_url\":\"http://127.0.0.1:9/a\",\"token\":\"keep-me\",\"fields\":[\"x\"]}]}",
        201);
    hp_resp_free(&r);
    send_expect("PATCH", "v7", NULL,
                "{\"watch\":[{\"channel_id\":\"10000\",\"events\":[\"Deals.edit\"],\"notify_url\":"
                "\"http://127.0.0.1:9/new\",\"channel_expiry\":\"{E}\"}]}",
                200,
                "{\"watch\":[{\"code\":\"SUCCESS\",\"details\":{\"events\":[{\"channel_expiry\":"
                "\"{E}\",\"resource_uri\":\"{B}/crm/v2/Deals\",\"resource_id\":\"" DEALS_ID "\","
                "\"resource_name\":\"Deals\",\"channel_id\":\"10000\"}]},\"message\":"
                "\"Successfully updated the subscribe details\",\"status\":\"success\"}]}",
                e1, NULL);
    r = send_status("GET", "v8", "?channel_id=10000", NULL, 200);
    json_t *contacts = hp_at(r.json, "watch[0]");
    json_t *deals = hp_at(r.json, "watch[1]");
    assert_string_equal(hp_str(contacts, "resource_name"), "Contacts");
    assert_string_equal(hp_str(contacts, "token"), "keep-me");
    assert_string_equal(hp_str(contacts, "notify_url"), "http://127.0.0.1:9/new");
    assert_string_equal(hp_str(contacts, "channel_expiry"), e1);
    assert_string_equal(json_string_value(hp_at(contacts, "events[0]")), "Contacts.create");
    assert_string_equal(json_string_value(hp_at(deals, "events[0]")), "Deals.edit");
    assert_string_equal(json_string_value(hp_at(deals, "events[1]")), "Deals.delete");
    assert_string_equal(json_string_value(hp_at(deals, "fields[0]")), "x");
    hp_resp_free(&r);
    /* v2: only channel_id is mandatory; the token given replaces; no events → every module */
    send_expect("PATCH", "v2", NULL,
                "{\"watch\":[{\"channel_id\":\"10000\",\"token\":\"v2-token\",\"channel_expiry\":"
                "\"{F}\"}]}",
                200,
                "{\"watch\":[{\"code\":\"SUCCESS\",\"details\":{\"events\":[{\"channel_expiry\":"
                "\"{F}\",\"resource_uri\":\"{B}/crm/v2/Contacts\",\"resource_id\":\"" CONTACTS_ID
                "\",\"resource_name\":\"Contacts\",\"channel_id\":\"10000\"},{\"channel_expiry\":"
                "\"{F}\",\"resource_uri\":\"{B}/crm/v2/Deals\",\"resource_id\":\"" DEALS_ID "\","
                "\"resource_name\":\"Deals\",\"channel_id\":\"10000\"}]},\"message\":"
                "\"Successfully updated the subscribe details\",\"status\":\"success\"}]}",
                e1, e2);
    /* on v8 the same body lacks events and notify_url */
    r = send_status("PATCH", "v8", NULL, "{\"watch\":[{\"channel_id\":\"10000\",\"token\":\"t\"}]}",
                    400);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "MANDATORY_NOT_FOUND");
    assert_string_equal(hp_str(hp_at(r.json, "watch[0].details"), "api_name"), "events");
    hp_resp_free(&r);
    /* unknown channel: NOT_SUBSCRIBED, 400 (202 on v2) */
    r = send_status("PATCH", "v8", NULL,
                    "{\"watch\":[{\"channel_id\":\"777\",\"events\":[\"Deals.edit\"],"
                    "\"notify_url\":\"http://127.0.0.1:9/x\"}]}",
                    400);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "NOT_SUBSCRIBED");
    assert_string_equal(hp_str(hp_at(r.json, "watch[0].details"), "json_path"),
                        "$.watch[0].channel_id");
    hp_resp_free(&r);
    r = send_status("PATCH", "v2", NULL, "{\"watch\":[{\"channel_id\":\"777\"}]}", 202);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "NOT_SUBSCRIBED");
    hp_resp_free(&r);
    /* a condition about a module the channel does not watch */
    r = send_status(
        "PATCH", "v8", NULL,
        "{\"watch\":[{\"channel_id\":\"10000\",\"events\":[\"Deals.edit\"],"
        "\"notify_url\":\"http://127.0.0.1:9/x\",\"notification_condition\":[{\"type\":"
        "\"field_selection\",\"module\":{\"api_name\":\"Leads\"},\"field_selection\":{"
        "\"group_operator\":\"or\",\"group\":[{\"field\":{\"api_name\":\"Email\"}}]}}]}]}",
        400);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "watch[0].details"), "json_path"),
                        "$.watch[0].notification_condition[0].module");
    hp_resp_free(&r);
}

/* §4.5 Disable Specific Notifications (PATCH with _delete_events). */
static void delete_events_removes_exactly_what_it_names(void **state)
{
    (void)state;
    struct hp_resp r = send_status(
        "POST", "v8", NULL,
        "{\"watch\":[{\"channel_id\":\"1000000058001\",\"events\":[\"Leads.all\",\"Cases.all\","
        "\"Deals.create\"],\"notify_url\":\"http://127.0.0.1:9/a\"}]}",
        201);
    hp_resp_free(&r);
    send_expect("PATCH", "v7", NULL,
                "{\"watch\":[{\"channel_id\":\"1000000058001\",\"events\":[\"Leads.edit\","
                "\"Cases.all\"],\"_delete_events\":true}]}",
                200,
                "{\"watch\":[{\"code\":\"SUCCESS\",\"details\":{\"events\":[{\"resource_uri\":"
                "\"{B}/crm/v2/Leads\",\"resource_id\":\"" LEADS_ID "\",\"resource_name\":\"Leads\","
                "\"channel_id\":\"1000000058001\"},{\"resource_uri\":\"{B}/crm/v2/Cases\","
                "\"resource_id\":\"" CASES_ID "\",\"resource_name\":\"Cases\",\"channel_id\":"
                "\"1000000058001\"}]},\"message\":\"Successfully removed the subscribe details\","
                "\"status\":\"success\"}]}",
                NULL, NULL);
    r = send_status("GET", "v8", "?channel_id=1000000058001", NULL, 200);
    json_t *rows = json_object_get(r.json, "watch");
    assert_int_equal(json_array_size(rows), 2); /* Cases lost its row */
    assert_string_equal(hp_str(json_array_get(rows, 0), "resource_name"), "Leads");
    char *events = json_dumps(json_object_get(json_array_get(rows, 0), "events"), JSON_COMPACT);
    assert_string_equal(events, "[\"Leads.create\",\"Leads.delete\"]");
    free(events);
    assert_string_equal(hp_str(json_array_get(rows, 1), "resource_name"), "Deals");
    hp_resp_free(&r);
    /* a module the channel does not have: NOT_SUBSCRIBED */
    r = send_status("PATCH", "v8", NULL,
                    "{\"watch\":[{\"channel_id\":\"1000000058001\",\"events\":[\"Cases.all\"],"
                    "\"_delete_events\":true}]}",
                    400);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "NOT_SUBSCRIBED");
    hp_resp_free(&r);
    /* the last events go: the channel is gone */
    r = send_status("PATCH", "v8", NULL,
                    "{\"watch\":[{\"channel_id\":\"1000000058001\",\"events\":[\"Leads.all\","
                    "\"Deals.all\"],\"_delete_events\":true}]}",
                    200);
    hp_resp_free(&r);
    r = send_status("GET", "v8", "?channel_id=1000000058001", NULL, 204);
    hp_resp_free(&r);
    /* _delete_events: false is an ordinary PATCH */
    r = send_status("PATCH", "v8", NULL,
                    "{\"watch\":[{\"channel_id\":\"1000000058001\",\"events\":[\"Leads.all\"],"
                    "\"notify_url\":\"http://127.0.0.1:9/a\",\"_delete_events\":false}]}",
                    400);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "NOT_SUBSCRIBED");
    hp_resp_free(&r);
}

/* §4.6 Disable Notifications (DELETE ?channel_ids=). */
static void delete_answers_one_result_per_row(void **state)
{
    (void)state;
    struct hp_resp r = send_status(
        "POST", "v8", NULL,
        "{\"watch\":[{\"channel_id\":\"10000\",\"events\":[\"Deals.all\",\"Contacts.edit\"],"
        "\"notify_url\":\"http://127.0.0.1:9/a\"},{\"channel_id\":\"20000\",\"events\":["
        "\"Leads.all\"],\"notify_url\":\"http://127.0.0.1:9/a\"}]}",
        201);
    hp_resp_free(&r);
    send_expect("DELETE", "v7", "?channel_ids=10000&", NULL, 200,
                "{\"watch\":[{\"code\":\"SUCCESS\",\"details\":{\"resource_uri\":\"{B}/crm/v2/"
                "Contacts\",\"resource_id\":\"" CONTACTS_ID "\",\"channel_id\":\"10000\"},"
                "\"message\":\"Successfully un-subscribed from actions-watch\",\"status\":"
                "\"success\"},{\"code\":\"SUCCESS\",\"details\":{\"resource_uri\":\"{B}/crm/v2/"
                "Deals\",\"resource_id\":\"" DEALS_ID "\",\"channel_id\":\"10000\"},\"message\":"
                "\"Successfully un-subscribed from actions-watch\",\"status\":\"success\"}]}",
                NULL, NULL);
    /* again: NOT_SUBSCRIBED; with a live one: 207 */
    send_expect("DELETE", "v8", "?channel_ids=10000", NULL, 400,
                "{\"watch\":[{\"code\":\"NOT_SUBSCRIBED\",\"details\":{\"channel_id\":\"10000\"},"
                "\"message\":\"Not subscribed for actions-watch of the given channel\",\"status\":"
                "\"error\"}]}",
                NULL, NULL);
    r = send_status("DELETE", "v8", "?channel_ids=10000,20000&", NULL, 207);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "NOT_SUBSCRIBED");
    assert_string_equal(hp_str(hp_at(r.json, "watch[1]"), "code"), "SUCCESS");
    hp_resp_free(&r);
    r = send_status("DELETE", "v2", "?channel_ids=1,2", NULL, 202);
    hp_resp_free(&r);
    r = send_status("DELETE", "v8", "?channel_ids=abc", NULL, 400);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "INVALID_DATA");
    hp_resp_free(&r);
    send_expect("DELETE", "v8", "", NULL, 400,
                "{\"code\":\"REQUIRED_PARAM_MISSING\",\"details\":{\"param_name\":\"channel_ids\"},"
                "\"message\":\"One of the expected parameter is missing\",\"status\":\"error\"}",
                NULL, NULL);
    /* Ids gathered from GET's rows repeat a channel once per module: it goes once, no error. */
    r = send_status("POST", "v8", NULL,
                    "{\"watch\":[{\"channel_id\":\"30000\",\"events\":[\"Deals.all\","
                    "\"Contacts.edit\"],\"notify_url\":\"http://127.0.0.1:9/a\"}]}",
                    201);
    hp_resp_free(&r);
    r = send_status("DELETE", "v8", "?channel_ids=30000,30000,abc,abc&", NULL, 207);
    assert_int_equal(json_array_size(json_object_get(r.json, "watch")), 4);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "SUCCESS");
    assert_string_equal(hp_str(hp_at(r.json, "watch[1]"), "code"), "SUCCESS");
    assert_string_equal(hp_str(hp_at(r.json, "watch[2]"), "code"), "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "watch[3]"), "code"), "INVALID_DATA");
    hp_resp_free(&r);
    r = send_status("GET", "v8", NULL, NULL, 204);
    hp_resp_free(&r);
}

/* NOT_SUBSCRIBED carries Zoho's messages, as the v2 and v2.1 SDKs enumerate them (and as Zoho
 * answered a PATCH of an unknown channel on v8): "of the given channel" when the channel has no
 * live row, "of the given module/channel" when _delete_events names none of a live channel's
 * modules. */
static void not_subscribed_answers_zohos_messages(void **state)
{
    (void)state;
#define NOT_SUB(details, what)                                           \
    "{\"watch\":[{\"code\":\"NOT_SUBSCRIBED\",\"details\":" details      \
    ",\"message\":\"Not subscribed for actions-watch of the given " what \
    "\",\"status\":\"error\"}]}"
#define ON_CHANNEL "{\"api_name\":\"channel_id\",\"json_path\":\"$.watch[0].channel_id\"}"
    send_expect("PATCH", "v2", NULL,
                "{\"watch\":[{\"channel_id\":\"424242\",\"events\":[\"Leads.edit\"]}]}", 202,
                NOT_SUB(ON_CHANNEL, "channel"), NULL, NULL);
    send_expect("PATCH", "v8", NULL,
                "{\"watch\":[{\"channel_id\":\"424242\",\"events\":[\"Leads.edit\"],"
                "\"notify_url\":\"http://127.0.0.1:9/a\"}]}",
                400, NOT_SUB(ON_CHANNEL, "channel"), NULL, NULL);
    send_expect("PATCH", "v2.1", NULL,
                "{\"watch\":[{\"channel_id\":\"424242\",\"events\":[\"Leads.edit\"],"
                "\"_delete_events\":true}]}",
                202, NOT_SUB(ON_CHANNEL, "channel"), NULL, NULL);
    send_expect("DELETE", "v2", "?channel_ids=424242&", NULL, 202,
                NOT_SUB("{\"channel_id\":\"424242\"}", "channel"), NULL, NULL);
    struct hp_resp r =
        send_status("POST", "v2", NULL,
                    "{\"watch\":[{\"channel_id\":\"424243\",\"events\":[\"Leads.all\"],"
                    "\"notify_url\":\"http://127.0.0.1:9/a\"}]}",
                    201);
    hp_resp_free(&r);
    send_expect("PATCH", "v2", NULL,
                "{\"watch\":[{\"channel_id\":\"424243\",\"events\":[\"Contacts.edit\"],"
                "\"_delete_events\":true}]}",
                202, NOT_SUB(ON_CHANNEL, "module/channel"), NULL, NULL);
#undef ON_CHANNEL
#undef NOT_SUB
}

/* The documented error rows, each with its status. */
struct error_row {
    const char *version;
    const char *item; /* one watch[] item */
    long status;
    const char *code;
    const char *details; /* exact, compact */
};

#define OK_URL "\"notify_url\":\"http://127.0.0.1:9/x\""
#define BASE "\"channel_id\":\"1\",\"events\":[\"Deals.edit\"]," OK_URL
#define NC(x) BASE ",\"notification_condition\":[" x "]"
#define CP "$.watch[0].notification_condition[0]"

static const struct error_row error_rows[] = {
    {"v8", "{\"channel_id\":\"1\"," OK_URL "}", 400, "MANDATORY_NOT_FOUND",
     "{\"api_name\":\"events\",\"json_path\":\"$.watch[0].events\"}"},
    {"v2", "{\"channel_id\":\"1\"," OK_URL "}", 202, "MANDATORY_NOT_FOUND",
     "{\"api_name\":\"events\",\"json_path\":\"$.watch[0].events\"}"},
    {"v2.1", "{\"events\":[\"Leads.all\"]," OK_URL "}", 202, "MANDATORY_NOT_FOUND",
     "{\"api_name\":\"channel_id\",\"json_path\":\"$.watch[0].channel_id\"}"},
    {"v3", "{\"events\":[\"Leads.all\"],\"channel_id\":1}", 400, "MANDATORY_NOT_FOUND",
     "{\"api_name\":\"notify_url\",\"json_path\":\"$.watch[0].notify_url\"}"},
    {"v8", "{" BASE ",\"token\":\"123456789012345678901234567890123456789012345678901\"}", 400,
     "INVALID_DATA",
     "{\"api_name\":\"token\",\"json_path\":\"$.watch[0].token\",\"maximum_length\":50}"},
    {"v8", "{" BASE ",\"token\":5}", 400, "INVALID_DATA",
     "{\"api_name\":\"token\",\"expected_data_type\":\"text\",\"json_path\":\"$.watch[0].token\"}"},
    {"v8", "{\"channel_id\":\"1\",\"events\":[\"Nope.edit\"]," OK_URL "}", 400, "INVALID_DATA",
     "{\"api_name\":\"events\",\"json_path\":\"$.watch[0].events[0]\"}"},
    {"v8", "{\"channel_id\":\"1\",\"events\":[\"Leads.rename\"]," OK_URL "}", 400, "INVALID_DATA",
     "{\"api_name\":\"events\",\"json_path\":\"$.watch[0].events[0]\"}"},
    {"v8",
     "{" NC(
         "{\"type\":\"criteria\",\"module\":{\"api_name\":\"Deals\"},\"field_selection\":{}}") "}",
     400, "INVALID_DATA",
     "{\"api_name\":\"type\",\"json_path\":\"" CP
     ".type\",\"supported_values\":[\"field_selection\"]}"},
    {"v8", "{" NC("{\"type\":\"field_selection\",\"module\":[],\"field_selection\":{}}") "}", 400,
     "INVALID_DATA",
     "{\"api_name\":\"module\",\"expected_data_type\":\"jsonobject\",\"json_path\":\"" CP
     ".module\"}"},
    {"v8",
     "{" NC("{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Deal\"},\"field_selection\":{"
            "}}") "}",
     400, "INVALID_DATA", "{\"api_name\":\"module\",\"json_path\":\"" CP ".module\"}"},
    {"v8",
     "{" NC(
         "{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Deals\"},\"field_selection\":{"
         "\"group_operator\":\"not\",\"group\":[]}}") "}",
     400, "INVALID_DATA",
     "{\"api_name\":\"group_operator\",\"json_path\":\"" CP
     ".field_selection.group_operator\",\"supported_values\":[\"or\",\"and\"]}"},
    {"v8",
     "{" NC(
         "{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Deals\"},\"field_selection\":{"
         "\"group\":[{\"field\":{\"api_name\":\"Stage\"}}]}}") "}",
     400, "MANDATORY_NOT_FOUND",
     "{\"api_name\":\"group_operator\",\"json_path\":\"" CP ".field_selection.group_operator\"}"},
    {"v8",
     "{" NC(
         "{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Deals\"},\"field_selection\":{"
         "\"group_operator\":\"or\",\"group\":[{\"field\":{\"api_name\":\"Stage\"}},{\"field\":{"
         "\"api_name\":\"Amount\"}},{\"field\":{\"api_name\":\"Type\"}}]}}") "}",
     400, "INVALID_DATA",
     "{\"api_name\":\"group\",\"json_path\":\"" CP
     ".field_selection.group\",\"maximum_length\":2}"},
    {"v8",
     "{" NC(
         "{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Deals\"},\"field_selection\":{"
         "\"group_operator\":\"or\",\"group\":[{\"field\":{\"api_name\":\"Stagee\"}}]}}") "}",
     400, "INVALID_DATA",
     "{\"api_name\":\"field\",\"json_path\":\"" CP ".field_selection.group[0].field\"}"},
    {"v8", "{" NC("{\"type\":\"field_selection\",\"module\":{},\"field_selection\":{}}") "}", 400,
     "EXPECTED_FIELD_MISSING",
     "{\"expected_fields\":[{\"api_name\":\"api_name\",\"json_path\":\"" CP
     ".module.api_name\"},{\"api_name\":\"id\",\"json_path\":\"" CP ".module.id\"}]}"},
    {"v8",
     "{" NC("{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Deals\",\"id\":\"" LEADS_ID
            "\"},\"field_selection\":{}}") "}",
     400, "AMBIGUITY_DURING_PROCESSING",
     "{\"ambiguity_due_to\":[{\"api_name\":\"api_name\",\"json_path\":\"" CP
     ".module.api_name\"},{\"api_name\":\"id\",\"json_path\":\"" CP ".module.id\"}]}"},
    {"v8", "{" NC("{\"module\":{\"api_name\":\"Deals\"},\"field_selection\":{}}") "}", 400,
     "DEPENDENT_FIELD_MISSING",
     "{\"api_name\":\"field_selection\",\"json_path\":\"" CP
     ".field_selection\",\"dependee\":{\"api_name\":\"type\",\"json_path\":\"" CP ".type\"}}"},
    {"v8", "{" NC("{\"module\":{\"api_name\":\"Deals\"}}") "}", 400, "MANDATORY_NOT_FOUND",
     "{\"api_name\":\"type\",\"json_path\":\"" CP ".type\"}"},
    {"v8", "{" NC("{\"type\":\"field_selection\",\"field_selection\":{}}") "}", 400,
     "MANDATORY_NOT_FOUND", "{\"api_name\":\"module\",\"json_path\":\"" CP ".module\"}"},
    {"v8", "{" BASE ",\"_delete\":1,\"return_affected_field_values\":\"no\"}", 400, "INVALID_DATA",
     "{\"api_name\":\"return_affected_field_values\",\"expected_data_type\":\"boolean\","
     "\"json_path\":\"$.watch[0].return_affected_field_values\"}"},
    /* notify URLs that reach private addresses outside --allow-network */
    {"v8",
     "{\"channel_id\":\"1\",\"events\":[\"Deals.edit\"],\"notify_url\":\"http://10.1.2.3/x\"}", 400,
     "INVALID_DATA", "{\"api_name\":\"notify_url\",\"json_path\":\"$.watch[0].notify_url\"}"},
    {"v8",
     "{\"channel_id\":\"1\",\"events\":[\"Deals.edit\"],\"notify_url\":\"http://169.254.169.254/"
     "latest\"}",
     400, "INVALID_DATA", "{\"api_name\":\"notify_url\",\"json_path\":\"$.watch[0].notify_url\"}"},
    {"v8",
     "{\"channel_id\":\"1\",\"events\":[\"Deals.edit\"],\"notify_url\":\"http://169.254.169.254./"
     "latest\"}",
     400, "INVALID_DATA", "{\"api_name\":\"notify_url\",\"json_path\":\"$.watch[0].notify_url\"}"},
    {"v8", "{\"channel_id\":\"1\",\"events\":[\"Deals.edit\"],\"notify_url\":\"http://[::1]:80/\"}",
     400, "INVALID_DATA", "{\"api_name\":\"notify_url\",\"json_path\":\"$.watch[0].notify_url\"}"},
    {"v8", "{\"channel_id\":\"1\",\"events\":[\"Deals.edit\"],\"notify_url\":\"file:///etc\"}", 400,
     "INVALID_DATA", "{\"api_name\":\"notify_url\",\"json_path\":\"$.watch[0].notify_url\"}"},
};

static void documented_errors_answer_with_their_codes_and_statuses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof error_rows / sizeof error_rows[0]; i++) {
        const struct error_row *e = &error_rows[i];
        char body[4096];
        snprintf(body, sizeof body, "{\"watch\":[%s]}", e->item);
        struct hp_resp r = call("POST", e->version, NULL, body);
        json_t *item = hp_at(r.json, "watch[0]");
        char *details = item ? json_dumps(json_object_get(item, "details"), JSON_COMPACT) : NULL;
        if (r.status != e->status || !item || strcmp(hp_str(item, "code"), e->code) != 0 ||
            strcmp(hp_str(item, "status"), "error") != 0 || !details ||
            strcmp(details, e->details) != 0)
            fail_msg("row %zu: expected %ld %s %s\n got %ld %s", i, e->status, e->code, e->details,
                     r.status, r.body);
        free(details);
        hp_resp_free(&r);
    }
}

/* The reference's 207 example: the second item lacks channel_id. */
static void mixed_results_are_207_in_request_order(void **state)
{
    (void)state;
    struct hp_resp r =
        send_status("POST", "v8", NULL,
                    "{\"watch\":[{\"channel_id\":\"5\",\"events\":[\"Leads.all\"]," OK_URL
                    "},{\"events\":[\"Leads.all\"]," OK_URL
                    "},{\"channel_id\":6,\"events\":[\"Leads.all\"]," OK_URL "}]}",
                    207);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "SUCCESS");
    char *item = json_dumps(hp_at(r.json, "watch[1]"), JSON_COMPACT);
    assert_string_equal(item, "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":"
                              "\"channel_id\",\"json_path\":\"$.watch[1].channel_id\"},\"message\":"
                              "\"required field not found\",\"status\":\"error\"}");
    free(item);
    assert_string_equal(hp_str(hp_at(r.json, "watch[2].details.events[0]"), "channel_id"), "6");
    hp_resp_free(&r);
    /* the same on v2 is 207 too */
    r = send_status("POST", "v2", NULL,
                    "{\"watch\":[{\"channel_id\":\"5\",\"events\":[\"Leads.all\"]," OK_URL
                    "},{\"events\":[\"Leads.all\"]," OK_URL "}]}",
                    207);
    hp_resp_free(&r);
}

static void whole_request_errors_are_one_top_level_400(void **state)
{
    (void)state;
    static const char *const methods[] = {"POST", "PUT", "PATCH"};
    for (size_t m = 0; m < 3; m++) {
        struct hp_resp r = call(methods[m], "v2", NULL, "{\"watch\":[");
        hp_assert_error(&r, 400, "INVALID_DATA");
        hp_resp_free(&r);
        r = call(methods[m], "v8", NULL, "{\"watchers\":[]}");
        expect(
            &r, 400,
            "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"watch\",\"json_path\":"
            "\"$.watch\"},\"message\":\"required field not found\",\"status\":\"error\"}",
            NULL, NULL);
        hp_resp_free(&r);
        r = call(methods[m], "v8", NULL, "{\"watch\":{}}");
        expect(&r, 400,
               "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"watch\",\"expected_data_"
               "type\":\"jsonarray\",\"json_path\":\"$.watch\"},\"message\":\"invalid data\","
               "\"status\":\"error\"}",
               NULL, NULL);
        hp_resp_free(&r);
        r = call(methods[m], "v8", NULL, NULL);
        hp_assert_error(&r, 400, "INVALID_DATA");
        hp_resp_free(&r);
    }
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"watch\":[");
    for (int i = 0; i < 51; i++)
        buf_printf(&b, "%s{\"channel_id\":%d,\"events\":[\"Leads.all\"]," OK_URL "}", i ? "," : "",
                   i + 1);
    buf_puts(&b, "]}");
    struct hp_resp r = call("POST", "v8", NULL, b.data);
    expect(
        &r, 400,
        "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"watch\",\"json_path\":\"$.watch\","
        "\"maximum_length\":50},\"message\":\"invalid data\",\"status\":\"error\"}",
        NULL, NULL);
    hp_resp_free(&r);
    buf_fini(&b);
    /* nothing was created */
    r = send_status("GET", "v8", NULL, NULL, 204);
    hp_resp_free(&r);
}

static void each_operation_needs_its_scope(void **state)
{
    (void)state;
    static const struct {
        const char *scopes;
        const char *method;
        const char *version;
        bool is_allowed;
    } cases[] = {
        {"ZohoCRM.notifications.CREATE", "POST", "v8", true},
        {"ZohoCRM.notifications.WRITE", "POST", "v8", true},
        {"zohocrm.notifications.all", "POST", "v8", true},
        {"ZohoCRM.notifications.READ", "POST", "v8", false},
        {"ZohoCRM.notifications.UPDATE", "POST", "v8", false},
        {"ZohoCRM.notifications.READ", "GET", "v8", true},
        {"ZohoCRM.notifications.WRITE", "GET", "v8", false},
        {"ZohoCRM.notifications.UPDATE", "PUT", "v8", true},
        {"ZohoCRM.notifications.CREATE", "PUT", "v8", false},
        {"ZohoCRM.notifications.UPDATE", "PATCH", "v8", true},
        {"ZohoCRM.notifications.WRITE", "PATCH", "v8", true},
        {"ZohoCRM.notifications.DELETE", "DELETE", "v8", true},
        {"ZohoCRM.notifications.WRITE", "DELETE", "v8", false},
        {"ZohoCRM.notifications.WRITE", "DELETE", "v2", true},
        {"ZohoCRM.modules.ALL", "GET", "v8", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char tok[256];
        hp_token(&srv, cases[i].scopes, tok, sizeof tok);
        char path[128];
        snprintf(path, sizeof path, "/crm/%s/actions/watch%s", cases[i].version,
                 strcmp(cases[i].method, "DELETE") == 0 ? "?channel_ids=1" : "");
        const char *body =
            strcmp(cases[i].method, "GET") == 0 || strcmp(cases[i].method, "DELETE") == 0
                ? NULL
                : "{\"watch\":[{\"channel_id\":\"1\",\"events\":[\"Leads.all\"]," OK_URL "}]}";
        struct hp_resp r = hp_req(&srv, cases[i].method, path, body, tok, NULL);
        if (cases[i].is_allowed && r.status == 401)
            fail_msg("case %zu: %s refused: %s", i, cases[i].scopes, r.body);
        if (!cases[i].is_allowed)
            hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
        hp_resp_free(&r);
    }
}

static enum herald_err purge_job(struct store_txn *t, void *arg)
{
    return store_txn_channel_purge(t, now_s(), arg);
}

/* A channel expiring in 2 s stops being listed, matched or patchable; the purge removes it. */
static void expired_channels_are_absent_and_purged(void **state)
{
    (void)state;
    int64_t at = now_s() + 2;
    char sent[TIME_ISO_MAX];
    utc(at, sent);
    char body[512];
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"31\",\"events\":[\"Leads.all\"]," OK_URL
             ",\"channel_expiry\":\"%s\"},{\"channel_id\":\"32\",\"events\":[\"Leads.all\"]," OK_URL
             "},{\"channel_id\":\"33\",\"events\":[\"Deals.all\"]," OK_URL
             ",\"channel_expiry\":\"%s\"}]}",
             sent, sent);
    struct hp_resp r = send_status("POST", "v8", NULL, body, 201);
    hp_resp_free(&r);
    r = send_status("GET", "v8", NULL, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "watch")), 3);
    hp_resp_free(&r);
    while (now_s() <= at)
        usleep(50 * 1000);
    r = send_status("GET", "v8", NULL, NULL, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "watch")), 1);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "channel_id"), "32");
    hp_resp_free(&r);
    r = send_status("GET", "v8", "?channel_id=31", NULL, 204);
    hp_resp_free(&r);
    r = send_status("PATCH", "v8", NULL,
                    "{\"watch\":[{\"channel_id\":\"31\",\"events\":[\"Leads.all\"]," OK_URL "}]}",
                    400);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "NOT_SUBSCRIBED");
    hp_resp_free(&r);
    r = send_status("DELETE", "v8", "?channel_ids=31", NULL, 400);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "NOT_SUBSCRIBED");
    hp_resp_free(&r);

    /* the store's purge (the server runs it every minute) removes the expired rows (31's went
     * with the DELETE) */
    assert_int_equal(hp_stop(&srv), 0);
    struct store *s = NULL;
    assert_int_equal(store_open(srv.db, &s), HERALD_OK);
    int64_t org = store_default_org(s);
    struct store_channel *rows = NULL;
    size_t n = 0;
    assert_int_equal(store_channel_list(s, org, 0, 0, 0, 0, 100, &rows, &n), HERALD_OK);
    assert_int_equal(n, 2); /* with now = 0 the expired row of 33 still shows */
    store_channels_free(rows, n);
    size_t removed = 0;
    assert_int_equal(store_exec(s, purge_job, &removed), HERALD_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(store_channel_list(s, org, 0, 0, 0, 0, 100, &rows, &n), HERALD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].channel_id, 32);
    store_channels_free(rows, n);
    store_free(s);
}

static void timezone_renders_expiry_and_record_date_times(void **state)
{
    (void)state;
    hp_cleanup(&srv);
    hp_start(&srv, "--allow-network 127.0.0.0/8 --timezone Asia/Kolkata");
    int64_t at = now_s() + 86400;
    char sent[TIME_ISO_MAX], shown[TIME_ISO_MAX];
    at_offset(at, -11 * 3600, sent);
    at_offset(at, 19800, shown);
    char body[512];
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"1\",\"events\":[\"Leads.all\"]," OK_URL
             ",\"channel_expiry\":\"%s\"}]}",
             sent);
    struct hp_resp r = send_status("POST", "v8", NULL, body, 201);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0].details.events[0]"), "channel_expiry"),
                        shown);
    hp_resp_free(&r);
    r = send_status("GET", "v8", NULL, NULL, 200);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "channel_expiry"), shown);
    hp_resp_free(&r);

    /* Date-time fields of records too, whatever offset they were sent with ("Z" from the SDK). */
    r = hp_req(&srv, "POST", "/crm/v8/Events",
               "{\"data\":[{\"Event_Title\":\"tz\",\"Start_DateTime\":\"2026-12-01T10:00:00Z\","
               "\"End_DateTime\":\"2026-12-01T05:00:00-06:00\"}]}",
               srv.token, NULL);
    assert_int_equal(r.status, 201);
    char path[128];
    snprintf(path, sizeof path, "/crm/v8/Events/%s",
             hp_str(hp_at(r.json, "data[0].details"), "id"));
    hp_resp_free(&r);
    r = hp_req(&srv, "GET", path, NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "Start_DateTime"),
                        "2026-12-01T15:30:00+05:30");
    assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "End_DateTime"),
                        "2026-12-01T16:30:00+05:30");
    hp_resp_free(&r);
}

/* The first request the receiver recorded with a body (waits up to 10 s). */
static const struct rx_request *first_with_body(struct receiver *rx)
{
    int64_t deadline = hp_now_ms() + 10000;
    for (size_t seen = 0; hp_now_ms() < deadline;) {
        size_t n = rx_wait(rx, seen + 1, (int)(deadline - hp_now_ms()));
        for (; seen < n; seen++) {
            const struct rx_request *req = rx_get(rx, seen);
            if (req->body_len)
                return req;
        }
    }
    fail_msg("no callback with a body within 10 s");
    return NULL;
}

/* Channels survive a restart, and the reloaded index matches record changes. */
static void channels_survive_a_restart_and_still_match(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256], body[4096];
    rx_url(rx, "/cb?key=v", url, sizeof url);
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"71\",\"events\":[\"Leads.create\",\"Deals.edit\"],"
             "\"notify_url\":\"%s\",\"token\":\"t71\",\"notification_condition\":%s},"
             "{\"channel_id\":\"72\",\"events\":[\"Contacts.all\"],\"notify_url\":\"%s\"}]}",
             url, seed_condition, url);
    struct hp_resp r = send_status("POST", "v8", NULL, body, 201);
    hp_resp_free(&r);
    struct hp_resp before = send_status("GET", "v8", NULL, NULL, 200);
    char old_base[sizeof srv.base];
    snprintf(old_base, sizeof old_base, "%s", srv.base);
    assert_int_equal(hp_stop(&srv), 0);
    hp_restart(&srv);
    struct hp_resp after = send_status("GET", "v8", NULL, NULL, 200);
    /* the restarted server listens on another port: resource_uri follows it */
    struct buf want_body;
    buf_init(&want_body);
    for (const char *p = before.body; *p;) {
        if (strncmp(p, old_base, strlen(old_base)) == 0) {
            buf_puts(&want_body, srv.base);
            p += strlen(old_base);
        } else {
            buf_putc(&want_body, *p++);
        }
    }
    if (strcmp(want_body.data, after.body) != 0)
        fail_msg("before %s\nafter  %s", want_body.data, after.body);
    buf_fini(&want_body);
    hp_resp_free(&before);
    hp_resp_free(&after);

    r = hp_req(&srv, "POST", "/crm/v8/Leads", "{\"data\":[{\"Last_Name\":\"Restart\"}]}", srv.token,
               NULL);
    assert_int_equal(r.status, 201);
    const char *id = hp_str(hp_at(r.json, "data[0].details"), "id");
    assert_non_null(id);
    char want[1024];
    snprintf(want, sizeof want,
             "\"query_params\":{\"?key\":\"v\"},\"module\":\"Leads\",\"resource_uri\":\"%s/crm/v2/"
             "Leads\",\"ids\":[\"%s\"],\"affected_fields\":[],\"operation\":\"insert\","
             "\"channel_id\":\"71\",\"token\":\"t71\"}",
             srv.base, id);
    hp_resp_free(&r);
    const struct rx_request *got = first_with_body(rx);
    const char *rest = got->body ? strchr(got->body, ',') : NULL;
    if (!rest)
        fail_msg("callback %s %s: %.*s", got->method, got->path, (int)got->body_len,
                 got->body ? got->body : "");
    assert_string_equal(rest + 1, want);
    assert_string_equal(got->path, "/cb?key=v");
    rx_stop(rx);
}

/* channel_id is Zoho's long: AMP sends a 64-bit hash cast to a signed long, negative half the
 * time. Such a channel is enabled, listed, patched, notified and disabled like any other. */
static void a_negative_channel_id_works_through_every_operation(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256], body[1024];
    rx_url(rx, "/cb", url, sizeof url);
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"-2542271027018545353\",\"events\":[\"Leads.create\","
             "\"Contacts.edit\"],\"notify_url\":\"%s\"}]}",
             url);
    struct hp_resp r = send_status("POST", "v7", NULL, body, 201);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0].details.events[0]"), "channel_id"),
                        "-2542271027018545353");
    hp_resp_free(&r);
    r = send_status("GET", "v7", "?channel_id=-2542271027018545353&", NULL, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "watch")), 2);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "channel_id"), "-2542271027018545353");
    hp_resp_free(&r);
    r = send_status("PATCH", "v7", NULL,
                    "{\"watch\":[{\"channel_id\":-2542271027018545353,\"events\":[\"Deals.edit\"],"
                    "\"_delete_events\":true},{\"channel_id\":\"-2542271027018545353\",\"events\":"
                    "[\"Contacts.edit\"],\"_delete_events\":true}]}",
                    207);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "NOT_SUBSCRIBED");
    assert_string_equal(hp_str(hp_at(r.json, "watch[1]"), "code"), "SUCCESS");
    hp_resp_free(&r);

    r = hp_req(&srv, "POST", "/crm/v7/Leads", "{\"data\":[{\"Last_Name\":\"Negative\"}]}",
               srv.token, NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    const struct rx_request *got = first_with_body(rx);
    if (!strstr(got->body, "\"channel_id\":\"-2542271027018545353\""))
        fail_msg("callback %.*s", (int)got->body_len, got->body);
    /* the delivery history filters by it too */
    r = hp_req(&srv, "GET", "/herald/v1/deliveries?channel_id=-2542271027018545353", NULL,
               srv.token, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(hp_str(hp_at(r.json, "deliveries[0]"), "channel_id"),
                        "-2542271027018545353");
    hp_resp_free(&r);

    r = send_status("DELETE", "v7", "?channel_ids=-2542271027018545353&", NULL, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "watch")), 1);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0].details"), "channel_id"),
                        "-2542271027018545353");
    hp_resp_free(&r);
    r = send_status("GET", "v7", NULL, NULL, 204);
    hp_resp_free(&r);
    rx_stop(rx);
}

/* 10,000 live channels per organization; GET pages through all of them. */
static void ten_thousand_channels_limit_and_paging(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    for (int batch = 0; batch < 200; batch++) {
        buf_reset(&b);
        buf_puts(&b, "{\"watch\":[");
        for (int i = 0; i < 50; i++)
            buf_printf(&b, "%s{\"channel_id\":%d,\"events\":[\"Leads.all\"]," OK_URL "}",
                       i ? "," : "", 100000 + batch * 50 + i);
        buf_puts(&b, "]}");
        struct hp_resp r = call("POST", "v8", NULL, b.data);
        if (r.status != 201)
            fail_msg("batch %d: %ld %.300s", batch, r.status, r.body);
        hp_resp_free(&r);
    }
    buf_fini(&b);
    /* one more is refused; replacing an existing one is not */
    struct hp_resp r =
        send_status("POST", "v8", NULL,
                    "{\"watch\":[{\"channel_id\":1,\"events\":[\"Leads.all\"]," OK_URL
                    "},{\"channel_id\":100000,\"events\":[\"Leads.create\"]," OK_URL "}]}",
                    207);
    char *item = json_dumps(hp_at(r.json, "watch[0]"), JSON_COMPACT);
    assert_string_equal(item,
                        "{\"code\":\"LIMIT_REACHED\",\"details\":{\"api_name\":\"channel_id\","
                        "\"json_path\":\"$.watch[0].channel_id\",\"limit\":10000},\"message\":"
                        "\"the maximum number of channels is reached\",\"status\":\"error\"}");
    free(item);
    hp_resp_free(&r);
    r = send_status("PUT", "v8", NULL,
                    "{\"watch\":[{\"channel_id\":2,\"events\":[\"Leads.all\"]," OK_URL "}]}", 400);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "LIMIT_REACHED");
    hp_resp_free(&r);
    /* after a disable there is room for one */
    r = send_status("DELETE", "v8", "?channel_ids=100001", NULL, 200);
    hp_resp_free(&r);
    r = send_status("POST", "v8", NULL,
                    "{\"watch\":[{\"channel_id\":1,\"events\":[\"Leads.all\"]," OK_URL "}]}", 201);
    hp_resp_free(&r);

    /* pages of 200, in subscription order, every channel once */
    char *seen = calloc(10001, 1);
    size_t total = 0;
    for (int page = 1; page <= 50; page++) {
        char q[64];
        snprintf(q, sizeof q, "?page=%d&per_page=200", page);
        r = send_status("GET", "v8", q, NULL, 200);
        json_t *rows = json_object_get(r.json, "watch");
        assert_int_equal(json_array_size(rows), 200);
        assert_int_equal(json_integer_value(hp_at(r.json, "info.count")), 200);
        assert_int_equal(json_integer_value(hp_at(r.json, "info.page")), page);
        assert_int_equal(json_is_true(hp_at(r.json, "info.more_records")), page < 50);
        for (size_t i = 0; i < 200; i++) {
            long id = strtol(hp_str(json_array_get(rows, i), "channel_id"), NULL, 10);
            size_t slot = id == 1 ? 10000 : (size_t)(id - 100000);
            assert_true(slot <= 10000);
            assert_int_equal(seen[slot], 0);
            seen[slot] = 1;
            total++;
        }
        if (page == 1)
            assert_string_equal(hp_str(json_array_get(rows, 0), "channel_id"), "100000");
        if (page == 50)
            assert_string_equal(hp_str(json_array_get(rows, 199), "channel_id"), "1");
        hp_resp_free(&r);
    }
    free(seen);
    assert_int_equal(total, 10000);
    r = send_status("GET", "v8", "?page=51&per_page=200", NULL, 204);
    hp_resp_free(&r);
}

/* The reference's §6 limits from Zoho's OAS: notification_condition holds at most 2 items
 * (INVALID_DATA maximum_length 2, on POST, PUT and PATCH alike), and DELETE's channel_ids is a
 * string of at most 512 characters (one top-level INVALID_DATA). Two conditions and 512
 * characters pass. */
static void conditions_and_channel_ids_keep_the_reference_limits(void **state)
{
    (void)state;
#define COND(m, f)                                                                            \
    "{\"type\":\"field_selection\",\"module\":{\"api_name\":\"" m "\"},\"field_selection\":{" \
    "\"field\":{\"api_name\":\"" f "\"}}}"
#define THREE_CONDS                                                                            \
    "{\"watch\":[{\"channel_id\":\"41\",\"events\":[\"Deals.edit\",\"Leads.edit\",\"Contacts." \
    "edit\"]," OK_URL ",\"notification_condition\":[" COND("Deals", "Stage") "," COND(         \
        "Leads", "Phone") "," COND("Contacts", "Phone") "]}]}"
    static const char *const methods[] = {"POST", "PUT", "PATCH"};
    for (size_t m = 0; m < 3; m++) {
        if (strcmp(methods[m], "PATCH") == 0) {
            struct hp_resp ok = send_status(
                "POST", "v8", NULL,
                "{\"watch\":[{\"channel_id\":\"41\",\"events\":[\"Deals.edit\",\"Leads.edit\","
                "\"Contacts.edit\"]," OK_URL "}]}",
                201);
            hp_resp_free(&ok);
        }
        send_expect(methods[m], "v8", NULL, THREE_CONDS, 400,
                    "{\"watch\":[{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":"
                    "\"notification_condition\",\"json_path\":\"$.watch[0]."
                    "notification_condition\",\"maximum_length\":2},\"message\":\"invalid data\","
                    "\"status\":\"error\"}]}",
                    NULL, NULL);
    }
    struct hp_resp r = send_status(
        "POST", "v8", NULL,
        "{\"watch\":[{\"channel_id\":\"41\",\"events\":[\"Deals.edit\",\"Leads.edit\",\"Contacts."
        "edit\"]," OK_URL
        ",\"notification_condition\":[" COND("Deals", "Stage") "," COND("Leads", "Phone") "]}]}",
        201);
    hp_resp_free(&r);
#undef THREE_CONDS
#undef COND

    /* 512 characters: 25 ids of 19 digits and one of 11, with their commas. */
    char ids[600];
    size_t len = 0;
    for (int i = 0; i < 25; i++)
        len += (size_t)snprintf(ids + len, sizeof ids - len, "%s10000000000000000%02d",
                                i ? "," : "", i);
    len += (size_t)snprintf(ids + len, sizeof ids - len, ",100000000041");
    assert_int_equal(len, 512);
    char query[640];
    snprintf(query, sizeof query, "?channel_ids=%s&", ids);
    r = send_status("DELETE", "v8", query, NULL, 400); /* none of them is subscribed */
    assert_int_equal(json_array_size(json_object_get(r.json, "watch")), 26);
    hp_resp_free(&r);
    snprintf(query, sizeof query, "?channel_ids=%s,41&", ids);
    send_expect("DELETE", "v8", query, NULL, 400,
                "{\"code\":\"INVALID_DATA\",\"details\":{\"param_name\":\"channel_ids\","
                "\"maximum_length\":512},\"message\":\"invalid data\",\"status\":\"error\"}",
                NULL, NULL);
    /* nothing was disabled */
    r = send_status("GET", "v8", "?channel_id=41", NULL, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "watch")), 3);
    hp_resp_free(&r);
}

/* A channel_id written as a JSON number beyond a long is valid JSON that names no channel: the
 * item's INVALID_DATA "expected long", as the same digits in a string get, not a top-level "not
 * valid JSON" for the whole request (which also lost the other items). */
static void a_channel_id_number_beyond_a_long_fails_its_item_only(void **state)
{
    (void)state;
    static const char item_error[] =
        "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"channel_id\",\"expected_data_"
        "type\":"
        "\"long\",\"json_path\":\"$.watch[0].channel_id\"},\"message\":\"invalid data\",\"status\":"
        "\"error\"}";
    static const char *const numbers[] = {"9223372036854775808", "-9223372036854775809",
                                          "123456789012345678901234567890"};
    for (size_t i = 0; i < 3; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"watch\":[{\"channel_id\":%s,\"events\":[\"Leads.all\"]," OK_URL
                 "},{\"channel_id\":9223372036854775807,\"events\":[\"Leads.all\"]," OK_URL "}]}",
                 numbers[i]);
        struct hp_resp r = send_status("POST", "v8", NULL, body, 207);
        char *got = json_dumps(hp_at(r.json, "watch[0]"), JSON_COMPACT);
        if (!got || strcmp(got, item_error) != 0)
            fail_msg("%s: %s", numbers[i], r.body);
        free(got);
        assert_string_equal(hp_str(hp_at(r.json, "watch[1].details.events[0]"), "channel_id"),
                            "9223372036854775807");
        hp_resp_free(&r);
    }
    /* on v2 every item failing is 202, as for any item error */
    struct hp_resp r = send_status(
        "POST", "v2", NULL,
        "{\"watch\":[{\"channel_id\":99999999999999999999,\"events\":[\"Leads.all\"]," OK_URL "}]}",
        202);
    hp_resp_free(&r);
    /* a number inside a string stays as written */
    r = send_status("POST", "v8", NULL,
                    "{\"watch\":[{\"channel_id\":7,\"events\":[\"Leads.all\"],\"token\":"
                    "\"99999999999999999999\"," OK_URL "}]}",
                    201);
    hp_resp_free(&r);
    r = send_status("GET", "v8", "?channel_id=7", NULL, 200);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "token"), "99999999999999999999");
    hp_resp_free(&r);
}

/* RFC 6761: "localhost." and every name under .localhost are loopback. They are refused when
 * subscribing as "localhost" is (they did not resolve, so they were accepted and failed only
 * when delivering), without asking a name server; inside the loopback ranges they are accepted
 * and delivered to loopback. */
static void localhost_names_are_refused_as_localhost_is(void **state)
{
    (void)state;
    static const char *const hosts[] = {"localhost", "localhost.", "api.localhost",
                                        "Hook.LocalHost."};
    enum { N = sizeof hosts / sizeof hosts[0] };
    struct receiver *rx = rx_start(NULL);
    char body[2048];
    size_t len = (size_t)snprintf(body, sizeof body, "{\"watch\":[");
    for (size_t i = 0; i < N; i++)
        len += (size_t)snprintf(body + len, sizeof body - len,
                                "%s{\"channel_id\":\"%zu\",\"events\":[\"Leads.create\"],"
                                "\"notify_url\":\"http://%s:%d/x\"}",
                                i ? "," : "", 80 + i, hosts[i], rx_port(rx));
    snprintf(body + len, sizeof body - len, "]}");
    hp_cleanup(&srv);
    hp_start(&srv, NULL);
    struct hp_resp r = call("POST", "v8", NULL, body);
    assert_int_equal(r.status, 400);
    for (size_t i = 0; i < N; i++) {
        char path[32];
        snprintf(path, sizeof path, "watch[%zu]", i);
        json_t *item = hp_at(r.json, path);
        if (!item || strcmp(hp_str(item, "code"), "INVALID_DATA") != 0 ||
            strcmp(hp_str(json_object_get(item, "details"), "api_name"), "notify_url") != 0)
            fail_msg("%s was not refused: %s", hosts[i], r.body);
    }
    hp_resp_free(&r);
    assert_true(hp_log_wait(&srv, "notify_url refused\" reason=\"loopback", 5000));
    /* The answer is Zoho's bare "invalid data": the log names the host and the way out. */
    assert_true(hp_log_wait(&srv,
                            "reason=\"loopback\" host=\"localhost\" hint=\"the address is outside "
                            "every --allow-network range",
                            5000));

    hp_cleanup(&srv);
    hp_start(&srv, "--allow-network 127.0.0.0/8 --allow-network ::1/128");
    r = call("POST", "v8", NULL, body);
    if (r.status != 201)
        fail_msg("refused inside the loopback ranges: %ld %s", r.status, r.body);
    hp_resp_free(&r);
    r = hp_req(&srv, "POST", "/crm/v8/Leads", "{\"data\":[{\"Last_Name\":\"x\"}]}", srv.token,
               NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    /* One callback per channel, the names' included, at the receiver on loopback. */
    assert_int_equal(rx_wait(rx, N, 10000), N);
    rx_stop(rx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(enable_replays_the_seed_sample_on_every_version, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(expiry_limits_follow_the_version, setup, teardown),
        cmocka_unit_test_setup_teardown(get_details_replays_the_reference_sample, setup, teardown),
        cmocka_unit_test_setup_teardown(put_replaces_every_detail, setup, teardown),
        cmocka_unit_test_setup_teardown(patch_merges_and_keeps_what_is_not_given, setup, teardown),
        cmocka_unit_test_setup_teardown(delete_events_removes_exactly_what_it_names, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(delete_answers_one_result_per_row, setup, teardown),
        cmocka_unit_test_setup_teardown(not_subscribed_answers_zohos_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(documented_errors_answer_with_their_codes_and_statuses,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(mixed_results_are_207_in_request_order, setup, teardown),
        cmocka_unit_test_setup_teardown(whole_request_errors_are_one_top_level_400, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(each_operation_needs_its_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(expired_channels_are_absent_and_purged, setup, teardown),
        cmocka_unit_test_setup_teardown(timezone_renders_expiry_and_record_date_times, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(channels_survive_a_restart_and_still_match, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_negative_channel_id_works_through_every_operation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(ten_thousand_channels_limit_and_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(localhost_names_are_refused_as_localhost_is, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(conditions_and_channel_ids_keep_the_reference_limits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_channel_id_number_beyond_a_long_fails_its_item_only,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
