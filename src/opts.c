/* opts.c — the command line. One fuse_opt table holds imgtagfs's own -o
 * options, which are validated here (a bad value is refused with a line
 * naming the option and the accepted range, before anything is mounted) and
 * removed from args; libfuse's options stay in args for fuse_main, which
 * refuses the ones it does not know. The same binary is mount.imgtagfs:
 * called by that name it takes mount(8)'s argument form (-s is "sloppy" and
 * -f is "fake" there, not libfuse's single-threaded and foreground). In
 * both forms the words that belong to mount(8), fstab or systemd are
 * dropped, and "-o ro,fsname=imgtagfs:SOURCE,subtype=imgtagfs" is added so
 * mount, df and findmnt show a readable read-only mount.
 */
#include <ctype.h>
#include <errno.h>
#include <fuse_opt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "names.h"
#include "opts.h"
#include "shared.h"
#include "timefmt.h"

enum opt_key {
	/* plain numbers: the index into nums[] */
	KEY_TTL,
	KEY_NEGATIVE_TTL,
	KEY_PAGE_SIZE,
	KEY_MAX_REQUESTS,
	KEY_TIMEOUT,
	KEY_RETRIES,
	KEY_MAX_STALE,
	KEY_MAX_RPS,
	KEY_PREFETCH,
	KEY_DEADLINE,
	KEY_SHARED_TIMEOUT,
	KEY_NUMS,
	KEY_UID = KEY_NUMS,
	KEY_GID,
	KEY_UMASK,
	KEY_CACHE_SIZE,
	KEY_REPO_TYPE,
	KEY_API_TZ,
	/* strings: KEY_ENDPOINT + index into strs[] */
	KEY_ENDPOINT,
	KEY_PROJECT,
	KEY_CREDENTIALS,
	KEY_PROFILE,
	KEY_SHARED,
	KEY_SHARED_AUTH,
	KEY_SHARED_KEY,
	KEY_DEBUG,
	KEY_LAZY,
	KEY_ALLOW_DELETE,
	KEY_FSNAME,
	KEY_REPO_TTL, /* ttl.REPO=: matched by hand, fuse_opt has no prefix match */
	KEY_SUBTYPE,
	KEY_CHECK,
	KEY_HELP,
	KEY_VERSION,
	KEY_F, /* -f: libfuse's foreground; mount(8)'s "fake" */
	KEY_D, /* -d: libfuse's debug, which implies foreground */
	KEY_S, /* -s: libfuse's single-threaded; mount(8)'s "sloppy" */
	KEY_N, /* -n: mount(8)'s "no mtab" */
	KEY_V, /* -v: mount(8)'s "verbose" */
	KEY_T, /* -t TYPE: mount(8)'s type, for a type.subtype */
};

