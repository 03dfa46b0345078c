/* http.c — the HTTP transport; the only libcurl user.
 *
 * Each API call is one form POST. Handshakes cost more than the calls, so
 * easy handles are pooled and reused: a handle keeps its connection alive
 * between requests, and all handles share one DNS cache and one TLS-session
 * cache (resumed handshakes) through a CURLSH with a mutex per data kind.
 * The connection cache itself is deliberately not shared: libcurl documents
 * a shared connection cache as unsafe between concurrent threads (known bug
 * "A shared connection cache is not thread-safe", curl issue #4915), and a
 * LIFO pool of at most max_conns handles, each with its own kept-alive
 * connection, gives the same reuse without the race. The pool's mutex and
 * condition variable also bound the requests in flight.
 *
 * What goes out is signed, so the transport is conservative: no redirects,
 * http and https only, no proxy for a loopback endpoint, and the request body
 * (which carries the signature) never reaches an error text. What comes in
 * is capped (max_reply) and every libcurl failure becomes one -errno in
 * curl_errno().
 *
 * Unmount must not wait for a request: http_cancel() sets a flag that the
 * transfer's progress callback (CURLOPT_XFERINFOFUNCTION) answers with
 * "abort". libcurl calls that callback only about once a second while a
 * connection is silent, so each handle runs its transfer on a multi handle
 * of its own (curl_easy_perform does the same inside) and waits in
 * curl_multi_poll, which http_cancel interrupts with curl_multi_wakeup:
 * a hung transfer ends within milliseconds, not a second or a timeout.
 * The connection stays in that multi handle's cache between transfers,
 * so keep-alive works as before.
 *
 * Locking: h->lock guards the pool, the counters and the last error; it is
 * never held across a libcurl call other than curl_multi_wakeup (which
 * takes no libcurl lock). The share mutexes are taken only by libcurl
 * inside a transfer, so the two never nest.
 */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_MAX 8192
#define REQUEST_ID_HEADER "X-UCLOUD-REQUEST-UUID"
#define USER_AGENT "imgtagfs"
/* Probe an idle connection after a minute, then every 20 s, so a NAT or
 * firewall that silently dropped it is noticed before a request is lost. */
#define KEEPIDLE_S 60L
#define KEEPINTVL_S 20L

/* curl_multi_poll's longest wait when nothing else bounds it; a
 * cancellation cuts it short. */
#define POLL_MS 1000

/* One pooled easy handle, the multi handle it runs on, and the buffer
 * libcurl writes its error text to. */
struct conn {
	CURL *curl;
	CURLM *multi;
	char errbuf[CURL_ERROR_SIZE];
};

struct http {
	char *url;
	char *ca_file;
	long timeout_ms;
	long connect_timeout_ms;
	size_t max_reply;
	unsigned max_conns;
	bool loopback;
	struct curl_slist *headers;
	struct curl_slist *resolve; /* pin_localhost's entry, or NULL */
	CURLSH *share;
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];

	/* lock guards everything below */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct conn **idle; /* LIFO: the warmest connection first */
	unsigned n_idle;
	unsigned in_flight; /* n_idle + in_flight <= max_conns */
	struct conn **all;  /* every handle made, for http_cancel's wake-ups */
	unsigned n_all;
	atomic_bool cancelled;
	char last_error[CURL_ERROR_SIZE + 128];
	struct http_stats stats;
};

/* What one transfer's callbacks write into. */
struct xfer {
	struct http_reply *reply;
	size_t cap; /* body cap for this transfer */
	int err;    /* set by a callback that stopped the transfer */
	bool once;  /* http_post_once: a new connection, not kept */
};

/* ---- libcurl's error space ------------------------------------------------ */

/* The one place a CURLcode becomes an errno. os_errno is the socket error
 * libcurl saw (CURLINFO_OS_ERRNO), which tells "refused" from "no route". */
static int curl_errno(CURLcode rc, long os_errno)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return os_errno == EHOSTUNREACH || os_errno == ENETUNREACH ? -EHOSTUNREACH : -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_PARTIAL_FILE: /* fewer bytes than Content-Length */
	case CURLE_GOT_NOTHING:	 /* closed without a reply */
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_HTTP2_STREAM:
		return -ECONNRESET;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_ABORTED_BY_CALLBACK: /* only xferinfo_cb aborts: http_cancel */
		return -ECANCELED;
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_HTTP2:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* ---- URLs --------------------------------------------------------------- */

