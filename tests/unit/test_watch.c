/* The pure parts of the notification engine: watch[] item validation (codes, details and
 * json_path exactly), condition trees (parsing, evaluation, Zoho's GET shape), callback payloads
 * byte for byte against the reference's samples, and the index with the matcher. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/timefmt.h"
#include "meta/meta.h"
#include "watch/channel.h"
#include "watch/cond.h"
#include "watch/index.h"
#include "watch/match.h"
#include "watch/payload.h"

/* 2026-01-01T00:00:00Z */
#define NOW 1767225600

static const char *const seed_condition =
    "{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Deals\",\"id\":"
    "\"554023000000000131\"},\"field_selection\":{\"group_operator\":\"or\",\"group\":[{\"field\":"
    "{\"api_name\":\"Stage\",\"id\":\"554023000000000525\"}},{\"group_operator\":\"and\",\"group\":"
    "[{\"field\":{\"api_name\":\"Account_Name\",\"id\":\"554023000000000523\"}},{\"field\":{"
    "\"api_name\":\"Lead_Source\",\"id\":\"554023000000000535\"}}]}]}}";

static int setup(void **state)
{
    (void)state;
    return meta_init() == HERALD_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    meta_fini();
    return 0;
}

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON: %s: %s", e.text, text);
    return j;
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Parses one item (as watch[index]) and expects exactly the error `expected` (compact JSON,
 * keys in order). */
static void expect_item_error(const char *item_text, size_t index, enum watch_verb verb,
                              const char *version, const char *expected)
{
    json_t *item = load(item_text);
    struct watch_parse_ctx ctx = {.verb = verb, .version = version, .now_s = NOW};
    struct watch_item it;
    json_t *err = watch_item_parse(item, index, &ctx, &it);
    if (!err)
        fail_msg("expected an error for %s", item_text);
    char *got = dump(err);
    if (strcmp(got, expected) != 0)
        fail_msg("item %s\n  got      %s\n  expected %s", item_text, got, expected);
    free(got);
    json_decref(err);
    json_decref(item);
}

static void expect_item_ok(const char *item_text, enum watch_verb verb, const char *version,
                           struct watch_item *it)
{
    json_t *item = load(item_text);
    struct watch_parse_ctx ctx = {.verb = verb, .version = version, .now_s = NOW};
    json_t *err = watch_item_parse(item, 0, &ctx, it);
    if (err) {
        char *got = dump(err);
        fail_msg("unexpected error %s for %s", got, item_text);
    }
    json_decref(item);
}

#define ITEM(extra)                                                                 \
    "{\"channel_id\":\"1000000068002\",\"events\":[\"Deals.edit\"],\"notify_url\":" \
    "\"https://example.com/hook\"" extra "}"

/* Validation of watch[] items. */

static void accepts_the_seed_item(void **state)
{
    (void)state;
    char text[4096];
    snprintf(text, sizeof text,
             "{\"channel_id\":\"1000000068002\",\"events\":[\"Deals.edit\"],"
             "\"notification_condition\":[%s],\"channel_expiry\":\"2026-01-01T09:58:09+05:30\","
             "\"token\":\"deals.all.notif\",\"return_affected_field_values\":true,\"notify_url\":"
             "\"https://www.zoho.com/callback?authorization=Zoho-oauthtoken "
             "1000.23dnsbbbh455jnn&key1=val1&key2=val2\"}",
             seed_condition);
    struct watch_item it;
    expect_item_ok(text, WATCH_POST, "v6", &it);
    assert_int_equal(it.channel_id, 1000000068002LL);
    assert_int_equal(it.mod_count, 1);
    assert_string_equal(it.mods[0].module->api_name, "Deals");
    assert_int_equal(it.mods[0].events, WATCH_EV_EDIT);
    assert_string_equal(it.token, "deals.all.notif");
    assert_true(it.return_values);
    assert_true(it.notify_on_related);                           /* default */
    assert_int_equal(it.expiry_s, NOW + 4 * 3600 + 28 * 60 + 9); /* 09:58:09+05:30 */
    assert_int_equal(it.cond_count, 1);
    assert_int_equal(watch_cond_leaf_count(it.conds[0]), 3);
    assert_string_equal(it.url.host, "www.zoho.com");
    assert_int_equal(it.url.port, 443);
    /* stored exactly as given, space included */
    assert_non_null(strstr(it.notify_url, "Zoho-oauthtoken 1000."));
    watch_item_fini(&it);
}

static void all_expands_and_modules_merge_in_order(void **state)
{
    (void)state;
    struct watch_item it;
    expect_item_ok("{\"channel_id\":7,\"events\":[\"Leads.create\",\"deals.all\",\"Leads.delete\","
                   "\"users.all\"],\"notify_url\":\"http://example.com/\"}",
                   WATCH_POST, "v8", &it);
    assert_int_equal(it.channel_id, 7);
    assert_int_equal(it.mod_count, 3);
    assert_string_equal(it.mods[0].module->api_name, "Leads");
    assert_int_equal(it.mods[0].events, WATCH_EV_CREATE | WATCH_EV_DELETE);
    assert_string_equal(it.mods[1].module->api_name, "Deals");
    assert_int_equal(it.mods[1].events, WATCH_EV_ALL);
    assert_string_equal(it.mods[2].module->api_name, "users");
    assert_int_equal(it.expiry_s, NOW + 3600);
    json_t *arr = json_array();
    watch_events_render(it.mods[1].module, it.mods[1].events, arr);
    char *text = dump(arr);
    assert_string_equal(text, "[\"Deals.edit\",\"Deals.create\",\"Deals.delete\"]");
    free(text);
    json_decref(arr);
    watch_item_fini(&it);
}

/* Module names compare case-insensitively, and so do the verbs: "deals.EDIT" is Deals.edit, and
 * GET renders it so; a verb that is no verb in any case is still refused. */
static void event_verbs_compare_case_insensitively(void **state)
{
    (void)state;
    struct watch_item it;
    expect_item_ok("{\"channel_id\":7,\"events\":[\"deals.EDIT\",\"Leads.Create\",\"LEADS.Delete\","
                   "\"Users.ALL\"],\"notify_url\":\"http://example.com/\"}",
                   WATCH_POST, "v8", &it);
    assert_int_equal(it.mod_count, 3);
    assert_string_equal(it.mods[0].module->api_name, "Deals");
    assert_int_equal(it.mods[0].events, WATCH_EV_EDIT);
    assert_string_equal(it.mods[1].module->api_name, "Leads");
    assert_int_equal(it.mods[1].events, WATCH_EV_CREATE | WATCH_EV_DELETE);
    assert_string_equal(it.mods[2].module->api_name, "users");
    assert_int_equal(it.mods[2].events, WATCH_EV_ALL);
    json_t *arr = json_array();
    watch_events_render(it.mods[0].module, it.mods[0].events, arr);
    char *text = dump(arr);
    assert_string_equal(text, "[\"Deals.edit\"]");
    free(text);
    json_decref(arr);
    watch_item_fini(&it);
    expect_item_error("{\"channel_id\":1,\"events\":[\"Leads.EDITS\"],\"notify_url\":"
                      "\"http://e.io\"}",
                      0, WATCH_POST, "v8",
                      "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"events\","
                      "\"json_path\":\"$.watch[0].events[0]\"},\"message\":\"invalid data\","
                      "\"status\":\"error\"}");
}

