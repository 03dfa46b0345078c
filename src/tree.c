/* tree.c — the namespace: from a path to a repository, an image directory
 * or a tag file, answered from cached listing snapshots.
 *
 * Image names may contain '/', so a repository's image list is a trie laid
 * out in one sorted snapshot: the names under a directory P form one
 * contiguous run starting at "P/", found by binary search. A path is
 * resolved from the left: repository, then the longest image or image-name
 * prefix, then (at most) one tag name. A cold lookup of one tag asks for
 * that tag alone (GetImageTag with TagName) instead of listing the image;
 * a fresh listing answers every lookup, positive or negative, for free.
 */
#include "tree.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fresh.h"
#include "listing.h"
#include "listkey.h"
#include "names.h"
#include "qbudget.h"
#include "snap.h"
#include "tagfile.h"
#include "tier.h"
#include "timefmt.h"

#define KEY_MAX LISTKEY_MAX
/* Listings a refresh or another host's invalidation dropped, kept until
 * their next fill so that it can tell a tag's new bytes from the ones
 * this mount saw (its ctime): at most this many, this many bytes. */
#define STASH_MAX 8
#define STASH_BYTES ((size_t)32 << 20)

struct stash_item {
	char *key; /* NULL: free */
	struct snap *s;
};

struct tree {
	struct tree_config cfg;
	char *repo; /* cfg.repo, owned */
	struct uhub *u;
	struct cache *c;
	struct log *log;
	struct bg *_Atomic bg;	   /* background workers, or NULL */
	const struct fresh *fresh; /* the freshness policy (fresh.h) */
	tree_changed_fn changed;   /* set once, before serving */
	void *changed_arg;
	struct fresh *own_fresh;  /* made here when the caller gave none */
	struct tier *tier;	  /* the shared tier, or NULL; set once, before serving */
	struct qbudget *qb;	  /* what names a listing lacks may cost */
	pthread_mutex_t stash_mu; /* a leaf */
	struct stash_item stash[STASH_MAX];
	size_t stash_bytes;
	unsigned stash_next;
};

enum node_kind { NODE_ROOT, NODE_REPO, NODE_DIR, NODE_IMAGE, NODE_TAG };

/* A resolved path. The strings point into path_copy or into snapshots the
 * node holds references on; node_release drops them. */
struct node {
	enum node_kind kind;
	char repo[NAMES_MAX + 1];
	char image[4096];    /* the image (or image-name prefix) */
	struct snap_entry e; /* the tag, or the directory's own entry */
	int64_t mtime;
	int64_t until; /* earliest expiry of the listings consulted */
	bool never;    /* the name could never exist (no listing asked) */
	bool peek;     /* resolve from what is cached only (tree_stat_cached) */
	int64_t stale_by; /* waits for slow refills end by then (cache_get_by) */
	struct snap *hold[2];
};

static void on_stale(void *arg, const char *key, int err, int64_t age_ms);
static int on_ahead(void *arg, const char *key);
static void on_join(void *waiter, void *filler);
static uint64_t fill_progress(void *filler);
struct fill_req;
static void note_changes(struct tree *t, const struct fill_req *r, const char *key, struct snap *s);

static int64_t cache_clock(void *c)
{
	return cache_now(c);
}

/* The policy: the caller's, or one made from cfg on the cache's clock. */
static int set_fresh(struct tree *t, const struct tree_config *cfg, struct cache *c)
{
	struct fresh_config fc = {.ttl_ms = cfg->ttl_ms,
				  .neg_ttl_ms = cfg->neg_ttl_ms,
				  .max_stale_ms = cfg->max_stale_ms,
				  .clock = cache_clock,
				  .clock_arg = c};

	if (!cfg->fresh && !(t->own_fresh = fresh_new(&fc)))
		return -ENOMEM;
	t->fresh = cfg->fresh ? cfg->fresh : t->own_fresh;
	t->cfg.ttl_ms = fresh_ttl_ms(t->fresh);
	t->cfg.neg_ttl_ms = fresh_neg_ttl_ms(t->fresh);
	t->cfg.max_stale_ms = fresh_max_stale_ms(t->fresh);
	return 0;
}

struct tree *tree_new(const struct tree_config *cfg, struct uhub *u, struct cache *c, struct log *log)
{
	struct tree *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cfg = *cfg;
	if (cfg->repo && !(t->repo = strdup(cfg->repo))) {
		free(t);
		return NULL;
	}
	t->cfg.repo = t->repo;
	t->u = u;
	t->c = c;
	t->log = log;
	if (set_fresh(t, cfg, c) || !(t->qb = qbudget_new(t->cfg.ttl_ms))) {
		qbudget_free(t->qb);
		fresh_free(t->own_fresh);
		free(t->repo);
		free(t);
		return NULL;
	}
	if (pthread_mutex_init(&t->stash_mu, NULL)) {
		qbudget_free(t->qb);
		fresh_free(t->own_fresh);
		free(t->repo);
		free(t);
		return NULL;
	}
	cache_set_stale(c, t->cfg.max_stale_ms, fresh_stale_retry_ms(t->fresh), on_stale, t);
	cache_set_join(c, on_join);
	cache_set_progress(c, fill_progress);
	return t;
}

static void stash_clear(struct tree *t);

void tree_free(struct tree *t)
{
	if (!t)
		return;
	qbudget_free(t->qb);
	stash_clear(t);
	pthread_mutex_destroy(&t->stash_mu);
	fresh_free(t->own_fresh);
	free(t->repo);
	free(t);
}

const struct fresh *tree_fresh(const struct tree *t)
{
	return t->fresh;
}

static void node_release(struct node *n)
{
	snap_unref(n->hold[0]);
	snap_unref(n->hold[1]);
	n->hold[0] = n->hold[1] = NULL;
}

/* ---- cache keys and fills ------------------------------------------------ */

static void key_of(char *key, enum uhub_kind k, const char *repo, const char *image, const char *tag)
{
	const struct listkey lk = {.kind = k, .repo = repo, .image = image, .tag = tag};

	listkey_format(key, &lk);
}

struct fill_req {
	struct tree *t;
	enum uhub_kind kind;
	const char *repo, *image, *tag;
	atomic_bool bg;		/* a background fill: lower priority while true */
	_Atomic uint64_t pages;	/* pages answered so far (tree_progress) */
	int64_t min_born;	/* a shared listing must be born after this */
	struct tier_result res; /* where the listing came from */
};

/* How far a fill in flight has come (cache lock held). */
static uint64_t fill_progress(void *filler)
{
	return atomic_load(&((struct fill_req *)filler)->pages);
}

/* A user comes to wait for a background fill: it competes as the
 * foreground does from then on (else it would yield to every other
 * foreground request while the user waits for it). Cache lock held. */
static void on_join(void *waiter, void *filler)
{
	struct fill_req *w = waiter, *f = filler;

	if (!atomic_load(&w->bg))
		atomic_store(&f->bg, false);
}

static int build_snap(struct fill_req *r, const struct uhub_entry *v, size_t n, struct snap **out)
{
	const struct listing_src src = {
	    .kind = r->kind, .repo = r->repo, .image = r->image, .api_tz = r->t->cfg.api_tz, .log = r->t->log};

	return listing_build(&src, v, n, out);
}

/* A large listing is built from the API's items (three strings each) and
 * decoded pages, all freed once the snapshot is packed; glibc keeps such
 * freed heap, so without this the daemon's RSS would carry the peak of
 * its largest fill for good. */
static void trim_after(size_t items)
{
#ifdef __GLIBC__
	if (items >= 4096)
		malloc_trim(0);
#else
	(void)items;
#endif
}

/* A whole listing from the API. */
static int fill_api(void *arg, struct snap **out)
{
	struct fill_req *r = arg;
	struct uhub_list l;
	int err = uhub_list_bg(r->t->u, r->kind, r->repo, r->image, &r->bg, &r->pages, &l);

	if (!err) {
		size_t n = l.n;

		err = build_snap(r, l.v, n, out);
		if (!err && l.unsure)
			snap_set_unsure(*out);
		uhub_list_release(&l);
		trim_after(n);
	}
	return err;
}

/* Whole listings go through the shared tier when there is one; one tag
 * alone stays local (it is cheap, and rarely the same on two hosts). */
