/* test_opts.c — the command line: defaults, every option's good value,
 * bounds and bad values (the message names the option and the range),
 * SOURCE forms, the project rule, positionals, help/version/--check, what
 * is left in args for libfuse (and that libfuse itself accepts it), the
 * mount(8) argument form, the endpoint/project precedence helpers, --help;
 * the option table against the parser, --help and the manual pages (each
 * option in imgtagfs(1) with the same range and default, no page naming an
 * option the table lacks). Run from the top of the tree (make unit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"

struct run {
	struct fuse_args args;
	struct config cfg;
	char err[512];
	char joined[2048]; /* args after parsing, space-separated */
	int rc;
};

/* Parses argv0 followed by the NULL-terminated words. */
static int run_v(struct run *r, const char *argv0, va_list ap)
{
	const char *a;
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	assert_int_equal(fuse_opt_add_arg(&r->args, argv0), 0);
	while ((a = va_arg(ap, const char *)))
		assert_int_equal(fuse_opt_add_arg(&r->args, a), 0);
	r->rc = opts_parse(&r->args, &r->cfg, r->err, sizeof(r->err));
	for (int i = 0; i < r->args.argc; i++)
		n += (size_t)snprintf(r->joined + n, sizeof(r->joined) - n, "%s%s", i ? " " : "", r->args.argv[i]);
	return r->rc;
}

static int run(struct run *r, ...)
{
	va_list ap;
	int rc;

	va_start(ap, r);
	rc = run_v(r, "imgtagfs", ap);
	va_end(ap);
	return rc;
}

static int run_helper(struct run *r, ...)
{
	va_list ap;
	int rc;

	va_start(ap, r);
	rc = run_v(r, "/sbin/mount.imgtagfs", ap);
	va_end(ap);
	return rc;
}

static void done(struct run *r)
{
	opts_release(&r->cfg);
	fuse_opt_free_args(&r->args);
}

static bool has_arg(const struct run *r, const char *a)
{
	for (int i = 0; i < r->args.argc; i++)
		if (!strcmp(r->args.argv[i], a))
			return true;
	return false;
}

