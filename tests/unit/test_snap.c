/* test_snap.c — snapshots: order, de-duplication, lookup, prefix scans,
 * the packed size, and reference counting across threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap.h"

static void add(struct snap_builder *b, const char *name, const char *digest, const char *raw, int64_t mtime)
{
	struct snap_entry e = {.name = name, .digest = digest, .time_raw = raw, .mtime = mtime};

	assert_int_equal(snap_builder_add(b, &e), 0);
}

static struct snap *build(const char *const *names, size_t n)
{
	struct snap_builder *b = snap_builder_new();

	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		add(b, names[i], NULL, NULL, (int64_t)i);
	return snap_builder_finish(b);
}

static const char *name_at(const struct snap *s, size_t i)
{
	struct snap_entry e;

	snap_get(s, i, &e);
	return e.name;
}

static void test_sorted_byte_order(void **state)
{
	static const char *const in[] = {"b", "a/b", "B", "a", "a-b", "\xc3\xa9", "a.b", "_x", "a0"};
	static const char *const want[] = {"B", "_x", "a", "a-b", "a.b", "a/b", "a0", "b", "\xc3\xa9"};
	struct snap *s = build(in, 9);

	(void)state;
	assert_non_null(s);
	assert_int_equal(snap_count(s), 9);
	for (size_t i = 0; i < 9; i++)
		assert_string_equal(name_at(s, i), want[i]);
	snap_unref(s);
}

static void test_dedup_last_wins(void **state)
{
	struct snap_builder *b = snap_builder_new();
	struct snap_entry e;
	struct snap *s;

	(void)state;
	add(b, "v1", "sha256:first", NULL, 1);
	add(b, "v2", "sha256:only", NULL, 2);
	add(b, "v1", "sha256:second", NULL, 3);
	add(b, "v0", NULL, NULL, 4);
	add(b, "v1", NULL, "raw-third", SNAP_NO_TIME);
	s = snap_builder_finish(b);
	assert_non_null(s);
	assert_int_equal(snap_count(s), 3);
	snap_get(s, 1, &e);
	assert_string_equal(e.name, "v1");
	assert_null(e.digest);
	assert_string_equal(e.time_raw, "raw-third");
	assert_true(e.mtime == SNAP_NO_TIME);
	snap_get(s, 2, &e);
	assert_string_equal(e.name, "v2");
	assert_string_equal(e.digest, "sha256:only");
	assert_null(e.time_raw);
	assert_int_equal(e.mtime, 2);
	snap_unref(s);
}

static void test_strings_copied(void **state)
{
	struct snap_builder *b = snap_builder_new();
	char name[16], digest[32], raw[16];
	struct snap_entry e = {.name = name, .digest = digest, .time_raw = raw, .mtime = -5};
	struct snap *s;

	(void)state;
	snprintf(name, sizeof(name), "latest");
	snprintf(digest, sizeof(digest), "sha256:abc");
	snprintf(raw, sizeof(raw), "yesterday");
	assert_int_equal(snap_builder_add(b, &e), 0);
	memset(name, 'x', sizeof(name) - 1);
	memset(digest, 'x', sizeof(digest) - 1);
	memset(raw, 'x', sizeof(raw) - 1);
	s = snap_builder_finish(b);
	snap_get(s, 0, &e);
	assert_string_equal(e.name, "latest");
	assert_string_equal(e.digest, "sha256:abc");
	assert_string_equal(e.time_raw, "yesterday");
	assert_int_equal(e.mtime, -5);
	snap_unref(s);
}

static void test_find(void **state)
{
	static const char *const in[] = {"latest", "v1.4.2", "v1.4", "stable", ""};
	struct snap *s = build(in, 5);

	(void)state;
	assert_int_equal(snap_find(s, "v1.4.2"), 4);
	assert_int_equal(snap_find(s, "latest"), 1);
	assert_int_equal(snap_find(s, ""), 0);
	assert_int_equal(snap_find(s, "v1"), -1);
	assert_int_equal(snap_find(s, "v1.4.20"), -1);
	assert_int_equal(snap_find(s, "zzz"), -1);
	assert_int_equal(snap_find(s, "LATEST"), -1);
	snap_unref(s);
}

static void test_lower_bound_prefix(void **state)
{
	static const char *const in[] = {"team",      "team-x", "team/app", "team/app/db",
					 "team/zeta", "team0",	"teams",    "api"};
	struct snap *s = build(in, 8);
	size_t lo, hi;

	(void)state;
	/* The children of "team" are the run ["team/", "team0") — '0' follows '/'. */
	lo = snap_lower_bound(s, "team/");
	hi = snap_lower_bound(s, "team0");
	assert_int_equal(hi - lo, 3);
	assert_string_equal(name_at(s, lo), "team/app");
	assert_string_equal(name_at(s, hi - 1), "team/zeta");
	/* Nested: the children of "team/app". */
	assert_int_equal(snap_lower_bound(s, "team/app0") - snap_lower_bound(s, "team/app/"), 1);
	assert_int_equal(snap_lower_bound(s, ""), 0);
	assert_int_equal(snap_lower_bound(s, "a"), 0);
	assert_int_equal(snap_lower_bound(s, "api"), 0);
	assert_int_equal(snap_lower_bound(s, "apj"), 1);
	assert_int_equal(snap_lower_bound(s, "zzz"), snap_count(s));
	/* No children: an empty run. */
	assert_int_equal(snap_lower_bound(s, "api/"), snap_lower_bound(s, "api0"));
	snap_unref(s);
}

