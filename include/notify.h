/* notify.h — what the kernel keeps of the mount beyond names and
 * attributes (its copies of directory listings), and telling it to forget,
 * from a thread of its own.
 *
 * Kernel notifications (notify_inval_entry, notify_inval_inode) must not
 * be sent from inside a request: the kernel may need a directory's lock
 * that a request waiting for a free worker holds, and with every worker
 * sending one the mount freezes. So they are queued here and sent by this
 * module's thread; a caller that wants them done before it replies (a
 * refresh) waits for its ticket, for a bounded time.
 *
 * A directory's copy in the kernel (cache_readdir) is recorded with the
 * listing it was read from and when that listing expires: the FUSE layer
 * keeps it across opens only while it still is the current listing
 * (notify_copy_current), and this thread drops it from the kernel when the
 * listing expires, so a descriptor held open and rewound never replays a
 * listing older than ttl.
 *
 * The same thread stores tag files' bytes in the kernel's page cache
 * ahead of a reader scanning a directory (notify_store; prestore.h says
 * when), after the invalidations queued before it. What it stores never
 * outlives the bytes it came from: it reads them from the listing cached
 * when the batch runs, so a listing installed later is followed by its
 * own invalidation (queued when it was installed, sent after the store);
 * and a listing installed while the batch ran, which that invalidation
 * may have missed (the kernel had let the inode go and looked it up
 * again meanwhile), is caught by comparing the listing's stamp between
 * the batch's chunks and after the last: the files stored are then
 * invalidated at once.
 *
 * Lock order: the module's mutex is a leaf; the queue may be filled with
 * the cache's lock held. The callbacks and the kernel are called without
 * it.
 */
#ifndef IMGTAGFS_NOTIFY_H
#define IMGTAGFS_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fresh;
struct fuse_session;
struct inode_table;
struct notify;

/* Whether path still stands as a directory (dir) or a file: 1, or 0 when
 * it went away or changed kind. Called from the module's thread. */
typedef int (*notify_exists_fn)(void *arg, const char *path, bool dir);

/* Borrows inodes and f. NULL on -ENOMEM. notify_free(NULL) is a no-op. */
struct notify *notify_new(struct inode_table *inodes, const struct fresh *f, notify_exists_fn exists, void *arg);
/* Stops the thread first. */
void notify_free(struct notify *n);
/* How the thread reaches the kernel: libfuse's notify calls on the
 * session by default; a test's fakes instead (set before notify_start,
 * whose se may then be NULL). Each returns 0 or -errno. */
struct notify_kernel {
	int (*inval_entry)(void *arg, uint64_t parent, const char *name);
	int (*inval_inode)(void *arg, uint64_t ino);			      /* attributes and pages */
	int (*store)(void *arg, uint64_t ino, const char *bytes, size_t len); /* from offset 0 */
	void *arg;
};
void notify_set_kernel(struct notify *n, const struct notify_kernel *k);
/* Starts / stops the thread for session se (after fork). 0 or -errno. */
int notify_start(struct notify *n, struct fuse_session *se);
void notify_stop(struct notify *n);

/* The kernel read directory ino from a listing with this stamp, valid
 * until until_ms (fresh.h's clock). */
void notify_copy_made(struct notify *n, uint64_t ino, uint64_t stamp, int64_t until_ms);
/* True when the kernel's copy of ino is from the listing with this stamp
 * and that listing has not expired. */
bool notify_copy_current(struct notify *n, uint64_t ino, uint64_t stamp);
/* The kernel forgot directory ino: its copy went with it. */
void notify_copy_gone(struct notify *n, uint64_t ino);

enum notify_how {
	NOTIFY_FLUSH,	/* every name, attribute, page and copy below */
	NOTIFY_CHANGED, /* a listing changed: names gone are dropped, names
			 * still there keep their dentries (their numbers are
			 * their paths') and lose attributes and pages */
	NOTIFY_INODE,	/* ino alone (a file) loses its attributes and pages */
};
/* Queues: the kernel forgets what it holds below directory ino (0: all)
 * and the directory's own copy; for NOTIFY_INODE, what it holds of ino
 * itself. Returns a ticket for notify_wait. */
uint64_t notify_forget(struct notify *n, uint64_t ino, enum notify_how how);
/* Waits until the work of ticket is done, at most ms. 0 or -ETIMEDOUT. */
int notify_wait(struct notify *n, uint64_t ticket, int64_t ms);

/* Where stored bytes come from, and who hears that a batch is over. A
 * batch is asked for in chunks of NOTIFY_STORE_CHUNK files, each going on
 * after the last file of the one before. */
#define NOTIFY_STORE_CHUNK 16
typedef int (*notify_file_fn)(void *arg, const char *name, const char *bytes, size_t len);
struct notify_chunk {
	uint64_t dir;	   /* the directory's inode */
	const char *path;  /* and its path */
	const char *after; /* the files after this one ("": from the first) */
	size_t max;	   /* at most this many */
};
struct notify_files {
	/* Calls each (a non-zero return stops) for the tag files of the
	 * chunk, as the listings cached now show them, fetching none: after
	 * c->after, or after the file a reader of the directory read last,
	 * if that comes later (what it has read has its pages: storing
	 * those would only keep the batch behind the reader); *stamp: that
	 * listing's (tree_dir_stamp), set before each is first called (a
	 * chunk of another listing than the first's stores nothing). 0 or
	 * -errno (-ENOENT: not cached). */
	int (*list)(void *arg, const struct notify_chunk *c, notify_file_fn each, void *each_arg, uint64_t *stamp);
	/* The stamp of path's listing cached now; 0 when none is. */
	uint64_t (*stamp)(void *arg, const char *path);
	/* dir's batch is over: unused of its max were not stored. */
	void (*done)(void *arg, uint64_t dir, size_t unused);
	void *arg;
};
/* Sets the source of notify_store (copied). Before notify_start. */
void notify_set_files(struct notify *n, const struct notify_files *f);

#define NOTIFY_STORE_QUEUE 16 /* batches queued at most */
/* Queues a batch: the tag files of directory dir after the one named
 * after (copied), max at most, put into the kernel's page cache (those
 * whose inodes the kernel holds), after the invalidations queued before
 * it; invalidations queued while it runs end it after the chunk being
 * stored (done then hears the rest unused). Never waits for the thread.
 * 0, or -EAGAIN when the queue is full or no source is set (done is then
 * not called), -ENOMEM. */
int notify_store(struct notify *n, uint64_t dir, const char *after, size_t max);

struct notify_stats {
	uint64_t stored;  /* files stored */
	uint64_t skipped; /* files of a batch not stored: no inode held, or
			   * the kernel refused */
	uint64_t dropped; /* files stored and invalidated again: their
			   * listing changed while the batch ran */
};
void notify_get_stats(struct notify *n, struct notify_stats *out);

#endif