/* libfuse writes its complaints to stderr: keep them out of the output. */
static void quiet(bool on)
{
	static int saved = -1;
	int null;

	if (on) {
		saved = dup(STDERR_FILENO);
		null = open("/dev/null", O_WRONLY);
		assert_true(saved >= 0 && null >= 0);
		dup2(null, STDERR_FILENO);
		close(null);
	} else {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
}

/* Parses one -o option; returns rc, leaves the run for inspection. */
static int one(struct run *r, const char *opt)
{
	return run(r, "uhub", "/mnt", "-o", opt, NULL);
}

static void expect_refused(const char *opt, const char *msg)
{
	struct run r;

	assert_int_equal(one(&r, opt), -EINVAL);
	assert_string_equal(r.err, msg);
	/* On error cfg is released. */
	assert_null(r.cfg.source);
	assert_null(r.cfg.repo_type);
	done(&r);
}

static void test_defaults(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(run(&r, "uhub", "/mnt/registry", NULL), 0);
	assert_string_equal(r.err, "");
	assert_string_equal(r.cfg.source, "uhub");
	assert_string_equal(r.cfg.mountpoint, "/mnt/registry");
	assert_null(r.cfg.project);
	assert_null(r.cfg.repo);
	assert_null(r.cfg.endpoint);
	assert_null(r.cfg.credentials);
	assert_null(r.cfg.profile);
	assert_string_equal(r.cfg.repo_type, "private");
	assert_int_equal(r.cfg.api_tz, 8 * 3600);
	assert_int_equal(r.cfg.ttl, 60);
	assert_int_equal(r.cfg.negative_ttl, 5);
	assert_int_equal(r.cfg.page_size, 100);
	assert_int_equal(r.cfg.max_requests, 8);
	assert_int_equal(r.cfg.timeout, 30);
	assert_int_equal(r.cfg.retries, 3);
	assert_int_equal(r.cfg.cache_size, 256u << 20);
	assert_int_equal(r.cfg.uid, getuid());
	assert_int_equal(r.cfg.gid, getgid());
	assert_int_equal(r.cfg.umask, 022);
	assert_false(r.cfg.debug || r.cfg.lazy || r.cfg.foreground || r.cfg.check || r.cfg.help || r.cfg.version ||
		     r.cfg.mount_helper || r.cfg.fake);
	assert_string_equal(r.joined, "imgtagfs -oro,fsname=imgtagfs:uhub,subtype=imgtagfs /mnt/registry");
	done(&r);
}

struct num_case {
	const char *name;
	unsigned long min, max;
	const char *what;
	size_t off;
};

static const struct num_case num_cases[] = {
    {"ttl", 0, 86400, "a whole number of seconds", offsetof(struct config, ttl)},
    {"negative_ttl", 0, 3600, "a whole number of seconds", offsetof(struct config, negative_ttl)},
    {"page_size", 1, 10000, "a whole number", offsetof(struct config, page_size)},
    {"max_requests", 1, 64, "a whole number", offsetof(struct config, max_requests)},
    {"timeout", 1, 600, "a whole number of seconds", offsetof(struct config, timeout)},
    {"retries", 0, 10, "a whole number", offsetof(struct config, retries)},
};

static void check_num_ok(const struct num_case *c, unsigned long v)
{
	struct run r;
	char opt[64];

	snprintf(opt, sizeof(opt), "%s=%lu", c->name, v);
	assert_int_equal(one(&r, opt), 0);
	assert_int_equal(*(unsigned *)((char *)&r.cfg + c->off), v);
	/* Ours: not passed on to libfuse. */
	assert_null(strstr(r.joined, c->name));
	done(&r);
}

static void check_num_bad(const struct num_case *c, const char *val)
{
	char opt[128], msg[256];

	snprintf(opt, sizeof(opt), "%s=%s", c->name, val);
	snprintf(msg, sizeof(msg), "imgtagfs: %s: expected %s from %lu to %lu", opt, c->what, c->min, c->max);
	expect_refused(opt, msg);
}

static void test_numbers(void **state)
{
	static const char *const junk[] = {
	    "", "abc", "12x", " 5", "+5", "-1", "5 ", "0x10", "1e3", "1.5", "99999999999999999999999999"};
	char above[32];

	(void)state;
	for (size_t i = 0; i < sizeof(num_cases) / sizeof(num_cases[0]); i++) {
		const struct num_case *c = &num_cases[i];

		check_num_ok(c, c->min);
		check_num_ok(c, c->max);
		check_num_ok(c, (c->min + c->max) / 2);
		snprintf(above, sizeof(above), "%lu", c->max + 1);
		check_num_bad(c, above);
		if (c->min > 0)
			check_num_bad(c, "0");
		for (size_t j = 0; j < sizeof(junk) / sizeof(junk[0]); j++)
			check_num_bad(c, junk[j]);
	}
	expect_refused("ttl=abc", "imgtagfs: ttl=abc: expected a whole number of seconds from 0 to 86400");
}

/* ttl.REPO=: checked as ttl= is, repeatable, the last of a repository
 * kept; on a one-repository mount only that repository's. */
static void test_repo_ttl(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(one(&r, "ttl=600,ttl.ci=2,ttl.web=0,ttl.ci=10"), 0);
	assert_int_equal(r.cfg.ttl, 600);
	assert_int_equal(r.cfg.n_repo_ttls, 2);
	assert_string_equal(r.cfg.repo_ttls[0].repo, "ci");
	assert_int_equal(r.cfg.repo_ttls[0].ttl, 10);
	assert_string_equal(r.cfg.repo_ttls[1].repo, "web");
	assert_int_equal(r.cfg.repo_ttls[1].ttl, 0);
	done(&r);
	assert_int_equal(run(&r, "uhub:ci", "/mnt", "-o", "ttl.ci=5", NULL), 0);
	assert_int_equal(r.cfg.repo_ttls[0].ttl, 5);
	done(&r);
	assert_int_equal(run(&r, "uhub:ci", "/mnt", "-o", "ttl.web=5", NULL), -EINVAL);
	assert_string_equal(r.err, "imgtagfs: ttl.web=: the mount shows repository ci only");
	done(&r);
	expect_refused("ttl.ci=86401", "imgtagfs: ttl.ci=86401: expected a whole number of seconds from 0 to 86400");
	expect_refused("ttl.ci=-1", "imgtagfs: ttl.ci=-1: expected a whole number of seconds from 0 to 86400");
	expect_refused("ttl.ci=", "imgtagfs: ttl.ci=: expected a whole number of seconds from 0 to 86400");
	expect_refused("ttl.=5", "imgtagfs: ttl.=5: expected ttl.REPO=SECONDS with REPO a repository name");
	expect_refused("ttl.a/b=5", "imgtagfs: ttl.a/b=5: expected ttl.REPO=SECONDS with REPO a repository name");
	expect_refused("ttl.ci", "imgtagfs: ttl.ci: needs a value (ttl.ci=...; see imgtagfs --help)");
}

static void test_ids_and_umask(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(run(&r, "uhub", "/mnt", "-o", "uid=1000,gid=0,umask=027", NULL), 0);
	assert_int_equal(r.cfg.uid, 1000);
	assert_int_equal(r.cfg.gid, 0);
	assert_int_equal(r.cfg.umask, 027);
	assert_null(strstr(r.joined, "uid"));
	assert_null(strstr(r.joined, "umask"));
	done(&r);
	assert_int_equal(run(&r, "uhub", "/mnt", "-o", "uid=4294967294,gid=4294967294,umask=0777", NULL), 0);
	assert_int_equal(r.cfg.uid, 4294967294u);
	assert_int_equal(r.cfg.gid, 4294967294u);
	assert_int_equal(r.cfg.umask, 0777);
	done(&r);
	assert_int_equal(one(&r, "umask=0"), 0);
	assert_int_equal(r.cfg.umask, 0);
	done(&r);

	expect_refused("uid=root", "imgtagfs: uid=root: expected a numeric user id from 0 to 4294967294");
	expect_refused("uid=4294967295", "imgtagfs: uid=4294967295: expected a numeric user id from 0 to 4294967294");
	expect_refused("uid=-1", "imgtagfs: uid=-1: expected a numeric user id from 0 to 4294967294");
	expect_refused("gid=", "imgtagfs: gid=: expected a numeric group id from 0 to 4294967294");
	expect_refused("umask=1000", "imgtagfs: umask=1000: expected an octal mode from 0 to 0777");
	expect_refused("umask=8", "imgtagfs: umask=8: expected an octal mode from 0 to 0777");
	expect_refused("umask=079", "imgtagfs: umask=079: expected an octal mode from 0 to 0777");
	expect_refused("umask=", "imgtagfs: umask=: expected an octal mode from 0 to 0777");
}

static void test_cache_size(void **state)
{
	static const struct {
		const char *v;
		unsigned long long bytes;
	} good[] = {
	    {"1M", 1ull << 20},	    {"1m", 1ull << 20},	  {"1048576", 1ull << 20}, {"1024K", 1ull << 20},
	    {"256M", 256ull << 20}, {"64G", 64ull << 30}, {"2g", 2ull << 30},
	};
	static const char *const bad[] = {"1048575",	 "1023K", "65G", "68719476737", "1K",  "10X",
					  "1MB",	 "",	  "M",	 "-1M",		"1 M", "18446744073709551615G",
					  "17179869185G" /* wraps to 1G if unchecked */};
	struct run r;
	char opt[64], msg[256];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(opt, sizeof(opt), "cache_size=%s", good[i].v);
		assert_int_equal(one(&r, opt), 0);
		assert_int_equal(r.cfg.cache_size, good[i].bytes);
		done(&r);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(opt, sizeof(opt), "cache_size=%s", bad[i]);
		snprintf(msg, sizeof(msg),
			 "imgtagfs: %s: expected a size from 1M to 64G (bytes, or a number with a K, M or G suffix)",
			 opt);
		expect_refused(opt, msg);
	}
}

