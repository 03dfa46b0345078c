/* sim_registry.c — the simulator's registry of repositories, images and
 * tags, and the deterministic generator behind --gen.
 *
 * Everything sits behind one rwlock: listings copy their page out under the
 * read lock, pushes, deletes and the shuffle fault take the write lock.
 * Each level is an array sorted by name in plain byte order (binary search,
 * inserts by memmove), which keeps paging stable and lets a test predict
 * every page. An image remembers its newest tag so that GetRepoImage's
 * LatestTag costs nothing; it is recomputed only when that tag goes away.
 */
#include "sim_registry.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_WINDOW (30 * 86400) /* --gen spreads tag times over 30 days */
#define GEN_MAX_TAGS 20000000UL /* and refuses to build more than this */

struct sim_tag {
	char *name;
	char *digest; /* NULL: the tag has no digest */
	int64_t time;
};

struct sim_image {
	char *name;
	int64_t create_time, update_time;
	long long pull_count;
	struct sim_tag *tags;
	size_t ntags, atags;
	const char *latest; /* the newest tag's name (owned by that tag) */
	int64_t latest_time;
};

struct sim_repo {
	char *name;
	char *description;
	bool is_public, is_shared, is_outside;
	int64_t create_time, update_time;
	struct sim_image **images;
	size_t nimages, aimages;
};

struct sim_registry {
	pthread_rwlock_t lock;
	struct sim_repo **repos;
	size_t nrepos, arepos;
	unsigned long long changes; /* successful run-time mutations */
};

/* ---- sorted arrays ---- */

typedef const char *(*name_at_fn)(const void *v, size_t i);

static const char *repo_name_at(const void *v, size_t i)
{
	return ((struct sim_repo *const *)v)[i]->name;
}

static const char *image_name_at(const void *v, size_t i)
{
	return ((struct sim_image *const *)v)[i]->name;
}

static const char *tag_name_at(const void *v, size_t i)
{
	return ((const struct sim_tag *)v)[i].name;
}

/* Index of name in a sorted array of n, or where it belongs (*found false).
 * Appending in order is the common case (generators), so try the end first. */
static size_t lookup(const void *v, size_t n, name_at_fn at, const char *name, bool *found)
{
	size_t lo = 0, hi = n;

	*found = false;
	if (n && strcmp(at(v, n - 1), name) < 0)
		return n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(at(v, mid), name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Opens a slot at index at in an array of *n elements of size bytes;
 * returns the (possibly moved) array, or NULL on -ENOMEM (array intact). */
static void *array_insert(void *base, size_t *n, size_t *alloc, size_t size, size_t at)
{
	char *b = base;

	if (*n == *alloc) {
		size_t want = *alloc ? *alloc * 2 : 8;

		b = realloc(base, want * size);
		if (!b)
			return NULL;
		*alloc = want;
	}
	memmove(b + (at + 1) * size, b + at * size, (*n - at) * size);
	(*n)++;
	return b;
}

static void array_remove(void *base, size_t *n, size_t size, size_t at)
{
	char *b = base;

	memmove(b + at * size, b + (at + 1) * size, (*n - at - 1) * size);
	(*n)--;
}

/* ---- lifecycle ---- */

static void image_free(struct sim_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->ntags; i++) {
		free(img->tags[i].name);
		free(img->tags[i].digest);
	}
	free(img->tags);
	free(img->name);
	free(img);
}

static void repo_free(struct sim_repo *repo)
{
	if (!repo)
		return;
	for (size_t i = 0; i < repo->nimages; i++)
		image_free(repo->images[i]);
	free(repo->images);
	free(repo->name);
	free(repo->description);
	free(repo);
}

struct sim_registry *sim_registry_new(void)
{
	struct sim_registry *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (pthread_rwlock_init(&r->lock, NULL) != 0) {
		free(r);
		return NULL;
	}
	return r;
}

void sim_registry_free(struct sim_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nrepos; i++)
		repo_free(r->repos[i]);
	free(r->repos);
	pthread_rwlock_destroy(&r->lock);
	free(r);
}

