/* shared.c — the shared tier's Redis client (shared.h), the only hiredis
 * user.
 *
 * hiredis is driven non-blocking, with our own poll() loop, because its
 * blocking mode bounds each system call (SO_RCVTIMEO), not an operation: a
 * server that trickles a byte a second, or a reply of a gigabyte, would
 * hold a request for as long as it likes. Here every operation has one
 * deadline for all of it (the connect, AUTH and SELECT included), and the
 * bytes a reply may buffer are capped. A failure marks the client down, so
 * that a hung Redis costs one timeout per backoff period, not one per
 * request.
 */
#include "shared.h"

#include <errno.h>
#include <hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "monotime.h"

#define POOL 4
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define PING_EVERY_MS 1000
#define SLICE_MS 250
#define SUB_REFUSED_MS 5000 /* retrying a refused SUBSCRIBE */
#define SKEW_MAX_MS 5000    /* Redis's clock against ours, at most */
#define ARRAY_MAX 4	    /* TIME 2, SUBSCRIBE's and a message 3, a pong 2 */

enum state { ST_UNKNOWN, ST_UP, ST_DOWN };

struct conn {
	pthread_mutex_t mu; /* guards rc and gen: one command at a time on a
			       connection; held while st_mu is taken
			       (conn mu -> st_mu) */
	redisContext *rc;
	unsigned gen; /* shared.gen when rc was opened */
};

struct shared {
	struct shared_config cfg;
	char *user, *password; /* owned; the password wiped on free */
	char where[SHARED_HOST_MAX + SHARED_PATH_MAX + 32];
	struct conn pool[POOL];
	redisReplyObjectFunctions fns; /* hiredis's own, arrays capped */
	const redisReplyObjectFunctions *plain;
	atomic_uint rr;
	pthread_mutex_t st_mu; /* guards the four below; a leaf, taken under
				  a connection's mu */
	enum state st;
	int64_t retry_at, backoff;
	atomic_int_fast64_t offset; /* fleet ms minus local ms */
	atomic_bool have_offset;
	atomic_bool skew_told;	      /* the clock warning, once */
	atomic_bool sub_refused_told; /* a refused SUBSCRIBE, said once */
	atomic_bool noperm_told;      /* a command the ACL refused, said once */
	atomic_bool up;
	atomic_uint_fast64_t errors;
	atomic_uint gen; /* times gone down: connections opened before are suspect */
	/* The subscriber. */
	pthread_t sub;
	bool sub_running;
	atomic_bool sub_stop;
	char *channel;
	shared_msg_fn on_msg;
	shared_gap_fn on_gap;
	void *sub_arg;
};

/* ---- addresses ------------------------------------------------------------ */

static int parse_int(const char *s, size_t n, int lo, int hi, int *out)
{
	long v = 0;

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* A refused URL is shown by its scheme and host only: what follows may
 * be a password put in the wrong place (the port, a query). */
static int bad(char *why, size_t n, const char *url, const char *what)
{
	const char *sep = strstr(url, "://"), *p = sep ? sep + 3 : url + strcspn(url, ":");
	size_t keep;

	if (!sep && *p == ':')
		p++;
	keep = (size_t)(p - url) + strcspn(p, ":/?#@[");
	if (keep > 200)
		keep = 200;
	snprintf(why, n, "imgtagfs: shared_cache=%.*s%s: %s", (int)keep, url, url[keep] ? "..." : "", what);
	return -EINVAL;
}

static int parse_unix(const char *url, const char *p, struct shared_addr *a, char *why, size_t n)
{
	if (p[0] != '/')
		return bad(why, n, url, "a socket path must be absolute (unix:/run/redis/redis.sock)");
	if (strlen(p) >= sizeof(a->path))
		return bad(why, n, url, "the socket path is too long");
	snprintf(a->path, sizeof(a->path), "%s", p);
	return 0;
}

/* HOST[:PORT] or [V6]:PORT, then /DB. */
static int parse_tcp(const char *url, const char *p, struct shared_addr *a, char *why, size_t n)
{
	const char *end = p + strcspn(p, "/?#"), *colon, *h = p;
	size_t hl;

	if (*end == '?' || *end == '#')
		return bad(why, n, url, "no query or fragment is understood");
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (!rb)
			return bad(why, n, url, "an IPv6 address needs its closing ']'");
		h = p + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
		if (!colon && rb + 1 != end)
			return bad(why, n, url, "junk after the IPv6 address");
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		hl = (size_t)((colon ? colon : end) - p);
	}
	if (hl == 0 || hl >= sizeof(a->host))
		return bad(why, n, url, "no host, or a host name too long");
	memcpy(a->host, h, hl);
	a->host[hl] = '\0';
	if (colon && parse_int(colon + 1, (size_t)(end - colon - 1), 1, 65535, &a->port))
		return bad(why, n, url, "the port must be 1 to 65535");
	if (*end == '/' && end[1] && parse_int(end + 1, strlen(end + 1), 0, 9999, &a->db))
		return bad(why, n, url, "the database must be a number (redis://host:6379/0)");
	return 0;
}

