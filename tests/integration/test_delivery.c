/* Notifications reach subscribers, end to end over real HTTP both ways: record changes on the
 * real server, callbacks on a real local receiver, exact bodies and headers, conditions, related
 * actions, retries with a stable webhook-id, expiry, disabling, and a kill -9 in a burst. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "deliver/sign.h"

static struct hp srv;

static int setup(void **state)
{
    (void)state;
    hp_start(&srv, "--allow-network 127.0.0.0/8 --retry-schedule 0s,200ms,300ms,500ms "
                   "--api-domain https://www.zohoapis.com");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hp_cleanup(&srv);
    return 0;
}

/* Subscribes `channel` to `events_json` (a JSON array text) with extra keys (",..." or ""). */
static void watch(const char *channel, const char *events_json, const char *url, const char *extra)
{
    char body[4096];
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"%s\",\"events\":%s,\"notify_url\":\"%s\"%s}]}", channel,
             events_json, url, extra);
    struct hp_resp r = hp_req(&srv, "POST", "/crm/v8/actions/watch", body, srv.token, NULL);
    if (r.status != 201)
        fail_msg("watch failed: %ld %s", r.status, r.body);
    hp_resp_free(&r);
}

/* Sends a records request and returns the ids of the records in data[] (static storage). */
static const char *ids[100];
static size_t records(const char *method, const char *path, const char *body, long want)
{
    static char store[100][24];
    struct hp_resp r = hp_req(&srv, method, path, body, srv.token, NULL);
    if (r.status != want)
        fail_msg("%s %s: %ld %s", method, path, r.status, r.body);
    size_t n = json_array_size(json_object_get(r.json, "data"));
    for (size_t i = 0; i < n && i < 100; i++) {
        json_t *d = json_array_get(json_object_get(r.json, "data"), i);
        const char *id = hp_str(json_object_get(d, "details"), "id");
        snprintf(store[i], sizeof store[i], "%s", id ? id : "");
        ids[i] = store[i];
    }
    hp_resp_free(&r);
    return n;
}

static const struct rx_request *next(struct receiver *rx, size_t *seen)
{
    size_t want = *seen + 1;
    if (rx_wait(rx, want, 10000) < want)
        fail_msg("no callback %zu within 10 s", want);
    return rx_get(rx, (*seen)++);
}

static void insert_update_delete_callbacks_have_zoho_bodies(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256];
    rx_url(rx, "/hook?authorization=Zoho-oauthtoken 1000.x&key1=val1", url, sizeof url);
    watch("5001", "[\"Leads.all\"]", url, ",\"token\":\"tok-5001\"");
    size_t seen = 0;

    records("POST", "/crm/v8/Leads", "{\"data\":[{\"Last_Name\":\"Ada\",\"Company\":\"AE\"}]}",
            201);
    char lead[24];
    snprintf(lead, sizeof lead, "%s", ids[0]);
    const struct rx_request *cb = next(rx, &seen);
    assert_string_equal(cb->method, "POST");
    assert_string_equal(cb->path, "/hook?authorization=Zoho-oauthtoken%201000.x&key1=val1");
    json_t *j = cb->json;
    assert_non_null(j);
    assert_string_equal(hp_str(j, "operation"), "insert");
    assert_string_equal(hp_str(j, "module"), "Leads");
    assert_string_equal(hp_str(j, "channel_id"), "5001");
    assert_string_equal(hp_str(j, "token"), "tok-5001");
    assert_string_equal(hp_str(j, "resource_uri"), "https://www.zohoapis.com/crm/v2/Leads");
    assert_string_equal(json_string_value(hp_at(j, "ids[0]")), lead);
    assert_int_equal(json_array_size(json_object_get(j, "affected_fields")), 0);
    assert_string_equal(hp_str(json_object_get(j, "query_params"), "?authorization"),
                        "Zoho-oauthtoken 1000.x");
    assert_string_equal(hp_str(json_object_get(j, "query_params"), "key1"), "val1");
    assert_null(json_object_get(j, "affected_values"));
    assert_true(json_is_integer(json_object_get(j, "server_time")));
    /* Key order: server_time first, token last. */
    assert_memory_equal(cb->body, "{\"server_time\":", 15);
    assert_non_null(strstr(cb->body, "\"channel_id\":\"5001\",\"token\":\"tok-5001\"}"));
    char h[256];
    assert_true(rx_header(cb, "content-type", h, sizeof h));
    assert_string_equal(h, "application/json;charset=UTF-8");
    assert_true(rx_header(cb, "user-agent", h, sizeof h));
    assert_memory_equal(h, "herald/", 7);

    char body[512];
    snprintf(body, sizeof body,
             "{\"data\":[{\"id\":\"%s\",\"Company\":\"AE2\",\"Phone\":\"555\"}]}", lead);
    records("PUT", "/crm/v8/Leads", body, 200);
    cb = next(rx, &seen);
    assert_string_equal(hp_str(cb->json, "operation"), "update");
    json_t *fields =
        json_object_get(json_array_get(json_object_get(cb->json, "affected_fields"), 0), lead);
    assert_int_equal(json_array_size(fields), 2);
    assert_string_equal(json_string_value(json_array_get(fields, 0)), "Company");
    assert_string_equal(json_string_value(json_array_get(fields, 1)), "Phone");

    char path[128];
    snprintf(path, sizeof path, "/crm/v8/Leads/%s", lead);
    records("DELETE", path, NULL, 200);
    cb = next(rx, &seen);
    assert_string_equal(hp_str(cb->json, "operation"), "delete");
    assert_string_equal(json_string_value(hp_at(cb->json, "ids[0]")), lead);

    /* A bulk insert is one callback with the ids in request order. */
    records("POST", "/crm/v8/Leads",
            "{\"data\":[{\"Last_Name\":\"A\"},{\"Last_Name\":\"B\"},{\"Last_Name\":\"C\"}]}", 201);
    cb = next(rx, &seen);
    assert_int_equal(json_array_size(json_object_get(cb->json, "ids")), 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_array_get(hp_at(cb->json, "ids"), i)), ids[i]);
    rx_stop(rx);
}

static void callbacks_are_signed_with_the_org_secret(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256], secret[256], err[256];
    rx_url(rx, "/signed", url, sizeof url);
    watch("5002", "[\"Accounts.create\"]", url, "");
    records("POST", "/crm/v8/Accounts", "{\"data\":[{\"Account_Name\":\"Signed\"}]}", 201);
    size_t seen = 0;
    const struct rx_request *cb = next(rx, &seen);
    assert_int_equal(hp_cli(&srv, secret, sizeof secret, err, sizeof err, "secret", "show", "--db",
                            srv.db, NULL),
                     0);
    secret[strcspn(secret, "\n")] = '\0';
    char id[128], ts[64], sig[512];
    assert_true(rx_header(cb, "webhook-id", id, sizeof id));
    assert_true(rx_header(cb, "webhook-timestamp", ts, sizeof ts));
    assert_true(rx_header(cb, "webhook-signature", sig, sizeof sig));
    /* webhook-id is "msg_" and the notification's id; the timestamp is whole seconds. */
    assert_int_equal(strncmp(id, "msg_", 4), 0);
    assert_true(strlen(id) > 4 && strspn(id + 4, "0123456789") == strlen(id + 4));
    assert_true(strlen(ts) >= 10 && strspn(ts, "0123456789") == strlen(ts));
    struct buf want;
    buf_init(&want);
    assert_int_equal(sign_webhook(secret, id, atoll(ts), cb->body, cb->body_len, &want), 0);
    assert_non_null(strstr(sig, want.data));
    assert_true(llabs(atoll(ts) - (long long)time(NULL)) < 60);
    buf_fini(&want);
    rx_stop(rx);
}