/* ---- lookups and mutations, lock held by the caller ---- */

static struct sim_repo *find_repo(const struct sim_registry *r, const char *name)
{
	bool found;
	size_t i = lookup(r->repos, r->nrepos, repo_name_at, name, &found);

	return found ? r->repos[i] : NULL;
}

static struct sim_image *find_image(const struct sim_repo *repo, const char *name)
{
	bool found;
	size_t i = lookup(repo->images, repo->nimages, image_name_at, name, &found);

	return found ? repo->images[i] : NULL;
}

static int add_repo_locked(struct sim_registry *r, const struct sim_repo_info *info, struct sim_repo **out)
{
	bool found;
	size_t at = lookup(r->repos, r->nrepos, repo_name_at, info->name, &found);
	struct sim_repo *repo, **v;

	if (found)
		return -EEXIST;
	repo = calloc(1, sizeof(*repo));
	if (!repo)
		return -ENOMEM;
	repo->name = strdup(info->name);
	repo->description = strdup(info->description ? info->description : "");
	v = array_insert(r->repos, &r->nrepos, &r->arepos, sizeof(*v), at);
	if (!repo->name || !repo->description || !v) {
		repo_free(repo);
		return -ENOMEM;
	}
	repo->is_public = info->is_public;
	repo->is_shared = info->is_shared;
	repo->is_outside = info->is_outside;
	repo->create_time = info->create_time;
	repo->update_time = info->update_time;
	r->repos = v;
	v[at] = repo;
	if (out)
		*out = repo;
	return 0;
}

static int add_image_locked(struct sim_repo *repo, const struct sim_image_info *info, struct sim_image **out)
{
	bool found;
	size_t at = lookup(repo->images, repo->nimages, image_name_at, info->name, &found);
	struct sim_image *img, **v;

	if (found)
		return -EEXIST;
	img = calloc(1, sizeof(*img));
	if (!img)
		return -ENOMEM;
	img->name = strdup(info->name);
	v = array_insert(repo->images, &repo->nimages, &repo->aimages, sizeof(*v), at);
	if (!img->name || !v) {
		image_free(img);
		return -ENOMEM;
	}
	img->create_time = info->create_time;
	img->update_time = info->update_time;
	img->pull_count = info->pull_count;
	repo->images = v;
	v[at] = img;
	if (out)
		*out = img;
	return 0;
}

static void set_latest(struct sim_image *img, const char *name, int64_t t)
{
	img->latest = name;
	img->latest_time = t;
}

/* The newest tag; of equal times the last by name, as put_tag_locked
 * would have chosen had they been pushed in name order. */
static void recompute_latest(struct sim_image *img)
{
	set_latest(img, NULL, 0);
	for (size_t i = 0; i < img->ntags; i++)
		if (!img->latest || img->tags[i].time >= img->latest_time)
			set_latest(img, img->tags[i].name, img->tags[i].time);
}

/* Adds a tag or replaces its digest and time; keeps LatestTag right. */
static int put_tag_locked(struct sim_image *img, const char *name, const char *digest, int64_t t)
{
	bool found;
	size_t at = lookup(img->tags, img->ntags, tag_name_at, name, &found);
	char *d = digest ? strdup(digest) : NULL;
	struct sim_tag *v;

	if (digest && !d)
		return -ENOMEM;
	if (found) {
		free(img->tags[at].digest);
		img->tags[at].digest = d;
		img->tags[at].time = t;
		if (img->latest == img->tags[at].name && t < img->latest_time)
			recompute_latest(img);
		else if (t >= img->latest_time)
			set_latest(img, img->tags[at].name, t);
		return 0;
	}
	v = array_insert(img->tags, &img->ntags, &img->atags, sizeof(*v), at);
	if (!v) {
		free(d);
		return -ENOMEM;
	}
	img->tags = v;
	v[at] = (struct sim_tag){.name = strdup(name), .digest = d, .time = t};
	if (!v[at].name) {
		free(d);
		array_remove(v, &img->ntags, sizeof(*v), at);
		return -ENOMEM;
	}
	if (!img->latest || t >= img->latest_time)
		set_latest(img, v[at].name, t);
	return 0;
}

