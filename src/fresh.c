/* fresh.c — the freshness policy (see fresh.h for the contract). Pure
 * arithmetic over one monotonic clock, so that the cache, the tree and the
 * FUSE layer cannot disagree about how old a listing is or how long the
 * kernel may keep what came from it. A listing's ttl is its repository's
 * (-o ttl.REPO=) or the default: the one place a key becomes a ttl.
 */
#include "fresh.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "listkey.h"
#include "monotime.h"
#include "names.h"

struct fresh {
	struct fresh_config cfg;
	struct fresh_repo_ttl *repos; /* cfg.repo_ttls, copied */
	int64_t max_ttl_ms;
};

static int64_t monotonic_ms(void *arg)
{
	(void)arg;
	return monotime_ms();
}

static int64_t at_least_0(int64_t v)
{
	return v < 0 ? 0 : v;
}

/* A copy of cfg's repositories' ttls, names included, in one block. */
static int copy_repos(struct fresh *f)
{
	size_t n = f->cfg.n_repo_ttls;

	f->max_ttl_ms = f->cfg.ttl_ms;
	if (!n)
		return 0;
	f->repos = calloc(n, sizeof(*f->repos));
	if (!f->repos)
		return -1;
	for (size_t i = 0; i < n; i++) {
		f->repos[i].ttl_ms = at_least_0(f->cfg.repo_ttls[i].ttl_ms);
		f->repos[i].repo = strdup(f->cfg.repo_ttls[i].repo);
		if (!f->repos[i].repo)
			return -1;
		if (f->repos[i].ttl_ms > f->max_ttl_ms)
			f->max_ttl_ms = f->repos[i].ttl_ms;
	}
	f->cfg.repo_ttls = f->repos;
	return 0;
}

struct fresh *fresh_new(const struct fresh_config *cfg)
{
	struct fresh *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->cfg = *cfg;
	if (!f->cfg.clock)
		f->cfg.clock = monotonic_ms;
	f->cfg.ttl_ms = at_least_0(f->cfg.ttl_ms);
	f->cfg.neg_ttl_ms = at_least_0(f->cfg.neg_ttl_ms);
	f->cfg.max_stale_ms = at_least_0(f->cfg.max_stale_ms);
	if (copy_repos(f) != 0) {
		fresh_free(f);
		return NULL;
	}
	return f;
}

void fresh_free(struct fresh *f)
{
	if (!f)
		return;
	for (size_t i = 0; f->repos && i < f->cfg.n_repo_ttls; i++)
		free((char *)f->repos[i].repo);
	free(f->repos);
	free(f);
}

int64_t fresh_now(const struct fresh *f)
{
	return f->cfg.clock(f->cfg.clock_arg);
}

int64_t fresh_clock(void *f)
{
	return fresh_now(f);
}

int64_t fresh_ttl_ms(const struct fresh *f, const char *key)
{
	char repo[NAMES_MAX + 1];

	if (!f->repos || !key || listkey_repo(key, repo) != 0)
		return f->cfg.ttl_ms;
	for (size_t i = 0; i < f->cfg.n_repo_ttls; i++)
		if (strcmp(f->repos[i].repo, repo) == 0)
			return f->repos[i].ttl_ms;
	return f->cfg.ttl_ms;
}

int64_t fresh_max_ttl_ms(const struct fresh *f)
{
	return f->max_ttl_ms;
}

/* Nothing shown is older than its ttl, "no such name" included. */
int64_t fresh_neg_ttl_ms(const struct fresh *f, const char *key)
{
	int64_t ttl = fresh_ttl_ms(f, key);

	return f->cfg.neg_ttl_ms < ttl ? f->cfg.neg_ttl_ms : ttl;
}

int64_t fresh_max_stale_ms(const struct fresh *f)
{
	return f->cfg.max_stale_ms;
}

/* Below 4 s a background refresh would race the user's own refill. */
static int64_t ahead_of(int64_t ttl_ms)
{
	return ttl_ms >= 4000 ? ttl_ms / 4 : 0;
}

int64_t fresh_ahead_ms(const struct fresh *f, const char *key)
{
	return ahead_of(fresh_ttl_ms(f, key));
}

int64_t fresh_stale_retry_ms(const struct fresh *f)
{
	int64_t ms = f->cfg.ttl_ms / 4;

	return ms < 1000 ? 1000 : ms > 30000 ? 30000 : ms;
}

int64_t fresh_expiry(const struct fresh *f, const char *key, int64_t born_ms)
{
	return born_ms + fresh_ttl_ms(f, key);
}

double fresh_kernel_timeout(const struct fresh *f, const char *key, int64_t until_ms)
{
	int64_t ttl = fresh_ttl_ms(f, key);
	int64_t now = fresh_now(f), ahead_at = until_ms - ahead_of(ttl);
	int64_t left = (now < ahead_at ? ahead_at : until_ms) - now;

	if (left <= 0)
		return 0.0;
	if (left > ttl)
		left = ttl;
	return (double)left / 1000.0;
}
