/* test_tier.c — the shared tier's policy against a real redis-server of
 * its own (redis_srv.h). Two or more struct tier, each on a struct shared
 * of its own, on one Redis, stand for the hosts of a fleet; each host's
 * API is a counter that builds a snapshot. Every test has a namespace of
 * its own, so none sees another's values, locks or messages.
 *
 * Covered: a fill shared (one API call for two hosts, the second dated
 * from the first's fetch), min_born, values dated too old or in the
 * future, values tampered with or moved to another namespace, listing or
 * MAC key (refused, counted, rewritten), forged huge values (read no
 * further than their authenticated head), single flight (a waiter gets
 * the holder's value; a dead holder's lock is waited for until it
 * expires; locks no live host holds are not waited for, and counted; a
 * token replayed without its date renewed goes stale; the heartbeat keeps
 * a slow fetch's lock and its date), invalidations (a key, everything, a
 * changed listing; one's own ignored; forged, misdated and replayed ones
 * refused; a gap in the subscription is "everything"), tier_cancel ending
 * a wait, Redis down (straight to the API), and a Redis whose only user
 * is the fleet's, with the ACL line --check prints (no EVAL, no SELECT,
 * one namespace).
 *
 * Time: the hosts' local clock is the test's (fx_clock): the monotonic
 * clock plus what the test stepped it by. It keeps running, because
 * Redis's TIME does: a frozen local clock would move a host's fleet clock
 * by the real time elapsed at each new connection's TIME reading. Dates
 * that a test compares (a value's, a lock token's, an invalidation's) are
 * set apart by a step (STEP_MS or more), far more than the hosts' offsets
 * can disagree (half a TIME round trip), instead of by a sleep and a
 * tolerance of a few ms. A host's fleet clock follows a step only when it
 * read its offset before it (shared.c keeps the larger reading), so a test
 * connects every host before its first step; and it keeps its steps below
 * the 5 s the fleet clock may run ahead of CLOCK_REALTIME (4 s at most).
 * What the test cannot step is Redis's own expiry of a key (PX), and the
 * heartbeat's period: those are real time, and the test gives them a
 * second or more of room, never a tolerance of a few ms.
 * Waits are for an event (a counter, a message heard, a host blocked in
 * its API), each bounded by WAIT_MS; upper bounds on a duration are far
 * from the limit they tell apart (BOUND_MS against a LONG_MS wait_ms).
 * What must not happen (a waiter giving up on a live lock) has no event:
 * it is watched for a second of real time, ten of the waiter's polls.
 * Without redis-server the binary prints a SKIP line and exits 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "fresh.h"
#include "monotime.h"
#include "redis_srv.h"
#include "shared.h"
#include "sign.h"
#include "snap.h"
#include "sval.h"
#include "tier.h"

#define HOSTS 4
#define TTL_MS 60000
#define TIMEOUT_MS 5000	    /* no operation against a healthy Redis times out, however loaded the machine */
#define STEP_MS 1000	    /* a step of the test's clock */
#define WAIT_MS 30000	    /* the longest wait for an event */
#define LONG_MS 60000	    /* a wait_ms or lock that a test must never sit out */
#define BOUND_MS 10000	    /* "well before LONG_MS" */
#define CLOCK_BASE 86400000 /* the test's clock starts a day in */
#define SLACK_MS 2000	    /* tier.c's TOKEN_SLACK_MS: a token's date may be this far off */
#define KEY "T4:repoimg"
#define KEY2 "T4:repoapp"
/* A listing of a repository with a ttl of its own, a tenth of TTL_MS. */
#define SHORT_KEY "T2:ciapp"
#define SHORT_TTL_MS (TTL_MS / 10)
#define PROBE "T5:probeimg"
#define MARK "T5:markimg"
#define SHA_A "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define RECV_MAX 64
#define NO_BORN INT64_MIN
#define FLEET_PW "fleet-Pw-4711"

/* A host's API: counts calls, answers a listing with a tag of its own.
 * A gated API blocks each call until the test opens the gate. */
struct api {
	atomic_int calls;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool gated; /* under mu */
	char tag[16];
};

/* What a host's receiver was told. */
struct heard {
	pthread_mutex_t mu;
	int n;
	char key[RECV_MAX][64]; /* "*" for NULL (everything) */
};

struct host;

/* A host's fill on a thread of its own (in the fixture, not on a test's
 * stack: a failing test leaves it to the teardown). */
struct filler {
	struct host *h;
	int rc;
	struct snap *out;
	struct tier_result res;
	bool running;	  /* until joined */
	atomic_bool done; /* tier_fill returned */
	pthread_t th;
};

struct host {
	struct shared *sh;
	struct tier *t;
	struct api api;
	struct heard heard;
	struct filler w;
};

struct fx {
	struct redis_srv_group *g;
	struct fresh *fresh;
	_Atomic int64_t step; /* what the test's clock was stepped by */
	int64_t probe_at;     /* the last probe's date: each one's is new */
	struct redis_srv own;
	char ns[TIER_NS_LEN + 1];
	unsigned char mac[SVAL_KEY_LEN];
	struct host h[HOSTS];
	struct shared *admin; /* the test's own writes: see admin() */
};

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* The hosts' local clock (fresh's, and so shared's). */
static int64_t fx_clock(void *arg)
{
	struct fx *f = arg;

	return CLOCK_BASE + monotime_ms() + atomic_load(&f->step);
}

/* Steps the test's clock: what happened before is ms older for every host
 * that had connected (read its fleet offset) by now. */
static void step(struct fx *f, int64_t ms)
{
	atomic_fetch_add(&f->step, ms);
}

/* ---- the API, the receiver ------------------------------------------------- */

/* tag's listing, or NULL (no cmocka assert here: the API runs on the
 * tier's callers' threads, some of them the test's own). */
static struct snap *listing(const char *tag)
{
	struct snap_builder *b = snap_builder_new();
	struct snap_entry e[] = {
	    {.name = "latest", .digest = SHA_A, .mtime = 1700000000},
	    {.name = tag, .digest = "sha512:abcdef", .mtime = 1700000001},
	    {.name = "untimed", .time_raw = "yesterday", .mtime = SNAP_NO_TIME},
	};

	for (size_t i = 0; b && i < sizeof(e) / sizeof(e[0]); i++) {
		if (snap_builder_add(b, &e[i]) != 0) {
			snap_builder_free(b);
			return NULL;
		}
	}
	return b ? snap_builder_finish(b) : NULL;
}

/* The same on the test's thread. */
static struct snap *expect_listing(const char *tag)
{
	struct snap *s = listing(tag);

	assert_non_null(s);
	return s;
}

static int api_fn(void *arg, struct snap **out)
{
	struct api *a = arg;

	atomic_fetch_add(&a->calls, 1);
	pthread_mutex_lock(&a->mu);
	while (a->gated)
		pthread_cond_wait(&a->cv, &a->mu);
	pthread_mutex_unlock(&a->mu);
	*out = listing(a->tag);
	return *out ? 0 : -ENOMEM;
}

