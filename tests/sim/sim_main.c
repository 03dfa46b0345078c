/* sim_main.c — uhub-sim's main: parse the options, build the registry,
 * the API, the faults and the counters, serve until SIGTERM or SIGINT, then
 * take it all down again (every thread joined, everything freed).
 *
 *   $ build/uhub-sim --gen repos=2,images=3,tags=50 --max-limit 20 &
 *   listening on http://127.0.0.1:40123
 *   $ curl -s "http://127.0.0.1:40123/?$(build/uhub-sim --sign $PRIV -- \
 *         Action=GetRepo PublicKey=$PUB Type=private)"
 *   {"RetCode":0,"Action":"GetRepoResponse","TotalCount":2,"RepoSet":[...]}
 *   $ curl -s "http://127.0.0.1:40123/_sim/count?action=GetRepo"
 *   1
 *
 * The signals are blocked before any thread starts, so only sigwait() here
 * ever sees them: no handler, no global flag.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "sign.h"
#include "sim_api.h"
#include "sim_control.h"
#include "sim_fault.h"
#include "sim_http.h"
#include "sim_json.h"
#include "sim_opts.h"
#include "sim_registry.h"
#include "sim_stats.h"

/* imgtagfs's version, from the file VERSION (the Makefile passes it). */
#ifndef IMGTAGFS_VERSION
#define IMGTAGFS_VERSION "(unknown: built without the Makefile)"
#endif

/* uhub-sim --sign PRIVATEKEY [--] NAME=VALUE...: the form body, signed. */
static int sign_main(int argc, char **argv)
{
	struct params *p = params_new();
	struct buf out;
	int i = 3, rc = p ? 0 : -ENOMEM;

	if (argc < 3) {
		fprintf(stderr, "usage: uhub-sim --sign PRIVATEKEY [--] NAME=VALUE...\n");
		params_free(p);
		return 2;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	for (; !rc && i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq) {
			fprintf(stderr, "uhub-sim --sign: not NAME=VALUE: %s\n", argv[i]);
			params_free(p);
			return 2;
		}
		*eq = '\0';
		rc = params_add(p, argv[i], eq + 1);
		*eq = '=';
	}
	buf_init(&out, 1u << 20);
	if (!rc)
		rc = sign_params(p, argv[2]);
	if (!rc)
		rc = params_encode(p, &out);
	if (!rc)
		printf("%s\n", out.data ? out.data : "");
	else
		fprintf(stderr, "uhub-sim --sign: %s\n", strerror(-rc));
	buf_release(&out);
	params_free(p);
	return rc ? 1 : 0;
}

/* The registry from --data or --gen. */
static int build_registry(struct sim_registry *reg, const struct sim_opts *o)
{
	char err[512];
	int rc;

	if (o->data) {
		rc = sim_json_load_file(reg, o->data, err, sizeof(err));
		if (rc)
			fprintf(stderr, "uhub-sim: %s: %s\n", o->data, err);
		return rc;
	}
	rc = sim_registry_generate(reg, &o->gen);
	if (rc)
		fprintf(stderr, "uhub-sim: --gen: %s\n", strerror(-rc));
	return rc;
}

static int build_api(struct sim_api *api, const struct sim_opts *o)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < params_count(o->keys); i++)
		rc = sim_api_add_key(api, params_name(o->keys, i), params_value(o->keys, i));
	for (size_t i = 0; !rc && i < params_count(o->projects); i++)
		rc = sim_api_add_project(api, params_name(o->projects, i));
	sim_api_set_max_limit(api, o->max_limit);
	sim_api_set_time_style(api, o->time_style);
	sim_api_set_retcode_string(api, o->retcode_string);
	return rc;
}

static int build_faults(struct sim_faults *f, const struct sim_opts *o)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < o->nfaults; i++)
		rc = sim_faults_add(f, &o->faults[i]);
	sim_faults_set_rps(f, o->rps);
	sim_faults_set_latency(f, o->latency_ms, o->jitter_ms);
	return rc;
}

static int build(struct sim_parts *parts, const struct sim_opts *o)
{
	int rc;

	parts->reg = sim_registry_new();
	parts->api = parts->reg ? sim_api_new(parts->reg) : NULL;
	parts->faults = sim_faults_new(o->seed);
	parts->stats = sim_stats_new();
	if (!parts->api || !parts->faults || !parts->stats)
		return -ENOMEM;
	rc = build_registry(parts->reg, o);
	if (!rc)
		rc = build_api(parts->api, o);
	if (!rc)
		rc = build_faults(parts->faults, o);
	if (!rc && o->access_log) {
		rc = sim_stats_log_open(parts->stats, o->access_log);
		if (rc)
			fprintf(stderr, "uhub-sim: %s: %s\n", o->access_log, strerror(-rc));
	}
	return rc;
}

static void teardown(struct sim_parts *parts)
{
	sim_stats_free(parts->stats);
	sim_faults_free(parts->faults);
	sim_api_free(parts->api);
	sim_registry_free(parts->reg);
}

static void announce(const struct sim_parts *parts, const struct sim_opts *o, unsigned port)
{
	size_t repos, images, tags;
	const char *host = strcmp(o->bind, "0.0.0.0") == 0 ? "127.0.0.1" : strcmp(o->bind, "::") == 0 ? "::1" : o->bind;

	sim_registry_counts(parts->reg, &repos, &images, &tags);
	fprintf(stderr, "uhub-sim: %zu repos, %zu images, %zu tags; %zu keys, %zu projects (default %s)\n", repos,
		images, tags, sim_api_key_count(parts->api), sim_api_project_count(parts->api),
		params_name(o->projects, 0));
	printf(strchr(host, ':') ? "listening on http://[%s]:%u\n" : "listening on http://%s:%u\n", host, port);
	fflush(stdout);
}

/* Serves until SIGTERM or SIGINT. */
static int serve(struct sim_parts *parts, const struct sim_opts *o, const sigset_t *stop)
{
	struct sim_server_cfg cfg = {
	    .bind = o->bind, .port = o->port, .max_connections = o->max_connections, .verbose = o->verbose};
	struct sim_server *srv;
	char err[256];
	int sig = 0;

	srv = sim_server_start(parts, &cfg, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "uhub-sim: %s\n", err);
		return -EADDRNOTAVAIL;
	}
	announce(parts, o, sim_server_port(srv));
	while (sigwait(stop, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
		;
	sim_server_stop(srv);
	return 0;
}

int main(int argc, char **argv)
{
	struct sim_opts o;
	struct sim_parts parts = {0};
	sigset_t stop;
	char err[512] = "";
	int rc;

	if (argc >= 2 && strcmp(argv[1], "--sign") == 0)
		return sign_main(argc, argv);
	rc = sim_opts_parse(argc, argv, &o, err, sizeof(err));
	if (rc || o.help || o.version) {
		if (rc)
			fprintf(stderr, "uhub-sim: %s\n(uhub-sim --help lists the options)\n",
				*err ? err : strerror(-rc));
		else if (o.help)
			sim_opts_usage(stdout);
		else
			printf("uhub-sim %s (imgtagfs test registry)\n", IMGTAGFS_VERSION);
		sim_opts_release(&o);
		return rc ? 2 : 0;
	}
	/* A shell starts background jobs with SIGINT ignored, and an ignored
	 * signal never reaches sigwait(): take both back. Then block them
	 * before any thread exists, so every thread inherits the mask. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = build(&parts, &o);
	if (!rc)
		rc = serve(&parts, &o, &stop);
	teardown(&parts);
	sim_opts_release(&o);
	return rc ? 1 : 0;
}
