/* test_names.c — name checks against hostile input: what may become a file
 * name, and what could ever be a registry name or tag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "names.h"

static bool comp(const char *s)
{
	return names_valid_component(s, strlen(s));
}

/* A string of n copies of ch (n < sizeof(buf)). */
static const char *rep(char *buf, char ch, size_t n)
{
	memset(buf, ch, n);
	buf[n] = '\0';
	return buf;
}

static void test_valid_component(void **state)
{
	char big[300];

	(void)state;
	assert_false(comp(""));
	assert_false(comp("."));
	assert_false(comp(".."));
	assert_false(comp("a/b"));
	assert_false(comp("/"));
	assert_false(comp("a/"));
	/* '@' is the aliases' (NAME@tag): Docker allows it in no name. */
	assert_false(comp("x@tag"));
	assert_false(comp("@"));
	assert_true(comp("..."));
	assert_true(comp(".git"));
	assert_true(comp(".hidden"));
	assert_true(comp("UPPER"));
	assert_true(comp("a..b"));
	assert_true(comp("-a"));
	assert_true(comp("sp ace"));
	assert_true(comp("\xc3\xa9t\xc3\xa9"));
	assert_true(comp(rep(big, 'a', 255)));
	assert_false(comp(rep(big, 'a', 256)));
	/* A NUL within the n bytes is refused; n bounds what is looked at. */
	assert_false(names_valid_component("a\0b", 3));
	assert_false(names_valid_component("\0", 1));
	assert_true(names_valid_component("a\0b", 1));
	assert_true(names_valid_component("ab/c", 2));
	assert_false(names_valid_component(".", 1));
	assert_false(names_valid_component("..x", 2));
	assert_false(names_valid_component(NULL, 0));
	assert_false(names_valid_component("x", 0));
}

static void test_valid_image(void **state)
{
	char big[600];

	(void)state;
	assert_true(names_valid_image("vllm/vllm-openai"));
	assert_true(names_valid_image("a"));
	assert_true(names_valid_image("a/b/c"));
	assert_true(names_valid_image(".git/x")); /* valid as files; maybe_* is stricter */
	assert_false(names_valid_image(""));
	assert_false(names_valid_image("/a"));
	assert_false(names_valid_image("a/"));
	assert_false(names_valid_image("a//b"));
	assert_false(names_valid_image("/"));
	assert_false(names_valid_image("a/./b"));
	assert_false(names_valid_image("a/.."));
	assert_false(names_valid_image(".."));
	assert_false(names_valid_image(NULL));
	/* Each component is limited, not the whole name. */
	rep(big, 'a', 511);
	big[255] = '/';
	assert_true(names_valid_image(big));
	big[255] = 'a';
	big[256] = '/';
	assert_false(names_valid_image(big));
}

/* A control byte anywhere in a name would let a listing forge lines:
 * `find` printing "/etc/passwd" for image "a\n/etc", tag "passwd". */
static void test_control_bytes(void **state)
{
	char one[4];

	(void)state;
	for (unsigned ch = 1; ch < 0x20; ch++) {
		snprintf(one, sizeof(one), "a%cb", (char)ch);
		assert_false(comp(one));
		assert_false(names_valid_image(one));
	}
	assert_false(comp("a\x7f"));
	assert_false(comp("\n"));
	assert_false(comp("\t"));
	assert_false(comp("\x1b[31m"));
	assert_false(comp("tag\r"));
	/* Every component of an image is judged, the first and the last. */
	assert_false(names_valid_image("a\n/etc"));
	assert_false(names_valid_image("etc/a\n"));
	assert_false(names_valid_image("x/\x1b/y"));
	assert_false(names_valid_image("x/del\x7f"));
	/* Printable bytes, space, and valid UTF-8 stay. */
	assert_true(comp(" "));
	assert_true(comp("~"));
	assert_true(comp("\xc3\xa9t\xc3\xa9"));
	assert_true(comp("\xe6\x97\xa0"));
	assert_true(names_valid_image("a b/\xc3\xa9"));
}

/* What acts on a terminal without being a C0 byte: C1 controls (U+009B is
 * CSI: "\xc2\x9b31m" turns text red as ESC [ 31m does), bidirectional
 * controls (U+202E shows "gpj.exe" as "exe.jpg"), the line and paragraph
 * separators; and bytes that are not UTF-8 at all. Refused in any
 * component, like C0 controls. */
