/* fs_dir.c — the FUSE layer's open directories: a handle per OPENDIR,
 * in the list fs->dirs (so that those whose RELEASEDIR never comes are
 * closed at the session's end), the listing each one reads from (the same
 * one while it lasts, then the fresh one from where the reader was), the
 * offsets given to the kernel (tagged with the listing they count in),
 * and the tick's bound on the bytes of expired listings they keep. The
 * READDIR operations that read through them are in fs.c.
 */
#include "fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fresh.h"
#include "fs_int.h"
#include "tree.h"

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

off_t fs_off_make(const struct tree_dir *d, off_t idx)
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

int fs_dirh_open(struct imgtagfs *fs, uint64_t ino, const char *path, struct dirh **out)
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
	h->refs = 1; /* the kernel's, until RELEASEDIR */
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

void fs_dirh_hold(struct imgtagfs *fs, struct dirh *h)
{
	pthread_mutex_lock(&fs->dirs_mu);
	h->refs++;
	pthread_mutex_unlock(&fs->dirs_mu);
}

void fs_dirh_put(struct imgtagfs *fs, struct dirh *h)
{
	bool last;

	pthread_mutex_lock(&fs->dirs_mu);
	last = --h->refs == 0;
	pthread_mutex_unlock(&fs->dirs_mu);
	if (!last)
		return;
	tree_closedir(h->d);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

void fs_dirh_close(struct imgtagfs *fs, struct dirh *h)
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
	fs_dirh_put(fs, h);
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
		int64_t until;

		/* h->d is h's: read only under h->mu (a reader replaces it). */
		if (pthread_mutex_trylock(&h->mu))
			continue;
		until = tree_dir_until(h->d);
		if (!until) {
			pthread_mutex_unlock(&h->mu);
			continue;
		}
		v[n] = (struct kept){.until = until, .bytes = tree_dir_bytes(h->d), .h = h};
		total += v[n++].bytes;
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

void fs_forget_idle_dirs(struct imgtagfs *fs)
{
	pthread_mutex_lock(&fs->dirs_mu);
	forget_idle_locked(fs);
	pthread_mutex_unlock(&fs->dirs_mu);
}

/* At the end of the session: what the kernel never released. */
void fs_close_dirs(struct imgtagfs *fs)
{
	for (;;) {
		struct dirh *h;

		pthread_mutex_lock(&fs->dirs_mu);
		h = fs->dirs;
		pthread_mutex_unlock(&fs->dirs_mu);
		if (!h)
			return;
		fs_dirh_close(fs, h);
	}
}

size_t fs_dirs_open(struct imgtagfs *fs)
{
	size_t n;

	pthread_mutex_lock(&fs->dirs_mu);
	n = fs->ndirs;
	pthread_mutex_unlock(&fs->dirs_mu);
	return n;
}

/* Replaces h's listing with d. */
static void handle_take(struct dirh *h, struct tree_dir *d)
{
	tree_closedir(h->d);
	h->d = d;
}

/* Reading from the start reads the current listing: a rewound descriptor
 * never replays an expired one, nor one that a refresh replaced. */
int fs_refresh_handle(struct imgtagfs *fs, struct dirh *h)
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
int fs_continue_handle(struct imgtagfs *fs, struct dirh *h, off_t off, off_t *idx)
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
