/* test_tree.c — the namespace over an in-memory API: the tree's shape
 * (nested image names, tag/directory collisions), attributes, contents,
 * and how many API calls each kind of access costs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "cache.h"
#include "fake_api.h"
#include "qbudget.h"
#include "tree.h"
#include "tree_walk.h"

struct fixture {
	struct fake_api *f;
	struct uhub *u;
	struct cache *c;
	struct fresh *fresh; /* the tree's policy, on the cache's clock */
	struct tree *t;
	int64_t now;	/* the cache's clock, ms */
	int64_t wall;	/* the tree's wall clock, s */
	char told[8192]; /* what tree_set_changed's callback was told */
};

static int64_t fake_clock(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static int64_t fake_wall(void *arg)
{
	return ((struct fixture *)arg)->wall;
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	struct tree_config tc = {.api_tz = 8 * 3600,
				 .uid = 1000,
				 .gid = 1000,
				 .umask = 022,
				 .mount_time = 1700000000};

	x->now = 1000000;
	x->wall = 1800000000;
	tc.wall = fake_wall;
	tc.wall_arg = x;
	x->f = fake_api_new();
	fake_api_add_repo(x->f, "web", "2026-11-27 10:15:00");
	fake_api_add_repo(x->f, "ucloudai", "1764200000");
	fake_api_add_image(x->f, "web", "api", "2026-11-27 10:15:00");
	fake_api_add_image(x->f, "web", "team", "1764100000");
	fake_api_add_image(x->f, "web", "team/app", "1764300000");
	fake_api_add_image(x->f, "web", "team-x", "1764000000");
	fake_api_add_image(x->f, "ucloudai", "vllm/vllm-openai", "1764200000");
	fake_api_add_tag(x->f, "web", "api", "v1.4.2",
			 "sha256:3f1c000000000000000000000000000000000000000000000000000000000001",
			 "2026-11-27 10:15:00");
	fake_api_add_tag(x->f, "web", "api", "latest", NULL, "garbage-time");
	fake_api_add_tag(x->f, "web", "team", "app", "sha256:aa", "1764100000");
	fake_api_add_tag(x->f, "web", "team", "v1", "sha256:bb", "1764100001");
	fake_api_add_tag(x->f, "web", "api", "..", "sha256:cc", "1764100001");
	fake_api_add_tag(x->f, "web", "api", "a/b", "sha256:dd", "1764100001");
	fake_api_add_tag(x->f, "ucloudai", "vllm/vllm-openai", "v0.5.3", "sha256:ee", "1764200000");
	fake_api_add_tag(x->f, "web", "team", "forged", "sha256:aa\ndigest: sha256:evil", "x\nupdated: never");
	fake_api_add_tags(x->f, "web", "big", "t", 5000);
	fake_api_add_image(x->f, "web", "big", "1764000000");
	x->u = fake_api_client(x->f, 100, 4);
	x->c = cache_new(64 << 20, fake_clock, x);
	x->fresh = fresh_new(&(struct fresh_config){
	    .ttl_ms = 60000, .neg_ttl_ms = 5000, .clock = fake_clock, .clock_arg = x});
	tc.fresh = x->fresh;
	x->t = tree_new(&tc, x->u, x->c, NULL);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	tree_free(x->t);
	fresh_free(x->fresh);
	cache_free(x->c);
	uhub_free(x->u);
	fake_api_free(x->f);
	free(x);
	return 0;
}

struct listing {
	char names[64][64];
	struct stat st[64];
	int n;
};

static int collect(void *arg, const char *name, const struct stat *st)
{
	struct listing *l = arg;

	if (l->n < 64) {
		snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
		if (st)
			l->st[l->n] = *st;
		l->n++;
	}
	return 0;
}

static int count_only(void *arg, const char *name, const struct stat *st)
{
	(void)name;
	(void)st;
	(*(int *)arg)++;
	return 0;
}

/* Joins a listing's names with spaces, "." and ".." left out. */
static const char *joined(const struct listing *l)
{
	static char out[2048];
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->names[i], ".") && strcmp(l->names[i], ".."))
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", o ? " " : "", l->names[i]);
	return out;
}

static const char *ls(struct fixture *x, const char *path)
{
	static struct listing l;

	memset(&l, 0, sizeof(l));
	assert_int_equal(tree_readdir(x->t, path, collect, &l), 0);
	return joined(&l);
}

