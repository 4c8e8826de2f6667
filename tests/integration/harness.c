/* The integration harness: the real herald binary, real HTTP both ways, bounded waits. */
#include "harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t hp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static const char *bin(void)
{
    const char *b = getenv("HERALD_BIN");
    return b ? b : "build/herald";
}

/* Runs argv, gathering its output for up to timeout_ms; a command still running then is
 * killed (status -1). */
static int run_argv(char *const argv[], int timeout_ms, char *out, size_t out_len, char *err,
                    size_t err_len)
{
    int po[2], pe[2];
    if (pipe(po) || pipe(pe))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        close(po[1]);
        close(pe[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t on = 0, en = 0;
    if (out && out_len)
        out[0] = '\0';
    if (err && err_len)
        err[0] = '\0';
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    int64_t deadline = hp_now_ms() + timeout_ms;
    while (open_fds > 0 && hp_now_ms() < deadline) {
        if (poll(fds, 2, 1000) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            char tmp[4096];
            ssize_t n = read(fds[i].fd, tmp, sizeof tmp);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            char *dst = i == 0 ? out : err;
            size_t *len = i == 0 ? &on : &en;
            size_t cap = i == 0 ? out_len : err_len;
            if (dst && cap) {
                size_t room = cap - 1 - *len;
                size_t take = (size_t)n < room ? (size_t)n : room;
                memcpy(dst + *len, tmp, take);
                *len += take;
                dst[*len] = '\0';
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    }
    int status = 0;
    if (open_fds > 0)
        kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int cli_va(int timeout_ms, char *out, size_t out_len, char *err, size_t err_len, va_list ap)
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)bin();
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 31)
        argv[n++] = (char *)a;
    argv[n] = NULL;
    return run_argv(argv, timeout_ms, out, out_len, err, err_len);
}

int hp_cli(const struct hp *p, char *out, size_t out_len, char *err, size_t err_len, ...)
{
    (void)p;
    va_list ap;
    va_start(ap, err_len);
    int rc = cli_va(30000, out, out_len, err, err_len, ap);
    va_end(ap);
    return rc;
}

int hp_cli_within(int timeout_ms, char *out, size_t out_len, char *err, size_t err_len, ...)
{
    va_list ap;
    va_start(ap, err_len);
    int rc = cli_va(timeout_ms, out, out_len, err, err_len, ap);
    va_end(ap);
    return rc;
}

void hp_token(const struct hp *p, const char *scopes, char *out, size_t out_len)
{
    char err[1024];
    int rc = hp_cli(p, out, out_len, err, sizeof err, "token", "create", "--scopes", scopes, "--db",
                    p->db, NULL);
    if (rc != 0)
        fprintf(stderr, "token create failed: %s\n", err);
    assert_int_equal(rc, 0);
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    assert_true(n > 10);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Finds needle in the log after byte `from`; copies the rest of that line into line_out. */
static bool log_find(const char *path, long from, const char *needle, char *line_out,
                     size_t line_len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    fseek(f, from, SEEK_SET);
    char line[4096];
    bool found = false;
    while (fgets(line, sizeof line, f)) {
        char *hit = strstr(line, needle);
        if (hit) {
            if (line_out)
                snprintf(line_out, line_len, "%s", hit + strlen(needle));
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

long long hp_db_value(const struct hp *p, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(p->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

void hp_db_exec(const struct hp *p, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(p->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
    sqlite3_close(db);
}

size_t hp_log_count(const struct hp *p, const char *needle)
{
    FILE *f = fopen(p->log, "r");
    if (!f)
        return 0;
    char line[4096];
    size_t count = 0;
    while (fgets(line, sizeof line, f))
        count += strstr(line, needle) != NULL;
    fclose(f);
    return count;
}

bool hp_log_wait_line(const struct hp *p, const char *needle, char *rest, size_t rest_len,
                      int timeout_ms)
{
    int64_t deadline = hp_now_ms() + timeout_ms;
    do {
        if (log_find(p->log, 0, needle, rest, rest_len))
            return true;
        nap_ms(10);
    } while (hp_now_ms() < deadline);
    return false;
}

bool hp_log_wait(const struct hp *p, const char *needle, int timeout_ms)
{
    int64_t deadline = hp_now_ms() + timeout_ms;
    do {
        if (log_find(p->log, 0, needle, NULL, 0))
            return true;
        nap_ms(10);
    } while (hp_now_ms() < deadline);
    return false;
}

static void spawn(struct hp *p)
{
    long from = file_size(p->log);
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)bin();
    argv[n++] = (char *)"serve";
    argv[n++] = (char *)"--listen";
    argv[n++] = (char *)"127.0.0.1:0";
    argv[n++] = (char *)"--db";
    argv[n++] = p->db;
    char extra[sizeof p->extra];
    snprintf(extra, sizeof extra, "%s", p->extra);
    for (char *save = NULL, *t = strtok_r(extra, " ", &save); t && n < 62;
         t = strtok_r(NULL, " ", &save))
        argv[n++] = t;
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        /* A test that fails mid-way must not leave a server behind. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        const char *nofile = getenv("HP_NOFILE"); /* a test's open-files limit, soft and hard */
        if (nofile) {
            struct rlimit rl = {.rlim_cur = (rlim_t)atol(nofile), .rlim_max = (rlim_t)atol(nofile)};
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 2);
        dup2(fd, 1);
        close(fd);
        execv(argv[0], argv);
        _exit(127);
    }
    p->pid = pid;
    char rest[256];
    int64_t deadline = hp_now_ms() + 20000;
    while (!log_find(p->log, from, "listening on http://", rest, sizeof rest)) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            p->pid = 0;
            fail_msg("herald exited before listening; see %s", p->log);
        }
        if (hp_now_ms() > deadline)
            fail_msg("herald did not start within 20 s; see %s", p->log);
        nap_ms(5);
    }
    char *colon = strrchr(rest, ':');
    assert_non_null(colon);
    p->port = atoi(colon + 1);
    assert_true(p->port > 0);
    snprintf(p->base, sizeof p->base, "http://127.0.0.1:%d", p->port);
}

void hp_prepare(struct hp *p, const char *extra_flags)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/herald-test-XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    snprintf(p->db, sizeof p->db, "%s/herald.db", p->dir);
    snprintf(p->log, sizeof p->log, "%s/server.log", p->dir);
    snprintf(p->extra, sizeof p->extra, "%s", extra_flags ? extra_flags : "");
}

void hp_start(struct hp *p, const char *extra_flags)
{
    hp_prepare(p, extra_flags);
    hp_token(p, "all", p->token, sizeof p->token);
    spawn(p);
}

void hp_restart(struct hp *p)
{
    spawn(p);
}

int hp_stop(struct hp *p)
{
    if (!p->pid)
        return -1;
    kill(p->pid, SIGTERM);
    int64_t deadline = hp_now_ms() + 20000;
    int status = 0;
    while (waitpid(p->pid, &status, WNOHANG) != p->pid) {
        if (hp_now_ms() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            p->pid = 0;
            return -1;
        }
        nap_ms(5);
    }
    p->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void hp_kill(struct hp *p)
{
    if (!p->pid)
        return;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}

void hp_cleanup(struct hp *p)
{
    int rc = p->pid ? hp_stop(p) : 0;
    if (rc != 0) {
        /* SIGTERM must end in exit 0: anything else is a bug, such as a sanitizer's report at
         * exit (a leak), which only the log shows. The directory is kept for it. */
        fprintf(stderr, "herald exited with %d; log in %s\n", rc, p->log);
        fail_msg("herald exited with %d after SIGTERM; see %s", rc, p->log);
    }
    if (p->dir[0] && !getenv("HERALD_KEEP_TEST_DIRS")) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->dir);
        int sh = system(cmd);
        (void)sh;
    }
}

struct sink {
    char *data;
    size_t len;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    s->data = realloc(s->data, s->len + n + 1);
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = '\0';
    return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
}

struct hp_resp hp_req_url(const char *method, const char *url, const char *body, size_t body_len,
                          const char *auth_header, const char *const *headers)
{
    pthread_once(&curl_once, curl_init_once);
    struct hp_resp r = {0};
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct sink s = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L); /* else curl waits for the body announced */
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    /* Like the Zoho SDK: no Content-Type unless a test asks for one. */
    h = curl_slist_append(h, "Content-Type:");
    h = curl_slist_append(h, "Expect:");
    if (auth_header)
        h = curl_slist_append(h, auth_header);
    for (const char *const *x = headers; x && *x; x++)
        h = curl_slist_append(h, *x);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s failed: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct)
        snprintf(r.content_type, sizeof r.content_type, "%s", ct);
    r.body = s.data ? s.data : calloc(1, 1);
    r.body_len = s.len;
    if (r.body_len)
        r.json = json_loadb(r.body, r.body_len, 0, NULL);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

struct hp_resp hp_req(const struct hp *p, const char *method, const char *path, const char *body,
                      const char *token, const char *const *headers)
{
    char url[4096];
    snprintf(url, sizeof url, "%s%s", p->base, path);
    char auth[512];
    if (token)
        snprintf(auth, sizeof auth, "Authorization: Zoho-oauthtoken %s", token);
    return hp_req_url(method, url, body, body ? strlen(body) : 0, token ? auth : NULL, headers);
}

void hp_resp_free(struct hp_resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

const char *hp_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

json_t *hp_at(json_t *root, const char *path)
{
    json_t *cur = root;
    const char *p = path;
    while (cur && *p) {
        if (*p == '.') {
            p++;
            continue;
        }
        if (*p == '[') {
            size_t idx = strtoul(p + 1, (char **)&p, 10);
            if (*p == ']')
                p++;
            cur = json_array_get(cur, idx);
            continue;
        }
        size_t len = strcspn(p, ".[");
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)len, p);
        cur = json_object_get(cur, key);
        p += len;
    }
    return cur;
}

void hp_assert_error(const struct hp_resp *r, long status, const char *code)
{
    if (r->status != status || !r->json || !hp_str(r->json, "code") ||
        strcmp(hp_str(r->json, "code"), code) != 0)
        fail_msg("expected %ld %s, got %ld %s", status, code, r->status, r->body);
    assert_string_equal(hp_str(r->json, "status"), "error");
    assert_non_null(hp_str(r->json, "message"));
    assert_true(json_is_object(json_object_get(r->json, "details")));
}

/* ---- receiver ---- */

struct receiver {
    struct MHD_Daemon *mhd;
    int port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct rx_request **reqs; /* each its own allocation: rx_get's pointers stay valid */
    size_t count, cap;
    int statuses[64];
    int retry_after_s[64]; /* "429+2": answer 429 with Retry-After: 2 */
    size_t status_count, status_next;
    int delay_ms;
    char fail_path[128]; /* requests to this path (query aside) are answered fail_status */
    int fail_status;
    size_t open, open_max; /* requests received and not yet answered: now, and at most */
    enum rx_body body;
    atomic_int is_stopping; /* set by rx_stop, read by MHD's connection threads */
};

struct rx_conn {
    char uri[512];
    char *body;
    size_t len;
    bool has_headers; /* the first handler call (headers only) was seen */
};

static void *rx_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    struct rx_conn *rc = calloc(1, sizeof *rc);
    snprintf(rc->uri, sizeof rc->uri, "%s", uri);
    return rc;
}