static void conditions_filter_edits_by_changed_fields(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256];
    rx_url(rx, "/deals", url, sizeof url);
    watch("5003", "[\"Deals.edit\"]", url,
          ",\"return_affected_field_values\":true,\"notification_condition\":[{\"type\":"
          "\"field_selection\",\"module\":{\"api_name\":\"Deals\",\"id\":\"554023000000000131\"},"
          "\"field_selection\":{\"group_operator\":\"or\",\"group\":[{\"field\":{\"api_name\":"
          "\"Stage\",\"id\":\"554023000000000525\"}},{\"group_operator\":\"and\",\"group\":[{"
          "\"field\":{\"api_name\":\"Account_Name\",\"id\":\"554023000000000523\"}},{\"field\":{"
          "\"api_name\":\"Lead_Source\",\"id\":\"554023000000000535\"}}]}]}}]");
    records("POST", "/crm/v8/Deals",
            "{\"data\":[{\"Deal_Name\":\"Big\",\"Stage\":\"Qualification\"}]}", 201);
    char deal[24], body[512];
    snprintf(deal, sizeof deal, "%s", ids[0]);
    /* Amount alone is not watched: no callback. Lead_Source alone does not satisfy the "and". */
    snprintf(body, sizeof body, "{\"data\":[{\"id\":\"%s\",\"Amount\":10}]}", deal);
    records("PUT", "/crm/v8/Deals", body, 200);
    snprintf(body, sizeof body, "{\"data\":[{\"id\":\"%s\",\"Lead_Source\":\"Cold Call\"}]}", deal);
    records("PUT", "/crm/v8/Deals", body, 200);
    /* Stage satisfies the "or": the seed's sample callback, Probability derived. */
    snprintf(body, sizeof body, "{\"data\":[{\"id\":\"%s\",\"Stage\":\"Proposal/Price Quote\"}]}",
             deal);
    records("PUT", "/crm/v8/Deals", body, 200);
    size_t seen = 0;
    const struct rx_request *cb = next(rx, &seen);
    json_t *j = cb->json;
    assert_string_equal(hp_str(j, "operation"), "update");
    json_t *af = json_object_get(json_array_get(json_object_get(j, "affected_fields"), 0), deal);
    assert_int_equal(json_array_size(af), 2);
    assert_string_equal(json_string_value(json_array_get(af, 0)), "Stage");
    assert_string_equal(json_string_value(json_array_get(af, 1)), "Probability");
    json_t *values = hp_at(j, "affected_values[0].values");
    assert_string_equal(hp_str(values, "Stage"), "Proposal/Price Quote");
    assert_int_equal(json_integer_value(json_object_get(values, "Probability")), 75);
    assert_string_equal(hp_str(hp_at(j, "affected_values[0]"), "record_id"), deal);
    assert_true(json_is_null(json_object_get(j, "token")));
    rx_stop(rx);
}

/* Zoho's sample condition "Last_Name and Full_Name": the full name is derived from the first and
 * last names, so a change of either changes it and satisfies its leaf; affected_fields still
 * lists only what the request changed. */
static void a_condition_on_full_name_holds_when_a_name_changes(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256];
    rx_url(rx, "/names", url, sizeof url);
    watch("5005", "[\"Leads.edit\"]", url,
          ",\"notification_condition\":[{\"type\":\"field_selection\",\"module\":{\"api_name\":"
          "\"Leads\",\"id\":\"554023000000000125\"},\"field_selection\":{\"group_operator\":"
          "\"and\",\"group\":[{\"field\":{\"api_name\":\"Last_Name\",\"id\":"
          "\"554023000000000559\"}},{\"field\":{\"api_name\":\"Full_Name\",\"id\":"
          "\"554023000000000597\"}}]}}]");
    watch("5006", "[\"Leads.edit\"]", url,
          ",\"notification_condition\":[{\"type\":\"field_selection\",\"module\":{\"api_name\":"
          "\"Leads\"},\"field_selection\":{\"group_operator\":\"or\",\"group\":[{\"field\":{"
          "\"api_name\":\"Full_Name\"}},{\"field\":{\"api_name\":\"Email\"}}]}}]");
    records("POST", "/crm/v8/Leads", "{\"data\":[{\"Last_Name\":\"Byron\"}]}", 201);
    char lead[24], body[512];
    snprintf(lead, sizeof lead, "%s", ids[0]);
    /* Phone changes no name: nothing. */
    snprintf(body, sizeof body, "{\"data\":[{\"id\":\"%s\",\"Phone\":\"1\"}]}", lead);
    records("PUT", "/crm/v8/Leads", body, 200);
    snprintf(body, sizeof body, "{\"data\":[{\"id\":\"%s\",\"First_Name\":\"Ada\"}]}", lead);
    records("PUT", "/crm/v8/Leads", body, 200);
    size_t seen = 0;
    const struct rx_request *cb = next(rx, &seen);
    assert_string_equal(hp_str(cb->json, "channel_id"), "5006");
    json_t *af = json_object_get(hp_at(cb->json, "affected_fields[0]"), lead);
    assert_int_equal(json_array_size(af), 1);
    assert_string_equal(json_string_value(json_array_get(af, 0)), "First_Name");
    snprintf(body, sizeof body, "{\"data\":[{\"id\":\"%s\",\"Last_Name\":\"Lovelace\"}]}", lead);
    records("PUT", "/crm/v8/Leads", body, 200);
    assert_int_equal(rx_wait(rx, 3, 10000), 3);
    assert_int_equal(rx_wait(rx, 4, 300), 3);
    bool is_5005 = false;
    for (size_t i = 1; i < 3; i++) {
        af = json_object_get(hp_at(rx_get(rx, i)->json, "affected_fields[0]"), lead);
        assert_int_equal(json_array_size(af), 1);
        assert_string_equal(json_string_value(json_array_get(af, 0)), "Last_Name");
        is_5005 = is_5005 || strcmp(hp_str(rx_get(rx, i)->json, "channel_id"), "5005") == 0;
    }
    assert_true(is_5005);
    rx_stop(rx);
}

/* A multiselect is a set of options: the same options in another order, or repeated, are no
 * change, so neither affected_fields nor a condition on the field sees one; repeats are stored
 * once, the first kept. */
