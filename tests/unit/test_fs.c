/* test_fs.c — the FUSE layer (fs.c, fs_dir.c, fs_xattr.c, fs_ctl.c,
 * fs_write.c, fs_store.c, fs_notice.c) without a kernel: the operations
 * of fs_operations() called as libfuse would, over the in-memory API,
 * with every libfuse function the layer calls defined in this file (the
 * program is linked without libfuse: one missing here is a link error),
 * so that every reply and every notification is seen. What
 * the kernel does with them is the integration tests' part (real mounts);
 * here: which reply each request gets, what it carries, and how many API
 * calls it cost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cache.h"
#include "fake_api.h"
#include "fresh.h"
#include "fs.h"
#include "monotime.h"
#include "tree.h"

#define OWNER 1000
#define D1 "sha256:3f1c000000000000000000000000000000000000000000000000000000000001"
#define MAX_ENTRIES 512
#define MAX_NOTES 4096

/* ---- libfuse, as this test sees it ------------------------------------------ */

enum reply { R_NONE, R_ERR, R_ENTRY, R_ATTR, R_BUF, R_OPEN, R_NONE_SENT, R_STATFS, R_XATTR };

struct entry {
	char name[128];
	struct fuse_entry_param e;
	off_t off;
};

/* One request: who asks, and the one reply it got. */
struct fuse_req {
	void *fs;
	struct fuse_ctx ctx;
	int replies;
	enum reply kind;
	int err;
	struct fuse_entry_param e;
	struct stat attr;
	double attr_timeout;
	char buf[8192];
	size_t len;
	struct fuse_file_info fi;
	struct statvfs sv;
	size_t xattr_size;
	struct entry ents[MAX_ENTRIES]; /* added to a readdir reply */
	size_t nents;
};

/* The session: what the notify thread told the kernel. */
struct fuse_session {
	pthread_mutex_t mu;
	struct note {
		char kind; /* 'e' inval_entry, 'i' inval_inode, 's' store */
		uint64_t ino;
		char name[128];
		char bytes[256];
	} notes[MAX_NOTES];
	size_t nnotes;
};

static void got(fuse_req_t req, enum reply kind)
{
	req->replies++;
	req->kind = kind;
}

void *fuse_req_userdata(fuse_req_t req)
{
	return req->fs;
}

const struct fuse_ctx *fuse_req_ctx(fuse_req_t req)
{
	return &req->ctx;
}

int fuse_reply_err(fuse_req_t req, int err)
{
	got(req, R_ERR);
	req->err = err;
	return 0;
}

void fuse_reply_none(fuse_req_t req)
{
	got(req, R_NONE_SENT);
}

int fuse_reply_entry(fuse_req_t req, const struct fuse_entry_param *e)
{
	got(req, R_ENTRY);
	req->e = *e;
	return 0;
}

int fuse_reply_attr(fuse_req_t req, const struct stat *attr, double attr_timeout)
{
	got(req, R_ATTR);
	req->attr = *attr;
	req->attr_timeout = attr_timeout;
	return 0;
}

int fuse_reply_buf(fuse_req_t req, const char *buf, size_t size)
{
	got(req, R_BUF);
	req->len = size;
	if (buf && size <= sizeof(req->buf))
		memcpy(req->buf, buf, size);
	return 0;
}

int fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi)
{
	got(req, R_OPEN);
	req->fi = *fi;
	return 0;
}

int fuse_reply_statfs(fuse_req_t req, const struct statvfs *sv)
{
	got(req, R_STATFS);
	req->sv = *sv;
	return 0;
}

int fuse_reply_xattr(fuse_req_t req, size_t count)
{
	got(req, R_XATTR);
	req->xattr_size = count;
	return 0;
}

/* The kernel's sizes (fuse_dirent: 24 bytes and the name, padded to 8;
 * fuse_direntplus: 128 more), so that chunking is as with a kernel. */
static size_t dirent_size(const char *name, bool plus)
{
	return (plus ? 128 : 0) + ((24 + strlen(name) + 7) & ~(size_t)7);
}

static size_t add_entry(fuse_req_t req, size_t bufsize, const char *name, const struct fuse_entry_param *e, off_t off,
			bool plus)
{
	size_t need = dirent_size(name, plus);

	if (need <= bufsize && req->nents < MAX_ENTRIES) {
		struct entry *x = &req->ents[req->nents++];

		snprintf(x->name, sizeof(x->name), "%s", name);
		x->e = *e;
		x->off = off;
	}
	return need;
}

size_t fuse_add_direntry(fuse_req_t req, char *buf, size_t bufsize, const char *name, const struct stat *stbuf,
			 off_t off)
{
	struct fuse_entry_param e = {.attr = *stbuf, .ino = stbuf->st_ino};

	(void)buf;
	return add_entry(req, bufsize, name, &e, off, false);
}

size_t fuse_add_direntry_plus(fuse_req_t req, char *buf, size_t bufsize, const char *name,
			      const struct fuse_entry_param *e, off_t off)
{
	(void)buf;
	return add_entry(req, bufsize, name, e, off, true);
}

static void note(struct fuse_session *se, char kind, uint64_t ino, const char *name, size_t nlen, const void *bytes,
		 size_t len)
{
	pthread_mutex_lock(&se->mu);
	if (se->nnotes < MAX_NOTES) {
		struct note *n = &se->notes[se->nnotes++];

		memset(n, 0, sizeof(*n));
		n->kind = kind;
		n->ino = ino;
		memcpy(n->name, name, nlen < sizeof(n->name) - 1 ? nlen : sizeof(n->name) - 1);
		memcpy(n->bytes, bytes, len < sizeof(n->bytes) - 1 ? len : sizeof(n->bytes) - 1);
	}
	pthread_mutex_unlock(&se->mu);
}

