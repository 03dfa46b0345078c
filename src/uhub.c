/* uhub.c — the three read calls of the UHub API, over a replaceable
 * transport: signing, retries with backoff, RetCode -> errno, and whole
 * listings fetched as one snapshot with parallel paging.
 *
 * Paging never trusts the server: the first page tells TotalCount and the
 * page size the server really applied; the rest is a work queue of
 * (offset, expected count) slots that up to max_requests threads drain. A
 * short page re-queues the gap it left, an empty page ends the list, and
 * every listing is bounded in items (max_entries) and calls, so a lying
 * TotalCount or an endless list can neither loop nor exhaust memory.
 */
#include "uhub.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "monotime.h"
#include "params.h"
#include "sign.h"
#include "timefmt.h"

static const char *const action_name[] = {"GetRepo", "GetRepoImage", "GetImageTag"};
static const enum decode_list decode_kind[] = {DECODE_REPOS, DECODE_IMAGES, DECODE_TAGS};

struct uhub {
	struct uhub_config cfg;	/* strings owned (copied) */
	struct uhub_transport tr;
	struct log *log;
	pthread_mutex_t lock;	/* guards inflight, fg_waiting, rng, rc, tokens */
	pthread_cond_t slot;
	pthread_cond_t wake;	/* backoff and rate sleeps; CLOCK_MONOTONIC */
	atomic_bool cancelled;	/* uhub_cancel: every call ends, ECANCELED */
	unsigned inflight, fg_waiting;
	double tokens;		/* max_rps token bucket */
	int64_t tokens_at;	/* when tokens was last topped up (ms) */
	uint64_t rng;
	struct uhub_stats rc;	/* only its retcodes table is used */
	_Atomic uint64_t calls[3], retries, errors, last_retcode;
};

/* ---- lifecycle ---------------------------------------------------------- */

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

/* Sleeps are timed waits on a condition variable, so uhub_cancel can cut
 * them short; on the monotonic clock, so setting the time cannot stretch
 * them. */
static int wake_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int err;

	if (pthread_condattr_init(&a))
		return -ENOMEM;
	err = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	if (!err)
		err = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return err ? -err : 0;
}

static void free_secret(const char *s)
{
	if (s) {
		explicit_bzero((char *)s, strlen(s));
		free((char *)s);
	}
}

static void free_strings(struct uhub *u)
{
	free_secret(u->cfg.private_key);
	free((char *)u->cfg.public_key);
	free((char *)u->cfg.project);
	free((char *)u->cfg.repo_type);
}

struct uhub *uhub_new(const struct uhub_config *cfg, const struct uhub_transport *tr, struct log *log)
{
	struct uhub *u = calloc(1, sizeof(*u));
	struct timespec ts;

	if (!u)
		return NULL;
	u->cfg = *cfg;
	if (dup_str((char **)&u->cfg.public_key, cfg->public_key) ||
	    dup_str((char **)&u->cfg.private_key, cfg->private_key) ||
	    dup_str((char **)&u->cfg.project, cfg->project) ||
	    dup_str((char **)&u->cfg.repo_type, cfg->repo_type ? cfg->repo_type : "private")) {
		free_strings(u);
		free(u);
		return NULL;
	}
	if (!u->cfg.page_size)
		u->cfg.page_size = 100;
	if (!u->cfg.max_requests)
		u->cfg.max_requests = 1;
	u->tr = *tr;
	u->log = log;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->slot, NULL);
	if (wake_init(&u->wake)) {
		pthread_mutex_destroy(&u->lock);
		pthread_cond_destroy(&u->slot);
		free_strings(u);
		free(u);
		return NULL;
	}
	atomic_init(&u->cancelled, false);
	clock_gettime(CLOCK_REALTIME, &ts);
	u->rng = (uint64_t)ts.tv_nsec * 2654435761u + (uint64_t)ts.tv_sec + 1;
	return u;
}

void uhub_free(struct uhub *u)
{
	if (!u)
		return;
	free_strings(u);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->slot);
	pthread_cond_destroy(&u->wake);
	free(u);
}

static bool uhub_cancelled(struct uhub *u)
{
	return atomic_load(&u->cancelled);
}

