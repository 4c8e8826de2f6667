/* libmicrohttpd glue: collects the body within its limit, routes, authenticates, calls the
 * handler, and queues the answer, at once or after resuming a suspended connection. Invariant:
 * MHD_queue_response is only called from the access handler, on the connection's thread. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "core/zjson.h"
#include "http/http.h"

#define CONTENT_TYPE "application/json;charset=UTF-8"

struct http_server {
    struct MHD_Daemon *mhd;
    const struct http_route *routes;
    void *app;
    struct http_config cfg;
    int port;
    int listen_fd;
    atomic_int active; /* requests received and not yet completed */
};

struct http_conn {
    struct http_req req;
    struct http_server *srv;
    struct MHD_Connection *mhd;
    struct buf body;
    bool is_too_big;
    bool is_dispatched;
    bool is_suspended;
    bool has_resp;
    pthread_mutex_t mu;
    int status;
    char *resp;
    size_t resp_len;
    http_render_fn *render; /* set: the answer is rendered on this connection's thread */
    void *render_arg;
    struct timespec start;
    char *method;
    char *path;
};

static void conn_free(struct http_conn *c)
{
    if (c->render) { /* never sent: the client went away; render to free what it holds */
        int status = 0;
        c->render(c->render_arg, NULL, &status);
    }
    for (size_t i = 0; i < c->req.seg_count; i++)
        free(c->req.segs[i]);
    free(c->req.who.scopes);
    buf_fini(&c->body);
    free(c->resp);
    free(c->method);
    free(c->path);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Stores the answer and wakes the connection if it was suspended. Takes `body`. */
static void respond(struct http_req *req, int status, char *body, size_t len)
{
    struct http_conn *c = req->conn;
    pthread_mutex_lock(&c->mu);
    if (c->has_resp) {
        pthread_mutex_unlock(&c->mu);
        log_error("msg=\"second response ignored\" path=%s status=%d", c->path, status);
        free(body);
        return;
    }
    c->status = status;
    c->resp = body;
    c->resp_len = len;
    c->has_resp = true;
    if (c->is_suspended) {
        c->is_suspended = false;
        MHD_resume_connection(c->mhd);
    }
    pthread_mutex_unlock(&c->mu);
}

void http_respond_later(struct http_req *req, http_render_fn *render, void *arg)
{
    struct http_conn *c = req->conn;
    pthread_mutex_lock(&c->mu);
    if (c->has_resp) {
        pthread_mutex_unlock(&c->mu);
        log_error("msg=\"second response ignored\" path=%s", c->path);
        int status = 0;
        render(arg, NULL, &status);
        return;
    }
    c->render = render;
    c->render_arg = arg;
    c->has_resp = true;
    if (c->is_suspended) {
        c->is_suspended = false;
        MHD_resume_connection(c->mhd);
    }
    pthread_mutex_unlock(&c->mu);
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

const char *http_req_query(struct http_req *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn->mhd, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_req_header(struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn->mhd, MHD_HEADER_KIND, name);
}

json_t *http_req_json(struct http_req *req)
{
    json_error_t jerr;
    json_t *root = NULL;
    if (req->body_len > 0)
        root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (root)
        return root;
    json_t *details = json_object();
    if (req->body_len == 0) {
        json_object_set_new(details, "reason", json_string("the request body is empty"));
    } else {
        json_object_set_new(details, "reason", json_string(jerr.text));
        json_object_set_new(details, "line", json_integer(jerr.line));
        json_object_set_new(details, "column", json_integer(jerr.column));
    }
    http_respond_error(req, 400, "INVALID_DATA", "the request body is not valid JSON", details);
    return NULL;
}

static bool split_path(struct http_conn *c, const char *url)
{
    const char *p = url;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (c->req.seg_count == HTTP_MAX_SEGS)
            return false;
        c->req.segs[c->req.seg_count++] = xstrndup(p, len);
        p += len;
    }
    return true;
}

static void authenticate_and_run(struct http_conn *c, const struct http_route *route)
{
    struct http_req *req = &c->req;
    if (route->scopes) {
        const char *auth = http_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!auth || !*auth) {
            http_respond_error(req, 401, "AUTHENTICATION_FAILURE", "Authentication failed", NULL);
            return;
        }
        const char *token = NULL;
        if (strncasecmp(auth, "Zoho-oauthtoken ", 16) == 0)
            token = auth + 16;
        else if (strncasecmp(auth, "Bearer ", 7) == 0)
            token = auth + 7;
        while (token && *token == ' ')
            token++;
        /* A field value excludes trailing whitespace (RFC 9110 §5.5); libmicrohttpd keeps it. */
        size_t token_len = token ? strlen(token) : 0;
        while (token_len && (token[token_len - 1] == ' ' || token[token_len - 1] == '\t'))
            token_len--;
        if (!token_len || token_len > 512) {
            http_respond_error(req, 401, "INVALID_TOKEN", "invalid oauth token", NULL);
            return;
        }
        char trimmed[513];
        memcpy(trimmed, token, token_len);
        trimmed[token_len] = '\0';
        enum herald_err err = c->srv->cfg.authenticate(req->app, trimmed, &req->who);
        if (err == HERALD_ERR_NOT_FOUND) {
            http_respond_error(req, 401, "INVALID_TOKEN", "invalid oauth token", NULL);
            return;
        }
        if (err) {
            http_respond_error(req, 500, "INTERNAL_ERROR", "Internal Server Error", NULL);
            return;
        }
        const char *module = req->version && req->seg_count > 2 ? req->segs[2] : NULL;
        if (!http_scope_allows(req->who.scopes, route->scopes, module)) {
            http_respond_error(req, 401, "OAUTH_SCOPE_MISMATCH",
                               "invalid oauth scope to access this URL", NULL);
            return;
        }
    }
    route->handler(req);
}

