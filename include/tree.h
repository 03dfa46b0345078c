/* tree.h — the filesystem's namespace: paths to repositories, image
 * directories (image names with '/' become nested directories) and tag
 * files, answered from cached listing snapshots.
 *
 *	/REPO				GetRepo listing
 *	/REPO/A[/B...]			GetRepoImage listing of REPO
 *	/REPO/IMAGE.../TAG		GetImageTag listing, or GetImageTag
 *					with TagName for a cold single lookup
 *
 * Listing a directory queues the listings below it for background
 * fetching (tree_config.prefetch of them at most), so `find` and `ls -R`
 * find them ready; a listing used late in its ttl is refreshed in the
 * background, yet nothing older than the ttl is ever served (but for
 * stale-if-error, when a refresh fails: see max_stale_ms).
 *
 * When a tag of image X has the name of a nested image directory X/NAME,
 * the directory keeps NAME and the tag file is shown as NAME@tag (see
 * TREE_TAG_ALIAS); neither is lost.
 * Thread-safe: listings live in the cache, the point-query budget in
 * qbudget, and the tree's own state is set once before serving but for the
 * stash of replaced listings (kept to compare with their next fetch),
 * which its own mutex guards, a leaf.
 */
#ifndef IMGTAGFS_TREE_H
#define IMGTAGFS_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "bg.h"
#include "cache.h"
#include "fresh.h"
#include "log.h"
#include "names.h"
#include "uhub.h"

#define TREE_TAG_ALIAS "@tag"

struct tree_config {
	const char *repo; /* mount only this repository as the root, or NULL */
	long api_tz;	  /* zone of zone-less API times, seconds east */
	uid_t uid;
	gid_t gid;
	mode_t umask;	    /* applied to 0444 files and 0555 directories */
	int64_t mount_time; /* shown for a time not known: a tag's unparsable
			     * one, the root's before its listing (Unix s) */
	unsigned prefetch;  /* listings fetched ahead per listed directory */
	/* The freshness policy: every ttl, the stale-if-error window and the
	 * refresh-ahead point (borrowed; required; it must run on the cache's
	 * clock). */
	const struct fresh *fresh;
	/* Deletion is on (prune.h): directories are 0755 before the umask,
	 * so that the kernel (default_permissions) lets their owner unlink
	 * and rmdir in them; tag files stay 0444. */
	bool writable_dirs;
	/* The wall clock (Unix seconds) that dates a change noticed here (a
	 * tag's ctime); NULL: time(2). */
	int64_t (*wall)(void *arg);
	void *wall_arg;
};

/* Borrows u, c and log (they must outlive the tree), and sets the cache's
 * stale-if-error policy from cfg->fresh. NULL on -ENOMEM, or without
 * cfg->fresh. */
struct tree *tree_new(const struct tree_config *cfg, struct uhub *u, struct cache *c, struct log *log);
void tree_free(struct tree *t);
/* The freshness policy in force (fresh.h). */
const struct fresh *tree_fresh(const struct tree *t);
/* Starts using b (running workers) to prefetch the listings below a listed
 * directory and to refresh listings in the last quarter of their ttl;
 * NULL stops queueing new work (call it before stopping b). */
void tree_set_background(struct tree *t, struct bg *b);
/* What the kernel may hold that a listing just fetched contradicts, for
 * telling it at once instead of when its copy would expire. */
enum tree_change {
	TREE_CHANGED_DIR,   /* the listing of directory path changed */
	TREE_CHANGED_DEEP,  /* and what lies below its entries may be gone too
			     * (a repository's image list holds its nested
			     * image directories) */
	TREE_CHANGED_FILES, /* the bytes of tag files names[0..n) in directory
			     * path may differ from what the kernel read (a
			     * name may also be shown as NAME@tag) */
};
/* Called when a fill (a refill after the ttl, a refresh-ahead, a listing
 * from the fleet, a tag looked up alone) installs a listing that differs
 * from what was shown before; names are NULL but for
 * TREE_CHANGED_FILES, and valid during the call only. It may run with
 * the cache's lock held: it must only queue work. NULL stops it. */
typedef void (*tree_changed_fn)(void *arg, const char *path, const char *const *names, size_t n, enum tree_change how);
void tree_set_changed(struct tree *t, tree_changed_fn fn, void *arg);