static void test_shape(void **state)
{
	struct fixture *x = *state;

	assert_string_equal(ls(x, "/"), "ucloudai web");
	assert_string_equal(ls(x, "/web"), "api big team team-x");
	assert_string_equal(ls(x, "/ucloudai"), "vllm");
	assert_string_equal(ls(x, "/ucloudai/vllm"), "vllm-openai");
	assert_string_equal(ls(x, "/ucloudai/vllm/vllm-openai"), "v0.5.3");
	/* Image "team" has a tag "app" and a nested image "team/app". */
	assert_string_equal(ls(x, "/web/team"), "app app@tag forged v1");
	/* Names that cannot be file names are skipped. */
	assert_string_equal(ls(x, "/web/api"), "latest v1.4.2");
}

static void test_attributes(void **state)
{
	struct fixture *x = *state;
	struct stat st;

	assert_int_equal(tree_getattr(x->t, "/web", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0555 & ~022);
	assert_int_equal(st.st_mtime, 1795745700); /* 2026-11-27 10:15:00 +08:00 */
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(tree_getattr(x->t, "/web/api/v1.4.2", &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0444);
	assert_int_equal(st.st_mtime, 1795745700);
	assert_int_equal(st.st_size,
			 strlen("digest: sha256:3f1c000000000000000000000000000000000000000000000000000000000001\n"
				"updated: 2026-11-27T02:15:00Z\n"));
	/* A prefix directory takes the newest mtime below it. */
	assert_int_equal(tree_getattr(x->t, "/ucloudai/vllm", &st), 0);
	assert_int_equal(st.st_mtime, 1764200000);
	assert_int_equal(tree_getattr(x->t, "/web/team/app", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(tree_getattr(x->t, "/web/team/app@tag", &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mtime, 1764100000);
	assert_int_equal(tree_getattr(x->t, "/web/nope", &st), -ENOENT);
	assert_int_equal(tree_getattr(x->t, "/nope", &st), -ENOENT);
	assert_int_equal(tree_getattr(x->t, "/web/api/nope", &st), -ENOENT);
	assert_int_equal(tree_getattr(x->t, "/web/api/v1.4.2/deeper", &st), -ENOENT);
}

static void test_contents(void **state)
{
	struct fixture *x = *state;
	char buf[256];
	ssize_t n;

	n = tree_read(x->t, "/web/api/v1.4.2", buf, sizeof(buf), 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "digest: sha256:3f1c000000000000000000000000000000000000000000000000000000000001\n"
				 "updated: 2026-11-27T02:15:00Z\n");
	/* No digest: the line is left out; an unparseable time is shown as given. */
	n = tree_read(x->t, "/web/api/latest", buf, sizeof(buf), 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "updated: garbage-time\n");
	n = tree_read(x->t, "/web/api/v1.4.2", buf, 4, 8);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "sha2", 4);
	assert_int_equal(tree_read(x->t, "/web/api", buf, 10, 0), -EISDIR);
	/* A server cannot forge lines: control bytes are shown escaped. */
	n = tree_read(x->t, "/web/team/forged", buf, sizeof(buf), 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "digest: sha256:aa\\x0adigest: sha256:evil\nupdated: x\\x0aupdated: never\n");
}

/* A cold stat or cat of one tag never lists the image. */
static void test_cold_single_tag(void **state)
{
	struct fixture *x = *state;
	struct stat st;
	char buf[256];

	assert_int_equal(tree_getattr(x->t, "/web/big/t04321", &st), 0);
	assert_true(tree_read(x->t, "/web/big/t04321", buf, sizeof(buf), 0) > 0);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), 1);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", "t04321"), 1);
	assert_int_equal(fake_api_calls(x->f, "GetRepo", NULL), 1);
	assert_int_equal(fake_api_calls(x->f, "GetRepoImage", NULL), 1);
	/* A missing tag: one call, then remembered for negative_ttl. */
	assert_int_equal(tree_getattr(x->t, "/web/big/zzz", &st), -ENOENT);
	assert_int_equal(tree_getattr(x->t, "/web/big/zzz", &st), -ENOENT);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", "zzz"), 1);
	x->now += 6000;
	assert_int_equal(tree_getattr(x->t, "/web/big/zzz", &st), -ENOENT);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", "zzz"), 2);
}

/* After one listing, every stat, read and negative lookup is free. */
static void test_listing_then_free(void **state)
{
	struct fixture *x = *state;
	struct stat st;
	char name[64], buf[256];
	int n = 0;

	assert_int_equal(tree_readdir(x->t, "/web/big", count_only, &n), 0);
	assert_int_equal(n, 5000 + 2);
	/* Pages of 100 that overlap by one: 1 + ceil(4900 / 99). */
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), 51);
	fake_api_reset_calls(x->f);
	for (int i = 0; i < 5000; i += 7) {
		snprintf(name, sizeof(name), "/web/big/t%05d", i);
		assert_int_equal(tree_getattr(x->t, name, &st), 0);
		assert_true(tree_read(x->t, name, buf, sizeof(buf), 0) > 0);
	}
	assert_int_equal(tree_getattr(x->t, "/web/big/missing", &st), -ENOENT);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	/* After the TTL, the next access refreshes once. */
	x->now += 61000;
	n = 0;
	assert_int_equal(tree_readdir(x->t, "/web/big", count_only, &n), 0);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), 51);
}

