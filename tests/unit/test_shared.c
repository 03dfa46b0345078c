/* test_shared.c — the shared tier's Redis client against a real
 * redis-server of its own (redis_srv.h: a unix socket in a mkdtemp
 * directory, killed at the end however the binary ends), and against
 * two fakes: a socket that never answers and one that answers garbage.
 *
 * Covered: URLs (good, bad, passwords never echoed), GET/SET with PX,
 * SELECT, locks without scripts (NX, a foreign token's unlock and relock
 * do nothing, relock extends or hands the lock to a new token, a lock
 * whose answer was lost is ours, a lock's value and time to live read at
 * one instant), GETRANGE, the reply cap (a value over it is -EFBIG, the
 * client goes on), a command the ACL refuses (-EPERM, logged once, not
 * down), AUTH (right, wrong, missing: -EACCES, the password in no
 * message and no log line), down and up (fast failure while down,
 * counted in shared_errors rather than timed; one log line per change;
 * back by itself within the backoff), a hung server and a paused Redis
 * (every operation bounded by the timeout), garbage (-EPROTO, never a
 * crash), the fleet clock, and the subscriber (messages, on_gap after a
 * restart or a hang, prompt unsubscribe).
 *
 * Time: Redis's clock and its key expiry are real, so this client's are
 * too; a test waits for an event (an operation's answer, a message, a
 * key gone), up to WAIT_MS, never a fixed time before asserting. A bound
 * on an operation's duration sits between what it tells apart, far from
 * both: an operation against a hung server takes its timeout (1 s here),
 * and a bound of 1.9 s still fails one that waited for a connection and
 * then a timeout of its own; a reconnect comes within the backoff that
 * the failures counted so far imply (100 ms doubling to 5 s), plus a
 * second.
 * Without redis-server the binary prints a SKIP line and exits 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "monotime.h"
#include "redis_srv.h"
#include "shared.h"

#define TIMEOUT_MS 5000	     /* no operation against a healthy Redis times out, however loaded the machine */
#define HUNG_TIMEOUT_MS 1000 /* clients whose operations are timed */
#define HUNG_BOUND_MS (2 * HUNG_TIMEOUT_MS - 100) /* one deadline, not two */
#define BACKOFF_MIN_MS 100			  /* shared.c's */
#define BACKOFF_MAX_MS 5000
#define SLACK_MS 1000 /* a reconnect after its backoff, on a loaded machine */
#define WAIT_MS 30000 /* the longest wait for an event */
#define PASSWORD "s3cret-Pw-4711"
#define WRONG_PW "wr0ng-Pw-0815"
#define MSG_MAX 16

/* What the subscriber heard. */
struct heard {
	pthread_mutex_t mu;
	char msg[MSG_MAX][64];
	size_t len[MSG_MAX];
	int n, gaps;
	int marks; /* "mark" messages, stored or not */
};

/* One test's things, freed by its teardown whether it passed or not. */
struct fx {
	struct redis_srv_group *g;
	int64_t timeout_ms;   /* of the clients made by client_of */
	struct redis_srv own; /* a server of this test's own, to restart or pause */
	struct fake_srv fake;
	struct shared *sh[3];
	struct log *log;
	struct heard heard; /* what f->sh[1]'s subscriber heard */
	int saved_stderr;   /* while stderr is captured, else -1 */
	char capfile[64];
};

static int64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* ---- what a subscriber heard ----------------------------------------------------- */

static void heard_init(struct heard *h)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
}

static void heard_release(struct heard *h)
{
	pthread_mutex_destroy(&h->mu);
}

static void on_msg(void *arg, const void *msg, size_t n)
{
	struct heard *h = arg;

	pthread_mutex_lock(&h->mu);
	h->marks += n == 4 && memcmp(msg, "mark", 4) == 0;
	if (h->n < MSG_MAX && n <= sizeof(h->msg[0])) {
		memcpy(h->msg[h->n], msg, n);
		h->len[h->n++] = n;
	}
	pthread_mutex_unlock(&h->mu);
}

static void on_gap(void *arg)
{
	struct heard *h = arg;

	pthread_mutex_lock(&h->mu);
	h->gaps++;
	pthread_mutex_unlock(&h->mu);
}