static void api_gate(struct api *a, bool gated)
{
	pthread_mutex_lock(&a->mu);
	a->gated = gated;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* Until cond(arg) holds, for WAIT_MS at most; whether it does. */
static bool wait_until(bool (*cond)(void *), void *arg)
{
	int64_t t0 = monotime_ms();

	while (!cond(arg) && monotime_ms() - t0 < WAIT_MS)
		sleep_ms(2);
	return cond(arg);
}

static bool api_called(void *arg)
{
	return atomic_load(&((struct api *)arg)->calls) > 0;
}

static void on_key(void *arg, const char *key)
{
	struct heard *h = arg;

	pthread_mutex_lock(&h->mu);
	if (h->n < RECV_MAX)
		snprintf(h->key[h->n++], sizeof(h->key[0]), "%s", key ? key : "*");
	pthread_mutex_unlock(&h->mu);
}

/* How many times h heard key ("*": everything). */
static int heard_of(struct heard *h, const char *key)
{
	int n = 0;

	pthread_mutex_lock(&h->mu);
	for (int i = 0; i < h->n; i++)
		n += strcmp(h->key[i], key) == 0;
	pthread_mutex_unlock(&h->mu);
	return n;
}

static bool wait_heard(struct heard *h, const char *key, int n, int64_t limit)
{
	int64_t t0 = monotime_ms();

	while (heard_of(h, key) < n && monotime_ms() - t0 < limit)
		sleep_ms(2);
	return heard_of(h, key) >= n;
}

static void forget_heard(struct heard *h)
{
	pthread_mutex_lock(&h->mu);
	h->n = 0;
	pthread_mutex_unlock(&h->mu);
}

/* a and b list the same entries: their values are the same bytes (sval's
 * form is canonical: a value that decodes encodes back to itself). */
static void assert_same(const struct snap *a, const struct snap *b)
{
	static const uint8_t k[SVAL_KEY_LEN] = {0};
	struct buf x, y;

	buf_init(&x, 1u << 20);
	buf_init(&y, 1u << 20);
	assert_int_equal(sval_encode(a, "cmp", KEY, 0, k, &x), 0);
	assert_int_equal(sval_encode(b, "cmp", KEY, 0, k, &y), 0);
	assert_int_equal(x.len, y.len);
	assert_memory_equal(x.data, y.data, x.len);
	assert_int_equal(snap_count(a), snap_count(b));
	buf_release(&x);
	buf_release(&y);
}

/* ---- fixtures ----------------------------------------------------------------- */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	static const struct fresh_repo_ttl own[] = {{"ci", SHORT_TTL_MS}};
	struct fresh_config fc = {
	    .ttl_ms = TTL_MS, .neg_ttl_ms = 1000, .repo_ttls = own, .n_repo_ttls = 1, .clock = fx_clock};

	fc.clock_arg = f;
	if (!f || !(f->fresh = fresh_new(&fc))) {
		free(f);
		return -1;
	}
	f->g = *state;
	snprintf(f->ns, sizeof(f->ns), "%016x", 0xbeef0000u + f->g->seq++);
	for (int i = 0; i < SVAL_KEY_LEN; i++)
		f->mac[i] = (unsigned char)(i * 7 + 1);
	for (int i = 0; i < HOSTS; i++) {
		pthread_mutex_init(&f->h[i].heard.mu, NULL);
		pthread_mutex_init(&f->h[i].api.mu, NULL);
		pthread_cond_init(&f->h[i].api.cv, NULL);
		snprintf(f->h[i].api.tag, sizeof(f->h[i].api.tag), "from-%c", 'a' + i);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < HOSTS; i++) {
		struct filler *w = &f->h[i].w;

		if (w->running) { /* a test failed while it waited */
			tier_cancel(f->h[i].t);
			api_gate(&f->h[i].api, false);
			pthread_join(w->th, NULL);
			snap_unref(w->out);
		}
	}
	for (int i = 0; i < HOSTS; i++) {
		tier_free(f->h[i].t); /* before its shared: it stops the subscriber */
		shared_free(f->h[i].sh);
		pthread_mutex_destroy(&f->h[i].heard.mu);
		pthread_cond_destroy(&f->h[i].api.cv);
		pthread_mutex_destroy(&f->h[i].api.mu);
	}
	shared_free(f->admin);
	redis_srv_stop(&f->own);
	fresh_free(f->fresh);
	free(f);
	return 0;
}

/* Host i on the Redis at path as Redis user user (NULL: none), in
 * namespace ns, with MAC key mac. */
static struct host *host_as(struct fx *f, int i, const char *path, const char *user, const char *ns,
			    const unsigned char *mac, int64_t wait_ms, int64_t lock_ms)
{
	struct host *h = &f->h[i];
	struct shared_config sc = {
	    .user = user,
	    .password = user ? FLEET_PW : NULL,
	    .timeout_ms = TIMEOUT_MS,
	    .max_reply = 16u << 20,
	    .clock = fresh_clock, /* as main.c: the tier converts with this clock's offset */
	    .clock_arg = f->fresh,
	};
	struct tier_config tc = {
	    .fresh = f->fresh,
	    .lock_ms = lock_ms,
	    .wait_ms = wait_ms,
	    .max_value = 16u << 20,
	};

	snprintf(sc.addr.path, sizeof(sc.addr.path), "%s", path);
	h->sh = shared_new(&sc);
	assert_non_null(h->sh);
	tc.sh = h->sh;
	memcpy(tc.mac_key, mac, SVAL_KEY_LEN);
	memcpy(tc.ns, ns, sizeof(tc.ns));
	h->t = tier_new(&tc);
	assert_non_null(h->t);
	tier_set_receiver(h->t, on_key, &h->heard);
	return h;
}

/* Host i on the Redis at path, in namespace ns, with MAC key mac. */
static struct host *host_on(struct fx *f, int i, const char *path, const char *ns, const unsigned char *mac,
			    int64_t wait_ms, int64_t lock_ms)
{
	return host_as(f, i, path, NULL, ns, mac, wait_ms, lock_ms);
}

static struct host *host(struct fx *f, int i, int64_t wait_ms)
{
	return host_on(f, i, f->g->redis.sock, f->ns, f->mac, wait_ms, 0);
}

static void start(struct host *h)
{
	assert_int_equal(tier_start(h->t), 0);
}

static struct tier_stats stats(struct host *h)
{
	struct tier_stats st;

	tier_get_stats(h->t, &st);
	return st;
}

/* A fill of key; the snapshot is checked and returned (to snap_unref). */
static struct snap *fill(struct host *h, const char *key, int64_t min_born, struct tier_result *res)
{
	struct snap *s = NULL;

	assert_int_equal(tier_fill(h->t, key, min_born, api_fn, &h->api, &s, res), 0);
	assert_non_null(s);
	return s;
}

static void *filler_main(void *arg)
{
	struct filler *w = arg;

	w->rc = tier_fill(w->h->t, KEY, NO_BORN, api_fn, &w->h->api, &w->out, &w->res);
	atomic_store(&w->done, true);
	return NULL;
}