static void delete_tag_at(struct sim_image *img, size_t at)
{
	bool was_latest = img->latest == img->tags[at].name;

	free(img->tags[at].name);
	free(img->tags[at].digest);
	array_remove(img->tags, &img->ntags, sizeof(*img->tags), at);
	if (was_latest)
		recompute_latest(img);
}

/* ---- public builders ---- */

int sim_registry_add_repo(struct sim_registry *r, const struct sim_repo_info *info)
{
	int err;

	if (!info->name || !*info->name)
		return -EINVAL;
	pthread_rwlock_wrlock(&r->lock);
	err = add_repo_locked(r, info, NULL);
	pthread_rwlock_unlock(&r->lock);
	return err;
}

int sim_registry_add_image(struct sim_registry *r, const char *repo, const struct sim_image_info *info)
{
	struct sim_repo *rp;
	int err = -ENOENT;

	if (!info->name || !*info->name)
		return -EINVAL;
	pthread_rwlock_wrlock(&r->lock);
	rp = find_repo(r, repo);
	if (rp)
		err = add_image_locked(rp, info, NULL);
	pthread_rwlock_unlock(&r->lock);
	return err;
}

static unsigned digits(unsigned long v)
{
	unsigned d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

static int gen_tags_locked(struct sim_image *img, const char *repo, const struct sim_gen_tags *g)
{
	unsigned width = g->width ? g->width : digits(g->count) > 4 ? digits(g->count) : 4;
	int64_t start = g->start;
	char name[512], digest[72];
	int err = 0;

	if (!start)
		start = (img->update_time ? img->update_time : SIM_BASE_TIME) - (int64_t)g->count * g->step;
	for (unsigned long i = 1; i <= g->count && !err; i++) {
		int n = snprintf(name, sizeof(name), "%s%0*lu", g->prefix ? g->prefix : "", (int)width, i);

		if (n < 0 || (size_t)n >= sizeof(name))
			return -ENAMETOOLONG;
		sim_registry_digest(g->seed, repo, img->name, name, digest);
		err = put_tag_locked(img, name, digest, start + (int64_t)(i - 1) * g->step);
	}
	return err;
}

int sim_registry_gen_tags(struct sim_registry *r, const char *repo, const char *image, const struct sim_gen_tags *g)
{
	struct sim_repo *rp;
	struct sim_image *img = NULL;
	int err = -ENOENT;

	pthread_rwlock_wrlock(&r->lock);
	rp = find_repo(r, repo);
	if (rp) {
		img = find_image(rp, image);
		err = img ? gen_tags_locked(img, repo, g) : -ENXIO;
	}
	pthread_rwlock_unlock(&r->lock);
	return err;
}

static void settle_image(struct sim_image *img)
{
	int64_t oldest = 0;

	for (size_t i = 0; i < img->ntags; i++)
		if (!oldest || img->tags[i].time < oldest)
			oldest = img->tags[i].time;
	if (!img->update_time)
		img->update_time = img->latest ? img->latest_time : SIM_BASE_TIME;
	if (!img->create_time)
		img->create_time = oldest && oldest < img->update_time ? oldest : img->update_time;
}

static void settle_repo(struct sim_repo *repo)
{
	int64_t newest = 0, oldest = 0;

	for (size_t i = 0; i < repo->nimages; i++) {
		struct sim_image *img = repo->images[i];

		settle_image(img);
		if (img->update_time > newest)
			newest = img->update_time;
		if (!oldest || img->create_time < oldest)
			oldest = img->create_time;
	}
	if (!repo->update_time)
		repo->update_time = newest ? newest : SIM_BASE_TIME;
	if (!repo->create_time)
		repo->create_time = oldest && oldest < repo->update_time ? oldest : repo->update_time;
}

void sim_registry_settle(struct sim_registry *r)
{
	pthread_rwlock_wrlock(&r->lock);
	for (size_t i = 0; i < r->nrepos; i++)
		settle_repo(r->repos[i]);
	pthread_rwlock_unlock(&r->lock);
}

void sim_registry_counts(struct sim_registry *r, size_t *repos, size_t *images, size_t *tags)
{
	*repos = *images = *tags = 0;
	pthread_rwlock_rdlock(&r->lock);
	*repos = r->nrepos;
	for (size_t i = 0; i < r->nrepos; i++) {
		*images += r->repos[i]->nimages;
		for (size_t j = 0; j < r->repos[i]->nimages; j++)
			*tags += r->repos[i]->images[j]->ntags;
	}
	pthread_rwlock_unlock(&r->lock);
}

/* ---- the generator ---- */

/* splitmix64's finaliser: a well-spread 64-bit hash step. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* FNV-1a over a string and its NUL, so "a"+"bc" and "ab"+"c" differ. */
static uint64_t fnv(uint64_t h, const char *s)
{
	do {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	} while (*s++);
	return h;
}

static uint64_t name_hash(uint64_t seed, const char *repo, const char *image, const char *tag)
{
	return mix(fnv(fnv(fnv(0xcbf29ce484222325ULL ^ mix(seed), repo), image), tag));
}

void sim_registry_digest(uint64_t seed, const char *repo, const char *image, const char *tag, char out[72])
{
	uint64_t h = name_hash(seed, repo, image, tag);

	snprintf(out, 72, "sha256:%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, mix(h + 1), mix(h + 2),
		 mix(h + 3), mix(h + 4));
}

/* Reads "N" after "key=" into *out, bounded by max. */
static int gen_number(const char *s, size_t n, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (n == 0 || n > 20)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (max - (unsigned long long)(s[i] - '0')) / 10)
			return -E2BIG;
		v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* One "key=value" item of a --gen spec. */
static int gen_item(const char *s, size_t n, struct sim_gen *g)
{
	static const char *const keys[] = {"repos", "images", "tags", "seed", "nested"};
	const char *eq = memchr(s, '=', n);
	unsigned long long v;
	size_t klen;
	int err;

	if (!eq)
		return -EINVAL;
	klen = (size_t)(eq - s);
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (strlen(keys[k]) != klen || memcmp(s, keys[k], klen) != 0)
			continue;
		err = gen_number(eq + 1, n - klen - 1, k == 3 ? UINT64_MAX : GEN_MAX_TAGS, &v);
		if (err)
			return err;
		if (k == 0)
			g->repos = v;
		else if (k == 1)
			g->images = v;
		else if (k == 2)
			g->tags = v;
		else if (k == 3)
			g->seed = v;
		else
			g->nested = v;
		return 0;
	}
	return -EINVAL;
}

