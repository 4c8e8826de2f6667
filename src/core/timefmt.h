/* ISO-8601 date-times as Zoho writes them ("2026-11-27T10:15:00+05:30"), the configured display
 * zone, and the two clocks. Parsing and formatting are pure and use the proleptic Gregorian
 * calendar; only time_zone_set touches process state (TZ), once, at start-up. Leap seconds are
 * not represented: second 60 is refused. */
#ifndef HERALD_CORE_TIMEFMT_H
#define HERALD_CORE_TIMEFMT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

/* Bytes a rendered date-time needs, NUL included. */
#define TIME_ISO_MAX 32

/* Parses "YYYY-MM-DDTHH:MM:SS" followed by "Z", "+HH:MM", "-HH:MM", "+HHMM" or "-HHMM"; optional
 * fractional seconds (".123", one or more digits) after the seconds are accepted and dropped.
 * Only real calendar dates and times (month 1-12, day within the month, 00:00:00-23:59:59,
 * offset up to 23:59) pass, with nothing before or after, and only instants from
 * 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z (the ones time_format_offset renders exactly:
 * "0000-06-01T00:00:00Z" is refused). Returns HERALD_OK with *epoch_s set,
 * or HERALD_ERR_INVALID (then *epoch_s is untouched). `s` is borrowed. */
enum herald_err time_parse_iso8601(const char *s, int64_t *epoch_s);

/* Renders epoch_s at the fixed UTC offset offset_s: "2026-11-27T10:15:00+05:30" ("+00:00" for 0,
 * never "Z"). An offset that is not whole minutes is truncated to whole minutes and the wall
 * time follows it, so the text always denotes exactly epoch_s. epoch_s is clamped to years
 * 0001-9999 (UTC) and offset_s to +-23:59; where the wall clock would pass 9999-12-31 the offset
 * is lowered so it does not ("9999-12-31T23:59:59+00:00", not year 10000 at +05:30). out must hold
 * TIME_ISO_MAX bytes. */
void time_format_offset(int64_t epoch_s, int offset_s, char out[TIME_ISO_MAX]);

/* Renders epoch_s in the configured zone (time_zone_set) with that zone's offset at that instant
 * (DST aware, through localtime_r and tm_gmtoff). Thread-safe once the zone is set. */
void time_format_local(int64_t epoch_s, char out[TIME_ISO_MAX]);

/* Validates and sets the zone used by time_format_local: "UTC"; an IANA name whose TZif file is
 * under $TZDIR or /usr/share/zoneinfo ("Asia/Kolkata", "America/New_York"); or a fixed offset
 * "+05:30", "-11:00" (also "+0530"), at most 14:00 either way. Names set TZ and call tzset();
 * a fixed offset leaves TZ alone. Call once at start-up before threads start. Returns HERALD_OK,
 * or HERALD_ERR_INVALID for an unknown zone (the previous zone stays). `tz` is copied. */
enum herald_err time_zone_set(const char *tz);

/* The zone last accepted by time_zone_set, as given ("UTC" before any call). Static storage;
 * valid until the next time_zone_set. */
const char *time_zone_name(void);

/* True when s is exactly "YYYY-MM-DD" naming a real calendar date. */
bool time_date_valid(const char *s);

/* Converts a broken-down UTC time to epoch seconds after checking it is a real date and time
 * (year 0-9999, second 0-59). Returns HERALD_OK or HERALD_ERR_INVALID. */
enum herald_err time_from_civil(int year, int month, int day, int hour, int min, int sec,
                                int64_t *epoch_s);

/* Wall-clock time (CLOCK_REALTIME) in milliseconds since the epoch. */
int64_t time_now_ms(void);
/* Monotonic time (CLOCK_MONOTONIC) in milliseconds from an arbitrary origin; for intervals. */
int64_t time_mono_ms(void);
/* Sleeps ms milliseconds (nothing when ms <= 0). */
void time_sleep_ms(int64_t ms);

#endif