/* Made-up names in an image whose listing is not cached (any user of an
 * allow_other mount can stat them): a few are asked for alone, then the
 * listing is fetched once and answers the rest. */
static void test_made_up_names_bounded(void **state)
{
	struct fixture *x = *state;
	struct stat st;
	char name[64];

	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "/web/api/made-up-%03d", i);
		assert_int_equal(tree_getattr(x->t, name, &st), -ENOENT);
	}
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", "*"), QBUDGET_MISSES);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), QBUDGET_MISSES + 1);
	/* Real tags are still found, from the listing. */
	assert_int_equal(tree_getattr(x->t, "/web/api/v1.4.2", &st), 0);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), QBUDGET_MISSES + 1);
}

/* A listing that moved while it was paged is kept, unsure: every tag
 * that exists is found (those it lacks are asked for alone), and made-up
 * names cost a bounded number of calls. */
static void test_unsure_listing(void **state)
{
	struct fixture *x = *state;
	struct stat st;
	char name[64];
	int n = 0, found = 0;
	unsigned before;

	fake_api_change_after(x->f, 4, 1, 0, "web", "big", "^");
	assert_int_equal(tree_readdir(x->t, "/web/big", count_only, &n), 0);
	fake_api_change_clear(x->f);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "t%05d", i);
		if (!fake_api_has_tag(x->f, "web", "big", name))
			continue;
		snprintf(name, sizeof(name), "/web/big/t%05d", i);
		assert_int_equal(tree_getattr(x->t, name, &st), 0);
		found++;
	}
	assert_true(found > 4000);
	before = fake_api_calls(x->f, "GetImageTag", NULL);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "/web/big/made-up-%03d", i);
		assert_int_equal(tree_getattr(x->t, name, &st), -ENOENT);
	}
	/* QBUDGET_MISSES asked alone, then the listing again (51 pages). */
	assert_true(fake_api_calls(x->f, "GetImageTag", NULL) - before <= QBUDGET_MISSES + 51);
}

/* An image that an unsure image list lacks is looked for (its own tag
 * listing) before anyone is told it does not exist. */
static void test_unsure_image_list(void **state)
{
	struct fixture *x = *state;
	struct stat st;
	char name[64];
	int n = 0;

	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "img%02d", i);
		fake_api_add_image(x->f, "web", name, "1764000000");
		fake_api_add_tag(x->f, "web", name, "v1", "sha256:ff", "1764000000");
	}
	/* Images that sort first, for the churn to delete. */
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "0filler%03d", i);
		fake_api_add_image(x->f, "web", name, "1764000000");
	}
	uhub_free(x->u);
	tree_free(x->t);
	x->u = fake_api_client(x->f, 100, 1);
	fake_api_set_cap(x->f, 10);
	x->t = tree_new(&(struct tree_config){.fresh = x->fresh, .mount_time = 1700000000}, x->u, x->c, NULL);
	/* At every call once the list is being paged, the two front images
	 * go and two images that sort last come: pages fetched one after
	 * the other shift left by two, the overlap of one cannot catch every
	 * item, and the list never holds still. */
	fake_api_change_after(x->f, 3, 1, 0, "web", "^", NULL);
	fake_api_change_after(x->f, 3, 1, 0, "web", "^", NULL);
	fake_api_change_after(x->f, 3, 1, 1, "web", "$", NULL);
	fake_api_change_after(x->f, 3, 1, 1, "web", "$", NULL);
	assert_int_equal(tree_readdir(x->t, "/web", count_only, &n), 0);
	fake_api_change_clear(x->f);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "img%02d", i);
		if (!fake_api_has_image(x->f, "web", name))
			continue;
		snprintf(name, sizeof(name), "/web/img%02d", i);
		assert_int_equal(tree_getattr(x->t, name, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		snprintf(name, sizeof(name), "/web/img%02d/v1", i);
		assert_int_equal(tree_getattr(x->t, name, &st), 0);
	}
	/* Some were missing from the list, and were looked for by listing
	 * their tags (the tag lookups of the others ask for v1 alone). */
	assert_true(fake_api_calls(x->f, "GetImageTag", NULL) > fake_api_calls(x->f, "GetImageTag", "*"));
	assert_int_equal(tree_getattr(x->t, "/web/no-such-image", &st), -ENOENT);
}