static enum MHD_Result rx_header_it(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    char **acc = cls;
    size_t old = *acc ? strlen(*acc) : 0;
    size_t add = strlen(key) + strlen(value) + 3;
    *acc = realloc(*acc, old + add + 1);
    char *dst = *acc + old;
    for (const char *k = key; *k; k++)
        *dst++ = (char)tolower((unsigned char)*k);
    snprintf(dst, add, ": %s\n", value);
    return MHD_YES;
}

/* The body of an endless answer: 'x's until the client goes away or the receiver stops. */
static ssize_t rx_endless_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct receiver *r = cls;
    if (r->is_stopping)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    memset(buf, 'x', max);
    nap_ms(1);
    return (ssize_t)max;
}

/* The body of a truncated answer: 10 of the 1,000 bytes announced, then the connection ends. */
static ssize_t rx_truncated_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos > 0 || max < 10)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    memset(buf, 'x', 10);
    return 10;
}

static enum MHD_Result rx_handler(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    (void)url;
    (void)version;
    struct receiver *r = cls;
    struct rx_conn *rc = *con_cls;
    /* libmicrohttpd calls once when the headers are in, then with the body, then to answer. */
    if (!rc->has_headers) {
        rc->has_headers = true;
        return MHD_YES;
    }
    if (*size) {
        rc->body = realloc(rc->body, rc->len + *size + 1);
        memcpy(rc->body + rc->len, data, *size);
        rc->len += *size;
        rc->body[rc->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    struct rx_request req = {0};
    snprintf(req.method, sizeof req.method, "%s", method);
    snprintf(req.path, sizeof req.path, "%s", rc->uri);
    req.body = rc->body ? rc->body : calloc(1, 1);
    req.body_len = rc->len;
    rc->body = NULL;
    req.json = json_loadb(req.body, req.body_len, 0, NULL);
    MHD_get_connection_values(c, MHD_HEADER_KIND, rx_header_it, &req.headers);
    req.at_ms = hp_now_ms();
    pthread_mutex_lock(&r->mu);
    int delay = r->delay_ms;
    enum rx_body body = r->body;
    int status = 200;
    int retry_after = 0;
    size_t path_len = strcspn(req.path, "?");
    if (r->fail_status && path_len == strlen(r->fail_path) &&
        memcmp(req.path, r->fail_path, path_len) == 0) {
        status = r->fail_status;
    } else if (r->status_next < r->status_count) {
        retry_after = r->retry_after_s[r->status_next];
        status = r->statuses[r->status_next++];
    }
    if (r->count == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->reqs = realloc(r->reqs, r->cap * sizeof *r->reqs);
    }
    struct rx_request *kept = malloc(sizeof *kept);
    *kept = req;
    r->reqs[r->count++] = kept;
    if (++r->open > r->open_max)
        r->open_max = r->open;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (delay < 0) {
        /* Held until the receiver stops or is given a delay again. */
        for (bool is_held = true; is_held && !r->is_stopping;) {
            nap_ms(10);
            pthread_mutex_lock(&r->mu);
            is_held = r->delay_ms < 0;
            pthread_mutex_unlock(&r->mu);
        }
    } else if (delay > 0) {
        nap_ms(delay);
    }
    /* Answered from here on: before the client can read the answer, so it never sees more
     * answered than the receiver counts. */
    pthread_mutex_lock(&r->mu);
    r->open--;
    pthread_mutex_unlock(&r->mu);
    static const char ok[] = "{\"ok\":true}";
    struct MHD_Response *resp;
    if (body == RX_BODY_NOT_UTF8) {
        char not_utf8[257];
        memcpy(not_utf8, "caf\xe9", 4);
        memset(not_utf8 + 4, 'x', 251);
        memcpy(not_utf8 + 255, "\xc3\xa9", 2);
        resp = MHD_create_response_from_buffer(sizeof not_utf8, not_utf8, MHD_RESPMEM_MUST_COPY);
    } else if (body == RX_BODY_ENDLESS) {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 8192, rx_endless_body, r, NULL);
    } else if (body == RX_BODY_TRUNCATED) {
        resp = MHD_create_response_from_callback(1000, 1000, rx_truncated_body, r, NULL);
    } else {
        resp = MHD_create_response_from_buffer(sizeof ok - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
    }
    if (retry_after > 0) {
        char value[16];
        snprintf(value, sizeof value, "%d", retry_after);
        MHD_add_response_header(resp, "Retry-After", value);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void rx_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct rx_conn *rc = *con_cls;
    if (rc) {
        free(rc->body);
        free(rc);
    }
    *con_cls = NULL;
}

void rx_fail_path(struct receiver *r, const char *path, int status)
{
    pthread_mutex_lock(&r->mu);
    snprintf(r->fail_path, sizeof r->fail_path, "%s", path);
    r->fail_status = status;
    pthread_mutex_unlock(&r->mu);
}

struct receiver *rx_start(const char *statuses)
{
    return rx_start_at(statuses, 0);
}

struct receiver *rx_start_at(const char *statuses, int port)
{
    struct receiver *r = calloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    for (const char *s = statuses; s && *s && r->status_count < 64;) {
        const char *plus = strchr(s, '+');
        const char *comma_at = strchr(s, ',');
        if (plus && (!comma_at || plus < comma_at))
            r->retry_after_s[r->status_count] = atoi(plus + 1);
        r->statuses[r->status_count++] = atoi(s);
        const char *comma = strchr(s, ',');
        s = comma ? comma + 1 : NULL;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                              NULL, NULL, rx_handler, r, MHD_OPTION_SOCK_ADDR, &sa,
                              MHD_OPTION_URI_LOG_CALLBACK, rx_uri, r, MHD_OPTION_NOTIFY_COMPLETED,
                              rx_done, r, MHD_OPTION_CONNECTION_LIMIT, 2000u, MHD_OPTION_END);
    assert_non_null(r->mhd);
    r->port = MHD_get_daemon_info(r->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    return r;
}

int hp_listen_loopback(int backlog, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, backlog), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

int rx_port(const struct receiver *r)
{
    return r->port;
}

void rx_url(const struct receiver *r, const char *path_and_query, char *out, size_t out_len)
{
    snprintf(out, out_len, "http://127.0.0.1:%d%s", r->port, path_and_query);
}

size_t rx_wait(struct receiver *r, size_t count, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&r->mu);
    while (r->count < count) {
        if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) == ETIMEDOUT)
            break;
    }
    size_t n = r->count;
    pthread_mutex_unlock(&r->mu);
    return n;
}

size_t rx_count(struct receiver *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->count;
    pthread_mutex_unlock(&r->mu);
    return n;
}

const struct rx_request *rx_get(struct receiver *r, size_t i)
{
    pthread_mutex_lock(&r->mu);
    const struct rx_request *req = i < r->count ? r->reqs[i] : NULL;
    pthread_mutex_unlock(&r->mu);
    return req;
}

bool rx_header(const struct rx_request *req, const char *name, char *out, size_t out_len)
{
    size_t n = strlen(name);
    for (const char *line = req->headers; line && *line;) {
        const char *end = strchr(line, '\n');
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t len = end ? (size_t)(end - v) : strlen(v);
            snprintf(out, out_len, "%.*s", (int)len, v);
            return true;
        }
        line = end ? end + 1 : NULL;
    }
    return false;
}