static void test_choices(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(one(&r, "repo_type=public"), 0);
	assert_string_equal(r.cfg.repo_type, "public");
	done(&r);
	assert_int_equal(run(&r, "uhub", "/mnt", "-o", "repo_type=public,repo_type=private", NULL), 0);
	assert_string_equal(r.cfg.repo_type, "private");
	done(&r);
	expect_refused("repo_type=shared", "imgtagfs: repo_type=shared: expected private or public");
	expect_refused("repo_type=", "imgtagfs: repo_type=: expected private or public");

	assert_int_equal(one(&r, "api_tz=-05:30"), 0);
	assert_int_equal(r.cfg.api_tz, -(5 * 3600 + 30 * 60));
	done(&r);
	assert_int_equal(one(&r, "api_tz=Z"), 0);
	assert_int_equal(r.cfg.api_tz, 0);
	done(&r);
	expect_refused("api_tz=Asia/Shanghai",
		       "imgtagfs: api_tz=Asia/Shanghai: expected a zone such as +08:00, -05:30, +0800 or Z");
	expect_refused("api_tz=", "imgtagfs: api_tz=: expected a zone such as +08:00, -05:30, +0800 or Z");
}

static void test_strings(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(run(&r, "uhub", "/mnt", "-o",
			     "endpoint=http://127.0.0.1:8080/,credentials=/etc/x,profile=p1,credentials=/etc/y", NULL),
			 0);
	assert_string_equal(r.cfg.endpoint, "http://127.0.0.1:8080/");
	assert_string_equal(r.cfg.credentials, "/etc/y"); /* the last one wins */
	assert_string_equal(r.cfg.profile, "p1");
	assert_null(strstr(r.joined, "endpoint"));
	assert_null(strstr(r.joined, "credentials"));
	assert_null(strstr(r.joined, "profile"));
	done(&r);
	assert_int_equal(one(&r, "endpoint=HTTPS://api.surfercloud.com"), 0);
	done(&r);

	expect_refused("endpoint=", "imgtagfs: endpoint=: expected an http:// or https:// URL");
	expect_refused("endpoint=ftp://x", "imgtagfs: endpoint=ftp://x: expected an http:// or https:// URL");
	expect_refused("endpoint=https://", "imgtagfs: endpoint=https://: expected an http:// or https:// URL");
	expect_refused("credentials=", "imgtagfs: credentials=: expected a file name");
	expect_refused("profile=", "imgtagfs: profile=: expected a profile name");
	expect_refused("project=", "imgtagfs: project=: expected a project id such as org-abc123");
	expect_refused("project=abc", "imgtagfs: project=abc: expected a project id such as org-abc123");
	expect_refused("project=org-", "imgtagfs: project=org-: expected a project id such as org-abc123");
	expect_refused("project=org-a/b", "imgtagfs: project=org-a/b: expected a project id such as org-abc123");
	/* An option of ours without its value is ours to refuse. */
	expect_refused("ttl", "imgtagfs: ttl: needs a value (ttl=...; see imgtagfs --help)");
	expect_refused("credentials", "imgtagfs: credentials: needs a value (credentials=...; see imgtagfs --help)");
}

static void test_flags_and_fuse_options(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(
	    run(&r, "-f", "uhub", "-s", "/mnt", "-o", "debug,lazy,allow_other,bogus,entry_timeout=3", NULL), 0);
	assert_true(r.cfg.debug);
	assert_true(r.cfg.lazy);
	assert_true(r.cfg.foreground);
	assert_true(has_arg(&r, "-f"));
	assert_true(has_arg(&r, "-s"));
	/* libfuse's options, known or not, are libfuse's to judge; ours
	 * (debug means API logging here) are not passed on. */
	assert_true(has_arg(&r, "allow_other,bogus,entry_timeout=3"));
	assert_null(strstr(r.joined, "debug"));
	assert_null(strstr(r.joined, "lazy"));
	assert_string_equal(r.cfg.mountpoint, "/mnt");
	assert_false(r.cfg.allow_delete);
	done(&r);

	/* Deletion: the mount is not flagged ro (the kernel would refuse
	 * every unlink itself), and a "ro" of fstab's does not make it so. */
	assert_int_equal(run(&r, "uhub", "/mnt", "-o", "ro,allow_delete", NULL), 0);
	assert_true(r.cfg.allow_delete);
	assert_string_equal(r.joined, "imgtagfs -orw,fsname=imgtagfs:uhub,subtype=imgtagfs /mnt");
	done(&r);

	assert_int_equal(run(&r, "uhub", "/mnt", "-d", NULL), 0);
	assert_true(r.cfg.foreground);
	assert_false(r.cfg.debug);
	assert_true(has_arg(&r, "-d"));
	done(&r);

	/* mount(8)'s flags are not imgtagfs's: left for libfuse to refuse. */
	assert_int_equal(run(&r, "uhub", "/mnt", "-n", "-v", NULL), 0);
	assert_true(has_arg(&r, "-n"));
	assert_true(has_arg(&r, "-v"));
	done(&r);
}

