/* Notify-URL parsing and percent-encoding of bytes not valid on the wire. */
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
#include "core/url.h"

static struct url_parts parse_ok(const char *url)
{
    struct url_parts p;
    if (url_parse(url, &p) != HERALD_OK)
        fail_msg("refused %s", url);
    return p;
}

static void splits_http_url_with_default_port(void **state)
{
    (void)state;
    const char *url = "http://example.com/callback?a=1";
    struct url_parts p = parse_ok(url);
    assert_string_equal(p.scheme, "http");
    assert_string_equal(p.host, "example.com");
    assert_int_equal(p.port, 80);
    assert_false(p.is_ip_literal);
    assert_ptr_equal(p.path_and_query, url + strlen("http://example.com"));
    assert_string_equal(p.path_and_query, "/callback?a=1");
}

static void splits_https_url_with_explicit_port(void **state)
{
    (void)state;
    struct url_parts p = parse_ok("HTTPS://Hooks.Example.COM:8443/x");
    assert_string_equal(p.scheme, "https");
    assert_string_equal(p.host, "hooks.example.com");
    assert_int_equal(p.port, 8443);
    p = parse_ok("https://example.com");
    assert_int_equal(p.port, 443);
    assert_string_equal(p.path_and_query, "");
}

static void query_or_fragment_may_follow_host_directly(void **state)
{
    (void)state;
    struct url_parts p = parse_ok("http://example.com?x=1");
    assert_string_equal(p.host, "example.com");
    assert_string_equal(p.path_and_query, "?x=1");
    p = parse_ok("http://example.com:81#frag");
    assert_int_equal(p.port, 81);
    assert_string_equal(p.path_and_query, "#frag");
}

static void recognises_ipv4_and_bracketed_ipv6_literals(void **state)
{
    (void)state;
    struct url_parts p = parse_ok("http://127.0.0.1:9000/hook");
    assert_true(p.is_ip_literal);
    assert_string_equal(p.host, "127.0.0.1");
    assert_int_equal(p.port, 9000);
    p = parse_ok("http://[::1]:9000/hook");
    assert_true(p.is_ip_literal);
    assert_string_equal(p.host, "::1");
    assert_int_equal(p.port, 9000);
    p = parse_ok("https://[2001:DB8::1]/");
    assert_string_equal(p.host, "2001:db8::1");
    assert_int_equal(p.port, 443);
    p = parse_ok("http://[::ffff:127.0.0.1]/");
    assert_string_equal(p.host, "::ffff:127.0.0.1");
}

static void keeps_invalid_bytes_in_path_and_query(void **state)
{
    (void)state;
    const char *seed = "https://www.zoho.com/callback?authorization=Zoho-oauthtoken "
                       "1000.23dnsbbbh455jnn&key1=val1&key2=val2";
    struct url_parts p = parse_ok(seed);
    assert_string_equal(p.host, "www.zoho.com");
    assert_non_null(strchr(p.path_and_query, ' '));
    parse_ok("http://example.com/a b/{c}|\"d\"?q=<\xc3\xa9>");
}

static void refuses_other_schemes_and_relative_urls(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "//example.com/",
        "/callback",
        "example.com",
        "http:/example.com",
        "http:example.com",
        "https//example.com",
        "httpx://example.com",
        "",
        " http://a.com/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct url_parts p;
        if (url_parse(bad[i], &p) != HERALD_ERR_INVALID)
            fail_msg("accepted '%s'", bad[i]);
    }
}

static void refuses_empty_or_malformed_hosts(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "http:///path",
        "http://:80/",
        "http://?q",
        "http://exa mple.com/",
        "http://exa%6dple.com/",
        "http://example.com\\@evil/",
        "http://[::1/",
        "http://[::1]x/",
        "http://[]/",
        "http://[not-an-ip]/",
        "http://[fe80::1%25eth0]/",
        "http://::1/",
        "http://fe80::1/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct url_parts p;
        if (url_parse(bad[i], &p) != HERALD_ERR_INVALID)
            fail_msg("accepted '%s'", bad[i]);
    }
}

static void refuses_userinfo(void **state)
{
    (void)state;
    struct url_parts p;
    assert_int_equal(url_parse("http://user@example.com/", &p), HERALD_ERR_INVALID);
    assert_int_equal(url_parse("http://user:pw@example.com/", &p), HERALD_ERR_INVALID);
    assert_int_equal(url_parse("http://example.com@127.0.0.1/", &p), HERALD_ERR_INVALID);
    assert_int_equal(url_parse("http://@example.com/", &p), HERALD_ERR_INVALID);
    /* An '@' after the authority is path data, not userinfo. */
    p = parse_ok("http://example.com/a@b?c=d@e");
    assert_string_equal(p.host, "example.com");
}

