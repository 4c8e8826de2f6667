/* core/wakes: while a thread holds its wakes, each eventfd is written once, at the release. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include "core/wakes.h"

/* The eventfd's counter: how many times 1 was written since the last read (0: none). */
static uint64_t writes_to(int fd)
{
    uint64_t v = 0;
    if (read(fd, &v, sizeof v) != (ssize_t)sizeof v)
        return 0;
    return v;
}

static void held_wakes_are_written_once_each_at_the_release(void **state)
{
    (void)state;
    int a = eventfd(0, EFD_NONBLOCK), b = eventfd(0, EFD_NONBLOCK);
    assert_true(a >= 0 && b >= 0);
    wakes_hold();
    for (int i = 0; i < 5; i++)
        wakes_signal(a, NULL);
    wakes_signal(b, NULL);
    wakes_signal(a, NULL);
    assert_int_equal(writes_to(a), 0);
    assert_int_equal(writes_to(b), 0);
    wakes_release();
    assert_int_equal(writes_to(a), 1);
    assert_int_equal(writes_to(b), 1);
    close(a);
    close(b);
}

static void a_wake_is_written_at_once_when_not_held(void **state)
{
    (void)state;
    int a = eventfd(0, EFD_NONBLOCK);
    assert_true(a >= 0);
    wakes_signal(a, NULL);
    wakes_signal(a, NULL);
    assert_int_equal(writes_to(a), 2);
    wakes_hold();
    wakes_release();
    wakes_signal(a, NULL); /* released: at once again */
    assert_int_equal(writes_to(a), 1);
    close(a);
}

static void past_the_held_limit_wakes_are_written_at_once(void **state)
{
    (void)state;
    enum { N = 40 };
    int fds[N];
    wakes_hold();
    for (int i = 0; i < N; i++) {
        fds[i] = eventfd(0, EFD_NONBLOCK);
        assert_true(fds[i] >= 0);
        wakes_signal(fds[i], NULL);
    }
    int at_once = 0;
    for (int i = 0; i < N; i++)
        at_once += (int)writes_to(fds[i]);
    assert_int_equal(at_once, N - 32);
    wakes_release();
    for (int i = 0; i < N; i++) {
        assert_int_equal(writes_to(fds[i]), i < 32 ? 1 : 0);
        close(fds[i]);
    }
}

/* `pending` counts down once a wake is written: at the release for a held one, at once for one
 * written then or already held. The HTTP server waits for it before closing its eventfds. */
static void pending_counts_down_when_the_write_is_done(void **state)
{
    (void)state;
    int a = eventfd(0, EFD_NONBLOCK), b = eventfd(0, EFD_NONBLOCK);
    assert_true(a >= 0 && b >= 0);
    atomic_int pending = 3;
    wakes_hold();
    wakes_signal(a, &pending);
    wakes_signal(a, &pending); /* already held: the first is written for both */
    wakes_signal(b, &pending);
    assert_int_equal(atomic_load(&pending), 2);
    wakes_release();
    assert_int_equal(atomic_load(&pending), 0);
    assert_int_equal(writes_to(a), 1);
    assert_int_equal(writes_to(b), 1);
    atomic_store(&pending, 1);
    wakes_signal(a, &pending);
    assert_int_equal(atomic_load(&pending), 0);
    assert_int_equal(writes_to(a), 1);
    close(a);
    close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(held_wakes_are_written_once_each_at_the_release),
        cmocka_unit_test(a_wake_is_written_at_once_when_not_held),
        cmocka_unit_test(past_the_held_limit_wakes_are_written_at_once),
        cmocka_unit_test(pending_counts_down_when_the_write_is_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
