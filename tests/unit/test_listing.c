/* test_listing.c — from the API's entries to a snapshot (listing.h), with
 * a hostile server: names that cannot be file names are skipped, and a
 * digest or a time that a terminal or a line reader would act on reaches
 * the tag file only escaped (\xNN). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "listing.h"
#include "text.h"

#define SHA "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static struct snap *build(enum uhub_kind kind, struct uhub_entry *v, size_t n)
{
	struct listing_src src = {.kind = kind, .repo = "web", .image = kind == UHUB_TAGS ? "api" : NULL};
	struct snap *s = NULL;

	assert_int_equal(listing_build(&src, v, n, &s), 0);
	assert_non_null(s);
	return s;
}

static void get(const struct snap *s, const char *name, struct snap_entry *e)
{
	long i = snap_find(s, name);

	assert_true(i >= 0);
	snap_get(s, (size_t)i, e);
}

/* C0, C1 and bidirectional controls, and bytes that are not UTF-8, in a
 * tag's digest and time: shown escaped, printable, one line. */
static void test_texts_escaped(void **state)
{
	struct uhub_entry v[] = {
	    {.name = "c1",
	     .time = "x\xc2\x9b"
		     "31mRED",
	     .digest = "sha256:\xc2\x9b"
		       "2J"},
	    {.name = "bidi",
	     .time = "\xe2\x80\xae"
		     "2026",
	     .digest = "d\xe2\x81\xa6"},
	    {.name = "nl", .time = "x\nupdated: never", .digest = "sha256:aa\ndigest: evil"},
	    {.name = "raw", .time = "\xff\xc3", .digest = NULL},
	    {.name = "fine", .time = "2026\xe5\xb9\xb4", .digest = SHA},
	};
	struct snap *s;
	struct snap_entry e;

	(void)state;
	s = build(UHUB_TAGS, v, sizeof(v) / sizeof(v[0]));
	get(s, "c1", &e);
	assert_string_equal(e.time_raw, "x\\xc2\\x9b31mRED");
	assert_string_equal(e.digest, "sha256:\\xc2\\x9b2J");
	get(s, "bidi", &e);
	assert_string_equal(e.time_raw, "\\xe2\\x80\\xae2026");
	assert_string_equal(e.digest, "d\\xe2\\x81\\xa6");
	get(s, "nl", &e);
	assert_string_equal(e.time_raw, "x\\x0aupdated: never");
	assert_string_equal(e.digest, "sha256:aa\\x0adigest: evil");
	get(s, "raw", &e);
	assert_string_equal(e.time_raw, "\\xff\\xc3");
	assert_null(e.digest);
	/* Printable UTF-8 is kept as given. */
	get(s, "fine", &e);
	assert_string_equal(e.time_raw, "2026\xe5\xb9\xb4");
	assert_string_equal(e.digest, SHA);
	for (size_t i = 0; i < snap_count(s); i++) {
		snap_get(s, i, &e);
		assert_true(!e.time_raw || text_printable(e.time_raw, strlen(e.time_raw)));
		assert_true(!e.digest || text_printable(e.digest, strlen(e.digest)));
	}
	snap_unref(s);
}

/* Names with C1 or bidirectional controls or stray bytes are skipped,
 * in tag listings and in every component of an image name. */
static void test_names_skipped(void **state)
{
	struct uhub_entry tags[] = {
	    {.name = "x\xc2\x9b"
		     "31m"},
	    {.name = "a\xe2\x80\xae"
		     "exe.jpg"},
	    {.name = "\xff"},
	    {.name = "ok"},
	};
	struct uhub_entry images[] = {
	    {.name = "team/\xc2\x85"},
	    {.name = "\xe2\x81\xa7/app"},
	    {.name = "team/app"},
	};
	struct snap *s = build(UHUB_TAGS, tags, 4);

	(void)state;
	assert_int_equal(snap_count(s), 1);
	assert_true(snap_find(s, "ok") >= 0);
	snap_unref(s);
	s = build(UHUB_IMAGES, images, 3);
	assert_int_equal(snap_count(s), 1);
	assert_true(snap_find(s, "team/app") >= 0);
	snap_unref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_texts_escaped),
	    cmocka_unit_test(test_names_skipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
