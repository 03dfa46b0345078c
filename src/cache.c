/* cache.c — TTL cache of directory snapshots with single-flight fills and
 * a byte budget.
 *
 * Every FUSE lookup, getattr and readdir lands here, many at once (a
 * `ls -l` of a big image is one readdir and thousands of getattrs), and a
 * listing may cost dozens of paged API calls. So: a hash table of entries,
 * each holding a snapshot (or a remembered ENOENT) and when it was
 * fetched; a fill in flight marks its entry, and other callers for that key
 * sleep on one shared condition variable instead of calling the API again.
 * The lock is never held across a fill. An entry that is dropped (or
 * cleared, or evicted) while someone is still using it is unlinked from the
 * table at once and freed by the last user, so a late fill cannot bring a
 * dropped key back. Whole snapshots are evicted least-recently-used first
 * until the accounted bytes fit the budget.
 *
 * Lock order: the cache mutex is not a leaf. fill runs without it, but the
 * hooks run with it held and take other modules' locks: on_ahead queues a
 * refresh (bg's mutex), on_change tells the kernel and the fleet (notify's
 * and tier's mutexes), on_stale logs. So cache -> {bg, notify, tier}, and
 * none of those may call back into the cache while holding its own lock.
 * The clock runs with it held too, so a clock must not call into the cache.
 * HACKING.md has the whole order.
 */
#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "monotime.h"

#define BUCKETS_MIN 64
#define RETRY 1 /* internal: look the key up again */

struct centry {
	struct centry *hnext;	    /* hash chain */
	struct centry *prev, *next; /* LRU list, most recent first */
	struct snap *snap;	    /* the cached listing, or NULL */
	bool neg;		    /* a remembered ENOENT */
	bool filling;		    /* a fill for this entry is in flight */
	bool linked;		    /* in the table; false once dropped */
	bool ahead;		    /* a refresh-ahead was asked for this snapshot */
	void *fill_arg;		    /* the fill in flight's argument, for on_join */
	int64_t fill_born;	    /* when the fill in flight began */
	int64_t retry_at;	    /* stale-if-error: no refill before this */
	int64_t refill_at;	    /* a refill of this expired snapshot was queued then (0: none) */
	bool stale_told;	    /* the refill was said to be slow: once per refill */
	bool fail_told;		    /* the last failed refill was said (on_stale) */
	unsigned pins;		    /* waiters still holding a pointer */
	uint64_t done;		    /* fills completed: waiters watch it move */
	int last_err;		    /* result of the latest completed fill */
	int64_t fetched_at;	    /* when the fill behind snap/neg began */
	int64_t neg_ttl;	    /* for cache_peek, which has no neg ttl */
	size_t bytes;		    /* what this entry adds to cache->bytes */
	uint64_t hash;
	char key[];
};

struct cache {
	pthread_mutex_t mu; /* guards everything below but the clock and the hooks,
			       set before use; held while hooks run (see above) */
	pthread_cond_t cv;  /* a fill completed (any key) */
	cache_clock_fn clock;
	void *clock_arg;
	size_t max_bytes;
	struct centry **tab;
	size_t nbuckets, nlinked;
	struct centry *head, *tail;
	size_t bytes;
	struct cache_stats st; /* counters only; the rest is computed */
	int64_t max_stale_ms, stale_retry_ms;
	cache_stale_fn on_stale;
	void *stale_arg;
	cache_ahead_ms_fn ahead_ms;
	cache_ahead_fn on_ahead;
	void *ahead_arg;
	cache_join_fn on_join;
	cache_progress_fn progress;
	cache_change_fn on_change;
	void *change_arg;
	int64_t wait_limit_ms; /* a waiter gives up after this (0: never) */
	int64_t stale_wait_ms; /* a refill slower than this serves the old listing */
	bool failing;	       /* a refill failed or was that slow, and no fill has
				  succeeded since: nobody waits for refills */
};

static int64_t monotonic_ms(void *arg)
{
	(void)arg;
	return monotime_ms();
}