void rx_set_delay(struct receiver *r, int delay_ms)
{
    pthread_mutex_lock(&r->mu);
    r->delay_ms = delay_ms;
    pthread_mutex_unlock(&r->mu);
}

size_t rx_open_max(struct receiver *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->open_max;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void rx_set_body(struct receiver *r, enum rx_body body)
{
    pthread_mutex_lock(&r->mu);
    r->body = body;
    pthread_mutex_unlock(&r->mu);
}

void rx_stop(struct receiver *r)
{
    if (!r)
        return;
    r->is_stopping = 1;
    MHD_stop_daemon(r->mhd);
    for (size_t i = 0; i < r->count; i++) {
        free(r->reqs[i]->body);
        free(r->reqs[i]->headers);
        json_decref(r->reqs[i]->json);
        free(r->reqs[i]);
    }
    free(r->reqs);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

void hp_watch_many(const struct hp *p, int first, int count, const char *event, const char *url)
{
    char body[16384];
    size_t len = (size_t)snprintf(body, sizeof body, "{\"watch\":[");
    for (int i = 0; i < count; i++)
        len += (size_t)snprintf(body + len, sizeof body - len,
                                "%s{\"channel_id\":\"%d\",\"events\":[\"%s\"],"
                                "\"notify_url\":\"%s\"}",
                                i ? "," : "", first + i, event, url);
    assert_true(len < sizeof body - 2);
    snprintf(body + len, sizeof body - len, "]}");
    struct hp_resp r = hp_req(p, "POST", "/crm/v8/actions/watch", body, p->token, NULL);
    if (r.status != 201)
        fail_msg("watch failed: %ld %s", r.status, r.body);
    hp_resp_free(&r);
}
