/* test_text.c — which characters of a server's text are shown as they
 * are (text.h), byte by byte over every code point's encoding and the
 * ways a sequence can be broken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "text.h"

/* The UTF-8 encoding of c into out (4 bytes); its length. */
static size_t encode(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | (c >> 6 & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | c >> 18);
	out[1] = (char)(0x80 | (c >> 12 & 0x3f));
	out[2] = (char)(0x80 | (c >> 6 & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

static bool hidden(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x61c || c == 0x200e || c == 0x200f ||
	       (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || (c >= 0xd800 && c <= 0xdfff);
}

/* Every code point: shown as it is unless a control, a bidirectional
 * control, a separator or a surrogate (whose encoding is not UTF-8). */
static void test_every_code_point(void **state)
{
	char b[4];

	(void)state;
	for (uint32_t c = 0; c <= 0x10ffff; c++) {
		size_t n = encode(c, b);

		assert_int_equal(text_char_len(b, n), hidden(c) ? 0 : n);
		assert_int_equal(text_printable(b, n), !hidden(c));
		if (n > 1) /* cut short: never a character */
			assert_int_equal(text_char_len(b, n - 1), 0);
	}
}

static void test_broken_sequences(void **state)
{
	(void)state;
	assert_int_equal(text_char_len("\x80", 1), 0);		       /* a lone continuation */
	assert_int_equal(text_char_len("\xc3(", 2), 0);		       /* no continuation */
	assert_int_equal(text_char_len("\xc0\xaf", 2), 0);	       /* overlong '/' */
	assert_int_equal(text_char_len("\xe0\x80\xaf", 3), 0);	       /* overlong '/' */
	assert_int_equal(text_char_len("\xf0\x80\x80\xaf", 4), 0);     /* overlong '/' */
	assert_int_equal(text_char_len("\xf4\x90\x80\x80", 4), 0);     /* past U+10FFFF */
	assert_int_equal(text_char_len("\xf8\x88\x80\x80\x80", 5), 0); /* 5 bytes */
	assert_int_equal(text_char_len("\xfe", 1), 0);
	assert_int_equal(text_char_len("", 0), 0);
	assert_true(text_printable("", 0));
	assert_true(text_printable("caf\xc3\xa9 \xe6\x97\xa0", 9));
	assert_false(text_printable("caf\xc3\xa9\xc2\x9b", 7));
	assert_false(text_printable("a\0b", 3));
	/* n bounds what is looked at. */
	assert_true(text_printable("ab\n", 2));
	assert_int_equal(text_char_len("\xc3\xa9", 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_code_point),
	    cmocka_unit_test(test_broken_sequences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
