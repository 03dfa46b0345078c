/* test_prune.c — deletion (prune.c) over the in-memory API: a tag is
 * deleted only when what the kernel was shown, what the mount shows and
 * what the registry answers agree; who may; what an unsure failure leads
 * to (a look first, never a blind second deletion); rmdir's rules; the
 * table of what was shown. Calls counted at the fake API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "cache.h"
#include "fake_api.h"
#include "fresh.h"
#include "prune.h"
#include "tree.h"
#include "tree_walk.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define OWNER 1000
#define INO 4242

struct fixture {
	struct fake_api *f;
	struct uhub *u;
	struct cache *c;
	struct tree *t;
	struct prune *p;
	struct fresh *fresh; /* the tree's policy, on the fixture's clock */
	int64_t now;
};

static const struct prune_who owner = {.uid = OWNER, .pid = 77};

static int64_t fake_clock(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	struct tree_config tc = {.api_tz = 8 * 3600,
				 .uid = OWNER,
				 .gid = OWNER,
				 .umask = 022,
				 .mount_time = 1700000000,
				 .writable_dirs = true};

	x->now = 1000000;
	x->f = fake_api_new();
	fake_api_add_repo(x->f, "web", "1764000000");
	fake_api_add_image(x->f, "web", "api", "1764000000");
	fake_api_add_image(x->f, "web", "empty", "1764000000");
	fake_api_add_image(x->f, "web", "team/app", "1764000000");
	fake_api_add_tag(x->f, "web", "api", "v1", D1, "1764000000");
	fake_api_add_tag(x->f, "web", "api", "v2", D2, "2026-11-27 10:15:00");
	fake_api_add_tag(x->f, "web", "team/app", "v1", D1, "1764000000");
	x->u = fake_api_client(x->f, 100, 4);
	x->c = cache_new(64 << 20, fake_clock, x);
	x->fresh =
	    fresh_new(&(struct fresh_config){.ttl_ms = 60000, .neg_ttl_ms = 5000, .clock = fake_clock, .clock_arg = x});
	tc.fresh = x->fresh;
	x->t = tree_new(&tc, x->u, x->c, NULL);
	x->p = prune_new(&(struct prune_config){.owner = OWNER, .retries = 3}, x->t, x->u, NULL);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	prune_free(x->p);
	tree_free(x->t);
	fresh_free(x->fresh);
	cache_free(x->c);
	uhub_free(x->u);
	fake_api_free(x->f);
	free(x);
	return 0;
}

/* The kernel is shown path (as a LOOKUP reply would), as inode INO. */
static void show(struct fixture *x, const char *path)
{
	struct stat st;
	int64_t until;

	assert_int_equal(tree_stat(x->t, path, &st, &until), 0);
	prune_shown(x->p, INO, &st);
}

static unsigned deletes(struct fixture *x)
{
	return fake_api_calls(x->f, "DeleteRepoImage", NULL);
}

static unsigned checks(struct fixture *x)
{
	return fake_api_calls(x->f, "GetImageTag", "*");
}

static uint64_t stat_of(struct fixture *x, int which)
{
	struct prune_stats s;

	prune_get_stats(x->p, &s);
	return which == 0 ? s.done : which == 1 ? s.refused : s.failed;
}

static int count(void *arg, const char *name, const struct stat *st)
{
	(void)name;
	if (st)
		++*(size_t *)arg;
	return 0;
}

static void shown_tag_is_deleted_with_one_check(void **state)
{
	struct fixture *x = *state;
	struct stat st;
	int64_t until;
	size_t n = 0;

	assert_int_equal(tree_readdir(x->t, "/web/api", count, &n), 0); /* ls: the listing cached */
	show(x, "/web/api/v1");
	fake_api_reset_calls(x->f);
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), 0);
	assert_int_equal(deletes(x), 1);
	assert_int_equal(checks(x), 1);
	assert_false(fake_api_has_tag(x->f, "web", "api", "v1"));
	/* Gone from the cached listing at once, which is still used. */
	fake_api_reset_calls(x->f);
	assert_int_equal(tree_stat(x->t, "/web/api/v1", &st, &until), -ENOENT);
	assert_int_equal(tree_stat(x->t, "/web/api/v2", &st, &until), 0);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	n = 0;
	assert_int_equal(tree_readdir(x->t, "/web/api", count, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	assert_int_equal(stat_of(x, 0), 1);
}

static void a_nested_image_tag_too(void **state)
{
	struct fixture *x = *state;

	show(x, "/web/team/app/v1");
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/team/app/v1"), 0);
	assert_false(fake_api_has_tag(x->f, "web", "team/app", "v1"));
}

static void never_shown_is_refused(void **state)
{
	struct fixture *x = *state;

	fake_api_reset_calls(x->f);
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), -EBUSY);
	assert_int_equal(prune_unlink(x->p, &owner, 0, "/web/api/v1"), -EBUSY);
	assert_int_equal(deletes(x), 0);
	assert_true(fake_api_has_tag(x->f, "web", "api", "v1"));
	assert_int_equal(stat_of(x, 1), 2);
}