static int fill(void *arg, const char *key, struct snap **out)
{
	struct fill_req *r = arg;
	struct uhub_entry e;
	int err;

	if (!r->tag) {
		err =
		    r->t->tier ? tier_fill(r->t->tier, key, r->min_born, fill_api, r, out, &r->res) : fill_api(r, out);
	} else if ((err = uhub_get_tag(r->t->u, r->repo, r->image, r->tag, &e)) == 0) {
		err = build_snap(r, &e, 1, out);
		uhub_entry_release(&e);
	} else if (err == -ENOENT) {
		char image_key[KEY_MAX];

		key_of(image_key, UHUB_TAGS, r->repo, r->image, NULL);
		qbudget_missed(r->t->qb, image_key, fresh_now(r->t->fresh));
	}
	if (!err)
		note_changes(r->t, r, key, *out);
	return err;
}

/* The request behind a cache key (background jobs are queued by key);
 * r's strings point into b. 0 or -EINVAL. */
static int key_parse(const char *key, struct fill_req *r, struct listkey_buf *b)
{
	struct listkey k;
	int err = listkey_parse(key, &k, b);

	if (!err) {
		r->kind = k.kind;
		r->repo = k.repo;
		r->image = k.image;
		r->tag = k.tag;
	}
	return err;
}

/* Logs the one warning a failed refresh is worth (cache lock held). */
static void on_stale(void *arg, const char *key, int err, int64_t age_ms)
{
	struct tree *t = arg;
	char name[KEY_MAX];

	if (!err)
		return; /* served again within the retry window: said already */
	listkey_describe(key, name, sizeof(name));
	if (err == -EINPROGRESS)
		log_msg(t->log, LOG_WARNING, "serving a stale listing of %s (%lld s old): the API has not answered its "
			"refresh yet", name, (long long)(age_ms / 1000));
	else
		log_msg(t->log, LOG_WARNING, "serving a stale listing of %s (%lld s old): refresh failed: %s", name,
			(long long)(age_ms / 1000), strerror(-err));
}

/* Background job: fetch key unless it is fresh or being fetched. */
static void prefetch_job(void *arg, const char *key)
{
	struct tree *t = arg;
	struct listkey_buf *b = malloc(sizeof(*b));
	struct fill_req r = {.t = t, .bg = true, .min_born = INT64_MIN};
	struct snap *s = NULL;

	if (b && key_parse(key, &r, b) == 0 &&
	    cache_get(t->c, key, t->cfg.ttl_ms, t->cfg.neg_ttl_ms, fill, &r, &s) == 0)
		snap_unref(s);
	free(b);
}

/* Background job: refresh key now, before its ttl runs out. */
static void refresh_job(void *arg, const char *key)
{
	struct tree *t = arg;
	struct listkey_buf *b = malloc(sizeof(*b));
	struct fill_req r = {.t = t, .bg = true, .min_born = INT64_MIN};
	struct snap *s;

	/* From the fleet, only a listing newer than the one held. */
	if (cache_peek(t->c, key, t->cfg.ttl_ms, &s) == 0) {
		r.min_born = snap_born(s);
		snap_unref(s);
	}
	if (b && key_parse(key, &r, b) == 0)
		cache_refill(t->c, key, t->cfg.neg_ttl_ms, fill, &r);
	free(b);
}

/* The cache asks for a refresh in the background (its lock held: only
 * queue): ahead of prefetches, and never dropped for one. */
static int on_ahead(void *arg, const char *key)
{
	struct tree *t = arg;
	struct bg *b = atomic_load(&t->bg);

	return b ? bg_push_urgent(b, refresh_job, t, key) : -EAGAIN;
}

/* The directory that listing k fills, as the tree shows it, into path
 * (LISTKEY_MAX + 2 bytes). One tag's own answer stands for its image
 * directory. */
static void dir_of(const struct tree *t, const struct listkey *k, char *path)
{
	if (k->kind == UHUB_REPOS || (t->repo && k->kind == UHUB_IMAGES))
		snprintf(path, LISTKEY_MAX + 2, "/");
	else if (k->kind == UHUB_IMAGES)
		snprintf(path, LISTKEY_MAX + 2, "/%s", k->repo);
	else if (t->repo)
		snprintf(path, LISTKEY_MAX + 2, "/%s", k->image);
	else
		snprintf(path, LISTKEY_MAX + 2, "/%s/%s", k->repo, k->image);
}

/* Tells whoever shows them (t->changed) that the bytes of tags names[0..n)
 * of image k->image may have changed. */
static void tell_files(const struct tree *t, const struct listkey *k, const char *const *names, size_t n)
{
	char *path = malloc(LISTKEY_MAX + 2);

	if (path && t->changed && n) {
		dir_of(t, &(struct listkey){.kind = UHUB_TAGS, .repo = k->repo, .image = k->image}, path);
		t->changed(t->changed_arg, path, names, n, TREE_CHANGED_FILES);
	}
	free(path);
}

/* key's listing changed: whoever shows the directory it lists, as the
 * tree shows it, is told (t->changed); for one tag's own answer, that
 * tag's file. */
static void tell_changed(struct tree *t, const char *key)
{
	struct listkey_buf *b = malloc(sizeof(*b));
	char *path = malloc(LISTKEY_MAX + 2);
	struct listkey k;

	if (b && path && t->changed && listkey_parse(key, &k, b) == 0) {
		if (k.tag) {
			tell_files(t, &k, &k.tag, 1);
		} else {
			dir_of(t, &k, path);
			/* An image list also holds the nested directories below
			 * the repository: what the kernel knows under it all goes. */
			t->changed(t->changed_arg, path, NULL, 0,
				   k.kind == UHUB_IMAGES ? TREE_CHANGED_DEEP : TREE_CHANGED_DIR);
		}
	}
	free(path);
	free(b);
}

/* The cache replaced a listing with a different one (its lock held): the
 * kernel is told, and the fleet when it came from the API. */
static void on_change(void *arg, const char *key, void *fill_arg)
{
	struct tree *t = arg;
	const struct fill_req *r = fill_arg;

	tell_changed(t, key);
	if (t->tier && r)
		tier_changed(t->tier, key, &r->res);
}

/* ---- what changed: first-seen bytes and the kernel's pages --------------------
 *
 * A tag's mtime is its update time, in whole seconds, so a tag re-pushed
 * within its second keeps its mtime and size while its bytes change: the
 * kernel (which drops a file's pages when the mtime or size it is told
 * changes) must be told, and the tag's ctime moves, so that git sees it.
 * Each new listing is compared, before the cache installs it, with what
 * this mount showed before: the listing it replaces (or the one a refresh
 * dropped: the stash), and a tag's own answer. The cache's change hook
 * tells the kernel about a listing that replaces a different one under
 * its own key (on_change, after the install); the comparison tells it
 * about everything else, before the install: whoever asks for that key
 * meanwhile either waits for this fill, or (a refresh-ahead) is shown the
 * listing being replaced, whose differences the hook reports. */

static int64_t wall_now(const struct tree *t)
{
	return t->cfg.wall ? t->cfg.wall(t->cfg.wall_arg) : (int64_t)time(NULL);
}

static int64_t shown_time(const struct tree *t, int64_t mtime)
{
	return mtime == SNAP_NO_TIME ? t->cfg.mount_time : mtime;
}

static void stash_free_at(struct tree *t, size_t i)
{
	if (!t->stash[i].key)
		return;
	t->stash_bytes -= snap_bytes(t->stash[i].s);
	snap_unref(t->stash[i].s);
	free(t->stash[i].key);
	t->stash[i].key = NULL;
	t->stash[i].s = NULL;
}

/* Keeps s (the reference is taken) as key's last listing, the oldest
 * going to make room; a listing larger than the stash is let go. */
static void stash_put(struct tree *t, const char *key, struct snap *s)
{
	char *copy = snap_bytes(s) <= STASH_BYTES / 2 ? strdup(key) : NULL;
	size_t at = STASH_MAX;

	if (!copy) {
		snap_unref(s);
		return;
	}
	pthread_mutex_lock(&t->stash_mu);
	for (size_t i = 0; i < STASH_MAX; i++)
		if (t->stash[i].key && strcmp(t->stash[i].key, key) == 0)
			stash_free_at(t, at = i);
	if (at == STASH_MAX)
		stash_free_at(t, at = t->stash_next++ % STASH_MAX);
	for (size_t i = 0; t->stash_bytes + snap_bytes(s) > STASH_BYTES && i < STASH_MAX; i++)
		stash_free_at(t, i);
	t->stash[at].key = copy;
	t->stash[at].s = s;
	t->stash_bytes += snap_bytes(s);
	pthread_mutex_unlock(&t->stash_mu);
}

/* key's stashed listing (a reference), taken out of the stash when take. */
static struct snap *stash_get(struct tree *t, const char *key, bool take)
{
	struct snap *s = NULL;

