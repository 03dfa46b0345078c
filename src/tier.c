/* tier.c — the shared tier's policy (tier.h): what is taken from Redis,
 * who fetches a missing listing for the fleet, and who is told of a
 * change. Redis itself is shared.c's; the values' form is sval.c's.
 *
 * Two clocks meet here: the local one (fresh.h), on which the cache dates
 * listings, and the fleet's (Redis's TIME, shared.c), in which values and
 * invalidations are dated, so that hosts whose clocks disagree agree on
 * ages. shared_offset converts.
 */
#include "tier.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"
#include "hash.h"
#include "listkey.h"
#include "monotime.h"
#include "sign.h"

#define PREFIX "imgtagfs:1:"
#define NB_SLOTS 4096 /* not-before stamps, by key hash */
#define QUEUE_MAX 256 /* invalidations waiting to be sent */
#define MSG_VERSION 1
#define MSG_HEAD (1 + 8 + 8 + 2)
#define FUTURE_MS 2000 /* a value dated later than this is refused */
#define POLL_MIN_MS 10
#define POLL_MAX_MS 100
#define BEAT_MS 1000
/* Kinds of refusal, each logged once: sval's, and these. */
#define REJECT_FUTURE (SVAL_BAD_FORMAT + 1)
#define REJECT_MESSAGE (SVAL_BAD_FORMAT + 2)
#define REJECT_MSG_FUTURE (SVAL_BAD_FORMAT + 3)
#define REJECT_MSG_OLD (SVAL_BAD_FORMAT + 4)
#define REJECT_MSG_REPLAY (SVAL_BAD_FORMAT + 5)
#define REJECT_KINDS (SVAL_BAD_FORMAT + 6)
#define SEEN_MAX 1024	    /* messages remembered, against replays */
#define TOKEN_MAX 128	    /* a lock's value: "v1." and 3 numbers, a MAC */
#define TOKEN_MAC_LEN 16    /* bytes of the token's MAC, written in hex */
#define TOKEN_SLACK_MS 2000 /* clocks of the fleet's hosts disagree by less */

/* Why a lock is not a live holder's, each logged once. */
enum squat { SQUAT_NO_EXPIRY, SQUAT_LONG_EXPIRY, SQUAT_FORM, SQUAT_STALE, SQUAT_KINDS };

/* A lock held by a fill in progress, on the filler's stack. The
 * heartbeat writes token anew each beat, under held_mu. */
struct held {
	const char *lk;	 /* the Redis key of the lock */
	const char *key; /* the listing's */
	uint64_t seq;
	char token[TOKEN_MAX];
	struct held *next;
};

struct tier {
	struct tier_config cfg;
	uint64_t origin; /* this host, in messages: its own are ignored */
	atomic_uint_fast64_t token_seq;
	char channel[64];
	pthread_mutex_t mu; /* guards what follows, up to the stats */
	pthread_cond_t cv;
	int64_t nb[NB_SLOTS]; /* fleet ms: values of keys hashing here fetched before are refused */
	int64_t nb_all;
	char *queue[QUEUE_MAX]; /* keys ("" for everything) and when */
	int64_t queue_at[QUEUE_MAX];
	size_t queued;
	bool stop, running;
	pthread_t thread;
	pthread_mutex_t held_mu; /* the held list; taken alone */
	struct held *held;
	tier_recv_fn recv;
	void *recv_arg;
	atomic_bool logged[REJECT_KINDS]; /* a rejection's one log line */
	atomic_bool squat_logged[SQUAT_KINDS];
	uint64_t seen[SEEN_MAX]; /* MACs of messages applied (their first 8 bytes); under mu */
	size_t seen_next;
	atomic_uint_fast64_t hits, misses, writes, rejected, waits, sent, received, squatted;
};

/* ---- keys, derivations ---------------------------------------------------- */

/* The "3" is the version of what lives in a namespace: hosts whose lock
 * tokens or values differ in form (0.2.0's were "2") get namespaces of
 * their own, so a fleet upgraded host by host neither refuses the other
 * half's values nor takes its locks for squatted ones: the two halves
 * simply do not share until the last host is upgraded. */
