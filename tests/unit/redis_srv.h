/* redis_srv.h — servers for the unit tests of the shared tier (shared.c,
 * tier.c): a real redis-server of the test's own on a unix socket in a
 * mkdtemp directory, and two fakes made here: a socket that takes
 * connections and never answers (a hung server), and one that answers
 * every connection with the same garbage bytes.
 *
 * A redis-server started here never outlives the test binary: it is
 * killed by redis_srv_stop (a group or test teardown), by an atexit
 * handler (a test that exits), and by the kernel when the process dies
 * any other way (PR_SET_PDEATHSIG, for an abort under a sanitizer).
 * Setup and teardown are for the main thread (the one that forks); the
 * fake servers' threads are their own.
 */
#ifndef IMGTAGFS_REDIS_SRV_H
#define IMGTAGFS_REDIS_SRV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define REDIS_SRV_ARGS 40

struct redis_srv {
	pid_t pid;			       /* 0 while not running */
	char dir[64];			       /* the mkdtemp directory, "" once removed */
	char sock[108];			       /* DIR/r.sock */
	const char *extra[REDIS_SRV_ARGS + 1]; /* more arguments, NULL-terminated (borrowed) */
};

/* Whether redis-server is on PATH. When it is not, a test binary prints
 * a SKIP line and exits 0. */
bool redis_srv_available(void);

/* A new directory for sockets, "/tmp/itfs-ut-XXXXXX", into dir (n >= 64).
 * 0 or -errno. */
int redis_srv_tmpdir(char *dir, size_t n);

/* Starts redis-server on DIR/r.sock with extra arguments (NULL or a
 * NULL-terminated list, at most REDIS_SRV_ARGS, kept for a restart),
 * and waits (30 s at most) until it answers. 0 or -errno (its log is
 * printed on failure). */
int redis_srv_start(struct redis_srv *r, const char *const *extra);
/* Kills the server (SIGKILL: as if it crashed) and reaps it; the
 * directory stays. No-op when not running. */
void redis_srv_kill(struct redis_srv *r);
/* Starts it again on the same socket and arguments. 0 or -errno. */
int redis_srv_restart(struct redis_srv *r);
/* SIGSTOP / SIGCONT: a server that hangs with its connections open. */
void redis_srv_pause(struct redis_srv *r, bool paused);
/* Kills it and removes its directory. Idempotent; r may be NULL. */
void redis_srv_stop(struct redis_srv *r);

/* cmocka group fixtures: *state becomes a struct redis_srv_group with
 * its server started (the setup fails when it cannot start); the
 * teardown stops it. */
struct redis_srv_group {
	struct redis_srv redis;
	unsigned seq; /* the tests': a counter */
};

int redis_srv_group_setup(void **state);
int redis_srv_group_teardown(void **state);

/* A fake server on a unix socket in a directory of its own. */
struct fake_srv {
	int fd;
	char dir[64];
	char sock[108];
	const char *reply; /* garbage: written to each connection */
	bool threaded;
	atomic_bool stop;
	pthread_t thread;
	atomic_int accepted;
};

/* Listens and never accepts: a connect succeeds (the kernel's backlog)
 * and nothing ever comes back. 0 or -errno. */
int fake_srv_hung(struct fake_srv *f);
/* Accepts every connection, writes reply to it once, then reads and
 * drops what the client sends until the client closes. 0 or -errno. */
int fake_srv_garbage(struct fake_srv *f, const char *reply);
/* Stops its thread, closes everything, removes the directory. Idempotent. */
void fake_srv_stop(struct fake_srv *f);

#endif
