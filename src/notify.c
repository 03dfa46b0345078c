/* notify.c — the kernel's directory copies and the thread that tells the
 * kernel what to forget (notify.h).
 *
 * The thread wakes for queued work, and every TICK_MS to drop copies whose
 * listing expired. Work is FIFO with one ticket counter: a caller waiting
 * for ticket T is done when the thread has finished every job up to T.
 * Copies are few (one per directory the kernel has read), so a chained
 * hash table scanned whole each tick is enough. Store batches wait in a
 * small ring of their own and run one at a time, each after the jobs
 * queued before it, so that invalidations are never held up by more
 * than one batch.
 */
#include "notify.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
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

struct store_job {
	uint64_t dir;
	char *after;
	size_t max;
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
	struct notify_files files;   /* set before the thread starts */
	struct notify_kernel kernel; /* libfuse's, or a test's */
	struct store_job stores[NOTIFY_STORE_QUEUE];
	size_t store_head, nstores;
	_Atomic uint64_t stored, skipped, dropped;
};

/* ---- the kernel, through libfuse (the only caller of its notify calls) ------ */

static int fuse_inval_entry(void *arg, uint64_t parent, const char *name)
{
	struct notify *n = arg;

	return fuse_lowlevel_notify_inval_entry(n->se, parent, name, strlen(name));
}

static int fuse_inval_inode(void *arg, uint64_t ino)
{
	struct notify *n = arg;

	return fuse_lowlevel_notify_inval_inode(n->se, ino, 0, 0);
}

static int fuse_store(void *arg, uint64_t ino, const char *bytes, size_t len)
{
	struct notify *n = arg;
	struct fuse_bufvec v = FUSE_BUFVEC_INIT(len);

	v.buf[0].mem = (void *)bytes;
	return fuse_lowlevel_notify_store(n->se, ino, 0, &v, 0);
}

static void inval_entry(struct notify *n, uint64_t parent, const char *name)
{
	n->kernel.inval_entry(n->kernel.arg, parent, name);
}

static void inval_inode(struct notify *n, uint64_t ino)
{
	n->kernel.inval_inode(n->kernel.arg, ino);
}

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
	n->kernel = (struct notify_kernel){
	    .inval_entry = fuse_inval_entry, .inval_inode = fuse_inval_inode, .store = fuse_store, .arg = n};
	return n;
}

void notify_set_kernel(struct notify *n, const struct notify_kernel *k)
{
	n->kernel = *k;
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

	inval_entry(n, it->parent, name);
	inval_inode(n, it->ino);
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
		inval_inode(n, l->v[i].ino);
		if (l->v[i].dir)
			notify_copy_gone(n, l->v[i].ino);
		return;
	}
	forget_item(n, l, i);
}

/* A flush below top: the names right below it go, and with each the
 * kernel drops what lies below it (every name, and every inode nothing
 * else holds, pages and all); then every inode listed loses its
 * attributes and pages: those still in use (an open file, a shell's cwd)
 * have them dropped, the others are mostly gone by then, which the kernel
 * answers at once. Two notifications a name would make a flush of a
 * million names take seconds more. */
static void flush_items(struct notify *n, const struct inode_list *l, uint64_t top)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].parent == top)
			inval_entry(n, top, l->names + l->v[i].name_off);
	for (size_t i = 0; i < l->n; i++) {
		inval_inode(n, l->v[i].ino);
		if (l->v[i].dir)
			notify_copy_gone(n, l->v[i].ino);
	}
}

static void forget_below(struct notify *n, uint64_t ino, enum notify_how how)
{
	struct inode_list l;

	/* A refresh reaches every depth: a nested image directory two levels
	 * down (or a shell's cwd in it) must not keep its attributes. */
	if (inode_list_get(n->inodes, ino, how == NOTIFY_FLUSH, &l) == 0) {
		if (how == NOTIFY_FLUSH)
			flush_items(n, &l, ino ? ino : INODE_ROOT);
		else
			for (size_t i = 0; i < l.n; i++)
				forget_changed_item(n, &l, i);
		inode_list_release(&l);
	}
	inval_inode(n, ino ? ino : INODE_ROOT);
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
			inval_inode(n, q[i].ino);
		else
			forget_below(n, q[i].ino, q[i].how);
	free(q);
	while (old) {
		struct copy *c = old;

		old = c->next;
		inval_inode(n, c->ino);
		free(c);
	}
	pthread_mutex_lock(&n->mu);
	n->done = upto;
	pthread_cond_broadcast(&n->done_cv);
}

/* ---- storing tag files (the thread, unlocked) ------------------------------ */

/* One batch being stored: the inodes stored, to take back if need be,
 * and the last file met, where the next chunk goes on. */
struct batch {
	struct notify *n;
	uint64_t dir;
	uint64_t *inos;
	size_t count, seen;
	uint64_t first, stamp; /* the listing of the first chunk, and this one's */
	bool changed;	       /* they differ */
	char last[256];
};

static int store_file(void *arg, const char *name, const char *bytes, size_t len)
{
	struct batch *b = arg;
	uint64_t ino;
	size_t n = strnlen(name, sizeof(b->last) - 1);

	if (b->first && b->stamp != b->first) {
		b->changed = true;
		return 1; /* another listing: nothing more from this batch */
	}
	b->seen++;
	memcpy(b->last, name, n);
	b->last[n] = '\0';
	/* Only an inode the kernel holds can take pages (and a name the
	 * kernel never looked up costs nothing to leave alone). */
	if (inode_find(b->n->inodes, b->dir, name, false, &ino) != 0 ||
	    b->n->kernel.store(b->n->kernel.arg, ino, bytes, len) != 0) {
		atomic_fetch_add(&b->n->skipped, 1);
		return 0;
	}
	b->inos[b->count++] = ino;
	return 0;
}