static void a_multiselect_in_another_order_is_no_change(void **state)
{
    (void)state;
    struct receiver *rx_all = rx_start(NULL);
    struct receiver *rx_days = rx_start(NULL);
    char url[256];
    rx_url(rx_all, "/all", url, sizeof url);
    watch("5030", "[\"Services__s.edit\"]", url, ",\"return_affected_field_values\":true");
    rx_url(rx_days, "/days", url, sizeof url);
    watch("5031", "[\"Services__s.edit\"]", url,
          ",\"notification_condition\":[{\"type\":\"field_selection\",\"module\":{\"api_name\":"
          "\"Services__s\"},\"field_selection\":{\"group_operator\":\"or\",\"group\":[{"
          "\"field\":{\"api_name\":\"Available_Days\"}}]}}]");
    records("POST", "/crm/v8/Services__s",
            "{\"data\":[{\"Service_Name\":\"Yoga\",\"Available_Days\":[\"Monday\",\"Friday\","
            "\"Monday\"]}]}",
            201);
    char service[24], body[512], path[128];
    snprintf(service, sizeof service, "%s", ids[0]);
    snprintf(path, sizeof path, "/crm/v8/Services__s/%s", service);
    struct hp_resp r = hp_req(&srv, "GET", path, NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(hp_at(r.json, "data[0].Available_Days")), 2);
    hp_resp_free(&r);

    snprintf(body, sizeof body,
             "{\"data\":[{\"id\":\"%s\",\"Service_Name\":\"Yoga 2\",\"Available_Days\":["
             "\"Friday\",\"Monday\",\"Friday\"]}]}",
             service);
    records("PUT", "/crm/v8/Services__s", body, 200);
    /* Notifications are committed with the change: none for the condition on the days. */
    assert_int_equal(
        hp_db_value(&srv, "SELECT count(*) FROM notifications WHERE channel_id = 5031"), 0);
    size_t seen = 0;
    const struct rx_request *cb = next(rx_all, &seen);
    json_t *af = json_object_get(hp_at(cb->json, "affected_fields[0]"), service);
    assert_int_equal(json_array_size(af), 1);
    assert_string_equal(json_string_value(json_array_get(af, 0)), "Service_Name");
    json_t *values = hp_at(cb->json, "affected_values[0].values");
    assert_int_equal(json_object_size(values), 1);
    assert_string_equal(hp_str(values, "Service_Name"), "Yoga 2");
    r = hp_req(&srv, "GET", path, NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    json_t *days = hp_at(r.json, "data[0].Available_Days");
    assert_int_equal(json_array_size(days), 2);
    assert_string_equal(json_string_value(json_array_get(days, 0)), "Monday");
    assert_string_equal(json_string_value(json_array_get(days, 1)), "Friday");
    hp_resp_free(&r);

    /* Other options are a change, stored and reported without the repeats. */
    snprintf(body, sizeof body,
             "{\"data\":[{\"id\":\"%s\",\"Available_Days\":[\"Sunday\",\"Monday\","
             "\"Sunday\"]}]}",
             service);
    records("PUT", "/crm/v8/Services__s", body, 200);
    cb = next(rx_all, &seen);
    af = json_object_get(hp_at(cb->json, "affected_fields[0]"), service);
    assert_int_equal(json_array_size(af), 1);
    assert_string_equal(json_string_value(json_array_get(af, 0)), "Available_Days");
    days = json_object_get(hp_at(cb->json, "affected_values[0].values"), "Available_Days");
    assert_int_equal(json_array_size(days), 2);
    assert_string_equal(json_string_value(json_array_get(days, 0)), "Sunday");
    assert_string_equal(json_string_value(json_array_get(days, 1)), "Monday");
    size_t seen_days = 0;
    cb = next(rx_days, &seen_days);
    af = json_object_get(hp_at(cb->json, "affected_fields[0]"), service);
    assert_int_equal(json_array_size(af), 1);
    assert_string_equal(json_string_value(json_array_get(af, 0)), "Available_Days");
    assert_int_equal(
        hp_db_value(&srv, "SELECT count(*) FROM notifications WHERE channel_id = 5031"), 1);
    rx_stop(rx_all);
    rx_stop(rx_days);
}

/* The fields in an update's affected_fields of record `id` in callback `cb`, as one
 * comma-separated text ("" when none), for assertions. */
static const char *affected_of(const struct rx_request *cb, const char *id)
{
    static char text[256];
    text[0] = '\0';
    json_t *fields = json_object_get(hp_at(cb->json, "affected_fields[0]"), id);
    if (!json_is_array(fields))
        fail_msg("no affected_fields for %s in %s", id, cb->body);
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        size_t n = strlen(text);
        snprintf(text + n, sizeof text - n, "%s%s", n ? "," : "", json_string_value(f));
    }
    return text;
}

/* Zoho's page for actions/watch: "the subforms, participants, and product_details fields will
 * be ignored" in affected_fields. Quotes' line items and Events' participants are accepted,
 * stored and shown as sent, but never reported, while the other fields of the same request
 * are; an update of line items alone still notifies, with no field. */
static void line_items_and_participants_are_never_affected_fields(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256];
    rx_url(rx, "/items", url, sizeof url);
    watch("5040", "[\"Quotes.all\",\"Events.edit\"]", url,
          ",\"return_affected_field_values\":true");

    /* Not a field a condition can watch: it is never among an update's changed fields. */
    char body[2048];
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"5041\",\"events\":[\"Quotes.edit\"],\"notify_url\":"
             "\"%s\",\"notification_condition\":[{\"type\":\"field_selection\",\"module\":{"
             "\"api_name\":\"Quotes\"},\"field_selection\":{\"field\":{\"api_name\":"
             "\"Product_Details\"}}}]}]}",
             url);
    struct hp_resp r = hp_req(&srv, "POST", "/crm/v8/actions/watch", body, srv.token, NULL);
    assert_int_equal(r.status, 400);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "watch[0].details"), "api_name"), "field");
    hp_resp_free(&r);

    records("POST", "/crm/v8/Quotes",
            "{\"data\":[{\"Subject\":\"Q1\",\"Product_Details\":[{\"product\":{\"id\":"
            "554023000000555001,\"name\":\"Pen\"},\"quantity\":2,\"list_price\":10.5}]}]}",
            201);
    char quote[24];
    snprintf(quote, sizeof quote, "%s", ids[0]);
    size_t seen = 0;
    const struct rx_request *cb = next(rx, &seen);
    assert_string_equal(hp_str(cb->json, "operation"), "insert");
    assert_int_equal(json_array_size(json_object_get(cb->json, "affected_fields")), 0);
    json_t *values = hp_at(cb->json, "affected_values[0].values");
    assert_int_equal(json_object_size(values), 1);
    assert_string_equal(hp_str(values, "Subject"), "Q1");
    assert_null(strstr(cb->body, "Product_Details"));

    /* Stored and shown as sent, the product's id as a string. */
    char path[128];
    snprintf(path, sizeof path, "/crm/v8/Quotes/%s", quote);
    r = hp_req(&srv, "GET", path, NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(hp_str(hp_at(r.json, "data[0].Product_Details[0].product"), "id"),
                        "554023000000555001");
    assert_string_equal(hp_str(hp_at(r.json, "data[0].Product_Details[0].product"), "name"), "Pen");
    assert_int_equal(json_integer_value(hp_at(r.json, "data[0].Product_Details[0].quantity")), 2);
    hp_resp_free(&r);
    r = hp_req(&srv, "GET", "/crm/v8/Quotes?fields=Subject,Product_Details", NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(hp_at(r.json, "data[0].Product_Details")), 1);
    hp_resp_free(&r);

    /* Line items and the subject change: only the subject is reported. */
    snprintf(body, sizeof body,
             "{\"data\":[{\"id\":\"%s\",\"Subject\":\"Q2\",\"Product_Details\":[{\"product\":"
             "{\"id\":\"554023000000555001\"},\"quantity\":3}]}]}",
             quote);
    records("PUT", "/crm/v8/Quotes", body, 200);
    cb = next(rx, &seen);
    assert_string_equal(hp_str(cb->json, "operation"), "update");
    assert_string_equal(affected_of(cb, quote), "Subject");
    values = hp_at(cb->json, "affected_values[0].values");
    assert_int_equal(json_object_size(values), 1);
    assert_string_equal(hp_str(values, "Subject"), "Q2");

    /* Line items alone: the update still notifies, with no field, and is stored. */
    snprintf(body, sizeof body,
             "{\"data\":[{\"id\":\"%s\",\"Product_Details\":[{\"product\":{\"id\":"
             "\"554023000000555001\"},\"quantity\":4}]}]}",
             quote);
    records("PUT", "/crm/v8/Quotes", body, 200);
    cb = next(rx, &seen);
    assert_string_equal(hp_str(cb->json, "operation"), "update");
    assert_string_equal(json_string_value(hp_at(cb->json, "ids[0]")), quote);
    assert_string_equal(affected_of(cb, quote), "");
    assert_int_equal(json_object_size(hp_at(cb->json, "affected_values[0].values")), 0);
    r = hp_req(&srv, "GET", path, NULL, srv.token, NULL);
    assert_int_equal(json_integer_value(hp_at(r.json, "data[0].Product_Details[0].quantity")), 4);
    hp_resp_free(&r);

    /* Not an array of objects: Zoho's INVALID_DATA, naming the element. */
    snprintf(body, sizeof body, "{\"data\":[{\"id\":\"%s\",\"Product_Details\":[{},\"Pen\"]}]}",
             quote);
    r = hp_req(&srv, "PUT", "/crm/v8/Quotes", body, srv.token, NULL);
    assert_int_equal(r.status, 400);
    assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "code"), "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "data[0].details"), "json_path"),
                        "$.data[0].Product_Details[1]");
    assert_string_equal(hp_str(hp_at(r.json, "data[0].details"), "expected_data_type"),
                        "jsonobject");
    hp_resp_free(&r);

    /* Events' participants the same way, beside a venue that changes. */
    records("POST", "/crm/v8/Events",
            "{\"data\":[{\"Event_Title\":\"Demo\",\"Start_DateTime\":\"2030-01-01T10:00:00Z\","
            "\"End_DateTime\":\"2030-01-01T11:00:00Z\"}]}",
            201);
    char event[24];
    snprintf(event, sizeof event, "%s", ids[0]);
    snprintf(body, sizeof body,
             "{\"data\":[{\"id\":\"%s\",\"Venue\":\"Room 1\",\"Participants\":[{\"type\":"
             "\"email\",\"participant\":\"ada@example.com\"}]}]}",
             event);
    records("PUT", "/crm/v8/Events", body, 200);
    cb = next(rx, &seen);
    assert_string_equal(hp_str(cb->json, "module"), "Events");
    assert_string_equal(affected_of(cb, event), "Venue");
    assert_null(strstr(cb->body, "Participants"));
    snprintf(path, sizeof path, "/crm/v8/Events/%s", event);
    r = hp_req(&srv, "GET", path, NULL, srv.token, NULL);
    assert_string_equal(hp_str(hp_at(r.json, "data[0].Participants[0]"), "participant"),
                        "ada@example.com");
    hp_resp_free(&r);

    /* The metadata: Zoho's data_type, json_type jsonarray. */
    r = hp_req(&srv, "GET", "/crm/v8/settings/fields?module=Quotes", NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    json_t *fields = json_object_get(r.json, "fields");
    bool is_found = false;
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        if (strcmp(hp_str(f, "api_name"), "Product_Details") != 0)
            continue;
        is_found = true;
        assert_string_equal(hp_str(f, "data_type"), "lineitem");
        assert_string_equal(hp_str(f, "json_type"), "jsonarray");
    }
    assert_true(is_found);
    hp_resp_free(&r);
    assert_int_equal(rx_count(rx), seen);
    rx_stop(rx);
}

