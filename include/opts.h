/* opts.h — the command line: imgtagfs's -o options (a fuse_opt table),
 * their defaults and ranges, and mount(8)'s argument form.
 *
 * Everything is validated before mounting: a bad value is refused with a
 * message naming the option and the accepted range. Options that belong to
 * libfuse (-f, -d, -s, allow_other, ...) are left in args for fuse_main,
 * which refuses an option it does not know either.
 *
 * Two forms, told apart by argv[0] (see opts_is_mount_helper):
 *   imgtagfs SOURCE MOUNTPOINT [-f] [-d] [-s] [-o OPTS]
 *   mount.imgtagfs SOURCE MOUNTPOINT [-sfnv] [-t TYPE] [-o OPTS]   (mount(8))
 * In the mount(8) form -n, -v, -t TYPE and -s ("sloppy"; unknown options
 * are still refused) are dropped and -f means "fake": cfg->fake is set and
 * nothing should be mounted. In both forms the mount(8)/fstab/systemd words
 * auto, noauto, user, nouser, users, _netdev, nofail, defaults, rw, ro,
 * x-* and comment=* are dropped, and for a mount
 * "-o ro,fsname=imgtagfs:SOURCE,subtype=imgtagfs" is put in args (fsname=
 * or subtype= given by the user are kept instead of ours; no "ro" with
 * allow_delete, for the kernel would refuse every unlink itself).
 * Not thread-safe (runs once, in main).
 */
#ifndef IMGTAGFS_OPTS_H
#define IMGTAGFS_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct fuse_args;

/* -o ttl.REPO=SECONDS: repository REPO's own ttl. */
struct opts_repo_ttl {
	char *repo;
	unsigned ttl; /* seconds */
};

struct config {
	char *source;	   /* "uhub", "org-...", optionally ":REPO" */
	char *mountpoint;  /* as given; also left in args for fuse_main */
	char *project;	   /* from SOURCE or -o project=, NULL = default */
	char *repo;	   /* from SOURCE's ":REPO", NULL = all */
	char *endpoint;	   /* -o endpoint=; NULL: see opts_endpoint() */
	char *credentials; /* -o credentials=FILE */
	char *profile;
	/* Options: ranges, defaults and meaning in opts.c's option table. */
	char *repo_type;		 /* "private" or "public" */
	long api_tz;			 /* seconds east of UTC */
	unsigned ttl;			 /* seconds */
	unsigned negative_ttl;		 /* seconds */
	struct opts_repo_ttl *repo_ttls; /* one per repository named, the last given */
	size_t n_repo_ttls;
	unsigned page_size;
	unsigned max_requests;
	unsigned timeout; /* seconds per HTTP request */
	unsigned retries;
	unsigned max_stale;	 /* seconds past ttl a failed refresh may serve the old listing */
	unsigned max_rps;	 /* API requests a second, 0 = no limit */
	unsigned prefetch;	 /* subdirectory listings fetched ahead per listing */
	unsigned deadline;	 /* seconds any operation may wait, 0 = none */
	unsigned shared_timeout; /* ms per Redis operation */
	char *shared_cache;	 /* -o shared_cache=URL (no password), NULL = no tier */
	char *shared_auth;	 /* -o shared_cache_auth=FILE */
	char *shared_key;	 /* -o shared_cache_key=FILE */
	size_t cache_size;	 /* bytes */
	uid_t uid;		 /* default getuid() */
	gid_t gid;		 /* default getgid() */
	mode_t umask;
	bool debug;	   /* -o debug: log every API call */
	bool lazy;	   /* -o lazy: no mount-time check */
	bool allow_delete; /* -o allow_delete: unlink and rmdir delete (prune.h) */
	bool foreground;   /* -f or -d seen */
	bool check;	   /* --check: probe and exit, no mount */
	bool help, version;
	bool mount_helper; /* called as mount.imgtagfs: mount(8)'s form */
	bool fake;	   /* mount(8)'s -f: validate, mount nothing */
};

#define OPTS_DEFAULT_ENDPOINT "https://api.surfercloud.com"

/* mount(8)'s exit statuses, for mount.imgtagfs: a bad invocation (options,
 * credentials) and a failed mount (the mount-time check, fuse_main). */
#define OPTS_MOUNT_EX_USAGE 1
#define OPTS_MOUNT_EX_FAIL 32

/* Parses args (argv as given to main) into cfg, leaving libfuse's own
 * options and the MOUNTPOINT in args. Fills defaults first (cfg need not be
 * initialised). SOURCE is required unless --check (then "uhub"), MOUNTPOINT
 * unless --check; with -h/--help or -V/--version neither is (and nothing
 * is added to args). A project in SOURCE and a -o project= that differs is
 * an error. 0, or -EINVAL (-ENOMEM) with a one-line message in err
 * ("imgtagfs: ttl=abc: expected a whole number of seconds from 0 to
 * 86400"); on error cfg is released. args is the caller's to
 * fuse_opt_free_args either way. */
int opts_parse(struct fuse_args *args, struct config *cfg, char *err, size_t errlen);
/* Frees the strings and zeroes cfg. Safe on a zeroed or released cfg. */
void opts_release(struct config *cfg);
/* Writes the --help text: both forms, every option with default and range,
 * the credentials order, the environment, a note on libfuse's options. */
void opts_usage(FILE *f, const char *prog);

/* One -o option as the option table documents it, for the tests that hold
 * --help and the manual pages to it. A plain value. */
struct opts_doc {
	const char *name; /* "ttl" */
	const char *arg;  /* "SECONDS"; NULL for a flag */
	char range[32];	  /* "0..86400", "1M..64G", "private or public"; "" for none */
	const char *def;  /* "60", or words ("the mounting user"); NULL for none */
	bool literal;	  /* def is a value, the one opts_parse starts from */
	const char *help; /* one line */
};
/* Fills doc with the i-th option of the table (0, 1, ...); false past the
 * last. */
bool opts_doc(size_t i, struct opts_doc *doc);
/* True when argv0's basename starts with "mount." (mount.imgtagfs). */
bool opts_is_mount_helper(const char *argv0);
/* The endpoint: -o endpoint=, else $UCLOUD_API_BASE_URL, else
 * config_base_url (creds.base_url, may be NULL), else
 * OPTS_DEFAULT_ENDPOINT. The result points into one of those; never NULL. */
const char *opts_endpoint(const struct config *cfg, const char *config_base_url);
/* The project: SOURCE's or -o project=, else $UCLOUD_PROJECT_ID, else
 * config_project (creds.project, may be NULL); NULL = the key's default
 * project. Empty strings count as unset. */
const char *opts_project(const struct config *cfg, const char *config_project);

#endif
