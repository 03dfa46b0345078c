/* sim_fault.c — the faults, rate limit and latency of uhub-sim.
 *
 * Everything a request consults before it is answered, behind one mutex:
 * the list of active faults (tried in order), the random source for rates
 * and jitter, the shuffle event counter and the rate limiter's bucket.
 * The random source is seeded, so a run with the same seed and the same
 * request order makes the same choices.
 */
#include "sim_fault.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_faults {
	pthread_mutex_t lock;
	struct sim_fault_spec *v;
	size_t n, alloc;
	uint64_t rng;
	unsigned long shuffles;
	unsigned long rps;
	double tokens;
	int64_t last_ns;
	unsigned long latency_ms, jitter_ms;
};

static const char *const kind_names[SIM_FAULT_KINDS] = {
    "-",    "http500", "http502",  "http503", "http429",   "ret110",   "ret130",  "ret150", "ret153", "ret2000",
    "hang", "drop",    "truncate", "notjson", "oversized", "liecount", "shuffle", "escmsg", "dense",
};

int sim_fault_kind_parse(const char *name, enum sim_fault_kind *out)
{
	for (int k = SIM_FAULT_NONE + 1; k < SIM_FAULT_KINDS; k++) {
		if (strcmp(name, kind_names[k]) == 0) {
			*out = (enum sim_fault_kind)k;
			return 0;
		}
	}
	return -EINVAL;
}

const char *sim_fault_kind_name(enum sim_fault_kind k)
{
	return (unsigned)k < SIM_FAULT_KINDS ? kind_names[k] : "?";
}

void sim_fault_spec_init(struct sim_fault_spec *s, enum sim_fault_kind kind)
{
	*s = (struct sim_fault_spec){
	    .kind = kind, .rate = 1.0, .count = -1, .ms = SIM_HANG_MS_DEFAULT, .bytes = SIM_OVERSIZED_DEFAULT};
}

/* RATE (0 < r <= 1) or #COUNT (>= 1) after the kind. */
static int spec_when(const char *s, struct sim_fault_spec *out)
{
	char *end;

	errno = 0;
	if (*s == ':') {
		out->rate = strtod(s + 1, &end);
		if (errno || end == s + 1 || *end || !(out->rate > 0.0 && out->rate <= 1.0))
			return -EINVAL;
		return 0;
	}
	if (*s == '#') {
		out->count = strtol(s + 1, &end, 10);
		if (errno || end == s + 1 || *end || out->count < 1)
			return -EINVAL;
		return 0;
	}
	return *s ? -EINVAL : 0;
}

int sim_fault_spec_parse(const char *text, struct sim_fault_spec *out)
{
	char buf[128], name[32], *at;
	enum sim_fault_kind kind;
	int n = snprintf(buf, sizeof(buf), "%s", text);
	size_t klen;

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EINVAL;
	at = strchr(buf, '@');
	if (at)
		*at++ = '\0';
	klen = strcspn(buf, ":#");
	if (klen >= sizeof(name))
		return -EINVAL;
	memcpy(name, buf, klen);
	name[klen] = '\0';
	if (sim_fault_kind_parse(name, &kind))
		return -EINVAL;
	sim_fault_spec_init(out, kind);
	if (at && (!*at || strlen(at) >= sizeof(out->action)))
		return -EINVAL;
	if (at)
		memcpy(out->action, at, strlen(at) + 1);
	return spec_when(buf + klen, out);
}

struct sim_faults *sim_faults_new(uint64_t seed)
{
	struct sim_faults *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	if (pthread_mutex_init(&f->lock, NULL) != 0) {
		free(f);
		return NULL;
	}
	f->rng = seed;
	return f;
}

void sim_faults_free(struct sim_faults *f)
{
	if (!f)
		return;
	pthread_mutex_destroy(&f->lock);
	free(f->v);
	free(f);
}

int sim_faults_add(struct sim_faults *f, const struct sim_fault_spec *s)
{
	int err = 0;

	if (s->kind <= SIM_FAULT_NONE || s->kind >= SIM_FAULT_KINDS || !(s->rate > 0.0 && s->rate <= 1.0) ||
	    s->count == 0 || s->count < -1 || s->ms < 0 || s->bytes < 0)
		return -EINVAL;
	pthread_mutex_lock(&f->lock);
	if (f->n == f->alloc) {
		size_t want = f->alloc ? f->alloc * 2 : 4;
		struct sim_fault_spec *v = realloc(f->v, want * sizeof(*v));

		if (v) {
			f->v = v;
			f->alloc = want;
		} else {
			err = -ENOMEM;
		}
	}
	if (!err)
		f->v[f->n++] = *s;
	pthread_mutex_unlock(&f->lock);
	return err;
}

void sim_faults_clear(struct sim_faults *f)
{
	pthread_mutex_lock(&f->lock);
	f->n = 0;
	pthread_mutex_unlock(&f->lock);
}