/* Copies the host of an authority-first string p ("user@host:port/...")
 * into host; bracketed is set for an IPv6 literal, *port to the port
 * (0 when none is given). 0 or -EINVAL. */
static int url_host(const char *p, char *host, size_t n, bool *bracketed, unsigned *port)
{
	size_t alen = strcspn(p, "/?#");
	const char *end = p + alen;
	const char *at = memrchr(p, '@', alen);
	const char *h = at ? at + 1 : p;
	const char *hend, *rest;

	*bracketed = *h == '[';
	if (*bracketed) {
		hend = memchr(h, ']', (size_t)(end - h));
		if (!hend)
			return -EINVAL;
		h++;
		rest = hend + 1;
	} else {
		hend = memchr(h, ':', (size_t)(end - h));
		rest = hend = hend ? hend : end;
	}
	/* Nothing but an optional ":port" may follow the host. */
	if (rest < end && *rest != ':')
		return -EINVAL;
	*port = 0;
	for (const char *q = rest + 1; q < end; q++) {
		if (!isdigit((unsigned char)*q) || *port > 65535)
			return -EINVAL;
		*port = *port * 10 + (unsigned)(*q - '0');
	}
	if (*port > 65535)
		return -EINVAL;
	if (hend == h || (size_t)(hend - h) >= n)
		return -EINVAL;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	return 0;
}

static bool host_is_loopback(const char *host, bool bracketed)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (bracketed)
		return inet_pton(AF_INET6, host, &a6) == 1 &&
		       (IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127));
	/* "localhost" exactly: "localhost." is a fully qualified name that
	 * the resolver may send to DNS, which could answer anything. The
	 * transport pins "localhost" itself (pin_localhost). */
	if (!strcasecmp(host, "localhost"))
		return true;
	/* inet_pton takes only a full dotted quad: "127.1" and
	 * "127.0.0.1.evil.com" are not addresses here. */
	return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

bool http_url_is_loopback(const char *url)
{
	char host[256];
	bool bracketed;
	unsigned port;

	if (!url || strncasecmp(url, "http://", 7) != 0)
		return false;
	if (url_host(url + 7, host, sizeof(host), &bracketed, &port))
		return false;
	return host_is_loopback(host, bracketed);
}

/* libcurl asks the system resolver for "localhost" (NSS: /etc/hosts, and
 * DNS if it is not there), so a loopback endpoint named that way is
 * pinned to 127.0.0.1 and ::1 with CURLOPT_RESOLVE: a signed plain-http
 * request then cannot leave the machine whatever the resolver says.
 * NULL (nothing to pin) for any other URL; sets *err on -ENOMEM. */
static struct curl_slist *pin_localhost(const char *url, int *err)
{
	char host[256], entry[300];
	bool bracketed;
	unsigned port;
	struct curl_slist *l;

	*err = 0;
	if (!http_url_is_loopback(url) || url_host(url + 7, host, sizeof(host), &bracketed, &port) || bracketed ||
	    strcasecmp(host, "localhost") != 0)
		return NULL;
	snprintf(entry, sizeof(entry), "%s:%u:127.0.0.1,[::1]", host, port ? port : 80);
	l = curl_slist_append(NULL, entry);
	if (!l)
		*err = -ENOMEM;
	return l;
}

bool http_url_is_https(const char *url)
{
	return url && strncasecmp(url, "https://", 8) == 0;
}

/* ---- callbacks ----------------------------------------------------------- */

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;
	int err;

	/* body.len never exceeds cap, so the subtraction cannot wrap. */
	if (n > x->cap - x->reply->body.len) {
		x->err = -EFBIG;
		return 0; /* anything but n makes libcurl abort */
	}
	err = buf_add(&x->reply->body, data, n);
	if (err) {
		x->err = err;
		return 0;
	}
	return n;
}

/* Keeps the value of an X-UCLOUD-REQUEST-UUID line, trimmed, cut to fit,
 * and with anything unprintable replaced: it ends up in logs. */
static void capture_request_id(struct http_reply *r, const char *line, size_t n)
{
	size_t klen = strlen(REQUEST_ID_HEADER), len;
	const char *v, *end = line + n;

	if (n <= klen || strncasecmp(line, REQUEST_ID_HEADER, klen) != 0 || line[klen] != ':')
		return;
	v = line + klen + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	len = (size_t)(end - v);
	if (len >= sizeof(r->request_id))
		len = sizeof(r->request_id) - 1;
	for (size_t i = 0; i < len; i++)
		r->request_id[i] = v[i] > 0x20 && v[i] < 0x7f ? v[i] : '?';
	r->request_id[len] = '\0';
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;

	/* A status line starts a new response (after a 1xx): forget the
	 * previous one's id. */
	if (n >= 5 && !memcmp(data, "HTTP/", 5))
		x->reply->request_id[0] = '\0';
	else
		capture_request_id(x->reply, data, n);
	return n;
}

