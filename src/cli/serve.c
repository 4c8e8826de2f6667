/* `herald serve`: resolves the configuration, locks and opens the store, starts the HTTP server
 * (and, as they join, the matcher and the dispatcher), then waits for SIGINT/SIGTERM/SIGHUP and
 * stops in order: stop accepting, finish requests, finish the writer's queue, close the store. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/token_cache.h"
#include "cli/cli.h"
#include "cli/config.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "core/workq.h"
#include "core/xmalloc.h"
#include "deliver/dispatch.h"
#include "deliver/prune.h"
#include "http/http.h"
#include "meta/meta.h"
#include "store/channels.h"
#include "store/outbox.h"
#include "store/store.h"
#include "watch/index.h"

struct wiring {
    struct app *app;
    struct dispatcher *dispatcher;
};

struct gone_job {
    struct app *app;
    int64_t org_id;
    int64_t channel_id;
    char *notify_url; /* the URL that answered 410, owned */
    bool is_removed;
    bool has_moved; /* the channel lives on, with another URL */
};

/* Removes the channel only while it still sends to the URL that answered 410: a channel moved
 * to another URL (PUT, PATCH, a resubscribe) since that notification was committed is not the
 * one the subscriber asked to stop. */
static enum herald_err gone_run(struct store_txn *txn, void *arg)
{
    struct gone_job *j = arg;
    struct store_channel *rows = NULL;
    size_t count = 0;
    enum herald_err err =
        store_txn_channel_rows(txn, j->org_id, j->channel_id, time_now_ms() / 1000, &rows, &count);
    bool is_same_url = !err && count && strcmp(rows[0].notify_url, j->notify_url) == 0;
    j->has_moved = !err && count && !is_same_url;
    store_channels_free(rows, count);
    if (err || !is_same_url)
        return err;
    err = store_txn_channel_remove(txn, j->org_id, j->channel_id, NULL);
    if (!err) {
        watch_index_remove(j->app->watch, j->org_id, j->channel_id);
        j->is_removed = true;
    }
    return err;
}

static void gone_done(void *arg, enum herald_err err)
{
    struct gone_job *j = arg;
    if (!err && j->is_removed)
        log_info("msg=\"channel disabled: the subscriber answered 410 Gone\" channel=%lld",
                 (long long)j->channel_id);
    else if (!err && j->has_moved)
        log_info("msg=\"410 Gone from a URL the channel no longer uses: channel kept\" "
                 "channel=%lld",
                 (long long)j->channel_id);
    free(j->notify_url);
    free(j);
}

/* A subscriber answered 410 Gone: the channel stops matching at once (its pending
 * notifications to that URL were already failed by the store). */
static void on_gone(void *arg, int64_t org_id, int64_t channel_id, const char *notify_url)
{
    struct gone_job *j = xmalloc(sizeof *j);
    *j = (struct gone_job){
        .app = arg, .org_id = org_id, .channel_id = channel_id, .notify_url = xstrdup(notify_url)};
    store_submit(j->app->store, gone_run, j, gone_done);
}

/* A --listen host that names no address is a bad value, like a malformed one: exit status 2 and
 * one line naming the flag, before anything is opened or logged. An address that resolves but
 * cannot be bound (in use, not this machine's) stays a failure at run time (status 1). */
static bool listen_host_resolves(const struct config *cfg, char *err, size_t err_len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof port, "%d", cfg->listen_port);
    int rc = getaddrinfo(cfg->listen_host, port, &hints, &ai);
    if (ai)
        freeaddrinfo(ai);
    if (rc == 0)
        return true;
    snprintf(err, err_len, "--listen: cannot resolve host '%s' (%s)", cfg->listen_host,
             gai_strerror(rc));
    return false;
}

/* How long a stop may take in all, and the least of it left to delivery attempts in flight. */
#define STOP_MS 8500
#define STOP_ATTEMPTS_MS 1000

/* The default api_domain, the base of resource_uri: it names the port bound, known only after
 * binding with port 0. */
struct own_domain {
    const char *host;
    char *text; /* owned by cli_serve */
    size_t size;
};

/* The HTTP server's bound hook: runs before the request threads start, so those threads (and the
 * writer thread running their jobs) read the final text; written after they started, it raced
 * with their reads. */
