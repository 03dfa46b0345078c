/* test_cache.c — the snapshot cache under a fake clock and fake fills that
 * count their calls: TTLs, negative caching, LRU eviction by bytes,
 * single-flight fills (successful and failing), drops during a fill, and
 * the statistics. Run under valgrind, the final cache_free shows the
 * reference counts balance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "monotime.h"

#define TTL 1000
#define WAIT_MS 30000 /* the longest wait for another thread */
#define NEG_TTL 300

struct fake {
	int64_t now;	  /* the clock, ms; only changed with no other thread running */
	atomic_int calls; /* fill calls */
	int err;	  /* what fill returns */
	size_t n;	  /* entries per snapshot */
	bool gated;	  /* fill waits for a post on release */
	sem_t entered, release;
	atomic_int joins; /* on_join calls that named this fake as the filler */
};

static int64_t fake_clock(void *arg)
{
	return ((struct fake *)arg)->now;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static struct snap *make_snap(const char *prefix, size_t n)
{
	struct snap_builder *b = snap_builder_new();
	char name[64];

	assert_non_null(b);
	for (size_t i = 0; i < n; i++) {
		struct snap_entry e = {.name = name, .digest = "sha256:00", .mtime = 1};

		snprintf(name, sizeof(name), "%s-%zu", prefix, i);
		assert_int_equal(snap_builder_add(b, &e), 0);
	}
	return snap_builder_finish(b);
}

static int fake_fill(void *arg, const char *key, struct snap **out)
{
	struct fake *f = arg;

	atomic_fetch_add(&f->calls, 1);
	sem_post(&f->entered);
	if (f->gated)
		sem_wait(&f->release);
	if (f->err)
		return f->err;
	*out = make_snap(key, f->n);
	return *out ? 0 : -ENOMEM;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	f->now = 1000000;
	f->n = 4;
	sem_init(&f->entered, 0, 0);
	sem_init(&f->release, 0, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	sem_destroy(&f->entered);
	sem_destroy(&f->release);
	free(f);
	return 0;
}

static int get(struct cache *c, struct fake *f, const char *key, struct snap **out)
{
	*out = NULL;
	return cache_get(c, key, TTL, NEG_TTL, fake_fill, f, out);
}

static struct cache_stats stats(struct cache *c)
{
	struct cache_stats st;

	cache_get_stats(c, &st);
	return st;
}

static void test_hit_within_ttl(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct snap *s1, *s2;

	assert_int_equal(get(c, f, "k", &s1), 0);
	assert_non_null(s1);
	assert_int_equal(snap_count(s1), 4);
	f->now += TTL - 1;
	assert_int_equal(get(c, f, "k", &s2), 0);
	assert_ptr_equal(s1, s2);
	assert_int_equal(atomic_load(&f->calls), 1);
	assert_int_equal(stats(c).hits, 1);
	assert_int_equal(stats(c).misses, 1);
	assert_int_equal(stats(c).fills, 1);
	snap_unref(s1);
	snap_unref(s2);
	cache_free(c);
}

static void test_expiry_refills_once(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct snap *s1, *s2, *s3;

	assert_int_equal(get(c, f, "k", &s1), 0);
	f->now += TTL;
	assert_int_equal(get(c, f, "k", &s2), 0);
	assert_ptr_not_equal(s1, s2);
	assert_int_equal(atomic_load(&f->calls), 2);
	assert_int_equal(get(c, f, "k", &s3), 0);
	assert_ptr_equal(s2, s3);
	assert_int_equal(atomic_load(&f->calls), 2);
	/* The old snapshot outlives its replacement in the cache. */
	assert_int_equal(snap_count(s1), 4);
	snap_unref(s1);
	snap_unref(s2);
	snap_unref(s3);
	cache_free(c);
}

static void test_negative_caching(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct snap *s = NULL;

	f->err = -ENOENT;
	assert_int_equal(get(c, f, "gone", &s), -ENOENT);
	assert_null(s);
	f->now += NEG_TTL - 1;
	assert_int_equal(get(c, f, "gone", &s), -ENOENT);
	assert_int_equal(cache_peek(c, "gone", TTL, &s), -ENOENT);
	assert_int_equal(atomic_load(&f->calls), 1);
	/* Past the negative TTL (though well within the positive one). */
	f->now += 1;
	assert_int_equal(cache_peek(c, "gone", TTL, &s), -EAGAIN);
	f->err = 0;
	assert_int_equal(get(c, f, "gone", &s), 0);
	assert_int_equal(atomic_load(&f->calls), 2);
	snap_unref(s);
	/* A zero negative TTL remembers nothing. */
	f->err = -ENOENT;
	assert_int_equal(cache_get(c, "z", TTL, 0, fake_fill, f, &s), -ENOENT);
	assert_int_equal(cache_get(c, "z", TTL, 0, fake_fill, f, &s), -ENOENT);
	assert_int_equal(atomic_load(&f->calls), 4);
	cache_free(c);
}

static void test_errors_not_cached(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct snap *s = NULL;

	f->err = -EIO;
	assert_int_equal(get(c, f, "k", &s), -EIO);
	assert_int_equal(get(c, f, "k", &s), -EIO);
	assert_int_equal(atomic_load(&f->calls), 2);
	assert_int_equal(cache_peek(c, "k", TTL, &s), -EAGAIN);
	assert_int_equal(stats(c).entries, 0);
	assert_int_equal(stats(c).fill_errors, 2);
	/* A failed refill of a stale entry returns the error, not stale data. */
	f->err = 0;
	assert_int_equal(get(c, f, "k", &s), 0);
	snap_unref(s);
	f->now += TTL;
	f->err = -ETIMEDOUT;
	assert_int_equal(get(c, f, "k", &s), -ETIMEDOUT);
	assert_int_equal(cache_peek(c, "k", TTL, &s), -EAGAIN);
	assert_int_equal(atomic_load(&f->calls), 4);
	cache_free(c);
}

/* A fill that claims success without a snapshot is an error, not a crash. */
static int null_fill(void *arg, const char *key, struct snap **out)
{
	(void)arg;
	(void)key;
	*out = NULL;
	return 0;
}

static void test_broken_fill(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct snap *s = NULL;

	assert_int_equal(cache_get(c, "k", TTL, NEG_TTL, null_fill, NULL, &s), -EIO);
	assert_null(s);
	cache_free(c);
}

/* Bytes one cached snapshot of key (same-length keys) accounts for. */
static size_t entry_bytes(struct fake *f)
{
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct snap *s;
	size_t n;

	assert_int_equal(get(c, f, "A", &s), 0);
	n = stats(c).bytes;
	assert_true(n > snap_bytes(s)); /* the snapshot plus overhead */
	snap_unref(s);
	cache_free(c);
	return n;
}

static void test_lru_eviction(void **state)
{
	struct fake *f = *state;
	size_t per = entry_bytes(f);
	struct cache *c = cache_new(3 * per + per / 2, fake_clock, f);
	struct snap *s, *big;

	for (const char *k = "ABC"; *k; k++) {
		char key[2] = {*k, '\0'};

		assert_int_equal(get(c, f, key, &s), 0);
		snap_unref(s);
		f->now++;
	}
	assert_int_equal(stats(c).entries, 3);
	assert_int_equal(get(c, f, "A", &s), 0); /* A is now the most recently used */
	snap_unref(s);
	assert_int_equal(get(c, f, "D", &s), 0);
	snap_unref(s);
	assert_int_equal(stats(c).evictions, 1);
	assert_int_equal(stats(c).entries, 3);
	assert_true(stats(c).bytes <= 3 * per + per / 2);
	assert_int_equal(cache_peek(c, "B", TTL, &s), -EAGAIN); /* the oldest-used went */
	assert_int_equal(cache_peek(c, "A", TTL, &s), 0);
	snap_unref(s);
	assert_int_equal(cache_peek(c, "C", TTL, &s), 0);
	snap_unref(s);
	assert_int_equal(cache_peek(c, "D", TTL, &s), 0);
	snap_unref(s);
	/* One snapshot bigger than the whole budget: it stays, the rest go. */
	f->n = 2000;
	assert_int_equal(get(c, f, "E", &big), 0);
	assert_int_equal(stats(c).entries, 1);
	assert_int_equal(stats(c).evictions, 4);
	assert_int_equal(cache_peek(c, "E", TTL, &s), 0);
	assert_ptr_equal(s, big);
	snap_unref(s);
	snap_unref(big);
	cache_free(c);
}

struct caller {
	pthread_t th;
	struct cache *c;
	struct fake *f;
	const char *key;
	struct snap *s;
	int err;
};

static void *caller_main(void *arg)
{
	struct caller *k = arg;

	k->err = get(k->c, k->f, k->key, &k->s);
	return NULL;
}

/* Waits until n callers are asleep in the cache (WAIT_MS at most). */
static void await_waits(struct cache *c, uint64_t n)
{
	int64_t t0 = monotime_ms();

	while (stats(c).waits < n && monotime_ms() - t0 < WAIT_MS)
		sleep_ms(1);
	assert_int_equal(stats(c).waits, n);
}

/* 16 threads ask for one cold key: the fill is held until the other 15
 * wait for it. Returns the callers. */
static struct caller *ask_16(struct cache *c, struct fake *f)
{
	struct caller *k = calloc(16, sizeof(*k));

	assert_non_null(k);
	f->gated = true;
	for (int i = 0; i < 16; i++) {
		k[i] = (struct caller){.c = c, .f = f, .key = "cold"};
		assert_int_equal(pthread_create(&k[i].th, NULL, caller_main, &k[i]), 0);
	}
	sem_wait(&f->entered); /* one fill in flight */
	await_waits(c, 15);
	sem_post(&f->release);
	for (int i = 0; i < 16; i++)
		pthread_join(k[i].th, NULL);
	return k;
}

static void test_single_flight(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct caller *k;

	k = ask_16(c, f);
	assert_int_equal(atomic_load(&f->calls), 1);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(k[i].err, 0);
		assert_ptr_equal(k[i].s, k[0].s);
	}
	assert_int_equal(stats(c).fills, 1);
	assert_int_equal(stats(c).waits, 15);
	assert_int_equal(stats(c).misses, 16);
	for (int i = 0; i < 16; i++)
		snap_unref(k[i].s);
	free(k);
	cache_free(c);
}

static void count_join(void *waiter, void *filler)
{
	assert_ptr_equal(waiter, filler); /* every caller here passes the fake */
	atomic_fetch_add(&((struct fake *)filler)->joins, 1);
}

/* Each caller that comes to wait for a fill in flight is announced to the
 * filler's argument (so a background fill can be raised). */
static void test_join_hook(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct caller *k;

	cache_set_join(c, count_join);
	k = ask_16(c, f);
	assert_int_equal(atomic_load(&f->calls), 1);
	assert_int_equal(atomic_load(&f->joins), 15);
	for (int i = 0; i < 16; i++)
		snap_unref(k[i].s);
	free(k);
	cache_free(c);
}

static void test_single_flight_error(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct caller *k;

	f->err = -EHOSTUNREACH;
	k = ask_16(c, f);
	assert_int_equal(atomic_load(&f->calls), 1);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(k[i].err, -EHOSTUNREACH);
		assert_null(k[i].s);
	}
	assert_int_equal(stats(c).fill_errors, 1);
	assert_int_equal(stats(c).entries, 0);
	free(k);
	cache_free(c);
}