void uhub_cancel(struct uhub *u)
{
	if (!u)
		return;
	atomic_store(&u->cancelled, true);
	/* Under the lock, so no sleeper checks the flag, misses it and then
	 * waits for a wake-up that has already been sent. */
	pthread_mutex_lock(&u->lock);
	pthread_cond_broadcast(&u->slot);
	pthread_cond_broadcast(&u->wake);
	pthread_mutex_unlock(&u->lock);
	if (u->tr.cancel)
		u->tr.cancel(u->tr.self);
}

/* Sleeps ms unless uhub_cancel comes first (lock held; it is released
 * while waiting). */
static void nap_locked(struct uhub *u, int64_t ms)
{
	struct timespec ts = monotime_after(CLOCK_MONOTONIC, ms);

	while (!uhub_cancelled(u))
		if (pthread_cond_timedwait(&u->wake, &u->lock, &ts) == ETIMEDOUT)
			break;
}

/* ---- errors ------------------------------------------------------------- */

int uhub_retcode_errno(long retcode, bool lookup)
{
	if (retcode == 0)
		return 0;
	if (retcode == 110)
		return -ETIMEDOUT;
	/* 170-174: the signature, the key or the token; 292-299: the project,
	 * the caller's IP, a security lock, IAM. None is cured by a retry. */
	if ((retcode >= 170 && retcode <= 174) || (retcode >= 292 && retcode <= 299))
		return -EACCES;
	if (retcode == 230)
		return lookup ? -ENOENT : -EIO;
	return -EIO; /* 130, 150, 153, 160, 161, >= 2000, unknown */
}

bool uhub_retcode_transient(long retcode)
{
	return retcode == 110 || retcode == 130 || retcode == 150 || retcode == 153 || retcode >= 2000;
}

static bool status_transient(long status)
{
	return status == 429 || (status >= 500 && status <= 599);
}

static bool transport_transient(int err)
{
	return err == -ETIMEDOUT || err == -ECONNRESET || err == -ECONNREFUSED || err == -EHOSTUNREACH ||
	       err == -EBADMSG;
}

/* ---- one call ------------------------------------------------------------ */

static int64_t now_ms(void)
{
	return monotime_ms();
}

/* Waits for one of max_requests slots, so parallel listings together
 * never exceed the limit. Background requests leave one slot free and
 * yield to any foreground request that waits. 0, or -ECANCELED (no slot
 * taken) once uhub_cancel was called. */
static bool is_bg(const atomic_bool *bg)
{
	return bg && atomic_load(bg);
}

static int slot_acquire(struct uhub *u, const atomic_bool *bg)
{
	unsigned bg_max = u->cfg.max_requests > 1 ? u->cfg.max_requests - 1 : 1;
	int err = 0;

	pthread_mutex_lock(&u->lock);
	if (!is_bg(bg)) {
		u->fg_waiting++;
		while (u->inflight >= u->cfg.max_requests && !uhub_cancelled(u))
			pthread_cond_wait(&u->slot, &u->lock);
		u->fg_waiting--;
	} else {
		/* Raised to the foreground meanwhile (someone waits for this
		 * listing): compete as the foreground does from then on. */
		while (is_bg(bg) && (u->inflight >= bg_max || u->fg_waiting) && !uhub_cancelled(u))
			pthread_cond_wait(&u->slot, &u->lock);
		while (u->inflight >= u->cfg.max_requests && !uhub_cancelled(u))
			pthread_cond_wait(&u->slot, &u->lock);
	}
	if (uhub_cancelled(u))
		err = -ECANCELED;
	else
		u->inflight++;
	pthread_mutex_unlock(&u->lock);
	return err;
}

static void slot_release(struct uhub *u)
{
	pthread_mutex_lock(&u->lock);
	u->inflight--;
	pthread_cond_broadcast(&u->slot);
	pthread_mutex_unlock(&u->lock);
}

/* max_rps: a token bucket shared by every thread (burst of one second's
 * worth), so throttling protects the account's quota as a whole. */
static void rate_wait(struct uhub *u)
{
	double rps = u->cfg.max_rps;

	if (!rps)
		return;
	while (!uhub_cancelled(u)) {
		int64_t now = now_ms(), wait_ms;

		pthread_mutex_lock(&u->lock);
		u->tokens += (double)(now - u->tokens_at) * rps / 1000.0;
		if (u->tokens > rps)
			u->tokens = rps;
		u->tokens_at = now;
		if (u->tokens >= 1.0) {
			u->tokens -= 1.0;
			pthread_mutex_unlock(&u->lock);
			return;
		}
		wait_ms = (int64_t)((1.0 - u->tokens) * 1000.0 / rps) + 1;
		nap_locked(u, wait_ms);
		pthread_mutex_unlock(&u->lock);
	}
}

