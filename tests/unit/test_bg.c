/* test_bg.c — the background queue: jobs run on the workers, a full queue
 * refuses, stop drops what is queued and joins; a job queued twice runs
 * once; urgent jobs run first and are not refused for prefetches (the
 * newest prefetch is dropped instead). Order and counts are read after a
 * last job has run on the one worker, never after a sleep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "bg.h"
#include "monotime.h"

#define WAIT_MS 30000 /* the longest wait for the workers */

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
	for (int i = 0; i < 50; i++) {
		char key[4] = {'k', (char)('0' + i / 10), (char)('0' + i % 10), '\0'}; /* distinct: not merged */

		assert_int_equal(bg_push(b, job, &c, key), 0);
	}
	/* A worker counts a job done after the job returned: wait for that
	 * count, not for the jobs' own (a busy machine shows the gap). */
	for (int64_t t0 = monotime_ms(); bg_done(b) < 50 && monotime_ms() - t0 < WAIT_MS;)
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
	for (int i = 0; i < 10; i++) {
		char key[3] = {'k', (char)('0' + i), '\0'}; /* distinct: not merged */

		refused += bg_push(b, job, &c, key) == -EAGAIN;
	}
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

/* One worker, held by a first job, so what is pushed next waits in the
 * queue; each job run is written down in order. */
struct trace {
	sem_t started, release, finished;
	pthread_mutex_t mu;
	char ran[32][8];
	int n;
};

static void hold(void *arg, const char *key)
{
	struct trace *t = arg;

	(void)key;
	sem_post(&t->started);
	sem_wait(&t->release);
}

static void note(void *arg, const char *key)
{
	struct trace *t = arg;

	pthread_mutex_lock(&t->mu);
	if (t->n < 32)
		snprintf(t->ran[t->n++], sizeof(t->ran[0]), "%s", key);
	pthread_mutex_unlock(&t->mu);
}

/* Another function: the same key is another job. */
static void note_other(void *arg, const char *key)
{
	char k[8];

	snprintf(k, sizeof(k), "F:%s", key);
	note(arg, k);
}

static void last(void *arg, const char *key)
{
	struct trace *t = arg;

	note(arg, key);
	sem_post(&t->finished);
}

static struct bg *held(struct trace *t, size_t cap)
{
	struct bg *b = bg_new(1, cap);

	memset(t, 0, sizeof(*t));
	sem_init(&t->started, 0, 0);
	sem_init(&t->release, 0, 0);
	sem_init(&t->finished, 0, 0);
	pthread_mutex_init(&t->mu, NULL);
	assert_int_equal(bg_start(b), 0);
	assert_int_equal(bg_push(b, hold, t, "hold"), 0);
	sem_wait(&t->started); /* running: the queue is empty again */
	return b;
}

/* Lets the worker go and waits until the job "end", pushed last (to the
 * urgent lane or the other), has run; returns what ran, in order. */
