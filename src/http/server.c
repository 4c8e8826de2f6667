/* The HTTP/1.1 server: one epoll loop per request thread, each accepting from the shared
 * listening socket (EPOLLEXCLUSIVE) and giving each connection to the worker serving the fewest,
 * which owns it from then on, edge-triggered and registered once, so a request costs one read and
 * one write. A handler answers at once or
 * later from another thread: the answer is queued on the connection's worker, which is woken
 * through its eventfd once per batch of answers (a group commit answers many requests at once).
 *
 * Why not libmicrohttpd, as before: it re-registers a suspended connection with epoll on suspend
 * and on resume and writes an eventfd per resumed request; with its parser and pool zeroing
 * that came to about 30 µs of CPU per create on this 2-core machine. Its own error answers
 * (414, 431, bad chunking) were HTML, not Zoho's JSON envelope; here every answer is JSON.
 *
 * Invariants: a connection and its request are touched only by their worker, except the answer
 * fields of a request (has_resp, status, resp, render), which are guarded by the worker's mutex.
 * A connection whose request is with a handler (C_WAIT) is never freed: the handler always
 * answers, and only then does the worker look at the connection again. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "core/url.h"
#include "core/wakes.h"
#include "core/xmalloc.h"
#include "core/zjson.h"
#include "http/h1req.h"
#include "http/http.h"

#define CONTENT_TYPE "application/json;charset=UTF-8"
/* A request head (request line and header fields) may be this long: proxies and SDKs add
 * cookies, tracing and long tokens. */
#define HEAD_MAX (32 * 1024)
#define READ_CHUNK (16 * 1024)
#define MAX_CONNECTIONS 10000
#define MAX_HELD_BODY_BYTES ((size_t)256 << 20)
#define IDLE_TIMEOUT_MS (120 * 1000) /* a kept-alive connection between requests */
#define READ_TIMEOUT_MS (30 * 1000)  /* no progress reading a request or writing its answer */
#define HEAD_TIMEOUT_MS (30 * 1000)  /* a request head, from its first byte to its end */
#define DRAIN_TIMEOUT_MS 2000        /* reading what a client still sends after a final error */

struct worker;

enum conn_state {
    C_HEAD,  /* reading a request head */
    C_BODY,  /* reading its body */
    C_WAIT,  /* the request is with its handler */
    C_WRITE, /* writing the answer */
    C_DRAIN  /* answered and shut down for writing: reading until the client closes */
};

/* A TCP connection. */
struct conn {
    int fd;
    enum conn_state state;
    struct worker *w;
    struct conn *prev, *next; /* the worker's connections */
    struct conn *next_dead;
    bool can_read;  /* the socket may hold unread bytes (edge-triggered) */
    bool can_write; /* the socket may take more bytes */
    bool has_eof;   /* the peer's end came (EPOLLRDHUP): read until read says so */
    bool is_dead;
    bool is_close_after; /* close once the current answer is written */
    struct buf in;       /* bytes read and not yet consumed, from in_pos */
    size_t in_pos;
    size_t scanned;    /* h1req_head_end's progress */
    struct buf out;    /* the answer's head */
    size_t out_pos;    /* bytes written of head then body */
    int64_t body_left; /* Content-Length body bytes still to read */
    struct h1req_chunked chunked;
    int64_t deadline_ms;
    int64_t head_since_ms; /* when the head being read began to arrive; 0: none of it yet */
    struct http_conn *req; /* the request in progress */
};

/* One request and its answer. */
struct http_conn {
    struct http_req req;
    struct conn *conn;
    struct http_server *srv;
    char *head; /* the request head, parsed in place */
    struct h1req_head h;
    struct buf body;
    char *path;                     /* decoded, without the query */
    const char *raw_path;           /* as sent, up to the query */
    const struct http_route *route; /* found and allowed (admit) */
    size_t raw_path_len;
    char *query;     /* raw, after '?'; NULL if none */
    char **query_kv; /* decoded key/value pairs, made on first lookup */
    size_t query_count;
    bool is_head;
    bool is_too_big;
    size_t body_held;    /* bytes of body counted in srv->held_body_bytes, given back when freed */
    size_t answer_held;  /* bytes of answer counted in srv->held_answer_bytes likewise */
    const char *refusal; /* the code of an answer the server itself gave (refuse), logged */
    const char *refusal_why; /* and its reason, if any: static text without '"' */
    /* The answer, under the worker's mutex. */
    bool is_in_handler;
    bool has_resp;
    int status;
    char *resp;
    size_t resp_len;
    http_render_fn *render; /* set: the answer is rendered on the worker */
    void *render_arg;
    struct http_conn *next_ready;
    struct timespec start;
};

struct worker {
    struct http_server *srv;
    pthread_t thread;
    int ep;
    int evfd;
    pthread_mutex_t mu;
    struct http_conn *ready; /* answered requests for this worker, newest first */
    bool is_woken;
    int *incoming; /* connections another worker accepted for this one (fds), under mu */
    size_t incoming_len, incoming_cap;
    atomic_int owned; /* connections it serves or is handed: the balance accept_all keeps */
    struct conn *conns;
    struct conn *dead;        /* closed this round, freed after it */
    int64_t accept_resume_ms; /* not 0: accepting paused (out of fds) until then */
    int64_t full_logged_ms;   /* the last "cannot accept" line, at most one a second */
    int64_t held_logged_ms;   /* the last "bodies in memory at the limit" line, likewise */
    time_t date_s;
    char date[40];
};

