/* tier_setup.h — the fleet tier as the options describe it: its secrets
 * read and its MAC key derived at start-up (before the API private key is
 * dropped), the Redis client and the tier built with the rest of the
 * daemon, the mount-time check, and --check's report of Redis, the
 * namespace and the ACL line a fleet's Redis user needs.
 *
 * main.c calls these in its order: tier_setup_prepare, tier_setup_build,
 * then tier_setup_check (mounting) or tier_setup_report (--check), and
 * tier_setup_free at teardown. Without shared_cache= there is no setup:
 * *out is NULL, and every function takes NULL as "no tier" (0, nothing
 * printed, NULL). Start-up only: one thread.
 */
#ifndef IMGTAGFS_TIER_SETUP_H
#define IMGTAGFS_TIER_SETUP_H

#include <stddef.h>

#include "fresh.h"
#include "log.h"
#include "opts.h"
#include "tier.h"

struct tier_setup;

/* What the tier is set up from; borrowed for each call only. */
struct tier_setup_src {
	const struct config *cfg;
	const char *project;	 /* the project in force (opts_project) */
	const char *public_key;	 /* the API keys: the namespace is the */
	const char *private_key; /* public one's, the MAC key may be the private one's */
	const char *endpoint;	 /* the API's URL (in the namespace) */
};

/* Reads shared_cache_auth's and shared_cache_key's files and derives the
 * fleet's MAC key (from shared_cache_key, else from src->private_key).
 * 0 and *out (NULL without shared_cache=), or -errno with err holding
 * the message for the user. */
int tier_setup_prepare(const struct tier_setup_src *src, struct tier_setup **out, char *err, size_t n);
/* Builds the Redis client and the tier (its namespace from src: the
 * private key is not needed, and may be gone), wiping the secrets read
 * by tier_setup_prepare. fresh and log are borrowed for the tier's
 * life. 0, -EINVAL or -ENOMEM. */
int tier_setup_build(struct tier_setup *ts, const struct tier_setup_src *src, struct fresh *fresh, struct log *log);
/* The tier built (for the tree and the FUSE layer; owned by ts), or NULL. */
struct tier *tier_setup_tier(const struct tier_setup *ts);
/* The mount-time check: Redis refusing the authentication or a command
 * fails the mount (-EACCES, -EPERM, err says why, naming source); Redis
 * unreachable is logged as a warning on log and the mount goes on (0). */
int tier_setup_check(struct tier_setup *ts, const char *source, struct log *log, char *err, size_t n);
/* --check's lines on stdout: Redis's answer with its time, the namespace,
 * the ACL line. 0, or 1 when Redis did not answer as it should. */
int tier_setup_report(struct tier_setup *ts, const char *shared_cache);
/* Frees the tier and the client (stopped already), wiping what secrets
 * remain. NULL: a no-op. */
void tier_setup_free(struct tier_setup *ts);

#endif
