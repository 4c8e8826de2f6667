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
} held;

static void write_one(int evfd)
{
    uint64_t one = 1;
    while (write(evfd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void wakes_hold(void)
{
    held.is_holding = true;
}

void wakes_signal(int evfd)
{
    if (held.is_holding) {
        for (int i = 0; i < held.count; i++) {
            if (held.fds[i] == evfd)
                return;
        }
        if (held.count < WAKES_MAX) {
            held.fds[held.count++] = evfd;
            return;
        }
    }
    write_one(evfd);
}

void wakes_release(void)
{
    held.is_holding = false;
    for (int i = 0; i < held.count; i++)
        write_one(held.fds[i]);
    held.count = 0;
}