static void dispatch(struct http_conn *c)
{
    struct http_req *req = &c->req;
    req->body = c->body.data ? c->body.data : "";
    req->body_len = c->body.len;
    if (c->is_too_big) {
        json_t *d = json_pack("{s:I}", "maximum_length", (json_int_t)c->srv->cfg.max_body_bytes);
        http_respond_error(req, 413, "REQUEST_ENTITY_TOO_LARGE",
                           "the request body is larger than the server accepts", d);
        return;
    }
    if (!split_path(c, c->path)) {
        http_respond_error(req, 404, "INVALID_URL_PATTERN",
                           "Please check if the URL trying to access is a correct one", NULL);
        return;
    }
    if (req->seg_count >= 2 && strcmp(req->segs[0], "crm") == 0)
        req->version = req->segs[1];
    /* HEAD is GET without the body (RFC 9110 §9.1: general-purpose servers support both);
     * libmicrohttpd leaves the body out and keeps the headers, Content-Length included. */
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    const struct http_route *route = NULL;
    switch (http_route_find(c->srv->routes, method, req->segs, req->seg_count, &route)) {
    case HTTP_MATCH_OK:
        authenticate_and_run(c, route);
        break;
    case HTTP_MATCH_NO_METHOD:
        /* Zoho answers a known URL with the wrong method 400, not 405 (Kaizen #25). */
        http_respond_error(req, 400, "INVALID_REQUEST_METHOD",
                           "The http request method type is not a valid one", NULL);
        break;
    case HTTP_MATCH_NO_PATH:
        http_respond_error(req, 404, "INVALID_URL_PATTERN",
                           "Please check if the URL trying to access is a correct one", NULL);
        break;
    }
}