/* Waits until at least n_msgs messages and gaps gaps were heard. */
static bool wait_for(struct heard *h, int n_msgs, int gaps, int64_t limit)
{
	int64_t until = monotime_ms() + limit;
	bool ok;

	pthread_mutex_lock(&h->mu);
	while (!(ok = h->n >= n_msgs && h->gaps >= gaps) && monotime_ms() < until) {
		pthread_mutex_unlock(&h->mu);
		sleep_ms(5);
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return ok;
}

static int heard_count(struct heard *h)
{
	int n;

	pthread_mutex_lock(&h->mu);
	n = h->n;
	pthread_mutex_unlock(&h->mu);
	return n;
}

static int marks_heard(struct heard *h)
{
	int n;

	pthread_mutex_lock(&h->mu);
	n = h->marks;
	pthread_mutex_unlock(&h->mu);
	return n;
}

/* Publishes "sync" until the subscriber hears it (it subscribes on its
 * own thread), then "mark": once that is heard, no sync is still on its
 * way (Redis delivers one client's messages in order). Then forgets what
 * it heard. */
static void sync_sub(struct shared *pub, struct heard *h, const char *chan)
{
	int64_t t0 = monotime_ms();
	int marks = marks_heard(h);

	pthread_mutex_lock(&h->mu);
	h->n = 0; /* what came before says nothing of this subscription */
	pthread_mutex_unlock(&h->mu);
	while (heard_count(h) == 0 && monotime_ms() - t0 < WAIT_MS) {
		shared_publish(pub, chan, "sync", 4);
		wait_for(h, 1, 0, 50);
	}
	assert_true(heard_count(h) > 0);
	assert_int_equal(shared_publish(pub, chan, "mark", 4), 0);
	for (t0 = monotime_ms(); marks_heard(h) == marks && monotime_ms() - t0 < WAIT_MS;)
		sleep_ms(2);
	assert_int_equal(marks_heard(h), marks + 1);
	pthread_mutex_lock(&h->mu);
	h->n = 0;
	pthread_mutex_unlock(&h->mu);
}

/* ---- the log, read back ---------------------------------------------------------- */

/* stderr (where the log writes) into a file, to read the log back. */
static void capture_begin(struct fx *f)
{
	int fd;

	snprintf(f->capfile, sizeof(f->capfile), "/tmp/itfs-ut-log-XXXXXX");
	fd = mkstemp(f->capfile);
	assert_true(fd >= 0);
	f->saved_stderr = dup(STDERR_FILENO);
	assert_true(f->saved_stderr >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
	if (!f->log)
		f->log = log_new("imgtagfs", false);
	assert_non_null(f->log);
}

/* Restores stderr; what was written meanwhile goes into out. */
static void capture_end(struct fx *f, char *out, size_t n)
{
	FILE *in;
	size_t got = 0;

	out[0] = '\0';
	if (f->saved_stderr < 0)
		return;
	dup2(f->saved_stderr, STDERR_FILENO);
	close(f->saved_stderr);
	f->saved_stderr = -1;
	in = fopen(f->capfile, "r");
	if (in) {
		got = fread(out, 1, n - 1, in);
		fclose(in);
	}
	out[got] = '\0';
	unlink(f->capfile);
}

/* ---- fixtures -------------------------------------------------------------- */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->g = *state;
	f->timeout_ms = TIMEOUT_MS;
	f->saved_stderr = -1;
	heard_init(&f->heard);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char junk[1];

	capture_end(f, junk, sizeof(junk));
	for (int i = 0; i < 3; i++)
		shared_free(f->sh[i]);
	heard_release(&f->heard);
	log_free(f->log);
	redis_srv_stop(&f->own);
	fake_srv_stop(&f->fake);
	free(f);
	return 0;
}

/* A client of the Redis at path (a unix socket), with a log when log is set. */
static struct shared *client_of(struct fx *f, int i, const char *path, const char *user, const char *password,
				size_t max_reply)
{
	struct shared_config c = {
	    .user = user,
	    .password = password,
	    .timeout_ms = f->timeout_ms,
	    .max_reply = max_reply ? max_reply : 1u << 20,
	    .log = f->log,
	};

	snprintf(c.addr.path, sizeof(c.addr.path), "%s", path);
	f->sh[i] = shared_new(&c);
	assert_non_null(f->sh[i]);
	return f->sh[i];
}

static struct shared *client(struct fx *f, int i)
{
	return client_of(f, i, f->g->redis.sock, NULL, NULL, 0);
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* ---- addresses ----------------------------------------------------------------- */

static void parses(const char *url, const char *host, int port, int db, const char *path)
{
	struct shared_addr a;
	char why[256] = "";

	assert_int_equal(shared_addr_parse(url, &a, why, sizeof(why)), 0);
	assert_string_equal(a.host, host);
	assert_int_equal(a.port, port);
	assert_int_equal(a.db, db);
	assert_string_equal(a.path, path);
}

static void test_addr_good(void **state)
{
	(void)state;
	parses("redis://h", "h", 6379, 0, "");
	parses("redis://h/", "h", 6379, 0, "");
	parses("redis://h:1234/3", "h", 1234, 3, "");
	parses("redis://redis.example.net:65535/15", "redis.example.net", 65535, 15, "");
	parses("redis://[::1]:6380/1", "::1", 6380, 1, "");
	parses("redis://[fe80::1]", "fe80::1", 6379, 0, "");
	parses("unix:/x", "", 6379, 0, "/x");
	parses("unix:///x", "", 6379, 0, "/x");
	parses("unix:/run/redis/redis-server.sock", "", 6379, 0, "/run/redis/redis-server.sock");
}

/* url is refused with a message that mentions want and never hides. */
static void refused(const char *url, const char *want, const char *secret)
{
	struct shared_addr a;
	char why[512] = "";

	assert_int_equal(shared_addr_parse(url, &a, why, sizeof(why)), -EINVAL);
	if (!strstr(why, want))
		fail_msg("%s: \"%s\" lacks \"%s\"", url, why, want);
	if (secret && strstr(why, secret))
		fail_msg("%s: the message repeats the secret: %s", url, why);
	assert_null(strchr(why, '\n'));
}

static void test_addr_bad(void **state)
{
	(void)state;
	refused("redis://user:s3cretpw@h:6379/0", "shared_cache_auth", "s3cretpw");
	refused("redis://:s3cretpw@h", "shared_cache_auth", "s3cretpw");
	refused("redis://alice@h/1", "shared_cache_auth", "alice");
	/* A password with a '/' (or '@') in it is still a password. */
	refused("redis://u:pa/ss@h", "shared_cache_auth", "pa/ss");
	refused("redis://u:p@ss@h:6379", "shared_cache_auth", "p@ss");
	refused("rediss://h:6379", "TLS", NULL);
	refused("rediss://u:s3cretpw@h", "shared_cache_auth", "s3cretpw");
	refused("http://h", "expected redis://", NULL);
	refused("http://u:s3cretpw@h", "shared_cache_auth", "s3cretpw");
	refused("", "expected redis://", NULL);
	refused("redis://h:0", "port", NULL);
	refused("redis://h:70000", "port", NULL);
	refused("redis://h:", "port", NULL);
	refused("redis://h:12a", "port", NULL);
	refused("redis://h:-1", "port", NULL);
	refused("redis://h/x", "database", NULL);
	refused("redis://h/1/2", "database", NULL);
	refused("redis://h/-1", "database", NULL);
	refused("redis://", "host", NULL);
	refused("redis://:6379", "host", NULL);
	refused("redis://[::1", "']'", NULL);
	refused("redis://[::1]x", "junk", NULL);
	refused("redis://h?db=1", "query", NULL);
	refused("unix:relative.sock", "absolute", NULL);
	refused("unix:", "absolute", NULL);
	refused("unix://relative.sock", "absolute", NULL);
}

static void test_addr_text(void **state)
{
	struct shared_addr a;
	char why[256], text[512];

	(void)state;
	assert_int_equal(shared_addr_parse("redis://h", &a, why, sizeof(why)), 0);
	shared_addr_text(&a, text, sizeof(text));
	assert_string_equal(text, "redis://h:6379/0");
	assert_int_equal(shared_addr_parse("redis://[::1]:6380/1", &a, why, sizeof(why)), 0);
	shared_addr_text(&a, text, sizeof(text));
	assert_string_equal(text, "redis://[::1]:6380/1");
	assert_int_equal(shared_addr_parse("unix:///run/r.sock", &a, why, sizeof(why)), 0);
	shared_addr_text(&a, text, sizeof(text));
	assert_string_equal(text, "unix:/run/r.sock");
	/* A refused URL with a password leaves nothing to show it. */
	shared_addr_parse("redis://u:s3cretpw@h", &a, why, sizeof(why));
	shared_addr_text(&a, text, sizeof(text));
	assert_null(strstr(text, "s3cretpw"));
}

/* ---- commands ------------------------------------------------------------------ */

/* Until key is gone (its PX ran out; WAIT_MS at most): the time since t0. */
static int64_t gone_after(struct shared *s, const char *key, int64_t t0)
{
	struct buf b;
	int err;

	buf_init(&b, 4096);
	while ((err = shared_get(s, key, &b)) == 0 && monotime_ms() - t0 < WAIT_MS)
		sleep_ms(10);
	buf_release(&b);
	assert_int_equal(err, -ENOENT);
	return monotime_ms() - t0;
}

/* Until key can be locked with token (its last holder's PX ran out). */
static int64_t free_after(struct shared *s, const char *key, const char *token, int64_t px, int64_t t0)
{
	int err;

	while ((err = shared_lock(s, key, token, px)) == -EEXIST && monotime_ms() - t0 < WAIT_MS)
		sleep_ms(10);
	assert_int_equal(err, 0);
	return monotime_ms() - t0;
}

static void test_get_set(void **state)
{
	struct fx *f = *state;
	struct shared *s = client(f, 0);
	struct buf b;
	static const char bin[] = {'a', 0, 'b', (char)0xff, '\r', '\n'};
	int64_t t0;

	buf_init(&b, 1u << 20);
	assert_int_equal(shared_get(s, "t:getset:missing", &b), -ENOENT);
	assert_int_equal(b.len, 0);
	assert_int_equal(shared_set(s, "t:getset", "v1", 2, 60000), 0);
	assert_int_equal(shared_get(s, "t:getset", &b), 0);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "v1", 2);
	/* Binary values, and out replaced, not appended to. */
	assert_int_equal(shared_set(s, "t:getset", bin, sizeof(bin), 60000), 0);
	assert_int_equal(shared_get(s, "t:getset", &b), 0);
	assert_int_equal(b.len, sizeof(bin));
	assert_memory_equal(b.data, bin, sizeof(bin));
	/* ENOENT empties out too. */
	assert_int_equal(shared_get(s, "t:getset:missing", &b), -ENOENT);
	assert_int_equal(b.len, 0);
	/* PX: the value expires, and not before (Redis's ms, and ours,
	 * rounded). */
	t0 = monotime_ms();
	assert_int_equal(shared_set(s, "t:getset:px", "v", 1, 1000), 0);
	assert_true(gone_after(s, "t:getset:px", t0) >= 1000 - 2);
	/* out's own cap bounds it too. */
	buf_release(&b);
	buf_init(&b, 4);
	assert_int_equal(shared_get(s, "t:getset", &b), -EFBIG);
	buf_release(&b);
	assert_true(shared_up(s));
	assert_int_equal(shared_errors(s), 0);
}

static void test_select(void **state)
{
	struct fx *f = *state;
	struct shared_config c = {.timeout_ms = TIMEOUT_MS, .max_reply = 4096};
	struct shared *db0 = client(f, 0), *db3;
	struct buf b;

	snprintf(c.addr.path, sizeof(c.addr.path), "%s", f->g->redis.sock);
	c.addr.db = 3;
	db3 = f->sh[1] = shared_new(&c);
	assert_non_null(db3);
	buf_init(&b, 4096);
	assert_int_equal(shared_set(db3, "t:select", "three", 5, 60000), 0);
	assert_int_equal(shared_get(db3, "t:select", &b), 0);
	assert_int_equal(shared_get(db0, "t:select", &b), -ENOENT);
	buf_release(&b);
}

/* ---- a proxy that loses one answer --------------------------------------------- */

/* Forwards to a real Redis. Once armed, the first command holding cut
 * goes through and runs, but its answer is dropped and the client's
 * connection closed: a reply lost with its connection (a restart just
 * after, a CLIENT KILL, a network break), which the client cannot tell
 * from a command that never arrived. */
#define CUT_PAIRS 8

struct cutter {
	int lfd;
	char dir[64], sock[108];
	const char *upstream, *cut;
	atomic_bool armed, stop;
	pthread_t thread;
};

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* One read from fd passed to to; false when the pair must go. */
static bool relay(struct cutter *c, int fd, int to, bool from_client, bool *cutting)
{
	char b[65536];
	ssize_t n = read(fd, b, sizeof(b));

	if (n <= 0)
		return false;
	if (!from_client && *cutting)
		return false; /* ran, and its answer is lost */
	if (from_client && memmem(b, (size_t)n, c->cut, strlen(c->cut)) && atomic_exchange(&c->armed, false))
		*cutting = true;
	return write(to, b, (size_t)n) == n;
}

static void *cutter_main(void *arg)
{
	struct cutter *c = arg;
	int cl[CUT_PAIRS], up[CUT_PAIRS], n = 0;
	bool cutting[CUT_PAIRS];

	while (!atomic_load(&c->stop)) {
		struct pollfd p[1 + 2 * CUT_PAIRS] = {{.fd = c->lfd, .events = POLLIN}};

		for (int i = 0; i < n; i++) {
			p[1 + 2 * i] = (struct pollfd){.fd = cl[i], .events = POLLIN};
			p[2 + 2 * i] = (struct pollfd){.fd = up[i], .events = POLLIN};
		}
		if (poll(p, (nfds_t)(1 + 2 * n), 20) <= 0)
			continue;
		for (int i = n - 1; i >= 0; i--) {
			bool ok = true;

			if (p[1 + 2 * i].revents)
				ok = relay(c, cl[i], up[i], true, &cutting[i]);
			if (ok && p[2 + 2 * i].revents)
				ok = relay(c, up[i], cl[i], false, &cutting[i]);
			if (!ok) {
				close(cl[i]);
				close(up[i]);
				n--;
				cl[i] = cl[n];
				up[i] = up[n];
				cutting[i] = cutting[n];
			}
		}
		if ((p[0].revents & POLLIN) && n < CUT_PAIRS) {
			int a = accept(c->lfd, NULL, NULL), u = a >= 0 ? unix_connect(c->upstream) : -1;

			if (u >= 0) {
				cl[n] = a;
				up[n] = u;
				cutting[n++] = false;
			} else if (a >= 0) {
				close(a);
			}
		}
	}
	for (int i = 0; i < n; i++) {
		close(cl[i]);
		close(up[i]);
	}
	return NULL;
}

static void cutter_start(struct cutter *c, const char *upstream, const char *cut)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(c, 0, sizeof(*c));
	c->upstream = upstream;
	c->cut = cut;
	assert_int_equal(redis_srv_tmpdir(c->dir, sizeof(c->dir)), 0);
	snprintf(c->sock, sizeof(c->sock), "%s/cut.sock", c->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->sock);
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->lfd >= 0);
	assert_int_equal(bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(c->lfd, 16), 0);
	assert_int_equal(pthread_create(&c->thread, NULL, cutter_main, c), 0);
}

