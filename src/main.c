/* main.c — imgtagfs: mount a UHub container registry read-only.
 *
 *	$ imgtagfs uhub /mnt/registry
 *	$ ls /mnt/registry/web/api
 *	latest  v1.4.1  v1.4.2
 *	$ cat /mnt/registry/web/api/v1.4.2
 *	digest: sha256:3f1c...
 *	updated: 2026-11-27T02:15:00Z
 *
 * Staged as parse -> credentials -> context -> check -> mount -> loop ->
 * tear down. Everything the daemon needs hangs off one struct app built
 * here; the FUSE layer sees its struct imgtagfs as private_data.
 */
#include <errno.h>
#include <fuse_log.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "bg.h"
#include "cache.h"
#include "creds.h"
#include "daemon.h"
#include "fresh.h"
#include "fs.h"
#include "http.h"
#include "log.h"
#include "sign.h"
#include "opts.h"
#include "tier.h"
#include "tier_setup.h"
#include "tree.h"
#include "uhub.h"
#include "updatedb.h"

/* The version lives in the file VERSION only; the Makefile passes it. A
 * compile outside the Makefile (an analyser) says so instead of guessing. */
#ifndef IMGTAGFS_VERSION
#define IMGTAGFS_VERSION "(unknown: built without the Makefile)"
#endif

struct app {
	struct config cfg;
	struct creds creds;
	const char *endpoint;
	struct log *log;
	struct fresh *fresh;
	struct http *http;
	struct uhub *uhub;
	struct cache *cache;
	struct tree *tree;
	struct bg *bg;
	struct imgtagfs *fs;
	struct tier_setup *tier; /* the shared tier (-o shared_cache=), or NULL */
};

/* The signature has no nonce, so a request seen on the wire can be
 * replayed: plain http only where the wire is this machine. */
static int check_endpoint(const char *url, char *err, size_t n)
{
	if (http_url_is_https(url) || http_url_is_loopback(url))
		return 0;
	snprintf(err, n, "imgtagfs: endpoint=%s: must be https://, or http:// to a loopback address", url);
	return -EINVAL;
}

static const char *pick_project(const struct app *a)
{
	return opts_project(&a->cfg, a->creds.project);
}

static int build_client(struct app *a)
{
	const struct config *c = &a->cfg;
	struct http_config hc = {
	    .url = a->endpoint,
	    .timeout_ms = (long)c->timeout * 1000,
	    .max_reply = 8u << 20, /* a 10,000-item page is ~2.5 MiB */
	    .max_conns = c->max_requests,
	};
	struct uhub_config uc = {
	    .public_key = a->creds.public_key,
	    .private_key = a->creds.private_key,
	    .project = pick_project(a),
	    .repo_type = c->repo_type,
	    .page_size = c->page_size,
	    .max_requests = c->max_requests,
	    .retries = c->retries,
	    .backoff_ms = 200,
	    .backoff_max_ms = 5000,
	    .max_entries = 1000000,
	    /* A listing bigger than the whole cache cannot be cached, so
	     * fetching it would only grow the daemon: EFBIG instead. */
	    .max_listing_bytes = c->cache_size,
	    .max_reply = hc.max_reply,
	    .max_rps = c->max_rps,
	};
	struct uhub_transport tr = {.post = uhub_http_post, .cancel = uhub_http_cancel};

	a->http = http_new(&hc);
	if (!a->http)
		return -ENOMEM;
	tr.self = a->http;
	a->uhub = uhub_new(&uc, &tr, a->log);
	/* uhub_new copied the private key (and wipes its copy when freed): ours
	 * goes now, so one copy lives for the mount, not two. What remains:
	 * uhub's copy, needed to sign every call, and OpenSSL's digest state
	 * while a signature is computed (cleansed when freed). */
	if (a->uhub)
		creds_drop_private(&a->creds);
	return a->uhub ? 0 : -ENOMEM;
}

