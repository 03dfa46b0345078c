/* test_sim_fault.c — uhub-sim's fault selection, spec parsing, rate
 * limiter and latency draws. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "../sim/sim_fault.h"

static void test_kind_names(void **state)
{
	enum sim_fault_kind k;

	(void)state;
	for (int i = SIM_FAULT_NONE + 1; i < SIM_FAULT_KINDS; i++) {
		assert_int_equal(sim_fault_kind_parse(sim_fault_kind_name((enum sim_fault_kind)i), &k), 0);
		assert_int_equal(k, i);
	}
	assert_string_equal(sim_fault_kind_name(SIM_FAULT_RET2000), "ret2000");
	assert_string_equal(sim_fault_kind_name(SIM_FAULT_NONE), "-");
	assert_int_equal(sim_fault_kind_parse("-", &k), -EINVAL);
	assert_int_equal(sim_fault_kind_parse("HTTP500", &k), -EINVAL);
	assert_int_equal(sim_fault_kind_parse("clear", &k), -EINVAL);
}

static void test_spec_parse(void **state)
{
	struct sim_fault_spec s;

	(void)state;
	assert_int_equal(sim_fault_spec_parse("drop", &s), 0);
	assert_true(s.kind == SIM_FAULT_DROP && s.rate == 1.0 && s.count == -1 && s.action[0] == '\0');
	assert_true(s.ms == SIM_HANG_MS_DEFAULT && s.bytes == SIM_OVERSIZED_DEFAULT);
	assert_int_equal(sim_fault_spec_parse("http503:0.25", &s), 0);
	assert_true(s.kind == SIM_FAULT_HTTP503 && s.rate == 0.25 && s.count == -1);
	assert_int_equal(sim_fault_spec_parse("ret150#3@GetImageTag", &s), 0);
	assert_true(s.kind == SIM_FAULT_RET150 && s.count == 3);
	assert_string_equal(s.action, "GetImageTag");
	assert_int_equal(sim_fault_spec_parse("boom", &s), -EINVAL);
	assert_int_equal(sim_fault_spec_parse("drop:0", &s), -EINVAL);
	assert_int_equal(sim_fault_spec_parse("drop:1.5", &s), -EINVAL);
	assert_int_equal(sim_fault_spec_parse("drop:x", &s), -EINVAL);
	assert_int_equal(sim_fault_spec_parse("drop#0", &s), -EINVAL);
	assert_int_equal(sim_fault_spec_parse("drop#", &s), -EINVAL);
	assert_int_equal(sim_fault_spec_parse("drop@", &s), -EINVAL);
	assert_int_equal(sim_fault_spec_parse("drop;", &s), -EINVAL);
}

static void test_count_and_order(void **state)
{
	struct sim_faults *f = sim_faults_new(1);
	struct sim_fault_spec s;
	struct sim_fault_hit hit;
	char list[512];

	(void)state;
	assert_false(sim_faults_pick(f, "GetRepo", &hit));
	assert_int_equal(hit.kind, SIM_FAULT_NONE);
	assert_int_equal(sim_fault_spec_parse("http500#2", &s), 0);
	assert_int_equal(sim_faults_add(f, &s), 0);
	assert_int_equal(sim_fault_spec_parse("ret110", &s), 0);
	assert_int_equal(sim_faults_add(f, &s), 0);
	sim_faults_describe(f, list, sizeof(list));
	assert_string_equal(list, "http500 rate=1 count=2 action=* ms=120000 bytes=67108864\n"
				  "ret110 rate=1 count=-1 action=* ms=120000 bytes=67108864\n");
	assert_true(sim_faults_pick(f, "GetRepo", &hit));
	assert_int_equal(hit.kind, SIM_FAULT_HTTP500);
	assert_true(sim_faults_pick(f, NULL, &hit)); /* also requests without an action */
	assert_int_equal(hit.kind, SIM_FAULT_HTTP500);
	for (int i = 0; i < 3; i++) {
		assert_true(sim_faults_pick(f, "GetRepo", &hit));
		assert_int_equal(hit.kind, SIM_FAULT_RET110);
	}
	sim_faults_clear(f);
	assert_false(sim_faults_pick(f, "GetRepo", &hit));
	sim_faults_describe(f, list, sizeof(list));
	assert_string_equal(list, "");
	sim_faults_free(f);
}

static void test_applies_and_action_filter(void **state)
{
	struct sim_faults *f = sim_faults_new(1);
	struct sim_fault_spec s;
	struct sim_fault_hit hit;

	(void)state;
	sim_fault_spec_init(&s, SIM_FAULT_SHUFFLE);
	s.count = 2;
	assert_int_equal(sim_faults_add(f, &s), 0);
	sim_fault_spec_init(&s, SIM_FAULT_LIECOUNT);
	assert_int_equal(sim_faults_add(f, &s), 0);
	assert_int_equal(sim_fault_spec_parse("drop@CreateRepo", &s), 0);
	assert_int_equal(sim_faults_add(f, &s), 0);
	/* shuffle: GetImageTag only, and each one numbered */
	assert_true(sim_faults_pick(f, "GetImageTag", &hit));
	assert_true(hit.kind == SIM_FAULT_SHUFFLE && hit.event == 1);
	assert_true(sim_faults_pick(f, "GetRepo", &hit));
	assert_int_equal(hit.kind, SIM_FAULT_LIECOUNT);
	assert_true(sim_faults_pick(f, "GetImageTag", &hit));
	assert_true(hit.kind == SIM_FAULT_SHUFFLE && hit.event == 2);
	assert_true(sim_faults_pick(f, "GetImageTag", &hit));
	assert_int_equal(hit.kind, SIM_FAULT_LIECOUNT);
	/* liecount: the lists only; drop: its action only */
	assert_false(sim_faults_pick(f, "DeleteRepo", &hit));
	assert_true(sim_faults_pick(f, "CreateRepo", &hit));
	assert_int_equal(hit.kind, SIM_FAULT_DROP);
	sim_faults_free(f);
}