struct http_server {
    struct http_routes *routes;
    void *app;
    struct http_config cfg;
    int port;
    int listen_fd;
    unsigned worker_count;
    struct worker *workers;
    atomic_uint running;    /* workers [0, running) are started: connections may go to them */
    atomic_int active;      /* requests read and not yet completed */
    atomic_int connections; /* open connections */
    /* Request bodies and answers in memory, in bytes. A body being read that takes the bodies
     * past cfg.max_held_body_bytes, or a read about to be answered while bodies and answers
     * together are past it, gets a 503. Kept apart so that unread answers never refuse a write:
     * memory stays within twice the limit (bodies, plus answers that reads stopped adding to and
     * writes' small ones). */
    atomic_size_t held_body_bytes;
    atomic_size_t held_answer_bytes;
    atomic_int unwoken; /* wakes decided for queued work and not yet written (wake_queued) */
    atomic_bool is_quiescing;
    atomic_bool is_stopping;
    char *busy; /* the whole 503 answer to a connection past the limit */
    size_t busy_len;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Answers (any thread) ---- */

static void wake(struct worker *w)
{
    wakes_signal(w->evfd, NULL);
}

/* Wakes `w` for work just queued on it, the wake counted in srv->unwoken under w->mu (is_wake).
 * A thread holding its wakes writes it only at the end of its batch, maybe after a stop took the
 * work at its own wake; the stop waits for the count before it closes the eventfds. */
static void wake_queued(struct worker *w)
{
    wakes_signal(w->evfd, &w->srv->unwoken);
}

/* Under w->mu, with work just queued on `w`: whether a wake must be written for it (none is on
 * its way yet), counted in srv->unwoken until wake_queued has written it. */
static bool needs_wake(struct worker *w)
{
    if (w->is_woken)
        return false;
    w->is_woken = true;
    atomic_fetch_add(&w->srv->unwoken, 1);
    return true;
}

/* Records the answer; queues the request for its worker unless the handler is still running
 * on the worker (which then sends it on return). */
static bool take_answer(struct http_conn *r, int status, char *body, size_t len,
                        http_render_fn *render, void *arg)
{
    struct worker *w = r->conn->w;
    pthread_mutex_lock(&w->mu);
    if (r->has_resp) {
        pthread_mutex_unlock(&w->mu);
        log_error("msg=\"second response ignored\" path=%.*s status=%d", (int)r->raw_path_len,
                  r->raw_path, status);
        return false;
    }
    r->status = status;
    r->resp = body;
    r->resp_len = len;
    r->render = render;
    r->render_arg = arg;
    r->has_resp = true;
    bool is_wake = false;
    if (!r->is_in_handler) {
        r->next_ready = w->ready;
        w->ready = r;
        is_wake = needs_wake(w);
    }
    pthread_mutex_unlock(&w->mu);
    if (is_wake)
        wake_queued(w);
    return true;
}

static void respond(struct http_req *req, int status, char *body, size_t len)
{
    if (!take_answer(req->conn, status, body, len, NULL, NULL))
        free(body);
}

void http_respond_later(struct http_req *req, http_render_fn *render, void *arg)
{
    if (!take_answer(req->conn, 500, NULL, 0, render, arg)) {
        int status = 0;
        render(arg, NULL, &status);
    }
}

void http_respond_raw(struct http_req *req, int status, char *body, size_t len)
{
    respond(req, status, body, len);
}

void http_respond_empty(struct http_req *req, int status)
{
    respond(req, status, NULL, 0);
}

/* The text of `body` (taken; NULL allowed), or Zoho's 500 envelope with *status set to 500
 * when there is none or it cannot be rendered. */
static char *body_text(json_t *body, int *status)
{
    char *text = json_is_object(body) || json_is_array(body) ? zjson_dumps(body) : NULL;
    json_decref(body);
    if (text)
        return text;
    *status = 500;
    return xstrdup("{\"code\":\"INTERNAL_ERROR\",\"details\":{},"
                   "\"message\":\"Internal Server Error\",\"status\":\"error\"}");
}

void http_respond_json(struct http_req *req, int status, json_t *body)
{
    char *text = body_text(body, &status);
    respond(req, status, text, strlen(text));
}

void http_respond_error(struct http_req *req, int status, const char *code, const char *message,
                        json_t *details)
{
    http_respond_json(req, status, zjson_error(code, message, details));
}

/* ---- Request accessors (the handler's thread, while it runs) ---- */

static void parse_query(struct http_conn *r)
{
    const char *q = r->query;
    size_t pairs = 1;
    for (const char *p = q; *p; p++)
        pairs += *p == '&';
    r->query_kv = xcalloc(pairs * 2, sizeof *r->query_kv);
    while (*q) {
        size_t len = strcspn(q, "&");
        if (len) {
            const char *eq = memchr(q, '=', len);
            size_t klen = eq ? (size_t)(eq - q) : len;
            r->query_kv[r->query_count * 2] = url_decode(q, klen, true);
            r->query_kv[r->query_count * 2 + 1] =
                eq ? url_decode(eq + 1, len - klen - 1, true) : xstrdup("");
            r->query_count++;
        }
        q += len;
        if (*q == '&')
            q++;
    }
}

const char *http_req_query(struct http_req *req, const char *key)
{
    struct http_conn *r = req->conn;
    if (!r->query)
        return NULL;
    if (!r->query_kv)
        parse_query(r);
    for (size_t i = 0; i < r->query_count; i++) {
        if (strcmp(r->query_kv[i * 2], key) == 0)
            return r->query_kv[i * 2 + 1];
    }
    return NULL;
}

const char *http_req_header(struct http_req *req, const char *name)
{
    return h1req_field(&req->conn->h, name);
}

/* The body again, with ".0" after every integer outside strings that a 64-bit integer cannot
 * hold: jansson refuses those ("too big integer") although they are valid JSON, and the whole
 * request failed as "not valid JSON". Read as reals (as JavaScript clients read them), they fail
 * only the value that carries them, like any number of the wrong kind (a 20-digit channel_id is
 * INVALID_DATA "expected long" on its watch item). Caller frees. */
static char *big_ints_as_reals(const char *body, size_t len, size_t *out_len)
{
    struct buf b;
    buf_init(&b);
    bool is_in_string = false;
    for (size_t i = 0; i < len;) {
        char c = body[i];
        if (is_in_string) {
            size_t n = c == '\\' && i + 1 < len ? 2 : 1;
            is_in_string = c != '"';
            buf_append(&b, body + i, n);
            i += n;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            is_in_string = c == '"';
            buf_putc(&b, c);
            i++;
            continue;
        }
        size_t end = i;
        bool is_integer = true;
        while (end < len && body[end] && strchr("+-0123456789.eE", body[end])) {
            is_integer &= body[end] != '.' && body[end] != 'e' && body[end] != 'E';
            end++;
        }
        buf_append(&b, body + i, end - i);
        if (is_integer && end - i >= 19) {
            char digits[24];
            bool is_big = end - i >= sizeof digits;
            if (!is_big) {
                memcpy(digits, body + i, end - i);
                digits[end - i] = '\0';
                errno = 0;
                (void)strtoll(digits, NULL, 10);
                is_big = errno == ERANGE;
            }
            if (is_big)
                buf_puts(&b, ".0");
        }
        i = end;
    }
    return buf_steal(&b, out_len);
}

json_t *http_req_json(struct http_req *req)
{
    json_error_t jerr;
    json_t *root = NULL;
    const char *body = req->body;
    size_t len = req->body_len;
    /* A UTF-8 byte order mark before the JSON (some Windows clients write one) means nothing:
     * RFC 8259 §8.1 lets a parser ignore it, and jansson would refuse it. */
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        body += 3;
        len -= 3;
    }
    if (len > 0)
        root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root && len > 0 && json_error_code(&jerr) == json_error_numeric_overflow) {
        size_t again_len = 0;
        char *again = big_ints_as_reals(body, len, &again_len);
        root = json_loadb(again, again_len, JSON_REJECT_DUPLICATES, &jerr);
        free(again);
    }
    if (root)
        return root;
    json_t *details = json_object();
    if (len == 0) {
        json_object_set_new(details, "reason", json_string("the request body is empty"));
    } else {
        json_object_set_new(details, "reason", json_string(jerr.text));
        json_object_set_new(details, "line", json_integer(jerr.line));
        json_object_set_new(details, "column", json_integer(jerr.column));
    }
    http_respond_error(req, 400, "INVALID_DATA", "the request body is not valid JSON", details);
    return NULL;
}

/* ---- Routing (the worker) ---- */

/* True when p[0..len) holds an encoded NUL, which no decoded C string can carry. */
static bool has_encoded_nul(const char *p, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++) {
        if (p[i] == '%' && p[i + 1] == '0' && p[i + 2] == '0')
            return true;
    }
    return false;
}

