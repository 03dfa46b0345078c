/* test_stats.c — the value of user.imgtagfs.stats (stats.c), rendered
 * from real modules: a uhub client over the in-memory API, a cache and a
 * tree on the fixture's clock, a prune, a prestore and a notify (its
 * thread storing into a fake kernel), and a tier on a Redis nobody
 * listens at. Covered: every line "name: number", each name once, in the
 * order rendered (API, FUSE layer, stores, cache, deletion, shared tier);
 * the optional sections there exactly when their source is (store_* with
 * both prestore and notify); each value the one its module counted
 * (api_calls.ACTION as counted at the fake API, api_retcode.N a line per
 * code, the FUSE layer's fields each on its own line); appending to what
 * the buffer holds; and a buffer capped short of the value failing with
 * buf's -EFBIG, holding no more than its cap and only whole lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "cache.h"
#include "fake_api.h"
#include "fresh.h"
#include "inode.h"
#include "notify.h"
#include "prestore.h"
#include "prune.h"
#include "shared.h"
#include "snap.h"
#include "stats.h"
#include "tier.h"
#include "tree.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define OWNER 1000
#define INO 4242
#define TTL_MS 60000
#define WAIT_S 30 /* the longest wait for the notify thread */
#define CAP (1 << 20)
#define MAX_LINES 128

/* The kernel and the listing a notify batch stores from: files t1..t4 of
 * directory "img", the kernel holding inodes for t1..t3 only. */
struct store_fake {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done; /* batches over */
};

struct fixture {
	struct fake_api *f;
	struct uhub *u;
	struct cache *c;
	struct fresh *fresh;
	struct tree *t;
	struct prune *pr;
	struct prestore *ps;
	struct inode_table *inodes;
	struct notify *kn;
	struct store_fake sf;
	uint64_t dir;
	struct shared *sh;
	struct tier *tier;
	int64_t now;
};

static int64_t fake_clock(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static int k_entry(void *arg, uint64_t parent, const char *name)
{
	(void)arg;
	(void)parent;
	(void)name;
	return 0;
}

static int k_inode(void *arg, uint64_t ino)
{
	(void)arg;
	(void)ino;
	return 0;
}

static int k_store(void *arg, uint64_t ino, const char *bytes, size_t len)
{
	(void)arg;
	(void)ino;
	(void)bytes;
	(void)len;
	return 0;
}

static int src_list(void *arg, const struct notify_chunk *c, notify_file_fn each, void *each_arg, uint64_t *stamp)
{
	int from = *c->after ? atoi(c->after + 1) + 1 : 1; /* c->after moves as files are met */
	char name[16];

	(void)arg;
	*stamp = 1;
	for (int i = from; i <= 4 && (size_t)(i - from) < c->max; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		if (each(each_arg, name, "x", 1))
			break;
	}
	return 0;
}

static uint64_t src_stamp(void *arg, const char *path)
{
	(void)arg;
	(void)path;
	return 1;
}

static void src_done(void *arg, uint64_t dir, size_t unused)
{
	struct store_fake *sf = arg;

	(void)dir;
	(void)unused;
	pthread_mutex_lock(&sf->mu);
	sf->done++;
	pthread_cond_broadcast(&sf->cv);
	pthread_mutex_unlock(&sf->mu);
}

static int exists(void *arg, const char *path, bool dir)
{
	(void)arg;
	(void)path;
	(void)dir;
	return 1;
}

static void setup_notify(struct fixture *x)
{
	const struct notify_kernel k = {.inval_entry = k_entry, .inval_inode = k_inode, .store = k_store};
	const struct notify_files src = {.list = src_list, .stamp = src_stamp, .done = src_done, .arg = &x->sf};
	uint64_t ino;

	pthread_mutex_init(&x->sf.mu, NULL);
	pthread_cond_init(&x->sf.cv, NULL);
	x->inodes = inode_table_new();
	assert_non_null(x->inodes);
	assert_int_equal(inode_ref(x->inodes, INODE_ROOT, "img", true, &x->dir), 0);
	for (int i = 1; i <= 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "t%d", i);
		assert_int_equal(inode_ref(x->inodes, x->dir, name, false, &ino), 0);
	}
	x->kn = notify_new(x->inodes, x->fresh, exists, x);
	assert_non_null(x->kn);
	notify_set_kernel(x->kn, &k);
	notify_set_files(x->kn, &src);
	assert_int_equal(notify_start(x->kn, NULL), 0);
}

