/* The records API's pure logic: checking a data[] element per data type into Zoho's errors,
 * normalizing values, Deals' stage→probability, changed-field computation and display names. */
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

#include "api/records_logic.h"
#include "meta/meta.h"

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

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v)
        fail_msg("bad JSON in test: %s (%s)", text, e.text);
    return v;
}

static void assert_json(const json_t *actual, const char *expected)
{
    json_t *want = parse(expected);
    if (!json_equal((json_t *)actual, want)) {
        char *got = json_dumps(actual, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("expected %s\n     got %s", expected, got ? got : "(null)");
    }
    json_decref(want);
}

/* Checks `element` for module in `mode`; returns the error (or NULL) and fills *in. */
static json_t *check(const char *module, const char *element, enum records_mode mode,
                     struct records_input *in)
{
    const struct meta_module *m = meta_module_by_name(module);
    assert_non_null(m);
    json_t *e = parse(element);
    json_t *err = records_check(m, e, 3, mode, in);
    json_decref(e);
    return err;
}

/* One value per data type: (module, element, expected error JSON or NULL when accepted). */
static const struct {
    const char *module;
    const char *element;
    const char *error;
} type_cases[] = {
    /* text: a string within its length */
    {"Leads", "{\"Last_Name\":\"Ok\"}", NULL},
    {"Leads", "{\"Last_Name\":7}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Last_Name\",\"json_path\":"
     "\"$.data[3].Last_Name\",\"expected_data_type\":\"text\"},\"message\":\"invalid data\","
     "\"status\":\"error\"}"},
    {"Leads", "{\"Last_Name\":\"x\",\"First_Name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"First_Name\",\"json_path\":"
     "\"$.data[3].First_Name\",\"maximum_length\":40},\"message\":\"invalid data\","
     "\"status\":\"error\"}"},
    /* email */
    {"Leads", "{\"Last_Name\":\"x\",\"Email\":\"a@b.co\"}", NULL},
    {"Leads", "{\"Last_Name\":\"x\",\"Email\":\"a b@c\"}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Email\",\"json_path\":"
     "\"$.data[3].Email\",\"expected_data_type\":\"email\"},\"message\":\"invalid data\","
     "\"status\":\"error\"}"},
    /* integer */
    {"Leads", "{\"Last_Name\":\"x\",\"No_of_Employees\":12}", NULL},
    {"Leads", "{\"Last_Name\":\"x\",\"No_of_Employees\":1.5}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"No_of_Employees\",\"json_path\":"
     "\"$.data[3].No_of_Employees\",\"expected_data_type\":\"integer\"},\"message\":"
     "\"invalid data\",\"status\":\"error\"}"},
    {"Leads", "{\"Last_Name\":\"x\",\"No_of_Employees\":1234567890}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"No_of_Employees\",\"json_path\":"
     "\"$.data[3].No_of_Employees\",\"maximum_length\":9},\"message\":\"invalid data\","
     "\"status\":\"error\"}"},
    /* currency */
    {"Deals", "{\"Deal_Name\":\"d\",\"Stage\":\"Qualification\",\"Amount\":10.5}", NULL},
    {"Deals", "{\"Deal_Name\":\"d\",\"Stage\":\"Qualification\",\"Amount\":\"ten\"}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Amount\",\"json_path\":"
     "\"$.data[3].Amount\",\"expected_data_type\":\"currency\"},\"message\":\"invalid data\","
     "\"status\":\"error\"}"},
    {"Deals", "{\"Deal_Name\":\"d\",\"Stage\":\"Qualification\",\"Amount\":1e300}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Amount\",\"json_path\":"
     "\"$.data[3].Amount\",\"maximum_length\":16},\"message\":\"invalid data\","
     "\"status\":\"error\"}"},
    /* boolean */
    {"Leads", "{\"Last_Name\":\"x\",\"Email_Opt_Out\":true}", NULL},
    {"Leads", "{\"Last_Name\":\"x\",\"Email_Opt_Out\":\"true\"}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Email_Opt_Out\",\"json_path\":"
     "\"$.data[3].Email_Opt_Out\",\"expected_data_type\":\"boolean\"},\"message\":"
     "\"invalid data\",\"status\":\"error\"}"},
    /* date and datetime */
    {"Contacts", "{\"Last_Name\":\"x\",\"Date_of_Birth\":\"2024-02-29\"}", NULL},
    {"Contacts", "{\"Last_Name\":\"x\",\"Date_of_Birth\":\"2023-02-29\"}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Date_of_Birth\",\"json_path\":"
     "\"$.data[3].Date_of_Birth\",\"expected_data_type\":\"date\"},\"message\":"
     "\"invalid data\",\"status\":\"error\"}"},
    {"Events",
     "{\"Event_Title\":\"e\",\"Start_DateTime\":\"2026-11-27T10:15:00+05:30\","
     "\"End_DateTime\":\"2026-11-27T11:00:00Z\"}",
     NULL},
    {"Events",
     "{\"Event_Title\":\"e\",\"Start_DateTime\":\"2026-11-27 10:15\","
     "\"End_DateTime\":\"2026-11-27T11:00:00Z\"}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Start_DateTime\",\"json_path\":"
     "\"$.data[3].Start_DateTime\",\"expected_data_type\":\"datetime\"},\"message\":"
     "\"invalid data\",\"status\":\"error\"}"},
    /* percent */
    {"Deals", "{\"Deal_Name\":\"d\",\"Stage\":\"Qualification\",\"Probability\":101}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Probability\",\"json_path\":"
     "\"$.data[3].Probability\",\"expected_data_type\":\"percent\"},\"message\":"
     "\"invalid data\",\"status\":\"error\"}"},
    /* lookup: an object with an id */
    {"Contacts", "{\"Last_Name\":\"x\",\"Account_Name\":\"Acme\"}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Account_Name\",\"json_path\":"
     "\"$.data[3].Account_Name\",\"expected_data_type\":\"jsonobject\"},\"message\":"
     "\"invalid data\",\"status\":\"error\"}"},
    /* line items and participants: an array of objects */
    {"Quotes", "{\"Subject\":\"q\",\"Product_Details\":[{\"product\":{\"id\":\"1\"}}]}", NULL},
    {"Events",
     "{\"Event_Title\":\"e\",\"Start_DateTime\":\"2024-01-01T10:00:00Z\",\"End_DateTime\":\"2024-"
     "01-01T11:00:00Z\",\"Participants\":[{\"type\":\"email\"}]}",
     NULL},
    {"Quotes", "{\"Subject\":\"q\",\"Product_Details\":{\"product\":{\"id\":\"1\"}}}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Product_Details\",\"json_path\":"
     "\"$.data[3].Product_Details\",\"expected_data_type\":\"jsonarray\"},\"message\":"
     "\"invalid data\",\"status\":\"error\"}"},
    {"Invoices", "{\"Subject\":\"i\",\"Product_Details\":[{},{},\"x\",7]}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Product_Details\",\"json_path\":"
     "\"$.data[3].Product_Details[2]\",\"expected_data_type\":\"jsonobject\"},\"message\":"
     "\"invalid data\",\"status\":\"error\"}"},
    {"Events",
     "{\"Event_Title\":\"e\",\"Start_DateTime\":\"2024-01-01T10:00:00Z\",\"End_DateTime\":\"2024-"
     "01-01T11:00:00Z\",\"Participants\":\"x@y.z\"}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Participants\",\"json_path\":"
     "\"$.data[3].Participants\",\"expected_data_type\":\"jsonarray\"},\"message\":"
     "\"invalid data\",\"status\":\"error\"}"},
    /* unknown field */
    {"Leads", "{\"Last_Name\":\"x\",\"Shoe_Size\":44}",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Shoe_Size\",\"json_path\":"
     "\"$.data[3].Shoe_Size\"},\"message\":\"the field api name given seems to be invalid\","
     "\"status\":\"error\"}"},
    /* not an object */
    {"Leads", "[1]",
     "{\"code\":\"INVALID_DATA\",\"details\":{\"expected_data_type\":\"jsonobject\","
     "\"json_path\":\"$.data[3]\"},\"message\":\"invalid data\",\"status\":\"error\"}"},
    /* mandatory */
    {"Deals", "{\"Deal_Name\":\"d\"}",
     "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"Stage\",\"json_path\":"
     "\"$.data[3].Stage\"},\"message\":\"required field not found\",\"status\":\"error\"}"},
    {"Leads", "{\"Last_Name\":\"\"}",
     "{\"code\":\"MANDATORY_NOT_FOUND\",\"details\":{\"api_name\":\"Last_Name\",\"json_path\":"
     "\"$.data[3].Last_Name\"},\"message\":\"required field not found\",\"status\":\"error\"}"},
};

static void checks_each_data_type_with_zoho_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof type_cases / sizeof type_cases[0]; i++) {
        struct records_input in;
        json_t *err = check(type_cases[i].module, type_cases[i].element, RECORDS_INSERT, &in);
        if (!type_cases[i].error) {
            if (err) {
                char *t = json_dumps(err, JSON_COMPACT);
                fail_msg("case %zu: unexpected error %s", i, t);
            }
            records_input_fini(&in);
            continue;
        }
        if (!err)
            fail_msg("case %zu: accepted %s", i, type_cases[i].element);
        assert_json(err, type_cases[i].error);
        assert_null(in.values);
        json_decref(err);
    }
}

