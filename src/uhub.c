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
#include "params.h"
#include "sign.h"

static const char *const action_name[] = {"GetRepo", "GetRepoImage", "GetImageTag"};
static const enum decode_list decode_kind[] = {DECODE_REPOS, DECODE_IMAGES, DECODE_TAGS};

struct uhub {
	struct uhub_config cfg;	/* strings owned (copied) */
	struct uhub_transport tr;
	struct log *log;
	pthread_mutex_t lock;	/* guards inflight, fg_waiting, rng, rc, tokens */
	pthread_cond_t slot;
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
		uhub_free(u);
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
	clock_gettime(CLOCK_REALTIME, &ts);
	u->rng = (uint64_t)ts.tv_nsec * 2654435761u + (uint64_t)ts.tv_sec + 1;
	return u;
}

static void free_secret(const char *s)
{
	if (s) {
		explicit_bzero((char *)s, strlen(s));
		free((char *)s);
	}
}

void uhub_free(struct uhub *u)
{
	if (!u)
		return;
	free_secret(u->cfg.private_key);
	free((char *)u->cfg.public_key);
	free((char *)u->cfg.project);
	free((char *)u->cfg.repo_type);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->slot);
	free(u);
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
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for one of max_requests slots, so parallel listings together
 * never exceed the limit. Background requests leave one slot free and
 * yield to any foreground request that waits. */
