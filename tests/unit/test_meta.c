/* Module and field metadata: the embedded definitions, lookups by name and id, Zoho's JSON
 * renderings, value checks per data type and the Deals stage→probability mapping. */
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

static const struct meta_module *module(const char *name)
{
    const struct meta_module *m = meta_module_by_name(name);
    if (!m)
        fail_msg("module %s is missing", name);
    return m;
}

static const struct meta_field *field(const char *module_name, const char *name)
{
    const struct meta_field *f = meta_field_by_name(module(module_name), name);
    if (!f)
        fail_msg("field %s.%s is missing", module_name, name);
    return f;
}

/* The problem with the JSON text `json` as a value of module.field; *expected gets the type. */
static enum meta_problem check_expecting(const char *module_name, const char *name,
                                         const char *json, const char **expected)
{
    json_error_t jerr;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);
    if (!v)
        fail_msg("bad test JSON %s: %s", json, jerr.text);
    enum meta_problem problem = meta_value_problem(field(module_name, name), v, expected);
    assert_int_equal(meta_value_check(field(module_name, name), v, NULL), problem == META_VALUE_OK);
    json_decref(v);
    return problem;
}

static enum meta_problem check(const char *module_name, const char *name, const char *json)
{
    const char *expected = NULL;
    return check_expecting(module_name, name, json, &expected);
}

static const char *expected_for(const char *module_name, const char *name, const char *json)
{
    const char *expected = NULL;
    assert_int_not_equal(check_expecting(module_name, name, json, &expected), META_VALUE_OK);
    assert_non_null(expected);
    return expected;
}

/* ---- the definitions -------------------------------------------------------------------- */

static void init_loads_embedded_data_once(void **state)
{
    (void)state;
    const struct meta_module *before = meta_module_by_name("Leads");
    assert_int_equal(meta_init(), HERALD_OK);
    assert_ptr_equal(meta_module_by_name("Leads"), before);
    assert_int_equal(meta_module_count(), 21);
    for (size_t i = 0; i < meta_module_count(); i++) {
        assert_int_equal(meta_module_at(i)->index, i);
        for (size_t j = 0; j < meta_module_at(i)->field_count; j++) {
            const struct meta_field *f = &meta_module_at(i)->fields[j];
            assert_int_equal(f->index, j);
            assert_ptr_equal(f->module, meta_module_at(i));
        }
    }
    assert_null(meta_module_at(meta_module_count()));
}

