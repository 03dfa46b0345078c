/* fuzz_names.c — libFuzzer harness for the name checks (names.h) and the
 * path mapper (tree.h) over an in-memory API.
 *
 * Every slice of the input goes through the four name predicates, which are
 * compared with plain reference implementations of the header's grammar.
 * Then the input is run as a small script against a tree over one of two
 * servers: tests/unit/fake_api.c (which writes names into JSON as they are,
 * so quotes and backslashes in a name reach the decoder as JSON syntax) or
 * the "wide" server below (which escapes names properly and stores them
 * whole, so names of any length and any bytes reach the tree as names).
 *
 * Input: a flags byte, then NUL-separated commands, each an opcode byte
 * and an argument. Flags: bit 0 the wide server, bit 1 the tree rooted at
 * repository "r", bits 2-4 the page size (100, 1, 2, 3, 5, 10, 20, 1000),
 * bits 5-6 max_requests - 1, bit 7
 * a server cap of one item per page (fake only). Opcodes (the low four bits;
 * ASCII '0'..'9' are 0..9):
 *   0 add repository ARG and make it current   1 add image ARG, current
 *   2, 12-15 add tag ARG to the current image     3 time text for later adds
 *   4 digest for later adds ("" = none)          5 getattr ARG
 *   6 readdir ARG                                7 read ARG at offset 7*hi
 *   8 expire every cached listing                9 xattr values of ARG
 *   10 refresh ARG                               11 readdir ARG, stopping
 *                                                   after hi entries
 * (hi is the opcode's high four bits.) Finally the whole tree is walked.
 *
 * Invariants: the tree never emits a name that names_valid_component
 * refuses; "." and ".." come first; names in one directory are unique;
 * every listed entry stats with the type it was listed with; a file reads
 * exactly st_size bytes; a fill that returns non-zero is not called again;
 * every request the wide server gets decodes and carries a valid
 * signature, whatever bytes the names hold.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "cache.h"
#include "fake_api.h"
#include "fuzz.h"
#include "names.h"
#include "params.h"
#include "sign.h"
#include "tree.h"
#include "tree_walk.h"
#include "uhub.h"

#define MAX_OPS 64
#define SWEEP_BUDGET 200
#define SWEEP_DEPTH 8
#define PATH_LEN 4096 /* the kernel's PATH_MAX: no longer path reaches us */
#define TTL_MS 60000
#define MAX_ERRNO 4095

/* ---- the predicates, against the header's grammar ------------------------ */

static bool ref_component(const char *s, size_t n)
{
	if (n == 0 || n > NAMES_MAX || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == '@') /* '@' would hide NAME@tag aliases */
			return false;
	return fuzz_ref_printable(s, n); /* no NUL, no control, UTF-8 */
}

static bool ref_image(const char *s)
{
	size_t start = 0;

	for (size_t i = 0;; i++) {
		if (s[i] != '/' && s[i] != '\0')
			continue;
		if (!ref_component(s + start, i - start))
			return false;
		if (!s[i])
			return true;
		start = i + 1;
	}
}

static bool alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* [a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*, any case, at most NAMES_MAX
 * bytes: alphanumeric at both ends, and every run of other bytes is ".",
 * "_", "__" or dashes. */
static bool ref_maybe_component(const char *s)
{
	size_t n = strlen(s), i = 0;

	if (!n || n > NAMES_MAX || !alnum(s[0]) || !alnum(s[n - 1]))
		return false;
	while (i < n) {
		size_t j = i, len;

		if (alnum(s[i])) {
			i++;
			continue;
		}
		while (j < n && !alnum(s[j]))
			j++;
		len = j - i;
		if (!(len == 1 && (s[i] == '.' || s[i] == '_')) && !(len == 2 && s[i] == '_' && s[i + 1] == '_') &&
		    strspn(s + i, "-") < len)
			return false;
		i = j;
	}
	return true;
}

/* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool ref_maybe_tag(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 128 || !(alnum(s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!alnum(s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static void check_predicates(const uint8_t *p, size_t n)
{
	char *raw = fuzz_bytes(p, n), *s = fuzz_string(p, n);

	FUZZ_CHECK(names_valid_component(raw, n) == ref_component(raw, n));
	FUZZ_CHECK(names_valid_image(s) == ref_image(s));
	FUZZ_CHECK(names_valid_entry(true, raw, n) == (n && !memchr(raw, 0, n) && ref_image(s)));
	FUZZ_CHECK(names_valid_entry(false, raw, n) == ref_component(raw, n));
	FUZZ_CHECK(names_maybe_component(s) == ref_maybe_component(s));
	FUZZ_CHECK(names_maybe_tag(s) == ref_maybe_tag(s));
	/* What could be a registry name can always be a file name. */
	if (names_maybe_component(s) || names_maybe_tag(s))
		FUZZ_CHECK(names_valid_component(s, strlen(s)));
	if (names_maybe_component(s))
		FUZZ_CHECK(names_valid_image(s));
	free(raw);
	free(s);
}

