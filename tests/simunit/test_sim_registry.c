/* test_sim_registry.c — uhub-sim's registry: the generator, sorting,
 * paging maths, pushes, deletes, LatestTag, the shuffle mutation and the
 * dump of the whole registry with its count of changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "../sim/sim_registry.h"

static struct sim_registry *generated(const char *spec)
{
	struct sim_registry *r = sim_registry_new();
	struct sim_gen g;

	assert_non_null(r);
	assert_int_equal(sim_gen_parse(spec, &g), 0);
	assert_int_equal(sim_registry_generate(r, &g), 0);
	return r;
}

static void test_page_window(void **state)
{
	size_t start, n;

	(void)state;
	sim_page_window(45, 0, 20, &start, &n);
	assert_true(start == 0 && n == 20);
	sim_page_window(45, 40, 20, &start, &n);
	assert_true(start == 40 && n == 5);
	sim_page_window(45, 45, 20, &start, &n);
	assert_true(start == 45 && n == 0);
	sim_page_window(45, 1000, 20, &start, &n);
	assert_true(start == 45 && n == 0);
	sim_page_window(45, 3, 0, &start, &n);
	assert_true(start == 3 && n == 0);
	sim_page_window(0, 0, 20, &start, &n);
	assert_true(start == 0 && n == 0);
	sim_page_window(10, 2, SIZE_MAX, &start, &n);
	assert_true(start == 2 && n == 8);
}

static void test_gen_parse(void **state)
{
	struct sim_gen g;

	(void)state;
	assert_int_equal(sim_gen_parse("repos=3,images=7,tags=100,seed=9,nested=2", &g), 0);
	assert_true(g.repos == 3 && g.images == 7 && g.tags == 100 && g.seed == 9 && g.nested == 2);
	assert_int_equal(sim_gen_parse("tags=4", &g), 0);
	assert_true(g.repos == 2 && g.images == 5 && g.tags == 4 && g.seed == 1 && g.nested == 5);
	assert_int_equal(sim_gen_parse("seed=18446744073709551615", &g), 0);
	assert_true(g.seed == UINT64_MAX);
	assert_int_equal(sim_gen_parse("repos=x", &g), -EINVAL);
	assert_int_equal(sim_gen_parse("colour=3", &g), -EINVAL);
	assert_int_equal(sim_gen_parse("repos=", &g), -EINVAL);
	assert_int_equal(sim_gen_parse("repos=1,", &g), -EINVAL);
	assert_int_equal(sim_gen_parse("repos=-1", &g), -EINVAL);
	assert_int_equal(sim_gen_parse("", &g), -EINVAL);
	assert_int_equal(sim_gen_parse("repos=1000,images=1000,tags=1000", &g), -E2BIG);
	assert_int_equal(sim_gen_parse("tags=99999999999", &g), -E2BIG);
}

static void test_generate_names_and_order(void **state)
{
	struct sim_registry *r = generated("repos=3,images=10,tags=12,seed=7");
	struct sim_page p;
	size_t nr, ni, nt;

	(void)state;
	sim_registry_counts(r, &nr, &ni, &nt);
	assert_true(nr == 3 && ni == 30 && nt == 360);
	assert_int_equal(sim_registry_list_repos(r, false, 0, 100, &p), 0);
	assert_int_equal(p.total, 3);
	assert_string_equal(p.items[0].name, "repo-00");
	assert_string_equal(p.items[2].name, "repo-02");
	assert_string_equal(p.items[0].description, "generated repository 0");
	sim_page_release(&p);
	assert_int_equal(sim_registry_list_repos(r, true, 0, 100, &p), 0);
	assert_int_equal(p.total, 0);
	sim_page_release(&p);

	assert_int_equal(sim_registry_list_images(r, "repo-01", 0, 100, &p), 0);
	assert_int_equal(p.total, 10);
	/* every 5th is nested; "team/..." sorts after "img-..." */
	assert_string_equal(p.items[7].name, "img-08");
	assert_string_equal(p.items[8].name, "team/img-04");
	assert_string_equal(p.items[9].name, "team/img-09");
	for (size_t i = 1; i < p.n; i++)
		assert_true(strcmp(p.items[i - 1].name, p.items[i].name) < 0);
	assert_string_equal(p.items[0].repo, "repo-01");
	assert_non_null(p.items[0].latest_tag);
	sim_page_release(&p);

	assert_int_equal(sim_registry_list_tags(r, "repo-01", "team/img-04", NULL, 10, 5, &p), 0);
	assert_int_equal(p.total, 12);
	assert_int_equal(p.n, 2);
	assert_string_equal(p.items[0].name, "tag-0010");
	assert_string_equal(p.items[1].name, "tag-0011");
	assert_int_equal(strlen(p.items[0].digest), 71);
	assert_memory_equal(p.items[0].digest, "sha256:", 7);
	assert_true(p.items[0].update_time >= SIM_GEN_TIME && p.items[0].update_time < SIM_GEN_TIME + 30 * 86400);
	sim_page_release(&p);
	sim_registry_free(r);
}

