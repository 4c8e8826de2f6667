/* HTTP/1.1 pipelining in the dispatcher's own client, over real sockets: a fast receiver gets
 * several requests on one connection before it answers the first, each notification once; a
 * receiver that ends a pipelined connection early (Connection: close, or a close after one
 * answer) still gets every notification, without a failed attempt; one that leaves a pipelined
 * connection hanging costs only the first request an attempt; a slow receiver gets parallel
 * connections rather than a queue behind one answer. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How the raw receiver treats a read that brought several whole requests (pipelined ones). */
enum pipe_mode {
    PIPE_ANSWER,      /* answers them all, in one write */
    PIPE_CLOSE_FIRST, /* answers the first with Connection: close, and closes */
    PIPE_CUT_AFTER_3, /* with 3 or more: answers the first only, and closes */
    PIPE_HANG_FIRST,  /* the first time: answers none of them, keeps the connection open */
};

enum { PIPE_CONNS = 64, PIPE_BUF = 256 * 1024, PIPE_IDS = 1024 };

struct pipe_conn {
    int fd;
    char *buf;
    size_t len;
};

/* A receiver on a raw socket: one thread polls the listening socket and its connections
 * (bounded waits), reads what is there, and answers each whole request 200. */
struct piper {
    int listen_fd;
    int port;
    enum pipe_mode mode;
    pthread_mutex_t mu;
    char ids[PIPE_IDS][48]; /* webhook-id of every request read, duplicates included */
    size_t id_count;
    atomic_int answers;
    atomic_int pipelined; /* requests read while an earlier one on their connection waited */
    atomic_int tricks;    /* times the mode's early close was done */
    atomic_int accepted;  /* connections accepted */
    atomic_bool is_stopping;
    pthread_t thread;
};

/* The length of the whole request at p (n bytes), 0 when not all in yet; its webhook-id into
 * id. */
static size_t request_len(const char *p, size_t n, char *id, size_t id_len)
{
    const char *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end + 4 - p);
    const char *cl = memmem(p, head, "Content-Length: ", 16);
    const char *wid = memmem(p, head, "webhook-id: ", 12);
    if (!cl || !wid)
        return 0;
    size_t total = head + (size_t)atol(cl + 16);
    if (n < total)
        return 0;
    size_t len = strcspn(wid + 12, "\r");
    snprintf(id, id_len, "%.*s", (int)len, wid + 12);
    return total;
}

static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static const char ok_close[] =
    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";

/* Answers the whole requests in c's buffer as the mode says; false when c was closed. */
static bool piper_serve(struct piper *r, struct pipe_conn *c)
{
    size_t used = 0, count = 0;
    char id[48];
    for (size_t len; (len = request_len(c->buf + used, c->len - used, id, sizeof id));) {
        used += len;
        count++;
        pthread_mutex_lock(&r->mu);
        if (r->id_count < PIPE_IDS)
            snprintf(r->ids[r->id_count++], sizeof r->ids[0], "%s", id);
        pthread_mutex_unlock(&r->mu);
    }
    if (!count)
        return true;
    if (count > 1)
        atomic_fetch_add(&r->pipelined, (int)count - 1);
    if (r->mode == PIPE_HANG_FIRST && count >= 2 && atomic_load(&r->tricks) == 0) {
        atomic_fetch_add(&r->tricks, 1);
        c->len = 0; /* the requests are dropped; the connection stays, silent */
        return true;
    }
    bool is_close =
        (r->mode == PIPE_CLOSE_FIRST && count >= 2) || (r->mode == PIPE_CUT_AFTER_3 && count >= 3);
    if (is_close) {
        const char *answer = r->mode == PIPE_CLOSE_FIRST ? ok_close : ok;
        size_t len = strlen(answer);
        if (send(c->fd, answer, len, MSG_NOSIGNAL) == (ssize_t)len)
            atomic_fetch_add(&r->answers, 1);
        atomic_fetch_add(&r->tricks, 1);
        shutdown(c->fd, SHUT_WR);
        return false;
    }
    char out[PIPE_CONNS * sizeof ok];
    size_t out_len = 0;
    for (size_t i = 0; i < count && out_len + sizeof ok <= sizeof out; i++) {
        memcpy(out + out_len, ok, sizeof ok - 1);
        out_len += sizeof ok - 1;
    }
    if (send(c->fd, out, out_len, MSG_NOSIGNAL) != (ssize_t)out_len)
        return false;
    atomic_fetch_add(&r->answers, (int)count);
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
    return true;
}

