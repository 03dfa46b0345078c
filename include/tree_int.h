/* tree_int.h — internal to the tree module (src/tree.c, src/tree_fill.c,
 * src/tree_dir.c), included by nothing else: the tree's state, a resolved
 * path, and the functions its three files share. The tree's contract is
 * tree.h.
 *
 *	tree_fill.c	the listings: cache keys, fills (API or fleet tier),
 *			prefetch and refresh-ahead jobs, change notices, the
 *			stash of dropped listings, forgetting and flushing
 *	tree.c		the namespace: a path resolved against listings (unsure
 *			ones asked again within the point-query budget), its
 *			attributes, a tag file's bytes and values, refresh
 *	tree_dir.c	the directory cursor: open directories read in chunks
 *			and resumed across listings
 *
 * Locking is as tree.h says: the stash's mutex is the only lock here.
 */
#ifndef IMGTAGFS_TREE_INT_H
#define IMGTAGFS_TREE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "listkey.h"
#include "names.h"
#include "snap.h"
#include "tree.h"

#define KEY_MAX LISTKEY_MAX
/* Listings a refresh or another host's invalidation dropped, kept until
 * their next fill so that it can tell a tag's new bytes from the ones
 * this mount saw (its ctime): at most this many, this many bytes. */
#define STASH_MAX 8
#define STASH_BYTES ((size_t)32 << 20)

struct stash_item {
	char *key; /* NULL: free */
	struct snap *s;
};

struct tree {
	struct tree_config cfg;
	char *repo; /* cfg.repo, owned */
	struct uhub *u;
	struct cache *c;
	struct log *log;
	struct bg *_Atomic bg;	   /* background workers, or NULL */
	const struct fresh *fresh; /* the freshness policy (fresh.h) */
	tree_changed_fn changed;   /* set once, before serving */
	void *changed_arg;
	struct tier *tier;	  /* the shared tier, or NULL; set once, before serving */
	struct qbudget *qb;	  /* what names a listing lacks may cost */
	pthread_mutex_t stash_mu; /* a leaf */
	struct stash_item stash[STASH_MAX];
	size_t stash_bytes;
	unsigned stash_next;
};

enum node_kind { NODE_ROOT, NODE_REPO, NODE_DIR, NODE_IMAGE, NODE_TAG };

/* A resolved path. The strings point into path_copy or into snapshots the
 * node holds references on; node_release drops them. */
struct node {
	enum node_kind kind;
	char repo[NAMES_MAX + 1];
	char image[4096];    /* the image (or image-name prefix) */
	struct snap_entry e; /* the tag, or the directory's own entry */
	int64_t mtime;
	int64_t until;	  /* earliest expiry of the listings consulted */
	bool never;	  /* the name could never exist (no listing asked) */
	bool peek;	  /* resolve from what is cached only (tree_stat_cached) */
	int64_t stale_by; /* waits for slow refills end by then (cache_get_by) */
	struct snap *hold[2];
};

/* ---- tree_fill.c: listings ------------------------------------------------- */

/* The cache key of a listing (or of one tag) into key (KEY_MAX bytes). */
void tree_key_of(char *key, enum uhub_kind k, const char *repo, const char *image, const char *tag);
/* The snapshot of a listing (or of one tag), *until of n lowered to what
 * it is worth; with plausible false or n->peek, from the cache only.
 * 0, -ENOENT, or -errno. */
int tree_get_snap(struct tree *t, enum uhub_kind k, const char *repo, const char *image, const char *tag,
		  bool plausible, struct node *n, struct snap **out);
/* Listing k fetched again now (the names it lacks ran out of budget),
 * replacing the snapshot held in *s. 0 or -errno. */
int tree_relist(struct tree *t, enum uhub_kind k, const char *repo, const char *image, struct node *n, struct snap **s);
/* Lowers *until to the expiry of snapshot s of listing key (fresh.h,
 * rule 3). */
void tree_note(const struct tree *t, const char *key, int64_t *until, const struct snap *s);
/* Queues a listing for a background fetch (no-op without workers). */
void tree_prefetch(struct tree *t, enum uhub_kind k, const char *repo, const char *image);
/* A time as shown: SNAP_NO_TIME becomes the mount time. */
int64_t tree_shown_time(const struct tree *t, int64_t mtime);
/* Forgets the cached answer behind one key here, and tells the fleet. */
void tree_drop(struct tree *t, enum uhub_kind k, const char *repo, const char *image, const char *tag);

/* ---- tree.c: the namespace ------------------------------------------------- */

/* Resolves path into n. 0 or -errno; on 0 the caller releases n. */
int tree_resolve(struct tree *t, const char *path, struct node *n);
/* The same; peek: only from fresh listings already cached, never asking
 * the API (for the notify thread). */
int tree_resolve_as(struct tree *t, const char *path, struct node *n, bool peek);
/* Drops the snapshots n holds. */
void tree_node_release(struct node *n);
/* The attributes of a directory with time mtime, of tag file e. */
void tree_dir_stat(const struct tree *t, int64_t mtime, struct stat *st);
void tree_tag_stat(const struct tree *t, const struct snap_entry *e, struct stat *st);
/* Index range [*lo, *hi) of the images under directory prefix p. */
void tree_children_range(const struct snap *imgs, const char *p, size_t *lo, size_t *hi);
/* Newest mtime of the images in [lo, hi). */
int64_t tree_newest(const struct snap *imgs, size_t lo, size_t hi);
/* The NAME of a file name NAME@tag into base (NAMES_MAX + 1 bytes). */
bool tree_alias_base(const char *name, char *base);
/* True when image directory dir has a nested image directory name. */
bool tree_has_child_dir(const struct snap *imgs, const char *dir, const char *name);

#endif