static void test_generate_deterministic(void **state)
{
	struct sim_registry *a = generated("repos=1,images=2,tags=3,seed=5");
	struct sim_registry *b = generated("repos=1,images=2,tags=3,seed=5");
	struct sim_registry *c = generated("repos=1,images=2,tags=3,seed=6");
	struct sim_page pa, pb, pc;

	(void)state;
	assert_int_equal(sim_registry_list_tags(a, "repo-00", "img-01", NULL, 0, 10, &pa), 0);
	assert_int_equal(sim_registry_list_tags(b, "repo-00", "img-01", NULL, 0, 10, &pb), 0);
	assert_int_equal(sim_registry_list_tags(c, "repo-00", "img-01", NULL, 0, 10, &pc), 0);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(pa.items[i].digest, pb.items[i].digest);
		assert_int_equal(pa.items[i].update_time, pb.items[i].update_time);
		assert_string_not_equal(pa.items[i].digest, pc.items[i].digest);
	}
	assert_string_not_equal(pa.items[0].digest, pa.items[1].digest);
	sim_page_release(&pa);
	sim_page_release(&pb);
	sim_page_release(&pc);
	sim_registry_free(a);
	sim_registry_free(b);
	sim_registry_free(c);
}

static void test_digest_shape(void **state)
{
	char d[72];

	(void)state;
	sim_registry_digest(1, "r", "i", "t", d);
	assert_int_equal(strlen(d), 71);
	assert_int_equal(strspn(d + 7, "0123456789abcdef"), 64);
}

static int64_t tag_time(struct sim_registry *r, const char *repo, const char *image, const char *tag)
{
	struct sim_page p;
	int64_t t = -1;

	assert_int_equal(sim_registry_list_tags(r, repo, image, tag, 0, 1, &p), 0);
	if (p.n == 1)
		t = p.items[0].update_time;
	sim_page_release(&p);
	return t;
}

static void expect_latest(struct sim_registry *r, const char *repo, const char *want, int64_t update)
{
	struct sim_page p;

	assert_int_equal(sim_registry_list_images(r, repo, 0, 1, &p), 0);
	if (want)
		assert_string_equal(p.items[0].latest_tag, want);
	else
		assert_null(p.items[0].latest_tag);
	assert_int_equal(p.items[0].update_time, update);
	sim_page_release(&p);
}

static void test_push_delete_latest(void **state)
{
	struct sim_registry *r = sim_registry_new();
	struct sim_push push = {.repo = "web", .image = "team/api", .tag = "v1", .digest = "sha256:aa", .time = 100};
	struct sim_page p;

	(void)state;
	assert_int_equal(sim_registry_push(r, &push), 0);
	expect_latest(r, "web", "v1", 100);
	push.tag = "v3";
	push.time = 300;
	assert_int_equal(sim_registry_push(r, &push), 0);
	push.tag = "v2";
	push.time = 200;
	push.digest = NULL;
	assert_int_equal(sim_registry_push(r, &push), 0);
	expect_latest(r, "web", "v3", 300);
	assert_int_equal(tag_time(r, "web", "team/api", "v2"), 200);
	assert_int_equal(sim_registry_list_tags(r, "web", "team/api", "v2", 0, 5, &p), 0);
	assert_null(p.items[0].digest);
	sim_page_release(&p);

	/* replacing the newest with an older time moves LatestTag back */
	push.tag = "v3";
	push.time = 50;
	assert_int_equal(sim_registry_push(r, &push), 0);
	expect_latest(r, "web", "v2", 300);
	assert_int_equal(sim_registry_delete(r, "web", "team/api", "v2"), 0);
	expect_latest(r, "web", "v1", 300);
	assert_int_equal(sim_registry_delete(r, "web", "team/api", "v2"), -ESRCH);
	assert_int_equal(sim_registry_delete(r, "web", "nope", NULL), -ENXIO);
	assert_int_equal(sim_registry_delete(r, "nope", NULL, NULL), -ENOENT);
	assert_int_equal(sim_registry_delete(r, "web", "team/api", "v1"), 0);
	assert_int_equal(sim_registry_delete(r, "web", "team/api", "v3"), 0);
	expect_latest(r, "web", NULL, 300);
	assert_int_equal(sim_registry_delete(r, "web", "team/api", NULL), 0);
	assert_int_equal(sim_registry_list_images(r, "web", 0, 5, &p), 0);
	assert_int_equal(p.total, 0);
	sim_page_release(&p);
	assert_int_equal(sim_registry_delete(r, "web", NULL, NULL), 0);
	assert_int_equal(sim_registry_list_images(r, "web", 0, 5, &p), -ENOENT);
	sim_registry_free(r);
}

