/* sim_http.c — the HTTP side of uhub-sim on libmicrohttpd.
 *
 * MHD runs one thread per connection, so the handler may simply sleep for
 * latency or a hang; sleeps are cut into short slices that watch for the
 * simulator stopping and for the client hanging up, so neither shutdown nor
 * an impatient client leaves a thread asleep for two minutes. The raw
 * request target comes from MHD's URI-log hook (which also creates the
 * per-request state), so the query is decoded by params_decode exactly as a
 * form body would be. Faults that break HTTP itself (drop, truncate,
 * oversized) live here; everything else is sim_api's reply.
 */
#include "sim_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "sim_json.h"
#include "sim_tree.h"

#define BODY_MAX (1u << 20)	 /* a request body; the API's are tiny */
#define REPLY_MAX (512u << 20)	 /* a reply, however large the page */
#define CONTROL_MAX (256u << 20) /* a control answer: /_sim/state dumps it all */
#define NAP_SLICE_MS 20

struct sim_server {
	struct MHD_Daemon *d;
	struct sim_parts parts;
	atomic_bool stopping;
	unsigned port;
};

/* Per request: created by the URI-log hook, freed when MHD completes it. */
struct sim_req {
	char *uri; /* the raw request target, query included */
	struct buf body;
	bool started, too_big;
	struct timespec start;
};

/* What an API request came to, for the access log. */
struct outcome {
	unsigned status;
	int retcode;
	enum sim_fault_kind fault;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps ms in slices. False when cut short: the simulator is stopping or
 * the client hung up (then there is nobody left to answer). */
static bool nap(struct sim_server *s, struct MHD_Connection *c, unsigned long long ms)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	int64_t end = now_ns() + (int64_t)ms * 1000000;

	while (!atomic_load(&s->stopping)) {
		int64_t left = end - now_ns();
		struct pollfd pfd = {.fd = ci ? ci->connect_fd : -1, .events = POLLRDHUP};
		int slice;

		if (left <= 0)
			return true;
		slice = left > NAP_SLICE_MS * 1000000LL ? NAP_SLICE_MS : (int)((left + 999999) / 1000000);
		if (poll(&pfd, 1, slice) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return false;
	}
	return false;
}

/* ---- per-request state ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct sim_req *rq = calloc(1, sizeof(*rq));

	(void)cls;
	(void)c;
	if (!rq)
		return NULL;
	rq->uri = strdup(uri);
	if (!rq->uri) {
		free(rq);
		return NULL;
	}
	buf_init(&rq->body, BODY_MAX);
	clock_gettime(CLOCK_MONOTONIC, &rq->start);
	return rq;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct sim_req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (!rq)
		return;
	buf_release(&rq->body);
	free(rq->uri);
	free(rq);
	*con_cls = NULL;
}

/* ---- sending ---- */

/* A request id in the shape of a UUID (version 4). */
static void request_uuid(char out[37])
{
	unsigned char b[16] = {0};
	struct timespec ts;

	/* getrandom cannot fail for 16 bytes once the pool is up; if it
	 * does, a clock reading still makes ids that differ. */
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		memcpy(b, &ts, sizeof(ts) < sizeof(b) ? sizeof(ts) : sizeof(b));
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Queues resp (consumed) with status and the headers every reply has. */
static enum MHD_Result queue(struct MHD_Connection *c, struct MHD_Response *resp, unsigned status, const char *ctype,
			     bool api)
{
	char uuid[37];
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (api) {
		request_uuid(uuid);
		MHD_add_response_header(resp, "X-UCLOUD-REQUEST-UUID", uuid);
	}
	if (status == MHD_HTTP_TOO_MANY_REQUESTS)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Sends the buffer's contents (taken: b is left empty). */
static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *ctype, struct buf *b, bool api)
{
	size_t len = b->len;
	char *data = buf_take(b);

	if (!data)
		return MHD_NO;
	return queue(c, MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE), status, ctype, api);
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *text, bool api)
{
	return queue(c, MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY), status,
		     "text/plain; charset=utf-8", api);
}

/* A body produced on the fly: head, then (padded) 'x' up to total - 2,
 * then "\"}" (dense: "0,0,...,0" and "]}"); or, truncated, head alone cut
 * after cut bytes. */
