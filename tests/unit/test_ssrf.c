/* Address classification, allow ranges and the resolve-then-check step. Only literals and
 * "localhost" (and the names under it, looked up as "localhost") are resolved: there is no
 * network here. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "deliver/ssrf.h"

/* A socket address for a literal; the family is chosen by the presence of ':'. */
static struct sockaddr_storage addr_of(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(text, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, text, &a->sin6_addr) != 1)
            fail_msg("bad test literal %s", text);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        if (inet_pton(AF_INET, text, &a->sin_addr) != 1)
            fail_msg("bad test literal %s", text);
    }
    return ss;
}

static enum ssrf_class class_of(const char *text)
{
    struct sockaddr_storage ss = addr_of(text);
    return ssrf_classify((const struct sockaddr *)&ss);
}

static bool allowed(const struct ssrf_allowlist *l, const char *text)
{
    struct sockaddr_storage ss = addr_of(text);
    return ssrf_addr_allowed(l, (const struct sockaddr *)&ss);
}

struct class_case {
    const char *addr;
    enum ssrf_class cls;
};

static void check_table(const struct class_case *t, size_t n)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        enum ssrf_class got = class_of(t[i].addr);
        if (got != t[i].cls) {
            print_error("%s: got %s, want %s\n", t[i].addr, ssrf_class_name(got),
                        ssrf_class_name(t[i].cls));
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

static void classifies_ipv4_ranges(void **state)
{
    (void)state;
    static const struct class_case t[] = {
        {"8.8.8.8", SSRF_PUBLIC},
        {"1.1.1.1", SSRF_PUBLIC},
        {"93.184.216.34", SSRF_PUBLIC},
        {"223.255.255.255", SSRF_PUBLIC},
        {"0.0.0.0", SSRF_UNSPECIFIED},
        {"0.0.0.1", SSRF_RESERVED},
        {"0.255.255.255", SSRF_RESERVED},
        {"1.0.0.0", SSRF_PUBLIC},
        {"127.0.0.1", SSRF_LOOPBACK},
        {"127.255.255.254", SSRF_LOOPBACK},
        {"126.255.255.255", SSRF_PUBLIC},
        {"128.0.0.0", SSRF_PUBLIC},
        {"10.0.0.1", SSRF_PRIVATE},
        {"10.255.255.255", SSRF_PRIVATE},
        {"11.0.0.0", SSRF_PUBLIC},
        {"172.16.0.1", SSRF_PRIVATE},
        {"172.31.255.255", SSRF_PRIVATE},
        {"172.15.255.255", SSRF_PUBLIC},
        {"172.32.0.0", SSRF_PUBLIC},
        {"192.168.0.1", SSRF_PRIVATE},
        {"192.168.255.255", SSRF_PRIVATE},
        {"192.169.0.0", SSRF_PUBLIC},
        {"169.254.169.254", SSRF_LINK_LOCAL},
        {"169.254.0.0", SSRF_LINK_LOCAL},
        {"169.255.0.0", SSRF_PUBLIC},
        {"100.64.0.1", SSRF_CGNAT},
        {"100.127.255.255", SSRF_CGNAT},
        {"100.63.255.255", SSRF_PUBLIC},
        {"100.128.0.0", SSRF_PUBLIC},
        {"224.0.0.1", SSRF_MULTICAST},
        {"239.255.255.250", SSRF_MULTICAST},
        {"255.255.255.255", SSRF_BROADCAST},
        {"255.255.255.254", SSRF_RESERVED},
        {"240.0.0.1", SSRF_RESERVED},
        {"192.0.2.1", SSRF_DOCUMENTATION},
        {"198.51.100.7", SSRF_DOCUMENTATION},
        {"203.0.113.255", SSRF_DOCUMENTATION},
        {"203.0.114.0", SSRF_PUBLIC},
        {"192.0.0.8", SSRF_RESERVED},
        {"192.88.99.1", SSRF_RESERVED},
        {"198.18.0.1", SSRF_RESERVED},
        {"198.19.255.255", SSRF_RESERVED},
        {"198.20.0.0", SSRF_PUBLIC},
        {"198.17.255.255", SSRF_PUBLIC},
    };
    check_table(t, sizeof t / sizeof t[0]);
}

static void classifies_ipv6_ranges(void **state)
{
    (void)state;
    static const struct class_case t[] = {
        {"2606:4700:4700::1111", SSRF_PUBLIC},
        {"2a00:1450:4001::200e", SSRF_PUBLIC},
        {"::", SSRF_UNSPECIFIED},
        {"::1", SSRF_LOOPBACK},
        {"fc00::1", SSRF_PRIVATE},
        {"fd12:3456:789a::1", SSRF_PRIVATE},
        {"fe80::1", SSRF_LINK_LOCAL},
        {"febf:ffff::1", SSRF_LINK_LOCAL},
        {"fec0::1", SSRF_PRIVATE},
        {"ff02::1", SSRF_MULTICAST},
        {"ff05::2", SSRF_MULTICAST},
        {"2001:db8::1", SSRF_DOCUMENTATION},
        {"2001:db8:ffff::1", SSRF_DOCUMENTATION},
        {"3fff::1", SSRF_DOCUMENTATION},
        {"100::1", SSRF_RESERVED},
        {"100::ffff:ffff:ffff:ffff", SSRF_RESERVED},
        {"2001:2::1", SSRF_RESERVED},
        {"2001:10::1", SSRF_RESERVED},
        {"2001:20::1", SSRF_RESERVED},
        {"64:ff9b:1::1", SSRF_PRIVATE},
        {"4000::1", SSRF_RESERVED},
        {"1::1", SSRF_RESERVED},
        {"5f00::1", SSRF_RESERVED},
        {"3ffe::1", SSRF_PUBLIC},
    };
    check_table(t, sizeof t / sizeof t[0]);
}

static void classifies_embedded_ipv4_by_its_ipv4_address(void **state)
{
    (void)state;
    static const struct class_case t[] = {
        /* IPv4-mapped */
        {"::ffff:127.0.0.1", SSRF_LOOPBACK},
        {"::ffff:10.1.2.3", SSRF_PRIVATE},
        {"::ffff:169.254.169.254", SSRF_LINK_LOCAL},
        {"::ffff:0.0.0.0", SSRF_UNSPECIFIED},
        {"::ffff:8.8.8.8", SSRF_PUBLIC},
        /* IPv4-compatible (deprecated) */
        {"::127.0.0.1", SSRF_LOOPBACK},
        {"::10.0.0.1", SSRF_PRIVATE},
        {"::8.8.8.8", SSRF_PUBLIC},
        {"::0.0.0.2", SSRF_RESERVED},
        /* IPv4-translated (SIIT) */
        {"::ffff:0:127.0.0.1", SSRF_LOOPBACK},
        {"::ffff:0:8.8.8.8", SSRF_PUBLIC},
        /* NAT64 well-known prefix */
        {"64:ff9b::127.0.0.1", SSRF_LOOPBACK},
        {"64:ff9b::a9fe:a9fe", SSRF_LINK_LOCAL},
        {"64:ff9b::192.168.1.1", SSRF_PRIVATE},
        {"64:ff9b::8.8.8.8", SSRF_PUBLIC},
        /* 6to4 */
        {"2002:7f00:1::1", SSRF_LOOPBACK},
        {"2002:c0a8:101::", SSRF_PRIVATE},
        {"2002:6440:1::", SSRF_CGNAT},
        {"2002:e000:1::", SSRF_MULTICAST},
        {"2002:808:808::1", SSRF_PUBLIC},
        /* Teredo: the client address is stored inverted in the last 32 bits */
        {"2001:0:4136:e378:8000:63bf:3fff:fdd2", SSRF_DOCUMENTATION}, /* 192.0.2.45 */
        {"2001:0:4136:e378:8000:63bf:80ff:fffe", SSRF_LOOPBACK},      /* 127.0.0.1 */
        {"2001:0:4136:e378:8000:63bf:f7f7:f7f7", SSRF_PUBLIC},        /* 8.8.8.8 */
    };
    check_table(t, sizeof t / sizeof t[0]);
}

static void unknown_family_is_reserved(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_UNIX;
    assert_int_equal(ssrf_classify((const struct sockaddr *)&ss), SSRF_RESERVED);
    assert_int_equal(ssrf_classify(NULL), SSRF_RESERVED);
    assert_false(ssrf_addr_allowed(NULL, (const struct sockaddr *)&ss));
}

static void every_class_has_a_name(void **state)
{
    (void)state;
    assert_string_equal(ssrf_class_name(SSRF_PUBLIC), "public");
    assert_string_equal(ssrf_class_name(SSRF_LOOPBACK), "loopback");
    assert_string_equal(ssrf_class_name(SSRF_LINK_LOCAL), "link-local");
    for (int c = SSRF_PUBLIC; c <= SSRF_RESERVED; c++)
        assert_non_null(ssrf_class_name((enum ssrf_class)c));
}

static void parses_cidrs_and_bare_addresses(void **state)
{
    (void)state;
    struct ssrf_cidr c;
    assert_int_equal(ssrf_cidr_parse("127.0.0.0/8", &c), HERALD_OK);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.prefix_len, 8);
    assert_int_equal(c.addr[0], 127);
    assert_int_equal(ssrf_cidr_parse("::1/128", &c), HERALD_OK);
    assert_int_equal(c.family, AF_INET6);
    assert_int_equal(c.prefix_len, 128);
    assert_int_equal(c.addr[15], 1);
    assert_int_equal(ssrf_cidr_parse("10.1.2.3", &c), HERALD_OK);
    assert_int_equal(c.prefix_len, 32);
    assert_int_equal(ssrf_cidr_parse("fd00::", &c), HERALD_OK);
    assert_int_equal(c.prefix_len, 128);
    assert_int_equal(ssrf_cidr_parse("0.0.0.0/0", &c), HERALD_OK);
    assert_int_equal(c.prefix_len, 0);
    assert_int_equal(ssrf_cidr_parse("::/0", &c), HERALD_OK);
}