static void every_contract_module_has_exactly_its_mandatory_fields(void **state)
{
    (void)state;
    static const char *const table[][4] = {
        {"Leads", "Last_Name"},
        {"Accounts", "Account_Name"},
        {"Contacts", "Last_Name"},
        {"Deals", "Deal_Name", "Stage"},
        {"Campaigns", "Campaign_Name"},
        {"Tasks", "Subject"},
        {"Cases", "Subject", "Case_Origin", "Status"},
        {"Events", "Event_Title", "Start_DateTime", "End_DateTime"},
        {"Calls", "Subject", "Call_Type", "Call_Start_Time"},
        {"Solutions", "Solution_Title"},
        {"Products", "Product_Name"},
        {"Vendors", "Vendor_Name"},
        {"Price_Books", "Price_Book_Name"},
        {"Quotes", "Subject"},
        {"Sales_Orders", "Subject"},
        {"Purchase_Orders", "Subject", "Vendor_Name"},
        {"Invoices", "Subject"},
        {"Appointments__s", "Appointment_Name"},
        {"Appointments_Rescheduled_History__s"},
        {"Services__s", "Service_Name"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const struct meta_module *m = module(table[i][0]);
        assert_string_equal(m->api_name, table[i][0]);
        assert_true(m->is_api_supported);
        size_t expected = 0;
        for (size_t k = 1; k < 4 && table[i][k]; k++, expected++)
            assert_true(field(table[i][0], table[i][k])->is_mandatory);
        size_t mandatory = 0;
        for (size_t j = 0; j < m->field_count; j++)
            mandatory += m->fields[j].is_mandatory;
        if (mandatory != expected)
            fail_msg("%s has %zu mandatory fields, expected %zu", m->api_name, mandatory, expected);
    }
}

static void every_module_has_the_system_fields(void **state)
{
    (void)state;
    static const char *const system[] = {"Created_Time", "Modified_Time", "Created_By",
                                         "Modified_By"};
    for (size_t i = 0; i < meta_module_count(); i++) {
        const struct meta_module *m = meta_module_at(i);
        for (size_t k = 0; k < 4; k++) {
            const struct meta_field *f = meta_field_by_name(m, system[k]);
            assert_non_null(f);
            assert_true(f->is_read_only);
            assert_int_equal(f->type, k < 2 ? META_DATETIME : META_OWNERLOOKUP);
        }
        const struct meta_field *owner = meta_field_by_name(m, "Owner");
        if (m->is_api_supported) {
            assert_non_null(owner);
            assert_int_equal(owner->type, META_OWNERLOOKUP);
            assert_false(owner->is_read_only);
            assert_null(owner->lookup);
        }
    }
}

static void events_are_shown_as_meetings_and_users_are_hidden(void **state)
{
    (void)state;
    const struct meta_module *events = module("Events");
    assert_string_equal(events->module_name, "Meetings");
    assert_string_equal(events->plural_label, "Meetings");
    const struct meta_module *users = module("users");
    assert_false(users->is_api_supported);
    assert_true(meta_field_by_name(users, "email")->is_mandatory);
    assert_int_equal(meta_field_by_name(users, "status")->type, META_PICKLIST);
}

static void known_doc_ids_resolve(void **state)
{
    (void)state;
    assert_ptr_equal(meta_module_by_id("554023000000000125"), module("Leads"));
    assert_ptr_equal(meta_module_by_id("554023000000000129"), module("Contacts"));
    const struct meta_module *deals = meta_module_by_id("554023000000000131");
    assert_ptr_equal(deals, module("Deals"));
    assert_ptr_equal(meta_module_by_id_num(554023000000000131), deals);
    assert_int_equal(deals->id_num, 554023000000000131);

    assert_ptr_equal(meta_field_by_id(deals, "554023000000000525"), field("Deals", "Stage"));
    assert_ptr_equal(meta_field_by_id(deals, "554023000000000523"), field("Deals", "Account_Name"));
    assert_ptr_equal(meta_field_by_id(deals, "554023000000000535"), field("Deals", "Lead_Source"));
    assert_ptr_equal(meta_field_by_id_num(deals, 554023000000000525), field("Deals", "Stage"));
    const struct meta_module *leads = module("Leads");
    assert_ptr_equal(meta_field_by_id(leads, "554023000000000559"), field("Leads", "Last_Name"));
    assert_ptr_equal(meta_field_by_id(leads, "554023000000000597"), field("Leads", "Full_Name"));
    assert_true(field("Leads", "Full_Name")->is_read_only);
}

static void field_ids_are_scoped_to_their_module(void **state)
{
    (void)state;
    assert_null(meta_field_by_id(module("Leads"), "554023000000000525"));
    assert_null(meta_field_by_id(NULL, "554023000000000525"));
}

static void ids_are_unique_18_digit_decimals(void **state)
{
    (void)state;
    size_t n = 0;
    int64_t seen[2048];
    for (size_t i = 0; i < meta_module_count(); i++) {
        const struct meta_module *m = meta_module_at(i);
        assert_int_equal(strlen(m->id), 18);
        assert_int_equal(strtoll(m->id, NULL, 10), m->id_num);
        seen[n++] = m->id_num;
        for (size_t j = 0; j < m->field_count; j++) {
            assert_int_equal(strlen(m->fields[j].id), 18);
            assert_int_equal(strncmp(m->fields[j].id, "5540230000000", 13), 0);
            assert_true(n < sizeof seen / sizeof seen[0]);
            seen[n++] = m->fields[j].id_num;
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++)
            assert_true(seen[i] != seen[j]);
    }
}

static void every_lookup_target_resolves(void **state)
{
    (void)state;
    size_t lookups = 0;
    for (size_t i = 0; i < meta_module_count(); i++) {
        const struct meta_module *m = meta_module_at(i);
        for (size_t j = 0; j < m->field_count; j++) {
            const struct meta_field *f = &m->fields[j];
            if (f->type != META_LOOKUP) {
                assert_null(f->lookup);
                continue;
            }
            assert_non_null(f->lookup);
            assert_ptr_equal(meta_module_at(f->lookup->index), f->lookup);
            lookups++;
        }
    }
    assert_true(lookups > 20);
    static const char *const relations[][3] = {
        {"Contacts", "Account_Name", "Accounts"},
        {"Deals", "Account_Name", "Accounts"},
        {"Deals", "Contact_Name", "Contacts"},
        {"Deals", "Campaign_Source", "Campaigns"},
        {"Cases", "Account_Name", "Accounts"},
        {"Quotes", "Deal_Name", "Deals"},
        {"Sales_Orders", "Account_Name", "Accounts"},
        {"Invoices", "Contact_Name", "Contacts"},
        {"Purchase_Orders", "Vendor_Name", "Vendors"},
        {"Tasks", "What_Id", "Accounts"},
        {"Calls", "Who_Id", "Contacts"},
        {"Events", "Who_Id", "Contacts"},
    };
    for (size_t i = 0; i < sizeof relations / sizeof relations[0]; i++)
        assert_ptr_equal(field(relations[i][0], relations[i][1])->lookup, module(relations[i][2]));
}

/* What_Id ("Related To") of Tasks, Events and Calls may look up any of Zoho's "Related To"
 * modules, chosen per record by its $se_module; other lookups have no $se_module. */
static void related_to_lookups_choose_among_se_modules(void **state)
{
    (void)state;
    static const char *const related[] = {"Tasks", "Events", "Calls"};
    static const char *const targets[] = {
        "Leads",        "Accounts",        "Deals",   "Campaigns",   "Cases",
        "Solutions",    "Products",        "Vendors", "Price_Books", "Quotes",
        "Sales_Orders", "Purchase_Orders", "Invoices"};
    for (size_t i = 0; i < sizeof related / sizeof related[0]; i++) {
        const struct meta_field *f = field(related[i], "What_Id");
        assert_true(f->has_se_module);
        for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++)
            assert_ptr_equal(meta_se_module(f, targets[k]), module(targets[k]));
        assert_ptr_equal(meta_se_module(f, "deals"), module("Deals"));
        assert_null(meta_se_module(f, "Contacts"));
        assert_null(meta_se_module(f, "Nope"));
        assert_null(meta_se_module(f, NULL));
        assert_false(field(related[i], "Who_Id")->has_se_module);
        assert_null(meta_se_module(field(related[i], "Who_Id"), "Deals"));
    }
}

static void module_lookup_ignores_case(void **state)
{
    (void)state;
    assert_ptr_equal(meta_module_by_name("leads"), module("Leads"));
    assert_ptr_equal(meta_module_by_name("PRICE_BOOKS"), module("Price_Books"));
    assert_ptr_equal(meta_module_by_name("Users"), module("users"));
    assert_null(meta_module_by_name("Lead"));
    assert_null(meta_module_by_name("Leadsx"));
    assert_null(meta_module_by_name(""));
    assert_null(meta_module_by_name(NULL));
}