/* "token": "" is no token (an empty text is null in Zoho, as in Herald's records): POST stores
 * none, and a PATCH with "" clears it as null does. */
static void an_empty_token_is_no_token(void **state)
{
    (void)state;
    struct watch_item it;
    expect_item_ok(ITEM(",\"token\":\"\""), WATCH_POST, "v8", &it);
    assert_true(it.has_token);
    assert_null(it.token);
    watch_item_fini(&it);
    expect_item_ok("{\"channel_id\":\"5\",\"token\":\"\"}", WATCH_PATCH, "v2", &it);
    assert_true(it.has_token);
    assert_null(it.token);
    watch_item_fini(&it);
}

static void mandatory_keys_are_reported_with_json_path(void **state)
{
    (void)state;
    expect_item_error("{\"channel_id\":\"1\",\"notify_url\":\"http://example.com\"}", 0, WATCH_POST,
                      "v8",
                      "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"events\","
                      "\"json_path\":\"$.watch[0].events\"},\"message\":\"required field not "
                      "found\",\"status\":\"error\"}");
    expect_item_error("{\"events\":[\"Leads.all\"],\"notify_url\":\"http://example.com\"}", 1,
                      WATCH_POST, "v8",
                      "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"channel_id\","
                      "\"json_path\":\"$.watch[1].channel_id\"},\"message\":\"required field not "
                      "found\",\"status\":\"error\"}");
    expect_item_error("{\"events\":[\"Leads.all\"],\"channel_id\":1}", 0, WATCH_PUT, "v8",
                      "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"notify_url\","
                      "\"json_path\":\"$.watch[0].notify_url\"},\"message\":\"required field not "
                      "found\",\"status\":\"error\"}");
    expect_item_error(
        "{\"events\":[\"Leads.all\"],\"channel_id\":null,\"notify_url\":\"http://e.io\"}", 0,
        WATCH_POST, "v8",
        "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"channel_id\","
        "\"json_path\":\"$.watch[0].channel_id\"},\"message\":\"required field not "
        "found\",\"status\":\"error\"}");
}

static void patch_before_v6_needs_only_channel_id(void **state)
{
    (void)state;
    struct watch_item it;
    expect_item_ok("{\"channel_id\":\"5\",\"token\":\"t\"}", WATCH_PATCH, "v2", &it);
    assert_int_equal(it.mod_count, 0);
    assert_null(it.notify_url);
    assert_true(it.has_token);
    assert_false(it.has_expiry);
    watch_item_fini(&it);
    /* v3 to v5 as v2 (their docs do not make notify_url mandatory); v6 on need all three. */
    static const char *const lenient[] = {"v2.1", "v3", "v4", "v5"};
    for (size_t i = 0; i < sizeof lenient / sizeof lenient[0]; i++) {
        expect_item_ok("{\"channel_id\":\"5\"}", WATCH_PATCH, lenient[i], &it);
        watch_item_fini(&it);
    }
    expect_item_error("{\"channel_id\":\"5\",\"events\":[\"Leads.edit\"]}", 0, WATCH_PATCH, "v6",
                      "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"notify_url\","
                      "\"json_path\":\"$.watch[0].notify_url\"},\"message\":\"required field not "
                      "found\",\"status\":\"error\"}");
    expect_item_error("{\"channel_id\":\"5\",\"events\":[\"Leads.edit\"]}", 0, WATCH_PATCH, "v8",
                      "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"notify_url\","
                      "\"json_path\":\"$.watch[0].notify_url\"},\"message\":\"required field not "
                      "found\",\"status\":\"error\"}");
    /* _delete_events needs channel_id and events only */
    expect_item_ok("{\"channel_id\":\"5\",\"events\":[\"Leads.edit\",\"Cases.all\"],"
                   "\"_delete_events\":true}",
                   WATCH_PATCH, "v8", &it);
    assert_true(it.is_delete_events);
    assert_int_equal(it.mod_count, 2);
    watch_item_fini(&it);
    expect_item_error("{\"channel_id\":\"5\",\"events\":[\"Leads.edit\"],\"_delete_events\":\"y\"}",
                      0, WATCH_PATCH, "v8",
                      "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"_delete_events\","
                      "\"expected_data_type\":\"boolean\",\"json_path\":\"$.watch[0]._delete_"
                      "events\"},\"message\":\"invalid data\",\"status\":\"error\"}");
}

static void rejects_token_longer_than_50(void **state)
{
    (void)state;
    char text[512];
    snprintf(text, sizeof text, ITEM(",\"token\":\"%s\""),
             "123456789012345678901234567890123456789012345678901");
    expect_item_error(
        text, 2, WATCH_POST, "v8",
        "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"token\",\"json_path\":"
        "\"$.watch[2].token\",\"maximum_length\":50},\"message\":\"invalid data\","
        "\"status\":\"error\"}");
    /* 50 characters of two bytes each are fine */
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"channel_id\":1,\"events\":[\"Leads.edit\"],\"notify_url\":\"http://e.io\","
                 "\"token\":\"");
    for (int i = 0; i < 50; i++)
        buf_puts(&b, "\xc3\xa9");
    buf_puts(&b, "\"}");
    struct watch_item it;
    expect_item_ok(b.data, WATCH_POST, "v8", &it);
    watch_item_fini(&it);
    buf_fini(&b);
}

static void rejects_unknown_module_or_operation_in_events(void **state)
{
    (void)state;
    static const char *const bad[] = {"Nope.create", "Leads.update", "Leads", ".edit", "Leads."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"channel_id\":1,\"events\":[\"Leads.edit\",\"%s\"],\"notify_url\":"
                 "\"http://e.io\"}",
                 bad[i]);
        expect_item_error(text, 0, WATCH_POST, "v8",
                          "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"events\","
                          "\"json_path\":\"$.watch[0].events[1]\"},\"message\":\"invalid data\","
                          "\"status\":\"error\"}");
    }
    expect_item_error("{\"channel_id\":1,\"events\":\"Leads.edit\",\"notify_url\":\"http://e.io\"}",
                      0, WATCH_POST, "v8",
                      "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"events\","
                      "\"expected_data_type\":\"jsonarray\",\"json_path\":\"$.watch[0].events\"},"
                      "\"message\":\"invalid data\",\"status\":\"error\"}");
}

/* Zoho types channel_id "long", and clients send negative ones (AMP casts a 64-bit hash to a
 * signed long); only 0 is refused. */
static void channel_id_is_a_signed_long_as_string_or_number(void **state)
{
    (void)state;
    struct watch_item it;
    expect_item_ok(ITEM(""), WATCH_POST, "v8", &it);
    assert_int_equal(it.channel_id, 1000000068002LL);
    watch_item_fini(&it);
    static const struct {
        const char *json;
        int64_t id;
    } good[] = {{"-4", -4},
                {"\"-2542271027018545353\"", -2542271027018545353LL},
                {"\"-9223372036854775808\"", INT64_MIN},
                {"9223372036854775807", INT64_MAX}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "{\"channel_id\":%s,\"events\":[\"Leads.edit\"],\"notify_url\":\"http://e.io\"}",
                 good[i].json);
        expect_item_ok(text, WATCH_POST, "v8", &it);
        assert_int_equal(it.channel_id, good[i].id);
        watch_item_fini(&it);
    }
    static const char *const bad[] = {"\"abc\"",
                                      "0",
                                      "\"-0\"",
                                      "\"-\"",
                                      "\"+4\"",
                                      "1.5",
                                      "true",
                                      "\"12345678901234567890\"",
                                      "\"-9223372036854775809\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "{\"channel_id\":%s,\"events\":[\"Leads.edit\"],\"notify_url\":\"http://e.io\"}",
                 bad[i]);
        expect_item_error(text, 0, WATCH_POST, "v8",
                          "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"channel_id\","
                          "\"expected_data_type\":\"long\",\"json_path\":\"$.watch[0].channel_"
                          "id\"},\"message\":\"invalid data\",\"status\":\"error\"}");
    }
}

