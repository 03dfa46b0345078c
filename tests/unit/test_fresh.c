/* test_fresh.c — the freshness policy on a fake clock: expiry from the
 * born time, kernel timeouts that end at the refresh-ahead point and
 * never past expiry, the stale retry interval. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fresh.h"

static int64_t fake_now;

static int64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static struct fresh *make(int64_t ttl_ms)
{
	struct fresh_config c = {.ttl_ms = ttl_ms, .neg_ttl_ms = 5000, .max_stale_ms = 600000, .clock = fake_clock};
	struct fresh *f = fresh_new(&c);

	assert_non_null(f);
	return f;
}

static void test_timeouts_follow_the_listing(void **state)
{
	struct fresh *f = make(60000);
	int64_t born = 1000, until = fresh_expiry(f, born);

	(void)state;
	assert_int_equal(until, 61000);
	fake_now = born;
	/* Before the last quarter: the kernel asks again when it begins. */
	assert_true(fresh_kernel_timeout(f, until) == 45.0);
	fake_now = born + 40000;
	assert_true(fresh_kernel_timeout(f, until) == 5.0);
	/* In the last quarter: until the listing runs out, no later. */
	fake_now = born + 50000;
	assert_true(fresh_kernel_timeout(f, until) == 10.0);
	fake_now = born + 60000;
	assert_true(fresh_kernel_timeout(f, until) == 0.0);
	fake_now = born + 90000; /* a stale listing: the kernel keeps nothing */
	assert_true(fresh_kernel_timeout(f, until) == 0.0);
	/* Never above ttl, whatever it is asked. */
	fake_now = 0;
	assert_true(fresh_kernel_timeout(f, INT64_MAX / 2) <= 60.0);
	fresh_free(f);
}

static void test_short_ttl_has_no_ahead(void **state)
{
	struct fresh *f = make(2000);

	(void)state;
	assert_int_equal(fresh_ahead_ms(f), 0);
	fake_now = 0;
	assert_true(fresh_kernel_timeout(f, fresh_expiry(f, 0)) == 2.0);
	assert_int_equal(fresh_stale_retry_ms(f), 1000);
	fresh_free(f);
	f = make(86400000);
	assert_int_equal(fresh_stale_retry_ms(f), 30000);
	assert_int_equal(fresh_ahead_ms(f), 86400000 / 4);
	fresh_free(f);
}

static void test_zero_ttl(void **state)
{
	struct fresh *f = make(0);

	(void)state;
	fake_now = 5;
	assert_true(fresh_kernel_timeout(f, fresh_expiry(f, 5)) == 0.0);
	fresh_free(f);
	fresh_free(NULL);
}

/* "No such name" is never older than ttl either: negative_ttl 5 s with
 * ttl 3 s lives 3 s. */
static void test_negative_within_ttl(void **state)
{
	struct fresh *f = make(3000);

	(void)state;
	assert_int_equal(fresh_neg_ttl_ms(f), 3000);
	fresh_free(f);
	f = make(60000);
	assert_int_equal(fresh_neg_ttl_ms(f), 5000);
	fresh_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timeouts_follow_the_listing),
	    cmocka_unit_test(test_short_ttl_has_no_ahead),
	    cmocka_unit_test(test_zero_ttl),
	    cmocka_unit_test(test_negative_within_ttl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
