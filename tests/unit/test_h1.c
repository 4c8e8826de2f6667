/* The own client's response reader: framing (length, chunked, close), 1xx, keep-alive, the
 * kept body prefix and the read limit, fed whole, byte by byte and in random splits. */
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
#include "deliver/h1.h"

struct got {
    struct h1_response r;
    struct buf body;
    size_t used;
};

/* Feeds `text` in pieces of `step` bytes (0: at once); eof when is_eof. */
static void feed(struct got *g, const char *text, size_t step, bool is_eof, size_t keep, size_t max)
{
    buf_init(&g->body);
    h1_response_init(&g->r, &g->body, keep, max);
    size_t n = strlen(text);
    g->used = 0;
    while (g->used < n && g->r.state != H1_DONE && g->r.state != H1_ERROR) {
        size_t take = step && n - g->used > step ? step : n - g->used;
        size_t used = h1_response_feed(&g->r, text + g->used, take);
        g->used += used;
        if (used < take)
            break;
    }
    if (is_eof)
        h1_response_eof(&g->r);
}

/* The same response gives the same result however it is split. */
static void each_split(const char *text, bool is_eof, void (*check)(struct got *g))
{
    size_t steps[] = {0, 1, 2, 3, 7, 64};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct got g;
        feed(&g, text, steps[i], is_eof, 256, 64 * 1024);
        check(&g);
        buf_fini(&g.body);
    }
}

static void check_length(struct got *g)
{
    assert_int_equal(g->r.state, H1_DONE);
    assert_int_equal(g->r.status, 200);
    assert_true(g->r.has_headers);
    assert_true(g->r.is_keep_alive);
    assert_string_equal(g->body.data, "hello");
    assert_int_equal(g->used, strlen("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
}

static void content_length_body_and_keep_alive(void **state)
{
    (void)state;
    /* Bytes past the response are not ours: they are left unread. */
    each_split("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 500", false,
               check_length);
}

static void check_chunked(struct got *g)
{
    assert_int_equal(g->r.state, H1_DONE);
    assert_int_equal(g->r.status, 201);
    assert_true(g->r.is_keep_alive);
    assert_string_equal(g->body.data, "Wikipedia in\r\n\r\nchunks.");
}

static void chunked_body_with_extensions_and_trailers(void **state)
{
    (void)state;
    each_split("HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n"
               "\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n"
               "Expires: never\r\n\r\n",
               false, check_chunked);
}

static void check_close(struct got *g)
{
    assert_int_equal(g->r.state, H1_DONE);
    assert_int_equal(g->r.status, 200);
    assert_false(g->r.is_keep_alive);
    assert_string_equal(g->body.data, "until the end");
}

static void body_without_length_ends_at_close(void **state)
{
    (void)state;
    each_split("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", true,
               check_close);
    each_split("HTTP/1.0 200 OK\r\n\r\nuntil the end", true, check_close);
}

static void check_continue(struct got *g)
{
    assert_int_equal(g->r.state, H1_DONE);
    assert_int_equal(g->r.status, 204);
    assert_true(g->r.is_keep_alive);
    assert_int_equal(g->body.len, 0);
    assert_string_equal(g->r.retry_after, "");
}

static void interim_responses_are_skipped_and_204_has_no_body(void **state)
{
    (void)state;
    each_split("HTTP/1.1 100 Continue\r\nRetry-After: 9\r\n\r\n"
               "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
               false, check_continue);
}

static void check_retry(struct got *g)
{
    assert_int_equal(g->r.state, H1_DONE);
    assert_int_equal(g->r.status, 503);
    assert_false(g->r.is_keep_alive);
    assert_string_equal(g->r.retry_after, "120");
    assert_string_equal(g->body.data, "busy");
}

static void connection_close_and_retry_after_are_read(void **state)
{
    (void)state;
    each_split("HTTP/1.1 503 Busy\r\nretry-after:   120  \r\nCONNECTION: Close\r\n"
               "Content-Length: 4\r\n\r\nbusy",
               false, check_retry);
}

static void http10_keep_alive_is_honoured(void **state)
{
    (void)state;
    struct got g;
    feed(&g, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 0, false,
         256, 1024);
    assert_int_equal(g.r.state, H1_DONE);
    assert_true(g.r.is_keep_alive);
    assert_true(g.r.is_http10); /* kept alive, but not pipelined to */
    buf_fini(&g.body);
}

static void body_is_kept_to_a_prefix_and_read_to_a_limit(void **state)
{
    (void)state;
    struct got g;
    feed(&g, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789abcdefghij", 0, false, 4,
         10);
    assert_int_equal(g.r.state, H1_DONE);
    assert_true(g.r.is_cut);
    assert_false(g.r.is_keep_alive); /* the rest was not read */
    assert_int_equal(g.r.status, 200);
    assert_string_equal(g.body.data, "0123");
    buf_fini(&g.body);
}

static void long_header_lines_are_skipped_not_refused(void **state)
{
    (void)state;
    char text[8192];
    char pad[6000];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\nSet-Cookie: %s\r\nContent-Length: 2\r\n\r\nok",
             pad);
    struct got g;
    feed(&g, text, 0, false, 256, 1024);
    assert_int_equal(g.r.state, H1_DONE);
    assert_string_equal(g.body.data, "ok");
    buf_fini(&g.body);
}

static void expect_error(const char *text, bool is_eof, const char *why)
{
    struct got g;
    feed(&g, text, 1, is_eof, 256, 1024);
    assert_int_equal(g.r.state, H1_ERROR);
    assert_string_equal(g.r.error, why);
    buf_fini(&g.body);
}

static void malformed_and_cut_short_responses_are_errors(void **state)
{
    (void)state;
    expect_error("", true, "empty reply from server");
    expect_error("SSH-2.0-OpenSSH\r\n", false, "invalid HTTP status line in the response");
    expect_error("HTTP/1.1 20 OK\r\n", false, "invalid HTTP status line in the response");
    expect_error("HTTP/2 200\r\n", false, "invalid HTTP status line in the response");
    expect_error("HTTP/1.1 101 Switching Protocols\r\n\r\n", false,
                 "unexpected 101 Switching Protocols");
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", false,
                 "invalid Content-Length in the response");
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", false,
                 "invalid Content-Length in the response");
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false,
                 "invalid chunk size in the response");
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", false,
                 "invalid chunk end in the response");
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", true,
                 "connection closed before the response ended");
    /* A truncated answer still has its status: the dispatcher keeps it. */
    struct got g;
    feed(&g, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 0, true, 256, 1024);
    assert_true(g.r.has_headers);
    assert_int_equal(g.r.status, 200);
    buf_fini(&g.body);
}

