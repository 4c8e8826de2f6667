/* zjson_dump renders exactly what json_dumps(JSON_COMPACT | JSON_ENCODE_ANY) renders, but for
 * reals, which take the fewest significant digits that read back as the same double: every API
 * answer and stored record goes through it, so a byte of difference would change the wire. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/zjson.h"

/* Compares zjson_dumps with jansson's own rendering of v; takes v. */
static void same_as_jansson(json_t *v)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *got = zjson_dumps(v);
    assert_non_null(want);
    assert_non_null(got);
    if (strcmp(want, got) != 0)
        print_error("got  %s\nwant %s\n", got, want);
    assert_string_equal(got, want);
    free(want);
    free(got);
    json_decref(v);
}

static void scalars_render_as_jansson_does(void **state)
{
    (void)state;
    same_as_jansson(json_null());
    same_as_jansson(json_true());
    same_as_jansson(json_false());
    same_as_jansson(json_integer(0));
    same_as_jansson(json_integer(-1));
    same_as_jansson(json_integer(INT64_MAX));
    same_as_jansson(json_integer(INT64_MIN));
    same_as_jansson(json_real(3.0));
    same_as_jansson(json_real(0.5));
    same_as_jansson(json_real(-268435455.875));
    same_as_jansson(json_string(""));
    same_as_jansson(json_string("plain ascii / slash"));
    same_as_jansson(json_string("ünïcödé 日本 🎉"));
}

/* Renders v with zjson_dumps, checks the text, and that it reads back as the same double. */
static void real_renders_as(double value, const char *want)
{
    json_t *v = json_real(value);
    char *got = zjson_dumps(v);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_true(strtod(got, NULL) == value);
    free(got);
    json_decref(v);
}

/* json_dumps writes every real with 17 digits: a currency of 0.1 came back as
 * 0.10000000000000001 and 12.345 as 12.345000000000001. */
static void reals_take_the_fewest_digits_that_read_back(void **state)
{
    (void)state;
    real_renders_as(0.1, "0.1");
    real_renders_as(1.1, "1.1");
    real_renders_as(-3.3, "-3.3");
    real_renders_as(12.345, "12.345");
    real_renders_as(900.09, "900.09");
    real_renders_as(99999999999999.99, "99999999999999.98");
    real_renders_as(1000.0, "1000.0");
    real_renders_as(-1.5e-7, "-1.5e-7");
    real_renders_as(1e21, "1e21");
    real_renders_as(0.1 + 0.2, "0.30000000000000004");
    unsigned seed = 777;
    for (int i = 0; i < 2000; i++) {
        double value = (double)rand_r(&seed) / 7.0 * (i % 2 ? 1e-9 : 1e9);
        json_t *v = json_real(value);
        char *got = zjson_dumps(v);
        assert_true(strtod(got, NULL) == value);
        assert_true(strpbrk(got, ".e") != NULL); /* still a real when read back */
        free(got);
        json_decref(v);
    }
}

static void every_control_byte_is_escaped_as_jansson_does(void **state)
{
    (void)state;
    char s[130];
    for (int i = 0; i < 128; i++)
        s[i] = (char)i;
    same_as_jansson(json_stringn(s, 128)); /* a NUL inside too */
    same_as_jansson(json_string("quote \" backslash \\ tab \t newline \n cr \r bs \b ff \f"));
}

static void containers_keep_insertion_order(void **state)
{
    (void)state;
    same_as_jansson(json_object());
    same_as_jansson(json_array());
    json_t *o = json_pack("{s:s, s:i, s:[i, s, {}], s:{s:n, s:b}, s:[]}", "zeta", "z", "alpha", 1,
                          "mid", 2, "x", "nested", "inner", "flag", 1, "empty");
    assert_non_null(o);
    same_as_jansson(o);
    json_t *deep = json_array();
    json_t *at = deep;
    for (int i = 0; i < 40; i++) {
        json_t *next = json_object();
        json_object_set_new(next, "k\n", json_integer(i));
        json_array_append_new(at, next);
        json_t *arr = json_array();
        json_object_set_new(next, "a", arr);
        at = arr;
    }
    same_as_jansson(deep);
}

/* A deterministic mix of random trees: strings of random bytes that are valid UTF-8. */
static json_t *random_value(unsigned *seed, int depth)
{
    int kind = rand_r(seed) % (depth > 4 ? 5 : 7);
    switch (kind) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rand_r(seed) & 1);
    case 2:
        return json_integer((json_int_t)(((uint64_t)rand_r(seed) << 33) ^ (uint64_t)rand_r(seed)));
    case 3:
        return json_real((double)rand_r(seed) / 8.0); /* exact in 17 digits: jansson's form */
    case 4: {
        char s[24];
        size_t n = (size_t)(rand_r(seed) % 20);
        for (size_t i = 0; i < n; i++)
            s[i] = (char)(1 + rand_r(seed) % 127);
        return json_stringn(s, n);
    }
    case 5: {
        json_t *a = json_array();
        for (int i = rand_r(seed) % 5; i > 0; i--)
            json_array_append_new(a, random_value(seed, depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (int i = rand_r(seed) % 5; i > 0; i--) {
            char key[16];
            snprintf(key, sizeof key, "k%d\"%c", rand_r(seed) % 1000, 'a' + i);
            json_object_set_new(o, key, random_value(seed, depth + 1));
        }
        return o;
    }
    }
}

