/* Herald's own HTTP/1.1 server over raw TCP: exact bytes in, exact answers out. Framing
 * (chunked bodies, 100-continue, pipelining, a request fed byte by byte), connection handling
 * (HTTP/1.0 with and without keep-alive, idle clients, shutdown with a kept-alive connection),
 * and the refusals, each in Zoho's JSON envelope on a connection that then ends. Every read
 * waits with poll and a bounded timeout, never a sleep. */
#include "harness.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000

static struct hp srv;

static int setup(void **state)
{
    (void)state;
    hp_start(&srv, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hp_cleanup(&srv);
    return 0;
}

/* ---- A raw client ---- */

struct raw {
    int fd;
    char in[256 * 1024]; /* bytes read and not yet taken by raw_answer */
    size_t len;
};

/* One answer as read off the wire. */
struct answer {
    int status;
    char head[8192]; /* status line and header fields, NUL-terminated */
    char *body;      /* NUL-terminated; free with answer_free */
    size_t body_len;
    json_t *json;
};

static struct raw *raw_open(int port)
{
    struct raw *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return c;
}

static void raw_close(struct raw *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c);
}

static void raw_send(struct raw *c, const void *p, size_t n)
{
    const char *s = p;
    int64_t deadline = hp_now_ms() + WAIT_MS;
    while (n) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        int64_t left = deadline - hp_now_ms();
        if (left <= 0)
            fail_msg("send: timed out with %zu bytes unsent", n);
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (k < 0)
            fail_msg("send: %s", strerror(errno));
        s += k;
        n -= (size_t)k;
    }
}

static void raw_puts(struct raw *c, const char *s)
{
    raw_send(c, s, strlen(s));
}

/* Reads more into c->in, waiting until the deadline. Returns bytes read; 0 at EOF (or a
 * reset); -1 on timeout. */
static ssize_t raw_fill(struct raw *c, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - hp_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int rc = poll(&pfd, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            continue;
        if (c->len == sizeof c->in)
            fail_msg("answer larger than the test's buffer");
        ssize_t n = recv(c->fd, c->in + c->len, sizeof c->in - c->len, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return 0; /* ECONNRESET: the connection ended */
        c->len += (size_t)n;
        return n;
    }
}

/* The value of header `name` in an answer's head, copied into out; false if absent. */
static bool header(const struct answer *a, const char *name, char *out, size_t out_len)
{
    size_t nlen = strlen(name);
    for (const char *line = strstr(a->head, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = strcspn(v, "\r");
            if (vlen >= out_len)
                vlen = out_len - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return true;
        }
    }
    return false;
}

static bool has_header(const struct answer *a, const char *name)
{
    char v[256];
    return header(a, name, v, sizeof v);
}

/* Reads the next answer (a 1xx included) off the connection. `is_head`: the answer to a HEAD
 * request, which has no body whatever its Content-Length says. Fails the test on timeout or
 * when the connection ends before a whole answer. */
static void raw_answer(struct raw *c, bool is_head, struct answer *a)
{
    memset(a, 0, sizeof *a);
    int64_t deadline = hp_now_ms() + WAIT_MS;
    char *end;
    for (;;) {
        end = c->len ? memmem(c->in, c->len, "\r\n\r\n", 4) : NULL;
        if (end)
            break;
        ssize_t n = raw_fill(c, deadline);
        if (n < 0)
            fail_msg("no answer head within %d ms (have %zu bytes)", WAIT_MS, c->len);
        if (n == 0)
            fail_msg("the connection ended before an answer head (have %zu bytes: %.*s)", c->len,
                     (int)c->len, c->in);
    }
    size_t hlen = (size_t)(end - c->in) + 4;
    assert_true(hlen < sizeof a->head);
    memcpy(a->head, c->in, hlen);
    a->head[hlen] = '\0';
    if (strncmp(a->head, "HTTP/1.1 ", 9) != 0)
        fail_msg("not an HTTP/1.1 status line: %s", a->head);
    a->status = atoi(a->head + 9);
    size_t body_len = 0;
    char v[64];
    if (header(a, "Content-Length", v, sizeof v))
        body_len = strtoul(v, NULL, 10);
    if (is_head || a->status < 200 || a->status == 204 || a->status == 304)
        body_len = 0;
    while (c->len < hlen + body_len) {
        ssize_t n = raw_fill(c, deadline);
        if (n <= 0)
            fail_msg("the body ended short: %zu of %zu bytes", c->len - hlen, body_len);
    }
    a->body = malloc(body_len + 1);
    memcpy(a->body, c->in + hlen, body_len);
    a->body[body_len] = '\0';
    a->body_len = body_len;
    if (body_len)
        a->json = json_loadb(a->body, body_len, 0, NULL);
    memmove(c->in, c->in + hlen + body_len, c->len - hlen - body_len);
    c->len -= hlen + body_len;
}

static void answer_free(struct answer *a)
{
    free(a->body);
    json_decref(a->json);
    a->body = NULL;
    a->json = NULL;
}

/* True when the server ends the connection (EOF or reset) within timeout_ms with no more
 * bytes than those already buffered. */
static bool raw_ends(struct raw *c, int timeout_ms)
{
    int64_t deadline = hp_now_ms() + timeout_ms;
    size_t before = c->len;
    for (;;) {
        ssize_t n = raw_fill(c, deadline);
        if (n < 0)
            return false;
        if (n == 0)
            return c->len == before;
    }
}

/* True when nothing at all arrives within ms (the connection stays open and quiet). */
static bool raw_quiet(struct raw *c, int ms)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    return c->len == 0 && poll(&pfd, 1, ms) == 0;
}

static void expect_status(const struct answer *a, int status)
{
    if (a->status != status)
        fail_msg("expected %d, got %d\n%s%s", status, a->status, a->head, a->body ? a->body : "");
}

/* The refusal: the status, Zoho's envelope with `code`, Connection: close, and the end of the
 * connection right after. */
