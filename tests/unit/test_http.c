/* Pure parts of the HTTP layer: route matching and scope checks; and the server's start. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "core/wakes.h"
#include "http/http.h"

static void h_a(struct http_req *r)
{
    (void)r;
}

static void h_b(struct http_req *r)
{
    (void)r;
}

static const struct http_route routes[] = {
    {"GET", "crm/{v}/actions/watch", h_a, "x"},
    {"POST", "crm/{v}/actions/watch", h_b, "x"},
    {"GET", "crm/{v}/*", h_b, "x"},
    {"DELETE", "crm/{v}/*/*", h_b, "x"},
    {"GET", "crm/{v}/settings/modules", h_a, "x"},
    {0},
};

static enum http_match find(const char *method, const char *path, const struct http_route **out)
{
    static char buf[256];
    char *segs[HTTP_MAX_SEGS];
    size_t n = 0;
    strncpy(buf, path, sizeof buf - 1);
    for (char *save = NULL, *s = strtok_r(buf, "/", &save); s; s = strtok_r(NULL, "/", &save))
        segs[n++] = s;
    static struct http_routes *rt;
    if (!rt)
        rt = http_routes_compile(routes); /* kept for the whole run */
    return http_routes_find(rt, method, segs, n, out);
}

static void literal_routes_beat_wildcards(void **state)
{
    (void)state;
    const struct http_route *r = NULL;
    assert_int_equal(find("GET", "crm/v8/actions/watch", &r), HTTP_MATCH_OK);
    assert_ptr_equal(r, &routes[0]);
    assert_int_equal(find("GET", "crm/v2.1/Leads", &r), HTTP_MATCH_OK);
    assert_ptr_equal(r, &routes[2]);
}

static void known_path_with_other_method_is_no_method(void **state)
{
    (void)state;
    const struct http_route *r = NULL;
    assert_int_equal(find("DELETE", "crm/v8/settings/modules", &r), HTTP_MATCH_NO_METHOD);
    assert_int_equal(find("PATCH", "crm/v8/actions/watch", &r), HTTP_MATCH_NO_METHOD);
}

static void unknown_version_or_path_is_404(void **state)
{
    (void)state;
    const struct http_route *r = NULL;
    assert_int_equal(find("GET", "crm/v9/actions/watch", &r), HTTP_MATCH_NO_PATH);
    assert_int_equal(find("GET", "crm/v8/a/b/c", &r), HTTP_MATCH_NO_PATH);
    assert_int_equal(find("GET", "other", &r), HTTP_MATCH_NO_PATH);
}

/* Every route of the server's own table is found by a path built from its pattern ("*" an
 * identifier no pattern spells), under its method; and one segment more or less finds nothing
 * with that method. */
static void every_api_route_is_found_by_its_own_path(void **state)
{
    (void)state;
    struct http_routes *rt = http_routes_compile(api_routes);
    size_t count = 0;
    for (const struct http_route *want = api_routes; want->pattern; want++, count++) {
        char buf[256], v8[] = "v8", any[] = "x9", extra[] = "extra";
        char *segs[HTTP_MAX_SEGS + 1];
        size_t n = 0;
        strncpy(buf, want->pattern, sizeof buf - 1);
        buf[sizeof buf - 1] = 0;
        for (char *save = NULL, *s = strtok_r(buf, "/", &save); s; s = strtok_r(NULL, "/", &save))
            segs[n++] = strcmp(s, "{v}") == 0 ? v8 : strcmp(s, "*") == 0 ? any : s;
        const struct http_route *got = NULL;
        assert_int_equal(http_routes_find(rt, want->method, segs, n, &got), HTTP_MATCH_OK);
        assert_string_equal(got->pattern, want->pattern);
        assert_string_equal(got->method, want->method);
        segs[n] = extra;
        assert_int_not_equal(http_routes_find(rt, "TRACE", segs, n + 1, &got), HTTP_MATCH_OK);
    }
    assert_true(count > 20);
    http_routes_free(rt);
}

static void versions_v2_to_v8_are_valid(void **state)
{
    (void)state;
    const char *ok[] = {"v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"};
    for (size_t i = 0; i < 8; i++)
        assert_true(http_version_valid(ok[i]));
    assert_false(http_version_valid("v1"));
    assert_false(http_version_valid("v9"));
    assert_false(http_version_valid("V8"));
}