static void expiry_defaults_clamps_and_refuses_the_past(void **state)
{
    (void)state;
    struct watch_item it;
    /* two days ahead: kept on v4+, now + 1 h on v2, v2.1, v3 */
    expect_item_ok(ITEM(",\"channel_expiry\":\"2026-01-03T00:00:00Z\""), WATCH_POST, "v4", &it);
    assert_int_equal(it.expiry_s, NOW + 2 * 86400);
    watch_item_fini(&it);
    static const char *const short_versions[] = {"v2", "v2.1", "v3"};
    for (size_t i = 0; i < 3; i++) {
        expect_item_ok(ITEM(",\"channel_expiry\":\"2026-01-03T00:00:00Z\""), WATCH_POST,
                       short_versions[i], &it);
        assert_int_equal(it.expiry_s, NOW + 3600);
        watch_item_fini(&it);
    }
    /* 7 days exactly is allowed; beyond is now + 1 h */
    expect_item_ok(ITEM(",\"channel_expiry\":\"2026-01-08T00:00:00+00:00\""), WATCH_POST, "v8",
                   &it);
    assert_int_equal(it.expiry_s, NOW + 7 * 86400);
    watch_item_fini(&it);
    expect_item_ok(ITEM(",\"channel_expiry\":\"2026-01-08T00:00:01Z\""), WATCH_POST, "v8", &it);
    assert_int_equal(it.expiry_s, NOW + 3600);
    watch_item_fini(&it);
    /* an offset */
    expect_item_ok(ITEM(",\"channel_expiry\":\"2025-12-31T20:00:00-11:00\""), WATCH_PUT, "v8", &it);
    assert_int_equal(it.expiry_s, NOW + 7 * 3600);
    watch_item_fini(&it);
    expect_item_error(ITEM(",\"channel_expiry\":\"2025-12-31T23:00:00Z\""), 0, WATCH_POST, "v8",
                      "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"channel_expiry\","
                      "\"json_path\":\"$.watch[0].channel_expiry\"},\"message\":\"invalid data\","
                      "\"status\":\"error\"}");
    expect_item_error(ITEM(",\"channel_expiry\":\"tomorrow\""), 0, WATCH_POST, "v8",
                      "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"channel_expiry\","
                      "\"expected_data_type\":\"datetime\",\"json_path\":\"$.watch[0].channel_"
                      "expiry\"},\"message\":\"invalid data\",\"status\":\"error\"}");
}

static void flags_must_be_booleans(void **state)
{
    (void)state;
    expect_item_error(
        ITEM(",\"return_affected_field_values\":\"yes\""), 0, WATCH_POST, "v8",
        "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"return_affected_"
        "field_values\",\"expected_data_type\":\"boolean\",\"json_path\":\"$.watch[0]."
        "return_affected_field_values\"},\"message\":\"invalid data\",\"status\":"
        "\"error\"}");
    expect_item_error(ITEM(",\"notify_on_related_action\":1"), 0, WATCH_POST, "v8",
                      "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"notify_on_related_"
                      "action\",\"expected_data_type\":\"boolean\",\"json_path\":\"$.watch[0]."
                      "notify_on_related_action\"},\"message\":\"invalid data\",\"status\":"
                      "\"error\"}");
    struct watch_item it;
    expect_item_ok(ITEM(",\"notify_on_related_action\":false,\"fields\":[\"a\"]"), WATCH_POST, "v8",
                   &it);
    assert_false(it.notify_on_related);
    assert_string_equal(it.fields, "[\"a\"]");
    watch_item_fini(&it);
}

static void notify_url_must_be_absolute_http(void **state)
{
    (void)state;
    static const char *const bad[] = {"/hook", "ftp://example.com/x", "http://", "example.com/x",
                                      "http://user@example.com/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "{\"channel_id\":1,\"events\":[\"Leads.edit\"],\"notify_url\":\"%s\"}", bad[i]);
        expect_item_error(text, 0, WATCH_POST, "v8",
                          "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"notify_url\","
                          "\"json_path\":\"$.watch[0].notify_url\"},\"message\":\"invalid data\","
                          "\"status\":\"error\"}");
    }
    struct buf b;
    buf_init(&b);
    /* at most 255 characters (Zoho's OAS: notify_url maxLength 255): exactly 255 passes */
    buf_puts(&b, "{\"channel_id\":1,\"events\":[\"Leads.edit\"],\"notify_url\":\"http://e.io/");
    for (size_t i = strlen("http://e.io/"); i < 255; i++)
        buf_putc(&b, 'a');
    buf_puts(&b, "\"}");
    struct watch_item it;
    expect_item_ok(b.data, WATCH_POST, "v8", &it);
    assert_int_equal(strlen(it.notify_url), 255);
    watch_item_fini(&it);
    b.len -= 2;
    buf_puts(&b, "a\"}");
    expect_item_error(b.data, 0, WATCH_POST, "v8",
                      "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"notify_url\","
                      "\"json_path\":\"$.watch[0].notify_url\",\"maximum_length\":255},"
                      "\"message\":\"invalid data\",\"status\":\"error\"}");
    buf_fini(&b);
}

/* Conditions. */

static void expect_cond_error(const char *cond_text, const char *expected)
{
    char text[4096];
    snprintf(text, sizeof text, ITEM(",\"notification_condition\":[%s]"), cond_text);
    expect_item_error(text, 0, WATCH_POST, "v8", expected);
}

static void field_selection_without_type_is_dependent_field_missing(void **state)
{
    (void)state;
    expect_cond_error(
        "{\"module\":{\"api_name\":\"Deals\"},\"field_selection\":{\"group_operator\":\"or\","
        "\"group\":[{\"field\":{\"api_name\":\"Stage\"}}]}}",
        "{\"code\":\"DEPENDENT_FIELD_MISSING\",\"details\":{\"api_name\":\"field_selection\","
        "\"json_path\":\"$.watch[0].notification_condition[0].field_selection\",\"dependee\":{"
        "\"api_name\":\"type\",\"json_path\":\"$.watch[0].notification_condition[0].type\"}},"
        "\"message\":\"DEPENDENT_FIELD_MISSING\",\"status\":\"error\"}");
    expect_cond_error("{\"module\":{\"api_name\":\"Deals\"}}",
                      "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"type\","
                      "\"json_path\":\"$.watch[0].notification_condition[0].type\"},\"message\":"
                      "\"required field not found\",\"status\":\"error\"}");
    expect_cond_error("{\"type\":\"field_selection\",\"field_selection\":{}}",
                      "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"module\","
                      "\"json_path\":\"$.watch[0].notification_condition[0].module\"},\"message\":"
                      "\"required field not found\",\"status\":\"error\"}");
}