static void test_empty(void **state)
{
	struct snap *s = snap_builder_finish(snap_builder_new());

	(void)state;
	assert_non_null(s);
	assert_int_equal(snap_count(s), 0);
	assert_int_equal(snap_find(s, "x"), -1);
	assert_int_equal(snap_find(s, ""), -1);
	assert_int_equal(snap_lower_bound(s, "x"), 0);
	assert_true(snap_bytes(s) > 0);
	snap_unref(s);
	snap_unref(NULL);
	snap_builder_free(NULL);
	assert_null(snap_builder_finish(NULL));
	snap_builder_free(snap_builder_new()); /* freed without finishing */
}

static void test_100k(void **state)
{
	struct snap_builder *b = snap_builder_new();
	char name[32];
	struct snap_entry e;
	struct snap *s;

	(void)state;
	/* Added in a scrambled order, with every tenth name added twice. */
	for (unsigned i = 0; i < 100000; i++) {
		unsigned k = (i * 7919u) % 100000u;

		snprintf(name, sizeof(name), "t%06u", k);
		add(b, name, "sha256:x", NULL, (int64_t)k);
		if (k % 10 == 0)
			add(b, name, "sha256:y", NULL, (int64_t)k + 1);
	}
	s = snap_builder_finish(b);
	assert_non_null(s);
	assert_int_equal(snap_count(s), 100000);
	for (unsigned k = 0; k < 100000; k += 997) {
		snprintf(name, sizeof(name), "t%06u", k);
		assert_int_equal(snap_find(s, name), k);
		snap_get(s, k, &e);
		assert_string_equal(e.digest, k % 10 ? "sha256:x" : "sha256:y");
		assert_int_equal(e.mtime, k % 10 ? k : k + 1);
	}
	for (size_t i = 1; i < snap_count(s); i++)
		assert_true(strcmp(name_at(s, i - 1), name_at(s, i)) < 0);
	assert_int_equal(snap_find(s, "t100000"), -1);
	snap_unref(s);
}

/* A typical tag: "build-01234", a sha256 digest, a parsed time. */
static void test_bytes_per_entry(void **state)
{
	const char *digest = "sha256:3f1c4e2a9b0d7c6e5f8a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcde";
	struct snap_builder *b = snap_builder_new();
	char name[32];
	struct snap *s;
	size_t per;

	(void)state;
	assert_int_equal(strlen(digest), 71);
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "build-%05d", i);
		add(b, name, digest, NULL, 1764209700 + i);
	}
	s = snap_builder_finish(b);
	per = snap_bytes(s) / snap_count(s);
	print_message("snap: %zu bytes for 10000 typical tags, %zu per tag\n", snap_bytes(s), per);
	/* The name is 12 bytes, the digest its 32 binary bytes, the record
	 * 24: 68 a tag (it was 108 with the digest as text). */
	assert_true(snap_bytes(s) >= 10000 * (12 + 32 + 24));
	assert_true(per <= 70);
	struct snap_entry e;

	snap_get(s, 1234, &e);
	assert_string_equal(e.digest, digest); /* formatted back on read */
	snap_unref(s);
}

/* Only the canonical sha256 form goes binary; anything else reads back
 * exactly as the API gave it. */
