/* test_sim_json.c — uhub-sim's JSON: the data-file loader and its error
 * messages, JSON request bodies, and the reply format in every style. */
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

#include "../sim/sim_json.h"

static const char sample[] =
    "{\"_comment\": \"x\", \"repos\": ["
    " {\"name\": \"web\", \"description\": \"Web\", \"is_shared\": true,"
    "  \"images\": ["
    "   {\"name\": \"team/api\", \"pull_count\": 12,"
    "    \"tags\": [{\"name\": \"v1\", \"digest\": \"sha256:ab\", \"update_time\": 1795745700},"
    "             {\"name\": \"v2\", \"update_time\": \"2026-11-27 10:16:00\"},"
    "             {\"name\": \"v0\", \"update_time\": \"2026-11-27T02:14:00Z\"}]},"
    "   {\"name\": \"gen\", \"generate\": {\"tags\": 30, \"prefix\": \"b\", \"width\": 3,"
    "     \"start\": 1000, \"step\": 10}}]},"
    " {\"name\": \"lib\", \"type\": \"public\", \"update_time\": \"1700000000\"}]}";

static void load_ok(struct sim_registry *r, const char *text)
{
	char err[256] = "";
	int rc = sim_json_load(r, text, strlen(text), err, sizeof(err));

	if (rc)
		fail_msg("load failed: %d %s", rc, err);
}

static void test_load_sample(void **state)
{
	struct sim_registry *r = sim_registry_new();
	struct sim_page p;

	(void)state;
	load_ok(r, sample);
	assert_int_equal(sim_registry_list_repos(r, false, 0, 10, &p), 0);
	assert_int_equal(p.total, 1);
	assert_string_equal(p.items[0].name, "web");
	assert_string_equal(p.items[0].description, "Web");
	assert_true(p.items[0].is_shared);
	assert_int_equal(p.items[0].update_time, 1795745760); /* from its newest tag */
	sim_page_release(&p);
	assert_int_equal(sim_registry_list_repos(r, true, 0, 10, &p), 0);
	assert_int_equal(p.items[0].update_time, 1700000000);
	sim_page_release(&p);
	assert_int_equal(sim_registry_list_tags(r, "web", "team/api", NULL, 0, 10, &p), 0);
	assert_int_equal(p.total, 3);
	assert_string_equal(p.items[0].name, "v0");
	assert_int_equal(p.items[0].update_time, 1795745640);
	assert_null(p.items[0].digest);
	assert_string_equal(p.items[1].digest, "sha256:ab");
	assert_int_equal(p.items[2].update_time, 1795745760); /* plain times are UTC+8 */
	sim_page_release(&p);
	assert_int_equal(sim_registry_list_images(r, "web", 0, 10, &p), 0);
	assert_string_equal(p.items[0].name, "gen");
	assert_string_equal(p.items[0].latest_tag, "b030");
	assert_string_equal(p.items[1].latest_tag, "v2");
	assert_int_equal(p.items[1].pull_count, 12);
	assert_int_equal(p.items[1].create_time, 1795745640);
	sim_page_release(&p);
	assert_int_equal(sim_registry_list_tags(r, "web", "gen", NULL, 29, 10, &p), 0);
	assert_string_equal(p.items[0].name, "b030");
	assert_int_equal(p.items[0].update_time, 1290);
	assert_non_null(p.items[0].digest);
	sim_page_release(&p);
	sim_registry_free(r);
}

static void expect_error(const char *text, int code, const char *message)
{
	struct sim_registry *r = sim_registry_new();
	char err[256] = "";

	assert_int_equal(sim_json_load(r, text, strlen(text), err, sizeof(err)), code);
	if (!strstr(err, message))
		fail_msg("error [%s] lacks [%s]", err, message);
	sim_registry_free(r);
}