static void expect_refusal(struct raw *c, int status, const char *code)
{
    struct answer a;
    raw_answer(c, false, &a);
    expect_status(&a, status);
    char v[128];
    assert_true(header(&a, "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/json;charset=UTF-8");
    if (!header(&a, "Connection", v, sizeof v) || strcmp(v, "close") != 0)
        fail_msg("a refusal without Connection: close\n%s%s", a.head, a.body);
    if (!a.json)
        fail_msg("the refusal is not JSON: %s", a.body);
    assert_string_equal(hp_str(a.json, "code"), code);
    assert_string_equal(hp_str(a.json, "status"), "error");
    assert_non_null(hp_str(a.json, "message"));
    assert_true(json_is_object(json_object_get(a.json, "details")));
    assert_int_equal(json_object_size(a.json), 4);
    answer_free(&a);
    assert_true(raw_ends(c, WAIT_MS));
}

/* A request head with Host and the token; `extra` (may be empty) is more "Name: v\r\n" lines. */
static char *head_for(const char *method, const char *target, const char *extra)
{
    size_t n = strlen(method) + strlen(target) + strlen(extra) + strlen(srv.token) + 256;
    char *s = malloc(n);
    snprintf(s, n,
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Zoho-oauthtoken %s\r\n%s\r\n",
             method, target, srv.token, extra);
    return s;
}

/* The head of a POST /crm/v8/Leads whose body is `body_len` bytes (caller frees). */
static char *lead_post_head(size_t body_len)
{
    char extra[64];
    snprintf(extra, sizeof extra, "Content-Length: %zu\r\n", body_len);
    return head_for("POST", "/crm/v8/Leads", extra);
}

/* The Last_Name of the record `id` of Leads, through the API (caller frees); NULL on 204. */
static char *lead_last_name(const char *id)
{
    char path[160];
    snprintf(path, sizeof path, "/crm/v8/Leads/%s", id);
    struct hp_resp r = hp_req(&srv, "GET", path, NULL, srv.token, NULL);
    char *name = NULL;
    if (r.status == 200)
        name = strdup(hp_str(hp_at(r.json, "data[0]"), "Last_Name"));
    else
        assert_int_equal(r.status, 204);
    hp_resp_free(&r);
    return name;
}

static void expect_created_lead(const struct answer *a, const char *last_name)
{
    expect_status(a, 201);
    const char *id = hp_str(hp_at(a->json, "data[0].details"), "id");
    assert_non_null(id);
    char *name = lead_last_name(id);
    assert_non_null(name);
    assert_string_equal(name, last_name);
    free(name);
}

/* ---- Bodies ---- */

/* A UTF-8 byte order mark before a JSON body is skipped (RFC 8259 §8.1), not a 400. */
static void a_byte_order_mark_before_the_json_is_skipped(void **state)
{
    (void)state;
    static const char body[] = "\xEF\xBB\xBF{\"data\":[{\"Last_Name\":\"Marked\"}]}";
    char *head = lead_post_head(sizeof body - 1);
    struct raw *c = raw_open(srv.port);
    raw_puts(c, head);
    raw_puts(c, body);
    struct answer a;
    raw_answer(c, false, &a);
    expect_created_lead(&a, "Marked");
    answer_free(&a);
    raw_close(c);
    free(head);
}

static void a_chunked_body_with_extensions_and_trailers_creates_the_record(void **state)
{
    (void)state;
    char *head = head_for("POST", "/crm/v8/Leads",
                          "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n");
    /* {"data":[{"Last_Name":"Chunked"}]} in three chunks, one with an extension, hex sizes in
     * both cases, then a trailer field. */
    static const char body[] = "a;name=\"v\"\r\n{\"data\":[{\r\n"
                               "F\r\n\"Last_Name\":\"Ch\r\n"
                               "9\r\nunked\"}]}\r\n"
                               "0\r\nX-Checksum: none\r\n\r\n";
    struct raw *c = raw_open(srv.port);
    raw_puts(c, head);
    raw_puts(c, body);
    struct answer a;
    raw_answer(c, false, &a);
    expect_created_lead(&a, "Chunked");
    answer_free(&a);

    /* The same over many writes, cut inside sizes, data and CRLFs, on the same connection. */
    static const char *const pieces[] = {
        "1", "7\r",  "\n{\"data\":[{\"Last", "_Name\"", ":\"\r", "\n",
        "a", "\r\n", "Pieces\"}]}\r",        "\n",      "0\r\n", "\r\n"};
    raw_puts(c, head);
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++)
        raw_puts(c, pieces[i]);
    raw_answer(c, false, &a);
    expect_created_lead(&a, "Pieces");
    answer_free(&a);
    raw_close(c);
    free(head);
}

static void expect_100_continue_comes_before_the_body_and_not_for_a_too_large_one(void **state)
{
    (void)state;
    static const char body[] = "{\"data\":[{\"Last_Name\":\"Continued\"}]}";
    char extra[128];
    snprintf(extra, sizeof extra, "Expect: 100-continue\r\nContent-Length: %zu\r\n",
             sizeof body - 1);
    char *head = head_for("POST", "/crm/v8/Leads", extra);
    struct raw *c = raw_open(srv.port);
    raw_puts(c, head);
    struct answer a;
    raw_answer(c, false, &a); /* the body is not sent yet: only 100 Continue can come */
    expect_status(&a, 100);
    assert_memory_equal(a.head, "HTTP/1.1 100 Continue\r\n", 23);
    answer_free(&a);
    raw_puts(c, body);
    raw_answer(c, false, &a);
    expect_created_lead(&a, "Continued");
    answer_free(&a);
    raw_close(c);
    free(head);

    /* Over the 16 MiB limit: 413 at once, never 100 Continue. */
    head =
        head_for("POST", "/crm/v8/Leads", "Expect: 100-continue\r\nContent-Length: 17000000\r\n");
    c = raw_open(srv.port);
    raw_puts(c, head);
    expect_refusal(c, 413, "REQUEST_ENTITY_TOO_LARGE");
    raw_close(c);
    free(head);

    /* Chunked, its length unknown: 100 Continue, then 413 as soon as a chunk's size line
     * announces more than the limit, before any of its data (which never comes here). */
    head =
        head_for("POST", "/crm/v8/Leads", "Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n");
    c = raw_open(srv.port);
    raw_puts(c, head);
    raw_answer(c, false, &a);
    expect_status(&a, 100);
    answer_free(&a);
    raw_puts(c, "b\r\n{\"data\":[]}\r\n1000000\r\n"); /* 16 MiB more than the limit allows */
    expect_refusal(c, 413, "REQUEST_ENTITY_TOO_LARGE");
    raw_close(c);
    free(head);

    /* An expectation other than 100-continue is refused. */
    head = head_for("POST", "/crm/v8/Leads", "Expect: 200-ok\r\nContent-Length: 2\r\n");
    c = raw_open(srv.port);
    raw_puts(c, head);
    expect_refusal(c, 417, "EXPECTATION_FAILED");
    raw_close(c);
    free(head);
}

/* HTTP/1.0 has no 1xx answers (RFC 9110 §15.2: a server must not send one to an HTTP/1.0
 * client, and §10.1.1: it ignores the expectation): the final answer is the first. */
/* The token is checked from the head: a caller without a valid one is answered before it sends
 * its body (never 100 Continue), so it cannot make the server hold a body, and the connection
 * ends since the announced body is not read. */
static void a_bad_token_is_refused_before_the_body(void **state)
{
    (void)state;
    static const char *const heads[] = {
        "POST /crm/v8/Leads HTTP/1.1\r\nHost: h\r\nAuthorization: Zoho-oauthtoken nope\r\n"
        "Expect: 100-continue\r\nContent-Length: 900000\r\n\r\n",
        "POST /crm/v8/Leads HTTP/1.1\r\nHost: h\r\nContent-Length: 900000\r\n\r\n",
        "POST /crm/v8/Leads HTTP/1.1\r\nHost: h\r\nAuthorization: Zoho-oauthtoken nope\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
    };
    static const char *const codes[] = {"INVALID_TOKEN", "AUTHENTICATION_FAILURE", "INVALID_TOKEN"};
    for (size_t i = 0; i < 3; i++) {
        struct raw *c = raw_open(srv.port);
        raw_puts(c, heads[i]); /* and no body: the answer must not wait for it */
        expect_refusal(c, 401, codes[i]);
        raw_close(c);
    }
}

/* Every 401 (no token, an unknown one, one without the scope) carries WWW-Authenticate with
 * the schemes Herald takes, as RFC 9110 §15.5.2 requires of a 401; other answers do not. A 401
 * to a request without a body keeps the connection. */
static void a_401_names_the_schemes_it_takes(void **state)
{
    (void)state;
    char org_only[256], auth[320];
    hp_token(&srv, "ZohoCRM.org.READ", org_only, sizeof org_only);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", org_only);
    static const struct {
        const char *path, *auth;
        int status;
        const char *code;
    } cases[] = {{"/crm/v8/org", "", 401, "AUTHENTICATION_FAILURE"},
                 {"/crm/v8/org", "Authorization: Zoho-oauthtoken nope\r\n", 401, "INVALID_TOKEN"},
                 {"/crm/v8/Leads?fields=Last_Name", NULL, 401, "OAUTH_SCOPE_MISMATCH"},
                 {"/crm/v8/org", NULL, 200, NULL}};
    struct raw *c = raw_open(srv.port);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[1024];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: h\r\n%s\r\n", cases[i].path,
                 cases[i].auth ? cases[i].auth : auth);
        raw_puts(c, req);
        struct answer a;
        raw_answer(c, false, &a);
        expect_status(&a, cases[i].status);
        char v[128];
        if (cases[i].status == 401) {
            assert_string_equal(hp_str(a.json, "code"), cases[i].code);
            if (!header(&a, "WWW-Authenticate", v, sizeof v))
                fail_msg("a 401 without WWW-Authenticate\n%s", a.head);
            assert_string_equal(v, "Zoho-oauthtoken, Bearer");
        } else {
            assert_false(has_header(&a, "WWW-Authenticate"));
        }
        assert_false(has_header(&a, "Connection"));
        answer_free(&a);
    }
    raw_close(c);
}