/* Splits the path as sent at its slashes, then decodes each segment: an encoded slash (%2F)
 * stays inside its segment. A segment with an encoded NUL matches nothing. */
static bool split_path(struct http_conn *c)
{
    const char *p = c->raw_path, *end = c->raw_path + c->raw_path_len;
    while (p < end) {
        while (p < end && *p == '/')
            p++;
        if (p == end)
            break;
        const char *slash = memchr(p, '/', (size_t)(end - p));
        size_t len = slash ? (size_t)(slash - p) : (size_t)(end - p);
        if (c->req.seg_count == HTTP_MAX_SEGS)
            return false;
        c->req.segs[c->req.seg_count++] = url_decode(p, len, false);
        if (has_encoded_nul(p, len))
            return false;
        p += len;
    }
    return true;
}

/* Refuses a query pair with an encoded NUL: its value would reach the handler cut short there
 * (ids=1%00,2 read as ids=1, deleting one record of two). False once it has answered. */
static bool query_has_no_nul(struct http_conn *c)
{
    for (const char *q = c->query; q && *q;) {
        size_t len = strcspn(q, "&");
        if (has_encoded_nul(q, len)) {
            const char *eq = memchr(q, '=', len);
            char *key = url_decode(q, eq ? (size_t)(eq - q) : len, true);
            http_respond_error(&c->req, 400, "INVALID_DATA", "invalid data",
                               json_pack("{s:s}", "param_name", key));
            free(key);
            return false;
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return true;
}

/* Checks the caller's token against the route's scopes; false once it has answered. */
static bool authenticate(struct http_conn *c, const struct http_route *route)
{
    struct http_req *req = &c->req;
    if (route->scopes) {
        const char *auth = http_req_header(req, "Authorization");
        if (!auth || !*auth) {
            http_respond_error(req, 401, "AUTHENTICATION_FAILURE", "Authentication failed", NULL);
            return false;
        }
        const char *token = NULL;
        if (strncasecmp(auth, "Zoho-oauthtoken ", 16) == 0)
            token = auth + 16;
        else if (strncasecmp(auth, "Bearer ", 7) == 0)
            token = auth + 7;
        while (token && *token == ' ')
            token++;
        /* A field value excludes trailing whitespace (RFC 9110 §5.5); the parser trims it, and
         * so does this, for callers that pass values from elsewhere. */
        size_t token_len = token ? strlen(token) : 0;
        while (token_len && (token[token_len - 1] == ' ' || token[token_len - 1] == '\t'))
            token_len--;
        if (!token_len || token_len > 512) {
            http_respond_error(req, 401, "INVALID_TOKEN", "invalid oauth token", NULL);
            return false;
        }
        char trimmed[513];
        memcpy(trimmed, token, token_len);
        trimmed[token_len] = '\0';
        enum herald_err err = c->srv->cfg.authenticate(req->app, trimmed, &req->who);
        if (err == HERALD_ERR_NOT_FOUND) {
            http_respond_error(req, 401, "INVALID_TOKEN", "invalid oauth token", NULL);
            return false;
        }
        if (err) {
            http_respond_error(req, 500, "INTERNAL_ERROR", "Internal Server Error", NULL);
            return false;
        }
        const char *module = req->version && req->seg_count > 2 ? req->segs[2] : NULL;
        if (!http_scope_allows(req->who.scopes, route->scopes, module)) {
            http_respond_error(req, 401, "OAUTH_SCOPE_MISMATCH",
                               "invalid oauth scope to access this URL", NULL);
            return false;
        }
    }
    return true;
}

/* Finds the route and checks the caller, from the head alone (before any body is read, so a
 * caller without a valid token cannot make the server hold a body); answers when refused. */
static void admit(struct http_conn *c)
{
    struct http_req *req = &c->req;
    req->body = "";
    if (!split_path(c)) {
        http_respond_error(req, 404, "INVALID_URL_PATTERN",
                           "Please check if the URL trying to access is a correct one", NULL);
        return;
    }
    if (req->seg_count >= 2 && strcmp(req->segs[0], "crm") == 0)
        req->version = req->segs[1];
    /* HEAD is GET without the body (RFC 9110 §9.1: general-purpose servers support both); the
     * answer keeps GET's headers, Content-Length included. */
    const char *method = c->is_head ? "GET" : req->method;
    const struct http_route *route = NULL;
    switch (http_routes_find(c->srv->routes, method, req->segs, req->seg_count, &route)) {
    case HTTP_MATCH_OK:
        if (authenticate(c, route) && query_has_no_nul(c))
            c->route = route;
        break;
    case HTTP_MATCH_NO_METHOD:
        /* Zoho answers a known URL with the wrong method 400, not 405 (Kaizen #25). */
        http_respond_error(req, 400, "INVALID_REQUEST_METHOD",
                           "The http request method type is not a valid one", NULL);
        break;
    case HTTP_MATCH_NO_PATH:
        /* Version 1 is a version Zoho had and no longer serves: its own error (Zoho's modules
         * OAS, ApiVersionNotSupported). Any other unknown version is an unknown URL. */
        if (req->version && strcmp(req->version, "v1") == 0) {
            http_respond_error(
                req, 400, "API_NOT_SUPPORTED",
                "The api version 1 is not supported. Please use the version 2 or above.",
                json_pack("{s:i}", "supported_version", 2));
            break;
        }
        http_respond_error(req, 404, "INVALID_URL_PATTERN",
                           "Please check if the URL trying to access is a correct one", NULL);
        break;
    }
}

/* ---- Connections (the worker) ---- */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 207:
        return "Multi-Status";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

static const char *http_date(struct worker *w)
{
    time_t now = time(NULL);
    if (now != w->date_s) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->date, sizeof w->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        w->date_s = now;
    }
    return w->date;
}

static void request_free(struct http_conn *r)
{
    if (r->render) { /* never sent: the client went away; render to free what it holds */
        int status = 0;
        r->render(r->render_arg, NULL, &status);
    }
    for (size_t i = 0; i < r->req.seg_count; i++)
        free(r->req.segs[i]);
    for (size_t i = 0; i < r->query_count * 2; i++)
        free(r->query_kv[i]);
    free(r->query_kv);
    free(r->req.who.scopes);
    atomic_fetch_sub(&r->srv->held_body_bytes, r->body_held);
    atomic_fetch_sub(&r->srv->held_answer_bytes, r->answer_held);
    buf_fini(&r->body);
    free(r->resp);
    free(r->head);
    free(r->path);
    free(r);
}

/* The access log line, formatted by hand: through printf it cost 3,400 instructions a request,
 * 7% of a create's on its request thread. The path is the one sent, not the decoded one: a
 * request target holds no space or control byte, while "%0A" decoded would end the line and let
 * a client write lines of its own into the log. */
static void log_request(const struct http_conn *r, long long us, bool is_complete)
{
    char text[2048], num[24];
    char *at = text;
    const char *end = text + sizeof text;
    const char *method = r->req.method ? r->req.method : "-";
    const char *path = r->raw_path ? r->raw_path : "-";
    size_t path_len = r->raw_path ? r->raw_path_len : 1;
    fmt_put(&at, end, "msg=request method=", 19);
    fmt_put(&at, end, method, strlen(method));
    fmt_put(&at, end, " path=", 6);
    fmt_put(&at, end, path, path_len);
    fmt_put(&at, end, " status=", 8);
    fmt_put(&at, end, num, fmt_i64(num, r->has_resp ? r->status : 0));
    fmt_put(&at, end, " duration_ms=", 13);
    fmt_put(&at, end, num, fmt_i64(num, us / 1000));
    char frac[4] = {'.', (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10),
                    (char)('0' + us % 10)};
    fmt_put(&at, end, frac, sizeof frac);
    if (r->refusal) {
        fmt_put(&at, end, " code=", 6);
        fmt_put(&at, end, r->refusal, strlen(r->refusal));
    }
    if (r->refusal_why) {
        fmt_put(&at, end, " reason=\"", 9);
        fmt_put(&at, end, r->refusal_why, strlen(r->refusal_why));
        fmt_put(&at, end, "\"", 1);
    }
    if (!is_complete)
        fmt_put(&at, end, " aborted=true", 13);
    log_text(LOG_INFO, text, (size_t)(at - text));
}

static void request_done(struct conn *c, bool is_complete)
{
    struct http_conn *r = c->req;
    if (!r)
        return;
    c->req = NULL;
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    long long us = (long long)(end.tv_sec - r->start.tv_sec) * 1000000 +
                   (end.tv_nsec - r->start.tv_nsec) / 1000;
    if (log_enabled(LOG_INFO))
        log_request(r, us, is_complete);
    atomic_fetch_sub(&r->srv->active, 1);
    request_free(r);
}

static void conn_close(struct conn *c)
{
    if (c->is_dead)
        return;
    c->is_dead = true;
    request_done(c, false);
    epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next_dead = c->w->dead;
    c->w->dead = c;
    atomic_fetch_sub(&c->w->owned, 1);
    atomic_fetch_sub(&c->w->srv->connections, 1);
}

static struct http_conn *request_new(struct conn *c)
{
    struct http_conn *r = xcalloc(1, sizeof *r);
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    r->conn = c;
    r->srv = c->w->srv;
    r->req.app = r->srv->app;
    r->req.conn = r;
    buf_init(&r->body);
    c->req = r;
    atomic_fetch_add(&r->srv->active, 1); /* until request_done */
    return r;
}

/* Lays out the answer's head in c->out; the body is r->resp. */
static void answer_head(struct conn *c, struct http_conn *r)
{
    if (r->render) {
        http_render_fn *render = r->render;
        r->render = NULL;
        int status = 500;
        struct buf body;
        buf_init(&body);
        buf_reserve(&body, 1024); /* most answers fit: no growing from 64 bytes by doubling */
        render(r->render_arg, &body, &status);
        r->status = status;
        r->resp = buf_steal(&body, &r->resp_len);
    }
    if (!r->answer_held) { /* held until sent: a client that does not read keeps it */
        r->answer_held = r->resp_len;
        atomic_fetch_add(&r->srv->held_answer_bytes, r->answer_held);
    }
    if (atomic_load(&r->srv->is_quiescing) || r->h.is_close)
        c->is_close_after = true;
    struct buf *o = &c->out;
    buf_reset(o);
    buf_puts(o, "HTTP/1.1 ");
    buf_put_i64(o, r->status);
    buf_putc(o, ' ');
    buf_puts(o, reason_phrase(r->status));
    buf_puts(o, "\r\nContent-Type: " CONTENT_TYPE "\r\n");
    /* A 401 names the authentication schemes the server takes (RFC 9110 §15.5.2 requires
     * one): Zoho's, and Bearer, which Herald also accepts. */
    if (r->status == 401)
        buf_puts(o, "WWW-Authenticate: Zoho-oauthtoken, Bearer\r\n");
    if (r->status == 503)
        buf_puts(o, "Retry-After: 1\r\n");
    if (r->status != 204 && r->status != 304 && r->status >= 200) {
        buf_puts(o, "Content-Length: ");
        buf_put_i64(o, (int64_t)r->resp_len);
        buf_puts(o, "\r\n");
    }
    buf_puts(o, "Date: ");
    buf_puts(o, http_date(c->w));
    if (c->is_close_after)
        buf_puts(o, "\r\nConnection: close\r\n\r\n");
    else if (r->h.minor == 0)
        buf_puts(o, "\r\nConnection: keep-alive\r\n\r\n");
    else
        buf_puts(o, "\r\n\r\n");
    if (r->is_head || r->status == 204 || r->status == 304)
        r->resp_len = 0; /* HEAD: GET's headers, no body */
    c->out_pos = 0;
    c->state = C_WRITE;
    c->deadline_ms = now_ms() + READ_TIMEOUT_MS;
}

/* Answers a request the server itself refuses (bad framing, too large) and ends the
 * connection after it: what follows on it cannot be trusted to start a request. */
static void refuse(struct conn *c, int status, const char *code, const char *message,
                   const char *why)
{
    struct http_conn *r = c->req ? c->req : request_new(c);
    json_t *details = NULL;
    if (status == 413)
        details = json_pack("{s:I}", "maximum_length", (json_int_t)r->srv->cfg.max_body_bytes);
    else if (why)
        details = json_pack("{s:s}", "reason", why);
    char *text = body_text(zjson_error(code, message, details), &status);
    r->refusal = code;
    r->refusal_why = why;
    r->status = status;
    r->resp = text;
    r->resp_len = strlen(text);
    r->has_resp = true;
    c->is_close_after = true;
    answer_head(c, r);
}

/* A read (GET, HEAD) while the answers and bodies in memory are past the limit: answered 503
 * before it makes another answer. Clients that ask for 200 records of 32,000 characters each
 * (6.4 MB) and never read held them all: 100 such connections took 380 MB. Writes run: their
 * change is worth more than the memory, and their answers are small (100 records' ids). */
static bool answers_have_room(struct conn *c)
{
    struct http_conn *r = c->req;
    struct http_server *srv = r->srv;
    if (strcmp(r->h.method, "GET") != 0 && strcmp(r->h.method, "HEAD") != 0)
        return true;
    if (atomic_load(&srv->held_body_bytes) + atomic_load(&srv->held_answer_bytes) <
        srv->cfg.max_held_body_bytes)
        return true;
    int64_t now = now_ms();
    if (now - c->w->held_logged_ms >= 1000) {
        c->w->held_logged_ms = now;
        log_warn("msg=\"read answered 503: answers and request bodies in memory at the limit\" "
                 "limit_bytes=%zu",
                 srv->cfg.max_held_body_bytes);
    }
    refuse(c, 503, "SERVICE_UNAVAILABLE",
           "the server holds as many answers as it accepts; try again in a moment",
           "answers in memory at the limit");
    return false;
}

static void run_handler(struct conn *c)
{
    struct http_conn *r = c->req;
    struct worker *w = c->w;
    if (!answers_have_room(c))
        return;
    r->req.method = r->h.method;
    r->req.path = r->path;
    r->is_in_handler = true;
    c->state = C_WAIT;
    c->deadline_ms = INT64_MAX;
    r->req.body = r->body.data ? r->body.data : "";
    r->req.body_len = r->body.len;
    r->route->handler(&r->req);
    pthread_mutex_lock(&w->mu);
    r->is_in_handler = false;
    bool is_answered = r->has_resp;
    pthread_mutex_unlock(&w->mu);
    if (is_answered)
        answer_head(c, r);
}

/* The head of c->in (hlen bytes from in_pos) is complete: parse it and decide what follows. */
static void start_request(struct conn *c, size_t hlen)
{
    struct http_conn *r = request_new(c);
    struct http_server *srv = r->srv;
    r->head = xmalloc(hlen + 1);
    memcpy(r->head, c->in.data + c->in_pos, hlen);
    r->head[hlen] = '\0';
    c->in_pos += hlen;
    c->scanned = 0;
    const char *why = NULL;
    int status = h1req_parse(&r->h, r->head, hlen, &why);
    if (status) {
        r->req.method = r->h.method;
        static const struct {
            int status;
            const char *code, *message;
        } refusals[] = {
            {400, "INVALID_REQUEST", "the request is not valid HTTP/1.1"},
            {414, "URI_TOO_LONG", "the request URL is longer than the server accepts"},
            {417, "EXPECTATION_FAILED", "the expectation cannot be met"},
            {431, "REQUEST_HEADER_FIELDS_TOO_LARGE",
             "the request header fields are larger than the server accepts"},
            {501, "NOT_IMPLEMENTED", "the request uses a feature the server does not implement"},
            {505, "HTTP_VERSION_NOT_SUPPORTED", "only HTTP/1.0 and HTTP/1.1 are served"},
        };
        size_t i = 0;
        while (i + 1 < sizeof refusals / sizeof refusals[0] && refusals[i].status != status)
            i++;
        refuse(c, refusals[i].status, refusals[i].code, refusals[i].message, why);
        return;
    }
    r->req.method = r->h.method;
    r->is_head = strcmp(r->h.method, "HEAD") == 0;
    const char *t = r->h.target;
    if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
        /* The absolute form, as sent to proxies: servers accept it too (RFC 9112 §3.2.2). The
         * path starts after the authority, which a '/' or a '?' ends; a '/' in the query of
         * "http://host?q=/crm/v8/org" starts none. */
        const char *authority = t + 7 + (t[4] != ':');
        t = authority + strcspn(authority, "/?");
        if (*t != '/')
            t = "/";
    }
    if (*t != '/') {
        refuse(c, 400, "INVALID_REQUEST", "the request is not valid HTTP/1.1",
               "the request target is not a path");
        return;
    }
    const char *q = strchr(t, '?');
    r->raw_path = t;
    r->raw_path_len = q ? (size_t)(q - t) : strlen(t);
    r->path = url_decode(t, r->raw_path_len, false);
    r->query = q && q[1] ? (char *)q + 1 : NULL;
    r->req.path = r->path;
    if (r->h.content_length > (int64_t)srv->cfg.max_body_bytes) {
        /* Refused before the body is sent when the client waits for 100 Continue. */
        refuse(c, 413, "REQUEST_ENTITY_TOO_LARGE",
               "the request body is larger than the server accepts", NULL);
        return;
    }
    bool has_body = r->h.is_chunked || r->h.content_length > 0;
    r->is_in_handler = true; /* an answer from admit is kept here, not queued */
    admit(r);
    r->is_in_handler = false;
    if (r->has_resp) {
        /* Refused from the head: a body it announced is not read, so the connection ends. */
        if (has_body)
            c->is_close_after = true;
        answer_head(c, r);
        return;
    }
    if (!has_body) {
        run_handler(c);
        return;
    }
    if (r->h.is_expect_continue && c->in_pos == c->in.len) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof cont - 1)) {
            conn_close(c);
            return;
        }
    }
    c->body_left = r->h.content_length > 0 ? r->h.content_length : 0;
    c->chunked = (struct h1req_chunked){0};
    c->state = C_BODY;
    c->deadline_ms = now_ms() + READ_TIMEOUT_MS;
}