int sim_gen_parse(const char *spec, struct sim_gen *g)
{
	size_t n = strlen(spec), start = 0;

	*g = (struct sim_gen){.repos = 2, .images = 5, .tags = 10, .seed = 1, .nested = 5};
	while (start <= n) {
		const char *comma = memchr(spec + start, ',', n - start);
		size_t end = comma ? (size_t)(comma - spec) : n;
		int err = gen_item(spec + start, end - start, g);

		if (err)
			return err;
		start = end + 1;
	}
	if (g->repos && g->images && g->tags > GEN_MAX_TAGS / g->repos / g->images)
		return -E2BIG;
	if (g->repos * g->images > GEN_MAX_TAGS)
		return -E2BIG;
	return 0;
}

static int gen_image(struct sim_repo *repo, const struct sim_gen *g, unsigned long i)
{
	unsigned w = digits(g->images ? g->images - 1 : 0) > 2 ? digits(g->images - 1) : 2;
	bool nested = g->nested && i % g->nested == g->nested - 1;
	char name[64], tag[64], digest[72];
	struct sim_image *img;
	int err;

	snprintf(name, sizeof(name), "%simg-%0*lu", nested ? "team/" : "", (int)w, i);
	err = add_image_locked(
	    repo,
	    &(struct sim_image_info){.name = name,
				     .pull_count = (long long)(name_hash(g->seed, repo->name, name, "") % 100000)},
	    &img);
	w = digits(g->tags ? g->tags - 1 : 0) > 4 ? digits(g->tags - 1) : 4;
	for (unsigned long t = 0; t < g->tags && !err; t++) {
		snprintf(tag, sizeof(tag), "tag-%0*lu", (int)w, t);
		sim_registry_digest(g->seed, repo->name, name, tag, digest);
		err = put_tag_locked(img, tag, digest,
				     SIM_GEN_TIME + (int64_t)(name_hash(g->seed, repo->name, name, tag) % GEN_WINDOW));
	}
	return err;
}