static void test_load_errors(void **state)
{
	(void)state;
	expect_error("{\"repos\": [", -EINVAL, "not valid JSON");
	expect_error("[]", -EINVAL, "top level: not a JSON object");
	expect_error("{}", -EINVAL, "needs a \"repos\" array");
	expect_error("{\"repo\": []}", -EINVAL, "top level: unknown key repo");
	expect_error("{\"repos\": [{\"nme\": \"x\"}]}", -EINVAL, "repos[0]: unknown key nme");
	expect_error("{\"repos\": [{}]}", -EINVAL, "repos[0]: missing name");
	expect_error("{\"repos\": [{\"name\": 3}]}", -EINVAL, "repos[0]: must be a string: name");
	expect_error("{\"repos\": [{\"name\": \"a\", \"type\": \"secret\"}]}", -EINVAL,
		     "type must be private or public");
	expect_error("{\"repos\": [{\"name\": \"a\", \"is_shared\": \"yes\"}]}", -EINVAL, "must be true or false");
	expect_error("{\"repos\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}", -EEXIST, "repos[1]: duplicate repo a");
	expect_error("{\"repos\": [{\"name\": \"a\", \"images\": {}}]}", -EINVAL, "must be an array: images");
	expect_error("{\"repos\": [{\"name\": \"a\", \"images\": [{\"name\": \"i\"}, {\"name\": \"i\"}]}]}", -EEXIST,
		     "repos[0].images[1]: duplicate image i");
	expect_error("{\"repos\": [{\"name\": \"a\", \"images\": [{\"name\": \"i\", \"tags\": [{\"name\": \"t\", "
		     "\"update_time\": \"yesterday\"}]}]}]}",
		     -EINVAL, "repos[0].images[0].tags[0]: not a time: update_time");
	expect_error("{\"repos\": [{\"name\": \"a\", \"images\": [{\"name\": \"i\", \"pull_count\": -1}]}]}", -EINVAL,
		     "whole number in range: pull_count");
	expect_error(
	    "{\"repos\": [{\"name\": \"a\", \"images\": [{\"name\": \"i\", \"generate\": {\"prefix\": \"x\"}}]}]}",
	    -EINVAL, "repos[0].images[0].generate: missing tags");
}