/* On one connection (one request thread): the token, then the same token with its last
 * character changed or cut, then the token again. Only the real one is let in. */
static void a_token_one_byte_off_the_last_one_is_refused(void **state)
{
    (void)state;
    size_t len = strlen(srv.token);
    char *near = strdup(srv.token), *cut = strndup(srv.token, len - 1);
    near[len - 1] = near[len - 1] == 'a' ? 'b' : 'a';
    const char *const tokens[] = {srv.token, near, srv.token, cut, srv.token};
    const int want[] = {200, 401, 200, 401, 200};
    struct raw *c = raw_open(srv.port);
    for (size_t i = 0; i < 5; i++) {
        char head[512];
        snprintf(head, sizeof head,
                 "GET /crm/v8/org HTTP/1.1\r\nHost: h\r\nAuthorization: Zoho-oauthtoken %s\r\n\r\n",
                 tokens[i]);
        raw_puts(c, head);
        struct answer a;
        raw_answer(c, false, &a);
        expect_status(&a, want[i]);
        answer_free(&a);
    }
    raw_close(c);
    free(near);
    free(cut);
}

static void expect_100_continue_is_ignored_for_http_1_0(void **state)
{
    (void)state;
    static const char body[] = "{\"data\":[{\"Last_Name\":\"Old\"}]}";
    char req[1024];
    snprintf(req, sizeof req,
             "POST /crm/v8/Leads HTTP/1.0\r\nAuthorization: Zoho-oauthtoken %s\r\n"
             "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
             srv.token, sizeof body - 1);
    struct raw *c = raw_open(srv.port);
    raw_puts(c, req);
    assert_true(raw_quiet(c, 300)); /* no 100 Continue: the server waits for the body */
    raw_puts(c, body);
    struct answer a;
    raw_answer(c, false, &a);
    expect_created_lead(&a, "Old");
    answer_free(&a);
    assert_true(raw_ends(c, WAIT_MS));
    raw_close(c);
}

/* ---- Connections ---- */

static void pipelined_requests_are_answered_in_order(void **state)
{
    (void)state;
    /* Two: a create then a read of nothing. */
    static const char body[] = "{\"data\":[{\"Last_Name\":\"Piped\"}]}";
    char *post = lead_post_head(sizeof body - 1);
    char *get_org = head_for("GET", "/crm/v8/org", "");
    char *missing = head_for("GET", "/crm/v8/Leads/1234567890123456789", "");
    char *wrong = head_for("GET", "/nothing/here", "");
    size_t cap = 8192;
    char *all = malloc(cap);
    snprintf(all, cap, "%s%s%s", post, body, get_org);
    struct raw *c = raw_open(srv.port);
    raw_puts(c, all);
    struct answer a;
    raw_answer(c, false, &a);
    expect_created_lead(&a, "Piped");
    answer_free(&a);
    raw_answer(c, false, &a);
    expect_status(&a, 200);
    assert_non_null(hp_str(hp_at(a.json, "org[0]"), "id"));
    answer_free(&a);

    /* Three on the same connection, each answered differently. */
    snprintf(all, cap, "%s%s%s", wrong, missing, get_org);
    raw_puts(c, all);
    raw_answer(c, false, &a);
    expect_status(&a, 404);
    assert_string_equal(hp_str(a.json, "code"), "INVALID_URL_PATTERN");
    answer_free(&a);
    raw_answer(c, false, &a);
    expect_status(&a, 204);
    answer_free(&a);
    raw_answer(c, false, &a);
    expect_status(&a, 200);
    answer_free(&a);
    assert_true(raw_quiet(c, 50)); /* nothing more, and still open */
    raw_close(c);
    free(all);
    free(post);
    free(get_org);
    free(missing);
    free(wrong);
}

static void a_request_fed_byte_by_byte_is_served(void **state)
{
    (void)state;
    static const char body[] = "{\"data\":[{\"Last_Name\":\"Bytes\"}]}";
    char *head = lead_post_head(sizeof body - 1);
    struct raw *c = raw_open(srv.port);
    for (size_t i = 0; head[i]; i++)
        raw_send(c, head + i, 1);
    for (size_t i = 0; body[i]; i++)
        raw_send(c, body + i, 1);
    struct answer a;
    raw_answer(c, false, &a);
    expect_created_lead(&a, "Bytes");
    answer_free(&a);
    raw_close(c);
    free(head);
}

