/* fs.c — the FUSE layer on libfuse's low-level API.
 *
 *	$ ls -i /mnt/registry/web/api/v1.4.2	# the same number after a remount
 *	$ getfattr -n user.imgtagfs.refresh /mnt/registry/web/api   # now
 *
 * Each callback turns an inode number into a path (our inode table),
 * asks the tree, and replies once. What the kernel is told it may keep
 * exactly as long as the listing behind it lives (fresh.h), which is what
 * lets a warm `find` or `grep -r` run from the kernel's caches without a
 * single upcall: names and attributes by their timeouts, directory
 * listings by cache_readdir (kept across opens only while they still are
 * the current listing), file pages by no-open until the tree finds a tag's
 * bytes changed and says so (on_changed); a directory being scanned has
 * its tag files stored in the kernel's page cache ahead of the reader
 * (prestore.h, by notify's thread). A refresh or a
 * flush tells the kernel at once, from our inode table, every name it
 * holds under the directory, after our own cache let go of it.
 *
 * Every request that may wait on the network is registered with the
 * watchdog, which answers ETIMEDOUT at the deadline; the handler then
 * takes back the lookups its reply would have given.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "bg.h"
#include "buf.h"
#include "cache.h"
#include "fresh.h"
#include "fs_int.h"
#include "inode.h"
#include "inode_hunt.h"
#include "listkey.h"
#include "notify.h"
#include "log.h"
#include "names.h"
#include "prestore.h"
#include "prune.h"
#include "tier.h"
#include "tree.h"
#include "watchdog.h"

#define TICK_MS 200
/* How long a caller waits for the refill of an expired listing that may
 * still be served (stale-if-error) before it gets the old one (the refill
 * goes on): a healthy API answers a page in well under a second, so a
 * refill silent for 2 s is treated as failing; and 2 s is about when a
 * person at an `ls` starts to wonder. Never more than a quarter of the
 * deadline, so a hung API gives the last good listing, not ETIMEDOUT. */
#define STALE_WAIT_MS 2000
#define READ_MAX (64 * 1024) /* a tag file is far smaller */

static void tick(void *arg);

struct imgtagfs *fs_new(const struct fs_config *cfg, struct tree *t, struct uhub *u, struct cache *c, struct bg *b,
			struct log *log)
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
	fs->fresh = tree_fresh(t);
	cache_set_wait_limit(c, cfg->deadline_ms);
	cache_set_stale_wait(c, cfg->deadline_ms > 0 && cfg->deadline_ms / 4 < STALE_WAIT_MS ? cfg->deadline_ms / 4
											     : STALE_WAIT_MS);
	tree_set_changed(t, fs_on_changed, fs);
	fs->tokens = FS_REFRESH_BURST;
	fs->inodes = inode_table_new();
	if (fs->inodes)
		inode_table_set_key(fs->inodes, cfg->gen_key);
	fs->wd = watchdog_new(cfg->deadline_ms, TICK_MS, tick, fs, NULL);
	fs->kn = fs->inodes ? notify_new(fs->inodes, fs->fresh, fs_still_there, fs) : NULL;
	fs->ps = prestore_new();
	if (cfg->allow_delete)
		fs->pr =
		    prune_new(&(struct prune_config){.owner = cfg->owner, .retries = cfg->delete_retries}, t, u, log);
	if (!fs->inodes || !fs->wd || !fs->kn || !fs->ps || (cfg->allow_delete && !fs->pr) ||
	    pthread_mutex_init(&fs->mu, NULL) || pthread_mutex_init(&fs->dirs_mu, NULL)) {
		prestore_free(fs->ps);
		notify_free(fs->kn);
		inode_table_free(fs->inodes);
		watchdog_free(fs->wd);
		prune_free(fs->pr);
		free(fs);
		return NULL;
	}
	fs_set_files(fs);
	return fs;
}

void fs_free(struct imgtagfs *fs)
{
	if (!fs)
		return;
	tree_set_changed(fs->t, NULL, NULL);
	watchdog_free(fs->wd);
	fs_close_dirs(fs);
	notify_free(fs->kn);
	prestore_free(fs->ps); /* after notify: its last batches end there */
	inode_table_free(fs->inodes);
	prune_free(fs->pr);
	pthread_mutex_destroy(&fs->dirs_mu);
	pthread_mutex_destroy(&fs->mu);
	free(fs);
}

