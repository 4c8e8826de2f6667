/* Structured log lines on stderr: `ts=... level=... msg="..." key=value ...`. Thread-safe (one
 * write(2) per line). Never log secrets: tokens, signing keys and Authorization headers. */
#ifndef HERALD_CORE_LOG_H
#define HERALD_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
/* `fmt` is the rest of the line after the level: usually `msg="..." key=value`. */
void log_line(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same line with its text (after "level=...") already formatted, `len` bytes, for hot paths
 * where printf's cost shows (the access log). */
void log_text(enum log_level level, const char *text, size_t len);
/* Whether a line of this level is written at all. */
bool log_enabled(enum log_level level);

/* From log_hold on, this thread's debug and info lines wait in a buffer of its own (8 KiB) and
 * go out together at log_release, or when it is full, or before a warning or error of the
 * thread: for a loop that logs a line per request, one write(2) per round instead of per line.
 * The loop must call log_release before it blocks. */
void log_hold(void);
void log_release(void);

#define log_debug(...) log_line(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_line(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_line(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_line(LOG_ERROR, __VA_ARGS__)

#endif
