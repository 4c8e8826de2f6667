/* Retention of the delivery history: the --retention duration and the pruner's pacing. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/config.h"
#include "core/error.h"
#include "deliver/prune.h"

#define SEC 1000LL
#define DAY (24 * 3600 * SEC)

static void parses_each_unit(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {
        {"1s", SEC},     {"30s", 30 * SEC},     {"90m", 90 * 60 * SEC}, {"36h", 36 * 3600 * SEC},
        {"7d", 7 * DAY}, {"3650d", 3650 * DAY}, {"0001s", SEC},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        assert_int_equal(prune_retention_parse(cases[i].text, &ms), HERALD_OK);
        assert_int_equal(ms, cases[i].ms);
    }
}

static void rejects_zero_missing_units_and_trailing_bytes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "0s",
        "0d",
        "7",
        "d",
        "7w",
        "7D",
        "7 d",
        " 7d",
        "7d ",
        "-1s",
        "+1s",
        "1.5h",
        "1ms",
        "7dd",
        "1s1m",
        "3651d",
        "87601h",
        "99999999999999999999s",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        if (prune_retention_parse(bad[i], &ms) != HERALD_ERR_INVALID)
            fail_msg("'%s' was accepted", bad[i]);
        assert_int_equal(ms, 42); /* untouched */
    }
    int64_t ms = 42;
    assert_int_equal(prune_retention_parse(NULL, &ms), HERALD_ERR_INVALID);
}

static void more_work_leaves_the_writer_four_times_the_job_duration(void **state)
{
    (void)state;
    assert_int_equal(prune_next_wait_ms(true, 10, 7 * DAY), 40);
    assert_int_equal(prune_next_wait_ms(true, 1, 7 * DAY), 20); /* at least 20 ms */
    assert_int_equal(prune_next_wait_ms(true, 0, 7 * DAY), 20);
    assert_int_equal(prune_next_wait_ms(true, 250, SEC), 1000);
}

static void idle_waits_half_the_retention_between_a_quarter_second_and_a_minute(void **state)
{
    (void)state;
    assert_int_equal(prune_next_wait_ms(false, 3, 7 * DAY), 60000);
    assert_int_equal(prune_next_wait_ms(false, 3, 7 * DAY), 60000);
    assert_int_equal(prune_next_wait_ms(false, 3, 60 * SEC), 30000);
    assert_int_equal(prune_next_wait_ms(false, 3, SEC), 500);
    assert_int_equal(prune_next_wait_ms(false, 3, 100), 250);
}

static const char *const *env_table;

static const char *fake_getenv(const char *name)
{
    for (const char *const *e = env_table; e && *e; e += 2) {
        if (strcmp(e[0], name) == 0)
            return e[1];
    }
    return NULL;
}

static void retention_flag_beats_environment_beats_default(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    env_table = NULL;
    assert_int_equal(config_resolve(0, NULL, fake_getenv, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.retention_ms, 7 * DAY);
    config_fini(&cfg);

    const char *env[] = {"HERALD_RETENTION", "12h", NULL};
    env_table = env;
    assert_int_equal(config_resolve(0, NULL, fake_getenv, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.retention_ms, 12 * 3600 * SEC);
    config_fini(&cfg);

    const char *argv[] = {"--retention", "30s"};
    assert_int_equal(config_resolve(2, (char **)argv, fake_getenv, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.retention_ms, 30 * SEC);
    config_fini(&cfg);

    const char *bad[] = {"--retention=7 days"};
    assert_int_equal(config_resolve(1, (char **)bad, fake_getenv, &cfg, err, sizeof err), 2);
    assert_non_null(strstr(err, "--retention"));

    char path[] = "/tmp/herald-retention-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char ini[] = "retention = 2d\n";
    assert_int_equal(write(fd, ini, sizeof ini - 1), (ssize_t)(sizeof ini - 1));
    close(fd);
    const char *file_argv[] = {"--config", path};
    env_table = NULL;
    assert_int_equal(config_resolve(2, (char **)file_argv, fake_getenv, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.retention_ms, 2 * DAY);
    config_fini(&cfg);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_each_unit),
        cmocka_unit_test(rejects_zero_missing_units_and_trailing_bytes),
        cmocka_unit_test(more_work_leaves_the_writer_four_times_the_job_duration),
        cmocka_unit_test(idle_waits_half_the_retention_between_a_quarter_second_and_a_minute),
        cmocka_unit_test(retention_flag_beats_environment_beats_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