static void own_domain_bound(void *arg, int port)
{
    struct own_domain *d = arg;
    snprintf(d->text, d->size, strchr(d->host, ':') ? "http://[%s]:%d" : "http://%s:%d", d->host,
             port);
}

/* After each committed batch: wake the dispatcher when the batch added notifications. */
static void on_commit(void *arg)
{
    struct wiring *w = arg;
    if (atomic_exchange(&w->app->has_new_notifications, false))
        dispatch_wake(w->dispatcher);
}

/* Each client connection and each kept-alive callback connection is a file descriptor: the
 * usual soft limit (1024) is below the server's own connection limit (10,000), so the soft
 * limit is raised to the hard one (capped at 65,536), as servers do at start. */
static void raise_open_files_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
    if (rl.rlim_cur >= want)
        return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
        log_info("msg=\"open files limit raised\" from=%llu to=%llu", (unsigned long long)was,
                 (unsigned long long)want);
}

/* One server owns a database. Its channel index lives in memory, so a second server on the same
 * file would match changes against the channels it loaded, not those subscribed through the
 * other since: changes it acknowledged would never notify them. And its start would void the
 * first one's live leases, sending the notifications in flight a second time at once. The lock
 * is the kernel's (flock, which SQLite's fcntl locks do not touch), taken before the schema is
 * read or migrated, and ends with the process: a restart after a crash takes it at once. The
 * other commands (token, secret, deliveries) work beside a server and take no lock. Returns the
 * descriptor holding the lock, or -1 with one line on stderr. */
static int db_lock(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "herald serve: --db: cannot open '%s': %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return fd;
    if (errno == EWOULDBLOCK)
        fprintf(stderr, "herald serve: --db: '%s' is in use by another herald serve\n", path);
    else
        fprintf(stderr, "herald serve: --db: cannot lock '%s': %s\n", path, strerror(errno));
    close(fd);
    return -1;
}

/* A new database has no token, so every request would be refused: say how to make one (`make
 * run` does it for the user; `herald serve` alone does not). */
static void warn_without_tokens(struct store *store, const char *db_path)
{
    struct store_token *list = NULL;
    size_t count = 0;
    if (store_token_list(store, store_default_org(store), &list, &count))
        return;
    size_t live = 0;
    for (size_t i = 0; i < count; i++)
        live += list[i].revoked_at_s == 0;
    store_token_list_free(list, count);
    if (!live)
        log_warn("msg=\"no live token: every request will be refused\" hint=\"create one with: "
                 "herald token create --scopes all --db %s\"",
                 db_path);
}

/* SIGINT, SIGTERM and SIGHUP, blocked in every thread and taken by sigwait. SIGHUP (the terminal
 * that started the server went away) stops it cleanly too: by default it killed the process
 * on the spot, ending requests in flight unanswered after their changes committed. */
static sigset_t stop_signals;

/* The allocator serving this process: the release build links mimalloc, which takes malloc
 * over for every library (the test build keeps glibc's, under the sanitizers); an
 * LD_PRELOAD can change it too, so it is looked up rather than assumed. */
static const char *allocator_name(void)
{
    return dlsym(RTLD_DEFAULT, "mi_version") ? "mimalloc" : "glibc";
}

static const char *signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM";
}

/* The stop waits for the requests and the delivery attempts in flight (STOP_MS in all). A second
 * SIGINT/SIGTERM meanwhile ends the process at once, as one pressing Ctrl-C twice expects (it was
 * ignored, and the wait went on). Like a crash it loses nothing acknowledged: changes and their
 * notifications are committed, and attempts cut short are sent again after the restart, which
 * voids their leases. The status, 1, says the stop was not clean. One that comes within
 * REPEAT_MS of the first is the same stop told twice, not a person insisting: `make run` stopped
 * by a signal to its process group gets it from the group and again from make, which forwards it,
 * in the same millisecond, and the server exited 1 without its clean stop. */
#define REPEAT_MS 250
static int64_t first_stop_ms;

