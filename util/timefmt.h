/* timefmt.h — RFC 3339 date-times to epoch milliseconds, used by the JSON
 * event reader (runtime/json.c) for string-valued event times. Pure
 * arithmetic: no dependency on TZ, locale or timegm. */
#ifndef CEP_TIMEFMT_H
#define CEP_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Parse s[0..n) as an RFC 3339 date-time, e.g. "2023-11-14T22:13:20Z",
 * "2023-11-14t22:13:20.5+01:00", "2023-11-14 22:13:20.123456-05:30".
 * The offset (Z or +-HH:MM) is required; fractional seconds of any length
 * are truncated to milliseconds; years 0000-9999; second 60 (a leap second)
 * is accepted and counts as the first second of the next minute.
 * Returns 0 and sets *ms (milliseconds since 1970-01-01T00:00:00Z), or -1
 * when the text is not a valid date-time (*ms untouched). */
int timefmt_parse(const char *s, size_t n, int64_t *ms);

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1-12). */
int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
