/* timefmt.c — the API's time formats to Unix seconds and back.
 *
 * The registry's UpdateTime has no documented format, and the vendor's
 * zone-less "YYYY-MM-DD HH:MM:SS" is in its own zone, not ours. So nothing
 * here consults the process time zone (no mktime, no localtime, no TZ):
 * dates become day numbers by plain proleptic-Gregorian arithmetic (Howard
 * Hinnant's days_from_civil / civil_from_days) and the zone is an explicit
 * offset. The parser is strict — a field out of range or a trailing byte is
 * an error, not a guess — because a wrong mtime is worse than an unknown one.
 */
#include "timefmt.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SECS_PER_DAY 86400
#define YEAR_MIN 1970
#define YEAR_MAX 9999
/* 9999-12-31T23:59:59Z: the last second a 4-digit year can spell. */
#define UNIX_MAX INT64_C(253402300799)
/* Offsets are at most 23:59 either way (RFC 3339's syntax allows no more). */
#define OFFSET_MAX (23 * 3600 + 59 * 60)

struct civil {
	int64_t year;
	int month; /* 1..12 */
	int day;   /* 1..31 */
};

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a valid civil date (any sign). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static struct civil civil_from_days(int64_t z)
{
	struct civil c;
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	c.day = (int)(doy - (153 * mp + 2) / 5 + 1);
	c.month = (int)(mp < 10 ? mp + 3 : mp - 9);
	c.year = yoe + era * 400 + (c.month <= 2);
	return c;
}

/* Reads exactly n decimal digits at *s into *v and advances *s. */
static bool digits(const char **s, int n, int *v)
{
	int r = 0;

	for (int i = 0; i < n; i++) {
		char ch = (*s)[i];

		if (ch < '0' || ch > '9')
			return false;
		r = r * 10 + (ch - '0');
	}
	*s += n;
	*v = r;
	return true;
}

static bool expect(const char **s, char ch)
{
	if (**s != ch)
		return false;
	(*s)++;
	return true;
}

/* "+HH:MM", "+HHMM" or "+HH" (either sign) at *s; advances *s. */
static bool numeric_offset(const char **s, long *out)
{
	int sign, hh, mm = 0;

	if (**s != '+' && **s != '-')
		return false;
	sign = **s == '-' ? -1 : 1;
	(*s)++;
	if (!digits(s, 2, &hh))
		return false;
	if (**s == ':') {
		(*s)++;
		if (!digits(s, 2, &mm))
			return false;
	} else if (**s >= '0' && **s <= '9' && !digits(s, 2, &mm)) {
		return false;
	}
	if (hh > 23 || mm > 59)
		return false;
	*out = sign * (hh * 3600L + mm * 60L);
	return true;
}

int timefmt_parse_zone(const char *s, long *out)
{
	const char *p = s;
	long off;

	if (!s)
		return -EINVAL;
	if (!strcmp(s, "Z") || !strcmp(s, "z") || !strcasecmp(s, "UTC") || !strcasecmp(s, "GMT")) {
		*out = 0;
		return 0;
	}
	if (!numeric_offset(&p, &off) || *p)
		return -EINVAL;
	*out = off;
	return 0;
}

/* All digits: Unix seconds, or milliseconds when 13 digits long (a
 * JavaScript-style timestamp; 13 digits of seconds would be past 9999). */
static int parse_epoch(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;

	if (len > 13)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (s[i] - '0');
	if (len == 13)
		v /= 1000;
	if (v > UNIX_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

/* The optional ".fraction" (dropped: mtime has whole seconds) and zone
 * after HH:MM:SS. *off stays untouched when no zone is given. */
static int parse_tail(const char *p, long *off)
{
	if (*p == '.' || *p == ',') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		*off = 0;
		p++;
	} else if (*p == '+' || *p == '-') {
		if (!numeric_offset(&p, off))
			return -EINVAL;
	}
	return *p ? -EINVAL : 0;
}

/* "YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|±HH:MM]". */
static int parse_date(const char *s, long tz_offset, int64_t *out)
{
	const char *p = s;
	int y, mo, d, h, mi, sec;
	long off = tz_offset;
	int err;

	if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') || !digits(&p, 2, &d))
		return -EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -EINVAL;
	p++;
	if (!digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &mi) || !expect(&p, ':') || !digits(&p, 2, &sec))
		return -EINVAL;
	err = parse_tail(p, &off);
	if (err)
		return err;
	if (y < YEAR_MIN || y > YEAR_MAX || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -EINVAL;
	/* 60 is RFC 3339's leap second; it lands on the next minute's :00. */
	if (h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	*out = days_from_civil(y, mo, d) * SECS_PER_DAY + h * 3600 + mi * 60 + sec - off;
	return 0;
}

int timefmt_parse(const char *s, long tz_offset, int64_t *out)
{
	size_t len;

	if (!s || !*s || tz_offset < -OFFSET_MAX || tz_offset > OFFSET_MAX)
		return -EINVAL;
	len = strspn(s, "0123456789");
	if (!s[len])
		return parse_epoch(s, len, out);
	return parse_date(s, tz_offset, out);
}

/* Splits t into a civil date and seconds of the day, checking that the
 * year has four digits. */
static int split(int64_t t, struct civil *c, int *sod)
{
	int64_t days, rem;

	/* Beyond +-2^50 the day arithmetic could overflow; no 4-digit year
	 * lies out there anyway. */
	if (t > (INT64_C(1) << 50) || t < -(INT64_C(1) << 50))
		return -EOVERFLOW;
	days = t / SECS_PER_DAY;
	rem = t % SECS_PER_DAY;
	if (rem < 0) {
		rem += SECS_PER_DAY;
		days--;
	}
	*c = civil_from_days(days);
	*sod = (int)rem;
	return c->year < 0 || c->year > YEAR_MAX ? -EOVERFLOW : 0;
}

/* Writes v (>= 0) as width digits at p; returns the end. */
static char *put_digits(char *p, int v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

/* Formats t shifted by off as date, sep, time, then suffix. By hand, not
 * with snprintf: every tag file's bytes are formatted so, and a scan has
 * a million of them stored (prestore.h). */
static int format(int64_t t, long off, char sep, const char *suffix, char *out, size_t n)
{
	struct civil c;
	size_t sl = strlen(suffix);
	int sod, err;
	char *p = out;

	err = split(t, &c, &sod);
	if (!err && off)
		err = split(t + off, &c, &sod); /* t is bounded now: no overflow */
	if (err)
		return err;
	if (19 + sl >= n)
		return -EOVERFLOW;
	p = put_digits(p, (int)c.year, 4); /* 0 to YEAR_MAX: split says */
	*p++ = '-';
	p = put_digits(p, c.month, 2);
	*p++ = '-';
	p = put_digits(p, c.day, 2);
	*p++ = sep;
	p = put_digits(p, sod / 3600, 2);
	*p++ = ':';
	p = put_digits(p, sod / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, sod % 60, 2);
	memcpy(p, suffix, sl + 1);
	return 0;
}

int timefmt_rfc3339(int64_t t, char *out, size_t n)
{
	if (!out || n < TIMEFMT_RFC3339_LEN + 1)
		return -EOVERFLOW;
	return format(t, 0, 'T', "Z", out, n);
}

int timefmt_plain(int64_t t, long tz_offset, char *out, size_t n)
{
	if (!out || n < TIMEFMT_RFC3339_LEN || tz_offset < -OFFSET_MAX || tz_offset > OFFSET_MAX)
		return -EOVERFLOW;
	return format(t, tz_offset, ' ', "", out, n);
}
