/* test_prestore.c — when a directory's tag files are stored ahead of a
 * reader: a second file within the window, not the same file again nor
 * one read later; one batch per directory at a time; the next directory
 * of a scanned parent on its first read; the per-second budget, and what
 * a batch gives back; the bounded table of directories. Time is the
 * caller's (milliseconds), so nothing here sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "prestore.h"

#define ROOT 1
#define DIR_A 100
#define DIR_B 200
#define REPO 50

static struct prestore *make(void)
{
	struct prestore *p = prestore_new();

	assert_non_null(p);
	return p;
}

static void test_second_file_is_a_scan(void **state)
{
	struct prestore *p = make();
	struct prestore_stats st;
	size_t max = 0;

	(void)state;
	assert_false(prestore_read(p, DIR_A, ROOT, 1001, "f", 0, &max));
	/* The same file again (its pages dropped): not a scan. */
	assert_false(prestore_read(p, DIR_A, ROOT, 1001, "f", 10, &max));
	assert_true(prestore_read(p, DIR_A, ROOT, 1002, "f", 20, &max));
	assert_int_equal(max, PRESTORE_BATCH);
	/* Its batch is in flight: reads racing it start no other. */
	assert_false(prestore_read(p, DIR_A, ROOT, 1003, "f", 21, &max));
	prestore_done(p, DIR_A, 0, true);
	/* The reader got past the batch: the next one. */
	assert_true(prestore_read(p, DIR_A, ROOT, 2030, "f", 30, &max));
	prestore_done(p, DIR_A, 0, true);
	prestore_get_stats(p, &st);
	assert_int_equal(st.batches, 2);
	assert_int_equal(st.batches_skipped, 0);
	prestore_free(p);
	prestore_free(NULL);
}

static void test_reads_far_apart_are_no_scan(void **state)
{
	struct prestore *p = make();
	size_t max;

	(void)state;
	assert_false(prestore_read(p, DIR_A, ROOT, 1001, "f", 0, &max));
	assert_false(prestore_read(p, DIR_A, ROOT, 1002, "f", PRESTORE_WINDOW_MS + 1, &max));
	assert_true(prestore_read(p, DIR_A, ROOT, 1003, "f", PRESTORE_WINDOW_MS + 2, &max));
	/* Files of two directories of different parents, one each: no scan
	 * of either. */
	assert_false(prestore_read(p, DIR_B, REPO, 3001, "f", PRESTORE_WINDOW_MS + 3, &max));
	prestore_free(p);
}

/* grep -r goes from one image directory to the next: the first read in
 * the next one (same parent, within the window) starts its batch. */
static void test_next_directory_of_a_scanned_parent(void **state)
{
	struct prestore *p = make();
	size_t max;

	(void)state;
	assert_false(prestore_read(p, DIR_A, REPO, 1001, "f", 0, &max));
	assert_true(prestore_read(p, DIR_A, REPO, 1002, "f", 1, &max));
	prestore_done(p, DIR_A, PRESTORE_BATCH, true);
	assert_true(prestore_read(p, DIR_B, REPO, 2001, "f", 5, &max));
	prestore_done(p, DIR_B, PRESTORE_BATCH, true);
	/* Another parent: no. Too late: no. */
	assert_false(prestore_read(p, 300, 60, 3001, "f", 6, &max));
	assert_false(prestore_read(p, 400, REPO, 4001, "f", 5 + PRESTORE_WINDOW_MS + 1, &max));
	prestore_free(p);
}

static void test_budget_per_second(void **state)
{
	struct prestore *p = make();
	struct prestore_stats st;
	size_t max, took = 0;
	uint64_t dir;

	(void)state;
	/* Scans in many directories at one instant take the budget... */
	for (dir = 1000; took < PRESTORE_PER_S; dir++) {
		assert_false(prestore_read(p, dir, dir + 1, 1, "f", 0, &max));
		assert_true(prestore_read(p, dir, dir + 1, 2, "f", 0, &max));
		took += max;
		prestore_done(p, dir, 0, true);
	}
	assert_int_equal(took, PRESTORE_PER_S);
	/* ...and the next one gets nothing, counted as skipped. */
	assert_false(prestore_read(p, dir, dir + 1, 1, "f", 0, &max));
	assert_false(prestore_read(p, dir, dir + 1, 2, "f", 0, &max));
	prestore_get_stats(p, &st);
	assert_int_equal(st.batches_skipped, 1);
	/* A batch that stored less gives the rest back. */
	prestore_done(p, dir - 1, 10, true);
	assert_true(prestore_read(p, dir, dir + 1, 3, "f", 0, &max));
	assert_int_equal(max, 10);
	prestore_done(p, dir, max, true);
	/* A second later the budget is whole again. */
	assert_true(prestore_read(p, dir, dir + 1, 4, "f", 1000, &max));
	assert_int_equal(max, PRESTORE_BATCH);
	prestore_free(p);
}

