/* Integration test harness: runs the real build/herald on 127.0.0.1:0 with a temporary SQLite
 * database, talks to it over real HTTP with libcurl, and receives callbacks on a real local
 * libmicrohttpd receiver. Every wait is bounded and awaits a condition, never a fixed sleep. */
#ifndef HERALD_TESTS_HARNESS_H
#define HERALD_TESTS_HARNESS_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
// clang-format off
#include <setjmp.h>
#include <cmocka.h>
// clang-format on

struct hp {
    pid_t pid;
    int port;
    char base[64]; /* http://127.0.0.1:PORT */
    char dir[256]; /* temporary directory, removed by hp_cleanup */
    char db[300];
    char log[300];    /* the server's stderr */
    char token[256];  /* a token with every scope */
    char extra[1024]; /* extra serve flags used by hp_start/hp_restart */
};

struct hp_resp {
    long status;
    char *body;
    size_t body_len;
    json_t *json; /* parsed body or NULL */
    char content_type[128];
};

/* Runs `herald ARGS...` (NULL-terminated) and returns its exit status; its stdout is copied into
 * out (may be NULL) and its stderr into err (may be NULL). */
int hp_cli(const struct hp *p, char *out, size_t out_len, char *err, size_t err_len, ...);
/* The same for a command that may not end by itself (such as serve): one still running after
 * timeout_ms is killed, and the status is -1. */
int hp_cli_within(int timeout_ms, char *out, size_t out_len, char *err, size_t err_len, ...);
/* Creates a temp dir and database, a token with every scope, and starts the server with
 * `extra_flags` (space-separated, may be NULL). Fails the test if it does not start in 20 s. */
void hp_start(struct hp *p, const char *extra_flags);
/* hp_start's temp dir and paths only: no database, token or server yet (start with
 * hp_restart). */
void hp_prepare(struct hp *p, const char *extra_flags);
/* Starts the server again on the same database (after hp_stop or hp_kill). */
void hp_restart(struct hp *p);
/* SIGTERM, waits (bounded) and returns the exit status; -1 if it had to be killed. */
int hp_stop(struct hp *p);
/* SIGKILL, and reaps it. */
void hp_kill(struct hp *p);
/* Stops the server if running and removes the temp dir. */
void hp_cleanup(struct hp *p);
/* Creates a token with these scopes (comma list). Returns a static buffer copy in out. */
void hp_token(const struct hp *p, const char *scopes, char *out, size_t out_len);
/* True when the server's log contains `needle`, waiting up to timeout_ms for it. */
bool hp_log_wait(const struct hp *p, const char *needle, int timeout_ms);
/* The same, copying the rest of the first line holding it (after `needle`) into rest. */
bool hp_log_wait_line(const struct hp *p, const char *needle, char *rest, size_t rest_len,
                      int timeout_ms);
/* The first column of the first row `sql` gives on the server's database, read beside it. */
long long hp_db_value(const struct hp *p, const char *sql);
/* Runs `sql` on the server's database beside it (the test's own connection). */
void hp_db_exec(const struct hp *p, const char *sql);
/* How many lines of the server's log hold `needle`, now. */
size_t hp_log_count(const struct hp *p, const char *needle);

/* One HTTP request. token NULL sends no Authorization header; body NULL sends none. Extra headers
 * are "Name: value" strings, NULL-terminated list or NULL. Returns the response (free with
 * hp_resp_free). */
struct hp_resp hp_req(const struct hp *p, const char *method, const char *path, const char *body,
                      const char *token, const char *const *headers);
/* The same to any absolute URL. */
/* Subscribes channels first..first+count-1 to `event` at `url`, in one watch request. */
void hp_watch_many(const struct hp *p, int first, int count, const char *event, const char *url);
struct hp_resp hp_req_url(const char *method, const char *url, const char *body, size_t body_len,
                          const char *auth_header, const char *const *headers);
void hp_resp_free(struct hp_resp *r);
/* Asserts the response is Zoho's error envelope with this status and code. */
void hp_assert_error(const struct hp_resp *r, long status, const char *code);
/* json_pack-like helpers: a string property of an object (NULL when absent). */
const char *hp_str(const json_t *obj, const char *key);
/* Dotted/indexed path lookup: hp_at(json, "watch[0].details.events[1].channel_id"). */
json_t *hp_at(json_t *root, const char *path);

/* A callback receiver: a real HTTP server on 127.0.0.1:0 recording every request. */
struct rx_request {
    char method[8];
    char path[512]; /* path and query as received */
    char *body;
    size_t body_len;
    json_t *json;
    char *headers; /* "name: value\n" lines, lowercase names */
    int64_t at_ms; /* monotonic receipt time */
};

struct receiver;
/* Starts a receiver; `statuses` (may be NULL) is a comma list of the statuses to answer in
 * order ("500,500,200"; "429+2" adds Retry-After: 2); after it runs out, 200. */
struct receiver *rx_start(const char *statuses);
/* The same on a given port (0: any free one), such as one a stopped receiver had. */
struct receiver *rx_start_at(const char *statuses, int port);
int rx_port(const struct receiver *r);
/* Answers every request to `path` (its query aside) with `status`, whatever the status list
 * says; the list goes on for the other paths. */
void rx_fail_path(struct receiver *r, const char *path, int status);
/* A listening TCP socket on 127.0.0.1, a free port, for the tests' raw receivers: returns the
 * socket and sets *port (fails the test when it cannot). */
int hp_listen_loopback(int backlog, int *port);
/* URL of the receiver with `path_and_query` appended ("/hook?a=b"). */
void rx_url(const struct receiver *r, const char *path_and_query, char *out, size_t out_len);
/* Waits up to timeout_ms until at least `count` requests arrived; returns the number seen. */
size_t rx_wait(struct receiver *r, size_t count, int timeout_ms);
size_t rx_count(struct receiver *r);
/* The i-th request (borrowed until rx_stop). */
const struct rx_request *rx_get(struct receiver *r, size_t i);
/* The value of header `name` (lowercase) of a request, copied into out; false if absent. */
bool rx_header(const struct rx_request *req, const char *name, char *out, size_t out_len);
/* Makes the receiver delay its answers by delay_ms (0 = none) or hold them (-1) until it is
 * given a delay again (the requests held are then answered) or stops. */
void rx_set_delay(struct receiver *r, int delay_ms);
/* The most requests the receiver has had received and not yet answered at once. */
size_t rx_open_max(struct receiver *r);
/* The body the receiver answers with: its usual short one, one that never ends (chunked, until
 * the client closes), 10 of the 1,000 bytes its Content-Length announces before it closes, or
 * text that is not UTF-8: "caf\xe9" (Latin-1), 'x's up to byte 255, then a UTF-8 "é" whose second
 * byte is the 257th, past the 256-byte response prefix Herald keeps. */
enum rx_body { RX_BODY_OK, RX_BODY_ENDLESS, RX_BODY_TRUNCATED, RX_BODY_NOT_UTF8 };
void rx_set_body(struct receiver *r, enum rx_body body);
void rx_stop(struct receiver *r);

int64_t hp_now_ms(void);

#endif
