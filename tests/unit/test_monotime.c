/* test_monotime.c — the clock arithmetic: monotime_ms follows
 * CLOCK_MONOTONIC and never goes back; monotime_after is ms ahead of its
 * clock's now, normalised (tv_nsec below one second), now for ms <= 0,
 * and free of overflow for the largest ms. The real clocks are read here
 * (this module is what wraps them), so every check brackets the call
 * between two readings of the same clock instead of timing anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "monotime.h"

#define NS 1000000000LL

static int64_t ms_of(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* a - (b + whole seconds) in nanoseconds: a and b + secs are within a
 * few seconds of each other, so nothing overflows even for the largest
 * secs. */
static int64_t ns_past(const struct timespec *a, const struct timespec *b, int64_t secs)
{
	return ((int64_t)a->tv_sec - (int64_t)b->tv_sec - secs) * NS + ((int64_t)a->tv_nsec - (int64_t)b->tv_nsec);
}

static void test_ms_follows_the_monotonic_clock(void **state)
{
	(void)state;
	for (int i = 0; i < 100; i++) {
		int64_t before = ms_of(CLOCK_MONOTONIC);
		int64_t got = monotime_ms();
		int64_t after = ms_of(CLOCK_MONOTONIC);

		assert_true(before <= got);
		assert_true(got <= after);
	}
}

static void test_ms_never_goes_back(void **state)
{
	int64_t last = monotime_ms();

	(void)state;
	for (int i = 0; i < 20000; i++) {
		int64_t now = monotime_ms();

		assert_true(now >= last);
		last = now;
	}
}

/* monotime_after(clk, ms) lies between (clk's now before the call) + ms
 * and (clk's now after it) + ms, and is normalised. The whole seconds of
 * ms are compared as seconds, so the largest ms overflows nothing here. */
static void check_after(clockid_t clk, int64_t ms)
{
	struct timespec t0, t1, got;
	int64_t secs = ms > 0 ? ms / 1000 : 0, rest = ms > 0 ? ms % 1000 * 1000000 : 0;

	clock_gettime(clk, &t0);
	got = monotime_after(clk, ms);
	clock_gettime(clk, &t1);
	assert_true(got.tv_nsec >= 0);
	assert_true(got.tv_nsec < NS);
	assert_true(ns_past(&got, &t0, secs) >= rest);
	assert_true(ns_past(&got, &t1, secs) <= rest);
}

static void test_after_is_ms_ahead(void **state)
{
	/* 999 and 1001 carry into the seconds for almost every now; 1999,
	 * 2500 and a minute carry at other points of the second. */
	static const int64_t ms[] = {1, 10, 500, 999, 1000, 1001, 1999, 2500, 60000, 86400000};
	static const clockid_t clk[] = {CLOCK_MONOTONIC, CLOCK_REALTIME};

	(void)state;
	for (size_t c = 0; c < 2; c++)
		for (int round = 0; round < 50; round++)
			for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
				check_after(clk[c], ms[i]);
}

static void test_after_nothing_is_now(void **state)
{
	static const int64_t ms[] = {0, -1, -1000, INT64_MIN};

	(void)state;
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		check_after(CLOCK_MONOTONIC, ms[i]);
		check_after(CLOCK_REALTIME, ms[i]);
	}
}

/* The largest ms: its seconds part is added as seconds, never through
 * nanoseconds, so nothing overflows (UBSan would say) and the result is
 * still exactly ms ahead. */
static void test_after_large(void **state)
{
	static const int64_t ms[] = {INT64_MAX / 1000000, INT64_MAX / 2, INT64_MAX - 1, INT64_MAX};

	(void)state;
	for (int round = 0; round < 20; round++)
		for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
			check_after(CLOCK_MONOTONIC, ms[i]);
			check_after(CLOCK_REALTIME, ms[i]);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ms_follows_the_monotonic_clock),
	    cmocka_unit_test(test_ms_never_goes_back),
	    cmocka_unit_test(test_after_is_ms_ahead),
	    cmocka_unit_test(test_after_nothing_is_now),
	    cmocka_unit_test(test_after_large),
	};
	return cmocka_run_group_tests_name("monotime", tests, NULL, NULL);
}
