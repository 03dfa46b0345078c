/* fake_api.c — an in-memory UHub API for unit tests (see fake_api.h).
 * Replies are written with snprintf: test code producing JSON, while the
 * code under test parses it with the real decoder. */
#include "fake_api.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "sign.h"

struct ftag {
	char repo[64], image[128], name[160], digest[80], time[40];
};

struct fake_api {
	pthread_mutex_t lock;
	struct ftag *v; /* repos: image "" name ""; images: name "" */
	size_t n, alloc;
	unsigned cap, factor;
	long long late_total;
	int trickle;
	unsigned fail_n, fail_skip;
	char fail_action[32]; /* "": any */
	enum fake_fault fail_kind;
	long fail_arg;
	struct params **log;
	size_t nlog, alog;
	struct change {
		unsigned call, every;
		int add, image_only;
		char repo[64], image[128], tag[160];
	} changes[16];
	size_t nchanges;
	unsigned pushed; /* tags the churn pushed, for their names */
};

struct fake_api *fake_api_new(void)
{
	struct fake_api *f = calloc(1, sizeof(*f));

	pthread_mutex_init(&f->lock, NULL);
	f->factor = 1;
	return f;
}

void fake_api_reset_calls(struct fake_api *f)
{
	for (size_t i = 0; i < f->nlog; i++)
		params_free(f->log[i]);
	f->nlog = 0;
}

void fake_api_free(struct fake_api *f)
{
	if (!f)
		return;
	fake_api_reset_calls(f);
	free(f->log);
	free(f->v);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static void add(struct fake_api *f, const char *repo, const char *image, const char *name, const char *digest,
		const char *time)
{
	struct ftag *t;

	if (f->n == f->alloc) {
		f->alloc = f->alloc ? f->alloc * 2 : 64;
		f->v = realloc(f->v, f->alloc * sizeof(*f->v));
	}
	t = &f->v[f->n++];
	snprintf(t->repo, sizeof(t->repo), "%s", repo);
	snprintf(t->image, sizeof(t->image), "%s", image);
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->digest, sizeof(t->digest), "%s", digest ? digest : "");
	snprintf(t->time, sizeof(t->time), "%s", time ? time : "");
}

void fake_api_add_repo(struct fake_api *f, const char *repo, const char *time)
{
	add(f, repo, "", "", NULL, time);
}

void fake_api_add_image(struct fake_api *f, const char *repo, const char *image, const char *time)
{
	add(f, repo, image, "", NULL, time);
}

void fake_api_add_tag(struct fake_api *f, const char *repo, const char *image, const char *tag, const char *digest,
		      const char *time)
{
	add(f, repo, image, tag, digest, time);
}

void fake_api_add_tags(struct fake_api *f, const char *repo, const char *image, const char *prefix, size_t count)
{
	char name[160], digest[80], time[40];

	for (size_t i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "%s%05zu", prefix, i);
		snprintf(digest, sizeof(digest), "sha256:%064zx", i * 2654435761u + 1);
		snprintf(time, sizeof(time), "%zu", (size_t)1764200000 + i);
		add(f, repo, image, name, digest, time);
	}
}

void fake_api_del_tag(struct fake_api *f, const char *repo, const char *image, const char *tag)
{
	for (size_t i = 0; i < f->n; i++) {
		if (!strcmp(f->v[i].repo, repo) && !strcmp(f->v[i].image, image) && !strcmp(f->v[i].name, tag)) {
			f->v[i] = f->v[--f->n];
			return;
		}
	}
}

void fake_api_change_after(struct fake_api *f, unsigned call, unsigned every, int add, const char *repo,
			   const char *image, const char *tag)
{
	struct change *c = &f->changes[f->nchanges++ % 16];

	c->call = call;
	c->every = every;
	c->add = add;
	snprintf(c->repo, sizeof(c->repo), "%s", repo);
	snprintf(c->image, sizeof(c->image), "%s", image);
	snprintf(c->tag, sizeof(c->tag), "%s", tag ? tag : "");
	c->image_only = !tag;
}

void fake_api_change_clear(struct fake_api *f)
{
	pthread_mutex_lock(&f->lock);
	f->nchanges = 0;
	pthread_mutex_unlock(&f->lock);
}

