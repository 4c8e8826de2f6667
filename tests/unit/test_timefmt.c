/* ISO-8601 parsing and rendering, the configured display zone, and the clocks. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timefmt.h"

static int64_t parse_ok(const char *s)
{
    int64_t t = 0;
    assert_int_equal(time_parse_iso8601(s, &t), HERALD_OK);
    return t;
}

static void parses_utc_designator(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2026-11-27T04:45:00Z"), 1795754700);
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("1969-12-31T23:59:59Z"), -1);
}

static void parses_colon_and_compact_offsets(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2026-11-27T10:15:00+05:30"), 1795754700);
    assert_int_equal(parse_ok("2026-11-27T10:15:00+0530"), 1795754700);
    assert_int_equal(parse_ok("2026-11-26T17:45:00-11:00"), 1795754700);
    assert_int_equal(parse_ok("2026-11-26T17:45:00-1100"), 1795754700);
    assert_int_equal(parse_ok("2026-11-27T04:45:00+00:00"), 1795754700);
    assert_int_equal(parse_ok("2026-11-27T04:45:00-00:00"), 1795754700);
}

static void drops_fractional_seconds(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2026-11-27T04:45:00.123Z"), 1795754700);
    assert_int_equal(parse_ok("2026-11-27T10:15:00.999999+05:30"), 1795754700);
    assert_int_equal(parse_ok("2026-11-27T04:45:00.5Z"), 1795754700);
}

static void accepts_leap_days_of_leap_years_only(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2024-02-29T23:59:59Z"), 1709251199);
    assert_int_equal(parse_ok("2000-02-29T00:00:00Z"), 951782400);
    int64_t t = 42;
    assert_int_equal(time_parse_iso8601("2025-02-29T00:00:00Z", &t), HERALD_ERR_INVALID);
    assert_int_equal(time_parse_iso8601("1900-02-29T00:00:00Z", &t), HERALD_ERR_INVALID);
    assert_int_equal(t, 42);
}

static void refuses_impossible_dates_and_times(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "2026-02-30T00:00:00Z",      "2026-04-31T00:00:00Z",      "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",      "2026-01-00T00:00:00Z",      "2026-01-32T00:00:00Z",
        "2026-01-01T24:00:00Z",      "2026-01-01T23:60:00Z",      "2026-01-01T23:59:60Z",
        "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+05:60",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t;
        if (time_parse_iso8601(bad[i], &t) != HERALD_ERR_INVALID)
            fail_msg("accepted %s", bad[i]);
    }
}

static void refuses_malformed_text(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2026-11-27",
        "2026-11-27T04:45:00",      /* no offset */
        "2026-11-27 04:45:00Z",     /* space separator */
        "2026-11-27t04:45:00Z",     /* lowercase t */
        "2026-11-27T04:45:00z",     /* lowercase z */
        "2026-11-27T04:45:00Zjunk", /* trailing bytes */
        "2026-11-27T04:45:00.Z",    /* fraction without digits */
        "2026-11-27T04:45Z",        /* no seconds */
        "26-11-27T04:45:00Z",       /* short year */
        "2026-1-27T04:45:00Z",      /* short month */
        "+2026-11-27T04:45:00Z",    /* signed year */
        "2026-11-27T04:45:00+5:30", /* short offset hour */
        "2026-11-27T04:45:00+05",   /* offset without minutes */
        "2026-11-27T04:45:00+05:3", /* short offset minute */
        " 2026-11-27T04:45:00Z",    /* leading space */
        "2026-11-27T04:45:00Z ",    /* trailing space */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t;
        if (time_parse_iso8601(bad[i], &t) != HERALD_ERR_INVALID)
            fail_msg("accepted '%s'", bad[i]);
    }
    int64_t t;
    assert_int_equal(time_parse_iso8601(NULL, &t), HERALD_ERR_INVALID);
}

static void formats_fixed_offsets_never_with_z(void **state)
{
    (void)state;
    char out[TIME_ISO_MAX];
    time_format_offset(1795754700, 0, out);
    assert_string_equal(out, "2026-11-27T04:45:00+00:00");
    time_format_offset(1795754700, 19800, out);
    assert_string_equal(out, "2026-11-27T10:15:00+05:30");
    time_format_offset(1795754700, -39600, out);
    assert_string_equal(out, "2026-11-26T17:45:00-11:00");
    time_format_offset(-1, 0, out);
    assert_string_equal(out, "1969-12-31T23:59:59+00:00");
    time_format_offset(0, -1800, out);
    assert_string_equal(out, "1969-12-31T23:30:00-00:30");
}

