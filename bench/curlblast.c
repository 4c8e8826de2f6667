/* bench/curlblast: the libcurl ceiling for scenario 2 of bench/run. POSTs `count` JSON bodies of
 * about `bytes` bytes to one URL with libcurl multi driven the way Herald's dispatcher drives it
 * (curl_multi_socket_action + epoll, keep-alive, up to `conns` transfers and connections to the
 * host), and prints how many POSTs per second got a 2xx answer. The URL must be on 127.0.0.1.
 *
 *   curlblast URL COUNT [conns=128] [bytes=300] */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#define MAX_CONNS 1024

struct blast {
    int epfd;
    long timeout_ms; /* curl's timer; -1 none */
    double timeout_at;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    struct blast *b = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(b->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev = {.data.fd = s};
    if (what & CURL_POLL_IN)
        ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
        epoll_ctl(b->epfd, EPOLL_CTL_ADD, s, &ev);
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct blast *b = userp;
    b->timeout_ms = timeout_ms;
    b->timeout_at = timeout_ms < 0 ? -1 : now_ms() + (double)timeout_ms;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s URL COUNT [conns=128] [bytes=300]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    long count = atol(argv[2]);
    int conns = argc > 3 ? atoi(argv[3]) : 128;
    int bytes = argc > 4 ? atoi(argv[4]) : 300;
    if (strncmp(url, "http://127.0.0.1:", 17) != 0) {
        fprintf(stderr, "the URL must be http://127.0.0.1:PORT/...\n");
        return 2;
    }
    if (count < 1 || conns < 1 || conns > MAX_CONNS || bytes < 64 || bytes > 65536) {
        fprintf(stderr, "COUNT >= 1, conns 1..%d, bytes 64..65536\n", MAX_CONNS);
        return 2;
    }
    /* A body shaped like a callback, padded to `bytes` with a filler string. */
    char *body = malloc((size_t)bytes + 1);
    if (!body)
        return 1;
    int head = snprintf(body, (size_t)bytes + 1,
                        "{\"server_time\":1795750548395,\"query_params\":{},\"module\":\"Leads\","
                        "\"ids\":[\"1795750548395514002\"],\"operation\":\"insert\","
                        "\"channel_id\":\"1\",\"token\":null,\"pad\":\"");
    for (int i = head; i < bytes - 2; i++)
        body[i] = 'x';
    body[bytes - 2] = '"';
    body[bytes - 1] = '}';
    body[bytes] = '\0';

    curl_global_init(CURL_GLOBAL_ALL);
    struct blast b = {.epfd = epoll_create1(EPOLL_CLOEXEC), .timeout_ms = -1, .timeout_at = -1};
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, &b);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, &b);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)conns + 16);
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Content-Type: application/json;charset=UTF-8");
    headers = curl_slist_append(headers, "Expect:");
    CURL **easies = calloc((size_t)conns, sizeof *easies);
    if (!easies)
        return 1;
    long started = 0, ok = 0, failed = 0;
    for (int i = 0; i < conns && started < count; i++, started++) {
        CURL *e = curl_easy_init();
        easies[i] = e;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)bytes);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 15000L);
        curl_multi_add_handle(multi, e);
    }
    double t0 = now_ms(), limit = t0 + 120e3; /* bounded: two minutes at most */
    int running = 1;
    struct epoll_event events[256];
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    while (ok + failed < count && now_ms() < limit) {
        int wait = 100;
        if (b.timeout_at >= 0) {
            double left = b.timeout_at - now_ms();
            wait = left <= 0 ? 0 : left < 100 ? (int)left : 100;
        }
        int n = epoll_wait(b.epfd, events, 256, wait);
        for (int i = 0; i < n; i++) {
            int flags = 0;
            if (events[i].events & EPOLLIN)
                flags |= CURL_CSELECT_IN;
            if (events[i].events & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
            if (events[i].events & (EPOLLERR | EPOLLHUP))
                flags |= CURL_CSELECT_ERR;
            curl_multi_socket_action(multi, events[i].data.fd, flags, &running);
        }
        if (b.timeout_at >= 0 && now_ms() >= b.timeout_at) {
            b.timeout_at = -1;
            curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            long status = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
            if (msg->data.result == CURLE_OK && status >= 200 && status < 300)
                ok++;
            else
                failed++;
            curl_multi_remove_handle(multi, e);
            if (started < count) {
                started++;
                curl_multi_add_handle(multi, e); /* same handle: its connection stays warm */
            }
        }
    }
    double seconds = (now_ms() - t0) / 1e3;
    printf("curlblast posts=%ld ok=%ld failed=%ld conns=%d bytes=%d seconds=%.3f rate=%.0f/s\n",
           started, ok, failed, conns, bytes, seconds, (double)ok / seconds);
    for (int i = 0; i < conns; i++) {
        if (easies[i]) {
            curl_multi_remove_handle(multi, easies[i]);
            curl_easy_cleanup(easies[i]);
        }
    }
    free(easies);
    curl_slist_free_all(headers);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    free(body);
    return failed || ok < count ? 1 : 0;
}
