/* sim_opts.c — the command line of uhub-sim.
 *
 * getopt_long with long options only, every number checked in full, every
 * mistake reported by name before anything starts. The --help text is the
 * simulator's manual: options, data file format, control endpoint, faults.
 */
#include "sim_opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"

static const char usage_text[] =
    "usage: uhub-sim [OPTIONS]\n"
    "       uhub-sim --sign PRIVATEKEY [--] NAME=VALUE...\n"
    "\n"
    "A local UHub (SurferCloud / UCloud container registry) API server for tests,\n"
    "benchmarks and demos. Serves the API at / and its controls at /_sim/; prints\n"
    "\"listening on http://ADDR:PORT\" on stdout when ready. SIGTERM or SIGINT stop it.\n"
    "\n"
    "Options:\n"
    "  --port N            port to listen on; 0 (default) picks a free one\n"
    "  --bind ADDR         address to listen on (default 127.0.0.1; IPv6 allowed)\n"
    "  --key PUB:PRIV      an accepted key pair, split at the first ':'; repeatable.\n"
    "                      Default: the documented test key of UHUB-API.md\n"
    "                      (PublicKey " SIM_TEST_PUBLIC_KEY ")\n"
    "  --keys-file FILE    more key pairs, one PUB:PRIV a line ('#' comments)\n"
    "  --project ID        a project that exists; repeatable; the first is every\n"
    "                      key's default. Default: " SIM_DEFAULT_PROJECT "\n"
    "  --data FILE         load the registry from a JSON file (format below)\n"
    "  --gen SPEC          generate it: repos=R,images=I,tags=T[,seed=S][,nested=N]\n"
    "                      (default repos=2,images=5,tags=10,seed=1,nested=5): repos\n"
    "                      repo-00.. (private), images img-00.. with every Nth one\n"
    "                      named team/img-NN, tags tag-0000.. with sha256 digests and\n"
    "                      times in the 30 days from 2026-10-01, all from the seed\n"
    "  --time-style S      plain (default: \"2026-11-27 10:15:00\", UTC+8), unix\n"
    "                      (\"1795745700\"), number (1795745700), rfc3339\n"
    "  --max-limit N       the server's cap on Limit (0 = none, default)\n"
    "  --latency-ms N      delay every API reply by N ms ...\n"
    "  --jitter-ms N       ... plus or minus up to N ms (uniform)\n"
    "  --rps N             at most N API requests a second (burst N); the excess\n"
    "                      gets RetCode 153 \"Request too frequent\"\n"
    "  --fault F           inject a fault: KIND[:RATE|#COUNT][@ACTION]; repeatable.\n"
    "                      RATE = probability per request (default 1), COUNT = only\n"
    "                      the next COUNT matching requests\n"
    "  --retcode-string    send RetCode as a JSON string (\"0\"), as some backends do\n"
    "  --seed N            seed of the fault and jitter draws (default: the clock)\n"
    "  --max-connections N concurrent connections (default 1024)\n"
    "  --access-log FILE   log every API request to FILE ('-': stdout)\n"
    "  --verbose           libmicrohttpd's own errors on stderr\n"
    "  --help, --version\n"
    "  --sign PRIV -- N=V...  print N=V... form-encoded with its Signature appended\n"
    "                      (a signing helper for shell tests; must come first)\n"
    "\n"
    "API: Action = GetRepo (Type private|public, default public), GetRepoImage\n"
    "(RepoName), GetImageTag (RepoName, ImageName, TagName), CreateRepo (RepoName,\n"
    "IsShared, Description), DeleteRepo (RepoName), DeleteRepoImage (RepoName,\n"
    "ImageName, TagName); Offset (0) and Limit (20) on the lists, which are sorted\n"
    "by name. GET query, form POST or JSON POST; query and body merged. Checks, in\n"
    "order: 160 no Action, 161 unknown Action, 170 no Signature, 172 unknown\n"
    "PublicKey, 171 wrong signature, 230 missing or bad parameter, 292 unknown\n"
    "ProjectId, 230 unknown repo or image. Every project sees the same registry.\n"
    "\n"
    "Fault kinds: http500 http502 http503 http429 (that status); ret110 ret130\n"
    "ret150 ret153 ret2000 (that RetCode); hang (no reply for 120 s, or ms=); drop\n"
    "(close without a reply); truncate (full Content-Length, half the body);\n"
    "notjson (200 \"<html>oops</html>\"); oversized (valid JSON of bytes=, default\n"
    "64 MiB); liecount (TotalCount x10); shuffle (GetImageTag only: odd shuffles\n"
    "push tag 0shuffle-NNNNNN, which sorts first, even ones delete the last tag);\n"
    "escmsg (RetCode 171 with escape sequences and a forged line in Message);\n"
    "dense (valid JSON of bytes= padded with an array of zeros, [0,0,...]).\n"
    "\n"
    "Directory view (for HTTP-directory filesystems; same latency; counted as\n"
    "action \"tree\"): GET /tree/ lists the private repos as an index page,\n"
    "/tree/REPO/ the images, /tree/REPO/IMAGE/ the tags; GET or HEAD\n"
    "/tree/REPO/IMAGE/TAG is the tag file imgtagfs shows; /tree/?dump all tags.\n"
    "\n"
    "Control endpoint (unsigned, plain-text answers; 400 on a bad request):\n"
    "  GET  /_sim/health                  ok\n"
    "  GET  /_sim/count?action=A&repo=R&image=I&tag=T&has_tag=0|1\n"
    "                                     API requests received that match\n"
    "  GET  /_sim/stats                   {\"GetRepo\":3,...}\n"
    "  POST /_sim/reset                   zero the counters\n"
    "  POST /_sim/push?repo=R&image=I&tag=T[&digest=D][&time=UNIX][&type=public]\n"
    "  POST /_sim/delete?repo=R[&image=I[&tag=T]]\n"
    "  POST /_sim/fault?kind=K[&rate=P][&count=N][&action=A][&ms=N][&bytes=N]\n"
    "                   [&later=1]        only pages after the first (Offset > 0)\n"
    "  POST /_sim/fault?kind=clear        GET /_sim/fault lists the active ones\n"
    "  POST /_sim/config?max_limit=N&latency_ms=N&jitter_ms=N&rps=N\n"
    "                   &time_style=S&retcode_string=0|1   (GET shows them)\n"
    "                   &trickle=0|1      pages after the first hold one item\n"
    "                   &late_total=N     pages after the first say TotalCount N\n"
    "                   &pad_bytes=N      each tag's Digest N bytes long (<= 1 MiB)\n"
    "  POST /_sim/log?on=1|0              the access log (stderr without a file)\n"
    "  GET  /_sim/state                   the whole registry at one instant, as a\n"
    "                                     --data file (times in Unix seconds), and\n"
    "                                     \"_changes\": pushes and deletes so far\n"
    "\n"
    "Data file (--data), JSON; unknown keys are errors, keys starting with '_'\n"
    "are comments:\n"
    "  {\"repos\": [{\"name\": \"web\", \"type\": \"private\", \"description\": \"...\",\n"
    "              \"is_shared\": false, \"is_outside\": false,\n"
    "              \"create_time\": T, \"update_time\": T,\n"
    "              \"images\": [{\"name\": \"api\", \"pull_count\": 12,\n"
    "                          \"create_time\": T, \"update_time\": T,\n"
    "                          \"tags\": [{\"name\": \"v1.4.2\", \"digest\": \"sha256:...\",\n"
    "                                    \"update_time\": T}],\n"
    "                          \"generate\": {\"tags\": 300, \"prefix\": \"build-\",\n"
    "                                       \"width\": 4, \"start\": T, \"step\": 3600,\n"
    "                                       \"seed\": 1}}]}]}\n"
    "  Only names are required. T = Unix seconds (number or digits), \"YYYY-MM-DD\n"
    "  HH:MM:SS\" in UTC+8, or RFC 3339. type defaults to private. A tag without a\n"
    "  digest has none. Image names may contain '/'. Missing times come from the\n"
    "  tags below (else 2026-11-01 00:00:00 UTC). \"generate\" adds tags PREFIX0001..\n"
    "  (width digits, default max(4, digits)) at start + (i-1)*step (start defaults\n"
    "  to update_time - tags*step), with deterministic digests. Sample:\n"
    "  tests/data/demo-registry.json.\n";

