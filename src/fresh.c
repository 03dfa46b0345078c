/* fresh.c — the freshness policy (see fresh.h for the contract). Pure
 * arithmetic over one monotonic clock, so that the cache, the tree and the
 * FUSE layer cannot disagree about how old a listing is or how long the
 * kernel may keep what came from it.
 */
#include "fresh.h"

#include <stdlib.h>
#include <time.h>

#include "monotime.h"

struct fresh {
	struct fresh_config cfg;
};

static int64_t monotonic_ms(void *arg)
{
	(void)arg;
	return monotime_ms();
}

struct fresh *fresh_new(const struct fresh_config *cfg)
{
	struct fresh *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->cfg = *cfg;
	if (!f->cfg.clock)
		f->cfg.clock = monotonic_ms;
	if (f->cfg.ttl_ms < 0)
		f->cfg.ttl_ms = 0;
	if (f->cfg.neg_ttl_ms < 0)
		f->cfg.neg_ttl_ms = 0;
	/* Nothing shown is older than ttl, "no such name" included. */
	if (f->cfg.neg_ttl_ms > f->cfg.ttl_ms)
		f->cfg.neg_ttl_ms = f->cfg.ttl_ms;
	if (f->cfg.max_stale_ms < 0)
		f->cfg.max_stale_ms = 0;
	return f;
}

void fresh_free(struct fresh *f)
{
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

int64_t fresh_ttl_ms(const struct fresh *f)
{
	return f->cfg.ttl_ms;
}

int64_t fresh_neg_ttl_ms(const struct fresh *f)
{
	return f->cfg.neg_ttl_ms;
}

int64_t fresh_max_stale_ms(const struct fresh *f)
{
	return f->cfg.max_stale_ms;
}

/* Below 4 s a background refresh would race the user's own refill. */
int64_t fresh_ahead_ms(const struct fresh *f)
{
	return f->cfg.ttl_ms >= 4000 ? f->cfg.ttl_ms / 4 : 0;
}

int64_t fresh_stale_retry_ms(const struct fresh *f)
{
	int64_t ms = f->cfg.ttl_ms / 4;

	return ms < 1000 ? 1000 : ms > 30000 ? 30000 : ms;
}

int64_t fresh_expiry(const struct fresh *f, int64_t born_ms)
{
	return born_ms + f->cfg.ttl_ms;
}

double fresh_kernel_timeout(const struct fresh *f, int64_t until_ms)
{
	int64_t now = fresh_now(f), ahead_at = until_ms - fresh_ahead_ms(f);
	int64_t left = (now < ahead_at ? ahead_at : until_ms) - now;

	if (left <= 0)
		return 0.0;
	if (left > f->cfg.ttl_ms)
		left = f->cfg.ttl_ms;
	return (double)left / 1000.0;
}
