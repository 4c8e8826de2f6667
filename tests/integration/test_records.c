/* Records, metadata and users over real HTTP: every operation with Zoho's statuses, codes and
 * shapes, the 100-record limit, lookups, upsert, paging, the change events each mutation commits
 * (read straight from the server's SQLite file), and no acknowledged record lost to kill -9. */
#include "harness.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static struct hp_resp call(const char *method, const char *path, const char *body)
{
    return hp_req(&srv, method, path, body, srv.token, NULL);
}

static void expect_status(const struct hp_resp *r, long status)
{
    if (r->status != status)
        fail_msg("expected %ld, got %ld %s", status, r->status, r->body ? r->body : "");
}

/* Inserts one record and returns its id (caller frees). */
static char *insert_one(const char *module, const char *record_json)
{
    char path[128], *body = NULL;
    snprintf(path, sizeof path, "/crm/v8/%s", module);
    size_t n = strlen(record_json) + 32;
    body = malloc(n);
    snprintf(body, n, "{\"data\":[%s]}", record_json);
    struct hp_resp r = call("POST", path, body);
    free(body);
    expect_status(&r, 201);
    const char *id = hp_str(hp_at(r.json, "data[0].details"), "id");
    assert_non_null(id);
    char *copy = strdup(id);
    hp_resp_free(&r);
    return copy;
}

/* The record as GET /crm/v8/{module}/{id} returns it (new reference), or NULL on 204. */
static json_t *get_one(const char *module, const char *id)
{
    char path[160];
    snprintf(path, sizeof path, "/crm/v8/%s/%s", module, id);
    struct hp_resp r = call("GET", path, NULL);
    json_t *rec = NULL;
    if (r.status == 200) {
        rec = json_incref(hp_at(r.json, "data[0]"));
    } else {
        expect_status(&r, 204);
    }
    hp_resp_free(&r);
    return rec;
}

/* The numeric id of a module, from GET settings/modules/{module}. */
static long long module_id(const char *module)
{
    char path[128];
    snprintf(path, sizeof path, "/crm/v8/settings/modules/%s", module);
    struct hp_resp r = call("GET", path, NULL);
    expect_status(&r, 200);
    const char *id = hp_str(hp_at(r.json, "modules[0]"), "id");
    assert_non_null(id);
    long long v = strtoll(id, NULL, 10);
    hp_resp_free(&r);
    return v;
}

/* ---- the changes table, read from the server's database file ---- */

struct change_row {
    long long id;
    long long module_id;
    char operation[16];
    json_t *records;
};

static long long changes_max_id(void)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(srv.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0) FROM changes", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return id;
}

/* Every change row after `after`, oldest first; returns the count (at most max). */
static size_t changes_since(long long after, struct change_row *out, size_t max)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(srv.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT id, module_id, operation, records FROM changes "
                                        "WHERE id > ?1 ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, after);
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < max) {
        out[n].id = sqlite3_column_int64(st, 0);
        out[n].module_id = sqlite3_column_int64(st, 1);
        snprintf(out[n].operation, sizeof out[n].operation, "%s",
                 (const char *)sqlite3_column_text(st, 2));
        json_error_t e;
        out[n].records = json_loads((const char *)sqlite3_column_text(st, 3), 0, &e);
        assert_non_null(out[n].records);
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void change_rows_free(struct change_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(rows[i].records);
}

/* Asserts that `actual` equals the JSON text `expected`. */
static void assert_json(const json_t *actual, const char *expected)
{
    json_error_t e;
    json_t *want = json_loads(expected, 0, &e);
    if (!want)
        fail_msg("bad expected JSON %s: %s", expected, e.text);
    if (!json_equal((json_t *)actual, want)) {
        char *got = json_dumps(actual, JSON_COMPACT);
        fail_msg("expected %s\n     got %s", expected, got ? got : "(null)");
    }
    json_decref(want);
}

/* ---- insert ---- */

static void insert_returns_201_with_zoho_details(void **state)
{
    (void)state;
    struct hp_resp r =
        call("POST", "/crm/v8/Leads", "{\"data\":[{\"Last_Name\":\"Doe\",\"Company\":\"Acme\"}]}");
    expect_status(&r, 201);
    assert_string_equal(r.content_type, "application/json;charset=UTF-8");
    json_t *item = hp_at(r.json, "data[0]");
    assert_string_equal(hp_str(item, "code"), "SUCCESS");
    assert_string_equal(hp_str(item, "message"), "record added");
    assert_string_equal(hp_str(item, "status"), "success");
    json_t *d = json_object_get(item, "details");
    const char *id = hp_str(d, "id");
    assert_non_null(id);
    assert_int_equal(strlen(id), 19);
    assert_non_null(hp_str(d, "Created_Time"));
    assert_non_null(hp_str(d, "Modified_Time"));
    assert_string_equal(hp_str(hp_at(d, "Created_By"), "name"), "Herald Admin");
    assert_non_null(hp_str(hp_at(d, "Created_By"), "id"));
    assert_string_equal(hp_str(hp_at(d, "Modified_By"), "name"), "Herald Admin");
    assert_string_equal(hp_str(d, "$approval_state"), "approved");
    /* Keys in Zoho's order (the reference's insert sample, §8.1). */
    const char *order[] = {"Modified_Time", "Modified_By",    "Created_Time", "id",
                           "Created_By",    "$approval_state"};
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(d, key, v)
    {
        assert_true(k < 6);
        assert_string_equal(key, order[k++]);
    }
    assert_int_equal(k, 6);

    json_t *rec = get_one("Leads", id);
    assert_non_null(rec);
    assert_string_equal(hp_str(rec, "id"), id);
    assert_string_equal(hp_str(rec, "Last_Name"), "Doe");
    assert_string_equal(hp_str(rec, "Company"), "Acme");
    assert_string_equal(hp_str(hp_at(rec, "Owner"), "name"), "Herald Admin");
    assert_string_equal(hp_str(hp_at(rec, "Owner"), "email"), "admin@herald.local");
    assert_non_null(hp_str(hp_at(rec, "Owner"), "id"));
    assert_non_null(hp_str(rec, "Created_Time"));
    assert_string_equal(hp_str(hp_at(rec, "Created_By"), "name"), "Herald Admin");
    assert_string_equal(hp_str(hp_at(rec, "Modified_By"), "name"), "Herald Admin");
    json_decref(rec);
    hp_resp_free(&r);
}

static void insert_mixed_is_207_and_all_failed_is_400(void **state)
{
    (void)state;
    struct hp_resp r = call("POST", "/crm/v8/Leads",
                            "{\"data\":[{\"Last_Name\":\"Ok\"},{\"Company\":\"No last name\"}]}");
    expect_status(&r, 207);
    assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "code"), "SUCCESS");
    json_t *e = hp_at(r.json, "data[1]");
    assert_json(e, "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"Last_Name\","
                   "\"json_path\":\"$.data[1].Last_Name\"},\"message\":\"required field not "
                   "found\",\"status\":\"error\"}");
    hp_resp_free(&r);

    r = call("POST", "/crm/v8/Leads", "{\"data\":[{\"Company\":\"a\"},{\"Bogus_Field\":1}]}");
    expect_status(&r, 400);
    assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "code"), "MANDATORY_NOT_FOUND");
    assert_string_equal(hp_str(hp_at(r.json, "data[1]"), "code"), "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "data[1].details"), "api_name"), "Bogus_Field");
    assert_string_equal(hp_str(hp_at(r.json, "data[1].details"), "json_path"),
                        "$.data[1].Bogus_Field");
    hp_resp_free(&r);
}

/* One bad value per data type: (module, record, api_name, expected detail key, its value). */
static const struct {
    const char *module;
    const char *record;
    const char *api_name;
    const char *detail;
    const char *detail_value; /* NULL: only the key is checked */
} bad_values[] = {
    {"Deals", "{\"Deal_Name\":\"d\",\"Stage\":\"Qualification\",\"Amount\":\"lots\"}", "Amount",
     "expected_data_type", "currency"},
    {"Leads", "{\"Last_Name\":\"x\",\"Email\":\"not-an-email\"}", "Email", "expected_data_type",
     "email"},
    {"Contacts", "{\"Last_Name\":\"x\",\"Date_of_Birth\":\"2024-13-45\"}", "Date_of_Birth",
     "expected_data_type", "date"},
    {"Leads", "{\"Last_Name\":\"x\",\"Lead_Status\":\"Bogus\"}", "Lead_Status",
     "expected_data_type", "picklist"},
    {"Leads", "{\"Last_Name\":\"x\",\"No_of_Employees\":\"many\"}", "No_of_Employees",
     "expected_data_type", "integer"},
    {"Leads", "{\"Last_Name\":\"x\",\"No_of_Employees\":2147483647}", "No_of_Employees",
     "maximum_length", NULL},
    {"Leads",
     "{\"Last_Name\":"
     "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
     "Last_Name", "maximum_length", NULL},
    {"Leads", "{\"Last_Name\":42}", "Last_Name", "expected_data_type", "text"},
    {"Contacts", "{\"Last_Name\":\"x\",\"Email_Opt_Out\":\"yes\"}", "Email_Opt_Out",
     "expected_data_type", "boolean"},
};

static void bad_values_are_invalid_data_with_details(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        char path[128], body[1024], json_path[128];
        snprintf(path, sizeof path, "/crm/v8/%s", bad_values[i].module);
        snprintf(body, sizeof body, "{\"data\":[%s]}", bad_values[i].record);
        struct hp_resp r = call("POST", path, body);
        if (r.status != 400)
            fail_msg("case %zu: expected 400, got %ld %s", i, r.status, r.body);
        json_t *e = hp_at(r.json, "data[0]");
        assert_string_equal(hp_str(e, "code"), "INVALID_DATA");
        assert_string_equal(hp_str(e, "status"), "error");
        json_t *d = json_object_get(e, "details");
        assert_string_equal(hp_str(d, "api_name"), bad_values[i].api_name);
        snprintf(json_path, sizeof json_path, "$.data[0].%s", bad_values[i].api_name);
        assert_string_equal(hp_str(d, "json_path"), json_path);
        if (!json_object_get(d, bad_values[i].detail))
            fail_msg("case %zu: no %s in %s", i, bad_values[i].detail, r.body);
        if (bad_values[i].detail_value)
            assert_string_equal(hp_str(d, bad_values[i].detail), bad_values[i].detail_value);
        hp_resp_free(&r);
    }
}

static void request_level_errors_are_one_top_level_error(void **state)
{
    (void)state;
    struct hp_resp r = call("POST", "/crm/v8/Leads", "{not json");
    hp_assert_error(&r, 400, "INVALID_DATA");
    hp_resp_free(&r);
    r = call("POST", "/crm/v8/Leads", "{\"records\":[]}");
    hp_assert_error(&r, 400, "REQUIRED_PARAM_MISSING");
    assert_string_equal(hp_str(hp_at(r.json, "details"), "param_name"), "data");
    hp_resp_free(&r);
    r = call("POST", "/crm/v8/Leads", "{\"data\":{}}");
    hp_assert_error(&r, 400, "INVALID_DATA");
    hp_resp_free(&r);
    r = call("POST", "/crm/v8/Leads", "{\"data\":[]}");
    hp_assert_error(&r, 400, "REQUIRED_PARAM_MISSING");
    hp_resp_free(&r);
    r = call("POST", "/crm/v8/Leads", "{\"data\":[1]}");
    expect_status(&r, 400);
    assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "code"), "INVALID_DATA");
    hp_resp_free(&r);

    r = call("POST", "/crm/v8/Nonsense", "{\"data\":[{\"Last_Name\":\"x\"}]}");
    hp_assert_error(&r, 400, "INVALID_MODULE");
    assert_json(r.json, "{\"code\":\"INVALID_MODULE\",\"details\":{\"resource_path_index\":0},"
                        "\"message\":\"the module name given seems to be invalid\","
                        "\"status\":\"error\"}");
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/Nonsense/123", NULL);
    hp_assert_error(&r, 400, "INVALID_MODULE");
    hp_resp_free(&r);
}

static void more_than_100_records_is_limit_exceeded(void **state)
{
    (void)state;
    size_t cap = 101 * 32 + 32;
    char *body = malloc(cap);
    size_t len = (size_t)snprintf(body, cap, "{\"data\":[");
    for (int i = 0; i < 101; i++)
        len +=
            (size_t)snprintf(body + len, cap - len, "%s{\"Last_Name\":\"L%d\"}", i ? "," : "", i);
    snprintf(body + len, cap - len, "]}");
    struct hp_resp r = call("POST", "/crm/v8/Leads", body);
    hp_assert_error(&r, 400, "LIMIT_EXCEEDED");
    assert_int_equal(json_integer_value(hp_at(r.json, "details.limit")), 100);
    hp_resp_free(&r);

    /* Exactly 100 is fine, and all of them get ids in request order. */
    char *comma = strrchr(body, ',');
    snprintf(comma, cap - (size_t)(comma - body), "]}");
    r = call("POST", "/crm/v8/Accounts", "{\"data\":[{\"Account_Name\":\"only one\"}]}");
    expect_status(&r, 201);
    hp_resp_free(&r);
    r = call("POST", "/crm/v8/Leads", body);
    expect_status(&r, 201);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 100);
    hp_resp_free(&r);
    free(body);
}