static void tolerates_and_clears_host_bits(void **state)
{
    (void)state;
    struct ssrf_cidr c;
    assert_int_equal(ssrf_cidr_parse("10.1.2.3/8", &c), HERALD_OK);
    assert_int_equal(c.addr[0], 10);
    assert_int_equal(c.addr[1], 0);
    assert_int_equal(c.addr[3], 0);
    assert_int_equal(ssrf_cidr_parse("192.168.255.255/20", &c), HERALD_OK);
    assert_int_equal(c.addr[2], 0xf0);
    assert_int_equal(c.addr[3], 0);
    assert_int_equal(ssrf_cidr_parse("fe80::1234/10", &c), HERALD_OK);
    assert_int_equal(c.addr[0], 0xfe);
    assert_int_equal(c.addr[1], 0x80);
    assert_int_equal(c.addr[15], 0);
}

static void refuses_malformed_cidrs(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "/8",
        "10.0.0/8",
        "10.0.0.0/",
        "10.0.0.0/33",
        "10.0.0.0/99",
        "::1/129",
        "10.0.0.0/-1",
        "10.0.0.0/+8",
        "10.0.0.0/8x",
        "10.0.0.0/8/8",
        " 10.0.0.0/8",
        "10.0.0.0/8 ",
        "10.0.0.0/0008",
        "localhost",
        "256.0.0.0/8",
        "::1::2/64",
        "10.0.0.0 /8",
        "fe80::1%eth0/64",
        "127.1/8",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ssrf_cidr c;
        if (ssrf_cidr_parse(bad[i], &c) != HERALD_ERR_INVALID)
            fail_msg("accepted '%s'", bad[i]);
    }
    struct ssrf_cidr c;
    assert_int_equal(ssrf_cidr_parse(NULL, &c), HERALD_ERR_INVALID);
}

