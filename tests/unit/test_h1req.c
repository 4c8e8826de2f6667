/* The server's request reader: where a head ends (fed at any split), what the parser accepts
 * and refuses with which status, and the chunked body decoder fed whole and byte by byte. */
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

#include "core/buf.h"
#include "http/h1req.h"

/* Feeds `text` to h1req_head_end `step` bytes more at a time; returns the head length found. */
static size_t head_end_in_steps(const char *text, size_t step)
{
    size_t n = strlen(text), scanned = 0;
    for (size_t have = step;; have += step) {
        if (have > n)
            have = n;
        size_t end = h1req_head_end(text, have, &scanned);
        if (end || have == n)
            return end;
    }
}

static void head_end_is_found_at_any_split(void **state)
{
    (void)state;
    const char *req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nNEXT";
    size_t want = strlen(req) - 4;
    for (size_t step = 1; step <= strlen(req); step++)
        assert_int_equal(head_end_in_steps(req, step), want);
    /* Bare LF line ends, and empty lines before the request line. */
    assert_int_equal(head_end_in_steps("GET / HTTP/1.1\nHost: x\n\nX", 1), 24);
    assert_int_equal(head_end_in_steps("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 1), 31);
    assert_int_equal(head_end_in_steps("GET / HTTP/1.1\r\nHost: x\r\n", 1), 0);
    assert_int_equal(head_end_in_steps("\r\n\r\n", 1), 0);
}

/* What cannot start a request line is known before its line end: a byte no method has, an
 * empty or too long method. A partial line that could still be a request is not judged. */
static void a_start_that_no_request_has_is_seen_before_the_line_ends(void **state)
{
    (void)state;
    static const char tls_hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00};
    assert_true(h1req_head_is_bad_start(tls_hello, sizeof tls_hello));
    assert_true(h1req_head_is_bad_start("GE\tT", 4));
    assert_true(h1req_head_is_bad_start(" /", 2));
    assert_true(h1req_head_is_bad_start("\r\n /", 4));
    assert_true(h1req_head_is_bad_start("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", 33));
    assert_false(h1req_head_is_bad_start("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF /", 34));
    assert_false(h1req_head_is_bad_start("", 0));
    assert_false(h1req_head_is_bad_start("\r\n", 2));
    assert_false(h1req_head_is_bad_start("PO", 2));
    assert_false(h1req_head_is_bad_start("POST /crm/v8/Le", 15));
    assert_false(h1req_head_is_bad_start("POST /a b\x01c", 12)); /* past the method: the parser's */

    assert_true(h1req_head_lacks_line("GET /aaaa", 9));
    assert_true(h1req_head_lacks_line("\r\n\r\nGET /aaaa", 13));
    assert_false(h1req_head_lacks_line("GET /a HTTP/1.1\r\nX-Long: aaaa", 29));
}

static int parse(struct h1req_head *h, const char *text, char *copy, size_t cap, const char **why)
{
    size_t n = strlen(text);
    assert_true(n < cap);
    memcpy(copy, text, n + 1);
    *why = NULL;
    return h1req_parse(h, copy, n, why);
}

static void a_request_is_parsed_in_place(void **state)
{
    (void)state;
    static struct h1req_head h;
    char copy[512];
    const char *why;
    assert_int_equal(parse(&h,
                           "POST /crm/v8/Leads?x=1 HTTP/1.1\r\nHost: h\r\n"
                           "content-length:  12 \r\nAuthorization: Zoho-oauthtoken abc \t\r\n"
                           "X-Empty:\r\n\r\n",
                           copy, sizeof copy, &why),
                     0);
    assert_string_equal(h.method, "POST");
    assert_string_equal(h.target, "/crm/v8/Leads?x=1");
    assert_int_equal(h.minor, 1);
    assert_int_equal(h.content_length, 12);
    assert_false(h.is_chunked);
    assert_false(h.is_close);
    assert_string_equal(h1req_field(&h, "AUTHORIZATION"), "Zoho-oauthtoken abc");
    assert_string_equal(h1req_field(&h, "x-empty"), "");
    assert_null(h1req_field(&h, "Cookie"));

    /* Host is a name, an IP literal or an address, with or without a port, or empty. */
    static const char *const hosts[] = {
        "127.0.0.1:8080", "[::1]:80", "crm_1.example.com", "h:", "xn--caf-dma.example", ""};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", hosts[i]);
        if (parse(&h, text, copy, sizeof copy, &why) != 0)
            fail_msg("Host: %s refused: %s", hosts[i], why);
    }

    assert_int_equal(parse(&h, "GET / HTTP/1.0\r\n\r\n", copy, sizeof copy, &why), 0);
    assert_true(h.is_close); /* 1.0 closes by default */
    assert_int_equal(
        parse(&h, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", copy, sizeof copy, &why), 0);
    assert_false(h.is_close);
    /* "close" in any Connection field wins, whatever a later field says. */
    assert_int_equal(parse(&h,
                           "GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n",
                           copy, sizeof copy, &why),
                     0);
    assert_true(h.is_close);
    assert_int_equal(parse(&h,
                           "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n"
                           "Connection: te, close\r\nExpect: 100-Continue\r\n\r\n",
                           copy, sizeof copy, &why),
                     0);
    assert_true(h.is_chunked);
    assert_true(h.is_close);
    assert_true(h.is_expect_continue);
    assert_int_equal(h.content_length, -1);
    /* Repeated equal lengths are one length. */
    assert_int_equal(parse(&h,
                           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                           "Content-Length: 5\r\n\r\n",
                           copy, sizeof copy, &why),
                     0);
    assert_int_equal(h.content_length, 5);
}

static void bad_requests_are_refused_with_their_status(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int status;
    } cases[] = {
        {"GARBAGE\r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n\r\n", 400}, /* no Host */
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Zoho-oauthtoken x\r\n"
         "authorization: Zoho-oauthtoken y\r\n\r\n",
         400},
        /* A Host that is no host and port (RFC 9112 §3.2: a server must refuse it). */
        {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: user@h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h?x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h#x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h\\x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
        {"GET / HTTPS/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h\rX\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
        {"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12a\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999x\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
         400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", 417},
    };
    static struct h1req_head h;
    char copy[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why;
        int status = parse(&h, cases[i].text, copy, sizeof copy, &why);
        if (status != cases[i].status)
            fail_msg("case %zu: status %d, want %d", i, status, cases[i].status);
        assert_non_null(why);
    }
}

/* A Content-Length of any number of digits is a length: past what int64_t holds it is INT64_MAX,
 * which the server refuses as too large (413), not as malformed (400). Leading zeros count
 * nothing. */
static void content_lengths_of_any_size_are_lengths(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        int64_t length;
    } cases[] = {
        {"0", 0},
        {"0005", 5},
        {"1234567890123456", 1234567890123456},
        {"00000000000000000000000000000000000042", 42},
        {"9223372036854775806", INT64_MAX - 1},
        {"9223372036854775807", INT64_MAX},
        {"9223372036854775808", INT64_MAX},
        {"99999999999999999999", INT64_MAX},
        {"123456789012345678901234567890123456789012345678901234567890", INT64_MAX},
    };
    static struct h1req_head h;
    char text[256], copy[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\n\r\n",
                 cases[i].value);
        const char *why;
        int status = parse(&h, text, copy, sizeof copy, &why);
        if (status != 0 || h.content_length != cases[i].length)
            fail_msg("Content-Length %s: status %d length %lld, want %lld", cases[i].value, status,
                     (long long)h.content_length, (long long)cases[i].length);
    }
    /* Repeated, a huge length is still one length; a huge one beside a small one is two. */
    const char *why;
    assert_int_equal(parse(&h,
                           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n"
                           "Content-Length: 99999999999999999999\r\n\r\n",
                           copy, sizeof copy, &why),
                     0);
    assert_int_equal(h.content_length, INT64_MAX);
    assert_int_equal(parse(&h,
                           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n"
                           "Content-Length: 5\r\n\r\n",
                           copy, sizeof copy, &why),
                     400);
}

static void long_targets_and_many_fields_have_their_own_statuses(void **state)
{
    (void)state;
    static struct h1req_head h;
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "GET /");
    for (int i = 0; i < H1REQ_MAX_TARGET; i++)
        buf_putc(&b, 'a');
    buf_puts(&b, " HTTP/1.1\r\nHost: h\r\n\r\n");
    const char *why = NULL;
    assert_int_equal(h1req_parse(&h, b.data, b.len, &why), 414);
    buf_reset(&b);
    buf_puts(&b, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < H1REQ_MAX_FIELDS; i++)
        buf_printf(&b, "X-%d: v\r\n", i);
    buf_puts(&b, "\r\n");
    assert_int_equal(h1req_parse(&h, b.data, b.len, &why), 431);
    buf_fini(&b);
}

