/* notify.c — the kernel's directory copies and the thread that tells the
 * kernel what to forget (notify.h).
 *
 * The thread wakes for queued work, and every TICK_MS to drop copies whose
 * listing expired. Work is FIFO with one ticket counter: a caller waiting
 * for ticket T is done when the thread has finished every job up to T.
 * Copies are few (one per directory the kernel has read), so a chained
 * hash table scanned whole each tick is enough.
 */
#include "notify.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fresh.h"
#include "inode.h"
#include "monotime.h"

#define BUCKETS 256
#define TICK_MS 200
#define QUEUE_MAX 4096 /* past this, one "forget everything" instead */

struct copy {
	uint64_t ino, stamp;
	int64_t until;
	struct copy *next;
};

struct job {
	uint64_t ino;
	enum notify_how how;
};

struct notify {
	struct inode_table *inodes;
	const struct fresh *fresh;
	notify_exists_fn exists;
	void *arg;
	struct fuse_session *se;
	pthread_mutex_t mu;	      /* guards copies, the queue and the tickets; a leaf:
					 the thread tells the kernel without it (the
					 cache's hooks queue under the cache's mutex:
					 cache -> notify) */
	pthread_cond_t work, done_cv; /* a job queued or stop; a ticket done */
	struct copy *copies[BUCKETS];
	struct job *q;
	size_t nq, aq;
	bool all;	       /* a flush of everything is queued */
	uint64_t queued, done; /* tickets */
	bool running, stopping;
	pthread_t tid;
};

struct notify *notify_new(struct inode_table *inodes, const struct fresh *f, notify_exists_fn exists, void *arg)
{
	struct notify *n = calloc(1, sizeof(*n));
	pthread_condattr_t ca;

	if (!n)
		return NULL;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&n->mu, NULL) || pthread_cond_init(&n->work, &ca) ||
	    pthread_cond_init(&n->done_cv, &ca)) {
		pthread_condattr_destroy(&ca);
		free(n);
		return NULL;
	}
	pthread_condattr_destroy(&ca);
	n->inodes = inodes;
	n->fresh = f;
	n->exists = exists;
	n->arg = arg;
	return n;
}

