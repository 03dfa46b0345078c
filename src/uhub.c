/* uhub.c — the three read calls of the UHub API and DeleteRepoImage,
 * over a replaceable transport: signing, retries with backoff, RetCode -> errno, and whole
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
#include "pages.h"
#include "params.h"
#include "sign.h"

static const char *const action_name[] = {"GetRepo", "GetRepoImage", "GetImageTag", "DeleteRepoImage"};
static const enum decode_list decode_kind[] = {DECODE_REPOS, DECODE_IMAGES, DECODE_TAGS, DECODE_NONE};

struct uhub {
	struct uhub_config cfg; /* strings owned (copied) */
	struct uhub_transport tr;
	struct log *log;
	pthread_mutex_t lock; /* guards inflight, fg_waiting, rng, rc, tokens */
	pthread_cond_t slot;
	pthread_cond_t wake;   /* backoff and rate sleeps; CLOCK_MONOTONIC */
	atomic_bool cancelled; /* uhub_cancel: every call ends, ECANCELED */
	unsigned inflight, fg_waiting;
	double tokens;	   /* max_rps token bucket */
	int64_t tokens_at; /* when tokens was last topped up (ms) */
	uint64_t rng;
	struct uhub_stats rc; /* only its retcodes table is used */
	_Atomic uint64_t calls[4], retries, errors, last_retcode;
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
	int terr; /* transport error */
	int derr; /* decode error of a status 200 body */
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
 * parses keeps requests parallel (imgtagfs(1), RELIABILITY). */
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
static void attempt(struct uhub *u, const struct params *p, const struct buf *body, enum decode_list kind,
		    const atomic_bool *bg, struct call_result *r)
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
		r->derr =
		    decode_reply_bounded(hr.body.data ? hr.body.data : "", hr.body.len, kind, value_cap(u), &r->reply);
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

/* Whether a failed attempt certainly did nothing on the server: refused
 * before the request could be read (a connection refused, a host
 * unreachable), or answered "not now" (HTTP 429, RetCode 153). The only
 * failures after which a deletion may be sent again without looking. */
static bool not_done(const struct call_result *r)
{
	if (r->terr)
		return r->terr == -ECONNREFUSED || r->terr == -EHOSTUNREACH;
	return r->status == 429 || (r->status == 200 && !r->derr && r->reply.retcode == 153);
}

/* Signs and sends p, retrying transient failures with backoff. On 0, *out
 * holds the decoded reply (RetCode 0). lookup: a name is being looked up
 * (RetCode 230 then means ENOENT). why gets a reason on failure. A
 * deletion (UHUB_DELETE) is retried only when not_done, and *unsure says
 * whether a failure may have been carried out nonetheless. */
static int call(struct uhub *u, struct params *p, enum uhub_kind k, bool lookup, const atomic_bool *bg,
		struct decode_reply *out, char *why, size_t whylen, bool *unsure)
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
		if (k == UHUB_DELETE && err) {
			*unsure = retry && !not_done(&r);
			retry = not_done(&r);
		}
		if (uhub_cancelled(u)) {
			/* In flight when cancelled: its answer is not wanted. */
			decode_reply_release(&r.reply);
			if (k == UHUB_DELETE)
				*unsure = true;
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
	if (!err && (k == UHUB_TAGS || k == UHUB_DELETE))
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
		err = call(u, p, k, k != UHUB_REPOS, bg, out, NULL, 0, NULL);
	params_free(p);
	return err;
}

/* ---- listings ------------------------------------------------------------ */

/* Pages a check may ask for at once. */
#define TODO_MAX 64

/* A listing in progress, shared by its worker threads under lock: the
 * pages received (pages.h, which checks and repairs a list that moved),
 * the pages a check asked for, and the first pass's plan. Nothing is
 * planned from a TotalCount alone past what pages.c allows. */