/* Decodes `text` in pieces of `step` (0: whole); returns the bytes used. */
static size_t dechunk(const char *text, size_t step, struct h1req_chunked *c, struct buf *out,
                      size_t max, bool *is_too_big)
{
    *c = (struct h1req_chunked){0};
    buf_init(out);
    *is_too_big = false;
    size_t n = strlen(text), at = 0;
    while (at < n && c->state != H1REQ_CHUNK_DONE && c->state != H1REQ_CHUNK_ERROR) {
        size_t take = step && n - at > step ? step : n - at;
        size_t used = h1req_chunked_feed(c, text + at, take, out, max, is_too_big);
        assert_true(used <= take);
        at += used;
        if (used < take)
            break;
    }
    return at;
}

static void chunked_bodies_decode_at_any_split(void **state)
{
    (void)state;
    const char *body = "5;ext=1\r\nhello\r\n1A\r\n, and a chunk of 26 bytes.\r\n"
                       "0\r\nX-Trailer: t\r\n\r\nGET /next";
    for (size_t step = 0; step < 12; step++) {
        struct h1req_chunked c;
        struct buf out;
        bool is_too_big;
        size_t used = dechunk(body, step, &c, &out, 1024, &is_too_big);
        assert_int_equal(c.state, H1REQ_CHUNK_DONE);
        assert_int_equal(used, strlen(body) - strlen("GET /next"));
        assert_string_equal(out.data, "hello, and a chunk of 26 bytes.");
        assert_false(is_too_big);
        buf_fini(&out);
    }
    /* LF-only line ends are taken too. */
    struct h1req_chunked c;
    struct buf out;
    bool is_too_big;
    dechunk("3\nabc\n0\n\n", 1, &c, &out, 1024, &is_too_big);
    assert_int_equal(c.state, H1REQ_CHUNK_DONE);
    assert_string_equal(out.data, "abc");
    buf_fini(&out);
}