/* A tier on a socket path where nobody listens: every Redis operation
 * fails, and the tier goes to the API. */
static void setup_tier(struct fixture *x)
{
	struct shared_config sc = {.timeout_ms = 5000, .max_reply = 1 << 20};
	struct tier_config tc = {.fresh = x->fresh, .wait_ms = 1000, .max_value = 1 << 20};

	snprintf(sc.addr.path, sizeof(sc.addr.path), "/nonexistent/imgtagfs-test-stats.sock");
	x->sh = shared_new(&sc);
	assert_non_null(x->sh);
	tc.sh = x->sh;
	snprintf(tc.ns, sizeof(tc.ns), "stats");
	x->tier = tier_new(&tc);
	assert_non_null(x->tier);
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
	fake_api_add_tag(x->f, "web", "api", "v1", D1, "1764000000");
	fake_api_add_tag(x->f, "web", "api", "v2", D1, "1764000000");
	x->u = fake_api_client(x->f, 100, 4);
	x->c = cache_new(64 << 20, fake_clock, x);
	x->fresh = fresh_new(
	    &(struct fresh_config){.ttl_ms = TTL_MS, .neg_ttl_ms = 5000, .clock = fake_clock, .clock_arg = x});
	tc.fresh = x->fresh;
	x->t = tree_new(&tc, x->u, x->c, NULL);
	x->pr = prune_new(&(struct prune_config){.owner = OWNER, .retries = 3}, x->t, x->u, NULL);
	x->ps = prestore_new();
	assert_true(x->u && x->c && x->fresh && x->t && x->pr && x->ps);
	setup_notify(x);
	setup_tier(x);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;

	tier_free(x->tier);
	shared_free(x->sh);
	notify_free(x->kn);
	inode_table_free(x->inodes);
	pthread_cond_destroy(&x->sf.cv);
	pthread_mutex_destroy(&x->sf.mu);
	prestore_free(x->ps);
	prune_free(x->pr);
	tree_free(x->t);
	fresh_free(x->fresh);
	cache_free(x->c);
	uhub_free(x->u);
	fake_api_free(x->f);
	free(x);
	return 0;
}

/* ---- reading a rendering ----------------------------------------------- */

/* A rendering split into lines "name: value". */
struct lines {
	size_t n;
	char name[MAX_LINES][64];
	unsigned long long value[MAX_LINES];
};

/* Splits text, checking each line's form: a name, ": ", digits. */
static void split(const char *text, struct lines *l)
{
	const char *p = text;

	l->n = 0;
	while (*p) {
		const char *colon = strstr(p, ": "), *nl = strchr(p, '\n');
		char *end;

		assert_non_null(nl); /* every line ends */
		assert_true(colon && colon < nl && colon > p);
		assert_true(l->n < MAX_LINES && (size_t)(colon - p) < sizeof(l->name[0]));
		memcpy(l->name[l->n], p, (size_t)(colon - p));
		l->name[l->n][colon - p] = '\0';
		assert_true(colon[2] >= '0' && colon[2] <= '9');
		l->value[l->n] = strtoull(colon + 2, &end, 10);
		assert_ptr_equal(end, nl);
		l->n++;
		p = nl + 1;
	}
}

static void render_into(const struct stats_src *src, const struct stats_fuse *fu, struct lines *l)
{
	struct buf v;

	buf_init(&v, CAP);
	assert_int_equal(stats_render(src, fu, &v), 0);
	assert_non_null(v.data);
	split(v.data, l);
	buf_release(&v);
}

/* The value of the line called name; the test fails unless there is
 * exactly one. */
static unsigned long long value(const struct lines *l, const char *name)
{
	size_t at = l->n;

	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->name[i], name) != 0)
			continue;
		if (at != l->n)
			fail_msg("%s twice", name);
		at = i;
	}
	if (at == l->n)
		fail_msg("no line %s", name);
	return l->value[at];
}