static const char *finish(struct bg *b, struct trace *t, bool end_urgent, char *out, size_t n)
{
	size_t o = 0;

	assert_int_equal(end_urgent ? bg_push_urgent(b, last, t, "end") : bg_push(b, last, t, "end"), 0);
	sem_post(&t->release);
	sem_wait(&t->finished);
	out[0] = '\0';
	pthread_mutex_lock(&t->mu);
	for (int i = 0; i < t->n && o < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%s", i ? " " : "", t->ran[i]);
	pthread_mutex_unlock(&t->mu);
	bg_free(b);
	sem_destroy(&t->started);
	sem_destroy(&t->release);
	sem_destroy(&t->finished);
	pthread_mutex_destroy(&t->mu);
	return out;
}

/* The same (fn, arg, key) queued twice runs once; another key, another
 * function or another argument is another job. */
static void test_dedup(void **state)
{
	struct trace t, other = {.n = 0};
	char ran[256];
	struct bg *b = held(&t, 16);

	(void)state;
	pthread_mutex_init(&other.mu, NULL);
	assert_int_equal(bg_push(b, note, &t, "x"), 0);
	assert_int_equal(bg_push(b, note, &t, "x"), 0);
	assert_int_equal(bg_push(b, note, &t, "y"), 0);
	assert_int_equal(bg_push(b, note, &t, "x"), 0);
	assert_int_equal(bg_push(b, note_other, &t, "x"), 0); /* another function */
	assert_int_equal(bg_push(b, note, &other, "x"), 0);   /* another argument */
	assert_string_equal(finish(b, &t, false, ran, sizeof(ran)), "x y F:x end");
	assert_int_equal(other.n, 1);
	assert_string_equal(other.ran[0], "x");
	pthread_mutex_destroy(&other.mu);
}

/* Urgent jobs run before every prefetch queued earlier, in their own
 * order; an urgent push of a queued prefetch moves it, once. */
static void test_urgent_first(void **state)
{
	struct trace t;
	char ran[256];
	struct bg *b = held(&t, 16);

	(void)state;
	assert_int_equal(bg_push(b, note, &t, "p1"), 0);
	assert_int_equal(bg_push(b, note, &t, "p2"), 0);
	assert_int_equal(bg_push(b, note, &t, "p3"), 0);
	assert_int_equal(bg_push_urgent(b, note, &t, "u1"), 0);
	assert_int_equal(bg_push_urgent(b, note, &t, "p3"), 0); /* promoted */
	assert_int_equal(bg_push(b, note, &t, "p3"), 0);	/* stays urgent, once */
	assert_int_equal(bg_push_urgent(b, note, &t, "u1"), 0);
	assert_string_equal(finish(b, &t, false, ran, sizeof(ran)), "u1 p3 p1 p2 end");
}

/* A queue full of prefetches refuses a prefetch but not an urgent job:
 * the newest prefetch is dropped for it. Full of urgent jobs, it refuses. */
static void test_urgent_not_dropped(void **state)
{
	struct trace t;
	char ran[256];
	struct bg *b = held(&t, 4);

	(void)state;
	assert_int_equal(bg_push(b, note, &t, "p1"), 0);
	assert_int_equal(bg_push(b, note, &t, "p2"), 0);
	assert_int_equal(bg_push(b, note, &t, "p3"), 0);
	assert_int_equal(bg_push(b, note, &t, "p4"), 0);
	assert_int_equal(bg_push(b, note, &t, "p5"), -EAGAIN);
	assert_int_equal(bg_push_urgent(b, note, &t, "u1"), 0); /* drops p4 */
	assert_int_equal(bg_push_urgent(b, note, &t, "u2"), 0); /* drops p3 */
	assert_int_equal(bg_push_urgent(b, note, &t, "u3"), 0); /* drops p2 */
	/* "end", urgent too, drops p1: no prefetch runs before it. */
	assert_string_equal(finish(b, &t, true, ran, sizeof(ran)), "u1 u2 u3 end");

	b = held(&t, 2);
	assert_int_equal(bg_push_urgent(b, note, &t, "u1"), 0);
	assert_int_equal(bg_push_urgent(b, note, &t, "u2"), 0);
	assert_int_equal(bg_push_urgent(b, note, &t, "u3"), -EAGAIN);
	assert_int_equal(bg_push(b, note, &t, "p1"), -EAGAIN);
	sem_post(&t.release); /* "end" needs a free slot: let u1 and u2 go first */
	for (int64_t t0 = monotime_ms(); bg_done(b) < 3 && monotime_ms() - t0 < WAIT_MS;)
		usleep(1000);
	sem_post(&t.release); /* finish() posts again: one extra is harmless */
	assert_string_equal(finish(b, &t, true, ran, sizeof(ran)), "u1 u2 end");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_jobs),
		cmocka_unit_test(test_full_and_stop),
		cmocka_unit_test(test_dedup),
		cmocka_unit_test(test_urgent_first),
		cmocka_unit_test(test_urgent_not_dropped),
	};
	return cmocka_run_group_tests_name("bg", tests, NULL, NULL);
}