static void start_caller(struct caller *k, struct cache *c, struct fake *f, const char *key)
{
	*k = (struct caller){.c = c, .f = f, .key = key};
	assert_int_equal(pthread_create(&k->th, NULL, caller_main, k), 0);
}

static void test_drop_during_fill(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct caller filler, waiter;
	struct snap *s;

	f->gated = true;
	start_caller(&filler, c, f, "k");
	sem_wait(&f->entered); /* the fill is in flight */
	start_caller(&waiter, c, f, "k");
	await_waits(c, 1);
	cache_drop(c, "k");
	assert_int_equal(cache_peek(c, "k", TTL, &s), -EAGAIN);
	sem_post(&f->release); /* the first fill completes into a dropped entry */
	pthread_join(filler.th, NULL);
	assert_int_equal(filler.err, 0);
	assert_non_null(filler.s); /* its caller still gets what it asked for */
	/* The waiter does not take the dropped result: it fills afresh. */
	sem_wait(&f->entered);
	sem_post(&f->release);
	pthread_join(waiter.th, NULL);
	assert_int_equal(waiter.err, 0);
	assert_ptr_not_equal(waiter.s, filler.s);
	assert_int_equal(atomic_load(&f->calls), 2);
	assert_int_equal(cache_peek(c, "k", TTL, &s), 0);
	assert_ptr_equal(s, waiter.s);
	snap_unref(s);
	snap_unref(filler.s);
	snap_unref(waiter.s);
	cache_free(c);
}

