/* sim_control.c — the simulator's control endpoint, /_sim/: what tests
 * use to ask what happened (counters), to change the registry under a live
 * client (push, delete) and to make the simulator misbehave (faults,
 * config), all without a restart. Every answer is one or more text lines.
 */
#include "sim_control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_json.h"

struct ctl {
	const struct sim_parts *p;
	const struct params *q;
	unsigned *status;
	struct buf *out;
};

typedef int (*ctl_fn)(struct ctl *c);

/* An error answer: status and a message line. */
static int refuse(struct ctl *c, unsigned status, const char *msg, const char *what)
{
	*c->status = status;
	buf_reset(c->out);
	return buf_printf(c->out, "%s%s\n", msg, what ? what : "");
}

static int ok(struct ctl *c)
{
	return buf_adds(c->out, "ok\n");
}

/* The first parameter of q not in allowed, or NULL. */
static const char *unknown_param(const struct params *q, const char *const *allowed)
{
	for (size_t i = 0; i < params_count(q); i++) {
		bool known = false;

		for (size_t k = 0; allowed[k] && !known; k++)
			known = strcmp(allowed[k], params_name(q, i)) == 0;
		if (!known)
			return params_name(q, i);
	}
	return NULL;
}

/* A decimal parameter: 1 read, 0 absent, -EINVAL. */
static int get_num(const struct params *q, const char *name, unsigned long long max, unsigned long long *out)
{
	const char *s = params_get(q, name);
	char *end;

	if (!s)
		return 0;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || *out > max)
		return -EINVAL;
	return 1;
}

static int get_flag(const struct params *q, const char *name, bool *out)
{
	const char *s = params_get(q, name);

	if (!s)
		return 0;
	if (strcmp(s, "0") != 0 && strcmp(s, "1") != 0)
		return -EINVAL;
	*out = s[0] == '1';
	return 1;
}

static int ctl_health(struct ctl *c)
{
	return ok(c);
}

static int ctl_count(struct ctl *c)
{
	static const char *const known[] = {"action", "repo", "image", "tag", "has_tag", NULL};
	struct sim_stats_filter f = {
	    .action = params_get(c->q, "action"),
	    .repo = params_get(c->q, "repo"),
	    .image = params_get(c->q, "image"),
	    .tag = params_get(c->q, "tag"),
	    .has_tag = -1,
	};
	const char *bad = unknown_param(c->q, known);
	bool has;
	int got = get_flag(c->q, "has_tag", &has);

	if (bad)
		return refuse(c, 400, "unknown parameter: ", bad);
	if (got < 0)
		return refuse(c, 400, "has_tag must be 0 or 1", NULL);
	if (got)
		f.has_tag = has;
	return buf_printf(c->out, "%llu\n", sim_stats_count(c->p->stats, &f));
}

static int ctl_stats(struct ctl *c)
{
	struct sim_stat_row *rows;
	size_t n;
	int err = sim_stats_rows(c->p->stats, &rows, &n);

	if (err)
		return err;
	err = sim_json_stats(rows, n, c->out);
	sim_stats_rows_free(rows, n);
	return err ? err : buf_adds(c->out, "\n");
}

static int ctl_reset(struct ctl *c)
{
	sim_stats_reset(c->p->stats);
	return ok(c);
}

static int ctl_push(struct ctl *c)
{
	static const char *const known[] = {"repo", "image", "tag", "digest", "time", "type", NULL};
	const char *bad = unknown_param(c->q, known), *type = params_get(c->q, "type");
	struct sim_push push = {
	    .repo = params_get(c->q, "repo"),
	    .image = params_get(c->q, "image"),
	    .tag = params_get(c->q, "tag"),
	    .digest = params_get(c->q, "digest"),
	    .time = (int64_t)time(NULL),
	    .is_public = type && strcmp(type, "public") == 0,
	};
	unsigned long long t;
	int got = get_num(c->q, "time", 253402300799ULL, &t);

	if (bad)
		return refuse(c, 400, "unknown parameter: ", bad);
	if (!push.repo || !push.image || !push.tag)
		return refuse(c, 400, "push needs repo, image and tag", NULL);
	if (got < 0)
		return refuse(c, 400, "time must be Unix seconds", NULL);
	if (type && strcmp(type, "public") != 0 && strcmp(type, "private") != 0)
		return refuse(c, 400, "type must be private or public", NULL);
	if (got)
		push.time = (int64_t)t;
	if (sim_registry_push(c->p->reg, &push))
		return -ENOMEM;
	return ok(c);
}