/* When the kernel has forgotten half of what it held (drop_caches, memory
 * pressure, a flush), the freed slots and names go back to the system:
 * glibc keeps freed heap otherwise, and RSS would stay at its peak. Half
 * of the mark and at least 2048 inodes, so that the last few thousand of
 * a large set going are trimmed too (a mark of 3,000 falling to none left
 * about 1 MB resident), while a small mount never trims. */
static void maybe_trim(struct imgtagfs *fs)
{
	size_t n = inode_count(fs->inodes);

	if (n > fs->trim_mark) {
		fs->trim_mark = n;
	} else if (fs->trim_mark - n >= 2048 && n < fs->trim_mark / 2) {
#ifdef __GLIBC__
		malloc_trim(0);
#endif
		fs->trim_mark = n;
	}
}

/* The watchdog's tick: returning memory, and the end of the session, at
 * which work in flight is cancelled before libfuse waits for its workers.
 * Never blocks (it shares the thread that answers requests at their
 * deadline). */
static void tick(void *arg)
{
	struct imgtagfs *fs = arg;

	maybe_trim(fs);
	fs_forget_idle_dirs(fs);
	if (fs->se && fuse_session_exited(fs->se) && !atomic_exchange(&fs->ended, true) && fs->cfg.on_end)
		fs->cfg.on_end(fs->cfg.on_end_arg);
}

/* ---- lifecycle -------------------------------------------------------------- */

int fs_attach(struct imgtagfs *fs, struct fuse_session *se, bool single_thread)
{
	int err;

	fs->single_thread = single_thread; /* notifications never come from a request */
	/* A store meeting a page under a READ waits for the worker that
	 * answers it; with -s that worker may be waiting for the notify
	 * thread (a refresh), so nothing is stored ahead there. */
	fs->prestore = !single_thread;
	fs->se = se;
	err = notify_start(fs->kn, se);
	if (!err)
		err = watchdog_start(fs->wd);
	return err || !fs->tier ? err : tier_start(fs->tier);
}

void fs_detach(struct imgtagfs *fs)
{
	tier_stop(fs->tier); /* its receiver tells notify */
	watchdog_stop(fs->wd);
	notify_stop(fs->kn);
	fs->se = NULL;
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct imgtagfs *fs = userdata;

	/* Always readdirplus: every listing carries its attributes. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/* The kernel drops a file's pages when the mtime or size it is told
	 * changes: a push with a new update time. The same second with other
	 * bytes (the same size: a digest) it cannot see, and is told of
	 * (on_changed). */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	if ((conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) && (conn->want & FUSE_CAP_AUTO_INVAL_DATA)) {
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
		fs->no_open = true;
	}
	/* LOOKUP of "." and ".." on a bare inode: open_by_handle_at, NFS. */
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	/* Threads start here, in the daemon: fork keeps only its caller. */
	if (fs->bg && bg_start(fs->bg) == 0) {
		tree_set_background(fs->t, fs->bg);
		/* Someone who mounts looks inside next: have the top ready. */
		if (fs->cfg.warm)
			tree_warm(fs->t);
	}
	log_msg(fs->log, LOG_INFO, "mounted");
}

static void fs_destroy(void *userdata)
{
	struct imgtagfs *fs = userdata;

	if (fs->bg) {
		tree_set_background(fs->t, NULL);
		bg_stop(fs->bg);
	}
	fs_close_dirs(fs); /* no request runs any more */
	log_msg(fs->log, LOG_INFO, "unmounted");
}

/* ---- replies --------------------------------------------------------------- */

