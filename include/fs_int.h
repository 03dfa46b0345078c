/* fs_int.h — internal to the FUSE layer (src/fs.c, src/fs_ctl.c,
 * fs_dir.c, fs_notice.c), included by nothing else: the context every
 * operation gets, an open directory, and what the four files share:
 *
 *	fs.c		the FUSE operations, the context's lifecycle, the tick
 *	fs_dir.c	open directories: handles, their listings, offsets
 *	fs_notice.c	telling the kernel what to forget (change notices,
 *			flush, another host's invalidation), settling
 *	fs_ctl.c	the control plane: the stats and refresh attributes
 *
 * The layer's contract is fs.h.
 */
#ifndef IMGTAGFS_FS_INT_H
#define IMGTAGFS_FS_INT_H

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "tree.h"
#include "watchdog.h"

struct buf;
struct tree_dir;

/* How long a refresh or a flush waits for the kernel to have been told
 * before it answers anyway (the kernel may be waiting for a worker). */
#define FORGET_WAIT_MS 1000

struct imgtagfs {
	struct fs_config cfg;
	struct tree *t;
	struct uhub *u;
	struct cache *c;
	struct bg *bg;
	struct log *log;
	const struct fresh *fresh;
	struct inode_table *inodes;
	struct watchdog *wd;
	struct notify *kn;   /* the kernel's copies, and telling it to forget */
	struct prestore *ps; /* when to store a scanned directory's files */
	struct tier *tier;   /* the shared tier, or NULL */
	struct prune *pr;    /* deletion (allow_delete), or NULL: EROFS */
	struct fuse_session *se;
	bool no_open;	    /* the kernel can do without our opens */
	bool single_thread; /* -s: no request may wait for the notify thread */
	bool prestore;	    /* store scanned directories' files (not with -s) */
	atomic_bool ended;  /* on_end was called */
	/* The last ticket of the files told changed (settle). */
	_Atomic uint64_t files_ticket;
	pthread_mutex_t mu; /* refresh tokens; a leaf */
	double tokens;
	int64_t tokens_at;
	size_t trim_mark; /* inodes live at the last malloc_trim (or since) */
	_Atomic unsigned long opens, getattrs, lookups, readdirs, forgets, reads;
	/* The open directories, so that those whose RELEASEDIR never comes
	 * (the kernel drops the ones still queued when the connection ends
	 * at unmount) are closed at the end of the session. */
	pthread_mutex_t dirs_mu; /* guards dirs and ndirs; a leaf */
	struct dirh *dirs;
	size_t ndirs;
	_Atomic size_t dirs_kept_bytes; /* listings open directories hold */
	_Atomic unsigned long hunted;	/* names looked at for bare inodes */
};

/* An open directory: the listing it reads from and where it is. */
struct dirh {
	pthread_mutex_t mu; /* guards d: a READDIR, and the tick letting go of an
			       expired listing; taken after fs->dirs_mu */
	struct tree_dir *d;
	uint64_t ino;
	struct dirh *prev, *next; /* in fs->dirs */
	/* Who uses h: the kernel until RELEASEDIR, and each READDIR while it
	 * runs, which may be after its deadline answered for it (and the
	 * kernel released h). Guarded by fs->dirs_mu; the last frees h. */
	unsigned refs;
	char path[];
};

/* ---- fs.c: a request's life, for every fs file ---------------------------- */

/* A request in flight: registered with the watchdog until done. */
struct op {
	struct imgtagfs *fs;
	fuse_req_t req;
	struct watch_op w;
};

void fs_op_begin(struct op *o, fuse_req_t req);
/* True when the handler may (and must) reply. */
bool fs_op_claim(struct op *o);
void fs_op_end(struct op *o);
/* Replies -err (when still ours) and ends o. */
void fs_op_err(struct op *o, int err);
/* path of ino into buf (PATH_MAX), or -errno. */
int fs_ino_path(struct imgtagfs *fs, fuse_ino_t ino, char *buf, bool *dir);
/* ino's attributes as the tree shows its path now (see file_path). */
int fs_ino_stat(struct imgtagfs *fs, fuse_ino_t ino, struct stat *st, int64_t *until);
/* path of name in directory parent, into buf (PATH_MAX), or -errno. */
int fs_child_path(struct imgtagfs *fs, fuse_ino_t parent, const char *name, char *buf);

