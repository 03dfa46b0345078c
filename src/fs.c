/* fs.c — the FUSE layer: thin callbacks that hand each operation to the
 * tree, refuse every write with EROFS, and tell the kernel how long it may
 * cache what it was told.
 *
 * The one context, struct imgtagfs, is FUSE's private_data; fs_init
 * returns it because libfuse replaces private_data with init's result.
 * Attributes travel with directory entries (readdirplus), so `ls -l`
 * costs a few readdir chunks and no lookups.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "bg.h"
#include "buf.h"
#include "cache.h"
#include "log.h"
#include "names.h"
#include "tree.h"
#include "uhub.h"

#define XATTR_PREFIX "user.imgtagfs."

struct imgtagfs {
	struct fs_config cfg;
	struct tree *t;
	struct uhub *u;
	struct cache *c;
	struct bg *bg;
	struct log *log;
	bool no_open;	/* the kernel can do without our opens */
	_Atomic unsigned long opens;	/* opens that reached us (stats) */
	_Atomic unsigned long getattrs;	/* lookups and stats that reached us */
};

struct imgtagfs *fs_new(const struct fs_config *cfg, struct tree *t, struct uhub *u, struct cache *c,
			struct bg *b, struct log *log)
{
	struct imgtagfs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->cfg = *cfg;
	fs->t = t;
	fs->u = u;
	fs->c = c;
	fs->bg = b;
	fs->log = log;
	return fs;
}

/* The kernel keeps names and attributes for a quarter of the ttl; after a
 * flush or a refresh it is told to forget them, so they show at once. */
static int forget_root_child(void *arg, const char *name, const struct stat *st)
{
	(void)st;
	/* Dropping the name drops the kernel's whole subtree under it. */
	fuse_lowlevel_notify_inval_entry(fuse_get_session(arg), FUSE_ROOT_ID, name, strlen(name));
	return 0;
}

void fs_flush(struct imgtagfs *fs, struct fuse *f)
{
	/* The names first: they come from the listings about to go. */
	tree_cached_root(fs->t, forget_root_child, f);
	cache_clear(fs->c);
	fuse_invalidate_path(f, "/");
}

struct forget_ctx {
	struct fuse *f;
	char path[PATH_MAX];
	size_t len;
};

static int forget_child(void *arg, const char *name, const struct stat *st)
{
	struct forget_ctx *c = arg;

	(void)st;
	if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
		return 0;
	if (c->len + 1 + strlen(name) < sizeof(c->path)) {
		snprintf(c->path + c->len, sizeof(c->path) - c->len, "/%s", name);
		fuse_invalidate_path(c->f, c->path); /* attributes and pages */
		c->path[c->len] = '\0';
	}
	return 0;
}

static int forget_dir_entry(void *arg, const char *name, const struct stat *st, off_t next)
{
	(void)next;
	return forget_child(arg, name, st);
}

/* Refreshes path's listing and has the kernel drop what it holds of the
 * directory and of each entry the old listing showed. */
static int refresh(struct imgtagfs *fs, const char *path)
{
	struct forget_ctx *c = calloc(1, sizeof(*c));
	struct tree_dir *old = NULL;
	int err;

	if (!c)
		return -ENOMEM;
	c->f = fuse_get_context()->fuse;
	if (strcmp(path, "/") != 0 && tree_opendir_cached(fs->t, path, &old) == 0) {
		c->len = strlen(path);
		memcpy(c->path, path, c->len + 1);
	}
	if (strcmp(path, "/") == 0) {
		fs_flush(fs, c->f); /* everything: as SIGHUP */
		err = 0;
	} else if (!(err = tree_refresh(fs->t, path))) {
		if (old)
			tree_dir_read(old, 0, forget_dir_entry, c);
		fuse_invalidate_path(c->f, path);
	}
	tree_closedir(old);
	free(c);
	return err;
}

void fs_free(struct imgtagfs *fs)
{
	free(fs);
}

static struct imgtagfs *ctx(void)
{
	return fuse_get_context()->private_data;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct imgtagfs *fs = ctx();

	/* Kernel caches expire no later than our snapshots would. */
	cfg->entry_timeout = fs->cfg.kernel_timeout;
	cfg->attr_timeout = fs->cfg.kernel_timeout;
	cfg->negative_timeout = fs->cfg.negative_timeout;
	cfg->use_ino = 0;
	cfg->kernel_cache = 0;
	/* Always readdirplus: every listing carries its attributes. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/* A re-pushed tag changes its mtime: let that drop cached pages. */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	if ((conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) && (conn->want & FUSE_CAP_AUTO_INVAL_DATA)) {
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
		fs->no_open = true;
	}
	/* Threads start here, in the daemon: fork keeps only its caller. */
	if (fs->bg && bg_start(fs->bg) == 0) {
		tree_set_background(fs->t, fs->bg);
		/* Someone who mounts looks inside next: have the top ready. */
		if (fs->cfg.warm)
			tree_warm(fs->t);
	}
	log_msg(fs->log, LOG_INFO, "mounted");
	return fs;
}

