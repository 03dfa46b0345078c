/* test_tagfile.c — a tag file's bytes: with and without a digest, times
 * formatted or shown as given, st_size equal to the rendering, and reads
 * at every kind of offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "buf.h"
#include "tagfile.h"

#define DIGEST "sha256:3f1c000000000000000000000000000000000000000000000000000000000001"
#define T_2026 1795745700 /* 2026-11-27T02:15:00Z */
#define TEXT_CAP 4096	  /* longer than any text below */

static const struct snap_entry full = {.name = "v1.4.2", .digest = DIGEST, .mtime = T_2026};
static const char full_text[] = "digest: " DIGEST "\nupdated: 2026-11-27T02:15:00Z\n";

/* Appends e's whole contents to out as a read from offset 0 gets them,
 * asking for more than tagfile_size: the read must stop there. 0,
 * -EFBIG (nothing appended) or -ENOMEM. */
static int tagfile_render(const struct snap_entry *e, struct buf *out)
{
	char text[2 * TEXT_CAP];
	size_t n = tagfile_size(e);

	assert_true(n < sizeof(text));
	assert_int_equal(tagfile_read(e, text, sizeof(text), 0), n);
	return buf_add(out, text, n);
}

/* Renders e and checks it against want, and the size against both. */
static void check_render(const struct snap_entry *e, const char *want)
{
	struct buf b;

	buf_init(&b, 1 << 16);
	assert_int_equal(tagfile_render(e, &b), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, want);
	assert_int_equal(b.len, strlen(want));
	assert_int_equal(tagfile_size(e), b.len);
	buf_release(&b);
}

static void test_with_digest(void **state)
{
	(void)state;
	check_render(&full, full_text);
}

static void test_without_digest(void **state)
{
	struct snap_entry e = {.name = "latest", .mtime = T_2026};

	(void)state;
	check_render(&e, "updated: 2026-11-27T02:15:00Z\n");
}

static void test_times(void **state)
{
	struct snap_entry e = {.name = "x", .digest = "sha256:aa", .mtime = SNAP_NO_TIME, .time_raw = "garbage-time"};

	(void)state;
	check_render(&e, "digest: sha256:aa\nupdated: garbage-time\n");
	e.time_raw = NULL;
	check_render(&e, "digest: sha256:aa\nupdated: unknown\n");
	/* A parsed time wins over the raw text. */
	e.mtime = 0;
	e.time_raw = "ignored";
	check_render(&e, "digest: sha256:aa\nupdated: 1970-01-01T00:00:00Z\n");
	e.digest = NULL;
	e.mtime = SNAP_NO_TIME;
	e.time_raw = "";
	check_render(&e, "updated: \n");
}

static void test_render_appends(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 16);
	assert_int_equal(buf_adds(&b, "head\n"), 0);
	assert_int_equal(tagfile_render(&full, &b), 0);
	assert_int_equal(b.len, 5 + strlen(full_text));
	assert_string_equal(b.data + 5, full_text);
	buf_release(&b);
	/* Too small a cap: -EFBIG and nothing appended. */
	buf_init(&b, 20);
	assert_int_equal(buf_adds(&b, "head\n"), 0);
	assert_int_equal(tagfile_render(&full, &b), -EFBIG);
	assert_string_equal(b.data, "head\n");
	assert_int_equal(b.len, 5);
	buf_release(&b);
}

static void test_read_offsets(void **state)
{
	size_t len = strlen(full_text);
	char dst[256];

	(void)state;
	assert_int_equal(tagfile_size(&full), len);
	/* Whole file from 0, with room to spare. */
	memset(dst, '#', sizeof(dst));
	assert_int_equal(tagfile_read(&full, dst, sizeof(dst), 0), len);
	assert_memory_equal(dst, full_text, len);
	assert_int_equal(dst[len], '#'); /* nothing written past the content */
	/* Every window, one-byte to whole: the bytes are the rendering's. */
	for (size_t off = 0; off <= len; off++)
		for (size_t sz = 0; sz <= len + 2; sz += 3) {
			size_t want = off + sz <= len ? sz : len - off;

			assert_int_equal(tagfile_read(&full, dst, sz, (off_t)off), want);
			assert_memory_equal(dst, full_text + off, want);
		}
	/* Middle: across the digest/updated boundary. */
	assert_int_equal(tagfile_read(&full, dst, 10, 77), 10);
	assert_memory_equal(dst, "01\nupdated", 10);
	/* End, past the end, size 0, negative offset. */
	assert_int_equal(tagfile_read(&full, dst, 10, (off_t)len - 1), 1);
	assert_int_equal(dst[0], '\n');
	assert_int_equal(tagfile_read(&full, dst, 10, (off_t)len), 0);
	assert_int_equal(tagfile_read(&full, dst, 10, (off_t)len + 1000), 0);
	assert_int_equal(tagfile_read(&full, dst, 0, 0), 0);
	assert_int_equal(tagfile_read(&full, dst, 10, -1), -EINVAL);
}

static void test_read_raw_time(void **state)
{
	struct snap_entry e = {.name = "x", .mtime = SNAP_NO_TIME, .time_raw = "garbage-time"};
	char dst[64];

	(void)state;
	assert_int_equal(tagfile_size(&e), strlen("updated: garbage-time\n"));
	assert_int_equal(tagfile_read(&e, dst, 7, 9), 7);
	assert_memory_equal(dst, "garbage", 7);
	e.time_raw = NULL;
	assert_int_equal(tagfile_read(&e, dst, sizeof(dst), 0), strlen("updated: unknown\n"));
	assert_memory_equal(dst, "updated: unknown\n", 17);
}

/* Entries that render the same bytes, whatever their other fields. */
static void test_same(void **state)
{
	struct snap_entry a = full, b = full;

	(void)state;
	b.name = "other";
	b.ctime = 1;
	assert_true(tagfile_same(&a, &b));
	b.digest = "sha256:3f1c000000000000000000000000000000000000000000000000000000000002";
	assert_false(tagfile_same(&a, &b));
	b = full;
	b.digest = NULL;
	assert_false(tagfile_same(&a, &b));
	b = full;
	b.mtime++;
	assert_false(tagfile_same(&a, &b));
	a.mtime = b.mtime = SNAP_NO_TIME;
	a.time_raw = "x";
	b.time_raw = "y";
	assert_false(tagfile_same(&a, &b));
	b.time_raw = "x";
	assert_true(tagfile_same(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_with_digest),	 cmocka_unit_test(test_without_digest),
	    cmocka_unit_test(test_times),	 cmocka_unit_test(test_render_appends),
	    cmocka_unit_test(test_read_offsets), cmocka_unit_test(test_read_raw_time),
	    cmocka_unit_test(test_same),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