void sim_faults_describe(struct sim_faults *f, char *out, size_t n)
{
	size_t used = 0;

	out[0] = '\0';
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n && used < n; i++) {
		const struct sim_fault_spec *s = &f->v[i];
		int w = snprintf(out + used, n - used, "%s rate=%g count=%ld action=%s ms=%lld bytes=%lld%s\n",
				 kind_names[s->kind], s->rate, s->count, s->action[0] ? s->action : "*", s->ms,
				 s->bytes, s->later ? " later=1" : "");

		if (w < 0)
			break;
		used += (size_t)w;
	}
	pthread_mutex_unlock(&f->lock);
}

/* splitmix64: small, seedable, good enough for coin flips. Lock held. */
static uint64_t next_random(struct sim_faults *f)
{
	uint64_t x = (f->rng += 0x9e3779b97f4a7c15ULL);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Whether a kind makes sense for an action: liecount needs a list,
 * shuffle a tag list (the three list actions of sim_api.c). */
static bool applies(enum sim_fault_kind k, const char *action)
{
	if (k == SIM_FAULT_SHUFFLE)
		return strcmp(action, "GetImageTag") == 0;
	if (k == SIM_FAULT_LIECOUNT)
		return strcmp(action, "GetRepo") == 0 || strcmp(action, "GetRepoImage") == 0 ||
		       strcmp(action, "GetImageTag") == 0;
	return true;
}

/* Lock held: does fault i fire for action (later: a page after the
 * first)? Consumes a count if so. */
static bool fires(struct sim_faults *f, size_t i, const char *action, bool later)
{
	struct sim_fault_spec *s = &f->v[i];

	if ((s->action[0] && strcmp(s->action, action) != 0) || !applies(s->kind, action) || (s->later && !later))
		return false;
	if (s->rate < 1.0 && (double)(next_random(f) >> 11) * 0x1.0p-53 >= s->rate)
		return false;
	return true;
}

bool sim_faults_pick(struct sim_faults *f, const char *action, struct sim_fault_hit *out)
{
	return sim_faults_pick_page(f, action, false, out);
}

bool sim_faults_pick_page(struct sim_faults *f, const char *action, bool later, struct sim_fault_hit *out)
{
	bool hit = false;

	*out = (struct sim_fault_hit){.kind = SIM_FAULT_NONE};
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n && !hit; i++) {
		struct sim_fault_spec *s = &f->v[i];

		if (!fires(f, i, action ? action : "", later))
			continue;
		hit = true;
		*out = (struct sim_fault_hit){.kind = s->kind, .ms = s->ms, .bytes = s->bytes};
		if (s->kind == SIM_FAULT_SHUFFLE)
			out->event = ++f->shuffles;
		if (s->count > 0 && --s->count == 0) {
			memmove(&f->v[i], &f->v[i + 1], (f->n - i - 1) * sizeof(*s));
			f->n--;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return hit;
}

void sim_faults_set_rps(struct sim_faults *f, unsigned long rps)
{
	pthread_mutex_lock(&f->lock);
	f->rps = rps;
	f->tokens = (double)rps;
	f->last_ns = 0;
	pthread_mutex_unlock(&f->lock);
}

unsigned long sim_faults_rps(struct sim_faults *f)
{
	unsigned long rps;

	pthread_mutex_lock(&f->lock);
	rps = f->rps;
	pthread_mutex_unlock(&f->lock);
	return rps;
}

bool sim_faults_admit(struct sim_faults *f, int64_t now_ns)
{
	bool ok = true;

	pthread_mutex_lock(&f->lock);
	if (f->rps) {
		if (f->last_ns && now_ns > f->last_ns)
			f->tokens += (double)(now_ns - f->last_ns) * 1e-9 * (double)f->rps;
		if (f->tokens > (double)f->rps)
			f->tokens = (double)f->rps;
		f->last_ns = now_ns;
		ok = f->tokens >= 1.0;
		if (ok)
			f->tokens -= 1.0;
	}
	pthread_mutex_unlock(&f->lock);
	return ok;
}

void sim_faults_set_latency(struct sim_faults *f, unsigned long latency_ms, unsigned long jitter_ms)
{
	pthread_mutex_lock(&f->lock);
	f->latency_ms = latency_ms;
	f->jitter_ms = jitter_ms;
	pthread_mutex_unlock(&f->lock);
}

void sim_faults_latency(struct sim_faults *f, unsigned long *latency_ms, unsigned long *jitter_ms)
{
	pthread_mutex_lock(&f->lock);
	*latency_ms = f->latency_ms;
	*jitter_ms = f->jitter_ms;
	pthread_mutex_unlock(&f->lock);
}

unsigned long sim_faults_delay_ms(struct sim_faults *f)
{
	unsigned long d;

	pthread_mutex_lock(&f->lock);
	d = f->latency_ms;
	if (f->jitter_ms) {
		unsigned long span = 2 * f->jitter_ms + 1;
		unsigned long r = (unsigned long)(next_random(f) % span);

		d = d + r >= f->jitter_ms ? d + r - f->jitter_ms : 0;
	}
	pthread_mutex_unlock(&f->lock);
	return d;
}