static void refuses_ambiguous_numeric_ipv4_forms(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f.0.0.1/",
        "http://0177.0.0.1/",
        "http://127.0.1/",
        /* with the root's dot, as URL parsers read them: each is an address */
        "http://127.0.0.1./",
        "http://10.0.0.1.:8080/",
        "http://0x7f.1./",
        "http://2130706433./",
        "http://169.254.169.254./latest",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct url_parts p;
        if (url_parse(bad[i], &p) != HERALD_ERR_INVALID)
            fail_msg("accepted '%s'", bad[i]);
    }
    /* A name with the root's dot is still a name. */
    assert_string_equal(parse_ok("http://example.com./x").host, "example.com.");
    assert_string_equal(parse_ok("http://a.1b./").host, "a.1b.");
}

static void port_must_be_decimal_in_range(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "http://a.com:0/",   "http://a.com:65536/", "http://a.com:/",       "http://a.com:-1/",
        "http://a.com:+80/", "http://a.com:8o/",    "http://a.com:000080/", "http://a.com:80:81/",
        "http://[::1]:/",    "http://[::1]:99999/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct url_parts p;
        if (url_parse(bad[i], &p) != HERALD_ERR_INVALID)
            fail_msg("accepted '%s'", bad[i]);
    }
    assert_int_equal(parse_ok("http://a.com:65535/").port, 65535);
    assert_int_equal(parse_ok("http://a.com:1/").port, 1);
}

static void refuses_urls_longer_than_2048_bytes(void **state)
{
    (void)state;
    char url[URL_MAX_LEN + 2];
    const char *prefix = "http://example.com/";
    size_t n = strlen(prefix);
    memcpy(url, prefix, n);
    memset(url + n, 'a', URL_MAX_LEN - n);
    url[URL_MAX_LEN] = '\0';
    struct url_parts p;
    assert_int_equal(url_parse(url, &p), HERALD_OK);
    url[URL_MAX_LEN] = 'a';
    url[URL_MAX_LEN + 1] = '\0';
    assert_int_equal(url_parse(url, &p), HERALD_ERR_INVALID);
    assert_int_equal(url_parse(NULL, &p), HERALD_ERR_INVALID);
}

static void refuses_hosts_longer_than_255_bytes(void **state)
{
    (void)state;
    char url[400];
    memcpy(url, "http://", 7);
    memset(url + 7, 'a', 256);
    memcpy(url + 7 + 256, "/x", 3);
    struct url_parts p;
    assert_int_equal(url_parse(url, &p), HERALD_ERR_INVALID);
    url[7 + 255] = '/';
    url[7 + 256] = '\0';
    assert_int_equal(url_parse(url, &p), HERALD_OK);
    assert_int_equal(strlen(p.host), 255);
}

static void encodes_space_controls_and_unsafe_bytes(void **state)
{
    (void)state;
    char *s = url_encode_invalid("https://www.zoho.com/callback?authorization=Zoho-oauthtoken "
                                 "1000.23dnsbbbh455jnn&key1=val1");
    assert_string_equal(s, "https://www.zoho.com/callback?authorization=Zoho-oauthtoken%20"
                           "1000.23dnsbbbh455jnn&key1=val1");
    free(s);
    s = url_encode_invalid("http://a/\"<>\\^`{|}\t\x7f\xc3\xa9");
    assert_string_equal(s, "http://a/%22%3C%3E%5C%5E%60%7B%7C%7D%09%7F%C3%A9");
    free(s);
}

static void keeps_valid_escapes_and_encodes_stray_percent(void **state)
{
    (void)state;
    char *s = url_encode_invalid("http://a/x%20y%2fz?p=100%&q=%zz&r=%4");
    assert_string_equal(s, "http://a/x%20y%2fz?p=100%25&q=%25zz&r=%254");
    free(s);
}

static void leaves_valid_urls_unchanged(void **state)
{
    (void)state;
    const char *url = "https://[::1]:8443/a/b;c=d?e=f&g=h+i~j!k*l'(m)#frag";
    char *s = url_encode_invalid(url);
    assert_string_equal(s, url);
    free(s);
    s = url_encode_invalid("");
    assert_string_equal(s, "");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(splits_http_url_with_default_port),
        cmocka_unit_test(splits_https_url_with_explicit_port),
        cmocka_unit_test(query_or_fragment_may_follow_host_directly),
        cmocka_unit_test(recognises_ipv4_and_bracketed_ipv6_literals),
        cmocka_unit_test(keeps_invalid_bytes_in_path_and_query),
        cmocka_unit_test(refuses_other_schemes_and_relative_urls),
        cmocka_unit_test(refuses_empty_or_malformed_hosts),
        cmocka_unit_test(refuses_userinfo),
        cmocka_unit_test(refuses_ambiguous_numeric_ipv4_forms),
        cmocka_unit_test(port_must_be_decimal_in_range),
        cmocka_unit_test(refuses_urls_longer_than_2048_bytes),
        cmocka_unit_test(refuses_hosts_longer_than_255_bytes),
        cmocka_unit_test(encodes_space_controls_and_unsafe_bytes),
        cmocka_unit_test(keeps_valid_escapes_and_encodes_stray_percent),
        cmocka_unit_test(leaves_valid_urls_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
