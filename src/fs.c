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
 * bytes changed and says so (on_changed). A refresh or a
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
#include "inode.h"
#include "notify.h"
#include "log.h"
#include "names.h"
#include "prune.h"
#include "tier.h"
#include "tree.h"
#include "uhub.h"
#include "watchdog.h"

#define XATTR_PREFIX "user.imgtagfs."
/* How long a refresh or a flush waits for the kernel to have been told
 * before it answers anyway (the kernel may be waiting for a worker). */
#define FORGET_WAIT_MS 1000
/* How long a stat that found a tag changed waits for the kernel to have
 * dropped its pages (settle). */
#define SETTLE_WAIT_MS 200
#define TICK_MS 200
/* How long a caller waits for the refill of an expired listing that may
 * still be served (stale-if-error) before it gets the old one (the refill
 * goes on): a healthy API answers a page in well under a second, so a
 * refill silent for 2 s is treated as failing; and 2 s is about when a
 * person at an `ls` starts to wonder. Never more than a quarter of the
 * deadline, so a hung API gives the last good listing, not ETIMEDOUT. */
#define STALE_WAIT_MS 2000
#define READ_MAX (64 * 1024) /* a tag file is far smaller */
#define HUNT_MAX 16384	     /* names a bare inode's search looks at */

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
	struct notify *kn; /* the kernel's copies, and telling it to forget */
	struct tier *tier; /* the shared tier, or NULL */
	struct prune *pr;  /* deletion (allow_delete), or NULL: EROFS */
	struct fuse_session *se;
	bool no_open;	    /* the kernel can do without our opens */
	bool single_thread; /* -s: no request may wait for the notify thread */
	atomic_bool ended;  /* on_end was called */
	/* The last ticket of the files told changed (settle). */
	_Atomic uint64_t files_ticket;
	pthread_mutex_t mu; /* refresh tokens; a leaf */
	double tokens;
	int64_t tokens_at;
	size_t trim_mark; /* inodes live at the last malloc_trim (or since) */
	_Atomic unsigned long opens, getattrs, lookups, readdirs, forgets;
	/* The open directories, so that those whose RELEASEDIR never comes
	 * (the kernel drops the ones still queued when the connection ends
	 * at unmount) are closed at the end of the session. */
	pthread_mutex_t dirs_mu; /* guards dirs and ndirs; a leaf */
	struct dirh *dirs;
	size_t ndirs;
	_Atomic size_t dirs_kept_bytes; /* listings open directories hold */
	_Atomic unsigned long hunted; /* names looked at for bare inodes */
};

/* An open directory: the listing it reads from and where it is. */
struct dirh {
	pthread_mutex_t mu; /* guards d: a READDIR, and the tick letting go of an
			       expired listing; taken after fs->dirs_mu */
	struct tree_dir *d;
	uint64_t ino;
	struct dirh *prev, *next; /* in fs->dirs */
	char path[];
};

/* A directory offset, as the kernel hands it back (telldir, and each
 * READDIR after the first): the entry's index in the listing it was read
 * from, in the low 40 bits, and 22 bits of that listing's stamp above,
 * so that an offset from a listing since replaced is known for one: it
 * is then translated by the name it stood at (tree_dir_resume) instead
 * of being taken as a position in another listing. */
#define OFF_IDX_BITS 40
#define OFF_TAG_MASK ((uint64_t)0x3fffff)

static uint64_t off_tag(uint64_t stamp)
{
	return (stamp ^ stamp >> 22 ^ stamp >> 44) & OFF_TAG_MASK;
}

static off_t off_make(const struct tree_dir *d, off_t idx)
{
	return (off_t)(off_tag(tree_dir_stamp(d)) << OFF_IDX_BITS | (uint64_t)idx);
}

static off_t off_idx(off_t off)
{
	return (off_t)((uint64_t)off & (((uint64_t)1 << OFF_IDX_BITS) - 1));
}

static bool off_from(const struct tree_dir *d, off_t off)
{
	return ((uint64_t)off >> OFF_IDX_BITS & OFF_TAG_MASK) == off_tag(tree_dir_stamp(d));
}

static void close_dirs(struct imgtagfs *fs);
static void forget_idle_dirs(struct imgtagfs *fs);