static void public_addresses_pass_without_ranges(void **state)
{
    (void)state;
    struct ssrf_allowlist l = {0};
    assert_true(allowed(&l, "8.8.8.8"));
    assert_true(allowed(&l, "2606:4700:4700::1111"));
    assert_true(allowed(NULL, "::ffff:8.8.8.8"));
    assert_false(allowed(&l, "127.0.0.1"));
    assert_false(allowed(&l, "::1"));
    assert_false(allowed(NULL, "10.0.0.1"));
    assert_false(allowed(&l, "100.64.0.1"));
    assert_false(allowed(&l, "0.0.0.0"));
    assert_false(allowed(&l, "::"));
    assert_false(allowed(&l, "ff02::1"));
}

static void allowed_ranges_admit_only_their_addresses(void **state)
{
    (void)state;
    struct ssrf_allowlist l = {0};
    assert_int_equal(ssrf_allowlist_add(&l, "127.0.0.0/8"), HERALD_OK);
    assert_int_equal(ssrf_allowlist_add(&l, "10.1.0.0/16"), HERALD_OK);
    assert_int_equal(ssrf_allowlist_add(&l, "fd00::/8"), HERALD_OK);
    assert_int_equal(ssrf_allowlist_add(&l, "nonsense"), HERALD_ERR_INVALID);
    assert_int_equal(l.len, 3);
    assert_true(allowed(&l, "127.0.0.1"));
    assert_true(allowed(&l, "127.9.9.9"));
    assert_true(allowed(&l, "10.1.200.3"));
    assert_false(allowed(&l, "10.2.0.1"));
    assert_false(allowed(&l, "192.168.1.1"));
    assert_true(allowed(&l, "fd12::1"));
    assert_false(allowed(&l, "fc00::1"));
    assert_false(allowed(&l, "::1")); /* an IPv4 loopback range does not cover ::1 */
    assert_false(allowed(&l, "169.254.169.254"));
    ssrf_allowlist_fini(&l);
    assert_null(l.items);
    assert_int_equal(l.len, 0);
}