static void *piper_main(void *arg)
{
    struct piper *r = arg;
    struct pipe_conn conns[PIPE_CONNS];
    size_t n_conns = 0;
    while (!atomic_load(&r->is_stopping)) {
        struct pollfd p[1 + PIPE_CONNS];
        p[0] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < n_conns; i++)
            p[1 + i] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        if (poll(p, 1 + n_conns, 50) <= 0)
            continue;
        for (size_t i = n_conns; i-- > 0;) {
            if (!p[1 + i].revents)
                continue;
            struct pipe_conn *c = &conns[i];
            ssize_t n = recv(c->fd, c->buf + c->len, PIPE_BUF - c->len, 0);
            if (n > 0) {
                c->len += (size_t)n;
                if (piper_serve(r, c))
                    continue;
            }
            close(c->fd);
            free(c->buf);
            conns[i] = conns[--n_conns];
        }
        if ((p[0].revents & POLLIN) && n_conns < PIPE_CONNS) {
            int fd = accept(r->listen_fd, NULL, NULL);
            if (fd >= 0) {
                conns[n_conns++] = (struct pipe_conn){.fd = fd, .buf = malloc(PIPE_BUF)};
                atomic_fetch_add(&r->accepted, 1);
            }
        }
    }
    for (size_t i = 0; i < n_conns; i++) {
        close(conns[i].fd);
        free(conns[i].buf);
    }
    return NULL;
}

static struct piper *piper_start(enum pipe_mode mode)
{
    struct piper *r = calloc(1, sizeof *r);
    r->mode = mode;
    pthread_mutex_init(&r->mu, NULL);
    r->listen_fd = hp_listen_loopback(64, &r->port);
    assert_int_equal(pthread_create(&r->thread, NULL, piper_main, r), 0);
    return r;
}

