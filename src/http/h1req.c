/* The request reader: the head is found first (h1req_head_end), then parsed in one pass over
 * its lines, writing NULs in place so names and values are C strings without copies. */
#include "http/h1req.h"

#include <string.h>
#include <strings.h>

#include "core/fieldlist.h"
#include "core/url.h"

#define CHUNK_LINE_MAX 4096
#define TRAILERS_MAX (16 * 1024)

size_t h1req_head_end(const char *p, size_t n, size_t *scanned)
{
    size_t i = *scanned;
    if (i == 0) { /* empty lines before the request line are ignored (RFC 9112 §2.2) */
        while (i < n && (p[i] == '\r' || p[i] == '\n'))
            i++;
        if (i == n)
            return 0;
    }
    for (; i < n; i++) {
        if (p[i] != '\n')
            continue;
        if (i + 1 >= n)
            break;
        if (p[i + 1] == '\n')
            return i + 2;
        if (p[i + 1] == '\r') {
            if (i + 2 >= n)
                break;
            if (p[i + 2] == '\n')
                return i + 3;
        }
    }
    *scanned = i > 0 ? i : 1;
    return 0;
}

static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* A method is at most this long; longer is refused as no valid method. */
#define METHOD_MAX 32

static size_t skip_empty_lines(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] == '\r' || p[i] == '\n'))
        i++;
    return i;
}

bool h1req_head_is_bad_start(const char *p, size_t n)
{
    size_t start = skip_empty_lines(p, n);
    for (size_t i = start; i < n; i++) {
        if (p[i] == ' ')
            return i == start;
        if (i - start == METHOD_MAX || !is_tchar((unsigned char)p[i]))
            return true;
    }
    return false;
}

bool h1req_head_lacks_line(const char *p, size_t n)
{
    size_t start = skip_empty_lines(p, n);
    return memchr(p + start, '\n', n - start) == NULL;
}

/* The next line from *pos, NUL-terminated in place (its LF and a CR before it); NULL when a
 * line holds a NUL or a bare CR, which no valid request has. */
static char *next_line(char *p, size_t len, size_t *pos)
{
    char *line = p + *pos;
    char *lf = memchr(line, '\n', len - *pos);
    if (!lf)
        return NULL;
    *pos = (size_t)(lf - p) + 1;
    char *end = lf > line && lf[-1] == '\r' ? lf - 1 : lf;
    *end = '\0';
    if (memchr(line, '\r', (size_t)(end - line)) || strlen(line) != (size_t)(end - line))
        return NULL;
    return line;
}

/* True when the comma list `v` is exactly the one token `tok` (case-insensitive). */
static bool is_single_token(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    return strncasecmp(v, tok, n) == 0 && v[n] == '\0';
}

static int request_line(struct h1req_head *h, char *s, const char **why)
{
    char *sp = strchr(s, ' ');
    if (!sp || sp == s || sp - s > METHOD_MAX) {
        *why = "the request line has no valid method";
        return 400;
    }
    *sp = '\0';
    for (char *m = s; *m; m++) {
        if (!is_tchar((unsigned char)*m)) {
            *why = "the request line has no valid method";
            return 400;
        }
    }
    h->method = s;
    char *target = sp + 1;
    char *sp2 = strchr(target, ' ');
    if (!sp2 || sp2 == target) {
        *why = "the request line is not METHOD TARGET HTTP/1.1";
        return 400;
    }
    if (sp2 - target > H1REQ_MAX_TARGET) {
        *why = "the request target is longer than the server accepts";
        return 414;
    }
    *sp2 = '\0';
    for (char *t = target; *t; t++) {
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f) {
            *why = "the request target has a byte that must be percent-encoded";
            return 400;
        }
    }
    h->target = target;
    const char *v = sp2 + 1;
    if (strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' ||
        v[7] > '9' || v[8] != '\0') {
        *why = "the request line is not METHOD TARGET HTTP/1.1";
        return 400;
    }
    if (v[5] != '1') {
        *why = "only HTTP/1.0 and HTTP/1.1 are served";
        return 505;
    }
    h->minor = v[7] == '0' ? 0 : 1;
    return 0;
}

