/* The resolver thread. Its state is shared by the dispatcher and the thread, and freed by
 * whichever lets go last: a stop does not wait for a lookup in progress, so the thread may
 * outlive the dispatcher by one lookup (it owns copies of all it reads). */
#include "deliver/resolver.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "core/timefmt.h"
#include "core/xmalloc.h"

struct question {
    struct question *next;
    void *tag;
    char *name;
    int port;
};

struct resolver {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct question *todo_head, *todo_tail;
    struct resolve_answer *done;
    size_t done_count, done_cap;
    atomic_bool has_done; /* lets resolver_take skip the lock when nothing is ready */
    bool is_stopping;
    int refs; /* the dispatcher's and the thread's */
    struct ssrf_allowlist allow;
    int wakefd;
    int delay_ms;
    char *hosts_name;  /* tests only: this name resolves to hosts_addrs instead */
    char *hosts_addrs; /* comma-separated numeric addresses */
};

static void resolver_free(struct resolver *r)
{
    while (r->todo_head) {
        struct question *q = r->todo_head;
        r->todo_head = q->next;
        free(q->name);
        free(q);
    }
    free(r->done);
    free(r->hosts_name);
    free(r->hosts_addrs);
    ssrf_allowlist_fini(&r->allow);
    if (r->wakefd >= 0)
        close(r->wakefd);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

/* Drops one reference; called with mu held, returns with it released. */
static void release(struct resolver *r)
{
    bool is_last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (is_last)
        resolver_free(r);
}

/* The test hook's answer: each listed address in order, each through the same SSRF check as a
 * name server's answer (a refused one refuses the whole name). */
static void resolve_listed(struct resolver *r, int port, struct resolve_answer *a)
{
    char *list = xstrdup(r->hosts_addrs);
    char *save = NULL;
    for (char *addr = strtok_r(list, ",", &save); addr && a->addr_count < RESOLVER_MAX_ADDRS;
         addr = strtok_r(NULL, ",", &save)) {
        size_t n = 0;
        a->err = ssrf_resolve_check_all(&r->allow, addr, port, a->addrs + a->addr_count,
                                        RESOLVER_MAX_ADDRS - a->addr_count, &n, &a->why);
        if (a->err)
            break;
        a->addr_count += n;
    }
    free(list);
}

static void *resolver_main(void *arg)
{
    struct resolver *r = arg;
    pthread_setname_np(pthread_self(), "herald-resolve");
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->todo_head && !r->is_stopping)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->is_stopping)
            break;
        struct question *q = r->todo_head;
        r->todo_head = q->next;
        if (!r->todo_head)
            r->todo_tail = NULL;
        pthread_mutex_unlock(&r->mu);

        time_sleep_ms(r->delay_ms);
        struct resolve_answer a = {.tag = q->tag};
        if (r->hosts_name && strcasecmp(q->name, r->hosts_name) == 0)
            resolve_listed(r, q->port, &a);
        else
            a.err = ssrf_resolve_check_all(&r->allow, q->name, q->port, a.addrs, RESOLVER_MAX_ADDRS,
                                           &a.addr_count, &a.why);
        if (a.err)
            a.addr_count = 0;
        free(q->name);
        free(q);

        pthread_mutex_lock(&r->mu);
        if (r->done_count == r->done_cap) {
            r->done_cap = r->done_cap ? r->done_cap * 2 : 8;
            r->done = xrealloc(r->done, r->done_cap * sizeof *r->done);
        }
        r->done[r->done_count++] = a;
        atomic_store(&r->has_done, true);
        uint64_t one = 1;
        ssize_t w = write(r->wakefd, &one, sizeof one);
        (void)w;
    }
    release(r);
    return NULL;
}

struct resolver *resolver_start(const struct ssrf_allowlist *allow, int wakefd, int delay_ms,
                                const char *hosts)
{
    struct resolver *r = xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (allow && allow->len) {
        r->allow.items = xmalloc(allow->len * sizeof *allow->items);
        memcpy(r->allow.items, allow->items, allow->len * sizeof *allow->items);
        r->allow.len = allow->len;
    }
    r->wakefd = dup(wakefd);
    r->delay_ms = delay_ms;
    const char *eq = hosts ? strchr(hosts, '=') : NULL;
    if (eq && eq > hosts && eq[1]) {
        r->hosts_name = xstrndup(hosts, (size_t)(eq - hosts));
        r->hosts_addrs = xstrdup(eq + 1);
    }
    r->refs = 2;
    pthread_t thread;
    if (r->wakefd < 0 || pthread_create(&thread, NULL, resolver_main, r) != 0) {
        log_error("msg=\"cannot start the resolver thread\"");
        resolver_free(r);
        return NULL;
    }
    pthread_detach(thread);
    return r;
}

void resolver_ask(struct resolver *r, void *tag, const char *name, int port)
{
    struct question *q = xmalloc(sizeof *q);
    *q = (struct question){.tag = tag, .name = xstrdup(name), .port = port};
    pthread_mutex_lock(&r->mu);
    if (r->todo_tail)
        r->todo_tail->next = q;
    else
        r->todo_head = q;
    r->todo_tail = q;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

size_t resolver_take(struct resolver *r, struct resolve_answer **out)
{
    *out = NULL;
    if (!atomic_exchange(&r->has_done, false))
        return 0;
    pthread_mutex_lock(&r->mu);
    size_t n = r->done_count;
    *out = r->done;
    r->done = NULL;
    r->done_count = r->done_cap = 0;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void resolver_stop(struct resolver *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->is_stopping = true;
    pthread_cond_broadcast(&r->cv);
    release(r);
}