static void ipv4_range_admits_ipv4_mapped_form_only(void **state)
{
    (void)state;
    struct ssrf_allowlist l = {0};
    assert_int_equal(ssrf_allowlist_add(&l, "127.0.0.0/8"), HERALD_OK);
    assert_true(allowed(&l, "::ffff:127.0.0.1"));
    assert_false(allowed(&l, "::127.0.0.1"));        /* compatible form */
    assert_false(allowed(&l, "64:ff9b::127.0.0.1")); /* NAT64 */
    assert_false(allowed(&l, "2002:7f00:1::1"));     /* 6to4 */
    assert_false(allowed(&l, "::ffff:0:127.0.0.1")); /* translated */
    ssrf_allowlist_fini(&l);

    assert_int_equal(ssrf_allowlist_add(&l, "::ffff:10.0.0.0/104"), HERALD_OK);
    assert_true(allowed(&l, "10.20.30.40"));
    assert_true(allowed(&l, "::ffff:10.20.30.40"));
    assert_false(allowed(&l, "192.168.0.1"));
    ssrf_allowlist_fini(&l);
}

static void ipv6_loopback_range_admits_only_ipv6_loopback(void **state)
{
    (void)state;
    struct ssrf_allowlist l = {0};
    assert_int_equal(ssrf_allowlist_add(&l, "::1"), HERALD_OK);
    assert_true(allowed(&l, "::1"));
    assert_false(allowed(&l, "127.0.0.1"));
    assert_false(allowed(&l, "::2"));
    ssrf_allowlist_fini(&l);
}

static void everything_range_admits_everything(void **state)
{
    (void)state;
    struct ssrf_allowlist l = {0};
    assert_int_equal(ssrf_allowlist_add(&l, "0.0.0.0/0"), HERALD_OK);
    assert_true(allowed(&l, "127.0.0.1"));
    assert_true(allowed(&l, "::ffff:192.168.0.1"));
    assert_false(allowed(&l, "fe80::1"));
    assert_int_equal(ssrf_allowlist_add(&l, "::/0"), HERALD_OK);
    assert_true(allowed(&l, "fe80::1"));
    ssrf_allowlist_fini(&l);
}