	pthread_mutex_lock(&t->stash_mu);
	for (size_t i = 0; i < STASH_MAX && !s; i++) {
		if (!t->stash[i].key || strcmp(t->stash[i].key, key) != 0)
			continue;
		s = snap_ref(t->stash[i].s);
		if (take)
			stash_free_at(t, i);
	}
	pthread_mutex_unlock(&t->stash_mu);
	return s;
}

static void stash_clear(struct tree *t)
{
	pthread_mutex_lock(&t->stash_mu);
	for (size_t i = 0; i < STASH_MAX; i++)
		stash_free_at(t, i);
	pthread_mutex_unlock(&t->stash_mu);
}

/* What a comparison found: the new listing's ctimes, and the tags the
 * kernel must be told about. */
struct changes {
	struct snap_ctime *ct;
	size_t nct, act;
	const char **names;
	size_t nn, an;
};

/* Appends one item of size sz to the array *v of *n (room for *a). */
static int grow(void *v, size_t *n, size_t *a, size_t sz)
{
	void *p;

	if (*n < *a)
		return 0;
	p = realloc(*(void **)v, (*a ? *a * 2 : 16) * sz);
	if (!p)
		return -ENOMEM;
	*(void **)v = p;
	*a = *a ? *a * 2 : 16;
	return 0;
}

static void add_ctime(struct changes *c, size_t i, int64_t ctime)
{
	if (grow(&c->ct, &c->nct, &c->act, sizeof(*c->ct)) == 0)
		c->ct[c->nct++] = (struct snap_ctime){.i = i, .ctime = ctime};
}

static void add_name(struct changes *c, const char *name)
{
	if (grow(&c->names, &c->nn, &c->an, sizeof(*c->names)) == 0)
		c->names[c->nn++] = name;
}

/* Entry e (index i of the new listing) against what this mount showed
 * before, b (NULL: nothing known): records e's ctime in c, and returns
 * true when its bytes may differ from what the kernel read. Bytes that
 * stay keep their ctime; new bytes under the same update time take the
 * time they were noticed (after the last change, so that it moves); a new
 * update time is its own ctime. */
static bool compare(const struct tree *t, struct changes *c, size_t i, const struct snap_entry *e,
		    const struct snap_entry *b, int64_t now)
{
	int64_t was;

	if (!b)
		return true;
	if (tagfile_same(e, b)) {
		if (b->ctime != b->mtime)
			add_ctime(c, i, b->ctime);
		return false;
	}
	if (b->mtime == e->mtime) {
		was = shown_time(t, b->ctime);
		add_ctime(c, i, now > was ? now : was + 1);
	}
	return true;
}

/* Tag name's own answer held now (a reference), or NULL. */
static struct snap *alone_held(struct tree *t, const char *repo, const char *image, const char *name)
{
	char key[KEY_MAX];
	struct snap *s = NULL;

	key_of(key, UHUB_TAGS, repo, image, name);
	if (cache_held(t->c, key, &s) == 0 && snap_count(s) != 1) {
		snap_unref(s);
		s = NULL;
	}
	return s;
}

/* An image's new listing s: each tag against the listing it replaces and
 * against the tag's own answer when that may be newer (no listing to
 * compare with, or one marked by note_alone); of two, the newer (a tie:
 * the answer, which is asked for only when the listing is not fresh). */
static void note_listing(struct tree *t, const struct fill_req *r, const char *key, struct snap *s, struct changes *c)
{
	struct snap *prev = NULL, *lone;
	bool cached = cache_held(t->c, key, &prev) == 0, alone;
	struct snap_entry e, b, a;
	int64_t now = wall_now(t);

	if (!cached)
		prev = stash_get(t, key, true);
	alone = !prev || snap_marked(prev);
	for (size_t i = 0; i < snap_count(s); i++) {
		const struct snap_entry *base = NULL;
		long j;

		snap_get(s, i, &e);
		j = prev ? snap_find(prev, e.name) : -1;
		if (j >= 0) {
			snap_get(prev, (size_t)j, &b);
			base = &b;
		}
		lone = alone ? alone_held(t, r->repo, r->image, e.name) : NULL;
		if (lone && (!prev || snap_born(lone) >= snap_born(prev))) {
			snap_get(lone, 0, &a);
			base = &a;
		}
		/* Told file by file even when the cache's hook tells the kernel
		 * about the directory as well: a stat that finds the bytes
		 * changed waits for the file's own notice (fs.c settle), and
		 * the directory's may come later. */
		if (compare(t, c, i, &e, base, now))
			add_name(c, e.name);
		snap_unref(lone);
	}
	snap_unref(prev);
}

/* A tag's own answer s: against the answer it replaces and the image's
 * listing (the newer of the two); a listing that shows the tag with other
 * bytes is marked, so that its next fill compares with this answer. */
static void note_alone(struct tree *t, const struct fill_req *r, const char *key, struct snap *s, struct changes *c)
{
	struct snap *prev = NULL, *list = NULL;
	struct snap_entry e, b, l;
	const struct snap_entry *base = NULL;
	bool cached = cache_held(t->c, key, &prev) == 0, hooked = cached;
	char *lkey = malloc(KEY_MAX);
	long i = -1;

	if (!cached)
		prev = stash_get(t, key, true);
	if (lkey) {
		key_of(lkey, UHUB_TAGS, r->repo, r->image, NULL);
		if (cache_held(t->c, lkey, &list) != 0)
			list = stash_get(t, lkey, false);
	}
	snap_get(s, 0, &e);
	if (prev && snap_count(prev) == 1) {
		snap_get(prev, 0, &b);
		base = &b;
	}
	if (list && (i = snap_find(list, e.name)) >= 0) {
		snap_get(list, (size_t)i, &l);
		if (!tagfile_same(&e, &l))
			snap_mark(list);
		if (!base || snap_born(list) > snap_born(prev)) {
			base = &l;
			hooked = false;
		}
	}
	if (compare(t, c, 0, &e, base, wall_now(t)) && !hooked)
		add_name(c, e.name);
	snap_unref(list);
	snap_unref(prev);
	free(lkey);
}

static void note_changes(struct tree *t, const struct fill_req *r, const char *key, struct snap *s)
{
	struct changes c = {0};
	struct listkey k = {.kind = UHUB_TAGS, .repo = r->repo, .image = r->image};

	if (r->kind != UHUB_TAGS || (r->tag && snap_count(s) != 1))
		return;
	if (r->tag)
		note_alone(t, r, key, s, &c);
	else
		note_listing(t, r, key, s, &c);
	snap_set_ctimes(s, c.ct, c.nct); /* on -ENOMEM, ctime is mtime */
	tell_files(t, &k, c.names, c.nn);
	free(c.ct);
	free(c.names);
}

void tree_set_tier(struct tree *t, struct tier *tier)
{
	t->tier = tier;
}

/* Forgets the cached answer behind key (k, when known, is it parsed); an
 * image's tags with its tags' own answers: a tag looked up alone while the
 * listing was cold would otherwise keep its old digest through the
 * image's refresh. */
static void forget_key(struct tree *t, const char *key, const struct listkey *k)
{
	char prefix[KEY_MAX];
	struct snap *s;

	/* Its next fill compares with it (the ctimes of what it showed). */
	if (cache_held(t->c, key, &s) == 0)
		stash_put(t, key, s);
	cache_drop(t->c, key);
	if (k && k->kind == UHUB_TAGS && !k->tag) {
		key_of(prefix, UHUB_TAGS, k->repo, k->image, "");
		cache_drop_prefix(t->c, prefix);
	}
}

void tree_forget(struct tree *t, const char *key)
{
	struct listkey_buf *b = malloc(sizeof(*b));
	struct listkey k;

	forget_key(t, key, b && listkey_parse(key, &k, b) == 0 ? &k : NULL);
	free(b);
	tell_changed(t, key);
}

void tree_set_changed(struct tree *t, tree_changed_fn fn, void *arg)
{
	t->changed = fn;
	t->changed_arg = arg;
	cache_set_change(t->c, fn ? on_change : NULL, t);
}

void tree_set_background(struct tree *t, struct bg *b)
{
	int64_t ahead = fresh_ahead_ms(t->fresh);

	atomic_store(&t->bg, b);
	cache_set_ahead(t->c, ahead, b ? on_ahead : NULL, t);
}

/* Queues the listing behind key for a background fetch. */
static void prefetch(struct tree *t, enum uhub_kind k, const char *repo, const char *image)
{
	struct bg *b = atomic_load(&t->bg);
	char key[KEY_MAX];

	if (!b)
		return;
	key_of(key, k, repo, image, NULL);
	bg_push(b, prefetch_job, t, key);
}