static struct imgtagfs *ctx(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

void fs_op_begin(struct op *o, fuse_req_t req)
{
	o->fs = ctx(req);
	o->req = req;
	watchdog_begin(o->fs->wd, &o->w, req);
}

/* True when the handler may (and must) reply. */
bool fs_op_claim(struct op *o)
{
	return watchdog_claim(o->fs->wd, &o->w);
}

void fs_op_end(struct op *o)
{
	watchdog_end(o->fs->wd, &o->w);
}

void fs_op_err(struct op *o, int err)
{
	if (fs_op_claim(o))
		fuse_reply_err(o->req, -err);
	fs_op_end(o);
}

/* path of ino into buf (PATH_MAX), or -errno. */
int fs_ino_path(struct imgtagfs *fs, fuse_ino_t ino, char *buf, bool *dir)
{
	return inode_path(fs->inodes, ino, buf, PATH_MAX, dir);
}

/* The other name a tag file may have in its directory: x@tag for x (the
 * image gained a nested image directory x), x for x@tag (that directory
 * went). -ENAMETOOLONG, or -ENOENT when path has no such alternative. */
static int other_name(char *path)
{
	size_t len = strlen(path), sl = strlen(TREE_TAG_ALIAS);
	const char *base = strrchr(path, '/');

	if (len > sl && strcmp(path + len - sl, TREE_TAG_ALIAS) == 0 && (size_t)(path + len - sl - base) > 1) {
		path[len - sl] = '\0';
		return 0;
	}
	if (len + sl >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(path + len, TREE_TAG_ALIAS, sl + 1);
	return 0;
}

/* The path of inode ino as the tree shows it now, with its attributes and
 * until when they hold (tree_stat). An inode never changes kind: the
 * kernel marks one whose attributes do bad, and every later use of its
 * number (the same directory come back, for every user) fails with EIO.
 * So a directory inode whose path now names a tag is -ENOENT, and so is a
 * tag whose path now names a directory, unless the tag is shown under its
 * other name (other_name): an open descriptor of it keeps reading it. */
static int file_path(struct imgtagfs *fs, fuse_ino_t ino, char *path, struct stat *st, int64_t *until)
{
	bool dir = false;
	int err = fs_ino_path(fs, ino, path, &dir);

	if (err)
		return err;
	err = tree_stat(fs->t, path, st, until);
	if (dir || (err && err != -ENOENT))
		return err ? err : S_ISDIR(st->st_mode) ? 0 : -ENOENT;
	if (!err && !S_ISDIR(st->st_mode))
		return 0;
	if (other_name(path) != 0 || tree_stat(fs->t, path, st, until) != 0)
		return -ENOENT;
	return S_ISDIR(st->st_mode) ? -ENOENT : 0;
}

int fs_ino_stat(struct imgtagfs *fs, fuse_ino_t ino, struct stat *st, int64_t *until)
{
	char path[PATH_MAX];

	return file_path(fs, ino, path, st, until);
}

/* path of name in directory parent. */
int fs_child_path(struct imgtagfs *fs, fuse_ino_t parent, const char *name, char *buf)
{
	size_t len, nl = strlen(name);
	int err = fs_ino_path(fs, parent, buf, NULL);

	if (err)
		return err;
	if (nl > NAMES_MAX)
		return -ENAMETOOLONG;
	len = strlen(buf);
	if (len + 1 + nl >= PATH_MAX)
		return -ENAMETOOLONG;
	if (len > 1)
		buf[len++] = '/';
	memcpy(buf + len, name, nl + 1);
	return 0;
}

/* How long the kernel may keep what path shows, valid until until: by
 * the ttl of the repository path lies in (fresh.h, rule 3). */
static double kernel_timeout(const struct imgtagfs *fs, const char *path, int64_t until)
{
	char key[LISTKEY_MAX];

	tree_fresh_key(fs->t, path, key);
	return fresh_kernel_timeout(fs->fresh, key, until);
}

/* Replies with an entry for ino at path (one lookup taken already), or
 * takes the lookup back when the reply cannot be given. */
static void op_entry(struct op *o, const char *path, fuse_ino_t ino, const struct stat *st, int64_t until)
{
	struct fuse_entry_param e = {.ino = ino, .attr = *st};

	e.attr.st_ino = ino;
	e.generation = inode_generation(o->fs->inodes, ino);
	e.attr_timeout = e.entry_timeout = kernel_timeout(o->fs, path, until);
	if (!fs_op_claim(o)) {
		inode_forget(o->fs->inodes, ino, 1, NULL); /* the deadline answered */
		fs_op_end(o);
		return;
	}
	/* Recorded only for a reply that goes (prune.h). */
	if (!prune_looked_up(o->fs->pr, ino, st))
		e.attr_timeout = 0; /* asked again at each stat, until listed */
	if (fuse_reply_entry(o->req, &e) != 0)
		inode_forget(o->fs->inodes, ino, 1, NULL);
	fs_op_end(o);
}

/* "Does not exist" (at path), kept by the kernel while the listing that
 * said so lives and at most negative_ttl. */
static void op_noent(struct op *o, const char *path, int64_t until)
{
	struct fuse_entry_param e = {.ino = 0};
	char key[LISTKEY_MAX];
	int64_t neg;

	tree_fresh_key(o->fs->t, path, key);
	neg = fresh_now(o->fs->fresh) + fresh_neg_ttl_ms(o->fs->fresh, key);
	e.entry_timeout = fresh_kernel_timeout(o->fs->fresh, key, until < neg ? until : neg);
	if (e.entry_timeout <= 0) {
		fs_op_err(o, -ENOENT);
		return;
	}
	if (fs_op_claim(o))
		fuse_reply_entry(o->req, &e);
	fs_op_end(o);
}

/* ---- lookups and attributes ------------------------------------------------- */

static bool is_dot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/* LOOKUP of "." or ".." names the inode itself or its parent: the kernel
 * asks so for a bare inode (open_by_handle_at, NFS re-export). */
static void lookup_dot(struct op *o, fuse_ino_t ino, const char *name)
{
	char *path = malloc(PATH_MAX);
	struct stat st;
	uint64_t got;
	int64_t until;
	size_t seen = 0;
	bool dir;
	int err = path ? inode_ref_known(o->fs->inodes, ino, name[1] == '.', &got, &dir) : -ENOMEM;

	if (err == -ESTALE && !name[1]) {
		err = inode_hunt(o->fs->inodes, o->fs->t, ino, &got, &dir, &seen);
		atomic_fetch_add(&o->fs->hunted, seen);
	}
	if (err) {
		fs_op_err(o, err);
	} else if ((err = file_path(o->fs, got, path, &st, &until)) != 0) {
		inode_forget(o->fs->inodes, got, 1, NULL); /* the lookup taken above */
		fs_op_err(o, err == -ENOENT ? -ESTALE : err);
	} else {
		op_entry(o, path, got, &st, until);
	}
	free(path);
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	char path[PATH_MAX];
	struct op o;
	struct stat st;
	uint64_t ino, seen;
	int64_t until = 0;
	int err;

	fs_op_begin(&o, req);
	atomic_fetch_add(&o.fs->lookups, 1);
	atomic_fetch_add(&o.fs->getattrs, 1);
	if (is_dot(name)) {
		lookup_dot(&o, parent, name);
		return;
	}
	seen = atomic_load(&o.fs->files_ticket);
	err = fs_child_path(o.fs, parent, name, path);
	if (!err && (err = tree_stat(o.fs->t, path, &st, &until)) == -ENOENT) {
		op_noent(&o, path, until);
		return;
	}
	if (!err)
		fs_settle(o.fs, seen);
	if (!err)
		err = inode_ref(o.fs->inodes, parent, name, S_ISDIR(st.st_mode), &ino);
	if (err)
		fs_op_err(&o, err);
	else
		op_entry(&o, path, ino, &st, until);
}

/* The kernel let go of ino altogether. */
static void forgotten(struct imgtagfs *fs, uint64_t ino, bool dir)
{
	if (dir)
		notify_copy_gone(fs->kn, ino);
	else
		prune_forgotten(fs->pr, ino);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct imgtagfs *fs = ctx(req);
	bool dir = false;

	atomic_fetch_add(&fs->forgets, 1);
	if (inode_forget(fs->inodes, ino, nlookup, &dir))
		forgotten(fs, ino, dir);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct imgtagfs *fs = ctx(req);

	for (size_t i = 0; i < count; i++) {
		bool dir = false;

		atomic_fetch_add(&fs->forgets, 1);
		if (inode_forget(fs->inodes, forgets[i].ino, forgets[i].nlookup, &dir))
			forgotten(fs, forgets[i].ino, dir);
	}
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	char path[PATH_MAX];
	struct op o;
	struct stat st;
	int64_t until = 0;
	uint64_t seen;
	int err;

	(void)fi;
	fs_op_begin(&o, req);
	atomic_fetch_add(&o.fs->getattrs, 1);
	seen = atomic_load(&o.fs->files_ticket);
	err = file_path(o.fs, ino, path, &st, &until);
	if (err) {
		fs_op_err(&o, err);
		return;
	}
	fs_settle(o.fs, seen);
	st.st_ino = ino;
	if (fs_op_claim(&o))
		fuse_reply_attr(req, &st, prune_looked_up(o.fs->pr, ino, &st) ? kernel_timeout(o.fs, path, until) : 0);
	fs_op_end(&o);
}

/* ---- directories ------------------------------------------------------------- */

/* The kernel keeps its copy of a listing across opens (keep_cache) only
 * while that copy is the listing we would serve now. */
static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	char path[PATH_MAX];
	struct dirh *h = NULL;
	struct op o;
	int err;

	fs_op_begin(&o, req);
	err = fs_ino_path(o.fs, ino, path, NULL);
	if (!err)
		err = fs_dirh_open(o.fs, ino, path, &h);
	if (err) {
		fs_op_err(&o, err);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->cache_readdir = 1;
	pthread_mutex_lock(&h->mu); /* the tick may trim h->d already */
	fi->keep_cache = notify_copy_current(o.fs->kn, ino, tree_dir_stamp(h->d));
	pthread_mutex_unlock(&h->mu);
	if (!fs_op_claim(&o) || fuse_reply_open(req, fi) != 0)
		fs_dirh_close(o.fs, h);
	fs_op_end(&o);
}

/* One readdir reply being built. */
struct dirbuf {
	struct imgtagfs *fs;
	fuse_req_t req;
	struct dirh *h;
	bool plus;
	double timeout;
	const struct tree_dir *d; /* the listing read: its stamp tags the offsets */
	char *buf;
	size_t size, pos;
	uint64_t *refs;	    /* lookups taken for this reply */
	struct stat *shown; /* with allow_delete: what refs[i] is shown as */
	size_t nrefs;
};

static int add_one(void *arg, const char *name, const struct stat *st, off_t next)
{
	struct dirbuf *b = arg;
	struct fuse_entry_param e = {.ino = 0};
	size_t room = b->size - b->pos, need;

	if (st) {
		e.attr = *st;
		if (b->plus && inode_ref(b->fs->inodes, b->h->ino, name, S_ISDIR(st->st_mode), &e.ino) != 0)
			return 1; /* no number for it: end the chunk here */
		if (!b->plus)
			e.ino = inode_hash(b->h->ino, name, S_ISDIR(st->st_mode));
		else
			e.generation = inode_generation(b->fs->inodes, e.ino);
		e.attr.st_ino = e.ino;
		e.attr_timeout = e.entry_timeout = b->timeout;
	} else {
		/* "." and "..": no node id, so the kernel takes no lookup. */
		e.attr.st_mode = S_IFDIR;
		e.attr.st_ino = name[1] ? INODE_ROOT : b->h->ino;
	}
	need = b->plus ? fuse_add_direntry_plus(b->req, b->buf + b->pos, room, name, &e, fs_off_make(b->d, next))
		       : fuse_add_direntry(b->req, b->buf + b->pos, room, name, &e.attr, fs_off_make(b->d, next));
	if (need > room) {
		if (b->plus && st)
			inode_forget(b->fs->inodes, e.ino, 1, NULL); /* not sent */
		return 1;
	}
	b->pos += need;
	if (b->plus && st) {
		if (b->shown)
			b->shown[b->nrefs] = *st;
		b->refs[b->nrefs++] = e.ino;
	}
	return 0;
}

/* The reply went: the user is shown what it lists (prune.h). Never
 * before: a READDIR answered ETIMEDOUT by the watchdog shows nothing. */
static void shown_refs(struct dirbuf *b)
{
	for (size_t i = 0; b->shown && i < b->nrefs; i++)
		prune_shown(b->fs->pr, b->refs[i], &b->shown[i]);
}

static void undo_refs(struct dirbuf *b)
{
	for (size_t i = 0; i < b->nrefs; i++)
		inode_forget(b->fs->inodes, b->refs[i], 1, NULL);
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	struct dirbuf b = {.req = req, .h = (struct dirh *)(uintptr_t)fi->fh, .plus = plus, .size = size};
	struct op o;
	off_t idx = 0;
	int err = 0;

	fs_dirh_hold(ctx(req), b.h); /* before the watchdog may answer */
	fs_op_begin(&o, req);
	b.fs = o.fs;
	atomic_fetch_add(&o.fs->readdirs, 1);
	pthread_mutex_lock(&b.h->mu);
	if (off == 0)
		err = fs_refresh_handle(o.fs, b.h);
	else
		err = fs_continue_handle(o.fs, b.h, off, &idx);
	b.d = b.h->d;
	b.buf = err ? NULL : malloc(size ? size : 1);
	/* An entry takes at least 24 bytes (more with attributes). */
	b.refs = b.buf ? malloc((size / 24 + 1) * sizeof(*b.refs)) : NULL;
	b.shown = b.buf && plus && o.fs->pr ? malloc((size / 24 + 1) * sizeof(*b.shown)) : NULL;
	if (!err && (!b.buf || !b.refs || (plus && o.fs->pr && !b.shown)))
		err = -ENOMEM;
	if (!err) {
		b.timeout = kernel_timeout(o.fs, b.h->path, tree_dir_until(b.h->d));
		err = tree_dir_read(b.h->d, idx, add_one, &b);
	}
	if (!err && off == 0)
		notify_copy_made(o.fs->kn, b.h->ino, tree_dir_stamp(b.h->d), tree_dir_until(b.h->d));
	pthread_mutex_unlock(&b.h->mu);
	if (err) {
		undo_refs(&b);
		fs_op_err(&o, err);
	} else {
		if (!fs_op_claim(&o) || fuse_reply_buf(req, b.buf, b.pos) != 0)
			undo_refs(&b);
		else
			shown_refs(&b);
		fs_op_end(&o);
	}
	fs_dirh_put(o.fs, b.h);
	free(b.shown);
	free(b.refs);
	free(b.buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, false);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, true);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fs_dirh_close(ctx(req), (struct dirh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* ---- files ------------------------------------------------------------------- */

/* Opens cost a round trip per file (grep -r opens every tag) and carry
 * nothing: a read-only mount refuses write opens in the kernel already,
 * and reads find the tag by inode. So the first open answers ENOSYS,
 * which (with no_open support) tells the kernel to stop sending opens and
 * to keep pages across opens: when a tag's bytes change, the kernel drops
 * them (on_changed, and auto_inval_data for a new mtime). */
static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct op o;
	struct stat st;
	int64_t until;
	int err;

	fs_op_begin(&o, req);
	atomic_fetch_add(&o.fs->opens, 1);
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fs_op_err(&o, -EROFS);
		return;
	}
	if (o.fs->no_open) {
		fs_op_err(&o, -ENOSYS);
		return;
	}
	err = fs_ino_stat(o.fs, ino, &st, &until);
	if (!err && S_ISDIR(st.st_mode))
		err = -EISDIR;
	if (err) {
		fs_op_err(&o, err);
		return;
	}
	fi->keep_cache = 1;
	if (fs_op_claim(&o))
		fuse_reply_open(req, fi);
	fs_op_end(&o);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	char path[PATH_MAX];
	struct stat st;
	int64_t until;
	struct op o;
	char *buf = NULL;
	ssize_t got;

	(void)fi;
	fs_op_begin(&o, req);
	atomic_fetch_add(&o.fs->reads, 1);
	if (size > READ_MAX)
		size = READ_MAX;
	got = file_path(o.fs, ino, path, &st, &until);
	if (!got)
		got = (buf = malloc(size ? size : 1)) ? tree_read(o.fs->t, path, buf, size, off) : -ENOMEM;
	if (got < 0) {
		fs_op_err(&o, (int)got);
	} else {
		fs_scan_note(o.fs, ino, path);
		/* Shown once the reply goes, not when the deadline answered. */
		if (fs_op_claim(&o) && fuse_reply_buf(req, buf, (size_t)got) == 0)
			prune_shown(o.fs->pr, ino, &st);
		fs_op_end(&o);
	}
	free(buf);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = {.f_bsize = 4096, .f_frsize = 4096, .f_namemax = NAMES_MAX};

	(void)ino;
	sv.f_flag = (ctx(req)->pr ? 0 : ST_RDONLY) | ST_NOSUID | ST_NODEV;
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops operations = {
    .init = fs_init,
    .destroy = fs_destroy,
    .lookup = fs_lookup,
    .forget = fs_forget,
    .forget_multi = fs_forget_multi,
    .getattr = fs_getattr,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .readdirplus = fs_readdirplus,
    .releasedir = fs_releasedir,
    .open = fs_open,
    .read = fs_read,
    .statfs = fs_statfs,
    .getxattr = fs_getxattr,
    .listxattr = fs_listxattr,
    .setattr = fs_ro_setattr,
    .mknod = fs_ro_mknod,
    .mkdir = fs_ro_mkdir,
    .unlink = fs_unlink,
    .rmdir = fs_rmdir,
    .symlink = fs_ro_symlink,
    .rename = fs_ro_rename,
    .link = fs_ro_link,
    .write = fs_ro_write,
    .create = fs_ro_create,
    .setxattr = fs_ro_setxattr,
    .removexattr = fs_ro_removexattr,
};

const struct fuse_lowlevel_ops *fs_operations(void)
{
	return &operations;
}
