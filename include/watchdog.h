/* watchdog.h — every FUSE request answered within a deadline, and one
 * thread of the FUSE layer's own for work that must not run inside a
 * request.
 *
 * A request handler registers its request (watchdog_begin) before doing
 * anything that may wait on the network, and asks watchdog_claim before
 * it replies. When the deadline passes first, the watchdog thread answers
 * the request with ETIMEDOUT itself; the handler's claim then fails, it
 * must not reply, and it undoes what its reply would have told the kernel
 * (lookup counts). The work itself goes on (a listing still being fetched
 * is cached when it arrives), so the caller trying again finds it.
 *
 * The thread also calls a tick function at least every tick_ms: the FUSE
 * layer uses it to return memory, to let open directories' old listings
 * go, and to notice the end of the session. (Kernel invalidations are not
 * sent from here: notify.c has a thread of its own for them.)
 * watchdog_kick runs the tick at once; nothing in the daemon calls it
 * today (test_watchdog does).
 *
 * Lock order: the watchdog's mutex is a leaf; tick runs without it.
 * Thread-safe.
 */
#ifndef IMGTAGFS_WATCHDOG_H
#define IMGTAGFS_WATCHDOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct fuse_req;
struct watchdog;

/* One request in flight; lives in the handler's stack frame. */
struct watch_op {
	struct fuse_req *req;
	int64_t due; /* monotonic ms */
	atomic_int state;
	bool linked;
	struct watch_op *prev, *next;
};

typedef void (*watchdog_tick_fn)(void *arg);
/* Answers a request that ran out of time (the seam for tests). */
typedef void (*watchdog_expire_fn)(struct fuse_req *req);

/* deadline_ms 0 = no deadline. expire NULL: fuse_reply_err(req,
 * ETIMEDOUT). NULL on -ENOMEM. */
struct watchdog *watchdog_new(int64_t deadline_ms, int64_t tick_ms, watchdog_tick_fn tick, void *arg,
			      watchdog_expire_fn expire);
/* Stops the thread first. watchdog_free(NULL) is a no-op. */
void watchdog_free(struct watchdog *w);
/* Starts / stops the thread (after fork: fork keeps only its caller).
 * 0 or -errno. */
int watchdog_start(struct watchdog *w);
void watchdog_stop(struct watchdog *w);
/* Wakes the thread to run the tick now. */
void watchdog_kick(struct watchdog *w);

void watchdog_begin(struct watchdog *w, struct watch_op *op, struct fuse_req *req);
/* True: the handler must reply now (exactly once). False: the request was
 * answered with ETIMEDOUT already. Call at most once per op. */
bool watchdog_claim(struct watchdog *w, struct watch_op *op);
/* Unregisters op; call once, after claim, before op goes out of scope. */
void watchdog_end(struct watchdog *w, struct watch_op *op);

/* Requests answered by the watchdog. */
unsigned long watchdog_timeouts(struct watchdog *w);

#endif