int fuse_lowlevel_notify_inval_entry(struct fuse_session *se, fuse_ino_t parent, const char *name, size_t namelen)
{
	note(se, 'e', parent, name, namelen, "", 0);
	return 0;
}

int fuse_lowlevel_notify_inval_inode(struct fuse_session *se, fuse_ino_t ino, off_t off, off_t len)
{
	(void)off;
	(void)len;
	note(se, 'i', ino, "", 0, "", 0);
	return 0;
}

int fuse_lowlevel_notify_store(struct fuse_session *se, fuse_ino_t ino, off_t offset, struct fuse_bufvec *bufv,
			       enum fuse_buf_copy_flags flags)
{
	(void)offset;
	(void)flags;
	note(se, 's', ino, "", 0, bufv->buf[0].mem, bufv->buf[0].size);
	return 0;
}

int fuse_session_exited(struct fuse_session *se)
{
	(void)se;
	return 0;
}

/* ---- the fixture ------------------------------------------------------------- */

struct fixture {
	struct fake_api *f;
	struct uhub *u;
	struct cache *c;
	struct fresh *fresh;
	struct tree *t;
	struct imgtagfs *fs;
	const struct fuse_lowlevel_ops *ops;
	struct fuse_session se;
	_Atomic int64_t now; /* the cache's clock, ms (the tick reads it too) */
	uid_t uid;	     /* who asks */
};

static int64_t fake_clock(void *arg)
{
	return atomic_load(&((struct fixture *)arg)->now);
}

/* The tick (every 200 ms, the watchdog's thread) lets open directories'
 * listings go past dir_keep: ample but where a test wants that. */
static struct fixture *make(bool allow_delete, bool no_open, size_t dir_keep)
{
	struct fixture *x = calloc(1, sizeof(*x));
	struct tree_config tc = {.uid = OWNER, .gid = OWNER, .umask = 022, .mount_time = 1700000000};
	struct fs_config fc = {.deadline_ms = 0,
			       .owner = OWNER,
			       .allow_delete = allow_delete,
			       .delete_retries = 3,
			       .dir_keep_bytes = dir_keep};
	struct fuse_conn_info conn = {.capable = FUSE_CAP_READDIRPLUS | FUSE_CAP_AUTO_INVAL_DATA |
						 FUSE_CAP_EXPORT_SUPPORT | (no_open ? FUSE_CAP_NO_OPEN_SUPPORT : 0)};

	x->now = 1000000;
	x->uid = OWNER;
	x->f = fake_api_new();
	fake_api_add_repo(x->f, "web", "2026-11-27 10:15:00");
	fake_api_add_image(x->f, "web", "api", "2026-11-27 10:15:00");
	fake_api_add_image(x->f, "web", "big", "1764000000");
	fake_api_add_tag(x->f, "web", "api", "v1.4.2", D1, "1764200000");
	fake_api_add_tag(x->f, "web", "api", "latest", D1, "1764200100");
	fake_api_add_tags(x->f, "web", "big", "t", 300);
	x->u = fake_api_client(x->f, 100, 4);
	x->c = cache_new(64 << 20, fake_clock, x);
	x->fresh =
	    fresh_new(&(struct fresh_config){.ttl_ms = 60000, .neg_ttl_ms = 5000, .clock = fake_clock, .clock_arg = x});
	tc.fresh = x->fresh;
	tc.writable_dirs = allow_delete;
	x->t = tree_new(&tc, x->u, x->c, NULL);
	x->fs = fs_new(&fc, x->t, x->u, x->c, NULL, NULL);
	assert_non_null(x->fs);
	x->ops = fs_operations();
	x->ops->init(x->fs, &conn);
	pthread_mutex_init(&x->se.mu, NULL);
	assert_int_equal(fs_attach(x->fs, &x->se, false), 0);
	return x;
}

#define KEEP ((size_t)64 << 20)

static int setup(void **state)
{
	*state = make(false, true, KEEP);
	return 0;
}

static int setup_open(void **state)
{
	*state = make(false, false, KEEP);
	return 0;
}

static int setup_delete(void **state)
{
	*state = make(true, true, KEEP);
	return 0;
}

static int setup_keep_none(void **state)
{
	*state = make(false, true, 1);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	fs_detach(x->fs);
	x->ops->destroy(x->fs);
	fs_free(x->fs);
	tree_free(x->t);
	fresh_free(x->fresh);
	cache_free(x->c);
	uhub_free(x->u);
	fake_api_free(x->f);
	pthread_mutex_destroy(&x->se.mu);
	free(x);
	return 0;
}

/* A request from x's current user. Heap: a readdir's record is large. */
static fuse_req_t req_new(struct fixture *x)
{
	fuse_req_t r = calloc(1, sizeof(*r));

	r->fs = x->fs;
	r->ctx.uid = x->uid;
	r->ctx.gid = x->uid;
	r->ctx.pid = 4242;
	return r;
}

/* Each request is answered exactly once. */
static void replied_once(fuse_req_t r)
{
	assert_int_equal(r->replies, 1);
}

/* LOOKUP name in parent: 0 with the entry (ino 0: a negative one), or
 * -errno. */
static int lookup_e(struct fixture *x, uint64_t parent, const char *name, struct fuse_entry_param *out)
{
	fuse_req_t r = req_new(x);
	int ret;

	x->ops->lookup(r, parent, name);
	replied_once(r);
	ret = r->kind == R_ERR ? -r->err : 0;
	if (!ret && out)
		*out = r->e;
	free(r);
	return ret;
}

