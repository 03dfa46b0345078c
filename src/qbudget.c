/* qbudget.c — the point-query budget of listings (qbudget.h). A direct-
 * mapped table of windows: a slot belongs to the listing that last
 * counted a miss in it, and forgets it when its window is over.
 */
#include "qbudget.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "hash.h"

#define SLOTS 256

struct window {
	uint64_t key;  /* hash of the listing's key; 0: free */
	int64_t since; /* the window's start */
	unsigned misses;
	bool listed;
};

struct qbudget {
	pthread_mutex_t mu; /* guards w; a leaf */
	int64_t window_ms;
	struct window w[SLOTS];
};

struct qbudget *qbudget_new(int64_t window_ms)
{
	struct qbudget *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	if (pthread_mutex_init(&q->mu, NULL)) {
		free(q);
		return NULL;
	}
	q->window_ms = window_ms > 0 ? window_ms : 1;
	return q;
}

void qbudget_free(struct qbudget *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->mu);
	free(q);
}

/* Never 0 (a free slot), and not by setting the low bit: with SLOTS a
 * power of two that would leave every even slot unused. */
static uint64_t hash(const char *s)
{
	uint64_t h = hash_fnv64_str(HASH_FNV64_BASIS, s);

	return h ? h : 1;
}

/* key's window, current at now (lock held). A slot whose window is over
 * starts afresh; one held by another listing is shared. */
static struct window *window_of(struct qbudget *q, uint64_t h, int64_t now)
{
	struct window *w = &q->w[h % SLOTS];

	if (!w->key || now - w->since >= q->window_ms)
		*w = (struct window){.key = h, .since = now};
	return w;
}

enum qbudget_say qbudget_ask(struct qbudget *q, const char *key, int64_t now)
{
	enum qbudget_say say;
	struct window *w;

	pthread_mutex_lock(&q->mu);
	w = window_of(q, hash(key), now);
	say = w->misses < QBUDGET_MISSES ? QBUDGET_QUERY : w->listed ? QBUDGET_NONE : QBUDGET_LIST;
	pthread_mutex_unlock(&q->mu);
	return say;
}

void qbudget_missed(struct qbudget *q, const char *key, int64_t now)
{
	pthread_mutex_lock(&q->mu);
	window_of(q, hash(key), now)->misses++;
	pthread_mutex_unlock(&q->mu);
}

void qbudget_listed(struct qbudget *q, const char *key, int64_t now)
{
	pthread_mutex_lock(&q->mu);
	window_of(q, hash(key), now)->listed = true;
	pthread_mutex_unlock(&q->mu);
}