static void bad_type_lists_supported_values(void **state)
{
    (void)state;
    expect_cond_error(
        "{\"type\":\"criteria\",\"module\":{\"api_name\":\"Deals\"},\"field_selection\":{}}",
        "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"type\",\"json_path\":\"$.watch[0]."
        "notification_condition[0].type\",\"supported_values\":[\"field_selection\"]},\"message\":"
        "\"invalid data\",\"status\":\"error\"}");
    expect_cond_error(
        "{\"type\":\"field_selection\",\"module\":\"Deals\",\"field_selection\":{}}",
        "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"module\",\"expected_data_type\":"
        "\"jsonobject\",\"json_path\":\"$.watch[0].notification_condition[0].module\"},"
        "\"message\":\"invalid data\",\"status\":\"error\"}");
}

static void module_needs_api_name_or_id_that_agree(void **state)
{
    (void)state;
    expect_cond_error(
        "{\"type\":\"field_selection\",\"module\":{},\"field_selection\":{}}",
        "{\"code\":\"EXPECTED_FIELD_MISSING\",\"details\":{\"expected_fields\":[{\"api_name\":"
        "\"api_name\",\"json_path\":\"$.watch[0].notification_condition[0].module.api_name\"},{"
        "\"api_name\":\"id\",\"json_path\":\"$.watch[0].notification_condition[0].module.id\"}]},"
        "\"message\":\"Specify atleast one field\",\"status\":\"error\"}");
    expect_cond_error(
        "{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Deals\",\"id\":"
        "\"554023000000000125\"},\"field_selection\":{}}",
        "{\"code\":\"AMBIGUITY_DURING_PROCESSING\",\"details\":{\"ambiguity_due_to\":[{"
        "\"api_name\":\"api_name\",\"json_path\":\"$.watch[0].notification_condition[0].module."
        "api_name\"},{\"api_name\":\"id\",\"json_path\":\"$.watch[0].notification_condition[0]."
        "module.id\"}]},\"message\":\"AMBIGUITY_DURING_PROCESSING\",\"status\":\"error\"}");
    expect_cond_error(
        "{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Nope\"},\"field_selection\":{}}",
        "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"module\",\"json_path\":\"$.watch[0]"
        ".notification_condition[0].module\"},\"message\":\"required field not found\","
        "\"status\":\"error\"}");
    /* a condition about a module the item does not watch */
    expect_cond_error(
        "{\"type\":\"field_selection\",\"module\":{\"id\":\"554023000000000125\"},"
        "\"field_selection\":{\"group_operator\":\"or\",\"group\":[{\"field\":{\"api_name\":"
        "\"Last_Name\"}}]}}",
        "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"module\",\"json_path\":\"$.watch[0]"
        ".notification_condition[0].module\"},\"message\":\"invalid data\",\"status\":\"error\"}");
}

#define COND(selection)                                                          \
    "{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Deals\"},\"field_" \
    "selection\":" selection "}"
#define F(name) "{\"field\":{\"api_name\":\"" name "\"}}"

static void group_operator_and_group_are_checked(void **state)
{
    (void)state;
    expect_cond_error(COND("{\"group\":[" F("Stage") "]}"),
                      "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"group_"
                      "operator\",\"json_path\":\"$.watch[0].notification_condition[0].field_"
                      "selection.group_operator\"},\"message\":\"required field not found\","
                      "\"status\":\"error\"}");
    expect_cond_error(COND("{\"group_operator\":\"xor\",\"group\":[" F("Stage") "]}"),
                      "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"group_operator\","
                      "\"json_path\":\"$.watch[0].notification_condition[0].field_selection.group_"
                      "operator\",\"supported_values\":[\"or\",\"and\"]},\"message\":\"invalid "
                      "data\",\"status\":\"error\"}");
    expect_cond_error(
        COND("{\"group_operator\":\"or\",\"group\":[" F("Stage") "," F("Amount") "," F(
            "Lead_Source") "]}"),
        "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"group\",\"json_path\":\"$.watch[0]."
        "notification_condition[0].field_selection.group\",\"maximum_length\":2},\"message\":"
        "\"invalid data\",\"status\":\"error\"}");
    expect_cond_error(
        COND("{\"group_operator\":\"or\",\"group\":[" F("Stage") ",{\"group_operator\":\"and\"}]}"),
        "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"group\",\"json_path\":\"$."
        "watch[0].notification_condition[0].field_selection.group[1].group\"},\"message\":"
        "\"required field not found\",\"status\":\"error\"}");
    expect_cond_error(COND("{\"group_operator\":\"or\",\"group\":[" F("Stage") ",{}]}"),
                      "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"field\","
                      "\"json_path\":\"$.watch[0].notification_condition[0].field_selection.group["
                      "1].field\"},\"message\":\"required field not found\",\"status\":\"error\"}");
}

static void unknown_or_ambiguous_field_is_refused(void **state)
{
    (void)state;
    expect_cond_error(
        COND("{\"group_operator\":\"or\",\"group\":[" F("Stage") "," F("Nope") "]}"),
        "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"field\",\"json_path\":"
        "\"$.watch[0].notification_condition[0].field_selection.group[1].field\"},"
        "\"message\":\"invalid data\",\"status\":\"error\"}");
    expect_cond_error(
        COND("{\"group_operator\":\"or\",\"group\":[{\"field\":{\"api_name\":\"Stage\",\"id\":"
             "\"554023000000000523\"}}]}"),
        "{\"code\":\"AMBIGUITY_DURING_PROCESSING\",\"details\":{\"ambiguity_due_to\":[{"
        "\"api_name\":\"api_name\",\"json_path\":\"$.watch[0].notification_condition[0].field_"
        "selection.group[0].field.api_name\"},{\"api_name\":\"id\",\"json_path\":\"$.watch[0]."
        "notification_condition[0].field_selection.group[0].field.id\"}]},\"message\":\"AMBIGUITY_"
        "DURING_PROCESSING\",\"status\":\"error\"}");
    /* by id alone */
    struct watch_cond *c = NULL;
    json_t *j = load(COND("{\"group_operator\":\"and\",\"group\":[{\"field\":{\"id\":"
                          "554023000000000525}}]}"));
    assert_null(watch_cond_parse(j, "$", &c));
    assert_int_equal(watch_cond_leaf_count(c), 1);
    watch_cond_free(c);
    json_decref(j);
}

