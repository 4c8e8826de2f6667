/* Retry schedules, jitter, Retry-After and outcome classification. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "deliver/dispatch.h"
#include "deliver/retry.h"

#define NOW_S 1795754700LL /* 2026-11-27T04:45:00Z, a Friday */

static void parses_default_schedule(void **state)
{
    (void)state;
    struct retry_schedule s;
    assert_int_equal(retry_schedule_parse("0s,5s,5m,30m,2h,5h,10h,10h", &s), HERALD_OK);
    static const int64_t want[] = {0, 5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000};
    assert_int_equal(s.len, 8);
    assert_memory_equal(s.delays_ms, want, sizeof want);
    retry_schedule_fini(&s);
    assert_null(s.delays_ms);
    assert_int_equal(s.len, 0);
}

static void parses_millisecond_units_and_spaces(void **state)
{
    (void)state;
    struct retry_schedule s;
    assert_int_equal(retry_schedule_parse("0s,200ms,500ms,1s", &s), HERALD_OK);
    assert_int_equal(s.len, 4);
    assert_int_equal(s.delays_ms[1], 200);
    assert_int_equal(s.delays_ms[3], 1000);
    retry_schedule_fini(&s);
    assert_int_equal(retry_schedule_parse(" 1s , 2m ", &s), HERALD_OK);
    assert_int_equal(s.len, 2);
    assert_int_equal(s.delays_ms[1], 120000);
    retry_schedule_fini(&s);
    assert_int_equal(retry_schedule_parse("0ms", &s), HERALD_OK);
    assert_int_equal(s.len, 1);
    assert_int_equal(s.delays_ms[0], 0);
    retry_schedule_fini(&s);
}

static void refuses_malformed_schedules(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",      " ",
        "5",     "5x",
        "s",     "-5s",
        "+5s",   "5 s",
        "5sec",  "5S",
        "1.5s",  "5s,",
        ",5s",   "5s,,5s",
        "5s;5s", "5s 5s",
        "0x5s",  "5d",
        "1e3ms", "5h5m",
        "169h",  "99999999999999999999s",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct retry_schedule s;
        if (retry_schedule_parse(bad[i], &s) != HERALD_ERR_INVALID)
            fail_msg("accepted '%s'", bad[i]);
        assert_null(s.delays_ms);
        assert_int_equal(s.len, 0);
    }
    struct retry_schedule s;
    assert_int_equal(retry_schedule_parse(NULL, &s), HERALD_ERR_INVALID);
}

static void allows_up_to_100_entries_and_a_week_per_entry(void **state)
{
    (void)state;
    char text[1024] = "";
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s1s", i ? "," : "");
    struct retry_schedule s;
    assert_int_equal(retry_schedule_parse(text, &s), HERALD_OK);
    assert_int_equal(s.len, 100);
    retry_schedule_fini(&s);
    snprintf(text + n, sizeof text - n, ",1s");
    assert_int_equal(retry_schedule_parse(text, &s), HERALD_ERR_INVALID);
    assert_int_equal(retry_schedule_parse("168h", &s), HERALD_OK);
    assert_int_equal(s.delays_ms[0], RETRY_DELAY_MAX_MS);
    retry_schedule_fini(&s);
}

static void jitter_stays_within_twenty_percent(void **state)
{
    (void)state;
    struct retry_schedule s;
    assert_int_equal(retry_schedule_parse("0s,5s,10h", &s), HERALD_OK);
    assert_int_equal(retry_delay_ms(&s, 1, 0.0), 4000);
    assert_int_equal(retry_delay_ms(&s, 1, 0.5), 5000);
    assert_int_equal(retry_delay_ms(&s, 1, 0.999999), 6000);
    for (double r = 0.0; r < 1.0; r += 0.01) {
        int64_t d = retry_delay_ms(&s, 2, r);
        assert_true(d >= 28800000 && d <= 43200000);
    }
    retry_schedule_fini(&s);
}

static void zero_delay_stays_zero(void **state)
{
    (void)state;
    struct retry_schedule s;
    assert_int_equal(retry_schedule_parse("0s,1ms", &s), HERALD_OK);
    assert_int_equal(retry_delay_ms(&s, 0, 0.0), 0);
    assert_int_equal(retry_delay_ms(&s, 0, 0.9), 0);
    assert_int_equal(retry_delay_ms(&s, 1, 0.0), 1); /* 0.8 ms rounds to 1 */
    retry_schedule_fini(&s);
}

static void no_delay_after_the_last_attempt(void **state)
{
    (void)state;
    struct retry_schedule s;
    assert_int_equal(retry_schedule_parse("0s,5s", &s), HERALD_OK);
    assert_int_equal(retry_delay_ms(&s, 2, 0.5), -1);
    assert_int_equal(retry_delay_ms(&s, 1000, 0.5), -1);
    assert_int_equal(retry_delay_ms(NULL, 0, 0.5), -1);
    retry_schedule_fini(&s);
}

