/* bench/records: durable single-record inserts per second over keep-alive HTTP. Opens `conns`
 * connections with libcurl multi; each connection POSTs one Leads record, waits for the 201 (the
 * server acknowledges only after the group commit's fsync), and posts the next. Prints the rate
 * and the latency percentiles. Not a test: it measures, it does not judge.
 *
 *   records_client BASE_URL TOKEN [conns=32] [seconds=10] */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONNS 1024
#define MAX_SAMPLES (8u * 1024u * 1024u)

struct conn {
    CURL *easy;
    struct curl_slist *headers;
    char body[160];
    double started_ms;
    long seq;
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void start(CURLM *multi, struct conn *c, int index)
{
    snprintf(c->body, sizeof c->body,
             "{\"data\":[{\"Last_Name\":\"Bench %d-%ld\",\"Company\":\"Bench Inc\"}]}", index,
             c->seq++);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
    c->started_ms = now_ms();
    curl_multi_add_handle(multi, c->easy);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s BASE_URL TOKEN [conns] [seconds]\n", argv[0]);
        return 2;
    }
    int conns = argc > 3 ? atoi(argv[3]) : 32;
    double seconds = argc > 4 ? atof(argv[4]) : 10;
    if (conns < 1 || conns > MAX_CONNS || seconds <= 0) {
        fprintf(stderr, "conns must be 1..%d and seconds > 0\n", MAX_CONNS);
        return 2;
    }
    char url[512], auth[512];
    snprintf(url, sizeof url, "%s/crm/v8/Leads", argv[1]);
    snprintf(auth, sizeof auth, "Authorization: Zoho-oauthtoken %s", argv[2]);

    curl_global_init(CURL_GLOBAL_ALL);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)conns);
    struct conn *cs = calloc((size_t)conns, sizeof *cs);
    double *lat = malloc(MAX_SAMPLES * sizeof *lat);
    if (!cs || !lat)
        return 1;
    for (int i = 0; i < conns; i++) {
        cs[i].easy = curl_easy_init();
        cs[i].headers = curl_slist_append(NULL, auth);
        curl_easy_setopt(cs[i].easy, CURLOPT_URL, url);
        curl_easy_setopt(cs[i].easy, CURLOPT_HTTPHEADER, cs[i].headers);
        curl_easy_setopt(cs[i].easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(cs[i].easy, CURLOPT_PRIVATE, &cs[i]);
        curl_easy_setopt(cs[i].easy, CURLOPT_TCP_NODELAY, 1L);
        start(multi, &cs[i], i);
    }
    double t0 = now_ms(), end = t0 + seconds * 1e3;
    size_t ok = 0, failed = 0, samples = 0;
    int running = conns;
    while (running > 0) {
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct conn *c = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            double t = now_ms();
            if (msg->data.result == CURLE_OK && status == 201) {
                ok++;
                if (samples < MAX_SAMPLES)
                    lat[samples++] = t - c->started_ms;
            } else {
                failed++;
            }
            curl_multi_remove_handle(multi, msg->easy_handle);
            if (t < end) {
                start(multi, c, (int)(c - cs));
                running++;
            }
        }
        if (running > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    double elapsed_s = (now_ms() - t0) / 1e3;
    qsort(lat, samples, sizeof *lat, cmp_double);
    double p50 = samples ? lat[samples / 2] : 0, p99 = samples ? lat[samples * 99 / 100] : 0;
    double max = samples ? lat[samples - 1] : 0;
    printf("connections=%d seconds=%.1f inserts=%zu failed=%zu rate=%.0f/s "
           "latency_ms p50=%.2f p99=%.2f max=%.2f\n",
           conns, elapsed_s, ok, failed, (double)ok / elapsed_s, p50, p99, max);
    for (int i = 0; i < conns; i++) {
        curl_slist_free_all(cs[i].headers);
        curl_easy_cleanup(cs[i].easy);
    }
    free(cs);
    free(lat);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