/* Names that can never be registry names cost no call at all. */
static void test_implausible_names_free(void **state)
{
	struct fixture *x = *state;
	struct stat st;

	assert_int_equal(tree_getattr(x->t, "/.git", &st), -ENOENT);
	assert_int_equal(tree_getattr(x->t, "/.hidden", &st), -ENOENT);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	assert_int_equal(tree_getattr(x->t, "/web", &st), 0);
	fake_api_reset_calls(x->f);
	assert_int_equal(tree_getattr(x->t, "/web/.git", &st), -ENOENT);
	assert_int_equal(tree_getattr(x->t, "/web/api/.hidden", &st), -ENOENT);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	/* A tag that is no image-name component is still looked up. */
	assert_int_equal(tree_getattr(x->t, "/web/api/_X", &st), -ENOENT);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", "_X"), 1);
}

static void test_refresh(void **state)
{
	struct fixture *x = *state;
	struct stat st;

	assert_string_equal(ls(x, "/web/api"), "latest v1.4.2");
	fake_api_add_tag(x->f, "web", "api", "v2", "sha256:ff", "1764300000");
	assert_string_equal(ls(x, "/web/api"), "latest v1.4.2"); /* within the TTL */
	assert_int_equal(tree_refresh(x->t, "/web/api"), 0);
	assert_string_equal(ls(x, "/web/api"), "latest v1.4.2 v2");
	fake_api_del_tag(x->f, "web", "api", "v2");
	x->now += 61000;
	assert_string_equal(ls(x, "/web/api"), "latest v1.4.2");
	assert_int_equal(tree_getattr(x->t, "/web/api/v2", &st), -ENOENT);
}

/* A tag looked up alone while its image was cold keeps that answer in the
 * cache; a refresh of the image must drop it too, or the tag shows its
 * old digest after the refresh (tests/review/repush.sh). */
static void test_refresh_image_drops_lone_tags(void **state)
{
	struct fixture *x = *state;
	struct buf v;

	buf_init(&v, 4096);
	assert_int_equal(tree_tag_value(x->t, "/web/api/v1.4.2", "digest", &v), 0);
	assert_string_equal(v.data, "sha256:3f1c000000000000000000000000000000000000000000000000000000000001");
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", "v1.4.2"), 1); /* alone, not the listing */
	fake_api_del_tag(x->f, "web", "api", "v1.4.2");
	fake_api_add_tag(x->f, "web", "api", "v1.4.2",
			 "sha256:3f1c000000000000000000000000000000000000000000000000000000000002",
			 "2026-11-27 10:15:00");
	assert_int_equal(tree_refresh(x->t, "/web/api"), 0);
	buf_reset(&v);
	assert_int_equal(tree_tag_value(x->t, "/web/api/v1.4.2", "digest", &v), 0);
	assert_string_equal(v.data, "sha256:3f1c000000000000000000000000000000000000000000000000000000000002");
	buf_release(&v);
}

/* Mounting one repository as the root. */
static void test_repo_root(void **state)
{
	struct fixture *x = *state;
	struct tree_config tc = {.fresh = x->fresh, .repo = "ucloudai", .mount_time = 1};
	struct tree *t = tree_new(&tc, x->u, x->c, NULL);
	struct listing l = {.n = 0};
	struct stat st;

	assert_int_equal(tree_readdir(t, "/", collect, &l), 0);
	assert_string_equal(joined(&l), "vllm");
	assert_int_equal(tree_getattr(t, "/vllm/vllm-openai/v0.5.3", &st), 0);
	assert_int_equal(fake_api_calls(x->f, "GetRepo", NULL), 0);
	tree_free(t);
}

static void test_errors_pass_through(void **state)
{
	struct fixture *x = *state;
	struct stat st;
	int n = 0;

	fake_api_fail_next(x->f, 1, FAKE_RETCODE, 171);
	assert_int_equal(tree_readdir(x->t, "/", count_only, &n), -EACCES);
	/* An error is not cached: the next access works. */
	assert_int_equal(tree_getattr(x->t, "/web", &st), 0);
}

/* Reads d from off in chunks of at most per entries (as the kernel does
 * with its buffer), appending names to out; offsets must count up by one. */
struct chunk {
	char *out;
	size_t len, cap;
	int taken, per;
	off_t last;
};

static int take_chunk(void *arg, const char *name, const struct stat *st, off_t next)
{
	struct chunk *c = arg;

	(void)st;
	if (c->taken == c->per)
		return 1; /* full: this one is not taken */
	assert_int_equal(next, c->last + 1);
	c->last = next;
	c->taken++;
	c->len += (size_t)snprintf(c->out + c->len, c->cap - c->len, "%s ", name);
	return 0;
}