static void shown_other_times_is_refused(void **state)
{
	struct fixture *x = *state;
	struct stat st;
	int64_t until;

	assert_int_equal(tree_stat(x->t, "/web/api/v1", &st, &until), 0);
	st.st_mtime -= 1; /* the kernel holds an older answer */
	prune_shown(x->p, INO, &st);
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), -EBUSY);
	assert_int_equal(deletes(x), 0);
}

static void repushed_in_the_registry_is_refused(void **state)
{
	struct fixture *x = *state;

	show(x, "/web/api/v1");
	fake_api_del_tag(x->f, "web", "api", "v1");
	fake_api_add_tag(x->f, "web", "api", "v1", D2, "1764000000"); /* the same second */
	fake_api_reset_calls(x->f);
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), -EBUSY);
	assert_int_equal(deletes(x), 0);
	assert_int_equal(checks(x), 1);
	fake_api_del_tag(x->f, "web", "api", "v1");
	fake_api_add_tag(x->f, "web", "api", "v1", D1, "1764000001"); /* a later time */
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), -EBUSY);
	assert_int_equal(deletes(x), 0);
	assert_true(fake_api_has_tag(x->f, "web", "api", "v1"));
}

static void another_user_costs_no_call(void **state)
{
	struct fixture *x = *state;
	const struct prune_who other = {.uid = OWNER + 1, .pid = 1}, root = {.uid = 0, .pid = 1};

	show(x, "/web/api/v1");
	fake_api_reset_calls(x->f);
	assert_int_equal(prune_unlink(x->p, &other, INO, "/web/api/v1"), -EACCES);
	assert_int_equal(prune_rmdir(x->p, &other, "/web/empty"), -EACCES);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 0);
	assert_int_equal(prune_unlink(x->p, &root, INO, "/web/api/v1"), 0);
}

static void missing_tag_is_enoent(void **state)
{
	struct fixture *x = *state;

	show(x, "/web/api/v1");
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/nope"), -ENOENT);
	assert_int_equal(deletes(x), 0);
	/* Deleted elsewhere after it was listed: ENOENT, and no longer shown. */
	fake_api_del_tag(x->f, "web", "api", "v1");
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), -ENOENT);
	assert_int_equal(deletes(x), 0);
}

/* A reply lost after the deletion was carried out: the look that follows
 * finds the tag gone, and nothing is sent again. */
static void unsure_then_gone_is_done(void **state)
{
	struct fixture *x = *state;

	show(x, "/web/api/v1");
	fake_api_reset_calls(x->f);
	fake_api_fail_skip(x->f, 1); /* the first check passes */
	fake_api_fail_next(x->f, 1, FAKE_LOST, ETIMEDOUT);
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), 0);
	assert_int_equal(deletes(x), 1);
	assert_int_equal(checks(x), 2);
	assert_int_equal(stat_of(x, 0), 1);
}

/* A timeout that did nothing: looked at, the same tag, deleted again. */
static void unsure_then_same_is_sent_again(void **state)
{
	struct fixture *x = *state;

	show(x, "/web/api/v1");
	fake_api_reset_calls(x->f);
	fake_api_fail_skip(x->f, 1);
	fake_api_fail_next(x->f, 1, FAKE_TRANSPORT, ETIMEDOUT);
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), 0);
	assert_int_equal(deletes(x), 2);
	assert_int_equal(checks(x), 2);
	assert_false(fake_api_has_tag(x->f, "web", "api", "v1"));
}

/* Re-pushed between an unsure deletion and the look after it: refused,
 * not deleted a second time. */
static void unsure_then_repushed_is_refused(void **state)
{
	struct fixture *x = *state;

	show(x, "/web/api/v1");
	fake_api_reset_calls(x->f);
	fake_api_fail_skip(x->f, 1);
	fake_api_fail_next(x->f, 1, FAKE_LOST, ETIMEDOUT);
	/* Call 2 (the lost deletion) answered: the tag comes back. */
	fake_api_change_after(x->f, 2, 0, 1, "web", "api", "v1");
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), -EBUSY);
	assert_int_equal(deletes(x), 1);
	assert_true(fake_api_has_tag(x->f, "web", "api", "v1"));
}

/* Every try unsure: each preceded by a check, then the error; the tag
 * stays. */
