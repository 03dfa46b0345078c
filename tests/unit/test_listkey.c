/* test_listkey.c — cache keys of listings: each kind formats and parses
 * back to the call that fills it, names cannot make two keys collide,
 * one tag's key with an empty tag is the prefix of exactly its image's
 * tags, and malformed keys are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "listkey.h"

static struct listkey_buf *buf_new(void)
{
	struct listkey_buf *b = malloc(sizeof(*b));

	assert_non_null(b);
	return b;
}

/* k formatted and parsed back gives k again. */
static void round_trip(const struct listkey *k)
{
	struct listkey_buf *b = buf_new();
	char key[LISTKEY_MAX];
	struct listkey got;

	listkey_format(key, k);
	assert_int_equal(listkey_parse(key, &got, b), 0);
	assert_int_equal(got.kind, k->kind);
	if (k->repo)
		assert_string_equal(got.repo, k->repo);
	else
		assert_null(got.repo);
	if (k->image)
		assert_string_equal(got.image, k->image);
	else
		assert_null(got.image);
	if (k->tag)
		assert_string_equal(got.tag, k->tag);
	else
		assert_null(got.tag);
	free(b);
}

static void test_round_trip(void **state)
{
	(void)state;
	round_trip(&(struct listkey){.kind = UHUB_REPOS});
	round_trip(&(struct listkey){.kind = UHUB_IMAGES, .repo = "web"});
	round_trip(&(struct listkey){.kind = UHUB_TAGS, .repo = "web", .image = "team/app"});
	round_trip(&(struct listkey){.kind = UHUB_TAGS, .repo = "web", .image = "team/app", .tag = "v1.0"});
	/* Digits and colons in names are data, not lengths. */
	round_trip(&(struct listkey){.kind = UHUB_TAGS, .repo = "12:3", .image = "4:5/6", .tag = "7:8"});
}

static void test_repos_key(void **state)
{
	char key[LISTKEY_MAX];

	(void)state;
	listkey_format(key, &(struct listkey){.kind = UHUB_REPOS});
	assert_string_equal(key, LISTKEY_REPOS);
}

static void test_lists_images(void **state)
{
	char key[LISTKEY_MAX];

	(void)state;
	listkey_format(key, &(struct listkey){.kind = UHUB_IMAGES, .repo = "web"});
	assert_true(listkey_lists_images(key));
	listkey_format(key, &(struct listkey){.kind = UHUB_TAGS, .repo = "web", .image = "api"});
	assert_false(listkey_lists_images(key));
	listkey_format(key, &(struct listkey){.kind = UHUB_TAGS, .repo = "web", .image = "api", .tag = "v1"});
	assert_false(listkey_lists_images(key));
	assert_false(listkey_lists_images(LISTKEY_REPOS));
}

/* Repository and image split differently give different keys. */
static void test_no_collision(void **state)
{
	char a[LISTKEY_MAX], b[LISTKEY_MAX];

	(void)state;
	listkey_format(a, &(struct listkey){.kind = UHUB_TAGS, .repo = "ab", .image = "c"});
	listkey_format(b, &(struct listkey){.kind = UHUB_TAGS, .repo = "a", .image = "bc"});
	assert_string_not_equal(a, b);
	listkey_format(a, &(struct listkey){.kind = UHUB_TAGS, .repo = "r", .image = "ab", .tag = "c"});
	listkey_format(b, &(struct listkey){.kind = UHUB_TAGS, .repo = "r", .image = "a", .tag = "bc"});
	assert_string_not_equal(a, b);
}

/* The tree drops an image's tags' own answers by the key of the tag ""
 * as a prefix: it must take that image's and no other's. */
static void test_tag_prefix(void **state)
{
	char prefix[LISTKEY_MAX], mine[LISTKEY_MAX], other[LISTKEY_MAX];

	(void)state;
	listkey_format(prefix, &(struct listkey){.kind = UHUB_TAGS, .repo = "web", .image = "a", .tag = ""});
	listkey_format(mine, &(struct listkey){.kind = UHUB_TAGS, .repo = "web", .image = "a", .tag = "v1"});
	listkey_format(other, &(struct listkey){.kind = UHUB_TAGS, .repo = "web", .image = "ab", .tag = "v1"});
	assert_int_equal(strncmp(mine, prefix, strlen(prefix)), 0);
	assert_int_not_equal(strncmp(other, prefix, strlen(prefix)), 0);
}

static void test_bad_keys(void **state)
{
	static const char *const bad[] = {"",	     "X",      "RR",	 "I",	   "I3:we",
					  "I3:webx", "Ix:web", "T9:web", "t3:web", "t3:web9:a"};
	struct listkey_buf *b = buf_new();
	struct listkey k;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(listkey_parse(bad[i], &k, b), -EINVAL);
	free(b);
}

static void test_describe(void **state)
{
	char key[LISTKEY_MAX], out[256];

	(void)state;
	listkey_format(key, &(struct listkey){.kind = UHUB_TAGS, .repo = "web", .image = "team/app", .tag = "v1"});
	listkey_describe(key, out, sizeof(out));
	assert_string_equal(out, "/web/team/app/v1");
	listkey_describe(LISTKEY_REPOS, out, sizeof(out));
	assert_string_equal(out, "/");
	listkey_describe("junk", out, sizeof(out));
	assert_string_equal(out, "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),	 cmocka_unit_test(test_repos_key),  cmocka_unit_test(test_lists_images),
	    cmocka_unit_test(test_no_collision), cmocka_unit_test(test_tag_prefix), cmocka_unit_test(test_bad_keys),
	    cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
