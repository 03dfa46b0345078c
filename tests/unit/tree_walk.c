/* tree_walk.c — whole-path conveniences over tree.h for the tests (see
 * tree_walk.h): built from the calls the FUSE layer makes. */
#include "tree_walk.h"

#include <stdint.h>

int tree_getattr(struct tree *t, const char *path, struct stat *st)
{
	int64_t until;

	return tree_stat(t, path, st, &until);
}

struct fill_all {
	tree_fill_fn fill;
	void *arg;
};

static int fill_all_one(void *arg, const char *name, const struct stat *st, off_t next)
{
	struct fill_all *f = arg;

	(void)next;
	return f->fill(f->arg, name, st);
}

int tree_readdir(struct tree *t, const char *path, tree_fill_fn fillfn, void *arg)
{
	struct fill_all f = {.fill = fillfn, .arg = arg};
	struct tree_dir *d;
	int err = tree_opendir(t, path, &d);

	if (err)
		return err;
	err = tree_dir_read(d, 0, fill_all_one, &f);
	tree_closedir(d);
	return err;
}
