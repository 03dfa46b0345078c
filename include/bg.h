/* bg.h — background work: a bounded queue of (function, key) jobs run by
 * a few worker threads, for prefetching listings and refreshing them
 * before they expire.
 *
 * Jobs are best-effort: when the queue is full a push is refused, and jobs
 * still queued at bg_stop are dropped. Threads start with bg_start (after
 * the daemon has forked: fork keeps only the calling thread).
 * Thread-safe; the queue has its own lock, a leaf: bg_push may be called
 * with other locks held (the cache calls it under its own).
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
/* Queues fn(arg, key) (key is copied). 0, -EAGAIN (full, or stopped),
 * -ENOMEM. */
int bg_push(struct bg *b, bg_fn fn, void *arg, const char *key);
/* Jobs run so far. */
unsigned long bg_done(struct bg *b);

#endif
