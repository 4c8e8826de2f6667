/* Retention of the delivery history: a thread that deletes delivered notifications (and their
 * attempts) once they are older than the retention, in small writer jobs paced so that pruning
 * never holds the writer for long nor takes more than a fifth of its time. Failed notifications
 * are kept (they can be resent) and pending ones are never touched. */
#ifndef HERALD_DELIVER_PRUNE_H
#define HERALD_DELIVER_PRUNE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "store/store.h"

#define PRUNE_RETENTION_DEFAULT "7d"
#define PRUNE_RETENTION_MAX_MS (3650LL * 24 * 3600 * 1000)
#define PRUNE_BATCH_DEFAULT 500

/* Parses a retention such as "7d", "36h", "90m" or "30s": a decimal integer of at least 1
 * followed by one unit s, m, h or d, nothing else, at most PRUNE_RETENTION_MAX_MS. Pure.
 * Returns HERALD_OK with *ms_out set, or HERALD_ERR_INVALID (*ms_out untouched). */
enum herald_err prune_retention_parse(const char *s, int64_t *ms_out);

/* The pacing, pure so it can be tested: how long to wait before the next job, given whether
 * the last job said there is more to look at and how long it took (ms). More work: go on soon,
 * but leave the writer four times the job's duration (at least 20 ms). Otherwise wait half the
 * retention, between 250 ms and one minute. */
int64_t prune_next_wait_ms(bool has_more, int64_t job_ms, int64_t retention_ms);

struct prune_config {
    struct store *store; /* borrowed; must outlive the pruner */
    int64_t retention_ms;
    size_t batch; /* notifications per writer job (0: PRUNE_BATCH_DEFAULT) */
};

struct pruner;

/* Starts the thread; the first job runs at once. Returns HERALD_OK and *out, or
 * HERALD_ERR_INTERNAL when the thread cannot start (logged). */
enum herald_err prune_start(const struct prune_config *cfg, struct pruner **out);
/* Stops the thread after the job in progress, if any, and frees it. Call before store_free.
 * NULL is a no-op. */
void prune_stop(struct pruner *p);

#endif