int fake_api_has_image(struct fake_api *f, const char *repo, const char *image)
{
	int has = 0;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n && !has; i++)
		has = !strcmp(f->v[i].repo, repo) && !strcmp(f->v[i].image, image) && !*f->v[i].name;
	pthread_mutex_unlock(&f->lock);
	return has;
}

/* Deletes image of repo and its tags; "^": the image that sorts first. */
static void del_image(struct fake_api *f, const char *repo, const char *image)
{
	char name[128];
	const char *best = NULL;

	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].repo, repo) && *f->v[i].image && !*f->v[i].name &&
		    (!best || strcmp(f->v[i].image, best) < 0))
			best = f->v[i].image;
	if (strcmp(image, "^"))
		best = image;
	if (!best)
		return;
	snprintf(name, sizeof(name), "%s", best);
	for (size_t i = 0; i < f->n;) {
		if (!strcmp(f->v[i].repo, repo) && !strcmp(f->v[i].image, name))
			f->v[i] = f->v[--f->n];
		else
			i++;
	}
}

/* Pushes an image that sorts after every other. */
static void add_last_image(struct fake_api *f, const char *repo)
{
	char name[64];

	snprintf(name, sizeof(name), "zzpushed%05u", f->pushed++);
	add(f, repo, name, "", NULL, "1764900000");
}

int fake_api_has_tag(struct fake_api *f, const char *repo, const char *image, const char *tag)
{
	int has = 0;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n && !has; i++)
		has = !strcmp(f->v[i].repo, repo) && !strcmp(f->v[i].image, image) && !strcmp(f->v[i].name, tag);
	pthread_mutex_unlock(&f->lock);
	return has;
}

/* The first tag of an image by name (for churn deleting from the front). */
static const struct ftag *first_tag(const struct fake_api *f, const char *repo, const char *image)
{
	const struct ftag *best = NULL;

	for (size_t i = 0; i < f->n; i++) {
		const struct ftag *t = &f->v[i];

		if (*t->name && !strcmp(t->repo, repo) && !strcmp(t->image, image) &&
		    (!best || strcmp(t->name, best->name) < 0))
			best = t;
	}
	return best;
}

/* Applies the changes due after call number n (lock held). A churn
 * delete of tag "^" deletes the first tag; a churn push of "^" pushes a
 * new tag that sorts first. */
static void apply_changes(struct fake_api *f, unsigned n)
{
	for (size_t i = 0; i < f->nchanges && i < 16; i++) {
		const struct change *c = &f->changes[i];
		char name[160], digest[80];

		if (n < c->call || (n != c->call && (!c->every || (n - c->call) % c->every)))
			continue;
		if (c->image_only) {
			if (!c->add)
				del_image(f, c->repo, c->image);
			else if (!strcmp(c->image, "$"))
				add_last_image(f, c->repo);
			else
				add(f, c->repo, c->image, "", NULL, "1764900000");
			continue;
		}
		snprintf(name, sizeof(name), "%s", c->tag);
		if (!strcmp(name, "^") && c->add)
			snprintf(name, sizeof(name), "0pushed%05u", 99999 - f->pushed++);
		if (!strcmp(name, "^")) {
			const struct ftag *t = first_tag(f, c->repo, c->image);

			if (t)
				snprintf(name, sizeof(name), "%s", t->name);
		}
		if (!c->add) {
			fake_api_del_tag(f, c->repo, c->image, name);
			continue;
		}
		snprintf(digest, sizeof(digest), "sha256:%064x", 0xabc000u + n);
		add(f, c->repo, c->image, name, digest, "1764900000");
	}
}

void fake_api_set_cap(struct fake_api *f, unsigned cap)
{
	f->cap = cap;
}

void fake_api_set_total_factor(struct fake_api *f, unsigned factor)
{
	f->factor = factor;
}

void fake_api_set_late_total(struct fake_api *f, long long total)
{
	f->late_total = total;
}

void fake_api_set_trickle(struct fake_api *f, int trickle)
{
	f->trickle = trickle;
}

void fake_api_fail_next(struct fake_api *f, unsigned n, enum fake_fault kind, long arg)
{
	f->fail_n = n;
	f->fail_kind = kind;
	f->fail_arg = arg;
}