static void random_trees_render_as_jansson_does(void **state)
{
    (void)state;
    unsigned seed = 12345;
    for (int i = 0; i < 2000; i++)
        same_as_jansson(random_value(&seed, 0));
}

/* The CLI's indented form is jansson's JSON_INDENT(2), byte for byte, but for reals. */
static void indented_text_is_janssons_but_for_reals(void **state)
{
    (void)state;
    unsigned seed = 777;
    for (int i = 0; i < 2000; i++) {
        json_t *v = random_value(&seed, 0);
        if (!json_is_object(v) && !json_is_array(v)) {
            json_decref(v);
            continue;
        }
        char *want = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        char *got = zjson_dumps_indented(v);
        assert_non_null(got);
        assert_string_equal(got, want);
        free(want);
        free(got);
        json_decref(v);
    }
    json_t *o = json_pack("{s:f, s:[f, {}, []], s:s}", "rate", 0.1, "list", 12.345, "text",
                          "a\"b,c:{d}[e]\\");
    char *got = zjson_dumps_indented(o);
    assert_string_equal(got, "{\n  \"rate\": 0.1,\n  \"list\": [\n    12.345,\n    {},\n"
                             "    []\n  ],\n  \"text\": \"a\\\"b,c:{d}[e]\\\\\"\n}");
    free(got);
    json_decref(o);
}

static void dump_except_leaves_out_one_top_level_key(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:s, s:{s:s}, s:i}", "Last_Name", "Doe", "Owner", "id", "7", "n", 3);
    struct buf b;
    buf_init(&b);
    zjson_dump_except(&b, o, "Owner");
    assert_string_equal(b.data, "{\"Last_Name\":\"Doe\",\"n\":3}");
    buf_reset(&b);
    zjson_dump_except(&b, o, "Missing");
    assert_string_equal(b.data, "{\"Last_Name\":\"Doe\",\"Owner\":{\"id\":\"7\"},\"n\":3}");
    buf_fini(&b);
    json_decref(o);
}

static void decimal_formatting_matches_printf(void **state)
{
    (void)state;
    const int64_t values[] = {
        0, 1, -1, 9, 10, -10, 99, 100, 4611686018427387904LL, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char want[32], got[32];
        snprintf(want, sizeof want, "%" PRId64, values[i]);
        size_t n = fmt_i64(got, values[i]);
        got[n] = '\0';
        assert_string_equal(got, want);
        json_t *id = zjson_id(values[i]);
        assert_string_equal(json_string_value(id), want);
        json_decref(id);
    }
    /* Each side of every power of ten, and a spread of others, both signs. */
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 400; i++) {
        int64_t v;
        if (i < 19 * 2) {
            v = 1;
            for (int e = 0; e < i / 2; e++)
                v *= 10;
            v -= i % 2;
        } else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v = (int64_t)(x >> (i % 60));
        }
        for (int sign = 0; sign < 2; sign++, v = -v) {
            char want[32], got[32];
            snprintf(want, sizeof want, "%" PRId64, v);
            size_t n = fmt_i64(got, v);
            got[n] = '\0';
            assert_string_equal(got, want);
        }
    }
}

/* Bytes that are not UTF-8 become U+FFFD one byte at a time; well-formed text, including the
 * longest sequences, is kept; the forms jansson refuses (overlong, surrogates, past U+10FFFF,
 * a sequence cut short) are each replaced, so the result is always a string. */
static void lossy_strings_replace_each_byte_that_is_not_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"plain", "plain"},
        {"caf\xc3\xa9 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
         "caf\xc3\xa9 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"},
        {"caf\xe9", "caf\xef\xbf\xbd"},                           /* Latin-1 */
        {"cut \xc3", "cut \xef\xbf\xbd"},                         /* two-byte sequence cut short */
        {"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* three-byte cut short */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong '/' */
        {"\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong, three bytes */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
        {"\xf4\x90\x80\x80",
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* past U+10FFFF */
        {"\xff", "\xef\xbf\xbd"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = zjson_string_lossy(cases[i].in);
        assert_true(json_is_string(v));
        assert_string_equal(json_string_value(v), cases[i].out);
        json_decref(v);
    }
    json_t *v = zjson_string_lossy(NULL);
    assert_true(json_is_null(v));
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scalars_render_as_jansson_does),
        cmocka_unit_test(reals_take_the_fewest_digits_that_read_back),
        cmocka_unit_test(indented_text_is_janssons_but_for_reals),
        cmocka_unit_test(every_control_byte_is_escaped_as_jansson_does),
        cmocka_unit_test(containers_keep_insertion_order),
        cmocka_unit_test(random_trees_render_as_jansson_does),
        cmocka_unit_test(dump_except_leaves_out_one_top_level_key),
        cmocka_unit_test(decimal_formatting_matches_printf),
        cmocka_unit_test(lossy_strings_replace_each_byte_that_is_not_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