struct cache *cache_new(size_t max_bytes, cache_clock_fn clock, void *clock_arg)
{
	struct cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->tab = calloc(BUCKETS_MIN, sizeof(c->tab[0]));
	if (!c->tab)
		goto out_free;
	if (pthread_mutex_init(&c->mu, NULL))
		goto out_tab;
	if (pthread_cond_init(&c->cv, NULL))
		goto out_mutex;
	c->nbuckets = BUCKETS_MIN;
	c->max_bytes = max_bytes;
	c->clock = clock ? clock : monotonic_ms;
	c->clock_arg = clock_arg;
	return c;
out_mutex:
	pthread_mutex_destroy(&c->mu);
out_tab:
	free(c->tab);
out_free:
	free(c);
	return NULL;
}

/* ---- table and LRU list (all with the lock held) ------------------------- */

static uint64_t hash_key(const char *s)
{
	return hash_fnv64_str(HASH_FNV64_BASIS, s);
}

static struct centry *lookup(const struct cache *c, const char *key, uint64_t h)
{
	struct centry *e = c->tab[h % c->nbuckets];

	while (e && (e->hash != h || strcmp(e->key, key)))
		e = e->hnext;
	return e;
}

/* Doubles the bucket array; on -ENOMEM the chains just get longer. */
static void table_grow(struct cache *c)
{
	size_t n = c->nbuckets * 2;
	struct centry **tab = calloc(n, sizeof(tab[0]));

	if (!tab)
		return;
	for (size_t i = 0; i < c->nbuckets; i++)
		while (c->tab[i]) {
			struct centry *e = c->tab[i];

			c->tab[i] = e->hnext;
			e->hnext = tab[e->hash % n];
			tab[e->hash % n] = e;
		}
	free(c->tab);
	c->tab = tab;
	c->nbuckets = n;
}

static void lru_remove(struct cache *c, struct centry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct cache *c, struct centry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	else
		c->tail = e;
	c->head = e;
}

static void lru_touch(struct cache *c, struct centry *e)
{
	if (c->head == e)
		return;
	lru_remove(c, e);
	lru_push(c, e);
}

static size_t entry_overhead(const struct centry *e)
{
	return sizeof(*e) + strlen(e->key) + 1;
}

/* A new, empty entry for key, linked into the table. */
static struct centry *entry_new(struct cache *c, const char *key, uint64_t h)
{
	size_t len = strlen(key) + 1;
	struct centry *e = calloc(1, sizeof(*e) + len);

	if (!e)
		return NULL;
	memcpy(e->key, key, len);
	e->hash = h;
	e->linked = true;
	e->bytes = entry_overhead(e);
	if (c->nlinked >= c->nbuckets)
		table_grow(c);
	e->hnext = c->tab[h % c->nbuckets];
	c->tab[h % c->nbuckets] = e;
	c->nlinked++;
	c->bytes += e->bytes;
	lru_push(c, e);
	return e;
}

static void entry_maybe_free(struct centry *e)
{
	if (!e->linked && !e->pins && !e->filling)
		free(e);
}

/* Takes e out of the table and releases its result; the memory goes when
 * the last waiter or the fill in flight lets go of it. */
static void entry_unlink(struct cache *c, struct centry *e)
{
	struct centry **pp = &c->tab[e->hash % c->nbuckets];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	e->hnext = NULL;
	lru_remove(c, e);
	c->nlinked--;
	c->bytes -= e->bytes;
	snap_unref(e->snap);
	e->snap = NULL;
	e->neg = false;
	e->linked = false;
	entry_maybe_free(e);
}

/* Replaces e's result with s (a reference the cache now owns) or, for s
 * NULL, a remembered ENOENT; born is when its fill started (fresh.h: age
 * counts from the first request, not from when the last page came). */