static const struct fuse_opt opt_table[] = {
    FUSE_OPT_KEY("ttl=", KEY_TTL),
    FUSE_OPT_KEY("negative_ttl=", KEY_NEGATIVE_TTL),
    FUSE_OPT_KEY("page_size=", KEY_PAGE_SIZE),
    FUSE_OPT_KEY("max_requests=", KEY_MAX_REQUESTS),
    FUSE_OPT_KEY("timeout=", KEY_TIMEOUT),
    FUSE_OPT_KEY("retries=", KEY_RETRIES),
    FUSE_OPT_KEY("max_stale=", KEY_MAX_STALE),
    FUSE_OPT_KEY("max_rps=", KEY_MAX_RPS),
    FUSE_OPT_KEY("prefetch=", KEY_PREFETCH),
    FUSE_OPT_KEY("deadline=", KEY_DEADLINE),
    FUSE_OPT_KEY("shared_cache_timeout=", KEY_SHARED_TIMEOUT),
    FUSE_OPT_KEY("shared_cache=", KEY_SHARED),
    FUSE_OPT_KEY("shared_cache_auth=", KEY_SHARED_AUTH),
    FUSE_OPT_KEY("shared_cache_key=", KEY_SHARED_KEY),
    FUSE_OPT_KEY("uid=", KEY_UID),
    FUSE_OPT_KEY("gid=", KEY_GID),
    FUSE_OPT_KEY("umask=", KEY_UMASK),
    FUSE_OPT_KEY("cache_size=", KEY_CACHE_SIZE),
    FUSE_OPT_KEY("repo_type=", KEY_REPO_TYPE),
    FUSE_OPT_KEY("api_tz=", KEY_API_TZ),
    FUSE_OPT_KEY("endpoint=", KEY_ENDPOINT),
    FUSE_OPT_KEY("project=", KEY_PROJECT),
    FUSE_OPT_KEY("credentials=", KEY_CREDENTIALS),
    FUSE_OPT_KEY("profile=", KEY_PROFILE),
    FUSE_OPT_KEY("debug", KEY_DEBUG),
    FUSE_OPT_KEY("lazy", KEY_LAZY),
    FUSE_OPT_KEY("allow_delete", KEY_ALLOW_DELETE),
    FUSE_OPT_KEY("fsname=", KEY_FSNAME),
    FUSE_OPT_KEY("subtype=", KEY_SUBTYPE),
    FUSE_OPT_KEY("--check", KEY_CHECK),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_KEY("-f", KEY_F),
    FUSE_OPT_KEY("-d", KEY_D),
    FUSE_OPT_KEY("-s", KEY_S),
    FUSE_OPT_KEY("-n", KEY_N),
    FUSE_OPT_KEY("-v", KEY_V),
    FUSE_OPT_KEY("-t ", KEY_T),
    /* Words of mount(8), fstab and systemd that mean nothing to a FUSE
     * mount (libfuse would refuse them). "ro" and "rw" go too: the
     * mount is read-only, and "ro" is added back below ("rw" with
     * allow_delete). */
    FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
    /* What mount(8) makes of "user" for a user mount: the mounting user's
     * name, for its own table; fusermount3 refuses it. */
    FUSE_OPT_KEY("user=", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("defaults", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("rw", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("ro", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_KEY("comment=", FUSE_OPT_KEY_DISCARD),
    FUSE_OPT_END,
};

struct num_opt {
	const char *name;
	size_t off; /* of an unsigned in struct config */
	unsigned long min, max;
	const char *what;
};

static const struct num_opt nums[KEY_NUMS] = {
    [KEY_TTL] = {"ttl", offsetof(struct config, ttl), 0, 86400, "a whole number of seconds"},
    [KEY_NEGATIVE_TTL] = {"negative_ttl", offsetof(struct config, negative_ttl), 0, 3600, "a whole number of seconds"},
    [KEY_PAGE_SIZE] = {"page_size", offsetof(struct config, page_size), 1, 10000, "a whole number"},
    [KEY_MAX_REQUESTS] = {"max_requests", offsetof(struct config, max_requests), 1, 64, "a whole number"},
    [KEY_TIMEOUT] = {"timeout", offsetof(struct config, timeout), 1, 600, "a whole number of seconds"},
    [KEY_RETRIES] = {"retries", offsetof(struct config, retries), 0, 10, "a whole number"},
    [KEY_MAX_STALE] = {"max_stale", offsetof(struct config, max_stale), 0, 86400, "a whole number of seconds"},
    [KEY_MAX_RPS] = {"max_rps", offsetof(struct config, max_rps), 0, 10000, "a whole number of requests a second"},
    [KEY_PREFETCH] = {"prefetch", offsetof(struct config, prefetch), 0, 4096, "a whole number of listings"},
    [KEY_DEADLINE] = {"deadline", offsetof(struct config, deadline), 0, 3600, "a whole number of seconds"},
    [KEY_SHARED_TIMEOUT] = {"shared_cache_timeout", offsetof(struct config, shared_timeout), 1, 60000,
			    "a whole number of milliseconds"},
};

struct str_opt {
	const char *name;
	size_t off; /* of a char * in struct config */
	const char *what;
};

static const struct str_opt strs[] = {
    [KEY_ENDPOINT - KEY_ENDPOINT] = {"endpoint", offsetof(struct config, endpoint), "an http:// or https:// URL"},
    /* Not stored in cfg directly: checked against SOURCE first. */
    [KEY_PROJECT - KEY_ENDPOINT] = {"project", 0, "a project id such as org-abc123"},
    [KEY_CREDENTIALS - KEY_ENDPOINT] = {"credentials", offsetof(struct config, credentials), "a file name"},
    [KEY_PROFILE - KEY_ENDPOINT] = {"profile", offsetof(struct config, profile), "a profile name"},
    [KEY_SHARED - KEY_ENDPOINT] = {"shared_cache", offsetof(struct config, shared_cache),
				   "redis://HOST[:PORT][/DB] or unix:PATH"},
    [KEY_SHARED_AUTH - KEY_ENDPOINT] = {"shared_cache_auth", offsetof(struct config, shared_auth), "a file name"},
    [KEY_SHARED_KEY - KEY_ENDPOINT] = {"shared_cache_key", offsetof(struct config, shared_key), "a file name"},
};

#define CACHE_SIZE_MIN (1ull << 20)
#define CACHE_SIZE_MAX (64ull << 30)
#define PROJECT_MAX 64

/* One row per -o option of ours, the one place its range, default and
 * meaning are written: --help prints the rows (opts_usage), imgtagfs(1)
 * must state the same range and default (tests/unit/test_opts.c reads the
 * page), and opts_parse starts from every literal default, parsed as if it
 * had been given. A numeric option's range is nums[]'s, the one the parser
 * enforces. A new option: its key, a line in opt_table, a row here, an
 * entry in man/imgtagfs.1's OPTIONS. */
struct opt_row {
	const char *name;
	const char *arg;   /* "SECONDS"; NULL for a flag */
	const char *range; /* NULL: nums[]'s for a number, else none */
	const char *def;   /* NULL: nothing to state */
	const char *help;  /* one line, wrapped by --help */
	int key;
	bool literal; /* def is a value, applied before parsing */
	bool shared;  /* listed under the shared tier */
};

static const struct opt_row rows[] = {
    {"endpoint", "URL", NULL,
     "$UCLOUD_API_BASE_URL, else base_url in ~/.ucloud/config.json, else " OPTS_DEFAULT_ENDPOINT,
     "API endpoint: https://, or http:// to a loopback address", KEY_ENDPOINT, false, false},
    {"project", "ID", NULL,
     "SOURCE's, else $UCLOUD_PROJECT_ID, else the credentials or config file's, else the key's default",
     "project id org-...; must agree with SOURCE's", KEY_PROJECT, false, false},
    {"credentials", "FILE", NULL, NULL, "read the keys from FILE (see Credentials)", KEY_CREDENTIALS, false, false},
    {"profile", "NAME", NULL, NULL, "profile in the vendor's credential.json and config.json", KEY_PROFILE, false,
     false},
    {"ttl", "SECONDS", NULL, "60",
     "nothing shown is older than this, counted from a listing's first request; the kernel keeps what it was "
     "told for the time left on that listing",
     KEY_TTL, true, false},
    {"ttl.REPO", "SECONDS", "0..86400", "ttl's",
     "repository REPO's own ttl, for every listing of it and what the kernel keeps of them; repeatable", KEY_REPO_TTL,
     false, false},
    {"deadline", "SECONDS", NULL, "30",
     "no operation waits longer; it fails with ETIMEDOUT while the listing goes on being fetched in the "
     "background, so trying again finds it; 0: no deadline",
     KEY_DEADLINE, true, false},
    {"negative_ttl", "SECONDS", NULL, "5", "remember \"no such tag\" this long, never longer than ttl",
     KEY_NEGATIVE_TTL, true, false},
    {"page_size", "N", NULL, "100", "Limit asked for per API page", KEY_PAGE_SIZE, true, false},
    {"max_requests", "N", NULL, "8", "API requests in flight at once", KEY_MAX_REQUESTS, true, false},
    {"timeout", "SECONDS", NULL, "30", "time allowed for one HTTP request", KEY_TIMEOUT, true, false},
    {"retries", "N", NULL, "3", "extra tries after a transient failure", KEY_RETRIES, true, false},
    {"max_stale", "SECONDS", NULL, "600",
     "when a refresh fails, keep serving the last good listing this long past its ttl, with a warning; 0: fail "
     "at once with the error",
     KEY_MAX_STALE, true, false},
    {"max_rps", "N", NULL, "0", "API requests a second at most, shared by all threads; 0: no limit", KEY_MAX_RPS, true,
     false},
    {"prefetch", "N", NULL, "256",
     "after listing a directory, fetch up to N of its subdirectories' listings in the background, 0: off; once "
     "mounted, / is listed so",
     KEY_PREFETCH, true, false},
    {"cache_size", "BYTES", "1M..64G", "256M",
     "memory for cached listings, K/M/G suffix allowed; whole listings evicted, least recently used first",
     KEY_CACHE_SIZE, true, false},
    {"repo_type", "TYPE", "private or public", "private", "the repositories / lists", KEY_REPO_TYPE, true, false},
    {"api_tz", "ZONE", NULL, "+08:00", "zone of the API's zone-less times: +08:00, -05:30, +0800, Z", KEY_API_TZ, true,
     false},
    {"uid", "N", "0..4294967294", "the mounting user", "owner of every file, numeric", KEY_UID, false, false},
    {"gid", "N", "0..4294967294", "the mounting user's group", "group of every file, numeric", KEY_GID, false, false},
    {"umask", "OCTAL", "0..0777", "022", "mask on the modes 0444 and 0555", KEY_UMASK, true, false},
    {"debug", NULL, NULL, NULL,
     "log every API call: action, parameters without keys or signature, RetCode, milliseconds (libfuse's "
     "trace: -d)",
     KEY_DEBUG, false, false},
    {"lazy", NULL, NULL, NULL,
     "skip the signed call made before mounting and the warm-up after it: no call until first used (for "
     "boot)",
     KEY_LAZY, false, false},
    {"allow_delete", NULL, NULL, NULL,
     "rm TAG and find -delete delete tags, rmdir an image with no tags, in the registry (the mount's owner and "
     "root only); refused (EBUSY) unless the registry still has what the mount showed; without it the mount "
     "is read-only (EROFS)",
     KEY_ALLOW_DELETE, false, false},
    {"shared_cache", "URL", NULL, "none",
     "share whole listings with every mount using the same Redis, project and key: redis://HOST[:PORT][/DB] or "
     "unix:PATH; a password never goes here",
     KEY_SHARED, false, true},
    {"shared_cache_auth", "FILE", NULL, NULL,
     "Redis AUTH from FILE: \"PASSWORD\" or \"USER PASSWORD\" (mode 0600, owned by you or root, like "
     "credentials)",
     KEY_SHARED_AUTH, false, true},
    {"shared_cache_timeout", "MS", NULL, "200",
     "bound of every Redis operation, at most a quarter of deadline; Redis failing means the local cache and "
     "the API, never an error",
     KEY_SHARED_TIMEOUT, true, true},
    {"shared_cache_key", "FILE", NULL, "derived from the API private key and the project",
     "the fleet's secret for authenticating shared values (at least 16 bytes, mode 0600)", KEY_SHARED_KEY, false, true},
};

/* The state of one opts_parse: the data pointer fuse_opt hands back. */
struct parse {
	struct config *cfg;
	char *err;
	size_t errlen;
	char *project;	 /* -o project=, checked against SOURCE later */
	int positionals; /* SOURCE, MOUNTPOINT seen so far */
	bool saw_fsname, saw_subtype;
};

static int refuse(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err && p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err, p->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A whole number and nothing else: strtoull alone would take leading
 * blanks, a sign (and wrap "-1"), or stop quietly at junk. */
static int parse_whole(const char *s, int base, unsigned long long *out, const char **end)
{
	char *e;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &e, base);
	if (errno || e == s)
		return -EINVAL;
	if (end)
		*end = e;
	else if (*e)
		return -EINVAL;
	return 0;
}

static int set_num(struct parse *p, int key, const char *arg)
{
	const struct num_opt *o = &nums[key];
	unsigned long long v;

	if (parse_whole(arg + strlen(o->name) + 1, 10, &v, NULL) || v < o->min || v > o->max)
		return refuse(p, "imgtagfs: %s: expected %s from %lu to %lu", arg, o->what, o->min, o->max);
	*(unsigned *)((char *)p->cfg + o->off) = (unsigned)v;
	return 0;
}

/* uid=, gid=: numeric only (no name lookup); -1 is "no change" to chown. */
static int set_id(struct parse *p, int key, const char *arg)
{
	unsigned long long v;

	if (parse_whole(arg + 4, 10, &v, NULL) || v >= UINT32_MAX)
		return refuse(p, "imgtagfs: %s: expected a numeric %s id from 0 to %u", arg,
			      key == KEY_UID ? "user" : "group", UINT32_MAX - 1);
	if (key == KEY_UID)
		p->cfg->uid = (uid_t)v;
	else
		p->cfg->gid = (gid_t)v;
	return 0;
}

static int set_umask(struct parse *p, const char *arg)
{
	unsigned long long v;

	if (parse_whole(arg + strlen("umask="), 8, &v, NULL) || v > 0777)
		return refuse(p, "imgtagfs: %s: expected an octal mode from 0 to 0777", arg);
	p->cfg->umask = (mode_t)v;
	return 0;
}

/* Bytes, or a number with a K, M or G suffix (powers of 1024). */
static int parse_size(const char *s, unsigned long long *out)
{
	const char *end;
	unsigned shift = 0;

	if (parse_whole(s, 10, out, &end))
		return -EINVAL;
	if (*end) {
		const char *p = strchr("KMG", toupper((unsigned char)*end));

		if (!p || end[1])
			return -EINVAL;
		shift = 10 * (unsigned)(p - "KMG" + 1);
	}
	if (*out > (UINT64_MAX >> shift))
		return -ERANGE;
	*out <<= shift;
	return 0;
}

static int set_cache_size(struct parse *p, const char *arg)
{
	unsigned long long v;

	if (parse_size(arg + strlen("cache_size="), &v) || v < CACHE_SIZE_MIN || v > CACHE_SIZE_MAX || v > SIZE_MAX)
		return refuse(p,
			      "imgtagfs: %s: expected a size from 1M to 64G (bytes, or a number with a K, M "
			      "or G suffix)",
			      arg);
	p->cfg->cache_size = (size_t)v;
	return 0;
}

static int replace(char **dst, const char *val)
{
	char *copy = strdup(val);

	if (!copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

/* org- and up to 60 letters, digits, '-' or '_': also safe inside the
 * comma-separated fsname= option. */
static bool valid_project(const char *s, size_t n)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

	if (n <= 4 || n > PROJECT_MAX || strncmp(s, "org-", 4) != 0)
		return false;
	for (size_t i = 4; i < n; i++)
		if (!s[i] || !strchr(ok, s[i]))
			return false;
	return true;
}

static bool valid_url(const char *s)
{
	return (!strncasecmp(s, "https://", 8) && s[8]) || (!strncasecmp(s, "http://", 7) && s[7]);
}

static int set_str(struct parse *p, int key, const char *arg)
{
	const struct str_opt *o = &strs[key - KEY_ENDPOINT];
	const char *v = arg + strlen(o->name) + 1;
	bool ok = *v != '\0';

	if (key == KEY_ENDPOINT)
		ok = valid_url(v);
	else if (key == KEY_SHARED && ok) {
		struct shared_addr a;

		if (shared_addr_parse(v, &a, p->err, p->errlen))
			return -EINVAL; /* its message names what is wrong */
	} else if (key == KEY_PROJECT)
		ok = valid_project(v, strlen(v));
	if (!ok)
		return refuse(p, "imgtagfs: %s: expected %s", arg, o->what);
	if (key == KEY_PROJECT)
		return replace(&p->project, v);
	return replace((char **)((char *)p->cfg + o->off), v);
}

static int set_choice(struct parse *p, int key, const char *arg)
{
	const char *v = strchr(arg, '=') + 1;

	if (key == KEY_API_TZ) {
		if (timefmt_parse_zone(v, &p->cfg->api_tz))
			return refuse(p, "imgtagfs: %s: expected a zone such as +08:00, -05:30, +0800 or Z", arg);
		return 0;
	}
	if (strcmp(v, "private") != 0 && strcmp(v, "public") != 0)
		return refuse(p, "imgtagfs: %s: expected private or public", arg);
	return replace(&p->cfg->repo_type, v);
}

/* ttl.REPO=SECONDS, as ttl= is checked; a repository named twice keeps
 * the last. */
static int set_repo_ttl(struct parse *p, const char *arg)
{
	struct config *c = p->cfg;
	const char *repo = arg + 4, *eq = strchr(repo, '=');
	size_t n = eq ? (size_t)(eq - repo) : 0, i;
	unsigned long long v;
	struct opts_repo_ttl *more;

	if (!n || n > NAMES_MAX || !names_valid_component(repo, n))
		return refuse(p, "imgtagfs: %s: expected ttl.REPO=SECONDS with REPO a repository name", arg);
	if (parse_whole(eq + 1, 10, &v, NULL) || v > nums[KEY_TTL].max)
		return refuse(p, "imgtagfs: %s: expected %s from %lu to %lu", arg, nums[KEY_TTL].what,
			      nums[KEY_TTL].min, nums[KEY_TTL].max);
	for (i = 0; i < c->n_repo_ttls && (strlen(c->repo_ttls[i].repo) != n || strncmp(c->repo_ttls[i].repo, repo, n));
	     i++)
		;
	if (i == c->n_repo_ttls) {
		more = realloc(c->repo_ttls, (i + 1) * sizeof(*more));
		if (!more)
			return -ENOMEM;
		c->repo_ttls = more;
		if (!(more[i].repo = strndup(repo, n)))
			return -ENOMEM;
		c->n_repo_ttls++;
	}
	c->repo_ttls[i].ttl = (unsigned)v;
	return 0;
}

/* An option of ours given without its value ("-o ttl") would otherwise
 * reach libfuse and be called unknown. */
static bool is_ours(const char *arg)
{
	size_t n = strlen(arg);

	if (!strncmp(arg, "ttl.", 4))
		return true;

	for (const struct fuse_opt *o = opt_table; o->templ; o++)
		if (o->value >= 0 && strlen(o->templ) == n + 1 && o->templ[n] == '=' && !strncmp(o->templ, arg, n))
			return true;
	return false;
}

/* Everything fuse_opt did not match: x-* words are dropped, the rest is
 * libfuse's to accept or refuse. */
static int other_opt(struct parse *p, const char *arg)
{
	if (!strncmp(arg, "x-", 2))
		return 0;
	if (!strncmp(arg, "ttl.", 4) && strchr(arg, '='))
		return set_repo_ttl(p, arg);
	if (is_ours(arg))
		return refuse(p, "imgtagfs: %s: needs a value (%s=...; see imgtagfs --help)", arg, arg);
	return 1;
}

static int positional(struct parse *p, const char *arg)
{
	struct config *c = p->cfg;

	switch (p->positionals++) {
	case 0:
		return replace(&c->source, arg) ? -ENOMEM : 0;
	case 1:
		/* Kept: fuse_main takes the mountpoint from args. */
		return replace(&c->mountpoint, arg) ? -ENOMEM : 1;
	default:
		return refuse(p, "imgtagfs: unexpected argument \"%s\": give SOURCE and MOUNTPOINT, then options", arg);
	}
}

/* Flags whose meaning depends on the form: mount(8) passes -s (sloppy),
 * -f (fake), -n (no mtab), -v (verbose) and -t TYPE to its helpers. */
static int flag(struct parse *p, int key)
{
	struct config *c = p->cfg;

	if (c->mount_helper) {
		if (key == KEY_F)
			c->fake = true;
		return 0;
	}
	if (key == KEY_F)
		c->foreground = true;
	return 1; /* -s stays libfuse's; -n, -v, -t are refused by libfuse */
}

static int bool_opt(struct parse *p, int key)
{
	struct config *c = p->cfg;

	switch (key) {
	case KEY_DEBUG:
		c->debug = true;
		return 0;
	case KEY_LAZY:
		c->lazy = true;
		return 0;
	case KEY_ALLOW_DELETE:
		c->allow_delete = true;
		return 0;
	case KEY_CHECK:
		c->check = true;
		return 0;
	case KEY_HELP:
		c->help = true;
		return 0;
	case KEY_VERSION:
		c->version = true;
		return 0;
	case KEY_D:
		c->foreground = true;
		return 1;
	case KEY_FSNAME:
		p->saw_fsname = true;
		return 1;
	case KEY_SUBTYPE:
		p->saw_subtype = true;
		return 1;
	default:
		return flag(p, key);
	}
}

static int dispatch(struct parse *p, const char *arg, int key)
{
	if (key == FUSE_OPT_KEY_NONOPT)
		return positional(p, arg);
	if (key == FUSE_OPT_KEY_OPT)
		return other_opt(p, arg);
	if (key < KEY_NUMS)
		return set_num(p, key, arg);
	switch (key) {
	case KEY_UID:
	case KEY_GID:
		return set_id(p, key, arg);
	case KEY_UMASK:
		return set_umask(p, arg);
	case KEY_CACHE_SIZE:
		return set_cache_size(p, arg);
	case KEY_REPO_TYPE:
	case KEY_API_TZ:
		return set_choice(p, key, arg);
	case KEY_ENDPOINT:
	case KEY_PROJECT:
	case KEY_CREDENTIALS:
	case KEY_PROFILE:
	case KEY_SHARED:
	case KEY_SHARED_AUTH:
	case KEY_SHARED_KEY:
		return set_str(p, key, arg);
	default:
		return bool_opt(p, key);
	}
}

/* fuse_opt's callback: 1 keeps arg for libfuse, 0 drops it, -1 stops. */
static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct parse *p = data;
	int r;

	(void)outargs;
	r = dispatch(p, arg, key);
	if (r == -ENOMEM)
		refuse(p, "imgtagfs: out of memory");
	return r < 0 ? -1 : r;
}

/* What the option table does not hold: ids of the caller, and zeroes. */
static void set_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->uid = getuid();
	c->gid = getgid();
}

/* Every literal default of the table, parsed as if it had been given, so
 * that the value --help and imgtagfs(1) state is the value used. */
static int apply_defaults(struct parse *p)
{
	char arg[64];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int n;

		if (!rows[i].literal)
			continue;
		n = snprintf(arg, sizeof(arg), "%s=%s", rows[i].name, rows[i].def);
		if (n < 0 || (size_t)n >= sizeof(arg) || dispatch(p, arg, rows[i].key) < 0)
			return -EINVAL;
	}
	return 0;
}

bool opts_is_mount_helper(const char *argv0)
{
	const char *base;

	if (!argv0)
		return false;
	base = strrchr(argv0, '/');
	base = base ? base + 1 : argv0;
	return strncmp(base, "mount.", 6) == 0;
}

/* SOURCE is "uhub" or "org-...", optionally ":REPO". Sets cfg->project
 * and cfg->repo; a -o project= must agree with a project in SOURCE. */
static int parse_source(struct parse *p)
{
	struct config *c = p->cfg;
	const char *s = c->source, *colon = strchr(s, ':');
	size_t head = colon ? (size_t)(colon - s) : strlen(s);
	bool uhub = head == 4 && !strncmp(s, "uhub", 4);

	if (!uhub && !valid_project(s, head))
		return refuse(p,
			      "imgtagfs: SOURCE \"%s\": expected uhub or a project id org-..., either "
			      "optionally followed by :REPO",
			      s);
	if (colon && !names_maybe_component(colon + 1))
		return refuse(p, "imgtagfs: SOURCE \"%s\": \"%s\" cannot be a repository name", s, colon + 1);
	if (colon && !(c->repo = strdup(colon + 1)))
		return -ENOMEM;
	if (!uhub && p->project && (strlen(p->project) != head || strncmp(p->project, s, head)))
		return refuse(p, "imgtagfs: project=%s conflicts with the project in SOURCE \"%s\"; give it once",
			      p->project, s);
	if (!uhub && !(c->project = strndup(s, head)))
		return -ENOMEM;
	if (uhub && p->project) {
		c->project = p->project;
		p->project = NULL;
	}
	return 0;
}

/* "-o ro,fsname=imgtagfs:SOURCE,subtype=imgtagfs" for libfuse, leaving
 * out what the user set. Inserted first so the user's options follow. */
static int add_mount_opts(struct parse *p, struct fuse_args *args)
{
	char opt[32 + PROJECT_MAX + NAMES_MAX + 64];
	int n;

	n = snprintf(opt, sizeof(opt), "-o%s%s%s%s", p->cfg->allow_delete ? "rw" : "ro",
		     p->saw_fsname ? "" : ",fsname=imgtagfs:", p->saw_fsname ? "" : p->cfg->source,
		     p->saw_subtype ? "" : ",subtype=imgtagfs");
	if (n < 0 || (size_t)n >= sizeof(opt))
		return refuse(p, "imgtagfs: SOURCE \"%s\" is too long", p->cfg->source);
	if (fuse_opt_insert_arg(args, 1, opt))
		return -ENOMEM;
	return 0;
}

static int check_positionals(struct parse *p, struct fuse_args *args)
{
	struct config *c = p->cfg;
	int err;

	if (!c->source && c->check && replace(&c->source, "uhub"))
		return -ENOMEM;
	if (!c->source)
		return refuse(p, "imgtagfs: no SOURCE given: usage: imgtagfs SOURCE MOUNTPOINT [-o OPTIONS] (see "
				 "imgtagfs --help)");
	err = parse_source(p);
	if (err || c->check)
		return err;
	if (!c->mountpoint)
		return refuse(p, "imgtagfs: no MOUNTPOINT given: usage: imgtagfs %s MOUNTPOINT [-o OPTIONS]",
			      c->source);
	return add_mount_opts(p, args);
}

/* Options that are valid alone but not together. */
static int check_combinations(struct parse *p)
{
	const struct config *c = p->cfg;

	for (size_t i = 0; c->repo && i < c->n_repo_ttls; i++)
		if (strcmp(c->repo_ttls[i].repo, c->repo) != 0)
			return refuse(p, "imgtagfs: ttl.%s=: the mount shows repository %s only", c->repo_ttls[i].repo,
				      c->repo);
	if (!c->shared_cache && (c->shared_auth || c->shared_key))
		return refuse(p, "imgtagfs: shared_cache_auth= and shared_cache_key= need shared_cache=URL");
	/* A fill may meet a hung Redis once or twice before it is marked
	 * down: that must stay well within the deadline. */
	if (c->shared_cache && c->deadline && (uint64_t)c->shared_timeout * 4 > (uint64_t)c->deadline * 1000)
		return refuse(p, "imgtagfs: shared_cache_timeout=%u: must be at most a quarter of deadline=%u (%u ms)",
			      c->shared_timeout, c->deadline, c->deadline * 250);
	return 0;
}

int opts_parse(struct fuse_args *args, struct config *cfg, char *err, size_t errlen)
{
	struct parse p = {.cfg = cfg, .err = err, .errlen = errlen};
	int rc = -EINVAL;

	if (err && errlen)
		err[0] = '\0';
	set_defaults(cfg);
	cfg->mount_helper = args->argc > 0 && opts_is_mount_helper(args->argv[0]);
	rc = apply_defaults(&p);
	if (rc)
		goto out;
	rc = -EINVAL;
	if (fuse_opt_parse(args, &p, opt_table, opt_proc) == -1) {
		/* libfuse's own complaints ("missing argument after `-o'")
		 * went to stderr; still give a line of ours. */
		if (err && errlen && !err[0])
			refuse(&p, "imgtagfs: cannot parse the command line (see imgtagfs --help)");
		goto out;
	}
	rc = (cfg->help || cfg->version) ? 0 : check_positionals(&p, args);
	if (!rc && !cfg->help && !cfg->version)
		rc = check_combinations(&p);
out:
	if (rc == -ENOMEM)
		refuse(&p, "imgtagfs: out of memory");
	free(p.project);
	if (rc)
		opts_release(cfg);
	return rc;
}

void opts_release(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->source);
	free(cfg->mountpoint);
	free(cfg->project);
	free(cfg->repo);
	free(cfg->endpoint);
	free(cfg->credentials);
	free(cfg->profile);
	free(cfg->repo_type);
	free(cfg->shared_cache);
	free(cfg->shared_auth);
	free(cfg->shared_key);
	for (size_t i = 0; i < cfg->n_repo_ttls; i++)
		free(cfg->repo_ttls[i].repo);
	free(cfg->repo_ttls);
	memset(cfg, 0, sizeof(*cfg));
}

/* Non-empty environment variable, else NULL. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

const char *opts_endpoint(const struct config *cfg, const char *config_base_url)
{
	if (cfg && cfg->endpoint)
		return cfg->endpoint;
	if (env("UCLOUD_API_BASE_URL"))
		return env("UCLOUD_API_BASE_URL");
	if (config_base_url && *config_base_url)
		return config_base_url;
	return OPTS_DEFAULT_ENDPOINT;
}

const char *opts_project(const struct config *cfg, const char *config_project)
{
	if (cfg && cfg->project)
		return cfg->project;
	if (env("UCLOUD_PROJECT_ID"))
		return env("UCLOUD_PROJECT_ID");
	if (config_project && *config_project)
		return config_project;
	return NULL;
}

static void usage_synopsis(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s SOURCE MOUNTPOINT [-f] [-d] [-s] [-o OPTION[,OPTION...]]\n"
		"       %s --check [SOURCE [MOUNTPOINT]] [-o OPTION[,OPTION...]]\n"
		"       %s -h|--help | -V|--version\n"
		"       mount.imgtagfs SOURCE MOUNTPOINT [-sfnv] [-o OPTIONS]   (for mount(8))\n"
		"\n"
		"Mounts a SurferCloud/UCloud UHub container registry read-only as\n"
		"MOUNTPOINT/REPO/IMAGE/TAG; a tag file holds \"digest: ...\" and \"updated: ...\".\n"
		"\n"
		"SOURCE is uhub (the key's default project) or a project id org-..., either\n"
		"optionally followed by :REPO to mount one repository as the root\n"
		"(uhub:web, org-abc123:web).\n"
		"\n"
		"  --check         load the keys, make one signed call, list the repositories,\n"
		"                  print each step and its time; mount nothing (SOURCE defaults\n"
		"                  to uhub). With shared_cache=, also check Redis and print the\n"
		"                  fleet's namespace and the Redis ACL line that confines its\n"
		"                  user to it. Warns when updatedb(8) would walk imgtagfs mounts\n"
		"                  (or MOUNTPOINT). Exit 0 if all worked, 1 otherwise.\n"
		"  -f              stay in the foreground\n"
		"  -d              foreground, and print every FUSE request (libfuse's debug)\n"
		"  -s              single-threaded\n"
		"  -h, --help      this text\n"
		"  -V, --version   the version of imgtagfs and of libfuse\n",
		prog, prog, prog);
}

/* "0..86400" from nums[] for a number, else the row's own range. */
static void row_range(const struct opt_row *r, char *buf, size_t len)
{
	if (r->range)
		snprintf(buf, len, "%s", r->range);
	else if (r->key < KEY_NUMS)
		snprintf(buf, len, "%lu..%lu", nums[r->key].min, nums[r->key].max);
	else
		snprintf(buf, len, "%s", "");
}

bool opts_doc(size_t i, struct opts_doc *doc)
{
	if (i >= sizeof(rows) / sizeof(rows[0]))
		return false;
	doc->name = rows[i].name;
	doc->arg = rows[i].arg;
	row_range(&rows[i], doc->range, sizeof(doc->range));
	doc->def = rows[i].def;
	doc->literal = rows[i].literal;
	doc->help = rows[i].help;
	return true;
}

#define USAGE_INDENT 21
#define USAGE_WIDTH 79

/* Writes text from column col on, wrapped at word boundaries to
 * USAGE_WIDTH, continuation lines indented USAGE_INDENT. */
static void usage_wrap(FILE *f, const char *text, int col)
{
	while (*text) {
		size_t word = strcspn(text, " ");

		if (col > USAGE_INDENT && col + 1 + (int)word > USAGE_WIDTH) {
			fprintf(f, "\n%*s", USAGE_INDENT, "");
			col = USAGE_INDENT;
		} else if (col > USAGE_INDENT) {
			fputc(' ', f);
			col++;
		}
		fwrite(text, 1, word, f);
		col += (int)word;
		text += word;
		text += strspn(text, " ");
	}
	fputc('\n', f);
}

/* "  ttl=SECONDS        the one line (0..86400, default 60)". */
static void usage_row(FILE *f, const struct opt_row *r)
{
	char head[48], range[32], text[512];
	int col;

	snprintf(head, sizeof(head), "%s%s%s", r->name, r->arg ? "=" : "", r->arg ? r->arg : "");
	row_range(r, range, sizeof(range));
	snprintf(text, sizeof(text), "%s%s%s%s%s%s%s", r->help, *range || r->def ? " (" : "", range,
		 *range && r->def ? ", " : "", r->def ? "default " : "", r->def ? r->def : "",
		 *range || r->def ? ")" : "");
	col = fprintf(f, "  %s", head);
	if (col >= USAGE_INDENT - 1) {
		fprintf(f, "\n%*s", USAGE_INDENT - 1, "");
		col = USAGE_INDENT - 1;
	}
	fprintf(f, "%*s", USAGE_INDENT - col, "");
	usage_wrap(f, text, USAGE_INDENT);
}

static void usage_options(FILE *f)
{
	fputs("\nOptions (-o NAME=VALUE, comma-separated):\n", f);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (!rows[i].shared)
			usage_row(f, &rows[i]);
	fputs("\nShared tier (many hosts, one Redis; see imgtagfs(1), SHARED CACHE):\n", f);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].shared)
			usage_row(f, &rows[i]);
}

