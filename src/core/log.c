/* Log lines go to stderr with a UTC timestamp; one write(2) per line (or per held batch of whole
 * lines) keeps threads from mixing. */
#include "core/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

static _Thread_local bool is_held;
static _Thread_local char held[8192];
static _Thread_local size_t held_len;

void log_hold(void)
{
    is_held = true;
}

void log_release(void)
{
    if (held_len) {
        ssize_t w = write(STDERR_FILENO, held, held_len);
        (void)w;
        held_len = 0;
    }
}

bool log_enabled(enum log_level level)
{
    return level >= min_level;
}

/* Writes the line's prefix (time and level) into `line`; returns its length. */
static size_t line_prefix(enum log_level level, char *line)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* The date and time to the second are rendered once a second per thread (a line a
     * request makes this a hot path); the milliseconds each time. */
    static _Thread_local time_t cached_s = -1;
    static _Thread_local char cached[64];
    if (ts.tv_sec != cached_s) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(cached, sizeof cached, "ts=%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_s = ts.tv_sec;
    }
    size_t n = strlen(cached);
    memcpy(line, cached, n);
    long ms = ts.tv_nsec / 1000000;
    line[n++] = (char)('0' + ms / 100);
    line[n++] = (char)('0' + ms / 10 % 10);
    line[n++] = (char)('0' + ms % 10);
    const char *name = level_names[level];
    size_t name_len = strlen(name);
    memcpy(line + n, "Z level=", 8);
    memcpy(line + n + 8, name, name_len);
    line[n + 8 + name_len] = ' ';
    return n + 9 + name_len;
}

/* Ends the line (cut to fit, newline added) and writes it, or holds it (see log_hold). */
static void line_emit(enum log_level level, char *line, size_t len, size_t cap)
{
    if (len > cap - 2)
        len = cap - 2;
    line[len++] = '\n';
    if (is_held && level < LOG_WARN) {
        if (held_len + len > sizeof held)
            log_release();
        memcpy(held + held_len, line, len);
        held_len += len;
        return;
    }
    log_release(); /* what waited comes first */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void log_line(enum log_level level, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char line[2048];
    size_t n = line_prefix(level, line);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    line_emit(level, line, n + (m < 0 ? 0 : (size_t)m), sizeof line);
}

void log_text(enum log_level level, const char *text, size_t len)
{
    if (level < min_level)
        return;
    char line[2048];
    size_t n = line_prefix(level, line);
    if (len > sizeof line - n - 1)
        len = sizeof line - n - 1;
    memcpy(line + n, text, len);
    line_emit(level, line, n + len, sizeof line);
}
