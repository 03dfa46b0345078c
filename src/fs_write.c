/* fs_write.c — the FUSE layer's answers to every call that would change
 * something: EROFS, but for unlink and rmdir with allow_delete, which go
 * to prune.h (who may, what was shown, the registry asked first). The
 * kernel sees the mount read-only unless allow_delete, so most of these
 * come only from a caller that did not look.
 */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdbool.h>

#include "fs_int.h"
#include "inode.h"
#include "prune.h"

void fs_ro_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	(void)ino;
	(void)attr;
	(void)to_set;
	(void)fi;
	fuse_reply_err(req, EROFS);
}

void fs_ro_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, EROFS);
}

void fs_ro_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fs_ro_mknod(req, parent, name, mode, 0);
}

/* unlink and rmdir: EROFS unless allow_delete, and then prune.h's. */
static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct prune_who who = {.uid = c->uid, .pid = c->pid};
	char path[PATH_MAX];
	uint64_t ino = 0;
	struct op o;
	int err;

	fs_op_begin(&o, req);
	err = o.fs->pr ? fs_child_path(o.fs, parent, name, path) : -EROFS;
	if (!err && !dir && inode_find(o.fs->inodes, parent, name, false, &ino) != 0)
		ino = 0; /* the kernel holds no such file: never shown, refused */
	if (!err)
		err = dir ? prune_rmdir(o.fs->pr, &who, path) : prune_unlink(o.fs->pr, &who, ino, path);
	fs_op_err(&o, err);
}

void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, false);
}

void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, true);
}

void fs_ro_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	fs_ro_mknod(req, parent, name, 0, 0);
}

void fs_ro_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
		  unsigned int flags)
{
	(void)newparent;
	(void)newname;
	(void)flags;
	fs_ro_mknod(req, parent, name, 0, 0);
}

void fs_ro_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	fs_ro_mknod(req, newparent, newname, 0, 0);
}

void fs_ro_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)data;
	(void)size;
	(void)off;
	fs_ro_setattr(req, ino, NULL, 0, fi);
}

void fs_ro_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	(void)fi;
	fs_ro_mknod(req, parent, name, mode, 0);
}