static void entry_install(struct cache *c, struct centry *e, struct snap *s, int64_t neg_ttl, int64_t born)
{
	c->bytes -= e->bytes;
	snap_unref(e->snap);
	e->snap = s;
	e->neg = !s;
	e->neg_ttl = neg_ttl;
	e->fetched_at = born;
	e->ahead = false;
	e->retry_at = 0;
	e->refill_at = 0;
	e->stale_told = false;
	e->bytes = entry_overhead(e) + (s ? snap_bytes(s) : 0);
	c->bytes += e->bytes;
	lru_touch(c, e);
}

/* Evicts least-recently-used entries, never keep nor one being filled,
 * until the budget holds. */
static void evict(struct cache *c, const struct centry *keep)
{
	struct centry *e = c->tail;

	while (e && c->bytes > c->max_bytes) {
		struct centry *prev = e->prev;

		if (e != keep && !e->filling) {
			entry_unlink(c, e);
			c->st.evictions++;
		}
		e = prev;
	}
}

/* ---- lookups and fills ----------------------------------------------------- */

/* Asks once per snapshot for an early refresh when it is used late in
 * its life, so a directory in use is never waited for. */
static void maybe_ahead(struct cache *c, struct centry *e, int64_t now, int64_t ttl_ms)
{
	int64_t ahead;

	if (!c->on_ahead || !c->ahead_ms || e->ahead || e->filling)
		return;
	ahead = c->ahead_ms(c->ahead_arg, e->key);
	if (ahead <= 0 || now - e->fetched_at < ttl_ms - ahead)
		return;
	e->ahead = true;
	c->st.refreshes_ahead++;
	c->on_ahead(c->ahead_arg, e->key);
}

/* err: the failed refill's error, or 0 when none was tried now; a
 * failure of a refill that ran elsewhere (the background) is said the
 * first time its old listing is served. */
static int serve_stale(struct cache *c, struct centry *e, int64_t now, int err, struct snap **out)
{
	if (!err && !e->fail_told && e->last_err)
		err = e->last_err;
	if (err)
		e->fail_told = true;
	*out = snap_ref(e->snap);
	c->st.stale_served++;
	if (c->on_stale)
		c->on_stale(c->stale_arg, e->key, err, now - e->fetched_at);
	return 0;
}

/* After a failed refill (err): the old snapshot if stale-if-error allows. */
static int try_stale(struct cache *c, const char *key, uint64_t h, int64_t ttl_ms, int err, struct snap **out)
{
	struct centry *e = lookup(c, key, h);
	int64_t now = c->clock(c->clock_arg);

	if (err == -ENOENT || err == RETRY || !e || !e->snap || now - e->fetched_at >= ttl_ms + c->max_stale_ms)
		return err;
	if (e->retry_at <= now)
		e->retry_at = now + c->stale_retry_ms;
	return serve_stale(c, e, now, err, out);
}

/* 0 and a reference for a fresh snapshot, -ENOENT for a fresh negative
 * entry, RETRY when e has nothing young enough. */
static int answer(struct cache *c, struct centry *e, int64_t now, int64_t ttl_ms, int64_t neg_ttl_ms, struct snap **out)
{
	if (e->snap && now - e->fetched_at < ttl_ms) {
		*out = snap_ref(e->snap);
		lru_touch(c, e);
		maybe_ahead(c, e, now, ttl_ms);
		return 0;
	}
	/* A refill failed a moment ago: the old listing, without asking. */
	if (e->snap && now < e->retry_at && now - e->fetched_at < ttl_ms + c->max_stale_ms)
		return serve_stale(c, e, now, 0, out);
	if (e->neg && now - e->fetched_at < neg_ttl_ms)
		return -ENOENT;
	return RETRY;
}

/* Sleeps until the fill in flight on e completes and shares its outcome:
 * its snapshot, or its error (so one failing fill is one API call however
 * many wait). RETRY when the result is gone (dropped, evicted). */