static void field_lookup_is_case_sensitive(void **state)
{
    (void)state;
    assert_non_null(meta_field_by_name(module("Leads"), "Last_Name"));
    assert_null(meta_field_by_name(module("Leads"), "last_name"));
    assert_null(meta_field_by_name(module("Leads"), "Nope"));
    assert_null(meta_field_by_name(NULL, "Last_Name"));
}

static void unknown_ids_resolve_to_nothing(void **state)
{
    (void)state;
    assert_null(meta_module_by_id("554023000000000999"));
    assert_null(meta_module_by_id("not-a-number"));
    assert_null(meta_module_by_id(""));
    assert_null(meta_module_by_id("-554023000000000125"));
    assert_null(meta_module_by_id("99999999999999999999"));
    assert_null(meta_module_by_id(NULL));
    assert_null(meta_field_by_id(module("Deals"), "abc"));
}

static void picklists_carry_zoho_defaults(void **state)
{
    (void)state;
    const struct meta_field *stage = field("Deals", "Stage");
    assert_int_equal(stage->picklist_len, 9);
    assert_string_equal(stage->picklist[0], "Qualification");
    assert_string_equal(stage->picklist[8], "Closed Lost to Competition");
    const struct meta_field *source = field("Leads", "Lead_Source");
    assert_int_equal(source->picklist_len, 15);
    assert_string_equal(source->picklist[0], "-None-");
    assert_string_equal(source->picklist[14], "Chat");
    assert_int_equal(field("Cases", "Status")->picklist_len, 4);
    assert_int_equal(field("Cases", "Case_Origin")->picklist_len, 3);
    assert_string_equal(field("Calls", "Call_Type")->picklist[2], "Missed");
    assert_null(field("Leads", "Company")->picklist);
}

static void types_and_lengths_follow_zoho(void **state)
{
    (void)state;
    assert_int_equal(field("Leads", "Last_Name")->length, 80);
    assert_string_equal(field("Leads", "Last_Name")->type_name, "text");
    assert_int_equal(field("Leads", "Email")->type, META_EMAIL);
    assert_int_equal(field("Leads", "No_of_Employees")->type, META_INTEGER);
    assert_int_equal(field("Leads", "Annual_Revenue")->type, META_CURRENCY);
    assert_int_equal(field("Leads", "Email_Opt_Out")->type, META_BOOLEAN);
    assert_int_equal(field("Deals", "Deal_Name")->length, 120);
    assert_int_equal(field("Deals", "Probability")->type, META_PERCENT);
    assert_int_equal(field("Deals", "Closing_Date")->type, META_DATE);
    assert_true(field("Deals", "Expected_Revenue")->is_read_only);
    assert_int_equal(field("Products", "Tax")->type, META_MULTISELECT);
    assert_string_equal(field("Products", "Tax")->type_name, "multiselectpicklist");
    assert_int_equal(field("Accounts", "Account_Number")->type, META_BIGINT);
    assert_int_equal(field("Products", "Qty_in_Stock")->type, META_DOUBLE);
}

/* ---- value checks ----------------------------------------------------------------------- */

static void accepts_text_within_length_counting_code_points(void **state)
{
    (void)state;
    assert_int_equal(check("Leads", "Last_Name", "\"Boyle\""), META_VALUE_OK);
    char json[2 + 80 * 2 + 2] = "\"";
    for (int i = 0; i < 80; i++)
        memcpy(json + 1 + 2 * i, "\xc3\xa9", 2); /* é: 2 bytes, 1 character */
    memcpy(json + 1 + 2 * 80, "\"", 2);
    assert_int_equal(check("Leads", "Last_Name", json), META_VALUE_OK);
    assert_int_equal(meta_utf8_length("a\xc3\xa9\xe2\x82\xac", 6), 3);
}

static void rejects_text_over_length(void **state)
{
    (void)state;
    char json[100] = "\"";
    memset(json + 1, 'x', 81);
    memcpy(json + 82, "\"", 2);
    assert_int_equal(check("Leads", "Last_Name", json), META_VALUE_TOO_LONG);
    assert_string_equal(expected_for("Leads", "Last_Name", json), "text");
    json[81] = '"';
    json[82] = '\0';
    assert_int_equal(check("Leads", "Last_Name", json), META_VALUE_OK);
}

static void rejects_non_string_for_text(void **state)
{
    (void)state;
    assert_int_equal(check("Leads", "Company", "42"), META_VALUE_WRONG_TYPE);
    assert_int_equal(check("Leads", "Description", "{}"), META_VALUE_WRONG_TYPE);
    assert_string_equal(expected_for("Leads", "Description", "[]"), "textarea");
    assert_int_equal(check("Leads", "Phone", "\"+1 555 0100\""), META_VALUE_OK);
    assert_int_equal(check("Leads", "Website", "\"https://example.com\""), META_VALUE_OK);
}

static void null_clears_optional_fields_but_not_mandatory_ones(void **state)
{
    (void)state;
    assert_int_equal(check("Leads", "Company", "null"), META_VALUE_OK);
    assert_int_equal(check("Leads", "Email", "\"\""), META_VALUE_OK);
    assert_int_equal(check("Leads", "No_of_Employees", "null"), META_VALUE_OK);
    assert_int_equal(check("Deals", "Account_Name", "null"), META_VALUE_OK);
    assert_int_equal(check("Products", "Tax", "[]"), META_VALUE_OK);
    assert_int_equal(check("Leads", "Last_Name", "null"), META_VALUE_MISSING);
    assert_int_equal(check("Leads", "Last_Name", "\"\""), META_VALUE_MISSING);
    assert_int_equal(check("Deals", "Stage", "null"), META_VALUE_MISSING);
    assert_int_equal(meta_value_problem(field("Leads", "Last_Name"), NULL, NULL),
                     META_VALUE_MISSING);
    /* "" is not an empty number: it is a string where a number belongs. */
    assert_int_equal(check("Leads", "No_of_Employees", "\"\""), META_VALUE_WRONG_TYPE);
}