static void fs_destroy(void *private_data)
{
	struct imgtagfs *fs = private_data;

	if (fs->bg) {
		tree_set_background(fs->t, NULL);
		bg_stop(fs->bg);
	}
	log_msg(fs->log, LOG_INFO, "unmounted");
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	atomic_fetch_add(&ctx()->getattrs, 1);
	return tree_getattr(ctx()->t, path, st);
}

/* Directories are read in chunks by offset, from a handle that holds the
 * listing (tree_opendir): libfuse sends an entry's attributes and node id
 * with it (readdirplus) only on this path; when a whole listing is handed
 * over at offset 0, the kernel gets names alone and looks each one up
 * again, one upcall per file. */
static int fs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct tree_dir *d;
	int err = tree_opendir(ctx()->t, path, &d);

	if (!err)
		fi->fh = (uintptr_t)d;
	return err;
}

struct fill_ctx {
	void *buf;
	fuse_fill_dir_t filler;
};

static int fill_one(void *arg, const char *name, const struct stat *st, off_t next)
{
	struct fill_ctx *f = arg;

	return f->filler(f->buf, name, st, next, st ? FUSE_FILL_DIR_PLUS : 0);
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct fill_ctx f = {.buf = buf, .filler = filler};

	(void)path;
	(void)flags;
	return tree_dir_read((struct tree_dir *)(uintptr_t)fi->fh, off, fill_one, &f);
}

static int fs_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	tree_closedir((struct tree_dir *)(uintptr_t)fi->fh);
	return 0;
}

/* Opens cost a round trip to us per file (grep -r opens every tag), and
 * there is nothing to do in one: a read-only mount refuses write opens in
 * the kernel already, and reads find the tag by path. So the first open
 * answers ENOSYS, which (with no_open support) tells the kernel to stop
 * sending opens at all, and to keep pages cached across opens: a changed
 * tag changes its mtime, which makes the kernel drop them
 * (auto_inval_data). Without no_open support, opens are answered here. */
static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct stat st;
	int err;

	atomic_fetch_add(&ctx()->opens, 1);
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return -EROFS;
	if (ctx()->no_open)
		return -ENOSYS;
	err = tree_getattr(ctx()->t, path, &st);
	if (err)
		return err;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	fi->keep_cache = 1;
	return 0;
}

static int fs_read(const char *path, char *dst, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	return (int)tree_read(ctx()->t, path, dst, size, off);
}

static int fs_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_namemax = NAMES_MAX;
	sv->f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
	return 0;
}

/* Copies value into an xattr reply (size 0 asks for the length). */
static int xattr_reply(const struct buf *v, char *out, size_t size)
{
	if (v->len > 65536)
		return -E2BIG;
	if (size == 0)
		return (int)v->len;
	if (size < v->len)
		return -ERANGE;
	memcpy(out, v->data, v->len);
	return (int)v->len;
}

/* The counters of user.imgtagfs.stats, one "name: value" a line. */
static int render_stats(struct imgtagfs *fs, struct buf *v)
{
	struct uhub_stats us;
	struct cache_stats cs;
	int err = 0;

	uhub_get_stats(fs->u, &us);
	cache_get_stats(fs->c, &cs);
	for (int k = UHUB_REPOS; k <= UHUB_TAGS && !err; k++)
		err = buf_printf(v, "api_calls.%s: %llu\n", uhub_action(k), (unsigned long long)us.calls[k]);
	if (!err)
		err = buf_printf(v, "api_retries: %llu\napi_errors: %llu\n", (unsigned long long)us.retries,
				 (unsigned long long)us.errors);
	for (size_t i = 0; i < us.nretcodes && !err; i++)
		err = buf_printf(v, "api_retcode.%ld: %llu\n", us.retcodes[i].code,
				 (unsigned long long)us.retcodes[i].count);
	if (!err)
		err = buf_printf(v, "fuse_opens: %lu\nfuse_getattrs: %lu\n", atomic_load(&fs->opens),
				 atomic_load(&fs->getattrs));
	if (!err)
		err = buf_printf(v,
				 "cache_hits: %llu\ncache_misses: %llu\ncache_evictions: %llu\n"
				 "cache_fills: %llu\ncache_fill_errors: %llu\ncache_waits: %llu\n"
				 "cache_stale_served: %llu\ncache_refreshes_ahead: %llu\n"
				 "cache_snapshots: %zu\ncache_bytes: %zu\ncache_oldest_age_s: %lld\n",
				 (unsigned long long)cs.hits, (unsigned long long)cs.misses,
				 (unsigned long long)cs.evictions, (unsigned long long)cs.fills,
				 (unsigned long long)cs.fill_errors, (unsigned long long)cs.waits,
				 (unsigned long long)cs.stale_served, (unsigned long long)cs.refreshes_ahead, cs.entries, cs.bytes,
				 (long long)(cs.oldest_ms / 1000));
	return err;
}