/* Chunk framing counts against the read limit: an endless chunk extension or run of trailers
 * ends the response like an endless body (cut, its status kept), where it was read forever. */
static void endless_chunk_framing_is_cut_at_the_limit(void **state)
{
    (void)state;
    const char *heads[] = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;",
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n"};
    const char *fillers[] = {"eeeeeeee", "X-T: a\r\n"};
    for (size_t i = 0; i < 2; i++) {
        struct got g;
        buf_init(&g.body);
        h1_response_init(&g.r, &g.body, 256, 1024);
        h1_response_feed(&g.r, heads[i], strlen(heads[i]));
        for (int n = 0; n < 1000 && g.r.state != H1_DONE && g.r.state != H1_ERROR; n++)
            h1_response_feed(&g.r, fillers[i], strlen(fillers[i]));
        assert_int_equal(g.r.state, H1_DONE);
        assert_true(g.r.is_cut);
        assert_false(g.r.is_keep_alive);
        assert_int_equal(g.r.status, 200);
        assert_true(g.r.body_read <= 1024);
        buf_fini(&g.body);
    }
}

static void an_endless_head_is_an_error(void **state)
{
    (void)state;
    struct got g;
    buf_init(&g.body);
    h1_response_init(&g.r, &g.body, 256, 1024);
    h1_response_feed(&g.r, "HTTP/1.1 200 OK\r\n", 17);
    char line[1024];
    memset(line, 'h', sizeof line - 2);
    line[sizeof line - 2] = '\r';
    line[sizeof line - 1] = '\n';
    for (int i = 0; i < 100 && g.r.state == H1_HEADERS; i++)
        h1_response_feed(&g.r, line, sizeof line);
    assert_int_equal(g.r.state, H1_ERROR);
    assert_string_equal(g.r.error, "response head too large");
    buf_fini(&g.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_length_body_and_keep_alive),
        cmocka_unit_test(chunked_body_with_extensions_and_trailers),
        cmocka_unit_test(body_without_length_ends_at_close),
        cmocka_unit_test(interim_responses_are_skipped_and_204_has_no_body),
        cmocka_unit_test(connection_close_and_retry_after_are_read),
        cmocka_unit_test(http10_keep_alive_is_honoured),
        cmocka_unit_test(body_is_kept_to_a_prefix_and_read_to_a_limit),
        cmocka_unit_test(long_header_lines_are_skipped_not_refused),
        cmocka_unit_test(malformed_and_cut_short_responses_are_errors),
        cmocka_unit_test(an_endless_head_is_an_error),
        cmocka_unit_test(endless_chunk_framing_is_cut_at_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
