/* tree_walk.h — whole-path conveniences over tree.h for the tests (the
 * FUSE layer itself stats through tree_stat and reads directories in
 * chunks): a stat without the expiry, and a directory listed in one go.
 * Shared by test_tree and the tree's fuzz harness. */
#ifndef IMGTAGFS_TREE_WALK_H
#define IMGTAGFS_TREE_WALK_H

#include <sys/stat.h>

#include "tree.h"

/* tree_stat without *until. 0, -ENOENT, or the API's -errno. */
int tree_getattr(struct tree *t, const char *path, struct stat *st);

/* Called by tree_readdir for each entry; a non-zero return stops it. */
typedef int (*tree_fill_fn)(void *arg, const char *name, const struct stat *st);
/* Lists a directory ("." and ".." included) with full attributes
 * ("." and ".." have none: NULL): tree_opendir, tree_dir_read from
 * offset 0, tree_closedir. 0, -ENOTDIR, -ENOENT, or -errno. */
int tree_readdir(struct tree *t, const char *path, tree_fill_fn fill, void *arg);

#endif