static int ctl_delete(struct ctl *c)
{
	static const char *const known[] = {"repo", "image", "tag", NULL};
	const char *bad = unknown_param(c->q, known);
	const char *repo = params_get(c->q, "repo"), *image = params_get(c->q, "image");
	const char *tag = params_get(c->q, "tag");
	int err;

	if (bad)
		return refuse(c, 400, "unknown parameter: ", bad);
	if (!repo || (tag && !image))
		return refuse(c, 400, "delete needs repo, and image before tag", NULL);
	err = sim_registry_delete(c->p->reg, repo, image, tag);
	if (err == -ENOENT)
		return refuse(c, 400, "no such repo: ", repo);
	if (err == -ENXIO)
		return refuse(c, 400, "no such image: ", image);
	if (err == -ESRCH)
		return refuse(c, 400, "no such tag: ", tag);
	return ok(c);
}

static int ctl_fault_list(struct ctl *c)
{
	char text[8192];

	sim_faults_describe(c->p->faults, text, sizeof(text));
	return buf_adds(c->out, text);
}

/* Reads rate, count, ms and bytes of a fault: NULL, or what is wrong. */
static const char *fault_knobs(const struct params *q, struct sim_fault_spec *s)
{
	const char *rate = params_get(q, "rate");
	unsigned long long v;
	char *end;
	int got;

	if (rate) {
		errno = 0;
		s->rate = strtod(rate, &end);
		if (errno || end == rate || *end || !(s->rate > 0.0 && s->rate <= 1.0))
			return "rate must be in (0, 1]";
	}
	got = get_num(q, "count", 1000000000ULL, &v);
	if (got < 0 || (got && v == 0))
		return "count must be a positive number";
	if (got)
		s->count = (long)v;
	got = get_num(q, "ms", 86400000ULL, &v);
	if (got < 0)
		return "ms must be a number of milliseconds";
	if (got)
		s->ms = (long long)v;
	got = get_num(q, "bytes", 1ULL << 40, &v);
	if (got < 0)
		return "bytes must be a number";
	if (got)
		s->bytes = (long long)v;
	if (get_flag(q, "later", &s->later) < 0)
		return "later must be 0 or 1";
	return NULL;
}

static int ctl_fault(struct ctl *c)
{
	static const char *const known[] = {"kind", "rate", "count", "action", "ms", "bytes", "later", NULL};
	const char *bad = unknown_param(c->q, known), *kind = params_get(c->q, "kind");
	const char *action = params_get(c->q, "action");
	struct sim_fault_spec s;
	enum sim_fault_kind k;
	const char *wrong;
	int err;

	if (bad)
		return refuse(c, 400, "unknown parameter: ", bad);
	if (kind && strcmp(kind, "clear") == 0) {
		sim_faults_clear(c->p->faults);
		return ok(c);
	}
	if (!kind || sim_fault_kind_parse(kind, &k))
		return refuse(c, 400, "unknown fault kind: ", kind ? kind : "(none)");
	sim_fault_spec_init(&s, k);
	wrong = fault_knobs(c->q, &s);
	if (wrong)
		return refuse(c, 400, wrong, NULL);
	if (action && strcmp(action, "*") != 0) {
		if (strlen(action) >= sizeof(s.action))
			return refuse(c, 400, "action too long", NULL);
		memcpy(s.action, action, strlen(action) + 1);
	}
	err = sim_faults_add(c->p->faults, &s);
	return err ? err : ok(c);
}

static int ctl_config_show(struct ctl *c)
{
	unsigned long lat, jit;

	sim_faults_latency(c->p->faults, &lat, &jit);
	return buf_printf(c->out,
			  "max_limit=%zu\nlatency_ms=%lu\njitter_ms=%lu\nrps=%lu\ntime_style=%s\nretcode_string=%d\n"
			  "trickle=%d\nlate_total=%llu\npad_bytes=%zu\n",
			  sim_api_max_limit(c->p->api), lat, jit, sim_faults_rps(c->p->faults),
			  sim_time_style_name(sim_api_time_style(c->p->api)), sim_api_retcode_string(c->p->api),
			  sim_api_trickle(c->p->api), sim_api_late_total(c->p->api), sim_api_pad_bytes(c->p->api));
}

/* The knobs of hostile paging (trickle, late_total, pad_bytes), checked
 * like the others: -EINVAL for a bad value, nothing applied then. */
struct paging_knobs {
	int g_trickle, g_total, g_pad;
	bool trickle;
	unsigned long long total, pad;
};

static int paging_knobs_read(const struct params *q, struct paging_knobs *k)
{
	k->g_trickle = get_flag(q, "trickle", &k->trickle);
	k->g_total = get_num(q, "late_total", 1000000000000000ULL, &k->total);
	k->g_pad = get_num(q, "pad_bytes", 1ULL << 20, &k->pad);
	return k->g_trickle < 0 || k->g_total < 0 || k->g_pad < 0 ? -EINVAL : 0;
}