static void out_of_range_random_draws_are_clamped(void **state)
{
    (void)state;
    struct retry_schedule s;
    assert_int_equal(retry_schedule_parse("10s", &s), HERALD_OK);
    assert_int_equal(retry_delay_ms(&s, 0, -3.0), 8000);
    assert_int_equal(retry_delay_ms(&s, 0, 7.0), 12000);
    assert_int_equal(retry_delay_ms(&s, 0, NAN), 8000);
    retry_schedule_fini(&s);
}

static void retry_after_reads_delta_seconds(void **state)
{
    (void)state;
    assert_int_equal(retry_after_parse_ms("120", NOW_S), 120000);
    assert_int_equal(retry_after_parse_ms(" 5 ", NOW_S), 5000);
    assert_int_equal(retry_after_parse_ms("0", NOW_S), RETRY_AFTER_MIN_MS);
    assert_int_equal(retry_after_parse_ms("86400", NOW_S), RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_after_parse_ms("86401", NOW_S), RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_after_parse_ms("99999999999999999999999999", NOW_S), RETRY_AFTER_MAX_MS);
}

static void retry_after_reads_all_three_http_date_forms(void **state)
{
    (void)state;
    /* Two minutes after NOW_S in each form. */
    assert_int_equal(retry_after_parse_ms("Fri, 27 Nov 2026 04:47:00 GMT", NOW_S), 120000);
    assert_int_equal(retry_after_parse_ms("Friday, 27-Nov-26 04:47:00 GMT", NOW_S), 120000);
    assert_int_equal(retry_after_parse_ms("Fri Nov 27 04:47:00 2026", NOW_S), 120000);
    assert_int_equal(retry_after_parse_ms("Sun Nov  6 08:49:37 1994", 784111777 - 30), 30000);
    assert_int_equal(retry_after_parse_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), 30000);
    assert_int_equal(retry_after_parse_ms("Sunday, 06-Nov-94 08:49:37 GMT", 784111777 - 30), 30000);
}

static void retry_after_clamps_dates_to_a_second_and_a_day(void **state)
{
    (void)state;
    assert_int_equal(retry_after_parse_ms("Sun, 06 Nov 1994 08:49:37 GMT", NOW_S),
                     RETRY_AFTER_MIN_MS);
    assert_int_equal(retry_after_parse_ms("Fri, 27 Nov 2026 04:45:00 GMT", NOW_S),
                     RETRY_AFTER_MIN_MS);
    assert_int_equal(retry_after_parse_ms("Fri, 31 Dec 9999 23:59:59 GMT", NOW_S),
                     RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_after_parse_ms("Fri, 27 Nov 2026 04:47:00 GMT", INT64_MIN),
                     RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_after_parse_ms("Fri, 27 Nov 2026 04:47:00 GMT", INT64_MAX),
                     RETRY_AFTER_MIN_MS);
}

static void retry_after_two_digit_years_are_never_far_future(void **state)
{
    (void)state;
    /* From 2026, "76" is 2076 (50 years ahead) but "77" is 1977 (in the past). */
    assert_int_equal(retry_after_parse_ms("Friday, 27-Nov-76 04:45:00 GMT", NOW_S),
                     RETRY_AFTER_MAX_MS);
    assert_int_equal(retry_after_parse_ms("Saturday, 27-Nov-77 04:45:00 GMT", NOW_S),
                     RETRY_AFTER_MIN_MS);
}

static void retry_after_refuses_unparsable_values(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "   ",
        "-5",
        "1.5",
        "120s",
        "soon",
        "Fri, 27 Nov 2026 04:47:00",        /* no GMT */
        "Fri, 27 Nov 2026 04:47:00 UTC",    /* not GMT */
        "Fri, 27 Nov 2026 04:47:00 GMTx",   /* trailing bytes */
        "Fri, 31 Nov 2026 04:47:00 GMT",    /* 31 November */
        "Fri, 27 Nov 2026 24:47:00 GMT",    /* hour 24 */
        "Fri, 27 Foo 2026 04:47:00 GMT",    /* month */
        "Fry, 27 Nov 2026 04:47:00 GMT",    /* day name */
        "Fri, 7 Nov 2026 04:47:00 GMT",     /* one-digit day */
        "Fri, 27 Nov 26 04:47:00 GMT",      /* two-digit year in IMF */
        "Friday, 27-Nov-2026 04:47:00 GMT", /* four-digit year in RFC 850 */
        "Fri Nov 27 04:47:00",              /* asctime without year */
        "2026-11-27T04:47:00Z",             /* ISO-8601 is not an HTTP-date */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (retry_after_parse_ms(bad[i], NOW_S) != -1)
            fail_msg("accepted '%s'", bad[i]);
    }
    assert_int_equal(retry_after_parse_ms(NULL, NOW_S), -1);
}