/* A waiter gives up at its limit with ETIMEDOUT; the fill goes on and
 * its result is cached for the next caller. */
static void test_waiter_gives_up(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct caller filler, waiter;
	struct snap *s;

	cache_set_wait_limit(c, 100);
	f->gated = true;
	start_caller(&filler, c, f, "k");
	sem_wait(&f->entered); /* the fill is in flight, and stays */
	start_caller(&waiter, c, f, "k");
	pthread_join(waiter.th, NULL);
	assert_int_equal(waiter.err, -ETIMEDOUT);
	assert_null(waiter.s);
	sem_post(&f->release);
	pthread_join(filler.th, NULL);
	assert_int_equal(filler.err, 0);
	assert_int_equal(cache_peek(c, "k", TTL, &s), 0);
	assert_ptr_equal(s, filler.s);
	assert_int_equal(atomic_load(&f->calls), 1);
	snap_unref(s);
	snap_unref(filler.s);
	cache_free(c);
}

static void test_clear_during_fill(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct caller filler;
	struct snap *s;

	assert_int_equal(get(c, f, "other", &s), 0);
	snap_unref(s);
	f->gated = true;
	start_caller(&filler, c, f, "k");
	sem_wait(&f->entered); /* the post from filling "other" */
	sem_wait(&f->entered); /* the fill of "k" is in flight */
	cache_clear(c);
	assert_int_equal(stats(c).entries, 0);
	sem_post(&f->release);
	pthread_join(filler.th, NULL);
	assert_int_equal(filler.err, 0);
	snap_unref(filler.s);
	/* Nothing came back as fresh. */
	assert_int_equal(cache_peek(c, "k", TTL, &s), -EAGAIN);
	assert_int_equal(cache_peek(c, "other", TTL, &s), -EAGAIN);
	assert_int_equal(stats(c).entries, 0);
	assert_int_equal(stats(c).bytes, 0);
	cache_free(c);
}