/* Non-zero aborts the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int xferinfo_cb(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct http *h = userp;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(&h->cancelled) ? 1 : 0;
}

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *userp)
{
	struct http *h = userp;

	(void)c;
	(void)access;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&h->share_lock[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *userp)
{
	struct http *h = userp;

	(void)c;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&h->share_lock[data]);
}

/* ---- the pool ------------------------------------------------------------ */

/* The options that are the same for every request, set once per handle. */
static int conn_setup(struct http *h, struct conn *c)
{
	CURL *e = c->curl;

	if (curl_easy_setopt(e, CURLOPT_SHARE, h->share) || curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ||
#else
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) ||
#endif
	    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) || curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, KEEPIDLE_S) ||
	    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, KEEPINTVL_S) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms) ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms) ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) || curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) ||
	    curl_easy_setopt(e, CURLOPT_POST, 1L) || curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers) ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT) ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) ||
	    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb) ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf) || curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L) ||
	    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, xferinfo_cb) || curl_easy_setopt(e, CURLOPT_XFERINFODATA, h))
		return -EIO;
	if (h->ca_file && curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file))
		return -EIO;
	/* A loopback endpoint is plain http on purpose; an http_proxy from
	 * the environment would carry it off the machine. */
	if (h->loopback && curl_easy_setopt(e, CURLOPT_PROXY, ""))
		return -EIO;
	if (h->resolve && curl_easy_setopt(e, CURLOPT_RESOLVE, h->resolve))
		return -EIO;
	return 0;
}

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->multi)
		curl_multi_cleanup(c->multi); /* after the easy handle: it is not in it */
	free(c);
}

static struct conn *conn_new(struct http *h)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->curl = curl_easy_init();
	c->multi = curl_multi_init();
	if (!c->curl || !c->multi || conn_setup(h, c)) {
		conn_free(c);
		return NULL;
	}
	pthread_mutex_lock(&h->lock);
	h->all[h->n_all++] = c; /* at most max_conns are ever made */
	pthread_mutex_unlock(&h->lock);
	return c;
}

/* Returns c (NULL if it was lost) to the pool and frees a slot. */
static void pool_put(struct http *h, struct conn *c)
{
	pthread_mutex_lock(&h->lock);
	if (c)
		h->idle[h->n_idle++] = c;
	h->in_flight--;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* Waits for a slot, then takes the most recently used handle, or makes
 * one (outside the lock: it may be slow). NULL on -ENOMEM, or once
 * http_cancel was called. */
static struct conn *pool_get(struct http *h)
{
	struct conn *c = NULL;

	pthread_mutex_lock(&h->lock);
	while (h->in_flight >= h->max_conns && !atomic_load(&h->cancelled))
		pthread_cond_wait(&h->cond, &h->lock);
	if (atomic_load(&h->cancelled)) {
		pthread_mutex_unlock(&h->lock);
		return NULL;
	}
	h->in_flight++;
	if (h->n_idle)
		c = h->idle[--h->n_idle];
	pthread_mutex_unlock(&h->lock);
	if (!c) {
		c = conn_new(h);
		if (!c)
			pool_put(h, NULL);
	}
	return c;
}

/* ---- lifecycle ----------------------------------------------------------- */

/* The request headers, shared read-only by every handle. A POST's default
 * Content-Type is already the form type; saying so keeps it from depending
 * on a default. "Expect:" drops the 100-continue round trip. */
static struct curl_slist *make_headers(void)
{
	static const char *const lines[] = {
	    "Content-Type: application/x-www-form-urlencoded",
	    "Accept: application/json",
	    "Expect:",
	};
	struct curl_slist *list = NULL;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct curl_slist *l = curl_slist_append(list, lines[i]);

		if (!l) {
			curl_slist_free_all(list);
			return NULL;
		}
		list = l;
	}
	return list;
}

