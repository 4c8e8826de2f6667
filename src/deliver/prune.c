/* The pruner thread: one store_outbox_prune job at a time, waiting between jobs as
 * prune_next_wait_ms says. It only ever waits on its own condition variable, so stopping is
 * prompt, and it never holds a lock while the writer runs its job. */
#include "deliver/prune.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "core/timefmt.h"
#include "core/xmalloc.h"
#include "store/outbox.h"

#define PRUNE_BUSY_MIN_WAIT_MS 20
#define PRUNE_IDLE_MIN_WAIT_MS 250
#define PRUNE_IDLE_MAX_WAIT_MS 60000

struct pruner {
    struct prune_config cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_stopping; /* guarded by mu */
};

enum herald_err prune_retention_parse(const char *s, int64_t *ms_out)
{
    if (!s || *s < '0' || *s > '9')
        return HERALD_ERR_INVALID;
    int64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > PRUNE_RETENTION_MAX_MS / 10)
            return HERALD_ERR_INVALID;
        v = v * 10 + (*s - '0');
    }
    int64_t unit_ms;
    switch (*s) {
    case 's':
        unit_ms = 1000;
        break;
    case 'm':
        unit_ms = 60 * 1000;
        break;
    case 'h':
        unit_ms = 3600 * 1000;
        break;
    case 'd':
        unit_ms = 24 * 3600 * 1000;
        break;
    default:
        return HERALD_ERR_INVALID;
    }
    if (s[1] != '\0' || v < 1 || v > PRUNE_RETENTION_MAX_MS / unit_ms)
        return HERALD_ERR_INVALID;
    *ms_out = v * unit_ms;
    return HERALD_OK;
}

int64_t prune_next_wait_ms(size_t deleted, size_t batch, int64_t job_ms, int64_t retention_ms)
{
    if (batch && deleted >= batch) {
        int64_t wait = job_ms > 0 ? 4 * job_ms : 0;
        return wait < PRUNE_BUSY_MIN_WAIT_MS ? PRUNE_BUSY_MIN_WAIT_MS : wait;
    }
    int64_t wait = retention_ms / 2;
    if (wait < PRUNE_IDLE_MIN_WAIT_MS)
        return PRUNE_IDLE_MIN_WAIT_MS;
    return wait > PRUNE_IDLE_MAX_WAIT_MS ? PRUNE_IDLE_MAX_WAIT_MS : wait;
}

/* Waits up to wait_ms or until stopped; true when stopping. */
static bool nap(struct pruner *p, int64_t wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    while (!p->is_stopping && rc == 0)
        rc = pthread_cond_timedwait(&p->cv, &p->mu, &until);
    bool is_stopping = p->is_stopping;
    pthread_mutex_unlock(&p->mu);
    return is_stopping;
}

static void *prune_main(void *arg)
{
    struct pruner *p = arg;
    size_t streak = 0; /* rows deleted since the last idle wait, for one log line per run */
    bool has_failed = false;
    int64_t wait_ms = 0;
    while (!nap(p, wait_ms)) {
        int64_t before_ms = time_now_ms() - p->cfg.retention_ms;
        int64_t started = time_mono_ms();
        size_t deleted = 0;
        enum herald_err err = store_outbox_prune(p->cfg.store, before_ms, p->cfg.batch, &deleted);
        int64_t job_ms = time_mono_ms() - started;
        if (err && !has_failed)
            log_warn("msg=\"pruning delivered notifications failed\" error=%s",
                     herald_err_name(err));
        has_failed = err != HERALD_OK;
        streak += deleted;
        wait_ms = prune_next_wait_ms(deleted, p->cfg.batch, job_ms, p->cfg.retention_ms);
        if (deleted < p->cfg.batch && streak) {
            log_info("msg=\"pruned delivered notifications\" count=%zu retention_ms=%lld", streak,
                     (long long)p->cfg.retention_ms);
            streak = 0;
        }
    }
    return NULL;
}

enum herald_err prune_start(const struct prune_config *cfg, struct pruner **out)
{
    struct pruner *p = xcalloc(1, sizeof *p);
    p->cfg = *cfg;
    if (!p->cfg.batch)
        p->cfg.batch = PRUNE_BATCH_DEFAULT;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&p->thread, NULL, prune_main, p) != 0) {
        log_error("msg=\"cannot start the pruner thread\"");
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return HERALD_ERR_INTERNAL;
    }
    *out = p;
    return HERALD_OK;
}

void prune_stop(struct pruner *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->is_stopping = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
