/* test_sim_stats.c — uhub-sim's request counters and access log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sim/sim_stats.h"

static unsigned long long count(struct sim_stats *s, const char *action, const char *repo, const char *image,
				const char *tag, int has_tag)
{
	struct sim_stats_filter f = {.action = action, .repo = repo, .image = image, .tag = tag, .has_tag = has_tag};

	return sim_stats_count(s, &f);
}

static void test_counts(void **state)
{
	struct sim_stats *s = sim_stats_new();

	(void)state;
	assert_int_equal(sim_stats_record(s, "GetImageTag", "r", "i", NULL), 0);
	assert_int_equal(sim_stats_record(s, "GetImageTag", "r", "i", NULL), 0);
	assert_int_equal(sim_stats_record(s, "GetImageTag", "r", "i", ""), 0); /* empty tag = none */
	assert_int_equal(sim_stats_record(s, "GetImageTag", "r", "i", "v1"), 0);
	assert_int_equal(sim_stats_record(s, "GetImageTag", "r", "team/i", "v1"), 0);
	assert_int_equal(sim_stats_record(s, "GetRepoImage", "r", NULL, NULL), 0);
	assert_int_equal(sim_stats_record(s, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(count(s, NULL, NULL, NULL, NULL, -1), 7);
	assert_int_equal(count(s, "*", NULL, NULL, NULL, -1), 7);
	assert_int_equal(count(s, "GetImageTag", "r", "i", NULL, -1), 4);
	assert_int_equal(count(s, "GetImageTag", "r", "i", NULL, 0), 3);
	assert_int_equal(count(s, "GetImageTag", "r", "i", NULL, 1), 1);
	assert_int_equal(count(s, NULL, NULL, NULL, "v1", -1), 2);
	assert_int_equal(count(s, NULL, "r", NULL, NULL, -1), 6);
	assert_int_equal(count(s, NULL, NULL, "team/i", NULL, -1), 1);
	assert_int_equal(count(s, "", NULL, NULL, NULL, -1), 1);
	assert_int_equal(count(s, "GetRepo", NULL, NULL, NULL, -1), 0);
	sim_stats_reset(s);
	assert_int_equal(count(s, NULL, NULL, NULL, NULL, -1), 0);
	assert_int_equal(sim_stats_record(s, "GetRepo", NULL, NULL, NULL), 0);
	assert_int_equal(count(s, "GetRepo", NULL, NULL, NULL, -1), 1);
	sim_stats_free(s);
	sim_stats_free(NULL);
}

static void test_many_keys_and_rows(void **state)
{
	struct sim_stats *s = sim_stats_new();
	struct sim_stat_row *rows;
	char tag[32];
	size_t n;

	(void)state;
	for (int i = 0; i < 5000; i++) { /* past several table growths */
		snprintf(tag, sizeof(tag), "t%d", i % 2500);
		assert_int_equal(sim_stats_record(s, i % 3 ? "GetImageTag" : "GetRepo", "r", "i", tag), 0);
	}
	assert_int_equal(count(s, NULL, NULL, NULL, "t7", -1), 2);
	assert_int_equal(sim_stats_rows(s, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].action, "GetImageTag");
	assert_int_equal(rows[0].count, 3333);
	assert_string_equal(rows[1].action, "GetRepo");
	assert_int_equal(rows[1].count, 1667);
	sim_stats_rows_free(rows, n);
	sim_stats_reset(s);
	assert_int_equal(sim_stats_rows(s, &rows, &n), 0);
	assert_int_equal(n, 0);
	sim_stats_rows_free(rows, n);
	sim_stats_free(s);
}

static void test_access_log(void **state)
{
	struct sim_stats *s = sim_stats_new();
	char path[] = "/tmp/test_sim_stats.XXXXXX", text[256] = "";
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_false(sim_stats_log_enabled(s));
	sim_stats_log_line(s, "dropped: logging is off");
	assert_int_equal(sim_stats_log_open(s, path), 0);
	assert_true(sim_stats_log_enabled(s));
	sim_stats_log_line(s, "one");
	sim_stats_log_enable(s, false);
	sim_stats_log_line(s, "not this");
	sim_stats_log_enable(s, true);
	sim_stats_log_line(s, "two");
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fread(text, 1, sizeof(text) - 1, f), 8);
	fclose(f);
	assert_string_equal(text, "one\ntwo\n");
	assert_int_equal(sim_stats_log_open(s, "/nonexistent/dir/log"), -ENOENT);
	unlink(path);
	sim_stats_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counts),
	    cmocka_unit_test(test_many_keys_and_rows),
	    cmocka_unit_test(test_access_log),
	};

	return cmocka_run_group_tests_name("sim_stats", tests, NULL, NULL);
}
