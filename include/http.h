/* http.h — the HTTP transport: form POSTs to the API endpoint over pooled,
 * keep-alive libcurl handles that share one connection, DNS and TLS-session
 * cache. The only libcurl user.
 *
 * An http_post() either gets a whole HTTP response (any status; the caller
 * interprets it) or fails with -errno. It never retries: retry policy
 * belongs to uhub.c, which knows the API's error codes. It never follows
 * redirects (a signed request must not be replayed elsewhere).
 * Thread-safe: any number of threads may post at once; at most
 * http_config.max_conns requests are in flight, the others wait.
 */
#ifndef IMGTAGFS_HTTP_H
#define IMGTAGFS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct http_config {
	const char *url;	  /* endpoint, e.g. https://api.surfercloud.com/ */
	long timeout_ms;	  /* whole request, connect included (> 0) */
	long connect_timeout_ms;  /* 0 = timeout_ms */
	size_t max_reply;	  /* cap on a reply body in bytes */
	unsigned max_conns;	  /* requests in flight at once (>= 1) */
	const char *ca_file;	  /* NULL = the system's CA store */
};

struct http_reply {
	long status;		/* HTTP status code */
	struct buf body;	/* the body, capped at max_reply */
	char request_id[96];	/* X-UCLOUD-REQUEST-UUID, "" if none */
};

/* Copies what it needs from cfg. NULL on -ENOMEM or a libcurl init failure.
 * http_free(NULL) is a no-op. */
struct http *http_new(const struct http_config *cfg);
void http_free(struct http *h);

/* Initialises reply (call before http_post) and releases it. */
void http_reply_init(struct http_reply *r, size_t max_reply);
void http_reply_release(struct http_reply *r);

/* POSTs body as application/x-www-form-urlencoded to the endpoint, with
 * query (may be NULL) appended as "?query" (the Go SDK's ?Action=NAME).
 * reply must have been initialised; it is reset first.
 * 0 when a response arrived; else -ETIMEDOUT, -ECONNREFUSED,
 * -EHOSTUNREACH (name or route not found), -ECONNRESET (connection dropped
 * or body truncated), -EFBIG (body over max_reply), -EPROTO (TLS failure or
 * malformed HTTP), -ENOMEM, -EIO (anything else). */
int http_post(struct http *h, const char *query, const char *body, size_t len, struct http_reply *reply);

/* A one-line description of the last failure seen on this thread's most
 * recent http_post (libcurl's error text, never the request body). */
const char *http_last_error(struct http *h);

/* True for an http:// URL whose host is a loopback address. */
bool http_url_is_loopback(const char *url);
/* True for an https:// URL. */
bool http_url_is_https(const char *url);

#endif
