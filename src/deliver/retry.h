/* Retry policy for callback deliveries, as pure functions: the --retry-schedule list, jittered
 * delays, the Retry-After header, and what an attempt's outcome means. No clock is read and no
 * randomness drawn here; callers pass both in. */
#ifndef HERALD_DELIVER_RETRY_H
#define HERALD_DELIVER_RETRY_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define RETRY_SCHEDULE_MAX 100
#define RETRY_DELAY_MAX_MS (7LL * 24 * 3600 * 1000) /* longest delay one entry may ask for */
#define RETRY_AFTER_MIN_MS 1000LL
#define RETRY_AFTER_MAX_MS (24LL * 3600 * 1000)

struct retry_schedule {
    int64_t *delays_ms; /* owned; freed by retry_schedule_fini */
    size_t len;
};

/* Parses a comma-separated list such as "0s,5s,5m,30m,2h,5h,10h,10h": each entry a non-negative
 * decimal integer followed by a unit ms, s, m or h, optionally surrounded by spaces; 1 to
 * RETRY_SCHEDULE_MAX entries, each at most RETRY_DELAY_MAX_MS. Returns HERALD_OK with *out
 * filled (release with retry_schedule_fini), or HERALD_ERR_INVALID (*out zeroed). */
enum herald_err retry_schedule_parse(const char *s, struct retry_schedule *out);

/* Frees the delays and leaves an empty schedule; a zeroed schedule is fine. */
void retry_schedule_fini(struct retry_schedule *s);

/* Delay before attempt number `attempt` (0-based) with +-20% jitter: delay * (0.8 + 0.4 * rnd),
 * rounded, where rnd is in [0, 1) (clamped into it otherwise). A delay of 0 stays 0. Returns -1
 * when attempt >= s->len: no attempts remain. */
int64_t retry_delay_ms(const struct retry_schedule *s, size_t attempt, double rnd);

/* The schedule's longest delay, without jitter; 0 for an empty or NULL schedule. */
int64_t retry_longest_ms(const struct retry_schedule *s);

/* Parses a Retry-After header value: delta-seconds ("120"), or an HTTP-date in IMF-fixdate
 * ("Sun, 06 Nov 1994 08:49:37 GMT"), RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") or asctime
 * ("Sun Nov  6 08:49:37 1994") form, with optional surrounding spaces. now_s is the current time
 * in epoch seconds. Returns the wait in ms clamped to [RETRY_AFTER_MIN_MS, RETRY_AFTER_MAX_MS]
 * (a date in the past gives the minimum), or -1 if the value is unparsable or NULL. */
int64_t retry_after_parse_ms(const char *value, int64_t now_s);

enum retry_verdict {
    RETRY_DELIVERED,
    RETRY_AGAIN,
    RETRY_GONE, /* 410: disable the channel */
};

/* Classifies an attempt outcome; http_status 0 means no response (connect error, timeout, TLS).
 * 2xx is DELIVERED, 410 is GONE, everything else (0, 1xx, 3xx as redirects are not followed,
 * 4xx, 5xx) is AGAIN. */
enum retry_verdict retry_classify(int http_status);

#endif
