/* tree_fill.c — the tree's listings: the cache key of each, how it is
 * filled (from the API, or through the fleet tier when there is one), the
 * background jobs that fetch ahead (prefetch, refresh-ahead, warming the
 * root), and what a new listing changes (each one compared with what this
 * mount showed before: the tags' ctimes and who is told: the kernel
 * through tree_set_changed, the fleet through the tier). A listing a
 * refresh or another host dropped is kept aside (the stash) until its next
 * fill, for that comparison. The namespace built on these listings is
 * tree.c; open directories are tree_dir.c.
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
#include "tree_int.h"

static void on_stale(void *arg, const char *key, int err, int64_t age_ms);
static int on_ahead(void *arg, const char *key);
static void on_join(void *waiter, void *filler);
static uint64_t fill_progress(void *filler);
struct fill_req;
static void note_changes(struct tree *t, const struct fill_req *r, const char *key, struct snap *s);

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
	t->fresh = cfg->fresh;
	/* The budget's window is the default ttl for every listing: it bounds
	 * what made-up names cost, not how old an answer may be. */
	if (!t->fresh || !(t->qb = qbudget_new(fresh_ttl_ms(t->fresh, NULL)))) {
		free(t->repo);
		free(t);
		return NULL;
	}
	if (pthread_mutex_init(&t->stash_mu, NULL)) {
		qbudget_free(t->qb);
		free(t->repo);
		free(t);
		return NULL;
	}
	cache_set_stale(c, fresh_max_stale_ms(t->fresh), fresh_stale_retry_ms(t->fresh), on_stale, t);
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
	free(t->repo);
	free(t);
}

const struct fresh *tree_fresh(const struct tree *t)
{
	return t->fresh;
}

/* ---- cache keys and fills ------------------------------------------------ */

void tree_key_of(char *key, enum uhub_kind k, const char *repo, const char *image, const char *tag)
{
	const struct listkey lk = {.kind = k, .repo = repo, .image = image, .tag = tag};

	listkey_format(key, &lk);
}

struct fill_req {
	struct tree *t;
	enum uhub_kind kind;
	const char *repo, *image, *tag;
	atomic_bool bg;		/* a background fill: lower priority while true */
	_Atomic uint64_t pages; /* pages answered so far (tree_progress) */
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

		tree_key_of(image_key, UHUB_TAGS, r->repo, r->image, NULL);
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
		log_msg(t->log, LOG_WARNING,
			"serving a stale listing of %s (%lld s old): the API has not answered its "
			"refresh yet",
			name, (long long)(age_ms / 1000));
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
	    cache_get(t->c, key, fresh_ttl_ms(t->fresh, key), fresh_neg_ttl_ms(t->fresh, key), fill, &r, &s) == 0)
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
	if (cache_peek(t->c, key, fresh_ttl_ms(t->fresh, key), &s) == 0) {
		r.min_born = snap_born(s);
		snap_unref(s);
	}
	if (b && key_parse(key, &r, b) == 0)
		cache_refill(t->c, key, fresh_neg_ttl_ms(t->fresh, key), fill, &r);
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

int64_t tree_shown_time(const struct tree *t, int64_t mtime)
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
		was = tree_shown_time(t, b->ctime);
		add_ctime(c, i, now > was ? now : was + 1);
	}
	return true;
}

/* Tag name's own answer held now (a reference), or NULL. */
static struct snap *alone_held(struct tree *t, const char *repo, const char *image, const char *name)
{
	char key[KEY_MAX];
	struct snap *s = NULL;