struct listing {
	struct uhub *u;
	enum uhub_kind kind;
	const char *repo, *image;
	const atomic_bool *bg; /* background priority while true; NULL: foreground */
	_Atomic uint64_t *progress; /* pages answered, for the caller; or NULL */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct pages *pages;
	struct pages_slot todo[TODO_MAX];
	size_t ntodo;
	unsigned busy;	      /* workers inside a call */
	size_t calls, budget; /* pages asked for, and the most allowed */
	bool spent;	      /* the budget ran out before the list was verified */
	int err;
	char why[160];	 /* a listing-level failure, for its one log line */
	size_t badnames; /* dropped by the decoder: no file name */
	char badname[DECODE_SHOWN_MAX];
};

static void note_badnames(struct listing *l, const struct decode_reply *r)
{
	if (r->badnames && !l->badnames)
		memcpy(l->badname, r->badname, sizeof(l->badname));
	l->badnames += r->badnames;
}

/* Takes the next page to fetch (lock held); false when done. A worker
 * with nothing to do waits while others are busy: an answer may extend
 * the plan (the list grew). */
static bool next_slot(struct listing *l, struct pages_slot *s)
{
	for (;;) {
		if (!l->err && uhub_cancelled(l->u))
			l->err = -ECANCELED;
		if (l->err || l->spent)
			return false;
		if (l->ntodo) {
			*s = l->todo[--l->ntodo];
		} else if (!pages_plan(l->pages, s)) {
			if (!l->busy)
				return false;
			pthread_cond_wait(&l->changed, &l->lock);
			continue;
		}
		if (l->calls >= l->budget) {
			l->spent = true;
			l->ntodo = 0;
			return false;
		}
		l->calls++;
		return true;
	}
}

