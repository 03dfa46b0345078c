/* sim_control.h — the /_sim/ control endpoint of uhub-sim: unsigned (the
 * simulator is a loopback test tool), plain-text answers ending in a
 * newline, HTTP 400 with a message on a bad request, 404 for an unknown
 * name, 405 for GET on an endpoint that changes something.
 *
 *   GET  /_sim/health                       "ok"
 *   GET  /_sim/count?action=A&repo=R&image=I&tag=T&has_tag=0|1
 *                                           API requests matching all given
 *                                           filters (action "*" or none: all)
 *   GET  /_sim/stats                        {"GetRepo":3,...} per action
 *   POST /_sim/reset                        zero the counters
 *   POST /_sim/push?repo=R&image=I&tag=T[&digest=D][&time=UNIX][&type=public]
 *                                           create/replace a tag (now by
 *                                           default; no digest: none)
 *   POST /_sim/delete?repo=R[&image=I[&tag=T]]
 *   POST /_sim/fault?kind=K[&rate=P][&count=N][&action=A][&ms=N][&bytes=N]
 *   POST /_sim/fault?kind=clear             remove every fault
 *   GET  /_sim/fault                        the active faults, one a line
 *   POST /_sim/config?max_limit=N&latency_ms=N&jitter_ms=N&rps=N
 *                    &time_style=plain|unix|number|rfc3339&retcode_string=0|1
 *                    &trickle=0|1&late_total=N&pad_bytes=N   (sim_api.h)
 *   GET  /_sim/config                       the knobs, NAME=VALUE lines
 *   POST /_sim/log?on=1|0                   the access log
 *   GET  /_sim/state                        the whole registry at one
 *                                           instant, as a --data file, with
 *                                           "_changes": pushes and deletes
 *                                           so far
 * Unknown parameters are refused (400), so a typo in a test fails loudly.
 */
#ifndef UHUB_SIM_CONTROL_H
#define UHUB_SIM_CONTROL_H

#include "buf.h"
#include "params.h"
#include "sim_api.h"
#include "sim_fault.h"
#include "sim_registry.h"
#include "sim_stats.h"

/* The simulator's parts: built by main, borrowed by the server. */
struct sim_parts {
	struct sim_registry *reg;
	struct sim_api *api;
	struct sim_faults *faults;
	struct sim_stats *stats;
};

/* Answers /_sim/NAME (name without the prefix) for method "GET" or "POST"
 * with the decoded query (and form body) q: *status and the text in out.
 * 0 or -ENOMEM. Thread-safe. */
int sim_control_handle(const struct sim_parts *p, const char *method, const char *name, const struct params *q,
		       unsigned *status, struct buf *out);

#endif
