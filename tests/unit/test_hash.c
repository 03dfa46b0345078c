/* test_hash.c — FNV-1a as published (the reference vectors of its
 * authors), and the running form: a hash fed in pieces equals the hash
 * of the pieces joined. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "hash.h"

static void fnv64_reference_values(void **state)
{
	(void)state;
	assert_true(hash_fnv64(HASH_FNV64_BASIS, "", 0) == 0xcbf29ce484222325ULL);
	assert_true(hash_fnv64(HASH_FNV64_BASIS, "a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(hash_fnv64(HASH_FNV64_BASIS, "foobar", 6) == 0x85944171f73967e8ULL);
}

static void fnv64_str_leaves_out_the_nul(void **state)
{
	(void)state;
	assert_true(hash_fnv64_str(HASH_FNV64_BASIS, "") == HASH_FNV64_BASIS);
	assert_true(hash_fnv64_str(HASH_FNV64_BASIS, "foobar") == 0x85944171f73967e8ULL);
	assert_true(hash_fnv64_str(HASH_FNV64_BASIS, "foobar") == hash_fnv64(HASH_FNV64_BASIS, "foobar", 6));
	assert_true(hash_fnv64_str(HASH_FNV64_BASIS, "foobar") != hash_fnv64(HASH_FNV64_BASIS, "foobar", 7));
}

static void fnv32_reference_values(void **state)
{
	(void)state;
	assert_true(hash_fnv32(HASH_FNV32_BASIS, "", 0) == 0x811c9dc5u);
	assert_true(hash_fnv32(HASH_FNV32_BASIS, "a", 1) == 0xe40c292cu);
	assert_true(hash_fnv32(HASH_FNV32_BASIS, "foobar", 6) == 0xbf9cf968u);
}

static void pieces_equal_the_whole(void **state)
{
	const char *s = "library/nginx:1.25";
	size_t n = strlen(s);

	(void)state;
	for (size_t cut = 0; cut <= n; cut++) {
		uint64_t h = hash_fnv64(HASH_FNV64_BASIS, s, cut);
		uint32_t g = hash_fnv32(HASH_FNV32_BASIS, s, cut);

		assert_true(hash_fnv64_str(h, s + cut) == hash_fnv64(HASH_FNV64_BASIS, s, n));
		assert_true(hash_fnv32(g, s + cut, n - cut) == hash_fnv32(HASH_FNV32_BASIS, s, n));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fnv64_reference_values),
	    cmocka_unit_test(fnv64_str_leaves_out_the_nul),
	    cmocka_unit_test(fnv32_reference_values),
	    cmocka_unit_test(pieces_equal_the_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