static void read_chunked(struct tree_dir *d, off_t off, int per, char *out, size_t cap)
{
	struct chunk c = {.out = out, .cap = cap, .per = per, .last = off};

	out[0] = '\0';
	do {
		c.taken = 0;
		assert_int_equal(tree_dir_read(d, c.last, take_chunk, &c), 0);
	} while (c.taken == per);
}

static void test_chunked_reads(void **state)
{
	struct fixture *x = *state;
	struct tree_dir *d;
	static char whole[8192], part[8192], again[8192];

	/* Chunks of every size give the same listing as one read. */
	assert_int_equal(tree_opendir(x->t, "/web/team", &d), 0);
	read_chunked(d, 0, 1000, whole, sizeof(whole));
	assert_string_equal(whole, ". .. app app@tag forged v1 ");
	for (int per = 1; per < 6; per++) {
		read_chunked(d, 0, per, part, sizeof(part));
		assert_string_equal(part, whole);
	}
	/* A seek (an offset other than where the last read stopped). */
	read_chunked(d, 3, 2, part, sizeof(part));
	assert_string_equal(part, "app@tag forged v1 ");
	read_chunked(d, 99, 2, part, sizeof(part));
	assert_string_equal(part, "");
	tree_closedir(d);

	/* 5000 tags in chunks of 7: all there, in order, once. */
	assert_int_equal(tree_opendir(x->t, "/web/big", &d), 0);
	static char big[5200 * 8];
	read_chunked(d, 0, 7, big, sizeof(big));
	int n = 0;
	for (char *p = big; (p = strchr(p, ' ')); p++)
		n++;
	assert_int_equal(n, 5002);
	tree_closedir(d);
	assert_int_equal(tree_opendir(x->t, "/web/api/v1.4.2", &d), -ENOTDIR);
	assert_int_equal(tree_opendir(x->t, "/web/nope", &d), -ENOENT);

	/* An open directory keeps its listing through a refresh: offsets
	 * read on from the same snapshot. A new open sees the change. */
	assert_int_equal(tree_opendir(x->t, "/web/team", &d), 0);
	read_chunked(d, 0, 2, part, sizeof(part));
	fake_api_del_tag(x->f, "web", "team", "forged");
	assert_int_equal(tree_refresh(x->t, "/web/team"), 0);
	read_chunked(d, 2, 1, again, sizeof(again));
	assert_string_equal(again, "app app@tag forged v1 ");
	tree_closedir(d);
	assert_string_equal(ls(x, "/web/team"), "app app@tag v1");
}

/* Reads d from off for n entries at most (one chunk), appending names. */
static off_t read_some(struct tree_dir *d, off_t off, int n, char *out, size_t cap)
{
	struct chunk c = {.out = out, .len = strlen(out), .cap = cap, .per = n, .last = off};

	assert_int_equal(tree_dir_read(d, off, take_chunk, &c), 0);
	return c.last;
}

/* A reader that read part of a directory whose listing then expired goes
 * on in the fresh listing right after the last name it had: a name in
 * both is read once, a name gone is not read again, a name that came
 * after the resume point is read. Also across nested image directories
 * (a prefix directory stands for a run of names). */