static void picklist_error_lists_supported_values(void **state)
{
    (void)state;
    struct records_input in;
    json_t *err = check("Deals", "{\"Deal_Name\":\"d\",\"Stage\":\"Maybe\"}", RECORDS_INSERT, &in);
    assert_non_null(err);
    json_t *d = json_object_get(err, "details");
    assert_string_equal(json_string_value(json_object_get(d, "expected_data_type")), "picklist");
    json_t *values = json_object_get(d, "supported_values");
    assert_true(json_array_size(values) >= 9);
    json_decref(err);
}

static void normalizes_values_and_collects_lookups(void **state)
{
    (void)state;
    struct records_input in;
    json_t *err = check("Contacts",
                        "{\"Last_Name\":\"x\",\"Account_Name\":{\"id\":1234,\"name\":\"ignored\"},"
                        "\"Owner\":{\"id\":\"99\"},\"Phone\":\"\",\"Created_Time\":\"whatever\","
                        "\"Full_Name\":\"not mine\",\"id\":\"5\",\"$approval_state\":\"x\"}",
                        RECORDS_INSERT, &in);
    assert_null(err);
    /* Lookups keep only their id (a string); "" on insert sets nothing; read-only, id and $
     * keys are ignored. */
    assert_json(in.values, "{\"Last_Name\":\"x\",\"Account_Name\":{\"id\":\"1234\"},"
                           "\"Owner\":{\"id\":\"99\"}}");
    assert_int_equal(in.lookup_count, 2);
    assert_string_equal(in.lookups[0].field->api_name, "Account_Name");
    assert_string_equal(in.lookups[0].target->api_name, "Accounts");
    assert_int_equal(in.lookups[0].id, 1234);
    assert_null(in.lookups[1].target); /* owners are users */
    assert_int_equal(in.owner_id, 99);
    records_input_fini(&in);

    /* bigint strings become numbers; multiselect takes arrays of picklist values. */
    err = check("Accounts", "{\"Account_Name\":\"a\",\"Account_Number\":\"9007199254740993\"}",
                RECORDS_INSERT, &in);
    assert_null(err);
    assert_true(json_is_integer(json_object_get(in.values, "Account_Number")));
    assert_int_equal(json_integer_value(json_object_get(in.values, "Account_Number")),
                     9007199254740993LL);
    records_input_fini(&in);
    err =
        check("Services__s", "{\"Service_Name\":\"s\",\"Available_Days\":[\"Monday\",\"Friday\"]}",
              RECORDS_INSERT, &in);
    assert_null(err);
    records_input_fini(&in);
    /* A multiselect is a set of options: repeats are dropped, the first occurrence kept in the
     * order sent. */
    err = check("Services__s",
                "{\"Available_Days\":[\"Friday\",\"Monday\",\"Friday\",\"Sunday\",\"Monday\"]}",
                RECORDS_UPDATE, &in);
    assert_null(err);
    assert_json(in.values, "{\"Available_Days\":[\"Friday\",\"Monday\",\"Sunday\"]}");
    records_input_fini(&in);
    /* date-times are rendered in the display zone (UTC here), whatever offset they came with. */
    err = check("Events",
                "{\"Event_Title\":\"e\",\"Start_DateTime\":\"2026-11-27T10:15:00+05:30\","
                "\"End_DateTime\":\"2026-11-27T11:00:00Z\"}",
                RECORDS_INSERT, &in);
    assert_null(err);
    assert_json(in.values,
                "{\"Event_Title\":\"e\",\"Start_DateTime\":\"2026-11-27T04:45:00+00:00\","
                "\"End_DateTime\":\"2026-11-27T11:00:00+00:00\"}");
    records_input_fini(&in);
    err = check("Services__s", "{\"Service_Name\":\"s\",\"Available_Days\":[\"Someday\"]}",
                RECORDS_INSERT, &in);
    assert_non_null(err);
    assert_string_equal(json_string_value(json_object_get(err, "code")), "INVALID_DATA");
    json_decref(err);
}

