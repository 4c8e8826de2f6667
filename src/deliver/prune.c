/* The pruner: one store_outbox_prune job a round on a ticker, waiting between rounds as
 * prune_next_wait_ms says. It never holds a lock while the writer runs its job, and stopping
 * is prompt (core/ticker.h). */
#include "deliver/prune.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "core/ticker.h"
#include "core/timefmt.h"
#include "core/xmalloc.h"
#include "store/outbox.h"

#define PRUNE_BUSY_MIN_WAIT_MS 20
#define PRUNE_IDLE_MIN_WAIT_MS 250
#define PRUNE_IDLE_MAX_WAIT_MS 60000

struct pruner {
    struct prune_config cfg;
    struct ticker *ticker;
    size_t streak; /* rows deleted since the last idle wait, for one log line per run */
    bool has_failed;
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

int64_t prune_next_wait_ms(bool has_more, int64_t job_ms, int64_t retention_ms)
{
    if (has_more) {
        int64_t wait = job_ms > 0 ? 4 * job_ms : 0;
        return wait < PRUNE_BUSY_MIN_WAIT_MS ? PRUNE_BUSY_MIN_WAIT_MS : wait;
    }
    int64_t wait = retention_ms / 2;
    if (wait < PRUNE_IDLE_MIN_WAIT_MS)
        return PRUNE_IDLE_MIN_WAIT_MS;
    return wait > PRUNE_IDLE_MAX_WAIT_MS ? PRUNE_IDLE_MAX_WAIT_MS : wait;
}

/* One round: one batch deleted; returns the wait before the next. */
static int64_t prune_round(void *arg)
{
    struct pruner *p = arg;
    int64_t before_ms = time_now_ms() - p->cfg.retention_ms;
    int64_t started = time_mono_ms();
    size_t deleted = 0;
    bool has_more = false;
    enum herald_err err =
        store_outbox_prune(p->cfg.store, before_ms, p->cfg.batch, &deleted, &has_more);
    int64_t job_ms = time_mono_ms() - started;
    if (err && !p->has_failed)
        log_warn("msg=\"pruning delivered notifications failed\" error=%s", herald_err_name(err));
    p->has_failed = err != HERALD_OK;
    p->streak += deleted;
    if (!has_more && p->streak) {
        log_info(
            "msg=\"pruned delivered notifications and change events\" count=%zu retention_ms=%lld",
            p->streak, (long long)p->cfg.retention_ms);
        p->streak = 0;
    }
    return prune_next_wait_ms(has_more, job_ms, p->cfg.retention_ms);
}

enum herald_err prune_start(const struct prune_config *cfg, struct pruner **out)
{
    struct pruner *p = xcalloc(1, sizeof *p);
    p->cfg = *cfg;
    if (!p->cfg.batch)
        p->cfg.batch = PRUNE_BATCH_DEFAULT;
    p->ticker = ticker_start("pruner", prune_round, p, 0);
    if (!p->ticker) {
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
    ticker_stop(p->ticker);
    free(p);
}
