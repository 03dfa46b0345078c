/* stats.c — the value of the stats attribute: the counters of the API
 * client, the FUSE layer, the page-cache stores, the listing cache,
 * deletion and the shared tier, one "name: value" a line, in that order (scripts and tests read them by
 * name; imgtagfs(1) lists them). The one place the FUSE layer's control
 * plane reaches the counters of the layers below it.
 */
#include "stats.h"

#include "buf.h"
#include "cache.h"
#include "notify.h"
#include "prestore.h"
#include "prune.h"
#include "tier.h"
#include "uhub.h"

static int render_prune(struct prune *pr, struct buf *v)
{
	struct prune_stats s;

	prune_get_stats(pr, &s);
	return buf_printf(v,
			  "deletes_done: %llu\ndeletes_refused: %llu\ndeletes_failed: %llu\ndeletes_running: %llu\n"
			  "deletes_shown: %zu\ndeletes_kept: %zu\n",
			  (unsigned long long)s.done, (unsigned long long)s.refused, (unsigned long long)s.failed,
			  (unsigned long long)s.running, s.shown, s.kept);
}

/* The counters of user.imgtagfs.stats, one "name: value" a line. */
static int render_tier(struct tier *tier, struct buf *v)
{
	struct tier_stats ts;

	tier_get_stats(tier, &ts);
	return buf_printf(v,
			  "shared_up: %d\nshared_hits: %llu\nshared_misses: %llu\nshared_writes: %llu\n"
			  "shared_rejected: %llu\nshared_errors: %llu\nshared_waits: %llu\nshared_squatted: %llu\n"
			  "shared_invalidations_sent: %llu\nshared_invalidations_received: %llu\n",
			  ts.up, (unsigned long long)ts.hits, (unsigned long long)ts.misses,
			  (unsigned long long)ts.writes, (unsigned long long)ts.rejected, (unsigned long long)ts.errors,
			  (unsigned long long)ts.waits, (unsigned long long)ts.squatted,
			  (unsigned long long)ts.invalidations_sent, (unsigned long long)ts.invalidations_received);
}

/* The stores ahead of scans (prestore.h, notify.h). */
static int render_store(const struct stats_src *src, struct buf *v)
{
	struct prestore_stats ps;
	struct notify_stats ns;

	prestore_get_stats(src->ps, &ps);
	notify_get_stats(src->kn, &ns);
	return buf_printf(v,
			  "store_batches: %llu\nstore_batches_skipped: %llu\nstore_files: %llu\n"
			  "store_files_skipped: %llu\nstore_files_dropped: %llu\n",
			  (unsigned long long)ps.batches, (unsigned long long)ps.batches_skipped,
			  (unsigned long long)ns.stored, (unsigned long long)ns.skipped,
			  (unsigned long long)ns.dropped);
}

int stats_render(const struct stats_src *src, const struct stats_fuse *f, struct buf *v)
{
	struct uhub_stats us;
	struct cache_stats cs;
	int err = 0;

	uhub_get_stats(src->u, &us);
	cache_get_stats(src->c, &cs);
	for (int k = UHUB_REPOS; k <= UHUB_DELETE && !err; k++)
		err = buf_printf(v, "api_calls.%s: %llu\n", uhub_action(k), (unsigned long long)us.calls[k]);
	if (!err)
		err = buf_printf(v, "api_retries: %llu\napi_errors: %llu\n", (unsigned long long)us.retries,
				 (unsigned long long)us.errors);
	for (size_t i = 0; i < us.nretcodes && !err; i++)
		err = buf_printf(v, "api_retcode.%ld: %llu\n", us.retcodes[i].code,
				 (unsigned long long)us.retcodes[i].count);
	if (!err)
		err = buf_printf(v,
				 "fuse_opens: %lu\nfuse_getattrs: %lu\nfuse_lookups: %lu\nfuse_readdirs: %lu\n"
				 "fuse_reads: %lu\nfuse_forgets: %lu\nfuse_handle_names: %lu\ninodes: %zu\n"
				 "open_dirs: %zu\nopen_dirs_bytes: %zu\ndeadline_timeouts: %lu\nheap_bytes: %zu\n",
				 f->opens, f->getattrs, f->lookups, f->readdirs, f->reads, f->forgets, f->handle_names,
				 f->inodes, f->open_dirs, f->open_dirs_bytes, f->deadline_timeouts, f->heap_bytes);
	if (!err && src->ps && src->kn)
		err = render_store(src, v);
	if (!err)
		err = buf_printf(v,
				 "cache_hits: %llu\ncache_misses: %llu\ncache_evictions: %llu\n"
				 "cache_fills: %llu\ncache_fill_errors: %llu\ncache_waits: %llu\n"
				 "cache_stale_served: %llu\ncache_refreshes_ahead: %llu\n"
				 "cache_snapshots: %zu\ncache_bytes: %zu\ncache_oldest_age_s: %lld\n",
				 (unsigned long long)cs.hits, (unsigned long long)cs.misses,
				 (unsigned long long)cs.evictions, (unsigned long long)cs.fills,
				 (unsigned long long)cs.fill_errors, (unsigned long long)cs.waits,
				 (unsigned long long)cs.stale_served, (unsigned long long)cs.refreshes_ahead,
				 cs.entries, cs.bytes, (long long)(cs.oldest_ms / 1000));
	if (!err && src->pr)
		err = render_prune(src->pr, v);
	return err || !src->tier ? err : render_tier(src->tier, v);
}
