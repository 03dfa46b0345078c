/* sim_stats.c — request counters and the access log of uhub-sim.
 *
 * Counters live in a chained hash table keyed by (action, repo, image,
 * tag), so recording a request is O(1) however many distinct tags a
 * benchmark looks up; a question with filters walks every key, which is
 * cheap next to the HTTP round trip that asks it.
 */
#include "sim_stats.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;
	char *action, *repo, *image, *tag; /* repo, image, tag NULL when absent */
	uint64_t hash;
	unsigned long long count;
};

struct sim_stats {
	pthread_mutex_t lock;
	struct entry **buckets;
	size_t nbuckets, nentries;
	pthread_mutex_t log_lock;
	FILE *log; /* NULL: stderr */
	atomic_bool log_on;
};

struct sim_stats *sim_stats_new(void)
{
	struct sim_stats *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return NULL;
	}
	if (pthread_mutex_init(&s->log_lock, NULL) != 0) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	atomic_init(&s->log_on, false);
	return s;
}

static void entry_free(struct entry *e)
{
	free(e->action);
	free(e->repo);
	free(e->image);
	free(e->tag);
	free(e);
}

/* Lock held. */
static void drop_all(struct sim_stats *s)
{
	for (size_t b = 0; b < s->nbuckets; b++) {
		while (s->buckets[b]) {
			struct entry *e = s->buckets[b];

			s->buckets[b] = e->next;
			entry_free(e);
		}
	}
	s->nentries = 0;
}

void sim_stats_free(struct sim_stats *s)
{
	if (!s)
		return;
	drop_all(s);
	free(s->buckets);
	if (s->log && s->log != stdout)
		fclose(s->log);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->log_lock);
	free(s);
}

/* FNV-1a over the fields, with a marker for an absent one. */
static uint64_t key_hash(const char *action, const char *repo, const char *image, const char *tag)
{
	const char *f[4] = {action, repo, image, tag};
	uint64_t h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < 4; i++) {
		const char *p = f[i] ? f[i] : "";

		h = (h ^ (f[i] ? 1u : 2u)) * 0x100000001b3ULL;
		do {
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
		} while (*p++);
	}
	return h;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Lock held: doubles the table when it gets crowded. */
static int grow(struct sim_stats *s)
{
	size_t n = s->nbuckets ? s->nbuckets * 2 : 64;
	struct entry **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < s->nbuckets; i++) {
		while (s->buckets[i]) {
			struct entry *e = s->buckets[i];

			s->buckets[i] = e->next;
			e->next = b[e->hash % n];
			b[e->hash % n] = e;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
	return 0;
}

static char *dup_opt(const char *s, bool *fail)
{
	char *c = s ? strdup(s) : NULL;

	if (s && !c)
		*fail = true;
	return c;
}

/* Lock held: a new entry for the key, counted once. */
static int add_entry(struct sim_stats *s, const char *key[4], uint64_t h)
{
	struct entry *e;
	bool fail = false;

	if (s->nentries >= s->nbuckets && grow(s))
		return -ENOMEM;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->action = dup_opt(key[0], &fail);
	e->repo = dup_opt(key[1], &fail);
	e->image = dup_opt(key[2], &fail);
	e->tag = dup_opt(key[3], &fail);
	if (fail) {
		entry_free(e);
		return -ENOMEM;
	}
	e->hash = h;
	e->count = 1;
	e->next = s->buckets[h % s->nbuckets];
	s->buckets[h % s->nbuckets] = e;
	s->nentries++;
	return 0;
}

int sim_stats_record(struct sim_stats *s, const char *action, const char *repo, const char *image, const char *tag)
{
	const char *key[4] = {action ? action : "", repo, image, tag && *tag ? tag : NULL};
	uint64_t h = key_hash(key[0], key[1], key[2], key[3]);
	struct entry *e = NULL;
	int err = 0;

	pthread_mutex_lock(&s->lock);
	if (s->nbuckets)
		e = s->buckets[h % s->nbuckets];
	for (; e; e = e->next)
		if (e->hash == h && same(e->action, key[0]) && same(e->repo, key[1]) && same(e->image, key[2]) &&
		    same(e->tag, key[3]))
			break;
	if (e)
		e->count++;
	else
		err = add_entry(s, key, h);
	pthread_mutex_unlock(&s->lock);
	return err;
}

static bool matches(const struct entry *e, const struct sim_stats_filter *f)
{
	if (f->action && strcmp(f->action, "*") != 0 && strcmp(f->action, e->action) != 0)
		return false;
	if ((f->repo && !same(f->repo, e->repo)) || (f->image && !same(f->image, e->image)) ||
	    (f->tag && !same(f->tag, e->tag)))
		return false;
	return f->has_tag < 0 || (f->has_tag > 0) == (e->tag != NULL);
}

unsigned long long sim_stats_count(struct sim_stats *s, const struct sim_stats_filter *f)
{
	unsigned long long n = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t b = 0; b < s->nbuckets; b++)
		for (const struct entry *e = s->buckets[b]; e; e = e->next)
			if (matches(e, f))
				n += e->count;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void sim_stats_reset(struct sim_stats *s)
{
	pthread_mutex_lock(&s->lock);
	drop_all(s);
	pthread_mutex_unlock(&s->lock);
}

void sim_stats_rows_free(struct sim_stat_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++)
		free(rows[i].action);
	free(rows);
}

