/* tree_dir.c — the tree's open directories: a directory read in chunks
 * as the kernel reads it, from the snapshots it held at opendir (so that
 * offsets hold across chunks while the listing is refreshed), with a
 * cursor that makes reading on from the last chunk cost nothing, and a
 * resume that carries a reader's place into a fresh listing. Entries and
 * their attributes come from the namespace (tree.c).
 */
#include "tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap.h"
#include "tagfile.h"
#include "tree_int.h"

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
	uint64_t stamp; /* tree_dir_stamp, kept through a forget */
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
		tree_dir_stat(d->t, e.mtime, &out->st);
		return true;
	}
	snprintf(out->buf, sizeof(out->buf), "%.*s", (int)(rest - e.name + clen), e.name);
	tree_children_range(d->list, out->buf, &clo, &chi);
	if (chi > *next)
		*next = chi;
	if (snap_find(d->list, out->buf) >= 0)
		return false; /* the image p/c stands on its own: listed already */
	tree_dir_stat(d->t, tree_newest(d->list, clo, chi), &out->st);
	out->name = out->buf + (rest - e.name);
	return true;
}

/* True for a tag literally named NAME@tag where NAME is a nested image
 * directory: that file name is NAME's alias, so the tag cannot be shown. */
static bool shadowed_tag(const struct snap *imgs, const char *dir, const char *tag)
{
	char base[NAMES_MAX + 1];

	return tree_alias_base(tag, base) && tree_has_child_dir(imgs, dir, base);
}

/* Tag i of an image directory under the name it is shown as (in
 * out->name), aliasing names that collide with nested image directories,
 * and its entry in e; false to skip it. */
static bool tag_name_at(struct tree_dir *d, size_t i, struct dir_entry *out, struct snap_entry *e)
{
	snap_get(d->tags, i, e);
	out->name = e->name;
	/* No nested image directory below this one (the common case): no
	 * name to share, so no alias, and nothing to look up per tag. */
	if (d->lo == d->hi)
		return true;
	if (shadowed_tag(d->list, d->n.image, e->name))
		return false;
	if (tree_has_child_dir(d->list, d->n.image, e->name)) {
		/* A longer alias could not be a file name. */
		if ((size_t)snprintf(out->buf, sizeof(out->buf), "%s%s", e->name, TREE_TAG_ALIAS) > NAMES_MAX)
			return false;
		/* An image directory NAME@tag takes the name first. */
		if (tree_has_child_dir(d->list, d->n.image, out->buf))
			return false;
		out->name = out->buf;
	}
	return true;
}

/* The same with its attributes in out->st. */
static bool tag_at(struct tree_dir *d, size_t i, struct dir_entry *out, struct snap_entry *e)
{
	if (!tag_name_at(d, i, out, e))
		return false;
	tree_tag_stat(d->t, e, &out->st);
	return true;
}

/* The entry at the cursor (phase, i), and the cursor after it. false at
 * the end. */
static bool dir_peek(struct tree_dir *d, enum dir_phase *phase, size_t *i, struct dir_entry *out)
{
	struct snap_entry te;
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
				tree_dir_stat(d->t, e.mtime, &out->st);
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
			if (tag_at(d, (*i)++, out, &te))
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
			tree_prefetch(d->t, UHUB_IMAGES, e.name, NULL);
		else
			tree_prefetch(d->t, UHUB_TAGS, d->n.repo, e.name);
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
	err = tree_resolve_as(t, path, &d->n, cached_only);
	if (err) {
		free(d);
		return err;
	}
	if (d->n.kind == NODE_TAG)
		err = -ENOTDIR;
	else if (d->n.kind == NODE_ROOT)
		err = tree_get_snap(t, UHUB_REPOS, NULL, NULL, NULL, !cached_only, &d->n, &d->list);
	else
		err = tree_get_snap(t, UHUB_IMAGES, d->n.repo, NULL, NULL, !cached_only, &d->n, &d->list);
	if (!err && d->n.kind == NODE_IMAGE)
		err = tree_get_snap(t, UHUB_TAGS, d->n.repo, d->n.image, NULL, !cached_only, &d->n, &d->tags);
	if (err) {
		tree_closedir(d);
		return err;
	}
	d->hi = snap_count(d->list);
	if (d->n.kind != NODE_ROOT && d->n.kind != NODE_REPO) {
		d->plen = strlen(d->n.image);
		tree_children_range(d->list, d->n.image, &d->lo, &d->hi);
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

/* The index in d->tags of the first tag after the file named after. */
static size_t files_start(const struct tree_dir *d, const char *after)
{
	char base[NAMES_MAX + 1];
	size_t at;

	if (!*after)
		return 0;
	if (tree_alias_base(after, base) && tree_has_child_dir(d->list, d->n.image, base))
		after = base;
	at = snap_lower_bound(d->tags, after);
	return at < snap_count(d->tags) && snap_find(d->tags, after) == (long)at ? at + 1 : at;
}

int tree_dir_files(struct tree_dir *d, const char *after, size_t max, tree_filefn fn, void *arg)
{
	struct dir_entry *e;
	struct snap_entry se;
	char *bytes;
	size_t n = 0;

	if (d->forgotten)
		return -ESTALE;
	if (!d->tags)
		return 0;
	e = malloc(sizeof(*e));
	bytes = malloc(TREE_FILE_MAX);
	if (!e || !bytes) {
		free(e);
		free(bytes);
		return -ENOMEM;
	}
	for (size_t i = files_start(d, after); i < snap_count(d->tags) && n < max; i++) {
		ssize_t len;

		if (!tag_name_at(d, i, e, &se))
			continue;
		n++;
		/* The same bytes a read gives (tagfile_read), so what is stored
		 * ahead is what the file says. */
		len = tagfile_read(&se, bytes, TREE_FILE_MAX, 0);
		if (len >= 0 && fn(arg, e->name, bytes, (size_t)len))
			break;
	}
	free(bytes);
	free(e);
	return 0;
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
	tree_node_release(&d->n);
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
	tree_children_range(s, cp, &clo, &chi);
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
	tree_node_release(&d->n);
	free(d->key);
	free(d);
}
