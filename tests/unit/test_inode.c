/* test_inode.c — the inode table: numbers as a function of the path,
 * exact lookup counts, paths back from numbers, deletion under churn,
 * collisions, long names, and listing what the kernel holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inode.h"

static uint64_t ref(struct inode_table *t, uint64_t parent, const char *name, bool dir)
{
	uint64_t ino = 0;

	assert_int_equal(inode_ref(t, parent, name, dir, &ino), 0);
	assert_true(ino > INODE_ROOT);
	return ino;
}

static void assert_path(struct inode_table *t, uint64_t ino, const char *want)
{
	char buf[PATH_MAX];

	assert_int_equal(inode_path(t, ino, buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, want);
}

/* The same path gets the same number in another table (a remount), and
 * after being forgotten and looked up again. */
static void test_number_is_function_of_path(void **state)
{
	struct inode_table *a = inode_table_new(), *b = inode_table_new();
	uint64_t r1, i1, t1, r2, i2, t2;

	(void)state;
	r1 = ref(a, INODE_ROOT, "web", true);
	i1 = ref(a, r1, "api", true);
	t1 = ref(a, i1, "v1.4.2", false);
	r2 = ref(b, INODE_ROOT, "web", true);
	i2 = ref(b, r2, "api", true);
	t2 = ref(b, i2, "v1.4.2", false);
	assert_int_equal(r1, r2);
	assert_int_equal(i1, i2);
	assert_int_equal(t1, t2);
	assert_int_equal(t1, inode_hash(i1, "v1.4.2", false));
	/* A file and a directory of one name are different inodes. */
	assert_int_not_equal(inode_hash(i1, "x", false), inode_hash(i1, "x", true));
	assert_true(inode_forget(a, t1, 1, NULL));
	assert_int_equal(ref(a, i1, "v1.4.2", false), t1);
	inode_table_free(a);
	inode_table_free(b);
}

static void test_counts_exact(void **state)
{
	struct inode_table *t = inode_table_new();
	uint64_t d, f;
	bool dir = false;

	(void)state;
	d = ref(t, INODE_ROOT, "repo", true);
	f = ref(t, d, "tag", false);
	assert_int_equal(ref(t, d, "tag", false), f); /* two lookups */
	assert_int_equal(inode_count(t), 2);
	assert_false(inode_forget(t, f, 1, NULL));
	assert_path(t, f, "/repo/tag");
	assert_true(inode_forget(t, f, 1, &dir));
	assert_false(dir);
	assert_int_equal(inode_count(t), 1);
	char buf[64];

	assert_int_equal(inode_path(t, f, buf, sizeof(buf), NULL), -ESTALE);
	/* More forgotten than held (BATCH_FORGET sums): freed, no underflow. */
	assert_true(inode_forget(t, d, 5, &dir));
	assert_true(dir);
	assert_int_equal(inode_count(t), 0);
	/* The root is never in the table nor forgotten. */
	assert_false(inode_forget(t, INODE_ROOT, 1, NULL));
	assert_path(t, INODE_ROOT, "/");
	inode_table_free(t);
}

static void test_unknown_parent(void **state)
{
	struct inode_table *t = inode_table_new();
	uint64_t ino;

	(void)state;
	assert_int_equal(inode_ref(t, 12345, "x", false, &ino), -ESTALE);
	assert_int_equal(inode_ref(t, INODE_ROOT, "", false, &ino), -ENAMETOOLONG);
	inode_table_free(t);
}

/* Many names, forgotten in another order than added: every remaining
 * one is still found (backward-shift deletion keeps probe runs intact). */
static void test_churn(void **state)
{
	enum { N = 20000 };
	struct inode_table *t = inode_table_new();
	uint64_t *ino = malloc(N * sizeof(*ino)), dir;
	char name[32];

	(void)state;
	assert_non_null(ino);
	dir = ref(t, INODE_ROOT, "d", true);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "tag-%d", i);
		ino[i] = ref(t, dir, name, false);
	}
	assert_int_equal(inode_count(t), N + 1);
	for (int i = 0; i < N; i += 3)
		assert_true(inode_forget(t, ino[i], 1, NULL));
	for (int i = 0; i < N; i++) {
		char buf[64], want[64];
		int err;

		snprintf(want, sizeof(want), "/d/tag-%d", i);
		err = inode_path(t, ino[i], buf, sizeof(buf), NULL);
		if (i % 3 == 0) {
			assert_int_equal(err, -ESTALE);
		} else {
			assert_int_equal(err, 0);
			assert_string_equal(buf, want);
		}
	}
	free(ino);
	inode_table_free(t);
}

