/* timefmt.h — the API's time formats and ours.
 *
 * The API's UpdateTime is undocumented; accepted: all digits = Unix seconds
 * (10-digit values; 13 digits are taken as milliseconds), "YYYY-MM-DD
 * HH:MM:SS" in a given zone (the vendor's UTC+8 by default), and RFC 3339
 * ("2026-11-27T02:15:00Z", "...+08:00", fractional seconds allowed).
 * Pure functions, thread-safe.
 */
#ifndef IMGTAGFS_TIMEFMT_H
#define IMGTAGFS_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_RFC3339_LEN 20 /* "2026-11-27T02:15:00Z" */

/* Parses s into Unix seconds; zone-less times are tz_offset seconds east of
 * UTC. 0 or -EINVAL (empty, trailing junk, out-of-range field, a year
 * outside 1970..9999). */
int timefmt_parse(const char *s, long tz_offset, int64_t *out);
/* Parses a zone: "+08:00", "+0800", "-05:30", "Z", "UTC". 0 or -EINVAL. */
int timefmt_parse_zone(const char *s, long *out);
/* Writes t as RFC 3339 UTC with a NUL. n >= TIMEFMT_RFC3339_LEN + 1.
 * 0 or -EOVERFLOW. */
int timefmt_rfc3339(int64_t t, char *out, size_t n);
/* Writes t as "YYYY-MM-DD HH:MM:SS" in zone tz_offset (the simulator's
 * output style). 0 or -EOVERFLOW. */
int timefmt_plain(int64_t t, long tz_offset, char *out, size_t n);

#endif