static void test_hidden_controls(void **state)
{
	static const char *const bad[] = {
	    "x\xc2\x9b"
	    "31mRED",
	    "\xc2\x80",
	    "\xc2\x85",
	    "\xc2\x9f",
	    "a\xe2\x80\xae"
	    "exe.jpg",
	    "\xe2\x80\xaa",
	    "\xe2\x81\xa6",
	    "\xe2\x81\xa9",
	    "\xe2\x80\x8e",
	    "\xe2\x80\x8f",
	    "\xd8\x9c",
	    "\xe2\x80\xa8",
	    "\xe2\x80\xa9",
	    "\x80",
	    "\xff",
	    "a\xc3",
	    "\xc0\xaf",
	    "\xed\xa0\x80",
	    "\xf4\x90\x80\x80",
	};
	char img[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(comp(bad[i]));
		assert_false(names_valid_image(bad[i]));
		snprintf(img, sizeof(img), "team/%s", bad[i]);
		assert_false(names_valid_image(img));
		assert_false(names_valid_entry(true, img, strlen(img)));
		assert_false(names_valid_entry(false, bad[i], strlen(bad[i])));
	}
	/* Next to them, what stays: U+00A0, U+2027, U+202F, U+2065, U+206A. */
	assert_true(comp("\xc2\xa0"));
	assert_true(comp("\xe2\x80\xa7"));
	assert_true(comp("\xe2\x80\xaf"));
	assert_true(comp("\xe2\x81\xa5"));
	assert_true(comp("\xe2\x81\xaa"));
	assert_true(comp("\xf0\x9f\x90\xb3"));
}

/* The one question decode.c, listing.c and sval.c ask: an image name
 * when it is an image listing, one component otherwise; n bytes. */
static void test_valid_entry(void **state)
{
	(void)state;
	assert_true(names_valid_entry(true, "vllm/vllm-openai", 16));
	assert_false(names_valid_entry(false, "vllm/vllm-openai", 16));
	assert_true(names_valid_entry(true, "vllm/vllm-openai", 4));
	assert_false(names_valid_entry(true, "vllm/", 5));
	assert_false(names_valid_entry(true, "a\0b", 3));
	assert_false(names_valid_entry(true, "", 0));
	assert_false(names_valid_entry(false, NULL, 0));
	assert_true(names_valid_entry(false, "v1.4.2", 6));
}

static void test_maybe_component(void **state)
{
	char big[300];

	(void)state;
	assert_true(names_maybe_component("a"));
	assert_true(names_maybe_component("vllm"));
	assert_true(names_maybe_component("vllm-openai"));
	assert_true(names_maybe_component("UPPER"));
	assert_true(names_maybe_component("a.b"));
	assert_true(names_maybe_component("a_b"));
	assert_true(names_maybe_component("a__b"));
	assert_true(names_maybe_component("a-b"));
	assert_true(names_maybe_component("a---b"));
	assert_true(names_maybe_component("0"));
	assert_true(names_maybe_component("a.b_c__d-e"));
	assert_false(names_maybe_component(""));
	assert_false(names_maybe_component("."));
	assert_false(names_maybe_component(".."));
	assert_false(names_maybe_component(".git"));
	assert_false(names_maybe_component(".hidden"));
	assert_false(names_maybe_component("a..b"));
	assert_false(names_maybe_component("a___b"));
	assert_false(names_maybe_component("a._b"));
	assert_false(names_maybe_component("a-.b"));
	assert_false(names_maybe_component("-a"));
	assert_false(names_maybe_component("_a"));
	assert_false(names_maybe_component("a-"));
	assert_false(names_maybe_component("a."));
	assert_false(names_maybe_component("a/b"));
	assert_false(names_maybe_component("vllm/vllm-openai"));
	assert_false(names_maybe_component("a b"));
	assert_false(names_maybe_component("a~"));
	assert_false(names_maybe_component("\xc3\xa9"));
	assert_false(names_maybe_component(NULL));
	assert_true(names_maybe_component(rep(big, 'a', 255)));
	assert_false(names_maybe_component(rep(big, 'a', 256)));
}

static void test_maybe_tag(void **state)
{
	char big[200];

	(void)state;
	assert_true(names_maybe_tag("v1.4.2"));
	assert_true(names_maybe_tag("latest"));
	assert_true(names_maybe_tag("_x"));
	assert_true(names_maybe_tag("X"));
	assert_true(names_maybe_tag("1.0-rc.1_b"));
	assert_true(names_maybe_tag("a..b"));
	assert_true(names_maybe_tag("a--"));
	assert_false(names_maybe_tag(".x"));
	assert_false(names_maybe_tag("-x"));
	assert_false(names_maybe_tag(""));
	assert_false(names_maybe_tag("."));
	assert_false(names_maybe_tag(".."));
	assert_false(names_maybe_tag("a/b"));
	assert_false(names_maybe_tag("a:b"));
	assert_false(names_maybe_tag("a@sha256"));
	assert_false(names_maybe_tag("a b"));
	assert_false(names_maybe_tag(NULL));
	assert_true(names_maybe_tag(rep(big, 'a', 128)));
	assert_false(names_maybe_tag(rep(big, 'a', 129)));
	/* A bad character past the length limit still fails. */
	rep(big, 'a', 150);
	big[140] = '/';
	assert_false(names_maybe_tag(big));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_component), cmocka_unit_test(test_valid_image),
	    cmocka_unit_test(test_control_bytes),   cmocka_unit_test(test_hidden_controls),
	    cmocka_unit_test(test_valid_entry),	    cmocka_unit_test(test_maybe_component),
	    cmocka_unit_test(test_maybe_tag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
