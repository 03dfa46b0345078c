/* test_http.c — the transport against a tiny loopback HTTP server.
 *
 * The server (a thread on 127.0.0.1:0, one more thread per connection)
 * answers by the request's "?Action=NAME": a normal reply, an echo, a
 * request id header, a truncated or oversized body, a hang, a close without
 * a reply, a 503, a redirect, garbage. It counts accepted connections and
 * the most requests it served at once, which is how keep-alive reuse and
 * the max_conns bound are checked from the outside.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "uhub.h"

#define MAX_WORKERS 64
#define HEAD_MAX 16384
#define BODY_MAX 65536
#define IDLE_MS 10000 /* a worker gives up on a silent client after this */
#define WAIT_MS 30000 /* the longest wait for an event */
#define BOUND_MS 5000 /* "at once": far below IDLE_MS and any timeout, and no load reaches it */

struct server {
	int fd;
	char url[64];
	pthread_t thread;
	pthread_mutex_t lock; /* guards everything below */
	pthread_t workers[MAX_WORKERS];
	int n_workers;
	int accepted;
	int active, max_active;
	char last_head[HEAD_MAX];
	char last_body[BODY_MAX];
};

struct worker_arg {
	struct server *s;
	int fd;
};

struct request {
	char head[HEAD_MAX];
	char body[BODY_MAX];
	size_t body_len;
	char action[32];
};