static void tick(void *arg);
static void on_changed(void *arg, const char *path, const char *const *names, size_t n, enum tree_change how);
static int still_there(void *arg, const char *path, bool dir);

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
	tree_set_changed(t, on_changed, fs);
	fs->tokens = FS_REFRESH_BURST;
	fs->inodes = inode_table_new();
	if (fs->inodes)
		inode_table_set_key(fs->inodes, cfg->gen_key);
	fs->wd = watchdog_new(cfg->deadline_ms, TICK_MS, tick, fs, NULL);
	fs->kn = fs->inodes ? notify_new(fs->inodes, fs->fresh, still_there, fs) : NULL;
	if (cfg->allow_delete)
		fs->pr =
		    prune_new(&(struct prune_config){.owner = cfg->owner, .retries = cfg->delete_retries}, t, u, log);
	if (!fs->inodes || !fs->wd || !fs->kn || (cfg->allow_delete && !fs->pr) || pthread_mutex_init(&fs->mu, NULL) ||
	    pthread_mutex_init(&fs->dirs_mu, NULL)) {
		notify_free(fs->kn);
		inode_table_free(fs->inodes);
		watchdog_free(fs->wd);
		prune_free(fs->pr);
		free(fs);
		return NULL;
	}
	return fs;
}

void fs_free(struct imgtagfs *fs)
{
	if (!fs)
		return;
	tree_set_changed(fs->t, NULL, NULL);
	watchdog_free(fs->wd);
	close_dirs(fs);
	notify_free(fs->kn);
	inode_table_free(fs->inodes);
	prune_free(fs->pr);
	pthread_mutex_destroy(&fs->dirs_mu);
	pthread_mutex_destroy(&fs->mu);
	free(fs);
}

/* ---- telling the kernel what to forget ---------------------------------- */

/* Past this many of a directory's files to tell the kernel about, it is
 * told about the whole directory instead (one job, not a queue's worth). */
#define FILES_ONE_BY_ONE 64

/* Queues, for the held inodes among files names[0..n) of directory dir
 * (each also as NAME@tag, the name a tag has beside a nested image
 * directory of its name), the loss of their attributes and pages. */
static void forget_files(struct imgtagfs *fs, uint64_t dir, const char *const *names, size_t n)
{
	uint64_t ino, v[FILES_ONE_BY_ONE], ticket = 0;
	char alias[NAMES_MAX + sizeof(TREE_TAG_ALIAS)];
	size_t nv = 0;

	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			if (k && snprintf(alias, sizeof(alias), "%s%s", names[i], TREE_TAG_ALIAS) >= (int)sizeof(alias))
				continue;
			if (inode_find(fs->inodes, dir, k ? alias : names[i], false, &ino) != 0)
				continue;
			if (nv == FILES_ONE_BY_ONE) {
				notify_forget(fs->kn, dir, NOTIFY_CHANGED);
				return;
			}
			v[nv++] = ino;
		}
	for (size_t i = 0; i < nv; i++)
		ticket = notify_forget(fs->kn, v[i], NOTIFY_INODE);
	/* Tickets only grow, but two threads may store out of order. */
	for (uint64_t was = atomic_load(&fs->files_ticket);
	     nv && was < ticket && !atomic_compare_exchange_weak(&fs->files_ticket, &was, ticket);)
		;
}

/* A request that found a tag's bytes changed (a fill it caused named the
 * file to the kernel: forget_files) replies once the kernel has dropped
 * the old pages, within a bound: the kernel keeps a file's pages across a
 * GETATTR that shows the same mtime and size, so the read that follows
 * the stat would find them. Not with -s, whose one thread the kernel may
 * need for what the notify thread waits on. */
static void settle(struct imgtagfs *fs, uint64_t before)
{
	uint64_t t = atomic_load(&fs->files_ticket);

	if (t > before && !fs->single_thread)
		notify_wait(fs->kn, t, SETTLE_WAIT_MS);
}

/* A listing just fetched contradicts what the kernel may hold under path
 * (the cache's lock may be held: queue only): it forgets that now,
 * instead of when it would have expired. Only what it holds is named: the
 * numbers are looked up in our inode table (a collision's salt included). */
static void on_changed(void *arg, const char *path, const char *const *names, size_t n, enum tree_change how)
{
	struct imgtagfs *fs = arg;
	uint64_t ino;

	if (inode_find_path(fs->inodes, path, true, &ino) != 0)
		return; /* the kernel holds nothing there */
	if (how == TREE_CHANGED_FILES)
		forget_files(fs, ino, names, n);
	else if (how == TREE_CHANGED_DEEP)
		notify_forget(fs->kn, ino == INODE_ROOT ? 0 : ino, NOTIFY_FLUSH);
	else
		notify_forget(fs->kn, ino, NOTIFY_CHANGED);
}

/* For notify: does path still stand as what the kernel knows it as? From
 * cached listings only: the notify thread must not wait on the network
 * (a name that cannot be told now is forgotten by the kernel, which then
 * asks again). */
static int still_there(void *arg, const char *path, bool dir)
{
	struct imgtagfs *fs = arg;
	struct stat st;

	return tree_stat_cached(fs->t, path, &st) == 0 && !!S_ISDIR(st.st_mode) == dir;
}

/* When the kernel has forgotten half of what it held (drop_caches, memory
 * pressure, a flush), the freed slots and names go back to the system:
 * glibc keeps freed heap otherwise, and RSS would stay at its peak. */