static void *second_signal_wait(void *arg)
{
    (void)arg;
    int sig = 0;
    for (;;) {
        sigwait(&stop_signals, &sig);
        int64_t after = time_mono_ms() - first_stop_ms;
        if (after >= REPEAT_MS)
            break;
        log_info("msg=\"stop signal repeated within %d ms: the stop already under way goes on\" "
                 "signal=%s after_ms=%lld",
                 REPEAT_MS, signal_name(sig), (long long)after);
    }
    log_warn("msg=\"second stop signal: exiting at once; attempts in flight are sent again after "
             "the restart\" signal=%s",
             signal_name(sig));
    _exit(1);
    return NULL;
}

int cli_serve(int argc, char **argv)
{
    struct config cfg;
    char err_line[512];
    int rc = config_resolve(argc, argv, config_getenv, &cfg, err_line, sizeof err_line);
    if (rc) {
        fprintf(stderr, "herald serve: %s\n", err_line);
        return rc;
    }
    if (cfg.is_help) {
        fputs(config_serve_usage, stdout);
        return 0;
    }
    if (!listen_host_resolves(&cfg, err_line, sizeof err_line) ||
        !config_db_path_usable(cfg.db_path, err_line, sizeof err_line)) {
        fprintf(stderr, "herald serve: %s\n", err_line);
        config_fini(&cfg);
        return 2;
    }
    /* Signals are taken by sigwait in this thread only; every thread started later inherits
     * the mask. SIGPIPE is ignored: a peer closing early is an ordinary error. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_open_files_limit();
    /* Blocks of 128 KiB and more are mapped on their own and go back to the system when freed.
     * glibc's threshold otherwise rises to the largest block freed (up to 32 MiB), after which
     * big blocks come from the heap and their memory stays with the process: a fan-out of
     * 1 MB callback bodies (100 records with affected values, rendered once per channel) left
     * several hundred MB resident after it was delivered. Small blocks, the hot path's, are
     * not affected. */
    const char *allocator = allocator_name();
    if (strcmp(allocator, "glibc") == 0)
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);

    struct store *store = NULL;
    struct http_server *srv = NULL;
    struct dispatcher *dispatcher = NULL;
    struct watch_index *watch = NULL;
    struct token_cache *tokens = NULL;
    struct api_watch_purger *purger = NULL;
    struct pruner *pruner = NULL;
    struct workq *lookups = NULL;
    char *domain = NULL;
    rc = 1;
    int db_fd = db_lock(cfg.db_path);
    if (db_fd < 0)
        goto out;
    if (meta_init()) {
        log_error("msg=\"module definitions are invalid\"");
        goto out;
    }
    if (store_open(cfg.db_path, &store)) {
        log_error("msg=\"cannot open the database\" path=\"%s\"", cfg.db_path);
        goto out;
    }
    /* This process owns the database: leases found now were left by a crash. */
    if (store_outbox_leases_void(store))
        goto out;
    warn_without_tokens(store, cfg.db_path);
    struct app app = {
        .store = store,
        .max_channels = cfg.max_channels,
        .allow = &cfg.allow,
        .retry = &cfg.retry,
    };
    app.tokens = tokens = token_cache_new(TOKEN_CACHE_MAX_ENTRIES, TOKEN_CACHE_MAX_AGE_MS);
    /* The channel index is filled before any request can change or match channels. */
    app.watch = watch = watch_index_new();
    if (api_watch_load(&app))
        goto out;
    purger = api_watch_purger_start(&app, 60000);
    struct prune_config pc = {.store = store, .retention_ms = cfg.retention_ms};
    if (prune_start(&pc, &pruner))
        goto out;
    struct dispatch_config dc = {
        .store = store,
        .retry = &cfg.retry,
        .allow = &cfg.allow,
        .on_gone = on_gone,
        .on_gone_arg = &app,
    };
    /* Test hook, not a setting: HERALD_TEST_DISPATCH="IN_FLIGHT,PER_HOST,QUEUED[,BYTES]"
     * shrinks the dispatcher's limits (BYTES: the bodies it holds) so the tests can reach its
     * overflow paths with a few notifications. */
    const char *limits = getenv("HERALD_TEST_DISPATCH");
    if (limits) {
        unsigned long in_flight = 0, per_host = 0, queued = 0, bytes = 0;
        if (sscanf(limits, "%lu,%lu,%lu,%lu", &in_flight, &per_host, &queued, &bytes) >= 3) {
            dc.max_in_flight = in_flight;
            dc.max_per_host = (long)per_host;
            dc.max_queued = queued;
            dc.max_bytes = bytes;
            log_warn("msg=\"dispatcher limits set for a test\" in_flight=%lu per_host=%lu "
                     "queued=%lu bytes=%lu",
                     in_flight, per_host, queued, bytes);
        }
    }
    /* Test hook, not a setting: http:// callbacks through libcurl, the https:// client, so
     * the tests (which have no TLS receiver) cover that path too. */
    if (getenv("HERALD_TEST_CURL_ONLY")) {
        dc.is_curl_only = true;
        log_warn("msg=\"every callback through libcurl, for a test\"");
    }
    /* Test hook, not a setting: HERALD_TEST_CIRCUIT_MS="OPEN,MAX" fixes how long a failing
     * destination's circuit rests (otherwise cut to the retry schedule), so a test can keep it
     * open for seconds while retries are due every 100 ms. */
    const char *circuit = getenv("HERALD_TEST_CIRCUIT_MS");
    long long circuit_open = 0, circuit_max = 0;
    if (circuit && sscanf(circuit, "%lld,%lld", &circuit_open, &circuit_max) == 2) {
        dc.circuit_open_ms = circuit_open;
        dc.circuit_max_ms = circuit_max;
        log_warn("msg=\"circuit rest set for a test\" open_ms=%lld max_ms=%lld", circuit_open,
                 circuit_max);
    }
    /* Test hook, not a setting: HERALD_TEST_HOST_IDLE_MS shortens the 10 minutes after which
     * an unused destination is forgotten. */
    const char *host_idle = getenv("HERALD_TEST_HOST_IDLE_MS");
    if (host_idle)
        dc.host_idle_ms = atoll(host_idle);
    /* Test hook, not a setting: every DNS lookup of a notify host waits this long first. */
    const char *resolve_delay = getenv("HERALD_TEST_RESOLVE_DELAY_MS");
    if (resolve_delay) {
        dc.resolve_delay_ms = atoi(resolve_delay);
        log_warn("msg=\"DNS lookups delayed for a test\" delay_ms=%d", dc.resolve_delay_ms);
    }
    /* Test hook, not a setting: HERALD_TEST_HOSTS="NAME=ADDR,ADDR" answers lookups of NAME with
     * those addresses (no test may edit /etc/hosts), still through the SSRF check. */
    dc.test_hosts = getenv("HERALD_TEST_HOSTS");
    if (dc.test_hosts)
        log_warn("msg=\"a host name resolved by a test\" hosts=\"%s\"", dc.test_hosts);
    /* Test hook, not a setting: HERALD_TEST_OWN_LIMITS_MS="CONNECT,ATTEMPT[,IDLE]" shortens the
     * 5 s to connect, the 15 s per attempt and the 60 s a kept-alive connection may stay idle,
     * so the tests reach them in well under a second. */
    const char *own_limits = getenv("HERALD_TEST_OWN_LIMITS_MS");
    if (own_limits &&
        sscanf(own_limits, "%d,%d,%d", &dc.connect_ms, &dc.attempt_ms, &dc.idle_ms) >= 2)
        log_warn("msg=\"attempt time limits set for a test\" connect_ms=%d attempt_ms=%d "
                 "idle_ms=%d",
                 dc.connect_ms, dc.attempt_ms, dc.idle_ms);
    if (dispatch_start(&dc, &dispatcher))
        goto out;
    struct wiring wiring = {.app = &app, .dispatcher = dispatcher};
    store_on_commit(store, on_commit, &wiring);
    struct http_config hc = {
        .host = cfg.listen_host,
        .port = cfg.listen_port,
        /* Every request Zoho takes fits: 100 records with a full 32,000-character textarea
         * each is 3.2 MB in ASCII and up to 12.8 MB in 4-byte UTF-8 (1 MiB refused them). */
        .max_body_bytes = 16 * 1024 * 1024,
        .threads = 0, /* one per CPU */
        .authenticate = api_authenticate,
    };
    /* Test hook, not a setting: HERALD_TEST_HEAD_MS shortens the 30 s a request head may take
     * from its first byte to its end. */
    const char *head_ms = getenv("HERALD_TEST_HEAD_MS");
    if (head_ms) {
        hc.head_ms = atoi(head_ms);
        log_warn("msg=\"request head time limit set for a test\" head_ms=%d", hc.head_ms);
    }
    /* Test hook, not a setting: HERALD_TEST_MAX_CONNECTIONS shrinks the 10,000 open client
     * connections past which a new one is answered 503, so a test reaches it with a few. */
    const char *max_conns = getenv("HERALD_TEST_MAX_CONNECTIONS");
    if (max_conns) {
        hc.max_connections = atoi(max_conns);
        log_warn("msg=\"connection limit set for a test\" max_connections=%d", hc.max_connections);
    }
    /* Test hook, not a setting: HERALD_TEST_MAX_HELD_BODY_BYTES shrinks the 256 MiB of request
     * bodies all connections may hold in memory together, so a test reaches it with a few. */
    const char *held = getenv("HERALD_TEST_MAX_HELD_BODY_BYTES");
    if (held) {
        hc.max_held_body_bytes = strtoull(held, NULL, 10);
        log_warn("msg=\"request body memory limit set for a test\" max_held_body_bytes=%zu",
                 hc.max_held_body_bytes);
    }
    /* resource_uri's base must be known before requests arrive; with port 0 it is only known
     * after binding, so the server writes it between binding and starting its threads. */
    struct own_domain own = {.host = cfg.listen_host, .size = strlen(cfg.listen_host) + 32};
    own.text = domain = xcalloc(1, own.size);
    hc.bound = own_domain_bound;
    hc.bound_arg = &own;
    app.api_domain = cfg.api_domain ? cfg.api_domain : domain;
    /* Subscribe-time DNS lookups: a few at once, off the HTTP threads (NULL: on them). */
    app.lookups = lookups = workq_start(4, "herald-lookup");
    app.lookup_delay_ms = dc.resolve_delay_ms;
    if (http_server_start(&hc, api_routes, &app, &srv))
        goto out;
    log_info("msg=\"herald started\" version=%s db=\"%s\" timezone=%s api_domain=%s "
             "allow_network=\"%s\" retry_schedule=\"%s\" max_channels=%ld retention=%s "
             "allocator=%s",
             HERALD_VERSION, cfg.db_path, cfg.timezone, app.api_domain, cfg.allow_text,
             cfg.retry_text, cfg.max_channels, cfg.retention_text, allocator);
    fprintf(stderr, "listening on %s\n", domain);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    first_stop_ms = time_mono_ms();
    log_info("msg=\"stopping\" signal=%s", signal_name(sig));
    pthread_t second;
    if (pthread_create(&second, NULL, second_signal_wait, NULL) == 0)
        pthread_detach(second);
    rc = 0;