static void usage_credentials(FILE *f)
{
	fputs("\n"
	      "Credentials, in this order:\n"
	      "  1. -o credentials=FILE: the vendor's JSON format (an array of objects with\n"
	      "     public_key, private_key, profile) or a simple file of lines\n"
	      "     public_key=KEY, private_key=KEY and optionally project_id=ID, with #\n"
	      "     comments (JSON when the first non-blank byte is [ or {);\n"
	      "  2. UCLOUD_PUBLIC_KEY and UCLOUD_PRIVATE_KEY (both, or neither);\n"
	      "  3. ~/.ucloud/credential.json (or $UCLOUD_SHARED_CREDENTIAL_FILE) with the\n"
	      "     profile from profile=, else $UCLOUD_PROFILE, else the \"active\" entry of\n"
	      "     ~/.ucloud/config.json (or $UCLOUD_SHARED_CONFIG_FILE), else \"default\";\n"
	      "     config.json may also give the project and the endpoint.\n"
	      "  A credentials file that group or others can read is refused (chmod 600 FILE),\n"
	      "  as is one owned by a user other than root or you, or one below a directory\n"
	      "  that someone else may write (as sshd's StrictModes; chmod go-w DIR). Keys\n"
	      "  never appear in argv, logs or debug output.\n"
	      "\n"
	      "Environment:\n"
	      "  UCLOUD_PUBLIC_KEY, UCLOUD_PRIVATE_KEY   the keys\n"
	      "  UCLOUD_PROJECT_ID                       the project, unless given otherwise\n"
	      "  UCLOUD_API_BASE_URL                     the endpoint, unless given otherwise\n"
	      "  UCLOUD_PROFILE                          the profile in the vendor's files\n"
	      "  UCLOUD_SHARED_CREDENTIAL_FILE           instead of ~/.ucloud/credential.json\n"
	      "  UCLOUD_SHARED_CONFIG_FILE               instead of ~/.ucloud/config.json\n",
	      f);
}