static void maybe_trim(struct imgtagfs *fs)
{
	size_t n = inode_count(fs->inodes);

	if (n > fs->trim_mark) {
		fs->trim_mark = n;
	} else if (fs->trim_mark >= 4096 && n < fs->trim_mark / 2) {
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
	forget_idle_dirs(fs);
	if (fs->se && fuse_session_exited(fs->se) && !atomic_exchange(&fs->ended, true) && fs->cfg.on_end)
		fs->cfg.on_end(fs->cfg.on_end_arg);
}

void fs_flush(struct imgtagfs *fs)
{
	/* Our cache first: a lookup between the two steps must find nothing
	 * old to bring back into the kernel. */
	tree_flush(fs->t);
	notify_wait(fs->kn, notify_forget(fs->kn, 0, NOTIFY_FLUSH), FORGET_WAIT_MS);
}

/* Another host invalidated a listing (NULL: every one): ours goes, and
 * the kernel is told; on the subscriber's thread, not in a request. */
static void on_remote(void *arg, const char *key)
{
	struct imgtagfs *fs = arg;

	if (key) {
		tree_forget(fs->t, key);
	} else {
		cache_clear(fs->c); /* not tree_flush: that would tell the fleet back */
		notify_forget(fs->kn, 0, NOTIFY_FLUSH);
	}
}

void fs_set_tier(struct imgtagfs *fs, struct tier *tier)
{
	fs->tier = tier;
	if (tier)
		tier_set_receiver(tier, on_remote, fs);
}

/* ---- lifecycle -------------------------------------------------------------- */

int fs_attach(struct imgtagfs *fs, struct fuse_session *se, bool single_thread)
{
	int err;

	fs->single_thread = single_thread; /* notifications never come from a request */
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
	close_dirs(fs); /* no request runs any more */
	log_msg(fs->log, LOG_INFO, "unmounted");
}

/* ---- replies --------------------------------------------------------------- */

static struct imgtagfs *ctx(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* A request in flight: registered with the watchdog until done. */
struct op {
	struct imgtagfs *fs;
	fuse_req_t req;
	struct watch_op w;
};

static void op_begin(struct op *o, fuse_req_t req)
{
	o->fs = ctx(req);
	o->req = req;
	watchdog_begin(o->fs->wd, &o->w, req);
}

/* True when the handler may (and must) reply. */
static bool op_claim(struct op *o)
{
	return watchdog_claim(o->fs->wd, &o->w);
}

static void op_end(struct op *o)
{
	watchdog_end(o->fs->wd, &o->w);
}

static void op_err(struct op *o, int err)
{
	if (op_claim(o))
		fuse_reply_err(o->req, -err);
	op_end(o);
}

/* path of ino into buf (PATH_MAX), or -errno. */
static int ino_path(struct imgtagfs *fs, fuse_ino_t ino, char *buf, bool *dir)
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
	int err = ino_path(fs, ino, path, &dir);

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

static int ino_stat(struct imgtagfs *fs, fuse_ino_t ino, struct stat *st, int64_t *until)
{
	char path[PATH_MAX];

	return file_path(fs, ino, path, st, until);
}

/* path of name in directory parent. */
static int child_path(struct imgtagfs *fs, fuse_ino_t parent, const char *name, char *buf)
{
	size_t len, nl = strlen(name);
	int err = ino_path(fs, parent, buf, NULL);

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

/* Replies with an entry for ino (one lookup taken already), or takes the
 * lookup back when the reply cannot be given. */
static void op_entry(struct op *o, fuse_ino_t ino, const struct stat *st, int64_t until)
{
	struct fuse_entry_param e = {.ino = ino, .attr = *st};

	e.attr.st_ino = ino;
	e.generation = inode_generation(o->fs->inodes, ino);
	e.attr_timeout = e.entry_timeout = fresh_kernel_timeout(o->fs->fresh, until);
	prune_shown(o->fs->pr, ino, st);
	if (!op_claim(o) || fuse_reply_entry(o->req, &e) != 0)
		inode_forget(o->fs->inodes, ino, 1, NULL);
	op_end(o);
}

/* "Does not exist", kept by the kernel while the listing that said so
 * lives and at most negative_ttl. */
static void op_noent(struct op *o, int64_t until)
{
	struct fuse_entry_param e = {.ino = 0};
	int64_t neg = fresh_now(o->fs->fresh) + fresh_neg_ttl_ms(o->fs->fresh);

	e.entry_timeout = fresh_kernel_timeout(o->fs->fresh, until < neg ? until : neg);
	if (e.entry_timeout <= 0) {
		op_err(o, -ENOENT);
		return;
	}
	if (op_claim(o))
		fuse_reply_entry(o->req, &e);
	op_end(o);
}

/* ---- lookups and attributes ------------------------------------------------- */

static bool is_dot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/* A search of the cached listings for the path whose inode number is
 * want (a handle the kernel kept while it forgot the inode). */
struct hunt {
	struct imgtagfs *fs;
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
	int err = tree_opendir_cached(h->fs->t, h->path, &d);

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
static int resurrect(struct imgtagfs *fs, uint64_t ino, uint64_t *got, bool *dir)
{
	struct hunt *h = calloc(1, sizeof(*h));
	int err = -ESTALE;

	if (!h)
		return -ENOMEM;
	h->fs = fs;
	h->want = ino;
	h->at = INODE_ROOT;
	memcpy(h->path, "/", 2);
	h->len = 1;
	hunt_dir(h);
	atomic_fetch_add(&fs->hunted, h->seen > HUNT_MAX ? HUNT_MAX : h->seen);
	if (h->found && (err = inode_ref_path(fs->inodes, h->path, h->dir, got)) == 0 && *got != ino) {
		inode_forget(fs->inodes, *got, 1, NULL); /* taken by a colliding path */
		err = -ESTALE;
	}
	*dir = h->dir;
	free(h);
	return err;
}

/* LOOKUP of "." or ".." names the inode itself or its parent: the kernel
 * asks so for a bare inode (open_by_handle_at, NFS re-export). */
static void lookup_dot(struct op *o, fuse_ino_t ino, const char *name)
{
	char *path = malloc(PATH_MAX);
	struct stat st;
	uint64_t got;
	int64_t until;
	bool dir;
	int err = path ? inode_ref_known(o->fs->inodes, ino, name[1] == '.', &got, &dir) : -ENOMEM;

	if (err == -ESTALE && !name[1])
		err = resurrect(o->fs, ino, &got, &dir);
	if (err) {
		op_err(o, err);
	} else if ((err = file_path(o->fs, got, path, &st, &until)) != 0) {
		inode_forget(o->fs->inodes, got, 1, NULL); /* the lookup taken above */
		op_err(o, err == -ENOENT ? -ESTALE : err);
	} else {
		op_entry(o, got, &st, until);
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

	op_begin(&o, req);
	atomic_fetch_add(&o.fs->lookups, 1);
	atomic_fetch_add(&o.fs->getattrs, 1);
	if (is_dot(name)) {
		lookup_dot(&o, parent, name);
		return;
	}
	seen = atomic_load(&o.fs->files_ticket);
	err = child_path(o.fs, parent, name, path);
	if (!err)
		err = tree_stat(o.fs->t, path, &st, &until);
	if (err == -ENOENT) {
		op_noent(&o, until);
		return;
	}
	if (!err)
		settle(o.fs, seen);
	if (!err)
		err = inode_ref(o.fs->inodes, parent, name, S_ISDIR(st.st_mode), &ino);
	if (err)
		op_err(&o, err);
	else
		op_entry(&o, ino, &st, until);
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
	struct op o;
	struct stat st;
	int64_t until = 0;
	uint64_t seen;
	int err;

	(void)fi;
	op_begin(&o, req);
	atomic_fetch_add(&o.fs->getattrs, 1);
	seen = atomic_load(&o.fs->files_ticket);
	err = ino_stat(o.fs, ino, &st, &until);
	if (err) {
		op_err(&o, err);
		return;
	}
	settle(o.fs, seen);
	st.st_ino = ino;
	prune_shown(o.fs->pr, ino, &st);
	if (op_claim(&o))
		fuse_reply_attr(req, &st, fresh_kernel_timeout(o.fs->fresh, until));
	op_end(&o);
}

/* ---- directories ------------------------------------------------------------- */

static int dirh_open(struct imgtagfs *fs, uint64_t ino, const char *path, struct dirh **out)
{
	size_t len = strlen(path) + 1;
	struct dirh *h = malloc(sizeof(*h) + len);
	int err = h ? tree_opendir(fs->t, path, &h->d) : -ENOMEM;

	if (!err && pthread_mutex_init(&h->mu, NULL)) {
		tree_closedir(h->d);
		err = -ENOMEM;
	}
	if (err) {
		free(h);
		return err;
	}
	h->ino = ino;
	memcpy(h->path, path, len);
	pthread_mutex_lock(&fs->dirs_mu);
	h->prev = NULL;
	h->next = fs->dirs;
	if (fs->dirs)
		fs->dirs->prev = h;
	fs->dirs = h;
	fs->ndirs++;
	pthread_mutex_unlock(&fs->dirs_mu);
	*out = h;
	return 0;
}

static void dirh_close(struct imgtagfs *fs, struct dirh *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&fs->dirs_mu);
	if (h->prev)
		h->prev->next = h->next;
	else
		fs->dirs = h->next;
	if (h->next)
		h->next->prev = h->prev;
	fs->ndirs--;
	pthread_mutex_unlock(&fs->dirs_mu);
	tree_closedir(h->d);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* An expired listing an open directory keeps, for forget_idle_dirs. */
struct kept {
	int64_t until;
	size_t bytes;
	struct dirh *h;
};

static int by_until(const void *a, const void *b)
{
	const struct kept *x = a, *y = b;

	return (x->until > y->until) - (x->until < y->until);
}

/* The tick: open directories keep the listing they read, past its ttl
 * too (so that seekdir to a telldir position goes on exactly, by the name
 * there), but not more than dir_keep_bytes of listings in all, counted
 * per directory whether or not the cache still holds the same one (a
 * directory held open pins its listing after the cache let go of it):
 * past that, those that expired first (or expire soonest) keep only where
 * reading stopped (tree_dir_forget), and read on from a fresh listing.
 * Never blocks: a directory being read is left for the next tick. Lock
 * held: dirs_mu. */
static void forget_idle_locked(struct imgtagfs *fs)
{
	struct kept *v = malloc((fs->ndirs ? fs->ndirs : 1) * sizeof(*v));
	size_t n = 0, total = 0;

	for (struct dirh *h = fs->dirs; h && v; h = h->next) {
		int64_t until = tree_dir_until(h->d);

		if (until && !pthread_mutex_trylock(&h->mu)) {
			v[n] = (struct kept){.until = until, .bytes = tree_dir_bytes(h->d), .h = h};
			total += v[n++].bytes;
		}
	}
	if (v && total > fs->cfg.dir_keep_bytes)
		qsort(v, n, sizeof(*v), by_until);
	for (size_t i = 0; v && i < n; i++) {
		if (total > fs->cfg.dir_keep_bytes) {
			tree_dir_forget(v[i].h->d);
			total -= v[i].bytes;
		}
		pthread_mutex_unlock(&v[i].h->mu);
	}
	if (v)
		atomic_store(&fs->dirs_kept_bytes, total);
	free(v);
}

static void forget_idle_dirs(struct imgtagfs *fs)
{
	pthread_mutex_lock(&fs->dirs_mu);
	forget_idle_locked(fs);
	pthread_mutex_unlock(&fs->dirs_mu);
}

/* At the end of the session: what the kernel never released. */
static void close_dirs(struct imgtagfs *fs)
{
	for (;;) {
		struct dirh *h;

		pthread_mutex_lock(&fs->dirs_mu);
		h = fs->dirs;
		pthread_mutex_unlock(&fs->dirs_mu);
		if (!h)
			return;
		dirh_close(fs, h);
	}
}

static size_t dirs_open(struct imgtagfs *fs)
{
	size_t n;

	pthread_mutex_lock(&fs->dirs_mu);
	n = fs->ndirs;
	pthread_mutex_unlock(&fs->dirs_mu);
	return n;
}

/* The kernel keeps its copy of a listing across opens (keep_cache) only
 * while that copy is the listing we would serve now. */
static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	char path[PATH_MAX];
	struct dirh *h = NULL;
	struct op o;
	int err;

	op_begin(&o, req);
	err = ino_path(o.fs, ino, path, NULL);
	if (!err)
		err = dirh_open(o.fs, ino, path, &h);
	if (err) {
		op_err(&o, err);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->cache_readdir = 1;
	fi->keep_cache = notify_copy_current(o.fs->kn, ino, tree_dir_stamp(h->d));
	if (!op_claim(&o) || fuse_reply_open(req, fi) != 0)
		dirh_close(o.fs, h);
	op_end(&o);
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
	uint64_t *refs; /* lookups taken for this reply */
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
	need = b->plus ? fuse_add_direntry_plus(b->req, b->buf + b->pos, room, name, &e, off_make(b->d, next))
		       : fuse_add_direntry(b->req, b->buf + b->pos, room, name, &e.attr, off_make(b->d, next));
	if (need > room) {
		if (b->plus && st)
			inode_forget(b->fs->inodes, e.ino, 1, NULL); /* not sent */
		return 1;
	}
	b->pos += need;
	if (b->plus && st) {
		b->refs[b->nrefs++] = e.ino;
		prune_shown(b->fs->pr, e.ino, st);
	}
	return 0;
}

static void undo_refs(struct dirbuf *b)
{
	for (size_t i = 0; i < b->nrefs; i++)
		inode_forget(b->fs->inodes, b->refs[i], 1, NULL);
}

/* Replaces h's listing with d. */
static void handle_take(struct dirh *h, struct tree_dir *d)
{
	tree_closedir(h->d);
	h->d = d;
}

/* Reading from the start reads the current listing: a rewound descriptor
 * never replays an expired one, nor one that a refresh replaced. */
static int refresh_handle(struct imgtagfs *fs, struct dirh *h)
{
	struct tree_dir *d = NULL;
	int err;

	if (fresh_now(fs->fresh) < tree_dir_until(h->d) && tree_opendir_cached(fs->t, h->path, &d) == 0 &&
	    tree_dir_stamp(d) == tree_dir_stamp(h->d)) {
		tree_closedir(d);
		return 0; /* still the current listing */
	}
	tree_closedir(d);
	err = tree_opendir(fs->t, h->path, &d);
	if (!err)
		handle_take(h, d);
	return err;
}

/* Reading on from off (not the start): from the same listing while it
 * lasts; once it expired, from the fresh listing, right after the name
 * the reader had at off (tree_dir_resume), so that going on after the
 * ttl neither replays the old listing nor repeats or skips a name that
 * is in both. An offset from another listing than h's (one that h
 * replaced, or the kernel's copy made by another descriptor) is taken
 * as a position. *idx: the index to read from. */
static int continue_handle(struct imgtagfs *fs, struct dirh *h, off_t off, off_t *idx)
{
	struct tree_dir *d;
	int err;

	*idx = off_idx(off);
	if (tree_dir_until(h->d) && fresh_now(fs->fresh) < tree_dir_until(h->d))
		return 0;
	err = tree_opendir(fs->t, h->path, &d);
	if (err)
		return err;
	if (off_from(h->d, off))
		err = tree_dir_resume(h->d, *idx, d, idx);
	if (err) {
		tree_closedir(d);
		return err;
	}
	handle_take(h, d);
	return 0;
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	struct dirbuf b = {.req = req, .h = (struct dirh *)(uintptr_t)fi->fh, .plus = plus, .size = size};
	struct op o;
	off_t idx = 0;
	int err = 0;

	op_begin(&o, req);
	b.fs = o.fs;
	atomic_fetch_add(&o.fs->readdirs, 1);
	pthread_mutex_lock(&b.h->mu);
	if (off == 0)
		err = refresh_handle(o.fs, b.h);
	else
		err = continue_handle(o.fs, b.h, off, &idx);
	b.d = b.h->d;
	b.buf = err ? NULL : malloc(size ? size : 1);
	/* An entry takes at least 24 bytes (more with attributes). */
	b.refs = b.buf ? malloc((size / 24 + 1) * sizeof(*b.refs)) : NULL;
	if (!err && (!b.buf || !b.refs))
		err = -ENOMEM;
	if (!err) {
		b.timeout = fresh_kernel_timeout(o.fs->fresh, tree_dir_until(b.h->d));
		err = tree_dir_read(b.h->d, idx, add_one, &b);
	}
	if (!err && off == 0)
		notify_copy_made(o.fs->kn, b.h->ino, tree_dir_stamp(b.h->d), tree_dir_until(b.h->d));
	pthread_mutex_unlock(&b.h->mu);
	if (err) {
		undo_refs(&b);
		op_err(&o, err);
	} else {
		if (!op_claim(&o) || fuse_reply_buf(req, b.buf, b.pos) != 0)
			undo_refs(&b);
		op_end(&o);
	}
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
	dirh_close(ctx(req), (struct dirh *)(uintptr_t)fi->fh);
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

	op_begin(&o, req);
	atomic_fetch_add(&o.fs->opens, 1);
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		op_err(&o, -EROFS);
		return;
	}
	if (o.fs->no_open) {
		op_err(&o, -ENOSYS);
		return;
	}
	err = ino_stat(o.fs, ino, &st, &until);
	if (!err && S_ISDIR(st.st_mode))
		err = -EISDIR;
	if (err) {
		op_err(&o, err);
		return;
	}
	fi->keep_cache = 1;
	if (op_claim(&o))
		fuse_reply_open(req, fi);
	op_end(&o);
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
	op_begin(&o, req);
	if (size > READ_MAX)
		size = READ_MAX;
	got = file_path(o.fs, ino, path, &st, &until);
	if (!got)
		prune_shown(o.fs->pr, ino, &st);
	if (!got)
		got = (buf = malloc(size ? size : 1)) ? tree_read(o.fs->t, path, buf, size, off) : -ENOMEM;
	if (got < 0) {
		op_err(&o, (int)got);
	} else {
		if (op_claim(&o))
			fuse_reply_buf(req, buf, (size_t)got);
		op_end(&o);
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

/* ---- extended attributes ---------------------------------------------------- */

/* The counters of user.imgtagfs.stats, one "name: value" a line. */
static int render_tier(struct imgtagfs *fs, struct buf *v)
{
	struct tier_stats ts;

	tier_get_stats(fs->tier, &ts);
	return buf_printf(v,
			  "shared_up: %d\nshared_hits: %llu\nshared_misses: %llu\nshared_writes: %llu\n"
			  "shared_rejected: %llu\nshared_errors: %llu\nshared_waits: %llu\nshared_squatted: %llu\n"
			  "shared_invalidations_sent: %llu\nshared_invalidations_received: %llu\n",
			  ts.up, (unsigned long long)ts.hits, (unsigned long long)ts.misses,
			  (unsigned long long)ts.writes, (unsigned long long)ts.rejected, (unsigned long long)ts.errors,
			  (unsigned long long)ts.waits, (unsigned long long)ts.squatted,
			  (unsigned long long)ts.invalidations_sent, (unsigned long long)ts.invalidations_received);
}

static int render_stats(struct imgtagfs *fs, struct buf *v)
{
	struct uhub_stats us;
	struct cache_stats cs;
	int err = 0;

	uhub_get_stats(fs->u, &us);
	cache_get_stats(fs->c, &cs);
	for (int k = UHUB_REPOS; k <= UHUB_DELETE && !err; k++)
		err = buf_printf(v, "api_calls.%s: %llu\n", uhub_action(k), (unsigned long long)us.calls[k]);
	if (!err)
		err = buf_printf(v, "api_retries: %llu\napi_errors: %llu\n", (unsigned long long)us.retries,
				 (unsigned long long)us.errors);
	for (size_t i = 0; i < us.nretcodes && !err; i++)
		err = buf_printf(v, "api_retcode.%ld: %llu\n", us.retcodes[i].code,
				 (unsigned long long)us.retcodes[i].count);
	if (!err)
		err = buf_printf(v,
				 "fuse_opens: %lu\nfuse_getattrs: %lu\nfuse_lookups: %lu\nfuse_readdirs: %lu\n"
				 "fuse_forgets: %lu\nfuse_handle_names: %lu\ninodes: %zu\nopen_dirs: %zu\n"
				 "open_dirs_bytes: %zu\ndeadline_timeouts: %lu\n",
				 atomic_load(&fs->opens), atomic_load(&fs->getattrs), atomic_load(&fs->lookups),
				 atomic_load(&fs->readdirs), atomic_load(&fs->forgets), atomic_load(&fs->hunted),
				 inode_count(fs->inodes), dirs_open(fs), atomic_load(&fs->dirs_kept_bytes),
				 watchdog_timeouts(fs->wd));
	if (!err)
		err = buf_printf(v,
				 "cache_hits: %llu\ncache_misses: %llu\ncache_evictions: %llu\n"
				 "cache_fills: %llu\ncache_fill_errors: %llu\ncache_waits: %llu\n"
				 "cache_stale_served: %llu\ncache_refreshes_ahead: %llu\n"
				 "cache_snapshots: %zu\ncache_bytes: %zu\ncache_oldest_age_s: %lld\n",
				 (unsigned long long)cs.hits, (unsigned long long)cs.misses,
				 (unsigned long long)cs.evictions, (unsigned long long)cs.fills,
				 (unsigned long long)cs.fill_errors, (unsigned long long)cs.waits,
				 (unsigned long long)cs.stale_served, (unsigned long long)cs.refreshes_ahead,
				 cs.entries, cs.bytes, (long long)(cs.oldest_ms / 1000));
	if (!err && fs->pr)
		err = prune_render_stats(fs->pr, v);
	return err || !fs->tier ? err : render_tier(fs, v);
}

/* Refreshing costs the owner's API calls: only the owner and root may,
 * at a bounded rate (a token bucket). 0, -EPERM or -EAGAIN. */
static int may_refresh(struct imgtagfs *fs, fuse_req_t req)
{
	const struct fuse_ctx *who = fuse_req_ctx(req);
	int64_t now = fresh_now(fs->fresh);
	int err = 0;

	if (who->uid != 0 && who->uid != fs->cfg.owner)
		return -EPERM;
	pthread_mutex_lock(&fs->mu);
	fs->tokens += (double)(now - fs->tokens_at) * FS_REFRESH_PER_S / 1000.0;
	if (fs->tokens > FS_REFRESH_BURST)
		fs->tokens = FS_REFRESH_BURST;
	fs->tokens_at = now;
	if (fs->tokens < 1.0)
		err = -EAGAIN;
	else
		fs->tokens -= 1.0;
	pthread_mutex_unlock(&fs->mu);
	return err;
}

/* Drops path's listing, then (ours first, fs_flush's order) the kernel's
 * names, attributes, pages and directory copy under it: inline when other
 * threads serve requests meanwhile, from our own thread with -s. */
static int refresh(struct imgtagfs *fs, fuse_req_t req, fuse_ino_t ino, const char *path, bool dir)
{
	int err = may_refresh(fs, req);

	if (err)
		return err;
	if (strcmp(path, "/") == 0)
		tree_flush(fs->t);
	else if ((err = tree_refresh(fs->t, path)) != 0)
		return err;
	/* A tag's refresh drops its image's listing: forget the directory. */
	if (!dir && inode_parent(fs->inodes, ino, &ino) != 0)
		return 0; /* the kernel holds no such inode any more */
	/* Told from notify's thread, never from this request (the kernel may
	 * need a lock held by a request waiting for a worker); the reply waits
	 * for it, within a bound, so the change is visible when it comes. */
	notify_wait(fs->kn, notify_forget(fs->kn, ino == INODE_ROOT ? 0 : ino, NOTIFY_FLUSH), FORGET_WAIT_MS);
	log_msg(fs->log, LOG_INFO, "refreshed %s", path);
	return 0;
}

/* The value of one of our attributes into v. size is the caller's
 * buffer: getfattr asks for the length first (size 0), and only the read
 * that takes the value refreshes. */
static int our_xattr(struct op *o, fuse_ino_t ino, const char *path, bool dir, const char *name, size_t size,
		     struct buf *v)
{
	if (strcmp(name, "stats") == 0)
		return render_stats(o->fs, v);
	if (strcmp(name, "refresh") == 0) {
		int err = size ? refresh(o->fs, o->req, ino, path, dir) : 0;

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
		op_err(o, -E2BIG);
	} else if (size && size < v->len) {
		op_err(o, -ERANGE);
	} else {
		if (op_claim(o)) {
			if (size == 0)
				fuse_reply_xattr(o->req, v->len);
			else
				fuse_reply_buf(o->req, v->data, v->len);
		}
		op_end(o);
	}
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char path[PATH_MAX];
	struct op o;
	struct buf v;
	bool dir = false;
	int err;

	op_begin(&o, req);
	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) != 0) {
		op_err(&o, foreign_xattr(name));
		return;
	}
	buf_init(&v, 1 << 20);
	err = ino_path(o.fs, ino, path, &dir);
	if (!err)
		err = our_xattr(&o, ino, path, dir, name + strlen(XATTR_PREFIX), size, &v);
	if (err)
		op_err(&o, err);
	else
		reply_value(&o, &v, size);
	buf_release(&v);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	static const char names[] = XATTR_PREFIX "digest\0" XATTR_PREFIX "updated";
	struct op o;
	struct stat st;
	int64_t until;
	size_t len;
	int err;

	op_begin(&o, req);
	err = ino_stat(o.fs, ino, &st, &until);
	if (err) {
		op_err(&o, err);
		return;
	}
	len = S_ISREG(st.st_mode) ? sizeof(names) : 0;
	if (size && size < len) {
		op_err(&o, -ERANGE);
		return;
	}
	if (op_claim(&o)) {
		if (size == 0)
			fuse_reply_xattr(req, len);
		else
			fuse_reply_buf(req, names, len);
	}
	op_end(&o);
}

/* ---- every call that would change something ----------------------------------- */

static void ro_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	(void)ino;
	(void)attr;
	(void)to_set;
	(void)fi;
	fuse_reply_err(req, EROFS);
}

static void ro_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, EROFS);
}

static void ro_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	ro_mknod(req, parent, name, mode, 0);
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

	op_begin(&o, req);
	err = o.fs->pr ? child_path(o.fs, parent, name, path) : -EROFS;
	if (!err && !dir && inode_find(o.fs->inodes, parent, name, false, &ino) != 0)
		ino = 0; /* the kernel holds no such file: never shown, refused */
	if (!err)
		err = dir ? prune_rmdir(o.fs->pr, &who, path) : prune_unlink(o.fs->pr, &who, ino, path);
	op_err(&o, err);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, false);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, true);
}

static void ro_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	ro_mknod(req, parent, name, 0, 0);
}

static void ro_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	(void)newparent;
	(void)newname;
	(void)flags;
	ro_mknod(req, parent, name, 0, 0);
}

static void ro_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	ro_mknod(req, newparent, newname, 0, 0);
}

static void ro_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)data;
	(void)size;
	(void)off;
	ro_setattr(req, ino, NULL, 0, fi);
}

static void ro_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	(void)fi;
	ro_mknod(req, parent, name, mode, 0);
}

static void ro_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	ro_setattr(req, ino, NULL, 0, NULL);
}

static void ro_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)name;
	ro_setattr(req, ino, NULL, 0, NULL);
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
    .setattr = ro_setattr,
    .mknod = ro_mknod,
    .mkdir = ro_mkdir,
    .unlink = fs_unlink,
    .rmdir = fs_rmdir,
    .symlink = ro_symlink,
    .rename = ro_rename,
    .link = ro_link,
    .write = ro_write,
    .create = ro_create,
    .setxattr = ro_setxattr,
    .removexattr = ro_removexattr,
};

const struct fuse_lowlevel_ops *fs_operations(void)
{
	return &operations;
}