/* Exponential backoff with full jitter: a uniform pick in [base, 2^n base]. */
static void backoff(struct uhub *u, unsigned attempt, bool throttled)
{
	long base = u->cfg.backoff_ms > 0 ? u->cfg.backoff_ms : 100;
	long cap = u->cfg.backoff_max_ms > 0 ? u->cfg.backoff_max_ms : 10000;
	long span, ms;

	if (throttled)
		base *= 4;
	span = base;
	for (unsigned i = 0; i < attempt && span < cap; i++)
		span *= 2;
	if (span > cap)
		span = cap;
	pthread_mutex_lock(&u->lock);
	u->rng ^= u->rng << 13;
	u->rng ^= u->rng >> 7;
	u->rng ^= u->rng << 17;
	ms = base / 2 + (long)(u->rng % (uint64_t)(span - base / 2 + 1));
	nap_locked(u, ms);
	pthread_mutex_unlock(&u->lock);
}

/* Counts a non-zero RetCode by code, for the stats attribute. */
static void count_retcode(struct uhub *u, long code)
{
	size_t i;

	atomic_store(&u->last_retcode, (uint64_t)code);
	pthread_mutex_lock(&u->lock);
	for (i = 0; i < u->rc.nretcodes && u->rc.retcodes[i].code != code; i++)
		;
	if (i == u->rc.nretcodes && i < UHUB_STATS_RETCODES) {
		u->rc.retcodes[i].code = code;
		u->rc.nretcodes++;
	}
	if (i < UHUB_STATS_RETCODES)
		u->rc.retcodes[i].count++;
	pthread_mutex_unlock(&u->lock);
}

/* Logs one call at debug level: the parameters except keys and signature. */
static void log_call(struct uhub *u, const struct params *p, const char *outcome, int64_t ms)
{
	struct buf line;

	if (!log_debug_enabled(u->log))
		return;
	buf_init(&line, 4096);
	for (size_t i = 0; i < params_count(p); i++) {
		const char *name = params_name(p, i);

		if (!strcmp(name, "PublicKey") || !strcmp(name, "Signature") || !strcmp(name, "Action"))
			continue;
		buf_printf(&line, " %s=%s", name, params_value(p, i));
	}
	log_msg(u->log, LOG_DEBUG, "api %s%s -> %s, %lld ms", params_get(p, "Action"), line.data ? line.data : "",
		outcome, (long long)ms);
	buf_release(&line);
}

struct call_result {
	long status;
	int terr;	/* transport error */
	int derr;	/* decode error of a status 200 body */
	struct decode_reply reply;
};

/* Parse memory is bounded per request, by the page size asked for: a
 * reply may hold at most REPLY_PER_ITEM bytes and VALUES_PER_ITEM JSON
 * values per item asked for (three 4 KiB strings fit, escaped, in the
 * one; a tag, image or repo item has 4 to 9 values, extra members
 * included, in the other), plus a floor for the reply's own members; and
 * never more than max_reply. So a page of 100 (the default) may be 1.6
 * MiB with 6,656 values, and cJSON holds some 3 MiB parsing it, where an
 * 8 MiB "[0,0,...]" would have cost 330 MiB; max_requests of them at once
 * stay within 8 x 3 MiB. Bounding the reply rather than the number of
 * parses keeps requests parallel (see README "Memory"). */
#define REPLY_FLOOR ((size_t)64 << 10)
#define REPLY_PER_ITEM ((size_t)16 << 10)
#define VALUES_FLOOR 256
#define VALUES_PER_ITEM 64

static size_t reply_cap(const struct uhub *u)
{
	size_t max = u->cfg.max_reply ? u->cfg.max_reply : (size_t)64 << 20;
	size_t by_page = REPLY_FLOOR + (size_t)u->cfg.page_size * REPLY_PER_ITEM;

	return by_page < max ? by_page : max;
}

static size_t value_cap(const struct uhub *u)
{
	return VALUES_FLOOR + (size_t)u->cfg.page_size * VALUES_PER_ITEM;
}

/* One attempt: post, then decode a status 200 body. Fills r; what the
 * outcome means is outcome()'s business. */