/* ---- the wide server: names whole and JSON-escaped ----------------------- */

struct row {
	char *repo, *image, *name; /* repo rows: image NULL; image rows: name NULL */
	char *digest, *time;
};

struct wide {
	pthread_mutex_t lock;
	struct row *v;
	size_t n, alloc;
};

static char *dup_or_null(const char *s)
{
	char *d = s ? strdup(s) : NULL;

	FUZZ_CHECK(!s || d);
	return d;
}

static void wide_add(struct wide *w, const char *repo, const char *image, const char *name, const char *digest,
		     const char *time)
{
	struct row *r;

	if (w->n == w->alloc) {
		w->alloc = w->alloc ? 2 * w->alloc : 16;
		w->v = realloc(w->v, w->alloc * sizeof(*w->v));
		FUZZ_CHECK(w->v != NULL);
	}
	r = &w->v[w->n++];
	r->repo = dup_or_null(repo);
	r->image = dup_or_null(image);
	r->name = dup_or_null(name);
	r->digest = dup_or_null(digest && *digest ? digest : NULL);
	r->time = dup_or_null(time);
}

static void wide_release(struct wide *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->v[i].repo);
		free(w->v[i].image);
		free(w->v[i].name);
		free(w->v[i].digest);
		free(w->v[i].time);
	}
	free(w->v);
}

/* s as a JSON string: quotes, backslashes and control bytes escaped,
 * everything else (invalid UTF-8 included) as it is. */
static void json_string(struct buf *b, const char *s)
{
	buf_adds(b, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			buf_printf(b, "\\%c", ch);
		else if (ch < 0x20)
			buf_printf(b, "\\u%04x", ch);
		else
			buf_add(b, s, 1);
	}
	buf_adds(b, "\"");
}

static bool same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* Does row r belong to the listing p asks for? */
static bool wide_selected(const struct row *r, const char *act, const struct params *p)
{
	const char *tag = params_get(p, "TagName");

	if (!strcmp(act, "GetRepo"))
		return !r->image;
	if (!same(r->repo, params_get(p, "RepoName")))
		return false;
	if (!strcmp(act, "GetRepoImage"))
		return r->image && !r->name;
	return same(r->image, params_get(p, "ImageName")) && r->name && (!tag || !strcmp(r->name, tag));
}

/* The repository (and image) a listing names exist. */
static bool wide_exists(const struct wide *w, const char *act, const struct params *p)
{
	bool repo = false, image = false;

	for (size_t i = 0; i < w->n; i++) {
		const struct row *r = &w->v[i];

		if (!same(r->repo, params_get(p, "RepoName")))
			continue;
		repo |= !r->image;
		image |= r->image && !r->name && same(r->image, params_get(p, "ImageName"));
	}
	return !strcmp(act, "GetRepo") || (repo && (!strcmp(act, "GetRepoImage") || image));
}

static void wide_row(struct buf *b, const struct row *r, const char *act)
{
	bool tags = !strcmp(act, "GetImageTag");

	buf_printf(b, "{\"%s\":", tags ? "TagName" : r->name || r->image ? "ImageName" : "RepoName");
	json_string(b, tags ? r->name : r->image ? r->image : r->repo);
	if (r->time) {
		buf_adds(b, ",\"UpdateTime\":");
		json_string(b, r->time);
	}
	if (r->digest && tags) {
		buf_adds(b, ",\"Digest\":");
		json_string(b, r->digest);
	}
	buf_adds(b, "}");
}