/* 160,000 paths like a large registry: no two share a number. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_no_shared_numbers(void **state)
{
	enum { REPOS = 20, IMAGES = 40, TAGS = 200 };
	size_t n = 0, cap = REPOS * IMAGES * (TAGS + 1) + REPOS;
	uint64_t *v = malloc(cap * sizeof(*v));
	char name[32];

	(void)state;
	assert_non_null(v);
	for (int r = 0; r < REPOS; r++) {
		snprintf(name, sizeof(name), "repo-%02d", r);
		uint64_t rn = inode_hash(INODE_ROOT, name, true);

		v[n++] = rn;
		for (int i = 0; i < IMAGES; i++) {
			snprintf(name, sizeof(name), "img-%02d", i);
			uint64_t in = inode_hash(rn, name, true);

			v[n++] = in;
			for (int k = 0; k < TAGS; k++) {
				snprintf(name, sizeof(name), "v1.%d", k);
				v[n++] = inode_hash(in, name, false);
			}
		}
	}
	qsort(v, n, sizeof(v[0]), cmp_u64);
	for (size_t i = 1; i < n; i++)
		assert_int_not_equal(v[i - 1], v[i]);
	assert_true(v[0] > INODE_ROOT);
	free(v);
}

static void test_long_names_and_list(void **state)
{
	struct inode_table *t = inode_table_new();
	char longname[256], buf[PATH_MAX];
	struct inode_list l;
	uint64_t d, f, g;
	bool dir;

	(void)state;
	memset(longname, 'x', 255);
	longname[255] = '\0';
	d = ref(t, INODE_ROOT, "a-long-repository-name", true);
	f = ref(t, d, longname, false);
	g = ref(t, d, "short", false);
	assert_int_equal(inode_path(t, f, buf, sizeof(buf), &dir), 0);
	assert_false(dir);
	assert_int_equal(strlen(buf), 1 + 22 + 1 + 255);
	assert_int_equal(inode_path(t, f, buf, 40, NULL), -ENAMETOOLONG);
	assert_int_equal(inode_list_get(t, d, false, &l), 0);
	assert_int_equal(l.n, 2);
	for (size_t i = 0; i < l.n; i++) {
		assert_int_equal(l.v[i].parent, d);
		assert_true(l.v[i].ino == f || l.v[i].ino == g);
		assert_string_equal(l.names + l.v[i].name_off, l.v[i].ino == f ? longname : "short");
	}
	inode_list_release(&l);
	assert_int_equal(inode_list_get(t, 0, false, &l), 0);
	assert_int_equal(l.n, 3);
	inode_list_release(&l);
	inode_table_free(t); /* frees the long name: valgrind/ASan check */
}

static void test_dot_and_parent(void **state)
{
	struct inode_table *t = inode_table_new();
	uint64_t d, f, got, parent;
	bool dir;

	(void)state;
	d = ref(t, INODE_ROOT, "r", true);
	f = ref(t, d, "t", false);
	assert_int_equal(inode_ref_known(t, f, false, &got, &dir), 0);
	assert_int_equal(got, f);
	assert_false(dir);
	assert_int_equal(inode_ref_known(t, f, true, &got, &dir), 0);
	assert_int_equal(got, d);
	assert_true(dir);
	assert_int_equal(inode_ref_known(t, d, true, &got, &dir), 0);
	assert_int_equal(got, INODE_ROOT);
	assert_int_equal(inode_parent(t, f, &parent), 0);
	assert_int_equal(parent, d);
	/* f now holds 2 lookups, d 2. */
	assert_false(inode_forget(t, f, 1, NULL));
	assert_true(inode_forget(t, f, 1, NULL));
	assert_int_equal(inode_ref_known(t, f, false, &got, &dir), -ESTALE);
	inode_table_free(t);
}