/* LOOKUP that must answer: the inode (0: a negative entry). */
static uint64_t lookup(struct fixture *x, uint64_t parent, const char *name, struct fuse_entry_param *out)
{
	struct fuse_entry_param e = {.ino = 0};

	assert_int_equal(lookup_e(x, parent, name, &e), 0);
	if (out)
		*out = e;
	return e.ino;
}

/* A path's inode, one LOOKUP per component. */
static uint64_t walk(struct fixture *x, const char *path)
{
	uint64_t ino = FUSE_ROOT_ID;

	while (*path) {
		size_t n = strcspn(path, "/");
		char comp[256];

		snprintf(comp, sizeof(comp), "%.*s", (int)n, path);
		ino = lookup(x, ino, comp, NULL);
		assert_true(ino != 0);
		path += n + (path[n] == '/');
	}
	return ino;
}

/* The errno a reply carried (getxattr's text form). */
static int num(const char *v)
{
	return (int)strtol(v, NULL, 10);
}

static void forget(struct fixture *x, uint64_t ino, uint64_t n)
{
	fuse_req_t r = req_new(x);

	x->ops->forget(r, ino, n);
	assert_int_equal(r->kind, R_NONE_SENT);
	free(r);
}

/* GETXATTR name of ino into out (size bytes asked): the reply's kind. */
static enum reply getxattr(struct fixture *x, uint64_t ino, const char *name, size_t size, char *out, size_t n)
{
	fuse_req_t r = req_new(x);
	enum reply kind;

	x->ops->getxattr(r, ino, name, size);
	replied_once(r);
	kind = r->kind;
	if (kind == R_BUF && out)
		snprintf(out, n, "%.*s", (int)r->len, r->buf);
	else if (kind == R_ERR && out)
		snprintf(out, n, "%d", r->err);
	free(r);
	return kind;
}

/* A counter of the stats attribute. */
static long stat_of(struct fixture *x, const char *name)
{
	char v[8192], key[64];
	const char *at;

	assert_int_equal(getxattr(x, FUSE_ROOT_ID, "user.imgtagfs.stats", sizeof(v), v, sizeof(v)), R_BUF);
	snprintf(key, sizeof(key), "\n%s: ", name);
	at = strstr(v, key);
	assert_non_null(at);
	return strtol(at + strlen(key), NULL, 10);
}

/* OPENDIR, then READDIR(PLUS) chunks of size bytes from off 0 to the end
 * into names (joined by spaces), RELEASEDIR. The number of chunks. */
static int list(struct fixture *x, uint64_t ino, bool plus, size_t size, char *names, size_t n)
{
	struct fuse_file_info fi = {.flags = O_RDONLY};
	fuse_req_t r = req_new(x);
	size_t o = 0;
	off_t off = 0;
	int chunks = 0;

	x->ops->opendir(r, ino, &fi);
	replied_once(r);
	assert_int_equal(r->kind, R_OPEN);
	fi = r->fi;
	free(r);
	names[0] = '\0';
	for (;;) {
		r = req_new(x);
		(plus ? x->ops->readdirplus : x->ops->readdir)(r, ino, size, off, &fi);
		replied_once(r);
		assert_int_equal(r->kind, R_BUF);
		chunks++;
		if (!r->nents) {
			free(r);
			break;
		}
		for (size_t i = 0; i < r->nents; i++)
			o += (size_t)snprintf(names + o, n - o, "%s%s", o ? " " : "", r->ents[i].name);
		off = r->ents[r->nents - 1].off;
		free(r);
	}
	r = req_new(x);
	x->ops->releasedir(r, ino, &fi);
	assert_int_equal(r->kind, R_ERR);
	assert_int_equal(r->err, 0);
	free(r);
	return chunks;
}

/* READ of ino: the bytes into out, or -errno. */
static long rd(struct fixture *x, uint64_t ino, size_t size, off_t off, char *out, size_t n)
{
	struct fuse_file_info fi = {.flags = O_RDONLY};
	fuse_req_t r = req_new(x);
	long ret;

	x->ops->read(r, ino, size, off, &fi);
	replied_once(r);
	ret = r->kind == R_ERR ? -r->err : (long)r->len;
	if (r->kind == R_BUF)
		snprintf(out, n, "%.*s", (int)r->len, r->buf);
	free(r);
	return ret;
}

/* ---- lookups and attributes --------------------------------------------------- */

static void test_lookup_path(void **state)
{
	struct fixture *x = *state;
	struct fuse_entry_param e;
	uint64_t repo = walk(x, "web"), img = walk(x, "web/api");
	uint64_t tag = lookup(x, img, "v1.4.2", &e);

	assert_true(repo != FUSE_ROOT_ID && img != repo);
	assert_true(tag != 0);
	assert_true(S_ISREG(e.attr.st_mode));
	assert_int_equal(e.attr.st_mode & 0777, 0444);
	assert_int_equal(e.attr.st_ino, tag);
	assert_int_equal(e.attr.st_mtime, 1764200000);
	assert_true(e.entry_timeout > 0 && e.entry_timeout <= 60);
	assert_true(e.attr_timeout > 0);
	/* The same name, the same number. */
	assert_int_equal(lookup(x, img, "v1.4.2", NULL), tag);
	/* One listing each: the root, web's images, api's tags. */
	assert_int_equal(fake_api_calls(x->f, "GetRepo", NULL), 1);
	assert_int_equal(fake_api_calls(x->f, "GetRepoImage", NULL), 1);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), 1);
}