/* One page, in insertion order (stable between pages, unsorted). */
static void wide_answer(struct wide *w, const char *act, const struct params *p, struct buf *b)
{
	const char *set = !strcmp(act, "GetRepo") ? "RepoSet" : !strcmp(act, "GetRepoImage") ? "ImageSet" : "TagSet";
	const char *o = params_get(p, "Offset"), *l = params_get(p, "Limit");
	long off = o ? strtol(o, NULL, 10) : 0, lim = l ? strtol(l, NULL, 10) : 20, k = 0;
	size_t total = 0;

	if (!wide_exists(w, act, p)) {
		buf_printf(b, "{\"Action\":\"%sResponse\",\"RetCode\":230,\"Message\":\"not available\"}", act);
		return;
	}
	for (size_t i = 0; i < w->n; i++)
		total += wide_selected(&w->v[i], act, p);
	buf_printf(b, "{\"Action\":\"%sResponse\",\"RetCode\":0,\"TotalCount\":%zu,\"%s\":[", act, total, set);
	for (size_t i = 0, seen = 0; i < w->n && k < lim; i++) {
		if (!wide_selected(&w->v[i], act, p) || (long)seen++ < off)
			continue;
		if (k++)
			buf_adds(b, ",");
		wide_row(b, &w->v[i], act);
	}
	buf_adds(b, "]}");
}

static int wide_post(void *self, const char *action, const char *body, size_t len, struct http_reply *reply)
{
	struct wide *w = self;
	struct params *p = params_new();
	const char *act;

	FUZZ_CHECK(p != NULL);
	/* Whatever bytes the names hold, the request must decode and verify. */
	FUZZ_CHECK(params_decode(p, body, len) == 0);
	FUZZ_CHECK(sign_verify(p, FAKE_PRIV));
	act = params_get(p, "Action");
	FUZZ_CHECK(act && action && !strcmp(act, action));
	FUZZ_CHECK(!strcmp(act, "GetRepo") || !strcmp(act, "GetRepoImage") || !strcmp(act, "GetImageTag"));
	reply->status = 200;
	buf_reset(&reply->body);
	pthread_mutex_lock(&w->lock);
	wide_answer(w, act, p, &reply->body);
	pthread_mutex_unlock(&w->lock);
	params_free(p);
	return 0;
}

/* ---- the world: a server, a client, a cache, a tree ---------------------- */

struct world {
	bool wide;
	struct fake_api *f;
	struct wide w;
	struct uhub *u;
	struct cache *c;
	struct fresh *fresh; /* the tree's policy, on the cache's clock */
	struct tree *t;
	int64_t now; /* the cache's clock, ms */
	const char *repo, *image, *time, *digest;
};

static int64_t world_clock(void *arg)
{
	return ((struct world *)arg)->now;
}

static void world_add(struct world *x, const char *repo, const char *image, const char *name)
{
	if (x->wide)
		wide_add(&x->w, repo, image, name, x->digest, x->time);
	else if (!image)
		fake_api_add_repo(x->f, repo, x->time);
	else if (!name)
		fake_api_add_image(x->f, repo, image, x->time);
	else
		fake_api_add_tag(x->f, repo, image, name, x->digest && *x->digest ? x->digest : NULL, x->time);
}

static void world_init(struct world *x, unsigned flags)
{
	/* Mostly small pages, to page a lot; 100 (the default) first. */
	static const unsigned pages[8] = {100, 1, 2, 3, 5, 10, 20, 1000};
	struct uhub_config uc = {
	    .public_key = FAKE_PUB,
	    .private_key = FAKE_PRIV,
	    .repo_type = "private",
	    .page_size = pages[(flags >> 2) & 7],
	    .max_requests = 1 + ((flags >> 5) & 3),
	    .retries = 0, /* a broken reply fails at once: no backoff sleeps */
	    .max_entries = 100000,
	    .max_reply = 1 << 22,
	};
	struct tree_config tc = {.repo = (flags & 2) ? "r" : NULL,
				 .api_tz = 8 * 3600,
				 .umask = 022,
				 .mount_time = 1700000000};
	struct uhub_transport tr;

	memset(x, 0, sizeof(*x));
	x->wide = flags & 1;
	x->now = 1000000;
	if (x->wide) {
		pthread_mutex_init(&x->w.lock, NULL);
		tr = (struct uhub_transport){.post = wide_post, .self = &x->w};
	} else {
		x->f = fake_api_new();
		FUZZ_CHECK(x->f != NULL);
		fake_api_set_cap(x->f, (flags & 0x80) ? 1 : 0);
		tr = fake_api_transport(x->f);
	}
	x->u = uhub_new(&uc, &tr, NULL);
	x->c = cache_new(64 << 20, world_clock, x);
	x->fresh = fresh_new(&(struct fresh_config){
	    .ttl_ms = TTL_MS, .neg_ttl_ms = 5000, .clock = world_clock, .clock_arg = x});
	tc.fresh = x->fresh;
	x->t = tree_new(&tc, x->u, x->c, NULL);
	FUZZ_CHECK(x->u && x->c && x->fresh && x->t);
	x->repo = "r";
	x->image = "i";
	x->time = "1764200000";
	x->digest = "sha256:3f1c000000000000000000000000000000000000000000000000000000000001";
	world_add(x, "r", NULL, NULL);
	world_add(x, "r", "i", NULL);
	world_add(x, "r", "i", "t");
}

