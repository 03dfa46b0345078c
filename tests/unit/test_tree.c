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

#include "buf.h"
#include "cache.h"
#include "fake_api.h"
#include "tree.h"

struct fixture {
	struct fake_api *f;
	struct uhub *u;
	struct cache *c;
	struct tree *t;
	int64_t now;	/* the cache's clock, ms */
};

static int64_t fake_clock(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	struct tree_config tc = {.ttl_ms = 60000, .neg_ttl_ms = 5000, .api_tz = 8 * 3600, .uid = 1000, .gid = 1000,
				 .umask = 022, .mount_time = 1700000000};

	x->now = 1000000;
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
	x->t = tree_new(&tc, x->u, x->c, NULL);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	tree_free(x->t);
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
	assert_int_equal(st.st_size, strlen("digest: sha256:3f1c000000000000000000000000000000000000000000000000000000000001\n"
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
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), 50);
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
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), 50);
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
	struct tree_config tc = {.ttl_ms = 60000, .neg_ttl_ms = 5000, .repo = "ucloudai", .mount_time = 1};
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

int main(void)
{
	const struct CMUnitTest tests[] = {
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
	};
	return cmocka_run_group_tests_name("tree", tests, NULL, NULL);
}
