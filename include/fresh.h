/* fresh.h — the one owner of freshness: how old may what we show be, and
 * how long may the kernel keep what it was told.
 *
 * The contract, which every layer asks this module about instead of
 * computing its own:
 *
 *  1. A listing's age counts from the first request of the fill that
 *     produced it (its "born" time), not from when the fill ended.
 *  2. A listing is served while its age is below ttl. Past that it is
 *     fetched again; only stale-if-error (a refill that failed, within
 *     max_stale past ttl) may serve it longer, and then the kernel is
 *     given no time at all to keep it.
 *  3. Whatever the kernel is told (an entry, attributes, a directory's
 *     copy) carries a timeout that ends no later than the listing it came
 *     from: the kernel forgets it by the time the listing would have
 *     expired. So nothing shown, by us or by the kernel's caches, is older
 *     than ttl. Told before the refresh-ahead point (rule 5), it ends
 *     there instead, so that a directory in use is asked for, and so
 *     refreshed, before its listing runs out.
 *     A directory's copy in the kernel (cache_readdir) has no timeout of
 *     its own: notify.c drops it when its listing expires.
 *  4. A "does not exist" answer lives for neg_ttl (never more than ttl:
 *     fresh_new caps it) in the cache; the kernel
 *     keeps one only for a name that can never exist (it keeps negative
 *     entries under names a refresh could not reach).
 *  5. A listing used in the last quarter of its ttl is refreshed in the
 *     background (refresh-ahead), so that nobody waits on a directory in
 *     use; from ttl 4 s up.
 *
 * "ttl" is a listing's own: a repository may have one of its own (-o
 * ttl.REPO=), which every listing of that repository (its images, its
 * tags, a tag alone) lives by; the rest, the repositories' listing
 * included, live by the default. So every question above is asked with
 * the listing's key (listkey.h); neg_ttl, the refresh-ahead point and
 * the kernel's cap follow that listing's ttl.
 *
 * Times are milliseconds of one monotonic clock (injectable for tests);
 * the cache runs on the same clock (fresh_clock is a cache_clock_fn).
 * Immutable after fresh_new: thread-safe without a lock.
 */
#ifndef IMGTAGFS_FRESH_H
#define IMGTAGFS_FRESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic milliseconds. */
typedef int64_t (*fresh_clock_fn)(void *arg);

/* A repository's own ttl. */
struct fresh_repo_ttl {
	const char *repo;
	int64_t ttl_ms;
};

struct fresh_config {
	int64_t ttl_ms;				/* a listing's life, but for repo_ttls' */
	const struct fresh_repo_ttl *repo_ttls; /* copied by fresh_new */
	size_t n_repo_ttls;
	int64_t neg_ttl_ms;   /* a "does not exist" answer's life */
	int64_t max_stale_ms; /* stale-if-error window past ttl, 0 = off */
	fresh_clock_fn clock; /* NULL = CLOCK_MONOTONIC */
	void *clock_arg;
};

/* NULL on -ENOMEM. fresh_free(NULL) is a no-op. */
struct fresh *fresh_new(const struct fresh_config *cfg);
void fresh_free(struct fresh *f);

/* The clock: now, in ms. As a cache_clock_fn, arg is the struct fresh. */
int64_t fresh_now(const struct fresh *f);
int64_t fresh_clock(void *f);

/* The ttl of the listing whose cache key is key (listkey.h); NULL or a
 * key of no repository: the default. */
int64_t fresh_ttl_ms(const struct fresh *f, const char *key);
/* The longest ttl of any listing: for what may concern any of them. */
int64_t fresh_max_ttl_ms(const struct fresh *f);
/* neg_ttl, never more than key's ttl. */
int64_t fresh_neg_ttl_ms(const struct fresh *f, const char *key);
int64_t fresh_max_stale_ms(const struct fresh *f);
/* How long before expiry listing key, in use, is refreshed (0: never). */
int64_t fresh_ahead_ms(const struct fresh *f, const char *key);
/* After a failed refresh, how often the API is asked again while the old
 * listing is served: a quarter of the default ttl, 1 to 30 s (one value
 * for all: a listing served so is past its ttl, whichever it is). */
int64_t fresh_stale_retry_ms(const struct fresh *f);

/* When listing key, born at born_ms, stops being servable. */
int64_t fresh_expiry(const struct fresh *f, const char *key, int64_t born_ms);
/* The kernel timeout, in seconds, for something from listing key valid
 * until until_ms (an expiry, or the minimum of several): the time left
 * until key's refresh-ahead point before it, or past that point until
 * until_ms; never below 0, never above key's ttl. */
double fresh_kernel_timeout(const struct fresh *f, const char *key, int64_t until_ms);

#endif
