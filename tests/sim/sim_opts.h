/* sim_opts.h — uhub-sim's command line: parsing, validation and --help.
 *
 * Pure except for reading --keys-file; nothing is started here. The
 * result says what main should build; the defaults (the documented test
 * key, project org-demo, --gen defaults) are filled in by sim_opts_parse.
 */
#ifndef UHUB_SIM_OPTS_H
#define UHUB_SIM_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "params.h"
#include "sim_api.h"
#include "sim_fault.h"
#include "sim_registry.h"

struct sim_opts {
	unsigned port;
	const char *bind;
	struct params *keys;	 /* name = public key, value = private key */
	struct params *projects; /* names, in order given */
	const char *data;	 /* --data FILE, or NULL */
	struct sim_gen gen;	 /* used when data is NULL */
	enum sim_time_style time_style;
	size_t max_limit;
	unsigned long latency_ms, jitter_ms, rps;
	struct sim_fault_spec *faults;
	size_t nfaults;
	const char *access_log; /* FILE, "-" or NULL */
	uint64_t seed;		/* fault and jitter draws */
	unsigned max_connections;
	bool retcode_string, verbose, help, version;
};

/* Parses argv into o (sim_opts_release it, even on error). 0, or -EINVAL
 * with a message in err; -ENOMEM; -errno from reading --keys-file. */
int sim_opts_parse(int argc, char **argv, struct sim_opts *o, char *err, size_t errlen);
void sim_opts_release(struct sim_opts *o);
/* --help: every option and the data file format. */
void sim_opts_usage(FILE *f);

#endif