static void failed_attempts_retry_with_the_same_webhook_id(void **state)
{
    (void)state;
    struct receiver *rx = rx_start("500,500,200");
    char url[256];
    rx_url(rx, "/flaky", url, sizeof url);
    watch("5004", "[\"Vendors.create\"]", url, "");
    records("POST", "/crm/v8/Vendors", "{\"data\":[{\"Vendor_Name\":\"V\"}]}", 201);
    assert_int_equal(rx_wait(rx, 3, 10000), 3);
    char a[128], b[128], c[128];
    assert_true(rx_header(rx_get(rx, 0), "webhook-id", a, sizeof a));
    assert_true(rx_header(rx_get(rx, 1), "webhook-id", b, sizeof b));
    assert_true(rx_header(rx_get(rx, 2), "webhook-id", c, sizeof c));
    assert_string_equal(a, b);
    assert_string_equal(b, c);
    /* The retries waited for the schedule (200 ms, then 300 ms, ±20%). */
    assert_true(rx_get(rx, 1)->at_ms - rx_get(rx, 0)->at_ms >= 150);
    assert_true(rx_get(rx, 2)->at_ms - rx_get(rx, 1)->at_ms >= 230);
    /* Delivered: nothing more arrives after a later marker callback. */
    records("POST", "/crm/v8/Vendors", "{\"data\":[{\"Vendor_Name\":\"W\"}]}", 201);
    assert_int_equal(rx_wait(rx, 4, 10000), 4);
    assert_int_equal(rx_wait(rx, 5, 300), 4);
    rx_stop(rx);
}

/* Two channels on one receiver, /bad answering 500 to everything and /good 200: /good gets every
 * callback at its first attempt, however often /bad fails. The circuit was per host and port:
 * /bad's failures opened it, and /good's callbacks were then counted failed on the schedule
 * without one request sent ("not sent: ... its circuit is open"), failed for good. */
static void a_failing_path_does_not_hold_back_another_path_of_the_receiver(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    rx_fail_path(rx, "/bad", 500);
    char url[256];
    rx_url(rx, "/bad?ch=5101", url, sizeof url);
    watch("5101", "[\"Solutions.create\"]", url, "");
    rx_url(rx, "/good?ch=5102", url, sizeof url);
    watch("5102", "[\"Solutions.create\"]", url, "");
    enum { ROUNDS = 4, PER_ROUND = 3 };
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < PER_ROUND; i++)
            records("POST", "/crm/v8/Solutions", "{\"data\":[{\"Solution_Title\":\"S\"}]}", 201);
        /* /bad's four attempts of each (0, 200, 300, 500 ms apart) are over in about 1.2 s. */
        struct timespec nap = {.tv_sec = 1, .tv_nsec = 300 * 1000000L};
        nanosleep(&nap, NULL);
    }
    int64_t until = hp_now_ms() + 5000;
    long long good = 0;
    while (hp_now_ms() < until) {
        good = hp_db_value(&srv, "SELECT count(*) FROM notifications WHERE channel_id = 5102 "
                                 "AND status = 1");
        if (good == ROUNDS * PER_ROUND)
            break;
        struct timespec nap = {.tv_nsec = 50 * 1000000L};
        nanosleep(&nap, NULL);
    }
    size_t to_good = 0;
    for (size_t i = 0; i < rx_count(rx); i++)
        to_good += strncmp(rx_get(rx, i)->path, "/good", 5) == 0;
    assert_int_equal(good, ROUNDS * PER_ROUND);
    assert_int_equal(to_good, ROUNDS * PER_ROUND);
    /* Each at its first attempt: none was counted failed without being sent. */
    assert_int_equal(hp_db_value(&srv, "SELECT count(*) FROM notifications WHERE channel_id = "
                                       "5102 AND attempts != 1"),
                     0);
    rx_stop(rx);
}