static void accepts_well_formed_emails(void **state)
{
    (void)state;
    assert_int_equal(check("Leads", "Email", "\"p.boyle@zylker.com\""), META_VALUE_OK);
    assert_int_equal(check("Leads", "Email", "\"a+tag@mail.example.co.uk\""), META_VALUE_OK);
    assert_int_equal(check("Leads", "Email", "\"o'neil_1@x-y.io\""), META_VALUE_OK);
}

static void rejects_malformed_emails(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\"boyle.zylker.com\"", "\"a b@zylker.com\"",
        "\"@zylker.com\"",      "\"boyle@\"",
        "\"boyle@zylker\"",     "\"boyle@zylker.c\"",
        "\"a@@zylker.com\"",    "\"a..b@zylker.com\"",
        "\".a@zylker.com\"",    "\"a@-zylker.com\"",
        "\"a@zylker..com\"",    "\"a@zylker.com \"",
        "\"a@zylker.c0m\"",     "17",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (check("Leads", "Email", bad[i]) != META_VALUE_WRONG_TYPE)
            fail_msg("accepted email %s", bad[i]);
    }
    assert_string_equal(expected_for("Leads", "Email", "\"nope\""), "email");
}

/* An integer (Zoho's Number) field holds at most its length, 9, digits: Zoho answers a longer
 * one INVALID_DATA {maximum_length} (its OAS sample: Number_1, maximum_length 2). Every int32
 * was accepted, 2147483647 stored although the metadata says length 9. */
static void checks_integers_within_their_digits(void **state)
{
    (void)state;
    assert_int_equal(field("Leads", "No_of_Employees")->length, 9);
    assert_int_equal(check("Leads", "No_of_Employees", "250"), META_VALUE_OK);
    assert_int_equal(check("Leads", "No_of_Employees", "999999999"), META_VALUE_OK);
    assert_int_equal(check("Leads", "No_of_Employees", "-999999999"), META_VALUE_OK);
    assert_int_equal(check("Leads", "No_of_Employees", "1000000000"), META_VALUE_TOO_LONG);
    assert_int_equal(check("Leads", "No_of_Employees", "-1000000000"), META_VALUE_TOO_LONG);
    assert_int_equal(check("Leads", "No_of_Employees", "2147483648"), META_VALUE_TOO_LONG);
    assert_int_equal(check("Leads", "No_of_Employees", "2.5"), META_VALUE_WRONG_TYPE);
    assert_int_equal(check("Leads", "No_of_Employees", "\"250\""), META_VALUE_WRONG_TYPE);
    assert_int_equal(check("Leads", "No_of_Employees", "true"), META_VALUE_WRONG_TYPE);
    assert_string_equal(expected_for("Leads", "No_of_Employees", "2.5"), "integer");
}

static void checks_bigints_as_numbers_or_digit_strings(void **state)
{
    (void)state;
    assert_int_equal(check("Accounts", "Account_Number", "9223372036854775807"), META_VALUE_OK);
    assert_int_equal(check("Accounts", "Account_Number", "\"9223372036854775807\""), META_VALUE_OK);
    assert_int_equal(check("Accounts", "Account_Number", "\"-42\""), META_VALUE_OK);
    assert_int_equal(check("Accounts", "Account_Number", "\"9223372036854775808\""),
                     META_VALUE_WRONG_TYPE);
    assert_int_equal(check("Accounts", "Account_Number", "\"12a\""), META_VALUE_WRONG_TYPE);
    assert_int_equal(check("Accounts", "Account_Number", "\"-\""), META_VALUE_WRONG_TYPE);
    assert_int_equal(check("Accounts", "Account_Number", "1.5"), META_VALUE_WRONG_TYPE);
    assert_string_equal(expected_for("Accounts", "Account_Number", "1.5"), "bigint");
}

static void checks_doubles_and_currencies_as_numbers(void **state)
{
    (void)state;
    assert_int_equal(check("Deals", "Amount", "1000"), META_VALUE_OK);
    assert_int_equal(check("Deals", "Amount", "-12.75"), META_VALUE_OK);
    assert_int_equal(check("Products", "Qty_in_Stock", "3.5"), META_VALUE_OK);
    assert_int_equal(check("Deals", "Amount", "\"1000\""), META_VALUE_WRONG_TYPE);
    assert_int_equal(check("Products", "Qty_in_Stock", "false"), META_VALUE_WRONG_TYPE);
    assert_string_equal(expected_for("Deals", "Amount", "\"x\""), "currency");
    assert_string_equal(expected_for("Products", "Qty_in_Stock", "\"x\""), "double");
}

/* A currency or decimal field holds at most `length` (16) integer digits in Zoho; 1e300 was
 * stored and shown. */
static void rejects_currency_and_decimals_over_their_digits(void **state)
{
    (void)state;
    assert_int_equal(field("Deals", "Amount")->length, 16);
    assert_int_equal(check("Deals", "Amount", "9999999999999999"), META_VALUE_OK);
    assert_int_equal(check("Deals", "Amount", "-9999999999999999"), META_VALUE_OK);
    assert_int_equal(check("Deals", "Amount", "123456789012345.75"), META_VALUE_OK);
    assert_int_equal(check("Deals", "Amount", "10000000000000000"), META_VALUE_TOO_LONG);
    assert_int_equal(check("Deals", "Amount", "-10000000000000000"), META_VALUE_TOO_LONG);
    assert_int_equal(check("Deals", "Amount", "1e16"), META_VALUE_TOO_LONG);
    assert_int_equal(check("Deals", "Amount", "1e300"), META_VALUE_TOO_LONG);
    assert_int_equal(check("Products", "Qty_in_Stock", "1.5e20"), META_VALUE_TOO_LONG);
    assert_int_equal(check("Products", "Qty_in_Stock", "0.000001"), META_VALUE_OK);
}

