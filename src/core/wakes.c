#include "core/wakes.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

/* One per HTTP thread (at most 16) plus a few; past it a wake is written at once. */
#define WAKES_MAX 32

static _Thread_local struct {
    bool is_holding;
    int count;
    int fds[WAKES_MAX];
    atomic_int *pending[WAKES_MAX];
} held;

static void write_one(int evfd)
{
    uint64_t one = 1;
    while (write(evfd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

static void written(atomic_int *pending)
{
    if (pending)
        atomic_fetch_sub(pending, 1);
}

void wakes_hold(void)
{
    held.is_holding = true;
}

void wakes_signal(int evfd, atomic_int *pending)
{
    if (held.is_holding) {
        for (int i = 0; i < held.count; i++) {
            if (held.fds[i] == evfd) {
                written(pending); /* the held one is still counted */
                return;
            }
        }
        if (held.count < WAKES_MAX) {
            held.pending[held.count] = pending;
            held.fds[held.count++] = evfd;
            return;
        }
    }
    write_one(evfd);
    written(pending);
}

void wakes_release(void)
{
    held.is_holding = false;
    for (int i = 0; i < held.count; i++) {
        write_one(held.fds[i]);
        written(held.pending[i]);
    }
    held.count = 0;
}