/* Lowers *until to the expiry of snapshot s (fresh.h, rule 3). */
static void note(const struct tree *t, int64_t *until, const struct snap *s)
{
	int64_t e = fresh_expiry(t->fresh, snap_born(s));

	if (e < *until)
		*until = e;
}

/* The snapshot of a listing (or of one tag), and *until lowered to what
 * the answer is worth: the snapshot's expiry; for a name that could never
 * exist, neg_ttl; for the API's own "no", nothing (it is remembered here,
 * not by the kernel). When the name being looked up could never exist
 * (plausible false), only a cached snapshot is used, so such lookups cost
 * no call. */
static int get_snap(struct tree *t, enum uhub_kind k, const char *repo, const char *image, const char *tag,
		    bool plausible, struct node *n, struct snap **out)
{
	char key[KEY_MAX];
	struct fill_req r = {.t = t, .kind = k, .repo = repo, .image = image, .tag = tag, .min_born = INT64_MIN};
	int64_t now;
	int err;

	key_of(key, k, repo, image, tag);
	if (!plausible || n->peek) {
		err = cache_peek(t->c, key, t->cfg.ttl_ms, out);
		if (err == -EAGAIN) {
			now = fresh_now(t->fresh) + t->cfg.neg_ttl_ms;
			n->until = now < n->until ? now : n->until;
			n->never = true;
			return -ENOENT;
		}
	} else {
		err = cache_get_by(t->c, key, t->cfg.ttl_ms, t->cfg.neg_ttl_ms, fill, &r, n->stale_by, out);
	}
	if (!err)
		note(t, &n->until, *out);
	else if (err == -ENOENT)
		n->until = 0;
	return err;
}

/* Background job: what listing "/" does, the root's listing and the
 * prefetch queued below it. */
static void warm_job(void *arg, const char *key)
{
	struct tree_dir *d;

	(void)key;
	if (tree_opendir(arg, "/", &d) == 0) /* else the first user sees why */
		tree_closedir(d);
}

int tree_warm(struct tree *t)
{
	struct bg *b = atomic_load(&t->bg);
	char key[KEY_MAX];

	if (!b || !t->cfg.prefetch)
		return 0;
	if (!t->repo)
		return bg_push(b, warm_job, t, "R");
	key_of(key, UHUB_IMAGES, t->repo, NULL, NULL);
	return bg_push(b, prefetch_job, t, key);
}

/* ---- resolution ------------------------------------------------------------ */

/* The NAME of a file name NAME@tag into base (NAMES_MAX + 1 bytes);
 * false when name does not end in the alias suffix. */
static bool alias_base(const char *name, char *base)
{
	size_t len = strlen(name), sl = strlen(TREE_TAG_ALIAS);

	if (len <= sl || len - sl > NAMES_MAX || strcmp(name + len - sl, TREE_TAG_ALIAS))
		return false;
	memcpy(base, name, len - sl);
	base[len - sl] = '\0';
	return true;
}

/* Could the last component of a path be a tag (or a NAME@tag alias)? */
static bool plausible_leaf(const char *comp)
{
	char base[NAMES_MAX + 1];

	if (names_maybe_component(comp) || names_maybe_tag(comp))
		return true;
	return alias_base(comp, base) && names_maybe_tag(base);
}

/* True when s (image-name components, perhaps ending in a tag) could name
 * something in a registry, so that looking it up is worth a call. */
static bool plausible_path(const char *s)
{
	char comp[NAMES_MAX + 1];

	while (*s) {
		size_t n = strcspn(s, "/");

		if (n == 0 || n > NAMES_MAX)
			return false;
		memcpy(comp, s, n);
		comp[n] = '\0';
		if (!s[n])
			return plausible_leaf(comp);
		if (!names_maybe_component(comp))
			return false;
		s += n + 1;
	}
	return true;
}

/* Index range [*lo, *hi) of the images under directory prefix p. */
static void children_range(const struct snap *imgs, const char *p, size_t *lo, size_t *hi)
{
	char key[4096 + NAMES_MAX + 3];
	int len = snprintf(key, sizeof(key), "%s/", p);
	size_t n = (size_t)len;

	if (len < 0 || n >= sizeof(key)) {
		*lo = *hi = 0; /* longer than any image name: no children */
		return;
	}
	*lo = snap_lower_bound(imgs, key);
	key[n - 1] = '/' + 1; /* the first string past every "p/..." */
	*hi = snap_lower_bound(imgs, key);
}

/* Newest mtime of the images in [lo, hi). */
static int64_t newest(const struct snap *imgs, size_t lo, size_t hi)
{
	int64_t best = SNAP_NO_TIME;
	struct snap_entry e;

	for (size_t i = lo; i < hi; i++) {
		snap_get(imgs, i, &e);
		if (e.mtime > best)
			best = e.mtime;
	}
	return best;
}

/* Listing k fetched again now, because the names it lacks ran out of
 * budget (qbudget.h), replacing the snapshot held in *s. */
static int relist(struct tree *t, enum uhub_kind k, const char *repo, const char *image, struct node *n,
		  struct snap **s)
{
	struct fill_req r = {.t = t, .kind = k, .repo = repo, .image = image, .min_born = INT64_MIN};
	char key[KEY_MAX];
	struct snap *again;
	int err;

	key_of(key, k, repo, image, NULL);
	qbudget_listed(t->qb, key, fresh_now(t->fresh));
	err = cache_refill(t->c, key, t->cfg.neg_ttl_ms, fill, &r);
	if (!err)
		err = cache_peek(t->c, key, t->cfg.ttl_ms, &again);
	if (err)
		return err == -EAGAIN ? -EIO : err;
	snap_unref(*s);
	*s = again;
	note(t, &n->until, again);
	return 0;
}

/* A tag that the unsure listing *s lacks: asked for alone, within the
 * listing's budget; past it, the listing fetched again (once in the
 * window) answers; else -EAGAIN: doubt is not "no such file", and the
 * budget (what made-up names may cost the owner) is spent until the
 * window ends. On 0, *s holds it (a single tag's answer, or the new
 * listing). */
static int doubt_tag(struct tree *t, struct node *n, const char *key, const char *tag, struct snap **s)
{
	struct snap *one;
	int err;

	if (n->peek)
		return -ENOENT;
	switch (qbudget_ask(t->qb, key, fresh_now(t->fresh))) {
	case QBUDGET_QUERY:
		err = get_snap(t, UHUB_TAGS, n->repo, n->image, tag, true, n, &one);
		if (err)
			return err;
		snap_unref(*s);
		*s = one;
		return 0;
	case QBUDGET_LIST:
		err = relist(t, UHUB_TAGS, n->repo, n->image, n, s);
		if (err || snap_find(*s, tag) >= 0 || !snap_unsure(*s))
			return err ? err : snap_find(*s, tag) >= 0 ? 0 : -ENOENT;
		break;
	case QBUDGET_NONE:
		break;
	}
	n->until = 0;
	return -EAGAIN;
}

/* A tag of an image whose listing is not fresh: the listing being
 * fetched answers soon (a query for the tag would only queue behind it);
 * else the tag alone, while the image's made-up names have not run out
 * of budget; past that, the listing. */
static int cold_tag(struct tree *t, struct node *n, const char *key, const char *tag, struct snap **s)
{
	if (!names_maybe_tag(tag) || n->peek)
		return get_snap(t, UHUB_TAGS, n->repo, n->image, tag, false, n, s);
	/* An expired listing that may still be served is refreshed rather
	 * than bypassed: with the API hung, its old copy answers within the
	 * stale bound, where a query for the tag would wait the deadline. */
	if (cache_filling(t->c, key) || cache_stale_held(t->c, key, t->cfg.ttl_ms))
		return get_snap(t, UHUB_TAGS, n->repo, n->image, NULL, true, n, s);
	switch (qbudget_ask(t->qb, key, fresh_now(t->fresh))) {
	case QBUDGET_QUERY:
		return get_snap(t, UHUB_TAGS, n->repo, n->image, tag, true, n, s);
	case QBUDGET_LIST:
		qbudget_listed(t->qb, key, fresh_now(t->fresh));
		break;
	case QBUDGET_NONE:
		break;
	}
	return get_snap(t, UHUB_TAGS, n->repo, n->image, NULL, true, n, s);
}

/* Resolves the tag tag of image n->image; n holds imgs in hold[0]. A
 * fresh listing of the image answers for free, either way; one marked
 * unsure is not trusted for a "no". */