/* At unmount (from the FUSE layer's thread, before libfuse waits for its
 * workers and fs_destroy for the background's): queue nothing more, and
 * end every API call in flight or to come (ECANCELED), so the daemon
 * exits at once instead of after the slowest fetch's retries. */
static void on_end(void *arg)
{
	struct app *a = arg;

	tree_set_background(a->tree, NULL);
	tier_cancel(tier_setup_tier(a->tier));
	uhub_cancel(a->uhub);
}

/* What the shared tier is set up from (tier_setup.h). */
static struct tier_setup_src tier_src(const struct app *a)
{
	return (struct tier_setup_src){
	    .cfg = &a->cfg,
	    .project = pick_project(a),
	    .public_key = a->creds.public_key,
	    .private_key = a->creds.private_key,
	    .endpoint = a->endpoint,
	};
}

/* The shared tier's secrets, read before the keys are dropped; the tier
 * itself is built with the rest (build_tier). */
static int prepare_tier(struct app *a, char *err, size_t n)
{
	struct tier_setup_src src = tier_src(a);

	return tier_setup_prepare(&src, &a->tier, err, n);
}

/* The shared tier, for the tree and the FUSE layer. */
static int build_tier(struct app *a)
{
	struct tier_setup_src src = tier_src(a);
	int err = tier_setup_build(a->tier, &src, a->fresh, a->log);

	if (err)
		return err;
	tree_set_tier(a->tree, tier_setup_tier(a->tier));
	fs_set_tier(a->fs, tier_setup_tier(a->tier));
	return 0;
}

/* The key of the inodes' generations (fs.h): from the API private key and
 * the project, so that it is the same at every mount of them and unknown
 * to whoever can only push tags. */
static int derive_gen_key(struct app *a, unsigned char *key, size_t n)
{
	static const char salt[] = "imgtagfs inode generations 1";
	const char *project = pick_project(a);
	unsigned char out[SIGN_SHA256_LEN];
	int err = sign_hkdf_sha256(a->creds.private_key, strlen(a->creds.private_key), salt, sizeof(salt) - 1,
				   project ? project : "", project ? strlen(project) : 0, out);

	memcpy(key, out, n < sizeof(out) ? n : sizeof(out));
	sign_wipe(out, sizeof(out));
	return err;
}

/* The freshness policy: frc with each repository's own ttl. */
static int new_fresh(struct app *a, struct fresh_config *frc)
{
	const struct config *c = &a->cfg;
	struct fresh_repo_ttl *own = calloc(c->n_repo_ttls ? c->n_repo_ttls : 1, sizeof(*own));

	if (!own)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_repo_ttls; i++) {
		own[i].repo = c->repo_ttls[i].repo;
		own[i].ttl_ms = (int64_t)c->repo_ttls[i].ttl * 1000;
	}
	frc->repo_ttls = own;
	frc->n_repo_ttls = c->n_repo_ttls;
	a->fresh = fresh_new(frc);
	free(own);
	return a->fresh ? 0 : -ENOMEM;
}