static void http_1_0_closes_unless_asked_to_keep_alive(void **state)
{
    (void)state;
    struct raw *c = raw_open(srv.port);
    raw_puts(c, "GET /herald/v1/health HTTP/1.0\r\n\r\n");
    struct answer a;
    raw_answer(c, false, &a);
    expect_status(&a, 200);
    char v[64];
    assert_true(header(&a, "Connection", v, sizeof v));
    assert_string_equal(v, "close");
    answer_free(&a);
    assert_true(raw_ends(c, WAIT_MS));
    raw_close(c);

    c = raw_open(srv.port);
    for (int i = 0; i < 2; i++) {
        raw_puts(c, "GET /herald/v1/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        raw_answer(c, false, &a);
        expect_status(&a, 200);
        assert_true(header(&a, "Connection", v, sizeof v));
        assert_string_equal(v, "keep-alive");
        answer_free(&a);
    }
    assert_true(raw_quiet(c, 50));
    /* HTTP/1.1 with Connection: close ends after its answer too. */
    raw_puts(c, "GET /herald/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    raw_answer(c, false, &a);
    expect_status(&a, 200);
    assert_true(header(&a, "Connection", v, sizeof v));
    assert_string_equal(v, "close");
    answer_free(&a);
    assert_true(raw_ends(c, WAIT_MS));
    raw_close(c);

    /* "close" in one Connection field is not undone by "keep-alive" in a later one. */
    c = raw_open(srv.port);
    raw_puts(c, "GET /herald/v1/health HTTP/1.0\r\nConnection: close\r\n"
                "Connection: keep-alive\r\n\r\n");
    raw_answer(c, false, &a);
    expect_status(&a, 200);
    assert_true(header(&a, "Connection", v, sizeof v));
    assert_string_equal(v, "close");
    answer_free(&a);
    assert_true(raw_ends(c, WAIT_MS));
    raw_close(c);
}

/* A client that half-closes after its request (shutdown(SHUT_WR), as `nc -N` does) gets its
 * answer, then the end of the connection: not a connection held until the idle timeout. */
static void a_half_closed_client_gets_its_answer_and_the_end(void **state)
{
    (void)state;
    for (int round = 0; round < 5; round++) {
        struct raw *c = raw_open(srv.port);
        raw_puts(c, "GET /herald/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
        shutdown(c->fd, SHUT_WR);
        struct answer a;
        raw_answer(c, false, &a);
        expect_status(&a, 200);
        answer_free(&a);
        if (!raw_ends(c, 5000))
            fail_msg("round %d: the connection was not ended after the client's EOF", round);
        raw_close(c);
    }
}

/* ---- Refusals ---- */

static void refuse_raw(const char *bytes, size_t len, int status, const char *code)
{
    struct raw *c = raw_open(srv.port);
    raw_send(c, bytes, len);
    expect_refusal(c, status, code);
    raw_close(c);
}

static void refuse_str(const char *bytes, int status, const char *code)
{
    refuse_raw(bytes, strlen(bytes), status, code);
}

static void protocol_errors_answer_the_zoho_envelope_and_close(void **state)
{
    (void)state;
    refuse_str("this is not http\r\n\r\n", 400, "INVALID_REQUEST");
    refuse_str("GET /herald/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
               400, "INVALID_REQUEST");
    refuse_str("POST /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
               "NOT_IMPLEMENTED");
    refuse_str("GET /herald/v1/health HTTP/2.0\r\nHost: x\r\n\r\n", 505,
               "HTTP_VERSION_NOT_SUPPORTED");
    refuse_str("GET /herald/v1/health HTTP/1.1\r\n\r\n", 400, "INVALID_REQUEST"); /* no Host */
    refuse_str("GET /herald/v1/health HTTP/1.1\r\nHost: evil.example/x@h\r\n\r\n", 400,
               "INVALID_REQUEST");
    refuse_str("GET /herald/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
               "Content-Length: 2\r\n\r\n",
               400, "INVALID_REQUEST");
    refuse_str("GET /herald/v1/health HTTP/1.1\r\nHost : x\r\n\r\n", 400, "INVALID_REQUEST");
    refuse_str("GET /herald/v1/health HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400,
               "INVALID_REQUEST");

    /* A malformed chunked body: a size that is not hex, a chunk without its CRLF, a bare CR in
     * the trailers. */
    char *head = head_for("POST", "/crm/v8/Leads", "Transfer-Encoding: chunked\r\n");
    static const char *const bad_bodies[] = {"zz\r\n{}\r\n0\r\n\r\n", "2\r\n{}XX0\r\n\r\n",
                                             "\r\n0\r\n\r\n", "0x2\r\n{}\r\n0\r\n\r\n",
                                             "2\r\n{}\r\n0\r\n\rX: a\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
        char req[2048];
        snprintf(req, sizeof req, "%s%s", head, bad_bodies[i]);
        refuse_str(req, 400, "INVALID_REQUEST");
    }
    free(head);

    /* A 9,000-byte URL. */
    size_t n = 9000;
    char *req = malloc(n + 256);
    size_t at = (size_t)sprintf(req, "GET /crm/v8/Leads?fields=");
    memset(req + at, 'a', n);
    at += n;
    at += (size_t)sprintf(req + at, " HTTP/1.1\r\nHost: x\r\n\r\n");
    refuse_raw(req, at, 414, "URI_TOO_LONG");
    free(req);

    /* 40 KB of header fields, never ending. */
    n = 40 * 1024;
    req = malloc(n + 256);
    at = (size_t)sprintf(req, "GET /herald/v1/health HTTP/1.1\r\nHost: x\r\n");
    while (at < n)
        at += (size_t)sprintf(req + at, "X-Padding-%zu: %0100d\r\n", at, 0);
    refuse_raw(req, at, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE");
    /* ... and ended: the same. */
    at += (size_t)sprintf(req + at, "\r\n");
    refuse_raw(req, at, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE");
    free(req);

    /* More than 100 header fields, though short. */
    req = malloc(16384);
    at = (size_t)sprintf(req, "GET /herald/v1/health HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 120; i++)
        at += (size_t)sprintf(req + at, "X-%d: y\r\n", i);
    at += (size_t)sprintf(req + at, "\r\n");
    refuse_raw(req, at, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE");
    free(req);

    /* And the server still serves. */
    struct hp_resp r = hp_req(&srv, "GET", "/herald/v1/health", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
}

/* A Content-Length over the 16 MiB limit is too large (413, with the limit), however many digits
 * it has, up to and past what 64 bits hold; one that is not a number at all is malformed (400). */
static void a_content_length_of_any_size_over_the_limit_is_413(void **state)
{
    (void)state;
    static const char *const huge[] = {"16777217",
                                       "1234567890123456",
                                       "9223372036854775807",
                                       "9223372036854775808",
                                       "99999999999999999999",
                                       "123456789012345678901234567890"};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "Expect: 100-continue\r\nContent-Length: %s\r\n", huge[i]);
        char *head = head_for("POST", "/crm/v8/Leads", extra);
        struct raw *c = raw_open(srv.port);
        raw_puts(c, head);
        struct answer a;
        raw_answer(c, false, &a);
        if (a.status != 413 || !a.json)
            fail_msg("Content-Length %s: %d %s", huge[i], a.status, a.body);
        assert_string_equal(hp_str(a.json, "code"), "REQUEST_ENTITY_TOO_LARGE");
        assert_int_equal(json_integer_value(hp_at(a.json, "details.maximum_length")), 16777216);
        answer_free(&a);
        assert_true(raw_ends(c, WAIT_MS));
        raw_close(c);
        free(head);
    }
    static const char *const malformed[] = {"12a", "-1",   "+5",
                                            "1 2", "0x10", "99999999999999999999x"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "Content-Length: %s\r\n", malformed[i]);
        char *head = head_for("POST", "/crm/v8/Leads", extra);
        refuse_str(head, 400, "INVALID_REQUEST");
        free(head);
    }
}

/* Bytes that cannot start a request line, such as a TLS handshake sent to the plain port, are
 * refused at once: no line end may ever come, and the client would hang until the read
 * timeout. A request line longer than the whole head may be is a URL too long (414), not
 * header fields too large. */
static void what_cannot_start_a_request_is_refused_at_once_and_a_huge_url_is_414(void **state)
{
    (void)state;
    static const unsigned char tls_hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00,
                                              0x01, 0xfc, 0x03, 0x03, 0x5a, 0x5a};
    int64_t t0 = hp_now_ms();
    refuse_raw((const char *)tls_hello, sizeof tls_hello, 400, "INVALID_REQUEST");
    assert_true(hp_now_ms() - t0 < 5000);
    refuse_str("G\x01T / HTTP/1.1", 400, "INVALID_REQUEST");

    /* 40 KB of URL, more than the 32 KiB a head may have. */
    size_t n = 40 * 1024;
    char *req = malloc(n + 256);
    size_t at = (size_t)sprintf(req, "GET /crm/v8/Leads?fields=");
    memset(req + at, 'a', n);
    at += n;
    at += (size_t)sprintf(req + at, " HTTP/1.1\r\nHost: x\r\n\r\n");
    refuse_raw(req, at, 414, "URI_TOO_LONG");
    free(req);
}

/* ---- Answers ---- */

static void head_has_get_content_length_and_no_body(void **state)
{
    (void)state;
    char *get = head_for("GET", "/crm/v8/org", "");
    char *head = head_for("HEAD", "/crm/v8/org", "");
    struct raw *c = raw_open(srv.port);
    raw_puts(c, get);
    struct answer g;
    raw_answer(c, false, &g);
    expect_status(&g, 200);
    assert_true(g.body_len > 0);
    /* HEAD then GET in one write: a body after HEAD's head would be read as the next answer. */
    char both[4096];
    snprintf(both, sizeof both, "%s%s", head, get);
    raw_puts(c, both);
    struct answer h;
    raw_answer(c, true, &h);
    expect_status(&h, 200);
    char v[64];
    assert_true(header(&h, "Content-Length", v, sizeof v));
    assert_int_equal(strtoul(v, NULL, 10), g.body_len);
    answer_free(&h);
    struct answer g2;
    raw_answer(c, false, &g2);
    expect_status(&g2, 200);
    assert_int_equal(g2.body_len, g.body_len);
    assert_true(raw_quiet(c, 50));
    answer_free(&g2);
    answer_free(&g);
    raw_close(c);
    free(get);
    free(head);
}

/* The absolute form (as sent to a proxy) names the same resource (RFC 9112 §3.2.2); the path is
 * split before it is decoded, so an encoded slash stays inside its segment and an encoded NUL
 * matches no route. */
static void absolute_targets_are_served_and_encoded_slashes_do_not_split(void **state)
{
    (void)state;
    struct raw *c = raw_open(srv.port);
    char *abs = head_for("GET", "http://127.0.0.1/crm/v8/org", "");
    raw_puts(c, abs);
    struct answer a;
    raw_answer(c, false, &a);
    expect_status(&a, 200);
    assert_non_null(hp_str(hp_at(a.json, "org[0]"), "id"));
    answer_free(&a);
    /* A slash in the query of an absolute target with no path starts no path. */
    char *in_query = head_for("GET", "http://127.0.0.1?x=/crm/v8/org", "");
    raw_puts(c, in_query);
    raw_answer(c, false, &a);
    expect_status(&a, 404);
    assert_string_equal(hp_str(a.json, "code"), "INVALID_URL_PATTERN");
    answer_free(&a);
    free(in_query);
    char *slash = head_for("GET", "/crm/v8%2Forg", "");
    raw_puts(c, slash);
    raw_answer(c, false, &a);
    expect_status(&a, 404);
    assert_string_equal(hp_str(a.json, "code"), "INVALID_URL_PATTERN");
    answer_free(&a);
    char *nul = head_for("GET", "/crm/v8/org%00x", "");
    raw_puts(c, nul);
    raw_answer(c, false, &a);
    expect_status(&a, 404);
    answer_free(&a);
    raw_close(c);
    free(abs);
    free(slash);
    free(nul);
}

static void answers_have_date_and_content_length_and_204_has_no_body(void **state)
{
    (void)state;
    struct raw *c = raw_open(srv.port);
    raw_puts(c, "GET /herald/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    struct answer a;
    raw_answer(c, false, &a);
    expect_status(&a, 200);
    char v[64];
    assert_true(header(&a, "Date", v, sizeof v));
    assert_int_equal(strlen(v), 29); /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
    assert_string_equal(v + 25, " GMT");
    assert_true(header(&a, "Content-Length", v, sizeof v));
    assert_int_equal(strtoul(v, NULL, 10), a.body_len);
    assert_non_null(a.json);
    assert_false(has_header(&a, "Connection")); /* HTTP/1.1 keeps alive by default */
    answer_free(&a);

    /* 204 for an unknown record id; a following answer right after proves no body bytes. */
    char *missing = head_for("GET", "/crm/v8/Leads/1234567890123456789", "");
    char both[4096];
    snprintf(both, sizeof both, "%sGET /herald/v1/health HTTP/1.1\r\nHost: x\r\n\r\n", missing);
    raw_puts(c, both);
    raw_answer(c, false, &a);
    expect_status(&a, 204);
    assert_true(has_header(&a, "Date"));
    if (header(&a, "Content-Length", v, sizeof v))
        assert_string_equal(v, "0");
    answer_free(&a);
    raw_answer(c, false, &a);
    expect_status(&a, 200);
    answer_free(&a);
    assert_true(raw_quiet(c, 50));
    raw_close(c);
    free(missing);
    /* Each answer has its access log line. */
    assert_true(hp_log_wait(&srv,
                            "msg=request method=GET path=/crm/v8/Leads/1234567890123456789 "
                            "status=204 duration_ms=",
                            2000));
}

/* The access line names the path as sent: decoded, "%0A" would end the line and the rest
 * would read as a line of the client's making. */
static void an_encoded_newline_in_the_path_cannot_write_a_log_line(void **state)
{
    (void)state;
    struct raw *c = raw_open(srv.port);
    raw_puts(c, "GET /forged%0Ats=1%20level=error%20msg=forged HTTP/1.1\r\nHost: x\r\n\r\n");
    struct answer a;
    raw_answer(c, false, &a);
    expect_status(&a, 404);
    answer_free(&a);
    raw_close(c);
    assert_true(hp_log_wait(&srv,
                            "msg=request method=GET path=/forged%0Ats=1%20level=error%20msg=forged "
                            "status=404 duration_ms=",
                            2000));
    assert_false(hp_log_wait(&srv, "\nts=1 level=error msg=forged", 0));
}

static void query_strings_are_percent_and_plus_decoded(void **state)
{
    (void)state;
    struct hp_resp r = hp_req(&srv, "POST", "/crm/v8/Leads",
                              "{\"data\":[{\"Last_Name\":\"Query\",\"First_Name\":\"Ann\","
                              "\"Email\":\"ann@example.com\"}]}",
                              srv.token, NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    r = hp_req(&srv, "GET", "/crm/v8/Leads?fields=Last_Name%2CFirst_Name&per_page=200", NULL,
               srv.token, NULL);
    assert_int_equal(r.status, 200);
    json_t *data = json_object_get(r.json, "data");
    bool found = false;
    for (size_t i = 0; i < json_array_size(data); i++) {
        json_t *rec = json_array_get(data, i);
        assert_non_null(json_object_get(rec, "Last_Name")); /* both fields were selected */
        assert_true(json_object_get(rec, "First_Name") != NULL);
        assert_null(json_object_get(rec, "Email"));
        found |= strcmp(hp_str(rec, "Last_Name"), "Query") == 0 &&
                 strcmp(hp_str(rec, "First_Name"), "Ann") == 0;
    }
    assert_true(found);
    hp_resp_free(&r);
    /* '+' is a space and %2F a slash in a value; the error names the decoded field. */
    r = hp_req(&srv, "GET", "/crm/v8/Leads?fields=No+Such%2fField", NULL, srv.token, NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "details"), "api_name"), "No Such/Field");
    hp_resp_free(&r);
    /* A percent-encoded key; a '%' without two hex digits stays as it is. */
    r = hp_req(&srv, "GET", "/crm/v8/Leads?%66ields=Last_Name&per_page=1%", NULL, srv.token, NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "details"), "param_name"), "per_page");
    hp_resp_free(&r);
}

/* An encoded NUL cannot reach a handler inside a C string: the value would be cut short there,
 * and ids=A%00,B would delete A alone. It is refused, naming the parameter, and nothing changes. */
static void a_query_value_with_an_encoded_nul_is_refused_not_cut_short(void **state)
{
    (void)state;
    struct hp_resp r =
        hp_req(&srv, "POST", "/crm/v8/Leads",
               "{\"data\":[{\"Last_Name\":\"Nul1\"},{\"Last_Name\":\"Nul2\"}]}", srv.token, NULL);
    assert_int_equal(r.status, 201);
    char *id1 = strdup(hp_str(hp_at(r.json, "data[0].details"), "id"));
    char *id2 = strdup(hp_str(hp_at(r.json, "data[1].details"), "id"));
    hp_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/crm/v8/Leads?ids=%s%%00,%s", id1, id2);
    r = hp_req(&srv, "DELETE", path, NULL, srv.token, NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "details"), "param_name"), "ids");
    hp_resp_free(&r);
    char *name = lead_last_name(id1);
    assert_non_null(name);
    free(name);
    /* So is a key with one. */
    r = hp_req(&srv, "GET", "/crm/v8/Leads?fields=Last_Name&x%00=1", NULL, srv.token, NULL);
    hp_assert_error(&r, 400, "INVALID_DATA");
    hp_resp_free(&r);
    free(id1);
    free(id2);
}

