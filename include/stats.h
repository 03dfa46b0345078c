/* stats.h — the stats attribute's value (user.imgtagfs.stats): the
 * counters of the API client (uhub.h), those the FUSE layer gives, the
 * stores ahead of scans (prestore.h, notify.h), the listing cache
 * (cache.h), deletion (prune.h) and the shared tier (tier.h), in that
 * order, one "name: value" a line. Reads each module's counters under its
 * own lock.
 */
#ifndef IMGTAGFS_STATS_H
#define IMGTAGFS_STATS_H

#include <stddef.h>

struct buf;
struct cache;
struct notify;
struct prestore;
struct prune;
struct tier;
struct uhub;

/* Whose counters are shown (borrowed); tier NULL: no shared_* lines; ps
 * or kn NULL: no store_* lines. */
struct stats_src {
	struct uhub *u;
	struct cache *c;
	struct tier *tier;
	struct prestore *ps; /* the stores ahead of scans */
	struct notify *kn;
	struct prune *pr; /* deletion (allow_delete), or NULL: no deletes_* lines */
};

/* The FUSE layer's own counters, as read by it. */
struct stats_fuse {
	unsigned long opens, getattrs, lookups, readdirs, reads, forgets;
	unsigned long handle_names; /* names looked at for bare inodes */
	size_t inodes, open_dirs, open_dirs_bytes;
	unsigned long deadline_timeouts;
	size_t heap_bytes; /* the heap in use (mallinfo2), 0 where unknown */
};

/* Appends every counter to v. 0 or buf's -errno (-EFBIG past its cap,
 * -ENOMEM); on error v holds whole lines only. */
int stats_render(const struct stats_src *src, const struct stats_fuse *f, struct buf *v);

#endif
