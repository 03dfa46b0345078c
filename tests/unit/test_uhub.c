/* test_uhub.c — the API client over an in-memory API: paging whatever the
 * server's cap, de-duplication, bounded listings, retries, errno mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_api.h"
#include "uhub.h"

#include <time.h>

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client over the fake with one field of its config changed. */
static struct uhub *client_with(struct fake_api *f, unsigned page, unsigned R, size_t max_listing_bytes,
				long backoff_ms)
{
	struct uhub_config c = {
	    .public_key = FAKE_PUB,
	    .private_key = FAKE_PRIV,
	    .repo_type = "private",
	    .page_size = page,
	    .max_requests = R,
	    .retries = 3,
	    .backoff_ms = backoff_ms,
	    .backoff_max_ms = backoff_ms * 4,
	    .max_entries = 100000,
	    .max_listing_bytes = max_listing_bytes,
	    .max_reply = 1 << 24,
	};
	struct uhub_transport t = fake_api_transport(f);

	return uhub_new(&c, &t, NULL);
}

struct fixture {
	struct fake_api *f;
	struct uhub *u;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));

	x->f = fake_api_new();
	fake_api_add_repo(x->f, "web", "1764200000");
	fake_api_add_image(x->f, "web", "api", "1764200000");
	fake_api_add_image(x->f, "web", "team/app", "1764200000");
	fake_api_add_tags(x->f, "web", "api", "v", 350);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	uhub_free(x->u);
	fake_api_free(x->f);
	free(x);
	return 0;
}

/* Lists web/api's tags with page size and cap; checks the result. */
static void list_and_check(struct fixture *x, unsigned page, unsigned cap, unsigned R, size_t want_calls)
{
	struct uhub_list l;
	char name[32];

	x->u = fake_api_client(x->f, page, R);
	fake_api_set_cap(x->f, cap);
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), 0);
	assert_int_equal(l.n, 350);
	for (size_t i = 0; i < l.n; i++) {
		snprintf(name, sizeof(name), "v%05zu", i);
		assert_string_equal(l.v[i].name, name);
		assert_non_null(l.v[i].digest);
		assert_non_null(l.v[i].time);
	}
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), want_calls);
	uhub_list_release(&l);
}

static void test_pages_uncapped(void **state)
{
	list_and_check(*state, 100, 0, 8, 4);
}

/* Pages overlap by one item (pages.h): 1 + ceil((350 - 7) / 6). */
static void test_pages_cap7(void **state)
{
	list_and_check(*state, 100, 7, 8, 59);
}

static void test_pages_cap1(void **state)
{
	list_and_check(*state, 100, 1, 4, 350);
}

static void test_pages_serial(void **state)
{
	list_and_check(*state, 100, 0, 1, 4);
}

/* A list that is a whole number of overlapping pages needs no extra
 * call: 1 + ceil((344 - 50) / 49) = 7 pages for 344 tags. */
static void test_exact_multiple(void **state)
{
	struct fixture *x = *state;
	struct uhub_list l;

	for (int i = 344; i < 350; i++) {
		char name[32];

		snprintf(name, sizeof(name), "v%05d", i);
		fake_api_del_tag(x->f, "web", "api", name);
	}
	x->u = fake_api_client(x->f, 50, 8);
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), 0);
	assert_int_equal(l.n, 344);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), 7);
	uhub_list_release(&l);
}

/* A TotalCount ten times the truth ends at the first empty pages: the 4
 * pages of the list, at most one empty page per worker (4) asked for
 * before the first empty one came back, and 2 to find where the list
 * ends (a page of only its anchor, then the empty page after it). */
static void test_lying_total(void **state)
{
	struct fixture *x = *state;
	struct uhub_list l;
	unsigned calls;

	x->u = fake_api_client(x->f, 100, 4);
	fake_api_set_total_factor(x->f, 10);
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), 0);
	assert_int_equal(l.n, 350);
	calls = fake_api_calls(x->f, "GetImageTag", NULL);
	assert_true(calls >= 5 && calls <= 4 + 4 + 2);
	uhub_list_release(&l);
}

/* A later page's TotalCount is capped like the first one's, and slots are
 * made as needed: 10^12 costs neither memory nor calls (the old code
 * planned 10^10 slots from it). */