int sim_registry_generate(struct sim_registry *r, const struct sim_gen *g)
{
	unsigned w = digits(g->repos ? g->repos - 1 : 0) > 2 ? digits(g->repos - 1) : 2;
	char name[64], desc[96];
	struct sim_repo *repo;
	int err = 0;

	pthread_rwlock_wrlock(&r->lock);
	for (unsigned long i = 0; i < g->repos && !err; i++) {
		snprintf(name, sizeof(name), "repo-%0*lu", (int)w, i);
		snprintf(desc, sizeof(desc), "generated repository %lu", i);
		err = add_repo_locked(r, &(struct sim_repo_info){.name = name, .description = desc}, &repo);
		for (unsigned long j = 0; j < g->images && !err; j++)
			err = gen_image(repo, g, j);
	}
	pthread_rwlock_unlock(&r->lock);
	if (!err)
		sim_registry_settle(r);
	return err;
}

/* ---- run-time mutations ---- */

static int push_locked(struct sim_registry *r, const struct sim_push *p)
{
	struct sim_repo *repo = find_repo(r, p->repo);
	struct sim_image *img;
	int err;

	if (!repo) {
		err = add_repo_locked(
		    r,
		    &(struct sim_repo_info){
			.name = p->repo, .is_public = p->is_public, .create_time = p->time, .update_time = p->time},
		    &repo);
		if (err)
			return err;
	}
	img = find_image(repo, p->image);
	if (!img) {
		err = add_image_locked(
		    repo, &(struct sim_image_info){.name = p->image, .create_time = p->time, .update_time = p->time},
		    &img);
		if (err)
			return err;
	}
	err = put_tag_locked(img, p->tag, p->digest, p->time);
	if (err)
		return err;
	if (p->time > img->update_time)
		img->update_time = p->time;
	if (p->time > repo->update_time)
		repo->update_time = p->time;
	return 0;
}

int sim_registry_push(struct sim_registry *r, const struct sim_push *p)
{
	int err;

	pthread_rwlock_wrlock(&r->lock);
	err = push_locked(r, p);
	r->changes += !err;
	pthread_rwlock_unlock(&r->lock);
	return err;
}

static int delete_locked(struct sim_registry *r, const char *repo, const char *image, const char *tag)
{
	bool found;
	size_t ri = lookup(r->repos, r->nrepos, repo_name_at, repo, &found), ii, ti;
	struct sim_repo *rp;
	struct sim_image *img;

	if (!found)
		return -ENOENT;
	rp = r->repos[ri];
	if (!image) {
		repo_free(rp);
		array_remove(r->repos, &r->nrepos, sizeof(*r->repos), ri);
		return 0;
	}
	ii = lookup(rp->images, rp->nimages, image_name_at, image, &found);
	if (!found)
		return -ENXIO;
	img = rp->images[ii];
	if (!tag) {
		image_free(img);
		array_remove(rp->images, &rp->nimages, sizeof(*rp->images), ii);
		return 0;
	}
	ti = lookup(img->tags, img->ntags, tag_name_at, tag, &found);
	if (!found)
		return -ESRCH;
	delete_tag_at(img, ti);
	return 0;
}

int sim_registry_delete(struct sim_registry *r, const char *repo, const char *image, const char *tag)
{
	int err;

	pthread_rwlock_wrlock(&r->lock);
	err = delete_locked(r, repo, image, tag);
	r->changes += !err;
	pthread_rwlock_unlock(&r->lock);
	return err;
}

