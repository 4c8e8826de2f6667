/* core/workq: tasks run on the queue's threads, all of them, and stopping runs what is queued. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "core/workq.h"

static atomic_int ran;
static pthread_t caller;
static atomic_bool ran_elsewhere = true;

static void count(void *arg)
{
    (void)arg;
    if (pthread_equal(pthread_self(), caller))
        atomic_store(&ran_elsewhere, false);
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000};
    nanosleep(&ts, NULL); /* long enough that the queue is still full when stop comes */
    atomic_fetch_add(&ran, 1);
}

static void every_task_runs_off_the_caller_and_stop_drains_the_queue(void **state)
{
    (void)state;
    caller = pthread_self();
    struct workq *q = workq_start(3, "test-workq");
    assert_non_null(q);
    for (int i = 0; i < 200; i++)
        workq_run(q, count, NULL);
    workq_stop(q);
    assert_int_equal(atomic_load(&ran), 200);
    assert_true(atomic_load(&ran_elsewhere));
    workq_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_task_runs_off_the_caller_and_stop_drains_the_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