static void kill_9_in_a_burst_loses_no_acknowledged_insert(void **state)
{
    (void)state;
    struct hp local;
    hp_start(&local, "--allow-network 127.0.0.0/8 --retry-schedule 0s,100ms,200ms");
    struct receiver *rx = rx_start(NULL);
    char url[256], body[4096];
    rx_url(rx, "/burst", url, sizeof url);
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"6001\",\"events\":[\"Leads.create\"],"
             "\"notify_url\":\"%s\"}]}",
             url);
    struct hp_resp r = hp_req(&local, "POST", "/crm/v8/actions/watch", body, local.token, NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    enum { N = 200 };
    static char acked[N][24];
    size_t n_acked = 0;
    for (int i = 0; i < N; i++) {
        snprintf(body, sizeof body, "{\"data\":[{\"Last_Name\":\"Burst %d\"}]}", i);
        r = hp_req(&local, "POST", "/crm/v8/Leads", body, local.token, NULL);
        assert_int_equal(r.status, 201);
        snprintf(acked[n_acked++], 24, "%s", hp_str(hp_at(r.json, "data[0].details"), "id"));
        hp_resp_free(&r);
        if (i == N / 2)
            rx_set_delay(rx, 50); /* slow the receiver so the kill lands mid-delivery */
    }
    hp_kill(&local);
    rx_set_delay(rx, 0);
    hp_restart(&local);
    /* Every acknowledged insert arrives (at least once). */
    int64_t deadline = hp_now_ms() + 30000;
    size_t found = 0;
    while (hp_now_ms() < deadline) {
        size_t count = rx_wait(rx, N, 200);
        found = 0;
        for (size_t i = 0; i < n_acked; i++) {
            for (size_t k = 0; k < count; k++) {
                const char *id = json_string_value(hp_at(rx_get(rx, k)->json, "ids[0]"));
                if (id && strcmp(id, acked[i]) == 0) {
                    found++;
                    break;
                }
            }
        }
        if (found == n_acked)
            break;
    }
    assert_int_equal(found, n_acked);
    rx_stop(rx);
    hp_cleanup(&local);
}

/* A date-time is stored rendered in the zone of its write. After a restart with another
 * --timezone, GET shows it in the new zone; sending that same instant back (in any offset) changes
 * nothing, so only the field that did change is affected. It was compared as text, so the
 * unchanged date-time was listed too. */
static void a_date_time_written_in_another_zone_is_compared_by_instant(void **state)
{
    (void)state;
    struct hp local;
    hp_start(&local, "--allow-network 127.0.0.0/8 --timezone Asia/Kolkata");
    struct hp_resp r =
        hp_req(&local, "POST", "/crm/v8/Events",
               "{\"data\":[{\"Event_Title\":\"tz\",\"Start_DateTime\":\"2026-12-01T10:00:00Z\","
               "\"End_DateTime\":\"2026-12-01T11:00:00Z\"}]}",
               local.token, NULL);
    assert_int_equal(r.status, 201);
    char event[24], path[64];
    snprintf(event, sizeof event, "%s", hp_str(hp_at(r.json, "data[0].details"), "id"));
    snprintf(path, sizeof path, "/crm/v8/Events/%s", event);
    hp_resp_free(&r);
    assert_int_equal(hp_stop(&local), 0);
    snprintf(local.extra, sizeof local.extra, "--allow-network 127.0.0.0/8 --timezone UTC");
    hp_restart(&local);

    struct receiver *rx = rx_start(NULL);
    char url[256], body[1024];
    rx_url(rx, "/tz", url, sizeof url);
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"5020\",\"events\":[\"Events.edit\"],"
             "\"notify_url\":\"%s\",\"return_affected_field_values\":true}]}",
             url);
    r = hp_req(&local, "POST", "/crm/v8/actions/watch", body, local.token, NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    r = hp_req(&local, "GET", path, NULL, local.token, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "Start_DateTime"),
                        "2026-12-01T10:00:00+00:00");
    hp_resp_free(&r);

    /* Start as GET shows it, End as the Node SDK sends it: both the instants stored. */
    r = hp_req(&local, "PUT", path,
               "{\"data\":[{\"Event_Title\":\"tz2\",\"Start_DateTime\":"
               "\"2026-12-01T10:00:00+00:00\",\"End_DateTime\":\"2026-12-01T11:00:00Z\"}]}",
               local.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    size_t seen = 0;
    const struct rx_request *cb = next(rx, &seen);
    json_t *fields =
        json_object_get(json_array_get(json_object_get(cb->json, "affected_fields"), 0), event);
    assert_int_equal(json_array_size(fields), 1);
    assert_string_equal(json_string_value(json_array_get(fields, 0)), "Event_Title");
    json_t *values = hp_at(cb->json, "affected_values[0].values");
    assert_int_equal(json_object_size(values), 1);
    assert_string_equal(hp_str(values, "Event_Title"), "tz2");

    /* Another instant is a change, rendered in today's zone. */
    r = hp_req(&local, "PUT", path,
               "{\"data\":[{\"End_DateTime\":\"2026-12-01T17:30:00+05:30\",\"Start_DateTime\":"
               "\"2026-12-01T15:30:00+05:30\"}]}",
               local.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    cb = next(rx, &seen);
    fields =
        json_object_get(json_array_get(json_object_get(cb->json, "affected_fields"), 0), event);
    assert_int_equal(json_array_size(fields), 1);
    assert_string_equal(json_string_value(json_array_get(fields, 0)), "End_DateTime");
    assert_string_equal(hp_str(hp_at(cb->json, "affected_values[0].values"), "End_DateTime"),
                        "2026-12-01T12:00:00+00:00");
    rx_stop(rx);
    hp_cleanup(&local);
}

/* A kill -9 while attempts are in flight to a slow receiver: the restart says how many
 * notifications it took back from the dead run's leases, and each arrives again with its
 * webhook-id. */
static void kill_9_in_flight_restart_logs_the_voided_leases(void **state)
{
    (void)state;
    struct hp local;
    hp_start(&local, "--allow-network 127.0.0.0/8 --retry-schedule 0s,100ms,200ms");
    struct receiver *rx = rx_start(NULL);
    rx_set_delay(rx, 2000);
    char url[256], body[1024];
    rx_url(rx, "/slow", url, sizeof url);
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"6101\",\"events\":[\"Leads.create\"],"
             "\"notify_url\":\"%s\"},{\"channel_id\":\"6102\",\"events\":[\"Leads.create\"],"
             "\"notify_url\":\"%s\"}]}",
             url, url);
    struct hp_resp r = hp_req(&local, "POST", "/crm/v8/actions/watch", body, local.token, NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof body, "{\"data\":[{\"Last_Name\":\"Slow %d\"}]}", i);
        r = hp_req(&local, "POST", "/crm/v8/Leads", body, local.token, NULL);
        assert_int_equal(r.status, 201);
        hp_resp_free(&r);
    }
    assert_int_equal(rx_wait(rx, 6, 10000), 6); /* all six in flight, none answered */
    hp_kill(&local);
    rx_set_delay(rx, 0);
    hp_restart(&local);
    assert_true(hp_log_wait(&local, "leases of an earlier run voided", 10000));
    assert_true(hp_log_wait(&local, "count=6", 1000));
    assert_int_equal(rx_wait(rx, 12, 10000), 12);
    for (size_t i = 0; i < 6; i++) {
        char a[64], b[64];
        bool is_found = false;
        assert_true(rx_header(rx_get(rx, i), "webhook-id", a, sizeof a));
        for (size_t k = 6; k < 12 && !is_found; k++)
            is_found = rx_header(rx_get(rx, k), "webhook-id", b, sizeof b) && strcmp(a, b) == 0;
        assert_true(is_found);
    }
    rx_stop(rx);
    hp_cleanup(&local);
}

/* Waits for the next callback and returns its channel_id (static copy). */
static const char *next_channel(struct receiver *rx, size_t *seen)
{
    static char ch[32];
    const struct rx_request *cb = next(rx, seen);
    snprintf(ch, sizeof ch, "%s", hp_str(cb->json, "channel_id"));
    return ch;
}