static void slot_acquire(struct uhub *u, bool bg)
{
	unsigned bg_max = u->cfg.max_requests > 1 ? u->cfg.max_requests - 1 : 1;

	pthread_mutex_lock(&u->lock);
	if (!bg) {
		u->fg_waiting++;
		while (u->inflight >= u->cfg.max_requests)
			pthread_cond_wait(&u->slot, &u->lock);
		u->fg_waiting--;
	} else {
		while (u->inflight >= bg_max || u->fg_waiting)
			pthread_cond_wait(&u->slot, &u->lock);
	}
	u->inflight++;
	pthread_mutex_unlock(&u->lock);
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
	for (;;) {
		int64_t now = now_ms(), wait_ms;
		struct timespec ts;

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
		pthread_mutex_unlock(&u->lock);
		ts.tv_sec = wait_ms / 1000;
		ts.tv_nsec = (wait_ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
}

/* Exponential backoff with full jitter: a uniform pick in [base, 2^n base]. */
static void backoff(struct uhub *u, unsigned attempt, bool throttled)
{
	long base = u->cfg.backoff_ms > 0 ? u->cfg.backoff_ms : 100;
	long cap = u->cfg.backoff_max_ms > 0 ? u->cfg.backoff_max_ms : 10000;
	long span, ms;
	struct timespec ts;

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
	pthread_mutex_unlock(&u->lock);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
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

/* One attempt: post, then decode a status 200 body. Fills r; what the
 * outcome means is outcome()'s business. */
static void attempt(struct uhub *u, const struct params *p, const struct buf *body, enum decode_list kind, bool bg,
		    struct call_result *r)
{
	struct http_reply hr;

	http_reply_init(&hr, u->cfg.max_reply ? u->cfg.max_reply : 64u << 20);
	rate_wait(u);
	slot_acquire(u, bg);
	r->terr = u->tr.post(u->tr.self, params_get(p, "Action"), body->data, body->len, &hr);
	slot_release(u);
	r->status = hr.status;
	if (!r->terr && hr.status == 200)
		r->derr = decode_reply(hr.body.data ? hr.body.data : "", hr.body.len, kind, &r->reply);
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
static int call(struct uhub *u, struct params *p, enum uhub_kind k, bool lookup, bool bg, struct decode_reply *out,
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
		atomic_fetch_add(&u->calls[k], 1);
		attempt(u, p, &body, decode_kind[k], bg, &r);
		if (!r.terr && !r.derr && r.status == 200 && r.reply.retcode)
			count_retcode(u, r.reply.retcode);
		err = outcome(&r, lookup, &retry);
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
		else if (err != -ENOENT)
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
		      bool bg, struct decode_reply *out)
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

/* A listing in progress, shared by its worker threads under lock. */
struct listing {
	struct uhub *u;
	enum uhub_kind kind;
	const char *repo, *image;
	bool bg;		/* background priority */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct slot *queue;	/* a stack of slots still to fetch */
	size_t nqueue, aqueue;
	unsigned busy;		/* workers inside a call */
	long long end;		/* no item at or past this offset */
	long long page;		/* the page size the server applied */
	size_t calls_left;	/* budget against a server that never ends */
	bool cut;		/* an empty page ended the list early */
	int err;
	struct decode_item *items;
	size_t n, alloc;
	size_t badnames;	/* dropped by the decoder: no file name */
	char badname[DECODE_SHOWN_MAX];
};

static int push_slot(struct listing *l, long long offset, long long want)
{
	if (l->nqueue == l->aqueue) {
		size_t want_n = l->aqueue ? l->aqueue * 2 : 16;
		struct slot *q = realloc(l->queue, want_n * sizeof(*q));

		if (!q)
			return -ENOMEM;
		l->queue = q;
		l->aqueue = want_n;
	}
	l->queue[l->nqueue].offset = offset;
	l->queue[l->nqueue].want = want;
	l->nqueue++;
	return 0;
}

/* Moves a page's items into the listing (which takes ownership). */
static int take_items(struct listing *l, struct decode_reply *r)
{
	size_t max = l->u->cfg.max_entries ? l->u->cfg.max_entries : 1000000;

	if (r->badnames && !l->badnames++)
		memcpy(l->badname, r->badname, sizeof(l->badname));
	else if (r->badnames)
		l->badnames += r->badnames;
	if (l->n + r->n > max + (size_t)l->page)
		return -EFBIG;
	if (!r->n)
		return 0;
	if (l->n + r->n > l->alloc) {
		size_t want = l->alloc ? l->alloc : 64;
		struct decode_item *v;

		while (want < l->n + r->n)
			want *= 2;
		v = realloc(l->items, want * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->items = v;
		l->alloc = want;
	}
	memcpy(l->items + l->n, r->items, r->n * sizeof(*r->items));
	l->n += r->n;
	r->n = 0; /* the strings now belong to the listing */
	return 0;
}

/* Plans the slots after the first page: [first, end) in steps of page. */
static int plan(struct listing *l, long long first)
{
	/* Pushed last-first so the stack pops them in ascending order. */
	long long count = (l->end - first + l->page - 1) / l->page;

	for (long long i = count - 1; i >= 0; i--) {
		long long off = first + i * l->page;
		long long want = l->end - off < l->page ? l->end - off : l->page;
		int err = push_slot(l, off, want);

		if (err)
			return err;
	}
	return 0;
}

/* Folds one page's answer into the listing (lock held). Positions count
 * skipped (malformed) items too, so they do not look like a short page. */
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
	if (!err && r->total > l->end && !l->cut) {
		/* The list grew while we paged: fetch the new tail too. */
		long long old = l->end;

		l->end = r->total;
		err = plan(l, old);
	}
	if (!err && got < s->want && s->offset + got < l->end)
		err = push_slot(l, s->offset + got, s->want - got);
	return err;
}

/* Takes the next slot worth fetching (lock held); false when done. */
static bool next_slot(struct listing *l, struct slot *s)
{
	for (;;) {
		while (!l->err && !l->nqueue && l->busy)
			pthread_cond_wait(&l->changed, &l->lock);
		if (l->err || !l->nqueue)
			return false;
		*s = l->queue[--l->nqueue];
		if (s->offset >= l->end)
			continue;
		if (!l->calls_left) {
			l->err = -EFBIG;
			return false;
		}
		l->calls_left--;
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

/* Runs the queued slots on up to max_requests threads, this one included. */
static void drain(struct listing *l)
{
	unsigned want = l->u->cfg.max_requests, started = 0;
	pthread_t tid[64];

	if (want > 64)
		want = 64;
	if (want > l->nqueue)
		want = (unsigned)l->nqueue;
	for (unsigned i = 1; i < want; i++)
		if (pthread_create(&tid[started], NULL, worker, l) == 0)
			started++;
	worker(l);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct decode_item *)a)->name, ((const struct decode_item *)b)->name);
}

static void free_item(struct decode_item *it)
{
	free(it->name);
	free(it->time);
	free(it->digest);
}

/* Sorts by name and keeps one item per name; hands the result to out. */
static int finish(struct listing *l, struct uhub_list *out)
{
	size_t keep = 0;
	struct uhub_entry *v;

	if (l->n)
		qsort(l->items, l->n, sizeof(*l->items), cmp_item);
	for (size_t i = 0; i < l->n; i++) {
		if (keep && strcmp(l->items[keep - 1].name, l->items[i].name) == 0) {
			free_item(&l->items[i]);
			continue;
		}
		l->items[keep++] = l->items[i];
	}
	l->n = keep;
	v = calloc(keep ? keep : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < keep; i++) {
		v[i].name = l->items[i].name;
		v[i].time = l->items[i].time;
		v[i].digest = l->items[i].digest;
	}
	l->n = 0;
	out->v = v;
	out->n = keep;
	return 0;
}

/* The first page, which tells TotalCount and the page size in effect. */
static int first_page(struct listing *l)
{
	struct decode_reply r = {0};
	size_t max = l->u->cfg.max_entries ? l->u->cfg.max_entries : 1000000;
	long long got;
	int err = fetch_page(l->u, l->kind, l->repo, l->image, 0, l->bg, &r);

	if (err)
		return err;
	got = (long long)r.n + (long long)r.skipped;
	l->page = got > 0 ? got : 1;
	/* A missing TotalCount: page until an empty page says the end. */
	l->end = r.total >= 0 ? r.total : (long long)max + 1;
	if (l->end > (long long)max + 1)
		l->end = (long long)max + 1;
	l->calls_left = (size_t)(l->end / l->page) + (size_t)l->end + 2 * l->u->cfg.max_requests + 2;
	err = take_items(l, &r);
	if (!err && got > 0 && got < l->end)
		err = plan(l, got);
	decode_reply_release(&r);
	return err;
}

/* The one warning a listing's refused names are worth (the decoder never
 * stored them). */
static void log_badnames(const struct listing *l)
{
	if (!l->badnames)
		return;
	log_msg(l->u->log, LOG_WARNING, "skipping a name that cannot be a file name: \"%s\"", l->badname);
	if (l->badnames > 1)
		log_msg(l->u->log, LOG_WARNING, "skipped %zu names that cannot be file names in %s%s%s", l->badnames,
			l->repo ? l->repo : "/", l->image ? "/" : "", l->image ? l->image : "");
}

static int list(struct uhub *u, enum uhub_kind kind, const char *repo, const char *image, bool bg,
		struct uhub_list *out)
{
	struct listing l = {.u = u, .kind = kind, .repo = repo, .image = image, .bg = bg};
	int err;

	out->v = NULL;
	out->n = 0;
	pthread_mutex_init(&l.lock, NULL);
	pthread_cond_init(&l.changed, NULL);
	err = first_page(&l);
	if (!err && l.nqueue)
		drain(&l);
	if (!err)
		err = l.err;
	if (!err)
		err = finish(&l, out);
	log_badnames(&l);
	for (size_t i = 0; i < l.n; i++)
		free_item(&l.items[i]);
	free(l.items);
	free(l.queue);
	pthread_mutex_destroy(&l.lock);
	pthread_cond_destroy(&l.changed);
	return err;
}

int uhub_list(struct uhub *u, enum uhub_kind kind, const char *repo, const char *image, struct uhub_list *out)
{
	return list(u, kind, repo, image, false, out);
}

int uhub_list_bg(struct uhub *u, enum uhub_kind kind, const char *repo, const char *image, struct uhub_list *out)
{
	return list(u, kind, repo, image, true, out);
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
		err = call(u, p, UHUB_TAGS, true, false, &r, NULL, 0);
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
		err = call(u, p, UHUB_REPOS, false, false, &r, why, whylen);
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
