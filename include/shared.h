/* shared.h — the Redis client of the shared tier: a few commands, each
 * bounded in time and in the size of its reply, over a small pool of
 * connections, with one subscriber connection on its own thread. The only
 * hiredis user.
 *
 * Redis is a helper, never a dependency of an answer: every operation
 * either completes within cfg.timeout_ms or fails with -errno, and while
 * Redis is unreachable (refused, hung, refusing AUTH) the client is "down":
 * operations fail at once, without touching the network, and one of them
 * tries to reconnect after a backoff (100 ms doubling to 5 s). Each
 * change between up and down is logged once.
 *
 * The client also keeps the fleet's clock: Redis's TIME, read at each
 * connect, as an offset from the local clock (cfg.clock), so that hosts
 * whose clocks disagree still agree on how old a shared listing is.
 *
 * Thread-safe. Lock order: a pool connection's lock, then the state lock.
 */
#ifndef IMGTAGFS_SHARED_H
#define IMGTAGFS_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "log.h"

#define SHARED_HOST_MAX 256
#define SHARED_PATH_MAX 108 /* sun_path */

/* Where Redis is: redis://HOST[:PORT][/DB] or unix:PATH (also unix://PATH). */
struct shared_addr {
	char host[SHARED_HOST_MAX]; /* "" for a unix socket */
	int port;
	int db;
	char path[SHARED_PATH_MAX]; /* the socket, or "" */
};

/* Parses url into a. 0, or -EINVAL with a one-line message in why: a
 * password in the URL is refused and the message says where it goes
 * (shared_cache_auth=FILE); so is TLS (rediss://), which this hiredis
 * lacks. Pure. */
int shared_addr_parse(const char *url, struct shared_addr *a, char *why, size_t n);
/* "redis://HOST:PORT/DB" or "unix:PATH" (never a password), for messages. */
void shared_addr_text(const struct shared_addr *a, char *out, size_t n);

typedef int64_t (*shared_clock_fn)(void *arg);

struct shared_config {
	struct shared_addr addr;
	const char *user;      /* AUTH user, or NULL (the default user) */
	const char *password;  /* AUTH password, or NULL: copied, wiped on free */
	int64_t timeout_ms;    /* bound of each operation, connect included */
	size_t max_reply;      /* the largest reply read (bigger: -EFBIG) */
	shared_clock_fn clock; /* local monotonic ms, NULL = CLOCK_MONOTONIC */
	void *clock_arg;
	struct log *log;
};

/* Connects nothing yet. NULL on -ENOMEM. shared_free(NULL) is a no-op
 * (it stops the subscriber first). */
struct shared *shared_new(const struct shared_config *cfg);
void shared_free(struct shared *s);

/* Connects now (AUTH, SELECT, TIME), for the mount-time check: 0, or
 * -ECONNREFUSED / -ETIMEDOUT / -EACCES (AUTH refused) / -EPROTO, with a
 * one-line message in why. */
int shared_check(struct shared *s, char *why, size_t n);

/* The value of key into out (replacing its contents; its cap and
 * cfg.max_reply bound it, and bound what the reply may buffer while it is
 * read: a bigger value is refused with -EFBIG after about that many
 * bytes, whatever its size): 0, -ENOENT (no such key), or an error below. */
int shared_get(struct shared *s, const char *key, struct buf *out);
/* GETRANGE: len bytes of key's value from start into out (fewer where
 * the value ends; none for a missing key), bounded as shared_get. 0 or
 * an error below. */
int shared_get_range(struct shared *s, const char *key, size_t start, size_t len, struct buf *out);
/* SET key value PX px_ms. */
int shared_set(struct shared *s, const char *key, const void *v, size_t n, int64_t px_ms);
/* SET key token NX PX px_ms: 0 when taken, -EEXIST when someone holds it.
 * Sent twice when a pooled connection was lost before its answer, a
 * second SET that finds token already there answers 0: it was ours. */
int shared_lock(struct shared *s, const char *key, const char *token, int64_t px_ms);
/* Only while key holds token: shared_relock sets it to new_token (NULL:
 * token again) with a life of px_ms, shared_unlock deletes it. Atomic
 * without a script: WATCH, GET, and MULTI ... EXEC, which Redis runs only
 * if nobody touched key in between (an ACL can confine these commands to
 * the fleet's keys; it cannot confine what EVAL runs). 0, -ENOENT when key
 * no longer holds token (or was touched meanwhile). */
int shared_relock(struct shared *s, const char *key, const char *token, const char *new_token, int64_t px_ms);
int shared_unlock(struct shared *s, const char *key, const char *token);
/* key's value into value (bounded as shared_get) and its time to live in
 * *pttl_ms (-1: no expiry), read at one instant (MULTI GET PTTL EXEC): 0,
 * -ENOENT when there is no such key, or an error below. */
int shared_lock_peek(struct shared *s, const char *key, struct buf *value, int64_t *pttl_ms);
/* PUBLISH channel msg. */
int shared_publish(struct shared *s, const char *channel, const void *msg, size_t n);
/* Errors of the above: -ENOTCONN (down, backing off), -ETIMEDOUT,
 * -ECONNRESET (connection lost), -EACCES (AUTH), -EFBIG (reply too big),
 * -EPROTO (a reply of the wrong type: garbage), -EPERM (a command the
 * user's ACL does not allow: Redis is not marked down, and the first such
 * refusal is logged once, naming the command), -EIO (an error reply,
 * such as OOM under maxmemory). */

/* The commands this client sends, as an ACL line grants them: what the
 * fleet's Redis user needs, and all it needs: no +eval (locks are checked
 * with WATCH/MULTI/EXEC), and +select only when the address names a
 * database other than 0 (SELECT is sent only then). Pure. */
const char *shared_acl_commands(const struct shared_addr *a);

/* The fleet's clock (Redis's, in ms), now: 0 or -ENOTCONN while it was
 * never read. */
int shared_now(struct shared *s, int64_t *now_ms);
/* Converting between the local clock and the fleet's (the last offset
 * read; 0 before any). */
int64_t shared_offset(struct shared *s);

bool shared_up(struct shared *s);
uint64_t shared_errors(struct shared *s);

/* Called on the subscriber's thread for each message on the channel.
 * on_gap is called when the subscription resumes after being lost
 * (messages may have been missed meanwhile). */
typedef void (*shared_msg_fn)(void *arg, const void *msg, size_t n);
typedef void (*shared_gap_fn)(void *arg);
/* Starts the subscriber thread (call it after daemonizing); it keeps
 * subscribed, reconnecting with the backoff, and pings every second so
 * that a hung server is noticed. 0 or -errno. */
int shared_subscribe(struct shared *s, const char *channel, shared_msg_fn on_msg, shared_gap_fn on_gap, void *arg);
/* Stops it (within about 250 ms). No-op when not started. */
void shared_unsubscribe(struct shared *s);

#endif
