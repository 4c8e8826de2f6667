/* The response reader: a small state machine over lines (status, headers, chunk sizes,
 * trailers) and counted bytes (bodies and chunks). RFC 9112 framing: Transfer-Encoding chunked
 * wins over Content-Length; 1xx interim responses are skipped; 204 and 304 have no body; a
 * response with neither length nor chunking ends when the peer closes. */
#include "deliver/h1.h"

#include <string.h>
#include <strings.h>

#include "core/fieldlist.h"

static bool is_interim(const struct h1_response *r)
{
    return r->status >= 100 && r->status < 200;
}

static void fail(struct h1_response *r, const char *why)
{
    r->state = H1_ERROR;
    r->error = why;
}

static void done(struct h1_response *r)
{
    r->state = H1_DONE;
    r->is_keep_alive = !r->is_close && !r->is_cut;
}

/* The value of a header line kept in r->line when its name is `name`; NULL otherwise. */
static const char *header_value(const char *line, const char *name)
{
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    const char *v = line + n + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    return v;
}

static void status_line(struct h1_response *r, const char *s)
{
    if (strncmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
        s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' ||
        (s[12] != ' ' && s[12] != '\0')) {
        fail(r, "invalid HTTP status line in the response");
        return;
    }
    r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (r->status == 101) {
        fail(r, "unexpected 101 Switching Protocols");
        return;
    }
    r->is_http10 = s[7] == '0';
    r->is_close = r->is_http10; /* HTTP/1.0 closes unless it says keep-alive */
    r->is_chunked = r->has_length = false;
    r->retry_after[0] = '\0';
    r->state = H1_HEADERS;
}

static void end_of_head(struct h1_response *r)
{
    if (is_interim(r)) {
        r->state = H1_STATUS; /* 100 Continue and the like: the real answer follows */
        return;
    }
    r->has_headers = true;
    if (r->status == 204 || r->status == 304) {
        done(r);
    } else if (r->is_chunked) {
        r->state = H1_CHUNK_SIZE;
    } else if (r->has_length) {
        if (r->remaining == 0)
            done(r);
        else
            r->state = H1_BODY_LENGTH;
    } else {
        r->is_close = true;
        r->state = H1_BODY_CLOSE;
    }
}