void sim_opts_usage(FILE *f)
{
	fputs(usage_text, f);
}

enum {
	OPT_PORT = 256,
	OPT_BIND,
	OPT_KEY,
	OPT_KEYS_FILE,
	OPT_PROJECT,
	OPT_DATA,
	OPT_GEN,
	OPT_TIME_STYLE,
	OPT_MAX_LIMIT,
	OPT_LATENCY,
	OPT_JITTER,
	OPT_RPS,
	OPT_FAULT,
	OPT_RETCODE_STRING,
	OPT_SEED,
	OPT_MAX_CONN,
	OPT_ACCESS_LOG,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option long_opts[] = {
    {"port", required_argument, NULL, OPT_PORT},
    {"bind", required_argument, NULL, OPT_BIND},
    {"key", required_argument, NULL, OPT_KEY},
    {"keys-file", required_argument, NULL, OPT_KEYS_FILE},
    {"project", required_argument, NULL, OPT_PROJECT},
    {"data", required_argument, NULL, OPT_DATA},
    {"gen", required_argument, NULL, OPT_GEN},
    {"time-style", required_argument, NULL, OPT_TIME_STYLE},
    {"max-limit", required_argument, NULL, OPT_MAX_LIMIT},
    {"latency-ms", required_argument, NULL, OPT_LATENCY},
    {"jitter-ms", required_argument, NULL, OPT_JITTER},
    {"rps", required_argument, NULL, OPT_RPS},
    {"fault", required_argument, NULL, OPT_FAULT},
    {"retcode-string", no_argument, NULL, OPT_RETCODE_STRING},
    {"seed", required_argument, NULL, OPT_SEED},
    {"max-connections", required_argument, NULL, OPT_MAX_CONN},
    {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Decimal digits only, at most max. 0 or -EINVAL. */
static int number(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end || *out > max ? -EINVAL : 0;
}

/* PUBLIC:PRIVATE, split at the first ':' (public keys have none). The
 * messages never repeat the text: it holds a private key. */
static int add_key(struct sim_opts *o, const char *spec, size_t len, char *err, size_t errlen)
{
	const char *colon = memchr(spec, ':', len);
	char *pub, *priv;
	int rc = -EINVAL;

	if (!colon || colon == spec || colon + 1 == spec + len) {
		snprintf(err, errlen, "a key must be PUBLIC:PRIVATE, both non-empty");
		return -EINVAL;
	}
	pub = strndup(spec, (size_t)(colon - spec));
	priv = strndup(colon + 1, len - (size_t)(colon - spec) - 1);
	rc = pub && priv ? params_set(o->keys, pub, priv) : -ENOMEM;
	free(pub);
	if (priv)
		explicit_bzero(priv, strlen(priv));
	free(priv);
	return rc;
}

static int read_keys_file(struct sim_opts *o, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	while (!rc && (n = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)n, start = strspn(line, " \t");

		lineno++;
		while (len > start && strchr(" \t\r\n", line[len - 1]))
			len--;
		if (len == start || line[start] == '#')
			continue;
		rc = add_key(o, line + start, len - start, err, errlen);
		if (rc == -EINVAL)
			snprintf(err, errlen, "%s:%zu: a key must be PUBLIC:PRIVATE", path, lineno);
	}
	if (line)
		explicit_bzero(line, cap);
	free(line);
	fclose(f);
	return rc;
}

static int bad(char *err, size_t errlen, const char *what, const char *arg)
{
	snprintf(err, errlen, "bad %s: %s", what, arg);
	return -EINVAL;
}

/* Options that take a number. 1 when c was one of them. */
static int number_opt(struct sim_opts *o, int c, const char *arg, char *err, size_t errlen)
{
	unsigned long long v;
	const char *name = c == OPT_PORT	? "--port"
			   : c == OPT_MAX_LIMIT ? "--max-limit"
			   : c == OPT_LATENCY	? "--latency-ms"
			   : c == OPT_JITTER	? "--jitter-ms"
			   : c == OPT_RPS	? "--rps"
			   : c == OPT_SEED	? "--seed"
			   : c == OPT_MAX_CONN	? "--max-connections"
						: NULL;
	unsigned long long max = c == OPT_PORT	      ? 65535
				 : c == OPT_SEED      ? UINT64_MAX
				 : c == OPT_MAX_LIMIT ? SIM_COUNT_MAX
				 : c == OPT_MAX_CONN  ? 100000
						      : 3600000;

	if (!name)
		return 0;
	if (number(arg, max, &v))
		return bad(err, errlen, name, arg);
	if (c == OPT_PORT)
		o->port = (unsigned)v;
	else if (c == OPT_MAX_LIMIT)
		o->max_limit = (size_t)v;
	else if (c == OPT_LATENCY)
		o->latency_ms = (unsigned long)v;
	else if (c == OPT_JITTER)
		o->jitter_ms = (unsigned long)v;
	else if (c == OPT_RPS)
		o->rps = (unsigned long)v;
	else if (c == OPT_SEED)
		o->seed = v;
	else
		o->max_connections = (unsigned)v;
	return 1;
}

static int add_fault(struct sim_opts *o, const char *arg, char *err, size_t errlen)
{
	struct sim_fault_spec *v;

	v = realloc(o->faults, (o->nfaults + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	o->faults = v;
	if (sim_fault_spec_parse(arg, &v[o->nfaults]))
		return bad(err, errlen, "--fault (KIND[:RATE|#COUNT][@ACTION])", arg);
	o->nfaults++;
	return 0;
}

/* One option other than a number. */
static int one_opt(struct sim_opts *o, int c, const char *arg, bool *gen_set, char *err, size_t errlen)
{
	int rc;

	switch (c) {
	case OPT_BIND:
		o->bind = arg;
		return 0;
	case OPT_KEY:
		return add_key(o, arg, strlen(arg), err, errlen);
	case OPT_KEYS_FILE:
		return read_keys_file(o, arg, err, errlen);
	case OPT_PROJECT:
		return *arg ? params_set(o->projects, arg, "") : bad(err, errlen, "--project", "(empty)");
	case OPT_DATA:
		o->data = arg;
		return 0;
	case OPT_GEN:
		*gen_set = true;
		rc = sim_gen_parse(arg, &o->gen);
		return rc ? bad(err, errlen, rc == -E2BIG ? "--gen (too large)" : "--gen", arg) : 0;
	case OPT_TIME_STYLE:
		return sim_time_style_parse(arg, &o->time_style) ? bad(err, errlen, "--time-style", arg) : 0;
	case OPT_FAULT:
		return add_fault(o, arg, err, errlen);
	case OPT_ACCESS_LOG:
		o->access_log = arg;
		return 0;
	case OPT_RETCODE_STRING:
		o->retcode_string = true;
		return 0;
	case OPT_VERBOSE:
		o->verbose = true;
		return 0;
	case OPT_HELP:
		o->help = true;
		return 0;
	case OPT_VERSION:
		o->version = true;
		return 0;
	default:
		return -EINVAL;
	}
}

/* What no option said. */
static int finish(struct sim_opts *o, bool gen_set, char *err, size_t errlen)
{
	int rc = 0;

	if (o->data && gen_set) {
		snprintf(err, errlen, "--data and --gen exclude each other");
		return -EINVAL;
	}
	if (!params_count(o->keys))
		rc = params_set(o->keys, SIM_TEST_PUBLIC_KEY, SIM_TEST_PRIVATE_KEY);
	if (!rc && !params_count(o->projects))
		rc = params_set(o->projects, SIM_DEFAULT_PROJECT, "");
	return rc;
}

int sim_opts_parse(int argc, char **argv, struct sim_opts *o, char *err, size_t errlen)
{
	bool gen_set = false;
	int c, rc = 0;

	*o = (struct sim_opts){.bind = "127.0.0.1", .seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32)};
	o->keys = params_new();
	o->projects = params_new();
	if (!o->keys || !o->projects)
		return -ENOMEM;
	sim_gen_parse("repos=2", &o->gen);
	opterr = 0;
	optind = 0;
	while (!rc && (c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (c == '?') {
			snprintf(err, errlen, "unknown option or missing argument: %s", argv[optind - 1]);
			return -EINVAL;
		}
		rc = number_opt(o, c, optarg, err, errlen);
		if (rc == 0)
			rc = one_opt(o, c, optarg, &gen_set, err, errlen);
		else if (rc > 0)
			rc = 0;
	}
	if (!rc && optind < argc) {
		snprintf(err, errlen, "unexpected argument: %s", argv[optind]);
		rc = -EINVAL;
	}
	return rc ? rc : finish(o, gen_set, err, errlen);
}

void sim_opts_release(struct sim_opts *o)
{
	params_free(o->keys);
	params_free(o->projects);
	free(o->faults);
	*o = (struct sim_opts){0};
}
