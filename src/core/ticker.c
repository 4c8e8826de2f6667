/* The ticker: a thread, a monotonic condition-variable wait, and a stop flag. */
#include "core/ticker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "core/xmalloc.h"

struct ticker {
    const char *name;
    ticker_fn *fn;
    void *arg;
    int64_t first_wait_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_stopping; /* guarded by mu */
};

/* Waits up to wait_ms or until stopped; true when stopping. */
static bool nap(struct ticker *t, int64_t wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(wait_ms / 1000);
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->mu);
    int rc = 0;
    while (!t->is_stopping && rc == 0)
        rc = pthread_cond_timedwait(&t->cv, &t->mu, &until);
    bool is_stopping = t->is_stopping;
    pthread_mutex_unlock(&t->mu);
    return is_stopping;
}

static void *ticker_main(void *arg)
{
    struct ticker *t = arg;
    pthread_setname_np(pthread_self(), "herald-ticker");
    int64_t wait_ms = t->first_wait_ms;
    while (!nap(t, wait_ms > 0 ? wait_ms : 0))
        wait_ms = t->fn(t->arg);
    return NULL;
}

struct ticker *ticker_start(const char *name, ticker_fn *fn, void *arg, int64_t first_wait_ms)
{
    struct ticker *t = xcalloc(1, sizeof *t);
    t->name = name;
    t->fn = fn;
    t->arg = arg;
    t->first_wait_ms = first_wait_ms;
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
        log_error("msg=\"cannot start a background thread\" name=%s", name);
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    return t;
}

void ticker_stop(struct ticker *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->is_stopping = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