static void test_lookup_missing(void **state)
{
	struct fixture *x = *state;
	static char names[4096];
	struct fuse_entry_param e;
	char longname[300];
	uint64_t img;
	unsigned calls;

	/* A name no registry can have costs no call: a negative entry the
	 * kernel keeps for negative_ttl at most. */
	assert_int_equal(lookup(x, FUSE_ROOT_ID, "white space", &e), 0);
	assert_true(e.entry_timeout > 0 && e.entry_timeout <= 5);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	/* Listed: the listings answer (a cold lookup asks for one name). */
	img = walk(x, "web/api");
	list(x, FUSE_ROOT_ID, true, 4096, names, sizeof(names));
	list(x, img, true, 4096, names, sizeof(names));
	calls = fake_api_calls(x->f, NULL, NULL);
	/* A tag not in the listing: ENOENT, which the kernel does not keep
	 * (a push shows at its next look), and no call: the listing says so. */
	assert_int_equal(lookup_e(x, img, "nope", NULL), -ENOENT);
	assert_int_equal(lookup_e(x, FUSE_ROOT_ID, "nope", NULL), -ENOENT);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(lookup_e(x, img, longname, NULL), -ENAMETOOLONG);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), calls);
	/* An inode the table never gave. */
	assert_int_equal(lookup_e(x, 987654321, "x", NULL), -ESTALE);
}

static void test_getattr_and_forget(void **state)
{
	struct fixture *x = *state;
	uint64_t img = walk(x, "web/api");
	uint64_t tag = lookup(x, img, "latest", NULL);
	fuse_req_t r = req_new(x);
	char bytes[256];

	x->ops->getattr(r, tag, NULL);
	replied_once(r);
	assert_int_equal(r->kind, R_ATTR);
	assert_int_equal(r->attr.st_ino, tag);
	assert_int_equal(r->attr.st_mtime, 1764200100);
	assert_true(r->attr_timeout > 0);
	/* The size is the file's: what a read returns. */
	assert_int_equal(rd(x, tag, 4096, 0, bytes, sizeof(bytes)), r->attr.st_size);
	free(r);
	r = req_new(x);
	x->ops->getattr(r, FUSE_ROOT_ID, NULL);
	assert_int_equal(r->kind, R_ATTR);
	assert_true(S_ISDIR(r->attr.st_mode));
	free(r);
	/* Three lookups of "web", "api", "latest" taken; the tag's forgotten,
	 * its number is no more. */
	assert_int_equal(stat_of(x, "inodes"), 3);
	forget(x, tag, 1);
	assert_int_equal(stat_of(x, "inodes"), 2);
	r = req_new(x);
	x->ops->getattr(r, tag, NULL);
	assert_int_equal(r->kind, R_ERR);
	assert_int_equal(r->err, ESTALE);
	free(r);
}

static void test_lookup_dot(void **state)
{
	struct fixture *x = *state;
	uint64_t repo = walk(x, "web"), img = walk(x, "web/api");
	struct fuse_entry_param e;

	/* ".." of an image is its repository; "." is the image itself. */
	assert_int_equal(lookup(x, img, "..", &e), repo);
	assert_true(S_ISDIR(e.attr.st_mode));
	assert_int_equal(lookup(x, img, ".", NULL), img);
}

/* ---- directories --------------------------------------------------------------- */

static void test_readdirplus_lists_every_tag_once(void **state)
{
	struct fixture *x = *state;
	uint64_t big = walk(x, "web/big");
	static char names[65536];
	unsigned pages = fake_api_calls(x->f, "GetImageTag", NULL);
	int chunks = list(x, big, true, 4096, names, sizeof(names));
	size_t count = 0;

	/* 4 KiB chunks of entries with attributes: many chunks, one listing. */
	assert_true(chunks > 10);
	for (const char *p = names; *p; p++)
		count += *p == ' ';
	assert_int_equal(count + 1, 300 + 2); /* ".", "..", and 300 tags */
	assert_non_null(strstr(names, ". .. "));
	assert_non_null(strstr(names, " t00000 "));
	assert_non_null(strstr(names, " t00299"));
	assert_null(strstr(names, " t00300"));
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL) - pages, 3 + 1); /* pages overlap by one */
	/* Each entry with attributes took a lookup: the kernel holds them. */
	assert_int_equal(stat_of(x, "inodes"), 2 + 300);
	assert_int_equal(stat_of(x, "open_dirs"), 0);
}

static void test_readdir_continues_and_seeks(void **state)
{
	struct fixture *x = *state;
	uint64_t big = walk(x, "web/big");
	struct fuse_file_info fi = {.flags = O_RDONLY};
	fuse_req_t r = req_new(x), a, b;

	x->ops->opendir(r, big, &fi);
	assert_int_equal(r->kind, R_OPEN);
	assert_true(r->fi.cache_readdir);
	fi = r->fi;
	free(r);
	a = req_new(x);
	x->ops->readdir(a, big, 1024, 0, &fi);
	assert_int_equal(a->kind, R_BUF);
	assert_true(a->nents > 4 && a->nents < 40);
	/* A tag pushed now changes nothing for this handle: a seekdir to an
	 * offset it gave reads on in the same listing. */
	fake_api_add_tag(x->f, "web", "big", "a-first", D1, "1764200000");
	x->now += 61000; /* past the ttl */
	b = req_new(x);
	x->ops->readdir(b, big, 1024, a->ents[2].off, &fi);
	assert_int_equal(b->kind, R_BUF);
	assert_string_equal(b->ents[0].name, a->ents[3].name);
	assert_string_equal(b->ents[1].name, a->ents[4].name);
	free(b);
	/* Plain READDIR takes no lookups: only web, big are held. */
	assert_int_equal(stat_of(x, "inodes"), 2);
	assert_int_equal(stat_of(x, "open_dirs"), 1);
	r = req_new(x);
	x->ops->releasedir(r, big, &fi);
	assert_int_equal(stat_of(x, "open_dirs"), 0);
	free(r);
	free(a);
}