static void test_digest_forms(void **state)
{
	static const char *const kept[] = {
	    "sha256:3F1C4E2A9B0D7C6E5F8A1B2C3D4E5F60718293A4B5C6D7E8F9012345678ABCDE",	/* upper case */
	    "sha256:3f1c",								/* short */
	    "sha512:3f1c4e2a9b0d7c6e5f8a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcde",	/* another algorithm */
	    "sha256:3f1c4e2a9b0d7c6e5f8a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcdez", /* 65 digits */
	    "sha256:3f1c4e2a9b0d7c6e5f8a1b2c3d4e5f60718293a4b5c6d7e8f9012345678abcdg",	/* not hex */
	    "",
	};
	struct snap_builder *b = snap_builder_new();
	struct snap_entry e;
	char name[8];
	struct snap *s;

	(void)state;
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		add(b, name, kept[i], NULL, 1);
	}
	add(b, "z", "sha256:0000000000000000000000000000000000000000000000000000000000000000", NULL, 1);
	s = snap_builder_finish(b);
	for (int i = 0; i < 6; i++) {
		snap_get(s, (size_t)i, &e);
		assert_string_equal(e.digest, kept[i]);
	}
	snap_get(s, 6, &e);
	assert_string_equal(e.digest, "sha256:0000000000000000000000000000000000000000000000000000000000000000");
	snap_unref(s);
}

/* The two forms of the digest kept in binary, for codecs (sval.c). */
static void test_sha256_parse_format(void **state)
{
	static const char canon[] = "sha256:00ff10e0aa55c3a9000102030405060708090a0b0c0d0e0f10111213141516ff";
	unsigned char bin[SNAP_SHA256_BYTES];
	char text[SNAP_SHA256_TEXT];

	(void)state;
	assert_true(snap_sha256_parse(canon, bin));
	assert_int_equal(bin[0], 0x00);
	assert_int_equal(bin[1], 0xff);
	assert_int_equal(bin[31], 0xff);
	snap_sha256_format(bin, text);
	assert_string_equal(text, canon);
	assert_false(snap_sha256_parse("sha256:00FF10E0AA55C3A9000102030405060708090A0B0C0D0E0F10111213141516FF", bin));
	assert_false(snap_sha256_parse("sha256:00ff", bin));
	assert_false(
	    snap_sha256_parse("sha256:00ff10e0aa55c3a9000102030405060708090a0b0c0d0e0f10111213141516ff0", bin));
	assert_false(snap_sha256_parse("sha512:00ff10e0aa55c3a9000102030405060708090a0b0c0d0e0f10111213141516ff", bin));
	assert_false(snap_sha256_parse("", bin));
}

static void *ref_worker(void *arg)
{
	struct snap *s = arg;
	struct snap_entry e;

	for (int i = 0; i < 100000; i++) {
		struct snap *r = snap_ref(s);

		snap_get(r, 0, &e);
		snap_unref(r);
	}
	snap_unref(s); /* each worker was given one reference */
	return NULL;
}

static void test_refcount(void **state)
{
	static const char *const in[] = {"a"};
	struct snap *s = build(in, 1);
	pthread_t th[8];

	(void)state;
	assert_ptr_equal(snap_ref(s), s);
	snap_unref(s); /* back to one */
	assert_null(snap_ref(NULL));
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&th[i], NULL, ref_worker, snap_ref(s)), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	/* Still alive on our reference (ASan/valgrind would flag a use after free). */
	assert_string_equal(name_at(s, 0), "a");
	snap_unref(s);
}

/* ctimes: recorded for a few entries, the rest keep their mtime; counted
 * in the snapshot's bytes. The mark. */
static void test_ctimes(void **state)
{
	static const char *const names[] = {"a", "b", "c", "d"};
	struct snap *s = build(names, 4);
	const struct snap_ctime v[] = {{.i = 3, .ctime = 300}, {.i = 1, .ctime = 100}};
	struct snap_entry e;
	size_t bytes = snap_bytes(s);

	(void)state;
	snap_get(s, 2, &e);
	assert_int_equal(e.ctime, e.mtime);
	assert_int_equal(snap_set_ctimes(s, v, 2), 0);
	assert_int_equal(snap_bytes(s), bytes + 2 * sizeof(v[0]));
	for (size_t i = 0; i < 4; i++) {
		snap_get(s, i, &e);
		assert_int_equal(e.mtime, (int64_t)i);
		assert_int_equal(e.ctime, i == 1 ? 100 : i == 3 ? 300 : (int64_t)i);
	}
	assert_int_equal(snap_set_ctimes(s, NULL, 0), 0);
	assert_int_equal(snap_bytes(s), bytes);
	snap_get(s, 3, &e);
	assert_int_equal(e.ctime, 3);
	assert_false(snap_marked(s));
	snap_mark(s);
	assert_true(snap_marked(s));
	snap_unref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sorted_byte_order),
	    cmocka_unit_test(test_dedup_last_wins),
	    cmocka_unit_test(test_strings_copied),
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_lower_bound_prefix),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_100k),
	    cmocka_unit_test(test_bytes_per_entry),
	    cmocka_unit_test(test_digest_forms),
	    cmocka_unit_test(test_sha256_parse_format),
	    cmocka_unit_test(test_refcount),
	    cmocka_unit_test(test_ctimes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
