/* test_buf.c — the capped buffer: growth, the cap, take. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void test_append_and_nul(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_null(b.data);
	assert_int_equal(buf_adds(&b, "abc"), 0);
	assert_int_equal(buf_add(&b, "def", 3), 0);
	assert_int_equal(b.len, 6);
	assert_string_equal(b.data, "abcdef");
	assert_int_equal(buf_printf(&b, "-%d-%s", 42, "x"), 0);
	assert_string_equal(b.data, "abcdef-42-x");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_release(&b);
	assert_null(b.data);
}

static void test_cap(void **state)
{
	struct buf b;
	char big[100];

	(void)state;
	memset(big, 'x', sizeof(big));
	buf_init(&b, 10);
	assert_int_equal(buf_add(&b, big, 10), 0);
	assert_int_equal(buf_add(&b, big, 1), -EFBIG);
	assert_int_equal(b.len, 10); /* unchanged on error */
	assert_int_equal(buf_printf(&b, "%s", "y"), -EFBIG);
	assert_true(b.alloc <= 11);
	buf_release(&b);

	/* A size that would overflow is refused, not wrapped. */
	buf_init(&b, SIZE_MAX);
	assert_int_equal(buf_adds(&b, "a"), 0);
	assert_int_equal(buf_add(&b, big, SIZE_MAX), -EFBIG);
	buf_release(&b);
}

static void test_growth(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_add(&b, "0123456789", 10), 0);
	assert_int_equal(b.len, 100000);
	assert_int_equal(b.data[99999], '9');
	assert_int_equal(b.data[100000], '\0');
	buf_release(&b);
}

static void test_take(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 100);
	s = buf_take(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(buf_adds(&b, "kept"), 0);
	s = buf_take(&b);
	assert_string_equal(s, "kept");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_nul),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_take),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
