/* test_qbudget.c — the point-query budget of listings (qbudget.c): a
 * listing's missing names may cost QBUDGET_MISSES queries that found
 * nothing in a window, then the listing is fetched (once its fetch is
 * reported, its answer stands) until the window ends; queries that found
 * something cost nothing; windows are the ttl (at least 1 ms) on the
 * caller's clock, fixed from a slot's first use; listings have budgets of
 * their own unless they share a slot of the fixed table, and then share
 * one, and the table is used whole; misses counted from threads at once
 * are all counted. Time is the caller's (milliseconds), so nothing here
 * sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>

#include "qbudget.h"

#define TTL 60000
#define T0 1000000
#define KEY "tags:web/api"
#define CANDIDATES 100000 /* keys tried when a test looks for one */

static struct qbudget *make(int64_t window_ms)
{
	struct qbudget *q = qbudget_new(window_ms);

	assert_non_null(q);
	return q;
}

static void miss(struct qbudget *q, const char *key, int64_t now, int n)
{
	for (int i = 0; i < n; i++)
		qbudget_missed(q, key, now);
}

static void candidate(char *out, size_t n, int i)
{
	snprintf(out, n, "tags:web/img%d", i);
}

/* The budget, then the listing, then its answer. */
static void test_misses_then_listing_then_none(void **state)
{
	struct qbudget *q = make(TTL);

	(void)state;
	for (int i = 0; i < QBUDGET_MISSES; i++) {
		assert_int_equal(qbudget_ask(q, KEY, T0 + i), QBUDGET_QUERY);
		qbudget_missed(q, KEY, T0 + i);
	}
	assert_int_equal(qbudget_ask(q, KEY, T0 + 10), QBUDGET_LIST);
	/* Until the fetch is reported (it may have failed), the listing is
	 * what to do. */
	assert_int_equal(qbudget_ask(q, KEY, T0 + 11), QBUDGET_LIST);
	qbudget_listed(q, KEY, T0 + 12);
	assert_int_equal(qbudget_ask(q, KEY, T0 + 13), QBUDGET_NONE);
	assert_int_equal(qbudget_ask(q, KEY, T0 + TTL - 1), QBUDGET_NONE);
	qbudget_free(q);
}

/* Only queries that found nothing are counted. */
static void test_found_names_cost_nothing(void **state)
{
	struct qbudget *q = make(TTL);

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(qbudget_ask(q, KEY, T0 + i), QBUDGET_QUERY);
	miss(q, KEY, T0 + 1000, QBUDGET_MISSES - 1);
	assert_int_equal(qbudget_ask(q, KEY, T0 + 1001), QBUDGET_QUERY);
	qbudget_free(q);
}

/* A window is the ttl from the slot's first use (an ask opens it too),
 * not from each miss: at its end the count starts again at zero. */
static void test_window_is_the_ttl(void **state)
{
	struct qbudget *q = make(TTL);

	(void)state;
	assert_int_equal(qbudget_ask(q, KEY, T0), QBUDGET_QUERY);
	miss(q, KEY, T0 + TTL / 2, QBUDGET_MISSES);
	qbudget_listed(q, KEY, T0 + TTL / 2);
	assert_int_equal(qbudget_ask(q, KEY, T0 + TTL - 1), QBUDGET_NONE);
	assert_int_equal(qbudget_ask(q, KEY, T0 + TTL), QBUDGET_QUERY);
	/* The new window's own budget, whole; and the fetch reported in the
	 * old one does not stand in it. */
	miss(q, KEY, T0 + TTL, QBUDGET_MISSES - 1);
	assert_int_equal(qbudget_ask(q, KEY, T0 + TTL + 1), QBUDGET_QUERY);
	qbudget_missed(q, KEY, T0 + TTL + 1);
	assert_int_equal(qbudget_ask(q, KEY, T0 + TTL + 2), QBUDGET_LIST);
	qbudget_free(q);
}

/* Misses of a window that is over are not carried into the next. */
static void test_old_misses_are_forgotten(void **state)
{
	struct qbudget *q = make(TTL);

	(void)state;
	miss(q, KEY, T0, QBUDGET_MISSES - 1);
	qbudget_missed(q, KEY, T0 + TTL); /* a new window: one miss in it */
	assert_int_equal(qbudget_ask(q, KEY, T0 + TTL), QBUDGET_QUERY);
	qbudget_free(q);
}

/* window_ms below 1 is 1 ms. */
static void test_window_at_least_1ms(void **state)
{
	const int64_t windows[] = {0, -5};

	(void)state;
	for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		struct qbudget *q = make(windows[i]);

		miss(q, KEY, T0, QBUDGET_MISSES);
		assert_int_equal(qbudget_ask(q, KEY, T0), QBUDGET_LIST);
		assert_int_equal(qbudget_ask(q, KEY, T0 + 1), QBUDGET_QUERY);
		qbudget_free(q);
	}
	qbudget_free(NULL);
}

/* A key whose ask at now says want (the budget of KEY spent); the test
 * fails when none of CANDIDATES does. */
static void find_key(struct qbudget *q, int64_t now, enum qbudget_say want, char *out, size_t n)
{
	for (int i = 0; i < CANDIDATES; i++) {
		candidate(out, n, i);
		if (qbudget_ask(q, out, now) == want)
			return;
	}
	fail_msg("no key among %d says %d", CANDIDATES, (int)want);
}