/* Reads what the socket has into c->in (at most `room` more bytes buffered). Returns true when
 * bytes came; false at EAGAIN (can_read cleared), or when the connection was closed (EOF or
 * error: c->is_dead). */
static bool read_more(struct conn *c, size_t room)
{
    if (!c->can_read)
        return false;
    if (c->in_pos == c->in.len) {
        c->in_pos = 0;
        c->in.len = 0;
    } else if (c->in_pos > 0 && c->in.cap - c->in.len < READ_CHUNK) {
        memmove(c->in.data, c->in.data + c->in_pos, c->in.len - c->in_pos);
        c->in.len -= c->in_pos;
        c->in_pos = 0;
    }
    size_t want = READ_CHUNK;
    if (c->in.len - c->in_pos + want > room)
        want = room > c->in.len - c->in_pos ? room - (c->in.len - c->in_pos) : 0;
    if (want == 0)
        return false;
    buf_reserve(&c->in, want);
    ssize_t n;
    do {
        n = read(c->fd, c->in.data + c->in.len, want);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        c->in.len += (size_t)n;
        /* Drained: the next bytes come with a new edge. Not so the end of the stream when it
         * came with these bytes: then the next read must see it, or the connection would stay
         * open until the idle timeout. */
        if ((size_t)n < want && !c->has_eof)
            c->can_read = false;
        c->deadline_ms = now_ms() + READ_TIMEOUT_MS;
        return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->can_read = false;
        return false;
    }
    /* EOF or a reset: a request cut short is dropped; between requests this is the normal end
     * of a kept-alive connection. */
    conn_close(c);
    return false;
}