static void test_builders_and_settle(void **state)
{
	struct sim_registry *r = sim_registry_new();
	struct sim_repo_info repo = {.name = "lib", .is_public = true, .description = "d"};
	struct sim_image_info img = {.name = "nginx", .pull_count = 7};
	struct sim_gen_tags gt = {.prefix = "b-", .count = 12, .step = 10, .start = 1000, .seed = 1};
	struct sim_page p;

	(void)state;
	assert_int_equal(sim_registry_add_repo(r, &repo), 0);
	assert_int_equal(sim_registry_add_repo(r, &repo), -EEXIST);
	assert_int_equal(sim_registry_add_repo(r, &(struct sim_repo_info){.name = ""}), -EINVAL);
	assert_int_equal(sim_registry_add_image(r, "nope", &img), -ENOENT);
	assert_int_equal(sim_registry_add_image(r, "lib", &img), 0);
	assert_int_equal(sim_registry_add_image(r, "lib", &img), -EEXIST);
	assert_int_equal(sim_registry_add_repo(r, &(struct sim_repo_info){.name = "empty"}), 0);
	assert_int_equal(sim_registry_gen_tags(r, "lib", "nginx", &gt), 0);
	assert_int_equal(sim_registry_gen_tags(r, "lib", "nope", &gt), -ENXIO);
	sim_registry_settle(r);

	assert_int_equal(sim_registry_list_tags(r, "lib", "nginx", NULL, 0, 100, &p), 0);
	assert_int_equal(p.total, 12);
	assert_string_equal(p.items[0].name, "b-0001");
	assert_string_equal(p.items[11].name, "b-0012");
	assert_int_equal(p.items[11].update_time, 1110);
	sim_page_release(&p);
	expect_latest(r, "lib", "b-0012", 1110);
	assert_int_equal(sim_registry_list_repos(r, true, 0, 10, &p), 0);
	assert_int_equal(p.total, 1);
	assert_int_equal(p.items[0].update_time, 1110);
	assert_int_equal(p.items[0].create_time, 1000);
	sim_page_release(&p);
	assert_int_equal(sim_registry_list_repos(r, false, 0, 10, &p), 0);
	assert_int_equal(p.items[0].update_time, SIM_BASE_TIME);
	sim_page_release(&p);
	sim_registry_free(r);
}

static void test_tag_filter_and_errors(void **state)
{
	struct sim_registry *r = generated("repos=1,images=1,tags=5");
	struct sim_page p;

	(void)state;
	assert_int_equal(sim_registry_list_tags(r, "repo-00", "img-00", "tag-0003", 0, 20, &p), 0);
	assert_true(p.total == 1 && p.n == 1);
	assert_string_equal(p.items[0].name, "tag-0003");
	sim_page_release(&p);
	assert_int_equal(sim_registry_list_tags(r, "repo-00", "img-00", "tag-0003", 1, 20, &p), 0);
	assert_true(p.total == 1 && p.n == 0);
	sim_page_release(&p);
	assert_int_equal(sim_registry_list_tags(r, "repo-00", "img-00", "nope", 0, 20, &p), 0);
	assert_true(p.total == 0 && p.n == 0);
	sim_page_release(&p);
	assert_int_equal(sim_registry_list_tags(r, "nope", "img-00", NULL, 0, 20, &p), -ENOENT);
	assert_int_equal(sim_registry_list_tags(r, "repo-00", "nope", NULL, 0, 20, &p), -ENXIO);
	assert_int_equal(sim_registry_list_images(r, "nope", 0, 20, &p), -ENOENT);
	sim_page_release(&p);
	sim_registry_free(r);
}