static void test_help_version_check(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(run(&r, "-h", NULL), 0);
	assert_true(r.cfg.help);
	assert_false(has_arg(&r, "-h"));
	done(&r);
	assert_int_equal(run(&r, "--help", NULL), 0);
	assert_true(r.cfg.help);
	done(&r);
	assert_int_equal(run(&r, "-V", NULL), 0);
	assert_true(r.cfg.version);
	done(&r);
	assert_int_equal(run(&r, "--version", NULL), 0);
	assert_true(r.cfg.version);
	done(&r);
	/* Options are still checked with --help. */
	assert_int_equal(run(&r, "--help", "-o", "ttl=x", NULL), -EINVAL);
	done(&r);

	assert_int_equal(run(&r, "--check", NULL), 0);
	assert_true(r.cfg.check);
	assert_string_equal(r.cfg.source, "uhub");
	assert_null(r.cfg.mountpoint);
	assert_null(strstr(r.joined, "fsname"));
	done(&r);
	assert_int_equal(run(&r, "--check", "org-abc123:web", "-o", "ttl=5", NULL), 0);
	assert_string_equal(r.cfg.project, "org-abc123");
	assert_string_equal(r.cfg.repo, "web");
	assert_int_equal(r.cfg.ttl, 5);
	done(&r);
	assert_int_equal(run(&r, "uhub:", "/mnt", "--check", NULL), -EINVAL);
	done(&r);
}

static void test_positionals(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(run(&r, NULL), -EINVAL);
	assert_string_equal(r.err, "imgtagfs: no SOURCE given: usage: imgtagfs SOURCE MOUNTPOINT [-o OPTIONS] (see "
				   "imgtagfs --help)");
	done(&r);
	assert_int_equal(run(&r, "uhub", NULL), -EINVAL);
	assert_string_equal(r.err, "imgtagfs: no MOUNTPOINT given: usage: imgtagfs uhub MOUNTPOINT [-o OPTIONS]");
	done(&r);
	assert_int_equal(run(&r, "uhub", "/mnt", "extra", NULL), -EINVAL);
	assert_string_equal(r.err, "imgtagfs: unexpected argument \"extra\": give SOURCE and MOUNTPOINT, then options");
	done(&r);
	/* libfuse's own complaint (to stderr, kept out of the test output)
	 * plus a line of ours. */
	quiet(true);
	run(&r, "uhub", "/mnt", "-o", NULL);
	quiet(false);
	assert_int_equal(r.rc, -EINVAL);
	assert_string_equal(r.err, "imgtagfs: cannot parse the command line (see imgtagfs --help)");
	done(&r);
}

static void check_source(const char *src, const char *project, const char *repo)
{
	struct run r;
	char fsname[128];

	assert_int_equal(run(&r, src, "/mnt", NULL), 0);
	assert_string_equal(r.cfg.source, src);
	if (project)
		assert_string_equal(r.cfg.project, project);
	else
		assert_null(r.cfg.project);
	if (repo)
		assert_string_equal(r.cfg.repo, repo);
	else
		assert_null(r.cfg.repo);
	snprintf(fsname, sizeof(fsname), "-oro,fsname=imgtagfs:%s,subtype=imgtagfs", src);
	assert_true(has_arg(&r, fsname));
	assert_false(has_arg(&r, src));
	done(&r);
}

static void check_bad_source(const char *src, const char *msg)
{
	struct run r;

	assert_int_equal(run(&r, src, "/mnt", NULL), -EINVAL);
	assert_string_equal(r.err, msg);
	done(&r);
}

static void test_sources(void **state)
{
	(void)state;
	check_source("uhub", NULL, NULL);
	check_source("uhub:web", NULL, "web");
	check_source("org-abc123", "org-abc123", NULL);
	check_source("org-abc:web", "org-abc", "web");
	check_source("org-a_B-9:my.repo-1", "org-a_B-9", "my.repo-1");

#define BAD_HEAD(s)                                                                                                    \
	"imgtagfs: SOURCE \"" s "\": expected uhub or a project id org-..., either optionally followed by :REPO"
	check_bad_source("", BAD_HEAD(""));
	check_bad_source(":", BAD_HEAD(":"));
	check_bad_source(":web", BAD_HEAD(":web"));
	check_bad_source("foo", BAD_HEAD("foo"));
	check_bad_source("UHUB", BAD_HEAD("UHUB"));
	check_bad_source("uhubx:web", BAD_HEAD("uhubx:web"));
	check_bad_source("org-", BAD_HEAD("org-"));
	check_bad_source("org-a,b", BAD_HEAD("org-a,b"));
	check_bad_source("org-abc/x", BAD_HEAD("org-abc/x"));
	check_bad_source("uhub:", "imgtagfs: SOURCE \"uhub:\": \"\" cannot be a repository name");
	check_bad_source("uhub:../x", "imgtagfs: SOURCE \"uhub:../x\": \"../x\" cannot be a repository name");
	check_bad_source("uhub:a/b", "imgtagfs: SOURCE \"uhub:a/b\": \"a/b\" cannot be a repository name");
	check_bad_source("uhub:web:x", "imgtagfs: SOURCE \"uhub:web:x\": \"web:x\" cannot be a repository name");
	check_bad_source("uhub:a,ro=x", "imgtagfs: SOURCE \"uhub:a,ro=x\": \"a,ro=x\" cannot be a repository name");
#undef BAD_HEAD
}

