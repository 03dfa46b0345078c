/* bg.h — background work: a bounded queue of (function, key) jobs run by
 * a few worker threads, for prefetching listings and refreshing them
 * before they expire.
 *
 * Jobs are best-effort: when the queue is full a push is refused, and jobs
 * still queued at bg_stop are dropped. Two lanes: urgent jobs (refresh
 * ahead of expiry) run before any other, and a full queue makes room for
 * one by dropping its newest non-urgent job. A job is queued once: pushing
 * the same (fn, arg, key) while it waits adds nothing (urgent moves it to
 * the urgent lane); once it runs it may be queued again. Threads start with
 * bg_start (after the daemon has forked: fork keeps only the calling
 * thread). Thread-safe; the queue has its own lock, a leaf: bg_push and
 * bg_push_urgent may be called with other locks held (the cache calls
 * them under its own), and never call back.
 */
#ifndef IMGTAGFS_BG_H
#define IMGTAGFS_BG_H

#include <stddef.h>

typedef void (*bg_fn)(void *arg, const char *key);

/* A queue of at most cap jobs for threads workers. NULL on -ENOMEM.
 * bg_free(NULL) is a no-op; bg_free stops first. */
struct bg *bg_new(unsigned threads, size_t cap);
void bg_free(struct bg *b);
/* Starts the workers. 0 or -errno (some may have started). */
int bg_start(struct bg *b);
/* Drops what is queued, waits for the jobs running, joins the workers. */
void bg_stop(struct bg *b);
/* Queues fn(arg, key) (key is copied) behind every job queued. 0 (also
 * when that job is queued already), -EAGAIN (full, or stopped), -ENOMEM. */
int bg_push(struct bg *b, bg_fn fn, void *arg, const char *key);
/* The same, ahead of every non-urgent job; on a full queue the newest
 * non-urgent job is dropped to make room. -EAGAIN only when stopped or
 * full of urgent jobs. */
int bg_push_urgent(struct bg *b, bg_fn fn, void *arg, const char *key);
/* Jobs run so far. A window for test_bg (nothing in the daemon reads
 * it): the count lives under the queue's lock, out of the tests' reach. */
unsigned long bg_done(struct bg *b);

#endif