/* Queues, in the background, what listing "/" would fetch: the root's
 * listing and the listings of the directories in it (up to
 * tree_config.prefetch of them), so that the first lookups after mounting
 * cost no round trip. A no-op without background workers or with
 * prefetch 0. 0 or bg_push's -errno. */
int tree_warm(struct tree *t);

/* stat of path. 0, -ENOENT, or the API's -errno. Times are whole
 * seconds: a tag's mtime is its update time; its ctime is the same while
 * its bytes are those this mount first saw with that update time, and
 * the time it noticed otherwise (a re-push within the same second).
 * *until: how long the answer may be kept (fresh.h's clock;
 * the earliest expiry of the listings it came from, rule 3; INT64_MAX for
 * the top directory, which rests on none); on -ENOENT
 * only for a name that could never exist (negative_ttl), else 0.
 * A tag file's st_dev carries its fingerprint (tree_fingerprint), which
 * libfuse never passes to the kernel (the kernel gives every file of the
 * mount its own device number): so the FUSE layer knows which bytes each
 * set of attributes it replies with stands for (prune.h). So do the
 * attributes tree_dir_read gives. */
int tree_stat(struct tree *t, const char *path, struct stat *st, int64_t *until);
/* A listing key (into key, LISTKEY_MAX bytes) of the repository path
 * lies in (the root's listing for "/" of a whole-registry mount), for
 * asking fresh.h how long the kernel may keep what path shows: a ttl is
 * a repository's. Pure. */
void tree_fresh_key(const struct tree *t, const char *path, char *key);
/* The same from fresh listings already cached only, asking the API for
 * nothing (for the notify thread, which must not wait on the network):
 * -ENOENT too when what path rests on is not cached. */
int tree_stat_cached(struct tree *t, const char *path, struct stat *st);
/* A directory's entries with full attributes ("." and ".." included,
 * with none: NULL), in chunks as the kernel reads it: an open directory
 * keeps the snapshots it lists from until closed, so offsets hold across
 * chunks even if the listing is refreshed meanwhile, and reading on from
 * where the last chunk stopped costs nothing extra. Opening queues the
 * prefetch of the listings below. */
struct tree_dir;
/* Called for each entry with the offset of the entry after it; a
 * non-zero return means "not taken" and stops the read there. */
typedef int (*tree_dirfill_fn)(void *arg, const char *name, const struct stat *st, off_t next);
/* 0, -ENOTDIR, -ENOENT, -ENOMEM, or the API's -errno. */
int tree_opendir(struct tree *t, const char *path, struct tree_dir **out);
/* The same from the listings cached now, fetching none (the path's
 * parents' included, so that nothing waits for the API): -ENOENT when
 * one is not cached. For telling the kernel what to forget or store. */
int tree_opendir_cached(struct tree *t, const char *path, struct tree_dir **out);
struct snap_entry;
/* A hash of what a tag file says (digest and update time, as the API gave
 * them): equal for equal bytes, different, but for an FNV-64 collision,
 * when a re-push changed them, also within one second. Never 0. */
uint64_t tree_fingerprint(const struct snap_entry *e);

/* Entries from offset off (0 = the first) until fill declines one or the
 * directory ends. 0, -ENOMEM, or -ESTALE after tree_dir_forget. Not to be
 * called concurrently on one d. */
int tree_dir_read(struct tree_dir *d, off_t off, tree_dirfill_fn fill, void *arg);
void tree_closedir(struct tree_dir *d);
/* A tag file's bytes are at most this many. */
#define TREE_FILE_MAX (64 * 1024)
/* Called by tree_dir_files for each tag file, with its bytes (len of
 * them, valid during the call); a non-zero return stops it. */
typedef int (*tree_filefn)(void *arg, const char *name, const char *bytes, size_t len);
/* The tag files of d (an image directory; none for another) as a read
 * of d lists them, names as shown (NAME@tag included), starting after
 * the one named after ("": from the first), max of them at most. 0,
 * -ENOMEM, or -ESTALE after tree_dir_forget. Not to be called
 * concurrently with another use of d. */
