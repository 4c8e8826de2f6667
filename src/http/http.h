/* The HTTP layer: an HTTP/1.1 server of its own (an epoll loop per request thread), a route
 * table, authentication and scope checks, request bodies with limits, and JSON responses in
 * Zoho's envelope. Handlers may answer at once or later from another thread (the connection
 * waits meanwhile, holding no thread), so a request waiting for a group commit holds no thread.
 * It knows nothing of CRM resources. */
#ifndef HERALD_HTTP_HTTP_H
#define HERALD_HTTP_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

#define HTTP_MAX_SEGS 8

/* Who is calling: filled by the authenticate callback for routes that need a token. */
struct http_identity {
    int64_t org_id;
    int64_t user_id;
    int64_t token_id;
    char *scopes; /* comma-separated; owned by the request */
};

struct http_req {
    const char *method;
    const char *path;          /* URL path without the query string */
    const char *version;       /* "v8" for /crm/v8/..., else NULL */
    char *segs[HTTP_MAX_SEGS]; /* path segments (decoded), owned by the request */
    size_t seg_count;
    const char *body; /* request body (NUL-terminated), may be empty */
    size_t body_len;
    struct http_identity who;
    void *app;              /* the pointer given to http_server_start */
    struct http_conn *conn; /* internal */
};

typedef void http_handler_fn(struct http_req *req);

/* A route: `pattern` is a path of '/'-separated segments where "{v}" matches an API version
 * (v2 v2.1 v3 v4 v5 v6 v7 v8) and "*" any one segment. `scopes` lists the token scopes that may
 * call it (comma-separated, case-insensitive, "{M}" stands for the segment after the version);
 * NULL means no authentication. Tables end with a zeroed entry. */
struct http_route {
    const char *method;
    const char *pattern;
    http_handler_fn *handler;
    const char *scopes;
};

/* Looks a plain token up. Returns HERALD_OK and fills `who` (scopes owned by the caller after),
 * HERALD_ERR_NOT_FOUND for an unknown or revoked token, or another error (→ 500). */
typedef enum herald_err http_auth_fn(void *app, const char *token, struct http_identity *who);

struct http_config {
    const char *host; /* numeric address or name to bind */
    int port;         /* 0 picks a free port */
    size_t max_body_bytes;
    unsigned threads; /* request threads; 0: one per online CPU, 2 to 16 */
    int head_ms;      /* a request head must arrive whole this long after its first byte; 0: 30 s */
    /* Open client connections at most; one past them is answered 503 and closed. 0: 10,000. */
    int max_connections;
    /* Request bodies and answers held in memory by all connections together, in bytes: a body
     * that would take the bodies' total past it, or a read (GET, HEAD) arriving while bodies and
     * answers together are past it, is answered 503 and its connection closed. Answers never
     * refuse a write. Without it, every connection could hold max_body_bytes at once (10,000 ×
     * 16 MiB), or an unread 6.4 MB list. 0: 256 MiB. Keep it at least max_body_bytes, or a body
     * the server accepts alone may never fit. */
    size_t max_held_body_bytes;
    http_auth_fn *authenticate;
    /* Called with bound_arg and the port actually bound, after binding and before any request
     * thread starts: what requests read and depends on the port (0 picks it) is set there,
     * written before every reader exists. NULL: none. */
    void (*bound)(void *bound_arg, int port);
    void *bound_arg;
};

struct http_server;

/* Starts serving `routes` (borrowed, must outlive the server). Returns HERALD_OK and *out, or
 * HERALD_ERR_IO when the address cannot be bound (logged). */
enum herald_err http_server_start(const struct http_config *cfg, const struct http_route *routes,
                                  void *app, struct http_server **out);
/* The port actually bound (useful with port 0). */
int http_server_port(const struct http_server *srv);
/* Stops accepting, waits up to `grace_ms` for requests in progress, then stops. NULL is a no-op. */
void http_server_stop(struct http_server *srv, int grace_ms);

/* Query parameter `key` (decoded) or NULL. Only valid while the handler runs. */
const char *http_req_query(struct http_req *req, const char *key);
/* A request header or NULL. Only valid while the handler runs. */
const char *http_req_header(struct http_req *req, const char *name);
/* Parses the body as JSON (duplicate keys, invalid UTF-8 and trailing garbage rejected). On
 * failure answers 400 INVALID_DATA itself and returns NULL; the caller just returns. */
json_t *http_req_json(struct http_req *req);

/* Answering. Exactly one respond call per request, from any thread. Bodies are taken. */
void http_respond_json(struct http_req *req, int status, json_t *body);
void http_respond_raw(struct http_req *req, int status, char *body, size_t len);
void http_respond_empty(struct http_req *req, int status);
/* Answers with the JSON text render(arg, out, &status) appends to out, rendered later on the
 * connection's own thread: for answers decided on the writer thread, which should not spend
 * its time on JSON. render runs exactly once; out is NULL when the client went away
 * meanwhile (render then only frees what arg holds). */
typedef void http_render_fn(void *arg, struct buf *out, int *status);
void http_respond_later(struct http_req *req, http_render_fn *render, void *arg);
/* Zoho's envelope {"code","details","message","status":"error"}; details taken, NULL → {}. */
void http_respond_error(struct http_req *req, int status, const char *code, const char *message,
                        json_t *details);

/* Pure helpers, exposed for tests. */
/* True when some scope in `have` (comma list) equals some scope in `accept` (comma list, "{M}"
 * replaced by `module`), ignoring case. */
bool http_scope_allows(const char *have, const char *accept, const char *module);
/* True when `v` is an API version segment this server answers. */
bool http_version_valid(const char *v);
enum http_match { HTTP_MATCH_OK, HTTP_MATCH_NO_PATH, HTTP_MATCH_NO_METHOD };
/* A route table compiled for lookups; `table` (ending with a zeroed entry) must outlive it. */
struct http_routes;
struct http_routes *http_routes_compile(const struct http_route *table);
/* NULL is a no-op. */
void http_routes_free(struct http_routes *rt);
/* Finds the route for a method and path segments: the most specific pattern wins (literal
 * segments beat "*"); a path that some pattern matches under another method is NO_METHOD. */
enum http_match http_routes_find(const struct http_routes *rt, const char *method,
                                 char *const *segs, size_t seg_count,
                                 const struct http_route **out);

#endif
