/* opts.h — the command line: imgtagfs's -o options (a fuse_opt table),
 * their defaults and ranges, and mount(8)'s argument form.
 *
 * Everything is validated before mounting: a bad value is refused with a
 * message naming the option and the accepted range. Options that belong to
 * libfuse (-f, -d, -s, allow_other, ...) are left in args for fuse_main.
 * Not thread-safe (runs once, in main).
 */
#ifndef IMGTAGFS_OPTS_H
#define IMGTAGFS_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct fuse_args;

struct config {
	char *source;		/* "uhub", "org-...", optionally ":REPO" */
	char *mountpoint;
	char *project;		/* from SOURCE or -o project=, NULL = default */
	char *repo;		/* from SOURCE's ":REPO", NULL = all */
	char *endpoint;		/* NULL = env UCLOUD_API_BASE_URL or default */
	char *credentials;	/* -o credentials=FILE */
	char *profile;
	char *repo_type;	/* "private" (default) or "public" */
	long api_tz;		/* seconds east of UTC, default +08:00 */
	unsigned ttl;		/* seconds, default 60 */
	unsigned negative_ttl;	/* seconds, default 5 */
	unsigned page_size;	/* default 100 */
	unsigned max_requests;	/* default 8 */
	unsigned timeout;	/* seconds per HTTP request, default 30 */
	unsigned retries;	/* default 3 */
	size_t cache_size;	/* bytes, default 256 MiB */
	uid_t uid;
	gid_t gid;
	mode_t umask;
	bool debug;		/* -o debug: log every API call */
	bool lazy;		/* -o lazy: no mount-time check */
	bool foreground;	/* -f or -d seen */
	bool check;		/* --check: probe and exit, no mount */
	bool help, version;
};

#define OPTS_DEFAULT_ENDPOINT "https://api.surfercloud.com"

/* Parses args (argv as given to main) into cfg, leaving libfuse's own
 * options in args. Fills defaults first. 0, or -EINVAL with a one-line
 * message in err ("imgtagfs: ttl=abc: expected 0..86400 seconds"). */
int opts_parse(struct fuse_args *args, struct config *cfg, char *err, size_t errlen);
void opts_release(struct config *cfg);
/* Writes --help text (every option, default and range). */
void opts_usage(FILE *f, const char *prog);

#endif