/* A body's worth of repeated options (1 MiB) normalizes to each option once: repeats are marked
 * by picklist index, so the cost is the array's length times the picklist's at most. */
static void many_repeated_options_keep_each_once(void **state)
{
    (void)state;
    const struct meta_module *m = meta_module_by_name("Services__s");
    const struct meta_field *f = meta_field_by_name(m, "Available_Days");
    assert_non_null(f);
    json_t *days = json_array();
    for (size_t i = 0; i < 1024 * 1024 / sizeof "\"Monday\","; i++)
        json_array_append_new(days, json_string(f->picklist[i % 2 ? 0 : 2]));
    json_array_append_new(days, json_string(f->picklist[6]));
    json_t *element = json_pack("{s:o}", "Available_Days", days);
    struct records_input in;
    json_t *err = records_check(m, element, 0, RECORDS_UPDATE, &in);
    assert_null(err);
    json_t *want = json_pack("[s, s, s]", f->picklist[2], f->picklist[0], f->picklist[6]);
    assert_true(json_equal(json_object_get(in.values, "Available_Days"), want));
    json_decref(want);
    records_input_fini(&in);
    json_decref(element);
}

/* Line items and participants are stored as sent, their ids as strings; more than
 * META_ITEMS_MAX elements is INVALID_DATA with maximum_length. */