static void rejects_percent_outside_0_to_100(void **state)
{
    (void)state;
    assert_int_equal(check("Deals", "Probability", "0"), META_VALUE_OK);
    assert_int_equal(check("Deals", "Probability", "100"), META_VALUE_OK);
    assert_int_equal(check("Deals", "Probability", "55.5"), META_VALUE_OK);
    assert_int_equal(check("Deals", "Probability", "101"), META_VALUE_OUT_OF_RANGE);
    assert_int_equal(check("Deals", "Probability", "-1"), META_VALUE_OUT_OF_RANGE);
    assert_int_equal(check("Deals", "Probability", "100.01"), META_VALUE_OUT_OF_RANGE);
    assert_int_equal(check("Deals", "Probability", "\"50\""), META_VALUE_WRONG_TYPE);
}

static void accepts_only_json_booleans(void **state)
{
    (void)state;
    assert_int_equal(check("Leads", "Email_Opt_Out", "true"), META_VALUE_OK);
    assert_int_equal(check("Leads", "Email_Opt_Out", "false"), META_VALUE_OK);
    assert_int_equal(check("Leads", "Email_Opt_Out", "\"true\""), META_VALUE_WRONG_TYPE);
    assert_int_equal(check("Leads", "Email_Opt_Out", "1"), META_VALUE_WRONG_TYPE);
    assert_string_equal(expected_for("Leads", "Email_Opt_Out", "1"), "boolean");
}

static void accepts_real_calendar_dates(void **state)
{
    (void)state;
    assert_int_equal(check("Deals", "Closing_Date", "\"2025-05-10\""), META_VALUE_OK);
    assert_int_equal(check("Deals", "Closing_Date", "\"2024-02-29\""), META_VALUE_OK);
    assert_int_equal(check("Deals", "Closing_Date", "\"2000-02-29\""), META_VALUE_OK);
    assert_int_equal(check("Deals", "Closing_Date", "\"2025-12-31\""), META_VALUE_OK);
}

static void rejects_bad_calendar_dates(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\"2025-02-30\"", "\"2023-02-29\"", "\"1900-02-29\"",           "\"2025-04-31\"",
        "\"2025-13-01\"", "\"2025-00-10\"", "\"2025-01-00\"",           "\"2025-1-01\"",
        "\"25-01-01\"",   "\"2025/01/01\"", "\"2025-01-01T00:00:00Z\"", "\"0000-01-01\"",
        "20250101",       "\"2025-01-0a\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (check("Deals", "Closing_Date", bad[i]) != META_VALUE_WRONG_TYPE)
            fail_msg("accepted date %s", bad[i]);
    }
    assert_string_equal(expected_for("Deals", "Closing_Date", "\"2025-02-30\""), "date");
}

static void checks_iso_datetimes_with_zone(void **state)
{
    (void)state;
    assert_int_equal(check("Calls", "Call_Start_Time", "\"2023-05-10T01:10:47-07:00\""),
                     META_VALUE_OK);
    assert_int_equal(check("Calls", "Call_Start_Time", "\"2023-05-10T23:59:59+05:30\""),
                     META_VALUE_OK);
    assert_int_equal(check("Calls", "Call_Start_Time", "\"2024-02-29T00:00:00Z\""), META_VALUE_OK);
    static const char *const bad[] = {
        "\"2023-05-10T01:10:47\"",
        "\"2023-05-10 01:10:47Z\"",
        "\"2023-02-30T01:10:47Z\"",
        "\"2023-05-10T24:00:00Z\"",
        "\"2023-05-10T01:60:00Z\"",
        "\"2023-05-10T01:10:47+5:30\"",
        "\"2023-05-10T01:10:47.123Z\"",
        "\"2023-05-10T01:10:47+05:60\"",
        "\"2023-05-10T01:10:47z\"",
        "\"2023-05-10\"",
        "1683706247",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (check("Calls", "Call_Start_Time", bad[i]) != META_VALUE_WRONG_TYPE)
            fail_msg("accepted datetime %s", bad[i]);
    }
    assert_string_equal(expected_for("Calls", "Call_Start_Time", "\"x\""), "datetime");
}

static void rejects_picklist_value_not_in_list(void **state)
{
    (void)state;
    assert_int_equal(check("Deals", "Stage", "\"Closed Won\""), META_VALUE_OK);
    assert_int_equal(check("Leads", "Lead_Source", "\"-None-\""), META_VALUE_OK);
    assert_int_equal(check("Deals", "Stage", "\"closed won\""), META_VALUE_NOT_IN_LIST);
    assert_int_equal(check("Deals", "Stage", "\"Won\""), META_VALUE_NOT_IN_LIST);
    assert_int_equal(check("Deals", "Stage", "3"), META_VALUE_WRONG_TYPE);
    assert_string_equal(expected_for("Deals", "Stage", "\"Won\""), "picklist");
}