static void test_peek_and_drop(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct snap *s, *p;

	assert_int_equal(cache_peek(c, "k", TTL, &p), -EAGAIN);
	assert_int_equal(get(c, f, "k", &s), 0);
	assert_int_equal(cache_peek(c, "k", TTL, &p), 0);
	assert_ptr_equal(p, s);
	snap_unref(p);
	f->now += 500;
	assert_int_equal(cache_peek(c, "k", 500, &p), -EAGAIN); /* the caller's ttl decides */
	assert_int_equal(cache_peek(c, "k", 501, &p), 0);
	snap_unref(p);
	assert_int_equal(stats(c).misses, 1);
	assert_int_equal(atomic_load(&f->calls), 1);
	cache_drop(c, "k");
	cache_drop(c, "absent");
	assert_int_equal(cache_peek(c, "k", TTL, &p), -EAGAIN);
	assert_int_equal(stats(c).entries, 0);
	assert_int_equal(stats(c).bytes, 0);
	snap_unref(s);
	cache_free(c);
	cache_free(NULL);
}

static void test_stats(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct cache_stats st;
	struct snap *a, *b, *n;

	assert_int_equal(get(c, f, "a", &a), 0);
	f->now += 500;
	assert_int_equal(get(c, f, "b", &b), 0);
	snap_unref(b);
	assert_int_equal(get(c, f, "b", &b), 0);
	f->err = -ENOENT;
	assert_int_equal(get(c, f, "n", &n), -ENOENT);
	assert_null(n);
	f->now += 200;
	cache_get_stats(c, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 3);
	assert_int_equal(st.fills, 3);
	assert_int_equal(st.fill_errors, 1);
	assert_int_equal(st.waits, 0);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.entries, 3); /* two snapshots and a remembered ENOENT */
	assert_int_equal(st.oldest_ms, 700);
	assert_true(st.bytes > snap_bytes(a) + snap_bytes(b));
	snap_unref(a);
	snap_unref(b);
	cache_clear(c);
	cache_get_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.oldest_ms, 0);
	cache_free(c);
}