static void test_project_rule(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(run(&r, "uhub:web", "/mnt", "-o", "project=org-x1", NULL), 0);
	assert_string_equal(r.cfg.project, "org-x1");
	assert_string_equal(r.cfg.repo, "web");
	done(&r);
	assert_int_equal(run(&r, "org-x1", "/mnt", "-o", "project=org-x1", NULL), 0);
	assert_string_equal(r.cfg.project, "org-x1");
	done(&r);
	assert_int_equal(run(&r, "org-a:web", "/mnt", "-o", "project=org-b", NULL), -EINVAL);
	assert_string_equal(r.err,
			    "imgtagfs: project=org-b conflicts with the project in SOURCE \"org-a:web\"; give it once");
	done(&r);
	/* A prefix is not the same project. */
	assert_int_equal(run(&r, "org-abc", "/mnt", "-o", "project=org-ab", NULL), -EINVAL);
	done(&r);
	assert_int_equal(run(&r, "org-ab", "/mnt", "-o", "project=org-abc", NULL), -EINVAL);
	done(&r);
}

/* The fstab line of the operations issue, as mount(8) runs the helper. */
static void test_mount_helper_form(void **state)
{
	static const char *const dropped[] = {"_netdev", "nofail",   "noauto", "user",	      "x-systemd",
					      "comment", "defaults", "ttl",    "credentials", "-n"};
	struct run r;

	(void)state;
	assert_int_equal(run_helper(&r, "uhub:web", "/mnt", "-n", "-o",
				    "_netdev,nofail,noauto,user,x-systemd.automount,comment=foo,defaults,ttl=120,"
				    "credentials=/etc/x",
				    NULL),
			 0);
	assert_true(r.cfg.mount_helper);
	assert_int_equal(r.cfg.ttl, 120);
	assert_string_equal(r.cfg.credentials, "/etc/x");
	assert_string_equal(r.cfg.repo, "web");
	assert_string_equal(r.joined, "/sbin/mount.imgtagfs -oro,fsname=imgtagfs:uhub:web,subtype=imgtagfs /mnt");
	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		assert_null(strstr(r.joined + strlen("/sbin/mount.imgtagfs"), dropped[i]));
	done(&r);

	/* A user mount: mount(8) runs the helper as the user with "user", or
	 * "user=NAME", and "nosuid,nodev,noexec"; fusermount3 refuses user=. */
	assert_int_equal(run_helper(&r, "uhub", "/mnt", "-o", "rw,noexec,nosuid,nodev,user=ann,ttl=60", NULL), 0);
	assert_string_equal(
	    r.joined, "/sbin/mount.imgtagfs -oro,fsname=imgtagfs:uhub,subtype=imgtagfs -o noexec,nosuid,nodev /mnt");
	done(&r);

	/* -s sloppy, -f fake, -v verbose, -t TYPE: not libfuse's flags here. */
	assert_int_equal(run_helper(&r, "uhub", "/mnt", "-s", "-f", "-v", "-t", "imgtagfs", "-o",
				    "rw,auto,nouser,users,ro,allow_other", NULL),
			 0);
	assert_true(r.cfg.fake);
	assert_false(r.cfg.foreground);
	assert_string_equal(r.joined,
			    "/sbin/mount.imgtagfs -oro,fsname=imgtagfs:uhub,subtype=imgtagfs -o allow_other /mnt");
	done(&r);

	/* The mount words go in the imgtagfs form too. */
	assert_int_equal(run(&r, "uhub", "/mnt", "-o", "_netdev,ro,rw,x-foo,comment=a", NULL), 0);
	assert_string_equal(r.joined, "imgtagfs -oro,fsname=imgtagfs:uhub,subtype=imgtagfs /mnt");
	done(&r);

	/* A bad value is refused the same way in the helper form. */
	assert_int_equal(run_helper(&r, "uhub:web", "/mnt", "-o", "nofail,ttl=99999", NULL), -EINVAL);
	assert_string_equal(r.err, "imgtagfs: ttl=99999: expected a whole number of seconds from 0 to 86400");
	done(&r);
}

static void test_user_fsname(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(run(&r, "uhub", "/mnt", "-o", "fsname=reg,subtype=x", NULL), 0);
	assert_string_equal(r.joined, "imgtagfs -oro -o fsname=reg,subtype=x /mnt");
	done(&r);
	assert_int_equal(run(&r, "uhub", "/mnt", "-o", "subtype=x", NULL), 0);
	assert_true(has_arg(&r, "-oro,fsname=imgtagfs:uhub"));
	done(&r);
}

/* What opts leaves in args is accepted by libfuse's own parsers (no mount
 * is made: fuse_new does not open /dev/fuse), and an unknown option is
 * still refused by libfuse. */
static int libfuse_accepts(struct run *r)
{
	static const struct fuse_operations ops = {0};
	struct fuse_cmdline_opts o;
	struct fuse *f;
	int ok;

	memset(&o, 0, sizeof(o));
	assert_int_equal(fuse_parse_cmdline(&r->args, &o), 0);
	assert_non_null(o.mountpoint);
	assert_string_equal(o.mountpoint, "/mnt");
	f = fuse_new(&r->args, &ops, sizeof(ops), NULL);
	ok = f != NULL;
	if (f)
		fuse_destroy(f);
	free(o.mountpoint);
	return ok;
}

