/* Retry schedule parsing, jitter, Retry-After (RFC 9110 §10.2.3 and the three HTTP-date forms of
 * §5.6.7) and outcome classification. Everything here is a function of its arguments: the
 * dispatcher supplies the clock and the random draw, which keeps these testable. */
#include "deliver/retry.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/timefmt.h"
#include "core/xmalloc.h"

static const char *skip_spaces(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads one "<digits><unit>" entry at *p into *delay_ms. */
static bool take_entry(const char **p, int64_t *delay_ms)
{
    const char *q = *p;
    if (*q < '0' || *q > '9')
        return false;
    int64_t v = 0;
    for (; *q >= '0' && *q <= '9'; q++) {
        v = v * 10 + (*q - '0');
        if (v > RETRY_DELAY_MAX_MS)
            return false;
    }
    int64_t unit_ms;
    if (q[0] == 'm' && q[1] == 's') {
        unit_ms = 1;
        q += 2;
    } else if (*q == 's') {
        unit_ms = 1000;
        q++;
    } else if (*q == 'm') {
        unit_ms = 60 * 1000;
        q++;
    } else if (*q == 'h') {
        unit_ms = 3600 * 1000;
        q++;
    } else {
        return false;
    }
    if (v > RETRY_DELAY_MAX_MS / unit_ms)
        return false;
    *delay_ms = v * unit_ms;
    *p = q;
    return true;
}

enum herald_err retry_schedule_parse(const char *s, struct retry_schedule *out)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return HERALD_ERR_INVALID;
    int64_t delays[RETRY_SCHEDULE_MAX];
    size_t n = 0;
    const char *p = s;
    for (;;) {
        p = skip_spaces(p);
        int64_t d;
        if (n == RETRY_SCHEDULE_MAX || !take_entry(&p, &d))
            return HERALD_ERR_INVALID;
        delays[n++] = d;
        p = skip_spaces(p);
        if (*p == '\0')
            break;
        if (*p != ',')
            return HERALD_ERR_INVALID;
        p++;
    }
    out->delays_ms = xmalloc(n * sizeof *out->delays_ms);
    memcpy(out->delays_ms, delays, n * sizeof *out->delays_ms);
    out->len = n;
    return HERALD_OK;
}

void retry_schedule_fini(struct retry_schedule *s)
{
    free(s->delays_ms);
    s->delays_ms = NULL;
    s->len = 0;
}

int64_t retry_longest_ms(const struct retry_schedule *s)
{
    int64_t longest = 0;
    for (size_t i = 0; s && i < s->len; i++) {
        if (s->delays_ms[i] > longest)
            longest = s->delays_ms[i];
    }
    return longest;
}

int64_t retry_delay_ms(const struct retry_schedule *s, size_t attempt, double rnd)
{
    if (!s || attempt >= s->len)
        return -1;
    int64_t delay_ms = s->delays_ms[attempt];
    if (delay_ms <= 0)
        return 0;
    if (!(rnd >= 0.0)) /* also catches NaN */
        rnd = 0.0;
    if (rnd > 1.0)
        rnd = 1.0;
    return (int64_t)((double)delay_ms * (0.8 + 0.4 * rnd) + 0.5);
}

static bool take_word(const char **p, const char *const *words, size_t n_words, int *index)
{
    for (size_t i = 0; i < n_words; i++) {
        size_t len = strlen(words[i]);
        if (strncasecmp(*p, words[i], len) != 0)
            continue;
        const char *after = *p + len; /* in bounds: the match ended before any NUL */
        bool is_letter_next = (*after >= 'A' && *after <= 'Z') || (*after >= 'a' && *after <= 'z');
        if (!is_letter_next) {
            *p = after;
            *index = (int)i;
            return true;
        }
    }
    return false;
}

static bool take_lit(const char **p, const char *lit)
{
    size_t len = strlen(lit);
    if (strncmp(*p, lit, len) != 0)
        return false;
    *p += len;
    return true;
}

