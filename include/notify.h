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
 * Lock order: the module's mutex is a leaf; the queue may be filled with
 * the cache's lock held. The exists callback and the kernel are called
 * without it.
 */
#ifndef IMGTAGFS_NOTIFY_H
#define IMGTAGFS_NOTIFY_H

#include <stdbool.h>
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

#endif