static void test_late_total_capped(void **state)
{
	struct fixture *x = *state;
	struct uhub_list l;

	x->u = fake_api_client(x->f, 100, 4);
	fake_api_set_late_total(x->f, 1000000000000LL);
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), 0);
	assert_int_equal(l.n, 350);
	/* 4 pages, then empty ones from the parallel workers; within budget */
	assert_true(fake_api_calls(x->f, "GetImageTag", NULL) <= 2 * 4 + 10);
	uhub_list_release(&l);
}

/* One item per page after a full first page: the call budget is
 * 2 x ceil(350 / 100) + 10 = 18 page requests, then EIO (it was 251
 * calls, one per item, and a success). */
static void test_trickle_budget(void **state)
{
	struct fixture *x = *state;
	struct uhub_list l;

	x->u = fake_api_client(x->f, 100, 4);
	fake_api_set_trickle(x->f, 1);
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), -EIO);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), 18);
	assert_null(l.v);
	/* A server cap of one from the start is no shrinking: 350 calls. */
	fake_api_set_trickle(x->f, 0);
	fake_api_set_cap(x->f, 1);
	fake_api_reset_calls(x->f);
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), 0);
	assert_int_equal(l.n, 350);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), 350);
	uhub_list_release(&l);
}

/* The bytes a listing may hold: 350 tags of ~100 bytes do not fit in
 * 16 KiB (EFBIG, after the page that crossed it), and do in 1 MiB. */
static void test_bytes_cap(void **state)
{
	struct fixture *x = *state;
	struct uhub_list l;

	x->u = client_with(x->f, 100, 1, 16 << 10, 1);
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), -EFBIG);
	assert_true(fake_api_calls(x->f, "GetImageTag", NULL) <= 2);
	uhub_free(x->u);
	x->u = client_with(x->f, 100, 1, 1 << 20, 1);
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), 0);
	assert_int_equal(l.n, 350);
	uhub_list_release(&l);
}

/* A name seen twice keeps its newest copy; on a tie, the later page's. */
static void test_duplicate_newest(void **state)
{
	struct fixture *x = *state;
	struct uhub_list l;

	fake_api_add_tag(x->f, "web", "img", "dup", "sha256:new", "1764300000");
	fake_api_add_tag(x->f, "web", "img", "dup", "sha256:old", "1764200000");
	fake_api_add_tag(x->f, "web", "img", "tie", "sha256:first", "1764200000");
	fake_api_add_tag(x->f, "web", "img", "tie", "sha256:second", "1764200000");
	fake_api_add_image(x->f, "web", "img", "1764200000");
	x->u = fake_api_client(x->f, 100, 1);
	fake_api_set_cap(x->f, 1); /* each copy on a page of its own, in order */
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "img", &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].name, "dup");
	assert_string_equal(l.v[0].digest, "sha256:new");
	assert_string_equal(l.v[1].name, "tie");
	assert_string_equal(l.v[1].digest, "sha256:second");
	uhub_list_release(&l);
}

struct bg_call {
	struct uhub *u;
	int err;
	int64_t done_ms;
};

static void *list_in_thread(void *arg)
{
	struct bg_call *c = arg;
	struct uhub_list l;

	c->err = uhub_list(c->u, UHUB_TAGS, "web", "api", &l);
	c->done_ms = now_ms();
	if (!c->err)
		uhub_list_release(&l);
	return NULL;
}

/* uhub_cancel wakes a backoff of a minute or more at once (here: well
 * within 10 s, whatever the load); every later call fails with ECANCELED
 * without a request. */
static void test_cancel_backoff(void **state)
{
	struct fixture *x = *state;
	struct bg_call c = {0};
	struct uhub_list l;
	struct uhub_entry e;
	pthread_t t;
	int64_t t0;
	unsigned calls;

	x->u = client_with(x->f, 100, 2, 0, 60000);
	fake_api_fail_next(x->f, 1000, FAKE_HTTP, 503);
	c.u = x->u;
	assert_int_equal(pthread_create(&t, NULL, list_in_thread, &c), 0);
	while (fake_api_calls(x->f, NULL, NULL) < 1)
		;
	t0 = now_ms();
	uhub_cancel(x->u);
	uhub_cancel(x->u); /* idempotent */
	pthread_join(t, NULL);
	assert_int_equal(c.err, -ECANCELED);
	assert_true(c.done_ms - t0 < 10000);
	calls = fake_api_calls(x->f, NULL, NULL);
	assert_int_equal(calls, 1); /* no retry after the cancel */
	assert_int_equal(uhub_list(x->u, UHUB_REPOS, NULL, NULL, &l), -ECANCELED);
	assert_int_equal(uhub_get_tag(x->u, "web", "api", "v00001", &e), -ECANCELED);
	assert_int_equal(uhub_probe(x->u, NULL, 0), -ECANCELED);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), calls);
	fake_api_fail_next(x->f, 0, FAKE_OK, 0);
	uhub_cancel(NULL);
}