struct stream {
	char *head;
	size_t head_len;
	uint64_t total; /* the Content-Length announced */
	uint64_t cut;	/* bytes really sent; < total makes a truncated reply */
	bool dense;	/* the padding is an array of zeros, not a string */
	atomic_bool *stopping;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct stream *st = cls;
	size_t n = 0;

	if (atomic_load(st->stopping) || pos >= st->cut)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	while (n < max && pos + n < st->cut) {
		uint64_t at = pos + n, room = max - n, stop = st->cut - at;
		uint64_t run = room < stop ? room : stop;

		if (at < st->head_len) {
			run = run < st->head_len - at ? run : st->head_len - at;
			memcpy(out + n, st->head + at, (size_t)run);
		} else if (at < st->total - 2 && st->dense) {
			run = 1;
			out[n] = (at - st->head_len) % 2 ? ',' : '0';
		} else if (at < st->total - 2) {
			run = run < st->total - 2 - at ? run : st->total - 2 - at;
			memset(out + n, 'x', (size_t)run);
		} else {
			run = 1;
			out[n] = (st->dense ? "]}" : "\"}")[at - (st->total - 2)];
		}
		n += (size_t)run;
	}
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	free(st->head);
	free(st);
}

/* truncate: the whole length announced, half of it sent. oversized: the
 * reply with a "Padding" member that makes it bytes long; dense: the same
 * with an array of zeros, whose length makes the zeros end it ("0]}"). */
static enum MHD_Result send_stream(struct sim_server *s, struct MHD_Connection *c, struct buf *json, bool truncate,
				   bool dense, long long bytes)
{
	struct stream *st = calloc(1, sizeof(*st));
	struct MHD_Response *resp;

	if (!st || json->len < 2 || json->data[json->len - 1] != '}') {
		free(st);
		return MHD_NO;
	}
	st->stopping = &s->stopping;
	if (truncate) {
		st->head_len = st->total = json->len;
		st->cut = json->len / 2;
	} else {
		/* The reply without its closing brace, then a Padding member
		 * that stream_read fills with 'x' and closes. */
		json->data[--json->len] = '\0';
		if (buf_adds(json, dense ? ",\"Padding\":[" : ",\"Padding\":\"")) {
			free(st);
			return MHD_NO;
		}
		st->dense = dense;
		st->head_len = json->len;
		st->total = (uint64_t)bytes > st->head_len + 3 ? (uint64_t)bytes : st->head_len + 2 + dense;
		if (dense && (st->total - 2 - st->head_len) % 2 == 0)
			st->total++; /* an odd run: 0 , 0 ... , 0 */
		st->cut = st->total;
	}
	st->head = buf_take(json);
	if (!st->head) {
		free(st);
		return MHD_NO;
	}
	resp = MHD_create_response_from_callback(st->total, 64 * 1024, stream_read, st, stream_free);
	if (!resp)
		stream_free(st);
	return queue(c, resp, MHD_HTTP_OK, "application/json; charset=utf-8", true);
}

/* ---- decoding ---- */

static bool is_json(struct MHD_Connection *c)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

	return ct && strncasecmp(ct, "application/json", 16) == 0;
}

/* The query and the body (form or JSON), merged into p: body parameters
 * first, then query parameters whose name the body does not have. */
static int decode_request(struct MHD_Connection *c, const struct sim_req *rq, struct params *p)
{
	const char *q = strchr(rq->uri, '?');
	struct params *query = params_new();
	int err = query ? 0 : -ENOMEM;

	if (!err && rq->body.len)
		err = is_json(c) ? sim_json_body_params(rq->body.data, rq->body.len, p)
				 : params_decode(p, rq->body.data, rq->body.len);
	if (!err && q)
		err = params_decode(query, q + 1, strlen(q + 1));
	for (size_t i = 0; !err && query && i < params_count(query); i++)
		if (!params_get(p, params_name(query, i)))
			err = params_add(p, params_name(query, i), params_value(query, i));
	params_free(query);
	return err;
}

/* ---- the API ---- */

static int json_reply(struct sim_server *s, const struct sim_reply *r, unsigned factor, struct buf *out)
{
	struct sim_json_style st = {
	    .time = sim_api_time_style(s->parts.api),
	    .retcode_string = sim_api_retcode_string(s->parts.api),
	    .total_factor = factor,
	    .pad_bytes = sim_api_pad_bytes(s->parts.api),
	};

	buf_init(out, REPLY_MAX);
	return sim_json_reply(r, &st, out);
}