/* ---- Load and shutdown ---- */

static void idle_and_half_sent_clients_do_not_stop_others(void **state)
{
    (void)state;
    enum { IDLE = 50 };
    struct raw *idle[IDLE];
    for (int i = 0; i < IDLE; i++) {
        idle[i] = raw_open(srv.port);
        if (i % 2)
            raw_puts(idle[i], "POST /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nContent-Le");
        else if (i % 5 == 0)
            raw_puts(idle[i], "POST /crm/v8/Leads HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n"
                              "\r\n{\"da");
    }
    int64_t t0 = hp_now_ms();
    for (int i = 0; i < 3; i++) {
        struct hp_resp r = hp_req(&srv, "GET", "/crm/v8/org", NULL, srv.token, NULL);
        assert_int_equal(r.status, 200);
        hp_resp_free(&r);
    }
    assert_true(hp_now_ms() - t0 < WAIT_MS);
    /* The idle ones are still open, and a half-sent request finishes when its bytes come. */
    assert_true(raw_quiet(idle[1], 0));
    raw_puts(idle[1], "ngth: 0\r\n\r\n");
    struct answer a;
    raw_answer(idle[1], false, &a);
    expect_status(&a, 401); /* no token: but served */
    answer_free(&a);
    for (int i = 0; i < IDLE; i++)
        raw_close(idle[i]);
}

/* A head sent a byte at a time moves the read timeout on with each byte; the whole head has its
 * own limit from its first byte (shortened here to 600 ms), so a trickling client cannot hold a
 * connection for ever. One that sends its head at once, even after waiting, is served. */