static void test_real_clock(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, NULL, NULL);
	struct snap *s1, *s2;

	assert_int_equal(cache_get(c, "k", 60000, 0, fake_fill, f, &s1), 0);
	assert_int_equal(cache_get(c, "k", 60000, 0, fake_fill, f, &s2), 0);
	assert_ptr_equal(s1, s2);
	assert_int_equal(atomic_load(&f->calls), 1);
	snap_unref(s1);
	snap_unref(s2);
	/* ttl 0: always stale. */
	assert_int_equal(cache_get(c, "k", 0, 0, fake_fill, f, &s1), 0);
	assert_int_equal(atomic_load(&f->calls), 2);
	snap_unref(s1);
	cache_free(c);
}

/* Many keys: the table grows, and every key still finds its own entry. */
static void test_many_keys(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(64 << 20, fake_clock, f);
	char key[32];
	struct snap *s;
	struct snap_entry e;

	f->n = 1;
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "T%d:web/api", i);
		assert_int_equal(get(c, f, key, &s), 0);
		snap_unref(s);
	}
	for (int i = 0; i < 5000; i += 7) {
		snprintf(key, sizeof(key), "T%d:web/api", i);
		assert_int_equal(cache_peek(c, key, TTL, &s), 0);
		snap_get(s, 0, &e);
		assert_int_equal(strncmp(e.name, key, strlen(key)), 0);
		snap_unref(s);
	}
	assert_int_equal(atomic_load(&f->calls), 5000);
	assert_int_equal(stats(c).entries, 5000);
	cache_free(c);
}

struct stale_log {
	int calls, with_err;
	int64_t age;
};

static void record_stale(void *arg, const char *key, int err, int64_t age_ms)
{
	struct stale_log *l = arg;

	(void)key;
	l->calls++;
	l->with_err += err != 0;
	l->age = age_ms;
}

/* Stale-if-error: a failed refresh serves the old snapshot (asking the API
 * again only every retry_ms) until ttl + max_stale, then the error. */
static void test_stale_if_error(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct stale_log l = {0};
	struct snap *s = NULL, *old;

	cache_set_stale(c, 3000, 500, record_stale, &l);
	assert_int_equal(get(c, f, "k", &old), 0);
	f->now += TTL + 100;
	f->err = -EIO;
	assert_int_equal(get(c, f, "k", &s), 0); /* refresh fails: the old one */
	assert_ptr_equal(s, old);
	snap_unref(s);
	assert_int_equal(atomic_load(&f->calls), 2);
	assert_int_equal(l.with_err, 1);
	assert_int_equal(l.age, TTL + 100);
	f->now += 200; /* within retry_ms: served without asking */
	assert_int_equal(get(c, f, "k", &s), 0);
	snap_unref(s);
	assert_int_equal(atomic_load(&f->calls), 2);
	assert_int_equal(l.calls, 2);
	assert_int_equal(l.with_err, 1);
	f->now += 400; /* past retry_ms: asks again, fails, stale again */
	assert_int_equal(get(c, f, "k", &s), 0);
	snap_unref(s);
	assert_int_equal(atomic_load(&f->calls), 3);
	f->now = 1000000 + TTL + 3000; /* past ttl + max_stale: the error */
	assert_int_equal(get(c, f, "k", &s), -EIO);
	assert_int_equal(stats(c).stale_served, 3);
	/* A refresh that works replaces it. */
	f->err = 0;
	assert_int_equal(get(c, f, "k", &s), 0);
	assert_ptr_not_equal(s, old);
	snap_unref(s);
	snap_unref(old);
	cache_free(c);
}

