/* The server's request reader (http/h1req.c) on any bytes a client may send: the first byte
 * picks the size of the pieces fed, the rest is the connection's bytes. The head is found
 * incrementally, parsed on a private copy of exactly its length, and the rest decoded as a
 * chunked body in pieces; every promise of the four functions is checked, and the pieces'
 * results are compared with the whole input's. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz.h"
#include "http/h1req.h"

#define BODY_MAX 64

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* True when the NUL-terminated string s lies within [lo, lo + len). */
static bool string_inside(const char *s, const char *lo, size_t len)
{
    if (!s || s < lo || s >= lo + len)
        return false;
    const char *nul = memchr(s, '\0', len - (size_t)(s - lo));
    return nul != NULL;
}

static void check_head(const struct h1req_head *h, const char *copy, size_t len)
{
    check(string_inside(h->method, copy, len) && *h->method);
    check(string_inside(h->target, copy, len) && *h->target);
    check(strlen(h->target) <= H1REQ_MAX_TARGET);
    check(h->minor == 0 || h->minor == 1);
    check(h->content_length >= -1);
    check(!(h->is_chunked && h->content_length >= 0));
    check(!(h->is_chunked && h->minor == 0));
    check(!(h->is_expect_continue && h->minor == 0));
    check(h->field_count <= H1REQ_MAX_FIELDS);
    for (size_t i = 0; i < h->field_count; i++) {
        const struct h1req_field *f = &h->fields[i];
        check(string_inside(f->name, copy, len) && *f->name);
        check(string_inside(f->value, copy, len));
        check(!strpbrk(f->name, " \t\r\n:"));
        check(!strpbrk(f->value, "\r\n"));
        size_t vlen = strlen(f->value);
        check(vlen == 0 || (f->value[0] != ' ' && f->value[vlen - 1] != ' '));
        check(h1req_field(h, f->name) != NULL); /* the first of that name, maybe this one */
    }
    if (h->minor == 1)
        check(h1req_field(h, "Host") != NULL);
}

/* Feeds p[0..n) in pieces of `step`; returns the bytes used. */
static size_t feed_chunked(struct h1req_chunked *c, const char *p, size_t n, size_t step,
                           struct buf *out, bool *is_too_big)
{
    size_t at = 0;
    while (at < n && c->state != H1REQ_CHUNK_DONE && c->state != H1REQ_CHUNK_ERROR) {
        size_t take = n - at < step ? n - at : step;
        size_t used = h1req_chunked_feed(c, p + at, take, out, BODY_MAX, is_too_big);
        check(used <= take);
        at += used;
        if (used < take)
            check(c->state == H1REQ_CHUNK_DONE || c->state == H1REQ_CHUNK_ERROR);
        check(*is_too_big || out->len <= BODY_MAX);
        check(!*is_too_big || out->len == 0);
    }
    if (c->state == H1REQ_CHUNK_DONE)
        check(c->is_last);
    return at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t step, n;
    const char *p;
    if (!fuzz_pieces(data, size, &step, &p, &n))
        return 0;

    /* The head's end, found as bytes come, must be where a look at all of them finds it. */
    size_t scanned = 0, hlen = 0, have = 0;
    bool was_bad_start = false; /* judged no request before its head was whole */
    while (have < n && !hlen) {
        have = n - have < step ? n : have + step;
        hlen = h1req_head_end(p, have, &scanned);
        check(hlen <= have);
        check(scanned <= have);
        if (!hlen)
            was_bad_start |= h1req_head_is_bad_start(p, have);
    }
    size_t whole_scanned = 0;
    size_t whole = h1req_head_end(p, have, &whole_scanned);
    check(whole == hlen);
    if (hlen) {
        check(hlen >= 2 && p[hlen - 1] == '\n');
        size_t shorter_scanned = 0;
        check(h1req_head_end(p, hlen - 1, &shorter_scanned) == 0);
    }

    size_t body_at = 0;
    if (hlen) {
        char *copy = malloc(hlen); /* exactly the head: ASan sees any read past it */
        memcpy(copy, p, hlen);
        struct h1req_head h;
        const char *why = NULL;
        int status = h1req_parse(&h, copy, hlen, &why);
        if (status == 0) {
            check_head(&h, copy, hlen);
            check(!was_bad_start); /* what the server refuses early, the parser refuses too */
        } else {
            check(status == 400 || status == 414 || status == 417 || status == 431 ||
                  status == 501 || status == 505);
            check(why != NULL && *why);
        }
        free(copy);
        body_at = hlen;
    }

    /* The rest as a chunked body: in pieces, then all at once, with the same outcome. */
    const char *b = p + body_at;
    size_t blen = n - body_at;
    struct buf pieces, all;
    buf_init(&pieces);
    buf_init(&all);
    struct h1req_chunked cp = {0}, ca = {0};
    bool big_p = false, big_a = false;
    size_t used_p = feed_chunked(&cp, b, blen, step, &pieces, &big_p);
    size_t used_a = feed_chunked(&ca, b, blen, blen ? blen : 1, &all, &big_a);
    check(cp.state == ca.state);
    check(big_p == big_a);
    if (cp.state == H1REQ_CHUNK_DONE)
        check(used_p == used_a);
    check(pieces.len == all.len && (!pieces.len || memcmp(pieces.data, all.data, all.len) == 0));
    buf_fini(&pieces);
    buf_fini(&all);
    return 0;
}