static void related_action_notifies_the_looked_up_record(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256];
    rx_url(rx, "/related", url, sizeof url);
    records("POST", "/crm/v8/Accounts", "{\"data\":[{\"Account_Name\":\"Parent\"}]}", 201);
    char account[24], body[512];
    snprintf(account, sizeof account, "%s", ids[0]);
    watch("5010", "[\"Accounts.edit\"]", url, "");
    watch("5011", "[\"Accounts.edit\"]", url, ",\"notify_on_related_action\":false");
    snprintf(body, sizeof body,
             "{\"data\":[{\"Last_Name\":\"Child\",\"Account_Name\":{\"id\":\"%s\"}}]}", account);
    records("POST", "/crm/v8/Contacts", body, 201);
    size_t seen = 0;
    const struct rx_request *cb = next(rx, &seen);
    assert_string_equal(hp_str(cb->json, "channel_id"), "5010");
    assert_string_equal(hp_str(cb->json, "module"), "Accounts");
    assert_string_equal(hp_str(cb->json, "operation"), "update");
    assert_string_equal(json_string_value(hp_at(cb->json, "ids[0]")), account);
    json_t *af = json_object_get(hp_at(cb->json, "affected_fields[0]"), account);
    assert_true(json_is_array(af));
    assert_int_equal(json_array_size(af), 0);
    /* The channel with notify_on_related_action false got nothing: an edit of the account
     * itself reaches both, and 5011's first callback is that edit. */
    snprintf(body, sizeof body, "{\"data\":[{\"id\":\"%s\",\"Phone\":\"1\"}]}", account);
    records("PUT", "/crm/v8/Accounts", body, 200);
    assert_int_equal(rx_wait(rx, 3, 10000), 3);
    int from_5011 = 0;
    for (size_t i = 1; i < 3; i++) {
        const struct rx_request *x = rx_get(rx, i);
        if (strcmp(hp_str(x->json, "channel_id"), "5011") == 0) {
            from_5011++;
            assert_int_equal(
                json_array_size(json_object_get(hp_at(x->json, "affected_fields[0]"), account)), 1);
        }
    }
    assert_int_equal(from_5011, 1);
    rx_stop(rx);
}

/* A lookup whose target was deleted shows as null: editing or deleting the record that held it
 * sends no related action for the deleted record, and clearing it changes nothing. */
static void related_action_skips_a_deleted_looked_up_record(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256], body[512], path[128], account[24], contact[24];
    rx_url(rx, "/gone", url, sizeof url);
    records("POST", "/crm/v8/Accounts", "{\"data\":[{\"Account_Name\":\"Gone\"}]}", 201);
    snprintf(account, sizeof account, "%s", ids[0]);
    snprintf(body, sizeof body,
             "{\"data\":[{\"Last_Name\":\"Orphan\",\"Account_Name\":{\"id\":\"%s\"}}]}", account);
    records("POST", "/crm/v8/Contacts", body, 201);
    snprintf(contact, sizeof contact, "%s", ids[0]);
    snprintf(path, sizeof path, "/crm/v8/Accounts/%s", account);
    records("DELETE", path, NULL, 200);
    watch("5012", "[\"Accounts.edit\",\"Contacts.edit\",\"Contacts.delete\"]", url, "");
    snprintf(body, sizeof body,
             "{\"data\":[{\"id\":\"%s\",\"Phone\":\"1\",\"Account_Name\":null}]}", contact);
    records("PUT", "/crm/v8/Contacts", body, 200);
    snprintf(path, sizeof path, "/crm/v8/Contacts/%s", contact);
    records("DELETE", path, NULL, 200);
    assert_int_equal(rx_wait(rx, 2, 10000), 2);
    assert_int_equal(rx_wait(rx, 3, 300), 2);
    const struct rx_request *cb = rx_get(rx, 0);
    assert_string_equal(hp_str(cb->json, "module"), "Contacts");
    assert_string_equal(hp_str(cb->json, "operation"), "update");
    json_t *af = json_object_get(hp_at(cb->json, "affected_fields[0]"), contact);
    assert_int_equal(json_array_size(af), 1);
    assert_string_equal(json_string_value(json_array_get(af, 0)), "Phone");
    cb = rx_get(rx, 1);
    assert_string_equal(hp_str(cb->json, "module"), "Contacts");
    assert_string_equal(hp_str(cb->json, "operation"), "delete");
    rx_stop(rx);
}

/* A request that deletes a record and, before it, a record looking it up sends no related action
 * for the deleted one (an update callback for a record that is gone), as when the looked-up
 * record comes first in the request: only the delete callback, ids in request order. */
static void related_action_skips_a_record_the_same_request_deletes(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256], body[512], path[128], parent[24], child[24];
    rx_url(rx, "/deleted-together", url, sizeof url);
    records("POST", "/crm/v8/Accounts", "{\"data\":[{\"Account_Name\":\"Together P\"}]}", 201);
    snprintf(parent, sizeof parent, "%s", ids[0]);
    snprintf(body, sizeof body,
             "{\"data\":[{\"Account_Name\":\"Together K\",\"Parent_Account\":{\"id\":\"%s\"}}]}",
             parent);
    records("POST", "/crm/v8/Accounts", body, 201);
    snprintf(child, sizeof child, "%s", ids[0]);
    watch("5013", "[\"Accounts.all\"]", url, "");
    snprintf(path, sizeof path, "/crm/v8/Accounts?ids=%s,%s", child, parent);
    records("DELETE", path, NULL, 200);
    assert_int_equal(rx_wait(rx, 1, 10000), 1);
    assert_int_equal(rx_wait(rx, 2, 500), 1);
    const struct rx_request *cb = rx_get(rx, 0);
    assert_string_equal(hp_str(cb->json, "operation"), "delete");
    char want[64];
    snprintf(want, sizeof want, "[\"%s\",\"%s\"]", child, parent);
    char *got = json_dumps(json_object_get(cb->json, "ids"), JSON_COMPACT);
    assert_string_equal(got, want);
    free(got);
    rx_stop(rx);
}

/* The callback among the first `n` received whose channel is `channel` and whose ids are exactly
 * `want` (a compact JSON array); fails when not exactly one matches. */
static const struct rx_request *the_one(struct receiver *rx, size_t n, const char *channel,
                                        const char *want)
{
    const struct rx_request *found = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct rx_request *x = rx_get(rx, i);
        char *got = json_dumps(json_object_get(x->json, "ids"), JSON_COMPACT);
        bool is_it = strcmp(hp_str(x->json, "channel_id"), channel) == 0 && strcmp(got, want) == 0;
        free(got);
        if (is_it && found)
            fail_msg("two callbacks with ids %s", want);
        if (is_it)
            found = x;
    }
    if (!found)
        fail_msg("no callback with ids %s", want);
    return found;
}

/* Expects callback `cb` to be the related action for record `id` of `module`: an update whose
 * affected_fields are [{id: []}]. */
static void expect_related(const struct rx_request *cb, const char *module, const char *id)
{
    assert_string_equal(hp_str(cb->json, "module"), module);
    assert_string_equal(hp_str(cb->json, "operation"), "update");
    json_t *af = json_object_get(hp_at(cb->json, "affected_fields[0]"), id);
    assert_true(json_is_array(af));
    assert_int_equal(json_array_size(af), 0);
}

/* A Task's What_Id looks up the module its $se_module names: inserting a Task on a Deal is a
 * related action for that Deal, and moving it to an Account one for both. It followed Accounts
 * alone, so a Task could not be put on a Deal at all. */