static int wait_fill(struct cache *c, struct centry *e, void *arg, struct snap **out)
{
	uint64_t seen = e->done;
	/* The limit counts from the fill's start, not the waiter's: callers
	 * the kernel lines up one after another (lookups in one directory)
	 * must not each wait a whole limit for the same fill. */
	int64_t left = e->fill_born + c->wait_limit_ms - c->clock(c->clock_arg);
	struct timespec until = monotime_after(CLOCK_REALTIME, left); /* the cv's clock */
	bool late = c->wait_limit_ms > 0 && left <= 0;
	int err;

	c->st.waits++;
	if (c->on_join && e->fill_arg)
		c->on_join(arg, e->fill_arg);
	e->pins++;
	while (e->done == seen && !late)
		if (c->wait_limit_ms <= 0)
			pthread_cond_wait(&c->cv, &c->mu);
		else
			late = pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT;
	e->pins--;
	if (e->done == seen) { /* gave up: the fill goes on without us */
		entry_maybe_free(e);
		return -ETIMEDOUT;
	}
	err = e->last_err;
	if (!err && e->linked && e->snap) {
		*out = snap_ref(e->snap);
		lru_touch(c, e);
	} else if (!err) {
		err = RETRY;
	}
	entry_maybe_free(e);
	return err;
}

/* Records a completed fill in e and wakes its waiters. s is the fill's
 * snapshot (the caller keeps that reference; the cache takes its own). */
static void fill_done(struct cache *c, struct centry *e, int err, struct snap *s, int64_t neg_ttl_ms, int64_t born,
		      void *arg)
{
	e->filling = false;
	e->done++;
	e->last_err = err;
	e->refill_at = 0;
	e->stale_told = false;
	e->fail_told = !err;
	if (err)
		c->st.fill_errors++;
	/* An API that fails, fast or by not answering, is failing for every
	 * listing until one fill succeeds: expired listings that may still be
	 * served are, without waiting for their refills (refill_or_stale). */
	if (err && err != -ENOENT)
		c->failing = true;
	else if (!err)
		c->failing = false;
	/* A failed refill of a listing that may still be served: serve it,
	 * without asking the API, for a while (answer()). */
	if (err && err != -ENOENT && e->snap && c->max_stale_ms > 0 && e->retry_at <= c->clock(c->clock_arg))
		e->retry_at = c->clock(c->clock_arg) + c->stale_retry_ms;
	pthread_cond_broadcast(&c->cv);
	if (!e->linked) {
		entry_maybe_free(e); /* dropped meanwhile: keep nothing */
	} else if (!err || err == -ENOENT) {
		/* A listing that replaces a different one: whoever showed the
		 * old one (the kernel) is told now, not when it would expire. */
		bool changed = e->snap && (!s || snap_version(e->snap) != snap_version(s));

		entry_install(c, e, s ? snap_ref(s) : NULL, neg_ttl_ms, born);
		if (changed && c->on_change)
			c->on_change(c->change_arg, e->key, arg);
		evict(c, e);
	} else if (!e->snap && !e->neg) {
		entry_unlink(c, e); /* errors are not cached, and nothing else is here */
	}
}

/* Fills key (e is its stale entry or NULL). Called and returns locked. */
static int run_fill(struct cache *c, struct centry *e, const char *key, uint64_t h, int64_t neg_ttl_ms,
		    cache_fill_fn fill, void *arg, struct snap **out)
{
	struct snap *s = NULL;
	int64_t born;
	int err;

	if (!e && !(e = entry_new(c, key, h)))
		return -ENOMEM;
	e->filling = true;
	e->fill_arg = arg;
	c->st.fills++;
	born = c->clock(c->clock_arg);
	e->fill_born = born;
	pthread_mutex_unlock(&c->mu);
	err = fill(arg, key, &s);
	if (err > 0 || (!err && !s))
		err = -EIO; /* a fill that broke its contract */
	if (err && s) {
		snap_unref(s);
		s = NULL;
	}
	/* Ours alone until fill_done shares it. A fill may have dated it
	 * earlier (a listing another host fetched: tier.c): the earlier wins. */
	if (s && snap_born(s) > born)
		snap_set_born(s, born);
	if (s)
		born = snap_born(s);
	pthread_mutex_lock(&c->mu);
	e->fill_arg = NULL;
	fill_done(c, e, err, s, neg_ttl_ms, born, arg);
	if (!err)
		*out = s;
	return err;
}