static void attempt(struct uhub *u, const struct params *p, const struct buf *body, enum decode_list kind, const atomic_bool *bg,
		    struct call_result *r)
{
	struct http_reply hr;

	http_reply_init(&hr, reply_cap(u));
	rate_wait(u);
	r->terr = slot_acquire(u, bg);
	if (r->terr)
		return;
	r->terr = u->tr.post(u->tr.self, params_get(p, "Action"), body->data, body->len, &hr);
	slot_release(u);
	r->status = hr.status;
	if (!r->terr && hr.status == 200)
		r->derr = decode_reply_bounded(hr.body.data ? hr.body.data : "", hr.body.len, kind, value_cap(u),
					       &r->reply);
	http_reply_release(&hr);
}

/* What an attempt came to: 0 or the -errno it ends in, and whether another
 * attempt may cure it. The one place where an HTTP status, a reply that
 * does not decode and a RetCode (through uhub_retcode_errno) become an
 * errno; transport errors arrive as errno already (http.c). */
static int outcome(const struct call_result *r, bool lookup, bool *retry)
{
	*retry = false;
	if (r->terr) {
		*retry = transport_transient(r->terr);
		return r->terr;
	}
	if (r->status != 200) {
		*retry = status_transient(r->status);
		return -EIO;
	}
	if (r->derr == -EBADMSG) {
		*retry = true; /* a proxy's error page, a cut body: may pass */
		return -EIO;
	}
	if (r->derr)
		return r->derr == -E2BIG ? -EIO : r->derr; /* too big for a page; -ENOMEM */
	*retry = uhub_retcode_transient(r->reply.retcode);
	return uhub_retcode_errno(r->reply.retcode, lookup);
}

/* Writes a one-line reason for a failed call into why. */
static void describe(const struct call_result *r, char *why, size_t n)
{
	if (!why || !n)
		return;
	if (r->terr)
		snprintf(why, n, "%s", strerror(-r->terr));
	else if (r->status != 200)
		snprintf(why, n, "HTTP status %ld", r->status);
	else if (r->derr)
		snprintf(why, n, "malformed reply (%s)", strerror(-r->derr));
	else
		snprintf(why, n, "RetCode %ld: %s", r->reply.retcode,
			 r->reply.message ? r->reply.message : "(no message)");
}

/* Signs and sends p, retrying transient failures with backoff. On 0, *out
 * holds the decoded reply (RetCode 0). lookup: a name is being looked up
 * (RetCode 230 then means ENOENT). why gets a reason on failure. */
static int call(struct uhub *u, struct params *p, enum uhub_kind k, bool lookup, const atomic_bool *bg, struct decode_reply *out,
		char *why, size_t whylen)
{
	struct buf body;
	struct call_result r;
	char reason[256] = "";
	int err;

	buf_init(&body, 1 << 16);
	err = sign_params(p, u->cfg.private_key);
	if (!err)
		err = params_encode(p, &body);
	for (unsigned n = 0; !err; n++) {
		int64_t t0 = now_ms();
		bool retry, throttled;

		memset(&r, 0, sizeof(r));
		if (uhub_cancelled(u)) {
			err = -ECANCELED;
			break;
		}
		atomic_fetch_add(&u->calls[k], 1);
		attempt(u, p, &body, decode_kind[k], bg, &r);
		if (!r.terr && !r.derr && r.status == 200 && r.reply.retcode)
			count_retcode(u, r.reply.retcode);
		err = outcome(&r, lookup, &retry);
		if (uhub_cancelled(u)) {
			/* In flight when cancelled: its answer is not wanted. */
			decode_reply_release(&r.reply);
			err = -ECANCELED;
			break;
		}
		if (err)
			describe(&r, reason, sizeof(reason));
		log_call(u, p, err ? reason : "ok", now_ms() - t0);
		if (!err) {
			*out = r.reply;
			break;
		}
		throttled = r.reply.retcode == 153 || r.status == 429;
		decode_reply_release(&r.reply);
		if (!retry || n >= u->cfg.retries)
			break;
		atomic_fetch_add(&u->retries, 1);
		backoff(u, n, throttled);
		err = 0;
	}
	if (err) {
		atomic_fetch_add(&u->errors, 1);
		/* ENOENT is an answer, not a failure worth a warning; a caller
		 * that asked for the reason reports it itself. */
		if (why && whylen)
			snprintf(why, whylen, "%s", reason[0] ? reason : strerror(-err));
		else if (err != -ENOENT && err != -ECANCELED)
			log_msg(u->log, LOG_WARNING, "%s failed: %s", params_get(p, "Action"), reason);
	}
	buf_release(&body);
	return err;
}