int sim_registry_shuffle(struct sim_registry *r, const char *repo, const char *image, unsigned long event, int64_t now)
{
	struct sim_repo *rp;
	struct sim_image *img = NULL;
	char name[64], digest[72];
	int err = -ENOENT;

	pthread_rwlock_wrlock(&r->lock);
	rp = find_repo(r, repo);
	if (rp)
		img = find_image(rp, image);
	if (rp && !img)
		err = -ENXIO;
	if (img && event % 2 == 1) {
		snprintf(name, sizeof(name), "0shuffle-%06lu", event);
		sim_registry_digest(event, repo, image, name, digest);
		err = put_tag_locked(img, name, digest, now);
	} else if (img) {
		if (img->ntags)
			delete_tag_at(img, img->ntags - 1);
		err = 0;
	}
	r->changes += !err;
	pthread_rwlock_unlock(&r->lock);
	return err;
}

/* ---- listings ---- */

void sim_page_window(size_t total, size_t offset, size_t limit, size_t *start, size_t *n)
{
	*start = offset < total ? offset : total;
	*n = total - *start < limit ? total - *start : limit;
}

/* Frees an item's strings (not the item). */
static void item_release(struct sim_item *it)
{
	free(it->name);
	free(it->repo);
	free(it->description);
	free(it->digest);
	free(it->latest_tag);
}

void sim_page_release(struct sim_page *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		item_release(&p->items[i]);
	free(p->items);
	*p = (struct sim_page){0};
}

/* Copies s into *dst; NULL stays NULL. */
static int dup_into(char **dst, const char *s)
{
	*dst = s ? strdup(s) : NULL;
	return s && !*dst ? -ENOMEM : 0;
}

/* Allocates a page of n items with the given total. */
static int page_init(struct sim_page *out, size_t total, size_t n)
{
	*out = (struct sim_page){.total = total};
	if (n == 0)
		return 0;
	out->items = calloc(n, sizeof(*out->items));
	return out->items ? 0 : -ENOMEM;
}

static int copy_repo(struct sim_item *it, const struct sim_repo *rp)
{
	it->create_time = rp->create_time;
	it->update_time = rp->update_time;
	it->is_shared = rp->is_shared;
	it->is_outside = rp->is_outside;
	if (dup_into(&it->name, rp->name) || dup_into(&it->description, rp->description))
		return -ENOMEM;
	return 0;
}

static int list_repos_locked(struct sim_registry *r, bool is_public, size_t offset, size_t limit, struct sim_page *out)
{
	size_t total = 0, start, n, seen = 0;
	int err;

	for (size_t i = 0; i < r->nrepos; i++)
		total += r->repos[i]->is_public == is_public;
	sim_page_window(total, offset, limit, &start, &n);
	err = page_init(out, total, n);
	for (size_t i = 0; i < r->nrepos && !err && out->n < n; i++) {
		if (r->repos[i]->is_public != is_public)
			continue;
		if (seen++ < start)
			continue;
		err = copy_repo(&out->items[out->n++], r->repos[i]);
	}
	return err;
}

int sim_registry_list_repos(struct sim_registry *r, bool is_public, size_t offset, size_t limit, struct sim_page *out)
{
	int err;

	pthread_rwlock_rdlock(&r->lock);
	err = list_repos_locked(r, is_public, offset, limit, out);
	pthread_rwlock_unlock(&r->lock);
	if (err)
		sim_page_release(out);
	return err;
}

static int copy_image(struct sim_item *it, const struct sim_repo *rp, const struct sim_image *img)
{
	it->create_time = img->create_time;
	it->update_time = img->update_time;
	it->pull_count = img->pull_count;
	if (dup_into(&it->name, img->name) || dup_into(&it->repo, rp->name) || dup_into(&it->latest_tag, img->latest))
		return -ENOMEM;
	return 0;
}

int sim_registry_list_images(struct sim_registry *r, const char *repo, size_t offset, size_t limit,
			     struct sim_page *out)
{
	struct sim_repo *rp;
	size_t start, n;
	int err = -ENOENT;