static enum MHD_Result send_reply(struct sim_server *s, struct MHD_Connection *c, const struct sim_reply *r,
				  const struct sim_fault_hit *hit, struct outcome *o)
{
	struct buf json;
	enum MHD_Result ret = MHD_NO;

	o->retcode = r->retcode;
	if (json_reply(s, r, hit->kind == SIM_FAULT_LIECOUNT ? 10 : 1, &json) == 0) {
		if (hit->kind == SIM_FAULT_TRUNCATE || hit->kind == SIM_FAULT_OVERSIZED || hit->kind == SIM_FAULT_DENSE)
			ret = send_stream(s, c, &json, hit->kind == SIM_FAULT_TRUNCATE, hit->kind == SIM_FAULT_DENSE,
					  hit->bytes);
		else
			ret = send_buf(c, MHD_HTTP_OK, "application/json; charset=utf-8", &json, true);
	}
	buf_release(&json);
	return ret;
}

static enum MHD_Result send_error_reply(struct sim_server *s, struct MHD_Connection *c, const char *action, int retcode,
					const char *message, struct outcome *o)
{
	struct sim_reply r;
	static const struct sim_fault_hit none = {.kind = SIM_FAULT_NONE};

	sim_reply_error(&r, action, retcode, message);
	return send_reply(s, c, &r, &none, o);
}

static const struct {
	enum sim_fault_kind kind;
	unsigned status;
	int retcode;
	const char *text;
} fault_table[] = {
    {SIM_FAULT_HTTP500, 500, 0, "<html><body><h1>500 Internal Server Error</h1></body></html>\n"},
    {SIM_FAULT_HTTP502, 502, 0, "<html><body><h1>502 Bad Gateway</h1></body></html>\n"},
    {SIM_FAULT_HTTP503, 503, 0, "<html><body><h1>503 Service Unavailable</h1></body></html>\n"},
    {SIM_FAULT_HTTP429, 429, 0, "<html><body><h1>429 Too Many Requests</h1></body></html>\n"},
    {SIM_FAULT_NOTJSON, 200, 0, "<html>oops</html>"},
    {SIM_FAULT_RET110, 200, 110, "Gateway timeout"},
    {SIM_FAULT_RET130, 200, 130, "Gateway internal error"},
    {SIM_FAULT_RET150, 200, 150, "Service unavailable"},
    {SIM_FAULT_RET153, 200, 153, "Request too frequent"},
    {SIM_FAULT_RET2000, 200, 2000, "Backend error"},
    /* Clears the screen, retitles the terminal, then forges a line. */
    {SIM_FAULT_ESCMSG, 200, 171, "Signature VerifyAC Error\x1b[2J\x1b]0;owned\x07\r\nimgtagfs: mounted"},
};

/* Answers with a fault of the table; false when hit is not one of them. */
static bool send_table_fault(struct sim_server *s, struct MHD_Connection *c, const char *action,
			     const struct sim_fault_hit *hit, struct outcome *o, enum MHD_Result *ret)
{
	for (size_t i = 0; i < sizeof(fault_table) / sizeof(fault_table[0]); i++) {
		if (fault_table[i].kind != hit->kind)
			continue;
		o->status = fault_table[i].status;
		if (fault_table[i].retcode) {
			*ret = send_error_reply(s, c, action, fault_table[i].retcode, fault_table[i].text, o);
		} else {
			struct MHD_Response *resp = MHD_create_response_from_buffer(
			    strlen(fault_table[i].text), (void *)fault_table[i].text, MHD_RESPMEM_PERSISTENT);

			*ret = queue(c, resp, o->status, "text/html", true);
		}
		return true;
	}
	return false;
}