static void checks_multiselect_as_array_of_listed_values(void **state)
{
    (void)state;
    assert_int_equal(check("Products", "Tax", "[\"Vat\", \"Sales Tax\"]"), META_VALUE_OK);
    assert_int_equal(check("Products", "Tax", "[\"Vat\", \"GST\"]"), META_VALUE_NOT_IN_LIST);
    assert_int_equal(check("Products", "Tax", "\"Vat\""), META_VALUE_WRONG_TYPE);
    assert_int_equal(check("Products", "Tax", "[1]"), META_VALUE_WRONG_TYPE);
    assert_string_equal(expected_for("Products", "Tax", "\"Vat\""), "jsonarray");
}

static void checks_lookups_as_objects_with_an_id(void **state)
{
    (void)state;
    assert_int_equal(check("Deals", "Account_Name", "{\"id\": \"554023000000555001\"}"),
                     META_VALUE_OK);
    assert_int_equal(check("Deals", "Account_Name",
                           "{\"id\": 554023000000555001, \"name\": "
                           "\"Zylker\"}"),
                     META_VALUE_OK);
    assert_int_equal(check("Leads", "Owner", "{\"id\": \"5725767000000411001\"}"), META_VALUE_OK);
    static const char *const bad[] = {
        "\"554023000000555001\"", "554023000000555001", "{}",
        "{\"id\": \"abc\"}",      "{\"id\": -4}",       "{\"id\": \"\"}",
        "{\"id\": null}",         "[{\"id\": \"1\"}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (check("Deals", "Account_Name", bad[i]) != META_VALUE_WRONG_TYPE)
            fail_msg("accepted lookup %s", bad[i]);
        if (check("Leads", "Owner", bad[i]) != META_VALUE_WRONG_TYPE)
            fail_msg("accepted owner %s", bad[i]);
    }
    assert_string_equal(expected_for("Deals", "Account_Name", "{}"), "jsonobject");
    assert_string_equal(expected_for("Leads", "Owner", "\"1\""), "jsonobject");
}

/* Line items and participants: arrays of objects under Zoho's own data_type, json_type
 * jsonarray, and the fields callbacks ignore. */
static void checks_line_items_and_participants_as_arrays_of_objects(void **state)
{
    (void)state;
    static const char *const items[][2] = {
        {"Quotes", "Product_Details"},
        {"Sales_Orders", "Product_Details"},
        {"Purchase_Orders", "Product_Details"},
        {"Invoices", "Product_Details"},
        {"Events", "Participants"},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        const struct meta_field *f = field(items[i][0], items[i][1]);
        assert_int_equal(f->type, META_ITEMS);
        assert_false(meta_field_is_notified(f));
        assert_string_equal(meta_json_type(f), "jsonarray");
        assert_int_equal(check(items[i][0], items[i][1], "[{\"a\":1},{}]"), META_VALUE_OK);
        assert_int_equal(check(items[i][0], items[i][1], "[]"), META_VALUE_OK);
        assert_int_equal(check(items[i][0], items[i][1], "null"), META_VALUE_OK);
        assert_int_equal(check(items[i][0], items[i][1], "{\"a\":1}"), META_VALUE_WRONG_TYPE);
        assert_int_equal(check(items[i][0], items[i][1], "[{},1]"), META_VALUE_WRONG_TYPE);
        assert_int_equal(check(items[i][0], items[i][1], "[[]]"), META_VALUE_WRONG_TYPE);
        assert_int_equal(check(items[i][0], items[i][1], "\"x\""), META_VALUE_WRONG_TYPE);
        assert_string_equal(expected_for(items[i][0], items[i][1], "1"), "jsonarray");
    }
    assert_string_equal(field("Quotes", "Product_Details")->type_name, "lineitem");
    assert_string_equal(field("Events", "Participants")->type_name, "bigint"); /* Zoho's */
    assert_true(meta_field_is_notified(field("Quotes", "Subject")));
    assert_true(meta_field_is_notified(field("Products", "Tax")));

    /* At most META_ITEMS_MAX elements. */
    json_t *many = json_array();
    for (int i = 0; i < META_ITEMS_MAX; i++)
        json_array_append_new(many, json_object());
    const struct meta_field *f = field("Quotes", "Product_Details");
    assert_int_equal(meta_value_problem(f, many, NULL), META_VALUE_OK);
    json_array_append_new(many, json_object());
    assert_int_equal(meta_value_problem(f, many, NULL), META_VALUE_TOO_LONG);
    json_decref(many);

    json_t *j = meta_field_to_json(field("Events", "Participants"));
    assert_string_equal(json_string_value(json_object_get(j, "data_type")), "bigint");
    assert_string_equal(json_string_value(json_object_get(j, "json_type")), "jsonarray");
    json_decref(j);
}

static void maps_deal_stages_to_probability(void **state)
{
    (void)state;
    static const struct {
        const char *stage;
        int probability;
    } table[] = {
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
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        assert_int_equal(meta_deal_stage_probability(table[i].stage), table[i].probability);
    assert_int_equal(meta_deal_stage_probability("closed won"), -1);
    assert_int_equal(meta_deal_stage_probability("Prospecting"), -1);
    assert_int_equal(meta_deal_stage_probability(NULL), -1);
    /* Every stage in the picklist has a probability. */
    const struct meta_field *stage = field("Deals", "Stage");
    for (size_t i = 0; i < stage->picklist_len; i++)
        assert_true(meta_deal_stage_probability(stage->picklist[i]) >= 0);
}

/* ---- JSON renderings -------------------------------------------------------------------- */

/* module_name is Zoho's internal name, not the API name: no underscores, no "__s", and
 * Meetings for Events (Zoho's modules API documentation and samples). */
static void module_names_are_zohos_not_the_api_names(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"Events", "Meetings"},
        {"Price_Books", "PriceBooks"},
        {"Sales_Orders", "SalesOrders"},
        {"Purchase_Orders", "PurchaseOrders"},
        {"Appointments__s", "Appointments"},
        {"Services__s", "Services"},
        {"Leads", "Leads"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        assert_string_equal(module(pairs[i][0])->module_name, pairs[i][1]);
}

static void module_json_has_zoho_keys(void **state)
{
    (void)state;
    json_t *j = meta_module_to_json(module("Deals"));
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "api_name")), "Deals");
    assert_string_equal(json_string_value(json_object_get(j, "id")), "554023000000000131");
    assert_string_equal(json_string_value(json_object_get(j, "module_name")), "Deals");
    assert_string_equal(json_string_value(json_object_get(j, "singular_label")), "Deal");
    assert_string_equal(json_string_value(json_object_get(j, "plural_label")), "Deals");
    assert_string_equal(json_string_value(json_object_get(j, "generated_type")), "default");
    assert_string_equal(json_string_value(json_object_get(j, "status")), "visible");
    static const char *const flags[] = {"api_supported", "creatable", "editable", "deletable",
                                        "viewable"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        assert_true(json_is_true(json_object_get(j, flags[i])));
    json_decref(j);

    j = meta_module_to_json(module("users"));
    assert_true(json_is_false(json_object_get(j, "api_supported")));
    json_decref(j);
}