static void line_items_keep_their_shape_with_string_ids(void **state)
{
    (void)state;
    struct records_input in;
    json_t *err = check("Quotes",
                        "{\"Subject\":\"q\",\"Product_Details\":[{\"product\":{\"id\":"
                        "554023000000555001,\"name\":\"Pen\"},\"quantity\":2,\"list_price\":1.5,"
                        "\"id\":7,\"line_tax\":[{\"name\":\"VAT\",\"percentage\":5}]},"
                        "{\"product\":{\"id\":\"9\"},\"Discount\":\"5%\"}]}",
                        RECORDS_INSERT, &in);
    assert_null(err);
    assert_json(in.values,
                "{\"Subject\":\"q\",\"Product_Details\":[{\"product\":{\"id\":"
                "\"554023000000555001\",\"name\":\"Pen\"},\"quantity\":2,"
                "\"list_price\":1.5,\"id\":\"7\",\"line_tax\":[{\"name\":\"VAT\","
                "\"percentage\":5}]},{\"product\":{\"id\":\"9\"},\"Discount\":\"5%\"}]}");
    records_input_fini(&in);

    err = check("Events",
                "{\"Event_Title\":\"e\",\"Participants\":[{\"type\":\"contact\",\"participant\":"
                "554023000000777001},{\"type\":\"email\",\"participant\":\"a@b.co\"}]}",
                RECORDS_UPDATE, &in);
    assert_null(err);
    assert_json(json_object_get(in.values, "Participants"),
                "[{\"type\":\"contact\",\"participant\":\"554023000000777001\"},"
                "{\"type\":\"email\",\"participant\":\"a@b.co\"}]");
    records_input_fini(&in);

    /* [] empties the field, as for a multiselect (it equals unset: records_value_equal). */
    err = check("Quotes", "{\"Product_Details\":[]}", RECORDS_UPDATE, &in);
    assert_null(err);
    assert_json(in.values, "{\"Product_Details\":[]}");
    records_input_fini(&in);

    json_t *element = parse("{\"Subject\":\"q\"}");
    json_t *many = json_array();
    for (int i = 0; i <= META_ITEMS_MAX; i++)
        json_array_append_new(many, json_object());
    json_object_set_new(element, "Product_Details", many);
    err = records_check(meta_module_by_name("Quotes"), element, 0, RECORDS_INSERT, &in);
    assert_json(err, "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"Product_Details\","
                     "\"json_path\":\"$.data[0].Product_Details\",\"maximum_length\":200},"
                     "\"message\":\"invalid data\",\"status\":\"error\"}");
    json_decref(err);
    json_decref(element);
}