static int resolve_tag(struct tree *t, struct node *n, const char *tag)
{
	struct snap *s = NULL;
	char key[KEY_MAX];
	long i;
	int err;

	key_of(key, UHUB_TAGS, n->repo, n->image, NULL);
	err = cache_peek(t->c, key, t->cfg.ttl_ms, &s);
	if (err == -EAGAIN)
		err = cold_tag(t, n, key, tag, &s);
	else if (!err)
		note(t, &n->until, s);
	if (err)
		return err;
	i = snap_find(s, tag);
	if (i < 0 && snap_unsure(s) && names_maybe_tag(tag) && (err = doubt_tag(t, n, key, tag, &s)) == 0)
		i = snap_find(s, tag);
	if (i < 0) {
		snap_unref(s);
		return err ? err : -ENOENT;
	}
	snap_get(s, (size_t)i, &n->e);
	n->hold[1] = s;
	n->kind = NODE_TAG;
	n->mtime = n->e.mtime;
	return 0;
}

/* A repository or image that an unsure list (listing k of n->repo: the
 * root's or the repository's) lacks may exist: its own listing (child,
 * of kind ck) answers, within the list's budget. 0: it exists, and
 * *mtime is its newest entry's time; LOOK_AGAIN: the list was fetched
 * anew into *list; -ENOENT (nobody keeps it); -EAGAIN when the budget is
 * spent (doubt is not "no such file"); or -errno. */
#define LOOK_AGAIN 1
static int doubt_child(struct tree *t, struct node *n, enum uhub_kind k, enum uhub_kind ck, const char *child,
		       struct snap **list, int64_t *mtime)
{
	const char *repo = k == UHUB_REPOS ? NULL : n->repo;
	char key[KEY_MAX];
	struct snap *below;
	int err = -ENOENT;

	if (n->peek)
		return -ENOENT;
	key_of(key, k, repo, NULL, NULL);
	switch (qbudget_ask(t->qb, key, fresh_now(t->fresh))) {
	case QBUDGET_QUERY:
		err = get_snap(t, ck, ck == UHUB_IMAGES ? child : n->repo, ck == UHUB_TAGS ? child : NULL, NULL,
			       ck == UHUB_IMAGES ? names_maybe_component(child) : plausible_path(child), n, &below);
		if (err == -ENOENT)
			qbudget_missed(t->qb, key, fresh_now(t->fresh));
		if (err)
			break;
		*mtime = newest(below, 0, snap_count(below));
		snap_unref(below);
		return 0;
	case QBUDGET_LIST:
		err = relist(t, k, repo, NULL, n, list);
		return err ? err : LOOK_AGAIN;
	case QBUDGET_NONE:
		err = -EAGAIN;
		break;
	}
	if (err == -ENOENT || err == -EAGAIN)
		n->until = 0;
	return err;
}

/* True when image directory dir has a nested image directory called name. */
static bool has_child_dir(const struct snap *imgs, const char *dir, const char *name)
{
	char full[4096 + NAMES_MAX + 2];
	size_t lo, hi;

	if ((size_t)snprintf(full, sizeof(full), "%s/%s", dir, name) >= sizeof(full))
		return false;
	if (snap_find(imgs, full) >= 0)
		return true;
	children_range(imgs, full, &lo, &hi);
	return lo < hi;
}

/* name is a file in image directory n->image: a tag, or NAME@tag for a
 * tag that shares its name with a nested image directory. */
static int resolve_alias(struct tree *t, struct node *n, struct snap *imgs, const char *name)
{
	char base[NAMES_MAX + 1];

	if (alias_base(name, base) && has_child_dir(imgs, n->image, base))
		return resolve_tag(t, n, base);
	return resolve_tag(t, n, name);
}

/* Whether image (a name of n->repo) stands though the repository's image
 * list, n->hold[0], lacks it: only an unsure list is asked again
 * (doubt_child); 0 and *mtime, LOOK_AGAIN (the list was fetched anew),
 * -ENOENT, -EAGAIN (doubt) or -errno. */
static int image_stands(struct tree *t, struct node *n, const char *image, int64_t *mtime)
{
	if (!snap_unsure(n->hold[0]))
		return -ENOENT;
	return doubt_child(t, n, UHUB_IMAGES, UHUB_TAGS, image, &n->hold[0], mtime);
}

/* Splits "rest" (under repository n->repo, images in n->hold[0]) into an
 * image directory, a prefix directory or a tag. A tag of an image the
 * list has is looked for first; only then is an unsure list asked
 * whether it lacks rest as an image (image_stands), and the image of a
 * tag path when the list lacks that. */
static int resolve_in_repo(struct tree *t, struct node *n, const char *rest)
{
	size_t lo, hi, len = strlen(rest);
	const char *slash = strrchr(rest, '/');
	const struct snap *imgs;
	int64_t mtime;
	bool parent = false;
	long i;
	int err = -ENOENT;

	if (len >= sizeof(n->image))
		return -ENAMETOOLONG;
again:
	imgs = n->hold[0];
	memcpy(n->image, rest, len + 1);
	i = snap_find(imgs, rest);
	children_range(imgs, rest, &lo, &hi);
	if (i >= 0) {
		snap_get(imgs, (size_t)i, &n->e);
		n->kind = NODE_IMAGE;
		n->mtime = n->e.mtime;
		return 0;
	}
	if (lo < hi) {
		n->kind = NODE_DIR;
		n->mtime = newest(imgs, lo, hi);
		return 0;
	}
	if (slash) {
		n->image[slash - rest] = '\0';
		parent = snap_find(imgs, n->image) >= 0;
		if (parent && (err = resolve_alias(t, n, n->hold[0], slash + 1)) != -ENOENT)
			return err;
		memcpy(n->image, rest, len + 1);
	}
	err = image_stands(t, n, rest, &mtime);
	if (err == LOOK_AGAIN)
		goto again;
	if (!err) {
		n->kind = NODE_IMAGE;
		n->mtime = mtime;
		return 0;
	}
	if (!slash || parent || err != -ENOENT)
		return err;
	n->image[slash - rest] = '\0';
	err = image_stands(t, n, n->image, &mtime);
	if (err == LOOK_AGAIN)
		goto again;
	return err ? err : resolve_alias(t, n, n->hold[0], slash + 1);
}

/* Finds repository n->repo in the root's listing s (held by n from
 * here on): an unsure listing is asked again (doubt_child). */
static int resolve_repo(struct tree *t, struct node *n, struct snap *s)
{
	int64_t mtime;
	long i;
	int err;

	n->hold[0] = s;
	while ((i = snap_find(n->hold[0], n->repo)) < 0) {
		if (!snap_unsure(n->hold[0]))
			return -ENOENT;
		err = doubt_child(t, n, UHUB_REPOS, UHUB_IMAGES, n->repo, &n->hold[0], &mtime);
		if (err == LOOK_AGAIN)
			continue;
		if (err)
			return err;
		n->mtime = mtime;
		n->kind = NODE_REPO;
		return 0;
	}
	snap_get(n->hold[0], (size_t)i, &n->e);
	n->mtime = n->e.mtime;
	n->kind = NODE_REPO;
	return 0;
}

/* True when the root's listing is cached and fresh. */
static bool root_cached(struct tree *t)
{
	struct snap *s;

	if (cache_peek(t->c, "R", t->cfg.ttl_ms, &s) != 0)
		return false;
	snap_unref(s);
	return true;
}

/* Resolves path into n (peek: only from fresh listings already cached,
 * never asking the API). 0 or -errno; on 0 the caller node_releases n. */
static int resolve_as(struct tree *t, const char *path, struct node *n, bool peek)
{
	const char *rest = path + strspn(path, "/");
	struct snap *s = NULL;
	size_t rl;
	int err;

	memset(n, 0, sizeof(*n));
	n->peek = peek;
	n->stale_by = cache_stale_by(t->c);
	n->mtime = t->cfg.mount_time;
	n->until = INT64_MAX;
	if (t->repo) {
		snprintf(n->repo, sizeof(n->repo), "%s", t->repo);
		n->kind = NODE_REPO;
	} else if (!*rest) {
		n->kind = NODE_ROOT;
		return 0;
	} else {
		rl = strcspn(rest, "/");
		if (rl > NAMES_MAX)
			return -ENAMETOOLONG;
		memcpy(n->repo, rest, rl);
		n->repo[rl] = '\0';
		rest += rl + (rest[rl] == '/');
		/* Looking a repository up when the root is not cached: whoever
		 * asks goes inside next, so fetch its image list meanwhile (the
		 * two round trips overlap instead of following each other). */
		if (names_maybe_component(n->repo) && !peek && !root_cached(t))
			prefetch(t, UHUB_IMAGES, n->repo, NULL);
		err = get_snap(t, UHUB_REPOS, NULL, NULL, NULL, names_maybe_component(n->repo), n, &s);
		if (!err)
			err = resolve_repo(t, n, s);
		if (err) {
			node_release(n);
			return err;
		}
	}
	if (!*rest)
		return 0;
	err = get_snap(t, UHUB_IMAGES, n->repo, NULL, NULL, plausible_path(rest), n, &s);
	if (!err) {
		snap_unref(n->hold[0]);
		n->hold[0] = s;
		/* n->e pointed into the repositories' listing just let go. */
		memset(&n->e, 0, sizeof(n->e));
		err = resolve_in_repo(t, n, rest);
	}
	if (err)
		node_release(n);
	return err;
}