static void field_json_has_zoho_keys(void **state)
{
    (void)state;
    json_t *j = meta_field_to_json(field("Leads", "Last_Name"));
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "api_name")), "Last_Name");
    assert_string_equal(json_string_value(json_object_get(j, "id")), "554023000000000559");
    assert_string_equal(json_string_value(json_object_get(j, "field_label")), "Last Name");
    assert_string_equal(json_string_value(json_object_get(j, "display_label")), "Last Name");
    assert_string_equal(json_string_value(json_object_get(j, "data_type")), "text");
    assert_string_equal(json_string_value(json_object_get(j, "json_type")), "string");
    assert_true(json_is_true(json_object_get(j, "system_mandatory")));
    assert_true(json_is_false(json_object_get(j, "read_only")));
    assert_true(json_is_false(json_object_get(j, "custom_field")));
    assert_int_equal(json_integer_value(json_object_get(j, "length")), 80);
    assert_int_equal(json_array_size(json_object_get(j, "pick_list_values")), 0);
    assert_true(json_is_array(json_object_get(j, "pick_list_values")));
    assert_int_equal(json_object_size(json_object_get(j, "lookup")), 0);
    json_decref(j);

    j = meta_field_to_json(field("Deals", "Stage"));
    json_t *values = json_object_get(j, "pick_list_values");
    assert_int_equal(json_array_size(values), 9);
    json_t *first = json_array_get(values, 0);
    assert_string_equal(json_string_value(json_object_get(first, "display_value")),
                        "Qualification");
    assert_string_equal(json_string_value(json_object_get(first, "actual_value")), "Qualification");
    json_decref(j);

    j = meta_field_to_json(field("Deals", "Account_Name"));
    assert_string_equal(json_string_value(json_object_get(j, "json_type")), "jsonobject");
    json_t *target = json_object_get(json_object_get(j, "lookup"), "module");
    assert_string_equal(json_string_value(json_object_get(target, "api_name")), "Accounts");
    assert_string_equal(json_string_value(json_object_get(target, "id")), module("Accounts")->id);
    json_decref(j);

    static const char *const json_types[][3] = {
        {"Leads", "No_of_Employees", "integer"}, {"Deals", "Amount", "double"},
        {"Deals", "Probability", "double"},      {"Leads", "Email_Opt_Out", "boolean"},
        {"Products", "Tax", "jsonarray"},        {"Leads", "Owner", "jsonobject"},
        {"Deals", "Closing_Date", "string"},
    };
    for (size_t i = 0; i < sizeof json_types / sizeof json_types[0]; i++) {
        j = meta_field_to_json(field(json_types[i][0], json_types[i][1]));
        assert_string_equal(json_string_value(json_object_get(j, "json_type")), json_types[i][2]);
        json_decref(j);
    }
}

/* ---- malformed definitions -------------------------------------------------------------- */