static void test_opendir_missing(void **state)
{
	struct fixture *x = *state;
	struct fuse_file_info fi = {.flags = O_RDONLY};
	fuse_req_t r = req_new(x);

	x->ops->opendir(r, 987654321, &fi);
	replied_once(r);
	assert_int_equal(r->kind, R_ERR);
	assert_int_equal(r->err, ESTALE);
	free(r);
}

/* ---- files --------------------------------------------------------------------- */

static void test_read_tag(void **state)
{
	struct fixture *x = *state;
	uint64_t img = walk(x, "web/api");
	uint64_t tag = lookup(x, img, "v1.4.2", NULL);
	char bytes[256], part[64];
	long n = rd(x, tag, 4096, 0, bytes, sizeof(bytes));

	assert_true(n > 0);
	assert_non_null(strstr(bytes, "digest: " D1 "\n"));
	assert_non_null(strstr(bytes, "updated: "));
	/* Offsets, and past the end: nothing. */
	assert_int_equal(rd(x, tag, 10, 8, part, sizeof(part)), 10);
	assert_int_equal(strncmp(part, bytes + 8, 10), 0);
	assert_int_equal(rd(x, tag, 4096, n, part, sizeof(part)), 0);
	/* A directory is not read. */
	assert_true(rd(x, img, 4096, 0, part, sizeof(part)) < 0);
	assert_int_equal(stat_of(x, "fuse_reads"), 4);
}

/* With no-open support the first open says ENOSYS (the kernel sends no
 * more); a write open is refused either way. */
static void test_open_no_open(void **state)
{
	struct fixture *x = *state;
	uint64_t tag = walk(x, "web/api/latest");
	struct fuse_file_info fi = {.flags = O_RDONLY};
	fuse_req_t r = req_new(x);

	x->ops->open(r, tag, &fi);
	replied_once(r);
	assert_int_equal(r->kind, R_ERR);
	assert_int_equal(r->err, ENOSYS);
	free(r);
	fi.flags = O_WRONLY;
	r = req_new(x);
	x->ops->open(r, tag, &fi);
	assert_int_equal(r->err, EROFS);
	free(r);
	fi.flags = O_RDONLY | O_TRUNC;
	r = req_new(x);
	x->ops->open(r, tag, &fi);
	assert_int_equal(r->err, EROFS);
	free(r);
}

static void test_open_keeps_cache(void **state)
{
	struct fixture *x = *state;
	uint64_t tag = walk(x, "web/api/latest"), img = walk(x, "web/api");
	struct fuse_file_info fi = {.flags = O_RDONLY};
	fuse_req_t r = req_new(x);

	x->ops->open(r, tag, &fi);
	replied_once(r);
	assert_int_equal(r->kind, R_OPEN);
	assert_true(r->fi.keep_cache);
	free(r);
	r = req_new(x);
	x->ops->open(r, img, &fi);
	assert_int_equal(r->kind, R_ERR);
	assert_int_equal(r->err, EISDIR);
	free(r);
}

/* ---- what would change something ------------------------------------------------- */

static void test_writes_refused(void **state)
{
	struct fixture *x = *state;
	uint64_t img = walk(x, "web/api"), tag = walk(x, "web/api/latest");
	unsigned calls = fake_api_calls(x->f, NULL, NULL);
	struct fuse_file_info fi = {.flags = O_WRONLY};
	struct stat st = {.st_mode = 0644};
	fuse_req_t r[10];

	for (int i = 0; i < 10; i++)
		r[i] = req_new(x);
	x->ops->mkdir(r[0], img, "d", 0755);
	x->ops->mknod(r[1], img, "n", S_IFREG | 0644, 0);
	x->ops->unlink(r[2], img, "latest");
	x->ops->rmdir(r[3], FUSE_ROOT_ID, "web");
	x->ops->symlink(r[4], "latest", img, "s");
	x->ops->rename(r[5], img, "latest", img, "x", 0);
	x->ops->link(r[6], tag, img, "l");
	x->ops->write(r[7], tag, "x", 1, 0, &fi);
	x->ops->create(r[8], img, "c", 0644, &fi);
	x->ops->setattr(r[9], tag, &st, FUSE_SET_ATTR_MODE, NULL);
	for (int i = 0; i < 10; i++) {
		replied_once(r[i]);
		assert_int_equal(r[i]->kind, R_ERR);
		assert_int_equal(r[i]->err, EROFS);
		free(r[i]);
	}
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), calls);
	assert_int_equal(fake_api_calls(x->f, "DeleteRepoImage", NULL), 0);
	r[0] = req_new(x);
	x->ops->statfs(r[0], FUSE_ROOT_ID);
	assert_int_equal(r[0]->kind, R_STATFS);
	assert_true(r[0]->sv.f_flag & ST_RDONLY);
	free(r[0]);
}

/* With allow_delete: an unlink of a tag the kernel was shown deletes it
 * with one call; another user's is refused with none. */
