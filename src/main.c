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
#include "shared.h"
#include "tier.h"
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
	/* The shared tier (-o shared_cache=), or NULLs. */
	struct shared *shared;
	struct tier *tier;
	struct tier_config tier_cfg; /* the MAC key and namespace, derived early */
	char *auth;		     /* shared_cache_auth's contents, until shared_new copied them */
	size_t auth_len;
	const char *auth_user, *auth_pass; /* into auth */
	char acl_user[128];		   /* the AUTH user, for --check's ACL line ("" if none) */
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
	tier_cancel(a->tier);
	uhub_cancel(a->uhub);
}

/* shared_cache_auth's file: one line, "PASSWORD" or "USER PASSWORD". */
static int split_auth(struct app *a)
{
	char *tok[3];
	int n = 0;

	for (char *p = a->auth; *p && n < 3;) {
		p += strspn(p, " \t\r\n");
		if (!*p)
			break;
		tok[n++] = p;
		p += strcspn(p, " \t\r\n");
		if (*p)
			*p++ = '\0';
	}
	if (n < 1 || n > 2)
		return -EINVAL;
	a->auth_user = n == 2 ? tok[0] : NULL;
	a->auth_pass = tok[n - 1];
	snprintf(a->acl_user, sizeof(a->acl_user), "%s", a->auth_user ? a->auth_user : "");
	return 0;
}

/* The fleet's MAC key: from shared_cache_key's file, else from the API
 * private key (which build_client drops, hence so early). */
static int derive_mac_key(struct app *a, char *err, size_t n)
{
	const char *project = pick_project(a);
	char *k = NULL;
	size_t len = 0;
	int rc;

	if (!a->cfg.shared_key)
		return tier_derive_key(a->creds.private_key, strlen(a->creds.private_key), project,
				       a->tier_cfg.mac_key);
	rc = creds_read_secret("shared_cache_key", a->cfg.shared_key, &k, &len, err, n);
	if (rc)
		return rc;
	while (len && strchr(" \t\r\n", k[len - 1]))
		len--;
	if (len < 16) {
		snprintf(err, n,
			 "imgtagfs: shared_cache_key=%s: holds fewer than 16 bytes; make one with: head -c 32 "
			 "/dev/urandom | base64 > FILE; chmod 600 FILE",
			 a->cfg.shared_key);
		rc = -EINVAL;
	} else {
		rc = tier_derive_key(k, len, project, a->tier_cfg.mac_key);
	}
	creds_secret_free(k, len);
	return rc;
}

/* What the shared tier needs from files and keys, read before the keys
 * are dropped; the tier itself is built with the rest (build_tier). */
static int prepare_tier(struct app *a, char *err, size_t n)
{
	const struct config *c = &a->cfg;
	int rc;

	if (!c->shared_cache) {
		if (!c->shared_auth && !c->shared_key)
			return 0;
		snprintf(err, n, "imgtagfs: shared_cache_auth= and shared_cache_key= need shared_cache=URL");
		return -EINVAL;
	}
	/* A fill may meet a hung Redis once or twice before it is marked
	 * down: that must stay well within the deadline. */
	if (c->deadline && (uint64_t)c->shared_timeout * 4 > (uint64_t)c->deadline * 1000) {
		snprintf(err, n, "imgtagfs: shared_cache_timeout=%u: must be at most a quarter of deadline=%u (%u ms)",
			 c->shared_timeout, c->deadline, c->deadline * 250);
		return -EINVAL;
	}
	if (c->shared_auth) {
		rc = creds_read_secret("shared_cache_auth", c->shared_auth, &a->auth, &a->auth_len, err, n);
		if (rc)
			return rc;
		if (split_auth(a)) {
			snprintf(err, n,
				 "imgtagfs: shared_cache_auth=%s: expected one line: PASSWORD, or USER PASSWORD",
				 c->shared_auth);
			return -EINVAL;
		}
	}
	return derive_mac_key(a, err, n);
}

