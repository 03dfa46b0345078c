/* test_fresh.c — the freshness policy on a fake clock: expiry from the
 * born time, kernel timeouts that end at the refresh-ahead point and
 * never past expiry, the stale retry interval, a repository's own ttl. */
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
	int64_t born = 1000, until = fresh_expiry(f, NULL, born);

	(void)state;
	assert_int_equal(until, 61000);
	fake_now = born;
	/* Before the last quarter: the kernel asks again when it begins. */
	assert_true(fresh_kernel_timeout(f, NULL, until) == 45.0);
	fake_now = born + 40000;
	assert_true(fresh_kernel_timeout(f, NULL, until) == 5.0);
	/* In the last quarter: until the listing runs out, no later. */
	fake_now = born + 50000;
	assert_true(fresh_kernel_timeout(f, NULL, until) == 10.0);
	fake_now = born + 60000;
	assert_true(fresh_kernel_timeout(f, NULL, until) == 0.0);
	fake_now = born + 90000; /* a stale listing: the kernel keeps nothing */
	assert_true(fresh_kernel_timeout(f, NULL, until) == 0.0);
	/* Never above ttl, whatever it is asked. */
	fake_now = 0;
	assert_true(fresh_kernel_timeout(f, NULL, INT64_MAX / 2) <= 60.0);
	fresh_free(f);
}

static void test_short_ttl_has_no_ahead(void **state)
{
	struct fresh *f = make(2000);

	(void)state;
	assert_int_equal(fresh_ahead_ms(f, NULL), 0);
	fake_now = 0;
	assert_true(fresh_kernel_timeout(f, NULL, fresh_expiry(f, NULL, 0)) == 2.0);
	assert_int_equal(fresh_stale_retry_ms(f), 1000);
	fresh_free(f);
	f = make(86400000);
	assert_int_equal(fresh_stale_retry_ms(f), 30000);
	assert_int_equal(fresh_ahead_ms(f, NULL), 86400000 / 4);
	fresh_free(f);
}

static void test_zero_ttl(void **state)
{
	struct fresh *f = make(0);

	(void)state;
	fake_now = 5;
	assert_true(fresh_kernel_timeout(f, NULL, fresh_expiry(f, NULL, 5)) == 0.0);
	fresh_free(f);
	fresh_free(NULL);
}

/* "No such name" is never older than ttl either: negative_ttl 5 s with
 * ttl 3 s lives 3 s. */
static void test_negative_within_ttl(void **state)
{
	struct fresh *f = make(3000);

	(void)state;
	assert_int_equal(fresh_neg_ttl_ms(f, NULL), 3000);
	fresh_free(f);
	f = make(60000);
	assert_int_equal(fresh_neg_ttl_ms(f, NULL), 5000);
	fresh_free(f);
}

/* ttl.ci=2 with ttl=600: every listing of ci (its images, an image's
 * tags, one tag) lives 2 s, with neg_ttl, refresh-ahead and the kernel's
 * cap to match; other repositories and the repositories' listing live by
 * the default. */
static void test_repository_ttl(void **state)
{
	const struct fresh_repo_ttl own[] = {{"ci", 2000}, {"cold", 86400000}};
	struct fresh_config c = {
	    .ttl_ms = 600000, .neg_ttl_ms = 5000, .repo_ttls = own, .n_repo_ttls = 2, .clock = fake_clock};
	const char *ci[] = {"I2:ci", "T2:ciapp", "t2:ci3:applatest"};
	struct fresh *f = fresh_new(&c);

	(void)state;
	assert_non_null(f);
	for (size_t i = 0; i < sizeof(ci) / sizeof(ci[0]); i++) {
		assert_int_equal(fresh_ttl_ms(f, ci[i]), 2000);
		assert_int_equal(fresh_expiry(f, ci[i], 100), 2100);
		assert_int_equal(fresh_neg_ttl_ms(f, ci[i]), 2000);
		assert_int_equal(fresh_ahead_ms(f, ci[i]), 0);
		fake_now = 100;
		assert_true(fresh_kernel_timeout(f, ci[i], fresh_expiry(f, ci[i], 100)) == 2.0);
		/* Told of something a longer listing vouches for: still ci's. */
		assert_true(fresh_kernel_timeout(f, ci[i], 100 + 600000) == 2.0);
	}
	/* A prefix or extension of "ci" is another repository. */
	assert_int_equal(fresh_ttl_ms(f, "I3:cix"), 600000);
	assert_int_equal(fresh_ttl_ms(f, "I1:c"), 600000);
	assert_int_equal(fresh_ttl_ms(f, "R"), 600000);
	assert_int_equal(fresh_ttl_ms(f, NULL), 600000);
	assert_int_equal(fresh_ttl_ms(f, "garbage"), 600000);
	assert_int_equal(fresh_neg_ttl_ms(f, "I3:web"), 5000);
	assert_int_equal(fresh_ahead_ms(f, "T4:coldx"), 86400000 / 4);
	assert_int_equal(fresh_max_ttl_ms(f), 86400000);
	/* The stale retry stays the default ttl's. */
	assert_int_equal(fresh_stale_retry_ms(f), 30000);
	fresh_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timeouts_follow_the_listing),
	    cmocka_unit_test(test_short_ttl_has_no_ahead),
	    cmocka_unit_test(test_zero_ttl),
	    cmocka_unit_test(test_negative_within_ttl),
	    cmocka_unit_test(test_repository_ttl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
