/* prune.c — deletion through the mount (see prune.h): who may, what the
 * kernel was shown, the check against the registry before each
 * DeleteRepoImage, the rule that an unsure deletion is looked at before it
 * is sent again, and one log line and one counter for every outcome.
 *
 * What the kernel was shown is a small open-addressed table, inode number
 * to (mtime, ctime), holding the tag files the kernel knows: the FUSE
 * layer adds to it on each reply and takes from it on each forget, so it
 * never holds more than the inode table does.
 */
#include "prune.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "snap.h"
#include "timefmt.h"
#include "tree.h"
#include "uhub.h"

#define MIN_SLOTS 1024
/* Records kept after the kernel forgot their inode (PRUNE_KEEP_GONE). */
#define KEEP_GONE_DEFAULT (1u << 18)

struct shown {
	uint64_t ino; /* 0: empty */
	int64_t mtime, ctime;
	uint64_t fp;   /* the bytes they stood for (tree_fingerprint, in st_dev) */
	uint64_t gone; /* 0: the kernel holds ino; else the forget count then */
	/* A lookup or stat gave other attributes since (prune_looked_up):
	 * which the process deleting saw is not known, so none is trusted
	 * until a listing or a read records them again. */
	bool contradicted;
};

struct prune {
	struct prune_config cfg;
	struct tree *t;
	struct uhub *u;
	struct log *log;
	pthread_mutex_t mu; /* guards the table; a leaf */
	struct shown *slot;
	size_t mask, count; /* count: every record, live or gone */
	size_t live;	    /* records of inodes the kernel holds */
	uint64_t forgets;   /* inodes forgotten so far: the age of a gone record */
	_Atomic uint64_t done, refused, failed;
	_Atomic uint64_t running; /* prune_unlink and prune_rmdir in progress */
};

struct prune *prune_new(const struct prune_config *cfg, struct tree *t, struct uhub *u, struct log *log)
{
	struct prune *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->slot = calloc(MIN_SLOTS, sizeof(*p->slot));
	if (!p->slot || pthread_mutex_init(&p->mu, NULL)) {
		free(p->slot);
		free(p);
		return NULL;
	}
	p->cfg = *cfg;
	if (!p->cfg.keep_gone)
		p->cfg.keep_gone = KEEP_GONE_DEFAULT;
	p->t = t;
	p->u = u;
	p->log = log;
	p->mask = MIN_SLOTS - 1;
	return p;
}

void prune_free(struct prune *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->mu);
	free(p->slot);
	free(p);
}

/* ---- what the kernel was shown ---------------------------------------------- */

/* Inode numbers are hashes of paths already: the low bits index. */
static size_t home(const struct prune *p, uint64_t ino)
{
	return (size_t)ino & p->mask;
}

/* The slot of ino, or the empty one where it would go (lock held). */
static size_t find_slot(const struct prune *p, uint64_t ino)
{
	size_t i = home(p, ino);

	while (p->slot[i].ino && p->slot[i].ino != ino)
		i = (i + 1) & p->mask;
	return i;
}

/* The table again in n slots, without the gone records forgotten before
 * forget count `before` (lock held). False without memory. */
static bool rehash(struct prune *p, size_t n, uint64_t before)
{
	struct shown *old = p->slot, *v = calloc(n, sizeof(*v));
	size_t was = p->mask + 1;

	if (!v)
		return false;
	p->slot = v;
	p->mask = n - 1;
	p->count = 0;
	for (size_t i = 0; i < was; i++)
		if (old[i].ino && (!old[i].gone || old[i].gone >= before)) {
			p->slot[find_slot(p, old[i].ino)] = old[i];
			p->count++;
		}
	free(old);
	return true;
}

static bool grow(struct prune *p)
{
	return rehash(p, (p->mask + 1) * 2, 0);
}