static void cutter_stop(struct cutter *c)
{
	atomic_store(&c->stop, true);
	pthread_join(c->thread, NULL);
	close(c->lfd);
	unlink(c->sock);
	rmdir(c->dir);
}

/* SET NX's answer lost: run() sends it again on a new connection, where
 * it finds the lock held, by this very token. It was taken for another
 * host's: the caller waited for its own lock until it expired. */
static void test_lock_reply_lost(void **state)
{
	struct fx *f = *state;
	struct cutter c;
	struct shared *s;
	struct buf b;

	cutter_start(&c, f->g->redis.sock, "\r\nNX\r\n");
	s = client_of(f, 0, c.sock, NULL, NULL, 0);
	buf_init(&b, 4096);
	for (int i = 0; i < 8; i++) /* every connection of the pool opened: the lock goes over a pooled one */
		assert_int_equal(shared_set(s, "t:cut:warm", "v", 1, 60000), 0);
	atomic_store(&c.armed, true);
	assert_int_equal(shared_lock(s, "t:cut:lock", "tokA", 5000), 0);
	assert_false(atomic_load(&c.armed)); /* the answer was lost indeed */
	assert_int_equal(shared_get(s, "t:cut:lock", &b), 0);
	assert_string_equal(b.data, "tokA");
	/* Another's lock is still another's, resent or not. */
	atomic_store(&c.armed, true);
	assert_int_equal(shared_lock(s, "t:cut:lock", "tokB", 5000), -EEXIST);
	assert_false(atomic_load(&c.armed));
	assert_int_equal(shared_unlock(s, "t:cut:lock", "tokA"), 0);
	buf_release(&b);
	shared_free(s);
	f->sh[0] = NULL;
	cutter_stop(&c);
}