	tree_key_of(key, UHUB_TAGS, repo, image, name);
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
		tree_key_of(lkey, UHUB_TAGS, r->repo, r->image, NULL);
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
		tree_key_of(prefix, UHUB_TAGS, k->repo, k->image, "");
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

/* The cache asks how early listing key is refreshed ahead (its lock
 * held: only compute). */
static int64_t ahead_ms(void *arg, const char *key)
{
	const struct tree *t = arg;

	return fresh_ahead_ms(t->fresh, key);
}

void tree_set_background(struct tree *t, struct bg *b)
{
	atomic_store(&t->bg, b);
	cache_set_ahead(t->c, ahead_ms, b ? on_ahead : NULL, t);
}

/* Queues the listing behind key for a background fetch. */
void tree_prefetch(struct tree *t, enum uhub_kind k, const char *repo, const char *image)
{
	struct bg *b = atomic_load(&t->bg);
	char key[KEY_MAX];

	if (!b)
		return;
	tree_key_of(key, k, repo, image, NULL);
	bg_push(b, prefetch_job, t, key);
}

/* Lowers *until to the expiry of snapshot s of listing key (fresh.h,
 * rule 3). */
void tree_note(const struct tree *t, const char *key, int64_t *until, const struct snap *s)
{
	int64_t e = fresh_expiry(t->fresh, key, snap_born(s));

	if (e < *until)
		*until = e;
}

/* The snapshot of a listing (or of one tag), and *until lowered to what
 * the answer is worth: the snapshot's expiry; for a name that could never
 * exist, neg_ttl; for the API's own "no", nothing (it is remembered here,
 * not by the kernel). When the name being looked up could never exist
 * (plausible false), only a cached snapshot is used, so such lookups cost
 * no call. */
int tree_get_snap(struct tree *t, enum uhub_kind k, const char *repo, const char *image, const char *tag,
		  bool plausible, struct node *n, struct snap **out)
{
	char key[KEY_MAX];
	struct fill_req r = {.t = t, .kind = k, .repo = repo, .image = image, .tag = tag, .min_born = INT64_MIN};
	int64_t now;
	int err;

	tree_key_of(key, k, repo, image, tag);
	if (!plausible || n->peek) {
		err = cache_peek(t->c, key, fresh_ttl_ms(t->fresh, key), out);
		if (err == -EAGAIN) {
			now = fresh_now(t->fresh) + fresh_neg_ttl_ms(t->fresh, key);
			n->until = now < n->until ? now : n->until;
			n->never = true;
			return -ENOENT;
		}
	} else {
		err = cache_get_by(t->c, key, fresh_ttl_ms(t->fresh, key), fresh_neg_ttl_ms(t->fresh, key), fill, &r,
				   n->stale_by, out);
	}
	if (!err)
		tree_note(t, key, &n->until, *out);
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
		return bg_push(b, warm_job, t, LISTKEY_REPOS);
	tree_key_of(key, UHUB_IMAGES, t->repo, NULL, NULL);
	return bg_push(b, prefetch_job, t, key);
}

/* Listing k fetched again now, because the names it lacks ran out of
 * budget (qbudget.h), replacing the snapshot held in *s. */
int tree_relist(struct tree *t, enum uhub_kind k, const char *repo, const char *image, struct node *n, struct snap **s)
{
	struct fill_req r = {.t = t, .kind = k, .repo = repo, .image = image, .min_born = INT64_MIN};
	char key[KEY_MAX];
	struct snap *again;
	int err;

	tree_key_of(key, k, repo, image, NULL);
	qbudget_listed(t->qb, key, fresh_now(t->fresh));
	err = cache_refill(t->c, key, fresh_neg_ttl_ms(t->fresh, key), fill, &r);
	if (!err)
		err = cache_peek(t->c, key, fresh_ttl_ms(t->fresh, key), &again);
	if (err)
		return err == -EAGAIN ? -EIO : err;
	snap_unref(*s);
	*s = again;
	tree_note(t, key, &n->until, again);
	return 0;
}

/* Forgets the cached answer behind one key here, and tells the fleet. */
void tree_drop(struct tree *t, enum uhub_kind k, const char *repo, const char *image, const char *tag)
{
	char key[KEY_MAX];

	tree_key_of(key, k, repo, image, tag);
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

/* ---- deletions (prune.h) ------------------------------------------------------ */

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
	int err = tree_resolve(t, path, &n);

	if (err)
		return err;
	if (n.kind != NODE_TAG) {
		tree_node_release(&n);
		return tree_refresh(t, path);
	}
	tree_drop(t, UHUB_TAGS, n.repo, n.image, n.e.name);
	tree_key_of(key, UHUB_TAGS, n.repo, n.image, NULL);
	a.r.repo = n.repo;
	a.r.image = n.image;
	a.tag = n.e.name;
	if (cache_held(t->c, key, &a.old) == 0) {
		if (snap_find(a.old, a.tag) >= 0 &&
		    cache_refill(t->c, key, fresh_neg_ttl_ms(t->fresh, key), amend_fill, &a) != 0)
			forget_key(t, key, &(struct listkey){.kind = UHUB_TAGS, .repo = n.repo, .image = n.image});
		snap_unref(a.old);
	}
	if (t->tier)
		tier_invalidate(t->tier, key);
	tree_node_release(&n);
	return 0;
}
