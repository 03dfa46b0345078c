/* prestore.h — when to put a directory's tag files into the kernel's page
 * cache before they are read: the policy (notify.c does the storing).
 *
 *	$ grep -rl sha256:3f1c /mnt/registry	# one READ per file, or two
 *						# per directory with this
 *
 * A tag file is a few dozen bytes the daemon holds already, yet a reader's
 * first read of it costs a FUSE round trip. A reader that reads a second
 * file of a directory shortly after a first one is taken for a scan
 * (grep -r, cat DIR/FILE..., tar): the files after the one it read, in the
 * order a directory read gives them, are stored ahead of it, up to a
 * batch; when it reads past a batch, the next one follows. A first read
 * in a directory whose sibling was being scanned a moment ago is one too
 * (grep -r going on to the next image directory).
 *
 * Bounded three ways: a batch stores PRESTORE_BATCH files at most (4 KiB
 * of page cache each: tmpfs pays a page per file too); at most
 * PRESTORE_PER_S files a second in all (a reader that reads two files of
 * each directory and nothing more wastes at most that); and one batch per
 * directory at a time, among the last PRESTORE_DIRS directories read (the
 * queue of batches is notify.c's, bounded too).
 *
 * Time comes from the caller (milliseconds of one monotonic clock), so
 * tests control it. Thread-safe: one mutex, a leaf.
 */
#ifndef IMGTAGFS_PRESTORE_H
#define IMGTAGFS_PRESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRESTORE_WINDOW_MS 1000 /* two reads in a directory within this: a scan */
#define PRESTORE_BATCH 1024	/* files a batch stores at most */
#define PRESTORE_PER_S 262144	/* files stored a second at most (1 GiB of pages) */
#define PRESTORE_DIRS 64	/* directories followed at once */
#define PRESTORE_LEAD 2		/* files a batch caught up by its reader leaves it */

struct prestore;

struct prestore_stats {
	uint64_t batches;	  /* batches started */
	uint64_t batches_skipped; /* scans seen with no budget left, or a batch
				   * the queue had no room for */
};

/* NULL on -ENOMEM. prestore_free(NULL) is a no-op. */
struct prestore *prestore_new(void);
void prestore_free(struct prestore *p);

/* The kernel asked for file ino (called name) of directory dir (in
 * directory parent) at now_ms: true when that shows a scan whose next
 * batch should be stored (the files after name, *max of them at most);
 * the batch is then dir's one in flight until prestore_done. */
bool prestore_read(struct prestore *p, uint64_t dir, uint64_t parent, uint64_t ino, const char *name, int64_t now_ms,
		   size_t *max);
/* Where dir's batch goes on: after the file named after; or, when the
 * reader has read a later one since (by name: the order a read of the
 * directory lists tags in), after that one and PRESTORE_LEAD more, which
 * are then left to the reader's own reads: it has the pages of what it
 * read, and a batch storing right behind it would only wait for each
 * page the reader is being sent (the kernel locks it meanwhile), step
 * for step. Into out (n bytes); returns how many to leave (0 or
 * PRESTORE_LEAD). */
size_t prestore_after(struct prestore *p, uint64_t dir, const char *after, char *out, size_t n);
/* dir's batch is over: the files of its max it did not store (the
 * directory ended, the kernel held no inode for them) go back to the
 * budget. queued false: it never ran (no room in the queue). */
void prestore_done(struct prestore *p, uint64_t dir, size_t unused, bool queued);
void prestore_get_stats(struct prestore *p, struct prestore_stats *out);

#endif
