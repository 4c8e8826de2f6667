/* query_params built from notify URLs as Zoho's documented sample does (reference §5.3). */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <stdbool.h>
#include <string.h>

#include "core/buf.h"
#include "watch/qparams.h"

static void expect(const char *url, const char *want)
{
    struct buf b;
    buf_init(&b);
    qparams_render(url, &b);
    bool ok = strcmp(b.data, want) == 0;
    if (!ok)
        print_error("%s\n  got  %s\n  want %s\n", url ? url : "(null)", b.data, want);
    buf_fini(&b);
    assert_true(ok);
}

static void seed_sample_keeps_question_mark_on_first_key(void **state)
{
    (void)state;
    expect("https://www.zoho.com/callback?authorization=Zoho-oauthtoken "
           "1000.23dnsbbbh455jnn&key1=val1&key2=val2",
           "{\"?authorization\":\"Zoho-oauthtoken 1000.23dnsbbbh455jnn\",\"key1\":\"val1\","
           "\"key2\":\"val2\"}");
}

static void url_without_query_gives_empty_object(void **state)
{
    (void)state;
    expect("https://www.zoho.com/callback", "{}");
    expect("https://www.zoho.com/callback#a=b", "{}");
    expect(NULL, "{}");
}

static void lone_question_mark_gives_empty_object(void **state)
{
    (void)state;
    expect("https://x/cb?", "{}");
    expect("https://x/cb?&", "{}");
    expect("https://x/cb?&a=1", "{\"a\":\"1\"}");
}

static void trailing_and_doubled_ampersands_are_skipped(void **state)
{
    (void)state;
    expect("https://x/cb?a=1&", "{\"?a\":\"1\"}");
    expect("https://x/cb?a=1&&b=2&&&", "{\"?a\":\"1\",\"b\":\"2\"}");
}

static void piece_without_equals_has_empty_value(void **state)
{
    (void)state;
    expect("https://x/cb?flag&b=2&c", "{\"?flag\":\"\",\"b\":\"2\",\"c\":\"\"}");
    expect("https://x/cb?a=&=v", "{\"?a\":\"\",\"\":\"v\"}");
}

static void splits_only_at_first_equals_and_first_question_mark(void **state)
{
    (void)state;
    expect("https://x/cb?a=b=c&d=?e?", "{\"?a\":\"b=c\",\"d\":\"?e?\"}");
    expect("https://x/cb??a=1", "{\"??a\":\"1\"}");
}

static void values_are_not_percent_decoded(void **state)
{
    (void)state;
    expect("https://x/cb?q=a%20b+c&r=%zz", "{\"?q\":\"a%20b+c\",\"r\":\"%zz\"}");
    expect("https://x/cb?q=1#frag", "{\"?q\":\"1#frag\"}");
}

static void repeated_key_keeps_first_position_and_last_value(void **state)
{
    (void)state;
    expect("https://x/cb?x=0&a=1&b=2&a=3&a=4", "{\"?x\":\"0\",\"a\":\"4\",\"b\":\"2\"}");
    expect("https://x/cb?a=1&?a=2", "{\"?a\":\"2\"}");
    expect("https://x/cb?b=1&a=2&a", "{\"?b\":\"1\",\"a\":\"\"}");
}

static void escapes_json_special_characters(void **state)
{
    (void)state;
    expect("https://x/cb?q=say \"hi\"&b\\s=\x01\t",
           "{\"?q\":\"say \\\"hi\\\"\",\"b\\\\s\":\"\\u0001\\t\"}");
    expect("https://x/cb?name=Jos\xc3\xa9", "{\"?name\":\"Jos\xc3\xa9\"}");
}

static void appends_to_existing_text(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "\"query_params\":");
    qparams_render("https://x/cb?k=v", &b);
    buf_putc(&b, ',');
    assert_string_equal(b.data, "\"query_params\":{\"?k\":\"v\"},");
    buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_sample_keeps_question_mark_on_first_key),
        cmocka_unit_test(url_without_query_gives_empty_object),
        cmocka_unit_test(lone_question_mark_gives_empty_object),
        cmocka_unit_test(trailing_and_doubled_ampersands_are_skipped),
        cmocka_unit_test(piece_without_equals_has_empty_value),
        cmocka_unit_test(splits_only_at_first_equals_and_first_question_mark),
        cmocka_unit_test(values_are_not_percent_decoded),
        cmocka_unit_test(repeated_key_keeps_first_position_and_last_value),
        cmocka_unit_test(escapes_json_special_characters),
        cmocka_unit_test(appends_to_existing_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