static bool take_num(const char **p, int n_digits, int *out)
{
    int v = 0;
    for (int i = 0; i < n_digits; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n_digits;
    *out = v;
    return true;
}

static bool take_clock(const char **p, int *h, int *mi, int *s)
{
    return take_num(p, 2, h) && take_lit(p, ":") && take_num(p, 2, mi) && take_lit(p, ":") &&
           take_num(p, 2, s);
}

static const char *const short_days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const long_days[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The year a two-digit RFC 850 year names: the latest one not more than 50 years ahead of now. */
static int full_year(int yy, int64_t now_s)
{
    time_t t = (time_t)now_s;
    struct tm tm;
    int current = gmtime_r(&t, &tm) ? tm.tm_year + 1900 : 2000;
    int y = current - current % 100 + yy;
    if (y > current + 50)
        y -= 100;
    return y;
}

/* Parses the three HTTP-date forms exactly (day names are checked for spelling, not against the
 * date). The text must end after the date. */
static bool parse_http_date(const char *p, int64_t now_s, int64_t *epoch_s)
{
    int wd, day, mon, year, h, mi, s;
    if (take_word(&p, long_days, 7, &wd)) { /* RFC 850 */
        int yy;
        if (!(take_lit(&p, ", ") && take_num(&p, 2, &day) && take_lit(&p, "-") &&
              take_word(&p, months, 12, &mon) && take_lit(&p, "-") && take_num(&p, 2, &yy) &&
              take_lit(&p, " ") && take_clock(&p, &h, &mi, &s) && take_lit(&p, " GMT")))
            return false;
        year = full_year(yy, now_s);
    } else if (take_word(&p, short_days, 7, &wd)) {
        if (take_lit(&p, ", ")) { /* IMF-fixdate */
            if (!(take_num(&p, 2, &day) && take_lit(&p, " ") && take_word(&p, months, 12, &mon) &&
                  take_lit(&p, " ") && take_num(&p, 4, &year) && take_lit(&p, " ") &&
                  take_clock(&p, &h, &mi, &s) && take_lit(&p, " GMT")))
                return false;
        } else { /* asctime: "Sun Nov  6 08:49:37 1994" */
            if (!(take_lit(&p, " ") && take_word(&p, months, 12, &mon) && take_lit(&p, " ")))
                return false;
            if (*p == ' ') {
                p++;
                if (!take_num(&p, 1, &day))
                    return false;
            } else if (!take_num(&p, 2, &day)) {
                return false;
            }
            if (!(take_lit(&p, " ") && take_clock(&p, &h, &mi, &s) && take_lit(&p, " ") &&
                  take_num(&p, 4, &year)))
                return false;
        }
    } else {
        return false;
    }
    if (*skip_spaces(p) != '\0')
        return false;
    return time_from_civil(year, mon + 1, day, h, mi, s, epoch_s) == HERALD_OK;
}

static int64_t clamp_wait_ms(int64_t wait_s)
{
    if (wait_s * 1000 < RETRY_AFTER_MIN_MS)
        return RETRY_AFTER_MIN_MS;
    if (wait_s * 1000 > RETRY_AFTER_MAX_MS)
        return RETRY_AFTER_MAX_MS;
    return wait_s * 1000;
}

int64_t retry_after_parse_ms(const char *value, int64_t now_s)
{
    if (!value)
        return -1;
    const char *p = skip_spaces(value);
    if (*p >= '0' && *p <= '9') {
        int64_t secs = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (secs <= RETRY_AFTER_MAX_MS / 1000) /* saturate: more is clamped anyway */
                secs = secs * 10 + (*p - '0');
        }
        if (*skip_spaces(p) != '\0')
            return -1;
        return clamp_wait_ms(secs > RETRY_AFTER_MAX_MS / 1000 ? RETRY_AFTER_MAX_MS / 1000 + 1
                                                              : secs);
    }
    int64_t at_s;
    if (!parse_http_date(p, now_s, &at_s))
        return -1;
    /* Compare before subtracting: now_s comes from the caller and may be anything. */
    if (now_s >= at_s)
        return RETRY_AFTER_MIN_MS;
    if (now_s < at_s - RETRY_AFTER_MAX_MS / 1000)
        return RETRY_AFTER_MAX_MS;
    return clamp_wait_ms(at_s - now_s);
}

enum retry_verdict retry_classify(int http_status)
{
    if (http_status >= 200 && http_status <= 299)
        return RETRY_DELIVERED;
    if (http_status == 410)
        return RETRY_GONE;
    return RETRY_AGAIN;
}