/* Content-Length is 1*DIGIT. A number past what int64_t holds is kept as INT64_MAX, larger than
 * any body the server accepts: it is refused as too large (413), not as malformed. Two such
 * numbers compare equal, which frames nothing differently: no body that long is ever read. */
static int content_length(struct h1req_head *h, const char *v, const char **why)
{
    int64_t len = 0;
    size_t digits = 0;
    for (; *v >= '0' && *v <= '9'; v++, digits++) {
        int d = *v - '0';
        len = len > (INT64_MAX - d) / 10 ? INT64_MAX : len * 10 + d;
    }
    if (!digits || *v || (h->content_length >= 0 && h->content_length != len)) {
        *why = "invalid Content-Length";
        return 400;
    }
    h->content_length = len;
    return 0;
}

/* Host is uri-host [":" port] (RFC 9112 §3.2), and a server must refuse one that is not. Its
 * form is not parsed, as Herald does not use it; only bytes that no host name, IP literal or
 * port has are refused (space, '/', '?', '#', '@', '\\', quotes, non-ASCII), as Go's server
 * does (httpguts.ValidHostHeader). Empty is valid: a target without an authority has it. */
static bool is_host_value(const char *v)
{
    for (; *v; v++) {
        unsigned char ch = (unsigned char)*v;
        if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') && !(ch >= '0' && ch <= '9') &&
            !strchr("!$%&'()*+,-.:;=[]_~", ch))
            return false;
    }
    return true;
}

/* What the fields before the current one held. */
struct seen {
    bool has_host;
    bool has_authorization;
    bool has_close; /* a Connection field with "close" */
};

/* One header field; the name must be a token right before the colon, and the value (trimmed of
 * surrounding whitespace in place) may hold no control byte but HTAB. */
static int field_line(struct h1req_head *h, char *s, struct seen *seen, const char **why)
{
    char *colon = strchr(s, ':');
    if (!colon || colon == s) {
        *why = "a header field has no name";
        return 400;
    }
    for (char *c = s; c < colon; c++) {
        if (!is_tchar((unsigned char)*c)) {
            *why = "a header field name is not a token (whitespace before the colon?)";
            return 400;
        }
    }
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    char *end = v + strlen(v);
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    for (char *c = v; c < end; c++) {
        unsigned char ch = (unsigned char)*c;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            *why = "a header field value has a control byte";
            return 400;
        }
    }
    if (h->field_count == H1REQ_MAX_FIELDS) {
        *why = "the request has more header fields than the server accepts";
        return 431;
    }
    h->fields[h->field_count++] = (struct h1req_field){.name = s, .value = v};
    if (strcasecmp(s, "content-length") == 0)
        return content_length(h, v, why);
    if (strcasecmp(s, "transfer-encoding") == 0) {
        if (h->minor == 0) {
            *why = "Transfer-Encoding in an HTTP/1.0 request";
            return 400;
        }
        if (!is_single_token(v, "chunked")) {
            *why = "only the chunked transfer coding is supported";
            return 501;
        }
        if (h->is_chunked) {
            *why = "chunked is applied twice";
            return 400;
        }
        h->is_chunked = true;
    } else if (strcasecmp(s, "connection") == 0) {
        /* "close" in any Connection field wins over "keep-alive" in another. */
        if (field_list_has(v, "close", false))
            h->is_close = seen->has_close = true;
        else if (h->minor == 0 && !seen->has_close && field_list_has(v, "keep-alive", false))
            h->is_close = false;
    } else if (strcasecmp(s, "expect") == 0 && h->minor == 1) {
        /* HTTP/1.0 has no 1xx answers: its expectations are ignored (RFC 9110 §10.1.1). */
        if (strcasecmp(v, "100-continue") != 0) {
            *why = "only the 100-continue expectation is supported";
            return 417;
        }
        h->is_expect_continue = true;
    } else if (strcasecmp(s, "host") == 0) {
        if (seen->has_host) {
            *why = "more than one Host header field";
            return 400;
        }
        if (!is_host_value(v)) {
            *why = "the Host header field is not a host and port";
            return 400;
        }
        seen->has_host = true;
    } else if (strcasecmp(s, "authorization") == 0) {
        /* Two sets of credentials: a proxy in front may pass on, or check, another one than the
         * server reads (RFC 9110 §5.3: it is not a list). */
        if (seen->has_authorization) {
            *why = "more than one Authorization header field";
            return 400;
        }
        seen->has_authorization = true;
    }
    return 0;
}