static void test_resume_after_expiry(void **state)
{
	struct fixture *x = *state;
	struct tree_dir *d, *fresh;
	static char got[8192];
	off_t off, at;

	assert_int_equal(tree_opendir(x->t, "/web/team", &d), 0);
	got[0] = '\0';
	off = read_some(d, 0, 4, got, sizeof(got)); /* . .. app app@tag */
	assert_string_equal(got, ". .. app app@tag ");
	fake_api_del_tag(x->f, "web", "team", "app"); /* read already: the rest moves up */
	fake_api_add_tag(x->f, "web", "team", "zzz", "sha256:02", "1764100003"); /* after it */
	x->now += 61000;
	/* An idle descriptor's expired listing is let go: it still knows
	 * where reading stopped. */
	tree_dir_forget(d);
	assert_int_equal(tree_dir_until(d), 0);
	assert_int_equal(tree_dir_read(d, off, take_chunk, &(struct chunk){.out = got, .cap = 1}), -ESTALE);
	assert_int_equal(tree_opendir(x->t, "/web/team", &fresh), 0);
	assert_int_equal(tree_dir_resume(d, off, fresh, &at), 0);
	tree_closedir(d);
	read_some(fresh, at, 100, got, sizeof(got));
	assert_string_equal(got, ". .. app app@tag forged v1 zzz ");
	tree_closedir(fresh);

	/* /web lists api big team team-x (team is an image with a nested
	 * image team/app): resuming after team reads team-x, not team again. */
	assert_int_equal(tree_opendir(x->t, "/web", &d), 0);
	got[0] = '\0';
	off = read_some(d, 0, 5, got, sizeof(got));
	assert_string_equal(got, ". .. api big team ");
	fake_api_add_image(x->f, "web", "team/zz", "1764300001");
	fake_api_add_image(x->f, "web", "alpha", "1764300001");
	x->now += 61000;
	assert_int_equal(tree_opendir(x->t, "/web", &fresh), 0);
	assert_int_equal(tree_dir_resume(d, off, fresh, &at), 0);
	tree_closedir(d);
	read_some(fresh, at, 100, got, sizeof(got));
	assert_string_equal(got, ". .. api big team team-x ");
	tree_closedir(fresh);

	/* A prefix directory (no image of its own): ucloudai has only
	 * vllm/vllm-openai; resuming after vllm does not read vllm again. */
	fake_api_add_image(x->f, "ucloudai", "vllm/other", "1764200000");
	fake_api_add_image(x->f, "ucloudai", "zeta", "1764200000");
	x->now += 61000;
	assert_int_equal(tree_opendir(x->t, "/ucloudai", &d), 0);
	got[0] = '\0';
	off = read_some(d, 0, 3, got, sizeof(got));
	assert_string_equal(got, ". .. vllm ");
	x->now += 61000;
	assert_int_equal(tree_opendir(x->t, "/ucloudai", &fresh), 0);
	assert_int_equal(tree_dir_resume(d, off, fresh, &at), 0);
	tree_closedir(d);
	read_some(fresh, at, 100, got, sizeof(got));
	assert_string_equal(got, ". .. vllm zeta ");
	tree_closedir(fresh);
}

/* ---- times and what the kernel is told ------------------------------------- */

static const char *const HOW[] = {"dir", "deep", "files"};

/* Records each call as "HOW PATH[:NAME,NAME...]; " (at most 3 names). */
static void record(void *arg, const char *path, const char *const *names, size_t n, enum tree_change how)
{
	struct fixture *x = arg;
	size_t len = strlen(x->told);

	len += (size_t)snprintf(x->told + len, sizeof(x->told) - len, "%s %s", HOW[how], path);
	for (size_t i = 0; i < n && i < 3 && len < sizeof(x->told); i++)
		len += (size_t)snprintf(x->told + len, sizeof(x->told) - len, "%s%s", i ? "," : ":", names[i]);
	if (n > 3 && len < sizeof(x->told))
		len += (size_t)snprintf(x->told + len, sizeof(x->told) - len, ",...(%zu)", n);
	if (len < sizeof(x->told))
		snprintf(x->told + len, sizeof(x->told) - len, "; ");
}

static const char *told(struct fixture *x)
{
	static char out[sizeof(x->told)];

	memcpy(out, x->told, sizeof(out));
	x->told[0] = '\0';
	return out;
}

/* The registry re-pushes tag of web/api with digest d and time (the API's
 * text, +08:00). */
static void repush(struct fixture *x, const char *tag, const char *d, const char *time)
{
	fake_api_del_tag(x->f, "web", "api", tag);
	fake_api_add_tag(x->f, "web", "api", tag, d, time);
}

#define D1 "sha256:3f1c000000000000000000000000000000000000000000000000000000000001"
#define D2 "sha256:3f1c000000000000000000000000000000000000000000000000000000000002"
#define D3 "sha256:3f1c000000000000000000000000000000000000000000000000000000000003"
#define T0 "2026-11-27 10:15:00"
#define T0_S 1795745700

static void stat_times(struct fixture *x, const char *path, int64_t mtime, int64_t ctime)
{
	struct stat st;

	assert_int_equal(tree_getattr(x->t, path, &st), 0);
	assert_int_equal(st.st_mtime, mtime);
	assert_int_equal(st.st_ctime, ctime);
	assert_int_equal(st.st_mtim.tv_nsec, 0);
	assert_int_equal(st.st_ctim.tv_nsec, 0);
	assert_int_equal(st.st_atim.tv_nsec, 0);
}

/* mtime is the update time to the second; ctime follows the bytes: it
 * stays while they do, takes the time a same-second change was noticed
 * (always moving), and is the mtime again once the update time moves. */