/* A fault for later pages skips a listing's first page (and anything
 * that is not a page), and counts only the pages it fires on. */
static void test_later_pages(void **state)
{
	struct sim_faults *f = sim_faults_new(1);
	struct sim_fault_spec s;
	struct sim_fault_hit hit;
	char text[256];

	(void)state;
	sim_fault_spec_init(&s, SIM_FAULT_HTTP503);
	s.count = 2;
	s.later = true;
	assert_int_equal(sim_faults_add(f, &s), 0);
	sim_faults_describe(f, text, sizeof(text));
	assert_non_null(strstr(text, " later=1"));
	assert_false(sim_faults_pick(f, "GetImageTag", &hit));
	assert_false(sim_faults_pick_page(f, "GetImageTag", false, &hit));
	assert_true(sim_faults_pick_page(f, "GetImageTag", true, &hit));
	assert_int_equal(hit.kind, SIM_FAULT_HTTP503);
	assert_false(sim_faults_pick_page(f, "GetImageTag", false, &hit));
	assert_true(sim_faults_pick_page(f, "GetImageTag", true, &hit));
	assert_false(sim_faults_pick_page(f, "GetImageTag", true, &hit)); /* its count spent */
	sim_faults_free(f);
}

static void test_rate(void **state)
{
	struct sim_faults *a = sim_faults_new(7), *b = sim_faults_new(7);
	struct sim_fault_spec s;
	struct sim_fault_hit hit;
	int fired = 0;

	(void)state;
	assert_int_equal(sim_fault_spec_parse("http502:0.25", &s), 0);
	assert_int_equal(sim_faults_add(a, &s), 0);
	assert_int_equal(sim_faults_add(b, &s), 0);
	for (int i = 0; i < 4000; i++) {
		bool x = sim_faults_pick(a, "GetRepo", &hit);

		assert_int_equal(x, sim_faults_pick(b, "GetRepo", &hit)); /* same seed, same choices */
		fired += x;
	}
	assert_in_range(fired, 850, 1150);
	s.rate = 0;
	assert_int_equal(sim_faults_add(a, &s), -EINVAL);
	s.rate = 1;
	s.count = 0;
	assert_int_equal(sim_faults_add(a, &s), -EINVAL);
	s.count = -1;
	s.kind = SIM_FAULT_NONE;
	assert_int_equal(sim_faults_add(a, &s), -EINVAL);
	sim_faults_free(a);
	sim_faults_free(b);
}

static void test_rate_limit(void **state)
{
	struct sim_faults *f = sim_faults_new(1);
	int64_t t = 1000000000;

	(void)state;
	for (int i = 0; i < 10; i++)
		assert_true(sim_faults_admit(f, t)); /* off */
	sim_faults_set_rps(f, 3);
	assert_int_equal(sim_faults_rps(f), 3);
	assert_true(sim_faults_admit(f, t));
	assert_true(sim_faults_admit(f, t));
	assert_true(sim_faults_admit(f, t));
	assert_false(sim_faults_admit(f, t));
	assert_false(sim_faults_admit(f, t + 100000000)); /* 0.3 of a token back */
	assert_true(sim_faults_admit(f, t + 400000000));  /* 1.2 */
	assert_false(sim_faults_admit(f, t + 400000000));
	/* a long pause refills only up to the burst */
	assert_true(sim_faults_admit(f, t + 60000000000LL));
	assert_true(sim_faults_admit(f, t + 60000000000LL));
	assert_true(sim_faults_admit(f, t + 60000000000LL));
	assert_false(sim_faults_admit(f, t + 60000000000LL));
	sim_faults_free(f);
}

static void test_latency(void **state)
{
	struct sim_faults *f = sim_faults_new(3);
	unsigned long lat, jit, lo = 1000, hi = 0;

	(void)state;
	assert_int_equal(sim_faults_delay_ms(f), 0);
	sim_faults_set_latency(f, 20, 0);
	assert_int_equal(sim_faults_delay_ms(f), 20);
	sim_faults_set_latency(f, 20, 5);
	sim_faults_latency(f, &lat, &jit);
	assert_true(lat == 20 && jit == 5);
	for (int i = 0; i < 2000; i++) {
		unsigned long d = sim_faults_delay_ms(f);

		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(lo == 15 && hi == 25);
	sim_faults_set_latency(f, 2, 10); /* never below 0 */
	for (int i = 0; i < 200; i++)
		assert_true(sim_faults_delay_ms(f) <= 12);
	sim_faults_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kind_names),
	    cmocka_unit_test(test_spec_parse),
	    cmocka_unit_test(test_count_and_order),
	    cmocka_unit_test(test_applies_and_action_filter),
	    cmocka_unit_test(test_later_pages),
	    cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_rate_limit),
	    cmocka_unit_test(test_latency),
	};

	return cmocka_run_group_tests_name("sim_fault", tests, NULL, NULL);
}