static void test_locks(void **state)
{
	struct fx *f = *state;
	struct shared *s = client(f, 0);
	struct buf b;
	int64_t t0;

	buf_init(&b, 4096);
	assert_int_equal(shared_lock(s, "t:lock", "tokA", 5000), 0);
	assert_int_equal(shared_get(s, "t:lock", &b), 0);
	assert_string_equal(b.data, "tokA");
	assert_int_equal(shared_lock(s, "t:lock", "tokB", 5000), -EEXIST);
	assert_int_equal(shared_lock(s, "t:lock", "tokA", 5000), -EEXIST); /* not reentrant */
	/* The wrong token's unlock and relock do nothing. */
	assert_int_equal(shared_unlock(s, "t:lock", "tokB"), -ENOENT);
	assert_int_equal(shared_relock(s, "t:lock", "tokB", NULL, 1), -ENOENT);
	assert_int_equal(shared_lock(s, "t:lock", "tokB", 5000), -EEXIST);
	assert_int_equal(shared_unlock(s, "t:lock", "tokA"), 0);
	assert_int_equal(shared_unlock(s, "t:lock", "tokA"), -ENOENT);
	assert_int_equal(shared_get(s, "t:lock", &b), -ENOENT);
	assert_int_equal(shared_relock(s, "t:lock", "tokA", NULL, 5000), -ENOENT);
	assert_int_equal(shared_lock(s, "t:lock", "tokB", 5000), 0);
	assert_int_equal(shared_unlock(s, "t:lock", "tokB"), 0);
	/* Relock extends a lock: past its first PX it is still held. */
	t0 = monotime_ms();
	assert_int_equal(shared_lock(s, "t:lock:px", "tokC", 2000), 0);
	assert_int_equal(shared_relock(s, "t:lock:px", "tokC", NULL, 60000), 0);
	while (monotime_ms() - t0 < 2500) /* past the first expiry */
		sleep_ms(50);
	assert_int_equal(shared_lock(s, "t:lock:px", "tokD", 200), -EEXIST);
	/* And shortens it: it expires after the new PX, not before. */
	t0 = monotime_ms();
	assert_int_equal(shared_relock(s, "t:lock:px", "tokC", NULL, 500), 0);
	assert_true(free_after(s, "t:lock:px", "tokD", 60000, t0) >= 500 - 2);
	assert_int_equal(shared_relock(s, "t:lock:px", "tokC", NULL, 2000), -ENOENT);
	/* relock to a new token: the old one no longer holds it. */
	assert_int_equal(shared_relock(s, "t:lock:px", "tokD", "tokE", 5000), 0);
	assert_int_equal(shared_get(s, "t:lock:px", &b), 0);
	assert_string_equal(b.data, "tokE");
	assert_int_equal(shared_relock(s, "t:lock:px", "tokD", "tokF", 5000), -ENOENT);
	assert_int_equal(shared_unlock(s, "t:lock:px", "tokD"), -ENOENT);
	assert_int_equal(shared_unlock(s, "t:lock:px", "tokE"), 0);
	buf_release(&b);
	assert_int_equal(shared_errors(s), 0);
}

/* A lock's value and time to live at one instant; none, no expiry. */
static void test_lock_peek(void **state)
{
	struct fx *f = *state;
	struct shared *s = client(f, 0);
	struct buf b;
	int64_t pttl = 0;

	buf_init(&b, 4096);
	assert_int_equal(shared_lock_peek(s, "t:peek", &b, &pttl), -ENOENT);
	assert_int_equal(pttl, -2);
	/* A life of a minute, read as more than half of it left: however
	 * long the machine takes between the two commands, not a minute. */
	assert_int_equal(shared_lock(s, "t:peek", "tokA", 60000), 0);
	assert_int_equal(shared_lock_peek(s, "t:peek", &b, &pttl), 0);
	assert_string_equal(b.data, "tokA");
	assert_true(pttl > 60000 - WAIT_MS && pttl <= 60000);
	assert_int_equal(shared_unlock(s, "t:peek", "tokA"), 0);
	buf_release(&b);
	/* The value's cap bounds what the peek reads. */
	buf_init(&b, 2);
	assert_int_equal(shared_lock(s, "t:peek", "tokA", 3000), 0);
	assert_int_equal(shared_lock_peek(s, "t:peek", &b, &pttl), -EFBIG);
	buf_release(&b);
}

/* GETRANGE: part of a value, none of a missing one. */
static void test_get_range(void **state)
{
	struct fx *f = *state;
	struct shared *s = client(f, 0);
	struct buf b;

	buf_init(&b, 4096);
	assert_int_equal(shared_set(s, "t:range", "0123456789", 10, 60000), 0);
	assert_int_equal(shared_get_range(s, "t:range", 0, 4, &b), 0);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "0123", 4);
	assert_int_equal(shared_get_range(s, "t:range", 8, 100, &b), 0);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "89", 2);
	assert_int_equal(shared_get_range(s, "t:range:missing", 0, 100, &b), 0);
	assert_int_equal(b.len, 0);
	buf_release(&b);
	/* A value over out's cap is refused, whatever range was asked. */
	buf_init(&b, 4);
	assert_int_equal(shared_get_range(s, "t:range", 0, 8, &b), -EFBIG);
	assert_int_equal(shared_get(s, "t:range", &b), -EFBIG);
	buf_release(&b);
	assert_true(shared_up(s));
}

/* A user whose ACL lacks a command (an ACL line of an older version):
 * Redis is up and is not marked down; the refusal is -EPERM, counted,
 * and logged once naming the command; what the ACL allows goes on. */