int h1req_parse(struct h1req_head *h, char *p, size_t len, const char **why)
{
    h->method = h->target = NULL;
    h->content_length = -1;
    h->is_chunked = h->is_expect_continue = false;
    h->field_count = 0;
    size_t pos = 0;
    while (pos < len && (p[pos] == '\r' || p[pos] == '\n'))
        pos++;
    char *line = next_line(p, len, &pos);
    if (!line) {
        *why = "the request line has a NUL or a bare CR";
        return 400;
    }
    int status = request_line(h, line, why);
    if (status)
        return status;
    h->is_close = h->minor == 0; /* HTTP/1.0 closes unless it asks to keep alive */
    struct seen seen = {0};
    for (;;) {
        line = next_line(p, len, &pos);
        if (!line) {
            *why = "a header field has a NUL or a bare CR";
            return 400;
        }
        if (!*line)
            break;
        if (*line == ' ' || *line == '\t') {
            *why = "folded header field lines are not accepted";
            return 400;
        }
        status = field_line(h, line, &seen, why);
        if (status)
            return status;
    }
    if (h->is_chunked && h->content_length >= 0) {
        *why = "both Content-Length and Transfer-Encoding";
        return 400;
    }
    if (h->minor == 1 && !seen.has_host) {
        *why = "an HTTP/1.1 request without Host";
        return 400;
    }
    return 0;
}

const char *h1req_field(const struct h1req_head *h, const char *name)
{
    for (size_t i = 0; i < h->field_count; i++) {
        if (strcasecmp(h->fields[i].name, name) == 0)
            return h->fields[i].value;
    }
    return NULL;
}

/* The size line is read: the chunk's data follows, or the trailers after the last chunk. A
 * chunk larger than what is left of `max` makes the body too large now: its size says so, and
 * the client (which may be waiting on 100 Continue's promise) need not send a megabyte first. */
static void chunk_size_done(struct h1req_chunked *c, struct buf *out, size_t max, bool *is_too_big)
{
    c->line_len = 0;
    if (c->remaining == 0) {
        c->is_last = true;
        c->state = H1REQ_CHUNK_TRAILER;
        return;
    }
    c->state = H1REQ_CHUNK_DATA;
    if (!*is_too_big && c->remaining > max - out->len) {
        *is_too_big = true;
        buf_fini(out);
    }
}