int shared_addr_parse(const char *url, struct shared_addr *a, char *why, size_t n)
{
	memset(a, 0, sizeof(*a));
	a->port = 6379;
	if (strncmp(url, "unix://", 7) == 0)
		return parse_unix(url, url + 7, a, why, n);
	if (strncmp(url, "unix:", 5) == 0)
		return parse_unix(url, url + 5, a, why, n);
	/* An '@': credentials in the URL, which ps, mount(8) and
	 * /proc/self/mountinfo would show to every user. Looked for anywhere
	 * and before the scheme, since every other message quotes the URL: a
	 * password may hold a '/', and rediss:// or http:// may carry one. */
	if (strchr(url, '@'))
		return bad(
		    why, n, "...@...",
		    "a user or password does not go in the URL (ps and mount(8) show it to every user): put "
		    "\"PASSWORD\" or \"USER PASSWORD\" in a file (mode 0600) and give -o shared_cache_auth=FILE");
	if (strncmp(url, "rediss://", 9) == 0)
		return bad(why, n, url,
			   "TLS is not supported (Debian 12's hiredis has none): use a unix socket or a "
			   "tunnel");
	if (strncmp(url, "redis://", 8) != 0)
		return bad(why, n, url, "expected redis://HOST[:PORT][/DB] or unix:PATH");
	return parse_tcp(url, url + 8, a, why, n);
}

void shared_addr_text(const struct shared_addr *a, char *out, size_t n)
{
	if (a->path[0])
		snprintf(out, n, "unix:%s", a->path);
	else if (strchr(a->host, ':'))
		snprintf(out, n, "redis://[%s]:%d/%d", a->host, a->port, a->db);
	else
		snprintf(out, n, "redis://%s:%d/%d", a->host, a->port, a->db);
}

const char *shared_acl_commands(const struct shared_addr *a)
{
	/* Kept in step with what the commands below send. */
	return a->db ? "-@all +get +getrange +set +del +pttl +watch +unwatch +multi +exec +publish +subscribe "
		       "+ping +time +auth +select"
		     : "-@all +get +getrange +set +del +pttl +watch +unwatch +multi +exec +publish +subscribe "
		       "+ping +time +auth";
}

/* ---- state: up, down, backoff --------------------------------------------- */

static int64_t local_ms(const struct shared *s)
{
	return s->cfg.clock ? s->cfg.clock(s->cfg.clock_arg) : monotime_ms();
}

/* May this caller touch the network? Always while up; while down, one
 * caller per backoff period. */
static bool may_try(struct shared *s)
{
	int64_t now = monotime_ms();
	bool ok;

	pthread_mutex_lock(&s->st_mu);
	ok = s->st != ST_DOWN || now >= s->retry_at;
	if (s->st == ST_DOWN && ok)
		s->retry_at = now + s->backoff; /* the others wait for this one */
	pthread_mutex_unlock(&s->st_mu);
	return ok;
}

static void went_down(struct shared *s, int err, const char *detail)
{
	int64_t now = monotime_ms();
	bool tell;

	atomic_fetch_add(&s->errors, 1);
	atomic_fetch_add(&s->gen, 1);
	pthread_mutex_lock(&s->st_mu);
	tell = s->st != ST_DOWN;
	s->backoff = tell ? BACKOFF_MIN_MS : (s->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff * 2);
	s->retry_at = now + s->backoff;
	s->st = ST_DOWN;
	atomic_store(&s->up, false);
	pthread_mutex_unlock(&s->st_mu);
	if (tell)
		log_msg(s->cfg.log, LOG_WARNING,
			"shared cache %s: down (%s%s%s): serving from the local cache and the API", s->where,
			strerror(-err), detail && *detail ? ": " : "", detail ? detail : "");
}

static void went_up(struct shared *s)
{
	enum state was;

	pthread_mutex_lock(&s->st_mu);
	was = s->st;
	s->st = ST_UP;
	s->backoff = BACKOFF_MIN_MS;
	atomic_store(&s->up, true);
	pthread_mutex_unlock(&s->st_mu);
	if (was == ST_DOWN)
		log_msg(s->cfg.log, LOG_NOTICE, "shared cache %s: up again", s->where);
	else if (was == ST_UNKNOWN)
		log_msg(s->cfg.log, LOG_INFO, "shared cache %s: connected", s->where);
}

bool shared_up(struct shared *s)
{
	return atomic_load(&s->up);
}

uint64_t shared_errors(struct shared *s)
{
	return atomic_load(&s->errors);
}

/* ---- I/O with one deadline -------------------------------------------------- */

static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - monotime_ms();
		struct pollfd p = {.fd = fd, .events = ev};
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return (p.revents & ev) || (p.revents & POLLHUP) ? 0 : -ECONNRESET;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int write_all(redisContext *rc, int64_t deadline)
{
	int done = 0, err;

	for (;;) {
		if (redisBufferWrite(rc, &done) != REDIS_OK)
			return -ECONNRESET;
		if (done)
			return 0;
		if ((err = wait_fd(rc->fd, POLLOUT, deadline)))
			return err;
	}
}

/* One reply, with at most max bytes buffered while it is incomplete. */
static int read_reply(redisContext *rc, size_t max, int64_t deadline, redisReply **out)
{
	void *r = NULL;
	int err;

	for (;;) {
		if (redisGetReplyFromReader(rc, &r) != REDIS_OK)
			return -EPROTO;
		if (r) {
			*out = r;
			return 0;
		}
		if (rc->reader->len - rc->reader->pos > max)
			return -EFBIG;
		if ((err = wait_fd(rc->fd, POLLIN, deadline)))
			return err;
		if (redisBufferRead(rc) != REDIS_OK)
			return rc->err == REDIS_ERR_PROTOCOL ? -EPROTO : -ECONNRESET;
	}
}

/* An error reply as errno: AUTH trouble is -EACCES (the connection must
 * go); a command the user's ACL does not allow is -EPERM (NOPERM, or
 * EXECABORT for a transaction that queued one); anything else (OOM under
 * maxmemory, LOADING, WRONGTYPE) -EIO. */