static void test_load_file(void **state)
{
	struct sim_registry *r = sim_registry_new();
	char path[] = "/tmp/test_sim_json.XXXXXX", err[256];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, sample, strlen(sample)), (ssize_t)strlen(sample));
	close(fd);
	assert_int_equal(sim_json_load_file(r, path, err, sizeof(err)), 0);
	unlink(path);
	assert_int_equal(sim_json_load_file(r, path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	sim_registry_free(r);
}

static void test_body_params(void **state)
{
	const char *body = "{\"Action\":\"GetImageTag\",\"Limit\":20,\"Big\":12345678901,\"Neg\":-3,\"F\":1.5,"
			   "\"B\":true,\"C\":false,\"N\":null,\"U\":\"\\u4e2d\"}";
	struct params *p = params_new();

	(void)state;
	assert_int_equal(sim_json_body_params(body, strlen(body), p), 0);
	assert_int_equal(params_count(p), 8);
	assert_string_equal(params_get(p, "Action"), "GetImageTag");
	assert_string_equal(params_get(p, "Limit"), "20");
	assert_string_equal(params_get(p, "Big"), "12345678901");
	assert_string_equal(params_get(p, "Neg"), "-3");
	assert_string_equal(params_get(p, "F"), "1.5");
	assert_string_equal(params_get(p, "B"), "true");
	assert_string_equal(params_get(p, "C"), "false");
	assert_null(params_get(p, "N"));
	assert_string_equal(params_get(p, "U"), "\xe4\xb8\xad");
	params_free(p);
	p = params_new();
	assert_int_equal(sim_json_body_params("{\"a\":[1]}", 9, p), -EINVAL);
	assert_int_equal(sim_json_body_params("{\"a\":{}}", 8, p), -EINVAL);
	assert_int_equal(sim_json_body_params("[1]", 3, p), -EINVAL);
	assert_int_equal(sim_json_body_params("{\"a\":", 5, p), -EINVAL);
	assert_int_equal(sim_json_body_params("", 0, p), -EINVAL);
	params_free(p);
}

/* A reply of kind with one item, formatted with st. */
static char *format(enum sim_list_kind kind, struct sim_item *it, size_t total, const struct sim_json_style *st)
{
	struct sim_reply r = {.retcode = 0, .kind = kind, .page = {.items = it, .n = 1, .total = total}};
	struct buf b;

	snprintf(r.action, sizeof(r.action), "XResponse");
	buf_init(&b, 1 << 20);
	assert_int_equal(sim_json_reply(&r, st, &b), 0);
	return buf_take(&b);
}

static void expect_text(char *got, const char *want)
{
	assert_string_equal(got, want);
	free(got);
}

static void test_reply_format(void **state)
{
	struct sim_item tag = {.name = "v1", .digest = "sha256:ab", .update_time = 1795745700};
	struct sim_item nodigest = {.name = "v2", .update_time = 1795745700};
	struct sim_item repo = {
	    .name = "web", .description = "D", .create_time = 1, .update_time = 1795745700, .is_shared = true};
	struct sim_item img = {.name = "team/api",
			       .repo = "web",
			       .latest_tag = "v1",
			       .pull_count = 12,
			       .create_time = 1795745700,
			       .update_time = 1795745700};
	struct sim_json_style plain = {.time = SIM_TIME_PLAIN};
	struct sim_json_style st = plain;

	(void)state;
	expect_text(format(SIM_LIST_TAGS, &tag, 5, &plain),
		    "{\"RetCode\":0,\"Action\":\"XResponse\",\"TotalCount\":5,\"TagSet\":[{\"TagName\":\"v1\","
		    "\"UpdateTime\":\"2026-11-27 10:15:00\",\"Digest\":\"sha256:ab\"}]}");
	expect_text(format(SIM_LIST_TAGS, &nodigest, 1, &plain),
		    "{\"RetCode\":0,\"Action\":\"XResponse\",\"TotalCount\":1,\"TagSet\":[{\"TagName\":\"v2\","
		    "\"UpdateTime\":\"2026-11-27 10:15:00\"}]}");
	expect_text(
	    format(SIM_LIST_REPOS, &repo, 1, &plain),
	    "{\"RetCode\":0,\"Action\":\"XResponse\",\"TotalCount\":1,\"RepoSet\":[{\"RepoName\":\"web\","
	    "\"Description\":\"D\",\"CreateTime\":\"1970-01-01 08:00:01\",\"UpdateTime\":\"2026-11-27 10:15:00\","
	    "\"IsShared\":\"true\",\"IsOutSide\":\"false\"}]}");
	st.time = SIM_TIME_UNIX;
	expect_text(format(SIM_LIST_IMAGES, &img, 1, &st),
		    "{\"RetCode\":0,\"Action\":\"XResponse\",\"TotalCount\":1,\"ImageSet\":[{\"RepoName\":\"web\","
		    "\"ImageName\":\"team/api\",\"LatestTag\":\"v1\",\"PullCount\":12,\"CreateTime\":\"1795745700\","
		    "\"UpdateTime\":\"1795745700\"}]}");
	st.time = SIM_TIME_NUMBER;
	st.total_factor = 10;
	st.retcode_string = true;
	expect_text(format(SIM_LIST_TAGS, &nodigest, 4, &st),
		    "{\"RetCode\":\"0\",\"Action\":\"XResponse\",\"TotalCount\":40,\"TagSet\":[{\"TagName\":\"v2\","
		    "\"UpdateTime\":1795745700}]}");
	st = (struct sim_json_style){.time = SIM_TIME_RFC3339};
	expect_text(format(SIM_LIST_TAGS, &nodigest, 1, &st),
		    "{\"RetCode\":0,\"Action\":\"XResponse\",\"TotalCount\":1,\"TagSet\":[{\"TagName\":\"v2\","
		    "\"UpdateTime\":\"2026-11-27T02:15:00Z\"}]}");
	/* pad_bytes: a Digest that long, with or without a digest of its own */
	st.pad_bytes = 12;
	expect_text(format(SIM_LIST_TAGS, &nodigest, 1, &st),
		    "{\"RetCode\":0,\"Action\":\"XResponse\",\"TotalCount\":1,\"TagSet\":[{\"TagName\":\"v2\","
		    "\"UpdateTime\":\"2026-11-27T02:15:00Z\",\"Digest\":\"sha256:fffff\"}]}");
	st.pad_bytes = 4096;
	{
		char *text = format(SIM_LIST_TAGS, &tag, 1, &st);
		const char *d = strstr(text, "\"Digest\":\"sha256:");

		assert_non_null(d);
		assert_int_equal(strspn(d + 17, "f"), 4096 - 7);
		free(text);
	}
}

static void test_reply_error_and_stats(void **state)
{
	struct sim_reply r;
	struct sim_json_style st = {.time = SIM_TIME_PLAIN};
	struct sim_stat_row rows[] = {{.action = "GetRepo", .count = 3}, {.action = "", .count = 1}};
	struct buf b;

	(void)state;
	sim_reply_error(&r, "GetRepo", 171, "Signature VerifyAC Error");
	r.kind = SIM_LIST_REPOS; /* an error reply has no list, whatever kind says */
	buf_init(&b, 4096);
	assert_int_equal(sim_json_reply(&r, &st, &b), 0);
	assert_string_equal(
	    b.data, "{\"RetCode\":171,\"Action\":\"GetRepoResponse\",\"Message\":\"Signature VerifyAC Error\"}");
	buf_reset(&b);
	assert_int_equal(sim_json_reply(&r, &st, &(struct buf){.max = 10}), -EFBIG);
	assert_int_equal(sim_json_stats(rows, 2, &b), 0);
	assert_string_equal(b.data, "{\"GetRepo\":3,\"\":1}");
	buf_reset(&b);
	assert_int_equal(sim_json_stats(rows, 0, &b), 0);
	assert_string_equal(b.data, "{}");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_sample),	 cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_load_file),	 cmocka_unit_test(test_body_params),
	    cmocka_unit_test(test_reply_format), cmocka_unit_test(test_reply_error_and_stats),
	};

	return cmocka_run_group_tests_name("sim_json", tests, NULL, NULL);
}