static bool same_shown(const struct shown *s, const struct stat *st)
{
	return s->mtime == (int64_t)st->st_mtime && s->ctime == (int64_t)st->st_ctime && s->fp == (uint64_t)st->st_dev;
}

/* Records st for ino; with keep, not over a record that differs. Whether
 * ino's record is st now (lock taken here). */
static bool record(struct prune *p, uint64_t ino, const struct stat *st, bool keep)
{
	bool same = true;
	size_t i;

	pthread_mutex_lock(&p->mu);
	if ((p->count + 1) * 4 <= (p->mask + 1) * 3 || grow(p)) {
		i = find_slot(p, ino);
		if (!p->slot[i].ino)
			p->count++, p->live++;
		else if (p->slot[i].gone)
			p->live++; /* the kernel holds it again: what it was shown stays */
		p->slot[i].gone = 0;
		if (keep && p->slot[i].ino) {
			same = same_shown(&p->slot[i], st);
			p->slot[i].contradicted |= !same;
		} else
			p->slot[i] = (struct shown){
			    .ino = ino, .mtime = st->st_mtime, .ctime = st->st_ctime, .fp = (uint64_t)st->st_dev};
	}
	pthread_mutex_unlock(&p->mu);
	return same;
}

void prune_shown(struct prune *p, uint64_t ino, const struct stat *st)
{
	if (p && ino && S_ISREG(st->st_mode))
		record(p, ino, st, false);
}

bool prune_looked_up(struct prune *p, uint64_t ino, const struct stat *st)
{
	return !p || !ino || !S_ISREG(st->st_mode) || record(p, ino, st, true);
}

/* Keeps what the kernel was shown after it forgot the inode (memory
 * pressure, drop_caches, a change told): the user may still act on what
 * was listed, and the next lookup must not count as a first showing. The
 * oldest half of the gone records go when there are more than keep_gone. */
void prune_forgotten(struct prune *p, uint64_t ino)
{
	size_t i;

	if (!p || !ino)
		return;
	pthread_mutex_lock(&p->mu);
	i = find_slot(p, ino);
	if (p->slot[i].ino && !p->slot[i].gone) {
		p->slot[i].gone = ++p->forgets;
		p->live--;
	}
	if (p->count - p->live > p->cfg.keep_gone)
		rehash(p, p->mask + 1, p->forgets - p->cfg.keep_gone / 2 + 1);
	pthread_mutex_unlock(&p->mu);
}

/* Whether the kernel was last shown st's times for ino. */
static bool was_shown(struct prune *p, uint64_t ino, const struct stat *st)
{
	bool yes;
	size_t i;

	pthread_mutex_lock(&p->mu);
	i = find_slot(p, ino);
	yes = ino && p->slot[i].ino == ino && !p->slot[i].contradicted && same_shown(&p->slot[i], st);
	pthread_mutex_unlock(&p->mu);
	return yes;
}

/* ---- outcomes ------------------------------------------------------------------ */

static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static const char *or_none(const char *s)
{
	return s ? s : "none";
}

/* One line per outcome, named as the registry names it. */
static void note(struct prune *p, const struct prune_who *who, const struct tree_ident *id, int err, const char *why)
{
	bool refused = err == -EBUSY || err == -EPERM;
	char when[64];
	int prio = refused ? LOG_WARNING : err ? LOG_ERR : LOG_NOTICE;
	const char *what = refused ? "refused to delete" : err ? "failed to delete" : "deleted";

	if (refused)
		atomic_fetch_add(&p->refused, 1);
	else if (err)
		atomic_fetch_add(&p->failed, 1);
	else
		atomic_fetch_add(&p->done, 1);
	if (id->mtime == SNAP_NO_TIME || timefmt_rfc3339(id->mtime, when, sizeof(when)) != 0)
		snprintf(when, sizeof(when), "%s", or_none(id->time));
	if (id->kind == TREE_TAG)
		log_msg(p->log, prio, "%s tag %s/%s:%s digest %s updated %s for uid %lu pid %ld%s%s", what, id->repo,
			id->image, id->tag, or_none(id->digest), when, (unsigned long)who->uid, (long)who->pid,
			why ? ": " : "", why ? why : "");
	else
		log_msg(p->log, prio, "%s image %s/%s for uid %lu pid %ld%s%s", what, id->repo, id->image,
			(unsigned long)who->uid, (long)who->pid, why ? ": " : "", why ? why : "");
}