/* ---- the server ---------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* recv with a timeout; <= 0 on close, error or silence. */
static ssize_t recv_wait(int fd, char *p, size_t n, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	return recv(fd, p, n, 0);
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* The Content-Length of a request head, 0 if none. */
static size_t content_length(const char *head)
{
	const char *p = head;

	while ((p = strchr(p, '\n')) != NULL) {
		p++;
		if (!strncasecmp(p, "Content-Length:", 15))
			return strtoul(p + 15, NULL, 10);
	}
	return 0;
}

/* Reads one request; 0, or -1 when the client closed or went silent. */
static int read_request(int fd, struct request *rq)
{
	size_t have = 0, need;
	char *end = NULL, *act;
	ssize_t k;

	while (!end) {
		if (have + 1 >= sizeof(rq->head))
			return -1;
		k = recv_wait(fd, rq->head + have, sizeof(rq->head) - 1 - have, IDLE_MS);
		if (k <= 0)
			return -1;
		have += (size_t)k;
		rq->head[have] = '\0';
		end = strstr(rq->head, "\r\n\r\n");
	}
	*end = '\0';
	rq->body_len = have - (size_t)(end + 4 - rq->head);
	memcpy(rq->body, end + 4, rq->body_len);
	need = content_length(rq->head);
	while (rq->body_len < need && need < sizeof(rq->body)) {
		k = recv_wait(fd, rq->body + rq->body_len, need - rq->body_len, IDLE_MS);
		if (k <= 0)
			return -1;
		rq->body_len += (size_t)k;
	}
	rq->body[rq->body_len] = '\0';
	act = strstr(rq->head, "Action=");
	snprintf(rq->action, sizeof(rq->action), "%.*s", act ? (int)strcspn(act + 7, " &") : 0, act ? act + 7 : "");
	return 0;
}

static void reply(int fd, const char *status, const char *extra, const char *body)
{
	char head[512];

	snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%s\r\n", status, strlen(body), extra);
	send_str(fd, head);
	send_str(fd, body);
}

/* Sends n bytes of 'x'. */
static void send_x(int fd, size_t n)
{
	char chunk[1024];

	memset(chunk, 'x', sizeof(chunk));
	for (size_t i = 0; i < n; i += sizeof(chunk))
		send_all(fd, chunk, n - i < sizeof(chunk) ? n - i : sizeof(chunk));
}

/* Waits until the client hangs up (at most IDLE_MS). */
static void hang(int fd)
{
	char c;

	(void)recv_wait(fd, &c, 1, IDLE_MS);
}

/* Answers rq; returns whether the connection stays open. */
static bool respond(int fd, const struct request *rq)
{
	const char *a = rq->action;
	char longid[400];

	if (!*a)
		reply(fd, "200 OK", "", "");
	else if (!strcmp(a, "ok"))
		reply(fd, "200 OK", "", "{\"RetCode\":0}");
	else if (!strcmp(a, "echo"))
		reply(fd, "200 OK", "", rq->body);
	else if (!strcmp(a, "slow")) {
		sleep_ms(100);
		reply(fd, "200 OK", "", "slow");
	} else if (!strcmp(a, "uuid"))
		reply(fd, "200 OK", "x-ucloud-request-uuid: \t abc-123\x01z \r\n", "{}");
	else if (!strcmp(a, "interim")) {
		/* An interim 1xx response's headers are not the reply's. */
		send_str(fd, "HTTP/1.1 100 Continue\r\nX-UCLOUD-REQUEST-UUID: early\r\n\r\n");
		reply(fd, "200 OK", "", "{}");
	} else if (!strcmp(a, "longuuid")) {
		memset(longid, 'u', sizeof(longid));
		memcpy(longid, "X-UCLOUD-REQUEST-UUID:", 22);
		memcpy(longid + sizeof(longid) - 3, "\r\n", 3);
		reply(fd, "200 OK", longid, "{}");
	} else if (!strcmp(a, "503"))
		reply(fd, "503 Service Unavailable", "", "busy");
	else if (!strcmp(a, "redirect"))
		reply(fd, "302 Found", "Location: http://127.0.0.1:1/stolen\r\n", "");
	else if (!strcmp(a, "trunc")) {
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"RetCode\"");
		return false;
	} else if (!strcmp(a, "big")) {
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n");
		send_x(fd, 5000);
	} else if (!strcmp(a, "bigclose")) {
		send_str(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
		send_x(fd, 5000);
		return false;
	} else if (!strcmp(a, "garbage")) {
		send_str(fd, "SMTP ready, not HTTP\r\n\r\n");
		return false;
	} else if (!strcmp(a, "hang") || !strcmp(a, "GetRepo")) {
		hang(fd);
		return false;
	} else {
		return false; /* "close" and anything unknown: no reply */
	}
	return true;
}

static void count_active(struct server *s, int d)
{
	pthread_mutex_lock(&s->lock);
	s->active += d;
	if (s->active > s->max_active)
		s->max_active = s->active;
	pthread_mutex_unlock(&s->lock);
}

static void *serve_conn(void *p)
{
	struct worker_arg *w = p;
	struct server *s = w->s;
	struct request *rq = malloc(sizeof(*rq));

	while (rq && read_request(w->fd, rq) == 0) {
		bool keep;

		pthread_mutex_lock(&s->lock);
		snprintf(s->last_head, sizeof(s->last_head), "%s", rq->head);
		memcpy(s->last_body, rq->body, rq->body_len + 1);
		pthread_mutex_unlock(&s->lock);
		count_active(s, 1);
		keep = respond(w->fd, rq);
		count_active(s, -1);
		if (!keep)
			break;
	}
	free(rq);
	close(w->fd);
	free(w);
	return NULL;
}

static void *accept_loop(void *p)
{
	struct server *s = p;

	for (;;) {
		int fd = accept(s->fd, NULL, NULL);
		struct worker_arg *w;

		if (fd < 0)
			return NULL; /* shut down */
		/* No cmocka asserts off the test's thread: a refused connection
		 * shows up as a failed post instead. */
		w = malloc(sizeof(*w));
		pthread_mutex_lock(&s->lock);
		s->accepted++;
		if (w && s->n_workers < MAX_WORKERS) {
			w->s = s;
			w->fd = fd;
			if (pthread_create(&s->workers[s->n_workers], NULL, serve_conn, w) == 0) {
				s->n_workers++;
				w = NULL;
				fd = -1;
			}
		}
		pthread_mutex_unlock(&s->lock);
		free(w);
		if (fd >= 0)
			close(fd);
	}
}

/* A listening socket on 127.0.0.1 and an unused port number. */
static int listen_loopback(unsigned short *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int server_setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));
	unsigned short port;

	assert_non_null(s);
	s->fd = listen_loopback(&port);
	assert_int_equal(listen(s->fd, 64), 0);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u/", port);
	pthread_mutex_init(&s->lock, NULL);
	assert_int_equal(pthread_create(&s->thread, NULL, accept_loop, s), 0);
	*state = s;
	return 0;
}