/* ---- requests ------------------------------------------------------------ */

/* The common parameters plus the names that select a list. */
static struct params *base_params(struct uhub *u, enum uhub_kind k, const char *repo, const char *image)
{
	struct params *p = params_new();
	int err;

	if (!p)
		return NULL;
	err = params_add(p, "Action", action_name[k]);
	if (!err)
		err = params_add(p, "PublicKey", u->cfg.public_key);
	if (!err && u->cfg.project)
		err = params_add(p, "ProjectId", u->cfg.project);
	if (!err && k == UHUB_REPOS)
		err = params_add(p, "Type", u->cfg.repo_type);
	if (!err && k != UHUB_REPOS)
		err = params_add(p, "RepoName", repo);
	if (!err && k == UHUB_TAGS)
		err = params_add(p, "ImageName", image);
	if (err) {
		params_free(p);
		return NULL;
	}
	return p;
}

/* One page at offset with the configured Limit. */
static int fetch_page(struct uhub *u, enum uhub_kind k, const char *repo, const char *image, long long offset,
		      const atomic_bool *bg, struct decode_reply *out)
{
	struct params *p = base_params(u, k, repo, image);
	int err = p ? 0 : -ENOMEM;

	if (!err)
		err = params_add_long(p, "Offset", offset);
	if (!err)
		err = params_add_long(p, "Limit", u->cfg.page_size);
	if (!err)
		err = call(u, p, k, k != UHUB_REPOS, bg, out, NULL, 0);
	params_free(p);
	return err;
}

/* ---- listings ------------------------------------------------------------ */

struct slot {
	long long offset;
	long long want;	/* items expected from offset (the slot's width) */
};

/* One item of a listing in progress, with what settles a duplicate: the
 * newest UpdateTime wins, and on a tie the page that arrived last. */
struct held {
	struct decode_item it;
	int64_t t;	/* UpdateTime in Unix seconds; INT64_MIN: none or unparsable */
	uint64_t seq;	/* arrival order of its page */
};

/* A listing in progress, shared by its worker threads under lock. Slots
 * are made as they are needed: the next planned one starts at next, and
 * gaps holds the re-fetches of short pages; nothing is planned up front
 * from a TotalCount, which a server may set to anything. */
struct listing {
	struct uhub *u;
	enum uhub_kind kind;
	const char *repo, *image;
	const atomic_bool *bg;	/* background priority while true; NULL: foreground */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct slot *gaps;	/* a stack of short pages' remainders */
	size_t ngaps, agaps;
	long long next;		/* the next planned page's offset */
	unsigned busy;		/* workers inside a call */
	long long end;		/* no item at or past this offset */
	long long page;		/* the page size the server applied */
	long long max;		/* max_entries */
	size_t calls, budget;	/* pages asked for, and the most allowed */
	size_t bytes, max_bytes;/* memory the items hold, and its cap */
	uint64_t seq;		/* pages settled so far */
	bool cut;		/* an empty page ended the list early */
	int err;
	char why[160];		/* a listing-level failure, for its one log line */
	struct held *items;
	size_t n, alloc;
	size_t badnames;	/* dropped by the decoder: no file name */
	char badname[DECODE_SHOWN_MAX];
};

static int push_gap(struct listing *l, long long offset, long long want)
{
	if (l->ngaps == l->agaps) {
		size_t want_n = l->agaps ? l->agaps * 2 : 16;
		struct slot *q = realloc(l->gaps, want_n * sizeof(*q));

		if (!q)
			return -ENOMEM;
		l->gaps = q;
		l->agaps = want_n;
	}
	l->gaps[l->ngaps].offset = offset;
	l->gaps[l->ngaps].want = want;
	l->ngaps++;
	return 0;
}

/* What an item costs the listing: its record and its strings. */
static size_t item_bytes(const struct decode_item *it)
{
	return sizeof(struct held) + strlen(it->name) + 1 + (it->time ? strlen(it->time) + 1 : 0) +
	       (it->digest ? strlen(it->digest) + 1 : 0);
}

/* UpdateTime as seconds, to tell which copy of a name is newer. Both
 * copies come from one server in one format, so the zone given to
 * zone-less times does not change their order. */