void fake_api_fail_skip(struct fake_api *f, unsigned skip)
{
	f->fail_skip = skip;
}

unsigned fake_api_calls(struct fake_api *f, const char *action, const char *tagname)
{
	unsigned n = 0;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->nlog; i++) {
		const char *a = params_get(f->log[i], "Action"), *t = params_get(f->log[i], "TagName");

		if (action && (!a || strcmp(a, action)))
			continue;
		if (tagname && (!t || (strcmp(tagname, "*") && strcmp(t, tagname))))
			continue;
		n++;
	}
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* Does row r belong to the list the request p asks for? */
static int selected(const struct ftag *r, const char *action, const struct params *p)
{
	const char *repo = params_get(p, "RepoName"), *image = params_get(p, "ImageName");
	const char *tag = params_get(p, "TagName");

	if (!strcmp(action, "GetRepo"))
		return !*r->image;
	if (!repo || strcmp(r->repo, repo))
		return 0;
	if (!strcmp(action, "GetRepoImage"))
		return *r->image && !*r->name;
	return image && !strcmp(r->image, image) && *r->name && (!tag || !strcmp(r->name, tag));
}

static const char *row_name(const struct ftag *r, const char *action)
{
	if (!strcmp(action, "GetRepo"))
		return r->repo;
	return !strcmp(action, "GetRepoImage") ? r->image : r->name;
}

static void reply_retcode(struct http_reply *reply, const char *action, long code, const char *msg)
{
	buf_printf(&reply->body, "{\"Action\":\"%sResponse\",\"RetCode\":%ld,\"Message\":\"%s\"}", action, code, msg);
}

/* The repo (and image) the request names exist. */
static int exists(struct fake_api *f, const char *action, const struct params *p)
{
	const char *repo = params_get(p, "RepoName"), *image = params_get(p, "ImageName");
	int repo_ok = 0, image_ok = 0;

	if (!strcmp(action, "GetRepo"))
		return 1;
	for (size_t i = 0; i < f->n; i++) {
		const struct ftag *r = &f->v[i];

		if (!repo || strcmp(r->repo, repo))
			continue;
		if (!*r->image)
			repo_ok = 1;
		else if (image && !*r->name && !strcmp(r->image, image))
			image_ok = 1;
	}
	return repo_ok && (!strcmp(action, "GetRepoImage") || image_ok);
}

static int cmp_row(const void *a, const void *b, void *action)
{
	return strcmp(row_name(*(struct ftag *const *)a, action), row_name(*(struct ftag *const *)b, action));
}

/* Writes the page of action for p into reply (lock held). */
static void answer(struct fake_api *f, const char *action, const struct params *p, struct http_reply *reply)
{
	const char *set = !strcmp(action, "GetRepo")	    ? "RepoSet"
			  : !strcmp(action, "GetRepoImage") ? "ImageSet"
							    : "TagSet";
	const char *key = !strcmp(action, "GetRepo")	    ? "RepoName"
			  : !strcmp(action, "GetRepoImage") ? "ImageName"
							    : "TagName";
	const char *o = params_get(p, "Offset"), *l = params_get(p, "Limit");
	long off = o ? strtol(o, NULL, 10) : 0, lim = l ? strtol(l, NULL, 10) : 20;
	struct ftag **rows = calloc(f->n + 1, sizeof(*rows));
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		if (selected(&f->v[i], action, p))
			rows[n++] = &f->v[i];
	if (!exists(f, action, p)) {
		free(rows);
		reply_retcode(reply, action, 230, "Params [RepoName] not available");
		return;
	}
	qsort_r(rows, n, sizeof(*rows), cmp_row, (void *)action);
	if (f->cap && lim > (long)f->cap)
		lim = f->cap;
	if (f->trickle && off > 0 && lim > 1)
		lim = 1;
	buf_printf(&reply->body, "{\"Action\":\"%sResponse\",\"RetCode\":0,\"TotalCount\":%lld,\"%s\":[", action,
		   off > 0 && f->late_total ? f->late_total : (long long)(n * f->factor), set);
	for (long i = off, k = 0; i < (long)n && k < lim; i++, k++) {
		const struct ftag *r = rows[i];

		buf_printf(&reply->body, "%s{\"%s\":\"%s\",\"UpdateTime\":\"%s\"", k ? "," : "", key,
			   row_name(r, action), r->time);
		if (*r->digest)
			buf_printf(&reply->body, ",\"Digest\":\"%s\"", r->digest);
		buf_adds(&reply->body, "}");
	}
	buf_adds(&reply->body, "]}");
	free(rows);
}

