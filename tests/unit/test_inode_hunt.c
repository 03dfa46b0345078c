/* test_inode_hunt.c — a bare inode number (a file handle the kernel kept
 * while it forgot the inode) back to its path among the cached listings,
 * and into the inode table again with one lookup: found for a path whose
 * listings are cached, -ESTALE for a number never given, for a listing
 * not cached and for a name past the search's bound; the names looked at
 * counted and capped; directories searched before tags; never a call to
 * the API (counted at the fake API). The tree runs on the fake API and an
 * injected clock, as in test_tree.c. The branch for a number another
 * path took by collision needs a 64-bit hash collision and is not
 * reached here (test_inode.c covers the table's salts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cache.h"
#include "fake_api.h"
#include "fresh.h"
#include "inode.h"
#include "inode_hunt.h"
#include "tree.h"
#include "tree_walk.h"

#define BOUND 16384 /* the names one hunt looks at, as inode_hunt.h says */
#define BIG 17000   /* tags in /web/big: more than the bound */

struct fixture {
	struct fake_api *f;
	struct uhub *u;
	struct cache *c;
	struct fresh *fresh;
	struct tree *t;
	struct inode_table *it;
	int64_t now;  /* the cache's clock, ms */
	size_t names; /* names in the listings listed (not "." or "..") */
};

static int64_t fake_clock(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static int count_names(void *arg, const char *name, const struct stat *st)
{
	(void)name;
	if (st)
		(*(size_t *)arg)++;
	return 0;
}

/* Lists path, so that its listing is cached. */
static void list(struct fixture *x, const char *path)
{
	size_t n = 0;

	assert_int_equal(tree_readdir(x->t, path, count_names, &n), 0);
	x->names += n;
}

/* /web/api/{v1,v2}, /web/team/app/v1 (team an image name prefix),
 * /ucloudai/vllm/v0.5.3, and with big /web/big with BIG tags and a
 * nested image /web/big/sub/deep. Everything under /web listed; nothing
 * under /ucloudai. */
static int setup_with(void **state, bool big)
{
	struct fixture *x = calloc(1, sizeof(*x));
	struct tree_config tc = {.api_tz = 8 * 3600, .uid = 1000, .gid = 1000, .umask = 022, .mount_time = 1700000000};

	x->now = 1000000;
	x->f = fake_api_new();
	fake_api_add_repo(x->f, "web", "1764000000");
	fake_api_add_repo(x->f, "ucloudai", "1764000000");
	fake_api_add_image(x->f, "web", "api", "1764000000");
	fake_api_add_image(x->f, "web", "team/app", "1764000000");
	fake_api_add_image(x->f, "ucloudai", "vllm", "1764000000");
	fake_api_add_tag(x->f, "web", "api", "v1", "sha256:aa", "1764000000");
	fake_api_add_tag(x->f, "web", "api", "v2", "sha256:bb", "1764000001");
	fake_api_add_tag(x->f, "web", "team/app", "v1", "sha256:cc", "1764000002");
	fake_api_add_tag(x->f, "ucloudai", "vllm", "v0.5.3", "sha256:dd", "1764000003");
	if (big) {
		fake_api_add_image(x->f, "web", "big", "1764000000");
		fake_api_add_tags(x->f, "web", "big", "t", BIG);
		fake_api_add_image(x->f, "web", "big/sub", "1764000000");
		fake_api_add_tag(x->f, "web", "big/sub", "deep", "sha256:ee", "1764000004");
	}
	x->u = fake_api_client(x->f, 1000, 4);
	x->c = cache_new(64 << 20, fake_clock, x);
	x->fresh =
	    fresh_new(&(struct fresh_config){.ttl_ms = 60000, .neg_ttl_ms = 5000, .clock = fake_clock, .clock_arg = x});
	tc.fresh = x->fresh;
	x->t = tree_new(&tc, x->u, x->c, NULL);
	x->it = inode_table_new();
	assert_non_null(x->it);
	list(x, "/");
	list(x, "/web");
	list(x, "/web/api");
	list(x, "/web/team");
	list(x, "/web/team/app");
	if (big) {
		list(x, "/web/big");
		list(x, "/web/big/sub");
	}
	fake_api_reset_calls(x->f);
	*state = x;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, false);
}

static int setup_big(void **state)
{
	return setup_with(state, true);
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	/* nothing a hunt does reaches the API */
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	inode_table_free(x->it);
	tree_free(x->t);
	fresh_free(x->fresh);
	cache_free(x->c);
	uhub_free(x->u);
	fake_api_free(x->f);
	free(x);
	return 0;
}

/* The number path has with no collision salt: the hash of each component
 * in its parent, as the inode table gives it. */
static uint64_t ino_of(const char *path, bool dir)
{
	char copy[PATH_MAX], *save = NULL;
	uint64_t ino = INODE_ROOT;
	char *c;

	snprintf(copy, sizeof(copy), "%s", path);
	c = strtok_r(copy, "/", &save);
	while (c) {
		char *next = strtok_r(NULL, "/", &save);

		ino = inode_hash(ino, c, next ? true : dir);
		c = next;
	}
	return ino;
}

/* Hunts path's number: 0, *got that number, in the table as path. */
static size_t hunt_found(struct fixture *x, const char *path, bool dir)
{
	uint64_t want = ino_of(path, dir), got = 0;
	bool isdir = !dir;
	size_t seen = 0;
	char back[PATH_MAX];
	bool back_dir = !dir;

	assert_int_equal(inode_hunt(x->it, x->t, want, &got, &isdir, &seen), 0);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	assert_true(got == want);
	assert_int_equal(isdir, dir);
	assert_true(seen > 0);
	assert_true(seen <= BOUND);
	assert_int_equal(inode_path(x->it, got, back, sizeof(back), &back_dir), 0);
	assert_string_equal(back, path);
	assert_int_equal(back_dir, dir);
	return seen;
}