/* Only the owner and root: asked before anything else, so that another
 * user of an allow_other mount costs no API call at all. */
static int may_delete(struct prune *p, const struct prune_who *who, const char *path)
{
	if (who->uid == 0 || who->uid == p->cfg.owner)
		return 0;
	atomic_fetch_add(&p->refused, 1);
	log_msg(p->log, LOG_WARNING, "refused to delete %s for uid %lu pid %ld: not the mount's owner", path,
		(unsigned long)who->uid, (long)who->pid);
	return -EACCES;
}

/* ---- tags ------------------------------------------------------------------------ */

/* The registry's tag now against what the mount showed: 0 (the same),
 * -EBUSY (other bytes), -ENOENT (gone), or the API's -errno. */
static int check_tag(struct prune *p, const struct tree_ident *id)
{
	struct uhub_entry e;
	int err = uhub_get_tag(p->u, id->repo, id->image, id->tag, &e);

	if (err)
		return err;
	if (!same_text(e.digest, id->digest) || !tree_ident_same_time(p->t, id, e.time))
		err = -EBUSY;
	uhub_entry_release(&e);
	return err;
}

/* Check, then delete; after an unsure failure, check again before
 * anything else. *why: what to log besides the outcome. */
static int delete_tag(struct prune *p, const struct tree_ident *id, const char **why)
{
	bool unsure = false;
	int err = 0;

	for (unsigned round = 0; round <= p->cfg.retries; round++) {
		err = check_tag(p, id);
		if (err == -ENOENT && unsure) {
			*why = "found gone after an unsure reply";
			return 0;
		}
		if (err == -EBUSY)
			*why = unsure ? "re-pushed since an unsure reply" : "the registry has other bytes than shown";
		if (err)
			return err;
		err = uhub_delete(p->u, id->repo, id->image, id->tag, &unsure);
		if (!err || !unsure)
			return err;
		log_msg(p->log, LOG_WARNING, "deleting tag %s/%s:%s: unsure whether it was deleted (%s); looking",
			id->repo, id->image, id->tag, strerror(-err));
	}
	return err;
}

static int unlink_tag(struct prune *p, const struct prune_who *who, uint64_t ino, const char *path)
{
	struct tree_ident id;
	const char *why = NULL;
	int err = may_delete(p, who, path);

	if (err)
		return err;
	err = tree_ident(p->t, path, &id);
	if (!err && id.kind != TREE_TAG)
		err = -EISDIR;
	if (err) {
		tree_ident_release(&id);
		return err;
	}
	if (!was_shown(p, ino, &id.st)) {
		why = "changed since it was last shown";
		err = -EBUSY;
	}
	if (!err)
		err = delete_tag(p, &id, &why);
	if (!err || err == -ENOENT)
		tree_deleted(p->t, path); /* gone either way: stop showing it */
	if (err != -ENOENT)
		note(p, who, &id, err, why);
	tree_ident_release(&id);
	return err;
}

/* Counted while it runs: the caller may have had ETIMEDOUT at the deadline
 * already, and whoever waits for the outcome (deletes_*) needs to know
 * whether one is still coming (an error before any deletion counts none). */
int prune_unlink(struct prune *p, const struct prune_who *who, uint64_t ino, const char *path)
{
	int err;

	atomic_fetch_add(&p->running, 1);
	err = unlink_tag(p, who, ino, path);
	atomic_fetch_sub(&p->running, 1);
	return err;
}

/* ---- images ----------------------------------------------------------------------- */