/* The answer once the request has waited its latency. */
static enum MHD_Result answer(struct sim_server *s, struct MHD_Connection *c, const struct params *p,
			      const struct sim_fault_hit *hit, struct outcome *o)
{
	const char *action = params_get(p, "Action");
	struct sim_reply r;
	enum MHD_Result ret = MHD_NO;

	o->status = 200;
	if (hit->kind == SIM_FAULT_DROP) {
		o->status = 0;
		return MHD_NO;
	}
	if (send_table_fault(s, c, action, hit, o, &ret))
		return ret;
	if (hit->kind == SIM_FAULT_SHUFFLE && params_get(p, "RepoName") && params_get(p, "ImageName"))
		sim_registry_shuffle(s->parts.reg, params_get(p, "RepoName"), params_get(p, "ImageName"), hit->event,
				     (int64_t)time(NULL));
	sim_api_handle(s->parts.api, p, &r);
	ret = send_reply(s, c, &r, hit, o);
	sim_reply_release(&r);
	return ret;
}

/* One access-log line: when, method, action, parameters (never PublicKey or
 * Signature), the outcome and the time taken. */
static void log_request(struct sim_server *s, const struct sim_req *rq, const char *method, const struct params *p,
			const struct outcome *o)
{
	struct timespec end;
	struct buf line;
	char when[32];
	time_t t = time(NULL);
	struct tm tm;

	if (!sim_stats_log_enabled(s->parts.stats))
		return;
	clock_gettime(CLOCK_MONOTONIC, &end);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_init(&line, 4096);
	buf_printf(&line, "%s %s %s", when, method, params_get(p, "Action") ? params_get(p, "Action") : "-");
	for (size_t i = 0; i < params_count(p); i++) {
		const char *n = params_name(p, i);

		if (strcmp(n, "Action") == 0 || strcmp(n, "PublicKey") == 0 || strcmp(n, "Signature") == 0)
			continue;
		buf_printf(&line, " %s=", n);
		params_escape(&line, params_value(p, i));
	}
	buf_printf(&line, " -> http=%u ret=%d fault=%s %lldms", o->status, o->retcode, sim_fault_kind_name(o->fault),
		   (long long)(end.tv_sec - rq->start.tv_sec) * 1000 + (end.tv_nsec - rq->start.tv_nsec) / 1000000);
	if (line.data)
		sim_stats_log_line(s->parts.stats, line.data);
	buf_release(&line);
}

/* A page of a listing after the first (a nonzero Offset)? */
static bool later_page(const struct params *p)
{
	const char *off = params_get(p, "Offset");

	return off && strspn(off, "0123456789") == strlen(off) && strspn(off, "0") != strlen(off);
}

static enum MHD_Result serve_api(struct sim_server *s, struct MHD_Connection *c, struct sim_req *rq, const char *method)
{
	struct params *p = params_new();
	struct sim_fault_hit hit = {.kind = SIM_FAULT_NONE};
	struct outcome o = {.status = 0, .retcode = -1};
	enum MHD_Result ret = MHD_NO;
	const char *action;
	bool admitted;
	int err = p ? decode_request(c, rq, p) : -ENOMEM;

	if (err) {
		params_free(p);
		return send_text(c, err == -ENOMEM ? 500 : 400, "bad request: the parameters cannot be decoded\n",
				 true);
	}
	action = params_get(p, "Action");
	sim_stats_record(s->parts.stats, action, params_get(p, "RepoName"), params_get(p, "ImageName"),
			 params_get(p, "TagName"));
	admitted = sim_faults_admit(s->parts.faults, now_ns());
	if (admitted)
		sim_faults_pick_page(s->parts.faults, action, later_page(p), &hit);
	o.fault = hit.kind;
	if (!nap(s, c, sim_faults_delay_ms(s->parts.faults)))
		goto out;
	if (hit.kind == SIM_FAULT_HANG && !nap(s, c, (unsigned long long)hit.ms))
		goto out;
	if (!admitted) {
		o.status = 200;
		ret = send_error_reply(s, c, action, 153, "Request too frequent", &o);
	} else {
		ret = answer(s, c, p, &hit, &o);
	}
out:
	log_request(s, rq, method, p, &o);
	params_free(p);
	return ret;
}

/* ---- the control endpoint ---- */