static void usage_fuse(FILE *f)
{
	fputs("\n"
	      "libfuse's own options are passed on: allow_other (needs user_allow_other in\n"
	      "/etc/fuse.conf), allow_root, auto_unmount, max_read=N, max_threads=N,\n"
	      "fsname=NAME, subtype=NAME, ... (see mount.fuse3(8)); an option that neither\n"
	      "imgtagfs nor libfuse knows is refused. The mount is read-only (but for\n"
	      "allow_delete) and shown as imgtagfs:SOURCE, type fuse.imgtagfs;\n"
	      "default_permissions is always on.\n"
	      "\n"
	      "mount(8) form (mount.imgtagfs, /etc/fstab): the words auto, noauto, user,\n"
	      "user=NAME, nouser, users, _netdev, nofail, defaults, rw, ro, x-* and\n"
	      "comment=* are dropped (in either form), so a user mount (\"user\" in fstab)\n"
	      "works for a user who is not root; -n, -v and -t TYPE are ignored; -s\n"
	      "(sloppy) is ignored, unknown options are still refused; -f (fake) checks\n"
	      "the options and mounts nothing. An fstab line:\n"
	      "  uhub:web /mnt/web imgtagfs _netdev,nofail,credentials=/etc/imgtagfs/keys 0 0\n",
	      f);
}

static void usage_running(FILE *f)
{
	fputs("\n"
	      "A running mount:\n"
	      "  getfattr -n user.imgtagfs.refresh DIR    drop DIR's listings, here and in the\n"
	      "                     kernel, at once (the mount's owner and root only; at most\n"
	      "                     10 at once, then 2 a second)\n"
	      "  getfattr --only-values -n user.imgtagfs.stats MNT   counters\n"
	      "  getfattr -d TAGFILE                      user.imgtagfs.digest and .updated\n"
	      "  kill -HUP PID      drop every listing, here and in the kernel\n"
	      "  kill -USR1 PID     debug logging on / off\n"
	      "Inode numbers are a hash of the path (stable across remounts). Times are\n"
	      "whole seconds: a tag's mtime is its update time, its ctime the time this\n"
	      "mount saw its bytes change within that second (rsync needs -c for that).\n",
	      f);
}

void opts_usage(FILE *f, const char *prog)
{
	usage_synopsis(f, prog && *prog ? prog : "imgtagfs");
	usage_options(f);
	usage_credentials(f);
	usage_fuse(f);
	usage_running(f);
}