/* A batch goes on after what its reader read meanwhile, while it runs,
 * leaving it a lead. */
static void test_after_the_reader(void **state)
{
	struct prestore *p = make();
	char out[32];
	size_t max;

	(void)state;
	assert_false(prestore_read(p, DIR_A, ROOT, 1, "t01", 0, &max));
	assert_int_equal(prestore_after(p, DIR_A, "t01", out, sizeof(out)), 0);
	assert_string_equal(out, "t01"); /* no batch in flight: as asked */
	assert_true(prestore_read(p, DIR_A, ROOT, 2, "t02", 1, &max));
	assert_int_equal(prestore_after(p, DIR_A, "t02", out, sizeof(out)), 0);
	assert_string_equal(out, "t02");
	assert_false(prestore_read(p, DIR_A, ROOT, 9, "t09", 2, &max)); /* read past the batch's start */
	assert_int_equal(prestore_after(p, DIR_A, "t02", out, sizeof(out)), PRESTORE_LEAD);
	assert_string_equal(out, "t09");
	assert_int_equal(prestore_after(p, DIR_A, "t40", out, sizeof(out)), 0);
	assert_string_equal(out, "t40"); /* the batch is ahead of it */
	assert_int_equal(prestore_after(p, DIR_B, "t02", out, sizeof(out)), 0);
	assert_string_equal(out, "t02");
	prestore_free(p);
}

/* A batch the queue had no room for is skipped, and the directory free
 * for the next read. */
static void test_not_queued(void **state)
{
	struct prestore *p = make();
	struct prestore_stats st;
	size_t max;

	(void)state;
	assert_false(prestore_read(p, DIR_A, ROOT, 1, "f", 0, &max));
	assert_true(prestore_read(p, DIR_A, ROOT, 2, "f", 1, &max));
	prestore_done(p, DIR_A, max, false);
	prestore_get_stats(p, &st);
	assert_int_equal(st.batches, 0);
	assert_int_equal(st.batches_skipped, 1);
	assert_true(prestore_read(p, DIR_A, ROOT, 3, "f", 2, &max));
	assert_int_equal(max, PRESTORE_BATCH);
	prestore_free(p);
}

/* The table is bounded: the least recently read directory makes room,
 * never one with a batch in flight. */
static void test_bounded_table(void **state)
{
	struct prestore *p = make();
	size_t max;

	(void)state;
	assert_false(prestore_read(p, DIR_A, ROOT, 1, "f", 0, &max));
	assert_true(prestore_read(p, DIR_A, ROOT, 2, "f", 1, &max)); /* busy */
	for (uint64_t d = 0; d < 2 * PRESTORE_DIRS; d++)
		assert_false(prestore_read(p, 1000 + 2 * d, 1001 + 2 * d, 1, "f", 2 + (int64_t)d, &max));
	/* DIR_A kept its slot: still busy, so no second batch. */
	assert_false(prestore_read(p, DIR_A, ROOT, 3, "f", 500, &max));
	prestore_done(p, DIR_A, 0, true);
	/* The directory read longest ago made room: its first read is lost. */
	assert_false(prestore_read(p, 1000, 1001, 2, "f", 501, &max));
	/* The one read last kept it. */
	assert_true(prestore_read(p, 1000 + 2 * (2 * PRESTORE_DIRS - 1), 1001 + 2 * (2 * PRESTORE_DIRS - 1), 2, "f",
				  502, &max));
	prestore_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_second_file_is_a_scan),
	    cmocka_unit_test(test_reads_far_apart_are_no_scan),
	    cmocka_unit_test(test_next_directory_of_a_scanned_parent),
	    cmocka_unit_test(test_budget_per_second),
	    cmocka_unit_test(test_not_queued),
	    cmocka_unit_test(test_after_the_reader),
	    cmocka_unit_test(test_bounded_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