static void test_noperm(void **state)
{
	struct fx *f = *state;
	const char *args[] = {"--user", "default", "off",  "--user", "old",   "on",    ">" PASSWORD, "~*",
			      "&*",	"+get",	   "+set", "+ping",  "+time", "+auth", NULL};
	char logged[8192];
	struct shared *s;
	struct buf b;

	assert_int_equal(redis_srv_start(&f->own, args), 0);
	capture_begin(f);
	s = client_of(f, 0, f->own.sock, "old", PASSWORD, 0);
	buf_init(&b, 4096);
	assert_int_equal(shared_set(s, "t:np", "v", 1, 60000), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(shared_unlock(s, "t:np", "v"), -EPERM);
		assert_int_equal(shared_lock_peek(s, "t:np", &b, &(int64_t){0}), -EPERM);
		assert_int_equal(shared_get_range(s, "t:np", 0, 1, &b), -EPERM);
		assert_true(shared_up(s));
	}
	assert_int_equal(shared_get(s, "t:np", &b), 0);
	assert_int_equal(shared_errors(s), 9);
	capture_end(f, logged, sizeof(logged));
	assert_int_equal(count_of(logged, "refused a command"), 1);
	assert_non_null(strstr(logged, "NOPERM"));
	assert_int_equal(count_of(logged, ": down"), 0);
	buf_release(&b);
}

static void test_publish(void **state)
{
	struct fx *f = *state;
	struct shared *s = client(f, 0);

	/* Nobody listens: still a success. */
	assert_int_equal(shared_publish(s, "t:chan:nobody", "x\0y", 3), 0);
	assert_int_equal(shared_publish(s, "t:chan:nobody", "", 0), 0);
	assert_int_equal(shared_errors(s), 0);
}

static void test_max_reply(void **state)
{
	struct fx *f = *state;
	struct shared *s = client_of(f, 0, f->g->redis.sock, NULL, NULL, 1024);
	size_t big = 256u << 10;
	char *v = malloc(big);
	struct buf b;

	assert_non_null(v);
	memset(v, 'x', big);
	buf_init(&b, 1u << 20);
	assert_int_equal(shared_set(s, "t:max:fits", v, 1024, 60000), 0);
	assert_int_equal(shared_set(s, "t:max:over", v, 1025, 60000), 0);
	assert_int_equal(shared_set(s, "t:max:big", v, big, 60000), 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(shared_get(s, "t:max:fits", &b), 0);
		assert_int_equal(b.len, 1024);
		/* Just over: read whole, then refused. */
		assert_int_equal(shared_get(s, "t:max:over", &b), -EFBIG);
		/* Far over: refused before it is all read, the connection dropped. */
		assert_int_equal(shared_get(s, "t:max:big", &b), -EFBIG);
		/* The client goes on: not down, no backoff. */
		assert_true(shared_up(s));
		assert_int_equal(shared_get(s, "t:max:fits", &b), 0);
		assert_int_equal(shared_lock(s, "t:max:lock", "t", 1000), round ? -EEXIST : 0);
	}
	buf_release(&b);
	free(v);
}

/* ---- AUTH -------------------------------------------------------------------- */

/* s went down at t0 or later, failing with err: its next operation fails
 * at once without the network (-ENOTCONN) while in its first backoff, or
 * tries again (err) once that is over: never before. */
static void down_until_backoff(struct shared *s, int64_t t0, int err)
{
	struct buf b;
	uint64_t e0 = shared_errors(s);
	int got;

	buf_init(&b, 4096);
	got = shared_get(s, "t:down", &b);
	buf_release(&b);
	if (got == -ENOTCONN) {
		assert_int_equal(shared_errors(s), e0);
		return;
	}
	assert_int_equal(got, err);
	assert_true(monotime_ms() - t0 >= BACKOFF_MIN_MS);
}

static void test_auth(void **state)
{
	struct fx *f = *state;
	const char *args[] = {"--requirepass", PASSWORD, NULL};
	char why[256] = "", logged[8192];
	struct shared *right, *user, *wrong, *none;
	struct buf b;
	int64_t t0;

	assert_int_equal(redis_srv_start(&f->own, args), 0);
	capture_begin(f);
	right = client_of(f, 0, f->own.sock, NULL, PASSWORD, 0);
	user = client_of(f, 1, f->own.sock, "default", PASSWORD, 0);
	buf_init(&b, 4096);
	assert_int_equal(shared_check(right, why, sizeof(why)), 0);
	assert_int_equal(shared_set(right, "t:auth", "ok", 2, 60000), 0);
	assert_int_equal(shared_get(user, "t:auth", &b), 0);
	assert_int_equal(shared_check(user, why, sizeof(why)), 0);
	shared_free(right);
	shared_free(user);
	f->sh[0] = f->sh[1] = NULL;

	wrong = client_of(f, 0, f->own.sock, NULL, WRONG_PW, 0);
	why[0] = '\0';
	assert_int_equal(shared_check(wrong, why, sizeof(why)), -EACCES);
	assert_true(why[0] != '\0');
	assert_null(strstr(why, WRONG_PW));
	assert_null(strstr(why, PASSWORD));
	/* An operation: refused, then down (fast) until the backoff. */
	t0 = monotime_ms();
	assert_int_equal(shared_get(wrong, "t:auth", &b), -EACCES);
	down_until_backoff(wrong, t0, -EACCES);
	assert_false(shared_up(wrong));

	/* No password where one is required: AUTH trouble too. */
	none = client_of(f, 1, f->own.sock, NULL, NULL, 0);
	why[0] = '\0';
	assert_int_equal(shared_check(none, why, sizeof(why)), -EACCES);
	assert_true(why[0] != '\0');
	assert_int_equal(shared_get(none, "t:auth", &b), -EACCES);
	buf_release(&b);
	capture_end(f, logged, sizeof(logged));
	assert_null(strstr(logged, PASSWORD));
	assert_null(strstr(logged, WRONG_PW));
	assert_int_equal(count_of(logged, ": down ("), 2); /* one for wrong, one for none */
}

/* ---- down and up -------------------------------------------------------------- */

/* While down, operations fail without touching the network: shared_errors
 * counts the attempts that did, a few per backoff period. err: what an
 * attempt fails with; bound: how long one may take. The first operation
 * makes s down (or finds it down already). */
static void fast_while_down(struct shared *s, int err, int64_t bound)
{
	struct buf b;
	uint64_t e0;
	int64_t t0;
	int got;

	buf_init(&b, 4096);
	t0 = monotime_ms();
	got = shared_get(s, "t:down", &b);
	if (got != err && got != -ENOTCONN)
		fail_msg("the first operation while down: %d", got);
	assert_true(monotime_ms() - t0 <= bound);
	assert_false(shared_up(s));
	e0 = shared_errors(s);
	assert_true(e0 >= 1);
	t0 = monotime_ms();
	for (int i = 0; i < 1000; i++) {
		got = i % 4 == 0   ? shared_get(s, "t:down", &b)
		      : i % 4 == 1 ? shared_set(s, "t:down", "v", 1, 1000)
		      : i % 4 == 2 ? shared_lock(s, "t:down:lock", "t", 1000)
				   : shared_publish(s, "t:down:chan", "m", 1);
		if (got != -ENOTCONN && got != err)
			fail_msg("op %d while down: %d", i, got);
	}
	/* Had each one tried, 1000 attempts; had each waited its timeout,
	 * 1000 timeouts. A few, doubling from 100 ms: 6 take 6.3 s. */
	assert_true(shared_errors(s) - e0 <= 6);
	assert_true(monotime_ms() - t0 < 20000);
	assert_false(shared_up(s));
	buf_release(&b);
}