static void piper_stop(struct piper *r)
{
    atomic_store(&r->is_stopping, true);
    pthread_join(r->thread, NULL);
    close(r->listen_fd);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* How many distinct webhook-ids the receiver read, and how many requests in all. */
static size_t piper_distinct(struct piper *r, size_t *total)
{
    static char ids[PIPE_IDS][48];
    pthread_mutex_lock(&r->mu);
    size_t n = r->id_count;
    memcpy(ids, r->ids, n * sizeof ids[0]);
    pthread_mutex_unlock(&r->mu);
    qsort(ids, n, sizeof ids[0], cmp_str);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || strcmp(ids[i], ids[i - 1]) != 0;
    *total = n;
    return distinct;
}

static void insert_lead(struct hp *p)
{
    struct hp_resp r =
        hp_req(p, "POST", "/crm/v8/Leads", "{\"data\":[{\"Last_Name\":\"x\"}]}", p->token, NULL);
    if (r.status != 201)
        fail_msg("insert failed: %ld %s", r.status, r.body);
    hp_resp_free(&r);
}

/* Waits (up to 10 s) until the server has recorded `count` notifications delivered, then
 * checks that none failed and that each was delivered on its first attempt: a request sent
 * again because its connection ended before its answer is not a failed attempt. */
static void expect_all_delivered_first_time(struct hp *p, size_t count)
{
    int64_t deadline = hp_now_ms() + 10000;
    for (;;) {
        struct hp_resp r =
            hp_req(p, "GET", "/herald/v1/deliveries?per_page=200", NULL, p->token, NULL);
        assert_int_equal(r.status, 200);
        json_t *list = hp_at(r.json, "deliveries");
        size_t delivered = 0;
        for (size_t i = 0; i < json_array_size(list); i++)
            delivered += strcmp(hp_str(json_array_get(list, i), "status"), "delivered") == 0;
        if (delivered == count && json_array_size(list) == count) {
            for (size_t i = 0; i < count; i++) {
                json_t *n = json_array_get(list, i);
                if (json_integer_value(json_object_get(n, "attempt_count")) != 1)
                    fail_msg("a notification took more than one attempt: %s", r.body);
            }
            hp_resp_free(&r);
            return;
        }
        if (hp_now_ms() > deadline)
            fail_msg("%zu of %zu delivered after 10 s: %s", delivered, count, r.body);
        hp_resp_free(&r);
        usleep(20000);
    }
}

enum { FAN = 16, ROUNDS_MAX = 6 };

/* Inserts a lead (FAN notifications to the receiver at once) until the receiver has seen the
 * condition (pipelining, or its early close); each round waits until the round is delivered.
 * Returns the number of notifications made. The first round opens FAN new connections (none
 * has proven keep-alive yet); from the second on, they are pipelined. */
static size_t rounds_until(struct hp *p, atomic_int *seen)
{
    size_t made = 0;
    for (int round = 0; round < ROUNDS_MAX && (round < 2 || !atomic_load(seen)); round++) {
        insert_lead(p);
        made += FAN;
        expect_all_delivered_first_time(p, made);
    }
    return made;
}

static const char *flags = "--allow-network 127.0.0.0/8 --retry-schedule 0s,100ms,100ms,100ms";

/* A raw receiver in `mode`, and a server with `count` channels (from `first`) on it, its own
 * client's time limits set to `limits` (HERALD_TEST_OWN_LIMITS_MS; NULL: the real ones). */
static struct piper *piper_watched_with(struct hp *p, enum pipe_mode mode, int first, int count,
                                        const char *limits)
{
    struct piper *r = piper_start(mode);
    if (limits)
        setenv("HERALD_TEST_OWN_LIMITS_MS", limits, 1);
    hp_start(p, flags);
    unsetenv("HERALD_TEST_OWN_LIMITS_MS");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", r->port);
    hp_watch_many(p, first, count, "Leads.create", url);
    return r;
}

/* The same with FAN channels and the real limits. */
static struct piper *piper_watched(struct hp *p, enum pipe_mode mode, int first)
{
    return piper_watched_with(p, mode, first, FAN, NULL);
}

/* A fast receiver gets several requests on one connection before it answers the first, and
 * every notification exactly once. */
static void a_fast_receiver_gets_requests_pipelined_each_once(void **state)
{
    (void)state;
    struct hp p;
    struct piper *r = piper_watched(&p, PIPE_ANSWER, 9100);
    size_t made = rounds_until(&p, &r->pipelined);
    fprintf(stderr, "%d of %zu requests came pipelined\n", atomic_load(&r->pipelined), made);
    assert_true(atomic_load(&r->pipelined) > 0);
    size_t total = 0;
    assert_int_equal(piper_distinct(r, &total), made);
    assert_int_equal(total, made); /* none twice */
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    piper_stop(r);
}

/* The first answer on a pipelined connection says Connection: close: the requests behind it
 * go again on other connections (not failed attempts), and the destination is no longer
 * pipelined to. */
static void a_connection_close_answer_sends_the_pipelined_rest_again(void **state)
{
    (void)state;
    struct hp p;
    struct piper *r = piper_watched(&p, PIPE_CLOSE_FIRST, 9200);
    size_t made = rounds_until(&p, &r->tricks);
    assert_true(atomic_load(&r->tricks) > 0);
    size_t total = 0;
    assert_int_equal(piper_distinct(r, &total), made); /* each read at least once */
    assert_true(hp_log_wait(&p, "pipelining off", 1000));
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    piper_stop(r);
}

/* The receiver reads three or more pipelined requests, answers the first and closes: the one
 * it was answering next goes again (a kept-alive connection closed before its answer), and
 * those behind it too; each is delivered (some read twice), none recorded failed. */
static void a_connection_cut_after_one_answer_loses_no_pipelined_request(void **state)
{
    (void)state;
    struct hp p;
    struct piper *r = piper_watched(&p, PIPE_CUT_AFTER_3, 9300);
    size_t made = rounds_until(&p, &r->tricks);
    assert_true(atomic_load(&r->tricks) > 0);
    size_t total = 0;
    assert_int_equal(piper_distinct(r, &total), made);
    fprintf(stderr, "%zu requests read for %zu notifications\n", total, made);
    assert_true(total > made); /* the ones behind the answer came again */
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    piper_stop(r);
}

/* The first pipelined read goes unanswered, its connection held open: the request being
 * answered fails at the attempt's time limit (shortened to 500 ms) and is retried; the ones
 * behind it go again on other connections without a failed attempt; every notification is
 * delivered, and the destination is no longer pipelined to for a while. */
static void a_hung_pipelined_connection_fails_only_its_first_request(void **state)
{
    (void)state;
    struct hp p;
    struct piper *r = piper_watched_with(&p, PIPE_HANG_FIRST, 9500, FAN, "1000,500");
    size_t made = 0;
    for (int round = 0; round < ROUNDS_MAX && !atomic_load(&r->tricks); round++) {
        insert_lead(&p);
        made += FAN;
        /* Until the round is read (each once), or the trick was played on it. */
        int64_t until = hp_now_ms() + 10000;
        size_t total = 0;
        while (!atomic_load(&r->tricks) && piper_distinct(r, &total) < made) {
            if (hp_now_ms() > until)
                fail_msg("round %d: %zu requests read, %zu made", round, total, made);
            usleep(5000);
        }
    }
    assert_int_equal(atomic_load(&r->tricks), 1);
    int64_t tricked = hp_now_ms();
    int64_t deadline = hp_now_ms() + 10000;
    for (;;) {
        struct hp_resp resp =
            hp_req(&p, "GET", "/herald/v1/deliveries?per_page=200", NULL, p.token, NULL);
        assert_int_equal(resp.status, 200);
        json_t *list = hp_at(resp.json, "deliveries");
        size_t delivered = 0, retried = 0;
        for (size_t i = 0; i < json_array_size(list); i++) {
            json_t *n = json_array_get(list, i);
            delivered += strcmp(hp_str(n, "status"), "delivered") == 0;
            if (json_integer_value(json_object_get(n, "attempt_count")) > 1) {
                retried++;
                const char *error = hp_str(hp_at(n, "attempts[0]"), "error");
                assert_non_null(strstr(error, "Operation timed out after"));
            }
        }
        if (delivered == made) {
            assert_int_equal(retried, 1); /* the ones behind it were not failed attempts */
            hp_resp_free(&resp);
            fprintf(stderr, "all delivered %lld ms after the hang\n",
                    (long long)(hp_now_ms() - tricked));
            break;
        }
        if (hp_now_ms() > deadline)
            fail_msg("%zu of %zu delivered after 10 s: %s", delivered, made, resp.body);
        hp_resp_free(&resp);
        usleep(20000);
    }
    assert_true(hp_log_wait(&p, "pipelining off", 1000));
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    piper_stop(r);
}

/* A kept-alive connection is reused while fresh, and not once it has been idle longer than the
 * limit (60 s, shortened to 300 ms here): a new one is opened instead. */
static void a_connection_idle_too_long_is_not_reused(void **state)
{
    (void)state;
    struct hp p;
    struct piper *r = piper_watched_with(&p, PIPE_ANSWER, 9600, 1, "5000,15000,300");
    insert_lead(&p);
    expect_all_delivered_first_time(&p, 1);
    insert_lead(&p);
    expect_all_delivered_first_time(&p, 2);
    assert_int_equal(atomic_load(&r->accepted), 1);
    struct timespec idle = {.tv_sec = 0, .tv_nsec = 500 * 1000000}; /* time passing, the test */
    nanosleep(&idle, NULL);
    insert_lead(&p);
    expect_all_delivered_first_time(&p, 3);
    assert_int_equal(atomic_load(&r->accepted), 2);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    piper_stop(r);
}

/* A receiver that takes 200 ms per answer is not pipelined to: 8 notifications at once go on
 * parallel connections, all in about 200 ms, not one after another on one connection (1.6 s).
 * The first round opens 8 connections and measures the receiver as slow; the second would find
 * one of them idle and pipeline onto it if slowness were not checked. */
static void a_slow_receiver_gets_parallel_connections(void **state)
{
    (void)state;
    struct receiver *rx = rx_start(NULL);
    rx_set_delay(rx, 200);
    struct hp p;
    hp_start(&p, flags);
    char url[256];
    rx_url(rx, "/slow", url, sizeof url);
    hp_watch_many(&p, 9400, 8, "Leads.create", url);
    insert_lead(&p);
    assert_int_equal(rx_wait(rx, 8, 10000), 8);
    expect_all_delivered_first_time(&p, 8); /* their connections are idle, kept alive */
    int64_t sent = hp_now_ms();
    insert_lead(&p);
    assert_int_equal(rx_wait(rx, 16, 10000), 16);
    int64_t last = 0;
    for (size_t i = 8; i < 16; i++) {
        if (rx_get(rx, i)->at_ms > last)
            last = rx_get(rx, i)->at_ms;
    }
    fprintf(stderr, "8 requests to a slow receiver arrived within %lld ms\n",
            (long long)(last - sent));
    assert_true(last - sent < 1000);
    expect_all_delivered_first_time(&p, 16);
    assert_int_equal(hp_stop(&p), 0);
    hp_cleanup(&p);
    rx_stop(rx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_fast_receiver_gets_requests_pipelined_each_once),
        cmocka_unit_test(a_connection_close_answer_sends_the_pipelined_rest_again),
        cmocka_unit_test(a_connection_cut_after_one_answer_loses_no_pipelined_request),
        cmocka_unit_test(a_hung_pipelined_connection_fails_only_its_first_request),
        cmocka_unit_test(a_connection_idle_too_long_is_not_reused),
        cmocka_unit_test(a_slow_receiver_gets_parallel_connections),
    };
    if (getenv("HERALD_TEST_FILTER"))
        cmocka_set_test_filter(getenv("HERALD_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