static void scopes_compare_case_insensitively(void **state)
{
    (void)state;
    const char *acc = "ZohoCRM.notifications.ALL,ZohoCRM.notifications.READ";
    assert_true(http_scope_allows("zohocrm.notifications.read", acc, NULL));
    assert_true(http_scope_allows("a, ZohoCRM.notifications.ALL ", acc, NULL));
    assert_false(http_scope_allows("ZohoCRM.notifications.WRITE", acc, NULL));
    assert_false(http_scope_allows("", acc, NULL));
    assert_false(http_scope_allows("ZohoCRM.notifications.AL", acc, NULL));
}

static void module_placeholder_matches_the_module_segment(void **state)
{
    (void)state;
    const char *acc = "ZohoCRM.modules.ALL,ZohoCRM.modules.{M}.READ";
    assert_true(http_scope_allows("ZohoCRM.modules.leads.READ", acc, "Leads"));
    assert_false(http_scope_allows("ZohoCRM.modules.Deals.READ", acc, "Leads"));
    assert_true(http_scope_allows("ZohoCRM.modules.all", acc, "Leads"));
    assert_false(http_scope_allows("ZohoCRM.modules.Leads.READX", acc, "Leads"));
}

/* Zoho's scopes page spells module scopes in lower case without underscores (modules.salesorders,
 * modules.pricebooks, modules.purchaseorders): a token given Zoho's spelling was refused every
 * Sales_Orders request. The "__s" of a system module's API name may be left out too. */
static void module_scopes_take_zohos_spelling_of_the_module(void **state)
{
    (void)state;
    const char *acc = "ZohoCRM.modules.ALL,ZohoCRM.modules.{M}.READ";
    assert_true(http_scope_allows("ZohoCRM.modules.salesorders.READ", acc, "Sales_Orders"));
    assert_true(http_scope_allows("ZohoCRM.modules.PriceBooks.read", acc, "Price_Books"));
    assert_true(http_scope_allows("ZohoCRM.modules.purchaseorders.READ", acc, "Purchase_Orders"));
    assert_true(http_scope_allows("ZohoCRM.modules.Sales_Orders.READ", acc, "Sales_Orders"));
    assert_true(http_scope_allows("ZohoCRM.modules.appointments.READ", acc, "Appointments__s"));
    assert_true(http_scope_allows("ZohoCRM.modules.Appointments__s.READ", acc, "Appointments__s"));
    assert_false(http_scope_allows("ZohoCRM.modules.salesorder.READ", acc, "Sales_Orders"));
    assert_false(http_scope_allows("ZohoCRM.modules.salesorders.READ", acc, "Purchase_Orders"));
    assert_false(http_scope_allows("ZohoCRM.modules.salesorders.CREATE", acc, "Sales_Orders"));
    assert_false(http_scope_allows("ZohoCRM.modules.salesorders", acc, "Sales_Orders"));
    assert_false(http_scope_allows("ZohoCRM.modules..READ", acc, "Sales_Orders"));
    assert_false(http_scope_allows("ZohoCRM.modules._.READ", acc, "Sales_Orders"));
}

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

struct bound_seen {
    int threads_before;
    int calls;
    int port;
    int threads_then;
};

static void on_bound(void *arg, int port)
{
    struct bound_seen *seen = arg;
    seen->calls++;
    seen->port = port;
    seen->threads_then = thread_count();
}

/* serve writes the api_domain (with the port bound) in this hook: the request threads read it
 * with no lock, so it must be written before they exist. */
static void bound_hook_sees_the_port_before_any_request_thread(void **state)
{
    (void)state;
    struct bound_seen seen = {.threads_before = thread_count()};
    struct http_config cfg = {
        .host = "127.0.0.1", .port = 0, .threads = 2, .bound = on_bound, .bound_arg = &seen};
    struct http_server *srv = NULL;
    assert_int_equal(http_server_start(&cfg, routes, NULL, &srv), HERALD_OK);
    int port = http_server_port(srv);
    http_server_stop(srv, 0);
    assert_int_equal(seen.calls, 1);
    assert_true(port > 0);
    assert_int_equal(seen.port, port);
    assert_int_equal(seen.threads_then, seen.threads_before);
}

static void nap_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void h_slow(struct http_req *r)
{
    nap_ms(600);
    http_respond_empty(r, 204);
}

static const struct http_route slow_routes[] = {
    {"GET", "slow", h_slow, NULL},
    {0},
};

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void *stop_main(void *srv)
{
    http_server_stop(srv, 5000);
    return NULL;
}

/* While a stop waits for a request in progress, new connections are refused at once (the
 * listening socket is shut down then, and closed only once the request threads are joined). */