static void header_line(struct h1_response *r, const char *s)
{
    if (!*s) {
        end_of_head(r);
        return;
    }
    if (is_interim(r))
        return;
    const char *v;
    if ((v = header_value(s, "content-length"))) {
        int64_t len = 0;
        size_t digits = 0;
        for (; *v >= '0' && *v <= '9'; v++, digits++) {
            if (digits < 15) /* more is refused below; no overflow meanwhile */
                len = len * 10 + (*v - '0');
        }
        while (*v == ' ' || *v == '\t')
            v++;
        if (!digits || digits > 15 || *v || (r->has_length && len != r->remaining)) {
            fail(r, "invalid Content-Length in the response");
            return;
        }
        r->has_length = true;
        r->remaining = len;
    } else if ((v = header_value(s, "transfer-encoding"))) {
        if (field_list_has(v, "chunked", true))
            r->is_chunked = true;
        else
            r->is_close = true; /* another coding last: the body ends when the peer closes */
    } else if ((v = header_value(s, "connection"))) {
        if (field_list_has(v, "close", false))
            r->is_close = true;
        else if (field_list_has(v, "keep-alive", false))
            r->is_close = false;
    } else if ((v = header_value(s, "retry-after"))) {
        size_t n = strlen(v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        if (n >= sizeof r->retry_after)
            n = sizeof r->retry_after - 1;
        memcpy(r->retry_after, v, n);
        r->retry_after[n] = '\0';
    }
}

static void chunk_size_line(struct h1_response *r, const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    int64_t size = 0;
    size_t digits = 0;
    for (;; s++, digits++) {
        int d = *s >= '0' && *s <= '9'   ? *s - '0'
                : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
                : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10
                                         : -1;
        if (d < 0)
            break;
        if (digits < 12) /* more is refused below; no overflow meanwhile */
            size = size * 16 + d;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (!digits || digits > 12 || (*s && *s != ';')) {
        fail(r, "invalid chunk size in the response");
        return;
    }
    r->remaining = size;
    r->state = size ? H1_CHUNK_DATA : H1_TRAILERS;
}

static void line_done(struct h1_response *r)
{
    size_t kept = r->line_len < H1_LINE_KEEP ? r->line_len : H1_LINE_KEEP - 1;
    if (kept && r->line[kept - 1] == '\r' && r->line_len == kept)
        kept--;
    r->line[kept] = '\0';
    r->line_len = 0;
    switch (r->state) {
    case H1_STATUS:
        status_line(r, r->line);
        break;
    case H1_HEADERS:
        header_line(r, r->line);
        break;
    case H1_CHUNK_SIZE:
        chunk_size_line(r, r->line);
        break;
    case H1_CHUNK_END:
        if (r->line[0])
            fail(r, "invalid chunk end in the response");
        else
            r->state = H1_CHUNK_SIZE;
        break;
    case H1_TRAILERS:
        if (!r->line[0])
            done(r);
        break;
    default:
        break;
    }
}

void h1_response_init(struct h1_response *r, struct buf *body, size_t keep, size_t max)
{
    memset(r, 0, sizeof *r);
    r->state = H1_STATUS;
    r->body = body;
    r->body_keep = keep;
    r->body_max = max;
}

/* Body bytes (de-chunked): counts them, keeps the prefix, and ends the response past body_max.
 * Returns how many of n were taken. */
static size_t body_bytes(struct h1_response *r, const char *p, size_t n)
{
    bool is_cut = r->body_read + n > r->body_max;
    if (is_cut)
        n = r->body_max - r->body_read;
    if (r->body && r->body->len < r->body_keep) {
        size_t room = r->body_keep - r->body->len;
        buf_append(r->body, p, n < room ? n : room);
    }
    r->body_read += n;
    if (is_cut) {
        r->is_cut = true;
        done(r);
    }
    return n;
}

size_t h1_response_feed(struct h1_response *r, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && r->state != H1_DONE && r->state != H1_ERROR) {
        switch (r->state) {
        case H1_BODY_LENGTH:
        case H1_CHUNK_DATA:
        case H1_BODY_CLOSE: {
            size_t take = n - i;
            if (r->state != H1_BODY_CLOSE && (int64_t)take > r->remaining)
                take = (size_t)r->remaining;
            enum h1_state was = r->state;
            size_t used = body_bytes(r, p + i, take);
            i += used;
            if (r->state == H1_DONE)
                break;
            if (was != H1_BODY_CLOSE) {
                r->remaining -= (int64_t)used;
                if (r->remaining == 0) {
                    if (was == H1_BODY_LENGTH)
                        done(r);
                    else
                        r->state = H1_CHUNK_END;
                }
            }
            break;
        }
        case H1_STATUS:
        case H1_HEADERS: {
            /* The head a run at a time, up to its line's end: it is most of a short response,
             * and a byte at a time it cost some 20 instructions a byte. */
            const char *at = p + i;
            const char *nl = memchr(at, '\n', n - i);
            size_t run = nl ? (size_t)(nl - at) + 1 : n - i;
            bool is_too_large = run > H1_HEAD_MAX - r->head_len;
            if (is_too_large)
                run = H1_HEAD_MAX - r->head_len; /* what fits, then the failure */
            size_t text = nl && !is_too_large ? run - 1 : run;
            size_t keep = r->line_len < H1_LINE_KEEP - 1 ? H1_LINE_KEEP - 1 - r->line_len : 0;
            if (keep && text)
                memcpy(r->line + r->line_len, at, text < keep ? text : keep);
            r->line_len += text;
            r->head_len += run;
            i += run;
            if (is_too_large)
                fail(r, "response head too large");
            else if (nl)
                line_done(r);
            break;
        }
        default: {
            if (r->body_read == r->body_max) {
                /* Chunk-size lines, chunk ends and trailers count as body: an endless chunk
                 * extension or trailer is cut like an endless body (the status stands). */
                r->is_cut = true;
                done(r);
                break;
            } else {
                r->body_read++;
            }
            char c = p[i++];
            if (c == '\n') {
                line_done(r);
            } else {
                if (r->line_len < H1_LINE_KEEP - 1)
                    r->line[r->line_len] = c;
                r->line_len++;
            }
            break;
        }
        }
    }
    return i;
}

void h1_response_eof(struct h1_response *r)
{
    if (r->state == H1_BODY_CLOSE) {
        done(r);
        r->is_keep_alive = false;
    } else if (r->state != H1_DONE && r->state != H1_ERROR) {
        fail(r, r->state == H1_STATUS && r->head_len == 0
                    ? "empty reply from server"
                    : "connection closed before the response ended");
    }
}