static int build_tier(struct app *a)
{
	const struct config *c = &a->cfg;
	struct shared_config sc = {
	    .user = a->auth_user,
	    .password = a->auth_pass,
	    .timeout_ms = c->shared_timeout,
	    .max_reply = c->cache_size < (64u << 20) ? c->cache_size : (64u << 20),
	    .clock = fresh_clock,
	    .clock_arg = a->fresh,
	    .log = a->log,
	};

	/* Mounts share only listings that would be the same on both: the
	 * registry and the options that shape a listing are in the
	 * namespace (a repo_type=public mount's root is not a private one's). */
	struct tier_scope scope = {
	    .project = pick_project(a),
	    .public_key = a->creds.public_key,
	    .endpoint = a->endpoint,
	    .repo_type = c->repo_type,
	    .api_tz = c->api_tz,
	};
	int err = tier_namespace(&scope, a->tier_cfg.ns);

	if (err)
		return err;
	if (shared_addr_parse(c->shared_cache, &sc.addr, NULL, 0))
		return -EINVAL; /* checked by opts already */
	a->shared = shared_new(&sc);
	creds_secret_free(a->auth, a->auth_len); /* shared_new has its copy */
	a->auth = NULL;
	a->auth_user = a->auth_pass = NULL;
	if (!a->shared)
		return -ENOMEM;
	a->tier_cfg.sh = a->shared;
	a->tier_cfg.fresh = a->fresh;
	a->tier_cfg.log = a->log;
	a->tier_cfg.max_value = sc.max_reply;
	/* Waiting for another host's fetch leaves half the deadline for our
	 * own: a wait of the whole deadline answers the user ETIMEDOUT
	 * whenever the lock is never released (a holder that hangs, or any
	 * writer to Redis: SET imgtagfs:1:NS:lock:KEY x; tests/review/
	 * lock_forever.sh). */
	a->tier_cfg.wait_ms = c->deadline ? (int64_t)c->deadline * 1000 / 2 : 30000;
	a->tier = tier_new(&a->tier_cfg);
	sign_wipe(a->tier_cfg.mac_key, sizeof(a->tier_cfg.mac_key)); /* tier_new has its copy */
	if (!a->tier)
		return -ENOMEM;
	tree_set_tier(a->tree, a->tier);
	fs_set_tier(a->fs, a->tier);
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
	a->fresh = fresh_new(&frc);
	if (!a->fresh)
		return -ENOMEM;
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
	return c->shared_cache ? build_tier(a) : 0;
}

static void teardown(struct app *a)
{
	fs_free(a->fs);
	bg_free(a->bg); /* stopped at unmount already; before what its jobs use */
	tier_free(a->tier);
	shared_free(a->shared);
	creds_secret_free(a->auth, a->auth_len);
	sign_wipe(a->tier_cfg.mac_key, sizeof(a->tier_cfg.mac_key));
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

/* --check with shared_cache=: Redis answers (AUTH, SELECT, TIME, PING),
 * and the fleet's namespace with the ACL line that confines a Redis user
 * to it, for an administrator to paste. 0 or 1. */
static int check_shared(struct app *a)
{
	struct timespec t0;
	struct shared_addr addr;
	char why[256] = "", shown[4 * sizeof(why)], where[SHARED_HOST_MAX + SHARED_PATH_MAX + 32], scope[256],
	     user[160];
	int err;

	if (!a->shared)
		return 0;
	if (shared_addr_parse(a->cfg.shared_cache, &addr, NULL, 0) ||
	    tier_acl_scope(a->tier_cfg.ns, scope, sizeof(scope)))
		return 1;
	shared_addr_text(&addr, where, sizeof(where));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = shared_check(a->shared, why, sizeof(why));
	/* why may quote the server: shown as the logs show it. */
	printf("shared cache: %s: %s (%.0f ms)\n", where, err ? log_printable(why, shown, sizeof(shown)) : "ok",
	       elapsed_ms(&t0));
	snprintf(user, sizeof(user), "%s%s", a->acl_user[0] ? "" : "imgtagfs-",
		 a->acl_user[0] ? a->acl_user : a->tier_cfg.ns);
	printf("namespace:   %s\n", a->tier_cfg.ns);
	printf("redis ACL:   user %s on >PASSWORD %s %s\n", user, scope, shared_acl_commands(&addr));
	printf("             (a line of redis.conf, or ACL SETUSER with the same words; PASSWORD:\n"
	       "             the password in shared_cache_auth's file, as \"%s PASSWORD\")\n",
	       user);
	return err ? 1 : 0;
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
	return check_shared(a);
}

/* The mount-time check of the shared tier: a refused AUTH is a mistake
 * in the configuration and fails the mount; Redis unreachable is a fault
 * like any later one (a warning; the tier comes up when Redis does). */
static int check_tier(struct app *a, char *err, size_t n)
{
	char why[256] = "", shown[512];
	int rc;

	if (!a->shared)
		return 0;
	rc = shared_check(a->shared, why, sizeof(why));
	/* why may quote the server: shown as the logs show it. */
	log_printable(why, shown, sizeof(shown));
	if (rc == -EACCES) {
		snprintf(err, n,
			 "imgtagfs: cannot mount %s: shared_cache: Redis refused the authentication (%s); check "
			 "shared_cache_auth's file",
			 a->cfg.source, shown);
		return rc;
	}
	if (rc == -EPERM) {
		snprintf(err, n,
			 "imgtagfs: cannot mount %s: shared_cache: Redis refused a command (%s); imgtagfs --check "
			 "with the same options prints the ACL line the fleet's user needs",
			 a->cfg.source, shown);
		return rc;
	}
	if (rc)
		log_msg(a->log, LOG_WARNING,
			"shared cache unreachable at mount (%s): mounting without it until it answers", why);
	return 0;
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

/* Memory that a listing freed must go back to the system (issue 10: RSS
 * returns after a flush and drop_caches). glibc's defaults work against
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
	if (!a.cfg.lazy && check_tier(&a, err, sizeof(err))) {
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