/* ---- attributes ------------------------------------------------------------ */

/* A directory's times are whole seconds, stable while its listing lasts
 * (make, rsync and find -newer compare them); the kernel's copies of
 * directory listings are kept fresh otherwise (notify.h). */
static void dir_stat(const struct tree *t, int64_t mtime, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | ((t->cfg.writable_dirs ? 0755 : 0555) & ~t->cfg.umask);
	st->st_nlink = 1; /* "unknown", as btrfs: find must not guess leaves */
	st->st_uid = t->cfg.uid;
	st->st_gid = t->cfg.gid;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = (time_t)shown_time(t, mtime);
}

static void tag_stat(const struct tree *t, const struct snap_entry *e, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | (0444 & ~t->cfg.umask);
	st->st_nlink = 1;
	st->st_uid = t->cfg.uid;
	st->st_gid = t->cfg.gid;
	st->st_size = (off_t)tagfile_size(e);
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_blksize = 4096;
	/* Whole seconds, as the registry has them: the kernel is told when
	 * the bytes change under the same mtime (note_changes). */
	st->st_mtime = st->st_atime = (time_t)shown_time(t, e->mtime);
	st->st_ctime = (time_t)shown_time(t, e->ctime);
}

/* The top directory's time: the newest of the entries it lists (the
 * repositories, or the images of the one repository mounted), which is
 * the same across remounts, like a prefix directory's. Its listing is
 * only looked at, never fetched (the kernel stats a mount's root when it
 * mounts, lazy ones included, and that must not wait for the API): while
 * it is not cached, the mount time, which the kernel may not keep. */
static void root_time(struct tree *t, struct node *n)
{
	char key[KEY_MAX];
	struct snap *s;

	key_of(key, t->repo ? UHUB_IMAGES : UHUB_REPOS, t->repo, NULL, NULL);
	if (cache_peek(t->c, key, t->cfg.ttl_ms, &s) != 0) {
		n->mtime = t->cfg.mount_time;
		n->until = 0;
		return;
	}
	n->mtime = newest(s, 0, snap_count(s));
	note(t, &n->until, s);
	snap_unref(s);
}

/* Resolves path into n. 0 or -errno; on 0 the caller node_releases n. */
static int resolve(struct tree *t, const char *path, struct node *n)
{
	return resolve_as(t, path, n, false);
}

static int stat_as(struct tree *t, const char *path, struct stat *st, int64_t *until, bool peek)
{
	struct node n;
	int err = resolve_as(t, path, &n, peek);

	if (err) {
		/* The kernel may keep a "no" only for a name that can never
		 * exist: it keeps negative entries under names imgtagfs does
		 * not know, so a refresh could not reach them. */
		*until = n.never && n.until != INT64_MAX ? n.until : 0;
		return err;
	}
	if (n.kind == NODE_ROOT || (t->repo && n.kind == NODE_REPO))
		root_time(t, &n);
	if (n.kind == NODE_TAG)
		tag_stat(t, &n.e, st);
	else
		dir_stat(t, n.mtime, st);
	*until = n.until;
	node_release(&n);
	return 0;
}

int tree_stat(struct tree *t, const char *path, struct stat *st, int64_t *until)
{
	return stat_as(t, path, st, until, false);
}

int tree_stat_cached(struct tree *t, const char *path, struct stat *st)
{
	int64_t until;

	return stat_as(t, path, st, &until, true);
}

int tree_getattr(struct tree *t, const char *path, struct stat *st)
{
	int64_t until;

	return tree_stat(t, path, st, &until);
}

/* ---- listings -------------------------------------------------------------- */

/* An open directory: the snapshots it lists from, held from opendir to
 * closedir so that every chunk of one listing comes from the same
 * snapshot (offsets stay meaningful across a refresh), and a cursor so
 * that the kernel's sequential chunks resume in O(1). */
enum dir_phase { PH_DOT, PH_DOTDOT, PH_LIST, PH_TAGS, PH_END };

struct tree_dir {
	struct tree *t;
	struct node n;	   /* the directory itself (holds its snapshots) */
	struct snap *list; /* repositories (root) or images (below a repo) */
	struct snap *tags; /* an image directory's tags, else NULL */
	size_t lo, hi;	   /* the range of list below this directory */
	size_t plen;	   /* length of the prefix n.image ("" for a repo) */
	off_t pos;	   /* entries before the cursor */
	enum dir_phase phase;
	size_t i;
	/* The last entry read: its phase and source name, and the offset
	 * after it; what a reader going on at key_pos resumes after, even
	 * once the snapshots are let go (tree_dir_forget). */
	char *key;
	enum dir_phase key_phase;
	off_t key_pos;
	uint64_t stamp;	   /* tree_dir_stamp, kept through a forget */
	bool forgotten;
};

/* One entry: its name (in name or a snapshot) and attributes, and where
 * it comes from: its phase and the snapshot index that produced it (the
 * order entries are read in, which resuming in a fresh listing keeps). */
struct dir_entry {
	const char *name;
	struct stat st;
	bool has_st;
	enum dir_phase from;
	size_t at;
	char buf[4096 + NAMES_MAX + 2];
};

/* The directory at list index i below the prefix, if i starts one: either
 * an image (name ends there) or the first of a run "p/c/..." whose c is
 * not an image of its own. *next: the index after the run. */
static bool child_at(struct tree_dir *d, size_t i, struct dir_entry *out, size_t *next)
{
	struct snap_entry e;
	const char *rest;
	size_t clen, clo, chi;

	snap_get(d->list, i, &e);
	*next = i + 1;
	rest = e.name + d->plen + (d->plen ? 1 : 0);
	clen = strcspn(rest, "/");
	if (!rest[clen]) {
		out->name = rest;
		dir_stat(d->t, e.mtime, &out->st);
		return true;
	}
	snprintf(out->buf, sizeof(out->buf), "%.*s", (int)(rest - e.name + clen), e.name);
	children_range(d->list, out->buf, &clo, &chi);
	if (chi > *next)
		*next = chi;
	if (snap_find(d->list, out->buf) >= 0)
		return false; /* the image p/c stands on its own: listed already */
	dir_stat(d->t, newest(d->list, clo, chi), &out->st);
	out->name = out->buf + (rest - e.name);
	return true;
}

/* True for a tag literally named NAME@tag where NAME is a nested image
 * directory: that file name is NAME's alias, so the tag cannot be shown. */
static bool shadowed_tag(const struct snap *imgs, const char *dir, const char *tag)
{
	char base[NAMES_MAX + 1];

	return alias_base(tag, base) && has_child_dir(imgs, dir, base);
}

/* Tag i of an image directory under the name it is shown as, aliasing
 * names that collide with nested image directories; false to skip it. */
static bool tag_at(struct tree_dir *d, size_t i, struct dir_entry *out)
{
	struct snap_entry e;

	snap_get(d->tags, i, &e);
	out->name = e.name;
	if (shadowed_tag(d->list, d->n.image, e.name))
		return false;
	if (has_child_dir(d->list, d->n.image, e.name)) {
		/* A longer alias could not be a file name. */
		if ((size_t)snprintf(out->buf, sizeof(out->buf), "%s%s", e.name, TREE_TAG_ALIAS) > NAMES_MAX)
			return false;
		/* An image directory NAME@tag takes the name first. */
		if (has_child_dir(d->list, d->n.image, out->buf))
			return false;
		out->name = out->buf;
	}
	tag_stat(d->t, &e, &out->st);
	return true;
}

/* The entry at the cursor (phase, i), and the cursor after it. false at
 * the end. */