static bool has_prefix(const struct lines *l, const char *prefix)
{
	for (size_t i = 0; i < l->n; i++)
		if (strncmp(l->name[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

/* ---- the names and their order --------------------------------------- */

static const char *const api_names[] = {
    "api_calls.GetRepo", "api_calls.GetRepoImage", "api_calls.GetImageTag", "api_calls.DeleteRepoImage", "api_retries",
    "api_errors",
};
static const char *const fuse_names[] = {
    "fuse_opens",	 "fuse_getattrs", "fuse_lookups", "fuse_readdirs",   "fuse_reads",	  "fuse_forgets",
    "fuse_handle_names", "inodes",	  "open_dirs",	  "open_dirs_bytes", "deadline_timeouts", "heap_bytes",
};
static const char *const store_names[] = {
    "store_batches", "store_batches_skipped", "store_files", "store_files_skipped", "store_files_dropped",
};
static const char *const cache_names[] = {
    "cache_hits",	 "cache_misses", "cache_evictions",    "cache_fills",
    "cache_fill_errors", "cache_waits",	 "cache_stale_served", "cache_refreshes_ahead",
    "cache_snapshots",	 "cache_bytes",	 "cache_oldest_age_s",
};
static const char *const deletes_names[] = {
    "deletes_done",
    "deletes_refused",
    "deletes_failed",
    "deletes_running",
    "deletes_shown",
    "deletes_kept",
};
static const char *const shared_names[] = {
    "shared_up",
    "shared_hits",
    "shared_misses",
    "shared_writes",
    "shared_rejected",
    "shared_errors",
    "shared_waits",
    "shared_squatted",
    "shared_invalidations_sent",
    "shared_invalidations_received",
};

#define NAMES(a) a, sizeof(a) / sizeof(a[0])

/* Checks that l's lines from *at on are names, in this order. */
static void expect_names(const struct lines *l, size_t *at, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++, (*at)++) {
		assert_true(*at < l->n);
		assert_string_equal(l->name[*at], names[i]);
	}
}

/* l is exactly the lines of the sections given, in rendering order,
 * with nretcodes api_retcode lines after api_errors. */
static void expect_layout(const struct lines *l, size_t nretcodes, bool store, bool deletes, bool shared)
{
	size_t at = 0;

	expect_names(l, &at, NAMES(api_names));
	for (size_t i = 0; i < nretcodes; i++, at++)
		assert_true(at < l->n && strncmp(l->name[at], "api_retcode.", 12) == 0);
	expect_names(l, &at, NAMES(fuse_names));
	if (store)
		expect_names(l, &at, NAMES(store_names));
	expect_names(l, &at, NAMES(cache_names));
	if (deletes)
		expect_names(l, &at, NAMES(deletes_names));
	if (shared)
		expect_names(l, &at, NAMES(shared_names));
	assert_int_equal(at, l->n);
}

static struct stats_src all_of(struct fixture *x)
{
	return (struct stats_src){.u = x->u, .c = x->c, .tier = x->tier, .ps = x->ps, .kn = x->kn, .pr = x->pr};
}

static const struct stats_fuse no_fuse;

static void test_every_line_in_order(void **state)
{
	struct fixture *x = *state;
	const struct stats_src src = all_of(x);
	struct lines l;

	render_into(&src, &no_fuse, &l);
	expect_layout(&l, 0, true, true, true);
}

static void test_optional_sections_only_with_their_source(void **state)
{
	struct fixture *x = *state;
	struct stats_src src = {.u = x->u, .c = x->c};
	struct lines l;

	render_into(&src, &no_fuse, &l);
	expect_layout(&l, 0, false, false, false);
	assert_false(has_prefix(&l, "store_") || has_prefix(&l, "deletes_") || has_prefix(&l, "shared_"));
	/* The stores' lines need both of their sources. */
	src.ps = x->ps;
	render_into(&src, &no_fuse, &l);
	expect_layout(&l, 0, false, false, false);
	src.ps = NULL;
	src.kn = x->kn;
	render_into(&src, &no_fuse, &l);
	expect_layout(&l, 0, false, false, false);
	src.ps = x->ps;
	render_into(&src, &no_fuse, &l);
	expect_layout(&l, 0, true, false, false);
	src = (struct stats_src){.u = x->u, .c = x->c, .pr = x->pr};
	render_into(&src, &no_fuse, &l);
	expect_layout(&l, 0, false, true, false);
	src = (struct stats_src){.u = x->u, .c = x->c, .tier = x->tier};
	render_into(&src, &no_fuse, &l);
	expect_layout(&l, 0, false, false, true);
}

/* ---- the values -------------------------------------------------------- */

static void test_api_counts(void **state)
{
	struct fixture *x = *state;
	const struct stats_src src = all_of(x);
	struct uhub_list list;
	struct uhub_entry e;
	bool unsure;
	struct lines l;

	assert_int_equal(uhub_list(x->u, UHUB_REPOS, NULL, NULL, &list), 0);
	uhub_list_release(&list);
	assert_int_equal(uhub_list(x->u, UHUB_IMAGES, "web", NULL, &list), 0);
	uhub_list_release(&list);
	assert_int_equal(uhub_list(x->u, UHUB_TAGS, "web", "api", &list), 0);
	uhub_list_release(&list);
	assert_int_equal(uhub_get_tag(x->u, "web", "api", "v1", &e), 0);
	uhub_entry_release(&e);
	assert_int_equal(uhub_get_tag(x->u, "web", "api", "nosuch", &e), -ENOENT);
	assert_int_equal(uhub_delete(x->u, "web", "api", "v2", &unsure), 0);
	/* A key refused twice (RetCode 171), and a throttled call retried
	 * (153). */
	for (int i = 0; i < 2; i++) {
		fake_api_fail_next(x->f, 1, FAKE_RETCODE, 171);
		assert_int_equal(uhub_list(x->u, UHUB_REPOS, NULL, NULL, &list), -EACCES);
	}
	fake_api_fail_next(x->f, 1, FAKE_RETCODE, 153);
	assert_int_equal(uhub_list(x->u, UHUB_REPOS, NULL, NULL, &list), 0);
	uhub_list_release(&list);

	render_into(&src, &no_fuse, &l);
	expect_layout(&l, 2, true, true, true);
	assert_int_equal(value(&l, "api_calls.GetRepo"), fake_api_calls(x->f, "GetRepo", NULL));
	assert_int_equal(value(&l, "api_calls.GetRepo"), 5);
	assert_int_equal(value(&l, "api_calls.GetRepoImage"), fake_api_calls(x->f, "GetRepoImage", NULL));
	assert_int_equal(value(&l, "api_calls.GetRepoImage"), 1);
	assert_int_equal(value(&l, "api_calls.GetImageTag"), fake_api_calls(x->f, "GetImageTag", NULL));
	assert_int_equal(value(&l, "api_calls.GetImageTag"), 3);
	assert_int_equal(value(&l, "api_calls.DeleteRepoImage"), fake_api_calls(x->f, "DeleteRepoImage", NULL));
	assert_int_equal(value(&l, "api_calls.DeleteRepoImage"), 1);
	assert_int_equal(value(&l, "api_retries"), 1);
	/* The refused key's calls; the tag not there was an answer (an empty
	 * TagSet, as the fake gives it), not a failed call. */
	assert_int_equal(value(&l, "api_errors"), 2);
	assert_int_equal(value(&l, "api_retcode.171"), 2);
	assert_int_equal(value(&l, "api_retcode.153"), 1);
}

/* Each field of the FUSE layer's on a line of its own. */
static void test_fuse_fields(void **state)
{
	struct fixture *x = *state;
	const struct stats_src src = all_of(x);
	const struct stats_fuse fu = {.opens = 1,
				      .getattrs = 2,
				      .lookups = 3,
				      .readdirs = 4,
				      .reads = 5,
				      .forgets = 6,
				      .handle_names = 7,
				      .inodes = 8,
				      .open_dirs = 9,
				      .open_dirs_bytes = 10,
				      .deadline_timeouts = 11,
				      .heap_bytes = 12};
	struct lines l;

	render_into(&src, &fu, &l);
	for (size_t i = 0; i < sizeof(fuse_names) / sizeof(fuse_names[0]); i++)
		assert_int_equal(value(&l, fuse_names[i]), i + 1);
}

static int fill_ok(void *arg, const char *key, struct snap **out)
{
	struct snap_builder *b = snap_builder_new();

	(void)arg;
	(void)key;
	*out = snap_builder_finish(b);
	return *out ? 0 : -ENOMEM;
}

static int fill_fails(void *arg, const char *key, struct snap **out)
{
	(void)arg;
	(void)key;
	(void)out;
	return -EIO;
}

static void test_cache_counts(void **state)
{
	struct fixture *x = *state;
	const struct stats_src src = all_of(x);
	struct cache_stats cs;
	struct snap *s;
	struct lines l;

	assert_int_equal(cache_get(x->c, "k1", TTL_MS, 0, fill_ok, NULL, &s), 0); /* a miss and a fill */
	snap_unref(s);
	x->now += 7500;
	assert_int_equal(cache_get(x->c, "k1", TTL_MS, 0, fill_ok, NULL, &s), 0); /* a hit */
	snap_unref(s);
	assert_int_equal(cache_get(x->c, "k2", TTL_MS, 0, fill_fails, NULL, &s), -EIO);
	cache_get_stats(x->c, &cs);

	render_into(&src, &no_fuse, &l);
	assert_int_equal(value(&l, "cache_hits"), 1);
	assert_int_equal(value(&l, "cache_misses"), 2);
	assert_int_equal(value(&l, "cache_evictions"), 0);
	assert_int_equal(value(&l, "cache_fills"), 2);
	assert_int_equal(value(&l, "cache_fill_errors"), 1);
	assert_int_equal(value(&l, "cache_waits"), 0);
	assert_int_equal(value(&l, "cache_snapshots"), 1);
	assert_int_equal(value(&l, "cache_bytes"), cs.bytes);
	assert_true(cs.bytes > 0);
	assert_int_equal(value(&l, "cache_oldest_age_s"), 7); /* 7.5 s, in whole seconds */
}

static void wait_batches(struct store_fake *sf, int n)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_S;
	pthread_mutex_lock(&sf->mu);
	while (sf->done < n)
		if (pthread_cond_timedwait(&sf->cv, &sf->mu, &until)) {
			pthread_mutex_unlock(&sf->mu);
			fail_msg("the notify thread ended no batch in %d s", WAIT_S);
		}
	pthread_mutex_unlock(&sf->mu);
}

static void test_store_counts(void **state)
{
	struct fixture *x = *state;
	const struct stats_src src = all_of(x);
	struct prestore_stats ps;
	struct lines l;
	size_t max;

	/* A scan: two batches the queue had no room for, then one that ran. */
	assert_false(prestore_read(x->ps, 100, INODE_ROOT, 1, "a", 0, &max));
	for (int i = 0; i < 2; i++) {
		assert_true(prestore_read(x->ps, 100, INODE_ROOT, 2 + i, "b", 1 + i, &max));
		prestore_done(x->ps, 100, max, false);
	}
	assert_true(prestore_read(x->ps, 100, INODE_ROOT, 4, "c", 3, &max));
	prestore_done(x->ps, 100, 0, true);
	prestore_get_stats(x->ps, &ps);
	/* A batch of four files, the kernel holding three. */
	assert_int_equal(notify_store(x->kn, x->dir, "", 4), 0);
	wait_batches(&x->sf, 1);

	render_into(&src, &no_fuse, &l);
	assert_int_equal(value(&l, "store_batches"), ps.batches);
	assert_int_equal(value(&l, "store_batches"), 1);
	assert_int_equal(value(&l, "store_batches_skipped"), 2);
	assert_int_equal(value(&l, "store_files"), 3);
	assert_int_equal(value(&l, "store_files_skipped"), 1);
	assert_int_equal(value(&l, "store_files_dropped"), 0);
}

static void test_deletes_counts(void **state)
{
	struct fixture *x = *state;
	const struct stats_src src = all_of(x);
	const struct prune_who owner = {.uid = OWNER, .pid = 77};
	struct stat st;
	int64_t until;
	struct lines l;

	assert_int_equal(prune_unlink(x->pr, &owner, INO, "/web/api/v1"), -EBUSY); /* never shown */
	assert_int_equal(prune_unlink(x->pr, &owner, INO, "/web/api/v1"), -EBUSY);
	assert_int_equal(tree_stat(x->t, "/web/api/v1", &st, &until), 0);
	prune_shown(x->pr, INO, &st);
	assert_int_equal(tree_stat(x->t, "/web/api/v2", &st, &until), 0);
	prune_shown(x->pr, INO + 1, &st);
	assert_int_equal(prune_unlink(x->pr, &owner, INO, "/web/api/v1"), 0);

	render_into(&src, &no_fuse, &l);
	assert_int_equal(value(&l, "deletes_done"), 1);
	assert_int_equal(value(&l, "deletes_refused"), 2);
	assert_int_equal(value(&l, "deletes_failed"), 0);
	assert_int_equal(value(&l, "deletes_shown"), 2); /* v1's kept until the kernel forgets it */
	prune_forgotten(x->pr, INO);
	render_into(&src, &no_fuse, &l);
	assert_int_equal(value(&l, "deletes_shown"), 1);
	assert_int_equal(value(&l, "deletes_kept"), 1); /* what v1 was shown outlives the inode */
	assert_int_equal(value(&l, "api_calls.DeleteRepoImage"), 1);
}

static int api_fails(void *arg, struct snap **out)
{
	(void)arg;
	(void)out;
	return -EIO;
}

static void test_shared_counts(void **state)
{
	struct fixture *x = *state;
	const struct stats_src src = all_of(x);
	struct tier_result res;
	struct tier_stats ts;
	struct snap *s = NULL;
	struct lines l;

	assert_int_equal(tier_fill(x->tier, "T4:webapi", INT64_MIN, api_fails, NULL, &s, &res), -EIO);
	tier_get_stats(x->tier, &ts);
	assert_true(ts.errors > 0);

	render_into(&src, &no_fuse, &l);
	assert_int_equal(value(&l, "shared_up"), 0);
	assert_int_equal(value(&l, "shared_errors"), ts.errors);
	assert_int_equal(value(&l, "shared_hits"), ts.hits);
	assert_int_equal(value(&l, "shared_misses"), ts.misses);
	assert_int_equal(value(&l, "shared_writes"), 0);
}

/* ---- the buffer -------------------------------------------------------- */

/* The lines are appended to what v holds. */
static void test_appends(void **state)
{
	struct fixture *x = *state;
	const struct stats_src src = all_of(x);
	struct buf v;
	struct lines l;

	buf_init(&v, CAP);
	assert_int_equal(buf_adds(&v, "before: 1\n"), 0);
	assert_int_equal(stats_render(&src, &no_fuse, &v), 0);
	assert_int_equal(strncmp(v.data, "before: 1\napi_calls.GetRepo: ", 29), 0);
	split(v.data + 10, &l);
	expect_layout(&l, 0, true, true, true);
	buf_release(&v);
}

/* Every cap short of the value fails with buf's -EFBIG, the buffer
 * holding at most cap bytes, NUL-terminated, and only whole lines of the
 * value. */
static void test_small_cap(void **state)
{
	struct fixture *x = *state;
	const struct stats_src src = all_of(x);
	struct buf full, v;

	buf_init(&full, CAP);
	assert_int_equal(stats_render(&src, &no_fuse, &full), 0);
	for (size_t cap = 0; cap < full.len; cap++) {
		buf_init(&v, cap);
		assert_int_equal(stats_render(&src, &no_fuse, &v), -EFBIG);
		assert_true(v.len <= cap);
		if (v.data) {
			assert_true(v.alloc > v.len);
			assert_int_equal(v.data[v.len], '\0');
			assert_int_equal(memcmp(v.data, full.data, v.len), 0);
			assert_true(v.len == 0 || v.data[v.len - 1] == '\n');
		}
		buf_release(&v);
	}
	buf_init(&v, full.len);
	assert_int_equal(stats_render(&src, &no_fuse, &v), 0);
	assert_string_equal(v.data, full.data);
	buf_release(&v);
	buf_release(&full);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_every_line_in_order),
	    T(test_optional_sections_only_with_their_source),
	    T(test_api_counts),
	    T(test_fuse_fields),
	    T(test_cache_counts),
	    T(test_store_counts),
	    T(test_deletes_counts),
	    T(test_shared_counts),
	    T(test_appends),
	    T(test_small_cap),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