static void world_release(struct world *x)
{
	tree_free(x->t);
	fresh_free(x->fresh);
	cache_free(x->c);
	uhub_free(x->u);
	fake_api_free(x->f);
	if (x->wide) {
		wide_release(&x->w);
		pthread_mutex_destroy(&x->w.lock);
	}
}

/* ---- listings -------------------------------------------------------------- */

struct listing {
	char **names;
	bool *isdir;
	size_t n, alloc;
	size_t calls, stop_after; /* stop_after 0: never stop */
	bool stopped;
};

/* An entry is a valid name with a directory's or a file's mode; or the
 * alias of a tag that shares its name with a nested image directory:
 * NAME@tag, a regular file, NAME itself valid (tree.h, TREE_TAG_ALIAS). */
static bool entry_name_ok(const char *name, const struct stat *st)
{
	size_t n = strlen(name), a = strlen(TREE_TAG_ALIAS);

	if (!st || !(S_ISDIR(st->st_mode) || S_ISREG(st->st_mode)))
		return false;
	if (names_valid_component(name, n))
		return true;
	return S_ISREG(st->st_mode) && n > a &&
	       !strcmp(name + n - a, TREE_TAG_ALIAS) &&
	       names_valid_component(name, n - a);
}

static int collect(void *arg, const char *name, const struct stat *st)
{
	struct listing *l = arg;
	size_t i = l->calls++;

	FUZZ_CHECK(!l->stopped); /* a non-zero return ends the listing */
	FUZZ_CHECK(name != NULL);
	if (i == 0)
		FUZZ_CHECK(!strcmp(name, ".") && !st); /* dots go without attributes */
	else if (i == 1)
		FUZZ_CHECK(!strcmp(name, ".."));
	else
		FUZZ_CHECK(entry_name_ok(name, st));
	if (i >= 2) {
		if (l->n == l->alloc) {
			l->alloc = l->alloc ? 2 * l->alloc : 16;
			l->names = realloc(l->names, l->alloc * sizeof(*l->names));
			l->isdir = realloc(l->isdir, l->alloc * sizeof(*l->isdir));
			FUZZ_CHECK(l->names && l->isdir);
		}
		l->names[l->n] = dup_or_null(name);
		l->isdir[l->n++] = S_ISDIR(st->st_mode);
	}
	if (l->stop_after && l->calls == l->stop_after) {
		l->stopped = true;
		return 1;
	}
	return 0;
}

static void listing_release(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->isdir);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* No two entries of one directory share a name. */
static void check_unique(const struct listing *l)
{
	char **v;

	if (l->n < 2)
		return;
	v = malloc(l->n * sizeof(*v));
	FUZZ_CHECK(v != NULL);
	memcpy(v, l->names, l->n * sizeof(*v));
	qsort(v, l->n, sizeof(*v), cmp_str);
	for (size_t i = 1; i < l->n; i++) {
		if (!strcmp(v[i - 1], v[i]))
			fprintf(stderr, "duplicate directory entry \"%s\"\n", v[i]);
		FUZZ_CHECK(strcmp(v[i - 1], v[i]) != 0);
	}
	free(v);
}

static bool is_errno(long err)
{
	return err <= 0 && err >= -MAX_ERRNO;
}