static void a_stopping_server_refuses_new_connections_and_finishes_its_request(void **state)
{
    (void)state;
    struct http_config cfg = {.host = "127.0.0.1", .port = 0, .threads = 2};
    struct http_server *srv = NULL;
    assert_int_equal(http_server_start(&cfg, slow_routes, NULL, &srv), HERALD_OK);
    int port = http_server_port(srv);
    int fd = connect_to(port);
    assert_true(fd >= 0);
    static const char get[] = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(fd, get, sizeof get - 1), (ssize_t)(sizeof get - 1));
    nap_ms(200); /* the handler is running */
    pthread_t stopper;
    assert_int_equal(pthread_create(&stopper, NULL, stop_main, srv), 0);
    nap_ms(100);
    assert_int_equal(connect_to(port), -1);
    assert_int_equal(errno, ECONNREFUSED);
    char answer[512];
    ssize_t n = read(fd, answer, sizeof answer - 1);
    assert_true(n > 12);
    answer[n] = '\0';
    assert_memory_equal(answer, "HTTP/1.1 204", 12);
    close(fd);
    pthread_join(stopper, NULL);
}

/* A request answered from a thread that holds its wakes (the store's writer answers a batch so),
 * the wake written only some time after the answer was queued. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct http_req *req;
    bool is_answered;
} held_answer = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, false};

static void h_held(struct http_req *r)
{
    pthread_mutex_lock(&held_answer.mu);
    held_answer.req = r;
    pthread_cond_broadcast(&held_answer.cv);
    pthread_mutex_unlock(&held_answer.mu);
}

static const struct http_route held_routes[] = {
    {"GET", "held", h_held, NULL},
    {0},
};

static void *answer_held_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&held_answer.mu);
    while (!held_answer.req)
        pthread_cond_wait(&held_answer.cv, &held_answer.mu);
    pthread_mutex_unlock(&held_answer.mu);
    nap_ms(100); /* the handler has returned: the answer is queued, not sent by it */
    wakes_hold();
    http_respond_empty(held_answer.req, 204);
    pthread_mutex_lock(&held_answer.mu);
    held_answer.is_answered = true;
    pthread_cond_broadcast(&held_answer.cv);
    pthread_mutex_unlock(&held_answer.mu);
    nap_ms(400); /* the rest of the batch */
    wakes_release();
    return NULL;
}

/* A stop while an answer's wake is held: the stop's own wake sends the answer, and the stop
 * waits for the held wake to be written before it closes the request threads' eventfds. It
 * closed them at once, and the wake went into whatever file took the number next. */
static void a_stop_waits_for_a_held_wake_before_closing_its_eventfds(void **state)
{
    (void)state;
    struct http_config cfg = {.host = "127.0.0.1", .port = 0, .threads = 2};
    struct http_server *srv = NULL;
    assert_int_equal(http_server_start(&cfg, held_routes, NULL, &srv), HERALD_OK);
    pthread_t answerer;
    assert_int_equal(pthread_create(&answerer, NULL, answer_held_main, NULL), 0);
    int fd = connect_to(http_server_port(srv));
    assert_true(fd >= 0);
    static const char get[] = "GET /held HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(fd, get, sizeof get - 1), (ssize_t)(sizeof get - 1));
    pthread_mutex_lock(&held_answer.mu);
    while (!held_answer.is_answered)
        pthread_cond_wait(&held_answer.cv, &held_answer.mu);
    pthread_mutex_unlock(&held_answer.mu);
    http_server_stop(srv, 5000);
    /* New files take the numbers the stop freed, as a server's next connections would. */
    enum { N = 32 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = eventfd(0, EFD_NONBLOCK);
        assert_true(fds[i] >= 0);
    }
    pthread_join(answerer, NULL);
    for (int i = 0; i < N; i++) {
        uint64_t v = 0;
        if (read(fds[i], &v, sizeof v) == (ssize_t)sizeof v)
            fail_msg("a wake was written into fd %d, opened after the stop", fds[i]);
        close(fds[i]);
    }
    char answer[512];
    ssize_t n = read(fd, answer, sizeof answer - 1);
    assert_true(n > 12);
    assert_memory_equal(answer, "HTTP/1.1 204", 12);
    close(fd);
}

/* The request thread that answered the last GET /who. */
static pthread_t who_thread;
static pthread_mutex_t who_mu = PTHREAD_MUTEX_INITIALIZER;

