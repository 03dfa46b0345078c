/* inode_hunt.c — a bare inode number back to its path, for export
 * handles: the kernel may keep a file handle (open_by_handle_at, NFS)
 * while it forgets the inode, and the number is a hash of the path
 * (inode.h), so the path is found again among the cached listings and
 * entered in the inode table anew. Never fetches a listing.
 */
#include "inode_hunt.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inode.h"
#include "tree.h"

#define HUNT_MAX 16384 /* names a bare inode's search looks at */

/* A search of the cached listings for the path whose inode number is
 * want (a handle the kernel kept while it forgot the inode). */
struct hunt {
	struct tree *t;
	uint64_t want;
	char path[PATH_MAX];
	bool found, dir;
	int depth;
	uint64_t at; /* the number of the directory being read */
	size_t len;  /* of its path in path */
	size_t seen; /* names looked at, up to HUNT_MAX */
};

static int hunt_dir(struct hunt *h);

static int hunt_entry(void *arg, const char *name, const struct stat *st, off_t next)
{
	struct hunt *h = arg;
	bool dir;
	size_t len = h->len, nl = strlen(name);
	uint64_t at = h->at, ino;

	(void)next;
	if (!st)
		return 0; /* "." and ".." */
	if (++h->seen > HUNT_MAX)
		return 1;
	dir = S_ISDIR(st->st_mode);
	ino = inode_hash(at, name, dir);
	if (len + 1 + nl >= sizeof(h->path))
		return 0;
	snprintf(h->path + len, sizeof(h->path) - len, "%s%s", len > 1 ? "/" : "", name);
	if (ino == h->want) {
		h->found = true;
		h->dir = dir;
		return 1;
	}
	if (dir && h->depth < 32) {
		h->at = ino;
		h->len = strlen(h->path);
		h->depth++;
		hunt_dir(h);
		h->depth--;
		h->at = at;
		h->len = len;
		if (h->found || h->seen > HUNT_MAX)
			return 1;
	}
	h->path[len] = '\0';
	return 0;
}

/* Reads the cached listing of h->path (never fetching one). */
static int hunt_dir(struct hunt *h)
{
	struct tree_dir *d;
	int err = tree_opendir_cached(h->t, h->path, &d);

	if (err)
		return err;
	err = tree_dir_read(d, 0, hunt_entry, h);
	tree_closedir(d);
	return err;
}

/* The kernel asks for a bare inode it forgot (open_by_handle_at after
 * drop_caches): the number is a hash of the path, so find the path among
 * the cached listings and make the entries again. Only numbers without a
 * collision salt can be found; a listing not cached any more: ESTALE.
 * The search looks at HUNT_MAX names at most, directories before tags,
 * in a FUSE worker: a stale handle costs milliseconds, not a walk of the
 * whole cache (42.8 ms at 100,000 cached tags before, seconds at the
 * default cache size); a handle found further on is stale. */
int inode_hunt(struct inode_table *it, struct tree *t, uint64_t ino, uint64_t *got, bool *dir, size_t *seen)
{
	struct hunt *h = calloc(1, sizeof(*h));
	int err = -ESTALE;

	if (!h)
		return -ENOMEM;
	h->t = t;
	h->want = ino;
	h->at = INODE_ROOT;
	memcpy(h->path, "/", 2);
	h->len = 1;
	hunt_dir(h);
	*seen = h->seen > HUNT_MAX ? HUNT_MAX : h->seen;
	if (h->found && (err = inode_ref_path(it, h->path, h->dir, got)) == 0 && *got != ino) {
		inode_forget(it, *got, 1, NULL); /* taken by a colliding path */
		err = -ESTALE;
	}
	*dir = h->dir;
	free(h);
	return err;
}