static int reply_error(const redisReply *r)
{
	if (strncmp(r->str, "NOAUTH", 6) == 0 || strncmp(r->str, "WRONGPASS", 9) == 0 ||
	    strstr(r->str, "invalid password"))
		return -EACCES;
	if (strncmp(r->str, "NOPERM", 6) == 0 || strncmp(r->str, "EXECABORT", 9) == 0)
		return -EPERM;
	return -EIO;
}

static int command(struct shared *s, redisContext *rc, int argc, const char **argv, const size_t *lens,
		   int64_t deadline, redisReply **out)
{
	int err;

	if (redisAppendCommandArgv(rc, argc, argv, lens) != REDIS_OK)
		return -ENOMEM;
	err = write_all(rc, deadline);
	return err ? err : read_reply(rc, s->cfg.max_reply + 4096, deadline, out);
}

/* One command of a pipeline. */
struct cmd {
	int argc;
	const char *argv[6];
	size_t lens[6];
};

static struct cmd cmd_of(int argc, const char *a0, const char *a1, size_t l1, const char *a2, size_t l2)
{
	struct cmd c = {.argc = argc, .argv = {a0, a1, a2}, .lens = {strlen(a0), l1, l2}};

	return c;
}

/* n commands sent at once, their n replies read into r (each to
 * freeReplyObject; on error, every r[i] is NULL). A reply that buffers
 * more than max bytes is -EFBIG. */
static int pipeline(redisContext *rc, struct cmd *c, size_t n, size_t max, int64_t deadline, redisReply **r)
{
	size_t got = 0;
	int err = 0;

	for (size_t i = 0; i < n; i++)
		r[i] = NULL;
	for (size_t i = 0; i < n && !err; i++)
		if (redisAppendCommandArgv(rc, c[i].argc, c[i].argv, c[i].lens) != REDIS_OK)
			err = -ENOMEM;
	if (!err)
		err = write_all(rc, deadline);
	for (; got < n && !err; got++)
		err = read_reply(rc, max, deadline, &r[got]);
	if (err) {
		while (got > 0) {
			freeReplyObject(r[--got]);
			r[got] = NULL;
		}
		return err;
	}
	return 0;
}

/* The first error reply among n (its text in why) as errno, else 0. */
static int replies_ok(redisReply *const *r, size_t n, char *why, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i]->type == REDIS_REPLY_ERROR) {
			snprintf(why, len, "%.120s", r[i]->str);
			return reply_error(r[i]);
		}
	}
	return 0;
}

static void replies_free(redisReply **r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		freeReplyObject(r[i]);
		r[i] = NULL;
	}
}

/* A command whose reply must be +OK (AUTH, SELECT). */
static int expect_ok(struct shared *s, redisContext *rc, int argc, const char **argv, int64_t deadline, char *why,
		     size_t n)
{
	size_t lens[3];
	redisReply *r = NULL;
	int err;

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	err = command(s, rc, argc, argv, lens, deadline, &r);
	if (!err && r->type == REDIS_REPLY_ERROR) {
		err = reply_error(r);
		snprintf(why, n, "%s refused: %.120s", argv[0], r->str);
	} else if (!err && r->type != REDIS_REPLY_STATUS) {
		err = -EPROTO;
		snprintf(why, n, "%s: not a Redis reply", argv[0]);
	}
	freeReplyObject(r);
	return err;
}

/* TIME, as the offset of the fleet's clock from ours. It is the first
 * command on a connection without AUTH: a server that wants a password
 * answers it with NOAUTH, which is -EACCES like a refused AUTH. */
/* The fleet's clock is Redis's, with two guards, since nothing
 * authenticates TIME: it never goes back within a mount (a step back of
 * Redis's clock, or a server answering in its place, would make old
 * values look young), and it stays within SKEW_MAX_MS of this host's own
 * clock (what a wrong clock can do is bounded; said once). */
/* Sets the offset to off, bounded. Readings race (every pool connection
 * and the subscriber read TIME), so "never back" is a compare-and-swap,
 * not a load and a store; and the bound by this host's clock is applied
 * last, to what was kept too: a clock held forward from an earlier
 * reading (before this host's clock stepped back, or a Redis that was
 * ahead for a while) would otherwise stay ahead for the life of the mount. */
static void set_offset(struct shared *s, int64_t off)
{
	struct timespec now;
	int64_t wall, lo, hi;
	int_fast64_t prev = atomic_load(&s->offset), want;

	clock_gettime(CLOCK_REALTIME, &now);
	wall = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - local_ms(s);
	lo = wall - SKEW_MAX_MS;
	hi = wall + SKEW_MAX_MS;
	if (off < lo || off > hi) {
		if (!atomic_exchange(&s->skew_told, true))
			log_msg(
			    s->cfg.log, LOG_WARNING,
			    "shared cache %s: Redis's clock is %+.1f s from this host's; ages are counted within %d s "
			    "of this host's clock",
			    s->where, (double)(off - wall) / 1000.0, SKEW_MAX_MS / 1000);
		off = off < lo ? lo : hi;
	}
	do {
		want = atomic_load(&s->have_offset) && prev > off ? (prev > hi ? hi : prev) : off;
	} while (!atomic_compare_exchange_weak(&s->offset, &prev, want));
	atomic_store(&s->have_offset, true);
}