static void *worker(void *arg)
{
	struct listing *l = arg;
	struct pages_slot s;

	pthread_mutex_lock(&l->lock);
	while (next_slot(l, &s)) {
		struct decode_reply r = {0};
		uint64_t sent = pages_sent(l->pages);
		int err;

		l->busy++;
		pthread_mutex_unlock(&l->lock);
		err = fetch_page(l->u, l->kind, l->repo, l->image, s.offset, l->bg, &r);
		pthread_mutex_lock(&l->lock);
		l->busy--;
		if (!err) {
			note_badnames(l, &r);
			err = pages_add(l->pages, &s, sent, &r, l->why, sizeof(l->why));
			if (l->progress)
				atomic_fetch_add(l->progress, 1);
		}
		decode_reply_release(&r);
		if (err && !l->err)
			l->err = err;
		pthread_cond_broadcast(&l->changed);
	}
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* Runs what is queued and planned on up to max_requests threads, this
 * one included. */
static void drain(struct listing *l)
{
	long long want = l->u->cfg.max_requests, todo = (long long)l->ntodo + pages_plan_left(l->pages);
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

/* The first pass, then checks and repairs until the list is verified or
 * the call budget is spent (l->spent: the caller takes it unsure). */
static int run(struct listing *l)
{
	size_t n;
	int done;

	for (;;) {
		drain(l);
		if (l->err)
			return l->err;
		done = pages_check(l->pages, l->todo, TODO_MAX, &n);
		if (done)
			return done < 0 ? done : 0;
		if (l->spent || l->calls >= l->budget) {
			l->spent = true;
			return 0;
		}
		l->ntodo = n;
	}
}

/* The first page, which tells TotalCount and the page size in effect, and
 * so the call budget: 2 x ceil(TotalCount / the first page's size) + 10,
 * room for the overlapping first pass and for repairs. A
 * server that then shrinks its pages (one item each) or keeps growing its
 * list, or a list that never holds still, runs out of budget instead of
 * costing a call per item. */
static int first_page(struct listing *l, long long max, size_t max_bytes)
{
	struct decode_reply r = {0};
	int err = fetch_page(l->u, l->kind, l->repo, l->image, 0, l->bg, &r);

	if (!err) {
		note_badnames(l, &r);
		l->pages = pages_new(&r, max, max_bytes, &err, l->why, sizeof(l->why));
		if (l->progress)
			atomic_fetch_add(l->progress, 1);
	}
	decode_reply_release(&r);
	if (err)
		return err;
	l->calls = 1;
	l->budget = 2 * (size_t)pages_planned(l->pages) + 10;
	return 0;
}

/* The one line a listing-level failure is worth (each failed call has
 * logged its own already), an unsure listing's, and the refused names. */
static void log_listing(const struct listing *l, int err, const struct uhub_list *out)
{
	const char *sep = l->image ? "/" : "", *repo = l->repo ? l->repo : "/", *image = l->image ? l->image : "";

	if (err && l->why[0])
		log_msg(l->u->log, LOG_WARNING, "listing %s%s%s failed: %s: %s (after %zu requests)", repo, sep, image,
			strerror(-err), l->why, l->calls);
	else if (!err && out->unsure)
		log_msg(l->u->log, LOG_WARNING,
			"listing %s%s%s changed while it was paged and could not be verified in %zu requests: kept, "
			"names it lacks are looked up one by one",
			repo, sep, image, l->calls);
	if (!l->badnames)
		return;
	log_msg(l->u->log, LOG_WARNING, "skipping a name that cannot be a file name: \"%s\"", l->badname);
	if (l->badnames > 1)
		log_msg(l->u->log, LOG_WARNING, "skipped %zu names that cannot be file names in %s%s%s", l->badnames,
			repo, sep, image);
}

static int list(struct uhub *u, enum uhub_kind kind, const char *repo, const char *image, const atomic_bool *bg,
		_Atomic uint64_t *progress, struct uhub_list *out)
{
	struct listing l = {.u = u, .kind = kind, .repo = repo, .image = image, .bg = bg, .progress = progress};
	long long max = u->cfg.max_entries ? (long long)u->cfg.max_entries : 1000000;
	size_t max_bytes = u->cfg.max_listing_bytes ? u->cfg.max_listing_bytes : (size_t)256 << 20;
	int err;

	out->v = NULL;
	out->n = 0;
	out->unsure = false;
	pthread_mutex_init(&l.lock, NULL);
	pthread_cond_init(&l.changed, NULL);
	err = first_page(&l, max, max_bytes);
	if (!err)
		err = run(&l);
	if (!err)
		err = pages_take(l.pages, l.spent, out);
	if (err == -EIO && l.spent)
		snprintf(l.why, sizeof(l.why),
			 "over the budget of %zu requests: 2 x ceil(TotalCount / %lld, the first page) + 10",
			 l.budget, pages_page(l.pages));
	log_listing(&l, err, out);
	pages_free(l.pages);
	pthread_mutex_destroy(&l.lock);
	pthread_cond_destroy(&l.changed);
	return err;
}

int uhub_list(struct uhub *u, enum uhub_kind kind, const char *repo, const char *image, struct uhub_list *out)
{
	return list(u, kind, repo, image, NULL, NULL, out);
}

int uhub_list_bg(struct uhub *u, enum uhub_kind kind, const char *repo, const char *image, const atomic_bool *bg,
		 _Atomic uint64_t *progress, struct uhub_list *out)
{
	return list(u, kind, repo, image, bg, progress, out);
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
		err = call(u, p, UHUB_TAGS, true, NULL, &r, NULL, 0, NULL);
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

int uhub_delete(struct uhub *u, const char *repo, const char *image, const char *tag, bool *unsure)
{
	struct params *p = base_params(u, UHUB_DELETE, repo, image);
	struct decode_reply r = {0};
	int err = p ? 0 : -ENOMEM;

	*unsure = false;
	if (!err && tag)
		err = params_add(p, "TagName", tag);
	if (!err)
		err = call(u, p, UHUB_DELETE, true, NULL, &r, NULL, 0, unsure);
	if (!err)
		decode_reply_release(&r);
	params_free(p);
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
		err = call(u, p, UHUB_REPOS, false, NULL, &r, why, whylen, NULL);
	if (!err)
		decode_reply_release(&r);
	params_free(p);
	return err;
}

void uhub_get_stats(struct uhub *u, struct uhub_stats *out)
{
	for (int i = 0; i < 4; i++)
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
	/* A deletion must not be sent twice behind our back (http_post_once):
	 * whether it happened is looked at before it is sent again. */
	if (action && strcmp(action, uhub_action(UHUB_DELETE)) == 0)
		return http_post_once(self, query, body, len, reply);
	return http_post(self, query, body, len, reply);
}

void uhub_http_cancel(void *self)
{
	http_cancel(self);
}