/* Whether e holds a listing past its ttl that may still be served while
 * its refill is slow (stale-if-error, with a bound on the wait). */
static bool stale_servable(const struct cache *c, const struct centry *e, int64_t now, int64_t ttl_ms)
{
	return c->max_stale_ms > 0 && c->stale_wait_ms > 0 && e->snap && now - e->fetched_at < ttl_ms + c->max_stale_ms;
}

/* Waits (locked, e pinned by the caller) until a fill of e completes or
 * until (the clock's ms); true when one completed. */
static bool wait_done(struct cache *c, struct centry *e, int64_t until)
{
	uint64_t seen = e->done;
	struct timespec ts = monotime_after(CLOCK_REALTIME, until - c->clock(c->clock_arg)); /* the cv's clock */

	while (e->done == seen && c->clock(c->clock_arg) < until)
		if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT)
			break;
	return e->done != seen;
}

/* How far e's fill in flight has come (0: none in flight, or no hook). */
static uint64_t progress_of(const struct cache *c, const struct centry *e)
{
	return c->progress && e->filling && e->fill_arg ? c->progress(e->fill_arg) : 0;
}

/* Waits (locked, e pinned) for e's refill until until; while its fill
 * makes progress (pages arriving: the API answers) the wait goes on, a
 * stale bound at a time, up to the wait limit from the fill's start.
 * True when a fill completed. */
static bool wait_refill(struct cache *c, struct centry *e, int64_t until)
{
	for (;;) {
		uint64_t seen = progress_of(c, e);
		int64_t now, cap;

		if (wait_done(c, e, until))
			return true;
		now = c->clock(c->clock_arg);
		if (!e->linked || !e->filling || progress_of(c, e) == seen)
			return false;
		until = now + c->stale_wait_ms;
		cap = e->fill_born + c->wait_limit_ms;
		if (c->wait_limit_ms > 0 && until > cap)
			until = cap;
		if (now >= until)
			return false;
	}
}

/* e's listing expired but may still be served: its refill runs in the
 * background (queued once), and a caller waits for it at most
 * stale_wait_ms from when it was asked for (and no later than stale_by,
 * the request's own bound), but on while the refill makes progress; a
 * refill silent for that long is treated as a failure, and the old
 * listing is served meanwhile. While the API is known to fail (a refill
 * failed or was that silent: c->failing, until any fill succeeds) nobody
 * waits at all, so a path resting on several expired listings costs one
 * bound, not one each. Without a background to queue on, the refill runs
 * here as before. RETRY: look again (a fill completed). */
static int refill_or_stale(struct cache *c, struct centry *e, const char *key, uint64_t h, int64_t neg_ttl_ms,
			   cache_fill_fn fill, void *arg, int64_t stale_by, struct snap **out)
{
	int64_t now = c->clock(c->clock_arg), since, until;

	if (!e->filling && !e->refill_at) {
		e->refill_at = now;
		if (!c->on_ahead || c->on_ahead(c->ahead_arg, e->key) != 0) {
			e->refill_at = 0;
			return run_fill(c, e, key, h, neg_ttl_ms, fill, arg, out);
		}
	}
	since = e->filling ? e->fill_born : e->refill_at;
	if (e->filling && e->refill_at && e->refill_at < since)
		since = e->refill_at;
	until = since + c->stale_wait_ms < stale_by ? since + c->stale_wait_ms : stale_by;
	if (!c->failing && now < until) {
		bool done;

		e->pins++;
		c->st.waits++;
		done = wait_refill(c, e, until);
		e->pins--;
		if (done || !e->linked || !e->snap) {
			entry_maybe_free(e); /* dropped meanwhile: freed here */
			return RETRY;
		}
		c->failing = true;
	}
	now = c->clock(c->clock_arg);
	*out = snap_ref(e->snap);
	c->st.stale_served++;
	if (c->on_stale && !e->stale_told)
		c->on_stale(c->stale_arg, e->key, -EINPROGRESS, now - e->fetched_at);
	e->stale_told = true;
	return 0;
}

