/* cache.h — TTL cache of directory snapshots, keyed by string, with
 * single-flight fills and a byte budget enforced by evicting whole
 * least-recently-used snapshots.
 *
 * It knows nothing of the API: the tree hands it a key and a fill function
 * (which pages through the API), and the cache calls fill at most once at a
 * time per key (concurrent callers wait for that fill), never while
 * holding its lock. The clock is injected, so tests control time.
 * Thread-safe: one mutex guards the table; fills run unlocked; the hooks
 * set with cache_set_ahead, cache_set_change and cache_set_stale run with
 * it held (lock order: cache -> {bg, notify, tier}; see HACKING.md).
 */
#ifndef IMGTAGFS_CACHE_H
#define IMGTAGFS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snap.h"

/* Monotonic milliseconds. */
typedef int64_t (*cache_clock_fn)(void *arg);
/* Produces the snapshot for key: 0 and *out (one reference, handed to the
 * cache), or -errno. Called without the cache's lock. The cache dates the
 * snapshot from the fill's start (snap_born), unless the fill dated it
 * earlier itself (a listing fetched before: its age counts from then). */
typedef int (*cache_fill_fn)(void *arg, const char *key, struct snap **out);

struct cache_stats {
	uint64_t hits, misses, evictions, fills, fill_errors, waits;
	uint64_t stale_served;	  /* answers from a listing kept past its ttl */
	uint64_t refreshes_ahead; /* early refreshes started */
	size_t entries;		  /* cached snapshots */
	size_t bytes;		  /* their snap_bytes() plus the cache's overhead */
	int64_t oldest_ms;	  /* age of the oldest cached snapshot */
};

/* clock NULL = CLOCK_MONOTONIC. NULL on -ENOMEM. cache_free(NULL) no-op. */
struct cache *cache_new(size_t max_bytes, cache_clock_fn clock, void *clock_arg);
void cache_free(struct cache *c);

/* A snapshot for key no older than ttl_ms: from the cache, or from fill.
 * A fill that fails with -ENOENT is remembered for neg_ttl_ms (later calls
 * answer -ENOENT at once); other errors are not cached. On 0, *out holds a
 * reference the caller must snap_unref. */
int cache_get(struct cache *c, const char *key, int64_t ttl_ms, int64_t neg_ttl_ms, cache_fill_fn fill, void *arg,
	      struct snap **out);
/* The same, and a wait for the refill of an expired listing that may
 * still be served (cache_set_stale_wait) ends by stale_by at the latest
 * (the cache's clock): one request resting on several such listings
 * shares one bound (see cache_stale_by). INT64_MAX: the bound alone. */
int cache_get_by(struct cache *c, const char *key, int64_t ttl_ms, int64_t neg_ttl_ms, cache_fill_fn fill, void *arg,
		 int64_t stale_by, struct snap **out);
/* Now plus the stale bound (INT64_MAX when there is none): the stale_by
 * a request takes at its start. */
int64_t cache_stale_by(struct cache *c);
/* The cached snapshot if present and younger than ttl_ms, without filling:
 * 0 (and a reference in *out), -ENOENT for a live negative entry, -EAGAIN
 * when absent or stale. Counts no miss. */
int cache_peek(struct cache *c, const char *key, int64_t ttl_ms, struct snap **out);
/* The snapshot key holds now, whatever its age (one reference in *out),
 * or -EAGAIN when it holds none; counts nothing and leaves the LRU order
 * alone. For comparing a new listing with the one it replaces. */
int cache_held(struct cache *c, const char *key, struct snap **out);
/* True while a fill of key is in flight. */
bool cache_filling(struct cache *c, const char *key);
/* The cache's clock, now. */
int64_t cache_now(struct cache *c);

/* Called (with the cache's lock held: it must only log or queue) when a
 * stale snapshot is served; err is the failed refill's error, or 0 when
 * no refill was tried (within retry_ms of the last failure). */
typedef void (*cache_stale_fn)(void *arg, const char *key, int err, int64_t age_ms);
/* Called (lock held: it must only queue work) to have key refilled in
 * the background (see cache_refill): when a snapshot is used in the last
 * ahead_ms (cache_ahead_ms_fn) of its ttl, once per snapshot, so it can be refreshed before
 * anyone has to wait for it; and when an expired snapshot that may still
 * be served is asked for (cache_set_stale_wait). 0 when queued; else the
 * caller runs the refill itself. */