static void truncates_offsets_to_whole_minutes_keeping_the_instant(void **state)
{
    (void)state;
    char out[TIME_ISO_MAX];
    time_format_offset(1795754700, 19800 + 28, out); /* a historical LMT-like offset */
    assert_string_equal(out, "2026-11-27T10:15:00+05:30");
    time_format_offset(1795754700, -(19800 + 28), out);
    assert_string_equal(out, "2026-11-26T23:15:00-05:30");
    assert_int_equal(parse_ok(out), 1795754700);
}

static void clamps_out_of_range_instants(void **state)
{
    (void)state;
    char out[TIME_ISO_MAX];
    time_format_offset(INT64_MAX, 0, out);
    assert_string_equal(out, "9999-12-31T23:59:59+00:00");
    time_format_offset(INT64_MIN, 0, out);
    assert_string_equal(out, "0001-01-01T00:00:00+00:00");
    time_format_offset(0, 1000000, out);
    assert_string_equal(out, "1970-01-01T23:59:00+23:59");
    time_format_offset(INT64_MAX, INT32_MAX, out);
    assert_true(strlen(out) < TIME_ISO_MAX);
}

/* Found by fuzz_text_parsers: "0000-01-27T10:15:00+0530" parsed, then rendered as year 0001 (the
 * clamp), another instant; and the last hours of 9999 at a positive offset rendered as year
 * "0000" (10000 cut to four digits). */
static void parses_only_instants_that_render_back(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "0000-01-27T10:15:00+0530",  "0000-12-31T23:59:59Z",      "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-00:01", "0000-01-01T05:29:59+05:30", /* what 9999-12-31T23:59:59Z
                                                                     rendered as at +05:30 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t;
        if (time_parse_iso8601(bad[i], &t) != HERALD_ERR_INVALID)
            fail_msg("accepted '%s'", bad[i]);
    }
    assert_int_equal(parse_ok("0001-01-01T00:00:00Z"), -62135596800LL);
    assert_int_equal(parse_ok("0000-12-31T23:00:00-01:00"), -62135596800LL);
    assert_int_equal(parse_ok("9999-12-31T23:59:59Z"), 253402300799LL);
    char out[TIME_ISO_MAX];
    time_format_offset(253402300799LL, 19800, out);
    assert_string_equal(out, "9999-12-31T23:59:59+00:00");
    time_format_offset(253402300799LL - 3600, 19800, out);
    assert_string_equal(out, "9999-12-31T23:59:59+01:00");
    time_format_offset(253402300799LL - 19800, 19800, out);
    assert_string_equal(out, "9999-12-31T23:59:59+05:30");
    time_format_offset(-62135596800LL, -3600, out);
    assert_string_equal(out, "0000-12-31T23:00:00-01:00");
    assert_int_equal(parse_ok(out), -62135596800LL);
}

static void rendering_round_trips_through_parsing(void **state)
{
    (void)state;
    static const int offsets[] = {0, 3600, -3600, 19800, 20700, -34200, 50400, -43200};
    char out[TIME_ISO_MAX];
    for (int64_t t = -62135596800LL; t < 253402300799LL; t += 7777777 * 13 + 12345) {
        for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
            time_format_offset(t, offsets[i], out);
            int64_t back = 0;
            if (time_parse_iso8601(out, &back) != HERALD_OK || back != t)
                fail_msg("%lld at %d rendered %s", (long long)t, offsets[i], out);
        }
    }
}

static void local_rendering_follows_named_zone_and_dst(void **state)
{
    (void)state;
    char out[TIME_ISO_MAX];
    assert_int_equal(time_zone_set("Asia/Kolkata"), HERALD_OK);
    assert_string_equal(time_zone_name(), "Asia/Kolkata");
    time_format_local(1795754700, out);
    assert_string_equal(out, "2026-11-27T10:15:00+05:30");

    assert_int_equal(time_zone_set("America/New_York"), HERALD_OK);
    time_format_local(1772953200 - 1, out); /* one second before the 2026 spring-forward */
    assert_string_equal(out, "2026-03-08T01:59:59-05:00");
    time_format_local(1772953200, out);
    assert_string_equal(out, "2026-03-08T03:00:00-04:00");
    time_format_local(1795754700, out);
    assert_string_equal(out, "2026-11-26T23:45:00-05:00");
    assert_int_equal(time_zone_set("UTC"), HERALD_OK);
}

