/* test_sim_api.c — uhub-sim's API logic: every error code in the
 * gateway's order, paging maths, the six actions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"
#include "../sim/sim_api.h"

struct fixture {
	struct sim_registry *reg;
	struct sim_api *api;
	struct sim_reply reply;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sim_gen g;

	f->reg = sim_registry_new();
	f->api = sim_api_new(f->reg);
	if (!f->reg || !f->api || sim_gen_parse("repos=2,images=5,tags=30", &g) || sim_registry_generate(f->reg, &g))
		return -1;
	if (sim_api_add_key(f->api, SIM_TEST_PUBLIC_KEY, SIM_TEST_PRIVATE_KEY) ||
	    sim_api_add_key(f->api, "other", "other-secret") || sim_api_add_project(f->api, "org-demo") ||
	    sim_api_add_project(f->api, "org-two"))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sim_reply_release(&f->reply);
	sim_api_free(f->api);
	sim_registry_free(f->reg);
	free(f);
	return 0;
}

/* Sends NAME, VALUE, ..., NULL signed with key (NULL: unsigned) as pub. */
static struct sim_reply *vcall(struct fixture *f, const char *pub, const char *key, va_list ap)
{
	struct params *p = params_new();
	const char *n;

	sim_reply_release(&f->reply);
	if (pub)
		assert_int_equal(params_add(p, "PublicKey", pub), 0);
	while ((n = va_arg(ap, const char *)))
		assert_int_equal(params_add(p, n, va_arg(ap, const char *)), 0);
	if (key)
		assert_int_equal(sign_params(p, key), 0);
	assert_int_equal(sim_api_handle(f->api, p, &f->reply), 0);
	params_free(p);
	return &f->reply;
}

static struct sim_reply *call(struct fixture *f, ...)
{
	struct sim_reply *r;
	va_list ap;

	va_start(ap, f);
	r = vcall(f, SIM_TEST_PUBLIC_KEY, SIM_TEST_PRIVATE_KEY, ap);
	va_end(ap);
	return r;
}

static struct sim_reply *call_as(struct fixture *f, const char *pub, const char *key, ...)
{
	struct sim_reply *r;
	va_list ap;

	va_start(ap, key);
	r = vcall(f, pub, key, ap);
	va_end(ap);
	return r;
}

static void expect(const struct sim_reply *r, int code, const char *message)
{
	assert_int_equal(r->retcode, code);
	assert_string_equal(r->message, message);
}

static void test_error_codes(void **state)
{
	struct fixture *f = *state;

	expect(call(f, "RepoName", "x", NULL), 160, "Missing Action");
	assert_string_equal(f->reply.action, "Response");
	expect(call(f, "Action", "", NULL), 160, "Missing Action");
	expect(call(f, "Action", "Nope", NULL), 161, "Action [Nope] not found");
	assert_string_equal(f->reply.action, "NopeResponse");
	expect(call_as(f, SIM_TEST_PUBLIC_KEY, NULL, "Action", "GetRepo", NULL), 170, "Missing Signature");
	expect(call_as(f, "stranger", "x", "Action", "GetRepo", NULL), 172, "User Not Exists");
	expect(call_as(f, NULL, "x", "Action", "GetRepo", NULL), 172, "User Not Exists");
	expect(call_as(f, SIM_TEST_PUBLIC_KEY, "46f09bb9fab4f12dfc160dae12273d5332b5debf", "Action", "GetRepo", NULL),
	       171, "Signature VerifyAC Error");
	expect(call_as(f, "other", SIM_TEST_PRIVATE_KEY, "Action", "GetRepo", NULL), 171, "Signature VerifyAC Error");
	expect(call_as(f, "other", "other-secret", "Action", "GetRepo", NULL), 0, "");
	expect(call(f, "Action", "GetRepoImage", NULL), 230, "Params [RepoName] not available");
	expect(call(f, "Action", "GetImageTag", "RepoName", "repo-00", NULL), 230, "Params [ImageName] not available");
	expect(call(f, "Action", "GetImageTag", "RepoName", "", "ImageName", "x", NULL), 230,
	       "Params [RepoName] not available");
	expect(call(f, "Action", "GetRepo", "ProjectId", "org-nope", NULL), 292, "Project [org-nope] not exists");
	expect(call(f, "Action", "GetRepo", "ProjectId", "org-two", NULL), 0, "");
	expect(call(f, "Action", "GetRepoImage", "RepoName", "nope", NULL), 230, "Params [RepoName] not available");
	expect(call(f, "Action", "GetImageTag", "RepoName", "repo-00", "ImageName", "nope", NULL), 230,
	       "Params [ImageName] not available");
}