static void copies_clear(struct notify *n)
{
	for (size_t i = 0; i < BUCKETS; i++)
		while (n->copies[i]) {
			struct copy *c = n->copies[i];

			n->copies[i] = c->next;
			free(c);
		}
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	notify_stop(n);
	copies_clear(n);
	free(n->q);
	pthread_cond_destroy(&n->work);
	pthread_cond_destroy(&n->done_cv);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

/* ---- directory copies (lock held) ----------------------------------------- */

static struct copy **copy_slot(struct notify *n, uint64_t ino)
{
	struct copy **pp = &n->copies[ino % BUCKETS];

	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->next;
	return pp;
}

static void copy_drop(struct notify *n, uint64_t ino)
{
	struct copy **pp = copy_slot(n, ino), *c = *pp;

	if (c) {
		*pp = c->next;
		free(c);
	}
}

void notify_copy_made(struct notify *n, uint64_t ino, uint64_t stamp, int64_t until_ms)
{
	struct copy **pp, *c;

	pthread_mutex_lock(&n->mu);
	pp = copy_slot(n, ino);
	if (!*pp && (c = calloc(1, sizeof(*c)))) {
		c->ino = ino;
		*pp = c;
	}
	if (*pp) {
		(*pp)->stamp = stamp;
		(*pp)->until = until_ms;
	}
	pthread_mutex_unlock(&n->mu);
}

bool notify_copy_current(struct notify *n, uint64_t ino, uint64_t stamp)
{
	int64_t now = fresh_now(n->fresh);
	const struct copy *c;
	bool yes;

	pthread_mutex_lock(&n->mu);
	c = *copy_slot(n, ino);
	yes = c && c->stamp == stamp && now < c->until;
	pthread_mutex_unlock(&n->mu);
	return yes;
}

void notify_copy_gone(struct notify *n, uint64_t ino)
{
	pthread_mutex_lock(&n->mu);
	copy_drop(n, ino);
	pthread_mutex_unlock(&n->mu);
}

/* ---- telling the kernel (the thread, unlocked) ------------------------------ */

/* The kernel drops the name (and the subtree under it), the inode's
 * attributes and its pages, which for a directory are its listing copy. */
static void forget_item(struct notify *n, const struct inode_list *l, size_t i)
{
	const struct inode_item *it = &l->v[i];
	const char *name = l->names + it->name_off;

	fuse_lowlevel_notify_inval_entry(n->se, it->parent, name, strlen(name));
	fuse_lowlevel_notify_inval_inode(n->se, it->ino, 0, 0);
	if (it->dir)
		notify_copy_gone(n, it->ino);
}

/* After a listing changed: a name still there as what it was keeps its
 * dentry (dropping a directory's name would drop the kernel's whole
 * subtree below it, still valid); only its attributes and pages go. */
static void forget_changed_item(struct notify *n, const struct inode_list *l, size_t i)
{
	char path[PATH_MAX];

	if (inode_path(n->inodes, l->v[i].ino, path, sizeof(path), NULL) == 0 && n->exists(n->arg, path, l->v[i].dir)) {
		fuse_lowlevel_notify_inval_inode(n->se, l->v[i].ino, 0, 0);
		if (l->v[i].dir)
			notify_copy_gone(n, l->v[i].ino);
		return;
	}
	forget_item(n, l, i);
}

static void forget_below(struct notify *n, uint64_t ino, enum notify_how how)
{
	struct inode_list l;

	/* A refresh reaches every depth: a nested image directory two levels
	 * down (or a shell's cwd in it) must not keep its attributes. */
	if (inode_list_get(n->inodes, ino, how == NOTIFY_FLUSH, &l) == 0) {
		for (size_t i = 0; i < l.n; i++)
			if (how == NOTIFY_CHANGED)
				forget_changed_item(n, &l, i);
			else
				forget_item(n, &l, i);
		inode_list_release(&l);
	}
	fuse_lowlevel_notify_inval_inode(n->se, ino ? ino : INODE_ROOT, 0, 0);
	pthread_mutex_lock(&n->mu);
	if (ino)
		copy_drop(n, ino);
	else
		copies_clear(n);
	pthread_mutex_unlock(&n->mu);
}

/* Takes the expired copies off the table (lock held); returns them. */
static struct copy *take_expired(struct notify *n, int64_t now)
{
	struct copy *out = NULL;

	for (size_t i = 0; i < BUCKETS; i++)
		for (struct copy **pp = &n->copies[i]; *pp;) {
			struct copy *c = *pp;

			if (c->until > now) {
				pp = &c->next;
				continue;
			}
			*pp = c->next;
			c->next = out;
			out = c;
		}
	return out;
}

/* One round: the queued jobs, then the expired copies. Lock held on entry
 * and exit, dropped while the kernel is told. */
static void round_locked(struct notify *n)
{
	struct job *q = n->q;
	size_t nq = n->nq;
	bool all = n->all;
	uint64_t upto = n->queued;
	struct copy *old = take_expired(n, fresh_now(n->fresh));

	n->q = NULL;
	n->nq = n->aq = 0;
	n->all = false;
	pthread_mutex_unlock(&n->mu);
	if (all)
		forget_below(n, 0, NOTIFY_FLUSH);
	for (size_t i = 0; !all && i < nq; i++)
		if (q[i].how == NOTIFY_INODE)
			fuse_lowlevel_notify_inval_inode(n->se, q[i].ino, 0, 0);
		else
			forget_below(n, q[i].ino, q[i].how);
	free(q);
	while (old) {
		struct copy *c = old;

		old = c->next;
		fuse_lowlevel_notify_inval_inode(n->se, c->ino, 0, 0);
		free(c);
	}
	pthread_mutex_lock(&n->mu);
	n->done = upto;
	pthread_cond_broadcast(&n->done_cv);
}

static void *notify_thread(void *arg)
{
	struct notify *n = arg;

	pthread_mutex_lock(&n->mu);
	while (!n->stopping) {
		struct timespec at = monotime_after(CLOCK_MONOTONIC, TICK_MS);

		if (n->done == n->queued)
			pthread_cond_timedwait(&n->work, &n->mu, &at);
		if (!n->stopping)
			round_locked(n);
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

int notify_start(struct notify *n, struct fuse_session *se)
{
	int err = 0;

	pthread_mutex_lock(&n->mu);
	n->se = se;
	n->stopping = false;
	if (!n->running)
		err = pthread_create(&n->tid, NULL, notify_thread, n);
	n->running = !err;
	pthread_mutex_unlock(&n->mu);
	return -err;
}

void notify_stop(struct notify *n)
{
	bool join;

	pthread_mutex_lock(&n->mu);
	join = n->running;
	n->running = false;
	n->stopping = true;
	n->done = n->queued; /* nobody waits for work that will not run */
	pthread_cond_broadcast(&n->work);
	pthread_cond_broadcast(&n->done_cv);
	pthread_mutex_unlock(&n->mu);
	if (join)
		pthread_join(n->tid, NULL);
}

uint64_t notify_forget(struct notify *n, uint64_t ino, enum notify_how how)
{
	uint64_t ticket;

	pthread_mutex_lock(&n->mu);
	if (!ino) {
		n->all = true;
	} else {
		if (n->nq == n->aq && n->aq < QUEUE_MAX) {
			size_t want = n->aq ? n->aq * 2 : 16;
			struct job *p = realloc(n->q, want * sizeof(*p));

			if (p) {
				n->q = p;
				n->aq = want;
			}
		}
		if (n->nq < n->aq)
			n->q[n->nq++] = (struct job){.ino = ino, .how = how};
		else
			n->all = true; /* no room: forget more, not less */
	}
	ticket = ++n->queued;
	pthread_cond_signal(&n->work);
	pthread_mutex_unlock(&n->mu);
	return ticket;
}

int notify_wait(struct notify *n, uint64_t ticket, int64_t ms)
{
	struct timespec at = monotime_after(CLOCK_MONOTONIC, ms);
	int err = 0;

	pthread_mutex_lock(&n->mu);
	while (n->done < ticket && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&n->done_cv, &n->mu, &at);
	err = n->done < ticket ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&n->mu);
	return err;
}