static int read_time(struct shared *s, redisContext *rc, int64_t deadline, char *why, size_t n)
{
	const char *argv[] = {"TIME"};
	size_t lens[] = {4};
	redisReply *r = NULL;
	int64_t t0 = local_ms(s), t1;
	int err = command(s, rc, 1, argv, lens, deadline, &r);

	t1 = local_ms(s);
	if (!err && r->type == REDIS_REPLY_ERROR) {
		err = reply_error(r);
		snprintf(why, n, "TIME refused: %.120s", r->str);
	} else if (!err && (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
			    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING))
		err = -EPROTO;
	if (!err) {
		long long sec = strtoll(r->element[0]->str, NULL, 10), usec = strtoll(r->element[1]->str, NULL, 10);

		if (sec <= 0 || usec < 0 || usec >= 1000000) {
			err = -EPROTO;
		} else {
			set_offset(s, sec * 1000 + usec / 1000 - (t0 + t1) / 2);
		}
	}
	if (err && !(r && r->type == REDIS_REPLY_ERROR))
		snprintf(why, n, "TIME: %s", strerror(-err));
	freeReplyObject(r);
	return err;
}

/* hiredis makes a reply object of each element as soon as it is parsed,
 * so read_reply's cap on the bytes buffered does not bound an array of
 * small elements: ":1\r\n" is 4 bytes on the wire and 64 on the heap, and
 * a server sending "*100000000" and integers as fast as we read grew the
 * heap by 250 MB within one 200 ms timeout (tests/review/bigarray.sh). No
 * reply we read is nested or has more than ARRAY_MAX elements: anything
 * else is garbage, refused when its header is parsed (hiredis answers an
 * error, as for no memory). */
static void *capped_array(const redisReadTask *task, int elements)
{
	const struct shared *s = task->privdata;

	if (task->parent || elements > ARRAY_MAX)
		return NULL;
	return s->plain->createArray(task, elements);
}

static void cap_replies(struct shared *s, redisContext *rc)
{
	rc->reader->fn = &s->fns;
	rc->reader->privdata = s;
}