static void test_libfuse_takes_the_rest(void **state)
{
	struct run r;

	(void)state;
	assert_int_equal(run_helper(&r, "uhub:web", "/mnt", "-n", "-s", "-o",
				    "_netdev,nofail,noauto,user,x-systemd.automount,comment=foo,defaults,ttl=120,"
				    "allow_other,default_permissions,entry_timeout=2",
				    NULL),
			 0);
	assert_true(libfuse_accepts(&r));
	done(&r);
	assert_int_equal(run(&r, "uhub", "/mnt", "-f", "-s", "-o", "debug,ro", NULL), 0);
	assert_true(libfuse_accepts(&r));
	done(&r);
	assert_int_equal(run(&r, "uhub", "/mnt", "-o", "bogus_option", NULL), 0);
	quiet(true);
	assert_false(libfuse_accepts(&r));
	quiet(false);
	done(&r);
}

static void test_is_mount_helper(void **state)
{
	(void)state;
	assert_true(opts_is_mount_helper("mount.imgtagfs"));
	assert_true(opts_is_mount_helper("/sbin/mount.imgtagfs"));
	assert_true(opts_is_mount_helper("/usr/local/sbin/mount.imgtagfs"));
	assert_false(opts_is_mount_helper("imgtagfs"));
	assert_false(opts_is_mount_helper("/usr/bin/imgtagfs"));
	assert_false(opts_is_mount_helper("/mount.d/imgtagfs"));
	assert_false(opts_is_mount_helper(""));
	assert_false(opts_is_mount_helper(NULL));
}

static void test_endpoint_and_project(void **state)
{
	struct config c;

	(void)state;
	memset(&c, 0, sizeof(c));
	unsetenv("UCLOUD_API_BASE_URL");
	unsetenv("UCLOUD_PROJECT_ID");
	assert_string_equal(opts_endpoint(&c, NULL), OPTS_DEFAULT_ENDPOINT);
	assert_string_equal(opts_endpoint(&c, ""), OPTS_DEFAULT_ENDPOINT);
	assert_string_equal(opts_endpoint(&c, "https://cfg"), "https://cfg");
	setenv("UCLOUD_API_BASE_URL", "https://env", 1);
	assert_string_equal(opts_endpoint(&c, "https://cfg"), "https://env");
	c.endpoint = "https://opt";
	assert_string_equal(opts_endpoint(&c, "https://cfg"), "https://opt");
	setenv("UCLOUD_API_BASE_URL", "", 1);
	c.endpoint = NULL;
	assert_string_equal(opts_endpoint(&c, "https://cfg"), "https://cfg");
	unsetenv("UCLOUD_API_BASE_URL");

	assert_null(opts_project(&c, NULL));
	assert_string_equal(opts_project(&c, "org-cfg"), "org-cfg");
	setenv("UCLOUD_PROJECT_ID", "org-env", 1);
	assert_string_equal(opts_project(&c, "org-cfg"), "org-env");
	c.project = "org-opt";
	assert_string_equal(opts_project(&c, "org-cfg"), "org-opt");
	unsetenv("UCLOUD_PROJECT_ID");
}

/* text with every run of blanks and newlines as one space, for phrases
 * that --help or a man page may wrap anywhere. Caller frees. */
static char *squeeze(const char *text)
{
	char *out = malloc(strlen(text) + 1), *o = out;

	assert_non_null(out);
	for (const char *p = text; *p; p++) {
		bool blank = *p == ' ' || *p == '\n' || *p == '\t';

		if (blank && (o == out || o[-1] == ' '))
			continue;
		*o++ = blank ? ' ' : *p;
	}
	*o = '\0';
	return out;
}

/* Every row of the option table is in --help: "name=ARG", its line, and
 * "(RANGE, default DEF)" as the table says. */
static void usage_has_every_option(const char *text)
{
	char *flat = squeeze(text), want[600];
	struct opts_doc d;

	for (size_t i = 0; opts_doc(i, &d); i++) {
		const char *at;

		snprintf(want, sizeof(want), "\n  %s%s%s", d.name, d.arg ? "=" : "", d.arg ? d.arg : "");
		at = strstr(text, want);
		if (!at || (at[strlen(want)] != ' ' && at[strlen(want)] != '\n'))
			fail_msg("--help lacks the option %s", want + 3);
		snprintf(want, sizeof(want), "%s%s%s%s%s%s%s", d.help, *d.range || d.def ? " (" : "", d.range,
			 *d.range && d.def ? ", " : "", d.def ? "default " : "", d.def ? d.def : "",
			 *d.range || d.def ? ")" : "");
		if (!strstr(flat, want))
			fail_msg("--help lacks \"%s\"", want);
	}
	free(flat);
}

/* The option table is what the parser does: each literal default is what
 * cfg holds with no option given (test_defaults states the values), and
 * each range's ends are accepted and one past them refused. */