static void unsure_every_time_fails(void **state)
{
	struct fixture *x = *state;

	show(x, "/web/api/v1");
	fake_api_reset_calls(x->f);
	fake_api_fail_action(x->f, "DeleteRepoImage");
	fake_api_fail_next(x->f, 100, FAKE_HTTP, 502);
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), -EIO);
	assert_int_equal(deletes(x), 4); /* retries = 3 */
	assert_int_equal(checks(x), 4);
	assert_true(fake_api_has_tag(x->f, "web", "api", "v1"));
	assert_int_equal(stat_of(x, 2), 1);
}

/* Throttled (429): certainly not carried out, so sent again at once
 * without a look. */
static void throttled_is_sent_again_blind(void **state)
{
	struct fixture *x = *state;

	show(x, "/web/api/v1");
	fake_api_reset_calls(x->f);
	fake_api_fail_skip(x->f, 1);
	fake_api_fail_next(x->f, 1, FAKE_HTTP, 429);
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), 0);
	assert_int_equal(deletes(x), 2);
	assert_int_equal(checks(x), 1);
}

static void refused_by_the_api_fails_and_keeps(void **state)
{
	struct fixture *x = *state;

	show(x, "/web/api/v1");
	fake_api_reset_calls(x->f);
	fake_api_fail_skip(x->f, 1);
	fake_api_fail_next(x->f, 1, FAKE_RETCODE, 295);
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), -EACCES);
	assert_int_equal(deletes(x), 1);
	assert_true(fake_api_has_tag(x->f, "web", "api", "v1"));
	assert_int_equal(stat_of(x, 2), 1);
}

static void rmdir_rules(void **state)
{
	struct fixture *x = *state;

	fake_api_reset_calls(x->f);
	assert_int_equal(prune_rmdir(x->p, &owner, "/web/api"), -ENOTEMPTY);
	assert_int_equal(prune_rmdir(x->p, &owner, "/web/team"), -ENOTEMPTY);
	assert_int_equal(prune_rmdir(x->p, &owner, "/web"), -EPERM);
	assert_int_equal(prune_rmdir(x->p, &owner, "/web/api/v1"), -ENOTDIR);
	assert_int_equal(deletes(x), 0);
	assert_int_equal(prune_rmdir(x->p, &owner, "/web/empty"), 0);
	assert_int_equal(fake_api_calls(x->f, "DeleteRepoImage", NULL), 1);
	assert_false(fake_api_has_image(x->f, "web", "empty"));
	/* Emptied through the mount: then it goes too. */
	show(x, "/web/team/app/v1");
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/team/app/v1"), 0);
	assert_int_equal(prune_rmdir(x->p, &owner, "/web/team/app"), 0);
	assert_false(fake_api_has_image(x->f, "web", "team/app"));
}

/* A tag pushed to an image the mount showed empty: refused. */
static void rmdir_of_an_image_pushed_to_is_refused(void **state)
{
	struct fixture *x = *state;
	struct tree_dir *d;

	assert_int_equal(tree_opendir(x->t, "/web/empty", &d), 0); /* shown empty */
	tree_closedir(d);
	fake_api_add_tag(x->f, "web", "empty", "new", D1, "1764000000");
	fake_api_reset_calls(x->f);
	assert_int_equal(prune_rmdir(x->p, &owner, "/web/empty"), -EBUSY);
	assert_int_equal(deletes(x), 0);
	assert_true(fake_api_has_image(x->f, "web", "empty"));
}

static void the_shown_table_follows_the_kernel(void **state)
{
	struct fixture *x = *state;
	struct stat st = {.st_mode = S_IFREG | 0444, .st_mtime = 5, .st_ctime = 6};
	struct stat dir = {.st_mode = S_IFDIR | 0755};
	struct prune_stats s;

	for (uint64_t i = 1; i <= 5000; i++)
		prune_shown(x->p, i * 0x9e3779b97f4a7c15ull, &st);
	prune_shown(x->p, 99, &dir); /* directories are not kept */
	prune_get_stats(x->p, &s);
	assert_int_equal(s.shown, 5000);
	for (uint64_t i = 1; i <= 5000; i += 2)
		prune_forgotten(x->p, i * 0x9e3779b97f4a7c15ull);
	prune_forgotten(x->p, 12345); /* unknown: nothing */
	prune_get_stats(x->p, &s);
	assert_int_equal(s.shown, 2500);
	/* Those left are still found after the deletions shifted them. */
	for (uint64_t i = 2; i <= 5000; i += 2)
		prune_shown(x->p, i * 0x9e3779b97f4a7c15ull, &st);
	prune_get_stats(x->p, &s);
	assert_int_equal(s.shown, 2500);
}