/* h fills KEY on a thread. */
static void fill_async(struct host *h)
{
	struct filler *w = &h->w;

	memset(w, 0, sizeof(*w));
	w->h = h;
	assert_int_equal(pthread_create(&w->th, NULL, filler_main, w), 0);
	w->running = true;
}

/* Its end: the fill succeeded. */
static struct filler *fill_join(struct host *h)
{
	struct filler *w = &h->w;

	pthread_join(w->th, NULL);
	w->running = false;
	assert_int_equal(w->rc, 0);
	assert_non_null(w->out);
	return w;
}

/* ---- Redis, by hand ---------------------------------------------------------- */

static void redis_key(const char *ns, const char *what, const char *key, char *out, size_t n)
{
	snprintf(out, n, "imgtagfs:1:%s:%s%s", ns, what, key);
}

/* The test's own client, on the group's Redis, for what the test writes
 * and reads by hand: with a timeout of 5 s, since a test's own write (8
 * MiB of them) must not fail under load the way a host's may (a host
 * falls back to the API; a test would fail). */
static struct shared *admin(struct fx *f)
{
	struct shared_config sc = {.timeout_ms = 5000, .max_reply = 16u << 20};

	if (!f->admin) {
		snprintf(sc.addr.path, sizeof(sc.addr.path), "%s", f->g->redis.sock);
		f->admin = shared_new(&sc);
		assert_non_null(f->admin);
	}
	return f->admin;
}

static void raw_get(struct fx *f, const char *ns, const char *key, struct buf *out)
{
	char rk[256];

	redis_key(ns, "", key, rk, sizeof(rk));
	buf_init(out, 1u << 20);
	assert_int_equal(shared_get(admin(f), rk, out), 0);
}

static void raw_set(struct fx *f, const char *ns, const char *key, const void *v, size_t n)
{
	char rk[256];

	redis_key(ns, "", key, rk, sizeof(rk));
	assert_int_equal(shared_set(admin(f), rk, v, n, TTL_MS), 0);
}

/* Writes a value of tag's listing, as a host of the fleet would, fetched
 * at the fleet's now plus skew. */
static void write_value(struct fx *f, const char *key, const char *tag, int64_t skew)
{
	struct snap *s = expect_listing(tag);
	struct buf v;
	int64_t now = 0;

	assert_int_equal(shared_now(f->h[0].sh, &now), 0);
	buf_init(&v, 1u << 20);
	assert_int_equal(sval_encode(s, f->ns, key, now + skew, f->mac, &v), 0);
	raw_set(f, f->ns, key, v.data, v.len);
	buf_release(&v);
	snap_unref(s);
}

/* key's lock taken with value v for px ms, as any writer to Redis can. */
static void raw_lock(struct fx *f, const char *key, const char *v, int64_t px)
{
	char lk[256];

	redis_key(f->ns, "lock:", key, lk, sizeof(lk));
	assert_int_equal(shared_set(admin(f), lk, v, strlen(v), px), 0);
}

/* A token of the fleet for key, as host 0 would write it, dated skew ms
 * from the fleet's now; host 0 is connected (its clock read) first. */
static const char *token(struct fx *f, const char *key, int64_t skew, char *out, size_t n)
{
	int64_t now = 0;

	assert_int_equal(shared_now(f->h[0].sh, &now), 0);
	assert_int_equal(tier_lock_token(f->h[0].t, key, now + skew, out, n), 0);
	return out;
}

/* key's lock held by a live host of the fleet (host 0, as another host
 * would hold it: a token dated now), for px ms. */
static void foreign_lock(struct fx *f, const char *key, int64_t px)
{
	char t[256];

	raw_lock(f, key, token(f, key, 0, t, sizeof(t)), px);
}

static void foreign_unlock(struct fx *f, const char *key)
{
	char lk[256];

	redis_key(f->ns, "lock:", key, lk, sizeof(lk));
	assert_int_equal(shared_set(admin(f), lk, "x", 1, 1), 0); /* gone within 1 ms */
}

/* Connects host i's shared (the fleet clock read) without a fill. */
static void connect_host(struct host *h)
{
	char why[256];

	assert_int_equal(shared_check(h->sh, why, sizeof(why)), 0);
}

/* ---- reading and writing ------------------------------------------------------- */

static void test_fill_then_hit(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host(f, 1, 1000);
	struct tier_result ra, rb;
	struct snap *sa, *sb, *want = expect_listing("from-a");
	struct tier_stats st;
	int64_t now;

	connect_host(a);
	connect_host(b);
	sa = fill(a, KEY, NO_BORN, &ra);
	assert_true(ra.from_api);
	assert_int_equal(atomic_load(&a->api.calls), 1);
	st = stats(a);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.hits, 0);
	assert_true(st.up);
	assert_same(sa, want);

	step(f, STEP_MS);
	sb = fill(b, KEY, NO_BORN, &rb);
	now = fresh_now(f->fresh);
	assert_false(rb.from_api);
	assert_int_equal(atomic_load(&b->api.calls), 0);
	assert_same(sb, sa);
	/* Dated from A's fetch: born set, and at A's API call (a step before
	 * B's fill), not at B's read. */
	assert_true(snap_born(sb) != SNAP_BORN_NONE);
	assert_true(snap_born(sb) <= now - STEP_MS / 2);
	assert_true(snap_born(sb) >= ra.fetched - STEP_MS / 2 && snap_born(sb) <= ra.fetched + STEP_MS / 2);
	st = stats(b);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 0);
	assert_int_equal(st.writes, 0);
	assert_int_equal(st.rejected, 0);
	assert_int_equal(st.waits, 0);
	snap_unref(sa);
	snap_unref(sb);
	snap_unref(want);
}

static void test_min_born(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host(f, 1, 1000), *c = host(f, 2, 1000);
	struct tier_result ra, rb, rc;
	struct snap *sa, *sb, *sc, *want = expect_listing("from-b");
	int64_t newer;

	connect_host(a);
	connect_host(b);
	connect_host(c);
	sa = fill(a, KEY, NO_BORN, &ra);
	/* Older than A's value: a hit. */
	sb = fill(b, KEY, ra.fetched - STEP_MS / 2, &rb);
	assert_false(rb.from_api);
	snap_unref(sb);
	/* B holds a listing newer than A's value: a miss, from B's API, and
	 * B's value replaces A's. */
	step(f, STEP_MS);
	newer = fresh_now(f->fresh);
	sb = fill(b, KEY, newer, &rb);
	assert_true(rb.from_api);
	assert_int_equal(atomic_load(&b->api.calls), 1);
	assert_same(sb, want);
	assert_int_equal(stats(b).writes, 1);
	/* C holds one between the two, by half a step either side (each host
	 * converts dates with its own reading of Redis's clock, within half a
	 * round trip of the others'): B's value is newer, and taken. */
	sc = fill(c, KEY, newer - STEP_MS / 2, &rc);
	assert_false(rc.from_api);
	assert_same(sc, want);
	assert_true(snap_born(sc) > newer - STEP_MS / 2);
	snap_unref(sa);
	snap_unref(sb);
	snap_unref(sc);
	snap_unref(want);
}