static void test_table_matches_parser(void **state)
{
	struct opts_doc d;
	struct run r;
	char opt[128];
	size_t n = 0;

	(void)state;
	for (size_t i = 0; opts_doc(i, &d); i++, n++) {
		unsigned long lo, hi;
		char *dots = strstr(d.range, "..");

		assert_non_null(d.help);
		if (d.literal) {
			snprintf(opt, sizeof(opt), "%s=%s", d.name, d.def);
			assert_int_equal(one(&r, opt), 0);
			done(&r);
		}
		if (!dots || !strchr("0123456789", d.range[0]) || strpbrk(d.range, "KMG"))
			continue;
		lo = strtoul(d.range, NULL, d.range[0] == '0' && dots[2] == '0' ? 8 : 10);
		hi = strtoul(dots + 2, NULL, dots[2] == '0' ? 8 : 10);
		snprintf(opt, sizeof(opt), dots[2] == '0' ? "%s=%lo" : "%s=%lu", d.name, lo);
		assert_int_equal(one(&r, opt), 0);
		done(&r);
		snprintf(opt, sizeof(opt), dots[2] == '0' ? "%s=%lo" : "%s=%lu", d.name, hi);
		assert_int_equal(one(&r, opt), 0);
		done(&r);
		snprintf(opt, sizeof(opt), dots[2] == '0' ? "%s=%lo" : "%s=%lu", d.name, hi + 1);
		if (one(&r, opt) != -EINVAL)
			fail_msg("%s: the table's range ends at %lu, the parser took %s", d.name, hi, opt);
		done(&r);
		if (lo > 0) {
			snprintf(opt, sizeof(opt), "%s=%lu", d.name, lo - 1);
			if (one(&r, opt) != -EINVAL)
				fail_msg("%s: the table's range starts at %lu, the parser took %s", d.name, lo, opt);
			done(&r);
		}
	}
	assert_true(n >= 20);
	assert_int_equal(one(&r, "cache_size=1M"), 0);
	done(&r);
	assert_int_equal(one(&r, "cache_size=64G"), 0);
	done(&r);
	assert_int_equal(one(&r, "cache_size=1023K"), -EINVAL);
	done(&r);
	assert_int_equal(one(&r, "cache_size=65G"), -EINVAL);
	done(&r);
}

/* A line of roff as it reads on the page: requests (.TP, .PP, ...) give
 * nothing, the font macros' arguments are joined (alternating ones like
 * .BI without a space), and the escapes we use are resolved. */
static void render(const char *line, char *out, size_t len)
{
	bool alternate = false;
	size_t o = 0;
	const char *p = line;

	if (*p == '.') {
		size_t m = strcspn(p, " ");

		if (p[1] != 'B' && p[1] != 'I' && p[1] != 'R') {
			out[0] = '\0';
			return;
		}
		alternate = m == 3;
		p += m;
		p += strspn(p, " ");
	}
	for (; *p && o + 1 < len; p++) {
		if (*p == '"')
			continue;
		if (*p == ' ' && alternate)
			continue;
		if (*p == '\\' && p[1]) {
			p++;
			if (*p == '-' || *p == 'e')
				out[o++] = *p == '-' ? '-' : '\\';
			else if (*p == 'f' && p[1])
				p++;
			else if (*p == '(' && p[1] && p[2])
				p += 2;
			continue; /* \c, \&, fonts: nothing */
		}
		out[o++] = *p;
	}
	out[o] = '\0';
}

/* The page as rendered text, one rendered line per line of roff. */
static char *read_page(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL, line[4096], out[4096];
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!f)
		fail_msg("cannot open %s (run the unit tests from the top of the tree)", path);
	assert_non_null(m);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, ".TP", 3))
			fputs("\n@TP\n", m); /* an entry starts: the next line is its tag */
		else if (!strncmp(line, ".SH", 3))
			fprintf(m, "\n@SH %s\n", line + 4);
		render(line, out, sizeof(out));
		if (out[0])
			fprintf(m, "%s\n", out);
	}
	fclose(f);
	fclose(m);
	return text;
}

/* The entry of OPTIONS whose tag is NAME=... or NAME, squeezed; NULL if
 * the page has none. Caller frees. */
static char *man_entry(const char *page, const char *name)
{
	const char *opts = strstr(page, "\n@SH OPTIONS\n"), *end, *p;
	size_t n = strlen(name);

	assert_non_null(opts);
	end = strstr(opts + 1, "\n@SH ");
	for (p = opts; (p = strstr(p, "\n@TP\n")) && (!end || p < end); p++) {
		const char *tag = p + 5, *stop = strstr(tag, "\n@TP\n");
		char *entry;

		if (strncmp(tag, name, n) || (tag[n] != '=' && tag[n] != '\n' && tag[n] != ' '))
			continue;
		if (!stop || (end && stop > end))
			stop = end ? end : tag + strlen(tag);
		entry = strndup(tag, (size_t)(stop - tag));
		assert_non_null(entry);
		p = squeeze(entry);
		free(entry);
		return (char *)p;
	}
	return NULL;
}

/* imgtagfs(1) documents every option of the table with the table's range
 * and default, and documents no option the table lacks. */