/* Hunts a number that is not to be found: -ESTALE, nothing in the table. */
static size_t hunt_stale(struct fixture *x, uint64_t want)
{
	uint64_t got = 0;
	bool dir = false;
	size_t seen = 0, before = inode_count(x->it);

	assert_int_equal(inode_hunt(x->it, x->t, want, &got, &dir, &seen), -ESTALE);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	assert_int_equal(inode_count(x->it), before);
	assert_int_equal(inode_path(x->it, want, (char[PATH_MAX]){0}, PATH_MAX, NULL), -ESTALE);
	return seen;
}

static void test_tag_found(void **state)
{
	struct fixture *x = *state;
	uint64_t ino = ino_of("/web/api/v2", false);
	bool was_dir = true;

	assert_int_equal(inode_count(x->it), 0);
	hunt_found(x, "/web/api/v2", false);
	/* the tag with one lookup, its directories holding none of their own */
	assert_int_equal(inode_count(x->it), 3);
	assert_true(inode_forget(x->it, ino, 1, &was_dir));
	assert_false(was_dir);
	assert_int_equal(inode_count(x->it), 0);
}

static void test_each_hunt_takes_one_lookup(void **state)
{
	struct fixture *x = *state;
	uint64_t ino = ino_of("/web/team/app/v1", false);

	hunt_found(x, "/web/team/app/v1", false);
	hunt_found(x, "/web/team/app/v1", false);
	assert_false(inode_forget(x->it, ino, 1, NULL));
	assert_true(inode_forget(x->it, ino, 1, NULL));
	assert_int_equal(inode_count(x->it), 0);
}

static void test_directories_found(void **state)
{
	struct fixture *x = *state;

	hunt_found(x, "/web", true);
	hunt_found(x, "/web/team", true);
	hunt_found(x, "/web/team/app", true);
	hunt_found(x, "/ucloudai", true); /* in the root's listing, cached */
	assert_true(inode_forget(x->it, ino_of("/web/team/app", true), 1, NULL));
	assert_true(inode_forget(x->it, ino_of("/web/team", true), 1, NULL));
	assert_true(inode_forget(x->it, ino_of("/web", true), 1, NULL));
	assert_true(inode_forget(x->it, ino_of("/ucloudai", true), 1, NULL));
	assert_int_equal(inode_count(x->it), 0);
}

/* A tag and a directory of one name are different numbers: the kind is
 * part of the hash, and a tag's number does not find the directory. */
static void test_kind_matters(void **state)
{
	struct fixture *x = *state;

	hunt_stale(x, ino_of("/web/api", false));
	hunt_stale(x, ino_of("/web/api/v1", true));
}

static void test_never_given(void **state)
{
	struct fixture *x = *state;
	static const uint64_t nums[] = {2, 12345, UINT64_MAX, 0x5eed5eed5eed5eedull};

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		/* every cached name looked at, and no further */
		assert_int_equal(hunt_stale(x, nums[i]), x->names);
	/* and names that do not exist at all */
	hunt_stale(x, ino_of("/web/api/v3", false));
	hunt_stale(x, ino_of("/nowhere", true));
}

/* /ucloudai's listing was never fetched: its tag is not found, and the
 * hunt does not fetch it. */
static void test_not_cached(void **state)
{
	struct fixture *x = *state;

	hunt_stale(x, ino_of("/ucloudai/vllm", true));
	hunt_stale(x, ino_of("/ucloudai/vllm/v0.5.3", false));
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	/* once listed, the same number is found */
	list(x, "/ucloudai");
	list(x, "/ucloudai/vllm");
	fake_api_reset_calls(x->f);
	hunt_found(x, "/ucloudai/vllm/v0.5.3", false);
}

/* Only fresh listings are searched (tree_opendir_cached peeks at the
 * cache within the TTL): once /web/api's listing expired, its tags are
 * stale handles, and the hunt does not fetch it again; listed anew, they
 * are found. */
static void test_expired_listing(void **state)
{
	struct fixture *x = *state;

	x->now += 3600 * 1000;
	hunt_stale(x, ino_of("/web/api/v1", false));
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	list(x, "/");
	list(x, "/web");
	list(x, "/web/api");
	fake_api_reset_calls(x->f);
	hunt_found(x, "/web/api/v1", false);
}

/* /web/big holds more names than a hunt looks at: a tag early in it is
 * found, one past the bound is stale, with the bound counted in *seen;
 * the nested image under it is found (directories before tags). */
static void test_bound(void **state)
{
	struct fixture *x = *state;
	char path[64];

	assert_true(x->names > BOUND);
	hunt_found(x, "/web/big/t00010", false);
	hunt_found(x, "/web/big/sub/deep", false);
	snprintf(path, sizeof(path), "/web/big/t%05d", BIG - 1);
	assert_int_equal(hunt_stale(x, ino_of(path, false)), BOUND);
	assert_int_equal(hunt_stale(x, 12345), BOUND);
}

/* What lies past /web/big in the walk is out of reach, however few names
 * it has itself. */
static void test_past_the_bound(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(hunt_stale(x, ino_of("/web/team/app/v1", false)), BOUND);
	/* before it in the walk: found */
	hunt_found(x, "/web/api/v2", false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tag_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_each_hunt_takes_one_lookup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_directories_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kind_matters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_never_given, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_cached, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expired_listing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bound, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_past_the_bound, setup_big, teardown),
	};
	return cmocka_run_group_tests_name("inode_hunt", tests, NULL, NULL);
}
