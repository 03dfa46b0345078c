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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fresh.h"
#include "hash.h"
#include "listkey.h"
#include "names.h"
#include "qbudget.h"
#include "snap.h"
#include "tagfile.h"
#include "timefmt.h"
#include "tree_int.h"

void tree_node_release(struct node *n)
{
	snap_unref(n->hold[0]);
	snap_unref(n->hold[1]);
	n->hold[0] = n->hold[1] = NULL;
}

/* ---- resolution ------------------------------------------------------------ */

/* The NAME of a file name NAME@tag into base (NAMES_MAX + 1 bytes);
 * false when name does not end in the alias suffix. */
bool tree_alias_base(const char *name, char *base)
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
	return tree_alias_base(comp, base) && names_maybe_tag(base);
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
void tree_children_range(const struct snap *imgs, const char *p, size_t *lo, size_t *hi)
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
int64_t tree_newest(const struct snap *imgs, size_t lo, size_t hi)
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
		err = tree_get_snap(t, UHUB_TAGS, n->repo, n->image, tag, true, n, &one);
		if (err)
			return err;
		snap_unref(*s);
		*s = one;
		return 0;
	case QBUDGET_LIST:
		err = tree_relist(t, UHUB_TAGS, n->repo, n->image, n, s);
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
		return tree_get_snap(t, UHUB_TAGS, n->repo, n->image, tag, false, n, s);
	/* An expired listing that may still be served is refreshed rather
	 * than bypassed: with the API hung, its old copy answers within the
	 * stale bound, where a query for the tag would wait the deadline. */
	if (cache_filling(t->c, key) || cache_stale_held(t->c, key, fresh_ttl_ms(t->fresh, key)))
		return tree_get_snap(t, UHUB_TAGS, n->repo, n->image, NULL, true, n, s);
	switch (qbudget_ask(t->qb, key, fresh_now(t->fresh))) {
	case QBUDGET_QUERY:
		return tree_get_snap(t, UHUB_TAGS, n->repo, n->image, tag, true, n, s);
	case QBUDGET_LIST:
		qbudget_listed(t->qb, key, fresh_now(t->fresh));
		break;
	case QBUDGET_NONE:
		break;
	}
	return tree_get_snap(t, UHUB_TAGS, n->repo, n->image, NULL, true, n, s);
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

	tree_key_of(key, UHUB_TAGS, n->repo, n->image, NULL);
	err = cache_peek(t->c, key, fresh_ttl_ms(t->fresh, key), &s);
	if (err == -EAGAIN)
		err = cold_tag(t, n, key, tag, &s);
	else if (!err)
		tree_note(t, key, &n->until, s);
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
	tree_key_of(key, k, repo, NULL, NULL);
	switch (qbudget_ask(t->qb, key, fresh_now(t->fresh))) {
	case QBUDGET_QUERY:
		err =
		    tree_get_snap(t, ck, ck == UHUB_IMAGES ? child : n->repo, ck == UHUB_TAGS ? child : NULL, NULL,
				  ck == UHUB_IMAGES ? names_maybe_component(child) : plausible_path(child), n, &below);
		if (err == -ENOENT)
			qbudget_missed(t->qb, key, fresh_now(t->fresh));
		if (err)
			break;
		*mtime = tree_newest(below, 0, snap_count(below));
		snap_unref(below);
		return 0;
	case QBUDGET_LIST:
		err = tree_relist(t, k, repo, NULL, n, list);
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
bool tree_has_child_dir(const struct snap *imgs, const char *dir, const char *name)
{
	char full[4096 + NAMES_MAX + 2];
	size_t lo, hi;

	if ((size_t)snprintf(full, sizeof(full), "%s/%s", dir, name) >= sizeof(full))
		return false;
	if (snap_find(imgs, full) >= 0)
		return true;
	tree_children_range(imgs, full, &lo, &hi);
	return lo < hi;
}

/* name is a file in image directory n->image: a tag, or NAME@tag for a
 * tag that shares its name with a nested image directory. */
static int resolve_alias(struct tree *t, struct node *n, struct snap *imgs, const char *name)
{
	char base[NAMES_MAX + 1];

	if (tree_alias_base(name, base) && tree_has_child_dir(imgs, n->image, base))
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
	tree_children_range(imgs, rest, &lo, &hi);
	if (i >= 0) {
		snap_get(imgs, (size_t)i, &n->e);
		n->kind = NODE_IMAGE;
		n->mtime = n->e.mtime;
		return 0;
	}
	if (lo < hi) {
		n->kind = NODE_DIR;
		n->mtime = tree_newest(imgs, lo, hi);
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

	if (cache_peek(t->c, LISTKEY_REPOS, fresh_ttl_ms(t->fresh, LISTKEY_REPOS), &s) != 0)
		return false;
	snap_unref(s);
	return true;
}

/* Resolves path into n (peek: only from fresh listings already cached,
 * never asking the API). 0 or -errno; on 0 the caller node_releases n. */
int tree_resolve_as(struct tree *t, const char *path, struct node *n, bool peek)
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
			tree_prefetch(t, UHUB_IMAGES, n->repo, NULL);
		err = tree_get_snap(t, UHUB_REPOS, NULL, NULL, NULL, names_maybe_component(n->repo), n, &s);
		if (!err)
			err = resolve_repo(t, n, s);
		if (err) {
			tree_node_release(n);
			return err;
		}
	}
	if (!*rest)
		return 0;
	err = tree_get_snap(t, UHUB_IMAGES, n->repo, NULL, NULL, plausible_path(rest), n, &s);
	if (!err) {
		snap_unref(n->hold[0]);
		n->hold[0] = s;
		/* n->e pointed into the repositories' listing just let go. */
		memset(&n->e, 0, sizeof(n->e));
		err = resolve_in_repo(t, n, rest);
	}
	if (err)
		tree_node_release(n);
	return err;
}