static void test_times(void **state)
{
	struct fixture *x = *state;
	char buf[256];

	assert_string_equal(ls(x, "/web/api"), "latest v1.4.2");
	stat_times(x, "/web/api/v1.4.2", T0_S, T0_S);
	stat_times(x, "/web/api/latest", 1700000000, 1700000000); /* no time: the mount's */
	x->now += 61000;
	assert_string_equal(ls(x, "/web/api"), "latest v1.4.2");
	stat_times(x, "/web/api/v1.4.2", T0_S, T0_S); /* refilled, unchanged */
	repush(x, "v1.4.2", D2, T0);
	x->now += 61000;
	x->wall = 1800000100;
	stat_times(x, "/web/api/v1.4.2", T0_S, 1800000100);
	assert_true(tree_read(x->t, "/web/api/v1.4.2", buf, sizeof(buf), 0) > 0);
	assert_non_null(strstr(buf, D2));
	x->now += 61000;
	x->wall = 1800000200;
	stat_times(x, "/web/api/v1.4.2", T0_S, 1800000100); /* the same bytes again */
	repush(x, "v1.4.2", D1, T0);
	x->now += 61000; /* noticed within the second of the last change: */
	x->wall = 1800000100;
	stat_times(x, "/web/api/v1.4.2", T0_S, 1800000101); /* still moves */
	repush(x, "v1.4.2", D3, "2026-11-27 10:16:00");
	x->now += 61000;
	stat_times(x, "/web/api/v1.4.2", T0_S + 60, T0_S + 60);
}

/* A refresh drops the listing, but the next one is compared with it. */
static void test_ctime_survives_refresh(void **state)
{
	struct fixture *x = *state;

	assert_string_equal(ls(x, "/web/api"), "latest v1.4.2");
	repush(x, "v1.4.2", D2, T0);
	x->wall = 1800000300;
	assert_int_equal(tree_refresh(x->t, "/web/api"), 0);
	stat_times(x, "/web/api/v1.4.2", T0_S, 1800000300);
	x->wall = 1800000400;
	assert_int_equal(tree_refresh(x->t, "/web/api/v1.4.2"), 0);
	stat_times(x, "/web/api/v1.4.2", T0_S, 1800000300);
	repush(x, "v1.4.2", D1, T0);
	assert_int_equal(tree_refresh(x->t, "/web/api/v1.4.2"), 0); /* alone, then */
	stat_times(x, "/web/api/v1.4.2", T0_S, 1800000400);
	assert_string_equal(ls(x, "/web/api"), "latest v1.4.2"); /* the listing */
	stat_times(x, "/web/api/v1.4.2", T0_S, 1800000400);
	/* A flush forgets everything: what was first seen included. */
	repush(x, "v1.4.2", D2, T0);
	tree_flush(x->t);
	stat_times(x, "/web/api/v1.4.2", T0_S, T0_S);
}

/* Every path that installs a listing tells the kernel of the tags whose
 * bytes it may hold otherwise. */
static void test_changes_told(void **state)
{
	struct fixture *x = *state;

	tree_set_changed(x->t, record, x);
	/* A tag looked up alone, then its image listed with other bytes for
	 * it: nothing to compare the listing with, so every tag is named
	 * (the kernel may hold any of them from a listing evicted since). */
	assert_true(tree_read(x->t, "/web/api/v1.4.2", (char[256]){0}, 256, 0) > 0);
	assert_string_equal(told(x), "files /web/api:v1.4.2; ");
	repush(x, "v1.4.2", D2, T0);
	assert_string_equal(ls(x, "/web/api"), "latest v1.4.2");
	assert_string_equal(told(x), "files /web/api:latest,v1.4.2; ");
	stat_times(x, "/web/api/v1.4.2", T0_S, 1800000000);
	/* The listing refilled after the ttl, the same: nothing. */
	x->now += 61000;
	assert_string_equal(ls(x, "/web/api"), "latest v1.4.2");
	assert_string_equal(told(x), "");
	/* Refilled with a change: the changed file by name (a stat waits for
	 * that notice), and the cache's hook names the directory. */
	repush(x, "v1.4.2", D3, T0);
	x->now += 61000;
	assert_string_equal(ls(x, "/web/api"), "latest v1.4.2");
	assert_string_equal(told(x), "files /web/api:v1.4.2; dir /web/api; ");
	/* The listing expired, the tag asked for alone with other bytes. */
	repush(x, "v1.4.2", D1, T0);
	x->now += 61000;
	x->wall = 1800000500;
	stat_times(x, "/web/api/v1.4.2", T0_S, 1800000500);
	assert_string_equal(told(x), "files /web/api:v1.4.2; ");
	/* And back: the listing refilled as it was (nothing replaced) is
	 * compared with that answer, newer than it. */
	repush(x, "v1.4.2", D3, T0);
	x->wall = 1800000600;
	assert_string_equal(ls(x, "/web/api"), "latest v1.4.2");
	assert_string_equal(told(x), "files /web/api:v1.4.2; ");
	stat_times(x, "/web/api/v1.4.2", T0_S, 1800000600);
	/* A repository's image list: deep. */
	fake_api_add_image(x->f, "web", "new", "1764000000");
	x->now += 61000;
	assert_string_equal(ls(x, "/web"), "api big new team team-x");
	assert_string_equal(told(x), "deep /web; ");
	tree_set_changed(x->t, NULL, NULL);
}