/* Counts the body bytes r read since the last call in the server's total (held_body_bytes). Returns
 * false, after answering 503, when they take it past max_held_body_bytes: what a slow or stalled
 * body holds is then no longer multiplied by the number of connections. */
static bool hold_body(struct conn *c)
{
    struct http_conn *r = c->req;
    struct http_server *srv = r->srv;
    size_t more = r->body.len > r->body_held ? r->body.len - r->body_held : 0;
    if (!more)
        return true;
    size_t before = atomic_fetch_add(&srv->held_body_bytes, more);
    r->body_held += more;
    if (before + more <= srv->cfg.max_held_body_bytes)
        return true;
    int64_t now = now_ms();
    if (now - c->w->held_logged_ms >= 1000) {
        c->w->held_logged_ms = now;
        log_warn("msg=\"request answered 503: request bodies in memory at the limit\" "
                 "limit_bytes=%zu",
                 srv->cfg.max_held_body_bytes);
    }
    refuse(c, 503, "SERVICE_UNAVAILABLE",
           "the server holds as many request bodies as it accepts; try again in a moment",
           "request bodies in memory at the limit");
    return false;
}

static void read_body(struct conn *c)
{
    struct http_conn *r = c->req;
    size_t max = r->srv->cfg.max_body_bytes;
    for (;;) {
        size_t avail = c->in.len - c->in_pos;
        const char *p = c->in.data + c->in_pos;
        if (r->h.is_chunked) {
            size_t used = h1req_chunked_feed(&c->chunked, p, avail, &r->body, max, &r->is_too_big);
            c->in_pos += used;
            if (c->chunked.state == H1REQ_CHUNK_ERROR) {
                refuse(c, 400, "INVALID_REQUEST", "the request is not valid HTTP/1.1",
                       "invalid chunked body");
                return;
            }
            if (r->is_too_big) {
                refuse(c, 413, "REQUEST_ENTITY_TOO_LARGE",
                       "the request body is larger than the server accepts", NULL);
                return;
            }
            if (!hold_body(c))
                return;
            if (c->chunked.state == H1REQ_CHUNK_DONE) {
                run_handler(c);
                return;
            }
        } else {
            size_t k = avail < (uint64_t)c->body_left ? avail : (size_t)c->body_left;
            if (k) {
                if (!r->body.data)
                    buf_reserve(&r->body, (size_t)c->body_left);
                buf_append(&r->body, p, k);
            }
            c->in_pos += k;
            c->body_left -= (int64_t)k;
            if (!hold_body(c))
                return;
            if (c->body_left == 0) {
                run_handler(c);
                return;
            }
        }
        if (!read_more(c, READ_CHUNK))
            return;
    }
}

