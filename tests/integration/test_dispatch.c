/* Delivery you can trust, over real HTTP: Retry-After on 429 and 503, 410 Gone disabling the
 * channel, one copy in flight per notification (the lease), a dead destination not slowing a
 * healthy one (per-destination limits and circuit), SSRF refusals at subscribe and at connect
 * time, and signatures with the current secret and each one retired within its 24 hours. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/timefmt.h"
#include "deliver/sign.h"

static struct hp srv;

static int setup(void **state)
{
    (void)state;
    hp_start(&srv, "--allow-network 127.0.0.0/8 --retry-schedule 0s,100ms,100ms,100ms");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hp_cleanup(&srv);
    return 0;
}

/* Starts a server of the test's own with one test hook set in its environment. */
static void hp_start_with(struct hp *p, const char *hook, const char *value, const char *flags)
{
    setenv(hook, value, 1);
    hp_start(p, flags);
    unsetenv(hook);
}

/* Subscribes one channel on server p to one event. */
static void watch_at(struct hp *p, const char *channel, const char *event, const char *url)
{
    char body[2048];
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"%s\",\"events\":[\"%s\"],\"notify_url\":\"%s\"}]}",
             channel, event, url);
    struct hp_resp r = hp_req(p, "POST", "/crm/v8/actions/watch", body, p->token, NULL);
    if (r.status != 201)
        fail_msg("watch failed: %ld %s", r.status, r.body);
    hp_resp_free(&r);
}

static void watch(const char *channel, const char *event, const char *url)
{
    watch_at(&srv, channel, event, url);
}