static void module_scopes_are_checked_per_operation(void **state)
{
    (void)state;
    char tok[256];
    hp_token(&srv, "ZohoCRM.modules.Leads.READ", tok, sizeof tok);
    struct hp_resp r = hp_req(&srv, "GET", "/crm/v8/Leads?fields=Last_Name", NULL, tok, NULL);
    assert_true(r.status == 200 || r.status == 204);
    hp_resp_free(&r);
    r = hp_req(&srv, "POST", "/crm/v8/Leads", "{\"data\":[{\"Last_Name\":\"x\"}]}", tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    hp_resp_free(&r);
    r = hp_req(&srv, "GET", "/crm/v8/Contacts?fields=Last_Name", NULL, tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    hp_resp_free(&r);

    hp_token(&srv, "ZohoCRM.modules.contacts.CREATE", tok, sizeof tok);
    r = hp_req(&srv, "POST", "/crm/v8/Contacts", "{\"data\":[{\"Last_Name\":\"x\"}]}", tok, NULL);
    expect_status(&r, 201);
    hp_resp_free(&r);
    r = hp_req(&srv, "DELETE", "/crm/v8/Contacts?ids=1", NULL, tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    hp_resp_free(&r);

    /* Zoho's own spelling of a module scope (its scopes page: modules.salesorders). */
    hp_token(&srv, "ZohoCRM.modules.salesorders.READ", tok, sizeof tok);
    r = hp_req(&srv, "GET", "/crm/v8/Sales_Orders?fields=Subject", NULL, tok, NULL);
    assert_true(r.status == 200 || r.status == 204);
    hp_resp_free(&r);
    r = hp_req(&srv, "GET", "/crm/v8/Purchase_Orders?fields=Subject", NULL, tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    hp_resp_free(&r);

    /* An operation without a module covers that operation in every module. */
    hp_token(&srv, "ZohoCRM.modules.CREATE", tok, sizeof tok);
    r = hp_req(&srv, "POST", "/crm/v8/Accounts", "{\"data\":[{\"Account_Name\":\"x\"}]}", tok,
               NULL);
    expect_status(&r, 201);
    hp_resp_free(&r);
    r = hp_req(&srv, "GET", "/crm/v8/Accounts?fields=Account_Name", NULL, tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    hp_resp_free(&r);
    r = hp_req(&srv, "DELETE", "/crm/v8/Accounts?ids=1", NULL, tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    hp_resp_free(&r);
}

/* ---- update ---- */

static void update_bulk_and_by_id(void **state)
{
    (void)state;
    char *a = insert_one("Leads", "{\"Last_Name\":\"A\"}");
    char *b = insert_one("Leads", "{\"Last_Name\":\"B\"}");
    char body[512];
    /* Ids as strings and as numbers. */
    snprintf(body, sizeof body,
             "{\"data\":[{\"id\":\"%s\",\"Company\":\"CA\"},{\"id\":%s,\"Company\":\"CB\"}]}", a,
             b);
    struct hp_resp r = call("PUT", "/crm/v8/Leads", body);
    expect_status(&r, 200);
    for (int i = 0; i < 2; i++) {
        char p[16];
        snprintf(p, sizeof p, "data[%d]", i);
        json_t *item = hp_at(r.json, p);
        assert_string_equal(hp_str(item, "code"), "SUCCESS");
        assert_string_equal(hp_str(item, "message"), "record updated");
        assert_string_equal(hp_str(hp_at(item, "details"), "id"), i ? b : a);
        assert_non_null(hp_str(hp_at(item, "details"), "Created_Time"));
        assert_string_equal(hp_str(hp_at(item, "details"), "$approval_state"), "approved");
    }
    hp_resp_free(&r);
    json_t *rec = get_one("Leads", b);
    assert_string_equal(hp_str(rec, "Company"), "CB");
    assert_string_equal(hp_str(rec, "Last_Name"), "B");
    json_decref(rec);

    char path[128];
    snprintf(path, sizeof path, "/crm/v8/Leads/%s", a);
    r = call("PUT", path, "{\"data\":[{\"Last_Name\":\"A2\"}]}");
    expect_status(&r, 200);
    assert_string_equal(hp_str(hp_at(r.json, "data[0].details"), "id"), a);
    hp_resp_free(&r);
    rec = get_one("Leads", a);
    assert_string_equal(hp_str(rec, "Last_Name"), "A2");
    assert_string_equal(hp_str(rec, "Company"), "CA");
    /* A checkbox never set reads unchecked, as in Zoho; set, then cleared with null, too. */
    assert_true(json_is_false(json_object_get(rec, "Email_Opt_Out")));
    json_decref(rec);
    r = call("PUT", path, "{\"data\":[{\"Email_Opt_Out\":true}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    rec = get_one("Leads", a);
    assert_true(json_is_true(json_object_get(rec, "Email_Opt_Out")));
    json_decref(rec);
    r = call("PUT", path, "{\"data\":[{\"Email_Opt_Out\":null}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    rec = get_one("Leads", a);
    assert_true(json_is_false(json_object_get(rec, "Email_Opt_Out")));
    json_decref(rec);

    /* Mixed: a missing id, an unknown id, a good one. */
    snprintf(body, sizeof body,
             "{\"data\":[{\"Company\":\"x\"},{\"id\":\"1234567890123456789\",\"Company\":\"y\"},"
             "{\"id\":\"%s\",\"Last_Name\":\"\"},{\"id\":\"%s\",\"Company\":\"z\"}]}",
             a, a);
    r = call("PUT", "/crm/v8/Leads", body);
    expect_status(&r, 207);
    assert_json(hp_at(r.json, "data[0]"),
                "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"id\",\"json_path\":"
                "\"$.data[0].id\"},\"message\":\"required field not found\",\"status\":\"error\"}");
    assert_string_equal(hp_str(hp_at(r.json, "data[1]"), "code"), "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "data[1].details"), "api_name"), "id");
    /* A mandatory field cannot be emptied. */
    assert_string_equal(hp_str(hp_at(r.json, "data[2]"), "code"), "MANDATORY_NOT_FOUND");
    assert_string_equal(hp_str(hp_at(r.json, "data[2].details"), "api_name"), "Last_Name");
    assert_string_equal(hp_str(hp_at(r.json, "data[3]"), "code"), "SUCCESS");
    hp_resp_free(&r);

    r = call("PUT", "/crm/v8/Leads/1234567890123456789", "{\"data\":[{\"Company\":\"x\"}]}");
    expect_status(&r, 400);
    assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "code"), "INVALID_DATA");
    hp_resp_free(&r);
    free(a);
    free(b);
}

/* ---- upsert ---- */

static void upsert_inserts_then_updates_by_duplicate_field(void **state)
{
    (void)state;
    const char *body = "{\"data\":[{\"Last_Name\":\"Up\",\"Email\":\"up@example.com\"}],"
                       "\"duplicate_check_fields\":[\"Email\"]}";
    struct hp_resp r = call("POST", "/crm/v8/Leads/upsert", body);
    /* Upsert answers 200 even when every record was inserted (Zoho's documented status). */
    expect_status(&r, 200);
    json_t *item = hp_at(r.json, "data[0]");
    assert_string_equal(hp_str(item, "code"), "SUCCESS");
    assert_string_equal(hp_str(item, "action"), "insert");
    assert_true(json_is_null(json_object_get(item, "duplicate_field")));
    assert_string_equal(hp_str(item, "message"), "record added");
    char *id = strdup(hp_str(hp_at(item, "details"), "id"));
    hp_resp_free(&r);

    /* Default duplicate check field of Leads is Email; no mandatory field needed to update. */
    r = call("POST", "/crm/v8/Leads/upsert",
             "{\"data\":[{\"Email\":\"up@example.com\",\"Company\":\"Upco\"},"
             "{\"Email\":\"new@example.com\"}]}");
    expect_status(&r, 207);
    item = hp_at(r.json, "data[0]");
    assert_string_equal(hp_str(item, "action"), "update");
    assert_string_equal(hp_str(item, "duplicate_field"), "Email");
    assert_string_equal(hp_str(item, "message"), "record updated");
    assert_string_equal(hp_str(hp_at(item, "details"), "id"), id);
    /* The second would be an insert without its mandatory field. */
    assert_string_equal(hp_str(hp_at(r.json, "data[1]"), "code"), "MANDATORY_NOT_FOUND");
    hp_resp_free(&r);
    json_t *rec = get_one("Leads", id);
    assert_string_equal(hp_str(rec, "Company"), "Upco");
    json_decref(rec);

    /* An empty list is no list (clients send [] by default): the default field still matches,
     * rather than every row being inserted again. */
    r = call("POST", "/crm/v8/Leads/upsert",
             "{\"data\":[{\"Email\":\"up@example.com\",\"Company\":\"Again\"}],"
             "\"duplicate_check_fields\":[]}");
    expect_status(&r, 200);
    item = hp_at(r.json, "data[0]");
    assert_string_equal(hp_str(item, "action"), "update");
    assert_string_equal(hp_str(item, "duplicate_field"), "Email");
    assert_string_equal(hp_str(hp_at(item, "details"), "id"), id);
    hp_resp_free(&r);

    r = call("POST", "/crm/v8/Leads/upsert",
             "{\"data\":[{\"Last_Name\":\"x\"}],\"duplicate_check_fields\":[\"Nope\"]}");
    hp_assert_error(&r, 400, "INVALID_DATA");
    hp_resp_free(&r);
    free(id);
}

/* ---- delete ---- */

static void delete_bulk_and_by_id(void **state)
{
    (void)state;
    char *a = insert_one("Leads", "{\"Last_Name\":\"Del A\"}");
    char *b = insert_one("Leads", "{\"Last_Name\":\"Del B\"}");
    char *c = insert_one("Leads", "{\"Last_Name\":\"Del C\"}");
    char path[256];
    snprintf(path, sizeof path, "/crm/v8/Leads?ids=%s,%s&wf_trigger=true&", a, b);
    struct hp_resp r = call("DELETE", path, NULL);
    expect_status(&r, 200);
    char want[256];
    snprintf(want, sizeof want,
             "{\"code\":\"SUCCESS\",\"details\":{\"id\":\"%s\"},\"message\":\"record deleted\","
             "\"status\":\"success\"}",
             b);
    assert_json(hp_at(r.json, "data[1]"), want);
    hp_resp_free(&r);
    assert_null(get_one("Leads", a));
    assert_null(get_one("Leads", b));

    snprintf(path, sizeof path, "/crm/v8/Leads?ids=%s,%s", a, c);
    r = call("DELETE", path, NULL);
    expect_status(&r, 207);
    snprintf(want, sizeof want,
             "{\"code\":\"INVALID_DATA\",\"details\":{\"id\":\"%s\"},\"message\":\"record not "
             "deleted\",\"status\":\"error\"}",
             a);
    assert_json(hp_at(r.json, "data[0]"), want);
    assert_string_equal(hp_str(hp_at(r.json, "data[1]"), "code"), "SUCCESS");
    hp_resp_free(&r);

    char *d = insert_one("Leads", "{\"Last_Name\":\"Del D\"}");
    snprintf(path, sizeof path, "/crm/v8/Leads/%s", d);
    r = call("DELETE", path, NULL);
    expect_status(&r, 200);
    assert_string_equal(hp_str(hp_at(r.json, "data[0].details"), "id"), d);
    hp_resp_free(&r);
    /* The single-record URL naming no record: one top-level error (reference §8.1). */
    r = call("DELETE", path, NULL);
    assert_json(r.json, "{\"code\":\"INVALID_DATA\",\"details\":{\"resource_path_index\":0},"
                        "\"message\":\"invalid record id\",\"status\":\"error\"}");
    hp_assert_error(&r, 400, "INVALID_DATA");
    hp_resp_free(&r);

    r = call("DELETE", "/crm/v8/Leads", NULL);
    hp_assert_error(&r, 400, "REQUIRED_PARAM_MISSING");
    assert_json(r.json, "{\"code\":\"REQUIRED_PARAM_MISSING\",\"details\":{\"param_name\":"
                        "\"ids\"},\"message\":\"One of the expected parameter is missing\","
                        "\"status\":\"error\"}");
    hp_resp_free(&r);
    free(a);
    free(b);
    free(c);
    free(d);
}

/* ---- get and list ---- */

static void get_unknown_id_is_204_and_list_pages(void **state)
{
    (void)state;
    assert_null(get_one("Leads", "1234567890123456789"));
    struct hp_resp r = call("GET", "/crm/v8/Vendors?fields=Vendor_Name", NULL);
    expect_status(&r, 204);
    hp_resp_free(&r);

    char *ids[5];
    for (int i = 0; i < 5; i++) {
        char rec[64];
        snprintf(rec, sizeof rec, "{\"Vendor_Name\":\"V%d\",\"Email\":\"v%d@x.org\"}", i, i);
        ids[i] = insert_one("Vendors", rec);
    }
    /* Newest first when no order is asked for, as Zoho lists (sort_by id, sort_order desc). */
    r = call("GET", "/crm/v8/Vendors?fields=Vendor_Name&per_page=2&page=2", NULL);
    expect_status(&r, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 2);
    assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "id"), ids[2]);
    assert_string_equal(hp_str(hp_at(r.json, "data[1]"), "Vendor_Name"), "V1");
    assert_string_equal(hp_str(hp_at(r.json, "info"), "sort_by"), "id");
    assert_string_equal(hp_str(hp_at(r.json, "info"), "sort_order"), "desc");
    /* fields selects what is shown (id always). */
    assert_null(json_object_get(hp_at(r.json, "data[0]"), "Email"));
    assert_true(json_is_true(hp_at(r.json, "info.more_records")));
    assert_int_equal(json_integer_value(hp_at(r.json, "info.per_page")), 2);
    assert_int_equal(json_integer_value(hp_at(r.json, "info.page")), 2);
    assert_int_equal(json_integer_value(hp_at(r.json, "info.count")), 2);
    hp_resp_free(&r);
    r = call("GET", "/crm/v2/Vendors?per_page=2&page=3", NULL);
    expect_status(&r, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
    assert_true(json_is_false(hp_at(r.json, "info.more_records")));
    assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "Email"), "v0@x.org");
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/Vendors?per_page=2&page=4&fields=Vendor_Name", NULL);
    expect_status(&r, 204);
    hp_resp_free(&r);

    /* v3 to v8 require fields ("mandatory when fetching all records" on Zoho's pages), v2 and
     * v2.1 do not; unknown fields and bad paging are errors. */
    static const char *const versions[] = {"v3", "v4", "v5", "v6", "v7", "v8"};
    for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
        char path[64];
        snprintf(path, sizeof path, "/crm/%s/Vendors", versions[i]);
        r = call("GET", path, NULL);
        hp_assert_error(&r, 400, "REQUIRED_PARAM_MISSING");
        assert_json(r.json, "{\"code\":\"REQUIRED_PARAM_MISSING\",\"details\":{\"param_name\":"
                            "\"fields\"},\"message\":\"required param is missing\","
                            "\"status\":\"error\"}");
        hp_resp_free(&r);
    }
    r = call("GET", "/crm/v2.1/Vendors", NULL);
    expect_status(&r, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 5);
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/Vendors?fields=Nope", NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/Vendors?fields=Vendor_Name&per_page=201", NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/Vendors?fields=Vendor_Name&page=abc", NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    hp_resp_free(&r);
    for (int i = 0; i < 5; i++)
        free(ids[i]);
}

/* GET /{Module}/{id} takes `fields` as the list does (the SDKs' GetRecordParam sends it): it
 * was ignored and every field shown. Optional there on every version; unknown names are
 * INVALID_DATA {param_name:"fields"}. */
static void get_one_shows_the_fields_asked_for(void **state)
{
    (void)state;
    char *id = insert_one("Vendors", "{\"Vendor_Name\":\"Acme\",\"Email\":\"a@acme.org\"}");
    char path[192];
    snprintf(path, sizeof path, "/crm/v8/Vendors/%s?fields=Vendor_Name,Owner", id);
    struct hp_resp r = call("GET", path, NULL);
    expect_status(&r, 200);
    json_t *rec = hp_at(r.json, "data[0]");
    assert_string_equal(hp_str(rec, "id"), id);
    assert_string_equal(hp_str(rec, "Vendor_Name"), "Acme");
    assert_non_null(json_object_get(rec, "Owner"));
    assert_null(json_object_get(rec, "Email"));
    assert_int_equal(json_object_size(rec), 3);
    hp_resp_free(&r);
    snprintf(path, sizeof path, "/crm/v8/Vendors/%s?fields=Vendor_Name,Nope", id);
    r = call("GET", path, NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "details"), "param_name"), "fields");
    hp_resp_free(&r);
    json_t *all = get_one("Vendors", id);
    assert_string_equal(hp_str(all, "Email"), "a@acme.org");
    json_decref(all);
    free(id);
}

/* The ids of a list answer, comma-joined into out. */
static void list_ids(const char *path, char *out, size_t cap)
{
    struct hp_resp r = call("GET", path, NULL);
    expect_status(&r, 200);
    out[0] = '\0';
    json_t *data = json_object_get(r.json, "data");
    for (size_t i = 0; i < json_array_size(data); i++) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", i ? "," : "", hp_str(json_array_get(data, i), "id"));
    }
    hp_resp_free(&r);
}