static void test_images_and_repos(void **state)
{
	struct fixture *x = *state;
	struct uhub_list l;

	x->u = fake_api_client(x->f, 100, 8);
	assert_int_equal(uhub_list(x->u, UHUB_IMAGES, "web", NULL, &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].name, "api");
	assert_string_equal(l.v[1].name, "team/app");
	uhub_list_release(&l);
	assert_int_equal(uhub_list(x->u, UHUB_REPOS, NULL, NULL, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].name, "web");
	uhub_list_release(&l);
	assert_int_equal(uhub_list(x->u, UHUB_IMAGES, "nope", NULL, &l), -ENOENT);
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "nope", &l), -ENOENT);
}

static void test_get_tag(void **state)
{
	struct fixture *x = *state;
	struct uhub_entry e;

	x->u = fake_api_client(x->f, 100, 8);
	assert_int_equal(uhub_get_tag(x->u, "web", "api", "v00042", &e), 0);
	assert_string_equal(e.name, "v00042");
	assert_string_equal(e.time, "1764200042");
	uhub_entry_release(&e);
	assert_int_equal(uhub_get_tag(x->u, "web", "api", "nope", &e), -ENOENT);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", "*"), 2);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 2);
}

/* Transient faults are retried; the listing still comes out whole. */
static void test_retry_transient(void **state)
{
	static const struct {
		enum fake_fault kind;
		long arg;
	} faults[] = {{FAKE_RETCODE, 150},
		      {FAKE_RETCODE, 153},
		      {FAKE_RETCODE, 2000},
		      {FAKE_RETCODE, 110},
		      {FAKE_HTTP, 503},
		      {FAKE_HTTP, 429},
		      {FAKE_HTTP, 500},
		      {FAKE_TRANSPORT, ETIMEDOUT},
		      {FAKE_TRANSPORT, ECONNRESET},
		      {FAKE_NOTJSON, 0}};
	struct fixture *x = *state;
	struct uhub_stats st;
	struct uhub_list l;

	x->u = fake_api_client(x->f, 100, 1);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		fake_api_reset_calls(x->f);
		fake_api_fail_next(x->f, 2, faults[i].kind, faults[i].arg);
		assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), 0);
		assert_int_equal(l.n, 350);
		assert_int_equal(fake_api_calls(x->f, NULL, NULL), 4 + 2);
		uhub_list_release(&l);
	}
	uhub_get_stats(x->u, &st);
	assert_int_equal(st.retries, 2 * 10);
}

/* Auth errors are final at once: one call, EACCES. */
static void test_no_retry_auth(void **state)
{
	static const long codes[] = {170, 171, 172, 173, 174, 292, 293, 294, 295, 296, 297, 298, 299};
	struct fixture *x = *state;
	struct uhub_list l;

	x->u = fake_api_client(x->f, 100, 4);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		fake_api_reset_calls(x->f);
		fake_api_fail_next(x->f, 1, FAKE_RETCODE, codes[i]);
		assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), -EACCES);
		assert_int_equal(fake_api_calls(x->f, NULL, NULL), 1);
	}
	fake_api_fail_next(x->f, 0, FAKE_OK, 0);
}

/* Retries are bounded: a fault that persists ends with its errno. */
static void test_retries_exhausted(void **state)
{
	struct fixture *x = *state;
	struct uhub_list l;

	x->u = fake_api_client(x->f, 100, 1);
	fake_api_fail_next(x->f, 100, FAKE_TRANSPORT, ECONNREFUSED);
	assert_int_equal(uhub_list(x->u, UHUB_REPOS, NULL, NULL, &l), -ECONNREFUSED);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 4); /* 1 + retries */
	fake_api_reset_calls(x->f);
	fake_api_fail_next(x->f, 100, FAKE_RETCODE, 2001);
	assert_int_equal(uhub_list(x->u, UHUB_REPOS, NULL, NULL, &l), -EIO);
	fake_api_reset_calls(x->f);
	fake_api_fail_next(x->f, 100, FAKE_HTTP, 404);
	assert_int_equal(uhub_list(x->u, UHUB_REPOS, NULL, NULL, &l), -EIO);
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 1); /* 404 is not transient */
	fake_api_fail_next(x->f, 0, FAKE_OK, 0);
}