static void a_head_trickled_past_its_limit_ends_the_connection(void **state)
{
    (void)state;
    setenv("HERALD_TEST_HEAD_MS", "600", 1);
    struct hp p;
    hp_start(&p, NULL);
    unsetenv("HERALD_TEST_HEAD_MS");
    struct raw *slow = raw_open(p.port);
    raw_puts(slow, "GET /crm/v8/org HTTP/1.1\r\n");
    int64_t t0 = hp_now_ms();
    bool has_ended = false;
    /* A header byte every 100 ms: progress, but the head never ends. */
    while (!has_ended && hp_now_ms() - t0 < 5000) {
        if (send(slow->fd, "X", 1, MSG_NOSIGNAL) != 1)
            break;
        has_ended = raw_ends(slow, 100);
    }
    int64_t took = hp_now_ms() - t0;
    if (!has_ended && took < 5000)
        has_ended = raw_ends(slow, 1000); /* the send failed: the server had closed */
    if (!has_ended)
        fail_msg("a trickled head was still open after %lld ms", (long long)took);
    assert_true(took >= 500);
    raw_close(slow);
    /* Idle first, then the head at once: the limit runs from the head's first byte. */
    struct raw *late = raw_open(p.port);
    assert_true(raw_quiet(late, 800));
    raw_puts(late, "GET /crm/v8/org HTTP/1.1\r\nHost: x\r\n\r\n");
    struct answer a;
    raw_answer(late, false, &a);
    expect_status(&a, 401);
    answer_free(&a);
    raw_close(late);
    hp_cleanup(&p);
}

/* The DNS lookup that vets a notify URL named by a host name runs on a lookup thread, not the
 * HTTP thread: subscribes whose lookups hang (2 s each here) leave the rest of the API
 * answering at once, and are answered themselves when their lookups end. */
static void a_slow_notify_host_lookup_holds_no_other_request(void **state)
{
    (void)state;
    setenv("HERALD_TEST_RESOLVE_DELAY_MS", "2000", 1);
    struct hp p;
    hp_start(&p, "--allow-network 127.0.0.0/8");
    unsetenv("HERALD_TEST_RESOLVE_DELAY_MS");
    enum { SLOW = 3 };
    struct raw *slow[SLOW];
    for (int i = 0; i < SLOW; i++) {
        char body[256], head[512];
        snprintf(body, sizeof body,
                 "{\"watch\":[{\"channel_id\":\"%d\",\"events\":[\"Leads.create\"],"
                 "\"notify_url\":\"http://localhost:9/hook\"}]}",
                 700 + i);
        snprintf(head, sizeof head,
                 "POST /crm/v8/actions/watch HTTP/1.1\r\nHost: x\r\nAuthorization: "
                 "Zoho-oauthtoken %s\r\nContent-Length: %zu\r\n\r\n",
                 p.token, strlen(body));
        slow[i] = raw_open(p.port);
        raw_puts(slow[i], head);
        raw_puts(slow[i], body);
    }
    /* Every HTTP thread would be in a lookup by now if the lookups ran on them. */
    assert_true(raw_quiet(slow[0], 200));
    int64_t t0 = hp_now_ms();
    struct hp_resp r = hp_req(&p, "GET", "/crm/v8/org", NULL, p.token, NULL);
    int64_t took = hp_now_ms() - t0;
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    if (took > 1500)
        fail_msg("GET /org took %lld ms beside three slow lookups", (long long)took);
    for (int i = 0; i < SLOW; i++) {
        struct answer a;
        raw_answer(slow[i], false, &a);
        expect_status(&a, 201);
        assert_string_equal(hp_str(hp_at(a.json, "watch[0]"), "code"), "SUCCESS");
        answer_free(&a);
        raw_close(slow[i]);
    }
    hp_cleanup(&p);
}

/* utime + stime of a process, in clock ticks. */
static long cpu_ticks(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *p = strrchr(text, ')'); /* the fields after the command name */
    assert_non_null(p);
    long utime = 0, stime = 0;
    assert_int_equal(
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime), 2);
    return utime + stime;
}

/* Out of file descriptors, the server pauses accepting instead of spinning on the listening
 * socket (it stays readable), says so once, and serves again once descriptors free up. */
static void running_out_of_descriptors_pauses_accepting_without_spinning(void **state)
{
    (void)state;
    struct hp p;
    setenv("HP_NOFILE", "64", 1);
    hp_start(&p, NULL);
    unsetenv("HP_NOFILE");
    enum { N = 90 };
    struct raw *conns[N];
    for (int i = 0; i < N; i++)
        conns[i] = raw_open(p.port); /* the kernel completes them; the server cannot take all */
    assert_true(hp_log_wait(&p, "cannot accept connections", WAIT_MS));
    long t0 = cpu_ticks(p.pid);
    struct timespec window = {.tv_sec = 1}; /* a measuring window, not a wait for something */
    nanosleep(&window, NULL);
    long used = cpu_ticks(p.pid) - t0; /* a spinning thread would use about 100 ticks */
    if (used > 30)
        fail_msg("the server used %ld ticks of CPU in 1 s while out of descriptors", used);
    for (int i = 0; i < N; i++)
        raw_close(conns[i]);
    struct hp_resp r = {0};
    int64_t deadline = hp_now_ms() + WAIT_MS;
    do {
        hp_resp_free(&r);
        r = hp_req(&p, "GET", "/herald/v1/health", NULL, NULL, NULL);
    } while (r.status != 200 && hp_now_ms() < deadline);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    hp_cleanup(&p);
}

/* Past the connection limit (shrunk to 3 here from 10,000) a new connection is answered 503
 * SERVICE_UNAVAILABLE in Zoho's envelope, with Retry-After and Connection: close, and closed;
 * once one of the open ones ends, a new connection is served again. */
/* The descriptors (numbers) of process `pid`'s sockets that are established connections to its
 * own port `port` (/proc/net/tcp: local port, state 01, inode; /proc/PID/fd: socket:[inode]). */
static size_t server_conn_fds(pid_t pid, int port, int *fds, size_t max)
{
    unsigned long inodes[256];
    size_t inode_count = 0;
    FILE *f = fopen("/proc/net/tcp", "r");
    assert_non_null(f);
    char line[512];
    while (fgets(line, sizeof line, f) && inode_count < 256) {
        unsigned local_port = 0, state = 0;
        unsigned long inode = 0;
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu", &local_port,
                   &state, &inode) == 3 &&
            (int)local_port == port && state == 1)
            inodes[inode_count++] = inode;
    }
    fclose(f);
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < max;) {
        char path[320], target[64];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ssize_t k = readlink(path, target, sizeof target - 1);
        unsigned long inode = 0;
        if (k <= 0)
            continue;
        target[k] = '\0';
        if (sscanf(target, "socket:[%lu]", &inode) != 1)
            continue;
        for (size_t i = 0; i < inode_count; i++) {
            if (inodes[i] == inode)
                fds[n++] = atoi(e->d_name);
        }
    }
    closedir(d);
    return n;
}

/* How many of `fds` each epoll instance of process `pid` watches (/proc/PID/fdinfo lists a
 * "tfd:" line per descriptor an epoll watches); the counts of the instances watching any. */
static size_t conns_per_epoll(pid_t pid, const int *fds, size_t fd_count, int *counts, size_t max)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fdinfo", (int)pid);
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < max;) {
        char path[320], line[256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int count = 0;
        while (fgets(line, sizeof line, f)) {
            int tfd = -1;
            if (sscanf(line, "tfd: %d", &tfd) != 1)
                continue;
            for (size_t i = 0; i < fd_count; i++)
                count += fds[i] == tfd;
        }
        fclose(f);
        if (count)
            counts[n++] = count;
    }
    closedir(d);
    return n;
}

/* A client opening many connections at once: whichever request thread the listening socket
 * woke accepted every one waiting, so all of them were served by one thread while the other
 * idled. They are spread: each thread serves as many as any other, give or take one. */
