/* ISO-8601 parsing and rendering over a proleptic Gregorian calendar (Howard Hinnant's civil
 * date algorithms), so no libc time function is needed except for the configured zone's
 * offset. Invariant: a rendered string parses back to the instant it was rendered from. */
#include "core/timefmt.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SECS_PER_DAY 86400
#define EPOCH_MIN_S (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define EPOCH_MAX_S 253402300799LL   /* 9999-12-31T23:59:59Z */
#define OFFSET_MAX_S (23 * 3600 + 59 * 60)
#define ZONE_FIXED_MAX_S (14 * 3600)
#define ZONE_NAME_MAX 128

/* The configured display zone. Before time_zone_set (and for "UTC") it is the fixed offset 0,
 * so rendering never depends on the host's /etc/localtime by accident. */
static bool zone_is_fixed = true;
static int zone_offset_s;
static char zone_name[ZONE_NAME_MAX] = "UTC";

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Reads exactly n ASCII digits at *p, advancing *p; false (and *p unchanged) otherwise. */
static bool take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool take_char(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

static bool take_date(const char **p, int *y, int *m, int *d)
{
    return take_digits(p, 4, y) && take_char(p, '-') && take_digits(p, 2, m) && take_char(p, '-') &&
           take_digits(p, 2, d) && *m >= 1 && *m <= 12 && *d >= 1 && *d <= days_in_month(*y, *m);
}

/* Reads "HH:MM" or "HHMM" after a sign; hours up to max_h. */
static bool take_offset(const char **p, int max_h, int *offset_s)
{
    int sign = **p == '+' ? 1 : **p == '-' ? -1 : 0;
    if (!sign)
        return false;
    (*p)++;
    int h, m;
    if (!take_digits(p, 2, &h))
        return false;
    take_char(p, ':');
    if (!take_digits(p, 2, &m) || h > max_h || m > 59)
        return false;
    *offset_s = sign * (h * 3600 + m * 60);
    return true;
}

enum herald_err time_from_civil(int year, int month, int day, int hour, int min, int sec,
                                int64_t *epoch_s)
{
    if (year < 0 || year > 9999 || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month) || hour < 0 || hour > 23 || min < 0 || min > 59 ||
        sec < 0 || sec > 59)
        return HERALD_ERR_INVALID;
    *epoch_s = days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + min * 60 + sec;
    return HERALD_OK;
}

