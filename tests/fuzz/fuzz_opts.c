/* fuzz_opts.c — libFuzzer harness for the command line (opts.h).
 *
 * Input: a flags byte, then the arguments separated by NUL bytes. Flags
 * bit 0 picks argv[0] "mount.imgtagfs" (mount(8)'s form) over "imgtagfs",
 * bit 1 prefixes it with "/sbin/". At most 64 arguments are used.
 *
 * opts_parse must never exit (libFuzzer reports an exit as a crash), must
 * leave either a config within every documented range or a released config
 * and a one-line message, and the args it hands to libfuse must be
 * well-formed; everything is released (LeakSanitizer). --help text goes to
 * /dev/null through opts_usage.
 */
#include <errno.h>
#include <fuse_opt.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "names.h"
#include "opts.h"

#define MAX_ARGS 64
#define OFFSET_MAX (23 * 3600 + 59 * 60)

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	devnull = fopen("/dev/null", "w");
	return 0;
}

/* A config opts_parse accepted: every value in its documented range. */
static void check_config(const struct config *c, bool helper)
{
	FUZZ_CHECK(c->mount_helper == helper);
	FUZZ_CHECK(!c->fake || helper);
	FUZZ_CHECK(c->repo_type && (!strcmp(c->repo_type, "private") || !strcmp(c->repo_type, "public")));
	FUZZ_CHECK(c->ttl <= 86400 && c->negative_ttl <= 3600);
	FUZZ_CHECK(c->page_size >= 1 && c->page_size <= 10000);
	FUZZ_CHECK(c->max_requests >= 1 && c->max_requests <= 64);
	FUZZ_CHECK(c->timeout >= 1 && c->timeout <= 600 && c->retries <= 10);
	FUZZ_CHECK(c->cache_size >= (1u << 20) && c->cache_size <= (64ull << 30));
	FUZZ_CHECK(c->umask <= 0777);
	FUZZ_CHECK(c->api_tz >= -OFFSET_MAX && c->api_tz <= OFFSET_MAX);
	FUZZ_CHECK(!c->endpoint || !strncasecmp(c->endpoint, "http://", 7) || !strncasecmp(c->endpoint, "https://", 8));
	FUZZ_CHECK(!c->project || !strncmp(c->project, "org-", 4));
	FUZZ_CHECK(!c->repo || names_maybe_component(c->repo));
	FUZZ_CHECK(!c->credentials || c->credentials[0]);
	FUZZ_CHECK(!c->profile || c->profile[0]);
	if (c->help || c->version)
		return;
	FUZZ_CHECK(c->source != NULL);
	FUZZ_CHECK(c->check || c->mountpoint != NULL);
	FUZZ_CHECK(opts_endpoint(c, NULL) != NULL);
	(void)opts_project(c, "org-x");
}

/* What is left for fuse_main: argc strings and a NULL, the mountpoint
 * among them when one is needed. */
static void check_args(const struct fuse_args *a, const struct config *c)
{
	bool mountpoint = false;

	FUZZ_CHECK(a->argc >= 1 && a->argv && a->argv[a->argc] == NULL);
	for (int i = 0; i < a->argc; i++) {
		FUZZ_CHECK(a->argv[i] != NULL);
		mountpoint |= c->mountpoint && !strcmp(a->argv[i], c->mountpoint);
	}
	if (!c->help && !c->version && !c->check)
		FUZZ_CHECK(mountpoint);
}

static void check_released(const struct config *c)
{
	static const struct config zero;

	FUZZ_CHECK(!memcmp(c, &zero, sizeof(zero)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const prog[4] = {"imgtagfs", "mount.imgtagfs", "/sbin/imgtagfs", "/sbin/mount.imgtagfs"};
	char *argv[MAX_ARGS + 2], *text, err[256];
	int argc = 0;
	size_t pos = 0, len;
	struct config cfg;
	struct fuse_args args;
	int rc;

	if (size < 1)
		return 0;
	len = size - 1;
	text = fuzz_string(data + 1, len);
	argv[argc++] = strdup(prog[data[0] & 3]);
	while (pos < len && argc <= MAX_ARGS) {
		argv[argc++] = text + pos;
		pos += strlen(text + pos) + 1;
	}
	argv[argc] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	memset(err, 'x', sizeof(err));
	rc = opts_parse(&args, &cfg, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc) {
		/* A refusal says why, in a line of ours. */
		FUZZ_CHECK(!strncmp(err, "imgtagfs: ", 10));
		check_released(&cfg);
	} else {
		check_config(&cfg, (data[0] & 1) != 0);
		check_args(&args, &cfg);
		if (cfg.help && devnull)
			opts_usage(devnull, argv[0]);
	}
	opts_release(&cfg);
	check_released(&cfg);
	opts_release(&cfg); /* safe twice */
	fuse_opt_free_args(&args);
	free(argv[0]);
	free(text);
	return 0;
}