static void test_unlink_deletes(void **state)
{
	struct fixture *x = *state;
	uint64_t img = walk(x, "web/api");
	static char names[4096];
	fuse_req_t r;

	list(x, img, true, 4096, names, sizeof(names)); /* what the user was shown */
	assert_non_null(strstr(names, "latest"));
	x->uid = OWNER + 1;
	r = req_new(x);
	x->ops->unlink(r, img, "latest");
	assert_int_equal(r->kind, R_ERR);
	assert_int_equal(r->err, EACCES);
	free(r);
	assert_int_equal(fake_api_calls(x->f, "DeleteRepoImage", NULL), 0);
	x->uid = OWNER;
	r = req_new(x);
	x->ops->unlink(r, img, "latest");
	replied_once(r);
	assert_int_equal(r->kind, R_ERR);
	assert_int_equal(r->err, 0);
	free(r);
	assert_int_equal(fake_api_calls(x->f, "DeleteRepoImage", NULL), 1);
	assert_false(fake_api_has_tag(x->f, "web", "api", "latest"));
	assert_int_equal(stat_of(x, "deletes_done"), 1);
	assert_int_equal(stat_of(x, "deletes_refused"), 1); /* the other user's */
	assert_int_equal(stat_of(x, "deletes_running"), 0);
	assert_int_equal(lookup_e(x, img, "latest", NULL), -ENOENT); /* gone from the mount at once */
	r = req_new(x);
	x->ops->statfs(r, FUSE_ROOT_ID);
	assert_false(r->sv.f_flag & ST_RDONLY);
	free(r);
}

/* ---- extended attributes ---------------------------------------------------------- */

static void test_xattrs(void **state)
{
	struct fixture *x = *state;
	uint64_t tag = walk(x, "web/api/v1.4.2"), img = walk(x, "web/api");
	char v[256];
	fuse_req_t r;

	assert_int_equal(getxattr(x, tag, "user.imgtagfs.digest", sizeof(v), v, sizeof(v)), R_BUF);
	assert_string_equal(v, D1);
	/* getfattr asks for the size first. */
	r = req_new(x);
	x->ops->getxattr(r, tag, "user.imgtagfs.digest", 0);
	assert_int_equal(r->kind, R_XATTR);
	assert_int_equal(r->xattr_size, strlen(D1));
	free(r);
	assert_int_equal(getxattr(x, tag, "user.imgtagfs.digest", 8, v, sizeof(v)), R_ERR);
	assert_string_equal(v, "34"); /* ERANGE */
	assert_int_equal(getxattr(x, tag, "user.imgtagfs.nope", sizeof(v), v, sizeof(v)), R_ERR);
	assert_int_equal(num(v), ENODATA);
	assert_int_equal(getxattr(x, img, "user.imgtagfs.digest", sizeof(v), v, sizeof(v)), R_ERR);
	assert_int_equal(num(v), ENODATA);
	assert_int_equal(getxattr(x, tag, "security.selinux", sizeof(v), v, sizeof(v)), R_ERR);
	assert_int_equal(num(v), ENOTSUP);
	r = req_new(x);
	x->ops->listxattr(r, tag, sizeof(r->buf));
	assert_int_equal(r->kind, R_BUF);
	assert_true(memmem(r->buf, r->len, "user.imgtagfs.digest", 21) != NULL);
	free(r);
	r = req_new(x);
	x->ops->setxattr(r, tag, "user.x", "1", 1, 0);
	assert_int_equal(r->err, EROFS);
	free(r);
}

/* ---- what the kernel was told (notify's thread) ----------------------------------- */

/* The first note of kind about ino (and name, unless NULL), copied out:
 * no assertion runs under the session's lock (a failing one would leave
 * it held, and the notify thread with it). */
static bool find_note(struct fixture *x, char kind, uint64_t ino, const char *name, struct note *out)
{
	bool found = false;

	pthread_mutex_lock(&x->se.mu);
	for (size_t i = 0; i < x->se.nnotes && !found; i++) {
		const struct note *n = &x->se.notes[i];

		if (n->kind == kind && (!ino || n->ino == ino) && (!name || !strcmp(n->name, name))) {
			if (out)
				*out = *n;
			found = true;
		}
	}
	pthread_mutex_unlock(&x->se.mu);
	return found;
}

static size_t count_notes(struct fixture *x, char kind, uint64_t ino)
{
	size_t n = 0;

	pthread_mutex_lock(&x->se.mu);
	for (size_t i = 0; i < x->se.nnotes; i++)
		n += x->se.notes[i].kind == kind && (!ino || x->se.notes[i].ino == ino);
	pthread_mutex_unlock(&x->se.mu);
	return n;
}

/* Waits (10 s at most: the notify thread may be slow on a busy machine)
 * until at least n notes of kind about ino were sent. */
static size_t wait_notes(struct fixture *x, char kind, uint64_t ino, size_t n)
{
	for (int64_t t0 = monotime_ms(); count_notes(x, kind, ino) < n && monotime_ms() - t0 < 10000;)
		usleep(2000);
	return count_notes(x, kind, ino);
}

/* A refresh drops the listing: the next look costs a call. Only the
 * owner and root may; FS_REFRESH_BURST at once, then the rate; the size
 * query (getfattr asks it first) refreshes nothing. */
