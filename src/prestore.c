/* prestore.c — when to store a directory's tag files in the kernel's page
 * cache ahead of a reader (see prestore.h).
 *
 * The directories read last are a small array searched whole: a READ
 * costs a FUSE round trip, beside which 64 comparisons are nothing, and
 * a directory that falls out only costs its next scan one more READ. The
 * budget is a token bucket of files, refilled at PRESTORE_PER_S; a batch
 * takes its most at once and gives back what it did not store.
 */
#include "prestore.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct seen {
	uint64_t dir, ino; /* dir 0: a free slot */
	int64_t at;	   /* the last READ in dir (of file ino) */
	int64_t child_at;  /* the last scan seen in a directory in dir */
	bool busy;	   /* its batch is queued or running */
	char name[256];	   /* file ino's name */
};

struct prestore {
	pthread_mutex_t mu;
	struct seen dirs[PRESTORE_DIRS];
	size_t tokens;
	int64_t tokens_at;
	bool started;
	struct prestore_stats st;
};

struct prestore *prestore_new(void)
{
	struct prestore *p = calloc(1, sizeof(*p));

	if (p && pthread_mutex_init(&p->mu, NULL)) {
		free(p);
		return NULL;
	}
	if (p)
		p->tokens = PRESTORE_PER_S;
	return p;
}

void prestore_free(struct prestore *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static int64_t last_use(const struct seen *s)
{
	return s->at > s->child_at ? s->at : s->child_at;
}

/* dir's slot, or a slot for it: the free one or the least recently used
 * idle one but keep; NULL when every other slot has a batch in flight.
 * Lock held. */
static struct seen *slot_of(struct prestore *p, uint64_t dir, const struct seen *keep, bool *fresh)
{
	struct seen *old = NULL;

	*fresh = false;
	for (size_t i = 0; i < PRESTORE_DIRS; i++) {
		struct seen *s = &p->dirs[i];

		if (s->dir == dir)
			return s;
		if (s != keep && !s->busy && (!old || !s->dir || (old->dir && last_use(s) < last_use(old))))
			old = s;
	}
	if (old) {
		*old = (struct seen){.dir = dir, .at = INT64_MIN / 2, .child_at = INT64_MIN / 2};
		*fresh = true;
	}
	return old;
}

/* Whether a READ of file ino in dir (whose slot is s) shows a scan: a
 * second file of dir within the window, or the first one while another
 * directory of parent was being scanned (grep -r going from one image
 * to the next: its next batch starts one READ earlier). Lock held. */
static bool is_scan(struct prestore *p, const struct seen *s, uint64_t parent, uint64_t ino, int64_t now)
{
	if (s->busy)
		return false;
	if (s->ino != ino && now - s->at <= PRESTORE_WINDOW_MS)
		return true;
	for (size_t i = 0; i < PRESTORE_DIRS; i++)
		if (p->dirs[i].dir == parent)
			return now - p->dirs[i].child_at <= PRESTORE_WINDOW_MS;
	return false;
}

/* Refills the bucket for the time since it was last looked at. */
static void refill(struct prestore *p, int64_t now)
{
	int64_t dt = p->started ? now - p->tokens_at : 0;

	if (dt > 0) {
		size_t add = dt >= 1000 ? PRESTORE_PER_S : (size_t)dt * PRESTORE_PER_S / 1000;

		p->tokens = p->tokens + add > PRESTORE_PER_S ? PRESTORE_PER_S : p->tokens + add;
	}
	if (dt > 0 || !p->started)
		p->tokens_at = now;
	p->started = true;
}

bool prestore_read(struct prestore *p, uint64_t dir, uint64_t parent, uint64_t ino, const char *name, int64_t now_ms,
		   size_t *max)
{
	struct seen *s, *up;
	bool fresh, scan = false;

	pthread_mutex_lock(&p->mu);
	s = slot_of(p, dir, NULL, &fresh);
	if (s) {
		scan = is_scan(p, s, parent, ino, now_ms);
		s->ino = ino;
		s->at = now_ms;
		snprintf(s->name, sizeof(s->name), "%s", name);
	}
	if (scan) {
		refill(p, now_ms);
		*max = p->tokens < PRESTORE_BATCH ? p->tokens : PRESTORE_BATCH;
		p->tokens -= *max;
		scan = *max > 0;
		s->busy = scan;
		if (!scan)
			p->st.batches_skipped++;
	}
	/* The parent's slot remembers the scan, for its next directory. */
	if (scan && parent != dir && (up = slot_of(p, parent, s, &fresh)))
		up->child_at = now_ms;
	pthread_mutex_unlock(&p->mu);
	return scan;
}

size_t prestore_after(struct prestore *p, uint64_t dir, const char *after, char *out, size_t n)
{
	const char *later = after;

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < PRESTORE_DIRS; i++)
		if (p->dirs[i].dir == dir && p->dirs[i].busy && strcmp(p->dirs[i].name, after) > 0)
			later = p->dirs[i].name;
	snprintf(out, n, "%s", later);
	pthread_mutex_unlock(&p->mu);
	return later == after ? 0 : PRESTORE_LEAD;
}

void prestore_done(struct prestore *p, uint64_t dir, size_t unused, bool queued)
{
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < PRESTORE_DIRS; i++)
		if (p->dirs[i].dir == dir)
			p->dirs[i].busy = false;
	p->tokens = p->tokens + unused > PRESTORE_PER_S ? PRESTORE_PER_S : p->tokens + unused;
	if (queued)
		p->st.batches++;
	else
		p->st.batches_skipped++;
	pthread_mutex_unlock(&p->mu);
}

void prestore_get_stats(struct prestore *p, struct prestore_stats *out)
{
	pthread_mutex_lock(&p->mu);
	*out = p->st;
	pthread_mutex_unlock(&p->mu);
}