/* ---- fs_xattr.c: the extended attributes ---------------------------------- */

void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_ro_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags);
void fs_ro_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* ---- fs_write.c: every call that would change something ------------------- */

void fs_ro_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi);
void fs_ro_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void fs_ro_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_ro_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void fs_ro_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
		  unsigned int flags);
void fs_ro_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void fs_ro_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off, struct fuse_file_info *fi);
void fs_ro_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi);

/* ---- fs_dir.c ---- */

/* A directory offset for the entry before idx in listing d. */
off_t fs_off_make(const struct tree_dir *d, off_t idx);
/* Opens path (inode ino) into *out, in fs->dirs. 0 or -errno. */
int fs_dirh_open(struct imgtagfs *fs, uint64_t ino, const char *path, struct dirh **out);
/* Closes h (NULL: nothing), out of fs->dirs; freed once no READDIR
 * uses it any more. */
void fs_dirh_close(struct imgtagfs *fs, struct dirh *h);
/* A READDIR's hold on h, taken before the request is registered with the
 * watchdog (so that no RELEASEDIR can come first), and its release. */
void fs_dirh_hold(struct imgtagfs *fs, struct dirh *h);
void fs_dirh_put(struct imgtagfs *fs, struct dirh *h);
/* The tick: past dir_keep_bytes, expired listings of open directories
 * let go (tree_dir_forget). Never blocks. */
void fs_forget_idle_dirs(struct imgtagfs *fs);
/* At the end of the session: closes what the kernel never released. */
void fs_close_dirs(struct imgtagfs *fs);
/* How many directories are open. */
size_t fs_dirs_open(struct imgtagfs *fs);
/* Reading from the start: h reads the current listing. h->mu held.
 * 0 or tree_opendir's -errno. */
int fs_refresh_handle(struct imgtagfs *fs, struct dirh *h);
/* Reading on from off: *idx, the index to read from in h's listing
 * (fresh if h's expired). h->mu held. 0 or -errno. */
int fs_continue_handle(struct imgtagfs *fs, struct dirh *h, off_t off, off_t *idx);

/* ---- fs_notice.c ---- */

/* A request that found a tag's bytes changed waits (bounded) for the
 * kernel to have dropped its pages; before is files_ticket when it began. */
void fs_settle(struct imgtagfs *fs, uint64_t before);
/* tree_changed_fn: the kernel forgets what a new listing contradicts. */
void fs_on_changed(void *arg, const char *path, const char *const *names, size_t n, enum tree_change how);
/* For notify: does path still stand as the kind the kernel knows? */
int fs_still_there(void *arg, const char *path, bool dir);

/* fs_ctl.c: the stats attribute's value into v (stats.h). 0 or -errno. */
int fs_ctl_stats(struct imgtagfs *fs, struct buf *v);

/* ---- fs_store.c: storing a scanned directory's files ahead ---------------- */

/* Gives notify the listings to store from (at fs_new). */
void fs_set_files(struct imgtagfs *fs);
/* A READ of file ino at path reached us: when prestore sees a scan, the
 * files after it are queued for storing. */
void fs_scan_note(struct imgtagfs *fs, uint64_t ino, const char *path);
/* fs_ctl.c: a refresh of path (ino, a directory or not) asked by req:
 * drops path's listing, then the kernel's names, attributes, pages and
 * directory copy under it. 0, -EPERM (not the owner or root), -EAGAIN
 * (past the rate), or tree_refresh's -errno. */
int fs_ctl_refresh(struct imgtagfs *fs, fuse_req_t req, fuse_ino_t ino, const char *path, bool dir);

#endif