static void more_than_ten_fields_in_total_is_refused(void **state)
{
    (void)state;
    /* 11 leaves nested two by two */
    struct buf b;
    buf_init(&b);
    static const char *const names[] = {"Stage",        "Amount", "Lead_Source", "Account_Name",
                                        "Closing_Date", "Type",   "Probability", "Description",
                                        "Deal_Name",    "Owner",  "Contact_Name"};
    for (int i = 0; i < 10; i++)
        buf_printf(&b, "{\"group_operator\":\"or\",\"group\":[{\"field\":{\"api_name\":\"%s\"}},",
                   names[i]);
    buf_printf(&b, "{\"field\":{\"api_name\":\"%s\"}}", names[10]);
    for (int i = 0; i < 10; i++)
        buf_puts(&b, "]}");
    char text[4096];
    snprintf(text, sizeof text,
             "{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Deals\"},"
             "\"field_selection\":%s}",
             b.data);
    expect_cond_error(text, "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"field_"
                            "selection\",\"json_path\":\"$.watch[0].notification_condition[0]."
                            "field_selection\",\"maximum_length\":10},\"message\":\"invalid data\","
                            "\"status\":\"error\"}");
    /* ten are fine */
    buf_reset(&b);
    for (int i = 0; i < 9; i++)
        buf_printf(&b, "{\"group_operator\":\"or\",\"group\":[{\"field\":{\"api_name\":\"%s\"}},",
                   names[i]);
    buf_printf(&b, "{\"field\":{\"api_name\":\"%s\"}}", names[9]);
    for (int i = 0; i < 9; i++)
        buf_puts(&b, "]}");
    json_t *sel = load(b.data);
    json_t *cj = json_pack("{s:s, s:{s:s}, s:o}", "type", "field_selection", "module", "api_name",
                           "Deals", "field_selection", sel);
    struct watch_cond *c = NULL;
    assert_null(watch_cond_parse(cj, "$", &c));
    assert_int_equal(watch_cond_leaf_count(c), 10);
    watch_cond_free(c);
    json_decref(cj);
    buf_fini(&b);
}

static const struct meta_field *field(const char *module, const char *name)
{
    const struct meta_field *f = meta_field_by_name(meta_module_by_name(module), name);
    assert_non_null(f);
    return f;
}

static void seed_condition_evaluates_on_changed_fields(void **state)
{
    (void)state;
    json_t *j = load(seed_condition);
    struct watch_cond *c = NULL;
    assert_null(watch_cond_parse(j, "$", &c));
    const struct meta_field *stage = field("Deals", "Stage");
    const struct meta_field *account = field("Deals", "Account_Name");
    const struct meta_field *source = field("Deals", "Lead_Source");
    const struct meta_field *amount = field("Deals", "Amount");
    const struct meta_field *s1[] = {stage};
    const struct meta_field *s2[] = {account};
    const struct meta_field *s3[] = {amount, source, account};
    const struct meta_field *s4[] = {amount};
    assert_true(watch_cond_eval(c, s1, 1));
    assert_false(watch_cond_eval(c, s2, 1));
    assert_true(watch_cond_eval(c, s3, 3));
    assert_false(watch_cond_eval(c, s4, 1));
    assert_false(watch_cond_eval(c, NULL, 0));
    watch_cond_free(c);
    json_decref(j);
}

static void condition_renders_in_zoho_get_shape(void **state)
{
    (void)state;
    /* the condition of the reference's GET sample */
    json_t *j = load("{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Leads\",\"id\":"
                     "\"554023000000000125\"},\"field_selection\":{\"group_operator\":\"and\","
                     "\"group\":[{\"field\":{\"api_name\":\"Last_Name\",\"id\":"
                     "\"554023000000000559\"}},{\"field\":{\"api_name\":\"Full_Name\",\"id\":"
                     "\"554023000000000597\"}}]}}");
    struct watch_cond *c = NULL;
    assert_null(watch_cond_parse(j, "$", &c));
    json_t *r = watch_cond_render(c);
    char *text = dump(r);
    assert_string_equal(
        text,
        "{\"field_selection\":{\"group_operator\":\"and\",\"group\":[{\"field\":{\"api_name\":"
        "\"Last_Name\",\"id\":\"554023000000000559\"},\"group_operator\":null,\"group\":null},"
        "{\"field\":{\"api_name\":\"Full_Name\",\"id\":\"554023000000000597\"},\"group_"
        "operator\":null,\"group\":null}]},\"module\":{\"api_name\":\"Leads\",\"id\":"
        "\"554023000000000125\"},\"type\":\"field_selection\"}");
    /* the GET shape parses back to the same tree */
    struct watch_cond *again = NULL;
    assert_null(watch_cond_parse(r, "$", &again));
    json_t *r2 = watch_cond_render(again);
    char *text2 = dump(r2);
    assert_string_equal(text, text2);
    free(text);
    free(text2);
    json_decref(r);
    json_decref(r2);
    watch_cond_free(c);
    watch_cond_free(again);
    json_decref(j);

    /* nested groups appear without "field" */
    j = load(seed_condition);
    assert_null(watch_cond_parse(j, "$", &c));
    r = watch_cond_render(c);
    text = dump(json_object_get(r, "field_selection"));
    assert_string_equal(
        text, "{\"group_operator\":\"or\",\"group\":[{\"field\":{\"api_name\":\"Stage\",\"id\":"
              "\"554023000000000525\"},\"group_operator\":null,\"group\":null},{\"group_operator\":"
              "\"and\",\"group\":[{\"field\":{\"api_name\":\"Account_Name\",\"id\":"
              "\"554023000000000523\"},\"group_operator\":null,\"group\":null},{\"field\":{"
              "\"api_name\":\"Lead_Source\",\"id\":\"554023000000000535\"},\"group_operator\":null,"
              "\"group\":null}]}]}");
    free(text);
    json_decref(r);
    watch_cond_free(c);
    json_decref(j);
}

/* One field may stand alone in field_selection, without a group: AMP's connector sends a single
 * watched field so, against Zoho. GET echoes it as a leaf, which parses back. */
static void a_single_field_needs_no_group(void **state)
{
    (void)state;
    json_t *j = load("{\"type\":\"field_selection\",\"module\":{\"api_name\":\"Deals\"},"
                     "\"field_selection\":{\"field\":{\"api_name\":\"Stage\"}}}");
    struct watch_cond *c = NULL;
    assert_null(watch_cond_parse(j, "$", &c));
    assert_int_equal(watch_cond_leaf_count(c), 1);
    const struct meta_field *stage[] = {field("Deals", "Stage")};
    const struct meta_field *amount[] = {field("Deals", "Amount")};
    assert_true(watch_cond_eval(c, stage, 1));
    assert_false(watch_cond_eval(c, amount, 1));
    json_t *r = watch_cond_render(c);
    char *text = dump(json_object_get(r, "field_selection"));
    assert_string_equal(text, "{\"field\":{\"api_name\":\"Stage\",\"id\":\"554023000000000525\"},"
                              "\"group_operator\":null,\"group\":null}");
    struct watch_cond *again = NULL;
    assert_null(watch_cond_parse(r, "$", &again));
    assert_true(watch_cond_eval(again, stage, 1));
    free(text);
    json_decref(r);
    watch_cond_free(again);
    watch_cond_free(c);
    json_decref(j);
    /* A field beside a group is still refused, and a bare selection still wants the operator. */
    expect_cond_error(COND("{\"field\":{\"api_name\":\"Stage\"},\"group_operator\":\"or\"}"),
                      "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"group\","
                      "\"json_path\":\"$.watch[0].notification_condition[0].field_selection."
                      "group\"},\"message\":\"required field not found\",\"status\":\"error\"}");
}

/* Payloads, against the reference's samples (compact; the dispatcher writes the first key). */

static void expect_payload(const struct watch_payload *p, const char *sample)
{
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"server_time\":");
    const char *comma = strchr(sample, ',');
    buf_append(&b, sample + 15, (size_t)(comma - sample) - 15);
    buf_putc(&b, ',');
    watch_payload_render(p, &b);
    if (strcmp(b.data, sample) != 0)
        fail_msg("payload\n  got      %s\n  expected %s", b.data, sample);
    json_t *parsed = json_loads(b.data, 0, NULL);
    assert_non_null(parsed);
    json_decref(parsed);
    buf_fini(&b);
}

