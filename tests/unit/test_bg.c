/* test_bg.c — the background queue: jobs run on the workers, a full queue
 * refuses, stop drops what is queued and joins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "bg.h"

struct counter {
	atomic_int runs;
	atomic_int sum;
	sem_t gate;
	bool gated;
};

static void job(void *arg, const char *key)
{
	struct counter *c = arg;

	if (c->gated)
		sem_wait(&c->gate);
	atomic_fetch_add(&c->sum, (int)strlen(key));
	atomic_fetch_add(&c->runs, 1);
}

static void test_runs_jobs(void **state)
{
	struct counter c = {0};
	struct bg *b = bg_new(3, 64);

	(void)state;
	assert_int_equal(bg_push(b, job, &c, "x"), -EAGAIN); /* not started */
	assert_int_equal(bg_start(b), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(bg_push(b, job, &c, "abc"), 0);
	for (int i = 0; i < 500 && atomic_load(&c.runs) < 50; i++)
		usleep(2000);
	assert_int_equal(atomic_load(&c.runs), 50);
	assert_int_equal(atomic_load(&c.sum), 150);
	assert_int_equal(bg_done(b), 50);
	bg_free(b);
}

static void test_full_and_stop(void **state)
{
	struct counter c = {.gated = true};
	struct bg *b = bg_new(1, 4);
	int refused = 0;

	(void)state;
	sem_init(&c.gate, 0, 0);
	assert_int_equal(bg_start(b), 0);
	for (int i = 0; i < 10; i++)
		refused += bg_push(b, job, &c, "k") == -EAGAIN;
	/* One job may be running (blocked), 4 queued: the rest refused. */
	assert_true(refused >= 5 && refused <= 6);
	sem_post(&c.gate); /* let the running one finish; stop drops the rest */
	for (int i = 0; i < 10; i++)
		sem_post(&c.gate);
	bg_stop(b);
	assert_true(atomic_load(&c.runs) <= 5);
	assert_int_equal(bg_push(b, job, &c, "k"), -EAGAIN); /* stopped */
	bg_free(b);
	sem_destroy(&c.gate);
	bg_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_jobs),
		cmocka_unit_test(test_full_and_stop),
	};
	return cmocka_run_group_tests_name("bg", tests, NULL, NULL);
}