static int dial(struct shared *s, redisContext **out, int64_t deadline, char *why, size_t n)
{
	const struct shared_addr *a = &s->cfg.addr;
	redisContext *rc = a->path[0] ? redisConnectUnixNonBlock(a->path) : redisConnectNonBlock(a->host, a->port);
	int err, soerr = 0;
	socklen_t len = sizeof(soerr);

	if (!rc)
		return -ENOMEM;
	if (rc->err) {
		snprintf(why, n, "%.120s", rc->errstr);
		redisFree(rc);
		return -ECONNREFUSED;
	}
	cap_replies(s, rc);
	err = wait_fd(rc->fd, POLLOUT, deadline);
	if (!err && getsockopt(rc->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr)
		err = -soerr;
	if (err) {
		snprintf(why, n, "connect: %s", strerror(-err));
		redisFree(rc);
		return err;
	}
	*out = rc;
	return 0;
}

/* A ready connection: connected, authenticated, on its database, and the
 * clock read. */
static int open_conn(struct shared *s, redisContext **out, int64_t deadline, char *why, size_t n)
{
	redisContext *rc = NULL;
	char db[16];
	int err = dial(s, &rc, deadline, why, n);

	if (err)
		return err;
	if (s->password) {
		const char *auth[] = {"AUTH", s->user ? s->user : s->password, s->password};

		err = expect_ok(s, rc, s->user ? 3 : 2, auth, deadline, why, n);
	}
	snprintf(db, sizeof(db), "%d", s->cfg.addr.db);
	if (!err && s->cfg.addr.db) {
		const char *sel[] = {"SELECT", db};

		err = expect_ok(s, rc, 2, sel, deadline, why, n);
	}
	if (!err)
		err = read_time(s, rc, deadline, why, n);
	if (err) {
		redisFree(rc);
		return err;
	}
	*out = rc;
	return 0;
}

/* ---- commands over the pool ------------------------------------------------- */

static struct conn *conn_take(struct shared *s)
{
	unsigned start = atomic_fetch_add(&s->rr, 1);

	for (unsigned i = 0; i < POOL; i++) {
		struct conn *c = &s->pool[(start + i) % POOL];

		if (pthread_mutex_trylock(&c->mu) == 0)
			return c;
	}
	pthread_mutex_lock(&s->pool[start % POOL].mu);
	return &s->pool[start % POOL];
}

/* c's connection, opened when missing or older than the last time the
 * client went down: a Redis restart leaves every pooled connection dead,
 * and finding that out one connection at a time would mark the client
 * down (a backoff of failures, a log line) once per connection. */
static int conn_ready(struct shared *s, struct conn *c, int64_t deadline, char *why, size_t n)
{
	unsigned gen = atomic_load(&s->gen);
	int err;

	if (c->rc && c->gen == gen)
		return 0;
	if (c->rc)
		redisFree(c->rc);
	c->rc = NULL;
	err = open_conn(s, &c->rc, deadline, why, n);
	c->gen = gen;
	return err;
}

/* What a call does on its connection: sends its commands and reads their
 * replies. 0, or -errno: an error reply as reply_error says (its text in
 * why), -ENOENT and the like for what the caller's answer means. */
typedef int (*call_fn)(struct shared *s, redisContext *rc, int64_t deadline, void *arg, char *why, size_t n);

/* A command the ACL refused: Redis is up and answers everything else, so
 * the client is not marked down (that would flap with each command); the
 * configuration is wrong, which is said once. */
static void refused(struct shared *s, const char *why)
{
	if (!atomic_exchange(&s->noperm_told, true))
		log_msg(s->cfg.log, LOG_WARNING,
			"shared cache %s: Redis refused a command (%s): the ACL lacks a command imgtagfs sends "
			"(imgtagfs --check -o shared_cache=... prints the line it needs); serving from the "
			"local cache and the API meanwhile",
			s->where, why);
}

/* Runs fn on a pooled connection within one deadline. *resent (when not
 * NULL) says it ran twice: the first may have run, its answer lost with
 * the connection. A stateful fn (WATCH, MULTI) leaves its connection in
 * an unknown state when it fails, so the connection goes then. */
static int call(struct shared *s, call_fn fn, void *arg, bool stateful, bool *resent)
{
	int64_t deadline = monotime_ms() + s->cfg.timeout_ms;
	struct conn *c = conn_take(s);
	char why[256] = "";
	int err = may_try(s) ? 0 : -ENOTCONN;
	bool fresh = !c->rc || c->gen != atomic_load(&s->gen);

	if (!err)
		err = conn_ready(s, c, deadline, why, sizeof(why));
	if (!err)
		err = fn(s, c->rc, deadline, arg, why, sizeof(why));
	/* A pooled connection that the server closed (a restart, a timeout
	 * of its own) is found out by its first use: once more on a new one,
	 * within the same deadline, before anyone is told Redis is down. */
	if (resent)
		*resent = false;
	if (!fresh && (err == -ECONNRESET || err == -EPIPE)) {
		if (resent)
			*resent = true;
		redisFree(c->rc);
		c->rc = NULL;
		err = conn_ready(s, c, deadline, why, sizeof(why));
		if (!err)
			err = fn(s, c->rc, deadline, arg, why, sizeof(why));
	}
	if (err == -EIO || err == -EPERM || (err == -ENOENT && stateful)) {
		/* The server answers: it is up, this command failed (or, for
		 * -ENOENT, did what it should). */
		if (err != -ENOENT)
			atomic_fetch_add(&s->errors, 1);
		if (err == -EPERM)
			refused(s, why);
		if (stateful && err != -ENOENT) {
			redisFree(c->rc);
			c->rc = NULL;
		}
		went_up(s);
	} else if (err && err != -ENOTCONN && err != -ENOENT) {
		/* The connection is in an unknown state (a reply half read):
		 * it goes, whatever happened. */
		redisFree(c->rc);
		c->rc = NULL;
		if (err == -EFBIG)
			atomic_fetch_add(&s->errors, 1); /* the value's fault, not the server's state */
		else
			went_down(s, err, why);
	} else if (err != -ENOTCONN) {
		went_up(s);
	}
	pthread_mutex_unlock(&c->mu);
	return err;
}

/* One command: its reply, of any type but an error, in *out. */
struct one {
	struct cmd c;
	size_t max; /* the bytes its reply may buffer */
	redisReply *out;
};

static int one_fn(struct shared *s, redisContext *rc, int64_t deadline, void *arg, char *why, size_t n)
{
	struct one *o = arg;
	int err = pipeline(rc, &o->c, 1, o->max ? o->max : s->cfg.max_reply + 4096, deadline, &o->out);

	if (!err && (err = replies_ok(&o->out, 1, why, n)) != 0)
		replies_free(&o->out, 1);
	return err;
}

static int run(struct shared *s, struct one *o, bool *resent)
{
	o->out = NULL;
	return call(s, one_fn, o, false, resent);
}

int shared_check(struct shared *s, char *why, size_t n)
{
	const char *argv[] = {"PING"};
	size_t lens[] = {4};
	redisReply *r = NULL;
	int64_t deadline = monotime_ms() + s->cfg.timeout_ms;
	struct conn *c = conn_take(s);
	int err = conn_ready(s, c, deadline, why, n);

	if (!err && (err = command(s, c->rc, 1, argv, lens, deadline, &r)) == 0 && r->type != REDIS_REPLY_STATUS) {
		err = r->type == REDIS_REPLY_ERROR ? reply_error(r) : -EPROTO;
		snprintf(why, n, "PING: %.120s", r->type == REDIS_REPLY_ERROR ? r->str : "not a Redis reply");
	} else if (err && !*why) {
		snprintf(why, n, "%s", strerror(-err));
	}
	freeReplyObject(r);
	if (err) {
		/* The caller says why, once; the next operation tries again. */
		redisFree(c->rc);
		c->rc = NULL;
		atomic_fetch_add(&s->errors, 1);
	} else {
		went_up(s);
	}
	pthread_mutex_unlock(&c->mu);
	return err;
}

/* A bulk reply into out: -ENOENT for nil (when nil_ok), -EFBIG past
 * out's cap or max_reply. */
static int take_string(const struct shared *s, const redisReply *r, struct buf *out, bool nil_ok)
{
	buf_reset(out);
	if (r->type == REDIS_REPLY_NIL && nil_ok)
		return -ENOENT;
	if (r->type != REDIS_REPLY_STRING)
		return -EPROTO;
	if (r->len > s->cfg.max_reply)
		return -EFBIG;
	return buf_add(out, r->str, r->len);
}

/* The most a reply for out may buffer: out's cap, within max_reply,
 * and the protocol's framing. A value over it is refused while it is
 * read, so a forged one costs about that much, not its size. */
static size_t cap_for(const struct shared *s, const struct buf *out)
{
	return (out->max < s->cfg.max_reply ? out->max : s->cfg.max_reply) + 64;
}

int shared_get(struct shared *s, const char *key, struct buf *out)
{
	struct one o = {.c = cmd_of(2, "GET", key, strlen(key), NULL, 0), .max = cap_for(s, out)};
	int err = run(s, &o, NULL);

	buf_reset(out);
	if (err)
		return err;
	err = take_string(s, o.out, out, true);
	freeReplyObject(o.out);
	return err;
}

int shared_get_range(struct shared *s, const char *key, size_t start, size_t len, struct buf *out)
{
	char from[24], to[24];
	struct one o = {.c = {.argc = 4, .argv = {"GETRANGE", key, from, to}}, .max = cap_for(s, out)};
	int err;

	buf_reset(out);
	if (len == 0)
		return 0;
	o.c.lens[0] = 8;
	o.c.lens[1] = strlen(key);
	o.c.lens[2] = (size_t)snprintf(from, sizeof(from), "%zu", start);
	o.c.lens[3] = (size_t)snprintf(to, sizeof(to), "%zu", start + len - 1);
	err = run(s, &o, NULL);
	if (err)
		return err;
	err = take_string(s, o.out, out, false);
	freeReplyObject(o.out);
	return err;
}

static int status_ok(int err, redisReply *r)
{
	if (!err && r->type != REDIS_REPLY_STATUS)
		err = r->type == REDIS_REPLY_NIL ? -EEXIST : -EPROTO;
	freeReplyObject(r);
	return err;
}

static size_t px_text(char *px, size_t n, int64_t px_ms)
{
	return (size_t)snprintf(px, n, "%lld", (long long)(px_ms > 0 ? px_ms : 1));
}

int shared_set(struct shared *s, const char *key, const void *v, size_t n, int64_t px_ms)
{
	char px[24];
	struct one o = {.c = {.argc = 5, .argv = {"SET", key, v, "PX", px}, .lens = {3, strlen(key), n, 2, 0}}};
	int err;

	o.c.lens[4] = px_text(px, sizeof(px), px_ms);
	err = run(s, &o, NULL);
	return status_ok(err, o.out);
}

/* Whether key holds token now. */
static bool holds(struct shared *s, const char *key, const char *token)
{
	struct one o = {.c = cmd_of(2, "GET", key, strlen(key), NULL, 0)};
	bool yes = run(s, &o, NULL) == 0 && o.out->type == REDIS_REPLY_STRING && o.out->len == strlen(token) &&
		   memcmp(o.out->str, token, o.out->len) == 0;

	freeReplyObject(o.out);
	return yes;
}

int shared_lock(struct shared *s, const char *key, const char *token, int64_t px_ms)
{
	char px[24];
	struct one o = {.c = {.argc = 6,
			      .argv = {"SET", key, token, "NX", "PX", px},
			      .lens = {3, strlen(key), strlen(token), 2, 2, 0}}};
	bool resent;
	int err;

	o.c.lens[5] = px_text(px, sizeof(px), px_ms);
	err = run(s, &o, &resent);
	err = status_ok(err, o.out);
	/* Sent twice: the first SET may have taken the lock, and the second
	 * found it held, by us. Taken for someone else's, the lock would be
	 * waited for until it expired (tests/unit/test_shared.c,
	 * test_lock_reply_lost). */
	if (err == -EEXIST && resent && holds(s, key, token))
		err = 0;
	return err;
}

/* ---- locks without scripts -------------------------------------------------- */

/* Checking a lock's holder and acting on it in one step is what EVAL
 * did; but a user allowed EVAL can run any script, "while true do end"
 * included, which blocks Redis for every client until an administrator
 * steps in (SCRIPT KILL being refused to that user), and an ACL cannot
 * confine what a script does. So an optimistic transaction instead,
 * which an ACL confines command by command and key by key: WATCH the
 * lock and GET it; if it holds our token, MULTI, the change, EXEC, which
 * Redis runs only if nobody touched the lock since the WATCH (nil
 * otherwise: no longer ours). Two round trips; a lock is checked this
 * way once a second while its fetch runs and once when it ends. */
struct cas {
	const char *key, *token;
	const char *new_token; /* SET it PX px; NULL: DEL */
	char px[24];
};

static int cas_fn(struct shared *s, redisContext *rc, int64_t deadline, void *arg, char *why, size_t n)
{
	struct cas *c = arg;
	size_t kl = strlen(c->key), max = s->cfg.max_reply + 4096;
	struct cmd look[2] = {cmd_of(2, "WATCH", c->key, kl, NULL, 0), cmd_of(2, "GET", c->key, kl, NULL, 0)};
	struct cmd act[3] = {cmd_of(1, "MULTI", NULL, 0, NULL, 0), cmd_of(2, "DEL", c->key, kl, NULL, 0),
			     cmd_of(1, "EXEC", NULL, 0, NULL, 0)};
	struct cmd unwatch = cmd_of(1, "UNWATCH", NULL, 0, NULL, 0);
	redisReply *r[3] = {NULL};
	bool ours;
	int err = pipeline(rc, look, 2, max, deadline, r);

	if (err || (err = replies_ok(r, 2, why, n)) != 0) {
		replies_free(r, 2);
		return err;
	}
	ours = r[1]->type == REDIS_REPLY_STRING && r[1]->len == strlen(c->token) &&
	       memcmp(r[1]->str, c->token, r[1]->len) == 0;
	replies_free(r, 2);
	if (!ours) {
		err = pipeline(rc, &unwatch, 1, max, deadline, r);
		if (!err)
			err = replies_ok(r, 1, why, n);
		replies_free(r, 1);
		return err ? err : -ENOENT;
	}
	if (c->new_token)
		act[1] = (struct cmd){.argc = 5,
				      .argv = {"SET", c->key, c->new_token, "PX", c->px},
				      .lens = {3, kl, strlen(c->new_token), 2, strlen(c->px)}};
	err = pipeline(rc, act, 3, max, deadline, r);
	if (!err)
		err = replies_ok(r, 3, why, n);
	if (!err && r[2]->type != REDIS_REPLY_ARRAY)
		err = r[2]->type == REDIS_REPLY_NIL ? -ENOENT : -EPROTO; /* nil: touched meanwhile */
	replies_free(r, 3);
	return err;
}

int shared_relock(struct shared *s, const char *key, const char *token, const char *new_token, int64_t px_ms)
{
	struct cas c = {.key = key, .token = token, .new_token = new_token ? new_token : token};

	px_text(c.px, sizeof(c.px), px_ms);
	return call(s, cas_fn, &c, true, NULL);
}

int shared_unlock(struct shared *s, const char *key, const char *token)
{
	struct cas c = {.key = key, .token = token};

	return call(s, cas_fn, &c, true, NULL);
}

/* A lock's value and time to live, read together (MULTI GET PTTL EXEC). */
struct peek {
	const char *key;
	struct buf *value;
	int64_t pttl;
};

static int peek_fn(struct shared *s, redisContext *rc, int64_t deadline, void *arg, char *why, size_t n)
{
	struct peek *p = arg;
	size_t kl = strlen(p->key);
	struct cmd c[4] = {cmd_of(1, "MULTI", NULL, 0, NULL, 0), cmd_of(2, "GET", p->key, kl, NULL, 0),
			   cmd_of(2, "PTTL", p->key, kl, NULL, 0), cmd_of(1, "EXEC", NULL, 0, NULL, 0)};
	redisReply *r[4] = {NULL}, *x;
	int err = pipeline(rc, c, 4, cap_for(s, p->value), deadline, r);

	if (err)
		return err;
	err = replies_ok(r, 4, why, n);
	x = r[3];
	if (!err && (x->type != REDIS_REPLY_ARRAY || x->elements != 2 || x->element[1]->type != REDIS_REPLY_INTEGER))
		err = -EPROTO;
	if (!err) {
		err = take_string(s, x->element[0], p->value, true);
		p->pttl = x->element[1]->integer;
	}
	replies_free(r, 4);
	return err;
}

int shared_lock_peek(struct shared *s, const char *key, struct buf *value, int64_t *pttl_ms)
{
	struct peek p = {.key = key, .value = value, .pttl = -2};
	int err = call(s, peek_fn, &p, true, NULL);

	*pttl_ms = p.pttl;
	return err;
}

int shared_publish(struct shared *s, const char *channel, const void *msg, size_t n)
{
	struct one o = {.c = {.argc = 3, .argv = {"PUBLISH", channel, msg}, .lens = {7, strlen(channel), n}}};
	int err = run(s, &o, NULL);

	if (!err && o.out->type != REDIS_REPLY_INTEGER)
		err = -EPROTO;
	freeReplyObject(o.out);
	return err;
}

int shared_now(struct shared *s, int64_t *now_ms)
{
	if (!atomic_load(&s->have_offset))
		return -ENOTCONN;
	*now_ms = local_ms(s) + atomic_load(&s->offset);
	return 0;
}

int64_t shared_offset(struct shared *s)
{
	return atomic_load(&s->offset);
}

/* ---- the subscriber ------------------------------------------------------------- */

struct sub {
	redisContext *rc;
	int64_t ping_sent; /* monotonic ms of a PING not yet answered, or 0 */
	int64_t last_ping;
	bool lost; /* was subscribed once, and lost it */
};

static int sub_open(struct shared *s, struct sub *b)
{
	const char *argv[] = {"SUBSCRIBE", s->channel};
	size_t lens[] = {9, strlen(s->channel)};
	int64_t deadline = monotime_ms() + s->cfg.timeout_ms;
	redisReply *r = NULL;
	char why[256] = "";
	bool refused = false;
	int err = open_conn(s, &b->rc, deadline, why, sizeof(why));

	if (!err && (err = command(s, b->rc, 2, argv, lens, deadline, &r)) == 0 &&
	    (r->type != REDIS_REPLY_ARRAY || r->elements != 3)) {
		err = r->type == REDIS_REPLY_ERROR ? reply_error(r) : -EPROTO;
		refused = r->type == REDIS_REPLY_ERROR;
		/* An ACL without the channel: say so, not just "denied". */
		snprintf(why, sizeof(why), "SUBSCRIBE %s refused: %.120s (the user needs &%s)", s->channel,
			 r->type == REDIS_REPLY_ERROR ? r->str : "not a Redis reply", s->channel);
	}
	freeReplyObject(r);
	if (err) {
		if (b->rc)
			redisFree(b->rc);
		b->rc = NULL;
		if (!refused) {
			went_down(s, err, why);
			return err;
		}
		/* The server answers, and refuses this one command: Redis is
		 * up for everything else, so the client is not marked down
		 * (that would flap with every retry); said once. */
		if (!atomic_exchange(&s->sub_refused_told, true))
			log_msg(s->cfg.log, LOG_WARNING,
				"shared cache %s: no invalidations from other hosts: %s; listings are still shared "
				"(never older than ttl); retrying every %d s",
				s->where, why, SUB_REFUSED_MS / 1000);
		return -EPERM;
	}
	went_up(s);
	b->ping_sent = 0;
	b->last_ping = monotime_ms();
	if (b->lost && s->on_gap)
		s->on_gap(s->sub_arg);
	return 0;
}

/* One message or pong from the subscription. */
static void sub_reply(struct shared *s, struct sub *b, const redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[0]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(r->element[0]->str, "pong") == 0)
		b->ping_sent = 0;
	else if (strcmp(r->element[0]->str, "message") == 0 && r->elements == 3 &&
		 r->element[2]->type == REDIS_REPLY_STRING)
		s->on_msg(s->sub_arg, r->element[2]->str, r->element[2]->len);
}