/* Values dated older than the ttl are misses; dated more than a little in
 * the future, refused (a clock cannot be that far off). */
static void test_dates(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host(f, 1, 1000);
	struct tier_result r;
	struct snap *s;
	int64_t t0, t1;

	connect_host(a);
	connect_host(b);
	write_value(f, KEY, "old", -(TTL_MS + STEP_MS));
	s = fill(b, KEY, NO_BORN, &r);
	assert_true(r.from_api);
	assert_int_equal(stats(b).rejected, 0);
	snap_unref(s);

	/* Within clock skew (under tier.c's FUTURE_MS, 2 s): born when B read
	 * it, not when it says; and not before it was written (t0 is taken
	 * first: the write may take long, the value is dated a step ahead). */
	t0 = fresh_now(f->fresh);
	write_value(f, KEY, "soon", STEP_MS);
	s = fill(b, KEY, NO_BORN, &r);
	t1 = fresh_now(f->fresh);
	assert_false(r.from_api);
	assert_true(snap_born(s) >= t0 && snap_born(s) <= t1);
	snap_unref(s);

	write_value(f, KEY, "future", 60000);
	s = fill(b, KEY, NO_BORN, &r);
	assert_true(r.from_api);
	assert_int_equal(stats(b).rejected, 1);
	assert_int_equal(atomic_load(&b->api.calls), 2);
	snap_unref(s);
}

/* A value is taken only while younger than its own listing's ttl: one
 * of a repository with a shorter ttl is a miss at an age that another
 * repository's value is still taken at. */
static void test_repository_ttl(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host(f, 1, 1000);
	struct tier_result r;

	connect_host(a);
	connect_host(b);
	write_value(f, KEY, "old", -(SHORT_TTL_MS + STEP_MS));
	write_value(f, SHORT_KEY, "old", -(SHORT_TTL_MS + STEP_MS));
	snap_unref(fill(b, KEY, NO_BORN, &r));
	assert_false(r.from_api);
	snap_unref(fill(b, SHORT_KEY, NO_BORN, &r));
	assert_true(r.from_api);
	assert_int_equal(atomic_load(&b->api.calls), 1);
	/* Younger than its ttl, the short one is taken too. */
	write_value(f, SHORT_KEY, "new", -(SHORT_TTL_MS - 2 * STEP_MS));
	snap_unref(fill(a, SHORT_KEY, NO_BORN, &r));
	assert_false(r.from_api);
}

static void test_tampered(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host(f, 1, 1000), *c = host(f, 2, 1000);
	struct tier_result r;
	struct snap *s, *d = NULL, *want = expect_listing("from-b");
	struct buf v;
	int64_t fetched = 0;

	snap_unref(fill(a, KEY, NO_BORN, &r));
	raw_get(f, f->ns, KEY, &v);
	v.data[v.len / 2] ^= 0x01;
	raw_set(f, f->ns, KEY, v.data, v.len);
	buf_release(&v);

	s = fill(b, KEY, NO_BORN, &r);
	assert_true(r.from_api);
	assert_int_equal(atomic_load(&b->api.calls), 1);
	assert_int_equal(stats(b).rejected, 1);
	assert_int_equal(stats(b).writes, 1);
	assert_same(s, want);
	snap_unref(s);
	/* Rewritten, correctly: it decodes, and the next host takes it. */
	raw_get(f, f->ns, KEY, &v);
	assert_int_equal(sval_decode(v.data, v.len, 1u << 20, f->ns, KEY, f->mac, &fetched, &d, NULL), SVAL_OK);
	assert_same(d, want);
	snap_unref(d);
	buf_release(&v);
	s = fill(c, KEY, NO_BORN, &r);
	assert_false(r.from_api);
	assert_int_equal(stats(c).rejected, 0);
	assert_same(s, want);
	snap_unref(s);
	snap_unref(want);
}

/* Values anyone who can write to Redis can store under a listing's key:
 * 8 MiB of "ITFS" and zeros (under the cap of 16 MiB here), and a real
 * value's head before 8 MiB of junk. Refused and counted, the listing
 * fetched from the API; the first without reading more than its head's
 * bytes, the second without reading past the length its head vouches for
 * (no reply over the cap, which would count as a Redis error). */
static void test_big_forgeries(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host(f, 1, 1000);
	struct tier_result r;
	size_t big = 8u << 20;
	char *junk = calloc(1, big);
	struct buf v;

	assert_non_null(junk);
	memcpy(junk, "ITFS", 4);
	snap_unref(fill(a, KEY, NO_BORN, &r));
	raw_get(f, f->ns, KEY, &v);
	raw_set(f, f->ns, KEY2, junk, big);
	memcpy(junk, v.data, v.len - SVAL_MAC_LEN); /* the real head and entries, then zeros */
	raw_set(f, f->ns, KEY, junk, big);
	buf_release(&v);
	for (int i = 0; i < 2; i++) {
		snap_unref(fill(b, i ? KEY : KEY2, NO_BORN, &r));
		assert_true(r.from_api);
		assert_int_equal(stats(b).rejected, i + 1);
	}
	assert_int_equal(stats(b).errors, 0);
	assert_true(stats(b).up);
	free(junk);
}

/* h's fill of key refuses the value in Redis, counts it once, and asks
 * the API (its calls-th call). */
static void refused_once(struct host *h, const char *key, int calls)
{
	struct tier_result r;

	snap_unref(fill(h, key, NO_BORN, &r));
	assert_true(r.from_api);
	assert_int_equal(stats(h).rejected, 1);
	assert_int_equal(atomic_load(&h->api.calls), calls);
}

/* A value moved to another namespace or listing, or made under another
 * MAC key: refused, counted, and the API asked. */
static void test_foreign_values(void **state)
{
	struct fx *f = *state;
	char ns2[TIER_NS_LEN + 1] = "00000000ffffffff";
	unsigned char mac2[SVAL_KEY_LEN];
	struct host *a = host(f, 0, 1000), *b = host(f, 1, 1000), *other_ns, *other_mac;
	struct tier_result r;
	struct buf v;

	memcpy(mac2, f->mac, sizeof(mac2));
	mac2[0] ^= 0x80;
	snprintf(ns2, sizeof(ns2), "%08x%08x", 0xfeedu, f->g->seq);
	other_ns = host_on(f, 2, f->g->redis.sock, ns2, f->mac, 1000, 0);
	other_mac = host_on(f, 3, f->g->redis.sock, f->ns, mac2, 1000, 0);
	snap_unref(fill(a, KEY, NO_BORN, &r));
	raw_get(f, f->ns, KEY, &v);
	raw_set(f, ns2, KEY, v.data, v.len);	/* another namespace */
	raw_set(f, f->ns, KEY2, v.data, v.len); /* another listing */
	buf_release(&v);

	refused_once(other_ns, KEY, 1);
	refused_once(b, KEY2, 1);
	refused_once(other_mac, KEY, 1);
	/* And the value other_mac wrote is refused by A in turn. */
	refused_once(a, KEY, 2);
}