/* ENOENT is an answer, never hidden by a stale snapshot. */
static void test_stale_not_for_enoent(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct snap *s = NULL;

	cache_set_stale(c, 3000, 500, NULL, NULL);
	assert_int_equal(get(c, f, "k", &s), 0);
	snap_unref(s);
	f->now += TTL;
	f->err = -ENOENT;
	assert_int_equal(get(c, f, "k", &s), -ENOENT);
	cache_free(c);
}

struct ahead_log {
	int calls;
	char key[32];
};

static int record_ahead(void *arg, const char *key)
{
	struct ahead_log *l = arg;

	l->calls++;
	snprintf(l->key, sizeof(l->key), "%s", key);
	return 0;
}

/* Refresh-ahead in the last 250 ms of any key's ttl. */
static int64_t ahead_250(void *arg, const char *key)
{
	(void)arg;
	(void)key;
	return 250;
}

/* Refresh-ahead: a hit in the last ahead_ms of the ttl asks once; a
 * refill replaces even a fresh snapshot and re-arms the request. */
static void test_refresh_ahead(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct ahead_log l = {0};
	struct snap *s = NULL, *first;

	cache_set_ahead(c, ahead_250, record_ahead, &l);
	assert_int_equal(get(c, f, "k", &first), 0);
	f->now += 500;
	assert_int_equal(get(c, f, "k", &s), 0);
	snap_unref(s);
	assert_int_equal(l.calls, 0);
	f->now += 300; /* age 800 of 1000: in the last 250 */
	assert_int_equal(get(c, f, "k", &s), 0);
	snap_unref(s);
	assert_int_equal(get(c, f, "k", &s), 0);
	snap_unref(s);
	assert_int_equal(l.calls, 1); /* once per snapshot */
	assert_string_equal(l.key, "k");
	assert_int_equal(cache_refill(c, "k", NEG_TTL, fake_fill, f), 0);
	assert_int_equal(atomic_load(&f->calls), 2);
	assert_int_equal(get(c, f, "k", &s), 0);
	assert_ptr_not_equal(s, first); /* the refreshed one, no wait */
	snap_unref(s);
	snap_unref(first);
	assert_int_equal(atomic_load(&f->calls), 2);
	f->now += 800;
	assert_int_equal(get(c, f, "k", &s), 0);
	snap_unref(s);
	assert_int_equal(l.calls, 2); /* re-armed by the refill */
	assert_int_equal(stats(c).refreshes_ahead, 2);
	cache_free(c);
}

/* The background a hung-API test queues refills on: it only records
 * them (and refuses them when refuse is set); run() does one. */
struct bgq {
	struct cache *c;
	struct fake *f;
	sem_t queued;
	atomic_int n;
	bool refuse;
};

static int queue_refill(void *arg, const char *key)
{
	struct bgq *q = arg;

	(void)key;
	if (q->refuse)
		return -EAGAIN;
	atomic_fetch_add(&q->n, 1);
	sem_post(&q->queued);
	return 0;
}

static void *bg_refill(void *arg)
{
	struct bgq *q = arg;

	sem_wait(&q->queued);
	cache_refill(q->c, "k", NEG_TTL, fake_fill, q->f);
	return NULL;
}

/* A hung API: an expired snapshot that may still be served has its
 * refill queued, and a caller waits for it only stale_wait ms, then gets
 * the old snapshot (told once, -EINPROGRESS); later callers get it at
 * once, until a fill succeeds. A refill that answers in time is waited
 * for; without a background the refill runs in the caller. */