static void renders_the_seed_update_sample(void **state)
{
    (void)state;
    json_t *values = load("{\"Stage\":\"Proposal/Price Quote\",\"Probability\":75}");
    struct watch_payload_record rec = {.id = 5725767000003093005LL, .values = values};
    struct watch_payload p = {
        .notify_url = "https://www.zoho.com/callback?authorization=Zoho-oauthtoken "
                      "1000.23dnsbbbh455jnn&key1=val1&key2=val2",
        .module = "Deals",
        .api_domain = "https://www.zohoapis.com",
        .op = CHANGE_UPDATE,
        .channel_id = 1000000068002LL,
        .token = "TOKEN_FOR_VERIFICATION_OF_1000000068001",
        .has_values = true,
        .records = &rec,
        .count = 1,
    };
    expect_payload(
        &p, "{\"server_time\":1719309544639,\"affected_values\":[{\"record_id\":"
            "\"5725767000003093005\",\"values\":{\"Probability\":75,\"Stage\":\"Proposal/Price "
            "Quote\"}}],\"query_params\":{\"key1\":\"val1\",\"key2\":\"val2\",\"?authorization\":"
            "\"Zoho-oauthtoken 1000.23dnsbbbh455jnn\"},\"module\":\"Deals\",\"resource_uri\":"
            "\"https://www.zohoapis.com/crm/v2/Deals\",\"ids\":[\"5725767000003093005\"],"
            "\"affected_fields\":[{\"5725767000003093005\":[\"Stage\",\"Probability\"]}],"
            "\"operation\":\"update\",\"channel_id\":\"1000000068002\",\"token\":\"TOKEN_FOR_"
            "VERIFICATION_OF_1000000068001\"}");
    json_decref(values);
}

static void renders_the_insert_sample(void **state)
{
    (void)state;
    json_t *values = load("{\"Last_Name\":\"Boyle\"}");
    struct watch_payload_record rec = {.id = 5725767000003000064LL, .values = values};
    struct watch_payload p = {
        .notify_url = "https://example.com/hook",
        .module = "Leads",
        .api_domain = "https://www.zohoapis.com",
        .op = CHANGE_INSERT,
        .channel_id = 1000000068001LL,
        .token = "TOKEN_FOR_VERIFICATION_OF_1000000068001",
        .records = &rec,
        .count = 1,
    };
    expect_payload(&p, "{\"server_time\":1718117126473,\"query_params\":{},\"module\":\"Leads\","
                       "\"resource_uri\":\"https://www.zohoapis.com/crm/v2/Leads\",\"ids\":["
                       "\"5725767000003000064\"],\"affected_fields\":[],\"operation\":\"insert\","
                       "\"channel_id\":\"1000000068001\",\"token\":\"TOKEN_FOR_VERIFICATION_OF_"
                       "1000000068001\"}");
    /* with values: every field set; no token renders null */
    p.has_values = true;
    p.token = NULL;
    expect_payload(&p, "{\"server_time\":1,\"affected_values\":[{\"record_id\":"
                       "\"5725767000003000064\",\"values\":{\"Last_Name\":\"Boyle\"}}],"
                       "\"query_params\":{},\"module\":\"Leads\",\"resource_uri\":\"https://"
                       "www.zohoapis.com/crm/v2/Leads\",\"ids\":[\"5725767000003000064\"],"
                       "\"affected_fields\":[],\"operation\":\"insert\",\"channel_id\":"
                       "\"1000000068001\",\"token\":null}");
    json_decref(values);
}

static void delete_and_related_records_render_empty_fields(void **state)
{
    (void)state;
    json_t *values = json_object();
    struct watch_payload_record recs[] = {{.id = 11, .values = values}, {.id = 12, .values = NULL}};
    struct watch_payload p = {
        .notify_url = "http://h/x",
        .module = "Leads",
        .api_domain = "http://127.0.0.1:8080",
        .op = CHANGE_DELETE,
        .channel_id = 3,
        .has_values = true,
        .records = recs,
        .count = 2,
    };
    expect_payload(&p, "{\"server_time\":1,\"affected_values\":[],\"query_params\":{},\"module\":"
                       "\"Leads\",\"resource_uri\":\"http://127.0.0.1:8080/crm/v2/Leads\",\"ids\":"
                       "[\"11\",\"12\"],\"affected_fields\":[],\"operation\":\"delete\","
                       "\"channel_id\":\"3\",\"token\":null}");
    p.op = CHANGE_UPDATE;
    expect_payload(&p,
                   "{\"server_time\":1,\"affected_values\":[{\"record_id\":\"11\",\"values\":{}}"
                   ",{\"record_id\":\"12\",\"values\":{}}],\"query_params\":{},\"module\":"
                   "\"Leads\",\"resource_uri\":\"http://127.0.0.1:8080/crm/v2/Leads\",\"ids\":"
                   "[\"11\",\"12\"],\"affected_fields\":[{\"11\":[]},{\"12\":[]}],\"operation\":"
                   "\"update\",\"channel_id\":\"3\",\"token\":null}");
    json_decref(values);
}

static void values_follow_java_hashmap_order(void **state)
{
    (void)state;
    /* the live sample's values, given in another order; nested objects too */
    json_t *values = load("{\"Record_Status__s\":0,\"Modified_By\":{\"email\":\"i@x.io\","
                          "\"id\":\"6172731000000457001\",\"name\":\"Integration User\"}}");
    struct watch_payload_record rec = {.id = 6172731000000939010LL, .values = values};
    struct watch_payload p = {
        .notify_url = "https://h/x",
        .module = "Leads",
        .api_domain = "https://www.zohoapis.com",
        .op = CHANGE_UPDATE,
        .channel_id = 1745564708612968000LL,
        .has_values = true,
        .records = &rec,
        .count = 1,
    };
    expect_payload(
        &p, "{\"server_time\":1745564776307,\"affected_values\":[{\"record_id\":"
            "\"6172731000000939010\",\"values\":{\"Modified_By\":{\"name\":\"Integration User\","
            "\"id\":\"6172731000000457001\",\"email\":\"i@x.io\"},\"Record_Status__s\":0}}],"
            "\"query_params\":{},\"module\":\"Leads\",\"resource_uri\":\"https://"
            "www.zohoapis.com/crm/v2/Leads\",\"ids\":[\"6172731000000939010\"],\"affected_"
            "fields\":[{\"6172731000000939010\":[\"Record_Status__s\",\"Modified_By\"]}],"
            "\"operation\":\"update\",\"channel_id\":\"1745564708612968000\",\"token\":null}");
    /* a pre-rendered query_params is used as given */
    struct buf qp;
    buf_init(&qp);
    watch_payload_query_params("http://h/cb?authorization=a b&key1=val1&key2=val2", &qp);
    assert_string_equal(qp.data,
                        "{\"key1\":\"val1\",\"key2\":\"val2\",\"?authorization\":\"a b\"}");
    buf_fini(&qp);
    /* no query, or an empty one: {} */
    const char *const plain[] = {"http://h/cb", "http://h/cb?", "http://h:8080"};
    for (size_t i = 0; i < 3; i++) {
        buf_init(&qp);
        watch_payload_query_params(plain[i], &qp);
        assert_string_equal(qp.data, "{}");
        buf_fini(&qp);
    }
    json_decref(values);
}