static enum MHD_Result serve_control(struct sim_server *s, struct MHD_Connection *c, struct sim_req *rq,
				     const char *method, const char *name)
{
	const char *q = strchr(rq->uri, '?');
	struct params *p = params_new();
	struct buf out;
	unsigned status = 500;
	int err = p ? 0 : -ENOMEM;

	buf_init(&out, CONTROL_MAX);
	if (!err && q)
		err = params_decode(p, q + 1, strlen(q + 1));
	if (!err && rq->body.len)
		err = params_decode(p, rq->body.data, rq->body.len);
	if (!err)
		err = sim_control_handle(&s->parts, method, name, p, &status, &out);
	params_free(p);
	if (err) {
		buf_release(&out);
		return send_text(c, err == -ENOMEM ? 500 : 400, "bad request: cannot decode the parameters\n", false);
	}
	return send_buf(c, status, "text/plain; charset=utf-8", &out, false);
}

/* ---- the plain directory tree (sim_tree.h), with the API's latency ---- */

static enum MHD_Result serve_tree(struct sim_server *s, struct MHD_Connection *c, struct sim_req *rq, const char *url,
				  const char *method)
{
	const char *q = strchr(rq->uri, '?');
	const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
	struct sim_tree_reply r;
	struct MHD_Response *resp = NULL;
	enum MHD_Result ret = MHD_NO;

	if (!sim_tree_answer(&s->parts, method, url, q ? q + 1 : NULL, range, &r) &&
	    nap(s, c, sim_faults_delay_ms(s->parts.faults))) {
		size_t len = r.body.len;

		resp = MHD_create_response_from_buffer(len, buf_take(&r.body), MHD_RESPMEM_MUST_FREE);
		for (size_t i = 0; resp && i < r.nheaders; i++)
			MHD_add_response_header(resp, r.header[i].name, r.header[i].value);
		ret = queue(c, resp, r.status, r.content_type, false);
	}
	sim_tree_reply_release(&r);
	return ret;
}

/* ---- MHD's entry point ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct sim_server *s = cls;
	struct sim_req *rq = *con_cls;
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

	(void)version;
	if (!rq)
		return MHD_NO; /* the URI hook ran out of memory */
	if (!rq->started) {
		rq->started = true;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (buf_add(&rq->body, upload_data, *upload_data_size))
			rq->too_big = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->too_big)
		return send_text(c, 413, "request body too large\n", false);
	if (sim_tree_path(url))
		return serve_tree(s, c, rq, url, method);
	if (!get && !post)
		return send_text(c, 405, "only GET and POST\n", false);
	if (strncmp(url, "/_sim/", 6) == 0)
		return serve_control(s, c, rq, method, url + 6);
	if (strcmp(url, "/") != 0)
		return send_text(c, 404, "not found: the API is at /, the simulator's controls at /_sim/\n", false);
	return serve_api(s, c, rq, method);
}

/* ---- start and stop ---- */

static int parse_bind(const char *addr, unsigned port, struct sockaddr_storage *ss, bool *v6)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	*v6 = false;
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*v6 = true;
		return 0;
	}
	return -EINVAL;
}

struct sim_server *sim_server_start(const struct sim_parts *parts, const struct sim_server_cfg *cfg, char *err,
				    size_t errlen)
{
	struct sim_server *s = calloc(1, sizeof(*s));
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	bool v6;

	if (!s || cfg->port > 65535 || parse_bind(cfg->bind, cfg->port, &ss, &v6)) {
		snprintf(err, errlen, "%s", s ? "bad --bind address or --port" : "out of memory");
		free(s);
		return NULL;
	}
	s->parts = *parts;
	atomic_init(&s->stopping, false);
	flags |= (v6 ? MHD_USE_IPv6 : 0) | (cfg->verbose ? MHD_USE_ERROR_LOG : 0);
	s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
				(struct sockaddr *)&ss, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned)300, MHD_OPTION_CONNECTION_LIMIT,
				(unsigned)(cfg->max_connections ? cfg->max_connections : 1024), MHD_OPTION_END);
	info = s->d ? MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
	if (!info) {
		snprintf(err, errlen, "cannot listen on %s port %u: %s", cfg->bind, cfg->port, strerror(errno));
		sim_server_stop(s);
		return NULL;
	}
	s->port = info->port;
	return s;
}

unsigned sim_server_port(const struct sim_server *s)
{
	return s->port;
}

void sim_server_stop(struct sim_server *s)
{
	if (!s)
		return;
	/* First wake every sleeper, then let MHD close and join. */
	atomic_store(&s->stopping, true);
	if (s->d)
		MHD_stop_daemon(s->d);
	free(s);
}