static void test_refresh(void **state)
{
	struct fixture *x = *state;
	uint64_t img = walk(x, "web/api");
	static char names[4096];
	unsigned pages;
	char v[64];
	fuse_req_t r;
	int i;

	list(x, img, true, 4096, names, sizeof(names)); /* api's listing cached */
	pages = fake_api_calls(x->f, "GetImageTag", NULL);
	x->uid = OWNER + 1;
	assert_int_equal(getxattr(x, img, "user.imgtagfs.refresh", sizeof(v), v, sizeof(v)), R_ERR);
	assert_int_equal(num(v), EPERM);
	x->uid = OWNER;
	fake_api_add_tag(x->f, "web", "api", "new", D1, "1764300000");
	assert_int_equal(lookup_e(x, img, "new", NULL), -ENOENT); /* the cached listing */
	r = req_new(x);
	x->ops->getxattr(r, img, "user.imgtagfs.refresh", 0);
	assert_int_equal(r->kind, R_XATTR);
	assert_int_equal(r->xattr_size, strlen("refreshed"));
	free(r);
	assert_int_equal(lookup_e(x, img, "new", NULL), -ENOENT); /* still: the size query did nothing */
	assert_int_equal(getxattr(x, img, "user.imgtagfs.refresh", sizeof(v), v, sizeof(v)), R_BUF);
	assert_string_equal(v, "refreshed");
	assert_true(lookup(x, img, "new", NULL) != 0);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), pages + 1);
	/* The kernel was told to forget the names it holds under img. */
	assert_true(find_note(x, 'e', img, "latest", NULL));
	/* Root may too; then the burst is spent: EAGAIN, until time passes. */
	x->uid = 0;
	assert_int_equal(getxattr(x, img, "user.imgtagfs.refresh", sizeof(v), v, sizeof(v)), R_BUF);
	x->uid = OWNER;
	for (i = 2; i < FS_REFRESH_BURST; i++)
		assert_int_equal(getxattr(x, img, "user.imgtagfs.refresh", sizeof(v), v, sizeof(v)), R_BUF);
	assert_int_equal(getxattr(x, img, "user.imgtagfs.refresh", sizeof(v), v, sizeof(v)), R_ERR);
	assert_int_equal(num(v), EAGAIN);
	x->now += 1000; /* FS_REFRESH_PER_S more */
	assert_int_equal(getxattr(x, img, "user.imgtagfs.refresh", sizeof(v), v, sizeof(v)), R_BUF);
}

/* The kernel keeps its copy of a listing across opens only while it is
 * the listing we would serve. */
static void test_opendir_keep_cache(void **state)
{
	struct fixture *x = *state;
	uint64_t img = walk(x, "web/api");
	struct fuse_file_info fi = {.flags = O_RDONLY};
	static char names[4096];
	char v[64];
	fuse_req_t r;

	list(x, img, true, 4096, names, sizeof(names)); /* the kernel's copy made */
	r = req_new(x);
	x->ops->opendir(r, img, &fi);
	assert_true(r->fi.keep_cache);
	x->ops->releasedir(r, img, &r->fi);
	free(r);
	assert_int_equal(getxattr(x, img, "user.imgtagfs.refresh", sizeof(v), v, sizeof(v)), R_BUF);
	r = req_new(x);
	x->ops->opendir(r, img, &fi);
	assert_false(r->fi.keep_cache);
	x->ops->releasedir(r, img, &r->fi);
	free(r);
}

/* Two reads in a directory are a scan: the files after the second are
 * stored in the kernel's page cache (by notify's thread), each with the
 * bytes a read would give. */
static void test_scan_stores_ahead(void **state)
{
	struct fixture *x = *state;
	uint64_t big = walk(x, "web/big");
	static char names[65536];
	struct note n;
	char bytes[256], want[256];
	uint64_t t5;

	list(x, big, true, 65536, names, sizeof(names)); /* the kernel holds every inode */
	rd(x, lookup(x, big, "t00000", NULL), 4096, 0, bytes, sizeof(bytes));
	rd(x, lookup(x, big, "t00001", NULL), 4096, 0, bytes, sizeof(bytes));
	assert_int_equal(wait_notes(x, 's', 0, 298), 298);
	assert_int_equal(stat_of(x, "store_files"), 298);
	/* Each with the bytes a read gives (that READ, of a file whose page
	 * was stored, as after an eviction, starts a batch after it). */
	t5 = lookup(x, big, "t00005", NULL);
	assert_int_equal(count_notes(x, 's', t5), 1);
	assert_true(find_note(x, 's', t5, NULL, &n));
	rd(x, t5, 4096, 0, want, sizeof(want));
	assert_string_equal(n.bytes, want);
	/* The file read before the scan was seen is not stored. */
	assert_int_equal(count_notes(x, 's', lookup(x, big, "t00000", NULL)), 0);
}

/* A re-push in the same second (other bytes, the same mtime: the kernel
 * cannot tell from the attributes) found when the listing is fetched
 * again past its ttl: the kernel is told to drop that file's pages, and
 * nothing else of the directory. */
static void test_changed_bytes_invalidate(void **state)
{
	struct fixture *x = *state;
	uint64_t img = walk(x, "web/api");
	static char names[4096];
	uint64_t tag, other;
	char bytes[256];

	list(x, img, true, 4096, names, sizeof(names));
	tag = lookup(x, img, "v1.4.2", NULL);
	other = lookup(x, img, "latest", NULL);
	rd(x, tag, 4096, 0, bytes, sizeof(bytes));
	fake_api_del_tag(x->f, "web", "api", "v1.4.2");
	fake_api_add_tag(x->f, "web", "api", "v1.4.2",
			 "sha256:9999999999999999999999999999999999999999999999999999999999999999", "1764200000");
	x->now += 61000; /* past the ttl: the next look fetches again */
	rd(x, tag, 4096, 0, bytes, sizeof(bytes));
	assert_non_null(strstr(bytes, "sha256:9999"));
	assert_true(wait_notes(x, 'i', tag, 1) >= 1);
	assert_int_equal(count_notes(x, 'i', other), 0);
	assert_false(find_note(x, 'e', img, "latest", NULL));
}