static void connections_opened_at_once_are_spread_over_the_request_threads(void **state)
{
    (void)state;
    enum { CONNS = 16 };
    static const char health[] = "GET /herald/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
    struct raw *conns[CONNS];
    for (int i = 0; i < CONNS; i++)
        conns[i] = raw_open(srv.port);
    struct answer a;
    for (int i = 0; i < CONNS; i++) { /* answered: accepted and watched by its thread */
        raw_puts(conns[i], health);
        raw_answer(conns[i], false, &a);
        expect_status(&a, 200);
        answer_free(&a);
    }
    int fds[CONNS * 2], counts[16];
    size_t fd_count = server_conn_fds(srv.pid, srv.port, fds, CONNS * 2);
    assert_int_equal(fd_count, CONNS);
    size_t epolls = conns_per_epoll(srv.pid, fds, fd_count, counts, 16);
    assert_true(epolls >= 2);
    int least = CONNS, most = 0, total = 0;
    for (size_t i = 0; i < epolls; i++) {
        least = counts[i] < least ? counts[i] : least;
        most = counts[i] > most ? counts[i] : most;
        total += counts[i];
    }
    assert_int_equal(total, CONNS);
    if (most - least > 1)
        fail_msg("connections per request thread: %d to %d", least, most);
    for (int i = 0; i < CONNS; i++)
        raw_close(conns[i]);
}

/* A request the server itself refuses is logged with the code it was answered and the reason,
 * not only its status: "status=400 path=-" alone does not tell an operator what was wrong. */
static void a_refusal_is_logged_with_its_code_and_reason(void **state)
{
    (void)state;
    struct raw *c = raw_open(srv.port);
    raw_puts(c, "GET /herald/v1/health HTTP/1.1\r\nHost: x\r\n: no name\r\n\r\n");
    expect_refusal(c, 400, "INVALID_REQUEST");
    raw_close(c);
    assert_true(hp_log_wait(&srv, "status=400", WAIT_MS));
    assert_true(
        hp_log_wait(&srv, "code=INVALID_REQUEST reason=\"a header field has no name\"", WAIT_MS));
    c = raw_open(srv.port);
    raw_puts(c, "GET /crm/v8/org HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n");
    expect_refusal(c, 417, "EXPECTATION_FAILED");
    raw_close(c);
    assert_true(hp_log_wait(&srv, "status=417", WAIT_MS));
    assert_true(hp_log_wait(&srv, "code=EXPECTATION_FAILED reason=", WAIT_MS));
}

