/* fs.h — the FUSE layer: thin callbacks that map FUSE operations onto the
 * tree, make the filesystem read-only (EROFS for every write), and carry
 * the one context (struct imgtagfs) as FUSE private_data.
 *
 * Extended attributes (no files are added to the tree for these):
 *   user.imgtagfs.digest, user.imgtagfs.updated   on tag files
 *   user.imgtagfs.stats     anywhere: counters, one "name: value" a line
 *   user.imgtagfs.refresh   on a directory: drops its cached listing, so
 *                           the next access asks the API; the value read
 *                           is "refreshed". (A get, not a set: the mount
 *                           is read-only, and the kernel refuses setxattr
 *                           on a read-only mount before we see it.)
 */
#ifndef IMGTAGFS_FS_H
#define IMGTAGFS_FS_H

#include <stdbool.h>
#include <stdint.h>

struct bg;
struct cache;
struct fuse;
struct fuse_operations;
struct log;
struct tree;
struct uhub;

struct fs_config {
	double kernel_timeout;	/* entry/attr timeout handed to the kernel */
	double negative_timeout;
	int64_t ttl_ms;
	bool foreground;	/* else log to syslog once mounted */
	bool warm;		/* once mounted, fetch "/" and its listings (tree_warm) */
};

/* The context: borrows the tree, and the client and cache behind it (for
 * the stats attribute and flushes), the background workers (started once
 * mounted, in the daemon, and stopped at unmount; may be NULL), and the
 * log. NULL on -ENOMEM. */
struct imgtagfs *fs_new(const struct fs_config *cfg, struct tree *t, struct uhub *u, struct cache *c,
			struct bg *b, struct log *log);
void fs_free(struct imgtagfs *fs);

/* Drops every cached listing and tells the kernel to forget the entries
 * it cached (SIGHUP). f is the mounted filesystem. Thread-safe. */
void fs_flush(struct imgtagfs *fs, struct fuse *f);

/* The operations table for fuse_main(); private_data is a struct imgtagfs. */
const struct fuse_operations *fs_operations(void);

#endif