/* Reads what arrived; 0, or -errno when the connection must go. */
static int sub_read(struct shared *s, struct sub *b)
{
	void *r;

	if (redisBufferRead(b->rc) != REDIS_OK)
		return -ECONNRESET;
	for (;;) {
		r = NULL;
		if (redisGetReplyFromReader(b->rc, &r) != REDIS_OK)
			return -EPROTO;
		if (!r)
			break;
		sub_reply(s, b, r);
		freeReplyObject(r);
	}
	return b->rc->reader->len - b->rc->reader->pos > s->cfg.max_reply + 4096 ? -EFBIG : 0;
}

/* A PING every second, and a server that does not answer one within the
 * timeout (hung: kill -STOP) is given up. */
static int sub_ping(struct shared *s, struct sub *b)
{
	int64_t now = monotime_ms(), limit = s->cfg.timeout_ms > PING_EVERY_MS ? s->cfg.timeout_ms : PING_EVERY_MS;
	const char *argv[] = {"PING"};
	size_t lens[] = {4};

	if (b->ping_sent)
		return now - b->ping_sent > limit ? -ETIMEDOUT : 0;
	if (now - b->last_ping < PING_EVERY_MS)
		return 0;
	b->last_ping = b->ping_sent = now;
	if (redisAppendCommandArgv(b->rc, 1, argv, lens) != REDIS_OK)
		return -ENOMEM;
	return write_all(b->rc, now + s->cfg.timeout_ms);
}