/* A failure in the middle of paging: transient ones are retried, final
 * ones fail the whole listing (never a silently partial one). */
static void test_fail_mid_listing(void **state)
{
	struct fixture *x = *state;
	struct uhub_list l;

	x->u = fake_api_client(x->f, 100, 2);
	fake_api_set_cap(x->f, 10);
	fake_api_fail_skip(x->f, 3);
	fake_api_fail_next(x->f, 2, FAKE_RETCODE, 150);
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), 0);
	assert_int_equal(l.n, 350);
	/* 1 + ceil(340 / 9) overlapping pages of 10, and 2 retries. */
	assert_int_equal(fake_api_calls(x->f, NULL, NULL), 39 + 2);
	uhub_list_release(&l);
	fake_api_fail_skip(x->f, 3);
	fake_api_fail_next(x->f, 1000, FAKE_RETCODE, 171);
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), -EACCES);
	assert_null(l.v);
	fake_api_fail_next(x->f, 0, FAKE_OK, 0);
}

/* Every name of the 350 but the deleted ones (a NULL-ended list) is in l
 * exactly once, and nothing else but names starting with extra. */
static void assert_all_but(const struct uhub_list *l, const char *const *gone, const char *extra)
{
	char name[32];
	size_t want = 0, j = 0;

	for (int i = 0; i < 350; i++) {
		bool deleted = false;

		snprintf(name, sizeof(name), "v%05d", i);
		for (size_t k = 0; gone && gone[k]; k++)
			deleted |= strcmp(gone[k], name) == 0;
		if (deleted)
			continue;
		want++;
		while (j < l->n && extra && strncmp(l->v[j].name, extra, strlen(extra)) == 0)
			j++;
		assert_true(j < l->n);
		assert_string_equal(l->v[j].name, name);
		j++;
	}
	assert_int_equal(l->n - (size_t)(extra ? l->n - want : 0), want);
}

/* The tag that sorts first is deleted once the first page is in: every
 * later page shifts left by one across its boundary. Plain offset
 * paging lost v00100 (in neither page); the overlap sees the shift and
 * fetches the stale first page again: one call more, nothing lost. */
static void test_shift_delete_front(void **state)
{
	struct fixture *x = *state;
	static const char *const gone[] = {"v00000", NULL};
	struct uhub_list l;

	x->u = fake_api_client(x->f, 100, 8);
	fake_api_change_after(x->f, 1, 0, 0, "web", "api", "v00000");
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), 0);
	assert_false(l.unsure);
	assert_int_equal(l.n, 349);
	assert_all_but(&l, gone, NULL);
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), 4 + 1);
	uhub_list_release(&l);
}

/* A push that sorts first, once the first page is in: later pages shift
 * right; the stale first page is fetched again. */
static void test_shift_push_front(void **state)
{
	struct fixture *x = *state;
	struct uhub_list l;

	x->u = fake_api_client(x->f, 100, 8);
	fake_api_change_after(x->f, 1, 0, 1, "web", "api", "^");
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), 0);
	assert_false(l.unsure);
	assert_int_equal(l.n, 351);
	assert_string_equal(l.v[0].name, "0pushed99999");
	assert_all_but(&l, NULL, "0pushed");
	assert_int_equal(fake_api_calls(x->f, "GetImageTag", NULL), 4 + 1);
	uhub_list_release(&l);
}

/* One page at a time, the front tag deleted after the second page: the
 * third page disagrees with the second, which is fetched again and then
 * disagrees with the first: two repairs, and nothing lost. */
static void test_shift_serial(void **state)
{
	struct fixture *x = *state;
	static const char *const gone[] = {"v00000", NULL};
	struct uhub_list l;

	x->u = fake_api_client(x->f, 100, 1);
	fake_api_change_after(x->f, 2, 0, 0, "web", "api", "v00000");
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), 0);
	assert_false(l.unsure);
	assert_all_but(&l, gone, NULL);
	assert_true(fake_api_calls(x->f, "GetImageTag", NULL) <= 4 + 2);
	uhub_list_release(&l);
}