	*out = (struct sim_page){0};
	pthread_rwlock_rdlock(&r->lock);
	rp = find_repo(r, repo);
	if (rp) {
		sim_page_window(rp->nimages, offset, limit, &start, &n);
		err = page_init(out, rp->nimages, n);
		for (size_t i = 0; i < n && !err; i++, out->n++)
			err = copy_image(&out->items[i], rp, rp->images[start + i]);
	}
	pthread_rwlock_unlock(&r->lock);
	if (err)
		sim_page_release(out);
	return err;
}

static int copy_tag(struct sim_item *it, const struct sim_tag *t)
{
	it->create_time = t->time;
	it->update_time = t->time;
	if (dup_into(&it->name, t->name) || dup_into(&it->digest, t->digest))
		return -ENOMEM;
	return 0;
}

/* The tags of img to list: all of them, or the one called filter. */
static void tag_range(const struct sim_image *img, const char *filter, size_t *first, size_t *count)
{
	bool found;

	*first = 0;
	*count = img->ntags;
	if (!filter)
		return;
	*first = lookup(img->tags, img->ntags, tag_name_at, filter, &found);
	*count = found;
}

int sim_registry_list_tags(struct sim_registry *r, const char *repo, const char *image, const char *tag_filter,
			   size_t offset, size_t limit, struct sim_page *out)
{
	struct sim_repo *rp;
	struct sim_image *img = NULL;
	size_t first, total, start, n;
	int err = -ENOENT;

	*out = (struct sim_page){0};
	pthread_rwlock_rdlock(&r->lock);
	rp = find_repo(r, repo);
	if (rp)
		img = find_image(rp, image);
	if (rp && !img)
		err = -ENXIO;
	if (img) {
		tag_range(img, tag_filter, &first, &total);
		sim_page_window(total, offset, limit, &start, &n);
		err = page_init(out, total, n);
		for (size_t i = 0; i < n && !err; i++, out->n++)
			err = copy_tag(&out->items[i], &img->tags[first + start + i]);
	}
	pthread_rwlock_unlock(&r->lock);
	if (err)
		sim_page_release(out);
	return err;
}

/* ---- the whole registry ---- */

static int dump_image(struct sim_dump_image *di, const struct sim_repo *rp, const struct sim_image *img)
{
	int err = copy_image(&di->info, rp, img);

	if (!err)
		err = page_init(&di->tags, img->ntags, img->ntags);
	for (size_t i = 0; i < img->ntags && !err; i++, di->tags.n++)
		err = copy_tag(&di->tags.items[i], &img->tags[i]);
	return err;
}

static int dump_repo(struct sim_dump_repo *dr, const struct sim_repo *rp)
{
	int err = copy_repo(&dr->info, rp);

	dr->is_public = rp->is_public;
	if (!err && rp->nimages && !(dr->images = calloc(rp->nimages, sizeof(*dr->images))))
		err = -ENOMEM;
	for (size_t i = 0; i < rp->nimages && !err; i++, dr->nimages++)
		err = dump_image(&dr->images[i], rp, rp->images[i]);
	return err;
}

int sim_registry_dump(struct sim_registry *r, struct sim_dump *out)
{
	int err = 0;

	*out = (struct sim_dump){0};
	pthread_rwlock_rdlock(&r->lock);
	out->changes = r->changes;
	if (r->nrepos && !(out->repos = calloc(r->nrepos, sizeof(*out->repos))))
		err = -ENOMEM;
	for (size_t i = 0; i < r->nrepos && !err; i++, out->nrepos++)
		err = dump_repo(&out->repos[i], r->repos[i]);
	pthread_rwlock_unlock(&r->lock);
	if (err)
		sim_dump_release(out);
	return err;
}

void sim_dump_release(struct sim_dump *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nrepos; i++) {
		struct sim_dump_repo *dr = &d->repos[i];

		for (size_t k = 0; k < dr->nimages; k++) {
			sim_page_release(&dr->images[k].tags);
			item_release(&dr->images[k].info);
		}
		free(dr->images);
		item_release(&dr->info);
	}
	free(d->repos);
	*d = (struct sim_dump){0};
}