/* Disables a channel a test subscribed, so later tests' inserts do not reach its receiver. */
static void unwatch(const char *channel)
{
    char path[128];
    snprintf(path, sizeof path, "/crm/v8/actions/watch?channel_ids=%s", channel);
    struct hp_resp r = hp_req(&srv, "DELETE", path, NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
}

/* Inserts one record into `module` on server p with its mandatory field; returns when
 * acknowledged. */
static int64_t insert_at(struct hp *p, const char *module, const char *field)
{
    char path[64], body[256];
    snprintf(path, sizeof path, "/crm/v8/%s", module);
    snprintf(body, sizeof body, "{\"data\":[{\"%s\":\"x\"}]}", field);
    struct hp_resp r = hp_req(p, "POST", path, body, p->token, NULL);
    if (r.status != 201)
        fail_msg("insert failed: %ld %s", r.status, r.body);
    hp_resp_free(&r);
    return hp_now_ms();
}

static int64_t insert(const char *module, const char *field)
{
    return insert_at(&srv, module, field);
}

static void retry_after_on_429_and_503_is_honoured(void **state)
{
    (void)state;
    /* The schedule says 100 ms; the receiver says 1 s, twice. */
    struct receiver *rx = rx_start("429+1,503+1,200");
    char url[256];
    rx_url(rx, "/busy", url, sizeof url);
    watch("7001", "Vendors.create", url);
    insert("Vendors", "Vendor_Name");
    assert_int_equal(rx_wait(rx, 3, 10000), 3);
    assert_true(rx_get(rx, 1)->at_ms - rx_get(rx, 0)->at_ms >= 900);
    assert_true(rx_get(rx, 2)->at_ms - rx_get(rx, 1)->at_ms >= 900);
    rx_stop(rx);
}

/* Retries keep the schedule (100 ms apart here, ±20%), not the dispatcher's once-a-second look
 * at the outbox. */
static void retries_follow_the_schedule(void **state)
{
    (void)state;
    struct receiver *rx = rx_start("500,500,500");
    char url[256];
    rx_url(rx, "/flaky", url, sizeof url);
    watch("7014", "Accounts.create", url);
    insert("Accounts", "Account_Name");
    assert_int_equal(rx_wait(rx, 4, 10000), 4);
    int64_t span = rx_get(rx, 3)->at_ms - rx_get(rx, 0)->at_ms;
    fprintf(stderr, "three retries took %lld ms\n", (long long)span);
    assert_true(span < 1500); /* 3 x 100 ms, with room for a loaded machine */
    unwatch("7014");
    rx_stop(rx);
}

static void gone_disables_the_channel(void **state)
{
    (void)state;
    struct receiver *rx = rx_start("410");
    char url[256];
    rx_url(rx, "/gone", url, sizeof url);
    watch("7002", "Campaigns.create", url);
    insert("Campaigns", "Campaign_Name");
    assert_int_equal(rx_wait(rx, 1, 10000), 1);
    /* The channel disappears (bounded wait), and later inserts send nothing. */
    int64_t deadline = hp_now_ms() + 5000;
    long status = 200;
    while (status != 204 && hp_now_ms() < deadline) {
        struct hp_resp r =
            hp_req(&srv, "GET", "/crm/v8/actions/watch?channel_id=7002", NULL, srv.token, NULL);
        status = r.status;
        hp_resp_free(&r);
        if (status != 204)
            rx_wait(rx, 100, 20);
    }
    assert_int_equal(status, 204);
    insert("Campaigns", "Campaign_Name");
    assert_int_equal(rx_wait(rx, 2, 700), 1);
    assert_true(hp_log_wait(&srv, "410 Gone", 1000));
    rx_stop(rx);
}

/* The channel moves to a new URL while a notification to its old one is still being retried.
 * The old URL's 410 is about the old URL: the channel, and a notification waiting to be retried
 * at its new URL, carry on. */
static void gone_from_a_url_the_channel_left_keeps_the_channel(void **state)
{
    (void)state;
    struct receiver *old = rx_start("500,410");
    struct receiver *moved = rx_start("503+3");
    char url[256], body[1024];
    rx_url(old, "/old", url, sizeof url);
    watch("7010", "Solutions.create", url);
    rx_set_delay(old, 1500); /* the first answer (500) comes late: time to move the channel */
    insert("Solutions", "Solution_Title");
    assert_int_equal(rx_wait(old, 1, 10000), 1);
    rx_url(moved, "/moved", url, sizeof url);
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"7010\",\"events\":[\"Solutions.create\"],"
             "\"notify_url\":\"%s\"}]}",
             url);
    struct hp_resp r = hp_req(&srv, "PUT", "/crm/v8/actions/watch", body, srv.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    rx_set_delay(old, 0);
    /* Committed for the new URL; answered 503 Retry-After 3, so it is pending when the old URL
     * answers 410. */
    insert("Solutions", "Solution_Title");
    assert_int_equal(rx_wait(moved, 1, 10000), 1);
    assert_int_equal(rx_wait(old, 2, 10000), 2);
    assert_int_equal(rx_wait(moved, 2, 10000), 2);
    r = hp_req(&srv, "GET", "/crm/v8/actions/watch?channel_id=7010", NULL, srv.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    insert("Solutions", "Solution_Title");
    assert_int_equal(rx_wait(moved, 3, 10000), 3);
    assert_true(hp_log_wait(&srv, "410 Gone from a URL the channel no longer uses", 5000));
    unwatch("7010");
    rx_stop(old);
    rx_stop(moved);
}

/* Subscribes `channel` to Products.create on a receiver answering 200 with `body`, inserts a
 * product, and checks the one attempt was recorded as delivered with status 200. */
/* A channel's deliveries (newest first) once `count` of them are delivered; waits up to 5 s,
 * then fails the test. Free with json_decref. */
static json_t *await_delivered(struct hp *p, const char *channel, size_t count)
{
    char path[128];
    snprintf(path, sizeof path, "/herald/v1/deliveries?channel_id=%s", channel);
    int64_t deadline = hp_now_ms() + 5000;
    for (;;) {
        struct hp_resp r = hp_req(p, "GET", path, NULL, p->token, NULL);
        assert_int_equal(r.status, 200);
        json_t *list = hp_at(r.json, "deliveries");
        size_t delivered = 0;
        for (size_t i = 0; i < json_array_size(list); i++)
            delivered += strcmp(hp_str(json_array_get(list, i), "status"), "delivered") == 0;
        if (delivered >= count) {
            json_incref(list);
            hp_resp_free(&r);
            return list;
        }
        if (hp_now_ms() > deadline)
            fail_msg("channel %s: %zu of %zu delivered after 5 s: %s", channel, delivered, count,
                     r.body);
        hp_resp_free(&r);
        usleep(20000);
    }
}

static void expect_delivered_once_with(enum rx_body body, const char *channel)
{
    struct receiver *rx = rx_start(NULL);
    rx_set_body(rx, body);
    char url[256];
    rx_url(rx, "/body", url, sizeof url);
    watch(channel, "Products.create", url);
    insert("Products", "Product_Name");
    assert_int_equal(rx_wait(rx, 1, 10000), 1);
    json_t *list = await_delivered(&srv, channel, 1);
    json_t *attempt = hp_at(json_array_get(list, 0), "attempts[0]");
    assert_non_null(attempt);
    assert_int_equal(json_integer_value(json_object_get(attempt, "http_status")), 200);
    assert_int_equal(strlen(hp_str(attempt, "response")), body == RX_BODY_ENDLESS ? 256 : 10);
    json_decref(list);
    assert_int_equal(rx_wait(rx, 2, 300), 1); /* no retry sent a copy */
    unwatch(channel);
    rx_stop(rx);
}

/* A 200 whose body never ends is a 200: the body is read up to a bound and the attempt ends
 * there, instead of running into the 15 s limit and being retried as a failure. */
static void an_endless_response_body_is_cut_and_its_status_kept(void **state)
{
    (void)state;
    expect_delivered_once_with(RX_BODY_ENDLESS, "7011");
}

/* A 200 whose body stops short of its Content-Length is still the subscriber's 200. */
static void a_truncated_response_body_keeps_its_status(void **state)
{
    (void)state;
    expect_delivered_once_with(RX_BODY_TRUNCATED, "7012");
}

/* A receiver on a raw socket that answers each request with `head` (bytes no HTTP library
 * would send) and, with `filler`, then sends it over and over (at most 10 s, or until the client
 * closes the connection or the test stops it): a chunked answer whose framing never ends, such
 * as an endless chunk extension or endless trailers. Without `filler`, the connection waits for
 * its next request. */
struct streamer {
    int listen_fd;
    int port;
    const char *head, *filler;
    atomic_int answers, closed_by_client;
    atomic_bool is_stopping;
    pthread_t thread;
};

static bool read_request(int fd);

static void *streamer_main(void *arg)
{
    struct streamer *s = arg;
    while (!atomic_load(&s->is_stopping)) {
        struct pollfd p = {.fd = s->listen_fd, .events = POLLIN};
        if (poll(&p, 1, 50) != 1)
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        while (read_request(fd) && send(fd, s->head, strlen(s->head), MSG_NOSIGNAL) > 0) {
            atomic_fetch_add(&s->answers, 1);
            if (!s->filler)
                continue;
            size_t len = strlen(s->filler);
            int64_t until = hp_now_ms() + 10000;
            while (!atomic_load(&s->is_stopping) && hp_now_ms() < until) {
                struct pollfd out = {.fd = fd, .events = POLLOUT};
                if (poll(&out, 1, 50) != 1)
                    continue;
                if (send(fd, s->filler, len, MSG_NOSIGNAL) < 0) {
                    atomic_fetch_add(&s->closed_by_client, 1);
                    break;
                }
            }
            break;
        }
        close(fd);
    }
    return NULL;
}

static void streamer_start(struct streamer *s, const char *head, const char *filler)
{
    memset(s, 0, sizeof *s);
    s->head = head;
    s->filler = filler;
    s->listen_fd = hp_listen_loopback(16, &s->port);
    assert_int_equal(pthread_create(&s->thread, NULL, streamer_main, s), 0);
}

static void streamer_stop(struct streamer *s)
{
    atomic_store(&s->is_stopping, true);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

/* A 200 whose chunked framing never ends (`head`, then `filler` forever) while a callback to
 * another destination is due: that callback goes out at once, and the endless answer is read
 * only up to the 64 KiB bound (its connection closed, its 200 kept, one attempt). The framing
 * was read without limit: the attempt ran to its 15 s limit, and with a fast sender reading
 * drained the socket before the dispatcher did anything else, so every destination waited for
 * as long as that sender kept sending (here the 10 s it gives itself). */
static void expect_endless_framing_is_cut(struct hp *p, struct streamer *s, const char *channel,
                                          const char *head, const char *filler)
{
    streamer_start(s, head, filler);
    struct receiver *healthy = rx_start(NULL);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/endless", s->port);
    watch_at(p, channel, "Contacts.create", url);
    rx_url(healthy, "/healthy", url, sizeof url);
    watch_at(p, "7015", "Leads.create", url);
    insert_at(p, "Contacts", "Last_Name");
    int64_t deadline = hp_now_ms() + 5000;
    while (!atomic_load(&s->answers) && hp_now_ms() < deadline)
        usleep(5000);
    assert_int_equal(atomic_load(&s->answers), 1);
    size_t before = rx_count(healthy);
    int64_t sent = insert_at(p, "Leads", "Last_Name");
    size_t got = rx_wait(healthy, before + 1, 3000);
    fprintf(stderr, "a callback elsewhere took %lld ms while an answer streamed\n",
            (long long)(hp_now_ms() - sent));
    assert_int_equal(got, before + 1);
    json_t *list = await_delivered(p, channel, 1);
    json_t *n = json_array_get(list, 0);
    assert_int_equal(json_array_size(json_object_get(n, "attempts")), 1);
    assert_int_equal(json_integer_value(hp_at(n, "attempts[0].http_status")), 200);
    assert_true(json_integer_value(hp_at(n, "attempts[0].duration_ms")) < 3000);
    json_decref(list);
    deadline = hp_now_ms() + 3000; /* the connection was closed, not read to the end */
    while (!atomic_load(&s->closed_by_client) && hp_now_ms() < deadline)
        usleep(5000);
    assert_int_equal(atomic_load(&s->closed_by_client), 1);
    if (p == &srv) {
        unwatch(channel);
        unwatch("7015");
    }
    streamer_stop(s);
    rx_stop(healthy);
}

static void an_endless_chunk_extension_holds_no_other_destination(void **state)
{
    (void)state;
    static struct streamer s; /* outlives a failed assertion: its thread reads it */
    static char filler[16384];
    memset(filler, 'e', sizeof filler - 1);
    expect_endless_framing_is_cut(
        &srv, &s, "7016", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;", filler);
}

static void endless_trailers_hold_no_other_destination(void **state)
{
    (void)state;
    static struct streamer s; /* outlives a failed assertion: its thread reads it */
    expect_endless_framing_is_cut(
        &srv, &s, "7017", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n",
        "X-Trailer: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
}

/* libcurl's path (https://) reads the endless trailers to the same bound: they reach its header
 * callback, which counts them. It read them to the attempt's 15 s limit. (An endless chunk
 * extension reaches no callback: libcurl reads it to that limit, and the 200 stands.) */
static void endless_trailers_are_cut_on_the_libcurl_path_too(void **state)
{
    (void)state;
    static struct streamer s; /* outlives a failed assertion: its thread reads it */
    struct hp p;
    hp_start_with(&p, "HERALD_TEST_CURL_ONLY", "1", "--allow-network 127.0.0.0/8");
    expect_endless_framing_is_cut(
        &p, &s, "7017", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n",
        "X-Trailer: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
}

/* An interim answer's headers are not the final answer's: a Retry-After on a 100 Continue
 * before a 503 is not the 503's, and the retry keeps the schedule (100 ms here), on the own
 * client and on libcurl's path alike. libcurl hands the interim headers to the same callback,
 * and that path waited the interim's 20 s. */
static void retry_after_of_an_interim_answer_is_not_the_final_ones_at(struct hp *p,
                                                                      const char *channel)
{
    static struct streamer s; /* outlives a failed assertion: its thread reads it */
    streamer_start(&s,
                   "HTTP/1.1 100 Continue\r\nRetry-After: 20\r\n\r\n"
                   "HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbusy",
                   NULL);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/interim", s.port);
    watch_at(p, channel, "Deals.create", url);
    struct hp_resp r =
        hp_req(p, "POST", "/crm/v8/Deals",
               "{\"data\":[{\"Deal_Name\":\"d\",\"Stage\":\"Qualification\"}]}", p->token, NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    int64_t deadline = hp_now_ms() + 3000;
    while (atomic_load(&s.answers) < 2 && hp_now_ms() < deadline)
        usleep(5000);
    fprintf(stderr, "%s: %d answers in 3 s\n", channel, atomic_load(&s.answers));
    assert_true(atomic_load(&s.answers) >= 2);
    streamer_stop(&s);
}

static void retry_after_of_an_interim_answer_is_not_the_final_ones(void **state)
{
    (void)state;
    retry_after_of_an_interim_answer_is_not_the_final_ones_at(&srv, "7018");
    struct hp p;
    hp_start_with(&p, "HERALD_TEST_CURL_ONLY", "1",
                  "--allow-network 127.0.0.0/8 --retry-schedule 0s,100ms,100ms,100ms");
    retry_after_of_an_interim_answer_is_not_the_final_ones_at(&p, "7019");
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
}

static void a_slow_receiver_gets_one_copy(void **state)
{
    (void)state;
    struct receiver *slow = rx_start(NULL);
    struct receiver *fast = rx_start(NULL);
    char url[256];
    rx_url(slow, "/slow", url, sizeof url);
    watch("7003", "Price_Books.create", url);
    rx_url(fast, "/fast", url, sizeof url);
    watch("7004", "Tasks.create", url);
    rx_set_delay(slow, 2500);
    insert("Price_Books", "Price_Book_Name");
    assert_int_equal(rx_wait(slow, 1, 5000), 1);
    /* While the slow attempt is in flight the claim loop runs many times. */
    for (int i = 0; i < 20; i++)
        insert("Tasks", "Subject");
    assert_int_equal(rx_wait(fast, 20, 10000), 20);
    /* Well past the slow answer: still exactly one copy. */
    assert_int_equal(rx_wait(slow, 2, 3500), 1);
    rx_stop(slow);
    rx_stop(fast);
}

/* A server of its own with the dispatcher's limits shrunk to `limits` (HERALD_TEST_DISPATCH), one
 * channel on Leads.create to a receiver answering after delay_ms, and n leads inserted. */
static struct receiver *limited_burst(struct hp *p, const char *limits, int delay_ms,
                                      const char *channel, int n)
{
    hp_start_with(p, "HERALD_TEST_DISPATCH", limits, "--allow-network 127.0.0.0/8");
    struct receiver *rx = rx_start(NULL);
    rx_set_delay(rx, delay_ms);
    char url[256];
    rx_url(rx, "/burst", url, sizeof url);
    watch_at(p, channel, "Leads.create", url);
    for (int i = 0; i < n; i++)
        insert_at(p, "Leads", "Last_Name");
    return rx;
}

/* More notifications than the dispatcher may hold (limits shrunk by the test hook): the rest
 * keep only their ids and are claimed by id when room frees. Every one arrives, once. */
static void an_overflowing_dispatcher_delivers_each_notification_once(void **state)
{
    (void)state;
    struct hp p;
    enum { N = 40 };
    /* The receiver holds what it gets until all N are committed, so the dispatcher overflows
     * however fast the inserts go. */
    struct receiver *rx = limited_burst(&p, "2,2,2", -1, "7100", N);
    assert_true(hp_log_wait(&p, "dispatcher full", 5000));
    rx_set_delay(rx, 0);
    assert_int_equal(rx_wait(rx, N, 20000), N);
    /* Nothing more comes, and the N webhook-ids are distinct. */
    assert_int_equal(rx_wait(rx, N + 1, 1000), N);
    char ids[N][48];
    for (size_t i = 0; i < N; i++) {
        assert_true(rx_header(rx_get(rx, i), "webhook-id", ids[i], sizeof ids[i]));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(ids[i], ids[j]);
    }
    struct hp_resp r = hp_req(&p, "GET", "/herald/v1/deliveries?status=delivered&per_page=200",
                              NULL, p.token, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(hp_at(r.json, "deliveries")), N);
    hp_resp_free(&r);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* A clean stop leaves no lease behind: the notifications the full dispatcher kept as ids only
 * (handed off leased) are given back with those queued and in flight, so the history shows them
 * due and a resend need not wait for their lease's end. They went out at the next start only
 * because it voids every lease first. */
static void a_clean_stop_leaves_no_lease_behind(void **state)
{
    (void)state;
    struct hp p;
    enum { N = 20 };
    struct receiver *rx = limited_burst(&p, "2,2,2", 200, "7110", N);
    assert_true(hp_log_wait(&p, "dispatcher full", 5000));
    assert_int_equal(hp_stop(&p), 0);
    assert_int_equal(hp_db_value(&p, "SELECT count(*) FROM notifications WHERE lease_until_ms > 0"),
                     0);
    assert_int_equal(hp_db_value(&p, "SELECT count(*) FROM notifications WHERE status IN (0, 1)"),
                     N);
    assert_true(hp_db_value(&p, "SELECT count(*) FROM notifications WHERE status = 0") > 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* A notify host whose DNS answers slowly holds only its own notifications: names are looked up
 * on the resolver thread, so a callback to another destination goes out meanwhile (with the
 * lookup on the dispatcher's thread it waited the whole 3 s). */
static void a_slow_dns_lookup_holds_no_other_destination(void **state)
{
    (void)state;
    struct hp p;
    hp_start_with(&p, "HERALD_TEST_RESOLVE_DELAY_MS", "3000",
                  "--allow-network 127.0.0.0/8 --allow-network ::1/128");
    struct receiver *slow = rx_start(NULL);
    struct receiver *fast = rx_start(NULL);
    char slow_url[256], fast_url[256];
    snprintf(slow_url, sizeof slow_url, "http://localhost:%d/slow", rx_port(slow));
    rx_url(fast, "/fast", fast_url, sizeof fast_url);
    watch_at(&p, "7200", "Leads.create", slow_url);
    watch_at(&p, "7201", "Contacts.create", fast_url);
    insert_at(&p, "Leads", "Last_Name");
    int64_t sent = hp_now_ms();
    insert_at(&p, "Contacts", "Last_Name");
    assert_int_equal(rx_wait(fast, 1, 10000), 1);
    int64_t took = hp_now_ms() - sent;
    if (took >= 2000)
        fail_msg("the callback to 127.0.0.1 waited %lld ms behind a slow lookup", (long long)took);
    /* The slow name's notification arrives too, once its lookup is done. */
    assert_int_equal(rx_wait(slow, 1, 15000), 1);
    assert_true(hp_now_ms() - sent >= 2500);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(slow);
    rx_stop(fast);
}

/* A receiver that keeps a connection for one answer only: it answers the first request on a
 * connection 200 (keep-alive, as HTTP/1.1 allows) and closes the connection, unanswered, when
 * a second request comes on it, as a server does whose idle timeout ran out just as the request
 * arrived. */
struct one_shot {
    int listen_fd;
    int port;
    atomic_int requests, answers;
    atomic_bool is_stopping;
    pthread_t thread;
};

/* Reads one request head and its Content-Length body, keeping its target in `path` (when not
 * NULL); false at EOF or on an error. */
static bool read_request_path(int fd, char *path, size_t path_len)
{
    char in[65536];
    size_t len = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) != 1)
            return false;
        ssize_t n = recv(fd, in + len, sizeof in - 1 - len, 0);
        if (n <= 0)
            return false;
        len += (size_t)n;
        in[len] = '\0';
        char *end = strstr(in, "\r\n\r\n");
        const char *cl = strstr(in, "Content-Length: ");
        if (end && cl && len >= (size_t)(end + 4 - in) + (size_t)atol(cl + 16)) {
            if (path) {
                const char *target = strchr(in, ' ');
                size_t target_len = target ? strcspn(target + 1, " ") : 0;
                snprintf(path, path_len, "%.*s", (int)target_len, target ? target + 1 : "");
            }
            return true;
        }
    }
}

static bool read_request(int fd)
{
    return read_request_path(fd, NULL, 0);
}

static void *one_shot_main(void *arg)
{
    struct one_shot *o = arg;
    while (!atomic_load(&o->is_stopping)) {
        struct pollfd p = {.fd = o->listen_fd, .events = POLLIN};
        if (poll(&p, 1, 50) != 1)
            continue;
        int fd = accept(o->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        for (int on_conn = 0; read_request(fd); on_conn++) {
            atomic_fetch_add(&o->requests, 1);
            if (on_conn > 0)
                break; /* the second request on this connection: closed, unanswered */
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            if (send(fd, ok, sizeof ok - 1, MSG_NOSIGNAL) == (ssize_t)sizeof ok - 1)
                atomic_fetch_add(&o->answers, 1);
        }
        close(fd);
    }
    return NULL;
}

static void one_shot_start(struct one_shot *o)
{
    memset(o, 0, sizeof *o);
    o->listen_fd = hp_listen_loopback(16, &o->port);
    assert_int_equal(pthread_create(&o->thread, NULL, one_shot_main, o), 0);
}

static void one_shot_stop(struct one_shot *o)
{
    atomic_store(&o->is_stopping, true);
    pthread_join(o->thread, NULL);
    close(o->listen_fd);
}

/* A kept-alive connection the receiver closes without answering is not a failed attempt: the
 * request goes again at once on a new connection (libcurl does the same), so each
 * notification is delivered on its first attempt. */
static void a_request_on_a_closed_kept_alive_connection_goes_again_on_a_new_one(void **state)
{
    (void)state;
    struct one_shot o;
    one_shot_start(&o);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/once", o.port);
    watch("7300", "Services__s.create", url);
    for (int i = 0; i < 3; i++) {
        insert("Services__s", "Service_Name");
        int64_t deadline = hp_now_ms() + 10000;
        while (atomic_load(&o.answers) < i + 1 && hp_now_ms() < deadline)
            usleep(5000);
        assert_int_equal(atomic_load(&o.answers), i + 1);
    }
    /* Requests 2 and 3 each came twice: once on the closed connection, once on a new one. */
    assert_int_equal(atomic_load(&o.requests), 5);
    json_t *list = await_delivered(&srv, "7300", 3);
    assert_int_equal(json_array_size(list), 3);
    for (size_t i = 0; i < 3; i++) /* each on its first attempt */
        assert_int_equal(json_array_size(json_object_get(json_array_get(list, i), "attempts")), 1);
    json_decref(list);
    unwatch("7300");
    one_shot_stop(&o);
}

/* Receivers on KEEPERS ports that keep every connection open and answer each request 200,
 * counting the connections still open (a client closing one is seen at once). */
enum { KEEPERS = 12 };
struct keepers {
    int listen_fd[KEEPERS];
    int port[KEEPERS];
    atomic_int open, answers;
    atomic_bool is_stopping;
    pthread_t thread;
};

static void *keepers_main(void *arg)
{
    struct keepers *k = arg;
    int conns[256];
    size_t n_conns = 0;
    while (!atomic_load(&k->is_stopping)) {
        struct pollfd p[KEEPERS + 256];
        for (size_t i = 0; i < KEEPERS; i++)
            p[i] = (struct pollfd){.fd = k->listen_fd[i], .events = POLLIN};
        for (size_t i = 0; i < n_conns; i++)
            p[KEEPERS + i] = (struct pollfd){.fd = conns[i], .events = POLLIN};
        if (poll(p, KEEPERS + n_conns, 50) <= 0)
            continue;
        for (size_t i = 0; i < KEEPERS; i++) {
            if (!(p[i].revents & POLLIN) || n_conns == 256)
                continue;
            int fd = accept(k->listen_fd[i], NULL, NULL);
            if (fd >= 0) {
                conns[n_conns++] = fd;
                atomic_fetch_add(&k->open, 1);
            }
        }
        for (size_t i = KEEPERS + n_conns; i-- > KEEPERS;) {
            if (!p[i].revents)
                continue;
            int fd = p[i].fd;
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            if (read_request(fd) &&
                send(fd, ok, sizeof ok - 1, MSG_NOSIGNAL) == (ssize_t)sizeof ok - 1) {
                atomic_fetch_add(&k->answers, 1);
                continue;
            }
            close(fd);
            atomic_fetch_sub(&k->open, 1);
            for (size_t j = 0; j < n_conns; j++) {
                if (conns[j] == fd) {
                    conns[j] = conns[--n_conns];
                    break;
                }
            }
        }
    }
    for (size_t i = 0; i < n_conns; i++)
        close(conns[i]);
    return NULL;
}

/* Kept-alive connections are bounded in all, as libcurl's connection cache was (4 per attempt
 * the dispatcher may have in flight): a tenant naming many destinations cannot make Herald hold
 * an idle connection to each of them, past the process's open files. */
static void idle_connections_are_bounded_across_destinations(void **state)
{
    (void)state;
    static struct keepers k; /* outlives a failed assertion: its thread reads it */
    memset(&k, 0, sizeof k);
    for (size_t i = 0; i < KEEPERS; i++)
        k.listen_fd[i] = hp_listen_loopback(16, &k.port[i]);
    assert_int_equal(pthread_create(&k.thread, NULL, keepers_main, &k), 0);
    struct hp p; /* at most 8 connections kept */
    hp_start_with(&p, "HERALD_TEST_DISPATCH", "2,2,100", "--allow-network 127.0.0.0/8");
    for (size_t i = 0; i < KEEPERS; i++) {
        char channel[16], url[64];
        snprintf(channel, sizeof channel, "%zu", 7600 + i);
        snprintf(url, sizeof url, "http://127.0.0.1:%d/keep", k.port[i]);
        watch_at(&p, channel, "Leads.create", url);
    }
    insert_at(&p, "Leads", "Last_Name");
    int64_t deadline = hp_now_ms() + 10000;
    while (atomic_load(&k.answers) < KEEPERS && hp_now_ms() < deadline)
        usleep(5000);
    assert_int_equal(atomic_load(&k.answers), KEEPERS);
    deadline = hp_now_ms() + 3000;
    while (atomic_load(&k.open) > 8 && hp_now_ms() < deadline)
        usleep(5000);
    assert_true(atomic_load(&k.open) <= 8);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    atomic_store(&k.is_stopping, true);
    pthread_join(k.thread, NULL);
    for (size_t i = 0; i < KEEPERS; i++)
        close(k.listen_fd[i]);
}

/* https:// callbacks go through libcurl, and the tests have no TLS receiver: with the test hook
 * every callback takes that path, so its outcomes (Retry-After, retry, delivery, headers) are
 * checked against a plain receiver. */
static void the_libcurl_path_delivers_and_retries_like_the_own_client(void **state)
{
    (void)state;
    struct hp p;
    hp_start_with(&p, "HERALD_TEST_CURL_ONLY", "1",
                  "--allow-network 127.0.0.0/8 --retry-schedule 0s,100ms");
    assert_true(hp_log_wait(&p, "every callback through libcurl", 1000));
    struct receiver *rx = rx_start("503+1,200");
    char url[256];
    rx_url(rx, "/curl?k=v", url, sizeof url);
    watch_at(&p, "7400", "Leads.create", url);
    insert_at(&p, "Leads", "Last_Name");
    assert_int_equal(rx_wait(rx, 2, 10000), 2);
    assert_true(rx_get(rx, 1)->at_ms - rx_get(rx, 0)->at_ms >= 900); /* Retry-After: 1 */
    char id0[64], id1[64];
    assert_true(rx_header(rx_get(rx, 0), "webhook-id", id0, sizeof id0));
    assert_true(rx_header(rx_get(rx, 1), "webhook-id", id1, sizeof id1));
    assert_string_equal(id0, id1);
    assert_true(strncmp(rx_get(rx, 1)->body, "{\"server_time\":", 15) == 0);
    assert_string_equal(rx_get(rx, 0)->path, "/curl?k=v");
    json_t *list = await_delivered(&p, "7400", 1);
    assert_int_equal(json_array_size(hp_at(json_array_get(list, 0), "attempts")), 2);
    json_decref(list);
    assert_int_equal(rx_wait(rx, 3, 300), 2);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* The own client requests the notify URL as given: path and query, bytes not valid in a URL
 * percent-encoded, no fragment, and a Host header naming the URL's host and port. */
static void the_own_client_requests_the_url_as_given(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/own path/%%41?q=a b&r=1#frag", rx_port(rx));
    watch("7500", "Campaigns.create", url);
    insert("Campaigns", "Campaign_Name");
    assert_int_equal(rx_wait(rx, 1, 10000), 1);
    const struct rx_request *req = rx_get(rx, 0);
    assert_string_equal(req->method, "POST");
    assert_string_equal(req->path, "/own%20path/%41?q=a%20b&r=1");
    char host[64], want[64], type[128], length[32];
    snprintf(want, sizeof want, "127.0.0.1:%d", rx_port(rx));
    assert_true(rx_header(req, "host", host, sizeof host));
    assert_string_equal(host, want);
    assert_true(rx_header(req, "content-type", type, sizeof type));
    assert_string_equal(type, "application/json;charset=UTF-8");
    assert_true(rx_header(req, "content-length", length, sizeof length));
    assert_int_equal(atol(length), (long)req->body_len);
    assert_non_null(req->json);
    unwatch("7500");
    rx_stop(rx);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Median latency from insert acknowledgement to callback receipt over n inserts. */
static int64_t median_latency(struct receiver *rx, const char *module, const char *field, int n)
{
    int64_t lat[64];
    size_t base = rx_count(rx);
    for (int i = 0; i < n; i++) {
        int64_t sent = insert(module, field);
        if (rx_wait(rx, base + (size_t)i + 1, 5000) < base + (size_t)i + 1)
            fail_msg("callback %d did not arrive", i);
        int64_t got = rx_get(rx, base + (size_t)i)->at_ms;
        lat[i] = got > sent ? got - sent : 0;
    }
    qsort(lat, (size_t)n, sizeof lat[0], cmp_i64);
    return lat[n / 2];
}

static void a_dead_destination_does_not_slow_a_healthy_one(void **state)
{
    (void)state;
    struct receiver *healthy = rx_start(NULL);
    struct receiver *dead = rx_start(NULL);
    rx_set_delay(dead, -1); /* accepts, never answers */
    char url[256];
    rx_url(healthy, "/ok", url, sizeof url);
    watch("7005", "Invoices.create", url);
    rx_url(dead, "/dead", url, sizeof url);
    watch("7006", "Solutions.create", url);
    int64_t solo = median_latency(healthy, "Invoices", "Subject", 15);
    for (int i = 0; i < 200; i++)
        insert("Solutions", "Solution_Title");
    assert_true(rx_wait(dead, 50, 5000) >= 50);
    int64_t loaded = median_latency(healthy, "Invoices", "Subject", 15);
    fprintf(stderr, "healthy median latency: solo %lld ms, with a dead destination %lld ms\n",
            (long long)solo, (long long)loaded);
    /* Within 2x of solo; 5 ms of slack absorbs sanitizer noise on millisecond figures. */
    assert_true(loaded <= 2 * solo + 5);
    rx_stop(healthy);
    rx_stop(dead);
}

/* A listener on ip:port whose accept queue is full, so the kernel drops further SYNs: a
 * connect to it neither succeeds nor fails, as with a host that is down. */
struct blackhole {
    int listen_fd;
    int fills[4];
};

static void blackhole_open(struct blackhole *b, const char *ip, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &sa.sin_addr);
    b->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(b->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    assert_int_equal(bind(b->listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(b->listen_fd, 0), 0);
    for (size_t i = 0; i < 4; i++) {
        b->fills[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(b->fills[i], (struct sockaddr *)&sa, sizeof sa); /* EINPROGRESS, or stuck */
    }
    /* Bounded wait until a probe can no longer get in. */
    for (int tries = 0;; tries++) {
        int probe = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(probe, (struct sockaddr *)&sa, sizeof sa);
        struct pollfd pfd = {.fd = probe, .events = POLLOUT};
        int ready = poll(&pfd, 1, 200);
        close(probe);
        if (ready == 0)
            break;
        if (tries == 20)
            fail_msg("the blackhole on %s:%d still accepts connections", ip, port);
    }
}

static void blackhole_close(struct blackhole *b)
{
    for (size_t i = 0; i < 4; i++)
        close(b->fills[i]);
    close(b->listen_fd);
}

/* A receiver on 127.0.0.1, a blackhole on `hole_ip` with the same port, and a server of its
 * own on which the notify host "multi.test" has the addresses `addrs` ("multi.test=A,B") and the
 * own client's limits are `limits` ("CONNECT_MS,ATTEMPT_MS"); url names the receiver's port on
 * multi.test. */
struct multi {
    struct receiver *rx;
    struct blackhole hole;
    struct hp p;
    char url[256];
};

static void multi_start(struct multi *m, const char *hole_ip, const char *addrs, const char *limits)
{
    m->rx = rx_start(NULL);
    blackhole_open(&m->hole, hole_ip, rx_port(m->rx));
    setenv("HERALD_TEST_HOSTS", addrs, 1);
    hp_start_with(&m->p, "HERALD_TEST_OWN_LIMITS_MS", limits,
                  "--allow-network 127.0.0.0/8 --retry-schedule 0s,100ms,100ms");
    unsetenv("HERALD_TEST_HOSTS");
    snprintf(m->url, sizeof m->url, "http://multi.test:%d/hook", rx_port(m->rx));
}

static void multi_stop(struct multi *m)
{
    hp_stop(&m->p);
    hp_cleanup(&m->p);
    blackhole_close(&m->hole);
    rx_stop(m->rx);
}

/* The first address of a notify host does not answer connects: after the connect limit the
 * attempt goes on to the second address and is delivered, as one attempt. Later callbacks start
 * from the address that connected. */
static void a_connect_timeout_moves_on_to_the_next_address(void **state)
{
    (void)state;
    struct multi m;
    multi_start(&m, "127.0.0.2", "multi.test=127.0.0.2,127.0.0.1", "300,5000");
    watch_at(&m.p, "7020", "Leads.create", m.url);
    int64_t t0 = hp_now_ms();
    insert_at(&m.p, "Leads", "Last_Name");
    assert_int_equal(rx_wait(m.rx, 1, 5000), 1);
    int64_t took = hp_now_ms() - t0;
    assert_true(took >= 250); /* it did wait for the first address */
    assert_true(hp_log_wait(&m.p, "trying the next address", 1000));
    json_t *list = await_delivered(&m.p, "7020", 1);
    json_t *n = json_array_get(list, 0);
    assert_int_equal(json_array_size(json_object_get(n, "attempts")), 1);
    json_decref(list);
    /* The next one goes to the address that worked, without waiting (a kept-alive connection or
     * a new one there): no connect to the first address times out again. Said by the log, not
     * by a clock, which a loaded machine stretches. */
    insert_at(&m.p, "Leads", "Last_Name");
    assert_int_equal(rx_wait(m.rx, 2, 5000), 2);
    list = await_delivered(&m.p, "7020", 2);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(json_array_size(hp_at(json_array_get(list, i), "attempts")), 1);
    json_decref(list);
    assert_int_equal(hp_log_count(&m.p, "trying the next address"), 1);
    multi_stop(&m);
}

/* A destination goes down with more channels than the 32 the dispatcher used to remember: while
 * its circuit is open, every channel's backlog is skipped by the claims and deferred in bulk,
 * none claimed and given back row by row (each a rewrite of the row, body included; with 300
 * channels and 1 MB bodies that was 400 MiB/s of writes). Claims are counted by a trigger the
 * test adds to the server's database: a claim raises a row's lease. */
static void a_down_destination_of_many_channels_is_not_claimed_row_by_row(void **state)
{
    (void)state;
    struct hp p;
    setenv("HERALD_TEST_CIRCUIT_MS", "5000,300000", 1); /* open 5 s, retries due every 100 ms */
    hp_start_with(&p, "HERALD_TEST_OWN_LIMITS_MS", "200,600",
                  "--allow-network 127.0.0.0/8 --retry-schedule 0s,100ms,100ms,100ms,100ms");
    unsetenv("HERALD_TEST_CIRCUIT_MS");
    struct receiver *rx = rx_start(NULL);
    rx_set_delay(rx, -1); /* accepts, never answers: each attempt fails after 600 ms */
    char url[256], body[8192];
    rx_url(rx, "/many", url, sizeof url);
    enum { CHANNELS = 40 };
    struct buf items;
    buf_init(&items);
    for (int i = 0; i < CHANNELS; i++) {
        char item[400];
        snprintf(item, sizeof item,
                 "%s{\"channel_id\":\"%d\",\"events\":[\"Leads.create\"],\"notify_url\":\"%s\"}",
                 i ? "," : "", 7300 + i, url);
        buf_puts(&items, item);
    }
    snprintf(body, sizeof body, "{\"watch\":[%s]}", items.data);
    buf_fini(&items);
    struct hp_resp r = hp_req(&p, "POST", "/crm/v8/actions/watch", body, p.token, NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    hp_db_exec(&p, "CREATE TABLE claims(id INTEGER);"
                   "CREATE TRIGGER claim_counted AFTER UPDATE OF lease_until_ms ON notifications "
                   "WHEN new.lease_until_ms > old.lease_until_ms "
                   "BEGIN INSERT INTO claims VALUES(new.id); END;");
    insert_at(&p, "Leads", "Last_Name");
    assert_int_equal(rx_wait(rx, CHANNELS, 5000), CHANNELS);
    assert_true(hp_log_wait(&p, "circuit opened", 5000));
    /* The 40 failed attempts come back due again after 100 ms; the circuit stays open 5 s. */
    int64_t until = hp_now_ms() + 2500;
    while (hp_now_ms() < until) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    long long claims = hp_db_value(&p, "SELECT count(*) FROM claims");
    long long pending = hp_db_value(&p, "SELECT count(*) FROM notifications WHERE status = 0");
    if (claims > 3)
        fail_msg("%lld claims of a blocked destination's notifications in 2.5 s", claims);
    assert_int_equal(pending, CHANNELS);
    rx_set_delay(rx, 0);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* The attempt limits, own client: a destination whose only address does not answer connects
 * fails the attempt with "Connection timed out"; one that accepts but never answers fails it with
 * "Operation timed out"; both go again by the retry schedule and are delivered once the receiver
 * answers. */
static void attempts_that_hang_fail_at_their_limits_and_are_retried(void **state)
{
    (void)state;
    struct multi m;
    multi_start(&m, "127.0.0.3", "multi.test=127.0.0.3", "200,600");
    watch_at(&m.p, "7021", "Leads.create", m.url);
    insert_at(&m.p, "Leads", "Last_Name");
    assert_true(hp_log_wait(&m.p, "Connection timed out after", 3000));
    /* The hanging receiver: a channel on it, at its own address, gets a notification. */
    rx_set_delay(m.rx, -1);
    char url[256];
    rx_url(m.rx, "/hang", url, sizeof url);
    watch_at(&m.p, "7022", "Contacts.create", url);
    insert_at(&m.p, "Contacts", "Last_Name");
    assert_int_equal(rx_wait(m.rx, 1, 3000), 1);
    assert_true(hp_log_wait(&m.p, "Operation timed out after", 3000));
    rx_set_delay(m.rx, 0);
    json_t *list = await_delivered(&m.p, "7022", 1);
    json_t *attempts = json_object_get(json_array_get(list, 0), "attempts");
    assert_true(json_array_size(attempts) >= 2);
    const char *first = hp_str(json_array_get(attempts, 0), "error");
    assert_non_null(strstr(first, "Operation timed out after"));
    json_decref(list);
    multi_stop(&m);
}

/* Six channels on one receiver fail once each: the sixth failure in a row opens the
 * destination's circuit, which rests no longer than the retry schedule's first delay (200 ms
 * here), so the retries come on schedule and all six are delivered within a second. The
 * circuit rested 5 s whatever the schedule: the retries came after 5.4 s. */
static void a_circuit_rests_no_longer_than_the_retry_schedule(void **state)
{
    (void)state;
    struct hp p;
    hp_start(&p, "--allow-network 127.0.0.0/8 --retry-schedule 0s,200ms,500ms,1s");
    struct receiver *rx = rx_start("500,500,500,500,500,500");
    char url[256];
    rx_url(rx, "/rest", url, sizeof url);
    hp_watch_many(&p, 7400, 6, "Leads.create", url);
    int64_t start = hp_now_ms();
    insert_at(&p, "Leads", "Last_Name");
    assert_true(hp_log_wait(&p, "circuit opened", 5000));
    long long delivered = 0;
    while (delivered < 6 && hp_now_ms() < start + 3500) {
        delivered = hp_db_value(&p, "SELECT count(*) FROM notifications WHERE status = 1");
        if (delivered < 6)
            rx_wait(rx, rx_count(rx) + 1, 100);
    }
    fprintf(stderr, "%lld of 6 delivered after %lld ms\n", delivered,
            (long long)(hp_now_ms() - start));
    assert_int_equal(delivered, 6); /* on the old 5 s rest: none of the retries before 5 s */
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* A destination that only fails, with more notifications than the circuit lets probes through:
 * while the circuit is open each one that comes due counts a failed attempt without being sent
 * (its history says why) and follows its own schedule, so all of them end failed about when
 * the schedule says. The circuit let one probe through per window and gave the rest back
 * uncounted: 12 notifications on a 4-step schedule needed some 48 windows (up to 1 s each). */
static void a_dead_destination_fails_its_backlog_on_the_schedule(void **state)
{
    (void)state;
    struct hp p;
    hp_start(&p, "--allow-network 127.0.0.0/8 --retry-schedule 0s,200ms,500ms,1s");
    char statuses[400] = "500";
    for (int i = 1; i < 99; i++)
        strcat(statuses, ",500"); /* 99 failures: more than the 48 attempts in all */
    struct receiver *rx = rx_start(statuses);
    char url[256];
    rx_url(rx, "/always500", url, sizeof url);
    hp_watch_many(&p, 7600, 12, "Leads.create", url);
    int64_t start = hp_now_ms();
    insert_at(&p, "Leads", "Last_Name");
    long long failed = 0;
    while (failed < 12 && hp_now_ms() < start + 8000) {
        failed = hp_db_value(&p, "SELECT count(*) FROM notifications WHERE status = 2");
        if (failed < 12)
            rx_wait(rx, rx_count(rx) + 1, 100);
    }
    fprintf(stderr, "%lld of 12 failed after %lld ms, %zu requests sent\n", failed,
            (long long)(hp_now_ms() - start), rx_count(rx));
    assert_int_equal(failed, 12);
    assert_int_equal(hp_db_value(&p, "SELECT min(attempts) FROM notifications"), 4);
    /* Attempts counted without a request say so in the history. */
    assert_true(hp_db_value(&p, "SELECT count(*) FROM notifications WHERE a_error LIKE "
                                "'%circuit%' OR id IN (SELECT notification_id FROM attempts "
                                "WHERE error LIKE '%circuit%')") > 0);
    assert_true(rx_count(rx) < 48); /* the circuit still spares the destination */
    /* One line per attempt sent; those not sent are summed up once a window. */
    assert_true(hp_log_count(&p, "msg=\"delivery attempt failed\"") <= rx_count(rx));
    assert_true(hp_log_wait(&p, "msg=\"callbacks not sent while the circuit was open\"", 1000));
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* A destination that answers most callbacks is up, though some fail: five failures in a row
 * after fifteen successes open no circuit, so nothing is counted failed without being sent.
 * Five in a row was enough: with many attempts in flight, a receiver failing 30 % of them had its
 * circuit opening again and again, and 4 % of its notifications ended failed, most of them never
 * sent. A dead destination's circuit still opens at its fifth failure (the tests above). */
static void a_few_failures_among_successes_open_no_circuit(void **state)
{
    (void)state;
    struct hp p;
    hp_start(&p, "--allow-network 127.0.0.0/8 --retry-schedule 0s,200ms,500ms,1s");
    char statuses[400] = "200";
    for (int i = 1; i < 15; i++)
        strcat(statuses, ",200");
    for (int i = 0; i < 5; i++)
        strcat(statuses, ",500");
    struct receiver *rx = rx_start(statuses);
    char url[256];
    rx_url(rx, "/flaky", url, sizeof url);
    watch_at(&p, "7700", "Leads.create", url);
    /* One at a time, so the outcomes come in the receiver's order: 15 successes, 5 failures. */
    for (size_t i = 0; i < 20; i++) {
        insert_at(&p, "Leads", "Last_Name");
        assert_int_equal(rx_wait(rx, i + 1, 5000), i + 1);
    }
    long long delivered = 0;
    int64_t deadline = hp_now_ms() + 8000;
    while (delivered < 20 && hp_now_ms() < deadline) {
        delivered = hp_db_value(&p, "SELECT count(*) FROM notifications WHERE status = 1");
        if (delivered < 20)
            rx_wait(rx, rx_count(rx) + 1, 100);
    }
    assert_int_equal(delivered, 20);
    assert_int_equal(rx_count(rx), 25); /* the five failed ones once more each */
    assert_int_equal(hp_log_count(&p, "circuit opened"), 0);
    assert_int_equal(hp_db_value(&p, "SELECT count(*) FROM attempts WHERE error LIKE '%circuit%'"),
                     0);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* A destination comes back: once an attempt gets through and its circuit closes, what had
 * failed while it was down is sent at once, not at each notification's next retry (20 s away
 * here, hours on the default schedule). */
static void a_destination_back_gets_its_backlog_when_its_circuit_closes(void **state)
{
    (void)state;
    struct hp p;
    hp_start(&p, "--allow-network 127.0.0.0/8 --retry-schedule 0s,200ms,20s");
    char statuses[100] = "500";
    for (int i = 1; i < 13; i++)
        strcat(statuses, ",500"); /* the first attempts and one probe fail, then 200 */
    struct receiver *rx = rx_start(statuses);
    char url[256];
    rx_url(rx, "/back", url, sizeof url);
    hp_watch_many(&p, 7700, 12, "Leads.create", url);
    int64_t start = hp_now_ms();
    insert_at(&p, "Leads", "Last_Name");
    /* Every one has failed twice: the next retry is 20 s away. */
    while (hp_db_value(&p, "SELECT count(*) FROM notifications WHERE attempts = 2") < 12 &&
           hp_now_ms() < start + 5000)
        rx_wait(rx, rx_count(rx) + 1, 100);
    assert_int_equal(hp_db_value(&p, "SELECT count(*) FROM notifications WHERE attempts = 2"), 12);
    insert_at(&p, "Leads", "Last_Name"); /* the next attempt there gets through */
    long long delivered = 0;
    while (delivered < 24 && hp_now_ms() < start + 8000) {
        delivered = hp_db_value(&p, "SELECT count(*) FROM notifications WHERE status = 1");
        if (delivered < 24)
            rx_wait(rx, rx_count(rx) + 1, 100);
    }
    fprintf(stderr, "%lld of 24 delivered after %lld ms\n", delivered,
            (long long)(hp_now_ms() - start));
    assert_int_equal(delivered, 24);
    assert_true(hp_log_wait(&p, "circuit closed", 1000));
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* A receiver for the_attempt_failing_as_the_probe_gets_through_is_hastened_too, on one path (one
 * destination, one circuit) told apart by the query: /p?fail answers 500 five times, then holds
 * its sixth request (the half-open circuit's probe) until /p?hang has answered, and answers it
 * 200 2 ms later; /p?hang answers its first request 500, holds its second until the probe
 * arrives, then answers it 500; everything after is 200. One thread per connection, as /p?hang
 * and the probe wait on each other. */
struct prober {
    int listen_fd;
    int port;
    atomic_bool is_stopping;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fails, hangs; /* requests seen on each path */
    bool is_probe_in, is_hang_answered;
};

struct prober_conn {
    struct prober *p;
    int fd;
};

/* Waits (up to 10 s) for *flag; under p->mu. */
static void prober_await(struct prober *p, const bool *flag)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (!*flag && pthread_cond_timedwait(&p->cv, &p->mu, &until) == 0)
        ;
}

static void *prober_conn_main(void *arg)
{
    struct prober_conn *pc = arg;
    struct prober *p = pc->p;
    char path[256];
    while (read_request_path(pc->fd, path, sizeof path)) {
        int status = 200;
        pthread_mutex_lock(&p->mu);
        if (strcmp(path, "/p?hang") == 0) {
            int n = ++p->hangs;
            if (n <= 2)
                status = 500;
            if (n == 2) {
                prober_await(p, &p->is_probe_in);
                p->is_hang_answered = true;
                pthread_cond_broadcast(&p->cv);
            }
        } else {
            int n = ++p->fails;
            if (n <= 5)
                status = 500;
            if (n == 6) {
                p->is_probe_in = true;
                pthread_cond_broadcast(&p->cv);
                prober_await(p, &p->is_hang_answered);
            }
        }
        pthread_mutex_unlock(&p->mu);
        if (strcmp(path, "/p?hang") != 0 && status == 200)
            nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL); /* after /p?hang's answer */
        char out[128];
        int len = snprintf(out, sizeof out, "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", status);
        if (send(pc->fd, out, (size_t)len, MSG_NOSIGNAL) != len)
            break;
    }
    close(pc->fd);
    free(pc);
    return NULL;
}

static void *prober_main(void *arg)
{
    struct prober *p = arg;
    while (!atomic_load(&p->is_stopping)) {
        struct pollfd pl = {.fd = p->listen_fd, .events = POLLIN};
        if (poll(&pl, 1, 50) != 1)
            continue;
        int fd = accept(p->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        struct prober_conn *pc = malloc(sizeof *pc);
        *pc = (struct prober_conn){.p = p, .fd = fd};
        pthread_t t;
        if (pthread_create(&t, NULL, prober_conn_main, pc) == 0)
            pthread_detach(t);
        else {
            close(fd);
            free(pc);
        }
    }
    return NULL;
}

/* An attempt in flight when the circuit opened fails at the moment its probe gets through: its
 * outcome, not yet recorded when the circuit closed, is hastened with the rest of the backlog
 * instead of waiting for its retry (30 s here; hours on the default schedule). */
static void the_attempt_failing_as_the_probe_gets_through_is_hastened_too(void **state)
{
    (void)state;
    struct prober pr = {0};
    pthread_mutex_init(&pr.mu, NULL);
    pthread_cond_init(&pr.cv, NULL);
    pr.listen_fd = hp_listen_loopback(16, &pr.port);
    assert_int_equal(pthread_create(&pr.thread, NULL, prober_main, &pr), 0);
    struct hp p;
    hp_start_with(&p, "HERALD_TEST_CIRCUIT_MS", "1000,1000",
                  "--allow-network 127.0.0.0/8 --retry-schedule 0s,1s,30s");
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/p?hang", pr.port);
    watch_at(&p, "7800", "Contacts.create", url);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/p?fail", pr.port);
    hp_watch_many(&p, 7810, 5, "Leads.create", url);
    int64_t start = insert_at(&p, "Contacts", "Last_Name"); /* fails, then hangs on its retry */
    for (bool is_hanging = false; !is_hanging && hp_now_ms() < start + 5000; usleep(10000)) {
        pthread_mutex_lock(&pr.mu);
        is_hanging = pr.hangs >= 2;
        pthread_mutex_unlock(&pr.mu);
    }
    insert_at(&p, "Leads", "Last_Name"); /* five failures: the circuit opens for 1 s */
    long long delivered = 0;
    while (delivered < 6 && hp_now_ms() < start + 8000) {
        delivered = hp_db_value(&p, "SELECT count(*) FROM notifications WHERE status = 1");
        if (delivered < 6)
            usleep(50000);
    }
    fprintf(stderr, "%lld of 6 delivered after %lld ms\n", delivered,
            (long long)(hp_now_ms() - start));
    assert_int_equal(delivered, 6);
    assert_true(hp_log_wait(&p, "circuit closed", 1000));
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    atomic_store(&pr.is_stopping, true);
    pthread_join(pr.thread, NULL);
    close(pr.listen_fd);
}

/* The half-open circuit's probe is answered 410 Gone while notifications of the same channel
 * wait behind it: they are not sent (the channel is disabled, and the store failed them with the
 * gone one), instead of going out after the subscriber asked to stop. */
static void a_gone_probe_sends_nothing_more_of_its_channel(void **state)
{
    (void)state;
    struct hp p;
    hp_start_with(&p, "HERALD_TEST_CIRCUIT_MS", "300,300",
                  "--allow-network 127.0.0.0/8 --retry-schedule 0s,300ms,1s,2s");
    struct receiver *rx = rx_start("500,500,500,500,500,410");
    char url[256];
    rx_url(rx, "/gone", url, sizeof url);
    watch_at(&p, "7900", "Leads.create", url);
    for (int i = 0; i < 5; i++)
        insert_at(&p, "Leads", "Last_Name");
    assert_int_equal(rx_wait(rx, 5, 5000), 5); /* five failures: the circuit opens */
    rx_set_delay(rx, -1);                      /* the probe is held */
    assert_int_equal(rx_wait(rx, 6, 5000), 6);
    insert_at(&p, "Leads", "Last_Name"); /* queued behind the probe, as are the retries */
    insert_at(&p, "Leads", "Last_Name");
    usleep(400000);
    rx_set_delay(rx, 0); /* the probe is answered 410 */
    rx_wait(rx, 7, 2000);
    fprintf(stderr, "%zu requests\n", rx_count(rx));
    assert_int_equal(rx_count(rx), 6);
    assert_int_equal(hp_db_value(&p, "SELECT count(*) FROM notifications WHERE status = 2"), 7);
    assert_true(hp_log_wait(&p, "answered 410 Gone", 1000));
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* A dead destination unused past the idle time (10 min; HERALD_TEST_HOST_IDLE_MS here) while
 * its backlog waits for retries further apart than that (30 min to 10 h on the default schedule)
 * is not forgotten: when an attempt gets through, its circuit closes and the backlog is sent at
 * once, instead of at each notification's next retry (10 s here). */
static void a_dead_destination_idle_between_retries_still_gets_its_backlog_when_back(void **state)
{
    (void)state;
    struct receiver *gone = rx_start(NULL);
    int port = rx_port(gone);
    rx_stop(gone); /* connections refused */
    setenv("HERALD_TEST_HOST_IDLE_MS", "300", 1);
    struct hp p;
    hp_start_with(&p, "HERALD_TEST_CIRCUIT_MS", "200,200",
                  "--allow-network 127.0.0.0/8 --retry-schedule 0s,200ms,10s");
    unsetenv("HERALD_TEST_HOST_IDLE_MS");
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/idle", port);
    hp_watch_many(&p, 7950, 6, "Leads.create", url);
    int64_t start = insert_at(&p, "Leads", "Last_Name");
    /* Both attempts fail (the second refused by the circuit or its failed probe): the next
     * retry is 10 s away, and the destination is unused meanwhile. */
    while (hp_db_value(&p, "SELECT count(*) FROM notifications WHERE attempts = 2") < 6 &&
           hp_now_ms() < start + 5000)
        usleep(20000);
    assert_int_equal(hp_db_value(&p, "SELECT count(*) FROM notifications WHERE attempts = 2"), 6);
    usleep(1000000); /* past the idle time, several sweeps */
    struct receiver *rx = rx_start_at(NULL, port);
    insert_at(&p, "Leads", "Last_Name"); /* gets through: the circuit closes */
    long long delivered = 0;
    while (delivered < 12 && hp_now_ms() < start + 6000) {
        delivered = hp_db_value(&p, "SELECT count(*) FROM notifications WHERE status = 1");
        if (delivered < 12)
            rx_wait(rx, rx_count(rx) + 1, 100);
    }
    fprintf(stderr, "%lld of 12 delivered after %lld ms\n", delivered,
            (long long)(hp_now_ms() - start));
    assert_int_equal(delivered, 12);
    assert_true(hp_log_wait(&p, "circuit closed", 1000));
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* A destination back while nothing of it is due (every notification failed twice, the next
 * retry 30 s away) and no new traffic: once its window ends, the notification due first is
 * sent early as the probe, and its success brings the rest. Without that probe the receiver
 * went unnoticed until the next scheduled retry (5 min, then hours, on the default schedule). */
static void a_destination_back_is_probed_though_nothing_is_due(void **state)
{
    (void)state;
    struct hp p;
    hp_start(&p, "--allow-network 127.0.0.0/8 --retry-schedule 0s,200ms,30s");
    char statuses[100] = "500";
    for (int i = 1; i < 13; i++)
        strcat(statuses, ",500"); /* the first attempts and the first probe fail, then 200 */
    struct receiver *rx = rx_start(statuses);
    char url[256];
    rx_url(rx, "/quiet", url, sizeof url);
    hp_watch_many(&p, 7800, 12, "Leads.create", url);
    int64_t start = hp_now_ms();
    insert_at(&p, "Leads", "Last_Name");
    long long delivered = 0;
    while (delivered < 12 && hp_now_ms() < start + 8000) {
        delivered = hp_db_value(&p, "SELECT count(*) FROM notifications WHERE status = 1");
        if (delivered < 12)
            rx_wait(rx, rx_count(rx) + 1, 100);
    }
    fprintf(stderr, "%lld of 12 delivered after %lld ms, %zu requests\n", delivered,
            (long long)(hp_now_ms() - start), rx_count(rx));
    assert_int_equal(delivered, 12);
    assert_true(hp_log_wait(&p, "circuit closed", 1000));
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* Retry-After holds when the circuit opens: six 503s asking for 2 s open it (5 failures in a
 * row), and neither the probe of a window that ends with nothing due nor anything else sends a
 * retry before the 2 s. */
static void retry_after_holds_while_the_circuit_is_open(void **state)
{
    (void)state;
    struct hp p;
    hp_start(&p, "--allow-network 127.0.0.0/8 --retry-schedule 0s,200ms,500ms,1s");
    struct receiver *rx = rx_start("503+2,503+2,503+2,503+2,503+2,503+2");
    char url[256];
    rx_url(rx, "/later", url, sizeof url);
    hp_watch_many(&p, 7900, 6, "Leads.create", url);
    insert_at(&p, "Leads", "Last_Name");
    assert_int_equal(rx_wait(rx, 6, 5000), 6);
    int64_t last_first = rx_get(rx, 5)->at_ms;
    assert_int_equal(rx_wait(rx, 12, 8000), 12);
    int64_t first_retry = rx_get(rx, 6)->at_ms;
    fprintf(stderr, "first retry %lld ms after the last 503\n",
            (long long)(first_retry - last_first));
    assert_true(first_retry - last_first >= 1900);
    long long delivered = 0;
    while (delivered < 6 && hp_now_ms() < last_first + 8000) {
        delivered = hp_db_value(&p, "SELECT count(*) FROM notifications WHERE status = 1");
        if (delivered < 6)
            rx_wait(rx, rx_count(rx) + 1, 100);
    }
    assert_int_equal(delivered, 6);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* A channel moves from a dead URL (its circuit open) to a live one: a retry at the live URL
 * keeps its schedule (100 ms here) instead of waiting for the dead URL's circuit. */
static void a_channel_moved_off_a_dead_destination_retries_on_schedule(void **state)
{
    (void)state;
    struct receiver *gone = rx_start(NULL);
    char url[256], body[1024];
    rx_url(gone, "/dead", url, sizeof url);
    int dead_port = rx_port(gone);
    rx_stop(gone); /* nothing listens there any more: connections are refused */
    watch("7013", "Sales_Orders.create", url);
    for (int i = 0; i < 6; i++)
        insert("Sales_Orders", "Subject");
    char opened[64];
    snprintf(opened, sizeof opened, "destination=http://127.0.0.1:%d", dead_port);
    assert_true(hp_log_wait(&srv, opened, 10000)); /* "circuit opened" for it */
    struct receiver *moved = rx_start("500");
    rx_url(moved, "/moved", url, sizeof url);
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"7013\",\"events\":[\"Sales_Orders.create\"],"
             "\"notify_url\":\"%s\"}]}",
             url);
    struct hp_resp r = hp_req(&srv, "PUT", "/crm/v8/actions/watch", body, srv.token, NULL);
    assert_int_equal(r.status, 200);
    hp_resp_free(&r);
    insert("Sales_Orders", "Subject");
    assert_int_equal(rx_wait(moved, 2, 10000), 2);
    int64_t gap = rx_get(moved, 1)->at_ms - rx_get(moved, 0)->at_ms;
    fprintf(stderr, "retry at the live URL after %lld ms\n", (long long)gap);
    assert_true(gap < 2000); /* the dead URL's circuit stays open 5 s */
    unwatch("7013");
    rx_stop(moved);
}

/* Inserts `count` records, one request each, on server `p` from a thread of its own; failures
 * are counted (cmocka's asserts belong to the test's thread). */
struct inserter {
    pthread_t thread;
    struct hp *p;
    int count;
    atomic_int *failures;
};

static void *inserter_main(void *arg)
{
    struct inserter *in = arg;
    for (int i = 0; i < in->count; i++) {
        struct hp_resp r = hp_req(in->p, "POST", "/crm/v8/Leads",
                                  "{\"data\":[{\"Last_Name\":\"late\"}]}", in->p->token, NULL);
        if (r.status != 201)
            atomic_fetch_add(in->failures, 1);
        hp_resp_free(&r);
    }
    return NULL;
}

/* Threads inserting Leads at once, `count` each; inserters_join checks every one was 201. */
#define INSERTERS_MAX 8
struct inserters {
    struct inserter in[INSERTERS_MAX];
    int threads;
    atomic_int failures;
};

static void inserters_start(struct inserters *ins, struct hp *p, int threads, int count)
{
    assert_true(threads <= INSERTERS_MAX);
    ins->threads = threads;
    atomic_init(&ins->failures, 0);
    for (int t = 0; t < threads; t++) {
        ins->in[t] = (struct inserter){.p = p, .count = count, .failures = &ins->failures};
        assert_int_equal(pthread_create(&ins->in[t].thread, NULL, inserter_main, &ins->in[t]), 0);
    }
}

static void inserters_join(struct inserters *ins)
{
    for (int t = 0; t < ins->threads; t++)
        pthread_join(ins->in[t].thread, NULL);
    assert_int_equal(atomic_load(&ins->failures), 0);
}

/* Subscribes channels first..first+count-1 on Leads.create to http://127.0.0.1:PORT/path where
 * nothing listens (connections are refused); returns PORT, for a receiver to come up on. */
static int watch_dead_port(struct hp *p, int first, int count, const char *path)
{
    struct receiver *gone = rx_start(NULL);
    int port = rx_port(gone);
    rx_stop(gone);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    hp_watch_many(p, first, count, "Leads.create", url);
    return port;
}

/* How many distinct webhook-ids are among the receiver's first n requests. */
static size_t distinct_ids(struct receiver *rx, size_t n)
{
    size_t distinct = 0;
    int64_t *ids = calloc(n ? n : 1, sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        char id[48];
        if (rx_header(rx_get(rx, i), "webhook-id", id, sizeof id) && strncmp(id, "msg_", 4) == 0)
            ids[distinct++] = atoll(id + 4);
    }
    qsort(ids, distinct, sizeof *ids, cmp_i64);
    size_t unique = 0;
    for (size_t i = 0; i < distinct; i++) {
        if (i == 0 || ids[i] != ids[i - 1])
            unique++;
    }
    free(ids);
    return unique;
}

/* Waits (until deadline) for n distinct notifications at the receiver that came up at up_at,
 * then (5 s more at most) until the outbox has none pending. */
static void await_every_one(struct hp *p, struct receiver *rx, size_t n, int64_t up_at,
                            int64_t deadline)
{
    size_t seen = rx_count(rx), got;
    while ((got = distinct_ids(rx, seen)) < n && hp_now_ms() < deadline)
        seen = rx_wait(rx, seen + 1, (int)(deadline - hp_now_ms()));
    fprintf(stderr, "%zu of %zu notifications delivered %lld ms after the receiver came up\n", got,
            n, (long long)(hp_now_ms() - up_at));
    assert_int_equal(got, n);
    /* And the outbox knows: nothing stays pending. */
    size_t pending = 1;
    while (pending && hp_now_ms() < deadline + 5000) {
        struct hp_resp r = hp_req(p, "GET", "/herald/v1/deliveries?status=pending&per_page=1", NULL,
                                  p->token, NULL);
        assert_int_equal(r.status, 200);
        pending = json_array_size(hp_at(r.json, "deliveries"));
        hp_resp_free(&r);
        if (pending)
            usleep(50000); /* the records commit after the answers: poll, bounded */
    }
    assert_int_equal(pending, 0);
}

/* The receiver is down while a burst of notifications goes out (limits shrunk by the test hook,
 * so the dispatcher is full and keeps ids to claim later). The attempts in flight when the
 * circuit opens all fail after it opened: they are not probes, and must not lengthen it (each
 * doubled it, to 5 minutes after a handful). Once the receiver is up on that port, everything is
 * delivered soon after the circuit's 5 s window. */
static void a_receiver_up_late_gets_every_notification(void **state)
{
    (void)state;
    struct hp p;
    hp_start_with(&p, "HERALD_TEST_DISPATCH", "16,16,8", "--allow-network 127.0.0.0/8");
    /* Each insert makes one notification per channel: more at once than the dispatcher holds
     * (16 in flight and 8 queued), so it keeps the ids of the rest. */
    enum { CHANNELS = 30, THREADS = 4, INSERTS = 2, N = CHANNELS * THREADS * INSERTS };
    int port = watch_dead_port(&p, 7800, CHANNELS, "/late");
    struct inserters ins;
    inserters_start(&ins, &p, THREADS, INSERTS);
    inserters_join(&ins);
    assert_true(hp_log_wait(&p, "circuit opened", 10000));
    assert_true(hp_log_wait(&p, "dispatcher full", 10000));
    int64_t up_at = hp_now_ms();
    struct receiver *rx = rx_start_at(NULL, port);
    /* The circuit's window (5 s) ends, its probe gets through, and the rest follow: about 9 s
     * here (the limits make claims small); it took 5 minutes when stragglers doubled it. */
    await_every_one(&p, rx, N, up_at, up_at + 30000);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* Subscribes channels first..first+count-1 on Leads.create with return_affected_field_values
 * to `url`, then inserts 10 leads with 10,000-character descriptions in one request: a callback
 * body of about 100 KB per channel, all handed off at once. */
static void big_bodies_to(struct hp *p, int first, int channels, const char *url)
{
    char item[512];
    struct buf body;
    buf_init(&body);
    buf_puts(&body, "{\"watch\":[");
    for (int i = 0; i < channels; i++) {
        snprintf(item, sizeof item,
                 "%s{\"channel_id\":\"%d\",\"events\":[\"Leads.create\"],\"notify_url\":\"%s\","
                 "\"return_affected_field_values\":true}",
                 i ? "," : "", first + i, url);
        buf_puts(&body, item);
    }
    buf_puts(&body, "]}");
    struct hp_resp r = hp_req(p, "POST", "/crm/v8/actions/watch", body.data, p->token, NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    buf_reset(&body);
    buf_puts(&body, "{\"data\":[");
    for (int i = 0; i < 10; i++) {
        buf_puts(&body, i ? ",{\"Last_Name\":\"big\",\"Description\":\""
                          : "{\"Last_Name\":\"big\",\"Description\":\"");
        for (int k = 0; k < 10000; k++)
            buf_putc(&body, 'x');
        buf_puts(&body, "\"}");
    }
    buf_puts(&body, "]}");
    r = hp_req(p, "POST", "/crm/v8/Leads", body.data, p->token, NULL);
    buf_fini(&body);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
}

/* Waits (5 s at most) until the outbox has `count` notifications delivered: the records commit
 * after the answers. */
static void await_delivered_count(struct hp *p, size_t count)
{
    size_t delivered = 0;
    for (int64_t until = hp_now_ms() + 5000; delivered < count && hp_now_ms() < until;
         usleep(20000)) {
        struct hp_resp r = hp_req(p, "GET", "/herald/v1/deliveries?status=delivered&per_page=200",
                                  NULL, p->token, NULL);
        assert_int_equal(r.status, 200);
        delivered = json_array_size(hp_at(r.json, "deliveries"));
        hp_resp_free(&r);
    }
    assert_int_equal(delivered, count);
}

/* A server whose dispatcher may hold `budget` bytes of bodies (HERALD_TEST_DISPATCH) and a
 * receiver that holds every request get big_bodies_to's burst. The dispatcher keeps the bodies
 * it has room for and the ids of the rest (a log line says how many it holds and their bytes);
 * the receiver never has more open than fit, and each notification arrives once when it lets
 * go. Without the budget every one went out at once, its body held until answered. */
static void expect_bodies_held_within(const char *budget, int first, int channels,
                                      size_t expect_held)
{
    struct hp p;
    char limits[64], url[256];
    snprintf(limits, sizeof limits, "16,16,64,%s", budget);
    hp_start_with(&p, "HERALD_TEST_DISPATCH", limits, "--allow-network 127.0.0.0/8");
    struct receiver *rx = rx_start(NULL);
    rx_set_delay(rx, -1);
    rx_url(rx, "/big", url, sizeof url);
    big_bodies_to(&p, first, channels, url);

    /* What is held is in flight: the receiver has it open, and nothing more comes meanwhile. */
    assert_true(rx_wait(rx, expect_held, 5000) >= expect_held);
    size_t open = rx_wait(rx, expect_held + 1, 500);
    if (open != expect_held)
        fail_msg("the receiver has %zu requests of ~100 KB open at once, budget %s bytes", open,
                 budget);
    char line[512];
    assert_true(hp_log_wait_line(&p, "dispatcher full", line, sizeof line, 5000));
    size_t held = 0, held_bytes = 0, waiting = 0;
    const char *at = strstr(line, " held=");
    assert_non_null(at);
    assert_int_equal(
        sscanf(at, " held=%zu held_bytes=%zu waiting=%zu", &held, &held_bytes, &waiting), 3);
    fprintf(stderr, "held %zu (%zu bytes), %zu waiting as ids\n", held, held_bytes, waiting);
    assert_int_equal(held, expect_held);
    assert_int_equal(held + waiting, (size_t)channels);
    if (held > 1)
        assert_true(held_bytes <= (size_t)atol(budget));

    rx_set_delay(rx, 0); /* the requests held are answered; the rest follow */
    assert_int_equal(rx_wait(rx, (size_t)channels, 10000), (size_t)channels);
    assert_int_equal(rx_wait(rx, (size_t)channels + 1, 500), (size_t)channels);
    assert_int_equal(distinct_ids(rx, (size_t)channels), (size_t)channels);
    assert_int_equal(rx_open_max(rx), expect_held);
    for (size_t i = 0; i < (size_t)channels; i++)
        assert_true(rx_get(rx, i)->body_len > 100000);
    await_delivered_count(&p, (size_t)channels);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* Bodies of about 100 KB with a budget of 256 KiB: two held at a time, the rest as ids. */
static void bodies_past_the_byte_budget_wait_in_the_outbox_and_arrive_once(void **state)
{
    (void)state;
    expect_bodies_held_within("262144", 7150, 6, 2);
}

/* A body larger than the whole budget (64 KiB) still goes, alone: one at a time. */
static void a_body_larger_than_the_byte_budget_goes_alone(void **state)
{
    (void)state;
    expect_bodies_held_within("65536", 7160, 3, 1);
}

/* A slow receiver's big bodies fill the budget (1 MiB: nine of ~100 KB in flight, three more
 * waiting as ids): a small callback to another destination still goes at once, in the share of
 * the budget kept for small bodies, instead of waiting behind them until the slow receiver
 * answers. */
static void a_destination_holding_the_budget_does_not_hold_back_small_callbacks(void **state)
{
    (void)state;
    struct hp p;
    hp_start_with(&p, "HERALD_TEST_DISPATCH", "16,16,64,1048576", "--allow-network 127.0.0.0/8");
    struct receiver *slow = rx_start(NULL);
    struct receiver *fast = rx_start(NULL);
    rx_set_delay(slow, -1);
    char url[256];
    rx_url(slow, "/slow", url, sizeof url);
    enum { CHANNELS = 12 };
    big_bodies_to(&p, 7180, CHANNELS, url);
    assert_true(hp_log_wait(&p, "dispatcher full", 5000));
    assert_int_equal(rx_wait(slow, 9, 5000), 9);
    rx_url(fast, "/fast", url, sizeof url);
    watch_at(&p, "7199", "Contacts.create", url);
    int64_t sent = insert_at(&p, "Contacts", "Last_Name");
    assert_int_equal(rx_wait(fast, 1, 2000), 1);
    fprintf(stderr, "small callback after %lld ms while the budget is full\n",
            (long long)(rx_get(fast, 0)->at_ms - sent));
    assert_int_equal(rx_count(slow), 9);
    rx_set_delay(slow, 0);
    assert_int_equal(rx_wait(slow, CHANNELS, 10000), CHANNELS);
    assert_int_equal(distinct_ids(slow, CHANNELS), CHANNELS);
    await_delivered_count(&p, CHANNELS + 1);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(slow);
    rx_stop(fast);
}

/* Retries come back through claims, which the budget bounds too: a claim stops before the body
 * that would not fit, and the next waits until it does. The first four attempts fail (500, one
 * short of opening the circuit) and are retried after 100 ms; at most two bodies of ~100 KB fit
 * in 256 KiB, so the receiver never has more than two requests open. */
static void retries_past_the_byte_budget_are_claimed_within_it(void **state)
{
    (void)state;
    struct hp p;
    hp_start_with(&p, "HERALD_TEST_DISPATCH", "16,16,64,262144",
                  "--allow-network 127.0.0.0/8 --retry-schedule 0s,100ms,100ms");
    struct receiver *rx = rx_start("500,500,500,500");
    rx_set_delay(rx, 100); /* answers overlap: more than two would be seen open */
    char url[256];
    rx_url(rx, "/retried", url, sizeof url);
    enum { CHANNELS = 6, REQUESTS = CHANNELS + 4 };
    big_bodies_to(&p, 7170, CHANNELS, url);
    assert_int_equal(rx_wait(rx, REQUESTS, 15000), REQUESTS);
    assert_int_equal(rx_wait(rx, REQUESTS + 1, 500), REQUESTS);
    assert_int_equal(distinct_ids(rx, REQUESTS), CHANNELS);
    fprintf(stderr, "at most %zu requests open at once\n", rx_open_max(rx));
    assert_int_equal(rx_open_max(rx), 2);
    await_delivered_count(&p, CHANNELS);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

/* CPU time (user + system) of a process in ms from /proc (a zombie's too); -1 if gone. With
 * *is_zombie, whether it has exited and awaits its reaping. */
static int64_t cpu_ms(pid_t pid, bool *is_zombie)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *p = strrchr(text, ')'); /* past "pid (comm)" */
    char state = 0;
    unsigned long long utime = 0, stime = 0;
    if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state, &utime,
                     &stime) != 3)
        return -1;
    *is_zombie = state == 'Z';
    return (int64_t)((utime + stime) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* SIGTERM while an attempt is in flight (2 s) and a failing notification's retry is due: the
 * server waits for the attempt without spinning over the due retry it may not claim. */
static void stopping_waits_for_attempts_without_spinning(void **state)
{
    (void)state;
    struct hp p;
    hp_start(&p, "--allow-network 127.0.0.0/8 --retry-schedule 0s,100ms,100ms,100ms,100ms,100ms");
    struct receiver *slow = rx_start(NULL);
    struct receiver *failing = rx_start("500,500,500,500,500,500");
    rx_set_delay(slow, 2000);
    char slow_url[256], failing_url[256], body[1024];
    rx_url(slow, "/slow", slow_url, sizeof slow_url);
    rx_url(failing, "/failing", failing_url, sizeof failing_url);
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"7300\",\"events\":[\"Tasks.create\"],"
             "\"notify_url\":\"%s\"},{\"channel_id\":\"7301\",\"events\":[\"Tasks.create\"],"
             "\"notify_url\":\"%s\"}]}",
             slow_url, failing_url);
    struct hp_resp r = hp_req(&p, "POST", "/crm/v8/actions/watch", body, p.token, NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    r = hp_req(&p, "POST", "/crm/v8/Tasks", "{\"data\":[{\"Subject\":\"s\"}]}", p.token, NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    assert_int_equal(rx_wait(slow, 1, 10000), 1);
    assert_true(rx_wait(failing, 2, 10000) >= 2);
    bool is_zombie = false;
    int64_t before = cpu_ms(p.pid, &is_zombie), after = before;
    int64_t started = hp_now_ms();
    kill(p.pid, SIGTERM);
    while (!is_zombie && hp_now_ms() - started < 20000) {
        int64_t now_cpu = cpu_ms(p.pid, &is_zombie);
        if (now_cpu >= 0)
            after = now_cpu;
        rx_wait(slow, 100, 20);
    }
    int64_t drain_ms = hp_now_ms() - started;
    fprintf(stderr, "drain: %lld ms, CPU %lld ms\n", (long long)drain_ms,
            (long long)(after - before));
    assert_int_equal(hp_stop(&p), 0);
    assert_true(drain_ms >= 1000);              /* it did wait for the slow attempt */
    assert_true(after - before < drain_ms / 4); /* and did not spin meanwhile */
    rx_stop(slow);
    rx_stop(failing);
    hp_cleanup(&p);
}

/* CPU time in ms of the server's thread named `name` (its comm), from /proc; -1 if none. */
static int64_t thread_cpu_ms(pid_t pid, const char *name)
{
    for (int tid = (int)pid; tid < (int)pid + 64; tid++) {
        char path[96], comm[64] = "", text[1024];
        snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)pid, tid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        bool is_named = fgets(comm, sizeof comm, f) && strncmp(comm, name, strlen(name)) == 0;
        fclose(f);
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, tid);
        if (!is_named || !(f = fopen(path, "r")))
            continue;
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        const char *p = strrchr(text, ')');
        unsigned long long utime = 0, stime = 0;
        if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                         &stime) != 2)
            return -1;
        return (int64_t)((utime + stime) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
    }
    return -1;
}

/* How many of a channel's pending notifications (up to 200) are due by now + slack_s, neither
 * in flight nor scheduled later; *pending gets how many are pending. */
static size_t due_pending(struct hp *p, const char *channel, int64_t slack_s, size_t *pending)
{
    char path[160];
    snprintf(path, sizeof path, "/herald/v1/deliveries?channel_id=%s&status=pending&per_page=200",
             channel);
    struct hp_resp r = hp_req(p, "GET", path, NULL, p->token, NULL);
    assert_int_equal(r.status, 200);
    json_t *list = hp_at(r.json, "deliveries");
    int64_t now_s = (int64_t)time(NULL); /* wall clock, as the API shows */
    size_t due = 0;
    *pending = json_array_size(list);
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *n = json_array_get(list, i);
        int64_t next_s = 0;
        assert_int_equal(time_parse_iso8601(hp_str(n, "next_attempt_time"), &next_s), HERALD_OK);
        due += !json_is_true(json_object_get(n, "in_flight")) && next_s <= now_s + slack_s;
    }
    hp_resp_free(&r);
    return due;
}

/* A dead destination with a backlog of thousands: while its circuit stays open, the claims (one
 * every 250 ms) skip its channels, and each walked past every due row of them in the outbox's
 * due index: the writer's idle work grew with the backlog (110,000 rows: 14% of a core). Once a
 * window ends and its probe fails, the backlog is moved in one pass to the next window's end, so
 * nothing of it is due meanwhile (the deliveries API shows it) and the writer idles; when the
 * receiver is back, everything is delivered after the window. */
static void a_dead_destinations_backlog_leaves_the_writer_idle(void **state)
{
    (void)state;
    struct hp p;
    /* Limits shrunk (64 in flight, 32 queued): a claim takes 96 rows, so the backlog is larger
     * than what one claim at a window's end takes and gives back to the next window's end.
     * Retries 1 s apart: a failed probe's notification is not left for 5 minutes. */
    setenv("HERALD_TEST_CIRCUIT_MS", "5000,300000", 1); /* windows of 5 s, then 10 s */
    hp_start_with(&p, "HERALD_TEST_DISPATCH", "64,64,32",
                  "--allow-network 127.0.0.0/8 --retry-schedule 0s,1s,1s,1s,1s,1s,1s,1s");
    unsetenv("HERALD_TEST_CIRCUIT_MS");
    enum { CHANNELS = 20, THREADS = 4, INSERTS = 40, N = CHANNELS * THREADS * INSERTS };
    int port = watch_dead_port(&p, 7900, CHANNELS, "/backlog");
    struct inserters ins;
    inserters_start(&ins, &p, THREADS, INSERTS);
    assert_true(hp_log_wait(&p, "circuit opened", 10000));
    int64_t opened = hp_now_ms(); /* just after it opened: its first window ends 5 s later */
    inserters_join(&ins);
    /* Into the second window (10 s, from about opened + 5 s): the first one's end let a claim
     * through, its probe failed, and what it claimed was given back. */
    while (hp_now_ms() < opened + 7000)
        usleep(50000);
    size_t pending = 0, due = due_pending(&p, "7900", 2, &pending);
    size_t pending_last = 0, due_last = due_pending(&p, "7919", 2, &pending_last);
    int64_t writer_before = thread_cpu_ms(p.pid, "herald-writer");
    int64_t measured = hp_now_ms();
    while (hp_now_ms() < measured + 1500)
        usleep(50000);
    int64_t writer_ms = thread_cpu_ms(p.pid, "herald-writer") - writer_before;
    fprintf(stderr,
            "in the second window: %zu of %zu and %zu of %zu pending due; writer CPU %lld ms "
            "in %lld ms\n",
            due, pending, due_last, pending_last, (long long)writer_ms,
            (long long)(hp_now_ms() - measured));
    assert_true(pending >= INSERTS * THREADS / 2); /* still a backlog (none delivered) */
    assert_int_equal(due, 0);
    assert_int_equal(due_last, 0);
    assert_true(writer_before >= 0 && writer_ms < 300); /* generous: idle is ~0 */

    int64_t up_at = hp_now_ms();
    struct receiver *rx = rx_start_at(NULL, port);
    /* The second window ends about opened + 15 s: its probe gets through, the rest follow. */
    await_every_one(&p, rx, N, up_at, up_at + 45000);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

static void private_addresses_are_refused_without_the_allow_flag(void **state)
{
    (void)state;
    struct hp strict;
    hp_start(&strict, "--retry-schedule 0s,100ms");
    struct receiver *rx = rx_start(NULL);
    char url[256], body[1024];
    snprintf(url, sizeof url, "http://localhost:%d/x", rx_port(rx));
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"8001\",\"events\":[\"Leads.create\"],"
             "\"notify_url\":\"%s\"}]}",
             url);
    struct hp_resp r = hp_req(&strict, "POST", "/crm/v8/actions/watch", body, strict.token, NULL);
    assert_int_equal(r.status, 400);
    assert_string_equal(hp_str(hp_at(r.json, "watch[0]"), "code"), "INVALID_DATA");
    assert_string_equal(hp_str(hp_at(r.json, "watch[0].details"), "api_name"), "notify_url");
    hp_resp_free(&r);
    hp_cleanup(&strict);

    /* Allowed when subscribing, refused when connecting after a restart without the flag. */
    struct hp once;
    hp_start(&once, "--allow-network 127.0.0.0/8 --retry-schedule 0s,100ms");
    r = hp_req(&once, "POST", "/crm/v8/actions/watch", body, once.token, NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    assert_int_equal(hp_stop(&once), 0);
    snprintf(once.extra, sizeof once.extra, "--retry-schedule 0s,100ms");
    hp_restart(&once);
    r = hp_req(&once, "POST", "/crm/v8/Leads", "{\"data\":[{\"Last_Name\":\"x\"}]}", once.token,
               NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    assert_true(hp_log_wait(&once, "refused address", 5000));
    assert_int_equal(rx_count(rx), 0);
    hp_cleanup(&once);
    rx_stop(rx);
}

/* DNS rebinding: a name that does not resolve when subscribing (a .test name) is accepted, and
 * resolves to loopback when delivering (the test hook); the attempt is refused before any connect,
 * on the own client and on the libcurl path, and the receiver on that address sees nothing. */
static void a_name_resolving_to_loopback_only_at_delivery_is_refused(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    char url[256];
    snprintf(url, sizeof url, "http://rebind.test:%d/x", rx_port(rx));
    for (int is_curl = 0; is_curl < 2; is_curl++) {
        struct hp p;
        setenv("HERALD_TEST_HOSTS", "rebind.test=127.0.0.1", 1);
        if (is_curl)
            setenv("HERALD_TEST_CURL_ONLY", "1", 1);
        hp_start(&p, "--allow-network 10.0.0.0/8 --retry-schedule 0s");
        unsetenv("HERALD_TEST_HOSTS");
        unsetenv("HERALD_TEST_CURL_ONLY");
        watch_at(&p, "8002", "Leads.create", url);
        insert_at(&p, "Leads", "Last_Name");
        assert_true(hp_log_wait(&p, "refused address: loopback", 5000));
        assert_int_equal(hp_stop(&p), 0);
        hp_cleanup(&p);
    }
    assert_int_equal(rx_count(rx), 0);
    rx_stop(rx);
}

static bool has_signature(const char *header, const char *secret, const struct rx_request *cb)
{
    char id[128], ts[64];
    assert_true(rx_header(cb, "webhook-id", id, sizeof id));
    assert_true(rx_header(cb, "webhook-timestamp", ts, sizeof ts));
    struct buf want;
    buf_init(&want);
    sign_webhook(secret, id, atoll(ts), cb->body, cb->body_len, &want);
    bool found = strstr(header, want.data) != NULL;
    buf_fini(&want);
    return found;
}

/* A proxy named by the environment is not used: it would resolve the notify URL's host itself
 * and reach whatever that name points to by then, not the address the SSRF check vetted. */
static void callbacks_ignore_proxies_named_by_the_environment(void **state)
{
    (void)state;
    struct receiver *proxy = rx_start(NULL);
    struct receiver *rx = rx_start(NULL);
    char proxy_url[256], url[256], body[512];
    rx_url(proxy, "", proxy_url, sizeof proxy_url);
    setenv("http_proxy", proxy_url, 1);
    setenv("ALL_PROXY", proxy_url, 1);
    struct hp p;
    hp_start(&p, "--allow-network 127.0.0.0/8");
    unsetenv("http_proxy"); /* the harness's own requests go direct */
    unsetenv("ALL_PROXY");
    rx_url(rx, "/direct", url, sizeof url);
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"7200\",\"events\":[\"Cases.create\"],"
             "\"notify_url\":\"%s\"}]}",
             url);
    struct hp_resp r = hp_req(&p, "POST", "/crm/v8/actions/watch", body, p.token, NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    r = hp_req(&p, "POST", "/crm/v8/Cases",
               "{\"data\":[{\"Subject\":\"s\",\"Case_Origin\":\"Email\",\"Status\":\"New\"}]}",
               p.token, NULL);
    assert_int_equal(r.status, 201);
    hp_resp_free(&r);
    assert_int_equal(rx_wait(rx, 1, 10000), 1);
    assert_string_equal(rx_get(rx, 0)->path, "/direct");
    assert_int_equal(rx_count(proxy), 0);
    rx_stop(proxy);
    rx_stop(rx);
    hp_cleanup(&p);
}

static void rotation_signs_with_both_secrets(void **state)
{
    (void)state;
    char old_secret[128], new_secret[128], err[512];
    assert_int_equal(hp_cli(&srv, old_secret, sizeof old_secret, err, sizeof err, "secret", "show",
                            "--db", srv.db, NULL),
                     0);
    assert_int_equal(hp_cli(&srv, new_secret, sizeof new_secret, err, sizeof err, "secret",
                            "rotate", "--db", srv.db, NULL),
                     0);
    old_secret[strcspn(old_secret, "\n")] = '\0';
    new_secret[strcspn(new_secret, "\n")] = '\0';
    struct receiver *rx = rx_start(NULL);
    char url[256];
    rx_url(rx, "/rotated", url, sizeof url);
    watch("7007", "Quotes.create", url);
    insert("Quotes", "Subject");
    assert_int_equal(rx_wait(rx, 1, 10000), 1);
    char sig[1024];
    /* The rotation is announced to the dispatcher, so the first callback has both signatures;
     * the loop (bounded) only looks further if it did not. */
    const struct rx_request *cb = rx_get(rx, 0);
    assert_true(rx_header(cb, "webhook-signature", sig, sizeof sig));
    for (int i = 0; i < 20 && !strchr(sig, ' '); i++) {
        rx_wait(rx, 100, 100);
        insert("Quotes", "Subject");
        size_t n = rx_wait(rx, (size_t)i + 2, 5000);
        cb = rx_get(rx, n - 1);
        assert_true(rx_header(cb, "webhook-signature", sig, sizeof sig));
    }
    assert_non_null(strchr(sig, ' '));
    assert_true(has_signature(sig, new_secret, cb));
    assert_true(has_signature(sig, old_secret, cb));
    rx_stop(rx);
}

/* Runs `herald secret SUB` on p's database; its stdout (the current secret, alone on its line)
 * without the newline into secret, its stderr into err. */
static void secret_cli(const struct hp *p, const char *sub, char secret[128], char *err,
                       size_t err_len)
{
    char out[256];
    int rc = hp_cli(p, out, sizeof out, err, err_len, "secret", sub, "--db", p->db, NULL);
    if (rc != 0)
        fail_msg("secret %s: exit %d: %s", sub, rc, err);
    size_t n = strcspn(out, "\n");
    assert_string_equal(out + n, "\n"); /* one line on stdout, nothing else */
    out[n] = '\0';
    assert_memory_equal(out, "whsec_", 6);
    assert_true(n < 128);
    memcpy(secret, out, n + 1);
}

#define SIG_ENTRY_LEN 64 /* "v1," and 44 base64 digits fit */

/* The webhook-signature entry `secret` gives for the callback. */
static void signature_of(const char *secret, const struct rx_request *cb, char out[SIG_ENTRY_LEN])
{
    char id[128], ts[64];
    assert_true(rx_header(cb, "webhook-id", id, sizeof id));
    assert_true(rx_header(cb, "webhook-timestamp", ts, sizeof ts));
    struct buf want;
    buf_init(&want);
    assert_int_equal(sign_webhook(secret, id, atoll(ts), cb->body, cb->body_len, &want), HERALD_OK);
    assert_true(want.len < SIG_ENTRY_LEN);
    snprintf(out, SIG_ENTRY_LEN, "%s", want.data);
    buf_fini(&want);
}

/* The callback's webhook-signature split at its spaces into entries (at most max); returns
 * how many there are. */
static size_t signature_entries(const struct rx_request *cb, char entries[][SIG_ENTRY_LEN],
                                size_t max)
{
    char header[2048];
    assert_true(rx_header(cb, "webhook-signature", header, sizeof header));
    size_t n = 0;
    for (const char *at = header; *at;) {
        size_t len = strcspn(at, " ");
        assert_true(len > 0 && len < SIG_ENTRY_LEN); /* no empty entry: one space between */
        if (n < max)
            snprintf(entries[n], SIG_ENTRY_LEN, "%.*s", (int)len, at);
        n++;
        at += len;
        if (*at)
            at++;
    }
    return n;
}

/* Asserts the callback carries exactly the signatures of secrets[0..count), in that order. */
static void assert_signed_by(const struct rx_request *cb, char secrets[][128], size_t count)
{
    char entries[16][SIG_ENTRY_LEN];
    size_t n = signature_entries(cb, entries, 16);
    if (n != count)
        fail_msg("%zu signatures, %zu expected", n, count);
    for (size_t i = 0; i < count; i++) {
        char want[SIG_ENTRY_LEN];
        signature_of(secrets[i], cb, want);
        if (strcmp(entries[i], want) != 0)
            fail_msg("signature %zu is not the one of secret %zu", i, i);
    }
}

/* A server of the test's own whose channel sends `module`'s creations to a new receiver. */
static struct receiver *signing_server(struct hp *p, const char *channel, const char *module)
{
    hp_start(p, "--allow-network 127.0.0.0/8");
    struct receiver *rx = rx_start(NULL);
    char url[256], event[64];
    rx_url(rx, "/signed", url, sizeof url);
    snprintf(event, sizeof event, "%s.create", module);
    watch_at(p, channel, event, url);
    return rx;
}

/* Rotating twice within 24 hours dropped the first old secret at once: a receiver still on it
 * rejected every callback. Each retired secret signs for its own 24 hours, newest first. */
static void rotating_twice_signs_with_all_three_secrets_newest_first(void **state)
{
    (void)state;
    struct hp p;
    struct receiver *rx = signing_server(&p, "7301", "Quotes");
    char secrets[3][128], err[1024]; /* newest first: [0] current */
    secret_cli(&p, "show", secrets[2], err, sizeof err);
    assert_string_equal(err, "");
    secret_cli(&p, "rotate", secrets[1], err, sizeof err);
    secret_cli(&p, "rotate", secrets[0], err, sizeof err);
    assert_string_not_equal(secrets[0], secrets[1]);
    assert_string_not_equal(secrets[1], secrets[2]);
    /* The rotation and show list the secrets still signing beside the current one. */
    char *second = strstr(err, secrets[1]), *third = strstr(err, secrets[2]);
    assert_true(second && third && second < third);
    char shown[128], show_err[1024];
    secret_cli(&p, "show", shown, show_err, sizeof show_err);
    assert_string_equal(shown, secrets[0]);
    assert_string_equal(show_err, err);
    /* No callback went before the rotations, so the dispatcher reads the secrets fresh. */
    insert_at(&p, "Quotes", "Subject");
    assert_int_equal(rx_wait(rx, 1, 10000), 1);
    assert_signed_by(rx_get(rx, 0), secrets, 3);
    rx_stop(rx);
    hp_cleanup(&p);
}

/* A callback sent right after `herald secret rotate` returned lacked the new secret's
 * signature: the dispatcher read the secrets at most once a second, and it had just read them
 * for the callback before. The rotation is announced to it now, so the first callback after
 * each of three rotations carries every signature, the new secret's first. */
static void the_first_callback_after_a_rotation_is_signed_with_the_new_secret(void **state)
{
    (void)state;
    struct hp p;
    struct receiver *rx = signing_server(&p, "7303", "Quotes");
    char secrets[4][128], err[1024]; /* newest first: after rotation i, [2 - i] is current */
    secret_cli(&p, "show", secrets[3], err, sizeof err);
    for (size_t i = 0; i < 3; i++) {
        insert_at(&p, "Quotes", "Subject"); /* the dispatcher reads the secrets for it */
        assert_int_equal(rx_wait(rx, 2 * i + 1, 10000), 2 * i + 1);
        secret_cli(&p, "rotate", secrets[2 - i], err, sizeof err);
        insert_at(&p, "Quotes", "Subject");
        assert_int_equal(rx_wait(rx, 2 * i + 2, 10000), 2 * i + 2);
        assert_signed_by(rx_get(rx, 2 * i + 1), secrets + (2 - i), i + 2);
    }
    rx_stop(rx);
    hp_cleanup(&p);
}

/* A retired secret stops signing at its end while one retired after it signs on; the end is
 * brought close with HERALD_TEST_SECRET_GRACE_S, the 24 hours not waited for. Every callback
 * until then carries three signatures, every one from then on two. */
static void a_retired_secret_stops_signing_at_its_end_while_a_later_one_signs_on(void **state)
{
    (void)state;
    struct hp p;
    struct receiver *rx = signing_server(&p, "7302", "Quotes");
    char secrets[3][128], err[1024];
    secret_cli(&p, "show", secrets[2], err, sizeof err);
    setenv("HERALD_TEST_SECRET_GRACE_S", "3", 1);
    secret_cli(&p, "rotate", secrets[1], err, sizeof err);
    unsetenv("HERALD_TEST_SECRET_GRACE_S");
    assert_non_null(strstr(err, "level=warn"));
    assert_non_null(strstr(err, "for a test\" grace_s=3"));
    secret_cli(&p, "rotate", secrets[0], err, sizeof err);
    assert_null(strstr(err, "for a test"));
    long long first_until = hp_db_value(&p, "SELECT min(until_s) FROM retired_secrets");
    long long second_until = hp_db_value(&p, "SELECT max(until_s) FROM retired_secrets");
    assert_true(second_until - first_until > 23 * 3600);
    /* No callback went before the rotations, so the dispatcher reads the secrets fresh. */
    bool has_three = false, has_two = false;
    int64_t deadline = hp_now_ms() + 15000;
    for (size_t i = 0; !has_two && hp_now_ms() < deadline; i++) {
        if (i)
            rx_wait(rx, 1000, 100); /* a callback a tenth of a second */
        insert_at(&p, "Quotes", "Subject");
        assert_int_equal(rx_wait(rx, i + 1, 10000), i + 1);
        const struct rx_request *cb = rx_get(rx, i);
        char ts[32];
        assert_true(rx_header(cb, "webhook-timestamp", ts, sizeof ts));
        bool is_before_end = atoll(ts) < first_until;
        assert_signed_by(cb, secrets, is_before_end ? 3 : 2);
        has_three |= is_before_end;
        has_two |= !is_before_end;
    }
    assert_true(has_three);
    assert_true(has_two);
    /* show no longer lists it; it lists the one still signing. */
    char shown[128];
    secret_cli(&p, "show", shown, err, sizeof err);
    assert_non_null(strstr(err, secrets[1]));
    assert_null(strstr(err, secrets[2]));
    rx_stop(rx);
    hp_cleanup(&p);
}

/* Retired secrets are bounded: the 10 newest sign, the rotation that retires an eleventh says
 * the oldest stopped before its end. */
static void past_ten_retired_secrets_the_oldest_stops_signing(void **state)
{
    (void)state;
    enum { ROTATIONS = 12, SIGNING = 11 };
    struct hp p;
    struct receiver *rx = signing_server(&p, "7303", "Quotes");
    char secrets[ROTATIONS + 1][128], err[2048]; /* [ROTATIONS - k]: after k rotations */
    secret_cli(&p, "show", secrets[ROTATIONS], err, sizeof err);
    for (int k = 1; k <= ROTATIONS; k++) {
        secret_cli(&p, "rotate", secrets[ROTATIONS - k], err, sizeof err);
        bool is_cut = strstr(err, "1 retired secret stopped signing before its end") != NULL;
        if (is_cut != (k > 10))
            fail_msg("rotation %d: %s", k, err);
    }
    assert_int_equal(hp_db_value(&p, "SELECT count(*) FROM retired_secrets"), 10);
    insert_at(&p, "Quotes", "Subject");
    assert_int_equal(rx_wait(rx, 1, 10000), 1);
    assert_signed_by(rx_get(rx, 0), secrets, SIGNING);
    rx_stop(rx);
    hp_cleanup(&p);
}

/* A SIGTERM with a backlog queued for a slow destination: the stop waits for the attempts in
 * flight, not for the queue behind them (which would keep it sending until the grace period ran
 * out, then abandon what it had just started), and the queue is sent after the restart. */
static void sigterm_waits_for_attempts_in_flight_not_the_queue(void **state)
{
    (void)state;
    struct hp p;
    enum { N = 12 };
    struct receiver *rx = limited_burst(&p, "2,2,64", 1000, "7950", N);
    assert_int_equal(rx_wait(rx, 2, 10000), 2); /* two in flight, ten queued behind them */
    int64_t t0 = hp_now_ms();
    assert_int_equal(hp_stop(&p), 0);
    int64_t took = hp_now_ms() - t0;
    size_t sent = rx_count(rx);
    if (took > 3000 || sent > 4)
        fail_msg("the stop took %lld ms and started %zu attempts", (long long)took, sent);
    rx_set_delay(rx, 0);
    hp_restart(&p);
    /* Every notification arrives (at least once) after the restart. */
    int64_t deadline = hp_now_ms() + 15000;
    size_t distinct = 0;
    while (hp_now_ms() < deadline && distinct < N) {
        size_t count = rx_wait(rx, rx_count(rx) + 1, 200);
        char ids[64][64];
        distinct = 0;
        for (size_t i = 0; i < count && i < 64; i++) {
            char id[64];
            if (!rx_header(rx_get(rx, i), "webhook-id", id, sizeof id))
                continue;
            bool is_seen = false;
            for (size_t k = 0; k < distinct && !is_seen; k++)
                is_seen = strcmp(ids[k], id) == 0;
            if (!is_seen)
                snprintf(ids[distinct++], sizeof ids[0], "%s", id);
        }
    }
    assert_int_equal(distinct, N);
    rx_stop(rx);
    hp_cleanup(&p);
}

/* A stop with both a request in flight (its body half sent, never finished) and a delivery
 * attempt in flight (held by the receiver) ends within 8.5 s in all (9.8 s with the exit), inside
 * the 10 s a container runtime gives before SIGKILL: the two waits were 10 s each, one after the
 * other (20 s). */
static void a_stop_ends_within_a_containers_10_s(void **state)
{
    (void)state;
    struct hp p;
    struct receiver *rx = limited_burst(&p, "8,8,64", -1, "7970", 1);
    assert_int_equal(rx_wait(rx, 1, 10000), 1); /* in flight, held by the receiver */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p.port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST /crm/v8/Leads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Zoho-oauthtoken %s\r\nContent-Length: 100\r\n\r\n{\"da",
                     p.token);
    assert_int_equal(write(fd, head, (size_t)n), n);
    int64_t t0 = hp_now_ms();
    kill(p.pid, SIGTERM);
    int status = 0;
    while (waitpid(p.pid, &status, WNOHANG) != p.pid && hp_now_ms() - t0 < 25000)
        poll(NULL, 0, 20);
    int64_t took = hp_now_ms() - t0;
    fprintf(stderr, "the stop took %lld ms\n", (long long)took);
    p.pid = 0;
    close(fd);
    if (took > 9800)
        fail_msg("the stop took %lld ms", (long long)took);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    rx_set_delay(rx, 0);
    rx_stop(rx);
    hp_cleanup(&p);
}

/* A second SIGTERM while the stop waits for an attempt in flight ends the process at once (it
 * was ignored: the stop waited its whole 10 s), with status 1; nothing is lost: the attempt cut
 * short is sent again after the restart. */
static void a_second_sigterm_ends_the_stop_at_once(void **state)
{
    (void)state;
    struct hp p;
    struct receiver *rx = limited_burst(&p, "8,8,64", -1, "7960", 1);
    assert_int_equal(rx_wait(rx, 1, 10000), 1); /* in flight, held by the receiver */
    int64_t t0 = hp_now_ms();
    kill(p.pid, SIGTERM);
    assert_true(hp_log_wait(&p, "msg=\"stopping\"", 5000));
    /* Past the window in which a repeat is taken for the same stop (the next test). */
    int64_t wait_ms = 400 - (hp_now_ms() - t0);
    if (wait_ms > 0)
        poll(NULL, 0, (int)wait_ms);
    kill(p.pid, SIGTERM);
    int status = 0;
    while (waitpid(p.pid, &status, WNOHANG) != p.pid && hp_now_ms() - t0 < 20000)
        poll(NULL, 0, 5);
    int64_t took = hp_now_ms() - t0;
    if (took > 5000)
        fail_msg("the stop took %lld ms after the second SIGTERM", (long long)took);
    p.pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_true(hp_log_wait(&p, "second stop signal", 1000));
    rx_set_delay(rx, 0);
    hp_restart(&p);
    assert_true(rx_wait(rx, 2, 10000) >= 2);
    char first[64], again[64];
    assert_true(rx_header(rx_get(rx, 0), "webhook-id", first, sizeof first));
    assert_true(rx_header(rx_get(rx, 1), "webhook-id", again, sizeof again));
    assert_string_equal(first, again);
    rx_stop(rx);
    hp_cleanup(&p);
}

/* The same stop told twice at once (a signal to `make run`'s process group reaches the server
 * from the group and again from make, which forwards it) is one stop: the server still waits for
 * the attempt in flight and exits 0. It exited 1 at once, without its clean stop. */
static void a_repeated_sigterm_at_once_is_one_stop(void **state)
{
    (void)state;
    struct hp p;
    struct receiver *rx = limited_burst(&p, "8,8,64", -1, "7961", 1);
    assert_int_equal(rx_wait(rx, 1, 10000), 1); /* in flight, held by the receiver */
    kill(p.pid, SIGTERM);
    assert_true(hp_log_wait(&p, "msg=\"stopping\"", 5000));
    kill(p.pid, SIGTERM);
    assert_true(hp_log_wait(&p, "stop signal repeated", 5000));
    rx_set_delay(rx, 0);
    int status = 0;
    int64_t t0 = hp_now_ms();
    while (waitpid(p.pid, &status, WNOHANG) != p.pid && hp_now_ms() - t0 < 20000)
        poll(NULL, 0, 5);
    p.pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(hp_log_wait(&p, "second stop signal", 0));
    rx_stop(rx);
    hp_cleanup(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retry_after_on_429_and_503_is_honoured),
        cmocka_unit_test(retries_follow_the_schedule),
        cmocka_unit_test(gone_disables_the_channel),
        cmocka_unit_test(gone_from_a_url_the_channel_left_keeps_the_channel),
        cmocka_unit_test(an_endless_response_body_is_cut_and_its_status_kept),
        cmocka_unit_test(a_truncated_response_body_keeps_its_status),
        cmocka_unit_test(an_endless_chunk_extension_holds_no_other_destination),
        cmocka_unit_test(endless_trailers_hold_no_other_destination),
        cmocka_unit_test(endless_trailers_are_cut_on_the_libcurl_path_too),
        cmocka_unit_test(retry_after_of_an_interim_answer_is_not_the_final_ones),
        cmocka_unit_test(a_slow_receiver_gets_one_copy),
        cmocka_unit_test(an_overflowing_dispatcher_delivers_each_notification_once),
        cmocka_unit_test(a_clean_stop_leaves_no_lease_behind),
        cmocka_unit_test(bodies_past_the_byte_budget_wait_in_the_outbox_and_arrive_once),
        cmocka_unit_test(a_body_larger_than_the_byte_budget_goes_alone),
        cmocka_unit_test(retries_past_the_byte_budget_are_claimed_within_it),
        cmocka_unit_test(a_destination_holding_the_budget_does_not_hold_back_small_callbacks),
        cmocka_unit_test(a_slow_dns_lookup_holds_no_other_destination),
        cmocka_unit_test(the_own_client_requests_the_url_as_given),
        cmocka_unit_test(the_libcurl_path_delivers_and_retries_like_the_own_client),
        cmocka_unit_test(a_request_on_a_closed_kept_alive_connection_goes_again_on_a_new_one),
        cmocka_unit_test(a_dead_destination_does_not_slow_a_healthy_one),
        cmocka_unit_test(a_connect_timeout_moves_on_to_the_next_address),
        cmocka_unit_test(a_down_destination_of_many_channels_is_not_claimed_row_by_row),
        cmocka_unit_test(attempts_that_hang_fail_at_their_limits_and_are_retried),
        cmocka_unit_test(a_circuit_rests_no_longer_than_the_retry_schedule),
        cmocka_unit_test(a_dead_destination_fails_its_backlog_on_the_schedule),
        cmocka_unit_test(a_few_failures_among_successes_open_no_circuit),
        cmocka_unit_test(a_destination_back_gets_its_backlog_when_its_circuit_closes),
        cmocka_unit_test(a_destination_back_is_probed_though_nothing_is_due),
        cmocka_unit_test(retry_after_holds_while_the_circuit_is_open),
        cmocka_unit_test(the_attempt_failing_as_the_probe_gets_through_is_hastened_too),
        cmocka_unit_test(a_gone_probe_sends_nothing_more_of_its_channel),
        cmocka_unit_test(a_dead_destination_idle_between_retries_still_gets_its_backlog_when_back),
        cmocka_unit_test(a_channel_moved_off_a_dead_destination_retries_on_schedule),
        cmocka_unit_test(a_receiver_up_late_gets_every_notification),
        cmocka_unit_test(a_dead_destinations_backlog_leaves_the_writer_idle),
        cmocka_unit_test(stopping_waits_for_attempts_without_spinning),
        cmocka_unit_test(private_addresses_are_refused_without_the_allow_flag),
        cmocka_unit_test(a_name_resolving_to_loopback_only_at_delivery_is_refused),
        cmocka_unit_test(callbacks_ignore_proxies_named_by_the_environment),
        cmocka_unit_test(rotation_signs_with_both_secrets),
        cmocka_unit_test(rotating_twice_signs_with_all_three_secrets_newest_first),
        cmocka_unit_test(the_first_callback_after_a_rotation_is_signed_with_the_new_secret),
        cmocka_unit_test(a_retired_secret_stops_signing_at_its_end_while_a_later_one_signs_on),
        cmocka_unit_test(past_ten_retired_secrets_the_oldest_stops_signing),
        cmocka_unit_test(idle_connections_are_bounded_across_destinations),
        cmocka_unit_test(sigterm_waits_for_attempts_in_flight_not_the_queue),
        cmocka_unit_test(a_stop_ends_within_a_containers_10_s),
        cmocka_unit_test(a_second_sigterm_ends_the_stop_at_once),
        cmocka_unit_test(a_repeated_sigterm_at_once_is_one_stop),
    };
    /* HERALD_TEST_FILTER=pattern runs only the matching cases (while iterating on one). */
    if (getenv("HERALD_TEST_FILTER"))
        cmocka_set_test_filter(getenv("HERALD_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
