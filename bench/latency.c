/* bench/latency: commit→receipt latency of Herald's callbacks at a steady insert rate (scenario 3
 * of bench/run). Runs its own receiver (libmicrohttpd) on 127.0.0.1:0, subscribes a channel on
 * Leads.create to it, then sends single-record inserts paced at `rate` per second for `seconds`
 * over `conns` keep-alive connections (libcurl multi). For each record id it keeps the time its
 * insert answered 201 (Herald answers after the commit is durable, so this is the commit as the
 * client sees it) and the time its callback arrived (`ids[0]` of the callback), and prints the
 * percentiles of the difference. Bounded in time; the server must be on 127.0.0.1.
 *
 *   latency BASE_URL TOKEN [rate=1000] [seconds=10] [conns=4] */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONNS 64
#define CHANNEL_ID "900001"

struct sample {
    int64_t id;
    double at_ms;
};

struct samples {
    pthread_mutex_t mu;
    struct sample *v;
    size_t n, cap;
};

struct rx_body {
    char *data;
    size_t len;
};

struct conn {
    CURL *easy;
    char body[128];
    char *resp;
    size_t resp_len;
    double sent_ms;
    int is_busy;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void samples_add(struct samples *s, int64_t id, double at_ms)
{
    pthread_mutex_lock(&s->mu);
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            abort();
    }
    s->v[s->n++] = (struct sample){.id = id, .at_ms = at_ms};
    pthread_mutex_unlock(&s->mu);
}