/* The top directory's time: the newest of its entries once they are
 * listed (the same across remounts), the mount time before, not kept. */
static void test_root_time(void **state)
{
	struct fixture *x = *state;
	struct tree_config tc = {.fresh = x->fresh, .repo = "web", .mount_time = 1};
	struct tree *t;
	struct stat st;
	int64_t until;

	assert_int_equal(tree_stat(x->t, "/", &st, &until), 0);
	assert_int_equal(st.st_mtime, 1700000000);
	assert_int_equal(until, 0);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0); /* never fetched for it */
	assert_string_equal(ls(x, "/"), "ucloudai web");
	assert_int_equal(tree_stat(x->t, "/", &st, &until), 0);
	assert_int_equal(st.st_mtime, 1795745700); /* web's */
	assert_int_equal(until, x->now + 60000);
	/* One repository as the root: the newest of its images. */
	t = tree_new(&tc, x->u, x->c, NULL);
	assert_string_equal(ls(x, "/web"), "api big team team-x");
	assert_int_equal(tree_getattr(t, "/", &st), 0);
	assert_int_equal(st.st_mtime, 1795745700); /* api's */
	tree_free(t);
}

/* What notify's thread stores ahead of a reader: the tag files after a
 * name, as a read lists them (aliases included), each with the bytes a
 * read gives, at most max; from cached listings only, fetching none. */
struct files_seen {
	char names[512];
	size_t n;
	struct fixture *x;
	bool same;
};

static int files_one(void *arg, const char *name, const char *bytes, size_t len)
{
	struct files_seen *f = arg;
	char path[256], buf[512];
	ssize_t got;

	snprintf(f->names + strlen(f->names), sizeof(f->names) - strlen(f->names), "%s ", name);
	f->n++;
	snprintf(path, sizeof(path), "/web/team/%s", name);
	got = tree_read(f->x->t, path, buf, sizeof(buf), 0);
	f->same = f->same && got == (ssize_t)len && memcmp(buf, bytes, len) == 0;
	return 0;
}

static void files_after(struct fixture *x, const char *path, const char *after, size_t max, struct files_seen *f)
{
	struct tree_dir *d;

	memset(f, 0, sizeof(*f));
	f->x = x;
	f->same = true;
	assert_int_equal(tree_opendir_cached(x->t, path, &d), 0);
	assert_int_equal(tree_dir_files(d, after, max, files_one, f), 0);
	tree_closedir(d);
}

static void test_dir_files(void **state)
{
	struct fixture *x = *state;
	struct tree_dir *d;
	struct files_seen f;

	/* Nothing cached: nothing fetched, nothing listed. */
	assert_int_equal(tree_opendir_cached(x->t, "/web/team", &d), -ENOENT);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	assert_string_equal(ls(x, "/web/team"), "app app@tag forged v1");
	fake_api_reset_calls(x->f);
	files_after(x, "/web/team", "", 10, &f);
	assert_string_equal(f.names, "app@tag forged v1 ");
	assert_true(f.same);
	files_after(x, "/web/team", "app@tag", 10, &f);
	assert_string_equal(f.names, "forged v1 ");
	files_after(x, "/web/team", "forged", 10, &f);
	assert_string_equal(f.names, "v1 ");
	files_after(x, "/web/team", "", 2, &f);
	assert_string_equal(f.names, "app@tag forged ");
	files_after(x, "/web/team", "v1", 10, &f);
	assert_int_equal(f.n, 0);
	/* A directory without tags has no files. */
	files_after(x, "/web", "", 10, &f);
	assert_int_equal(f.n, 0);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	/* Expired: the cached-only open fetches nothing, the parents' listings
	 * included. */
	x->now += 61000;
	assert_int_equal(tree_opendir_cached(x->t, "/web/team", &d), -ENOENT);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_shape, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_attributes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_contents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cold_single_tag, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listing_then_free, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_implausible_names_free, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_made_up_names_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unsure_listing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unsure_image_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refresh_image_drops_lone_tags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_repo_root, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors_pass_through, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chunked_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resume_after_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cold_single_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listing_then_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_implausible_names_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_image_drops_lone_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_pass_through, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctime_survives_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_told, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_time, setup, teardown),
	};
	return cmocka_run_group_tests_name("tree", tests, NULL, NULL);
}