static int build(struct app *a)
{
	const struct config *c = &a->cfg;
	struct fresh_config frc = {
	    .ttl_ms = (int64_t)c->ttl * 1000,
	    .neg_ttl_ms = (int64_t)c->negative_ttl * 1000,
	    .max_stale_ms = (int64_t)c->max_stale * 1000,
	};
	struct tree_config tc = {
	    .repo = c->repo,
	    .api_tz = c->api_tz,
	    .uid = c->uid,
	    .gid = c->gid,
	    .umask = c->umask,
	    .mount_time = (int64_t)time(NULL),
	    .prefetch = c->prefetch,
	    .writable_dirs = c->allow_delete,
	};
	struct fs_config fc = {
	    .deadline_ms = (int64_t)c->deadline * 1000,
	    .foreground = c->foreground,
	    .warm = !c->lazy,
	    .owner = getuid(),
	    .allow_delete = c->allow_delete,
	    .delete_retries = c->retries,
	    .dir_keep_bytes = c->cache_size / 4,
	    .on_end = on_end,
	    .on_end_arg = a,
	};
	int err = derive_gen_key(a, fc.gen_key, sizeof(fc.gen_key));

	if (!err)
		err = build_client(a); /* drops the private key */
	if (err)
		return err;
	/* One clock and one policy for the cache, the tree and the kernel. */
	err = new_fresh(a, &frc);
	if (err)
		return err;
	tc.fresh = a->fresh;
	a->cache = cache_new(c->cache_size, fresh_clock, a->fresh);
	if (!a->cache)
		return -ENOMEM;
	a->tree = tree_new(&tc, a->uhub, a->cache, a->log);
	if (!a->tree)
		return -ENOMEM;
	/* Background listings may use all but one request slot (uhub.c keeps
	 * them behind foreground ones), so one worker per such slot. */
	a->bg = bg_new(c->max_requests > 1 ? c->max_requests - 1 : 1, 4096);
	if (!a->bg)
		return -ENOMEM;
	a->fs = fs_new(&fc, a->tree, a->uhub, a->cache, a->bg, a->log);
	sign_wipe(fc.gen_key, sizeof(fc.gen_key)); /* the inode table has its copy */
	if (!a->fs)
		return -ENOMEM;
	return a->tier ? build_tier(a) : 0;
}