enum herald_err time_parse_iso8601(const char *s, int64_t *epoch_s)
{
    if (!s)
        return HERALD_ERR_INVALID;
    const char *p = s;
    int y, mo, d, h, mi, sec;
    if (!take_date(&p, &y, &mo, &d) || !take_char(&p, 'T') || !take_digits(&p, 2, &h) ||
        !take_char(&p, ':') || !take_digits(&p, 2, &mi) || !take_char(&p, ':') ||
        !take_digits(&p, 2, &sec))
        return HERALD_ERR_INVALID;
    if (take_char(&p, '.')) {
        if (*p < '0' || *p > '9')
            return HERALD_ERR_INVALID;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int offset_s = 0;
    if (!take_char(&p, 'Z') && !take_offset(&p, 23, &offset_s))
        return HERALD_ERR_INVALID;
    if (*p)
        return HERALD_ERR_INVALID;
    int64_t t;
    if (time_from_civil(y, mo, d, h, mi, sec, &t))
        return HERALD_ERR_INVALID;
    /* Only instants that render back exactly: year 0000, or an offset pushing the instant past
     * 9999, would come out clamped to another instant. */
    t -= offset_s;
    if (t < EPOCH_MIN_S || t > EPOCH_MAX_S)
        return HERALD_ERR_INVALID;
    *epoch_s = t;
    return HERALD_OK;
}

bool time_date_valid(const char *s)
{
    if (!s)
        return false;
    int y, m, d;
    return take_date(&s, &y, &m, &d) && *s == '\0';
}

void time_format_offset(int64_t epoch_s, int offset_s, char out[TIME_ISO_MAX])
{
    if (epoch_s < EPOCH_MIN_S)
        epoch_s = EPOCH_MIN_S;
    if (epoch_s > EPOCH_MAX_S)
        epoch_s = EPOCH_MAX_S;
    if (offset_s > OFFSET_MAX_S)
        offset_s = OFFSET_MAX_S;
    if (offset_s < -OFFSET_MAX_S)
        offset_s = -OFFSET_MAX_S;
    offset_s -= offset_s % 60; /* C division truncates toward zero, for either sign */
    /* The wall clock of the last hours of 9999 at a positive offset is in year 10000, which four
     * digits cannot write: the offset shrinks (whole minutes) until it fits, so the text still
     * denotes epoch_s. (A negative offset at the start of 0001 gives year 0000, which parses.) */
    if (epoch_s + offset_s > EPOCH_MAX_S)
        offset_s = (int)((EPOCH_MAX_S - epoch_s) / 60 * 60);

    int64_t local_s = epoch_s + offset_s;
    int64_t days = local_s / SECS_PER_DAY;
    int64_t rem_s = local_s % SECS_PER_DAY;
    if (rem_s < 0) {
        rem_s += SECS_PER_DAY;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int abs_off = offset_s < 0 ? -offset_s : offset_s;
    /* "YYYY-MM-DDTHH:MM:SS+HH:MM", written digit by digit (every record answer renders two of
     * these; snprintf was most of their cost). The clamps above keep each field in range. */
    int year = (int)(y % 10000);
    int fields[] = {m,
                    d,
                    (int)(rem_s / 3600),
                    (int)(rem_s / 60 % 60),
                    (int)(rem_s % 60),
                    abs_off / 3600 % 24,
                    abs_off / 60 % 60};
    const char before[] = {'-', '-', 'T', ':', ':', offset_s < 0 ? '-' : '+', ':'};
    char *p = out;
    *p++ = (char)('0' + year / 1000);
    *p++ = (char)('0' + year / 100 % 10);
    *p++ = (char)('0' + year / 10 % 10);
    *p++ = (char)('0' + year % 10);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        *p++ = before[i];
        *p++ = (char)('0' + fields[i] / 10 % 10);
        *p++ = (char)('0' + fields[i] % 10);
    }
    *p = '\0';
}

void time_format_local(int64_t epoch_s, char out[TIME_ISO_MAX])
{
    int offset_s = zone_offset_s;
    if (!zone_is_fixed) {
        int64_t clamped = epoch_s < EPOCH_MIN_S   ? EPOCH_MIN_S
                          : epoch_s > EPOCH_MAX_S ? EPOCH_MAX_S
                                                  : epoch_s;
        time_t t = (time_t)clamped;
        struct tm tm;
        offset_s = localtime_r(&t, &tm) ? (int)tm.tm_gmtoff : 0;
    }
    time_format_offset(epoch_s, offset_s, out);
}

/* An IANA name is path components of [A-Za-z0-9_+-.], none empty or starting with '.', so it
 * cannot leave the zoneinfo directory. */
static bool zone_name_safe(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= ZONE_NAME_MAX)
        return false;
    bool at_component_start = true;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (c == '/') {
            if (at_component_start)
                return false;
            at_component_start = true;
            continue;
        }
        if (at_component_start && c == '.')
            return false;
        at_component_start = false;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '+' || c == '-' || c == '.';
        if (!ok)
            return false;
    }
    return !at_component_start;
}

/* True when the zone file exists and is a TZif file (so "zone.tab" and directories fail). */
static bool zone_file_valid(const char *name)
{
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    char path[512];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    char magic[4];
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
              memcmp(magic, "TZif", 4) == 0;
    close(fd);
    return ok;
}

enum herald_err time_zone_set(const char *tz)
{
    if (!tz || !*tz || strlen(tz) >= ZONE_NAME_MAX)
        return HERALD_ERR_INVALID;
    if (tz[0] == '+' || tz[0] == '-') {
        const char *p = tz;
        int offset_s;
        if (!take_offset(&p, 14, &offset_s) || *p || offset_s > ZONE_FIXED_MAX_S ||
            offset_s < -ZONE_FIXED_MAX_S)
            return HERALD_ERR_INVALID;
        zone_is_fixed = true;
        zone_offset_s = offset_s;
    } else if (strcmp(tz, "UTC") == 0) {
        /* Set TZ too, so anything else that asks libc for local time agrees. */
        if (setenv("TZ", "UTC", 1))
            return HERALD_ERR_INVALID;
        tzset();
        zone_is_fixed = true;
        zone_offset_s = 0;
    } else {
        if (!zone_name_safe(tz) || !zone_file_valid(tz))
            return HERALD_ERR_INVALID;
        if (setenv("TZ", tz, 1))
            return HERALD_ERR_INVALID;
        tzset();
        zone_is_fixed = false;
        zone_offset_s = 0;
    }
    snprintf(zone_name, sizeof zone_name, "%s", tz);
    return HERALD_OK;
}

const char *time_zone_name(void)
{
    return zone_name;
}

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int64_t time_mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

void time_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