/* DeleteRepoImage (lock held). */
static void delete_action(struct fake_api *f, const struct params *p, struct http_reply *reply)
{
	const char *repo = params_get(p, "RepoName"), *image = params_get(p, "ImageName");
	const char *tag = params_get(p, "TagName");
	size_t n = f->n;

	if (!repo || !image || !exists(f, "GetImageTag", p)) {
		reply_retcode(reply, "DeleteRepoImage", 230, "Params [ImageName] not available");
		return;
	}
	if (tag)
		fake_api_del_tag(f, repo, image, tag);
	else
		del_image(f, repo, image);
	if (tag && n == f->n)
		reply_retcode(reply, "DeleteRepoImage", 230, "Params [TagName] not available");
	else
		reply_retcode(reply, "DeleteRepoImage", 0, "");
}

/* The answer to a request that is not failed. */
static void serve(struct fake_api *f, const char *act, const struct params *p, struct http_reply *reply)
{
	if (act && !strcmp(act, "DeleteRepoImage"))
		delete_action(f, p, reply);
	else
		answer(f, act, p, reply);
}

static int post(void *self, const char *action, const char *body, size_t len, struct http_reply *reply)
{
	struct fake_api *f = self;
	struct params *p = params_new();
	int err = 0;

	(void)action;
	params_decode(p, body, len);
	pthread_mutex_lock(&f->lock);
	if (f->nlog == f->alog) {
		f->alog = f->alog ? f->alog * 2 : 64;
		f->log = realloc(f->log, f->alog * sizeof(*f->log));
	}
	f->log[f->nlog++] = p;
	reply->status = 200;
	buf_reset(&reply->body);
	const char *act = params_get(p, "Action");

	if (*f->fail_action && (!act || strcmp(act, f->fail_action))) {
		serve(f, act, p, reply);
	} else if (f->fail_n && f->fail_skip) {
		f->fail_skip--;
		serve(f, act, p, reply);
	} else if (f->fail_n) {
		f->fail_n--;
		if (f->fail_kind == FAKE_LOST)
			serve(f, act, p, reply);
		if (f->fail_kind == FAKE_TRANSPORT || f->fail_kind == FAKE_LOST)
			err = (int)-f->fail_arg;
		else if (f->fail_kind == FAKE_HTTP)
			reply->status = f->fail_arg;
		else if (f->fail_kind == FAKE_NOTJSON)
			buf_adds(&reply->body, "<html>oops</html>");
		else
			reply_retcode(reply, act, f->fail_arg, "injected");
	} else if (!sign_verify(p, FAKE_PRIV)) {
		reply_retcode(reply, act ? act : "", 171, "Signature VerifyAC Error");
	} else {
		serve(f, act, p, reply);
	}
	apply_changes(f, (unsigned)f->nlog);
	pthread_mutex_unlock(&f->lock);
	return err;
}

void fake_api_fail_action(struct fake_api *f, const char *action)
{
	snprintf(f->fail_action, sizeof(f->fail_action), "%s", action ? action : "");
}

struct uhub_transport fake_api_transport(struct fake_api *f)
{
	struct uhub_transport t = {.post = post, .self = f};

	return t;
}

struct uhub *fake_api_client(struct fake_api *f, unsigned page, unsigned max_requests)
{
	struct uhub_config c = {
	    .public_key = FAKE_PUB,
	    .private_key = FAKE_PRIV,
	    .repo_type = "private",
	    .page_size = page,
	    .max_requests = max_requests,
	    .retries = 3,
	    .backoff_ms = 1,
	    .backoff_max_ms = 4,
	    .max_entries = 100000,
	    .max_reply = 1 << 24,
	};
	struct uhub_transport t = fake_api_transport(f);

	return uhub_new(&c, &t, NULL);
}