static size_t samples_count(struct samples *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static int64_t id_of(json_t *v)
{
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* ---- receiver ---- */

static struct samples receipts = {.mu = PTHREAD_MUTEX_INITIALIZER};
static size_t rx_unparsed;

static enum MHD_Result on_callback(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *data,
                                   size_t *size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    struct rx_body *b = *con_cls;
    if (!b) {
        *con_cls = calloc(1, sizeof *b);
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*size) {
        b->data = realloc(b->data, b->len + *size + 1);
        if (!b->data)
            return MHD_NO;
        memcpy(b->data + b->len, data, *size);
        b->len += *size;
        *size = 0;
        return MHD_YES;
    }
    double at = now_ms();
    json_t *j = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    int64_t id = id_of(json_array_get(json_object_get(j, "ids"), 0));
    if (id)
        samples_add(&receipts, id, at);
    else
        __atomic_add_fetch(&rx_unparsed, 1, __ATOMIC_RELAXED);
    json_decref(j);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct rx_body *b = *con_cls;
    if (b) {
        free(b->data);
        free(b);
    }
    *con_cls = NULL;
}

/* ---- client ---- */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct conn *c = userdata;
    size_t n = size * nmemb;
    char *grown = realloc(c->resp, c->resp_len + n + 1);
    if (!grown)
        return 0;
    c->resp = grown;
    memcpy(c->resp + c->resp_len, ptr, n);
    c->resp_len += n;
    c->resp[c->resp_len] = '\0';
    return n;
}

static int post_watch(const char *base, const char *auth, int port)
{
    char url[512], body[512], expiry[32];
    time_t at = time(NULL) + 6 * 86400;
    struct tm tm;
    gmtime_r(&at, &tm);
    strftime(expiry, sizeof expiry, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(url, sizeof url, "%s/crm/v8/actions/watch", base);
    snprintf(body, sizeof body,
             "{\"watch\":[{\"channel_id\":\"" CHANNEL_ID "\",\"events\":[\"Leads.create\"],"
             "\"notify_url\":\"http://127.0.0.1:%d/callback\",\"channel_expiry\":\"%s\"}]}",
             port, expiry);
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth);
    struct conn sink = {0};
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    long status = 0;
    CURLcode rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status < 200 || status >= 300)
        fprintf(stderr, "latency: subscribing failed: %ld %s\n", status,
                sink.resp ? sink.resp : curl_easy_strerror(rc));
    free(sink.resp);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return rc == CURLE_OK && status >= 200 && status < 300 ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_sample(const void *a, const void *b)
{
    const struct sample *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static double pct(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s BASE_URL TOKEN [rate=1000] [seconds=10] [conns=4]\n", argv[0]);
        return 2;
    }
    const char *base = argv[1];
    double rate = argc > 3 ? atof(argv[3]) : 1000;
    double seconds = argc > 4 ? atof(argv[4]) : 10;
    int conns = argc > 5 ? atoi(argv[5]) : 4;
    if (strncmp(base, "http://127.0.0.1:", 17) != 0 || rate <= 0 || rate > 100000 || seconds <= 0 ||
        seconds > 120 || conns < 1 || conns > MAX_CONNS) {
        fprintf(stderr,
                "BASE_URL http://127.0.0.1:PORT, rate 1..100000, seconds 1..120, "
                "conns 1..%d\n",
                MAX_CONNS);
        return 2;
    }
    char auth[512], url[512];
    snprintf(auth, sizeof auth, "Authorization: Zoho-oauthtoken %s", argv[2]);
    snprintf(url, sizeof url, "%s/crm/v8/Leads", base);

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *mhd = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_callback,
        NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_LIMIT, 1000u, MHD_OPTION_END);
    if (!mhd) {
        fprintf(stderr, "latency: cannot start the receiver\n");
        return 1;
    }
    int port = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT)->port;

    curl_global_init(CURL_GLOBAL_ALL);
    if (post_watch(base, auth, port)) {
        MHD_stop_daemon(mhd);
        return 1;
    }
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)conns);
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    struct conn cs[MAX_CONNS] = {{0}};
    for (int i = 0; i < conns; i++) {
        cs[i].easy = curl_easy_init();
        curl_easy_setopt(cs[i].easy, CURLOPT_URL, url);
        curl_easy_setopt(cs[i].easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(cs[i].easy, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(cs[i].easy, CURLOPT_WRITEDATA, &cs[i]);
        curl_easy_setopt(cs[i].easy, CURLOPT_PRIVATE, &cs[i]);
        curl_easy_setopt(cs[i].easy, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(cs[i].easy, CURLOPT_TIMEOUT_MS, 10000L);
    }
    struct samples acks = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct samples sends = {.mu = PTHREAD_MUTEX_INITIALIZER};
    size_t total = (size_t)(rate * seconds), sent = 0, failed = 0, late = 0;
    double *rtt = calloc(total ? total : 1, sizeof *rtt);
    size_t rtt_n = 0;
    double interval = 1e3 / rate, t0 = now_ms(), hard_end = t0 + seconds * 1e3 + 15e3;
    int in_flight = 0;
    while ((sent < total || in_flight > 0) && now_ms() < hard_end) {
        double now = now_ms();
        /* Start every insert whose time has come, on an idle connection. */
        while (sent < total && now >= t0 + (double)sent * interval) {
            struct conn *c = NULL;
            for (int i = 0; i < conns && !c; i++)
                if (!cs[i].is_busy)
                    c = &cs[i];
            if (!c)
                break;
            if (now - (t0 + (double)sent * interval) > 5)
                late++; /* every connection was busy: the pace slipped */
            snprintf(c->body, sizeof c->body, "{\"data\":[{\"Last_Name\":\"Latency %zu\"}]}", sent);
            curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
            c->resp_len = 0;
            c->sent_ms = now;
            c->is_busy = 1;
            curl_multi_add_handle(multi, c->easy);
            in_flight++;
            sent++;
        }
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            double at = now_ms();
            struct conn *c = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            int64_t id = 0;
            if (msg->data.result == CURLE_OK && status == 201 && c->resp) {
                json_t *j = json_loadb(c->resp, c->resp_len, 0, NULL);
                id = id_of(json_object_get(
                    json_object_get(json_array_get(json_object_get(j, "data"), 0), "details"),
                    "id"));
                json_decref(j);
            }
            if (id) {
                samples_add(&acks, id, at);
                samples_add(&sends, id, c->sent_ms);
                rtt[rtt_n++] = at - c->sent_ms;
            } else {
                failed++;
            }
            curl_multi_remove_handle(multi, msg->easy_handle);
            c->is_busy = 0;
            in_flight--;
        }
        double next = sent < total ? t0 + (double)sent * interval - now_ms() : 50;
        int wait_ms = next <= 0 ? 0 : next < 1 ? 1 : (int)next;
        if (in_flight > 0 || wait_ms > 0)
            curl_multi_poll(multi, NULL, 0, wait_ms, NULL);
    }
    double send_s = (now_ms() - t0) / 1e3;
    /* Wait (bounded) for the callbacks of every acknowledged insert. */
    double wait_end = now_ms() + 15e3;
    while (samples_count(&receipts) < acks.n && now_ms() < wait_end) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(mhd);

    qsort(acks.v, acks.n, sizeof *acks.v, cmp_sample);
    qsort(sends.v, sends.n, sizeof *sends.v, cmp_sample); /* same ids as acks, same order */
    qsort(receipts.v, receipts.n, sizeof *receipts.v, cmp_sample);
    double *lat = calloc(acks.n ? acks.n : 1, sizeof *lat);
    /* Receipt − the insert's send: the commit happens after the send, so this bounds
     * commit→receipt from above, where receipt − answer (lat) bounds it from below. */
    double *bound = calloc(acks.n ? acks.n : 1, sizeof *bound);
    size_t matched = 0, negative = 0, duplicates = 0;
    for (size_t i = 0, k = 0; i < acks.n; i++) {
        while (k < receipts.n && receipts.v[k].id < acks.v[i].id)
            k++;
        if (k < receipts.n && receipts.v[k].id == acks.v[i].id) {
            double d = receipts.v[k].at_ms - acks.v[i].at_ms;
            if (d < 0)
                negative++; /* the callback beat the insert's answer to the client */
            bound[matched] = receipts.v[k].at_ms - sends.v[i].at_ms;
            lat[matched++] = d;
            while (k + 1 < receipts.n && receipts.v[k + 1].id == acks.v[i].id) {
                duplicates++;
                k++;
            }
        }
    }
    qsort(lat, matched, sizeof *lat, cmp_double);
    qsort(bound, matched, sizeof *bound, cmp_double);
    qsort(rtt, rtt_n, sizeof *rtt, cmp_double);
    printf("latency inserts=%zu acked=%zu failed=%zu received=%zu matched=%zu missing=%zu "
           "duplicates=%zu unparsed=%zu negative=%zu late_sends=%zu rate=%.0f/s "
           "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f insert_p50_ms=%.3f insert_p99_ms=%.3f "
           "bound_p50_ms=%.3f bound_p99_ms=%.3f bound_max_ms=%.3f\n",
           sent, acks.n, failed, receipts.n, matched, acks.n - matched, duplicates, rx_unparsed,
           negative, late, (double)acks.n / send_s, pct(lat, matched, 0.50),
           pct(lat, matched, 0.99), matched ? lat[matched - 1] : 0, pct(rtt, rtt_n, 0.50),
           pct(rtt, rtt_n, 0.99), pct(bound, matched, 0.50), pct(bound, matched, 0.99),
           matched ? bound[matched - 1] : 0);
    free(bound);
    for (int i = 0; i < conns; i++) {
        curl_easy_cleanup(cs[i].easy);
        free(cs[i].resp);
    }
    curl_slist_free_all(headers);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    free(lat);
    free(rtt);
    free(acks.v);
    free(receipts.v);
    return failed || matched < acks.n ? 1 : 0;
}