/* ---- single flight ----------------------------------------------------------- */

/* Waits until h's fill is past its first read (a miss counted): it is
 * in single flight, taking the lock or waiting for its holder. */
static bool missed(void *arg)
{
	return stats(arg).misses > 0;
}

static void wait_missed(struct host *h)
{
	assert_true(wait_until(missed, h));
	assert_int_equal(stats(h).misses, 1);
}

/* For ms of real time, h's fill of KEY keeps waiting for the lock's
 * holder: it neither ends, nor calls its API, nor counts the lock as
 * squatted. tick(arg), when given, runs every 20 ms meanwhile. */
static void keeps_waiting(struct host *h, int64_t ms, void (*tick)(void *), void *arg)
{
	int64_t t0 = monotime_ms();

	while (monotime_ms() - t0 < ms && !api_called(&h->api) && !atomic_load(&h->w.done)) {
		if (tick)
			tick(arg);
		sleep_ms(20);
	}
	assert_int_equal(atomic_load(&h->api.calls), 0);
	assert_false(atomic_load(&h->w.done));
	assert_int_equal(stats(h).squatted, 0);
	assert_int_equal(stats(h).waits, 0);
}

/* A host whose waits and locks are LONG_MS: it never sits one out. The
 * fleet's hosts have one lock_ms (a lock longer than the judge's own is
 * squatted), so a test's hosts that share locks are all of this kind. */
static struct host *host_long(struct fx *f, int i)
{
	return host_on(f, i, f->g->redis.sock, f->ns, f->mac, LONG_MS, LONG_MS);
}

/* B waits for a lock's holder, polling, and takes its value as soon as it
 * is there: well before its wait_ms or the lock's life (a minute each). */
static void test_wait_for_holder(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host_long(f, 1);
	struct filler *w;
	struct snap *want = expect_listing("from-a");
	int64_t t0;

	connect_host(a);
	foreign_lock(f, KEY, LONG_MS);
	fill_async(b);
	wait_missed(b);
	assert_int_equal(stats(b).waits, 0);
	t0 = monotime_ms();
	write_value(f, KEY, "from-a", 0);
	w = fill_join(b);
	assert_true(monotime_ms() - t0 < BOUND_MS);
	assert_false(w->res.from_api);
	assert_int_equal(atomic_load(&b->api.calls), 0);
	assert_int_equal(stats(b).waits, 1);
	assert_int_equal(stats(b).hits, 0);
	assert_int_equal(stats(b).squatted, 0);
	assert_same(w->out, want);
	foreign_unlock(f, KEY);
	snap_unref(w->out);
	snap_unref(want);
}

/* A fetches KEY, its API held until release(arg) returns; B fills KEY
 * meanwhile: B waits for A's value instead of calling its own API. */
static void fill_behind(struct host *a, struct host *b, void (*release)(void *), void *arg)
{
	struct filler *wa, *wb;

	api_gate(&a->api, true);
	fill_async(a);
	assert_true(wait_until(api_called, &a->api)); /* A holds the lock */
	fill_async(b);
	wait_missed(b);
	if (release)
		release(arg);
	api_gate(&a->api, false);
	wa = fill_join(a);
	wb = fill_join(b);
	assert_true(wa->res.from_api);
	assert_false(wb->res.from_api);
	assert_int_equal(atomic_load(&a->api.calls), 1);
	assert_int_equal(atomic_load(&b->api.calls), 0);
	assert_int_equal(stats(b).waits, 1);
	assert_int_equal(stats(b).squatted, 0);
	assert_same(wb->out, wa->out);
	snap_unref(wa->out);
	snap_unref(wb->out);
}

/* Two hosts, one slow listing: one API call for both. */
static void test_one_fetch_for_two(void **state)
{
	struct fx *f = *state;

	fill_behind(host_long(f, 0), host_long(f, 1), NULL, NULL);
}

/* A lock whose holder died: it expires within a lock's life (it is not
 * renewed), and B then takes it and fetches for the fleet, long before
 * its wait_ms; nothing is counted as squatted. The expiry is Redis's, in
 * real time: B's fill lasts at least most of the lock's PX. */
static void test_dead_holder(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host(f, 1, LONG_MS);
	struct tier_result r;
	struct snap *s;
	int64_t t0;

	connect_host(a);
	connect_host(b);
	t0 = monotime_ms(); /* before the lock: it expires STEP_MS after t0 or later */
	foreign_lock(f, KEY, STEP_MS);
	s = fill(b, KEY, NO_BORN, &r);
	assert_true(monotime_ms() - t0 >= STEP_MS / 2);
	assert_true(monotime_ms() - t0 < BOUND_MS);
	assert_true(r.from_api);
	assert_int_equal(atomic_load(&b->api.calls), 1);
	assert_int_equal(stats(b).writes, 1); /* shared all the same */
	assert_int_equal(stats(b).squatted, 0);
	snap_unref(s);
}

/* h's fill of KEY is not kept waiting by the lock there (wait_ms is
 * LONG_MS): it goes to the API at once, and counts the lock as squatted.
 * (It takes no value from Redis: it holds one newer than any there.) */
static void not_waited_for(struct fx *f, struct host *h, int squatted)
{
	struct tier_result r;
	int64_t t0 = monotime_ms();

	snap_unref(fill(h, KEY, fresh_now(f->fresh), &r));
	assert_true(monotime_ms() - t0 < BOUND_MS);
	assert_true(r.from_api);
	assert_int_equal(stats(h).squatted, squatted);
	assert_int_equal(stats(h).waits, 0);
}

/* Locks that no live host of the fleet holds, such as any writer to
 * Redis can leave: a value of another form ("SET KEY x"), a token with a
 * life longer than a lock's, a token dated long ago or far ahead, a token
 * of another listing, a token whose MAC fails. None is waited for. Each
 * lock lives a minute or more, so none expires before B judges it, and
 * the dates are minutes from the limits they cross. */
static void test_squatted(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host_long(f, 1);
	char t[256], lk[256];
	struct buf v;

	connect_host(a);
	raw_lock(f, KEY, "a-dead-host", LONG_MS);
	not_waited_for(f, b, 1);
	assert_int_equal(stats(b).writes, 1); /* fetched for the fleet all the same */
	raw_lock(f, KEY, token(f, KEY, 0, t, sizeof(t)), 2 * LONG_MS);
	not_waited_for(f, b, 2);
	raw_lock(f, KEY, token(f, KEY, -3 * LONG_MS, t, sizeof(t)), LONG_MS);
	not_waited_for(f, b, 3);
	raw_lock(f, KEY, token(f, KEY, LONG_MS, t, sizeof(t)), LONG_MS);
	not_waited_for(f, b, 4);
	raw_lock(f, KEY, token(f, KEY2, 0, t, sizeof(t)), LONG_MS);
	not_waited_for(f, b, 5);
	t[strlen(t) - 1] ^= 1; /* the MAC */
	raw_lock(f, KEY, t, LONG_MS);
	not_waited_for(f, b, 6);
	/* The squatted lock is left alone (it may be a host's whose clock is
	 * off: deleting it is not this host's call). */
	redis_key(f->ns, "lock:", KEY, lk, sizeof(lk));
	buf_init(&v, 4096);
	assert_int_equal(shared_get(a->sh, lk, &v), 0);
	assert_string_equal(v.data, t);
	buf_release(&v);
}

