/* bg.c — a small pool of worker threads draining a bounded queue of jobs.
 *
 * Prefetching must never compete with what a user waits for, and never
 * grow without bound: the queue has a fixed capacity (a push to a full
 * queue is refused, the job simply does not happen), and the workers are
 * few. Priority against foreground API calls is the API client's business
 * (background listings take fewer request slots).
 *
 * Within the queue, two lanes: urgent jobs (refreshing a listing before it
 * expires, which users are about to wait for) run before any prefetch, and
 * when the queue is full of prefetches an urgent push evicts the newest
 * one rather than be refused: a flood of prefetches can no longer drop a
 * refresh. A job already queued is not queued twice (a hash of queued jobs
 * by (fn, arg, key)); pushing it urgent moves it to the urgent lane. A job
 * that is running may be queued again: it may have read what changed.
 * Slots come from one array made at bg_new, so a push never allocates but
 * for the key.
 */
#include "bg.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define BG_MAX_THREADS 16

enum { LANE_PREFETCH, LANE_URGENT, LANES };

struct job {
	bg_fn fn;
	void *arg;
	char *key;
	size_t hash;
	int lane;
	struct job *prev, *next; /* in its lane; next alone in the free list */
	struct job *hnext;	 /* in its hash bucket */
};

struct lane {
	struct job *head, *tail;
};

struct bg {
	pthread_mutex_t mu; /* guards the queue, the slots and the counts; a leaf:
			       jobs run without it (the cache's hooks push
			       under the cache's mutex: cache -> bg) */
	pthread_cond_t cv;  /* a job was queued, or stop */
	struct job *slots;  /* cap of them */
	struct job *free;
	struct job **bucket; /* nbuckets (a power of two) chains */
	size_t cap, n, nbuckets;
	struct lane lane[LANES];
	unsigned threads, started;
	bool running;
	unsigned long done;
	pthread_t tid[BG_MAX_THREADS];
};

/* Every slot free, no bucket used (lock held, or before any thread). */
static void reset(struct bg *b)
{
	b->free = NULL;
	for (size_t i = b->cap; i-- > 0;) {
		b->slots[i].next = b->free;
		b->free = &b->slots[i];
	}
	memset(b->bucket, 0, b->nbuckets * sizeof(*b->bucket));
	memset(b->lane, 0, sizeof(b->lane));
	b->n = 0;
}

struct bg *bg_new(unsigned threads, size_t cap)
{
	struct bg *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->cap = cap ? cap : 1;
	for (b->nbuckets = 16; b->nbuckets < b->cap && b->nbuckets < SIZE_MAX / 2;)
		b->nbuckets *= 2;
	b->slots = calloc(b->cap, sizeof(*b->slots));
	b->bucket = calloc(b->nbuckets, sizeof(*b->bucket));
	if (!b->slots || !b->bucket) {
		free(b->slots);
		free(b->bucket);
		free(b);
		return NULL;
	}
	reset(b);
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->threads = threads < 1 ? 1 : threads > BG_MAX_THREADS ? BG_MAX_THREADS : threads;
	return b;
}

/* FNV-1a over the key, the argument mixed in. The function is left out
 * (C gives no portable integer for it): find() compares it. */
static size_t hash_of(const void *arg, const char *key)
{
	uint64_t h = hash_fnv64_str(HASH_FNV64_BASIS, key);

	h ^= (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h ^ (h >> 29));
}

static struct job *find(struct bg *b, bg_fn fn, void *arg, const char *key, size_t h)
{
	for (struct job *j = b->bucket[h & (b->nbuckets - 1)]; j; j = j->hnext)
		if (j->hash == h && j->fn == fn && j->arg == arg && !strcmp(j->key, key))
			return j;
	return NULL;
}

static void lane_append(struct bg *b, struct job *j, int lane)
{
	struct lane *l = &b->lane[lane];

	j->lane = lane;
	j->next = NULL;
	j->prev = l->tail;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static void lane_unlink(struct bg *b, struct job *j)
{
	struct lane *l = &b->lane[j->lane];

	if (j->prev)
		j->prev->next = j->next;
	else
		l->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		l->tail = j->prev;
}

static void bucket_unlink(struct bg *b, struct job *j)
{
	struct job **p = &b->bucket[j->hash & (b->nbuckets - 1)];

	while (*p != j)
		p = &(*p)->hnext;
	*p = j->hnext;
}

/* Takes j out of the queue and gives its slot back; the key is the
 * caller's now (lock held). */
static void unqueue(struct bg *b, struct job *j)
{
	lane_unlink(b, j);
	bucket_unlink(b, j);
	j->next = b->free;
	b->free = j;
	b->n--;
}

/* Takes the next job, urgent first (lock held); false when stopping. */
static bool take(struct bg *b, struct job *out)
{
	struct job *j;

	while (b->running && !b->n)
		pthread_cond_wait(&b->cv, &b->mu);
	if (!b->running)
		return false;
	j = b->lane[LANE_URGENT].head ? b->lane[LANE_URGENT].head : b->lane[LANE_PREFETCH].head;
	*out = *j;
	unqueue(b, j);
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
	for (int l = 0; l < LANES; l++)
		for (struct job *j = b->lane[l].head; j; j = j->next)
			free(j->key);
	reset(b);
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

/* A new job in lane (lock held). A full queue makes room for an urgent job
 * by dropping the newest prefetch: as if the refresh had come first. */
static int enqueue(struct bg *b, bg_fn fn, void *arg, const char *key, size_t h, int lane)
{
	struct job *j, *victim = b->lane[LANE_PREFETCH].tail;
	char *copy;

	if (!b->free && !(lane == LANE_URGENT && victim))
		return -EAGAIN;
	copy = strdup(key);
	if (!copy)
		return -ENOMEM;
	if (!b->free) {
		free(victim->key);
		unqueue(b, victim);
	}
	j = b->free;
	b->free = j->next;
	*j = (struct job){.fn = fn, .arg = arg, .key = copy, .hash = h};
	lane_append(b, j, lane);
	j->hnext = b->bucket[h & (b->nbuckets - 1)];
	b->bucket[h & (b->nbuckets - 1)] = j;
	b->n++;
	pthread_cond_signal(&b->cv);
	return 0;
}

static int push(struct bg *b, bg_fn fn, void *arg, const char *key, int lane)
{
	size_t h = hash_of(arg, key);
	struct job *j;
	int err = 0;

	pthread_mutex_lock(&b->mu);
	if (!b->running) {
		err = -EAGAIN;
	} else if ((j = find(b, fn, arg, key, h))) {
		if (lane == LANE_URGENT && j->lane != LANE_URGENT) {
			lane_unlink(b, j);
			lane_append(b, j, LANE_URGENT);
		}
	} else {
		err = enqueue(b, fn, arg, key, h, lane);
	}
	pthread_mutex_unlock(&b->mu);
	return err;
}

int bg_push(struct bg *b, bg_fn fn, void *arg, const char *key)
{
	return push(b, fn, arg, key, LANE_PREFETCH);
}

int bg_push_urgent(struct bg *b, bg_fn fn, void *arg, const char *key)
{
	return push(b, fn, arg, key, LANE_URGENT);
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
	free(b->slots);
	free(b->bucket);
	free(b);
}
