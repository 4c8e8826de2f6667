/* An HTTP/1.1 response, read incrementally: what the dispatcher's own client needs of a
 * subscriber's answer (status, Retry-After, whether the connection can carry another request,
 * a prefix of the body) and where it ends (Content-Length, chunked, or the peer closing). Pure:
 * bytes in, state out; unit tested and fuzzed without sockets. */
#ifndef HERALD_DELIVER_H1_H
#define HERALD_DELIVER_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum h1_state {
    H1_STATUS,      /* reading the status line */
    H1_HEADERS,     /* reading header lines */
    H1_BODY_LENGTH, /* Content-Length body */
    H1_CHUNK_SIZE,  /* a chunk-size line */
    H1_CHUNK_DATA,  /* chunk bytes */
    H1_CHUNK_END,   /* the CRLF after a chunk's bytes */
    H1_TRAILERS,    /* trailer lines after the last chunk */
    H1_BODY_CLOSE,  /* a body that ends when the peer closes */
    H1_DONE,        /* the response is complete */
    H1_ERROR        /* not a valid response: `error` says why */
};

/* Header lines are kept up to this much (enough for the headers read; longer lines are
 * skipped past, not refused). */
#define H1_LINE_KEEP 256
/* A response head (status line and headers, 1xx ones included) may be this long. */
#define H1_HEAD_MAX (64 * 1024)

struct h1_response {
    enum h1_state state;
    int status;         /* the final (non-1xx) status, once has_headers */
    bool has_headers;   /* the final status line and its headers are all in */
    bool is_keep_alive; /* after H1_DONE: the connection may carry another request */
    bool is_cut;        /* the body passed body_max: H1_DONE without reading the rest */
    bool is_chunked;
    bool has_length;
    bool is_close;     /* "Connection: close", or HTTP/1.0 without keep-alive */
    bool is_http10;    /* the final status line says HTTP/1.0 */
    int64_t remaining; /* bytes left of the Content-Length body or of the current chunk */
    char line[H1_LINE_KEEP];
    size_t line_len; /* bytes of the current line seen (kept: at most H1_LINE_KEEP - 1) */
    size_t head_len; /* bytes of head read so far */
    char retry_after[64];
    struct buf *body; /* borrowed: gets the first body_keep bytes of the (de-chunked) body */
    size_t body_keep;
    size_t body_max;   /* most bytes read past the head, chunk framing and trailers included */
    size_t body_read;  /* bytes read past the head so far */
    const char *error; /* static text, with H1_ERROR */
};

/* Starts reading a response; body (borrowed, may be NULL) gets its first `keep` body bytes,
 * and reading stops (is_cut) past `max` bytes after the head (chunk framing and trailers
 * count: none of them may be endless). */
void h1_response_init(struct h1_response *r, struct buf *body, size_t keep, size_t max);
/* Reads n bytes; returns how many were used (fewer once H1_DONE or H1_ERROR is reached: the
 * rest belongs to no request of ours). */
size_t h1_response_feed(struct h1_response *r, const char *p, size_t n);
/* The peer closed the connection: ends a close-delimited body (H1_DONE); anything else not
 * done becomes H1_ERROR. */
void h1_response_eof(struct h1_response *r);

#endif