/* Each check comes before the next: a request wrong in two ways gets the
 * earlier code. */
static void test_error_order(void **state)
{
	struct fixture *f = *state;

	expect(call_as(f, "stranger", NULL, "Action", "Nope", NULL), 161, "Action [Nope] not found");
	expect(call_as(f, "stranger", NULL, "Action", "GetRepo", NULL), 170, "Missing Signature");
	expect(call_as(f, "stranger", "x", "Action", "GetRepoImage", "ProjectId", "org-nope", NULL), 172,
	       "User Not Exists");
	expect(call_as(f, SIM_TEST_PUBLIC_KEY, "bad", "Action", "GetRepoImage", NULL), 171, "Signature VerifyAC Error");
	expect(call(f, "Action", "GetRepoImage", "ProjectId", "org-nope", NULL), 230,
	       "Params [RepoName] not available");
	expect(call(f, "Action", "GetRepoImage", "RepoName", "nope", "ProjectId", "org-nope", NULL), 292,
	       "Project [org-nope] not exists");
}

static void test_param_checks(void **state)
{
	struct fixture *f = *state;

	expect(call(f, "Action", "GetRepo", "Offset", "-1", NULL), 230, "Params [Offset] not available");
	expect(call(f, "Action", "GetRepo", "Offset", "1x", NULL), 230, "Params [Offset] not available");
	expect(call(f, "Action", "GetRepo", "Limit", "abc", NULL), 230, "Params [Limit] not available");
	expect(call(f, "Action", "GetRepo", "Limit", "", NULL), 230, "Params [Limit] not available");
	expect(call(f, "Action", "GetRepo", "Limit", "2147483648", NULL), 230, "Params [Limit] not available");
	expect(call(f, "Action", "GetRepo", "Limit", "2147483647", NULL), 0, "");
	expect(call(f, "Action", "GetRepo", "Type", "secret", NULL), 230, "Params [Type] not available");
	expect(call(f, "Action", "CreateRepo", "RepoName", "x", "IsShared", "yes", NULL), 230,
	       "Params [IsShared] not available");
	expect(call(f, "Action", "CreateRepo", "RepoName", "Upper", NULL), 230, "Params [RepoName] not available");
	expect(call(f, "Action", "CreateRepo", "RepoName", "-dash", NULL), 230, "Params [RepoName] not available");
}