/* The value of one of our attributes for path into v. size is the
 * caller's buffer: getfattr asks for the length first (size 0), and only
 * the read that takes the value refreshes. */
static int our_xattr(struct imgtagfs *fs, const char *path, const char *name, size_t size, struct buf *v)
{
	if (strcmp(name, "stats") == 0)
		return render_stats(fs, v);
	if (strcmp(name, "refresh") == 0) {
		int err = size ? refresh(fs, path) : 0;

		if (!err && size)
			log_msg(fs->log, LOG_INFO, "refreshed %s", path);
		return err ? err : buf_adds(v, "refreshed");
	}
	return tree_tag_value(fs->t, path, name, v);
}

/* Names outside user.imgtagfs.*: there is no such attribute. For the
 * namespaces this filesystem has no notion of (security.*, system.* such
 * as ACLs, trusted.*) the answer is "not supported" rather than "no such
 * attribute": `ls -l` asks for security.selinux and an ACL on every file,
 * and on ENOTSUP it stops asking for the rest of the mount (coreutils
 * remembers the device), which saves two upcalls per file listed. */
static int foreign_xattr(const char *name)
{
	return strncmp(name, "user.", 5) == 0 ? -ENODATA : -ENOTSUP;
}

static int fs_getxattr(const char *path, const char *name, char *out, size_t size)
{
	struct buf v;
	int err;

	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) != 0)
		return foreign_xattr(name);
	buf_init(&v, 1 << 20);
	err = our_xattr(ctx(), path, name + strlen(XATTR_PREFIX), size, &v);
	if (!err)
		err = xattr_reply(&v, out, size);
	buf_release(&v);
	return err;
}

static int fs_listxattr(const char *path, char *out, size_t size)
{
	static const char names[] = XATTR_PREFIX "digest\0" XATTR_PREFIX "updated";
	struct stat st;
	int err = tree_getattr(ctx()->t, path, &st);

	if (err)
		return err;
	if (!S_ISREG(st.st_mode))
		return 0;
	if (size == 0)
		return sizeof(names);
	if (size < sizeof(names))
		return -ERANGE;
	memcpy(out, names, sizeof(names));
	return sizeof(names);
}

/* Every call that would change something. */
static int ro_path(const char *path)
{
	(void)path;
	return -EROFS;
}

static int ro_path_mode(const char *path, mode_t mode)
{
	(void)mode;
	return ro_path(path);
}

static int ro_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)dev;
	return ro_path_mode(path, mode);
}

static int ro_two(const char *from, const char *to)
{
	(void)to;
	return ro_path(from);
}

static int ro_rename(const char *from, const char *to, unsigned int flags)
{
	(void)flags;
	return ro_two(from, to);
}

static int ro_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)fi;
	return ro_path_mode(path, mode);
}

static int ro_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)uid;
	(void)gid;
	(void)fi;
	return ro_path(path);
}

static int ro_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)size;
	(void)fi;
	return ro_path(path);
}

static int ro_write(const char *path, const char *data, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)data;
	(void)size;
	(void)off;
	(void)fi;
	return ro_path(path);
}

static int ro_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)fi;
	return ro_path_mode(path, mode);
}

static int ro_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	(void)tv;
	(void)fi;
	return ro_path(path);
}

static int ro_setxattr(const char *path, const char *name, const char *value, size_t size, int flags)
{
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	return ro_path(path);
}

static int ro_removexattr(const char *path, const char *name)
{
	(void)name;
	return ro_path(path);
}

static const struct fuse_operations operations = {
	.init = fs_init,
	.destroy = fs_destroy,
	.getattr = fs_getattr,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.open = fs_open,
	.read = fs_read,
	.statfs = fs_statfs,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.mknod = ro_mknod,
	.mkdir = ro_path_mode,
	.unlink = ro_path,
	.rmdir = ro_path,
	.symlink = ro_two,
	.rename = ro_rename,
	.link = ro_two,
	.chmod = ro_chmod,
	.chown = ro_chown,
	.truncate = ro_truncate,
	.write = ro_write,
	.create = ro_create,
	.utimens = ro_utimens,
	.setxattr = ro_setxattr,
	.removexattr = ro_removexattr,
};

const struct fuse_operations *fs_operations(void)
{
	return &operations;
}