/* The values a change event reports leave out the fields callbacks ignore. */
static void notified_values_leave_out_line_items_and_participants(void **state)
{
    (void)state;
    const struct meta_module *quotes = meta_module_by_name("Quotes");
    json_t *values = parse("{\"Subject\":\"q\",\"Product_Details\":[{\"quantity\":1}],"
                           "\"Quote_Stage\":\"Draft\"}");
    json_t *notified = records_notified(quotes, values);
    assert_json(notified, "{\"Subject\":\"q\",\"Quote_Stage\":\"Draft\"}");
    json_decref(notified);
    json_decref(values);

    values = parse("{\"Product_Details\":null}");
    notified = records_notified(quotes, values);
    assert_int_equal(json_object_size(notified), 0);
    json_decref(notified);
    json_decref(values);

    /* A module without such fields: the same values, not a copy. */
    values = parse("{\"Last_Name\":\"l\"}");
    notified = records_notified(meta_module_by_name("Leads"), values);
    assert_ptr_equal(notified, values);
    json_decref(notified);
    json_decref(values);

    values = parse("{\"Event_Title\":\"e\",\"Participants\":[]}");
    notified = records_notified(meta_module_by_name("Events"), values);
    assert_json(notified, "{\"Event_Title\":\"e\"}");
    json_decref(notified);
    json_decref(values);
}

/* What_Id ("Related To") looks up the module "$se_module" names, which the values keep (only
 * when it is not Accounts, the field's own; null on an update, to forget an earlier one), and
 * which no change event names as a field. */
static void related_to_follows_se_module(void **state)
{
    (void)state;
    struct records_input in;
    json_t *err = check("Tasks", "{\"What_Id\":{\"id\":\"7\"},\"$se_module\":\"deals\"}",
                        RECORDS_UPDATE, &in);
    assert_null(err);
    assert_json(in.values, "{\"What_Id\":{\"id\":\"7\"},\"$se_module\":\"Deals\"}");
    assert_int_equal(in.lookup_count, 1);
    assert_ptr_equal(in.lookups[0].target, meta_module_by_name("Deals"));
    const struct meta_module *tasks = meta_module_by_name("Tasks");
    const struct meta_field *f = meta_field_by_name(tasks, "What_Id");
    assert_ptr_equal(records_lookup_module(f, in.values), meta_module_by_name("Deals"));
    json_t *notified = records_notified(tasks, in.values);
    assert_json(notified, "{\"What_Id\":{\"id\":\"7\"}}");
    json_decref(notified);
    records_input_fini(&in);

    assert_null(
        check("Tasks", "{\"Subject\":\"s\",\"What_Id\":{\"id\":\"7\"}}", RECORDS_INSERT, &in));
    assert_json(in.values, "{\"Subject\":\"s\",\"What_Id\":{\"id\":\"7\"}}");
    assert_ptr_equal(in.lookups[0].target, meta_module_by_name("Accounts"));
    assert_ptr_equal(records_lookup_module(f, in.values), meta_module_by_name("Accounts"));
    records_input_fini(&in);
    assert_null(check("Tasks", "{\"What_Id\":null,\"$se_module\":\"Deals\"}", RECORDS_UPDATE, &in));
    assert_json(in.values, "{\"What_Id\":null,\"$se_module\":null}");
    records_input_fini(&in);

    static const char *const bad[] = {"\"Contacts\"", "\"\"", "3", "null", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char element[128];
        snprintf(element, sizeof element, "{\"What_Id\":{\"id\":\"7\"},\"$se_module\":%s}", bad[i]);
        err = check("Events", element, RECORDS_INSERT, &in);
        assert_json(err, "{\"code\":\"INVALID_DATA\",\"details\":{\"api_name\":\"$se_module\","
                         "\"json_path\":\"$.data[3].$se_module\"},\"message\":\"invalid data\","
                         "\"status\":\"error\"}");
        json_decref(err);
    }
}

