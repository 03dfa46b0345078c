/* fuzz_timefmt.c — libFuzzer harness for the time parser and formatters
 * (timefmt.h).
 *
 * Input: three header bytes giving the zone of zone-less times, then the
 * text. Header byte 0's low two bits pick how the zone is made: 0 UTC,
 * 1 byte 1 as signed quarter hours (so +-32 h: some are out of range),
 * 2 bytes 1-2 as a signed 16-bit number times 3 seconds (odd offsets, and
 * out of range both ways), 3 the vendor's +08:00. ASCII '0'..'3' are the
 * four modes, so seed files stay readable.
 *
 * Invariants: a parsed time lies within a day of 1970..9999; a time in
 * 1970..9999 formats as RFC 3339 (20 bytes) and parses back to itself in
 * any zone, and "plain" (zone-less) text in zone tz parses back with tz;
 * a parsed zone is within +-23:59 in whole minutes and moves a zone-less
 * time by exactly its offset. The text also runs through the formatters
 * as a raw 64-bit time.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "timefmt.h"

#define DAY 86400
#define OFFSET_MAX (23 * 3600 + 59 * 60)
/* 9999-12-31T23:59:59Z */
#define UNIX_MAX INT64_C(253402300799)

static long zone_of(const uint8_t *h)
{
	switch (h[0] & 3) {
	case 0:
		return 0;
	case 1:
		return (long)(int8_t)h[1] * 900;
	case 2:
		return (long)(int16_t)(uint16_t)(h[1] << 8 | h[2]) * 3;
	default:
		return 8 * 3600;
	}
}

/* A time in 1970..9999 survives RFC 3339 and plain text in zone tz. */
static void check_round_trip(int64_t t, long tz)
{
	char out[TIMEFMT_RFC3339_LEN + 1], plain[64];
	int64_t back = -1;

	if (t < 0 || t > UNIX_MAX) {
		/* Outside 4-digit years a formatter may refuse; if it does
		 * not, the text must still fit. */
		if (timefmt_rfc3339(t, out, sizeof(out)) == 0)
			FUZZ_CHECK(strlen(out) == TIMEFMT_RFC3339_LEN);
		return;
	}
	FUZZ_CHECK(timefmt_rfc3339(t, out, sizeof(out)) == 0);
	FUZZ_CHECK(strlen(out) == TIMEFMT_RFC3339_LEN && out[10] == 'T' && out[19] == 'Z');
	FUZZ_CHECK(timefmt_parse(out, 0, &back) == 0 && back == t);
	FUZZ_CHECK(timefmt_parse(out, -OFFSET_MAX, &back) == 0 && back == t);
	/* Too small a buffer is refused, never overrun. */
	FUZZ_CHECK(timefmt_rfc3339(t, out, TIMEFMT_RFC3339_LEN) == -EOVERFLOW);
	if (tz < -OFFSET_MAX || tz > OFFSET_MAX)
		return;
	if (t + tz < 0 || t + tz > UNIX_MAX) {
		/* The local date has no 4-digit year; refusing is fine. */
		if (timefmt_plain(t, tz, plain, sizeof(plain)) == 0)
			FUZZ_CHECK(strlen(plain) == 19);
		return;
	}
	FUZZ_CHECK(timefmt_plain(t, tz, plain, sizeof(plain)) == 0);
	FUZZ_CHECK(strlen(plain) == 19 && plain[10] == ' ');
	FUZZ_CHECK(timefmt_parse(plain, tz, &back) == 0 && back == t);
}

static void fuzz_parse(const char *s, long tz)
{
	int64_t t = INT64_MIN;
	int err = timefmt_parse(s, tz, &t);

	FUZZ_CHECK(err == 0 || err == -EINVAL);
	if (err)
		return;
	FUZZ_CHECK(tz >= -OFFSET_MAX && tz <= OFFSET_MAX);
	/* Year 1970..9999 as written, moved by at most a zone (and a leap
	 * second). */
	FUZZ_CHECK(t >= -DAY && t <= UNIX_MAX + DAY);
	check_round_trip(t, tz);
}

/* A parsed zone is whole minutes within +-23:59 and shifts a zone-less
 * time by exactly its offset. */
static void fuzz_zone(const char *s)
{
	long off = LONG_MIN;
	int64_t t;

	if (timefmt_parse_zone(s, &off) != 0)
		return;
	FUZZ_CHECK(off >= -OFFSET_MAX && off <= OFFSET_MAX && off % 60 == 0);
	FUZZ_CHECK(timefmt_parse("1970-01-02 00:00:00", off, &t) == 0 && t == DAY - off);
}

/* The first 8 bytes as a raw time through the formatters. */
static void fuzz_raw(const uint8_t *p, long tz)
{
	char out[64];
	int64_t t;

	memcpy(&t, p, sizeof(t));
	check_round_trip(t, tz);
	if (timefmt_plain(t, tz, out, sizeof(out)) == 0)
		FUZZ_CHECK(strlen(out) == 19);
	/* Small buffers are refused, never overrun. */
	for (size_t n = 0; n < 4; n++)
		FUZZ_CHECK(timefmt_rfc3339(t, n ? out : NULL, n) == -EOVERFLOW);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	long tz;

	if (size < 3)
		return 0;
	tz = zone_of(data);
	s = fuzz_string(data + 3, size - 3);
	fuzz_parse(s, tz);
	fuzz_zone(s);
	if (size - 3 >= sizeof(int64_t))
		fuzz_raw(data + 3, tz);
	free(s);
	return 0;
}