/* The kernel forgetting the inode (memory pressure, drop_caches) does
 * not make the next lookup a first showing: rm after a re-push is still
 * refused. */
static void forgotten_still_guards(void **state)
{
	struct fixture *x = *state;
	struct stat st;
	int64_t until;

	show(x, "/web/api/v1");
	prune_forgotten(x->p, INO);
	fake_api_del_tag(x->f, "web", "api", "v1");
	fake_api_add_tag(x->f, "web", "api", "v1", D2, "1764000000"); /* the same second */
	assert_int_equal(tree_refresh(x->t, "/web/api"), 0);
	assert_int_equal(tree_stat(x->t, "/web/api/v1", &st, &until), 0);
	assert_false(prune_looked_up(x->p, INO, &st)); /* rm's own lookup */
	fake_api_reset_calls(x->f);
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), -EBUSY);
	assert_int_equal(deletes(x), 0);
	assert_true(fake_api_has_tag(x->f, "web", "api", "v1"));
	/* A listing shows the new bytes: then they may go. */
	prune_shown(x->p, INO, &st);
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), 0);
	assert_int_equal(deletes(x), 1);
}

/* A stat that read the tree before a listing recorded newer bytes hands
 * the process the older ones: its unlink must not delete the newer. */
static void older_lookup_contradicts(void **state)
{
	struct fixture *x = *state;
	struct stat old, st;
	int64_t until;

	assert_int_equal(tree_stat(x->t, "/web/api/v1", &old, &until), 0);
	fake_api_del_tag(x->f, "web", "api", "v1");
	fake_api_add_tag(x->f, "web", "api", "v1", D2, "1764000000"); /* the same second */
	assert_int_equal(tree_refresh(x->t, "/web/api"), 0);
	assert_int_equal(tree_stat(x->t, "/web/api/v1", &st, &until), 0);
	prune_shown(x->p, INO, &st);			/* another process lists the new bytes */
	assert_false(prune_looked_up(x->p, INO, &old)); /* this one's stat had the old */
	fake_api_reset_calls(x->f);
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), -EBUSY);
	assert_int_equal(deletes(x), 0);
	prune_shown(x->p, INO, &st); /* listed again: trusted again */
	assert_int_equal(prune_unlink(x->p, &owner, INO, "/web/api/v1"), 0);
}

/* At most keep_gone records outlive the kernel's inodes; the oldest go. */
static void gone_records_are_bounded(void **state)
{
	struct fixture *x = *state;
	struct stat st = {.st_mode = S_IFREG | 0444, .st_mtime = 5, .st_ctime = 6, .st_dev = 7};
	struct stat other = st;
	struct prune_stats s;

	prune_free(x->p);
	x->p = prune_new(&(struct prune_config){.owner = OWNER, .retries = 3, .keep_gone = 8}, x->t, x->u, NULL);
	assert_non_null(x->p);
	for (uint64_t i = 1; i <= 20; i++)
		prune_shown(x->p, i, &st);
	for (uint64_t i = 1; i <= 20; i++)
		prune_forgotten(x->p, i);
	prune_get_stats(x->p, &s);
	assert_int_equal(s.shown, 0);
	assert_in_range(s.kept, 4, 8);
	other.st_dev = 8;
	assert_false(prune_looked_up(x->p, 20, &other)); /* the newest kept */
	assert_true(prune_looked_up(x->p, 1, &other));	 /* the oldest gone: a first showing */
	prune_get_stats(x->p, &s);
	assert_int_equal(s.shown, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(shown_tag_is_deleted_with_one_check, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_nested_image_tag_too, setup, teardown),
	    cmocka_unit_test_setup_teardown(never_shown_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(shown_other_times_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(repushed_in_the_registry_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(another_user_costs_no_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(missing_tag_is_enoent, setup, teardown),
	    cmocka_unit_test_setup_teardown(unsure_then_gone_is_done, setup, teardown),
	    cmocka_unit_test_setup_teardown(unsure_then_same_is_sent_again, setup, teardown),
	    cmocka_unit_test_setup_teardown(unsure_then_repushed_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(unsure_every_time_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(throttled_is_sent_again_blind, setup, teardown),
	    cmocka_unit_test_setup_teardown(refused_by_the_api_fails_and_keeps, setup, teardown),
	    cmocka_unit_test_setup_teardown(rmdir_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(rmdir_of_an_image_pushed_to_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(the_shown_table_follows_the_kernel, setup, teardown),
	    cmocka_unit_test_setup_teardown(forgotten_still_guards, setup, teardown),
	    cmocka_unit_test_setup_teardown(gone_records_are_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(older_lookup_contradicts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