/* The backoff after n failures in a row (at most): 100 ms doubling to 5 s. */
static int64_t backoff_after(uint64_t n)
{
	int64_t ms = BACKOFF_MIN_MS;

	for (uint64_t i = 1; i < n && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

/* Polls until an operation succeeds; the time it took. */
static int64_t until_up(struct shared *s, int64_t limit)
{
	struct buf b;
	int64_t t0 = monotime_ms();
	int err;

	buf_init(&b, 4096);
	while ((err = shared_get(s, "t:up", &b)) != -ENOENT && err != 0 && monotime_ms() - t0 < limit)
		sleep_ms(10);
	buf_release(&b);
	assert_true(shared_up(s));
	return monotime_ms() - t0;
}

static void test_down_then_up(void **state)
{
	struct fx *f = *state;
	char logged[8192], why[256] = "";
	struct shared *s;
	int64_t took;

	/* A socket path where no one listens (yet). */
	assert_int_equal(redis_srv_start(&f->own, NULL), 0);
	redis_srv_kill(&f->own);
	capture_begin(f);
	s = client_of(f, 0, f->own.sock, NULL, NULL, 0);
	assert_int_equal(shared_check(s, why, sizeof(why)), -ECONNREFUSED);
	assert_true(why[0] != '\0');
	fast_while_down(s, -ECONNREFUSED, TIMEOUT_MS + SLACK_MS);
	/* Redis comes: the client is back by itself, within the backoff
	 * (100 ms doubling: a few hundred ms here, 5 s at the most). */
	assert_int_equal(redis_srv_restart(&f->own), 0);
	took = until_up(s, WAIT_MS);
	assert_true(took < backoff_after(shared_errors(s)) + SLACK_MS);
	assert_int_equal(shared_set(s, "t:up", "v", 1, 1000), 0);
	capture_end(f, logged, sizeof(logged));
	/* Logged once per change, not once per failure. */
	assert_int_equal(count_of(logged, ": down ("), 1);
	assert_int_equal(count_of(logged, "up again"), 1);
}

/* A Redis restart leaves every pooled connection dead: each is found out
 * by its first use and retried once on a new connection within the same
 * deadline, so the restart costs no failure and no "down" line at all. */
static void test_restart_pool(void **state)
{
	struct fx *f = *state;
	char logged[8192];
	struct shared *s;
	struct buf b;
	int failed = 0, ok = 0, err;
	int64_t t0;

	assert_int_equal(redis_srv_start(&f->own, NULL), 0);
	capture_begin(f);
	s = client_of(f, 0, f->own.sock, NULL, NULL, 0);
	buf_init(&b, 4096);
	for (int i = 0; i < 8; i++) /* every connection of the pool opened */
		assert_int_equal(shared_set(s, "t:pool", "v", 1, 60000), 0);
	assert_int_equal(redis_srv_restart(&f->own), 0);
	t0 = monotime_ms();
	while (ok < 20 && monotime_ms() - t0 < WAIT_MS) {
		err = shared_get(s, "t:pool", &b);
		if (err == 0 || err == -ENOENT)
			ok++;
		else if (err != -ENOTCONN)
			failed++;
		else
			sleep_ms(5);
	}
	buf_release(&b);
	capture_end(f, logged, sizeof(logged));
	assert_int_equal(ok, 20);
	assert_int_equal(failed, 0);
	assert_int_equal(count_of(logged, ": down ("), 0);
	assert_int_equal(count_of(logged, "up again"), 0);
}

static void test_tcp_refused(void **state)
{
	struct fx *f = *state;
	struct shared_config c = {.timeout_ms = TIMEOUT_MS, .max_reply = 4096};
	char why[256] = "";
	int64_t t0 = monotime_ms();

	assert_int_equal(shared_addr_parse("redis://127.0.0.1:1/0", &c.addr, why, sizeof(why)), 0);
	f->sh[0] = shared_new(&c);
	assert_non_null(f->sh[0]);
	assert_int_equal(shared_check(f->sh[0], why, sizeof(why)), -ECONNREFUSED);
	assert_true(monotime_ms() - t0 <= TIMEOUT_MS + SLACK_MS);
	fast_while_down(f->sh[0], -ECONNREFUSED, TIMEOUT_MS + SLACK_MS);
}

/* ---- servers that hang or talk nonsense ------------------------------------------ */

/* Every operation ends within the timeout, with -ETIMEDOUT or (down) -ENOTCONN. */
static void test_hung(void **state)
{
	struct fx *f = *state;
	struct shared *s;
	struct buf b;
	char why[256] = "";
	int timeouts = 0, err;
	int64_t t0;

	assert_int_equal(fake_srv_hung(&f->fake), 0);
	f->timeout_ms = HUNG_TIMEOUT_MS;
	s = client_of(f, 0, f->fake.sock, NULL, NULL, 0);
	buf_init(&b, 4096);
	t0 = monotime_ms();
	assert_int_equal(shared_check(s, why, sizeof(why)), -ETIMEDOUT);
	assert_true(monotime_ms() - t0 <= HUNG_BOUND_MS);
	assert_true(why[0] != '\0');
	for (int i = 0; i < 12; i++) {
		t0 = monotime_ms();
		err = i % 4 == 0   ? shared_get(s, "t:hung", &b)
		      : i % 4 == 1 ? shared_set(s, "t:hung", "v", 1, 1000)
		      : i % 4 == 2 ? shared_relock(s, "t:hung", "t", NULL, 1000)
				   : shared_publish(s, "t:hung", "m", 1);
		if (err != -ETIMEDOUT && err != -ENOTCONN)
			fail_msg("op %d on a hung server: %d", i, err);
		timeouts += err == -ETIMEDOUT;
		assert_true(monotime_ms() - t0 <= HUNG_BOUND_MS);
		sleep_ms(40); /* so that the backoff lets a few try again */
	}
	assert_true(timeouts >= 2);
	buf_release(&b);
	fast_while_down(s, -ETIMEDOUT, HUNG_BOUND_MS);
}

struct op_thread {
	struct shared *s;
	int err;
	int64_t took;
	pthread_t th;
};

static void *op_main(void *arg)
{
	struct op_thread *o = arg;
	struct buf b;
	int64_t t0 = monotime_ms();

	buf_init(&b, 4096);
	o->err = shared_get(o->s, "t:hung:many", &b);
	o->took = monotime_ms() - t0;
	buf_release(&b);
	return NULL;
}

/* More callers at once than the pool has connections: those that wait
 * for a connection are still bounded by their one deadline (a caller that
 * waited out another's timeout, then one of its own, would take two). */
static void test_hung_many(void **state)
{
	struct fx *f = *state;
	struct op_thread o[10];
	struct shared *s;
	int n = 0;

	assert_int_equal(fake_srv_hung(&f->fake), 0);
	f->timeout_ms = HUNG_TIMEOUT_MS;
	s = client_of(f, 0, f->fake.sock, NULL, NULL, 0);
	for (; n < 10; n++) {
		o[n].s = s;
		if (pthread_create(&o[n].th, NULL, op_main, &o[n]) != 0)
			break;
	}
	for (int i = 0; i < n; i++) /* joined before any assert */
		pthread_join(o[i].th, NULL);
	assert_int_equal(n, 10);
	for (int i = 0; i < 10; i++) {
		if (o[i].err != -ETIMEDOUT && o[i].err != -ENOTCONN)
			fail_msg("caller %d: %d", i, o[i].err);
		if (o[i].took > HUNG_BOUND_MS)
			fail_msg("caller %d took %lld ms", i, (long long)o[i].took);
	}
	assert_false(shared_up(s));
}

static void garbage(struct fx *f, const char *reply, int want)
{
	struct shared *s;
	struct buf b;
	char why[256] = "";
	int64_t t0;
	int err;

	assert_int_equal(fake_srv_garbage(&f->fake, reply), 0);
	f->timeout_ms = HUNG_TIMEOUT_MS;
	s = client_of(f, 0, f->fake.sock, NULL, NULL, 1024);
	buf_init(&b, 4096);
	t0 = monotime_ms();
	assert_int_equal(shared_check(s, why, sizeof(why)), want);
	assert_true(why[0] != '\0');
	assert_true(monotime_ms() - t0 <= HUNG_BOUND_MS);
	for (int i = 0; i < 10; i++) {
		err = i % 2 ? shared_get(s, "t:garbage", &b) : shared_lock(s, "t:garbage", "t", 1000);
		if (err != want && err != -ENOTCONN)
			fail_msg("op %d on a garbage server: %d", i, err);
		if (i == 4)
			sleep_ms(120); /* past the first backoff: one more try */
	}
	assert_true(atomic_load(&f->fake.accepted) >= 2);
	buf_release(&b);
	shared_free(s);
	f->sh[0] = NULL;
	fake_srv_stop(&f->fake);
}

static void test_garbage(void **state)
{
	struct fx *f = *state;
	size_t huge = 300u << 10, n;
	char *flood = malloc(huge + 32);

	garbage(f, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", -EPROTO);
	garbage(f, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", -EPROTO); /* TLS */
	garbage(f, "+OK\r\n", -EPROTO);					     /* RESP, but no TIME reply */
	garbage(f, "*2\r\n$3\r\nabc\r\n$1\r\n9\r\n", -EPROTO);
	/* A reply that never ends: cut at the cap, not buffered whole. */
	assert_non_null(flood);
	n = (size_t)snprintf(flood, 32, "$%zu\r\n", (size_t)1 << 30);
	memset(flood + n, 'x', huge);
	flood[n + huge] = '\0';
	garbage(f, flood, -EFBIG);
	free(flood);
}

/* A server that answers the connection's TIME and a transaction's first
 * command, then garbage (an array over the cap): the replies read so far
 * are freed once, not twice (it aborted: a double free), and the answer
 * is -EPROTO, for each command that is more than one. */
static void test_garbage_midway(void **state)
{
	struct fx *f = *state;
	struct buf b;
	int64_t pttl = 0;

	assert_int_equal(fake_srv_garbage(&f->fake, "*2\r\n$10\r\n1700000000\r\n$1\r\n0\r\n+OK\r\n*100000000\r\n"), 0);
	assert_int_equal(shared_unlock(client_of(f, 0, f->fake.sock, NULL, NULL, 1024), "t:g", "t"), -EPROTO);
	assert_int_equal(shared_relock(client_of(f, 1, f->fake.sock, NULL, NULL, 1024), "t:g", "t", "u", 1000),
			 -EPROTO);
	buf_init(&b, 4096);
	assert_int_equal(shared_lock_peek(client_of(f, 2, f->fake.sock, NULL, NULL, 1024), "t:g", &b, &pttl), -EPROTO);
	buf_release(&b);
	for (int i = 0; i < 3; i++) {
		shared_free(f->sh[i]);
		f->sh[i] = NULL;
	}
	fake_srv_stop(&f->fake);
}

/* A Redis that stops answering with connections open (kill -STOP): the
 * pool's operations time out, the subscriber's PING notices, and after
 * SIGCONT everything comes back (on_gap called). */

static void test_paused(void **state)
{
	struct fx *f = *state;
	struct heard *h = &f->heard;
	struct shared *s, *sub;
	struct buf b;
	int64_t t0;
	int err;

	assert_int_equal(redis_srv_start(&f->own, NULL), 0);
	f->timeout_ms = HUNG_TIMEOUT_MS;
	s = client_of(f, 0, f->own.sock, NULL, NULL, 0);
	sub = client_of(f, 1, f->own.sock, NULL, NULL, 0);
	buf_init(&b, 4096);
	assert_int_equal(shared_get(s, "t:paused", &b), -ENOENT);
	assert_int_equal(shared_subscribe(sub, "t:chan:paused", on_msg, on_gap, h), 0);
	sync_sub(s, h, "t:chan:paused");
	redis_srv_pause(&f->own, true);
	t0 = monotime_ms();
	assert_int_equal(shared_get(s, "t:paused", &b), -ETIMEDOUT);
	assert_true(monotime_ms() - t0 <= HUNG_BOUND_MS);
	for (int i = 0; i < 50; i++) {
		t0 = monotime_ms();
		err = shared_get(s, "t:paused", &b);
		assert_true(err == -ETIMEDOUT || err == -ENOTCONN);
		assert_true(monotime_ms() - t0 <= HUNG_BOUND_MS);
	}
	/* The subscriber's keepalive gives the connection up within about
	 * a PING period (1 s) and the timeout (1 s). */
	t0 = monotime_ms();
	while (shared_up(sub) && monotime_ms() - t0 < 2000 + HUNG_TIMEOUT_MS + SLACK_MS)
		sleep_ms(20);
	assert_false(shared_up(sub));
	redis_srv_pause(&f->own, false);
	assert_true(wait_for(h, 0, 1, WAIT_MS));
	assert_true(until_up(s, WAIT_MS) < backoff_after(shared_errors(s)) + SLACK_MS);
	shared_unsubscribe(sub);
	buf_release(&b);
	heard_release(h);
}

/* ---- the fleet's clock -------------------------------------------------------- */

static int64_t fixed_clock(void *arg)
{
	return *(const int64_t *)arg;
}

static void test_now(void **state)
{
	struct fx *f = *state;
	struct shared *s = client(f, 0), *fixed;
	struct shared_config c = {.timeout_ms = TIMEOUT_MS, .max_reply = 4096, .clock = fixed_clock};
	static const int64_t five_s = 5000;
	char why[256];
	int64_t now = 0;

	assert_int_equal(shared_now(s, &now), -ENOTCONN);
	assert_int_equal(shared_offset(s), 0);
	assert_int_equal(shared_check(s, why, sizeof(why)), 0);
	assert_int_equal(shared_now(s, &now), 0);
	assert_true(llabs((long long)(now - unix_ms())) < 1000);
	assert_true(llabs((long long)(shared_offset(s) - (unix_ms() - monotime_ms()))) < 1000);

	/* The offset is from cfg.clock: local time 5 s. */
	snprintf(c.addr.path, sizeof(c.addr.path), "%s", f->g->redis.sock);
	c.clock_arg = (void *)&five_s;
	fixed = f->sh[1] = shared_new(&c);
	assert_non_null(fixed);
	assert_int_equal(shared_publish(fixed, "t:chan:now", "x", 1), 0);
	assert_true(llabs((long long)(shared_offset(fixed) - (unix_ms() - 5000))) < 1000);
	assert_int_equal(shared_now(fixed, &now), 0);
	assert_true(llabs((long long)(now - unix_ms())) < 1000);
}

static int64_t moving_clock(void *arg)
{
	return atomic_load((_Atomic int64_t *)arg);
}

/* The fleet's clock never goes back, but it stays within 5 s of this
 * host's: after a step back of both (here: the local clock a minute
 * ahead, the same to the offsets), the minute kept from the first reading
 * is not (it was, for the life of the mount: this host's values and
 * invalidations dated a minute ahead, refused by every other host). */
static void test_now_stepped(void **state)
{
	struct fx *f = *state;
	static _Atomic int64_t local = 5000;
	struct shared_config c = {.timeout_ms = TIMEOUT_MS, .max_reply = 4096, .clock = moving_clock};
	struct shared *s;
	char why[256];
	int64_t now = 0;

	snprintf(c.addr.path, sizeof(c.addr.path), "%s", f->g->redis.sock);
	c.clock_arg = (void *)&local;
	s = f->sh[0] = shared_new(&c);
	assert_non_null(s);
	assert_int_equal(shared_check(s, why, sizeof(why)), 0);
	assert_int_equal(shared_now(s, &now), 0);
	assert_true(llabs((long long)(now - unix_ms())) < 1000);
	atomic_store(&local, 65000);
	assert_int_equal(shared_check(s, why, sizeof(why)), 0); /* the pool's next connection: TIME read again */
	assert_int_equal(shared_now(s, &now), 0);
	assert_true(now - unix_ms() <= 5000 + 1000);
	assert_true(now - unix_ms() >= 4000); /* held forward, as far as the bound lets it */
}

/* ---- the subscriber ------------------------------------------------------------- */

static void test_subscribe(void **state)
{
	struct fx *f = *state;
	struct heard *h = &f->heard;
	struct shared *pub, *sub;
	int64_t t0;
	int n;

	assert_int_equal(redis_srv_start(&f->own, NULL), 0);
	pub = client_of(f, 0, f->own.sock, NULL, NULL, 0);
	sub = client_of(f, 1, f->own.sock, NULL, NULL, 0);
	assert_int_equal(shared_subscribe(sub, "t:chan", on_msg, on_gap, h), 0);
	assert_int_equal(shared_subscribe(sub, "t:chan", on_msg, on_gap, h), -EBUSY);
	sync_sub(pub, h, "t:chan");
	assert_int_equal(shared_publish(pub, "t:chan:other", "no", 2), 0);
	assert_int_equal(shared_publish(pub, "t:chan", "m1", 2), 0);
	assert_int_equal(shared_publish(pub, "t:chan", "m\0002", 3), 0);
	assert_true(wait_for(h, 2, 0, WAIT_MS));
	pthread_mutex_lock(&h->mu);
	assert_int_equal(h->n, 2);
	assert_int_equal(h->len[0], 2);
	assert_memory_equal(h->msg[0], "m1", 2);
	assert_int_equal(h->len[1], 3);
	assert_memory_equal(h->msg[1], "m\0002", 3);
	assert_int_equal(h->gaps, 0);
	h->n = 0;
	pthread_mutex_unlock(&h->mu);

	/* Redis restarts: the subscriber resubscribes and says so. */
	assert_int_equal(redis_srv_restart(&f->own), 0);
	assert_true(wait_for(h, 0, 1, WAIT_MS));
	sync_sub(pub, h, "t:chan");
	assert_int_equal(shared_publish(pub, "t:chan", "m3", 2), 0);
	assert_true(wait_for(h, 1, 1, WAIT_MS));
	pthread_mutex_lock(&h->mu);
	assert_memory_equal(h->msg[0], "m3", 2);
	assert_int_equal(h->gaps, 1);
	pthread_mutex_unlock(&h->mu);

	/* Unsubscribe is prompt (the subscriber waits in slices of 250 ms,
	 * not for its next PING, a second), and nothing is heard afterwards. */
	t0 = monotime_ms();
	shared_unsubscribe(sub);
	assert_true(monotime_ms() - t0 < 1000);
	shared_unsubscribe(sub); /* a no-op */
	n = heard_count(h);
	assert_int_equal(shared_publish(pub, "t:chan", "late", 4), 0);
	sleep_ms(50);
	assert_int_equal(heard_count(h), n);
	/* And it can be started again. */
	assert_int_equal(shared_subscribe(sub, "t:chan", on_msg, on_gap, h), 0);
	sync_sub(pub, h, "t:chan");
	shared_free(sub); /* stops the subscriber */
	f->sh[1] = NULL;
	heard_release(h);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_addr_good),	 T(test_addr_bad),  T(test_addr_text),	 T(test_get_set),      T(test_select),
	    T(test_locks),	 T(test_lock_peek), T(test_get_range),	 T(test_noperm),       T(test_lock_reply_lost),
	    T(test_publish),	 T(test_max_reply), T(test_auth),	 T(test_down_then_up), T(test_restart_pool),
	    T(test_tcp_refused), T(test_hung),	    T(test_hung_many),	 T(test_garbage),      T(test_garbage_midway),
	    T(test_paused),	 T(test_now),	    T(test_now_stepped), T(test_subscribe),
	};

	if (!redis_srv_available()) {
		printf("SKIP: test_shared: redis-server not found on PATH\n");
		return 0;
	}
	/* As the daemon does (main.c): a server that closes makes a write
	 * fail, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("shared", tests, redis_srv_group_setup, redis_srv_group_teardown);
}
