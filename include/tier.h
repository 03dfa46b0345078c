/* tier.h — the shared tier: listings shared by a fleet of mounts through
 * Redis (shared.h), between the local cache and the API.
 *
 *	local cache  →  tier_fill: Redis  →  the API (one host of the fleet)
 *
 * A listing missing from the local cache is read from Redis; a value is
 * taken only when it is authentic (sval.h: MAC under the fleet's key, this
 * namespace, this key), younger than that listing's ttl here (fresh.h:
 * a repository's own, when it has one) by the fleet's clock, newer
 * than what the caller holds, and not older than an invalidation heard for
 * it. Otherwise one host takes the listing's lock (SET NX PX, kept alive
 * by a heartbeat while it fetches, so a lock whose holder died expires in
 * lock_ms) and fetches from the API, and writes the value with the time
 * left on its ttl as its expiry; the others poll for it, for wait_ms at
 * most, then fetch themselves. Only a live holder is waited for: a lock
 * whose value is no token of the fleet for this listing, dated by its
 * holder's heartbeat within a lock's life, or whose expiry is missing or
 * longer than a lock's, is counted as squatted (a writer to Redis set it)
 * and the listing fetched at once. Every Redis failure is a miss: the
 * caller falls back to the API as if there were no tier.
 *
 * Invalidation is Redis pub/sub on one channel per namespace: when a host
 * finds a listing changed (a refresh from the API) or drops it (refresh,
 * SIGHUP), it publishes "KEY, nothing fetched before T" (authenticated like
 * values); the others drop their local copy, tell their kernel (through
 * the receiver), and refuse Redis values of KEY fetched before T. Sending
 * runs on the tier's thread, so callers only queue.
 *
 * Thread-safe. Lock order: the cache's lock, then the tier's.
 */
#ifndef IMGTAGFS_TIER_H
#define IMGTAGFS_TIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fresh.h"
#include "log.h"
#include "shared.h"
#include "snap.h"
#include "sval.h"

#define TIER_NS_LEN 16

struct tier_config {
	struct shared *sh;	   /* borrowed */
	const struct fresh *fresh; /* borrowed: the ttl and the local clock */
	unsigned char mac_key[SVAL_KEY_LEN];
	char ns[TIER_NS_LEN + 1];
	int64_t lock_ms;  /* a lock's life without heartbeat (0: 3000) */
	int64_t wait_ms;  /* the longest wait for another host's fetch */
	size_t max_value; /* the largest value read or written */
	struct log *log;
};

/* What makes two mounts' listings of one key the same listing: the
 * account's view (project, public key), the registry (endpoint), and the
 * options that shape a listing's contents (repo_type: which repositories
 * the root lists; api_tz: the zone tag times are read in). Mounts that
 * differ in any of them must not share. */
struct tier_scope {
	const char *project; /* NULL: the key's default */
	const char *public_key;
	const char *endpoint;
	const char *repo_type;
	long api_tz;
};
/* The namespace of a scope: 16 hex digits of a SHA-256. 0 or -EIO. */
int tier_namespace(const struct tier_scope *sc, char ns[TIER_NS_LEN + 1]);
/* What a Redis ACL grants the fleet of namespace ns, and nothing more:
 * "resetkeys ~imgtagfs:1:NS:* resetchannels &imgtagfs:1:NS:inval" (its
 * keys and its channel; another fleet's are out of reach), into out.
 * With shared_acl_commands it makes the user's line. 0, or -ENAMETOOLONG
 * when out is too small. Pure. */
int tier_acl_scope(const char *ns, char *out, size_t n);
/* The MAC key from a secret (the API private key, or shared_cache_key's
 * file) and the project, by HKDF-SHA256. 0, -EINVAL (a project name too
 * long for the HKDF info), or -EIO. */
int tier_derive_key(const void *secret, size_t n, const char *project, unsigned char key[SVAL_KEY_LEN]);

/* NULL on -ENOMEM. tier_free(NULL) is a no-op (it stops the tier). */
struct tier *tier_new(const struct tier_config *cfg);
void tier_free(struct tier *t);
/* Starts the tier's thread and the subscriber (after daemonizing). 0 or
 * -errno. tier_stop ends waits in progress too; idempotent. */
int tier_start(struct tier *t);
void tier_stop(struct tier *t);
/* Ends waits for other hosts now, and makes later ones end at once (the
 * session is ending); never blocks. tier_stop still joins the threads. */
void tier_cancel(struct tier *t);

/* Fetches a listing from the API: 0 and *out, or -errno. */
typedef int (*tier_api_fn)(void *arg, struct snap **out);
/* Where a fill's listing came from. */
struct tier_result {
	bool from_api;
	int64_t fetched; /* local clock: when the API call began */
};
/* The listing key: from Redis (dated by its fetch time: snap_born is set)
 * when a value there is born after min_born, else from api (fleet-wide
 * single flight) and written to Redis. 0 and *out, or api's -errno. */
int tier_fill(struct tier *t, const char *key, int64_t min_born, tier_api_fn api, void *arg, struct snap **out,
	      struct tier_result *res);
/* A fill from the API found key's listing changed: the fleet is told.
 * Only queues (callable with the cache's lock held). */
void tier_changed(struct tier *t, const char *key, const struct tier_result *res);
/* key's listing was dropped here (refresh); NULL: every listing (SIGHUP).
 * Values fetched before now are refused here and, once told, fleet-wide.
 * Only queues. */
void tier_invalidate(struct tier *t, const char *key);

/* Called on the subscriber's thread when another host invalidated key
 * (NULL: everything; also after the subscription was lost, since messages
 * may have been missed). Set before tier_start. */
typedef void (*tier_recv_fn)(void *arg, const char *key);
void tier_set_receiver(struct tier *t, tier_recv_fn fn, void *arg);

struct tier_stats {
	uint64_t hits, misses, writes, rejected, errors, waits;
	uint64_t squatted; /* locks found held by no live host of the fleet */
	uint64_t invalidations_sent, invalidations_received;
	bool up;
};
void tier_get_stats(struct tier *t, struct tier_stats *out);

/* The value key's lock takes when this host holds it at fleet_ms (the
 * fleet's clock): what other hosts judge a holder by. For tests that play
 * another host of the fleet. 0, -ENAMETOOLONG (n too small) or -EIO. */
int tier_lock_token(struct tier *t, const char *key, int64_t fleet_ms, char *out, size_t n);

#endif