static void sub_step(struct shared *s, struct sub *b)
{
	struct pollfd p = {.fd = b->rc->fd, .events = POLLIN};
	int err = 0;

	if (poll(&p, 1, SLICE_MS) > 0)
		err = sub_read(s, b);
	if (!err)
		err = sub_ping(s, b);
	if (err) {
		redisFree(b->rc);
		b->rc = NULL;
		b->lost = true;
		went_down(s, err, "subscriber");
	}
}

static void *sub_main(void *arg)
{
	struct shared *s = arg;
	struct sub b = {0};
	struct timespec slice = {.tv_nsec = 100 * 1000000L};

	int64_t next = 0; /* after a refused SUBSCRIBE, the next try */

	while (!atomic_load(&s->sub_stop)) {
		if (b.rc)
			sub_step(s, &b);
		else if (monotime_ms() < next || !may_try(s))
			nanosleep(&slice, NULL);
		else if (sub_open(s, &b) == -EPERM)
			next = monotime_ms() + SUB_REFUSED_MS;
		else if (!b.rc)
			nanosleep(&slice, NULL);
	}
	if (b.rc)
		redisFree(b.rc);
	return NULL;
}

int shared_subscribe(struct shared *s, const char *channel, shared_msg_fn on_msg, shared_gap_fn on_gap, void *arg)
{
	int err;

	if (s->sub_running)
		return -EBUSY;
	free(s->channel);
	s->channel = strdup(channel);
	if (!s->channel)
		return -ENOMEM;
	s->on_msg = on_msg;
	s->on_gap = on_gap;
	s->sub_arg = arg;
	atomic_store(&s->sub_stop, false);
	err = -pthread_create(&s->sub, NULL, sub_main, s);
	s->sub_running = !err;
	return err;
}