/* The tick lets open directories' listings go past dir_keep_bytes; a
 * READDIR then reads on from a fresh listing after the last name it
 * gave, none twice. */
static void test_tick_forgets_open_listing(void **state)
{
	struct fixture *x = *state;
	uint64_t big = walk(x, "web/big");
	struct fuse_file_info fi = {.flags = O_RDONLY};
	fuse_req_t r = req_new(x), a, b;

	x->ops->opendir(r, big, &fi);
	fi = r->fi;
	free(r);
	a = req_new(x);
	x->ops->readdir(a, big, 1024, 0, &fi);
	assert_int_equal(a->kind, R_BUF);
	assert_true(a->nents > 4);
	assert_true(stat_of(x, "open_dirs") == 1);
	/* The tick comes every 200 ms; 10 s is ample on a busy machine. */
	for (int64_t t0 = monotime_ms(); stat_of(x, "open_dirs_bytes") != 0 && monotime_ms() - t0 < 10000;)
		usleep(5000);
	assert_int_equal(stat_of(x, "open_dirs_bytes"), 0);
	fake_api_add_tag(x->f, "web", "big", "a-first", D1, "1764200000");
	x->now += 61000;
	b = req_new(x);
	x->ops->readdir(b, big, 1024, a->ents[a->nents - 1].off, &fi);
	assert_int_equal(b->kind, R_BUF);
	assert_true(b->nents > 0);
	assert_true(strcmp(b->ents[0].name, a->ents[a->nents - 1].name) > 0);
	free(b);
	r = req_new(x);
	x->ops->releasedir(r, big, &fi);
	free(r);
	free(a);
}

/* FORGET and FORGET_MULTI give back as many lookups as they say; an
 * inode goes with its last. */
static void test_forget_counts(void **state)
{
	struct fixture *x = *state;
	uint64_t img = walk(x, "web/api"), t1, t2;
	struct fuse_forget_data fd[2];
	fuse_req_t r;

	t1 = lookup(x, img, "v1.4.2", NULL);
	lookup(x, img, "v1.4.2", NULL);
	lookup(x, img, "v1.4.2", NULL);
	t2 = lookup(x, img, "latest", NULL);
	assert_int_equal(stat_of(x, "inodes"), 4);
	forget(x, t1, 2);
	assert_int_equal(stat_of(x, "inodes"), 4); /* one lookup left */
	fd[0] = (struct fuse_forget_data){.ino = t1, .nlookup = 1};
	fd[1] = (struct fuse_forget_data){.ino = t2, .nlookup = 1};
	r = req_new(x);
	x->ops->forget_multi(r, 2, fd);
	assert_int_equal(r->kind, R_NONE_SENT);
	free(r);
	assert_int_equal(stat_of(x, "inodes"), 2);
	assert_int_equal(stat_of(x, "fuse_forgets"), 3);
}

/* An inode never changes kind: a directory whose path now names a tag is
 * ENOENT (never a tag's attributes under a directory's number: the
 * kernel would mark it bad, EIO for every later use); a tag whose name a
 * new nested image took is still read under its other name, NAME@tag. */
static void test_kind_never_changes(void **state)
{
	struct fixture *x = *state;
	uint64_t sub, tag, big;
	char bytes[256];
	fuse_req_t r;

	fake_api_add_image(x->f, "web", "api/sub", "1764000000");
	fake_api_add_tag(x->f, "web", "api/sub", "v1", D1, "1764200000");
	big = walk(x, "web/big");
	sub = walk(x, "web/api/sub");
	tag = walk(x, "web/api/latest");
	/* The nested image goes (after the next call), a tag named sub comes,
	 * and an image named latest. */
	fake_api_change_after(x->f, fake_api_calls(x->f, NULL, NULL) + 1, 0, 0, "web", "api/sub", NULL);
	assert_int_equal(lookup_e(x, big, "t00007", NULL), 0); /* that call */
	assert_false(fake_api_has_image(x->f, "web", "api/sub"));
	fake_api_add_tag(x->f, "web", "api", "sub", D1, "1764200000");
	fake_api_add_image(x->f, "web", "api/latest", "1764000000");
	fake_api_add_tag(x->f, "web", "api/latest", "v2", D1, "1764200000");
	x->now += 61000;
	r = req_new(x);
	x->ops->getattr(r, sub, NULL);
	replied_once(r);
	assert_int_equal(r->kind, R_ERR);
	assert_int_equal(r->err, ENOENT);
	free(r);
	r = req_new(x);
	x->ops->getattr(r, tag, NULL);
	replied_once(r);
	assert_int_equal(r->kind, R_ATTR);
	assert_true(S_ISREG(r->attr.st_mode));
	free(r);
	assert_true(rd(x, tag, 4096, 0, bytes, sizeof(bytes)) > 0);
	assert_non_null(strstr(bytes, D1));
	assert_true(lookup(x, walk(x, "web/api"), "latest@tag", NULL) != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lookup_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lookup_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_getattr_and_forget, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lookup_dot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readdirplus_lists_every_tag_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readdir_continues_and_seeks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_opendir_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_tag, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_no_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_keeps_cache, setup_open, teardown),
	    cmocka_unit_test_setup_teardown(test_writes_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unlink_deletes, setup_delete, teardown),
	    cmocka_unit_test_setup_teardown(test_xattrs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_stores_ahead, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changed_bytes_invalidate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_opendir_keep_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tick_forgets_open_listing, setup_keep_none, teardown),
	    cmocka_unit_test_setup_teardown(test_forget_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kind_never_changes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