static void test_stale_while_refill_hangs(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct bgq q = {.c = c, .f = f};
	struct stale_log l = {0};
	struct snap *s = NULL, *old;
	pthread_t th;
	int64_t t0;

	sem_init(&q.queued, 0, 0);
	cache_set_stale(c, 3000, 500, record_stale, &l);
	cache_set_ahead(c, NULL, queue_refill, &q);
	cache_set_stale_wait(c, 50);
	assert_int_equal(get(c, f, "k", &old), 0);
	assert_true(cache_stale_held(c, "k", TTL) == false);
	f->now += TTL + 100;
	assert_true(cache_stale_held(c, "k", TTL));
	assert_int_equal(get(c, f, "k", &s), 0); /* the refill never comes */
	assert_ptr_equal(s, old);
	snap_unref(s);
	assert_int_equal(atomic_load(&q.n), 1);
	assert_int_equal(atomic_load(&f->calls), 1); /* not run by the caller */
	assert_int_equal(l.with_err, 1);
	assert_int_equal(stats(c).stale_served, 1);
	assert_int_equal(get(c, f, "k", &s), 0); /* at once, and said once */
	assert_ptr_equal(s, old);
	snap_unref(s);
	assert_int_equal(atomic_load(&q.n), 1);
	assert_int_equal(l.calls, 1);
	/* The background runs the refill: the new snapshot, fresh. */
	assert_int_equal(sem_trywait(&q.queued), 0);
	assert_int_equal(cache_refill(c, "k", NEG_TTL, fake_fill, f), 0);
	assert_int_equal(get(c, f, "k", &s), 0);
	assert_ptr_not_equal(s, old);
	snap_unref(s);
	snap_unref(old);
	/* A refill that answers within the bound is waited for. */
	cache_set_stale_wait(c, 60000);
	assert_int_equal(get(c, f, "k", &old), 0);
	f->now += TTL + 100;
	assert_int_equal(pthread_create(&th, NULL, bg_refill, &q), 0);
	assert_int_equal(get(c, f, "k", &s), 0);
	pthread_join(th, NULL);
	assert_ptr_not_equal(s, old);
	assert_int_equal(atomic_load(&f->calls), 3);
	snap_unref(s);
	snap_unref(old);
	/* A request's own deadline (cache_get_by) ends the wait before the
	 * bound: 60 s here, the request's 100 ms (a path's second listing
	 * does not get a bound of its own). */
	f->now += TTL + 100;
	old = NULL;
	assert_int_equal(cache_peek(c, "k", TTL, &old), -EAGAIN);
	t0 = monotime_ms();
	assert_int_equal(cache_get_by(c, "k", TTL, NEG_TTL, fake_fill, f, f->now + 100, &s), 0);
	assert_true(monotime_ms() - t0 < 10000);     /* far from the bound's 60 s */
	assert_int_equal(atomic_load(&f->calls), 3); /* the old one, the refill queued */
	snap_unref(s);
	assert_int_equal(sem_trywait(&q.queued), 0);
	assert_int_equal(cache_refill(c, "k", NEG_TTL, fake_fill, f), 0);
	/* No background to queue on: the caller refills, as before. */
	q.refuse = true;
	f->now += TTL + 100;
	assert_int_equal(get(c, f, "k", &s), 0);
	assert_int_equal(atomic_load(&f->calls), 5);
	snap_unref(s);
	sem_destroy(&q.queued);
	cache_free(c);
}

/* cache_held: whatever is held, however old, without counting a hit. */
static void test_held(void **state)
{
	struct fake *f = *state;
	struct cache *c = cache_new(1 << 20, fake_clock, f);
	struct snap *s, *p;

	assert_int_equal(cache_held(c, "k", &p), -EAGAIN);
	assert_null(p);
	assert_int_equal(get(c, f, "k", &s), 0);
	f->now += 10 * TTL;
	assert_int_equal(cache_held(c, "k", &p), 0);
	assert_ptr_equal(p, s);
	snap_unref(p);
	assert_int_equal(stats(c).hits, 0);
	cache_drop(c, "k");
	assert_int_equal(cache_held(c, "k", &p), -EAGAIN);
	snap_unref(s);
	cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hit_within_ttl, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expiry_refills_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_negative_caching, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors_not_cached, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_fill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lru_eviction, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_single_flight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_join_hook, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_waiter_gives_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_single_flight_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drop_during_fill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clear_during_fill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peek_and_drop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_real_clock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_if_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_not_for_enoent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refresh_ahead, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_while_refill_hangs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_held, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
