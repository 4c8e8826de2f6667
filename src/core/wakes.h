/* Wake-ups held back to the end of a batch on the calling thread. The writer answers every
 * request of a group commit in one loop; each answer wakes the HTTP thread owning its connection
 * through an eventfd, and that thread, on the other CPU, takes the answer before the next one
 * is queued: a `write`, a wake-up and an `epoll_wait` per request instead of per batch. Between
 * wakes_hold and wakes_release the calling thread's wakes are gathered, and each eventfd is
 * written once at the release. Other threads are not affected. */
#ifndef HERALD_CORE_WAKES_H
#define HERALD_CORE_WAKES_H

#include <stdatomic.h>
#include <stdbool.h>

/* Starts gathering the calling thread's wakes. Calls do not nest. */
void wakes_hold(void);
/* Writes 1 to `evfd` now, or once at wakes_release when this thread is holding. `pending`, when
 * not NULL, is decremented once that write is done (at once when another held wake writes the
 * same eventfd): the owner of the eventfd counts the wakes it has coming and waits for them
 * before it closes it. */
void wakes_signal(int evfd, atomic_int *pending);
/* Writes each gathered eventfd once and stops gathering. */
void wakes_release(void);

#endif