/* The ids of a Price_Books list sent with If-Modified-Since: `since`, into out; the status. */
static long list_since(const char *since, char *out, size_t cap)
{
    char header[128];
    snprintf(header, sizeof header, "If-Modified-Since: %s", since);
    const char *const headers[] = {header, NULL};
    struct hp_resp r =
        hp_req(&srv, "GET", "/crm/v8/Price_Books?fields=Price_Book_Name", NULL, srv.token, headers);
    long status = r.status;
    out[0] = '\0';
    json_t *data = json_object_get(r.json, "data");
    for (size_t i = 0; i < json_array_size(data); i++) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", i ? "," : "", hp_str(json_array_get(data, i), "id"));
    }
    if (status == 304)
        assert_true(!r.body || !*r.body);
    hp_resp_free(&r);
    return status;
}

/* Zoho's If-Modified-Since on Get Records (how integrators poll for changes): only the records
 * modified at or after it, 304 Not Modified when there are none. It was ignored: every record,
 * every time. */
static void list_takes_if_modified_since(void **state)
{
    (void)state;
    char *old = insert_one("Price_Books", "{\"Price_Book_Name\":\"Old\"}");
    char *edited = insert_one("Price_Books", "{\"Price_Book_Name\":\"Edited\"}");
    json_t *rec = get_one("Price_Books", old);
    char *old_modified = strdup(hp_str(rec, "Modified_Time"));
    json_decref(rec);
    /* Edit until the edit's Modified_Time is later than Old's (times have whole seconds). */
    char path[128], since[64] = "", got[256];
    snprintf(path, sizeof path, "/crm/v8/Price_Books/%s", edited);
    int64_t deadline = hp_now_ms() + 5000;
    for (int i = 0; !*since && hp_now_ms() < deadline; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"data\":[{\"Price_Book_Name\":\"Edited %d\"}]}", i);
        struct hp_resp r = call("PUT", path, body);
        expect_status(&r, 200);
        const char *at = hp_str(hp_at(r.json, "data[0].details"), "Modified_Time");
        if (strcmp(at, old_modified) > 0)
            snprintf(since, sizeof since, "%s", at);
        hp_resp_free(&r);
    }
    assert_true(*since);

    assert_int_equal(list_since(since, got, sizeof got), 200);
    assert_string_equal(got, edited);
    /* At or after: the time Old was written includes both. */
    char want[128];
    snprintf(want, sizeof want, "%s,%s", edited, old);
    assert_int_equal(list_since(old_modified, got, sizeof got), 200);
    assert_string_equal(got, want);
    /* An earlier time, written in UTC. */
    assert_int_equal(list_since("2000-01-01T00:00:00Z", got, sizeof got), 200);
    assert_string_equal(got, want);
    /* Nothing modified since: 304 without a body. */
    assert_int_equal(list_since("2999-12-31T23:59:59+05:30", got, sizeof got), 304);
    assert_string_equal(got, "");

    const char *const bad[] = {"If-Modified-Since: yesterday", NULL};
    struct hp_resp r =
        hp_req(&srv, "GET", "/crm/v8/Price_Books?fields=Price_Book_Name", NULL, srv.token, bad);
    hp_assert_error(&r, 400, "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "details"), "header_name"), "If-Modified-Since");
    hp_resp_free(&r);
    free(old_modified);
    free(old);
    free(edited);
}

/* GET /{Module}/{id} with If-Modified-Since (the SDKs' GetRecordHeader sends it, as
 * GetRecordsHeader does on the list): 304 without a body when the record was last modified
 * before it, the record when at or after, 400 for a header that is no ISO 8601 time. It was
 * ignored: the whole record every time, and a malformed header passed. */
static void get_one_takes_if_modified_since(void **state)
{
    (void)state;
    char *id = insert_one("Solutions", "{\"Solution_Title\":\"Polled\"}");
    json_t *rec = get_one("Solutions", id);
    char modified[64];
    snprintf(modified, sizeof modified, "If-Modified-Since: %s", hp_str(rec, "Modified_Time"));
    json_decref(rec);
    char path[160];
    snprintf(path, sizeof path, "/crm/v8/Solutions/%s", id);

    const char *const later[] = {"If-Modified-Since: 2999-12-31T23:59:59+05:30", NULL};
    struct hp_resp r = hp_req(&srv, "GET", path, NULL, srv.token, later);
    expect_status(&r, 304);
    assert_true(!r.body || !*r.body);
    hp_resp_free(&r);

    const char *const at[] = {modified, NULL};
    r = hp_req(&srv, "GET", path, NULL, srv.token, at);
    expect_status(&r, 200);
    assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "id"), id);
    hp_resp_free(&r);

    const char *const bad[] = {"If-Modified-Since: yesterday", NULL};
    r = hp_req(&srv, "GET", path, NULL, srv.token, bad);
    hp_assert_error(&r, 400, "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "details"), "header_name"), "If-Modified-Since");
    hp_resp_free(&r);
    free(id);
}

/* An empty `fields` ("fields=") names no field: on a list from v3 on it is the missing
 * parameter (it listed bare ids), on v2 and on one record it shows every field as no `fields`
 * does. */
static void empty_fields_is_no_fields(void **state)
{
    (void)state;
    char *id = insert_one("Vendors", "{\"Vendor_Name\":\"Empty fields\"}");
    struct hp_resp r = call("GET", "/crm/v8/Vendors?fields=", NULL);
    hp_assert_error(&r, 400, "REQUIRED_PARAM_MISSING");
    assert_string_equal(hp_str(hp_at(r.json, "details"), "param_name"), "fields");
    hp_resp_free(&r);

    r = call("GET", "/crm/v2/Vendors?fields=&per_page=1", NULL);
    expect_status(&r, 200);
    assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "Vendor_Name"), "Empty fields");
    hp_resp_free(&r);

    char path[160];
    snprintf(path, sizeof path, "/crm/v8/Vendors/%s?fields=", id);
    r = call("GET", path, NULL);
    expect_status(&r, 200);
    assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "Vendor_Name"), "Empty fields");
    hp_resp_free(&r);
    free(id);
}

/* Zoho's Get Records takes sort_by (id, Created_Time, Modified_Time), sort_order (asc, desc)
 * and ids (at most 100); they were ignored: every list was in ascending id order, of every
 * record, and info claimed sort_order "asc" whatever was asked. The order not given is desc
 * (Zoho's default): lists were oldest first. */
static void list_sorts_and_filters_by_ids(void **state)
{
    (void)state;
    char *a = insert_one("Solutions", "{\"Solution_Title\":\"A\"}");
    char *b = insert_one("Solutions", "{\"Solution_Title\":\"B\"}");
    char *c = insert_one("Solutions", "{\"Solution_Title\":\"C\"}");
    char path[256], want[256], got[512];
    /* Edit A until its Modified_Time is later than C's (times have whole seconds). */
    json_t *rec = get_one("Solutions", c);
    char *c_created = strdup(hp_str(rec, "Created_Time"));
    json_decref(rec);
    snprintf(path, sizeof path, "/crm/v8/Solutions/%s", a);
    int64_t deadline = hp_now_ms() + 5000;
    bool is_later = false;
    for (int i = 0; !is_later && hp_now_ms() < deadline; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"data\":[{\"Solution_Title\":\"A%d\"}]}", i);
        struct hp_resp r = call("PUT", path, body);
        expect_status(&r, 200);
        is_later = strcmp(hp_str(hp_at(r.json, "data[0].details"), "Modified_Time"), c_created) > 0;
        hp_resp_free(&r);
    }
    assert_true(is_later);
    free(c_created);

    list_ids("/crm/v8/Solutions?fields=Solution_Title&sort_order=desc", got, sizeof got);
    snprintf(want, sizeof want, "%s,%s,%s", c, b, a);
    assert_string_equal(got, want);
    list_ids("/crm/v8/Solutions?fields=Solution_Title", got, sizeof got);
    assert_string_equal(got, want); /* desc is the default */
    list_ids("/crm/v8/Solutions?fields=Solution_Title&sort_order=asc", got, sizeof got);
    snprintf(want, sizeof want, "%s,%s,%s", a, b, c);
    assert_string_equal(got, want);
    list_ids("/crm/v8/Solutions?fields=Solution_Title&sort_by=Modified_Time&sort_order=desc&", got,
             sizeof got);
    snprintf(want, sizeof want, "%s,%s,%s", a, c, b);
    assert_string_equal(got, want);
    list_ids("/crm/v8/Solutions?fields=Solution_Title&sort_by=Created_Time&sort_order=asc", got,
             sizeof got);
    snprintf(want, sizeof want, "%s,%s,%s", a, b, c);
    assert_string_equal(got, want);
    list_ids("/crm/v8/Solutions?fields=Solution_Title&sort_by=Created_Time", got, sizeof got);
    snprintf(want, sizeof want, "%s,%s,%s", c, b, a);
    assert_string_equal(got, want);
    snprintf(path, sizeof path,
             "/crm/v8/Solutions?fields=Solution_Title&ids=%s,%s&sort_order=desc&per_page=1", a, c);
    list_ids(path, got, sizeof got);
    assert_string_equal(got, c);
    struct hp_resp r = call("GET", path, NULL);
    assert_string_equal(hp_str(hp_at(r.json, "info"), "sort_order"), "desc");
    assert_string_equal(hp_str(hp_at(r.json, "info"), "sort_by"), "id");
    assert_true(json_is_true(hp_at(r.json, "info.more_records")));
    hp_resp_free(&r);
    /* An id that names no record of the module is no error: there is nothing to show. */
    r = call("GET", "/crm/v8/Solutions?fields=Solution_Title&ids=1234567890123456789", NULL);
    expect_status(&r, 204);
    hp_resp_free(&r);

    r = call("GET", "/crm/v8/Solutions?fields=Solution_Title&sort_order=up", NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "details"), "param_name"), "sort_order");
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/Solutions?fields=Solution_Title&sort_by=Solution_Title", NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "details"), "param_name"), "sort_by");
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/Solutions?fields=Solution_Title&ids=1,x", NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "details"), "param_name"), "ids");
    hp_resp_free(&r);
    char many[128 * 3 + 64] = "/crm/v8/Solutions?fields=Solution_Title&ids=";
    for (int i = 1; i <= 101; i++) {
        size_t n = strlen(many);
        snprintf(many + n, sizeof many - n, "%s%d", i > 1 ? "," : "", i);
    }
    r = call("GET", many, NULL);
    hp_assert_error(&r, 400, "LIMIT_EXCEEDED");
    hp_resp_free(&r);
    free(a);
    free(b);
    free(c);
}