/* The replayer of test_replayed_lock: the lock SET again, token and
 * life unchanged. */
struct replay {
	struct fx *f;
	const char *token;
	int64_t px;
};

static void replay_lock(void *arg)
{
	struct replay *rp = arg;

	raw_lock(rp->f, KEY, rp->token, rp->px);
}

/* A token of the fleet, dated now and never renewed, SET again and again
 * by someone who saw it (a heartbeat that does not move), each time with
 * a life within a lock's: waited for while its date is within a lock's
 * life (and the slack for clocks, SLACK_MS), no longer. B's lock_ms is
 * 2 s, so the token goes stale 4 s after its date; the test's clock is
 * stepped 4 s (after a second of waiting), and B gives up at its next
 * poll, with its wait_ms a minute away. */
static void test_replayed_lock(void **state)
{
	struct fx *f = *state;
	int64_t lock_ms = 2 * STEP_MS;
	struct host *a = host(f, 0, 1000), *b = host_on(f, 1, f->g->redis.sock, f->ns, f->mac, LONG_MS, lock_ms);
	struct replay rp = {.f = f, .px = lock_ms};
	struct filler *w;
	char t[256];
	int64_t t0;

	connect_host(a);
	connect_host(b);
	rp.token = token(f, KEY, 0, t, sizeof(t));
	replay_lock(&rp);
	fill_async(b);
	wait_missed(b);
	keeps_waiting(b, STEP_MS, replay_lock, &rp); /* young: a live holder's */
	step(f, lock_ms + SLACK_MS);		     /* now older than its life, by the second waited */
	t0 = monotime_ms();
	while (!api_called(&b->api) && monotime_ms() - t0 < WAIT_MS) {
		replay_lock(&rp);
		sleep_ms(20);
	}
	w = fill_join(b);
	assert_true(monotime_ms() - t0 < BOUND_MS);
	assert_true(w->res.from_api);
	assert_int_equal(stats(b).squatted, 1);
	assert_int_equal(stats(b).waits, 0);
	snap_unref(w->out);
}

/* While A's fetch is held, B waits: past the lock's own life (lock_ms,
 * 3 s, with a second to spare) its PX renewed by A's heartbeat, and past
 * a step of the test's clock (2 s) that leaves a token not dated anew
 * older than a lock's life and the slack before the watch ends (2 s and
 * 4 s against 3 s and 2 s), while a token the heartbeat dates each second
 * never is. The lock is still there, a token other than the first. */
struct outlive {
	struct fx *f;
	struct host *a, *b;
	int64_t lock_ms;
};

static void outlive_lock(void *arg)
{
	struct outlive *o = arg;
	struct buf first, v;
	char lk[256];

	redis_key(o->f->ns, "lock:", KEY, lk, sizeof(lk));
	buf_init(&first, 4096);
	buf_init(&v, 4096);
	assert_int_equal(shared_get(o->a->sh, lk, &first), 0);
	step(o->f, 2 * STEP_MS);
	keeps_waiting(o->b, o->lock_ms + STEP_MS, NULL, NULL);
	assert_int_equal(shared_get(o->a->sh, lk, &v), 0);
	assert_false(v.len == first.len && memcmp(v.data, first.data, v.len) == 0);
	buf_release(&first);
	buf_release(&v);
}

/* A fetch slower than lock_ms keeps its lock by the heartbeat (every
 * second), so B waits for it instead of fetching too; the lock is
 * released after the fetch. */
static void test_heartbeat(void **state)
{
	struct fx *f = *state;
	struct outlive o = {.f = f, .lock_ms = 3000};
	struct buf v;
	char lk[256];

	o.a = host_on(f, 0, f->g->redis.sock, f->ns, f->mac, LONG_MS, o.lock_ms);
	o.b = host_on(f, 1, f->g->redis.sock, f->ns, f->mac, LONG_MS, o.lock_ms);
	start(o.a);
	fill_behind(o.a, o.b, outlive_lock, &o);
	redis_key(f->ns, "lock:", KEY, lk, sizeof(lk));
	buf_init(&v, 4096);
	assert_int_equal(shared_get(o.a->sh, lk, &v), -ENOENT);
	buf_release(&v);
}

/* tier_cancel ends a wait for a live holder at once; the fill then goes
 * to the API (it does not fail), and so do later fills that find a lock
 * held: each well before its wait_ms of a minute, none of the locks
 * counted as squatted. */
static void test_cancel(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host_long(f, 1);
	struct filler *w;
	struct tier_result r;
	int64_t t0;

	connect_host(a);
	foreign_lock(f, KEY2, LONG_MS);
	foreign_lock(f, KEY, LONG_MS);
	fill_async(b);
	wait_missed(b);
	t0 = monotime_ms();
	tier_cancel(b->t);
	w = fill_join(b);
	assert_true(monotime_ms() - t0 < BOUND_MS);
	assert_true(w->res.from_api);
	assert_int_equal(atomic_load(&b->api.calls), 1);
	snap_unref(w->out);
	t0 = monotime_ms();
	snap_unref(fill(b, KEY2, NO_BORN, &r));
	assert_true(monotime_ms() - t0 < BOUND_MS);
	assert_true(r.from_api);
	assert_int_equal(atomic_load(&b->api.calls), 2);
	assert_int_equal(stats(b).squatted, 0);
	tier_cancel(b->t); /* idempotent */
}

/* ---- invalidations -------------------------------------------------------------- */

/* a tells the fleet key changed, in a message of its own: each one is
 * dated later than the last (the same date twice would be the same
 * message, refused as a replay). */
static void tell(struct fx *f, struct host *a, const char *key)
{
	struct tier_result res = {.from_api = true};
	int64_t now = fresh_now(f->fresh);

	f->probe_at = now > f->probe_at ? now : f->probe_at + 1;
	res.fetched = f->probe_at;
	tier_changed(a->t, key, &res);
}

/* Until b's subscriber hears a's messages (it subscribes on its own
 * thread), a says PROBE changed; then MARK, and once b has that, no probe
 * is still on its way (Redis delivers one publisher's messages in order,
 * and a's thread publishes its queue in order). */
static void sync_to(struct fx *f, struct host *a, struct host *b)
{
	int64_t t0 = monotime_ms();

	while (heard_of(&b->heard, PROBE) == 0 && monotime_ms() - t0 < WAIT_MS) {
		tell(f, a, PROBE);
		wait_heard(&b->heard, PROBE, 1, 50);
	}
	assert_true(heard_of(&b->heard, PROBE) > 0);
	tell(f, a, MARK);
	assert_true(wait_heard(&b->heard, MARK, 1, WAIT_MS));
}

