/* sim_http.h — uhub-sim's HTTP server (libmicrohttpd, the simulator's only
 * MHD user).
 *
 * One thread per connection (so a latency or hang sleep holds up nobody
 * else), keep-alive, a poll()-based listener with no FD_SETSIZE limit.
 * "/" is the UHub API, "/_sim/..." the control endpoint (sim_control.h),
 * "/tree/..." the registry as a plain directory tree (sim_tree.h),
 * anything else 404. Per API request, in order: decode (query + form or
 * JSON body, body parameters win over a query duplicate such as the Go
 * SDK's ?Action=), count, rate limit (RetCode 153), fault choice, latency,
 * then the answer (sim_api.h) or the fault's misbehaviour (sim_fault.h).
 */
#ifndef UHUB_SIM_HTTP_H
#define UHUB_SIM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "sim_control.h"

struct sim_server_cfg {
	const char *bind;	  /* IPv4 or IPv6 literal */
	unsigned port;		  /* 0: any free port */
	unsigned max_connections; /* 0: 1024 */
	bool verbose;		  /* libmicrohttpd's own errors on stderr */
};

struct sim_server;

/* Starts serving parts (borrowed; they must outlive the server). NULL on
 * failure, with a message in err. */
struct sim_server *sim_server_start(const struct sim_parts *parts, const struct sim_server_cfg *cfg, char *err,
				    size_t errlen);
/* The port actually bound. */
unsigned sim_server_port(const struct sim_server *s);
/* Ends every sleep, closes every connection, joins every thread, frees.
 * NULL is a no-op. */
void sim_server_stop(struct sim_server *s);

#endif