static bool dir_peek(struct tree_dir *d, enum dir_phase *phase, size_t *i, struct dir_entry *out)
{
	size_t next;

	out->has_st = true;
	for (;;) {
		out->from = *phase;
		out->at = *i;
		switch (*phase) {
		case PH_DOT:
			/* "." and ".." go without attributes: with them, libfuse
			 * would send inode 0, and readdir(3) skips such entries. */
			out->name = ".";
			out->has_st = false;
			*phase = PH_DOTDOT;
			return true;
		case PH_DOTDOT:
			out->name = "..";
			out->has_st = false;
			out->at = 0;
			*phase = PH_LIST;
			*i = d->lo;
			return true;
		case PH_LIST:
			if (*i >= d->hi) {
				*phase = d->tags ? PH_TAGS : PH_END;
				*i = 0;
				continue;
			}
			if (d->n.kind == NODE_ROOT) {
				struct snap_entry e;

				snap_get(d->list, (*i)++, &e);
				out->name = e.name;
				dir_stat(d->t, e.mtime, &out->st);
				return true;
			}
			if (child_at(d, *i, out, &next)) {
				*i = next;
				return true;
			}
			*i = next;
			continue;
		case PH_TAGS:
			if (*i >= snap_count(d->tags)) {
				*phase = PH_END;
				continue;
			}
			if (tag_at(d, (*i)++, out))
				return true;
			continue;
		case PH_END:
		default:
			return false;
		}
	}
}

/* Queues the listings of the directories in d, after a listing of it. */
static void prefetch_below(struct tree_dir *d)
{
	struct snap_entry e;
	size_t n = 0;

	for (size_t i = d->lo; i < d->hi && n < d->t->cfg.prefetch; i++, n++) {
		snap_get(d->list, i, &e);
		if (d->n.kind == NODE_ROOT)
			prefetch(d->t, UHUB_IMAGES, e.name, NULL);
		else
			prefetch(d->t, UHUB_TAGS, d->n.repo, e.name);
	}
}

/* Which snapshots d lists from (tree_dir_stamp). */
static uint64_t dir_stamp(const struct tree_dir *d)
{
	uint64_t h = (uint64_t)snap_born(d->list) * 1099511628211u ^ snap_version(d->list);

	if (d->tags)
		h = (h * 1099511628211u ^ (uint64_t)snap_born(d->tags)) * 1099511628211u ^ snap_version(d->tags);
	return h ? h : 1;
}

static int opendir_impl(struct tree *t, const char *path, bool cached_only, struct tree_dir **out)
{
	struct tree_dir *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	d->t = t;
	err = resolve(t, path, &d->n);
	if (err) {
		free(d);
		return err;
	}
	if (d->n.kind == NODE_TAG)
		err = -ENOTDIR;
	else if (d->n.kind == NODE_ROOT)
		err = get_snap(t, UHUB_REPOS, NULL, NULL, NULL, !cached_only, &d->n, &d->list);
	else
		err = get_snap(t, UHUB_IMAGES, d->n.repo, NULL, NULL, !cached_only, &d->n, &d->list);
	if (!err && d->n.kind == NODE_IMAGE)
		err = get_snap(t, UHUB_TAGS, d->n.repo, d->n.image, NULL, !cached_only, &d->n, &d->tags);
	if (err) {
		tree_closedir(d);
		return err;
	}
	d->hi = snap_count(d->list);
	if (d->n.kind != NODE_ROOT && d->n.kind != NODE_REPO) {
		d->plen = strlen(d->n.image);
		children_range(d->list, d->n.image, &d->lo, &d->hi);
	}
	if (!cached_only)
		prefetch_below(d);
	d->stamp = dir_stamp(d);
	*out = d;
	return 0;
}

int64_t tree_dir_until(const struct tree_dir *d)
{
	return d->forgotten || d->n.until == INT64_MAX ? 0 : d->n.until;
}

uint64_t tree_dir_stamp(const struct tree_dir *d)
{
	return d->stamp;
}

int tree_opendir(struct tree *t, const char *path, struct tree_dir **out)
{
	return opendir_impl(t, path, false, out);
}

int tree_opendir_cached(struct tree *t, const char *path, struct tree_dir **out)
{
	return opendir_impl(t, path, true, out);
}

static void keep_key(struct tree_dir *d, enum dir_phase from, size_t at);

int tree_dir_read(struct tree_dir *d, off_t off, tree_dirfill_fn fillfn, void *arg)
{
	struct dir_entry *e = malloc(sizeof(*e));
	enum dir_phase phase, from = PH_END;
	size_t i, at = 0;

	if (!e)
		return -ENOMEM;
	if (d->forgotten) {
		free(e);
		return -ESTALE;
	}
	if (off != d->pos) { /* a seek: count from the start */
		d->pos = 0;
		d->phase = PH_DOT;
		d->i = 0;
		while (d->pos < off && dir_peek(d, &d->phase, &d->i, e))
			d->pos++;
	}
	for (;;) {
		phase = d->phase;
		i = d->i;
		if (!dir_peek(d, &phase, &i, e)) {
			d->phase = PH_END;
			break;
		}
		if (fillfn(arg, e->name, e->has_st ? &e->st : NULL, d->pos + 1))
			break; /* not taken: the cursor stays on it */
		d->phase = phase;
		d->i = i;
		d->pos++;
		from = e->from;
		at = e->at;
	}
	if (from == PH_LIST || from == PH_TAGS)
		keep_key(d, from, at);
	free(e);
	return 0;
}

/* Remembers the entry at (from, at) as the last one read. */
static void keep_key(struct tree_dir *d, enum dir_phase from, size_t at)
{
	struct snap_entry se;
	char *k;

	snap_get(from == PH_TAGS ? d->tags : d->list, at, &se);
	if (!(k = strdup(se.name)))
		return; /* a resume then walks d, while d is held */
	free(d->key);
	d->key = k;
	d->key_phase = from;
	d->key_pos = d->pos;
}

size_t tree_dir_bytes(const struct tree_dir *d)
{
	return d->forgotten ? 0 : snap_bytes(d->list) + (d->tags ? snap_bytes(d->tags) : 0);
}

void tree_dir_forget(struct tree_dir *d)
{
	snap_unref(d->list);
	snap_unref(d->tags);
	d->list = d->tags = NULL;
	node_release(&d->n);
	d->forgotten = true;
}

/* Where, in the list of a directory read from d, a reader that has had
 * entry key (a snapshot name of list or tags, by phase) goes on: past
 * key, and past the whole run of nested images a prefix directory stood
 * for (its entries all start with "DIR/": one run in the sorted list). */
static size_t resume_at(const struct tree_dir *d, enum dir_phase phase, const char *key)
{
	const struct snap *s = phase == PH_TAGS ? d->tags : d->list;
	size_t at, clo, chi, cl;
	char *cp;

	at = snap_lower_bound(s, key);
	if (at < snap_count(s) && snap_find(s, key) == (long)at)
		at++;
	if (phase == PH_TAGS || d->n.kind == NODE_ROOT)
		return at;
	cl = d->plen + (d->plen ? 1 : 0);
	cl += strcspn(key + (strlen(key) < cl ? strlen(key) : cl), "/");
	if (!key[cl] || !(cp = strndup(key, cl)))
		return at < d->lo ? d->lo : at > d->hi ? d->hi : at;
	children_range(s, cp, &clo, &chi);
	free(cp);
	at = chi > at ? chi : at;
	return at < d->lo ? d->lo : at > d->hi ? d->hi : at;
}

static int phase_rank(enum dir_phase p)
{
	return p == PH_DOT ? 0 : p == PH_DOTDOT ? 1 : p == PH_LIST ? 2 : p == PH_TAGS ? 3 : 4;
}

/* The name of the snapshot entry e came from (LIST and TAGS). */
static const char *source_name(const struct tree_dir *d, const struct dir_entry *e)
{
	struct snap_entry se;

	snap_get(e->from == PH_TAGS ? d->tags : d->list, e->at, &se);
	return se.name;
}

int tree_dir_resume(struct tree_dir *d, off_t off, struct tree_dir *fresh, off_t *out)
{
	struct dir_entry *e = malloc(sizeof(*e));
	enum dir_phase ph = PH_DOT, tph = PH_END, sph;
	size_t i = 0, ti = 0, si;
	off_t pos = 0;

	if (!e)
		return -ENOMEM;
	if (off <= 2) { /* ".", "..": the same places in every listing */
		free(e);
		*out = off;
		return 0;
	}
	/* The entry before off in d, and from it the place to go on in fresh
	 * (past d's end: fresh's end): the last one read when off is where
	 * reading stopped; else found by walking d, while d still holds its
	 * listing (a forgotten d goes on by position: a seek to an offset
	 * older than the last read, on a listing past its ttl). */
	if (d->key && off == d->key_pos) {
		tph = d->key_phase;
		if (tph == PH_TAGS && !fresh->tags)
			tph = PH_END;
		else
			ti = resume_at(fresh, tph, d->key);
	} else if (d->forgotten) {
		free(e);
		*out = off;
		return 0;
	} else {
		while (pos < off && dir_peek(d, &ph, &i, e))
			pos++;
		if (pos == off) {
			tph = e->from;
			if (tph == PH_TAGS && !fresh->tags)
				tph = PH_END;
			else
				ti = resume_at(fresh, tph, source_name(d, e));
		}
	}
	/* fresh's cursor at the first entry at or past that place. */
	ph = PH_DOT;
	i = 0;
	pos = 0;
	for (;;) {
		sph = ph;
		si = i;
		if (!dir_peek(fresh, &ph, &i, e))
			break;
		if (phase_rank(e->from) > phase_rank(tph) || (e->from == tph && e->at >= ti)) {
			ph = sph;
			i = si;
			break;
		}
		pos++;
	}
	fresh->phase = ph;
	fresh->i = i;
	fresh->pos = pos;
	*out = pos;
	free(e);
	return 0;
}

