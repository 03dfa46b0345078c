/* test_sim_control.c — uhub-sim's /_sim/ control endpoint, called
 * directly: counters, push/delete, faults, config, log, the registry's
 * state, and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/sim_control.h"
#include "../sim/sim_json.h"

struct fixture {
	struct sim_parts p;
	struct buf out;
	unsigned status;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sim_gen g;

	f->p.reg = sim_registry_new();
	f->p.api = sim_api_new(f->p.reg);
	f->p.faults = sim_faults_new(1);
	f->p.stats = sim_stats_new();
	buf_init(&f->out, 1 << 20);
	if (!f->p.api || !f->p.faults || !f->p.stats || sim_gen_parse("repos=1,images=2,tags=3", &g) ||
	    sim_registry_generate(f->p.reg, &g))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	buf_release(&f->out);
	sim_stats_free(f->p.stats);
	sim_faults_free(f->p.faults);
	sim_api_free(f->p.api);
	sim_registry_free(f->p.reg);
	free(f);
	return 0;
}

/* Calls /_sim/name?query; returns the text (owned by f). */
static const char *ctl(struct fixture *f, const char *method, const char *name, const char *query)
{
	struct params *q = params_new();

	buf_reset(&f->out);
	assert_int_equal(params_decode(q, query, strlen(query)), 0);
	assert_int_equal(sim_control_handle(&f->p, method, name, q, &f->status, &f->out), 0);
	params_free(q);
	return f->out.data ? f->out.data : "";
}

static void expect(struct fixture *f, const char *method, const char *name, const char *query, unsigned status,
		   const char *text)
{
	const char *got = ctl(f, method, name, query);

	assert_int_equal(f->status, status);
	if (!strstr(got, text))
		fail_msg("/_sim/%s?%s: [%s] lacks [%s]", name, query, got, text);
}

static void test_counts(void **state)
{
	struct fixture *f = *state;

	sim_stats_record(f->p.stats, "GetImageTag", "r", "i", NULL);
	sim_stats_record(f->p.stats, "GetImageTag", "r", "i", "t");
	sim_stats_record(f->p.stats, "GetRepo", NULL, NULL, NULL);
	expect(f, "GET", "health", "", 200, "ok\n");
	expect(f, "GET", "count", "", 200, "3\n");
	expect(f, "GET", "count", "action=*", 200, "3\n");
	expect(f, "GET", "count", "action=GetImageTag&repo=r&image=i", 200, "2\n");
	expect(f, "GET", "count", "action=GetImageTag&has_tag=0", 200, "1\n");
	expect(f, "GET", "count", "tag=t", 200, "1\n");
	expect(f, "GET", "count", "has_tag=yes", 400, "has_tag must be 0 or 1");
	expect(f, "GET", "count", "actoin=GetRepo", 400, "unknown parameter: actoin");
	expect(f, "GET", "stats", "", 200, "{\"GetImageTag\":2,\"GetRepo\":1}\n");
	expect(f, "GET", "reset", "", 405, "method not allowed");
	expect(f, "POST", "reset", "", 200, "ok\n");
	expect(f, "GET", "count", "", 200, "0\n");
	expect(f, "GET", "nope", "", 404, "unknown control endpoint: /_sim/nope");
	expect(f, "PUT", "health", "", 405, "method not allowed");
}