static void test_parse_count_and_limit(void **state)
{
	size_t v = 99;

	(void)state;
	assert_int_equal(sim_api_parse_count(NULL, 20, &v), 0);
	assert_int_equal(v, 20);
	assert_int_equal(sim_api_parse_count("0", 20, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(sim_api_parse_count("00042", 20, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(sim_api_parse_count("+1", 20, &v), -EINVAL);
	assert_int_equal(sim_api_parse_count(" 1", 20, &v), -EINVAL);
	assert_int_equal(sim_api_parse_count("99999999999999999999999", 20, &v), -EINVAL);
	assert_int_equal(sim_api_effective_limit(100, 0), 100);
	assert_int_equal(sim_api_effective_limit(100, 25), 25);
	assert_int_equal(sim_api_effective_limit(10, 25), 10);
	assert_int_equal(sim_api_effective_limit(0, 25), 0);
}

static void test_lists_and_paging(void **state)
{
	struct fixture *f = *state;
	struct sim_reply *r;

	r = call(f, "Action", "GetRepo", "Type", "private", NULL);
	expect(r, 0, "");
	assert_string_equal(r->action, "GetRepoResponse");
	assert_int_equal(r->kind, SIM_LIST_REPOS);
	assert_int_equal(r->page.total, 2);
	r = call(f, "Action", "GetRepo", NULL); /* documented default: public */
	assert_int_equal(r->page.total, 0);
	r = call(f, "Action", "GetRepoImage", "RepoName", "repo-01", "Limit", "2", "Offset", "3", NULL);
	assert_int_equal(r->kind, SIM_LIST_IMAGES);
	assert_true(r->page.total == 5 && r->page.n == 2);
	assert_string_equal(r->page.items[0].name, "img-03");
	assert_string_equal(r->page.items[1].name, "team/img-04");
	r = call(f, "Action", "GetImageTag", "RepoName", "repo-01", "ImageName", "team/img-04", NULL);
	assert_int_equal(r->kind, SIM_LIST_TAGS);
	assert_true(r->page.total == 30 && r->page.n == SIM_DEFAULT_LIMIT);
	sim_api_set_max_limit(f->api, 7);
	assert_int_equal(sim_api_max_limit(f->api), 7);
	r = call(f, "Action", "GetImageTag", "RepoName", "repo-01", "ImageName", "img-00", "Limit", "100", "Offset",
		 "27", NULL);
	assert_true(r->page.total == 30 && r->page.n == 3);
	r = call(f, "Action", "GetImageTag", "RepoName", "repo-01", "ImageName", "img-00", "Limit", "100", NULL);
	assert_true(r->page.total == 30 && r->page.n == 7);
	sim_api_set_max_limit(f->api, 0);
	r = call(f, "Action", "GetImageTag", "RepoName", "repo-01", "ImageName", "img-00", "TagName", "tag-0029", NULL);
	assert_true(r->page.total == 1 && r->page.n == 1);
	assert_string_equal(r->page.items[0].name, "tag-0029");
	r = call(f, "Action", "GetImageTag", "RepoName", "repo-01", "ImageName", "img-00", "TagName", "", NULL);
	assert_int_equal(r->page.total, 30); /* an empty filter is no filter */
	/* extra parameters are signed over and otherwise ignored */
	r = call(f, "Action", "GetRepo", "Region", "cn-bj2", "Zone", "cn-bj2-04", NULL);
	expect(r, 0, "");
}

/* Hostile paging: trickle shrinks every later page to one item, late_total
 * makes every later page lie about TotalCount; the first page is honest. */
static void test_trickle_and_late_total(void **state)
{
	struct fixture *f = *state;
	struct sim_reply *r;

	sim_api_set_trickle(f->api, true);
	sim_api_set_late_total(f->api, 10000000000ULL);
	assert_true(sim_api_trickle(f->api) && sim_api_late_total(f->api) == 10000000000ULL);
	r = call(f, "Action", "GetImageTag", "RepoName", "repo-01", "ImageName", "img-00", "Limit", "10", NULL);
	assert_true(r->page.total == 30 && r->page.n == 10);
	r = call(f, "Action", "GetImageTag", "RepoName", "repo-01", "ImageName", "img-00", "Limit", "10", "Offset",
		 "10", NULL);
	assert_int_equal(r->page.n, 1);
	assert_string_equal(r->page.items[0].name, "tag-0010");
	assert_true(r->page.total == 10000000000ULL);
	r = call(f, "Action", "GetRepoImage", "RepoName", "repo-01", "Offset", "1", NULL);
	assert_true(r->page.n == 1 && r->page.total == 10000000000ULL);
	r = call(f, "Action", "GetRepoImage", "RepoName", "nope", "Offset", "1", NULL);
	expect(r, 230, "Params [RepoName] not available"); /* errors stay errors */
	sim_api_set_trickle(f->api, false);
	sim_api_set_late_total(f->api, 0);
	r = call(f, "Action", "GetImageTag", "RepoName", "repo-01", "ImageName", "img-00", "Limit", "10", "Offset",
		 "10", NULL);
	assert_true(r->page.total == 30 && r->page.n == 10);
	sim_api_set_pad_bytes(f->api, 4096);
	assert_int_equal(sim_api_pad_bytes(f->api), 4096);
}

static void test_write_actions(void **state)
{
	struct fixture *f = *state;
	struct sim_reply *r;

	expect(call(f, "Action", "CreateRepo", "RepoName", "fresh_1", "IsShared", "true", "Description", "new", NULL),
	       0, "");
	assert_int_equal(f->reply.kind, SIM_LIST_NONE);
	assert_string_equal(f->reply.action, "CreateRepoResponse");
	expect(call(f, "Action", "CreateRepo", "RepoName", "fresh_1", NULL), 230, "Repo [fresh_1] already exists");
	r = call(f, "Action", "GetRepo", "Type", "private", NULL);
	assert_int_equal(r->page.total, 3);
	assert_string_equal(r->page.items[0].name, "fresh_1");
	assert_true(r->page.items[0].is_shared);
	assert_string_equal(r->page.items[0].description, "new");
	expect(call(f, "Action", "DeleteRepoImage", "RepoName", "repo-00", "ImageName", "img-01", "TagName", "tag-0000",
		    NULL),
	       0, "");
	expect(call(f, "Action", "DeleteRepoImage", "RepoName", "repo-00", "ImageName", "img-01", "TagName", "tag-0000",
		    NULL),
	       230, "Params [TagName] not available");
	r = call(f, "Action", "GetImageTag", "RepoName", "repo-00", "ImageName", "img-01", NULL);
	assert_int_equal(r->page.total, 29);
	expect(call(f, "Action", "DeleteRepoImage", "RepoName", "repo-00", "ImageName", "img-01", NULL), 0, "");
	expect(call(f, "Action", "DeleteRepoImage", "RepoName", "repo-00", "ImageName", "img-01", NULL), 230,
	       "Params [ImageName] not available");
	expect(call(f, "Action", "DeleteRepo", "RepoName", "fresh_1", NULL), 0, "");
	expect(call(f, "Action", "DeleteRepo", "RepoName", "fresh_1", NULL), 230, "Params [RepoName] not available");
}

/* An image whose last tag is deleted stays listed, with no tags, until
 * it is deleted itself (the simulator's answer to what the API leaves
 * unknown; uhub-sim(1)). */
static void test_delete_last_tag_keeps_image(void **state)
{
	struct fixture *f = *state;
	const struct sim_reply *r;

	assert_int_equal(
	    sim_registry_push(
		f->reg, &(struct sim_push){.repo = "repo-00", .image = "solo", .tag = "only", .time = 1764000000}),
	    0);
	expect(
	    call(f, "Action", "DeleteRepoImage", "RepoName", "repo-00", "ImageName", "solo", "TagName", "only", NULL),
	    0, "");
	r = call(f, "Action", "GetImageTag", "RepoName", "repo-00", "ImageName", "solo", NULL);
	assert_int_equal(r->retcode, 0);
	assert_int_equal(r->page.total, 0);
	r = call(f, "Action", "GetRepoImage", "RepoName", "repo-00", "Limit", "100", NULL);
	assert_int_equal(r->page.total, 6);
	expect(call(f, "Action", "DeleteRepoImage", "RepoName", "repo-00", "ImageName", "solo", NULL), 0, "");
	r = call(f, "Action", "GetRepoImage", "RepoName", "repo-00", "Limit", "100", NULL);
	assert_int_equal(r->page.total, 5);
}

static void test_knobs_and_setup(void **state)
{
	struct fixture *f = *state;
	enum sim_time_style s;

	assert_int_equal(sim_api_add_key(f->api, "", "x"), -EINVAL);
	assert_int_equal(sim_api_add_key(f->api, "x", ""), -EINVAL);
	assert_int_equal(sim_api_add_project(f->api, ""), -EINVAL);
	assert_int_equal(sim_api_key_count(f->api), 2);
	assert_int_equal(sim_api_add_key(f->api, "other", "replaced"), 0);
	assert_int_equal(sim_api_key_count(f->api), 2);
	expect(call_as(f, "other", "replaced", "Action", "GetRepo", NULL), 0, "");
	assert_int_equal(sim_api_project_count(f->api), 2);
	assert_int_equal(sim_time_style_parse("rfc3339", &s), 0);
	assert_int_equal(s, SIM_TIME_RFC3339);
	assert_int_equal(sim_time_style_parse("iso", &s), -EINVAL);
	assert_string_equal(sim_time_style_name(SIM_TIME_NUMBER), "number");
	sim_api_set_time_style(f->api, SIM_TIME_UNIX);
	assert_int_equal(sim_api_time_style(f->api), SIM_TIME_UNIX);
	sim_api_set_retcode_string(f->api, true);
	assert_true(sim_api_retcode_string(f->api));
	assert_true(sim_api_known_action("DeleteRepoImage"));
	assert_false(sim_api_known_action("getrepo"));
	assert_false(sim_api_known_action(NULL));
	assert_true(sim_api_list_action("GetImageTag"));
	assert_false(sim_api_list_action("CreateRepo"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_error_codes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_param_checks, setup, teardown),
	    cmocka_unit_test(test_parse_count_and_limit),
	    cmocka_unit_test_setup_teardown(test_lists_and_paging, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trickle_and_late_total, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_actions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_last_tag_keeps_image, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_knobs_and_setup, setup, teardown),
	};

	return cmocka_run_group_tests_name("sim_api", tests, NULL, NULL);
}