static void local_rendering_uses_fixed_offset_zone(void **state)
{
    (void)state;
    char out[TIME_ISO_MAX];
    assert_int_equal(time_zone_set("+05:30"), HERALD_OK);
    assert_string_equal(time_zone_name(), "+05:30");
    time_format_local(1795754700, out);
    assert_string_equal(out, "2026-11-27T10:15:00+05:30");
    assert_int_equal(time_zone_set("-1100"), HERALD_OK);
    time_format_local(1795754700, out);
    assert_string_equal(out, "2026-11-26T17:45:00-11:00");
    assert_int_equal(time_zone_set("UTC"), HERALD_OK);
    time_format_local(1795754700, out);
    assert_string_equal(out, "2026-11-27T04:45:00+00:00");
    assert_string_equal(getenv("TZ"), "UTC");
}

static void zone_set_refuses_unknown_or_unsafe_names(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "Mars/Base",
        "../../../etc/passwd",
        "/etc/localtime",
        "Asia/",
        "Asia",
        "zone.tab",
        "Asia//Kolkata",
        "asia kolkata",
        "+15:00",
        "+14:30",
        "+05:60",
        "05:30",
        "+5:30",
        "+05:30x",
        "utc",
        "Asia/./Kolkata",
    };
    assert_int_equal(time_zone_set("Asia/Kolkata"), HERALD_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (time_zone_set(bad[i]) != HERALD_ERR_INVALID)
            fail_msg("accepted zone '%s'", bad[i]);
    }
    assert_int_equal(time_zone_set(NULL), HERALD_ERR_INVALID);
    assert_string_equal(time_zone_name(), "Asia/Kolkata"); /* a refusal keeps the old zone */
    assert_int_equal(time_zone_set("+14:00"), HERALD_OK);
    assert_int_equal(time_zone_set("-14:00"), HERALD_OK);
    assert_int_equal(time_zone_set("UTC"), HERALD_OK);
}

static void date_only_values_must_be_real_dates(void **state)
{
    (void)state;
    assert_true(time_date_valid("2026-11-27"));
    assert_true(time_date_valid("2024-02-29"));
    assert_false(time_date_valid("2025-02-29"));
    assert_false(time_date_valid("2026-11-31"));
    assert_false(time_date_valid("2026-11-27T00:00:00Z"));
    assert_false(time_date_valid("2026-11-7"));
    assert_false(time_date_valid("2026/11/27"));
    assert_false(time_date_valid(""));
    assert_false(time_date_valid(NULL));
}

static void civil_conversion_checks_its_fields(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(time_from_civil(1994, 11, 6, 8, 49, 37, &t), HERALD_OK);
    assert_int_equal(t, 784111777);
    assert_int_equal(time_from_civil(1994, 11, 31, 8, 49, 37, &t), HERALD_ERR_INVALID);
    assert_int_equal(time_from_civil(1994, 11, 6, 8, 49, 60, &t), HERALD_ERR_INVALID);
    assert_int_equal(time_from_civil(10000, 1, 1, 0, 0, 0, &t), HERALD_ERR_INVALID);
}

static void clocks_report_plausible_milliseconds(void **state)
{
    (void)state;
    int64_t now = time_now_ms();
    assert_true(now > 1700000000000LL); /* after November 2023 */
    assert_true(now < 4102444800000LL); /* before 2100 */
    int64_t a = time_mono_ms();
    int64_t b = time_mono_ms();
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_utc_designator),
        cmocka_unit_test(parses_colon_and_compact_offsets),
        cmocka_unit_test(drops_fractional_seconds),
        cmocka_unit_test(accepts_leap_days_of_leap_years_only),
        cmocka_unit_test(refuses_impossible_dates_and_times),
        cmocka_unit_test(refuses_malformed_text),
        cmocka_unit_test(formats_fixed_offsets_never_with_z),
        cmocka_unit_test(truncates_offsets_to_whole_minutes_keeping_the_instant),
        cmocka_unit_test(clamps_out_of_range_instants),
        cmocka_unit_test(parses_only_instants_that_render_back),
        cmocka_unit_test(rendering_round_trips_through_parsing),
        cmocka_unit_test(local_rendering_follows_named_zone_and_dst),
        cmocka_unit_test(local_rendering_uses_fixed_offset_zone),
        cmocka_unit_test(zone_set_refuses_unknown_or_unsafe_names),
        cmocka_unit_test(date_only_values_must_be_real_dates),
        cmocka_unit_test(civil_conversion_checks_its_fields),
        cmocka_unit_test(clocks_report_plausible_milliseconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