static void test_shuffle(void **state)
{
	struct sim_registry *r = generated("repos=1,images=1,tags=5");
	struct sim_page p;

	(void)state;
	assert_int_equal(sim_registry_shuffle(r, "repo-00", "img-00", 1, 2000000000), 0);
	assert_int_equal(sim_registry_list_tags(r, "repo-00", "img-00", NULL, 0, 20, &p), 0);
	assert_int_equal(p.total, 6);
	assert_string_equal(p.items[0].name, "0shuffle-000001");
	assert_string_equal(p.items[5].name, "tag-0004");
	sim_page_release(&p);
	assert_int_equal(sim_registry_shuffle(r, "repo-00", "img-00", 2, 2000000000), 0);
	assert_int_equal(sim_registry_list_tags(r, "repo-00", "img-00", NULL, 0, 20, &p), 0);
	assert_int_equal(p.total, 5);
	assert_string_equal(p.items[4].name, "tag-0003");
	sim_page_release(&p);
	assert_int_equal(sim_registry_list_images(r, "repo-00", 0, 1, &p), 0);
	assert_string_equal(p.items[0].latest_tag, "0shuffle-000001"); /* the newest */
	sim_page_release(&p);
	assert_int_equal(sim_registry_shuffle(r, "nope", "img-00", 1, 0), -ENOENT);
	assert_int_equal(sim_registry_shuffle(r, "repo-00", "nope", 1, 0), -ENXIO);
	sim_registry_free(r);
}

/* The dump holds every level at one instant; only successful mutations
 * count as changes. */
static void test_dump(void **state)
{
	struct sim_registry *r = generated("repos=2,images=2,tags=3,nested=0");
	struct sim_push push = {.repo = "repo-01", .image = "img-01", .tag = "v9", .time = 500};
	struct sim_dump d;

	(void)state;
	assert_int_equal(sim_registry_dump(r, &d), 0);
	assert_int_equal(d.changes, 0);
	assert_int_equal(d.nrepos, 2);
	assert_string_equal(d.repos[1].info.name, "repo-01");
	assert_int_equal(d.repos[1].nimages, 2);
	assert_int_equal(d.repos[1].images[1].tags.n, 3);
	assert_string_equal(d.repos[1].images[1].tags.items[2].name, "tag-0002");
	assert_non_null(d.repos[1].images[1].tags.items[2].digest);
	sim_dump_release(&d);
	sim_dump_release(&d); /* left empty: a second release is harmless */

	assert_int_equal(sim_registry_push(r, &push), 0);
	assert_int_equal(sim_registry_delete(r, "repo-00", "img-00", NULL), 0);
	assert_int_equal(sim_registry_delete(r, "repo-00", "img-00", NULL), -ENXIO); /* not a change */
	assert_int_equal(sim_registry_shuffle(r, "repo-01", "img-00", 1, 600), 0);
	assert_int_equal(sim_registry_dump(r, &d), 0);
	assert_int_equal(d.changes, 3);
	assert_int_equal(d.repos[0].nimages, 1);
	assert_string_equal(d.repos[1].images[1].tags.items[3].name, "v9");
	assert_null(d.repos[1].images[1].tags.items[3].digest);
	assert_int_equal(d.repos[1].images[1].tags.items[3].update_time, 500);
	assert_int_equal(d.repos[1].images[1].info.update_time,
			 500 > d.repos[1].images[1].info.update_time ? 500 : d.repos[1].images[1].info.update_time);
	assert_string_equal(d.repos[1].images[0].tags.items[0].name, "0shuffle-000001");
	sim_dump_release(&d);
	sim_registry_free(r);

	r = sim_registry_new();
	assert_int_equal(sim_registry_dump(r, &d), 0);
	assert_int_equal(d.nrepos, 0);
	assert_null(d.repos);
	sim_dump_release(&d);
	sim_registry_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_page_window),
	    cmocka_unit_test(test_gen_parse),
	    cmocka_unit_test(test_generate_names_and_order),
	    cmocka_unit_test(test_generate_deterministic),
	    cmocka_unit_test(test_digest_shape),
	    cmocka_unit_test(test_push_delete_latest),
	    cmocka_unit_test(test_builders_and_settle),
	    cmocka_unit_test(test_tag_filter_and_errors),
	    cmocka_unit_test(test_shuffle),
	    cmocka_unit_test(test_dump),
	};

	return cmocka_run_group_tests_name("sim_registry", tests, NULL, NULL);
}