/* ---- lookups ---- */

static void lookups_take_ids_and_show_names(void **state)
{
    (void)state;
    char *acc = insert_one("Accounts", "{\"Account_Name\":\"Lookup Corp\"}");
    char rec[256];
    snprintf(rec, sizeof rec, "{\"Last_Name\":\"Linked\",\"Account_Name\":{\"id\":%s}}", acc);
    char *con = insert_one("Contacts", rec);
    json_t *c = get_one("Contacts", con);
    char want[160];
    snprintf(want, sizeof want, "{\"name\":\"Lookup Corp\",\"id\":\"%s\"}", acc);
    assert_json(json_object_get(c, "Account_Name"), want);
    json_decref(c);

    /* The name shown follows the account's current name. */
    char path[128];
    snprintf(path, sizeof path, "/crm/v8/Accounts/%s", acc);
    struct hp_resp r = call("PUT", path, "{\"data\":[{\"Account_Name\":\"Renamed Corp\"}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    c = get_one("Contacts", con);
    assert_string_equal(hp_str(hp_at(c, "Account_Name"), "name"), "Renamed Corp");
    json_decref(c);

    r = call(
        "POST", "/crm/v8/Contacts",
        "{\"data\":[{\"Last_Name\":\"x\",\"Account_Name\":{\"id\":\"1234567890123456789\"}}]}");
    expect_status(&r, 400);
    json_t *e = hp_at(r.json, "data[0]");
    assert_string_equal(hp_str(e, "code"), "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(e, "details"), "api_name"), "Account_Name");
    assert_string_equal(hp_str(hp_at(e, "details"), "json_path"), "$.data[0].Account_Name");
    hp_resp_free(&r);

    /* A lookup to a record of another module is missing too. */
    snprintf(rec, sizeof rec, "{\"data\":[{\"Last_Name\":\"x\",\"Account_Name\":{\"id\":\"%s\"}}]}",
             con);
    r = call("POST", "/crm/v8/Contacts", rec);
    expect_status(&r, 400);
    hp_resp_free(&r);
    free(acc);
    free(con);
}

/* Expects data[0] of `r` to be 400 INVALID_DATA naming `api_name` at $.data[0].`api_name`. */
static void expect_field_error(struct hp_resp *r, const char *api_name)
{
    expect_status(r, 400);
    json_t *e = hp_at(r->json, "data[0]");
    assert_string_equal(hp_str(e, "code"), "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(e, "details"), "api_name"), api_name);
    char path[64];
    snprintf(path, sizeof path, "$.data[0].%s", api_name);
    assert_string_equal(hp_str(hp_at(e, "details"), "json_path"), path);
    hp_resp_free(r);
}

/* A Task's What_Id ("Related To") looks up the module its "$se_module" names (a Deal, a Lead,
 * ...), Accounts without one; GET shows that module beside it, as Zoho does. It was always
 * Accounts: a Task on a Deal was INVALID_DATA. */
static void related_to_follows_se_module(void **state)
{
    (void)state;
    char *deal =
        insert_one("Deals", "{\"Deal_Name\":\"Related Deal\",\"Stage\":\"Qualification\"}");
    char *acc = insert_one("Accounts", "{\"Account_Name\":\"Related Corp\"}");
    char rec[256], want[160], path[128];
    snprintf(rec, sizeof rec,
             "{\"Subject\":\"Follow up\",\"What_Id\":{\"id\":\"%s\"},\"$se_module\":\"Deals\"}",
             deal);
    char *task = insert_one("Tasks", rec);
    json_t *t = get_one("Tasks", task);
    snprintf(want, sizeof want, "{\"name\":\"Related Deal\",\"id\":\"%s\"}", deal);
    assert_json(json_object_get(t, "What_Id"), want);
    assert_string_equal(hp_str(t, "$se_module"), "Deals");
    json_decref(t);

    /* Without $se_module the target is Accounts, as before: a Deal's id is no account. */
    snprintf(rec, sizeof rec, "{\"data\":[{\"Subject\":\"x\",\"What_Id\":{\"id\":\"%s\"}}]}", deal);
    struct hp_resp r = call("POST", "/crm/v8/Tasks", rec);
    expect_field_error(&r, "What_Id");
    snprintf(rec, sizeof rec, "{\"Subject\":\"On account\",\"What_Id\":{\"id\":\"%s\"}}", acc);
    char *other = insert_one("Tasks", rec);
    t = get_one("Tasks", other);
    assert_string_equal(hp_str(hp_at(t, "What_Id"), "name"), "Related Corp");
    assert_string_equal(hp_str(t, "$se_module"), "Accounts");
    json_decref(t);

    /* A module that is not a "Related To" module, or no module name, is refused by name. */
    static const char *const bad[] = {"\"Contacts\"", "\"Nope\"", "7", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(rec, sizeof rec,
                 "{\"data\":[{\"Subject\":\"x\",\"What_Id\":{\"id\":\"%s\"},\"$se_module\":%s}]}",
                 deal, bad[i]);
        r = call("POST", "/crm/v8/Tasks", rec);
        expect_field_error(&r, "$se_module");
    }
    /* An id that is no record of the module named is a missing lookup target. */
    snprintf(
        rec, sizeof rec,
        "{\"data\":[{\"Subject\":\"x\",\"What_Id\":{\"id\":\"%s\"},\"$se_module\":\"Leads\"}]}",
        deal);
    r = call("POST", "/crm/v8/Tasks", rec);
    expect_field_error(&r, "What_Id");

    /* An update moves it to an account (Accounts named or not), and clearing it clears both. */
    snprintf(path, sizeof path, "/crm/v8/Tasks/%s", task);
    snprintf(rec, sizeof rec, "{\"data\":[{\"What_Id\":{\"id\":\"%s\"}}]}", acc);
    r = call("PUT", path, rec);
    expect_status(&r, 200);
    hp_resp_free(&r);
    t = get_one("Tasks", task);
    assert_string_equal(hp_str(hp_at(t, "What_Id"), "name"), "Related Corp");
    assert_string_equal(hp_str(t, "$se_module"), "Accounts");
    json_decref(t);
    r = call("PUT", path, "{\"data\":[{\"What_Id\":null}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    t = get_one("Tasks", task);
    assert_true(json_is_null(json_object_get(t, "What_Id")));
    assert_true(json_is_null(json_object_get(t, "$se_module")));
    json_decref(t);

    /* A deleted Deal reads as no Related To. */
    snprintf(rec, sizeof rec, "{\"data\":[{\"What_Id\":{\"id\":\"%s\"},\"$se_module\":\"deals\"}]}",
             deal);
    r = call("PUT", path, rec);
    expect_status(&r, 200);
    hp_resp_free(&r);
    t = get_one("Tasks", task);
    assert_string_equal(hp_str(t, "$se_module"), "Deals");
    json_decref(t);
    snprintf(path, sizeof path, "/crm/v8/Deals/%s", deal);
    r = call("DELETE", path, NULL);
    expect_status(&r, 200);
    hp_resp_free(&r);
    t = get_one("Tasks", task);
    assert_true(json_is_null(json_object_get(t, "What_Id")));
    assert_true(json_is_null(json_object_get(t, "$se_module")));
    json_decref(t);
    free(deal);
    free(acc);
    free(task);
    free(other);
}

static void deal_stage_sets_probability(void **state)
{
    (void)state;
    char *id = insert_one("Deals", "{\"Deal_Name\":\"Big\",\"Stage\":\"Qualification\"}");
    json_t *d = get_one("Deals", id);
    assert_int_equal(json_number_value(json_object_get(d, "Probability")), 10);
    json_decref(d);
    char path[128];
    snprintf(path, sizeof path, "/crm/v8/Deals/%s", id);
    struct hp_resp r = call("PUT", path, "{\"data\":[{\"Stage\":\"Closed Won\"}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    d = get_one("Deals", id);
    assert_int_equal(json_number_value(json_object_get(d, "Probability")), 100);
    json_decref(d);
    /* An explicit Probability wins. */
    r = call("PUT", path, "{\"data\":[{\"Stage\":\"Negotiation/Review\",\"Probability\":55}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    d = get_one("Deals", id);
    assert_int_equal(json_number_value(json_object_get(d, "Probability")), 55);
    json_decref(d);
    free(id);
}

/* Expected_Revenue is read-only in Deals' metadata because Zoho computes it: Amount ×
 * Probability / 100, following both; it was always null. */
static void deal_expected_revenue_follows_amount_and_probability(void **state)
{
    (void)state;
    char *id = insert_one("Deals", "{\"Deal_Name\":\"Rev\",\"Stage\":\"Qualification\","
                                   "\"Amount\":25000,\"Expected_Revenue\":1}");
    json_t *d = get_one("Deals", id);
    assert_true(json_is_number(json_object_get(d, "Expected_Revenue")));
    assert_true(json_number_value(json_object_get(d, "Expected_Revenue")) == 2500);
    json_decref(d);
    char path[128];
    snprintf(path, sizeof path, "/crm/v8/Deals/%s", id);
    struct hp_resp r = call("PUT", path, "{\"data\":[{\"Stage\":\"Proposal/Price Quote\"}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/Deals?fields=Expected_Revenue,Amount&per_page=200", NULL);
    expect_status(&r, 200);
    json_t *rec = NULL;
    for (size_t i = 0; i < json_array_size(json_object_get(r.json, "data")); i++) {
        json_t *e = json_array_get(json_object_get(r.json, "data"), i);
        if (strcmp(hp_str(e, "id"), id) == 0)
            rec = e;
    }
    assert_non_null(rec);
    assert_true(json_number_value(json_object_get(rec, "Expected_Revenue")) == 18750);
    hp_resp_free(&r);
    r = call("PUT", path, "{\"data\":[{\"Amount\":null}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    d = get_one("Deals", id);
    assert_true(json_is_null(json_object_get(d, "Expected_Revenue")));
    json_decref(d);
    free(id);
}

/* The largest request Zoho takes is served: 100 records, each with a full 32,000-character
 * Description of 4-byte characters, 12.8 MB of body (a 1 MiB limit refused it with 413). */
static void a_hundred_records_with_full_textareas_are_created(void **state)
{
    (void)state;
    static const char emoji[] = "\xF0\x9F\x98\x80"; /* one character, 4 bytes of UTF-8 */
    size_t chars = 32000, per = 64 + chars * 4, cap = 100 * per + 64;
    char *body = malloc(cap);
    assert_non_null(body);
    size_t n = (size_t)snprintf(body, cap, "{\"data\":[");
    for (int i = 0; i < 100; i++) {
        n += (size_t)snprintf(body + n, cap - n, "%s{\"Last_Name\":\"Big%d\",\"Description\":\"",
                              i ? "," : "", i);
        for (size_t c = 0; c < chars; c++, n += 4)
            memcpy(body + n, emoji, 4);
        n += (size_t)snprintf(body + n, cap - n, "\"}");
    }
    n += (size_t)snprintf(body + n, cap - n, "]}");
    assert_true(n > 12 * 1000 * 1000);
    struct hp_resp r = call("POST", "/crm/v8/Leads", body);
    free(body);
    expect_status(&r, 201);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 100);
    const char *id = hp_str(hp_at(hp_at(r.json, "data[99]"), "details"), "id");
    assert_non_null(id);
    char path[128];
    snprintf(path, sizeof path, "/crm/v8/Leads/%s", id);
    struct hp_resp g = call("GET", path, NULL);
    expect_status(&g, 200);
    const char *desc = hp_str(hp_at(g.json, "data[0]"), "Description");
    assert_non_null(desc);
    assert_int_equal(strlen(desc), chars * 4);
    hp_resp_free(&g);
    hp_resp_free(&r);
}

/* A decimal value is shown as it was sent (and a computed one rounded to cents as a client wrote
 * it): json_dumps' 17 digits showed a currency of 0.1 as 0.10000000000000001, 12.345 as
 * 12.345000000000001 and an Expected_Revenue of 900.09 as 900.09000000000003. */
static void decimals_read_back_as_written(void **state)
{
    (void)state;
    char *lead = insert_one("Leads", "{\"Last_Name\":\"Dec\",\"Annual_Revenue\":12.345}");
    char path[160];
    snprintf(path, sizeof path, "/crm/v8/Leads/%s?fields=Annual_Revenue", lead);
    struct hp_resp r = call("GET", path, NULL);
    expect_status(&r, 200);
    if (!strstr(r.body, "\"Annual_Revenue\":12.345}"))
        fail_msg("expected Annual_Revenue 12.345, got %s", r.body);
    hp_resp_free(&r);
    snprintf(path, sizeof path, "/crm/v8/Leads/%s", lead);
    r = call("PUT", path, "{\"data\":[{\"Annual_Revenue\":0.1}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    snprintf(path, sizeof path, "/crm/v8/Leads?fields=Annual_Revenue&ids=%s", lead);
    r = call("GET", path, NULL);
    expect_status(&r, 200);
    if (!strstr(r.body, "\"Annual_Revenue\":0.1}"))
        fail_msg("expected Annual_Revenue 0.1, got %s", r.body);
    hp_resp_free(&r);
    char *deal = insert_one("Deals", "{\"Deal_Name\":\"Dec\",\"Stage\":\"Negotiation/Review\","
                                     "\"Amount\":1000.1}");
    snprintf(path, sizeof path, "/crm/v8/Deals/%s?fields=Amount,Expected_Revenue", deal);
    r = call("GET", path, NULL);
    expect_status(&r, 200);
    if (!strstr(r.body, "\"Amount\":1000.1,\"Expected_Revenue\":900.09}"))
        fail_msg("expected Amount 1000.1 and Expected_Revenue 900.09, got %s", r.body);
    hp_resp_free(&r);
    free(lead);
    free(deal);
}

/* ---- change events ---- */

static void each_mutation_commits_exactly_its_change_event(void **state)
{
    (void)state;
    long long leads = module_id("Leads"), contacts = module_id("Contacts");
    long long deals = module_id("Deals");
    struct change_row rows[4];
    char want[1024], body[512], path[160];

    /* insert: every field the request set; lookups of the new record. */
    char *acc = insert_one("Accounts", "{\"Account_Name\":\"Evt Corp\"}");
    long long before = changes_max_id();
    snprintf(
        body, sizeof body,
        "{\"Last_Name\":\"Evt\",\"Email\":\"evt@example.com\",\"Account_Name\":{\"id\":\"%s\"}}",
        acc);
    char *con = insert_one("Contacts", body);
    assert_int_equal(changes_since(before, rows, 4), 1);
    assert_int_equal(rows[0].module_id, contacts);
    assert_string_equal(rows[0].operation, "insert");
    snprintf(want, sizeof want,
             "[{\"id\":\"%s\",\"values\":{\"Last_Name\":\"Evt\",\"Email\":\"evt@example.com\","
             "\"Account_Name\":{\"name\":\"Evt Corp\",\"id\":\"%s\"}},\"lookups\":[{\"module\":"
             "\"Accounts\",\"id\":\"%s\"}]}]",
             con, acc, acc);
    assert_json(rows[0].records, want);
    change_rows_free(rows, 1);

    /* update of two fields (one unchanged value given too): only the two. */
    before = changes_max_id();
    snprintf(path, sizeof path, "/crm/v8/Contacts/%s", con);
    struct hp_resp r = call(
        "PUT", path,
        "{\"data\":[{\"Last_Name\":\"Evt\",\"Email\":\"new@example.com\",\"Phone\":\"555\"}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    assert_int_equal(changes_since(before, rows, 4), 1);
    assert_string_equal(rows[0].operation, "update");
    snprintf(want, sizeof want,
             "[{\"id\":\"%s\",\"values\":{\"Email\":\"new@example.com\",\"Phone\":\"555\"},"
             "\"lookups\":[{\"module\":\"Accounts\",\"id\":\"%s\"}]}]",
             con, acc);
    assert_json(rows[0].records, want);
    change_rows_free(rows, 1);

    /* no-op update: the record with an empty values object. */
    before = changes_max_id();
    r = call("PUT", path, "{\"data\":[{\"Phone\":\"555\"}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    assert_int_equal(changes_since(before, rows, 4), 1);
    assert_string_equal(rows[0].operation, "update");
    snprintf(
        want, sizeof want,
        "[{\"id\":\"%s\",\"values\":{},\"lookups\":[{\"module\":\"Accounts\",\"id\":\"%s\"}]}]",
        con, acc);
    assert_json(rows[0].records, want);
    change_rows_free(rows, 1);

    /* Deals: Stage alone sets Probability, both are changed fields. */
    char *deal = insert_one("Deals", "{\"Deal_Name\":\"EvtDeal\",\"Stage\":\"Qualification\"}");
    before = changes_max_id();
    snprintf(path, sizeof path, "/crm/v8/Deals/%s", deal);
    r = call("PUT", path, "{\"data\":[{\"Stage\":\"Proposal/Price Quote\"}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    assert_int_equal(changes_since(before, rows, 4), 1);
    assert_int_equal(rows[0].module_id, deals);
    snprintf(want, sizeof want,
             "[{\"id\":\"%s\",\"values\":{\"Stage\":\"Proposal/Price Quote\",\"Probability\":75},"
             "\"lookups\":[]}]",
             deal);
    assert_json(rows[0].records, want);
    change_rows_free(rows, 1);

    /* ... also when the new stage maps to the probability the deal already had (0 and 0). */
    r = call("PUT", path, "{\"data\":[{\"Stage\":\"Closed Lost\"}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    before = changes_max_id();
    r = call("PUT", path, "{\"data\":[{\"Stage\":\"Closed Lost to Competition\"}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    assert_int_equal(changes_since(before, rows, 4), 1);
    snprintf(want, sizeof want,
             "[{\"id\":\"%s\",\"values\":{\"Stage\":\"Closed Lost to Competition\","
             "\"Probability\":0},\"lookups\":[]}]",
             deal);
    assert_json(rows[0].records, want);
    change_rows_free(rows, 1);

    /* upsert of each kind in one request: one insert event and one update event. */
    char *lead = insert_one("Leads", "{\"Last_Name\":\"U\",\"Email\":\"u@example.com\"}");
    before = changes_max_id();
    r = call("POST", "/crm/v8/Leads/upsert",
             "{\"data\":[{\"Email\":\"u@example.com\",\"Company\":\"UC\"},"
             "{\"Last_Name\":\"V\",\"Email\":\"v@example.com\"}]}");
    expect_status(&r, 200);
    const char *new_lead = hp_str(hp_at(r.json, "data[1].details"), "id");
    assert_int_equal(changes_since(before, rows, 4), 2);
    size_t ins = strcmp(rows[0].operation, "insert") == 0 ? 0 : 1;
    assert_string_equal(rows[ins].operation, "insert");
    assert_string_equal(rows[1 - ins].operation, "update");
    assert_int_equal(rows[0].module_id, leads);
    snprintf(want, sizeof want,
             "[{\"id\":\"%s\",\"values\":{\"Last_Name\":\"V\",\"Email\":\"v@example.com\"},"
             "\"lookups\":[]}]",
             new_lead);
    assert_json(rows[ins].records, want);
    snprintf(want, sizeof want, "[{\"id\":\"%s\",\"values\":{\"Company\":\"UC\"},\"lookups\":[]}]",
             lead);
    assert_json(rows[1 - ins].records, want);
    change_rows_free(rows, 2);
    hp_resp_free(&r);

    /* delete: empty values, the lookups it had. */
    before = changes_max_id();
    snprintf(path, sizeof path, "/crm/v8/Contacts/%s", con);
    r = call("DELETE", path, NULL);
    expect_status(&r, 200);
    hp_resp_free(&r);
    assert_int_equal(changes_since(before, rows, 4), 1);
    assert_string_equal(rows[0].operation, "delete");
    snprintf(
        want, sizeof want,
        "[{\"id\":\"%s\",\"values\":{},\"lookups\":[{\"module\":\"Accounts\",\"id\":\"%s\"}]}]",
        con, acc);
    assert_json(rows[0].records, want);
    change_rows_free(rows, 1);

    /* Failed requests commit nothing. */
    before = changes_max_id();
    r = call("POST", "/crm/v8/Leads", "{\"data\":[{\"Company\":\"no name\"}]}");
    expect_status(&r, 400);
    hp_resp_free(&r);
    assert_int_equal(changes_since(before, rows, 4), 0);
    free(acc);
    free(con);
    free(deal);
    free(lead);
}

/* ---- durability ---- */

static void kill_9_loses_no_acknowledged_record(void **state)
{
    (void)state;
    struct hp other;
    hp_start(&other, NULL);
    enum { N = 60 };
    char *ids[N];
    for (int i = 0; i < N; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"data\":[{\"Last_Name\":\"Durable %d\"}]}", i);
        struct hp_resp r = hp_req(&other, "POST", "/crm/v8/Leads", body, other.token, NULL);
        expect_status(&r, 201);
        ids[i] = strdup(hp_str(hp_at(r.json, "data[0].details"), "id"));
        hp_resp_free(&r);
    }
    hp_kill(&other);
    hp_restart(&other);
    for (int i = 0; i < N; i++) {
        char path[96], want[32];
        snprintf(path, sizeof path, "/crm/v8/Leads/%s", ids[i]);
        struct hp_resp r = hp_req(&other, "GET", path, NULL, other.token, NULL);
        expect_status(&r, 200);
        snprintf(want, sizeof want, "Durable %d", i);
        assert_string_equal(hp_str(hp_at(r.json, "data[0]"), "Last_Name"), want);
        hp_resp_free(&r);
        free(ids[i]);
    }
    hp_cleanup(&other);
}

/* ---- metadata ---- */

static void metadata_answers_in_zoho_shapes(void **state)
{
    (void)state;
    struct hp_resp r = call("GET", "/crm/v8/settings/modules", NULL);
    expect_status(&r, 200);
    json_t *mods = json_object_get(r.json, "modules");
    assert_true(json_array_size(mods) >= 20);
    bool has_meetings = false;
    size_t i;
    json_t *m;
    json_array_foreach(mods, i, m)
    {
        assert_true(json_is_string(json_object_get(m, "id")));
        assert_non_null(hp_str(m, "api_name"));
        /* Zoho: "For the Events module ... the module_name will be Meetings". */
        if (strcmp(hp_str(m, "api_name"), "Events") == 0)
            has_meetings = strcmp(hp_str(m, "module_name"), "Meetings") == 0 &&
                           strcmp(hp_str(m, "plural_label"), "Meetings") == 0;
        if (strcmp(hp_str(m, "api_name"), "Sales_Orders") == 0)
            assert_string_equal(hp_str(m, "module_name"), "SalesOrders");
    }
    assert_true(has_meetings);
    hp_resp_free(&r);

    r = call("GET", "/crm/v8/settings/modules/Deals", NULL);
    expect_status(&r, 200);
    assert_string_equal(hp_str(hp_at(r.json, "modules[0]"), "api_name"), "Deals");
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/settings/modules/Nope", NULL);
    hp_assert_error(&r, 400, "INVALID_MODULE");
    hp_resp_free(&r);
    /* by id, as the SDKs' ModulesOperations.getModule(id) asks */
    char deals_path[96];
    snprintf(deals_path, sizeof deals_path, "/crm/v8/settings/modules/%lld", module_id("Deals"));
    r = call("GET", deals_path, NULL);
    expect_status(&r, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "modules")), 1);
    assert_string_equal(hp_str(hp_at(r.json, "modules[0]"), "api_name"), "Deals");
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/settings/modules/1234567", NULL);
    hp_assert_error(&r, 400, "INVALID_MODULE");
    hp_resp_free(&r);

    r = call("GET", "/crm/v2/settings/fields?module=Deals", NULL);
    expect_status(&r, 200);
    json_t *f;
    bool has_stage = false, has_account = false;
    json_array_foreach(json_object_get(r.json, "fields"), i, f)
    {
        assert_non_null(hp_str(f, "data_type"));
        assert_true(json_is_string(json_object_get(f, "id")));
        if (strcmp(hp_str(f, "api_name"), "Stage") == 0) {
            has_stage = true;
            assert_string_equal(hp_str(f, "data_type"), "picklist");
            assert_true(json_array_size(json_object_get(f, "pick_list_values")) >= 9);
            assert_true(json_is_true(json_object_get(f, "system_mandatory")));
        }
        if (strcmp(hp_str(f, "api_name"), "Account_Name") == 0) {
            has_account = true;
            assert_string_equal(hp_str(f, "data_type"), "lookup");
            /* v2 names the lookup's module, as the v2 and v2.1 SDKs model it */
            assert_true(json_is_string(hp_at(f, "lookup.module")));
            assert_string_equal(json_string_value(hp_at(f, "lookup.module")), "Accounts");
        }
    }
    assert_true(has_stage && has_account);
    hp_resp_free(&r);
    /* v2.1 as v2; v3 on, the module is an object */
    static const struct {
        const char *version;
        bool is_named;
    } lookups[] = {{"v2.1", true}, {"v3", false}, {"v7", false}, {"v8", false}};
    for (size_t k = 0; k < sizeof lookups / sizeof lookups[0]; k++) {
        char path[64];
        snprintf(path, sizeof path, "/crm/%s/settings/fields?module=Contacts", lookups[k].version);
        r = call("GET", path, NULL);
        expect_status(&r, 200);
        bool has_lookup = false;
        json_array_foreach(json_object_get(r.json, "fields"), i, f)
        {
            if (strcmp(hp_str(f, "api_name"), "Account_Name") != 0)
                continue;
            has_lookup = true;
            assert_string_equal(hp_str(hp_at(f, "lookup"), "display_label"), "Account Name");
            if (lookups[k].is_named) {
                assert_true(json_is_string(hp_at(f, "lookup.module")));
                assert_string_equal(json_string_value(hp_at(f, "lookup.module")), "Accounts");
            } else {
                assert_string_equal(hp_str(hp_at(f, "lookup.module"), "api_name"), "Accounts");
                assert_non_null(hp_str(hp_at(f, "lookup.module"), "id"));
            }
        }
        assert_true(has_lookup);
        hp_resp_free(&r);
    }

    /* type=unused listed every field; all of them are in use, so it lists none. */
    r = call("GET", "/crm/v8/settings/fields?module=Deals&type=unused", NULL);
    expect_status(&r, 204);
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/settings/fields?module=Deals&type=used", NULL);
    expect_status(&r, 200);
    assert_true(json_array_size(json_object_get(r.json, "fields")) > 10);
    hp_resp_free(&r);

    r = call("GET", "/crm/v8/settings/fields?module=Deals&type=all", NULL);
    expect_status(&r, 200);
    hp_resp_free(&r);
    /* A type that is none of Zoho's was taken for "all"; it is INVALID_DATA on the param, as an
     * unknown GET /users?type= is. */
    static const char *const bad_types[] = {"bogus", "", "unused2"};
    for (size_t k = 0; k < sizeof bad_types / sizeof bad_types[0]; k++) {
        char path[128];
        snprintf(path, sizeof path, "/crm/v8/settings/fields?module=Deals&type=%s", bad_types[k]);
        r = call("GET", path, NULL);
        if (r.status != 400)
            fail_msg("GET %s: %ld %s", path, r.status, r.body);
        hp_assert_error(&r, 400, "INVALID_DATA");
        assert_string_equal(hp_str(hp_at(r.json, "details"), "param_name"), "type");
        hp_resp_free(&r);
    }

    r = call("GET", "/crm/v8/settings/fields", NULL);
    hp_assert_error(&r, 400, "REQUIRED_PARAM_MISSING");
    assert_string_equal(hp_str(hp_at(r.json, "details"), "param_name"), "module");
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/settings/fields?module=Nope", NULL);
    hp_assert_error(&r, 400, "INVALID_MODULE");
    hp_resp_free(&r);

    /* One field by its id (Zoho's settings/fields/{id}?module=X, the SDKs' getField): the list's
     * element for it, alone. */
    r = call("GET", "/crm/v8/settings/fields?module=Deals", NULL);
    expect_status(&r, 200);
    json_t *stage = NULL;
    json_array_foreach(json_object_get(r.json, "fields"), i, f)
    {
        if (strcmp(hp_str(f, "api_name"), "Stage") == 0)
            stage = json_incref(f);
    }
    hp_resp_free(&r);
    assert_non_null(stage);
    char field_path[128];
    snprintf(field_path, sizeof field_path, "/crm/v8/settings/fields/%s?module=Deals",
             hp_str(stage, "id"));
    r = call("GET", field_path, NULL);
    expect_status(&r, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "fields")), 1);
    assert_true(json_equal(hp_at(r.json, "fields[0]"), stage));
    hp_resp_free(&r);
    /* the id of another module's field, an unknown id, no module */
    snprintf(field_path, sizeof field_path, "/crm/v8/settings/fields/%s?module=Leads",
             hp_str(stage, "id"));
    r = call("GET", field_path, NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    assert_int_equal(json_integer_value(hp_at(r.json, "details.resource_path_index")), 2);
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/settings/fields/42?module=Deals", NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    hp_resp_free(&r);
    snprintf(field_path, sizeof field_path, "/crm/v8/settings/fields/%s", hp_str(stage, "id"));
    r = call("GET", field_path, NULL);
    hp_assert_error(&r, 400, "REQUIRED_PARAM_MISSING");
    hp_resp_free(&r);
    json_decref(stage);

    char tok[256];
    hp_token(&srv, "ZohoCRM.settings.fields.READ", tok, sizeof tok);
    r = hp_req(&srv, "GET", "/crm/v8/settings/fields?module=Leads", NULL, tok, NULL);
    expect_status(&r, 200);
    hp_resp_free(&r);
    r = hp_req(&srv, "GET", "/crm/v8/settings/modules", NULL, tok, NULL);
    hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
    hp_resp_free(&r);
}

/* Every settings scope `herald token create` accepts reads what it names: settings.modules.ALL
 * the modules, settings.fields.ALL the fields, settings.READ both (Zoho's scope grammar:
 * settings.{area}.{ALL,READ}). */
static void settings_scopes_read_what_they_name(void **state)
{
    (void)state;
    static const struct {
        const char *scope;
        bool reads_modules, reads_fields;
    } cases[] = {
        {"ZohoCRM.settings.modules.ALL", true, false},
        {"ZohoCRM.settings.fields.ALL", false, true},
        {"ZohoCRM.settings.READ", true, true},
        {"ZohoCRM.settings.modules.READ", true, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char tok[256];
        hp_token(&srv, cases[i].scope, tok, sizeof tok);
        const struct {
            const char *path;
            bool is_allowed;
        } reads[] = {
            {"/crm/v8/settings/modules", cases[i].reads_modules},
            {"/crm/v8/settings/modules/Leads", cases[i].reads_modules},
            {"/crm/v8/settings/fields?module=Leads", cases[i].reads_fields},
            {"/crm/v8/Leads?fields=Last_Name", false}, /* settings scopes read no records */
        };
        for (size_t k = 0; k < sizeof reads / sizeof reads[0]; k++) {
            struct hp_resp r = hp_req(&srv, "GET", reads[k].path, NULL, tok, NULL);
            if (reads[k].is_allowed)
                expect_status(&r, 200);
            else
                hp_assert_error(&r, 401, "OAUTH_SCOPE_MISMATCH");
            hp_resp_free(&r);
        }
    }
}

/* ---- users ---- */

static void users_create_read_update_delete_with_events(void **state)
{
    (void)state;
    long long before = changes_max_id();
    struct hp_resp r =
        call("POST", "/crm/v8/users",
             "{\"users\":[{\"first_name\":\"Ada\",\"last_name\":\"Lovelace\",\"email\":"
             "\"ada@example.com\"},{\"first_name\":\"No\",\"email\":\"x@example.com\"}]}");
    expect_status(&r, 207);
    json_t *item = hp_at(r.json, "users[0]");
    assert_string_equal(hp_str(item, "code"), "SUCCESS");
    assert_string_equal(hp_str(item, "message"), "User added");
    char *id = strdup(hp_str(hp_at(item, "details"), "id"));
    assert_string_equal(hp_str(hp_at(r.json, "users[1]"), "code"), "MANDATORY_NOT_FOUND");
    assert_string_equal(hp_str(hp_at(r.json, "users[1].details"), "api_name"), "last_name");
    hp_resp_free(&r);

    char path[128];
    snprintf(path, sizeof path, "/crm/v8/users/%s", id);
    r = call("GET", path, NULL);
    expect_status(&r, 200);
    json_t *u = hp_at(r.json, "users[0]");
    assert_string_equal(hp_str(u, "id"), id);
    assert_string_equal(hp_str(u, "full_name"), "Ada Lovelace");
    assert_string_equal(hp_str(u, "email"), "ada@example.com");
    assert_string_equal(hp_str(u, "status"), "active");
    assert_non_null(hp_str(hp_at(u, "role"), "id"));
    /* What the user was not given is shown as null, as records show an unset field (the keys
     * were missing). */
    assert_true(json_is_null(json_object_get(u, "phone")));
    assert_true(json_is_null(json_object_get(u, "mobile")));
    hp_resp_free(&r);

    /* Ids are unique per installation (contract §3): the admin, its role and its profile too. */
    r = call("GET", "/crm/v8/users?type=CurrentUser", NULL);
    expect_status(&r, 200);
    const char *admin_id = hp_str(hp_at(r.json, "users[0]"), "id");
    const char *role_id = hp_str(hp_at(r.json, "users[0].role"), "id");
    const char *profile_id = hp_str(hp_at(r.json, "users[0].profile"), "id");
    assert_non_null(admin_id);
    assert_non_null(role_id);
    assert_non_null(profile_id);
    assert_string_not_equal(role_id, admin_id);
    assert_string_not_equal(profile_id, admin_id);
    assert_string_not_equal(role_id, profile_id);
    hp_resp_free(&r);

    /* Roles and profiles are the organization's (the admin's); others are invalid. */
    r = call("POST", "/crm/v8/users",
             "{\"users\":[{\"last_name\":\"R\",\"email\":\"r@example.com\",\"role\":\"12345\"}]}");
    expect_status(&r, 400);
    assert_string_equal(hp_str(hp_at(r.json, "users[0]"), "code"), "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "users[0].details"), "api_name"), "role");
    assert_string_equal(hp_str(hp_at(r.json, "users[0].details"), "json_path"), "$.users[0].role");
    hp_resp_free(&r);

    /* The same email again is a duplicate, in any letter case. */
    const char *const again[] = {
        "{\"users\":[{\"last_name\":\"Again\",\"email\":\"ada@example.com\"}]}",
        "{\"users\":[{\"last_name\":\"Again\",\"email\":\"Ada@Example.COM\"}]}",
    };
    for (size_t i = 0; i < 2; i++) {
        r = call("POST", "/crm/v8/users", again[i]);
        expect_status(&r, 400);
        assert_string_equal(hp_str(hp_at(r.json, "users[0]"), "code"), "DUPLICATE_DATA");
        hp_resp_free(&r);
    }

    r = call("PUT", path, "{\"users\":[{\"last_name\":\"Byron\"}]}");
    expect_status(&r, 200);
    assert_string_equal(hp_str(hp_at(r.json, "users[0]"), "message"), "User updated");
    hp_resp_free(&r);
    r = call("GET", path, NULL);
    assert_string_equal(hp_str(hp_at(r.json, "users[0]"), "full_name"), "Ada Byron");
    hp_resp_free(&r);

    /* The new user can own records. */
    char rec[160];
    snprintf(rec, sizeof rec, "{\"Last_Name\":\"Owned\",\"Owner\":{\"id\":\"%s\"}}", id);
    char *lead = insert_one("Leads", rec);
    json_t *l = get_one("Leads", lead);
    assert_string_equal(hp_str(hp_at(l, "Owner"), "name"), "Ada Byron");
    assert_string_equal(hp_str(hp_at(l, "Owner"), "email"), "ada@example.com");
    json_decref(l);
    /* A user renamed after a record named them (the writer caches names): the next answer
     * names them anew. The caller creates (Created_By), so rename the caller. */
    r = call("GET", "/crm/v8/users?type=CurrentUser", NULL);
    char me[128];
    snprintf(me, sizeof me, "/crm/v8/users/%s", hp_str(hp_at(r.json, "users[0]"), "id"));
    hp_resp_free(&r);
    r = call("POST", "/crm/v8/Leads", "{\"data\":[{\"Last_Name\":\"Before\"}]}");
    expect_status(&r, 201);
    assert_string_equal(hp_str(hp_at(r.json, "data[0].details.Created_By"), "name"),
                        "Herald Admin");
    hp_resp_free(&r);
    r = call("PUT", me, "{\"users\":[{\"last_name\":\"Renamed\"}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    r = call("POST", "/crm/v8/Leads", "{\"data\":[{\"Last_Name\":\"After\"}]}");
    expect_status(&r, 201);
    assert_string_equal(hp_str(hp_at(r.json, "data[0].details.Created_By"), "name"),
                        "Herald Renamed");
    hp_resp_free(&r);
    r = call("PUT", me, "{\"users\":[{\"last_name\":\"Admin\"}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);

    /* The caller cannot delete itself. */
    r = call("GET", "/crm/v8/users?type=CurrentUser", NULL);
    char self[128];
    snprintf(self, sizeof self, "/crm/v8/users/%s", hp_str(hp_at(r.json, "users[0]"), "id"));
    hp_resp_free(&r);
    r = call("DELETE", self, NULL);
    expect_status(&r, 400);
    assert_string_equal(hp_str(hp_at(r.json, "users[0]"), "code"), "INVALID_DATA");
    hp_resp_free(&r);

    r = call("DELETE", path, NULL);
    expect_status(&r, 200);
    assert_json(r.json, "{\"users\":[{\"code\":\"SUCCESS\",\"details\":{},\"message\":"
                        "\"User deleted\",\"status\":\"success\"}]}");
    hp_resp_free(&r);
    r = call("GET", path, NULL);
    expect_status(&r, 204);
    hp_resp_free(&r);

    struct change_row rows[8];
    size_t n = changes_since(before, rows, 8);
    /* insert, update, (the lead's insert), delete of the user */
    size_t users_seen = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *rec0 = json_array_get(rows[i].records, 0);
        if (strcmp(hp_str(rec0, "id"), id) != 0)
            continue;
        users_seen++;
        if (users_seen == 1) {
            assert_string_equal(rows[i].operation, "insert");
            assert_string_equal(hp_str(hp_at(rec0, "values"), "email"), "ada@example.com");
        } else if (users_seen == 2) {
            assert_string_equal(rows[i].operation, "update");
            /* Only what the request changed: full_name is derived and not reported. */
            assert_json(hp_at(rec0, "values"), "{\"last_name\":\"Byron\"}");
        } else {
            assert_string_equal(rows[i].operation, "delete");
        }
    }
    assert_int_equal(users_seen, 3);
    change_rows_free(rows, n);
    free(id);
    free(lead);
}

/* Adds one user (a 201 expected) and gives its URL path. */
static void user_add(const char *body, char *path, size_t cap)
{
    struct hp_resp r = call("POST", "/crm/v8/users", body);
    expect_status(&r, 201);
    snprintf(path, cap, "/crm/v8/users/%s", hp_str(hp_at(r.json, "users[0].details"), "id"));
    hp_resp_free(&r);
}

/* GET /users and /users/{id} with If-Modified-Since (the SDKs' GetUsersHeader and GetUserHeader
 * send it): only the users modified at or after it, 304 without a body when none, 400 for a
 * header that is no ISO 8601 time, as on records. It was ignored: every user, every time. */
static void users_take_if_modified_since(void **state)
{
    (void)state;
    char path[128];
    user_add("{\"users\":[{\"last_name\":\"Since\",\"email\":\"since@herald.test\"}]}", path,
             sizeof path);
    struct hp_resp r = call("GET", path, NULL);
    expect_status(&r, 200);
    char at[96];
    snprintf(at, sizeof at, "If-Modified-Since: %s",
             hp_str(hp_at(r.json, "users[0]"), "Modified_Time"));
    hp_resp_free(&r);

    const char *const later[] = {"If-Modified-Since: 2999-12-31T23:59:59Z", NULL};
    const char *const since[] = {at, NULL};
    const char *const bad[] = {"If-Modified-Since: yesterday", NULL};
    const char *const paths[] = {path, "/crm/v8/users", "/crm/v8/users?type=ActiveUsers"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        r = hp_req(&srv, "GET", paths[i], NULL, srv.token, later);
        if (r.status != 304 || (r.body && *r.body))
            fail_msg("GET %s, a later If-Modified-Since: %ld %s", paths[i], r.status, r.body);
        hp_resp_free(&r);
        r = hp_req(&srv, "GET", paths[i], NULL, srv.token, since);
        expect_status(&r, 200);
        json_t *users = json_object_get(r.json, "users");
        bool has_it = false;
        for (size_t k = 0; k < json_array_size(users); k++) {
            const char *name = hp_str(json_array_get(users, k), "last_name");
            has_it |= name && strcmp(name, "Since") == 0;
        }
        assert_true(has_it);
        hp_resp_free(&r);
        r = hp_req(&srv, "GET", paths[i], NULL, srv.token, bad);
        hp_assert_error(&r, 400, "INVALID_DATA");
        assert_string_equal(hp_str(hp_at(r.json, "details"), "header_name"), "If-Modified-Since");
        hp_resp_free(&r);
    }
}

/* The current user's role and profile ids (the organization's CEO role and its profile). */
static void admin_role_and_profile(char role[32], char profile[32])
{
    struct hp_resp r = call("GET", "/crm/v8/users?type=CurrentUser", NULL);
    expect_status(&r, 200);
    snprintf(role, 32, "%s", hp_str(hp_at(r.json, "users[0].role"), "id"));
    snprintf(profile, 32, "%s", hp_str(hp_at(r.json, "users[0].profile"), "id"));
    hp_resp_free(&r);
}

/* The user at path reads back with that role (the CEO) and profile. */
static void expect_user_role(const char *path, const char *role, const char *profile)
{
    struct hp_resp r = call("GET", path, NULL);
    expect_status(&r, 200);
    assert_string_equal(hp_str(hp_at(r.json, "users[0].role"), "id"), role);
    assert_string_equal(hp_str(hp_at(r.json, "users[0].role"), "name"), "CEO");
    assert_string_equal(hp_str(hp_at(r.json, "users[0].profile"), "id"), profile);
    hp_resp_free(&r);
}

/* The official SDKs send a user's role and profile as objects ({"id"}: the SDK's Role and Profile
 * classes), Zoho's samples as id strings: both name the organization's role and profile. */
static void users_take_role_and_profile_as_objects(void **state)
{
    (void)state;
    char role[32], profile[32], body[512];
    admin_role_and_profile(role, profile);
    struct hp_resp r;

    snprintf(body, sizeof body,
             "{\"users\":[{\"last_name\":\"Obj\",\"email\":\"obj@example.com\",\"role\":{\"id\":"
             "\"%s\"},\"profile\":{\"id\":%s}}]}",
             role, profile);
    char path[128];
    user_add(body, path, sizeof path);
    expect_user_role(path, role, profile);

    /* An object naming another role is the same INVALID_DATA as an unknown id string. */
    r = call("PUT", path, "{\"users\":[{\"role\":{\"id\":\"12345\"}}]}");
    expect_status(&r, 400);
    assert_string_equal(hp_str(hp_at(r.json, "users[0]"), "code"), "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "users[0].details"), "api_name"), "role");
    hp_resp_free(&r);
    snprintf(body, sizeof body, "{\"users\":[{\"role\":{\"id\":\"%s\"},\"first_name\":\"O\"}]}",
             role);
    r = call("PUT", path, body);
    expect_status(&r, 200);
    hp_resp_free(&r);
    r = call("DELETE", path, NULL);
    expect_status(&r, 200);
    hp_resp_free(&r);
}

/* Ids may be sent as strings or numbers (herald-contract §3), role and profile ids too: a JSON
 * number named the same role as its string, but was refused as INVALID_DATA expected "text". */
static void users_take_role_and_profile_ids_as_numbers(void **state)
{
    (void)state;
    char role[32], profile[32], body[512];
    admin_role_and_profile(role, profile);
    struct hp_resp r;

    snprintf(body, sizeof body,
             "{\"users\":[{\"last_name\":\"Num\",\"email\":\"num@example.com\",\"role\":%s,"
             "\"profile\":%s}]}",
             role, profile);
    char path[128];
    user_add(body, path, sizeof path);
    expect_user_role(path, role, profile);

    snprintf(body, sizeof body, "{\"users\":[{\"role\":%s,\"first_name\":\"N\"}]}", role);
    r = call("PUT", path, body);
    expect_status(&r, 200);
    hp_resp_free(&r);
    /* A number naming no role of the organization is refused as an unknown id string is. */
    r = call("PUT", path, "{\"users\":[{\"profile\":12345}]}");
    expect_status(&r, 400);
    assert_string_equal(hp_str(hp_at(r.json, "users[0]"), "code"), "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "users[0].details"), "api_name"), "profile");
    assert_null(hp_at(r.json, "users[0].details.expected_data_type"));
    hp_resp_free(&r);
    r = call("DELETE", path, NULL);
    expect_status(&r, 200);
    hp_resp_free(&r);
}

/* PUT with null (or "") clears a user's field: GET shows it null, as on a user that never had
 * it. It showed no such key at all (first_name, phone and mobile were gone from the user). What
 * every user has from its creation on (role, profile, status, time zone, locales) cannot be
 * cleared, as a record's Owner cannot: MANDATORY_NOT_FOUND. Clearing role left a user with no
 * role key. */
static void a_cleared_user_field_shows_null(void **state)
{
    (void)state;
    char path[128];
    user_add("{\"users\":[{\"last_name\":\"Clear\",\"first_name\":\"C\",\"email\":"
             "\"clear@example.com\",\"phone\":\"1\",\"mobile\":\"2\"}]}",
             path, sizeof path);
    struct hp_resp r =
        call("PUT", path, "{\"users\":[{\"first_name\":null,\"phone\":\"\",\"mobile\":null}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    r = call("GET", path, NULL);
    expect_status(&r, 200);
    json_t *u = hp_at(r.json, "users[0]");
    static const char *const cleared[] = {"first_name", "phone", "mobile"};
    for (size_t i = 0; i < sizeof cleared / sizeof cleared[0]; i++) {
        json_t *v = json_object_get(u, cleared[i]);
        if (!v || !json_is_null(v))
            fail_msg("%s after clearing: %s", cleared[i], r.body);
    }
    assert_string_equal(hp_str(u, "full_name"), "Clear");
    hp_resp_free(&r);

    static const char *const kept[] = {"role",      "profile", "status",
                                       "time_zone", "locale",  "country_locale"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"users\":[{\"%s\":null}]}", kept[i]);
        r = call("PUT", path, body);
        expect_status(&r, 400);
        assert_string_equal(hp_str(hp_at(r.json, "users[0]"), "code"), "MANDATORY_NOT_FOUND");
        assert_string_equal(hp_str(hp_at(r.json, "users[0].details"), "api_name"), kept[i]);
        hp_resp_free(&r);
    }
    r = call("GET", path, NULL);
    expect_status(&r, 200);
    assert_string_equal(hp_str(hp_at(r.json, "users[0].role"), "name"), "CEO");
    assert_string_equal(hp_str(hp_at(r.json, "users[0]"), "status"), "active");
    hp_resp_free(&r);
    r = call("DELETE", path, NULL);
    expect_status(&r, 200);
    hp_resp_free(&r);
}

/* The organization's first user shows the keys, in the order, of a user added through the API:
 * it lacked phone and mobile (null on every other user), created_by and Modified_By (Zoho
 * shows its first user as created and modified by itself), so one GET /users listed two
 * shapes. */
static void the_first_user_has_the_shape_of_every_user(void **state)
{
    (void)state;
    char path[128];
    user_add("{\"users\":[{\"last_name\":\"Shape\",\"email\":\"shape@example.com\"}]}", path,
             sizeof path);
    struct hp_resp added = call("GET", path, NULL);
    expect_status(&added, 200);
    struct hp_resp first = call("GET", "/crm/v8/users?type=CurrentUser", NULL);
    expect_status(&first, 200);
    json_t *a = hp_at(added.json, "users[0]"), *f = hp_at(first.json, "users[0]");
    void *ia = json_object_iter(a), *jf = json_object_iter(f);
    for (; ia && jf; ia = json_object_iter_next(a, ia), jf = json_object_iter_next(f, jf))
        assert_string_equal(json_object_iter_key(jf), json_object_iter_key(ia));
    if (ia || jf)
        fail_msg("the first user shows %zu keys, an added one %zu", json_object_size(f),
                 json_object_size(a));
    assert_true(json_is_null(json_object_get(f, "phone")));
    assert_string_equal(hp_str(hp_at(f, "created_by"), "id"), hp_str(f, "id"));
    assert_string_equal(hp_str(hp_at(f, "Modified_By"), "id"), hp_str(f, "id"));
    hp_resp_free(&first);
    hp_resp_free(&added);
    struct hp_resp r = call("DELETE", path, NULL);
    expect_status(&r, 200);
    hp_resp_free(&r);
}

/* Asserts that a user's created_time and Modified_Time are shown with offset `offset`. */
static void user_times_show(const json_t *u, const char *offset)
{
    static const char *const keys[] = {"created_time", "Modified_Time"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *t = hp_str(u, keys[i]);
        assert_non_null(t);
        if (strlen(t) != 25 || strcmp(t + 19, offset) != 0)
            fail_msg("%s %s is not shown in %s", keys[i], t, offset);
    }
}

/* Users' times show in --timezone as records' do, whatever zone wrote them: the first user,
 * written when the database was created (by `token create`, in UTC), showed +00:00 under
 * --timezone Asia/Kolkata, beside records and the org in +05:30. */
static void user_times_show_in_the_server_zone(void **state)
{
    (void)state;
    struct hp tz;
    hp_start(&tz, "--timezone Asia/Kolkata");
    struct hp_resp r = hp_req(&tz, "GET", "/crm/v8/users?type=CurrentUser", NULL, tz.token, NULL);
    expect_status(&r, 200);
    user_times_show(hp_at(r.json, "users[0]"), "+05:30");
    char path[128];
    snprintf(path, sizeof path, "/crm/v8/users/%s", hp_str(hp_at(r.json, "users[0]"), "id"));
    hp_resp_free(&r);
    r = hp_req(&tz, "GET", path, NULL, tz.token, NULL);
    expect_status(&r, 200);
    user_times_show(hp_at(r.json, "users[0]"), "+05:30");
    hp_resp_free(&r);
    r = hp_req(&tz, "GET", "/crm/v8/users?type=AllUsers", NULL, tz.token, NULL);
    expect_status(&r, 200);
    user_times_show(hp_at(r.json, "users[0]"), "+05:30");
    hp_resp_free(&r);
    hp_cleanup(&tz);
}

/* A user read with GET, edited and sent back: the keys it shows that no client sets (created_by,
 * created_time, confirm; full_name and Modified_* too) are ignored as a record's read-only fields
 * are, so only the edited field changes. created_by and the others were unknown fields, and the
 * whole update was refused. */
static void a_user_read_and_sent_back_changes_only_what_was_edited(void **state)
{
    (void)state;
    char path[128];
    user_add("{\"users\":[{\"last_name\":\"Back\",\"email\":\"back@example.com\"}]}", path,
             sizeof path);
    struct hp_resp r = call("GET", path, NULL);
    expect_status(&r, 200);
    json_t *user = json_incref(hp_at(r.json, "users[0]"));
    hp_resp_free(&r);
    assert_non_null(json_object_get(user, "created_by"));
    assert_non_null(json_object_get(user, "confirm"));
    json_object_set_new(user, "first_name", json_string("Sent"));
    json_t *body = json_pack("{s:[O]}", "users", user);
    char *text = json_dumps(body, JSON_COMPACT);
    long long before = changes_max_id();
    r = call("PUT", "/crm/v8/users", text);
    expect_status(&r, 200);
    hp_resp_free(&r);
    struct change_row rows[2];
    assert_int_equal(changes_since(before, rows, 2), 1);
    assert_string_equal(rows[0].operation, "update");
    assert_json(hp_at(rows[0].records, "[0].values"), "{\"first_name\":\"Sent\"}");
    change_rows_free(rows, 1);
    free(text);
    json_decref(body);
    json_decref(user);
}

/* GET /users takes page and per_page as record lists do: decimal, page 1..100000, per_page
 * 1..200, else 400 INVALID_DATA {"param_name"} (it clamped them silently, and a page near
 * LONG_MAX / 200 overflowed its offset). Each bad value answers the same as on a record list. */
static void users_list_checks_page_and_per_page_as_record_lists_do(void **state)
{
    (void)state;
    static const struct {
        const char *query, *param;
    } bad[] = {
        {"page=0", "page"},
        {"page=-1", "page"},
        {"page=abc", "page"},
        {"page=100001", "page"},
        {"page=92233720368547758", "page"},
        {"page=", "page"},
        {"page=+1", "page"},
        {"per_page=0", "per_page"},
        {"per_page=-5", "per_page"},
        {"per_page=201", "per_page"},
        {"per_page=1x", "per_page"},
        {"page=1&per_page=abc", "per_page"},
        {"page=0&per_page=0", "page"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/crm/v8/users?%s", bad[i].query);
        struct hp_resp u = call("GET", path, NULL);
        snprintf(path, sizeof path, "/crm/v8/Leads?fields=Last_Name&%s", bad[i].query);
        struct hp_resp l = call("GET", path, NULL);
        hp_assert_error(&l, 400, "INVALID_DATA");
        if (u.status != 400 || !json_equal(u.json, l.json))
            fail_msg("GET /users?%s: %ld %s; a record list: %ld %s", bad[i].query, u.status, u.body,
                     l.status, l.body);
        assert_string_equal(hp_str(hp_at(u.json, "details"), "param_name"), bad[i].param);
        hp_resp_free(&u);
        hp_resp_free(&l);
    }
    struct hp_resp r = call("GET", "/crm/v8/users?page=100000&per_page=200", NULL);
    expect_status(&r, 204);
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/users?page=1&per_page=1", NULL);
    expect_status(&r, 200);
    assert_int_equal(json_integer_value(hp_at(r.json, "info.per_page")), 1);
    assert_int_equal(json_integer_value(hp_at(r.json, "info.page")), 1);
    hp_resp_free(&r);
}

/* GET /users?type=CurrentUser is a list of one, paged and checked as every other type is: a bad
 * page or per_page is INVALID_DATA, a page past it 204, and If-Modified-Since later than its
 * Modified_Time 304. It answered the user whatever the query and headers said. */
static void current_user_pages_and_takes_if_modified_since(void **state)
{
    (void)state;
    static const char *const bad[] = {"page=0", "page=abc", "per_page=0", "per_page=201"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/crm/v8/users?type=CurrentUser&%s", bad[i]);
        struct hp_resp r = call("GET", path, NULL);
        if (r.status != 400)
            fail_msg("GET %s: %ld %s", path, r.status, r.body);
        hp_assert_error(&r, 400, "INVALID_DATA");
        hp_resp_free(&r);
    }
    struct hp_resp r = call("GET", "/crm/v8/users?type=CurrentUser&page=2", NULL);
    expect_status(&r, 204);
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/users?type=CurrentUser&page=1&per_page=5&", NULL);
    expect_status(&r, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "users")), 1);
    assert_int_equal(json_integer_value(hp_at(r.json, "info.per_page")), 5);
    assert_int_equal(json_integer_value(hp_at(r.json, "info.count")), 1);
    assert_false(json_is_true(hp_at(r.json, "info.more_records")));
    hp_resp_free(&r);
    const char *const later[] = {"If-Modified-Since: 2999-12-31T23:59:59Z", NULL};
    r = hp_req(&srv, "GET", "/crm/v8/users?type=CurrentUser", NULL, srv.token, later);
    expect_status(&r, 304);
    hp_resp_free(&r);
    const char *const earlier[] = {"If-Modified-Since: 2000-01-01T00:00:00Z", NULL};
    r = hp_req(&srv, "GET", "/crm/v8/users?type=CurrentUser", NULL, srv.token, earlier);
    expect_status(&r, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "users")), 1);
    hp_resp_free(&r);
}

/* Whether GET /users?type=TYPE lists the user with this id (one page of 200 is all of them). */
static bool users_of_type_include(const char *type, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/crm/v8/users?type=%s", type);
    struct hp_resp r = call("GET", path, NULL);
    bool is_listed = false;
    if (r.status != 204) {
        expect_status(&r, 200);
        json_t *u;
        size_t i;
        json_array_foreach(json_object_get(r.json, "users"), i, u)
        {
            is_listed = is_listed || strcmp(hp_str(u, "id"), id) == 0;
        }
    }
    hp_resp_free(&r);
    return is_listed;
}

/* GET /users?type= lists the users of that type, as Zoho documents the values; every type but
 * CurrentUser listed every user, so ActiveUsers showed deactivated ones. An unknown type is
 * INVALID_DATA {param_name:"type"}, as a bad page is. */
static void users_list_only_the_type_asked_for(void **state)
{
    (void)state;
    struct hp_resp r = call("GET", "/crm/v8/users?type=CurrentUser", NULL);
    char admin[32];
    snprintf(admin, sizeof admin, "%s", hp_str(hp_at(r.json, "users[0]"), "id"));
    hp_resp_free(&r);
    char on[128], off[128];
    user_add("{\"users\":[{\"last_name\":\"On\",\"email\":\"on@example.com\"}]}", on, sizeof on);
    user_add("{\"users\":[{\"last_name\":\"Off\",\"email\":\"off@example.com\"}]}", off,
             sizeof off);
    r = call("PUT", off, "{\"users\":[{\"status\":\"inactive\"}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    const char *on_id = on + strlen("/crm/v8/users/"), *off_id = off + strlen("/crm/v8/users/");
    /* The admin is active and confirmed; users added through the API are not confirmed yet. */
    static const struct {
        const char *type;
        bool admin, on, off;
    } types[] = {
        {"AllUsers", true, true, true},
        {"ActiveUsers", true, true, false},
        {"DeactiveUsers", false, false, true},
        {"ConfirmedUsers", true, false, false},
        {"NotConfirmedUsers", false, true, true},
        {"ActiveConfirmedUsers", true, false, false},
        {"AdminUsers", true, true, true}, /* every user has the organization's one profile */
        {"ActiveConfirmedAdmins", true, false, false},
        {"DeletedUsers", false, false, false},
        {"CurrentUser", true, false, false},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        bool admin_seen = users_of_type_include(types[i].type, admin);
        bool on_seen = users_of_type_include(types[i].type, on_id);
        bool off_seen = users_of_type_include(types[i].type, off_id);
        if (admin_seen != types[i].admin || on_seen != types[i].on || off_seen != types[i].off)
            fail_msg("type=%s: admin %d on %d off %d", types[i].type, admin_seen, on_seen,
                     off_seen);
    }
    /* A filtered type pages what passes the filter. */
    r = call("GET", "/crm/v8/users?type=DeactiveUsers&per_page=1", NULL);
    expect_status(&r, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "users")), 1);
    assert_int_equal(json_integer_value(hp_at(r.json, "info.count")), 1);
    hp_resp_free(&r);
    r = call("GET", "/crm/v8/users?type=Nobody", NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "details"), "param_name"), "type");
    hp_resp_free(&r);
    r = call("DELETE", on, NULL);
    expect_status(&r, 200);
    hp_resp_free(&r);
    r = call("DELETE", off, NULL);
    expect_status(&r, 200);
    hp_resp_free(&r);
}

/* locale and country_locale, which every user shows, may also be written (Zoho's own SDK sample
 * for Add User sets country_locale); en_US when not given. */
static void users_write_locale_and_country_locale(void **state)
{
    (void)state;
    char path[128];
    user_add("{\"users\":[{\"last_name\":\"Loc\",\"email\":\"loc@example.com\","
             "\"country_locale\":\"fr_FR\"}]}",
             path, sizeof path);
    struct hp_resp r = call("GET", path, NULL);
    expect_status(&r, 200);
    assert_string_equal(hp_str(hp_at(r.json, "users[0]"), "country_locale"), "fr_FR");
    assert_string_equal(hp_str(hp_at(r.json, "users[0]"), "locale"), "en_US");
    hp_resp_free(&r);
    r = call("PUT", path, "{\"users\":[{\"locale\":\"fr_FR\"}]}");
    expect_status(&r, 200);
    hp_resp_free(&r);
    r = call("GET", path, NULL);
    assert_string_equal(hp_str(hp_at(r.json, "users[0]"), "locale"), "fr_FR");
    hp_resp_free(&r);
    r = call("DELETE", path, NULL);
    expect_status(&r, 200);
    hp_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(insert_returns_201_with_zoho_details),
        cmocka_unit_test(insert_mixed_is_207_and_all_failed_is_400),
        cmocka_unit_test(bad_values_are_invalid_data_with_details),
        cmocka_unit_test(request_level_errors_are_one_top_level_error),
        cmocka_unit_test(more_than_100_records_is_limit_exceeded),
        cmocka_unit_test(module_scopes_are_checked_per_operation),
        cmocka_unit_test(update_bulk_and_by_id),
        cmocka_unit_test(upsert_inserts_then_updates_by_duplicate_field),
        cmocka_unit_test(delete_bulk_and_by_id),
        cmocka_unit_test(get_unknown_id_is_204_and_list_pages),
        cmocka_unit_test(get_one_shows_the_fields_asked_for),
        cmocka_unit_test(list_sorts_and_filters_by_ids),
        cmocka_unit_test(list_takes_if_modified_since),
        cmocka_unit_test(get_one_takes_if_modified_since),
        cmocka_unit_test(empty_fields_is_no_fields),
        cmocka_unit_test(lookups_take_ids_and_show_names),
        cmocka_unit_test(related_to_follows_se_module),
        cmocka_unit_test(deal_stage_sets_probability),
        cmocka_unit_test(deal_expected_revenue_follows_amount_and_probability),
        cmocka_unit_test(decimals_read_back_as_written),
        cmocka_unit_test(a_hundred_records_with_full_textareas_are_created),
        cmocka_unit_test(each_mutation_commits_exactly_its_change_event),
        cmocka_unit_test(kill_9_loses_no_acknowledged_record),
        cmocka_unit_test(metadata_answers_in_zoho_shapes),
        cmocka_unit_test(settings_scopes_read_what_they_name),
        cmocka_unit_test(users_create_read_update_delete_with_events),
        cmocka_unit_test(users_take_role_and_profile_as_objects),
        cmocka_unit_test(users_take_role_and_profile_ids_as_numbers),
        cmocka_unit_test(a_cleared_user_field_shows_null),
        cmocka_unit_test(users_take_if_modified_since),
        cmocka_unit_test(a_user_read_and_sent_back_changes_only_what_was_edited),
        cmocka_unit_test(the_first_user_has_the_shape_of_every_user),
        cmocka_unit_test(user_times_show_in_the_server_zone),
        cmocka_unit_test(users_write_locale_and_country_locale),
        cmocka_unit_test(users_list_checks_page_and_per_page_as_record_lists_do),
        cmocka_unit_test(users_list_only_the_type_asked_for),
        cmocka_unit_test(current_user_pages_and_takes_if_modified_since),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
