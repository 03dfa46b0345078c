/* test_params.c — parameter lists and the gateway's form encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "params.h"

static void test_add_get_set_del(void **state)
{
	struct params *p = params_new();

	(void)state;
	assert_int_equal(params_add(p, "Action", "GetRepo"), 0);
	assert_int_equal(params_add_long(p, "Limit", 100), 0);
	assert_int_equal(params_add_long(p, "Offset", -3), 0);
	assert_int_equal(params_count(p), 3);
	assert_string_equal(params_get(p, "Limit"), "100");
	assert_string_equal(params_get(p, "Offset"), "-3");
	assert_null(params_get(p, "Nope"));
	assert_int_equal(params_set(p, "Limit", "7"), 0);
	assert_int_equal(params_count(p), 3);
	assert_string_equal(params_get(p, "Limit"), "7");
	assert_int_equal(params_set(p, "Type", "private"), 0);
	assert_int_equal(params_count(p), 4);
	params_del(p, "Action");
	assert_int_equal(params_count(p), 3);
	assert_null(params_get(p, "Action"));
	assert_string_equal(params_name(p, 0), "Limit");
	params_free(p);
	params_free(NULL);
}

static void test_encode(void **state)
{
	struct params *p = params_new();
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(params_add(p, "ImageName", "team/app"), 0);
	assert_int_equal(params_add(p, "Tag", "a b+c~d.e_f-g"), 0);
	assert_int_equal(params_add(p, "U", "\xe4\xb8\xad"), 0);
	assert_int_equal(params_encode(p, &b), 0);
	assert_string_equal(b.data, "ImageName=team%2Fapp&Tag=a%20b%2Bc~d.e_f-g&U=%E4%B8%AD");
	buf_release(&b);
	params_free(p);
}

static void test_decode_roundtrip(void **state)
{
	const char *form = "ImageName=team%2Fapp&Tag=a%20b%2Bc~d&Sp=x+y&Empty=&Bare&&Lo=%e4%b8%ad";
	struct params *p = params_new();

	(void)state;
	assert_int_equal(params_decode(p, form, strlen(form)), 0);
	assert_int_equal(params_count(p), 6);
	assert_string_equal(params_get(p, "ImageName"), "team/app");
	assert_string_equal(params_get(p, "Tag"), "a b+c~d");
	assert_string_equal(params_get(p, "Sp"), "x y");
	assert_string_equal(params_get(p, "Empty"), "");
	assert_string_equal(params_get(p, "Bare"), "");
	assert_string_equal(params_get(p, "Lo"), "\xe4\xb8\xad");
	params_free(p);
}

static void test_decode_bad(void **state)
{
	static const char *const bad[] = {"a=%", "a=%4", "a=%zz", "a=%00", "%2=x"};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct params *p = params_new();

		assert_int_equal(params_decode(p, bad[i], strlen(bad[i])), -EINVAL);
		params_free(p);
	}
}

/* The decoder reads only the n bytes it is given. */
static void test_decode_length(void **state)
{
	struct params *p = params_new();

	(void)state;
	assert_int_equal(params_decode(p, "a=1&b=2", 3), 0);
	assert_int_equal(params_count(p), 1);
	assert_string_equal(params_get(p, "a"), "1");
	params_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_get_set_del), cmocka_unit_test(test_encode),
		cmocka_unit_test(test_decode_roundtrip), cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_decode_length),
	};
	return cmocka_run_group_tests_name("params", tests, NULL, NULL);
}