/* The index and the matcher. */

static void put_channel(struct watch_index *ix, int64_t id, const char *module, unsigned events,
                        const char *cond, int64_t expiry_s, bool related)
{
    struct watch_index_row row = {
        .module = meta_module_by_name(module), .events = events, .condition = cond};
    struct watch_index_channel ch = {
        .org_id = 1,
        .channel_id = id,
        .expiry_s = expiry_s,
        .notify_url = "http://h/x?a=b",
        .token = NULL,
        .notify_on_related = related,
        .return_values = false,
        .rows = &row,
        .row_count = 1,
    };
    watch_index_put(ix, &ch);
}

struct event_fixture {
    json_t *values[3];
    struct change_record recs[3];
    struct change_lookup lookups[3];
    struct change_event ev;
};

static void make_event(struct event_fixture *f, const char *module, enum change_op op,
                       const char *const *values, size_t n)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < n; i++) {
        f->values[i] = load(values[i]);
        f->recs[i].id = (int64_t)(100 + i);
        f->recs[i].values = f->values[i];
    }
    f->ev = (struct change_event){
        .org_id = 1,
        .module = meta_module_by_name(module),
        .op = op,
        .records = f->recs,
        .count = n,
        .at_ms = (int64_t)NOW * 1000,
    };
}

static void event_fini(struct event_fixture *f)
{
    for (size_t i = 0; i < 3; i++)
        json_decref(f->values[i]);
}

static size_t match(const struct watch_index *ix, const struct change_event *ev,
                    struct watch_delivery **d)
{
    size_t n = 0;
    assert_int_equal(watch_match(ix, ev, 1, NOW, "http://api", d, &n), HERALD_OK);
    return n;
}

static json_t *hp_at_qp(json_t *b)
{
    return json_object_get(json_object_get(b, "query_params"), "?a");
}

static json_t *body_json(const struct watch_delivery *d)
{
    char text[8192];
    snprintf(text, sizeof text, "{\"server_time\":1,%s", d->body);
    return load(text);
}

struct emits {
    size_t calls;
    enum herald_err fail_with;
    int64_t channels[4];
};

static enum herald_err count_emit(void *arg, const struct watch_delivery *d)
{
    struct emits *e = arg;
    assert_true(d->body_len == strlen(d->body));
    if (e->calls < 4)
        e->channels[e->calls] = d->channel_id;
    e->calls++;
    return e->fail_with;
}

/* The matcher hands each callback over as it renders it (a fan-out holds one body at a time),
 * and the first failure to take one stops it and is its result. */
static void matcher_emits_one_delivery_at_a_time_and_stops_at_a_failure(void **state)
{
    (void)state;
    struct watch_index *ix = watch_index_new();
    for (int64_t c = 1; c <= 3; c++)
        put_channel(ix, c, "Leads", WATCH_EV_CREATE, NULL, NOW + 100, true);
    struct event_fixture f;
    const char *vals[] = {"{\"Last_Name\":\"A\"}"};
    make_event(&f, "Leads", CHANGE_INSERT, vals, 1);
    struct emits e = {0};
    assert_int_equal(watch_match_each(ix, &f.ev, 1, NOW, "http://api", count_emit, &e), HERALD_OK);
    assert_int_equal(e.calls, 3);
    assert_true(e.channels[0] != e.channels[1] && e.channels[1] != e.channels[2]);
    e = (struct emits){.fail_with = HERALD_ERR_STORE};
    assert_int_equal(watch_match_each(ix, &f.ev, 1, NOW, "http://api", count_emit, &e),
                     HERALD_ERR_STORE);
    assert_int_equal(e.calls, 1);
    event_fini(&f);
    watch_index_free(ix);
}

static void matcher_follows_module_operation_and_expiry(void **state)
{
    (void)state;
    struct watch_index *ix = watch_index_new();
    put_channel(ix, 1, "Leads", WATCH_EV_CREATE, NULL, NOW + 100, true);
    put_channel(ix, 2, "Leads", WATCH_EV_ALL, NULL, NOW + 100, true);
    put_channel(ix, 3, "Leads", WATCH_EV_ALL, NULL, NOW, true); /* expired */
    put_channel(ix, 4, "Contacts", WATCH_EV_ALL, NULL, NOW + 100, true);
    struct event_fixture f;
    const char *vals[] = {"{\"Last_Name\":\"A\"}", "{\"Last_Name\":\"B\",\"Email\":\"b@x.io\"}"};
    make_event(&f, "Leads", CHANGE_INSERT, vals, 2);
    struct watch_delivery *d = NULL;
    size_t n = match(ix, &f.ev, &d);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_true(d[i].channel_id == 1 || d[i].channel_id == 2);
        assert_string_equal(d[i].operation, "insert");
        assert_string_equal(d[i].url, "http://h/x?a=b");
        json_t *b = body_json(&d[i]);
        assert_string_equal(json_string_value(json_object_get(b, "operation")), "insert");
        assert_int_equal(json_array_size(json_object_get(b, "affected_fields")), 0);
        assert_int_equal(json_array_size(json_object_get(b, "ids")), 2);
        assert_string_equal(json_string_value(hp_at_qp(b)), "b");
        json_decref(b);
    }
    watch_deliveries_free(d, n);
    event_fini(&f);

    make_event(&f, "Leads", CHANGE_UPDATE, vals, 2);
    n = match(ix, &f.ev, &d);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].channel_id, 2);
    assert_int_equal(d[0].module_id, meta_module_by_name("Leads")->id_num);
    json_t *b = body_json(&d[0]);
    char *af = dump(json_object_get(b, "affected_fields"));
    assert_string_equal(af, "[{\"100\":[\"Last_Name\"]},{\"101\":[\"Last_Name\",\"Email\"]}]");
    free(af);
    json_decref(b);
    watch_deliveries_free(d, n);
    event_fini(&f);

    /* a module nobody watches, another organization */
    make_event(&f, "Deals", CHANGE_DELETE, vals, 1);
    assert_int_equal(match(ix, &f.ev, &d), 0);
    event_fini(&f);
    make_event(&f, "Leads", CHANGE_DELETE, vals, 1);
    f.ev.org_id = 2;
    assert_int_equal(match(ix, &f.ev, &d), 0);
    event_fini(&f);

    assert_int_equal(watch_index_live_count(ix, 1, NOW), 3);
    assert_int_equal(watch_index_size(ix), 3); /* the expired one was dropped by counting */
    watch_index_free(ix);
}