int cache_get(struct cache *c, const char *key, int64_t ttl_ms, int64_t neg_ttl_ms, cache_fill_fn fill, void *arg,
	      struct snap **out)
{
	return cache_get_by(c, key, ttl_ms, neg_ttl_ms, fill, arg, INT64_MAX, out);
}

int64_t cache_stale_by(struct cache *c)
{
	int64_t ms;

	pthread_mutex_lock(&c->mu);
	ms = c->stale_wait_ms;
	pthread_mutex_unlock(&c->mu);
	return ms > 0 ? c->clock(c->clock_arg) + ms : INT64_MAX;
}

int cache_get_by(struct cache *c, const char *key, int64_t ttl_ms, int64_t neg_ttl_ms, cache_fill_fn fill, void *arg,
		 int64_t stale_by, struct snap **out)
{
	uint64_t h = hash_key(key);
	bool missed = false;
	int err;

	pthread_mutex_lock(&c->mu);
	do {
		struct centry *e = lookup(c, key, h);

		err = e ? answer(c, e, c->clock(c->clock_arg), ttl_ms, neg_ttl_ms, out) : RETRY;
		if (err != RETRY) {
			c->st.hits += !missed;
			break;
		}
		c->st.misses += !missed;
		missed = true;
		if (e && stale_servable(c, e, c->clock(c->clock_arg), ttl_ms))
			err = refill_or_stale(c, e, key, h, neg_ttl_ms, fill, arg, stale_by, out);
		else if (e && e->filling)
			err = wait_fill(c, e, arg, out);
		else
			err = run_fill(c, e, key, h, neg_ttl_ms, fill, arg, out);
		if (err < 0 && c->max_stale_ms > 0)
			err = try_stale(c, key, h, ttl_ms, err, out);
	} while (err == RETRY);
	pthread_mutex_unlock(&c->mu);
	return err;
}

int cache_peek(struct cache *c, const char *key, int64_t ttl_ms, struct snap **out)
{
	struct centry *e;
	int err = -EAGAIN;

	pthread_mutex_lock(&c->mu);
	e = lookup(c, key, hash_key(key));
	if (e)
		err = answer(c, e, c->clock(c->clock_arg), ttl_ms, e->neg_ttl, out);
	if (err == RETRY)
		err = -EAGAIN;
	else if (err != -EAGAIN)
		c->st.hits++;
	pthread_mutex_unlock(&c->mu);
	return err;
}

int cache_refill(struct cache *c, const char *key, int64_t neg_ttl_ms, cache_fill_fn fill, void *arg)
{
	uint64_t h = hash_key(key);
	struct centry *e;
	struct snap *s = NULL;
	int err = 0;

	pthread_mutex_lock(&c->mu);
	e = lookup(c, key, h);
	if (!e || !e->filling)
		err = run_fill(c, e, key, h, neg_ttl_ms, fill, arg, &s);
	pthread_mutex_unlock(&c->mu);
	snap_unref(s);
	return err;
}

int cache_held(struct cache *c, const char *key, struct snap **out)
{
	struct centry *e;

	pthread_mutex_lock(&c->mu);
	e = lookup(c, key, hash_key(key));
	*out = e ? snap_ref(e->snap) : NULL;
	pthread_mutex_unlock(&c->mu);
	return *out ? 0 : -EAGAIN;
}

bool cache_filling(struct cache *c, const char *key)
{
	struct centry *e;
	bool yes;

	pthread_mutex_lock(&c->mu);
	e = lookup(c, key, hash_key(key));
	yes = e && e->filling;
	pthread_mutex_unlock(&c->mu);
	return yes;
}

int64_t cache_now(struct cache *c)
{
	return c->clock(c->clock_arg);
}

void cache_set_stale(struct cache *c, int64_t max_stale_ms, int64_t retry_ms, cache_stale_fn on_stale, void *arg)
{
	pthread_mutex_lock(&c->mu);
	c->max_stale_ms = max_stale_ms > 0 ? max_stale_ms : 0;
	c->stale_retry_ms = retry_ms > 0 ? retry_ms : 0;
	c->on_stale = on_stale;
	c->stale_arg = arg;
	pthread_mutex_unlock(&c->mu);
}

