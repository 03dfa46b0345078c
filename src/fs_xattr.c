/* fs_xattr.c — the FUSE layer's extended attributes: a tag file's
 * user.imgtagfs.digest and user.imgtagfs.updated (tree_tag_value), and the
 * control attributes every path answers, user.imgtagfs.stats and
 * user.imgtagfs.refresh (fs_ctl.c). Nothing may be set or removed (EROFS).
 */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "fs_int.h"
#include "tree.h"

#define XATTR_PREFIX "user.imgtagfs."

/* The value of one of our attributes into v. size is the caller's
 * buffer: getfattr asks for the length first (size 0), and only the read
 * that takes the value refreshes. */
static int our_xattr(struct op *o, fuse_ino_t ino, const char *path, bool dir, const char *name, size_t size,
		     struct buf *v)
{
	if (strcmp(name, "stats") == 0)
		return fs_ctl_stats(o->fs, v);
	if (strcmp(name, "refresh") == 0) {
		int err = size ? fs_ctl_refresh(o->fs, o->req, ino, path, dir) : 0;

		return err ? err : buf_adds(v, "refreshed");
	}
	return tree_tag_value(o->fs->t, path, name, v);
}

/* Names outside user.imgtagfs.*: there is no such attribute. For the
 * namespaces this filesystem has no notion of (security.*, system.* such
 * as ACLs, trusted.*) the answer is "not supported": `ls -l` asks for
 * security.selinux and an ACL on every file, and on ENOTSUP it stops
 * asking for the rest of the mount (coreutils remembers the device). */
static int foreign_xattr(const char *name)
{
	return strncmp(name, "user.", 5) == 0 ? -ENODATA : -ENOTSUP;
}

static void reply_value(struct op *o, const struct buf *v, size_t size)
{
	if (v->len > 65536) {
		fs_op_err(o, -E2BIG);
	} else if (size && size < v->len) {
		fs_op_err(o, -ERANGE);
	} else {
		if (fs_op_claim(o)) {
			if (size == 0)
				fuse_reply_xattr(o->req, v->len);
			else
				fuse_reply_buf(o->req, v->data, v->len);
		}
		fs_op_end(o);
	}
}

void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char path[PATH_MAX];
	struct op o;
	struct buf v;
	bool dir = false;
	int err;

	fs_op_begin(&o, req);
	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) != 0) {
		fs_op_err(&o, foreign_xattr(name));
		return;
	}
	buf_init(&v, 1 << 20);
	err = fs_ino_path(o.fs, ino, path, &dir);
	if (!err)
		err = our_xattr(&o, ino, path, dir, name + strlen(XATTR_PREFIX), size, &v);
	if (err)
		fs_op_err(&o, err);
	else
		reply_value(&o, &v, size);
	buf_release(&v);
}

void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	static const char names[] = XATTR_PREFIX "digest\0" XATTR_PREFIX "updated";
	struct op o;
	struct stat st;
	int64_t until;
	size_t len;
	int err;

	fs_op_begin(&o, req);
	err = fs_ino_stat(o.fs, ino, &st, &until);
	if (err) {
		fs_op_err(&o, err);
		return;
	}
	len = S_ISREG(st.st_mode) ? sizeof(names) : 0;
	if (size && size < len) {
		fs_op_err(&o, -ERANGE);
		return;
	}
	if (fs_op_claim(&o)) {
		if (size == 0)
			fuse_reply_xattr(req, len);
		else
			fuse_reply_buf(req, names, len);
	}
	fs_op_end(&o);
}

void fs_ro_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	(void)ino;
	fuse_reply_err(req, EROFS);
}

void fs_ro_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)name;
	(void)ino;
	fuse_reply_err(req, EROFS);
}
