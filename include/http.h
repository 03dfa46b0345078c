/* http.h — the HTTP transport: form POSTs to the API endpoint over pooled,
 * keep-alive libcurl handles that share one DNS and TLS-session cache. The
 * only libcurl user.
 *
 * An http_post() either gets a whole HTTP response (any status; the caller
 * interprets it) or fails with -errno. It never retries: retry policy
 * belongs to uhub.c, which knows the API's error codes. It never follows
 * redirects (a signed request must not be replayed elsewhere) and speaks
 * only http and https.
 * Thread-safe: any number of threads may post at once; at most
 * http_config.max_conns requests are in flight, the others wait. Each
 * pooled handle keeps its own keep-alive connection (libcurl's shared
 * connection cache is not thread-safe, curl known bug "A shared connection
 * cache is not thread-safe"), so there are at most max_conns connections.
 * The process must ignore SIGPIPE (libfuse does): handles run with
 * CURLOPT_NOSIGNAL, as threads require.
 */
#ifndef IMGTAGFS_HTTP_H
#define IMGTAGFS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct http_config {
	const char *url;	 /* endpoint, e.g. https://api.surfercloud.com/ */
	long timeout_ms;	 /* whole request, connect included (> 0) */
	long connect_timeout_ms; /* 0 = timeout_ms */
	size_t max_reply;	 /* cap on a reply body in bytes */
	unsigned max_conns;	 /* requests in flight at once (>= 1) */
	const char *ca_file;	 /* NULL = the system's CA store */
};

struct http_reply {
	long status;	     /* HTTP status code */
	struct buf body;     /* the body, capped at max_reply */
	char request_id[96]; /* X-UCLOUD-REQUEST-UUID, "" if none */
};

struct http_stats {
	unsigned long long requests; /* http_post calls that reached libcurl */
	unsigned long long failures; /* of those, the ones that returned -errno */
	unsigned long long connects; /* new connections opened */
	unsigned long long reused;   /* requests sent on a kept-alive connection */
};

/* Copies what it needs from cfg. NULL (errno set) on an invalid cfg (no url,
 * timeout_ms <= 0, max_conns 0, max_reply 0), -ENOMEM or a libcurl init
 * failure. Calls curl_global_init, which in libcurl before 7.84 (or built
 * without CURL_VERSION_THREADSAFE) is not thread-safe with respect to other
 * libcurl users in the process; we are the only one, and main calls this
 * before any thread starts. http_free(NULL) is a no-op; http_free must not
 * race with http_post. */
struct http *http_new(const struct http_config *cfg);
void http_free(struct http *h);

/* Initialises reply (call before http_post) and releases it. */
void http_reply_init(struct http_reply *r, size_t max_reply);
void http_reply_release(struct http_reply *r);

/* POSTs body as application/x-www-form-urlencoded to the endpoint, with
 * query (may be NULL) appended as "?query" (the Go SDK's ?Action=NAME).
 * reply must have been initialised; it is reset first. The body cap is the
 * smaller of reply's (http_reply_init) and http_config.max_reply.
 * 0 when a response arrived; else -ETIMEDOUT, -ECONNREFUSED,
 * -EHOSTUNREACH (name or route not found), -ECONNRESET (connection dropped,
 * closed without a reply, or body truncated), -EFBIG (body over the cap),
 * -EPROTO (TLS failure or malformed HTTP), -EINVAL (malformed URL),
 * -ECANCELED (http_cancel), -ENOMEM, -EIO (anything else). On an error reply->status is 0 and the
 * body is empty. Blocks while max_conns requests are in flight. */
int http_post(struct http *h, const char *query, const char *body, size_t len, struct http_reply *reply);
/* The same for a request that must not reach the server twice (a
 * deletion): sent on a new connection, closed after it. libcurl sends a
 * request again by itself when a connection it reuses turns out to be
 * closed before any answer came; on a new connection it never does, and
 * whether to ask again is the caller's to decide (after looking). */
int http_post_once(struct http *h, const char *query, const char *body, size_t len, struct http_reply *reply);

/* Stops h for good (unmount): every http_post in flight ends within
 * ~100 ms, and every later one at once, with -ECANCELED. Thread-safe,
 * idempotent; must not race with http_free. */
void http_cancel(struct http *h);

/* Copies a one-line description of the most recent failure of any thread's
 * http_post (libcurl's error text, never the request body, which carries
 * the signature) into out, "" if none yet. A copy, because another thread
 * may overwrite the text at any time. */
void http_last_error(struct http *h, char *out, size_t n);

/* A snapshot of the counters since http_new. http_last_error and this
 * are windows for test_http (nothing in the daemon reads them; the stats
 * attribute counts at uhub's level): they read state under h's lock. */
void http_get_stats(struct http *h, struct http_stats *out);

/* True for an http:// URL whose host cannot resolve off this machine:
 * 127.0.0.0/8 as a dotted quad, [::1] (or [::ffff:127.x.y.z]), or
 * "localhost" exactly (any case), which http_new pins to 127.0.0.1 and ::1
 * itself; not "localhost." or "x.localhost", which a resolver may send to
 * DNS. Judged on the host after any userinfo, so http://127.0.0.1@evil.com/
 * is not. */
bool http_url_is_loopback(const char *url);
/* True for an https:// URL. */
bool http_url_is_https(const char *url);

#endif