static int count_one(void *arg, const char *name, const struct stat *st, off_t next)
{
	(void)name;
	(void)next;
	if (!st)
		return 0; /* "." and ".." come without attributes */
	++*(size_t *)arg;
	return 1; /* one is enough */
}

/* ENOTEMPTY when the mount lists anything in path. */
static int shows_nothing(struct prune *p, const char *path)
{
	struct tree_dir *d;
	size_t n = 0;
	int err = tree_opendir(p->t, path, &d);

	if (err)
		return err;
	err = tree_dir_read(d, 0, count_one, &n);
	tree_closedir(d);
	return err ? err : n ? -ENOTEMPTY : 0;
}

/* The registry's tags of the image now: 0 (none), -EBUSY (some),
 * -ENOENT (no such image), or the API's -errno. */
static int check_image(struct prune *p, const struct tree_ident *id)
{
	struct uhub_list l = {0};
	int err = uhub_list(p->u, UHUB_TAGS, id->repo, id->image, &l);

	if (!err && (l.n || l.unsure))
		err = -EBUSY;
	uhub_list_release(&l);
	return err;
}

static int delete_image(struct prune *p, const struct tree_ident *id, const char **why)
{
	bool unsure = false;
	int err = 0;

	for (unsigned round = 0; round <= p->cfg.retries; round++) {
		err = check_image(p, id);
		if (err == -ENOENT && unsure) {
			*why = "found gone after an unsure reply";
			return 0;
		}
		if (err == -EBUSY)
			*why = "the registry has tags the mount did not show";
		if (err)
			return err;
		err = uhub_delete(p->u, id->repo, id->image, NULL, &unsure);
		if (!err || !unsure)
			return err;
		log_msg(p->log, LOG_WARNING, "deleting image %s/%s: unsure whether it was deleted (%s); looking",
			id->repo, id->image, strerror(-err));
	}
	return err;
}

/* What rmdir refuses before asking anything: 0 for an image. */
static int rmdir_kind(const struct tree_ident *id, const char **why)
{
	switch (id->kind) {
	case TREE_TAG:
		return -ENOTDIR;
	case TREE_ROOT:
		return -EBUSY;
	case TREE_REPO:
		*why = "repositories are never deleted through the filesystem";
		return -EPERM;
	case TREE_PREFIX:
		return -ENOTEMPTY; /* it stands only for the images below it */
	default:
		return 0;
	}
}

static int rmdir_image(struct prune *p, const struct prune_who *who, const char *path)
{
	struct tree_ident id;
	const char *why = NULL;
	int err = may_delete(p, who, path);

	if (err)
		return err;
	err = tree_ident(p->t, path, &id);
	if (err) {
		tree_ident_release(&id);
		return err;
	}
	err = rmdir_kind(&id, &why);
	if (!err)
		err = shows_nothing(p, path);
	if (!err)
		err = delete_image(p, &id, &why);
	if (!err || err == -ENOENT)
		tree_deleted(p->t, path);
	if (err != -ENOENT && err != -ENOTEMPTY && err != -ENOTDIR && (id.kind != TREE_ROOT || err != -EBUSY))
		note(p, who, &id, err, why);
	tree_ident_release(&id);
	return err;
}

int prune_rmdir(struct prune *p, const struct prune_who *who, const char *path)
{
	int err;

	atomic_fetch_add(&p->running, 1);
	err = rmdir_image(p, who, path);
	atomic_fetch_sub(&p->running, 1);
	return err;
}

/* ---- counters --------------------------------------------------------------------- */

void prune_get_stats(struct prune *p, struct prune_stats *out)
{
	out->done = atomic_load(&p->done);
	out->refused = atomic_load(&p->refused);
	out->failed = atomic_load(&p->failed);
	out->running = atomic_load(&p->running);
	pthread_mutex_lock(&p->mu);
	out->shown = p->live;
	out->kept = p->count - p->live;
	pthread_mutex_unlock(&p->mu);
}