/* Call after http_free: workers end when their clients hang up. */
static int server_teardown(void **state)
{
	struct server *s = *state;

	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->fd);
	for (int i = 0; i < s->n_workers; i++)
		pthread_join(s->workers[i], NULL);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return 0;
}

static int server_get(struct server *s, const int *field)
{
	int v;

	pthread_mutex_lock(&s->lock);
	v = *field;
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* ---- helpers ------------------------------------------------------------- */

static struct http *client(const char *url, long timeout_ms, size_t max_reply, unsigned max_conns)
{
	struct http_config cfg = {
	    .url = url,
	    .timeout_ms = timeout_ms,
	    .max_reply = max_reply,
	    .max_conns = max_conns,
	};
	struct http *h = http_new(&cfg);

	assert_non_null(h);
	return h;
}

/* Posts ?Action=action with a body carrying a fake signature. */
static int post(struct http *h, const char *action, struct http_reply *r)
{
	static const char body[] = "Action=x&Signature=SECRETSIG";
	char query[64];

	snprintf(query, sizeof(query), "Action=%s", action);
	return http_post(h, query, body, sizeof(body) - 1, r);
}

/* The last error is set and does not leak the request body. */
static void assert_error_text(struct http *h)
{
	char err[512];

	http_last_error(h, err, sizeof(err));
	assert_true(strlen(err) > 0);
	assert_null(strstr(err, "SECRETSIG"));
}

/* ---- tests --------------------------------------------------------------- */

static void test_ok_and_request_shape(void **state)
{
	struct server *s = *state;
	struct http *h = client(s->url, 5000, 1 << 20, 2);
	struct http_reply r;
	char err[64] = "x";

	http_last_error(h, err, sizeof(err));
	assert_string_equal(err, "");
	http_reply_init(&r, 1 << 20);
	assert_int_equal(post(h, "ok", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "{\"RetCode\":0}");
	assert_string_equal(r.request_id, "");

	assert_int_equal(post(h, "echo", &r), 0);
	assert_string_equal(r.body.data, "Action=x&Signature=SECRETSIG");
	pthread_mutex_lock(&s->lock);
	assert_non_null(strstr(s->last_head, "POST /?Action=echo HTTP/1.1\r\n"));
	assert_non_null(strcasestr(s->last_head, "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
	assert_null(strcasestr(s->last_head, "Expect:"));
	assert_string_equal(s->last_body, "Action=x&Signature=SECRETSIG");
	pthread_mutex_unlock(&s->lock);

	/* No query at all, and an empty body. */
	assert_int_equal(http_post(h, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 0);
	pthread_mutex_lock(&s->lock);
	assert_non_null(strstr(s->last_head, "POST / HTTP/1.1\r\n"));
	assert_string_equal(s->last_body, "");
	pthread_mutex_unlock(&s->lock);
	http_reply_release(&r);
	http_free(h);
}

static void test_request_id(void **state)
{
	struct server *s = *state;
	struct http *h = client(s->url, 5000, 1 << 20, 1);
	struct http_reply r;

	http_reply_init(&r, 1 << 20);
	assert_int_equal(post(h, "uuid", &r), 0);
	assert_string_equal(r.request_id, "abc-123?z"); /* trimmed, sanitised */
	assert_int_equal(post(h, "longuuid", &r), 0);
	assert_int_equal(strlen(r.request_id), sizeof(r.request_id) - 1);
	assert_int_equal(r.request_id[0], 'u');
	assert_int_equal(post(h, "interim", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "{}");
	assert_string_equal(r.request_id, "");
	/* The next reply without the header does not inherit it. */
	assert_int_equal(post(h, "ok", &r), 0);
	assert_string_equal(r.request_id, "");
	http_reply_release(&r);
	http_free(h);
}

static void test_status_passthrough(void **state)
{
	struct server *s = *state;
	struct http *h = client(s->url, 5000, 1 << 20, 1);
	struct http_reply r;

	http_reply_init(&r, 1 << 20);
	assert_int_equal(post(h, "503", &r), 0);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body.data, "busy");
	/* A redirect is returned, never followed. */
	assert_int_equal(post(h, "redirect", &r), 0);
	assert_int_equal(r.status, 302);
	assert_int_equal(server_get(s, &s->accepted), 1);
	http_reply_release(&r);
	http_free(h);
}

static void test_truncated(void **state)
{
	struct server *s = *state;
	struct http *h = client(s->url, 5000, 1 << 20, 1);
	struct http_reply r;

	http_reply_init(&r, 1 << 20);
	assert_int_equal(post(h, "trunc", &r), -ECONNRESET);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.body.len, 0);
	assert_error_text(h);
	http_reply_release(&r);
	http_free(h);
}

static void test_oversized(void **state)
{
	struct server *s = *state;
	struct http *h = client(s->url, 5000, 1000, 1);
	struct http_reply r;
	char err[256];

	http_reply_init(&r, 1 << 20); /* the config's cap is smaller */
	assert_int_equal(post(h, "big", &r), -EFBIG);
	assert_int_equal(r.body.len, 0);
	assert_error_text(h);
	assert_int_equal(post(h, "bigclose", &r), -EFBIG); /* no Content-Length */
	http_last_error(h, err, sizeof(err));
	assert_string_equal(err, "reply body over 1000 bytes");
	http_reply_release(&r);
	http_free(h);

	/* The reply's cap, when it is the smaller one. */
	h = client(s->url, 5000, 1 << 20, 1);
	http_reply_init(&r, 10);
	assert_int_equal(post(h, "ok", &r), -EFBIG);
	assert_int_equal(post(h, "bigclose", &r), -EFBIG);
	http_reply_release(&r);
	http_reply_init(&r, 13); /* exactly the body */
	assert_int_equal(post(h, "ok", &r), 0);
	assert_int_equal(r.body.len, 13);
	http_reply_release(&r);
	http_free(h);
}

static void test_timeout(void **state)
{
	struct server *s = *state;
	struct http *h = client(s->url, 300, 1 << 20, 1);
	struct http_reply r;
	int64_t t0 = now_ms(), dt;

	http_reply_init(&r, 1 << 20);
	assert_int_equal(post(h, "hang", &r), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 250 && dt < 3000);
	assert_error_text(h);
	/* The handle is usable again. */
	assert_int_equal(post(h, "ok", &r), 0);
	assert_int_equal(r.status, 200);
	http_reply_release(&r);
	http_free(h);
}

static void test_closed_and_garbage(void **state)
{
	struct server *s = *state;
	struct http *h = client(s->url, 5000, 1 << 20, 1);
	struct http_reply r;

	http_reply_init(&r, 1 << 20);
	assert_int_equal(post(h, "close", &r), -ECONNRESET);
	assert_error_text(h);
	assert_int_equal(post(h, "garbage", &r), -EPROTO);
	assert_int_equal(post(h, "ok", &r), 0);
	http_reply_release(&r);
	http_free(h);
}

static void test_refused(void **state)
{
	unsigned short port;
	int fd = listen_loopback(&port);
	char url[64];
	struct http *h;
	struct http_reply r;

	(void)state;
	close(fd); /* bound, never listening, now closed: nobody is there */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	h = client(url, 5000, 1 << 20, 1);
	http_reply_init(&r, 1 << 20);
	assert_int_equal(post(h, "ok", &r), -ECONNREFUSED);
	assert_error_text(h);
	http_reply_release(&r);
	http_free(h);
}

static void test_bad_urls(void **state)
{
	struct http *h;
	struct http_reply r;

	(void)state;
	http_reply_init(&r, 1 << 20);
	h = client("http://[::1/", 5000, 1 << 20, 1);
	assert_int_equal(post(h, "ok", &r), -EINVAL);
	http_free(h);
	/* Only http and https are spoken. */
	h = client("file:///etc/passwd", 5000, 1 << 20, 1);
	assert_int_equal(post(h, "ok", &r), -EPROTO);
	assert_int_equal(r.body.len, 0);
	http_free(h);
	h = client("ftp://127.0.0.1:1/", 5000, 1 << 20, 1);
	assert_int_equal(post(h, "ok", &r), -EPROTO);
	http_free(h);
	http_reply_release(&r);
}

static void test_new_invalid(void **state)
{
	struct http_config cfg = {.url = "http://127.0.0.1/", .timeout_ms = 1000, .max_reply = 10, .max_conns = 1};
	struct http_config bad;

	(void)state;
	http_free(NULL);
	assert_null(http_new(NULL));
	bad = cfg;
	bad.url = NULL;
	errno = 0;
	assert_null(http_new(&bad));
	assert_int_equal(errno, EINVAL);
	bad = cfg;
	bad.timeout_ms = 0;
	assert_null(http_new(&bad));
	bad = cfg;
	bad.max_conns = 0;
	assert_null(http_new(&bad));
	bad = cfg;
	bad.max_reply = 0;
	assert_null(http_new(&bad));
	bad = cfg;
	bad.connect_timeout_ms = -1;
	assert_null(http_new(&bad));
	bad = cfg;
	bad.ca_file = "/nonexistent/ca.pem"; /* only matters for https */
	http_free(http_new(&bad));
}

static void test_keepalive(void **state)
{
	struct server *s = *state;
	struct http *h = client(s->url, 5000, 1 << 20, 4);
	struct http_reply r;
	struct http_stats st;

	http_reply_init(&r, 1 << 20);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(post(h, i == 2 ? "503" : "ok", &r), 0);
		assert_int_equal(r.status, i == 2 ? 503 : 200);
	}
	assert_int_equal(server_get(s, &s->accepted), 1);
	http_get_stats(h, &st);
	assert_int_equal(st.requests, 5);
	assert_int_equal(st.connects, 1);
	assert_int_equal(st.reused, 4);
	assert_int_equal(st.failures, 0);
	/* A connection the server closed is replaced, not fatal. */
	assert_int_equal(post(h, "trunc", &r), -ECONNRESET);
	assert_int_equal(post(h, "ok", &r), 0);
	assert_int_equal(server_get(s, &s->accepted), 2);
	http_get_stats(h, &st);
	assert_int_equal(st.failures, 1);
	http_reply_release(&r);
	http_free(h);
}

struct hammer {
	struct http *h;
	int n;
	int failures;
};

static void *hammer(void *p)
{
	struct hammer *a = p;
	struct http_reply r;

	http_reply_init(&r, 1 << 20);
	for (int i = 0; i < a->n; i++)
		if (post(a->h, "slow", &r) != 0 || r.status != 200 || strcmp(r.body.data, "slow") != 0)
			a->failures++;
	http_reply_release(&r);
	return NULL;
}

/* threads posting at once through a client with max_conns. */
static void run_concurrent(struct server *s, unsigned max_conns, int threads, int each)
{
	struct http *h = client(s->url, 10000, 1 << 20, max_conns);
	pthread_t t[16];
	struct hammer a = {.h = h, .n = each};
	struct hammer args[16];
	struct http_stats st;

	assert_true(threads <= 16);
	for (int i = 0; i < threads; i++) {
		args[i] = a;
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &args[i]), 0);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	http_get_stats(h, &st);
	assert_int_equal(st.requests, (unsigned long long)(threads * each));
	assert_true(st.connects <= max_conns);
	http_free(h);
	assert_true(server_get(s, &s->accepted) <= (int)max_conns);
	assert_int_equal(server_get(s, &s->max_active), (int)max_conns);
}

static void test_max_conns(void **state)
{
	run_concurrent(*state, 2, 8, 3);
}

static void test_max_conns_one(void **state)
{
	run_concurrent(*state, 1, 4, 2);
}

static void test_url_predicates(void **state)
{
	static const char *const loop[] = {
	    "http://127.0.0.1/",	  "http://127.0.0.1:8080/x", "http://localhost/",
	    "http://LocalHost:99",	  "http://[::1]:8080/",	     "http://[::1]",
	    "http://127.5.6.7",		  "HTTP://127.0.0.1",	     "http://user:pw@127.0.0.1/",
	    "http://[::ffff:127.0.0.1]/", "http://127.0.0.1?x=1",    "http://LOCALHOST:8080/",
	};
	static const char *const not_loop[] = {
	    "http://example.com/",
	    "http://10.0.0.1/",
	    "http://127.0.0.1.evil.com/",
	    "https://127.0.0.1/",
	    "http://127.0.0.1@evil.com/",
	    "http://evil.com#@127.0.0.1",
	    "http://evil.com/?127.0.0.1",
	    "http://::1/",
	    "http://127.1/",
	    "http://127.0.0.1:80x/",
	    "http://",
	    "",
	    "http://[::1",
	    "http://localhost.evil.com",
	    "http://0.0.0.0/",
	    "http://128.0.0.1/",
	    "http://[::2]/",
	    "http://[127.0.0.1]/",
	    "127.0.0.1",
	    "http://:80/",
	    "http://localhost:80@evil.com",
	    /* a resolver may send these to DNS: not loopback */
	    "http://localhost.:80/",
	    "http://localhost./",
	    "http://LocalHost./x",
	    "http://x.localhost/",
	    "http://localhost.localdomain/",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(loop) / sizeof(loop[0]); i++) {
		if (!http_url_is_loopback(loop[i]))
			fail_msg("%s should be loopback", loop[i]);
	}
	for (size_t i = 0; i < sizeof(not_loop) / sizeof(not_loop[0]); i++) {
		if (http_url_is_loopback(not_loop[i]))
			fail_msg("%s should not be loopback", not_loop[i]);
	}
	assert_false(http_url_is_loopback(NULL));
	assert_true(http_url_is_https("https://api.surfercloud.com/"));
	assert_true(http_url_is_https("HTTPS://api.ucloud.cn"));
	assert_false(http_url_is_https("http://api.surfercloud.com/"));
	assert_false(http_url_is_https("https:/x"));
	assert_false(http_url_is_https(NULL));
}

/* "localhost" is pinned to loopback by the transport itself
 * (CURLOPT_RESOLVE), so it works against a server on 127.0.0.1, in any
 * case, whatever the resolver would say. */
static void test_localhost_pinned(void **state)
{
	struct server *s = *state;
	const char *port = strrchr(s->url, ':') + 1;
	char url[64];
	struct http *h;
	struct http_reply r;

	http_reply_init(&r, 1 << 20);
	snprintf(url, sizeof(url), "http://localhost:%s", port);
	h = client(url, 5000, 1 << 20, 1);
	assert_int_equal(post(h, "ok", &r), 0);
	assert_int_equal(r.status, 200);
	http_free(h);
	snprintf(url, sizeof(url), "http://LocalHost:%s", port);
	h = client(url, 5000, 1 << 20, 1);
	assert_int_equal(post(h, "ok", &r), 0);
	http_free(h);
	http_reply_release(&r);
}

struct bg_post {
	struct http *h;
	struct uhub *u;
	int err;
	int64_t done_ms;
};

static void *post_in_thread(void *arg)
{
	struct bg_post *b = arg;
	struct http_reply r;

	http_reply_init(&r, 1 << 20);
	b->err = post(b->h, "hang", &r);
	b->done_ms = now_ms();
	http_reply_release(&r);
	return NULL;
}

/* Waits until the server holds n requests (the posts are in flight). */
static void wait_active(struct server *s, int n)
{
	for (int64_t t0 = now_ms(); server_get(s, &s->active) < n && now_ms() - t0 < WAIT_MS;)
		sleep_ms(1);
	assert_true(server_get(s, &s->active) >= n);
}

/* http_cancel ends a hung transfer (a minute's timeout) at once (here:
 * within BOUND_MS, whatever the load), with ECANCELED; later posts fail
 * at once without a request. */
static void test_cancel_hung(void **state)
{
	struct server *s = *state;
	struct bg_post b = {.h = client(s->url, 60000, 1 << 20, 1)};
	struct http_reply r;
	pthread_t t;
	int64_t t0;

	assert_int_equal(pthread_create(&t, NULL, post_in_thread, &b), 0);
	wait_active(s, 1);
	sleep_ms(50); /* well into the wait */
	t0 = now_ms();
	http_cancel(b.h);
	http_cancel(b.h); /* idempotent */
	pthread_join(t, NULL);
	assert_int_equal(b.err, -ECANCELED);
	assert_true(b.done_ms - t0 < BOUND_MS);
	http_reply_init(&r, 1 << 20);
	t0 = now_ms();
	assert_int_equal(post(b.h, "ok", &r), -ECANCELED);
	assert_true(now_ms() - t0 < BOUND_MS);
	assert_int_equal(server_get(s, &s->accepted), 1);
	http_reply_release(&r);
	http_free(b.h);
	http_cancel(NULL);
}

static void *list_in_thread(void *arg)
{
	struct bg_post *b = arg;
	struct uhub_list l;

	b->err = uhub_list(b->u, UHUB_REPOS, NULL, NULL, &l);
	b->done_ms = now_ms();
	if (!b->err)
		uhub_list_release(&l);
	return NULL;
}

/* The whole path: uhub_cancel reaches the transport (uhub_http_cancel),
 * and a listing whose request hangs (a minute's timeout) ends at once,
 * ECANCELED. */
static void test_uhub_cancel_hung(void **state)
{
	struct server *s = *state;
	struct uhub_config uc = {.public_key = "pub",
				 .private_key = "priv",
				 .page_size = 100,
				 .max_requests = 2,
				 .retries = 3,
				 .backoff_ms = 5000,
				 .max_reply = 1 << 20};
	struct uhub_transport tr = {.post = uhub_http_post, .cancel = uhub_http_cancel};
	struct bg_post b = {.h = client(s->url, 60000, 1 << 20, 2)};
	pthread_t t;
	int64_t t0;

	tr.self = b.h;
	b.u = uhub_new(&uc, &tr, NULL);
	assert_non_null(b.u);
	assert_int_equal(pthread_create(&t, NULL, list_in_thread, &b), 0);
	wait_active(s, 1);
	sleep_ms(50);
	t0 = now_ms();
	uhub_cancel(b.u);
	pthread_join(t, NULL);
	assert_int_equal(b.err, -ECANCELED);
	assert_true(b.done_ms - t0 < BOUND_MS);
	uhub_free(b.u);
	http_free(b.h);
}

#define WITH_SERVER(t) cmocka_unit_test_setup_teardown(t, server_setup, server_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    WITH_SERVER(test_ok_and_request_shape),
	    WITH_SERVER(test_request_id),
	    WITH_SERVER(test_status_passthrough),
	    WITH_SERVER(test_truncated),
	    WITH_SERVER(test_oversized),
	    WITH_SERVER(test_timeout),
	    WITH_SERVER(test_closed_and_garbage),
	    WITH_SERVER(test_keepalive),
	    WITH_SERVER(test_max_conns),
	    WITH_SERVER(test_max_conns_one),
	    WITH_SERVER(test_localhost_pinned),
	    WITH_SERVER(test_cancel_hung),
	    WITH_SERVER(test_uhub_cancel_hung),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_bad_urls),
	    cmocka_unit_test(test_new_invalid),
	    cmocka_unit_test(test_url_predicates),
	};
	static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
					      "all_proxy",  "ALL_PROXY",  "ftp_proxy",	 "FTP_PROXY"};

	/* Nothing may leave this machine, and libcurl runs with NOSIGNAL. */
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
