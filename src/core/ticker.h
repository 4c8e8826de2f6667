/* A background thread that runs one function again and again: the function does one round of
 * work and returns how long to wait before the next. Stopping wakes the wait at once, so a
 * ticker never delays shutdown by more than one round. Used by the channel purger and the
 * delivered-notification pruner. */
#ifndef HERALD_CORE_TICKER_H
#define HERALD_CORE_TICKER_H

#include <stdint.h>

/* One round of work; returns the milliseconds to wait before the next round. */
typedef int64_t ticker_fn(void *arg);

struct ticker;

/* Starts a thread that waits first_wait_ms, then calls fn(arg) in a loop. `name` (static) is
 * for the log. Returns NULL when the thread cannot start (logged). Stop with ticker_stop. */
struct ticker *ticker_start(const char *name, ticker_fn *fn, void *arg, int64_t first_wait_ms);
/* Wakes and joins the thread; a round in progress finishes first. NULL is a no-op. */
void ticker_stop(struct ticker *t);

#endif