static void paging_knobs_apply(struct sim_api *a, const struct paging_knobs *k)
{
	if (k->g_trickle)
		sim_api_set_trickle(a, k->trickle);
	if (k->g_total)
		sim_api_set_late_total(a, k->total);
	if (k->g_pad)
		sim_api_set_pad_bytes(a, (size_t)k->pad);
}

/* Checks every knob first, then applies them all: no half-done config. */
static int ctl_config(struct ctl *c)
{
	static const char *const known[] = {"max_limit",      "latency_ms", "jitter_ms",  "rps",       "time_style",
					    "retcode_string", "trickle",    "late_total", "pad_bytes", NULL};
	const char *bad = unknown_param(c->q, known), *style = params_get(c->q, "time_style");
	unsigned long long max = 0, rps = 0, lat = 0, jit = 0;
	unsigned long cur_lat, cur_jit;
	int g_max, g_lat, g_jit, g_rps, g_rc;
	enum sim_time_style ts = SIM_TIME_PLAIN;
	struct paging_knobs pk;
	bool rc = false;

	if (bad)
		return refuse(c, 400, "unknown parameter: ", bad);
	g_max = get_num(c->q, "max_limit", SIM_COUNT_MAX, &max);
	g_lat = get_num(c->q, "latency_ms", 3600000ULL, &lat);
	g_jit = get_num(c->q, "jitter_ms", 3600000ULL, &jit);
	g_rps = get_num(c->q, "rps", 1000000000ULL, &rps);
	g_rc = get_flag(c->q, "retcode_string", &rc);
	if (g_max < 0 || g_lat < 0 || g_jit < 0 || g_rps < 0 || g_rc < 0 ||
	    (style && sim_time_style_parse(style, &ts)) || paging_knobs_read(c->q, &pk))
		return refuse(c, 400, "bad value; see GET /_sim/config for the knobs", NULL);
	sim_faults_latency(c->p->faults, &cur_lat, &cur_jit);
	if (g_max)
		sim_api_set_max_limit(c->p->api, (size_t)max);
	if (g_lat || g_jit)
		sim_faults_set_latency(c->p->faults, g_lat ? (unsigned long)lat : cur_lat,
				       g_jit ? (unsigned long)jit : cur_jit);
	if (g_rps)
		sim_faults_set_rps(c->p->faults, (unsigned long)rps);
	if (style)
		sim_api_set_time_style(c->p->api, ts);
	if (g_rc)
		sim_api_set_retcode_string(c->p->api, rc);
	paging_knobs_apply(c->p->api, &pk);
	return ok(c);
}

/* The whole registry at one instant, in the data-file format. */
static int ctl_state(struct ctl *c)
{
	struct sim_dump d;
	int err;

	if (params_count(c->q))
		return refuse(c, 400, "unknown parameter: ", params_name(c->q, 0));
	err = sim_registry_dump(c->p->reg, &d);
	if (!err)
		err = sim_json_state(&d, c->out);
	sim_dump_release(&d);
	if (err == -EFBIG)
		return refuse(c, 500, "the registry is too large to dump", NULL);
	return err ? err : buf_adds(c->out, "\n");
}

static int ctl_log(struct ctl *c)
{
	static const char *const known[] = {"on", NULL};
	const char *bad = unknown_param(c->q, known);
	bool on;

	if (bad)
		return refuse(c, 400, "unknown parameter: ", bad);
	if (get_flag(c->q, "on", &on) != 1)
		return refuse(c, 400, "log needs on=1 or on=0", NULL);
	sim_stats_log_enable(c->p->stats, on);
	return ok(c);
}

struct endpoint {
	const char *name;
	ctl_fn get;  /* NULL: GET not allowed */
	ctl_fn post; /* NULL: POST not allowed */
};

static const struct endpoint endpoints[] = {
    {"health", ctl_health, ctl_health},
    {"count", ctl_count, ctl_count},
    {"stats", ctl_stats, ctl_stats},
    {"reset", NULL, ctl_reset},
    {"push", NULL, ctl_push},
    {"delete", NULL, ctl_delete},
    {"fault", ctl_fault_list, ctl_fault},
    {"config", ctl_config_show, ctl_config},
    {"log", NULL, ctl_log},
    {"state", ctl_state, NULL},
};

int sim_control_handle(const struct sim_parts *p, const char *method, const char *name, const struct params *q,
		       unsigned *status, struct buf *out)
{
	struct ctl c = {.p = p, .q = q, .status = status, .out = out};
	bool post = strcmp(method, "POST") == 0;

	*status = 200;
	for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
		const struct endpoint *e = &endpoints[i];
		ctl_fn fn = post ? e->post : e->get;

		if (strcmp(e->name, name) != 0)
			continue;
		if (!fn || (!post && strcmp(method, "GET") != 0))
			return refuse(&c, 405, "method not allowed here; use POST for changes", NULL);
		return fn(&c);
	}
	return refuse(&c, 404, "unknown control endpoint: /_sim/", name);
}