static void test_push_delete(void **state)
{
	struct fixture *f = *state;
	struct sim_page p;

	expect(f, "POST", "push", "repo=new&image=a%2Fb&tag=v1&digest=sha256:cd&time=1795745700&type=public", 200,
	       "ok");
	assert_int_equal(sim_registry_list_repos(f->p.reg, true, 0, 5, &p), 0);
	assert_int_equal(p.total, 1);
	assert_int_equal(p.items[0].update_time, 1795745700);
	sim_page_release(&p);
	assert_int_equal(sim_registry_list_tags(f->p.reg, "new", "a/b", "v1", 0, 5, &p), 0);
	assert_string_equal(p.items[0].digest, "sha256:cd");
	sim_page_release(&p);
	expect(f, "POST", "push", "repo=new&image=a%2Fb&tag=v1", 200, "ok"); /* now, no digest */
	assert_int_equal(sim_registry_list_tags(f->p.reg, "new", "a/b", "v1", 0, 5, &p), 0);
	assert_null(p.items[0].digest);
	assert_true(p.items[0].update_time > 1795745700 - 86400 * 365);
	sim_page_release(&p);
	expect(f, "POST", "push", "repo=new&image=x", 400, "push needs repo, image and tag");
	expect(f, "POST", "push", "repo=new&image=x&tag=y&time=soon", 400, "time must be Unix seconds");
	expect(f, "POST", "push", "repo=new&image=x&tag=y&type=secret", 400, "type must be");
	expect(f, "POST", "delete", "repo=new&image=a%2Fb&tag=nope", 400, "no such tag: nope");
	expect(f, "POST", "delete", "repo=new&image=nope", 400, "no such image: nope");
	expect(f, "POST", "delete", "repo=nope", 400, "no such repo: nope");
	expect(f, "POST", "delete", "repo=new&tag=v1", 400, "image before tag");
	expect(f, "POST", "delete", "repo=new&image=a%2Fb&tag=v1", 200, "ok");
	expect(f, "POST", "delete", "repo=new", 200, "ok");
	assert_int_equal(sim_registry_list_images(f->p.reg, "new", 0, 5, &p), -ENOENT);
}

static void test_faults(void **state)
{
	struct fixture *f = *state;
	struct sim_fault_hit hit;

	expect(f, "POST", "fault", "kind=hang&ms=50&count=2&action=GetRepo", 200, "ok");
	expect(f, "POST", "fault", "kind=oversized&bytes=1000&rate=0.5", 200, "ok");
	expect(f, "GET", "fault", "", 200,
	       "hang rate=1 count=2 action=GetRepo ms=50 bytes=67108864\n"
	       "oversized rate=0.5 count=-1 action=* ms=120000 bytes=1000\n");
	assert_true(sim_faults_pick(f->p.faults, "GetRepo", &hit));
	assert_true(hit.kind == SIM_FAULT_HANG && hit.ms == 50);
	expect(f, "POST", "fault", "kind=clear", 200, "ok");
	assert_false(sim_faults_pick(f->p.faults, "GetRepo", &hit));
	expect(f, "POST", "fault", "kind=boom", 400, "unknown fault kind: boom");
	expect(f, "POST", "fault", "", 400, "unknown fault kind: (none)");
	expect(f, "POST", "fault", "kind=drop&rate=0", 400, "rate must be in (0, 1]");
	expect(f, "POST", "fault", "kind=drop&count=0", 400, "count must be a positive number");
	expect(f, "POST", "fault", "kind=hang&ms=-5", 400, "ms must be");
	expect(f, "POST", "fault", "kind=drop&when=now", 400, "unknown parameter: when");
}