void tree_closedir(struct tree_dir *d)
{
	if (!d)
		return;
	snap_unref(d->list);
	snap_unref(d->tags);
	node_release(&d->n);
	free(d->key);
	free(d);
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

/* ---- contents ---------------------------------------------------------------- */

ssize_t tree_read(struct tree *t, const char *path, char *dst, size_t size, off_t off)
{
	struct node n;
	ssize_t got;
	int err = resolve(t, path, &n);

	if (err)
		return err;
	got = n.kind == NODE_TAG ? tagfile_read(&n.e, dst, size, off) : -EISDIR;
	node_release(&n);
	return got;
}

int tree_tag_value(struct tree *t, const char *path, const char *which, struct buf *out)
{
	struct node n;
	char when[TIMEFMT_RFC3339_LEN + 1];
	int err = resolve(t, path, &n);

	if (err)
		return err;
	if (n.kind != NODE_TAG)
		err = -ENODATA;
	else if (strcmp(which, "digest") == 0)
		err = n.e.digest ? buf_adds(out, n.e.digest) : -ENODATA;
	else if (strcmp(which, "updated") != 0)
		err = -ENODATA;
	else if (n.e.mtime != SNAP_NO_TIME && timefmt_rfc3339(n.e.mtime, when, sizeof(when)) == 0)
		err = buf_adds(out, when);
	else
		err = buf_adds(out, n.e.time_raw ? n.e.time_raw : "unknown");
	node_release(&n);
	return err;
}

/* Forgets the cached answer behind one key here, and tells the fleet. */
static void drop(struct tree *t, enum uhub_kind k, const char *repo, const char *image, const char *tag)
{
	char key[KEY_MAX];

	key_of(key, k, repo, image, tag);
	forget_key(t, key, &(struct listkey){.kind = k, .repo = repo, .image = image, .tag = tag});
	if (t->tier && !tag)
		tier_invalidate(t->tier, key);
}

void tree_flush(struct tree *t)
{
	stash_clear(t); /* everything goes: memory comes back after a flush */
	cache_clear(t->c);
	if (t->tier)
		tier_invalidate(t->tier, NULL);
}

int tree_refresh(struct tree *t, const char *path)
{
	struct node n;
	int err = resolve(t, path, &n);

	if (err)
		return err;
	switch (n.kind) {
	case NODE_ROOT:
		tree_flush(t);
		break;
	case NODE_REPO:
	case NODE_DIR: /* a prefix directory lives in its repository's image list */
		drop(t, UHUB_IMAGES, n.repo, NULL, NULL);
		break;
	case NODE_IMAGE:
		/* Its tags, and its nested image directories, which come from
		 * the repository's image list. */
		drop(t, UHUB_TAGS, n.repo, n.image, NULL);
		drop(t, UHUB_IMAGES, n.repo, NULL, NULL);
		break;
	case NODE_TAG:
		/* The tag's own answer, wherever it came from: a lookup of it
		 * alone (first: dropping the listing drops it unstashed), or the
		 * listing of its image. */
		drop(t, UHUB_TAGS, n.repo, n.image, n.e.name);
		drop(t, UHUB_TAGS, n.repo, n.image, NULL);
		break;
	}
	node_release(&n);
	return 0;
}

/* ---- deletions (prune.h) ------------------------------------------------------ */

static const enum tree_kind ident_kind[] = {
    [NODE_ROOT] = TREE_ROOT,   [NODE_REPO] = TREE_REPO, [NODE_DIR] = TREE_PREFIX,
    [NODE_IMAGE] = TREE_IMAGE, [NODE_TAG] = TREE_TAG,
};

static int dup_or_null(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return src && !*dst ? -ENOMEM : 0;
}

int tree_ident(struct tree *t, const char *path, struct tree_ident *out)
{
	struct node n;
	int64_t until;
	int err;

	memset(out, 0, sizeof(*out));
	err = tree_stat(t, path, &out->st, &until);
	if (!err)
		err = resolve(t, path, &n);
	if (err)
		return err;
	out->kind = t->repo && n.kind == NODE_REPO ? TREE_ROOT : ident_kind[n.kind];
	snprintf(out->repo, sizeof(out->repo), "%s", n.repo);
	snprintf(out->image, sizeof(out->image), "%s", n.image);
	if (n.kind == NODE_TAG) {
		snprintf(out->tag, sizeof(out->tag), "%s", n.e.name);
		out->mtime = n.e.mtime;
		err = dup_or_null(&out->digest, n.e.digest);
		if (!err)
			err = dup_or_null(&out->time, n.e.time_raw);
	}
	node_release(&n);
	return err;
}

void tree_ident_release(struct tree_ident *id)
{
	free(id->digest);
	free(id->time);
	id->digest = id->time = NULL;
}

bool tree_ident_same_time(const struct tree *t, const struct tree_ident *id, const char *time)
{
	int64_t v;

	if (!time || timefmt_parse(time, t->cfg.api_tz, &v) != 0)
		return id->mtime == SNAP_NO_TIME && (time == id->time || (time && id->time && !strcmp(time, id->time)));
	return v == id->mtime;
}

/* The refill that takes one deleted tag out of a cached listing. The
 * fill request comes first: the cache's hooks take the fill's argument
 * for one (it came from no API call: no tier result). */
struct amend {
	struct fill_req r;
	struct snap *old;
	const char *tag;
};

static int amend_fill(void *arg, const char *key, struct snap **out)
{
	struct amend *a = arg;
	size_t n = snap_count(a->old), nc = 0;
	struct snap_builder *b = snap_builder_new();
	struct snap_ctime *ct = malloc((n ? n : 1) * sizeof(*ct));
	struct snap_entry e;
	int err = b && ct ? 0 : -ENOMEM;

	(void)key;
	for (size_t i = 0, j = 0; i < n && !err; i++) {
		snap_get(a->old, i, &e);
		if (strcmp(e.name, a->tag) == 0)
			continue;
		if (e.ctime != e.mtime)
			ct[nc++] = (struct snap_ctime){.i = j, .ctime = e.ctime};
		err = snap_builder_add(b, &e);
		j++;
	}
	*out = err ? NULL : snap_builder_finish(b);
	if (!err && !*out)
		err = -ENOMEM;
	if (err)
		snap_builder_free(b);
	if (!err) {
		/* Its age is the listing's: the deletion makes nothing fresher. */
		snap_set_born(*out, snap_born(a->old));
		if (snap_unsure(a->old))
			snap_set_unsure(*out);
		snap_set_ctimes(*out, ct, nc);
	}
	free(ct);
	return err;
}

int tree_deleted(struct tree *t, const char *path)
{
	struct amend a = {.r = {.t = t, .kind = UHUB_TAGS}};
	char key[KEY_MAX];
	struct node n;
	int err = resolve(t, path, &n);

	if (err)
		return err;
	if (n.kind != NODE_TAG) {
		node_release(&n);
		return tree_refresh(t, path);
	}
	drop(t, UHUB_TAGS, n.repo, n.image, n.e.name);
	key_of(key, UHUB_TAGS, n.repo, n.image, NULL);
	a.r.repo = n.repo;
	a.r.image = n.image;
	a.tag = n.e.name;
	if (cache_held(t->c, key, &a.old) == 0) {
		if (snap_find(a.old, a.tag) >= 0 && cache_refill(t->c, key, t->cfg.neg_ttl_ms, amend_fill, &a) != 0)
			forget_key(t, key, &(struct listkey){.kind = UHUB_TAGS, .repo = n.repo, .image = n.image});
		snap_unref(a.old);
	}
	if (t->tier)
		tier_invalidate(t->tier, key);
	node_release(&n);
	return 0;
}