/* ---- attributes ------------------------------------------------------------ */

/* A directory's times are whole seconds, stable while its listing lasts
 * (make, rsync and find -newer compare them); the kernel's copies of
 * directory listings are kept fresh otherwise (notify.h). */
void tree_dir_stat(const struct tree *t, int64_t mtime, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | ((t->cfg.writable_dirs ? 0755 : 0555) & ~t->cfg.umask);
	st->st_nlink = 1; /* "unknown", as btrfs: find must not guess leaves */
	st->st_uid = t->cfg.uid;
	st->st_gid = t->cfg.gid;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = (time_t)tree_shown_time(t, mtime);
}

void tree_tag_stat(const struct tree *t, const struct snap_entry *e, struct stat *st)
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
	st->st_mtime = st->st_atime = (time_t)tree_shown_time(t, e->mtime);
	st->st_ctime = (time_t)tree_shown_time(t, e->ctime);
	st->st_dev = (dev_t)tree_fingerprint(e);
}

uint64_t tree_fingerprint(const struct snap_entry *e)
{
	uint64_t h = hash_fnv64_str(HASH_FNV64_BASIS, e->digest ? e->digest : "");

	/* A separator no digest or time holds, so that the pieces cannot
	 * slide into each other; never 0, which means "no tag file". */
	h = hash_fnv64(h, "\n", 1);
	h = hash_fnv64_str(h, e->time_raw ? e->time_raw : "");
	h = hash_fnv64(h, &e->mtime, sizeof(e->mtime));
	return h ? h : 1;
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

	tree_key_of(key, t->repo ? UHUB_IMAGES : UHUB_REPOS, t->repo, NULL, NULL);
	if (cache_peek(t->c, key, fresh_ttl_ms(t->fresh, key), &s) != 0) {
		n->mtime = t->cfg.mount_time;
		n->until = 0;
		return;
	}
	n->mtime = tree_newest(s, 0, snap_count(s));
	tree_note(t, key, &n->until, s);
	snap_unref(s);
}

/* Resolves path into n. 0 or -errno; on 0 the caller node_releases n. */
int tree_resolve(struct tree *t, const char *path, struct node *n)
{
	return tree_resolve_as(t, path, n, false);
}

static int stat_as(struct tree *t, const char *path, struct stat *st, int64_t *until, bool peek)
{
	struct node n;
	int err = tree_resolve_as(t, path, &n, peek);

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
		tree_tag_stat(t, &n.e, st);
	else
		tree_dir_stat(t, n.mtime, st);
	*until = n.until;
	tree_node_release(&n);
	return 0;
}

int tree_stat(struct tree *t, const char *path, struct stat *st, int64_t *until)
{
	return stat_as(t, path, st, until, false);
}

void tree_fresh_key(const struct tree *t, const char *path, char *key)
{
	char repo[NAMES_MAX + 1];
	struct listkey k = {.kind = UHUB_IMAGES, .repo = t->repo};
	size_t n = strcspn(path + (*path == '/'), "/");

	if (!t->repo && n && n <= NAMES_MAX) {
		memcpy(repo, path + (*path == '/'), n);
		repo[n] = '\0';
		k.repo = repo;
	}
	if (!k.repo)
		k.kind = UHUB_REPOS;
	listkey_format(key, &k);
}

int tree_stat_cached(struct tree *t, const char *path, struct stat *st)
{
	int64_t until;

	return stat_as(t, path, st, &until, true);
}

/* ---- contents ---------------------------------------------------------------- */

ssize_t tree_read(struct tree *t, const char *path, char *dst, size_t size, off_t off)
{
	struct node n;
	ssize_t got;
	int err = tree_resolve(t, path, &n);

	if (err)
		return err;
	got = n.kind == NODE_TAG ? tagfile_read(&n.e, dst, size, off) : -EISDIR;
	tree_node_release(&n);
	return got;
}

int tree_tag_value(struct tree *t, const char *path, const char *which, struct buf *out)
{
	struct node n;
	char when[TIMEFMT_RFC3339_LEN + 1];
	int err = tree_resolve(t, path, &n);

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
	tree_node_release(&n);
	return err;
}

int tree_refresh(struct tree *t, const char *path)
{
	struct node n;
	int err = tree_resolve(t, path, &n);

	if (err)
		return err;
	switch (n.kind) {
	case NODE_ROOT:
		tree_flush(t);
		break;
	case NODE_REPO:
	case NODE_DIR: /* a prefix directory lives in its repository's image list */
		tree_drop(t, UHUB_IMAGES, n.repo, NULL, NULL);
		break;
	case NODE_IMAGE:
		/* Its tags, and its nested image directories, which come from
		 * the repository's image list. */
		tree_drop(t, UHUB_TAGS, n.repo, n.image, NULL);
		tree_drop(t, UHUB_IMAGES, n.repo, NULL, NULL);
		break;
	case NODE_TAG:
		/* The tag's own answer, wherever it came from: a lookup of it
		 * alone (first: dropping the listing drops it unstashed), or the
		 * listing of its image. */
		tree_drop(t, UHUB_TAGS, n.repo, n.image, n.e.name);
		tree_drop(t, UHUB_TAGS, n.repo, n.image, NULL);
		break;
	}
	tree_node_release(&n);
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
		err = tree_resolve(t, path, &n);
	if (err)
		return err;
	/* A tag's attributes from the very entry its digest comes from: the
	 * listing may be replaced between tree_stat and the resolve, and old
	 * times must never vouch for new bytes. */
	if (n.kind == NODE_TAG)
		tree_tag_stat(t, &n.e, &out->st);
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
	tree_node_release(&n);
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