static void rejects_malformed_definitions(void **state)
{
    (void)state;
#define FIELD(id, extra) \
    "{\"api_name\":\"Name\",\"id\":\"" id "\",\"field_label\":\"Name\",\"length\":10" extra "}"
#define TEXT(id) FIELD(id, ",\"data_type\":\"text\"")
#define MODULE(name, id, fields)                                                        \
    "{\"api_name\":\"" name "\",\"module_name\":\"" name "\",\"singular_label\":\"X\"," \
    "\"plural_label\":\"Xs\",\"id\":\"" id "\",\"fields\":[" fields "]}"
#define ONE(module) "{\"modules\":[" module "]}"
#define TWO(a, b) "{\"modules\":[" a "," b "]}"
    static const char good[] =
        TWO(MODULE("A", "1", TEXT("2")),
            MODULE("B", "3", FIELD("4", ",\"data_type\":\"lookup\",\"lookup_module\":\"a\"")));
    static const char *const bad[] = {
        "{\"modules\":[",
        "{\"modules\":[]}",
        ONE(MODULE("A", "x1", TEXT("2"))),
        ONE(MODULE("A", "1", TEXT("2x"))),
        ONE(MODULE("A", "1", "")),
        ONE(MODULE("A", "1", FIELD("2", ",\"data_type\":\"blob\""))),
        ONE(MODULE("A", "1", FIELD("2", ",\"data_type\":\"text\",\"data_type\":\"text\""))),
        ONE(MODULE("A", "1", FIELD("2", ""))),
        ONE(MODULE("A", "1", TEXT("2") "," TEXT("3"))),
        TWO(MODULE("A", "1", TEXT("2")), MODULE("a", "3", TEXT("4"))),
        TWO(MODULE("A", "1", TEXT("2")), MODULE("B", "3", TEXT("2"))),
        ONE(MODULE("A", "2", TEXT("2"))),
        ONE(MODULE("A", "1", FIELD("2", ",\"data_type\":\"lookup\",\"lookup_module\":\"No\""))),
        ONE(MODULE("A", "1", FIELD("2", ",\"data_type\":\"lookup\""))),
        ONE(MODULE("A", "1", FIELD("2", ",\"data_type\":\"text\",\"lookup_module\":\"A\""))),
        ONE(MODULE("A", "1", FIELD("2", ",\"data_type\":\"picklist\""))),
        ONE(MODULE("A", "1", FIELD("2", ",\"data_type\":\"picklist\",\"pick_list_values\":[]"))),
        ONE(MODULE("A", "1", FIELD("2", ",\"data_type\":\"picklist\",\"pick_list_values\":[1]"))),
        ONE(MODULE("A", "1", FIELD("2", ",\"data_type\":\"text\",\"pick_list_values\":[\"a\"]"))),
        ONE(MODULE("A", "1", FIELD("2", ",\"data_type\":\"text\",\"system_mandatory\":1"))),
        ONE(MODULE("A", "1",
                   "{\"api_name\":\"N\",\"id\":\"2\",\"field_label\":\"N\","
                   "\"data_type\":\"text\"}")),
        ONE(MODULE("A", "1", FIELD("2", ",\"data_type\":\"text\",\"json_type\":\"string\""))),
        ONE(MODULE("A", "1", FIELD("2", ",\"json_type\":\"jsonarray\""))),
        ONE(MODULE("A", "1", FIELD("2", ",\"data_type\":\"text\",\"se_module\":true"))),
        ONE(MODULE("A", "1",
                   FIELD("2", ",\"data_type\":\"lookup\",\"lookup_module\":\"A\","
                              "\"se_module\":1"))),
        "{\"se_modules\":[\"No\"],\"modules\":[" MODULE("A", "1", TEXT("2")) "]}",
        "{\"se_modules\":\"A\",\"modules\":[" MODULE("A", "1", TEXT("2")) "]}",
    };
    assert_int_equal(meta_init_json(good, strlen(good)), HERALD_OK);
    assert_int_equal(meta_module_count(), 2);
    assert_non_null(meta_field_by_name(meta_module_by_name("a"), "Name"));
    assert_ptr_equal(meta_field_by_name(meta_module_by_name("B"), "Name")->lookup,
                     meta_module_by_name("A"));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (meta_init_json(bad[i], strlen(bad[i])) != HERALD_ERR_INVALID)
            fail_msg("accepted definitions #%zu: %s", i, bad[i]);
        assert_int_equal(meta_module_count(), 0);
        assert_null(meta_module_by_name("A"));
    }
    /* The embedded data loads again after a failure. */
    assert_int_equal(meta_init(), HERALD_OK);
    assert_non_null(meta_module_by_name("Leads"));
#undef FIELD
#undef TEXT
#undef MODULE
#undef ONE
#undef TWO
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_loads_embedded_data_once),
        cmocka_unit_test(every_contract_module_has_exactly_its_mandatory_fields),
        cmocka_unit_test(every_module_has_the_system_fields),
        cmocka_unit_test(events_are_shown_as_meetings_and_users_are_hidden),
        cmocka_unit_test(known_doc_ids_resolve),
        cmocka_unit_test(field_ids_are_scoped_to_their_module),
        cmocka_unit_test(ids_are_unique_18_digit_decimals),
        cmocka_unit_test(every_lookup_target_resolves),
        cmocka_unit_test(related_to_lookups_choose_among_se_modules),
        cmocka_unit_test(module_lookup_ignores_case),
        cmocka_unit_test(field_lookup_is_case_sensitive),
        cmocka_unit_test(unknown_ids_resolve_to_nothing),
        cmocka_unit_test(picklists_carry_zoho_defaults),
        cmocka_unit_test(types_and_lengths_follow_zoho),
        cmocka_unit_test(accepts_text_within_length_counting_code_points),
        cmocka_unit_test(rejects_text_over_length),
        cmocka_unit_test(rejects_non_string_for_text),
        cmocka_unit_test(null_clears_optional_fields_but_not_mandatory_ones),
        cmocka_unit_test(accepts_well_formed_emails),
        cmocka_unit_test(rejects_malformed_emails),
        cmocka_unit_test(checks_integers_within_their_digits),
        cmocka_unit_test(checks_bigints_as_numbers_or_digit_strings),
        cmocka_unit_test(checks_doubles_and_currencies_as_numbers),
        cmocka_unit_test(rejects_currency_and_decimals_over_their_digits),
        cmocka_unit_test(rejects_percent_outside_0_to_100),
        cmocka_unit_test(accepts_only_json_booleans),
        cmocka_unit_test(accepts_real_calendar_dates),
        cmocka_unit_test(rejects_bad_calendar_dates),
        cmocka_unit_test(checks_iso_datetimes_with_zone),
        cmocka_unit_test(rejects_picklist_value_not_in_list),
        cmocka_unit_test(checks_line_items_and_participants_as_arrays_of_objects),
        cmocka_unit_test(checks_multiselect_as_array_of_listed_values),
        cmocka_unit_test(checks_lookups_as_objects_with_an_id),
        cmocka_unit_test(maps_deal_stages_to_probability),
        cmocka_unit_test(module_names_are_zohos_not_the_api_names),
        cmocka_unit_test(module_json_has_zoho_keys),
        cmocka_unit_test(field_json_has_zoho_keys),
        cmocka_unit_test(rejects_malformed_definitions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