void shared_unsubscribe(struct shared *s)
{
	if (!s || !s->sub_running)
		return;
	atomic_store(&s->sub_stop, true);
	pthread_join(s->sub, NULL);
	s->sub_running = false;
}

/* ---- lifecycle ------------------------------------------------------------------ */

struct shared *shared_new(const struct shared_config *cfg)
{
	struct shared *s = calloc(1, sizeof(*s));
	redisReader *r = redisReaderCreate();

	if (!s || !r) {
		free(s);
		if (r)
			redisReaderFree(r);
		return NULL;
	}
	/* hiredis's reply functions are its own (static): taken from a reader. */
	s->plain = r->fn;
	redisReaderFree(r);
	s->fns = *s->plain;
	s->fns.createArray = capped_array;
	for (int i = 0; i < POOL; i++)
		pthread_mutex_init(&s->pool[i].mu, NULL);
	pthread_mutex_init(&s->st_mu, NULL);
	s->cfg = *cfg;
	if ((cfg->user && !(s->user = strdup(cfg->user))) ||
	    (cfg->password && !(s->password = strdup(cfg->password)))) {
		shared_free(s);
		return NULL;
	}
	s->cfg.user = s->cfg.password = NULL; /* the caller's copies are theirs */
	if (s->cfg.timeout_ms <= 0)
		s->cfg.timeout_ms = 200;
	shared_addr_text(&cfg->addr, s->where, sizeof(s->where));
	s->backoff = BACKOFF_MIN_MS;
	return s;
}

void shared_free(struct shared *s)
{
	if (!s)
		return;
	shared_unsubscribe(s);
	for (int i = 0; i < POOL; i++) {
		if (s->pool[i].rc)
			redisFree(s->pool[i].rc);
		pthread_mutex_destroy(&s->pool[i].mu);
	}
	pthread_mutex_destroy(&s->st_mu);
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	free(s->user);
	free(s->channel);
	free(s);
}