typedef int (*cache_ahead_fn)(void *arg, const char *key);

/* Stale-if-error: when refilling a snapshot fails (any error but ENOENT),
 * answer with the old one while it is younger than ttl + max_stale_ms,
 * and try the API again only every retry_ms meanwhile. 0 turns it off
 * (the default). on_stale may be NULL. */
void cache_set_stale(struct cache *c, int64_t max_stale_ms, int64_t retry_ms, cache_stale_fn on_stale, void *arg);
/* Called (lock held: it must only flag) when a caller of cache_get starts
 * waiting for a fill in flight: waiter is that caller's fill argument,
 * filler the argument of the fill it waits for (valid during the call).
 * Lets a background fill be raised to the foreground when a user comes to
 * wait for it. NULL: nothing (the default). */
typedef void (*cache_join_fn)(void *waiter, void *filler);
void cache_set_join(struct cache *c, cache_join_fn on_join);
/* A caller waiting for another's fill gives up ms after that fill began
 * (0: never, the default) with -ETIMEDOUT; the fill goes on and is cached when it ends.
 * The FUSE layer sets it to the request deadline, so that a hung listing
 * holds one thread (the filler's), not one per caller. */
void cache_set_wait_limit(struct cache *c, int64_t ms);
/* Called (lock held: it must only queue) when a fill replaces a cached
 * snapshot of key with one that lists something else (another version,
 * or "does not exist"): for telling the kernel at once. fill_arg is the
 * argument of the fill that found it (what it knows of where the new
 * listing came from). NULL: nothing. */
typedef void (*cache_change_fn)(void *arg, const char *key, void *fill_arg);
void cache_set_change(struct cache *c, cache_change_fn on_change, void *arg);
/* How long before its expiry key is refreshed ahead, 0: not at all
 * (called with the lock held, on every hit: it must only compute). */
typedef int64_t (*cache_ahead_ms_fn)(void *arg, const char *key);
/* The background refill: on_ahead NULL (the default) has none, and
 * refills run in the caller. Refresh-ahead: ahead_ms NULL turns it off;
 * both are called with arg. */
void cache_set_ahead(struct cache *c, cache_ahead_ms_fn ahead_ms, cache_ahead_fn on_ahead, void *arg);
/* A hung API serves the last good listing: when a snapshot past its ttl
 * may still be served (cache_set_stale) and a background refill is set
 * (cache_set_ahead), a caller waits for its refill at most ms (counted
 * from when it was asked for), then gets the old snapshot (on_stale told
 * once, with -EINPROGRESS) while the refill goes on; once one refill was
 * that slow (or failed), nobody waits until a fill succeeds. 0 turns it off (the
 * default: callers wait for the refill, up to the wait limit). */
void cache_set_stale_wait(struct cache *c, int64_t ms);
/* How far the fill in flight whose argument is fill_arg has come: a
 * count that moves while the API answers it (pages received). Called
 * with the cache's lock held: it must only read. With it, a caller
 * waiting for the refill of a listing that may still be served waits on,
 * a stale bound at a time, as long as the count moves (up to the wait
 * limit): a listing that takes long to fetch is not a hung API. NULL:
 * nothing (the default). */
typedef uint64_t (*cache_progress_fn)(void *fill_arg);
void cache_set_progress(struct cache *c, cache_progress_fn progress);
/* True when key holds a snapshot past ttl_ms that may still be served
 * (the refill and wait above apply to it). */
bool cache_stale_held(struct cache *c, const char *key, int64_t ttl_ms);
/* Fills key now, replacing a snapshot however fresh, unless a fill for it
 * is in flight already (then 0 at once). 0 or the fill's -errno (the old
 * snapshot stays on error). */
int cache_refill(struct cache *c, const char *key, int64_t neg_ttl_ms, cache_fill_fn fill, void *arg);

/* Forgets one key / every key / every key that starts with prefix. A
 * fill in flight still completes. */
void cache_drop(struct cache *c, const char *key);
void cache_drop_prefix(struct cache *c, const char *prefix);
void cache_clear(struct cache *c);
void cache_get_stats(struct cache *c, struct cache_stats *out);

#endif