int tier_namespace(const struct tier_scope *sc, char ns[TIER_NS_LEN + 1])
{
	struct buf b;
	unsigned char h[SIGN_SHA256_LEN];
	int err;

	buf_init(&b, 16384);
	err = buf_printf(&b, "imgtagfs namespace 3%c%s%c%s%c%s%c%s%c%ld", 0, sc->project ? sc->project : "", 0,
			 sc->public_key, 0, sc->endpoint ? sc->endpoint : "", 0, sc->repo_type ? sc->repo_type : "", 0,
			 sc->api_tz);
	if (!err)
		err = sign_sha256(b.data, b.len, h);
	buf_release(&b);
	for (int i = 0; !err && i < TIER_NS_LEN / 2; i++)
		snprintf(ns + 2 * i, 3, "%02x", h[i]);
	return err;
}

int tier_acl_scope(const char *ns, char *out, size_t n)
{
	int len = snprintf(out, n, "resetkeys ~" PREFIX "%s:* resetchannels &" PREFIX "%s:inval", ns, ns);

	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

int tier_derive_key(const void *secret, size_t n, const char *project, unsigned char key[SVAL_KEY_LEN])
{
	static const char salt[] = "imgtagfs shared cache 1";
	char info[512];
	int len = snprintf(info, sizeof(info), "listing values%c%s", 0, project ? project : "");

	if (len < 0 || (size_t)len >= sizeof(info))
		return -EINVAL;
	return sign_hkdf_sha256(secret, n, salt, sizeof(salt) - 1, info, (size_t)len, key);
}

/* FNV-1a from a basis of its own (a digit short of the standard one; any
 * basis hashes as well, and these values never leave the process). */
static uint64_t bytes_hash(const void *v, size_t n)
{
	return hash_fnv64(1469598103934665603u, v, n);
}

static uint64_t key_hash(const char *key)
{
	return bytes_hash(key, strlen(key));
}

static int redis_key(struct buf *b, const struct tier *t, const char *what, const char *key)
{
	buf_reset(b);
	return buf_printf(b, PREFIX "%s:%s%s", t->cfg.ns, what, key);
}

/* Values of key fetched before this (fleet ms) are refused. */
static int64_t not_before(struct tier *t, const char *key)
{
	int64_t at;

	pthread_mutex_lock(&t->mu);
	at = t->nb[key_hash(key) % NB_SLOTS];
	if (t->nb_all > at)
		at = t->nb_all;
	pthread_mutex_unlock(&t->mu);
	return at;
}

/* Called locked. A collision only makes the other key's values refused
 * for a while too (a miss, never a stale answer). */
static void set_not_before(struct tier *t, const char *key, int64_t at)
{
	int64_t *slot = key ? &t->nb[key_hash(key) % NB_SLOTS] : &t->nb_all;

	if (at > *slot)
		*slot = at;
}

static int64_t fleet_of(struct tier *t, int64_t local)
{
	return local + shared_offset(t->cfg.sh);
}

/* ---- reading a value ------------------------------------------------------------ */

/* key NULL: an invalidation message. */
static void rejected(struct tier *t, const char *key, int why, const char *text)
{
	char name[256] = "an invalidation message";

	atomic_fetch_add(&t->rejected, 1);
	if (atomic_exchange(&t->logged[why], true))
		return; /* one line per kind of rejection, not one per value */
	if (key)
		listkey_describe(key, name, sizeof(name));
	log_msg(t->cfg.log, LOG_WARNING,
		"shared cache: refused %s%s (%s); later refusals are only counted (see the stats attribute)",
		key ? "the value of " : "", name, text);
}

/* When a value fetched at fetched (fleet ms) was born on the local clock:
 * 0 and *born, -ENOENT when it is of no use (too old, not newer than the
 * caller's, invalidated), or -EBADMSG: dated in the future, refused (the
 * caller counts it). Judged on the head alone, before the rest is read. */
static int timely(struct tier *t, const char *key, int64_t fetched, int64_t min_born, int64_t *born)
{
	int64_t now = fresh_now(t->cfg.fresh);

	*born = fetched - shared_offset(t->cfg.sh);
	if (*born > now + FUTURE_MS)
		return -EBADMSG;
	if (*born > now)
		*born = now;
	if (now - *born >= fresh_ttl_ms(t->cfg.fresh, key) || *born <= min_born || fetched < not_before(t, key))
		return -ENOENT;
	return 0;
}

/* A refusal of the value whose bytes (or head) are v, counted once per
 * fill: *refused is the hash of the last one this fill refused (0:
 * none), so that a fill reading one bad value again (after taking the
 * lock, while waiting) counts it once. */
static void refuse(struct tier *t, const char *key, const struct buf *v, int why, uint64_t *refused)
{
	uint64_t h = bytes_hash(v->data, v->len);

	if (h != *refused)
		rejected(t, key, why, why == REJECT_FUTURE ? "dated in the future" : sval_reject_text(why));
	*refused = h;
}

/* The value of rk (key's), read so that a forged one costs little: its
 * first SVAL_HEAD_MAX bytes (GETRANGE: the whole of most values) hold the
 * head, which says under the fleet's key how long the value is and when
 * it was fetched; a head that fails, or a value of no use by its date, is
 * read no further, and the rest is read up to the length the head
 * vouches for, no more. 0 and v holding the value whole with *fetched its
 * date, 1 to leave it (a miss; a refusal counted), or -ENOMEM. */
static int read_value(struct tier *t, const char *key, int64_t min_born, const char *rk, struct buf *v,
		      int64_t *fetched, uint64_t *refused)
{
	enum sval_reject why;
	size_t total = 0;
	int64_t born;
	int oom = 0, err = shared_get_range(t->cfg.sh, rk, 0, SVAL_HEAD_MAX, v);

	if (err || v->len == 0)
		return 1; /* absent, or Redis failing: a miss either way */
	why = sval_check_head(v->data, v->len, t->cfg.max_value, t->cfg.ns, key, t->cfg.mac_key, fetched, &total, &oom);
	if (why) {
		if (oom)
			return -ENOMEM;
		refuse(t, key, v, why, refused);
		return 1;
	}
	err = timely(t, key, *fetched, min_born, &born);
	if (err == -EBADMSG)
		refuse(t, key, v, REJECT_FUTURE, refused);
	if (err)
		return 1;
	if (total <= v->len)
		return 0; /* whole (or longer than its head says: refused by the decoder) */
	buf_release(v);
	buf_init(v, total); /* a value rewritten meanwhile may be longer: -EFBIG, a miss */
	return shared_get(t->cfg.sh, rk, v) ? 1 : 0;
}

static int try_read(struct tier *t, const char *key, int64_t min_born, struct buf *rk, struct snap **out,
		    uint64_t *refused)
{
	struct buf v;
	struct snap *s = NULL;
	int64_t fetched = 0, born = 0;
	int oom = 0, err = redis_key(rk, t, "", key);
	enum sval_reject why;

	if (err)
		return err;
	buf_init(&v, SVAL_HEAD_MAX);
	err = read_value(t, key, min_born, rk->data, &v, &fetched, refused);
	if (err) {
		buf_release(&v);
		return -ENOENT;
	}
	why = sval_decode(v.data, v.len, t->cfg.max_value, t->cfg.ns, key, t->cfg.mac_key, &fetched, &s, &oom);
	/* The head was checked, but what was read whole may be another
	 * value (rewritten meanwhile): its date is judged again. */
	err = why ? (oom ? -ENOMEM : -EBADMSG) : timely(t, key, fetched, min_born, &born);
	if (why && !oom)
		refuse(t, key, &v, why, refused);
	else if (err == -EBADMSG)
		refuse(t, key, &v, REJECT_FUTURE, refused);
	if (!err) {
		snap_set_born(s, born);
		*out = s;
	} else {
		snap_unref(s);
	}
	buf_release(&v);
	return err ? -ENOENT : 0;
}

/* ---- lock tokens ---------------------------------------------------------------- */

/* A lock's value says who holds it and that the holder is alive:
 *
 *	v1.ORIGIN.SEQ.AT.MAC
 *
 * this host (16 hex digits), a counter, the fleet's time (ms) when it was
 * written, and the first TOKEN_MAC_LEN bytes, in hex, of an HMAC under the
 * fleet's key over "NS:lock", the listing's key and the rest. The holder
 * writes it anew with each heartbeat, so a live holder's lock is always
 * dated within its life. Anyone who can write to Redis can write a lock
 * (SET the key, or delete a value and keep the key), and a waiter that
 * took any key for a live holder waited half the deadline on every cold
 * listing; only a member of the fleet can write a token, and a token it
 * stopped renewing dates itself out. */
static int token_mac(const struct tier *t, const char *key, const char *body, char hex[2 * TOKEN_MAC_LEN + 1])
{
	char scope[TIER_NS_LEN + 8];
	unsigned char mac[SVAL_MAC_LEN];
	struct buf m;
	int err;

	snprintf(scope, sizeof(scope), "%s:lock", t->cfg.ns);
	buf_init(&m, LISTKEY_MAX + TOKEN_MAX + 1);
	err = buf_add(&m, key, strlen(key) + 1); /* its NUL separates */
	if (!err)
		err = buf_adds(&m, body);
	if (!err)
		err = sign_hmac_sha256_under(t->cfg.mac_key, SVAL_KEY_LEN, scope, m.data, m.len, mac);
	buf_release(&m);
	for (int i = 0; !err && i < TOKEN_MAC_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return err;
}

static int token_make(const struct tier *t, const char *key, uint64_t seq, int64_t at, char out[TOKEN_MAX])
{
	char body[64], hex[2 * TOKEN_MAC_LEN + 1];
	int err;

	snprintf(body, sizeof(body), "%016" PRIx64 ".%" PRIu64 ".%" PRId64, t->origin, seq, at);
	err = token_mac(t, key, body, hex);
	if (!err)
		snprintf(out, TOKEN_MAX, "v1.%s.%s", body, hex);
	return err;
}

int tier_lock_token(struct tier *t, const char *key, int64_t fleet_ms, char *out, size_t n)
{
	char token[TOKEN_MAX];
	int err = token_make(t, key, atomic_fetch_add(&t->token_seq, 1), fleet_ms, token);

	if (!err && (size_t)snprintf(out, n, "%s", token) >= n)
		err = -ENAMETOOLONG;
	return err;
}

/* v (n bytes) is a token of this fleet for key; *at its date. */
static bool token_ours(const struct tier *t, const char *key, const char *v, size_t n, int64_t *at)
{
	char text[TOKEN_MAX], hex[2 * TOKEN_MAC_LEN + 1], *dot, *date, *end;
	unsigned long long u;

	if (n < 4 || n >= TOKEN_MAX || memchr(v, '\0', n) || memcmp(v, "v1.", 3) != 0)
		return false;
	memcpy(text, v, n);
	text[n] = '\0';
	dot = strrchr(text, '.');
	if (!dot || strlen(dot + 1) != 2 * TOKEN_MAC_LEN)
		return false;
	*dot = '\0';
	if (token_mac(t, key, text + 3, hex) || !sign_equal(hex, dot + 1, sizeof(hex) - 1))
		return false;
	/* Authentic: what follows was written by a member of the fleet. */
	date = strrchr(text, '.');
	if (!date || date[1] < '0' || date[1] > '9')
		return false;
	errno = 0;
	u = strtoull(date + 1, &end, 10);
	if (errno || *end || u > INT64_MAX)
		return false;
	*at = (int64_t)u;
	return true;
}

/* ---- fetching for the fleet --------------------------------------------------- */

static void write_value(struct tier *t, const char *key, struct buf *rk, const struct snap *s, int64_t fetched)
{
	int64_t left = fresh_ttl_ms(t->cfg.fresh, key) - (fresh_now(t->cfg.fresh) - fetched);
	struct buf v;

	/* An unsure listing (pages.h) is this host's doubt, not the fleet's:
	 * a value carries no such mark, and another host would trust it. */
	if (left <= 0 || snap_unsure(s) || redis_key(rk, t, "", key))
		return;
	buf_init(&v, t->cfg.max_value);
	if (sval_encode(s, t->cfg.ns, key, fleet_of(t, fetched), t->cfg.mac_key, &v) == 0 &&
	    shared_set(t->cfg.sh, rk->data, v.data, v.len, left) == 0)
		atomic_fetch_add(&t->writes, 1);
	buf_release(&v);
}

static int from_api(struct tier *t, const char *key, struct buf *rk, tier_api_fn api, void *arg, struct snap **out,
		    struct tier_result *res)
{
	int64_t fetched = fresh_now(t->cfg.fresh);
	int err = api(arg, out);

	if (err)
		return err;
	res->from_api = true;
	res->fetched = fetched;
	write_value(t, key, rk, *out, fetched);
	return 0;
}

static void held_add(struct tier *t, struct held *h)
{
	pthread_mutex_lock(&t->held_mu);
	h->next = t->held;
	t->held = h;
	pthread_mutex_unlock(&t->held_mu);
}

static void held_remove(struct tier *t, struct held *h)
{
	pthread_mutex_lock(&t->held_mu);
	for (struct held **p = &t->held; *p; p = &(*p)->next) {
		if (*p == h) {
			*p = h->next;
			break;
		}
	}
	pthread_mutex_unlock(&t->held_mu);
}

/* This host fetches for the fleet, holding the listing's lock (h, with
 * the token it was taken with); the heartbeat renews it meanwhile. */
static int lead(struct tier *t, struct held *h, struct buf *rk, tier_api_fn api, void *arg, struct snap **out,
		struct tier_result *res)
{
	int err;

	held_add(t, h);
	err = from_api(t, h->key, rk, api, arg, out, res);
	held_remove(t, h); /* the heartbeat no longer touches h->token */
	shared_unlock(t->cfg.sh, h->lk, h->token);
	return err;
}

/* A lock that is no live holder's: fetched at once, counted, and said
 * once per kind (a value of another form, a life longer than a lock's, no
 * expiry, a date not renewed). */
static void squatted(struct tier *t, const char *key, enum squat why, int64_t n)
{
	static const char *const text[SQUAT_KINDS] = {
	    [SQUAT_NO_EXPIRY] = "it never expires",
	    [SQUAT_LONG_EXPIRY] = "it expires later than a lock can",
	    [SQUAT_FORM] = "its value is not a lock of this fleet",
	    [SQUAT_STALE] = "its holder has not renewed it",
	};
	char name[256];

	atomic_fetch_add(&t->squatted, 1);
	if (atomic_exchange(&t->squat_logged[why], true))
		return;
	listkey_describe(key, name, sizeof(name));
	log_msg(t->cfg.log, LOG_WARNING,
		"shared cache: the lock of %s is held by no live host of this fleet (%s: %lld ms); fetching "
		"without waiting; later ones are only counted (shared_squatted in the stats attribute)",
		name, text[why], (long long)n);
}

/* Why the lock of key, whose value is v and time to live pttl (ms, -1:
 * none), is no live holder's (*n: a figure for the log), or SQUAT_KINDS
 * when it is. A live holder's lock is a token of this fleet's form and
 * key, dated within a lock's life by the fleet's clock (each heartbeat
 * dates it anew), with a time to live no longer than a lock's. */
static enum squat judge_lock(const struct tier *t, const char *key, const struct buf *v, int64_t pttl, int64_t now,
			     int64_t *n)
{
	int64_t at = 0;

	*n = pttl;
	if (pttl == -1)
		return SQUAT_NO_EXPIRY;
	if (pttl > t->cfg.lock_ms)
		return SQUAT_LONG_EXPIRY;
	*n = (int64_t)v->len;
	if (!token_ours(t, key, v->data ? v->data : "", v->len, &at))
		return SQUAT_FORM;
	*n = now - at;
	if (at < now - t->cfg.lock_ms - TOKEN_SLACK_MS || at > now + TOKEN_SLACK_MS)
		return SQUAT_STALE;
	return SQUAT_KINDS;
}

/* Who holds lk, the lock of key: 1 a live host of the fleet (wait for
 * it), 0 nobody any more (take it), -1 nobody who will ever release it
 * (counted and said: fetch now), or -errno (Redis failing: fetch now). */
static int holder(struct tier *t, const char *lk, const char *key)
{
	struct buf v;
	int64_t pttl = -2, now = 0, n = 0;
	enum squat why = SQUAT_FORM; /* a value too long to be a token */
	int err;

	buf_init(&v, TOKEN_MAX);
	err = shared_lock_peek(t->cfg.sh, lk, &v, &pttl);
	if (err == 0)
		err = shared_now(t->cfg.sh, &now);
	if (err == 0)
		why = judge_lock(t, key, &v, pttl, now, &n);
	else if (err == -EFBIG)
		n = TOKEN_MAX;
	buf_release(&v);
	if (err == -ENOENT)
		return 0; /* released meanwhile */
	if (err && err != -EFBIG)
		return err;
	if (why == SQUAT_KINDS)
		return 1;
	squatted(t, key, why, n);
	return -1;
}

/* Sleeps ms, or less when the tier stops. True while it runs. */
static bool nap(struct tier *t, int64_t ms)
{
	struct timespec until = monotime_after(CLOCK_MONOTONIC, ms);
	bool going;

	pthread_mutex_lock(&t->mu);
	if (!t->stop)
		pthread_cond_timedwait(&t->cv, &t->mu, &until);
	going = !t->stop;
	pthread_mutex_unlock(&t->mu);
	return going;
}

static int single_flight(struct tier *t, const char *key, int64_t min_born, struct buf *rk, uint64_t *refused,
			 tier_api_fn api, void *arg, struct snap **out, struct tier_result *res)
{
	struct held h = {.key = key, .seq = atomic_fetch_add(&t->token_seq, 1)};
	int64_t start = monotime_ms(), delay = POLL_MIN_MS, now;
	char *lk;
	int err;

	/* The token is dated by the fleet's clock, known once a connection
	 * read Redis's TIME (the read before this one did): without it, the
	 * date would be this host's uptime, a lock the others refuse. */
	if (redis_key(rk, t, "lock:", key) || shared_now(t->cfg.sh, &now) || token_make(t, key, h.seq, now, h.token) ||
	    !(lk = buf_take(rk)))
		return from_api(t, key, rk, api, arg, out, res);
	h.lk = lk;
	for (;;) {
		err = shared_lock(t->cfg.sh, lk, h.token, t->cfg.lock_ms);
		/* Taken: but the last holder may have written the value
		 * between our read and our lock. */
		if (err == 0 && try_read(t, key, min_born, rk, out, refused) == 0) {
			shared_unlock(t->cfg.sh, lk, h.token);
			atomic_fetch_add(&t->waits, 1);
			break;
		}
		if (err == 0) {
			err = lead(t, &h, rk, api, arg, out, res);
			break;
		}
		/* Held: by a live host of the fleet, or by no one who will
		 * release it (a writer to Redis), which is not waited for. */
		if (err == -EEXIST && holder(t, lk, key) < 0)
			err = -EPERM;
		/* Redis failing, a squatted lock, another host slower than a
		 * fetch of our own, or unmounting: as if there were no tier. */
		if (err != -EEXIST || monotime_ms() - start >= t->cfg.wait_ms || !nap(t, delay)) {
			err = from_api(t, key, rk, api, arg, out, res);
			break;
		}
		delay = delay * 2 > POLL_MAX_MS ? POLL_MAX_MS : delay * 2;
		if (try_read(t, key, min_born, rk, out, refused) == 0) {
			atomic_fetch_add(&t->waits, 1);
			err = 0;
			break;
		}
	}
	free(lk);
	return err;
}

int tier_fill(struct tier *t, const char *key, int64_t min_born, tier_api_fn api, void *arg, struct snap **out,
	      struct tier_result *res)
{
	struct buf rk;
	uint64_t refused = 0;
	int err;

	res->from_api = false;
	res->fetched = 0;
	buf_init(&rk, LISTKEY_MAX + 128);
	err = try_read(t, key, min_born, &rk, out, &refused);
	if (!err) {
		atomic_fetch_add(&t->hits, 1);
	} else {
		atomic_fetch_add(&t->misses, 1);
		err = single_flight(t, key, min_born, &rk, &refused, api, arg, out, res);
	}
	buf_release(&rk);
	return err;
}

/* ---- invalidations ------------------------------------------------------------------ */

/* Queues "key (NULL: everything) fetched before at (local ms)". Locked.
 * When the queue is full, one "everything" stands for it all, dated as
 * the latest of them: entries are not in date order (a change is dated by
 * its fetch's start, a refresh by its moment), and "everything before" an
 * earlier date would let through what a later entry refused. */
static void enqueue(struct tier *t, const char *key, int64_t at)
{
	char *k = strdup(key ? key : "");

	if (!k || t->queued == QUEUE_MAX) {
		free(k);
		for (size_t i = 0; i < t->queued; i++) {
			if (t->queue_at[i] > at)
				at = t->queue_at[i];
			free(t->queue[i]);
		}
		t->queued = 0;
		k = strdup("");
		if (!k)
			return; /* out of memory: the others see it a ttl later */
	}
	t->queue[t->queued] = k;
	t->queue_at[t->queued++] = at;
	pthread_cond_broadcast(&t->cv);
}

void tier_changed(struct tier *t, const char *key, const struct tier_result *res)
{
	if (!res->from_api)
		return; /* learnt from the fleet: whoever fetched it tells */
	pthread_mutex_lock(&t->mu);
	enqueue(t, key, res->fetched);
	pthread_mutex_unlock(&t->mu);
}

void tier_invalidate(struct tier *t, const char *key)
{
	int64_t now = fresh_now(t->cfg.fresh);

	pthread_mutex_lock(&t->mu);
	set_not_before(t, key, fleet_of(t, now)); /* this host's next fill goes to the API */
	enqueue(t, key, now);
	pthread_mutex_unlock(&t->mu);
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The MAC of a message: over the namespace, a NUL and its bytes. */
static int msg_mac(const struct tier *t, const unsigned char *m, size_t n, unsigned char mac[SVAL_MAC_LEN])
{
	return sign_hmac_sha256_under(t->cfg.mac_key, SVAL_KEY_LEN, t->cfg.ns, m, n, mac);
}

static int send_one(struct tier *t, const char *key, int64_t at)
{
	size_t kl = strlen(key);
	unsigned char m[MSG_HEAD + LISTKEY_MAX + SVAL_MAC_LEN];
	int64_t fleet_now;
	int err;

	if (kl > LISTKEY_MAX)
		return 0;
	/* Dated on the fleet's clock, which is known once a connection has
	 * read TIME (the subscriber's does, soon after start): before, the
	 * offset is 0 and the date would be this host's uptime, which the
	 * others take for a replay from long ago. Retried next turn. */
	if (shared_now(t->cfg.sh, &fleet_now) != 0)
		return -ENOTCONN;
	m[0] = MSG_VERSION;
	put64(m + 1, t->origin);
	put64(m + 9, (uint64_t)fleet_of(t, at));
	m[17] = (unsigned char)(kl & 0xff);
	m[18] = (unsigned char)(kl >> 8);
	memcpy(m + MSG_HEAD, key, kl);
	if (msg_mac(t, m, MSG_HEAD + kl, m + MSG_HEAD + kl))
		return 0;
	err = shared_publish(t->cfg.sh, t->channel, m, MSG_HEAD + kl + SVAL_MAC_LEN);
	if (!err)
		atomic_fetch_add(&t->sent, 1);
	return err;
}

/* An authentic message is still checked for its date, which its MAC only
 * says a member of the fleet wrote (its clock may have been wrong: a
 * Redis whose TIME was off when it connected), and which anyone who can
 * PUBLISH may replay at any time. One dated in the future would refuse
 * the key's values (or every value) until then, for the life of the
 * mount (tests/review/future_nb.sh: a day); one older than any listing
 * this host could still serve concerns none of them, and is only a
 * replay's way to make every host drop its caches. */
static bool msg_timely(struct tier *t, int64_t at)
{
	int64_t now = fleet_of(t, fresh_now(t->cfg.fresh));
	int64_t oldest = now - fresh_max_ttl_ms(t->cfg.fresh) - fresh_max_stale_ms(t->cfg.fresh) - FUTURE_MS;

	if (at > now + FUTURE_MS) {
		rejected(t, NULL, REJECT_MSG_FUTURE, "dated in the future");
		return false;
	}
	if (at < oldest) {
		rejected(t, NULL, REJECT_MSG_OLD, "older than any listing it could concern: late, or replayed");
		return false;
	}
	return true;
}

/* An authentic message applied once is not applied again: a replay
 * (anyone may PUBLISH) would make every host drop its copies each time.
 * The last SEEN_MAX are remembered; older ones are refused by their date
 * soon enough (msg_timely). Locked. */
static bool seen_before(struct tier *t, uint64_t tag)
{
	for (size_t i = 0; i < SEEN_MAX; i++)
		if (t->seen[i] == tag)
			return true;
	t->seen[t->seen_next] = tag;
	t->seen_next = (t->seen_next + 1) % SEEN_MAX;
	return false;
}

static void on_msg(void *arg, const void *msg, size_t n)
{
	struct tier *t = arg;
	const unsigned char *m = msg;
	unsigned char mac[SVAL_MAC_LEN];
	char key[LISTKEY_MAX + 1];
	size_t kl;

	if (n < MSG_HEAD + SVAL_MAC_LEN || m[0] != MSG_VERSION)
		goto bad;
	kl = (size_t)m[17] | (size_t)m[18] << 8;
	if (n != MSG_HEAD + kl + SVAL_MAC_LEN || kl > LISTKEY_MAX || msg_mac(t, m, MSG_HEAD + kl, mac) ||
	    !sign_equal(mac, m + MSG_HEAD + kl, SVAL_MAC_LEN) || memchr(m + MSG_HEAD, 0, kl))
		goto bad;
	if (get64(m + 1) == t->origin)
		return;
	memcpy(key, m + MSG_HEAD, kl);
	key[kl] = '\0';
	if (!msg_timely(t, (int64_t)get64(m + 9)))
		return;
	pthread_mutex_lock(&t->mu);
	if (seen_before(t, get64(mac))) {
		pthread_mutex_unlock(&t->mu);
		rejected(t, NULL, REJECT_MSG_REPLAY, "a replay of one already applied");
		return;
	}
	set_not_before(t, kl ? key : NULL, (int64_t)get64(m + 9));
	pthread_mutex_unlock(&t->mu);
	atomic_fetch_add(&t->received, 1);
	if (t->recv)
		t->recv(t->recv_arg, kl ? key : NULL);
	return;
bad:
	rejected(t, NULL, REJECT_MESSAGE, "it fails its checks");
}

/* The subscription was lost: what was said meanwhile is unknown. */
static void on_gap(void *arg)
{
	struct tier *t = arg;

	log_msg(t->cfg.log, LOG_NOTICE,
		"shared cache: resubscribed; dropping the local listings (invalidations "
		"may have been missed)");
	if (t->recv)
		t->recv(t->recv_arg, NULL);
}

/* Sends what is queued; what cannot be sent now waits for the next turn. */
static void send_queued(struct tier *t)
{
	pthread_mutex_lock(&t->mu);
	while (t->queued && !t->stop) {
		char *k = t->queue[0];
		int64_t at = t->queue_at[0];
		int err;

		pthread_mutex_unlock(&t->mu);
		err = send_one(t, k, at);
		pthread_mutex_lock(&t->mu);
		if (err)
			break; /* Redis failing: retried after the next nap */
		free(k);
		memmove(t->queue, t->queue + 1, (t->queued - 1) * sizeof(*t->queue));
		memmove(t->queue_at, t->queue_at + 1, (t->queued - 1) * sizeof(*t->queue_at));
		t->queued--;
	}
	pthread_mutex_unlock(&t->mu);
}

/* Keeps this host's locks alive while their fetches run: each is given
 * a token dated now (the others judge a lock by its date), if it still
 * holds ours. */
static void heartbeat(struct tier *t)
{
	char fresh[TOKEN_MAX];
	int64_t now;

	if (shared_now(t->cfg.sh, &now))
		return;
	pthread_mutex_lock(&t->held_mu);
	for (struct held *h = t->held; h; h = h->next)
		if (token_make(t, h->key, h->seq, now, fresh) == 0 &&
		    shared_relock(t->cfg.sh, h->lk, h->token, fresh, t->cfg.lock_ms) == 0)
			memcpy(h->token, fresh, sizeof(fresh));
	pthread_mutex_unlock(&t->held_mu);
}

static void *tier_main(void *arg)
{
	struct tier *t = arg;
	int64_t beat = monotime_ms();

	while (nap(t, BEAT_MS / 4)) {
		send_queued(t);
		if (monotime_ms() - beat >= BEAT_MS) {
			heartbeat(t);
			beat = monotime_ms();
		}
	}
	return NULL;
}

int tier_start(struct tier *t)
{
	int err;

	if (t->running)
		return 0;
	err = -pthread_create(&t->thread, NULL, tier_main, t);
	if (err)
		return err;
	t->running = true;
	return shared_subscribe(t->cfg.sh, t->channel, on_msg, on_gap, t);
}

void tier_cancel(struct tier *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

void tier_stop(struct tier *t)
{
	if (!t)
		return;
	tier_cancel(t);
	if (t->running)
		pthread_join(t->thread, NULL);
	t->running = false;
	shared_unsubscribe(t->cfg.sh);
}

void tier_set_receiver(struct tier *t, tier_recv_fn fn, void *arg)
{
	t->recv = fn;
	t->recv_arg = arg;
}

void tier_get_stats(struct tier *t, struct tier_stats *out)
{
	out->hits = atomic_load(&t->hits);
	out->misses = atomic_load(&t->misses);
	out->writes = atomic_load(&t->writes);
	out->rejected = atomic_load(&t->rejected);
	out->errors = shared_errors(t->cfg.sh);
	out->waits = atomic_load(&t->waits);
	out->invalidations_sent = atomic_load(&t->sent);
	out->invalidations_received = atomic_load(&t->received);
	out->squatted = atomic_load(&t->squatted);
	out->up = shared_up(t->cfg.sh);
}

struct tier *tier_new(const struct tier_config *cfg)
{
	struct tier *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;

	if (!t)
		return NULL;
	t->cfg = *cfg;
	if (t->cfg.lock_ms <= 0)
		t->cfg.lock_ms = 3000;
	if (getrandom(&t->origin, sizeof(t->origin), 0) != sizeof(t->origin))
		t->origin = (uint64_t)monotime_ms() ^ (uint64_t)(uintptr_t)t;
	snprintf(t->channel, sizeof(t->channel), PREFIX "%s:inval", cfg->ns);
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->held_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	return t;
}

void tier_free(struct tier *t)
{
	if (!t)
		return;
	tier_stop(t);
	for (size_t i = 0; i < t->queued; i++)
		free(t->queue[i]);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->held_mu);
	pthread_mutex_destroy(&t->mu);
	sign_wipe(t->cfg.mac_key, sizeof(t->cfg.mac_key));
	free(t);
}