void cache_set_join(struct cache *c, cache_join_fn on_join)
{
	pthread_mutex_lock(&c->mu);
	c->on_join = on_join;
	pthread_mutex_unlock(&c->mu);
}

void cache_set_wait_limit(struct cache *c, int64_t ms)
{
	pthread_mutex_lock(&c->mu);
	c->wait_limit_ms = ms;
	pthread_mutex_unlock(&c->mu);
}

void cache_set_change(struct cache *c, cache_change_fn on_change, void *arg)
{
	pthread_mutex_lock(&c->mu);
	c->on_change = on_change;
	c->change_arg = arg;
	pthread_mutex_unlock(&c->mu);
}

void cache_set_ahead(struct cache *c, cache_ahead_ms_fn ahead_ms, cache_ahead_fn on_ahead, void *arg)
{
	pthread_mutex_lock(&c->mu);
	c->ahead_ms = ahead_ms;
	c->on_ahead = on_ahead;
	c->ahead_arg = arg;
	pthread_mutex_unlock(&c->mu);
}

void cache_set_progress(struct cache *c, cache_progress_fn progress)
{
	pthread_mutex_lock(&c->mu);
	c->progress = progress;
	pthread_mutex_unlock(&c->mu);
}

void cache_set_stale_wait(struct cache *c, int64_t ms)
{
	pthread_mutex_lock(&c->mu);
	c->stale_wait_ms = ms > 0 ? ms : 0;
	pthread_mutex_unlock(&c->mu);
}

bool cache_stale_held(struct cache *c, const char *key, int64_t ttl_ms)
{
	struct centry *e;
	bool yes;

	pthread_mutex_lock(&c->mu);
	e = lookup(c, key, hash_key(key));
	yes = e && e->snap && c->clock(c->clock_arg) - e->fetched_at >= ttl_ms &&
	      stale_servable(c, e, c->clock(c->clock_arg), ttl_ms);
	pthread_mutex_unlock(&c->mu);
	return yes;
}

void cache_drop(struct cache *c, const char *key)
{
	struct centry *e;

	pthread_mutex_lock(&c->mu);
	e = lookup(c, key, hash_key(key));
	if (e)
		entry_unlink(c, e);
	pthread_mutex_unlock(&c->mu);
}

void cache_drop_prefix(struct cache *c, const char *prefix)
{
	size_t n = strlen(prefix);
	struct centry *e, *next;

	pthread_mutex_lock(&c->mu);
	for (e = c->head; e; e = next) {
		next = e->next; /* entry_unlink may free e */
		if (strncmp(e->key, prefix, n) == 0)
			entry_unlink(c, e);
	}
	pthread_mutex_unlock(&c->mu);
}

static void unlink_all(struct cache *c)
{
	/* entry_unlink takes each off the list before it may free it. */
	while (c->head)
		entry_unlink(c, c->head); // NOLINT(clang-analyzer-unix.Malloc)
}

void cache_clear(struct cache *c)
{
	pthread_mutex_lock(&c->mu);
	unlink_all(c);
	pthread_mutex_unlock(&c->mu);
}

void cache_get_stats(struct cache *c, struct cache_stats *out)
{
	int64_t now;

	pthread_mutex_lock(&c->mu);
	now = c->clock(c->clock_arg);
	*out = c->st;
	out->entries = 0;
	out->bytes = c->bytes;
	out->oldest_ms = 0;
	for (const struct centry *e = c->head; e; e = e->next) {
		if (!e->snap && !e->neg)
			continue; /* a first fill still in flight */
		out->entries++;
		if (now - e->fetched_at > out->oldest_ms)
			out->oldest_ms = now - e->fetched_at;
	}
	pthread_mutex_unlock(&c->mu);
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	/* No fill may be in flight: the caller has stopped every user. */
	unlink_all(c);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c->tab);
	free(c);
}