/* A tag file reads exactly st_size bytes, then nothing. */
static void check_file(struct world *x, const char *path, const struct stat *st)
{
	char data[8192];
	ssize_t got = tree_read(x->t, path, data, sizeof(data), 0);
	struct buf b;

	FUZZ_CHECK(st->st_size >= 0);
	FUZZ_CHECK(got == ((size_t)st->st_size < sizeof(data) ? st->st_size : (ssize_t)sizeof(data)));
	FUZZ_CHECK(tree_read(x->t, path, data, sizeof(data), st->st_size) == 0);
	buf_init(&b, 1 << 16);
	FUZZ_CHECK(tree_tag_value(x->t, path, "updated", &b) == 0);
	buf_release(&b);
}

/* Walks path: every entry stats as listed; directories are walked in turn. */
static void sweep(struct world *x, const char *path, int depth, int *budget)
{
	struct listing l = {0};
	char child[PATH_LEN];
	struct stat st;
	int err = tree_readdir(x->t, path, collect, &l);

	FUZZ_CHECK(is_errno(err));
	if (!err) {
		FUZZ_CHECK(l.calls >= 2);
		check_unique(&l);
	}
	for (size_t i = 0; !err && i < l.n; i++) {
		size_t n = (size_t)snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") ? path : "", l.names[i]);

		if (n >= sizeof(child))
			continue; /* the kernel could not ask for it */
		if (--*budget < 0)
			break;
		FUZZ_CHECK(tree_getattr(x->t, child, &st) == 0);
		FUZZ_CHECK(S_ISDIR(st.st_mode) == l.isdir[i]);
		if (!l.isdir[i])
			check_file(x, child, &st);
		else if (depth > 0)
			sweep(x, child, depth - 1, budget);
	}
	listing_release(&l);
}

/* ---- the script ------------------------------------------------------------ */

static void run_path_op(struct world *x, unsigned op, unsigned hi, const char *arg)
{
	struct listing l = {0};
	struct stat st;
	char data[512];
	struct buf b;

	switch (op) {
	case 5:
		FUZZ_CHECK(is_errno(tree_getattr(x->t, arg, &st)));
		break;
	case 6:
	case 11:
		l.stop_after = op == 11 ? hi + 1 : 0;
		FUZZ_CHECK(is_errno(tree_readdir(x->t, arg, collect, &l)));
		listing_release(&l);
		break;
	case 7: {
		ssize_t got = tree_read(x->t, arg, data, sizeof(data), (off_t)hi * 7);

		FUZZ_CHECK(is_errno(got < 0 ? got : 0) && got <= (ssize_t)sizeof(data));
		break;
	}
	case 9:
		buf_init(&b, 1 << 16);
		FUZZ_CHECK(is_errno(tree_tag_value(x->t, arg, (hi & 1) ? "digest" : "updated", &b)));
		buf_release(&b);
		break;
	default:
		FUZZ_CHECK(is_errno(tree_refresh(x->t, arg)));
		break;
	}
}

static void run_op(struct world *x, unsigned char code, const char *arg)
{
	unsigned op = code & 15, hi = code >> 4;

	switch (op) {
	case 0:
		world_add(x, arg, NULL, NULL);
		x->repo = arg;
		break;
	case 1:
		world_add(x, x->repo, arg, NULL);
		x->image = arg;
		break;
	case 3:
		x->time = arg;
		break;
	case 4:
		x->digest = arg;
		break;
	case 8:
		x->now += TTL_MS + 1;
		break;
	case 5:
	case 6:
	case 7:
	case 9:
	case 10:
	case 11:
		run_path_op(x, op, hi, arg);
		break;
	default:
		world_add(x, x->repo, x->image, arg);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *script;
	size_t len, pos = 0;
	int ops = 0, budget = SWEEP_BUDGET;
	struct world x;

	check_predicates(data, size);
	if (size < 1)
		return 0;
	len = size - 1;
	/* One copy, cut at the NULs: the arguments live until the end. */
	script = fuzz_string(data + 1, len);
	world_init(&x, data[0]);
	while (pos < len && ops++ < MAX_OPS) {
		char *tok = script + pos;
		size_t n = strlen(tok);

		check_predicates((const uint8_t *)tok, n);
		if (n)
			run_op(&x, (unsigned char)tok[0], tok + 1);
		pos += n + 1;
	}
	sweep(&x, "/", SWEEP_DEPTH, &budget);
	world_release(&x);
	free(script);
	return 0;
}
