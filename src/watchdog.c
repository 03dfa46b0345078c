/* watchdog.c — per-request deadlines and the FUSE layer's own thread.
 *
 * Every request gets the same deadline, so requests fall due in the
 * order they began: a FIFO list is a priority queue here, and the thread
 * only ever looks at its head. Handlers register on their own stack; a
 * registered op is touched by the thread only under the lock, and the
 * handler unlinks it under the lock before its frame goes, so no op is
 * ever used after return. Who answers is settled by one compare-and-swap
 * on op->state: the handler (DONE) or the thread (TIMED_OUT).
 */
#include "watchdog.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "monotime.h"

enum { OP_PENDING, OP_DONE, OP_TIMED_OUT };

struct watchdog {
	pthread_mutex_t mu; /* guards the list, running, stopping, kicked; a leaf:
			       tick and expire run without it */
	pthread_cond_t cv;  /* a request was added, a kick, or stop */
	struct watch_op *head, *tail;
	int64_t deadline_ms, tick_ms;
	watchdog_tick_fn tick;
	void *arg;
	watchdog_expire_fn expire;
	bool running, stopping, kicked;
	pthread_t tid;
	atomic_ulong timeouts;
};

static int64_t now_ms(void)
{
	return monotime_ms();
}

static void reply_timeout(struct fuse_req *req)
{
	fuse_reply_err(req, ETIMEDOUT);
}

struct watchdog *watchdog_new(int64_t deadline_ms, int64_t tick_ms, watchdog_tick_fn tick, void *arg,
			      watchdog_expire_fn expire)
{
	struct watchdog *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;

	if (!w)
		return NULL;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&w->mu, NULL) || pthread_cond_init(&w->cv, &ca)) {
		pthread_condattr_destroy(&ca);
		free(w);
		return NULL;
	}
	pthread_condattr_destroy(&ca);
	w->deadline_ms = deadline_ms;
	w->tick_ms = tick_ms > 0 ? tick_ms : 1000;
	w->tick = tick;
	w->arg = arg;
	w->expire = expire ? expire : reply_timeout;
	return w;
}

void watchdog_free(struct watchdog *w)
{
	if (!w)
		return;
	watchdog_stop(w);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

static void unlink_op(struct watchdog *w, struct watch_op *op)
{
	if (!op->linked)
		return;
	if (op->prev)
		op->prev->next = op->next;
	else
		w->head = op->next;
	if (op->next)
		op->next->prev = op->prev;
	else
		w->tail = op->prev;
	op->prev = op->next = NULL;
	op->linked = false;
}

/* Takes the first op past its deadline off the list and claims it for
 * the thread: its request, or NULL. Lock held. */
static struct fuse_req *take_due(struct watchdog *w, int64_t now)
{
	while (w->head && w->head->due <= now) {
		struct watch_op *op = w->head;
		int pending = OP_PENDING;

		unlink_op(w, op);
		if (atomic_compare_exchange_strong(&op->state, &pending, OP_TIMED_OUT))
			return op->req;
	}
	return NULL;
}

static void wait_until(struct watchdog *w, int64_t at)
{
	struct timespec ts = monotime_after(CLOCK_MONOTONIC, at - now_ms());

	pthread_cond_timedwait(&w->cv, &w->mu, &ts);
}

static void *watch_thread(void *arg)
{
	struct watchdog *w = arg;
	int64_t next_tick = now_ms() + w->tick_ms;

	pthread_mutex_lock(&w->mu);
	while (!w->stopping) {
		int64_t now = now_ms(), at = next_tick;
		struct fuse_req *req = take_due(w, now);

		if (req) {
			/* The reply goes out unlocked; the handler will not
			 * touch req: it lost the claim. */
			pthread_mutex_unlock(&w->mu);
			atomic_fetch_add(&w->timeouts, 1);
			w->expire(req);
			pthread_mutex_lock(&w->mu);
			continue;
		}
		if (w->kicked || now >= next_tick) {
			w->kicked = false;
			next_tick = now + w->tick_ms;
			pthread_mutex_unlock(&w->mu);
			if (w->tick)
				w->tick(w->arg);
			pthread_mutex_lock(&w->mu);
			continue;
		}
		if (w->head && w->head->due < at)
			at = w->head->due;
		wait_until(w, at);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int watchdog_start(struct watchdog *w)
{
	int err;

	pthread_mutex_lock(&w->mu);
	w->stopping = false;
	err = w->running ? 0 : pthread_create(&w->tid, NULL, watch_thread, w);
	if (!err)
		w->running = true;
	pthread_mutex_unlock(&w->mu);
	return -err;
}

void watchdog_stop(struct watchdog *w)
{
	bool join;

	pthread_mutex_lock(&w->mu);
	join = w->running;
	w->stopping = true;
	w->running = false;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (join)
		pthread_join(w->tid, NULL);
}

void watchdog_kick(struct watchdog *w)
{
	pthread_mutex_lock(&w->mu);
	w->kicked = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void watchdog_begin(struct watchdog *w, struct watch_op *op, struct fuse_req *req)
{
	op->req = req;
	op->prev = op->next = NULL;
	op->linked = false;
	atomic_init(&op->state, OP_PENDING);
	if (!w || w->deadline_ms <= 0)
		return;
	op->due = now_ms() + w->deadline_ms;
	pthread_mutex_lock(&w->mu);
	op->prev = w->tail;
	if (w->tail)
		w->tail->next = op;
	else
		w->head = op;
	w->tail = op;
	op->linked = true;
	/* Only the first op can move the thread's next wake-up earlier. */
	if (w->head == op)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

bool watchdog_claim(struct watchdog *w, struct watch_op *op)
{
	int pending = OP_PENDING;

	(void)w;
	return atomic_compare_exchange_strong(&op->state, &pending, OP_DONE);
}

void watchdog_end(struct watchdog *w, struct watch_op *op)
{
	if (!w || w->deadline_ms <= 0)
		return;
	pthread_mutex_lock(&w->mu);
	unlink_op(w, op);
	pthread_mutex_unlock(&w->mu);
}

unsigned long watchdog_timeouts(struct watchdog *w)
{
	return w ? atomic_load(&w->timeouts) : 0;
}