static void bad_or_oversized_chunked_bodies_are_caught(void **state)
{
    (void)state;
    static const char *bad[] = {
        "x\r\n",                /* no size */
        "3\r\nabcX\r\n",        /* no CRLF after the data */
        "1234567890123456\r\n", /* size past 15 hex digits */
        "0\r\nX: a\rb\r\n\r\n", /* a bare CR in a trailer */
        "0\r\n\rX\r\n\r\n",     /* a bare CR that could end the trailers */
        "0\r\nX: \x01\r\n\r\n", /* a control byte in a trailer */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct h1req_chunked c;
        struct buf out;
        bool is_too_big;
        dechunk(bad[i], 0, &c, &out, 1024, &is_too_big);
        assert_int_equal(c.state, H1REQ_CHUNK_ERROR);
        buf_fini(&out);
    }
    struct h1req_chunked c;
    struct buf out;
    bool is_too_big;
    dechunk("8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n", 3, &c, &out, 10, &is_too_big);
    assert_true(is_too_big);
    assert_int_equal(out.len, 0); /* what was kept is dropped */
    buf_fini(&out);

    /* A chunk whose size takes the body past max is too big at its size line, before any of
     * its data; one that fills max exactly is not. */
    static const struct {
        const char *text;
        bool is_too_big;
    } sizes[] = {{"401\r\n", true},
                 {"400\r\n", false},
                 {"fffffffffffffff\r\n", true},
                 {"3\r\nabc\r\n3fe\r\n", true},
                 {"3\r\nabc\r\n3fd\r\n", false}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (size_t step = 0; step < 3; step++) {
            dechunk(sizes[i].text, step, &c, &out, 1024, &is_too_big);
            assert_int_equal(c.state, H1REQ_CHUNK_DATA);
            if (is_too_big != sizes[i].is_too_big)
                fail_msg("%s in steps of %zu: is_too_big %d", sizes[i].text, step, is_too_big);
            buf_fini(&out);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(head_end_is_found_at_any_split),
        cmocka_unit_test(a_start_that_no_request_has_is_seen_before_the_line_ends),
        cmocka_unit_test(a_request_is_parsed_in_place),
        cmocka_unit_test(bad_requests_are_refused_with_their_status),
        cmocka_unit_test(content_lengths_of_any_size_are_lengths),
        cmocka_unit_test(long_targets_and_many_fields_have_their_own_statuses),
        cmocka_unit_test(chunked_bodies_decode_at_any_split),
        cmocka_unit_test(bad_or_oversized_chunked_bodies_are_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