static int row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sim_stat_row *)a)->action, ((const struct sim_stat_row *)b)->action);
}

/* Adds e's count to its action's row, appending a row when new. Lock held. */
static int add_to_rows(struct sim_stat_row *rows, size_t *n, const struct entry *e)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(rows[i].action, e->action) == 0) {
			rows[i].count += e->count;
			return 0;
		}
	}
	rows[*n].action = strdup(e->action);
	if (!rows[*n].action)
		return -ENOMEM;
	rows[(*n)++].count = e->count;
	return 0;
}

int sim_stats_rows(struct sim_stats *s, struct sim_stat_row **rows, size_t *n)
{
	int err = 0;

	*rows = NULL;
	*n = 0;
	pthread_mutex_lock(&s->lock);
	/* At most one row per entry; one spare so calloc never sees 0. */
	*rows = calloc(s->nentries + 1, sizeof(**rows));
	if (!*rows)
		err = -ENOMEM;
	for (size_t b = 0; b < s->nbuckets && !err; b++)
		for (const struct entry *e = s->buckets[b]; e && !err; e = e->next)
			err = add_to_rows(*rows, n, e);
	pthread_mutex_unlock(&s->lock);
	if (err) {
		sim_stats_rows_free(*rows, *n);
		*rows = NULL;
		*n = 0;
		return err;
	}
	qsort(*rows, *n, sizeof(**rows), row_cmp);
	return 0;
}

int sim_stats_log_open(struct sim_stats *s, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "ae");

	if (!f)
		return -errno;
	pthread_mutex_lock(&s->log_lock);
	if (s->log && s->log != stdout)
		fclose(s->log);
	s->log = f;
	pthread_mutex_unlock(&s->log_lock);
	atomic_store(&s->log_on, true);
	return 0;
}

void sim_stats_log_enable(struct sim_stats *s, bool on)
{
	atomic_store(&s->log_on, on);
}

bool sim_stats_log_enabled(struct sim_stats *s)
{
	return atomic_load(&s->log_on);
}

void sim_stats_log_line(struct sim_stats *s, const char *line)
{
	if (!atomic_load(&s->log_on))
		return;
	pthread_mutex_lock(&s->log_lock);
	fprintf(s->log ? s->log : stderr, "%s\n", line);
	fflush(s->log ? s->log : stderr);
	pthread_mutex_unlock(&s->log_lock);
}