/* Whether invalidations wait behind the batch running. */
static bool jobs_waiting(struct notify *n)
{
	bool waiting;

	pthread_mutex_lock(&n->mu);
	waiting = n->done != n->queued || n->stopping;
	pthread_mutex_unlock(&n->mu);
	return waiting;
}

/* Stores the files of job chunk by chunk, each from the listing cached
 * then, going on after the last file met (or after what the reader read
 * meanwhile: the source skips that). A batch ends early when
 * invalidations are queued (a request may be waiting for them: settle,
 * a refresh): they wait one chunk at most, and the reader's next read
 * starts the next batch. False when the listing changed between chunks
 * (or went): what was stored must be taken back. */
static bool store_chunks(struct notify *n, const struct store_job *job, const char *path, struct batch *b)
{
	struct notify_chunk c = {.dir = job->dir, .path = path, .after = b->last};

	snprintf(b->last, sizeof(b->last), "%s", job->after);
	while (b->seen < job->max) {
		size_t before = b->seen;

		c.max = job->max - b->seen < NOTIFY_STORE_CHUNK ? job->max - b->seen : NOTIFY_STORE_CHUNK;
		if (n->files.list(n->files.arg, &c, store_file, b, &b->stamp) != 0)
			return !b->first;
		if (b->changed || (b->first && b->stamp != b->first))
			return false;
		b->first = b->stamp;
		if (b->seen == before || jobs_waiting(n))
			break; /* the directory's end, or the kernel to tell first */
	}
	return !b->count || n->files.stamp(n->files.arg, path) == b->first;
}

/* Stores job's files; when the listing they came from was replaced while
 * they were stored, takes them back (see notify.h). Returns how many of
 * job->max were not stored. */
static size_t store_batch(struct notify *n, const struct store_job *job)
{
	struct batch b = {.n = n, .dir = job->dir, .inos = malloc(job->max * sizeof(uint64_t))};
	char path[PATH_MAX];
	bool dir = false;

	if (b.inos && inode_path(n->inodes, job->dir, path, sizeof(path), &dir) == 0 && dir &&
	    !store_chunks(n, job, path, &b)) {
		for (size_t i = 0; i < b.count; i++)
			inval_inode(n, b.inos[i]);
		atomic_fetch_add(&n->dropped, b.count);
		b.count = 0;
	}
	atomic_fetch_add(&n->stored, b.count);
	free(b.inos);
	return job->max - b.count;
}

/* Takes the oldest batch off the queue. Lock held. */
static bool pop_store(struct notify *n, struct store_job *job)
{
	if (!n->nstores)
		return false;
	*job = n->stores[n->store_head];
	n->store_head = (n->store_head + 1) % NOTIFY_STORE_QUEUE;
	n->nstores--;
	return true;
}

/* Runs the oldest batch. Lock held on entry and exit, dropped meanwhile. */
static void store_locked(struct notify *n)
{
	struct store_job job;
	size_t unused;

	if (!pop_store(n, &job))
		return;
	pthread_mutex_unlock(&n->mu);
	unused = store_batch(n, &job);
	n->files.done(n->files.arg, job.dir, unused);
	free(job.after);
	pthread_mutex_lock(&n->mu);
}

static void *notify_thread(void *arg)
{
	struct notify *n = arg;

	pthread_mutex_lock(&n->mu);
	while (!n->stopping) {
		struct timespec at = monotime_after(CLOCK_MONOTONIC, TICK_MS);

		if (n->done == n->queued && !n->nstores)
			pthread_cond_timedwait(&n->work, &n->mu, &at);
		if (!n->stopping)
			round_locked(n);
		/* Invalidations first: a batch runs when none is queued. */
		if (!n->stopping && n->nstores && n->done == n->queued)
			store_locked(n);
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
	/* Batches that will not run are over too (no room is held for them). */
	for (;;) {
		struct store_job job;
		bool got;

		pthread_mutex_lock(&n->mu);
		got = pop_store(n, &job);
		pthread_mutex_unlock(&n->mu);
		if (!got)
			return;
		n->files.done(n->files.arg, job.dir, job.max);
		free(job.after);
	}
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

void notify_set_files(struct notify *n, const struct notify_files *f)
{
	n->files = *f;
}

int notify_store(struct notify *n, uint64_t dir, const char *after, size_t max)
{
	char *copy;
	int err = 0;

	if (!n->files.list || !max)
		return -EAGAIN;
	if (!(copy = strdup(after)))
		return -ENOMEM;
	pthread_mutex_lock(&n->mu);
	if (n->nstores == NOTIFY_STORE_QUEUE || !n->running) {
		err = -EAGAIN;
	} else {
		n->stores[(n->store_head + n->nstores++) % NOTIFY_STORE_QUEUE] =
		    (struct store_job){.dir = dir, .after = copy, .max = max};
		pthread_cond_signal(&n->work);
	}
	pthread_mutex_unlock(&n->mu);
	if (err)
		free(copy);
	return err;
}

void notify_get_stats(struct notify *n, struct notify_stats *out)
{
	out->stored = atomic_load(&n->stored);
	out->skipped = atomic_load(&n->skipped);
	out->dropped = atomic_load(&n->dropped);
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