static void resolve_check_refuses_loopback_literal_without_ranges(void **state)
{
    (void)state;
    struct ssrf_allowlist l = {0};
    struct sockaddr_storage pinned;
    const char *why = NULL;
    assert_int_equal(ssrf_resolve_check(&l, "127.0.0.1", 9000, &pinned, &why), HERALD_ERR_DENIED);
    assert_string_equal(why, "loopback");
    assert_int_equal(ssrf_resolve_check(NULL, "::1", 9000, &pinned, &why), HERALD_ERR_DENIED);
    assert_string_equal(why, "loopback");
    assert_int_equal(ssrf_resolve_check(&l, "::ffff:127.0.0.1", 80, &pinned, &why),
                     HERALD_ERR_DENIED);
    assert_int_equal(ssrf_resolve_check(&l, "0.0.0.0", 80, &pinned, &why), HERALD_ERR_DENIED);
    assert_string_equal(why, "unspecified");
    assert_int_equal(ssrf_resolve_check(&l, "169.254.169.254", 80, NULL, &why), HERALD_ERR_DENIED);
    assert_string_equal(why, "link-local");
    assert_int_equal(ssrf_resolve_check(&l, "100.100.100.200", 80, NULL, NULL), HERALD_ERR_DENIED);
}

static void resolve_check_refuses_localhost_without_ranges(void **state)
{
    (void)state;
    struct sockaddr_storage pinned;
    const char *why = NULL;
    assert_int_equal(ssrf_resolve_check(NULL, "localhost", 9000, &pinned, &why), HERALD_ERR_DENIED);
    assert_string_equal(why, "loopback");
}

static void resolve_check_pins_allowed_loopback_literal(void **state)
{
    (void)state;
    struct ssrf_allowlist l = {0};
    assert_int_equal(ssrf_allowlist_add(&l, "127.0.0.0/8"), HERALD_OK);
    struct sockaddr_storage pinned;
    const char *why = "untouched";
    assert_int_equal(ssrf_resolve_check(&l, "127.0.0.1", 9000, &pinned, &why), HERALD_OK);
    assert_null(why);
    assert_int_equal(pinned.ss_family, AF_INET);
    const struct sockaddr_in *in = (const struct sockaddr_in *)&pinned;
    assert_int_equal(ntohs(in->sin_port), 9000);
    assert_int_equal(ntohl(in->sin_addr.s_addr), 0x7f000001);
    assert_int_equal(ssrf_resolve_check(&l, "::ffff:127.0.0.2", 80, &pinned, &why), HERALD_OK);
    assert_int_equal(pinned.ss_family, AF_INET6);
    ssrf_allowlist_fini(&l);
}

static void resolve_check_allows_localhost_inside_loopback_ranges(void **state)
{
    (void)state;
    /* "localhost" may resolve to ::1 as well as 127.0.0.1 (depends on /etc/hosts); every
     * address must be allowed, so both loopback ranges are given. */
    struct ssrf_allowlist l = {0};
    assert_int_equal(ssrf_allowlist_add(&l, "127.0.0.0/8"), HERALD_OK);
    assert_int_equal(ssrf_allowlist_add(&l, "::1/128"), HERALD_OK);
    struct sockaddr_storage pinned[4];
    size_t n = 0;
    const char *why = NULL;
    assert_int_equal(ssrf_resolve_check_all(&l, "localhost", 8080, pinned, 4, &n, &why), HERALD_OK);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ssrf_classify((const struct sockaddr *)&pinned[i]), SSRF_LOOPBACK);
        int port = pinned[i].ss_family == AF_INET
                       ? ntohs(((const struct sockaddr_in *)&pinned[i])->sin_port)
                       : ntohs(((const struct sockaddr_in6 *)&pinned[i])->sin6_port);
        assert_int_equal(port, 8080);
    }
    struct sockaddr_storage one;
    assert_int_equal(ssrf_resolve_check(&l, "localhost", 8080, &one, &why), HERALD_OK);
    assert_int_equal(one.ss_family, pinned[0].ss_family);
    ssrf_allowlist_fini(&l);
}