/* The same, then b's receiver forgets. */
static void sync_hosts(struct fx *f, struct host *a, struct host *b)
{
	sync_to(f, a, b);
	forget_heard(&b->heard);
}

static void test_invalidate(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host(f, 1, 1000);
	struct tier_result r;
	uint64_t got, got_a;

	start(a);
	start(b);
	sync_hosts(f, a, b);
	sync_hosts(f, b, a);
	got_a = stats(a).invalidations_received;
	snap_unref(fill(a, KEY, NO_BORN, &r));
	snap_unref(fill(b, KEY, NO_BORN, &r));
	assert_false(r.from_api);
	got = stats(b).invalidations_received;

	step(f, STEP_MS); /* the invalidation is later than A's fetch */
	tier_invalidate(a->t, KEY);
	assert_true(wait_heard(&b->heard, KEY, 1, WAIT_MS));
	assert_int_equal(stats(b).invalidations_received, got + 1);
	assert_true(stats(a).invalidations_sent >= 1);
	/* The old value is still in Redis, and B refuses it now. */
	step(f, STEP_MS); /* B's fetch is later than the invalidation */
	snap_unref(fill(b, KEY, NO_BORN, &r));
	assert_true(r.from_api);
	assert_int_equal(atomic_load(&b->api.calls), 1);
	assert_int_equal(stats(b).rejected, 0); /* a miss, not a forgery */
	/* B's new value is after the invalidation: A takes it. */
	snap_unref(fill(a, KEY, NO_BORN, &r));
	assert_false(r.from_api);
	assert_int_equal(atomic_load(&a->api.calls), 1);

	/* Everything. */
	step(f, STEP_MS);
	tier_invalidate(a->t, NULL);
	assert_true(wait_heard(&b->heard, "*", 1, WAIT_MS));
	snap_unref(fill(b, KEY, NO_BORN, &r));
	assert_true(r.from_api);
	assert_int_equal(atomic_load(&b->api.calls), 2);

	/* A changed listing; one learnt from the fleet is not told again. */
	r.from_api = false;
	tier_changed(a->t, KEY2, &r);
	r.from_api = true;
	r.fetched = fresh_now(f->fresh);
	tier_changed(a->t, KEY, &r);
	assert_true(wait_heard(&b->heard, KEY, 2, WAIT_MS));
	assert_int_equal(heard_of(&b->heard, KEY2), 0);
	/* A never hears itself: once it has B's mark, it has had its own
	 * messages too, and heard only B's. */
	sync_to(f, b, a);
	assert_int_equal(heard_of(&a->heard, KEY), 0);
	assert_int_equal(heard_of(&a->heard, KEY2), 0);
	assert_int_equal(heard_of(&a->heard, "*"), 0);
	assert_int_equal(stats(a).invalidations_received - got_a,
			 (uint64_t)(heard_of(&a->heard, PROBE) + heard_of(&a->heard, MARK)));
}

/* Messages on the channel that are not the fleet's: refused and counted,
 * the receiver not called. */
static void test_forged_messages(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host(f, 1, 1000);
	char chan[128];
	unsigned char m[19 + sizeof(KEY) - 1 + 32];
	size_t kl = sizeof(KEY) - 1;

	start(a);
	start(b);
	sync_hosts(f, a, b);
	snprintf(chan, sizeof(chan), "imgtagfs:1:%s:inval", f->ns);
	assert_int_equal(shared_publish(a->sh, chan, "HTTP/1.1 400 Bad Request\r\n\r\n", 28), 0);
	assert_int_equal(shared_publish(a->sh, chan, "", 0), 0);
	/* The right shape and a MAC of zeros. */
	memset(m, 0, sizeof(m));
	m[0] = 1;
	m[17] = (unsigned char)kl;
	memcpy(m + 19, KEY, kl);
	assert_int_equal(shared_publish(a->sh, chan, m, sizeof(m)), 0);
	/* A genuine message after them: when B has it, it had those. */
	sync_hosts(f, a, b);
	assert_int_equal(stats(b).rejected, 3);
	assert_int_equal(heard_of(&b->heard, KEY), 0);
	assert_int_equal(heard_of(&b->heard, "*"), 0);
}

/* An authentic invalidation of KEY dated at (fleet ms), from an origin
 * of neither host, into m (MSG_LEN bytes), as a host of the fleet would
 * write it: tier.c's layout, MAC'd under the fleet's key. */
#define MSG_LEN (19 + sizeof(KEY) - 1 + 32)
static void forge_message(const struct fx *f, uint64_t at, unsigned char m[MSG_LEN])
{
	size_t kl = sizeof(KEY) - 1;
	unsigned char in[TIER_NS_LEN + 1 + MSG_LEN];

	memset(m, 0, MSG_LEN);
	m[0] = 1;
	m[1] = 7;
	for (int j = 0; j < 8; j++)
		m[9 + j] = (unsigned char)(at >> (8 * j));
	m[17] = (unsigned char)kl;
	memcpy(m + 19, KEY, kl);
	memcpy(in, f->ns, TIER_NS_LEN + 1);
	memcpy(in + TIER_NS_LEN + 1, m, 19 + kl);
	assert_int_equal(sign_hmac_sha256(f->mac, SVAL_KEY_LEN, in, TIER_NS_LEN + 1 + 19 + kl, m + 19 + kl), 0);
}

/* Authentic messages dated a day ahead (sent by a host whose fleet clock
 * was wrong when it connected, and replayable at will: it refused the
 * key's values for a day) or a day ago (late, or replayed: no listing b
 * holds is that old): refused and counted, b's receiver not called, and
 * a's value of KEY still taken by b. */
static void test_dated_messages(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host(f, 1, 1000);
	unsigned char m[MSG_LEN];
	struct tier_result r;
	char chan[128];
	int64_t now;

	start(a);
	start(b);
	sync_hosts(f, a, b);
	assert_int_equal(shared_now(a->sh, &now), 0);
	snprintf(chan, sizeof(chan), "imgtagfs:1:%s:inval", f->ns);
	for (int i = 0; i < 2; i++) {
		forge_message(f, (uint64_t)(i ? now - 86400000 : now + 86400000), m);
		assert_int_equal(shared_publish(a->sh, chan, m, sizeof(m)), 0);
	}
	sync_hosts(f, a, b);
	assert_int_equal(stats(b).rejected, 2);
	assert_int_equal(heard_of(&b->heard, KEY), 0);
	snap_unref(fill(a, KEY, NO_BORN, &r));
	assert_true(r.from_api);
	snap_unref(fill(b, KEY, NO_BORN, &r));
	assert_false(r.from_api);
}

/* An authentic message published twice (a replay: anyone may PUBLISH)
 * is applied once: the second is refused and the receiver not called. */
