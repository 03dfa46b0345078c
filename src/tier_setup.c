/* tier_setup.c — the fleet tier from the options to a running tier (see
 * tier_setup.h): the secrets it reads (the Redis password, the fleet's
 * key), the namespace that keeps mounts apart, the Redis client, and the
 * checks at mount and under --check. Kept out of main.c, which keeps only
 * the program's order, and out of tier.c, whose policy needs none of it.
 */
#include "tier_setup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "creds.h"
#include "shared.h"
#include "sign.h"

struct tier_setup {
	struct shared *shared;
	struct tier *tier;
	struct tier_config cfg; /* the MAC key and namespace, derived early */
	char *auth;		/* shared_cache_auth's contents, until shared_new copied them */
	size_t auth_len;
	const char *auth_user, *auth_pass; /* into auth */
	char acl_user[128];		   /* the AUTH user, for --check's ACL line ("" if none) */
};

/* shared_cache_auth's file: one line, "PASSWORD" or "USER PASSWORD". */
static int split_auth(struct tier_setup *ts)
{
	char *tok[3];
	int n = 0;

	for (char *p = ts->auth; *p && n < 3;) {
		p += strspn(p, " \t\r\n");
		if (!*p)
			break;
		tok[n++] = p;
		p += strcspn(p, " \t\r\n");
		if (*p)
			*p++ = '\0';
	}
	if (n < 1 || n > 2)
		return -EINVAL;
	ts->auth_user = n == 2 ? tok[0] : NULL;
	ts->auth_pass = tok[n - 1];
	snprintf(ts->acl_user, sizeof(ts->acl_user), "%s", ts->auth_user ? ts->auth_user : "");
	return 0;
}

/* The fleet's MAC key: from shared_cache_key's file, else from the API
 * private key (which the API client drops, hence so early). */
static int derive_mac_key(struct tier_setup *ts, const struct tier_setup_src *src, char *err, size_t n)
{
	const char *path = src->cfg->shared_key;
	char *k = NULL;
	size_t len = 0;
	int rc;

	if (!path)
		return tier_derive_key(src->private_key, strlen(src->private_key), src->project, ts->cfg.mac_key);
	rc = creds_read_secret("shared_cache_key", path, &k, &len, err, n);
	if (rc)
		return rc;
	while (len && strchr(" \t\r\n", k[len - 1]))
		len--;
	if (len < 16) {
		snprintf(err, n,
			 "imgtagfs: shared_cache_key=%s: holds fewer than 16 bytes; make one with: head -c 32 "
			 "/dev/urandom | base64 > FILE; chmod 600 FILE",
			 path);
		rc = -EINVAL;
	} else {
		rc = tier_derive_key(k, len, src->project, ts->cfg.mac_key);
	}
	creds_secret_free(k, len);
	return rc;
}

static int prepare(struct tier_setup *ts, const struct tier_setup_src *src, char *err, size_t n)
{
	const struct config *c = src->cfg;
	int rc;

	if (c->shared_auth) {
		rc = creds_read_secret("shared_cache_auth", c->shared_auth, &ts->auth, &ts->auth_len, err, n);
		if (rc)
			return rc;
		if (split_auth(ts)) {
			snprintf(err, n,
				 "imgtagfs: shared_cache_auth=%s: expected one line: PASSWORD, or USER PASSWORD",
				 c->shared_auth);
			return -EINVAL;
		}
	}
	return derive_mac_key(ts, src, err, n);
}

int tier_setup_prepare(const struct tier_setup_src *src, struct tier_setup **out, char *err, size_t n)
{
	struct tier_setup *ts;
	int rc;

	*out = NULL;
	if (!src->cfg->shared_cache)
		return 0; /* opts refused shared_cache_auth= or _key= without it */
	ts = calloc(1, sizeof(*ts));
	if (!ts) {
		snprintf(err, n, "imgtagfs: out of memory");
		return -ENOMEM;
	}
	rc = prepare(ts, src, err, n);
	if (rc) {
		tier_setup_free(ts);
		return rc;
	}
	*out = ts;
	return 0;
}

/* The Redis client, from the options and ts's password (which goes). */
static int build_shared(struct tier_setup *ts, const struct config *c, struct fresh *fresh, struct log *log)
{
	struct shared_config sc = {
	    .user = ts->auth_user,
	    .password = ts->auth_pass,
	    .timeout_ms = c->shared_timeout,
	    .max_reply = c->cache_size < (64u << 20) ? c->cache_size : (64u << 20),
	    .clock = fresh_clock,
	    .clock_arg = fresh,
	    .log = log,
	};

	if (shared_addr_parse(c->shared_cache, &sc.addr, NULL, 0))
		return -EINVAL; /* checked by opts already */
	ts->shared = shared_new(&sc);
	creds_secret_free(ts->auth, ts->auth_len); /* shared_new has its copy */
	ts->auth = NULL;
	ts->auth_user = ts->auth_pass = NULL;
	if (!ts->shared)
		return -ENOMEM;
	ts->cfg.max_value = sc.max_reply;
	return 0;
}