/* Another listing's misses and fetch leave a listing's budget alone. */
static void test_listings_have_budgets_of_their_own(void **state)
{
	struct qbudget *q = make(TTL);
	char other[64];

	(void)state;
	miss(q, KEY, T0, QBUDGET_MISSES);
	find_key(q, T0, QBUDGET_QUERY, other, sizeof(other));
	miss(q, other, T0, QBUDGET_MISSES - 1);
	assert_int_equal(qbudget_ask(q, other, T0), QBUDGET_QUERY);
	assert_int_equal(qbudget_ask(q, KEY, T0), QBUDGET_LIST);
	qbudget_listed(q, KEY, T0);
	assert_int_equal(qbudget_ask(q, other, T0), QBUDGET_QUERY);
	qbudget_missed(q, other, T0);
	assert_int_equal(qbudget_ask(q, other, T0), QBUDGET_LIST); /* not NONE: its own fetch is due */
	assert_int_equal(qbudget_ask(q, KEY, T0), QBUDGET_NONE);
	qbudget_free(q);
}

/* The table is fixed: among many listings some share a slot, and those
 * share one budget and one fetch. */
static void test_a_shared_slot_shares_the_budget(void **state)
{
	struct qbudget *q = make(TTL);
	char other[64];

	(void)state;
	miss(q, KEY, T0, QBUDGET_MISSES);
	find_key(q, T0, QBUDGET_LIST, other, sizeof(other));
	qbudget_listed(q, other, T0);
	assert_int_equal(qbudget_ask(q, KEY, T0), QBUDGET_NONE);
	assert_int_equal(qbudget_ask(q, other, T0), QBUDGET_NONE);
	/* The shared window ends for both. */
	assert_int_equal(qbudget_ask(q, KEY, T0 + TTL), QBUDGET_QUERY);
	assert_int_equal(qbudget_ask(q, other, T0 + TTL), QBUDGET_QUERY);
	qbudget_free(q);
}

#define SPREAD_KEYS 4096

/* Listings spread over the whole table, and it does not grow: of
 * SPREAD_KEYS listings, each asked for before its own misses are counted,
 * those that find their budget spent by another share its slot. A table
 * of 256 slots gives about 256 budgets of their own; half of it unused
 * (every key hashed to an odd slot) gives 128 at most. */
static void test_table_is_used_whole(void **state)
{
	struct qbudget *q = make(TTL);
	unsigned own = 0;
	char key[64];

	(void)state;
	for (int i = 0; i < SPREAD_KEYS; i++) {
		candidate(key, sizeof(key), i);
		if (qbudget_ask(q, key, T0) != QBUDGET_QUERY)
			continue;
		own++;
		miss(q, key, T0, QBUDGET_MISSES);
	}
	assert_true(own > 200);
	assert_true(own < SPREAD_KEYS / 8);
	qbudget_free(q);
}

#define THREADS 4
#define ROUNDS 2000

struct racer {
	struct qbudget *q;
	pthread_barrier_t *go;
	int id;
	int lost; /* thread 0's: rounds whose listing was not due */
};

/* Each round (a window of its own), every thread counts one miss of that
 * round's listing at the same moment, and one of a listing of its own;
 * then thread 0 asks for the round's listing while the others wait. */
static void *race(void *arg)
{
	struct racer *r = arg;
	char key[64], own[64];

	for (int i = 0; i < ROUNDS; i++) {
		int64_t now = T0 + (int64_t)i * TTL;

		candidate(key, sizeof(key), i);
		snprintf(own, sizeof(own), "own:%d:%d", r->id, i);
		pthread_barrier_wait(r->go);
		qbudget_missed(r->q, key, now);
		(void)qbudget_ask(r->q, own, now);
		qbudget_missed(r->q, own, now);
		pthread_barrier_wait(r->go);
		if (r->id == 0 && qbudget_ask(r->q, key, now) != QBUDGET_LIST)
			r->lost++;
	}
	return NULL;
}

/* Misses counted from threads at once are all counted: THREADS of them
 * (as many as the budget) leave each round's listing to be fetched. Under
 * ThreadSanitizer (make SANITIZE=thread) a missing lock is reported too. */
static void test_concurrent_misses_all_count(void **state)
{
	struct qbudget *q = make(TTL);
	struct racer r[THREADS];
	pthread_t th[THREADS];
	pthread_barrier_t go;

	(void)state;
	assert_int_equal(THREADS, QBUDGET_MISSES);
	pthread_barrier_init(&go, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct racer){.q = q, .go = &go, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	assert_int_equal(r[0].lost, 0);
	qbudget_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_misses_then_listing_then_none),
	    cmocka_unit_test(test_found_names_cost_nothing),
	    cmocka_unit_test(test_window_is_the_ttl),
	    cmocka_unit_test(test_old_misses_are_forgotten),
	    cmocka_unit_test(test_window_at_least_1ms),
	    cmocka_unit_test(test_listings_have_budgets_of_their_own),
	    cmocka_unit_test(test_a_shared_slot_shares_the_budget),
	    cmocka_unit_test(test_table_is_used_whole),
	    cmocka_unit_test(test_concurrent_misses_all_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