static void circuit_of(const char *schedule, int64_t *open_ms, int64_t *max_ms)
{
    struct retry_schedule s;
    assert_int_equal(retry_schedule_parse(schedule, &s), HERALD_OK);
    circuit_bounds(&s, open_ms, max_ms);
    retry_schedule_fini(&s);
}

/* A destination's circuit rests no longer than the retry schedule waits: with 0s,200ms,500ms,1s
 * five channels failing once each on one receiver had their retries held 5 s. */
static void longest_delay_of_a_schedule(void **state)
{
    (void)state;
    struct retry_schedule s;
    assert_int_equal(retry_schedule_parse("0s,5s,5m,30m,2h,5h,10h,10h", &s), HERALD_OK);
    assert_int_equal(retry_longest_ms(&s), 36000000);
    retry_schedule_fini(&s);
    assert_int_equal(retry_schedule_parse("1s,200ms", &s), HERALD_OK);
    assert_int_equal(retry_longest_ms(&s), 1000);
    retry_schedule_fini(&s);
    assert_int_equal(retry_longest_ms(NULL), 0);
}

static void circuit_rests_within_the_retry_schedule(void **state)
{
    (void)state;
    int64_t open_ms, max_ms;
    circuit_of("0s,5s,5m,30m,2h,5h,10h,10h", &open_ms, &max_ms); /* the default: unchanged */
    assert_int_equal(open_ms, 5000);
    assert_int_equal(max_ms, 300000);
    circuit_of("0s,200ms,500ms,1s", &open_ms, &max_ms);
    assert_int_equal(open_ms, 200);
    assert_int_equal(max_ms, 1000);
    circuit_of("1s,10m", &open_ms, &max_ms);
    assert_int_equal(open_ms, 1000);
    assert_int_equal(max_ms, 300000);
    circuit_of("0s,20ms", &open_ms, &max_ms); /* never under 100 ms */
    assert_int_equal(open_ms, 100);
    assert_int_equal(max_ms, 100);
    circuit_of("0s,0s", &open_ms, &max_ms);
    assert_int_equal(open_ms, 100);
    assert_int_equal(max_ms, 100);
    circuit_bounds(NULL, &open_ms, &max_ms);
    assert_int_equal(open_ms, 5000);
    assert_int_equal(max_ms, 300000);
}

static void classifies_attempt_outcomes(void **state)
{
    (void)state;
    assert_int_equal(retry_classify(200), RETRY_DELIVERED);
    assert_int_equal(retry_classify(201), RETRY_DELIVERED);
    assert_int_equal(retry_classify(204), RETRY_DELIVERED);
    assert_int_equal(retry_classify(299), RETRY_DELIVERED);
    assert_int_equal(retry_classify(410), RETRY_GONE);
    assert_int_equal(retry_classify(0), RETRY_AGAIN);
    assert_int_equal(retry_classify(100), RETRY_AGAIN);
    assert_int_equal(retry_classify(199), RETRY_AGAIN);
    assert_int_equal(retry_classify(300), RETRY_AGAIN);
    assert_int_equal(retry_classify(302), RETRY_AGAIN);
    assert_int_equal(retry_classify(400), RETRY_AGAIN);
    assert_int_equal(retry_classify(404), RETRY_AGAIN);
    assert_int_equal(retry_classify(429), RETRY_AGAIN);
    assert_int_equal(retry_classify(500), RETRY_AGAIN);
    assert_int_equal(retry_classify(503), RETRY_AGAIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_default_schedule),
        cmocka_unit_test(longest_delay_of_a_schedule),
        cmocka_unit_test(circuit_rests_within_the_retry_schedule),
        cmocka_unit_test(parses_millisecond_units_and_spaces),
        cmocka_unit_test(refuses_malformed_schedules),
        cmocka_unit_test(allows_up_to_100_entries_and_a_week_per_entry),
        cmocka_unit_test(jitter_stays_within_twenty_percent),
        cmocka_unit_test(zero_delay_stays_zero),
        cmocka_unit_test(no_delay_after_the_last_attempt),
        cmocka_unit_test(out_of_range_random_draws_are_clamped),
        cmocka_unit_test(retry_after_reads_delta_seconds),
        cmocka_unit_test(retry_after_reads_all_three_http_date_forms),
        cmocka_unit_test(retry_after_clamps_dates_to_a_second_and_a_day),
        cmocka_unit_test(retry_after_two_digit_years_are_never_far_future),
        cmocka_unit_test(retry_after_refuses_unparsable_values),
        cmocka_unit_test(classifies_attempt_outcomes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