static void test_replayed_message(void **state)
{
	struct fx *f = *state;
	struct host *a = host(f, 0, 1000), *b = host(f, 1, 1000);
	unsigned char m[MSG_LEN];
	struct tier_stats before;
	char chan[128];
	int64_t now;

	start(a);
	start(b);
	sync_hosts(f, a, b);
	assert_int_equal(shared_now(a->sh, &now), 0);
	before = stats(b);
	snprintf(chan, sizeof(chan), "imgtagfs:1:%s:inval", f->ns);
	forge_message(f, (uint64_t)now, m);
	for (int i = 0; i < 3; i++)
		assert_int_equal(shared_publish(a->sh, chan, m, sizeof(m)), 0);
	assert_true(wait_heard(&b->heard, KEY, 1, WAIT_MS));
	/* Messages sent after the three: once b has them, it had them all. */
	sync_to(f, a, b);
	assert_int_equal(heard_of(&b->heard, KEY), 1);
	assert_int_equal(stats(b).invalidations_received - before.invalidations_received,
			 (uint64_t)(1 + heard_of(&b->heard, PROBE) + heard_of(&b->heard, MARK)));
	assert_int_equal(stats(b).rejected - before.rejected, 2);
}

/* The subscription lost and back (Redis restarted): messages may have
 * been missed, so the receiver is told "everything". */
static void test_gap(void **state)
{
	struct fx *f = *state;
	struct host *b;

	assert_int_equal(redis_srv_start(&f->own, NULL), 0);
	b = host_on(f, 1, f->own.sock, f->ns, f->mac, 1000, 0);
	host_on(f, 0, f->own.sock, f->ns, f->mac, 1000, 0);
	start(&f->h[0]);
	start(b);
	sync_hosts(f, &f->h[0], b);
	assert_int_equal(redis_srv_restart(&f->own), 0);
	assert_true(wait_heard(&b->heard, "*", 1, WAIT_MS));
}

/* ---- the fleet's ACL ---------------------------------------------------------- */

/* Splits line at spaces into args (n slots, NULL-terminated); the words
 * point into line. */
static int words(char *line, const char **args, int n)
{
	int k = 0;

	for (char *w = line; *w && k < n - 1;) {
		char *end = w + strcspn(w, " ");

		args[k++] = w;
		if (!*end)
			break;
		*end = '\0';
		w = end + 1;
	}
	args[k] = NULL;
	return k;
}

/* A Redis whose only user is the fleet's, with the ACL line --check
 * prints (tier_acl_scope and shared_acl_commands): no EVAL, no SELECT,
 * nothing outside the namespace. A fill, another host waiting for it
 * through a fetch longer than the lock's life (the heartbeat's
 * check-and-extend), the release and an invalidation all work within it,
 * and no command is refused. */
static void test_fleet_acl(void **state)
{
	struct fx *f = *state;
	struct shared_addr db0 = {.port = 6379};
	char line[1024], scope[256];
	const char *args[REDIS_SRV_ARGS + 1];
	struct outlive o = {.f = f, .lock_ms = 3000};
	struct buf v;
	int k;

	assert_int_equal(tier_acl_scope(f->ns, scope, sizeof(scope)), 0);
	snprintf(line, sizeof(line), "--user default off --user fleet on >" FLEET_PW " %s %s", scope,
		 shared_acl_commands(&db0));
	assert_null(strstr(line, "+eval"));
	assert_null(strstr(line, "+select"));
	k = words(line, args, REDIS_SRV_ARGS + 1);
	assert_true(k < REDIS_SRV_ARGS);
	assert_int_equal(redis_srv_start(&f->own, args), 0);
	/* Locks as test_heartbeat's. */
	o.a = host_as(f, 0, f->own.sock, "fleet", f->ns, f->mac, LONG_MS, o.lock_ms);
	o.b = host_as(f, 1, f->own.sock, "fleet", f->ns, f->mac, LONG_MS, o.lock_ms);
	start(o.a);
	start(o.b);
	sync_hosts(f, o.a, o.b);
	/* Each step fails if the ACL refuses one of its commands: B reads the
	 * value (GETRANGE) and the lock (MULTI GET PTTL EXEC), A renews the
	 * lock with a token dated anew (WATCH GET MULTI SET EXEC), which keeps
	 * it past its life and past a step of the clock, and releases it
	 * (... DEL ...). */
	fill_behind(o.a, o.b, outlive_lock, &o);
	tier_invalidate(o.a->t, KEY);
	assert_true(wait_heard(&o.b->heard, KEY, 1, WAIT_MS));
	assert_true(stats(o.a).up && stats(o.b).up);
	/* The lock was released, and another namespace is out of reach. */
	buf_init(&v, 4096);
	{
		char lk[256];

		redis_key(f->ns, "lock:", KEY, lk, sizeof(lk));
		assert_int_equal(shared_get(o.a->sh, lk, &v), -ENOENT);
		assert_int_equal(shared_get(o.a->sh, "imgtagfs:1:0000000000000000:R", &v), -EPERM);
	}
	buf_release(&v);
	assert_true(stats(o.a).errors >= 1); /* that one, counted */
	assert_true(stats(o.a).up);
}

/* ---- Redis down --------------------------------------------------------------- */

static void test_redis_down(void **state)
{
	struct fx *f = *state;
	char nowhere[128];
	struct host *a;
	struct tier_result r;
	struct tier_stats st;
	int64_t t0;

	assert_int_equal(redis_srv_start(&f->own, NULL), 0);
	redis_srv_kill(&f->own); /* its socket path, where nobody listens */
	snprintf(nowhere, sizeof(nowhere), "%s", f->own.sock);
	a = host_on(f, 0, nowhere, f->ns, f->mac, LONG_MS, 0);
	for (int i = 0; i < 20; i++) {
		t0 = monotime_ms();
		snap_unref(fill(a, KEY, NO_BORN, &r));
		assert_true(r.from_api);
		assert_int_equal(atomic_load(&a->api.calls), i + 1);
		assert_true(monotime_ms() - t0 < BOUND_MS); /* no wait for a lock's holder */
	}
	st = stats(a);
	assert_true(st.errors > 0);
	assert_false(st.up);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.writes, 0);
	assert_int_equal(st.waits, 0);
	/* Invalidations queue and are dropped at the end; nothing hangs. */
	start(a);
	tier_invalidate(a->t, KEY);
	tier_invalidate(a->t, NULL);
	t0 = monotime_ms();
	tier_stop(a->t);
	assert_true(monotime_ms() - t0 < BOUND_MS);
	tier_stop(a->t); /* idempotent */
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_fill_then_hit),     T(test_min_born),	 T(test_dates),		T(test_repository_ttl),
	    T(test_tampered),	       T(test_foreign_values),	 T(test_big_forgeries), T(test_wait_for_holder),
	    T(test_one_fetch_for_two), T(test_dead_holder),	 T(test_squatted),	T(test_replayed_lock),
	    T(test_heartbeat),	       T(test_cancel),		 T(test_invalidate),	T(test_forged_messages),
	    T(test_dated_messages),    T(test_replayed_message), T(test_gap),		T(test_redis_down),
	    T(test_fleet_acl),
	};

	if (!redis_srv_available()) {
		printf("SKIP: test_tier: redis-server not found on PATH\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("tier", tests, redis_srv_group_setup, redis_srv_group_teardown);
}