/* Writes the answer; returns true when all of it is out. */
static bool write_answer(struct conn *c)
{
    struct http_conn *r = c->req;
    for (;;) {
        size_t head_len = c->out.len;
        size_t total = head_len + r->resp_len;
        if (c->out_pos >= total)
            return true;
        if (!c->can_write)
            return false;
        struct iovec iov[2];
        int cnt = 0;
        if (c->out_pos < head_len)
            iov[cnt++] = (struct iovec){c->out.data + c->out_pos, head_len - c->out_pos};
        size_t body_pos = c->out_pos > head_len ? c->out_pos - head_len : 0;
        if (r->resp_len > body_pos)
            iov[cnt++] = (struct iovec){r->resp + body_pos, r->resp_len - body_pos};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_pos += (size_t)n;
            c->deadline_ms = now_ms() + READ_TIMEOUT_MS;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->can_write = false;
            return false;
        }
        conn_close(c);
        return false;
    }
}

/* Moves a connection on as far as it can go without waiting. */
static void conn_run(struct conn *c)
{
    while (!c->is_dead) {
        switch (c->state) {
        case C_HEAD: {
            size_t avail = c->in.len - c->in_pos;
            const char *head = avail ? c->in.data + c->in_pos : "";
            size_t hlen = avail ? h1req_head_end(head, avail, &c->scanned) : 0;
            if (!hlen && avail >= HEAD_MAX && h1req_head_lacks_line(head, avail)) {
                /* The request line alone is past the limit: its target is what is long. */
                refuse(c, 414, "URI_TOO_LONG", "the request URL is longer than the server accepts",
                       "the request target is longer than the server accepts");
                break;
            }
            if (hlen > HEAD_MAX || (!hlen && avail >= HEAD_MAX)) {
                refuse(c, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE",
                       "the request header fields are larger than the server accepts", NULL);
                break;
            }
            if (!hlen && h1req_head_is_bad_start(head, avail)) {
                /* Not HTTP (a TLS handshake on the plain port, say): no line end may ever
                 * come, and the client would wait for the read timeout. */
                refuse(c, 400, "INVALID_REQUEST", "the request is not valid HTTP/1.1",
                       "the request line has no valid method");
                break;
            }
            if (hlen) {
                c->head_since_ms = 0;
                start_request(c, hlen);
                break;
            }
            if (atomic_load(&c->w->srv->is_quiescing) && avail == 0) {
                /* Stopping: idle connections go. A request already sent (on a connection just
                 * accepted, or the next one on a kept-alive connection) is read and answered
                 * first: closed unread, the client saw a reset and could not tell whether it
                 * was done. */
                if (read_more(c, HEAD_MAX + 1))
                    break;
                if (!c->is_dead)
                    conn_close(c);
                return;
            }
            bool has_read = read_more(c, HEAD_MAX + 1);
            /* Each byte read moves the deadline on, so a head sent a byte at a time could hold
             * the connection for ever: the whole head has its own limit from its first byte,
             * as nginx's client_header_timeout. */
            if (c->in.len > c->in_pos) {
                if (!c->head_since_ms)
                    c->head_since_ms = now_ms();
                int64_t head_end = c->head_since_ms + c->w->srv->cfg.head_ms;
                if (c->deadline_ms > head_end)
                    c->deadline_ms = head_end;
            }
            if (!has_read)
                return;
            break;
        }
        case C_BODY:
            read_body(c);
            if (c->state == C_BODY)
                return;
            break;
        case C_WAIT:
            return;
        case C_WRITE:
            if (!write_answer(c))
                return;
            request_done(c, true);
            if (c->is_close_after) {
                /* Let the client read the answer before it sees the connection end: stop
                 * writing, then read until it closes, a little while at most. */
                shutdown(c->fd, SHUT_WR);
                c->state = C_DRAIN;
                c->deadline_ms = now_ms() + DRAIN_TIMEOUT_MS;
                break;
            }
            c->state = C_HEAD;
            c->deadline_ms = now_ms() + IDLE_TIMEOUT_MS;
            if (c->out.cap > 4096)
                buf_fini(&c->out);
            break;
        case C_DRAIN: {
            char sink[4096];
            for (;;) {
                ssize_t n = read(c->fd, sink, sizeof sink);
                if (n > 0)
                    continue;
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    return;
                conn_close(c);
                return;
            }
        }
        }
    }
}

static void conn_accepted(struct worker *w, int fd)
{
    struct conn *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    c->w = w;
    c->state = C_HEAD;
    c->can_read = true;
    c->can_write = true;
    c->deadline_ms = now_ms() + IDLE_TIMEOUT_MS;
    buf_init(&c->in);
    buf_init(&c->out);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        log_warn("msg=\"cannot watch a connection\" error=\"%s\"", strerror(errno));
        close(fd);
        free(c);
        atomic_fetch_sub(&w->owned, 1);
        atomic_fetch_sub(&w->srv->connections, 1);
        return;
    }
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    conn_run(c);
}

#define ACCEPT_PAUSE_MS 100

static void accept_pause(struct worker *w, const char *why)
{
    int64_t now = now_ms();
    if (now - w->full_logged_ms >= 1000) {
        w->full_logged_ms = now;
        log_warn("msg=\"cannot accept connections: paused for a moment\" error=\"%s\" "
                 "pause_ms=%d",
                 why, ACCEPT_PAUSE_MS);
    }
    epoll_ctl(w->ep, EPOLL_CTL_DEL, w->srv->listen_fd, NULL);
    w->accept_resume_ms = now + ACCEPT_PAUSE_MS;
}

/* Listens again after a pause, unless the server is stopping. The check and the add are under
 * w->mu, as http_server_stop's removal from this epoll is (on the main thread, before it closes
 * the listening socket): a check passed just before the stop could otherwise add a closed
 * descriptor, or one its number was given to since. */