static int copy_config(struct http *h, const struct http_config *cfg)
{
	int err;

	h->timeout_ms = cfg->timeout_ms;
	h->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : cfg->timeout_ms;
	h->max_reply = cfg->max_reply;
	h->max_conns = cfg->max_conns;
	h->loopback = http_url_is_loopback(cfg->url);
	h->url = strdup(cfg->url);
	h->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
	h->idle = calloc(cfg->max_conns, sizeof(*h->idle));
	h->all = calloc(cfg->max_conns, sizeof(*h->all));
	h->headers = make_headers();
	atomic_init(&h->cancelled, false);
	if (!h->url || (cfg->ca_file && !h->ca_file) || !h->idle || !h->all || !h->headers)
		return -ENOMEM;
	h->resolve = pin_localhost(cfg->url, &err);
	return err;
}

static void free_config(struct http *h)
{
	free(h->url);
	free(h->ca_file);
	free(h->idle);
	free(h->all);
	curl_slist_free_all(h->headers);
	curl_slist_free_all(h->resolve);
}

static int locks_init(struct http *h)
{
	int i;

	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		if (pthread_mutex_init(&h->share_lock[i], NULL))
			goto out_share;
	if (pthread_mutex_init(&h->lock, NULL))
		goto out_share;
	if (pthread_cond_init(&h->cond, NULL))
		goto out_lock;
	return 0;
out_lock:
	pthread_mutex_destroy(&h->lock);
out_share:
	while (i-- > 0)
		pthread_mutex_destroy(&h->share_lock[i]);
	return -ENOMEM;
}

static void locks_release(struct http *h)
{
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->share_lock[i]);
}

/* DNS answers and TLS sessions are shared; connections are not (see the
 * top of the file). */
static int share_init(struct http *h)
{
	h->share = curl_share_init();
	if (!h->share)
		return -ENOMEM;
	if (curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock) ||
	    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
	    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h) ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION)) {
		curl_share_cleanup(h->share);
		return -EIO;
	}
	return 0;
}

struct http *http_new(const struct http_config *cfg)
{
	struct http *h;
	int err = -EINVAL;

	if (!cfg || !cfg->url || cfg->timeout_ms <= 0 || cfg->connect_timeout_ms < 0 || !cfg->max_conns ||
	    !cfg->max_reply)
		goto out;
	err = -EIO;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto out;
	err = -ENOMEM;
	h = calloc(1, sizeof(*h));
	if (!h)
		goto out_global;
	err = copy_config(h, cfg);
	if (err)
		goto out_config;
	err = locks_init(h);
	if (err)
		goto out_config;
	err = share_init(h);
	if (err)
		goto out_locks;
	return h;
out_locks:
	locks_release(h);
out_config:
	free_config(h);
	free(h);
out_global:
	curl_global_cleanup();
out:
	errno = -err;
	return NULL;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	/* Easy handles first: the share cannot go while one still uses it. */
	for (unsigned i = 0; i < h->n_idle; i++)
		conn_free(h->idle[i]);
	curl_share_cleanup(h->share);
	locks_release(h);
	free_config(h);
	free(h);
	curl_global_cleanup();
}

void http_reply_init(struct http_reply *r, size_t max_reply)
{
	r->status = 0;
	buf_init(&r->body, max_reply);
	r->request_id[0] = '\0';
}

void http_reply_release(struct http_reply *r)
{
	buf_release(&r->body);
	r->status = 0;
	r->request_id[0] = '\0';
}

/* ---- a request ----------------------------------------------------------- */

/* The endpoint with "?query" (or "&query" if it has a query already). */
static int build_url(const struct http *h, const char *query, struct buf *url)
{
	int err = buf_adds(url, h->url);

	if (!err && query && *query)
		err = buf_printf(url, "%c%s", strchr(h->url, '?') ? '&' : '?', query);
	return err;
}

/* Records the outcome of one transfer: counters, and the text of a failure.
 * The text is libcurl's and ours; the request body never goes in. */
static void record(struct http *h, struct conn *c, CURLcode rc, const struct xfer *x, int err)
{
	long connects = 0;

	curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &connects);
	pthread_mutex_lock(&h->lock);
	h->stats.requests++;
	h->stats.connects += connects > 0 ? (unsigned long long)connects : 0;
	if (!err && connects == 0)
		h->stats.reused++;
	if (err) {
		h->stats.failures++;
		if (x->err == -EFBIG)
			snprintf(h->last_error, sizeof(h->last_error), "reply body over %zu bytes", x->cap);
		else if (x->err)
			snprintf(h->last_error, sizeof(h->last_error), "%s", strerror(-x->err));
		else
			snprintf(h->last_error, sizeof(h->last_error), "%s%s%s", curl_easy_strerror(rc),
				 c->errbuf[0] ? ": " : "", c->errbuf);
	}
	pthread_mutex_unlock(&h->lock);
}