/* inode_find: the number held now for a name, taking no lookup. */
static void test_find(void **state)
{
	struct inode_table *t = inode_table_new();
	uint64_t r, d, f, got;

	(void)state;
	r = ref(t, INODE_ROOT, "web", true);
	d = ref(t, r, "api", true);
	f = ref(t, d, "v1", false);
	assert_int_equal(inode_find(t, d, "v1", false, &got), 0);
	assert_int_equal(got, f);
	assert_int_equal(inode_find(t, d, "v1", true, &got), -ENOENT); /* not as a directory */
	assert_int_equal(inode_find(t, d, "v2", false, &got), -ENOENT);
	assert_int_equal(inode_find(t, 12345, "v1", false, &got), -ENOENT);
	assert_int_equal(inode_find_path(t, "/web/api/v1", false, &got), 0);
	assert_int_equal(got, f);
	assert_int_equal(inode_find_path(t, "/web/api", true, &got), 0);
	assert_int_equal(got, d);
	assert_int_equal(inode_find_path(t, "/", true, &got), 0);
	assert_int_equal(got, INODE_ROOT);
	assert_int_equal(inode_find_path(t, "/web/nope/v1", false, &got), -ENOENT);
	assert_true(inode_forget(t, f, 1, NULL));
	assert_int_equal(inode_find_path(t, "/web/api/v1", false, &got), -ENOENT);
	assert_true(inode_forget(t, d, 1, NULL));
	assert_true(inode_forget(t, r, 1, NULL));
	assert_int_equal(inode_count(t), 0);
	inode_table_free(t);
}

/* inode_list_get with deep: everything under a directory, at any depth
 * (a refresh of a repository reaches its nested image directories). */
static void test_list_deep(void **state)
{
	struct inode_table *t = inode_table_new();
	struct inode_list l;
	uint64_t r, a, b, z, tag, other;

	(void)state;
	r = ref(t, INODE_ROOT, "repo", true);
	a = ref(t, r, "base2", true);
	b = ref(t, a, "z", true);
	z = ref(t, b, "v1", false);
	tag = ref(t, a, "t", false);
	other = ref(t, INODE_ROOT, "other", true);
	assert_int_equal(inode_list_get(t, r, false, &l), 0);
	assert_int_equal(l.n, 1); /* base2 alone */
	inode_list_release(&l);
	assert_int_equal(inode_list_get(t, r, true, &l), 0);
	assert_int_equal(l.n, 4);
	for (size_t i = 0; i < l.n; i++)
		assert_true(l.v[i].ino == a || l.v[i].ino == b || l.v[i].ino == z || l.v[i].ino == tag);
	inode_list_release(&l);
	assert_int_equal(inode_list_get(t, b, true, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].ino, z);
	inode_list_release(&l);
	assert_int_equal(inode_list_get(t, 0, true, &l), 0);
	assert_int_equal(l.n, 6);
	inode_list_release(&l);
	(void)other;
	inode_table_free(t);
}

/* SipHash-2-4's reference vectors (the paper's appendix, and the first
 * of its table), then generations: a function of the path under one key,
 * another under another key, 0 for the root and unknown numbers. */
static void test_generations(void **state)
{
	unsigned char key[INODE_KEY_LEN], msg[15], other[INODE_KEY_LEN] = {1};
	struct inode_table *a = inode_table_new(), *b = inode_table_new(), *c = inode_table_new();
	uint64_t r, x, y;

	(void)state;
	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)i;
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	assert_true(inode_siphash(key, msg, 15) == 0xa129ca6149be45e5u);
	assert_true(inode_siphash(key, msg, 0) == 0x726fdb47dd0e0e31u);
	inode_table_set_key(a, key);
	inode_table_set_key(b, key);
	inode_table_set_key(c, other);
	r = ref(a, INODE_ROOT, "web", true);
	x = ref(a, r, "v1", false);
	y = ref(a, r, "v2", false);
	assert_int_equal(ref(b, ref(b, INODE_ROOT, "web", true), "v1", false), x);
	assert_int_equal(ref(c, ref(c, INODE_ROOT, "web", true), "v1", false), x); /* numbers: unkeyed */
	assert_int_not_equal(inode_generation(a, x), 0);
	assert_int_equal(inode_generation(a, x), inode_generation(b, x));
	assert_int_not_equal(inode_generation(a, x), inode_generation(c, x));
	assert_int_not_equal(inode_generation(a, x), inode_generation(a, y));
	assert_int_equal(inode_generation(a, INODE_ROOT), 0);
	assert_int_equal(inode_generation(a, 12345), 0);
	inode_table_free(a);
	inode_table_free(b);
	inode_table_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_number_is_function_of_path),
	    cmocka_unit_test(test_counts_exact),
	    cmocka_unit_test(test_unknown_parent),
	    cmocka_unit_test(test_churn),
	    cmocka_unit_test(test_no_shared_numbers),
	    cmocka_unit_test(test_long_names_and_list),
	    cmocka_unit_test(test_dot_and_parent),
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_list_deep),
	    cmocka_unit_test(test_generations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