static void conditions_filter_edits_per_record_only(void **state)
{
    (void)state;
    struct watch_index *ix = watch_index_new();
    put_channel(ix, 1, "Deals", WATCH_EV_ALL, seed_condition, NOW + 100, true);
    struct event_fixture f;
    const char *vals[] = {"{\"Amount\":5}", "{\"Stage\":\"Closed Won\",\"Probability\":100}",
                          "{\"Account_Name\":{\"id\":\"9\"},\"Lead_Source\":\"Web\"}"};
    make_event(&f, "Deals", CHANGE_UPDATE, vals, 3);
    struct watch_delivery *d = NULL;
    size_t n = match(ix, &f.ev, &d);
    assert_int_equal(n, 1);
    json_t *b = body_json(&d[0]);
    char *ids = dump(json_object_get(b, "ids"));
    assert_string_equal(ids, "[\"101\",\"102\"]");
    free(ids);
    json_decref(b);
    watch_deliveries_free(d, n);
    event_fini(&f);

    /* nothing the condition names changed */
    make_event(&f, "Deals", CHANGE_UPDATE, vals, 1);
    assert_int_equal(match(ix, &f.ev, &d), 0);
    event_fini(&f);
    /* create is never filtered */
    make_event(&f, "Deals", CHANGE_INSERT, vals, 1);
    n = match(ix, &f.ev, &d);
    assert_int_equal(n, 1);
    watch_deliveries_free(d, n);
    event_fini(&f);
    watch_index_free(ix);
}

static void related_action_notifies_the_looked_up_record(void **state)
{
    (void)state;
    struct watch_index *ix = watch_index_new();
    put_channel(ix, 1, "Accounts", WATCH_EV_EDIT, NULL, NOW + 100, true);
    put_channel(ix, 2, "Accounts", WATCH_EV_EDIT, NULL, NOW + 100, false);
    put_channel(ix, 3, "Accounts", WATCH_EV_CREATE, NULL, NOW + 100, true);
    struct event_fixture f;
    const char *vals[] = {"{\"Last_Name\":\"A\"}", "{\"Last_Name\":\"B\"}"};
    make_event(&f, "Contacts", CHANGE_INSERT, vals, 2);
    const struct meta_module *accounts = meta_module_by_name("Accounts");
    f.lookups[0] = (struct change_lookup){.module = accounts, .id = 77};
    f.lookups[1] = (struct change_lookup){.module = accounts, .id = 77};
    f.recs[0].lookups = &f.lookups[0];
    f.recs[0].lookup_count = 1;
    f.recs[1].lookups = &f.lookups[1];
    f.recs[1].lookup_count = 1;
    struct watch_delivery *d = NULL;
    size_t n = match(ix, &f.ev, &d);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].channel_id, 1);
    assert_int_equal(d[0].module_id, accounts->id_num);
    assert_string_equal(d[0].operation, "update");
    json_t *b = body_json(&d[0]);
    assert_string_equal(json_string_value(json_object_get(b, "module")), "Accounts");
    char *af = dump(json_object_get(b, "affected_fields"));
    assert_string_equal(af, "[{\"77\":[]}]");
    free(af);
    json_decref(b);
    watch_deliveries_free(d, n);
    event_fini(&f);
    watch_index_free(ix);
}

static void users_events_match_the_users_module(void **state)
{
    (void)state;
    struct watch_index *ix = watch_index_new();
    put_channel(ix, 1, "users", WATCH_EV_ALL, NULL, NOW + 100, true);
    struct event_fixture f;
    const char *vals[] = {"{\"first_name\":\"A\"}"};
    make_event(&f, "users", CHANGE_UPDATE, vals, 1);
    struct watch_delivery *d = NULL;
    size_t n = match(ix, &f.ev, &d);
    assert_int_equal(n, 1);
    json_t *b = body_json(&d[0]);
    assert_string_equal(json_string_value(json_object_get(b, "module")), "users");
    assert_string_equal(json_string_value(json_object_get(b, "resource_uri")),
                        "http://api/crm/v2/users");
    json_decref(b);
    watch_deliveries_free(d, n);
    event_fini(&f);
    watch_index_free(ix);
}

static void index_survives_many_puts_and_removes(void **state)
{
    (void)state;
    struct watch_index *ix = watch_index_new();
    for (int64_t id = 1; id <= 5000; id++)
        put_channel(ix, id, id % 2 ? "Leads" : "Deals", WATCH_EV_ALL, NULL,
                    id % 10 == 0 ? NOW - 1 : NOW + 100, true);
    assert_int_equal(watch_index_size(ix), 5000);
    for (int64_t id = 1; id <= 5000; id += 3)
        watch_index_remove(ix, 1, id);
    for (int64_t id = 1; id <= 5000; id++) {
        bool is_expected = (id - 1) % 3 != 0 && id % 10 != 0;
        assert_int_equal(watch_index_has(ix, 1, id, NOW), is_expected);
    }
    size_t live = watch_index_live_count(ix, 1, NOW);
    size_t expected = 0;
    for (int64_t id = 1; id <= 5000; id++)
        expected += (id - 1) % 3 != 0 && id % 10 != 0;
    assert_int_equal(live, expected);
    /* replacing moves a channel between modules */
    put_channel(ix, 2, "Leads", WATCH_EV_CREATE, NULL, NOW + 100, true);
    struct event_fixture f;
    const char *vals[] = {"{\"Last_Name\":\"A\"}"};
    make_event(&f, "Deals", CHANGE_INSERT, vals, 1);
    struct watch_delivery *d = NULL;
    size_t n = match(ix, &f.ev, &d);
    for (size_t i = 0; i < n; i++)
        assert_true(d[i].channel_id != 2);
    watch_deliveries_free(d, n);
    event_fini(&f);
    assert_int_equal(watch_index_purge(ix, NOW + 100), expected);
    assert_int_equal(watch_index_size(ix), 0);
    watch_index_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_the_seed_item),
        cmocka_unit_test(all_expands_and_modules_merge_in_order),
        cmocka_unit_test(event_verbs_compare_case_insensitively),
        cmocka_unit_test(an_empty_token_is_no_token),
        cmocka_unit_test(mandatory_keys_are_reported_with_json_path),
        cmocka_unit_test(patch_before_v6_needs_only_channel_id),
        cmocka_unit_test(rejects_token_longer_than_50),
        cmocka_unit_test(rejects_unknown_module_or_operation_in_events),
        cmocka_unit_test(channel_id_is_a_signed_long_as_string_or_number),
        cmocka_unit_test(expiry_defaults_clamps_and_refuses_the_past),
        cmocka_unit_test(flags_must_be_booleans),
        cmocka_unit_test(notify_url_must_be_absolute_http),
        cmocka_unit_test(field_selection_without_type_is_dependent_field_missing),
        cmocka_unit_test(bad_type_lists_supported_values),
        cmocka_unit_test(module_needs_api_name_or_id_that_agree),
        cmocka_unit_test(group_operator_and_group_are_checked),
        cmocka_unit_test(unknown_or_ambiguous_field_is_refused),
        cmocka_unit_test(more_than_ten_fields_in_total_is_refused),
        cmocka_unit_test(seed_condition_evaluates_on_changed_fields),
        cmocka_unit_test(condition_renders_in_zoho_get_shape),
        cmocka_unit_test(a_single_field_needs_no_group),
        cmocka_unit_test(renders_the_seed_update_sample),
        cmocka_unit_test(renders_the_insert_sample),
        cmocka_unit_test(delete_and_related_records_render_empty_fields),
        cmocka_unit_test(values_follow_java_hashmap_order),
        cmocka_unit_test(matcher_follows_module_operation_and_expiry),
        cmocka_unit_test(matcher_emits_one_delivery_at_a_time_and_stops_at_a_failure),
        cmocka_unit_test(conditions_filter_edits_per_record_only),
        cmocka_unit_test(related_action_notifies_the_looked_up_record),
        cmocka_unit_test(users_events_match_the_users_module),
        cmocka_unit_test(index_survives_many_puts_and_removes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