static void accept_resume(struct worker *w, int64_t now)
{
    if (!w->accept_resume_ms || now < w->accept_resume_ms)
        return;
    w->accept_resume_ms = 0;
    pthread_mutex_lock(&w->mu);
    if (!atomic_load(&w->srv->is_quiescing)) {
        struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = w->srv};
        epoll_ctl(w->ep, EPOLL_CTL_ADD, w->srv->listen_fd, &lev);
    }
    pthread_mutex_unlock(&w->mu);
}

/* Answers a connection past the limit with the prebuilt 503 and closes it, without waiting:
 * one send into the new socket's empty buffer, which takes it whole unless the kernel is short
 * of memory (then the client sees only the close). What the client already sent is then read,
 * as far as it is there, so that the close does not reset the connection (unread bytes would)
 * while the answer may still be unread; anything the client sends later may. */
static void refuse_busy(struct http_server *srv, int fd)
{
    if (send(fd, srv->busy, srv->busy_len, MSG_NOSIGNAL | MSG_DONTWAIT) > 0) {
        shutdown(fd, SHUT_WR);
        char sink[4096];
        for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++) {
        }
    }
    close(fd);
}

/* The worker a new connection goes to: the one serving the fewest, this one on a tie. Whichever
 * thread the listening socket wakes accepts every connection waiting (a client opening 32 at once
 * put them all on one thread, the other idle); the connections are spread instead. */
static struct worker *least_loaded(struct worker *w)
{
    struct http_server *srv = w->srv;
    struct worker *best = w;
    int fewest = atomic_load(&w->owned);
    unsigned running = atomic_load(&srv->running);
    for (unsigned i = 0; i < running; i++) {
        int n = atomic_load(&srv->workers[i].owned);
        if (n < fewest) {
            fewest = n;
            best = &srv->workers[i];
        }
    }
    return best;
}

/* Gives an accepted connection to worker `to`, which takes it when woken (take_answers). */
static void hand_over(struct worker *to, int fd)
{
    pthread_mutex_lock(&to->mu);
    if (to->incoming_len == to->incoming_cap) {
        to->incoming_cap = to->incoming_cap ? 2 * to->incoming_cap : 16;
        to->incoming = xrealloc(to->incoming, to->incoming_cap * sizeof *to->incoming);
    }
    to->incoming[to->incoming_len++] = fd;
    bool is_wake = needs_wake(to);
    pthread_mutex_unlock(&to->mu);
    if (is_wake)
        wake_queued(to);
}

/* Closes connections handed over and not taken (the server is stopping). Under nothing: the
 * worker has stopped. */
static void drop_incoming(struct worker *w)
{
    for (size_t i = 0; i < w->incoming_len; i++) {
        close(w->incoming[i]);
        atomic_fetch_sub(&w->owned, 1);
        atomic_fetch_sub(&w->srv->connections, 1);
    }
    w->incoming_len = 0;
}

static void accept_all(struct worker *w)
{
    struct http_server *srv = w->srv;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The listening socket stays readable: without a pause this thread would spin
                 * on it. It stops accepting for a moment; waiting clients stay queued. */
                accept_pause(w, strerror(errno));
                return;
            }
            /* EINVAL: the listening socket was shut down (http_server_stop). */
            if (errno != EAGAIN && errno != EWOULDBLOCK && !atomic_load(&srv->is_quiescing))
                log_warn("msg=\"accept failed\" error=\"%s\"", strerror(errno));
            return;
        }
        if (atomic_fetch_add(&srv->connections, 1) >= srv->cfg.max_connections) {
            atomic_fetch_sub(&srv->connections, 1);
            int64_t now = now_ms();
            if (now - w->full_logged_ms >= 1000) {
                w->full_logged_ms = now;
                log_warn("msg=\"connection answered 503: too many open\" limit=%d",
                         srv->cfg.max_connections);
            }
            refuse_busy(srv, fd);
            continue;
        }
        struct worker *to = least_loaded(w);
        atomic_fetch_add(&to->owned, 1);
        if (to == w)
            conn_accepted(w, fd);
        else
            hand_over(to, fd);
    }
}

static void take_answers(struct worker *w)
{
    uint64_t v;
    while (read(w->evfd, &v, sizeof v) < 0 && errno == EINTR) {
    }
    pthread_mutex_lock(&w->mu);
    struct http_conn *list = w->ready;
    w->ready = NULL;
    w->is_woken = false;
    int *incoming = w->incoming;
    size_t incoming_len = w->incoming_len;
    w->incoming = NULL;
    w->incoming_len = w->incoming_cap = 0;
    pthread_mutex_unlock(&w->mu);
    /* Also once the server is stopping, as the accepting thread does with those it keeps: a
     * request already sent is answered (its connection then closes), an idle connection is
     * closed by the sweep. Closed unread, the client saw a reset. */
    for (size_t i = 0; i < incoming_len; i++)
        conn_accepted(w, incoming[i]);
    free(incoming);
    struct http_conn *fifo = NULL; /* oldest first */
    while (list) {
        struct http_conn *next = list->next_ready;
        list->next_ready = fifo;
        fifo = list;
        list = next;
    }
    while (fifo) {
        struct http_conn *r = fifo;
        fifo = r->next_ready;
        struct conn *c = r->conn;
        answer_head(c, r);
        conn_run(c);
    }
}

/* Closes connections past their deadline, and, once the server is stopping, the idle ones. */
static void sweep(struct worker *w, int64_t now)
{
    bool is_quiescing = atomic_load(&w->srv->is_quiescing);
    for (struct conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        bool is_idle = c->state == C_HEAD && c->in_pos == c->in.len;
        if ((c->state != C_WAIT && now >= c->deadline_ms) || (is_quiescing && is_idle))
            conn_close(c);
    }
}