static enum MHD_Result queue(struct http_conn *c)
{
    if (c->render) {
        http_render_fn *render = c->render;
        c->render = NULL;
        int status = 500;
        struct buf out;
        buf_init(&out);
        render(c->render_arg, &out, &status);
        c->status = status;
        c->resp = buf_steal(&out, &c->resp_len);
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(c->resp_len, c->resp, MHD_RESPMEM_MUST_FREE);
    c->resp = NULL; /* MHD frees it */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
    enum MHD_Result ret = MHD_queue_response(c->mhd, (unsigned)c->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mhd, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct http_server *srv = cls;
    struct http_conn *c = *con_cls;
    if (!c) {
        c = xcalloc(1, sizeof *c);
        pthread_mutex_init(&c->mu, NULL);
        clock_gettime(CLOCK_MONOTONIC, &c->start);
        c->srv = srv;
        c->mhd = mhd;
        c->method = xstrdup(method);
        c->path = xstrdup(url);
        c->req.method = c->method;
        c->req.path = c->path;
        c->req.app = srv->app;
        c->req.conn = c;
        buf_init(&c->body);
        const char *cl =
            MHD_lookup_connection_value(mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > srv->cfg.max_body_bytes)
            c->is_too_big = true;
        atomic_fetch_add(&srv->active, 1);
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!c->is_too_big) {
            if (c->body.len + *upload_data_size > srv->cfg.max_body_bytes) {
                c->is_too_big = true;
                buf_fini(&c->body);
            } else {
                buf_append(&c->body, upload_data, *upload_data_size);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!c->is_dispatched) {
        c->is_dispatched = true;
        dispatch(c);
    }
    pthread_mutex_lock(&c->mu);
    if (c->has_resp) {
        pthread_mutex_unlock(&c->mu);
        return queue(c);
    }
    c->is_suspended = true;
    MHD_suspend_connection(mhd);
    pthread_mutex_unlock(&c->mu);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *mhd, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)mhd;
    struct http_server *srv = cls;
    struct http_conn *c = *con_cls;
    if (!c)
        return;
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    long long us = (long long)(end.tv_sec - c->start.tv_sec) * 1000000 +
                   (end.tv_nsec - c->start.tv_nsec) / 1000;
    log_info("msg=request method=%s path=%s status=%d duration_ms=%lld.%03lld%s", c->method,
             c->path, c->has_resp ? c->status : 0, us / 1000, us % 1000,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=true");
    conn_free(c);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->active, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_warn("msg=\"http: %s\"", line);
}

/* Requests never wait on a commit in their thread (they are suspended), so more threads than
 * CPUs only add switches between them: on 2 CPUs, 2 threads took 8% less CPU per create than 4
 * (6 alternating runs of wrk, 32 connections). At least 2, so one slow read does not hold all. */
static unsigned request_threads(const struct http_config *cfg)
{
    if (cfg->threads)
        return cfg->threads;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 2 ? 2u : cpus > 16 ? 16u : (unsigned)cpus;
}

enum herald_err http_server_start(const struct http_config *cfg, const struct http_route *routes,
                                  void *app, struct http_server **out)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof port, "%d", cfg->port);
    int rc = getaddrinfo(cfg->host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        log_error("msg=\"cannot resolve listen address\" host=%s error=\"%s\"", cfg->host,
                  gai_strerror(rc));
        return HERALD_ERR_IO;
    }
    struct http_server *srv = xcalloc(1, sizeof *srv);
    srv->routes = routes;
    srv->app = app;
    srv->cfg = *cfg;
    srv->listen_fd = -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->mhd = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE,
        request_threads(cfg), MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_CONNECTION_LIMIT,
        10000u,
        /* A connection's pool holds the request head and I/O buffers; MHD zeroes all of it for
         * each request on a kept-alive connection. 16 KiB (default 32) still takes 15 KB of
         * headers and halves that memset (26k instructions a request, callgrind). */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->mhd) {
        log_error("msg=\"cannot listen\" host=%s port=%d", cfg->host, cfg->port);
        free(srv);
        return HERALD_ERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : cfg->port;
    *out = srv;
    return HERALD_OK;
}

int http_server_port(const struct http_server *srv)
{
    return srv->port;
}

void http_server_stop(struct http_server *srv, int grace_ms)
{
    if (!srv)
        return;
    srv->listen_fd = MHD_quiesce_daemon(srv->mhd);
    for (int waited = 0; atomic_load(&srv->active) > 0 && waited < grace_ms; waited += 10) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&srv->active) > 0)
        log_warn("msg=\"stopping with requests in progress\" count=%d", atomic_load(&srv->active));
    MHD_stop_daemon(srv->mhd);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    free(srv);
}