static void teardown(struct app *a)
{
	fs_free(a->fs);
	bg_free(a->bg); /* stopped at unmount already; before what its jobs use */
	tier_setup_free(a->tier);
	tree_free(a->tree);
	cache_free(a->cache);
	fresh_free(a->fresh);
	uhub_free(a->uhub);
	http_free(a->http);
	log_free(a->log);
	creds_release(&a->creds);
	opts_release(&a->cfg);
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A warning when this system's daily updatedb(8) would walk the mount
 * (a mount point given to --check) or any imgtagfs mount: every listing
 * of the registry, through the API, each day. */
static void check_updatedb(const struct app *a)
{
	char real[PATH_MAX], advice[512];
	const char *mnt = a->cfg.mountpoint;

	if (mnt && realpath(mnt, real))
		mnt = real;
	if (!updatedb_present(UPDATEDB_CONF) ||
	    updatedb_walks(UPDATEDB_CONF, UPDATEDB_FSTYPE, mnt, advice, sizeof(advice)) != 1)
		return;
	printf("updatedb:    warning: updatedb(8) would walk %s every day, listing the whole registry through the API; "
	       "to prune %s, as root:\n             %s\n",
	       mnt ? mnt : "imgtagfs mounts", UPDATEDB_FSTYPE, advice);
}

/* --check: each step with its time, then 0 or 1. */
static int run_check(struct app *a)
{
	struct timespec t0;
	struct uhub_list l;
	char why[512] = "", shown[4 * sizeof(why)];
	const char *project = pick_project(a);
	int err;

	printf("endpoint:    %s\n", a->endpoint);
	printf("credentials: %s (public key %.6s...)\n", a->creds.origin, a->creds.public_key);
	printf("project:     %s\n", project ? project : "(the key's default)");
	check_updatedb(a);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = uhub_probe(a->uhub, why, sizeof(why));
	/* why may quote the server's message: shown as the logs show names. */
	printf("signed call: %s (%.0f ms)\n", err ? log_printable(why, shown, sizeof(shown)) : "ok", elapsed_ms(&t0));
	if (err)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = uhub_list(a->uhub, UHUB_REPOS, NULL, NULL, &l);
	if (err) {
		printf("repositories: failed: %s\n", strerror(-err));
		return 1;
	}
	printf("repositories: %zu (%.0f ms)\n", l.n, elapsed_ms(&t0));
	/* Names that cannot be file names were dropped by the decoder (and
	 * logged, escaped); escaping here too keeps the rule local. */
	for (size_t i = 0; i < l.n && i < 20; i++)
		printf("  %s\n", log_printable(l.v[i].name, shown, sizeof(shown)));
	uhub_list_release(&l);
	return tier_setup_report(a->tier, a->cfg.shared_cache);
}

static int load_creds(struct app *a, char *err, size_t n)
{
	struct creds_query q = {.file = a->cfg.credentials, .profile = a->cfg.profile};
	int rc = creds_load(&q, &a->creds, err, n);

	/* Read or not, keys in the environment leave it: else they stay in
	 * /proc/PID/environ for life and pass to fusermount3 (auto_unmount). */
	creds_forget_env();
	return rc;
}

/* libfuse's own messages go where ours go. Its hook takes no context
 * argument, so this one pointer is set once, before any thread starts. */
static struct log *fuse_log_target;

static void fuse_log_shim(enum fuse_log_level level, const char *fmt, va_list ap)
{
	log_vmsg(fuse_log_target, (int)level, fmt, ap);
}

/* Memory that a listing freed must go back to the system (RSS returns
 * after a flush and drop_caches: test_memory.sh checks it). glibc's defaults work against
 * a daemon whose large blocks come and go: the mmap threshold rises to
 * the largest block ever freed, so later large blocks (snapshots, the
 * inode table) land in heaps that are never returned, and every thread
 * that mallocs gets an arena of its own. A fixed threshold keeps large
 * blocks in mmap (freed at once), two arenas keep thread heaps few;
 * the FUSE layer calls malloc_trim when the kernel forgets half of what
 * it held (fs.c). */
static void limit_malloc(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_ARENA_MAX, 2);
#endif
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct app a;
	char err[1024] = "", why[512] = "", shown[4 * sizeof(why)];
	int rc = 1, fail = 1;

	memset(&a, 0, sizeof(a));
	/* Before any key is read: no core dump, and no ptrace or
	 * /proc/PID/{environ,mem} for other processes of the same user, may
	 * hold the private key. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	limit_malloc();
	/* libcurl runs with NOSIGNAL: a peer that closes must not kill us,
	 * not even during the mount-time check, before libfuse's handlers. */
	signal(SIGPIPE, SIG_IGN);
	if (opts_parse(&args, &a.cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	/* mount(8) tells a bad invocation from a failed mount. */
	if (a.cfg.mount_helper)
		fail = OPTS_MOUNT_EX_FAIL;
	if (a.cfg.help || a.cfg.version) {
		if (a.cfg.help)
			opts_usage(stdout, "imgtagfs");
		else
			printf("imgtagfs %s (libfuse %s)\n", IMGTAGFS_VERSION, fuse_pkgversion());
		rc = 0;
		goto out;
	}
	if (load_creds(&a, err, sizeof(err)) || prepare_tier(&a, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	a.endpoint = opts_endpoint(&a.cfg, a.creds.base_url);
	if (check_endpoint(a.endpoint, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	a.log = log_new("imgtagfs", a.cfg.debug);
	if (!a.log || build(&a)) {
		fprintf(stderr, "imgtagfs: out of memory\n");
		goto out;
	}
	if (a.cfg.check) {
		rc = run_check(&a);
		goto out;
	}
	if (!a.cfg.lazy && uhub_probe(a.uhub, why, sizeof(why))) {
		fprintf(stderr, "imgtagfs: cannot mount %s: %s\n", a.cfg.source,
			log_printable(why, shown, sizeof(shown)));
		rc = fail;
		goto out;
	}
	if (!a.cfg.lazy && tier_setup_check(a.tier, a.cfg.source, a.log, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		rc = fail;
		goto out;
	}
	if (a.cfg.fake) {
		rc = 0;
		goto out;
	}
	fuse_log_target = a.log;
	fuse_set_log_func(fuse_log_shim);
	rc = daemon_run(&args, a.fs, a.log) ? fail : 0;
	fuse_set_log_func(NULL); /* back to libfuse's default before the log goes */
out:
	teardown(&a);
	fuse_opt_free_args(&args);
	return rc;
}