static void related_action_follows_se_module(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256], body[512], path[128], deal[24], account[24], task[24];
    rx_url(rx, "/related-to", url, sizeof url);
    records("POST", "/crm/v8/Deals",
            "{\"data\":[{\"Deal_Name\":\"RT Deal\",\"Stage\":\"Qualification\"}]}", 201);
    snprintf(deal, sizeof deal, "%s", ids[0]);
    records("POST", "/crm/v8/Accounts", "{\"data\":[{\"Account_Name\":\"RT Account\"}]}", 201);
    snprintf(account, sizeof account, "%s", ids[0]);
    watch("5050", "[\"Deals.edit\",\"Accounts.edit\"]", url, "");
    snprintf(body, sizeof body,
             "{\"data\":[{\"Subject\":\"Follow up\",\"What_Id\":{\"id\":\"%s\"},"
             "\"$se_module\":\"Deals\"}]}",
             deal);
    records("POST", "/crm/v8/Tasks", body, 201);
    snprintf(task, sizeof task, "%s", ids[0]);
    assert_int_equal(rx_wait(rx, 1, 10000), 1);
    char want[48];
    snprintf(want, sizeof want, "[\"%s\"]", deal);
    expect_related(the_one(rx, 1, "5050", want), "Deals", deal);

    /* Moved to an account: the deal it leaves and the account it joins. */
    snprintf(path, sizeof path, "/crm/v8/Tasks/%s", task);
    snprintf(body, sizeof body, "{\"data\":[{\"What_Id\":{\"id\":\"%s\"}}]}", account);
    records("PUT", path, body, 200);
    assert_int_equal(rx_wait(rx, 3, 10000), 3);
    bool is_deal_first = strcmp(hp_str(rx_get(rx, 1)->json, "module"), "Deals") == 0;
    expect_related(rx_get(rx, is_deal_first ? 1 : 2), "Deals", deal);
    expect_related(rx_get(rx, is_deal_first ? 2 : 1), "Accounts", account);

    /* Deleted: the account alone. */
    records("DELETE", path, NULL, 200);
    assert_int_equal(rx_wait(rx, 4, 10000), 4);
    assert_int_equal(rx_wait(rx, 5, 300), 4);
    expect_related(rx_get(rx, 3), "Accounts", account);
    rx_stop(rx);
}

/* An upsert that inserts some records and updates others is one API request: a looked-up
 * record gets one related-action callback per channel (contract §5: one POST per channel,
 * module, operation and request), its ids in request order, and on the upsert's own module the
 * related ids join the update callback. */
static void upsert_sends_one_related_callback_per_channel(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256], body[1024], a[24], b[24], c[24];
    rx_url(rx, "/upsert", url, sizeof url);
    records("POST", "/crm/v8/Accounts",
            "{\"data\":[{\"Account_Name\":\"Up A\"},{\"Account_Name\":\"Up B\"}]}", 201);
    snprintf(a, sizeof a, "%s", ids[0]);
    snprintf(b, sizeof b, "%s", ids[1]);
    snprintf(body, sizeof body,
             "{\"data\":[{\"Last_Name\":\"Up1\",\"Email\":\"up1@example.com\",\"Account_Name\":{"
             "\"id\":\"%s\"}}]}",
             a);
    records("POST", "/crm/v8/Contacts", body, 201);
    snprintf(body, sizeof body,
             "{\"data\":[{\"Account_Name\":\"Up C\",\"Parent_Account\":{\"id\":\"%s\"}}]}", a);
    records("POST", "/crm/v8/Accounts", body, 201);
    snprintf(c, sizeof c, "%s", ids[0]);
    watch("5020", "[\"Accounts.edit\"]", url, "");

    /* Contacts: an update (Up1, account A), then an insert (Up2, account B). */
    snprintf(body, sizeof body,
             "{\"data\":[{\"Last_Name\":\"Up1b\",\"Email\":\"up1@example.com\"},{\"Last_Name\":"
             "\"Up2\",\"Email\":\"up2@example.com\",\"Account_Name\":{\"id\":\"%s\"}}],"
             "\"duplicate_check_fields\":[\"Email\"]}",
             b);
    records("POST", "/crm/v8/Contacts/upsert", body, 200);
    /* Accounts: an insert whose parent is A, then an update of C (whose parent is A). */
    snprintf(body, sizeof body,
             "{\"data\":[{\"Account_Name\":\"Up D\",\"Parent_Account\":{\"id\":\"%s\"}},{"
             "\"Account_Name\":\"Up C\",\"Phone\":\"7\"}],\"duplicate_check_fields\":["
             "\"Account_Name\"]}",
             a);
    records("POST", "/crm/v8/Accounts/upsert", body, 200);
    /* The marker: a direct edit of B alone. */
    snprintf(body, sizeof body, "{\"data\":[{\"id\":\"%s\",\"Phone\":\"8\"}]}", b);
    records("PUT", "/crm/v8/Accounts", body, 200);

    assert_int_equal(rx_wait(rx, 3, 10000), 3);
    assert_int_equal(rx_wait(rx, 4, 500), 3);
    char want[128];
    snprintf(want, sizeof want, "[\"%s\",\"%s\"]", a, b);
    const struct rx_request *x = the_one(rx, 3, "5020", want);
    assert_string_equal(hp_str(x->json, "operation"), "update");
    snprintf(want, sizeof want, "[\"%s\",\"%s\"]", c, a);
    x = the_one(rx, 3, "5020", want);
    assert_string_equal(hp_str(x->json, "operation"), "update");
    assert_int_equal(json_array_size(json_object_get(hp_at(x->json, "affected_fields[0]"), c)), 1);
    assert_int_equal(json_array_size(json_object_get(hp_at(x->json, "affected_fields[1]"), a)), 0);
    snprintf(want, sizeof want, "[\"%s\"]", b);
    the_one(rx, 3, "5020", want);
    rx_stop(rx);
}

static void users_all_reports_user_changes(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256];
    rx_url(rx, "/users", url, sizeof url);
    watch("5012", "[\"users.all\"]", url, "");
    struct hp_resp r = hp_req(&srv, "POST", "/crm/v8/users",
                              "{\"users\":[{\"last_name\":\"Lin\",\"email\":\"lin@example.com\"}]}",
                              srv.token, NULL);
    assert_true(r.status == 201 || r.status == 200);
    hp_resp_free(&r);
    size_t seen = 0;
    const struct rx_request *cb = next(rx, &seen);
    assert_string_equal(hp_str(cb->json, "module"), "users");
    assert_string_equal(hp_str(cb->json, "operation"), "insert");
    assert_int_equal(json_array_size(json_object_get(cb->json, "ids")), 1);
    rx_stop(rx);
}

static void expired_channel_stops_notifying(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256], extra[128], iso[32];
    rx_url(rx, "/expiring", url, sizeof url);
    time_t soon = time(NULL) + 2;
    struct tm tm;
    gmtime_r(&soon, &tm);
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(extra, sizeof extra, ",\"channel_expiry\":\"%s\"", iso);
    watch("5013", "[\"Solutions.create\"]", url, extra);
    watch("5014", "[\"Solutions.create\"]", url, ""); /* the marker: lives an hour */
    records("POST", "/crm/v8/Solutions", "{\"data\":[{\"Solution_Title\":\"S1\"}]}", 201);
    assert_int_equal(rx_wait(rx, 2, 10000), 2);
    /* Wait (bounded) until the expiry has passed by the server's clock, then insert again. */
    while (time(NULL) <= soon)
        rx_wait(rx, 100, 100);
    records("POST", "/crm/v8/Solutions", "{\"data\":[{\"Solution_Title\":\"S2\"}]}", 201);
    size_t seen = 2;
    assert_string_equal(next_channel(rx, &seen), "5014");
    assert_int_equal(rx_wait(rx, 4, 500), 3);
    rx_stop(rx);
}