static void a_connection_past_the_limit_is_answered_503_and_closed(void **state)
{
    (void)state;
    enum { LIMIT = 3 };
    setenv("HERALD_TEST_MAX_CONNECTIONS", "3", 1);
    struct hp p;
    hp_start(&p, NULL);
    unsetenv("HERALD_TEST_MAX_CONNECTIONS");
    assert_true(hp_log_wait(&p, "connection limit set for a test", WAIT_MS));
    static const char health[] = "GET /herald/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
    struct raw *open_conns[LIMIT];
    struct answer a;
    for (int i = 0; i < LIMIT; i++) { /* each answered, so each is counted: kept alive */
        open_conns[i] = raw_open(p.port);
        raw_puts(open_conns[i], health);
        raw_answer(open_conns[i], false, &a);
        expect_status(&a, 200);
        answer_free(&a);
    }
    struct raw *extra = raw_open(p.port);
    raw_puts(extra, health);
    raw_answer(extra, false, &a);
    expect_status(&a, 503);
    char v[128];
    assert_true(header(&a, "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/json;charset=UTF-8");
    assert_true(header(&a, "Retry-After", v, sizeof v));
    assert_string_equal(v, "1");
    assert_true(header(&a, "Connection", v, sizeof v));
    assert_string_equal(v, "close");
    if (!a.json)
        fail_msg("the 503 is not JSON: %s", a.body);
    assert_string_equal(hp_str(a.json, "code"), "SERVICE_UNAVAILABLE");
    assert_string_equal(hp_str(a.json, "status"), "error");
    assert_non_null(hp_str(a.json, "message"));
    assert_true(json_is_object(json_object_get(a.json, "details")));
    answer_free(&a);
    assert_true(raw_ends(extra, WAIT_MS));
    raw_close(extra);
    assert_true(hp_log_wait(&p, "connection answered 503: too many open", WAIT_MS));
    /* The open ones are still served. */
    raw_puts(open_conns[0], health);
    raw_answer(open_conns[0], false, &a);
    expect_status(&a, 200);
    answer_free(&a);
    /* One ends: a new connection is served once the server has seen it end. */
    raw_close(open_conns[LIMIT - 1]);
    int64_t deadline = hp_now_ms() + WAIT_MS;
    int status = 0;
    do {
        struct raw *next = raw_open(p.port);
        raw_puts(next, health);
        raw_answer(next, false, &a);
        status = a.status;
        answer_free(&a);
        raw_close(next);
    } while (status == 503 && hp_now_ms() < deadline);
    assert_int_equal(status, 200);
    for (int i = 0; i < LIMIT - 1; i++)
        raw_close(open_conns[i]);
    hp_cleanup(&p);
}

/* Request bodies in memory are limited for all connections together: with the limit at 100,000
 * bytes, a connection holding 70,000 bytes of an unfinished body leaves no room for a 50,000-byte
 * one, which is answered 503 in Zoho's envelope with Retry-After (before, each of 10,000
 * connections could hold 16 MiB). Once the first connection ends, the same request is served. */
static void request_bodies_in_memory_past_the_limit_are_answered_503(void **state)
{
    (void)state;
    enum { HELD = 70000, SECOND = 50000 };
    setenv("HERALD_TEST_MAX_HELD_BODY_BYTES", "100000", 1);
    struct hp p;
    hp_start(&p, NULL);
    unsetenv("HERALD_TEST_MAX_HELD_BODY_BYTES");
    assert_true(hp_log_wait(&p, "request body memory limit set for a test", WAIT_MS));
    char head[640];
    static const char record[] = "{\"data\":[{\"Last_Name\":\"Held\"}]}";
    char *body = malloc(HELD + 1);
    assert_non_null(body);
    memset(body, ' ', HELD);

    /* The first connection sends all of its body but the last byte, and waits. */
    struct raw *holder = raw_open(p.port);
    snprintf(head, sizeof head,
             "POST /crm/v8/Leads HTTP/1.1\r\nHost: h\r\nAuthorization: Zoho-oauthtoken %s\r\n"
             "Content-Length: %d\r\n\r\n",
             p.token, HELD + 1);
    raw_puts(holder, head);
    raw_send(holder, body, HELD);
    assert_true(raw_quiet(holder, 300)); /* still reading it: no answer yet */

    /* A second body that does not fit beside it. */
    snprintf(head, sizeof head,
             "POST /crm/v8/Leads HTTP/1.1\r\nHost: h\r\nAuthorization: Zoho-oauthtoken %s\r\n"
             "Content-Length: %d\r\n\r\n",
             p.token, SECOND);
    struct raw *second = raw_open(p.port);
    raw_puts(second, head);
    raw_puts(second, record);
    raw_send(second, body, SECOND - strlen(record));
    struct answer a;
    raw_answer(second, false, &a);
    expect_status(&a, 503);
    char v[128];
    assert_true(header(&a, "Retry-After", v, sizeof v));
    assert_string_equal(v, "1");
    if (!a.json)
        fail_msg("the 503 is not JSON: %s", a.body);
    assert_string_equal(hp_str(a.json, "code"), "SERVICE_UNAVAILABLE");
    assert_string_equal(hp_str(a.json, "status"), "error");
    answer_free(&a);
    assert_true(raw_ends(second, WAIT_MS));
    raw_close(second);
    assert_true(hp_log_wait(&p, "request bodies in memory at the limit", WAIT_MS));

    /* The first one ends; its bytes are given back, and the same request is served. */
    raw_close(holder);
    int64_t deadline = hp_now_ms() + WAIT_MS;
    int status = 0;
    do {
        second = raw_open(p.port);
        raw_puts(second, head);
        raw_puts(second, record);
        raw_send(second, body, SECOND - strlen(record));
        raw_answer(second, false, &a);
        status = a.status;
        answer_free(&a);
        raw_close(second);
    } while (status == 503 && hp_now_ms() < deadline);
    assert_int_equal(status, 201);
    free(body);
    hp_cleanup(&p);
}

/* Reads keep no more answers in memory than the limit: a client that asks for a 6 MB list and
 * does not read it (its receive window kept small) holds that answer, and a read that comes
 * meanwhile is answered 503, while a write still runs. Once the holder goes, reads are served.
 * The answer is larger than the kernel's largest send buffer (tcp_wmem's 4 MB), so the server
 * cannot hand it all to the socket however the buffers grow: with 2 MB it sometimes did. */
static void reads_past_the_answers_in_memory_limit_are_answered_503(void **state)
{
    (void)state;
    enum { RECORDS = 200, DESCRIPTION = 30000, PER_POST = 25 }; /* 750 kB bodies */
    setenv("HERALD_TEST_MAX_HELD_BODY_BYTES", "1500000", 1);
    struct hp p;
    hp_start(&p, NULL);
    unsetenv("HERALD_TEST_MAX_HELD_BODY_BYTES");
    assert_true(hp_log_wait(&p, "request body memory limit set for a test", WAIT_MS));
    char *desc = malloc(DESCRIPTION + 1);
    assert_non_null(desc);
    memset(desc, 'd', DESCRIPTION);
    desc[DESCRIPTION] = '\0';
    for (int batch = 0; batch < RECORDS / PER_POST; batch++) {
        size_t cap = PER_POST * (DESCRIPTION + 64) + 32, at = 0;
        char *body = malloc(cap);
        assert_non_null(body);
        at += (size_t)snprintf(body + at, cap - at, "{\"data\":[");
        for (int i = 0; i < PER_POST; i++)
            at += (size_t)snprintf(body + at, cap - at,
                                   "%s{\"Last_Name\":\"Big %d\",\"Description\":\"%s\"}",
                                   i ? "," : "", i, desc);
        snprintf(body + at, cap - at, "]}");
        struct hp_resp r = hp_req(&p, "POST", "/crm/v8/Leads", body, p.token, NULL);
        assert_int_equal(r.status, 201);
        hp_resp_free(&r);
        free(body);
    }
    free(desc);

    /* The holder's receive window is small, so the server keeps most of its answer. */
    struct raw *holder = calloc(1, sizeof *holder);
    assert_non_null(holder);
    holder->fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    assert_int_equal(setsockopt(holder->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(holder->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char head[640];
    snprintf(head, sizeof head,
             "GET /crm/v8/Leads?fields=Last_Name,Description&per_page=200 HTTP/1.1\r\nHost: h\r\n"
             "Authorization: Zoho-oauthtoken %s\r\n\r\n",
             p.token);
    raw_puts(holder, head);
    struct pollfd pfd = {.fd = holder->fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, WAIT_MS), 1); /* its answer is being sent */

    snprintf(head, sizeof head,
             "GET /crm/v8/Leads?fields=Last_Name&per_page=1 HTTP/1.1\r\nHost: h\r\n"
             "Authorization: Zoho-oauthtoken %s\r\n\r\n",
             p.token);
    struct raw *reader = raw_open(p.port);
    raw_puts(reader, head);
    struct answer a;
    raw_answer(reader, false, &a);
    expect_status(&a, 503);
    char v[128];
    assert_true(header(&a, "Retry-After", v, sizeof v));
    assert_string_equal(v, "1");
    if (!a.json)
        fail_msg("the 503 is not JSON: %s", a.body);
    assert_string_equal(hp_str(a.json, "code"), "SERVICE_UNAVAILABLE");
    answer_free(&a);
    raw_close(reader);
    assert_true(hp_log_wait(&p, "answers in memory at the limit", WAIT_MS));

    /* A write runs meanwhile. */
    struct hp_resp w = hp_req(&p, "POST", "/crm/v8/Leads", "{\"data\":[{\"Last_Name\":\"Small\"}]}",
                              p.token, NULL);
    assert_int_equal(w.status, 201);
    hp_resp_free(&w);

    /* The holder goes; its answer's bytes are given back and the read is served. */
    raw_close(holder);
    int64_t deadline = hp_now_ms() + WAIT_MS;
    int status = 0;
    do {
        reader = raw_open(p.port);
        raw_puts(reader, head);
        raw_answer(reader, false, &a);
        status = a.status;
        answer_free(&a);
        raw_close(reader);
    } while (status == 503 && hp_now_ms() < deadline);
    assert_int_equal(status, 200);
    hp_cleanup(&p);
}

static void sigterm_with_a_kept_alive_connection_stops_cleanly_and_at_once(void **state)
{
    (void)state;
    struct hp other;
    hp_start(&other, NULL);
    struct raw *c = raw_open(other.port);
    struct raw *half = raw_open(other.port);
    raw_puts(c, "GET /herald/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    struct answer a;
    raw_answer(c, false, &a);
    expect_status(&a, 200);
    answer_free(&a);
    raw_puts(half, "GET /herald/v1/health HTTP/1.1\r\nHo");
    int64_t t0 = hp_now_ms();
    assert_int_equal(hp_stop(&other), 0);
    /* Idle connections do not hold the 10 s grace period for requests in progress. */
    assert_true(hp_now_ms() - t0 < 5000);
    assert_true(hp_log_wait(&other, "stopped cleanly", 1000));
    assert_true(raw_ends(c, WAIT_MS));
    raw_close(c);
    raw_close(half);
    hp_cleanup(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_byte_order_mark_before_the_json_is_skipped),
        cmocka_unit_test(a_chunked_body_with_extensions_and_trailers_creates_the_record),
        cmocka_unit_test(expect_100_continue_comes_before_the_body_and_not_for_a_too_large_one),
        cmocka_unit_test(a_bad_token_is_refused_before_the_body),
        cmocka_unit_test(a_token_one_byte_off_the_last_one_is_refused),
        cmocka_unit_test(a_401_names_the_schemes_it_takes),
        cmocka_unit_test(expect_100_continue_is_ignored_for_http_1_0),
        cmocka_unit_test(pipelined_requests_are_answered_in_order),
        cmocka_unit_test(a_request_fed_byte_by_byte_is_served),
        cmocka_unit_test(http_1_0_closes_unless_asked_to_keep_alive),
        cmocka_unit_test(a_half_closed_client_gets_its_answer_and_the_end),
        cmocka_unit_test(protocol_errors_answer_the_zoho_envelope_and_close),
        cmocka_unit_test(a_content_length_of_any_size_over_the_limit_is_413),
        cmocka_unit_test(what_cannot_start_a_request_is_refused_at_once_and_a_huge_url_is_414),
        cmocka_unit_test(head_has_get_content_length_and_no_body),
        cmocka_unit_test(absolute_targets_are_served_and_encoded_slashes_do_not_split),
        cmocka_unit_test(answers_have_date_and_content_length_and_204_has_no_body),
        cmocka_unit_test(an_encoded_newline_in_the_path_cannot_write_a_log_line),
        cmocka_unit_test(query_strings_are_percent_and_plus_decoded),
        cmocka_unit_test(a_query_value_with_an_encoded_nul_is_refused_not_cut_short),
        cmocka_unit_test(idle_and_half_sent_clients_do_not_stop_others),
        cmocka_unit_test(a_head_trickled_past_its_limit_ends_the_connection),
        cmocka_unit_test(a_slow_notify_host_lookup_holds_no_other_request),
        cmocka_unit_test(running_out_of_descriptors_pauses_accepting_without_spinning),
        cmocka_unit_test(a_refusal_is_logged_with_its_code_and_reason),
        cmocka_unit_test(a_connection_past_the_limit_is_answered_503_and_closed),
        cmocka_unit_test(request_bodies_in_memory_past_the_limit_are_answered_503),
        cmocka_unit_test(reads_past_the_answers_in_memory_limit_are_answered_503),
        cmocka_unit_test_setup_teardown(
            connections_opened_at_once_are_spread_over_the_request_threads, setup, teardown),
        cmocka_unit_test(sigterm_with_a_kept_alive_connection_stops_cleanly_and_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