static int64_t item_time(const struct decode_item *it)
{
	int64_t t;

	return it->time && timefmt_parse(it->time, 0, &t) == 0 ? t : INT64_MIN;
}

/* Room for more items, within max_entries (and a page of slack). */
static int grow_items(struct listing *l, size_t more)
{
	size_t want = l->alloc ? l->alloc : 64;
	struct held *v;

	if (l->n + more > (size_t)l->max + (size_t)l->page) {
		snprintf(l->why, sizeof(l->why), "over the cap of %lld entries", l->max);
		return -EFBIG;
	}
	if (l->n + more <= l->alloc)
		return 0;
	while (want < l->n + more)
		want *= 2;
	v = realloc(l->items, want * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->items = v;
	l->alloc = want;
	return 0;
}

/* Moves a page's items into the listing (which takes ownership), within
 * the caps on entries and on bytes. */
static int take_items(struct listing *l, struct decode_reply *r)
{
	size_t bytes = 0;
	int err;

	if (r->badnames && !l->badnames)
		memcpy(l->badname, r->badname, sizeof(l->badname));
	l->badnames += r->badnames;
	for (size_t i = 0; i < r->n; i++)
		bytes += item_bytes(&r->items[i]);
	if (bytes > l->max_bytes - l->bytes) {
		snprintf(l->why, sizeof(l->why), "over the cap of %zu bytes a listing may hold (cache_size)",
			 l->max_bytes);
		return -EFBIG;
	}
	err = r->n ? grow_items(l, r->n) : 0;
	if (err)
		return err;
	l->seq++;
	for (size_t i = 0; i < r->n; i++) {
		struct held *h = &l->items[l->n + i];

		h->it = r->items[i];
		h->t = item_time(&h->it);
		h->seq = l->seq;
	}
	l->n += r->n;
	l->bytes += bytes;
	r->n = 0; /* the strings now belong to the listing */
	return 0;
}

/* Where the list ends by a page's TotalCount: never past max_entries + 1,
 * whatever page says it (one past the cap is how a listing learns it is
 * too big). A missing TotalCount says nothing: page until an empty page. */
static long long total_end(const struct listing *l, long long total)
{
	return total < 0 || total > l->max ? l->max + 1 : total;
}

/* Folds one page's answer into the listing (lock held). Positions count
 * skipped (malformed or unnamed) items too, so they do not look like a
 * short page. */
static int settle(struct listing *l, const struct slot *s, struct decode_reply *r)
{
	long long got = (long long)r->n + (long long)r->skipped;
	int err;

	if (got == 0) {
		/* The list ends here, whatever TotalCount said. */
		if (s->offset < l->end)
			l->end = s->offset;
		l->cut = true;
		return 0;
	}
	err = take_items(l, r);
	/* The list grew while we paged: its new tail gets slots as the
	 * cursor reaches it. */
	if (!err && r->total >= 0 && total_end(l, r->total) > l->end && !l->cut)
		l->end = total_end(l, r->total);
	if (!err && got < s->want && s->offset + got < l->end)
		err = push_gap(l, s->offset + got, s->want - got);
	return err;
}

/* Slots still to fetch, planned or not (lock held). */
static long long pending(const struct listing *l)
{
	return (long long)l->ngaps + (l->next < l->end ? (l->end - l->next + l->page - 1) / l->page : 0);
}

/* Takes the next slot worth fetching (lock held); false when done. */
static bool next_slot(struct listing *l, struct slot *s)
{
	for (;;) {
		while (!l->err && !pending(l) && l->busy)
			pthread_cond_wait(&l->changed, &l->lock);
		if (!l->err && uhub_cancelled(l->u))
			l->err = -ECANCELED;
		if (l->err || !pending(l))
			return false;
		if (l->ngaps) {
			*s = l->gaps[--l->ngaps];
			if (s->offset >= l->end)
				continue;
		} else {
			s->offset = l->next;
			s->want = l->end - l->next < l->page ? l->end - l->next : l->page;
			l->next += l->page;
		}
		if (l->calls >= l->budget) {
			l->err = -EIO;
			snprintf(l->why, sizeof(l->why),
				 "over the budget of %zu requests: 2 x ceil(TotalCount / %lld, the first page) + 10",
				 l->budget, l->page);
			return false;
		}
		l->calls++;
		return true;
	}
}

static void *worker(void *arg)
{
	struct listing *l = arg;
	struct slot s;

	pthread_mutex_lock(&l->lock);
	while (next_slot(l, &s)) {
		struct decode_reply r = {0};
		int err;

		l->busy++;
		pthread_mutex_unlock(&l->lock);
		err = fetch_page(l->u, l->kind, l->repo, l->image, s.offset, l->bg, &r);
		pthread_mutex_lock(&l->lock);
		l->busy--;
		if (!err) {
			err = settle(l, &s, &r);
			decode_reply_release(&r);
		}
		if (err && !l->err)
			l->err = err;
		pthread_cond_broadcast(&l->changed);
	}
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* Runs the slots on up to max_requests threads, this one included. */
static void drain(struct listing *l)
{
	long long want = l->u->cfg.max_requests, todo = pending(l);
	unsigned started = 0;
	pthread_t tid[64];

	if (want > 64)
		want = 64;
	if (want > todo)
		want = todo;
	for (long long i = 1; i < want; i++)
		if (pthread_create(&tid[started], NULL, worker, l) == 0)
			started++;
	worker(l);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
}

/* By name; a name's copies newest first (by UpdateTime, then arrival), so
 * the first of a run is the one to keep. Total: qsort is not stable. */
static int cmp_held(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	int c = strcmp(x->it.name, y->it.name);

	if (c)
		return c;
	if (x->t != y->t)
		return x->t > y->t ? -1 : 1;
	return x->seq > y->seq ? -1 : x->seq < y->seq;
}

static void free_item(struct decode_item *it)
{
	free(it->name);
	free(it->time);
	free(it->digest);
	it->name = it->time = it->digest = NULL;
}

/* Sorts by name and keeps the newest copy of each; hands the result to out. */
static int finish(struct listing *l, struct uhub_list *out)
{
	size_t keep = 0;
	struct uhub_entry *v;

	if (l->n)
		qsort(l->items, l->n, sizeof(*l->items), cmp_held);
	for (size_t i = 0; i < l->n; i++) {
		if (keep && strcmp(l->items[keep - 1].it.name, l->items[i].it.name) == 0) {
			free_item(&l->items[i].it);
			continue;
		}
		l->items[keep++] = l->items[i];
	}
	l->n = keep;
	v = calloc(keep ? keep : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < keep; i++) {
		v[i].name = l->items[i].it.name;
		v[i].time = l->items[i].it.time;
		v[i].digest = l->items[i].it.digest;
	}
	l->n = 0;
	out->v = v;
	out->n = keep;
	return 0;
}

/* The first page, which tells TotalCount and the page size in effect, and
 * so the call budget: twice the pages TotalCount needs at that size, plus
 * ten. A server that then shrinks its pages (one item each) or keeps
 * growing its list runs out of budget instead of costing a call per item. */
static int first_page(struct listing *l)
{
	struct decode_reply r = {0};
	long long got;
	int err = fetch_page(l->u, l->kind, l->repo, l->image, 0, l->bg, &r);

	if (err)
		return err;
	got = (long long)r.n + (long long)r.skipped;
	l->page = got > 0 ? got : 1;
	l->end = total_end(l, r.total);
	l->next = got;
	l->calls = 1;
	l->budget = 2 * (size_t)((l->end + l->page - 1) / l->page) + 10;
	err = take_items(l, &r);
	if (!err && got == 0)
		l->end = 0;
	decode_reply_release(&r);
	return err;
}

/* The one line a listing-level failure is worth (each failed call has
 * logged its own already), and the refused names. */
static void log_listing(const struct listing *l, int err)
{
	const char *sep = l->image ? "/" : "";

	if (err && l->why[0])
		log_msg(l->u->log, LOG_WARNING, "listing %s%s%s failed: %s: %s (after %zu requests, %zu items)",
			l->repo ? l->repo : "/", sep, l->image ? l->image : "", strerror(-err), l->why, l->calls,
			l->n);
	if (!l->badnames)
		return;
	log_msg(l->u->log, LOG_WARNING, "skipping a name that cannot be a file name: \"%s\"", l->badname);
	if (l->badnames > 1)
		log_msg(l->u->log, LOG_WARNING, "skipped %zu names that cannot be file names in %s%s%s", l->badnames,
			l->repo ? l->repo : "/", sep, l->image ? l->image : "");
}

static int list(struct uhub *u, enum uhub_kind kind, const char *repo, const char *image, const atomic_bool *bg,
		struct uhub_list *out)
{
	struct listing l = {.u = u, .kind = kind, .repo = repo, .image = image, .bg = bg};
	int err;

	out->v = NULL;
	out->n = 0;
	l.max = u->cfg.max_entries ? (long long)u->cfg.max_entries : 1000000;
	l.max_bytes = u->cfg.max_listing_bytes ? u->cfg.max_listing_bytes : (size_t)256 << 20;
	pthread_mutex_init(&l.lock, NULL);
	pthread_cond_init(&l.changed, NULL);
	err = first_page(&l);
	if (!err && pending(&l))
		drain(&l);
	if (!err)
		err = l.err;
	if (!err)
		err = finish(&l, out);
	log_listing(&l, err);
	for (size_t i = 0; i < l.n; i++)
		free_item(&l.items[i].it);
	free(l.items);
	free(l.gaps);
	pthread_mutex_destroy(&l.lock);
	pthread_cond_destroy(&l.changed);
	return err;
}

int uhub_list(struct uhub *u, enum uhub_kind kind, const char *repo, const char *image, struct uhub_list *out)
{
	return list(u, kind, repo, image, NULL, out);
}

int uhub_list_bg(struct uhub *u, enum uhub_kind kind, const char *repo, const char *image, const atomic_bool *bg,
		 struct uhub_list *out)
{
	return list(u, kind, repo, image, bg, out);
}

static void entry_release(struct uhub_entry *e)
{
	free(e->name);
	free(e->time);
	free(e->digest);
	e->name = e->time = e->digest = NULL;
}

void uhub_list_release(struct uhub_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		entry_release(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void uhub_entry_release(struct uhub_entry *e)
{
	entry_release(e);
}

/* ---- single lookups and the probe ---------------------------------------- */

int uhub_get_tag(struct uhub *u, const char *repo, const char *image, const char *tag, struct uhub_entry *out)
{
	struct params *p = base_params(u, UHUB_TAGS, repo, image);
	struct decode_reply r = {0};
	int err = p ? 0 : -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!err)
		err = params_add(p, "TagName", tag);
	if (!err)
		err = call(u, p, UHUB_TAGS, true, NULL, &r, NULL, 0);
	params_free(p);
	if (err)
		return err;
	/* The filter is the server's promise, not ours: match the name. */
	err = -ENOENT;
	for (size_t i = 0; i < r.n && err; i++) {
		if (strcmp(r.items[i].name, tag) == 0) {
			out->name = r.items[i].name;
			out->time = r.items[i].time;
			out->digest = r.items[i].digest;
			memset(&r.items[i], 0, sizeof(r.items[i]));
			err = 0;
		}
	}
	decode_reply_release(&r);
	return err;
}

int uhub_probe(struct uhub *u, char *why, size_t whylen)
{
	struct params *p = base_params(u, UHUB_REPOS, NULL, NULL);
	struct decode_reply r = {0};
	int err = p ? 0 : -ENOMEM;

	if (!err)
		err = params_add(p, "Offset", "0");
	if (!err)
		err = params_add(p, "Limit", "1");
	if (!err)
		err = call(u, p, UHUB_REPOS, false, NULL, &r, why, whylen);
	if (!err)
		decode_reply_release(&r);
	params_free(p);
	return err;
}

void uhub_get_stats(struct uhub *u, struct uhub_stats *out)
{
	for (int i = 0; i < 3; i++)
		out->calls[i] = atomic_load(&u->calls[i]);
	out->retries = atomic_load(&u->retries);
	out->errors = atomic_load(&u->errors);
	out->last_retcode = atomic_load(&u->last_retcode);
	pthread_mutex_lock(&u->lock);
	memcpy(out->retcodes, u->rc.retcodes, sizeof(out->retcodes));
	out->nretcodes = u->rc.nretcodes;
	pthread_mutex_unlock(&u->lock);
}

const char *uhub_action(enum uhub_kind k)
{
	return action_name[k];
}

int uhub_http_post(void *self, const char *action, const char *body, size_t len, struct http_reply *reply)
{
	char query[80];

	/* Like the Go SDK: Action in the query too, for gateway routing and
	 * readable access logs; it is not a signed parameter of its own. */
	snprintf(query, sizeof(query), "Action=%s", action ? action : "");
	return http_post(self, query, body, len, reply);
}

void uhub_http_cancel(void *self)
{
	http_cancel(self);
}