static void resolve_check_allows_localhost_with_ipv4_range_when_it_is_ipv4_only(void **state)
{
    (void)state;
    struct sockaddr_storage all[8];
    size_t n = 0;
    struct ssrf_allowlist everything = {0};
    assert_int_equal(ssrf_allowlist_add(&everything, "::/0"), HERALD_OK);
    assert_int_equal(ssrf_allowlist_add(&everything, "0.0.0.0/0"), HERALD_OK);
    assert_int_equal(ssrf_resolve_check_all(&everything, "localhost", 80, all, 8, &n, NULL),
                     HERALD_OK);
    bool has_v6 = false;
    for (size_t i = 0; i < n; i++)
        has_v6 |= all[i].ss_family == AF_INET6;
    ssrf_allowlist_fini(&everything);

    struct ssrf_allowlist l = {0};
    assert_int_equal(ssrf_allowlist_add(&l, "127.0.0.0/8"), HERALD_OK);
    const char *why = NULL;
    enum herald_err err = ssrf_resolve_check(&l, "localhost", 80, NULL, &why);
    if (has_v6) {
        assert_int_equal(err, HERALD_ERR_DENIED); /* ::1 is not inside 127.0.0.0/8 */
    } else {
        assert_int_equal(err, HERALD_OK);
    }
    ssrf_allowlist_fini(&l);
}

/* RFC 6761: "localhost." and the names under .localhost are loopback. They are refused, or
 * allowed, exactly as "localhost" is, without asking a name server (there is none here: before,
 * they did not resolve, so a subscription with one was accepted). */
static void localhost_names_are_checked_as_localhost(void **state)
{
    (void)state;
    static const char *const names[] = {"localhost.", "api.localhost", "a.b.localhost.",
                                        "API.LocalHost", "x-y.localhost"};
    static const char *const others[] = {"localhostx", "xlocalhost", "localhost.com",
                                         "notlocalhost.", NULL};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!ssrf_is_localhost_name(names[i]))
            fail_msg("%s is a localhost name", names[i]);
    }
    assert_true(ssrf_is_localhost_name("localhost"));
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        if (ssrf_is_localhost_name(others[i]))
            fail_msg("%s is not a localhost name", others[i] ? others[i] : "NULL");
    }

    struct ssrf_allowlist v4 = {0}, both = {0}, v6 = {0};
    assert_int_equal(ssrf_allowlist_add(&v4, "127.0.0.0/8"), HERALD_OK);
    assert_int_equal(ssrf_allowlist_add(&both, "127.0.0.0/8"), HERALD_OK);
    assert_int_equal(ssrf_allowlist_add(&both, "::1/128"), HERALD_OK);
    assert_int_equal(ssrf_allowlist_add(&v6, "::1/128"), HERALD_OK);
    const struct ssrf_allowlist *lists[] = {NULL, &v4, &both, &v6};
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        const char *want_why = NULL;
        enum herald_err want = ssrf_resolve_check(lists[k], "localhost", 8080, NULL, &want_why);
        struct sockaddr_storage want_addrs[8];
        size_t want_n = 0;
        ssrf_resolve_check_all(lists[k], "localhost", 8080, want_addrs, 8, &want_n, NULL);
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            const char *why = NULL;
            struct sockaddr_storage addrs[8];
            size_t n = 0;
            enum herald_err err =
                ssrf_resolve_check_all(lists[k], names[i], 8080, addrs, 8, &n, &why);
            if (err != want || n != want_n || (want_why && (!why || strcmp(why, want_why) != 0)))
                fail_msg("list %zu: %s gave %d (%s, %zu addresses), localhost %d (%s, %zu)", k,
                         names[i], err, why ? why : "-", n, want, want_why ? want_why : "-",
                         want_n);
            for (size_t a = 0; a < n; a++) {
                assert_int_equal(ssrf_classify((const struct sockaddr *)&addrs[a]), SSRF_LOOPBACK);
                assert_int_equal(addrs[a].ss_family, want_addrs[a].ss_family);
            }
        }
    }
    /* Without a range every loopback address is refused. */
    const char *why = NULL;
    assert_int_equal(ssrf_resolve_check(NULL, "api.localhost", 80, NULL, &why), HERALD_ERR_DENIED);
    assert_string_equal(why, "loopback");
    assert_int_equal(ssrf_resolve_check(NULL, "localhost.", 80, NULL, &why), HERALD_ERR_DENIED);
    assert_string_equal(why, "loopback");
    /* Inside both loopback ranges they are allowed and pinned to loopback. */
    struct sockaddr_storage pinned;
    assert_int_equal(ssrf_resolve_check(&both, "hook.localhost.", 9000, &pinned, &why), HERALD_OK);
    assert_int_equal(ssrf_classify((const struct sockaddr *)&pinned), SSRF_LOOPBACK);
    ssrf_allowlist_fini(&v4);
    ssrf_allowlist_fini(&both);
    ssrf_allowlist_fini(&v6);
}

