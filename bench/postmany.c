/* bench/postmany: POSTs every line of FILE (one JSON body a line) to URL with `conns` keep-alive
 * connections (libcurl multi), as fast as the server answers. A request counts as ok when it
 * answered 2xx. bench/run uses it to create channels in batches and to insert records. Bounded:
 * gives up after `limit` seconds. The URL must be on 127.0.0.1.
 *
 *   postmany URL TOKEN FILE [conns=8] [limit=300] */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONNS 256

struct conn {
    CURL *easy;
    long line; /* index of the body in flight */
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

/* Reads the whole file and splits it into non-empty lines, in place. */
static char **read_lines(const char *path, long *count, char **text_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(text);
        return NULL;
    }
    fclose(f);
    text[size] = '\0';
    long cap = 1024, n = 0;
    char **lines = malloc((size_t)cap * sizeof *lines);
    for (char *p = text, *save = NULL, *tok; lines && (tok = strtok_r(p, "\n", &save)); p = NULL) {
        if (n == cap) {
            cap *= 2;
            lines = realloc(lines, (size_t)cap * sizeof *lines);
            if (!lines)
                return NULL;
        }
        lines[n++] = tok;
    }
    *count = n;
    *text_out = text;
    return lines;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s URL TOKEN FILE [conns=8] [limit_seconds=300]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    int conns = argc > 4 ? atoi(argv[4]) : 8;
    double limit_s = argc > 5 ? atof(argv[5]) : 300;
    if (strncmp(url, "http://127.0.0.1:", 17) != 0 || conns < 1 || conns > MAX_CONNS) {
        fprintf(stderr, "the URL must be http://127.0.0.1:PORT/..., conns 1..%d\n", MAX_CONNS);
        return 2;
    }
    long count = 0;
    char *text = NULL;
    char **lines = read_lines(argv[3], &count, &text);
    if (!lines) {
        fprintf(stderr, "cannot read %s\n", argv[3]);
        return 2;
    }
    char auth[512];
    snprintf(auth, sizeof auth, "Authorization: Zoho-oauthtoken %s", argv[2]);
    curl_global_init(CURL_GLOBAL_ALL);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)conns);
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    struct conn cs[MAX_CONNS];
    long next = 0, ok = 0, failed = 0;
    int running = 0;
    for (int i = 0; i < conns && next < count; i++) {
        cs[i].easy = curl_easy_init();
        curl_easy_setopt(cs[i].easy, CURLOPT_URL, url);
        curl_easy_setopt(cs[i].easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(cs[i].easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(cs[i].easy, CURLOPT_PRIVATE, &cs[i]);
        curl_easy_setopt(cs[i].easy, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(cs[i].easy, CURLOPT_TIMEOUT_MS, 60000L);
        cs[i].line = next++;
        curl_easy_setopt(cs[i].easy, CURLOPT_POSTFIELDS, lines[cs[i].line]);
        curl_multi_add_handle(multi, cs[i].easy);
        running++;
    }
    int used = running;
    double t0 = now_ms(), end = t0 + limit_s * 1e3;
    long first_error = -1, first_status = 0;
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
            if (msg->data.result == CURLE_OK && status >= 200 && status < 300) {
                ok++;
            } else {
                failed++;
                if (first_error < 0) {
                    first_error = c->line;
                    first_status = status;
                }
            }
            curl_multi_remove_handle(multi, msg->easy_handle);
            if (next < count && now_ms() < end) {
                c->line = next++;
                curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, lines[c->line]);
                curl_multi_add_handle(multi, c->easy);
                running++;
            }
        }
        if (running > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    double seconds = (now_ms() - t0) / 1e3;
    printf("postmany requests=%ld ok=%ld failed=%ld seconds=%.3f rate=%.0f/s\n", ok + failed, ok,
           failed, seconds, (double)ok / seconds);
    if (first_error >= 0)
        fprintf(stderr, "postmany: line %ld answered %ld\n", first_error + 1, first_status);
    for (int i = 0; i < used; i++)
        curl_easy_cleanup(cs[i].easy);
    curl_slist_free_all(headers);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    free(lines);
    free(text);
    return failed || ok < count ? 1 : 0;
}