static void test_config_and_log(void **state)
{
	struct fixture *f = *state;
	unsigned long lat, jit;

	expect(f, "POST", "config", "max_limit=7&latency_ms=20&jitter_ms=3&rps=5&time_style=unix&retcode_string=1", 200,
	       "ok");
	assert_int_equal(sim_api_max_limit(f->p.api), 7);
	sim_faults_latency(f->p.faults, &lat, &jit);
	assert_true(lat == 20 && jit == 3);
	assert_int_equal(sim_faults_rps(f->p.faults), 5);
	assert_int_equal(sim_api_time_style(f->p.api), SIM_TIME_UNIX);
	assert_true(sim_api_retcode_string(f->p.api));
	expect(f, "POST", "config", "jitter_ms=0", 200, "ok");
	sim_faults_latency(f->p.faults, &lat, &jit);
	assert_true(lat == 20 && jit == 0); /* the other knob kept */
	expect(f, "GET", "config", "", 200,
	       "max_limit=7\nlatency_ms=20\njitter_ms=0\nrps=5\ntime_style=unix\nretcode_string=1\n");
	/* all or nothing: one bad value changes none */
	expect(f, "POST", "config", "max_limit=9&rps=x", 400, "bad value");
	assert_int_equal(sim_api_max_limit(f->p.api), 7);
	expect(f, "POST", "config", "time_style=iso", 400, "bad value");
	expect(f, "POST", "config", "maxlimit=1", 400, "unknown parameter: maxlimit");
	/* the hostile-paging knobs */
	expect(f, "POST", "config", "trickle=1&late_total=1000000000000&pad_bytes=4096", 200, "ok");
	assert_true(sim_api_trickle(f->p.api));
	assert_true(sim_api_late_total(f->p.api) == 1000000000000ULL);
	assert_int_equal(sim_api_pad_bytes(f->p.api), 4096);
	expect(f, "GET", "config", "", 200,
	       "max_limit=7\nlatency_ms=20\njitter_ms=0\nrps=5\ntime_style=unix\nretcode_string=1\n"
	       "trickle=1\nlate_total=1000000000000\npad_bytes=4096\n");
	expect(f, "POST", "config", "pad_bytes=2000000", 400, "bad value"); /* over 1 MiB */
	expect(f, "POST", "config", "trickle=2", 400, "bad value");
	expect(f, "POST", "config", "trickle=0&late_total=0&pad_bytes=0", 200, "ok");
	assert_false(sim_api_trickle(f->p.api));
	assert_int_equal(sim_api_pad_bytes(f->p.api), 0);
	expect(f, "POST", "log", "on=1", 200, "ok");
	assert_true(sim_stats_log_enabled(f->p.stats));
	expect(f, "POST", "log", "on=0", 200, "ok");
	assert_false(sim_stats_log_enabled(f->p.stats));
	expect(f, "POST", "log", "on=yes", 400, "on=1 or on=0");
	expect(f, "POST", "log", "", 400, "on=1 or on=0");
}

/* /_sim/state is a data file: loaded back, it dumps the same text. */
static void test_state(void **state)
{
	struct fixture *f = *state;
	struct sim_registry *back = sim_registry_new();
	struct sim_dump d;
	struct buf again;
	char err[256] = "";
	char *first, *img0, *img1;

	expect(f, "POST", "push", "repo=pub&image=a%2Fb&tag=v1&time=1795745700&type=public", 200, "ok");
	expect(f, "POST", "delete", "repo=repo-00&image=img-00&tag=tag-0001", 200, "ok");
	expect(f, "POST", "delete", "repo=repo-00&image=img-00&tag=tag-0001", 400, "no such tag");
	expect(f, "GET", "state", "", 200, "{\"_changes\":2,\"repos\":[{\"name\":\"pub\",\"type\":\"public\"");
	first = strdup(f->out.data);
	assert_non_null(strstr(first, "{\"name\":\"v1\",\"update_time\":1795745700}")); /* no digest */
	img0 = strstr(first, "\"name\":\"img-00\"");
	img1 = strstr(first, "\"name\":\"img-01\"");
	assert_true(img0 && img1 && img0 < img1);
	assert_non_null(strstr(img0, "tag-0000"));
	assert_true(strstr(img0, "tag-0001") > img1); /* gone from img-00 only */
	assert_non_null(strstr(first, "\"name\":\"tag-0002\",\"digest\":\"sha256:"));

	assert_int_equal(sim_json_load(back, first, strlen(first), err, sizeof(err)), 0);
	assert_int_equal(sim_registry_dump(back, &d), 0);
	buf_init(&again, 1 << 20);
	assert_int_equal(sim_json_state(&d, &again), 0);
	assert_int_equal(buf_adds(&again, "\n"), 0);
	/* the same registry; only the count of changes starts again */
	assert_string_equal(strstr(again.data, "\"repos\""), strstr(first, "\"repos\""));
	buf_release(&again);
	sim_dump_release(&d);
	sim_registry_free(back);
	free(first);

	expect(f, "GET", "state", "x=1", 400, "unknown parameter: x");
	expect(f, "POST", "state", "", 405, "method not allowed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_push_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_and_log, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state, setup, teardown),
	};

	return cmocka_run_group_tests_name("sim_control", tests, NULL, NULL);
}