int tree_dir_files(struct tree_dir *d, const char *after, size_t max, tree_filefn fn, void *arg);
/* Bytes of the snapshots d holds (0 once forgotten). */
size_t tree_dir_bytes(const struct tree_dir *d);
/* Lets go of d's snapshots (a listing past its ttl, kept by a descriptor
 * nobody reads): d then only knows the last entry read, enough for
 * tree_dir_resume to go on from where reading stopped. Reading d itself
 * is then -ESTALE; its until is 0. */
void tree_dir_forget(struct tree_dir *d);
/* Where a reader that read d up to offset off goes on in fresh (another
 * opendir of the same path, later): the offset in fresh of the first
 * entry after the one before off in d, in the order entries are read (by
 * name within each part), so that no name that is in both is read twice
 * or skipped. fresh's cursor is left there. 0 or -ENOMEM. */
int tree_dir_resume(struct tree_dir *d, off_t off, struct tree_dir *fresh, off_t *out);
/* Until when d's entries (names and attributes) may be kept: the earliest
 * expiry of the listings d reads from. */
int64_t tree_dir_until(const struct tree_dir *d);
/* Which snapshots d lists from: equal stamps, the same entries. Never 0. */
uint64_t tree_dir_stamp(const struct tree_dir *d);
/* Reads a tag file. Bytes read, or -EISDIR, -ENOENT, -errno. */
ssize_t tree_read(struct tree *t, const char *path, char *dst, size_t size, off_t off);
/* The digest / updated text of a tag file (for xattrs), into out.
 * 0, -ENOENT, -EISDIR. */
int tree_tag_value(struct tree *t, const char *path, const char *which, struct buf *out);
/* Drops the cached snapshots behind a directory (or everything for "/"),
 * and tells the fleet (tier.h) when there is a shared tier. A listing
 * dropped (but for "/") is kept aside until its next fill, which is
 * compared with it: the ctimes of tags that did not change survive. */
int tree_refresh(struct tree *t, const char *path);
/* Drops every cached snapshot (SIGHUP), the fleet told as above; what
 * was kept aside too (tags' ctimes are their mtimes again). */
void tree_flush(struct tree *t);

struct tier;
/* Shares whole listings through tier (borrowed; NULL: none). Set once,
 * before serving. */
void tree_set_tier(struct tree *t, struct tier *tier);
/* Another host found the listing behind cache key changed: forget it
 * (and its tags' own answers; it is kept aside as for tree_refresh) and
 * tell the kernel (tree_set_changed). */
void tree_forget(struct tree *t, const char *key);

/* What a path names, for deleting it (prune.h). */
enum tree_kind { TREE_ROOT, TREE_REPO, TREE_PREFIX, TREE_IMAGE, TREE_TAG };
struct tree_ident {
	enum tree_kind kind;
	char repo[NAMES_MAX + 1];
	char image[4096];	 /* TREE_IMAGE, TREE_TAG: the image's name */
	char tag[NAMES_MAX + 1]; /* TREE_TAG: the registry's name (NAME for NAME@tag) */
	char *digest;		 /* TREE_TAG: as shown; malloc'd, NULL when none */
	int64_t mtime;		 /* TREE_TAG: its UpdateTime, SNAP_NO_TIME when none could be read */
	char *time;		 /* TREE_TAG: UpdateTime as the API wrote it when it could not
				  * be read; malloc'd, NULL otherwise */
	struct stat st;		 /* as tree_stat shows the path */
};
/* Resolves path as tree_stat does. 0, -ENOENT, -ENOMEM or the API's
 * -errno; release with tree_ident_release (also after an error). */
int tree_ident(struct tree *t, const char *path, struct tree_ident *out);
void tree_ident_release(struct tree_ident *id);
/* Whether the UpdateTime text time (from the API, NULL when absent) is
 * the time id was shown with, read as the tree reads times. */
bool tree_ident_same_time(const struct tree *t, const struct tree_ident *id, const char *time);
/* Path was deleted through this mount (prune.h). A tag: its image's
 * cached listing loses it at once (the listing keeps its age, so nothing
 * is served past its ttl), its own answer goes, and the fleet is told
 * (tier.h: the other hosts drop the image's listing). An image: as
 * tree_refresh. The kernel is told through the change hook
 * (tree_set_changed). 0 or -errno. */
int tree_deleted(struct tree *t, const char *path);

#endif
