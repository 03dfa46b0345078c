/* test_timefmt.c — time parsing and formatting, independent of TZ. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"

#define T_2026 INT64_C(1795745700) /* 2026-11-27T02:15:00Z */
#define CST (8 * 3600L)		   /* the vendor's UTC+8 */

static int64_t parse_ok(const char *s, long tz)
{
	int64_t t = -12345;

	assert_int_equal(timefmt_parse(s, tz, &t), 0);
	return t;
}

static void parse_bad(const char *s, long tz)
{
	int64_t t = -12345;

	assert_int_equal(timefmt_parse(s, tz, &t), -EINVAL);
	assert_true(t == -12345); /* untouched on error */
}

static void test_epoch(void **state)
{
	char out[32];

	(void)state;
	assert_true(parse_ok("0", CST) == 0);
	assert_true(parse_ok("1970-01-01T00:00:00Z", CST) == 0);
	assert_true(parse_ok("1970-01-01 08:00:00", CST) == 0);
	assert_int_equal(timefmt_rfc3339(0, out, sizeof(out)), 0);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	assert_int_equal(timefmt_plain(0, CST, out, sizeof(out)), 0);
	assert_string_equal(out, "1970-01-01 08:00:00");
}

static void test_both_ways(void **state)
{
	char out[TIMEFMT_RFC3339_LEN + 1];

	(void)state;
	assert_true(parse_ok("2026-11-27T02:15:00Z", 0) == T_2026);
	assert_true(parse_ok("1795745700", CST) == T_2026);
	assert_int_equal(timefmt_rfc3339(T_2026, out, sizeof(out)), 0);
	assert_string_equal(out, "2026-11-27T02:15:00Z");
	assert_true(parse_ok(out, CST) == T_2026);
	assert_int_equal(timefmt_plain(T_2026, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "2026-11-27 02:15:00");
	assert_int_equal(timefmt_plain(T_2026, -5 * 3600L, out, sizeof(out)), 0);
	assert_string_equal(out, "2026-11-26 21:15:00");
}

static void test_vendor_zone(void **state)
{
	char out[32];

	(void)state;
	assert_true(parse_ok("2026-11-27 10:15:00", CST) == T_2026);
	assert_true(parse_ok("2026-11-27 02:15:00", 0) == T_2026);
	/* An explicit zone wins over the default. */
	assert_true(parse_ok("2026-11-27 02:15:00Z", CST) == T_2026);
	assert_int_equal(timefmt_plain(T_2026, CST, out, sizeof(out)), 0);
	assert_string_equal(out, "2026-11-27 10:15:00");
	/* Crossing midnight backwards. */
	assert_true(parse_ok("2026-11-27 02:15:00", CST) == T_2026 - CST);
}

static void test_rfc3339_forms(void **state)
{
	(void)state;
	assert_true(parse_ok("2026-11-27T02:15:00.123Z", CST) == T_2026);
	assert_true(parse_ok("2026-11-27T02:15:00.999999999Z", CST) == T_2026);
	assert_true(parse_ok("2026-11-27t02:15:00z", CST) == T_2026);
	assert_true(parse_ok("2026-11-27T10:15:00+08:00", 0) == T_2026);
	assert_true(parse_ok("2026-11-27T10:15:00.5+08:00", 0) == T_2026);
	assert_true(parse_ok("2026-11-26T21:15:00-05:00", 0) == T_2026);
	assert_true(parse_ok("2026-11-26T20:45:00-05:30", 0) == T_2026);
	assert_true(parse_ok("2026-11-27T10:15:00+0800", 0) == T_2026);
	assert_true(parse_ok("2026-11-27T02:15:00+00:00", CST) == T_2026);
	assert_true(parse_ok("2026-11-27T02:15:00-00:00", CST) == T_2026);
	/* Leap second: the next minute's :00. */
	assert_true(parse_ok("2026-11-27T02:14:60Z", 0) == T_2026);
	parse_bad("2026-11-27T02:15:00.Z", 0);
	parse_bad("2026-11-27T02:15:00+24:00", 0);
	parse_bad("2026-11-27T02:15:00+08:60", 0);
	parse_bad("2026-11-27T02:15:00+8:00", 0);
	parse_bad("2026-11-27T02:15:00+08:0", 0);
	parse_bad("2026-11-27T02:15:00ZZ", 0);
	parse_bad("2026-11-27T02:15Z", 0);
	parse_bad("2026-11-27", 0);
}

static void test_millis(void **state)
{
	(void)state;
	assert_true(parse_ok("1795745700123", CST) == T_2026);
	assert_true(parse_ok("1795745700999", CST) == T_2026);
	assert_true(parse_ok("0000000000000", CST) == 0);
	assert_true(parse_ok("253402300799", CST) == INT64_C(253402300799));
	parse_bad("253402300800", CST);		   /* year 10000 */
	parse_bad("17957457001234", CST);	   /* 14 digits */
	parse_bad("99999999999999999999999", CST); /* would overflow */
}

static void test_junk(void **state)
{
	(void)state;
	parse_bad("", CST);
	parse_bad("-5", CST);
	parse_bad("+5", CST);
	parse_bad(" 1795745700", CST);
	parse_bad("1795745700 ", CST);
	parse_bad("1795745700x", CST);
	parse_bad("2026-13-01 00:00:00", CST);
	parse_bad("2026-00-01 00:00:00", CST);
	parse_bad("2026-02-30 00:00:00", CST);
	parse_bad("2026-04-31 00:00:00", CST);
	parse_bad("2026-01-00 00:00:00", CST);
	parse_bad("2026-11-27 24:00:00", CST);
	parse_bad("2026-11-27 23:60:00", CST);
	parse_bad("2026-11-27 23:00:61", CST);
	parse_bad("2026-11-27 10:15:00 extra", CST);
	parse_bad("2026-11-27 10:15:00 ", CST);
	parse_bad("2026-11-27X10:15:00", CST);
	parse_bad("2026/11/27 10:15:00", CST);
	parse_bad("26-11-27 10:15:00", CST);
	parse_bad("1969-12-31T23:59:59Z", CST);
	parse_bad("CTydYXMK", CST);
	parse_bad("2026-11-27 1:15:00", CST);
	assert_int_equal(timefmt_parse(NULL, 0, &(int64_t){0}), -EINVAL);
	/* An absurd default zone is refused, not applied. */
	assert_int_equal(timefmt_parse("2026-11-27 10:15:00", 100000, &(int64_t){0}), -EINVAL);
}

static void test_leap_years(void **state)
{
	(void)state;
	assert_true(parse_ok("2024-02-29 00:00:00", 0) == INT64_C(1709164800));
	parse_bad("2023-02-29 00:00:00", 0);
	parse_bad("1900-02-29 00:00:00", 0); /* also before 1970 */
	parse_bad("2100-02-29 00:00:00", 0);
	assert_true(parse_ok("2000-02-29 00:00:00", 0) == INT64_C(951868800) - 86400);
	assert_true(parse_ok("2000-03-01T00:00:00Z", 0) == INT64_C(951868800));
	assert_true(parse_ok("9999-12-31T23:59:59Z", 0) == INT64_C(253402300799));
}

/* Every day 1970..2100 formats and parses back to itself, which checks
 * the day arithmetic against itself and gmtime_r at once. */
static void test_roundtrip_vs_gmtime(void **state)
{
	char out[32], ref[32];

	(void)state;
	for (int64_t t = 0; t < INT64_C(4102444800); t += 86400 + 3607) {
		time_t tt = (time_t)t;
		struct tm tm;

		assert_int_equal(timefmt_rfc3339(t, out, sizeof(out)), 0);
		assert_non_null(gmtime_r(&tt, &tm));
		strftime(ref, sizeof(ref), "%Y-%m-%dT%H:%M:%SZ", &tm);
		assert_string_equal(out, ref);
		assert_true(parse_ok(out, CST) == t);
	}
}

static void test_format_limits(void **state)
{
	char out[TIMEFMT_RFC3339_LEN + 1];

	(void)state;
	assert_int_equal(timefmt_rfc3339(T_2026, out, TIMEFMT_RFC3339_LEN), -EOVERFLOW);
	assert_int_equal(timefmt_plain(T_2026, 0, out, 19), -EOVERFLOW);
	assert_int_equal(timefmt_plain(T_2026, 0, out, 20), 0);
	assert_int_equal(timefmt_rfc3339(INT64_C(253402300800), out, sizeof(out)), -EOVERFLOW);
	assert_int_equal(timefmt_rfc3339(INT64_MAX, out, sizeof(out)), -EOVERFLOW);
	assert_int_equal(timefmt_rfc3339(INT64_MIN, out, sizeof(out)), -EOVERFLOW);
	assert_int_equal(timefmt_plain(INT64_MAX, CST, out, sizeof(out)), -EOVERFLOW);
	assert_int_equal(timefmt_plain(INT64_C(253402300799), CST, out, sizeof(out)), -EOVERFLOW);
	assert_int_equal(timefmt_rfc3339(-1, out, sizeof(out)), 0);
	assert_string_equal(out, "1969-12-31T23:59:59Z");
}

static void test_zone(void **state)
{
	long z = 1;

	(void)state;
	assert_int_equal(timefmt_parse_zone("+08:00", &z), 0);
	assert_int_equal(z, 28800);
	assert_int_equal(timefmt_parse_zone("+0800", &z), 0);
	assert_int_equal(z, 28800);
	assert_int_equal(timefmt_parse_zone("+08", &z), 0);
	assert_int_equal(z, 28800);
	assert_int_equal(timefmt_parse_zone("-05:30", &z), 0);
	assert_int_equal(z, -19800);
	assert_int_equal(timefmt_parse_zone("+05:45", &z), 0);
	assert_int_equal(z, 20700);
	z = 1;
	assert_int_equal(timefmt_parse_zone("Z", &z), 0);
	assert_int_equal(z, 0);
	z = 1;
	assert_int_equal(timefmt_parse_zone("UTC", &z), 0);
	assert_int_equal(z, 0);
	z = 1;
	assert_int_equal(timefmt_parse_zone("utc", &z), 0);
	assert_int_equal(z, 0);
	z = 7;
	assert_int_equal(timefmt_parse_zone("", &z), -EINVAL);
	assert_int_equal(timefmt_parse_zone("8", &z), -EINVAL);
	assert_int_equal(timefmt_parse_zone("+8:00", &z), -EINVAL);
	assert_int_equal(timefmt_parse_zone("+08:00 ", &z), -EINVAL);
	assert_int_equal(timefmt_parse_zone("+24:00", &z), -EINVAL);
	assert_int_equal(timefmt_parse_zone("+08:75", &z), -EINVAL);
	assert_int_equal(timefmt_parse_zone("Asia/Shanghai", &z), -EINVAL);
	assert_int_equal(timefmt_parse_zone("UTC+8", &z), -EINVAL);
	assert_int_equal(timefmt_parse_zone(NULL, &z), -EINVAL);
	assert_int_equal(z, 7);
}

/* The process zone must not matter. */
static void test_tz_independent(void **state)
{
	(void)state;
	setenv("TZ", "America/St_Johns", 1);
	tzset();
	assert_true(parse_ok("2026-11-27 10:15:00", CST) == T_2026);
	assert_true(parse_ok("2026-07-01T00:00:00Z", 0) == INT64_C(1782864000));
	unsetenv("TZ");
	tzset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_epoch),	   cmocka_unit_test(test_both_ways),
	    cmocka_unit_test(test_vendor_zone),	   cmocka_unit_test(test_rfc3339_forms),
	    cmocka_unit_test(test_millis),	   cmocka_unit_test(test_junk),
	    cmocka_unit_test(test_leap_years),	   cmocka_unit_test(test_roundtrip_vs_gmtime),
	    cmocka_unit_test(test_format_limits),  cmocka_unit_test(test_zone),
	    cmocka_unit_test(test_tz_independent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