/* Pages of one item cannot overlap: a change between two of them shows
 * as their TotalCounts disagreeing, and is repaired the same way; such a
 * list is still unsure (TotalCount alone proves nothing). */
static void test_shift_no_overlap(void **state)
{
	struct fixture *x = *state;
	static const char *const gone[] = {"v00000", NULL};
	struct uhub_list l;

	x->u = fake_api_client(x->f, 100, 1);
	fake_api_set_cap(x->f, 1);
	fake_api_change_after(x->f, 100, 0, 0, "web", "api", "v00000");
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), 0);
	assert_true(l.unsure); /* joined on TotalCount alone */
	assert_all_but(&l, gone, NULL);
	uhub_list_release(&l);
}

/* A list that never holds still (the front tag deleted after every
 * call) cannot be verified within the budget: it is kept, marked unsure,
 * with no name that never existed; not turned into an error. */
static void test_churn_unsure(void **state)
{
	struct fixture *x = *state;
	struct uhub_list l;
	char name[32];

	x->u = fake_api_client(x->f, 100, 8);
	fake_api_change_after(x->f, 1, 1, 0, "web", "api", "^");
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &l), 0);
	assert_true(l.unsure);
	assert_true(l.n > 200);
	for (size_t i = 0; i < l.n; i++) {
		int k;

		assert_int_equal(sscanf(l.v[i].name, "v%05d", &k), 1);
		snprintf(name, sizeof(name), "v%05d", k);
		assert_string_equal(l.v[i].name, name);
	}
	assert_true(fake_api_calls(x->f, "GetImageTag", NULL) <= 2 * 4 + 10);
	uhub_list_release(&l);
}

static void test_probe(void **state)
{
	struct fixture *x = *state;
	char why[256];

	x->u = fake_api_client(x->f, 100, 1);
	assert_int_equal(uhub_probe(x->u, why, sizeof(why)), 0);
	fake_api_fail_next(x->f, 1, FAKE_RETCODE, 172);
	assert_int_equal(uhub_probe(x->u, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "172"));
	assert_null(strstr(why, FAKE_PRIV));
}

static void test_errno_map(void **state)
{
	(void)state;
	assert_int_equal(uhub_retcode_errno(0, false), 0);
	assert_int_equal(uhub_retcode_errno(171, false), -EACCES);
	assert_int_equal(uhub_retcode_errno(172, true), -EACCES);
	assert_int_equal(uhub_retcode_errno(230, true), -ENOENT);
	assert_int_equal(uhub_retcode_errno(230, false), -EIO);
	assert_int_equal(uhub_retcode_errno(161, false), -EIO);
	assert_int_equal(uhub_retcode_errno(292, false), -EACCES);
	assert_int_equal(uhub_retcode_errno(110, false), -ETIMEDOUT);
	/* imgtagfs(1): 170-174 and 292-299 are EACCES, every one of them. */
	for (long c = 170; c <= 174; c++)
		assert_int_equal(uhub_retcode_errno(c, true), -EACCES);
	for (long c = 292; c <= 299; c++)
		assert_int_equal(uhub_retcode_errno(c, false), -EACCES);
	assert_int_equal(uhub_retcode_errno(169, false), -EIO);
	assert_int_equal(uhub_retcode_errno(175, false), -EIO);
	assert_int_equal(uhub_retcode_errno(291, false), -EIO);
	assert_int_equal(uhub_retcode_errno(300, false), -EIO);
	assert_true(uhub_retcode_transient(153));
	assert_true(uhub_retcode_transient(2000));
	assert_false(uhub_retcode_transient(171));
	assert_false(uhub_retcode_transient(230));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pages_uncapped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pages_cap7, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pages_cap1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pages_serial, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exact_multiple, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lying_total, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_late_total_capped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trickle_budget, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bytes_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate_newest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_backoff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_images_and_repos, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_get_tag, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retry_transient, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_retry_auth, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retries_exhausted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fail_mid_listing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shift_delete_front, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shift_push_front, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shift_serial, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shift_no_overlap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_churn_unsure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
	    cmocka_unit_test(test_errno_map),
	};
	return cmocka_run_group_tests_name("uhub", tests, NULL, NULL);
}
