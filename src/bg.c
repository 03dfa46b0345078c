/* bg.c — a small pool of worker threads draining a bounded ring of jobs.
 *
 * Prefetching must never compete with what a user waits for, and never
 * grow without bound: the ring has a fixed capacity (a push to a full
 * ring is refused, the job simply does not happen), and the workers are
 * few. Priority against foreground API calls is the API client's business
 * (background listings take fewer request slots).
 */
#include "bg.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BG_MAX_THREADS 16

struct job {
	bg_fn fn;
	void *arg;
	char *key;
};

struct bg {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *ring;
	size_t cap, head, n;
	unsigned threads, started;
	bool running;
	unsigned long done;
	pthread_t tid[BG_MAX_THREADS];
};

struct bg *bg_new(unsigned threads, size_t cap)
{
	struct bg *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->ring = calloc(cap ? cap : 1, sizeof(*b->ring));
	if (!b->ring) {
		free(b);
		return NULL;
	}
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->cap = cap ? cap : 1;
	b->threads = threads < 1 ? 1 : threads > BG_MAX_THREADS ? BG_MAX_THREADS : threads;
	return b;
}

/* Takes the next job (lock held); false when stopping. */
static bool take(struct bg *b, struct job *j)
{
	while (b->running && !b->n)
		pthread_cond_wait(&b->cv, &b->mu);
	if (!b->running)
		return false;
	*j = b->ring[b->head];
	b->head = (b->head + 1) % b->cap;
	b->n--;
	return true;
}

static void *worker(void *arg)
{
	struct bg *b = arg;
	struct job j;

	pthread_mutex_lock(&b->mu);
	while (take(b, &j)) {
		pthread_mutex_unlock(&b->mu);
		j.fn(j.arg, j.key);
		free(j.key);
		pthread_mutex_lock(&b->mu);
		b->done++;
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int bg_start(struct bg *b)
{
	int err = 0;

	pthread_mutex_lock(&b->mu);
	b->running = true;
	pthread_mutex_unlock(&b->mu);
	while (b->started < b->threads && !err) {
		err = -pthread_create(&b->tid[b->started], NULL, worker, b);
		if (!err)
			b->started++;
	}
	return err;
}

/* Frees every queued job (lock held). */
static void drain(struct bg *b)
{
	while (b->n) {
		free(b->ring[b->head].key);
		b->head = (b->head + 1) % b->cap;
		b->n--;
	}
}

void bg_stop(struct bg *b)
{
	pthread_mutex_lock(&b->mu);
	b->running = false;
	drain(b);
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	for (unsigned i = 0; i < b->started; i++)
		pthread_join(b->tid[i], NULL);
	b->started = 0;
}

int bg_push(struct bg *b, bg_fn fn, void *arg, const char *key)
{
	struct job *j;
	char *copy;
	int err = 0;

	pthread_mutex_lock(&b->mu);
	if (!b->running || b->n == b->cap) {
		err = -EAGAIN;
	} else if (!(copy = strdup(key))) {
		err = -ENOMEM;
	} else {
		j = &b->ring[(b->head + b->n) % b->cap];
		j->fn = fn;
		j->arg = arg;
		j->key = copy;
		b->n++;
		pthread_cond_signal(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
	return err;
}

unsigned long bg_done(struct bg *b)
{
	unsigned long n;

	pthread_mutex_lock(&b->mu);
	n = b->done;
	pthread_mutex_unlock(&b->mu);
	return n;
}

void bg_free(struct bg *b)
{
	if (!b)
		return;
	bg_stop(b);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b->ring);
	free(b);
}
