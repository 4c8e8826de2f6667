/* An HTTP/1.1 request as the server reads it: the head (request line and header fields) parsed
 * in place, and a chunked body decoded incrementally. Pure: bytes in, state out; unit tested
 * and fuzzed without sockets. RFC 9112 framing, strictly: a request that two parsers could
 * frame differently (Content-Length with Transfer-Encoding, two different lengths, folded or
 * space-before-colon fields) is refused, because a proxy in front might frame it otherwise. */
#ifndef HERALD_HTTP_H1REQ_H
#define HERALD_HTTP_H1REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define H1REQ_MAX_FIELDS 100
#define H1REQ_MAX_TARGET 8192

struct h1req_field {
    const char *name; /* NUL-terminated in the parsed buffer */
    const char *value;
};

struct h1req_head {
    const char *method; /* NUL-terminated in the parsed buffer */
    const char *target;
    int minor;               /* HTTP/1.<minor>: 0 or 1 */
    int64_t content_length;  /* -1: none; INT64_MAX: that or a larger number */
    bool is_chunked;         /* Transfer-Encoding: chunked */
    bool is_close;           /* the connection ends after this request's answer */
    bool is_expect_continue; /* Expect: 100-continue */
    size_t field_count;
    struct h1req_field fields[H1REQ_MAX_FIELDS];
};

/* Where the head ends: the length of the head (request line through the empty line) when
 * p[0..n) holds all of it, 0 when more is needed. *scanned (start at 0) remembers how far the
 * search got, so feeding a head byte by byte costs O(n) in all. */
size_t h1req_head_end(const char *p, size_t n, size_t *scanned);

/* True when p[0..n), the start of a head not yet complete, already cannot be a request line:
 * its method (what comes before the first space) has a byte no method has, or is longer than
 * the parser accepts. So what is not HTTP at all, such as a TLS handshake sent to the plain
 * port, is refused at once instead of waiting for a line end that never comes. */
bool h1req_head_is_bad_start(const char *p, size_t n);

/* True when p[0..n) holds no complete request line (empty lines before it skipped). */
bool h1req_head_lacks_line(const char *p, size_t n);

/* Parses a complete head of `len` bytes in place (NULs are written into p). Returns 0, or an
 * HTTP status (400, 414, 417, 431, 501, 505) with *why set to a static reason. */
int h1req_parse(struct h1req_head *h, char *p, size_t len, const char **why);

/* The value of field `name` (case-insensitive), the first one if repeated; NULL if absent. */
const char *h1req_field(const struct h1req_head *h, const char *name);

enum h1req_chunk_state {
    H1REQ_CHUNK_SIZE,
    H1REQ_CHUNK_SIZE_WS, /* after the size's digits: whitespace, then ';' or the line end */
    H1REQ_CHUNK_EXT,
    H1REQ_CHUNK_SIZE_LF, /* the LF after the size line's CR */
    H1REQ_CHUNK_DATA,
    H1REQ_CHUNK_DATA_CR,
    H1REQ_CHUNK_DATA_LF,
    H1REQ_CHUNK_TRAILER,
    H1REQ_CHUNK_TRAILER_LF, /* the LF after a trailer line's CR */
    H1REQ_CHUNK_DONE,
    H1REQ_CHUNK_ERROR
};

struct h1req_chunked {
    enum h1req_chunk_state state;
    uint64_t remaining; /* bytes left of the current chunk */
    size_t size_digits; /* hex digits of the current size */
    size_t line_len;    /* bytes of the current size or trailer line */
    size_t trailer_len; /* bytes of trailers in all */
    bool is_last;       /* the zero-size chunk was read */
};

/* Decodes up to n bytes of a chunked body, appending the data to `out` while it stays within
 * `max` bytes. Returns how many bytes were used: fewer than n once DONE (the rest is the next
 * request) or ERROR. *is_too_big is set (`out` emptied, and decoding goes on without keeping
 * data) as soon as a chunk's size line takes the body past max, before its data comes. */
size_t h1req_chunked_feed(struct h1req_chunked *c, const char *p, size_t n, struct buf *out,
                          size_t max, bool *is_too_big);

#endif
