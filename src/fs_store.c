/* fs_store.c — storing a scanned directory's tag files in the kernel's
 * page cache ahead of the reader: prestore.h decides when a reader is
 * scanning, notify's thread stores (notify_store), from the listings
 * cached now only (it never asks the API), so that a grep -r costs about
 * one READ a directory instead of one a file. A change to a tag drops
 * its page as for any page (fs_notice.c tells the kernel).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fresh.h"
#include "fs_int.h"
#include "inode.h"
#include "names.h"
#include "notify.h"
#include "prestore.h"
#include "tree.h"

/* A chunk's files but the first skip (left to the reader). */
struct chunk_skip {
	notify_file_fn each;
	void *arg;
	size_t skip;
};

static int chunk_one(void *arg, const char *name, const char *bytes, size_t len)
{
	struct chunk_skip *k = arg;

	if (k->skip) {
		k->skip--;
		return 0;
	}
	return k->each(k->arg, name, bytes, len);
}

/* For notify: a chunk of a batch, from the listings cached now, after
 * what its reader has read (prestore_after). */
static int files_list(void *arg, const struct notify_chunk *c, notify_file_fn each, void *each_arg, uint64_t *stamp)
{
	struct imgtagfs *fs = arg;
	char after[NAMES_MAX + sizeof(TREE_TAG_ALIAS)];
	struct chunk_skip k = {.each = each, .arg = each_arg};
	struct tree_dir *d;
	int err = tree_opendir_cached(fs->t, c->path, &d);

	if (err)
		return err;
	*stamp = tree_dir_stamp(d);
	k.skip = prestore_after(fs->ps, c->dir, c->after, after, sizeof(after));
	err = tree_dir_files(d, after, c->max + k.skip, chunk_one, &k);
	tree_closedir(d);
	return err;
}

static uint64_t files_stamp(void *arg, const char *path)
{
	struct imgtagfs *fs = arg;
	struct tree_dir *d;
	uint64_t stamp;

	if (tree_opendir_cached(fs->t, path, &d) != 0)
		return 0;
	stamp = tree_dir_stamp(d);
	tree_closedir(d);
	return stamp;
}

static void files_done(void *arg, uint64_t dir, size_t unused)
{
	struct imgtagfs *fs = arg;

	prestore_done(fs->ps, dir, unused, true);
}

void fs_set_files(struct imgtagfs *fs)
{
	const struct notify_files f = {.list = files_list, .stamp = files_stamp, .done = files_done, .arg = fs};

	notify_set_files(fs->kn, &f);
}

/* A READ of file ino at path (as the tree shows it now) reached us: when
 * the policy sees a scan, the files after it are queued for storing
 * (before the reply, so that the storing starts before the next READ). */
void fs_scan_note(struct imgtagfs *fs, uint64_t ino, const char *path)
{
	const char *name = strrchr(path, '/');
	uint64_t dir, parent;
	size_t max;

	if (!fs->prestore || !name || inode_parent(fs->inodes, ino, &dir) != 0 ||
	    inode_parent(fs->inodes, dir, &parent) != 0 ||
	    !prestore_read(fs->ps, dir, parent, ino, name + 1, fresh_now(fs->fresh), &max))
		return;
	if (notify_store(fs->kn, dir, name + 1, max) != 0)
		prestore_done(fs->ps, dir, max, false);
}