static void test_man_page_matches_table(void **state)
{
	char *page = read_page("man/imgtagfs.1"), want[128];
	const char *opts = strstr(page, "\n@SH OPTIONS\n"), *end;
	struct opts_doc d;

	(void)state;
	for (size_t i = 0; opts_doc(i, &d); i++) {
		char *e = man_entry(page, d.name), *dots = strstr(d.range, "..");

		if (!e)
			fail_msg("imgtagfs(1) OPTIONS has no entry for %s", d.name);
		if (dots) {
			snprintf(want, sizeof(want), "%.*s to %s", (int)(dots - d.range), d.range, dots + 2);
			if (!strstr(e, want))
				fail_msg("imgtagfs(1): %s lacks its range \"%s\": %s", d.name, want, e);
		} else if (!strcmp(d.range, "private or public") && !strstr(e, "private|public")) {
			fail_msg("imgtagfs(1): %s lacks its choices: %s", d.name, e);
		}
		snprintf(want, sizeof(want), "Default %s", d.def ? d.def : "");
		if (d.literal && !strstr(e, want))
			fail_msg("imgtagfs(1): %s lacks \"%s\": %s", d.name, want, e);
		if (!strcmp(d.name, "endpoint") && !strstr(e, OPTS_DEFAULT_ENDPOINT))
			fail_msg("imgtagfs(1): endpoint lacks its default " OPTS_DEFAULT_ENDPOINT);
		free(e);
	}
	/* ... and no entry the table lacks (flags such as --check aside). */
	end = strstr(opts + 1, "\n@SH ");
	for (const char *p = opts; (p = strstr(p, "\n@TP\n")) && p < end; p++) {
		const char *tag = p + 5;
		size_t n = strcspn(tag, "=\n ");
		bool known = tag[0] == '-';

		for (size_t i = 0; !known && opts_doc(i, &d); i++)
			known = strlen(d.name) == n && !strncmp(d.name, tag, n);
		if (!known)
			fail_msg("imgtagfs(1) documents %.*s, which the option table lacks", (int)n, tag);
	}
	free(page);
}

/* Words a page may write as NAME= that are not our options: libfuse's and
 * mount(8)'s options, the kernel's (findmnt shows them), exportfs's, and the lines of a
 * credentials file. */
static bool foreign_option(const char *name, size_t n)
{
	static const char *const foreign[] = {"user",	     "fsname",	    "subtype",	  "comment",
					      "max_threads", "max_read",    "user_id",	  "group_id",
					      "public_key",  "private_key", "project_id", "fsid"};

	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
		if (strlen(foreign[i]) == n && !strncmp(foreign[i], name, n))
			return true;
	return false;
}

/* Every NAME= a page mentions is an option of the table (or libfuse's,
 * mount(8)'s): neither page names an option that does not exist. */
static void page_names_only_options(const char *path)
{
	char *page = read_page(path);
	struct opts_doc d;

	for (const char *p = page; *p; p++) {
		size_t n = 0;
		bool known;

		if (p > page && (isalnum((unsigned char)p[-1]) || strchr("_.-$", p[-1])))
			continue;
		while (islower((unsigned char)p[n]) || p[n] == '_')
			n++;
		if (!n || p[n] != '=')
			continue;
		known = foreign_option(p, n);
		for (size_t i = 0; !known && opts_doc(i, &d); i++)
			known = strlen(d.name) == n && !strncmp(d.name, p, n);
		if (!known)
			fail_msg("%s names the option %.*s=, which the option table lacks", path, (int)n, p);
	}
	free(page);
}

static void test_man_pages_name_real_options(void **state)
{
	(void)state;
	page_names_only_options("man/imgtagfs.1");
	page_names_only_options("man/mount.imgtagfs.8");
}

static void test_usage(void **state)
{
	static const char *const must[] = {
	    "imgtagfs SOURCE MOUNTPOINT",
	    "--check [SOURCE [MOUNTPOINT]]",
	    "updatedb(8)",
	    "mount.imgtagfs SOURCE MOUNTPOINT [-sfnv]",
	    "endpoint=URL",
	    OPTS_DEFAULT_ENDPOINT,
	    "project=ID",
	    "credentials=FILE",
	    "profile=NAME",
	    "ttl=SECONDS",
	    "negative_ttl=SECONDS",
	    "page_size=N",
	    "max_requests=N",
	    "timeout=SECONDS",
	    "retries=N",
	    "cache_size=BYTES",
	    "repo_type=",
	    "api_tz=ZONE",
	    "umask=OCTAL",
	    "debug",
	    "lazy",
	    "-V, --version",
	    "chmod 600",
	    "UCLOUD_PUBLIC_KEY",
	    "UCLOUD_PRIVATE_KEY",
	    "UCLOUD_PROJECT_ID",
	    "UCLOUD_API_BASE_URL",
	    "UCLOUD_PROFILE",
	    "UCLOUD_SHARED_CREDENTIAL_FILE",
	    "UCLOUD_SHARED_CONFIG_FILE",
	    "allow_other",
	    "user_allow_other",
	    "_netdev",
	    "user=NAME",
	    "x-*",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	opts_usage(f, "imgtagfs");
	fclose(f);
	for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
		if (!strstr(text, must[i]))
			fail_msg("--help lacks \"%s\"", must[i]);
	usage_has_every_option(text);
	/* Fits an 80-column terminal. */
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');

		assert_non_null(nl);
		if (nl - p > 79)
			fail_msg("--help line too long: %.*s", (int)(nl - p), p);
		p = nl + 1;
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_repo_ttl),
	    cmocka_unit_test(test_ids_and_umask),
	    cmocka_unit_test(test_cache_size),
	    cmocka_unit_test(test_choices),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_flags_and_fuse_options),
	    cmocka_unit_test(test_help_version_check),
	    cmocka_unit_test(test_positionals),
	    cmocka_unit_test(test_sources),
	    cmocka_unit_test(test_project_rule),
	    cmocka_unit_test(test_mount_helper_form),
	    cmocka_unit_test(test_user_fsname),
	    cmocka_unit_test(test_libfuse_takes_the_rest),
	    cmocka_unit_test(test_is_mount_helper),
	    cmocka_unit_test(test_endpoint_and_project),
	    cmocka_unit_test(test_usage),
	    cmocka_unit_test(test_table_matches_parser),
	    cmocka_unit_test(test_man_page_matches_table),
	    cmocka_unit_test(test_man_pages_name_real_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