int tier_setup_build(struct tier_setup *ts, const struct tier_setup_src *src, struct fresh *fresh, struct log *log)
{
	const struct config *c = src->cfg;
	/* Mounts share only listings that would be the same on both: the
	 * registry and the options that shape a listing are in the
	 * namespace (a repo_type=public mount's root is not a private one's). */
	struct tier_scope scope = {
	    .project = src->project,
	    .public_key = src->public_key,
	    .endpoint = src->endpoint,
	    .repo_type = c->repo_type,
	    .api_tz = c->api_tz,
	};
	int err;

	if (!ts)
		return 0;
	err = tier_namespace(&scope, ts->cfg.ns);
	if (!err)
		err = build_shared(ts, c, fresh, log);
	if (err)
		return err;
	ts->cfg.sh = ts->shared;
	ts->cfg.fresh = fresh;
	ts->cfg.log = log;
	/* Waiting for another host's fetch leaves half the deadline for our
	 * own: a wait of the whole deadline answers the user ETIMEDOUT
	 * whenever the lock is never released (a holder that hangs, or any
	 * writer to Redis: SET imgtagfs:1:NS:lock:KEY x; tests/review/
	 * lock_forever.sh). */
	ts->cfg.wait_ms = c->deadline ? (int64_t)c->deadline * 1000 / 2 : 30000;
	ts->tier = tier_new(&ts->cfg);
	sign_wipe(ts->cfg.mac_key, sizeof(ts->cfg.mac_key)); /* tier_new has its copy */
	return ts->tier ? 0 : -ENOMEM;
}

struct tier *tier_setup_tier(const struct tier_setup *ts)
{
	return ts ? ts->tier : NULL;
}

int tier_setup_check(struct tier_setup *ts, const char *source, struct log *log, char *err, size_t n)
{
	char why[256] = "", shown[512];
	int rc;

	if (!ts || !ts->shared)
		return 0;
	rc = shared_check(ts->shared, why, sizeof(why));
	/* why may quote the server: shown as the logs show it. */
	log_printable(why, shown, sizeof(shown));
	if (rc == -EACCES) {
		snprintf(err, n,
			 "imgtagfs: cannot mount %s: shared_cache: Redis refused the authentication (%s); check "
			 "shared_cache_auth's file",
			 source, shown);
		return rc;
	}
	if (rc == -EPERM) {
		snprintf(err, n,
			 "imgtagfs: cannot mount %s: shared_cache: Redis refused a command (%s); imgtagfs --check "
			 "with the same options prints the ACL line the fleet's user needs",
			 source, shown);
		return rc;
	}
	if (rc)
		log_msg(log, LOG_WARNING,
			"shared cache unreachable at mount (%s): mounting without it until it answers", why);
	return 0;
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

int tier_setup_report(struct tier_setup *ts, const char *shared_cache)
{
	struct timespec t0;
	struct shared_addr addr;
	char why[256] = "", shown[4 * sizeof(why)], where[SHARED_HOST_MAX + SHARED_PATH_MAX + 32], scope[256],
	     user[160];
	int err;

	if (!ts || !ts->shared)
		return 0;
	if (shared_addr_parse(shared_cache, &addr, NULL, 0) || tier_acl_scope(ts->cfg.ns, scope, sizeof(scope)))
		return 1;
	shared_addr_text(&addr, where, sizeof(where));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = shared_check(ts->shared, why, sizeof(why));
	/* why may quote the server: shown as the logs show it. */
	printf("shared cache: %s: %s (%.0f ms)\n", where, err ? log_printable(why, shown, sizeof(shown)) : "ok",
	       elapsed_ms(&t0));
	snprintf(user, sizeof(user), "%s%s", ts->acl_user[0] ? "" : "imgtagfs-",
		 ts->acl_user[0] ? ts->acl_user : ts->cfg.ns);
	printf("namespace:   %s\n", ts->cfg.ns);
	printf("redis ACL:   user %s on >PASSWORD %s %s\n", user, scope, shared_acl_commands(&addr));
	printf("             (a line of redis.conf, or ACL SETUSER with the same words; PASSWORD:\n"
	       "             the password in shared_cache_auth's file, as \"%s PASSWORD\")\n",
	       user);
	return err ? 1 : 0;
}

void tier_setup_free(struct tier_setup *ts)
{
	if (!ts)
		return;
	tier_free(ts->tier);
	shared_free(ts->shared);
	creds_secret_free(ts->auth, ts->auth_len);
	sign_wipe(ts->cfg.mac_key, sizeof(ts->cfg.mac_key));
	free(ts);
}
