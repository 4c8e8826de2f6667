/* Log lines: held lines wait until released, a warning or a full buffer, and keep their order. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

static char path[64];
static int saved_stderr = -1;

/* stderr goes to a temporary file for the test. */
static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/herald-log-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    unlink(path);
    return 0;
}

/* What the file holds so far (caller frees). */
static char *written(void)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = calloc(1, 65536);
    size_t n = fread(text, 1, 65535, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void held_lines_wait_for_release_or_a_warning_in_order(void **state)
{
    (void)state;
    log_hold();
    log_info("msg=first");
    log_info("msg=second");
    char *text = written();
    assert_string_equal(text, "");
    free(text);
    log_warn("msg=third");
    text = written();
    const char *a = strstr(text, "msg=first"), *b = strstr(text, "msg=second"),
               *c = strstr(text, "msg=third");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_true(a < b && b < c);
    assert_non_null(strstr(text, "level=warn msg=third\n"));
    free(text);
    log_info("msg=fourth");
    text = written();
    assert_null(strstr(text, "msg=fourth"));
    free(text);
    log_release();
    text = written();
    assert_non_null(strstr(text, "level=info msg=fourth\n"));
    free(text);
    /* More than the buffer holds: the older lines go out whole, the last ones wait. */
    for (int i = 0; i < 200; i++)
        log_info("msg=bulk i=%d padding=%060d", i, 0);
    text = written();
    size_t out = count(text, "msg=bulk");
    assert_true(out > 0 && out < 200);
    assert_int_equal(count(text, "\n"), 4 + out); /* whole lines only */
    free(text);
    log_release();
    text = written();
    assert_int_equal(count(text, "msg=bulk"), 200);
    free(text);
}

/* log_text writes what log_line would for the same text, cut to the line's size, below the level
 * nothing. */
static void preformatted_text_makes_the_same_line(void **state)
{
    (void)state;
    log_line(LOG_INFO, "msg=one n=%d", 7);
    log_text(LOG_INFO, "msg=one n=7", 11);
    log_text(LOG_DEBUG, "msg=hidden", 10);
    log_release(); /* the test before holds this thread's lines */
    char *text = written();
    assert_int_equal(count(text, "Z level=info msg=one n=7\n"), 2);
    assert_null(strstr(text, "hidden"));
    assert_true(log_enabled(LOG_INFO) && !log_enabled(LOG_DEBUG));
    free(text);
    char big[5000];
    memset(big, 'x', sizeof big);
    log_text(LOG_WARN, big, sizeof big);
    text = written();
    const char *line = strstr(text, "level=warn ");
    assert_non_null(line);
    assert_true(strlen(line) < 2048);
    assert_int_equal(line[strlen(line) - 1], '\n');
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(held_lines_wait_for_release_or_a_warning_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(preformatted_text_makes_the_same_line, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