static void update_needs_nothing_but_cannot_clear_mandatory(void **state)
{
    (void)state;
    struct records_input in;
    json_t *err = check("Leads", "{\"Company\":\"c\",\"Phone\":null}", RECORDS_UPDATE, &in);
    assert_null(err);
    /* A null clears the field in an update. */
    assert_json(in.values, "{\"Company\":\"c\",\"Phone\":null}");
    records_input_fini(&in);
    static const char *const cleared[] = {"{\"Last_Name\":null}", "{\"Last_Name\":\"\"}",
                                          "{\"Owner\":null}"};
    for (size_t i = 0; i < sizeof cleared / sizeof cleared[0]; i++) {
        err = check("Leads", cleared[i], RECORDS_UPDATE, &in);
        assert_non_null(err);
        assert_string_equal(json_string_value(json_object_get(err, "code")), "MANDATORY_NOT_FOUND");
        json_decref(err);
    }
}

static void upsert_defers_the_mandatory_check(void **state)
{
    (void)state;
    struct records_input in;
    json_t *err = check("Leads", "{\"Email\":\"a@b.co\"}", RECORDS_UPSERT, &in);
    assert_null(err);
    assert_string_equal(in.missing_mandatory, "Last_Name");
    records_input_fini(&in);
    err = check("Leads", "{\"Email\":\"a@b.co\",\"Last_Name\":\"L\"}", RECORDS_UPSERT, &in);
    assert_null(err);
    assert_null(in.missing_mandatory);
    records_input_fini(&in);
}

static void deal_stage_derives_probability(void **state)
{
    (void)state;
    const struct meta_module *deals = meta_module_by_name("Deals");
    static const struct {
        const char *stage;
        int probability;
    } map[] = {
        {"Qualification", 10},
        {"Needs Analysis", 20},
        {"Value Proposition", 40},
        {"Id. Decision Makers", 60},
        {"Proposal/Price Quote", 75},
        {"Negotiation/Review", 90},
        {"Closed Won", 100},
        {"Closed Lost", 0},
        {"Closed Lost to Competition", 0},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        json_t *v = json_pack("{s:s}", "Stage", map[i].stage);
        assert_true(records_derive(deals, v));
        assert_int_equal(json_integer_value(json_object_get(v, "Probability")), map[i].probability);
        /* Stage first, then the derived Probability. */
        assert_string_equal(json_object_iter_key(json_object_iter(v)), "Stage");
        json_decref(v);
    }
    json_t *v = parse("{\"Stage\":\"Closed Won\",\"Probability\":55}");
    assert_false(records_derive(deals, v));
    assert_int_equal(json_integer_value(json_object_get(v, "Probability")), 55);
    json_decref(v);
    v = parse("{\"Deal_Name\":\"no stage\"}");
    assert_false(records_derive(deals, v));
    assert_null(json_object_get(v, "Probability"));
    json_decref(v);
    v = parse("{\"Stage\":\"Qualification\"}");
    assert_false(records_derive(meta_module_by_name("Leads"), v));
    json_decref(v);
}