static void h_who(struct http_req *r)
{
    pthread_mutex_lock(&who_mu);
    who_thread = pthread_self();
    pthread_mutex_unlock(&who_mu);
    http_respond_empty(r, 204);
}

static const struct http_route who_routes[] = {
    {"GET", "who", h_who, NULL},
    {"GET", "slow", h_slow, NULL},
    {0},
};

/* Sends GET `path` on `fd`; the answer's status, 0 when the connection ended without one. */
static int ask(int fd, const char *path)
{
    char req[128], answer[512];
    int len = snprintf(req, sizeof req, "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    if (write(fd, req, (size_t)len) != len)
        return 0;
    ssize_t n = read(fd, answer, sizeof answer - 1);
    if (n < 12)
        return 0;
    answer[n] = '\0';
    return atoi(answer + 9);
}

static void *slow_main(void *arg)
{
    intptr_t status = ask((int)(intptr_t)arg, "slow");
    return (void *)status;
}

/* A connection accepted before a stop, its request sent, and handed to a request thread that
 * takes it only after the stop began, is answered, as one the accepting thread keeps is: it was
 * closed unread (the client saw a reset, not knowing whether the request was done). */
static void a_connection_handed_over_before_a_stop_is_answered(void **state)
{
    (void)state;
    struct http_config cfg = {.host = "127.0.0.1", .port = 0, .threads = 2};
    struct http_server *srv = NULL;
    assert_int_equal(http_server_start(&cfg, who_routes, NULL, &srv), HERALD_OK);
    int port = http_server_port(srv);
    /* Three connections, two on one thread (busy) and one on the other (x). */
    int fds[3];
    pthread_t threads[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = connect_to(port);
        assert_true(fds[i] >= 0);
        assert_int_equal(ask(fds[i], "who"), 204);
        pthread_mutex_lock(&who_mu);
        threads[i] = who_thread;
        pthread_mutex_unlock(&who_mu);
    }
    int on_first = 0;
    for (int i = 0; i < 3; i++)
        on_first += pthread_equal(threads[i], threads[0]) != 0;
    assert_true(on_first == 1 || on_first == 2);
    int x = -1; /* the connection alone on its thread */
    for (int i = 0; i < 3; i++) {
        int same = 0;
        for (int k = 0; k < 3; k++)
            same += pthread_equal(threads[i], threads[k]) != 0;
        if (same == 1)
            x = i;
    }
    assert_true(x >= 0);
    /* x's thread runs a slow handler: the other accepts the next connection and, serving more,
     * hands it to x's, which takes it once the handler returns, the stop begun meanwhile. */
    pthread_t slow;
    assert_int_equal(pthread_create(&slow, NULL, slow_main, (void *)(intptr_t)fds[x]), 0);
    nap_ms(100);
    int late = connect_to(port);
    assert_true(late >= 0);
    static const char who[] = "GET /who HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(late, who, sizeof who - 1), (ssize_t)(sizeof who - 1));
    nap_ms(100);
    pthread_t stopper;
    assert_int_equal(pthread_create(&stopper, NULL, stop_main, srv), 0);
    char answer[512];
    ssize_t n = read(late, answer, sizeof answer - 1);
    if (n < 12)
        fail_msg("the connection handed over ended without an answer (%zd, %s)", n,
                 n < 0 ? strerror(errno) : "closed");
    assert_memory_equal(answer, "HTTP/1.1 204", 12);
    void *slow_status = NULL;
    pthread_join(slow, &slow_status);
    assert_int_equal((intptr_t)slow_status, 204);
    pthread_join(stopper, NULL);
    close(late);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_routes_beat_wildcards),
        cmocka_unit_test(known_path_with_other_method_is_no_method),
        cmocka_unit_test(unknown_version_or_path_is_404),
        cmocka_unit_test(every_api_route_is_found_by_its_own_path),
        cmocka_unit_test(versions_v2_to_v8_are_valid),
        cmocka_unit_test(scopes_compare_case_insensitively),
        cmocka_unit_test(module_placeholder_matches_the_module_segment),
        cmocka_unit_test(module_scopes_take_zohos_spelling_of_the_module),
        cmocka_unit_test(bound_hook_sees_the_port_before_any_request_thread),
        cmocka_unit_test(a_stopping_server_refuses_new_connections_and_finishes_its_request),
        cmocka_unit_test(a_stop_waits_for_a_held_wake_before_closing_its_eventfds),
        cmocka_unit_test(a_connection_handed_over_before_a_stop_is_answered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