static void free_dead(struct worker *w)
{
    while (w->dead) {
        struct conn *c = w->dead;
        w->dead = c->next_dead;
        buf_fini(&c->in);
        buf_fini(&c->out);
        free(c);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct http_server *srv = w->srv;
    pthread_setname_np(pthread_self(), "herald-http");
    struct epoll_event evs[64];
    int64_t next_sweep = now_ms() + 1000;
    log_hold(); /* a line per request: written once a round, before the loop waits */
    while (!atomic_load(&srv->is_stopping)) {
        log_release();
        int n = epoll_wait(w->ep, evs, 64, w->accept_resume_ms ? ACCEPT_PAUSE_MS : 1000);
        accept_resume(w, now_ms());
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == srv) {
                accept_all(w);
            } else if (p == w) {
                take_answers(w);
            } else {
                struct conn *c = p;
                if (c->is_dead)
                    continue;
                if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                    c->can_read = true;
                if (evs[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                    c->has_eof = true;
                if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                    c->can_write = true;
                conn_run(c);
            }
        }
        int64_t now = now_ms();
        if (now >= next_sweep || atomic_load(&srv->is_quiescing)) {
            sweep(w, now);
            next_sweep = now + 1000;
        }
        free_dead(w);
    }
    log_release();
    return NULL;
}

/* Requests never wait on a commit in their thread (the answer comes later), so more threads
 * than CPUs only add switches between them. At least 2, so one slow handler does not hold
 * all. */
static unsigned request_threads(const struct http_config *cfg)
{
    if (cfg->threads)
        return cfg->threads;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 2 ? 2u : cpus > 16 ? 16u : (unsigned)cpus;
}

static int listen_socket(const struct http_config *cfg)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof port, "%d", cfg->port);
    int rc = getaddrinfo(cfg->host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        log_error("msg=\"cannot resolve listen address\" host=%s error=\"%s\"", cfg->host,
                  gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        int err = errno;
        log_error("msg=\"cannot listen on the --listen address\" host=%s port=%d error=\"%s\"%s",
                  cfg->host, cfg->port, strerror(err),
                  err == EADDRINUSE ? " hint=\"another process serves that port: stop it, or give "
                                      "--listen another port (port 0 picks a free one)\""
                                    : "");
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* The answer past the connection limit, made once, so that refusing a connection costs one send
 * and no allocation: Zoho's envelope with SERVICE_UNAVAILABLE (a code of Zoho's API), and
 * Retry-After. No Date, which would change each second: a 5xx may go without (RFC 9110 §6.6.1). */
static void busy_answer(struct http_server *srv)
{
    int status = 503;
    char *body = body_text(zjson_error("SERVICE_UNAVAILABLE",
                                       "the server has as many connections open as it accepts; "
                                       "try again in a moment",
                                       NULL),
                           &status);
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: " CONTENT_TYPE
                 "\r\nContent-Length: ");
    buf_put_i64(&b, (int64_t)strlen(body));
    buf_puts(&b, "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n");
    buf_puts(&b, body);
    free(body);
    srv->busy = buf_steal(&b, &srv->busy_len);
}

static void workers_free(struct http_server *srv, unsigned started)
{
    for (unsigned i = 0; i < started; i++) {
        struct worker *w = &srv->workers[i];
        drop_incoming(w);
        free(w->incoming);
        close(w->ep);
        close(w->evfd);
        pthread_mutex_destroy(&w->mu);
    }
    free(srv->workers);
}

enum herald_err http_server_start(const struct http_config *cfg, const struct http_route *routes,
                                  void *app, struct http_server **out)
{
    int fd = listen_socket(cfg);
    if (fd < 0)
        return HERALD_ERR_IO;
    struct http_server *srv = xcalloc(1, sizeof *srv);
    srv->routes = http_routes_compile(routes);
    srv->app = app;
    srv->cfg = *cfg;
    if (srv->cfg.head_ms <= 0)
        srv->cfg.head_ms = HEAD_TIMEOUT_MS;
    if (srv->cfg.max_connections <= 0)
        srv->cfg.max_connections = MAX_CONNECTIONS;
    if (srv->cfg.max_held_body_bytes == 0)
        srv->cfg.max_held_body_bytes = MAX_HELD_BODY_BYTES;
    busy_answer(srv);
    srv->listen_fd = fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    if (cfg->bound)
        cfg->bound(cfg->bound_arg, srv->port);
    srv->worker_count = request_threads(cfg);
    srv->workers = xcalloc(srv->worker_count, sizeof *srv->workers);
    unsigned started = 0;
    for (; started < srv->worker_count; started++) {
        struct worker *w = &srv->workers[started];
        w->srv = srv;
        pthread_mutex_init(&w->mu, NULL);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = srv};
        struct epoll_event wev = {.events = EPOLLIN, .data.ptr = w};
        if (w->ep < 0 || w->evfd < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &lev) != 0 ||
            epoll_ctl(w->ep, EPOLL_CTL_ADD, w->evfd, &wev) != 0 ||
            pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            log_error("msg=\"cannot start the request threads\" error=\"%s\"", strerror(errno));
            if (w->ep >= 0)
                close(w->ep);
            if (w->evfd >= 0)
                close(w->evfd);
            pthread_mutex_destroy(&w->mu);
            atomic_store(&srv->is_stopping, true);
            for (unsigned i = 0; i < started; i++) {
                wake(&srv->workers[i]);
                pthread_join(srv->workers[i].thread, NULL);
            }
            workers_free(srv, started);
            close(fd);
            http_routes_free(srv->routes);
            free(srv->busy);
            free(srv);
            return HERALD_ERR_IO;
        }
        atomic_store(&srv->running, started + 1);
    }
    *out = srv;
    return HERALD_OK;
}

int http_server_port(const struct http_server *srv)
{
    return srv->port;
}

/* How long a stop waits for the wakes still to be written (srv->unwoken): a batch's answers. */
#define UNWOKEN_WAIT_MS 2000

void http_server_stop(struct http_server *srv, int grace_ms)
{
    if (!srv)
        return;
    /* Stop accepting; answers from now on close their connections. */
    atomic_store(&srv->is_quiescing, true);
    for (unsigned i = 0; i < srv->worker_count; i++) {
        struct worker *w = &srv->workers[i];
        pthread_mutex_lock(&w->mu); /* against accept_resume adding it back */
        epoll_ctl(w->ep, EPOLL_CTL_DEL, srv->listen_fd, NULL);
        pthread_mutex_unlock(&w->mu);
        wake(w); /* idle connections close on their next look */
    }
    /* Refuses new connections as a close would, but the descriptor stays open until the request
     * threads are joined: one that took a listening event just before the removal may still call
     * accept4 on it (EINVAL now), and after a close its number could name another thread's new
     * socket or file. */
    shutdown(srv->listen_fd, SHUT_RDWR);
    for (int waited = 0; atomic_load(&srv->active) > 0 && waited < grace_ms; waited += 10)
        time_sleep_ms(10);
    atomic_store(&srv->is_stopping, true);
    for (unsigned i = 0; i < srv->worker_count; i++)
        wake(&srv->workers[i]);
    size_t waiting = 0;
    for (unsigned i = 0; i < srv->worker_count; i++) {
        struct worker *w = &srv->workers[i];
        pthread_join(w->thread, NULL);
        for (struct conn *c = w->conns; c; c = c->next)
            waiting += c->state == C_WAIT;
    }
    close(srv->listen_fd);
    if (waiting) {
        /* A handler still holds these requests and will answer into them: leak them, and the
         * workers their answers are queued on, rather than free what is in use. */
        log_warn("msg=\"stopping with requests in progress\" count=%zu", waiting);
        return;
    }
    /* Answers queued by a thread holding its wakes (the store's writer, to the end of its batch)
     * went out at the stop's own wake, their wakes not yet written: closing the eventfds now
     * would put those writes into whatever file takes the numbers next. */
    for (int waited = 0; atomic_load(&srv->unwoken) > 0 && waited < UNWOKEN_WAIT_MS; waited++)
        time_sleep_ms(1);
    if (atomic_load(&srv->unwoken) > 0) {
        log_warn("msg=\"stopping with wakes not yet written\" count=%d",
                 atomic_load(&srv->unwoken));
        return; /* as above: leaked rather than closed under a writer */
    }
    for (unsigned i = 0; i < srv->worker_count; i++) {
        struct worker *w = &srv->workers[i];
        while (w->conns)
            conn_close(w->conns);
        free_dead(w);
    }
    workers_free(srv, srv->worker_count);
    http_routes_free(srv->routes);
    free(srv->busy);
    free(srv);
}