size_t h1req_chunked_feed(struct h1req_chunked *c, const char *p, size_t n, struct buf *out,
                          size_t max, bool *is_too_big)
{
    size_t i = 0;
    while (i < n && c->state != H1REQ_CHUNK_DONE && c->state != H1REQ_CHUNK_ERROR) {
        char ch = p[i];
        switch (c->state) {
        case H1REQ_CHUNK_SIZE: {
            int v = url_hex_digit(ch);
            if (v >= 0) {
                if (++c->size_digits > 15) {
                    c->state = H1REQ_CHUNK_ERROR;
                    break;
                }
                c->remaining = c->remaining * 16 + (uint64_t)v;
                i++;
            } else if (c->size_digits == 0) {
                c->state = H1REQ_CHUNK_ERROR;
            } else {
                /* What may follow the digits is whitespace, ';' and an extension, or the line
                 * end: "0x10" or "1 0" is refused, not read as 0 or 1 and the rest skipped, as a
                 * proxy in front could frame it otherwise. */
                c->state = H1REQ_CHUNK_SIZE_WS;
                c->line_len = c->size_digits;
            }
            break;
        }
        case H1REQ_CHUNK_SIZE_WS:
            i++;
            if (ch == ';')
                c->state = H1REQ_CHUNK_EXT;
            else if (ch == '\r')
                c->state = H1REQ_CHUNK_SIZE_LF;
            else if (ch == '\n')
                chunk_size_done(c, out, max, is_too_big);
            else if (ch != ' ' && ch != '\t')
                c->state = H1REQ_CHUNK_ERROR;
            else if (++c->line_len > CHUNK_LINE_MAX)
                c->state = H1REQ_CHUNK_ERROR;
            break;
        case H1REQ_CHUNK_EXT:
            i++;
            if (ch == '\r')
                c->state = H1REQ_CHUNK_SIZE_LF;
            else if (ch == '\n')
                chunk_size_done(c, out, max, is_too_big);
            else if (((unsigned char)ch < 0x20 && ch != '\t') || ch == 0x7f)
                c->state = H1REQ_CHUNK_ERROR;
            else if (++c->line_len > CHUNK_LINE_MAX)
                c->state = H1REQ_CHUNK_ERROR;
            break;
        case H1REQ_CHUNK_SIZE_LF:
            i++;
            if (ch == '\n')
                chunk_size_done(c, out, max, is_too_big);
            else
                c->state = H1REQ_CHUNK_ERROR;
            break;
        case H1REQ_CHUNK_DATA: {
            size_t k = n - i;
            if (k > c->remaining)
                k = (size_t)c->remaining;
            if (!*is_too_big) /* the chunk fits: chunk_size_done checked its size */
                buf_append(out, p + i, k);
            i += k;
            c->remaining -= k;
            if (c->remaining == 0)
                c->state = H1REQ_CHUNK_DATA_CR;
            break;
        }
        case H1REQ_CHUNK_DATA_CR:
            i++;
            if (ch == '\r')
                c->state = H1REQ_CHUNK_DATA_LF;
            else if (ch == '\n')
                c->state = H1REQ_CHUNK_SIZE;
            else
                c->state = H1REQ_CHUNK_ERROR;
            c->size_digits = 0;
            break;
        case H1REQ_CHUNK_DATA_LF:
            i++;
            c->state = ch == '\n' ? H1REQ_CHUNK_SIZE : H1REQ_CHUNK_ERROR;
            break;
        case H1REQ_CHUNK_TRAILER:
        case H1REQ_CHUNK_TRAILER_LF:
            /* Trailers are read and dropped, but framed as strictly as the head: a bare CR or
             * another control byte, which a proxy in front could take for a line end, is
             * refused. */
            i++;
            if (ch == '\n') {
                c->state = c->line_len == 0 ? H1REQ_CHUNK_DONE : H1REQ_CHUNK_TRAILER;
                c->line_len = 0;
            } else if (c->state == H1REQ_CHUNK_TRAILER_LF) {
                c->state = H1REQ_CHUNK_ERROR;
            } else if (ch == '\r') {
                c->state = H1REQ_CHUNK_TRAILER_LF;
            } else if (((unsigned char)ch < 0x20 && ch != '\t') || ch == 0x7f) {
                c->state = H1REQ_CHUNK_ERROR;
            } else {
                c->line_len++;
                if (++c->trailer_len > TRAILERS_MAX)
                    c->state = H1REQ_CHUNK_ERROR;
            }
            break;
        case H1REQ_CHUNK_DONE:
        case H1REQ_CHUNK_ERROR:
            break;
        }
    }
    return i;
}