static void resolve_check_refuses_bad_arguments(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(ssrf_resolve_check(NULL, "", 80, NULL, &why), HERALD_ERR_INVALID);
    assert_int_equal(ssrf_resolve_check(NULL, NULL, 80, NULL, &why), HERALD_ERR_INVALID);
    assert_int_equal(ssrf_resolve_check(NULL, "8.8.8.8", 0, NULL, &why), HERALD_ERR_INVALID);
    assert_int_equal(ssrf_resolve_check(NULL, "8.8.8.8", 65536, NULL, &why), HERALD_ERR_INVALID);
}

static void resolve_check_accepts_public_literals_without_dns(void **state)
{
    (void)state;
    struct sockaddr_storage pinned;
    assert_int_equal(ssrf_resolve_check(NULL, "8.8.8.8", 443, &pinned, NULL), HERALD_OK);
    assert_int_equal(pinned.ss_family, AF_INET);
    assert_int_equal(ssrf_resolve_check(NULL, "2606:4700:4700::1111", 443, &pinned, NULL),
                     HERALD_OK);
    assert_int_equal(pinned.ss_family, AF_INET6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classifies_ipv4_ranges),
        cmocka_unit_test(classifies_ipv6_ranges),
        cmocka_unit_test(classifies_embedded_ipv4_by_its_ipv4_address),
        cmocka_unit_test(unknown_family_is_reserved),
        cmocka_unit_test(every_class_has_a_name),
        cmocka_unit_test(parses_cidrs_and_bare_addresses),
        cmocka_unit_test(tolerates_and_clears_host_bits),
        cmocka_unit_test(refuses_malformed_cidrs),
        cmocka_unit_test(public_addresses_pass_without_ranges),
        cmocka_unit_test(allowed_ranges_admit_only_their_addresses),
        cmocka_unit_test(ipv4_range_admits_ipv4_mapped_form_only),
        cmocka_unit_test(ipv6_loopback_range_admits_only_ipv6_loopback),
        cmocka_unit_test(everything_range_admits_everything),
        cmocka_unit_test(resolve_check_refuses_loopback_literal_without_ranges),
        cmocka_unit_test(resolve_check_refuses_localhost_without_ranges),
        cmocka_unit_test(resolve_check_pins_allowed_loopback_literal),
        cmocka_unit_test(resolve_check_allows_localhost_inside_loopback_ranges),
        cmocka_unit_test(resolve_check_allows_localhost_with_ipv4_range_when_it_is_ipv4_only),
        cmocka_unit_test(localhost_names_are_checked_as_localhost),
        cmocka_unit_test(resolve_check_refuses_bad_arguments),
        cmocka_unit_test(resolve_check_accepts_public_literals_without_dns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