out:;
    /* The whole stop fits in STOP_MS, inside the 10 s a container runtime waits before its
     * SIGKILL (docker stop's default): requests in flight get up to STOP_MS - STOP_ATTEMPTS_MS,
     * delivery attempts (which go on meanwhile) what is left, at least STOP_ATTEMPTS_MS. It was
     * 10 s each, one after the other: up to 20 s. */
    int64_t stop_by = time_mono_ms() + STOP_MS;
    http_server_stop(srv, STOP_MS - STOP_ATTEMPTS_MS);
    workq_stop(lookups); /* its jobs go to the store: before the store goes */
    if (store)
        store_on_commit(store, NULL, NULL); /* before the dispatcher it wakes goes away */
    int64_t left_ms = stop_by - time_mono_ms();
    dispatch_stop(dispatcher, (int)(left_ms > STOP_ATTEMPTS_MS ? left_ms : STOP_ATTEMPTS_MS));
    api_watch_purger_stop(purger);
    prune_stop(pruner);
    store_free(store);
    watch_index_free(watch);  /* after the writer stopped: its jobs use the index */
    token_cache_free(tokens); /* after the HTTP server stopped: requests use it */
    meta_fini();
    free(domain);
    if (db_fd >= 0)
        close(db_fd); /* after the store closed: the next server may start now */
    config_fini(&cfg);
    if (rc == 0)
        log_info("msg=\"stopped cleanly\"");
    return rc;
}