/* The transfer's result once the multi handle says it is done. */
static CURLcode done_result(CURLM *m)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			return msg->data.result;
	return CURLE_RECV_ERROR; /* "not running" without a result */
}

/* curl_easy_perform, with a wait that http_cancel can interrupt. A
 * failure of the multi interface itself is reported as CURLE_FAILED_INIT
 * (EIO); a cancellation as CURLE_ABORTED_BY_CALLBACK, as xferinfo_cb does. */
static CURLcode run(struct http *h, struct conn *c)
{
	CURLMcode mc = curl_multi_add_handle(c->multi, c->curl);
	CURLcode rc;
	int running = 1;

	if (mc)
		return CURLE_FAILED_INIT;
	while (running && !mc && !atomic_load(&h->cancelled)) {
		mc = curl_multi_perform(c->multi, &running);
		if (!mc && running)
			mc = curl_multi_poll(c->multi, NULL, 0, POLL_MS, NULL);
	}
	if (mc)
		rc = CURLE_FAILED_INIT;
	else if (running)
		rc = CURLE_ABORTED_BY_CALLBACK; /* cancelled while waiting */
	else
		rc = done_result(c->multi);
	curl_multi_remove_handle(c->multi, c->curl); /* aborts an unfinished one */
	return rc;
}

/* Runs one transfer on c. 0 with reply filled, or -errno. */
static int perform(struct http *h, struct conn *c, const char *url, const char *body, size_t len, struct xfer *x)
{
	CURL *e = c->curl;
	CURLcode rc;
	long status = 0, os_errno = 0;
	int err;

	c->errbuf[0] = '\0';
	if (curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, x->once ? 1L : 0L) ||
	    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, x->once ? 1L : 0L) || curl_easy_setopt(e, CURLOPT_URL, url) ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "") || curl_easy_setopt(e, CURLOPT_WRITEDATA, x) ||
	    curl_easy_setopt(e, CURLOPT_HEADERDATA, x) ||
	    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->cap))
		return -EIO;
	rc = run(h, c);
	curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
	/* A callback's own reason beats libcurl's generic "write error". */
	err = x->err ? x->err : curl_errno(rc, os_errno);
	if (!err) {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		x->reply->status = status;
	}
	record(h, c, rc, x, err);
	return err;
}

static int post(struct http *h, const char *query, const char *body, size_t len, struct http_reply *reply, bool once)
{
	struct xfer x = {.reply = reply, .once = once};
	struct buf url;
	struct conn *c;
	int err;

	reply->status = 0;
	reply->request_id[0] = '\0';
	buf_reset(&reply->body);
	x.cap = reply->body.max < h->max_reply ? reply->body.max : h->max_reply;
	buf_init(&url, URL_MAX);
	err = build_url(h, query, &url);
	if (err)
		goto out;
	c = pool_get(h);
	if (!c) {
		err = atomic_load(&h->cancelled) ? -ECANCELED : -ENOMEM;
		goto out;
	}
	err = perform(h, c, url.data, body, len, &x);
	pool_put(h, c);
	if (err) {
		reply->status = 0;
		buf_reset(&reply->body);
	}
out:
	buf_release(&url);
	return err;
}

int http_post(struct http *h, const char *query, const char *body, size_t len, struct http_reply *reply)
{
	return post(h, query, body, len, reply, false);
}

int http_post_once(struct http *h, const char *query, const char *body, size_t len, struct http_reply *reply)
{
	return post(h, query, body, len, reply, true);
}

void http_cancel(struct http *h)
{
	if (!h)
		return;
	atomic_store(&h->cancelled, true);
	pthread_mutex_lock(&h->lock);
	pthread_cond_broadcast(&h->cond); /* posts waiting for a handle */
	for (unsigned i = 0; i < h->n_all; i++)
		curl_multi_wakeup(h->all[i]->multi); /* posts waiting for the network */
	pthread_mutex_unlock(&h->lock);
}

void http_last_error(struct http *h, char *out, size_t n)
{
	if (!out || !n)
		return;
	pthread_mutex_lock(&h->lock);
	snprintf(out, n, "%s", h->last_error);
	pthread_mutex_unlock(&h->lock);
}

void http_get_stats(struct http *h, struct http_stats *out)
{
	pthread_mutex_lock(&h->lock);
	*out = h->stats;
	pthread_mutex_unlock(&h->lock);
}