static void deal_expected_revenue_is_amount_times_probability(void **state)
{
    (void)state;
    static const struct {
        const char *data;
        const char *want; /* JSON, or NULL when there is none */
    } cases[] = {
        {"{\"Amount\":1000,\"Probability\":10}", "100"},
        {"{\"Amount\":1000,\"Probability\":75}", "750"},
        {"{\"Amount\":1234.56,\"Probability\":10}", "123.46"},
        {"{\"Amount\":99.99,\"Probability\":100}", "99.99"},
        {"{\"Amount\":500,\"Probability\":0}", "0"},
        {"{\"Amount\":-200,\"Probability\":40}", "-80"},
        {"{\"Amount\":1000}", NULL},
        {"{\"Probability\":10}", NULL},
        {"{}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *data = parse(cases[i].data);
        json_t *got = records_expected_revenue(data);
        if (!cases[i].want) {
            if (got)
                fail_msg("%s: expected none", cases[i].data);
        } else {
            json_t *want = json_loads(cases[i].want, JSON_DECODE_ANY, NULL);
            if (!got || json_number_value(got) != json_number_value(want) ||
                json_is_integer(got) != json_is_integer(want))
                fail_msg("%s: expected %s", cases[i].data, cases[i].want);
            json_decref(want);
        }
        json_decref(got);
        json_decref(data);
    }
}

static void value_equality_is_by_meaning(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        bool is_equal;
    } cases[] = {
        {"5", "5.0", true},
        {"5", "5", true},
        {"5", "6", false},
        {"\"5\"", "5", false},
        {"\"x\"", "\"x\"", true},
        {"null", "null", true},
        {"{\"id\":\"12\"}", "{\"id\":12,\"name\":\"Acme\"}", true},
        {"{\"id\":\"12\"}", "{\"id\":\"13\"}", false},
        {"[\"a\",\"b\"]", "[\"a\",\"b\"]", true},
        /* Arrays are multiselect values, sets of options: order is no change, size is. */
        {"[\"a\",\"b\"]", "[\"b\",\"a\"]", true},
        {"[\"a\",\"b\",\"c\"]", "[\"c\",\"a\",\"b\"]", true},
        {"[\"a\",\"b\"]", "[\"a\",\"c\"]", false},
        {"[\"a\",\"b\"]", "[\"a\"]", false},
        {"[\"a\"]", "[\"a\",\"a\"]", false},
        {"[\"a\",\"a\"]", "[\"a\",\"b\"]", false}, /* a repeat stored earlier */
        {"[]", "[]", true},
        {"[1]", "[1.0]", true},
        {"true", "false", false},
        {"\"\"", "null", false},
        {"false", "null", true}, /* an unset checkbox is unchecked */
        {"[]", "null", true},    /* a multiselect with no option is unset */
        {"[]", "[\"a\"]", false},
        {"true", "null", false},
        {"[false]", "[null]", true},
        /* Arrays of objects are line items or participants: a list compared whole, in order,
         * each object by every key (not by its id as a lookup is). */
        {"[{\"id\":\"1\",\"quantity\":1}]", "[{\"id\":\"1\",\"quantity\":1}]", true},
        {"[{\"id\":\"1\",\"quantity\":1}]", "[{\"id\":\"1\",\"quantity\":2}]", false},
        {"[{\"a\":1},{\"b\":2}]", "[{\"b\":2},{\"a\":1}]", false},
        {"[{\"a\":1}]", "[{\"a\":1},{\"a\":1}]", false},
        {"[{\"a\":1}]", "null", false},
        {"[{\"a\":1}]", "[\"a\"]", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *a = parse(cases[i].a), *b = parse(cases[i].b);
        if (records_value_equal(a, b) != cases[i].is_equal)
            fail_msg("case %zu: %s vs %s", i, cases[i].a, cases[i].b);
        json_decref(a);
        json_decref(b);
    }
    json_t *n = json_null();
    assert_true(records_value_equal(NULL, n));
    assert_true(records_value_equal(n, NULL));
    json_t *x = json_string("x");
    assert_false(records_value_equal(NULL, x));
    json_decref(x);
    assert_true(records_value_equal(NULL, json_false()));
    assert_true(records_value_equal(json_false(), NULL));
    assert_false(records_value_equal(NULL, json_true()));
    json_t *none = json_array();
    assert_true(records_value_equal(NULL, none));
    json_decref(none);
}

static void changed_fields_are_those_whose_value_differs(void **state)
{
    (void)state;
    json_t *old = parse("{\"A\":\"x\",\"B\":1,\"C\":\"y\",\"L\":{\"name\":\"Acme\",\"id\":\"7\"}}");
    json_t *values = parse("{\"A\":\"x\",\"B\":2,\"C\":null,\"D\":null,\"E\":true,"
                           "\"L\":{\"id\":\"7\"}}");
    json_t *changed = records_changed(old, values);
    /* A and L are unchanged; D was absent and stays absent; order is the request's. */
    assert_json(changed, "{\"B\":2,\"C\":null,\"E\":true}");
    const char *order[] = {"B", "C", "E"};
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(changed, key, v)
    {
        assert_string_equal(key, order[k++]);
    }
    json_t *merged = records_merge(old, changed);
    assert_json(merged, "{\"A\":\"x\",\"B\":2,\"L\":{\"name\":\"Acme\",\"id\":\"7\"},\"E\":true}");
    json_decref(merged);
    json_decref(changed);

    /* An update that changes nothing changes no field. */
    json_t *same = parse("{\"A\":\"x\",\"B\":1.0}");
    changed = records_changed(old, same);
    assert_int_equal(json_object_size(changed), 0);
    json_decref(changed);
    json_decref(same);

    /* Unchecking a checkbox that was never checked changes nothing. */
    same = parse("{\"Z\":false}");
    changed = records_changed(old, same);
    assert_int_equal(json_object_size(changed), 0);
    json_decref(changed);
    json_decref(same);
    json_decref(values);
    json_decref(old);
}

/* Date-times stored in the zone of an earlier write are rendered in today's display zone (UTC
 * here), so they compare with a request's values by instant; other values stay as they are. */
static void stored_date_times_are_rendered_in_the_display_zone(void **state)
{
    (void)state;
    const struct meta_module *events = meta_module_by_name("Events");
    json_t *data = parse("{\"Event_Title\":\"2026-11-27T10:15:00+05:30\","
                         "\"Start_DateTime\":\"2026-11-27T10:15:00+05:30\","
                         "\"End_DateTime\":\"2026-11-27T11:00:00+00:00\"}");
    records_rezone(events, data);
    assert_json(data, "{\"Event_Title\":\"2026-11-27T10:15:00+05:30\","
                      "\"Start_DateTime\":\"2026-11-27T04:45:00+00:00\","
                      "\"End_DateTime\":\"2026-11-27T11:00:00+00:00\"}");
    json_t *values = parse("{\"Start_DateTime\":\"2026-11-27T04:45:00+00:00\"}");
    json_t *changed = records_changed(data, values);
    assert_int_equal(json_object_size(changed), 0);
    json_decref(changed);
    json_decref(values);
    json_decref(data);
}

static void display_names_follow_the_module(void **state)
{
    (void)state;
    static const struct {
        const char *module, *data, *name;
    } cases[] = {
        {"Leads", "{\"First_Name\":\"Ada\",\"Last_Name\":\"Lovelace\"}", "Ada Lovelace"},
        {"Contacts", "{\"Last_Name\":\"Solo\"}", "Solo"},
        {"Accounts", "{\"Account_Name\":\"Acme\",\"Phone\":\"1\"}", "Acme"},
        {"Deals", "{\"Stage\":\"Qualification\",\"Deal_Name\":\"Big\"}", "Big"},
        {"Tasks", "{\"Subject\":\"Call back\"}", "Call back"},
        {"Appointments_Rescheduled_History__s", "{\"Name\":\"R1\"}", "R1"},
        {"Accounts", "{}", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *d = parse(cases[i].data);
        char *name = records_display_name(meta_module_by_name(cases[i].module), d);
        assert_string_equal(name, cases[i].name);
        free(name);
        json_decref(d);
    }
}

static void upsert_defaults_to_zoho_duplicate_fields(void **state)
{
    (void)state;
    assert_string_equal(records_default_duplicate_field(meta_module_by_name("Leads"))->api_name,
                        "Email");
    assert_string_equal(records_default_duplicate_field(meta_module_by_name("Accounts"))->api_name,
                        "Account_Name");
    assert_null(records_default_duplicate_field(meta_module_by_name("Tasks")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checks_each_data_type_with_zoho_errors),
        cmocka_unit_test(picklist_error_lists_supported_values),
        cmocka_unit_test(normalizes_values_and_collects_lookups),
        cmocka_unit_test(line_items_keep_their_shape_with_string_ids),
        cmocka_unit_test(notified_values_leave_out_line_items_and_participants),
        cmocka_unit_test(related_to_follows_se_module),
        cmocka_unit_test(update_needs_nothing_but_cannot_clear_mandatory),
        cmocka_unit_test(upsert_defers_the_mandatory_check),
        cmocka_unit_test(deal_stage_derives_probability),
        cmocka_unit_test(deal_expected_revenue_is_amount_times_probability),
        cmocka_unit_test(many_repeated_options_keep_each_once),
        cmocka_unit_test(value_equality_is_by_meaning),
        cmocka_unit_test(stored_date_times_are_rendered_in_the_display_zone),
        cmocka_unit_test(changed_fields_are_those_whose_value_differs),
        cmocka_unit_test(display_names_follow_the_module),
        cmocka_unit_test(upsert_defaults_to_zoho_duplicate_fields),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
