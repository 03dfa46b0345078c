/* test_watchdog.c — deadlines: a request not answered in time is answered
 * by the watchdog exactly once and the handler's claim fails; one answered
 * in time is never touched; ticks and kicks run the tick function.
 *
 * The watchdog runs on the monotonic clock. What must happen is waited
 * for (a counter), up to WAIT_MS; what must not happen is given a while
 * to happen, which can only make a broken watchdog pass, never a working
 * one fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <time.h>

#include "monotime.h"
#include "watchdog.h"

#define WAIT_MS 30000

struct seen {
	atomic_int expired, ticks;
	struct fuse_req *last;
};

static struct seen *seen_of(void)
{
	static struct seen s; /* the expire seam has no argument */

	return &s;
}

static void on_expire(struct fuse_req *req)
{
	seen_of()->last = req;
	atomic_fetch_add(&seen_of()->expired, 1);
}

static void on_tick(void *arg)
{
	atomic_fetch_add(&((struct seen *)arg)->ticks, 1);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Until *n reaches want, for WAIT_MS at most; whether it did. */
static bool wait_count(atomic_int *n, int want)
{
	int64_t t0 = monotime_ms();

	while (atomic_load(n) < want && monotime_ms() - t0 < WAIT_MS)
		sleep_ms(2);
	return atomic_load(n) >= want;
}

static void test_late_request_answered_once(void **state)
{
	struct seen *s = seen_of();
	struct watchdog *w = watchdog_new(100, 1000, on_tick, s, on_expire);
	struct watch_op slow, quick;
	struct fuse_req *a = (struct fuse_req *)0x1000, *b = (struct fuse_req *)0x2000;
	int64_t t0;

	(void)state;
	atomic_store(&s->expired, 0);
	assert_non_null(w);
	assert_int_equal(watchdog_start(w), 0);
	t0 = monotime_ms();
	watchdog_begin(w, &slow, a);
	watchdog_begin(w, &quick, b);
	assert_true(watchdog_claim(w, &quick)); /* answered in time */
	watchdog_end(w, &quick);
	assert_true(wait_count(&s->expired, 1));
	assert_true(monotime_ms() - t0 >= 100); /* not before its deadline */
	assert_int_equal(atomic_load(&s->expired), 1);
	assert_ptr_equal(s->last, a);
	assert_false(watchdog_claim(w, &slow)); /* the handler must not reply */
	watchdog_end(w, &slow);
	assert_int_equal(watchdog_timeouts(w), 1);
	watchdog_free(w);
}

static void test_no_deadline(void **state)
{
	struct seen *s = seen_of();
	struct watchdog *w = watchdog_new(0, 1000, NULL, NULL, on_expire);
	struct watch_op op;

	(void)state;
	atomic_store(&s->expired, 0);
	assert_int_equal(watchdog_start(w), 0);
	watchdog_begin(w, &op, (struct fuse_req *)0x1);
	sleep_ms(150);
	assert_true(watchdog_claim(w, &op));
	watchdog_end(w, &op);
	assert_int_equal(atomic_load(&s->expired), 0);
	watchdog_free(w);
}

/* Ticks every tick_ms; none while stopped; again once started. */
static void test_ticks(void **state)
{
	struct seen t = {0};
	struct watchdog *w = watchdog_new(1000, 100, on_tick, &t, on_expire);
	int before;

	(void)state;
	assert_int_equal(watchdog_start(w), 0);
	assert_true(wait_count(&t.ticks, 2));
	watchdog_stop(w);
	before = atomic_load(&t.ticks);
	sleep_ms(250);
	assert_int_equal(atomic_load(&t.ticks), before); /* stopped */
	assert_int_equal(watchdog_start(w), 0);
	assert_true(wait_count(&t.ticks, before + 1));
	watchdog_free(w);
}

/* A kick runs the tick function now: with ticks a minute apart, the one
 * seen within WAIT_MS is the kick's. */
static void test_kick(void **state)
{
	struct seen t = {0};
	struct watchdog *w = watchdog_new(1000, 60000, on_tick, &t, on_expire);

	(void)state;
	assert_int_equal(watchdog_start(w), 0);
	assert_int_equal(atomic_load(&t.ticks), 0);
	watchdog_kick(w);
	assert_true(wait_count(&t.ticks, 1));
	watchdog_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_late_request_answered_once),
	    cmocka_unit_test(test_no_deadline),
	    cmocka_unit_test(test_ticks),
	    cmocka_unit_test(test_kick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
