/* fs.h — the FUSE layer, on libfuse's low-level API: inode numbers from
 * our own table (inode.h), each request answered within the deadline
 * (watchdog.h), every write refused with EROFS (unlink and rmdir too,
 * unless allow_delete hands them to prune.h), and the kernel told how
 * long it may keep each answer (fresh.h: never past the listing it came
 * from) and told at once what to forget on a refresh or a flush.
 *
 * Extended attributes (no files are added to the tree for these):
 *   user.imgtagfs.digest, user.imgtagfs.updated   on tag files
 *   user.imgtagfs.stats     anywhere: counters, one "name: value" a line
 *   user.imgtagfs.refresh   on a directory: drops its cached listing and
 *                           the kernel's copy, so the next access asks
 *                           the API; the value read is "refreshed". Only
 *                           the mount's owner and root may (EPERM), at
 *                           most FS_REFRESH_BURST at once and then
 *                           FS_REFRESH_PER_S a second (EAGAIN). (A get,
 *                           not a set: the mount is read-only, and the
 *                           kernel refuses setxattr on a read-only mount
 *                           before we see it.)
 */
#ifndef IMGTAGFS_FS_H
#define IMGTAGFS_FS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bg;
struct cache;
struct fuse_lowlevel_ops;
struct fuse_session;
struct log;
struct tree;
struct uhub;

#define FS_REFRESH_BURST 10
#define FS_REFRESH_PER_S 2

struct fs_config {
	int64_t deadline_ms;	/* no request waits longer (0 = none) */
	bool foreground;	/* else log to syslog once mounted */
	bool warm;		/* once mounted, fetch "/" and its listings (tree_warm) */
	uid_t owner;		/* who may refresh (and delete), besides root */
	bool allow_delete;	/* unlink and rmdir delete (prune.h); else EROFS */
	unsigned delete_retries; /* prune_config.retries */
	/* Listings held by open directories (also past their ttl, so that a
	 * seekdir to a telldir position goes on exactly), at most this many
	 * bytes in all, each directory's counted; past it, the first to
	 * expire keep only where reading stopped. */
	size_t dir_keep_bytes;
	/* Called once, from the FUSE layer's thread, when the session ends
	 * (unmount or signal), so that work in flight can be cancelled
	 * before libfuse waits for its threads. May be NULL. */
	void (*on_end)(void *arg);
	void *on_end_arg;
	/* The key of the inodes' generations (inode.h), the same at every
	 * mount with the same credentials, so that file handles (NFS) last
	 * across remounts. */
	unsigned char gen_key[16];
};

/* The context: borrows the tree, and the client and cache behind it (for
 * the stats attribute and flushes), the background workers (started once
 * mounted and stopped at unmount; may be NULL), and the log. NULL on
 * -ENOMEM. fs_free(NULL) is a no-op. */
struct imgtagfs *fs_new(const struct fs_config *cfg, struct tree *t, struct uhub *u, struct cache *c,
			struct bg *b, struct log *log);
void fs_free(struct imgtagfs *fs);

/* The operations for fuse_session_new(); userdata is a struct imgtagfs. */
const struct fuse_lowlevel_ops *fs_operations(void);

/* Before serving se (after daemonizing): starts the FUSE layer's thread.
 * single_thread: requests are served one at a time (-s); then no request
 * waits for the notify thread to tell the kernel a file's pages changed
 * (the kernel may need that one thread for what it waits on). Kernel
 * notifications come from the notify thread in either form, never from
 * inside a request. 0 or -errno. */
int fs_attach(struct imgtagfs *fs, struct fuse_session *se, bool single_thread);
/* After the loop ended: stops that thread. */
void fs_detach(struct imgtagfs *fs);

/* Drops every cached listing, then tells the kernel to forget every name,
 * attribute, page and directory copy it holds (SIGHUP). Thread-safe; not
 * from inside a request. */
void fs_flush(struct imgtagfs *fs);

struct tier;
/* The shared tier (borrowed, or NULL): its stats join ours, what other
 * hosts invalidate is forgotten here and by the kernel, and it runs from
 * fs_attach to fs_detach. Set before fs_attach. */
void fs_set_tier(struct imgtagfs *fs, struct tier *tier);

#endif