static void disable_and_delete_events_stop_exactly_what_they_name(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256];
    rx_url(rx, "/disable", url, sizeof url);
    watch("5015", "[\"Products.create\",\"Products.delete\"]", url, "");
    watch("5016", "[\"Products.create\"]", url, "");
    watch("5017", "[\"Products.delete\"]", url, "");
    struct hp_resp r =
        hp_req(&srv, "PATCH", "/crm/v8/actions/watch",
               "{\"watch\":[{\"channel_id\":\"5015\",\"events\":[\"Products.delete\"],"
               "\"_delete_events\":true}]}",
               srv.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    r = hp_req(&srv, "DELETE", "/crm/v8/actions/watch?channel_ids=5016&", NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    /* Create: only 5015 (its create event is kept); 5016 is disabled. */
    records("POST", "/crm/v8/Products", "{\"data\":[{\"Product_Name\":\"P\"}]}", 201);
    char product[24], path[128];
    snprintf(product, sizeof product, "%s", ids[0]);
    size_t seen = 0;
    assert_string_equal(next_channel(rx, &seen), "5015");
    /* Delete: only 5017 (5015 lost its delete event). */
    snprintf(path, sizeof path, "/crm/v8/Products/%s", product);
    records("DELETE", path, NULL, 200);
    assert_string_equal(next_channel(rx, &seen), "5017");
    assert_int_equal(rx_wait(rx, 3, 500), 2);
    rx_stop(rx);
}

/* An upsert that finds its record updates it as PUT does (reference §8.1 "if a matching record
 * exists, it gets updated"): a field given null or "" is cleared and is an affected field, a
 * checkbox given null is unchecked, and a Deal's Probability given null with a new Stage is
 * cleared, not derived. An upsert that inserts has nothing to clear: its nulls are left out of
 * the record and of affected_values, and Probability is derived from Stage as on insert. */
static void an_upsert_that_updates_clears_the_fields_given_null(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256];
    rx_url(rx, "/upsert-null", url, sizeof url);
    watch("5050", "[\"Leads.all\",\"Deals.all\"]", url, ",\"return_affected_field_values\":true");
    records("POST", "/crm/v8/Leads",
            "{\"data\":[{\"Last_Name\":\"Null\",\"Email\":\"null@example.com\",\"Phone\":\"1\","
            "\"Company\":\"C\",\"Email_Opt_Out\":true}]}",
            201);
    char lead[24];
    snprintf(lead, sizeof lead, "%s", ids[0]);
    size_t seen = 0;
    next(rx, &seen);
    records("POST", "/crm/v8/Leads/upsert",
            "{\"data\":[{\"Email\":\"null@example.com\",\"Phone\":null,\"Company\":\"\","
            "\"Email_Opt_Out\":null},{\"Last_Name\":\"New\",\"Email\":\"new@example.com\","
            "\"Phone\":null}],\"duplicate_check_fields\":[\"Email\"]}",
            200);
    char added[24];
    snprintf(added, sizeof added, "%s", ids[1]);
    const struct rx_request *cb[2] = {next(rx, &seen), next(rx, &seen)};
    for (size_t i = 0; i < 2; i++) {
        json_t *j = cb[i]->json;
        if (strcmp(hp_str(j, "operation"), "update") == 0) {
            json_t *af = json_object_get(hp_at(j, "affected_fields[0]"), lead);
            assert_int_equal(json_array_size(af), 3);
            assert_string_equal(json_string_value(json_array_get(af, 0)), "Phone");
            assert_string_equal(json_string_value(json_array_get(af, 1)), "Company");
            assert_string_equal(json_string_value(json_array_get(af, 2)), "Email_Opt_Out");
            json_t *values = hp_at(j, "affected_values[0].values");
            assert_true(json_is_null(json_object_get(values, "Phone")));
            assert_true(json_is_null(json_object_get(values, "Company")));
            assert_true(json_is_false(json_object_get(values, "Email_Opt_Out")));
        } else {
            assert_string_equal(hp_str(j, "operation"), "insert");
            assert_string_equal(json_string_value(hp_at(j, "ids[0]")), added);
            json_t *values = hp_at(j, "affected_values[0].values");
            assert_int_equal(json_object_size(values), 2);
            assert_null(json_object_get(values, "Phone"));
        }
    }
    char path[128];
    snprintf(path, sizeof path, "/crm/v8/Leads/%s", lead);
    struct hp_resp r = hp_req(&srv, "GET", path, NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_null(hp_at(r.json, "data[0].Phone")));
    assert_true(json_is_null(hp_at(r.json, "data[0].Company")));
    assert_true(json_is_false(hp_at(r.json, "data[0].Email_Opt_Out")));
    hp_resp_free(&r);

    records("POST", "/crm/v8/Deals",
            "{\"data\":[{\"Deal_Name\":\"Null deal\",\"Stage\":\"Qualification\"}]}", 201);
    char deal[24];
    snprintf(deal, sizeof deal, "%s", ids[0]);
    next(rx, &seen);
    records(
        "POST", "/crm/v8/Deals/upsert",
        "{\"data\":[{\"Deal_Name\":\"Null deal\",\"Stage\":\"Closed Won\",\"Probability\":null},"
        "{\"Deal_Name\":\"Other deal\",\"Stage\":\"Closed Won\",\"Probability\":null}],"
        "\"duplicate_check_fields\":[\"Deal_Name\"]}",
        200);
    cb[0] = next(rx, &seen);
    cb[1] = next(rx, &seen);
    for (size_t i = 0; i < 2; i++) {
        json_t *values = hp_at(cb[i]->json, "affected_values[0].values");
        json_t *probability = json_object_get(values, "Probability");
        if (strcmp(hp_str(cb[i]->json, "operation"), "update") == 0) {
            assert_string_equal(json_string_value(hp_at(cb[i]->json, "ids[0]")), deal);
            assert_non_null(probability);
            assert_true(json_is_null(probability));
        } else {
            assert_int_equal(json_integer_value(probability), 100);
        }
    }
    rx_stop(rx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(insert_update_delete_callbacks_have_zoho_bodies),
        cmocka_unit_test(callbacks_are_signed_with_the_org_secret),
        cmocka_unit_test(conditions_filter_edits_by_changed_fields),
        cmocka_unit_test(a_condition_on_full_name_holds_when_a_name_changes),
        cmocka_unit_test(a_multiselect_in_another_order_is_no_change),
        cmocka_unit_test(line_items_and_participants_are_never_affected_fields),
        cmocka_unit_test(failed_attempts_retry_with_the_same_webhook_id),
        cmocka_unit_test(a_failing_path_does_not_hold_back_another_path_of_the_receiver),
        cmocka_unit_test(related_action_notifies_the_looked_up_record),
        cmocka_unit_test(related_action_skips_a_deleted_looked_up_record),
        cmocka_unit_test(related_action_skips_a_record_the_same_request_deletes),
        cmocka_unit_test(related_action_follows_se_module),
        cmocka_unit_test(upsert_sends_one_related_callback_per_channel),
        cmocka_unit_test(an_upsert_that_updates_clears_the_fields_given_null),
        cmocka_unit_test(users_all_reports_user_changes),
        cmocka_unit_test(a_date_time_written_in_another_zone_is_compared_by_instant),
        cmocka_unit_test(expired_channel_stops_notifying),
        cmocka_unit_test(disable_and_delete_events_stop_exactly_what_they_name),
        cmocka_unit_test(kill_9_in_a_burst_loses_no_acknowledged_insert),
        cmocka_unit_test(kill_9_in_flight_restart_logs_the_voided_leases),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
